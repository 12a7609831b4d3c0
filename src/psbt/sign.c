/* src/psbt/sign.c — the Signer role (BIP174 "Signer", BIP371 "Signer").
 *
 * Signing happens in two phases so that a refusal leaves no signature
 * behind: first every signature is computed into a pending list (any failed
 * check stops everything), then the pending signatures are placed into the
 * PSBT, into room reserved beforehand so placing them cannot fail.
 *
 * Speed: the unsigned transaction, every input's spent output and the
 * BIP143/BIP341 midstates (kura_sighash_cache) are computed once per call,
 * so signing n inputs hashes O(n) bytes, and BIP32 derivations along a
 * shared path prefix (m/84'/0'/0'/0/...) are done once. Per signature the
 * EC work is what libsecp256k1's API cannot avoid:
 *   ECDSA: the signature (one multiplication by G); the derived key's public
 *     key is not computed, since the PSBT records it.
 *   BIP340 key path: one keypair (the secret's point), one tweak of it (the
 *     output key, compared with the witness UTXO's), the signature.
 *   BIP340 script path: one keypair, the signature, and one tweak per leaf
 *     to check its control block.
 * KURA_PSBT_SIGN_VERIFY adds one verification per signature.
 *
 * Which check proves what, since the derived key's public key is not
 * computed for ECDSA:
 *   - the recorded public key is the one the output pays to: HASH160 of it
 *     is the P2PKH/P2WPKH program, or the redeem/witness script (itself
 *     checked against the output) pushes it;
 *   - the derived secret key is the recorded key's: under
 *     KURA_PSBT_SIGN_VERIFY, by verifying the new signature against the
 *     recorded key (which also catches a faulted signature). Without it a
 *     record whose path does not derive its key yields a signature that does
 *     not verify. Nothing is at risk: the sighash commits to the checked
 *     script, which needs the recorded key (or, if it also names the derived
 *     key, accepts exactly the signature a correct record would have got),
 *     and to the amount (directly under BIP143/BIP341, through the checked
 *     previous transaction for legacy inputs). The input stays unspendable
 *     until it is signed again with a correct record.
 *   - for BIP340 the keypair's x-only key, which costs no multiplication
 *     once the keypair exists, is compared with the recorded key (and, for
 *     the key path, its tweak with the output key), with or without the flag.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keys/keys_internal.h"
#include "kura/hash.h"
#include "kura/script.h"
#include "kura/sighash.h"
#include "psbt_internal.h"

enum { PEND_ECDSA = 1, PEND_TAP_KEY, PEND_TAP_SCRIPT };

typedef struct pending {
    size_t input;
    int kind;
    uint8_t pubkey[33];    /* ECDSA */
    uint8_t xonly[32];     /* tap script */
    uint8_t leaf_hash[32]; /* tap script */
    uint8_t sig[73];
    size_t sig_len;
} pending;

typedef struct signer {
    const kura_ctx *ctx;
    kura_psbt *psbt;
    unsigned flags;
    kura_error *err;
    kura_tx *tx;                   /* the unsigned transaction */
    kura_txout *spent;             /* each input's spent output (shallow copies), or NULL */
    int *spent_rc;                 /* per input: KURA_OK (spent[i] set), KURA_ENOTFOUND (no
                                    * UTXO) or the error kura_psbt_i_spent_output gave */
    kura_sighash_cache cache;
    size_t taproot_blocker;        /* an input whose spent output is unknown, or SIZE_MAX */
    int taproot_blocker_rc;
    kura_error taproot_blocker_err;
    pending *pend;
    size_t pend_count, pend_cap;
} signer;

static void signer_free(signer *s)
{
    kura_tx_free(s->tx);
    free(s->spent);
    free(s->spent_rc);
    if (s->pend != NULL) {
        sodium_memzero(s->pend, s->pend_cap * sizeof(*s->pend));
        free(s->pend);
    }
    memset(s, 0, sizeof(*s));
}

/* Builds what every input's signature needs: the tx, the spent outputs, the
 * midstates. BIP341 signatures commit to every input's spent output, so the
 * taproot midstates exist only when every one is known. */
