/*
 * tests/server/test_server_webhook.c — webhooks on both backends: patterns;
 * signatures; the outbox queues one delivery per matching enabled endpoint;
 * the worker delivers to a real HTTP receiver on 127.0.0.1 signed, in order
 * per endpoint under failures, with back-off, logging every attempt, with
 * stable event ids and bytes; failed after max attempts; redeliver; an
 * unreachable endpoint; two workers sharing endpoints through leases;
 * endpoints audited and caught when edited behind the server's back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "audit/audit.h"
#include "server_testutil.h"
#include "webhook/webhook.h"
#include "webhook_receiver.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- patterns and signatures (no database) ---- */

static void test_patterns(void **state)
{
    (void)state;
    assert_true(kura_webhook_patterns_match("transfer.*", "transfer.approved"));
    assert_false(kura_webhook_patterns_match("transfer.*", "transfer"));
    assert_false(kura_webhook_patterns_match("transfer.*", "transfers.approved"));
    assert_false(kura_webhook_patterns_match("transfer.*", "deposit.confirmed"));
    assert_true(kura_webhook_patterns_match("deposit.confirmed transfer.signed", "transfer.signed"));
    assert_false(kura_webhook_patterns_match("transfer.signed", "transfer.signed2"));
    assert_false(kura_webhook_patterns_match("transfer.signed", "transfer.sign"));
    assert_true(kura_webhook_patterns_match("*", "anything.at_all"));
    assert_false(kura_webhook_patterns_match("", "transfer.signed"));

    assert_true(kura_webhook_patterns_valid("transfer.* deposit.confirmed"));
    assert_true(kura_webhook_patterns_valid("*"));
    assert_false(kura_webhook_patterns_valid(""));
    assert_false(kura_webhook_patterns_valid("   "));
    assert_false(kura_webhook_patterns_valid("transfer*"));
    assert_false(kura_webhook_patterns_valid("Transfer.*"));
    assert_false(kura_webhook_patterns_valid(".*"));
    assert_false(kura_webhook_patterns_valid("transfer.*;drop"));
    assert_false(kura_webhook_patterns_valid("a b c d e f g h i j k l m n o p q"));
}

static void test_signatures(void **state)
{
    (void)state;
    const char *secret = "5f3c0e9a6b1d2c4e8f7a9b0c1d2e3f405f3c0e9a6b1d2c4e8f7a9b0c1d2e3f40";
    const char *body = "{\"id\":\"ev_1\"}";
    char sig[KURA_WEBHOOK_SIGNATURE_MAX], two[256];
    size_t len = strlen(body);

    assert_int_equal(kura_webhook_sign(sig, secret, 1700000000, body, len), 0);
    assert_int_equal(strncmp(sig, "t=1700000000,v1=", 16), 0);
    assert_int_equal(strlen(sig), 16 + 64);
    assert_int_equal(kura_webhook_verify_signature(secret, sig, body, len, 1700000100, 300), 0);
    /* The body, the secret and the time are all covered. */
    assert_int_equal(kura_webhook_verify_signature(secret, sig, "{\"id\":\"ev_2\"}", len, 1700000000, 300),
                     KURA_WEBHOOK_SIG_MISMATCH);
    assert_int_equal(kura_webhook_verify_signature("other", sig, body, len, 1700000000, 300),
                     KURA_WEBHOOK_SIG_MISMATCH);
    {
        char moved[KURA_WEBHOOK_SIGNATURE_MAX];
        snprintf(moved, sizeof moved, "t=1700000001%s", sig + 12);
        assert_int_equal(kura_webhook_verify_signature(secret, moved, body, len, 1700000000, 300),
                         KURA_WEBHOOK_SIG_MISMATCH);
    }
    assert_int_equal(kura_webhook_verify_signature(secret, sig, body, len, 1700000301, 300),
                     KURA_WEBHOOK_SIG_STALE);
    assert_int_equal(kura_webhook_verify_signature(secret, sig, body, len, 1699999699, 300),
                     KURA_WEBHOOK_SIG_STALE);
    /* Several v1 values (a rotated secret), unknown schemes ignored. */
    snprintf(two, sizeof two, "t=1700000000,v0=zz,v1=%064d,%s", 0, sig + 13);
    assert_int_equal(kura_webhook_verify_signature(secret, two, body, len, 1700000000, 300), 0);
    assert_int_equal(kura_webhook_verify_signature(secret, "", body, len, 1700000000, 300),
                     KURA_WEBHOOK_SIG_MALFORMED);
    assert_int_equal(kura_webhook_verify_signature(secret, "t=1700000000", body, len, 1700000000, 300),
                     KURA_WEBHOOK_SIG_MALFORMED);
    assert_int_equal(kura_webhook_verify_signature(secret, "v1=ab,t=1", body, len, 1, 300),
                     KURA_WEBHOOK_SIG_MALFORMED);
    assert_int_equal(kura_webhook_verify_signature(secret, "t=x,v1=ab", body, len, 1, 300),
                     KURA_WEBHOOK_SIG_MALFORMED);
    assert_int_equal(kura_webhook_verify_signature(secret, "t=1700000000,v1=ab", body, len, 1700000000, 300),
                     KURA_WEBHOOK_SIG_MISMATCH);
}

