/*
 * kura/keys.h — the secp256k1 context and single-key operations: public keys,
 * ECDSA (RFC6979 nonces, low-S, strict DER) and BIP340 Schnorr signatures, and
 * the BIP341 taproot tweak; WIF; BIP32 extended keys and paths; BIP39
 * mnemonics. All elliptic-curve work goes through libsecp256k1.
 *
 * Secrets (private keys, chain codes of private keys, seeds, mnemonics) that
 * pass through these functions are wiped from the library's own buffers before
 * every return; what the caller passes in or receives, the caller wipes.
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
 * blinding for signing and key generation). Create one per thread; it is
 * read-only after creation and may be shared by functions that only read it.
 *
 * `ctx` may be NULL for the functions that touch no secret (they say so
 * below); they then use libsecp256k1's static context. Every function that
 * uses a secret key needs a real context and returns KURA_EINVAL without one. */
typedef struct kura_ctx kura_ctx;

/* Returns a new context, or NULL if memory, sodium_init() or the OS random
 * source fails. The caller frees it with kura_ctx_free. */
kura_ctx *kura_ctx_new(void);
/* Frees ctx; NULL is a no-op. */
void kura_ctx_free(kura_ctx *ctx);

#define KURA_PRIVKEY_LEN 32
#define KURA_PUBKEY_LEN 33   /* compressed */
#define KURA_XONLY_LEN 32
#define KURA_ECDSA_DER_MAX 72
#define KURA_SCHNORR_SIG_LEN 64

/* Checks that priv is a valid secret key (0 < k < n). ctx may be NULL.
 * Returns KURA_OK, KURA_ECRYPTO (out of range) or KURA_EINVAL (priv NULL). */
int kura_privkey_check(const kura_ctx *ctx, const uint8_t priv[32]);

/* out = compressed public key of priv. Needs ctx.
 * Returns KURA_OK, KURA_ECRYPTO (invalid priv) or KURA_EINVAL (NULL
 * argument). out is zeroed on failure. */
int kura_pubkey_from_privkey(const kura_ctx *ctx, uint8_t out[33], const uint8_t priv[32]);

/* Parses a 33-byte compressed (02/03) or 65-byte uncompressed (04) key and
 * writes it compressed. The "hybrid" 06/07 form and every other length are
 * refused, as Bitcoin Core's policy does. ctx may be NULL.
 * Returns KURA_OK, KURA_EDATA (bad form, not a point on the curve) or
 * KURA_EINVAL (out NULL). out is zeroed on failure. */
int kura_pubkey_normalize(const kura_ctx *ctx, uint8_t out[33], const uint8_t *pub, size_t len);

/* ECDSA signature over a 32-byte hash with an RFC6979 nonce, normalized to
 * low-S, DER-encoded (no sighash byte). Needs ctx. The signature is verified
 * before it is returned (a faulty signature could leak the key).
 *   der_out: receives the signature (KURA_ECDSA_DER_MAX bytes of room).
 *   der_len: receives its length (70..72 in practice).
 * Returns KURA_OK, KURA_ECRYPTO (invalid priv) or KURA_EINVAL (NULL
 * argument); der_out is zeroed and *der_len is 0 on failure. */
int kura_ecdsa_sign(const kura_ctx *ctx, uint8_t der_out[KURA_ECDSA_DER_MAX], size_t *der_len,
                    const uint8_t priv[32], const uint8_t hash[32]);

/* Verifies a strict-DER (BIP66) low-S ECDSA signature der[0..der_len) (no
 * sighash byte) by pub (33 or 65 bytes, as kura_pubkey_normalize accepts) over
 * hash. ctx may be NULL.
 * Returns KURA_OK; KURA_EDATA for a non-strict encoding, a high S, a bad key
 * or a signature that does not verify; KURA_EINVAL for a NULL hash. */
int kura_ecdsa_verify(const kura_ctx *ctx, const uint8_t *pub, size_t pub_len,
                      const uint8_t hash[32], const uint8_t *der, size_t der_len);

/* x-only public key of priv (BIP340). Needs ctx.
 * Returns KURA_OK, KURA_ECRYPTO (invalid priv) or KURA_EINVAL; out zeroed on
 * failure. */
