/* src/check/transaction.c — step 5 of the signer's check: the transaction
 * equals the intent. Every output is an intent output or the wallet's own
 * change; every input is the wallet's, with its amount proven; the fee is
 * within both caps; nothing is signed over that kura does not understand.
 *
 * The PSBT's records are hints, never proofs: a derivation path only tells
 * the check which (branch, index) to re-derive from the signer's own
 * descriptor, and the derived script must equal the script in the
 * transaction. An attacker can write any record; none makes a foreign
 * output pass for change or a foreign coin pass for the wallet's. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_internal.h"
#include "kura/script.h"
#include "kura/sighash.h"
#include "kura/tx.h"

typedef struct hint {
    uint32_t branch; /* the path's second-to-last step, as written */
    uint32_t index;  /* its last step */
} hint;

/* Collects the distinct (branch, index) pairs that derivation paths name:
 * kura's descriptors end every key's path in <branch>/<index>. */
static void add_hint(hint *hints, size_t *n, const uint32_t *path, size_t path_len)
{
    hint h;
    if (path == NULL || path_len < 2) return;
    h.branch = path[path_len - 2];
    h.index = path[path_len - 1];
    for (size_t i = 0; i < *n; i++)
        if (hints[i].branch == h.branch && hints[i].index == h.index) return;
    if (*n < KURA_CHECK_HINTS_MAX) hints[(*n)++] = h;
}

static int bytes_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static void outpoint_text(char out[80], const kura_psbt_input *in)
{
    char txid[65];
    kura_txid_to_hex(txid, in->prev_txid);
    snprintf(out, 80, "%s:%" PRIu32, txid, in->prev_vout);
}

/* Derives the wallet at (branch, index) into run->work. Returns KURA_OK,
 * KURA_ENOTFOUND (no such output of the wallet: branch out of range, a
 * hardened index, BIP32's invalid child) or KURA_ENOMEM. */
static int derive(kura_check_run *run, uint32_t branch, uint32_t index)
{
    const kura_descriptor *w = run->state->wallet;
    int rc;
    if (branch >= kura_descriptor_multipath_count(w) || index >= KURA_BIP32_HARDENED)
        return KURA_ENOTFOUND;
    rc = kura_descriptor_derive_cached(run->ctx, run->work, w, run->state->cache, branch, index,
                                       NULL);
    if (rc == KURA_ENOMEM) return rc;
    if (rc != KURA_OK || run->work->n_scripts != 1) return KURA_ENOTFOUND;
    return KURA_OK;
}

static int derived_is(const kura_check_run *run, const uint8_t *script, size_t len)
{
    const kura_descriptor_script_info *s = &run->work->scripts[0];
    return bytes_equal(s->script_pubkey, s->script_pubkey_len, script, len);
}

/* ---- 5a: the transaction's own fields ---- */

static int check_tx_fields(kura_check_run *run)
{
    const kura_psbt *psbt = run->psbt;
    /* One PSBT version, the one kura's updater writes. BIP370's version 2
     * adds fields that change what is signed (per-input required lock
     * times, TX_MODIFIABLE); a signer that reads them half would sign what
     * it did not check. */
    if (psbt->version != 0)
        return kura_check_i_refuse(run, KURA_REFUSE_UNKNOWN_FIELD,
                                   "PSBT version %" PRIu32 "; kura signs version 0 packages",
                                   psbt->version);
    /* Version 2 is what kura builds; another version changes the
     * transaction's meaning (v1 disables BIP68 relative lock times, v3 is
     * TRUC with its own relay rules) without anyone having approved that. */
    if (psbt->tx_version != 2)
        return kura_check_i_refuse(run, KURA_REFUSE_UNKNOWN_FIELD,
                                   "transaction version %" PRIu32 "; kura signs version 2",
                                   psbt->tx_version);
    /* A lock time would delay the payment to a time nobody approved (or
     * make it unminable while the intent expires). */
    if (psbt->locktime != 0)
        return kura_check_i_refuse(run, KURA_REFUSE_UNKNOWN_FIELD,
                                   "lock time %" PRIu32 "; kura signs lock time 0", psbt->locktime);
    /* 0xfffffffd (final, replaceable) and 0xffffffff (final): anything else
     * enables a BIP68 relative lock time or a lock time kura did not set. */
    for (size_t i = 0; i < psbt->input_count; i++) {
        uint32_t seq = psbt->inputs[i].sequence;
        if (seq != 0xfffffffdu && seq != 0xffffffffu)
            return kura_check_i_refuse(
                run, KURA_REFUSE_UNKNOWN_FIELD,
                "input %zu: sequence 0x%08" PRIx32 "; kura signs 0xfffffffd or 0xffffffff", i, seq);
    }
    return KURA_OK;
}

