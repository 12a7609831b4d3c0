/*
 * server/audit/audit.h — the audit log: one hash-chained row per change,
 * appended inside the transaction that makes the change, so a change and its
 * record commit together or not at all.
 *
 * Each row's hash covers its own fields and the previous row's hash
 * (docs/audit-format.md gives the exact byte encoding), so a row cannot be
 * edited, removed, inserted or reordered without breaking every link after
 * it; audit_head holds the last (seq, hash). A history rewritten whole from
 * some row on (every hash recomputed) is consistent in itself: it is caught
 * only against a head held outside the database — the head travels in every
 * webhook delivery (Kura-Audit-Head) and in every export's trailer.
 *
 * Rows carry, for objects that have one, a "snapshot" of the object's full
 * JSON after the change. `kura_audit_verify` holds each object's current row
 * (computed by a function the domain registers per object type) against the
 * snapshot in its latest audit row: a row edited directly in the database,
 * behind the server's back, is named there.
 *
 * Two kinds of functions:
 *  - inside a caller's transaction (kura_db *): kura_audit_append,
 *    kura_audit_head; they return KURA_DB_* codes (kura_db_error says why);
 *  - whole operations on a store (kura_store *), for the API and the CLI:
 *    list, verify, export, journal import; they return 0 or a positive
 *    kura_problem_code (problem/problem.h) and fill a kura_problem: bad
 *    arguments INVALID_FIELD / BAD_CURSOR, database failures UNAVAILABLE or
 *    INTERNAL.
 */
#ifndef KURA_SERVER_AUDIT_H
#define KURA_SERVER_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "problem/problem.h"
#include "store/db.h"
#include "store/store.h"

/* A hash as lower-case hex, NUL included. */
#define KURA_AUDIT_HASH_SIZE 65
/* The head of an empty chain, and the prev_hash of row 1. */
#define KURA_AUDIT_ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

/* One row to append. Strings are NUL-terminated UTF-8, non-empty except
 * object_id may be "" for rows about no object (a failed sign-in of an
 * unknown user names the user name there instead). */
typedef struct kura_audit_entry {
    const char *actor;        /* principal id, or "system" */
    const char *action;       /* "transfer.approved", "user.created", "signin.failed", ... */
    const char *object_type;  /* "transfer", "wallet", "policy", "user", "api_key", "webhook", "session" */
    const char *object_id;
    json_t *data;             /* borrowed: a JSON object, what changed; MUST include "snapshot":
                                 the object's full canonical JSON after the change (for objects
                                 with a snapshot function, see below; JSON null
                                 when the change deleted the object). Integers, strings,
                                 true/false/null, arrays and objects only: reals are refused
                                 (they have no single spelling). NULL means {}. */
} kura_audit_entry;

/* Appends one row inside the caller's write transaction `db`: takes the head
 * (UPDATE audit_head ... RETURNING, which holds the head's row lock until the
 * caller commits, so appenders are serialised and seq has no gaps), hashes
 * the row, inserts it and moves the head.
 *   now:      the row's time, unix seconds (>= 0)
 *   seq_out:  may be NULL; receives the row's seq (0 on failure)
 *   head_hash_out: may be NULL; receives the row's hash, the new head
 *                  (lower-case hex; "" on failure)
 * Returns KURA_DB_OK; KURA_DB_EINVAL (NULL or empty field, data not an
 * object or holding a real, now < 0; err says which); KURA_DB_ENOMEM; the
 * driver's codes (KURA_DB_EBUSY: the caller's transaction is retried). On
 * failure the caller must roll back (the head may have moved). */
int kura_audit_append(kura_db *db, const kura_audit_entry *e, int64_t now,
                      int64_t *seq_out, char head_hash_out[65], kura_db_error *err);

/* The chain's head as audit_head holds it (inside a transaction of the
 * caller). seq 0 and KURA_AUDIT_ZERO_HASH for an empty chain. Outputs may be
 * NULL; zeroed/"" on failure. Returns KURA_DB_OK or a driver code
 * (KURA_DB_ESCHEMA when the head row is missing). */
