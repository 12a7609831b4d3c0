/*
 * src/descriptor/parse.c — descriptor text to the kd_node tree (BIP380-387,
 * BIP389), with every context rule checked while parsing, and the fixed part
 * of each extended key's path derived once.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "descriptor_internal.h"
#include "kura/encoding.h"
#include "kura/hash.h"
#include "kura/script.h"

/* Where an expression sits, which decides what it may contain. */
typedef enum kd_ctx {
    CTX_TOP,
    CTX_SH,     /* directly inside sh() */
    CTX_WSH,    /* inside wsh() at the top */
    CTX_SH_WSH, /* inside sh(wsh()) */
    CTX_TAP     /* a tapscript leaf of tr() */
} kd_ctx;

/* Key expression flags. */
#define KF_UNCOMPRESSED 1u /* uncompressed keys allowed (legacy contexts only) */
#define KF_XONLY 2u        /* inside tr(): x-only keys allowed, scripts use x-only form */

/* Largest script raw() accepts: the consensus MAX_SCRIPT_SIZE. */
#define KD_RAW_MAX 10000
/* BIP383: multi() inside sh() is limited by the 520-byte P2SH redeem script. */
#define KD_P2SH_SCRIPT_MAX 520
#define KD_MULTI_MAX 20
#define KD_MULTI_A_MAX 999
/* Longest key token tried as WIF / Base58 extended key / address. */
#define KD_TOKEN_MAX 120

typedef struct kd_parser {
    const kura_ctx *ctx;
    const char *s;
    size_t len; /* payload length, without "#checksum" */
    size_t pos;
    kura_descriptor *d;
    kura_error *err;
    size_t mp_len; /* multipath tuple length once one is seen */
    int key_syntax_only; /* kura_descriptor_key_check: no derivability rules */
} kd_parser;

static int perr(kd_parser *p, int code, const char *fmt, ...) KURA_PRINTF(3, 4);

/* Fails with "descriptor: offset N: <reason>". */
static int perr(kd_parser *p, int code, const char *fmt, ...)
{
    char msg[KURA_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return kura_fail(p->err, code, "descriptor: offset %zu: %s", p->pos, msg);
}

/* ---- freeing ---- */

static void tree_free(kd_tree *t)
{
    if (t == NULL) return;
    tree_free(t->left);
    tree_free(t->right);
    kd_node_free(t->leaf);
    free(t);
}

void kd_node_free(kd_node *node)
{
    if (node == NULL) return;
    kd_node_free(node->sub);
    tree_free(node->tree);
    free(node->script);
    free(node);
}

void kd_key_clear(kd_key *key)
{
    if (key->bases != NULL) {
        sodium_memzero(key->bases, key->n_bases * sizeof(key->bases[0]));
        free(key->bases);
    }
    if (key->base_points != NULL) {
        sodium_memzero(key->base_points, key->n_bases * sizeof(key->base_points[0]));
        free(key->base_points);
    }
    if (key->base_hmacs != NULL) {
        sodium_memzero(key->base_hmacs, key->n_bases * sizeof(key->base_hmacs[0]));
        free(key->base_hmacs);
    }
    free(key->mp_values);
    sodium_memzero(key, sizeof(*key));
}

void kura_descriptor_free(kura_descriptor *desc)
{
    if (desc == NULL) return;
    kd_node_free(desc->root);
    if (desc->gen != NULL) secp256k1_context_destroy(desc->gen);
    for (size_t i = 0; i < desc->n_keys; i++) kd_key_clear(&desc->keys[i]);
    if (desc->keys != NULL) {
        sodium_memzero(desc->keys, desc->keys_cap * sizeof(desc->keys[0]));
        free(desc->keys);
    }
    sodium_memzero(desc, sizeof(*desc));
    free(desc);
}

/* ---- small lexical helpers ---- */

static int is_hex_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int all_hex(const char *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!is_hex_char(t[i])) return 0;
    }
    return 1;
}

static unsigned hex_nibble(char c)
{
    if (c >= '0' && c <= '9') return (unsigned)(c - '0');
    if (c >= 'a' && c <= 'f') return (unsigned)(c - 'a' + 10);
    return (unsigned)(c - 'A' + 10);
}

/* Decodes exactly n hex chars (already checked) into out[n/2]. */
static void hex_to_bytes(uint8_t *out, const char *t, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        out[i / 2] = (uint8_t)(hex_nibble(t[i]) << 4 | hex_nibble(t[i + 1]));
    }
}

/* Parses a decimal number t[0..n) with no sign and no leading zero, at most
 * `max`. Returns 1 on success. */
static int parse_decimal(const char *t, size_t n, uint32_t max, uint32_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 10) return 0;
    if (t[0] == '0' && n > 1) return 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i] < '0' || t[i] > '9') return 0;
        v = v * 10 + (uint64_t)(t[i] - '0');
    }
    if (v > max) return 0;
    *out = (uint32_t)v;
    return 1;
}

typedef enum step_error {
    STEP_OK = 0,
    STEP_EMPTY,
    STEP_NOT_NUMBER,
    STEP_LEADING_ZERO,
    STEP_RANGE,
    STEP_MARKER
} step_error;

/* One BIP32 path element "NUM", "NUMh" or "NUM'" (BIP380). */
static step_error parse_step(const char *t, size_t n, uint32_t *out)
{
    size_t digits = 0;
    uint64_t v = 0;
    int hardened = 0;
    if (n == 0) return STEP_EMPTY;
    while (digits < n && t[digits] >= '0' && t[digits] <= '9') digits++;
    if (digits == 0) return STEP_NOT_NUMBER;
    if (digits < n) {
        /* BIP380's test vectors refuse 'H' (and anything else) as a marker. */
        if (digits + 1 != n || (t[digits] != 'h' && t[digits] != '\'')) return STEP_MARKER;
        hardened = 1;
    }
    if (t[0] == '0' && digits > 1) return STEP_LEADING_ZERO;
    if (digits > 10) return STEP_RANGE;
    for (size_t i = 0; i < digits; i++) v = v * 10 + (uint64_t)(t[i] - '0');
    /* An index is below 2^31; the hardened flag is added by the marker. */
    if (v >= KURA_BIP32_HARDENED) return STEP_RANGE;
    *out = (uint32_t)v | (hardened ? KURA_BIP32_HARDENED : 0);
    return STEP_OK;
}

