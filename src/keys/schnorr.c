/*
 * src/keys/schnorr.c — BIP340 Schnorr signatures and the BIP341 taproot tweak,
 * over libsecp256k1's extrakeys and schnorrsig modules.
 */
#include <string.h>

#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <sodium.h>

#include "internal.h"
#include "keys_internal.h"
#include "kura/hash.h"

int kura_xonly_from_privkey(const kura_ctx *ctx, uint8_t out[32], const uint8_t priv[32])
{
    secp256k1_keypair kp;
    secp256k1_xonly_pubkey xonly;
    int rc = KURA_ECRYPTO;

    if (out == NULL) return KURA_EINVAL;
    memset(out, 0, 32);
    if (ctx == NULL || priv == NULL) return KURA_EINVAL;
    if (secp256k1_keypair_create(ctx->secp, &kp, priv) &&
        secp256k1_keypair_xonly_pub(ctx->secp, &xonly, NULL, &kp) &&
        secp256k1_xonly_pubkey_serialize(ctx->secp, out, &xonly))
        rc = KURA_OK;
    else
        memset(out, 0, 32);
    sodium_memzero(&kp, sizeof(kp)); /* a keypair holds the secret key */
    return rc;
}

int kura_schnorr_sign(const kura_ctx *ctx, uint8_t sig[64], const uint8_t priv[32],
                      const uint8_t *msg, size_t msg_len, const uint8_t *aux_rand)
{
    secp256k1_keypair kp;
    secp256k1_xonly_pubkey xonly;
    secp256k1_schnorrsig_extraparams params = SECP256K1_SCHNORRSIG_EXTRAPARAMS_INIT;
    uint8_t fresh[32];
    int rc = KURA_ECRYPTO;

    if (sig == NULL) return KURA_EINVAL;
    memset(sig, 0, 64);
    if (ctx == NULL || priv == NULL || (msg == NULL && msg_len != 0)) return KURA_EINVAL;
    /* BIP340 "Default Signing": aux_rand should be fresh randomness; it only
     * hardens against side channels, the nonce stays safe without it. */
    if (aux_rand == NULL) {
        randombytes_buf(fresh, sizeof(fresh));
        aux_rand = fresh;
    }
    params.ndata = (unsigned char *)(uintptr_t)aux_rand; /* read-only in libsecp256k1 */
    /* sign_custom takes messages of any length (BIP340 allows them; the test
     * vectors include 0, 1, 17 and 100 bytes) and, for 32 bytes, equals sign32. */
    if (secp256k1_keypair_create(ctx->secp, &kp, priv) &&
        secp256k1_schnorrsig_sign_custom(ctx->secp, sig, msg, msg_len, &kp, &params) &&
        secp256k1_keypair_xonly_pub(ctx->secp, &xonly, NULL, &kp) &&
        /* BIP340 recommends verifying before release against fault attacks;
         * libsecp256k1 leaves that to the caller. */
        secp256k1_schnorrsig_verify(ctx->secp, sig, msg, msg_len, &xonly))
        rc = KURA_OK;
    else
        memset(sig, 0, 64);
    sodium_memzero(&kp, sizeof(kp));
    sodium_memzero(fresh, sizeof(fresh));
    return rc;
}

int kura_schnorr_verify(const kura_ctx *ctx, const uint8_t sig[64], const uint8_t *msg,
                        size_t msg_len, const uint8_t xonly[32])
{
    const secp256k1_context *secp = kura_ctx_secp(ctx);
    secp256k1_xonly_pubkey pk;
    if (sig == NULL || xonly == NULL || (msg == NULL && msg_len != 0)) return KURA_EINVAL;
    /* BIP340 Verify: fail if lift_x(P) fails, i.e. P >= p or not on the curve. */
    if (!secp256k1_xonly_pubkey_parse(secp, &pk, xonly)) return KURA_EDATA;
    return secp256k1_schnorrsig_verify(secp, sig, msg, msg_len, &pk) ? KURA_OK : KURA_EDATA;
}

/* BIP341 "taproot_tweak_pubkey": t = hashTapTweak(P || merkle_root), where the
 * root is omitted (not zero) for an output without a script tree. */
static void taptweak(uint8_t t[32], const uint8_t internal[32], const uint8_t *merkle_root)
{
    uint8_t buf[64];
    memcpy(buf, internal, 32);
    if (merkle_root != NULL) memcpy(buf + 32, merkle_root, 32);
    kura_tagged_hash(t, "TapTweak", buf, merkle_root != NULL ? 64 : 32);
}

int kura_taproot_tweak_pubkey(const kura_ctx *ctx, uint8_t out[32], int *parity,
                              const uint8_t internal[32], const uint8_t *merkle_root)
{
    const secp256k1_context *secp = kura_ctx_secp(ctx);
    secp256k1_xonly_pubkey p, q;
    secp256k1_pubkey full;
    uint8_t t[32];
    int par = 0;

    if (parity != NULL) *parity = 0;
    if (out == NULL) return KURA_EINVAL;
    memset(out, 0, 32);
    if (internal == NULL) return KURA_EINVAL;
    if (!secp256k1_xonly_pubkey_parse(secp, &p, internal)) return KURA_EDATA;
    taptweak(t, internal, merkle_root);
    /* Fails if t >= n (BIP341 "if t >= SECP256K1_ORDER: raise ValueError") or
     * Q is infinity. */
    if (!secp256k1_xonly_pubkey_tweak_add(secp, &full, &p, t) ||
        !secp256k1_xonly_pubkey_from_pubkey(secp, &q, &par, &full) ||
        !secp256k1_xonly_pubkey_serialize(secp, out, &q)) {
        memset(out, 0, 32);
        return KURA_ECRYPTO;
    }
    if (parity != NULL) *parity = par;
    return KURA_OK;
}

