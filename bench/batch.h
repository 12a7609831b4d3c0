/* bench/batch.h — the batch benchmark: kura-cold's whole work (parse,
 * the signer's check, sign, serialise) on a 100-input, 500-output payout
 * batch, against 100 raw libsecp256k1 signatures of the same inputs. See
 * bench/README.md, measurement 7. */
#ifndef KURA_BENCH_BATCH_H
#define KURA_BENCH_BATCH_H

#include <stddef.h>

#include "kura/keys.h"

/* Builds both batch packages (P2WPKH; P2WSH 2-of-3), times each `runs` times
 * after a warm-up run (the floor, then kura with flags 0, then kura with
 * KURA_PSBT_SIGN_VERIFY, in every run), checks every signed PSBT, writes the
 * packages and kura's signed PSBTs to dir, and prints the JSON member
 * "batch":{...} (no leading comma) on stdout. */
void batch_time(const kura_ctx *ctx, const char *dir, size_t runs);

/* For a profiler: builds the package of `name` ("batch-p2wpkh",
 * "batch-p2wsh", either with "-verify") and does only kura-cold's work on it,
 * `runs` times. Returns 0, or -1 when name is not a batch case. */
int batch_profile(const kura_ctx *ctx, const char *name, size_t runs);

#endif /* KURA_BENCH_BATCH_H */