/* ---- helpers on a store ---- */

typedef struct emit_arg {
    const char *type;
    const char *object_id;
    int n;
    char event_id[KURA_DB_ID_SIZE];
    size_t deliveries;
    int64_t seq;
    char head[65];
} emit_arg;

/* What the domain does: a change's audit row and its event in one
 * transaction. */
static int emit_fn(kura_db *db, void *arg, kura_db_error *err)
{
    emit_arg *a = arg;
    json_t *obj = json_pack("{ss si ss}", "id", a->object_id, "n", a->n, "state", "approved");
    json_t *data = json_pack("{sO}", "snapshot", obj);
    kura_audit_entry e = {"us_test", a->type, "transfer", a->object_id, data};
    int rc = kura_audit_append(db, &e, time(NULL), &a->seq, a->head, err);
    if (rc == KURA_DB_OK)
        rc = kura_webhook_emit_ex(db, a->type, a->object_id, obj, a->seq, a->head, time(NULL),
                                  a->event_id, &a->deliveries, err);
    json_decref(data);
    json_decref(obj);
    return rc;
}

static emit_arg emit(kura_store *st, const char *type, int n)
{
    emit_arg a = {type, "tr_1", n, "", 0, 0, ""};
    kura_db_error err = {0};
    if (kura_store_write(st, emit_fn, &a, &err) != KURA_DB_OK)
        fail_msg("emit: %s", err.message);
    return a;
}

static json_t *create_endpoint(kura_store *st, const char *url, const char *events)
{
    json_t *ep = NULL;
    kura_problem p = {0};
    if (kura_webhook_endpoint_create(st, "us_admin", url, events, time(NULL), &ep, &p) != 0)
        fail_msg("create endpoint: %s", p.message);
    return ep;
}

static const char *sval(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    assert_non_null(s);
    return s;
}

static json_t *deliveries(kura_store *st, const char *endpoint_id, const char *event_id)
{
    json_t *page = NULL;
    kura_problem p = {0};
    if (kura_webhook_delivery_list(st, endpoint_id, event_id, NULL, 500, &page, &p) != 0)
        fail_msg("deliveries: %s", p.message);
    return page;
}

static json_t *attempts(kura_store *st, const char *endpoint_id, const char *event_id)
{
    json_t *page = NULL;
    kura_problem p = {0};
    if (kura_webhook_attempt_list(st, endpoint_id, event_id, NULL, 500, &page, &p) != 0)
        fail_msg("attempts: %s", p.message);
    return page;
}

/* Waits (up to 8 s) until no delivery of the endpoint is pending. */
static void wait_settled(kura_store *st, const char *endpoint_id, size_t expected)
{
    for (int i = 0; i < 800; i++) {
        json_t *page = deliveries(st, endpoint_id, NULL);
        json_t *items = json_object_get(page, "items"), *d;
        size_t k, pending = 0;
        json_array_foreach(items, k, d) {
            if (strcmp(sval(d, "state"), "pending") == 0)
                pending++;
        }
        k = json_array_size(items);
        json_decref(page);
        if (k == expected && pending == 0)
            return;
        sleep_ms(10);
    }
    fail_msg("deliveries of %s did not settle", endpoint_id);
}

