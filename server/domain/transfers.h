/*
 * server/domain/transfers.h — transfers: from request to signed transaction.
 *
 * The state machine (DESIGN "Coordinator"), kept in ONE place
 * (transfer_state.c, a table of allowed moves):
 *
 *   awaiting_approval -> approved -> awaiting_signatures -> signed -> broadcast -> confirmed
 *   ends: cancelled (any state before broadcast), rejected (before signed),
 *         expired (intent past its expiry, before broadcast), failed;
 *   broadcast -> replaced (fee bump); confirmed -> broadcast (reorganisation).
 * A fee bump (kura_transfer_bump) is not a move: the transfer keeps its
 * identity and stays broadcast while its new attempt is signed and sent
 * (the earlier transaction may still confirm); `replaced` is left for a
 * transfer whose transaction something else replaced.
 *
 * Every move writes, in the transaction that makes it, exactly one audit row
 * (action "transfer.<state>", data {"from", "to", "snapshot": <transfer>})
 * and one webhook event (type "transfer.<state>", data: the transfer). Only
 * transfer_state.c updates transfers.state. A transfer's creation is the
 * move "" -> awaiting_approval (audit/webhook "transfer.awaiting_approval").
 * Two changes are not moves and write one audit row each, without a webhook
 * event, so that the transfer's last audit snapshot always equals its
 * current fields (`audit verify`): "transfer.approval_added" (an approval
 * short of the quorum) and "transfer.signatures_added" (a signed PSBT short
 * of the threshold). The approval or upload that completes a step is part of
 * that step's move row instead.
 *
 * The transfer resource:
 *   {"id", "wallet_id", "external_id" (or null), "state", "intent_id",
 *    "intent_hash", "initiator", "created_by", "outputs": [{"address",
 *    "amount", "label"}], "total", "max_fee", "expires_at",
 *    "approvals": [{"approver", "created_at"}], "signatures_received",
 *    "txid", "fee", "change_index" (null until known), "package_sha256"
 *    (SHA-256 of the stored base64 package, or null), "reason" (or null),
 *    "created_at", "updated_at", and once the transfer was fee-bumped
 *    "attempts": [{"attempt", "state", "txid", "fee", "fee_rate",
 *    "package_sha256", "created_at"}]}
 * "intent_hash" is computed from the stored intent text on every read (a
 * text edited in the database shows as a different hash). This JSON is the
 * API response, the webhook payload and the audit snapshot of object_type
 * "transfer".
 * A transfer whose expiry has passed and that has not been broadcast reads
 * as "expired" from every read (get and list), even before
 * kura_transfer_expire_due ran; a change attempted on it (approve, package,
 * signatures, reject, cancel) moves it to expired and answers
 * TRANSFER_EXPIRED. (A list filtered by state=expired shows only moved ones.)
 *
 * Every function returns 0 or a positive kura_problem_code with p filled;
 * outputs are NULL/0 on failure and owned by the caller.
 */
#ifndef KURA_SERVER_TRANSFERS_H
#define KURA_SERVER_TRANSFERS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "problem/problem.h"
#include "store/store.h"

typedef struct kura_principal kura_principal;
typedef struct kura_idem kura_idem;

typedef struct kura_transfer_output_req {
    const char *address;   /* for the wallet's chain */
    uint64_t amount;       /* satoshis, > 0 */
    const char *label;     /* optional; written into the intent (approvers see it): printable
                              ASCII words, single spaces, at most 64 characters */
} kura_transfer_output_req;

typedef struct kura_transfer_request {
    const char *wallet_id;
    const char *external_id;     /* optional, unique among transfers (DUPLICATE_EXTERNAL_ID) */
    const kura_transfer_output_req *outputs;
    size_t output_count;
    uint64_t max_fee;            /* satoshis: the most fee the intent allows */
    int64_t expires_in;          /* seconds from now; 0: the policy's max lifetime; capped by it */
} kura_transfer_request;

/* The most outputs one transfer may have. */
#define KURA_TRANSFER_OUTPUTS_MAX 1000

/* Creates a transfer in awaiting_approval: validates the outputs
 * (INVALID_ADDRESS, INVALID_AMOUNT), the policy's limits (POLICY_LIMIT),
 * writes the canonical intent with libkura (initiator = who->name), and
 * completes the idempotency key (201, the resource) in the same transaction.
 * NOT_FOUND (wallet), MISSING_FIELD, DUPLICATE_EXTERNAL_ID. */