/* ---- 5b: the inputs ---- */

/* The records of input i must be the ones the wallet's descriptor derives:
 * scripts, taproot data and key origins. */
static int check_input_records(kura_check_run *run, size_t i)
{
    const kura_psbt_input *in = &run->psbt->inputs[i];
    const kura_descriptor_output *o = run->work;
    const kura_descriptor_script_info *s = &o->scripts[0];

    /* Redeem and witness scripts: a signer signs the witness script it is
     * given (BIP143 script code); only the wallet's own may be there. */
    if (in->has_redeem_script &&
        (s->redeem_script == NULL || !bytes_equal(in->redeem_script.data, in->redeem_script.len,
                                                  s->redeem_script, s->redeem_script_len)))
        return kura_check_i_refuse(run, KURA_REFUSE_UNKNOWN_FIELD,
                                   "input %zu: redeem script is not the wallet's", i);
    if (in->has_witness_script &&
        (s->witness_script == NULL || !bytes_equal(in->witness_script.data, in->witness_script.len,
                                                   s->witness_script, s->witness_script_len)))
        return kura_check_i_refuse(run, KURA_REFUSE_UNKNOWN_FIELD,
                                   "input %zu: witness script is not the wallet's", i);
    /* Taproot: internal key, merkle root and every leaf must be the
     * wallet's, so no foreign leaf (say `<signer key> OP_CHECKSIG`, or a
     * leaf with a time lock) is ever signed over. */
    if (in->has_tap_internal_key &&
        (!o->is_taproot || memcmp(in->tap_internal_key, o->internal_key, 32) != 0))
        return kura_check_i_refuse(run, KURA_REFUSE_UNKNOWN_FIELD,
                                   "input %zu: taproot internal key is not the wallet's", i);
    if (in->has_tap_merkle_root && (!o->is_taproot || !o->has_merkle_root ||
                                    memcmp(in->tap_merkle_root, o->merkle_root, 32) != 0))
        return kura_check_i_refuse(run, KURA_REFUSE_UNKNOWN_FIELD,
                                   "input %zu: taproot merkle root is not the wallet's", i);
    for (size_t k = 0; k < in->tap_leaf_script_count; k++) {
        const kura_psbt_tap_leaf_script *ls = &in->tap_leaf_scripts[k];
        int known = 0;
        for (size_t l = 0; l < o->n_leaves && !known; l++) {
            const kura_descriptor_leaf *dl = &o->leaves[l];
            known = ls->leaf_version == dl->leaf_version &&
                    bytes_equal(ls->script.data, ls->script.len, dl->script, dl->script_len) &&
                    bytes_equal(ls->control_block.data, ls->control_block.len, dl->control_block,
                                dl->control_block_len);
        }
        if (!known)
            return kura_check_i_refuse(run, KURA_REFUSE_UNKNOWN_FIELD,
                                       "input %zu: tap leaf script %zu is not one of the wallet's "
                                       "leaves",
                                       i, k + 1);
    }
    /* Key origins: each must be a key the descriptor derives here, at the
     * path it derives it at. A record for another path would make a
     * BIP32 signer derive and use a key the wallet never put in this
     * script. */
    for (size_t k = 0; k < in->bip32_count; k++) {
        const kura_psbt_bip32 *b = &in->bip32[k];
        int known = 0;
        for (size_t j = 0; j < o->n_keys && !known; j++) {
            const kura_descriptor_key_info *ki = &o->keys[j];
            known = bytes_equal(b->pubkey, b->pubkey_len, ki->pubkey, ki->pubkey_len) &&
                    memcmp(b->origin.fingerprint, ki->fingerprint, 4) == 0 &&
                    b->origin.path_len == ki->path_len &&
                    (ki->path_len == 0 ||
                     memcmp(b->origin.path, ki->path, ki->path_len * sizeof(uint32_t)) == 0);
        }
        if (!known)
            return kura_check_i_refuse(
                run, KURA_REFUSE_UNKNOWN_FIELD,
                "input %zu: derivation record %zu is not a key of the wallet "
                "at this index",
                i, k + 1);
    }
    for (size_t k = 0; k < in->tap_bip32_count; k++) {
        const kura_psbt_tap_bip32 *b = &in->tap_bip32[k];
        int known = 0;
        for (size_t j = 0; j < o->n_keys && !known; j++) {
            const kura_descriptor_key_info *ki = &o->keys[j];
            known = ki->pubkey_len == 32 && memcmp(b->xonly, ki->pubkey, 32) == 0 &&
                    memcmp(b->origin.fingerprint, ki->fingerprint, 4) == 0 &&
                    b->origin.path_len == ki->path_len &&
                    (ki->path_len == 0 ||
                     memcmp(b->origin.path, ki->path, ki->path_len * sizeof(uint32_t)) == 0);
        }
        /* Each leaf the record names must be a wallet leaf holding the key. */
        for (size_t h = 0; known && h < b->leaf_hash_count; h++) {
            int leaf_ok = 0;
            for (size_t j = 0; j < o->n_keys && !leaf_ok; j++) {
                const kura_descriptor_key_info *ki = &o->keys[j];
                leaf_ok = ki->pubkey_len == 32 && memcmp(b->xonly, ki->pubkey, 32) == 0 &&
                          ki->leaf != KURA_DESCRIPTOR_NO_LEAF && ki->leaf < o->n_leaves &&
                          memcmp(o->leaves[ki->leaf].leaf_hash, b->leaf_hashes + 32 * h, 32) == 0;
            }
            known = leaf_ok;
        }
        if (!known)
            return kura_check_i_refuse(run, KURA_REFUSE_UNKNOWN_FIELD,
                                       "input %zu: taproot derivation record %zu is not a key of "
                                       "the wallet at this index",
                                       i, k + 1);
    }
    return KURA_OK;
}

