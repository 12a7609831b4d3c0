/* tests/e2e/e2e-util.h — what the end-to-end helper programs (cold-package,
 * evil-coordinator, package-finalize) share: whole files, PSBT files in
 * binary or base64, and made-up funding transactions. */
#ifndef KURA_E2E_UTIL_H
#define KURA_E2E_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "kura/descriptor.h"
#include "kura/psbt.h"
#include "kura/tx.h"

/* e2e_load_psbt's status when the file cannot be read (errno says why). */
#define E2E_EREAD 1

/* Reads the file at path whole into a malloc'd buffer, NUL-terminated (the NUL
 * not counted in *len). NULL when it cannot (errno says why). */
uint8_t *e2e_read_file(const char *path, size_t *len);

/* Writes data[0..len) to path, replacing it. 0, or -1 (errno says why). */
int e2e_write_file(const char *path, const void *data, size_t len);

/* Reads the PSBT file at path, binary or base64 (trailing newlines ignored).
 * KURA_OK; E2E_EREAD; or the parser's status, with err set. */
int e2e_load_psbt(kura_psbt **out, const char *path, kura_error *err);

/* A made-up funding transaction: one input spending prev:prev_vout (nSequence
 * 0xfffffffd), one output of `amount` to descriptor d's script at (branch,
 * index). 0, or -1 (err set where a kura call says why). *out is set even
 * when a later step fails: the caller frees it. */
int e2e_funding_tx(kura_tx **out, const kura_ctx *ctx, const kura_descriptor *d, size_t branch,
                   uint32_t index, const uint8_t prev[32], uint32_t prev_vout, uint64_t amount,
                   kura_error *err);

#endif
