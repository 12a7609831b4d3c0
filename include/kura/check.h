/*
 * kura/check.h — the signing package and the signer's check: the one
 * function that decides whether kura signs (DESIGN, "What the signer checks").
 *
 * The signing package is one BIP174 PSBT. kura's records ride in global
 * proprietary fields (type 0xFC, identifier "kura", BIP174 "Proprietary Use
 * Type"): the intent text, its approvals, and optionally a newer policy with
 * its administrators' signatures. Any PSBT tool carries them unchanged; only
 * kura reads them.
 *
 * The check trusts nothing in the package: not the PSBT's claims about which
 * outputs are change, not its amounts, not the coordinator's word that the
 * approvals are valid. It recomputes everything from the signer's own state
 * (wallet descriptor, policy in force, journal) and the signed texts.
 */
#ifndef KURA_CHECK_H
#define KURA_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "kura/common.h"
#include "kura/descriptor.h"
#include "kura/intent.h"
#include "kura/keys.h"
#include "kura/policy.h"
#include "kura/psbt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the signing package: kura's proprietary records ---- */

#define KURA_PACKAGE_IDENTIFIER "kura"
/* Subtypes of the proprietary key (after the identifier). Approvals and policy
 * signatures carry a 4-byte big-endian sequence number as key data, so each
 * record has a unique key; the number carries no meaning. */
#define KURA_PACKAGE_INTENT 0x00           /* value: the intent text, exact bytes */
#define KURA_PACKAGE_APPROVAL 0x01         /* value: one armoured SSHSIG (kura-intent-v1) */
#define KURA_PACKAGE_POLICY 0x02           /* value: a policy text (optional) */
#define KURA_PACKAGE_POLICY_SIGNATURE 0x03 /* value: one armoured SSHSIG (kura-policy-v1) */

#define KURA_PACKAGE_APPROVALS_MAX 256
#define KURA_PACKAGE_POLICY_SIGNATURES_MAX 64

/* Writers: put the intent text (replacing any), add an approval, put a policy
 * text (replacing any), add a policy signature. Bytes are copied as given.
 * Approvals and policy signatures take the lowest sequence number not in
 * use. Layout: docs/signing-package.md.
 * Return KURA_OK, KURA_EINVAL (NULL, empty), KURA_ERANGE (over the PSBT's
 * proprietary value limit, or over the _MAX counts above), KURA_ENOMEM. */
int kura_package_set_intent(kura_psbt *psbt, const uint8_t *text, size_t len);
int kura_package_add_approval(kura_psbt *psbt, const uint8_t *sig, size_t len);
int kura_package_set_policy(kura_psbt *psbt, const uint8_t *text, size_t len);
int kura_package_add_policy_signature(kura_psbt *psbt, const uint8_t *sig, size_t len);

/* A read-only view of a package's records; pointers point into the PSBT and
 * live as long as it is unchanged. */
typedef struct kura_package_view {
    const uint8_t *intent;            /* NULL when absent */
    size_t intent_len;
    const uint8_t *approvals[KURA_PACKAGE_APPROVALS_MAX];
    size_t approval_lens[KURA_PACKAGE_APPROVALS_MAX];
    size_t approval_count;
    const uint8_t *policy;            /* NULL when absent */
    size_t policy_len;
    const uint8_t *policy_signatures[KURA_PACKAGE_POLICY_SIGNATURES_MAX];
    size_t policy_signature_lens[KURA_PACKAGE_POLICY_SIGNATURES_MAX];
    size_t policy_signature_count;
} kura_package_view;

/* Collects kura's records from psbt, in the order the PSBT holds them.
 * Refuses (KURA_EDATA, message in err) a "kura" record of an unknown subtype,
 * an intent or policy record with key data, an approval or signature record
 * without exactly 4 bytes of key data, a "kura" record with an empty value,
 * and more records than the _MAX counts. Other identifiers' proprietary
 * records are ignored. A missing intent is not an error here (the check
 * refuses it). view is cleared on entry and left cleared on failure.
 * Returns KURA_OK, KURA_EDATA, KURA_EINVAL. */
int kura_package_read(kura_package_view *view, const kura_psbt *psbt, kura_error *err);

/* ---- why the signer refuses ---- */

/* Every reason the check can refuse, each with a stable name
 * (kura_refusal_name: "KURA_REFUSE_OUTPUT_MISSING" ...) that programs print and
 * tests match. Values are stable; new reasons are added at the end. */
