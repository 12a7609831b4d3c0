/*
 * kura/assemble.h — what the coordinator does around the signer, as pure
 * functions over libkura types: size estimates for coin selection, the
 * signing package, completing a PSBT imported from another tool, taking in
 * a signer's signed PSBT, and finalizing once the wallet's threshold is met.
 *
 *   kura_assemble_estimate  sizes of the wallet's inputs, change and base,
 *                           for kura_coinselect_select
 *   kura_assemble_package   intent + selected coins + change -> signing package
 *   kura_assemble_complete  an imported PSBT -> every field the signer needs
 *   kura_assemble_intake    one signer's signed PSBT -> combined, if it only
 *                           adds valid SIGHASH_ALL signatures to the same tx
 *   kura_assemble_finalize  combined PSBT -> raw transaction, after checking
 *                           every signature and that its effects equal the
 *                           intent as the signer's check reads them
 *
 * Nothing here is trusted by the signer, which checks the package itself
 * (kura/check.h). These functions give the coordinator early, named errors
 * and make sure it never broadcasts what the approvers did not approve.
 *
 * A wallet is a kura descriptor with receive and change branches (see
 * kura/wallet.h). Refusals of untrusted data return KURA_EDATA with a
 * reason (kura_assemble_reason, stable values and names) and a message in
 * err, e.g. "assemble: output 2 pays bc1q... 5000 sat, which is neither in
 * the intent nor the wallet's change".
 */
#ifndef KURA_ASSEMBLE_H
#define KURA_ASSEMBLE_H

#include <stddef.h>
#include <stdint.h>

#include "kura/coinselect.h"
#include "kura/common.h"
#include "kura/descriptor.h"
#include "kura/intent.h"
#include "kura/keys.h"
#include "kura/psbt.h"
#include "kura/tx.h"
#include "kura/wallet.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most indexes kura_assemble_lookup.scan_limit may ask to derive per branch. */
#define KURA_ASSEMBLE_SCAN_MAX 100000u

/* Why a call refused its data; stable values, names from
 * kura_assemble_reason_name ("KURA_ASSEMBLE_OUTPUT_MISSING"). */
typedef enum kura_assemble_reason {
    KURA_ASSEMBLE_OK = 0,
    KURA_ASSEMBLE_MALFORMED = 1,          /* a PSBT that does not parse, a v2 upload, amounts
                                             that do not add up */
    KURA_ASSEMBLE_INTENT = 2,             /* the intent does not parse, or names another wallet */
    KURA_ASSEMBLE_FUNDING_MISSING = 3,    /* an input's funding transaction is unknown */
    KURA_ASSEMBLE_INPUT_FOREIGN = 4,      /* an input that is not the wallet's */
    KURA_ASSEMBLE_TX_UNSUPPORTED = 5,     /* tx version, lock time or sequence kura does not
                                             sign (version 2, lock time 0, sequences
                                             0xfffffffd / 0xffffffff) */
    KURA_ASSEMBLE_TX_MISMATCH = 6,        /* an upload whose unsigned tx is not the package's */
    KURA_ASSEMBLE_FIELD_ADDED = 7,        /* an upload that adds or changes a record other than
                                             a signature, or finalizes an input */
    KURA_ASSEMBLE_SIGNATURE_INVALID = 8,  /* a signature that does not verify */
    KURA_ASSEMBLE_SIGHASH = 9,            /* a signature not SIGHASH_ALL (DEFAULT for taproot) */
    KURA_ASSEMBLE_THRESHOLD_NOT_MET = 10, /* finalize: some input lacks signatures */
    KURA_ASSEMBLE_OUTPUT_MISSING = 11,    /* an intent output (script and amount) is not paid */
    KURA_ASSEMBLE_OUTPUT_DUPLICATE = 12,  /* an intent output paid a second time */
    KURA_ASSEMBLE_OUTPUT_UNEXPECTED = 13, /* an output neither in the intent nor change */
    KURA_ASSEMBLE_CHANGE_BEYOND_LIMIT = 14, /* change on the change branch above the bound */
    KURA_ASSEMBLE_FEE = 15                /* fee over the intent's max-fee */
} kura_assemble_reason;

#define KURA_ASSEMBLE_REASON_COUNT 16

/* "KURA_ASSEMBLE_OUTPUT_MISSING" ...; "KURA_ASSEMBLE_?" out of range. */
const char *kura_assemble_reason_name(kura_assemble_reason reason);

/* ---- sizes for coin selection ---- */

