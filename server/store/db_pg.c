/*
 * server/store/db_pg.c — the PostgreSQL backend of db.h, over libpq.
 *
 * Parameters go as text with their types left to the server to infer
 * (integers are sent in decimal), results come back as text. SQLSTATE class
 * 23 (integrity constraint violation) is KURA_DB_ECONSTRAINT; 40001
 * (serialization failure) and 40P01 (deadlock) are KURA_DB_EBUSY, so the
 * store retries the transaction.
 */
#include "store/db_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

typedef struct pg_db {
    kura_db base;
    PGconn *conn;
} pg_db;

static int map_sqlstate(const char *state)
{
    if (!state)
        return KURA_DB_EIO;
    if (strncmp(state, "23", 2) == 0)
        return KURA_DB_ECONSTRAINT;
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0)
        return KURA_DB_EBUSY;
    return KURA_DB_EIO;
}

static int fail_result(pg_db *db, PGresult *r, kura_db_error *err)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(db->conn);
    int code = map_sqlstate(state);
    char line[KURA_DB_MESSAGE_MAX];
    size_t n;
    snprintf(line, sizeof line, "%s", msg && *msg ? msg : "unknown error");
    n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == ' '))
        line[--n] = '\0';
    return kura_db_fail(err, code, "postgres: %s%s%s", state ? state : "", state ? ": " : "", line);
}

static void pg_close(kura_db *base)
{
    pg_db *db = (pg_db *)base;
    PQfinish(db->conn);
    free(db);
}

static int pg_exec_simple(kura_db *base, const char *sql, kura_db_error *err)
{
    pg_db *db = (pg_db *)base;
    PGresult *r = PQexec(db->conn, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    int status = KURA_DB_OK;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        status = fail_result(db, r, err);
    PQclear(r);
    return status;
}

static int pg_exec(kura_db *base, kura_db_result **res, const char *sql,
                   const kura_db_param *params, size_t nparams, kura_db_error *err)
{
    pg_db *db = (pg_db *)base;
    const char **values = NULL;
    char (*ints)[24] = NULL;
    PGresult *r;
    ExecStatusType st;
    kura_db_result *result;
    int status = KURA_DB_OK;

    if (nparams > 65535)
        return kura_db_fail(err, KURA_DB_EINVAL, "postgres: too many parameters");
    if (nparams) {
        values = calloc(nparams, sizeof *values);
        ints = calloc(nparams, sizeof *ints);
        if (!values || !ints) {
            free(values);
            free(ints);
            return kura_db_fail(err, KURA_DB_ENOMEM, "postgres: out of memory");
        }
    }
    for (size_t i = 0; i < nparams; i++) {
        if (params[i].type == KURA_DB_PARAM_TEXT) {
            values[i] = params[i].text;
        } else if (params[i].type == KURA_DB_PARAM_INT) {
            snprintf(ints[i], sizeof ints[i], "%" PRId64, params[i].value);
            values[i] = ints[i];
        }
    }
    r = PQexecParams(db->conn, sql, (int)nparams, NULL, values, NULL, NULL, 0);
    free(values);
    free(ints);
    st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        status = fail_result(db, r, err);
        PQclear(r);
        return status;
    }
    result = kura_db_result_new((size_t)PQnfields(r));
    if (!result) {
        PQclear(r);
        return kura_db_fail(err, KURA_DB_ENOMEM, "postgres: out of memory");
    }
    for (int row = 0; row < PQntuples(r) && status == KURA_DB_OK; row++) {
        if (kura_db_result_add_row(result) != KURA_DB_OK) {
            status = kura_db_fail(err, KURA_DB_ENOMEM, "postgres: out of memory");
            break;
        }
        for (int c = 0; c < PQnfields(r); c++) {
            if (PQgetisnull(r, row, c))
                continue;
            if (kura_db_result_set(result, (size_t)c, PQgetvalue(r, row, c),
                                   (size_t)PQgetlength(r, row, c)) != KURA_DB_OK) {
                status = kura_db_fail(err, KURA_DB_ENOMEM, "postgres: out of memory");
                break;
            }
        }
    }
    if (status == KURA_DB_OK) {
        const char *changed = PQcmdTuples(r);
        result->changes = (changed && *changed) ? (size_t)strtoull(changed, NULL, 10) : 0;
    }
    PQclear(r);
    if (status != KURA_DB_OK) {
        kura_db_result_free(result);
        return status;
    }
    if (res)
        *res = result;
    else
        kura_db_result_free(result);
    return KURA_DB_OK;
}

/* A connection the server closed (restart, pg_terminate_backend, network)
 * reads CONNECTION_BAD once a statement has failed on it; the store then
 * closes it and opens another on the next acquire. */
static int pg_broken(kura_db *base)
{
    return PQstatus(((pg_db *)base)->conn) != CONNECTION_OK;
}

static int pg_in_transaction(kura_db *base)
{
    PGTransactionStatusType t = PQtransactionStatus(((pg_db *)base)->conn);
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

static const kura_db_ops pg_ops = {
    .begin_write = "BEGIN",
    .close = pg_close,
    .exec_simple = pg_exec_simple,
    .exec = pg_exec,
    .broken = pg_broken,
    .in_transaction = pg_in_transaction,
};

int kura_db_pg_open(kura_db **out, const char *conninfo, kura_db_error *err)
{
    pg_db *db = calloc(1, sizeof *db);
    if (!db)
        return kura_db_fail(err, KURA_DB_ENOMEM, "postgres: out of memory");
    db->base.ops = &pg_ops;
    db->base.kind = KURA_DB_POSTGRES;
    db->conn = PQconnectdb(conninfo);
    if (!db->conn || PQstatus(db->conn) != CONNECTION_OK) {
        int status = kura_db_fail(err, KURA_DB_EIO, "postgres: cannot connect: %s",
                                  db->conn ? PQerrorMessage(db->conn) : "out of memory");
        PQfinish(db->conn);
        free(db);
        return status;
    }
    /* Quiet NOTICEs (CREATE ... IF NOT EXISTS) and pin the session's time zone. */
    PGresult *r = PQexec(db->conn, "SET client_min_messages = warning; SET TIME ZONE 'UTC'");
    PQclear(r);
    *out = &db->base;
    return KURA_DB_OK;
}
