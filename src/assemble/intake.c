/* src/assemble/intake.c — one signer's signed PSBT, taken in.
 *
 * The upload comes from outside (a file, a QR code, the hot signer's
 * outbox) and may come from anyone. It is combined into the accumulated PSBT
 * only when it is the same transaction and brings nothing but valid
 * SIGHASH_ALL signatures: an upload that also swapped a UTXO record, a
 * witness script, a derivation or a global record would otherwise ride into
 * the PSBT the coordinator finalizes or sends to the next signer. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "assemble_internal.h"
#include "kura/sighash.h"

void kura_assemble_progress_clear(kura_assemble_progress *progress)
{
    if (progress == NULL) return;
    free(progress->signatures);
    memset(progress, 0, sizeof(*progress));
}

static int bytes_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static int origin_eq(const kura_psbt_keyorigin *a, const kura_psbt_keyorigin *b)
{
    return memcmp(a->fingerprint, b->fingerprint, 4) == 0 && a->path_len == b->path_len &&
           (a->path_len == 0 || memcmp(a->path, b->path, a->path_len * sizeof(uint32_t)) == 0);
}

static int kv_in(const kura_psbt_kv *kv, const kura_psbt_kv *set, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (bytes_eq(kv->key, kv->key_len, set[k].key, set[k].key_len))
            return bytes_eq(kv->value, kv->value_len, set[k].value, set[k].value_len);
    return 0;
}

static int bip32_in(const kura_psbt_bip32 *b, const kura_psbt_bip32 *set, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (bytes_eq(b->pubkey, b->pubkey_len, set[k].pubkey, set[k].pubkey_len))
            return origin_eq(&b->origin, &set[k].origin);
    return 0;
}

static int tap_bip32_in(const kura_psbt_tap_bip32 *b, const kura_psbt_tap_bip32 *set, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (memcmp(b->xonly, set[k].xonly, 32) == 0)
            return origin_eq(&b->origin, &set[k].origin) &&
                   b->leaf_hash_count == set[k].leaf_hash_count &&
                   (b->leaf_hash_count == 0 ||
                    memcmp(b->leaf_hashes, set[k].leaf_hashes, 32 * b->leaf_hash_count) == 0);
    return 0;
}

/* The unsigned transactions are the same. */
static int same_tx(const kura_psbt *a, const kura_psbt *u, kura_error *err)
{
    kura_assemble_reason *none = NULL;
    if (u->tx_version != a->tx_version || u->locktime != a->locktime)
        return kura_assemble_i_refuse(none, err, KURA_ASSEMBLE_TX_MISMATCH,
                                      "the upload's transaction version or lock time differs");
    if (u->input_count != a->input_count || u->output_count != a->output_count)
        return kura_assemble_i_refuse(none, err, KURA_ASSEMBLE_TX_MISMATCH,
                                      "the upload has %zu inputs and %zu outputs; the package "
                                      "%zu and %zu",
                                      u->input_count, u->output_count, a->input_count,
                                      a->output_count);
    for (size_t i = 0; i < a->input_count; i++)
        if (memcmp(u->inputs[i].prev_txid, a->inputs[i].prev_txid, 32) != 0 ||
            u->inputs[i].prev_vout != a->inputs[i].prev_vout ||
            u->inputs[i].sequence != a->inputs[i].sequence)
            return kura_assemble_i_refuse(none, err, KURA_ASSEMBLE_TX_MISMATCH,
                                          "the upload's input %zu differs", i);
    for (size_t o = 0; o < a->output_count; o++)
        if (u->outputs[o].amount != a->outputs[o].amount ||
            !bytes_eq(u->outputs[o].script_pubkey.data, u->outputs[o].script_pubkey.len,
                      a->outputs[o].script_pubkey.data, a->outputs[o].script_pubkey.len))
            return kura_assemble_i_refuse(none, err, KURA_ASSEMBLE_TX_MISMATCH,
                                          "the upload's output %zu differs", o);
    return KURA_OK;
}

