/*
 * server/webhook/webhook_endpoints.c — endpoints (create, get, list,
 * enable/disable, delete), the delivery log, redelivery. Each change to an
 * endpoint is an audit row with the endpoint's snapshot, in the same
 * transaction.
 */
#include "webhook/webhook_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/audit.h"

#define URL_MAX 2048
#define ENDPOINT_COLUMNS "id, url, events, enabled, created_at, secret"

/* The endpoint as the API shows it (never the secret). */
static json_t *endpoint_json(const kura_db_result *res, size_t row)
{
    return json_pack("{ss ss ss sb sI}", "id", kura_webhook_text(res, row, 0), "url",
                     kura_webhook_text(res, row, 1), "events", kura_webhook_text(res, row, 2),
                     "enabled", kura_webhook_int(res, row, 3) != 0, "created_at",
                     (json_int_t)kura_webhook_int(res, row, 4));
}

/* The audit snapshot: the API's JSON plus a fingerprint of the secret, so a
 * secret replaced behind the server's back is caught by `audit verify`
 * without the secret ever entering the audit log. */
static json_t *endpoint_snapshot(const kura_db_result *res, size_t row)
{
    json_t *o = endpoint_json(res, row);
    unsigned char h[32];
    char hex[65];
    const char *secret = kura_webhook_text(res, row, 5);
    crypto_hash_sha256(h, (const unsigned char *)secret, strlen(secret));
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    if (o && json_object_set_new(o, "secret_sha256", json_string(hex)) != 0) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

static int load_endpoint(kura_db *db, const char *id, kura_db_result **res, kura_db_error *err)
{
    int rc = kura_db_exec(db, res, "SELECT " ENDPOINT_COLUMNS " FROM webhook_endpoints WHERE id = $1",
                          (kura_db_param[]){KURA_DB_TEXT(id)}, 1, err);
    if (rc != KURA_DB_OK)
        return rc;
    if (kura_db_result_rows(*res) != 1) {
        kura_db_result_free(*res);
        *res = NULL;
        return kura_db_fail(err, KURA_DB_ENOTFOUND, "no webhook endpoint %s", id);
    }
    return KURA_DB_OK;
}

int kura_webhook_snapshot(kura_db *db, const char *endpoint_id, json_t **out, kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc;
    if (out)
        *out = NULL;
    if (!db || !endpoint_id || !out)
        return kura_db_fail(err, KURA_DB_EINVAL, "webhook: bad arguments");
    rc = load_endpoint(db, endpoint_id, &res, err);
    if (rc != KURA_DB_OK)
        return rc;
    *out = endpoint_snapshot(res, 0);
    kura_db_result_free(res);
    return *out ? KURA_DB_OK : kura_db_fail(err, KURA_DB_ENOMEM, "webhook: out of memory");
}

void kura_webhook_register_snapshots(void)
{
    kura_audit_register_snapshot("webhook", kura_webhook_snapshot);
}

/* Appends the audit row of a change to endpoint `id`: data is `extra` (may
 * be NULL; stolen) plus the endpoint's snapshot (null once deleted). */
static int audit_endpoint(kura_db *db, const char *actor, const char *action, const char *id,
                          json_t *extra, int deleted, int64_t now, kura_db_error *err)
{
    json_t *data = extra ? extra : json_object(), *snap = NULL;
    kura_audit_entry e;
    int rc = KURA_DB_OK;
    if (!data)
        return kura_db_fail(err, KURA_DB_ENOMEM, "webhook: out of memory");
    if (!deleted)
        rc = kura_webhook_snapshot(db, id, &snap, err);
    if (rc == KURA_DB_OK &&
        json_object_set_new(data, "snapshot", deleted ? json_null() : snap) != 0)
        rc = kura_db_fail(err, KURA_DB_ENOMEM, "webhook: out of memory");
    if (rc == KURA_DB_OK) {
        e.actor = actor;
        e.action = action;
        e.object_type = "webhook";
        e.object_id = id;
        e.data = data;
        rc = kura_audit_append(db, &e, now, NULL, NULL, err);
    }
    json_decref(data);
    return rc;
}

/* http:// or https://, a host, no spaces or control characters. */
static int url_valid(const char *url)
{
    size_t n, scheme;
    if (!url)
        return 0;
    n = strlen(url);
    if (n > URL_MAX)
        return 0;
    if (strncmp(url, "http://", 7) == 0)
        scheme = 7;
    else if (strncmp(url, "https://", 8) == 0)
        scheme = 8;
    else
        return 0;
    if (n == scheme || url[scheme] == '/' || url[scheme] == '?' || url[scheme] == '#')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7f)
            return 0;
    }
    return 1;
}

