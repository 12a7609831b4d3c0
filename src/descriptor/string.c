/*
 * src/descriptor/string.c — the canonical text of a parsed descriptor, in
 * private or public form, for all branches or one, with the BIP380 checksum.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "descriptor_internal.h"
#include "kura/encoding.h"
#include "kura/script.h"

typedef struct kd_writer {
    const kura_ctx *ctx;
    const kura_descriptor *d;
    kura_buf b;
    size_t branch; /* KURA_DESCRIPTOR_ALL_BRANCHES or one branch */
    int private_;
    kura_error *err;
} kd_writer;

static int put(kd_writer *w, const char *s, size_t n)
{
    if (!kura_buf_put(&w->b, s, n)) {
        return kura_fail(w->err, KURA_ENOMEM, "descriptor: out of memory");
    }
    return KURA_OK;
}

static int put_str(kd_writer *w, const char *s)
{
    return put(w, s, strlen(s));
}

static int put_hex(kd_writer *w, const uint8_t *bytes, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char pair[2];
    if (!kura_buf_reserve(&w->b, 2 * len)) {
        return kura_fail(w->err, KURA_ENOMEM, "descriptor: out of memory");
    }
    for (size_t i = 0; i < len; i++) {
        pair[0] = digits[bytes[i] >> 4];
        pair[1] = digits[bytes[i] & 15];
        (void)kura_buf_put(&w->b, pair, 2);
    }
    return KURA_OK;
}

/* One path element; hardened steps are written with 'h' (BIP380). */
static int put_step(kd_writer *w, uint32_t v)
{
    char num[16];
    int n = snprintf(num, sizeof(num), "%u%s", (unsigned)(v & ~KURA_BIP32_HARDENED),
                     (v & KURA_BIP32_HARDENED) ? "h" : "");
    return put(w, num, (size_t)n);
}

static int put_origin(kd_writer *w, const uint8_t fp[4], const uint32_t *path, size_t len)
{
    int rc = put_str(w, "[");
    if (rc == KURA_OK) rc = put_hex(w, fp, 4);
    for (size_t i = 0; rc == KURA_OK && i < len; i++) {
        rc = put_str(w, "/");
        if (rc == KURA_OK) rc = put_step(w, path[i]);
    }
    if (rc == KURA_OK) rc = put_str(w, "]");
    return rc;
}

/* The value of derivation step i for this output: the branch's value in the
 * multipath slot when one branch is written. */
static uint32_t step_value(const kd_writer *w, const kd_key *k, size_t i)
{
    if (i == k->mp_pos) {
        return k->mp_values[w->branch == KURA_DESCRIPTOR_ALL_BRANCHES ? 0 : w->branch];
    }
    return k->steps[i];
}

/* Steps from..n_steps of the key's derivation, then the wildcard. */
static int put_steps(kd_writer *w, const kd_key *k, size_t from)
{
    int rc = KURA_OK;
    for (size_t i = from; rc == KURA_OK && i < k->n_steps; i++) {
        rc = put_str(w, "/");
        if (rc != KURA_OK) break;
        if (i == k->mp_pos && w->branch == KURA_DESCRIPTOR_ALL_BRANCHES) {
            rc = put_str(w, "<");
            for (size_t m = 0; rc == KURA_OK && m < k->mp_count; m++) {
                if (m > 0) rc = put_str(w, ";");
                if (rc == KURA_OK) rc = put_step(w, k->mp_values[m]);
            }
            if (rc == KURA_OK) rc = put_str(w, ">");
        } else {
            rc = put_step(w, step_value(w, k, i));
        }
    }
    if (rc == KURA_OK && k->wildcard == KD_WILD_UNHARDENED) rc = put_str(w, "/*");
    if (rc == KURA_OK && k->wildcard == KD_WILD_HARDENED) rc = put_str(w, "/*h");
    return rc;
}

static int put_xkey(kd_writer *w, const kura_bip32_key *key, int private_)
{
    char buf[KURA_BIP32_SERIALIZED_LEN];
    int rc = kura_bip32_serialize(buf, sizeof(buf), key, private_);
    if (rc != KURA_OK) {
        sodium_memzero(buf, sizeof(buf));
        return kura_fail(w->err, rc, "descriptor: cannot serialise an extended key");
    }
    rc = put_str(w, buf);
    sodium_memzero(buf, sizeof(buf));
    return rc;
}

/* Public form of an xprv key expression (BIP380 "Normalization of Key
 * Expressions with Hardened Derivation"): the xpub at the last hardened step,
 * the steps up to it appended to the origin. */
