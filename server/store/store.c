/*
 * server/store/store.c — the connection pool, the migration runner and the
 * transaction runner of store.h, with SQLite's group commit.
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
#define STORE_GROUP_MAX_DEFAULT 128
#define STORE_GROUP_MAX_LIMIT 1024

/* The advisory lock key that serialises migrations across PostgreSQL servers
 * ("kura" "mig" in ASCII). */
#define STORE_MIGRATION_LOCK "7050746839213705575"

/* One kura_store_write waiting in the group commit queue. It lives on its
 * caller's stack; the caller waits until `done`, so the leader may use it. */
typedef struct group_req {
    kura_store_fn fn;
    void *arg;
    kura_db_error *err;
    int rc;              /* the outcome, once done */
    int done;
    int run_alone;       /* fn met KURA_DB_EBUSY inside the batch: run it on its own */
    pthread_cond_t wake; /* signalled when done, or when it is the queue's head and may lead */
    struct group_req *next;
} group_req;

/* The write a thread's function is running inside (nesting check). */
static _Thread_local const kura_store *current_write;

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
    /* group commit (SQLite) */
    int group_commit;
    size_t group_max;
    pthread_mutex_t group_lock;
    group_req *queue_head, *queue_tail;
    int leader;                  /* a batch is running */
};

/* ---- the pool ---- */

