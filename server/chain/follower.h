/*
 * server/chain/follower.h — the chain follower: what happened on chain,
 * learned from the wallets' own Bitcoin Core node (rpc.h), never from anyone's
 * summary of it.
 *
 * One poll (kura_follower_step):
 *  1. the election (store/leader.h, role "chain-follower"): a PostgreSQL
 *     advisory lock held by a session of the follower's own (on SQLite a
 *     lease row renewed for lease_seconds); a follower that does not lead
 *     does nothing else, so one follower runs at a time among any number of
 *     kura-server processes on one database. The leader checks its session
 *     before each block and stops when it is gone; each block's transaction
 *     is fenced (leader.h), so a leader that lost its session unnoticed
 *     cannot write after its successor took over;
 *  2. the node: getblockchaininfo must name the wallets' chain, be out of
 *     initial block download and not pruned above the next height needed
 *     (rpc.h's stable errors; the message is kept for GET /v1/chain);
 *  3. the blocks: from the highest connected row of chain_blocks (or, on the
 *     first run, from the lowest birth height of the wallets), the follower
 *     finds where its chain and the node's best chain part (comparing
 *     getblockhash down from its tip), disconnects its blocks above that
 *     point one by one from the top (undoing what each did) and connects the
 *     node's blocks up to the tip one by one (getblock HASH 0, parsed and
 *     checked by libkura: the hash asked for, prev_hash the block below).
 *     Each block is one database transaction: the chain_blocks row, the
 *     deposits and coins it created or spent, transfers mined, deposits
 *     double-spent, confirmations reached, with their audit rows and
 *     webhook events. A restart resumes from the last committed block;
 *  4. the mempool: getrawmempool, and each transaction not seen before
 *     (getrawtransaction, scanned by libkura) that pays a watched address or
 *     spends what a pending deposit spends: new unconfirmed deposits
 *     (replaceable when they signal BIP125), replaced ones.
 *
 * What a block does (and its disconnection undoes):
 *  - an output paying an address of a wallet (the addresses table, receive
 *    and change): a deposits row (own = 1 when the same transaction spends the
 *    wallet's coins) and a utxos row with the block's height;
 *  - an input spending a wallet coin: the coin's spent_txid/spent_block;
 *    a transfer in state broadcast whose txid it is moves to confirmed
 *    (chain_transfers keeps block and height; confirmations are counted
 *    from the tip); disconnected, it moves back to broadcast;
 *  - an input spending what an unconfirmed deposit's transaction spends, in
 *    another transaction: the deposit (and every deposit of a transaction
 *    descending from it) becomes `replaced`;
 *  - confirmations: a pending deposit whose confirmations reach the
 *    wallet's min_confirmations (a coinbase: also 100) becomes `confirmed`.
 * Disconnecting a block: its deposits lose their block and become `reorged`
 * (until seen again in the mempool or in a block), deposits it replaced
 * become `reorged` again, its coins are removed and the coins it spent are
 * unspent again, its transfers go back to broadcast.
 *
 * Deposit events (webhook and audit row "deposit.<what>", object_type
 * "deposit", in the transaction of the change; own outputs are not
 * announced): deposit.detected (first seen, or seen again after a
 * reorganisation), deposit.confirmed, deposit.reorged, deposit.replaced.
 * The deposit resource (API and webhook payload):
 *   {"id", "wallet_id", "txid", "vout", "address", "branch", "index",
 *    "account", "amount", "state", "confirmations", "height" (or null),
 *    "block_hash" (or null), "coinbase", "replaceable", "replaced_by" (or
 *    null), "created_at", "updated_at"}
 * (the audit snapshot leaves out "confirmations", which moves with the tip).
 *
 * Threads: a follower is used by one thread.
 */
#ifndef KURA_SERVER_CHAIN_FOLLOWER_H
#define KURA_SERVER_CHAIN_FOLLOWER_H

#include <stddef.h>
#include <stdint.h>

#include "chain/rpc.h"
#include "store/store.h"

#define KURA_FOLLOWER_LEASE "chain-follower"

/* Errors beyond rpc.h's: the database failed, or a block from the node
 * did not parse or did not link (the node's chain moved during the poll:
 * the next poll starts again). */
#define KURA_FOLLOWER_EDB (-20)
#define KURA_FOLLOWER_EBLOCK (-21)

typedef struct kura_follower_options {
    const char *holder;      /* leader.h's holder name (NULL: "follower-<random>") */
    int64_t lease_seconds;   /* leader.h's lease_seconds; 0: 30 */
    int64_t start_height;    /* <0 (or 0 with no wallets' birth height): the wallets' lowest birth height */
    int no_mempool;          /* 1: blocks only */
    size_t max_blocks;       /* most blocks connected per step (0: no limit) */
} kura_follower_options;

typedef struct kura_follower kura_follower;

/* A follower on store and rpc (both borrowed; they outlive it). Returns
 * KURA_RPC_OK, KURA_RPC_ENOMEM, KURA_RPC_EINVAL. */
int kura_follower_new(kura_follower **out, kura_store *st, kura_rpc *rpc,
                      const kura_follower_options *opts, kura_rpc_error *err);
void kura_follower_free(kura_follower *f);

typedef struct kura_follower_report {
    int leader;              /* 1: this follower holds the lease */
    int64_t height;          /* the follower's height after the step (-1: none) */
    char tip[65];
    int64_t node_height;
    size_t connected, disconnected; /* blocks in this step */
    size_t mempool_scanned;  /* new mempool transactions fetched */
    size_t mempool_offered;  /* of which read from kura_follower_offer_tx's bytes */
} kura_follower_report;

/* One poll (see the top). Returns KURA_RPC_OK (also when another follower
 * holds the lease: report->leader 0), an rpc.h code (the node), or
 * KURA_FOLLOWER_EDB / KURA_FOLLOWER_EBLOCK; err says why, and the message is
 * stored in chain_status.last_error. */
int kura_follower_step(kura_follower *f, int64_t now, kura_follower_report *report,
                       kura_rpc_error *err);

/* Hands the follower a mempool transaction's bytes (Core's ZMQ rawtx,
 * notify.h), checked here by libkura to be exactly one transaction: when the
 * next mempool scan finds its txid in the node's mempool, it reads these bytes
 * instead of asking the node (getrawtransaction). Kept until that scan (the
 * most recent 10,000). Returns KURA_RPC_OK, KURA_RPC_EINVAL (not one
 * transaction), KURA_RPC_ENOMEM. */
int kura_follower_offer_tx(kura_follower *f, const uint8_t *bytes, size_t len);

/* Gives the lease up (at shutdown), so another follower takes over at once. */
void kura_follower_release(kura_follower *f);

#endif /* KURA_SERVER_CHAIN_FOLLOWER_H */
