/* src/psbt/finalize.c — the Input Finalizer and the Transaction Extractor
 * (BIP174), for the scripts kura's wallets and the BIP174 workflow use. */
#include <stdlib.h>
#include <string.h>

#include "kura/hash.h"
#include "kura/script.h"
#include "kura/sighash.h"
#include "psbt_internal.h"

/* A final scriptSig and witness, built before anything in the PSBT changes. */
typedef struct final_data {
    kura_buf script_sig;
    bool has_script_sig;
    kura_bytes *witness;
    size_t witness_count;
    bool has_witness;
    bool skip; /* already final */
} final_data;

static void final_data_free(final_data *f)
{
    kura_buf_free(&f->script_sig);
    kura_psbt_i_witness_free(f->witness, f->witness_count);
    memset(f, 0, sizeof(*f));
}

static void push(kura_buf *b, const uint8_t *data, size_t len)
{
    uint8_t head[5];
    size_t n;
    /* A data push with the shortest push opcode for its length (BIP62).
     * Unlike kura_script_push this never turns a one-byte item into OP_n:
     * what is pushed here is a signature, a key or a script, taken as data. */
    if (len == 0) {
        kura_buf_put_u8(b, 0x00);
        return;
    }
    if (len <= 0x4b) {
        head[0] = (uint8_t)len;
        n = 1;
    } else if (len <= 0xff) {
        head[0] = 0x4c;
        head[1] = (uint8_t)len;
        n = 2;
    } else if (len <= 0xffff) {
        head[0] = 0x4d;
        head[1] = (uint8_t)len;
        head[2] = (uint8_t)(len >> 8);
        n = 3;
    } else {
        head[0] = 0x4e;
        kura_store_u32le(head + 1, (uint32_t)len);
        n = 5;
    }
    kura_buf_put(b, head, n);
    kura_buf_put(b, data, len);
}

/* Appends a copy of data as a witness item (f->witness has room: see callers). */
static int wit_add(final_data *f, const uint8_t *data, size_t len)
{
    kura_bytes *it = &f->witness[f->witness_count];
    it->data = NULL;
    it->len = len;
    if (len > 0) {
        it->data = kura_memdup(data, len);
        if (it->data == NULL) return KURA_ENOMEM;
    }
    f->witness_count++;
    return KURA_OK;
}

static int wit_alloc(final_data *f, size_t n)
{
    f->witness = calloc(n == 0 ? 1 : n, sizeof(kura_bytes));
    f->has_witness = true;
    return f->witness == NULL ? KURA_ENOMEM : KURA_OK;
}

static const kura_psbt_partial_sig *sig_for(const kura_psbt_input *in, const uint8_t *pub,
                                            size_t pub_len)
{
    for (size_t i = 0; i < in->partial_sig_count; i++) {
        if (in->partial_sigs[i].pubkey_len == pub_len &&
            memcmp(in->partial_sigs[i].pubkey, pub, pub_len) == 0)
            return &in->partial_sigs[i];
    }
    return NULL;
}

/* The partial signature whose key hashes to h160 (P2PKH, P2WPKH). */
static int sig_for_hash(const kura_psbt_partial_sig **out, const kura_psbt_input *in,
                        const uint8_t *h160)
{
    *out = NULL;
    for (size_t i = 0; i < in->partial_sig_count; i++) {
        uint8_t h[20];
        int rc = kura_hash160(h, in->partial_sigs[i].pubkey, in->partial_sigs[i].pubkey_len);
        if (rc != KURA_OK) return rc;
        if (memcmp(h, h160, 20) == 0) {
            *out = &in->partial_sigs[i];
            return KURA_OK;
        }
    }
    return KURA_OK;
}

/* Signatures for a CHECKMULTISIG (or single-key CHECKSIG) script, in the
 * script's key order (CHECKMULTISIG matches signatures to keys in order),
 * exactly m of them. */
static int multisig_sigs(const kura_psbt_partial_sig **sigs, size_t *count, bool *single,
                         const kura_psbt_input *in, size_t idx, const uint8_t *script,
                         size_t script_len, kura_error *err)
{
    const uint8_t *keys[KURA_PSBT_MULTISIG_MAX];
    size_t key_lens[KURA_PSBT_MULTISIG_MAX], n = 0;
    unsigned m = 0;
    *count = 0;
    if (!kura_psbt_i_parse_multisig(script, script_len, &m, &n, keys, key_lens, single))
        return kura_fail(err, KURA_EDATA,
                         "psbt: input %zu: script is not a multisig or single-key script the "
                         "finalizer knows",
                         idx);
    for (size_t k = 0; k < n && *count < m; k++) {
        const kura_psbt_partial_sig *s = sig_for(in, keys[k], key_lens[k]);
        if (s != NULL) sigs[(*count)++] = s;
    }
    if (*count < m)
        return kura_fail(err, KURA_EDATA, "psbt: input %zu: %zu of %u signatures", idx, *count, m);
    return KURA_OK;
}

