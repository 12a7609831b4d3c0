/*
 * server/domain/withdrawal_batcher.c — the scheduled batcher
 * (withdrawals.h): a thread that, every interval, leads the role "batcher"
 * (store/leader.h: a PostgreSQL advisory lock, a lease row on SQLite) and
 * batches every wallet with enough queued withdrawals. The election only
 * saves work: batches are safe without it (withdrawals.c).
 */
#include "domain/withdrawals.h"
#include "log/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


#include "domain/domain_internal.h"
#include "store/leader.h"

struct kura_batcher {
    kura_store *st;
    int64_t interval, min_requests;
    kura_leader *leader;
    size_t max_outputs;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
    uint64_t rounds, batches;
};

/* ---- the thread ---- */

static void round_once(kura_batcher *b)
{
    int64_t now = (int64_t)time(NULL);
    size_t made = 0;
    kura_problem p = {0};
    kura_db_error err = {0};
    int leading = 0;
    if (kura_leader_try_acquire(b->leader, now, &leading, &err) != KURA_DB_OK) {
        kura_log(KURA_LOG_ERROR, "batcher: election: %s", err.message);
        return;
    }
    if (!leading)
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
    /* The lease outlives one interval, so the holder keeps it from round
     * to round; holder NULL: the leader module makes a name. */
    if (kura_leader_new(&b->leader, st, "batcher", opts->holder, opts->interval + 60, NULL) !=
        KURA_DB_OK) {
        free(b);
        return -1;
    }
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->cond, NULL);
    if (pthread_create(&b->thread, NULL, run, b) != 0) {
        pthread_cond_destroy(&b->cond);
        pthread_mutex_destroy(&b->lock);
        kura_leader_free(b->leader);
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
    kura_leader_free(b->leader); /* gives the role up at once */
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