int kura_audit_head(kura_db *db, int64_t *seq, char hash[65], kura_db_error *err);

/* ---- snapshots ---- */

/* Computes an object's current snapshot from the database (inside the
 * verifier's read transaction): *out receives a new reference (the caller
 * of fn frees it). Returns KURA_DB_OK, KURA_DB_ENOTFOUND (the object is
 * gone: named as a mismatch), or a driver code (verification stops). */
typedef int (*kura_audit_snapshot_fn)(kura_db *db, const char *object_id, json_t **out,
                                      kura_db_error *err);

/* Registers fn for object_type (copied; at most 63 bytes), replacing an
 * earlier one; fn NULL removes it. Process-wide and thread-safe; at most 32
 * types (more are ignored). The domain registers its types at start-up. */
void kura_audit_register_snapshot(const char *object_type, kura_audit_snapshot_fn fn);

/* ---- the hash, for tools and tests (docs/audit-format.md) ---- */

/* The canonical JSON of `data` (a JSON object): jansson with JSON_COMPACT |
 * JSON_SORT_KEYS | JSON_ENSURE_ASCII, reals refused. *out is malloc'd (free
 * with free()), NULL on failure. Returns KURA_DB_OK, KURA_DB_EINVAL (not an
 * object, or a real inside), KURA_DB_ENOMEM. */
int kura_audit_canonical_json(char **out, const json_t *data);

/* One row's hash: SHA-256 over the encoding of docs/audit-format.md, as
 * lower-case hex into out. data_json is the row's stored data text (the
 * canonical JSON). Returns KURA_DB_OK or KURA_DB_EINVAL (NULL argument,
 * prev_hash not 64 lower-case hex). */
int kura_audit_row_hash(char out[65], int64_t seq, int64_t at, const char *actor,
                        const char *action, const char *object_type, const char *object_id,
                        const char *data_json, const char *prev_hash);

/* ---- reading ---- */

/* Lists rows by seq, ascending: a page {"items": [row...], "next_cursor":
 * "<seq>" | null}. A row is {"seq", "at", "actor", "action", "object_type",
 * "object_id", "data": <object>, "prev_hash", "hash"}.
 *   from, to:     time range [from, to) in unix seconds; to 0 means no end
 *   object_type, object_id: filters; NULL for none
 *   cursor:       NULL/"" for the first page, else the seq (decimal) of the
 *                 last row of the previous page (else BAD_CURSOR)
 *   limit:        1..500 (else INVALID_FIELD)
 * *page is NULL on failure. */
int kura_audit_list(kura_store *st, int64_t from, int64_t to, const char *object_type,
                    const char *object_id, const char *cursor, size_t limit, json_t **page,
                    kura_problem *p);

/* ---- verification ---- */

/* Verifies the whole chain in one read transaction, a page at a time (never
 * loading the chain whole): every row's hash recomputed, every link, seq
 * without gaps from 1, the head row against the last row, and each row's data
 * in canonical form. It names the FIRST broken row. Then, for every object
 * type with a registered snapshot function, it holds every object's current
 * snapshot against the "snapshot" in its latest audit row that has one and
 * names every object that differs (and which top-level fields).
 *   held_seq, held_hash: a head held outside the database (an earlier
 *                 export's trailer, a webhook's Kura-Audit-Head); held_hash
 *                 NULL to skip. The row at held_seq must exist and have that
 *                 hash: else "held_head_mismatch" (history rewritten).
 *   report:       receives (new reference)
 *     {"ok": bool,                       all checks passed
 *      "rows": n,                        rows walked
 *      "head": {"seq": n, "hash": "..."},  audit_head as read
 *      "chain_error": null | {"seq": n, "reason": R, "message": "..."},
 *         R: "seq_gap" (a row missing or out of place: seq is the row found
 *            where another was expected), "broken_link" (prev_hash is not
 *            the previous row's hash), "hash_mismatch" (the row's fields do
 *            not hash to its hash), "non_canonical_data", "head_mismatch"
 *            (audit_head disagrees with the last row), "held_head_mismatch"
 *      "objects_checked": n,
 *      "snapshot_mismatches": [{"object_type", "object_id", "audit_seq",
 *            "reason": "fields_differ" | "object_missing" | "no_snapshot" |
 *                      "object_resurrected" (deleted per its last row, yet present),
 *            "fields": ["amount", ...]}],  (at most 1000; "truncated": true after)
 *     }
 * Returns 0 when verification ran (whatever it found: read report.ok), or
 * UNAVAILABLE / INTERNAL; *report is NULL then. */
