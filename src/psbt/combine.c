/* src/psbt/combine.c — the Combiner (BIP174 "Combiner", BIP370).
 *
 * The merge is done on a copy of dst which replaces dst only when every step
 * succeeded, so a failure leaves dst as it was. Entries dst already holds
 * keep their value and place; src's new entries follow in src's order.
 * Which of src's keyed entries are new is found with a sorted index, so two
 * PSBTs with many entries cannot make the combiner quadratic. */
#include <stdlib.h>
#include <string.h>

#include "psbt_internal.h"

/* ---- the key of each kind of keyed entry ---- */

static kura_psbt_i_key key_kv(const void *arr, size_t i)
{
    const kura_psbt_kv *e = (const kura_psbt_kv *)arr + i;
    return (kura_psbt_i_key){e->key, e->key_len, NULL, 0, i};
}

static kura_psbt_i_key key_xpub(const void *arr, size_t i)
{
    const kura_psbt_xpub *e = (const kura_psbt_xpub *)arr + i;
    return (kura_psbt_i_key){e->xpub, 78, NULL, 0, i};
}

static kura_psbt_i_key key_bip32(const void *arr, size_t i)
{
    const kura_psbt_bip32 *e = (const kura_psbt_bip32 *)arr + i;
    return (kura_psbt_i_key){e->pubkey, e->pubkey_len, NULL, 0, i};
}

static kura_psbt_i_key key_partial_sig(const void *arr, size_t i)
{
    const kura_psbt_partial_sig *e = (const kura_psbt_partial_sig *)arr + i;
    return (kura_psbt_i_key){e->pubkey, e->pubkey_len, NULL, 0, i};
}

static kura_psbt_i_key key_preimage(const void *arr, size_t i)
{
    const kura_psbt_preimage *e = (const kura_psbt_preimage *)arr + i;
    return (kura_psbt_i_key){&e->type, 1, e->hash, e->hash_len, i};
}

static kura_psbt_i_key key_tap_script_sig(const void *arr, size_t i)
{
    const kura_psbt_tap_script_sig *e = (const kura_psbt_tap_script_sig *)arr + i;
    return (kura_psbt_i_key){e->xonly, 32, e->leaf_hash, 32, i};
}

static kura_psbt_i_key key_leaf_script(const void *arr, size_t i)
{
    const kura_psbt_tap_leaf_script *e = (const kura_psbt_tap_leaf_script *)arr + i;
    return (kura_psbt_i_key){e->control_block.data, e->control_block.len, NULL, 0, i};
}

static kura_psbt_i_key key_tap_bip32(const void *arr, size_t i)
{
    const kura_psbt_tap_bip32 *e = (const kura_psbt_tap_bip32 *)arr + i;
    return (kura_psbt_i_key){e->xonly, 32, NULL, 0, i};
}

/* ---- copying entries ---- */

static int append(void **arr, size_t *count, size_t elem)
{
    return kura_psbt_i_insert(arr, count, elem, *count);
}

static int origin_copy(kura_psbt_keyorigin *dst, const kura_psbt_keyorigin *src)
{
    memset(dst, 0, sizeof(*dst));
    return kura_psbt_i_keyorigin_set(dst, src->fingerprint, src->path, src->path_len);
}

static int merge_bytes(int *dst_has, kura_bytes *dst, int src_has, const kura_bytes *src)
{
    if (*dst_has || !src_has) return KURA_OK;
    if (kura_psbt_i_bytes_set(dst, src->data, src->len) != KURA_OK) return KURA_ENOMEM;
    *dst_has = 1;
    return KURA_OK;
}

static int merge_unknowns(kura_psbt_kv **dst, size_t *dn, const kura_psbt_kv *src, size_t sn)
{
    bool *fresh;
    int rc = kura_psbt_i_mark_fresh(&fresh, *dst, *dn, src, sn, key_kv);
    for (size_t i = 0; i < sn && rc == KURA_OK; i++) {
        uint8_t *block;
        if (!fresh[i]) continue;
        block = malloc(src[i].key_len + src[i].value_len);
        if (block == NULL) {
            rc = KURA_ENOMEM;
            break;
        }
        memcpy(block, src[i].key, src[i].key_len);
        if (src[i].value_len > 0) memcpy(block + src[i].key_len, src[i].value, src[i].value_len);
        rc = append((void **)dst, dn, sizeof(**dst));
        if (rc != KURA_OK) {
            free(block);
            break;
        }
        (*dst)[*dn - 1].key = block;
        (*dst)[*dn - 1].key_len = src[i].key_len;
        (*dst)[*dn - 1].value = src[i].value_len > 0 ? block + src[i].key_len : NULL;
        (*dst)[*dn - 1].value_len = src[i].value_len;
    }
    free(fresh);
    return rc;
}

