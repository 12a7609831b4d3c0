/*
 * server/chain/broadcast.c — fee rate, broadcast and rebroadcast
 * (broadcast.h); the worker thread.
 */
#include "chain/broadcast.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chain/notify.h"
#include "domain/transfers.h"
#include "kura/block.h"
#include "store/db.h"
#include "log/log.h"

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int fail(kura_rpc_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        err->rpc_code = 0;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* ---- fee rate ---- */

typedef struct fee_arg {
    uint64_t rate;
} fee_arg;

static int fee_fn(kura_db *db, void *varg, kura_db_error *err)
{
    fee_arg *a = varg;
    return kura_db_exec(db, NULL, "UPDATE chain_status SET fee_rate = $1 WHERE id = 1",
                        (kura_db_param[]){KURA_DB_INT((int64_t)a->rate)}, 1, err);
}

int kura_chain_update_fee(kura_store *st, kura_rpc *rpc, const kura_fee_options *o, int64_t now,
                          uint64_t *rate, kura_rpc_error *err)
{
    unsigned target = o && o->target ? o->target : 6;
    uint64_t floor = o && o->floor ? o->floor : 1000;
    uint64_t ceiling = o && o->ceiling ? o->ceiling : 500000;
    uint64_t est = 0;
    fee_arg a;
    kura_db_error dberr = {0};
    int rc;
    (void)now;
    if (rate)
        *rate = 0;
    if (ceiling < floor)
        ceiling = floor;
    if ((rc = kura_rpc_estimate_fee(rpc, target, &est, err)))
        return rc;
    a.rate = est < floor ? floor : est > ceiling ? ceiling : est;
    kura_transfer_set_fee_rate(a.rate);
    if ((rc = kura_store_write(st, fee_fn, &a, &dberr)))
        return fail(err, KURA_FOLLOWER_EDB, "database: %s", dberr.message);
    if (rate)
        *rate = a.rate;
    return KURA_RPC_OK;
}

/* ---- broadcast ---- */

typedef struct due_arg {
    int64_t before;
    kura_db_result *signed_;
    kura_db_result *again;
} due_arg;

static int due_fn(kura_db *db, void *varg, kura_db_error *err)
{
    due_arg *a = varg;
    int rc = kura_db_exec(db, &a->signed_,
                          "SELECT id, raw_tx, txid FROM transfers WHERE state = 'signed' AND "
                          "raw_tx IS NOT NULL ORDER BY id LIMIT 100",
                          NULL, 0, err);
    if (rc)
        return rc;
    return kura_db_exec(db, &a->again,
                        "SELECT t.id, t.raw_tx, t.txid FROM transfers t LEFT JOIN chain_transfers "
                        "c ON c.transfer_id = t.id WHERE t.state = 'broadcast' AND t.raw_tx IS "
                        "NOT NULL AND c.block_hash IS NULL AND (c.last_broadcast_at IS NULL OR "
                        "c.last_broadcast_at <= $1) ORDER BY t.id LIMIT 100",
                        (kura_db_param[]){KURA_DB_INT(a->before)}, 1, err);
}

typedef struct mark_arg {
    const char *id, *txid, *error;
    int move;          /* 1: signed -> broadcast */
    int64_t now;
    kura_problem p;
} mark_arg;

static int mark_fn(kura_db *db, void *varg, kura_db_error *err)
{
    mark_arg *a = varg;
    int rc;
    if (a->move) {
        json_t *extra = json_pack("{s:s}", "txid", a->txid);
        if (!extra)
            return KURA_DB_ENOMEM;
        rc = kura_transfer_mark_broadcast(db, a->id, extra, a->now, &a->p, err);
        json_decref(extra);
        if (rc)
            return rc;
    }
    return kura_db_exec(
        db, NULL,
        "INSERT INTO chain_transfers (transfer_id, txid, broadcasts, last_broadcast_at, "
        "last_error) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (transfer_id) DO UPDATE SET "
        "broadcasts = chain_transfers.broadcasts + excluded.broadcasts, last_broadcast_at = "
        "COALESCE(excluded.last_broadcast_at, chain_transfers.last_broadcast_at), last_error = "
        "excluded.last_error",
        (kura_db_param[]){KURA_DB_TEXT(a->id), KURA_DB_TEXT(a->txid), KURA_DB_INT(a->error ? 0 : 1),
                          a->error ? KURA_DB_NULL : KURA_DB_INT(a->now),
                          a->error ? KURA_DB_TEXT(a->error) : KURA_DB_NULL},
        5, err);
}

static int mark(kura_store *st, const char *id, const char *txid, int move, const char *error,
                int64_t now, kura_rpc_error *err)
{
    mark_arg a;
    kura_db_error dberr = {0};
    int rc;
    memset(&a, 0, sizeof a);
    a.id = id;
    a.txid = txid;
    a.move = move;
    a.error = error;
    a.now = now;
    rc = kura_store_write(st, mark_fn, &a, &dberr);
    if (rc > 0) /* a problem: the transfer expired or moved meanwhile */
        return KURA_RPC_OK;
    return rc ? fail(err, KURA_FOLLOWER_EDB, "database: %s", dberr.message) : KURA_RPC_OK;
}

/* Sends hex; *sent 1 when the node has it (took it now, or already had it). */
static int send_tx(kura_rpc *rpc, const char *hex, int *sent, char *why, size_t whylen,
                kura_rpc_error *err)
{
    char txid[65];
    int rc = kura_rpc_send_raw_tx(rpc, hex, txid, err);
    *sent = 0;
    why[0] = '\0';
    if (rc == KURA_RPC_OK) {
        *sent = 1;
        return KURA_RPC_OK;
    }
    if (rc == KURA_RPC_ERPC) {
        if (err->rpc_code == KURA_RPC_CORE_VERIFY_ALREADY_IN_CHAIN ||
            strstr(err->message, "already in") || strstr(err->message, "already-known"))
            *sent = 1;
        else
            snprintf(why, whylen, "%s", err->message);
        return KURA_RPC_OK;
    }
    return rc;
}

int kura_chain_broadcast_due(kura_store *st, kura_rpc *rpc, int64_t now,
                             int64_t rebroadcast_seconds, kura_broadcast_report *rep,
                             kura_rpc_error *err)
{
    kura_broadcast_report dummy;
    due_arg a = {now - (rebroadcast_seconds > 0 ? rebroadcast_seconds : 600), NULL, NULL};
    kura_db_error dberr = {0};
    int rc;
    if (!rep)
        rep = &dummy;
    memset(rep, 0, sizeof *rep);
    if ((rc = kura_store_read(st, due_fn, &a, &dberr))) {
        kura_db_result_free(a.signed_);
        kura_db_result_free(a.again);
        return fail(err, KURA_FOLLOWER_EDB, "database: %s", dberr.message);
    }
    for (size_t i = 0; rc == KURA_RPC_OK && i < kura_db_result_rows(a.signed_); i++) {
        const char *id = kura_db_result_text(a.signed_, i, 0);
        const char *hex = kura_db_result_text(a.signed_, i, 1);
        const char *txid = kura_db_result_text(a.signed_, i, 2);
        char why[300];
        int allowed = 0, sent = 0;
        if (!txid)
            continue;
        if ((rc = kura_rpc_test_accept(rpc, hex, &allowed, why, sizeof why, err)))
            break;
        if (!allowed) {
            char msg[340];
            snprintf(msg, sizeof msg, "testmempoolaccept: %s", why);
            rep->refused++;
            rc = mark(st, id, txid, 0, msg, now, err);
            continue;
        }
        if ((rc = send_tx(rpc, hex, &sent, why, sizeof why, err)))
            break;
        if (!sent) {
            rep->refused++;
            rc = mark(st, id, txid, 0, why, now, err);
            continue;
        }
        rep->sent++;
        rc = mark(st, id, txid, 1, NULL, now, err);
    }
    for (size_t i = 0; rc == KURA_RPC_OK && i < kura_db_result_rows(a.again); i++) {
        const char *id = kura_db_result_text(a.again, i, 0);
        const char *hex = kura_db_result_text(a.again, i, 1);
        const char *txid = kura_db_result_text(a.again, i, 2);
        char why[300];
        int sent = 0;
        if (!txid)
            continue;
        if ((rc = send_tx(rpc, hex, &sent, why, sizeof why, err)))
            break;
        if (sent)
            rep->rebroadcast++;
        else
            rep->refused++;
        rc = mark(st, id, txid, 0, sent ? NULL : why, now, err);
    }
    kura_db_result_free(a.signed_);
    kura_db_result_free(a.again);
    return rc;
}

/* ---- the worker ---- */

struct queued_tx {
    uint8_t *bytes;
    size_t len;
};

struct kura_chain_worker {
    kura_store *st;
    kura_rpc *rpc;
    kura_follower *f;
    kura_chain_worker_options o;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
    int wake;            /* a notification came: poll now (under lock) */
    char last_error[256];
    kura_notify *notify; /* NULL: polling only */
    struct queued_tx *txq; /* rawtx for the follower (under lock) */
    size_t ntxq;
    uint64_t polls, notifications, gaps, rawtx, rawtx_used; /* counts (under lock) */
    int busy;            /* a poll is running (under lock) */
};

#define MAX_TXQ 10000

/* On the ZMQ thread: a notification wakes the worker. A gap in the sequence
 * numbers needs nothing more (a poll reads everything again); rawtx's bytes
 * are queued for the follower when they hold exactly one transaction. */
static void on_notify(void *arg, int topic, const uint8_t *body, size_t len, int gap)
{
    kura_chain_worker *w = arg;
    kura_block_tx tx;
    kura_error kerr;
    uint8_t *copy = NULL;
    if (topic == KURA_NOTIFY_RAWTX && kura_block_tx_locate(&tx, body, len, &kerr) == 0 &&
        (copy = malloc(len)) != NULL)
        memcpy(copy, body, len);
    pthread_mutex_lock(&w->lock);
    w->notifications++;
    w->gaps += gap != 0;
    if (copy && w->ntxq < MAX_TXQ) {
        struct queued_tx *grown = realloc(w->txq, (w->ntxq + 1) * sizeof *grown);
        if (grown) {
            w->txq = grown;
            w->txq[w->ntxq].bytes = copy;
            w->txq[w->ntxq].len = len;
            w->ntxq++;
            w->rawtx++;
            copy = NULL;
        }
    }
    w->wake = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    free(copy);
}

/* On the worker's thread, before a poll: the queued rawtx go to the follower. */
static void hand_over(kura_chain_worker *w)
{
    struct queued_tx *q;
    size_t n;
    pthread_mutex_lock(&w->lock);
    q = w->txq;
    n = w->ntxq;
    w->txq = NULL;
    w->ntxq = 0;
    w->busy = 1;
    pthread_mutex_unlock(&w->lock);
    for (size_t i = 0; i < n; i++) {
        kura_follower_offer_tx(w->f, q[i].bytes, q[i].len);
        free(q[i].bytes);
    }
    free(q);
}

int kura_chain_worker_counts(kura_chain_worker *w, uint64_t *polls, uint64_t *notifications,
                             uint64_t *gaps, uint64_t *rawtx, uint64_t *rawtx_used)
{
    int busy;
    pthread_mutex_lock(&w->lock);
    busy = w->busy;
    if (polls)
        *polls = w->polls;
    if (notifications)
        *notifications = w->notifications;
    if (gaps)
        *gaps = w->gaps;
    if (rawtx)
        *rawtx = w->rawtx;
    if (rawtx_used)
        *rawtx_used = w->rawtx_used;
    pthread_mutex_unlock(&w->lock);
    return busy;
}

static void *worker_main(void *varg)
{
    kura_chain_worker *w = varg;
    for (;;) {
        kura_follower_report rep;
        kura_rpc_error e = {0};
        int64_t now = (int64_t)time(NULL);
        struct timespec until;
        int rc;
        hand_over(w);
        rc = kura_follower_step(w->f, now, &rep, &e);
        pthread_mutex_lock(&w->lock);
        w->rawtx_used += rep.mempool_offered;
        pthread_mutex_unlock(&w->lock);
        if (rc == KURA_RPC_OK && rep.leader) {
            kura_broadcast_report br;
            if ((rc = kura_chain_update_fee(w->st, w->rpc, &w->o.fee, now, NULL, &e)) == 0)
                rc = kura_chain_broadcast_due(w->st, w->rpc, now, w->o.rebroadcast_seconds, &br, &e);
            if (rc == 0 && (br.sent || br.rebroadcast || br.refused))
                kura_log(KURA_LOG_INFO, "chain: %zu broadcast, %zu rebroadcast, %zu refused",
                        br.sent, br.rebroadcast, br.refused);
        }
        if (rc != KURA_RPC_OK) {
            /* One line per change of error, not one per poll. */
            if (strcmp(e.message, w->last_error) != 0)
                kura_log(KURA_LOG_WARN, "chain: %s: %s", kura_rpc_status_name(rc), e.message);
            snprintf(w->last_error, sizeof w->last_error, "%s", e.message);
        } else {
            if (w->last_error[0])
                kura_log(KURA_LOG_INFO, "chain: the node answers again");
            w->last_error[0] = '\0';
            if (rep.connected || rep.disconnected)
                kura_log(KURA_LOG_INFO, "chain: height %lld (%zu connected, %zu disconnected)",
                        (long long)rep.height, rep.connected, rep.disconnected);
        }
        pthread_mutex_lock(&w->lock);
        /* Behind the node (a step connects at most 100 blocks): go on at once. */
        if (rc == KURA_RPC_OK && rep.leader && rep.height < rep.node_height)
            w->wake = 1;
        w->polls++;
        w->busy = 0;
        pthread_mutex_unlock(&w->lock);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)(w->o.poll_interval_ms / 1000);
        until.tv_nsec += (long)(w->o.poll_interval_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&w->lock);
        while (!w->stop && !w->wake &&
               pthread_cond_timedwait(&w->cond, &w->lock, &until) != ETIMEDOUT)
            ;
        w->wake = 0;
        if (w->stop) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        pthread_mutex_unlock(&w->lock);
    }
    return NULL;
}