/* The records the PSBT signer needs to sign input i must all be there, so
 * that every package the signer would refuse after the operator's "yes" is
 * refused here, before the question is asked (the check is complete): the
 * wallet's redeem and witness scripts, its taproot internal key, merkle root
 * and leaves, and a derivation record for every key of the wallet in this
 * script (the check does not know which key is this signer's, so each
 * cosigner's must be present) naming every leaf the key is in. What is there
 * was already proved to be the wallet's (check_input_records). */
static int check_input_complete(kura_check_run *run, size_t i)
{
    const kura_psbt_input *in = &run->psbt->inputs[i];
    const kura_descriptor_output *o = run->work;
    const kura_descriptor_script_info *s = &o->scripts[0];

    if (s->redeem_script != NULL && !in->has_redeem_script)
        return kura_check_i_refuse(run, KURA_REFUSE_PACKAGE_MALFORMED,
                                   "input %zu: no redeem script; the signer needs the wallet's "
                                   "redeem script to sign it",
                                   i);
    if (s->witness_script != NULL && !in->has_witness_script)
        return kura_check_i_refuse(run, KURA_REFUSE_PACKAGE_MALFORMED,
                                   "input %zu: no witness script; the signer needs the wallet's "
                                   "witness script to sign it",
                                   i);
    if (o->is_taproot) {
        if (!in->has_tap_internal_key)
            return kura_check_i_refuse(run, KURA_REFUSE_PACKAGE_MALFORMED,
                                       "input %zu: no taproot internal key; the signer needs it "
                                       "to sign",
                                       i);
        if (o->has_merkle_root && !in->has_tap_merkle_root)
            return kura_check_i_refuse(run, KURA_REFUSE_PACKAGE_MALFORMED,
                                       "input %zu: no taproot merkle root; the signer needs the "
                                       "wallet's merkle root to sign it",
                                       i);
        for (size_t l = 0; l < o->n_leaves; l++) {
            const kura_descriptor_leaf *dl = &o->leaves[l];
            int found = 0;
            for (size_t k = 0; k < in->tap_leaf_script_count && !found; k++) {
                const kura_psbt_tap_leaf_script *ls = &in->tap_leaf_scripts[k];
                found = ls->leaf_version == dl->leaf_version &&
                        bytes_equal(ls->script.data, ls->script.len, dl->script, dl->script_len);
            }
            if (!found)
                return kura_check_i_refuse(run, KURA_REFUSE_PACKAGE_MALFORMED,
                                           "input %zu: the wallet's tap leaf %zu is missing; the "
                                           "signer needs it to sign",
                                           i, l + 1);
        }
    }
    for (size_t j = 0; j < o->n_keys; j++) {
        const kura_descriptor_key_info *ki = &o->keys[j];
        int found = 0;
        if (o->is_taproot) {
            for (size_t k = 0; k < in->tap_bip32_count && !found; k++) {
                const kura_psbt_tap_bip32 *b = &in->tap_bip32[k];
                if (ki->pubkey_len != 32 || memcmp(b->xonly, ki->pubkey, 32) != 0) continue;
                found = 1;
                if (ki->leaf == KURA_DESCRIPTOR_NO_LEAF || ki->leaf >= o->n_leaves) continue;
                found = 0;
                for (size_t h = 0; h < b->leaf_hash_count && !found; h++)
                    found = memcmp(b->leaf_hashes + 32 * h, o->leaves[ki->leaf].leaf_hash, 32) == 0;
            }
        } else {
            for (size_t k = 0; k < in->bip32_count && !found; k++)
                found = bytes_equal(in->bip32[k].pubkey, in->bip32[k].pubkey_len, ki->pubkey,
                                    ki->pubkey_len);
        }
        if (!found)
            return kura_check_i_refuse(run, KURA_REFUSE_PACKAGE_MALFORMED,
                                       "input %zu: no %sderivation record for key expression %zu "
                                       "of the wallet%s; its signer could not sign",
                                       i, o->is_taproot ? "taproot " : "", ki->expression + 1,
                                       ki->leaf != KURA_DESCRIPTOR_NO_LEAF && o->is_taproot
                                           ? " naming its leaf"
                                           : "");
    }
    return KURA_OK;
}

