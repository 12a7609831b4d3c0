/* src/policy/policy.c — the wallet policy: strict parser, canonical writer,
 * builders and the questions the signer asks of a policy (tiers, allowlist,
 * succession). Grammar in docs/policy-format.md; the line rules are shared
 * with the intent (src/intent/text.c). Signatures are in signatures.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intent/text.h"
#include "kura/policy.h"

#define POLICY_HEADER "kura-policy 1"

/* The fields, in the one order they may appear. */
static const kura_text_field POLICY_FIELDS[] = {
    {"version", false},
    {"network", false},
    {"wallet", false},
    {"mode", false},
    {"admin", true},
    {"admin-quorum", false},
    {"approver", true},
    {"tier", true},
    {"initiator-may-approve", false},
    {"allowlist-required", false},
    {"allowlist-delay", false},
    {"allow", true},
    {"max-per-transfer", false},
    {"max-per-24h", false},
    {"max-fee", false},
    {"max-fee-rate", false},
    {"max-lifetime", false},
};
#define POLICY_FIELD_COUNT (sizeof(POLICY_FIELDS) / sizeof(POLICY_FIELDS[0]))

kura_policy *kura_policy_new(void)
{
    return calloc(1, sizeof(kura_policy));
}

void kura_policy_free(kura_policy *policy)
{
    if (policy == NULL) return;
    free(policy->admins);
    free(policy->approvers);
    free(policy->tiers);
    free(policy->allow);
    free(policy);
}

/* Makes room for one more element in an array of `size`-byte elements
 * (doubling, overflow-checked). */
static int grow(void **array, size_t *cap, size_t count, size_t size)
{
    size_t n, bytes;
    void *p;
    if (count < *cap) return KURA_OK;
    n = *cap == 0 ? 4 : *cap;
    if (*cap != 0 && !kura_size_mul(n, 2, &n)) return KURA_ENOMEM;
    if (!kura_size_mul(n, size, &bytes)) return KURA_ENOMEM;
    p = realloc(*array, bytes);
    if (p == NULL) return KURA_ENOMEM;
    *array = p;
    *cap = n;
    return KURA_OK;
}

/* Inserts `elem` at index `at` of an array holding `*count` elements. */
static int insert_at(void **array, size_t *cap, size_t *count, size_t size, size_t at,
                     const void *elem)
{
    int rc = grow(array, cap, *count, size);
    uint8_t *base;
    if (rc != KURA_OK) return rc;
    base = *array;
    memmove(base + (at + 1) * size, base + at * size, (*count - at) * size);
    memcpy(base + at * size, elem, size);
    (*count)++;
    return KURA_OK;
}

/* ---- members and their keys ---- */

/* The seam between the policy and the SSH key format: a member's key is
 * exactly "TYPE BASE64", in the one spelling kura_sshkey_format writes. A
 * comment is refused rather than dropped, because the signed text must be
 * the text that is read: "ssh-ed25519 AAAA... alice" and the same key
 * without the comment must not be two policies. */
static int parse_key(kura_sshkey *key, const char *s, size_t n, kura_error *why)
{
    char canonical[KURA_SSHKEY_STRING_MAX];
    size_t written = 0;
    int rc;
    kura_error_clear(why);
    rc = kura_sshkey_parse(key, s, n, why);
    if (rc != KURA_OK) {
        if (why->message[0] == '\0') kura_fail(why, rc, "bad key");
        return rc == KURA_EINVAL ? KURA_EDATA : rc;
    }
    if (kura_sshkey_format(canonical, sizeof(canonical), &written, key) != KURA_OK ||
        written != n || memcmp(canonical, s, n) != 0) {
        memset(key, 0, sizeof(*key));
        return kura_fail(why, KURA_EDATA, "key must be written 'TYPE BASE64' with no comment");
    }
    return KURA_OK;
}

static const kura_policy_member *find_name(const kura_policy *p, const char *name,
                                           const char **role)
{
    for (size_t i = 0; i < p->admin_count; i++) {
        if (strncmp(p->admins[i].name, name, sizeof(p->admins[i].name)) == 0) {
            *role = "admin";
            return &p->admins[i];
        }
    }
    for (size_t i = 0; i < p->approver_count; i++) {
        if (strncmp(p->approvers[i].name, name, sizeof(p->approvers[i].name)) == 0) {
            *role = "approver";
            return &p->approvers[i];
        }
    }
    *role = NULL;
    return NULL;
}

