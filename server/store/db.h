/*
 * server/store/db.h — the database driver: one small interface, two backends
 * (db_sqlite.c, db_pg.c). Everything above it (the store's typed functions,
 * the migration runner) writes SQL once, in the common dialect below, and
 * never sees which backend runs it.
 *
 * The common dialect:
 *  - Parameters are written $1, $2, ... (PostgreSQL's spelling; the SQLite
 *    backend rewrites them to ?1, ?2, ...). A parameter is bound as text, as a
 *    64-bit integer, or as NULL (kura_db_param).
 *  - Column types: TEXT and BIGINT only. Binary values are stored as lower-case
 *    hex TEXT; times as BIGINT unix seconds (or milliseconds where a name says
 *    _ms); flags as BIGINT 0/1. Ids are TEXT made by the application
 *    (kura_db_new_id: time-ordered, so ORDER BY id is creation order and a
 *    cursor is just the last id seen), so no SERIAL/AUTOINCREMENT is needed.
 *  - Both engines accept: INSERT ... ON CONFLICT DO NOTHING / DO UPDATE,
 *    UPDATE ... RETURNING, LIMIT/OFFSET, CREATE INDEX IF NOT EXISTS.
 *
 * Results are read whole into memory as text (NULL stays NULL): queries that
 * can return many rows are paginated by their callers.
 *
 * Threads: a kura_db is one connection and is used by one thread at a time.
 * The store (store.h) keeps a pool of them.
 */
#ifndef KURA_SERVER_DB_H
#define KURA_SERVER_DB_H

#include <stddef.h>
#include <stdint.h>

/* Status codes of the driver (and of the store above it). */
#define KURA_DB_OK 0
#define KURA_DB_EINVAL (-1)     /* misuse: bad argument, bad URL */
#define KURA_DB_ENOMEM (-2)
#define KURA_DB_ECONSTRAINT (-3) /* a UNIQUE / PRIMARY KEY / CHECK / NOT NULL constraint refused the write */
#define KURA_DB_EBUSY (-4)      /* lock contention or serialization failure: retry the transaction */
#define KURA_DB_EIO (-5)        /* the database failed (disk, connection lost, SQL error) */
#define KURA_DB_ENOTFOUND (-6)  /* for typed lookups above the driver: no such row */
#define KURA_DB_ECONFLICT (-7)  /* for typed writes above the driver: the row changed under us */
#define KURA_DB_ESCHEMA (-8)    /* the database's schema is newer than this binary, or damaged */

/* The longest driver message, NUL included. */
#define KURA_DB_MESSAGE_MAX 256

typedef struct kura_db_error {
    int code;
    char message[KURA_DB_MESSAGE_MAX];
} kura_db_error;

typedef enum kura_db_kind {
    KURA_DB_SQLITE = 1,
    KURA_DB_POSTGRES = 2
} kura_db_kind;

typedef struct kura_db kura_db;
typedef struct kura_db_result kura_db_result;

/* A bound parameter. Build them with the KURA_DB_* macros below. */
typedef enum kura_db_param_type {
    KURA_DB_PARAM_NULL = 0,
    KURA_DB_PARAM_TEXT = 1,
    KURA_DB_PARAM_INT = 2
} kura_db_param_type;

typedef struct kura_db_param {
    kura_db_param_type type;
    const char *text; /* KURA_DB_PARAM_TEXT: NUL-terminated; NULL binds SQL NULL */
    int64_t value;    /* KURA_DB_PARAM_INT */
} kura_db_param;

#define KURA_DB_TEXT(s) ((kura_db_param){KURA_DB_PARAM_TEXT, (s), 0})
#define KURA_DB_INT(v) ((kura_db_param){KURA_DB_PARAM_INT, NULL, (int64_t)(v)})
#define KURA_DB_NULL ((kura_db_param){KURA_DB_PARAM_NULL, NULL, 0})

/* Returns a constant name for a status code ("KURA_DB_ECONSTRAINT"). */
const char *kura_db_status_name(int code);

/* Sets err (when not NULL) to `code` and the formatted message; returns code.
 * For every layer that reports through a kura_db_error. */