static int step_fail(kd_parser *p, step_error e, const char *where)
{
    switch (e) {
    case STEP_EMPTY: return perr(p, KURA_EDATA, "empty derivation step in %s", where);
    case STEP_LEADING_ZERO:
        return perr(p, KURA_EDATA, "derivation step with a leading zero in %s", where);
    case STEP_RANGE:
        return perr(p, KURA_EDATA, "derivation index out of range (must be below 2^31) in %s",
                    where);
    case STEP_MARKER:
        return perr(p, KURA_EDATA, "invalid hardened marker in %s (use h or ')", where);
    default: return perr(p, KURA_EDATA, "derivation step is not a number in %s", where);
    }
}

/* ---- key expressions (BIP380 "Key Expressions", BIP389) ---- */

static kd_key *new_key(kd_parser *p)
{
    kura_descriptor *d = p->d;
    kd_key *k;
    if (d->n_keys == d->keys_cap) {
        size_t cap = d->keys_cap == 0 ? 4 : 0, bytes;
        kd_key *grown;
        if (cap == 0 && !kura_size_mul(d->keys_cap, 2, &cap)) return NULL;
        if (!kura_size_mul(cap, sizeof(kd_key), &bytes)) return NULL;
        grown = calloc(1, bytes);
        if (grown == NULL) return NULL;
        /* Copy and wipe instead of realloc: the old array may hold private keys. */
        if (d->keys != NULL) {
            memcpy(grown, d->keys, d->n_keys * sizeof(kd_key));
            sodium_memzero(d->keys, d->keys_cap * sizeof(kd_key));
            free(d->keys);
        }
        d->keys = grown;
        d->keys_cap = cap;
    }
    k = &d->keys[d->n_keys++];
    memset(k, 0, sizeof(*k));
    k->mp_pos = KD_NO_MULTIPATH;
    return k;
}

/* Uncompressed serialisation of a valid compressed key, for WIF keys marked
 * uncompressed. Public data only, so libsecp256k1's static context serves. */
static int uncompress(uint8_t out[65], const uint8_t in[33])
{
    secp256k1_pubkey pk;
    size_t len = 65;
    if (!secp256k1_ec_pubkey_parse(secp256k1_context_static, &pk, in, 33)) return 0;
    if (!secp256k1_ec_pubkey_serialize(secp256k1_context_static, out, &len, &pk,
                                       SECP256K1_EC_UNCOMPRESSED)) {
        return 0;
    }
    return len == 65;
}

static int parse_origin(kd_parser *p, kd_key *k, const char *t, size_t close)
{
    size_t i;
    /* "[" 8 hex "]" or "[" 8 hex ("/" step)* "]" */
    if (close < 9 || !all_hex(t + 1, 8) || (t[9] != '/' && t[9] != ']')) {
        return perr(p, KURA_EDATA, "key origin fingerprint must be exactly 8 hex characters");
    }
    hex_to_bytes(k->origin_fp, t + 1, 8);
    k->has_origin = 1;
    i = 9;
    while (i < close) {
        size_t j = i + 1;
        step_error e;
        uint32_t v = 0;
        /* t[i] is '/' here */
        while (j < close && t[j] != '/') j++;
        if (k->origin_len == KURA_DESCRIPTOR_PATH_MAX) {
            return perr(p, KURA_ERANGE, "key origin longer than %d steps",
                        KURA_DESCRIPTOR_PATH_MAX);
        }
        e = parse_step(t + i + 1, j - i - 1, &v);
        if (e != STEP_OK) return step_fail(p, e, "the key origin");
        k->origin_path[k->origin_len++] = v;
        i = j;
    }
    return KURA_OK;
}

/* Parses "<a;b;...>" (BIP389) at t[0..n). */
static int parse_multipath(kd_parser *p, kd_key *k, const char *t, size_t n, uint32_t *first)
{
    size_t i = 1, count = 0;
    if (n < 2 || t[n - 1] != '>') return perr(p, KURA_EDATA, "multipath step without '>'");
    for (size_t j = 1; j < n - 1; j++) {
        if (t[j] == ';') count++;
    }
    count++;
    if (count < 2) {
        return perr(p, KURA_EDATA, "multipath step needs at least two values (BIP389)");
    }
    if (count > KURA_DESCRIPTOR_MULTIPATH_MAX) {
        return perr(p, KURA_ERANGE, "multipath step with more than %d values",
                    KURA_DESCRIPTOR_MULTIPATH_MAX);
    }
    k->mp_values = calloc(count, sizeof(uint32_t));
    if (k->mp_values == NULL) return perr(p, KURA_ENOMEM, "out of memory");
    k->mp_count = 0;
    while (i < n) {
        size_t j = i;
        uint32_t v = 0;
        step_error e;
        while (j < n - 1 && t[j] != ';') j++;
        e = parse_step(t + i, j - i, &v);
        if (e != STEP_OK) return step_fail(p, e, "a multipath step");
        /* BIP389: "Duplicate NUMs within a tuple are not allowed." */
        for (size_t m = 0; m < k->mp_count; m++) {
            if (k->mp_values[m] == v) {
                return perr(p, KURA_EDATA, "duplicate value in a multipath step (BIP389)");
            }
        }
        k->mp_values[k->mp_count++] = v;
        i = j + 1;
    }
    *first = k->mp_values[0];
    return KURA_OK;
}

