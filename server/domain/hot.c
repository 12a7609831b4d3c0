/*
 * server/domain/hot.c — the hot wallets' spool: packages out to the inbox,
 * signed PSBTs and refusals in (hot.h).
 *
 * Nothing here decides whether to sign: the signer's check does, on the
 * signer. A package is written only for a transfer the approvers' quorum
 * moved to approved, and what comes back goes through the same intake as an
 * upload over the API. The files are named by transfer id and are the state:
 * no table records what was spooled, so a crash at any point is repaired by
 * the next pass looking at the directories and the transfers.
 */
#include "domain/hot.h"
#include "log/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "domain/domain_internal.h"
#include "domain/transfers.h"
#include "kura/psbt.h"

#define HOT_LEASE "hot-spool"
#define HOT_BATCH 200                      /* transfers per wallet per pass */
#define HOT_FILE_MAX (2u * KURA_PSBT_MAX_SIZE) /* largest outbox file read */
#define HOT_REFUSAL_MAX 8192                /* largest refusal file read */
#define HOT_REASON_MAX 1000                 /* transfers.c takes up to 1024 */

static void hot_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void hot_log(const char *fmt, ...)
{
    va_list ap;
    char line[1024];
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    kura_log(KURA_LOG_INFO, "hot: %s", line);
}

/* The actor of what the spool does: the server itself. */
static void system_principal(kura_principal *who)
{
    memset(who, 0, sizeof *who);
    who->kind = KURA_PRINCIPAL_SYSTEM;
    snprintf(who->id, sizeof who->id, "system");
    snprintf(who->name, sizeof who->name, "hot-signer");
}

/* ---- the election (the one place that knows how it is done) ---- */

typedef struct lease_arg {
    const char *holder;
    int64_t until, now;
    int release;
    int taken;
} lease_arg;

static int lease_fn(kura_db *db, void *arg, kura_db_error *err)
{
    lease_arg *a = arg;
    kura_db_result *res = NULL;
    int rc;
    a->taken = 0;
    if (a->release)
        return kura_db_exec(db, NULL, "DELETE FROM leases WHERE name = $1 AND holder = $2",
                            (kura_db_param[]){KURA_DB_TEXT(HOT_LEASE), KURA_DB_TEXT(a->holder)}, 2,
                            err);
    /* Taken when free, expired, or already ours (then renewed). */
    rc = kura_db_exec(db, &res,
                      "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) "
                      "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                      "expires_at = excluded.expires_at "
                      "WHERE leases.holder = excluded.holder OR leases.expires_at < $4 "
                      "RETURNING holder",
                      (kura_db_param[]){KURA_DB_TEXT(HOT_LEASE), KURA_DB_TEXT(a->holder),
                                        KURA_DB_INT(a->until), KURA_DB_INT(a->now)},
                      4, err);
    if (rc != KURA_DB_OK)
        return rc;
    a->taken = kura_db_result_rows(res) == 1;
    kura_db_result_free(res);
    return KURA_DB_OK;
}

/* Takes or renews the lease (release 0), or gives it up (release 1).
 * Returns a driver code; *taken 1 when this server is the one. */
static int hot_elect(kura_store *st, const char *holder, int64_t seconds, int64_t now, int release,
                     int *taken, kura_db_error *err)
{
    lease_arg a = {holder, now + seconds, now, release, 0};
    int rc = kura_store_write(st, lease_fn, &a, err);
    *taken = rc == KURA_DB_OK && a.taken;
    return rc;
}

/* ---- the wallet and its transfers ---- */

typedef struct scan_arg {
    const char *wallet;          /* id or name, as configured */
    char wallet_id[KURA_DB_ID_SIZE];
    int found, hot;
    char (*ids)[KURA_DB_ID_SIZE]; /* transfers that may need a package written */
    int64_t *since;               /* their updated_at (how long a retry has waited) */
    size_t n, cap;
    kura_problem *p;
} scan_arg;

