/* Hash wrappers against published test values (FIPS 180 "abc", the RIPEMD-160
 * paper, RFC 4231 case 2, BIP340's tagged-hash definition). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "kura/hash.h"
#include "testutil.h"

static void test_sha256(void **state)
{
    (void)state;
    uint8_t out[32], want[32];
    kura_sha256(out, (const uint8_t *)"abc", 3);
    tu_unhex_fixed("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, 32);
    tu_assert_bytes_equal(out, 32, want, 32);
    kura_sha256(out, NULL, 0);
    tu_unhex_fixed("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want, 32);
    tu_assert_bytes_equal(out, 32, want, 32);
}

static void test_sha256d_and_incremental(void **state)
{
    (void)state;
    uint8_t once[32], twice[32], inc[32];
    kura_sha256_ctx ctx;
    kura_sha256(once, (const uint8_t *)"hello", 5);
    kura_sha256(twice, once, 32);
    kura_sha256d(inc, (const uint8_t *)"hello", 5);
    tu_assert_bytes_equal(inc, 32, twice, 32);
    kura_sha256_init(&ctx);
    kura_sha256_update(&ctx, (const uint8_t *)"he", 2);
    kura_sha256_update(&ctx, NULL, 0);
    kura_sha256_update(&ctx, (const uint8_t *)"llo", 3);
    kura_sha256_final(&ctx, inc);
    tu_assert_bytes_equal(inc, 32, once, 32);
}

/* The published SHA-256 vectors of FIPS 180-2 (appendix B.2, the two-block
 * message; B.3, one million 'a'), and libcrypto's SHA-256 held against
 * libsodium's, an independent implementation, at every length up to three
 * blocks and around the padding boundaries (55, 56, 63, 64 bytes), one-shot
 * and double. */
static void test_sha256_fips_and_libsodium(void **state)
{
    (void)state;
    uint8_t out[32], want[32], buf[200], a[32], b[32];
    static const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    kura_sha256(out, (const uint8_t *)two, strlen(two));
    tu_unhex_fixed("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", want, 32);
    tu_assert_bytes_equal(out, 32, want, 32);
    uint8_t *million = malloc(1000000);
    assert_non_null(million);
    memset(million, 'a', 1000000);
    kura_sha256(out, million, 1000000);
    free(million);
    tu_unhex_fixed("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", want, 32);
    tu_assert_bytes_equal(out, 32, want, 32);
    for (size_t i = 0; i < sizeof(buf); i++) buf[i] = (uint8_t)(i * 7 + 3);
    for (size_t len = 0; len <= sizeof(buf); len++) {
        kura_sha256(a, buf, len);
        crypto_hash_sha256(b, buf, len);
        tu_assert_bytes_equal(a, 32, b, 32);
        kura_sha256d(a, buf, len);
        crypto_hash_sha256(b, b, 32);
        tu_assert_bytes_equal(a, 32, b, 32);
    }
}

/* kura_sha256d_64 equals kura_sha256d of each 64-byte input, in place too;
 * kura_sha256d_spans equals kura_sha256d of the concatenation. */
static void test_sha256d_64_and_spans(void **state)
{
    (void)state;
    enum { N = 9 };
    uint8_t in[N * 64], out[N * 32], want[N * 32], buf[N * 64];
    for (size_t i = 0; i < sizeof(in); i++) in[i] = (uint8_t)(i * 13 + 1);
    for (size_t i = 0; i < N; i++) kura_sha256d(want + 32 * i, in + 64 * i, 64);
    kura_sha256d_64(out, in, N);
    tu_assert_bytes_equal(out, sizeof(out), want, sizeof(want));
    memcpy(buf, in, sizeof(in));
    kura_sha256d_64(buf, buf, N); /* in place, as a merkle level */
    tu_assert_bytes_equal(buf, sizeof(out), want, sizeof(want));
    kura_sha256d_64(out, in, 0); /* nothing to do */

    uint8_t a[32], b[32];
    const kura_hash_span spans[4] = {{in, 4}, {NULL, 0}, {in + 4, 300}, {in + 304, 4}};
    kura_sha256d_spans(a, spans, 4);
    kura_sha256d(b, in, 308);
    tu_assert_bytes_equal(a, 32, b, 32);
    kura_sha256d_spans(a, NULL, 0);
    kura_sha256d(b, NULL, 0);
    tu_assert_bytes_equal(a, 32, b, 32);
}

