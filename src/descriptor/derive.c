/*
 * src/descriptor/derive.c — a parsed descriptor at one (branch, index): its
 * keys with origins, its scripts and, for tr(), the taproot tree data that
 * PSBT updaters need (BIP174, BIP371).
 *
 * The hot path (a ranged single-key descriptor) does one BIP32 child step per
 * key, because the fixed part of each path was derived at parse time, and
 * writes into buffers that the kura_descriptor_output keeps between calls.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "descriptor_internal.h"
#include "kura/hash.h"
#include "kura/script.h"

/* A key in the form its script uses: 33, 65 or (inside tr) 32 bytes. */
typedef struct kd_pub {
    uint8_t b[65];
    size_t len;
} kd_pub;

/* Storage for one derivation. Kept inside a kura_descriptor_output (heap,
 * grown on demand) or on the stack for kura_descriptor_script_pubkey. */
struct kura_descriptor_work {
    uint8_t *arena;   /* every script and control block of one derive */
    size_t arena_cap, used;
    kd_pub *pubs;
    size_t pubs_cap;
    const kd_pub **sorted;
    size_t sorted_cap;
    kura_descriptor_key_info *keys;
    size_t keys_cap;
    kura_descriptor_leaf *leaves;
    size_t leaves_cap;
    uint8_t (*hashes)[32]; /* one per taproot tree node */
    size_t hashes_cap;
};

/* What one run produces, before it is published into an output. */
typedef struct kd_run {
    const kura_ctx *ctx;
    const kura_descriptor *d;
    struct kura_descriptor_work *w;
    size_t branch;
    uint32_t index;
    int details;            /* fill key infos and leaves, keep leaf scripts */
    const uint8_t *row;     /* cached child keys, 33 bytes per key expression, or NULL */
    kura_error *err;
    size_t n_scripts;
    kura_descriptor_script_info scripts[KURA_DESCRIPTOR_SCRIPTS_MAX];
    size_t n_leaves;
    int is_tr, has_root, parity;
    uint8_t internal[32], output[32], root[32];
} kd_run;

#define SCRIPTPUBKEY_ROOM 42 /* kura_script_* need KURA_SCRIPT_PUBKEY_MAX bytes of room */

/* ---- the output object ---- */

static void work_release(struct kura_descriptor_work *w)
{
    if (w->arena != NULL) sodium_memzero(w->arena, w->arena_cap);
    free(w->arena);
    free(w->pubs);
    free((void *)w->sorted);
    free(w->keys);
    free(w->leaves);
    free(w->hashes);
    memset(w, 0, sizeof(*w));
}

kura_descriptor_output *kura_descriptor_output_new(void)
{
    kura_descriptor_output *out = calloc(1, sizeof(*out));
    if (out == NULL) return NULL;
    out->work_ = calloc(1, sizeof(*out->work_));
    if (out->work_ == NULL) {
        free(out);
        return NULL;
    }
    return out;
}

void kura_descriptor_output_free(kura_descriptor_output *out)
{
    if (out == NULL) return;
    if (out->work_ != NULL) {
        work_release(out->work_);
        free(out->work_);
    }
    sodium_memzero(out, sizeof(*out));
    free(out);
}

static void output_clear(kura_descriptor_output *out)
{
    struct kura_descriptor_work *w = out->work_;
    memset(out, 0, sizeof(*out));
    out->work_ = w;
}

/* Grows one array to hold n elements of size sz (contents not kept). */
static int grow(void **p, size_t *cap, size_t n, size_t sz)
{
    size_t bytes;
    void *q;
    if (n <= *cap && *p != NULL) return 1;
    if (n == 0) n = 1;
    if (!kura_size_mul(n, sz, &bytes)) return 0;
    q = malloc(bytes);
    if (q == NULL) return 0;
    free(*p);
    *p = q;
    *cap = n;
    return 1;
}

