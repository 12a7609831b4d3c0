/*
 * programs/kura-cold/show.c — what an operator or auditor reads: the policy
 * in force, the journal, and its verification. None of these needs the
 * passphrase, and none changes a byte of the data directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cold.h"

int cold_cmd_policy_show(const cold_env *env)
{
    cold_state st;
    char h[65], t[21];
    const cold_policy_rec *r;
    int rc = cold_state_load(env, &st, 0);
    if (rc != COLD_EXIT_OK) goto done;
    r = st.in_force;
    cold_hex32(h, r->hash);
    cold_time(t, r->accepted);
    printf("policy in force: version %" PRIu64 ", mode %s, accepted %s (journal entry %" PRIu64
           "), sha256 %s\n",
           r->version, r->policy->mode == KURA_POLICY_HOT ? "hot" : "cold", t, r->seq, h);
    printf("wallet: %s #%s on %s\n", st.name, st.checksum, kura_intent_chain_name(st.chain));
    printf("accepted versions:");
    for (size_t i = 0; i < st.snap.policy_count; i++) {
        cold_time(t, st.snap.policies[i].accepted);
        printf(" %" PRIu64 " (%s)", st.snap.policies[i].version, t);
    }
    printf("\n");
    /* What still waits: the newest version's loosening (and any earlier
     * one's) counts only from rules_loosen_at. */
    if (st.rules_loosen_at > env->now) {
        char why[512];
        const kura_policy *prev = st.snap.policy_count >= 2
                                      ? st.snap.policies[st.snap.policy_count - 2].policy
                                      : NULL;
        cold_time(t, st.rules_loosen_at);
        if (prev != NULL && kura_policy_loosenings(why, sizeof(why), prev, r->policy) > 0)
            printf("waiting: until %s the stricter rules still apply (%s in version %" PRIu64
                   " waits)\n",
                   t, why, r->version);
        else
            printf("waiting: until %s the stricter rules of earlier versions still apply\n", t);
    }
    printf("\n%.*s", (int)r->text_len, (const char *)r->text);
done:
    cold_state_free(&st);
    return rc;
}

/* One entry as a person reads it. The hashes are printed whole: an auditor
 * compares them with the coordinator's records and the signed packages. */
static void print_entry(const kura_journal_entry *e)
{
    char t[21], a[65], b[65];
    uint8_t txid_be[32];
    cold_time(t, e->time);
    printf("%" PRIu64 " %s %-9s ", e->seq, t, kura_journal_kind_name(e->kind));
    switch (e->kind) {
    case KURA_JOURNAL_INIT: printf("journal format %" PRIu32 "\n", e->format_version); break;
    case KURA_JOURNAL_SIGNED:
        cold_hex32(a, e->intent_hash);
        for (size_t i = 0; i < 32; i++) txid_be[i] = e->txid[31 - i];
        cold_hex32(b, txid_be);
        printf("intent %s sha256 %s amount %" PRIu64 " fee %" PRIu64 " txid %s", e->intent_id,
               a, e->amount, e->fee, b);
        if (e->input_count > 0)
            printf(" inputs %" PRIu32 " %s", e->input_count, e->bip125 ? "rbf" : "final");
        if (e->has_replaces) printf(" FEE BUMP replaces entry %" PRIu64, e->replaces);
        printf("\n");
        break;
    case KURA_JOURNAL_INPUT:
        cold_hex32(a, e->intent_hash);
        for (size_t i = 0; i < 32; i++) txid_be[i] = e->outpoint_txid[31 - i];
        cold_hex32(b, txid_be);
        printf("spends %s:%" PRIu32 " for intent sha256 %s\n", b, e->outpoint_vout, a);
        break;
    case KURA_JOURNAL_REFUSED:
        if (e->has_intent_hash) cold_hex32(a, e->intent_hash);
        printf("%s intent sha256 %s\n", e->reason, e->has_intent_hash ? a : "-");
        break;
    case KURA_JOURNAL_POLICY:
        cold_hex32(a, e->policy_hash);
        printf("version %" PRIu64 " sha256 %s\n", e->policy_version, a);
        break;
    case KURA_JOURNAL_RECOVERED:
        cold_hex32(a, e->discarded_hash);
        printf("cut %" PRIu64 " bytes of an interrupted entry (sha256 %s)\n", e->discarded_len,
               a);
        break;
    case KURA_JOURNAL_CHANGE: printf("change index %" PRIu32 "\n", e->change_index); break;
    }
}

