/*
 * server/audit/audit_verify.c — `audit verify`: the chain end to end, then
 * every object's current row against the snapshot its audit rows recorded.
 *
 * All of it runs in one read transaction, so the chain, its head and the
 * objects are one consistent picture, and a page of rows at a time, so
 * memory does not grow with the chain.
 */
#include "audit/audit_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VERIFY_PAGE 512
#define MISMATCHES_MAX 1000
#define OBJECT_PAGE 256
#define SNAPSHOT_LOOKBACK 64

typedef struct verify_arg {
    int64_t held_seq;
    const char *held_hash;
    json_t *report; /* out */
} verify_arg;

typedef struct chain_state {
    int64_t rows;
    int64_t last_seq;
    char last_hash[65];
    int broken;
    int64_t bad_seq;
    const char *reason;
    char message[200];
} chain_state;

static void chain_break(chain_state *c, int64_t seq, const char *reason, const char *fmt, ...)
    KURA_AUDIT_PRINTF(4, 5);

static void chain_break(chain_state *c, int64_t seq, const char *reason, const char *fmt, ...)
{
    va_list ap;
    if (c->broken)
        return;
    c->broken = 1;
    c->bad_seq = seq;
    c->reason = reason;
    va_start(ap, fmt);
    vsnprintf(c->message, sizeof c->message, fmt, ap);
    va_end(ap);
}

/* One row against the one before it. */
static void check_row(chain_state *c, const kura_db_result *res, size_t i)
{
    int64_t seq = kura_audit_int(res, i, 0);
    const char *data = kura_audit_text(res, i, 6);
    const char *prev = kura_audit_text(res, i, 7);
    const char *hash = kura_audit_text(res, i, 8);
    char want[65];
    json_error_t jerr;
    json_t *parsed;
    char *canon = NULL;

    if (seq != c->last_seq + 1) {
        chain_break(c, seq, "seq_gap", "row %" PRId64 " follows row %" PRId64 ": %s", seq,
                    c->last_seq, seq > c->last_seq + 1 ? "rows are missing" : "out of order");
        return;
    }
    if (strcmp(prev, c->last_hash) != 0) {
        chain_break(c, seq, "broken_link",
                    "row %" PRId64 ": prev_hash %.16s... is not row %" PRId64 "'s hash %.16s...",
                    seq, prev, c->last_seq, c->last_hash);
        return;
    }
    if (kura_audit_row_hash(want, seq, kura_audit_int(res, i, 1), kura_audit_text(res, i, 2),
                            kura_audit_text(res, i, 3), kura_audit_text(res, i, 4),
                            kura_audit_text(res, i, 5), data, prev) != KURA_DB_OK ||
        strcmp(want, hash) != 0) {
        chain_break(c, seq, "hash_mismatch",
                    "row %" PRId64 ": its fields hash to %.16s..., the row says %.16s...", seq,
                    want, hash);
        return;
    }
    /* The hash covers the stored text; the text must also be the one
     * canonical spelling, or two rows could mean the same and differ. */
    parsed = json_loads(data, 0, &jerr);
    if (!parsed || kura_audit_canonical_json(&canon, parsed) != KURA_DB_OK ||
        strcmp(canon, data) != 0)
        chain_break(c, seq, "non_canonical_data",
                    "row %" PRId64 ": data is not canonical JSON", seq);
    json_decref(parsed);
    free(canon);
    c->last_seq = seq;
    memcpy(c->last_hash, hash, 65);
}

static int walk_chain(kura_db *db, chain_state *c, kura_db_error *err)
{
    int64_t after = 0;
    c->last_seq = 0;
    memcpy(c->last_hash, KURA_AUDIT_ZERO_HASH, 65);
    for (;;) {
        kura_db_result *res = NULL;
        size_t n;
        int rc = kura_db_exec(db, &res,
                              "SELECT " KURA_AUDIT_ROW_COLUMNS
                              " FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
                              (kura_db_param[]){KURA_DB_INT(after), KURA_DB_INT(VERIFY_PAGE)}, 2,
                              err);
        if (rc != KURA_DB_OK)
            return rc;
        n = kura_db_result_rows(res);
        for (size_t i = 0; i < n && !c->broken; i++) {
            check_row(c, res, i);
            c->rows++;
        }
        if (n > 0)
            after = kura_audit_int(res, n - 1, 0);
        kura_db_result_free(res);
        if (c->broken || n < VERIFY_PAGE)
            return KURA_DB_OK;
    }
}

/* The latest "snapshot" the audit rows recorded for an object, and its row.
 * Rows without one (a failed sign-in of a user) are skipped in SQL, so many
 * of them after the last snapshot do not hide it; a nested "snapshot" key
 * passes the filter but not the parse. */
