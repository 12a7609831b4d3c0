/* src/check/check.c — the signer's check: DESIGN "What the signer checks",
 * steps 1 to 6, in that order, the first failure deciding the refusal.
 *
 * The threat model (DESIGN) lets the attacker write every byte of the
 * package: the PSBT, the intent record, the approvals, a policy update. So
 * each step below recomputes what it needs from the signer's own state (the
 * wallet descriptor, the policy in force, the journal) and from texts whose
 * signatures it verifies itself; nothing the package merely claims counts.
 * Each rule says which attack it stops. docs/signer-check.md lists them all. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_internal.h"
#include "kura/hash.h"
#include "kura/script.h"
#include "kura/sshsig.h"

#define INTENT_NAMESPACE "kura-intent-v1"
#define ROLLING_WINDOW 86400 /* seconds: the policy's "per 24 hours" */

/* ---- small helpers ---- */

static void set_message(kura_check_result *res, const char *fmt, va_list ap) KURA_PRINTF(2, 0);
static void set_message(kura_check_result *res, const char *fmt, va_list ap)
{
    vsnprintf(res->message, sizeof(res->message), fmt, ap);
}

static int refuse_result(kura_check_result *res, kura_refusal reason, const char *fmt, ...)
    KURA_PRINTF(3, 4);
static int refuse_result(kura_check_result *res, kura_refusal reason, const char *fmt, ...)
{
    va_list ap;
    res->reason = reason;
    va_start(ap, fmt);
    set_message(res, fmt, ap);
    va_end(ap);
    return KURA_EDATA;
}

/* A failure that is not a refusal (misuse, no memory): reason stays NONE. */
static int fail_result(kura_check_result *res, int code, const char *fmt, ...) KURA_PRINTF(3, 4);
static int fail_result(kura_check_result *res, int code, const char *fmt, ...)
{
    va_list ap;
    res->reason = KURA_REFUSE_NONE;
    va_start(ap, fmt);
    set_message(res, fmt, ap);
    va_end(ap);
    return code;
}

int kura_check_i_refuse(kura_check_run *run, kura_refusal reason, const char *fmt, ...)
{
    va_list ap;
    run->result->reason = reason;
    va_start(ap, fmt);
    set_message(run->result, fmt, ap);
    va_end(ap);
    return KURA_EDATA;
}

void kura_check_i_btc(char *out, size_t out_len, uint64_t sats)
{
    snprintf(out, out_len, "%" PRIu64 ".%08" PRIu64 " BTC", sats / 100000000u, sats % 100000000u);
}

void kura_check_i_describe_script(char *out, size_t out_len, const uint8_t *script, size_t len,
                                  kura_network network)
{
    char addr[KURA_ADDRESS_MAX];
    if (out == NULL || out_len == 0) return;
    if (kura_address_from_script(addr, sizeof(addr), script, len, network, NULL) == KURA_OK) {
        snprintf(out, out_len, "%s", addr);
        return;
    }
    /* No address: show the start of the script in hex, so a person can
     * still tell two such outputs apart. */
    {
        char hex[2 * 24 + 1];
        size_t n = len < 24 ? len : 24;
        for (size_t i = 0; i < n; i++) snprintf(hex + 2 * i, 3, "%02x", script[i]);
        hex[2 * n] = '\0';
        snprintf(out, out_len, "script %s%s", hex, len > n ? "..." : "");
    }
}

/* A time for a message: "2026-11-21T09:30:00Z", or the number when the
 * format cannot spell it. */
static void show_time(char out[32], int64_t t)
{
    if (kura_intent_time_format(out, 32, t) != KURA_OK) snprintf(out, 32, "%" PRId64, t);
}

