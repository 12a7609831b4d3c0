/*
 * tests/server/test_server_audit.c — the audit chain on both backends:
 * append and verify; every kind of tampering named at the right row (an
 * edited row, a deleted row, reordered rows, an edited head); a history
 * rewritten whole caught only against a head held from an export; snapshot
 * mismatches named per object and field; exports byte for byte against a
 * fixture made by an independent implementation of docs/audit-format.md
 * (tests/server/audit-fixture.py); listing; appenders on several threads.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "audit/audit.h"
#include "server_testutil.h"

/* Produced by tests/server/audit-fixture.py (Python's hashlib and json, not
 * this code): rows 1 and 2 of the fixture below, exported for the time range
 * [1700000000, 1700000100), with the head at row 3. */
static const char fixture_jsonl[] =
    "{\"action\":\"transfer.created\",\"actor\":\"us_alice\",\"at\":1700000000,\"data\":{\"note\":\"a,b \\\"q\\\" caf\\u00E9\",\"snapshot\":{\"amount\":1000,\"state\":\"awaiting_approval\"}},\"hash\":\"4ae167b6fa362cafb31c4c67f35564c87fc7b005290a6b285ebbf60920d68e5c\",\"object_id\":\"tr_1\",\"object_type\":\"transfer\",\"prev_hash\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"seq\":1}\n"
    "{\"action\":\"signin.failed\",\"actor\":\"system\",\"at\":1700000060,\"data\":{},\"hash\":\"63c0108a401c290f04e4b5e488cdd6e2d9e1f0f14b64f8ef704058e7f7a439c2\",\"object_id\":\"o\\\"1\",\"object_type\":\"user\",\"prev_hash\":\"4ae167b6fa362cafb31c4c67f35564c87fc7b005290a6b285ebbf60920d68e5c\",\"seq\":2}\n"
    "{\"trailer\":{\"from\":1700000000,\"head_hash\":\"e11bab98e2f95fc2f26aaa969f3b11094b3743553e538437afe9df7900254c42\",\"head_seq\":3,\"rows\":2,\"to\":1700000100}}\n";

static const char fixture_csv[] =
    "seq,at,actor,action,object_type,object_id,data,prev_hash,hash\r\n"
    "1,1700000000,us_alice,transfer.created,transfer,tr_1,\"{\"\"note\"\":\"\"a,b \\\"\"q\\\"\" caf\\u00E9\"\",\"\"snapshot\"\":{\"\"amount\"\":1000,\"\"state\"\":\"\"awaiting_approval\"\"}}\",0000000000000000000000000000000000000000000000000000000000000000,4ae167b6fa362cafb31c4c67f35564c87fc7b005290a6b285ebbf60920d68e5c\r\n"
    "2,1700000060,system,signin.failed,user,\"o\"\"1\",{},4ae167b6fa362cafb31c4c67f35564c87fc7b005290a6b285ebbf60920d68e5c,63c0108a401c290f04e4b5e488cdd6e2d9e1f0f14b64f8ef704058e7f7a439c2\r\n"
    "trailer,,,,,,\"{\"\"from\"\":1700000000,\"\"head_hash\"\":\"\"e11bab98e2f95fc2f26aaa969f3b11094b3743553e538437afe9df7900254c42\"\",\"\"head_seq\"\":3,\"\"rows\"\":2,\"\"to\"\":1700000100}\",3,e11bab98e2f95fc2f26aaa969f3b11094b3743553e538437afe9df7900254c42\r\n";

typedef struct append_arg {
    int64_t at;
    const char *actor, *action, *object_type, *object_id;
    const char *data; /* JSON text */
    int64_t seq;
    char hash[65];
} append_arg;

static int append_fn(kura_db *db, void *arg, kura_db_error *err)
{
    append_arg *a = arg;
    json_error_t jerr;
    json_t *data = json_loads(a->data, 0, &jerr);
    kura_audit_entry e = {a->actor, a->action, a->object_type, a->object_id, data};
    int rc;
    assert_non_null(data);
    rc = kura_audit_append(db, &e, a->at, &a->seq, a->hash, err);
    json_decref(data);
    return rc;
}

