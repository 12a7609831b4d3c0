/* src/bsms/bsms.c — BIP129 (Bitcoin Secure Multisig Setup): key records,
 * descriptor records, and their encryption (kura/bsms.h).
 *
 * The threat is a coordinator that assembles the wallet and slips its own
 * key in for a cosigner's. So every key the wallet holds must come from a
 * key record signed by that very key, and a signer compares the descriptor's
 * keys with the records' keys themselves (fingerprint, path, the key and its
 * chain code), never with fingerprints alone, which anyone can copy. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <sodium.h>

#include "internal.h"
#include "keys/keys_internal.h"
#include "kura/bsms.h"
#include "kura/encoding.h"
#include "kura/hash.h"
#include "kura/script.h"

#define NUMS "50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0"
#define RESTRICTIONS "/0/*,/1/*"
#define SIG_B64_LEN 88 /* base64 of 65 bytes */
#define MAGIC "\x18" "Bitcoin Signed Message:\n"

/* ---- lines ---- */

/* Splits text[0..len) into exactly `want` LF-separated lines (one final LF
 * allowed). Refuses CR and NUL. */
static int split_lines(const char **line, size_t *line_len, size_t want, const char *text,
                       size_t len, const char *what, kura_error *err)
{
    size_t n = 0, start = 0;
    if (len > 0 && text[len - 1] == '\n') len--;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && (text[i] == '\r' || text[i] == '\0'))
            return kura_fail(err, KURA_EDATA, "bsms: %s: CR or NUL at byte %zu", what, i + 1);
        if (i < len && text[i] != '\n') continue;
        if (n == want)
            return kura_fail(err, KURA_EDATA, "bsms: %s: more than %zu lines", what, want);
        line[n] = text + start;
        line_len[n] = i - start;
        n++;
        start = i + 1;
    }
    if (n != want)
        return kura_fail(err, KURA_EDATA, "bsms: %s: %zu lines, expected %zu", what, n, want);
    return KURA_OK;
}

static int line_is(const char *l, size_t n, const char *s)
{
    return n == strlen(s) && memcmp(l, s, n) == 0;
}

/* ---- the key expression "[fingerprint/path]KEY" ---- */

typedef struct key_expr {
    uint8_t fingerprint[4];
    uint32_t path[KURA_BIP32_PATH_MAX];
    size_t path_len;
    int is_xpub;
    kura_bip32_key xpub;
    uint8_t pubkey[33];
} key_expr;

static int parse_key_expr(key_expr *k, const char *s, size_t n, const char *what, kura_error *err)
{
    char buf[KURA_BSMS_KEY_MAX + 1], *close;
    size_t got = 0;
    kura_error sub;
    memset(k, 0, sizeof(*k));
    if (n == 0 || n > KURA_BSMS_KEY_MAX)
        return kura_fail(err, KURA_EDATA, "bsms: %s: key missing or longer than %d", what,
                         KURA_BSMS_KEY_MAX);
    memcpy(buf, s, n);
    buf[n] = '\0';
    /* BIP129: the key with its origin, as descriptors write it. */
    if (buf[0] != '[' || n < 11 || buf[9] != '/' || (close = strchr(buf, ']')) == NULL)
        return kura_fail(err, KURA_EDATA,
                         "bsms: %s: key must be '[fingerprint/path]KEY' with its origin", what);
    buf[9] = '\0';
    if (kura_hex_decode(k->fingerprint, 4, &got, buf + 1, NULL) != KURA_OK || got != 4)
        return kura_fail(err, KURA_EDATA, "bsms: %s: fingerprint is not 8 hex digits", what);
    *close = '\0';
    if (kura_bip32_path_parse(k->path, KURA_BIP32_PATH_MAX, &k->path_len, buf + 10, &sub) !=
        KURA_OK)
        return kura_fail(err, KURA_EDATA, "bsms: %s: path: %s", what, sub.message);
    close++;
    if (strncmp(close, "xpub", 4) == 0 || strncmp(close, "tpub", 4) == 0) {
        if (kura_bip32_parse(NULL, &k->xpub, close, &sub) != KURA_OK)
            return kura_fail(err, KURA_EDATA, "bsms: %s: %s", what, sub.message);
        k->is_xpub = 1;
        memcpy(k->pubkey, k->xpub.pub, 33);
    } else {
        secp256k1_pubkey pk;
        if (strlen(close) != 66 ||
            kura_hex_decode(k->pubkey, 33, &got, close, NULL) != KURA_OK || got != 33 ||
            (k->pubkey[0] != 0x02 && k->pubkey[0] != 0x03) ||
            !secp256k1_ec_pubkey_parse(secp256k1_context_static, &pk, k->pubkey, 33))
            return kura_fail(err, KURA_EDATA,
                             "bsms: %s: KEY is neither an xpub/tpub nor a compressed public key",
                             what);
    }
    return KURA_OK;
}