static int recorded_snapshot(kura_db *db, const char *type, const char *id, json_t **snap,
                             int64_t *seq, kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc;
    *snap = NULL;
    *seq = 0;
    rc = kura_db_exec(db, &res,
                      "SELECT seq, data FROM audit_log WHERE object_type = $1 AND object_id = $2 "
                      "AND data LIKE '%\"snapshot\":%' ORDER BY seq DESC LIMIT $3",
                      (kura_db_param[]){KURA_DB_TEXT(type), KURA_DB_TEXT(id),
                                        KURA_DB_INT(SNAPSHOT_LOOKBACK)},
                      3, err);
    if (rc != KURA_DB_OK)
        return rc;
    for (size_t i = 0; i < kura_db_result_rows(res) && !*snap; i++) {
        json_error_t jerr;
        json_t *data = json_loads(kura_audit_text(res, i, 1), 0, &jerr);
        json_t *s = json_object_get(data, "snapshot");
        if (s) {
            *snap = json_incref(s);
            *seq = kura_audit_int(res, i, 0);
        }
        json_decref(data);
    }
    kura_db_result_free(res);
    return KURA_DB_OK;
}

/* The top-level fields where two snapshots differ, sorted by name. */
static json_t *differing_fields(json_t *recorded, json_t *current)
{
    json_t *fields = json_array();
    const char *k;
    json_t *v;
    if (!fields)
        return NULL;
    if (!json_is_object(recorded) || !json_is_object(current)) {
        if (!json_equal(recorded, current))
            json_array_append_new(fields, json_string("(whole object)"));
        return fields;
    }
    json_object_foreach(recorded, k, v) {
        if (!json_equal(v, json_object_get(current, k)))
            json_array_append_new(fields, json_string(k));
    }
    json_object_foreach(current, k, v) {
        if (!json_object_get(recorded, k))
            json_array_append_new(fields, json_string(k));
    }
    /* Sorted, so reports compare across runs and backends. */
    for (size_t i = 1; i < json_array_size(fields); i++) {
        for (size_t j = i; j > 0; j--) {
            const char *a = json_string_value(json_array_get(fields, j - 1));
            const char *b = json_string_value(json_array_get(fields, j));
            if (strcmp(a, b) <= 0)
                break;
            json_t *t = json_incref(json_array_get(fields, j - 1));
            json_array_set(fields, j - 1, json_array_get(fields, j));
            json_array_set_new(fields, j, t);
        }
    }
    return fields;
}

typedef struct snap_state {
    int64_t objects;
    json_t *mismatches;
    int truncated;
} snap_state;

static void add_mismatch(snap_state *s, const char *type, const char *id, int64_t seq,
                         const char *reason, json_t *fields)
{
    if (json_array_size(s->mismatches) >= MISMATCHES_MAX) {
        s->truncated = 1;
        json_decref(fields);
        return;
    }
    json_array_append_new(s->mismatches,
                          json_pack("{ss ss sI ss so}", "object_type", type, "object_id", id,
                                    "audit_seq", (json_int_t)seq, "reason", reason, "fields",
                                    fields ? fields : json_array()));
}

static int check_type(kura_db *db, const char *type, kura_audit_snapshot_fn fn, snap_state *s,
                      kura_db_error *err)
{
    char *after = strdup("");
    int rc = KURA_DB_OK;
    if (!after)
        return kura_db_fail(err, KURA_DB_ENOMEM, "audit: out of memory");
    for (;;) {
        kura_db_result *res = NULL;
        size_t n;
        rc = kura_db_exec(db, &res,
                          "SELECT DISTINCT object_id FROM audit_log WHERE object_type = $1 "
                          "AND object_id > $2 ORDER BY object_id LIMIT $3",
                          (kura_db_param[]){KURA_DB_TEXT(type), KURA_DB_TEXT(after),
                                            KURA_DB_INT(OBJECT_PAGE)},
                          3, err);
        if (rc != KURA_DB_OK)
            break;
        n = kura_db_result_rows(res);
        for (size_t i = 0; i < n && rc == KURA_DB_OK; i++) {
            const char *id = kura_audit_text(res, i, 0);
            json_t *rec = NULL, *cur = NULL;
            int64_t seq = 0;
            if (!*id)
                continue; /* rows about no object */
            s->objects++;
            rc = recorded_snapshot(db, type, id, &rec, &seq, err);
            if (rc != KURA_DB_OK)
                break;
            if (!rec) {
                add_mismatch(s, type, id, 0, "no_snapshot", NULL);
                continue;
            }
            rc = fn(db, id, &cur, err);
            if (json_is_null(rec)) {
                /* The last row recorded a deletion: the object must be gone. */
                if (rc == KURA_DB_OK)
                    add_mismatch(s, type, id, seq, "object_resurrected", NULL);
                if (rc == KURA_DB_ENOTFOUND)
                    rc = KURA_DB_OK;
            } else if (rc == KURA_DB_ENOTFOUND) {
                add_mismatch(s, type, id, seq, "object_missing", NULL);
                rc = KURA_DB_OK;
            } else if (rc == KURA_DB_OK) {
                json_t *fields = differing_fields(rec, cur);
                if (json_array_size(fields) > 0)
                    add_mismatch(s, type, id, seq, "fields_differ", fields);
                else
                    json_decref(fields);
            }
            json_decref(rec);
            json_decref(cur);
        }
        if (rc == KURA_DB_OK && n > 0) {
            char *next = strdup(kura_audit_text(res, n - 1, 0));
            if (!next)
                rc = kura_db_fail(err, KURA_DB_ENOMEM, "audit: out of memory");
            free(after);
            after = next;
        }
        kura_db_result_free(res);
        if (rc != KURA_DB_OK || n < OBJECT_PAGE)
            break;
    }
    free(after);
    return rc;
}

