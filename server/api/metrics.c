/*
 * server/api/metrics.c — /metrics in the Prometheus text format (0.0.4):
 * requests by route and status, a latency histogram per route, method and
 * status class, the store's commit counters and commit latency histogram,
 * the webhook backlog (pending deliveries) and the webhook worker's counters.
 */
#include "api/internal.h"
#include "store/leader.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct outbuf {
    char *data;
    size_t len, cap;
    int failed;
} outbuf;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void put(outbuf *o, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (o->failed)
        return;
    for (;;) {
        size_t room = o->cap - o->len;
        va_start(ap, fmt);
        n = vsnprintf(o->data ? o->data + o->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->failed = 1;
            return;
        }
        if ((size_t)n < room) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap ? o->cap * 2 : 16384;
        while (cap < o->len + (size_t)n + 1)
            cap *= 2;
        char *d = realloc(o->data, cap);
        if (!d) {
            o->failed = 1;
            return;
        }
        o->data = d;
        o->cap = cap;
    }
}

typedef struct backlog {
    int64_t pending;
    int64_t oldest_ms; /* the earliest next_attempt_ms of a pending delivery */
} backlog;

static int read_backlog(kura_db *db, void *arg, kura_db_error *err)
{
    backlog *b = arg;
    kura_db_result *res = NULL;
    int rc = kura_db_exec(db, &res,
                          "SELECT count(*), COALESCE(MIN(next_attempt_ms), 0) FROM "
                          "webhook_deliveries WHERE state = 'pending'",
                          NULL, 0, err);
    if (rc == KURA_DB_OK && (kura_db_result_int(&b->pending, res, 0, 0) ||
                             kura_db_result_int(&b->oldest_ms, res, 0, 1)))
        rc = kura_db_fail(err, KURA_DB_EIO, "metrics: backlog unreadable");
    kura_db_result_free(res);
    return rc;
}

static void route_labels(char *out, size_t n, size_t i)
{
    if (i < kura_route_count)
        snprintf(out, n, "method=\"%s\",route=\"%s\"", kura_routes[i].method, kura_routes[i].path);
    else
        snprintf(out, n, "method=\"-\",route=\"unrouted\"");
}

/* kura_leader{role="chain-follower"} 1: which roles this process leads. */
static void put_leader(void *ctx, const char *name, int leading)
{
    put(ctx, "kura_leader{role=\"%s\"} %d\n", name, leading ? 1 : 0);
}