static int id_valid(const char *s)
{
    size_t n = 0;
    if (!s)
        return 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= KURA_DB_ID_SIZE - 1 ||
            !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return n > 0;
}

/* ---- create ---- */

typedef struct create_arg {
    const char *actor, *url, *events;
    int64_t now;
    char id[KURA_DB_ID_SIZE];
    char secret[65];
    kura_webhook_also_fn also;
    void *also_arg;
    json_t *out;
} create_arg;

static int create_fn(kura_db *db, void *arg, kura_db_error *err)
{
    create_arg *a = arg;
    kura_db_result *res = NULL;
    int rc;
    json_decref(a->out);
    a->out = NULL;
    rc = kura_db_exec(db, NULL,
                      "INSERT INTO webhook_endpoints (id, url, secret, events, enabled, created_at) "
                      "VALUES ($1, $2, $3, $4, 1, $5)",
                      (kura_db_param[]){KURA_DB_TEXT(a->id), KURA_DB_TEXT(a->url),
                                        KURA_DB_TEXT(a->secret), KURA_DB_TEXT(a->events),
                                        KURA_DB_INT(a->now)},
                      5, err);
    if (rc == KURA_DB_OK)
        rc = audit_endpoint(db, a->actor, "webhook.created", a->id, NULL, 0, a->now, err);
    if (rc == KURA_DB_OK)
        rc = load_endpoint(db, a->id, &res, err);
    if (rc != KURA_DB_OK)
        return rc;
    a->out = endpoint_json(res, 0);
    kura_db_result_free(res);
    if (!a->out || json_object_set_new(a->out, "secret", json_string(a->secret)) != 0)
        return kura_db_fail(err, KURA_DB_ENOMEM, "webhook: out of memory");
    return a->also ? a->also(db, a->out, a->also_arg, err) : KURA_DB_OK;
}

int kura_webhook_endpoint_create(kura_store *st, const char *actor, const char *url,
                                 const char *events, int64_t now, json_t **out, kura_problem *p)
{
    return kura_webhook_endpoint_create_also(st, actor, url, events, now, NULL, NULL, out, p);
}

int kura_webhook_endpoint_create_also(kura_store *st, const char *actor, const char *url,
                                      const char *events, int64_t now, kura_webhook_also_fn also,
                                      void *also_arg, json_t **out, kura_problem *p)
{
    create_arg a;
    unsigned char key[32];
    kura_db_error err = {0};
    int rc;
    if (out)
        *out = NULL;
    if (!st || !out || !actor || !*actor)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "webhook: bad arguments");
    if (!url_valid(url))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD,
                                    "url must be an http:// or https:// URL of at most %d "
                                    "characters without spaces",
                                    URL_MAX);
    if (!kura_webhook_patterns_valid(events))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD,
                                    "events must be space-separated patterns: \"*\", an event "
                                    "type, or a prefix ending \".*\"");
    if (sodium_init() < 0)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "webhook: no randomness");
    memset(&a, 0, sizeof a);
    a.actor = actor;
    a.url = url;
    a.events = events;
    a.now = now;
    a.also = also;
    a.also_arg = also_arg;
    kura_db_new_id(a.id, "wh");
    randombytes_buf(key, sizeof key);
    sodium_bin2hex(a.secret, sizeof a.secret, key, sizeof key);
    sodium_memzero(key, sizeof key);
    rc = kura_store_write(st, create_fn, &a, &err);
    sodium_memzero(a.secret, sizeof a.secret);
    if (rc != KURA_DB_OK) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, NULL);
    }
    *out = a.out;
    return 0;
}

/* ---- get, list ---- */

typedef struct get_arg {
    const char *id;
    json_t *out;
} get_arg;

static int get_fn(kura_db *db, void *arg, kura_db_error *err)
{
    get_arg *a = arg;
    kura_db_result *res = NULL;
    int rc = load_endpoint(db, a->id, &res, err);
    json_decref(a->out);
    a->out = NULL;
    if (rc != KURA_DB_OK)
        return rc;
    a->out = endpoint_json(res, 0);
    kura_db_result_free(res);
    return a->out ? KURA_DB_OK : kura_db_fail(err, KURA_DB_ENOMEM, "webhook: out of memory");
}

