/* BIP39 against bip39.json: all 24 English vectors (entropy -> mnemonic,
 * mnemonic -> entropy, seed with passphrase "TREZOR", master xprv), the seed
 * and master xprv of every vector of the 11 other languages (which proves the
 * NFKD normalisation: the Japanese vectors are not NFKD as written), and the
 * refusals: bad checksum, unknown word, wrong word count, bad spacing. */
#include <stdlib.h>
#include <string.h>

#include <uninorm.h>

#include "kura/keys.h"
#include "testutil_keys.h"

static void check_seed_and_xprv(const char *mnemonic, const char *seed_hex, const char *xprv)
{
    uint8_t seed[64], want[64];
    kura_bip32_key master;
    char s[KURA_BIP32_SERIALIZED_LEN];
    kura_error err;
    tu_unhex_fixed(seed_hex, want, 64);
    assert_int_equal(kura_bip39_to_seed(seed, mnemonic, "TREZOR", &err), KURA_OK);
    tu_assert_bytes_equal(seed, 64, want, 64);
    assert_int_equal(kura_bip32_from_seed(tu_ctx, &master, seed, 64, KURA_NETWORK_MAINNET),
                     KURA_OK);
    assert_int_equal(kura_bip32_serialize(s, sizeof(s), &master, 1), KURA_OK);
    assert_string_equal(s, xprv);
    kura_bip32_wipe(&master);
}

static void test_english_vectors(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bip39.json");
    json_t *en = json_object_get(root, "english");
    size_t i;
    json_t *v;
    assert_int_equal(json_array_size(en), 24);
    json_array_foreach(en, i, v) {
        const char *entropy_hex = json_string_value(json_array_get(v, 0));
        const char *mnemonic = json_string_value(json_array_get(v, 1));
        size_t elen, written = 0;
        uint8_t *entropy = tu_unhex(entropy_hex, &elen);
        uint8_t back[32];
        char words[24 * 9];
        kura_error err;

        assert_int_equal(kura_bip39_from_entropy(words, sizeof(words), entropy, elen), KURA_OK);
        assert_string_equal(words, mnemonic);
        assert_int_equal(kura_bip39_to_entropy(back, sizeof(back), &written, mnemonic, &err),
                         KURA_OK);
        tu_assert_bytes_equal(back, written, entropy, elen);
        check_seed_and_xprv(mnemonic, json_string_value(json_array_get(v, 2)),
                            json_string_value(json_array_get(v, 3)));
        free(entropy);
    }
    json_decref(root);
}

static void test_other_languages(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bip39.json");
    const char *lang;
    json_t *list;
    size_t count = 0, langs = 0;
    json_object_foreach(root, lang, list) {
        size_t i;
        json_t *v;
        if (strcmp(lang, "english") == 0) continue;
        langs++;
        json_array_foreach(list, i, v) {
            check_seed_and_xprv(json_string_value(json_array_get(v, 1)),
                                json_string_value(json_array_get(v, 2)),
                                json_string_value(json_array_get(v, 3)));
            count++;
        }
    }
    assert_int_equal(langs, 11);
    assert_int_equal(count, 11 * 24);
    json_decref(root);
}

/* The same words in NFC (composed) and as written give the vector's seed. */
static void test_nfkd_equivalence(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bip39.json");
    static const char *const langs[] = {"spanish", "korean", "japanese", "french"};
    size_t changed = 0;
    for (size_t l = 0; l < sizeof(langs) / sizeof(langs[0]); l++) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(root, langs[l]), i, v) {
            const char *m = json_string_value(json_array_get(v, 1));
            size_t nfc_len = 0;
            uint8_t *nfc = u8_normalize(UNINORM_NFC, (const uint8_t *)m, strlen(m), NULL, &nfc_len);
            char *z;
            uint8_t seed[64], want[64];
            assert_non_null(nfc);
            z = malloc(nfc_len + 1);
            assert_non_null(z);
            memcpy(z, nfc, nfc_len);
            z[nfc_len] = '\0';
            if (strcmp(z, m) != 0) changed++;
            tu_unhex_fixed(json_string_value(json_array_get(v, 2)), want, 64);
            assert_int_equal(kura_bip39_to_seed(seed, z, "TREZOR", NULL), KURA_OK);
            tu_assert_bytes_equal(seed, 64, want, 64);
            free(z);
            free(nfc);
        }
    }
    assert_true(changed > 24); /* the NFC forms really differ from the file */

    /* The passphrase is normalised too: U+00E9 and e + U+0301 agree. */
    uint8_t a[64], b[64];
    const char *m = "abandon abandon abandon abandon abandon abandon abandon abandon abandon "
                    "abandon abandon about";
    assert_int_equal(kura_bip39_to_seed(a, m, "caf\xc3\xa9", NULL), KURA_OK);
    assert_int_equal(kura_bip39_to_seed(b, m, "cafe\xcc\x81", NULL), KURA_OK);
    tu_assert_bytes_equal(a, 64, b, 64);
    /* NULL passphrase is the empty one. */
    assert_int_equal(kura_bip39_to_seed(a, m, NULL, NULL), KURA_OK);
    assert_int_equal(kura_bip39_to_seed(b, m, "", NULL), KURA_OK);
    tu_assert_bytes_equal(a, 64, b, 64);
    json_decref(root);
}

