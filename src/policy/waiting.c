/* src/policy/waiting.c — loosening waits, tightening does not
 * (docs/policy-format.md, "Changes that widen what can be spent").
 *
 * A policy update that widens what can be spent — a new allowlist entry, a
 * shorter delay, a higher cap, fewer approvals, a new approver or
 * administrator, "initiator-may-approve: yes", "allowlist-required: no", a
 * hot mode — must not take effect in the package that brings it: otherwise
 * one update sets the delay to 0, adds an address and pays it at once, and a
 * stolen administrator quorum empties the wallet before anyone can react.
 * So the rules in force are, field by field, the strictest of the policies
 * whose loosening has not yet matured, and the newest policy (whose
 * tightening counts at once). A policy's loosening matures once the waiting
 * period (allowlist-delay) of the rules in force when the signer accepted
 * it has passed. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kura/policy.h"

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* Members of `newer` that `older` lists with exactly the same key (a key
 * moved from a security key to a plain one lost its touch: that is a new
 * key). Names and order are newer's. */
static int keep_members(kura_policy_member **out, size_t *count, size_t *cap,
                        const kura_policy_member *newer, size_t n_newer,
                        const kura_policy_member *older, size_t n_older)
{
    *out = NULL;
    *count = *cap = 0;
    if (n_newer == 0) return KURA_OK;
    *out = calloc(n_newer, sizeof(**out));
    if (*out == NULL) return KURA_ENOMEM;
    *cap = n_newer;
    for (size_t i = 0; i < n_newer; i++) {
        bool kept = false;
        for (size_t j = 0; j < n_older && !kept; j++)
            kept = kura_sshkey_equal(&newer[i].key, &older[j].key);
        if (kept) (*out)[(*count)++] = newer[i];
    }
    return KURA_OK;
}

/* Approvals `p` needs for a transfer of `total` (0 for an invalid policy,
 * which never loosens anything: callers pass valid ones). */
static unsigned required(const kura_policy *p, uint64_t total)
{
    unsigned a = 0;
    (void)kura_policy_tier_required(&a, p, total);
    return a;
}

