/*
 * server/chain/rescan.h — the recovery scan of a wallet restored elsewhere:
 * from a birth height, with a gap limit, over the receive (branch 0) and change
 * (branch 1) chains.
 *
 * A wallet that lived in other software may have been paid at any index
 * that software handed out; this server only watches what it allocated. A
 * request (POST /v1/wallets/{id}/rescan, `kura-server wallet rescan`) writes
 * the wallet's wallet_rescans row; the follower that holds the lease runs it
 * once caught up with the node (follower.c, "the recovery scan"): every block
 * from from_height to the follower's tip is scanned by libkura against the
 * wallet's scripts at indexes 0..used+gap_limit on each chain, where used is
 * the highest index used on chain so far (or allocated here), so gap_limit
 * unused addresses always follow the highest used one (BIP44's gap limit);
 * a payment to an index further on is not found. What it finds is recorded
 * by the follower's own block code, as the follower records it (deposits and
 * their events, coins, spends, confirmations); each index used on chain, and
 * every index below it, becomes allocated (kura_address_mark_used), so it is
 * never handed out again and the follower watches it from then on. Each
 * block commits with the row's progress: a restart resumes where it
 * stopped. A reorganisation below the scan's position moves it back.
 *
 * The rescan resource:
 *   {"wallet_id", "state": "running"|"done", "from_height", "gap_limit",
 *    "next_height" (the next block to scan), "height" (the follower's tip),
 *    "receive_used", "change_used" (highest index used; -1 none),
 *    "receive_window", "change_window" (highest index watched),
 *    "outputs_found", "spends_found", "addresses_marked",
 *    "requested_by", "requested_at", "updated_at", "finished_at" (or null)}
 *
 * Every function returns 0 or a positive kura_problem_code with p filled.
 */
#ifndef KURA_SERVER_CHAIN_RESCAN_H
#define KURA_SERVER_CHAIN_RESCAN_H

#include <stdint.h>

#include <jansson.h>

#include "problem/problem.h"
#include "store/store.h"

#define KURA_RESCAN_GAP_MIN 20
#define KURA_RESCAN_GAP_MAX 1000
#define KURA_RESCAN_GAP_DEFAULT 20

/* Asks for a recovery scan of wallet_id from from_height (>= 0) with
 * gap_limit (KURA_RESCAN_GAP_MIN..MAX), replacing the wallet's earlier one
 * (running or done); one audit row "wallet.rescan_requested" by actor.
 * *out: the rescan resource. NOT_FOUND (wallet), INVALID_FIELD. */
int kura_rescan_request(kura_store *st, const char *actor, const char *wallet_id,
                        int64_t from_height, int64_t gap_limit, int64_t now, json_t **out,
                        kura_problem *p);

/* The wallet's last recovery scan. NOT_FOUND (wallet, or no scan asked for). */
int kura_rescan_get(kura_store *st, const char *wallet_id, json_t **out, kura_problem *p);

#endif /* KURA_SERVER_CHAIN_RESCAN_H */