static int put_bip32_public(kd_writer *w, const kd_key *k)
{
    size_t last = 0, n_hard = 0;
    uint32_t path[KURA_DESCRIPTOR_PATH_MAX];
    kura_bip32_key at, pub;
    int rc;

    if (k->wildcard == KD_WILD_HARDENED) {
        return kura_fail(w->err, KURA_EDATA,
                         "descriptor: a hardened wildcard (/*h) has no public form");
    }
    for (size_t i = 0; i < k->n_steps; i++) {
        int hard;
        if (i == k->mp_pos && w->branch == KURA_DESCRIPTOR_ALL_BRANCHES) {
            hard = 0;
            for (size_t m = 0; m < k->mp_count; m++) {
                if (k->mp_values[m] & KURA_BIP32_HARDENED) hard = 1;
            }
            if (hard) {
                return kura_fail(w->err, KURA_EDATA,
                                 "descriptor: a hardened multipath step has no public form; "
                                 "write one branch at a time");
            }
        } else {
            hard = (step_value(w, k, i) & KURA_BIP32_HARDENED) != 0;
        }
        if (hard) {
            last = i;
            n_hard = i + 1;
        }
    }
    if (n_hard == 0) {
        /* No hardened step: the same expression with the xpub. */
        kura_bip32_neuter(&pub, &k->xkey);
        rc = KURA_OK;
        if (k->has_origin) rc = put_origin(w, k->origin_fp, k->origin_path, k->origin_len);
        if (rc == KURA_OK) rc = put_xkey(w, &pub, 0);
        if (rc == KURA_OK) rc = put_steps(w, k, 0);
        kura_bip32_wipe(&pub);
        return rc;
    }
    if (k->mp_pos != KD_NO_MULTIPATH && k->mp_pos <= last &&
        w->branch == KURA_DESCRIPTOR_ALL_BRANCHES) {
        return kura_fail(w->err, KURA_EDATA,
                         "descriptor: a hardened step after a multipath step has no public "
                         "form; write one branch at a time");
    }
    for (size_t i = 0; i < n_hard; i++) path[i] = step_value(w, k, i);
    rc = kura_bip32_derive_path(w->ctx, &at, &k->xkey, path, n_hard);
    if (rc != KURA_OK) {
        kura_bip32_wipe(&at);
        return kura_fail(w->err, rc == KURA_ENOMEM ? KURA_ENOMEM : KURA_ECRYPTO,
                         "descriptor: derivation failed");
    }
    kura_bip32_neuter(&pub, &at);
    kura_bip32_wipe(&at);
    {
        uint32_t origin[KURA_DESCRIPTOR_PATH_MAX];
        size_t n = 0;
        /* Parsing bounded origin + steps by KURA_DESCRIPTOR_PATH_MAX. */
        if (k->has_origin) {
            memcpy(origin, k->origin_path, k->origin_len * sizeof(uint32_t));
            n = k->origin_len;
        }
        memcpy(origin + n, path, n_hard * sizeof(uint32_t));
        n += n_hard;
        rc = put_origin(w, k->has_origin ? k->origin_fp : k->own_fp, origin, n);
    }
    if (rc == KURA_OK) rc = put_xkey(w, &pub, 0);
    if (rc == KURA_OK) rc = put_steps(w, k, n_hard);
    kura_bip32_wipe(&pub);
    return rc;
}

static int put_key(kd_writer *w, const kd_key *k)
{
    int rc = KURA_OK;
    if (k->kind == KD_KEY_BIP32 && !w->private_ && k->xkey.has_private) {
        return put_bip32_public(w, k);
    }
    if (k->has_origin) rc = put_origin(w, k->origin_fp, k->origin_path, k->origin_len);
    if (rc != KURA_OK) return rc;
    switch (k->kind) {
    case KD_KEY_HEX:
    case KD_KEY_XONLY: return put_hex(w, k->pub, k->pub_len);
    case KD_KEY_WIF:
        if (w->private_) {
            char wif[64];
            rc = kura_wif_encode(wif, sizeof(wif), k->priv, k->wif_compressed, k->network);
            if (rc == KURA_OK) {
                rc = put_str(w, wif);
            } else {
                rc = kura_fail(w->err, rc, "descriptor: cannot encode a WIF key");
            }
            sodium_memzero(wif, sizeof(wif));
            return rc;
        }
        /* The public key; inside tr() the x-only form, as tr() uses it. */
        if (k->xonly_ctx && k->pub_len == 33) return put_hex(w, k->pub + 1, 32);
        return put_hex(w, k->pub, k->pub_len);
    case KD_KEY_BIP32:
        rc = put_xkey(w, &k->xkey, w->private_ && k->xkey.has_private);
        if (rc == KURA_OK) rc = put_steps(w, k, 0);
        return rc;
    }
    return KURA_OK;
}

static const char *kind_name(kd_kind kind)
{
    switch (kind) {
    case KD_PK: return "pk";
    case KD_PKH: return "pkh";
    case KD_WPKH: return "wpkh";
    case KD_SH: return "sh";
    case KD_WSH: return "wsh";
    case KD_MULTI: return "multi";
    case KD_SORTEDMULTI: return "sortedmulti";
    case KD_MULTI_A: return "multi_a";
    case KD_SORTEDMULTI_A: return "sortedmulti_a";
    case KD_COMBO: return "combo";
    case KD_ADDR: return "addr";
    case KD_RAW: return "raw";
    case KD_TR: return "tr";
    }
    return "?";
}

