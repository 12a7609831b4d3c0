/*
 * programs/kura-cold/serve.c — `kura-cold serve --spool DIR`: the hot
 * wallet's unattended signer (DESIGN "The hot signer"; docs/kura-cold.md,
 * "serve").
 *
 * It has no network code: kura-server and the signer share one directory,
 *
 *   DIR/inbox/NAME.psbt       packages, written by kura-server (a temporary
 *                             name starting with '.', then renamed)
 *   DIR/outbox/NAME.psbt      the signed PSBT, for the same NAME
 *   DIR/refused/NAME.refused  why it was refused: "kura-refusal 1", then
 *                             "file: NAME.psbt", "code: KURA_REFUSE_<X>",
 *                             "message: <the check's message>"
 *
 * Every package goes through cold_cmd_sign, the very function `kura-cold
 * sign PACKAGE -o OUT --unattended` runs: the same state load, the same
 * check (kura_check_package), the same hot-policy rule, the same journal
 * order. Serve adds nothing to the decision and skips nothing of it; it only
 * holds the keystore open (so no passphrase is read per package) and turns
 * sign's exit into a file.
 *
 * Crash safety comes from sign's order: the journal entry is fsynced before
 * the signed PSBT is linked into the outbox, so an outbox file always has its
 * journal entry. The inbox file is removed only after its outbox or refusal
 * file is durable; a package found in the inbox with a result already there
 * is a crash between the two and is only removed. A crash after the journal
 * entry and before the outbox file leaves a journaled signature that never
 * left: on the next start the same package has that signature re-emitted
 * (reemit below: the same transaction, the same check), and any other
 * transaction for the intent is refused as KURA_REFUSE_INTENT_REPLAY.
 *
 * Refused: a wallet whose rules in force are not hot (exit 1 at start; a
 * cold wallet is never signed unattended). A package that cannot be handled
 * now (exit 2 of sign: a full disk, an unreadable file) stays in the inbox
 * and is tried again at the next poll. SIGTERM or SIGINT: the package in
 * hand is finished, then serve exits 0.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cold.h"
#include "kura/hash.h"
#include "kura/journal.h"
#include "kura/psbt.h"
#include "kura/tx.h"

#define SERVE_NAME_MAX 200         /* longest NAME.psbt accepted in the inbox */
#define SERVE_BATCH_MAX 4096       /* packages taken per pass (the rest next pass) */
#define SERVE_POLL_MS_DEFAULT 1000
#define SERVE_STAGING "serve-staging" /* in the data directory: private copies */
/* Staged at most: one byte less than sign reads from a package file, so an
 * oversized one reaches the check (refused as malformed, journaled). */
#define SERVE_PACKAGE_MAX (2u * KURA_PSBT_MAX_SIZE - 1u)
#define SUFFIX ".psbt"
#define SUFFIX_LEN (sizeof(SUFFIX) - 1)

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
}

typedef struct serve_dirs {
    char inbox[4096], outbox[4096], refused[4096];
} serve_dirs;

/* The packages that may have a torn answer (journaled, not written): those
 * in the inbox when serve started, and those it could not finish since. For
 * them serve first tries to re-emit the journaled signature (reemit). */
#define SERVE_RETRY_MAX 256
typedef struct serve_retry {
    int all;                      /* the first pass: every package */
    char *names[SERVE_RETRY_MAX]; /* strdup'd */
    size_t count;
} serve_retry;

static int retry_has(const serve_retry *r, const char *name)
{
    if (r->all) return 1;
    for (size_t i = 0; i < r->count; i++)
        if (strcmp(r->names[i], name) == 0) return 1;
    return 0;
}

static void retry_set(serve_retry *r, const char *name, int on)
{
    for (size_t i = 0; i < r->count; i++)
        if (strcmp(r->names[i], name) == 0) {
            if (!on) {
                free(r->names[i]);
                r->names[i] = r->names[--r->count];
            }
            return;
        }
    if (on && r->count < SERVE_RETRY_MAX && (r->names[r->count] = strdup(name)) != NULL)
        r->count++;
}

static void retry_free(serve_retry *r)
{
    for (size_t i = 0; i < r->count; i++) free(r->names[i]);
    r->count = 0;
}

