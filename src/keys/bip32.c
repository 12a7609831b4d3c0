/*
 * src/keys/bip32.c — BIP32 hierarchical deterministic keys: master key from a
 * seed, child key derivation (CKDpriv, CKDpub), the 78-byte serialization in
 * Base58Check, and textual paths.
 *
 * Derivation is on the hot path (a wallet scans thousands of addresses from an
 * xpub), so a public step is one HMAC-SHA512, one pubkey parse, one
 * secp256k1_ec_pubkey_tweak_add and one serialize, all on the stack.
 */
#include <stdio.h>
#include <string.h>

#include <secp256k1.h>
#include <sodium.h>

#include "internal.h"
#include "keys_internal.h"
#include "kura/encoding.h"
#include "kura/hash.h"

/* BIP32 "Serialization format": version bytes. Testnet (and, by convention,
 * signet and regtest) use tpub/tprv. */
#define VERSION_XPUB 0x0488B21Eu
#define VERSION_XPRV 0x0488ADE4u
#define VERSION_TPUB 0x043587CFu
#define VERSION_TPRV 0x04358394u
#define SERIALIZED_BYTES 78

int kura_bip32_from_seed(const kura_ctx *ctx, kura_bip32_key *out, const uint8_t *seed,
                         size_t seed_len, kura_network network)
{
    static const char key[] = "Bitcoin seed";
    uint8_t I[64];
    secp256k1_pubkey pk;
    size_t len = 33;
    int rc = KURA_ECRYPTO;

    if (out == NULL) return KURA_EINVAL;
    kura_bip32_wipe(out);
    /* BIP32 "Master key generation": seed of 128 to 512 bits. */
    if (ctx == NULL || seed == NULL || seed_len < 16 || seed_len > 64) return KURA_EINVAL;
    if (network != KURA_NETWORK_MAINNET && network != KURA_NETWORK_TESTNET &&
        network != KURA_NETWORK_REGTEST)
        return KURA_EINVAL;

    kura_hmac_sha512(I, (const uint8_t *)key, sizeof(key) - 1, seed, seed_len);
    /* IL is the master secret key, IR the master chain code; an IL of 0 or
     * >= n makes the master key invalid. */
    if (secp256k1_ec_seckey_verify(ctx->secp, I) && secp256k1_ec_pubkey_create(ctx->secp, &pk, I) &&
        secp256k1_ec_pubkey_serialize(ctx->secp, out->pub, &len, &pk, SECP256K1_EC_COMPRESSED)) {
        memcpy(out->priv, I, 32);
        memcpy(out->chain_code, I + 32, 32);
        out->network = network;
        out->has_private = 1;
        rc = KURA_OK;
    } else {
        kura_bip32_wipe(out);
    }
    sodium_memzero(I, sizeof(I));
    return rc;
}

int kura_bip32_i_ckd_priv_keyed(const kura_ctx *ctx, uint8_t child_priv[32],
                                uint8_t child_chain[32], const uint8_t parent_priv[32],
                                const crypto_auth_hmacsha512_state *keyed,
                                const uint8_t *parent_pub, uint32_t index)
{
    crypto_auth_hmacsha512_state st;
    uint8_t data[37], I[64];
    int hardened = (index & KURA_BIP32_HARDENED) != 0;
    int rc = KURA_ECRYPTO;

    if (!hardened && parent_pub == NULL) {
        sodium_memzero(child_priv, 32);
        sodium_memzero(child_chain, 32);
        return KURA_EINVAL;
    }
    /* BIP32 "Child key derivation (CKD) functions": hardened children hash
     * 0x00 || ser256(k_par), normal ones serP(K_par); both then ser32(i). */
    if (hardened) {
        data[0] = 0x00;
        memcpy(data + 1, parent_priv, 32);
    } else {
        memcpy(data, parent_pub, 33);
    }
    kura_store_u32be(data + 33, index);
    st = *keyed;
    crypto_auth_hmacsha512_update(&st, data, sizeof(data));
    crypto_auth_hmacsha512_final(&st, I);
    /* k_i = parse256(IL) + k_par (mod n); tweak_add fails when IL >= n or
     * k_i = 0, the cases BIP32 declares invalid. The chain code is written
     * last, since child_chain may be the parent's. */
    if (child_priv != parent_priv) memcpy(child_priv, parent_priv, 32);
    if (secp256k1_ec_seckey_tweak_add(ctx->secp, child_priv, I)) {
        memcpy(child_chain, I + 32, 32);
        rc = KURA_OK;
    } else {
        sodium_memzero(child_priv, 32);
        sodium_memzero(child_chain, 32);
    }
    sodium_memzero(&st, sizeof(st)); /* keyed by a private key's chain code */
    sodium_memzero(data, sizeof(data));
    sodium_memzero(I, sizeof(I));
    return rc;
}

