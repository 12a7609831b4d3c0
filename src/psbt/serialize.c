/* src/psbt/serialize.c — writing a PSBT: each map's known fields in key type
 * order, then its unknown and proprietary records in the order held (see
 * kura/psbt.h), and base64 (libsodium, original variant). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "psbt_internal.h"

/* Writes a record whose key is <type><keydata> and whose value is given. */
static void put_rec(kura_buf *b, uint8_t type, const uint8_t *kd, size_t kd_len,
                    const uint8_t *val, size_t val_len)
{
    kura_buf_put_compact_size(b, 1 + (uint64_t)kd_len);
    kura_buf_put_u8(b, type);
    kura_buf_put(b, kd, kd_len);
    kura_buf_put_compact_size(b, val_len);
    kura_buf_put(b, val, val_len);
}

/* The key of a record whose value is written next by the caller. */
static void put_key(kura_buf *b, uint8_t type, const uint8_t *kd, size_t kd_len, size_t val_len)
{
    kura_buf_put_compact_size(b, 1 + (uint64_t)kd_len);
    kura_buf_put_u8(b, type);
    kura_buf_put(b, kd, kd_len);
    kura_buf_put_compact_size(b, val_len);
}

/* Encodes v as a CompactSize into out; returns its length. */
static size_t compact_size(uint8_t out[9], uint64_t v)
{
    size_t n = kura_compact_size_len(v);
    if (n == 1) {
        out[0] = (uint8_t)v;
        return 1;
    }
    out[0] = n == 3 ? 0xfd : n == 5 ? 0xfe : 0xff;
    for (size_t i = 1; i < n; i++) out[i] = (uint8_t)(v >> (8 * (i - 1)));
    return n;
}

static void put_u32_rec(kura_buf *b, uint8_t type, uint32_t v)
{
    uint8_t x[4];
    kura_store_u32le(x, v);
    put_rec(b, type, NULL, 0, x, 4);
}

static void put_origin(kura_buf *b, uint8_t type, const uint8_t *kd, size_t kd_len,
                       const kura_psbt_keyorigin *o)
{
    put_key(b, type, kd, kd_len, 4 + 4 * o->path_len);
    kura_buf_put(b, o->fingerprint, 4);
    for (size_t i = 0; i < o->path_len; i++) kura_buf_put_u32le(b, o->path[i]);
}

static void put_tap_bip32(kura_buf *b, uint8_t type, const kura_psbt_tap_bip32 *t)
{
    size_t vlen = kura_compact_size_len(t->leaf_hash_count) + 32 * t->leaf_hash_count + 4 +
                  4 * t->origin.path_len;
    put_key(b, type, t->xonly, 32, vlen);
    kura_buf_put_compact_size(b, t->leaf_hash_count);
    kura_buf_put(b, t->leaf_hashes, 32 * t->leaf_hash_count);
    kura_buf_put(b, t->origin.fingerprint, 4);
    for (size_t i = 0; i < t->origin.path_len; i++) kura_buf_put_u32le(b, t->origin.path[i]);
}

static void put_unknowns(kura_buf *b, const kura_psbt_kv *kv, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        kura_buf_put_compact_size(b, kv[i].key_len);
        kura_buf_put(b, kv[i].key, kv[i].key_len);
        kura_buf_put_compact_size(b, kv[i].value_len);
        kura_buf_put(b, kv[i].value, kv[i].value_len);
    }
}