int kura_audit_verify(kura_store *st, int64_t held_seq, const char *held_hash, json_t **report,
                      kura_problem *p);

/* ---- export ---- */

/* Receives the export's bytes, in order. Returns 0 to go on, non-zero to
 * stop (the export then fails with INTERNAL, "the writer stopped"). */
typedef int (*kura_audit_write_fn)(void *ctx, const char *bytes, size_t len);

typedef enum kura_audit_export_format {
    KURA_AUDIT_EXPORT_JSONL = 1, /* one canonical JSON object per row, LF-terminated */
    KURA_AUDIT_EXPORT_CSV = 2    /* RFC 4180: header record, CRLF, quoted as needed */
} kura_audit_export_format;

/* Exports the rows with from <= at < to (to 0: no end), by seq, in one read
 * transaction, then a trailer carrying the chain's head (seq, hash) as it
 * was in that transaction (docs/audit-format.md gives both formats exactly).
 * Returns 0, INVALID_FIELD (unknown format, NULL write), INTERNAL (the
 * writer stopped), UNAVAILABLE. Bytes already written stay written. */
int kura_audit_export(kura_store *st, kura_audit_export_format format, int64_t from, int64_t to,
                      kura_audit_write_fn write, void *ctx, kura_problem *p);

/* ---- the signer's journal ---- */

/* Imports a kura-cold journal (the file's bytes journal[0..len)): verifies
 * its chain with libkura, and reconciles every entry with the transfers:
 *  - each `signed` entry must match a transfer by intent id with the same
 *    intent hash, in a state at or after awaiting_signatures (signed,
 *    broadcast, confirmed, replaced count, and failed if its audit rows show
 *    it reached awaiting_signatures; awaiting_approval,
 *    approved are "transfer_not_ready"; cancelled, rejected, expired are
 *    named);
 *  - `refused` entries are listed (matched to a transfer by intent hash
 *    where one exists).
 * The import is itself an audit row (action "journal.imported", object_type
 * "journal", object_id the journal's head hash, data the summary), written
 * after the transfers were read in one read transaction (so a long journal
 * never holds the write lock while it is reconciled).
 *   actor:  principal id or "system"
 *   source: a name for the file (recorded; may be NULL)
 *   report: receives (new reference)
 *     {"ok": bool,                 journal valid and every signature matched
 *      "journal": {"valid": bool, "entries": n, "head": "hex", "error": str|null,
 *                  "bad_entry": n|null},
 *      "signed": n, "matched": n, "refused": n,
 *      "mismatches": [{"entry": n, "intent_id", "intent_hash",
 *            "reason": "unknown_intent" | "intent_hash_differs" |
 *                      "transfer_cancelled" | "transfer_rejected" |
 *                      "transfer_expired" | "transfer_not_ready",
 *            "transfer_id": str|null, "state": str|null, "message"}],
 *      "refusals": [{"entry", "time", "intent_hash": str|null, "reason",
 *                    "transfer_id": str|null}],
 *      "audit_seq": n}
 * Returns 0 (read report.ok), INVALID_FIELD (NULL journal with len > 0),
 * UNAVAILABLE / INTERNAL. A damaged journal is not an error of the call: the
 * report says so (journal.valid false) and the audit row records it. */
int kura_audit_journal_import(kura_store *st, const char *actor, const uint8_t *journal,
                              size_t len, const char *source, int64_t now, json_t **report,
                              kura_problem *p);

#endif /* KURA_SERVER_AUDIT_H */