/* Parses the derivation after an extended key: t[0..n) starts with '/'. */
static int parse_derivation(kd_parser *p, kd_key *k, const char *t, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i + 1;
        const char *e;
        size_t en;
        /* t[i] == '/' */
        while (j < n && t[j] != '/') j++;
        e = t + i + 1;
        en = j - i - 1;
        if (k->wildcard != KD_WILD_NONE) {
            return perr(p, KURA_EDATA, "the wildcard must be the last derivation step");
        }
        if (en >= 1 && e[0] == '*') {
            if (en == 1) {
                k->wildcard = KD_WILD_UNHARDENED;
            } else if (en == 2 && (e[1] == 'h' || e[1] == '\'')) {
                k->wildcard = KD_WILD_HARDENED;
            } else {
                return perr(p, KURA_EDATA, "invalid wildcard step (use /* or /*h)");
            }
        } else {
            uint32_t v = 0;
            if (k->origin_len + k->n_steps >= KURA_DESCRIPTOR_PATH_MAX) {
                return perr(p, KURA_ERANGE, "key path longer than %d steps",
                            KURA_DESCRIPTOR_PATH_MAX);
            }
            if (en >= 1 && e[0] == '<') {
                int rc;
                /* BIP389: "only one /<NUM;NUM;...;NUM> specifier is allowed". */
                if (k->mp_pos != KD_NO_MULTIPATH) {
                    return perr(p, KURA_EDATA, "more than one multipath step in a key (BIP389)");
                }
                rc = parse_multipath(p, k, e, en, &v);
                if (rc != KURA_OK) return rc;
                k->mp_pos = k->n_steps;
            } else {
                step_error se = parse_step(e, en, &v);
                if (se != STEP_OK) return step_fail(p, se, "the key's derivation");
            }
            k->steps[k->n_steps++] = v;
        }
        i = j;
    }
    if (k->wildcard != KD_WILD_NONE && k->origin_len + k->n_steps + 1 > KURA_DESCRIPTOR_PATH_MAX) {
        return perr(p, KURA_ERANGE, "key path longer than %d steps", KURA_DESCRIPTOR_PATH_MAX);
    }
    return KURA_OK;
}

static unsigned network_bits(kura_network n)
{
    /* Regtest shares testnet's Base58 prefixes (xpub/WIF versions). */
    return n == KURA_NETWORK_MAINNET ? KD_NET_MAINNET : (KD_NET_TESTNET | KD_NET_REGTEST);
}

/* Derives the key after every fixed step, once per branch (the parse-time
 * cache that makes deriving an index one BIP32 step). */
static int compute_bases(kd_parser *p, kd_key *k)
{
    size_t nb = k->mp_count > 0 ? k->mp_count : 1;
    k->bases = calloc(nb, sizeof(kura_bip32_key));
    if (k->bases == NULL) return perr(p, KURA_ENOMEM, "out of memory");
    k->n_bases = nb;
    for (size_t b = 0; b < nb; b++) {
        uint32_t path[KURA_DESCRIPTOR_PATH_MAX];
        int rc = KURA_OK;
        memcpy(path, k->steps, k->n_steps * sizeof(uint32_t));
        if (k->mp_pos != KD_NO_MULTIPATH) path[k->mp_pos] = k->mp_values[b];
        if (k->n_steps == 0) {
            k->bases[b] = k->xkey;
        } else {
            rc = kura_bip32_derive_path(p->ctx, &k->bases[b], &k->xkey, path, k->n_steps);
        }
        if (rc != KURA_OK) {
            return perr(p, rc == KURA_ENOMEM ? KURA_ENOMEM : KURA_ECRYPTO,
                        "deriving the extended key's fixed path failed (%s)",
                        kura_status_name(rc));
        }
        /* Only a hardened wildcard needs private bases; keep no more secrets
         * in memory than derivation requires. */
        if (k->wildcard != KD_WILD_HARDENED && k->bases[b].has_private) {
            kura_bip32_key pub;
            kura_bip32_neuter(&pub, &k->bases[b]);
            kura_bip32_wipe(&k->bases[b]);
            k->bases[b] = pub;
            kura_bip32_wipe(&pub);
        }
    }
    if (k->wildcard == KD_WILD_UNHARDENED) {
        /* A context of our own, only for public data: the static context
         * cannot multiply by the generator table, which is what makes one
         * CKDpub step fast (IL*G + K_par instead of a general multiplication). */
        if (p->d->gen == NULL) {
            p->d->gen = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
            if (p->d->gen == NULL) return perr(p, KURA_ENOMEM, "out of memory");
        }
        k->base_points = calloc(nb, sizeof(secp256k1_pubkey));
        k->base_hmacs = calloc(nb, sizeof(crypto_auth_hmacsha512_state));
        if (k->base_points == NULL || k->base_hmacs == NULL) {
            return perr(p, KURA_ENOMEM, "out of memory");
        }
        for (size_t b = 0; b < nb; b++) {
            if (!secp256k1_ec_pubkey_parse(secp256k1_context_static, &k->base_points[b],
                                           k->bases[b].pub, 33)) {
                return perr(p, KURA_ECRYPTO, "derived key is not on the curve");
            }
            crypto_auth_hmacsha512_init(&k->base_hmacs[b], k->bases[b].chain_code, 32);
        }
    }
    return KURA_OK;
}

/* Parses the key expression s[start..end) with flags KF_*. Appends it to the
 * descriptor's keys. */