static int work_reserve(struct kura_descriptor_work *w, const kura_descriptor *d)
{
    size_t arena = w->arena_cap;
    if (d->arena_bound > w->arena_cap || w->arena == NULL) {
        uint8_t *a = malloc(d->arena_bound);
        if (a == NULL) return 0;
        if (w->arena != NULL) sodium_memzero(w->arena, w->arena_cap);
        free(w->arena);
        w->arena = a;
        arena = d->arena_bound;
    }
    w->arena_cap = arena;
    return grow((void **)&w->pubs, &w->pubs_cap, d->n_keys, sizeof(kd_pub)) &&
           grow((void **)&w->sorted, &w->sorted_cap, d->n_keys, sizeof(kd_pub *)) &&
           grow((void **)&w->keys, &w->keys_cap, d->n_keys, sizeof(kura_descriptor_key_info)) &&
           grow((void **)&w->leaves, &w->leaves_cap, d->n_leaves, sizeof(kura_descriptor_leaf)) &&
           grow((void **)&w->hashes, &w->hashes_cap, d->n_tree_nodes, 32);
}

/* ---- keys ---- */

/* The key's public key for (branch, index) in script form. */
static int key_pub(kd_run *r, const kd_key *k, kd_pub *out)
{
    const uint8_t *src = k->pub;
    size_t src_len = k->pub_len;
    kura_bip32_key child;
    uint8_t pub33[33];
    int rc;

    if (k->kind == KD_KEY_BIP32) {
        size_t b = k->n_bases > 1 ? r->branch : 0;
        const kura_bip32_key *base = &k->bases[b];
        if (r->row != NULL) {
            /* From the derivation cache (trusted storage, same key). */
            memcpy(pub33, r->row + 33 * (size_t)(k - r->d->keys), 33);
        } else if (k->wildcard == KD_WILD_NONE) {
            memcpy(pub33, base->pub, 33);
        } else if (k->wildcard == KD_WILD_UNHARDENED) {
            /* BIP32 CKDpub with the parse-time cache: I = HMAC-SHA512(c_par,
             * serP(K_par) || ser32(i)), K_i = point(IL) + K_par, computed as
             * IL*G by the generator table plus K_par (faster than the general
             * multiplication of a tweak). BIP32's invalid child (IL >= n, or
             * K_i at infinity) makes both routes fail; IL = 0 is valid and
             * only the tweak route takes it. */
            crypto_auth_hmacsha512_state st = k->base_hmacs[b];
            secp256k1_pubkey pt = k->base_points[b], il_g;
            const secp256k1_pubkey *terms[2];
            uint8_t data[37], I[64];
            size_t len = 33;
            memcpy(data, base->pub, 33);
            kura_store_u32be(data + 33, r->index);
            crypto_auth_hmacsha512_update(&st, data, sizeof(data));
            crypto_auth_hmacsha512_final(&st, I);
            if (secp256k1_ec_pubkey_create(r->d->gen, &il_g, I)) {
                terms[0] = &il_g;
                terms[1] = &k->base_points[b];
                rc = secp256k1_ec_pubkey_combine(secp256k1_context_static, &pt, terms, 2);
            } else {
                rc = secp256k1_ec_pubkey_tweak_add(secp256k1_context_static, &pt, I);
            }
            rc = rc && secp256k1_ec_pubkey_serialize(secp256k1_context_static, pub33, &len, &pt,
                                                     SECP256K1_EC_COMPRESSED);
            if (!rc) {
                return kura_fail(r->err, KURA_ECRYPTO,
                                 "descriptor: child %u is BIP32's invalid child", (unsigned)r->index);
            }
        } else {
            /* A hardened wildcard needs CKDpriv from the private base. */
            rc = kura_bip32_derive(r->ctx, &child, base, r->index | KURA_BIP32_HARDENED);
            if (rc != KURA_OK) {
                kura_bip32_wipe(&child);
                return kura_fail(r->err, rc == KURA_ENOMEM ? KURA_ENOMEM : KURA_ECRYPTO,
                                 "descriptor: deriving child %u failed (%s)", (unsigned)r->index,
                                 kura_status_name(rc));
            }
            memcpy(pub33, child.pub, 33);
            kura_bip32_wipe(&child);
        }
        src = pub33;
        src_len = 33;
    }
    if (k->xonly_ctx && src_len == 33) {
        /* BIP386: keys inside tr() are used as x-only keys. */
        memcpy(out->b, src + 1, 32);
        out->len = 32;
    } else {
        memcpy(out->b, src, src_len);
        out->len = src_len;
    }
    return KURA_OK;
}

