/* bech32/bech32m strings and segwit addresses against every entry of
 * tests/vectors/bech32.json (BIP173 and BIP350 test vectors), plus the
 * encoder's argument checks. Each refusal is checked for its code and for a
 * message that names the vector's reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kura/encoding.h"
#include "testutil.h"

/* The input a C decoder sees for an invalid-string entry: the raw bytes of
 * string_hex when present (README: "Feed string_hex to a C decoder"). Returns
 * a malloc'd NUL-terminated string. */
static char *vector_input(const json_t *v)
{
    const json_t *hex = json_object_get(v, "string_hex");
    if (json_is_string(hex)) {
        size_t n;
        uint8_t *b = tu_unhex(json_string_value(hex), &n);
        char *s = malloc(n + 1);
        assert_non_null(s);
        memcpy(s, b, n);
        s[n] = '\0';
        free(b);
        return s;
    }
    return strdup(tu_str(v, "string"));
}

/* The lower-cased part before the last '1' (the hrp as BIP173 defines it). */
static void hrp_of(char *out, size_t out_len, const char *s)
{
    const char *sep = strrchr(s, '1');
    size_t n;
    assert_non_null(sep);
    n = (size_t)(sep - s);
    assert_true(n < out_len);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = '\0';
}

/* Asserts that err's message contains one of the '|'-separated needles. */
static void assert_message_has(const kura_error *err, const char *needles, const char *input)
{
    char buf[256];
    char *save = NULL;
    snprintf(buf, sizeof(buf), "%s", needles);
    for (char *tok = strtok_r(buf, "|", &save); tok != NULL; tok = strtok_r(NULL, "|", &save)) {
        if (strstr(err->message, tok) != NULL) return;
    }
    fail_msg("input %s: message \"%s\" lacks any of \"%s\"", input, err->message, needles);
}

/* Maps a vector's reason text (its start) to the words kura's message must
 * contain, so a refusal for the wrong reason fails the test. */
struct reason_map {
    const char *reason_prefix;
    const char *needles;
};

static const struct reason_map REASONS[] = {
    {"HRP character out of range", "out of range"},
    {"overall max length exceeded", "longer than 90"},
    {"No separator character", "no separator"},
    {"Empty HRP", "empty human-readable part"},
    {"empty HRP", "empty human-readable part"},
    {"Invalid data character", "invalid data character"},
    {"Too short checksum", "checksum shorter"},
    /* BIP173's "de1lg7wt"+0xFF has a byte outside 33..126; BIP350's have 'i'/'o'. */
    {"Invalid character in checksum", "out of range|invalid data character"},
    {"checksum calculated with uppercase form of HRP", "checksum mismatch"},
    {"Invalid human-readable part", "human-readable part \""},
    {"Invalid checksum (Bech32 instead of Bech32m)", "bech32 checksum on a v"},
    {"Invalid checksum (Bech32m instead of Bech32)", "bech32m checksum on a v0"},
    {"Invalid checksum", "checksum mismatch"},
    {"Invalid witness version", "witness version"},
    {"Invalid program length for witness version 0", "v0 witness program of"},
    {"Invalid program length", "witness program of|witness program longer"},
    {"Mixed case", "mixed upper and lower case"},
    {"zero padding of more than 4 bits", "bits of padding"},
    {"Non-zero padding in 8-to-5 conversion", "non-zero padding"},
    {"Empty data section", "empty data section"},
};

static const char *needles_for(const char *reason)
{
    for (size_t i = 0; i < sizeof(REASONS) / sizeof(REASONS[0]); i++) {
        if (strncmp(reason, REASONS[i].reason_prefix, strlen(REASONS[i].reason_prefix)) == 0)
            return REASONS[i].needles;
    }
    fail_msg("no expected message for vector reason \"%s\"", reason);
    return NULL;
}

/* Valid strings of one variant: decode, check the variant, re-encode and get
 * the lower-cased input back. Returns the count run. */
static size_t run_valid_strings(const json_t *list, kura_bech32_variant want)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        const char *s = json_string_value(v);
        char hrp[84], enc[KURA_BECH32_MAX + 1];
        uint8_t data[82];
        size_t n = 99;
        kura_bech32_variant got = (kura_bech32_variant)0;
        kura_error err = {0};
        char *low;
        assert_non_null(s);
        if (kura_bech32_decode(hrp, sizeof(hrp), data, sizeof(data), &n, &got, s, &err) != KURA_OK)
            fail_msg("valid %s refused: %s", s, err.message);
        assert_int_equal(got, want);
        assert_int_equal(kura_bech32_encode(enc, sizeof(enc), hrp, data, n, got), KURA_OK);
        low = tu_lower_copy(s);
        assert_string_equal(enc, low);
        free(low);
    }
    return json_array_size(list);
}

