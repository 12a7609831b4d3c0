/*
 * server/store/store.c — the connection pool, the migration runner and the
 * transaction runner of store.h.
 */
#include "store/store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "store/db_internal.h"
#include "store/migrations.h"

#define STORE_POOL_DEFAULT 16
#define STORE_RETRIES 20

struct kura_store {
    char *url;
    kura_db_kind kind;
    pthread_mutex_t lock;
    pthread_cond_t available;
    kura_db **idle;     /* connections not in use */
    size_t idle_count;
    size_t open_count;  /* connections open (idle or lent) */
    size_t pool_size;
    kura_store_stats stats;
};

/* ---- the pool ---- */

static int acquire(kura_store *st, kura_db **out, kura_db_error *err)
{
    int rc = KURA_DB_OK;
    *out = NULL;
    pthread_mutex_lock(&st->lock);
    while (st->idle_count == 0 && st->open_count >= st->pool_size)
        pthread_cond_wait(&st->available, &st->lock);
    if (st->idle_count > 0) {
        *out = st->idle[--st->idle_count];
        pthread_mutex_unlock(&st->lock);
        return KURA_DB_OK;
    }
    st->open_count++;
    pthread_mutex_unlock(&st->lock);
    rc = kura_db_open(out, st->url, err);
    if (rc != KURA_DB_OK) {
        pthread_mutex_lock(&st->lock);
        st->open_count--;
        pthread_cond_signal(&st->available);
        pthread_mutex_unlock(&st->lock);
    }
    return rc;
}

/* Gives a connection back; a broken one (`broken` set) is closed instead. */
static void release(kura_store *st, kura_db *db, int broken)
{
    pthread_mutex_lock(&st->lock);
    if (broken) {
        kura_db_close(db);
        st->open_count--;
    } else {
        st->idle[st->idle_count++] = db;
    }
    pthread_cond_signal(&st->available);
    pthread_mutex_unlock(&st->lock);
}

/* ---- migrations ---- */

static void migration_checksum(char out[65], const char *sql)
{
    uint8_t h[32];
    crypto_hash_sha256(h, (const uint8_t *)sql, strlen(sql));
    sodium_bin2hex(out, 65, h, sizeof h);
}

int64_t kura_store_schema_latest(void)
{
    return kura_migration_count ? kura_migrations[kura_migration_count - 1].version : 0;
}

static int read_version(kura_db *db, int64_t *version, kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc = kura_db_exec(db, &res, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                          NULL, 0, err);
    *version = 0;
    if (rc == KURA_DB_OK && kura_db_result_int(version, res, 0, 0) != KURA_DB_OK)
        rc = kura_db_fail(err, KURA_DB_ESCHEMA, "store: unreadable schema version");
    kura_db_result_free(res);
    return rc;
}

/* Applies migration m unless it is there; checks the checksum of one that is. */
static int apply_one(kura_db *db, const kura_migration *m, kura_db_error *err)
{
    char sum[65];
    kura_db_result *res = NULL;
    int rc;
    migration_checksum(sum, m->sql);
    rc = kura_db_begin(db, 1, err);
    if (rc != KURA_DB_OK)
        return rc;
    rc = kura_db_exec(db, &res, "SELECT checksum FROM schema_migrations WHERE version = $1",
                      (kura_db_param[]){KURA_DB_INT(m->version)}, 1, err);
    if (rc == KURA_DB_OK && kura_db_result_rows(res) == 1) {
        const char *have = kura_db_result_text(res, 0, 0);
        if (!have || strcmp(have, sum) != 0)
            rc = kura_db_fail(err, KURA_DB_ESCHEMA,
                              "store: migration %04lld_%s in the database differs from this binary's",
                              (long long)m->version, m->name);
        kura_db_result_free(res);
        kura_db_rollback(db, NULL);
        return rc;
    }
    kura_db_result_free(res);
    if (rc == KURA_DB_OK)
        rc = kura_db_exec_script(db, m->sql, err);
    if (rc == KURA_DB_OK)
        rc = kura_db_exec(db, NULL,
                          "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
                          "VALUES ($1, $2, $3, $4)",
                          (kura_db_param[]){KURA_DB_INT(m->version), KURA_DB_TEXT(m->name),
                                            KURA_DB_TEXT(sum), KURA_DB_INT(time(NULL))},
                          4, err);
    if (rc == KURA_DB_OK)
        rc = kura_db_commit(db, err);
    if (rc != KURA_DB_OK)
        kura_db_rollback(db, NULL);
    return rc;
}

static int migrate(kura_db *db, kura_db_error *err)
{
    int64_t have = 0;
    int rc = kura_db_exec_script(db,
                                 "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                 " version BIGINT PRIMARY KEY, name TEXT NOT NULL,"
                                 " checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)",
                                 err);
    if (rc == KURA_DB_OK)
        rc = read_version(db, &have, err);
    if (rc != KURA_DB_OK)
        return rc;
    if (have > kura_store_schema_latest())
        return kura_db_fail(err, KURA_DB_ESCHEMA,
                            "store: the database's schema (version %lld) is newer than this "
                            "kura-server knows (version %lld): upgrade kura-server",
                            (long long)have, (long long)kura_store_schema_latest());
    for (size_t i = 0; i < kura_migration_count; i++) {
        /* Another server may apply the same migration at the same moment:
         * its INSERT then fails on the primary key; look again. */
        int tries = 0;
        do {
            rc = apply_one(db, &kura_migrations[i], err);
        } while ((rc == KURA_DB_ECONSTRAINT || rc == KURA_DB_EBUSY) && ++tries < 5);
        if (rc != KURA_DB_OK)
            return rc;
    }
    return KURA_DB_OK;
}