static int merge_bip32(kura_psbt_bip32 **dst, size_t *dn, const kura_psbt_bip32 *src, size_t sn)
{
    bool *fresh;
    int rc = kura_psbt_i_mark_fresh(&fresh, *dst, *dn, src, sn, key_bip32);
    for (size_t i = 0; i < sn && rc == KURA_OK; i++) {
        kura_psbt_keyorigin o;
        if (!fresh[i]) continue;
        rc = origin_copy(&o, &src[i].origin);
        if (rc != KURA_OK) break;
        rc = append((void **)dst, dn, sizeof(**dst));
        if (rc != KURA_OK) {
            kura_psbt_i_keyorigin_clear(&o);
            break;
        }
        memcpy((*dst)[*dn - 1].pubkey, src[i].pubkey, src[i].pubkey_len);
        (*dst)[*dn - 1].pubkey_len = src[i].pubkey_len;
        (*dst)[*dn - 1].origin = o;
    }
    free(fresh);
    return rc;
}

static int merge_tap_bip32(kura_psbt_tap_bip32 **dst, size_t *dn, const kura_psbt_tap_bip32 *src,
                           size_t sn)
{
    bool *fresh;
    int rc = kura_psbt_i_mark_fresh(&fresh, *dst, *dn, src, sn, key_tap_bip32);
    for (size_t i = 0; i < sn && rc == KURA_OK; i++) {
        kura_psbt_tap_bip32 t;
        if (!fresh[i]) continue;
        memset(&t, 0, sizeof(t));
        memcpy(t.xonly, src[i].xonly, 32);
        if (src[i].leaf_hash_count > 0) {
            t.leaf_hashes = kura_memdup(src[i].leaf_hashes, 32 * src[i].leaf_hash_count);
            if (t.leaf_hashes == NULL) {
                rc = KURA_ENOMEM;
                break;
            }
            t.leaf_hash_count = src[i].leaf_hash_count;
        }
        rc = origin_copy(&t.origin, &src[i].origin);
        if (rc == KURA_OK) rc = append((void **)dst, dn, sizeof(**dst));
        if (rc != KURA_OK) {
            kura_psbt_i_tap_bip32_clear(&t);
            break;
        }
        (*dst)[*dn - 1] = t;
    }
    free(fresh);
    return rc;
}

/* Entries without owned memory (partial and tap script signatures). */
static int merge_plain(void **dst, size_t *dn, const void *src, size_t sn, size_t elem,
                       kura_psbt_i_key (*key)(const void *, size_t))
{
    bool *fresh;
    int rc = kura_psbt_i_mark_fresh(&fresh, *dst, *dn, src, sn, key);
    for (size_t i = 0; i < sn && rc == KURA_OK; i++) {
        if (!fresh[i]) continue;
        rc = append(dst, dn, elem);
        if (rc == KURA_OK)
            memcpy((uint8_t *)*dst + (*dn - 1) * elem, (const uint8_t *)src + i * elem, elem);
    }
    free(fresh);
    return rc;
}

static int merge_preimages(kura_psbt_input *d, const kura_psbt_input *s)
{
    bool *fresh;
    int rc = kura_psbt_i_mark_fresh(&fresh, d->preimages, d->preimage_count, s->preimages,
                                    s->preimage_count, key_preimage);
    for (size_t i = 0; i < s->preimage_count && rc == KURA_OK; i++) {
        const kura_psbt_preimage *sp = &s->preimages[i];
        kura_psbt_preimage *dp;
        if (!fresh[i]) continue;
        rc = append((void **)&d->preimages, &d->preimage_count, sizeof(*d->preimages));
        if (rc != KURA_OK) break;
        dp = &d->preimages[d->preimage_count - 1];
        dp->type = sp->type;
        memcpy(dp->hash, sp->hash, sizeof(dp->hash));
        dp->hash_len = sp->hash_len;
        rc = kura_psbt_i_bytes_set(&dp->preimage, sp->preimage.data, sp->preimage.len);
    }
    free(fresh);
    return rc;
}