static void hex32(char out[65], const uint8_t in[32])
{
    for (size_t i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", in[i]);
}

/* ---- step 4, shared with kura_check_approvals ---- */

/* Verifies sigs[0..count) as approvals of intent (whose exact text is
 * text[0..text_len)) under policy. approvers (KURA_POLICY_APPROVERS_MAX
 * entries) receives the index of each counted approver, *napprovers their
 * number. Returns KURA_OK (quorum met), KURA_EDATA (refusal in res),
 * KURA_ECRYPTO or KURA_EINVAL (message in res, reason NONE). */
static int approvals_run(kura_check_result *res, size_t *approvers, size_t *napprovers,
                         const kura_policy *policy, const kura_policy *latest,
                         const kura_intent *intent, const uint8_t *text, size_t text_len,
                         const uint8_t *const *sigs, const size_t *sig_lens, size_t count)
{
    size_t first_by[KURA_POLICY_APPROVERS_MAX];
    unsigned char counted[KURA_POLICY_APPROVERS_MAX];
    unsigned required = 0;
    uint64_t total = kura_intent_total(intent);
    char btc[40];
    size_t n = 0;
    /* SSHSIG signs H(text): each hash is computed at most once for all the
     * approvals. SHA-256 is the intent's hash, which the callers computed
     * into res->intent_hash before (kura_intent_hash is SHA-256). */
    uint8_t sha512[KURA_SHA512_LEN];
    int have_sha512 = 0;

    *napprovers = 0;
    if (policy->approver_count > KURA_POLICY_APPROVERS_MAX ||
        (policy->approver_count > 0 && policy->approvers == NULL))
        return fail_result(res, KURA_EINVAL, "check: the policy's approver list is invalid");
    memset(counted, 0, sizeof(counted));
    memset(first_by, 0, sizeof(first_by));

    for (size_t i = 0; i < count; i++) {
        kura_sshsig sig;
        kura_sshkey signer;
        kura_error sub;
        size_t who = SIZE_MAX;
        int rc;

        kura_error_clear(&sub);
        if (sigs[i] == NULL || sig_lens[i] == 0) {
            rc = kura_fail(&sub, KURA_EDATA, "sshsig: empty");
        } else {
            rc = kura_sshsig_parse(&sig, (const char *)sigs[i], sig_lens[i], &sub);
        }
        /* The signature must cover these exact bytes in the approval
         * namespace. This stops an intent edited after approval (the
         * DMM attack: the instruction altered in transit), approvals copied
         * from another intent, and signatures made for anything else with
         * the same key (a policy signature, an SSH login, a git commit). */
        if (rc == KURA_OK && sig.hash == KURA_SSHSIG_HASH_SHA512 && !have_sha512) {
            kura_sha512(sha512, text, text_len);
            have_sha512 = 1;
        }
        if (rc == KURA_OK)
            rc = kura_sshsig_verify_hashed(&sig, res->intent_hash, sha512, INTENT_NAMESPACE, NULL,
                                           0, &signer, &sub);
        if (rc == KURA_ECRYPTO)
            return fail_result(res, KURA_ECRYPTO, "approval %zu: %s", i + 1, sub.message);
        if (rc != KURA_OK)
            return refuse_result(res, KURA_REFUSE_APPROVAL_INVALID,
                                 "approval %zu does not verify over this intent in namespace "
                                 "%s: %s",
                                 i + 1, INTENT_NAMESPACE, sub.message);

        /* People are identified by their public key's point, not by its
         * spelling: "ssh-ed25519 K" and "sk-ssh-ed25519@openssh.com K
         * <application>" (any application, and the same for P-256) are one
         * private key, so one holder. The signature counts for the member
         * listed with exactly this key; a key of a member in another form
         * counts for nobody (a key listed as a security key keeps its
         * touch), and an administrator's key in any form is refused below. */
        for (size_t j = 0; j < policy->approver_count && who == SIZE_MAX; j++)
            if (kura_sshkey_equal(&policy->approvers[j].key, &signer)) who = j;
        for (size_t j = 0; j < policy->approver_count && who == SIZE_MAX; j++) {
            if (kura_sshkey_same_point(&policy->approvers[j].key, &signer)) {
                const char *tn = kura_sshkey_type_name(signer.type);
                return refuse_result(res, KURA_REFUSE_APPROVER_UNKNOWN,
                                     "approval %zu is signed with the key of approver '%s' as "
                                     "%s%s%s, not as policy version %" PRIu64 " lists it",
                                     i + 1, policy->approvers[j].name, tn != NULL ? tn : "?",
                                     signer.application_len > 0 ? " application " : "",
                                     signer.application, policy->version);
            }
        }
        if (who == SIZE_MAX) {
            char fp[KURA_SSHKEY_FINGERPRINT_SIZE] = "?";
            (void)kura_sshkey_fingerprint(fp, &signer);
            /* Whoever can rewrite the rules does not also approve
             * transfers with the same key (docs/policy-format.md): an
             * administrator's key counts for nothing here, in any form. */
            for (size_t j = 0; j < policy->admin_count && policy->admins != NULL; j++) {
                if (kura_sshkey_same_point(&policy->admins[j].key, &signer))
                    return refuse_result(res, KURA_REFUSE_APPROVER_UNKNOWN,
                                         "approval %zu is signed by administrator '%s' (%s); "
                                         "administrators' keys do not approve transfers",
                                         i + 1, policy->admins[j].name, fp);
            }
            /* An approver the newest policy adds, whose addition still
             * waits (docs/policy-format.md: new approvers widen what can be
             * spent). */
            for (size_t j = 0; latest != NULL && latest != policy && j < latest->approver_count;
                 j++) {
                if (kura_sshkey_equal(&latest->approvers[j].key, &signer))
                    return refuse_result(res, KURA_REFUSE_APPROVER_UNKNOWN,
                                         "approval %zu is by '%s', whom policy version %" PRIu64
                                         " adds as an approver; a new approver counts only once "
                                         "the waiting period of the rules in force has passed",
                                         i + 1, latest->approvers[j].name, latest->version);
            }
            /* A key outside the policy: anyone can make a valid SSH
             * signature, only the named approvers' count. */
            return refuse_result(res, KURA_REFUSE_APPROVER_UNKNOWN,
                                 "approval %zu is signed by %s, which is not an approver of "
                                 "policy version %" PRIu64,
                                 i + 1, fp, policy->version);
        }
        /* Counted by key, never by signature bytes: ECDSA signatures are
         * malleable and a key may sign twice, so one stolen key must not
         * make up a quorum of two. */
        if (counted[who])
            return refuse_result(res, KURA_REFUSE_APPROVER_DUPLICATE,
                                 "approval %zu is a second approval by '%s' (first: approval %zu)",
                                 i + 1, policy->approvers[who].name, first_by[who] + 1);
        /* And by the point: a policy naming one key twice (in two forms,
         * as one written before such aliases were refused could) still
         * counts its holder once. */
        for (size_t k = 0; k < n; k++)
            if (kura_sshkey_same_point(&policy->approvers[approvers[k]].key, &signer))
                return refuse_result(res, KURA_REFUSE_APPROVER_DUPLICATE,
                                     "approval %zu by '%s' is a second approval by the holder of "
                                     "the key of '%s' (the same public key under another type or "
                                     "application; first: approval %zu)",
                                     i + 1, policy->approvers[who].name,
                                     policy->approvers[approvers[k]].name,
                                     first_by[approvers[k]] + 1);
        /* Four eyes: the person who asked for the transfer does not also
         * approve it, unless the policy says so (DESIGN step 4). Names are
         * unique in the policy and share the intent's alphabet, so the
         * comparison is exact. */
        if (!policy->initiator_may_approve &&
            strcmp(policy->approvers[who].name, intent->initiator) == 0)
            return refuse_result(res, KURA_REFUSE_APPROVER_INITIATOR,
                                 "approval %zu is by '%s', the intent's initiator; policy version "
                                 "%" PRIu64 " does not let initiators approve",
                                 i + 1, intent->initiator, policy->version);
        counted[who] = 1;
        first_by[who] = i;
        approvers[n++] = who;
        res->approval_count = n;
    }

    if (kura_policy_tier_required(&required, policy, total) != KURA_OK)
        return fail_result(res, KURA_EINVAL, "check: the policy has no unbounded last tier");
    res->approvals_required = required;
    res->approval_count = n;
    *napprovers = n;
    /* The quorum for the amount: an attacker holding M-1 approver keys
     * cannot reach M (DESIGN threat model). */
    if (n < required) {
        char who[160] = "";
        size_t used = 0;
        for (size_t k = 0; k < n && used + 1 < sizeof(who); k++) {
            int w = snprintf(who + used, sizeof(who) - used, "%s%s", k > 0 ? ", " : "",
                             policy->approvers[approvers[k]].name);
            if (w < 0) break;
            used += (size_t)w;
            if (used >= sizeof(who)) used = sizeof(who) - 1;
        }
        kura_check_i_btc(btc, sizeof(btc), total);
        return refuse_result(
            res, KURA_REFUSE_APPROVALS_INSUFFICIENT,
            "%zu of %u approvals required for a transfer of %s (%" PRIu64 " sat)%s%s%s", n,
            required, btc, total, n > 0 ? " (approved by: " : "", who, n > 0 ? ")" : "");
    }
    return KURA_OK;
}

int kura_check_approvals(kura_check_result *result, const kura_policy *policy,
                         const kura_intent *intent, const uint8_t *intent_text,
                         size_t intent_text_len, const uint8_t *const *sigs, const size_t *sig_lens,
                         size_t count)
{
    size_t approvers[KURA_POLICY_APPROVERS_MAX], n = 0;
    kura_intent *parsed = NULL;
    int rc;
    if (result != NULL) memset(result, 0, sizeof(*result));
    if (result == NULL) return KURA_EINVAL;
    if (policy == NULL || intent == NULL || intent_text == NULL || intent_text_len == 0 ||
        (count > 0 && (sigs == NULL || sig_lens == NULL)))
        return fail_result(result, KURA_EINVAL, "check: approvals: NULL argument");
    /* The count is for this intent's total and initiator, and the
     * signatures cover the text: the two must be one intent, or a caller
     * could count approvals of a small transfer toward a large one. */
    rc = kura_intent_parse(&parsed, intent_text, intent_text_len, NULL);
    if (rc == KURA_ENOMEM) return fail_result(result, rc, "check: out of memory");
    if (rc != KURA_OK || !kura_intent_equal(parsed, intent)) {
        kura_intent_free(parsed);
        return fail_result(result, KURA_EINVAL,
                           "check: approvals: the intent is not the parse of the intent text");
    }
    kura_intent_free(parsed);
    kura_intent_hash(result->intent_hash, intent_text, intent_text_len);
    snprintf(result->intent_id, sizeof(result->intent_id), "%s", intent->id);
    result->total_out = kura_intent_total(intent);
    return approvals_run(result, approvers, &n, policy, NULL, intent, intent_text,
                         intent_text_len, sigs, sig_lens, count);
}

/* ---- step 1: the package ---- */

static int cmp_outpoint(const void *a, const void *b)
{
    const kura_psbt_input *x = *(const kura_psbt_input *const *)a;
    const kura_psbt_input *y = *(const kura_psbt_input *const *)b;
    int c = memcmp(x->prev_txid, y->prev_txid, 32);
    if (c != 0) return c;
    return x->prev_vout < y->prev_vout ? -1 : x->prev_vout > y->prev_vout;
}

static int step_package(kura_check_run *run)
{
    const kura_signer_state *st = run->state;
    const kura_psbt *psbt = run->psbt;
    kura_error err;
    int rc;

    kura_error_clear(&err);
    rc = kura_package_read(&run->view, psbt, &err);
    if (rc == KURA_EINVAL) return fail_result(run->result, rc, "check: %s", err.message);
    if (rc != KURA_OK)
        return kura_check_i_refuse(run, KURA_REFUSE_PACKAGE_MALFORMED, "%s", err.message);
    if (run->view.intent == NULL)
        return kura_check_i_refuse(run, KURA_REFUSE_PACKAGE_MALFORMED,
                                   "package: no intent record (proprietary 'kura', subtype 0)");
    /* Signatures with nothing to sign are not a policy update: someone
     * dropped the policy text or meant another package. */
    if (run->view.policy == NULL && run->view.policy_signature_count > 0)
        return kura_check_i_refuse(run, KURA_REFUSE_PACKAGE_MALFORMED,
                                   "package: %zu policy signatures but no policy record",
                                   run->view.policy_signature_count);
    if (psbt->input_count == 0 || psbt->output_count == 0 || psbt->inputs == NULL ||
        psbt->outputs == NULL)
        return kura_check_i_refuse(run, KURA_REFUSE_PACKAGE_MALFORMED,
                                   "package: the transaction has %zu inputs and %zu outputs",
                                   psbt->input_count, psbt->output_count);
    /* One outpoint spent twice would count its proven amount twice, so the
     * fee shown would be wrong (and the transaction is invalid anyway). */
    {
        const kura_psbt_input **order = malloc(psbt->input_count * sizeof(*order));
        size_t dup = SIZE_MAX;
        if (order == NULL) return fail_result(run->result, KURA_ENOMEM, "check: out of memory");
        for (size_t i = 0; i < psbt->input_count; i++) order[i] = &psbt->inputs[i];
        qsort(order, psbt->input_count, sizeof(*order), cmp_outpoint);
        for (size_t i = 1; i < psbt->input_count && dup == SIZE_MAX; i++)
            if (cmp_outpoint(&order[i - 1], &order[i]) == 0)
                dup = (size_t)(order[i] - psbt->inputs);
        free(order);
        if (dup != SIZE_MAX)
            return kura_check_i_refuse(run, KURA_REFUSE_PACKAGE_MALFORMED,
                                       "package: input %zu spends an outpoint another input spends",
                                       dup);
    }

    /* Parse now what steps 1 to 3 read; their failures are reported at
     * the step they belong to (2 for the policy, 3 for the intent). */
    kura_error_clear(&run->intent_err);
    run->intent_rc =
        kura_intent_parse(&run->intent, run->view.intent, run->view.intent_len, &run->intent_err);
    if (run->intent_rc == KURA_ENOMEM)
        return fail_result(run->result, KURA_ENOMEM, "check: out of memory");
    if (run->intent != NULL) {
        kura_intent_hash(run->result->intent_hash, run->view.intent, run->view.intent_len);
        snprintf(run->result->intent_id, sizeof(run->result->intent_id), "%s", run->intent->id);
        run->result->total_out = kura_intent_total(run->intent);
    }
    if (run->view.policy != NULL) {
        kura_error_clear(&run->package_policy_err);
        run->package_policy_rc = kura_policy_parse(&run->package_policy, run->view.policy,
                                                   run->view.policy_len, &run->package_policy_err);
        if (run->package_policy_rc == KURA_ENOMEM)
            return fail_result(run->result, KURA_ENOMEM, "check: out of memory");
    }

    /* The network. Testnet, testnet4 and signet share an address encoding,
     * so the exact chain is compared: an intent approved for a test chain
     * must never move coins on another chain, mainnet above all. */
    if (st->policy->chain != st->chain)
        return kura_check_i_refuse(run, KURA_REFUSE_NETWORK_MISMATCH,
                                   "the policy in force is for %s; this signer serves %s",
                                   kura_intent_chain_name(st->policy->chain),
                                   kura_intent_chain_name(st->chain));
    if (!kura_descriptor_allows_network(st->wallet, run->network))
        return kura_check_i_refuse(run, KURA_REFUSE_NETWORK_MISMATCH,
                                   "the wallet descriptor's keys are not for %s",
                                   kura_intent_chain_name(st->chain));
    if (run->intent != NULL && run->intent->chain != st->chain)
        return kura_check_i_refuse(
            run, KURA_REFUSE_NETWORK_MISMATCH, "the intent is for %s; this signer serves %s",
            kura_intent_chain_name(run->intent->chain), kura_intent_chain_name(st->chain));
    if (run->package_policy != NULL && run->package_policy->chain != st->chain)
        return kura_check_i_refuse(run, KURA_REFUSE_NETWORK_MISMATCH,
                                   "the package's policy is for %s; this signer serves %s",
                                   kura_intent_chain_name(run->package_policy->chain),
                                   kura_intent_chain_name(st->chain));
    return KURA_OK;
}

/* ---- step 2: the policy in force ---- */

static int same_wallet(const kura_intent_wallet *w, const kura_signer_state *st)
{
    return strcmp(w->name, st->wallet_name) == 0 && strcmp(w->checksum, st->wallet_checksum) == 0;
}

static int step_policy(kura_check_run *run)
{
    const kura_signer_state *st = run->state;
    const kura_policy *cur = st->policy;
    const kura_policy *p;
    const char *sigs[KURA_PACKAGE_POLICY_SIGNATURES_MAX];
    size_t valid = 0;
    kura_error err;
    int rc;

    run->policy = st->rules != NULL ? st->rules : cur;
    run->latest = cur;
    if (!same_wallet(&cur->wallet, st))
        return kura_check_i_refuse(run, KURA_REFUSE_POLICY_WALLET,
                                   "the policy in force (version %" PRIu64
                                   ") is for wallet %s #%s; "
                                   "this signer holds %s #%s",
                                   cur->version, cur->wallet.name, cur->wallet.checksum,
                                   st->wallet_name, st->wallet_checksum);
    if (run->view.policy == NULL) return KURA_OK;
    if (run->package_policy == NULL)
        return kura_check_i_refuse(run, KURA_REFUSE_POLICY_MALFORMED, "the package's %s",
                                   run->package_policy_err.message);
    p = run->package_policy;
    /* A policy is the rule book of one wallet: another wallet's rules
     * (perhaps with laxer caps, properly signed by the same admins) must
     * not govern this one. */
    if (!same_wallet(&p->wallet, st))
        return kura_check_i_refuse(
            run, KURA_REFUSE_POLICY_WALLET,
            "the package's policy (version %" PRIu64 ") is for wallet %s #%s; "
            "this signer holds %s #%s",
            p->version, p->wallet.name, p->wallet.checksum, st->wallet_name, st->wallet_checksum);
    /* Versions only grow: replaying an old, properly signed policy would
     * undo a later change (a removed approver, a lowered cap). */
    if (p->version < cur->version)
        return kura_check_i_refuse(run, KURA_REFUSE_POLICY_STALE,
                                   "the package's policy version %" PRIu64
                                   " is older than version %" PRIu64 " in force",
                                   p->version, cur->version);
    if (p->version == cur->version) {
        /* The coordinator may keep sending the policy in force; that
         * changes nothing. Other rules under the same number would give one
         * version two meanings. */
        if (kura_policy_equal(p, cur)) return KURA_OK;
        return kura_check_i_refuse(run, KURA_REFUSE_POLICY_STALE,
                                   "the package's policy has version %" PRIu64
                                   ", the version in force, but different rules; a change needs a "
                                   "higher version",
                                   p->version);
    }
    /* Signed by a quorum of the administrators of the policy IN FORCE, never
     * of the new text: otherwise whoever writes a policy naming their own
     * keys as administrators could sign it themselves. */
    /* The rules in force decide: an administrator that a pending update
     * added does not sign until its waiting period has passed, and one it
     * removed no longer does. */
    if (run->policy->admin_count == 0 || run->policy->admin_quorum == 0)
        return kura_check_i_refuse(run, KURA_REFUSE_POLICY_SIGNATURES,
                                   "the package's policy version %" PRIu64
                                   ": no administrator of policy version %" PRIu64
                                   " is in force yet (a change of administrators waits its "
                                   "waiting period)",
                                   p->version, cur->version);
    for (size_t i = 0; i < run->view.policy_signature_count; i++)
        sigs[i] = (const char *)run->view.policy_signatures[i];
    kura_error_clear(&err);
    rc = kura_policy_verify_signatures(NULL, &valid, run->policy, run->view.policy,
                                       run->view.policy_len, sigs,
                                       run->view.policy_signature_lens,
                                       run->view.policy_signature_count, &err);
    if (rc == KURA_ECRYPTO || rc == KURA_EINVAL)
        return fail_result(run->result, rc, "check: %s", err.message);
    if (rc != KURA_OK)
        return kura_check_i_refuse(run, KURA_REFUSE_POLICY_SIGNATURES,
                                   "the package's policy version %" PRIu64 ": %s", p->version,
                                   err.message);
    /* Tightening counts at once, loosening waits: unless the rules in
     * force have no waiting period, the rest of the check applies the
     * strictest of them and the update, so an update cannot set the delay
     * to 0, add an address and pay it in one package (nor add approvers,
     * raise caps, ... and use them). */
    if (run->policy->allowlist_delay == 0) {
        run->policy = p;
    } else {
        rc = kura_policy_strictest(&run->rules_owned, run->policy, p, &err);
        if (rc != KURA_OK) return fail_result(run->result, rc, "check: %s", err.message);
        run->policy = run->rules_owned;
    }
    run->latest = p;
    run->policy_is_new = 1;
    run->policy_signatures_valid = valid;
    return KURA_OK;
}

/* ---- step 3: the intent ---- */

static int step_intent(kura_check_run *run)
{
    const kura_signer_state *st = run->state;
    const kura_intent *in = run->intent;
    char t1[32], t2[32], hex[65];
    int64_t lifetime;

    /* One text, one meaning: only the canonical form is read, so the bytes
     * the approvers signed are the bytes checked here. */
    if (in == NULL)
        return kura_check_i_refuse(run, KURA_REFUSE_INTENT_MALFORMED, "%s",
                                   run->intent_err.message);
    /* An intent for another wallet (a hot wallet's routine payout replayed
     * against the cold wallet) names another descriptor checksum. */
    if (!same_wallet(&in->wallet, st))
        return kura_check_i_refuse(run, KURA_REFUSE_INTENT_WALLET,
                                   "the intent names wallet %s #%s; this signer holds %s #%s",
                                   in->wallet.name, in->wallet.checksum, st->wallet_name,
                                   st->wallet_checksum);
    /* The approvers saw a policy version (kura-approve refuses to approve
     * under one older than the newest its holder verified). A signer behind
     * it has been kept from an update — perhaps the one that revokes a
     * stolen approver key — so it signs nothing under its older rules
     * unless the package brings that version (or `kura-cold policy apply`
     * installs it). */
    if (in->policy_version > run->latest->version)
        return kura_check_i_refuse(run, KURA_REFUSE_POLICY_BEHIND,
                                   "the intent's approvers saw policy version %" PRIu64
                                   "; this signer's newest is version %" PRIu64
                                   " and the package brings no such policy (apply it with "
                                   "`kura-cold policy apply`)",
                                   in->policy_version, run->latest->version);
    /* An approval is consent for a time: an intent held back and sent
     * weeks later is refused. */
    if (st->now >= in->expires) {
        show_time(t1, in->expires);
        show_time(t2, st->now);
        return kura_check_i_refuse(run, KURA_REFUSE_INTENT_EXPIRED,
                                   "the intent expired at %s (now %s)", t1, t2);
    }
    /* An intent dated in the future would stretch its life past what the
     * approvers saw; a small skew allows for clocks. */
    if (st->max_clock_skew <= INT64_MAX - st->now && in->created > st->now + st->max_clock_skew) {
        show_time(t1, in->created);
        show_time(t2, st->now);
        return kura_check_i_refuse(run, KURA_REFUSE_INTENT_NOT_YET,
                                   "the intent was created at %s, in the future (now %s, allowed "
                                   "skew %" PRId64 " s)",
                                   t1, t2, st->max_clock_skew);
    }
    /* A long-lived intent is a standing order nobody watches. */
    lifetime = in->expires - in->created; /* both 0..TIME_MAX, expires > created */
    if ((uint64_t)lifetime > run->policy->max_lifetime)
        return kura_check_i_refuse(run, KURA_REFUSE_INTENT_LIFETIME,
                                   "the intent lives %" PRId64 " s, over the policy's max-lifetime "
                                   "of %" PRIu64 " s",
                                   lifetime, run->policy->max_lifetime);
    /* Replay: an approved intent pays once. Asked by hash (the same text
     * again) and by id (the same instruction re-spelled, e.g. with another
     * label, needs fresh approvals and a fresh id). */
    if (st->journal.intent_signed(st->journal.arg, run->result->intent_hash, in->id) != 0) {
        /* Unless it is a fee bump: a replacement that provably conflicts
         * with every earlier signature of this very intent (bump.c). */
        if (st->journal.prior_signatures != NULL) return kura_check_i_bump_prepare(run);
        hex32(hex, run->result->intent_hash);
        return kura_check_i_refuse(run, KURA_REFUSE_INTENT_REPLAY,
                                   "intent %s (SHA-256 %s) or its id was signed before", in->id,
                                   hex);
    }
    return KURA_OK;
}

/* ---- step 4: the approvals ---- */

static int step_approvals(kura_check_run *run)
{
    return approvals_run(run->result, run->approvers, &run->approver_count, run->policy,
                         run->latest, run->intent, run->view.intent, run->view.intent_len,
                         run->view.approvals, run->view.approval_lens, run->view.approval_count);
}

/* ---- step 6: destinations and limits ---- */

/* The allowlist by script: entries ordered by (script length, script bytes,
 * position in the policy), so a binary search finds the first entry with a
 * script, as kura_policy_allowlist_lookup's linear scan does. */
static int cmp_allow(const void *a, const void *b)
{
    const kura_policy_allow *x = *(const kura_policy_allow *const *)a;
    const kura_policy_allow *y = *(const kura_policy_allow *const *)b;
    int c;
    if (x->script_len != y->script_len) return x->script_len < y->script_len ? -1 : 1;
    c = memcmp(x->script, y->script, x->script_len);
    if (c != 0) return c;
    return x < y ? -1 : x > y; /* entries of one array: their order in the policy */
}

static const kura_policy_allow *allow_find(const kura_policy_allow *const *sorted, size_t n,
                                           const uint8_t *script, size_t len)
{
    size_t lo = 0, hi = n; /* the first entry not below (len, script) */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const kura_policy_allow *a = sorted[mid];
        int c = a->script_len != len ? (a->script_len < len ? -1 : 1)
                                     : memcmp(a->script, script, len);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < n && sorted[lo]->script_len == len && memcmp(sorted[lo]->script, script, len) == 0)
        return sorted[lo];
    return NULL;
}