/* A name serve takes: [A-Za-z0-9._-], not starting with '.', ending .psbt. */
static int acceptable_name(const char *n)
{
    size_t len = strlen(n);
    if (len <= SUFFIX_LEN || len > SERVE_NAME_MAX || n[0] == '.') return 0;
    if (strcmp(n + len - SUFFIX_LEN, SUFFIX) != 0) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The refusal file's text from sign's last message "refused: KURA_REFUSE_X:
 * message" (a refusal that could not be told apart is named
 * KURA_REFUSE_? with the whole message). */
static char *refusal_text(const char *file, size_t *len)
{
    const char *m = cold_last_failure(), *code = "KURA_REFUSE_?", *msg = m;
    char codebuf[64], *text, *p;
    size_t n;
    int w;
    if (strncmp(m, "refused: ", 9) == 0) {
        const char *c = m + 9, *colon = strstr(c, ": ");
        if (colon != NULL && (size_t)(colon - c) < sizeof(codebuf)) {
            memcpy(codebuf, c, (size_t)(colon - c));
            codebuf[colon - c] = '\0';
            code = codebuf;
            msg = colon + 2;
        }
    }
    n = strlen(file) + strlen(code) + strlen(msg) + 64;
    if ((text = malloc(n)) == NULL) return NULL;
    w = snprintf(text, n, "kura-refusal 1\nfile: %s\ncode: %s\nmessage: ", file, code);
    if (w < 0 || (size_t)w >= n) {
        free(text);
        return NULL;
    }
    /* One line per field: a message never spans lines. */
    for (p = text + w; *msg != '\0'; msg++) *p++ = (*msg == '\n' || *msg == '\r') ? ' ' : *msg;
    *p++ = '\n';
    *p = '\0';
    w = (int)(p - text);
    *len = (size_t)w;
    return text;
}

/* Copies the inbox file into the signer's own staging directory, so what
 * sign reads is a private file: the inbox belongs to kura-server's user too,
 * which could swap the name for a symbolic link (to the passphrase file, say)
 * between the listing and the read. Opened without following links; a link
 * or an oversized file is staged empty or cut, and sign refuses it as
 * malformed. Returns COLD_EXIT_OK, or COLD_EXIT_CANNOT (left in the inbox). */
static int stage_package(const char *in, const char *staged)
{
    int fd = open(in, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), out, rc = COLD_EXIT_OK;
    uint8_t buf[65536];
    size_t total = 0;
    struct stat sb;
    if (fd < 0 && errno != ELOOP)
        return cold_fail(COLD_EXIT_CANNOT, "cannot read %s: %s", in, strerror(errno));
    if (fd >= 0 && (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))) {
        close(fd);
        fd = -1; /* staged empty: refused as malformed */
    }
    unlink(staged);
    out = open(staged, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (out < 0) {
        if (fd >= 0) close(fd);
        return cold_fail(COLD_EXIT_CANNOT, "cannot create %s: %s", staged, strerror(errno));
    }
    while (fd >= 0 && total < SERVE_PACKAGE_MAX) {
        size_t want = SERVE_PACKAGE_MAX - total < sizeof(buf) ? SERVE_PACKAGE_MAX - total
                                                               : sizeof(buf);
        ssize_t n = read(fd, buf, want);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            rc = cold_fail(COLD_EXIT_CANNOT, "cannot read %s: %s", in, strerror(errno));
            break;
        }
        if (n == 0) break;
        if (cold_write_all(out, buf, (size_t)n) != 0) {
            rc = cold_fail(COLD_EXIT_CANNOT, "cannot write %s: %s", staged, strerror(errno));
            break;
        }
        total += (size_t)n;
    }
    if (fd >= 0) close(fd);
    if (close(out) != 0 && rc == COLD_EXIT_OK)
        rc = cold_fail(COLD_EXIT_CANNOT, "cannot write %s: %s", staged, strerror(errno));
    if (rc != COLD_EXIT_OK) unlink(staged);
    return rc;
}