static int parse_key(kd_parser *p, size_t start, size_t end, unsigned flags)
{
    const char *t = p->s + start;
    size_t n = end - start, i = 0, kn, slash;
    const char *kt;
    kd_key *k;
    int rc;

    k = new_key(p);
    if (k == NULL) return perr(p, KURA_ENOMEM, "out of memory");
    k->xonly_ctx = (flags & KF_XONLY) != 0;

    if (n == 0) return perr(p, KURA_EDATA, "expected a key expression");
    if (t[0] == '[') {
        size_t close = 1;
        while (close < n && t[close] != ']') close++;
        if (close == n) return perr(p, KURA_EDATA, "key origin without a closing ']'");
        rc = parse_origin(p, k, t, close);
        if (rc != KURA_OK) return rc;
        i = close + 1;
        if (i == n) return perr(p, KURA_EDATA, "key origin with no key after it");
        if (t[i] == '[') return perr(p, KURA_EDATA, "more than one key origin");
    }
    kt = t + i;
    slash = i;
    while (slash < n && t[slash] != '/') slash++;
    kn = slash - i;

    if (kn == 66 && all_hex(kt, kn)) {
        /* BIP380: 66 hex characters beginning with 02 or 03. */
        uint8_t norm[33];
        hex_to_bytes(k->pub, kt, kn);
        if ((k->pub[0] != 2 && k->pub[0] != 3) ||
            kura_pubkey_normalize(p->ctx, norm, k->pub, 33) != KURA_OK) {
            return perr(p, KURA_EDATA, "invalid compressed public key");
        }
        k->kind = KD_KEY_HEX;
        k->pub_len = 33;
    } else if (kn == 130 && all_hex(kt, kn)) {
        /* BIP380: 130 hex characters beginning with 04 (no hybrid keys). */
        uint8_t norm[33];
        hex_to_bytes(k->pub, kt, kn);
        if (k->pub[0] != 4 || kura_pubkey_normalize(p->ctx, norm, k->pub, 65) != KURA_OK) {
            return perr(p, KURA_EDATA, "invalid uncompressed public key");
        }
        if (!(flags & KF_UNCOMPRESSED)) {
            /* BIP382: segwit scripts only take compressed keys; BIP386: tr() x-only. */
            return perr(p, KURA_EDATA, "uncompressed public key not allowed here (BIP382/386)");
        }
        k->kind = KD_KEY_HEX;
        k->pub_len = 65;
    } else if (kn == 64 && all_hex(kt, kn)) {
        /* BIP386 "Modified Key Expression": x-only keys exist only inside tr(). */
        uint8_t full[33], norm[33];
        if (!(flags & KF_XONLY)) {
            return perr(p, KURA_EDATA, "x-only public key outside tr() (BIP386)");
        }
        full[0] = 2;
        hex_to_bytes(full + 1, kt, kn);
        if (kura_pubkey_normalize(p->ctx, norm, full, 33) != KURA_OK) {
            return perr(p, KURA_EDATA, "x-only public key is not on the curve");
        }
        memcpy(k->pub, full + 1, 32);
        k->kind = KD_KEY_XONLY;
        k->pub_len = 32;
    } else if (kn >= 4 && kn <= KD_TOKEN_MAX &&
               (memcmp(kt, "xpub", 4) == 0 || memcmp(kt, "xprv", 4) == 0 ||
                memcmp(kt, "tpub", 4) == 0 || memcmp(kt, "tprv", 4) == 0)) {
        char buf[KD_TOKEN_MAX + 1];
        kura_error sub;
        int is_priv = kt[1] == 'p' && kt[2] == 'r';
        memcpy(buf, kt, kn);
        buf[kn] = '\0';
        kura_error_clear(&sub);
        rc = kura_bip32_parse(p->ctx, &k->xkey, buf, &sub);
        sodium_memzero(buf, sizeof(buf));
        if (rc != KURA_OK) {
            int code = rc == KURA_ENOMEM ? KURA_ENOMEM : KURA_EDATA;
            /* Do not echo text about a private key. */
            if (is_priv) return perr(p, code, "invalid extended private key");
            return perr(p, code, "invalid extended public key (%s)", sub.message);
        }
        k->kind = KD_KEY_BIP32;
        k->network = k->xkey.network;
        if (k->xkey.has_private) p->d->has_private = 1;
    } else if (kn > 0 && kn <= KD_TOKEN_MAX) {
        /* Anything else must be WIF. Neither the text nor the decoder's
         * message is repeated: it may be a mistyped private key. */
        char buf[KD_TOKEN_MAX + 1];
        int compressed = 0;
        memcpy(buf, kt, kn);
        buf[kn] = '\0';
        rc = kura_wif_decode(k->priv, &compressed, &k->network, buf, NULL);
        sodium_memzero(buf, sizeof(buf));
        if (rc != KURA_OK) {
            if (end < p->len && p->s[end] == '(') {
                return perr(p, KURA_EDATA, "expected a key expression, found a script expression");
            }
            return perr(p, KURA_EDATA,
                        "not a valid key expression (hex public key, WIF or extended key)");
        }
        k->kind = KD_KEY_WIF;
        k->wif_compressed = compressed != 0;
        p->d->has_private = 1;
        if (kura_pubkey_from_privkey(p->ctx, k->pub, k->priv) != KURA_OK) {
            return perr(p, KURA_EDATA, "WIF private key out of range");
        }
        k->pub_len = 33;
        if (!k->wif_compressed) {
            if (!(flags & KF_UNCOMPRESSED)) {
                return perr(p, KURA_EDATA,
                            "uncompressed private key not allowed here (BIP382/386)");
            }
            if (!uncompress(k->pub, k->pub)) return perr(p, KURA_ECRYPTO, "key decompression failed");
            k->pub_len = 65;
        }
    } else {
        return perr(p, KURA_EDATA, "not a valid key expression");
    }

    if (slash < n) {
        if (k->kind != KD_KEY_BIP32) {
            /* BIP380: derivation steps follow only xpub/xprv. */
            return perr(p, KURA_EDATA, "derivation steps after a key that is not an extended key");
        }
        rc = parse_derivation(p, k, t + slash, n - slash);
        if (rc != KURA_OK) return rc;
    }

    if (k->kind == KD_KEY_BIP32) {
        int any_hardened = k->wildcard == KD_WILD_HARDENED;
        for (size_t s = 0; s < k->n_steps; s++) {
            if (k->steps[s] & KURA_BIP32_HARDENED) any_hardened = 1;
        }
        for (size_t m = 0; m < k->mp_count; m++) {
            if (k->mp_values[m] & KURA_BIP32_HARDENED) any_hardened = 1;
        }
        /* BIP32: CKDpub exists only for non-hardened children. BIP380's key
         * expression syntax allows such steps, but no script can come of them. */
        if (p->key_syntax_only) {
            p->pos = end;
            return KURA_OK;
        }
        if (any_hardened && !k->xkey.has_private) {
            return perr(p, KURA_EDATA, "hardened derivation from an extended public key");
        }
        if (k->mp_count > 0) {
            /* BIP389: every tuple in the descriptor has the same length. */
            if (p->mp_len == 0) {
                p->mp_len = k->mp_count;
            } else if (p->mp_len != k->mp_count) {
                return perr(p, KURA_EDATA, "multipath steps of different lengths (BIP389)");
            }
        }
        /* BIP32 serialises depth in one byte: a path may not pass 255. */
        if ((size_t)k->xkey.depth + k->n_steps + (k->wildcard != KD_WILD_NONE) > 255) {
            return perr(p, KURA_EDATA, "derivation deeper than BIP32's 255 levels");
        }
        if (k->wildcard != KD_WILD_NONE) p->d->ranged = 1;
        rc = kura_bip32_fingerprint(k->own_fp, &k->xkey);
        if (rc != KURA_OK) return perr(p, KURA_ECRYPTO, "fingerprint failed");
        rc = compute_bases(p, k);
        if (rc != KURA_OK) return rc;
    } else {
        /* BIP174 practice: a key without origin is its own master, fingerprint
         * HASH160(key as serialised), x-only keys taken with an even prefix. */
        uint8_t h[20], full[33];
        if (k->kind == KD_KEY_XONLY) {
            full[0] = 2;
            memcpy(full + 1, k->pub, 32);
            rc = kura_hash160(h, full, 33);
        } else {
            rc = kura_hash160(h, k->pub, k->pub_len);
        }
        if (rc != KURA_OK) return perr(p, KURA_ECRYPTO, "hash failed");
        memcpy(k->own_fp, h, 4);
    }

    if (k->kind == KD_KEY_BIP32 || k->kind == KD_KEY_WIF) {
        p->d->networks &= network_bits(k->network);
    }
    p->pos = end;
    return KURA_OK;
}