int kura_xonly_from_privkey(const kura_ctx *ctx, uint8_t out[32], const uint8_t priv[32]);

/* BIP340 signature of msg[0..msg_len) (any length; msg may be NULL when
 * msg_len is 0) with priv. aux_rand may be NULL (then 32 fresh bytes from the
 * OS are used) or point to 32 bytes. Needs ctx. The signature is verified
 * before it is returned, as BIP340 recommends.
 * Returns KURA_OK, KURA_ECRYPTO (invalid priv) or KURA_EINVAL; sig zeroed on
 * failure. */
int kura_schnorr_sign(const kura_ctx *ctx, uint8_t sig[64], const uint8_t priv[32],
                      const uint8_t *msg, size_t msg_len, const uint8_t *aux_rand);

/* Verifies a BIP340 signature of msg[0..msg_len) by the x-only key. ctx may
 * be NULL. Returns KURA_OK, KURA_EDATA (key not on the curve, signature does
 * not verify) or KURA_EINVAL (NULL argument). */
int kura_schnorr_verify(const kura_ctx *ctx, const uint8_t sig[64], const uint8_t *msg,
                        size_t msg_len, const uint8_t xonly[32]);

/* BIP341 output key: Q = P + int(hashTapTweak(P || merkle_root))G, with
 * merkle_root NULL for a key-path-only output (the root is then omitted from
 * the hash, not zeroed). *parity (may be NULL) gets Q's y parity (0 even, 1
 * odd), the low bit of a script-path control block's first byte. ctx may be
 * NULL. Returns KURA_OK, KURA_EDATA (P not on the curve), KURA_ECRYPTO (tweak
 * out of range) or KURA_EINVAL. out zeroed and *parity 0 on failure. */
int kura_taproot_tweak_pubkey(const kura_ctx *ctx, uint8_t out[32], int *parity,
                              const uint8_t internal[32], const uint8_t *merkle_root);

/* The matching secret key (BIP341 taproot_tweak_seckey): negates priv if its
 * point has odd y, then adds the tweak of its x-only key and merkle_root
 * (NULL as above). Needs ctx. Returns KURA_OK, KURA_ECRYPTO or KURA_EINVAL;
 * out zeroed on failure. */
int kura_taproot_tweak_privkey(const kura_ctx *ctx, uint8_t out[32], const uint8_t priv[32],
                               const uint8_t *merkle_root);

/* WIF (Base58Check 0x80/0xef || key [|| 0x01]). Decode gives the key, whether
 * it was marked compressed (1) or not (0), and its network (TESTNET for 0xef,
 * which testnet, signet and regtest share).
 * Returns KURA_OK, KURA_EDATA (bad Base58Check, version, length, compression
 * flag, or a key out of range) or KURA_EINVAL (NULL argument). On failure priv
 * is zeroed, *compressed 0 and *network MAINNET. priv is a secret: wipe it. */
int kura_wif_decode(uint8_t priv[32], int *compressed, kura_network *network, const char *wif,
                    kura_error *err);
/* Encodes priv as WIF into out (51 chars uncompressed, 52 compressed, and a
 * NUL: out_len >= 53 always suffices). REGTEST encodes like TESTNET.
 * Returns KURA_OK or KURA_EINVAL (out too small, unknown network, priv out of
 * range, NULL argument); out holds "" on failure. The output is a secret. */
int kura_wif_encode(char *out, size_t out_len, const uint8_t priv[32], int compressed,
                    kura_network network);

/* ---- BIP32 ---- */

#define KURA_BIP32_HARDENED 0x80000000u
#define KURA_BIP32_SERIALIZED_LEN 112 /* enough for any Base58 xpub/xprv and NUL */
#define KURA_BIP32_PATH_MAX 64        /* deepest path kura accepts */

/* An extended key. `priv` is meaningful only when has_private is 1; a public
 * key has it zeroed. Wipe with kura_bip32_wipe when it held a private key.
 * A plain value: copy it with `=`; it owns no memory. */