static const char *state_of(kura_store *st, const char *endpoint_id, const char *event_id,
                            char out[16], int64_t *attempts_out)
{
    json_t *page = deliveries(st, endpoint_id, event_id);
    json_t *d = json_array_get(json_object_get(page, "items"), 0);
    assert_non_null(d);
    snprintf(out, 16, "%s", sval(d, "state"));
    if (attempts_out)
        *attempts_out = json_integer_value(json_object_get(d, "attempts"));
    json_decref(page);
    return out;
}

/* ---- the outbox ---- */

static void test_emit_matches_endpoints(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    json_t *all = create_endpoint(st, "https://example.com/all", "*");
    json_t *tr = create_endpoint(st, "https://example.com/tr", "transfer.*");
    json_t *one = create_endpoint(st, "http://example.com/one", "transfer.approved deposit.confirmed");
    json_t *dep = create_endpoint(st, "https://example.com/dep", "deposit.*");
    json_t *off = create_endpoint(st, "https://example.com/off", "*");
    json_t *page, *ev = NULL, *payload;
    kura_problem p = {0};
    emit_arg a;

    assert_int_equal(kura_webhook_endpoint_set_enabled(st, "us_admin", sval(off, "id"), 0,
                                                       time(NULL), NULL, &p),
                     0);
    a = emit(st, "transfer.approved", 1);
    assert_int_equal(a.deliveries, 3);
    assert_int_equal(emit(st, "transfer.signed", 2).deliveries, 2);
    assert_int_equal(emit(st, "deposit.confirmed", 3).deliveries, 3);
    assert_int_equal(emit(st, "deposit.seen", 4).deliveries, 2);

    page = deliveries(st, sval(tr, "id"), NULL);
    assert_int_equal(json_array_size(json_object_get(page, "items")), 2);
    json_decref(page);
    page = deliveries(st, sval(one, "id"), NULL);
    assert_int_equal(json_array_size(json_object_get(page, "items")), 2);
    json_decref(page);
    page = deliveries(st, sval(off, "id"), NULL);
    assert_int_equal(json_array_size(json_object_get(page, "items")), 0);
    json_decref(page);

    /* The event's payload: id, type, time, data and the audit head. */
    assert_int_equal(kura_webhook_event_get(st, a.event_id, &ev, &p), 0);
    payload = json_object_get(ev, "payload");
    assert_string_equal(sval(payload, "id"), a.event_id);
    assert_string_equal(sval(payload, "type"), "transfer.approved");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(payload, "data"), "n")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(payload, "audit"), "seq")),
                     a.seq);
    assert_string_equal(sval(json_object_get(payload, "audit"), "head"), a.head);
    json_decref(ev);
    json_decref(all);
    json_decref(tr);
    json_decref(one);
    json_decref(dep);
    json_decref(off);
    kura_store_close(st);
}

/* ---- delivery ---- */

static kura_webhook_worker *start_worker(kura_store *st, int64_t max_attempts, int64_t base_ms,
                                         const char *holder)
{
    kura_webhook_worker *w = NULL;
    kura_webhook_worker_options o = {0};
    kura_db_error err = {0};
    o.poll_interval_ms = 10;
    o.max_attempts = max_attempts;
    o.backoff_base_ms = base_ms;
    o.backoff_max_ms = 10000;
    o.timeout_ms = 2000;
    o.holder = holder;
    if (kura_webhook_worker_start(&w, st, &o, &err) != KURA_DB_OK)
        fail_msg("worker: %s", err.message);
    return w;
}

