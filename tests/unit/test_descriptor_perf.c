/* Derivation speed: 10,000 P2WPKH addresses from wpkh(xpub/0/wildcard) must
 * go faster than 30,000 per second on one core. The rate is only asserted in
 * an unsanitized build (ASan/UBSan slow everything several-fold); it is
 * always printed. The first addresses are checked against BIP84. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kura/descriptor.h"
#include "kura/encoding.h"
#include "kura/keys.h"
#include "kura/script.h"
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

#define COUNT 10000
#define MIN_RATE 30000.0

/* BIP84 account 0 of "abandon ... about", written as zprv in the BIP. */
#define BIP84_ZPRV "zprvAdG4iTXWBoARxkkzNpNh8r6Qag3irQB8PzEMkAFeTRXxHpbF9z4QgEvBRmfvqWvGp42t42nvgGpNgYSJA9iefm1yYNZKEm7z6qUWCroSQnE"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const char *what, double seconds)
{
    double rate = COUNT / seconds;
    print_message("descriptor perf: %s: %d in %.3f s = %.0f/s%s\n", what, COUNT, seconds, rate,
                  SANITIZED ? " (sanitized build: not asserted)" : "");
    if (!SANITIZED && rate < MIN_RATE) fail_msg("%s: %.0f/s is under %.0f/s", what, rate, MIN_RATE);
}

static void test_wpkh_rate(void **state)
{
    kura_ctx *ctx = kura_ctx_new();
    kura_bip32_key key, pub;
    uint8_t raw[82];
    size_t n = 0;
    char xprv[128], xpub[KURA_BIP32_SERIALIZED_LEN], text[256], addr[KURA_ADDRESS_MAX];
    kura_descriptor *d = NULL;
    kura_descriptor_output *out = kura_descriptor_output_new();
    double t0;
    size_t checksum = 0;
    (void)state;
    assert_non_null(ctx);
    assert_non_null(out);

    /* zprv -> xprv (version bytes only), then its xpub. */
    assert_int_equal(kura_base58check_decode(raw, sizeof(raw), &n, BIP84_ZPRV, NULL), KURA_OK);
    raw[0] = 0x04;
    raw[1] = 0x88;
    raw[2] = 0xad;
    raw[3] = 0xe4;
    assert_int_equal(kura_base58check_encode(xprv, sizeof(xprv), raw, n), KURA_OK);
    assert_int_equal(kura_bip32_parse(ctx, &key, xprv, NULL), KURA_OK);
    kura_bip32_neuter(&pub, &key);
    kura_bip32_wipe(&key);
    assert_int_equal(kura_bip32_serialize(xpub, sizeof(xpub), &pub, 0), KURA_OK);
    snprintf(text, sizeof(text), "wpkh(%s/0/*)", xpub);
    assert_int_equal(kura_descriptor_parse(ctx, &d, text, strlen(text), NULL), KURA_OK);

    /* BIP84 m/84'/0'/0'/0/0 and /0/1. */
    assert_int_equal(kura_descriptor_address(ctx, addr, sizeof(addr), d, 0, 0, KURA_NETWORK_MAINNET,
                                             NULL),
                     KURA_OK);
    assert_string_equal(addr, "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu");
    assert_int_equal(kura_descriptor_address(ctx, addr, sizeof(addr), d, 0, 1, KURA_NETWORK_MAINNET,
                                             NULL),
                     KURA_OK);
    assert_string_equal(addr, "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g");

    /* The fast child step agrees with kura_bip32_derive, key by key. */
    for (uint32_t i = 0; i < 300; i++) {
        kura_bip32_key child;
        const uint32_t path[2] = {0, i * 7919u};
        assert_int_equal(kura_bip32_derive_path(ctx, &child, &pub, path, 2), KURA_OK);
        assert_int_equal(kura_descriptor_derive(ctx, out, d, 0, path[1], NULL), KURA_OK);
        assert_memory_equal(out->keys[0].pubkey, child.pub, 33);
    }

    t0 = now();
    for (uint32_t i = 0; i < COUNT; i++) {
        if (kura_descriptor_address(ctx, addr, sizeof(addr), d, 0, i, KURA_NETWORK_MAINNET, NULL) !=
            KURA_OK) {
            fail_msg("address %u failed", (unsigned)i);
        }
        checksum += (unsigned char)addr[10];
    }
    report("kura_descriptor_address", now() - t0);

    t0 = now();
    for (uint32_t i = 0; i < COUNT; i++) {
        uint8_t spk[KURA_SCRIPT_PUBKEY_MAX];
        size_t len = 0;
        if (kura_descriptor_script_pubkey(ctx, spk, sizeof(spk), &len, d, 0, i, NULL) != KURA_OK) {
            fail_msg("script %u failed", (unsigned)i);
        }
        checksum += spk[5];
    }
    report("kura_descriptor_script_pubkey", now() - t0);

    t0 = now();
    for (uint32_t i = 0; i < COUNT; i++) {
        if (kura_descriptor_derive(ctx, out, d, 0, i, NULL) != KURA_OK) {
            fail_msg("derive %u failed", (unsigned)i);
        }
        checksum += out->keys[0].pubkey[7];
    }
    report("kura_descriptor_derive (reused output)", now() - t0);
    assert_true(checksum > 0);

    kura_descriptor_free(d);
    kura_descriptor_output_free(out);
    kura_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wpkh_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
