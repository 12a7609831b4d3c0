/* Hex and Base58Check: base58check.json (valid addresses decode to version ||
 * payload and re-encode to the same string; invalid strings are refused),
 * every extended key of bip32.json as a round trip, and the edge cases: leading
 * zeros, empty input, characters outside the alphabet, bad checksums, buffers
 * too small, over-long strings. */
#include <string.h>

#include "kura/encoding.h"
#include "testutil.h"

/* ---- hex ---- */

static void test_hex_encode(void **state)
{
    (void)state;
    const uint8_t bytes[] = {0x00, 0x01, 0xab, 0xcd, 0xef, 0xff};
    char out[13];
    assert_int_equal(kura_hex_encode(out, sizeof(out), bytes, sizeof(bytes)), KURA_OK);
    assert_string_equal(out, "0001abcdefff");
    /* Exactly 2*len+1 is enough; one less is refused with an empty string. */
    assert_int_equal(kura_hex_encode(out, 12, bytes, sizeof(bytes)), KURA_EINVAL);
    assert_string_equal(out, "");
    assert_int_equal(kura_hex_encode(out, 1, NULL, 0), KURA_OK);
    assert_string_equal(out, "");
    assert_int_equal(kura_hex_encode(out, 0, NULL, 0), KURA_EINVAL);
    assert_int_equal(kura_hex_encode(NULL, 10, bytes, 1), KURA_EINVAL);
    assert_int_equal(kura_hex_encode(out, sizeof(out), NULL, 3), KURA_EINVAL);
    /* A length whose double wraps around size_t must not pass the size check. */
    assert_int_equal(kura_hex_encode(out, sizeof(out), bytes, SIZE_MAX / 2 + 1), KURA_EINVAL);
}

static void test_hex_decode(void **state)
{
    (void)state;
    uint8_t out[8];
    size_t written = 99;
    kura_error err;
    const uint8_t want[] = {0x00, 0x01, 0xab, 0xcd, 0xef, 0xff};

    assert_int_equal(kura_hex_decode(out, sizeof(out), &written, "0001abcdefff", &err), KURA_OK);
    tu_assert_bytes_equal(out, written, want, sizeof(want));
    assert_int_equal(kura_hex_decode(out, sizeof(out), &written, "0001ABCDEFFF", &err), KURA_OK);
    tu_assert_bytes_equal(out, written, want, sizeof(want));
    assert_int_equal(kura_hex_decode(out, sizeof(out), &written, "0001AbCdEfFf", &err), KURA_OK);
    tu_assert_bytes_equal(out, written, want, sizeof(want));
    /* Empty string: zero bytes, even into a zero-length buffer. */
    assert_int_equal(kura_hex_decode(out, sizeof(out), &written, "", &err), KURA_OK);
    assert_int_equal(written, 0);
    assert_int_equal(kura_hex_decode(NULL, 0, &written, "", &err), KURA_OK);

    static const char *const bad[] = {
        "0",      /* odd length */
        "abc",    /* odd length */
        "0g",     /* not a digit */
        "zz",     /* not a digit */
        "00 11",  /* separator (and odd) */
        "00:1122",/* separator */
        "0x0011", /* prefix */
        " 0011 ", /* surrounding space */
        "00\n1",  /* newline */
        "\xc3\xa9", /* non-ASCII */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(out, 0x55, sizeof(out));
        written = 99;
        err.code = 0;
        assert_int_equal(kura_hex_decode(out, sizeof(out), &written, bad[i], &err), KURA_EDATA);
        assert_int_equal(err.code, KURA_EDATA);
        assert_true(strncmp(err.message, "hex: ", 5) == 0);
        assert_int_equal(written, 0);
        for (size_t k = 0; k < sizeof(out); k++) assert_int_equal(out[k], 0); /* cleared */
    }
    /* Buffer too small: misuse, not bad data. */
    assert_int_equal(kura_hex_decode(out, 2, &written, "001122", &err), KURA_EINVAL);
    assert_int_equal(err.code, KURA_EINVAL);
    assert_int_equal(written, 0);
    assert_int_equal(kura_hex_decode(out, 3, &written, "001122", NULL), KURA_OK);
    assert_int_equal(written, 3);
    assert_int_equal(kura_hex_decode(out, sizeof(out), NULL, "00", NULL), KURA_EINVAL);
    assert_int_equal(kura_hex_decode(out, sizeof(out), &written, NULL, NULL), KURA_EINVAL);
}

