/*
 * server/domain/domain_internal.h — what the wallet, address and transfer
 * files of the domain share: the process's libkura context, a wallet loaded
 * with its parsed descriptor and policy, problem mapping, JSON resources,
 * audit rows and the transfer state machine (transfer_state.c).
 * Not a public header: the API includes wallets.h, addresses.h, transfers.h.
 */
#ifndef KURA_SERVER_DOMAIN_INTERNAL_H
#define KURA_SERVER_DOMAIN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "domain/people.h"
#include "domain/transfers.h"
#include "problem/problem.h"
#include "kura/descriptor.h"
#include "kura/intent.h"
#include "kura/check.h"
#include "kura/keys.h"
#include "kura/policy.h"
#include "store/db.h"
#include "store/store.h"
#include "store/store_transfers.h"
#include "store/store_wallets.h"
#include "store/store_withdrawals.h"

/* The process's libkura context, made once (read-only afterwards, shared by
 * every thread). NULL only if libkura cannot start (no memory, no OS random). */
const kura_ctx *dom_ctx(void);

/* Maps a store/driver code to a problem: ENOTFOUND -> NOT_FOUND (naming
 * `what`), EBUSY/EIO -> UNAVAILABLE, ECONFLICT -> CONFLICT, ECONSTRAINT ->
 * CONFLICT, else INTERNAL. Positive codes (problems already set) pass through.
 * Returns the problem code (> 0), or 0 for rc 0. */
/* Chain names as wallets and intents spell them. */
int dom_chain_parse(const char *name, kura_intent_chain *chain);

/* A wallet as the domain works with it. */
typedef struct dom_wallet {
    kura_wallet_row row;
    const kura_descriptor *desc; /* parsed row.descriptor (shared, parse_cache.c) */
    void *desc_handle;
    kura_intent_chain chain;
    kura_network network;
    kura_policy_row policy_row;  /* the policy in force */
    const kura_policy *policy;   /* parsed policy_row.text (shared) */
    void *policy_handle;
} dom_wallet;

/* Parsed policies and descriptors shared by every request
 * (parse_cache.c), keyed by the SHA-256 of their exact text. *out is
 * read-only and valid until dom_cache_release(*handle). Returns KURA_OK or
 * the parser's code (err says why). */
int dom_policy_acquire(const char *text, const kura_policy **out, void **handle, kura_error *err);
int dom_descriptor_acquire(const char *text, const kura_descriptor **out, void **handle,
                           kura_error *err);
void dom_cache_release(void *handle);

/* Loads wallet `id` with its policy in force, and its parsed descriptor
 * when need_descriptor (else w->desc is NULL). NOT_FOUND, INTERNAL (a
 * stored descriptor or policy that no longer parses). */
int dom_wallet_load(kura_db *db, const char *id, int need_descriptor, dom_wallet *w,
                    kura_problem *p);
void dom_wallet_clear(dom_wallet *w);

/* The policy row's signatures (a JSON array of strings) as a malloc'd array
 * of pointers into the returned json (json_decref it after use). */
int dom_policy_signatures(const kura_policy_row *row, json_t **arr, const char ***sigs,
                          size_t **lens, size_t *count);

/* Appends an audit row (data gets "snapshot": snapshot when not NULL;
 * `data` may be NULL) and returns the driver code. seq/head may be NULL. */
/* The wallet's audit snapshot (wallets.c). */
json_t *dom_wallet_snapshot(const kura_wallet_row *w);

int dom_audit(kura_db *db, const char *actor, const char *action, const char *object_type,
              const char *object_id, json_t *data, json_t *snapshot, int64_t now, int64_t *seq,
              char head[65], kura_db_error *err);

/* The actor of an audit row: the principal's id, or "system". */
const char *dom_actor(const kura_principal *who);

/* Records the idempotent response (201 and the compact JSON of body). */
int dom_idem_complete(kura_db *db, const kura_idem *idem, int status, const json_t *body,
                      kura_db_error *err);