static const kura_policy_member *find_key(const kura_policy *p, const kura_sshkey *key,
                                          const char **role)
{
    /* By the point, not the key's spelling: "ssh-ed25519 K" and
     * "sk-ssh-ed25519@openssh.com K <any application>" are one private key,
     * so one holder (kura_sshkey_same_point). */
    for (size_t i = 0; i < p->admin_count; i++) {
        if (kura_sshkey_same_point(&p->admins[i].key, key)) {
            *role = "admin";
            return &p->admins[i];
        }
    }
    for (size_t i = 0; i < p->approver_count; i++) {
        if (kura_sshkey_same_point(&p->approvers[i].key, key)) {
            *role = "approver";
            return &p->approvers[i];
        }
    }
    *role = NULL;
    return NULL;
}

/* Checks and adds a member. `in_order` (the parser) requires the name to sort
 * after every member of the role already read; otherwise (the builders) the
 * member is inserted in its place. `where` prefixes messages. */
static int add_member(kura_policy *p, bool admin, const char *value, size_t value_len,
                      bool in_order, const char *where, kura_error *err)
{
    const char *role_name = admin ? "admin" : "approver";
    kura_policy_member **list = admin ? &p->admins : &p->approvers;
    size_t *count = admin ? &p->admin_count : &p->approver_count;
    size_t *cap = admin ? &p->admin_cap : &p->approver_cap;
    size_t max = admin ? KURA_POLICY_ADMINS_MAX : KURA_POLICY_APPROVERS_MAX;
    const char *name, *other_role;
    size_t name_len, at;
    const kura_policy_member *other;
    kura_policy_member m;
    char why[KURA_TEXT_WHY_MAX];
    kura_error sub;
    int rc;

    memset(&m, 0, sizeof(m));
    if (*count >= max)
        return kura_fail(err, KURA_ERANGE, "%s: more than %zu %ss", where, max, role_name);
    if (!kura_intent_text_word(&value, &value_len, &name, &name_len) || value_len == 0)
        return kura_fail(err, KURA_EDATA, "%s: expected '<name> <key type> <base64 key>'", where);
    if (!kura_intent_text_name(name, name_len, KURA_INTENT_NAME_MAX, "._-", why, sizeof(why)))
        return kura_fail(err, KURA_EDATA, "%s: %s", where, why);
    kura_intent_text_copy(m.name, sizeof(m.name), name, name_len);
    rc = parse_key(&m.key, value, value_len, &sub);
    if (rc != KURA_OK) return kura_fail(err, rc, "%s '%s': %s", where, m.name, sub.message);

    /* A name stands for one key in one role: signature reports, the audit log
     * and the rule that the initiator does not approve all identify people
     * by name, so a name with two keys would make them ambiguous. */
    other = find_name(p, m.name, &other_role);
    if (other != NULL)
        return kura_fail(err, KURA_EDATA, "%s '%s': name already used by %s '%s'", where, m.name,
                         other_role, other->name);
    /* One key, one vote: a key listed twice (two names, or admin and
     * approver) would let one stolen device count as two people. Keeping
     * administrators' keys out of the approver set also keeps the two duties
     * apart: whoever can rewrite the policy cannot also approve transfers
     * with the same key, so the DMM-style single point that both defines and
     * approves does not exist. A person holding both roles uses two keys. */
    other = find_key(p, &m.key, &other_role);
    if (other != NULL)
        return kura_fail(err, KURA_EDATA, "%s '%s': same key as %s '%s'%s", where, m.name,
                         other_role, other->name,
                         kura_sshkey_equal(&other->key, &m.key)
                             ? ""
                             : " (the same public key under another type or application)");

    /* The set has no order, so the text fixes one (by name) to leave a single
     * spelling. */
    at = *count;
    if (in_order) {
        if (*count > 0 && strncmp((*list)[*count - 1].name, m.name, sizeof(m.name)) > 0)
            return kura_fail(err, KURA_EDATA, "%s '%s': %ss must be in name order (after '%s')",
                             where, m.name, role_name, (*list)[*count - 1].name);
    } else {
        while (at > 0 && strncmp((*list)[at - 1].name, m.name, sizeof(m.name)) > 0) at--;
    }
    rc = insert_at((void **)list, cap, count, sizeof(m), at, &m);
    if (rc != KURA_OK) return kura_fail(err, rc, "policy: out of memory");
    return KURA_OK;
}

