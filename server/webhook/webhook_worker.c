/*
 * server/webhook/webhook_worker.c — the delivery worker: finds due
 * deliveries (the first pending one of each endpoint only, so an endpoint's
 * events go out in order), takes the endpoint's lease, POSTs the event
 * signed, logs the attempt, and either marks it delivered or schedules the
 * next attempt with exponential back-off, until `failed`.
 *
 * At least once: a delivery is marked delivered only after a 2xx answer,
 * in a transaction after the request; a crash in between sends it again,
 * with the same event id, which receivers deduplicate on.
 */
#include "webhook/webhook_internal.h"

#include "store/leader.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#define ERROR_MAX 200

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Options with defaults filled in. */
static kura_webhook_worker_options effective(const kura_webhook_worker_options *o)
{
    kura_webhook_worker_options e = {0};
    if (o)
        e = *o;
    if (e.poll_interval_ms <= 0)
        e.poll_interval_ms = 1000;
    if (e.max_attempts <= 0)
        e.max_attempts = 10;
    if (e.backoff_base_ms <= 0)
        e.backoff_base_ms = 1000;
    if (e.backoff_max_ms <= 0)
        e.backoff_max_ms = 3600000;
    if (e.timeout_ms <= 0)
        e.timeout_ms = 10000;
    if (e.batch <= 0)
        e.batch = 32;
    if (!e.holder)
        e.holder = "worker";
    return e;
}

/* The wait after the n-th failed attempt (n >= 1): base * 2^(n-1), capped,
 * plus up to a quarter more at random, so endpoints that failed together do
 * not all come back in the same millisecond. */
static int64_t backoff_ms(const kura_webhook_worker_options *o, int64_t n)
{
    int64_t d = o->backoff_base_ms;
    for (int64_t i = 1; i < n && d < o->backoff_max_ms; i++)
        d = d > INT64_MAX / 2 ? INT64_MAX : d * 2;
    if (d > o->backoff_max_ms)
        d = o->backoff_max_ms;
    if (d / 4 > 0)
        d += (int64_t)randombytes_uniform((uint32_t)(d / 4 > UINT32_MAX - 1 ? UINT32_MAX - 1 : d / 4) + 1u);
    return d;
}

/* ---- one delivery ---- */

typedef struct due {
    char endpoint_id[KURA_DB_ID_SIZE];
    char event_id[KURA_DB_ID_SIZE];
    int64_t attempts;
    char *url;
    char *secret;
    char *payload;
} due;

static void due_clear(due *d)
{
    free(d->url);
    if (d->secret) {
        sodium_memzero(d->secret, strlen(d->secret));
        free(d->secret);
    }
    free(d->payload);
    memset(d, 0, sizeof *d);
}

typedef struct due_list {
    int64_t now_ms;
    int64_t batch;
    due *items;
    size_t count;
} due_list;