int kura_transfer_create(kura_store *st, const kura_principal *who, const kura_transfer_request *req,
                         const kura_idem *idem, int64_t now, json_t **out, kura_problem *p);

/* The transfer resource. NOT_FOUND. (Reads show an overdue transfer as
 * expired; the clock is the system's for these reads.) */
int kura_transfer_get(kura_store *st, const char *id, json_t **out, kura_problem *p);

/* A page of transfers in id order, optionally for one wallet and one state.
 * INVALID_FIELD (unknown state, limit), BAD_CURSOR. */
int kura_transfer_list(kura_store *st, const char *wallet_id, const char *state,
                       const char *cursor, size_t limit, json_t **page, kura_problem *p);

/* The intent's exact bytes (what approvers sign): *text malloc'd, NUL-
 * terminated for convenience, *len without the NUL. NOT_FOUND. */
int kura_transfer_intent(kura_store *st, const char *id, char **text, size_t *len, kura_problem *p);

/* Adds an approval: `signature` (len bytes) is an armoured SSHSIG over the
 * intent's exact bytes by one of the policy's approvers (found by key),
 * verified with libkura's check (kura_check_approvals) under the wallet's
 * policy in force. INVALID_APPROVAL, INITIATOR_APPROVAL (the policy forbids
 * the initiator approving), DUPLICATE_APPROVAL, INVALID_STATE (not
 * awaiting_approval), TRANSFER_EXPIRED. When a tier's quorum is met the
 * transfer moves to approved. *out: the transfer. */
int kura_transfer_approve(kura_store *st, const kura_principal *who, const char *id,
                          const char *signature, size_t len, int64_t now, json_t **out, kura_problem *p);

/* Rejects (any state before signed); a reason is required (MISSING_FIELD). */
int kura_transfer_reject(kura_store *st, const kura_principal *who, const char *id, const char *reason,
                         int64_t now, json_t **out, kura_problem *p);

/* Cancels (any state before broadcast); the reason is optional. Coins
 * reserved by the transfer's package are released. */
int kura_transfer_cancel(kura_store *st, const kura_principal *who, const char *id, const char *reason,
                         int64_t now, json_t **out, kura_problem *p);

/* The signing package (PSBT bytes, *psbt malloc'd). On the first call for an
 * approved transfer it is built: coins selected (libkura coinselect) from the
 * wallet's unreserved unspent coins (confirmed ones when the wallet asks for
 * confirmations) at the configured fee rate, change on the internal chain at
 * the wallet's next change index (recorded as an address, branch 1), every
 * field a signer needs (libkura assemble), the intent, the approvals and the
 * policy in force with its signatures attached (kura-cold reads a policy
 * equal to its own as absent, and takes a newer one signed by its admins);
 * then the signer's own check (kura_check_package, with the wallet's
 * descriptor and policy) must accept it; coins reserved and the transfer
 * moved to awaiting_signatures in one transaction. Later calls return the
 * same bytes. INVALID_STATE, TRANSFER_EXPIRED, INSUFFICIENT_FUNDS,
 * FEE_TOO_HIGH (over the intent's max-fee, the policy's max-fee or
 * max-fee-rate), POLICY_LIMIT / INVALID_APPROVAL (the signer's check would
 * refuse under the policy now in force). */
int kura_transfer_package(kura_store *st, const kura_principal *who, const char *id, int64_t now,
                          uint8_t **psbt, size_t *len, kura_problem *p);

/* Takes a signed PSBT from a signer: every signature is checked against the
 * package (INVALID_PSBT: not this transaction; INVALID_SIGNATURE), merged
 * into the combined PSBT, an upload row written; once the wallet's threshold
 * is met the PSBT is finalized and extracted (TX_MISMATCH if the transaction
 * does not pay what the intent says: outputs in any order, change at any
 * change index up to kura-cold's bound of 1,000,000) and the transfer moves
 * to signed. INVALID_STATE (not awaiting_signatures). *out: the transfer. */
int kura_transfer_add_signatures(kura_store *st, const kura_principal *who, const char *id,
                                 const uint8_t *psbt, size_t len, int64_t now, json_t **out,
                                 kura_problem *p);

/* The finalized transaction as hex (*hex malloc'd). INVALID_STATE before signed. */
int kura_transfer_raw_tx(kura_store *st, const char *id, char **hex, kura_problem *p);

