/*
 * programs/kura-cold/sign.c — `kura-cold sign PACKAGE -o OUT`: the signer's
 * check, the operator's confirmation, the journal, the signature.
 *
 * Order (DESIGN "What the signer checks", steps 1-8; docs/kura-cold.md):
 *   1. OUT must not exist; the state loads and verifies (wallet, journal,
 *      policy files; a torn journal tail is recovered).
 *   2. The package is read and parsed; kura_check_package decides. A refusal
 *      is journaled (`refused`, with the intent's hash when there is an
 *      intent) and nothing else happens.
 *   3. --unattended needs a hot policy (the one in force and, if the package
 *      brings one, the new one too), else KURA_REFUSE_HOT_NOT_ALLOWED.
 *   4. The summary is shown; the operator types "yes" (anything else is
 *      KURA_REFUSE_DECLINED, journaled).
 *   5. OUT's temporary file is created (so a full or read-only disk fails
 *      here, before the journal holds a signature nobody received).
 *   6. The keystore is opened and the PSBT signed in memory
 *      (kura_psbt_sign_bip32, all or nothing); every secret is wiped.
 *   7. Journal: a newer policy the check accepted is archived in
 *      policies/<version> and journaled (`policy`) first, then the signature
 *      (`signed`); each append is fsynced before it returns.
 *   8. The signed PSBT is written: temporary file, fsync, link to OUT,
 *      directory fsync.
 *   9. A newer policy replaces the policy file: from here on it is the
 *      policy in force.
 * A crash after 7 and before 9 leaves the policy file one version behind
 * the journal; the next start sees exactly that and completes step 9 (any
 * other mismatch is a swapped file and stops the signer). So a new policy
 * takes effect together with the signing that brought it: never before
 * its journal entry, and never without its signed entry having been
 * attempted right after. A crash after 7 and before 8 leaves a journaled
 * signature that never left the signer: the journal may hold more than
 * what went out, never less.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cold.h"
#include "kura/hash.h"
#include "kura/psbt.h"
#include "kura/tx.h"

#define PACKAGE_FILE_MAX (2u * KURA_PSBT_MAX_SIZE)

typedef struct sign_ctx {
    const cold_env *env;
    cold_state st;
    int has_intent_hash;
    uint8_t intent_hash[32];
} sign_ctx;

/* Prints the refusal, journals it, returns the exit code. */
static int refuse(sign_ctx *s, kura_refusal reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int refuse(sign_ctx *s, kura_refusal reason, const char *fmt, ...)
{
    char msg[KURA_ERROR_MESSAGE_MAX * 2];
    const char *name = kura_refusal_name(reason);
    kura_journal_entry e;
    kura_error err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cold_fail(COLD_EXIT_REFUSED, "refused: %s: %s", name, msg);
    /* The refusal is the audit trail: an attack that was stopped is still
     * an attack someone must hear about. */
    if (kura_journal_append_refused(s->st.journal, &e, s->env->now,
                                    s->has_intent_hash ? s->intent_hash : NULL, name,
                                    &err) != KURA_OK)
        return cold_fail(COLD_EXIT_CANNOT, "the refusal could not be journaled: %s", err.message);
    return COLD_EXIT_REFUSED;
}

static size_t trim_right(const uint8_t *s, size_t len)
{
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' ' ||
                       s[len - 1] == '\t'))
        len--;
    return len;
}

static void print_sats(const char *label, uint64_t sats)
{
    printf("%s%" PRIu64 ".%08" PRIu64 " BTC (%" PRIu64 " sat)\n", label, sats / 100000000u,
           sats % 100000000u, sats);
}

/* What the operator confirms. The check's summary says it in words; the
 * lines after it are the facts the journal will record. */