/* Weights (BIP141 weight units) of the parts of a transaction of this wallet,
 * as ceilings: a transaction paid for at these sizes reaches its fee rate. */
typedef struct kura_assemble_sizes {
    uint32_t input_weight;         /* one wallet input, finalized: 4 * (41 + scriptSig)
                                      + witness (kura_check_input_size, ceiling). Every
                                      coin of a kura wallet kind weighs the same. */
    uint32_t change_output_weight; /* the change output: 4 * (8 + 1 + script) */
    uint32_t change_input_weight;  /* spending that change later (= input_weight) */
    uint32_t base_weight;          /* version, lock time, a 3-byte input count, the output
                                      count with change, the intent's outputs, and the
                                      segwit marker and flag */
    uint64_t change_dust;          /* Bitcoin Core's dust threshold of the change script
                                      at its default 3 sat/vB dust relay fee */
} kura_assemble_sizes;

/* Sizes for paying intent's outputs from wallet, with change.
 *   out: cleared on entry.
 *   intent: its outputs' scripts are counted; may be NULL (no payment
 *     outputs: add their weight, 4 * (8 + 1 + script) each, yourself).
 * Returns KURA_OK; KURA_EINVAL (NULL ctx/out/wallet, a wallet without a change
 * branch); KURA_EDATA (a wallet whose scripts are not one of kura's kinds);
 * KURA_ENOMEM; KURA_ECRYPTO. */
int kura_assemble_estimate(const kura_ctx *ctx, kura_assemble_sizes *out,
                           const kura_descriptor *wallet, const kura_intent *intent,
                           kura_error *err);

/* Fills params for kura_coinselect_select from sizes: the weights, min_change
 * = sizes->change_dust, and the given target (the intent's total), fee rates
 * (sat/kvB) and seed; everything else 0 (defaults). Each coin of the wallet
 * weighs sizes->input_weight. NULL arguments: nothing happens. */
void kura_assemble_coinselect_params(kura_coinselect_params *params,
                                     const kura_assemble_sizes *sizes, uint64_t target,
                                     uint64_t fee_rate, uint64_t long_term_fee_rate,
                                     uint64_t seed);

/* ---- the signing package ---- */

/* kura's records to attach (kura/check.h, docs/signing-package.md). */
typedef struct kura_assemble_records {
    const uint8_t *intent;                    /* the intent text, exact bytes (required) */
    size_t intent_len;
    const uint8_t *const *approvals;          /* armoured SSHSIGs (kura-intent-v1) */
    const size_t *approval_lens;
    size_t approval_count;
    const uint8_t *policy;                    /* a policy update, or NULL */
    size_t policy_len;
    const uint8_t *const *policy_signatures;  /* its administrators' SSHSIGs */
    const size_t *policy_signature_lens;
    size_t policy_signature_count;
} kura_assemble_records;

/* Builds the signing package: a PSBT version 0 of a version 2 transaction,
 * lock time 0, spending coins[0..coin_count) in that order (sequence
 * 0xfffffffd unless a coin says otherwise), paying the intent's outputs in
 * the intent's order, then change of change_amount sat at (change branch,
 * change_index) when change_amount > 0; every field kura_wallet_create_psbt
 * writes (BIP32 and taproot derivations, witness and non-witness UTXOs,
 * scripts); then the records, as kura-cold reads them.
 * Each coin must carry its whole funding transaction (prev_tx), whose output
 * coin.vout pays coin.amount to the wallet's script at (coin.branch,
 * coin.index). The fee (inputs - outputs) must be within the intent's
 * max-fee. The intent must parse and name this wallet's descriptor checksum.
 *   out: receives the package (free with kura_psbt_free); NULL on failure.
 *   reason: may be NULL; receives the reason on KURA_EDATA, else KURA_ASSEMBLE_OK.
 * Returns KURA_OK; KURA_EDATA (INTENT; FUNDING_MISSING for a coin without
 * prev_tx or whose prev_tx does not pay it; INPUT_FOREIGN; FEE; MALFORMED when
 * the outputs exceed the inputs or one outpoint is given twice); KURA_ERANGE; KURA_EINVAL; KURA_ENOMEM;
 * KURA_ECRYPTO. */
int kura_assemble_package(const kura_ctx *ctx, kura_psbt **out, kura_assemble_reason *reason,
                          const kura_descriptor *wallet, const kura_wallet_coin *coins,
                          size_t coin_count, uint32_t change_index, uint64_t change_amount,
                          const kura_assemble_records *records, kura_error *err);