static int add_member_api(kura_policy *p, bool admin, const char *name, const char *key,
                          kura_error *err)
{
    char value[KURA_INTENT_NAME_MAX + 1 + KURA_SSHKEY_STRING_MAX + 2];
    size_t name_len, key_len;
    if (p == NULL || name == NULL || key == NULL)
        return kura_fail(err, KURA_EINVAL, "policy: add member: NULL argument");
    name_len = strlen(name);
    key_len = strlen(key);
    /* The name must be one word for the join below to split back the same. */
    if (name_len == 0 || name_len > KURA_INTENT_NAME_MAX || memchr(name, ' ', name_len) != NULL ||
        key_len >= KURA_SSHKEY_STRING_MAX)
        return kura_fail(err, KURA_EDATA, "policy: %s: bad name or key length",
                         admin ? "admin" : "approver");
    memcpy(value, name, name_len);
    value[name_len] = ' ';
    memcpy(value + name_len + 1, key, key_len);
    return add_member(p, admin, value, name_len + 1 + key_len, false,
                      admin ? "policy: admin" : "policy: approver", err);
}

int kura_policy_add_admin(kura_policy *policy, const char *name, const char *key,
                          kura_error *err)
{
    return add_member_api(policy, true, name, key, err);
}

int kura_policy_add_approver(kura_policy *policy, const char *name, const char *key,
                             kura_error *err)
{
    return add_member_api(policy, false, name, key, err);
}

/* ---- tiers ---- */

static int add_tier(kura_policy *p, uint64_t up_to, unsigned approvals, const char *where,
                    kura_error *err)
{
    kura_policy_tier t;
    int rc;
    if (p->tier_count >= KURA_POLICY_TIERS_MAX)
        return kura_fail(err, KURA_ERANGE, "%s: more than %d tiers", where, KURA_POLICY_TIERS_MAX);
    if (up_to == 0 || (up_to > KURA_INTENT_MAX_AMOUNT && up_to != KURA_POLICY_TIER_UNBOUNDED))
        return kura_fail(err, KURA_EDATA,
                         "%s: bound must be 1..%" PRIu64 " satoshis or 'max'", where,
                         (uint64_t)KURA_INTENT_MAX_AMOUNT);
    if (approvals == 0)
        return kura_fail(err, KURA_EDATA, "%s: approvals must be at least 1", where);
    if (p->tier_count > 0) {
        const kura_policy_tier *last = &p->tiers[p->tier_count - 1];
        if (last->up_to == KURA_POLICY_TIER_UNBOUNDED)
            return kura_fail(err, KURA_EDATA, "%s: no tier may follow the 'max' tier", where);
        if (up_to <= last->up_to)
            return kura_fail(err, KURA_EDATA,
                             "%s: tier bounds must ascend (%" PRIu64 " is not above %" PRIu64 ")",
                             where, up_to, last->up_to);
        /* A larger transfer needing fewer approvals would let a thief pick
         * the cheaper tier by making the amount bigger; equal approvals
         * would make the tier redundant (two spellings of one rule). */
        if (approvals <= last->approvals)
            return kura_fail(err, KURA_EDATA,
                             "%s: approvals must ascend with the tiers (%u is not above %u)",
                             where, approvals, last->approvals);
    }
    t.up_to = up_to;
    t.approvals = approvals;
    rc = insert_at((void **)&p->tiers, &p->tier_cap, &p->tier_count, sizeof(t), p->tier_count,
                   &t);
    if (rc != KURA_OK) return kura_fail(err, rc, "policy: out of memory");
    return KURA_OK;
}

int kura_policy_add_tier(kura_policy *policy, uint64_t up_to, unsigned approvals,
                         kura_error *err)
{
    if (policy == NULL) return kura_fail(err, KURA_EINVAL, "policy: add tier: NULL argument");
    return add_tier(policy, up_to, approvals, "policy: tier", err);
}

/* ---- allowlist ---- */

static int add_allow(kura_policy *p, const char *address, size_t address_len, const char *label,
                     size_t label_len, bool in_order, const char *where, kura_error *err)
{
    kura_policy_allow a;
    char why[KURA_TEXT_WHY_MAX];
    size_t at, lo, hi;
    int rc;

    memset(&a, 0, sizeof(a));
    if (p->allow_count >= KURA_POLICY_ALLOW_MAX)
        return kura_fail(err, KURA_ERANGE, "%s: more than %d allowlist entries", where,
                         KURA_POLICY_ALLOW_MAX);
    if (!kura_intent_text_address(a.address, a.script, &a.script_len, address, address_len,
                                  p->chain, why, sizeof(why)))
        return kura_fail(err, KURA_EDATA, "%s: %s", where, why);
    /* The label is what kura-approve shows next to a destination ("allowlisted
     * as ..."), so it is required and obeys the intent's label rules. */
    if (label_len == 0)
        return kura_fail(err, KURA_EDATA, "%s: an allowlist entry needs a label", where);
    if (!kura_intent_text_label(label, label_len, why, sizeof(why)))
        return kura_fail(err, KURA_EDATA, "%s: %s", where, why);
    kura_intent_text_copy(a.label, sizeof(a.label), label, label_len);

    /* Binary search for the place in address order. Each address has one
     * canonical spelling, so equal strings are equal scripts. */
    lo = 0;
    hi = p->allow_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strncmp(p->allow[mid].address, a.address, sizeof(a.address)) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    at = lo;
    if (at < p->allow_count && strncmp(p->allow[at].address, a.address, sizeof(a.address)) == 0)
        return kura_fail(err, KURA_EDATA, "%s: %s is already on the allowlist", where, a.address);
    if (in_order && at != p->allow_count)
        return kura_fail(err, KURA_EDATA,
                         "%s: allowlist entries must be in address order (%s comes before %s)",
                         where, a.address, p->allow[p->allow_count - 1].address);
    rc = insert_at((void **)&p->allow, &p->allow_cap, &p->allow_count, sizeof(a), at, &a);
    if (rc != KURA_OK) return kura_fail(err, rc, "policy: out of memory");
    return KURA_OK;
}

