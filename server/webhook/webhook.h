/*
 * server/webhook/webhook.h — webhooks: an outbox written in the same
 * transaction as the change it announces, endpoints with a secret, and a
 * background worker that delivers each endpoint's events in order, signed,
 * with exponential back-off, logging every attempt.
 *
 * The body of a delivery is the event's payload, fixed when the event is
 * written (so an event's id and bytes are the same on every retry):
 *   {"id": "ev_...", "type": "transfer.approved", "created_at": <unix>,
 *    "data": <the object's JSON>, "audit": {"seq": n, "head": "<hex>"}}
 * Headers: Content-Type: application/json; Kura-Event-Id: <id>;
 *   Kura-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 *   (the secret is the endpoint's secret string, its 64 hex characters used
 *   as the key bytes as they are); Kura-Audit-Head: <seq>:<hash> (the audit
 *   row written with the event, as in the body).
 * A 2xx answer is delivered; anything else (or no answer within the timeout)
 * is retried after min(cap, base * 2^(attempts-1)) plus up to a quarter of
 * that at random, until max attempts, then `failed`. An endpoint's next event
 * waits until the one before it is delivered or failed (strict order by the
 * events' audit seq, then id). Several servers may run workers: one of them
 * is elected the dispatcher (store/leader.h, role "webhook-dispatcher";
 * failover when its process dies or its database session drops), and the
 * others wait; each attempt is claimed first by a lease row per endpoint
 * (leases.name "webhook:<endpoint id>", for the attempt's timeout plus 5 s,
 * taken only in a transaction fenced by the election), so no two
 * dispatchers ever post the same endpoint's event at once.
 *
 * Event patterns (an endpoint's "events", space-separated): "*" (all), an
 * exact type ("transfer.approved"), or a prefix with ".*" ("transfer.*":
 * every type starting "transfer."). A pattern is [a-z0-9_.]+, optionally
 * ending ".*", or "*"; at most 16 patterns, 512 characters.
 *
 * Functions on a kura_db run inside the caller's transaction and return
 * KURA_DB_* codes; functions on a kura_store are whole operations for the
 * API and return 0 or a positive kura_problem_code (problem/problem.h),
 * filling a kura_problem (INVALID_FIELD, NOT_FOUND, BAD_CURSOR, UNAVAILABLE,
 * INTERNAL). Changes to endpoints are audit rows (object_type "webhook").
 */
#ifndef KURA_SERVER_WEBHOOK_H
#define KURA_SERVER_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "problem/problem.h"
#include "store/db.h"
#include "store/store.h"

/* ---- the outbox (inside the caller's transaction) ---- */

/* Writes one webhook_events row (a new stable id, kura_db_new_id("ev")) and
 * one pending webhook_deliveries row, due now, per enabled endpoint whose
 * patterns match `type`.
 *   type:        "transfer.approved": [a-z0-9_.]+, at most 64 characters
 *   object_id:   the object the event is about
 *   data:        borrowed: the object's JSON (a JSON object)
 *   audit_seq, audit_head: the audit row written in the same transaction
 *   now:         unix seconds
 * Returns KURA_DB_OK, KURA_DB_EINVAL (bad type, data not an object, NULL
 * argument), KURA_DB_ENOMEM or a driver code (the caller rolls back). */
int kura_webhook_emit(kura_db *db, const char *type, const char *object_id, json_t *data,
                      int64_t audit_seq, const char *audit_head, int64_t now, kura_db_error *err);

/* Like kura_webhook_emit, and also gives the event's id (event_id_out at
 * least KURA_DB_ID_SIZE bytes; "" on failure) and how many deliveries were
 * queued (may be NULL). */
int kura_webhook_emit_ex(kura_db *db, const char *type, const char *object_id, json_t *data,
                         int64_t audit_seq, const char *audit_head, int64_t now,
                         char event_id_out[KURA_DB_ID_SIZE], size_t *deliveries,
                         kura_db_error *err);

/* 1 when `type` matches the space-separated `patterns`, else 0. */
int kura_webhook_patterns_match(const char *patterns, const char *type);

/* 1 when `patterns` is a valid pattern list (see above), else 0. */
int kura_webhook_patterns_valid(const char *patterns);