static int signer_init(signer *s, const kura_ctx *ctx, kura_psbt *psbt, unsigned flags,
                       kura_error *err)
{
    int rc;
    memset(s, 0, sizeof(*s));
    s->ctx = ctx;
    s->psbt = psbt;
    s->flags = flags;
    s->err = err;
    s->taproot_blocker = SIZE_MAX;
    rc = kura_psbt_unsigned_tx(&s->tx, psbt, err);
    if (rc != KURA_OK) return rc;
    if (psbt->input_count > 0) {
        s->spent = calloc(psbt->input_count, sizeof(*s->spent));
        s->spent_rc = calloc(psbt->input_count, sizeof(*s->spent_rc));
        if (s->spent == NULL || s->spent_rc == NULL)
            return kura_fail(err, KURA_ENOMEM, "psbt: out of memory");
    }
    for (size_t i = 0; i < psbt->input_count; i++) {
        const kura_txout *o = NULL;
        kura_error e;
        rc = kura_psbt_i_spent_output(&o, psbt, i, &e);
        if (rc == KURA_ENOMEM) return kura_fail(err, rc, "psbt: out of memory");
        s->spent_rc[i] = rc == KURA_OK && o == NULL ? KURA_ENOTFOUND : rc;
        if (rc == KURA_OK && o == NULL) {
            rc = KURA_EDATA;
            kura_fail(&e, rc,
                      "psbt: input %zu: no UTXO, and BIP341 signatures commit to every "
                      "input's spent output",
                      i);
        }
        if (rc != KURA_OK && s->taproot_blocker == SIZE_MAX) {
            s->taproot_blocker = i;
            s->taproot_blocker_rc = rc;
            s->taproot_blocker_err = e;
        }
        if (rc != KURA_OK) continue;
        s->spent[i] = *o; /* shallow: the script stays owned by the PSBT */
    }
    rc = kura_sighash_cache_init(&s->cache, s->tx,
                                 s->taproot_blocker == SIZE_MAX ? s->spent : NULL);
    if (rc != KURA_OK) return kura_fail(err, rc, "psbt: sighash midstates failed");
    return KURA_OK;
}

/* Resolves input i against the spent output signer_init found for it. */
static int signer_resolve(signer *s, kura_psbt_spend *sp, size_t i)
{
    if (s->spent_rc[i] == KURA_OK)
        return kura_psbt_i_resolve_spent(sp, s->psbt, i, &s->spent[i], s->err);
    if (s->spent_rc[i] == KURA_ENOTFOUND)
        return kura_psbt_i_resolve_spent(sp, s->psbt, i, NULL, s->err);
    return kura_psbt_i_resolve(sp, s->psbt, i, s->err); /* repeats the failed check, for its message */
}

static bool sighash_standard(uint32_t t, bool taproot)
{
    if (taproot && t == KURA_SIGHASH_DEFAULT) return true;
    switch (t) {
    case KURA_SIGHASH_ALL:
    case KURA_SIGHASH_NONE:
    case KURA_SIGHASH_SINGLE:
    case KURA_SIGHASH_ALL | KURA_SIGHASH_ANYONECANPAY:
    case KURA_SIGHASH_NONE | KURA_SIGHASH_ANYONECANPAY:
    case KURA_SIGHASH_SINGLE | KURA_SIGHASH_ANYONECANPAY:
        return true;
    default:
        return false;
    }
}

/* The input's sighash type and whether the policy accepts it. */
static int effective_sighash(uint32_t *out, const kura_psbt *psbt, size_t i, bool taproot,
                             unsigned flags, kura_error *err)
{
    const kura_psbt_input *in = &psbt->inputs[i];
    uint32_t t = in->has_sighash_type ? in->sighash_type
                                      : (taproot ? KURA_SIGHASH_DEFAULT : KURA_SIGHASH_ALL);
    *out = t;
    if (!sighash_standard(t, taproot))
        return kura_fail(err, KURA_EDATA, "psbt: input %zu: sighash type 0x%x is not a valid %s type",
                         i, (unsigned)t, taproot ? "BIP341" : "ECDSA");
    /* kura signs only what pins every input and output, unless told otherwise:
     * NONE and SINGLE let others redirect the outputs, ANYONECANPAY lets them
     * add inputs. */
    if ((flags & KURA_PSBT_SIGN_ANY_SIGHASH) == 0 && t != KURA_SIGHASH_ALL &&
        t != KURA_SIGHASH_DEFAULT)
        return kura_fail(err, KURA_EDATA, "psbt: input %zu: sighash type 0x%x is not allowed",
                         i, (unsigned)t);
    /* SIGHASH_SINGLE without an output at the same index signs the constant 1
     * under the legacy rules (anyone may reuse the signature); refuse it
     * everywhere. */
    if ((t & 0x1f) == KURA_SIGHASH_SINGLE && i >= psbt->output_count)
        return kura_fail(err, KURA_EDATA,
                         "psbt: input %zu: SIGHASH_SINGLE without an output at index %zu", i, i);
    return KURA_OK;
}

int kura_psbt_input_sighash_type(uint32_t *out, const kura_psbt *psbt, size_t index,
                                 unsigned flags, kura_error *err)
{
    const kura_txout *o = NULL;
    bool taproot = false;
    int rc;
    if (out == NULL || psbt == NULL || index >= psbt->input_count)
        return kura_fail(err, KURA_EINVAL, "psbt: bad arguments");
    *out = 0;
    rc = kura_psbt_i_spent_output(&o, psbt, index, err);
    if (rc != KURA_OK) return rc;
    if (o != NULL)
        taproot = kura_script_classify(o->script_pubkey.data, o->script_pubkey.len, NULL, NULL,
                                       NULL) == KURA_SCRIPT_P2TR;
    return effective_sighash(out, psbt, index, taproot, flags, err);
}