/* The same key: origin and key (an xpub's chain code too). */
static int same_key(const key_expr *a, const kura_bsms_key_record *r)
{
    if (memcmp(a->fingerprint, r->fingerprint, 4) != 0 || a->path_len != r->path_len ||
        (a->path_len > 0 && memcmp(a->path, r->path, a->path_len * sizeof(uint32_t)) != 0) ||
        a->is_xpub != r->is_xpub || memcmp(a->pubkey, r->pubkey, 33) != 0)
        return 0;
    return !a->is_xpub || (memcmp(a->xpub.chain_code, r->xpub.chain_code, 32) == 0 &&
                           a->xpub.depth == r->xpub.depth);
}

/* ---- signed messages (the legacy format BIP129 accepts) ---- */

static void message_hash(uint8_t out[32], const char *msg, size_t len)
{
    crypto_hash_sha256_state st;
    uint8_t first[32], cs[3];
    size_t cs_len;
    if (len < 253) {
        cs[0] = (uint8_t)len;
        cs_len = 1;
    } else { /* records are under 64 KiB */
        cs[0] = 0xfd;
        cs[1] = (uint8_t)len;
        cs[2] = (uint8_t)(len >> 8);
        cs_len = 3;
    }
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)MAGIC, sizeof(MAGIC) - 1);
    crypto_hash_sha256_update(&st, cs, cs_len);
    crypto_hash_sha256_update(&st, (const uint8_t *)msg, len);
    crypto_hash_sha256_final(&st, first);
    kura_sha256(out, first, 32);
}

/* 1 when sig (65 bytes: header, r, s) is by the compressed key pub over hash. */
static int signed_by(const uint8_t sig[65], const uint8_t hash[32], const uint8_t pub[33])
{
    secp256k1_ecdsa_recoverable_signature rs;
    secp256k1_pubkey pk;
    uint8_t got[33];
    size_t got_len = 33;
    int h = sig[0];
    /* 31..34: compressed P2PKH; 35..42: the segwit headers some wallets
     * write (BIP137). 27..30 would be an uncompressed key, never a BIP32
     * one. */
    if (h < 31 || h > 42) return 0;
    if (!secp256k1_ecdsa_recoverable_signature_parse_compact(secp256k1_context_static, &rs,
                                                             sig + 1, (h - 31) & 3) ||
        !secp256k1_ecdsa_recover(secp256k1_context_static, &pk, &rs, hash) ||
        !secp256k1_ec_pubkey_serialize(secp256k1_context_static, got, &got_len, &pk,
                                       SECP256K1_EC_COMPRESSED))
        return 0;
    return memcmp(got, pub, 33) == 0;
}

/* ---- key records ---- */

static int printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e) return 0;
    return 1;
}

static int parse_token(uint8_t *out, size_t *out_len, const char *s, size_t n)
{
    char buf[2 * KURA_BSMS_TOKEN_MAX + 1];
    size_t got = 0;
    *out_len = 0;
    if (n != 2 && n != 16 && n != 32) return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (kura_hex_decode(out, KURA_BSMS_TOKEN_MAX, &got, buf, NULL) != KURA_OK) return 0;
    if (n == 2 && out[0] != 0) return 0; /* "00": no encryption */
    *out_len = got;
    return 1;
}

