/*
 * tests/server/server_people_testutil.h — what the people tests share
 * (header-only: each test file is one binary).
 */
#ifndef KURA_SERVER_PEOPLE_TESTUTIL_H
#define KURA_SERVER_PEOPLE_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "domain/people.h"
#include "server_testutil.h"

#define T0 1700000000 /* the tests' clock */

/* Argon2id at libsodium's minimum cost: the tests check behaviour, not cost. */
static inline void people_test_fast_passwords(void)
{
    assert_int_equal(kura_people_set_password_cost(crypto_pwhash_OPSLIMIT_MIN, 8192 * 4), 0);
}

static inline kura_principal people_test_admin(const char *id)
{
    kura_principal who;
    memset(&who, 0, sizeof who);
    who.kind = KURA_PRINCIPAL_USER;
    snprintf(who.id, sizeof who.id, "%s", id);
    snprintf(who.name, sizeof who.name, "root");
    who.role = KURA_ROLE_ADMINISTRATOR;
    who.scopes = KURA_SCOPE_ALL;
    snprintf(who.client_addr, sizeof who.client_addr, "127.0.0.1");
    return who;
}

/* Creates a user and returns its id (malloc'd). */
static inline char *people_test_user(kura_store *st, const char *name, const char *password,
                                     kura_role role, const char *approver)
{
    json_t *u = NULL;
    kura_problem p = {0};
    char *id;
    if (kura_user_create(st, NULL, name, password, role, approver, NULL, T0, &u, &p) != 0)
        fail_msg("kura_user_create(%s): %s: %s", name, kura_problem_name(p.code), p.message);
    id = strdup(json_string_value(json_object_get(u, "id")));
    json_decref(u);
    return id;
}

typedef struct sql_count_arg {
    const char *sql;
    const char *param;
    int64_t n;
} sql_count_arg;

static inline int sql_count_fn(kura_db *db, void *varg, kura_db_error *err)
{
    sql_count_arg *a = varg;
    kura_db_result *res = NULL;
    int rc = kura_db_exec(db, &res, a->sql, (kura_db_param[]){KURA_DB_TEXT(a->param)},
                          a->param ? 1 : 0, err);
    if (rc == KURA_DB_OK)
        rc = kura_db_result_int(&a->n, res, 0, 0);
    kura_db_result_free(res);
    return rc;
}

/* SELECT COUNT(*) ... with at most one text parameter $1. */
static inline int64_t people_test_count(kura_store *st, const char *sql, const char *param)
{
    sql_count_arg a = {sql, param, -1};
    kura_db_error err = {0};
    if (kura_store_read(st, sql_count_fn, &a, &err) != KURA_DB_OK)
        fail_msg("count: %s", err.message);
    return a.n;
}

typedef struct sql_text_arg {
    const char *sql;
    const char *param;
    char *out;
} sql_text_arg;

static inline int sql_text_fn(kura_db *db, void *varg, kura_db_error *err)
{
    sql_text_arg *a = varg;
    kura_db_result *res = NULL;
    const char *v;
    int rc = kura_db_exec(db, &res, a->sql, (kura_db_param[]){KURA_DB_TEXT(a->param)}, 1, err);
    free(a->out);
    a->out = NULL;
    if (rc == KURA_DB_OK && (v = kura_db_result_text(res, 0, 0)) != NULL)
        a->out = strdup(v);
    kura_db_result_free(res);
    return rc;
}

/* The first column of the first row of a query with one parameter (malloc'd, NULL for none). */
static inline char *people_test_text(kura_store *st, const char *sql, const char *param)
{
    sql_text_arg a = {sql, param, NULL};
    kura_db_error err = {0};
    if (kura_store_read(st, sql_text_fn, &a, &err) != KURA_DB_OK)
        fail_msg("query: %s", err.message);
    return a.out;
}

typedef struct sql_exec_arg {
    const char *sql;
    const char *param;
} sql_exec_arg;

static inline int sql_exec_fn(kura_db *db, void *varg, kura_db_error *err)
{
    sql_exec_arg *a = varg;
    return kura_db_exec(db, NULL, a->sql, (kura_db_param[]){KURA_DB_TEXT(a->param)}, 1, err);
}

/* Runs a write with one parameter behind the server's back (tampering). */
static inline void people_test_exec(kura_store *st, const char *sql, const char *param)
{
    sql_exec_arg a = {sql, param};
    kura_db_error err = {0};
    if (kura_store_write(st, sql_exec_fn, &a, &err) != KURA_DB_OK)
        fail_msg("exec: %s", err.message);
}

#endif