static int64_t append(kura_store *st, int64_t at, const char *actor, const char *action,
                      const char *type, const char *id, const char *data)
{
    append_arg a = {at, actor, action, type, id, data, 0, ""};
    kura_db_error err = {0};
    int rc = kura_store_write(st, append_fn, &a, &err);
    if (rc != KURA_DB_OK)
        fail_msg("append: %s", err.message);
    return a.seq;
}

static void append_n(kura_store *st, int n)
{
    for (int i = 1; i <= n; i++) {
        char data[64];
        snprintf(data, sizeof data, "{\"i\":%d,\"s\":\"x\"}", i);
        append(st, 1000 + i, "us_test", "thing.changed", "thing", "th_1", data);
    }
}

typedef struct sql_arg {
    const char *sql[4];
} sql_arg;

static int sql_fn(kura_db *db, void *arg, kura_db_error *err)
{
    sql_arg *a = arg;
    for (size_t i = 0; i < 4 && a->sql[i]; i++) {
        int rc = kura_db_exec(db, NULL, a->sql[i], NULL, 0, err);
        if (rc != KURA_DB_OK)
            return rc;
    }
    return KURA_DB_OK;
}

/* Runs statements as an attacker with database access would. */
static void tamper(kura_store *st, const char *s1, const char *s2, const char *s3)
{
    sql_arg a = {{s1, s2, s3, NULL}};
    kura_db_error err = {0};
    if (kura_store_write(st, sql_fn, &a, &err) != KURA_DB_OK)
        fail_msg("tamper: %s", err.message);
}

static json_t *verify(kura_store *st, int64_t held_seq, const char *held_hash)
{
    json_t *report = NULL;
    kura_problem p = {0};
    assert_int_equal(kura_audit_verify(st, held_seq, held_hash, &report, &p), 0);
    assert_non_null(report);
    return report;
}

static void expect_broken(json_t *report, int64_t seq, const char *reason)
{
    json_t *ce = json_object_get(report, "chain_error");
    assert_false(json_is_true(json_object_get(report, "ok")));
    if (!json_is_object(ce)) {
        char *s = json_dumps(report, 0);
        fail_msg("no chain error in %s", s);
    }
    assert_string_equal(json_string_value(json_object_get(ce, "reason")), reason);
    assert_int_equal(json_integer_value(json_object_get(ce, "seq")), seq);
}

static void test_append_verify(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    json_t *r;
    append_arg a = {5, "us_a", "thing.created", "thing", "th_1", "{\"b\":1,\"a\":[1,\"2\",null]}",
                    0, ""};
    kura_db_error err = {0};

    r = verify(st, 0, NULL);
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_int_equal(json_integer_value(json_object_get(r, "rows")), 0);
    json_decref(r);

    assert_int_equal(kura_store_write(st, append_fn, &a, &err), KURA_DB_OK);
    assert_int_equal(a.seq, 1);
    assert_int_equal(strlen(a.hash), 64);
    append_n(st, 9);
    r = verify(st, 1, a.hash);
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_true(json_is_null(json_object_get(r, "chain_error")));
    assert_int_equal(json_integer_value(json_object_get(r, "rows")), 10);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "head"), "seq")), 10);
    json_decref(r);
    kura_store_close(st);
}

typedef struct bad_arg {
    json_t *data;
    int rc;
} bad_arg;

static int bad_fn(kura_db *db, void *arg, kura_db_error *err)
{
    bad_arg *a = arg;
    kura_audit_entry e = {"us_a", "x.y", "thing", "th", a->data};
    a->rc = kura_audit_append(db, &e, 1, NULL, NULL, err);
    return a->rc;
}