static void put_global(kura_buf *b, const kura_psbt *psbt)
{
    if (psbt->version == 0) {
        kura_buf tx;
        kura_buf_init(&tx);
        kura_psbt_i_write_unsigned_tx(&tx, psbt, psbt->locktime, false);
        if (tx.failed) b->failed = true;
        put_rec(b, KURA_PSBT_GLOBAL_UNSIGNED_TX, NULL, 0, tx.data, tx.len);
        kura_buf_free(&tx);
    }
    for (size_t i = 0; i < psbt->xpub_count; i++)
        put_origin(b, KURA_PSBT_GLOBAL_XPUB, psbt->xpubs[i].xpub, 78, &psbt->xpubs[i].origin);
    if (psbt->version == 2) {
        uint8_t cs[9];
        put_u32_rec(b, KURA_PSBT_GLOBAL_TX_VERSION, psbt->tx_version);
        if (psbt->has_fallback_locktime)
            put_u32_rec(b, KURA_PSBT_GLOBAL_FALLBACK_LOCKTIME, psbt->locktime);
        /* BIP370: the counts are CompactSize values. */
        put_rec(b, KURA_PSBT_GLOBAL_INPUT_COUNT, NULL, 0, cs, compact_size(cs, psbt->input_count));
        put_rec(b, KURA_PSBT_GLOBAL_OUTPUT_COUNT, NULL, 0, cs,
                compact_size(cs, psbt->output_count));
        if (psbt->has_tx_modifiable)
            put_rec(b, KURA_PSBT_GLOBAL_TX_MODIFIABLE, NULL, 0, &psbt->tx_modifiable, 1);
    }
    if (psbt->version == 2 || psbt->has_version_field)
        put_u32_rec(b, KURA_PSBT_GLOBAL_VERSION, psbt->version);
    put_unknowns(b, psbt->unknowns, psbt->unknown_count);
    kura_buf_put_u8(b, 0);
}

static void put_input(kura_buf *b, const kura_psbt *psbt, const kura_psbt_input *in)
{
    if (in->non_witness_utxo != NULL) {
        size_t n = kura_tx_serialized_size(in->non_witness_utxo, KURA_TX_WITNESS), written = 0;
        put_key(b, KURA_PSBT_IN_NON_WITNESS_UTXO, NULL, 0, n);
        if (kura_buf_reserve(b, n)) {
            if (kura_tx_serialize(b->data + b->len, n, &written, in->non_witness_utxo,
                                  KURA_TX_WITNESS) != KURA_OK ||
                written != n)
                b->failed = true;
            else
                b->len += n;
        }
    }
    if (in->has_witness_utxo) {
        const kura_bytes *s = &in->witness_utxo.script_pubkey;
        put_key(b, KURA_PSBT_IN_WITNESS_UTXO, NULL, 0, 8 + kura_compact_size_len(s->len) + s->len);
        kura_buf_put_u64le(b, in->witness_utxo.amount);
        kura_buf_put_compact_size(b, s->len);
        kura_buf_put(b, s->data, s->len);
    }
    for (size_t i = 0; i < in->partial_sig_count; i++)
        put_rec(b, KURA_PSBT_IN_PARTIAL_SIG, in->partial_sigs[i].pubkey,
                in->partial_sigs[i].pubkey_len, in->partial_sigs[i].sig, in->partial_sigs[i].sig_len);
    if (in->has_sighash_type) put_u32_rec(b, KURA_PSBT_IN_SIGHASH_TYPE, in->sighash_type);
    if (in->has_redeem_script)
        put_rec(b, KURA_PSBT_IN_REDEEM_SCRIPT, NULL, 0, in->redeem_script.data,
                in->redeem_script.len);
    if (in->has_witness_script)
        put_rec(b, KURA_PSBT_IN_WITNESS_SCRIPT, NULL, 0, in->witness_script.data,
                in->witness_script.len);
    for (size_t i = 0; i < in->bip32_count; i++)
        put_origin(b, KURA_PSBT_IN_BIP32_DERIVATION, in->bip32[i].pubkey, in->bip32[i].pubkey_len,
                   &in->bip32[i].origin);
    if (in->has_final_script_sig)
        put_rec(b, KURA_PSBT_IN_FINAL_SCRIPTSIG, NULL, 0, in->final_script_sig.data,
                in->final_script_sig.len);
    if (in->has_final_script_witness) {
        size_t vlen = kura_compact_size_len(in->final_script_witness_count);
        for (size_t i = 0; i < in->final_script_witness_count; i++)
            vlen += kura_compact_size_len(in->final_script_witness[i].len) +
                    in->final_script_witness[i].len;
        put_key(b, KURA_PSBT_IN_FINAL_SCRIPTWITNESS, NULL, 0, vlen);
        kura_buf_put_compact_size(b, in->final_script_witness_count);
        for (size_t i = 0; i < in->final_script_witness_count; i++) {
            kura_buf_put_compact_size(b, in->final_script_witness[i].len);
            kura_buf_put(b, in->final_script_witness[i].data, in->final_script_witness[i].len);
        }
    }
    /* Preimages: by type, then in the order held. */
    for (uint8_t t = KURA_PSBT_IN_RIPEMD160; t <= KURA_PSBT_IN_HASH256; t++) {
        for (size_t i = 0; i < in->preimage_count; i++) {
            const kura_psbt_preimage *pi = &in->preimages[i];
            if (pi->type == t)
                put_rec(b, t, pi->hash, pi->hash_len, pi->preimage.data, pi->preimage.len);
        }
    }
    if (psbt->version == 2) {
        put_rec(b, KURA_PSBT_IN_PREVIOUS_TXID, NULL, 0, in->prev_txid, 32);
        put_u32_rec(b, KURA_PSBT_IN_OUTPUT_INDEX, in->prev_vout);
        if (in->has_sequence) put_u32_rec(b, KURA_PSBT_IN_SEQUENCE, in->sequence);
        if (in->has_required_time_locktime)
            put_u32_rec(b, KURA_PSBT_IN_REQUIRED_TIME_LOCKTIME, in->required_time_locktime);
        if (in->has_required_height_locktime)
            put_u32_rec(b, KURA_PSBT_IN_REQUIRED_HEIGHT_LOCKTIME, in->required_height_locktime);
    }
    if (in->tap_key_sig_len > 0)
        put_rec(b, KURA_PSBT_IN_TAP_KEY_SIG, NULL, 0, in->tap_key_sig, in->tap_key_sig_len);
    for (size_t i = 0; i < in->tap_script_sig_count; i++) {
        const kura_psbt_tap_script_sig *ts = &in->tap_script_sigs[i];
        uint8_t kd[64]; /* BIP371: x-only key || leaf hash */
        memcpy(kd, ts->xonly, 32);
        memcpy(kd + 32, ts->leaf_hash, 32);
        put_rec(b, KURA_PSBT_IN_TAP_SCRIPT_SIG, kd, 64, ts->sig, ts->sig_len);
    }
    for (size_t i = 0; i < in->tap_leaf_script_count; i++) {
        const kura_psbt_tap_leaf_script *l = &in->tap_leaf_scripts[i];
        put_key(b, KURA_PSBT_IN_TAP_LEAF_SCRIPT, l->control_block.data, l->control_block.len,
                l->script.len + 1);
        kura_buf_put(b, l->script.data, l->script.len);
        kura_buf_put_u8(b, l->leaf_version);
    }
    for (size_t i = 0; i < in->tap_bip32_count; i++)
        put_tap_bip32(b, KURA_PSBT_IN_TAP_BIP32_DERIVATION, &in->tap_bip32[i]);
    if (in->has_tap_internal_key)
        put_rec(b, KURA_PSBT_IN_TAP_INTERNAL_KEY, NULL, 0, in->tap_internal_key, 32);
    if (in->has_tap_merkle_root)
        put_rec(b, KURA_PSBT_IN_TAP_MERKLE_ROOT, NULL, 0, in->tap_merkle_root, 32);
    put_unknowns(b, in->unknowns, in->unknown_count);
    kura_buf_put_u8(b, 0);
}