/* The key expression starting at p->pos runs to the next , ) ( { } or end. */
static int parse_key_arg(kd_parser *p, unsigned flags)
{
    size_t end = p->pos;
    while (end < p->len) {
        char c = p->s[end];
        if (c == ',' || c == ')' || c == '(' || c == '{' || c == '}') break;
        end++;
    }
    return parse_key(p, p->pos, end, flags);
}

/* ---- script expressions ---- */

static int expect(kd_parser *p, char c)
{
    if (p->pos >= p->len || p->s[p->pos] != c) {
        return perr(p, KURA_EDATA, "expected '%c'", c);
    }
    p->pos++;
    return KURA_OK;
}

static const struct {
    const char *name;
    kd_kind kind;
} script_names[] = {
    {"pk", KD_PK},       {"pkh", KD_PKH},
    {"wpkh", KD_WPKH},   {"sh", KD_SH},
    {"wsh", KD_WSH},     {"multi", KD_MULTI},
    {"sortedmulti", KD_SORTEDMULTI}, {"multi_a", KD_MULTI_A},
    {"sortedmulti_a", KD_SORTEDMULTI_A}, {"combo", KD_COMBO},
    {"addr", KD_ADDR},   {"raw", KD_RAW},
    {"tr", KD_TR},
};

static const char *ctx_name(kd_ctx c)
{
    switch (c) {
    case CTX_TOP: return "at the top level";
    case CTX_SH: return "inside sh()";
    case CTX_WSH: return "inside wsh()";
    case CTX_SH_WSH: return "inside sh(wsh())";
    case CTX_TAP: return "inside tr()";
    }
    return "here";
}

/* Which contexts each script expression may appear in (BIP381-387). */
static int allowed(kd_kind kind, kd_ctx c)
{
    switch (kind) {
    case KD_PK: return 1;                                        /* BIP381, BIP386 */
    case KD_PKH: return c != CTX_TAP;                            /* BIP381 */
    case KD_WPKH: return c == CTX_TOP || c == CTX_SH;            /* BIP382 */
    case KD_SH: return c == CTX_TOP;                             /* BIP381 */
    case KD_WSH: return c == CTX_TOP || c == CTX_SH;             /* BIP382 */
    case KD_MULTI:
    case KD_SORTEDMULTI: return c != CTX_TAP;                    /* BIP383 */
    case KD_MULTI_A:
    case KD_SORTEDMULTI_A: return c == CTX_TAP;                  /* BIP387 */
    case KD_COMBO:                                               /* BIP384 */
    case KD_ADDR:
    case KD_RAW:                                                 /* BIP385 */
    case KD_TR: return c == CTX_TOP;                             /* BIP386 */
    }
    return 0;
}

/* Length of the minimal push of small number v (CScriptNum rules). */
static size_t push_int_len(uint32_t v)
{
    if (v <= 16) return 1;
    if (v <= 0x7f) return 2;
    if (v <= 0x7fff) return 3;
    return 4;
}

