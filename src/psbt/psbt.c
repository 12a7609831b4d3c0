/* src/psbt/psbt.c — the PSBT data model: allocation, freeing, the updater's
 * setters and the global proprietary records. */
#include <stdlib.h>
#include <string.h>

#include <secp256k1.h>
#include <secp256k1_extrakeys.h>

#include "kura/hash.h"
#include "psbt_internal.h"

/* ---- arrays ---- */

size_t kura_psbt_i_cap(size_t count)
{
    size_t cap = 1;
    if (count == 0) return 0;
    while (cap < count) {
        if (cap > SIZE_MAX / 2) return count;
        cap *= 2;
    }
    return cap;
}

int kura_psbt_i_grow(void **arr, size_t count, size_t elem)
{
    size_t newcap, bytes;
    void *p;
    /* The allocation holds cap(count) entries; it is full exactly when count
     * is 0 or a power of two. */
    if (count != 0 && (count & (count - 1)) != 0) {
        memset((uint8_t *)*arr + count * elem, 0, elem);
        return KURA_OK;
    }
    if (count == 0)
        newcap = 1;
    else if (!kura_size_mul(count, 2, &newcap))
        return KURA_ENOMEM;
    if (!kura_size_mul(newcap, elem, &bytes)) return KURA_ENOMEM;
    p = realloc(*arr, bytes);
    if (p == NULL) return KURA_ENOMEM;
    *arr = p;
    memset((uint8_t *)p + count * elem, 0, elem);
    return KURA_OK;
}

int kura_psbt_i_insert(void **arr, size_t *count, size_t elem, size_t pos)
{
    uint8_t *p;
    int rc = kura_psbt_i_grow(arr, *count, elem);
    if (rc != KURA_OK) return rc;
    p = *arr;
    if (pos < *count) memmove(p + (pos + 1) * elem, p + pos * elem, (*count - pos) * elem);
    memset(p + pos * elem, 0, elem);
    (*count)++;
    return KURA_OK;
}

int kura_psbt_i_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n > 0 ? memcmp(a, b, n) : 0;
    if (c != 0) return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

int kura_psbt_i_key_cmp(const void *x, const void *y)
{
    const kura_psbt_i_key *a = x, *b = y;
    int c = kura_psbt_i_cmp(a->a, a->alen, b->a, b->alen);
    return c != 0 ? c : kura_psbt_i_cmp(a->b, a->blen, b->b, b->blen);
}

int kura_psbt_i_mark_fresh(bool **fresh, const void *dst, size_t n_dst, const void *src,
                           size_t n_src, kura_psbt_i_key (*key)(const void *arr, size_t i))
{
    kura_psbt_i_key *index = NULL;
    bool *f;
    *fresh = NULL;
    if (n_src == 0) return KURA_OK;
    f = calloc(n_src, sizeof(bool));
    if (f == NULL) return KURA_ENOMEM;
    if (n_dst > 0) {
        index = calloc(n_dst, sizeof(*index));
        if (index == NULL) {
            free(f);
            return KURA_ENOMEM;
        }
        for (size_t i = 0; i < n_dst; i++) index[i] = key(dst, i);
        qsort(index, n_dst, sizeof(*index), kura_psbt_i_key_cmp);
    }
    for (size_t i = 0; i < n_src; i++) {
        kura_psbt_i_key k = key(src, i);
        f[i] = n_dst == 0 || bsearch(&k, index, n_dst, sizeof(*index), kura_psbt_i_key_cmp) == NULL;
    }
    free(index);
    *fresh = f;
    return KURA_OK;
}

/* ---- freeing ---- */

void kura_psbt_i_keyorigin_clear(kura_psbt_keyorigin *o)
{
    free(o->path);
    memset(o, 0, sizeof(*o));
}