int kura_bsms_key_record_parse(kura_bsms_key_record *out, const char *text, size_t len,
                               kura_error *err)
{
    const char *line[5];
    size_t n[5], got = 0;
    uint8_t sig[65], hash[32];
    char b64[SIG_B64_LEN + 1];
    key_expr k;
    int rc;
    if (out != NULL) memset(out, 0, sizeof(*out));
    if (out == NULL || (text == NULL && len > 0))
        return kura_fail(err, KURA_EINVAL, "bsms: NULL argument");
    if (len > KURA_BSMS_RECORD_MAX)
        return kura_fail(err, KURA_ERANGE, "bsms: key record over %d bytes", KURA_BSMS_RECORD_MAX);
    rc = split_lines(line, n, 5, text, len, "key record", err);
    if (rc != KURA_OK) return rc;
    if (!line_is(line[0], n[0], KURA_BSMS_VERSION))
        return kura_fail(err, KURA_EDATA, "bsms: key record: line 1 is not '%s'",
                         KURA_BSMS_VERSION);
    if (!parse_token(out->token, &out->token_len, line[1], n[1]))
        return kura_fail(err, KURA_EDATA,
                         "bsms: key record: line 2 is not a token (00, 16 or 32 hex digits)");
    rc = parse_key_expr(&k, line[2], n[2], "key record: line 3", err);
    if (rc != KURA_OK) return rc;
    if (n[3] > KURA_BSMS_DESCRIPTION_MAX || !printable(line[3], n[3]))
        return kura_fail(err, KURA_EDATA,
                         "bsms: key record: line 4 (description) is not up to %d printable "
                         "characters",
                         KURA_BSMS_DESCRIPTION_MAX);
    if (n[4] != SIG_B64_LEN)
        return kura_fail(err, KURA_EDATA, "bsms: key record: line 5 is not a 65-byte signature");
    memcpy(b64, line[4], SIG_B64_LEN);
    b64[SIG_B64_LEN] = '\0';
    if (sodium_base642bin(sig, sizeof(sig), b64, SIG_B64_LEN, NULL, &got, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got != 65)
        return kura_fail(err, KURA_EDATA, "bsms: key record: line 5 is not base64 of 65 bytes");
    /* BIP129: the signature covers the first four lines. */
    message_hash(hash, text, (size_t)(line[3] + n[3] - text));
    if (!signed_by(sig, hash, k.pubkey))
        return kura_fail(err, KURA_BSMS_EBADSIG,
                         "bsms: key record: the signature is not by its key over its first four "
                         "lines (a changed or substituted record)");
    memcpy(out->key, line[2], n[2]);
    memcpy(out->description, line[3], n[3]);
    memcpy(out->fingerprint, k.fingerprint, 4);
    memcpy(out->path, k.path, sizeof(k.path));
    out->path_len = k.path_len;
    out->is_xpub = k.is_xpub;
    out->xpub = k.xpub;
    memcpy(out->pubkey, k.pubkey, 33);
    return KURA_OK;
}

/* "48'/0'/0'/2'" into out. */
static void path_text(char *out, size_t out_len, const uint32_t *path, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used + 1 < out_len; i++) {
        int w = snprintf(out + used, out_len - used, "%s%" PRIu32 "%s", i > 0 ? "/" : "",
                         path[i] & 0x7fffffffu, (path[i] & 0x80000000u) ? "'" : "");
        if (w < 0) break;
        used += (size_t)w;
    }
}