static void put_output(kura_buf *b, const kura_psbt *psbt, const kura_psbt_output *o)
{
    if (o->has_redeem_script)
        put_rec(b, KURA_PSBT_OUT_REDEEM_SCRIPT, NULL, 0, o->redeem_script.data,
                o->redeem_script.len);
    if (o->has_witness_script)
        put_rec(b, KURA_PSBT_OUT_WITNESS_SCRIPT, NULL, 0, o->witness_script.data,
                o->witness_script.len);
    for (size_t i = 0; i < o->bip32_count; i++)
        put_origin(b, KURA_PSBT_OUT_BIP32_DERIVATION, o->bip32[i].pubkey, o->bip32[i].pubkey_len,
                   &o->bip32[i].origin);
    if (psbt->version == 2) {
        uint8_t amt[8];
        kura_store_u64le(amt, o->amount);
        put_rec(b, KURA_PSBT_OUT_AMOUNT, NULL, 0, amt, 8);
        put_rec(b, KURA_PSBT_OUT_SCRIPT, NULL, 0, o->script_pubkey.data, o->script_pubkey.len);
    }
    if (o->has_tap_internal_key)
        put_rec(b, KURA_PSBT_OUT_TAP_INTERNAL_KEY, NULL, 0, o->tap_internal_key, 32);
    if (o->tap_tree_count > 0) {
        size_t vlen = 0;
        for (size_t i = 0; i < o->tap_tree_count; i++)
            vlen += 2 + kura_compact_size_len(o->tap_tree[i].script.len) + o->tap_tree[i].script.len;
        put_key(b, KURA_PSBT_OUT_TAP_TREE, NULL, 0, vlen);
        for (size_t i = 0; i < o->tap_tree_count; i++) {
            kura_buf_put_u8(b, o->tap_tree[i].depth);
            kura_buf_put_u8(b, o->tap_tree[i].leaf_version);
            kura_buf_put_compact_size(b, o->tap_tree[i].script.len);
            kura_buf_put(b, o->tap_tree[i].script.data, o->tap_tree[i].script.len);
        }
    }
    for (size_t i = 0; i < o->tap_bip32_count; i++)
        put_tap_bip32(b, KURA_PSBT_OUT_TAP_BIP32_DERIVATION, &o->tap_bip32[i]);
    put_unknowns(b, o->unknowns, o->unknown_count);
    kura_buf_put_u8(b, 0);
}