int kura_policy_add_allow(kura_policy *policy, const char *address, const char *label,
                          kura_error *err)
{
    if (policy == NULL || address == NULL || label == NULL)
        return kura_fail(err, KURA_EINVAL, "policy: add allow: NULL argument");
    return add_allow(policy, address, strlen(address), label, strlen(label), false,
                     "policy: allow", err);
}

/* ---- parsing ---- */

/* Reads a "yes"/"no" field. */
static bool parse_flag(int *out, const char *v, size_t n)
{
    if (n == 3 && memcmp(v, "yes", 3) == 0) {
        *out = 1;
        return true;
    }
    if (n == 2 && memcmp(v, "no", 2) == 0) {
        *out = 0;
        return true;
    }
    *out = 0;
    return false;
}

/* Reads a field holding one canonical number in [min, max]. */
static int number_field(uint64_t *out, kura_text *t, const char *name, uint64_t min,
                        uint64_t max, kura_error *err)
{
    const char *v;
    size_t n;
    char why[KURA_TEXT_WHY_MAX];
    int rc = kura_intent_text_field(t, &v, &n, name, err);
    if (rc != KURA_OK) return rc;
    if (!kura_intent_text_uint(out, v, n, min, max, why, sizeof(why)))
        return kura_fail(err, KURA_EDATA, "policy: line %zu: %s: %s", t->line, name, why);
    return KURA_OK;
}

static int flag_field(int *out, kura_text *t, const char *name, kura_error *err)
{
    const char *v;
    size_t n;
    int rc = kura_intent_text_field(t, &v, &n, name, err);
    if (rc != KURA_OK) return rc;
    if (!parse_flag(out, v, n))
        return kura_fail(err, KURA_EDATA, "policy: line %zu: %s must be 'yes' or 'no'", t->line,
                         name);
    return KURA_OK;
}

static int parse_members(kura_policy *p, kura_text *t, bool admin, kura_error *err)
{
    const char *field = admin ? "admin" : "approver";
    const char *v;
    size_t n;
    char where[48];
    int rc;
    do {
        if ((rc = kura_intent_text_field(t, &v, &n, field, err)) != KURA_OK) return rc;
        snprintf(where, sizeof(where), "policy: line %zu: %s", t->line, field);
        if ((rc = add_member(p, admin, v, n, true, where, err)) != KURA_OK) return rc;
    } while (kura_intent_text_next_is(t, field));
    return KURA_OK;
}

static int parse_tiers(kura_policy *p, kura_text *t, kura_error *err)
{
    const char *v, *bound, *count;
    size_t n, bound_len, count_len;
    uint64_t up_to, approvals;
    char why[KURA_TEXT_WHY_MAX], where[48];
    int rc;
    do {
        if ((rc = kura_intent_text_field(t, &v, &n, "tier", err)) != KURA_OK) return rc;
        snprintf(where, sizeof(where), "policy: line %zu: tier", t->line);
        if (!kura_intent_text_word(&v, &n, &bound, &bound_len) ||
            !kura_intent_text_word(&v, &n, &count, &count_len) || n != 0)
            return kura_fail(err, KURA_EDATA, "%s: expected '<up-to satoshis or max> <approvals>'",
                             where);
        if (bound_len == 3 && memcmp(bound, "max", 3) == 0) {
            up_to = KURA_POLICY_TIER_UNBOUNDED;
        } else if (!kura_intent_text_uint(&up_to, bound, bound_len, 1, KURA_INTENT_MAX_AMOUNT, why,
                                          sizeof(why))) {
            return kura_fail(err, KURA_EDATA, "%s: bound: %s", where, why);
        }
        if (!kura_intent_text_uint(&approvals, count, count_len, 1, KURA_POLICY_APPROVERS_MAX, why,
                                   sizeof(why)))
            return kura_fail(err, KURA_EDATA, "%s: approvals: %s", where, why);
        /* A tier nobody can satisfy would freeze those amounts silently. */
        if (approvals > p->approver_count)
            return kura_fail(err, KURA_EDATA, "%s: %" PRIu64 " approvals but only %zu approvers",
                             where, approvals, p->approver_count);
        if ((rc = add_tier(p, up_to, (unsigned)approvals, where, err)) != KURA_OK) return rc;
    } while (kura_intent_text_next_is(t, "tier"));
    if (p->tiers[p->tier_count - 1].up_to != KURA_POLICY_TIER_UNBOUNDED)
        return kura_fail(err, KURA_EDATA,
                         "policy: line %zu: the last tier must be 'max' (every amount needs a "
                         "tier)",
                         t->line);
    return KURA_OK;
}