static void key_info(kd_run *r, size_t i, kura_descriptor_key_info *ki, const kd_pub *pub)
{
    const kd_key *k = &r->d->keys[i];
    size_t n = 0;
    memcpy(ki->pubkey, pub->b, pub->len);
    ki->pubkey_len = pub->len;
    ki->has_origin = k->has_origin;
    memcpy(ki->fingerprint, k->has_origin ? k->origin_fp : k->own_fp, 4);
    /* BIP174 PSBT_IN_BIP32_DERIVATION wants the path from the master:
     * origin, then the steps after the written key, then the child. */
    if (k->has_origin) {
        memcpy(ki->path, k->origin_path, k->origin_len * sizeof(uint32_t));
        n = k->origin_len;
    }
    if (k->kind == KD_KEY_BIP32) {
        memcpy(ki->path + n, k->steps, k->n_steps * sizeof(uint32_t));
        if (k->mp_pos != KD_NO_MULTIPATH) ki->path[n + k->mp_pos] = k->mp_values[r->branch];
        n += k->n_steps;
        if (k->wildcard != KD_WILD_NONE) {
            ki->path[n++] =
                r->index | (k->wildcard == KD_WILD_HARDENED ? KURA_BIP32_HARDENED : 0);
        }
    }
    ki->path_len = n;
    ki->expression = i;
    ki->leaf = KURA_DESCRIPTOR_NO_LEAF;
}

/* ---- script building ---- */

static uint8_t *arena_take(kd_run *r, size_t n)
{
    struct kura_descriptor_work *w = r->w;
    uint8_t *p;
    if (n > w->arena_cap - w->used) return NULL; /* cannot happen: arena_bound covers it */
    p = w->arena + w->used;
    w->used += n;
    return p;
}

static int internal_error(kd_run *r)
{
    return kura_fail(r->err, KURA_EINVAL, "descriptor: internal buffer bound exceeded");
}

/* Minimal push of a small positive number (BIP62 minimal push, CScriptNum). */
static size_t put_int(uint8_t *p, uint32_t v)
{
    size_t n = 0;
    if (v <= 16) {
        p[0] = (uint8_t)(v == 0 ? 0x00 : 0x50 + v);
        return 1;
    }
    while (v > 0) {
        p[1 + n++] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
    if (p[n] & 0x80) p[1 + n++] = 0x00; /* keep the number positive */
    p[0] = (uint8_t)n;
    return n + 1;
}

static int cmp_pub(const void *a, const void *b)
{
    const kd_pub *x = *(const kd_pub *const *)a, *y = *(const kd_pub *const *)b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->b, y->b, n);
    if (c != 0) return c;
    return (x->len > y->len) - (x->len < y->len);
}

/* multi/sortedmulti (BIP383): OP_k <key>... OP_n OP_CHECKMULTISIG;
 * multi_a/sortedmulti_a (BIP387): <k1> OP_CHECKSIG <k2> OP_CHECKSIGADD ...
 * OP_k OP_NUMEQUAL. Sorting (BIP67 order for sortedmulti) is on the
 * serialised keys as they go into the script, after derivation. */
static int build_multi(kd_run *r, const kd_node *n, uint8_t **script, size_t *len)
{
    const kd_pub **keys = r->w->sorted;
    int tap = n->kind == KD_MULTI_A || n->kind == KD_SORTEDMULTI_A;
    int sorted = n->kind == KD_SORTEDMULTI || n->kind == KD_SORTEDMULTI_A;
    size_t room = 4 + 1 + 66 * n->n_keys + 4, pos = 0;
    uint8_t *p;

    for (size_t i = 0; i < n->n_keys; i++) keys[i] = &r->w->pubs[n->first_key + i];
    if (sorted) qsort((void *)keys, n->n_keys, sizeof(keys[0]), cmp_pub);
    if (tap) room = 34 * n->n_keys + 4 + 1;
    p = arena_take(r, room);
    if (p == NULL) return internal_error(r);
    if (!tap) pos += put_int(p + pos, n->threshold);
    for (size_t i = 0; i < n->n_keys; i++) {
        p[pos++] = (uint8_t)keys[i]->len;
        memcpy(p + pos, keys[i]->b, keys[i]->len);
        pos += keys[i]->len;
        if (tap) p[pos++] = i == 0 ? 0xac : 0xba; /* OP_CHECKSIG, OP_CHECKSIGADD */
    }
    if (tap) {
        pos += put_int(p + pos, n->threshold);
        p[pos++] = 0x9c; /* OP_NUMEQUAL */
    } else {
        pos += put_int(p + pos, (uint32_t)n->n_keys);
        p[pos++] = 0xae; /* OP_CHECKMULTISIG */
    }
    r->w->used -= room - pos;
    *script = p;
    *len = pos;
    return KURA_OK;
}