/* ---- a torn answer: journaled, never written ----
 *
 * A crash (or a failed write) after the journal's `signed` entry and before
 * the outbox file leaves a signature that never left the signer. The same
 * package then comes back. Signing it again is not a second payment when it
 * is the very transaction the journal records (same intent, same txid): the
 * signature is re-emitted. It goes through the same check, kura_check_package
 * on the signer's own state, with two differences only, both about that one
 * entry: the replay rule lets this intent through once more for this txid,
 * and the rolling limit does not count its own amount twice. Nothing new is
 * journaled (the entry is there). Any other transaction for a signed intent
 * still goes to sign, which refuses it as KURA_REFUSE_INTENT_REPLAY. */

typedef struct torn_entry {
    uint8_t intent_hash[32];
    uint8_t txid[32];
    int64_t time;
    uint64_t amount, fee;
} torn_entry;

typedef struct reemit_view {
    kura_check_journal inner; /* the signer's own callbacks (state.c) */
    const torn_entry *torn;
    int64_t now;
} reemit_view;

static int re_intent_signed(void *arg, const uint8_t intent_hash[32], const char *intent_id)
{
    const reemit_view *v = arg;
    if (intent_hash != NULL && sodium_memcmp(intent_hash, v->torn->intent_hash, 32) == 0) return 0;
    return v->inner.intent_signed(v->inner.arg, intent_hash, intent_id);
}

static uint64_t re_signed_since(void *arg, int64_t since)
{
    const reemit_view *v = arg;
    uint64_t sum = v->inner.signed_since(v->inner.arg, since), own;
    /* The journal's sum holds the torn entry when it lies in (since, ...]. */
    if (sum == UINT64_MAX || v->torn->time <= since) return sum;
    own = v->torn->amount + v->torn->fee;
    return own <= sum ? sum - own : 0;
}

static int64_t re_allow_accepted_at(void *arg, const uint8_t *script, size_t script_len)
{
    const reemit_view *v = arg;
    return v->inner.allow_accepted_at(v->inner.arg, script, script_len);
}

/* The `signed` entry of intent_hash in the journal file, into *t. Returns 1
 * found, 0 not, -1 unreadable. */
static int find_signed_entry(torn_entry *t, const char *dir, const uint8_t intent_hash[32])
{
    char path[4096];
    uint8_t *data = NULL;
    size_t len = 0, start = 0;
    int found = 0;
    if (cold_path(path, sizeof(path), dir, COLD_FILE_JOURNAL) != 0 ||
        cold_read_file(&data, &len, path, SIZE_MAX / 2) != 0)
        return -1;
    for (size_t i = 0; i < len && !found; i++) {
        kura_journal_entry e;
        if (data[i] != '\n') continue;
        if (kura_journal_entry_parse(&e, data + start, i - start, NULL) == KURA_OK &&
            e.kind == KURA_JOURNAL_SIGNED && e.has_intent_hash &&
            memcmp(e.intent_hash, intent_hash, 32) == 0) {
            memcpy(t->intent_hash, e.intent_hash, 32);
            memcpy(t->txid, e.txid, 32);
            t->time = e.time;
            t->amount = e.amount;
            t->fee = e.fee;
            found = 1;
        }
        start = i + 1;
    }
    free(data);
    return found;
}

/* Returns 1 re-emitted (out written), 0 not a torn answer of this very
 * transaction (sign decides), or COLD_EXIT_CANNOT (-) as -1. */