static int parse_into(kura_policy *p, const uint8_t *text, size_t len, kura_error *err)
{
    kura_text t;
    const char *v;
    size_t n;
    char why[KURA_TEXT_WHY_MAX], where[48];
    uint64_t quorum;
    int rc;

    rc = kura_intent_text_open(&t, "policy", POLICY_FIELDS, POLICY_FIELD_COUNT, text, len,
                               KURA_POLICY_TEXT_MAX, POLICY_HEADER, err);
    if (rc != KURA_OK) return rc;

    if ((rc = number_field(&p->version, &t, "version", 1, KURA_POLICY_VERSION_MAX, err)) != 0)
        return rc;

    if ((rc = kura_intent_text_field(&t, &v, &n, "network", err)) != KURA_OK) return rc;
    if (!kura_intent_text_chain(&p->chain, v, n, why, sizeof(why)))
        return kura_fail(err, KURA_EDATA, "policy: line %zu: %s", t.line, why);

    if ((rc = kura_intent_text_field(&t, &v, &n, "wallet", err)) != KURA_OK) return rc;
    if (!kura_intent_text_wallet(&p->wallet, v, n, why, sizeof(why)))
        return kura_fail(err, KURA_EDATA, "policy: line %zu: wallet: %s", t.line, why);

    if ((rc = kura_intent_text_field(&t, &v, &n, "mode", err)) != KURA_OK) return rc;
    if (n == 4 && memcmp(v, "cold", 4) == 0)
        p->mode = KURA_POLICY_COLD;
    else if (n == 3 && memcmp(v, "hot", 3) == 0)
        p->mode = KURA_POLICY_HOT;
    else
        return kura_fail(err, KURA_EDATA, "policy: line %zu: mode must be 'cold' or 'hot'",
                         t.line);

    if ((rc = parse_members(p, &t, true, err)) != KURA_OK) return rc;
    if ((rc = number_field(&quorum, &t, "admin-quorum", 1, KURA_POLICY_ADMINS_MAX, err)) != 0)
        return rc;
    /* A quorum larger than the set could never sign the next policy: the
     * wallet's rules would be frozen for good. */
    if (quorum > p->admin_count)
        return kura_fail(err, KURA_EDATA,
                         "policy: line %zu: admin-quorum %" PRIu64 " is more than the %zu "
                         "administrators",
                         t.line, quorum, p->admin_count);
    p->admin_quorum = (unsigned)quorum;

    if ((rc = parse_members(p, &t, false, err)) != KURA_OK) return rc;
    if ((rc = parse_tiers(p, &t, err)) != KURA_OK) return rc;
    if ((rc = flag_field(&p->initiator_may_approve, &t, "initiator-may-approve", err)) != 0)
        return rc;
    if ((rc = flag_field(&p->allowlist_required, &t, "allowlist-required", err)) != 0) return rc;
    if ((rc = number_field(&p->allowlist_delay, &t, "allowlist-delay", 0,
                           KURA_POLICY_DURATION_MAX, err)) != 0)
        return rc;

    while (kura_intent_text_next_is(&t, "allow")) {
        const char *address;
        size_t address_len;
        if ((rc = kura_intent_text_field(&t, &v, &n, "allow", err)) != KURA_OK) return rc;
        snprintf(where, sizeof(where), "policy: line %zu: allow", t.line);
        if (!kura_intent_text_word(&v, &n, &address, &address_len))
            return kura_fail(err, KURA_EDATA, "%s: expected '<address> <label>'", where);
        if ((rc = add_allow(p, address, address_len, v, n, true, where, err)) != KURA_OK)
            return rc;
    }

    if ((rc = number_field(&p->max_per_transfer, &t, "max-per-transfer", 1,
                           KURA_INTENT_MAX_AMOUNT, err)) != 0)
        return rc;
    if ((rc = number_field(&p->max_per_24h, &t, "max-per-24h", 1, KURA_INTENT_MAX_AMOUNT, err)) !=
        0)
        return rc;
    /* A per-transfer cap above the daily cap could never be reached: the
     * text would say more than it means. */
    if (p->max_per_transfer > p->max_per_24h)
        return kura_fail(err, KURA_EDATA,
                         "policy: line %zu: max-per-24h is below max-per-transfer", t.line);
    if ((rc = number_field(&p->max_fee, &t, "max-fee", 1, KURA_INTENT_MAX_AMOUNT, err)) != 0)
        return rc;
    if ((rc = number_field(&p->max_fee_rate, &t, "max-fee-rate", 1, KURA_POLICY_FEE_RATE_MAX,
                           err)) != 0)
        return rc;
    if ((rc = number_field(&p->max_lifetime, &t, "max-lifetime", 1, KURA_POLICY_DURATION_MAX,
                           err)) != 0)
        return rc;
    return kura_intent_text_end(&t, err);
}

