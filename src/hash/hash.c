/* src/hash/hash.c — thin, checked wrappers over libsodium and libcrypto. */
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "internal.h"
#include "kura/hash.h"

_Static_assert(sizeof(kura_sha256_ctx) >= sizeof(crypto_hash_sha256_state),
               "kura_sha256_ctx too small for libsodium's state");

/* SHA-256 comes from OpenSSL 3's libcrypto, which uses the CPU's SHA
 * extensions (SHA-NI, ARMv8 SHA2) where it has them: measured here about 5x
 * libsodium's portable C on a 1 MB block, and 2.5x on the 64-byte inputs of
 * the merkle tree, where the per-call overhead dominates (bench/README.md,
 * measurement 8). The implementation is fetched from the default provider
 * once per process: EVP_Digest with the legacy EVP_sha256() handle fetches it
 * again on every call (a method-store lookup under a lock), which doubled the
 * cost of a 64-byte hash. The fetched EVP_MD is immutable and
 * reference-counted by OpenSSL, so sharing it between threads is safe; it is
 * written exactly once, under pthread_once, and never freed. The one-shot
 * SHA256() of OpenSSL 3 fetches on every call too, and SHA256_Init & co. are
 * deprecated. Should libcrypto fail (no provider, no memory), each function
 * falls back to libsodium's SHA-256, which cannot fail, so the API keeps its
 * void results. The incremental kura_sha256_ctx stays on libsodium: its state
 * lives in the caller's fixed-size struct, with no free to release an
 * EVP_MD_CTX. */
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256_evp(void)
{
    if (pthread_once(&sha256_once, sha256_fetch) != 0) return NULL;
    return sha256_md;
}

/* One SHA-256 with a context the caller reuses (no allocation per hash).
 * Returns 1 on success. */
static int evp_sha256(EVP_MD_CTX *ctx, const EVP_MD *md, uint8_t out[32], const uint8_t *data,
                      size_t len)
{
    unsigned int written = 0;
    if (EVP_DigestInit_ex2(ctx, md, NULL) != 1) return 0;
    if (len > 0 && EVP_DigestUpdate(ctx, data, len) != 1) return 0;
    return EVP_DigestFinal_ex(ctx, out, &written) == 1 && written == 32;
}

void kura_sha256(uint8_t out[32], const uint8_t *data, size_t len)
{
    static const uint8_t empty = 0;
    unsigned int written = 0;
    const EVP_MD *md = sha256_evp();
    if (md != NULL &&
        EVP_Digest(data != NULL ? data : &empty, len, out, &written, md, NULL) == 1 &&
        written == 32)
        return;
    crypto_hash_sha256(out, data, len);
}

void kura_sha256d(uint8_t out[32], const uint8_t *data, size_t len)
{
    uint8_t once[32];
    const EVP_MD *md = sha256_evp();
    EVP_MD_CTX *ctx = md != NULL ? EVP_MD_CTX_new() : NULL;
    /* One context for both hashes: a third cheaper than two EVP_Digest. */
    if (ctx == NULL || !evp_sha256(ctx, md, once, data, len) ||
        !evp_sha256(ctx, md, out, once, sizeof(once))) {
        crypto_hash_sha256(once, data, len);
        crypto_hash_sha256(out, once, sizeof(once));
    }
    EVP_MD_CTX_free(ctx); /* cleanses its state; NULL is a no-op */
    sodium_memzero(once, sizeof(once)); /* may hash secrets (xprv checksums) */
}

void kura_sha256d_64(uint8_t *out, const uint8_t *in, size_t count)
{
    uint8_t once[32], twice[32];
    const EVP_MD *md = sha256_evp();
    EVP_MD_CTX *ctx = md != NULL ? EVP_MD_CTX_new() : NULL;
    for (size_t i = 0; i < count; i++) {
        /* Input i is read whole before output i is written, and output i
         * ends at byte 32i + 32 <= 64(i + 1), where input i + 1 starts:
         * hashing in place is safe. */
        const uint8_t *p = in + 64 * i;
        if (ctx == NULL || !evp_sha256(ctx, md, once, p, 64) ||
            !evp_sha256(ctx, md, twice, once, 32)) {
            crypto_hash_sha256(once, p, 64);
            crypto_hash_sha256(twice, once, 32);
        }
        memcpy(out + 32 * i, twice, 32);
    }
    EVP_MD_CTX_free(ctx);
    sodium_memzero(once, sizeof(once));
    sodium_memzero(twice, sizeof(twice));
}

void kura_sha256d_spans(uint8_t out[32], const kura_hash_span *spans, size_t count)
{
    uint8_t once[32];
    unsigned int written = 0;
    const EVP_MD *md = sha256_evp();
    EVP_MD_CTX *ctx = md != NULL ? EVP_MD_CTX_new() : NULL;
    int ok = ctx != NULL && EVP_DigestInit_ex2(ctx, md, NULL) == 1;
    for (size_t i = 0; ok && i < count; i++)
        if (spans[i].len > 0) ok = EVP_DigestUpdate(ctx, spans[i].data, spans[i].len) == 1;
    ok = ok && EVP_DigestFinal_ex(ctx, once, &written) == 1 && written == 32 &&
         evp_sha256(ctx, md, out, once, sizeof(once));
    if (!ok) {
        crypto_hash_sha256_state st;
        crypto_hash_sha256_init(&st);
        for (size_t i = 0; i < count; i++)
            if (spans[i].len > 0) crypto_hash_sha256_update(&st, spans[i].data, spans[i].len);
        crypto_hash_sha256_final(&st, once);
        crypto_hash_sha256(out, once, sizeof(once));
        sodium_memzero(&st, sizeof(st));
    }
    EVP_MD_CTX_free(ctx);
    sodium_memzero(once, sizeof(once));
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