/* Builds a script from a template function writing at most
 * SCRIPTPUBKEY_ROOM bytes. */
#define TEMPLATE(call_)                                                       \
    do {                                                                      \
        size_t written_ = 0;                                                  \
        uint8_t *p_ = arena_take(r, SCRIPTPUBKEY_ROOM);                       \
        if (p_ == NULL) return internal_error(r);                             \
        if ((call_) != KURA_OK) {                                             \
            return kura_fail(r->err, KURA_EINVAL, "descriptor: script template failed"); \
        }                                                                     \
        r->w->used -= SCRIPTPUBKEY_ROOM - written_;                           \
        *script = p_;                                                         \
        *len = written_;                                                      \
    } while (0)

static int hash160_of(kd_run *r, uint8_t h[20], const kd_pub *k)
{
    if (kura_hash160(h, k->b, k->len) != KURA_OK) {
        return kura_fail(r->err, KURA_ECRYPTO, "descriptor: HASH160 failed");
    }
    return KURA_OK;
}

/* pk, pkh, wpkh, multi*, raw, addr: the script of one expression. */
static int build_inner(kd_run *r, const kd_node *n, uint8_t **script, size_t *len)
{
    const kd_pub *k = n->n_keys > 0 ? &r->w->pubs[n->first_key] : NULL;
    uint8_t h[20];
    int rc;
    switch (n->kind) {
    case KD_PK: {
        /* BIP381 pk(): <key> OP_CHECKSIG (x-only key inside tr, BIP386). */
        uint8_t *p = arena_take(r, k->len + 2);
        if (p == NULL) return internal_error(r);
        p[0] = (uint8_t)k->len;
        memcpy(p + 1, k->b, k->len);
        p[k->len + 1] = 0xac;
        *script = p;
        *len = k->len + 2;
        return KURA_OK;
    }
    case KD_PKH:
        rc = hash160_of(r, h, k);
        if (rc != KURA_OK) return rc;
        TEMPLATE(kura_script_p2pkh(p_, SCRIPTPUBKEY_ROOM, &written_, h));
        return KURA_OK;
    case KD_WPKH:
        rc = hash160_of(r, h, k);
        if (rc != KURA_OK) return rc;
        TEMPLATE(kura_script_p2wpkh(p_, SCRIPTPUBKEY_ROOM, &written_, h));
        return KURA_OK;
    case KD_MULTI:
    case KD_SORTEDMULTI:
    case KD_MULTI_A:
    case KD_SORTEDMULTI_A: return build_multi(r, n, script, len);
    case KD_RAW:
    case KD_ADDR: {
        uint8_t *p = arena_take(r, n->script_len);
        if (p == NULL) return internal_error(r);
        memcpy(p, n->script, n->script_len);
        *script = p;
        *len = n->script_len;
        return KURA_OK;
    }
    default: return internal_error(r);
    }
}

static int wrap_sh(kd_run *r, const uint8_t *redeem, size_t redeem_len, uint8_t **script,
                   size_t *len)
{
    TEMPLATE(kura_script_p2sh_of(p_, SCRIPTPUBKEY_ROOM, &written_, redeem, redeem_len));
    return KURA_OK;
}

static int wrap_wsh(kd_run *r, const uint8_t *ws, size_t ws_len, uint8_t **script, size_t *len)
{
    TEMPLATE(kura_script_p2wsh_of(p_, SCRIPTPUBKEY_ROOM, &written_, ws, ws_len));
    return KURA_OK;
}

/* ---- taproot (BIP341, BIP386) ---- */