typedef enum kura_refusal {
    KURA_REFUSE_NONE = 0,
    /* 1. the package */
    KURA_REFUSE_PACKAGE_MALFORMED = 1,  /* PSBT or kura records malformed, intent missing */
    KURA_REFUSE_NETWORK_MISMATCH = 2,   /* intent or policy for another chain than the signer's */
    /* 2. the policy */
    KURA_REFUSE_POLICY_MALFORMED = 3,   /* the package's policy text does not parse */
    KURA_REFUSE_POLICY_STALE = 4,       /* the package's policy is not newer than the one in force */
    KURA_REFUSE_POLICY_SIGNATURES = 5,  /* a newer policy without a quorum of the current admins */
    KURA_REFUSE_POLICY_WALLET = 6,      /* a policy for another wallet or chain */
    /* 3. the intent */
    KURA_REFUSE_INTENT_MALFORMED = 7,   /* not canonical (kura_intent_parse refuses it) */
    KURA_REFUSE_INTENT_WALLET = 8,      /* names another wallet (name or descriptor checksum) */
    KURA_REFUSE_INTENT_EXPIRED = 9,     /* now >= expires */
    KURA_REFUSE_INTENT_NOT_YET = 10,    /* created more than the allowed clock skew in the future */
    KURA_REFUSE_INTENT_LIFETIME = 11,   /* expires - created over the policy's max-lifetime */
    KURA_REFUSE_INTENT_REPLAY = 12,     /* this intent (by hash or by id) was signed before */
    /* 4. the approvals */
    KURA_REFUSE_APPROVAL_INVALID = 13,  /* a signature that does not verify over this intent's
                                           bytes in namespace kura-intent-v1 */
    KURA_REFUSE_APPROVER_UNKNOWN = 14,  /* signed by a key that is not an approver of the policy */
    KURA_REFUSE_APPROVER_DUPLICATE = 15, /* one approver's key counted more than once */
    KURA_REFUSE_APPROVER_INITIATOR = 16, /* the initiator approving their own intent */
    KURA_REFUSE_APPROVALS_INSUFFICIENT = 17, /* fewer valid approvals than the amount's tier needs */
    /* 5. the transaction equals the intent */
    KURA_REFUSE_OUTPUT_MISSING = 18,    /* an intent output (script and amount) is not in the tx */
    KURA_REFUSE_OUTPUT_DUPLICATE = 19,  /* an intent output appears more than once */
    KURA_REFUSE_OUTPUT_UNEXPECTED = 20, /* an output that is neither in the intent nor change */
    KURA_REFUSE_CHANGE_FOREIGN = 21,    /* an output presented as change that does not derive from
                                           the wallet's descriptor on its change branch */
    KURA_REFUSE_INPUT_FOREIGN = 22,     /* an input that is not the wallet's */
    KURA_REFUSE_INPUT_UNPROVEN = 23,    /* an input amount not proven by its full funding tx */
    KURA_REFUSE_FEE_INTENT = 24,        /* fee over the intent's max-fee */
    KURA_REFUSE_FEE_POLICY = 25,        /* fee or fee rate over the policy's caps */
    KURA_REFUSE_SIGHASH = 26,           /* a sighash type other than ALL (DEFAULT for taproot) */
    KURA_REFUSE_UNKNOWN_FIELD = 27,     /* a field kura does not understand that would be signed
                                           over or change what is signed (tx version, lock time,
                                           sequence, unknown input records, foreign leaf scripts) */
    /* 6. destinations and limits */
    KURA_REFUSE_DESTINATION_NOT_ALLOWED = 28, /* not on the allowlist where the policy requires it */
    KURA_REFUSE_DESTINATION_WAITING = 29,     /* allowlisted, but its waiting period has not passed */
    KURA_REFUSE_LIMIT_TRANSFER = 30,    /* intent total over the per-transfer cap */
    KURA_REFUSE_LIMIT_ROLLING = 31,     /* signed in the last 24 hours plus this over the cap */
    /* the signer program */
    KURA_REFUSE_HOT_NOT_ALLOWED = 32,   /* unattended signing under a policy that is not hot */
    KURA_REFUSE_DECLINED = 33,          /* the operator answered no at the confirmation */
    KURA_REFUSE_NOTHING_TO_SIGN = 34,   /* no input this signer's key can sign */
    /* 3. the intent (added later) */
    KURA_REFUSE_POLICY_BEHIND = 35,     /* the intent names a policy version newer than the
                                           signer's, and the package does not bring it */
    /* 5. fee bumps of an intent signed before (docs/signer-check.md, "Fee bumps") */
    KURA_REFUSE_BUMP_FEE_NOT_HIGHER = 36, /* a replacement whose fee is not above the highest
                                             fee signed before for the intent */
    KURA_REFUSE_BUMP_NOT_REPLACEABLE = 37 /* a replacement that does not signal BIP125, or of
                                             a signature that did not */
} kura_refusal;

#define KURA_REFUSAL_COUNT 38

/* "KURA_REFUSE_OUTPUT_MISSING" etc.; "KURA_REFUSE_?" for a value out of range. */
const char *kura_refusal_name(kura_refusal reason);

