/*
 * programs/kura-cold/state.c — the signer's state, read from its data
 * directory and checked against itself before anything is signed.
 *
 * What protects what:
 *  - The journal is hash-chained; the library verifies the whole chain on
 *    every open.
 *  - Each accepted policy is a `policy` entry in the journal (version and
 *    SHA-256 of the text). The policy file and every archived version in
 *    policies/ must hash to what the journal says, so a swapped policy file
 *    stops the signer (could not run) instead of loosening its rules.
 *  - The wallet file names the wallet and its descriptor; the policy in force
 *    names the same wallet by name and descriptor checksum, so a swapped
 *    wallet file stops the signer too.
 *  - The wallet file (format 2) also holds the SHA-256 of the derivation
 *    cache file `derivations`; the cache itself names the descriptor it was
 *    built for. A missing, changed or foreign cache stops the signer (could
 *    not run); it is never rebuilt behind the operator's back.
 *
 * The journal is read twice at start: once here as a plain snapshot (the
 * entry facts the journal module does not expose: intent ids of signed
 * entries, the list of policy entries), then opened and verified by the
 * journal module, which must agree on the entry count and head. The snapshot
 * is read before the journal is locked, because closing any descriptor of a
 * file drops the process's POSIX locks on it (kura/journal.h, "Concurrency").
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cold.h"
#include "kura/hash.h"

#define WALLET_MAGIC "kura-cold-wallet 2"
#define WALLET_MAGIC_1 "kura-cold-wallet 1" /* before the derivation cache: no anchor */
#define DERIVATIONS_MAX (64u * 1024u * 1024u)
#define WALLET_MAX (KURA_DESCRIPTOR_MAX_LEN + 4096)

/* ---- the wallet file ---- */

char *cold_wallet_text(const char *name, kura_intent_chain chain, const char *descriptor,
                       const uint8_t derivations_sha256[32])
{
    const char *chain_name = kura_intent_chain_name(chain);
    size_t n = strlen(name) + strlen(descriptor) + 256;
    char *out = malloc(n), hex[65];
    if (out == NULL || chain_name == NULL) {
        free(out);
        return NULL;
    }
    cold_hex32(hex, derivations_sha256);
    snprintf(out, n, WALLET_MAGIC "\nname: %s\nchain: %s\ndescriptor: %s\nderivations: %s\n",
             name, chain_name, descriptor, hex);
    return out;
}

/* Takes "key: value\n" at *p (within end) into value/len; advances *p. */
static int wallet_field(const char **p, const char *end, const char *key, const char **value,
                        size_t *len)
{
    size_t klen = strlen(key);
    const char *lf;
    if ((size_t)(end - *p) < klen + 2 || memcmp(*p, key, klen) != 0 || (*p)[klen] != ':' ||
        (*p)[klen + 1] != ' ')
        return -1;
    *p += klen + 2;
    lf = memchr(*p, '\n', (size_t)(end - *p));
    if (lf == NULL || lf == *p) return -1;
    *value = *p;
    *len = (size_t)(lf - *p);
    *p = lf + 1;
    return 0;
}