static int parse_threshold_list(kd_parser *p, kd_node *node, kd_ctx c, unsigned flags)
{
    size_t start = p->pos, n_keys = 0;
    uint32_t k = 0;
    int rc;
    while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
    if (!parse_decimal(p->s + start, p->pos - start, 100000, &k)) {
        p->pos = start;
        return perr(p, KURA_EDATA, "threshold must be a decimal number");
    }
    node->first_key = p->d->n_keys;
    while (p->pos < p->len && p->s[p->pos] == ',') {
        p->pos++;
        rc = parse_key_arg(p, flags);
        if (rc != KURA_OK) return rc;
        n_keys++;
    }
    node->n_keys = n_keys;
    node->threshold = k;
    if (n_keys == 0) return perr(p, KURA_EDATA, "multisig without keys");
    if (k == 0) return perr(p, KURA_EDATA, "threshold of 0");
    if (k > n_keys) return perr(p, KURA_EDATA, "threshold larger than the number of keys");
    if (node->kind == KD_MULTI_A || node->kind == KD_SORTEDMULTI_A) {
        if (n_keys > KD_MULTI_A_MAX) {
            return perr(p, KURA_EDATA, "multi_a() with more than %d keys (BIP387)",
                        KD_MULTI_A_MAX);
        }
        return KURA_OK;
    }
    /* BIP383 key limits. */
    if (n_keys > KD_MULTI_MAX) {
        return perr(p, KURA_EDATA, "multi() with more than %d keys (BIP383)", KD_MULTI_MAX);
    }
    if (c == CTX_TOP && n_keys > 3) {
        return perr(p, KURA_EDATA, "bare multi() with more than 3 keys (BIP383)");
    }
    if (c == CTX_SH) {
        size_t len = push_int_len(k) + push_int_len((uint32_t)n_keys) + 1;
        for (size_t i = 0; i < n_keys; i++) len += 1 + p->d->keys[node->first_key + i].pub_len;
        /* Extended keys are always compressed (33 bytes); pub_len is 0 for them. */
        for (size_t i = 0; i < n_keys; i++) {
            if (p->d->keys[node->first_key + i].kind == KD_KEY_BIP32) len += 33;
        }
        if (len > KD_P2SH_SCRIPT_MAX) {
            return perr(p, KURA_EDATA,
                        "multi() inside sh() over the 520-byte redeem script limit "
                        "(at most 15 compressed keys, BIP383)");
        }
    }
    return KURA_OK;
}

static int parse_script(kd_parser *p, kd_ctx c, kd_node **out);

static int parse_tree(kd_parser *p, unsigned depth, kd_tree **out, size_t *n_nodes)
{
    kd_tree *t;
    int rc;
    *out = NULL;
    if (depth > KURA_DESCRIPTOR_TAPROOT_DEPTH_MAX) {
        return perr(p, KURA_EDATA, "taproot tree deeper than %d (BIP341)",
                    KURA_DESCRIPTOR_TAPROOT_DEPTH_MAX);
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL) return perr(p, KURA_ENOMEM, "out of memory");
    *out = t;
    t->id = (*n_nodes)++;
    t->depth = depth;
    if (p->pos < p->len && p->s[p->pos] == '{') {
        /* BIP386 Tree Expression: "{" TREE "," TREE "}" */
        p->pos++;
        rc = parse_tree(p, depth + 1, &t->left, n_nodes);
        if (rc != KURA_OK) return rc;
        rc = expect(p, ',');
        if (rc != KURA_OK) return rc;
        rc = parse_tree(p, depth + 1, &t->right, n_nodes);
        if (rc != KURA_OK) return rc;
        return expect(p, '}');
    }
    rc = parse_script(p, CTX_TAP, &t->leaf);
    if (rc == KURA_OK) p->d->n_leaves++;
    return rc;
}

static int parse_addr(kd_parser *p, kd_node *node)
{
    static const kura_network nets[3] = {KURA_NETWORK_MAINNET, KURA_NETWORK_TESTNET,
                                         KURA_NETWORK_REGTEST};
    static const unsigned bits[3] = {KD_NET_MAINNET, KD_NET_TESTNET, KD_NET_REGTEST};
    size_t start = p->pos, n;
    char buf[KD_TOKEN_MAX + 1];
    uint8_t script[KURA_SCRIPT_PUBKEY_MAX];
    unsigned ok_bits = 0;
    while (p->pos < p->len && p->s[p->pos] != ')') p->pos++;
    n = p->pos - start;
    if (n == 0 || n > KD_TOKEN_MAX) {
        p->pos = start;
        return perr(p, KURA_EDATA, "invalid address");
    }
    memcpy(buf, p->s + start, n);
    buf[n] = '\0';
    /* BIP385 addr(): the address decides its network; remember which ones
     * accept it (Base58 testnet and regtest addresses look the same). */
    for (int i = 2; i >= 0; i--) {
        size_t written = 0;
        if (kura_address_to_script(script, sizeof(script), &written, buf, nets[i], NULL) ==
            KURA_OK) {
            ok_bits |= bits[i];
            node->addr_network = nets[i];
            free(node->script);
            node->script = kura_memdup(script, written);
            if (node->script == NULL) return perr(p, KURA_ENOMEM, "out of memory");
            node->script_len = written;
        }
    }
    if (ok_bits == 0) {
        p->pos = start;
        return perr(p, KURA_EDATA, "invalid address");
    }
    p->d->networks &= ok_bits;
    return KURA_OK;
}

static int parse_raw(kd_parser *p, kd_node *node)
{
    size_t start = p->pos, n;
    while (p->pos < p->len && p->s[p->pos] != ')') p->pos++;
    n = p->pos - start;
    if (n == 0 || n % 2 != 0 || !all_hex(p->s + start, n)) {
        p->pos = start;
        return perr(p, KURA_EDATA, "raw() needs a non-empty even-length hex script");
    }
    if (n / 2 > KD_RAW_MAX) {
        p->pos = start;
        return perr(p, KURA_ERANGE, "raw() script longer than %d bytes", KD_RAW_MAX);
    }
    node->script = malloc(n / 2);
    if (node->script == NULL) return perr(p, KURA_ENOMEM, "out of memory");
    hex_to_bytes(node->script, p->s + start, n);
    node->script_len = n / 2;
    return KURA_OK;
}

