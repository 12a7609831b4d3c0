/* bench/bench.h — helpers kura_bench.c shares with batch.c (one program,
 * kura-bench; see bench/README.md). */
#ifndef KURA_BENCH_BENCH_H
#define KURA_BENCH_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "kura/common.h"

#define MAX_RUNS 1000

/* Prints "kura-bench: ..." and exits 1. */
__attribute__((format(printf, 1, 2), noreturn)) void die(const char *fmt, ...);
/* Dies naming `what` and the error unless rc is KURA_OK. */
void check(int rc, const char *what, const kura_error *err);
/* Monotonic wall clock and this thread's CPU time, in ns. */
uint64_t now_ns(void);
uint64_t cpu_ns(void);
/* Median of v[0..n), n <= MAX_RUNS (0 when n is 0 or too large). */
uint64_t median(const uint64_t *v, size_t n);
/* Prints v[0..n) as a JSON array. */
void print_runs(const uint64_t *v, size_t n);
/* malloc'd "dir/name". */
char *path_join(const char *dir, const char *name);
void write_file(const char *path, const uint8_t *data, size_t len);

#endif /* KURA_BENCH_BENCH_H */