static int check_input(kura_check_run *run, size_t i, uint64_t *amount, size_t *script_sig_len,
                       size_t *witness_len, int *segwit)
{
    const kura_psbt *psbt = run->psbt;
    const kura_psbt_input *in = &psbt->inputs[i];
    const kura_txout *spent;
    hint hints[KURA_CHECK_HINTS_MAX];
    size_t nhints = 0;
    char where[80], what[KURA_ADDRESS_MAX + 16], btc[40];
    uint8_t txid[32];
    uint32_t sighash = 0;
    int matched = 0, rc;

    outpoint_text(where, in);
    /* Unknown records: a record kura cannot read may be one a newer signer
     * would act on (a new sighash mode, a new script path), so kura does
     * not sign beside it. Other tools' proprietary records are private to
     * them and change nothing that is signed. */
    for (size_t k = 0; k < in->unknown_count; k++) {
        kura_reader r;
        uint64_t type = 0;
        kura_reader_init(&r, in->unknowns[k].key, in->unknowns[k].key_len);
        if (!kura_read_compact_size(&r, &type) || type != KURA_PSBT_PROPRIETARY)
            return kura_check_i_refuse(run, KURA_REFUSE_UNKNOWN_FIELD,
                                       "input %zu: unknown record of key type 0x%" PRIx64, i, type);
    }
    /* Hash preimages belong to hash-locked scripts; kura's wallets have
     * none, so such a record means the PSBT was made for another script. */
    if (in->preimage_count > 0)
        return kura_check_i_refuse(run, KURA_REFUSE_UNKNOWN_FIELD,
                                   "input %zu: hash preimage records; kura's wallets use no hash "
                                   "locks",
                                   i);
    /* A finalized input carries a witness the check did not build; its size
     * would escape the fee-rate estimate. kura signs unfinalized inputs. */
    if (in->has_final_script_sig || in->has_final_script_witness)
        return kura_check_i_refuse(run, KURA_REFUSE_UNKNOWN_FIELD, "input %zu is already finalized",
                                   i);

    /* The amount, proven. The whole funding transaction must be here and
     * hash to the outpoint's txid, so the amount read from it is the amount
     * spent; a witness UTXO alone is only the coordinator's word. That
     * matters for segwit v0, whose BIP143 signature commits to its own
     * input's amount only (the fee attack: lie about another input's
     * amount and the fee shown is wrong). BIP341 signatures commit to every
     * input's amount, so a lie there makes the signature invalid rather
     * than the fee wrong; kura still asks for the funding transaction of
     * every input: one rule for every kind is simpler to check and to
     * audit, and a lying witness UTXO would still mis-state the fee shown
     * to the person confirming. */
    if (in->non_witness_utxo == NULL)
        return kura_check_i_refuse(run, KURA_REFUSE_INPUT_UNPROVEN,
                                   "input %zu (%s) has no funding transaction "
                                   "(PSBT_IN_NON_WITNESS_UTXO): its amount is unproven",
                                   i, where);
    if (kura_tx_txid(txid, in->non_witness_utxo) != KURA_OK || memcmp(txid, in->prev_txid, 32) != 0)
        return kura_check_i_refuse(run, KURA_REFUSE_INPUT_UNPROVEN,
                                   "input %zu (%s): the funding transaction given is another "
                                   "transaction",
                                   i, where);
    if (in->prev_vout >= in->non_witness_utxo->output_count)
        return kura_check_i_refuse(run, KURA_REFUSE_INPUT_UNPROVEN,
                                   "input %zu (%s): the funding transaction has no output %" PRIu32,
                                   i, where, in->prev_vout);
    spent = &in->non_witness_utxo->outputs[in->prev_vout];
    if (in->has_witness_utxo &&
        (in->witness_utxo.amount != spent->amount ||
         !bytes_equal(in->witness_utxo.script_pubkey.data, in->witness_utxo.script_pubkey.len,
                      spent->script_pubkey.data, spent->script_pubkey.len)))
        return kura_check_i_refuse(run, KURA_REFUSE_INPUT_UNPROVEN,
                                   "input %zu (%s): the witness UTXO says %" PRIu64
                                   " sat, the funding transaction %" PRIu64 " sat%s",
                                   i, where, in->witness_utxo.amount, spent->amount,
                                   in->witness_utxo.amount == spent->amount ? " (other script)"
                                                                            : "");
    *amount = spent->amount;

    /* The wallet's coin: the spent script must be what the wallet's own
     * descriptor derives at the (branch, index) the derivation records
     * name. Spending someone else's coin with the wallet's approvals would
     * not steal from the wallet, but the fee and the change arithmetic
     * would no longer describe the wallet's money. */
    for (size_t k = 0; k < in->bip32_count; k++)
        add_hint(hints, &nhints, in->bip32[k].origin.path, in->bip32[k].origin.path_len);
    for (size_t k = 0; k < in->tap_bip32_count; k++)
        add_hint(hints, &nhints, in->tap_bip32[k].origin.path, in->tap_bip32[k].origin.path_len);
    /* (The refusals name the script and amount; spelled only when needed.) */
    if (nhints == 0) {
        kura_check_i_describe_script(what, sizeof(what), spent->script_pubkey.data,
                                     spent->script_pubkey.len, run->network);
        kura_check_i_btc(btc, sizeof(btc), spent->amount);
        return kura_check_i_refuse(run, KURA_REFUSE_INPUT_FOREIGN,
                                   "input %zu spends %s (%s) and names no derivation of the wallet",
                                   i, what, btc);
    }
    for (size_t k = 0; k < nhints && !matched; k++) {
        rc = derive(run, hints[k].branch, hints[k].index);
        if (rc == KURA_ENOMEM) return rc;
        matched =
            rc == KURA_OK && derived_is(run, spent->script_pubkey.data, spent->script_pubkey.len);
    }
    if (!matched) {
        kura_check_i_describe_script(what, sizeof(what), spent->script_pubkey.data,
                                     spent->script_pubkey.len, run->network);
        kura_check_i_btc(btc, sizeof(btc), spent->amount);
        return kura_check_i_refuse(run, KURA_REFUSE_INPUT_FOREIGN,
                                   "input %zu spends %s (%s), which is not the wallet's at "
                                   ".../%" PRIu32 "/%" PRIu32,
                                   i, what, btc, hints[0].branch, hints[0].index);
    }
    rc = check_input_records(run, i);
    if (rc == KURA_OK) rc = check_input_complete(run, i);
    if (rc != KURA_OK) return rc;

    /* SIGHASH_ALL (or DEFAULT for taproot) only: NONE and SINGLE let
     * anyone redirect the outputs after signing, ANYONECANPAY lets them
     * add inputs (BIP143/BIP341 hash types). */
    /* The effective type is kura_psbt_input_sighash_type's with flags 0:
     * the recorded type, else DEFAULT for taproot and ALL otherwise; of
     * those only ALL, or DEFAULT on a taproot input, pass. It is decided
     * here from the spent output proven above, rather than through that
     * function, which would hash the funding transaction a second time. */
    {
        int taproot = kura_script_classify(spent->script_pubkey.data, spent->script_pubkey.len,
                                           NULL, NULL, NULL) == KURA_SCRIPT_P2TR;
        sighash = in->has_sighash_type ? in->sighash_type
                                       : (taproot ? KURA_SIGHASH_DEFAULT : KURA_SIGHASH_ALL);
        rc = sighash == KURA_SIGHASH_ALL || (taproot && sighash == KURA_SIGHASH_DEFAULT)
                 ? KURA_OK
                 : KURA_EDATA;
    }
    if (rc != KURA_OK)
        return kura_check_i_refuse(run, KURA_REFUSE_SIGHASH,
                                   "input %zu: sighash type 0x%" PRIx32
                                   " (kura signs SIGHASH_ALL, or SIGHASH_DEFAULT for taproot)",
                                   i, sighash);

    kura_check_i_input_size(script_sig_len, witness_len, segwit, run->work);
    return KURA_OK;
}