static int merge_leaf_scripts(kura_psbt_input *d, const kura_psbt_input *s)
{
    bool *fresh;
    int rc = kura_psbt_i_mark_fresh(&fresh, d->tap_leaf_scripts, d->tap_leaf_script_count,
                                    s->tap_leaf_scripts, s->tap_leaf_script_count,
                                    key_leaf_script);
    for (size_t i = 0; i < s->tap_leaf_script_count && rc == KURA_OK; i++) {
        const kura_psbt_tap_leaf_script *sl = &s->tap_leaf_scripts[i];
        kura_psbt_tap_leaf_script *dl;
        if (!fresh[i]) continue;
        rc = append((void **)&d->tap_leaf_scripts, &d->tap_leaf_script_count,
                    sizeof(*d->tap_leaf_scripts));
        if (rc != KURA_OK) break;
        dl = &d->tap_leaf_scripts[d->tap_leaf_script_count - 1];
        dl->leaf_version = sl->leaf_version;
        rc = kura_psbt_i_bytes_set(&dl->control_block, sl->control_block.data,
                                   sl->control_block.len);
        if (rc == KURA_OK) rc = kura_psbt_i_bytes_set(&dl->script, sl->script.data, sl->script.len);
    }
    free(fresh);
    return rc;
}

/* ---- maps ---- */

static int merge_input(kura_psbt_input *d, const kura_psbt_input *s)
{
    int rc;
    if (d->non_witness_utxo == NULL && s->non_witness_utxo != NULL) {
        rc = kura_tx_clone(&d->non_witness_utxo, s->non_witness_utxo);
        if (rc != KURA_OK) return KURA_ENOMEM;
    }
    if (!d->has_witness_utxo && s->has_witness_utxo) {
        if (kura_psbt_i_bytes_set(&d->witness_utxo.script_pubkey, s->witness_utxo.script_pubkey.data,
                                  s->witness_utxo.script_pubkey.len) != KURA_OK)
            return KURA_ENOMEM;
        d->witness_utxo.amount = s->witness_utxo.amount;
        d->has_witness_utxo = 1;
    }
    rc = merge_plain((void **)&d->partial_sigs, &d->partial_sig_count, s->partial_sigs,
                     s->partial_sig_count, sizeof(*d->partial_sigs), key_partial_sig);
    if (rc != KURA_OK) return rc;
    if (!d->has_sighash_type && s->has_sighash_type) {
        d->has_sighash_type = 1;
        d->sighash_type = s->sighash_type;
    }
    if ((rc = merge_bytes(&d->has_redeem_script, &d->redeem_script, s->has_redeem_script,
                          &s->redeem_script)) != KURA_OK ||
        (rc = merge_bytes(&d->has_witness_script, &d->witness_script, s->has_witness_script,
                          &s->witness_script)) != KURA_OK ||
        (rc = merge_bip32(&d->bip32, &d->bip32_count, s->bip32, s->bip32_count)) != KURA_OK ||
        (rc = merge_bytes(&d->has_final_script_sig, &d->final_script_sig, s->has_final_script_sig,
                          &s->final_script_sig)) != KURA_OK)
        return rc;
    if (!d->has_final_script_witness && s->has_final_script_witness) {
        size_t n = s->final_script_witness_count;
        kura_bytes *w = calloc(n == 0 ? 1 : n, sizeof(kura_bytes));
        if (w == NULL) return KURA_ENOMEM;
        for (size_t i = 0; i < n; i++) {
            if (kura_psbt_i_bytes_set(&w[i], s->final_script_witness[i].data,
                                      s->final_script_witness[i].len) != KURA_OK) {
                kura_psbt_i_witness_free(w, i);
                return KURA_ENOMEM;
            }
        }
        d->final_script_witness = w;
        d->final_script_witness_count = n;
        d->has_final_script_witness = 1;
    }
    if ((rc = merge_preimages(d, s)) != KURA_OK) return rc;
    if (!d->has_sequence && s->has_sequence) {
        d->has_sequence = 1;
        d->sequence = s->sequence;
    }
    if (!d->has_required_time_locktime && s->has_required_time_locktime) {
        d->has_required_time_locktime = 1;
        d->required_time_locktime = s->required_time_locktime;
    }
    if (!d->has_required_height_locktime && s->has_required_height_locktime) {
        d->has_required_height_locktime = 1;
        d->required_height_locktime = s->required_height_locktime;
    }
    if (d->tap_key_sig_len == 0 && s->tap_key_sig_len > 0) {
        memcpy(d->tap_key_sig, s->tap_key_sig, s->tap_key_sig_len);
        d->tap_key_sig_len = s->tap_key_sig_len;
    }
    if ((rc = merge_plain((void **)&d->tap_script_sigs, &d->tap_script_sig_count,
                          s->tap_script_sigs, s->tap_script_sig_count,
                          sizeof(*d->tap_script_sigs), key_tap_script_sig)) != KURA_OK ||
        (rc = merge_leaf_scripts(d, s)) != KURA_OK ||
        (rc = merge_tap_bip32(&d->tap_bip32, &d->tap_bip32_count, s->tap_bip32,
                              s->tap_bip32_count)) != KURA_OK)
        return rc;
    if (!d->has_tap_internal_key && s->has_tap_internal_key) {
        memcpy(d->tap_internal_key, s->tap_internal_key, 32);
        d->has_tap_internal_key = 1;
    }
    if (!d->has_tap_merkle_root && s->has_tap_merkle_root) {
        memcpy(d->tap_merkle_root, s->tap_merkle_root, 32);
        d->has_tap_merkle_root = 1;
    }
    return merge_unknowns(&d->unknowns, &d->unknown_count, s->unknowns, s->unknown_count);
}

