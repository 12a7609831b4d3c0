/*
 * src/keys/ecdsa.c — secret and public keys, and ECDSA signatures, over
 * libsecp256k1. Signatures are RFC6979-deterministic, low-S (BIP62 rule 5,
 * enforced as policy by Bitcoin Core) and strict DER (BIP66).
 */
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "keys_internal.h"

int kura_privkey_check(const kura_ctx *ctx, const uint8_t priv[32])
{
    if (priv == NULL) return KURA_EINVAL;
    /* seckey_verify only range-checks 0 < k < n; the static context serves. */
    return secp256k1_ec_seckey_verify(kura_ctx_secp(ctx), priv) ? KURA_OK : KURA_ECRYPTO;
}

int kura_pubkey_from_privkey(const kura_ctx *ctx, uint8_t out[33], const uint8_t priv[32])
{
    secp256k1_pubkey pk;
    size_t len = 33;
    int rc = KURA_ECRYPTO;

    if (out == NULL) return KURA_EINVAL;
    memset(out, 0, 33);
    if (ctx == NULL || priv == NULL) return KURA_EINVAL;
    if (secp256k1_ec_pubkey_create(ctx->secp, &pk, priv) &&
        secp256k1_ec_pubkey_serialize(ctx->secp, out, &len, &pk, SECP256K1_EC_COMPRESSED) &&
        len == 33)
        rc = KURA_OK;
    else
        memset(out, 0, 33);
    return rc;
}

/* Parses a public key as Bitcoin uses them: 33 bytes with prefix 02/03 or 65
 * with prefix 04. libsecp256k1 also accepts the "hybrid" 06/07 form, which
 * Bitcoin Core's policy refuses (IsCompressedOrUncompressedPubKey); so do we. */
static int parse_pubkey(const secp256k1_context *secp, secp256k1_pubkey *pk, const uint8_t *pub,
                        size_t len)
{
    if (pub == NULL) return 0;
    if (!((len == 33 && (pub[0] == 0x02 || pub[0] == 0x03)) || (len == 65 && pub[0] == 0x04)))
        return 0;
    return secp256k1_ec_pubkey_parse(secp, pk, pub, len);
}

int kura_pubkey_normalize(const kura_ctx *ctx, uint8_t out[33], const uint8_t *pub, size_t len)
{
    const secp256k1_context *secp = kura_ctx_secp(ctx);
    secp256k1_pubkey pk;
    size_t olen = 33;

    if (out == NULL) return KURA_EINVAL;
    memset(out, 0, 33);
    if (!parse_pubkey(secp, &pk, pub, len)) return KURA_EDATA;
    if (!secp256k1_ec_pubkey_serialize(secp, out, &olen, &pk, SECP256K1_EC_COMPRESSED) ||
        olen != 33) {
        memset(out, 0, 33);
        return KURA_ECRYPTO;
    }
    return KURA_OK;
}

/* Signs hash with priv and, when check is not NULL, verifies the signature
 * against *check before it is written out. Arguments already checked.
 * Returns KURA_OK, KURA_ECRYPTO (invalid priv) or KURA_EDATA (does not
 * verify against *check); der_out zeroed and *der_len 0 on failure. */
static int ecdsa_sign_checked(const kura_ctx *ctx, uint8_t der_out[KURA_ECDSA_DER_MAX],
                              size_t *der_len, const uint8_t priv[32], const uint8_t hash[32],
                              const secp256k1_pubkey *check)
{
    secp256k1_ecdsa_signature sig;
    size_t len = KURA_ECDSA_DER_MAX;

    *der_len = 0;
    memset(der_out, 0, KURA_ECDSA_DER_MAX);
    /* NULL nonce function = RFC6979 (secp256k1_nonce_function_default);
     * libsecp256k1 always returns the low-S form. */
    if (!secp256k1_ecdsa_sign(ctx->secp, &sig, hash, priv, NULL, NULL)) return KURA_ECRYPTO;
    /* Verify before release: a fault during signing (glitch, bit flip) can
     * yield a signature from which, with the deterministic nonce, the secret
     * key follows; and a key that is not priv's gives a signature that does
     * not verify. Either way nothing is released. */
    if (check != NULL && !secp256k1_ecdsa_verify(ctx->secp, &sig, hash, check)) return KURA_EDATA;
    if (!secp256k1_ecdsa_signature_serialize_der(ctx->secp, der_out, &len, &sig)) {
        memset(der_out, 0, KURA_ECDSA_DER_MAX);
        return KURA_ECRYPTO;
    }
    *der_len = len;
    return KURA_OK;
}

