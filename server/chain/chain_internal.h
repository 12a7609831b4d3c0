/*
 * server/chain/chain_internal.h — what the chain module's files share: the
 * deposit row and resource, its announcements, small hex helpers.
 */
#ifndef KURA_SERVER_CHAIN_INTERNAL_H
#define KURA_SERVER_CHAIN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/db.h"

/* The columns a deposit resource is made of, in this order. */
#define CHAIN_DEPOSIT_COLUMNS                                                              \
    "id, wallet_id, txid, vout, address, branch, idx, account, amount, state, own, coinbase, " \
    "replaceable, block_hash, height, replaced_by, created_at, updated_at"

/* The deposit resource of row `row` of res (selected with
 * CHAIN_DEPOSIT_COLUMNS); confirmations from tip_height (-1: unknown) unless
 * for_audit (then left out). NULL when memory runs out. */
json_t *chain_deposit_json(const kura_db_result *res, size_t row, int64_t tip_height,
                           int for_audit);

/* The follower's height (highest connected chain_blocks row; -1 when none)
 * and tip hash (may be NULL). */
int chain_height(kura_db *db, int64_t *height, char tip[65], kura_db_error *err);

/* Writes the audit row and webhook event "deposit.<what>" for deposit id,
 * in the caller's transaction. */
int chain_announce(kura_db *db, const char *id, const char *what, int64_t tip_height,
                   int64_t now, kura_db_error *err);

/* 32 bytes in internal order as display hex (reversed), and back. */
void chain_hex_rev(char out[65], const uint8_t in[32]);
int chain_unhex_rev(uint8_t out[32], const char *hex);

#endif