static int reemit(const cold_env *e, const char *staged, const char *out, const char *name)
{
    cold_state st;
    kura_psbt *psbt = NULL;
    kura_tx *utx = NULL;
    kura_package_view view;
    kura_signer_state ss;
    kura_check_result res;
    kura_bip32_key *master = NULL;
    kura_error err;
    torn_entry torn;
    reemit_view rv;
    uint8_t *pkg = NULL, *bin = NULL, hash[32], txid[32];
    char *b64 = NULL;
    size_t len = 0, out_len = 0, count = 0;
    int binary, rc = 0, crc;

    memset(&st, 0, sizeof(st));
    memset(&res, 0, sizeof(res));
    if (cold_read_file(&pkg, &len, staged, SERVE_PACKAGE_MAX) != 0) return 0;
    binary = len >= 5 && memcmp(pkg, "psbt\xff", 5) == 0;
    if (binary)
        crc = kura_psbt_parse(&psbt, pkg, len, NULL);
    else {
        while (len > 0 && (pkg[len - 1] == '\n' || pkg[len - 1] == '\r' || pkg[len - 1] == ' '))
            len--;
        crc = kura_psbt_from_base64(&psbt, (const char *)pkg, len, NULL);
    }
    if (crc != KURA_OK || kura_package_read(&view, psbt, NULL) != KURA_OK || view.intent == NULL)
        goto done;
    kura_intent_hash(hash, view.intent, view.intent_len);
    if (find_signed_entry(&torn, e->dir, hash) != 1) goto done;
    if (kura_psbt_unsigned_tx(&utx, psbt, NULL) != KURA_OK || kura_tx_txid(txid, utx) != KURA_OK ||
        memcmp(txid, torn.txid, 32) != 0)
        goto done; /* another transaction for a signed intent: sign refuses it */

    if (cold_state_load(e, &st, 1) != COLD_EXIT_OK) {
        rc = -1;
        goto done;
    }
    cold_signer_state(&ss, &st, e->now);
    rv.inner = ss.journal;
    rv.torn = &torn;
    rv.now = e->now;
    ss.journal.arg = &rv;
    ss.journal.intent_signed = re_intent_signed;
    ss.journal.signed_since = re_signed_since;
    ss.journal.allow_accepted_at = re_allow_accepted_at;
    crc = kura_check_package(e->ctx, &res, &ss, psbt);
    if (crc != KURA_OK || res.reason != KURA_REFUSE_NONE ||
        memcmp(res.intent_hash, torn.intent_hash, 32) != 0 || st.rules->mode != KURA_POLICY_HOT ||
        (res.new_policy != NULL && res.new_policy->mode != KURA_POLICY_HOT)) {
        cold_note("%s: the journaled signature is not re-emitted: %s %s", name,
                  kura_refusal_name(res.reason), res.message);
        goto done;
    }
    if (cold_master_from_secret(e, &master, e->held_secret, e->held_info) != COLD_EXIT_OK) {
        rc = -1;
        goto done;
    }
    crc = e->held_info->network == st.network
              ? kura_psbt_sign_bip32(e->ctx, psbt, &count, master, KURA_PSBT_SIGN_VERIFY, &err)
              : KURA_EINVAL;
    cold_master_free(master);
    if (crc != KURA_OK) goto done; /* sign says why, and refuses */
    crc = binary ? kura_psbt_serialize(&bin, &out_len, psbt)
                 : kura_psbt_to_base64(&b64, &out_len, psbt);
    if (crc != KURA_OK ||
        cold_write_atomic(out, binary ? bin : (const uint8_t *)b64, out_len, 0644, 0) != 0) {
        cold_fail(COLD_EXIT_CANNOT, "%s: cannot write %s: %s", name, out, strerror(errno));
        rc = -1;
        goto done;
    }
    cold_note("%s: re-emitted the signature the journal already records (a crash came between "
              "the journal and the outbox); nothing new journaled", name);
    rc = 1;
done:
    kura_check_result_clear(&res);
    cold_state_free(&st);
    kura_tx_free(utx);
    kura_psbt_free(psbt);
    free(pkg);
    free(bin);
    free(b64);
    return rc;
}

/* One package: sign it (exactly as `sign NAME -o OUT --unattended`), then
 * the result file, then the inbox file goes. Returns COLD_EXIT_OK (done:
 * signed or refused), or COLD_EXIT_CANNOT (left in the inbox). */