static int merge_output(kura_psbt_output *d, const kura_psbt_output *s)
{
    int rc;
    if ((rc = merge_bytes(&d->has_redeem_script, &d->redeem_script, s->has_redeem_script,
                          &s->redeem_script)) != KURA_OK ||
        (rc = merge_bytes(&d->has_witness_script, &d->witness_script, s->has_witness_script,
                          &s->witness_script)) != KURA_OK ||
        (rc = merge_bip32(&d->bip32, &d->bip32_count, s->bip32, s->bip32_count)) != KURA_OK)
        return rc;
    if (!d->has_tap_internal_key && s->has_tap_internal_key) {
        memcpy(d->tap_internal_key, s->tap_internal_key, 32);
        d->has_tap_internal_key = 1;
    }
    if (d->tap_tree_count == 0 && s->tap_tree_count > 0) {
        kura_psbt_tap_leaf *t = calloc(kura_psbt_i_cap(s->tap_tree_count), sizeof(*t));
        if (t == NULL) return KURA_ENOMEM;
        free(d->tap_tree);
        d->tap_tree = t; /* owned by d from here, so freed with it on failure */
        for (size_t i = 0; i < s->tap_tree_count; i++) {
            t[i].depth = s->tap_tree[i].depth;
            t[i].leaf_version = s->tap_tree[i].leaf_version;
            d->tap_tree_count = i + 1;
            if (kura_psbt_i_bytes_set(&t[i].script, s->tap_tree[i].script.data,
                                      s->tap_tree[i].script.len) != KURA_OK)
                return KURA_ENOMEM;
        }
    }
    if ((rc = merge_tap_bip32(&d->tap_bip32, &d->tap_bip32_count, s->tap_bip32,
                              s->tap_bip32_count)) != KURA_OK)
        return rc;
    return merge_unknowns(&d->unknowns, &d->unknown_count, s->unknowns, s->unknown_count);
}

static int merge_global(kura_psbt *d, const kura_psbt *s)
{
    bool *fresh;
    int rc = kura_psbt_i_mark_fresh(&fresh, d->xpubs, d->xpub_count, s->xpubs, s->xpub_count,
                                    key_xpub);
    for (size_t i = 0; i < s->xpub_count && rc == KURA_OK; i++) {
        kura_psbt_keyorigin o;
        if (!fresh[i]) continue;
        rc = origin_copy(&o, &s->xpubs[i].origin);
        if (rc != KURA_OK) break;
        rc = append((void **)&d->xpubs, &d->xpub_count, sizeof(*d->xpubs));
        if (rc != KURA_OK) {
            kura_psbt_i_keyorigin_clear(&o);
            break;
        }
        memcpy(d->xpubs[d->xpub_count - 1].xpub, s->xpubs[i].xpub, 78);
        d->xpubs[d->xpub_count - 1].origin = o;
    }
    free(fresh);
    if (rc != KURA_OK) return rc;
    if (!d->has_tx_modifiable && s->has_tx_modifiable) {
        d->has_tx_modifiable = 1;
        d->tx_modifiable = s->tx_modifiable;
    }
    if (d->version == 2 && !d->has_fallback_locktime && s->has_fallback_locktime) {
        d->has_fallback_locktime = 1;
        d->locktime = s->locktime;
    }
    if (s->has_version_field) d->has_version_field = 1;
    return merge_unknowns(&d->unknowns, &d->unknown_count, s->unknowns, s->unknown_count);
}