static void test_to_seed_refusals(void **state)
{
    (void)state;
    uint8_t seed[64];
    kura_error err;
    static const char *const bad_utf8[] = {"\xff", "abandon \xc3", "\xed\xa0\x80", "\xc0\xaf"};
    for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
        memset(seed, 0x77, sizeof(seed));
        assert_int_equal(kura_bip39_to_seed(seed, bad_utf8[i], "", &err), KURA_EDATA);
        assert_int_equal(err.code, KURA_EDATA);
        for (size_t k = 0; k < 64; k++) assert_int_equal(seed[k], 0);
        assert_int_equal(kura_bip39_to_seed(seed, "abandon", bad_utf8[i], &err), KURA_EDATA);
    }
    assert_int_equal(kura_bip39_to_seed(seed, NULL, "", &err), KURA_EINVAL);
    assert_int_equal(kura_bip39_to_seed(NULL, "x", "", &err), KURA_EINVAL);
}

static void test_wordlist(void **state)
{
    (void)state;
    char *txt = tu_read_file("vectors/bip39-english.txt", NULL);
    char *save = NULL, *w = strtok_r(txt, "\n", &save);
    unsigned i = 0;
    for (; w != NULL; w = strtok_r(NULL, "\n", &save), i++) {
        assert_non_null(kura_bip39_word(i));
        assert_string_equal(kura_bip39_word(i), w);
    }
    assert_int_equal(i, 2048);
    assert_null(kura_bip39_word(2048));
    assert_null(kura_bip39_word(0xffffffffu));
    free(txt);
}

static void expect_refused(const char *mnemonic, const char *needle)
{
    uint8_t out[32];
    size_t written = 5;
    kura_error err = {0, ""};
    memset(out, 0x66, sizeof(out));
    int rc = kura_bip39_to_entropy(out, sizeof(out), &written, mnemonic, &err);
    if (rc != KURA_EDATA) fail_msg("accepted or wrong code %d: \"%s\"", rc, mnemonic);
    assert_int_equal(err.code, KURA_EDATA);
    if (strstr(err.message, needle) == NULL)
        fail_msg("\"%s\": message \"%s\" lacks \"%s\"", mnemonic, err.message, needle);
    assert_int_equal(written, 0);
    for (size_t k = 0; k < sizeof(out); k++) assert_int_equal(out[k], 0);
}