int kura_taproot_tweak_privkey(const kura_ctx *ctx, uint8_t out[32], const uint8_t priv[32],
                               const uint8_t *merkle_root)
{
    secp256k1_keypair kp;
    secp256k1_xonly_pubkey xonly;
    uint8_t internal[32], t[32];
    int rc = KURA_ECRYPTO;

    if (out == NULL) return KURA_EINVAL;
    memset(out, 0, 32);
    if (ctx == NULL || priv == NULL) return KURA_EINVAL;
    /* BIP341 "taproot_tweak_seckey": the keypair tweak negates the secret when
     * its point has odd y, then adds t, as the BIP's reference code does. */
    if (secp256k1_keypair_create(ctx->secp, &kp, priv) &&
        secp256k1_keypair_xonly_pub(ctx->secp, &xonly, NULL, &kp) &&
        secp256k1_xonly_pubkey_serialize(ctx->secp, internal, &xonly)) {
        taptweak(t, internal, merkle_root);
        if (secp256k1_keypair_xonly_tweak_add(ctx->secp, &kp, t) &&
            secp256k1_keypair_sec(ctx->secp, out, &kp))
            rc = KURA_OK;
    }
    if (rc != KURA_OK) sodium_memzero(out, 32);
    sodium_memzero(&kp, sizeof(kp));
    return rc;
}

/* ---- keypairs, for the PSBT signer ---- */

int kura_keypair_i_create(const kura_ctx *ctx, kura_keypair *out, const uint8_t priv[32])
{
    secp256k1_xonly_pubkey xonly;
    /* The one EC multiplication: the secret's point, kept in the keypair so
     * that tweaking, signing and comparing keys need no other. */
    if (secp256k1_keypair_create(ctx->secp, &out->kp, priv) &&
        secp256k1_keypair_xonly_pub(ctx->secp, &xonly, NULL, &out->kp) &&
        secp256k1_xonly_pubkey_serialize(ctx->secp, out->xonly, &xonly))
        return KURA_OK;
    kura_keypair_i_wipe(out);
    return KURA_ECRYPTO;
}

int kura_keypair_i_taptweak(const kura_ctx *ctx, kura_keypair *out, const kura_keypair *in,
                            const uint8_t *merkle_root)
{
    secp256k1_xonly_pubkey q;
    uint8_t t[32];
    /* BIP341 "taproot_tweak_seckey": t = hashTapTweak(P || root) with P the
     * keypair's own x-only key; keypair_xonly_tweak_add negates the secret
     * when P has odd y and adds t to it, and computes the point Q = P + tG
     * (one EC operation, variable-time: only public values). Q is then read
     * from the keypair: no further multiplication. */
    taptweak(t, in->xonly, merkle_root);
    if (out != in) *out = *in;
    if (secp256k1_keypair_xonly_tweak_add(ctx->secp, &out->kp, t) &&
        secp256k1_keypair_xonly_pub(ctx->secp, &q, NULL, &out->kp) &&
        secp256k1_xonly_pubkey_serialize(ctx->secp, out->xonly, &q))
        return KURA_OK;
    kura_keypair_i_wipe(out);
    return KURA_ECRYPTO;
}

int kura_schnorr_i_sign32(const kura_ctx *ctx, uint8_t sig[64], const kura_keypair *kp,
                          const uint8_t msg[32], const uint8_t *aux_rand, int verify)
{
    secp256k1_xonly_pubkey xonly;
    uint8_t fresh[32];
    int rc = KURA_ECRYPTO;

    memset(sig, 0, 64);
    if (aux_rand == NULL) {
        randombytes_buf(fresh, sizeof(fresh));
        aux_rand = fresh;
    }
    if (secp256k1_schnorrsig_sign32(ctx->secp, sig, msg, &kp->kp, aux_rand)) {
        rc = KURA_OK;
        /* BIP340's recommended verification before release, against the
         * keypair's own point (which the caller compared with the key it
         * expects): a faulted signature is withheld. */
        if (verify && (!secp256k1_keypair_xonly_pub(ctx->secp, &xonly, NULL, &kp->kp) ||
                       !secp256k1_schnorrsig_verify(ctx->secp, sig, msg, 32, &xonly)))
            rc = KURA_EDATA;
    }
    if (rc != KURA_OK) memset(sig, 0, 64);
    sodium_memzero(fresh, sizeof(fresh));
    return rc;
}

void kura_keypair_i_wipe(kura_keypair *kp)
{
    if (kp != NULL) sodium_memzero(kp, sizeof(*kp));
}