int kura_bip32_i_ckd_priv(const kura_ctx *ctx, uint8_t child_priv[32], uint8_t child_chain[32],
                          const uint8_t parent_priv[32], const uint8_t parent_chain[32],
                          const uint8_t *parent_pub, uint32_t index)
{
    crypto_auth_hmacsha512_state keyed;
    int rc;
    crypto_auth_hmacsha512_init(&keyed, parent_chain, 32);
    rc = kura_bip32_i_ckd_priv_keyed(ctx, child_priv, child_chain, parent_priv, &keyed,
                                     parent_pub, index);
    sodium_memzero(&keyed, sizeof(keyed));
    return rc;
}

int kura_bip32_derive(const kura_ctx *ctx, kura_bip32_key *out, const kura_bip32_key *parent,
                      uint32_t index)
{
    kura_bip32_key child;
    uint8_t data[37], I[64], id[20];
    secp256k1_pubkey pk;
    const secp256k1_context *secp = kura_ctx_secp(ctx);
    size_t len = 33;
    int hardened = (index & KURA_BIP32_HARDENED) != 0;
    int rc = KURA_ECRYPTO;

    if (out == NULL) return KURA_EINVAL;
    if (parent == NULL || parent->depth == 255 || (hardened && !parent->has_private) ||
        (parent->has_private && ctx == NULL)) {
        kura_bip32_wipe(out);
        return KURA_EINVAL;
    }
    memset(&child, 0, sizeof(child));
    memset(data, 0, sizeof(data));
    memset(I, 0, sizeof(I));

    if (parent->has_private) {
        /* CKDpriv, then the child's public key. */
        if (kura_bip32_i_ckd_priv(ctx, child.priv, child.chain_code, parent->priv,
                                  parent->chain_code, parent->pub, index) != KURA_OK ||
            !secp256k1_ec_pubkey_create(ctx->secp, &pk, child.priv))
            goto done;
        child.has_private = 1;
    } else {
        /* CKDpub: I = HMAC-SHA512(c_par, serP(K_par) || ser32(i));
         * K_i = point(parse256(IL)) + K_par, which fails for IL >= n or the
         * point at infinity. Needs no secret, so the static context serves. */
        memcpy(data, parent->pub, 33);
        kura_store_u32be(data + 33, index);
        kura_hmac_sha512(I, parent->chain_code, 32, data, sizeof(data));
        if (!secp256k1_ec_pubkey_parse(secp, &pk, parent->pub, 33) ||
            !secp256k1_ec_pubkey_tweak_add(secp, &pk, I))
            goto done;
        memcpy(child.chain_code, I + 32, 32);
    }
    if (!secp256k1_ec_pubkey_serialize(secp, child.pub, &len, &pk, SECP256K1_EC_COMPRESSED))
        goto done;
    /* The fingerprint is the first 32 bits of the parent's key identifier,
     * HASH160(serP(K_par)) ("Key identifiers"). */
    if (kura_hash160(id, parent->pub, 33) != KURA_OK) goto done;
    memcpy(child.parent_fingerprint, id, 4);
    child.network = parent->network;
    child.depth = (uint8_t)(parent->depth + 1);
    child.child_number = index;
    rc = KURA_OK;
done:
    /* Written only now, so out may be parent itself. */
    if (rc == KURA_OK)
        *out = child;
    else
        kura_bip32_wipe(out);
    sodium_memzero(&child, sizeof(child));
    sodium_memzero(data, sizeof(data));
    sodium_memzero(I, sizeof(I));
    return rc;
}