/* ---- Base58Check ---- */

static void test_base58check_vectors_valid(void **state)
{
    (void)state;
    json_t *root = tu_load_json("base58check.json");
    json_t *valid = json_object_get(root, "valid");
    size_t i, count = 0;
    json_t *v;
    assert_true(json_array_size(valid) == 6);
    json_array_foreach(valid, i, v) {
        const char *address = tu_str(v, "address");
        size_t plen;
        uint8_t *payload = tu_unhex(tu_str(v, "payload"), &plen);
        json_int_t version = json_integer_value(json_object_get(v, "version_byte"));
        uint8_t want[64], out[64];
        size_t written = 0;
        char enc[128];
        kura_error err;

        want[0] = (uint8_t)version;
        memcpy(want + 1, payload, plen);
        assert_int_equal(kura_base58check_decode(out, sizeof(out), &written, address, &err),
                         KURA_OK);
        tu_assert_bytes_equal(out, written, want, plen + 1);
        assert_int_equal(kura_base58check_encode(enc, sizeof(enc), want, plen + 1), KURA_OK);
        assert_string_equal(enc, address);
        /* The P2SH scriptPubKey of the vector holds the same 20 bytes. */
        size_t slen;
        uint8_t *spk = tu_unhex(tu_str(v, "script_pubkey"), &slen);
        assert_int_equal(slen, 23);
        tu_assert_bytes_equal(spk + 2, 20, out + 1, written - 1);
        free(spk);
        free(payload);
        count++;
    }
    assert_int_equal(count, 6);
    json_decref(root);
}

static void test_base58check_vectors_invalid(void **state)
{
    (void)state;
    json_t *root = tu_load_json("base58check.json");
    json_t *invalid = json_object_get(root, "invalid");
    size_t i;
    json_t *v;
    assert_int_equal(json_array_size(invalid), 2);
    json_array_foreach(invalid, i, v) {
        uint8_t out[128];
        size_t written = 7;
        kura_error err = {0, ""};
        assert_int_equal(
            kura_base58check_decode(out, sizeof(out), &written, tu_str(v, "string"), &err),
            KURA_EDATA);
        assert_int_equal(err.code, KURA_EDATA);
        assert_int_equal(written, 0);
    }
    json_decref(root);
}

/* Every extended key string in bip32.json is Base58Check of 78 bytes. */
static void test_base58check_bip32_roundtrip(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bip32.json");
    size_t i, j, count = 0;
    json_t *vec, *chain;
    json_array_foreach(json_object_get(root, "valid"), i, vec) {
        json_array_foreach(json_object_get(vec, "chains"), j, chain) {
            const char *keys[2] = {tu_str(chain, "ext_pub"), tu_str(chain, "ext_prv")};
            for (int k = 0; k < 2; k++) {
                uint8_t out[100];
                size_t written;
                char enc[128];
                assert_int_equal(kura_base58check_decode(out, sizeof(out), &written, keys[k], NULL),
                                 KURA_OK);
                assert_int_equal(written, 78);
                assert_int_equal(kura_base58check_encode(enc, sizeof(enc), out, written), KURA_OK);
                assert_string_equal(enc, keys[k]);
                count++;
            }
        }
    }
    assert_int_equal(count, 34);
    json_decref(root);
}

