/* src/policy/signatures.c — does an administrator quorum stand behind this
 * policy text? The answer decides whether the signer will take new rules
 * (new approvers, higher caps, new allowlist entries), so it is the door an
 * attacker who owns the coordinator would try first. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "kura/policy.h"

const char *kura_policy_status_name(int code)
{
    switch (code) {
    case KURA_POLICY_EQUORUM: return "KURA_POLICY_EQUORUM";
    case KURA_POLICY_ENOTADMIN: return "KURA_POLICY_ENOTADMIN";
    case KURA_POLICY_EDUPLICATE: return "KURA_POLICY_EDUPLICATE";
    case KURA_POLICY_ESTALE: return "KURA_POLICY_ESTALE";
    default: return kura_sshsig_status_name(code);
    }
}

/* Records the outcome of signature i. */
static void note(kura_policy_signature_result *results, size_t i, int status, size_t admin,
                 const char *message)
{
    if (results == NULL) return;
    results[i].status = status;
    results[i].admin_index = admin;
    snprintf(results[i].message, sizeof(results[i].message), "%s", message);
}

int kura_policy_verify_signatures(kura_policy_signature_result *results, size_t *valid_count,
                                  const kura_policy *authority, const uint8_t *text,
                                  size_t text_len, const char *const *sigs,
                                  const size_t *sig_lens, size_t sig_count, kura_error *err)
{
    bool signed_by[KURA_POLICY_ADMINS_MAX];
    size_t first_by[KURA_POLICY_ADMINS_MAX];
    size_t valid = 0, first_failure = SIZE_MAX;
    char first_reason[KURA_ERROR_MESSAGE_MAX] = "";

    if (valid_count != NULL) *valid_count = 0;
    if (results != NULL) {
        for (size_t i = 0; i < sig_count; i++) {
            memset(&results[i], 0, sizeof(results[i]));
            results[i].admin_index = SIZE_MAX;
        }
    }
    if (authority == NULL || (text == NULL && text_len > 0) ||
        (sig_count > 0 && (sigs == NULL || sig_lens == NULL)))
        return kura_fail(err, KURA_EINVAL, "policy: verify signatures: NULL argument");
    /* A quorum of 0 would accept a policy nobody signed. */
    if (authority->admin_count == 0 || authority->admins == NULL ||
        authority->admin_count > KURA_POLICY_ADMINS_MAX || authority->admin_quorum == 0 ||
        authority->admin_quorum > authority->admin_count)
        return kura_fail(err, KURA_EINVAL,
                         "policy: verify signatures: the authorising policy has no valid "
                         "administrator quorum");
    memset(signed_by, 0, sizeof(signed_by));
    memset(first_by, 0, sizeof(first_by));

    for (size_t i = 0; i < sig_count; i++) {
        kura_sshsig sig;
        kura_sshkey signer;
        kura_error sub;
        size_t admin = SIZE_MAX;
        int rc;

        kura_error_clear(&sub);
        if (sigs[i] == NULL) {
            rc = KURA_EDATA;
            kura_fail(&sub, rc, "sshsig: no signature text");
        } else {
            rc = kura_sshsig_parse(&sig, sigs[i], sig_lens[i], &sub);
        }
        /* Verified over the exact bytes and the policy namespace: an
         * approval of an intent ("kura-intent-v1") or an SSH login
         * signature must never count as consent to new rules. The key is
         * checked against the administrators afterwards, so a stranger's
         * signature is reported as such even when it verifies. Security-key
         * signatures must show a touch (no option bits). */
        if (rc == KURA_OK)
            rc = kura_sshsig_verify(&sig, text, text_len, KURA_POLICY_NAMESPACE, NULL, 0, &signer,
                                    &sub);
        if (rc == KURA_ECRYPTO)
            return kura_fail(err, rc, "policy: signature %zu: %s", i + 1, sub.message);
        if (rc == KURA_OK) {
            /* The administrator listed with exactly this key. The same
             * point in another form (plain or security key, any
             * application) is one holder: it signs for nobody (a key
             * listed as a security key keeps its touch), and an
             * administrator counts once whatever forms the authority
             * lists (an authority written before such aliases were
             * refused could list two). */
            for (size_t j = 0; j < authority->admin_count && admin == SIZE_MAX; j++)
                if (kura_sshkey_equal(&authority->admins[j].key, &signer)) admin = j;
            for (size_t j = 0; j < authority->admin_count && admin == SIZE_MAX; j++) {
                if (kura_sshkey_same_point(&authority->admins[j].key, &signer)) {
                    const char *tn = kura_sshkey_type_name(signer.type);
                    rc = KURA_POLICY_ENOTADMIN;
                    kura_fail(&sub, rc,
                              "signed with the key of administrator '%s' as %s%s%s, not as the "
                              "policy lists it",
                              authority->admins[j].name, tn != NULL ? tn : "?",
                              signer.application_len > 0 ? " application " : "",
                              signer.application);
                    break;
                }
            }
            if (admin != SIZE_MAX && !signed_by[admin]) {
                for (size_t j = 0; j < authority->admin_count; j++) {
                    if (j != admin && signed_by[j] &&
                        kura_sshkey_same_point(&authority->admins[j].key, &signer)) {
                        admin = j; /* reported as that holder's second signature */
                        break;
                    }
                }
            }
            if (rc != KURA_OK) {
                /* reported below */
            } else if (admin == SIZE_MAX) {
                char fp[KURA_SSHKEY_FINGERPRINT_SIZE] = "?";
                (void)kura_sshkey_fingerprint(fp, &signer);
                rc = KURA_POLICY_ENOTADMIN;
                kura_fail(&sub, rc, "signed by %s, which is not an administrator's key", fp);
            } else if (signed_by[admin]) {
                /* Counting the same administrator twice would let one
                 * stolen key make up a quorum on its own. */
                rc = KURA_POLICY_EDUPLICATE;
                kura_fail(&sub, rc, "administrator '%s' already signed (signature %zu)",
                          authority->admins[admin].name, first_by[admin] + 1);
                note(results, i, rc, admin, sub.message);
                if (first_failure == SIZE_MAX) {
                    first_failure = i;
                    snprintf(first_reason, sizeof(first_reason), "%s", sub.message);
                }
                continue;
            }
        }
        if (rc != KURA_OK) {
            note(results, i, rc, SIZE_MAX, sub.message);
            if (first_failure == SIZE_MAX) {
                first_failure = i;
                snprintf(first_reason, sizeof(first_reason), "%s", sub.message);
            }
            continue;
        }
        signed_by[admin] = true;
        first_by[admin] = i;
        valid++;
        note(results, i, KURA_OK, admin, "");
    }

    if (valid_count != NULL) *valid_count = valid;
    if (valid >= authority->admin_quorum) return KURA_OK;
    if (first_failure == SIZE_MAX)
        return kura_fail(err, KURA_POLICY_EQUORUM,
                         "policy: %zu of %u required administrator signatures", valid,
                         authority->admin_quorum);
    return kura_fail(err, KURA_POLICY_EQUORUM,
                     "policy: %zu of %u required administrator signatures (signature %zu: %s)",
                     valid, authority->admin_quorum, first_failure + 1, first_reason);
}
