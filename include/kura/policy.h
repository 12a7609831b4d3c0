/*
 * kura/policy.h — the wallet policy: who administers the wallet and who
 * approves transfers (SSH public keys), how many approvals each amount needs,
 * where money may go, and the limits the signer enforces (DESIGN "Formats" 3;
 * grammar in docs/policy-format.md).
 *
 * Like the transfer intent, a policy is a canonical text: the parser accepts
 * only the one spelling of each policy, the writer produces it, and
 *     kura_policy_write(kura_policy_parse(x)) == x   for every valid text x,
 *     kura_policy_parse(kura_policy_write(s)) == s   for every valid struct s.
 * A policy text is signed with SSHSIG (namespace "kura-policy-v1") by a quorum
 * of the administrators of the policy in force before it; the signer starts
 * with one set up in person and accepts only newer, properly signed ones.
 *
 * Memory: a kura_policy comes from kura_policy_new or kura_policy_parse and is
 * freed with kura_policy_free; its arrays are owned by it and changed through
 * the kura_policy_add_* functions. Text the writer returns is malloc'd and
 * freed by the caller with free().
 */
#ifndef KURA_POLICY_H
#define KURA_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "kura/common.h"
#include "kura/intent.h"
#include "kura/script.h"
#include "kura/sshsig.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes (the policy module owns -300..-399) ---- */

/* Fewer valid signatures from distinct administrators than the quorum. */
#define KURA_POLICY_EQUORUM (-301)
/* A signature by a key that is not one of the authorising administrators. */
#define KURA_POLICY_ENOTADMIN (-302)
/* A second signature by an administrator who already signed (counted once). */
#define KURA_POLICY_EDUPLICATE (-303)
/* A policy that may not replace the one in force (version not newer, other
 * wallet or network). */
#define KURA_POLICY_ESTALE (-304)

/* Returns a constant, stable name for any code this module returns
 * ("KURA_POLICY_EQUORUM", "KURA_SSHSIG_EBADSIG", "KURA_EDATA", ...), or
 * "KURA_E?" for an unknown code. */
const char *kura_policy_status_name(int code);

/* ---- limits ---- */

#define KURA_POLICY_TEXT_MAX (4u * 1024u * 1024u) /* longest policy text, bytes */
#define KURA_POLICY_ADMINS_MAX 32
#define KURA_POLICY_APPROVERS_MAX 256
#define KURA_POLICY_TIERS_MAX 16
#define KURA_POLICY_ALLOW_MAX 20000
/* Largest version number: 2^53 - 1, so that the number survives a trip
 * through JSON (the coordinator's API) without rounding. */
#define KURA_POLICY_VERSION_MAX 9007199254740991ull
/* Longest allowlist delay and intent lifetime: 366 days, in seconds. */
#define KURA_POLICY_DURATION_MAX 31622400u
/* Highest fee-rate cap, sat/vB. */
#define KURA_POLICY_FEE_RATE_MAX 1000000u
/* The tier bound written "max": no upper limit. */
#define KURA_POLICY_TIER_UNBOUNDED UINT64_MAX
/* The SSHSIG namespace of policy signatures. */
#define KURA_POLICY_NAMESPACE "kura-policy-v1"

typedef enum kura_policy_mode {
    KURA_POLICY_COLD = 0, /* "cold": a person confirms every signature at the signer */
    KURA_POLICY_HOT = 1   /* "hot": the signer signs unattended under this policy */
} kura_policy_mode;

/* An administrator or an approver: a name and an SSH public key. */
typedef struct kura_policy_member {
    char name[KURA_INTENT_NAME_MAX + 1]; /* [a-z0-9._-]{1,64}, unique in the policy */
    kura_sshkey key;                     /* unique in the policy */
} kura_policy_member;

/* An approval tier: a transfer whose total is at most up_to satoshis (and
 * above the previous tier's bound) needs `approvals` approvals. */
typedef struct kura_policy_tier {
    uint64_t up_to;     /* 1..KURA_INTENT_MAX_AMOUNT, or KURA_POLICY_TIER_UNBOUNDED */
    unsigned approvals; /* 1..approver_count */
} kura_policy_tier;