/* Pass 1: every tree node's hash; with details, each leaf recorded in order. */
static int tap_hash(kd_run *r, const kd_tree *t)
{
    struct kura_descriptor_work *w = r->w;
    int rc;
    if (t->leaf != NULL) {
        size_t mark = w->used, len = 0;
        uint8_t *script = NULL;
        rc = build_inner(r, t->leaf, &script, &len);
        if (rc != KURA_OK) return rc;
        kura_tapleaf_hash(w->hashes[t->id], KURA_DESCRIPTOR_LEAF_VERSION, script, len);
        if (r->details) {
            kura_descriptor_leaf *lf = &w->leaves[r->n_leaves];
            lf->script = script;
            lf->script_len = len;
            lf->leaf_version = KURA_DESCRIPTOR_LEAF_VERSION;
            lf->depth = t->depth;
            memcpy(lf->leaf_hash, w->hashes[t->id], 32);
            for (size_t i = 0; i < t->leaf->n_keys; i++) {
                w->keys[t->leaf->first_key + i].leaf = r->n_leaves;
            }
        } else {
            w->used = mark; /* only the hash is needed */
        }
        r->n_leaves++;
        return KURA_OK;
    }
    rc = tap_hash(r, t->left);
    if (rc != KURA_OK) return rc;
    rc = tap_hash(r, t->right);
    if (rc != KURA_OK) return rc;
    kura_tapbranch_hash(w->hashes[t->id], w->hashes[t->left->id], w->hashes[t->right->id]);
    return KURA_OK;
}

/* Pass 2 (details only): control blocks. `sib` holds the sibling hashes on
 * the way down from the root; BIP341 lists them from the leaf upwards. */
static int tap_control(kd_run *r, const kd_tree *t, uint8_t (*sib)[32], size_t *leaf)
{
    struct kura_descriptor_work *w = r->w;
    int rc;
    if (t->leaf != NULL) {
        kura_descriptor_leaf *lf = &w->leaves[(*leaf)++];
        size_t len = 33 + 32 * (size_t)t->depth;
        uint8_t *p = arena_take(r, len);
        if (p == NULL) return internal_error(r);
        p[0] = (uint8_t)(KURA_DESCRIPTOR_LEAF_VERSION | (r->parity & 1));
        memcpy(p + 1, r->internal, 32);
        for (unsigned i = 0; i < t->depth; i++) memcpy(p + 33 + 32 * i, sib[t->depth - 1 - i], 32);
        lf->control_block = p;
        lf->control_block_len = len;
        return KURA_OK;
    }
    memcpy(sib[t->depth], w->hashes[t->right->id], 32);
    rc = tap_control(r, t->left, sib, leaf);
    if (rc != KURA_OK) return rc;
    memcpy(sib[t->depth], w->hashes[t->left->id], 32);
    return tap_control(r, t->right, sib, leaf);
}

static int build_tr(kd_run *r, const kd_node *n, uint8_t **script, size_t *len)
{
    int rc;
    r->is_tr = 1;
    memcpy(r->internal, r->w->pubs[n->first_key].b, 32);
    if (n->tree != NULL) {
        rc = tap_hash(r, n->tree);
        if (rc != KURA_OK) return rc;
        memcpy(r->root, r->w->hashes[n->tree->id], 32);
        r->has_root = 1;
    }
    /* BIP386: output key = internal + hashTapTweak(internal [|| merkle root])G;
     * without a tree the tweak commits to no script path (BIP341). A cached
     * row holds it after the key slots (cache.c): no EC multiplication. */
    if (r->row != NULL) {
        const uint8_t *slot = r->row + 33 * r->d->n_keys;
        r->parity = slot[0] & 1;
        memcpy(r->output, slot + 1, 32);
        rc = KURA_OK;
    } else {
        rc = kura_taproot_tweak_pubkey(r->ctx, r->output, &r->parity, r->internal,
                                       r->has_root ? r->root : NULL);
    }
    if (rc != KURA_OK) {
        return kura_fail(r->err, rc == KURA_EDATA ? KURA_ECRYPTO : rc,
                         "descriptor: taproot tweak failed");
    }
    if (r->details && n->tree != NULL) {
        uint8_t sib[KURA_DESCRIPTOR_TAPROOT_DEPTH_MAX][32];
        size_t leaf = 0;
        rc = tap_control(r, n->tree, sib, &leaf);
        if (rc != KURA_OK) return rc;
    }
    TEMPLATE(kura_script_p2tr(p_, SCRIPTPUBKEY_ROOM, &written_, r->output));
    return KURA_OK;
}

/* ---- one run ---- */