/* Looks every intent output up in the allowlist of the policy in force for
 * the rest of the check, once: step 6 and the summary share the answers. */
static int lookup_destinations(kura_check_run *run)
{
    const kura_policy *p = run->policy;
    const kura_intent *in = run->intent;
    const kura_policy_allow **sorted = NULL;
    size_t n = p->allow != NULL ? p->allow_count : 0;

    run->dest_allow = calloc(in->output_count > 0 ? in->output_count : 1, sizeof(*run->dest_allow));
    if (run->dest_allow == NULL) return fail_result(run->result, KURA_ENOMEM, "check: out of memory");
    if (n == 0) return KURA_OK;
    sorted = malloc(n * sizeof(*sorted));
    if (sorted == NULL) return fail_result(run->result, KURA_ENOMEM, "check: out of memory");
    for (size_t i = 0; i < n; i++) sorted[i] = &p->allow[i];
    qsort(sorted, n, sizeof(*sorted), cmp_allow);
    for (size_t i = 0; i < in->output_count; i++)
        run->dest_allow[i] =
            allow_find(sorted, n, in->outputs[i].script, in->outputs[i].script_len);
    free(sorted);
    return KURA_OK;
}

static int step_limits(kura_check_run *run)
{
    const kura_signer_state *st = run->state;
    const kura_policy *p = run->policy;
    const kura_intent *in = run->intent;
    uint64_t total = kura_intent_total(in), prior;
    char btc[40], t1[32];
    int rc;

    rc = lookup_destinations(run);
    if (rc != KURA_OK) return rc;
    if (p->allowlist_required) {
        for (size_t i = 0; i < in->output_count; i++) {
            const kura_intent_output *o = &in->outputs[i];
            const char *label = run->dest_allow[i] != NULL ? run->dest_allow[i]->label : NULL;
            int64_t since, usable;
            /* Matched by script, the thing paid, not by the address
             * spelling. */
            const char *pending = NULL;
            if (run->dest_allow[i] == NULL && run->latest != NULL && run->latest != p &&
                kura_policy_allowlist_lookup((void *)(uintptr_t)run->latest, o->script,
                                             o->script_len, &pending) == 1)
                return kura_check_i_refuse(run, KURA_REFUSE_DESTINATION_WAITING,
                                           "intent output %zu pays %s, which policy version "
                                           "%" PRIu64 " adds to the allowlist as '%s'; a new "
                                           "entry is usable only once the waiting period of the "
                                           "rules in force (%" PRIu64 " s) has passed since the "
                                           "signer accepted it",
                                           i + 1, o->address, run->latest->version, pending,
                                           p->allowlist_delay);
            if (run->dest_allow[i] == NULL)
                return kura_check_i_refuse(run, KURA_REFUSE_DESTINATION_NOT_ALLOWED,
                                           "intent output %zu pays %s, which is not on the "
                                           "allowlist of policy version %" PRIu64,
                                           i + 1, o->address, p->version);
            /* The waiting period stops an attacker who slipped an address
             * into a policy update from using it before people notice. The
             * time an entry was accepted is the signer's own record, never
             * the package's. An entry the journal has never seen can only
             * come from the update in this very package, accepted now. */
            since = st->journal.allow_accepted_at(st->journal.arg, o->script, o->script_len);
            if (since < 0) since = st->now;
            if (p->allowlist_delay > (uint64_t)(INT64_MAX - since))
                usable = INT64_MAX;
            else
                usable = since + (int64_t)p->allowlist_delay;
            if (st->now < usable) {
                show_time(t1, usable);
                return kura_check_i_refuse(run, KURA_REFUSE_DESTINATION_WAITING,
                                           "intent output %zu pays %s (allowlisted as '%s'), "
                                           "usable only from %s (waiting period %" PRIu64 " s)",
                                           i + 1, o->address, label != NULL ? label : "", t1,
                                           p->allowlist_delay);
            }
        }
    }
    /* Per-transfer cap: bounds what one approved intent can move. */
    if (total > p->max_per_transfer) {
        kura_check_i_btc(btc, sizeof(btc), total);
        return kura_check_i_refuse(run, KURA_REFUSE_LIMIT_TRANSFER,
                                   "the intent sends %s (%" PRIu64 " sat), over the policy's "
                                   "per-transfer cap of %" PRIu64 " sat",
                                   btc, total, p->max_per_transfer);
    }
    /* Rolling cap: bounds what many small approved intents can move in a
     * day, from the signer's own journal of what it signed. */
    prior = st->journal.signed_since(st->journal.arg, st->now >= INT64_MIN + ROLLING_WINDOW
                                                          ? st->now - ROLLING_WINDOW
                                                          : INT64_MIN);
    /* A fee bump counts its intent once: what the earlier signatures of it
     * count in the window comes out, and this one counts the amount with
     * its own fee, the highest of the chain (bump.c made sure). */
    if (run->bump) prior = prior > run->prior.counted ? prior - run->prior.counted : 0;
    /* Fees leave the wallet too: a transfer's fee counts toward the rolling
     * cap with its destinations (prior sums are amounts plus fees as well),
     * or fee-heavy transfers, each within its own fee caps, would move more
     * than the cap in a day. total + fee cannot wrap: both are at most
     * MAX_MONEY. */
    if (prior > p->max_per_24h || total + run->fee > p->max_per_24h - prior)
        return kura_check_i_refuse(run, KURA_REFUSE_LIMIT_ROLLING,
                                   "%" PRIu64 " sat left the wallet in the last 24 hours "
                                   "(payments and fees); this transfer's %" PRIu64
                                   " sat and fee %" PRIu64 " sat would pass the policy's cap of "
                                   "%" PRIu64 " sat per 24 hours",
                                   prior, total, run->fee, p->max_per_24h);
    return KURA_OK;
}