int kura_bsms_key_record_write(const kura_ctx *ctx, char **out, size_t *out_len,
                               const uint8_t *token, size_t token_len,
                               const kura_bip32_key *key, const uint8_t fingerprint[4],
                               const uint32_t *path, size_t path_len, const char *description,
                               kura_error *err)
{
    char xpub[KURA_BIP32_SERIALIZED_LEN], pt[KURA_BIP32_PATH_MAX * 12 + 1], tok[33], fp[9];
    char b64[SIG_B64_LEN + 1], *text;
    const char *desc = description != NULL ? description : "";
    secp256k1_ecdsa_recoverable_signature rs;
    uint8_t hash[32], sig[65];
    size_t cap, body;
    int recid = 0, n;
    if (out != NULL) *out = NULL;
    if (out_len != NULL) *out_len = 0;
    if (ctx == NULL || out == NULL || out_len == NULL || token == NULL || key == NULL ||
        fingerprint == NULL || (path == NULL && path_len > 0) || path_len > KURA_BIP32_PATH_MAX ||
        !key->has_private || (token_len != 1 && token_len != 8 && token_len != 16) ||
        (token_len == 1 && token[0] != 0) || strlen(desc) > KURA_BSMS_DESCRIPTION_MAX ||
        !printable(desc, strlen(desc)))
        return kura_fail(err, KURA_EINVAL, "bsms: bad arguments for a key record");
    if (kura_bip32_serialize(xpub, sizeof(xpub), key, 0) != KURA_OK)
        return kura_fail(err, KURA_EINVAL, "bsms: the key cannot be serialized");
    path_text(pt, sizeof(pt), path, path_len);
    (void)kura_hex_encode(tok, sizeof(tok), token, token_len);
    (void)kura_hex_encode(fp, sizeof(fp), fingerprint, 4);
    cap = 64 + strlen(tok) + strlen(pt) + strlen(xpub) + strlen(desc) + SIG_B64_LEN;
    text = malloc(cap);
    if (text == NULL) return kura_fail(err, KURA_ENOMEM, "bsms: out of memory");
    n = snprintf(text, cap, KURA_BSMS_VERSION "\n%s\n[%s%s%s]%s\n%s", tok, fp,
                 path_len > 0 ? "/" : "", pt, xpub, desc);
    if (n < 0 || (size_t)n >= cap) {
        free(text);
        return kura_fail(err, KURA_EINVAL, "bsms: key record too long");
    }
    body = (size_t)n;
    message_hash(hash, text, body);
    if (!secp256k1_ecdsa_sign_recoverable(kura_ctx_secp(ctx), &rs, hash, key->priv, NULL, NULL) ||
        !secp256k1_ecdsa_recoverable_signature_serialize_compact(secp256k1_context_static,
                                                                 sig + 1, &recid, &rs)) {
        free(text);
        return kura_fail(err, KURA_ECRYPTO, "bsms: signing failed");
    }
    sig[0] = (uint8_t)(31 + recid); /* compressed key, legacy header */
    sodium_bin2base64(b64, sizeof(b64), sig, 65, sodium_base64_VARIANT_ORIGINAL);
    snprintf(text + body, cap - body, "\n%s\n", b64);
    *out = text;
    *out_len = strlen(text);
    return KURA_OK;
}

/* ---- descriptor records ---- */

/* The descriptor of `kind` over keys[0..n) (each as written), each followed
 * by `suffix`, into a new string. */
static char *expand(kura_bsms_kind kind, unsigned m, const char *const *keys,
                    const size_t *key_lens, size_t n, const char *suffix)
{
    size_t cap = 64 + sizeof(NUMS), used;
    char *s;
    for (size_t i = 0; i < n; i++) cap += key_lens[i] + strlen(suffix) + 1;
    s = malloc(cap);
    if (s == NULL) return NULL;
    used = (size_t)snprintf(s, cap, kind == KURA_BSMS_WSH_SORTEDMULTI ? "wsh(sortedmulti(%u"
                                                                      : "tr(" NUMS
                                                                        ",sortedmulti_a(%u",
                            m);
    for (size_t i = 0; i < n; i++) {
        s[used++] = ',';
        memcpy(s + used, keys[i], key_lens[i]);
        used += key_lens[i];
        memcpy(s + used, suffix, strlen(suffix));
        used += strlen(suffix);
    }
    memcpy(s + used, "))", 3);
    return s;
}

