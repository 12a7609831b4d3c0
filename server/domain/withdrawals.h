/*
 * server/domain/withdrawals.h — withdrawal requests, and batching them: a
 * back office queues customers' withdrawals one by one; a batch takes the
 * queued requests of one wallet and pays them with ONE ordinary transfer
 * (same intent writer, policy checks, approvals, package and signer check as
 * POST /v1/transfers), on demand (POST /v1/wallets/{id}/batches) or on a
 * schedule (the batcher below, started by kura-server serve).
 *
 * States and moves (one table in withdrawals.c, the only code that writes
 * withdrawals.state):
 *
 *   queued -> batched      a batch transfer was made with it (transfer_id set)
 *   queued -> cancelled    POST /v1/withdrawals/{id}/cancel (only while queued)
 *   batched -> sent        its transfer was broadcast
 *   batched -> queued      its transfer ended before its signing package was
 *                          issued (rejected, cancelled, expired while
 *                          awaiting approval or approved): requeued, never
 *                          dropped; reason "transfer <id> <state>[: why]",
 *                          transfer_id cleared; the next batch takes it again
 *   batched -> failed      its transfer ended after the package was issued
 *                          but before broadcast: signers may hold a signed
 *                          transaction that pays it (and its coins were
 *                          released), so paying again on our own could pay
 *                          twice; reason says so, a person decides
 *   sent -> completed      its transfer was confirmed
 *   completed -> sent      a reorganisation took the block away
 *   sent -> failed         its transfer failed after broadcast: the money may
 *                          or may not have moved, so it is not requeued (a
 *                          person decides); reason says which transfer
 * A broadcast transfer that is replaced (fee bump) leaves its requests sent.
 * A batch transfer past its expiry (it reads as expired) moves its requests
 * when it is moved to expired: by the expiry sweep or a change attempted on it.
 *
 * Every move writes, in the transaction that makes it, one audit row
 * "withdrawal.<to>" (object_type "withdrawal", data {"from", "to",
 * "transfer_id"?, "reason"?, "snapshot": the request}) and one webhook event
 * "withdrawal.<to>" with the request. Creation is the move "" -> queued.
 *
 * The resource: {"id", "wallet_id", "external_id", "address", "amount",
 * "label" (or null), "state", "transfer_id" (or null), "batches" (how many
 * batch transfers it was part of), "reason" (or null), "created_by",
 * "created_at", "updated_at"}.
 *
 * Every function returns 0 or a positive kura_problem_code with p filled;
 * outputs are NULL/0 on failure and owned by the caller.
 */
#ifndef KURA_SERVER_WITHDRAWALS_H
#define KURA_SERVER_WITHDRAWALS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "problem/problem.h"
#include "store/store.h"

typedef struct kura_principal kura_principal;
typedef struct kura_idem kura_idem;

typedef struct kura_withdrawal_request {
    const char *wallet_id;
    const char *external_id; /* required; unique among withdrawals (DUPLICATE_EXTERNAL_ID) */
    const char *address;     /* for the wallet's chain */
    uint64_t amount;         /* satoshis, at least the address type's dust threshold */
    const char *label;       /* optional; goes into the batch's intent (printable ASCII
                                words, single spaces, at most 64 characters) */
} kura_withdrawal_request;

/* Queues a request: the address must be valid for the wallet's chain
 * (INVALID_ADDRESS), the amount at least Bitcoin Core's dust threshold of
 * the address's output type at 3 sat/vB (546 P2PKH, 540 P2SH, 294 P2WPKH,
 * 330 P2WSH/P2TR) and at most the policy's max-per-transfer (INVALID_AMOUNT,
 * POLICY_LIMIT), the address on the policy's allowlist when the policy
 * requires one (POLICY_LIMIT), the label one the intent accepts
 * (INVALID_FIELD). Completes the idempotency key (201) in the same
 * transaction. NOT_FOUND (wallet), MISSING_FIELD. */
int kura_withdrawal_create(kura_store *st, const kura_principal *who,
                           const kura_withdrawal_request *req, const kura_idem *idem, int64_t now,
                           json_t **out, kura_problem *p);

/* The request resource. NOT_FOUND. */
int kura_withdrawal_get(kura_store *st, const char *id, json_t **out, kura_problem *p);

/* A page of one wallet's requests in id (creation) order, optionally in one
 * state. NOT_FOUND (wallet), INVALID_FIELD (state, limit), BAD_CURSOR. */
