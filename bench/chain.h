/* bench/chain.h — measurement 8 of bench/run, the chain: scanning Bitcoin
 * Core's mainnet block 413,567 against 1,000,000 watched scripts, beside two
 * floors timed in the same runs (copying the block once; SHA-256d of every
 * transaction), and allocating and indexing deposit addresses beside bare
 * BIP32 public derivation. See bench/README.md. */
#ifndef KURA_BENCH_CHAIN_H
#define KURA_BENCH_CHAIN_H

#include <stddef.h>

#include "kura/keys.h"

/* Reads the block from block_path, builds the index, times everything `runs`
 * times after a warm-up run, checks what the scan found, and prints the JSON
 * member "chain":{...} (no leading comma) on stdout. */
void chain_time(const kura_ctx *ctx, const char *block_path, size_t runs);

/* For a profiler: does only the scan (parse without the merkle check, then
 * kura_watch_scan_block) `runs` x 100 times. */
void chain_profile(const kura_ctx *ctx, const char *block_path, size_t runs);

#endif /* KURA_BENCH_CHAIN_H */