/* Taproot script path: the satisfiable leaf with the smallest witness. The
 * signatures are indexed by (leaf hash, x-only key) first, so the search
 * costs O((keys + signatures) log signatures) whatever the PSBT holds. */
static int taproot_script_path(final_data *f, const kura_psbt_input *in, size_t idx,
                               kura_error *err)
{
    size_t best = SIZE_MAX, best_size = SIZE_MAX, best_n = 0, nidx = 0;
    const kura_psbt_tap_script_sig **best_sigs = NULL;
    kura_psbt_i_key *index = NULL;
    int rc = KURA_OK;
    if (in->tap_script_sig_count > 0) {
        index = calloc(in->tap_script_sig_count, sizeof(*index));
        if (index == NULL) return kura_fail(err, KURA_ENOMEM, "psbt: out of memory");
        for (size_t t = 0; t < in->tap_script_sig_count; t++) {
            const kura_psbt_tap_script_sig *ts = &in->tap_script_sigs[t];
            /* BIP341: a 65-byte signature with type 0x00 is invalid; leave it out. */
            if (ts->sig_len == 65 && ts->sig[64] == KURA_SIGHASH_DEFAULT) continue;
            index[nidx++] = (kura_psbt_i_key){ts->leaf_hash, 32, ts->xonly, 32, t};
        }
        qsort(index, nidx, sizeof(*index), kura_psbt_i_key_cmp);
    }
    for (size_t j = 0; j < in->tap_leaf_script_count && nidx > 0; j++) {
        const kura_psbt_tap_leaf_script *l = &in->tap_leaf_scripts[j];
        const uint8_t **keys = NULL;
        const kura_psbt_tap_script_sig **sigs;
        uint8_t lh[32];
        unsigned m = 0;
        size_t n = 0, have = 0, size;
        if (l->leaf_version != KURA_TAPSCRIPT_LEAF_VERSION) continue;
        if (!kura_psbt_i_parse_multi_a(l->script.data, l->script.len, &m, &n, &keys)) continue;
        kura_tapleaf_hash(lh, l->leaf_version, l->script.data, l->script.len);
        sigs = calloc(n, sizeof(*sigs));
        if (sigs == NULL) {
            free(keys);
            rc = KURA_ENOMEM;
            break;
        }
        /* Use the first m keys, in key order, that have a signature; the
         * others get an empty item so OP_CHECKSIGADD counts exactly m. */
        for (size_t k = 0; k < n && have < m; k++) {
            kura_psbt_i_key want = {lh, 32, keys[k], 32, 0};
            const kura_psbt_i_key *hit =
                bsearch(&want, index, nidx, sizeof(*index), kura_psbt_i_key_cmp);
            if (hit != NULL) {
                sigs[k] = &in->tap_script_sigs[hit->pos];
                have++;
            }
        }
        free(keys);
        if (have < m) {
            free(sigs);
            continue;
        }
        size = l->script.len + l->control_block.len + 3 * (n + 2);
        for (size_t k = 0; k < n; k++)
            if (sigs[k] != NULL) size += sigs[k]->sig_len;
        if (size < best_size) {
            free(best_sigs);
            best = j;
            best_size = size;
            best_sigs = sigs;
            best_n = n;
        } else {
            free(sigs);
        }
    }
    free(index);
    if (rc == KURA_OK && best == SIZE_MAX)
        rc = kura_fail(err, KURA_EDATA,
                       "psbt: input %zu: no taproot key signature and no leaf with enough "
                       "signatures",
                       idx);
    if (rc == KURA_OK) {
        const kura_psbt_tap_leaf_script *l = &in->tap_leaf_scripts[best];
        rc = wit_alloc(f, best_n + 2);
        /* BIP342: the script reads the stack top first and the top is the
         * last witness item, so key 1's signature goes last: reverse order. */
        for (size_t k = best_n; k > 0 && rc == KURA_OK; k--) {
            const kura_psbt_tap_script_sig *ts = best_sigs[k - 1];
            rc = wit_add(f, ts != NULL ? ts->sig : NULL, ts != NULL ? ts->sig_len : 0);
        }
        if (rc == KURA_OK) rc = wit_add(f, l->script.data, l->script.len);
        if (rc == KURA_OK) rc = wit_add(f, l->control_block.data, l->control_block.len);
    }
    free(best_sigs);
    if (rc == KURA_ENOMEM) kura_fail(err, rc, "psbt: out of memory");
    return rc;
}

