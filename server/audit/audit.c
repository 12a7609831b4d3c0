/*
 * server/audit/audit.c — appending to the hash chain, the row hash and its
 * canonical JSON (docs/audit-format.md), the snapshot registry, listing.
 */
#include "audit/audit_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* ---- small helpers ---- */




int64_t kura_audit_int(const kura_db_result *res, size_t row, size_t col)
{
    int64_t v = 0;
    if (kura_db_result_int(&v, res, row, col) != KURA_DB_OK)
        return 0;
    return v;
}

const char *kura_audit_text(const kura_db_result *res, size_t row, size_t col)
{
    const char *s = kura_db_result_text(res, row, col);
    return s ? s : "";
}

int kura_audit_is_hash(const char *s)
{
    size_t i;
    if (!s)
        return 0;
    for (i = 0; i < 64; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return s[64] == '\0';
}

/* ---- canonical JSON ---- */

/* Reals have no single spelling (jansson writes %.17g, other encoders the
 * shortest round-trip form), so a hash over them would depend on the
 * encoder: they are refused. Amounts are integers (satoshis) anyway. */
static int has_real(const json_t *v, int depth)
{
    if (depth > 64)
        return 1;
    if (json_is_real(v))
        return 1;
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            if (has_real(x, depth + 1))
                return 1;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            if (has_real(x, depth + 1))
                return 1;
        }
    }
    return 0;
}

int kura_audit_canonical_json(char **out, const json_t *data)
{
    if (!out)
        return KURA_DB_EINVAL;
    *out = NULL;
    if (!json_is_object(data) || has_real(data, 0))
        return KURA_DB_EINVAL;
    *out = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    return *out ? KURA_DB_OK : KURA_DB_ENOMEM;
}

/* ---- the row hash ---- */

static void put_u64be(crypto_hash_sha256_state *st, uint64_t v)
{
    unsigned char b[8];
    for (int i = 7; i >= 0; i--) {
        b[i] = (unsigned char)(v & 0xffu);
        v >>= 8;
    }
    crypto_hash_sha256_update(st, b, sizeof b);
}

/* A length-prefixed field: 4 bytes big-endian length, then the bytes. The
 * length prefix makes the encoding unambiguous ("ab"+"c" != "a"+"bc"). */
static int put_field(crypto_hash_sha256_state *st, const char *s)
{
    size_t n = strlen(s);
    unsigned char b[4];
    if (n > UINT32_MAX)
        return KURA_DB_EINVAL;
    b[0] = (unsigned char)(n >> 24);
    b[1] = (unsigned char)(n >> 16);
    b[2] = (unsigned char)(n >> 8);
    b[3] = (unsigned char)n;
    crypto_hash_sha256_update(st, b, sizeof b);
    crypto_hash_sha256_update(st, (const unsigned char *)s, n);
    return KURA_DB_OK;
}

#define AUDIT_HASH_TAG "kura-audit-v1"

int kura_audit_row_hash(char out[65], int64_t seq, int64_t at, const char *actor,
                        const char *action, const char *object_type, const char *object_id,
                        const char *data_json, const char *prev_hash)
{
    crypto_hash_sha256_state st;
    unsigned char prev[32], h[32];
    size_t bin_len = 0;
    if (!out)
        return KURA_DB_EINVAL;
    out[0] = '\0';
    if (!actor || !action || !object_type || !object_id || !data_json ||
        !kura_audit_is_hash(prev_hash))
        return KURA_DB_EINVAL;
    if (sodium_hex2bin(prev, sizeof prev, prev_hash, 64, NULL, &bin_len, NULL) != 0 ||
        bin_len != 32)
        return KURA_DB_EINVAL;
    crypto_hash_sha256_init(&st);
    /* The tag and its NUL: a row hash can never be mistaken for another
     * kind of hash over the same bytes. */
    crypto_hash_sha256_update(&st, (const unsigned char *)AUDIT_HASH_TAG, sizeof AUDIT_HASH_TAG);
    put_u64be(&st, (uint64_t)seq);
    put_u64be(&st, (uint64_t)at);
    if (put_field(&st, actor) || put_field(&st, action) || put_field(&st, object_type) ||
        put_field(&st, object_id) || put_field(&st, data_json))
        return KURA_DB_EINVAL;
    crypto_hash_sha256_update(&st, prev, sizeof prev);
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(out, 65, h, sizeof h);
    return KURA_DB_OK;
}

