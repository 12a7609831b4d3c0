/*
 * server/chain/broadcast.h — withdrawals on chain: the fee rate from the
 * node's estimate, the broadcast of signed transfers, rebroadcasts until
 * mined; and the worker thread that runs the follower and these, woken early
 * by the node's ZMQ notifications when configured (notify.h).
 *
 * Fee rate: estimatesmartfee TARGET (sat per 1000 vB), raised to the floor
 * and lowered to the ceiling (both configured), becomes the rate the package
 * builder uses (kura_transfer_set_fee_rate); without an estimate the floor
 * is used. The intent's max-fee and the policy's caps still bound every
 * package (the builder refuses FEE_TOO_HIGH), so a node's high estimate
 * cannot spend more than the approvers allowed.
 *
 * Broadcast: each transfer in state signed (not past its expiry) is given
 * to testmempoolaccept first; only when the node would accept it is it sent
 * with sendrawtransaction (a node that says it has it already counts as
 * sent), and the transfer moves signed -> broadcast (audit + webhook
 * "transfer.broadcast"). A refusal is kept in chain_transfers.last_error and
 * the transfer stays signed (tried again next round). A broadcast transfer
 * that no block of the best chain holds is sent again every
 * rebroadcast_seconds until the follower sees it mined (-> confirmed); a
 * reorganisation that removes its block makes it broadcast again, so it is
 * rebroadcast.
 */
#ifndef KURA_SERVER_CHAIN_BROADCAST_H
#define KURA_SERVER_CHAIN_BROADCAST_H

#include <stddef.h>
#include <stdint.h>

#include "chain/follower.h"
#include "chain/rpc.h"
#include "store/store.h"

typedef struct kura_fee_options {
    unsigned target;        /* confirmation target in blocks; 0: 6 */
    uint64_t floor;         /* sat per 1000 vB; 0: 1000 (1 sat/vB) */
    uint64_t ceiling;       /* sat per 1000 vB; 0: 500000 (500 sat/vB) */
} kura_fee_options;

/* Asks the node, clamps, sets the package builder's rate and records it in
 * chain_status.fee_rate; *rate (may be NULL) gets it. An rpc.h code when the
 * node could not be asked (the rate in use is then unchanged). */
int kura_chain_update_fee(kura_store *st, kura_rpc *rpc, const kura_fee_options *o, int64_t now,
                          uint64_t *rate, kura_rpc_error *err);

typedef struct kura_broadcast_report {
    size_t sent;            /* signed transfers broadcast */
    size_t refused;         /* refused by testmempoolaccept or sendrawtransaction */
    size_t rebroadcast;     /* broadcast transfers sent again */
} kura_broadcast_report;

/* One round (see the top). Returns KURA_RPC_OK, an rpc.h code when the node
 * failed (the round stops), or KURA_FOLLOWER_EDB. */
int kura_chain_broadcast_due(kura_store *st, kura_rpc *rpc, int64_t now,
                             int64_t rebroadcast_seconds, kura_broadcast_report *report,
                             kura_rpc_error *err);

/* ---- the worker thread (kura-server serve) ---- */

typedef struct kura_chain_worker_options {
    kura_rpc_options rpc;
    kura_fee_options fee;
    int64_t poll_interval_ms;      /* 0: 5000 */
    int64_t rebroadcast_seconds;   /* 0: 600 */
    const char *holder;            /* lease holder name; NULL: random */
    int64_t lease_seconds;         /* 0: 30 */
    /* Core's ZMQ publishers (notify.h), NULL or "": none. Each notification
     * wakes the thread for a poll at once; rawtx's bytes go to the mempool
     * scan (kura_follower_offer_tx). */
    const char *zmq_hashblock;
    const char *zmq_rawtx;
} kura_chain_worker_options;

typedef struct kura_chain_worker kura_chain_worker;

/* Starts a thread that, every poll interval, runs kura_follower_step and,
 * while it holds the follower's lease, updates the fee rate and broadcasts.
 * Errors of a round are logged to stderr (one line) and kept for
 * GET /v1/chain; the thread keeps going. */
int kura_chain_worker_start(kura_chain_worker **out, kura_store *st,
                            const kura_chain_worker_options *o, kura_rpc_error *err);
/* Stops the thread (at most one poll's RPC later) and gives the lease up. */
void kura_chain_worker_stop(kura_chain_worker *w);

/* What the worker has done so far (for tests and metrics): polls finished,
 * ZMQ notifications received and sequence gaps among them, rawtx
 * transactions handed to the follower, and mempool transactions its scans
 * read from those bytes rather than from the node. Returns 1 while a poll is
 * running, 0 while the worker waits. Any output may be NULL. */
int kura_chain_worker_counts(kura_chain_worker *w, uint64_t *polls, uint64_t *notifications,
                             uint64_t *gaps, uint64_t *rawtx, uint64_t *rawtx_used);

#endif /* KURA_SERVER_CHAIN_BROADCAST_H */