int kura_webhook_endpoint_get(kura_store *st, const char *id, json_t **out, kura_problem *p)
{
    get_arg a = {id, NULL};
    kura_db_error err = {0};
    int rc;
    if (out)
        *out = NULL;
    if (!st || !out)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "webhook: bad arguments");
    if (!id_valid(id))
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such webhook endpoint");
    rc = kura_store_read(st, get_fn, &a, &err);
    if (rc != KURA_DB_OK) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, NULL);
    }
    *out = a.out;
    return 0;
}

/* A generic page: SQL whose last two parameters are the cursor and the
 * limit + 1, rows turned into JSON by `row`, the cursor taken from column
 * `cursor_col`. */
typedef struct page_arg {
    const char *sql;
    kura_db_param params[6];
    size_t nparams;
    size_t limit;
    size_t cursor_col;
    json_t *(*row)(const kura_db_result *res, size_t row);
    const char *must_exist; /* an endpoint id that must exist, or NULL */
    json_t *page;
} page_arg;

static int page_fn(kura_db *db, void *arg, kura_db_error *err)
{
    page_arg *a = arg;
    kura_db_result *res = NULL;
    json_t *items;
    size_t n;
    int rc;
    json_decref(a->page);
    a->page = NULL;
    if (a->must_exist) {
        rc = load_endpoint(db, a->must_exist, &res, err);
        kura_db_result_free(res);
        res = NULL;
        if (rc != KURA_DB_OK)
            return rc;
    }
    rc = kura_db_exec(db, &res, a->sql, a->params, a->nparams, err);
    if (rc != KURA_DB_OK)
        return rc;
    n = kura_db_result_rows(res);
    items = json_array();
    for (size_t i = 0; items && i < n && i < a->limit; i++) {
        if (json_array_append_new(items, a->row(res, i)) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    if (items)
        a->page = json_pack("{so so}", "items", items, "next_cursor",
                            n > a->limit ? json_string(kura_webhook_text(res, a->limit - 1,
                                                                         a->cursor_col))
                                         : json_null());
    kura_db_result_free(res);
    return a->page ? KURA_DB_OK : kura_db_fail(err, KURA_DB_ENOMEM, "webhook: out of memory");
}

static int run_page(kura_store *st, page_arg *a, const char *cursor, size_t limit, json_t **page,
                    kura_problem *p)
{
    kura_db_error err = {0};
    int rc;
    if (page)
        *page = NULL;
    if (!st || !page)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "webhook: bad arguments");
    if (limit < 1 || limit > 500)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "limit must be 1..500");
    if (cursor && *cursor && !id_valid(cursor))
        return kura_problem_set(p, KURA_PROBLEM_BAD_CURSOR, "the cursor is not an id");
    a->limit = limit;
    a->params[a->nparams++] = KURA_DB_TEXT(cursor ? cursor : "");
    a->params[a->nparams++] = KURA_DB_INT(limit + 1);
    rc = kura_store_read(st, page_fn, a, &err);
    if (rc != KURA_DB_OK) {
        json_decref(a->page);
        return kura_problem_from_db(p, rc, &err, NULL);
    }
    *page = a->page;
    return 0;
}

int kura_webhook_endpoint_list(kura_store *st, const char *cursor, size_t limit, json_t **page,
                               kura_problem *p)
{
    page_arg a = {0};
    a.sql = "SELECT " ENDPOINT_COLUMNS " FROM webhook_endpoints WHERE id > $1 ORDER BY id LIMIT $2";
    a.row = endpoint_json;
    a.cursor_col = 0;
    return run_page(st, &a, cursor, limit, page, p);
}

static json_t *opt_int(const kura_db_result *res, size_t row, size_t col)
{
    return kura_db_result_text(res, row, col) ? json_integer(kura_webhook_int(res, row, col))
                                              : json_null();
}

static json_t *opt_text(const kura_db_result *res, size_t row, size_t col)
{
    const char *s = kura_db_result_text(res, row, col);
    return s ? json_string(s) : json_null();
}

#define DELIVERY_COLUMNS                                                                         \
    "d.endpoint_id, d.event_id, ev.type, d.state, d.attempts, d.next_attempt_at, "              \
    "d.last_status, d.last_error, d.delivered_at"