/* ---- appending ---- */

int kura_audit_head(kura_db *db, int64_t *seq, char hash[65], kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc;
    if (seq)
        *seq = 0;
    if (hash)
        hash[0] = '\0';
    if (!db)
        return kura_db_fail(err, KURA_DB_EINVAL, "audit: no database");
    rc = kura_db_exec(db, &res, "SELECT seq, hash FROM audit_head WHERE id = 1", NULL, 0, err);
    if (rc != KURA_DB_OK)
        return rc;
    if (kura_db_result_rows(res) != 1 || !kura_audit_is_hash(kura_audit_text(res, 0, 1))) {
        kura_db_result_free(res);
        return kura_db_fail(err, KURA_DB_ESCHEMA, "audit: the head row is missing or damaged");
    }
    if (seq)
        *seq = kura_audit_int(res, 0, 0);
    if (hash)
        memcpy(hash, kura_audit_text(res, 0, 1), 65);
    kura_db_result_free(res);
    return KURA_DB_OK;
}

static int field_ok(const char *s, int may_be_empty)
{
    return s && (may_be_empty || *s);
}

int kura_audit_append(kura_db *db, const kura_audit_entry *e, int64_t now, int64_t *seq_out,
                      char head_hash_out[65], kura_db_error *err)
{
    kura_db_result *res = NULL;
    char *data = NULL;
    json_t *empty = NULL;
    char prev[65], hash[65];
    int64_t seq;
    int rc;

    if (seq_out)
        *seq_out = 0;
    if (head_hash_out)
        head_hash_out[0] = '\0';
    if (!db || !e)
        return kura_db_fail(err, KURA_DB_EINVAL, "audit: no database or entry");
    if (!field_ok(e->actor, 0) || !field_ok(e->action, 0) || !field_ok(e->object_type, 0) ||
        !field_ok(e->object_id, 1))
        return kura_db_fail(err, KURA_DB_EINVAL,
                               "audit: actor, action and object_type must be non-empty");
    if (now < 0)
        return kura_db_fail(err, KURA_DB_EINVAL, "audit: time before 1970");
    if (!e->data) {
        empty = json_object();
        if (!empty)
            return kura_db_fail(err, KURA_DB_ENOMEM, "audit: out of memory");
    }
    rc = kura_audit_canonical_json(&data, e->data ? e->data : empty);
    json_decref(empty);
    if (rc != KURA_DB_OK)
        return kura_db_fail(err, rc, "audit: %s: data must be a JSON object without reals",
                               e->action);

    /* Taking the head first: on PostgreSQL the row lock is held until the
     * caller's commit, so two appenders never read the same head. */
    rc = kura_db_exec(db, &res,
                      "UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash",
                      NULL, 0, err);
    if (rc != KURA_DB_OK)
        goto out;
    if (kura_db_result_rows(res) != 1 || !kura_audit_is_hash(kura_audit_text(res, 0, 1))) {
        rc = kura_db_fail(err, KURA_DB_ESCHEMA, "audit: the head row is missing or damaged");
        goto out;
    }
    seq = kura_audit_int(res, 0, 0);
    memcpy(prev, kura_audit_text(res, 0, 1), 65);
    kura_db_result_free(res);
    res = NULL;

    rc = kura_audit_row_hash(hash, seq, now, e->actor, e->action, e->object_type, e->object_id,
                             data, prev);
    if (rc != KURA_DB_OK) {
        rc = kura_db_fail(err, rc, "audit: cannot hash the row");
        goto out;
    }
    rc = kura_db_exec(db, NULL,
                      "INSERT INTO audit_log (seq, at, actor, action, object_type, object_id, "
                      "data, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                      (kura_db_param[]){KURA_DB_INT(seq), KURA_DB_INT(now),
                                        KURA_DB_TEXT(e->actor), KURA_DB_TEXT(e->action),
                                        KURA_DB_TEXT(e->object_type), KURA_DB_TEXT(e->object_id),
                                        KURA_DB_TEXT(data), KURA_DB_TEXT(prev),
                                        KURA_DB_TEXT(hash)},
                      9, err);
    if (rc != KURA_DB_OK)
        goto out;
    rc = kura_db_exec(db, NULL, "UPDATE audit_head SET hash = $1 WHERE id = 1",
                      (kura_db_param[]){KURA_DB_TEXT(hash)}, 1, err);
    if (rc != KURA_DB_OK)
        goto out;
    if (seq_out)
        *seq_out = seq;
    if (head_hash_out)
        memcpy(head_hash_out, hash, 65);
