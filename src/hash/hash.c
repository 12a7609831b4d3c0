/* src/hash/hash.c — thin, checked wrappers over libsodium and libcrypto. */
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "internal.h"
#include "kura/hash.h"

_Static_assert(sizeof(kura_sha256_ctx) >= sizeof(crypto_hash_sha256_state),
               "kura_sha256_ctx too small for libsodium's state");

void kura_sha256(uint8_t out[32], const uint8_t *data, size_t len)
{
    crypto_hash_sha256(out, data, len);
}

void kura_sha256d(uint8_t out[32], const uint8_t *data, size_t len)
{
    uint8_t once[32];
    crypto_hash_sha256(once, data, len);
    crypto_hash_sha256(out, once, sizeof(once));
}

void kura_sha512(uint8_t out[64], const uint8_t *data, size_t len)
{
    crypto_hash_sha512(out, data, len);
}

/* OpenSSL 3's RIPEMD-160, fetched from the default provider once per
 * process. EVP_Digest with the legacy EVP_ripemd160() handle fetches the
 * implementation again on every call (a method-store lookup under a lock),
 * which cost several times the hash itself on the signer's hot path
 * (HASH160 of every key it considers). The fetched EVP_MD is immutable and
 * reference-counted by OpenSSL, so sharing it between threads is safe; it is
 * written exactly once, under pthread_once, and never freed (it lives as
 * long as the process). If the fetch fails (OpenSSL before 3.0.7 keeps
 * RIPEMD-160 in the legacy provider), the legacy handle is used, as before. */
static pthread_once_t ripemd160_once = PTHREAD_ONCE_INIT;
static EVP_MD *ripemd160_md;

static void ripemd160_fetch(void)
{
    ripemd160_md = EVP_MD_fetch(NULL, "RIPEMD160", NULL);
}

int kura_ripemd160(uint8_t out[20], const uint8_t *data, size_t len)
{
    unsigned int written = 0;
    static const uint8_t empty = 0;
    const EVP_MD *md;
    /* RIPEMD-160 is in OpenSSL 3's default provider since 3.0.7. */
    if (pthread_once(&ripemd160_once, ripemd160_fetch) != 0) {
        memset(out, 0, 20);
        return KURA_ECRYPTO;
    }
    md = ripemd160_md != NULL ? ripemd160_md : EVP_ripemd160();
    if (EVP_Digest(data != NULL ? data : &empty, len, out, &written, md, NULL) != 1 ||
        written != 20) {
        memset(out, 0, 20);
        return KURA_ECRYPTO;
    }
    return KURA_OK;
}

int kura_hash160(uint8_t out[20], const uint8_t *data, size_t len)
{
    uint8_t sha[32];
    kura_sha256(sha, data, len);
    return kura_ripemd160(out, sha, sizeof(sha));
}

void kura_sha256_init(kura_sha256_ctx *ctx)
{
    crypto_hash_sha256_init((crypto_hash_sha256_state *)(void *)ctx);
}

void kura_sha256_init_tagged(kura_sha256_ctx *ctx, const char *tag)
{
    uint8_t tag_hash[32];
    kura_sha256(tag_hash, (const uint8_t *)tag, strlen(tag));
    kura_sha256_init(ctx);
    kura_sha256_update(ctx, tag_hash, 32);
    kura_sha256_update(ctx, tag_hash, 32);
}

void kura_sha256_update(kura_sha256_ctx *ctx, const uint8_t *data, size_t len)
{
    if (len == 0) return;
    crypto_hash_sha256_update((crypto_hash_sha256_state *)(void *)ctx, data, len);
}

void kura_sha256_final(kura_sha256_ctx *ctx, uint8_t out[32])
{
    crypto_hash_sha256_final((crypto_hash_sha256_state *)(void *)ctx, out);
}

void kura_tagged_hash(uint8_t out[32], const char *tag, const uint8_t *data, size_t len)
{
    kura_sha256_ctx ctx;
    kura_sha256_init_tagged(&ctx, tag);
    kura_sha256_update(&ctx, data, len);
    kura_sha256_final(&ctx, out);
}

void kura_hmac_sha512(uint8_t out[64], const uint8_t *key, size_t key_len, const uint8_t *data,
                      size_t len)
{
    crypto_auth_hmacsha512_state st;
    crypto_auth_hmacsha512_init(&st, key, key_len);
    if (len > 0) crypto_auth_hmacsha512_update(&st, data, len);
    crypto_auth_hmacsha512_final(&st, out);
    sodium_memzero(&st, sizeof(st)); /* the state holds key material */
}

int kura_pbkdf2_sha512(uint8_t *out, size_t out_len, const uint8_t *pass, size_t pass_len,
                       const uint8_t *salt, size_t salt_len, uint32_t iterations)
{
    static const uint8_t empty = 0;
    if (out == NULL || out_len == 0 || iterations == 0 || out_len > INT32_MAX ||
        pass_len > INT32_MAX || salt_len > INT32_MAX || iterations > INT32_MAX)
        return KURA_EINVAL;
    if (PKCS5_PBKDF2_HMAC((const char *)(pass != NULL ? pass : &empty), (int)pass_len,
                          salt != NULL ? salt : &empty, (int)salt_len, (int)iterations,
                          EVP_sha512(), (int)out_len, out) != 1) {
        sodium_memzero(out, out_len);
        return KURA_ECRYPTO;
    }
    return KURA_OK;
}
