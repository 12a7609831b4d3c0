/*
 * server/store/db_common.c — what both backends share: the result type, the
 * status names, error reports, ids, and dispatch on the URL's scheme.
 */
#include "store/db_internal.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

const char *kura_db_status_name(int code)
{
    switch (code) {
    case KURA_DB_OK: return "KURA_DB_OK";
    case KURA_DB_EINVAL: return "KURA_DB_EINVAL";
    case KURA_DB_ENOMEM: return "KURA_DB_ENOMEM";
    case KURA_DB_ECONSTRAINT: return "KURA_DB_ECONSTRAINT";
    case KURA_DB_EBUSY: return "KURA_DB_EBUSY";
    case KURA_DB_EIO: return "KURA_DB_EIO";
    case KURA_DB_ENOTFOUND: return "KURA_DB_ENOTFOUND";
    case KURA_DB_ECONFLICT: return "KURA_DB_ECONFLICT";
    case KURA_DB_ESCHEMA: return "KURA_DB_ESCHEMA";
    default: return "KURA_DB_E?";
    }
}

int kura_db_fail(kura_db_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* ---- results ---- */

kura_db_result *kura_db_result_new(size_t columns)
{
    kura_db_result *res = calloc(1, sizeof *res);
    if (res)
        res->columns = columns;
    return res;
}

int kura_db_result_add_row(kura_db_result *res)
{
    if (res->rows == res->row_cap) {
        size_t cap = res->row_cap ? res->row_cap * 2 : 8;
        size_t cells;
        if (cap < res->row_cap || cap > SIZE_MAX / (res->columns ? res->columns : 1))
            return KURA_DB_ENOMEM;
        cells = cap * (res->columns ? res->columns : 1);
        if (cells > SIZE_MAX / sizeof(char *))
            return KURA_DB_ENOMEM;
        char **cell = realloc(res->cell, cells * sizeof(char *));
        if (!cell)
            return KURA_DB_ENOMEM;
        res->cell = cell;
        res->row_cap = cap;
    }
    for (size_t c = 0; c < res->columns; c++)
        res->cell[res->rows * res->columns + c] = NULL;
    res->rows++;
    return KURA_DB_OK;
}

int kura_db_result_set(kura_db_result *res, size_t col, const char *text, size_t len)
{
    char *copy;
    if (!text)
        return KURA_DB_OK;
    copy = malloc(len + 1);
    if (!copy)
        return KURA_DB_ENOMEM;
    memcpy(copy, text, len);
    copy[len] = '\0';
    res->cell[(res->rows - 1) * res->columns + col] = copy;
    return KURA_DB_OK;
}

size_t kura_db_result_rows(const kura_db_result *res) { return res ? res->rows : 0; }
size_t kura_db_result_columns(const kura_db_result *res) { return res ? res->columns : 0; }
size_t kura_db_result_changes(const kura_db_result *res) { return res ? res->changes : 0; }

const char *kura_db_result_text(const kura_db_result *res, size_t row, size_t col)
{
    if (!res || row >= res->rows || col >= res->columns)
        return NULL;
    return res->cell[row * res->columns + col];
}

int kura_db_result_int(int64_t *out, const kura_db_result *res, size_t row, size_t col)
{
    const char *s = kura_db_result_text(res, row, col);
    int64_t v = 0;
    int neg = 0;
    if (!out)
        return KURA_DB_EINVAL;
    *out = 0;
    if (!s || !*s)
        return KURA_DB_EINVAL;
    if (*s == '-') {
        neg = 1;
        s++;
        if (!*s)
            return KURA_DB_EINVAL;
    }
    for (; *s; s++) {
        int d;
        if (*s < '0' || *s > '9')
            return KURA_DB_EINVAL;
        d = *s - '0';
        /* Accumulate as a negative number, which reaches INT64_MIN. */
        if (v < (INT64_MIN + d) / 10)
            return KURA_DB_EINVAL;
        v = v * 10 - d;
    }
    if (!neg) {
        if (v == INT64_MIN)
            return KURA_DB_EINVAL;
        v = -v;
    }
    *out = v;
    return KURA_DB_OK;
}

void kura_db_result_free(kura_db_result *res)
{
    if (!res)
        return;
    for (size_t i = 0; i < res->rows * res->columns; i++)
        free(res->cell[i]);
    free(res->cell);
    free(res);
}

/* ---- ids ---- */

/* The time part never goes back within a process, and ids made in the same
 * millisecond carry a sequence number before their random part: a process's
 * ids sort in the order it made them (lists, cursors and tests rely on it),
 * whatever the clock does. */
static pthread_mutex_t id_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t id_last_ms;
static uint32_t id_seq;

void kura_db_new_id(char out[KURA_DB_ID_SIZE], const char *prefix)
{
    struct timespec ts;
    uint8_t rnd[6];
    uint64_t ms;
    uint32_t seq;
    char hex[13];
    clock_gettime(CLOCK_REALTIME, &ts);
    ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    pthread_mutex_lock(&id_lock);
    if (ms > id_last_ms) {
        id_last_ms = ms;
        id_seq = 0;
    } else if (++id_seq > 0xffffu) {
        id_last_ms++;
        id_seq = 0;
    }
    ms = id_last_ms;
    seq = id_seq;
    pthread_mutex_unlock(&id_lock);
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
    snprintf(out, KURA_DB_ID_SIZE, "%.4s_%012llx%04x%s", prefix ? prefix : "id",
             (unsigned long long)(ms & 0xffffffffffffull), (unsigned)seq, hex);
}

/* ---- dispatch ---- */

int kura_db_open(kura_db **out, const char *url, kura_db_error *err)
{
    if (!out || !url)
        return kura_db_fail(err, KURA_DB_EINVAL, "db: no URL");
    *out = NULL;
    if (strncmp(url, "sqlite:", 7) == 0)
        return kura_db_sqlite_open(out, url + 7, err);
    if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0)
        return kura_db_pg_open(out, url, err);
    if (strncmp(url, "postgres:", 9) == 0)
        return kura_db_pg_open(out, url + 9, err);
    return kura_db_fail(err, KURA_DB_EINVAL,
                        "db: unknown database URL scheme (want sqlite:PATH or postgresql://...)");
}