int kura_db_fail(kura_db_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Opens one connection.
 *   url: "sqlite:PATH" (a database file; created when absent, with WAL and
 *        synchronous=FULL, foreign keys on, a busy timeout) or a PostgreSQL
 *        connection string ("postgresql://..." or "postgres://..." or
 *        "host=/tmp/dir dbname=kura ..." prefixed with "postgres:").
 * Returns KURA_DB_OK and *out, or KURA_DB_EINVAL (unknown scheme), KURA_DB_EIO
 * (cannot open or connect; err says why), KURA_DB_ENOMEM. *out is NULL on
 * failure. */
int kura_db_open(kura_db **out, const char *url, kura_db_error *err);

/* Closes the connection (rolling back an open transaction). NULL is a no-op. */
void kura_db_close(kura_db *db);

kura_db_kind kura_db_get_kind(const kura_db *db);

/* Transactions. kura_db_begin(db, 1) starts a write transaction that takes
 * the write lock at once (SQLite: BEGIN IMMEDIATE), so a writer never fails
 * half-way for lack of the lock; kura_db_begin(db, 0) a read transaction.
 * kura_db_commit makes the writes durable before it returns (SQLite WAL with
 * synchronous=FULL; PostgreSQL's synchronous_commit as configured, on by
 * default). Savepoints nest inside a transaction (name: [a-z0-9_]+).
 * Each returns KURA_DB_OK or an error code (KURA_DB_EBUSY: retry). */
int kura_db_begin(kura_db *db, int write, kura_db_error *err);
int kura_db_commit(kura_db *db, kura_db_error *err);
int kura_db_rollback(kura_db *db, kura_db_error *err);
int kura_db_savepoint(kura_db *db, const char *name, kura_db_error *err);
int kura_db_release(kura_db *db, const char *name, kura_db_error *err);
int kura_db_rollback_to(kura_db *db, const char *name, kura_db_error *err);

/* Runs one statement of the common dialect with params[0..nparams) bound to
 * $1..$nparams.
 *   res: may be NULL (the rows are discarded); else receives the result
 *        (free with kura_db_result_free), also for statements without rows.
 * Returns KURA_DB_OK, KURA_DB_ECONSTRAINT, KURA_DB_EBUSY, KURA_DB_EIO,
 * KURA_DB_EINVAL, KURA_DB_ENOMEM. *res is NULL on failure. */
int kura_db_exec(kura_db *db, kura_db_result **res, const char *sql,
                 const kura_db_param *params, size_t nparams, kura_db_error *err);

/* Runs a script of several statements without parameters (migrations).
 * Returns as kura_db_exec. */
int kura_db_exec_script(kura_db *db, const char *sql, kura_db_error *err);

/* The rows of a result and the rows a write changed. */
size_t kura_db_result_rows(const kura_db_result *res);
size_t kura_db_result_columns(const kura_db_result *res);
size_t kura_db_result_changes(const kura_db_result *res);
/* The value at (row, col) as NUL-terminated text owned by the result, or NULL
 * for SQL NULL or an index out of range. */
const char *kura_db_result_text(const kura_db_result *res, size_t row, size_t col);
/* The value as an integer: *out gets it. Returns KURA_DB_OK, or KURA_DB_EINVAL
 * for NULL, out of range, or text that is not a decimal int64 (*out 0). */
int kura_db_result_int(int64_t *out, const kura_db_result *res, size_t row, size_t col);
void kura_db_result_free(kura_db_result *res);

/* Writes a new time-ordered id into out (at least KURA_DB_ID_SIZE bytes):
 * `prefix` ("tr", "wl", ... at most 4 chars), '_', 12 hex digits of the
 * current time in milliseconds, 4 hex digits of a sequence number, 12 hex
 * digits from the OS random source.
 * Ids sort in the order they were made: within one process strictly (a
 * sequence number orders those of the same millisecond, and the time part
 * never goes back), across processes to the millisecond. */
#define KURA_DB_ID_SIZE 40
void kura_db_new_id(char out[KURA_DB_ID_SIZE], const char *prefix);

#endif /* KURA_SERVER_DB_H */
