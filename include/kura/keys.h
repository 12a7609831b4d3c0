/*
 * kura/keys.h — the secp256k1 context and single-key operations: public keys,
 * ECDSA (RFC6979 nonces, low-S, strict DER) and BIP340 Schnorr signatures, and
 * the BIP341 taproot tweak. All elliptic-curve work goes through libsecp256k1.
 */
#ifndef KURA_KEYS_H
#define KURA_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "kura/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A libkura context: owns a randomized libsecp256k1 context (side-channel
 * blinding for signing). Create one per thread; it is read-only after creation
 * and may be shared by functions that only read it. */
typedef struct kura_ctx kura_ctx;

/* Returns a new context, or NULL if memory or the OS random source fails.
 * Calls sodium_init(). */
kura_ctx *kura_ctx_new(void);
/* Frees ctx; NULL is a no-op. */
void kura_ctx_free(kura_ctx *ctx);

#define KURA_PRIVKEY_LEN 32
#define KURA_PUBKEY_LEN 33   /* compressed */
#define KURA_XONLY_LEN 32
#define KURA_ECDSA_DER_MAX 72
#define KURA_SCHNORR_SIG_LEN 64

/* Returns KURA_OK if priv is a valid secret key (0 < k < n), else KURA_ECRYPTO. */
int kura_privkey_check(const kura_ctx *ctx, const uint8_t priv[32]);

/* out = compressed public key of priv. Returns KURA_OK or KURA_ECRYPTO (invalid priv; out zeroed). */
int kura_pubkey_from_privkey(const kura_ctx *ctx, uint8_t out[33], const uint8_t priv[32]);

/* Parses a 33-byte compressed or 65-byte uncompressed key and writes it
 * compressed. Returns KURA_OK or KURA_EDATA (not a point on the curve). */
int kura_pubkey_normalize(const kura_ctx *ctx, uint8_t out[33], const uint8_t *pub, size_t len);

/* ECDSA signature over a 32-byte hash with an RFC6979 nonce, normalized to
 * low-S, DER-encoded (no sighash byte) into der_out (KURA_ECDSA_DER_MAX bytes).
 * Returns KURA_OK or KURA_ECRYPTO (invalid priv); outputs zeroed on failure. */
int kura_ecdsa_sign(const kura_ctx *ctx, uint8_t der_out[KURA_ECDSA_DER_MAX], size_t *der_len,
                    const uint8_t priv[32], const uint8_t hash[32]);

/* Verifies a strict-DER (BIP66) low-S ECDSA signature (no sighash byte) by pub
 * (33 or 65 bytes) over hash. Returns KURA_OK or KURA_EDATA (bad encoding, high
 * S, bad key, or a signature that does not verify). */
int kura_ecdsa_verify(const kura_ctx *ctx, const uint8_t *pub, size_t pub_len,
                      const uint8_t hash[32], const uint8_t *der, size_t der_len);

/* x-only public key of priv (BIP340). Returns KURA_OK or KURA_ECRYPTO. */
int kura_xonly_from_privkey(const kura_ctx *ctx, uint8_t out[32], const uint8_t priv[32]);

/* BIP340 signature of msg[0..msg_len) (any length) with priv. aux_rand may be
 * NULL (then 32 fresh bytes from the OS are used) or 32 bytes. Returns KURA_OK
 * or KURA_ECRYPTO; sig zeroed on failure. */
int kura_schnorr_sign(const kura_ctx *ctx, uint8_t sig[64], const uint8_t priv[32],
                      const uint8_t *msg, size_t msg_len, const uint8_t *aux_rand);

/* Verifies a BIP340 signature. Returns KURA_OK or KURA_EDATA. */
int kura_schnorr_verify(const kura_ctx *ctx, const uint8_t sig[64], const uint8_t *msg,
                        size_t msg_len, const uint8_t xonly[32]);

/* BIP341 output key: Q = P + int(hashTapTweak(P || merkle_root))G, with
 * merkle_root NULL for a key-path-only output. *parity (may be NULL) gets Q's
 * y parity. Returns KURA_OK, KURA_EDATA (P not on curve) or KURA_ECRYPTO. */
int kura_taproot_tweak_pubkey(const kura_ctx *ctx, uint8_t out[32], int *parity,
                              const uint8_t internal[32], const uint8_t *merkle_root);

/* The matching secret key: negates priv if its point has odd y, then adds the
 * tweak. Returns KURA_OK or KURA_ECRYPTO; out zeroed on failure. */
int kura_taproot_tweak_privkey(const kura_ctx *ctx, uint8_t out[32], const uint8_t priv[32],
                               const uint8_t *merkle_root);

/* WIF (Base58Check 0x80/0xef || key [|| 0x01]). Decode gives the key, whether it
 * was marked compressed, and its network (TESTNET for 0xef). Returns KURA_OK or
 * KURA_EDATA. Encode returns KURA_OK or KURA_EINVAL (out under 53 chars). */
int kura_wif_decode(uint8_t priv[32], int *compressed, kura_network *network, const char *wif,
                    kura_error *err);
int kura_wif_encode(char *out, size_t out_len, const uint8_t priv[32], int compressed,
                    kura_network network);

/* ---- BIP32 ---- */