static int add_id(scan_arg *a, const kura_transfer_row *t)
{
    if (a->n == a->cap) {
        size_t ncap = a->cap ? a->cap * 2 : 16;
        char(*nids)[KURA_DB_ID_SIZE] = realloc(a->ids, ncap * sizeof *nids);
        int64_t *nsince;
        if (!nids)
            return KURA_DB_ENOMEM;
        a->ids = nids;
        if (!(nsince = realloc(a->since, ncap * sizeof *nsince)))
            return KURA_DB_ENOMEM;
        a->since = nsince;
        a->cap = ncap;
    }
    a->since[a->n] = t->updated_at;
    snprintf(a->ids[a->n++], KURA_DB_ID_SIZE, "%s", t->id);
    return KURA_DB_OK;
}

static void scan_free(scan_arg *a)
{
    free(a->ids);
    free(a->since);
    a->ids = NULL;
    a->since = NULL;
}

static int scan_fn(kura_db *db, void *arg, kura_db_error *err)
{
    scan_arg *a = arg;
    kura_wallet_row *rows = NULL;
    kura_transfer_row *ts = NULL;
    size_t count = 0, nts = 0;
    char after[KURA_DB_ID_SIZE] = "";
    dom_wallet w;
    int rc;
    a->found = a->hot = 0;
    a->n = 0;
    /* The wallet, by id or by name. */
    do {
        if ((rc = kura_store_wallet_list(db, after[0] ? after : NULL, 100, &rows, &count, err)))
            return rc;
        for (size_t i = 0; i < count; i++) {
            if (!a->found && (!strcmp(rows[i].id, a->wallet) || !strcmp(rows[i].name, a->wallet))) {
                snprintf(a->wallet_id, sizeof a->wallet_id, "%s", rows[i].id);
                a->found = 1;
            }
            if (i + 1 == count)
                snprintf(after, sizeof after, "%s", rows[i].id);
            kura_wallet_row_clear(&rows[i]);
        }
        free(rows);
        rows = NULL;
    } while (!a->found && count == 100);
    if (!a->found)
        return KURA_DB_OK;
    memset(&w, 0, sizeof w);
    if ((rc = dom_wallet_load(db, a->wallet_id, 0, &w, a->p)))
        return rc;
    a->hot = w.policy->mode == KURA_POLICY_HOT;
    dom_wallet_clear(&w);
    if (!a->hot)
        return KURA_DB_OK;
    /* Approved ones get their package; awaiting_signatures ones without a
     * signature may have lost their file (the caller looks). */
    if ((rc = kura_store_transfer_list(db, a->wallet_id, "approved", NULL, HOT_BATCH, &ts, &nts,
                                       err)))
        return rc;
    for (size_t i = 0; i < nts && rc == KURA_DB_OK; i++)
        rc = add_id(a, &ts[i]);
    kura_transfer_rows_free(ts, nts);
    ts = NULL;
    if (rc)
        return rc;
    if ((rc = kura_store_transfer_list(db, a->wallet_id, "awaiting_signatures", NULL, HOT_BATCH,
                                       &ts, &nts, err)))
        return rc;
    for (size_t i = 0; i < nts && rc == KURA_DB_OK; i++) {
        int64_t uploads = 0;
        if ((rc = kura_store_upload_count(db, ts[i].id, &uploads, err)) == KURA_DB_OK &&
            uploads == 0)
            rc = add_id(a, &ts[i]);
    }
    kura_transfer_rows_free(ts, nts);
    return rc;
}

/* ---- files ---- */

static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc;
    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

static int exists(const char *dir, const char *sub, const char *id, const char *suffix)
{
    char path[2048];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s/%s%s", dir, sub, id, suffix);
    return lstat(path, &sb) == 0;
}

/* inbox/<id>.psbt, atomically: a temporary name the signer ignores, fsync,
 * rename, directory fsync. Group-readable: the signer runs as another user. */
