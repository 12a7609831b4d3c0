/*
 * tests/server/test_server_store.c — the store's foundation on both backends:
 * migrations applied once and refused when the database is newer, parameters
 * and results through the common dialect, transactions that commit all or
 * nothing, constraint errors told apart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "server_testutil.h"
#include "store/store.h"

static void test_migrations_applied(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    int64_t v = -1;
    kura_db_error err = {0};
    assert_int_equal(kura_store_schema_version(st, &v, &err), KURA_DB_OK);
    assert_int_equal(v, kura_store_schema_latest());
    assert_true(v >= 1);
    kura_store_close(st);
}

static int bump_schema(kura_db *db, void *arg, kura_db_error *err)
{
    (void)arg;
    return kura_db_exec(db, NULL,
                        "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
                        "VALUES ($1, 'from_the_future', 'x', 0)",
                        (kura_db_param[]){KURA_DB_INT(kura_store_schema_latest() + 1)}, 1, err);
}

static void test_newer_schema_refused(void **state)
{
    (void)state;
    char *url = kura_test_db_url();
    kura_store *st = NULL;
    kura_db_error err = {0};
    assert_int_equal(kura_store_open(&st, url, 2, &err), KURA_DB_OK);
    assert_int_equal(kura_store_write(st, bump_schema, NULL, &err), KURA_DB_OK);
    kura_store_close(st);
    st = NULL;
    assert_int_equal(kura_store_open(&st, url, 2, &err), KURA_DB_ESCHEMA);
    assert_null(st);
    assert_non_null(strstr(err.message, "newer"));
    free(url);
}

typedef struct insert_arg {
    const char *name;
    int fail_after; /* return this code after the insert */
} insert_arg;

static int insert_user(kura_db *db, void *arg, kura_db_error *err)
{
    insert_arg *a = arg;
    char id[KURA_DB_ID_SIZE];
    int rc;
    kura_db_new_id(id, "us");
    rc = kura_db_exec(db, NULL,
                      "INSERT INTO users (id, username, password_hash, role, created_at, updated_at) "
                      "VALUES ($1, $2, 'h', 'viewer', 1, 1)",
                      (kura_db_param[]){KURA_DB_TEXT(id), KURA_DB_TEXT(a->name)}, 2, err);
    return rc ? rc : a->fail_after;
}

static int count_users(kura_db *db, void *arg, kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc = kura_db_exec(db, &res, "SELECT COUNT(*) FROM users WHERE username LIKE $1",
                          (kura_db_param[]){KURA_DB_TEXT("%")}, 1, err);
    if (rc == KURA_DB_OK)
        rc = kura_db_result_int(arg, res, 0, 0);
    kura_db_result_free(res);
    return rc;
}

static void test_transactions_all_or_nothing(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    kura_db_error err = {0};
    int64_t n = -1;
    insert_arg ok = {"alice", 0}, rolled = {"bob", 42}, dup = {"alice", 0};
    assert_int_equal(kura_store_write(st, insert_user, &ok, &err), KURA_DB_OK);
    /* A positive code from the function rolls back and passes through. */
    assert_int_equal(kura_store_write(st, insert_user, &rolled, &err), 42);
    /* A UNIQUE violation is a constraint error, not a failure of the database. */
    assert_int_equal(kura_store_write(st, insert_user, &dup, &err), KURA_DB_ECONSTRAINT);
    assert_int_equal(kura_store_read(st, count_users, &n, &err), KURA_DB_OK);
    assert_int_equal(n, 1);
    kura_store_close(st);
}

static int roundtrip(kura_db *db, void *arg, kura_db_error *err)
{
    kura_db_result *res = NULL;
    /* Quotes, semicolons and a $1 inside a literal reach the database as data. */
    const char *evil = "x'); DROP TABLE users; -- $1";
    int rc = kura_db_exec(db, &res, "SELECT $1, $2, $3, '$1 stays'",
                          (kura_db_param[]){KURA_DB_TEXT(evil), KURA_DB_INT(INT64_MIN), KURA_DB_NULL},
                          3, err);
    (void)arg;
    if (rc)
        return rc;
    assert_string_equal(kura_db_result_text(res, 0, 0), evil);
    int64_t v = 0;
    assert_int_equal(kura_db_result_int(&v, res, 0, 1), KURA_DB_OK);
    assert_true(v == INT64_MIN);
    assert_null(kura_db_result_text(res, 0, 2));
    assert_string_equal(kura_db_result_text(res, 0, 3), "$1 stays");
    kura_db_result_free(res);
    return KURA_DB_OK;
}

static void test_parameters_are_data(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    kura_db_error err = {0};
    assert_int_equal(kura_store_read(st, roundtrip, NULL, &err), KURA_DB_OK);
    kura_store_close(st);
}

static void test_ids_sort_by_time(void **state)
{
    (void)state;
    char a[KURA_DB_ID_SIZE], b[KURA_DB_ID_SIZE];
    kura_db_new_id(a, "tr");
    /* Next millisecond at least. */
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
    kura_db_new_id(b, "tr");
    assert_true(strcmp(a, b) < 0);
    assert_int_equal(strlen(a), 3 + 12 + 16);
    assert_memory_equal(a, "tr_", 3);
    /* Many in one millisecond still sort in the order made: lists and their
     * cursors are in creation order (ORDER BY id). */
    for (int i = 0; i < 20000; i++) {
        memcpy(a, b, sizeof a);
        kura_db_new_id(b, "tr");
        assert_true(strcmp(a, b) < 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrations_applied),
        cmocka_unit_test(test_newer_schema_refused),
        cmocka_unit_test(test_transactions_all_or_nothing),
        cmocka_unit_test(test_parameters_are_data),
        cmocka_unit_test(test_ids_sort_by_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