int cold_wallet_load(const cold_env *env, cold_state *st)
{
    char path[PATH_MAX], chain[16];
    uint8_t *data;
    size_t len, nlen, clen, dlen, hlen = 0;
    const char *p, *end, *name, *chain_s, *desc, *hash = NULL;
    int format = 2;
    kura_error err;
    int rc = COLD_EXIT_CANNOT;
    char *canon = NULL;
    if (cold_path(path, sizeof(path), env->dir, COLD_FILE_WALLET) != 0)
        return cold_fail(COLD_EXIT_CANNOT, "the data directory path is too long");
    if (cold_read_file(&data, &len, path, WALLET_MAX) != 0) {
        if (errno == ENOENT)
            return cold_fail(COLD_EXIT_CANNOT,
                             "no wallet in %s: run `kura-cold ceremony` first", env->dir);
        return cold_fail(COLD_EXIT_CANNOT, "cannot read %s: %s", path, strerror(errno));
    }
    p = (const char *)data;
    end = p + len;
    /* "kura-cold-wallet 2\n", then exactly the four fields, in order
     * (format 1, from before the derivation cache: the first three). */
    if (len >= sizeof(WALLET_MAGIC_1) &&
        memcmp(p, WALLET_MAGIC_1 "\n", sizeof(WALLET_MAGIC_1)) == 0) {
        format = 1;
    } else if (len < sizeof(WALLET_MAGIC) ||
               memcmp(p, WALLET_MAGIC "\n", sizeof(WALLET_MAGIC)) != 0) {
        rc = cold_fail(COLD_EXIT_CANNOT, "%s is not a kura-cold wallet file", path);
        goto done;
    }
    p += sizeof(WALLET_MAGIC);
    if (wallet_field(&p, end, "name", &name, &nlen) != 0 ||
        wallet_field(&p, end, "chain", &chain_s, &clen) != 0 ||
        wallet_field(&p, end, "descriptor", &desc, &dlen) != 0 ||
        (format == 2 && wallet_field(&p, end, "derivations", &hash, &hlen) != 0) || p != end ||
        nlen > KURA_INTENT_WALLET_NAME_MAX || clen >= sizeof(chain)) {
        rc = cold_fail(COLD_EXIT_CANNOT, "%s is not a kura-cold wallet file", path);
        goto done;
    }
    if (format == 2) {
        int hex_ok = hlen == 64;
        for (size_t i = 0; hex_ok && i < hlen; i++)
            hex_ok = (hash[i] >= '0' && hash[i] <= '9') || (hash[i] >= 'a' && hash[i] <= 'f');
        if (!hex_ok) {
            rc = cold_fail(COLD_EXIT_CANNOT, "%s is not a kura-cold wallet file", path);
            goto done;
        }
        memcpy(st->derivations_sha256, hash, 64);
        st->derivations_sha256[64] = '\0';
    }
    memcpy(st->name, name, nlen);
    st->name[nlen] = '\0';
    memcpy(chain, chain_s, clen);
    chain[clen] = '\0';
    if (cold_parse_chain(&st->chain, chain) != 0 ||
        kura_intent_chain_network(&st->network, st->chain) != KURA_OK) {
        rc = cold_fail(COLD_EXIT_CANNOT, "%s: unknown chain '%s'", path, chain);
        goto done;
    }
    if (kura_descriptor_parse(env->ctx, &st->wallet, desc, dlen, &err) != KURA_OK) {
        rc = cold_fail(COLD_EXIT_CANNOT, "%s: %s", path, err.message);
        goto done;
    }
    if (kura_descriptor_to_string(env->ctx, &canon, st->wallet, KURA_DESCRIPTOR_ALL_BRANCHES,
                                  KURA_DESCRIPTOR_PUBLIC, &err) != KURA_OK) {
        rc = cold_fail(COLD_EXIT_CANNOT, "%s: %s", path, err.message);
        goto done;
    }
    /* The ceremony wrote the canonical text; anything else was edited. */
    if (strlen(canon) != dlen || memcmp(canon, desc, dlen) != 0 ||
        strlen(canon) < KURA_DESCRIPTOR_CHECKSUM_LEN + 1) {
        rc = cold_fail(COLD_EXIT_CANNOT, "%s: the descriptor is not in canonical form", path);
        goto done;
    }
    st->descriptor_text = canon;
    canon = NULL;
    memcpy(st->checksum, st->descriptor_text + strlen(st->descriptor_text) -
                             KURA_DESCRIPTOR_CHECKSUM_LEN,
           KURA_DESCRIPTOR_CHECKSUM_LEN + 1);
    rc = COLD_EXIT_OK;
done:
    kura_descriptor_string_free(canon);
    free(data);
    return rc;
}

/* ---- the journal snapshot ---- */