typedef struct kura_bip32_key {
    kura_network network;           /* MAINNET (xpub/xprv) or TESTNET (tpub/tprv);
                                       REGTEST serializes as TESTNET */
    uint8_t depth;                  /* 0 for a master key */
    uint8_t parent_fingerprint[4];  /* first 4 bytes of HASH160(parent pub); 0 for a master */
    uint32_t child_number;          /* index of this key under its parent, hardened bit included */
    uint8_t chain_code[32];         /* secret when has_private is 1 */
    uint8_t pub[33];                /* always set, compressed */
    uint8_t priv[32];               /* the secret key when has_private is 1, else zeros */
    int has_private;                /* 1 for an xprv, 0 for an xpub */
} kura_bip32_key;

/* Master key from a 16..64 byte seed (BIP32 "Master key generation"). Needs
 * ctx. Returns KURA_OK, KURA_EINVAL (seed length, NULL argument, unknown
 * network) or KURA_ECRYPTO (invalid master, astronomically unlikely). out is
 * wiped on failure. */
int kura_bip32_from_seed(const kura_ctx *ctx, kura_bip32_key *out, const uint8_t *seed,
                         size_t seed_len, kura_network network);

/* Parses an xpub/xprv/tpub/tprv string, refusing every invalid-key case of BIP32
 * test vector 5 (unknown version, bad checksum, zero depth with non-zero parent
 * or index, private key prefix not 0x00, key out of range, invalid point,
 * wrong length). Regtest keys use the testnet prefixes, so they parse as
 * TESTNET. ctx may be NULL for an xpub/tpub; an xprv/tprv needs it (to compute
 * the public key) and gives KURA_EINVAL without it. Returns KURA_OK, KURA_EDATA
 * or KURA_EINVAL; out wiped on failure. */
int kura_bip32_parse(const kura_ctx *ctx, kura_bip32_key *out, const char *str, kura_error *err);

/* Writes the Base58 form; `private_` 1 writes xprv/tprv, 0 xpub/tpub.
 * out_len >= KURA_BIP32_SERIALIZED_LEN suffices (111 chars and a NUL).
 * Returns KURA_OK or KURA_EINVAL (private_ for a key without one, unknown
 * network, out too small, NULL argument); out holds "" on failure. */
int kura_bip32_serialize(char *out, size_t out_len, const kura_bip32_key *key, int private_);

/* CKDpriv (parent has a private key) or CKDpub (it does not) for one index.
 * Public derivation needs no private key and no context (ctx may be NULL);
 * private derivation needs ctx. out may be the same object as parent.
 * Returns KURA_OK; KURA_EINVAL for a hardened index from a public parent, a
 * parent at depth 255, a missing ctx or a NULL argument; KURA_ECRYPTO for the
 * 1-in-2^127 invalid child (BIP32 says: skip to the next index). out wiped on
 * failure. */
int kura_bip32_derive(const kura_ctx *ctx, kura_bip32_key *out, const kura_bip32_key *parent,
                      uint32_t index);

/* The compressed public keys of the count consecutive non-hardened children
 * first, first+1, ... of parent (public or private), into out[0..count): the
 * fast path for scanning addresses (the parent point is decompressed once and
 * the HMAC key schedule computed once, no child structs are built). Gives the
 * same keys as kura_bip32_derive for each index. ctx may be NULL.
 * Returns KURA_OK; KURA_EINVAL (an index would reach 2^31, parent at depth
 * 255 or with an invalid pub, NULL argument); KURA_ECRYPTO if one child is
 * the 1-in-2^127 invalid key (derive that range one by one to skip it). On
 * failure out[0..count) is zeroed. */
int kura_bip32_derive_pubkeys(const kura_ctx *ctx, uint8_t (*out)[33],
                              const kura_bip32_key *parent, uint32_t first, size_t count);

/* Derives along path[0..path_len) (path_len <= KURA_BIP32_PATH_MAX; 0 copies
 * parent). ctx as for kura_bip32_derive. out may be the same object as parent.
 * Returns as kura_bip32_derive; out wiped on failure. */