/* The first address (branch 0, index 0) of the descriptor text on network. */
static int first_address(const kura_ctx *ctx, char out[KURA_ADDRESS_MAX], const char *desc_text,
                         kura_network network, kura_descriptor **keep, kura_error *err)
{
    kura_descriptor *d = NULL;
    kura_error sub;
    int rc = kura_descriptor_parse(ctx, &d, desc_text, strlen(desc_text), &sub);
    if (rc == KURA_ENOMEM) return kura_fail(err, rc, "bsms: out of memory");
    if (rc != KURA_OK) return kura_fail(err, KURA_EDATA, "bsms: descriptor: %s", sub.message);
    rc = kura_descriptor_address(ctx, out, KURA_ADDRESS_MAX, d, 0, 0, network, &sub);
    if (rc != KURA_OK) {
        kura_descriptor_free(d);
        return kura_fail(err, rc == KURA_ENOMEM ? rc : KURA_EDATA, "bsms: descriptor: %s",
                         sub.message);
    }
    if (keep != NULL)
        *keep = d;
    else
        kura_descriptor_free(d);
    return KURA_OK;
}

int kura_bsms_descriptor_record_write(const kura_ctx *ctx, char **out, size_t *out_len,
                                      const kura_bsms_key_record *records, size_t n, unsigned m,
                                      kura_bsms_kind kind, kura_network network, kura_error *err)
{
    const char *keys[KURA_BSMS_SIGNERS_MAX];
    size_t lens[KURA_BSMS_SIGNERS_MAX], cap;
    char addr[KURA_ADDRESS_MAX], *tmpl = NULL, *concrete = NULL, *text;
    int rc;
    if (out != NULL) *out = NULL;
    if (out_len != NULL) *out_len = 0;
    if (ctx == NULL || out == NULL || out_len == NULL || records == NULL ||
        (kind != KURA_BSMS_WSH_SORTEDMULTI && kind != KURA_BSMS_TR_SORTEDMULTI_A))
        return kura_fail(err, KURA_EINVAL, "bsms: NULL argument");
    if (n == 0 || n > KURA_BSMS_SIGNERS_MAX || m < 1 || m > n)
        return kura_fail(err, KURA_EDATA, "bsms: %u of %zu keys: need 1 <= M <= N <= %d", m, n,
                         KURA_BSMS_SIGNERS_MAX);
    for (size_t i = 0; i < n; i++) {
        if (!records[i].is_xpub)
            return kura_fail(err, KURA_EDATA,
                             "bsms: key record %zu holds a plain key; a wallet needs xpubs", i + 1);
        for (size_t j = 0; j < i; j++)
            if (memcmp(records[i].pubkey, records[j].pubkey, 33) == 0)
                return kura_fail(err, KURA_EDATA, "bsms: key records %zu and %zu hold one key",
                                 j + 1, i + 1);
        keys[i] = records[i].key;
        lens[i] = strlen(records[i].key);
    }
    tmpl = expand(kind, m, keys, lens, n, "/**");
    concrete = expand(kind, m, keys, lens, n, "/0/*");
    if (tmpl == NULL || concrete == NULL) {
        free(tmpl);
        free(concrete);
        return kura_fail(err, KURA_ENOMEM, "bsms: out of memory");
    }
    rc = first_address(ctx, addr, concrete, network, NULL, err);
    free(concrete);
    if (rc != KURA_OK) {
        free(tmpl);
        return rc;
    }
    cap = strlen(tmpl) + strlen(addr) + 64;
    text = malloc(cap);
    if (text == NULL) {
        free(tmpl);
        return kura_fail(err, KURA_ENOMEM, "bsms: out of memory");
    }
    snprintf(text, cap, KURA_BSMS_VERSION "\n%s\n" RESTRICTIONS "\n%s\n", tmpl, addr);
    free(tmpl);
    *out = text;
    *out_len = strlen(text);
    return KURA_OK;
}

