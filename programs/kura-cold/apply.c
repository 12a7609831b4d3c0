/*
 * programs/kura-cold/apply.c — `kura-cold policy apply FILE SIG...`: a
 * policy update brought to the signer directly, not inside a signing
 * package (docs/kura-cold.md, "policy apply").
 *
 * Updates used to reach the signer only inside packages, which the
 * coordinator builds: a hostile coordinator could hold back the update that
 * removes a stolen approver key. With this path an administrator carries the
 * signed text to the signer on their own. The rules are those of an update
 * in a package: a newer version for the same wallet and chain, signed by a
 * quorum of the administrators of the rules in force; what it tightens
 * counts at once, what it loosens after the waiting period of the rules in
 * force now (kura_policy_in_force, recomputed from the journal on every
 * start).
 *
 * Order, as in sign: policies/<version> is written, the `policy` entry is
 * journaled (fsynced), then the policy file is replaced; a crash between the
 * last two is completed at the next start (state.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cold.h"
#include "kura/hash.h"

/* Prints and journals a refusal (reason: a stable status name). */
static int apply_refuse(const cold_env *env, cold_state *st, const char *reason, const char *fmt,
                        ...) __attribute__((format(printf, 4, 5)));
static int apply_refuse(const cold_env *env, cold_state *st, const char *reason, const char *fmt,
                        ...)
{
    char msg[KURA_ERROR_MESSAGE_MAX * 2];
    kura_error err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cold_fail(COLD_EXIT_REFUSED, "refused: %s: %s", reason, msg);
    if (kura_journal_append_refused(st->journal, NULL, env->now, NULL, reason, &err) != KURA_OK)
        return cold_fail(COLD_EXIT_CANNOT, "the refusal could not be journaled: %s", err.message);
    return COLD_EXIT_REFUSED;
}

