/*
 * server/store/leader.c — leader election (leader.h): a PostgreSQL advisory
 * lock held by a session of the candidate's own, or a lease row on SQLite;
 * a fencing check on the lease row in every transaction of the leader's.
 */
#include "store/leader.h"
#include "log/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define REGISTRY_MAX 32

struct kura_leader {
    kura_store *st;
    kura_db_kind kind;
    char name[49];
    char holder[64];
    int64_t lease_seconds;
    int64_t key;          /* the advisory lock's key */
    kura_db *conn;        /* PostgreSQL: the session that holds the lock */
    int64_t expires;      /* SQLite: the lease's end, as last renewed */
    int lost;             /* PostgreSQL: the session broke while leading */
    _Atomic int leading;
    _Atomic int fenced;   /* a fence found another named: no longer leading */
};

/* Every candidate alive in this process, for /metrics. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static kura_leader *registry[REGISTRY_MAX];

static void registry_add(kura_leader *l)
{
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < REGISTRY_MAX; i++)
        if (!registry[i]) {
            registry[i] = l;
            break;
        }
    pthread_mutex_unlock(&registry_lock);
}

static void registry_remove(kura_leader *l)
{
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < REGISTRY_MAX; i++)
        if (registry[i] == l)
            registry[i] = NULL;
    pthread_mutex_unlock(&registry_lock);
}

void kura_leader_each(void (*fn)(void *ctx, const char *name, int leading), void *ctx)
{
    if (!fn)
        return;
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < REGISTRY_MAX; i++)
        if (registry[i])
            fn(ctx, registry[i]->name, atomic_load(&registry[i]->leading));
    pthread_mutex_unlock(&registry_lock);
}

static int name_valid(const char *n)
{
    size_t i = 0;
    if (!n)
        return 0;
    for (; n[i]; i++)
        if (i >= 48 || !((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '-'))
            return 0;
    return i > 0;
}

int kura_leader_new(kura_leader **out, kura_store *st, const char *name, const char *holder,
                    int64_t lease_seconds, kura_db_error *err)
{
    kura_leader *l;
    uint8_t h[8];
    uint64_t k = 0;
    char tag[64];
    if (out)
        *out = NULL;
    if (!out || !st || !name_valid(name) || (holder && strlen(holder) > 63) || lease_seconds < 0)
        return kura_db_fail(err, KURA_DB_EINVAL, "leader: bad arguments");
    l = calloc(1, sizeof *l);
    if (!l)
        return kura_db_fail(err, KURA_DB_ENOMEM, "leader: out of memory");
    l->st = st;
    l->kind = kura_store_kind(st);
    snprintf(l->name, sizeof l->name, "%s", name);
    if (holder && holder[0]) {
        snprintf(l->holder, sizeof l->holder, "%s", holder);
    } else {
        uint8_t r[6];
        char hex[13];
        randombytes_buf(r, sizeof r);
        sodium_bin2hex(hex, sizeof hex, r, sizeof r);
        snprintf(l->holder, sizeof l->holder, "%s-%s", name, hex);
    }
    l->lease_seconds = lease_seconds > 0 ? lease_seconds : 30;
    /* The lock's key: 64 bits of a hash of the role's name, the same in
     * every process (and apart from the store's migration lock). */
    snprintf(tag, sizeof tag, "kura-leader:%s", name);
    crypto_generichash(h, sizeof h, (const uint8_t *)tag, strlen(tag), NULL, 0);
    for (size_t i = 0; i < sizeof h; i++)
        k = (k << 8) | h[i];
    memcpy(&l->key, &k, sizeof l->key);
    atomic_init(&l->leading, 0);
    atomic_init(&l->fenced, 0);
    registry_add(l);
    *out = l;
    return KURA_DB_OK;
}

const char *kura_leader_holder(const kura_leader *l) { return l ? l->holder : ""; }
const char *kura_leader_name(const kura_leader *l) { return l ? l->name : ""; }
int kura_leader_leading(const kura_leader *l) { return l ? atomic_load(&l->leading) : 0; }

/* PostgreSQL: drops the session, and with it the lock (if held). */
static void disconnect(kura_leader *l)
{
    kura_db_close(l->conn);
    l->conn = NULL;
    atomic_store(&l->leading, 0);
}

/* ---- SQLite: the lease row ---- */

typedef struct lease_arg {
    kura_leader *l;
    int64_t now;
    int release;
    int held; /* out */
} lease_arg;