int kura_bsms_descriptor_record_verify(const kura_ctx *ctx, kura_descriptor **wallet,
                                       unsigned *m_out, kura_bsms_kind *kind_out,
                                       const char *text, size_t len,
                                       const kura_bsms_key_record *records, size_t n,
                                       kura_network network, kura_error *err)
{
    const char *line[4], *p, *end, *keys[KURA_BSMS_SIGNERS_MAX];
    size_t ln[4], lens[KURA_BSMS_SIGNERS_MAX], nkeys = 0;
    int matched[KURA_BSMS_SIGNERS_MAX];
    char addr[KURA_ADDRESS_MAX], *concrete;
    kura_bsms_kind kind;
    unsigned m = 0;
    kura_descriptor *d = NULL;
    int rc;
    if (wallet != NULL) *wallet = NULL;
    if (m_out != NULL) *m_out = 0;
    if (kind_out != NULL) *kind_out = KURA_BSMS_WSH_SORTEDMULTI;
    if (ctx == NULL || wallet == NULL || (text == NULL && len > 0) ||
        (records == NULL && n > 0))
        return kura_fail(err, KURA_EINVAL, "bsms: NULL argument");
    if (len > KURA_BSMS_RECORD_MAX)
        return kura_fail(err, KURA_ERANGE, "bsms: descriptor record over %d bytes",
                         KURA_BSMS_RECORD_MAX);
    rc = split_lines(line, ln, 4, text, len, "descriptor record", err);
    if (rc != KURA_OK) return rc;
    if (!line_is(line[0], ln[0], KURA_BSMS_VERSION))
        return kura_fail(err, KURA_EDATA, "bsms: descriptor record: line 1 is not '%s'",
                         KURA_BSMS_VERSION);
    /* The template: one of kura's kinds, "M," then the keys, each with the
     * template marker (slash, two stars) after it. */
    p = line[1];
    end = line[1] + ln[1];
    if ((size_t)(end - p) > 16 && memcmp(p, "wsh(sortedmulti(", 16) == 0) {
        kind = KURA_BSMS_WSH_SORTEDMULTI;
        p += 16;
    } else if ((size_t)(end - p) > sizeof("tr(" NUMS ",sortedmulti_a(") - 1 &&
               memcmp(p, "tr(" NUMS ",sortedmulti_a(", sizeof("tr(" NUMS ",sortedmulti_a(") - 1) ==
                   0) {
        kind = KURA_BSMS_TR_SORTEDMULTI_A;
        p += sizeof("tr(" NUMS ",sortedmulti_a(") - 1;
    } else {
        return kura_fail(err, KURA_EDATA,
                         "bsms: descriptor record: line 2 is not wsh(sortedmulti(...)) or "
                         "tr(NUMS,sortedmulti_a(...)) over KEY/** templates");
    }
    if (end - p < 2 || memcmp(end - 2, "))", 2) != 0)
        return kura_fail(err, KURA_EDATA, "bsms: descriptor record: line 2 does not end '))'");
    end -= 2;
    while (p < end && *p >= '0' && *p <= '9' && m <= 100) m = m * 10 + (unsigned)(*p++ - '0');
    if (m == 0 || p >= end || *p != ',')
        return kura_fail(err, KURA_EDATA, "bsms: descriptor record: no threshold M");
    while (p < end) {
        const char *item = ++p, *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma != NULL ? comma : end;
        if (nkeys == KURA_BSMS_SIGNERS_MAX)
            return kura_fail(err, KURA_EDATA, "bsms: descriptor record: more than %d keys",
                             KURA_BSMS_SIGNERS_MAX);
        if (stop - item < 4 || memcmp(stop - 3, "/**", 3) != 0)
            return kura_fail(err, KURA_EDATA,
                             "bsms: descriptor record: key %zu is not a KEY/** template", nkeys + 1);
        keys[nkeys] = item;
        lens[nkeys] = (size_t)(stop - 3 - item);
        nkeys++;
        p = stop;
    }
    if (m > nkeys)
        return kura_fail(err, KURA_EDATA, "bsms: descriptor record: %u of %zu keys", m, nkeys);
    /* Exactly the signers' keys: as many, each record's key once, by the
     * key itself. A key in no record is the coordinator's own. */
    if (nkeys != n)
        return kura_fail(err, KURA_EDATA,
                         "bsms: descriptor record: %zu keys, but %zu signers' key records", nkeys,
                         n);
    memset(matched, 0, sizeof(matched));
    for (size_t i = 0; i < nkeys; i++) {
        key_expr k;
        size_t j;
        char what[48];
        snprintf(what, sizeof(what), "descriptor record: key %zu", i + 1);
        rc = parse_key_expr(&k, keys[i], lens[i], what, err);
        if (rc != KURA_OK) return rc;
        if (!k.is_xpub)
            return kura_fail(err, KURA_EDATA, "bsms: descriptor record: key %zu is not an xpub",
                             i + 1);
        for (j = 0; j < n; j++)
            if (!matched[j] && same_key(&k, &records[j])) break;
        if (j == n)
            return kura_fail(err, KURA_EDATA,
                             "bsms: descriptor record: key %zu of the descriptor is not any "
                             "signer's key record (or repeats one)",
                             i + 1);
        matched[j] = 1;
    }
    if (!line_is(line[2], ln[2], RESTRICTIONS))
        return kura_fail(err, KURA_EDATA,
                         "bsms: descriptor record: line 3 must be the restrictions " RESTRICTIONS
                         " (receive and change)");
    concrete = expand(kind, m, keys, lens, nkeys, "/0/*");
    if (concrete == NULL) return kura_fail(err, KURA_ENOMEM, "bsms: out of memory");
    rc = first_address(ctx, addr, concrete, network, NULL, err);
    free(concrete);
    if (rc != KURA_OK) return rc;
    if (!line_is(line[3], ln[3], addr))
        return kura_fail(err, KURA_EDATA,
                         "bsms: descriptor record: the first address is not the wallet's (%s)",
                         addr);
    concrete = expand(kind, m, keys, lens, nkeys, "/<0;1>/*");
    if (concrete == NULL) return kura_fail(err, KURA_ENOMEM, "bsms: out of memory");
    rc = first_address(ctx, addr, concrete, network, &d, err);
    free(concrete);
    if (rc != KURA_OK) return rc;
    *wallet = d;
    if (m_out != NULL) *m_out = m;
    if (kind_out != NULL) *kind_out = kind;
    return KURA_OK;
}

