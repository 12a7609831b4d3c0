/*
 * server/store/db_sqlite.c — the SQLite backend of db.h.
 *
 * Durability: journal_mode=WAL with synchronous=FULL, so a COMMIT returns only
 * after the WAL is synced: an acknowledged write survives power loss (SQLite's
 * "WAL mode, synchronous=FULL" guarantee). Writers open transactions with
 * BEGIN IMMEDIATE, which takes the write lock up front: with a busy timeout a
 * writer waits for the lock instead of failing half-way through its work.
 *
 * Speed: each connection keeps its prepared statements, keyed by the SQL
 * text, in a small open-addressing table (the store's queries are a fixed set
 * of string constants, so after warm-up nothing is parsed again); a statement
 * is reset and its bindings cleared after every use, so a cached statement
 * holds no read lock and no pointer into the caller's memory.
 *
 * Files: the database and its -wal/-shm files are created mode 0600 (SQLite
 * gives the journal files the database file's mode), an existing database
 * file is narrowed to 0600, and a missing data directory is made 0700: the
 * file holds password hashes, TOTP secrets and the audit log.
 */
#include "store/db_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

/* Prepared statements kept per connection (a power of two). A lookup probes
 * a few slots; when they are all taken the first is finalized and replaced. */
#define STMT_CACHE_SLOTS 256
#define STMT_CACHE_PROBES 8

typedef struct stmt_slot {
    char *sql;            /* the common-dialect text it was prepared from (key) */
    sqlite3_stmt *stmt;
} stmt_slot;

typedef struct sqlite_db {
    kura_db base;
    sqlite3 *handle;
    stmt_slot cache[STMT_CACHE_SLOTS];
} sqlite_db;

static size_t sql_hash(const char *s)
{
    /* FNV-1a: the keys are our own constant SQL, not attacker input. */
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return (size_t)(h ^ (h >> 32));
}

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

static void cache_clear(sqlite_db *db)
{
    for (size_t i = 0; i < STMT_CACHE_SLOTS; i++) {
        sqlite3_finalize(db->cache[i].stmt);
        free(db->cache[i].sql);
        db->cache[i].stmt = NULL;
        db->cache[i].sql = NULL;
    }
}