static int lease_fn(kura_db *db, void *varg, kura_db_error *err)
{
    lease_arg *a = varg;
    kura_db_result *res = NULL;
    int rc;
    a->held = 0;
    if (a->release)
        return kura_db_exec(db, NULL, "UPDATE leases SET expires_at = 0 WHERE name = $1 AND holder = $2",
                            (kura_db_param[]){KURA_DB_TEXT(a->l->name), KURA_DB_TEXT(a->l->holder)},
                            2, err);
    rc = kura_db_exec(db, NULL,
                      "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) "
                      "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                      "expires_at = excluded.expires_at "
                      "WHERE leases.holder = excluded.holder OR leases.expires_at <= $4",
                      (kura_db_param[]){KURA_DB_TEXT(a->l->name), KURA_DB_TEXT(a->l->holder),
                                        KURA_DB_INT(a->now + a->l->lease_seconds),
                                        KURA_DB_INT(a->now)},
                      4, err);
    if (rc)
        return rc;
    rc = kura_db_exec(db, &res, "SELECT holder FROM leases WHERE name = $1",
                      (kura_db_param[]){KURA_DB_TEXT(a->l->name)}, 1, err);
    if (rc == KURA_DB_OK) {
        const char *h = kura_db_result_text(res, 0, 0);
        a->held = h && strcmp(h, a->l->holder) == 0;
    }
    kura_db_result_free(res);
    return rc;
}

/* ---- PostgreSQL: the advisory lock ---- */

/* Takes the lock if free; on success names this candidate in the lease row
 * (the fencing step: waits for a predecessor's transaction in flight). */
static int pg_acquire(kura_leader *l, int64_t now, kura_db_error *err)
{
    kura_db_result *res = NULL;
    const char *got;
    int rc;
    if (!l->conn) {
        if ((rc = kura_store_connect(l->st, &l->conn, err)) != KURA_DB_OK)
            return rc;
        /* The lock lives as long as the session does on the server's side.
         * A leader cut off by the network (no FIN, no RST) would keep it
         * until the kernel's keepalive gave up (hours by default): the
         * server probes this session's TCP connection instead, and ends it
         * (freeing the lock) about 25 s after the leader went silent. No
         * effect on a Unix socket. */
        rc = kura_db_exec(l->conn, NULL,
                          "SELECT set_config('tcp_keepalives_idle', '10', false), "
                          "set_config('tcp_keepalives_interval', '5', false), "
                          "set_config('tcp_keepalives_count', '3', false)",
                          NULL, 0, err);
        if (rc != KURA_DB_OK) {
            disconnect(l);
            return rc;
        }
    }
    rc = kura_db_exec(l->conn, &res, "SELECT pg_try_advisory_lock($1::bigint)",
                      (kura_db_param[]){KURA_DB_INT(l->key)}, 1, err);
    if (rc != KURA_DB_OK) {
        disconnect(l);
        return rc;
    }
    got = kura_db_result_text(res, 0, 0);
    if (!got || strcmp(got, "t") != 0) {
        kura_db_result_free(res);
        return KURA_DB_OK;
    }
    kura_db_result_free(res);
    rc = kura_db_exec(l->conn, NULL,
                      "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) "
                      "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                      "expires_at = excluded.expires_at",
                      (kura_db_param[]){KURA_DB_TEXT(l->name), KURA_DB_TEXT(l->holder),
                                        KURA_DB_INT(now + l->lease_seconds)},
                      3, err);
    if (rc != KURA_DB_OK) {
        /* Not named in the row: not the leader; the lock goes with the session. */
        disconnect(l);
        return rc;
    }
    atomic_store(&l->leading, 1);
    return KURA_DB_OK;
}

/* The leader's check: its session answers, and the row still names it. */
static int pg_still(kura_leader *l, int64_t now)
{
    kura_db_result *res = NULL;
    kura_db_error e = {0};
    int rc;
    if (!l->conn || !atomic_load(&l->leading))
        return 0;
    rc = kura_db_exec(l->conn, &res, "UPDATE leases SET expires_at = $3 WHERE name = $1 AND holder = $2",
                      (kura_db_param[]){KURA_DB_TEXT(l->name), KURA_DB_TEXT(l->holder),
                                        KURA_DB_INT(now + l->lease_seconds)},
                      3, &e);
    if (rc != KURA_DB_OK || kura_db_result_changes(res) != 1) {
        kura_db_result_free(res);
        kura_log(KURA_LOG_INFO, "leader: %s: no longer leading (%s)", l->name,
                rc != KURA_DB_OK ? e.message : "the lease row names another");
        disconnect(l);
        l->lost = 1;
        return 0;
    }
    kura_db_result_free(res);
    return 1;
}