/* ---- 5c: the outputs ---- */

/* Is unmatched output o the wallet's change? */
static int check_change(kura_check_run *run, size_t o)
{
    const kura_psbt_output *out = &run->psbt->outputs[o];
    const kura_signer_state *st = run->state;
    hint hints[KURA_CHECK_HINTS_MAX];
    size_t nhints = 0;
    char what[KURA_ADDRESS_MAX + 16];
    int rc;

    for (size_t k = 0; k < out->bip32_count; k++)
        add_hint(hints, &nhints, out->bip32[k].origin.path, out->bip32[k].origin.path_len);
    for (size_t k = 0; k < out->tap_bip32_count; k++)
        add_hint(hints, &nhints, out->tap_bip32[k].origin.path, out->tap_bip32[k].origin.path_len);
    /* Not in the intent and not even claiming to be change: an output the
     * approvers never saw (the "output added" attack). */
    if (out->bip32_count == 0 && out->tap_bip32_count == 0) {
        kura_check_i_describe_script(what, sizeof(what), out->script_pubkey.data,
                                     out->script_pubkey.len, run->network);
        return kura_check_i_refuse(run, KURA_REFUSE_OUTPUT_UNEXPECTED,
                                   "output %zu pays %s %" PRIu64
                                   " sat, which is neither in the intent nor the wallet's change",
                                   o, what, out->amount);
    }
    /* It claims to be change. The claim is only a hint of which index to
     * derive: the output is change only if the signer's own descriptor, on
     * its change branch, at an index inside the gap limit, gives exactly
     * this script. So a fake derivation record with the wallet's
     * fingerprint on an attacker's output proves nothing. */
    for (size_t k = 0; k < nhints; k++) {
        if (hints[k].branch != KURA_DESCRIPTOR_BRANCH_CHANGE) continue;
        /* Beyond the gap limit the wallet would never look for the coins:
         * change sent there is lost to the wallet's own scanning. */
        if (hints[k].index > st->max_change_index) continue;
        rc = derive(run, hints[k].branch, hints[k].index);
        if (rc == KURA_ENOMEM) return rc;
        if (rc == KURA_OK && derived_is(run, out->script_pubkey.data, out->script_pubkey.len)) {
            run->roles[o].is_change = 1;
            run->roles[o].change_index = hints[k].index;
            return KURA_OK;
        }
    }
    /* Refused: say what was wrong with the first claim. */
    kura_check_i_describe_script(what, sizeof(what), out->script_pubkey.data,
                                 out->script_pubkey.len, run->network);
    if (nhints == 0)
        return kura_check_i_refuse(run, KURA_REFUSE_CHANGE_FOREIGN,
                                   "output %zu pays %s %" PRIu64 " sat as change, but its "
                                   "derivation names no branch and index",
                                   o, what, out->amount);
    if (hints[0].branch == KURA_DESCRIPTOR_BRANCH_RECEIVE) {
        /* Change on the receive branch would look like a deposit to the
         * coordinator's books, and a receive address may have been handed
         * out to someone. */
        return kura_check_i_refuse(run, KURA_REFUSE_CHANGE_FOREIGN,
                                   "output %zu pays %s %" PRIu64 " sat as change on the receive "
                                   "branch (index %" PRIu32 "); change goes to branch 1",
                                   o, what, out->amount, hints[0].index);
    }
    if (hints[0].branch == KURA_DESCRIPTOR_BRANCH_CHANGE && hints[0].index > st->max_change_index)
        return kura_check_i_refuse(run, KURA_REFUSE_CHANGE_FOREIGN,
                                   "output %zu pays %s %" PRIu64 " sat as change at index %" PRIu32
                                   ", beyond the change limit %" PRIu32,
                                   o, what, out->amount, hints[0].index, st->max_change_index);
    return kura_check_i_refuse(run, KURA_REFUSE_CHANGE_FOREIGN,
                               "output %zu pays %s %" PRIu64 " sat as change at .../%" PRIu32
                               "/%" PRIu32 ", but the wallet's descriptor does not derive it there",
                               o, what, out->amount, hints[0].branch, hints[0].index);
}