static int serve_one(const cold_env *env, const serve_dirs *d, const char *name, int fixed_clock,
                     int retry, size_t *signed_count, size_t *refused_count)
{
    char in[4096 + SERVE_NAME_MAX + 2], out[sizeof(in)], ref[sizeof(in) + 16];
    char staged[4096 + SERVE_NAME_MAX + 32];
    size_t stem = strlen(name) - SUFFIX_LEN;
    cold_args a;
    cold_env e;
    int rc;
    if (snprintf(in, sizeof(in), "%s/%s", d->inbox, name) >= (int)sizeof(in) ||
        snprintf(out, sizeof(out), "%s/%s", d->outbox, name) >= (int)sizeof(out) ||
        snprintf(ref, sizeof(ref), "%s/%.*s.refused", d->refused, (int)stem, name) >=
            (int)sizeof(ref))
        return cold_fail(COLD_EXIT_CANNOT, "%s: path too long", name);
    if (access(out, F_OK) == 0 || access(ref, F_OK) == 0) {
        /* Done before a crash took the process between the result and this. */
        cold_note("%s: already answered; removed from the inbox", name);
        if (unlink(in) != 0 && errno != ENOENT)
            return cold_fail(COLD_EXIT_CANNOT, "cannot remove %s: %s", in, strerror(errno));
        cold_sync_dir(in);
        return COLD_EXIT_OK;
    }

    e = *env;
    if (!fixed_clock) {
        time_t t = time(NULL);
        if (t < 0 || (int64_t)t > KURA_JOURNAL_TIME_MAX)
            return cold_fail(COLD_EXIT_CANNOT, "the system clock is out of range");
        e.now = (int64_t)t;
    }
    if (snprintf(staged, sizeof(staged), "%s/%s/%s", env->dir, SERVE_STAGING, name) >=
        (int)sizeof(staged))
        return cold_fail(COLD_EXIT_CANNOT, "%s: path too long", name);
    if ((rc = stage_package(in, staged)) != COLD_EXIT_OK) {
        cold_note("%s: could not be handled now; left in the inbox for the next pass", name);
        return rc;
    }

    memset(&a, 0, sizeof(a));
    a.pos[0] = staged;
    a.npos = 1;
    a.value[OPT_OUTPUT] = out;
    a.value[OPT_UNATTENDED] = "";
    e.args = &a;
    cold_note("%s: checking", name);
    rc = -2;
    if (retry) {
        int r = reemit(&e, staged, out, name);
        if (r < 0) {
            unlink(staged);
            cold_note("%s: could not be handled now; left in the inbox for the next pass", name);
            return COLD_EXIT_CANNOT;
        }
        if (r == 1) rc = COLD_EXIT_OK;
    }
    if (rc == -2) rc = cold_cmd_sign(&e);
    cold_command = "serve";
    unlink(staged);
    if (rc == COLD_EXIT_OK) {
        (*signed_count)++;
        cold_note("%s: signed, written to the outbox", name);
    } else if (rc == COLD_EXIT_REFUSED) {
        size_t len = 0;
        char *text = refusal_text(name, &len);
        if (text == NULL) return cold_fail(COLD_EXIT_CANNOT, "no memory");
        if (cold_write_atomic(ref, (const uint8_t *)text, len, 0644, 0) != 0) {
            int saved = errno;
            free(text);
            /* Journaled as refused already; the next pass refuses it again. */
            return cold_fail(COLD_EXIT_CANNOT, "cannot write %s: %s", ref, strerror(saved));
        }
        free(text);
        (*refused_count)++;
        cold_note("%s: refused, written to the refused directory", name);
    } else {
        cold_note("%s: could not be handled now; left in the inbox for the next pass", name);
        return COLD_EXIT_CANNOT;
    }
    cold_hook("serve-answered");
    if (unlink(in) != 0 && errno != ENOENT)
        return cold_fail(COLD_EXIT_CANNOT, "cannot remove %s: %s", in, strerror(errno));
    cold_sync_dir(in);
    return COLD_EXIT_OK;
}

/* One pass over the inbox, in name order. Returns COLD_EXIT_OK, or
 * COLD_EXIT_CANNOT when a package was left (or the inbox unreadable). */