static void due_list_clear(due_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        due_clear(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

static int find_due_fn(kura_db *db, void *arg, kura_db_error *err)
{
    due_list *l = arg;
    kura_db_result *res = NULL;
    size_t n;
    int rc;
    due_list_clear(l);
    /* The first pending delivery of each enabled endpoint, if it is due: a
     * later event of an endpoint never overtakes an earlier one that is
     * still pending (waiting for its back-off). The head of each endpoint's
     * queue is found through the (endpoint_id, state, event_seq, event_id)
     * index, so a long backlog behind a failing endpoint costs nothing. */
    rc = kura_db_exec(db, &res,
                      "SELECT d.endpoint_id, d.event_id, d.attempts, e.url, e.secret, ev.payload "
                      "FROM webhook_endpoints e "
                      "JOIN webhook_deliveries d ON d.endpoint_id = e.id AND d.event_id = "
                      "(SELECT p.event_id FROM webhook_deliveries p WHERE p.endpoint_id = e.id "
                      "AND p.state = 'pending' ORDER BY p.event_seq, p.event_id LIMIT 1) "
                      "JOIN webhook_events ev ON ev.id = d.event_id "
                      "WHERE e.enabled = 1 AND d.next_attempt_ms <= $1 "
                      "ORDER BY d.next_attempt_ms, d.event_seq, d.event_id LIMIT $2",
                      (kura_db_param[]){KURA_DB_INT(l->now_ms), KURA_DB_INT(l->batch)}, 2, err);
    if (rc != KURA_DB_OK)
        return rc;
    n = kura_db_result_rows(res);
    l->items = n ? calloc(n, sizeof *l->items) : NULL;
    if (n && !l->items) {
        kura_db_result_free(res);
        return kura_db_fail(err, KURA_DB_ENOMEM, "webhook: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        due *d = &l->items[i];
        snprintf(d->endpoint_id, sizeof d->endpoint_id, "%s", kura_webhook_text(res, i, 0));
        snprintf(d->event_id, sizeof d->event_id, "%s", kura_webhook_text(res, i, 1));
        d->attempts = kura_webhook_int(res, i, 2);
        d->url = strdup(kura_webhook_text(res, i, 3));
        d->secret = strdup(kura_webhook_text(res, i, 4));
        d->payload = strdup(kura_webhook_text(res, i, 5));
        l->count++;
        if (!d->url || !d->secret || !d->payload) {
            kura_db_result_free(res);
            return kura_db_fail(err, KURA_DB_ENOMEM, "webhook: out of memory");
        }
    }
    kura_db_result_free(res);
    return KURA_DB_OK;
}

typedef struct lease_arg {
    const due *d;
    const char *holder;
    kura_leader *leader;       /* NULL: no election (kura_webhook_deliver_due) */
    int64_t now_s, until_s;
    int taken; /* out */
} lease_arg;

static int lease_fn(kura_db *db, void *arg, kura_db_error *err)
{
    lease_arg *a = arg;
    kura_db_result *res = NULL;
    char name[KURA_DB_ID_SIZE + 16];
    int rc;
    a->taken = 0;
    /* Only the elected dispatcher claims: one that lost the election
     * without noticing yet is refused here (leader.h). */
    if (a->leader && (rc = kura_leader_fence(db, a->leader, err)) != KURA_DB_OK)
        return rc;
    snprintf(name, sizeof name, "webhook:%s", a->d->endpoint_id);
    /* Take the lease if it is free, expired, or already ours. */
    rc = kura_db_exec(db, &res,
                      "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) "
                      "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                      "expires_at = excluded.expires_at "
                      "WHERE leases.holder = excluded.holder OR leases.expires_at < $4 "
                      "RETURNING holder",
                      (kura_db_param[]){KURA_DB_TEXT(name), KURA_DB_TEXT(a->holder),
                                        KURA_DB_INT(a->until_s), KURA_DB_INT(a->now_s)},
                      4, err);
    if (rc != KURA_DB_OK)
        return rc;
    a->taken = kura_db_result_rows(res) == 1;
    kura_db_result_free(res);
    res = NULL;
    if (!a->taken)
        return KURA_DB_OK;
    /* Under the lease, the delivery must still be as we read it: another
     * worker may have delivered it, or it was redelivered, meanwhile. */
    rc = kura_db_exec(db, &res,
                      "SELECT 1 FROM webhook_deliveries WHERE endpoint_id = $1 AND event_id = $2 "
                      "AND state = 'pending' AND attempts = $3",
                      (kura_db_param[]){KURA_DB_TEXT(a->d->endpoint_id),
                                        KURA_DB_TEXT(a->d->event_id), KURA_DB_INT(a->d->attempts)},
                      3, err);
    if (rc != KURA_DB_OK)
        return rc;
    if (kura_db_result_rows(res) != 1) {
        a->taken = 0;
        rc = kura_db_exec(db, NULL, "DELETE FROM leases WHERE name = $1 AND holder = $2",
                          (kura_db_param[]){KURA_DB_TEXT(name), KURA_DB_TEXT(a->holder)}, 2, err);
    }
    kura_db_result_free(res);
    return rc;
}

typedef struct outcome {
    const due *d;
    const kura_webhook_worker_options *o;
    const char *holder;
    int64_t at_ms;
    long status;           /* 0: no answer */
    char error[ERROR_MAX]; /* "" when answered */
    int64_t duration_ms;
    int delivered, failed; /* out */
} outcome;

static int record_fn(kura_db *db, void *arg, kura_db_error *err)
{
    outcome *r = arg;
    char id[KURA_DB_ID_SIZE], name[KURA_DB_ID_SIZE + 16];
    int64_t attempts = r->d->attempts + 1, next_ms = 0;
    int ok = r->status >= 200 && r->status <= 299;
    const char *state;
    kura_db_param status = r->status ? KURA_DB_INT(r->status) : KURA_DB_NULL;
    kura_db_param error = r->error[0] ? KURA_DB_TEXT(r->error) : KURA_DB_NULL;
    int rc;

    r->delivered = r->failed = 0;
    kura_db_new_id(id, "wa");
    rc = kura_db_exec(db, NULL,
                      "INSERT INTO webhook_attempts (id, endpoint_id, event_id, at, status, error, "
                      "duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                      (kura_db_param[]){KURA_DB_TEXT(id), KURA_DB_TEXT(r->d->endpoint_id),
                                        KURA_DB_TEXT(r->d->event_id), KURA_DB_INT(r->at_ms / 1000),
                                        status, error, KURA_DB_INT(r->duration_ms)},
                      7, err);
    if (rc != KURA_DB_OK)
        return rc;
    if (ok) {
        state = "delivered";
    } else if (attempts >= r->o->max_attempts) {
        state = "failed";
    } else {
        state = "pending";
        next_ms = r->at_ms + r->duration_ms + backoff_ms(r->o, attempts);
    }
    /* Guarded by the attempt count read before sending: a redelivery that
     * reset the row meanwhile wins, and the event goes out again. */
    {
        kura_db_result *res = NULL;
        rc = kura_db_exec(
            db, &res,
            "UPDATE webhook_deliveries SET state = $1, attempts = $2, next_attempt_ms = $3, "
            "next_attempt_at = $4, last_status = $5, last_error = $6, delivered_at = $7 "
            "WHERE endpoint_id = $8 AND event_id = $9 AND state = 'pending' AND attempts = $10",
            (kura_db_param[]){KURA_DB_TEXT(state), KURA_DB_INT(attempts),
                              KURA_DB_INT(ok ? r->at_ms : (next_ms ? next_ms : r->at_ms)),
                              KURA_DB_INT((next_ms ? next_ms : r->at_ms) / 1000), status, error,
                              ok ? KURA_DB_INT(r->at_ms / 1000) : KURA_DB_NULL,
                              KURA_DB_TEXT(r->d->endpoint_id), KURA_DB_TEXT(r->d->event_id),
                              KURA_DB_INT(r->d->attempts)},
            10, err);
        if (rc == KURA_DB_OK && kura_db_result_changes(res) == 1) {
            r->delivered = ok;
            r->failed = strcmp(state, "failed") == 0;
        }
        kura_db_result_free(res);
    }
    if (rc != KURA_DB_OK)
        return rc;
    snprintf(name, sizeof name, "webhook:%s", r->d->endpoint_id);
    return kura_db_exec(db, NULL, "DELETE FROM leases WHERE name = $1 AND holder = $2",
                        (kura_db_param[]){KURA_DB_TEXT(name), KURA_DB_TEXT(r->holder)}, 2, err);
}

/* Answers are read only for their status: the body is discarded, and at
 * most 64 KiB of it is accepted. */
static size_t discard(char *ptr, size_t size, size_t nmemb, void *ctx)
{
    size_t *total = ctx;
    (void)ptr;
    if (nmemb && size > SIZE_MAX / nmemb)
        return 0;
    *total += size * nmemb;
    return *total > 65536 ? 0 : size * nmemb;
}

static void post(const due *d, const kura_webhook_worker_options *o, outcome *r)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL, *h2;
    char sig[KURA_WEBHOOK_SIGNATURE_MAX], line[256];
    size_t len = strlen(d->payload), received = 0;
    json_error_t jerr;
    json_t *payload = json_loads(d->payload, 0, &jerr);
    json_t *audit = json_object_get(payload, "audit");
    int64_t start = mono_ms();
    CURLcode cc;

    r->status = 0;
    r->error[0] = '\0';
    r->at_ms = now_ms();
    if (!c) {
        snprintf(r->error, sizeof r->error, "curl: cannot make a handle");
        json_decref(payload);
        return;
    }
    kura_webhook_sign(sig, d->secret, r->at_ms / 1000, d->payload, len);
    h = curl_slist_append(h, "Content-Type: application/json");
    snprintf(line, sizeof line, "Kura-Event-Id: %s", d->event_id);
    h = (h2 = curl_slist_append(h, line)) ? h2 : h;
    snprintf(line, sizeof line, "Kura-Signature: %s", sig);
    h = (h2 = curl_slist_append(h, line)) ? h2 : h;
    snprintf(line, sizeof line, "Kura-Audit-Head: %" PRId64 ":%s",
             (int64_t)json_integer_value(json_object_get(audit, "seq")),
             json_string_value(json_object_get(audit, "head")) ? json_string_value(json_object_get(audit, "head")) : "");
    h = (h2 = curl_slist_append(h, line)) ? h2 : h;
    h = (h2 = curl_slist_append(h, "Expect:")) ? h2 : h; /* no 100-continue round trip */
    json_decref(payload);

    curl_easy_setopt(c, CURLOPT_URL, d->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect is an answer, not a 2xx */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, d->payload);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)o->timeout_ms);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "kura-server webhook");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &received);
    cc = curl_easy_perform(c);
    if (cc == CURLE_OK || cc == CURLE_WRITE_ERROR) {
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        r->status = status;
        if (status < 200 || status > 299)
            snprintf(r->error, sizeof r->error, "HTTP %ld", status);
    } else {
        snprintf(r->error, sizeof r->error, "%s", curl_easy_strerror(cc));
    }
    r->duration_ms = mono_ms() - start;
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