static json_t *delivery_json(const kura_db_result *res, size_t row)
{
    return json_pack("{ss ss ss ss sI sI so so so}", "endpoint_id", kura_webhook_text(res, row, 0),
                     "event_id", kura_webhook_text(res, row, 1), "event_type",
                     kura_webhook_text(res, row, 2), "state", kura_webhook_text(res, row, 3),
                     "attempts", (json_int_t)kura_webhook_int(res, row, 4), "next_attempt_at",
                     (json_int_t)kura_webhook_int(res, row, 5), "last_status",
                     opt_int(res, row, 6), "last_error", opt_text(res, row, 7), "delivered_at",
                     opt_int(res, row, 8));
}

int kura_webhook_delivery_list(kura_store *st, const char *endpoint_id, const char *event_id,
                               const char *cursor, size_t limit, json_t **page, kura_problem *p)
{
    page_arg a = {0};
    if (page)
        *page = NULL;
    if (!id_valid(endpoint_id) || (event_id && *event_id && !id_valid(event_id)))
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such webhook endpoint or event");
    a.sql = "SELECT " DELIVERY_COLUMNS " FROM webhook_deliveries d "
            "JOIN webhook_events ev ON ev.id = d.event_id "
            "WHERE d.endpoint_id = $1 AND ($2 = '' OR d.event_id = $2) AND d.event_id > $3 "
            "ORDER BY d.event_id LIMIT $4";
    a.params[0] = KURA_DB_TEXT(endpoint_id);
    a.params[1] = KURA_DB_TEXT(event_id ? event_id : "");
    a.nparams = 2;
    a.row = delivery_json;
    a.cursor_col = 1;
    a.must_exist = endpoint_id;
    return run_page(st, &a, cursor, limit, page, p);
}

static json_t *attempt_json(const kura_db_result *res, size_t row)
{
    return json_pack("{ss ss ss sI so so sI}", "id", kura_webhook_text(res, row, 0),
                     "endpoint_id", kura_webhook_text(res, row, 1), "event_id",
                     kura_webhook_text(res, row, 2), "at", (json_int_t)kura_webhook_int(res, row, 3),
                     "status", opt_int(res, row, 4), "error", opt_text(res, row, 5),
                     "duration_ms", (json_int_t)kura_webhook_int(res, row, 6));
}

int kura_webhook_attempt_list(kura_store *st, const char *endpoint_id, const char *event_id,
                              const char *cursor, size_t limit, json_t **page, kura_problem *p)
{
    page_arg a = {0};
    if (page)
        *page = NULL;
    if (!id_valid(endpoint_id) || (event_id && *event_id && !id_valid(event_id)))
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such webhook endpoint or event");
    a.sql = "SELECT id, endpoint_id, event_id, at, status, error, duration_ms "
            "FROM webhook_attempts WHERE endpoint_id = $1 AND ($2 = '' OR event_id = $2) "
            "AND id > $3 ORDER BY id LIMIT $4";
    a.params[0] = KURA_DB_TEXT(endpoint_id);
    a.params[1] = KURA_DB_TEXT(event_id ? event_id : "");
    a.nparams = 2;
    a.row = attempt_json;
    a.cursor_col = 0;
    a.must_exist = endpoint_id;
    return run_page(st, &a, cursor, limit, page, p);
}

/* ---- events ---- */

static int event_fn(kura_db *db, void *arg, kura_db_error *err)
{
    get_arg *a = arg;
    kura_db_result *res = NULL;
    json_error_t jerr;
    int rc;
    json_decref(a->out);
    a->out = NULL;
    rc = kura_db_exec(db, &res,
                      "SELECT id, type, object_id, created_at, audit_seq, payload "
                      "FROM webhook_events WHERE id = $1",
                      (kura_db_param[]){KURA_DB_TEXT(a->id)}, 1, err);
    if (rc != KURA_DB_OK)
        return rc;
    if (kura_db_result_rows(res) != 1) {
        kura_db_result_free(res);
        return kura_db_fail(err, KURA_DB_ENOTFOUND, "no webhook event %s", a->id);
    }
    a->out = json_pack("{ss ss ss sI sI so}", "id", kura_webhook_text(res, 0, 0), "type",
                       kura_webhook_text(res, 0, 1), "object_id", kura_webhook_text(res, 0, 2),
                       "created_at", (json_int_t)kura_webhook_int(res, 0, 3), "audit_seq",
                       (json_int_t)kura_webhook_int(res, 0, 4), "payload",
                       json_loads(kura_webhook_text(res, 0, 5), 0, &jerr));
    kura_db_result_free(res);
    return a->out ? KURA_DB_OK : kura_db_fail(err, KURA_DB_ENOMEM, "webhook: out of memory");
}