int cold_cmd_journal_show(const cold_env *env)
{
    char path[PATH_MAX];
    uint8_t buf[65536], line[KURA_JOURNAL_LINE_MAX];
    size_t line_len = 0;
    uint64_t n = 0;
    int raw = env->args->value[OPT_RAW] != NULL, fd, rc = COLD_EXIT_OK;
    if (cold_path(path, sizeof(path), env->dir, COLD_FILE_JOURNAL) != 0)
        return cold_fail(COLD_EXIT_CANNOT, "the data directory path is too long");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return cold_fail(COLD_EXIT_CANNOT, "no journal in %s: run `kura-cold ceremony` first",
                             env->dir);
        return cold_fail(COLD_EXIT_CANNOT, "cannot read %s: %s", path, strerror(errno));
    }
    for (;;) {
        ssize_t got = read(fd, buf, sizeof(buf));
        if (got < 0) {
            if (errno == EINTR) continue;
            rc = cold_fail(COLD_EXIT_CANNOT, "cannot read %s: %s", path, strerror(errno));
            break;
        }
        if (got == 0) break;
        for (size_t i = 0; i < (size_t)got && rc == COLD_EXIT_OK; i++) {
            kura_journal_entry e;
            kura_error err;
            if (buf[i] != '\n') {
                if (line_len < sizeof(line)) line[line_len] = buf[i];
                line_len++;
                continue;
            }
            if (line_len >= sizeof(line)) {
                rc = cold_fail(COLD_EXIT_REFUSED, "entry %" PRIu64 ": line too long", n);
            } else if (kura_journal_entry_parse(&e, line, line_len, &err) != KURA_OK) {
                rc = cold_fail(COLD_EXIT_REFUSED, "entry %" PRIu64 ": %s", n, err.message);
            } else if (raw) {
                printf("%.*s\n", (int)line_len, (const char *)line);
            } else {
                print_entry(&e);
            }
            n++;
            line_len = 0;
        }
        if (rc != COLD_EXIT_OK) break;
    }
    close(fd);
    if (rc == COLD_EXIT_OK && line_len > 0)
        printf("(then %zu bytes of an entry a crash interrupted: never committed; the next sign "
               "cuts them off)\n",
               line_len);
    return rc;
}

int cold_cmd_journal_verify(const cold_env *env)
{
    char path[PATH_MAX], wpath[PATH_MAX], h[65], t[21];
    uint64_t bad = 0;
    kura_error err;
    cold_state st;
    int rc, torn = 0;
    if (cold_path(path, sizeof(path), env->dir, COLD_FILE_JOURNAL) != 0)
        return cold_fail(COLD_EXIT_CANNOT, "the data directory path is too long");
    rc = kura_journal_verify_file(&bad, path, &err);
    if (rc == KURA_ENOTFOUND)
        return cold_fail(COLD_EXIT_CANNOT, "no journal in %s", env->dir);
    if (rc == KURA_EDATA || rc == KURA_ERANGE)
        return cold_fail(COLD_EXIT_REFUSED, "FAILED at entry %" PRIu64 ": %s", bad, err.message);
    if (rc == KURA_JOURNAL_ETORN)
        torn = 1;
    else if (rc != KURA_OK)
        return cold_fail(COLD_EXIT_CANNOT, "%s", err.message);
    /* The chain holds; now the files it vouches for. An auditor's copy of
     * the journal alone has none. */
    if (cold_path(wpath, sizeof(wpath), env->dir, COLD_FILE_WALLET) != 0)
        return cold_fail(COLD_EXIT_CANNOT, "the data directory path is too long");
    if (access(wpath, F_OK) != 0 && errno == ENOENT) {
        cold_journal_snap snap;
        if (cold_journal_snapshot(&snap, path) != 0)
            return cold_fail(COLD_EXIT_CANNOT, "cannot read %s: %s", path, strerror(errno));
        cold_hex32(h, snap.head);
        printf("journal: %s\nentries: %" PRIu64 "\nhead: %s\n"
               "no wallet file here: the hash chain was verified, the policy files were not\n",
               path, snap.count, h);
        if (torn) printf("torn tail: an entry a crash interrupted (never committed)\n");
        printf("OK\n");
        cold_journal_snap_free(&snap);
        return COLD_EXIT_OK;
    }
    rc = cold_state_load(env, &st, 0);
    if (rc != COLD_EXIT_OK) {
        cold_state_free(&st);
        return rc;
    }
    cold_hex32(h, st.snap.head);
    cold_time(t, st.snap.last_time);
    printf("journal: %s\n"
           "entries: %" PRIu64 " (%" PRIu64 " signed, %" PRIu64 " refused, %" PRIu64
           " policy, %" PRIu64 " recovered)\n"
           "head: %s (entry %" PRIu64 ", %s)\n",
           path, st.snap.count, st.snap.n_signed, st.snap.n_refused, st.snap.n_policy,
           st.snap.n_recovered, h, st.snap.count - 1, t);
    printf("policy: version %" PRIu64 " in force; %s and policies/ match the journal\n",
           st.in_force->version,
           st.policy_file_behind ? "policies/ (the policy file is one update behind)"
                                 : "the policy file");
    if (torn)
        printf("torn tail: %zu bytes of an entry a crash interrupted (never committed; the next "
               "sign cuts them off)\n",
               st.snap.torn);
    printf("OK\n");
    cold_state_free(&st);
    return COLD_EXIT_OK;
}