static int run(kd_run *r)
{
    const kura_descriptor *d = r->d;
    const kd_node *root = d->root;
    kura_descriptor_script_info *s0 = &r->scripts[0];
    uint8_t *spk = NULL, *inner = NULL, *ws = NULL;
    size_t spk_len = 0, inner_len = 0, ws_len = 0;
    int rc;

    r->w->used = 0;
    for (size_t i = 0; i < d->n_keys; i++) {
        rc = key_pub(r, &d->keys[i], &r->w->pubs[i]);
        if (rc != KURA_OK) return rc;
        if (r->details) key_info(r, i, &r->w->keys[i], &r->w->pubs[i]);
    }

    switch (root->kind) {
    case KD_SH: {
        const kd_node *sub = root->sub;
        if (sub->kind == KD_WSH) {
            /* sh(wsh(X)): witness script X, redeem script P2WSH(X). */
            rc = build_inner(r, sub->sub, &ws, &ws_len);
            if (rc == KURA_OK) rc = wrap_wsh(r, ws, ws_len, &inner, &inner_len);
        } else {
            rc = build_inner(r, sub, &inner, &inner_len);
        }
        if (rc == KURA_OK) rc = wrap_sh(r, inner, inner_len, &spk, &spk_len);
        if (rc != KURA_OK) return rc;
        s0->redeem_script = inner;
        s0->redeem_script_len = inner_len;
        s0->witness_script = ws;
        s0->witness_script_len = ws_len;
        break;
    }
    case KD_WSH:
        rc = build_inner(r, root->sub, &ws, &ws_len);
        if (rc == KURA_OK) rc = wrap_wsh(r, ws, ws_len, &spk, &spk_len);
        if (rc != KURA_OK) return rc;
        s0->witness_script = ws;
        s0->witness_script_len = ws_len;
        break;
    case KD_TR:
        rc = build_tr(r, root, &spk, &spk_len);
        if (rc != KURA_OK) return rc;
        break;
    case KD_COMBO: {
        /* BIP384: P2PK and P2PKH always; P2WPKH and P2SH-P2WPKH only for a
         * compressed key. */
        kd_node as = *root;
        static const kd_kind kinds[3] = {KD_PK, KD_PKH, KD_WPKH};
        size_t count = r->w->pubs[root->first_key].len == 33 ? 3 : 2;
        for (size_t i = 0; i < count; i++) {
            as.kind = kinds[i];
            rc = build_inner(r, &as, &spk, &spk_len);
            if (rc != KURA_OK) return rc;
            r->scripts[i].script_pubkey = spk;
            r->scripts[i].script_pubkey_len = spk_len;
        }
        r->n_scripts = count;
        if (count == 3) {
            const uint8_t *wpkh = r->scripts[2].script_pubkey;
            size_t wpkh_len = r->scripts[2].script_pubkey_len;
            rc = wrap_sh(r, wpkh, wpkh_len, &spk, &spk_len);
            if (rc != KURA_OK) return rc;
            r->scripts[3].script_pubkey = spk;
            r->scripts[3].script_pubkey_len = spk_len;
            r->scripts[3].redeem_script = wpkh;
            r->scripts[3].redeem_script_len = wpkh_len;
            r->n_scripts = 4;
        }
        return KURA_OK;
    }
    default:
        rc = build_inner(r, root, &spk, &spk_len);
        if (rc != KURA_OK) return rc;
        break;
    }
    s0->script_pubkey = spk;
    s0->script_pubkey_len = spk_len;
    r->n_scripts = 1;
    return KURA_OK;
}

static int check_args(const kura_descriptor *d, size_t branch, uint32_t index, kura_error *err)
{
    if (branch >= d->n_branches) {
        return kura_fail(err, KURA_EINVAL, "descriptor: branch %zu out of range (%zu branches)",
                         branch, d->n_branches);
    }
    if (d->ranged && index >= KURA_BIP32_HARDENED) {
        return kura_fail(err, KURA_EINVAL, "descriptor: child index must be below 2^31");
    }
    return KURA_OK;
}

int kura_descriptor_derive(const kura_ctx *ctx, kura_descriptor_output *out,
                           const kura_descriptor *desc, size_t branch, uint32_t index,
                           kura_error *err)
{
    return kd_derive_row(ctx, out, desc, branch, index, NULL, err);
}