static int id_cmp(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static int snap_add(cold_journal_snap *s, const kura_journal_entry *e)
{
    s->count++;
    memcpy(s->head, e->hash, 32);
    s->last_time = e->time;
    switch (e->kind) {
    case KURA_JOURNAL_SIGNED:
        s->n_signed++;
        if (s->id_count == s->id_cap) {
            size_t cap = s->id_cap == 0 ? 64 : 2 * s->id_cap;
            void *n = realloc(s->ids, cap * sizeof(*s->ids));
            if (n == NULL) return -1;
            s->ids = n;
            s->id_cap = cap;
        }
        memcpy(s->ids[s->id_count++], e->intent_id, sizeof(*s->ids));
        break;
    case KURA_JOURNAL_POLICY: {
        cold_policy_rec *r;
        s->n_policy++;
        if (s->policy_count == s->policy_cap) {
            size_t cap = s->policy_cap == 0 ? 8 : 2 * s->policy_cap;
            void *n = realloc(s->policies, cap * sizeof(*s->policies));
            if (n == NULL) return -1;
            s->policies = n;
            s->policy_cap = cap;
        }
        r = &s->policies[s->policy_count++];
        memset(r, 0, sizeof(*r));
        r->version = e->policy_version;
        memcpy(r->hash, e->policy_hash, 32);
        r->accepted = e->time;
        r->seq = e->seq;
        break;
    }
    case KURA_JOURNAL_REFUSED: s->n_refused++; break;
    case KURA_JOURNAL_RECOVERED: s->n_recovered++; break;
    case KURA_JOURNAL_CHANGE:
        if ((int64_t)e->change_index > s->change_max) s->change_max = e->change_index;
        break;
    case KURA_JOURNAL_INIT:
    case KURA_JOURNAL_INPUT: break;
    }
    return 0;
}

void cold_journal_snap_free(cold_journal_snap *snap)
{
    for (size_t i = 0; i < snap->policy_count; i++) {
        kura_policy_free(snap->policies[i].policy);
        free(snap->policies[i].text);
    }
    free(snap->policies);
    free(snap->ids);
    memset(snap, 0, sizeof(*snap));
}

int cold_journal_snapshot(cold_journal_snap *snap, const char *path)
{
    uint8_t buf[65536], line[KURA_JOURNAL_LINE_MAX];
    size_t line_len = 0;
    int fd, saved;
    memset(snap, 0, sizeof(*snap));
    snap->change_max = -1;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0) {
            if (errno == EINTR) continue;
            goto fail;
        }
        if (n == 0) break;
        for (size_t i = 0; i < (size_t)n; i++) {
            kura_journal_entry e;
            if (buf[i] != '\n') {
                if (line_len < sizeof(line)) line[line_len] = buf[i];
                line_len++;
                continue;
            }
            /* A damaged line: stop collecting; the journal module names it. */
            if (!snap->damaged &&
                (line_len >= sizeof(line) ||
                 kura_journal_entry_parse(&e, line, line_len, NULL) != KURA_OK ||
                 e.seq != snap->count))
                snap->damaged = 1;
            if (!snap->damaged && snap_add(snap, &e) != 0) {
                errno = ENOMEM;
                goto fail;
            }
            line_len = 0;
        }
    }
    close(fd);
    snap->torn = line_len;
    if (snap->id_count > 1) qsort(snap->ids, snap->id_count, sizeof(*snap->ids), id_cmp);
    return 0;
fail:
    saved = errno;
    close(fd);
    cold_journal_snap_free(snap);
    errno = saved;
    return -1;
}

/* ---- policies ---- */

int cold_policy_archive_path(char *out, size_t out_len, const char *dir, uint64_t version)
{
    int n = snprintf(out, out_len, "%s/" COLD_DIR_POLICIES "/%" PRIu64, dir, version);
    return n < 0 || (size_t)n >= out_len ? -1 : 0;
}

/* Loads policies/<version> of rec and checks it against the journal. */
static int load_archived(const cold_env *env, cold_policy_rec *rec)
{
    char path[PATH_MAX], want[65];
    uint8_t h[32];
    kura_error err;
    cold_hex32(want, rec->hash);
    if (cold_policy_archive_path(path, sizeof(path), env->dir, rec->version) != 0)
        return cold_fail(COLD_EXIT_CANNOT, "the data directory path is too long");
    if (cold_read_file(&rec->text, &rec->text_len, path, KURA_POLICY_TEXT_MAX) != 0)
        return cold_fail(COLD_EXIT_CANNOT,
                         "cannot read %s (policy version %" PRIu64
                         " accepted in journal entry %" PRIu64 "): %s",
                         path, rec->version, rec->seq, strerror(errno));
    kura_sha256(h, rec->text, rec->text_len);
    if (memcmp(h, rec->hash, 32) != 0)
        return cold_fail(COLD_EXIT_CANNOT,
                         "%s is not the policy version %" PRIu64
                         " that journal entry %" PRIu64 " accepted (sha256 %s): it was changed",
                         path, rec->version, rec->seq, want);
    if (kura_policy_parse(&rec->policy, rec->text, rec->text_len, &err) != KURA_OK)
        return cold_fail(COLD_EXIT_CANNOT, "%s: %s", path, err.message);
    if (rec->policy->version != rec->version)
        return cold_fail(COLD_EXIT_CANNOT, "%s holds version %" PRIu64 ", not %" PRIu64, path,
                         rec->policy->version, rec->version);
    return COLD_EXIT_OK;
}