static void test_append_refuses_reals_and_empty(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    bad_arg a = {json_pack("{sf}", "amount", 1.5), 0};
    kura_db_error err = {0};
    assert_int_equal(kura_store_write(st, bad_fn, &a, &err), KURA_DB_EINVAL);
    json_decref(a.data);
    a.data = json_array();
    assert_int_equal(kura_store_write(st, bad_fn, &a, &err), KURA_DB_EINVAL);
    json_decref(a.data);
    /* Nothing was written: the head did not move. */
    json_t *r = verify(st, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "head"), "seq")), 0);
    json_decref(r);
    kura_store_close(st);
}

static void test_tamper_edit_data(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    json_t *r;
    append_n(st, 6);
    tamper(st, "UPDATE audit_log SET data = '{\"i\":3,\"s\":\"y\"}' WHERE seq = 3", NULL, NULL);
    r = verify(st, 0, NULL);
    expect_broken(r, 3, "hash_mismatch");
    json_decref(r);
    kura_store_close(st);
}

static void test_tamper_edit_actor_and_time(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    json_t *r;
    append_n(st, 4);
    tamper(st, "UPDATE audit_log SET at = at + 1 WHERE seq = 4", NULL, NULL);
    r = verify(st, 0, NULL);
    expect_broken(r, 4, "hash_mismatch");
    json_decref(r);
    tamper(st, "UPDATE audit_log SET at = at - 1 WHERE seq = 4",
           "UPDATE audit_log SET actor = 'us_mallory' WHERE seq = 2", NULL);
    r = verify(st, 0, NULL);
    expect_broken(r, 2, "hash_mismatch");
    json_decref(r);
    kura_store_close(st);
}

static void test_tamper_delete_row(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    json_t *r;
    append_n(st, 6);
    tamper(st, "DELETE FROM audit_log WHERE seq = 4", NULL, NULL);
    r = verify(st, 0, NULL);
    expect_broken(r, 5, "seq_gap");
    json_decref(r);
    kura_store_close(st);

    st = kura_test_store_open();
    append_n(st, 3);
    tamper(st, "DELETE FROM audit_log WHERE seq = 1", NULL, NULL);
    r = verify(st, 0, NULL);
    expect_broken(r, 2, "seq_gap");
    json_decref(r);
    kura_store_close(st);
}

static void test_tamper_delete_last_row(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    json_t *r;
    append_n(st, 5);
    tamper(st, "DELETE FROM audit_log WHERE seq = 5", NULL, NULL);
    r = verify(st, 0, NULL);
    expect_broken(r, 5, "head_mismatch");
    json_decref(r);
    kura_store_close(st);
}

static void test_tamper_reorder(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    json_t *r;
    append_n(st, 5);
    /* Rows 2 and 3 swap places. */
    tamper(st, "UPDATE audit_log SET seq = 100 WHERE seq = 2",
           "UPDATE audit_log SET seq = 2 WHERE seq = 3", "UPDATE audit_log SET seq = 3 WHERE seq = 100");
    r = verify(st, 0, NULL);
    expect_broken(r, 2, "broken_link");
    json_decref(r);
    kura_store_close(st);
}

static void test_tamper_head(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    json_t *r;
    append_n(st, 3);
    tamper(st,
           "UPDATE audit_head SET hash = "
           "'1111111111111111111111111111111111111111111111111111111111111111' WHERE id = 1",
           NULL, NULL);
    r = verify(st, 0, NULL);
    expect_broken(r, 3, "head_mismatch");
    json_decref(r);
    tamper(st, "UPDATE audit_head SET seq = 2 WHERE id = 1", NULL, NULL);
    r = verify(st, 0, NULL);
    expect_broken(r, 2, "head_mismatch");
    json_decref(r);
    kura_store_close(st);
}

/* ---- a history rewritten whole ---- */

typedef struct buf {
    char *p;
    size_t n;
    int stop_after; /* calls before the writer refuses; 0: never */
    int calls;
} buf;