int kura_bip32_derive_pubkeys(const kura_ctx *ctx, uint8_t (*out)[33],
                              const kura_bip32_key *parent, uint32_t first, size_t count)
{
    const secp256k1_context *secp = kura_ctx_secp(ctx);
    crypto_auth_hmacsha512_state keyed, st;
    secp256k1_pubkey base, pk;
    uint8_t data[37], I[64];
    int rc = KURA_OK;

    if (out == NULL && count != 0) return KURA_EINVAL;
    if (count == 0) return KURA_OK;
    memset(out, 0, count * 33);
    /* Every index first .. first+count-1 must be below 2^31: CKDpub cannot
     * make hardened children. */
    if (parent == NULL || parent->depth == 255 || first >= KURA_BIP32_HARDENED ||
        count > (size_t)(KURA_BIP32_HARDENED - first))
        return KURA_EINVAL;
    /* A private parent's non-hardened children have the public keys CKDpub
     * gives from its public key (BIP32 "Public parent key -> public child
     * key"), so one path serves both. The parent point is decompressed once
     * and the HMAC key schedule (the chain code) computed once. */
    if (!secp256k1_ec_pubkey_parse(secp, &base, parent->pub, 33)) return KURA_EINVAL;
    crypto_auth_hmacsha512_init(&keyed, parent->chain_code, 32);
    memcpy(data, parent->pub, 33);
    for (size_t i = 0; i < count; i++) {
        size_t len = 33;
        kura_store_u32be(data + 33, first + (uint32_t)i);
        st = keyed;
        crypto_auth_hmacsha512_update(&st, data, sizeof(data));
        crypto_auth_hmacsha512_final(&st, I);
        pk = base;
        if (!secp256k1_ec_pubkey_tweak_add(secp, &pk, I) ||
            !secp256k1_ec_pubkey_serialize(secp, out[i], &len, &pk, SECP256K1_EC_COMPRESSED)) {
            rc = KURA_ECRYPTO;
            break;
        }
    }
    if (rc != KURA_OK) memset(out, 0, count * 33);
    /* The states hold a private key's chain code when the parent has one. */
    sodium_memzero(&keyed, sizeof(keyed));
    sodium_memzero(&st, sizeof(st));
    sodium_memzero(I, sizeof(I));
    return rc;
}

int kura_bip32_derive_path(const kura_ctx *ctx, kura_bip32_key *out,
                           const kura_bip32_key *parent, const uint32_t *path, size_t path_len)
{
    kura_bip32_key cur;
    int rc = KURA_OK;

    if (out == NULL) return KURA_EINVAL;
    if (parent == NULL || (path == NULL && path_len != 0) || path_len > KURA_BIP32_PATH_MAX) {
        kura_bip32_wipe(out);
        return KURA_EINVAL;
    }
    cur = *parent;
    for (size_t i = 0; i < path_len && rc == KURA_OK; i++)
        rc = kura_bip32_derive(ctx, &cur, &cur, path[i]);
    if (rc == KURA_OK)
        *out = cur;
    else
        kura_bip32_wipe(out);
    kura_bip32_wipe(&cur);
    return rc;
}

void kura_bip32_neuter(kura_bip32_key *out, const kura_bip32_key *key)
{
    if (out == NULL) return;
    if (key == NULL) {
        kura_bip32_wipe(out);
        return;
    }
    if (out != key) *out = *key;
    sodium_memzero(out->priv, sizeof(out->priv));
    out->has_private = 0;
}

int kura_bip32_fingerprint(uint8_t out[4], const kura_bip32_key *key)
{
    uint8_t id[20];
    if (out == NULL) return KURA_EINVAL;
    memset(out, 0, 4);
    if (key == NULL) return KURA_EINVAL;
    if (kura_hash160(id, key->pub, 33) != KURA_OK) return KURA_ECRYPTO;
    memcpy(out, id, 4);
    return KURA_OK;
}

void kura_bip32_wipe(kura_bip32_key *key)
{
    if (key != NULL) sodium_memzero(key, sizeof(*key));
}

/* ---- serialization ---- */