int kura_api_metrics_text(struct kura_api_server *s, char **out, size_t *len)
{
    outbuf o = {NULL, 0, 0, 0};
    char labels[160];
    kura_store_stats st;
    *out = NULL;
    *len = 0;
    put(&o, "# HELP kura_http_requests_total HTTP requests answered, by route and status.\n"
            "# TYPE kura_http_requests_total counter\n");
    for (size_t i = 0; i <= kura_route_count; i++) {
        route_labels(labels, sizeof labels, i);
        for (size_t k = 0; k < KURA_API_STATUS_SLOTS; k++) {
            uint64_t v = atomic_load(&s->stats[i].by_status[k]);
            if (!v)
                continue;
            if (kura_api_status_slots[k])
                put(&o, "kura_http_requests_total{%s,status=\"%d\"} %llu\n", labels,
                    kura_api_status_slots[k], (unsigned long long)v);
            else
                put(&o, "kura_http_requests_total{%s,status=\"other\"} %llu\n", labels,
                    (unsigned long long)v);
        }
    }
    put(&o, "# HELP kura_http_request_duration_seconds Time from the first byte read to the "
            "answer, by route pattern, method and status class.\n"
            "# TYPE kura_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i <= kura_route_count; i++) {
        route_labels(labels, sizeof labels, i);
        for (size_t k = 0; k < KURA_API_CLASSES; k++) {
            uint64_t count = atomic_load(&s->stats[i].count[k]), cum = 0;
            char cl[200];
            if (!count)
                continue;
            snprintf(cl, sizeof cl, "%s,class=\"%s\"", labels, kura_api_class_names[k]);
            for (size_t b = 0; b < KURA_API_BUCKETS; b++) {
                cum += atomic_load(&s->stats[i].buckets[k][b]);
                put(&o, "kura_http_request_duration_seconds_bucket{%s,le=\"%g\"} %llu\n", cl,
                    (double)kura_api_bucket_us[b] / 1e6, (unsigned long long)cum);
            }
            cum += atomic_load(&s->stats[i].buckets[k][KURA_API_BUCKETS]);
            /* +Inf is the count: read apart from the buckets, a request
             * finishing meanwhile would make them disagree. */
            if (cum > count)
                count = cum;
            put(&o, "kura_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %llu\n", cl,
                (unsigned long long)count);
            put(&o, "kura_http_request_duration_seconds_sum{%s} %.6f\n", cl,
                (double)atomic_load(&s->stats[i].sum_us[k]) / 1e6);
            put(&o, "kura_http_request_duration_seconds_count{%s} %llu\n", cl,
                (unsigned long long)count);
        }
    }
    kura_store_get_stats(s->store, &st);
    put(&o, "# HELP kura_store_commits_total Write transactions committed.\n"
            "# TYPE kura_store_commits_total counter\nkura_store_commits_total %llu\n"
            "# HELP kura_store_rollbacks_total Write transactions rolled back by their function.\n"
            "# TYPE kura_store_rollbacks_total counter\nkura_store_rollbacks_total %llu\n"
            "# HELP kura_store_retries_total Transactions retried after lock contention.\n"
            "# TYPE kura_store_retries_total counter\nkura_store_retries_total %llu\n"
            "# HELP kura_store_failures_total Database failures.\n"
            "# TYPE kura_store_failures_total counter\nkura_store_failures_total %llu\n"
            "# HELP kura_store_group_commits_total COMMITs that acknowledged a batch of writes "
            "(SQLite group commit).\n"
            "# TYPE kura_store_group_commits_total counter\nkura_store_group_commits_total %llu\n",
        (unsigned long long)st.commits, (unsigned long long)st.rollbacks,
        (unsigned long long)st.retries, (unsigned long long)st.failures,
        (unsigned long long)st.group_commits);
    {
        uint64_t cum = 0;
        put(&o, "# HELP kura_store_commit_duration_seconds How long write COMMITs took (the "
                "durable flush).\n# TYPE kura_store_commit_duration_seconds histogram\n");
        for (size_t b = 0; b < KURA_STORE_COMMIT_BUCKETS; b++) {
            cum += st.commit_buckets[b];
            put(&o, "kura_store_commit_duration_seconds_bucket{le=\"%g\"} %llu\n",
                (double)kura_store_commit_bucket_us[b] / 1e6, (unsigned long long)cum);
        }
        cum += st.commit_buckets[KURA_STORE_COMMIT_BUCKETS];
        put(&o, "kura_store_commit_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                "kura_store_commit_duration_seconds_sum %.6f\n"
                "kura_store_commit_duration_seconds_count %llu\n",
            (unsigned long long)cum, (double)st.commit_sum_us / 1e6,
            (unsigned long long)st.commit_count);
    }
    {
        backlog bl = {0, 0};
        kura_db_error e = {0};
        if (kura_store_read(s->store, read_backlog, &bl, &e) == KURA_DB_OK) {
            double age = 0;
            if (bl.pending && bl.oldest_ms > 0) {
                struct timespec now;
                clock_gettime(CLOCK_REALTIME, &now);
                int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
                age = now_ms > bl.oldest_ms ? (double)(now_ms - bl.oldest_ms) / 1000.0 : 0;
            }
            put(&o, "# HELP kura_webhook_pending_deliveries Webhook deliveries not yet made "
                    "(the backlog, across every server on this database).\n"
                    "# TYPE kura_webhook_pending_deliveries gauge\n"
                    "kura_webhook_pending_deliveries %lld\n"
                    "# HELP kura_webhook_oldest_due_seconds How long the most overdue pending "
                    "delivery has been due (0: none).\n"
                    "# TYPE kura_webhook_oldest_due_seconds gauge\n"
                    "kura_webhook_oldest_due_seconds %.3f\n",
                (long long)bl.pending, age);
        }
    }
    if (s->worker) {
        kura_webhook_worker_stats ws;
        kura_webhook_worker_get_stats(s->worker, &ws);
        put(&o, "# HELP kura_webhook_attempts_total Webhook delivery attempts made.\n"
                "# TYPE kura_webhook_attempts_total counter\nkura_webhook_attempts_total %llu\n"
                "# HELP kura_webhook_delivered_total Webhook deliveries answered 2xx.\n"
                "# TYPE kura_webhook_delivered_total counter\nkura_webhook_delivered_total %llu\n"
                "# HELP kura_webhook_failed_total Webhook deliveries given up.\n"
                "# TYPE kura_webhook_failed_total counter\nkura_webhook_failed_total %llu\n"
                "# HELP kura_webhook_errors_total Database errors met by the webhook worker.\n"
                "# TYPE kura_webhook_errors_total counter\nkura_webhook_errors_total %llu\n",
            (unsigned long long)ws.attempts, (unsigned long long)ws.delivered,
            (unsigned long long)ws.failed, (unsigned long long)ws.errors);
    }
    put(&o, "# HELP kura_leader 1 when this process leads the role (store/leader.h).\n"
            "# TYPE kura_leader gauge\n");
    kura_leader_each(put_leader, &o);
    if (o.failed) {
        free(o.data);
        return -1;
    }
    *out = o.data;
    *len = o.len;
    return 0;
}