/* The policy file against the journal's last policy entry. */
static int check_policy_file(const cold_env *env, cold_state *st, int for_signing)
{
    char path[PATH_MAX], want[65];
    uint8_t *data = NULL, h[32];
    size_t len;
    cold_policy_rec *last = st->in_force;
    cold_policy_rec *prev =
        st->snap.policy_count >= 2 ? &st->snap.policies[st->snap.policy_count - 2] : NULL;
    cold_hex32(want, last->hash);
    if (cold_path(path, sizeof(path), env->dir, COLD_FILE_POLICY) != 0)
        return cold_fail(COLD_EXIT_CANNOT, "the data directory path is too long");
    if (cold_read_file(&data, &len, path, KURA_POLICY_TEXT_MAX) != 0)
        return cold_fail(COLD_EXIT_CANNOT,
                         "cannot read the policy file %s: %s (the journal's policy in force is "
                         "version %" PRIu64 ", sha256 %s)",
                         path, strerror(errno), last->version, want);
    kura_sha256(h, data, len);
    free(data);
    if (memcmp(h, last->hash, 32) == 0) return COLD_EXIT_OK;
    /* The one state a crash can leave: the journal accepted the new version
     * but the policy file was not yet replaced (sign.c, "Order"). The new
     * text is in policies/, checked against the journal already. */
    if (prev != NULL && memcmp(h, prev->hash, 32) == 0) {
        if (!for_signing) {
            st->policy_file_behind = 1;
            cold_note("the policy file still holds version %" PRIu64
                      ": an update to version %" PRIu64
                      " was interrupted; the next sign completes it",
                      prev->version, last->version);
            return COLD_EXIT_OK;
        }
        if (cold_write_atomic(path, last->text, last->text_len, 0600, 1) != 0)
            return cold_fail(COLD_EXIT_CANNOT, "cannot write %s: %s", path, strerror(errno));
        cold_note("completed an interrupted policy update: the policy file now holds version "
                  "%" PRIu64,
                  last->version);
        return COLD_EXIT_OK;
    }
    return cold_fail(COLD_EXIT_CANNOT,
                     "the policy file %s is not the policy the journal accepted (version %" PRIu64
                     ", sha256 %s): it was changed or replaced",
                     path, last->version, want);
}

/* Opens the journal for appending: recovers a torn tail, locks, and checks
 * that the library's reading agrees with the snapshot. */