/* ---- the check ---- */

static int state_valid(const kura_signer_state *st, kura_network *network)
{
    if (st->wallet == NULL || st->wallet_name == NULL || st->policy == NULL ||
        st->journal.intent_signed == NULL || st->journal.signed_since == NULL ||
        st->journal.allow_accepted_at == NULL || st->max_clock_skew < 0)
        return 0;
    if (memchr(st->wallet_checksum, '\0', sizeof(st->wallet_checksum)) == NULL) return 0;
    if (kura_intent_chain_network(network, st->chain) != KURA_OK) return 0;
    /* The wallet has a change branch to check change against. */
    if (kura_descriptor_multipath_count(st->wallet) <= KURA_DESCRIPTOR_BRANCH_CHANGE) return 0;
    return 1;
}

int kura_check_package(const kura_ctx *ctx, kura_check_result *result,
                       const kura_signer_state *state, const kura_psbt *psbt)
{
    kura_check_run run;
    int rc;

    if (result != NULL) memset(result, 0, sizeof(*result));
    if (result == NULL) return KURA_EINVAL;
    memset(&run, 0, sizeof(run));
    if (ctx == NULL || state == NULL || psbt == NULL)
        return fail_result(result, KURA_EINVAL, "check: NULL argument");
    if (!state_valid(state, &run.network))
        return fail_result(result, KURA_EINVAL,
                           "check: incomplete signer state (wallet with a change branch, name, "
                           "checksum, chain, policy, journal callbacks, clock skew)");
    run.ctx = ctx;
    run.state = state;
    run.psbt = psbt;
    run.result = result;

    rc = step_package(&run);
    if (rc == KURA_OK) rc = step_policy(&run);
    if (rc == KURA_OK) rc = step_intent(&run);
    if (rc == KURA_OK) rc = step_approvals(&run);
    if (rc == KURA_OK) rc = kura_check_i_transaction(&run);
    if (rc == KURA_OK) rc = kura_check_i_bump_fee(&run);
    if (rc == KURA_OK) rc = step_limits(&run);
    if (rc == KURA_OK) {
        result->total_out = kura_intent_total(run.intent);
        result->change = run.change;
        result->fee = run.fee;
        result->vsize_estimate = run.vsize;
        result->bip125 = kura_check_i_signals_rbf(psbt);
        if (run.bump) {
            result->is_bump = 1;
            memcpy(result->replaced_txid, run.prior.last_txid, 32);
            result->replaced_fee = run.prior.fee_max;
            result->replaced_entry = run.prior.last_entry;
        }
        for (size_t i = 0; i < psbt->output_count; i++) {
            if (!run.roles[i].is_change) continue;
            if (!result->has_change || run.roles[i].change_index > result->change_index_max)
                result->change_index_max = run.roles[i].change_index;
            result->has_change = 1;
        }
        rc = kura_check_i_summary(&run);
    }
    if (rc == KURA_OK) {
        result->reason = KURA_REFUSE_NONE;
        result->message[0] = '\0';
        if (run.policy_is_new) {
            result->new_policy = run.package_policy;
            run.package_policy = NULL;
        }
    } else {
        /* A refused package changes nothing: no new policy, no summary. */
        free(result->summary);
        result->summary = NULL;
    }
    kura_intent_free(run.intent);
    kura_policy_free(run.package_policy);
    kura_policy_free(run.rules_owned);
    kura_descriptor_output_free(run.work);
    free(run.roles);
    free(run.dest_allow);
    return rc;
}