static int held_head_check(kura_db *db, chain_state *c, int64_t held_seq, const char *held_hash,
                           kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc;
    if (held_seq == 0) {
        if (strcmp(held_hash, KURA_AUDIT_ZERO_HASH) != 0)
            chain_break(c, 0, "held_head_mismatch", "the held head of seq 0 is not the zero hash");
        return KURA_DB_OK;
    }
    rc = kura_db_exec(db, &res, "SELECT hash FROM audit_log WHERE seq = $1",
                      (kura_db_param[]){KURA_DB_INT(held_seq)}, 1, err);
    if (rc != KURA_DB_OK)
        return rc;
    if (kura_db_result_rows(res) != 1)
        chain_break(c, held_seq, "held_head_mismatch",
                    "the held head is row %" PRId64 ", which the chain no longer has", held_seq);
    else if (strcmp(kura_audit_text(res, 0, 0), held_hash) != 0)
        chain_break(c, held_seq, "held_head_mismatch",
                    "row %" PRId64 " has hash %.16s..., the held head says %.16s...: the history "
                    "up to it was rewritten",
                    held_seq, kura_audit_text(res, 0, 0), held_hash);
    kura_db_result_free(res);
    return KURA_DB_OK;
}

static int verify_fn(kura_db *db, void *arg, kura_db_error *err)
{
    verify_arg *a = arg;
    chain_state c;
    snap_state s = {0};
    int64_t head_seq = 0;
    char head_hash[65] = "";
    char types[32][64];
    size_t ntypes;
    json_t *chain_error;
    int rc;

    json_decref(a->report);
    a->report = NULL;
    memset(&c, 0, sizeof c);
    rc = kura_audit_head(db, &head_seq, head_hash, err);
    if (rc != KURA_DB_OK)
        return rc;
    rc = walk_chain(db, &c, err);
    if (rc != KURA_DB_OK)
        return rc;
    if (!c.broken && (head_seq != c.last_seq || strcmp(head_hash, c.last_hash) != 0))
        chain_break(&c, head_seq, "head_mismatch",
                    "audit_head says row %" PRId64 " with hash %.16s..., the chain ends at row "
                    "%" PRId64 " with hash %.16s...",
                    head_seq, head_hash, c.last_seq, c.last_hash);
    if (!c.broken && a->held_hash) {
        rc = held_head_check(db, &c, a->held_seq, a->held_hash, err);
        if (rc != KURA_DB_OK)
            return rc;
    }

    s.mismatches = json_array();
    if (!s.mismatches)
        return kura_db_fail(err, KURA_DB_ENOMEM, "audit: out of memory");
    ntypes = kura_audit_snapshot_types(types, 32);
    for (size_t i = 0; i < ntypes && rc == KURA_DB_OK; i++) {
        kura_audit_snapshot_fn fn = kura_audit_snapshot_lookup(types[i]);
        if (fn)
            rc = check_type(db, types[i], fn, &s, err);
    }
    if (rc != KURA_DB_OK) {
        json_decref(s.mismatches);
        return rc;
    }

    chain_error = c.broken ? json_pack("{sI ss ss}", "seq", (json_int_t)c.bad_seq, "reason",
                                       c.reason, "message", c.message)
                           : json_null();
    a->report = json_pack("{sb sI s{sI ss} so sI so}", "ok",
                          !c.broken && json_array_size(s.mismatches) == 0, "rows",
                          (json_int_t)c.rows, "head", "seq", (json_int_t)head_seq, "hash",
                          head_hash, "chain_error", chain_error, "objects_checked",
                          (json_int_t)s.objects, "snapshot_mismatches", s.mismatches);
    if (a->report && s.truncated)
        json_object_set_new(a->report, "truncated", json_true());
    return a->report ? KURA_DB_OK : kura_db_fail(err, KURA_DB_ENOMEM, "audit: out of memory");
}

int kura_audit_verify(kura_store *st, int64_t held_seq, const char *held_hash, json_t **report,
                      kura_problem *p)
{
    verify_arg a = {0};
    kura_db_error err = {0};
    int rc;
    if (report)
        *report = NULL;
    if (!st || !report)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "audit: bad arguments");
    if (held_hash && (!kura_audit_is_hash(held_hash) || held_seq < 0))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD,
                                  "the held head must be a seq and 64 lower-case hex characters");
    a.held_seq = held_seq;
    a.held_hash = held_hash;
    rc = kura_store_read(st, verify_fn, &a, &err);
    if (rc != KURA_DB_OK) {
        json_decref(a.report);
        return kura_problem_from_db(p, rc, &err, NULL);
    }
    *report = a.report;
    return 0;
}