static void test_base58check_leading_zeros_and_empty(void **state)
{
    (void)state;
    uint8_t zeros[21] = {0};
    uint8_t out[32];
    size_t written;
    char enc[64];
    kura_error err;

    /* Version 0 and HASH160 of all zeros: the well-known burn address, where
     * each of the 21 leading zero bytes is one leading '1'. */
    assert_int_equal(kura_base58check_encode(enc, sizeof(enc), zeros, 21), KURA_OK);
    assert_string_equal(enc, "1111111111111111111114oLvT2");
    assert_int_equal(kura_base58check_decode(out, sizeof(out), &written, enc, &err), KURA_OK);
    tu_assert_bytes_equal(out, written, zeros, 21);

    /* The genesis block's coinbase address: version 0, HASH160 62e907b1...c3. */
    uint8_t genesis[21];
    tu_unhex_fixed("0062e907b15cbf27d5425399ebf6f0fb50ebb88f18", genesis, 21);
    assert_int_equal(kura_base58check_encode(enc, sizeof(enc), genesis, 21), KURA_OK);
    assert_string_equal(enc, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa");
    assert_int_equal(kura_base58check_decode(out, sizeof(out), &written, enc, &err), KURA_OK);
    tu_assert_bytes_equal(out, written, genesis, 21);

    /* An empty payload is only its checksum, SHA256d("")[0..4] = 5df6e0e2. */
    assert_int_equal(kura_base58check_encode(enc, sizeof(enc), NULL, 0), KURA_OK);
    assert_string_equal(enc, "3QJmnh");
    assert_int_equal(kura_base58check_decode(out, sizeof(out), &written, "3QJmnh", &err), KURA_OK);
    assert_int_equal(written, 0);
    assert_int_equal(kura_base58check_decode(NULL, 0, &written, "3QJmnh", &err), KURA_OK);

    /* Strings too short to hold a checksum. */
    static const char *const short_[] = {"", "1", "11", "111", "z", "2g"};
    for (size_t i = 0; i < sizeof(short_) / sizeof(short_[0]); i++) {
        assert_int_equal(kura_base58check_decode(out, sizeof(out), &written, short_[i], &err),
                         KURA_EDATA);
        assert_int_equal(err.code, KURA_EDATA);
    }
    /* Four zero bytes decode but fail the checksum. */
    assert_int_equal(kura_base58check_decode(out, sizeof(out), &written, "1111", &err), KURA_EDATA);
    assert_non_null(strstr(err.message, "checksum"));
}

static void test_base58check_bad_chars(void **state)
{
    (void)state;
    const char *good = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa";
    static const char badc[] = {'0', 'O', 'I', 'l', '+', '/', ' ', '-', '\x80', '\xff'};
    uint8_t out[32];
    size_t written;
    kura_error err;
    char s[64];

    for (size_t c = 0; c < sizeof(badc); c++) {
        /* At the start, in the middle and at the end. */
        size_t positions[3] = {0, 10, strlen(good) - 1};
        for (size_t p = 0; p < 3; p++) {
            strcpy(s, good);
            s[positions[p]] = badc[c];
            memset(out, 0x55, sizeof(out));
            written = 9;
            assert_int_equal(kura_base58check_decode(out, sizeof(out), &written, s, &err),
                             KURA_EDATA);
            assert_int_equal(err.code, KURA_EDATA);
            assert_non_null(strstr(err.message, "invalid character"));
            assert_int_equal(written, 0);
            for (size_t k = 0; k < sizeof(out); k++) assert_int_equal(out[k], 0);
        }
    }
}

static void test_base58check_bad_checksum(void **state)
{
    (void)state;
    const char *good = "39bgKC7RFbpoCRbtD5KEdkYKtNyhpsNa3Z";
    uint8_t out[32];
    size_t written;
    kura_error err;
    char s[64];
    /* Changing any single character breaks the checksum (or the length). */
    for (size_t i = 0; i < strlen(good); i++) {
        strcpy(s, good);
        s[i] = (s[i] == '2') ? '3' : '2';
        assert_int_equal(kura_base58check_decode(out, sizeof(out), &written, s, &err), KURA_EDATA);
        assert_int_equal(err.code, KURA_EDATA);
    }
    /* Dropping or adding a character too. */
    strcpy(s, good);
    s[strlen(s) - 1] = '\0';
    assert_int_equal(kura_base58check_decode(out, sizeof(out), &written, s, &err), KURA_EDATA);
    strcpy(s, good);
    strcat(s, "2");
    assert_int_equal(kura_base58check_decode(out, sizeof(out), &written, s, &err), KURA_EDATA);
}

static void test_base58check_buffers(void **state)
{
    (void)state;
    uint8_t payload[21], out[32];
    size_t written = 5;
    kura_error err;
    char enc[64];
    tu_unhex_fixed("0062e907b15cbf27d5425399ebf6f0fb50ebb88f18", payload, 21);
    /* 34 characters need 35 bytes with the NUL. */
    assert_int_equal(kura_base58check_encode(enc, 34, payload, 21), KURA_EINVAL);
    assert_string_equal(enc, "");
    assert_int_equal(kura_base58check_encode(enc, 35, payload, 21), KURA_OK);
    assert_int_equal(kura_base58check_encode(NULL, 35, payload, 21), KURA_EINVAL);
    assert_int_equal(kura_base58check_encode(enc, 35, NULL, 21), KURA_EINVAL);
    assert_string_equal(enc, ""); /* a failed encode leaves an empty string */
    assert_int_equal(kura_base58check_encode(enc, 35, payload, 21), KURA_OK);
    /* Decode into 20 bytes: too small for 21. */
    assert_int_equal(kura_base58check_decode(out, 20, &written, enc, &err), KURA_EINVAL);
    assert_int_equal(err.code, KURA_EINVAL);
    assert_int_equal(written, 0);
    assert_int_equal(kura_base58check_decode(out, 21, &written, enc, &err), KURA_OK);
    assert_int_equal(written, 21);
    assert_int_equal(kura_base58check_decode(out, 21, NULL, enc, &err), KURA_EINVAL);
    assert_int_equal(kura_base58check_decode(out, 21, &written, NULL, &err), KURA_EINVAL);

    /* 88 bytes is the largest payload that always fits 128 chars: with the
     * checksum, 92 bytes need at most ceil(92 * log(256)/log(58)) = 126
     * characters. (93 bytes can need 128 characters plus the NUL.) */
    uint8_t big[88], back[88];
    for (size_t i = 0; i < sizeof(big); i++) big[i] = (uint8_t)(0xff - i);
    char bigenc[128];
    assert_int_equal(kura_base58check_encode(bigenc, sizeof(bigenc), big, sizeof(big)), KURA_OK);
    assert_int_equal(kura_base58check_decode(back, sizeof(back), &written, bigenc, &err), KURA_OK);
    tu_assert_bytes_equal(back, written, big, sizeof(big));

    /* A very long string is refused without work proportional to its square. */
    char *huge = malloc(100001);
    assert_non_null(huge);
    memset(huge, 'z', 100000);
    huge[100000] = '\0';
    assert_int_equal(kura_base58check_decode(out, sizeof(out), &written, huge, &err), KURA_EDATA);
    free(huge);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_encode),
        cmocka_unit_test(test_hex_decode),
        cmocka_unit_test(test_base58check_vectors_valid),
        cmocka_unit_test(test_base58check_vectors_invalid),
        cmocka_unit_test(test_base58check_bip32_roundtrip),
        cmocka_unit_test(test_base58check_leading_zeros_and_empty),
        cmocka_unit_test(test_base58check_bad_chars),
        cmocka_unit_test(test_base58check_bad_checksum),
        cmocka_unit_test(test_base58check_buffers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