static int buf_write(void *ctx, const char *bytes, size_t len)
{
    buf *b = ctx;
    if (b->stop_after && ++b->calls > b->stop_after)
        return 1;
    b->p = realloc(b->p, b->n + len + 1);
    assert_non_null(b->p);
    memcpy(b->p + b->n, bytes, len);
    b->n += len;
    b->p[b->n] = '\0';
    return 0;
}

/* The attacker rewrites row `from` on and recomputes every hash after it
 * and the head: a chain consistent in itself. */
static int rewrite_fn(kura_db *db, void *arg, kura_db_error *err)
{
    int64_t from = *(int64_t *)arg;
    kura_db_result *res = NULL;
    char prev[65];
    int rc = kura_db_exec(db, &res,
                          "SELECT seq, at, actor, action, object_type, object_id, data, prev_hash "
                          "FROM audit_log WHERE seq >= $1 ORDER BY seq",
                          (kura_db_param[]){KURA_DB_INT(from)}, 1, err);
    if (rc)
        return rc;
    snprintf(prev, sizeof prev, "%s", kura_db_result_text(res, 0, 7));
    for (size_t i = 0; i < kura_db_result_rows(res); i++) {
        int64_t seq = 0, at = 0;
        char hash[65];
        const char *data = i == 0 ? "{\"i\":99,\"s\":\"rewritten\"}" : kura_db_result_text(res, i, 6);
        kura_db_result_int(&seq, res, i, 0);
        kura_db_result_int(&at, res, i, 1);
        assert_int_equal(kura_audit_row_hash(hash, seq, at, kura_db_result_text(res, i, 2),
                                             kura_db_result_text(res, i, 3),
                                             kura_db_result_text(res, i, 4),
                                             kura_db_result_text(res, i, 5), data, prev),
                         KURA_DB_OK);
        rc = kura_db_exec(db, NULL,
                          "UPDATE audit_log SET data = $1, prev_hash = $2, hash = $3 WHERE seq = $4",
                          (kura_db_param[]){KURA_DB_TEXT(data), KURA_DB_TEXT(prev),
                                            KURA_DB_TEXT(hash), KURA_DB_INT(seq)},
                          4, err);
        if (rc)
            break;
        memcpy(prev, hash, 65);
    }
    if (!rc)
        rc = kura_db_exec(db, NULL, "UPDATE audit_head SET hash = $1 WHERE id = 1",
                          (kura_db_param[]){KURA_DB_TEXT(prev)}, 1, err);
    kura_db_result_free(res);
    return rc;
}

static void test_rewrite_whole_caught_by_held_head(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    buf b = {0};
    kura_problem p = {0};
    json_t *trailer, *r;
    json_error_t jerr;
    const char *last;
    int64_t from = 2, held_seq;
    char held_hash[65];
    kura_db_error err = {0};

    append_n(st, 5);
    /* The back office keeps the head from an export's trailer. */
    assert_int_equal(kura_audit_export(st, KURA_AUDIT_EXPORT_JSONL, 0, 0, buf_write, &b, &p), 0);
    assert_true(b.n > 0 && b.p[b.n - 1] == '\n');
    b.p[b.n - 1] = '\0';
    last = strrchr(b.p, '\n');
    trailer = json_loads(last ? last + 1 : b.p, 0, &jerr);
    assert_non_null(trailer);
    held_seq = json_integer_value(json_object_get(json_object_get(trailer, "trailer"), "head_seq"));
    snprintf(held_hash, sizeof held_hash, "%s",
             json_string_value(json_object_get(json_object_get(trailer, "trailer"), "head_hash")));
    assert_int_equal(held_seq, 5);
    json_decref(trailer);
    free(b.p);

    r = verify(st, held_seq, held_hash);
    assert_true(json_is_true(json_object_get(r, "ok")));
    json_decref(r);

    assert_int_equal(kura_store_write(st, rewrite_fn, &from, &err), KURA_DB_OK);
    append_n(st, 2); /* and the chain goes on */
    /* Consistent in itself: the chain alone cannot tell. */
    r = verify(st, 0, NULL);
    assert_true(json_is_true(json_object_get(r, "ok")));
    json_decref(r);
    /* Against the held head it can. */
    r = verify(st, held_seq, held_hash);
    expect_broken(r, 5, "held_head_mismatch");
    json_decref(r);
    kura_store_close(st);
}