static int pend_add(signer *s, pending **out)
{
    if (s->pend_count == s->pend_cap) {
        size_t ncap = s->pend_cap == 0 ? 8 : s->pend_cap * 2;
        pending *p;
        if (ncap > SIZE_MAX / sizeof(pending)) return KURA_ENOMEM;
        p = calloc(ncap, sizeof(pending));
        if (p == NULL) return KURA_ENOMEM;
        if (s->pend_count > 0) memcpy(p, s->pend, s->pend_count * sizeof(pending));
        if (s->pend != NULL) {
            sodium_memzero(s->pend, s->pend_cap * sizeof(pending));
            free(s->pend);
        }
        s->pend = p;
        s->pend_cap = ncap;
    }
    *out = &s->pend[s->pend_count++];
    memset(*out, 0, sizeof(**out));
    return KURA_OK;
}

/* ---- ECDSA (BIP174) ---- */

/* Signs input i (resolved as sp) with priv, for the compressed key pub (the
 * recorded key, or priv's own), wherever pub has a part. *added counts the
 * signatures. */
static int ecdsa_sign(signer *s, size_t i, const kura_psbt_spend *sp, const uint8_t priv[32],
                      const uint8_t pub[33], size_t *added)
{
    uint8_t h160[20], sighash[32], der[KURA_ECDSA_DER_MAX], script_code[25];
    const uint8_t *code = NULL;
    size_t code_len = 0, der_len = 0;
    uint32_t type;
    bool segwit = false;
    pending *p;
    int rc;
    switch (sp->kind) {
    case KURA_PSBT_SPEND_P2PKH:
    case KURA_PSBT_SPEND_P2WPKH:
        rc = kura_hash160(h160, pub, 33);
        if (rc != KURA_OK) return kura_fail(s->err, rc, "psbt: hash failed");
        if (memcmp(h160, sp->program, 20) != 0) return KURA_OK; /* not this key */
        if (sp->kind == KURA_PSBT_SPEND_P2PKH) {
            code = sp->spent->script_pubkey.data;
            code_len = sp->spent->script_pubkey.len;
        } else {
            /* BIP143: the scriptCode of P2WPKH is the P2PKH script of the hash. */
            script_code[0] = 0x76;
            script_code[1] = 0xa9;
            script_code[2] = 0x14;
            memcpy(script_code + 3, sp->program, 20);
            script_code[23] = 0x88;
            script_code[24] = 0xac;
            code = script_code;
            code_len = 25;
            segwit = true;
        }
        break;
    case KURA_PSBT_SPEND_P2SH:
    case KURA_PSBT_SPEND_P2WSH:
        if (!kura_psbt_i_script_has_push(sp->script, sp->script_len, pub, 33)) return KURA_OK;
        code = sp->script;
        code_len = sp->script_len;
        segwit = sp->kind == KURA_PSBT_SPEND_P2WSH;
        break;
    default:
        return KURA_OK;
    }
    rc = effective_sighash(&type, s->psbt, i, false, s->flags, s->err);
    if (rc != KURA_OK) return rc;
    if (segwit)
        rc = kura_sighash_segwit_v0(sighash, s->tx, &s->cache, i, code, code_len,
                                    sp->spent->amount, type);
    else
        rc = kura_sighash_legacy(sighash, s->tx, i, code, code_len, type);
    if (rc != KURA_OK) return kura_fail(s->err, rc, "psbt: input %zu: sighash failed", i);
    /* Under KURA_PSBT_SIGN_VERIFY the signature must verify against pub, the
     * key it is filed under (see the top of this file). */
    rc = kura_ecdsa_i_sign(s->ctx, der, &der_len, priv, sighash,
                           (s->flags & KURA_PSBT_SIGN_VERIFY) != 0 ? pub : NULL);
    if (rc == KURA_EDATA)
        return kura_fail(s->err, rc,
                         "psbt: input %zu: the new signature does not verify against the "
                         "recorded key: the key derived for it is not the recorded key, or "
                         "signing faulted",
                         i);
    if (rc != KURA_OK) return kura_fail(s->err, rc, "psbt: input %zu: ECDSA signing failed", i);
    if ((rc = pend_add(s, &p)) != KURA_OK) return kura_fail(s->err, rc, "psbt: out of memory");
    p->input = i;
    p->kind = PEND_ECDSA;
    memcpy(p->pubkey, pub, 33);
    memcpy(p->sig, der, der_len);
    p->sig[der_len] = (uint8_t)type; /* BIP174: the signature as pushed, type byte last */
    p->sig_len = der_len + 1;
    (*added)++;
    return KURA_OK;
}