/* BIP370: PSBTv2 lets Constructors add inputs and outputs after creation, so
 * two copies of one PSBT may come back each with inputs or outputs the other
 * lacks. They are one transaction in the making: inputs are the same input
 * when they spend the same outpoint, outputs when they pay the same amount
 * to the same script (the k-th such output of src is the k-th of dst); the
 * others are appended, in src's order, where both PSBTs let inputs
 * (outputs) be added (PSBT_GLOBAL_TX_MODIFIABLE). Adding beside a
 * SIGHASH_SINGLE signature is refused (it signs its output's position).
 * The merged PSBT may be modified only as far as both allow. */
static int merge_constructed(kura_psbt *d, const kura_psbt *s, kura_error *err)
{
    uint8_t dmod = d->has_tx_modifiable ? d->tx_modifiable : 0;
    uint8_t smod = s->has_tx_modifiable ? s->tx_modifiable : 0;
    size_t d_outputs = d->output_count;
    bool *used = NULL, added = false;
    int rc = KURA_OK;

    if (d->tx_version != s->tx_version)
        return kura_fail(err, KURA_EDATA,
                         "psbt: cannot combine transaction versions %u and %u",
                         (unsigned)d->tx_version, (unsigned)s->tx_version);
    if (d->has_fallback_locktime && s->has_fallback_locktime && d->locktime != s->locktime)
        return kura_fail(err, KURA_EDATA, "psbt: the PSBTs have different fallback lock times");
    for (size_t j = 0; j < s->input_count && rc == KURA_OK; j++) {
        const kura_psbt_input *si = &s->inputs[j];
        size_t i = 0;
        while (i < d->input_count && (memcmp(d->inputs[i].prev_txid, si->prev_txid, 32) != 0 ||
                                      d->inputs[i].prev_vout != si->prev_vout))
            i++;
        if (i == d->input_count) {
            kura_psbt_input *ni;
            if (!(dmod & KURA_PSBT_TXMOD_INPUTS) || !(smod & KURA_PSBT_TXMOD_INPUTS))
                return kura_fail(err, KURA_EDATA,
                                 "psbt: input %zu of the second PSBT is not in the first, and "
                                 "the PSBTs do not both allow inputs to be added",
                                 j);
            rc = append((void **)&d->inputs, &d->input_count, sizeof(*d->inputs));
            if (rc != KURA_OK) break;
            ni = &d->inputs[d->input_count - 1];
            memcpy(ni->prev_txid, si->prev_txid, 32);
            ni->prev_vout = si->prev_vout;
            ni->sequence = si->sequence;
            ni->has_sequence = si->has_sequence;
            added = true;
        }
        rc = merge_input(&d->inputs[i], si);
    }
    if (rc != KURA_OK) return kura_fail(err, rc, "psbt: out of memory");
    used = calloc(d_outputs > 0 ? d_outputs : 1, sizeof(*used));
    if (used == NULL) return kura_fail(err, KURA_ENOMEM, "psbt: out of memory");
    for (size_t j = 0; j < s->output_count && rc == KURA_OK; j++) {
        const kura_psbt_output *so = &s->outputs[j];
        size_t i = 0;
        while (i < d_outputs &&
               (used[i] || d->outputs[i].amount != so->amount ||
                kura_psbt_i_cmp(d->outputs[i].script_pubkey.data, d->outputs[i].script_pubkey.len,
                                so->script_pubkey.data, so->script_pubkey.len) != 0))
            i++;
        if (i < d_outputs) {
            used[i] = true;
        } else {
            kura_psbt_output *no;
            if (!(dmod & KURA_PSBT_TXMOD_OUTPUTS) || !(smod & KURA_PSBT_TXMOD_OUTPUTS)) {
                free(used);
                return kura_fail(err, KURA_EDATA,
                                 "psbt: output %zu of the second PSBT is not in the first, and "
                                 "the PSBTs do not both allow outputs to be added",
                                 j);
            }
            rc = append((void **)&d->outputs, &d->output_count, sizeof(*d->outputs));
            if (rc != KURA_OK) break;
            i = d->output_count - 1;
            no = &d->outputs[i];
            no->amount = so->amount;
            rc = kura_psbt_i_bytes_set(&no->script_pubkey, so->script_pubkey.data,
                                       so->script_pubkey.len);
            if (rc != KURA_OK) break;
            added = true;
        }
        rc = merge_output(&d->outputs[i], so);
    }
    free(used);
    if (rc != KURA_OK) return kura_fail(err, rc, "psbt: out of memory");
    if (added && ((dmod | smod) & KURA_PSBT_TXMOD_SIGHASH_SINGLE))
        return kura_fail(err, KURA_EDATA,
                         "psbt: inputs or outputs added beside a SIGHASH_SINGLE signature");
    if (d->has_tx_modifiable || s->has_tx_modifiable) {
        d->has_tx_modifiable = 1;
        d->tx_modifiable = (uint8_t)((dmod & smod & (KURA_PSBT_TXMOD_INPUTS | KURA_PSBT_TXMOD_OUTPUTS)) |
                                     ((dmod | smod) & KURA_PSBT_TXMOD_SIGHASH_SINGLE));
    }
    return KURA_OK;
}