static void test_delivery_in_order_under_failures(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    receiver r;
    json_t *ep, *page, *items;
    emit_arg e[3];
    kura_webhook_worker *w;
    char st_buf[16];
    int64_t n_att = 0;
    char secret[65];

    receiver_start(&r);
    receiver_set(&r, 2, 0, 500); /* 500, 500, then 200 */
    ep = create_endpoint(st, r.url, "transfer.*");
    snprintf(secret, sizeof secret, "%s", sval(ep, "secret"));
    assert_int_equal(strlen(secret), 64);
    e[0] = emit(st, "transfer.approved", 1);
    e[1] = emit(st, "transfer.signed", 2);
    e[2] = emit(st, "transfer.broadcast", 3);

    w = start_worker(st, 5, 100, NULL);
    wait_settled(st, sval(ep, "id"), 3);
    kura_webhook_worker_stop(w);

    assert_int_equal(receiver_count(&r), 5);
    /* In order: the first event three times (two failures), then the rest. */
    assert_string_equal(r.req[0].event_id, e[0].event_id);
    assert_string_equal(r.req[1].event_id, e[0].event_id);
    assert_string_equal(r.req[2].event_id, e[0].event_id);
    assert_string_equal(r.req[3].event_id, e[1].event_id);
    assert_string_equal(r.req[4].event_id, e[2].event_id);
    /* Back-off: at least base, then at least 2 * base. */
    assert_true(r.req[1].mono_ms - r.req[0].mono_ms >= 100);
    assert_true(r.req[2].mono_ms - r.req[1].mono_ms >= 200);
    for (size_t i = 0; i < 5; i++) {
        emit_arg *ev = &e[i < 3 ? 0 : i - 2];
        char head[128];
        json_error_t jerr;
        json_t *body = json_loads(r.req[i].body, 0, &jerr);
        assert_non_null(body);
        assert_string_equal(r.req[i].content_type, "application/json");
        /* Signed over the exact bytes received, with the endpoint's secret. */
        assert_int_equal(kura_webhook_verify_signature(secret, r.req[i].signature, r.req[i].body,
                                                       r.req[i].len, time(NULL), 300),
                         0);
        snprintf(head, sizeof head, "%lld:%s", (long long)ev->seq, ev->head);
        assert_string_equal(r.req[i].audit_head, head);
        assert_string_equal(sval(body, "id"), ev->event_id);
        json_decref(body);
    }
    /* The same bytes on every retry. */
    assert_string_equal(r.req[0].body, r.req[2].body);

    assert_string_equal(state_of(st, sval(ep, "id"), e[0].event_id, st_buf, &n_att), "delivered");
    assert_int_equal(n_att, 3);
    page = attempts(st, sval(ep, "id"), e[0].event_id);
    items = json_object_get(page, "items");
    assert_int_equal(json_array_size(items), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 0), "status")), 500);
    assert_string_equal(sval(json_array_get(items, 0), "error"), "HTTP 500");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 2), "status")), 200);
    assert_true(json_is_null(json_object_get(json_array_get(items, 2), "error")));
    json_decref(page);
    page = attempts(st, sval(ep, "id"), NULL);
    assert_int_equal(json_array_size(json_object_get(page, "items")), 5);
    json_decref(page);

    json_decref(ep);
    receiver_stop(&r);
    kura_store_close(st);
}

static void test_failed_after_max_attempts_then_redeliver(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    receiver r;
    json_t *ep, *out = NULL;
    emit_arg e1, e2;
    kura_webhook_worker *w;
    kura_problem p = {0};
    char s[16];
    int64_t n = 0;

    receiver_start(&r);
    receiver_set(&r, 0, 1, 503);
    ep = create_endpoint(st, r.url, "*");
    e1 = emit(st, "transfer.approved", 1);
    e2 = emit(st, "transfer.signed", 2);
    w = start_worker(st, 3, 20, NULL);
    wait_settled(st, sval(ep, "id"), 2);
    assert_string_equal(state_of(st, sval(ep, "id"), e1.event_id, s, &n), "failed");
    assert_int_equal(n, 3);
    assert_string_equal(state_of(st, sval(ep, "id"), e2.event_id, s, &n), "failed");
    assert_int_equal(n, 3);
    /* e2 waited until e1 had failed for good. */
    assert_int_equal(receiver_count(&r), 6);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(r.req[i].event_id, e1.event_id);
    for (size_t i = 3; i < 6; i++)
        assert_string_equal(r.req[i].event_id, e2.event_id);

    /* The receiver is fixed; e1 is sent again on request, same id. */
    receiver_set(&r, 0, 0, 0);
    assert_int_equal(kura_webhook_redeliver(st, "us_admin", sval(ep, "id"), e1.event_id,
                                            time(NULL), &out, &p),
                     0);
    assert_string_equal(sval(out, "state"), "pending");
    assert_int_equal(json_integer_value(json_object_get(out, "attempts")), 0);
    json_decref(out);
    kura_webhook_worker_wake(w);
    wait_settled(st, sval(ep, "id"), 2);
    kura_webhook_worker_stop(w);
    assert_string_equal(state_of(st, sval(ep, "id"), e1.event_id, s, &n), "delivered");
    assert_string_equal(state_of(st, sval(ep, "id"), e2.event_id, s, NULL), "failed");
    assert_int_equal(receiver_count(&r), 7);
    assert_string_equal(r.req[6].event_id, e1.event_id);
    assert_string_equal(r.req[6].body, r.req[0].body);
    {
        json_t *page = attempts(st, sval(ep, "id"), e1.event_id);
        assert_int_equal(json_array_size(json_object_get(page, "items")), 4);
        json_decref(page);
    }
    /* Unknown endpoint or event. */
    assert_int_equal(kura_webhook_redeliver(st, "us_admin", sval(ep, "id"), "ev_nosuch",
                                            time(NULL), NULL, &p),
                     KURA_PROBLEM_NOT_FOUND);
    assert_int_equal(kura_webhook_redeliver(st, "us_admin", "wh_nosuch", e1.event_id, time(NULL),
                                            NULL, &p),
                     KURA_PROBLEM_NOT_FOUND);
    json_decref(ep);
    receiver_stop(&r);
    kura_store_close(st);
}