/* Moves every transfer past its expiry and not yet broadcast to expired
 * (releasing reserved coins); *expired: how many. */
int kura_transfer_expire_due(kura_store *st, int64_t now, size_t *expired, kura_problem *p);

/* Replaces the package of an approved transfer by a PSBT made elsewhere
 * (e.g. Bitcoin Core's walletcreatefundedpsbt): every field a signer needs is
 * restored from the wallet (kura_assemble_complete), intent and approvals are
 * attached, and the signer's check must accept it (TX_MISMATCH when it pays
 * something else); its inputs must be free coins of the wallet in the store
 * (INVALID_PSBT, CONFLICT). Then as kura_transfer_package: reserved,
 * awaiting_signatures (kura_transfer_package then returns it). *out: the
 * transfer. */
int kura_transfer_import_package(kura_store *st, const kura_principal *who, const char *id,
                                 const uint8_t *psbt, size_t len, int64_t now, json_t **out,
                                 kura_problem *p);

/* Fee bump (RBF) of a broadcast transfer, without new approvals
 * (transfer_bump.c; docs/signer-check.md "Fee bumps"): a new attempt paying
 * the same outputs from every coin of the latest attempt (plus free coins
 * of the wallet when the fee needs them), new change, a fee of fee_rate
 * sat/vB (0: the current estimate) and at least the highest earlier fee
 * plus 1 sat/vB; the signer's check with the earlier attempts as its
 * journal must accept it as a bump. The transfer stays broadcast: its
 * package (GET .../package) is the bump's until it is signed, signed PSBTs
 * go to the bump, and once finalized the bump is the transfer's
 * transaction, broadcast at once. The follower confirms the transfer with
 * whichever attempt a block holds. Audit row and webhook event
 * "transfer.bumped" in the same transaction; the resource lists
 * "attempts". INVALID_STATE (not broadcast), TRANSFER_EXPIRED,
 * FEE_TOO_HIGH (over the intent's or the policy's max-fee, or the rate over
 * max-fee-rate), INSUFFICIENT_FUNDS, NOT_FOUND. *out: the transfer. */
int kura_transfer_bump(kura_store *st, const kura_principal *who, const char *id,
                       uint64_t fee_rate, int64_t now, json_t **out, kura_problem *p);

/* The fee rate the package builder uses, in satoshis per 1000 virtual bytes
 * (default 2000 = 2 sat/vB), until the chain follower brings the node's
 * estimates. Set once at start from the configuration. */
#define KURA_TRANSFER_DEFAULT_FEE_RATE 2000u
void kura_transfer_set_fee_rate(uint64_t sat_per_kvb);
uint64_t kura_transfer_fee_rate(void);

#ifdef KURA_TEST_HOOKS
/* Test builds only (never in a release): skip the coordinator's own run of
 * the signer's check on the packages it builds, as a coordinator whose code
 * an attacker replaced would. kura-server turns it on when started with
 * KURA_TEST_COMPROMISED_COORDINATOR=1, so the end-to-end tests can hand
 * kura-cold what such a coordinator sends. */
void kura_transfer_test_skip_self_check(int skip);
#endif
/* ---- for the chain (server/chain/), inside the caller's transaction ----
 * They return a KURA_DB_* code (or a positive problem code), write the
 * move's audit row and webhook event like every move, and never talk to a
 * node: the chain module does that and calls these with what it learned. */

/* Moves the transfer in state `from` whose txid is `txid` (if any) to `to`:
 * broadcast -> confirmed when a block of the best chain holds it,
 * confirmed -> broadcast when that block was disconnected. extra (may be
 * NULL) is merged into the audit data (block hash, height). id_out (may be
 * NULL; "" when no transfer matched) gets the transfer moved. */
int kura_transfer_chain_move(kura_db *db, const char *txid, const char *from, const char *to,
                             json_t *extra, int64_t now, char id_out[KURA_DB_ID_SIZE],
                             kura_db_error *err);

/* signed -> broadcast, once the node accepted the transaction. A transfer
 * past its expiry is moved to expired instead (TRANSFER_EXPIRED);
 * INVALID_STATE when not signed; NOT_FOUND. */
int kura_transfer_mark_broadcast(kura_db *db, const char *id, json_t *extra, int64_t now,
                                 kura_problem *p, kura_db_error *err);

#endif /* KURA_SERVER_TRANSFERS_H */