void kura_psbt_i_bytes_clear(kura_bytes *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

void kura_psbt_i_tap_bip32_clear(kura_psbt_tap_bip32 *t)
{
    free(t->leaf_hashes);
    kura_psbt_i_keyorigin_clear(&t->origin);
    memset(t, 0, sizeof(*t));
}

void kura_psbt_i_witness_free(kura_bytes *items, size_t count)
{
    if (items == NULL) return;
    for (size_t i = 0; i < count; i++) free(items[i].data);
    free(items);
}

static void kv_free_all(kura_psbt_kv *kv, size_t count)
{
    if (kv == NULL) return;
    for (size_t i = 0; i < count; i++) free(kv[i].key); /* value shares the allocation */
    free(kv);
}

static void bip32_free_all(kura_psbt_bip32 *b, size_t count)
{
    if (b == NULL) return;
    for (size_t i = 0; i < count; i++) free(b[i].origin.path);
    free(b);
}

static void tap_bip32_free_all(kura_psbt_tap_bip32 *t, size_t count)
{
    if (t == NULL) return;
    for (size_t i = 0; i < count; i++) {
        free(t[i].leaf_hashes);
        free(t[i].origin.path);
    }
    free(t);
}

static void leaf_scripts_free_all(kura_psbt_tap_leaf_script *l, size_t count)
{
    if (l == NULL) return;
    for (size_t i = 0; i < count; i++) {
        free(l[i].control_block.data);
        free(l[i].script.data);
    }
    free(l);
}

static void tap_tree_free(kura_psbt_tap_leaf *l, size_t count)
{
    if (l == NULL) return;
    for (size_t i = 0; i < count; i++) free(l[i].script.data);
    free(l);
}

void kura_psbt_i_input_clear_nonfinal(kura_psbt_input *in)
{
    free(in->partial_sigs);
    in->partial_sigs = NULL;
    in->partial_sig_count = 0;
    in->has_sighash_type = 0;
    in->sighash_type = 0;
    kura_psbt_i_bytes_clear(&in->redeem_script);
    in->has_redeem_script = 0;
    kura_psbt_i_bytes_clear(&in->witness_script);
    in->has_witness_script = 0;
    bip32_free_all(in->bip32, in->bip32_count);
    in->bip32 = NULL;
    in->bip32_count = 0;
    for (size_t i = 0; i < in->preimage_count; i++) free(in->preimages[i].preimage.data);
    free(in->preimages);
    in->preimages = NULL;
    in->preimage_count = 0;
    memset(in->tap_key_sig, 0, sizeof(in->tap_key_sig));
    in->tap_key_sig_len = 0;
    free(in->tap_script_sigs);
    in->tap_script_sigs = NULL;
    in->tap_script_sig_count = 0;
    leaf_scripts_free_all(in->tap_leaf_scripts, in->tap_leaf_script_count);
    in->tap_leaf_scripts = NULL;
    in->tap_leaf_script_count = 0;
    tap_bip32_free_all(in->tap_bip32, in->tap_bip32_count);
    in->tap_bip32 = NULL;
    in->tap_bip32_count = 0;
    in->has_tap_internal_key = 0;
    memset(in->tap_internal_key, 0, 32);
    in->has_tap_merkle_root = 0;
    memset(in->tap_merkle_root, 0, 32);
}

void kura_psbt_i_input_clear(kura_psbt_input *in)
{
    kura_psbt_i_input_clear_nonfinal(in);
    kura_tx_free(in->non_witness_utxo);
    free(in->witness_utxo.script_pubkey.data);
    free(in->final_script_sig.data);
    kura_psbt_i_witness_free(in->final_script_witness, in->final_script_witness_count);
    kv_free_all(in->unknowns, in->unknown_count);
    memset(in, 0, sizeof(*in));
}

void kura_psbt_i_output_clear(kura_psbt_output *out)
{
    free(out->script_pubkey.data);
    free(out->redeem_script.data);
    free(out->witness_script.data);
    bip32_free_all(out->bip32, out->bip32_count);
    tap_tree_free(out->tap_tree, out->tap_tree_count);
    tap_bip32_free_all(out->tap_bip32, out->tap_bip32_count);
    kv_free_all(out->unknowns, out->unknown_count);
    memset(out, 0, sizeof(*out));
}

void kura_psbt_free(kura_psbt *psbt)
{
    if (psbt == NULL) return;
    for (size_t i = 0; i < psbt->input_count; i++) kura_psbt_i_input_clear(&psbt->inputs[i]);
    for (size_t i = 0; i < psbt->output_count; i++) kura_psbt_i_output_clear(&psbt->outputs[i]);
    free(psbt->inputs);
    free(psbt->outputs);
    for (size_t i = 0; i < psbt->xpub_count; i++) free(psbt->xpubs[i].origin.path);
    free(psbt->xpubs);
    kv_free_all(psbt->unknowns, psbt->unknown_count);
    free(psbt);
}

kura_psbt *kura_psbt_i_alloc(uint32_t version)
{
    kura_psbt *p = calloc(1, sizeof(*p));
    if (p == NULL) return NULL;
    p->version = version;
    p->tx_version = 2;
    return p;
}

/* ---- small setters ---- */

int kura_psbt_i_bytes_set(kura_bytes *dst, const uint8_t *data, size_t len)
{
    uint8_t *p = NULL;
    if (len > 0) {
        p = kura_memdup(data, len);
        if (p == NULL) return KURA_ENOMEM;
    }
    free(dst->data);
    dst->data = p;
    dst->len = len;
    return KURA_OK;
}

int kura_psbt_i_keyorigin_set(kura_psbt_keyorigin *o, const uint8_t fingerprint[4],
                              const uint32_t *path, size_t path_len)
{
    uint32_t *p = NULL;
    if (path_len > 0) {
        size_t bytes;
        if (!kura_size_mul(path_len, sizeof(uint32_t), &bytes)) return KURA_ENOMEM;
        p = malloc(bytes);
        if (p == NULL) return KURA_ENOMEM;
        memcpy(p, path, bytes);
    }
    free(o->path);
    o->path = p;
    o->path_len = path_len;
    memcpy(o->fingerprint, fingerprint, 4);
    return KURA_OK;
}

/* ---- the unsigned transaction ---- */

void kura_psbt_i_write_unsigned_tx(kura_buf *b, const kura_psbt *psbt, uint32_t locktime,
                                   bool zero_sequences)
{
    kura_buf_put_u32le(b, psbt->tx_version);
    kura_buf_put_compact_size(b, psbt->input_count);
    for (size_t i = 0; i < psbt->input_count; i++) {
        const kura_psbt_input *in = &psbt->inputs[i];
        kura_buf_put(b, in->prev_txid, 32);
        kura_buf_put_u32le(b, in->prev_vout);
        kura_buf_put_u8(b, 0); /* empty scriptSig: BIP174 requires it */
        kura_buf_put_u32le(b, zero_sequences ? 0 : in->sequence);
    }
    kura_buf_put_compact_size(b, psbt->output_count);
    for (size_t i = 0; i < psbt->output_count; i++) {
        const kura_psbt_output *o = &psbt->outputs[i];
        kura_buf_put_u64le(b, o->amount);
        kura_buf_put_compact_size(b, o->script_pubkey.len);
        kura_buf_put(b, o->script_pubkey.data, o->script_pubkey.len);
    }
    kura_buf_put_u32le(b, locktime);
}

/* ---- the updater ---- */

static int input_at(kura_psbt_input **in, kura_psbt *psbt, size_t index)
{
    if (psbt == NULL || index >= psbt->input_count) return KURA_EINVAL;
    *in = &psbt->inputs[index];
    return KURA_OK;
}

static int output_at(kura_psbt_output **out, kura_psbt *psbt, size_t index)
{
    if (psbt == NULL || index >= psbt->output_count) return KURA_EINVAL;
    *out = &psbt->outputs[index];
    return KURA_OK;
}

static int set_script(int *has, kura_bytes *dst, const uint8_t *script, size_t len)
{
    int rc;
    if (script == NULL && len > 0) return KURA_EINVAL;
    if (len > KURA_PSBT_MAX_VALUE) return KURA_EINVAL;
    rc = kura_psbt_i_bytes_set(dst, script, len);
    if (rc == KURA_OK) *has = 1;
    return rc;
}

int kura_psbt_input_set_non_witness_utxo(kura_psbt *psbt, size_t index, const kura_tx *prev,
                                         kura_error *err)
{
    kura_psbt_input *in;
    kura_tx *copy = NULL;
    uint8_t txid[32];
    int rc = input_at(&in, psbt, index);
    if (rc != KURA_OK || prev == NULL) return KURA_EINVAL;
    /* BIP174: the non-witness UTXO is the whole previous transaction; a signer
     * trusts the amount only because the txid commits to it, so a transaction
     * with another txid is refused here already. */
    rc = kura_tx_txid(txid, prev);
    if (rc != KURA_OK) return rc;
    if (memcmp(txid, in->prev_txid, 32) != 0)
        return kura_fail(err, KURA_EDATA, "psbt: input %zu: non-witness UTXO has another txid",
                         index);
    if (in->prev_vout >= prev->output_count)
        return kura_fail(err, KURA_EDATA, "psbt: input %zu: non-witness UTXO has no output %u",
                         index, (unsigned)in->prev_vout);
    rc = kura_tx_clone(&copy, prev);
    if (rc != KURA_OK) return rc;
    kura_tx_free(in->non_witness_utxo);
    in->non_witness_utxo = copy;
    return KURA_OK;
}

int kura_psbt_input_set_witness_utxo(kura_psbt *psbt, size_t index, uint64_t amount,
                                     const uint8_t *script_pubkey, size_t script_pubkey_len)
{
    kura_psbt_input *in;
    int rc = input_at(&in, psbt, index);
    if (rc != KURA_OK) return rc;
    if (amount > KURA_MAX_MONEY || (script_pubkey == NULL && script_pubkey_len > 0) ||
        script_pubkey_len > KURA_PSBT_MAX_VALUE)
        return KURA_EINVAL;
    rc = kura_psbt_i_bytes_set(&in->witness_utxo.script_pubkey, script_pubkey, script_pubkey_len);
    if (rc != KURA_OK) return rc;
    in->witness_utxo.amount = amount;
    in->has_witness_utxo = 1;
    return KURA_OK;
}

int kura_psbt_input_set_redeem_script(kura_psbt *psbt, size_t index, const uint8_t *script,
                                      size_t len)
{
    kura_psbt_input *in;
    int rc = input_at(&in, psbt, index);
    if (rc != KURA_OK) return rc;
    return set_script(&in->has_redeem_script, &in->redeem_script, script, len);
}

int kura_psbt_input_set_witness_script(kura_psbt *psbt, size_t index, const uint8_t *script,
                                       size_t len)
{
    kura_psbt_input *in;
    int rc = input_at(&in, psbt, index);
    if (rc != KURA_OK) return rc;
    return set_script(&in->has_witness_script, &in->witness_script, script, len);
}

int kura_psbt_input_set_sighash_type(kura_psbt *psbt, size_t index, uint32_t sighash_type)
{
    kura_psbt_input *in;
    int rc = input_at(&in, psbt, index);
    if (rc != KURA_OK) return rc;
    in->sighash_type = sighash_type;
    in->has_sighash_type = 1;
    return KURA_OK;
}

bool kura_psbt_i_pubkey_valid(const uint8_t *pubkey, size_t len)
{
    secp256k1_pubkey pk;
    /* The SEC1 forms BIP174 keys take: compressed (02/03) or uncompressed and
     * hybrid (04/06/07); and a point on the curve, so a record names a key
     * that exists. */
    if (pubkey == NULL) return false;
    if (len == 33 && pubkey[0] != 0x02 && pubkey[0] != 0x03) return false;
    if (len == 65 && pubkey[0] != 0x04 && pubkey[0] != 0x06 && pubkey[0] != 0x07) return false;
    if (len != 33 && len != 65) return false;
    return secp256k1_ec_pubkey_parse(secp256k1_context_static, &pk, pubkey, len) == 1;
}

bool kura_psbt_i_xonly_valid(const uint8_t *xonly)
{
    secp256k1_xonly_pubkey pk;
    return xonly != NULL &&
           secp256k1_xonly_pubkey_parse(secp256k1_context_static, &pk, xonly) == 1;
}

static int bip32_put(kura_psbt_bip32 **arr, size_t *count, const uint8_t *pubkey,
                     size_t pubkey_len, const uint8_t fingerprint[4], const uint32_t *path,
                     size_t path_len)
{
    kura_psbt_keyorigin tmp = {{0}, NULL, 0};
    size_t pos = *count;
    int rc;
    if (!kura_psbt_i_pubkey_valid(pubkey, pubkey_len) || fingerprint == NULL ||
        (path == NULL && path_len > 0) || path_len > KURA_PSBT_MAX_VALUE / 4)
        return KURA_EINVAL;
    rc = kura_psbt_i_keyorigin_set(&tmp, fingerprint, path, path_len);
    if (rc != KURA_OK) return rc;
    for (size_t i = 0; i < *count; i++) {
        int c = kura_psbt_i_cmp((*arr)[i].pubkey, (*arr)[i].pubkey_len, pubkey, pubkey_len);
        if (c == 0) {
            kura_psbt_i_keyorigin_clear(&(*arr)[i].origin);
            (*arr)[i].origin = tmp;
            return KURA_OK;
        }
        if (c > 0) {
            pos = i;
            break;
        }
    }
    rc = kura_psbt_i_insert((void **)arr, count, sizeof(**arr), pos);
    if (rc != KURA_OK) {
        kura_psbt_i_keyorigin_clear(&tmp);
        return rc;
    }
    memcpy((*arr)[pos].pubkey, pubkey, pubkey_len);
    (*arr)[pos].pubkey_len = pubkey_len;
    (*arr)[pos].origin = tmp;
    return KURA_OK;
}

int kura_psbt_input_add_bip32(kura_psbt *psbt, size_t index, const uint8_t *pubkey,
                              size_t pubkey_len, const uint8_t fingerprint[4],
                              const uint32_t *path, size_t path_len)
{
    kura_psbt_input *in;
    int rc = input_at(&in, psbt, index);
    if (rc != KURA_OK) return rc;
    return bip32_put(&in->bip32, &in->bip32_count, pubkey, pubkey_len, fingerprint, path,
                     path_len);
}

int kura_psbt_input_set_tap_internal_key(kura_psbt *psbt, size_t index, const uint8_t xonly[32])
{
    kura_psbt_input *in;
    int rc = input_at(&in, psbt, index);
    if (rc != KURA_OK || !kura_psbt_i_xonly_valid(xonly)) return KURA_EINVAL;
    memcpy(in->tap_internal_key, xonly, 32);
    in->has_tap_internal_key = 1;
    return KURA_OK;
}

int kura_psbt_input_set_tap_merkle_root(kura_psbt *psbt, size_t index, const uint8_t root[32])
{
    kura_psbt_input *in;
    int rc = input_at(&in, psbt, index);
    if (rc != KURA_OK || root == NULL) return KURA_EINVAL;
    memcpy(in->tap_merkle_root, root, 32);
    in->has_tap_merkle_root = 1;
    return KURA_OK;
}

int kura_psbt_input_add_tap_leaf_script(kura_psbt *psbt, size_t index, const uint8_t *control,
                                        size_t control_len, const uint8_t *script,
                                        size_t script_len, uint8_t leaf_version)
{
    kura_psbt_input *in;
    kura_bytes cb = {NULL, 0}, sc = {NULL, 0};
    size_t pos;
    int rc = input_at(&in, psbt, index);
    if (rc != KURA_OK) return rc;
    /* BIP341: a control block is 33 + 32m bytes, m <= 128. */
    if (control == NULL || control_len < 33 || control_len > 33 + 32 * 128 ||
        (control_len - 33) % 32 != 0 || !kura_psbt_i_xonly_valid(control + 1) ||
        (script == NULL && script_len > 0) ||
        script_len >= KURA_PSBT_MAX_VALUE)
        return KURA_EINVAL;
    if (kura_psbt_i_bytes_set(&cb, control, control_len) != KURA_OK) return KURA_ENOMEM;
    if (kura_psbt_i_bytes_set(&sc, script, script_len) != KURA_OK) {
        kura_psbt_i_bytes_clear(&cb);
        return KURA_ENOMEM;
    }
    pos = in->tap_leaf_script_count;
    for (size_t i = 0; i < in->tap_leaf_script_count; i++) {
        kura_psbt_tap_leaf_script *l = &in->tap_leaf_scripts[i];
        int c = kura_psbt_i_cmp(l->control_block.data, l->control_block.len, control,
                                control_len);
        if (c == 0) {
            kura_psbt_i_bytes_clear(&l->control_block);
            kura_psbt_i_bytes_clear(&l->script);
            l->control_block = cb;
            l->script = sc;
            l->leaf_version = leaf_version;
            return KURA_OK;
        }
        if (c > 0) {
            pos = i;
            break;
        }
    }
    rc = kura_psbt_i_insert((void **)&in->tap_leaf_scripts, &in->tap_leaf_script_count,
                            sizeof(*in->tap_leaf_scripts), pos);
    if (rc != KURA_OK) {
        kura_psbt_i_bytes_clear(&cb);
        kura_psbt_i_bytes_clear(&sc);
        return rc;
    }
    in->tap_leaf_scripts[pos].control_block = cb;
    in->tap_leaf_scripts[pos].script = sc;
    in->tap_leaf_scripts[pos].leaf_version = leaf_version;
    return KURA_OK;
}

static int tap_bip32_put(kura_psbt_tap_bip32 **arr, size_t *count, const uint8_t xonly[32],
                         const uint8_t *leaf_hashes, size_t leaf_hash_count,
                         const uint8_t fingerprint[4], const uint32_t *path, size_t path_len)
{
    kura_psbt_tap_bip32 t;
    size_t pos = *count, bytes;
    int rc;
    memset(&t, 0, sizeof(t));
    if (!kura_psbt_i_xonly_valid(xonly) || fingerprint == NULL ||
        (leaf_hashes == NULL && leaf_hash_count > 0) ||
        (path == NULL && path_len > 0) || path_len > KURA_PSBT_MAX_VALUE / 4 ||
        leaf_hash_count > KURA_PSBT_MAX_VALUE / 32)
        return KURA_EINVAL;
    memcpy(t.xonly, xonly, 32);
    if (leaf_hash_count > 0) {
        bytes = leaf_hash_count * 32;
        t.leaf_hashes = kura_memdup(leaf_hashes, bytes);
        if (t.leaf_hashes == NULL) return KURA_ENOMEM;
        t.leaf_hash_count = leaf_hash_count;
    }
    rc = kura_psbt_i_keyorigin_set(&t.origin, fingerprint, path, path_len);
    if (rc != KURA_OK) {
        kura_psbt_i_tap_bip32_clear(&t);
        return rc;
    }
    for (size_t i = 0; i < *count; i++) {
        int c = memcmp((*arr)[i].xonly, xonly, 32);
        if (c == 0) {
            kura_psbt_i_tap_bip32_clear(&(*arr)[i]);
            (*arr)[i] = t;
            return KURA_OK;
        }
        if (c > 0) {
            pos = i;
            break;
        }
    }
    rc = kura_psbt_i_insert((void **)arr, count, sizeof(**arr), pos);
    if (rc != KURA_OK) {
        kura_psbt_i_tap_bip32_clear(&t);
        return rc;
    }
    (*arr)[pos] = t;
    return KURA_OK;
}

int kura_psbt_input_add_tap_bip32(kura_psbt *psbt, size_t index, const uint8_t xonly[32],
                                  const uint8_t *leaf_hashes, size_t leaf_hash_count,
                                  const uint8_t fingerprint[4], const uint32_t *path,
                                  size_t path_len)
{
    kura_psbt_input *in;
    int rc = input_at(&in, psbt, index);
    if (rc != KURA_OK) return rc;
    return tap_bip32_put(&in->tap_bip32, &in->tap_bip32_count, xonly, leaf_hashes,
                         leaf_hash_count, fingerprint, path, path_len);
}

int kura_psbt_output_set_redeem_script(kura_psbt *psbt, size_t index, const uint8_t *script,
                                       size_t len)
{
    kura_psbt_output *o;
    int rc = output_at(&o, psbt, index);
    if (rc != KURA_OK) return rc;
    return set_script(&o->has_redeem_script, &o->redeem_script, script, len);
}

int kura_psbt_output_set_witness_script(kura_psbt *psbt, size_t index, const uint8_t *script,
                                        size_t len)
{
    kura_psbt_output *o;
    int rc = output_at(&o, psbt, index);
    if (rc != KURA_OK) return rc;
    return set_script(&o->has_witness_script, &o->witness_script, script, len);
}

int kura_psbt_output_add_bip32(kura_psbt *psbt, size_t index, const uint8_t *pubkey,
                               size_t pubkey_len, const uint8_t fingerprint[4],
                               const uint32_t *path, size_t path_len)
{
    kura_psbt_output *o;
    int rc = output_at(&o, psbt, index);
    if (rc != KURA_OK) return rc;
    return bip32_put(&o->bip32, &o->bip32_count, pubkey, pubkey_len, fingerprint, path,
                     path_len);
}

int kura_psbt_output_set_tap_internal_key(kura_psbt *psbt, size_t index,
                                          const uint8_t xonly[32])
{
    kura_psbt_output *o;
    int rc = output_at(&o, psbt, index);
    if (rc != KURA_OK || !kura_psbt_i_xonly_valid(xonly)) return KURA_EINVAL;
    memcpy(o->tap_internal_key, xonly, 32);
    o->has_tap_internal_key = 1;
    return KURA_OK;
}

int kura_psbt_output_set_tap_tree(kura_psbt *psbt, size_t index, const kura_psbt_tap_leaf *leaves,
                                  size_t count, kura_error *err)
{
    kura_psbt_output *o;
    kura_psbt_tap_leaf *copy;
    int rc = output_at(&o, psbt, index);
    if (rc != KURA_OK || leaves == NULL || count == 0 || count > KURA_PSBT_MAX_VALUE / 3)
        return KURA_EINVAL;
    for (size_t i = 0; i < count; i++) {
        if (leaves[i].script.data == NULL && leaves[i].script.len > 0) return KURA_EINVAL;
        if (leaves[i].depth > 128 || (leaves[i].leaf_version & 1) != 0)
            return kura_fail(err, KURA_EDATA,
                             "psbt: output %zu: tap tree leaf %zu has depth %u or odd version",
                             index, i, (unsigned)leaves[i].depth);
    }
    if (!kura_psbt_i_tap_tree_complete(leaves, count))
        return kura_fail(err, KURA_EDATA, "psbt: output %zu: tap tree is not a complete tree",
                         index);
    copy = calloc(kura_psbt_i_cap(count), sizeof(*copy));
    if (copy == NULL) return KURA_ENOMEM;
    for (size_t i = 0; i < count; i++) {
        copy[i].depth = leaves[i].depth;
        copy[i].leaf_version = leaves[i].leaf_version;
        if (kura_psbt_i_bytes_set(&copy[i].script, leaves[i].script.data, leaves[i].script.len) !=
            KURA_OK) {
            tap_tree_free(copy, i);
            return KURA_ENOMEM;
        }
    }
    tap_tree_free(o->tap_tree, o->tap_tree_count);
    o->tap_tree = copy;
    o->tap_tree_count = count;
    return KURA_OK;
}

int kura_psbt_output_add_tap_bip32(kura_psbt *psbt, size_t index, const uint8_t xonly[32],
                                   const uint8_t *leaf_hashes, size_t leaf_hash_count,
                                   const uint8_t fingerprint[4], const uint32_t *path,
                                   size_t path_len)
{
    kura_psbt_output *o;
    int rc = output_at(&o, psbt, index);
    if (rc != KURA_OK) return rc;
    return tap_bip32_put(&o->tap_bip32, &o->tap_bip32_count, xonly, leaf_hashes,
                         leaf_hash_count, fingerprint, path, path_len);
}

int kura_psbt_add_xpub(kura_psbt *psbt, const uint8_t xpub[78], const uint8_t fingerprint[4],
                       const uint32_t *path, size_t path_len)
{
    kura_psbt_keyorigin tmp = {{0}, NULL, 0};
    size_t pos;
    int rc;
    if (psbt == NULL || xpub == NULL || fingerprint == NULL || (path == NULL && path_len > 0) ||
        path_len > KURA_PSBT_MAX_VALUE / 4 || !kura_psbt_i_pubkey_valid(xpub + 45, 33))
        return KURA_EINVAL;
    rc = kura_psbt_i_keyorigin_set(&tmp, fingerprint, path, path_len);
    if (rc != KURA_OK) return rc;
    pos = psbt->xpub_count;
    for (size_t i = 0; i < psbt->xpub_count; i++) {
        int c = memcmp(psbt->xpubs[i].xpub, xpub, 78);
        if (c == 0) {
            kura_psbt_i_keyorigin_clear(&psbt->xpubs[i].origin);
            psbt->xpubs[i].origin = tmp;
            return KURA_OK;
        }
        if (c > 0) {
            pos = i;
            break;
        }
    }
    rc = kura_psbt_i_insert((void **)&psbt->xpubs, &psbt->xpub_count, sizeof(*psbt->xpubs), pos);
    if (rc != KURA_OK) {
        kura_psbt_i_keyorigin_clear(&tmp);
        return rc;
    }
    memcpy(psbt->xpubs[pos].xpub, xpub, 78);
    psbt->xpubs[pos].origin = tmp;
    return KURA_OK;
}

/* ---- proprietary records ---- */

int kura_psbt_proprietary_key_decode(const uint8_t **identifier, size_t *identifier_len,
                                     uint64_t *subtype, const uint8_t **keydata,
                                     size_t *keydata_len, const kura_psbt_kv *rec)
{
    kura_reader r;
    uint64_t type = 0, idlen = 0, sub = 0;
    const uint8_t *id = NULL;
    if (identifier == NULL || identifier_len == NULL || subtype == NULL || keydata == NULL ||
        keydata_len == NULL)
        return KURA_EINVAL;
    *identifier = NULL;
    *identifier_len = 0;
    *subtype = 0;
    *keydata = NULL;
    *keydata_len = 0;
    if (rec == NULL || rec->key == NULL) return KURA_EINVAL;
    /* BIP174: 0xFC <compact size identifier length> <identifier> <compact
     * size subtype> <key data>. */
    kura_reader_init(&r, rec->key, rec->key_len);
    if (!kura_read_compact_size(&r, &type) || type != KURA_PSBT_PROPRIETARY ||
        !kura_read_compact_size(&r, &idlen) || idlen > r.left ||
        !kura_read_span(&r, &id, (size_t)idlen) || !kura_read_compact_size(&r, &sub))
        return KURA_EDATA;
    *identifier = idlen > 0 ? id : NULL;
    *identifier_len = (size_t)idlen;
    *subtype = sub;
    *keydata = r.left > 0 ? r.p : NULL;
    *keydata_len = r.left;
    return KURA_OK;
}

/* Builds the whole proprietary key into b. */
static void proprietary_key(kura_buf *b, const uint8_t *identifier, size_t identifier_len,
                            uint64_t subtype, const uint8_t *keydata, size_t keydata_len)
{
    kura_buf_put_compact_size(b, KURA_PSBT_PROPRIETARY);
    kura_buf_put_compact_size(b, identifier_len);
    kura_buf_put(b, identifier, identifier_len);
    kura_buf_put_compact_size(b, subtype);
    kura_buf_put(b, keydata, keydata_len);
}

static int proprietary_find(size_t *index, kura_buf *key, const kura_psbt *psbt,
                            const uint8_t *identifier, size_t identifier_len, uint64_t subtype,
                            const uint8_t *keydata, size_t keydata_len)
{
    if (psbt == NULL || (identifier == NULL && identifier_len > 0) ||
        (keydata == NULL && keydata_len > 0))
        return KURA_EINVAL;
    if (identifier_len > KURA_PSBT_MAX_KEY || keydata_len > KURA_PSBT_MAX_KEY)
        return KURA_ERANGE;
    kura_buf_init(key);
    proprietary_key(key, identifier, identifier_len, subtype, keydata, keydata_len);
    if (key->failed) {
        kura_buf_free(key);
        return KURA_ENOMEM;
    }
    if (key->len > KURA_PSBT_MAX_KEY) {
        kura_buf_free(key);
        return KURA_ERANGE;
    }
    for (size_t i = 0; i < psbt->unknown_count; i++) {
        if (psbt->unknowns[i].key_len == key->len &&
            memcmp(psbt->unknowns[i].key, key->data, key->len) == 0) {
            *index = i;
            return KURA_OK;
        }
    }
    return KURA_ENOTFOUND;
}

int kura_psbt_proprietary_get(const uint8_t **value, size_t *value_len, const kura_psbt *psbt,
                              const uint8_t *identifier, size_t identifier_len, uint64_t subtype,
                              const uint8_t *keydata, size_t keydata_len)
{
    kura_buf key;
    size_t i = 0;
    int rc;
    if (value == NULL || value_len == NULL) return KURA_EINVAL;
    *value = NULL;
    *value_len = 0;
    rc = proprietary_find(&i, &key, psbt, identifier, identifier_len, subtype, keydata,
                          keydata_len);
    if (rc == KURA_ERANGE) return KURA_ENOTFOUND; /* no such key can be held */
    if (rc != KURA_OK && rc != KURA_ENOTFOUND) return rc;
    kura_buf_free(&key);
    if (rc == KURA_OK) {
        *value = psbt->unknowns[i].value;
        *value_len = psbt->unknowns[i].value_len;
    }
    return rc;
}

int kura_psbt_proprietary_set(kura_psbt *psbt, const uint8_t *identifier, size_t identifier_len,
                              uint64_t subtype, const uint8_t *keydata, size_t keydata_len,
                              const uint8_t *value, size_t value_len)
{
    kura_buf key;
    size_t i = 0, total;
    uint8_t *block;
    int rc;
    if (value == NULL && value_len > 0) return KURA_EINVAL;
    if (value_len > KURA_PSBT_MAX_PROPRIETARY_VALUE) return KURA_ERANGE;
    rc = proprietary_find(&i, &key, psbt, identifier, identifier_len, subtype, keydata,
                          keydata_len);
    if (rc != KURA_OK && rc != KURA_ENOTFOUND) return rc;
    /* key and value share one allocation, as the parser makes them. */
    if (!kura_size_add(key.len, value_len, &total) || (block = malloc(total)) == NULL) {
        kura_buf_free(&key);
        return KURA_ENOMEM;
    }
    memcpy(block, key.data, key.len);
    if (value_len > 0) memcpy(block + key.len, value, value_len);
    if (rc == KURA_ENOTFOUND) {
        i = psbt->unknown_count;
        if (kura_psbt_i_insert((void **)&psbt->unknowns, &psbt->unknown_count,
                               sizeof(*psbt->unknowns), i) != KURA_OK) {
            free(block);
            kura_buf_free(&key);
            return KURA_ENOMEM;
        }
    } else {
        free(psbt->unknowns[i].key);
    }
    psbt->unknowns[i].key = block;
    psbt->unknowns[i].key_len = key.len;
    psbt->unknowns[i].value = value_len > 0 ? block + key.len : NULL;
    psbt->unknowns[i].value_len = value_len;
    kura_buf_free(&key);
    return KURA_OK;
}

int kura_psbt_proprietary_remove(kura_psbt *psbt, const uint8_t *identifier,
                                 size_t identifier_len, uint64_t subtype, const uint8_t *keydata,
                                 size_t keydata_len)
{
    kura_buf key;
    size_t i = 0;
    int rc = proprietary_find(&i, &key, psbt, identifier, identifier_len, subtype, keydata,
                              keydata_len);
    if (rc == KURA_ERANGE) return KURA_ENOTFOUND;
    if (rc != KURA_OK && rc != KURA_ENOTFOUND) return rc;
    kura_buf_free(&key);
    if (rc != KURA_OK) return rc;
    free(psbt->unknowns[i].key);
    memmove(&psbt->unknowns[i], &psbt->unknowns[i + 1],
            (psbt->unknown_count - i - 1) * sizeof(*psbt->unknowns));
    psbt->unknown_count--;
    return KURA_OK;
}