static int acquire(kura_store *st, kura_db **out, kura_db_error *err)
{
    int rc = KURA_DB_OK;
    *out = NULL;
    pthread_mutex_lock(&st->lock);
    for (;;) {
        while (st->idle_count == 0 && st->open_count >= st->pool_size)
            pthread_cond_wait(&st->available, &st->lock);
        if (st->idle_count == 0)
            break;
        *out = st->idle[--st->idle_count];
        if (!kura_db_broken(*out)) {
            pthread_mutex_unlock(&st->lock);
            return KURA_DB_OK;
        }
        /* Lost while idle (the server restarted): replace it. */
        kura_db_close(*out);
        *out = NULL;
        st->open_count--;
        st->stats.reconnects++;
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
    if (broken || kura_db_broken(db)) {
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

/* PostgreSQL: inside a transaction, waits until no other server is migrating
 * (pg_advisory_xact_lock, released at COMMIT or ROLLBACK), so two servers
 * starting at once apply each migration once and never see a half-made
 * schema. SQLite's BEGIN IMMEDIATE serialises writers already. */
static int migration_lock(kura_db *db, kura_db_error *err)
{
    if (kura_db_get_kind(db) != KURA_DB_POSTGRES)
        return KURA_DB_OK;
    return kura_db_exec(db, NULL, "SELECT pg_advisory_xact_lock(" STORE_MIGRATION_LOCK ")", NULL, 0,
                        err);
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
    rc = migration_lock(db, err);
    if (rc != KURA_DB_OK) {
        kura_db_rollback(db, NULL);
        return rc;
    }
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
    /* Two PostgreSQL servers running CREATE TABLE IF NOT EXISTS at once can
     * both try to create it (a unique violation in the catalog): under the lock. */
    int rc = kura_db_begin(db, 1, err);
    if (rc == KURA_DB_OK)
        rc = migration_lock(db, err);
    if (rc == KURA_DB_OK)
        rc = kura_db_exec_script(db,
                                 "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                 " version BIGINT PRIMARY KEY, name TEXT NOT NULL,"
                                 " checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)",
                                 err);
    if (rc == KURA_DB_OK)
        rc = kura_db_commit(db, err);
    else
        kura_db_rollback(db, NULL);
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
    kura_store_options opts = {0};
    opts.pool_size = pool_size;
    return kura_store_open_options(out, url, &opts, err);
}

int kura_store_open_options(kura_store **out, const char *url, const kura_store_options *opts,
                            kura_db_error *err)
{
    static const kura_store_options defaults = {0};
    size_t pool_size;
    kura_store *st;
    kura_db *db = NULL;
    int rc;
    if (!out || !url)
        return kura_db_fail(err, KURA_DB_EINVAL, "store: no URL");
    *out = NULL;
    if (!opts)
        opts = &defaults;
    pool_size = opts->pool_size;
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
    pthread_mutex_init(&st->group_lock, NULL);
    st->group_max = opts->group_max ? opts->group_max : STORE_GROUP_MAX_DEFAULT;
    rc = acquire(st, &db, err);
    if (rc == KURA_DB_OK) {
        st->kind = kura_db_get_kind(db);
        st->group_commit = st->kind == KURA_DB_SQLITE && !opts->no_group_commit;
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
    pthread_mutex_destroy(&st->group_lock);
    free(st->idle);
    free(st->url);
    free(st);
}

kura_db_kind kura_store_kind(const kura_store *st) { return st->kind; }

int kura_store_connect(kura_store *st, kura_db **out, kura_db_error *err)
{
    if (out)
        *out = NULL;
    if (!st || !out)
        return kura_db_fail(err, KURA_DB_EINVAL, "store: bad arguments");
    return kura_db_open(out, st->url, err);
}

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

const int64_t kura_store_commit_bucket_us[KURA_STORE_COMMIT_BUCKETS] = {
    250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 500000};

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A write COMMIT of us microseconds, into the histogram of /metrics. */
static void commit_timed(kura_store *st, int64_t us)
{
    size_t b = 0;
    while (b < KURA_STORE_COMMIT_BUCKETS && us > kura_store_commit_bucket_us[b])
        b++;
    pthread_mutex_lock(&st->lock);
    st->stats.commit_buckets[b]++;
    st->stats.commit_sum_us += (uint64_t)(us > 0 ? us : 0);
    st->stats.commit_count++;
    pthread_mutex_unlock(&st->lock);
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
        if (rc != KURA_DB_OK && kura_db_broken(db)) {
            /* The connection was lost while idle and nothing ran on it:
             * start again on a new one. */
            release(st, db, 1);
            pthread_mutex_lock(&st->lock);
            st->stats.reconnects++;
            pthread_mutex_unlock(&st->lock);
            continue;
        }
        if (rc == KURA_DB_OK) {
            if (write)
                current_write = st;
            rc = fn(db, arg, err);
            current_write = NULL;
            if (rc == KURA_DB_OK) {
                int64_t t0 = write ? mono_us() : 0;
                rc = kura_db_commit(db, err);
                if (write && rc == KURA_DB_OK)
                    commit_timed(st, mono_us() - t0);
            }
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

/* ---- group commit (SQLite) ---- */

static void count(kura_store *st, uint64_t commits, uint64_t rollbacks, uint64_t retries,
                  uint64_t failures, uint64_t groups)
{
    pthread_mutex_lock(&st->lock);
    st->stats.commits += commits;
    st->stats.rollbacks += rollbacks;
    st->stats.retries += retries;
    st->stats.failures += failures;
    st->stats.group_commits += groups;
    pthread_mutex_unlock(&st->lock);
}

/* Every request of the batch not yet settled gets rc and the message. */
static void settle_all(group_req **reqs, size_t n, const int *settled, int rc,
                       const kura_db_error *why)
{
    for (size_t i = 0; i < n; i++) {
        if (settled[i])
            continue;
        reqs[i]->rc = rc;
        if (reqs[i]->err && why)
            *reqs[i]->err = *why;
    }
}

/* Runs reqs[0..n) in one transaction, each in a savepoint, and commits once.
 * Sets each request's rc (and run_alone); does not mark them done. */
static void run_batch(kura_store *st, group_req **reqs, size_t n)
{
    int *settled = calloc(n, sizeof *settled); /* rc final whatever the COMMIT does */
    int *ok = calloc(n, sizeof *ok);
    kura_db_error why = {0};
    int rc = KURA_DB_OK;

    if (!settled || !ok) {
        free(settled);
        free(ok);
        for (size_t i = 0; i < n; i++)
            reqs[i]->run_alone = 1; /* out of memory: let each try alone */
        return;
    }
    for (int attempt = 0; attempt < STORE_RETRIES; attempt++) {
        kura_db *db = NULL;
        int restart = 0;
        size_t committed = 0, refused = 0;

        rc = acquire(st, &db, &why);
        if (rc != KURA_DB_OK)
            break;
        rc = kura_db_begin(db, 1, &why);
        if (rc != KURA_DB_OK) {
            release(st, db, rc == KURA_DB_EIO);
            if (rc != KURA_DB_EBUSY)
                break;
            count(st, 0, 0, 1, 0, 0);
            backoff(attempt);
            continue;
        }
        for (size_t i = 0; i < n && !restart; i++) {
            int r;
            if (settled[i])
                continue;
            ok[i] = 0;
            r = kura_db_savepoint(db, "kura_group", &why);
            if (r != KURA_DB_OK) {
                rc = r;
                restart = -1; /* the transaction is unusable: fail the rest */
                break;
            }
            current_write = st;
            r = reqs[i]->fn(db, reqs[i]->arg, reqs[i]->err);
            current_write = NULL;
            if (r == KURA_DB_OK)
                r = kura_db_release(db, "kura_group", reqs[i]->err);
            if (r == KURA_DB_OK) {
                ok[i] = 1;
                continue;
            }
            /* This one failed: undo only its own work. If SQLite has rolled
             * back the whole transaction by itself (I/O error, full disk),
             * the others' work is gone too: settle this one, run the rest
             * again in a new transaction. */
            if (!kura_db_in_transaction(db) ||
                kura_db_rollback_to(db, "kura_group", NULL) != KURA_DB_OK ||
                kura_db_release(db, "kura_group", NULL) != KURA_DB_OK)
                restart = 1;
            if (r == KURA_DB_EBUSY)
                reqs[i]->run_alone = 1;
            reqs[i]->rc = r;
            settled[i] = 1;
            if (r != KURA_DB_EBUSY)
                refused++;
        }
        if (restart) {
            kura_db_rollback(db, NULL);
            release(st, db, rc == KURA_DB_EIO);
            count(st, 0, refused, 0, 0, 0);
            if (restart < 0)
                break;
            continue;
        }
        int64_t t0 = mono_us();
        rc = kura_db_commit(db, &why);
        if (rc == KURA_DB_OK) {
            commit_timed(st, mono_us() - t0);
            release(st, db, 0);
            for (size_t i = 0; i < n; i++)
                if (ok[i]) {
                    reqs[i]->rc = KURA_DB_OK;
                    settled[i] = 1;
                    committed++;
                }
            count(st, committed, refused, 0, 0, 1);
            free(settled);
            free(ok);
            return;
        }
        kura_db_rollback(db, NULL);
        release(st, db, rc == KURA_DB_EIO);
        if (rc != KURA_DB_EBUSY)
            break;
        /* Nothing committed: every function runs again, the refused ones
         * too (they decided on state that is gone). */
        for (size_t i = 0; i < n; i++)
            if (!reqs[i]->run_alone)
                settled[i] = 0;
        count(st, 0, 0, 1, 0, 0);
        backoff(attempt);
    }
    settle_all(reqs, n, settled, rc == KURA_DB_OK ? KURA_DB_EBUSY : rc, &why);
    count(st, 0, 0, 0, 1, 0);
    free(settled);
    free(ok);
}

/* Each waiter sleeps on its own condition variable: the leader wakes the
 * members of the batch it ran and the next queue head (the next leader), not
 * every waiting thread (with 32 writers queued, a broadcast woke them all
 * after every batch to find they had nothing to do). */
static int group_write(kura_store *st, kura_store_fn fn, void *arg, kura_db_error *err)
{
    group_req me = {fn, arg, err, KURA_DB_OK, 0, 0, PTHREAD_COND_INITIALIZER, NULL};
    pthread_mutex_lock(&st->group_lock);
    if (st->queue_tail)
        st->queue_tail->next = &me;
    else
        st->queue_head = &me;
    st->queue_tail = &me;
    while (!me.done) {
        group_req *batch[STORE_GROUP_MAX_LIMIT];
        size_t n = 0, max = st->group_max;
        if (st->leader) {
            pthread_cond_wait(&me.wake, &st->group_lock);
            continue;
        }
        /* Lead: take the queue (up to group_max) and run it as one transaction. */
        st->leader = 1;
        if (max > sizeof batch / sizeof batch[0])
            max = sizeof batch / sizeof batch[0];
        while (st->queue_head && n < max) {
            batch[n++] = st->queue_head;
            st->queue_head = st->queue_head->next;
        }
        if (!st->queue_head)
            st->queue_tail = NULL;
        pthread_mutex_unlock(&st->group_lock);
        run_batch(st, batch, n);
        pthread_mutex_lock(&st->group_lock);
        for (size_t i = 0; i < n; i++) {
            batch[i]->done = 1;
            if (batch[i] != &me)
                pthread_cond_signal(&batch[i]->wake);
        }
        st->leader = 0;
        if (st->queue_head)
            pthread_cond_signal(&st->queue_head->wake);
    }
    pthread_mutex_unlock(&st->group_lock);
    pthread_cond_destroy(&me.wake);
    if (me.run_alone)
        return run(st, 1, fn, arg, err);
    return me.rc;
}

int kura_store_write(kura_store *st, kura_store_fn fn, void *arg, kura_db_error *err)
{
    if (!st || !fn)
        return kura_db_fail(err, KURA_DB_EINVAL, "store: bad arguments");
    if (current_write == st)
        return kura_db_fail(err, KURA_DB_EINVAL,
                            "store: kura_store_write called inside a write of the same store");
    if (st->group_commit)
        return group_write(st, fn, arg, err);
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