static int check_outputs(kura_check_run *run)
{
    const kura_psbt *psbt = run->psbt;
    const kura_intent *in = run->intent;
    unsigned char *used;
    int rc = KURA_OK;

    used = calloc(in->output_count, 1);
    if (used == NULL) return KURA_ENOMEM;
    for (size_t o = 0; o < psbt->output_count; o++) run->roles[o].intent_output = SIZE_MAX;
    /* Multiset matching: each intent output (script and amount) takes one
     * transaction output of the same script and amount, so an intent that
     * pays one address twice needs two outputs, and one output cannot
     * stand for two intent outputs. */
    for (size_t o = 0; o < psbt->output_count; o++) {
        const kura_psbt_output *out = &psbt->outputs[o];
        for (size_t j = 0; j < in->output_count; j++) {
            const kura_intent_output *io = &in->outputs[j];
            if (used[j] || io->amount != out->amount ||
                !bytes_equal(io->script, io->script_len, out->script_pubkey.data,
                             out->script_pubkey.len))
                continue;
            used[j] = 1;
            run->roles[o].intent_output = j;
            break;
        }
    }
    /* Every intent output is paid, exactly: a swapped destination or a
     * changed amount leaves the approved (script, amount) unpaid, and is
     * refused here (OUTPUT_MISSING) before the replacement output is looked
     * at. */
    for (size_t j = 0; j < in->output_count && rc == KURA_OK; j++) {
        const kura_intent_output *io = &in->outputs[j];
        size_t other = SIZE_MAX;
        if (used[j]) continue;
        for (size_t o = 0; o < psbt->output_count && other == SIZE_MAX; o++)
            if (run->roles[o].intent_output == SIZE_MAX &&
                bytes_equal(io->script, io->script_len, psbt->outputs[o].script_pubkey.data,
                            psbt->outputs[o].script_pubkey.len))
                other = o;
        if (other != SIZE_MAX)
            rc = kura_check_i_refuse(run, KURA_REFUSE_OUTPUT_MISSING,
                                     "intent output %zu (%s, %" PRIu64 " sat) is not in the "
                                     "transaction: output %zu pays that address %" PRIu64 " sat",
                                     j + 1, io->address, io->amount, other,
                                     psbt->outputs[other].amount);
        else
            rc = kura_check_i_refuse(run, KURA_REFUSE_OUTPUT_MISSING,
                                     "intent output %zu (%s, %" PRIu64
                                     " sat) is not in the transaction",
                                     j + 1, io->address, io->amount);
    }
    free(used);
    if (rc != KURA_OK) return rc;
    /* Every other output: a second copy of an intent output (the approvers
     * asked for one payment, not two), else the wallet's change. */
    for (size_t o = 0; o < psbt->output_count; o++) {
        const kura_psbt_output *out = &psbt->outputs[o];
        if (run->roles[o].intent_output != SIZE_MAX) continue;
        for (size_t j = 0; j < in->output_count; j++) {
            const kura_intent_output *io = &in->outputs[j];
            if (io->amount == out->amount &&
                bytes_equal(io->script, io->script_len, out->script_pubkey.data,
                            out->script_pubkey.len))
                return kura_check_i_refuse(run, KURA_REFUSE_OUTPUT_DUPLICATE,
                                           "output %zu pays intent output %zu (%s, %" PRIu64
                                           " sat) a second time",
                                           o, j + 1, io->address, io->amount);
        }
        rc = check_change(run, o);
        if (rc != KURA_OK) return rc;
        run->change += out->amount; /* <= MAX_MONEY in total: checked below */
        run->change_outputs++;
    }
    return KURA_OK;
}