/* An allowlisted destination. */
typedef struct kura_policy_allow {
    char address[KURA_ADDRESS_MAX];         /* canonical address for the chain */
    uint8_t script[KURA_SCRIPT_PUBKEY_MAX]; /* its scriptPubKey (derived) */
    size_t script_len;
    char label[KURA_INTENT_LABEL_MAX + 1];  /* required; printable ASCII words */
} kura_policy_allow;

/* A policy. The *_cap fields are internal (allocated slots). */
typedef struct kura_policy {
    uint64_t version;                 /* 1..KURA_POLICY_VERSION_MAX; only grows */
    kura_intent_chain chain;          /* the exact chain */
    kura_intent_wallet wallet;        /* name and descriptor checksum */
    kura_policy_mode mode;
    kura_policy_member *admins;       /* sorted by name; 1..KURA_POLICY_ADMINS_MAX */
    size_t admin_count, admin_cap;
    unsigned admin_quorum;            /* 1..admin_count signatures change the policy */
    kura_policy_member *approvers;    /* sorted by name; 1..KURA_POLICY_APPROVERS_MAX */
    size_t approver_count, approver_cap;
    kura_policy_tier *tiers;          /* bounds and approvals strictly ascending; last unbounded */
    size_t tier_count, tier_cap;
    int initiator_may_approve;        /* 0 (the default, "no") or 1 */
    int allowlist_required;           /* 1: every destination must be allowlisted */
    uint64_t allowlist_delay;         /* seconds from the signer's acceptance of an entry to its use */
    kura_policy_allow *allow;         /* sorted by address, no duplicates */
    size_t allow_count, allow_cap;
    uint64_t max_per_transfer;        /* satoshis, total of one intent's outputs */
    uint64_t max_per_24h;             /* satoshis, all transfers in any rolling 24 hours */
    uint64_t max_fee;                 /* satoshis, one transaction */
    uint64_t max_fee_rate;            /* sat/vB, one transaction */
    uint64_t max_lifetime;            /* seconds, an intent's expires - created */
} kura_policy;

/* Returns a new empty policy (every number 0, chain BITCOIN, mode COLD, no
 * members, tiers or allowlist entries) to fill in, or NULL when memory runs
 * out. Free with kura_policy_free. */
kura_policy *kura_policy_new(void);

/* Frees a policy and its arrays. NULL is a no-op. */
void kura_policy_free(kura_policy *policy);

/* Add an administrator or an approver: `name` as above, `key` the OpenSSH
 * public key in canonical form "TYPE BASE64" (no comment; see
 * kura_sshkey_format). The member is inserted in name order.
 * Returns KURA_OK; KURA_EDATA for a bad name or key, or a name or key the
 * policy already holds (in either role); KURA_SSHSIG_EUNSUPPORTED for a key
 * type kura does not accept; KURA_ERANGE when the role is full; KURA_ENOMEM;
 * KURA_EINVAL for NULL arguments. On failure the policy is unchanged. */
int kura_policy_add_admin(kura_policy *policy, const char *name, const char *key,
                          kura_error *err);
int kura_policy_add_approver(kura_policy *policy, const char *name, const char *key,
                             kura_error *err);

/* Appends a tier: up_to 1..KURA_INTENT_MAX_AMOUNT or
 * KURA_POLICY_TIER_UNBOUNDED, above the last tier's bound; approvals at least
 * 1 and more than the last tier's. (Whether approvals <= approver_count is
 * checked by the writer, as members may be added later.) Returns KURA_OK,
 * KURA_EDATA, KURA_ERANGE (too many tiers), KURA_ENOMEM or KURA_EINVAL; on
 * failure the policy is unchanged. */
int kura_policy_add_tier(kura_policy *policy, uint64_t up_to, unsigned approvals,
                         kura_error *err);

/* Adds an allowlisted destination: `address` canonical for policy->chain
 * (set the chain first), `label` required. Inserted in address order.
 * Returns KURA_OK, KURA_EDATA (bad address or label, address already
 * listed), KURA_ERANGE (list full), KURA_ENOMEM or KURA_EINVAL; on failure the
 * policy is unchanged. */
int kura_policy_add_allow(kura_policy *policy, const char *address, const char *label,
                          kura_error *err);