int kd_derive_row(const kura_ctx *ctx, kura_descriptor_output *out, const kura_descriptor *desc,
                  size_t branch, uint32_t index, const uint8_t *row, kura_error *err)
{
    kd_run r;
    int rc;
    if (out == NULL || out->work_ == NULL) {
        return kura_fail(err, KURA_EINVAL, "descriptor: NULL output");
    }
    output_clear(out);
    if (ctx == NULL || desc == NULL) return kura_fail(err, KURA_EINVAL, "descriptor: NULL argument");
    rc = check_args(desc, branch, index, err);
    if (rc != KURA_OK) return rc;
    if (!work_reserve(out->work_, desc)) return kura_fail(err, KURA_ENOMEM, "descriptor: out of memory");

    memset(&r, 0, sizeof(r));
    r.ctx = ctx;
    r.d = desc;
    r.w = out->work_;
    r.branch = branch;
    r.index = desc->ranged ? index : 0;
    r.details = 1;
    r.row = row;
    r.err = err;
    rc = run(&r);
    if (rc != KURA_OK) {
        output_clear(out);
        return rc;
    }
    out->n_scripts = r.n_scripts;
    memcpy(out->scripts, r.scripts, sizeof(r.scripts));
    out->n_keys = (desc->root->kind == KD_ADDR || desc->root->kind == KD_RAW) ? 0 : desc->n_keys;
    out->keys = out->n_keys > 0 ? r.w->keys : NULL;
    if (r.is_tr) {
        out->is_taproot = 1;
        memcpy(out->internal_key, r.internal, 32);
        memcpy(out->output_key, r.output, 32);
        out->output_key_parity = r.parity;
        out->has_merkle_root = r.has_root;
        if (r.has_root) memcpy(out->merkle_root, r.root, 32);
        out->n_leaves = r.n_leaves;
        out->leaves = r.n_leaves > 0 ? r.w->leaves : NULL;
    }
    return KURA_OK;
}

/* Stack storage for kura_descriptor_script_pubkey on small descriptors. */
#define SMALL_KEYS 20
#define SMALL_ARENA 4096
#define SMALL_TREE_NODES 64

int kura_descriptor_script_pubkey(const kura_ctx *ctx, uint8_t *out, size_t out_len,
                                  size_t *written, const kura_descriptor *desc, size_t branch,
                                  uint32_t index, kura_error *err)
{
    struct kura_descriptor_work small, *w = &small, heap;
    kd_pub pubs[SMALL_KEYS];
    const kd_pub *sorted[SMALL_KEYS];
    uint8_t arena[SMALL_ARENA];
    uint8_t hashes[SMALL_TREE_NODES][32];
    kd_run r;
    int rc;

    if (written == NULL) return kura_fail(err, KURA_EINVAL, "descriptor: NULL argument");
    *written = 0;
    if (ctx == NULL || desc == NULL || out == NULL) {
        return kura_fail(err, KURA_EINVAL, "descriptor: NULL argument");
    }
    rc = check_args(desc, branch, index, err);
    if (rc != KURA_OK) return rc;

    memset(&heap, 0, sizeof(heap));
    memset(&small, 0, sizeof(small));
    if (desc->n_keys <= SMALL_KEYS && desc->arena_bound <= SMALL_ARENA &&
        desc->n_tree_nodes <= SMALL_TREE_NODES) {
        small.arena = arena;
        small.arena_cap = sizeof(arena);
        small.pubs = pubs;
        small.pubs_cap = SMALL_KEYS;
        small.sorted = sorted;
        small.sorted_cap = SMALL_KEYS;
        small.hashes = hashes;
        small.hashes_cap = SMALL_TREE_NODES;
    } else {
        w = &heap;
        if (!work_reserve(w, desc)) {
            work_release(w);
            return kura_fail(err, KURA_ENOMEM, "descriptor: out of memory");
        }
    }

    memset(&r, 0, sizeof(r));
    r.ctx = ctx;
    r.d = desc;
    r.w = w;
    r.branch = branch;
    r.index = desc->ranged ? index : 0;
    r.details = 0;
    r.err = err;
    rc = run(&r);
    if (rc == KURA_OK) {
        if (r.scripts[0].script_pubkey_len > out_len) {
            rc = kura_fail(err, KURA_EINVAL, "descriptor: output buffer too small (%zu bytes needed)",
                           r.scripts[0].script_pubkey_len);
        } else {
            memcpy(out, r.scripts[0].script_pubkey, r.scripts[0].script_pubkey_len);
            *written = r.scripts[0].script_pubkey_len;
        }
    }
    if (w == &heap) work_release(w);
    return rc;
}