static void test_unreachable_endpoint(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    receiver r;
    char url[96];
    json_t *ep, *page, *a;
    kura_webhook_worker_options o = {0};
    kura_db_error err = {0};
    size_t attempted = 0;
    emit_arg e;
    char s[16];

    /* A port that was just free: nothing listens there now. */
    receiver_start(&r);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/gone", (unsigned)r.port);
    receiver_stop(&r);
    ep = create_endpoint(st, url, "*");
    e = emit(st, "transfer.approved", 1);
    o.max_attempts = 1;
    o.timeout_ms = 1000;
    assert_int_equal(kura_webhook_deliver_due(st, &o, (int64_t)time(NULL) * 1000 + 1000,
                                              &attempted, &err),
                     KURA_DB_OK);
    assert_int_equal(attempted, 1);
    assert_string_equal(state_of(st, sval(ep, "id"), e.event_id, s, NULL), "failed");
    page = attempts(st, sval(ep, "id"), NULL);
    a = json_array_get(json_object_get(page, "items"), 0);
    assert_true(json_is_null(json_object_get(a, "status")));
    assert_true(strlen(sval(a, "error")) > 0);
    json_decref(page);
    /* Nothing more is due. */
    assert_int_equal(kura_webhook_deliver_due(st, &o, (int64_t)time(NULL) * 1000 + 1000,
                                              &attempted, &err),
                     KURA_DB_OK);
    assert_int_equal(attempted, 0);
    json_decref(ep);
    kura_store_close(st);
}

static void test_two_workers_share_through_leases(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    receiver r;
    json_t *ep;
    emit_arg e[12];
    kura_webhook_worker *w1, *w2;

    receiver_start(&r);
    ep = create_endpoint(st, r.url, "transfer.*");
    for (int i = 0; i < 12; i++)
        e[i] = emit(st, "transfer.approved", i);
    w1 = start_worker(st, 5, 50, "server-a");
    w2 = start_worker(st, 5, 50, "server-b");
    wait_settled(st, sval(ep, "id"), 12);
    kura_webhook_worker_stop(w1);
    kura_webhook_worker_stop(w2);
    /* Each event exactly once, in order, though two workers raced for them. */
    assert_int_equal(receiver_count(&r), 12);
    for (int i = 0; i < 12; i++)
        assert_string_equal(r.req[i].event_id, e[i].event_id);
    json_decref(ep);
    receiver_stop(&r);
    kura_store_close(st);
}

typedef struct sql_arg {
    const char *sql;
    kura_db_result *res;
} sql_arg;

static int sql_fn(kura_db *db, void *arg, kura_db_error *err)
{
    sql_arg *a = arg;
    return kura_db_exec(db, &a->res, a->sql, NULL, 0, err);
}

static char *dispatcher(kura_store *st)
{
    sql_arg a = {"SELECT holder FROM leases WHERE name = 'webhook-dispatcher'", NULL};
    kura_db_error err;
    char *h;
    assert_int_equal(kura_store_read(st, sql_fn, &a, &err), 0);
    assert_int_equal(kura_db_result_rows(a.res), 1);
    h = strdup(kura_db_result_text(a.res, 0, 0));
    kura_db_result_free(a.res);
    return h;
}

/* One dispatcher is elected; when it goes (stopped, or on PostgreSQL its
 * session cut as by a lost connection) the other takes over, and every
 * event still goes out once, in order. */