/* ---- the signer's state ---- */

/* One outpoint (a coin a transaction spends). */
typedef struct kura_check_outpoint {
    uint8_t txid[32]; /* internal byte order */
    uint32_t vout;
} kura_check_outpoint;

/* What the journal recorded about the earlier signatures of one intent, for
 * a fee bump (kura_check_journal.prior_signatures). */
typedef struct kura_check_prior {
    size_t signatures;      /* signatures of this intent hash; 0 when none */
    int inputs_known;       /* 1 when every one of them recorded the coins it spent */
    int replaceable;        /* 1 when every one of them signalled BIP125 */
    uint64_t fee_max;       /* the highest fee among them */
    uint8_t last_txid[32];  /* the latest one's txid, internal byte order */
    uint64_t last_entry;    /* the latest one's journal entry (the one a bump replaces) */
    uint64_t counted;       /* what signed_since(since) includes for this intent */
    size_t input_count;     /* outpoints they spent, all of them in order, repeats included */
} kura_check_prior;

/* What the signer's journal knows, asked through callbacks so the check stays
 * free of I/O. `arg` is passed back unchanged. */
typedef struct kura_check_journal {
    void *arg;
    /* 1 if an intent with this text hash or this id was signed before, else 0. */
    int (*intent_signed)(void *arg, const uint8_t intent_hash[32], const char *intent_id);
    /* Satoshis that left the wallet — paid to non-change destinations plus
     * the fees — in transfers signed at times t with since < t <= now (the
     * rolling window). */
    uint64_t (*signed_since)(void *arg, int64_t since);
    /* Since when (unix seconds) `script` has been on the allowlist without a
     * break: the time this signer accepted the first policy of the latest
     * unbroken run of accepted policies that list it (so an address removed
     * and added again waits its delay again), or -1 if the policy in force
     * does not list it. Entries of the initial (ceremony) policy count as
     * accepted at the ceremony. The check treats -1 as "accepted now" (an
     * entry of a policy update in this package). */
    int64_t (*allow_accepted_at)(void *arg, const uint8_t *script, size_t script_len);
    /* Optional (NULL: an intent signed before is always a replay). The
     * earlier signatures of the intent with this text hash: fills *prior
     * and the first inputs_cap of their spent outpoints into inputs (NULL
     * when inputs_cap is 0); `since` as for signed_since, for
     * prior->counted. The check calls it twice: to learn input_count, then
     * with room for them. Returns 0, or nonzero when the journal cannot
     * answer (the check then refuses as a replay). */
    int (*prior_signatures)(void *arg, kura_check_prior *prior, kura_check_outpoint *inputs,
                            size_t inputs_cap, const uint8_t intent_hash[32], int64_t since);
} kura_check_journal;

/* Every pointer and callback is required; max_clock_skew >= 0; the wallet
 * has a change branch (a multipath <0;1> step). Otherwise KURA_EINVAL. */
typedef struct kura_signer_state {
    const kura_descriptor *wallet;   /* the wallet descriptor, receive/change branches */
    const char *wallet_name;         /* as the policy and intents name it */
    char wallet_checksum[9];         /* the descriptor's BIP380 checksum */
    kura_intent_chain chain;         /* the exact chain this signer serves */
    const kura_policy *policy;       /* the newest policy the signer accepted (versions,
                                       the successor rule, the summary) */
    const kura_policy *rules;        /* optional: the rules in force now, from the signer's
                                       record of accepted policies (kura_policy_in_force):
                                       changes that widen what can be spent wait. NULL:
                                       `policy` itself, every change to it in effect */
    kura_check_journal journal;
    int64_t now;                     /* unix seconds */
    int64_t max_clock_skew;          /* seconds an intent's `created` may lie in the future */
    uint32_t max_change_index;       /* change indexes above this are refused: the highest
                                       change index the signer has signed plus a gap, so
                                       a restore scanning with that gap limit finds every
                                       change output (kura-cold: docs/kura-cold.md) */
    const kura_descriptor_cache *cache; /* optional derivation cache of `wallet`, from the
                                       signer's own storage (kura_descriptor_cache_parse
                                       with this wallet); NULL derives every script */
} kura_signer_state;

/* ---- the size estimate ---- */

#define KURA_CHECK_SIZE_FLOOR 0u   /* the smallest the finalizer produces (the check's) */
#define KURA_CHECK_SIZE_CEILING 1u /* the largest: for paying at least a fee rate */