/* ---- endpoints (whole operations) ---- */

/* An endpoint's JSON: {"id": "wh_...", "url", "events": "transfer.* ...",
 * "enabled": bool, "created_at"}; the secret only in create's answer. */

/* Creates an endpoint: url http:// or https:// (at most 2048 characters, no
 * spaces or control characters), events a valid pattern list. A secret of 32
 * random bytes is made and stored as 64 hex characters; *out (new
 * reference) is the endpoint's JSON plus "secret", the only time it is
 * shown. Writes the audit row "webhook.created" (its snapshot without the
 * secret, with "secret_sha256"). *out is NULL on failure. */
int kura_webhook_endpoint_create(kura_store *st, const char *actor, const char *url,
                                 const char *events, int64_t now, json_t **out, kura_problem *p);

/* The same, running also(db, the endpoint's JSON as answered, also_arg, err)
 * inside the creating transaction after the endpoint is written, so a caller
 * above this module commits something of its own with it (the API: the
 * Idempotency-Key's remembered answer). A return other than KURA_DB_OK rolls
 * the creation back. also NULL: kura_webhook_endpoint_create. */
typedef int (*kura_webhook_also_fn)(kura_db *db, const json_t *created, void *arg,
                                    kura_db_error *err);
int kura_webhook_endpoint_create_also(kura_store *st, const char *actor, const char *url,
                                      const char *events, int64_t now, kura_webhook_also_fn also,
                                      void *also_arg, json_t **out, kura_problem *p);

int kura_webhook_endpoint_get(kura_store *st, const char *id, json_t **out, kura_problem *p);

/* A page {"items": [...], "next_cursor": "<id>" | null} by id; cursor NULL/""
 * for the first page; limit 1..500. */
int kura_webhook_endpoint_list(kura_store *st, const char *cursor, size_t limit, json_t **page,
                               kura_problem *p);

/* Enables or disables an endpoint (a disabled endpoint gets no new
 * deliveries and its pending ones wait). Audit row "webhook.enabled" /
 * "webhook.disabled". *out (may be NULL) receives the endpoint's JSON. */
int kura_webhook_endpoint_set_enabled(kura_store *st, const char *actor, const char *id,
                                      int enabled, int64_t now, json_t **out, kura_problem *p);

/* Deletes an endpoint with its deliveries and attempts. Audit row
 * "webhook.deleted". */
int kura_webhook_endpoint_delete(kura_store *st, const char *actor, const char *id, int64_t now,
                                 kura_problem *p);

/* The registered snapshot function of object type "webhook" (audit.h);
 * kura_webhook_register_snapshots registers it. */
int kura_webhook_snapshot(kura_db *db, const char *endpoint_id, json_t **out, kura_db_error *err);
void kura_webhook_register_snapshots(void);

/* ---- events, deliveries, attempts ---- */

/* An event: {"id", "type", "object_id", "created_at", "audit_seq",
 * "payload": <the body sent, as JSON>}. */
int kura_webhook_event_get(kura_store *st, const char *event_id, json_t **out, kura_problem *p);

/* Deliveries of an endpoint (event_id NULL: all; else that one), by event
 * id: a page of {"endpoint_id", "event_id", "event_type", "state":
 * "pending"|"delivered"|"failed", "attempts", "next_attempt_at",
 * "last_status": n|null, "last_error": str|null, "delivered_at": n|null}.
 * NOT_FOUND when the endpoint does not exist. */
int kura_webhook_delivery_list(kura_store *st, const char *endpoint_id, const char *event_id,
                               const char *cursor, size_t limit, json_t **page, kura_problem *p);

/* Attempts of an endpoint (event_id NULL: all; else that event's), by
 * attempt id: a page of {"id", "endpoint_id", "event_id", "at", "status":
 * n|null, "error": str|null, "duration_ms"}. NOT_FOUND when the endpoint does
 * not exist. */
int kura_webhook_attempt_list(kura_store *st, const char *endpoint_id, const char *event_id,
                              const char *cursor, size_t limit, json_t **page, kura_problem *p);

/* Redelivers an event to an endpoint: its delivery (made if the endpoint
 * never had one) goes back to pending, due now, with its attempt count
 * reset. Audit row "webhook.redelivered". *out (may be NULL) receives the
 * delivery's JSON. NOT_FOUND when the endpoint or event does not exist. */