int kura_withdrawal_list(kura_store *st, const char *wallet_id, const char *state,
                         const char *cursor, size_t limit, json_t **page, kura_problem *p);

/* Cancels a queued request (reason optional). INVALID_STATE once batched. */
int kura_withdrawal_cancel(kura_store *st, const kura_principal *who, const char *id,
                           const char *reason, int64_t now, json_t **out, kura_problem *p);

/* The most requests one batch takes by default, and at most. */
#define KURA_BATCH_OUTPUTS_DEFAULT 250
#define KURA_BATCH_OUTPUTS_MAX 1000

typedef struct kura_batch_request {
    const char *wallet_id;
    size_t max_outputs;  /* 0: KURA_BATCH_OUTPUTS_DEFAULT; at most KURA_BATCH_OUTPUTS_MAX */
    uint64_t max_fee;    /* the intent's max-fee; 0: the policy's max-fee */
    int64_t expires_in;  /* seconds; 0: the policy's longest lifetime */
} kura_batch_request;

/* Makes one batch: the wallet's queued requests, oldest first, up to
 * max_outputs and while the total stays within the policy's
 * max-per-transfer (the first that would go over, and every later one,
 * stays queued for the next batch), become the outputs of ONE transfer,
 * created by the transfer path (kura_transfer_create's checks, intent and
 * move; initiator: who), and are moved to batched, all in ONE transaction.
 * Requests to one address stay separate outputs. A request the policy now in
 * force refuses (address off the allowlist, amount over max-per-transfer)
 * does not stop the batch: it stays queued and is listed in "skipped" with
 * the reason. Two batches of one wallet at once never take one request
 * twice (the wallet row is locked; each request's move is guarded).
 * *out: {"transfer": the transfer, "withdrawals": [the requests, batched],
 * "skipped": [{"id", "reason"}]}; the idempotency key completes with it
 * (201). NOTHING_QUEUED (409) when no request is queued or every queued one
 * was skipped; NOT_FOUND (wallet), INVALID_FIELD, POLICY_LIMIT (max_fee). */
int kura_withdrawal_batch(kura_store *st, const kura_principal *who, const kura_batch_request *req,
                          const kura_idem *idem, int64_t now, json_t **out, kura_problem *p);

/* The system identity the scheduled batcher initiates as: audit actor
 * "system:batcher", intent initiator "system.batcher" (an intent's
 * initiator is [a-z0-9._-]); no policy approver has that name unless an
 * administrator chose it, and then the initiator rule still keeps it from
 * approving the batcher's transfers. */
extern const kura_principal kura_withdrawal_batcher;

/* One scheduled round: every wallet with at least min_requests (>= 1)
 * queued requests gets one batch (as kura_withdrawal_batch, initiator
 * kura_withdrawal_batcher, max_outputs per batch). *made: batches made;
 * a wallet whose queued requests were all skipped counts none. Returns 0,
 * or the first problem met (the other wallets are still tried). */
int kura_withdrawal_batch_due(kura_store *st, int64_t min_requests, size_t max_outputs,
                              int64_t now, size_t *made, kura_problem *p);

/* ---- the batcher: kura-server serve's background worker ---- */

typedef struct kura_batcher kura_batcher;

typedef struct kura_batcher_options {
    int64_t interval;       /* seconds between rounds (> 0) */
    int64_t min_requests;   /* batch a wallet once this many are queued; 0: 1 */
    size_t max_outputs;     /* per batch; 0: KURA_BATCH_OUTPUTS_DEFAULT */
    const char *holder;     /* lease holder name (copied); NULL: "batcher-<random>" */
} kura_batcher_options;

/* Starts the worker thread: every interval it takes the lease "batcher"
 * (leases table, as the chain follower and webhook workers do: only the
 * holder batches, so several kura-servers on one database make one batch
 * per round; the lease lasts interval + 60 s and passes on when its holder
 * stops renewing it), then runs kura_withdrawal_batch_due. Correctness does
 * not rest on the lease: two batchers at once still never batch a request
 * twice. Returns 0, or -1 (no memory, no thread) with *out NULL. */
int kura_batcher_start(kura_batcher **out, kura_store *st, const kura_batcher_options *opts);

/* Stops the thread (a round in progress finishes) and releases the lease.
 * NULL is a no-op. */
void kura_batcher_stop(kura_batcher *b);

/* Rounds run and batches made so far (for logs and tests). */
void kura_batcher_counts(kura_batcher *b, uint64_t *rounds, uint64_t *batches);

#endif /* KURA_SERVER_WITHDRAWALS_H */