/* Parses the canonical policy text[0..len). On success *out gets a new policy
 * (free with kura_policy_free). Returns KURA_OK; KURA_EDATA for any departure
 * from the canonical form or any rule of docs/policy-format.md, naming the
 * line; KURA_SSHSIG_EUNSUPPORTED for a key type kura does not accept;
 * KURA_ERANGE for a text over KURA_POLICY_TEXT_MAX or a list over its limit;
 * KURA_ENOMEM; KURA_EINVAL for NULL out (or NULL text with len > 0). On
 * failure *out is NULL. */
int kura_policy_parse(kura_policy **out, const uint8_t *text, size_t len, kura_error *err);

/* Writes the canonical text of `policy` into a new NUL-terminated buffer
 * (*out, free with free(); *out_len without the NUL). The text is parsed back
 * and compared, so a struct that breaks any rule is refused with the
 * parser's reason and code. Returns KURA_OK; KURA_EDATA / KURA_ERANGE /
 * KURA_SSHSIG_EUNSUPPORTED as the parser; KURA_EINVAL for NULL arguments or a
 * struct whose derived fields (scripts) disagree with it; KURA_ENOMEM. On
 * failure *out is NULL and *out_len 0. */
int kura_policy_write(char **out, size_t *out_len, const kura_policy *policy, kura_error *err);

/* Returns 1 when a and b have the same meaning (every field and list entry),
 * 0 otherwise or when either is NULL. */
int kura_policy_equal(const kura_policy *a, const kura_policy *b);

/* *approvals = the approvals a transfer of `total` satoshis needs: those of
 * the first tier whose bound is >= total. (Whether `total` is within
 * max_per_transfer is a separate check.) Returns KURA_OK, or KURA_EINVAL for
 * NULL arguments or a policy without an unbounded last tier (*approvals is
 * then 0). */
int kura_policy_tier_required(unsigned *approvals, const kura_policy *policy, uint64_t total);

/* Looks a scriptPubKey up in the allowlist of `policy` (a const kura_policy*
 * passed as void*): returns 1 and points *label at the entry's label (owned
 * by the policy) when listed, 0 when not (or on NULL arguments, *label NULL).
 * Matches kura_intent_allowlist_fn, for kura_intent_render. Whether the
 * entry's waiting period has passed is the signer's state, not the policy's. */
int kura_policy_allowlist_lookup(void *policy, const uint8_t *script, size_t script_len,
                                 const char **label);

/* The outcome for one signature passed to kura_policy_verify_signatures. */
typedef struct kura_policy_signature_result {
    int status;          /* KURA_OK (valid, counted), KURA_POLICY_ENOTADMIN,
                          * KURA_POLICY_EDUPLICATE, or a kura_sshsig_parse /
                          * kura_sshsig_verify code (KURA_SSHSIG_ENAMESPACE,
                          * KURA_SSHSIG_EBADSIG, KURA_EDATA, ...) */
    size_t admin_index;  /* index into authority->admins when the signer is an
                          * administrator (KURA_OK, EDUPLICATE); SIZE_MAX otherwise */
    char message[KURA_ERROR_MESSAGE_MAX]; /* why, for a person; "" when valid */
} kura_policy_signature_result;

/* Verifies that a quorum of the administrators of `authority` signed the
 * exact policy text[0..text_len) with SSHSIG in namespace "kura-policy-v1".
 * `authority` is the policy the signer has in force: a new policy is
 * authorised by the OLD policy's administrator quorum (for the first policy,
 * set up in person, pass the policy itself). Each signature counts once per
 * distinct administrator, whatever key order or repetition; a signature by
 * anyone else, in another namespace, or that fails to verify, counts for
 * nothing. Security-key signatures must carry the user-presence flag.
 *   results: may be NULL; else sig_count entries, one per signature, cleared
 *     on entry and filled whatever the return value.
 *   valid_count: may be NULL; receives the number of distinct administrators
 *     with a valid signature.
 *   authority: the policy whose admins and admin_quorum decide.
 *   text, text_len: the exact signed bytes (the new policy's text).
 *   sigs, sig_lens, sig_count: the armoured signatures
 *     ("-----BEGIN SSH SIGNATURE-----" ...), not necessarily NUL-terminated.
 * Returns KURA_OK when at least authority->admin_quorum distinct
 * administrators signed; KURA_POLICY_EQUORUM when fewer did (err names how
 * many of how many, and the first signature that failed and why); KURA_EINVAL
 * for NULL arguments, an authority with no administrators or a quorum of 0;
 * KURA_ECRYPTO if the crypto library fails. */