static size_t run_invalid_strings(const json_t *list)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        char *s = vector_input(v);
        char hrp[84];
        uint8_t data[82];
        size_t n = 99;
        kura_bech32_variant got = KURA_BECH32M;
        kura_error err = {0};
        int rc = kura_bech32_decode(hrp, sizeof(hrp), data, sizeof(data), &n, &got, s, &err);
        if (rc != KURA_EDATA) fail_msg("invalid %s: got %d, want KURA_EDATA", s, rc);
        assert_int_equal(err.code, KURA_EDATA);
        assert_int_equal(strncmp(err.message, "bech32: ", 8), 0);
        assert_message_has(&err, needles_for(tu_str(v, "reason")), s);
        /* A failed call leaves cleared outputs. */
        assert_int_equal(n, 0);
        assert_int_equal((int)got, 0);
        assert_string_equal(hrp, "");
        free(s);
    }
    return json_array_size(list);
}

/* The scriptPubKey of a witness program (BIP141): OP_n, then a direct push. */
static size_t witness_script(uint8_t *out, unsigned version, const uint8_t *prog, size_t len)
{
    out[0] = (uint8_t)(version == 0 ? 0x00 : 0x50 + version);
    out[1] = (uint8_t)len;
    memcpy(out + 2, prog, len);
    return len + 2;
}

/* A segwit address that must be valid: its program makes the vector's
 * scriptPubKey, and it encodes back to the lower-cased address. */
static void check_valid_address(const char *addr, const char *spk_hex)
{
    char hrp[84], enc[KURA_BECH32_MAX + 1], parsed_hrp[84];
    uint8_t prog[40], script[42];
    size_t prog_len = 99, spk_len;
    unsigned version = 99;
    kura_error err = {0};
    uint8_t *spk = tu_unhex(spk_hex, &spk_len);
    char *low = tu_lower_copy(addr);

    hrp_of(hrp, sizeof(hrp), addr);
    if (kura_segwit_address_decode(&version, prog, sizeof(prog), &prog_len, hrp, addr, &err) !=
        KURA_OK)
        fail_msg("valid %s refused: %s", addr, err.message);
    tu_assert_bytes_equal(script, witness_script(script, version, prog, prog_len), spk, spk_len);
    assert_int_equal(
        kura_segwit_address_encode(enc, sizeof(enc), hrp, version, prog, prog_len), KURA_OK);
    assert_string_equal(enc, low);

    /* The any-hrp form agrees and reports the hrp. */
    assert_int_equal(kura_segwit_address_parse(parsed_hrp, sizeof(parsed_hrp), &version, prog,
                                               sizeof(prog), &prog_len, addr, &err),
                     KURA_OK);
    assert_string_equal(parsed_hrp, hrp);
    tu_assert_bytes_equal(script, witness_script(script, version, prog, prog_len), spk, spk_len);

    /* The expected hrp may be given in upper case. */
    for (char *p = hrp; *p != '\0'; p++) *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    assert_int_equal(kura_segwit_address_decode(&version, prog, sizeof(prog), &prog_len, hrp,
                                                addr, &err),
                     KURA_OK);
    free(spk);
    free(low);
}

/* A segwit address that must be refused, for the reason the vector names. */
static void check_invalid_address(const char *addr, const char *reason)
{
    char hrp[84];
    uint8_t prog[40];
    size_t prog_len = 99;
    unsigned version = 99;
    kura_error err = {0};
    const char *needles = needles_for(reason);
    int rc;

    if (strncmp(reason, "Invalid human-readable part", 27) == 0) {
        /* A well-formed address for an unknown hrp: parse accepts it, and
         * decoding it as a mainnet or testnet address is refused. */
        rc = kura_segwit_address_parse(hrp, sizeof(hrp), &version, prog, sizeof(prog), &prog_len,
                                       addr, &err);
        assert_int_equal(rc, KURA_OK);
        assert_string_equal(hrp, "tc");
        static const char *const expected[] = {"bc", "tb", "bcrt"};
        for (size_t i = 0; i < 3; i++) {
            rc = kura_segwit_address_decode(&version, prog, sizeof(prog), &prog_len, expected[i],
                                            addr, &err);
            assert_int_equal(rc, KURA_EDATA);
            assert_message_has(&err, needles, addr);
            assert_int_equal(prog_len, 0);
            assert_int_equal(version, 0);
        }
        return;
    }
    /* Decode with the address's own hrp, so the refusal is not for the hrp. */
    hrp_of(hrp, sizeof(hrp), addr);
    rc = kura_segwit_address_decode(&version, prog, sizeof(prog), &prog_len, hrp, addr, &err);
    if (rc != KURA_EDATA) fail_msg("invalid %s: got %d, want KURA_EDATA", addr, rc);
    assert_int_equal(err.code, KURA_EDATA);
    assert_int_equal(strncmp(err.message, "address: ", 9), 0);
    assert_message_has(&err, needles, addr);
    assert_int_equal(prog_len, 0);
    assert_int_equal(version, 0);
    for (size_t i = 0; i < sizeof(prog); i++) assert_int_equal(prog[i], 0);

    rc = kura_segwit_address_parse(hrp, sizeof(hrp), &version, prog, sizeof(prog), &prog_len,
                                   addr, &err);
    assert_int_equal(rc, KURA_EDATA);
    assert_string_equal(hrp, "");
}