static void test_dispatcher_failover(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    receiver r;
    json_t *ep;
    emit_arg e[12];
    kura_webhook_worker *w1, *w2;
    char *first;

    receiver_start(&r);
    ep = create_endpoint(st, r.url, "transfer.*");
    w1 = start_worker(st, 5, 50, "server-a");
    w2 = start_worker(st, 5, 50, "server-b");
    for (int i = 0; i < 6; i++)
        e[i] = emit(st, "transfer.approved", i);
    wait_settled(st, sval(ep, "id"), 6);
    first = dispatcher(st);
    if (kura_test_db_is_postgres()) {
        sql_arg a = {"SELECT pg_terminate_backend(pid) FROM pg_locks "
                     "WHERE locktype = 'advisory' AND pid <> pg_backend_pid()",
                     NULL};
        kura_db_error err;
        assert_int_equal(kura_store_write(st, sql_fn, &a, &err), 0);
        assert_int_equal(kura_db_result_rows(a.res), 1);
        kura_db_result_free(a.res);
    } else if (strcmp(first, "server-a") == 0) {
        kura_webhook_worker_stop(w1);
        w1 = NULL;
    } else {
        kura_webhook_worker_stop(w2);
        w2 = NULL;
    }
    for (int i = 6; i < 12; i++)
        e[i] = emit(st, "transfer.approved", i);
    wait_settled(st, sval(ep, "id"), 12);
    if (!kura_test_db_is_postgres()) {
        char *second = dispatcher(st);
        assert_string_not_equal(first, second);
        free(second);
    }
    kura_webhook_worker_stop(w1);
    kura_webhook_worker_stop(w2);
    assert_int_equal(receiver_count(&r), 12);
    for (int i = 0; i < 12; i++)
        assert_string_equal(r.req[i].event_id, e[i].event_id);
    free(first);
    json_decref(ep);
    receiver_stop(&r);
    kura_store_close(st);
}

static void test_endpoints_do_not_wait_for_each_other(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    receiver good, bad;
    json_t *g, *b;
    kura_webhook_worker *w;
    char s[16];
    int64_t n = 0;
    emit_arg e[5];

    receiver_start(&good);
    receiver_start(&bad);
    receiver_set(&bad, 0, 1, 500);
    g = create_endpoint(st, good.url, "*");
    b = create_endpoint(st, bad.url, "*");
    for (int i = 0; i < 5; i++)
        e[i] = emit(st, "transfer.approved", i);
    /* The bad endpoint's first event backs off for a minute; the good one
     * gets all five meanwhile, and the bad one's later events wait. */
    w = start_worker(st, 5, 60000, NULL);
    wait_settled(st, sval(g, "id"), 5);
    kura_webhook_worker_stop(w);
    assert_int_equal(receiver_count(&good), 5);
    assert_int_equal(receiver_count(&bad), 1);
    assert_string_equal(bad.req[0].event_id, e[0].event_id);
    assert_string_equal(state_of(st, sval(b, "id"), e[0].event_id, s, &n), "pending");
    assert_int_equal(n, 1);
    assert_string_equal(state_of(st, sval(b, "id"), e[1].event_id, s, &n), "pending");
    assert_int_equal(n, 0);
    json_decref(g);
    json_decref(b);
    receiver_stop(&good);
    receiver_stop(&bad);
    kura_store_close(st);
}

/* ---- endpoints ---- */

static int tamper_url(kura_db *db, void *arg, kura_db_error *err)
{
    return kura_db_exec(db, NULL, "UPDATE webhook_endpoints SET url = 'https://evil.example/' WHERE id = $1",
                        (kura_db_param[]){KURA_DB_TEXT(arg)}, 1, err);
}