int kura_chain_worker_start(kura_chain_worker **out, kura_store *st,
                            const kura_chain_worker_options *o, kura_rpc_error *err)
{
    kura_chain_worker *w;
    kura_follower_options fo;
    int rc;
    *out = NULL;
    w = calloc(1, sizeof *w);
    if (!w)
        return fail(err, KURA_RPC_ENOMEM, "out of memory");
    w->st = st;
    w->o = *o;
    if (w->o.poll_interval_ms <= 0)
        w->o.poll_interval_ms = 5000;
    if (w->o.rebroadcast_seconds <= 0)
        w->o.rebroadcast_seconds = 600;
    if ((rc = kura_rpc_new(&w->rpc, &o->rpc, err))) {
        free(w);
        return rc;
    }
    memset(&fo, 0, sizeof fo);
    fo.holder = o->holder;
    fo.lease_seconds = o->lease_seconds;
    fo.start_height = -1;
    /* A step stays well inside the lease (each block's write is fenced too). */
    fo.max_blocks = 100;
    if ((rc = kura_follower_new(&w->f, st, w->rpc, &fo, err))) {
        kura_rpc_free(w->rpc);
        free(w);
        return rc;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if ((o->zmq_hashblock && *o->zmq_hashblock) || (o->zmq_rawtx && *o->zmq_rawtx)) {
        char why[300];
        if (kura_notify_start(&w->notify, o->zmq_hashblock, o->zmq_rawtx, on_notify, w, why,
                              sizeof why) != 0) {
            kura_follower_free(w->f);
            kura_rpc_free(w->rpc);
            pthread_mutex_destroy(&w->lock);
            pthread_cond_destroy(&w->cond);
            free(w);
            return fail(err, KURA_RPC_EINVAL, "%s", why);
        }
    }
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        kura_notify_stop(w->notify);
        kura_follower_free(w->f);
        kura_rpc_free(w->rpc);
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        free(w);
        return fail(err, KURA_RPC_ENOMEM, "cannot start the chain thread");
    }
    *out = w;
    return KURA_RPC_OK;
}

void kura_chain_worker_stop(kura_chain_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    kura_notify_stop(w->notify);
    for (size_t i = 0; i < w->ntxq; i++)
        free(w->txq[i].bytes);
    free(w->txq);
    kura_follower_release(w->f);
    kura_follower_free(w->f);
    kura_rpc_free(w->rpc);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w);
}