#define ADDED(what) \
    kura_assemble_i_refuse(NULL, err, KURA_ASSEMBLE_FIELD_ADDED, what)

/* Input i of the upload holds signatures and otherwise only what the
 * accumulated input holds. */
static int input_adds_nothing(const kura_psbt_input *a, const kura_psbt_input *u, size_t i,
                              kura_error *err)
{
    uint8_t t1[32], t2[32];
    if (u->has_final_script_sig || u->has_final_script_witness)
        return kura_assemble_i_refuse(NULL, err, KURA_ASSEMBLE_FIELD_ADDED,
                                      "input %zu: the upload finalizes the input", i);
    if (u->non_witness_utxo != NULL &&
        (a->non_witness_utxo == NULL || kura_tx_txid(t1, u->non_witness_utxo) != KURA_OK ||
         kura_tx_txid(t2, a->non_witness_utxo) != KURA_OK || memcmp(t1, t2, 32) != 0))
        goto changed;
    if (u->has_witness_utxo &&
        (!a->has_witness_utxo || u->witness_utxo.amount != a->witness_utxo.amount ||
         !bytes_eq(u->witness_utxo.script_pubkey.data, u->witness_utxo.script_pubkey.len,
                   a->witness_utxo.script_pubkey.data, a->witness_utxo.script_pubkey.len)))
        goto changed;
    if (u->has_sighash_type && (!a->has_sighash_type || u->sighash_type != a->sighash_type))
        goto changed;
    if (u->has_redeem_script &&
        (!a->has_redeem_script || !bytes_eq(u->redeem_script.data, u->redeem_script.len,
                                            a->redeem_script.data, a->redeem_script.len)))
        goto changed;
    if (u->has_witness_script &&
        (!a->has_witness_script || !bytes_eq(u->witness_script.data, u->witness_script.len,
                                             a->witness_script.data, a->witness_script.len)))
        goto changed;
    if (u->has_tap_internal_key &&
        (!a->has_tap_internal_key || memcmp(u->tap_internal_key, a->tap_internal_key, 32) != 0))
        goto changed;
    if (u->has_tap_merkle_root &&
        (!a->has_tap_merkle_root || memcmp(u->tap_merkle_root, a->tap_merkle_root, 32) != 0))
        goto changed;
    if (u->preimage_count > 0) goto changed;
    for (size_t k = 0; k < u->bip32_count; k++)
        if (!bip32_in(&u->bip32[k], a->bip32, a->bip32_count)) goto changed;
    for (size_t k = 0; k < u->tap_bip32_count; k++)
        if (!tap_bip32_in(&u->tap_bip32[k], a->tap_bip32, a->tap_bip32_count)) goto changed;
    for (size_t k = 0; k < u->tap_leaf_script_count; k++) {
        const kura_psbt_tap_leaf_script *l = &u->tap_leaf_scripts[k];
        int found = 0;
        for (size_t j = 0; j < a->tap_leaf_script_count && !found; j++)
            found = l->leaf_version == a->tap_leaf_scripts[j].leaf_version &&
                    bytes_eq(l->script.data, l->script.len, a->tap_leaf_scripts[j].script.data,
                             a->tap_leaf_scripts[j].script.len) &&
                    bytes_eq(l->control_block.data, l->control_block.len,
                             a->tap_leaf_scripts[j].control_block.data,
                             a->tap_leaf_scripts[j].control_block.len);
        if (!found) goto changed;
    }
    for (size_t k = 0; k < u->unknown_count; k++)
        if (!kv_in(&u->unknowns[k], a->unknowns, a->unknown_count)) goto changed;
    return KURA_OK;
changed:
    return kura_assemble_i_refuse(NULL, err, KURA_ASSEMBLE_FIELD_ADDED,
                                  "input %zu: the upload adds or changes a record other than a "
                                  "signature",
                                  i);
}