static void test_to_entropy_refusals(void **state)
{
    (void)state;
    const char *ab11 = "abandon abandon abandon abandon abandon abandon abandon abandon abandon "
                       "abandon abandon";
    char m[512];

    /* Bad checksum: all-zero entropy ends in "about", not "abandon". */
    snprintf(m, sizeof(m), "%s abandon", ab11);
    expect_refused(m, "checksum");
    /* The 24-word "zoo ... vote" vector with its last word changed. */
    expect_refused("zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo "
                   "zoo zoo zoo zoo",
                   "checksum");
    /* Unknown words, including case variants and words too long for the list. */
    snprintf(m, sizeof(m), "%s abou", ab11);
    expect_refused(m, "word 12 is not");
    snprintf(m, sizeof(m), "%s About", ab11);
    expect_refused(m, "word 12 is not");
    snprintf(m, sizeof(m), "Abandon %s", ab11);
    expect_refused(m, "word 1 is not");
    snprintf(m, sizeof(m), "%s abandonabandon", ab11);
    expect_refused(m, "word 12 is not");
    snprintf(m, sizeof(m), "%s abo\xc3\xbct", ab11);
    expect_refused(m, "word 12 is not");
    snprintf(m, sizeof(m), "%s \xe7\x9a\x84", ab11); /* a Chinese list word */
    expect_refused(m, "word 12 is not");
    /* The unknown word is not echoed into the message. */
    {
        kura_error err;
        uint8_t out[32];
        size_t written;
        snprintf(m, sizeof(m), "%s secretword", ab11);
        assert_int_equal(kura_bip39_to_entropy(out, sizeof(out), &written, m, &err), KURA_EDATA);
        assert_null(strstr(err.message, "secretword"));
    }
    /* Wrong word counts. */
    expect_refused(ab11, "11 words");
    snprintf(m, sizeof(m), "%s about about", ab11);
    expect_refused(m, "13 words");
    snprintf(m, sizeof(m), "%s about %s about %s about", ab11, ab11, ab11);
    expect_refused(m, "more than 24");
    expect_refused("", "empty");
    expect_refused("about", "1 words");
    /* Spacing: double, leading, trailing, tabs, newlines, NBSP. */
    snprintf(m, sizeof(m), "%s  about", ab11);
    expect_refused(m, "single spaces");
    snprintf(m, sizeof(m), " %s about", ab11);
    expect_refused(m, "single spaces");
    snprintf(m, sizeof(m), "%s about ", ab11);
    expect_refused(m, "single spaces");
    snprintf(m, sizeof(m), "%s\tabout", ab11); /* one word "abandon\tabout": 11 words */
    expect_refused(m, "bip39: ");
    snprintf(m, sizeof(m), "%s about\n", ab11);
    expect_refused(m, "word 12 is not");
    snprintf(m, sizeof(m), "%s\xc2\xa0" "about", ab11);
    expect_refused(m, "bip39: ");
    expect_refused(" ", "single spaces");

    /* The valid one, and a buffer too small for it. */
    uint8_t out[16];
    size_t written;
    kura_error err;
    snprintf(m, sizeof(m), "%s about", ab11);
    assert_int_equal(kura_bip39_to_entropy(out, 15, &written, m, &err), KURA_EINVAL);
    assert_int_equal(written, 0);
    assert_int_equal(kura_bip39_to_entropy(out, 16, &written, m, &err), KURA_OK);
    assert_int_equal(written, 16);
    for (size_t k = 0; k < 16; k++) assert_int_equal(out[k], 0);
    assert_int_equal(kura_bip39_to_entropy(out, 16, NULL, m, &err), KURA_EINVAL);
    assert_int_equal(kura_bip39_to_entropy(out, 16, &written, NULL, &err), KURA_EINVAL);
}

static void test_from_entropy_refusals(void **state)
{
    (void)state;
    uint8_t e[33] = {0};
    char out[24 * 9];
    static const size_t bad_len[] = {0, 4, 12, 15, 17, 31, 33};
    for (size_t i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++)
        assert_int_equal(kura_bip39_from_entropy(out, sizeof(out), e, bad_len[i]), KURA_EINVAL);
    /* 12 words need 12 * 9 bytes of room. */
    assert_int_equal(kura_bip39_from_entropy(out, 107, e, 16), KURA_EINVAL);
    assert_int_equal(kura_bip39_from_entropy(out, 108, e, 16), KURA_OK);
    assert_string_equal(out, "abandon abandon abandon abandon abandon abandon abandon abandon "
                             "abandon abandon abandon about");
    assert_int_equal(kura_bip39_from_entropy(out, 24 * 9 - 1, e, 32), KURA_EINVAL);
    assert_int_equal(kura_bip39_from_entropy(out, 24 * 9, e, 32), KURA_OK);
    assert_int_equal(kura_bip39_from_entropy(NULL, 200, e, 16), KURA_EINVAL);
    assert_int_equal(kura_bip39_from_entropy(out, sizeof(out), NULL, 16), KURA_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_english_vectors),
        cmocka_unit_test(test_other_languages),
        cmocka_unit_test(test_nfkd_equivalence),
        cmocka_unit_test(test_to_seed_refusals),
        cmocka_unit_test(test_wordlist),
        cmocka_unit_test(test_to_entropy_refusals),
        cmocka_unit_test(test_from_entropy_refusals),
    };
    return cmocka_run_group_tests(tests, tu_ctx_setup, tu_ctx_teardown);
}
