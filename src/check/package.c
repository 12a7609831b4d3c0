/* src/check/package.c — kura's records inside the signing package (BIP174
 * proprietary global fields, identifier "kura"), the refusal names, and the
 * result's life cycle. Layout: docs/signing-package.md. */
#include <stdlib.h>
#include <string.h>

#include "check_internal.h"
#include "kura/policy.h"

static const uint8_t IDENT[] = {'k', 'u', 'r', 'a'};

/* ---- refusal names ---- */

static const char *const REFUSAL_NAMES[KURA_REFUSAL_COUNT] = {
    "KURA_REFUSE_NONE",
    "KURA_REFUSE_PACKAGE_MALFORMED",
    "KURA_REFUSE_NETWORK_MISMATCH",
    "KURA_REFUSE_POLICY_MALFORMED",
    "KURA_REFUSE_POLICY_STALE",
    "KURA_REFUSE_POLICY_SIGNATURES",
    "KURA_REFUSE_POLICY_WALLET",
    "KURA_REFUSE_INTENT_MALFORMED",
    "KURA_REFUSE_INTENT_WALLET",
    "KURA_REFUSE_INTENT_EXPIRED",
    "KURA_REFUSE_INTENT_NOT_YET",
    "KURA_REFUSE_INTENT_LIFETIME",
    "KURA_REFUSE_INTENT_REPLAY",
    "KURA_REFUSE_APPROVAL_INVALID",
    "KURA_REFUSE_APPROVER_UNKNOWN",
    "KURA_REFUSE_APPROVER_DUPLICATE",
    "KURA_REFUSE_APPROVER_INITIATOR",
    "KURA_REFUSE_APPROVALS_INSUFFICIENT",
    "KURA_REFUSE_OUTPUT_MISSING",
    "KURA_REFUSE_OUTPUT_DUPLICATE",
    "KURA_REFUSE_OUTPUT_UNEXPECTED",
    "KURA_REFUSE_CHANGE_FOREIGN",
    "KURA_REFUSE_INPUT_FOREIGN",
    "KURA_REFUSE_INPUT_UNPROVEN",
    "KURA_REFUSE_FEE_INTENT",
    "KURA_REFUSE_FEE_POLICY",
    "KURA_REFUSE_SIGHASH",
    "KURA_REFUSE_UNKNOWN_FIELD",
    "KURA_REFUSE_DESTINATION_NOT_ALLOWED",
    "KURA_REFUSE_DESTINATION_WAITING",
    "KURA_REFUSE_LIMIT_TRANSFER",
    "KURA_REFUSE_LIMIT_ROLLING",
    "KURA_REFUSE_HOT_NOT_ALLOWED",
    "KURA_REFUSE_DECLINED",
    "KURA_REFUSE_NOTHING_TO_SIGN",
    "KURA_REFUSE_POLICY_BEHIND",
    "KURA_REFUSE_BUMP_FEE_NOT_HIGHER",
    "KURA_REFUSE_BUMP_NOT_REPLACEABLE",
};

const char *kura_refusal_name(kura_refusal reason)
{
    /* Compared as unsigned so a value outside the enum cannot index out of
     * the table, whatever the enum's underlying type. */
    unsigned v = (unsigned)reason;
    if (v >= KURA_REFUSAL_COUNT) return "KURA_REFUSE_?";
    return REFUSAL_NAMES[v];
}

void kura_check_result_clear(kura_check_result *result)
{
    if (result == NULL) return;
    kura_policy_free(result->new_policy);
    free(result->summary);
    memset(result, 0, sizeof(*result));
}

/* ---- writers ---- */

/* The records of one subtype: how many, and whether `seq` is taken. */
static size_t count_subtype(const kura_psbt *psbt, uint64_t subtype, uint32_t seq, int *seq_used)
{
    size_t n = 0;
    *seq_used = 0;
    for (size_t i = 0; i < psbt->unknown_count; i++) {
        const uint8_t *id, *kd;
        size_t idl, kdl;
        uint64_t sub;
        if (kura_psbt_proprietary_key_decode(&id, &idl, &sub, &kd, &kdl, &psbt->unknowns[i]) !=
            KURA_OK)
            continue;
        if (idl != sizeof(IDENT) || memcmp(id, IDENT, sizeof(IDENT)) != 0 || sub != subtype)
            continue;
        n++;
        if (kdl == 4 && kura_load_u32be(kd) == seq) *seq_used = 1;
    }
    return n;
}

/* Adds one record of a sequence-keyed subtype under the lowest unused
 * number. The number means nothing; it only makes each key unique, as
 * BIP174 requires of the keys in one map. */
static int add_numbered(kura_psbt *psbt, uint64_t subtype, size_t max, const uint8_t *value,
                        size_t len)
{
    uint8_t key[4];
    uint32_t seq = 0;
    int used = 0;
    size_t n;
    if (psbt == NULL || value == NULL || len == 0) return KURA_EINVAL;
    if (len > KURA_PSBT_MAX_PROPRIETARY_VALUE) return KURA_ERANGE;
    n = count_subtype(psbt, subtype, 0, &used);
    if (n >= max) return KURA_ERANGE;
    /* At most `max` (<= 256) records exist, so one of 0..max is free. */
    for (seq = 0; seq <= (uint32_t)max; seq++) {
        (void)count_subtype(psbt, subtype, seq, &used);
        if (!used) break;
    }
    kura_store_u32be(key, seq);
    return kura_psbt_proprietary_set(psbt, IDENT, sizeof(IDENT), subtype, key, sizeof(key), value,
                                     len);
}