static void test_bip173_strings(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bech32.json");
    const json_t *b = json_object_get(root, "bip173");
    size_t nv = run_valid_strings(json_object_get(b, "bech32_valid"), KURA_BECH32);
    size_t ni = run_invalid_strings(json_object_get(b, "bech32_invalid"));
    assert_int_equal(nv, 7);
    assert_int_equal(ni, 12);
    json_decref(root);
}

static void test_bip350_strings(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bech32.json");
    const json_t *b = json_object_get(root, "bip350");
    size_t nv = run_valid_strings(json_object_get(b, "bech32m_valid"), KURA_BECH32M);
    size_t ni = run_invalid_strings(json_object_get(b, "bech32m_invalid"));
    assert_int_equal(nv, 7);
    assert_int_equal(ni, 14);
    json_decref(root);
}

static void test_bip173_addresses(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bech32.json");
    const json_t *b = json_object_get(root, "bip173");
    size_t i, valid = 0, superseded = 0;
    json_t *v;
    json_array_foreach(json_object_get(b, "segwit_addresses_valid"), i, v) {
        const char *addr = tu_str(v, "address");
        if (json_is_true(json_object_get(v, "valid_under_bip350"))) {
            check_valid_address(addr, tu_str(v, "script_pubkey"));
            valid++;
        } else {
            /* BIP350: v1+ with a bech32 checksum is invalid — but it is still
             * a well-formed bech32 string. */
            char hrp[84];
            uint8_t data[82];
            size_t n;
            kura_bech32_variant variant;
            kura_error err = {0};
            assert_int_equal(
                kura_bech32_decode(hrp, sizeof(hrp), data, sizeof(data), &n, &variant, addr, &err),
                KURA_OK);
            assert_int_equal(variant, KURA_BECH32);
            check_invalid_address(addr, "Invalid checksum (Bech32 instead of Bech32m)");
            superseded++;
        }
    }
    json_array_foreach(json_object_get(b, "segwit_addresses_invalid"), i, v) {
        check_invalid_address(tu_str(v, "address"), tu_str(v, "reason"));
    }
    assert_int_equal(valid, 3);
    assert_int_equal(superseded, 3);
    assert_int_equal(json_array_size(json_object_get(b, "segwit_addresses_invalid")), 10);
    json_decref(root);
}

static void test_bip350_addresses(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bech32.json");
    const json_t *b = json_object_get(root, "bip350");
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(b, "segwit_addresses_valid"), i, v) {
        check_valid_address(tu_str(v, "address"), tu_str(v, "script_pubkey"));
    }
    json_array_foreach(json_object_get(b, "segwit_addresses_invalid"), i, v) {
        check_invalid_address(tu_str(v, "address"), tu_str(v, "reason"));
    }
    assert_int_equal(json_array_size(json_object_get(b, "segwit_addresses_valid")), 8);
    assert_int_equal(json_array_size(json_object_get(b, "segwit_addresses_invalid")), 15);
    json_decref(root);
}

/* The wrong hrp is refused even when everything else is right. */
static void test_segwit_wrong_hrp(void **state)
{
    (void)state;
    uint8_t prog[40];
    size_t n;
    unsigned version;
    kura_error err = {0};
    const char *mainnet = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
    assert_int_equal(kura_segwit_address_decode(&version, prog, sizeof(prog), &n, "tb", mainnet,
                                                &err),
                     KURA_EDATA);
    assert_string_equal(err.message, "address: human-readable part \"bc\", expected \"tb\"");
    assert_int_equal(kura_segwit_address_decode(&version, prog, sizeof(prog), &n, "bcrt",
                                                mainnet, &err),
                     KURA_EDATA);
    /* A prefix of the hrp is not the hrp. */
    assert_int_equal(
        kura_segwit_address_decode(&version, prog, sizeof(prog), &n, "b", mainnet, &err),
        KURA_EDATA);
}