/* ---- Schnorr (BIP371, BIP341, BIP342) ---- */

/* BIP341: the output key must be the internal key tweaked by the merkle root
 * (or by nothing); a key-path signature by any other key is useless, and a
 * mismatch means the PSBT is not describing this output. */
static int check_control_block(signer *s, size_t i, const kura_psbt_spend *sp,
                               const kura_psbt_tap_leaf_script *l, const uint8_t leaf_hash[32])
{
    uint8_t k[32], q[32];
    const uint8_t *cb = l->control_block.data;
    size_t m = (l->control_block.len - 33) / 32;
    int parity = 0, rc;
    if ((cb[0] & 0xfe) != l->leaf_version)
        return kura_fail(s->err, KURA_EDATA,
                         "psbt: input %zu: control block's leaf version is not the leaf's", i);
    memcpy(k, leaf_hash, 32);
    for (size_t j = 0; j < m; j++) kura_tapbranch_hash(k, k, cb + 33 + 32 * j);
    rc = kura_taproot_tweak_pubkey(s->ctx, q, &parity, cb + 1, k);
    if (rc == KURA_ENOMEM) return kura_fail(s->err, rc, "psbt: out of memory");
    if (rc != KURA_OK || memcmp(q, sp->program, 32) != 0 || parity != (cb[0] & 1))
        return kura_fail(s->err, KURA_EDATA,
                         "psbt: input %zu: a tap leaf's control block does not commit to the "
                         "output key",
                         i);
    return KURA_OK;
}

static int taproot_ready(signer *s, size_t i)
{
    if (s->taproot_blocker == SIZE_MAX) return KURA_OK;
    if (s->err != NULL) *s->err = s->taproot_blocker_err;
    (void)i;
    return s->taproot_blocker_rc;
}

static int schnorr_pending(signer *s, size_t i, int kind, const kura_keypair *kp,
                           const uint8_t xonly[32], const uint8_t *leaf_hash, uint32_t type)
{
    uint8_t sighash[32];
    pending *p;
    int rc = kura_sighash_taproot(sighash, s->tx, &s->cache, s->spent, i, type, leaf_hash,
                                  0xffffffffu, NULL, 0);
    if (rc != KURA_OK) return kura_fail(s->err, rc, "psbt: input %zu: sighash failed", i);
    if ((rc = pend_add(s, &p)) != KURA_OK) return kura_fail(s->err, rc, "psbt: out of memory");
    p->input = i;
    p->kind = kind;
    if (xonly != NULL) memcpy(p->xonly, xonly, 32);
    if (leaf_hash != NULL) memcpy(p->leaf_hash, leaf_hash, 32);
    /* BIP340 with fresh auxiliary randomness (aux_rand NULL). kp's x-only
     * key was compared with the recorded one, so verifying against kp's
     * point is verifying against the recorded key. */
    rc = kura_schnorr_i_sign32(s->ctx, p->sig, kp, sighash, NULL,
                               (s->flags & KURA_PSBT_SIGN_VERIFY) != 0);
    if (rc != KURA_OK) {
        s->pend_count--;
        if (rc == KURA_EDATA)
            return kura_fail(s->err, rc,
                             "psbt: input %zu: the new signature does not verify against the "
                             "recorded key: signing faulted",
                             i);
        return kura_fail(s->err, rc, "psbt: input %zu: Schnorr signing failed", i);
    }
    p->sig_len = 64;
    /* BIP341: SIGHASH_DEFAULT signatures are 64 bytes; others carry the type. */
    if (type != KURA_SIGHASH_DEFAULT) p->sig[p->sig_len++] = (uint8_t)type;
    return KURA_OK;
}