typedef struct round_stats {
    size_t attempts, delivered, failed;
} round_stats;

static int deliver_round(kura_store *st, const kura_webhook_worker_options *o, kura_leader *leader,
                         int64_t at_ms, round_stats *rs, kura_db_error *err)
{
    due_list l = {0};
    int rc;
    /* An endpoint's claim outlives one attempt (its whole timeout) with a
     * margin: a dispatcher that died while posting blocks the endpoint no
     * longer than that, and one that is still posting is never overtaken. */
    int64_t lease_s = (o->timeout_ms + 999) / 1000 + 5;
    memset(rs, 0, sizeof *rs);
    l.now_ms = at_ms;
    l.batch = o->batch;
    rc = kura_store_read(st, find_due_fn, &l, err);
    if (rc != KURA_DB_OK) {
        due_list_clear(&l);
        return rc;
    }
    for (size_t i = 0; i < l.count && rc == KURA_DB_OK; i++) {
        lease_arg la = {&l.items[i], o->holder, leader, now_ms() / 1000, 0, 0};
        outcome r;
        if (leader && !kura_leader_still(leader, la.now_s))
            break;
        la.until_s = la.now_s + lease_s;
        rc = kura_store_write(st, lease_fn, &la, err);
        if (rc != KURA_DB_OK || !la.taken)
            continue;
        memset(&r, 0, sizeof r);
        r.d = &l.items[i];
        r.o = o;
        r.holder = o->holder;
        post(&l.items[i], o, &r);
        rs->attempts++;
        rc = kura_store_write(st, record_fn, &r, err);
        if (rc == KURA_DB_OK) {
            rs->delivered += (size_t)r.delivered;
            rs->failed += (size_t)r.failed;
        }
    }
    due_list_clear(&l);
    return rc;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ready;

static void curl_setup(void)
{
    curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

int kura_webhook_deliver_due(kura_store *st, const kura_webhook_worker_options *opt,
                             int64_t at_ms, size_t *attempted, kura_db_error *err)
{
    kura_webhook_worker_options o = effective(opt);
    round_stats rs;
    int rc;
    if (attempted)
        *attempted = 0;
    if (!st)
        return kura_db_fail(err, KURA_DB_EINVAL, "webhook: no store");
    pthread_once(&curl_once, curl_setup);
    if (!curl_ready || sodium_init() < 0)
        return kura_db_fail(err, KURA_DB_EIO, "webhook: cannot initialise libcurl");
    rc = deliver_round(st, &o, NULL, at_ms, &rs, err);
    if (attempted)
        *attempted = rs.attempts;
    return rc;
}

/* ---- the worker thread ---- */

struct kura_webhook_worker {
    kura_store *st;
    kura_leader *leader; /* one dispatcher among the servers (leader.h) */
    kura_webhook_worker_options o;
    char holder[64];
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop, wake;
    kura_webhook_worker_stats stats;
};

static void *worker_main(void *arg)
{
    kura_webhook_worker *w = arg;
    for (;;) {
        round_stats rs;
        kura_db_error err = {0};
        int leading = 0;
        int rc = kura_leader_try_acquire(w->leader, now_ms() / 1000, &leading, &err);
        struct timespec until;
        int64_t ms;

        memset(&rs, 0, sizeof rs);
        if (rc == KURA_DB_OK && leading)
            rc = deliver_round(w->st, &w->o, w->leader, now_ms(), &rs, &err);

        pthread_mutex_lock(&w->lock);
        w->stats.attempts += rs.attempts;
        w->stats.delivered += rs.delivered;
        w->stats.failed += rs.failed;
        if (rc != KURA_DB_OK)
            w->stats.errors++;
        if (w->stop) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        /* A full round may have left more work, and a delivery frees its
         * endpoint's next event: go again at once. */
        if (rc == KURA_DB_OK && (rs.delivered > 0 || rs.attempts >= (size_t)w->o.batch)) {
            pthread_mutex_unlock(&w->lock);
            continue;
        }
        clock_gettime(CLOCK_REALTIME, &until);
        ms = w->o.poll_interval_ms;
        until.tv_sec += (time_t)(ms / 1000);
        until.tv_nsec += (long)(ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!w->stop && !w->wake) {
            if (pthread_cond_timedwait(&w->cond, &w->lock, &until) == ETIMEDOUT)
                break;
        }
        w->wake = 0;
        if (w->stop) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        pthread_mutex_unlock(&w->lock);
    }
    return NULL;
}

int kura_webhook_worker_start(kura_webhook_worker **out, kura_store *st,
                              const kura_webhook_worker_options *opt, kura_db_error *err)
{
    kura_webhook_worker *w;
    if (out)
        *out = NULL;
    if (!out || !st)
        return kura_db_fail(err, KURA_DB_EINVAL, "webhook: bad arguments");
    if (opt && (opt->poll_interval_ms < 0 || opt->max_attempts < 0 || opt->backoff_base_ms < 0 ||
                opt->backoff_max_ms < 0 || opt->timeout_ms < 0 || opt->batch < 0 ||
                (opt->holder && strlen(opt->holder) >= 64)))
        return kura_db_fail(err, KURA_DB_EINVAL, "webhook: bad worker options");
    pthread_once(&curl_once, curl_setup);
    if (!curl_ready || sodium_init() < 0)
        return kura_db_fail(err, KURA_DB_EIO, "webhook: cannot initialise libcurl");
    w = calloc(1, sizeof *w);
    if (!w)
        return kura_db_fail(err, KURA_DB_ENOMEM, "webhook: out of memory");
    w->st = st;
    w->o = effective(opt);
    if (opt && opt->holder) {
        snprintf(w->holder, sizeof w->holder, "%s", opt->holder);
    } else {
        unsigned char r[8];
        char hex[17];
        randombytes_buf(r, sizeof r);
        sodium_bin2hex(hex, sizeof hex, r, sizeof r);
        snprintf(w->holder, sizeof w->holder, "worker-%s", hex);
    }
    w->o.holder = w->holder;
    {
        int lrc = kura_leader_new(&w->leader, st, KURA_LEADER_WEBHOOKS, w->holder, 0, err);
        if (lrc != KURA_DB_OK) {
            free(w);
            return lrc;
        }
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        kura_leader_free(w->leader);
        free(w);
        return kura_db_fail(err, KURA_DB_EIO, "webhook: cannot start the worker thread");
    }
    *out = w;
    return KURA_DB_OK;
}

void kura_webhook_worker_wake(kura_webhook_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->wake = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

void kura_webhook_worker_stop(kura_webhook_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    kura_leader_free(w->leader); /* gives the role up: another takes over at once */
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w);
}

void kura_webhook_worker_get_stats(kura_webhook_worker *w, kura_webhook_worker_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    *out = w->stats;
    pthread_mutex_unlock(&w->lock);
}
