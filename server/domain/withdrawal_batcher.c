/*
 * server/domain/withdrawal_batcher.c — the scheduled batcher
 * (withdrawals.h): a thread that, every interval, takes the lease
 * "batcher" and batches every wallet with enough queued withdrawals.
 *
 * The election is one function, batcher_elect(), so that moving it to
 * another mechanism (PostgreSQL advisory locks) touches nothing else.
 * The lease only saves work: batches are safe without it (withdrawals.c).
 */
#include "domain/withdrawals.h"
#include "log/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "domain/domain_internal.h"

#define LEASE_NAME "batcher"

struct kura_batcher {
    kura_store *st;
    int64_t interval, min_requests, lease_seconds;
    size_t max_outputs;
    char holder[64];
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
    uint64_t rounds, batches;
};

/* ---- the election ---- */

typedef struct elect_arg {
    const kura_batcher *b;
    int64_t now;
    int release;
    int held; /* out */
} elect_arg;

static int elect_fn(kura_db *db, void *varg, kura_db_error *err)
{
    elect_arg *a = varg;
    kura_db_result *res = NULL;
    int rc;
    a->held = 0;
    if (a->release)
        return kura_db_exec(db, NULL, "UPDATE leases SET expires_at = 0 WHERE name = $1 AND holder = $2",
                            (kura_db_param[]){KURA_DB_TEXT(LEASE_NAME), KURA_DB_TEXT(a->b->holder)},
                            2, err);
    /* Taken when free, expired, or already ours (then renewed). */
    rc = kura_db_exec(db, &res,
                      "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) "
                      "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                      "expires_at = excluded.expires_at "
                      "WHERE leases.holder = excluded.holder OR leases.expires_at <= $4 "
                      "RETURNING holder",
                      (kura_db_param[]){KURA_DB_TEXT(LEASE_NAME), KURA_DB_TEXT(a->b->holder),
                                        KURA_DB_INT(a->now + a->b->lease_seconds),
                                        KURA_DB_INT(a->now)},
                      4, err);
    if (rc == KURA_DB_OK)
        a->held = kura_db_result_rows(res) == 1;
    kura_db_result_free(res);
    return rc;
}

/* 1 when this batcher holds the lease (taken or renewed now), 0 when
 * another does, -1 when the database failed. release: give it up. */
static int batcher_elect(kura_batcher *b, int64_t now, int release)
{
    elect_arg a = {b, now, release, 0};
    kura_db_error err = {0};
    if (kura_store_write(b->st, elect_fn, &a, &err) != KURA_DB_OK) {
        kura_log(KURA_LOG_ERROR, "batcher: lease: %s", err.message);
        return -1;
    }
    return a.held;
}

/* ---- the thread ---- */

static void round_once(kura_batcher *b)
{
    int64_t now = (int64_t)time(NULL);
    size_t made = 0;
    kura_problem p = {0};
    if (batcher_elect(b, now, 0) != 1)
        return;
    if (kura_withdrawal_batch_due(b->st, b->min_requests, b->max_outputs, now, &made, &p) != 0)
        kura_log(KURA_LOG_ERROR, "batcher: %s: %s", kura_problem_name(p.code), p.message);
    if (made)
        kura_log(KURA_LOG_INFO, "batcher: %zu batch transfer(s) made", made);
    pthread_mutex_lock(&b->lock);
    b->rounds++;
    b->batches += made;
    pthread_mutex_unlock(&b->lock);
}

static void *run(void *arg)
{
    kura_batcher *b = arg;
    pthread_mutex_lock(&b->lock);
    while (!b->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)b->interval;
        while (!b->stop) {
            if (pthread_cond_timedwait(&b->cond, &b->lock, &until) == ETIMEDOUT)
                break;
        }
        if (b->stop)
            break;
        pthread_mutex_unlock(&b->lock);
        round_once(b);
        pthread_mutex_lock(&b->lock);
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

int kura_batcher_start(kura_batcher **out, kura_store *st, const kura_batcher_options *opts)
{
    kura_batcher *b;
    *out = NULL;
    if (!st || !opts || opts->interval <= 0)
        return -1;
    b = calloc(1, sizeof *b);
    if (!b)
        return -1;
    b->st = st;
    b->interval = opts->interval;
    b->min_requests = opts->min_requests > 0 ? opts->min_requests : 1;
    b->max_outputs = opts->max_outputs ? opts->max_outputs : KURA_BATCH_OUTPUTS_DEFAULT;
    /* Outlives one interval, so the holder keeps it from round to round. */
    b->lease_seconds = opts->interval + 60;
    if (opts->holder && opts->holder[0]) {
        snprintf(b->holder, sizeof b->holder, "%s", opts->holder);
    } else {
        uint8_t rnd[6];
        char hex[13];
        randombytes_buf(rnd, sizeof rnd);
        sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
        snprintf(b->holder, sizeof b->holder, "batcher-%s", hex);
    }
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->cond, NULL);
    if (pthread_create(&b->thread, NULL, run, b) != 0) {
        pthread_cond_destroy(&b->cond);
        pthread_mutex_destroy(&b->lock);
        free(b);
        return -1;
    }
    *out = b;
    return 0;
}

void kura_batcher_stop(kura_batcher *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->lock);
    b->stop = 1;
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);
    pthread_join(b->thread, NULL);
    batcher_elect(b, (int64_t)time(NULL), 1);
    pthread_cond_destroy(&b->cond);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

void kura_batcher_counts(kura_batcher *b, uint64_t *rounds, uint64_t *batches)
{
    pthread_mutex_lock(&b->lock);
    *rounds = b->rounds;
    *batches = b->batches;
    pthread_mutex_unlock(&b->lock);
}