static int write_inbox(const char *dir, const char *id, const uint8_t *data, size_t len)
{
    char inbox[2048], tmp[2300], path[2300];
    size_t off = 0;
    int fd, saved;
    snprintf(inbox, sizeof inbox, "%s/inbox", dir);
    snprintf(tmp, sizeof tmp, "%s/.%s.psbt.tmp", inbox, id);
    snprintf(path, sizeof path, "%s/%s.psbt", inbox, id);
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0)
        return -1;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            goto fail;
        off += (size_t)w;
    }
    if (fsync(fd) != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto fail;
    return sync_dir(inbox);
fail:
    saved = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    errno = saved;
    return -1;
}

static int read_small(const char *path, uint8_t **out, size_t *len, size_t max)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    size_t n;
    *out = NULL;
    *len = 0;
    if (!f)
        return -1;
    buf = malloc(max + 1);
    if (!buf) {
        fclose(f);
        return -1;
    }
    n = fread(buf, 1, max + 1, f);
    if (ferror(f) || n > max) {
        fclose(f);
        free(buf);
        errno = n > max ? EFBIG : EIO;
        return -1;
    }
    fclose(f);
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

/* A transfer id as this server makes them: [A-Za-z0-9_-]. */
static int id_from_name(char id[KURA_DB_ID_SIZE], const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    if (n <= s || n - s >= KURA_DB_ID_SIZE || strcmp(name + n - s, suffix) != 0 || name[0] == '.')
        return 0;
    for (size_t i = 0; i < n - s; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    memcpy(id, name, n - s);
    id[n - s] = '\0';
    return 1;
}

/* ---- the refusal: the transfer fails with the signer's reason ---- */

typedef struct fail_arg {
    const char *id;
    const char *reason;
    const char *code;
    int64_t now;
    int moved;
    kura_problem *p;
} fail_arg;

static int fail_fn(kura_db *db, void *arg, kura_db_error *err)
{
    fail_arg *a = arg;
    kura_transfer_row t;
    int expired = 0, rc;
    json_t *extra;
    a->moved = 0;
    if ((rc = dom_transfer_lock(db, a->id, &t, a->now, &expired, a->p, err)))
        return rc;
    if (expired || !dom_transfer_move_allowed(t.state, "failed")) {
        kura_transfer_row_clear(&t);
        return KURA_DB_OK; /* over already: nothing to fail */
    }
    extra = json_pack("{s:s}", "refusal", a->code);
    if (!extra) {
        kura_transfer_row_clear(&t);
        return KURA_DB_ENOMEM;
    }
    if ((rc = kura_store_utxo_release(db, t.id, err)) == KURA_DB_OK &&
        (rc = dom_transfer_move(db, "system", &t, "failed", a->reason, extra, a->now, NULL, a->p,
                                err)) == KURA_DB_OK)
        a->moved = 1;
    json_decref(extra);
    kura_transfer_row_clear(&t);
    return rc;
}

/* The "code: " and "message: " lines of a refusal file. */
static void refusal_fields(char *code, size_t code_cap, char *message, size_t msg_cap,
                           const char *text)
{
    const char *c = strstr(text, "\ncode: "), *m = strstr(text, "\nmessage: ");
    size_t n;
    snprintf(code, code_cap, "KURA_REFUSE_?");
    message[0] = '\0';
    if (c) {
        c += 7;
        for (n = 0; c[n] && c[n] != '\n' && n + 1 < code_cap; n++)
            ;
        memcpy(code, c, n);
        code[n] = '\0';
    }
    if (m) {
        m += 10;
        for (n = 0; m[n] && m[n] != '\n' && n + 1 < msg_cap; n++)
            ;
        memcpy(message, m, n);
        message[n] = '\0';
    }
}

/* Moves transfer `id` to failed with "<who> refused: <code>: <message>". */
static void hot_fail(kura_store *st, const char *id, const char *who, const char *code,
                     const char *message, int64_t now, kura_hot_report *r)
{
    char reason[HOT_REASON_MAX];
    kura_problem p = {0};
    kura_db_error err = {0};
    fail_arg fa;
    size_t o;
    int rc;
    o = (size_t)snprintf(reason, sizeof reason, "%s refused: %s: ", who, code);
    for (; o < sizeof reason && *message && *message != '\n' && o + 1 < sizeof reason; message++)
        reason[o++] = (*message >= 0x20 && *message < 0x7f) ? *message : '?';
    if (o < sizeof reason)
        reason[o] = '\0';
    fa = (fail_arg){id, reason, code, now, 0, &p};
    rc = kura_store_write(st, fail_fn, &fa, &err);
    if (rc != 0 && rc != KURA_PROBLEM_NOT_FOUND) {
        kura_problem_from_db(&p, rc, &err, "transfer");
        hot_log("%s: cannot record \"%s\" now: %s", id, reason, p.message);
        r->errors++;
        return;
    }
    hot_log("%s: %s%s", id, reason, fa.moved ? "; transfer failed" : "");
    r->refused += (size_t)fa.moved;
}

/* ---- one spool ---- */

static void write_packages(kura_store *st, const kura_hot_spool *sp, scan_arg *sa, int64_t now,
                           int64_t poll_s, kura_hot_report *r)
{
    kura_principal who;
    system_principal(&who);
    for (size_t i = 0; i < sa->n; i++) {
        const char *id = sa->ids[i];
        uint8_t *psbt = NULL;
        size_t len = 0;
        kura_problem p = {0};
        if (exists(sp->dir, "inbox", id, ".psbt") || exists(sp->dir, "outbox", id, ".psbt") ||
            exists(sp->dir, "refused", id, ".refused"))
            continue;
        if (kura_transfer_package(st, &who, id, now, &psbt, &len, &p) != 0) {
            if (p.code == KURA_PROBLEM_POLICY_LIMIT || p.code == KURA_PROBLEM_TX_MISMATCH ||
                p.code == KURA_PROBLEM_INVALID_APPROVAL || p.code == KURA_PROBLEM_INVALID_PSBT) {
                /* The signer would refuse it too, now and later: the back
                 * office hears it at once instead of at the expiry. */
                hot_fail(st, id, "package", kura_problem_name(p.code), p.message, now, r);
            } else {
                /* Funds may arrive, fees fall: tried again next pass, and
                 * said when first seen and then about every five minutes. */
                int64_t waited = now - sa->since[i], every = poll_s + 1;
                if (waited <= every || waited % 300 < every)
                    hot_log("%s: no package yet: %s: %s", id, kura_problem_name(p.code),
                            p.message);
                r->errors++;
            }
            continue;
        }
        if (write_inbox(sp->dir, id, psbt, len) != 0) {
            hot_log("%s: cannot write to %s/inbox: %s", id, sp->dir, strerror(errno));
            r->errors++;
        } else {
            hot_log("%s: package written to %s/inbox", id, sp->dir);
            r->written++;
        }
        free(psbt);
    }
}

static void collect(kura_store *st, const kura_hot_spool *sp, int64_t now, kura_hot_report *r)
{
    char dir[2048];
    DIR *d;
    struct dirent *de;
    kura_principal who;
    system_principal(&who);

    /* Signed PSBTs: the upload's intake. */
    snprintf(dir, sizeof dir, "%s/outbox", sp->dir);
    if ((d = opendir(dir)) != NULL) {
        while ((de = readdir(d)) != NULL) {
            char id[KURA_DB_ID_SIZE], path[2400], bad[2400];
            uint8_t *buf = NULL;
            size_t len = 0;
            kura_problem p = {0};
            json_t *out = NULL;
            int rc;
            if (!id_from_name(id, de->d_name, ".psbt"))
                continue;
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            if (read_small(path, &buf, &len, HOT_FILE_MAX) != 0) {
                hot_log("%s: cannot read %s: %s", id, path, strerror(errno));
                r->errors++;
                continue;
            }
            rc = kura_transfer_add_signatures(st, &who, id, buf, len, now, &out, &p);
            free(buf);
            if (rc == 0) {
                hot_log("%s: signed PSBT taken in (state %s)", id,
                        json_string_value(json_object_get(out, "state")));
                json_decref(out);
                r->collected++;
                unlink(path);
                sync_dir(dir);
            } else if (rc == KURA_PROBLEM_UNAVAILABLE || rc == KURA_PROBLEM_INTERNAL) {
                hot_log("%s: intake failed for now: %s", id, p.message);
                r->errors++;
            } else if (rc == KURA_PROBLEM_NOT_FOUND || rc == KURA_PROBLEM_INVALID_STATE ||
                       rc == KURA_PROBLEM_TRANSFER_EXPIRED) {
                hot_log("%s: signed PSBT not needed any more: %s", id, p.message);
                unlink(path);
                sync_dir(dir);
            } else {
                /* Not what was sent: kept aside for a person, never retried. */
                snprintf(bad, sizeof bad, "%s/.rejected-%s", dir, de->d_name);
                hot_log("%s: signed PSBT REFUSED by the intake: %s: %s (kept as %s)", id,
                        kura_problem_name(p.code), p.message, bad);
                rename(path, bad);
                r->errors++;
            }
        }
        closedir(d);
    }

    /* Refusals: the transfer fails with the signer's reason. */
    snprintf(dir, sizeof dir, "%s/refused", sp->dir);
    if ((d = opendir(dir)) != NULL) {
        while ((de = readdir(d)) != NULL) {
            char id[KURA_DB_ID_SIZE], path[2400], code[64], message[HOT_REASON_MAX];
            uint8_t *buf = NULL;
            size_t len = 0, before = r->errors;
            if (!id_from_name(id, de->d_name, ".refused"))
                continue;
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            if (read_small(path, &buf, &len, HOT_REFUSAL_MAX) != 0) {
                hot_log("%s: cannot read %s: %s", id, path, strerror(errno));
                r->errors++;
                continue;
            }
            refusal_fields(code, sizeof code, message, sizeof message, (const char *)buf);
            free(buf);
            hot_fail(st, id, "hot signer", code, message, now, r);
            if (r->errors != before)
                continue; /* kept: recorded on a later pass */
            unlink(path);
            sync_dir(dir);
        }
        closedir(d);
    }
}

int kura_hot_pass(kura_store *st, const kura_hot_options *o, int64_t now, kura_hot_report *r,
                  kura_problem *p)
{
    kura_db_error err = {0};
    int taken = 0, rc;
    memset(r, 0, sizeof *r);
    if (!st || !o || !o->spools || o->count == 0 || o->count > KURA_HOT_SPOOLS_MAX || !o->holder)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "hot: bad options");
    rc = hot_elect(st, o->holder, o->lease_seconds > 0 ? o->lease_seconds : 30, now, 0, &taken,
                   &err);
    if (rc)
        return kura_problem_from_db(p, rc, &err, "lease");
    if (!taken)
        return 0;
    r->leader = 1;
    for (size_t i = 0; i < o->count; i++) {
        const kura_hot_spool *sp = &o->spools[i];
        scan_arg sa;
        memset(&sa, 0, sizeof sa);
        sa.wallet = sp->wallet;
        sa.p = p;
        /* Results first: a refusal frees coins, a signature completes a transfer. */
        collect(st, sp, now, r);
        rc = kura_store_read(st, scan_fn, &sa, &err);
        if (rc) {
            scan_free(&sa);
            return kura_problem_from_db(p, rc, &err, "wallet");
        }
        if (!sa.found || !sa.hot) {
            scan_free(&sa);
            r->errors++;
            continue;
        }
        write_packages(st, sp, &sa, now,
                       o->poll_interval_ms > 0 ? (o->poll_interval_ms + 999) / 1000 : 1, r);
        scan_free(&sa);
    }
    return 0;
}