static int open_for_signing(const cold_env *env, cold_state *st, const char *path)
{
    kura_error err;
    uint64_t count;
    uint8_t head[32];
    int rc;
    if (st->snap.torn > 0) {
        kura_journal *j = NULL;
        size_t torn = st->snap.torn;
        rc = kura_journal_recover(&j, path, env->now, &err);
        if (rc == KURA_JOURNAL_EORDER)
            return cold_fail(COLD_EXIT_CANNOT,
                             "the clock is earlier than the journal's last entry: %s "
                             "(set the clock right)",
                             err.message);
        if (rc == KURA_JOURNAL_EBUSY)
            return cold_fail(COLD_EXIT_CANNOT, "another kura-cold has the journal open");
        if (rc != KURA_OK)
            return cold_fail(COLD_EXIT_CANNOT, "%s (run `kura-cold journal verify`)",
                             err.message);
        kura_journal_free(j);
        cold_note("the journal ended in %zu bytes of an entry a crash interrupted; they were "
                  "cut off and a `recovered` entry records it",
                  torn);
        cold_journal_snap_free(&st->snap);
        if (cold_journal_snapshot(&st->snap, path) != 0)
            return cold_fail(COLD_EXIT_CANNOT, "cannot read %s: %s", path, strerror(errno));
    }
    rc = kura_journal_open(&st->journal, path, 0, &err);
    if (rc == KURA_JOURNAL_EBUSY)
        return cold_fail(COLD_EXIT_CANNOT, "another kura-cold has the journal open");
    if (rc != KURA_OK)
        return cold_fail(COLD_EXIT_CANNOT, "%s (run `kura-cold journal verify`)", err.message);
    if (kura_journal_head(st->journal, &count, head, NULL) != KURA_OK || st->snap.damaged ||
        st->snap.torn > 0 || count != st->snap.count || memcmp(head, st->snap.head, 32) != 0)
        return cold_fail(COLD_EXIT_CANNOT, "the journal changed while it was read; try again");
    if (env->now < st->snap.last_time) {
        char t[21];
        cold_time(t, st->snap.last_time);
        return cold_fail(COLD_EXIT_CANNOT,
                         "the clock is earlier than the journal's last entry (%s): set the "
                         "clock right",
                         t);
    }
    return COLD_EXIT_OK;
}

/* The derivation cache file against the wallet file's anchor and the
 * wallet's descriptor. */
static int load_derivations(const cold_env *env, cold_state *st)
{
    char path[PATH_MAX], got[65];
    uint8_t *data = NULL, h[32];
    size_t len = 0;
    kura_error err;
    int rc;
    if (st->derivations_sha256[0] == '\0') return COLD_EXIT_OK; /* format 1: no cache */
    if (cold_path(path, sizeof(path), env->dir, COLD_FILE_DERIVATIONS) != 0)
        return cold_fail(COLD_EXIT_CANNOT, "the data directory path is too long");
    if (cold_read_file(&data, &len, path, DERIVATIONS_MAX) != 0)
        return cold_fail(COLD_EXIT_CANNOT,
                         "cannot read the derivation cache %s: %s (the wallet file anchors it, "
                         "sha256 %s)",
                         path, strerror(errno), st->derivations_sha256);
    kura_sha256(h, data, len);
    cold_hex32(got, h);
    if (strcmp(got, st->derivations_sha256) != 0) {
        free(data);
        return cold_fail(COLD_EXIT_CANNOT,
                         "the derivation cache %s is not the one the wallet file anchors "
                         "(sha256 %s): it was changed or replaced",
                         path, st->derivations_sha256);
    }
    rc = kura_descriptor_cache_parse(env->ctx, &st->cache, st->wallet, data, len, &err);
    free(data);
    if (rc != KURA_OK) return cold_fail(COLD_EXIT_CANNOT, "%s: %s", path, err.message);
    return COLD_EXIT_OK;
}