/* ---- encryption (BIP129 "Encryption") ---- */

static int derive_keys(uint8_t dkey[32], uint8_t hmac_key[32], const uint8_t *token,
                       size_t token_len)
{
    if (PKCS5_PBKDF2_HMAC("No SPOF", 7, token, (int)token_len, 2048, EVP_sha512(), 32, dkey) != 1)
        return KURA_ECRYPTO;
    kura_sha256(hmac_key, dkey, 32);
    return KURA_OK;
}

static void mac_of(uint8_t mac[32], const uint8_t hmac_key[32], const uint8_t *token,
                   size_t token_len, const uint8_t *data, size_t len)
{
    crypto_auth_hmacsha256_state st;
    char hex[2 * KURA_BSMS_TOKEN_MAX + 1];
    (void)kura_hex_encode(hex, sizeof(hex), token, token_len);
    crypto_auth_hmacsha256_init(&st, hmac_key, 32);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)hex, strlen(hex));
    crypto_auth_hmacsha256_update(&st, data, len);
    crypto_auth_hmacsha256_final(&st, mac);
}

static int ctr(uint8_t *out, const uint8_t *in, size_t len, const uint8_t key[32],
               const uint8_t iv[16])
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0, ok;
    if (c == NULL) return KURA_ENOMEM;
    ok = len <= (size_t)INT32_MAX && EVP_EncryptInit_ex(c, EVP_aes_256_ctr(), NULL, key, iv) == 1 &&
         EVP_EncryptUpdate(c, out, &n, in, (int)len) == 1 &&
         EVP_EncryptFinal_ex(c, out + n, &fin) == 1 && (size_t)(n + fin) == len;
    EVP_CIPHER_CTX_free(c);
    return ok ? KURA_OK : KURA_ECRYPTO;
}