/* ---- the interface ---- */

/* A fence (maybe on another thread) found the row naming another: give the
 * role up here, on the leader's thread. */
static void fenced_out(kura_leader *l)
{
    if (!atomic_exchange(&l->fenced, 0))
        return;
    if (l->kind == KURA_DB_POSTGRES && atomic_load(&l->leading)) {
        disconnect(l);
        l->lost = 1;
    }
    atomic_store(&l->leading, 0);
}

int kura_leader_try_acquire(kura_leader *l, int64_t now, int *leading, kura_db_error *err)
{
    int rc = KURA_DB_OK;
    if (leading)
        *leading = 0;
    if (!l)
        return kura_db_fail(err, KURA_DB_EINVAL, "leader: bad arguments");
    fenced_out(l);
    if (l->kind == KURA_DB_POSTGRES) {
        /* A leader whose session broke steps back for one round (its
         * connection may be what is failing) and lets a peer take over;
         * after that it is a candidate like any other. */
        if (!pg_still(l, now) && l->lost) {
            l->lost = 0;
        } else if (!atomic_load(&l->leading)) {
            rc = pg_acquire(l, now, err);
            if (atomic_load(&l->leading))
                kura_log(KURA_LOG_INFO, "leader: %s: leading (%s)", l->name, l->holder);
        }
    } else if (atomic_load(&l->leading) && now < l->expires - l->lease_seconds / 2) {
        /* Renewed at half time, not at every call: each renewal is a
         * durable write, and SQLite has one writer. */
    } else {
        lease_arg a = {l, now, 0, 0};
        rc = kura_store_write(l->st, lease_fn, &a, err);
        atomic_store(&l->leading, rc == KURA_DB_OK && a.held);
        if (a.held)
            l->expires = now + l->lease_seconds;
    }
    if (leading)
        *leading = atomic_load(&l->leading);
    return rc;
}

int kura_leader_still(kura_leader *l, int64_t now)
{
    if (!l)
        return 0;
    fenced_out(l);
    if (l->kind == KURA_DB_POSTGRES)
        return pg_still(l, now);
    /* One process: the lease holds until it runs out (renewed by
     * kura_leader_try_acquire); the fence catches a takeover. */
    if (atomic_load(&l->leading) && now >= l->expires)
        atomic_store(&l->leading, 0);
    return atomic_load(&l->leading);
}

int kura_leader_fence(kura_db *db, kura_leader *l, kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc;
    if (!db || !l)
        return kura_db_fail(err, KURA_DB_EINVAL, "leader: bad arguments");
    /* An UPDATE, not a SELECT: on PostgreSQL it holds the row lock until this
     * transaction ends, so a successor's takeover (which writes the row)
     * waits for it, and this one sees a takeover that committed before. */
    rc = kura_db_exec(db, &res,
                      "UPDATE leases SET holder = holder WHERE name = $1 AND holder = $2 "
                      "RETURNING holder",
                      (kura_db_param[]){KURA_DB_TEXT(l->name), KURA_DB_TEXT(l->holder)}, 2, err);
    if (rc == KURA_DB_OK && kura_db_result_rows(res) != 1) {
        atomic_store(&l->fenced, 1);
        rc = kura_db_fail(err, KURA_DB_ECONFLICT,
                          "leader: %s: another took the lease over; this one stops writing", l->name);
    }
    kura_db_result_free(res);
    return rc;
}

void kura_leader_release(kura_leader *l)
{
    kura_db_error e = {0};
    if (!l)
        return;
    if (l->kind == KURA_DB_POSTGRES) {
        if (l->conn && atomic_load(&l->leading)) {
            kura_db_exec(l->conn, NULL, "UPDATE leases SET expires_at = 0 WHERE name = $1 AND holder = $2",
                         (kura_db_param[]){KURA_DB_TEXT(l->name), KURA_DB_TEXT(l->holder)}, 2, &e);
            kura_db_exec(l->conn, NULL, "SELECT pg_advisory_unlock($1::bigint)",
                         (kura_db_param[]){KURA_DB_INT(l->key)}, 1, &e);
        }
        disconnect(l);
        return;
    }
    if (atomic_load(&l->leading)) {
        lease_arg a = {l, 0, 1, 0};
        kura_store_write(l->st, lease_fn, &a, &e);
    }
    atomic_store(&l->leading, 0);
}

void kura_leader_free(kura_leader *l)
{
    if (!l)
        return;
    registry_remove(l);
    kura_leader_release(l);
    free(l);
}