int cold_state_load(const cold_env *env, cold_state *st, int for_signing)
{
    char path[PATH_MAX];
    kura_error err;
    int rc;
    const kura_policy *p;
    memset(st, 0, sizeof(*st));
    rc = cold_wallet_load(env, st);
    if (rc != COLD_EXIT_OK) return rc;
    rc = load_derivations(env, st);
    if (rc != COLD_EXIT_OK) return rc;
    if (cold_path(path, sizeof(path), env->dir, COLD_FILE_JOURNAL) != 0)
        return cold_fail(COLD_EXIT_CANNOT, "the data directory path is too long");
    if (!for_signing) {
        uint64_t bad = 0;
        rc = kura_journal_verify_file(&bad, path, &err);
        if (rc == KURA_ENOTFOUND)
            return cold_fail(COLD_EXIT_CANNOT, "no journal in %s: run `kura-cold ceremony` first",
                             env->dir);
        if (rc != KURA_OK && rc != KURA_JOURNAL_ETORN)
            return cold_fail(COLD_EXIT_CANNOT, "%s (run `kura-cold journal verify`)",
                             err.message);
    }
    if (cold_journal_snapshot(&st->snap, path) != 0) {
        if (errno == ENOENT)
            return cold_fail(COLD_EXIT_CANNOT, "no journal in %s: run `kura-cold ceremony` first",
                             env->dir);
        return cold_fail(COLD_EXIT_CANNOT, "cannot read %s: %s", path, strerror(errno));
    }
    if (for_signing) {
        rc = open_for_signing(env, st, path);
        if (rc != COLD_EXIT_OK) return rc;
    } else if (st->snap.damaged) {
        return cold_fail(COLD_EXIT_CANNOT, "the journal changed while it was read; try again");
    }
    if (st->snap.policy_count == 0)
        return cold_fail(COLD_EXIT_CANNOT,
                         "the journal records no policy: the key ceremony did not finish "
                         "(run `kura-cold ceremony` again)");
    for (size_t i = 0; i < st->snap.policy_count; i++) {
        rc = load_archived(env, &st->snap.policies[i]);
        if (rc != COLD_EXIT_OK) return rc;
    }
    st->in_force = &st->snap.policies[st->snap.policy_count - 1];
    rc = check_policy_file(env, st, for_signing);
    if (rc != COLD_EXIT_OK) return rc;
    /* The rules in force: each accepted version's loosening counts only
     * once the waiting period of the rules in force when it was accepted
     * has passed (docs/policy-format.md). */
    {
        kura_policy_accepted *h = calloc(st->snap.policy_count, sizeof(*h));
        if (h == NULL) return cold_fail(COLD_EXIT_CANNOT, "out of memory");
        for (size_t i = 0; i < st->snap.policy_count; i++)
            h[i] = (kura_policy_accepted){st->snap.policies[i].policy,
                                          st->snap.policies[i].accepted};
        rc = kura_policy_in_force(&st->rules, &st->rules_loosen_at, h, st->snap.policy_count,
                                  env->now, &err);
        free(h);
        if (rc != KURA_OK) return cold_fail(COLD_EXIT_CANNOT, "%s", err.message);
    }
    p = st->in_force->policy;
    if (strcmp(p->wallet.name, st->name) != 0 || strcmp(p->wallet.checksum, st->checksum) != 0 ||
        p->chain != st->chain)
        return cold_fail(COLD_EXIT_CANNOT,
                         "the policy in force is for wallet '%s #%s' on %s, but the wallet file "
                         "holds '%s #%s' on %s: the wallet file was changed",
                         p->wallet.name, p->wallet.checksum, kura_intent_chain_name(p->chain),
                         st->name, st->checksum, kura_intent_chain_name(st->chain));
    return COLD_EXIT_OK;
}

void cold_state_free(cold_state *st)
{
    kura_journal_free(st->journal);
    cold_journal_snap_free(&st->snap);
    kura_descriptor_cache_free(st->cache);
    kura_policy_free(st->rules);
    kura_descriptor_free(st->wallet);
    kura_descriptor_string_free(st->descriptor_text);
    memset(st, 0, sizeof(*st));
}

/* ---- the check's journal callbacks ---- */

static int cb_intent_signed(void *arg, const uint8_t intent_hash[32], const char *intent_id)
{
    const cold_state *st = arg;
    if (intent_hash != NULL && st->journal != NULL &&
        kura_journal_find_signed(st->journal, NULL, intent_hash) == KURA_OK)
        return 1;
    if (intent_id != NULL && strlen(intent_id) == KURA_JOURNAL_INTENT_ID_LEN &&
        st->snap.id_count > 0 &&
        bsearch(intent_id, st->snap.ids, st->snap.id_count, sizeof(*st->snap.ids), id_cmp) != NULL)
        return 1;
    return 0;
}

static uint64_t cb_signed_since(void *arg, int64_t since)
{
    const cold_state *st = arg;
    uint64_t amount = 0, fee = 0;
    int64_t until;
    /* kura_journal_sum_24h sums over (now - 86400, now] and also counts
     * entries later than now (a clock set back never frees limit), so
     * "since" maps to now = since + 86400. On any doubt: the most, so that
     * the limit refuses rather than passes. */
    if (st->journal == NULL || since < -KURA_JOURNAL_WINDOW ||
        since > KURA_JOURNAL_TIME_MAX - KURA_JOURNAL_WINDOW)
        return UINT64_MAX;
    until = since + KURA_JOURNAL_WINDOW;
    if (until < 0) until = 0;
    if (kura_journal_sum_24h(st->journal, &amount, &fee, until) != KURA_OK) return UINT64_MAX;
    /* Fees leave the wallet too (docs/policy-format.md, max-per-24h). */
    if (fee > UINT64_MAX - amount) return UINT64_MAX;
    return amount + fee;
}