/* Cursor-paginated page: {"items": items (stolen), "next_cursor": cursor|null}. */
json_t *dom_page(json_t *items, const char *next_cursor);
/* limit 0 -> 50; 1..500 accepted; else INVALID_FIELD. */
int dom_limit(size_t limit, size_t *out, kura_problem *p);

/* 1 if cursor is NULL/"" or an id this server made with `prefix`
 * (kura_db_new_id's form). */
int dom_cursor_valid(const char *cursor, const char *prefix);

/* Derives (branch, index) of the descriptor into an address row (address,
 * script, wallet_id, branch, idx; account/label empty). INVALID_FIELD for an
 * index beyond 2^31 - 1, INTERNAL when derivation fails. */
int dom_address_derive(const kura_descriptor *desc, kura_network network, const char *wallet_id,
                       int branch, int64_t index, kura_address_row *a, kura_problem *p);

/* ---- JSON resources ---- */

json_t *dom_wallet_json(const kura_wallet_row *w);
/* The transfer resource as stored (state as in the row). */
int dom_transfer_json(kura_db *db, const kura_transfer_row *t, json_t **out, kura_db_error *err);

/* kura_transfer_create's work inside the caller's transaction (no
 * idempotency key): the same checks, intent and creation move. */
int dom_transfer_create_in(kura_db *db, const kura_principal *who, const kura_transfer_request *req,
                           int64_t now, json_t **out, kura_problem *p, kura_db_error *err);

/* ---- withdrawals (withdrawals.c) ---- */

/* Called by dom_transfer_move after every move of transfer t to `to`: the
 * withdrawal requests batched into t follow it (each change one audit row
 * and one webhook event, in the caller's transaction). */
int dom_withdrawals_follow(kura_db *db, const char *actor, const kura_transfer_row *t, const char *to,
                           const char *reason, int64_t now, kura_problem *p, kura_db_error *err);
int dom_withdrawal_snapshot_fn(kura_db *db, const char *object_id, json_t **out,
                               kura_db_error *err);

/* ---- the state machine (transfer_state.c) ---- */

/* 1 if `to` may follow `from` (from "" is creation). */
int dom_transfer_move_allowed(const char *from, const char *to);
/* 1 if `state` is one of the states the API knows. */
int dom_transfer_state_known(const char *state);
/* 1 if a transfer in `state` has not yet been broadcast and is not over
 * (it can still expire or be cancelled). */
int dom_transfer_state_open(const char *state);

/* The only way a transfer changes state: t->state -> to (guarded in SQL),
 * with reason (may be NULL) stored, then ONE audit row "transfer.<to>" with
 * data {"from", "to", extra..., "snapshot": the transfer after the move} and
 * ONE webhook event "transfer.<to>" with the transfer, in the caller's
 * transaction. t->state is updated. Creation is a move from "" (the row must
 * have been inserted with state awaiting_approval). `extra` (may be NULL) is
 * merged into the audit data. *json_out (may be NULL) gets the transfer JSON.
 * Returns 0, INVALID_STATE (a move the table refuses), or a driver code. */
int dom_transfer_move(kura_db *db, const char *actor, kura_transfer_row *t, const char *to,
                      const char *reason, json_t *extra, int64_t now, json_t **json_out,
                      kura_problem *p, kura_db_error *err);

/* An audit row "transfer.<what>" for a change that is not a move (an
 * approval short of the quorum, a signature upload short of the threshold),
 * with the transfer's snapshot, so `audit verify` always finds the current
 * fields in the last row. No webhook event. */
int dom_transfer_note(kura_db *db, const char *actor, const kura_transfer_row *t, const char *what,
                      json_t *extra, int64_t now, json_t **json_out, kura_db_error *err);

/* Locks transfer `id` for a change (kura_store_transfer_lock). When it is
 * still open but its expiry has passed, it is moved to expired on the spot
 * (coins released) and *expired_now set: the caller then commits and
 * answers TRANSFER_EXPIRED. NOT_FOUND. */