int kura_policy_parse(kura_policy **out, const uint8_t *text, size_t len, kura_error *err)
{
    kura_policy *p;
    int rc;
    if (out == NULL || (text == NULL && len > 0))
        return kura_fail(err, KURA_EINVAL, "policy: parse: NULL argument");
    *out = NULL;
    p = kura_policy_new();
    if (p == NULL) return kura_fail(err, KURA_ENOMEM, "policy: out of memory");
    rc = parse_into(p, text, len, err);
    if (rc != KURA_OK) {
        kura_policy_free(p);
        return rc;
    }
    *out = p;
    return KURA_OK;
}

/* ---- writing ---- */

static void put_str(kura_buf *b, const char *s)
{
    kura_buf_put(b, s, strlen(s));
}

static void put_field_u64(kura_buf *b, const char *name, uint64_t v)
{
    char line[96];
    snprintf(line, sizeof(line), "%s: %" PRIu64 "\n", name, v);
    put_str(b, line);
}

static int check_strings(const kura_policy *p, kura_error *err)
{
    /* Only termination is checked here, so the text can be built at all;
     * every rule is then applied by parsing the text back. */
    const kura_policy_member *lists[2] = {p->admins, p->approvers};
    size_t counts[2] = {p->admin_count, p->approver_count};
    if (!kura_intent_text_terminated(p->wallet.name, sizeof(p->wallet.name)) ||
        !kura_intent_text_terminated(p->wallet.checksum, sizeof(p->wallet.checksum)))
        return kura_fail(err, KURA_EDATA, "policy: wallet: name or checksum not terminated");
    if (kura_intent_chain_name(p->chain) == NULL)
        return kura_fail(err, KURA_EDATA, "policy: unknown network");
    for (size_t r = 0; r < 2; r++) {
        if (counts[r] > 0 && lists[r] == NULL) return kura_fail(err, KURA_EINVAL, "policy: NULL list");
        for (size_t i = 0; i < counts[r]; i++) {
            if (!kura_intent_text_terminated(lists[r][i].name, sizeof(lists[r][i].name)))
                return kura_fail(err, KURA_EDATA, "policy: member %zu: name not terminated", i + 1);
        }
    }
    if ((p->tier_count > 0 && p->tiers == NULL) || (p->allow_count > 0 && p->allow == NULL))
        return kura_fail(err, KURA_EINVAL, "policy: NULL list");
    for (size_t i = 0; i < p->allow_count; i++) {
        if (!kura_intent_text_terminated(p->allow[i].address, sizeof(p->allow[i].address)) ||
            !kura_intent_text_terminated(p->allow[i].label, sizeof(p->allow[i].label)))
            return kura_fail(err, KURA_EDATA, "policy: allow %zu: address or label not terminated",
                             i + 1);
    }
    return KURA_OK;
}

static int emit_member(kura_buf *b, const char *field, const kura_policy_member *m,
                       kura_error *err)
{
    char key[KURA_SSHKEY_STRING_MAX];
    if (kura_sshkey_format(key, sizeof(key), NULL, &m->key) != KURA_OK)
        return kura_fail(err, KURA_EDATA, "policy: %s '%s': not a valid key", field, m->name);
    put_str(b, field);
    put_str(b, ": ");
    put_str(b, m->name);
    put_str(b, " ");
    put_str(b, key);
    put_str(b, "\n");
    return KURA_OK;
}