int kura_webhook_event_get(kura_store *st, const char *event_id, json_t **out, kura_problem *p)
{
    get_arg a = {event_id, NULL};
    kura_db_error err = {0};
    int rc;
    if (out)
        *out = NULL;
    if (!st || !out)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "webhook: bad arguments");
    if (!id_valid(event_id))
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such webhook event");
    rc = kura_store_read(st, event_fn, &a, &err);
    if (rc != KURA_DB_OK) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, NULL);
    }
    *out = a.out;
    return 0;
}

/* ---- enable, disable, delete ---- */

typedef struct change_arg {
    const char *actor, *id, *event_id;
    int enabled;
    int64_t now;
    json_t *out;
} change_arg;

static int enable_fn(kura_db *db, void *arg, kura_db_error *err)
{
    change_arg *a = arg;
    kura_db_result *res = NULL;
    int rc;
    json_decref(a->out);
    a->out = NULL;
    rc = kura_db_exec(db, &res, "UPDATE webhook_endpoints SET enabled = $1 WHERE id = $2",
                      (kura_db_param[]){KURA_DB_INT(a->enabled ? 1 : 0), KURA_DB_TEXT(a->id)}, 2,
                      err);
    if (rc != KURA_DB_OK)
        return rc;
    if (kura_db_result_changes(res) != 1)
        rc = kura_db_fail(err, KURA_DB_ENOTFOUND, "no webhook endpoint %s", a->id);
    kura_db_result_free(res);
    res = NULL;
    if (rc == KURA_DB_OK)
        rc = audit_endpoint(db, a->actor, a->enabled ? "webhook.enabled" : "webhook.disabled",
                            a->id, NULL, 0, a->now, err);
    if (rc == KURA_DB_OK)
        rc = load_endpoint(db, a->id, &res, err);
    if (rc != KURA_DB_OK)
        return rc;
    a->out = endpoint_json(res, 0);
    kura_db_result_free(res);
    return a->out ? KURA_DB_OK : kura_db_fail(err, KURA_DB_ENOMEM, "webhook: out of memory");
}

int kura_webhook_endpoint_set_enabled(kura_store *st, const char *actor, const char *id,
                                      int enabled, int64_t now, json_t **out, kura_problem *p)
{
    change_arg a = {actor, id, NULL, enabled, now, NULL};
    kura_db_error err = {0};
    int rc;
    if (out)
        *out = NULL;
    if (!st || !actor || !*actor)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "webhook: bad arguments");
    if (!id_valid(id))
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such webhook endpoint");
    rc = kura_store_write(st, enable_fn, &a, &err);
    if (rc != KURA_DB_OK) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, NULL);
    }
    if (out)
        *out = a.out;
    else
        json_decref(a.out);
    return 0;
}

static int delete_fn(kura_db *db, void *arg, kura_db_error *err)
{
    change_arg *a = arg;
    kura_db_result *res = NULL;
    kura_db_param id = KURA_DB_TEXT(a->id);
    int rc = kura_db_exec(db, NULL, "DELETE FROM webhook_attempts WHERE endpoint_id = $1", &id, 1,
                          err);
    if (rc == KURA_DB_OK)
        rc = kura_db_exec(db, NULL, "DELETE FROM webhook_deliveries WHERE endpoint_id = $1", &id,
                          1, err);
    if (rc == KURA_DB_OK)
        rc = kura_db_exec(db, &res, "DELETE FROM webhook_endpoints WHERE id = $1", &id, 1, err);
    if (rc == KURA_DB_OK && kura_db_result_changes(res) != 1)
        rc = kura_db_fail(err, KURA_DB_ENOTFOUND, "no webhook endpoint %s", a->id);
    kura_db_result_free(res);
    if (rc == KURA_DB_OK) {
        char lease[KURA_DB_ID_SIZE + 16];
        snprintf(lease, sizeof lease, "webhook:%s", a->id);
        rc = kura_db_exec(db, NULL, "DELETE FROM leases WHERE name = $1",
                          (kura_db_param[]){KURA_DB_TEXT(lease)}, 1, err);
    }
    if (rc == KURA_DB_OK)
        rc = audit_endpoint(db, a->actor, "webhook.deleted", a->id, NULL, 1, a->now, err);
    return rc;
}