static int put_node(kd_writer *w, const kd_node *n);

static int put_tree(kd_writer *w, const kd_tree *t)
{
    int rc;
    if (t->leaf != NULL) return put_node(w, t->leaf);
    rc = put_str(w, "{");
    if (rc == KURA_OK) rc = put_tree(w, t->left);
    if (rc == KURA_OK) rc = put_str(w, ",");
    if (rc == KURA_OK) rc = put_tree(w, t->right);
    if (rc == KURA_OK) rc = put_str(w, "}");
    return rc;
}

static int put_node(kd_writer *w, const kd_node *n)
{
    int rc = put_str(w, kind_name(n->kind));
    if (rc == KURA_OK) rc = put_str(w, "(");
    if (rc != KURA_OK) return rc;
    switch (n->kind) {
    case KD_PK:
    case KD_PKH:
    case KD_WPKH:
    case KD_COMBO: rc = put_key(w, &w->d->keys[n->first_key]); break;
    case KD_SH:
    case KD_WSH: rc = put_node(w, n->sub); break;
    case KD_MULTI:
    case KD_SORTEDMULTI:
    case KD_MULTI_A:
    case KD_SORTEDMULTI_A: {
        char num[16];
        int len = snprintf(num, sizeof(num), "%u", n->threshold);
        rc = put(w, num, (size_t)len);
        for (size_t i = 0; rc == KURA_OK && i < n->n_keys; i++) {
            rc = put_str(w, ",");
            if (rc == KURA_OK) rc = put_key(w, &w->d->keys[n->first_key + i]);
        }
        break;
    }
    case KD_ADDR: {
        char addr[KURA_ADDRESS_MAX];
        rc = kura_address_from_script(addr, sizeof(addr), n->script, n->script_len,
                                      n->addr_network, NULL);
        if (rc != KURA_OK) {
            rc = kura_fail(w->err, KURA_EDATA, "descriptor: cannot re-encode the address");
        } else {
            rc = put_str(w, addr);
        }
        break;
    }
    case KD_RAW: rc = put_hex(w, n->script, n->script_len); break;
    case KD_TR:
        rc = put_key(w, &w->d->keys[n->first_key]);
        if (rc == KURA_OK && n->tree != NULL) {
            rc = put_str(w, ",");
            if (rc == KURA_OK) rc = put_tree(w, n->tree);
        }
        break;
    }
    if (rc == KURA_OK) rc = put_str(w, ")");
    return rc;
}

int kura_descriptor_to_string(const kura_ctx *ctx, char **out, const kura_descriptor *desc,
                              size_t branch, unsigned flags, kura_error *err)
{
    kd_writer w;
    char sum[8];
    size_t len = 0;
    int rc;

    if (out == NULL) return kura_fail(err, KURA_EINVAL, "descriptor: NULL output");
    *out = NULL;
    if (ctx == NULL || desc == NULL) return kura_fail(err, KURA_EINVAL, "descriptor: NULL argument");
    if ((flags & ~KURA_DESCRIPTOR_PRIVATE) != 0) {
        return kura_fail(err, KURA_EINVAL, "descriptor: unknown flags");
    }
    if (branch != KURA_DESCRIPTOR_ALL_BRANCHES && branch >= desc->n_branches) {
        return kura_fail(err, KURA_EINVAL, "descriptor: branch %zu out of range (%zu branches)",
                         branch, desc->n_branches);
    }
    w.ctx = ctx;
    w.d = desc;
    kura_buf_init(&w.b);
    w.branch = branch;
    w.private_ = (flags & KURA_DESCRIPTOR_PRIVATE) != 0;
    w.err = err;

    rc = put_node(&w, desc->root);
    if (rc == KURA_OK && !kd_checksum8(sum, (const char *)w.b.data, w.b.len, NULL)) {
        rc = kura_fail(err, KURA_EDATA, "descriptor: character outside the descriptor set");
    }
    if (rc == KURA_OK) rc = put(&w, "#", 1);
    if (rc == KURA_OK) rc = put(&w, sum, 8);
    if (rc == KURA_OK) rc = put(&w, "", 1);
    if (rc != KURA_OK) {
        kura_buf_free(&w.b);
        return rc;
    }
    *out = (char *)kura_buf_take(&w.b, &len);
    if (*out == NULL) return kura_fail(err, KURA_ENOMEM, "descriptor: out of memory");
    return KURA_OK;
}

void kura_descriptor_string_free(char *str)
{
    if (str == NULL) return;
    sodium_memzero(str, strlen(str));
    free(str);
}