static int emit(kura_buf *b, const kura_policy *p, kura_error *err)
{
    int rc;
    put_str(b, POLICY_HEADER "\n");
    put_field_u64(b, "version", p->version);
    put_str(b, "network: ");
    put_str(b, kura_intent_chain_name(p->chain));
    put_str(b, "\nwallet: ");
    put_str(b, p->wallet.name);
    put_str(b, " #");
    put_str(b, p->wallet.checksum);
    put_str(b, p->mode == KURA_POLICY_HOT ? "\nmode: hot\n" : "\nmode: cold\n");
    if (p->mode != KURA_POLICY_HOT && p->mode != KURA_POLICY_COLD)
        return kura_fail(err, KURA_EDATA, "policy: unknown mode");
    for (size_t i = 0; i < p->admin_count; i++)
        if ((rc = emit_member(b, "admin", &p->admins[i], err)) != KURA_OK) return rc;
    put_field_u64(b, "admin-quorum", p->admin_quorum);
    for (size_t i = 0; i < p->approver_count; i++)
        if ((rc = emit_member(b, "approver", &p->approvers[i], err)) != KURA_OK) return rc;
    for (size_t i = 0; i < p->tier_count; i++) {
        char line[96];
        if (p->tiers[i].up_to == KURA_POLICY_TIER_UNBOUNDED)
            snprintf(line, sizeof(line), "tier: max %u\n", p->tiers[i].approvals);
        else
            snprintf(line, sizeof(line), "tier: %" PRIu64 " %u\n", p->tiers[i].up_to,
                     p->tiers[i].approvals);
        put_str(b, line);
    }
    if ((p->initiator_may_approve != 0 && p->initiator_may_approve != 1) ||
        (p->allowlist_required != 0 && p->allowlist_required != 1))
        return kura_fail(err, KURA_EDATA, "policy: flags must be 0 or 1");
    put_str(b, p->initiator_may_approve ? "initiator-may-approve: yes\n"
                                        : "initiator-may-approve: no\n");
    put_str(b, p->allowlist_required ? "allowlist-required: yes\n" : "allowlist-required: no\n");
    put_field_u64(b, "allowlist-delay", p->allowlist_delay);
    for (size_t i = 0; i < p->allow_count; i++) {
        put_str(b, "allow: ");
        put_str(b, p->allow[i].address);
        put_str(b, " ");
        put_str(b, p->allow[i].label);
        put_str(b, "\n");
    }
    put_field_u64(b, "max-per-transfer", p->max_per_transfer);
    put_field_u64(b, "max-per-24h", p->max_per_24h);
    put_field_u64(b, "max-fee", p->max_fee);
    put_field_u64(b, "max-fee-rate", p->max_fee_rate);
    put_field_u64(b, "max-lifetime", p->max_lifetime);
    return KURA_OK;
}

int kura_policy_write(char **out, size_t *out_len, const kura_policy *policy, kura_error *err)
{
    kura_buf b;
    kura_policy *back = NULL;
    size_t len;
    int rc;
    if (out != NULL) *out = NULL;
    if (out_len != NULL) *out_len = 0;
    if (out == NULL || out_len == NULL || policy == NULL)
        return kura_fail(err, KURA_EINVAL, "policy: write: NULL argument");
    rc = check_strings(policy, err);
    if (rc != KURA_OK) return rc;
    kura_buf_init(&b);
    rc = emit(&b, policy, err);
    if (rc != KURA_OK) {
        kura_buf_free(&b);
        return rc;
    }
    if (b.failed) {
        kura_buf_free(&b);
        return kura_fail(err, KURA_ENOMEM, "policy: out of memory");
    }
    /* Every rule lives in the parser once; reading the text back applies
     * them all (with the parser's line-numbered reason) and proves the
     * writer's promise, parse(write(s)) == s, on every call. */
    rc = kura_policy_parse(&back, b.data, b.len, err);
    if (rc == KURA_OK && !kura_policy_equal(back, policy))
        rc = kura_fail(err, KURA_EINVAL,
                       "policy: write: the text does not read back as the same policy (a "
                       "script disagrees with its address?)");
    kura_policy_free(back);
    if (rc != KURA_OK || !kura_buf_put_u8(&b, 0)) {
        kura_buf_free(&b);
        return rc != KURA_OK ? rc : kura_fail(err, KURA_ENOMEM, "policy: out of memory");
    }
    *out = (char *)kura_buf_take(&b, &len);
    if (*out == NULL) return kura_fail(err, KURA_ENOMEM, "policy: out of memory");
    *out_len = len - 1;
    return KURA_OK;
}

/* Bounded compare: the structs may come from a caller who did not terminate
 * every array. */
#define SAME(x, y) (strncmp((x), (y), sizeof(x)) == 0)

static bool members_equal(const kura_policy_member *a, const kura_policy_member *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!SAME(a[i].name, b[i].name) || !kura_sshkey_equal(&a[i].key, &b[i].key))
            return false;
    }
    return true;
}