out:
    kura_db_result_free(res);
    free(data);
    return rc;
}

/* ---- the snapshot registry ---- */

#define SNAPSHOT_TYPES_MAX 32

static struct {
    char type[64];
    kura_audit_snapshot_fn fn;
} snapshot_types[SNAPSHOT_TYPES_MAX];
static size_t snapshot_count;
static pthread_mutex_t snapshot_lock = PTHREAD_MUTEX_INITIALIZER;

void kura_audit_register_snapshot(const char *object_type, kura_audit_snapshot_fn fn)
{
    size_t i;
    if (!object_type || !*object_type || strlen(object_type) >= 64)
        return;
    pthread_mutex_lock(&snapshot_lock);
    for (i = 0; i < snapshot_count; i++) {
        if (strcmp(snapshot_types[i].type, object_type) == 0)
            break;
    }
    if (i < snapshot_count) {
        if (fn) {
            snapshot_types[i].fn = fn;
        } else {
            snapshot_types[i] = snapshot_types[snapshot_count - 1];
            snapshot_count--;
        }
    } else if (fn && snapshot_count < SNAPSHOT_TYPES_MAX) {
        snprintf(snapshot_types[snapshot_count].type, sizeof snapshot_types[0].type, "%s",
                 object_type);
        snapshot_types[snapshot_count].fn = fn;
        snapshot_count++;
    }
    pthread_mutex_unlock(&snapshot_lock);
}

kura_audit_snapshot_fn kura_audit_snapshot_lookup(const char *object_type)
{
    kura_audit_snapshot_fn fn = NULL;
    pthread_mutex_lock(&snapshot_lock);
    for (size_t i = 0; i < snapshot_count; i++) {
        if (strcmp(snapshot_types[i].type, object_type) == 0)
            fn = snapshot_types[i].fn;
    }
    pthread_mutex_unlock(&snapshot_lock);
    return fn;
}

size_t kura_audit_snapshot_types(char names[][64], size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&snapshot_lock);
    for (size_t i = 0; i < snapshot_count && n < max; i++)
        memcpy(names[n++], snapshot_types[i].type, 64);
    pthread_mutex_unlock(&snapshot_lock);
    return n;
}

/* ---- listing ---- */

json_t *kura_audit_row_json(const kura_db_result *res, size_t row)
{
    json_error_t jerr;
    json_t *data = json_loads(kura_audit_text(res, row, 6), JSON_DECODE_ANY, &jerr);
    json_t *o;
    if (!data) /* a damaged row is still shown: its data as the stored text */
        data = json_string(kura_audit_text(res, row, 6));
    o = json_pack("{sI sI ss ss ss ss so ss ss}", "seq", (json_int_t)kura_audit_int(res, row, 0),
                  "at", (json_int_t)kura_audit_int(res, row, 1), "actor",
                  kura_audit_text(res, row, 2), "action", kura_audit_text(res, row, 3),
                  "object_type", kura_audit_text(res, row, 4), "object_id",
                  kura_audit_text(res, row, 5), "data", data, "prev_hash",
                  kura_audit_text(res, row, 7), "hash", kura_audit_text(res, row, 8));
    return o;
}