static int output_adds_nothing(const kura_psbt_output *a, const kura_psbt_output *u, size_t o,
                               kura_error *err)
{
    if (u->has_redeem_script &&
        (!a->has_redeem_script || !bytes_eq(u->redeem_script.data, u->redeem_script.len,
                                            a->redeem_script.data, a->redeem_script.len)))
        goto changed;
    if (u->has_witness_script &&
        (!a->has_witness_script || !bytes_eq(u->witness_script.data, u->witness_script.len,
                                             a->witness_script.data, a->witness_script.len)))
        goto changed;
    if (u->has_tap_internal_key &&
        (!a->has_tap_internal_key || memcmp(u->tap_internal_key, a->tap_internal_key, 32) != 0))
        goto changed;
    if (u->tap_tree_count > 0) {
        if (u->tap_tree_count != a->tap_tree_count) goto changed;
        for (size_t k = 0; k < u->tap_tree_count; k++)
            if (u->tap_tree[k].depth != a->tap_tree[k].depth ||
                u->tap_tree[k].leaf_version != a->tap_tree[k].leaf_version ||
                !bytes_eq(u->tap_tree[k].script.data, u->tap_tree[k].script.len,
                          a->tap_tree[k].script.data, a->tap_tree[k].script.len))
                goto changed;
    }
    for (size_t k = 0; k < u->bip32_count; k++)
        if (!bip32_in(&u->bip32[k], a->bip32, a->bip32_count)) goto changed;
    for (size_t k = 0; k < u->tap_bip32_count; k++)
        if (!tap_bip32_in(&u->tap_bip32[k], a->tap_bip32, a->tap_bip32_count)) goto changed;
    for (size_t k = 0; k < u->unknown_count; k++)
        if (!kv_in(&u->unknowns[k], a->unknowns, a->unknown_count)) goto changed;
    return KURA_OK;
changed:
    return kura_assemble_i_refuse(NULL, err, KURA_ASSEMBLE_FIELD_ADDED,
                                  "output %zu: the upload adds or changes a record", o);
}

static int globals_add_nothing(const kura_psbt *a, const kura_psbt *u, kura_error *err)
{
    if (u->has_version_field && !a->has_version_field) return ADDED("a global version record");
    for (size_t k = 0; k < u->unknown_count; k++)
        if (!kv_in(&u->unknowns[k], a->unknowns, a->unknown_count))
            return ADDED("the upload adds or changes a global record");
    for (size_t k = 0; k < u->xpub_count; k++) {
        int found = 0;
        for (size_t j = 0; j < a->xpub_count && !found; j++)
            found = memcmp(u->xpubs[k].xpub, a->xpubs[j].xpub, 78) == 0 &&
                    origin_eq(&u->xpubs[k].origin, &a->xpubs[j].origin);
        if (!found) return ADDED("the upload adds or changes a global xpub");
    }
    return KURA_OK;
}

/* SIGHASH_ALL only (SIGHASH_DEFAULT for BIP340): a NONE or SINGLE signature
 * lets whoever holds it redirect outputs, ANYONECANPAY lets them add
 * inputs, in the transaction the coordinator is about to broadcast. */
static int sighashes_all(const kura_psbt_input *u, size_t i, kura_error *err)
{
    for (size_t k = 0; k < u->partial_sig_count; k++)
        if (u->partial_sigs[k].sig_len == 0 ||
            u->partial_sigs[k].sig[u->partial_sigs[k].sig_len - 1] != KURA_SIGHASH_ALL)
            return kura_assemble_i_refuse(NULL, err, KURA_ASSEMBLE_SIGHASH,
                                          "input %zu: an ECDSA signature that is not "
                                          "SIGHASH_ALL",
                                          i);
    if (u->tap_key_sig_len == 65 && u->tap_key_sig[64] != KURA_SIGHASH_ALL)
        return kura_assemble_i_refuse(NULL, err, KURA_ASSEMBLE_SIGHASH,
                                      "input %zu: a taproot key signature that is not "
                                      "SIGHASH_DEFAULT or ALL",
                                      i);
    for (size_t k = 0; k < u->tap_script_sig_count; k++)
        if (u->tap_script_sigs[k].sig_len == 65 &&
            u->tap_script_sigs[k].sig[64] != KURA_SIGHASH_ALL)
            return kura_assemble_i_refuse(NULL, err, KURA_ASSEMBLE_SIGHASH,
                                          "input %zu: a taproot script signature that is not "
                                          "SIGHASH_DEFAULT or ALL",
                                          i);
    return KURA_OK;
}

