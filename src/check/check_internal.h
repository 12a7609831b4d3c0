/*
 * src/check/check_internal.h — what the files of the check module share; not
 * installed, not API.
 *
 *   package.c      the package records (kura_package_*), refusal names
 *   check.c        kura_check_package steps 1-4 and 6, kura_check_approvals
 *   transaction.c  step 5: the transaction equals the intent
 *   estimate.c     the finalized virtual size, for the fee rate
 *   summary.c      the text kura-cold shows before it asks
 */
#ifndef KURA_CHECK_INTERNAL_H
#define KURA_CHECK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "kura/check.h"
#include "kura/descriptor.h"
#include "kura/intent.h"
#include "kura/policy.h"
#include "kura/psbt.h"

/* How many distinct (branch, index) hints one input or output may make the
 * check try. kura's updater writes one (every key of an output shares its
 * branch and index); the cap keeps a hostile PSBT with thousands of
 * derivation records from costing thousands of derivations. */
#define KURA_CHECK_HINTS_MAX 4

/* What step 5 decided about one transaction output. */
typedef struct kura_check_output_role {
    size_t intent_output;  /* index into the intent's outputs, or SIZE_MAX */
    int is_change;         /* 1 when verified change */
    uint32_t change_index; /* the change index, when change */
} kura_check_output_role;

/* One run of kura_check_package: the signer's state, the package and what
 * the steps found so far. */
typedef struct kura_check_run {
    const kura_ctx *ctx;
    const kura_signer_state *state;
    const kura_psbt *psbt;
    kura_check_result *result;
    kura_network network; /* the address encoding of state->chain */

    kura_package_view view;
    kura_intent *intent; /* parsed intent (owned), NULL until it parses */
    int intent_rc;       /* kura_intent_parse's code */
    kura_error intent_err;
    kura_policy *package_policy; /* parsed package policy (owned), NULL if none or bad */
    int package_policy_rc;
    kura_error package_policy_err;
    const kura_policy *policy;      /* the rules in force for the rest of the check */
    const kura_policy *latest;      /* the newest policy: the package's accepted update, or
                                       the state's policy (for messages: what is pending) */
    kura_policy *rules_owned;       /* strictest(rules, update) when an update waits (owned) */
    int policy_is_new;              /* 1 when policy is the package's accepted update */
    size_t policy_signatures_valid; /* administrators who signed the accepted update */

    /* Step 4: for each counted approval, its approver's index in policy. */
    size_t approvers[KURA_POLICY_APPROVERS_MAX];
    size_t approver_count;

    /* Step 5. */
    kura_descriptor_output *work;  /* derivation scratch (owned) */
    kura_check_output_role *roles; /* psbt->output_count entries (owned) */
    uint64_t in_total;
    uint64_t out_total;
    uint64_t change;
    size_t change_outputs;
    uint64_t fee;
    uint64_t vsize;

    /* Step 6, shared with the summary: for each intent output, the first
     * entry of policy's allowlist with its script, or NULL (owned array). */
    const kura_policy_allow **dest_allow;

    /* Fee bumps (bump.c): set when the intent was signed before and this
     * transaction spends every coin those signatures spent. */
    int bump;
    kura_check_prior prior;
} kura_check_run;

/* The rolling window, seconds. */
#define KURA_CHECK_I_WINDOW 86400

/* Fee bumps (bump.c). bump_prepare runs in step 3 for an intent signed
 * before: KURA_OK (run->bump set) or a refusal (INTENT_REPLAY,
 * BUMP_NOT_REPLACEABLE), KURA_ENOMEM. bump_fee runs after step 5: KURA_OK
 * or BUMP_FEE_NOT_HIGHER. */
int kura_check_i_bump_prepare(kura_check_run *run);
int kura_check_i_bump_fee(kura_check_run *run);
/* 1 when some input's nSequence is below 0xfffffffe (BIP125). */
int kura_check_i_signals_rbf(const kura_psbt *psbt);

/* Sets result->reason and the message; returns KURA_EDATA (a refusal). */
int kura_check_i_refuse(kura_check_run *run, kura_refusal reason, const char *fmt, ...)
    KURA_PRINTF(3, 4);

/* Writes a person-readable name of a scriptPubKey into out: its address on
 * `network`, or "script <hex...>" for one without an address. */
void kura_check_i_describe_script(char *out, size_t out_len, const uint8_t *script, size_t len,
                                  kura_network network);

/* Step 5 (transaction.c). Returns KURA_OK, KURA_EDATA (refused: result
 * filled), KURA_ENOMEM or KURA_EINVAL. Fills run->roles, totals, fee and
 * vsize on success. */
int kura_check_i_transaction(kura_check_run *run);

/* The floor of one input's finalized size (estimate.c), from the wallet's
 * own derivation of the output it spends (work, just derived for it):
 * *script_sig_len the scriptSig bytes, *witness_len the witness bytes
 * (items count included; 0 for an input without witness). */
void kura_check_i_input_size(size_t *script_sig_len, size_t *witness_len, int *segwit,
                             const kura_descriptor_output *work);

/* The virtual size of the finalized transaction from the input sizes above
 * (estimate.c): never more than the real one (see docs/signer-check.md). */
uint64_t kura_check_i_vsize(const kura_psbt *psbt, const size_t *script_sig_lens,
                            const size_t *witness_lens, int any_segwit);

/* The summary text (summary.c) into run->result->summary. Returns KURA_OK or
 * KURA_ENOMEM. */
int kura_check_i_summary(kura_check_run *run);

/* "1.50000000 BTC" (8 decimals) into out. */
void kura_check_i_btc(char *out, size_t out_len, uint64_t sats);

#endif /* KURA_CHECK_INTERNAL_H */