/* ---- snapshots ---- */

static int widget_snapshot(kura_db *db, const char *id, json_t **out, kura_db_error *err)
{
    kura_db_result *res = NULL;
    int64_t amount = 0;
    int rc = kura_db_exec(db, &res, "SELECT id, name, amount FROM widgets WHERE id = $1",
                          (kura_db_param[]){KURA_DB_TEXT(id)}, 1, err);
    *out = NULL;
    if (rc)
        return rc;
    if (kura_db_result_rows(res) == 0) {
        kura_db_result_free(res);
        return KURA_DB_ENOTFOUND;
    }
    kura_db_result_int(&amount, res, 0, 2);
    *out = json_pack("{ss ss sI}", "id", kura_db_result_text(res, 0, 0), "name",
                     kura_db_result_text(res, 0, 1), "amount", (json_int_t)amount);
    kura_db_result_free(res);
    return KURA_DB_OK;
}

typedef struct widget_arg {
    const char *id, *name;
    int64_t amount;
} widget_arg;

/* What the domain does: change the row and append its audit row with the
 * snapshot, in one transaction. */
static int widget_put(kura_db *db, void *arg, kura_db_error *err)
{
    widget_arg *w = arg;
    json_t *snap = NULL, *data;
    kura_audit_entry e;
    int rc = kura_db_exec(db, NULL,
                          "INSERT INTO widgets (id, name, amount) VALUES ($1, $2, $3) "
                          "ON CONFLICT (id) DO UPDATE SET name = excluded.name, amount = excluded.amount",
                          (kura_db_param[]){KURA_DB_TEXT(w->id), KURA_DB_TEXT(w->name),
                                            KURA_DB_INT(w->amount)},
                          3, err);
    if (rc)
        return rc;
    rc = widget_snapshot(db, w->id, &snap, err);
    if (rc)
        return rc;
    data = json_pack("{so}", "snapshot", snap);
    e = (kura_audit_entry){"us_a", "widget.changed", "widget", w->id, data};
    rc = kura_audit_append(db, &e, 10, NULL, NULL, err);
    json_decref(data);
    return rc;
}

static void test_snapshot_mismatch_named(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    kura_db_error err = {0};
    widget_arg w1 = {"wd_1", "one", 100}, w2 = {"wd_2", "two", 200}, w3 = {"wd_3", "three", 300};
    json_t *r, *mm, *m;

    tamper(st, "CREATE TABLE widgets (id TEXT PRIMARY KEY, name TEXT NOT NULL, amount BIGINT NOT NULL)",
           NULL, NULL);
    kura_audit_register_snapshot("widget", widget_snapshot);
    assert_int_equal(kura_store_write(st, widget_put, &w1, &err), KURA_DB_OK);
    assert_int_equal(kura_store_write(st, widget_put, &w2, &err), KURA_DB_OK);
    assert_int_equal(kura_store_write(st, widget_put, &w3, &err), KURA_DB_OK);
    w1.amount = 150; /* a legitimate change: audited */
    assert_int_equal(kura_store_write(st, widget_put, &w1, &err), KURA_DB_OK);
    /* Many rows about wd_1 without a snapshot since (like failed sign-ins
     * of a user) do not hide its last snapshot. */
    for (int i = 0; i < 70; i++)
        append(st, 11, "us_a", "widget.viewed", "widget", "wd_1", "{\"nested\":{\"x\":1}}");
    r = verify(st, 0, NULL);
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_int_equal(json_integer_value(json_object_get(r, "objects_checked")), 3);
    json_decref(r);

    /* Behind the server's back: wd_2's amount and name edited, wd_3 deleted. */
    tamper(st, "UPDATE widgets SET amount = 999, name = 'evil' WHERE id = 'wd_2'",
           "DELETE FROM widgets WHERE id = 'wd_3'", NULL);
    r = verify(st, 0, NULL);
    assert_false(json_is_true(json_object_get(r, "ok")));
    assert_true(json_is_null(json_object_get(r, "chain_error"))); /* the chain itself is fine */
    mm = json_object_get(r, "snapshot_mismatches");
    assert_int_equal(json_array_size(mm), 2);
    m = json_array_get(mm, 0);
    assert_string_equal(json_string_value(json_object_get(m, "object_id")), "wd_2");
    assert_string_equal(json_string_value(json_object_get(m, "reason")), "fields_differ");
    assert_int_equal(json_integer_value(json_object_get(m, "audit_seq")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(mm, 1), "audit_seq")), 3);
    assert_int_equal(json_array_size(json_object_get(m, "fields")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(m, "fields"), 0)), "amount");
    assert_string_equal(json_string_value(json_array_get(json_object_get(m, "fields"), 1)), "name");
    m = json_array_get(mm, 1);
    assert_string_equal(json_string_value(json_object_get(m, "object_id")), "wd_3");
    assert_string_equal(json_string_value(json_object_get(m, "reason")), "object_missing");
    json_decref(r);
    kura_audit_register_snapshot("widget", NULL);
    kura_store_close(st);
}