/* m of a wallet's spending script, from its derivation at (0, 0). */
static unsigned threshold_of(const kura_ctx *ctx, const kura_descriptor *wallet)
{
    kura_descriptor_output *w = kura_descriptor_output_new();
    unsigned m = 1;
    if (w == NULL) return 1;
    if (kura_descriptor_derive(ctx, w, wallet, 0, 0, NULL) == KURA_OK && w->n_scripts == 1) {
        const kura_descriptor_script_info *s = &w->scripts[0];
        if (s->witness_script != NULL && s->witness_script_len > 0) {
            uint8_t op = s->witness_script[0];
            if (op >= 0x51 && op <= 0x60) m = (unsigned)(op - 0x50);
            else if (op == 0x01 && s->witness_script_len > 1) m = s->witness_script[1];
        } else if (w->is_taproot && w->has_merkle_root) {
            /* Key path unless the internal key is BIP341's NUMS point; else
             * the smallest m of the leaves (multi_a ends OP_m OP_NUMEQUAL,
             * pk() is <x> OP_CHECKSIG). */
            static const uint8_t NUMS[32] = {
                0x50, 0x92, 0x9b, 0x74, 0xc1, 0xa0, 0x49, 0x54, 0xb7, 0x8b, 0x4b,
                0x60, 0x35, 0xe9, 0x7a, 0x5e, 0x07, 0x8a, 0x5a, 0x0f, 0x28, 0xec,
                0x96, 0xd5, 0x47, 0xbf, 0xee, 0x9a, 0xce, 0x80, 0x3a, 0xc0};
            if (memcmp(w->internal_key, NUMS, 32) == 0) {
                unsigned best = 0;
                for (size_t l = 0; l < w->n_leaves; l++) {
                    const uint8_t *sc = w->leaves[l].script;
                    size_t len = w->leaves[l].script_len;
                    unsigned lm = 0;
                    if (len == 34 && sc[33] == 0xac) lm = 1;
                    else if (len >= 2 && sc[len - 1] == 0x9c && sc[len - 2] >= 0x51 &&
                             sc[len - 2] <= 0x60)
                        lm = (unsigned)(sc[len - 2] - 0x50);
                    else if (len >= 3 && sc[len - 1] == 0x9c && sc[len - 3] == 0x01)
                        lm = sc[len - 2];
                    if (lm > 0 && (best == 0 || lm < best)) best = lm;
                }
                if (best > 0) m = best;
            }
        }
    }
    kura_descriptor_output_free(w);
    return m;
}

static size_t total_signatures(const kura_psbt *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->input_count; i++) n += kura_assemble_i_signature_count(&p->inputs[i]);
    return n;
}