/* Refusals the vectors do not reach: limits on each side of the rules. */
static void test_segwit_edges(void **state)
{
    (void)state;
    uint8_t prog[41], got[40];
    char addr[KURA_BECH32_MAX + 1];
    size_t n;
    unsigned version;
    kura_error err = {0};
    memset(prog, 0xab, sizeof(prog));

    /* Every version and length allowed by BIP141 round-trips; the rest are refused. */
    for (unsigned v = 0; v <= 17; v++) {
        for (size_t len = 0; len <= 41; len++) {
            int ok = v <= 16 && len >= 2 && len <= 40 && (v != 0 || len == 20 || len == 32);
            int rc = kura_segwit_address_encode(addr, sizeof(addr), "bcrt", v, prog, len);
            if (!ok) {
                assert_int_equal(rc, KURA_EINVAL);
                assert_string_equal(addr, "");
                continue;
            }
            assert_int_equal(rc, KURA_OK);
            assert_int_equal(kura_segwit_address_decode(&version, got, sizeof(got), &n, "bcrt",
                                                        addr, &err),
                             KURA_OK);
            assert_int_equal(version, v);
            tu_assert_bytes_equal(got, n, prog, len);
        }
    }
    /* A program buffer too small is misuse, not bad data. */
    assert_int_equal(kura_segwit_address_encode(addr, sizeof(addr), "bc", 1, prog, 32), KURA_OK);
    assert_int_equal(kura_segwit_address_decode(&version, got, 31, &n, "bc", addr, &err),
                     KURA_EINVAL);
    assert_int_equal(n, 0);
    /* An address buffer too small. */
    assert_int_equal(kura_segwit_address_encode(addr, 62, "bc", 1, prog, 32), KURA_EINVAL);
    assert_int_equal(kura_segwit_address_encode(addr, 63, "bc", 1, prog, 32), KURA_OK);
    assert_int_equal(strlen(addr), 62);
    /* NULL arguments. */
    assert_int_equal(kura_segwit_address_decode(NULL, got, sizeof(got), &n, "bc", addr, &err),
                     KURA_EINVAL);
    assert_int_equal(kura_segwit_address_decode(&version, got, sizeof(got), &n, NULL, addr, &err),
                     KURA_EINVAL);
    assert_int_equal(kura_segwit_address_decode(&version, got, sizeof(got), &n, "bc", NULL, &err),
                     KURA_EINVAL);
    assert_int_equal(kura_segwit_address_encode(addr, sizeof(addr), "bc", 0, NULL, 20),
                     KURA_EINVAL);
}

/* A checksum that is right for a string of 5-bit values that carries a
 * version above 16 (the encoder refuses to make one, so build it raw). */
static void test_segwit_version_17(void **state)
{
    (void)state;
    uint8_t data[33] = {17};
    char addr[KURA_BECH32_MAX + 1];
    uint8_t prog[40];
    size_t n;
    unsigned version;
    kura_error err = {0};
    assert_int_equal(kura_bech32_encode(addr, sizeof(addr), "bc", data, sizeof(data), KURA_BECH32M),
                     KURA_OK);
    assert_int_equal(
        kura_segwit_address_decode(&version, prog, sizeof(prog), &n, "bc", addr, &err),
        KURA_EDATA);
    assert_string_equal(err.message, "address: witness version 17 (0 to 16 allowed)");
}