static int set_single(kura_psbt *psbt, uint64_t subtype, const uint8_t *value, size_t len)
{
    if (psbt == NULL || value == NULL || len == 0) return KURA_EINVAL;
    if (len > KURA_PSBT_MAX_PROPRIETARY_VALUE) return KURA_ERANGE;
    return kura_psbt_proprietary_set(psbt, IDENT, sizeof(IDENT), subtype, NULL, 0, value, len);
}

int kura_package_set_intent(kura_psbt *psbt, const uint8_t *text, size_t len)
{
    return set_single(psbt, KURA_PACKAGE_INTENT, text, len);
}

int kura_package_add_approval(kura_psbt *psbt, const uint8_t *sig, size_t len)
{
    return add_numbered(psbt, KURA_PACKAGE_APPROVAL, KURA_PACKAGE_APPROVALS_MAX, sig, len);
}

int kura_package_set_policy(kura_psbt *psbt, const uint8_t *text, size_t len)
{
    return set_single(psbt, KURA_PACKAGE_POLICY, text, len);
}

int kura_package_add_policy_signature(kura_psbt *psbt, const uint8_t *sig, size_t len)
{
    return add_numbered(psbt, KURA_PACKAGE_POLICY_SIGNATURE, KURA_PACKAGE_POLICY_SIGNATURES_MAX,
                        sig, len);
}

/* ---- reader ---- */

static int read_records(kura_package_view *view, const kura_psbt *psbt, kura_error *err)
{
    for (size_t i = 0; i < psbt->unknown_count; i++) {
        const kura_psbt_kv *rec = &psbt->unknowns[i];
        const uint8_t *id, *kd;
        size_t idl, kdl;
        uint64_t sub;
        /* Other tools' proprietary records and unknown global types ride
         * along untouched: nothing in the global map is signed over. */
        if (kura_psbt_proprietary_key_decode(&id, &idl, &sub, &kd, &kdl, rec) != KURA_OK) continue;
        if (idl != sizeof(IDENT) || memcmp(id, IDENT, sizeof(IDENT)) != 0) continue;
        /* An empty record would read as "absent" (NULL) and let a present
         * but empty intent or policy pass for a missing one. */
        if (rec->value_len == 0 || rec->value == NULL)
            return kura_fail(err, KURA_EDATA, "package: kura record %zu (subtype %llu) is empty", i,
                             (unsigned long long)sub);
        switch (sub) {
        case KURA_PACKAGE_INTENT:
        case KURA_PACKAGE_POLICY: {
            const uint8_t **slot = sub == KURA_PACKAGE_INTENT ? &view->intent : &view->policy;
            size_t *slot_len = sub == KURA_PACKAGE_INTENT ? &view->intent_len : &view->policy_len;
            const char *what = sub == KURA_PACKAGE_INTENT ? "intent" : "policy";
            /* Key data would make a second, differently keyed intent (or
             * policy) possible, and with two the reader would have to pick
             * one: which one the approvers meant is then anyone's guess. */
            if (kdl != 0)
                return kura_fail(err, KURA_EDATA, "package: %s record with %zu bytes of key data",
                                 what, kdl);
            if (*slot != NULL) return kura_fail(err, KURA_EDATA, "package: two %s records", what);
            *slot = rec->value;
            *slot_len = rec->value_len;
            break;
        }
        case KURA_PACKAGE_APPROVAL:
            if (kdl != 4)
                return kura_fail(err, KURA_EDATA,
                                 "package: approval record with %zu bytes of key data, not 4", kdl);
            if (view->approval_count >= KURA_PACKAGE_APPROVALS_MAX)
                return kura_fail(err, KURA_EDATA, "package: more than %d approvals",
                                 KURA_PACKAGE_APPROVALS_MAX);
            view->approvals[view->approval_count] = rec->value;
            view->approval_lens[view->approval_count] = rec->value_len;
            view->approval_count++;
            break;
        case KURA_PACKAGE_POLICY_SIGNATURE:
            if (kdl != 4)
                return kura_fail(err, KURA_EDATA,
                                 "package: policy signature record with %zu bytes of key data, "
                                 "not 4",
                                 kdl);
            if (view->policy_signature_count >= KURA_PACKAGE_POLICY_SIGNATURES_MAX)
                return kura_fail(err, KURA_EDATA, "package: more than %d policy signatures",
                                 KURA_PACKAGE_POLICY_SIGNATURES_MAX);
            view->policy_signatures[view->policy_signature_count] = rec->value;
            view->policy_signature_lens[view->policy_signature_count] = rec->value_len;
            view->policy_signature_count++;
            break;
        default:
            /* A record kura does not know may mean something to a newer
             * kura that this signer would then ignore: refuse rather than
             * sign under half the package's meaning. */
            return kura_fail(err, KURA_EDATA, "package: unknown kura record subtype %llu",
                             (unsigned long long)sub);
        }
    }
    return KURA_OK;
}

int kura_package_read(kura_package_view *view, const kura_psbt *psbt, kura_error *err)
{
    int rc;
    if (view != NULL) memset(view, 0, sizeof(*view));
    if (view == NULL || psbt == NULL || (psbt->unknown_count > 0 && psbt->unknowns == NULL))
        return kura_fail(err, KURA_EINVAL, "package: NULL argument");
    rc = read_records(view, psbt, err);
    /* A refused package leaves no half-read view behind. */
    if (rc != KURA_OK) memset(view, 0, sizeof(*view));
    return rc;
}