int kura_ecdsa_i_sign(const kura_ctx *ctx, uint8_t der_out[KURA_ECDSA_DER_MAX], size_t *der_len,
                      const uint8_t priv[32], const uint8_t hash[32], const uint8_t *check_pub)
{
    secp256k1_pubkey pk;
    if (check_pub == NULL) return ecdsa_sign_checked(ctx, der_out, der_len, priv, hash, NULL);
    if (!secp256k1_ec_pubkey_parse(ctx->secp, &pk, check_pub, 33)) {
        *der_len = 0;
        memset(der_out, 0, KURA_ECDSA_DER_MAX);
        return KURA_EDATA;
    }
    return ecdsa_sign_checked(ctx, der_out, der_len, priv, hash, &pk);
}

int kura_ecdsa_sign(const kura_ctx *ctx, uint8_t der_out[KURA_ECDSA_DER_MAX], size_t *der_len,
                    const uint8_t priv[32], const uint8_t hash[32])
{
    secp256k1_pubkey pk;
    int rc;

    if (der_len != NULL) *der_len = 0;
    if (der_out != NULL) memset(der_out, 0, KURA_ECDSA_DER_MAX);
    if (ctx == NULL || der_out == NULL || der_len == NULL || priv == NULL || hash == NULL)
        return KURA_EINVAL;
    /* A caller that holds only the secret gets it verified against the
     * secret's own public key: one more EC multiplication, cheap insurance.
     * Signers that already know the public key (the PSBT signer) call
     * kura_ecdsa_i_sign with it instead. */
    if (!secp256k1_ec_pubkey_create(ctx->secp, &pk, priv)) return KURA_ECRYPTO;
    rc = ecdsa_sign_checked(ctx, der_out, der_len, priv, hash, &pk);
    /* priv's own key: a signature that does not verify is a fault. */
    return rc == KURA_EDATA ? KURA_ECRYPTO : rc;
}

/* BIP66 "DER signatures", IsValidSignatureEncoding, applied to a signature
 * without its trailing sighash byte (so every length is one less than in the
 * BIP): 0x30 len 0x02 lenR R 0x02 lenS S, minimal, positive integers. */
static int is_strict_der(const uint8_t *sig, size_t size)
{
    size_t len_r, len_s;
    if (size < 8 || size > 72) return 0;
    if (sig[0] != 0x30) return 0;
    if (sig[1] != size - 2) return 0; /* the length covers exactly the rest */
    len_r = sig[3];
    if (5 + len_r >= size) return 0;
    len_s = sig[5 + len_r];
    if (len_r + len_s + 6 != size) return 0;

    if (sig[2] != 0x02) return 0;                                  /* R is an INTEGER */
    if (len_r == 0) return 0;                                      /* of length > 0 */
    if (sig[4] & 0x80) return 0;                                   /* not negative */
    if (len_r > 1 && sig[4] == 0x00 && !(sig[5] & 0x80)) return 0; /* no excess 0x00 */

    if (sig[len_r + 4] != 0x02) return 0;
    if (len_s == 0) return 0;
    if (sig[len_r + 6] & 0x80) return 0;
    if (len_s > 1 && sig[len_r + 6] == 0x00 && !(sig[len_r + 7] & 0x80)) return 0;
    return 1;
}

int kura_ecdsa_verify(const kura_ctx *ctx, const uint8_t *pub, size_t pub_len,
                      const uint8_t hash[32], const uint8_t *der, size_t der_len)
{
    const secp256k1_context *secp = kura_ctx_secp(ctx);
    secp256k1_ecdsa_signature sig;
    secp256k1_pubkey pk;

    if (hash == NULL || (der == NULL && der_len != 0) || (pub == NULL && pub_len != 0))
        return KURA_EINVAL;
    if (der == NULL || !is_strict_der(der, der_len)) return KURA_EDATA;
    if (!secp256k1_ecdsa_signature_parse_der(secp, &sig, der, der_len)) return KURA_EDATA;
    /* normalize returns 1 when S was high: BIP146 LOW_S (and Bitcoin Core's
     * standardness) refuses such signatures, as they are malleable. */
    if (secp256k1_ecdsa_signature_normalize(secp, NULL, &sig)) return KURA_EDATA;
    if (!parse_pubkey(secp, &pk, pub, pub_len)) return KURA_EDATA;
    return secp256k1_ecdsa_verify(secp, &sig, hash, &pk) ? KURA_OK : KURA_EDATA;
}