int kura_policy_strictest(kura_policy **out, const kura_policy *older, const kura_policy *newer,
                          kura_error *err)
{
    kura_policy *r;
    uint64_t *bounds = NULL;
    size_t nb = 0;
    int rc;

    if (out != NULL) *out = NULL;
    if (out == NULL || older == NULL || newer == NULL)
        return kura_fail(err, KURA_EINVAL, "policy: strictest: NULL argument");
    r = kura_policy_new();
    if (r == NULL) return kura_fail(err, KURA_ENOMEM, "policy: out of memory");
    /* Identity: the newer one's. */
    r->version = newer->version;
    r->chain = newer->chain;
    r->wallet = newer->wallet;
    /* Hot (unattended) only when both are: hot is the looser mode. */
    r->mode = older->mode == KURA_POLICY_HOT && newer->mode == KURA_POLICY_HOT ? KURA_POLICY_HOT
                                                                                : KURA_POLICY_COLD;
    /* People: only those both list count; a removal counts at once. */
    rc = keep_members(&r->admins, &r->admin_count, &r->admin_cap, newer->admins,
                      newer->admin_count, older->admins, older->admin_count);
    if (rc == KURA_OK)
        rc = keep_members(&r->approvers, &r->approver_count, &r->approver_cap, newer->approvers,
                          newer->approver_count, older->approvers, older->approver_count);
    r->admin_quorum = older->admin_quorum > newer->admin_quorum ? older->admin_quorum
                                                                 : newer->admin_quorum;
    /* Tiers: at every amount the larger of the two requirements. The bounds
     * of both, merged; on each interval between them both policies ask a
     * constant number, which the interval's upper bound gives. */
    if (rc == KURA_OK) {
        size_t n = older->tier_count + newer->tier_count;
        bounds = malloc((n > 0 ? n : 1) * sizeof(*bounds));
        if (bounds == NULL) rc = KURA_ENOMEM;
    }
    if (rc == KURA_OK) {
        for (size_t i = 0; i < older->tier_count; i++) bounds[nb++] = older->tiers[i].up_to;
        for (size_t i = 0; i < newer->tier_count; i++) bounds[nb++] = newer->tiers[i].up_to;
        /* insertion sort, dropping repeats: at most 2 x 16 entries */
        for (size_t i = 1; i < nb; i++)
            for (size_t j = i; j > 0 && bounds[j - 1] > bounds[j]; j--) {
                uint64_t t = bounds[j];
                bounds[j] = bounds[j - 1];
                bounds[j - 1] = t;
            }
        r->tiers = calloc(nb > 0 ? nb : 1, sizeof(*r->tiers));
        if (r->tiers == NULL) rc = KURA_ENOMEM;
    }
    if (rc == KURA_OK) {
        r->tier_cap = nb > 0 ? nb : 1;
        for (size_t i = 0; i < nb; i++) {
            unsigned a, b;
            if (i > 0 && bounds[i] == bounds[i - 1]) continue;
            a = required(older, bounds[i]);
            b = required(newer, bounds[i]);
            r->tiers[r->tier_count].up_to = bounds[i];
            r->tiers[r->tier_count].approvals = a > b ? a : b;
            r->tier_count++;
        }
    }
    free(bounds);
    r->initiator_may_approve = older->initiator_may_approve && newer->initiator_may_approve;
    r->allowlist_required = older->allowlist_required || newer->allowlist_required;
    r->allowlist_delay = max_u64(older->allowlist_delay, newer->allowlist_delay);
    /* Destinations: only those both list (by script); labels are newer's. */
    if (rc == KURA_OK && newer->allow_count > 0) {
        r->allow = calloc(newer->allow_count, sizeof(*r->allow));
        if (r->allow == NULL) rc = KURA_ENOMEM;
        r->allow_cap = newer->allow_count;
        for (size_t i = 0; rc == KURA_OK && i < newer->allow_count; i++) {
            const char *label = NULL;
            if (kura_policy_allowlist_lookup((void *)(uintptr_t)older, newer->allow[i].script,
                                             newer->allow[i].script_len, &label) == 1)
                r->allow[r->allow_count++] = newer->allow[i];
        }
    }
    r->max_per_transfer = min_u64(older->max_per_transfer, newer->max_per_transfer);
    r->max_per_24h = min_u64(older->max_per_24h, newer->max_per_24h);
    r->max_fee = min_u64(older->max_fee, newer->max_fee);
    r->max_fee_rate = min_u64(older->max_fee_rate, newer->max_fee_rate);
    r->max_lifetime = min_u64(older->max_lifetime, newer->max_lifetime);
    if (rc != KURA_OK) {
        kura_policy_free(r);
        return kura_fail(err, rc, "policy: out of memory");
    }
    *out = r;
    return KURA_OK;
}

/* The time, from `history[0..n)` (oldest first), at which the loosening of
 * entry i takes effect; loosen[] holds entries 0..i-1's already. The
 * ceremony's policy (entry 0) is in force from its acceptance. */
static int64_t loosen_time(const kura_policy_accepted *h, const int64_t *loosen, size_t i)
{
    size_t base = 0;
    uint64_t delay = 0;
    int64_t t;
    if (i == 0) return h[0].accepted_at;
    /* The rules in force when entry i was accepted: from the latest entry
     * whose loosening had matured by then, to entry i-1. Their waiting
     * period is the largest of their delays. */
    for (size_t j = 0; j < i; j++)
        if (loosen[j] <= h[i].accepted_at) base = j;
    for (size_t j = base; j < i; j++) delay = max_u64(delay, h[j].policy->allowlist_delay);
    if (delay > (uint64_t)(INT64_MAX - h[i].accepted_at))
        t = INT64_MAX;
    else
        t = h[i].accepted_at + (int64_t)delay;
    /* Never before the entry before it: changes take effect in order. */
    return t < loosen[i - 1] ? loosen[i - 1] : t;
}