typedef struct list_arg {
    int64_t from, to, after;
    const char *object_type, *object_id;
    size_t limit;
    json_t *page; /* out */
} list_arg;

static int list_fn(kura_db *db, void *arg, kura_db_error *err)
{
    list_arg *a = arg;
    kura_db_result *res = NULL;
    json_t *items;
    size_t n;
    int rc;
    json_decref(a->page);
    a->page = NULL;
    /* One statement for every filter: a NULL filter is "any". The time
     * bound uses the audit_at index; seq the primary key. */
    rc = kura_db_exec(db, &res,
                      "SELECT " KURA_AUDIT_ROW_COLUMNS " FROM audit_log "
                      "WHERE seq > $1 AND at >= $2 AND (CAST($3 AS BIGINT) = 0 OR at < CAST($3 AS BIGINT)) "
                      "AND ($4 = '' OR object_type = $4) AND ($5 = '' OR object_id = $5) "
                      "ORDER BY seq LIMIT $6",
                      (kura_db_param[]){KURA_DB_INT(a->after), KURA_DB_INT(a->from),
                                        KURA_DB_INT(a->to),
                                        KURA_DB_TEXT(a->object_type ? a->object_type : ""),
                                        KURA_DB_TEXT(a->object_id ? a->object_id : ""),
                                        KURA_DB_INT(a->limit + 1)},
                      6, err);
    if (rc != KURA_DB_OK)
        return rc;
    items = json_array();
    n = kura_db_result_rows(res);
    for (size_t i = 0; i < n && i < a->limit && items; i++) {
        if (json_array_append_new(items, kura_audit_row_json(res, i)) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    if (items) {
        json_t *cursor = json_null();
        if (n > a->limit) {
            char buf[24];
            snprintf(buf, sizeof buf, "%" PRId64, kura_audit_int(res, a->limit - 1, 0));
            cursor = json_string(buf);
        }
        a->page = json_pack("{so so}", "items", items, "next_cursor", cursor);
    }
    kura_db_result_free(res);
    return a->page ? KURA_DB_OK : kura_db_fail(err, KURA_DB_ENOMEM, "audit: out of memory");
}

/* A cursor is a seq this server issued: a decimal without sign or leading
 * zeros, at most 18 digits. */
static int parse_seq_cursor(const char *s, int64_t *out)
{
    int64_t v = 0;
    size_t n = strlen(s);
    if (n == 0 || n > 18 || (s[0] == '0' && n > 1))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int kura_audit_list(kura_store *st, int64_t from, int64_t to, const char *object_type,
                    const char *object_id, const char *cursor, size_t limit, json_t **page,
                    kura_problem *p)
{
    list_arg a = {0};
    kura_db_error err = {0};
    int rc;
    if (page)
        *page = NULL;
    if (!st || !page)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "audit: bad arguments");
    if (limit < 1 || limit > 500)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "limit must be 1..500");
    if (from < 0 || to < 0)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "times must not be negative");
    if (cursor && *cursor && parse_seq_cursor(cursor, &a.after) != 0)
        return kura_problem_set(p, KURA_PROBLEM_BAD_CURSOR, "the cursor is not an audit seq");
    a.from = from;
    a.to = to;
    a.object_type = object_type;
    a.object_id = object_id;
    a.limit = limit;
    rc = kura_store_read(st, list_fn, &a, &err);
    if (rc != KURA_DB_OK) {
        json_decref(a.page);
        return kura_problem_from_db(p, rc, &err, NULL);
    }
    *page = a.page;
    return 0;
}