int kura_webhook_redeliver(kura_store *st, const char *actor, const char *endpoint_id,
                           const char *event_id, int64_t now, json_t **out, kura_problem *p);

/* ---- signatures ---- */

/* Writes the Kura-Signature header value for body[0..len) at time t into
 * out (at least KURA_WEBHOOK_SIGNATURE_MAX bytes): "t=<t>,v1=<64 hex>".
 * Returns 0, or -1 on a NULL argument. */
#define KURA_WEBHOOK_SIGNATURE_MAX 96
int kura_webhook_sign(char out[KURA_WEBHOOK_SIGNATURE_MAX], const char *secret, int64_t t,
                      const char *body, size_t len);

/* For receivers and tests: checks a Kura-Signature header against the
 * secret and the body as received, and that |now - t| <= tolerance seconds.
 * Several v1= values are accepted (any may match), in any order after t=.
 * Returns 0 when it verifies, KURA_WEBHOOK_SIG_MALFORMED (header does not
 * parse), KURA_WEBHOOK_SIG_STALE (t outside the tolerance) or
 * KURA_WEBHOOK_SIG_MISMATCH (no v1 matches; compared in constant time). */
#define KURA_WEBHOOK_SIG_MALFORMED 1
#define KURA_WEBHOOK_SIG_STALE 2
#define KURA_WEBHOOK_SIG_MISMATCH 3
int kura_webhook_verify_signature(const char *secret, const char *header, const char *body,
                                  size_t len, int64_t now, int64_t tolerance);

/* ---- the delivery worker ---- */

typedef struct kura_webhook_worker_options {
    int64_t poll_interval_ms; /* how often to look for due deliveries; 0: 1000 */
    int64_t max_attempts;     /* attempts before `failed`; 0: 10 */
    int64_t backoff_base_ms;  /* first retry after this; 0: 1000 */
    int64_t backoff_max_ms;   /* cap of one wait; 0: 3600000 (an hour) */
    int64_t timeout_ms;       /* one request's whole time; 0: 10000 */
    int64_t batch;            /* deliveries per round; 0: 32 */
    const char *holder;       /* lease holder name (copied); NULL: "worker-<random>" */
} kura_webhook_worker_options;

typedef struct kura_webhook_worker kura_webhook_worker;

/* Starts the worker thread on `st` (which must outlive it). Initialises
 * libcurl once per process (call it before starting other threads that use
 * curl). Returns KURA_DB_OK and *out, KURA_DB_EINVAL (negative option,
 * NULL argument), KURA_DB_ENOMEM, KURA_DB_EIO (thread or curl failed); *out
 * NULL on failure. */
int kura_webhook_worker_start(kura_webhook_worker **out, kura_store *st,
                              const kura_webhook_worker_options *opt, kura_db_error *err);

/* Wakes the worker now (after a commit that emitted events), instead of at
 * its next poll. NULL is a no-op. */
void kura_webhook_worker_wake(kura_webhook_worker *w);

/* Stops the worker (an attempt in flight finishes or times out first),
 * joins its thread and frees it. NULL is a no-op. */
void kura_webhook_worker_stop(kura_webhook_worker *w);

/* Counters for /metrics (0s for NULL). */
typedef struct kura_webhook_worker_stats {
    uint64_t attempts;   /* HTTP attempts made */
    uint64_t delivered;  /* deliveries answered 2xx */
    uint64_t failed;     /* deliveries given up after max attempts */
    uint64_t errors;     /* database errors met by the worker */
} kura_webhook_worker_stats;
void kura_webhook_worker_get_stats(kura_webhook_worker *w, kura_webhook_worker_stats *out);

/* One round of the worker, in the calling thread: delivers up to
 * opt->batch due deliveries (at most one per endpoint) at time now_ms (unix
 * milliseconds). *attempted (may be NULL) receives how many attempts were
 * made. Returns KURA_DB_OK or a driver code. */
int kura_webhook_deliver_due(kura_store *st, const kura_webhook_worker_options *opt,
                             int64_t now_ms, size_t *attempted, kura_db_error *err);

#endif /* KURA_SERVER_WEBHOOK_H */