int kura_webhook_endpoint_delete(kura_store *st, const char *actor, const char *id, int64_t now,
                                 kura_problem *p)
{
    change_arg a = {actor, id, NULL, 0, now, NULL};
    kura_db_error err = {0};
    int rc;
    if (!st || !actor || !*actor)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "webhook: bad arguments");
    if (!id_valid(id))
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such webhook endpoint");
    rc = kura_store_write(st, delete_fn, &a, &err);
    return rc == KURA_DB_OK ? 0 : kura_problem_from_db(p, rc, &err, NULL);
}

/* ---- redeliver ---- */

static int redeliver_fn(kura_db *db, void *arg, kura_db_error *err)
{
    change_arg *a = arg;
    kura_db_result *res = NULL;
    int64_t seq;
    int rc;
    json_decref(a->out);
    a->out = NULL;
    rc = load_endpoint(db, a->id, &res, err);
    kura_db_result_free(res);
    res = NULL;
    if (rc != KURA_DB_OK)
        return rc;
    rc = kura_db_exec(db, &res, "SELECT audit_seq FROM webhook_events WHERE id = $1",
                      (kura_db_param[]){KURA_DB_TEXT(a->event_id)}, 1, err);
    if (rc != KURA_DB_OK)
        return rc;
    if (kura_db_result_rows(res) != 1) {
        kura_db_result_free(res);
        return kura_db_fail(err, KURA_DB_ENOTFOUND, "no webhook event %s", a->event_id);
    }
    seq = kura_webhook_int(res, 0, 0);
    kura_db_result_free(res);
    res = NULL;
    rc = kura_db_exec(db, NULL,
                      "INSERT INTO webhook_deliveries (endpoint_id, event_id, state, attempts, "
                      "next_attempt_at, next_attempt_ms, event_seq) "
                      "VALUES ($1, $2, 'pending', 0, $3, $4, $5) "
                      "ON CONFLICT (endpoint_id, event_id) DO UPDATE SET state = 'pending', "
                      "attempts = 0, next_attempt_at = excluded.next_attempt_at, "
                      "next_attempt_ms = excluded.next_attempt_ms, delivered_at = NULL",
                      (kura_db_param[]){KURA_DB_TEXT(a->id), KURA_DB_TEXT(a->event_id),
                                        KURA_DB_INT(a->now), KURA_DB_INT(a->now * 1000),
                                        KURA_DB_INT(seq)},
                      5, err);
    if (rc == KURA_DB_OK)
        rc = audit_endpoint(db, a->actor, "webhook.redelivered", a->id,
                            json_pack("{ss}", "event_id", a->event_id), 0, a->now, err);
    if (rc == KURA_DB_OK)
        rc = kura_db_exec(db, &res,
                          "SELECT " DELIVERY_COLUMNS " FROM webhook_deliveries d "
                          "JOIN webhook_events ev ON ev.id = d.event_id "
                          "WHERE d.endpoint_id = $1 AND d.event_id = $2",
                          (kura_db_param[]){KURA_DB_TEXT(a->id), KURA_DB_TEXT(a->event_id)}, 2,
                          err);
    if (rc != KURA_DB_OK)
        return rc;
    if (kura_db_result_rows(res) == 1)
        a->out = delivery_json(res, 0);
    kura_db_result_free(res);
    return a->out ? KURA_DB_OK : kura_db_fail(err, KURA_DB_ENOMEM, "webhook: out of memory");
}

int kura_webhook_redeliver(kura_store *st, const char *actor, const char *endpoint_id,
                           const char *event_id, int64_t now, json_t **out, kura_problem *p)
{
    change_arg a = {actor, endpoint_id, event_id, 0, now, NULL};
    kura_db_error err = {0};
    int rc;
    if (out)
        *out = NULL;
    if (!st || !actor || !*actor)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "webhook: bad arguments");
    if (!id_valid(endpoint_id) || !id_valid(event_id))
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such webhook endpoint or event");
    rc = kura_store_write(st, redeliver_fn, &a, &err);
    if (rc != KURA_DB_OK) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, NULL);
    }
    if (out)
        *out = a.out;
    else
        json_decref(a.out);
    return 0;
}