/* ---- the worker ---- */

struct kura_hot_worker {
    kura_store *st;
    kura_hot_options o;
    kura_hot_spool spools[KURA_HOT_SPOOLS_MAX];
    char wallets[KURA_HOT_SPOOLS_MAX][128];
    char dirs[KURA_HOT_SPOOLS_MAX][1024];
    char holder[64];
    int warned[KURA_HOT_SPOOLS_MAX];
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
};

/* Says once per spool why it is not served (no such wallet, not hot). */
static void warn_unserved(kura_hot_worker *w)
{
    for (size_t i = 0; i < w->o.count; i++) {
        scan_arg sa;
        kura_db_error err = {0};
        kura_problem p = {0};
        memset(&sa, 0, sizeof sa);
        sa.wallet = w->spools[i].wallet;
        sa.p = &p;
        if (kura_store_read(w->st, scan_fn, &sa, &err) != 0) {
            scan_free(&sa);
            continue;
        }
        scan_free(&sa);
        if ((!sa.found || !sa.hot) && !w->warned[i]) {
            hot_log("spool %s: wallet %s %s; not served", w->spools[i].dir, w->spools[i].wallet,
                    !sa.found ? "does not exist" : "has a cold policy in force");
            w->warned[i] = 1;
        } else if (sa.found && sa.hot) {
            w->warned[i] = 0;
        }
    }
}