static int parse_script(kd_parser *p, kd_ctx c, kd_node **out)
{
    size_t start = p->pos, n;
    kd_node *node;
    kd_kind kind = (kd_kind)0;
    int rc = KURA_OK;
    unsigned key_flags = 0;

    *out = NULL;
    while (p->pos < p->len &&
           ((p->s[p->pos] >= 'a' && p->s[p->pos] <= 'z') || p->s[p->pos] == '_')) {
        p->pos++;
    }
    n = p->pos - start;
    if (n == 0 || p->pos >= p->len || p->s[p->pos] != '(') {
        p->pos = start;
        return perr(p, KURA_EDATA, "expected a script expression such as wpkh(...)");
    }
    for (size_t i = 0; i < sizeof(script_names) / sizeof(script_names[0]); i++) {
        if (strlen(script_names[i].name) == n && memcmp(script_names[i].name, p->s + start, n) == 0) {
            kind = script_names[i].kind;
        }
    }
    if (kind == 0) {
        p->pos = start;
        return perr(p, KURA_EDATA, "unknown script expression '%.*s'", (int)(n > 20 ? 20 : n),
                    p->s + start);
    }
    if (!allowed(kind, c)) {
        p->pos = start;
        return perr(p, KURA_EDATA, "%.*s() is not allowed %s", (int)n, p->s + start, ctx_name(c));
    }
    p->pos++; /* '(' */
    node = calloc(1, sizeof(*node));
    if (node == NULL) return perr(p, KURA_ENOMEM, "out of memory");
    *out = node;
    node->kind = kind;

    /* Key rules: uncompressed keys only in legacy (non-segwit, non-taproot)
     * scripts (BIP382, BIP386); x-only keys and the x-only script form
     * inside tr() (BIP386). */
    if ((c == CTX_TOP || c == CTX_SH) && kind != KD_WPKH && kind != KD_TR) {
        key_flags |= KF_UNCOMPRESSED;
    }
    if (c == CTX_TAP || kind == KD_TR) key_flags |= KF_XONLY;

    switch (kind) {
    case KD_PK:
    case KD_PKH:
    case KD_WPKH:
    case KD_COMBO:
        node->first_key = p->d->n_keys;
        node->n_keys = 1;
        rc = parse_key_arg(p, key_flags);
        break;
    case KD_SH: rc = parse_script(p, CTX_SH, &node->sub); break;
    case KD_WSH: rc = parse_script(p, c == CTX_SH ? CTX_SH_WSH : CTX_WSH, &node->sub); break;
    case KD_MULTI:
    case KD_SORTEDMULTI:
    case KD_MULTI_A:
    case KD_SORTEDMULTI_A: rc = parse_threshold_list(p, node, c, key_flags); break;
    case KD_ADDR: rc = parse_addr(p, node); break;
    case KD_RAW: rc = parse_raw(p, node); break;
    case KD_TR: {
        size_t n_nodes = 0;
        node->first_key = p->d->n_keys;
        node->n_keys = 1;
        rc = parse_key_arg(p, key_flags);
        if (rc == KURA_OK && p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            rc = parse_tree(p, 0, &node->tree, &n_nodes);
            p->d->n_tree_nodes = n_nodes;
        }
        break;
    }
    }
    if (rc != KURA_OK) return rc;
    return expect(p, ')');
}

/* ---- bounds for derivation buffers ---- */

static size_t script_bound(const kd_node *node)
{
    switch (node->kind) {
    case KD_PK: return 1 + 65 + 1;
    case KD_PKH: return 25;
    case KD_WPKH: return 22;
    case KD_SH: return 23;
    case KD_WSH: return 34;
    case KD_TR: return 34;
    case KD_COMBO: return 67;
    case KD_MULTI:
    case KD_SORTEDMULTI: return 4 + 1 + 66 * node->n_keys + 4;
    case KD_MULTI_A:
    case KD_SORTEDMULTI_A: return 34 * node->n_keys + 4 + 1;
    case KD_ADDR:
    case KD_RAW: return node->script_len;
    }
    return 0;
}

static void tree_bounds(const kd_tree *t, size_t *arena, size_t *longest)
{
    if (t->leaf != NULL) {
        size_t s = script_bound(t->leaf);
        *arena += s + 33 + 32 * (size_t)t->depth;
        if (s > *longest) *longest = s;
        return;
    }
    tree_bounds(t->left, arena, longest);
    tree_bounds(t->right, arena, longest);
}

static void compute_bounds(kura_descriptor *d)
{
    size_t arena = 64, longest = 0;
    const kd_node *n = d->root;
    /* Inputs are at most KURA_DESCRIPTOR_MAX_LEN characters and each key or
     * leaf takes several, so these sums stay far below SIZE_MAX. */
    if (n->kind == KD_COMBO) {
        arena += 67 + 25 + 22 + 23 + 22;
        longest = 67;
    } else if (n->kind == KD_TR) {
        arena += 34;
        longest = 34;
        if (n->tree != NULL) tree_bounds(n->tree, &arena, &longest);
    } else {
        for (; n != NULL; n = n->sub) {
            size_t s = script_bound(n);
            arena += s;
            if (s > longest) longest = s;
        }
    }
    d->arena_bound = arena;
    d->script_bound = longest;
}

/* ---- entry points ---- */

