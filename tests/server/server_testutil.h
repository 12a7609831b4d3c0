/*
 * tests/server/server_testutil.h — what kura-server's tests share.
 */
#ifndef KURA_SERVER_TESTUTIL_H
#define KURA_SERVER_TESTUTIL_H

#include "store/store.h"

/* The database the test runs on: KURA_TEST_DB_URL when set (PostgreSQL, from
 * with-postgres.sh), else a new SQLite file in a new temporary directory.
 * Each call gives an empty database (PostgreSQL: the public schema dropped
 * and made again). Returns a malloc'd URL; the test frees it. Fails the test
 * on error. */
char *kura_test_db_url(void);

/* kura_store_open on kura_test_db_url(); fails the test on error. */
kura_store *kura_test_store_open(void);

/* 1 when the tests run on PostgreSQL. */
int kura_test_db_is_postgres(void);

#endif