/* Attaches records to psbt (replacing its intent and policy, adding the
 * approvals and signatures). Returns KURA_OK, KURA_EINVAL (no intent, NULL),
 * KURA_ERANGE, KURA_ENOMEM; on failure psbt may hold some records: discard it. */
int kura_assemble_attach(kura_psbt *psbt, const kura_assemble_records *records);

/* ---- looking things up: the coordinator's own knowledge ---- */

/* How kura_assemble_complete and kura_assemble_finalize find funding
 * transactions and which (branch, index) of the wallet a script is. Every
 * answer is checked (a funding tx must hash to the txid; a (branch, index)
 * must derive the script), so a wrong answer is only a miss. */
typedef struct kura_assemble_lookup {
    void *arg; /* passed back unchanged */
    /* The whole transaction with this txid (internal byte order), or NULL.
     * The pointer must stay valid until the calling function returns. May be
     * NULL (no lookup). */
    const kura_tx *(*funding_tx)(void *arg, const uint8_t txid[32]);
    /* 1 and (*branch, *index) when script_pubkey is the wallet's, else 0. The
     * coordinator's index of its watched scripts. May be NULL. */
    int (*locate)(void *arg, const uint8_t *script_pubkey, size_t len, size_t *branch,
                  uint32_t *index);
    /* When neither the PSBT's derivation records nor locate find a script,
     * derive indexes 0..scan_limit-1 of each branch searched (one EC
     * multiplication per key and index): 0 for no scan; at most
     * KURA_ASSEMBLE_SCAN_MAX. */
    uint32_t scan_limit;
} kura_assemble_lookup;

/* ---- completing an imported PSBT ---- */

/* Replaces *psbt, a PSBT made by another tool (Bitcoin Core's
 * walletcreatefundedpsbt, say: taproot inputs without their funding
 * transactions, derivations missing or under other origins; version 0 or 2),
 * by a PSBT version 0 of the same unsigned transaction holding exactly what
 * kura's updater writes: for each input the funding transaction (the one in
 * the PSBT if it hashes to the outpoint, else lookup->funding_tx's), the
 * witness UTXO and every script and derivation of the wallet at the input's
 * (branch, index); for each output that is the wallet's change (change
 * branch) its scripts and derivations. Everything else of the imported PSBT
 * is dropped (its signatures, foreign derivations, unknown records) except
 * the global proprietary records (kura's records survive). (branch, index) of
 * a script is found from the PSBT's own derivation records, then
 * lookup->locate, then a scan, each checked by deriving.
 *   psbt: in/out; replaced only on success (the old one freed).
 *   lookup: may be NULL (only what the PSBT holds is used).
 *   reason: as kura_assemble_package.
 * Returns KURA_OK; KURA_EDATA (FUNDING_MISSING: no funding tx for an input;
 * INPUT_FOREIGN: an input's script is not found in the wallet;
 * TX_UNSUPPORTED: tx version not 2, lock time not 0, a sequence other than
 * 0xfffffffd/0xffffffff, which the signer refuses; MALFORMED: the witness
 * UTXO contradicts the funding tx, or a v2 lock time conflict); KURA_EINVAL
 * (scan_limit over KURA_ASSEMBLE_SCAN_MAX, NULL); KURA_ERANGE; KURA_ENOMEM;
 * KURA_ECRYPTO. */
int kura_assemble_complete(const kura_ctx *ctx, kura_psbt **psbt, kura_assemble_reason *reason,
                           const kura_descriptor *wallet, const kura_assemble_lookup *lookup,
                           kura_error *err);

/* ---- signatures coming back ---- */

/* The state of the accumulated PSBT after an intake. */
typedef struct kura_assemble_progress {
    kura_assemble_reason reason; /* KURA_ASSEMBLE_OK, or why the upload was refused */
    size_t added;             /* signatures the upload added */
    size_t input_count;
    size_t *signatures;       /* owned, input_count entries: signatures each input holds
                                 (partial, taproot key and script signatures) */
    unsigned threshold;       /* signatures the wallet needs per input: 1 for wpkh and
                                 single-key tr; m of multi/sortedmulti/multi_a */
    int complete;             /* 1 when every input can be finalized */
} kura_assemble_progress;

/* Frees what progress owns and clears it. NULL is a no-op. */
void kura_assemble_progress_clear(kura_assemble_progress *progress);

