/*
 * kura/hash.h — the hash functions Bitcoin uses, taken from OpenSSL's libcrypto
 * (SHA-256 one-shot, RIPEMD-160, PBKDF2) and libsodium (incremental SHA-256,
 * SHA-512, HMAC-SHA512). Nothing here is hand-written cryptography.
 *
 * Outputs are fixed-size arrays; the functions cannot fail on valid pointers
 * except where they return an int. `data` may be NULL when `len` is 0.
 */
#ifndef KURA_HASH_H
#define KURA_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "kura/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KURA_SHA256_LEN 32
#define KURA_SHA512_LEN 64
#define KURA_RIPEMD160_LEN 20
#define KURA_HASH160_LEN 20

/* out = SHA256(data). Thread-safe: the first SHA-256 in the process fetches
 * libcrypto's implementation once (pthread_once), and every call reuses it;
 * should libcrypto fail, libsodium's SHA-256 gives the same result. */
void kura_sha256(uint8_t out[32], const uint8_t *data, size_t len);

/* out = SHA256(SHA256(data)), Bitcoin's hash for txids, checksums and BIP143. */
void kura_sha256d(uint8_t out[32], const uint8_t *data, size_t len);

/* SHA256(SHA256(.)) of `count` consecutive 64-byte inputs: out[32i..32i+32) =
 * SHA256d(in[64i..64i+64)) for i < count. `out` holds 32 * count bytes and may
 * be `in` itself (each input is read before its output is written, and
 * output i never reaches input i + 1): one level of a merkle tree, whose
 * pairs of 32-byte hashes lie side by side, hashed in place. Cheaper than
 * `count` calls of kura_sha256d (one libcrypto context for all of them). */
void kura_sha256d_64(uint8_t *out, const uint8_t *in, size_t count);

/* A piece of a message hashed without first copying the pieces together. */
typedef struct kura_hash_span {
    const uint8_t *data; /* may be NULL when len is 0 */
    size_t len;
} kura_hash_span;

/* out = SHA256(SHA256(spans[0] || spans[1] || ... || spans[count-1])): e.g. a
 * segwit transaction's txid from its version, inputs and outputs, and
 * locktime, skipping the marker, flag and witnesses. */
void kura_sha256d_spans(uint8_t out[32], const kura_hash_span *spans, size_t count);

/* out = SHA512(data). */
void kura_sha512(uint8_t out[64], const uint8_t *data, size_t len);

/* out = RIPEMD160(data). Returns KURA_OK, or KURA_ECRYPTO if libcrypto fails
 * (out is then zeroed). Thread-safe: the first call in the process fetches
 * libcrypto's implementation once (pthread_once), and every call reuses it. */
int kura_ripemd160(uint8_t out[20], const uint8_t *data, size_t len);

/* out = RIPEMD160(SHA256(data)): the hash in P2PKH, P2WPKH and P2SH scripts.
 * Returns as kura_ripemd160. */
int kura_hash160(uint8_t out[20], const uint8_t *data, size_t len);

/* The BIP340 tagged hash: SHA256(SHA256(tag) || SHA256(tag) || data).
 * `tag` is a NUL-terminated ASCII tag such as "TapSighash". */
void kura_tagged_hash(uint8_t out[32], const char *tag, const uint8_t *data, size_t len);

/* Incremental SHA-256 (for hashing data that is assembled piecewise, e.g.
 * the BIP143/BIP341 sighash preimages). The state is opaque storage big
 * enough for libsodium's crypto_hash_sha256_state. */
typedef struct kura_sha256_ctx {
    uint64_t opaque[16];
} kura_sha256_ctx;
void kura_sha256_init(kura_sha256_ctx *ctx);
/* Initialises ctx with the BIP340 tagged-hash prefix for `tag` already absorbed. */
void kura_sha256_init_tagged(kura_sha256_ctx *ctx, const char *tag);
void kura_sha256_update(kura_sha256_ctx *ctx, const uint8_t *data, size_t len);
void kura_sha256_final(kura_sha256_ctx *ctx, uint8_t out[32]);

/* out = HMAC-SHA512(key, data). Any key length. */
void kura_hmac_sha512(uint8_t out[64], const uint8_t *key, size_t key_len, const uint8_t *data,
                      size_t len);

/* PBKDF2-HMAC-SHA512 (as in BIP39): out_len bytes derived from pass and salt
 * with `iterations` rounds. Returns KURA_OK, KURA_EINVAL for out_len 0 or
 * iterations 0, or KURA_ECRYPTO if libcrypto fails (out is then zeroed). */
int kura_pbkdf2_sha512(uint8_t *out, size_t out_len, const uint8_t *pass, size_t pass_len,
                       const uint8_t *salt, size_t salt_len, uint32_t iterations);

#ifdef __cplusplus
}
#endif

#endif /* KURA_HASH_H */