int kura_psbt_combine(kura_psbt *dst, const kura_psbt *src, kura_error *err)
{
    kura_psbt *work = NULL, tmp;
    uint8_t a[32], b[32];
    int rc;
    if (dst == NULL || src == NULL) return kura_fail(err, KURA_EINVAL, "psbt: NULL argument");
    if (dst->version != src->version)
        return kura_fail(err, KURA_EDATA, "psbt: cannot combine version %u with version %u",
                         (unsigned)dst->version, (unsigned)src->version);
    /* BIP174: combine only PSBTs of the same unsigned transaction; BIP370:
     * of the same unique identifier (sequences excluded) — or, for version
     * 2, copies to which Constructors added inputs or outputs
     * (merge_constructed). */
    if (dst->version == 2) {
        int same = dst->input_count == src->input_count &&
                   dst->output_count == src->output_count &&
                   kura_psbt_unique_id(a, dst, NULL) == KURA_OK &&
                   kura_psbt_unique_id(b, src, NULL) == KURA_OK && memcmp(a, b, 32) == 0;
        if (!same) {
            rc = kura_psbt_clone(&work, dst);
            if (rc != KURA_OK)
                return kura_fail(err, rc, "psbt: cannot copy (%s)", kura_status_name(rc));
            rc = merge_constructed(work, src, err);
            if (rc == KURA_OK) rc = merge_global(work, src);
            if (rc != KURA_OK) {
                kura_psbt_free(work);
                return rc == KURA_ENOMEM ? kura_fail(err, rc, "psbt: out of memory") : rc;
            }
            tmp = *dst;
            *dst = *work;
            *work = tmp;
            kura_psbt_free(work);
            return KURA_OK;
        }
    }
    if (dst->input_count != src->input_count || dst->output_count != src->output_count)
        return kura_fail(err, KURA_EDATA, "psbt: the PSBTs describe different transactions");
    if ((rc = kura_psbt_unique_id(a, dst, err)) != KURA_OK ||
        (rc = kura_psbt_unique_id(b, src, err)) != KURA_OK)
        return rc;
    if (memcmp(a, b, 32) != 0)
        return kura_fail(err, KURA_EDATA, "psbt: the PSBTs describe different transactions");
    rc = kura_psbt_clone(&work, dst);
    if (rc != KURA_OK) return kura_fail(err, rc, "psbt: cannot copy (%s)", kura_status_name(rc));
    rc = merge_global(work, src);
    for (size_t i = 0; i < work->input_count && rc == KURA_OK; i++)
        rc = merge_input(&work->inputs[i], &src->inputs[i]);
    for (size_t i = 0; i < work->output_count && rc == KURA_OK; i++)
        rc = merge_output(&work->outputs[i], &src->outputs[i]);
    if (rc != KURA_OK) {
        kura_psbt_free(work);
        return kura_fail(err, rc, "psbt: out of memory");
    }
    /* Swap the merged copy in; free what dst held. */
    tmp = *dst;
    *dst = *work;
    *work = tmp;
    kura_psbt_free(work);
    return KURA_OK;
}