static int build_final(final_data *f, const kura_psbt *psbt, size_t idx, kura_error *err)
{
    const kura_psbt_input *in = &psbt->inputs[idx];
    kura_psbt_spend sp;
    const kura_psbt_partial_sig *sigs[KURA_PSBT_MULTISIG_MAX], *one = NULL;
    size_t count = 0;
    bool single = false;
    int rc;
    memset(f, 0, sizeof(*f));
    kura_buf_init(&f->script_sig);
    if (in->has_final_script_sig || in->has_final_script_witness) {
        f->skip = true;
        return KURA_OK;
    }
    rc = kura_psbt_i_resolve(&sp, psbt, idx, err);
    if (rc != KURA_OK) return rc;
    switch (sp.kind) {
    case KURA_PSBT_SPEND_P2PKH:
    case KURA_PSBT_SPEND_P2WPKH:
        rc = sig_for_hash(&one, in, sp.program);
        if (rc != KURA_OK) return kura_fail(err, rc, "psbt: hash failed");
        if (one == NULL)
            return kura_fail(err, KURA_EDATA, "psbt: input %zu: no signature by the key", idx);
        if (sp.kind == KURA_PSBT_SPEND_P2PKH) {
            /* <sig> <pubkey> */
            f->has_script_sig = true;
            push(&f->script_sig, one->sig, one->sig_len);
            push(&f->script_sig, one->pubkey, one->pubkey_len);
            break;
        }
        /* BIP141 P2WPKH witness: <sig> <pubkey>; nested: scriptSig pushes the
         * redeem script (the witness program). */
        rc = wit_alloc(f, 2);
        if (rc == KURA_OK) rc = wit_add(f, one->sig, one->sig_len);
        if (rc == KURA_OK) rc = wit_add(f, one->pubkey, one->pubkey_len);
        if (rc != KURA_OK) return kura_fail(err, rc, "psbt: out of memory");
        break;
    case KURA_PSBT_SPEND_P2SH:
        rc = multisig_sigs(sigs, &count, &single, in, idx, sp.script, sp.script_len, err);
        if (rc != KURA_OK) return rc;
        /* BIP11/BIP16: OP_0 (CHECKMULTISIG's extra pop) <sigs> <redeemScript>. */
        f->has_script_sig = true;
        if (!single) kura_buf_put_u8(&f->script_sig, 0x00);
        for (size_t k = 0; k < count; k++) push(&f->script_sig, sigs[k]->sig, sigs[k]->sig_len);
        push(&f->script_sig, sp.script, sp.script_len);
        break;
    case KURA_PSBT_SPEND_P2WSH:
        rc = multisig_sigs(sigs, &count, &single, in, idx, sp.script, sp.script_len, err);
        if (rc != KURA_OK) return rc;
        /* BIP141 P2WSH witness: <> <sigs> <witnessScript>. */
        rc = wit_alloc(f, count + 2);
        if (rc == KURA_OK && !single) rc = wit_add(f, NULL, 0);
        for (size_t k = 0; k < count && rc == KURA_OK; k++)
            rc = wit_add(f, sigs[k]->sig, sigs[k]->sig_len);
        if (rc == KURA_OK) rc = wit_add(f, sp.script, sp.script_len);
        if (rc != KURA_OK) return kura_fail(err, rc, "psbt: out of memory");
        break;
    case KURA_PSBT_SPEND_P2TR:
        if (in->tap_key_sig_len == 65 && in->tap_key_sig[64] == KURA_SIGHASH_DEFAULT)
            return kura_fail(err, KURA_EDATA,
                             "psbt: input %zu: 65-byte taproot signature with type 0x00 (BIP341 "
                             "makes it invalid)",
                             idx);
        if (in->tap_key_sig_len > 0) {
            /* BIP341 key path: the witness is the signature alone. */
            rc = wit_alloc(f, 1);
            if (rc == KURA_OK) rc = wit_add(f, in->tap_key_sig, in->tap_key_sig_len);
            if (rc != KURA_OK) return kura_fail(err, rc, "psbt: out of memory");
        } else {
            rc = taproot_script_path(f, in, idx, err);
            if (rc != KURA_OK) return rc;
        }
        break;
    }
    if (sp.nested) {
        f->has_script_sig = true;
        push(&f->script_sig, in->redeem_script.data, in->redeem_script.len);
    }
    if (f->script_sig.failed) return kura_fail(err, KURA_ENOMEM, "psbt: out of memory");
    return KURA_OK;
}