static int serve_pass(const cold_env *env, const serve_dirs *d, int fixed_clock,
                      serve_retry *retry, size_t *signed_count, size_t *refused_count)
{
    DIR *dir = opendir(d->inbox);
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = COLD_EXIT_OK;
    if (dir == NULL)
        return cold_fail(COLD_EXIT_CANNOT, "cannot read %s: %s", d->inbox, strerror(errno));
    while ((de = readdir(dir)) != NULL && n < SERVE_BATCH_MAX) {
        char path[sizeof(d->inbox) + 256];
        struct stat sb;
        if (!acceptable_name(de->d_name)) continue;
        /* Regular files only: a symbolic link is not followed. */
        if (snprintf(path, sizeof(path), "%s/%s", d->inbox, de->d_name) >= (int)sizeof(path) ||
            lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nn = realloc(names, ncap * sizeof(*nn));
            if (nn == NULL) {
                rc = cold_fail(COLD_EXIT_CANNOT, "no memory");
                break;
            }
            names = nn;
            cap = ncap;
        }
        if ((names[n] = strdup(de->d_name)) == NULL) {
            rc = cold_fail(COLD_EXIT_CANNOT, "no memory");
            break;
        }
        n++;
    }
    closedir(dir);
    if (n > 0) qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n; i++) {
        /* One package that cannot be handled now does not hold up the rest. */
        if (!stopping) {
            int one = serve_one(env, d, names[i], fixed_clock, retry_has(retry, names[i]),
                                signed_count, refused_count);
            if (one != COLD_EXIT_OK) rc = COLD_EXIT_CANNOT;
            retry_set(retry, names[i], one != COLD_EXIT_OK);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

/* Removes the temporaries "NAME.psbt.tmp-<hex>" a crash left in the outbox
 * (sign's file before its link). Their signature is journaled already; the
 * package, still in the inbox, is answered again (re-emitted). */
static void clean_outbox(const char *outbox)
{
    DIR *dir = opendir(outbox);
    struct dirent *de;
    size_t removed = 0;
    if (dir == NULL) return;
    while ((de = readdir(dir)) != NULL) {
        char path[4096 + 256];
        struct stat sb;
        if (de->d_name[0] == '.' || strstr(de->d_name, SUFFIX ".tmp-") == NULL) continue;
        if (snprintf(path, sizeof(path), "%s/%s", outbox, de->d_name) >= (int)sizeof(path) ||
            lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        if (unlink(path) == 0) removed++;
    }
    closedir(dir);
    if (removed > 0) {
        char any[4096 + 4];
        cold_note("removed %zu temporary file(s) a crash left in the outbox", removed);
        snprintf(any, sizeof(any), "%s/.", outbox); /* cold_sync_dir syncs a file's directory */
        cold_sync_dir(any);
    }
}

static int make_dir(char *out, size_t cap, const char *spool, const char *name)
{
    struct stat sb;
    if (snprintf(out, cap, "%s/%s", spool, name) >= (int)cap)
        return cold_fail(COLD_EXIT_CANNOT, "--spool is too long");
    /* Group-writable, whatever the umask, and set-group-ID so files made in
     * it belong to its group: kura-server runs as another user of that group.
     * A directory that exists keeps the mode its owner gave it. */
    if (mkdir(out, 0770) == 0) {
        if (chmod(out, 02770) != 0)
            return cold_fail(COLD_EXIT_CANNOT, "cannot set the mode of %s: %s", out,
                             strerror(errno));
    } else if (errno != EEXIST) {
        return cold_fail(COLD_EXIT_CANNOT, "cannot create %s: %s", out, strerror(errno));
    }
    if (lstat(out, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return cold_fail(COLD_EXIT_CANNOT, "%s is not a directory", out);
    return COLD_EXIT_OK;
}

int cold_cmd_serve(const cold_env *env)
{
    const char *spool = env->args->value[OPT_SPOOL];
    const char *poll = env->args->value[OPT_POLL_MS];
    int once = env->args->value[OPT_ONCE] != NULL;
    long poll_ms = SERVE_POLL_MS_DEFAULT;
    int fixed_clock = 0, rc;
    serve_dirs d;
    cold_state st;
    kura_keystore_secret *secret = NULL;
    kura_keystore_info info;
    cold_env e;
    struct sigaction sa;
    size_t signed_count = 0, refused_count = 0;
    int lock_fd = -1;
    serve_retry retry;

    if (spool == NULL) return cold_fail(COLD_EXIT_CANNOT, "usage: kura-cold serve --spool DIR");
    if (poll != NULL) {
        char *end;
        poll_ms = strtol(poll, &end, 10);
        if (*poll == '\0' || *end != '\0' || poll_ms < 10 || poll_ms > 600000)
            return cold_fail(COLD_EXIT_CANNOT, "--poll-ms takes 10..600000");
    }
    if (env->passphrase_file == NULL)
        return cold_fail(COLD_EXIT_CANNOT, "serve runs unattended: give --passphrase-file FILE "
                                           "(or $KURA_PASSPHRASE_FILE)");
#ifdef KURA_TEST_HOOKS
    fixed_clock = env->args->value[OPT_NOW] != NULL || getenv("KURA_COLD_TEST_NOW") != NULL;
#endif
    /* The summaries sign prints are log lines here: everything to stderr. */
    fflush(stdout);
    if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
        return cold_fail(COLD_EXIT_CANNOT, "cannot send output to stderr: %s", strerror(errno));

    /* A cold wallet is never signed unattended: the rules in force must be
     * hot before serve even opens the keystore. (sign checks it again for
     * every package, with a newer policy a package brings.) */
    memset(&st, 0, sizeof(st));
    rc = cold_state_load(env, &st, 0);
    if (rc != COLD_EXIT_OK) return rc;
    if (st.rules->mode != KURA_POLICY_HOT) {
        rc = cold_fail(COLD_EXIT_REFUSED,
                       "refused: %s: policy version %" PRIu64 " in force is not hot (or its "
                       "change to hot has not taken effect yet): serve signs only a hot wallet",
                       kura_refusal_name(KURA_REFUSE_HOT_NOT_ALLOWED), st.in_force->version);
        cold_state_free(&st);
        return rc;
    }
    cold_note("wallet %s #%s on %s, policy version %" PRIu64 " (hot)", st.name, st.checksum,
              kura_intent_chain_name(st.chain), st.in_force->version);
    cold_state_free(&st);

    /* The keystore, once: held in locked memory until serve stops. */
    rc = cold_open_keystore(env, &secret, &info);
    if (rc != COLD_EXIT_OK) return rc;

    if ((mkdir(spool, 0770) != 0 && errno != EEXIST) ||
        (rc = make_dir(d.inbox, sizeof(d.inbox), spool, "inbox")) != COLD_EXIT_OK ||
        (rc = make_dir(d.outbox, sizeof(d.outbox), spool, "outbox")) != COLD_EXIT_OK ||
        (rc = make_dir(d.refused, sizeof(d.refused), spool, "refused")) != COLD_EXIT_OK) {
        if (rc == COLD_EXIT_OK)
            rc = cold_fail(COLD_EXIT_CANNOT, "cannot create %s: %s", spool, strerror(errno));
        kura_keystore_secret_free(secret);
        return rc;
    }

    /* One signer per spool: a second one would answer the same package twice
     * (a signature from one, a replay refusal from the other). */
    {
        char lock_path[4096 + 16];
        snprintf(lock_path, sizeof(lock_path), "%s/.serve.lock", spool);
        lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
            rc = cold_fail(COLD_EXIT_CANNOT, "%s: %s", lock_path,
                           lock_fd < 0 ? strerror(errno)
                                       : "another kura-cold serve is serving this spool");
            if (lock_fd >= 0) close(lock_fd);
            kura_keystore_secret_free(secret);
            return rc;
        }
    }
    clean_outbox(d.outbox);
    {
        char staging[4096 + 32];
        if (snprintf(staging, sizeof(staging), "%s/%s", env->dir, SERVE_STAGING) >=
                (int)sizeof(staging) ||
            cold_mkdir(staging) != 0) {
            rc = cold_fail(COLD_EXIT_CANNOT, "cannot create %s/%s: %s", env->dir, SERVE_STAGING,
                           strerror(errno));
            close(lock_fd);
            kura_keystore_secret_free(secret);
            return rc;
        }
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; /* file I/O in sign goes on; the sleep is cut short */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    e = *env;
    e.held_secret = secret;
    e.held_info = &info;
    cold_note("serving %s%s", spool, once ? " (one pass)" : "");
    retry.all = 1;
    retry.count = 0;
    for (;;) {
        int prc = serve_pass(&e, &d, fixed_clock, &retry, &signed_count, &refused_count);
        retry.all = 0;
        if (once) {
            rc = prc;
            break;
        }
        if (stopping) break;
        {
            struct timespec ts = {(time_t)(poll_ms / 1000), (long)(poll_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        if (stopping) break;
    }
    retry_free(&retry);
    kura_keystore_secret_free(secret);
    close(lock_fd);
    cold_note("stopped: %zu signed, %zu refused", signed_count, refused_count);
    return rc;
}