int kura_bsms_encrypt(char **out, size_t *out_len, const uint8_t *token, size_t token_len,
                      const uint8_t *plaintext, size_t len)
{
    uint8_t dkey[32], hk[32], mac[32], *ct;
    char *hex;
    int rc;
    if (out != NULL) *out = NULL;
    if (out_len != NULL) *out_len = 0;
    if (out == NULL || out_len == NULL || token == NULL || (token_len != 8 && token_len != 16) ||
        (plaintext == NULL && len > 0) || len > KURA_BSMS_RECORD_MAX)
        return KURA_EINVAL;
    if ((rc = derive_keys(dkey, hk, token, token_len)) != KURA_OK) return rc;
    mac_of(mac, hk, token, token_len, plaintext, len);
    ct = malloc(32 + len + 1);
    hex = malloc(2 * (32 + len) + 1);
    if (ct == NULL || hex == NULL) {
        free(ct);
        free(hex);
        sodium_memzero(dkey, sizeof(dkey));
        return KURA_ENOMEM;
    }
    memcpy(ct, mac, 32);
    rc = ctr(ct + 32, plaintext, len, dkey, mac);
    sodium_memzero(dkey, sizeof(dkey));
    sodium_memzero(hk, sizeof(hk));
    if (rc == KURA_OK) (void)kura_hex_encode(hex, 2 * (32 + len) + 1, ct, 32 + len);
    free(ct);
    if (rc != KURA_OK) {
        free(hex);
        return rc;
    }
    *out = hex;
    *out_len = 2 * (32 + len);
    return KURA_OK;
}

int kura_bsms_decrypt(char **out, size_t *out_len, const uint8_t *token, size_t token_len,
                      const char *hex, size_t hex_len, kura_error *err)
{
    uint8_t dkey[32], hk[32], mac[32], *bytes;
    char *plain, *copy;
    size_t n = 0;
    int rc;
    if (out != NULL) *out = NULL;
    if (out_len != NULL) *out_len = 0;
    if (out == NULL || out_len == NULL || token == NULL || (token_len != 8 && token_len != 16) ||
        (hex == NULL && hex_len > 0))
        return kura_fail(err, KURA_EINVAL, "bsms: bad arguments");
    while (hex_len > 0 && (hex[hex_len - 1] == '\n' || hex[hex_len - 1] == ' ')) hex_len--;
    if (hex_len % 2 != 0 || hex_len < 2 * 32 || hex_len > 2 * (32 + KURA_BSMS_RECORD_MAX))
        return kura_fail(err, KURA_EDATA, "bsms: encrypted record: not MAC || ciphertext in hex");
    copy = malloc(hex_len + 1);
    bytes = malloc(hex_len / 2 + 1);
    plain = malloc(hex_len / 2 + 1);
    if (copy == NULL || bytes == NULL || plain == NULL) {
        free(copy);
        free(bytes);
        free(plain);
        return kura_fail(err, KURA_ENOMEM, "bsms: out of memory");
    }
    memcpy(copy, hex, hex_len);
    copy[hex_len] = '\0';
    rc = kura_hex_decode(bytes, hex_len / 2, &n, copy, NULL);
    free(copy);
    if (rc != KURA_OK || n != hex_len / 2) {
        free(bytes);
        free(plain);
        return kura_fail(err, KURA_EDATA, "bsms: encrypted record: bad hex");
    }
    rc = derive_keys(dkey, hk, token, token_len);
    if (rc == KURA_OK) rc = ctr((uint8_t *)plain, bytes + 32, n - 32, dkey, bytes);
    if (rc == KURA_OK) mac_of(mac, hk, token, token_len, (const uint8_t *)plain, n - 32);
    sodium_memzero(dkey, sizeof(dkey));
    sodium_memzero(hk, sizeof(hk));
    if (rc != KURA_OK) {
        free(bytes);
        free(plain);
        return kura_fail(err, rc, "bsms: decryption failed");
    }
    if (sodium_memcmp(mac, bytes, 32) != 0) {
        free(bytes);
        sodium_memzero(plain, n - 32);
        free(plain);
        return kura_fail(err, KURA_EDATA,
                         "bsms: encrypted record: the MAC does not match (wrong token, or the "
                         "record was changed)");
    }
    plain[n - 32] = '\0';
    free(bytes);
    *out = plain;
    *out_len = n - 32;
    return KURA_OK;
}