static int cmp32(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* Whether the x-only key has a part in taproot input in: the key path (when
 * keypath_ok and it is the internal key) or a leaf script that pushes it. */
static bool taproot_has_part(const kura_psbt_input *in, const uint8_t xonly[32], bool keypath_ok,
                             bool *want_key)
{
    bool any_leaf = false;
    *want_key = keypath_ok && in->has_tap_internal_key &&
                memcmp(in->tap_internal_key, xonly, 32) == 0;
    for (size_t j = 0; j < in->tap_leaf_script_count && !any_leaf; j++)
        any_leaf = kura_psbt_i_script_has_push(in->tap_leaf_scripts[j].script.data,
                                               in->tap_leaf_scripts[j].script.len, xonly, 32);
    return *want_key || any_leaf;
}

/* Signs taproot input i with the keypair kp (x-only key kp->xonly): the key
 * path when keypath_ok and kp->xonly is the internal key; the script path
 * for each leaf that pushes kp->xonly and, when leaves is not NULL, whose
 * hash is listed. */
static int taproot_sign(signer *s, size_t i, const kura_psbt_spend *sp, const kura_keypair *kp,
                        bool keypath_ok, const uint8_t *leaves, size_t leaf_count, size_t *added)
{
    const kura_psbt_input *in = &s->psbt->inputs[i];
    const uint8_t *xonly = kp->xonly;
    uint8_t *sorted = NULL;
    uint32_t type;
    int rc = KURA_OK;
    bool want_key;
    if (!taproot_has_part(in, xonly, keypath_ok, &want_key)) return KURA_OK;
    if ((rc = taproot_ready(s, i)) != KURA_OK) return rc;
    rc = effective_sighash(&type, s->psbt, i, true, s->flags, s->err);
    if (rc != KURA_OK) return rc;
    if (want_key) {
        kura_keypair tweaked;
        const uint8_t *root = in->has_tap_merkle_root ? in->tap_merkle_root : NULL;
        /* kp->xonly is the recorded internal key (want_key), so the keypair
         * tweaked by it and the merkle root (BIP341 taproot_tweak_seckey)
         * has the output key Q = P + hashTapTweak(P || root)G as its point,
         * and Q must be the witness UTXO's: otherwise the PSBT does not
         * describe this output, and a key-path signature would be useless. */
        rc = kura_keypair_i_taptweak(s->ctx, &tweaked, kp, root);
        if (rc != KURA_OK || memcmp(tweaked.xonly, sp->program, 32) != 0) {
            kura_keypair_i_wipe(&tweaked);
            return kura_fail(s->err, KURA_EDATA,
                             "psbt: input %zu: output key is not the internal key tweaked by the "
                             "merkle root",
                             i);
        }
        rc = schnorr_pending(s, i, PEND_TAP_KEY, &tweaked, NULL, NULL, type);
        kura_keypair_i_wipe(&tweaked);
        if (rc != KURA_OK) return rc;
        (*added)++;
    }
    /* The recorded leaf hashes, sorted for lookups (a record may list many). */
    if (leaves != NULL && leaf_count > 1) {
        sorted = kura_memdup(leaves, 32 * leaf_count);
        if (sorted == NULL) return kura_fail(s->err, KURA_ENOMEM, "psbt: out of memory");
        qsort(sorted, leaf_count, 32, cmp32);
    }
    for (size_t j = 0; j < in->tap_leaf_script_count; j++) {
        const kura_psbt_tap_leaf_script *l = &in->tap_leaf_scripts[j];
        uint8_t lh[32];
        bool listed = leaves == NULL;
        if (!kura_psbt_i_script_has_push(l->script.data, l->script.len, xonly, 32)) continue;
        kura_tapleaf_hash(lh, l->leaf_version, l->script.data, l->script.len);
        if (!listed)
            listed = leaf_count == 1 ? memcmp(leaves, lh, 32) == 0
                                     : (leaf_count > 1 &&
                                        bsearch(lh, sorted, leaf_count, 32, cmp32) != NULL);
        if (!listed) continue;
        /* BIP342 signs only tapscript (leaf version 0xc0). */
        if (l->leaf_version != KURA_TAPSCRIPT_LEAF_VERSION) continue;
        rc = check_control_block(s, i, sp, l, lh);
        if (rc == KURA_OK) rc = schnorr_pending(s, i, PEND_TAP_SCRIPT, kp, xonly, lh, type);
        if (rc != KURA_OK) break;
        (*added)++;
    }
    free(sorted);
    return rc;
}

/* ---- placing the signatures ---- */

/* Ensures the allocation of *arr holds cap(count + extra) entries. */
static int reserve(void **arr, size_t count, size_t extra, size_t elem)
{
    size_t want = kura_psbt_i_cap(count + extra), have = kura_psbt_i_cap(count);
    void *p;
    if (extra == 0 || want <= have) return KURA_OK;
    if (want > SIZE_MAX / elem) return KURA_ENOMEM;
    p = realloc(*arr, want * elem);
    if (p == NULL) return KURA_ENOMEM;
    *arr = p;
    return KURA_OK;
}

/* Inserts into room already reserved, keeping key order among the entries. */
static void put_partial_sig(kura_psbt_input *in, const pending *p)
{
    size_t pos = in->partial_sig_count;
    for (size_t j = 0; j < in->partial_sig_count; j++) {
        int c = kura_psbt_i_cmp(in->partial_sigs[j].pubkey, in->partial_sigs[j].pubkey_len,
                                p->pubkey, 33);
        if (c == 0) {
            memcpy(in->partial_sigs[j].sig, p->sig, p->sig_len);
            in->partial_sigs[j].sig_len = p->sig_len;
            return;
        }
        if (c > 0) {
            pos = j;
            break;
        }
    }
    memmove(&in->partial_sigs[pos + 1], &in->partial_sigs[pos],
            (in->partial_sig_count - pos) * sizeof(*in->partial_sigs));
    memset(&in->partial_sigs[pos], 0, sizeof(*in->partial_sigs));
    memcpy(in->partial_sigs[pos].pubkey, p->pubkey, 33);
    in->partial_sigs[pos].pubkey_len = 33;
    memcpy(in->partial_sigs[pos].sig, p->sig, p->sig_len);
    in->partial_sigs[pos].sig_len = p->sig_len;
    in->partial_sig_count++;
}

static void put_tap_script_sig(kura_psbt_input *in, const pending *p)
{
    size_t pos = in->tap_script_sig_count;
    uint8_t key[64];
    memcpy(key, p->xonly, 32);
    memcpy(key + 32, p->leaf_hash, 32);
    for (size_t j = 0; j < in->tap_script_sig_count; j++) {
        uint8_t other[64];
        int c;
        memcpy(other, in->tap_script_sigs[j].xonly, 32);
        memcpy(other + 32, in->tap_script_sigs[j].leaf_hash, 32);
        c = memcmp(other, key, 64);
        if (c == 0) {
            memcpy(in->tap_script_sigs[j].sig, p->sig, p->sig_len);
            in->tap_script_sigs[j].sig_len = p->sig_len;
            return;
        }
        if (c > 0) {
            pos = j;
            break;
        }
    }
    memmove(&in->tap_script_sigs[pos + 1], &in->tap_script_sigs[pos],
            (in->tap_script_sig_count - pos) * sizeof(*in->tap_script_sigs));
    memset(&in->tap_script_sigs[pos], 0, sizeof(*in->tap_script_sigs));
    memcpy(in->tap_script_sigs[pos].xonly, p->xonly, 32);
    memcpy(in->tap_script_sigs[pos].leaf_hash, p->leaf_hash, 32);
    memcpy(in->tap_script_sigs[pos].sig, p->sig, p->sig_len);
    in->tap_script_sigs[pos].sig_len = p->sig_len;
    in->tap_script_sig_count++;
}

static int apply(signer *s)
{
    kura_psbt *psbt = s->psbt;
    /* Reserve first (the only step that can fail), per input. Pending
     * entries are grouped by input because inputs are signed in order. */
    for (size_t a = 0; a < s->pend_count;) {
        size_t b = a, i = s->pend[a].input, necdsa = 0, nscript = 0;
        while (b < s->pend_count && s->pend[b].input == i) {
            if (s->pend[b].kind == PEND_ECDSA) necdsa++;
            if (s->pend[b].kind == PEND_TAP_SCRIPT) nscript++;
            b++;
        }
        if (reserve((void **)&psbt->inputs[i].partial_sigs, psbt->inputs[i].partial_sig_count,
                    necdsa, sizeof(kura_psbt_partial_sig)) != KURA_OK ||
            reserve((void **)&psbt->inputs[i].tap_script_sigs,
                    psbt->inputs[i].tap_script_sig_count, nscript,
                    sizeof(kura_psbt_tap_script_sig)) != KURA_OK)
            return kura_fail(s->err, KURA_ENOMEM, "psbt: out of memory");
        a = b;
    }
    for (size_t a = 0; a < s->pend_count; a++) {
        const pending *p = &s->pend[a];
        kura_psbt_input *in = &psbt->inputs[p->input];
        if (p->kind == PEND_ECDSA) {
            put_partial_sig(in, p);
        } else if (p->kind == PEND_TAP_KEY) {
            memcpy(in->tap_key_sig, p->sig, p->sig_len);
            in->tap_key_sig_len = p->sig_len;
        } else {
            put_tap_script_sig(in, p);
        }
    }
    return KURA_OK;
}

static bool finalized(const kura_psbt_input *in)
{
    return in->has_final_script_sig || in->has_final_script_witness;
}

#define SIGN_FLAGS (KURA_PSBT_SIGN_ANY_SIGHASH | KURA_PSBT_SIGN_VERIFY)

int kura_psbt_sign_input(const kura_ctx *ctx, kura_psbt *psbt, size_t index,
                         const uint8_t priv[32], unsigned flags, kura_error *err)
{
    signer s;
    kura_psbt_spend sp;
    kura_keypair kp;
    uint8_t key[33];
    size_t added = 0;
    int rc;
    if (ctx == NULL || psbt == NULL || priv == NULL || index >= psbt->input_count ||
        (flags & ~SIGN_FLAGS) != 0)
        return kura_fail(err, KURA_EINVAL, "psbt: bad signing arguments");
    if (finalized(&psbt->inputs[index]))
        return kura_fail(err, KURA_EDATA, "psbt: input %zu is already finalized", index);
    memset(&kp, 0, sizeof(kp));
    rc = signer_init(&s, ctx, psbt, flags, err);
    if (rc == KURA_OK) rc = signer_resolve(&s, &sp, index);
    if (rc == KURA_OK) {
        /* The key's public form is needed to find where it has a part; it is
         * computed once and serves every signature below. */
        if (sp.kind == KURA_PSBT_SPEND_P2TR) {
            rc = kura_keypair_i_create(ctx, &kp, priv);
            if (rc == KURA_OK) rc = taproot_sign(&s, index, &sp, &kp, true, NULL, 0, &added);
            else kura_fail(err, rc, "psbt: invalid private key");
        } else {
            rc = kura_pubkey_from_privkey(ctx, key, priv);
            if (rc == KURA_OK) rc = ecdsa_sign(&s, index, &sp, priv, key, &added);
            else kura_fail(err, rc, "psbt: invalid private key");
        }
    }
    if (rc == KURA_OK && added == 0)
        rc = kura_fail(err, KURA_ENOTFOUND, "psbt: input %zu: the key has no part in it", index);
    if (rc == KURA_OK) rc = apply(&s);
    kura_keypair_i_wipe(&kp);
    signer_free(&s);
    return rc;
}

/* ---- BIP32 ---- */

/* One step of a derivation: the secret key and chain code; the public key
 * only once a non-hardened child of it is needed (CKDpriv hashes the
 * parent's public key; the signing key's own is never needed); and the HMAC
 * key schedule of the chain code once it is a parent (every receive address
 * is a child of m/84'/0'/0'/0). */
typedef struct derive_level {
    uint8_t priv[32];
    uint8_t chain[32];
    uint8_t pub[33];                    /* valid when has_pub */
    bool has_pub;
    bool has_keyed;
    crypto_auth_hmacsha512_state keyed; /* valid when has_keyed */
} derive_level;

/* Keys derived along the last path used, so that the next path reuses its
 * longest common prefix (m/84'/0'/0'/0 for every receive address), and with
 * it the prefix's public keys. Private: in guarded memory, wiped on exit. */
typedef struct derive_cache {
    derive_level level[KURA_BIP32_PATH_MAX];
    uint32_t path[KURA_BIP32_PATH_MAX];
    size_t len;
} derive_cache;

/* The secret key at root/path into *out (pointing into dc or root), by
 * CKDpriv without the final child's public key. */
static int derive(derive_cache *dc, const kura_ctx *ctx, const kura_bip32_key *root,
                  const uint32_t *path, size_t len, const uint8_t **out)
{
    size_t common = 0;
    *out = root->priv;
    if (len == 0) return KURA_OK;
    if (len > KURA_BIP32_PATH_MAX) return KURA_ERANGE;
    /* As kura_bip32_derive: no key deeper than 255. */
    if ((size_t)root->depth + len > 255) return KURA_EINVAL;
    while (common < len && common < dc->len && dc->path[common] == path[common]) common++;
    for (size_t j = common; j < len; j++) {
        derive_level *lv = &dc->level[j], *parent = j == 0 ? NULL : &dc->level[j - 1];
        bool hardened = (path[j] & KURA_BIP32_HARDENED) != 0;
        int rc = KURA_OK;
        lv->has_pub = false;
        lv->has_keyed = false;
        if (parent == NULL) {
            rc = kura_bip32_i_ckd_priv(ctx, lv->priv, lv->chain, root->priv, root->chain_code,
                                       hardened ? NULL : root->pub, path[j]);
        } else {
            if (!hardened && !parent->has_pub) {
                rc = kura_pubkey_from_privkey(ctx, parent->pub, parent->priv);
                parent->has_pub = rc == KURA_OK;
            }
            if (!parent->has_keyed) {
                crypto_auth_hmacsha512_init(&parent->keyed, parent->chain, 32);
                parent->has_keyed = true;
            }
            if (rc == KURA_OK)
                rc = kura_bip32_i_ckd_priv_keyed(ctx, lv->priv, lv->chain, parent->priv,
                                                 &parent->keyed, hardened ? NULL : parent->pub,
                                                 path[j]);
        }
        if (rc != KURA_OK) {
            dc->len = 0;
            return rc;
        }
        dc->path[j] = path[j];
        dc->len = j + 1;
    }
    dc->len = len;
    *out = dc->level[len - 1].priv;
    return KURA_OK;
}

static int derive_checked(signer *s, derive_cache *dc, const kura_bip32_key *root, size_t i,
                          const kura_psbt_keyorigin *o, const uint8_t **out)
{
    int rc = derive(dc, s->ctx, root, o->path, o->path_len, out);
    if (rc == KURA_ERANGE)
        return kura_fail(s->err, KURA_EDATA, "psbt: input %zu: derivation path deeper than %d",
                         i, KURA_BIP32_PATH_MAX);
    if (rc != KURA_OK)
        return kura_fail(s->err, rc, "psbt: input %zu: key derivation failed", i);
    return KURA_OK;
}

int kura_psbt_sign_bip32(const kura_ctx *ctx, kura_psbt *psbt, size_t *signed_count,
                         const kura_bip32_key *key, unsigned flags, kura_error *err)
{
    signer s;
    derive_cache *dc;
    kura_keypair kp;
    uint8_t fp[4];
    size_t added = 0;
    bool inited = false;
    int rc = KURA_OK;
    if (signed_count != NULL) *signed_count = 0;
    if (ctx == NULL || psbt == NULL || key == NULL || !key->has_private ||
        (flags & ~SIGN_FLAGS) != 0)
        return kura_fail(err, KURA_EINVAL, "psbt: bad signing arguments");
    rc = kura_bip32_fingerprint(fp, key);
    if (rc != KURA_OK) return kura_fail(err, rc, "psbt: fingerprint failed");
    dc = sodium_malloc(sizeof(*dc)); /* guarded, and wiped when freed */
    if (dc == NULL) return kura_fail(err, KURA_ENOMEM, "psbt: out of memory");
    dc->len = 0;
    memset(&s, 0, sizeof(s));
    memset(&kp, 0, sizeof(kp));
    for (size_t i = 0; i < psbt->input_count && rc == KURA_OK; i++) {
        const kura_psbt_input *in = &psbt->inputs[i];
        kura_psbt_spend sp;
        bool mine = false;
        if (finalized(in)) continue;
        for (size_t j = 0; j < in->bip32_count && !mine; j++)
            mine = memcmp(in->bip32[j].origin.fingerprint, fp, 4) == 0;
        for (size_t j = 0; j < in->tap_bip32_count && !mine; j++)
            mine = memcmp(in->tap_bip32[j].origin.fingerprint, fp, 4) == 0;
        if (!mine) continue;
        if (!inited) {
            rc = signer_init(&s, ctx, psbt, flags, err);
            if (rc != KURA_OK) break;
            inited = true;
        }
        rc = signer_resolve(&s, &sp, i);
        if (rc != KURA_OK) break;
        if (sp.kind == KURA_PSBT_SPEND_P2TR) {
            for (size_t j = 0; j < in->tap_bip32_count && rc == KURA_OK; j++) {
                const kura_psbt_tap_bip32 *t = &in->tap_bip32[j];
                const uint8_t *child;
                bool want_key;
                if (memcmp(t->origin.fingerprint, fp, 4) != 0) continue;
                rc = derive_checked(&s, dc, key, i, &t->origin, &child);
                if (rc != KURA_OK) break;
                /* A key with no part in the input signs nothing: no keypair. */
                if (!taproot_has_part(in, t->xonly, true, &want_key)) continue;
                rc = kura_keypair_i_create(ctx, &kp, child);
                if (rc != KURA_OK) {
                    kura_fail(err, rc, "psbt: input %zu: key derivation failed", i);
                    break;
                }
                /* The recorded key must be the one derived: a PSBT that names
                 * our fingerprint with another key is not ours to sign. The
                 * keypair holds the derived point, so this costs nothing. */
                if (memcmp(kp.xonly, t->xonly, 32) != 0) {
                    rc = kura_fail(err, KURA_EDATA,
                                   "psbt: input %zu: key derived for a tap BIP32 derivation is "
                                   "not the recorded key",
                                   i);
                    break;
                }
                rc = taproot_sign(&s, i, &sp, &kp, true, t->leaf_hashes, t->leaf_hash_count,
                                  &added);
                kura_keypair_i_wipe(&kp);
            }
        } else {
            for (size_t j = 0; j < in->bip32_count && rc == KURA_OK; j++) {
                const kura_psbt_bip32 *b = &in->bip32[j];
                const uint8_t *child;
                if (memcmp(b->origin.fingerprint, fp, 4) != 0) continue;
                rc = derive_checked(&s, dc, key, i, &b->origin, &child);
                if (rc != KURA_OK) break;
                /* kura derives compressed keys only, so a 65-byte record is
                 * never the key its path derives. */
                if (b->pubkey_len != 33) {
                    rc = kura_fail(err, KURA_EDATA,
                                   "psbt: input %zu: key derived for a BIP32 derivation is not "
                                   "the recorded key (the record is uncompressed)",
                                   i);
                    break;
                }
                /* Signed for the recorded key, whose part in the input
                 * ecdsa_sign checks; that the derived secret is that key's is
                 * proved under KURA_PSBT_SIGN_VERIFY (see the top of the file). */
                rc = ecdsa_sign(&s, i, &sp, child, b->pubkey, &added);
            }
        }
    }
    if (rc == KURA_OK && added == 0)
        rc = kura_fail(err, KURA_ENOTFOUND, "psbt: no input names this key's fingerprint");
    if (rc == KURA_OK) rc = apply(&s);
    if (rc == KURA_OK && signed_count != NULL) *signed_count = added;
    kura_keypair_i_wipe(&kp);
    sodium_memzero(dc, sizeof(*dc));
    sodium_free(dc);
    signer_free(&s);
    return rc;
}
