/*
 * server/chain/chain.h — what the API reads of the chain: deposits, balances
 * and the follower's status. Each is a read transaction on the store; the
 * follower (follower.h) writes what these read.
 *
 * Every function returns 0 or a positive kura_problem_code with p filled;
 * *out / *page are NULL on failure and owned by the caller (json_decref).
 */
#ifndef KURA_SERVER_CHAIN_H
#define KURA_SERVER_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "problem/problem.h"
#include "store/store.h"

/* Deposit states. */
#define KURA_DEPOSIT_STATES "pending confirmed reorged replaced"

/* A page {"items": [deposit...], "next_cursor": id | null} of deposits (not
 * the wallets' own change) in id (first-seen) order after cursor, filtered
 * by wallet, account (needs wallet) and state (each NULL or "": any).
 * limit 1..500 (0: 50). INVALID_FIELD (state unknown, account without
 * wallet, limit), BAD_CURSOR, NOT_FOUND (wallet). The deposit resource is
 * described in follower.h. */
int kura_chain_deposit_list(kura_store *st, const char *wallet_id, const char *account,
                            const char *state, const char *cursor, size_t limit, json_t **page,
                            kura_problem *p);

/* One deposit by id. NOT_FOUND. */
int kura_chain_deposit_get(kura_store *st, const char *id, json_t **out, kura_problem *p);

/* The balance of a wallet, or of one account of it (account not NULL):
 *   wallet:  {"wallet_id", "account": null, "confirmed", "pending",
 *             "utxo_count", "height"} from the wallet's unspent coins:
 *             confirmed = coins with at least the wallet's min_confirmations
 *             (a coinbase: also 100), pending = the other unspent coins
 *             (unconfirmed, or below the threshold);
 *   account: {"wallet_id", "account", "confirmed", "pending", "deposit_count",
 *             "height"}: what the account's deposits credited (state
 *             confirmed, state pending). Withdrawals are paid by the wallet,
 *             not by an account: an account's balance is what it received.
 * Amounts in satoshis; height is the follower's (-1 before the first block).
 * NOT_FOUND (wallet). */
int kura_chain_balance(kura_store *st, const char *wallet_id, const char *account, json_t **out,
                       kura_problem *p);

/* The follower as last recorded: {"height", "tip", "node_height",
 * "node_tip", "node_chain", "lag", "fee_rate", "checked_at", "last_error",
 * "leader": {"holder", "expires_at"} | null}. lag = node_height - height
 * (null until both are known). */
int kura_chain_status(kura_store *st, int64_t now, json_t **out, kura_problem *p);

/* A transfer on chain: {"transfer_id", "state", "txid" (or null),
 * "height", "block_hash" (null until mined on the best chain),
 * "confirmations" (0 until mined), "broadcasts", "last_broadcast_at",
 * "last_error" (the node's last refusal, or null)}. NOT_FOUND. */
int kura_chain_transfer(kura_store *st, const char *transfer_id, json_t **out, kura_problem *p);

#endif /* KURA_SERVER_CHAIN_H */