int kura_assemble_intake(const kura_ctx *ctx, kura_assemble_progress *progress,
                         kura_psbt *accumulated, const kura_descriptor *wallet,
                         const uint8_t *upload, size_t upload_len, kura_error *err)
{
    kura_psbt *u = NULL, *merged = NULL;
    kura_error e;
    size_t checked = 0, before;
    int rc;

    if (progress != NULL) memset(progress, 0, sizeof(*progress));
    if (progress == NULL || accumulated == NULL || wallet == NULL ||
        (upload == NULL && upload_len > 0))
        return kura_fail(err, KURA_EINVAL, "assemble: NULL argument");
    if (accumulated->version != 0)
        return kura_fail(err, KURA_EINVAL, "assemble: the accumulated PSBT is not version 0");
    memset(&e, 0, sizeof(e));

    rc = kura_psbt_parse(&u, upload, upload_len, &e);
    if (rc == KURA_ENOMEM) return kura_fail(err, rc, "assemble: out of memory");
    if (rc != KURA_OK) {
        progress->reason = KURA_ASSEMBLE_MALFORMED;
        return kura_assemble_i_refuse(NULL, err, KURA_ASSEMBLE_MALFORMED, "upload: %s",
                                      e.message);
    }
    if (u->version != 0) {
        rc = kura_assemble_i_refuse(NULL, err, KURA_ASSEMBLE_MALFORMED,
                                    "upload: PSBT version %" PRIu32 "; the package is version 0",
                                    u->version);
        progress->reason = KURA_ASSEMBLE_MALFORMED;
        goto done;
    }
    rc = same_tx(accumulated, u, err);
    if (rc != KURA_OK) {
        progress->reason = KURA_ASSEMBLE_TX_MISMATCH;
        goto done;
    }
    rc = globals_add_nothing(accumulated, u, err);
    for (size_t i = 0; rc == KURA_OK && i < u->input_count; i++)
        rc = input_adds_nothing(&accumulated->inputs[i], &u->inputs[i], i, err);
    for (size_t o = 0; rc == KURA_OK && o < u->output_count; o++)
        rc = output_adds_nothing(&accumulated->outputs[o], &u->outputs[o], o, err);
    if (rc != KURA_OK) {
        progress->reason = KURA_ASSEMBLE_FIELD_ADDED;
        goto done;
    }
    for (size_t i = 0; rc == KURA_OK && i < u->input_count; i++)
        rc = sighashes_all(&u->inputs[i], i, err);
    if (rc != KURA_OK) {
        progress->reason = KURA_ASSEMBLE_SIGHASH;
        goto done;
    }

    /* Combine into a copy and verify every signature there, against the
     * accumulated PSBT's own funding transactions (the upload's equal ones
     * or none). Only then into the accumulated PSBT itself. */
    rc = kura_psbt_clone(&merged, accumulated);
    if (rc != KURA_OK) {
        kura_fail(err, rc, "assemble: cannot copy the PSBT");
        goto done;
    }
    rc = kura_psbt_combine(merged, u, &e);
    if (rc == KURA_EDATA) {
        progress->reason = KURA_ASSEMBLE_TX_MISMATCH;
        rc = kura_assemble_i_refuse(NULL, err, KURA_ASSEMBLE_TX_MISMATCH, "%s", e.message);
        goto done;
    }
    if (rc != KURA_OK) {
        kura_fail(err, rc, "assemble: cannot combine (%s)", kura_status_name(rc));
        goto done;
    }
    rc = kura_wallet_verify_psbt(ctx, &checked, merged, &e);
    if (rc == KURA_EDATA) {
        progress->reason = KURA_ASSEMBLE_SIGNATURE_INVALID;
        rc = kura_assemble_i_refuse(NULL, err, KURA_ASSEMBLE_SIGNATURE_INVALID, "%s", e.message);
        goto done;
    }
    if (rc != KURA_OK) {
        kura_fail(err, rc, "assemble: cannot verify (%s)", kura_status_name(rc));
        goto done;
    }
    before = total_signatures(accumulated);
    progress->signatures = calloc(merged->input_count ? merged->input_count : 1, sizeof(size_t));
    if (progress->signatures == NULL) {
        rc = kura_fail(err, KURA_ENOMEM, "assemble: out of memory");
        goto done;
    }
    rc = kura_psbt_combine(accumulated, u, err); /* the same merge, now for real */
    if (rc != KURA_OK) {
        kura_assemble_progress_clear(progress);
        goto done;
    }
    progress->added = total_signatures(accumulated) - before;
    progress->input_count = accumulated->input_count;
    for (size_t i = 0; i < accumulated->input_count; i++)
        progress->signatures[i] = kura_assemble_i_signature_count(&accumulated->inputs[i]);
    progress->threshold = threshold_of(ctx, wallet);
    progress->complete = kura_psbt_finalize(merged, NULL) == KURA_OK;
    progress->reason = KURA_ASSEMBLE_OK;
done:
    kura_psbt_free(merged);
    kura_psbt_free(u);
    return rc;
}