#define KURA_BIP32_HARDENED 0x80000000u
#define KURA_BIP32_SERIALIZED_LEN 112 /* enough for any Base58 xpub/xprv and NUL */
#define KURA_BIP32_PATH_MAX 64        /* deepest path kura accepts */

/* An extended key. `priv` is meaningful only when has_private is 1; a public
 * key has it zeroed. Wipe with kura_bip32_wipe when it held a private key. */
typedef struct kura_bip32_key {
    kura_network network;           /* MAINNET (xpub/xprv) or TESTNET (tpub/tprv) */
    uint8_t depth;
    uint8_t parent_fingerprint[4];
    uint32_t child_number;
    uint8_t chain_code[32];
    uint8_t pub[33];                /* always set */
    uint8_t priv[32];
    int has_private;
} kura_bip32_key;

/* Master key from a 16..64 byte seed (BIP32 "Master key generation").
 * Returns KURA_OK, KURA_EINVAL (seed length) or KURA_ECRYPTO (invalid master,
 * astronomically unlikely). out is wiped on failure. */
int kura_bip32_from_seed(const kura_ctx *ctx, kura_bip32_key *out, const uint8_t *seed,
                         size_t seed_len, kura_network network);

/* Parses an xpub/xprv/tpub/tprv string, refusing every invalid-key case of BIP32
 * test vector 5 (unknown version, bad checksum, zero depth with non-zero parent
 * or index, private key prefix not 0x00, key out of range, invalid point,
 * wrong length). Regtest keys use the testnet prefixes. Returns KURA_OK or
 * KURA_EDATA; out wiped on failure. */
int kura_bip32_parse(const kura_ctx *ctx, kura_bip32_key *out, const char *str, kura_error *err);

/* Writes the Base58 form; `private` 1 writes xprv/tprv (KURA_EINVAL if the key
 * has none). out_len >= KURA_BIP32_SERIALIZED_LEN suffices. */
int kura_bip32_serialize(char *out, size_t out_len, const kura_bip32_key *key, int private_);

/* CKDpriv or CKDpub for one index (hardened needs a private key: KURA_EINVAL
 * otherwise). Returns KURA_OK, KURA_EINVAL or KURA_ECRYPTO (the 1-in-2^127
 * invalid child). out wiped on failure. */
int kura_bip32_derive(const kura_ctx *ctx, kura_bip32_key *out, const kura_bip32_key *parent,
                      uint32_t index);

/* Derives along path[0..path_len). out may alias nothing in parent. */
int kura_bip32_derive_path(const kura_ctx *ctx, kura_bip32_key *out,
                           const kura_bip32_key *parent, const uint32_t *path, size_t path_len);

/* The public counterpart (xprv -> xpub) into out. */
void kura_bip32_neuter(kura_bip32_key *out, const kura_bip32_key *key);

/* First 4 bytes of HASH160(pub). Returns KURA_OK or KURA_ECRYPTO. */
int kura_bip32_fingerprint(uint8_t out[4], const kura_bip32_key *key);

/* Parses "m/44'/0h/1/2" or "44'/0h" (with or without "m/"; ' h H mark
 * hardened) into path[]. Returns KURA_OK, KURA_EDATA (syntax, index >= 2^31
 * before hardening) or KURA_ERANGE (deeper than path_max). */
int kura_bip32_path_parse(uint32_t *path, size_t path_max, size_t *path_len, const char *str,
                          kura_error *err);

/* Formats a path as "m/84h/0h/0h/1/5" into out. Returns KURA_OK or KURA_EINVAL. */
int kura_bip32_path_format(char *out, size_t out_len, const uint32_t *path, size_t path_len);

/* Wipes a key (private material included). */
void kura_bip32_wipe(kura_bip32_key *key);

/* ---- BIP39 ---- */

/* The English word list: index 0..2047 -> word. NULL for an index out of range. */
const char *kura_bip39_word(unsigned index);

/* Mnemonic for 16/20/24/28/32 bytes of entropy, words joined by single spaces,
 * into out (NUL-terminated; 24 words need at most 24*9 = 216 chars).
 * Returns KURA_OK or KURA_EINVAL. out wiped on failure. */
int kura_bip39_from_entropy(char *out, size_t out_len, const uint8_t *entropy, size_t len);

/* Checks a mnemonic: 12..24 words (multiple of 3), each in the list, single
 * spaces, checksum correct. Writes the entropy to out (32 bytes suffice).
 * Returns KURA_OK or KURA_EDATA naming the first unknown word or the checksum. */
int kura_bip39_to_entropy(uint8_t *out, size_t out_len, size_t *written, const char *mnemonic,
                          kura_error *err);

/* The 64-byte seed: PBKDF2-HMAC-SHA512(NFKD(mnemonic), "mnemonic" ||
 * NFKD(passphrase), 2048). passphrase may be NULL (empty). Both are UTF-8 and
 * normalised with libunistring. Does not check the mnemonic's checksum (call
 * kura_bip39_to_entropy for that). Returns KURA_OK, KURA_EDATA (not valid
 * UTF-8), KURA_ENOMEM. seed wiped on failure. */
int kura_bip39_to_seed(uint8_t seed[64], const char *mnemonic, const char *passphrase,
                       kura_error *err);

#ifdef __cplusplus
}
#endif

#endif /* KURA_KEYS_H */