/* ---- export ---- */

static void fixture(kura_store *st)
{
    assert_int_equal(append(st, 1700000000, "us_alice", "transfer.created", "transfer", "tr_1",
                            "{\"snapshot\":{\"state\":\"awaiting_approval\",\"amount\":1000},"
                            "\"note\":\"a,b \\\"q\\\" caf\\u00e9\"}"),
                     1);
    assert_int_equal(append(st, 1700000060, "system", "signin.failed", "user", "o\"1", "{}"), 2);
    assert_int_equal(append(st, 1700000120, "us_bob", "transfer.approved", "transfer", "tr_1",
                            "{\"snapshot\":{\"amount\":1000,\"state\":\"approved\"}}"),
                     3);
}

static void test_export_jsonl_exact(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    buf b = {0};
    kura_problem p = {0};
    fixture(st);
    assert_int_equal(
        kura_audit_export(st, KURA_AUDIT_EXPORT_JSONL, 1700000000, 1700000100, buf_write, &b, &p), 0);
    assert_non_null(b.p);
    assert_string_equal(b.p, fixture_jsonl);
    free(b.p);
    kura_store_close(st);
}

static void test_export_csv_exact(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    buf b = {0};
    kura_problem p = {0};
    fixture(st);
    assert_int_equal(
        kura_audit_export(st, KURA_AUDIT_EXPORT_CSV, 1700000000, 1700000100, buf_write, &b, &p), 0);
    assert_non_null(b.p);
    assert_string_equal(b.p, fixture_csv);
    free(b.p);
    kura_store_close(st);
}

/* A range ending after 2038 (past int32 seconds) is a range like any other:
 * PostgreSQL must not infer a 32-bit parameter from "$3 = 0". */
static void test_export_range_after_2038(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    buf all = {0}, late = {0};
    kura_problem p = {0};
    fixture(st);
    assert_int_equal(kura_audit_export(st, KURA_AUDIT_EXPORT_JSONL, 0, 0, buf_write, &all, &p), 0);
    assert_int_equal(kura_audit_export(st, KURA_AUDIT_EXPORT_JSONL, 0, 4102444800LL, buf_write,
                                       &late, &p),
                     0);
    assert_non_null(all.p);
    assert_non_null(late.p);
    /* The same rows; only the trailer (which names the range) differs. */
    {
        char *ta = strstr(all.p, "{\"trailer\""), *tl = strstr(late.p, "{\"trailer\"");
        assert_non_null(ta);
        assert_non_null(tl);
        assert_true(ta != all.p);
        *ta = '\0';
        *tl = '\0';
        assert_string_equal(all.p, late.p);
    }
    free(all.p);
    free(late.p);
    kura_store_close(st);
}