static void test_ripemd160_hash160(void **state)
{
    (void)state;
    uint8_t out[20], want[20];
    assert_int_equal(kura_ripemd160(out, (const uint8_t *)"abc", 3), KURA_OK);
    tu_unhex_fixed("8eb208f7e05d987a9b044a8e98c6b087f15a0bfc", want, 20);
    tu_assert_bytes_equal(out, 20, want, 20);
    assert_int_equal(kura_ripemd160(out, NULL, 0), KURA_OK);
    tu_unhex_fixed("9c1185a5c5e9fc54612808977ee8f548b2258d31", want, 20);
    tu_assert_bytes_equal(out, 20, want, 20);
    /* HASH160 of the compressed generator point, a well-known value. */
    uint8_t g[33];
    tu_unhex_fixed("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798", g, 33);
    assert_int_equal(kura_hash160(out, g, 33), KURA_OK);
    tu_unhex_fixed("751e76e8199196d454941c45d1b3a323f1433bd6", want, 20);
    tu_assert_bytes_equal(out, 20, want, 20);
}

/* RIPEMD-160's (and SHA-256's) implementation is fetched from OpenSSL once per process, by
 * whichever thread hashes first. Run first in this file, so that the threads
 * race for that fetch: each must get the right value every time. */
#define RACE_THREADS 4
#define RACE_ROUNDS 200

static void *race_hash160(void *arg)
{
    static const uint8_t want[20] = {0x75, 0x1e, 0x76, 0xe8, 0x19, 0x91, 0x96, 0xd4, 0x54, 0x94,
                                     0x1c, 0x45, 0xd1, 0xb3, 0xa3, 0x23, 0xf1, 0x43, 0x3b, 0xd6};
    const uint8_t *g = arg;
    uintptr_t bad = 0;
    for (int i = 0; i < RACE_ROUNDS; i++) {
        uint8_t out[20];
        if (kura_hash160(out, g, 33) != KURA_OK || memcmp(out, want, 20) != 0) bad++;
    }
    return (void *)bad;
}

static void test_ripemd160_threads(void **state)
{
    (void)state;
    pthread_t t[RACE_THREADS];
    uint8_t g[33];
    tu_unhex_fixed("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798", g, 33);
    for (int i = 0; i < RACE_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, race_hash160, g), 0);
    for (int i = 0; i < RACE_THREADS; i++) {
        void *bad = NULL;
        assert_int_equal(pthread_join(t[i], &bad), 0);
        assert_null(bad);
    }
}

static void test_tagged_hash(void **state)
{
    (void)state;
    uint8_t out[32], manual[32], tag[32], buf[64 + 3];
    kura_tagged_hash(out, "BIP0340/challenge", (const uint8_t *)"xyz", 3);
    kura_sha256(tag, (const uint8_t *)"BIP0340/challenge", strlen("BIP0340/challenge"));
    memcpy(buf, tag, 32);
    memcpy(buf + 32, tag, 32);
    memcpy(buf + 64, "xyz", 3);
    kura_sha256(manual, buf, sizeof(buf));
    tu_assert_bytes_equal(out, 32, manual, 32);
}

static void test_hmac_sha512_rfc4231(void **state)
{
    (void)state;
    uint8_t out[64], want[64];
    const char *data = "what do ya want for nothing?";
    kura_hmac_sha512(out, (const uint8_t *)"Jefe", 4, (const uint8_t *)data, strlen(data));
    tu_unhex_fixed("164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
                   "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
                   want, 64);
    tu_assert_bytes_equal(out, 64, want, 64);
}

static void test_pbkdf2_sha512(void **state)
{
    (void)state;
    uint8_t out[64], want[64];
    /* The first BIP39 vector: all-zero entropy, passphrase "TREZOR". */
    const char *m = "abandon abandon abandon abandon abandon abandon abandon abandon abandon "
                    "abandon abandon about";
    assert_int_equal(kura_pbkdf2_sha512(out, 64, (const uint8_t *)m, strlen(m),
                                        (const uint8_t *)"mnemonicTREZOR", 14, 2048),
                     KURA_OK);
    tu_unhex_fixed("c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a698"
                   "7599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04",
                   want, 64);
    tu_assert_bytes_equal(out, 64, want, 64);
    assert_int_equal(kura_pbkdf2_sha512(out, 0, NULL, 0, NULL, 0, 1), KURA_EINVAL);
    assert_int_equal(kura_pbkdf2_sha512(out, 64, NULL, 0, NULL, 0, 0), KURA_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ripemd160_threads), /* first: see its comment */
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_sha256d_and_incremental),
        cmocka_unit_test(test_sha256_fips_and_libsodium),
        cmocka_unit_test(test_sha256d_64_and_spans),
        cmocka_unit_test(test_ripemd160_hash160),
        cmocka_unit_test(test_tagged_hash),
        cmocka_unit_test(test_hmac_sha512_rfc4231),
        cmocka_unit_test(test_pbkdf2_sha512),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
