/*
 * kura/wallet.h — PSBTs for a descriptor wallet: the BIP174 Updater that
 * fills in, from the wallet's own descriptor, everything a signer needs to
 * sign an input and to recognise a change output.
 *
 * A kura wallet is one descriptor with a receive and a change branch (a
 * BIP389 multipath step `<0;1>` followed by the wildcard), e.g.
 * wsh(sortedmulti(2,[f/48h/0h/0h/2h]xpub/<0;1>/STAR,...)) with STAR the `*`.
 * A coin or a change output is named by (branch, index) in that descriptor.
 */
#ifndef KURA_WALLET_H
#define KURA_WALLET_H

#include <stddef.h>
#include <stdint.h>

#include "kura/common.h"
#include "kura/descriptor.h"
#include "kura/keys.h"
#include "kura/psbt.h"
#include "kura/tx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A coin of the wallet to spend. */
typedef struct kura_wallet_coin {
    uint8_t txid[32];      /* the funding transaction, internal byte order */
    uint32_t vout;
    uint64_t amount;       /* satoshis */
    size_t branch;         /* descriptor branch (0 receive, 1 change) */
    uint32_t index;        /* child index on that branch */
    const kura_tx *prev_tx; /* the whole funding transaction, or NULL. kura's
                              signer requires it for segwit v0 inputs, whose
                              signatures commit to the amount only through
                              BIP143 and so can be fooled about it. */
    uint32_t sequence;     /* 0 means 0xfffffffd (final, RBF-signalling) */
} kura_wallet_coin;

/* An output to pay: a scriptPubKey and an amount. */
typedef struct kura_wallet_payment {
    const uint8_t *script_pubkey;
    size_t script_pubkey_len;
    uint64_t amount;
} kura_wallet_payment;

/* Updater for one input: derives the descriptor at (branch, index), checks
 * that it gives spent_script (when spent_script is not NULL), and records the
 * witness UTXO (amount, script), the non-witness UTXO when prev_tx is given,
 * the redeem and witness scripts, and every key's origin: BIP32 derivations
 * for ECDSA keys; for taproot the internal key, the merkle root, every leaf
 * script with its control block, and one TAP_BIP32_DERIVATION per x-only key
 * listing every leaf that uses it (BIP371).
 *   work: scratch from kura_descriptor_output_new, reused across calls.
 * Returns KURA_OK; KURA_EDATA (the derived script is not the spent one, or
 * prev_tx is not the funding transaction; message in err); KURA_EINVAL;
 * KURA_ENOMEM; KURA_ECRYPTO. On failure the input may hold some of the
 * fields: callers discard the PSBT. */
int kura_wallet_update_input(const kura_ctx *ctx, kura_psbt *psbt, size_t input_index,
                             kura_descriptor_output *work, const kura_descriptor *desc,
                             size_t branch, uint32_t index, uint64_t amount,
                             const kura_tx *prev_tx, kura_error *err);

/* Updater for one output that pays the wallet itself (change): checks that
 * the output's script is the descriptor's at (branch, index) — KURA_EDATA
 * otherwise — and records the redeem/witness script and key origins (for
 * taproot: internal key, tap tree, TAP_BIP32_DERIVATION). Returns as
 * kura_wallet_update_input. */
int kura_wallet_update_output(const kura_ctx *ctx, kura_psbt *psbt, size_t output_index,
                              kura_descriptor_output *work, const kura_descriptor *desc,
                              size_t branch, uint32_t index, kura_error *err);

/* Creator + Updater: a version 0 PSBT of a version 2 transaction (locktime as
 * given) spending coins[0..coin_count) to payments[0..payment_count), in that
 * order, followed by a change output at (KURA_DESCRIPTOR_BRANCH_CHANGE,
 * change_index) of change_amount satoshis when change_amount > 0. Every input
 * and the change output are updated as above. The fee is what the inputs
 * leave over; KURA_EDATA if the outputs exceed the inputs.
 *   out: receives the PSBT (free with kura_psbt_free); NULL on failure.
 * Returns KURA_OK, KURA_EDATA, KURA_ERANGE (amounts over 21e6 BTC), KURA_EINVAL,
 * KURA_ENOMEM, KURA_ECRYPTO. */