int kura_policy_in_force(kura_policy **out, int64_t *loosen_at,
                         const kura_policy_accepted *history, size_t n, int64_t now,
                         kura_error *err)
{
    int64_t *loosen = NULL;
    size_t base = 0;
    kura_policy *r = NULL;
    int rc = KURA_OK;

    if (out != NULL) *out = NULL;
    if (loosen_at != NULL) *loosen_at = 0;
    if (out == NULL || history == NULL || n == 0)
        return kura_fail(err, KURA_EINVAL, "policy: in force: no history");
    for (size_t i = 0; i < n; i++)
        if (history[i].policy == NULL ||
            (i > 0 && (history[i].accepted_at < history[i - 1].accepted_at ||
                       history[i].policy->version <= history[i - 1].policy->version)))
            return kura_fail(err, KURA_EINVAL,
                             "policy: in force: the history must be in acceptance order");
    loosen = malloc(n * sizeof(*loosen));
    if (loosen == NULL) return kura_fail(err, KURA_ENOMEM, "policy: out of memory");
    for (size_t i = 0; i < n; i++) loosen[i] = loosen_time(history, loosen, i);
    for (size_t i = 0; i < n; i++)
        if (loosen[i] <= now) base = i;
    if (loosen_at != NULL) *loosen_at = loosen[n - 1];
    free(loosen);
    /* The latest matured policy, made stricter by each one after it. */
    for (size_t i = base + 1; i < n && rc == KURA_OK; i++) {
        kura_policy *next = NULL;
        rc = kura_policy_strictest(&next, r != NULL ? r : history[base].policy,
                                   history[i].policy, err);
        kura_policy_free(r);
        r = next;
    }
    if (rc != KURA_OK) return rc;
    if (r == NULL) {
        /* Nothing pending: a copy of the latest policy. */
        rc = kura_policy_strictest(&r, history[base].policy, history[base].policy, err);
        if (rc != KURA_OK) return rc;
    }
    *out = r;
    return KURA_OK;
}

/* Appends ", what" to buf. */
static void note(char *buf, size_t len, size_t *used, unsigned *count, const char *fmt, ...)
    KURA_PRINTF(5, 6);
static void note(char *buf, size_t len, size_t *used, unsigned *count, const char *fmt, ...)
{
    va_list ap;
    int w;
    (*count)++;
    if (buf == NULL || len == 0 || *used + 1 >= len) return;
    if (*used > 0) {
        w = snprintf(buf + *used, len - *used, ", ");
        if (w > 0) *used += (size_t)w;
        if (*used >= len) *used = len - 1;
    }
    va_start(ap, fmt);
    w = vsnprintf(buf + *used, len - *used, fmt, ap);
    va_end(ap);
    if (w > 0) *used += (size_t)w;
    if (*used >= len) *used = len - 1;
}

unsigned kura_policy_loosenings(char *why, size_t why_len, const kura_policy *current,
                                const kura_policy *next)
{
    unsigned count = 0;
    size_t used = 0;
    kura_policy *s = NULL;
    if (why != NULL && why_len > 0) why[0] = '\0';
    if (current == NULL || next == NULL) return 0;
    if (kura_policy_strictest(&s, current, next, NULL) != KURA_OK) return 0;
    if (s->mode != next->mode) note(why, why_len, &used, &count, "mode hot");
    if (s->admin_count != next->admin_count) note(why, why_len, &used, &count, "new administrators");
    if (s->admin_quorum != next->admin_quorum)
        note(why, why_len, &used, &count, "admin-quorum %u", next->admin_quorum);
    if (s->approver_count != next->approver_count) note(why, why_len, &used, &count, "new approvers");
    for (size_t i = 0; i < s->tier_count; i++) {
        if (required(next, s->tiers[i].up_to) < s->tiers[i].approvals) {
            note(why, why_len, &used, &count, "fewer approvals in a tier");
            break;
        }
    }
    if (s->initiator_may_approve != next->initiator_may_approve)
        note(why, why_len, &used, &count, "initiator-may-approve yes");
    if (s->allowlist_required != next->allowlist_required)
        note(why, why_len, &used, &count, "allowlist-required no");
    if (s->allowlist_delay != next->allowlist_delay)
        note(why, why_len, &used, &count, "allowlist-delay %" PRIu64, next->allowlist_delay);
    if (s->allow_count != next->allow_count)
        note(why, why_len, &used, &count, "%zu new allowlist entries",
             next->allow_count - s->allow_count);
    if (s->max_per_transfer != next->max_per_transfer)
        note(why, why_len, &used, &count, "max-per-transfer %" PRIu64, next->max_per_transfer);
    if (s->max_per_24h != next->max_per_24h)
        note(why, why_len, &used, &count, "max-per-24h %" PRIu64, next->max_per_24h);
    if (s->max_fee != next->max_fee)
        note(why, why_len, &used, &count, "max-fee %" PRIu64, next->max_fee);
    if (s->max_fee_rate != next->max_fee_rate)
        note(why, why_len, &used, &count, "max-fee-rate %" PRIu64, next->max_fee_rate);
    if (s->max_lifetime != next->max_lifetime)
        note(why, why_len, &used, &count, "max-lifetime %" PRIu64, next->max_lifetime);
    kura_policy_free(s);
    return count;
}