static void show_summary(const sign_ctx *s, const kura_check_result *r, int unattended)
{
    char h[65];
    cold_hex32(h, r->intent_hash);
    printf("\n");
    if (r->summary != NULL && r->summary[0] != '\0') {
        size_t n = strlen(r->summary);
        printf("%s%s", r->summary, r->summary[n - 1] == '\n' ? "" : "\n");
    }
    printf("\n--- kura-cold will sign ---\n"
           "wallet:     %s #%s on %s\n"
           "intent:     %s (sha256 %s)\n",
           s->st.name, s->st.checksum, kura_intent_chain_name(s->st.chain), r->intent_id, h);
    print_sats("sent:       ", r->total_out);
    print_sats("change:     ", r->change);
    print_sats("fee:        ", r->fee);
    printf("approvals:  %zu valid, %u required\n", r->approval_count, r->approvals_required);
    printf("policy:     version %" PRIu64 " (%s)\n", s->st.in_force->version,
           s->st.in_force->policy->mode == KURA_POLICY_HOT ? "hot" : "cold");
    if (r->new_policy != NULL)
        printf("POLICY UPDATE: version %" PRIu64 " -> %" PRIu64
               " (%s), signed by the administrators; it takes effect with this signature\n",
               s->st.in_force->version, r->new_policy->version,
               r->new_policy->mode == KURA_POLICY_HOT ? "hot" : "cold");
    if (r->is_bump) {
        char txid[65];
        uint8_t be[32];
        for (size_t i = 0; i < 32; i++) be[i] = r->replaced_txid[31 - i];
        cold_hex32(txid, be);
        printf("FEE BUMP:   replaces transaction %s (journal entry %" PRIu64 ")\n"
               "            fee %" PRIu64 " sat -> %" PRIu64 " sat; it spends every coin the "
               "earlier one did, so at most one of them can confirm\n",
               txid, r->replaced_entry, r->replaced_fee, r->fee);
    }
    if (unattended) printf("unattended: signing under the hot-wallet policy\n");
    fflush(stdout);
}

/* Step 6: keystore, master key, signature in memory; secrets wiped before
 * returning. Returns an exit code; *refusal set when the signer refuses. */
static int sign_in_memory(const cold_env *env, const cold_state *st, kura_psbt *psbt,
                          size_t *count, kura_refusal *refusal, char *why, size_t why_len)
{
    kura_keystore_secret *secret = NULL;
    kura_keystore_info info;
    kura_bip32_key *master = NULL;
    kura_error err;
    int rc, src;
    *refusal = KURA_REFUSE_NONE;
    if (env->held_secret != NULL) {
        /* serve: opened once at start; its owner frees it. */
        secret = (kura_keystore_secret *)(uintptr_t)env->held_secret;
        info = *env->held_info;
    } else {
        rc = cold_open_keystore(env, &secret, &info);
        if (rc != COLD_EXIT_OK) return rc;
    }
    if (info.network != st->network) {
        if (env->held_secret == NULL) kura_keystore_secret_free(secret);
        return cold_fail(COLD_EXIT_CANNOT, "the keystore is for %s, the wallet for %s",
                         kura_network_name(info.network), kura_intent_chain_name(st->chain));
    }
    rc = cold_master_from_secret(env, &master, secret, &info);
    if (rc != COLD_EXIT_OK) {
        if (env->held_secret == NULL) kura_keystore_secret_free(secret);
        return rc;
    }
    /* KURA_PSBT_SIGN_VERIFY: every new signature is verified against the key
     * the check proved is the wallet's before it is added. It costs one
     * verification per input and catches a fault (a glitched signature can
     * leak the key) and any derivation that does not give the recorded key. */
    src = kura_psbt_sign_bip32(env->ctx, psbt, count, master, KURA_PSBT_SIGN_VERIFY, &err);
    /* The memory test's control point: every secret is still here. */
    cold_hook("signed");
    cold_master_free(master);
    if (env->held_secret == NULL) kura_keystore_secret_free(secret);
    if (src == KURA_ENOTFOUND) {
        *refusal = KURA_REFUSE_NOTHING_TO_SIGN;
        snprintf(why, why_len, "no input names this signer's key");
        return COLD_EXIT_REFUSED;
    }
    if (src == KURA_EDATA) {
        /* The PSBT signer's own checks (BIP174 "Signer") refused an input
         * the check accepted: treat the package as malformed. */
        *refusal = KURA_REFUSE_PACKAGE_MALFORMED;
        snprintf(why, why_len, "%s", err.message);
        return COLD_EXIT_REFUSED;
    }
    if (src != KURA_OK)
        return cold_fail(COLD_EXIT_CANNOT, "signing failed: %s (%s)", err.message,
                         kura_status_name(src));
    return COLD_EXIT_OK;
}