static void *worker_main(void *arg)
{
    kura_hot_worker *w = arg;
    int leader = 0;
    for (;;) {
        kura_hot_report r;
        kura_problem p = {0};
        struct timespec until;
        int64_t ms = w->o.poll_interval_ms > 0 ? w->o.poll_interval_ms : 1000;
        if (kura_hot_pass(w->st, &w->o, (int64_t)time(NULL), &r, &p) != 0)
            hot_log("pass: %s", p.message);
        if (r.leader != leader)
            hot_log("%s", r.leader ? "this server serves the hot spools"
                                   : "another server serves the hot spools");
        leader = r.leader;
        if (r.leader && r.errors)
            warn_unserved(w);
        pthread_mutex_lock(&w->lock);
        if (w->stop) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)(ms / 1000);
        until.tv_nsec += (long)(ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!w->stop) {
            if (pthread_cond_timedwait(&w->cond, &w->lock, &until) == ETIMEDOUT)
                break;
        }
        if (w->stop) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        pthread_mutex_unlock(&w->lock);
    }
    return NULL;
}

int kura_hot_worker_start(kura_hot_worker **out, kura_store *st, const kura_hot_options *o,
                          char *errbuf, size_t errlen)
{
    kura_hot_worker *w;
    *out = NULL;
    if (!st || !o || !o->spools || o->count == 0 || o->count > KURA_HOT_SPOOLS_MAX ||
        (o->holder && strlen(o->holder) >= 64)) {
        snprintf(errbuf, errlen, "hot: bad options");
        return -1;
    }
    if (!(w = calloc(1, sizeof *w))) {
        snprintf(errbuf, errlen, "hot: out of memory");
        return -1;
    }
    w->st = st;
    w->o = *o;
    for (size_t i = 0; i < o->count; i++) {
        if (!o->spools[i].wallet || !o->spools[i].dir ||
            strlen(o->spools[i].wallet) >= sizeof w->wallets[i] ||
            strlen(o->spools[i].dir) >= sizeof w->dirs[i]) {
            snprintf(errbuf, errlen, "hot: spool %zu: bad wallet or directory", i + 1);
            free(w);
            return -1;
        }
        snprintf(w->wallets[i], sizeof w->wallets[i], "%s", o->spools[i].wallet);
        snprintf(w->dirs[i], sizeof w->dirs[i], "%s", o->spools[i].dir);
        w->spools[i].wallet = w->wallets[i];
        w->spools[i].dir = w->dirs[i];
    }
    w->o.spools = w->spools;
    if (o->holder) {
        snprintf(w->holder, sizeof w->holder, "%s", o->holder);
    } else {
        unsigned char rnd[8];
        char hex[17];
        randombytes_buf(rnd, sizeof rnd);
        sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
        snprintf(w->holder, sizeof w->holder, "hot-%s", hex);
    }
    w->o.holder = w->holder;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        free(w);
        snprintf(errbuf, errlen, "hot: cannot start the worker thread");
        return -1;
    }
    *out = w;
    return 0;
}

void kura_hot_worker_stop(kura_hot_worker *w)
{
    kura_db_error err = {0};
    int taken;
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    hot_elect(w->st, w->holder, 0, (int64_t)time(NULL), 1, &taken, &err);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w);
}
