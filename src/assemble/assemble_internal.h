/*
 * src/assemble/assemble_internal.h — what the files of the assemble module
 * share; not installed, not API.
 *
 *   common.c    reason names, refusals, finding a script in the wallet,
 *               checking an intent names the wallet
 *   estimate.c  kura_assemble_estimate, kura_assemble_coinselect_params
 *   package.c   kura_assemble_package, kura_assemble_attach, kura_assemble_complete
 *   intake.c    kura_assemble_intake
 *   finalize.c  kura_assemble_finalize
 */
#ifndef KURA_ASSEMBLE_INTERNAL_H
#define KURA_ASSEMBLE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "kura/assemble.h"

/* Sets *reason (when not NULL) and err; returns KURA_EDATA. */
int kura_assemble_i_refuse(kura_assemble_reason *reason, kura_error *err,
                           kura_assemble_reason why, const char *fmt, ...) KURA_PRINTF(4, 5);

/* Scripts of the wallet at indexes 0..n-1 of every branch, derived once per
 * call the first time a scan is needed, sorted for binary search: a scan
 * then costs n derivations per branch in all, not per script looked up. */
typedef struct kura_assemble_i_table kura_assemble_i_table;

void kura_assemble_i_table_free(kura_assemble_i_table *table);

/* Searches branch `only_branch` (SIZE_MAX: every branch) of wallet for the
 * (branch, index) whose scriptPubKey is script[0..len): first the indexes
 * that the derivation records name (the last two steps of each path, at
 * most 8 distinct pairs), then lookup->locate, then indexes below
 * min(scan_limit, lookup->scan_limit) through *table (built on first use;
 * the caller frees it). Every candidate is derived and compared. Returns
 * KURA_OK (*branch, *index set), KURA_ENOTFOUND, KURA_ENOMEM. */
int kura_assemble_i_locate(const kura_ctx *ctx, size_t *branch, uint32_t *index,
                           kura_assemble_i_table **table, const kura_descriptor *wallet,
                           const uint8_t *script, size_t len, const kura_psbt_bip32 *bip32,
                           size_t bip32_count, const kura_psbt_tap_bip32 *tap, size_t tap_count,
                           const kura_assemble_lookup *lookup, size_t only_branch,
                           uint32_t scan_limit);

/* Parses intent_text and checks that it names wallet (its BIP380 checksum)
 * and that the wallet's keys belong to the intent's network. *out gets the
 * intent (free with kura_intent_free). Returns KURA_OK, KURA_EDATA (reason
 * INTENT), KURA_ENOMEM, KURA_EINVAL, KURA_ECRYPTO. */
int kura_assemble_i_intent(const kura_ctx *ctx, kura_intent **out, kura_assemble_reason *reason,
                           const kura_descriptor *wallet, const uint8_t *text, size_t len,
                           kura_error *err);

/* "bc1q... " or "script <hex>" for messages. */
void kura_assemble_i_describe(char *out, size_t out_len, const uint8_t *script, size_t len,
                              kura_network network);

/* The number of signatures input i holds. */
size_t kura_assemble_i_signature_count(const kura_psbt_input *in);

#endif /* KURA_ASSEMBLE_INTERNAL_H */