int kura_bip32_serialize(char *out, size_t out_len, const kura_bip32_key *key, int private_)
{
    uint8_t buf[SERIALIZED_BYTES];
    uint32_t version;
    int rc;

    if (out != NULL && out_len > 0) out[0] = '\0';
    if (out == NULL || key == NULL || (private_ && !key->has_private)) return KURA_EINVAL;
    switch (key->network) {
    case KURA_NETWORK_MAINNET: version = private_ ? VERSION_XPRV : VERSION_XPUB; break;
    case KURA_NETWORK_TESTNET:
    case KURA_NETWORK_REGTEST: version = private_ ? VERSION_TPRV : VERSION_TPUB; break;
    default: return KURA_EINVAL;
    }
    /* BIP32 "Serialization format": version(4) depth(1) fingerprint(4)
     * child number(4, big-endian) chain code(32) key(33). */
    kura_store_u32be(buf, version);
    buf[4] = key->depth;
    memcpy(buf + 5, key->parent_fingerprint, 4);
    kura_store_u32be(buf + 9, key->child_number);
    memcpy(buf + 13, key->chain_code, 32);
    if (private_) {
        buf[45] = 0x00;
        memcpy(buf + 46, key->priv, 32);
    } else {
        memcpy(buf + 45, key->pub, 33);
    }
    rc = kura_base58check_encode(out, out_len, buf, sizeof(buf));
    sodium_memzero(buf, sizeof(buf));
    return rc;
}

int kura_bip32_parse(const kura_ctx *ctx, kura_bip32_key *out, const char *str, kura_error *err)
{
    uint8_t buf[SERIALIZED_BYTES + 2]; /* room to see a payload that is too long */
    size_t n = 0, len = 33;
    uint32_t version;
    int private_;
    kura_network network;
    secp256k1_pubkey pk;
    const secp256k1_context *secp = kura_ctx_secp(ctx);
    int rc;

    if (out == NULL || str == NULL) {
        kura_bip32_wipe(out);
        return kura_fail(err, KURA_EINVAL, "bip32: NULL argument");
    }
    kura_bip32_wipe(out);

    {
        kura_error inner;
        rc = kura_base58check_decode(buf, sizeof(buf), &n, str, &inner);
        if (rc == KURA_EINVAL) {
            rc = kura_fail(err, KURA_EDATA, "bip32: extended key longer than 78 bytes");
            goto done;
        }
        if (rc != KURA_OK) {
            rc = kura_fail(err, rc, "bip32: %s", inner.message);
            goto done;
        }
    }
    rc = KURA_EDATA;
    if (n != SERIALIZED_BYTES) {
        kura_fail(err, rc, "bip32: extended key of %zu bytes, not 78", n);
        goto done;
    }
    version = kura_load_u32be(buf);
    switch (version) {
    case VERSION_XPUB: network = KURA_NETWORK_MAINNET; private_ = 0; break;
    case VERSION_XPRV: network = KURA_NETWORK_MAINNET; private_ = 1; break;
    case VERSION_TPUB: network = KURA_NETWORK_TESTNET; private_ = 0; break;
    case VERSION_TPRV: network = KURA_NETWORK_TESTNET; private_ = 1; break;
    default:
        kura_fail(err, rc, "bip32: unknown version 0x%08x", (unsigned)version);
        goto done;
    }
    out->network = network;
    out->depth = buf[4];
    memcpy(out->parent_fingerprint, buf + 5, 4);
    out->child_number = kura_load_u32be(buf + 9);
    memcpy(out->chain_code, buf + 13, 32);

    /* BIP32 test vector 5: a master key (depth 0) has no parent and index 0. */
    if (out->depth == 0 && (kura_load_u32be(out->parent_fingerprint) != 0 ||
                            out->child_number != 0)) {
        kura_fail(err, rc, "bip32: depth 0 with non-zero parent fingerprint or index");
        goto done;
    }
    if (private_) {
        /* ser256(k) behind a 0x00 byte, with 0 < k < n. */
        if (buf[45] != 0x00) {
            kura_fail(err, rc, "bip32: private key prefix 0x%02x, not 0x00", buf[45]);
            goto done;
        }
        if (!secp256k1_ec_seckey_verify(secp256k1_context_static, buf + 46)) {
            kura_fail(err, rc, "bip32: private key not in 1..n-1");
            goto done;
        }
        if (ctx == NULL) {
            rc = kura_fail(err, KURA_EINVAL, "bip32: an xprv needs a context to parse");
            goto done;
        }
        if (!secp256k1_ec_pubkey_create(ctx->secp, &pk, buf + 46)) {
            kura_fail(err, rc, "bip32: private key not in 1..n-1");
            goto done;
        }
        memcpy(out->priv, buf + 46, 32);
        out->has_private = 1;
    } else {
        /* serP(K): compressed only, and a point on the curve. */
        if (buf[45] != 0x02 && buf[45] != 0x03) {
            kura_fail(err, rc, "bip32: public key prefix 0x%02x, not 0x02 or 0x03", buf[45]);
            goto done;
        }
        if (!secp256k1_ec_pubkey_parse(secp, &pk, buf + 45, 33)) {
            kura_fail(err, rc, "bip32: public key is not a point on the curve");
            goto done;
        }
    }
    if (!secp256k1_ec_pubkey_serialize(secp, out->pub, &len, &pk, SECP256K1_EC_COMPRESSED)) {
        kura_fail(err, rc, "bip32: public key does not serialize");
        goto done;
    }
    rc = KURA_OK;
done:
    if (rc != KURA_OK) kura_bip32_wipe(out);
    sodium_memzero(buf, sizeof(buf));
    return rc;
}