/* Takes in one signer's signed PSBT upload[0..len) (binary BIP174; decode
 * base64 first) and combines it into *accumulated (the package, or the
 * result of earlier intakes), only if:
 *   - it parses, is version 0, and its unsigned transaction is the
 *     accumulated one's (TX_MISMATCH otherwise);
 *   - every record in it is either a signature (PSBT_IN_PARTIAL_SIG,
 *     TAP_KEY_SIG, TAP_SCRIPT_SIG) or equal to the accumulated PSBT's record
 *     with the same key: it changes no UTXO, script, derivation, global or
 *     output record, adds no unknown record and finalizes nothing
 *     (FIELD_ADDED);
 *   - each signature it adds is SIGHASH_ALL (ECDSA) or SIGHASH_DEFAULT/ALL
 *     (Schnorr) (SIGHASH);
 *   - every signature of the combination verifies against the accumulated
 *     PSBT's funding transactions (kura_wallet_verify_psbt)
 *     (SIGNATURE_INVALID).
 * A signature for a key that already has one is ignored (the accumulated one
 * is kept).
 *   progress: cleared on entry (pass a zeroed one or one emptied with
 *     kura_assemble_progress_clear); on KURA_OK the state after the intake;
 *     on KURA_EDATA the reason (and nothing else).
 *   accumulated: changed only on KURA_OK.
 *   wallet: the wallet descriptor (for the threshold).
 * Returns KURA_OK; KURA_EDATA (refused; progress->reason and err say why);
 * KURA_EINVAL; KURA_ERANGE; KURA_ENOMEM. */
int kura_assemble_intake(const kura_ctx *ctx, kura_assemble_progress *progress,
                         kura_psbt *accumulated, const kura_descriptor *wallet,
                         const uint8_t *upload, size_t upload_len, kura_error *err);

/* ---- the transaction ---- */

typedef struct kura_assemble_final {
    kura_assemble_reason reason; /* KURA_ASSEMBLE_OK, or the refusal */
    uint8_t *tx;             /* owned: the signed transaction, BIP144 serialisation */
    size_t tx_len;
    uint8_t txid[32];        /* internal byte order (kura_txid_to_hex for display) */
    uint64_t fee;
    uint64_t change;         /* sum of the change outputs */
    size_t change_outputs;
    uint64_t vsize;          /* of the signed transaction */
} kura_assemble_final;

/* Frees what final owns and clears it. NULL is a no-op. */
void kura_assemble_final_clear(kura_assemble_final *final);

/* Finalizes a copy of accumulated, extracts the transaction, and accepts it
 * only if:
 *   - every input can be finalized (THRESHOLD_NOT_MET);
 *   - every signature of the signed transaction verifies against the
 *     outputs it spends, taken from the funding transactions in the PSBT
 *     (kura_wallet_verify_tx) (SIGNATURE_INVALID; FUNDING_MISSING when an
 *     input has neither its funding tx nor a witness UTXO);
 *   - every input spends the wallet's own script (INPUT_FOREIGN);
 *   - its effects equal the intent as the signer's check reads them: each
 *     intent output (script and amount) paid exactly once, in any order
 *     (OUTPUT_MISSING, OUTPUT_DUPLICATE); every other output is the wallet's
 *     change, derived on the change branch at an index <= max_change_index
 *     (the meaning of kura_signer_state.max_change_index) (OUTPUT_UNEXPECTED,
 *     CHANGE_BEYOND_LIMIT); the fee within the intent's max-fee (FEE).
 * Change and inputs are found by their PSBT derivation records, then
 * lookup->locate, then lookup's scan, each checked by deriving the wallet.
 *   final: cleared on entry; on KURA_OK the transaction (owned); on
 *     KURA_EDATA only final->reason.
 *   accumulated: not changed.
 *   intent_text: the intent the approvers signed, exact bytes (INTENT when it
 *     does not parse or names another wallet).
 *   lookup: may be NULL.
 * Returns KURA_OK; KURA_EDATA; KURA_EINVAL; KURA_ERANGE; KURA_ENOMEM;
 * KURA_ECRYPTO. */
int kura_assemble_finalize(const kura_ctx *ctx, kura_assemble_final *final,
                           const kura_psbt *accumulated, const kura_descriptor *wallet,
                           const uint8_t *intent_text, size_t intent_len,
                           uint32_t max_change_index, const kura_assemble_lookup *lookup,
                           kura_error *err);

#ifdef __cplusplus
}
#endif

#endif /* KURA_ASSEMBLE_H */