int cold_cmd_policy_apply(const cold_env *env)
{
    const cold_args *a = env->args;
    cold_state st;
    uint8_t *text = NULL, hash[32];
    size_t len = 0, nsig = a->npos > 0 ? a->npos - 1 : 0, valid = 0;
    char *sigs[KURA_PACKAGE_POLICY_SIGNATURES_MAX];
    size_t sig_lens[KURA_PACKAGE_POLICY_SIGNATURES_MAX], loaded = 0;
    kura_policy *next = NULL;
    const kura_policy *cur;
    char why[512], t[21], path[PATH_MAX];
    kura_error err;
    int rc;

    if (a->npos < 2 || nsig > KURA_PACKAGE_POLICY_SIGNATURES_MAX)
        return cold_fail(COLD_EXIT_CANNOT, "usage: kura-cold policy apply FILE SIG...");
    rc = cold_state_load(env, &st, 1);
    if (rc != COLD_EXIT_OK) goto done;
    cur = st.in_force->policy;
    if (cold_read_file(&text, &len, a->pos[0], KURA_POLICY_TEXT_MAX) != 0) {
        rc = cold_fail(COLD_EXIT_CANNOT, "cannot read %s: %s", a->pos[0], strerror(errno));
        goto done;
    }
    for (loaded = 0; loaded < nsig; loaded++) {
        uint8_t *s = NULL;
        if (cold_read_file(&s, &sig_lens[loaded], a->pos[1 + loaded], KURA_SSHSIG_ARMOR_MAX) !=
            0) {
            rc = cold_fail(COLD_EXIT_CANNOT, "cannot read %s: %s", a->pos[1 + loaded],
                           strerror(errno));
            goto done;
        }
        sigs[loaded] = (char *)s;
    }
    rc = kura_policy_parse(&next, text, len, &err);
    if (rc == KURA_ENOMEM) {
        rc = cold_fail(COLD_EXIT_CANNOT, "out of memory");
        goto done;
    }
    if (rc != KURA_OK) {
        rc = apply_refuse(env, &st, kura_refusal_name(KURA_REFUSE_POLICY_MALFORMED), "%s",
                          err.message);
        goto done;
    }
    if (strcmp(next->wallet.name, st.name) != 0 || strcmp(next->wallet.checksum, st.checksum) != 0 ||
        next->chain != st.chain) {
        rc = apply_refuse(env, &st, kura_refusal_name(KURA_REFUSE_POLICY_WALLET),
                          "the policy is for wallet %s #%s on %s; this signer holds %s #%s on %s",
                          next->wallet.name, next->wallet.checksum,
                          kura_intent_chain_name(next->chain), st.name, st.checksum,
                          kura_intent_chain_name(st.chain));
        goto done;
    }
    if (next->version == cur->version && kura_policy_equal(next, cur)) {
        printf("policy version %" PRIu64 " is already in force; nothing to do\n", cur->version);
        rc = COLD_EXIT_OK;
        goto done;
    }
    if (kura_policy_check_successor(cur, next, &err) != KURA_OK) {
        rc = apply_refuse(env, &st, kura_refusal_name(KURA_REFUSE_POLICY_STALE), "%s",
                          err.message);
        goto done;
    }
    /* Signed by a quorum of the administrators of the rules in force. */
    if (st.rules->admin_count == 0) {
        rc = apply_refuse(env, &st, kura_refusal_name(KURA_REFUSE_POLICY_SIGNATURES),
                          "no administrator of policy version %" PRIu64
                          " is in force yet (a change of administrators waits its waiting period)",
                          cur->version);
        goto done;
    }
    rc = kura_policy_verify_signatures(NULL, &valid, st.rules, text, len,
                                       (const char *const *)sigs, sig_lens, nsig, &err);
    if (rc == KURA_ECRYPTO || rc == KURA_EINVAL || rc == KURA_ENOMEM) {
        rc = cold_fail(COLD_EXIT_CANNOT, "%s", err.message);
        goto done;
    }
    if (rc != KURA_OK) {
        rc = apply_refuse(env, &st, kura_refusal_name(KURA_REFUSE_POLICY_SIGNATURES),
                          "policy version %" PRIu64 ": %s", next->version, err.message);
        goto done;
    }

    printf("Policy version %" PRIu64 " of %s #%s (%s, %s), replacing version %" PRIu64
           "; signed by %zu administrators of the rules in force.\n",
           next->version, next->wallet.name, next->wallet.checksum,
           kura_intent_chain_name(next->chain), next->mode == KURA_POLICY_HOT ? "hot" : "cold",
           cur->version, valid);
    if (kura_policy_loosenings(why, sizeof(why), st.rules, next) > 0) {
        cold_time(t, st.rules->allowlist_delay > (uint64_t)(KURA_JOURNAL_TIME_MAX - env->now)
                         ? KURA_JOURNAL_TIME_MAX
                         : env->now + (int64_t)st.rules->allowlist_delay);
        printf("It widens what can be spent: %s.\nThat part takes effect at %s (the waiting "
               "period of the rules in force, %" PRIu64 " s); what it tightens, now.\n",
               why, t, st.rules->allowlist_delay);
    } else {
        printf("It widens nothing: it takes effect now.\n");
    }
    printf("\n%.*s\n", (int)len, (const char *)text);
    if (!cold_ask_yes("Type yes to put it in force; anything else refuses:")) {
        rc = apply_refuse(env, &st, kura_refusal_name(KURA_REFUSE_DECLINED),
                          "the operator did not confirm policy version %" PRIu64, next->version);
        goto done;
    }

    kura_sha256(hash, text, len);
    if (cold_policy_archive_path(path, sizeof(path), env->dir, next->version) != 0 ||
        cold_write_atomic(path, text, len, 0600, 1) != 0) {
        rc = cold_fail(COLD_EXIT_CANNOT, "cannot write %s: %s", path, strerror(errno));
        goto done;
    }
    if (kura_journal_append_policy(st.journal, NULL, env->now, next->version, hash, &err) !=
        KURA_OK) {
        rc = cold_fail(COLD_EXIT_CANNOT, "%s", err.message);
        goto done;
    }
    cold_hook("after-policy-journal");
    if (cold_path(path, sizeof(path), env->dir, COLD_FILE_POLICY) != 0 ||
        cold_write_atomic(path, text, len, 0600, 1) != 0)
        cold_note("the policy file was not replaced (%s); the next start completes the update "
                  "from the journal",
                  strerror(errno));
    printf("policy version %" PRIu64 " is now in force\n", next->version);
    rc = COLD_EXIT_OK;
done:
    for (size_t i = 0; i < loaded; i++) free(sigs[i]);
    kura_policy_free(next);
    free(text);
    cold_state_free(&st);
    return rc;
}