/* ---- paths ---- */

int kura_bip32_path_parse(uint32_t *path, size_t path_max, size_t *path_len, const char *str,
                          kura_error *err)
{
    const char *p;
    size_t count = 0;

    if (path_len != NULL) *path_len = 0;
    if (path_len == NULL || str == NULL || (path == NULL && path_max != 0))
        return kura_fail(err, KURA_EINVAL, "bip32: NULL argument");
    if (path_max > 0) memset(path, 0, path_max * sizeof(*path));

    p = str;
    if (*p == 'm') {
        p++;
        if (*p == '\0') return KURA_OK; /* "m": the key itself */
        if (*p != '/') return kura_fail(err, KURA_EDATA, "bip32: path: 'm' not followed by '/'");
        p++;
    } else if (*p == '\0') {
        return KURA_OK; /* "": the key itself, as in a descriptor origin "[fp]" */
    }
    for (;;) {
        uint64_t v = 0; /* wide enough that ten digits cannot wrap */
        size_t digits = 0;
        if (*p < '0' || *p > '9')
            return kura_fail(err, KURA_EDATA, "bip32: path: step %zu is not a number", count + 1);
        /* One spelling per path: no leading zeros, no signs, no spaces. */
        if (p[0] == '0' && p[1] >= '0' && p[1] <= '9')
            return kura_fail(err, KURA_EDATA, "bip32: path: step %zu has a leading zero",
                             count + 1);
        while (*p >= '0' && *p <= '9') {
            v = v * 10u + (uint64_t)(*p - '0');
            if (++digits > 10 || v >= KURA_BIP32_HARDENED)
                return kura_fail(err, KURA_EDATA, "bip32: path: step %zu is 2^31 or more",
                                 count + 1);
            p++;
        }
        if (*p == '\'' || *p == 'h' || *p == 'H') {
            v |= KURA_BIP32_HARDENED;
            p++;
        }
        if (count == path_max)
            return kura_fail(err, KURA_ERANGE, "bip32: path: deeper than %zu steps", path_max);
        path[count++] = (uint32_t)v;
        if (*p == '\0') break;
        if (*p != '/')
            return kura_fail(err, KURA_EDATA, "bip32: path: unexpected character after step %zu",
                             count);
        p++;
    }
    *path_len = count;
    return KURA_OK;
}

int kura_bip32_path_format(char *out, size_t out_len, const uint32_t *path, size_t path_len)
{
    size_t pos;
    if (out != NULL && out_len > 0) out[0] = '\0';
    if (out == NULL || (path == NULL && path_len != 0) || out_len < 2) return KURA_EINVAL;
    out[0] = 'm';
    out[1] = '\0';
    pos = 1;
    for (size_t i = 0; i < path_len; i++) {
        int hard = (path[i] & KURA_BIP32_HARDENED) != 0;
        int w = snprintf(out + pos, out_len - pos, "/%lu%s",
                         (unsigned long)(path[i] & ~KURA_BIP32_HARDENED), hard ? "h" : "");
        if (w < 0 || (size_t)w >= out_len - pos) {
            out[0] = '\0';
            return KURA_EINVAL;
        }
        pos += (size_t)w;
    }
    return KURA_OK;
}