int dom_transfer_lock(kura_db *db, const char *id, kura_transfer_row *t, int64_t now,
                      int *expired_now, kura_problem *p, kura_db_error *err);

/* ---- fee bumps (transfer_bump.c): a transfer's attempts ---- */

/* One row of transfer_attempts (migration 0005). */
typedef struct dom_attempt {
    int64_t attempt;        /* 1: the original */
    char state[24];         /* broadcast | awaiting_signatures | abandoned */
    char *package;          /* owned, base64 */
    char *combined;         /* owned, base64; NULL when none */
    char txid[68];          /* "" until finalized */
    int64_t fee;
    int64_t fee_rate;       /* sat/vB; -1 when none */
    int64_t change_index;   /* -1 when none */
    int64_t created_at;
} dom_attempt;

void dom_attempt_clear(dom_attempt *a);
/* The bump of the transfer awaiting signatures, if any: KURA_DB_OK, or
 * KURA_DB_ENOTFOUND when there is none. */
int dom_attempt_pending(kura_db *db, const char *transfer_id, dom_attempt *a, kura_db_error *err);
/* Its combined PSBT after an upload short of the threshold. */
int dom_attempt_set_combined(kura_db *db, const char *transfer_id, int64_t attempt,
                             const char *combined_b64, int64_t now, kura_db_error *err);
/* The bump finalized: it becomes the transfer's transaction (package,
 * combined, raw_tx, txid, fee; broadcast at once), with an audit row
 * "transfer.bump_signed" (*out: the transfer). */
int dom_attempt_signed(kura_db *db, const char *actor, kura_transfer_row *t, const dom_attempt *a,
                       const char *combined_b64, const char *raw_tx_hex, const char *txid,
                       int64_t fee, int64_t vsize, int64_t added, int64_t now, json_t **out,
                       kura_db_error *err);
/* The transfer resource's "attempts" array (empty before a bump). */
int dom_transfer_attempts_json(kura_db *db, const char *transfer_id, json_t **out,
                               kura_db_error *err);

/* The current time for reads that have no `now` argument. */
int64_t dom_now(void);

/* Bounds of an external id (transfers, withdrawal requests) and of a reason. */
#define DOM_EXTERNAL_ID_MAX 128
#define DOM_REASON_MAX 1024

/* 1 when s is 1..max bytes without control characters (external ids,
 * reasons), else 0. */
int dom_printable(const char *s, size_t max);

/* ---- the signer's check, run by the coordinator (transfer_package.c) ---- */

/* kura-cold refuses change above this index (COLD_MAX_CHANGE_INDEX). */
#define DOM_MAX_CHANGE_INDEX 1000000u

/* The coordinator's journal answers where it knows nothing a signer knows:
 * nothing signed in the window; every listed destination accepted long ago
 * (the signer decides on both). */
uint64_t dom_journal_signed_since_none(void *arg, int64_t since);
int64_t dom_journal_allow_accepted_at_any(void *arg, const uint8_t *script, size_t len);

/* Runs libkura's signer check on psbt for wallet w before a package leaves,
 * exactly as kura-cold will. journal NULL: nothing signed for this intent yet.
 * want_bump: it must also be accepted as a fee bump of what journal
 * reports. Returns 0 (*fee, when not NULL, the fee), or TX_MISMATCH,
 * INVALID_PSBT, FEE_TOO_HIGH, POLICY_LIMIT, INVALID_APPROVAL,
 * TRANSFER_EXPIRED, INTERNAL with p naming the signer's refusal. */
int dom_signer_check(const dom_wallet *w, const kura_check_journal *journal, int want_bump,
                     const kura_psbt *psbt, int64_t now, uint64_t *fee, kura_problem *p);

#endif /* KURA_SERVER_DOMAIN_INTERNAL_H */