/* ---- step 5 ---- */

int kura_check_i_transaction(kura_check_run *run)
{
    const kura_psbt *psbt = run->psbt;
    const kura_policy *p = run->policy;
    size_t *ssl = NULL, *wl = NULL;
    int any_segwit = 0, rc;
    uint64_t limit;
    char btc[40];

    rc = check_tx_fields(run);
    if (rc != KURA_OK) return rc;
    run->work = kura_descriptor_output_new();
    run->roles = calloc(psbt->output_count, sizeof(*run->roles));
    ssl = calloc(psbt->input_count, sizeof(*ssl));
    wl = calloc(psbt->input_count, sizeof(*wl));
    if (run->work == NULL || run->roles == NULL || ssl == NULL || wl == NULL) {
        rc = KURA_ENOMEM;
        goto done;
    }

    for (size_t i = 0; i < psbt->input_count; i++) {
        uint64_t amount = 0;
        int segwit = 0;
        rc = check_input(run, i, &amount, &ssl[i], &wl[i], &segwit);
        if (rc != KURA_OK) goto done;
        any_segwit |= segwit;
        /* Each amount is at most MAX_MONEY (the parser's rule), so the sum
         * cannot wrap before this test fires. */
        run->in_total += amount;
        if (run->in_total > KURA_MAX_MONEY) {
            rc = kura_check_i_refuse(run, KURA_REFUSE_PACKAGE_MALFORMED,
                                     "the inputs' proven amounts exceed 21 million BTC");
            goto done;
        }
    }

    rc = check_outputs(run);
    if (rc != KURA_OK) goto done;
    for (size_t o = 0; o < psbt->output_count; o++) {
        run->out_total += psbt->outputs[o].amount;
        if (run->out_total > KURA_MAX_MONEY) {
            rc = kura_check_i_refuse(run, KURA_REFUSE_PACKAGE_MALFORMED,
                                     "the outputs exceed 21 million BTC");
            goto done;
        }
    }
    /* No transaction can spend more than its inputs; the one that tries is
     * invalid, and its "fee" would be meaningless. */
    if (run->out_total > run->in_total) {
        rc = kura_check_i_refuse(run, KURA_REFUSE_PACKAGE_MALFORMED,
                                 "the outputs (%" PRIu64 " sat) exceed the proven inputs (%" PRIu64
                                 " sat)",
                                 run->out_total, run->in_total);
        goto done;
    }
    run->fee = run->in_total - run->out_total;
    run->vsize = kura_check_i_vsize(psbt, ssl, wl, any_segwit);

    /* The fee is money leaving the wallet too: the approvers capped it in
     * the intent (an inflated fee pays a miner the attacker may control),
     * and the policy caps it and its rate for every transfer. */
    if (run->fee > run->intent->max_fee) {
        kura_check_i_btc(btc, sizeof(btc), run->fee);
        rc = kura_check_i_refuse(run, KURA_REFUSE_FEE_INTENT,
                                 "fee %s (%" PRIu64 " sat) is over the intent's max-fee of %" PRIu64
                                 " sat",
                                 btc, run->fee, run->intent->max_fee);
        goto done;
    }
    if (run->fee > p->max_fee) {
        kura_check_i_btc(btc, sizeof(btc), run->fee);
        rc = kura_check_i_refuse(run, KURA_REFUSE_FEE_POLICY,
                                 "fee %s (%" PRIu64 " sat) is over the policy's max-fee of %" PRIu64
                                 " sat",
                                 btc, run->fee, p->max_fee);
        goto done;
    }
    /* Rate: fee > rate * vsize, compared exactly (no rounded division).
     * vsize is a floor of the finalized size, so the rate is never
     * underestimated (docs/signer-check.md, "The size estimate"). */
    if (run->vsize > 0 && p->max_fee_rate > UINT64_MAX / run->vsize)
        limit = UINT64_MAX;
    else
        limit = p->max_fee_rate * run->vsize;
    if (run->fee > limit) {
        uint64_t tenths = run->vsize > 0 ? (run->fee * 10 + run->vsize - 1) / run->vsize : 0;
        rc = kura_check_i_refuse(run, KURA_REFUSE_FEE_POLICY,
                                 "fee rate %" PRIu64 ".%" PRIu64 " sat/vB (%" PRIu64
                                 " sat for an estimated %" PRIu64 " vB) is over the policy's "
                                 "max-fee-rate of %" PRIu64 " sat/vB",
                                 tenths / 10, tenths % 10, run->fee, run->vsize, p->max_fee_rate);
        goto done;
    }
    rc = KURA_OK;
done:
    free(ssl);
    free(wl);
    if (rc == KURA_ENOMEM) {
        run->result->reason = KURA_REFUSE_NONE;
        snprintf(run->result->message, sizeof(run->result->message), "check: out of memory");
    }
    return rc;
}
