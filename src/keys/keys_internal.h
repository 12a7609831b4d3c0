/*
 * src/keys/keys_internal.h — what libkura's own modules may use from the keys
 * module beyond kura/keys.h; not installed, not API.
 *
 * Other modules (script, psbt, descriptor) that need libsecp256k1 directly
 * include "keys/keys_internal.h" and take the raw context from kura_ctx_secp.
 */
#ifndef KURA_KEYS_INTERNAL_H
#define KURA_KEYS_INTERNAL_H

#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <sodium.h>

#include "kura/keys.h"

/* The kura_ctx behind the opaque typedef in kura/keys.h. */
struct kura_ctx {
    /* Created with SECP256K1_CONTEXT_NONE and randomized at creation
     * (secp256k1_context_randomize) to blind signing and key generation
     * against side channels. Read-only afterwards. */
    secp256k1_context *secp;
};

/* The libsecp256k1 context of ctx, or secp256k1_context_static when ctx is
 * NULL. The static context serves public-key and verification operations
 * only; signing and secret-key-to-public-key need a real kura_ctx. */
const secp256k1_context *kura_ctx_secp(const kura_ctx *ctx);

/* ---- signing for callers that know the public key ----
 *
 * kura_ecdsa_sign and kura_schnorr_sign are the safe entry points for a
 * caller holding only a secret key: each computes the secret's public key
 * and verifies the signature before returning it. The PSBT signer already
 * knows the public key a signature is for (it is recorded in the PSBT), so it
 * uses these leaner forms, which compute no public key it has, and verify
 * only when asked (KURA_PSBT_SIGN_VERIFY). Arguments are not checked for
 * NULL: ctx must be a real context (not NULL). */

/* ECDSA as kura_ecdsa_sign (RFC6979, low-S, DER). check_pub: NULL to return
 * the signature unverified, or a 33-byte compressed key that the signature
 * must verify against before it is returned (the fault-attack check, and
 * the proof that priv is check_pub's secret).
 * Returns KURA_OK; KURA_ECRYPTO (invalid priv); KURA_EDATA (check_pub does
 * not parse, or the signature does not verify against it). der_out is zeroed
 * and *der_len 0 on failure. */
int kura_ecdsa_i_sign(const kura_ctx *ctx, uint8_t der_out[KURA_ECDSA_DER_MAX], size_t *der_len,
                      const uint8_t priv[32], const uint8_t hash[32], const uint8_t *check_pub);

/* A BIP340 signing key: libsecp256k1's keypair (the secret and its point)
 * and its x-only public key, serialised. Holds the secret: wipe it with
 * kura_keypair_i_wipe. */
typedef struct kura_keypair {
    secp256k1_keypair kp;
    uint8_t xonly[32];
} kura_keypair;

/* out = the keypair of priv: one EC multiplication. Returns KURA_OK or
 * KURA_ECRYPTO (invalid priv; out wiped). */
int kura_keypair_i_create(const kura_ctx *ctx, kura_keypair *out, const uint8_t priv[32]);

/* out = in tweaked as BIP341 taproot_tweak_seckey does, with in's own x-only
 * key as the internal key and merkle_root (NULL: none, as for
 * kura_taproot_tweak_pubkey); out->xonly is then the output key Q, read from
 * the keypair without another multiplication. out may be in.
 * Returns KURA_OK or KURA_ECRYPTO (tweak out of range; out wiped). */
int kura_keypair_i_taptweak(const kura_ctx *ctx, kura_keypair *out, const kura_keypair *in,
                            const uint8_t *merkle_root);

/* BIP340 signature of the 32-byte msg by kp (secp256k1_schnorrsig_sign32).
 * aux_rand: 32 bytes, or NULL for 32 fresh bytes from the OS. verify: when
 * non-zero the signature is verified against kp's point before it is
 * returned (BIP340's recommendation against faults).
 * Returns KURA_OK, KURA_ECRYPTO (signing failed) or KURA_EDATA (the
 * signature does not verify: a fault); sig zeroed on failure. */
int kura_schnorr_i_sign32(const kura_ctx *ctx, uint8_t sig[64], const kura_keypair *kp,
                          const uint8_t msg[32], const uint8_t *aux_rand, int verify);

/* Wipes a keypair. NULL is a no-op. */
void kura_keypair_i_wipe(kura_keypair *kp);

/* BIP32 CKDpriv ("Private parent key -> private child key") on raw parts,
 * for signers: child_priv and child_chain of index from the parent's secret
 * key and chain code, and, for a non-hardened index, its compressed public
 * key (parent_pub; may be NULL for a hardened index). Computes no public key
 * and no fingerprint: the fast path for deriving the key that signs.
 * child_priv and child_chain may be parent_priv and parent_chain.
 * Returns KURA_OK; KURA_ECRYPTO (the 1-in-2^127 invalid child); KURA_EINVAL
 * (parent_pub NULL for a non-hardened index). The outputs are wiped on
 * failure; they are secrets. */
int kura_bip32_i_ckd_priv(const kura_ctx *ctx, uint8_t child_priv[32], uint8_t child_chain[32],
                          const uint8_t parent_priv[32], const uint8_t parent_chain[32],
                          const uint8_t *parent_pub, uint32_t index);

/* As kura_bip32_i_ckd_priv, with the HMAC-SHA512 key schedule of the
 * parent's chain code done beforehand (crypto_auth_hmacsha512_init(keyed,
 * parent_chain, 32); keyed is not changed): half the hashing of a step, for
 * a signer that derives many children of one parent. keyed holds secret
 * material: the caller wipes it. */
int kura_bip32_i_ckd_priv_keyed(const kura_ctx *ctx, uint8_t child_priv[32],
                                uint8_t child_chain[32], const uint8_t parent_priv[32],
                                const crypto_auth_hmacsha512_state *keyed,
                                const uint8_t *parent_pub, uint32_t index);

/* The BIP39 English list: KURA_BIP39_WORDS words, each NUL-padded to
 * KURA_BIP39_WORD_SLOT bytes (generated by tools/gen-bip39-wordlist). */
#define KURA_BIP39_WORDS 2048
#define KURA_BIP39_WORD_SLOT 9
extern const char kura_bip39_english[KURA_BIP39_WORDS][KURA_BIP39_WORD_SLOT];

#endif /* KURA_KEYS_INTERNAL_H */