int kura_descriptor_parse(const kura_ctx *ctx, kura_descriptor **out, const char *str, size_t len,
                          kura_error *err)
{
    kd_parser p;
    kura_descriptor *d;
    const char *hash;
    size_t payload, bad = 0;
    char sum[8];
    int rc;

    if (out == NULL) return kura_fail(err, KURA_EINVAL, "descriptor: NULL output");
    *out = NULL;
    if (ctx == NULL || (str == NULL && len > 0)) {
        return kura_fail(err, KURA_EINVAL, "descriptor: NULL argument");
    }
    if (len > KURA_DESCRIPTOR_MAX_LEN) {
        return kura_fail(err, KURA_ERANGE, "descriptor: longer than %u characters",
                         KURA_DESCRIPTOR_MAX_LEN);
    }
    hash = len > 0 ? memchr(str, '#', len) : NULL;
    payload = hash != NULL ? (size_t)(hash - str) : len;
    /* BIP380 Character Set: every character must be in it (the checksum is
     * defined over it), whether or not a checksum is given. */
    if (!kd_checksum8(sum, str, payload, &bad)) {
        return kura_fail(err, KURA_EDATA,
                         "descriptor: offset %zu: character outside the descriptor character set "
                         "(BIP380)",
                         bad);
    }
    if (hash != NULL) {
        /* BIP380 Checksum: "#" and exactly 8 characters; optional, but when
         * present it must match. */
        if (len - payload - 1 != KURA_DESCRIPTOR_CHECKSUM_LEN) {
            return kura_fail(err, KURA_EDATA,
                             "descriptor: checksum must be exactly 8 characters (BIP380)");
        }
        if (memcmp(sum, hash + 1, KURA_DESCRIPTOR_CHECKSUM_LEN) != 0) {
            return kura_fail(err, KURA_EDATA, "descriptor: checksum mismatch (BIP380)");
        }
    }

    d = calloc(1, sizeof(*d));
    if (d == NULL) return kura_fail(err, KURA_ENOMEM, "descriptor: out of memory");
    d->networks = KD_NET_ANY;
    p.ctx = ctx;
    p.s = str;
    p.len = payload;
    p.pos = 0;
    p.d = d;
    p.err = err;
    p.mp_len = 0;
    p.key_syntax_only = 0;

    rc = parse_script(&p, CTX_TOP, &d->root);
    if (rc == KURA_OK && p.pos != payload) {
        rc = perr(&p, KURA_EDATA, "unexpected text after the descriptor");
    }
    if (rc == KURA_OK && d->networks == 0) {
        rc = kura_fail(err, KURA_EDATA, "descriptor: keys or addresses of different networks");
    }
    if (rc != KURA_OK) {
        kura_descriptor_free(d);
        return rc;
    }
    d->n_branches = p.mp_len > 0 ? p.mp_len : 1;
    compute_bounds(d);
    *out = d;
    return KURA_OK;
}

int kura_descriptor_key_check(const kura_ctx *ctx, const char *str, size_t len,
                              kura_descriptor_key_context context, kura_error *err)
{
    kd_parser p;
    kura_descriptor *d;
    unsigned flags;
    size_t bad = 0;
    char sum[8];
    int rc;

    if (ctx == NULL || (str == NULL && len > 0)) {
        return kura_fail(err, KURA_EINVAL, "descriptor: NULL argument");
    }
    switch (context) {
    case KURA_DESCRIPTOR_KEY_LEGACY: flags = KF_UNCOMPRESSED; break;
    case KURA_DESCRIPTOR_KEY_SEGWIT: flags = 0; break;
    case KURA_DESCRIPTOR_KEY_TAPROOT: flags = KF_XONLY; break;
    default: return kura_fail(err, KURA_EINVAL, "descriptor: unknown key context");
    }
    if (len > KURA_DESCRIPTOR_MAX_LEN) {
        return kura_fail(err, KURA_ERANGE, "descriptor: longer than %u characters",
                         KURA_DESCRIPTOR_MAX_LEN);
    }
    if (!kd_checksum8(sum, str, len, &bad)) {
        return kura_fail(err, KURA_EDATA,
                         "descriptor: offset %zu: character outside the descriptor character set "
                         "(BIP380)",
                         bad);
    }
    for (size_t i = 0; i < len; i++) {
        char c = str[i];
        if (c == ',' || c == '(' || c == ')' || c == '{' || c == '}' || c == '#') {
            return kura_fail(err, KURA_EDATA,
                             "descriptor: offset %zu: not a single key expression", i);
        }
    }
    d = calloc(1, sizeof(*d));
    if (d == NULL) return kura_fail(err, KURA_ENOMEM, "descriptor: out of memory");
    d->networks = KD_NET_ANY;
    p.ctx = ctx;
    p.s = str;
    p.len = len;
    p.pos = 0;
    p.d = d;
    p.err = err;
    p.mp_len = 0;
    p.key_syntax_only = 1;
    rc = parse_key(&p, 0, len, flags);
    kura_descriptor_free(d);
    return rc;
}

kura_descriptor_type kura_descriptor_get_type(const kura_descriptor *desc)
{
    switch (desc->root->kind) {
    case KD_PK: return KURA_DESCRIPTOR_PK;
    case KD_PKH: return KURA_DESCRIPTOR_PKH;
    case KD_WPKH: return KURA_DESCRIPTOR_WPKH;
    case KD_SH: return KURA_DESCRIPTOR_SH;
    case KD_WSH: return KURA_DESCRIPTOR_WSH;
    case KD_MULTI: return KURA_DESCRIPTOR_MULTI;
    case KD_SORTEDMULTI: return KURA_DESCRIPTOR_SORTEDMULTI;
    case KD_COMBO: return KURA_DESCRIPTOR_COMBO;
    case KD_ADDR: return KURA_DESCRIPTOR_ADDR;
    case KD_RAW: return KURA_DESCRIPTOR_RAW;
    default: return KURA_DESCRIPTOR_TR; /* multi_a never sits at the top */
    }
}

int kura_descriptor_is_ranged(const kura_descriptor *desc)
{
    return desc->ranged;
}

int kura_descriptor_has_private(const kura_descriptor *desc)
{
    return desc->has_private;
}

size_t kura_descriptor_multipath_count(const kura_descriptor *desc)
{
    return desc->n_branches;
}

int kura_descriptor_allows_network(const kura_descriptor *desc, kura_network network)
{
    unsigned bit;
    switch (network) {
    case KURA_NETWORK_MAINNET: bit = KD_NET_MAINNET; break;
    case KURA_NETWORK_TESTNET: bit = KD_NET_TESTNET; break;
    case KURA_NETWORK_REGTEST: bit = KD_NET_REGTEST; break;
    default: return 0;
    }
    return (desc->networks & bit) != 0;
}