/* The finalized size of one input spending the wallet output just derived
 * into work (kura_descriptor_derive), as the check estimates it
 * (docs/signer-check.md, "The size estimate"): *script_sig_len the scriptSig
 * bytes, *witness_len the witness bytes (item count included; 0 for an input
 * without witness), *segwit 1 for a segwit input. KURA_CHECK_SIZE_FLOOR
 * counts 71-byte ECDSA and 64-byte Schnorr signatures (never more than the
 * real size: the check's fee-rate cap is never passed by underestimating);
 * KURA_CHECK_SIZE_CEILING counts 72 and 65 (never less: a coordinator paying
 * a fee rate reaches it). A taproot output counts its cheapest spending path;
 * a script kura's wallets do not use counts as empty. The input's outpoint,
 * sequence and scriptSig length byte are not included (41 bytes more).
 * Returns KURA_OK, or KURA_EINVAL (NULL, an empty work, an unknown mode;
 * outputs then 0). */
int kura_check_input_size(size_t *script_sig_len, size_t *witness_len, int *segwit,
                          const kura_descriptor_output *work, unsigned mode);

/* ---- the check ---- */

/* The result of a check. On acceptance `reason` is KURA_REFUSE_NONE and the
 * fields describe what will be signed; on refusal `reason` and `message`
 * ("output 2: bc1q... 150000000 sat is not in the intent") say why. */
typedef struct kura_check_result {
    kura_refusal reason;
    char message[KURA_ERROR_MESSAGE_MAX];
    uint8_t intent_hash[32];       /* SHA-256 of the intent text, when it parsed */
    char intent_id[33];
    uint64_t total_out;            /* sum of the intent's outputs */
    uint64_t change;               /* sum of verified change outputs */
    uint64_t fee;                  /* inputs - outputs, from proven input amounts */
    uint64_t vsize_estimate;       /* virtual size of the finalized tx (for the fee rate) */
    size_t approval_count;         /* valid approvals from distinct eligible approvers */
    unsigned approvals_required;   /* by the policy's tier for total_out */
    int has_change;                /* 1 when the transaction has verified change */
    uint32_t change_index_max;     /* the highest change index among them (the signer
                                      journals it: later change is bounded by it) */
    kura_policy *new_policy;       /* the package's newer policy when it was accepted
                                      (owned by the result; the caller journals it and
                                      makes it the policy in force); else NULL */
    char *summary;                 /* plain-language text of what will be signed (owned) */
    int is_bump;                   /* 1 when it replaces earlier signatures of the intent */
    uint8_t replaced_txid[32];     /* bump: the latest earlier signature's txid */
    uint64_t replaced_fee;         /* bump: the highest earlier fee */
    uint64_t replaced_entry;       /* bump: the latest earlier signature's journal entry */
    int bip125;                    /* 1 when some input's nSequence is below 0xfffffffe */
} kura_check_result;

/* Frees what a result owns and clears it. NULL is a no-op. */
void kura_check_result_clear(kura_check_result *result);

/* The signer's check, steps 1-6 of DESIGN "What the signer checks", in that
 * order: the first failing step's reason is reported. Every step, reason and
 * the size estimate behind the fee rate: docs/signer-check.md.
 *   ctx: a kura context.
 *   result: cleared on entry (overwritten, not freed: pass a new result or
 *     one emptied with kura_check_result_clear); filled as above.
 *     new_policy and summary are set only on KURA_OK: a refused package
 *     changes nothing.
 *   state: the signer's own state (never taken from the package).
 *   psbt: the package, parsed (kura_psbt_parse); not changed. kura signs
 *     PSBT version 0 only (version 2 is refused as UNKNOWN_FIELD).
 * Returns KURA_OK when the package may be signed (result->reason is
 * KURA_REFUSE_NONE); KURA_EDATA when it is refused (result->reason and
 * message say why); KURA_EINVAL / KURA_ENOMEM / KURA_ECRYPTO for misuse, no
 * memory or a crypto library failure (then result->reason is
 * KURA_REFUSE_NONE and message says what). The caller signs only on
 * KURA_OK. */
int kura_check_package(const kura_ctx *ctx, kura_check_result *result,
                       const kura_signer_state *state, const kura_psbt *psbt);

/* Checks approvals alone (step 4), for kura-approve and the coordinator's
 * early check: sigs[0..count) over intent_text under policy; intent must be
 * the parse of intent_text (else KURA_EINVAL). result is cleared on entry;
 * fills result->reason/message/approval_count/approvals_required (and
 * intent_hash, intent_id, total_out). Returns KURA_OK when the quorum is met,
 * KURA_EDATA otherwise (the first bad approval, or too few, decides the
 * reason), KURA_EINVAL for misuse, KURA_ENOMEM, KURA_ECRYPTO. */
int kura_check_approvals(kura_check_result *result, const kura_policy *policy,
                         const kura_intent *intent, const uint8_t *intent_text,
                         size_t intent_text_len, const uint8_t *const *sigs,
                         const size_t *sig_lens, size_t count);

#ifdef __cplusplus
}
#endif

#endif /* KURA_CHECK_H */