int kura_descriptor_address(const kura_ctx *ctx, char *out, size_t out_len,
                            const kura_descriptor *desc, size_t branch, uint32_t index,
                            kura_network network, kura_error *err)
{
    uint8_t spk_small[64], *spk = spk_small;
    size_t spk_len = 0, room = sizeof(spk_small);
    int rc;

    if (out == NULL || out_len == 0) return kura_fail(err, KURA_EINVAL, "descriptor: NULL output");
    out[0] = '\0';
    if (desc == NULL) return kura_fail(err, KURA_EINVAL, "descriptor: NULL argument");
    if (kura_network_name(network) == NULL) {
        return kura_fail(err, KURA_EINVAL, "descriptor: unknown network");
    }
    if (!kura_descriptor_allows_network(desc, network)) {
        return kura_fail(err, KURA_EDATA, "descriptor: its keys or address are not for %s",
                         kura_network_name(network));
    }
    if (desc->root->kind == KD_COMBO) {
        return kura_fail(err, KURA_EDATA, "descriptor: combo() has several scripts; derive them");
    }
    if (desc->root->kind == KD_RAW && desc->root->script_len > room) {
        room = desc->root->script_len;
        spk = malloc(room);
        if (spk == NULL) return kura_fail(err, KURA_ENOMEM, "descriptor: out of memory");
    }
    rc = kura_descriptor_script_pubkey(ctx, spk, room, &spk_len, desc, branch, index, err);
    if (rc == KURA_OK) {
        rc = kura_address_from_script(out, out_len, spk, spk_len, network, err);
        if (rc != KURA_OK) {
            out[0] = '\0';
            if (rc == KURA_EDATA) {
                rc = kura_fail(err, KURA_EDATA, "descriptor: this script has no address form");
            }
        }
    }
    if (spk != spk_small) free(spk);
    return rc;
}

int kura_descriptor_check_branches(const kura_ctx *ctx, const kura_descriptor *desc,
                                   size_t branches, kura_error *err)
{
    /* An index that is not a branch number, so a path ending b/INDEX cannot
     * be mistaken for one ending in two branch-like numbers. */
    const uint32_t index = 7;
    kura_descriptor_output *out;
    int rc = KURA_OK;
    if (ctx == NULL || desc == NULL) return kura_fail(err, KURA_EINVAL, "descriptor: NULL argument");
    if (kura_descriptor_multipath_count(desc) != branches || !kura_descriptor_is_ranged(desc))
        return kura_fail(err, KURA_EDATA,
                         "descriptor: needs %zu branches and a wildcard: every key ends in "
                         "/<0;1>/*",
                         branches);
    out = kura_descriptor_output_new();
    if (out == NULL) return kura_fail(err, KURA_ENOMEM, "descriptor: out of memory");
    for (size_t b = 0; b < branches && rc == KURA_OK; b++) {
        rc = kura_descriptor_derive(ctx, out, desc, b, index, err);
        for (size_t k = 0; rc == KURA_OK && k < out->n_keys; k++) {
            const kura_descriptor_key_info *ki = &out->keys[k];
            if (ki->path_len >= 2 && ki->path[ki->path_len - 2] == (uint32_t)b &&
                ki->path[ki->path_len - 1] == index)
                continue;
            rc = kura_fail(err, KURA_EDATA,
                           "descriptor: key expression %zu does not number its branches "
                           "<0;1>: on branch %zu its path ends %s%" PRIu32 "/%" PRIu32
                           ", not %zu/%" PRIu32 " (other branch numbering such as /<1;0>/* "
                           "and mixed numbering are refused)",
                           ki->expression + 1, b, ki->path_len >= 2 ? "" : "(too short) ",
                           ki->path_len >= 2 ? ki->path[ki->path_len - 2] : 0,
                           ki->path_len >= 1 ? ki->path[ki->path_len - 1] : 0, b, index);
        }
    }
    kura_descriptor_output_free(out);
    return rc;
}