static void sqlite_close(kura_db *base)
{
    sqlite_db *db = (sqlite_db *)base;
    cache_clear(db);
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

/* The prepared statement for `sql` (common dialect): from the cache, or
 * prepared now and cached. Returns an SQLite code. */
static int stmt_get(sqlite_db *db, const char *sql, sqlite3_stmt **out)
{
    size_t h = sql_hash(sql), victim = h & (STMT_CACHE_SLOTS - 1);
    char *text, *key;
    int rc;
    *out = NULL;
    for (size_t i = 0; i < STMT_CACHE_PROBES; i++) {
        stmt_slot *s = &db->cache[(h + i) & (STMT_CACHE_SLOTS - 1)];
        if (!s->sql) {
            victim = (h + i) & (STMT_CACHE_SLOTS - 1);
            break;
        }
        if (strcmp(s->sql, sql) == 0) {
            *out = s->stmt;
            return SQLITE_OK;
        }
    }
    text = rewrite_params(sql);
    key = strdup(sql);
    if (!text || !key) {
        free(text);
        free(key);
        return SQLITE_NOMEM;
    }
    rc = sqlite3_prepare_v2(db->handle, text, -1, out, NULL);
    free(text);
    if (rc != SQLITE_OK) {
        free(key);
        sqlite3_finalize(*out);
        *out = NULL;
        return rc;
    }
    /* A statement without SQL (only a comment) compiles to NULL: nothing to cache. */
    if (!*out) {
        free(key);
        return SQLITE_MISUSE;
    }
    sqlite3_finalize(db->cache[victim].stmt);
    free(db->cache[victim].sql);
    db->cache[victim].sql = key;
    db->cache[victim].stmt = *out;
    return SQLITE_OK;
}

/* Done with a cached statement: reset it (releasing its read lock) and drop
 * its bindings (pointers into the caller's memory). */
static void stmt_put(sqlite3_stmt *stmt)
{
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
}

static int sqlite_exec(kura_db *base, kura_db_result **res, const char *sql,
                       const kura_db_param *params, size_t nparams, kura_db_error *err)
{
    sqlite_db *db = (sqlite_db *)base;
    sqlite3_stmt *stmt = NULL;
    kura_db_result *result = NULL;
    int rc, status = KURA_DB_OK;

    rc = stmt_get(db, sql, &stmt);
    if (rc != SQLITE_OK)
        return rc == SQLITE_NOMEM ? kura_db_fail(err, KURA_DB_ENOMEM, "sqlite: out of memory")
                                  : fail_sqlite(db, rc, err);
    if ((size_t)sqlite3_bind_parameter_count(stmt) > nparams) {
        status = kura_db_fail(err, KURA_DB_EINVAL, "sqlite: statement wants %d parameters, %zu given",
                              sqlite3_bind_parameter_count(stmt), nparams);
        stmt_put(stmt);
        return status;
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
            stmt_put(stmt);
            return status;
        }
    }

    /* Step first, then count the columns: a cached statement whose tables
     * changed is prepared again inside the first sqlite3_step, and only then
     * has its new columns ("SELECT *" over a table made again). */
    rc = sqlite3_step(stmt);
    result = kura_db_result_new((size_t)sqlite3_column_count(stmt));
    if (!result) {
        stmt_put(stmt);
        return kura_db_fail(err, KURA_DB_ENOMEM, "sqlite: out of memory");
    }
    for (; rc == SQLITE_ROW; rc = sqlite3_step(stmt)) {
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
    /* sqlite3_changes before the reset (a reset does not change it, but keep
     * the order obvious). */
    if (status == KURA_DB_OK)
        result->changes = (size_t)sqlite3_changes(db->handle);
    stmt_put(stmt);
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

static int sqlite_broken(kura_db *base)
{
    (void)base;
    return 0;
}

static int sqlite_in_transaction(kura_db *base)
{
    return !sqlite3_get_autocommit(((sqlite_db *)base)->handle);
}

static const kura_db_ops sqlite_ops = {
    .begin_write = "BEGIN IMMEDIATE",
    .close = sqlite_close,
    .exec_simple = sqlite_exec_simple,
    .exec = sqlite_exec,
    .broken = sqlite_broken,
    .in_transaction = sqlite_in_transaction,
};

/* Makes the data directory (0700) when it is missing, and the database file
 * (0600) when it is missing; narrows an existing file to 0600. An existing
 * directory is left as it is (it may be shared, like /tmp). */
static int prepare_files(const char *path, kura_db_error *err)
{
    char *dir = strdup(path), *slash;
    struct stat stt;
    int fd;
    if (!dir)
        return kura_db_fail(err, KURA_DB_ENOMEM, "sqlite: out of memory");
    slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            int e = errno;
            int status = kura_db_fail(err, KURA_DB_EIO, "sqlite: cannot make the directory %s: %s",
                                      dir, strerror(e));
            free(dir);
            return status;
        }
    }
    free(dir);
    if (strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0)
        return KURA_DB_OK;
    /* Never open() and close() a database file that exists: closing any
     * descriptor of a file drops every POSIX lock this process holds on it,
     * the locks of the pool's other SQLite connections included — and then
     * another process can take the database as unlocked (SQLite's "How To
     * Corrupt", 2.2). An existing file is made private by its name; only a
     * file that does not exist yet (so no connection can hold it) is made
     * here, 0600 from the start. */
    if (lstat(path, &stt) == 0) {
        if (!S_ISREG(stt.st_mode))
            return kura_db_fail(err, KURA_DB_EIO, "sqlite: %s is not a regular file", path);
        if ((stt.st_mode & 077) != 0 && chmod(path, 0600) != 0)
            return kura_db_fail(err, KURA_DB_EIO, "sqlite: cannot make %s private: %s", path,
                                strerror(errno));
        return KURA_DB_OK;
    }
    /* A new file: nobody holds a lock on it yet. */
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && errno == EEXIST)
        return prepare_files(path, err); /* made by another thread meanwhile */
    if (fd < 0)
        return kura_db_fail(err, KURA_DB_EIO, "sqlite: cannot open %s: %s", path, strerror(errno));
    close(fd);
    return KURA_DB_OK;
}

int kura_db_sqlite_open(kura_db **out, const char *path, kura_db_error *err)
{
    sqlite_db *db = calloc(1, sizeof *db);
    int rc;
    if (!db)
        return kura_db_fail(err, KURA_DB_ENOMEM, "sqlite: out of memory");
    db->base.ops = &sqlite_ops;
    db->base.kind = KURA_DB_SQLITE;
    rc = prepare_files(path, err);
    if (rc != KURA_DB_OK) {
        free(db);
        return rc;
    }
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
                      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
                      "PRAGMA temp_store=MEMORY;",
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