int kura_bip32_derive_path(const kura_ctx *ctx, kura_bip32_key *out,
                           const kura_bip32_key *parent, const uint32_t *path, size_t path_len);

/* The public counterpart (xprv -> xpub) into out (which may be key itself):
 * priv zeroed, has_private 0. A NULL key wipes out; a NULL out does nothing. */
void kura_bip32_neuter(kura_bip32_key *out, const kura_bip32_key *key);

/* First 4 bytes of HASH160(pub): the fingerprint children name as parent and
 * descriptors use in key origins. Returns KURA_OK, KURA_ECRYPTO (hash
 * failure; out zeroed) or KURA_EINVAL. */
int kura_bip32_fingerprint(uint8_t out[4], const kura_bip32_key *key);

/* Parses "m/44'/0h/1/2" or "44'/0h" (with or without "m/"; ' h H mark
 * hardened) into path[0..path_max). "m" and "" are the empty path. Each step
 * is decimal without sign or leading zeros, below 2^31 before hardening.
 * Returns KURA_OK, KURA_EDATA (syntax, index >= 2^31), KURA_ERANGE (more steps
 * than path_max) or KURA_EINVAL (NULL argument). On failure *path_len is 0
 * and path[0..path_max) zeroed. */
int kura_bip32_path_parse(uint32_t *path, size_t path_max, size_t *path_len, const char *str,
                          kura_error *err);

/* Formats a path as "m/84h/0h/0h/1/5" ("m" for the empty path) into out.
 * Returns KURA_OK or KURA_EINVAL (out too small, NULL argument); out holds ""
 * on failure. 12 chars per step plus 2 always suffice. */
int kura_bip32_path_format(char *out, size_t out_len, const uint32_t *path, size_t path_len);

/* Wipes a key (private material included). NULL is a no-op. */
void kura_bip32_wipe(kura_bip32_key *key);

/* ---- BIP39 ---- */

/* The English word list: index 0..2047 -> word (static storage, not to be
 * freed). NULL for an index out of range. Not constant-time: for display. */
const char *kura_bip39_word(unsigned index);

/* Mnemonic for 16/20/24/28/32 bytes of entropy, words joined by single spaces,
 * into out (NUL-terminated). out_len must be at least 9 bytes per word (12
 * words: 108; 24 words: 216), whatever the words turn out to be, so that the
 * buffer needed reveals nothing about the secret. The lookup is constant-time.
 * Returns KURA_OK or KURA_EINVAL (entropy length, out too small, NULL
 * argument). out wiped on failure. The output is a secret. */
int kura_bip39_from_entropy(char *out, size_t out_len, const uint8_t *entropy, size_t len);

/* Checks an English mnemonic: 12, 15, 18, 21 or 24 lower-case words from the
 * list, separated by single ASCII spaces with none leading or trailing, and a
 * correct checksum. Writes the entropy to out (32 bytes always suffice) and
 * its length to *written. Returns KURA_OK, KURA_EDATA (naming the reason and,
 * for an unknown word, its position: never the word itself, which may be a
 * secret) or KURA_EINVAL (out too small, NULL argument). On failure out is
 * wiped and *written is 0. */
int kura_bip39_to_entropy(uint8_t *out, size_t out_len, size_t *written, const char *mnemonic,
                          kura_error *err);

/* The 64-byte seed: PBKDF2-HMAC-SHA512(NFKD(mnemonic), "mnemonic" ||
 * NFKD(passphrase), 2048). passphrase may be NULL (empty). Both are UTF-8 and
 * normalised with libunistring, so any language's list works. Does not check
 * the mnemonic's words or checksum (call kura_bip39_to_entropy for that).
 * Returns KURA_OK, KURA_EDATA (not valid UTF-8), KURA_ENOMEM, KURA_ECRYPTO
 * (PBKDF2 failure) or KURA_EINVAL (NULL seed or mnemonic). seed wiped on
 * failure; the normalised copies are wiped before they are freed. */
int kura_bip39_to_seed(uint8_t seed[64], const char *mnemonic, const char *passphrase,
                       kura_error *err);

#ifdef __cplusplus
}
#endif

#endif /* KURA_KEYS_H */