/* Fee bumps: the earlier signatures of an intent, from the journal's own
 * summary (kura_journal_signatures), as the check asks for them. */
static int cb_prior_signatures(void *arg, kura_check_prior *prior, kura_check_outpoint *inputs,
                               size_t inputs_cap, const uint8_t intent_hash[32], int64_t since)
{
    const cold_state *st = arg;
    kura_journal_signature *sigs = NULL;
    size_t n = 0, at = 0;
    memset(prior, 0, sizeof(*prior));
    if (st->journal == NULL ||
        kura_journal_signatures(st->journal, NULL, 0, &n, intent_hash) != KURA_OK)
        return -1;
    if (n == 0) return 0;
    sigs = calloc(n, sizeof(*sigs));
    if (sigs == NULL || kura_journal_signatures(st->journal, sigs, n, &n, intent_hash) != KURA_OK) {
        free(sigs);
        return -1;
    }
    prior->signatures = n;
    prior->inputs_known = 1;
    prior->replaceable = 1;
    for (size_t i = 0; i < n; i++) {
        const kura_journal_signature *g = &sigs[i];
        if (g->inputs == NULL || g->input_count == 0) prior->inputs_known = 0;
        if (g->bip125 != 1) prior->replaceable = 0;
        if (g->fee > prior->fee_max) prior->fee_max = g->fee;
        for (size_t k = 0; k < g->input_count; k++, at++)
            if (at < inputs_cap) {
                memcpy(inputs[at].txid, g->inputs[k].txid, 32);
                inputs[at].vout = g->inputs[k].vout;
            }
    }
    prior->input_count = at;
    memcpy(prior->last_txid, sigs[n - 1].txid, 32);
    prior->last_entry = sigs[n - 1].seq;
    /* What cb_signed_since counts of this intent: the journal counts a
     * bump chain once, at its latest signature, with its highest fee; a
     * chain the journal does not link (version-1 duplicates) is never
     * bumped, so its count does not matter here. */
    if (sigs[n - 1].time > since)
        prior->counted = sigs[n - 1].amount + prior->fee_max;
    free(sigs);
    return 0;
}

/* The start of the latest unbroken run of accepted policy versions whose
 * allowlist holds the script: an entry removed and later re-added waits its
 * delay again. -1 when the last accepted version does not hold it. */
static int64_t cb_allow_accepted_at(void *arg, const uint8_t *script, size_t script_len)
{
    const cold_state *st = arg;
    int64_t start = -1;
    for (size_t i = 0; i < st->snap.policy_count; i++) {
        const char *label = NULL;
        const cold_policy_rec *r = &st->snap.policies[i];
        if (r->policy != NULL &&
            kura_policy_allowlist_lookup((void *)r->policy, script, script_len, &label) == 1) {
            if (start < 0) start = r->accepted;
        } else {
            start = -1;
        }
    }
    return start;
}

void cold_signer_state(kura_signer_state *out, cold_state *st, int64_t now)
{
    memset(out, 0, sizeof(*out));
    out->wallet = st->wallet;
    out->wallet_name = st->name;
    memcpy(out->wallet_checksum, st->checksum, sizeof(out->wallet_checksum));
    out->chain = st->chain;
    out->policy = st->in_force->policy;
    out->rules = st->rules;
    out->journal.arg = st;
    out->journal.intent_signed = cb_intent_signed;
    out->journal.signed_since = cb_signed_since;
    out->journal.allow_accepted_at = cb_allow_accepted_at;
    out->journal.prior_signatures = cb_prior_signatures;
    out->now = now;
    out->max_clock_skew = COLD_MAX_CLOCK_SKEW;
    /* Bounded by what this signer has itself signed (the journal), never
     * by the package: change far beyond the last used index would be lost
     * to a restored wallet scanning with a gap limit. */
    out->max_change_index = (uint32_t)(st->snap.change_max + (int64_t)COLD_CHANGE_GAP);
    out->cache = st->cache;
}