int kura_policy_verify_signatures(kura_policy_signature_result *results, size_t *valid_count,
                                  const kura_policy *authority, const uint8_t *text,
                                  size_t text_len, const char *const *sigs,
                                  const size_t *sig_lens, size_t sig_count, kura_error *err);

/* Checks that `next` may replace `current`: a higher version, the same
 * wallet (name and checksum) and the same chain. (Its signatures are checked
 * by kura_policy_verify_signatures against `current`.) Returns KURA_OK,
 * KURA_POLICY_ESTALE naming the reason, or KURA_EINVAL for NULL arguments. */
int kura_policy_check_successor(const kura_policy *current, const kura_policy *next,
                                kura_error *err);

/* ---- changes that widen what can be spent wait (docs/policy-format.md) ----
 *
 * A policy update takes effect in two parts. What it tightens counts at once.
 * What it loosens — a new allowlist entry, a shorter allowlist-delay, a
 * higher cap (max-per-transfer, max-per-24h, max-fee, max-fee-rate,
 * max-lifetime), fewer approvals at some amount, a lower admin-quorum, a new
 * approver or administrator (or a member's key in another form), initiator-
 * may-approve yes, allowlist-required no, mode hot — counts only once the
 * waiting period (allowlist-delay) of the rules in force when the signer
 * accepted the update has passed. Until then the rules in force are, field by
 * field, the strictest of the pending policies and the last matured one. */

/* The strictest of two policies, field by field, as a new policy (free with
 * kura_policy_free): version, chain and wallet are newer's; members are those
 * newer lists that older lists with exactly the same key (newer's names);
 * admin-quorum, allowlist-delay and each amount's approvals the larger; caps
 * and max-lifetime the smaller; initiator-may-approve yes only if both say
 * yes; allowlist-required yes if either does; allowlist entries those both
 * list (by script; newer's labels); mode hot only if both are hot. The
 * result is the rules an evaluator applies; it need not be a valid policy
 * text (kura_policy_write may refuse it: say, fewer approvers than a tier
 * needs). Returns KURA_OK, KURA_EINVAL (NULL arguments), KURA_ENOMEM; *out
 * is NULL on failure. */
int kura_policy_strictest(kura_policy **out, const kura_policy *older, const kura_policy *newer,
                          kura_error *err);

/* One policy the signer accepted, and when (its journal's record). */
typedef struct kura_policy_accepted {
    const kura_policy *policy;
    int64_t accepted_at; /* unix seconds */
} kura_policy_accepted;

/* The rules in force at `now` for a signer that accepted history[0..n),
 * oldest first (history[0] is the ceremony's policy, in force from its
 * acceptance; versions ascend, times do not decrease). Entry i's loosening
 * takes effect at accepted_at[i] + the largest allowlist-delay among the
 * policies whose rules were in force then (the latest matured one and those
 * pending after it), and never before entry i-1's. The rules are the latest
 * matured policy made stricter by every later one (kura_policy_strictest),
 * or a copy of the newest policy when nothing is pending.
 *   out: the rules (free with kura_policy_free); NULL on failure.
 *   loosen_at: may be NULL; when the newest policy's loosening takes (or
 *     took) effect.
 * Returns KURA_OK; KURA_EINVAL (NULL, empty or unordered history);
 * KURA_ENOMEM. */
int kura_policy_in_force(kura_policy **out, int64_t *loosen_at,
                         const kura_policy_accepted *history, size_t n, int64_t now,
                         kura_error *err);

/* The number of ways `next` loosens `current` (0: next is as strict or
 * stricter in every field), and a person's list of them in why[0..why_len)
 * ("new approvers, max-per-24h 5000000000, 1 new allowlist entries"),
 * NUL-terminated and cut to fit; why may be NULL. 0 for NULL policies. */
unsigned kura_policy_loosenings(char *why, size_t why_len, const kura_policy *current,
                                const kura_policy *next);

#ifdef __cplusplus
}
#endif

#endif /* KURA_POLICY_H */