int kura_psbt_serialize(uint8_t **out, size_t *out_len, const kura_psbt *psbt)
{
    kura_buf b;
    static const uint8_t magic[5] = {'p', 's', 'b', 't', 0xff};
    if (out != NULL) *out = NULL;
    if (out_len != NULL) *out_len = 0;
    if (out == NULL || out_len == NULL || psbt == NULL ||
        (psbt->version != 0 && psbt->version != 2))
        return KURA_EINVAL;
    kura_buf_init(&b);
    kura_buf_put(&b, magic, 5);
    put_global(&b, psbt);
    for (size_t i = 0; i < psbt->input_count && !b.failed; i++) {
        put_input(&b, psbt, &psbt->inputs[i]);
        if (b.len > KURA_PSBT_MAX_SIZE) break;
    }
    for (size_t i = 0; i < psbt->output_count && !b.failed; i++) {
        put_output(&b, psbt, &psbt->outputs[i]);
        if (b.len > KURA_PSBT_MAX_SIZE) break;
    }
    if (b.failed) {
        kura_buf_free(&b);
        return KURA_ENOMEM;
    }
    /* What kura cannot read back is not written. */
    if (b.len > KURA_PSBT_MAX_SIZE) {
        kura_buf_free(&b);
        return KURA_ERANGE;
    }
    *out = kura_buf_take(&b, out_len);
    return *out != NULL ? KURA_OK : KURA_ENOMEM;
}

int kura_psbt_to_base64(char **out, size_t *out_len, const kura_psbt *psbt)
{
    uint8_t *bin = NULL;
    size_t bin_len = 0, b64_len;
    char *s;
    int rc;
    if (out != NULL) *out = NULL;
    if (out_len != NULL) *out_len = 0;
    if (out == NULL) return KURA_EINVAL;
    rc = kura_psbt_serialize(&bin, &bin_len, psbt);
    if (rc != KURA_OK) return rc;
    b64_len = sodium_base64_ENCODED_LEN(bin_len, sodium_base64_VARIANT_ORIGINAL);
    s = malloc(b64_len);
    if (s == NULL) {
        free(bin);
        return KURA_ENOMEM;
    }
    sodium_bin2base64(s, b64_len, bin, bin_len, sodium_base64_VARIANT_ORIGINAL);
    free(bin);
    *out = s;
    if (out_len != NULL) *out_len = strlen(s);
    return KURA_OK;
}

int kura_psbt_clone(kura_psbt **out, const kura_psbt *psbt)
{
    uint8_t *bin = NULL;
    size_t len = 0;
    int rc;
    if (out == NULL) return KURA_EINVAL;
    *out = NULL;
    /* A PSBT is its serialisation: copying through it keeps every byte and
     * every invariant, and the parser is the one place that builds a PSBT
     * from parts. */
    rc = kura_psbt_serialize(&bin, &len, psbt);
    if (rc != KURA_OK) return rc;
    rc = kura_psbt_parse(out, bin, len, NULL);
    free(bin);
    if (rc == KURA_EDATA) rc = KURA_EINVAL; /* a struct changed by hand */
    return rc;
}