static void test_bech32_encode_args(void **state)
{
    (void)state;
    char out[KURA_BECH32_MAX + 1];
    uint8_t data[90] = {0};
    char hrp84[85];
    memset(hrp84, 'a', 84);
    hrp84[84] = '\0';

    /* BIP173's first vector, built from its parts (hrp "a", no data). */
    assert_int_equal(kura_bech32_encode(out, sizeof(out), "a", NULL, 0, KURA_BECH32), KURA_OK);
    assert_string_equal(out, "a12uel5l");
    assert_int_equal(kura_bech32_encode(out, sizeof(out), "A", NULL, 0, KURA_BECH32M), KURA_OK);
    assert_string_equal(out, "a1lqfn3a");
    /* Out exactly big enough, and one byte short. */
    assert_int_equal(kura_bech32_encode(out, 9, "a", NULL, 0, KURA_BECH32), KURA_OK);
    assert_int_equal(kura_bech32_encode(out, 8, "a", NULL, 0, KURA_BECH32), KURA_EINVAL);
    assert_string_equal(out, "");
    /* Bad hrp: empty, 84 chars, a space, a byte over 126. */
    assert_int_equal(kura_bech32_encode(out, sizeof(out), "", NULL, 0, KURA_BECH32), KURA_EINVAL);
    assert_int_equal(kura_bech32_encode(out, sizeof(out), hrp84, NULL, 0, KURA_BECH32),
                     KURA_EINVAL);
    assert_int_equal(kura_bech32_encode(out, sizeof(out), "a b", NULL, 0, KURA_BECH32),
                     KURA_EINVAL);
    assert_int_equal(kura_bech32_encode(out, sizeof(out), "a\x7f", NULL, 0, KURA_BECH32),
                     KURA_EINVAL);
    assert_int_equal(kura_bech32_encode(out, sizeof(out), NULL, NULL, 0, KURA_BECH32), KURA_EINVAL);
    /* A value of 32, a bad variant, data NULL with a length. */
    data[3] = 32;
    assert_int_equal(kura_bech32_encode(out, sizeof(out), "a", data, 5, KURA_BECH32), KURA_EINVAL);
    data[3] = 0;
    assert_int_equal(kura_bech32_encode(out, sizeof(out), "a", data, 5, (kura_bech32_variant)3),
                     KURA_EINVAL);
    assert_int_equal(kura_bech32_encode(out, sizeof(out), "a", NULL, 5, KURA_BECH32), KURA_EINVAL);
    /* 90 characters is the limit: "a" + "1" + 82 + 6 fits, 83 does not. */
    assert_int_equal(kura_bech32_encode(out, sizeof(out), "a", data, 82, KURA_BECH32), KURA_OK);
    assert_int_equal(strlen(out), 90);
    assert_int_equal(kura_bech32_encode(out, sizeof(out), "a", data, 83, KURA_BECH32), KURA_EINVAL);
    assert_int_equal(kura_bech32_encode(NULL, 0, "a", data, 1, KURA_BECH32), KURA_EINVAL);
}

static void test_bech32_decode_args(void **state)
{
    (void)state;
    char hrp[84];
    uint8_t data[82];
    size_t n;
    kura_bech32_variant variant;
    kura_error err = {0};
    const char *long_hrp =
        "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs";
    /* NULL pointers are misuse. */
    assert_int_equal(kura_bech32_decode(hrp, sizeof(hrp), data, sizeof(data), &n, &variant, NULL,
                                        &err),
                     KURA_EINVAL);
    assert_int_equal(kura_bech32_decode(NULL, 0, data, sizeof(data), &n, &variant, "a12uel5l",
                                        &err),
                     KURA_EINVAL);
    /* hrp buffer too small for an 83-char hrp: EINVAL, outputs cleared. */
    assert_int_equal(kura_bech32_decode(hrp, 83, data, sizeof(data), &n, &variant, long_hrp, &err),
                     KURA_EINVAL);
    assert_int_equal(n, 0);
    assert_int_equal(kura_bech32_decode(hrp, 84, data, sizeof(data), &n, &variant, long_hrp, &err),
                     KURA_OK);
    assert_int_equal(strlen(hrp), 83);
    assert_int_equal(n, 0);
    /* No data values: data_out may be NULL. */
    assert_int_equal(kura_bech32_decode(hrp, sizeof(hrp), NULL, 0, &n, &variant, "a12uel5l", &err),
                     KURA_OK);
    /* Data buffer too small. */
    assert_int_equal(kura_bech32_decode(hrp, sizeof(hrp), data, 1, &n, &variant,
                                        "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw", &err),
                     KURA_EINVAL);
    /* Empty input; err may be NULL. */
    assert_int_equal(kura_bech32_decode(hrp, sizeof(hrp), data, sizeof(data), &n, &variant, "",
                                        &err),
                     KURA_EDATA);
    assert_string_equal(err.message, "bech32: empty string");
    assert_int_equal(kura_bech32_decode(hrp, sizeof(hrp), data, sizeof(data), &n, &variant,
                                        "A12UEl5L", NULL),
                     KURA_EDATA);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bip173_strings),
        cmocka_unit_test(test_bip350_strings),
        cmocka_unit_test(test_bip173_addresses),
        cmocka_unit_test(test_bip350_addresses),
        cmocka_unit_test(test_segwit_wrong_hrp),
        cmocka_unit_test(test_segwit_edges),
        cmocka_unit_test(test_segwit_version_17),
        cmocka_unit_test(test_bech32_encode_args),
        cmocka_unit_test(test_bech32_decode_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
