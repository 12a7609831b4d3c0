/*
 * server/store/db_sqlite.c — the SQLite backend of db.h.
 *
 * Durability: journal_mode=WAL with synchronous=FULL, so a COMMIT returns only
 * after the WAL is synced: an acknowledged write survives power loss (SQLite's
 * "WAL mode, synchronous=FULL" guarantee). Writers open transactions with
 * BEGIN IMMEDIATE, which takes the write lock up front: with a busy timeout a
 * writer waits for the lock instead of failing half-way through its work.
 */
#include "store/db_internal.h"

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

typedef struct sqlite_db {
    kura_db base;
    sqlite3 *handle;
} sqlite_db;

static int map_code(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT: return KURA_DB_ECONSTRAINT;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return KURA_DB_EBUSY;
    case SQLITE_NOMEM: return KURA_DB_ENOMEM;
    default: return KURA_DB_EIO;
    }
}

static int fail_sqlite(sqlite_db *db, int rc, kura_db_error *err)
{
    return kura_db_fail(err, map_code(rc), "sqlite: %s", sqlite3_errmsg(db->handle));
}

static void sqlite_close(kura_db *base)
{
    sqlite_db *db = (sqlite_db *)base;
    if (!sqlite3_get_autocommit(db->handle))
        sqlite3_exec(db->handle, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close_v2(db->handle);
    free(db);
}

static int sqlite_exec_simple(kura_db *base, const char *sql, kura_db_error *err)
{
    sqlite_db *db = (sqlite_db *)base;
    int rc = sqlite3_exec(db->handle, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? KURA_DB_OK : fail_sqlite(db, rc, err);
}

/* Rewrites $N parameters as ?N, outside string literals and quoted names. */
static char *rewrite_params(const char *sql)
{
    size_t len = strlen(sql);
    char *out = malloc(len + 1);
    char quote = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i <= len; i++) {
        char c = sql[i];
        if (quote) {
            if (c == quote)
                quote = 0;
        } else if (c == '\'' || c == '"') {
            quote = c;
        } else if (c == '$' && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
            c = '?';
        }
        out[i] = c;
    }
    return out;
}

static int sqlite_exec(kura_db *base, kura_db_result **res, const char *sql,
                       const kura_db_param *params, size_t nparams, kura_db_error *err)
{
    sqlite_db *db = (sqlite_db *)base;
    sqlite3_stmt *stmt = NULL;
    kura_db_result *result = NULL;
    char *text = rewrite_params(sql);
    int rc, status = KURA_DB_OK;

    if (!text)
        return kura_db_fail(err, KURA_DB_ENOMEM, "sqlite: out of memory");
    rc = sqlite3_prepare_v2(db->handle, text, -1, &stmt, NULL);
    free(text);
    if (rc != SQLITE_OK)
        return fail_sqlite(db, rc, err);
    if ((size_t)sqlite3_bind_parameter_count(stmt) > nparams) {
        sqlite3_finalize(stmt);
        return kura_db_fail(err, KURA_DB_EINVAL, "sqlite: statement wants %d parameters, %zu given",
                            sqlite3_bind_parameter_count(stmt), nparams);
    }
    for (size_t i = 0; i < nparams && i < (size_t)sqlite3_bind_parameter_count(stmt); i++) {
        int idx = (int)i + 1;
        switch (params[i].type) {
        case KURA_DB_PARAM_TEXT:
            rc = params[i].text ? sqlite3_bind_text(stmt, idx, params[i].text, -1, SQLITE_STATIC)
                                : sqlite3_bind_null(stmt, idx);
            break;
        case KURA_DB_PARAM_INT: rc = sqlite3_bind_int64(stmt, idx, params[i].value); break;
        default: rc = sqlite3_bind_null(stmt, idx); break;
        }
        if (rc != SQLITE_OK) {
            status = fail_sqlite(db, rc, err);
            sqlite3_finalize(stmt);
            return status;
        }
    }

    result = kura_db_result_new((size_t)sqlite3_column_count(stmt));
    if (!result) {
        sqlite3_finalize(stmt);
        return kura_db_fail(err, KURA_DB_ENOMEM, "sqlite: out of memory");
    }
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (kura_db_result_add_row(result) != KURA_DB_OK) {
            status = kura_db_fail(err, KURA_DB_ENOMEM, "sqlite: out of memory");
            break;
        }
        for (size_t c = 0; c < result->columns; c++) {
            const unsigned char *v = sqlite3_column_text(stmt, (int)c);
            int n = sqlite3_column_bytes(stmt, (int)c);
            if (kura_db_result_set(result, c, (const char *)v, (size_t)n) != KURA_DB_OK) {
                status = kura_db_fail(err, KURA_DB_ENOMEM, "sqlite: out of memory");
                break;
            }
        }
        if (status != KURA_DB_OK)
            break;
    }
    if (status == KURA_DB_OK && rc != SQLITE_DONE)
        status = fail_sqlite(db, rc, err);
    sqlite3_finalize(stmt);
    if (status != KURA_DB_OK) {
        kura_db_result_free(result);
        return status;
    }
    result->changes = (size_t)sqlite3_changes(db->handle);
    if (res)
        *res = result;
    else
        kura_db_result_free(result);
    return KURA_DB_OK;
}

static const kura_db_ops sqlite_ops = {
    .begin_write = "BEGIN IMMEDIATE",
    .close = sqlite_close,
    .exec_simple = sqlite_exec_simple,
    .exec = sqlite_exec,
};

int kura_db_sqlite_open(kura_db **out, const char *path, kura_db_error *err)
{
    sqlite_db *db = calloc(1, sizeof *db);
    int rc;
    if (!db)
        return kura_db_fail(err, KURA_DB_ENOMEM, "sqlite: out of memory");
    db->base.ops = &sqlite_ops;
    db->base.kind = KURA_DB_SQLITE;
    rc = sqlite3_open_v2(path, &db->handle,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        int status = kura_db_fail(err, KURA_DB_EIO, "sqlite: cannot open %s: %s", path,
                                  db->handle ? sqlite3_errmsg(db->handle) : "out of memory");
        sqlite3_close_v2(db->handle);
        free(db);
        return status;
    }
    sqlite3_busy_timeout(db->handle, 10000);
    rc = sqlite3_exec(db->handle,
                      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
                      NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        int status = fail_sqlite(db, rc, err);
        sqlite3_close_v2(db->handle);
        free(db);
        return status;
    }
    *out = &db->base;
    return KURA_DB_OK;
}