static void test_export_writer_stops(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    buf b = {0};
    kura_problem p = {0};
    fixture(st);
    b.stop_after = 3;
    assert_int_equal(kura_audit_export(st, KURA_AUDIT_EXPORT_CSV, 0, 0, buf_write, &b, &p),
                     KURA_PROBLEM_INTERNAL);
    free(b.p);
    assert_int_equal(kura_audit_export(st, 7, 0, 0, buf_write, &b, &p), KURA_PROBLEM_INVALID_FIELD);
    kura_store_close(st);
}

static void test_list_pages(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    json_t *page = NULL;
    kura_problem p = {0};
    fixture(st);
    assert_int_equal(kura_audit_list(st, 0, 0, "transfer", NULL, NULL, 1, &page, &p), 0);
    assert_int_equal(json_array_size(json_object_get(page, "items")), 1);
    assert_string_equal(json_string_value(json_object_get(page, "next_cursor")), "1");
    json_decref(page);
    assert_int_equal(kura_audit_list(st, 0, 0, "transfer", NULL, "1", 1, &page, &p), 0);
    assert_int_equal(json_integer_value(
                         json_object_get(json_array_get(json_object_get(page, "items"), 0), "seq")),
                     3);
    assert_true(json_is_null(json_object_get(page, "next_cursor")));
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(json_array_get(json_object_get(page, "items"), 0), "data"),
                            "snapshot"),
            "state")),
        "approved");
    json_decref(page);
    assert_int_equal(kura_audit_list(st, 0, 0, NULL, NULL, "x1", 10, &page, &p),
                     KURA_PROBLEM_BAD_CURSOR);
    assert_null(page);
    assert_int_equal(kura_audit_list(st, 0, 0, NULL, NULL, NULL, 0, &page, &p),
                     KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(kura_audit_list(st, 1700000050, 1700000100, NULL, NULL, NULL, 10, &page, &p), 0);
    assert_int_equal(json_array_size(json_object_get(page, "items")), 1);
    json_decref(page);
    kura_store_close(st);
}

/* ---- appenders on several connections at once ---- */

static void *appender(void *arg)
{
    kura_store *st = arg;
    for (int i = 0; i < 20; i++) {
        append_arg a = {7, "us_t", "thing.changed", "thing", "th", "{\"n\":1}", 0, ""};
        kura_db_error err = {0};
        if (kura_store_write(st, append_fn, &a, &err) != KURA_DB_OK)
            return (void *)1;
    }
    return NULL;
}

static void test_concurrent_appenders(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    pthread_t t[4];
    json_t *r;
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, appender, st), 0);
    for (int i = 0; i < 4; i++) {
        void *ret = NULL;
        pthread_join(t[i], &ret);
        assert_null(ret);
    }
    r = verify(st, 0, NULL);
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_int_equal(json_integer_value(json_object_get(r, "rows")), 80);
    json_decref(r);
    kura_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_verify),
        cmocka_unit_test(test_append_refuses_reals_and_empty),
        cmocka_unit_test(test_tamper_edit_data),
        cmocka_unit_test(test_tamper_edit_actor_and_time),
        cmocka_unit_test(test_tamper_delete_row),
        cmocka_unit_test(test_tamper_delete_last_row),
        cmocka_unit_test(test_tamper_reorder),
        cmocka_unit_test(test_tamper_head),
        cmocka_unit_test(test_rewrite_whole_caught_by_held_head),
        cmocka_unit_test(test_snapshot_mismatch_named),
        cmocka_unit_test(test_export_jsonl_exact),
        cmocka_unit_test(test_export_csv_exact),
        cmocka_unit_test(test_export_range_after_2038),
        cmocka_unit_test(test_export_writer_stops),
        cmocka_unit_test(test_list_pages),
        cmocka_unit_test(test_concurrent_appenders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