int kura_wallet_create_psbt(const kura_ctx *ctx, kura_psbt **out, const kura_descriptor *desc,
                            const kura_wallet_coin *coins, size_t coin_count,
                            const kura_wallet_payment *payments, size_t payment_count,
                            uint64_t change_amount, uint32_t change_index, uint32_t locktime,
                            kura_error *err);

/* ---- checking signatures ----
 *
 * These recompute every signature hash from the transaction and the outputs
 * it spends, independently of the PSBT signer, and verify each signature
 * against it. They answer "is every signature here valid for this
 * transaction?", not "is the transaction complete?" and not "may it be
 * signed?" (that is the signer's check).
 *
 * The templates they understand, for signatures held in a PSBT or in final
 * scripts: P2PKH; P2SH (legacy) and P2WSH / P2SH-P2WSH whose script is a
 * multisig (OP_m <keys> OP_n OP_CHECKMULTISIG) or `<pubkey> OP_CHECKSIG`;
 * P2WPKH and P2SH-P2WPKH; P2TR key path; P2TR script path with tapscript
 * (leaf version 0xc0) leaves. Final tapscript stacks are checked for multi_a
 * / sortedmulti_a and `<xonly> OP_CHECKSIG` leaves. A signature over a script
 * holding OP_CODESEPARATOR, an ECDSA signature with a non-standard sighash
 * byte, and final scripts of any other form are refused (KURA_EDATA): what
 * cannot be checked is never reported as checked.
 *
 * Sighashes: legacy for P2PKH and legacy P2SH; BIP143 with the spent amount
 * for segwit v0, with the P2PKH script code for P2WPKH and the witness script
 * for P2WSH; BIP341/342 for taproot, which commit to every input's spent
 * output, so every input needs its UTXO. The key path is checked against the
 * output key of the spent script; a script-path signature against the key it
 * names, for the leaf of PSBT_IN_TAP_LEAF_SCRIPT whose hash it names, after
 * checking that the leaf's control block commits to the output key. */

/* Verifies every PSBT_IN_PARTIAL_SIG, PSBT_IN_TAP_KEY_SIG and
 * PSBT_IN_TAP_SCRIPT_SIG of psbt, and the signatures in the final scriptSig
 * and witness of every finalized input. An input's spent output comes from
 * its non-witness UTXO (whose txid must be the outpoint's, and whose output
 * must equal any witness UTXO) or its witness UTXO. ECDSA signatures must be
 * strict DER with low S; each must carry the input's PSBT_IN_SIGHASH_TYPE
 * when one is set, and its key must appear in the input's script (the key
 * hash for P2PKH/P2WPKH). Inputs with no signature and no final script are
 * skipped; an empty PSBT of signatures gives KURA_OK with *checked 0.
 *   ctx: a kura context (may be NULL: verification touches no secret).
 *   checked: receives the number of signatures verified (0 on failure).
 *   psbt: not changed.
 *   err: may be NULL; on failure names the first bad input and the key, e.g.
 *     "wallet: input 2: signature by 02ab...: does not verify".
 * Returns KURA_OK (every signature verifies); KURA_EDATA (a signature does not
 * verify, names a key with no part in the input, its data is inconsistent, or
 * it cannot be checked); KURA_EINVAL (NULL argument); KURA_ENOMEM. */
int kura_wallet_verify_psbt(const kura_ctx *ctx, size_t *checked, const kura_psbt *psbt,
                            kura_error *err);

/* Verifies the signatures in every input's scriptSig and witness of a signed
 * transaction, spent[i] being the output input i spends (tx->input_count
 * entries), under the templates above. Every input must be signed. For the
 * multisig templates the stack must hold exactly the signatures the script
 * needs (CHECKMULTISIG: m signatures in key order after an empty dummy;
 * multi_a: one item per key, in reverse key order, empty for unused keys,
 * exactly m valid). This checks signatures, not the whole of consensus.
 * Returns and err as kura_wallet_verify_psbt (KURA_EDATA also for an input
 * without scriptSig or witness). */
int kura_wallet_verify_tx(const kura_ctx *ctx, size_t *checked, const kura_tx *tx,
                          const kura_txout *spent, kura_error *err);

#ifdef __cplusplus
}
#endif

#endif /* KURA_WALLET_H */