/* Moves the final fields into the input and clears the rest (BIP174: "All
 * other data except the UTXO and unknown fields in the input key-value map
 * should be cleared"; the v2 outpoint, sequence and lock time fields stay, as
 * they describe the transaction). Cannot fail. */
static void apply_final(kura_psbt_input *in, final_data *f)
{
    size_t len = 0;
    if (f->skip) return;
    kura_psbt_i_input_clear_nonfinal(in);
    if (f->has_script_sig) {
        in->final_script_sig.data = kura_buf_take(&f->script_sig, &len);
        in->final_script_sig.len = len;
        if (len == 0) {
            free(in->final_script_sig.data);
            in->final_script_sig.data = NULL;
        }
        in->has_final_script_sig = 1;
    }
    if (f->has_witness) {
        in->final_script_witness = f->witness;
        in->final_script_witness_count = f->witness_count;
        in->has_final_script_witness = 1;
        f->witness = NULL;
        f->witness_count = 0;
    }
}

int kura_psbt_finalize_input(kura_psbt *psbt, size_t index, kura_error *err)
{
    final_data f;
    int rc;
    if (psbt == NULL || index >= psbt->input_count)
        return kura_fail(err, KURA_EINVAL, "psbt: bad finalizer arguments");
    rc = build_final(&f, psbt, index, err);
    if (rc == KURA_OK) apply_final(&psbt->inputs[index], &f);
    final_data_free(&f);
    return rc;
}

int kura_psbt_finalize(kura_psbt *psbt, kura_error *err)
{
    final_data *f;
    int rc = KURA_OK;
    if (psbt == NULL) return kura_fail(err, KURA_EINVAL, "psbt: bad finalizer arguments");
    if (psbt->input_count == 0) return KURA_OK;
    f = calloc(psbt->input_count, sizeof(*f));
    if (f == NULL) return kura_fail(err, KURA_ENOMEM, "psbt: out of memory");
    for (size_t i = 0; i < psbt->input_count && rc == KURA_OK; i++)
        rc = build_final(&f[i], psbt, i, err);
    if (rc == KURA_OK)
        for (size_t i = 0; i < psbt->input_count; i++) apply_final(&psbt->inputs[i], &f[i]);
    for (size_t i = 0; i < psbt->input_count; i++) final_data_free(&f[i]);
    free(f);
    return rc;
}

int kura_psbt_is_finalized(const kura_psbt *psbt)
{
    if (psbt == NULL) return 0;
    for (size_t i = 0; i < psbt->input_count; i++) {
        if (!psbt->inputs[i].has_final_script_sig && !psbt->inputs[i].has_final_script_witness)
            return 0;
    }
    return 1;
}

int kura_psbt_extract(kura_tx **out, const kura_psbt *psbt, kura_error *err)
{
    kura_tx *tx = NULL;
    int rc;
    if (out == NULL || psbt == NULL) return kura_fail(err, KURA_EINVAL, "psbt: bad arguments");
    *out = NULL;
    /* BIP174 Transaction Extractor: only a fully finalized PSBT. */
    for (size_t i = 0; i < psbt->input_count; i++) {
        if (!psbt->inputs[i].has_final_script_sig && !psbt->inputs[i].has_final_script_witness)
            return kura_fail(err, KURA_EDATA, "psbt: input %zu is not finalized", i);
    }
    rc = kura_psbt_unsigned_tx(&tx, psbt, err);
    if (rc != KURA_OK) return rc;
    for (size_t i = 0; i < psbt->input_count; i++) {
        const kura_psbt_input *in = &psbt->inputs[i];
        if (in->has_final_script_sig) {
            rc = kura_tx_set_script_sig(tx, i, in->final_script_sig.data, in->final_script_sig.len);
            if (rc != KURA_OK) break;
        }
        if (in->has_final_script_witness) {
            rc = kura_tx_set_witness(tx, i, in->final_script_witness,
                                     in->final_script_witness_count);
            if (rc != KURA_OK) break;
        }
    }
    if (rc != KURA_OK) {
        kura_tx_free(tx);
        return kura_fail(err, rc, "psbt: cannot build the transaction (%s)",
                         kura_status_name(rc));
    }
    *out = tx;
    return KURA_OK;
}
