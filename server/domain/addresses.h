/*
 * server/domain/addresses.h — deposit addresses and the wallet's coins.
 *
 * Deposit addresses are allocated in order on the receive chain (branch 0):
 * one UPDATE ... RETURNING takes the wallet's next index, the address is
 * derived with libkura (kura_descriptor_address) and inserted. Allocation is
 * O(1) and listing is by (wallet_id, account, idx) with a cursor, so a wallet
 * may hold millions of addresses. Change addresses (branch 1) are recorded in
 * the same table by the package builder (transfers.h).
 *
 * The address resource:
 *   {"wallet_id", "address", "branch" (0|1), "index", "account", "label",
 *    "script" (hex scriptPubKey), "created_at", "id": "<branch>:<index>"}
 *
 * Allocations write no audit row (they change no money's path; the address
 * is derived from the registered descriptor and can be re-derived).
 *
 * Every function returns 0 or a positive kura_problem_code with p filled.
 */
#ifndef KURA_SERVER_ADDRESSES_H
#define KURA_SERVER_ADDRESSES_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "problem/problem.h"
#include "store/store.h"

typedef struct kura_principal kura_principal;
typedef struct kura_idem kura_idem;

/* The longest account and label, in bytes (UTF-8, no control characters). */
#define KURA_ADDRESS_ACCOUNT_MAX 128
#define KURA_ADDRESS_LABEL_MAX 256

/* Allocates the wallet's next receive address for `account` ("" or NULL:
 * none) with `label` (NULL: ""). Idempotency completion with 201 inside the
 * transaction. NOT_FOUND (wallet), INVALID_FIELD (account/label too long or
 * with control characters; index space of the descriptor exhausted). */
int kura_address_allocate(kura_store *st, const kura_principal *who, const char *wallet_id,
                          const char *account, const char *label, const kura_idem *idem,
                          int64_t now, json_t **out, kura_problem *p);

/* A page of the wallet's receive addresses in index order, for one account
 * (NULL: all accounts). The cursor is the last item's "index" as decimal
 * text. NOT_FOUND, BAD_CURSOR, INVALID_FIELD (limit 1..500; 0: 50). */
int kura_address_list(kura_store *st, const char *wallet_id, const char *account,
                      const char *cursor, size_t limit, json_t **page, kura_problem *p);

/* Records a coin of the wallet: output `vout` of the funding transaction
 * prev_tx_hex (parsed with libkura), whose script must be one of the
 * wallet's allocated addresses (receive or change). Adding the same coin
 * again updates its height only. For tests and the chain follower.
 * NOT_FOUND (wallet), INVALID_FIELD (tx does not parse, no such vout, the
 * script is not the wallet's). */
int kura_utxo_add(kura_store *st, const char *wallet_id, const char *prev_tx_hex, uint32_t vout,
                  int64_t height /* -1 unconfirmed */, int64_t now, kura_problem *p);

/* For the recovery scan (server/chain/rescan.h), inside the caller's write
 * transaction db: index `idx` of `branch` (0 receive, 1 change) of a wallet
 * restored elsewhere was used on chain, so it and every index below it count
 * as allocated and are never handed out again: the wallet's next index on
 * that branch moves past idx, and each index taken gets its address row
 * (account "", label "recovered") unless it has one. A moved change index
 * moves the wallet's audited snapshot too (audit row
 * "wallet.change_recovered" by `actor`). Nothing happens when idx is below
 * the next index already. *inserted (may be NULL): rows added. Returns
 * KURA_DB_OK, KURA_DB_ENOTFOUND (wallet), KURA_DB_EINVAL (the stored
 * descriptor does not derive; err says why), a driver code. */
int kura_address_mark_used(kura_db *db, const char *wallet_id, int branch, int64_t idx,
                           const char *actor, int64_t now, size_t *inserted, kura_db_error *err);

#endif /* KURA_SERVER_ADDRESSES_H */