void kura_db_close(kura_db *db)
{
    if (db)
        db->ops->close(db);
}

kura_db_kind kura_db_get_kind(const kura_db *db) { return db->kind; }

int kura_db_broken(kura_db *db) { return db->ops->broken(db); }
int kura_db_in_transaction(kura_db *db) { return db->ops->in_transaction(db); }

int kura_db_begin(kura_db *db, int write, kura_db_error *err)
{
    return db->ops->exec_simple(db, write ? db->ops->begin_write : "BEGIN", err);
}

int kura_db_commit(kura_db *db, kura_db_error *err) { return db->ops->exec_simple(db, "COMMIT", err); }

int kura_db_rollback(kura_db *db, kura_db_error *err)
{
    return db->ops->exec_simple(db, "ROLLBACK", err);
}

static int savepoint_sql(char *buf, size_t len, const char *verb, const char *name, kura_db_error *err)
{
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return kura_db_fail(err, KURA_DB_EINVAL, "db: bad savepoint name");
    if (!*name || (size_t)snprintf(buf, len, "%s %s", verb, name) >= len)
        return kura_db_fail(err, KURA_DB_EINVAL, "db: bad savepoint name");
    return KURA_DB_OK;
}

int kura_db_savepoint(kura_db *db, const char *name, kura_db_error *err)
{
    char sql[96];
    int rc = savepoint_sql(sql, sizeof sql, "SAVEPOINT", name, err);
    return rc ? rc : db->ops->exec_simple(db, sql, err);
}

int kura_db_release(kura_db *db, const char *name, kura_db_error *err)
{
    char sql[96];
    int rc = savepoint_sql(sql, sizeof sql, "RELEASE SAVEPOINT", name, err);
    return rc ? rc : db->ops->exec_simple(db, sql, err);
}

int kura_db_rollback_to(kura_db *db, const char *name, kura_db_error *err)
{
    char sql[96];
    int rc = savepoint_sql(sql, sizeof sql, "ROLLBACK TO SAVEPOINT", name, err);
    return rc ? rc : db->ops->exec_simple(db, sql, err);
}

int kura_db_exec(kura_db *db, kura_db_result **res, const char *sql,
                 const kura_db_param *params, size_t nparams, kura_db_error *err)
{
    if (res)
        *res = NULL;
    if (!db || !sql || (nparams && !params))
        return kura_db_fail(err, KURA_DB_EINVAL, "db: bad arguments");
    return db->ops->exec(db, res, sql, params, nparams, err);
}

int kura_db_exec_script(kura_db *db, const char *sql, kura_db_error *err)
{
    if (!db || !sql)
        return kura_db_fail(err, KURA_DB_EINVAL, "db: bad arguments");
    return db->ops->exec_simple(db, sql, err);
}