int cold_cmd_sign(const cold_env *env)
{
    const char *pkg_path = env->args->pos[0];
    const char *out_path = env->args->value[OPT_OUTPUT];
    int unattended = env->args->value[OPT_UNATTENDED] != NULL;
    int bbqr_in = env->args->value[OPT_BBQR_IN] != NULL;
    int qr_text = env->args->value[OPT_QR_TEXT] != NULL;
    int qr = env->args->value[OPT_QR] != NULL || qr_text;
    sign_ctx s;
    kura_check_result res;
    kura_signer_state ss;
    kura_package_view view;
    kura_psbt *psbt = NULL;
    kura_tx *utx = NULL;
    kura_error err;
    kura_refusal refusal;
    cold_tmpfile tmp;
    uint8_t *pkg = NULL, *out = NULL, *new_policy_text = NULL, new_policy_hash[32], txid[32];
    size_t pkg_len = 0, out_len = 0, new_policy_len = 0, count = 0;
    char *b64 = NULL, why[KURA_ERROR_MESSAGE_MAX];
    int rc, binary, crc;
    kura_journal_entry entry;
    kura_journal_outpoint *inputs = NULL;

    memset(&s, 0, sizeof(s));
    memset(&res, 0, sizeof(res));
    tmp.fd = -1;
    tmp.tmp[0] = '\0';
    s.env = env;
    if ((pkg_path == NULL) == !bbqr_in || out_path == NULL)
        return cold_fail(COLD_EXIT_CANNOT,
                         "usage: kura-cold sign PACKAGE -o OUT, or sign --bbqr-in -o OUT");
    if (access(out_path, F_OK) == 0)
        return cold_fail(COLD_EXIT_CANNOT, "%s exists; the signer never replaces a file",
                         out_path);

    rc = cold_state_load(env, &s.st, 1);
    if (rc != COLD_EXIT_OK) goto done;

    if (bbqr_in) {
        /* Parts typed or scanned, one a line, until the series is complete;
         * the confirmation is the next line after them. */
        rc = cold_read_bbqr(&pkg, &pkg_len, STDIN_FILENO, NULL, 0, "stdin");
        if (rc != COLD_EXIT_OK) goto done;
    } else {
        if (cold_read_file(&pkg, &pkg_len, pkg_path, PACKAGE_FILE_MAX) != 0) {
            rc = cold_fail(COLD_EXIT_CANNOT, "cannot read %s: %s", pkg_path, strerror(errno));
            goto done;
        }
        if (pkg_len >= 2 && memcmp(pkg, "B$", 2) == 0) {
            /* A file of BBQr parts, one a line (as a scanner saved them). */
            uint8_t *joined = NULL;
            size_t joined_len = 0;
            rc = cold_read_bbqr(&joined, &joined_len, -1, pkg, pkg_len, pkg_path);
            free(pkg);
            pkg = joined;
            pkg_len = joined_len;
            if (rc != COLD_EXIT_OK) goto done;
        }
    }
    binary = pkg_len >= 5 && memcmp(pkg, "psbt\xff", 5) == 0;
    if (binary)
        crc = kura_psbt_parse(&psbt, pkg, pkg_len, &err);
    else
        crc = kura_psbt_from_base64(&psbt, (const char *)pkg, trim_right(pkg, pkg_len), &err);
    if (crc != KURA_OK) {
        rc = refuse(&s, KURA_REFUSE_PACKAGE_MALFORMED, "%s", err.message);
        goto done;
    }
    cold_signer_state(&ss, &s.st, env->now);
    crc = kura_check_package(env->ctx, &res, &ss, psbt);
    /* The intent's hash names the request in the journal, refused or not:
     * the check's own (SHA-256 of the intent record) once the intent
     * parsed, which res.intent_id says; else hashed here. */
    if (res.intent_id[0] != '\0') {
        memcpy(s.intent_hash, res.intent_hash, sizeof(s.intent_hash));
        s.has_intent_hash = 1;
    } else if (kura_package_read(&view, psbt, NULL) == KURA_OK && view.intent != NULL) {
        kura_intent_hash(s.intent_hash, view.intent, view.intent_len);
        s.has_intent_hash = 1;
    }
    if (crc != KURA_OK || res.reason != KURA_REFUSE_NONE) {
        if (crc == KURA_EDATA || res.reason != KURA_REFUSE_NONE)
            rc = refuse(&s, res.reason != KURA_REFUSE_NONE ? res.reason
                                                           : KURA_REFUSE_PACKAGE_MALFORMED,
                        "%s", res.message[0] != '\0' ? res.message : "the check refused it");
        else
            rc = cold_fail(COLD_EXIT_CANNOT, "the check could not run: %s (%s)",
                           res.message[0] != '\0' ? res.message : "no message",
                           kura_status_name(crc));
        goto done;
    }
    if (res.new_policy != NULL) {
        /* Kept before signing changes the PSBT (the view points into it). */
        if (kura_package_read(&view, psbt, NULL) != KURA_OK || view.policy == NULL ||
            (new_policy_text = malloc(view.policy_len + 1)) == NULL) {
            rc = cold_fail(COLD_EXIT_CANNOT, "cannot keep the new policy's text");
            goto done;
        }
        memcpy(new_policy_text, view.policy, view.policy_len);
        new_policy_len = view.policy_len;
        kura_sha256(new_policy_hash, new_policy_text, new_policy_len);
    }
    /* The rules in force decide: a change to hot mode widens what can be
     * spent (no person confirms), so it waits like every loosening. */
    if (unattended && (s.st.rules->mode != KURA_POLICY_HOT ||
                       (res.new_policy != NULL && res.new_policy->mode != KURA_POLICY_HOT))) {
        rc = refuse(&s, KURA_REFUSE_HOT_NOT_ALLOWED,
                    "unattended signing needs a hot-wallet policy in force; policy version "
                    "%" PRIu64 " is cold, or its change to hot has not taken effect yet: a "
                    "person confirms every signature",
                    s.st.rules->mode != KURA_POLICY_HOT ? s.st.in_force->version
                                                        : res.new_policy->version);
        goto done;
    }

    show_summary(&s, &res, unattended);
    if (!unattended && !(bbqr_in ? cold_ask_yes_after_bbqr("Type yes to sign; anything else refuses:")
                                 : cold_ask_yes("Type yes to sign; anything else refuses:"))) {
        rc = refuse(&s, KURA_REFUSE_DECLINED, "the operator did not confirm");
        goto done;
    }

    if (cold_tmpfile_open(&tmp, out_path, 0644) != 0) {
        rc = cold_fail(COLD_EXIT_CANNOT, "cannot create a file beside %s: %s", out_path,
                       strerror(errno));
        goto done;
    }
    if (kura_psbt_unsigned_tx(&utx, psbt, &err) != KURA_OK || kura_tx_txid(txid, utx) != KURA_OK) {
        rc = cold_fail(COLD_EXIT_CANNOT, "cannot compute the transaction id: %s", err.message);
        goto done;
    }

    rc = sign_in_memory(env, &s.st, psbt, &count, &refusal, why, sizeof(why));
    if (rc == COLD_EXIT_REFUSED) rc = refuse(&s, refusal, "%s", why);
    if (rc != COLD_EXIT_OK) goto done;

    if (binary)
        crc = kura_psbt_serialize(&out, &out_len, psbt);
    else
        crc = kura_psbt_to_base64(&b64, &out_len, psbt);
    if (crc != KURA_OK) {
        rc = cold_fail(COLD_EXIT_CANNOT, "cannot serialize the signed PSBT: %s",
                       kura_status_name(crc));
        goto done;
    }

    cold_hook("before-journal");
    if (res.new_policy != NULL) {
        char path[4096];
        if (cold_policy_archive_path(path, sizeof(path), env->dir, res.new_policy->version) != 0 ||
            cold_write_atomic(path, new_policy_text, new_policy_len, 0600, 1) != 0) {
            rc = cold_fail(COLD_EXIT_CANNOT, "cannot write %s: %s; nothing was signed out", path,
                           strerror(errno));
            goto done;
        }
        if (kura_journal_append_policy(s.st.journal, NULL, env->now, res.new_policy->version,
                                       new_policy_hash, &err) != KURA_OK) {
            rc = cold_fail(COLD_EXIT_CANNOT, "%s; nothing was signed out", err.message);
            goto done;
        }
        cold_hook("after-policy-journal");
    }
    /* The highest change index moves the change bound of later signatures:
     * recorded before the signature it belongs to. */
    if (res.has_change && (int64_t)res.change_index_max > s.st.snap.change_max &&
        kura_journal_append_change(s.st.journal, NULL, env->now, res.change_index_max, &err) !=
            KURA_OK) {
        rc = cold_fail(COLD_EXIT_CANNOT, "%s; nothing was signed out", err.message);
        goto done;
    }
    /* The coins it spends are journaled with it: a later fee bump of this
     * intent is signed only if it spends every one of them again. */
    if (psbt->input_count == 0 || psbt->input_count > KURA_JOURNAL_INPUTS_MAX ||
        (inputs = calloc(psbt->input_count, sizeof(*inputs))) == NULL) {
        rc = cold_fail(COLD_EXIT_CANNOT, "cannot record %zu inputs; nothing was signed out",
                       psbt->input_count);
        goto done;
    }
    for (size_t i = 0; i < psbt->input_count; i++) {
        memcpy(inputs[i].txid, psbt->inputs[i].prev_txid, 32);
        inputs[i].vout = psbt->inputs[i].prev_vout;
    }
    crc = kura_journal_append_signature(s.st.journal, &entry, env->now, res.intent_hash,
                                        res.intent_id, res.total_out, res.fee, txid, res.bip125,
                                        inputs, psbt->input_count, &err);
    if (crc == KURA_JOURNAL_EREPLAY) {
        rc = refuse(&s, KURA_REFUSE_INTENT_REPLAY, "%s", err.message);
        goto done;
    }
    if (crc != KURA_OK) {
        rc = cold_fail(COLD_EXIT_CANNOT, "%s; nothing was signed out", err.message);
        goto done;
    }
    cold_hook("after-signed-journal");

    if (cold_tmpfile_commit(&tmp, binary ? out : (const uint8_t *)b64, out_len) != 0) {
        rc = cold_fail(COLD_EXIT_CANNOT,
                       "journal entry %" PRIu64 " records the signature, but %s could not be "
                       "written: %s. This intent cannot be signed again (replay protection): "
                       "make a new intent",
                       entry.seq, out_path, strerror(errno));
        goto done;
    }
    cold_hook("after-output");

    if (res.new_policy != NULL) {
        char path[4096];
        if (cold_path(path, sizeof(path), env->dir, COLD_FILE_POLICY) != 0 ||
            cold_write_atomic(path, new_policy_text, new_policy_len, 0600, 1) != 0)
            cold_note("the policy file was not replaced (%s); the next start completes the "
                      "update from the journal",
                      strerror(errno));
        cold_hook("after-policy-file");
    }
    printf("signed: %zu signature(s); journal entry %" PRIu64 "; written to %s\n", count,
           entry.seq, out_path);
    if (res.new_policy != NULL)
        printf("policy version %" PRIu64 " is now in force\n", res.new_policy->version);
    rc = COLD_EXIT_OK;
    if (qr) {
        /* The signed PSBT back across the air gap. It is already written
         * and journaled: a failure here is reported, the signature stands
         * (`qr show OUT` shows it again). */
        uint8_t *bin = NULL;
        size_t bin_len = 0;
        fflush(stdout);
        if (binary) {
            rc = cold_show_qr(out, out_len, qr_text);
        } else if (kura_psbt_serialize(&bin, &bin_len, psbt) == KURA_OK) {
            rc = cold_show_qr(bin, bin_len, qr_text);
            free(bin);
        } else {
            rc = cold_fail(COLD_EXIT_CANNOT, "cannot serialize the signed PSBT for the QR code");
        }
    }
done:
    cold_tmpfile_discard(&tmp);
    kura_check_result_clear(&res);
    kura_tx_free(utx);
    kura_psbt_free(psbt);
    free(pkg);
    free(out);
    free(b64);
    free(new_policy_text);
    free(inputs);
    cold_state_free(&s.st);
    return rc;
}