/* ---- open and close ---- */

int kura_store_open(kura_store **out, const char *url, size_t pool_size, kura_db_error *err)
{
    kura_store *st;
    kura_db *db = NULL;
    int rc;
    if (!out || !url)
        return kura_db_fail(err, KURA_DB_EINVAL, "store: no URL");
    *out = NULL;
    if (sodium_init() < 0)
        return kura_db_fail(err, KURA_DB_EIO, "store: libsodium failed to start");
    st = calloc(1, sizeof *st);
    if (!st)
        return kura_db_fail(err, KURA_DB_ENOMEM, "store: out of memory");
    st->pool_size = pool_size ? pool_size : STORE_POOL_DEFAULT;
    st->url = strdup(url);
    st->idle = calloc(st->pool_size, sizeof *st->idle);
    if (!st->url || !st->idle) {
        free(st->url);
        free(st->idle);
        free(st);
        return kura_db_fail(err, KURA_DB_ENOMEM, "store: out of memory");
    }
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->available, NULL);
    rc = acquire(st, &db, err);
    if (rc == KURA_DB_OK) {
        st->kind = kura_db_get_kind(db);
        rc = migrate(db, err);
        release(st, db, rc != KURA_DB_OK);
    }
    if (rc != KURA_DB_OK) {
        kura_store_close(st);
        return rc;
    }
    *out = st;
    return KURA_DB_OK;
}

void kura_store_close(kura_store *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->idle_count; i++)
        kura_db_close(st->idle[i]);
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->available);
    free(st->idle);
    free(st->url);
    free(st);
}

kura_db_kind kura_store_kind(const kura_store *st) { return st->kind; }

int kura_store_schema_version(kura_store *st, int64_t *version, kura_db_error *err)
{
    kura_db *db = NULL;
    int rc = acquire(st, &db, err);
    if (rc != KURA_DB_OK)
        return rc;
    rc = read_version(db, version, err);
    release(st, db, rc == KURA_DB_EIO);
    return rc;
}

/* ---- transactions ---- */

static void backoff(int attempt)
{
    /* 1, 2, 4, ... ms, at most 100 ms, with jitter so retriers spread out. */
    long ms = 1L << (attempt < 7 ? attempt : 7);
    struct timespec ts;
    if (ms > 100)
        ms = 100;
    ms = ms / 2 + (long)randombytes_uniform((uint32_t)ms + 1u);
    ts.tv_sec = 0;
    ts.tv_nsec = ms * 1000000L;
    nanosleep(&ts, NULL);
}

static int run(kura_store *st, int write, kura_store_fn fn, void *arg, kura_db_error *err)
{
    int rc = KURA_DB_OK;
    for (int attempt = 0; attempt < STORE_RETRIES; attempt++) {
        kura_db *db = NULL;
        int broken = 0;
        rc = acquire(st, &db, err);
        if (rc != KURA_DB_OK)
            break;
        rc = kura_db_begin(db, write, err);
        if (rc == KURA_DB_OK) {
            rc = fn(db, arg, err);
            if (rc == KURA_DB_OK)
                rc = kura_db_commit(db, err);
            if (rc != KURA_DB_OK)
                kura_db_rollback(db, NULL);
        }
        broken = (rc == KURA_DB_EIO);
        release(st, db, broken);

        pthread_mutex_lock(&st->lock);
        if (rc == KURA_DB_OK && write)
            st->stats.commits++;
        else if (rc > 0 || rc == KURA_DB_ENOTFOUND || rc == KURA_DB_ECONFLICT ||
                 rc == KURA_DB_ECONSTRAINT)
            st->stats.rollbacks++;
        else if (rc == KURA_DB_EBUSY)
            st->stats.retries++;
        else if (rc != KURA_DB_OK)
            st->stats.failures++;
        pthread_mutex_unlock(&st->lock);

        if (rc != KURA_DB_EBUSY)
            break;
        backoff(attempt);
    }
    return rc;
}

int kura_store_write(kura_store *st, kura_store_fn fn, void *arg, kura_db_error *err)
{
    if (!st || !fn)
        return kura_db_fail(err, KURA_DB_EINVAL, "store: bad arguments");
    return run(st, 1, fn, arg, err);
}

int kura_store_read(kura_store *st, kura_store_fn fn, void *arg, kura_db_error *err)
{
    if (!st || !fn)
        return kura_db_fail(err, KURA_DB_EINVAL, "store: bad arguments");
    return run(st, 0, fn, arg, err);
}

void kura_store_get_stats(kura_store *st, kura_store_stats *out)
{
    pthread_mutex_lock(&st->lock);
    *out = st->stats;
    pthread_mutex_unlock(&st->lock);
}