int kura_policy_equal(const kura_policy *a, const kura_policy *b)
{
    if (a == NULL || b == NULL) return 0;
    if (a->version != b->version || a->chain != b->chain ||
        !SAME(a->wallet.name, b->wallet.name) || !SAME(a->wallet.checksum, b->wallet.checksum) ||
        a->mode != b->mode ||
        a->admin_count != b->admin_count || a->admin_quorum != b->admin_quorum ||
        a->approver_count != b->approver_count || a->tier_count != b->tier_count ||
        a->initiator_may_approve != b->initiator_may_approve ||
        a->allowlist_required != b->allowlist_required ||
        a->allowlist_delay != b->allowlist_delay || a->allow_count != b->allow_count ||
        a->max_per_transfer != b->max_per_transfer || a->max_per_24h != b->max_per_24h ||
        a->max_fee != b->max_fee || a->max_fee_rate != b->max_fee_rate ||
        a->max_lifetime != b->max_lifetime)
        return 0;
    if (!members_equal(a->admins, b->admins, a->admin_count) ||
        !members_equal(a->approvers, b->approvers, a->approver_count))
        return 0;
    for (size_t i = 0; i < a->tier_count; i++) {
        if (a->tiers[i].up_to != b->tiers[i].up_to ||
            a->tiers[i].approvals != b->tiers[i].approvals)
            return 0;
    }
    for (size_t i = 0; i < a->allow_count; i++) {
        const kura_policy_allow *x = &a->allow[i], *y = &b->allow[i];
        if (!SAME(x->address, y->address) || !SAME(x->label, y->label) ||
            x->script_len != y->script_len || x->script_len > sizeof(x->script) ||
            memcmp(x->script, y->script, x->script_len) != 0)
            return 0;
    }
    return 1;
}

/* ---- questions the signer asks ---- */

int kura_policy_tier_required(unsigned *approvals, const kura_policy *policy, uint64_t total)
{
    if (approvals == NULL) return KURA_EINVAL;
    *approvals = 0;
    if (policy == NULL || policy->tier_count == 0 || policy->tiers == NULL ||
        policy->tiers[policy->tier_count - 1].up_to != KURA_POLICY_TIER_UNBOUNDED)
        return KURA_EINVAL;
    for (size_t i = 0; i < policy->tier_count; i++) {
        if (total <= policy->tiers[i].up_to) {
            *approvals = policy->tiers[i].approvals;
            return KURA_OK;
        }
    }
    return KURA_EINVAL; /* unreachable: the last tier is unbounded */
}

int kura_policy_allowlist_lookup(void *policy, const uint8_t *script, size_t script_len,
                                 const char **label)
{
    const kura_policy *p = policy;
    if (label == NULL) return 0;
    *label = NULL;
    if (p == NULL || script == NULL) return 0;
    /* By script, not by address text: the script is what the transaction
     * pays, and it is what the signer compares. */
    for (size_t i = 0; i < p->allow_count; i++) {
        const kura_policy_allow *a = &p->allow[i];
        if (a->script_len == script_len && memcmp(a->script, script, script_len) == 0) {
            *label = a->label;
            return 1;
        }
    }
    return 0;
}

int kura_policy_check_successor(const kura_policy *current, const kura_policy *next,
                                kura_error *err)
{
    if (current == NULL || next == NULL)
        return kura_fail(err, KURA_EINVAL, "policy: check successor: NULL argument");
    /* Replaying an older (or the same) signed policy would undo a later
     * change — a removed approver or a lowered cap — with signatures the
     * administrators once gave. */
    if (next->version <= current->version)
        return kura_fail(err, KURA_POLICY_ESTALE,
                         "policy: version %" PRIu64 " is not newer than the policy in force "
                         "(version %" PRIu64 ")",
                         next->version, current->version);
    /* A policy signed for another wallet or chain is not about this one. */
    if (!SAME(next->wallet.name, current->wallet.name) ||
        !SAME(next->wallet.checksum, current->wallet.checksum))
        return kura_fail(err, KURA_POLICY_ESTALE,
                         "policy: the new policy is for wallet %.32s #%.8s, not %.32s #%.8s",
                         next->wallet.name, next->wallet.checksum, current->wallet.name,
                         current->wallet.checksum);
    if (next->chain != current->chain)
        return kura_fail(err, KURA_POLICY_ESTALE, "policy: the new policy is for network %s, not %s",
                         kura_intent_chain_name(next->chain) != NULL
                             ? kura_intent_chain_name(next->chain)
                             : "?",
                         kura_intent_chain_name(current->chain) != NULL
                             ? kura_intent_chain_name(current->chain)
                             : "?");
    return KURA_OK;
}