static void test_endpoint_lifecycle_audited(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    kura_problem p = {0};
    json_t *ep = NULL, *got = NULL, *page = NULL, *report = NULL, *audit = NULL, *m;
    kura_db_error err = {0};
    char id[KURA_DB_ID_SIZE], id2[KURA_DB_ID_SIZE];

    kura_webhook_register_snapshots();
    assert_int_equal(kura_webhook_endpoint_create(st, "us_admin", "ftp://example.com/", "*", 1, &ep, &p),
                     KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(kura_webhook_endpoint_create(st, "us_admin", "https://", "*", 1, &ep, &p),
                     KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(kura_webhook_endpoint_create(st, "us_admin", "https://a.example/x y", "*", 1, &ep, &p),
                     KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(kura_webhook_endpoint_create(st, "us_admin", "https://a.example/", "transfer*", 1,
                                                  &ep, &p),
                     KURA_PROBLEM_INVALID_FIELD);
    assert_null(ep);

    ep = create_endpoint(st, "https://a.example/hook", "transfer.*");
    snprintf(id, sizeof id, "%s", sval(ep, "id"));
    assert_int_equal(strlen(sval(ep, "secret")), 64);
    json_decref(create_endpoint(st, "https://b.example/hook", "*"));

    assert_int_equal(kura_webhook_endpoint_get(st, id, &got, &p), 0);
    assert_null(json_object_get(got, "secret")); /* shown once only */
    assert_string_equal(sval(got, "url"), "https://a.example/hook");
    assert_true(json_is_true(json_object_get(got, "enabled")));
    json_decref(got);
    assert_int_equal(kura_webhook_endpoint_get(st, "wh_nosuch", &got, &p), KURA_PROBLEM_NOT_FOUND);

    assert_int_equal(kura_webhook_endpoint_list(st, NULL, 1, &page, &p), 0);
    assert_string_equal(sval(json_array_get(json_object_get(page, "items"), 0), "id"), id);
    snprintf(id2, sizeof id2, "%s", sval(page, "next_cursor"));
    json_decref(page);
    assert_int_equal(kura_webhook_endpoint_list(st, id2, 10, &page, &p), 0);
    assert_int_equal(json_array_size(json_object_get(page, "items")), 1);
    assert_true(json_is_null(json_object_get(page, "next_cursor")));
    snprintf(id2, sizeof id2, "%s", sval(json_array_get(json_object_get(page, "items"), 0), "id"));
    json_decref(page);
    assert_int_equal(kura_webhook_endpoint_list(st, "bad cursor!", 10, &page, &p),
                     KURA_PROBLEM_BAD_CURSOR);

    assert_int_equal(kura_webhook_endpoint_set_enabled(st, "us_admin", id, 0, 2, &got, &p), 0);
    assert_false(json_is_true(json_object_get(got, "enabled")));
    json_decref(got);
    assert_int_equal(kura_webhook_endpoint_delete(st, "us_admin", id2, 3, &p), 0);
    assert_int_equal(kura_webhook_endpoint_delete(st, "us_admin", id2, 3, &p), KURA_PROBLEM_NOT_FOUND);

    /* Every change is an audit row; verify holds the endpoints against them. */
    assert_int_equal(kura_audit_list(st, 0, 0, "webhook", NULL, NULL, 50, &audit, &p), 0);
    assert_int_equal(json_array_size(json_object_get(audit, "items")), 4);
    {
        char *text = json_dumps(audit, 0);
        assert_null(strstr(text, sval(ep, "secret"))); /* the secret never */
        free(text);
    }
    json_decref(audit);
    assert_int_equal(kura_audit_verify(st, 0, NULL, &report, &p), 0);
    assert_true(json_is_true(json_object_get(report, "ok")));
    json_decref(report);

    /* The URL redirected behind the server's back: named. */
    assert_int_equal(kura_store_write(st, tamper_url, id, &err), KURA_DB_OK);
    assert_int_equal(kura_audit_verify(st, 0, NULL, &report, &p), 0);
    assert_false(json_is_true(json_object_get(report, "ok")));
    assert_int_equal(json_array_size(json_object_get(report, "snapshot_mismatches")), 1);
    m = json_array_get(json_object_get(report, "snapshot_mismatches"), 0);
    assert_string_equal(sval(m, "object_id"), id);
    assert_string_equal(json_string_value(json_array_get(json_object_get(m, "fields"), 0)), "url");
    json_decref(report);
    kura_audit_register_snapshot("webhook", NULL);
    json_decref(ep);
    kura_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_signatures),
        cmocka_unit_test(test_emit_matches_endpoints),
        cmocka_unit_test(test_delivery_in_order_under_failures),
        cmocka_unit_test(test_failed_after_max_attempts_then_redeliver),
        cmocka_unit_test(test_unreachable_endpoint),
        cmocka_unit_test(test_two_workers_share_through_leases),
        cmocka_unit_test(test_dispatcher_failover),
        cmocka_unit_test(test_endpoints_do_not_wait_for_each_other),
        cmocka_unit_test(test_endpoint_lifecycle_audited),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
