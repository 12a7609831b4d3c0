/*
 * tests/server/server_testutil.c — a fresh database per test, on SQLite or on
 * the PostgreSQL that with-postgres.sh started.
 */
#include "server_testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

int kura_test_db_is_postgres(void)
{
    const char *url = getenv("KURA_TEST_DB_URL");
    return url && *url;
}

char *kura_test_db_url(void)
{
    const char *url = getenv("KURA_TEST_DB_URL");
    char *out;
    if (url && *url) {
        kura_db *db = NULL;
        kura_db_error err = {0};
        if (kura_db_open(&db, url, &err) != KURA_DB_OK)
            fail_msg("cannot connect to %s: %s", url, err.message);
        if (kura_db_exec_script(db, "DROP SCHEMA public CASCADE; CREATE SCHEMA public;", &err) !=
            KURA_DB_OK)
            fail_msg("cannot reset the schema: %s", err.message);
        kura_db_close(db);
        out = strdup(url);
    } else {
        char dir[] = "/tmp/kura-test-db.XXXXXX";
        size_t n;
        if (!mkdtemp(dir))
            fail_msg("mkdtemp failed");
        n = strlen(dir) + 32;
        out = malloc(n);
        if (out)
            snprintf(out, n, "sqlite:%s/kura.db", dir);
    }
    assert_non_null(out);
    return out;
}

kura_store *kura_test_store_open(void)
{
    char *url = kura_test_db_url();
    kura_store *st = NULL;
    kura_db_error err = {0};
    if (kura_store_open(&st, url, 4, &err) != KURA_DB_OK)
        fail_msg("kura_store_open(%s): %s: %s", url, kura_db_status_name(err.code), err.message);
    free(url);
    return st;
}
