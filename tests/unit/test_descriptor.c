/* Descriptors against the BIP380-386 vectors in tests/vectors/descriptors.json,
 * the BIP387 and BIP389 test vectors (copied below from the BIP texts), the
 * BIP341 wallet vectors (taproot trees, control blocks) and BIP32 vector 1
 * (public-form normalisation). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kura/descriptor.h"
#include "kura/encoding.h"
#include "kura/hash.h"
#include "kura/keys.h"
#include "kura/script.h"
#include "testutil_keys.h"

/* ---- helpers ---- */

static kura_descriptor *parse_ok(const kura_ctx *ctx, const char *s)
{
    kura_descriptor *d = NULL;
    kura_error e;
    int rc;
    memset(&e, 0, sizeof(e));
    rc = kura_descriptor_parse(ctx, &d, s, strlen(s), &e);
    if (rc != KURA_OK) fail_msg("parse failed (%s: %s) for %.200s", kura_status_name(rc), e.message, s);
    assert_non_null(d);
    return d;
}

/* Parses s expecting failure with `code`; checks the output stays NULL and
 * the message names the module. */
static void parse_fails(const kura_ctx *ctx, const char *s, int code)
{
    kura_descriptor *d = (kura_descriptor *)&d; /* must be reset to NULL */
    kura_error e;
    int rc;
    memset(&e, 0, sizeof(e));
    rc = kura_descriptor_parse(ctx, &d, s, strlen(s), &e);
    if (rc != code) {
        kura_descriptor_free(rc == KURA_OK ? d : NULL);
        fail_msg("expected %s, got %s for %.200s", kura_status_name(code), kura_status_name(rc), s);
    }
    assert_null(d);
    assert_int_equal(e.code, code);
    assert_true(strncmp(e.message, "descriptor: ", 12) == 0);
}

static void assert_script_hex(const uint8_t *script, size_t len, const char *hex)
{
    size_t n;
    uint8_t *want = tu_unhex(hex, &n);
    tu_assert_bytes_equal(script, len, want, n);
    free(want);
}

/* Checks the scripts of desc at (branch, index) against a JSON array of hex. */
static void expect_scripts(const kura_ctx *ctx, kura_descriptor_output *out,
                           const kura_descriptor *d, size_t branch, uint32_t index,
                           const json_t *scripts)
{
    uint8_t spk[16384];
    size_t spk_len = 0;
    assert_int_equal(kura_descriptor_derive(ctx, out, d, branch, index, NULL), KURA_OK);
    assert_int_equal(out->n_scripts, json_array_size(scripts));
    for (size_t i = 0; i < out->n_scripts; i++) {
        assert_script_hex(out->scripts[i].script_pubkey, out->scripts[i].script_pubkey_len,
                          json_string_value(json_array_get(scripts, i)));
    }
    /* The scriptPubKey-only path agrees. */
    assert_int_equal(kura_descriptor_script_pubkey(ctx, spk, sizeof(spk), &spk_len, d, branch,
                                                   index, NULL),
                     KURA_OK);
    assert_script_hex(spk, spk_len, json_string_value(json_array_get(scripts, 0)));
}

/* Every script of a and b agree at (branch, index). */
static void assert_same_output(const kura_ctx *ctx, const kura_descriptor *a, size_t ba,
                               const kura_descriptor *b, size_t bb, uint32_t index)
{
    kura_descriptor_output *oa = kura_descriptor_output_new(), *ob = kura_descriptor_output_new();
    assert_non_null(oa);
    assert_non_null(ob);
    assert_int_equal(kura_descriptor_derive(ctx, oa, a, ba, index, NULL), KURA_OK);
    assert_int_equal(kura_descriptor_derive(ctx, ob, b, bb, index, NULL), KURA_OK);
    assert_int_equal(oa->n_scripts, ob->n_scripts);
    for (size_t i = 0; i < oa->n_scripts; i++) {
        const kura_descriptor_script_info *x = &oa->scripts[i], *y = &ob->scripts[i];
        tu_assert_bytes_equal(x->script_pubkey, x->script_pubkey_len, y->script_pubkey,
                              y->script_pubkey_len);
        tu_assert_bytes_equal(x->redeem_script, x->redeem_script_len, y->redeem_script,
                              y->redeem_script_len);
        tu_assert_bytes_equal(x->witness_script, x->witness_script_len, y->witness_script,
                              y->witness_script_len);
    }
    assert_int_equal(oa->n_keys, ob->n_keys);
    for (size_t i = 0; i < oa->n_keys; i++) {
        tu_assert_bytes_equal(oa->keys[i].pubkey, oa->keys[i].pubkey_len, ob->keys[i].pubkey,
                              ob->keys[i].pubkey_len);
    }
    assert_int_equal(oa->n_leaves, ob->n_leaves);
    for (size_t i = 0; i < oa->n_leaves; i++) {
        tu_assert_bytes_equal(oa->leaves[i].control_block, oa->leaves[i].control_block_len,
                              ob->leaves[i].control_block, ob->leaves[i].control_block_len);
    }
    kura_descriptor_output_free(oa);
    kura_descriptor_output_free(ob);
}

/* The canonical string ends in "#" + the checksum of what precedes it. */
static void assert_checksum_suffix(const char *s)
{
    char sum[KURA_DESCRIPTOR_CHECKSUM_LEN + 1];
    size_t n = strlen(s);
    assert_true(n > 9);
    assert_int_equal(s[n - 9], '#');
    assert_int_equal(kura_descriptor_checksum(sum, s, n - 9, NULL), KURA_OK);
    assert_string_equal(sum, s + n - 8);
}

/* parse -> to_string (private and public) -> parse: same scripts, and the
 * text is a fixed point. Returns how many forms were checked. */
static int round_trip(const kura_ctx *ctx, const kura_descriptor *d, uint32_t n_index)
{
    int checked = 0;
    for (unsigned form = 0; form < 2; form++) {
        unsigned flags = form == 0 ? KURA_DESCRIPTOR_PRIVATE : KURA_DESCRIPTOR_PUBLIC;
        char *s = NULL, *s2 = NULL;
        kura_descriptor *d2;
        kura_error e;
        int rc = kura_descriptor_to_string(ctx, &s, d, KURA_DESCRIPTOR_ALL_BRANCHES, flags, &e);
        if (rc == KURA_EDATA && flags == KURA_DESCRIPTOR_PUBLIC) {
            /* Only a hardened wildcard on an xprv has no public form. */
            assert_non_null(strstr(e.message, "hardened"));
            assert_null(s);
            continue;
        }
        assert_int_equal(rc, KURA_OK);
        assert_checksum_suffix(s);
        if (flags == KURA_DESCRIPTOR_PUBLIC) {
            assert_null(strstr(s, "xprv"));
            assert_null(strstr(s, "tprv"));
        }
        d2 = parse_ok(ctx, s);
        if (flags == KURA_DESCRIPTOR_PUBLIC) assert_int_equal(kura_descriptor_has_private(d2), 0);
        assert_int_equal(kura_descriptor_to_string(ctx, &s2, d2, KURA_DESCRIPTOR_ALL_BRANCHES, flags,
                                                   NULL),
                         KURA_OK);
        assert_string_equal(s, s2);
        for (size_t b = 0; b < kura_descriptor_multipath_count(d); b++) {
            for (uint32_t i = 0; i < n_index; i++) assert_same_output(ctx, d, b, d2, b, i);
        }
        kura_descriptor_string_free(s);
        kura_descriptor_string_free(s2);
        kura_descriptor_free(d2);
        checked++;
    }
    return checked;
}

/* ---- BIP380 ---- */

static void test_bip380_checksum(void **state)
{
    const kura_ctx *ctx = *state;
    json_t *root = tu_load_json("descriptors.json");
    const json_t *cases = json_object_get(json_object_get(root, "bip380"), "checksum");
    char sum[KURA_DESCRIPTOR_CHECKSUM_LEN + 1];
    size_t i, ran = 0;
    json_t *c;

    json_array_foreach(cases, i, c) {
        const char *s = tu_str(c, "descriptor");
        if (json_is_true(json_object_get(c, "expect_valid"))) {
            kura_descriptor_free(parse_ok(ctx, s));
        } else {
            parse_fails(ctx, s, KURA_EDATA);
        }
        ran++;
    }
    assert_int_equal(ran, 8);
    /* The checksum alone, and the canonical string of the first vector. */
    assert_int_equal(kura_descriptor_checksum(sum, "raw(deadbeef)", 13, NULL), KURA_OK);
    assert_string_equal(sum, "89f8spxm");
    assert_int_equal(kura_descriptor_checksum(sum, "raw(\xc3\x9c)", 7, NULL), KURA_EDATA);
    assert_string_equal(sum, "");
    {
        kura_descriptor *d = parse_ok(ctx, "raw(DEADBEEF)");
        char *s = NULL;
        assert_int_equal(kura_descriptor_to_string(ctx, &s, d, KURA_DESCRIPTOR_ALL_BRANCHES,
                                                   KURA_DESCRIPTOR_PUBLIC, NULL),
                         KURA_OK);
        assert_string_equal(s, "raw(deadbeef)#89f8spxm");
        kura_descriptor_string_free(s);
        kura_descriptor_free(d);
    }
    json_decref(root);
}

/* BIP380 lists key expressions with hardened steps after an xpub as valid
 * syntax; kura_descriptor_parse refuses them because no script can be
 * derived (see kura/descriptor.h). */
static int xpub_with_hardened_steps(const char *key)
{
    const char *x = strstr(key, "xpub");
    const char *slash;
    if (x == NULL) return 0;
    slash = strchr(x, '/');
    return slash != NULL && (strchr(slash, 'h') != NULL || strchr(slash, '\'') != NULL);
}

static void test_bip380_key_expressions(void **state)
{
    const kura_ctx *ctx = *state;
    json_t *root = tu_load_json("descriptors.json");
    const json_t *bip380 = json_object_get(root, "bip380");
    size_t i, valid = 0, invalid = 0, refused_hardened = 0;
    json_t *c;
    char buf[1024];

    json_array_foreach(json_object_get(bip380, "key_expressions_valid"), i, c) {
        const char *key = tu_str(c, "key_expression");
        int uncompressed = strncmp(key, "04", 2) == 0 || key[0] == '5';
        kura_error e;
        assert_int_equal(kura_descriptor_key_check(ctx, key, strlen(key), KURA_DESCRIPTOR_KEY_LEGACY,
                                                   &e),
                         KURA_OK);
        /* Uncompressed keys are refused in segwit and taproot contexts. */
        assert_int_equal(kura_descriptor_key_check(ctx, key, strlen(key), KURA_DESCRIPTOR_KEY_SEGWIT,
                                                   NULL),
                         uncompressed ? KURA_EDATA : KURA_OK);
        assert_int_equal(kura_descriptor_key_check(ctx, key, strlen(key),
                                                   KURA_DESCRIPTOR_KEY_TAPROOT, NULL),
                         uncompressed ? KURA_EDATA : KURA_OK);
        snprintf(buf, sizeof(buf), "pk(%s)", key);
        if (xpub_with_hardened_steps(key)) {
            parse_fails(ctx, buf, KURA_EDATA);
            refused_hardened++;
        } else {
            kura_descriptor *d = parse_ok(ctx, buf);
            round_trip(ctx, d, 1);
            kura_descriptor_free(d);
            if (!uncompressed) {
                snprintf(buf, sizeof(buf), "wpkh(%s)", key);
                kura_descriptor_free(parse_ok(ctx, buf));
                snprintf(buf, sizeof(buf), "tr(%s)", key);
                kura_descriptor_free(parse_ok(ctx, buf));
            } else {
                snprintf(buf, sizeof(buf), "wpkh(%s)", key);
                parse_fails(ctx, buf, KURA_EDATA);
            }
        }
        valid++;
    }
    json_array_foreach(json_object_get(bip380, "key_expressions_invalid"), i, c) {
        const char *key = tu_str(c, "key_expression");
        kura_error e;
        for (int ctxk = 0; ctxk < 3; ctxk++) {
            memset(&e, 0, sizeof(e));
            assert_int_equal(kura_descriptor_key_check(ctx, key, strlen(key),
                                                       (kura_descriptor_key_context)ctxk, &e),
                             KURA_EDATA);
            assert_int_equal(e.code, KURA_EDATA);
        }
        snprintf(buf, sizeof(buf), "pk(%s)", key);
        parse_fails(ctx, buf, KURA_EDATA);
        snprintf(buf, sizeof(buf), "wsh(multi(1,%s))", key);
        parse_fails(ctx, buf, KURA_EDATA);
        invalid++;
    }
    assert_int_equal(valid, 21);
    assert_int_equal(invalid, 16);
    assert_int_equal(refused_hardened, 3);
    json_decref(root);
}

/* ---- BIP381..386 ---- */

static void run_bip_section(const kura_ctx *ctx, const char *bip, size_t want_valid,
                            size_t want_invalid)
{
    json_t *root = tu_load_json("descriptors.json");
    const json_t *sec = json_object_get(root, bip);
    kura_descriptor_output *out = kura_descriptor_output_new();
    size_t i, valid = 0, invalid = 0;
    json_t *c;
    assert_non_null(out);

    json_array_foreach(json_object_get(sec, "valid"), i, c) {
        const char *s = tu_str(c, "descriptor");
        const json_t *scripts = json_object_get(c, "scripts");
        const json_t *by_child = json_object_get(c, "scripts_by_child");
        int ranged = json_is_true(json_object_get(c, "ranged"));
        kura_descriptor *d;

        if (json_object_get(c, "_note") != NULL && json_array_size(scripts) == 0) {
            /* BIP386 once listed tr(KEY,pkh(KEY)) as valid without a script;
             * BIP386 now lists "pkh() nested in tr" as invalid, and kura
             * allows only tapscript fragments (pk, multi_a) as leaves. */
            assert_non_null(strstr(s, "pkh("));
            parse_fails(ctx, s, KURA_EDATA);
            valid++;
            continue;
        }
        d = parse_ok(ctx, s);
        assert_int_equal(kura_descriptor_is_ranged(d), ranged);
        assert_int_equal(kura_descriptor_multipath_count(d), 1);
        if (by_child != NULL) {
            for (size_t k = 0; k < json_array_size(by_child); k++) {
                expect_scripts(ctx, out, d, 0, (uint32_t)k, json_array_get(by_child, k));
            }
        } else if (ranged) {
            for (size_t k = 0; k < json_array_size(scripts); k++) {
                json_t *one = json_array();
                json_array_append(one, json_array_get(scripts, k));
                expect_scripts(ctx, out, d, 0, (uint32_t)k, one);
                json_decref(one);
            }
        } else {
            expect_scripts(ctx, out, d, 0, 0, scripts);
        }
        assert_true(round_trip(ctx, d, ranged ? 3 : 1) >= 1);
        kura_descriptor_free(d);
        valid++;
    }
    json_array_foreach(json_object_get(sec, "invalid"), i, c) {
        parse_fails(ctx, tu_str(c, "descriptor"), KURA_EDATA);
        invalid++;
    }
    assert_int_equal(valid, want_valid);
    assert_int_equal(invalid, want_invalid);
    kura_descriptor_output_free(out);
    json_decref(root);
}

static void test_bip381(void **state) { run_bip_section(*state, "bip381", 17, 4); }
static void test_bip382(void **state) { run_bip_section(*state, "bip382", 12, 11); }
static void test_bip383(void **state) { run_bip_section(*state, "bip383", 9, 4); }
static void test_bip384(void **state) { run_bip_section(*state, "bip384", 4, 3); }
static void test_bip385(void **state) { run_bip_section(*state, "bip385", 4, 6); }
static void test_bip386(void **state) { run_bip_section(*state, "bip386", 6, 4); }

/* ---- BIP387 (test vectors copied from bip-0387.mediawiki) ---- */

#define XPRV_A "xprvA1RpRA33e1JQ7ifknakTFpgNXPmW2YvmhqLQYMmrj4xJXXWYpDPS3xz7iAxn8L39njGVyuoseXzU6rcxFLJ8HFsTjSyQbLYnMpCqE2VbFWc"
#define XPRV_B "xprv9uPDJpEQgRQfDcW7BkF7eTya6RPxXeJCqCJGHuCJ4GiRVLzkTXBAJMu2qaMWPrS7AANYqdq6vcBcBUdJCVVFceUvJFjaPdGZ2y9WACViL4L"
#define XPUB_A "xpub6ERApfZwUNrhLCkDtcHTcxd75RbzS1ed54G1LkBUHQVHQKqhMkhgbmJbZRkrgZw4koxb5JaHWkY4ALHY2grBGRjaDMzQLcgJvLJuZZvRcEL"
#define XPUB_B "xpub68NZiKmJWnxxS6aaHmn81bvJeTESw724CRDs6HbuccFQN9Ku14VQrADWgqbhhTHBaohPX4CjNLf9fq9MYo6oDaPPLPxSb7gwQN3ih19Zm4Y"
#define XPRV_C "xprv9s21ZrQH143K31xYSDQpPDxsXRTUcvj2iNHm5NUtrGiGG5e2DtALGdso3pGz6ssrdK4PFmM8NSpSBHNqPqm55Qn3LqFtT2emdEXVYsCzC2U"
#define XPRV_D "xprv9vHkqa6EV4sPZHYqZznhT2NPtPCjKuDKGY38FBWLvgaDx45zo9WQRUT3dKYnjwih2yJD9mkrocEZXo1ex8G81dwSM1fwqWpWkeS3v86pgKt"
#define XPRV_E "xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi"
#define NUMS "50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0"

static const struct {
    const char *descriptor;
    const char *scripts[3];
} bip387_valid[] = {
    {"tr(L4rK1yDtCWekvXuE6oXD9jCYfFNV2cWRpVuPLBcCU2z8TrisoyY1,multi_a(1,KzoAz5CanayRKex3fSLQ2BwJpN7U52gZvxMyk78nDMHuqrUxuSJy))",
     {"5120eb5bd3894327d75093891cc3a62506df7d58ec137fcd104cdd285d67816074f3"}},
    {"tr(a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd,multi_a(1,669b8afcec803a0d323e9a17f3ea8e68e8abe5a278020a929adbec52421adbd0))",
     {"5120eb5bd3894327d75093891cc3a62506df7d58ec137fcd104cdd285d67816074f3"}},
    {"tr(" NUMS ",multi_a(2,[00000000/111'/222]" XPRV_A "," XPRV_B "/0))",
     {"51202eea93581594a43c0c8423b70dc112e5651df63984d108d4fc8ccd3b63b4eafa"}},
    {"tr(" NUMS ",sortedmulti_a(2,[00000000/111'/222]" XPRV_A "," XPRV_B "/0))",
     {"512016fa6a6ba7e98c54b5bf43b3144912b78a61b60b02f6a74172b8dcb35b12bc30"}},
    {"tr(" NUMS ",sortedmulti_a(2," XPUB_A "/*," XPUB_B "/0/0/*))",
     {"5120abd47468515223f58a1a18edfde709a7a2aab2b696d59ecf8c34f0ba274ef772",
      "5120fe62e7ed20705bd1d3678e072bc999acb014f07795fa02cb8f25a7aa787e8cbd",
      "51201311093750f459039adaa2a5ed23b0f7a8ae2c2ffb07c5390ea37e2fb1050b41"}},
    {"tr(" NUMS ",multi_a(2," XPRV_C "/2147483647'/0," XPRV_D "/1/2/*," XPRV_E "/10/20/30/40/*'))",
     {"5120e4c8f2b0a7d3a688ac131cb03248c0d4b0a59bbd4f37211c848cfbd22a981192",
      "5120827faedaa21e52fca2ac83b53afd1ab7d4d1e6ce67ff42b19f2723d48b5a19ab",
      "5120647495ed09de61a3a324704f9203c130d655bf3141f9b748df8f7be7e9af55a4"}},
};

static const char *const bip387_invalid[] = {
    "multi_a(1,03669b8afcec803a0d323e9a17f3ea8e68e8abe5a278020a929adbec52421adbd0)",
    "sh(multi_a(1,03669b8afcec803a0d323e9a17f3ea8e68e8abe5a278020a929adbec52421adbd0))",
    "wsh(multi_a(1,03669b8afcec803a0d323e9a17f3ea8e68e8abe5a278020a929adbec52421adbd0))",
    "tr(" NUMS ",multi_a(a,03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd))",
    "tr(" NUMS ",multi_a(0,03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd))",
    "tr(" NUMS ",multi_a(1,04a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd5b8dec5235a0fa8722476c7709c02559e3aa73aa03918ba2d492eea75abea235))",
    "tr(" NUMS ",multi_a(3,L4rK1yDtCWekvXuE6oXD9jCYfFNV2cWRpVuPLBcCU2z8TrisoyY1,5KYZdUEo39z3FPrtuX2QbbwGnNP5zTd7yyr2SC1j299sBCnWjss))",
};

static void test_bip387(void **state)
{
    const kura_ctx *ctx = *state;
    kura_descriptor_output *out = kura_descriptor_output_new();
    size_t ran = 0;
    assert_non_null(out);
    for (size_t i = 0; i < sizeof(bip387_valid) / sizeof(bip387_valid[0]); i++) {
        kura_descriptor *d = parse_ok(ctx, bip387_valid[i].descriptor);
        for (uint32_t k = 0; k < 3 && bip387_valid[i].scripts[k] != NULL; k++) {
            json_t *one = json_array();
            json_array_append_new(one, json_string(bip387_valid[i].scripts[k]));
            expect_scripts(ctx, out, d, 0, k, one);
            json_decref(one);
            /* One leaf at depth 0: control block is header || internal key,
             * and the merkle root is the leaf hash (BIP341). */
            assert_int_equal(out->n_leaves, 1);
            assert_int_equal(out->leaves[0].control_block_len, 33);
            assert_int_equal(out->leaves[0].control_block[0], 0xc0 | out->output_key_parity);
            assert_memory_equal(out->leaves[0].control_block + 1, out->internal_key, 32);
            assert_memory_equal(out->merkle_root, out->leaves[0].leaf_hash, 32);
            assert_memory_equal(out->scripts[0].script_pubkey + 2, out->output_key, 32);
            ran++;
        }
        round_trip(ctx, d, 2);
        kura_descriptor_free(d);
    }
    assert_int_equal(ran, 10);
    for (size_t i = 0; i < sizeof(bip387_invalid) / sizeof(bip387_invalid[0]); i++) {
        parse_fails(ctx, bip387_invalid[i], KURA_EDATA);
    }
    kura_descriptor_output_free(out);
}

/* multi_a with more than 16 keys puts the threshold as a script number, and
 * sortedmulti_a sorts the x-only keys (BIP387). The keys come from the
 * BIP383 20-key vector; each derived x-only key is checked in the script. */
static void test_multi_a_large(void **state)
{
    const kura_ctx *ctx = *state;
    static const char *wifs[20] = {
        "KzoAz5CanayRKex3fSLQ2BwJpN7U52gZvxMyk78nDMHuqrUxuSJy", "KwGNz6YCCQtYvFzMtrC6D3tKTKdBBboMrLTsjr2NYVBwapCkn7Mr",
        "KxogYhiNfwxuswvXV66eFyKcCpm7dZ7TqHVqujHAVUjJxyivxQ9X", "L2BUNduTSyZwZjwNHynQTF14mv2uz2NRq5n5sYWTb4FkkmqgEE9f",
        "L1okJGHGn1kFjdXHKxXjwVVtmCMR2JA5QsbKCSpSb7ReQjezKeoD", "KxDCNSST75HFPaW5QKpzHtAyaCQC7p9Vo3FYfi2u4dXD1vgMiboK",
        "L5edQjFtnkcf5UWURn6UuuoFrabgDQUHdheKCziwN42aLwS3KizU", "KzF8UWFcEC7BYTq8Go1xVimMkDmyNYVmXV5PV7RuDicvAocoPB8i",
        "L3nHUboKG2w4VSJ5jYZ5CBM97oeK6YuKvfZxrefdShECcjEYKMWZ", "KyjHo36dWkYhimKmVVmQTq3gERv3pnqA4xFCpvUgbGDJad7eS8WE",
        "KwsfyHKRUTZPQtysN7M3tZ4GXTnuov5XRgjdF2XCG8faAPmFruRF", "KzCUbGhN9LJhdeFfL9zQgTJMjqxdBKEekRGZX24hXdgCNCijkkap",
        "KzgpMBwwsDLwkaC5UrmBgCYaBD2WgZ7PBoGYXR8KT7gCA9UTN5a3", "KyBXTPy4T7YG4q9tcAM3LkvfRpD1ybHMvcJ2ehaWXaSqeGUxEdkP",
        "KzJDe9iwJRPtKP2F2AoN6zBgzS7uiuAwhWCfGdNeYJ3PC1HNJ8M8", "L1xbHrxynrqLKkoYc4qtoQPx6uy5qYXR5ZDYVYBSRmCV5piU3JG9",
        "KzRedjSwMggebB3VufhbzpYJnvHfHe9kPJSjCU5QpJdAW3NSZxYS", "Kyjtp5858xL7JfeV4PNRCKy2t6XvgqNNepArGY9F9F1SSPqNEMs3",
        "L2D4RLHPiHBidkHS8ftx11jJk1hGFELvxh8LoxNQheaGT58dKenW", "KyLPZdwY4td98bKkXqEXTEBX3vwEYTQo1yyLjX2jKXA63GBpmSjv"};
    char buf[2048] = "tr(" NUMS ",sortedmulti_a(17";
    uint8_t xs[20][32];
    kura_descriptor *d;
    kura_descriptor_output *out = kura_descriptor_output_new();
    const uint8_t *sc;
    assert_non_null(out);
    for (int i = 0; i < 20; i++) {
        uint8_t priv[32];
        int comp;
        kura_network net;
        strcat(buf, ",");
        strcat(buf, wifs[i]);
        assert_int_equal(kura_wif_decode(priv, &comp, &net, wifs[i], NULL), KURA_OK);
        assert_int_equal(kura_xonly_from_privkey(ctx, xs[i], priv), KURA_OK);
    }
    strcat(buf, "))");
    d = parse_ok(ctx, buf);
    assert_int_equal(kura_descriptor_derive(ctx, out, d, 0, 0, NULL), KURA_OK);
    assert_int_equal(out->n_leaves, 1);
    sc = out->leaves[0].script;
    assert_int_equal(out->leaves[0].script_len, 20 * 34 + 3);
    for (int i = 0; i < 20; i++) {
        int found = 0;
        assert_int_equal(sc[34 * i], 0x20);
        assert_int_equal(sc[34 * i + 33], i == 0 ? 0xac : 0xba);
        if (i > 0) assert_true(memcmp(sc + 34 * (i - 1) + 1, sc + 34 * i + 1, 32) < 0);
        for (int j = 0; j < 20; j++) found |= memcmp(xs[j], sc + 34 * i + 1, 32) == 0;
        assert_true(found);
    }
    /* 17 as a one-byte push, then OP_NUMEQUAL. */
    assert_int_equal(sc[680], 0x01);
    assert_int_equal(sc[681], 17);
    assert_int_equal(sc[682], 0x9c);
    /* A threshold above the number of keys is refused. */
    buf[strlen(buf) - 2] = '\0';
    memcpy(strstr(buf, "(17"), "(21", 3);
    strcat(buf, "))");
    parse_fails(ctx, buf, KURA_EDATA);
    kura_descriptor_free(d);
    kura_descriptor_output_free(out);
}

/* ---- BIP389 (test vectors copied from bip-0389.mediawiki) ---- */

#define XPUB_M1 "xpub661MyMwAqRbcFW31YEwpkMuc5THy2PSt5bDMsktWQcFF8syAmRUapSCGu8ED9W6oDMSgv6Zz8idoc4a6mr8BDzTJY47LJhkJ8UB7WEGuduB"
#define XPUB_M2 "xpub661MyMwAqRbcGDZQUKLqmWodYLcoBQnQH33yYkkF3jjxeLvY8qr2wWGEWkiKFaaQfJCoi3HeEq3Dc5DptfbCyjD38fNhSqtKc1UHaP4ba3t"
#define XPUB_F "xpub69H7F5d8KSRgmmdJg2KhpAK8SR3DjMwAdkxj3ZuxV27CprR9LgpeyGmXUbC6wb7ERfvrnKZjXoUmmDznezpbZb7ap6r1D3tgFxHmwMkQTPH"

static const struct {
    const char *multipath;
    const char *expanded[3];
} bip389_valid[] = {
    {"pk(" XPUB_B "/<0;1>)", {"pk(" XPUB_B "/0)", "pk(" XPUB_B "/1)"}},
    {"pkh(" XPRV_C "/<2147483647h;0>/0)",
     {"pkh(" XPRV_C "/2147483647h/0)", "pkh(" XPRV_C "/0/0)"}},
    /* The BIP text omits this descriptor's closing parenthesis. */
    {"wpkh([ffffffff/13h]" XPUB_F "/<1;3>/2/*)",
     {"wpkh([ffffffff/13h]" XPUB_F "/1/2/*)", "wpkh([ffffffff/13h]" XPUB_F "/3/2/*)"}},
    {"multi(2," XPUB_A "/<1;2>/*," XPUB_B "/<3;4>/0/*)",
     {"multi(2," XPUB_A "/1/*," XPUB_B "/3/0/*)", "multi(2," XPUB_A "/2/*," XPUB_B "/4/0/*)"}},
    {"pkh(" XPUB_M1 "/<0;1;2>)", {"pkh(" XPUB_M1 "/0)", "pkh(" XPUB_M1 "/1)", "pkh(" XPUB_M1 "/2)"}},
    {"sh(multi(2," XPUB_A "/<1;2;3>/0/*," XPUB_B "/0/*," XPUB_M2 "/0/0/<3;4;5>/*))",
     {"sh(multi(2," XPUB_A "/1/0/*," XPUB_B "/0/*," XPUB_M2 "/0/0/3/*))",
      "sh(multi(2," XPUB_A "/2/0/*," XPUB_B "/0/*," XPUB_M2 "/0/0/4/*))",
      "sh(multi(2," XPUB_A "/3/0/*," XPUB_B "/0/*," XPUB_M2 "/0/0/5/*))"}},
};

static const char *const bip389_invalid[] = {
    "pkh(" XPRV_C "/<0;1>/<2;3>)",
    "pkh([deadbeef/<0;1>]" XPUB_M1 "/0)",
    "tr(xpub661MyMwAqRbcF3yVrV2KyYetLMYA5mCbv4BhrKwUrFE9LZM6JRR1AEt8Jq4V4C8LwtTke6YEEdCZqgXp85YRk2j74EfJKhe3QybQ9kcUjs4/<6;7;8;9>/*,{pk(" XPUB_A "/<1;2;3>/0/*),pk(" XPUB_M2 "/0/0/<3;4;5>/*)})",
    "sh(multi(2," XPRV_A "/<1;2;3>/0/*," XPRV_B "/0/*,xprv9s21ZrQH143K3jUwNHoqQNrtzJnJmx4Yup8NkNLdVQCymYbPbJXnPhwkfTfxZfptcs3rLAPUXS39oDLgrNKQGwbGsEmJJ8BU3RzQuvShEG4/0/0/<3;4>/*))",
    "wpkh(" XPUB_M1 "/<>/*)",
    "wpkh(" XPUB_M1 "/0>/*)",
    "wpkh(" XPUB_M1 "/<0/*)",
    "wpkh(" XPUB_M1 "/<0;>/*)",
    /* Further refusals kura's brief asks for: a single value, a duplicate, a
     * nested tuple, an empty value, hardened from an xpub, 'H'. */
    "wpkh(" XPUB_M1 "/<0>/*)",
    "wpkh(" XPUB_M1 "/<0;0>/*)",
    "wpkh(" XPUB_M1 "/<<0;1>;2>/*)",
    "wpkh(" XPUB_M1 "/<;1>/*)",
    "wpkh(" XPUB_M1 "/<0h;1h>/*)",
    "wpkh(" XPRV_C "/<0H;1>/*)",
    "wpkh(" XPUB_M1 "/<0;1>/<2;3>/*)",
    "wpkh(" XPUB_M1 "/*/<0;1>)",
    "wpkh(" XPUB_M1 "/<0;1>/*/0)",
    "wsh(multi(1," XPUB_M1 "/<0;1>/*," XPUB_M2 "/<0;1;2>/*))",
};

static void test_bip389(void **state)
{
    const kura_ctx *ctx = *state;
    size_t ran = 0;
    for (size_t i = 0; i < sizeof(bip389_valid) / sizeof(bip389_valid[0]); i++) {
        kura_descriptor *d = parse_ok(ctx, bip389_valid[i].multipath);
        size_t n = 0;
        while (n < 3 && bip389_valid[i].expanded[n] != NULL) n++;
        assert_int_equal(kura_descriptor_multipath_count(d), n);
        for (size_t b = 0; b < n; b++) {
            kura_descriptor *e = parse_ok(ctx, bip389_valid[i].expanded[b]);
            char *want = NULL, *got = NULL;
            assert_int_equal(kura_descriptor_multipath_count(e), 1);
            /* The branch, written alone, is the expanded descriptor... */
            assert_int_equal(kura_descriptor_to_string(ctx, &want, e, KURA_DESCRIPTOR_ALL_BRANCHES,
                                                       KURA_DESCRIPTOR_PRIVATE, NULL),
                             KURA_OK);
            assert_int_equal(kura_descriptor_to_string(ctx, &got, d, b, KURA_DESCRIPTOR_PRIVATE, NULL),
                             KURA_OK);
            assert_string_equal(got, want);
            /* ...and derives the same scripts and keys. */
            for (uint32_t k = 0; k < 3; k++) assert_same_output(ctx, d, b, e, 0, k);
            kura_descriptor_string_free(want);
            kura_descriptor_string_free(got);
            kura_descriptor_free(e);
            ran++;
        }
        round_trip(ctx, d, 2);
        kura_descriptor_free(d);
    }
    assert_int_equal(ran, 14);
    for (size_t i = 0; i < sizeof(bip389_invalid) / sizeof(bip389_invalid[0]); i++) {
        parse_fails(ctx, bip389_invalid[i], KURA_EDATA);
    }
    {
        /* Branch out of range is a caller error, not a data error. */
        kura_descriptor *d = parse_ok(ctx, bip389_valid[0].multipath);
        kura_descriptor_output *out = kura_descriptor_output_new();
        char *s = NULL;
        uint8_t spk[64];
        size_t len = 7;
        assert_int_equal(kura_descriptor_derive(ctx, out, d, 2, 0, NULL), KURA_EINVAL);
        assert_int_equal(out->n_scripts, 0);
        assert_int_equal(kura_descriptor_script_pubkey(ctx, spk, sizeof(spk), &len, d, 2, 0, NULL),
                         KURA_EINVAL);
        assert_int_equal(len, 0);
        assert_int_equal(kura_descriptor_to_string(ctx, &s, d, 2, 0, NULL), KURA_EINVAL);
        assert_null(s);
        kura_descriptor_output_free(out);
        kura_descriptor_free(d);
    }
}

/* ---- BIP341 wallet vectors: trees, merkle roots, control blocks ---- */

/* Writes the descriptor tree for a BIP341 scriptTree whose leaves are all
 * "<32-byte key> OP_CHECKSIG" tapscripts, i.e. pk() leaves. Returns 0 if some
 * leaf is another script. */
static int tree_text(char *buf, size_t cap, const json_t *tree)
{
    size_t used = strlen(buf);
    if (json_is_array(tree)) {
        if (json_array_size(tree) != 2 || used + 3 >= cap) return 0;
        strcat(buf, "{");
        if (!tree_text(buf, cap, json_array_get(tree, 0))) return 0;
        strcat(buf, ",");
        if (!tree_text(buf, cap, json_array_get(tree, 1))) return 0;
        if (strlen(buf) + 2 >= cap) return 0;
        strcat(buf, "}");
        return 1;
    } else {
        const char *script = tu_str(tree, "script");
        if (json_integer_value(json_object_get(tree, "leafVersion")) != 0xc0) return 0;
        if (strlen(script) != 68 || strncmp(script, "20", 2) != 0 || strcmp(script + 66, "ac") != 0) {
            return 0;
        }
        if (used + 72 >= cap) return 0;
        strcat(buf, "pk(");
        strncat(buf, script + 2, 64);
        strcat(buf, ")");
        return 1;
    }
}

static void test_bip341_trees(void **state)
{
    const kura_ctx *ctx = *state;
    json_t *root = tu_load_json("bip341.json");
    kura_descriptor_output *out = kura_descriptor_output_new();
    size_t i, ran = 0;
    json_t *c;
    assert_non_null(out);
    json_array_foreach(json_object_get(root, "scriptPubKey"), i, c) {
        const json_t *given = json_object_get(c, "given");
        const json_t *inter = json_object_get(c, "intermediary");
        const json_t *expected = json_object_get(c, "expected");
        const json_t *tree = json_object_get(given, "scriptTree");
        const json_t *blocks = json_object_get(expected, "scriptPathControlBlocks");
        const json_t *leaf_hashes = json_object_get(inter, "leafHashes");
        char tbuf[8192], desc[8300], addr[KURA_ADDRESS_MAX];
        kura_descriptor *d;
        uint8_t want[32];
        if (json_is_null(tree) || tree == NULL) {
            snprintf(desc, sizeof(desc), "tr(%s)", tu_str(given, "internalPubkey"));
        } else {
            tbuf[0] = '\0';
            if (!tree_text(tbuf, sizeof(tbuf), tree)) continue; /* not only pk() leaves */
            snprintf(desc, sizeof(desc), "tr(%s,%s)", tu_str(given, "internalPubkey"), tbuf);
        }
        d = parse_ok(ctx, desc);
        assert_int_equal(kura_descriptor_derive(ctx, out, d, 0, 0, NULL), KURA_OK);
        assert_true(out->is_taproot);
        assert_script_hex(out->scripts[0].script_pubkey, out->scripts[0].script_pubkey_len,
                          tu_str(expected, "scriptPubKey"));
        tu_unhex_fixed(tu_str(inter, "tweakedPubkey"), want, 32);
        assert_memory_equal(out->output_key, want, 32);
        tu_unhex_fixed(tu_str(given, "internalPubkey"), want, 32);
        assert_memory_equal(out->internal_key, want, 32);
        assert_int_equal(kura_descriptor_address(ctx, addr, sizeof(addr), d, 0, 0,
                                                 KURA_NETWORK_MAINNET, NULL),
                         KURA_OK);
        assert_string_equal(addr, tu_str(expected, "bip350Address"));
        if (json_is_null(json_object_get(inter, "merkleRoot"))) {
            assert_int_equal(out->has_merkle_root, 0);
            assert_int_equal(out->n_leaves, 0);
        } else {
            assert_int_equal(out->has_merkle_root, 1);
            tu_unhex_fixed(tu_str(inter, "merkleRoot"), want, 32);
            assert_memory_equal(out->merkle_root, want, 32);
            assert_int_equal(out->n_leaves, json_array_size(blocks));
            for (size_t k = 0; k < out->n_leaves; k++) {
                assert_int_equal(out->leaves[k].leaf_version, 0xc0);
                assert_script_hex(out->leaves[k].control_block, out->leaves[k].control_block_len,
                                  json_string_value(json_array_get(blocks, k)));
                tu_unhex_fixed(json_string_value(json_array_get(leaf_hashes, k)), want, 32);
                assert_memory_equal(out->leaves[k].leaf_hash, want, 32);
                assert_int_equal(out->leaves[k].control_block_len, 33 + 32 * out->leaves[k].depth);
                /* Each leaf's single key is attributed to it. */
                assert_int_equal(out->keys[1 + k].leaf, k);
            }
            assert_int_equal(out->keys[0].leaf, KURA_DESCRIPTOR_NO_LEAF);
        }
        round_trip(ctx, d, 1);
        kura_descriptor_free(d);
        ran++;
    }
    assert_int_equal(ran, 5); /* vectors 0, 1, 2, 5, 6: pk() leaves only */
    kura_descriptor_output_free(out);
    json_decref(root);
}

/* ---- BIP380 normalisation of the public form (BIP32 test vector 1) ---- */

static const struct {
    const char *priv, *pub;
} public_pairs[] = {
    {"pkh(" XPRV_C "/2147483647'/0)",
     "pkh([bd16bee5/2147483647h]xpub69H7F5dQzmVd3vPuLKtcXJziMEQByuDidnX3YdwgtNsecY5HRGtAAQC5mXTt4dsv9RzyjgDjAQs9VGVV6ydYCHnprc9vvaA5YtqWyL6hyds/0)"},
    {"pk(" XPRV_B "/0)", "pk(" XPUB_B "/0)"},
    {"wpkh([ffffffff/13']" XPRV_D "/1/2/*)", "wpkh([ffffffff/13h]" XPUB_F "/1/2/*)"},
};

static void test_public_form_normalisation(void **state)
{
    const kura_ctx *ctx = *state;
    json_t *root = tu_load_json("bip32.json");
    const json_t *chains = json_object_get(json_array_get(json_object_get(root, "valid"), 0), "chains");
    const char *master = NULL, *at_2h = NULL, *m0h = NULL, *at_2 = NULL;
    uint8_t raw[82];
    size_t raw_len = 0, i;
    json_t *c;
    char fp_hex[9], text[512], want[600], *s = NULL;
    kura_descriptor *d, *d2;
    kura_descriptor_output *out = kura_descriptor_output_new();

    json_array_foreach(chains, i, c) {
        const char *path = tu_str(c, "path");
        if (strcmp(path, "m") == 0) master = tu_str(c, "ext_prv");
        if (strcmp(path, "m/0H") == 0) m0h = tu_str(c, "ext_pub");
        if (strcmp(path, "m/0H/1/2H") == 0) at_2h = tu_str(c, "ext_pub");
        if (strcmp(path, "m/0H/1/2H/2") == 0) at_2 = tu_str(c, "ext_pub");
    }
    assert_non_null(master);
    assert_non_null(m0h);
    assert_non_null(at_2h);
    assert_non_null(at_2);
    /* The master's fingerprint is the parent fingerprint field of m/0H. */
    assert_int_equal(kura_base58check_decode(raw, sizeof(raw), &raw_len, m0h, NULL), KURA_OK);
    assert_int_equal(raw_len, 78);
    snprintf(fp_hex, sizeof(fp_hex), "%02x%02x%02x%02x", raw[5], raw[6], raw[7], raw[8]);

    snprintf(text, sizeof(text), "pkh(%s/0h/1/2h/2/*)", master);
    d = parse_ok(ctx, text);
    assert_int_equal(kura_descriptor_to_string(ctx, &s, d, KURA_DESCRIPTOR_ALL_BRANCHES,
                                               KURA_DESCRIPTOR_PUBLIC, NULL),
                     KURA_OK);
    /* BIP380: the xpub at the last hardened step, the path to it in the origin. */
    snprintf(want, sizeof(want), "pkh([%s/0h/1/2h]%s/2/*)", fp_hex, at_2h);
    assert_int_equal(strlen(s), strlen(want) + 9);
    assert_memory_equal(s, want, strlen(want));
    assert_checksum_suffix(s);
    d2 = parse_ok(ctx, s);
    for (uint32_t k = 0; k < 3; k++) assert_same_output(ctx, d, 0, d2, 0, k);
    /* Key origins agree too: master fingerprint, full path. */
    assert_int_equal(kura_descriptor_derive(ctx, out, d2, 0, 7, NULL), KURA_OK);
    assert_int_equal(out->n_keys, 1);
    assert_int_equal(out->keys[0].has_origin, 1);
    assert_int_equal(out->keys[0].path_len, 5);
    assert_int_equal(out->keys[0].path[0], 0x80000000u);
    assert_int_equal(out->keys[0].path[1], 1);
    assert_int_equal(out->keys[0].path[2], 0x80000002u);
    assert_int_equal(out->keys[0].path[3], 2);
    assert_int_equal(out->keys[0].path[4], 7);
    assert_memory_equal(out->keys[0].fingerprint, raw + 5, 4);
    assert_int_equal(kura_descriptor_derive(ctx, out, d, 0, 7, NULL), KURA_OK);
    assert_int_equal(out->keys[0].has_origin, 0); /* no origin written: own fingerprint */
    assert_memory_equal(out->keys[0].fingerprint, raw + 5, 4);
    assert_int_equal(out->keys[0].path_len, 5);
    kura_descriptor_string_free(s);
    kura_descriptor_free(d2);
    kura_descriptor_free(d);

    /* Without a wildcard the key at m/0H/1/2H/2 is the vector's. */
    snprintf(text, sizeof(text), "pkh(%s/0h/1/2h/2)", master);
    d = parse_ok(ctx, text);
    assert_int_equal(kura_descriptor_to_string(ctx, &s, d, KURA_DESCRIPTOR_ALL_BRANCHES,
                                               KURA_DESCRIPTOR_PUBLIC, NULL),
                     KURA_OK);
    snprintf(want, sizeof(want), "pkh([%s/0h/1/2h]%s/2)", fp_hex, at_2h);
    assert_memory_equal(s, want, strlen(want));
    {
        kura_bip32_key k;
        assert_int_equal(kura_bip32_parse(ctx, &k, at_2, NULL), KURA_OK);
        assert_int_equal(kura_descriptor_derive(ctx, out, d, 0, 0, NULL), KURA_OK);
        assert_memory_equal(out->keys[0].pubkey, k.pub, 33);
    }
    kura_descriptor_string_free(s);
    kura_descriptor_free(d);

    /* A hardened wildcard has no public form; a hardened multipath step only
     * one branch at a time. */
    snprintf(text, sizeof(text), "pkh(%s/0h/*h)", master);
    d = parse_ok(ctx, text);
    assert_int_equal(kura_descriptor_to_string(ctx, &s, d, KURA_DESCRIPTOR_ALL_BRANCHES,
                                               KURA_DESCRIPTOR_PUBLIC, NULL),
                     KURA_EDATA);
    assert_null(s);
    kura_descriptor_free(d);
    snprintf(text, sizeof(text), "wpkh(%s/<0h;1h>/*)", master);
    d = parse_ok(ctx, text);
    assert_int_equal(kura_descriptor_to_string(ctx, &s, d, KURA_DESCRIPTOR_ALL_BRANCHES,
                                               KURA_DESCRIPTOR_PUBLIC, NULL),
                     KURA_EDATA);
    assert_int_equal(kura_descriptor_to_string(ctx, &s, d, 1, KURA_DESCRIPTOR_PUBLIC, NULL), KURA_OK);
    snprintf(want, sizeof(want), "wpkh([%s/1h]", fp_hex);
    assert_memory_equal(s, want, strlen(want));
    d2 = parse_ok(ctx, s);
    for (uint32_t k = 0; k < 2; k++) assert_same_output(ctx, d, 1, d2, 0, k);
    kura_descriptor_string_free(s);
    kura_descriptor_free(d2);
    kura_descriptor_free(d);

    /* The BIP381/382 vectors pair private descriptors with their public
     * forms (same scripts); kura's public form is exactly the partner. */
    for (size_t p = 0; p < sizeof(public_pairs) / sizeof(public_pairs[0]); p++) {
        d = parse_ok(ctx, public_pairs[p].priv);
        assert_int_equal(kura_descriptor_to_string(ctx, &s, d, KURA_DESCRIPTOR_ALL_BRANCHES,
                                                   KURA_DESCRIPTOR_PUBLIC, NULL),
                         KURA_OK);
        assert_int_equal(strlen(s), strlen(public_pairs[p].pub) + 9);
        assert_memory_equal(s, public_pairs[p].pub, strlen(public_pairs[p].pub));
        kura_descriptor_string_free(s);
        kura_descriptor_free(d);
    }
    kura_descriptor_output_free(out);
    json_decref(root);
}

/* ---- refusals and misuse ---- */

static void test_refusals(void **state)
{
    const kura_ctx *ctx = *state;
    static const char *const bad[] = {
        "",
        "wpkh()",
        "wpkh(03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd",
        "wpkh(03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd))",
        "wpkh(03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd)x",
        "WPKH(03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd)",
        "wpkh( 03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd)",
        "foo(03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd)",
        /* x-only outside tr, hybrid and off-curve keys */
        "pk(a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd)",
        "pk(06a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd5b8dec5235a0fa8722476c7709c02559e3aa73aa03918ba2d492eea75abea235)",
        "pk(020000000000000000000000000000000000000000000000000000000000000005)",
        "tr(0000000000000000000000000000000000000000000000000000000000000005)",
        /* tr() only at the top; multi() not in tapscript; combo() only at the top */
        "tr(a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd,tr(a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd))",
        "tr(a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd,multi(1,03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd))",
        "tr(a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd,{pk(a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd)})",
        "tr(a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd,{pk(a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd),})",
        "tr(a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd,)",
        "wsh(sh(pk(03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd)))",
        "sh(wsh(wpkh(03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd)))",
        "wsh(multi_a(1,a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd))",
        /* bare multi: at most 3 keys (BIP383) */
        "multi(1,03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd,03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd,03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd,03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd)",
        "multi(01,03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd)",
        "multi(1)",
        /* derivation: leading zero, H, empty step, path after a plain key, hardened from xpub */
        "wpkh(" XPUB_A "/01/*)",
        "wpkh(" XPUB_A "/1H/*)",
        "wpkh(" XPUB_A "//1)",
        "wpkh(" XPUB_A "/1/)",
        "wpkh(03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd/0)",
        "wpkh(" XPUB_A "/1h/*)",
        "wpkh(" XPUB_A "/*h)",
        "wpkh(" XPUB_A "/**)",
        /* mixed networks */
        "wsh(multi(1," XPUB_A ",tpubD6NzVbkrYhZ4XgiXtGrdW5XDAPFCL9h7we1vwNCpn8tGbBcgfVYjXyhWo4E1xkh56hjod1RhGjxbaTLV3X4FyWuejifB9jusQ46QzG87VKp))",
        "raw(deadbeef)#89f8spxM",
        "raw(deadbeef)#89f8spx ",
        "raw(deadbeef)\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) parse_fails(ctx, bad[i], KURA_EDATA);

    {
        /* A taproot tree 129 deep is over BIP341's limit; 128 is fine. */
        size_t depth_ok = 128, cap = 64 + 130 * 80;
        char *s = malloc(cap);
        const char *leaf = "pk(a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd)";
        for (int extra = 0; extra < 2; extra++) {
            size_t depth = depth_ok + (size_t)extra, n;
            strcpy(s, "tr(a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd,");
            for (size_t k = 0; k < depth; k++) strcat(s, "{");
            strcat(s, leaf);
            for (size_t k = 0; k < depth; k++) {
                strcat(s, ",");
                strcat(s, leaf);
                strcat(s, "}");
            }
            strcat(s, ")");
            n = strlen(s);
            assert_true(n < cap);
            if (extra == 0) {
                kura_descriptor *d = parse_ok(ctx, s);
                kura_descriptor_output *out = kura_descriptor_output_new();
                uint8_t spk[64];
                size_t len = 0;
                assert_int_equal(kura_descriptor_derive(ctx, out, d, 0, 0, NULL), KURA_OK);
                assert_int_equal(out->n_leaves, 129);
                assert_int_equal(out->leaves[0].depth, 128);
                assert_int_equal(out->leaves[0].control_block_len, 33 + 32 * 128);
                /* The heap path of script_pubkey agrees with derive. */
                assert_int_equal(kura_descriptor_script_pubkey(ctx, spk, sizeof(spk), &len, d, 0, 0,
                                                               NULL),
                                 KURA_OK);
                tu_assert_bytes_equal(spk, len, out->scripts[0].script_pubkey,
                                      out->scripts[0].script_pubkey_len);
                kura_descriptor_output_free(out);
                kura_descriptor_free(d);
            } else {
                parse_fails(ctx, s, KURA_EDATA);
            }
        }
        free(s);
    }
    {
        /* Over the length limit: KURA_ERANGE, checked before anything else. */
        size_t n = KURA_DESCRIPTOR_MAX_LEN + 1;
        char *s = malloc(n);
        kura_descriptor *d = NULL;
        memset(s, 'a', n);
        assert_int_equal(kura_descriptor_parse(ctx, &d, s, n, NULL), KURA_ERANGE);
        assert_null(d);
        free(s);
    }
    {
        /* Misuse. */
        kura_descriptor *d = NULL;
        char *s = NULL;
        char sum[9];
        assert_int_equal(kura_descriptor_parse(ctx, NULL, "raw(00)", 7, NULL), KURA_EINVAL);
        assert_int_equal(kura_descriptor_parse(NULL, &d, "raw(00)", 7, NULL), KURA_EINVAL);
        assert_int_equal(kura_descriptor_parse(ctx, &d, NULL, 7, NULL), KURA_EINVAL);
        assert_int_equal(kura_descriptor_checksum(NULL, "a", 1, NULL), KURA_EINVAL);
        assert_int_equal(kura_descriptor_checksum(sum, NULL, 1, NULL), KURA_EINVAL);
        d = parse_ok(ctx, "raw(00)");
        assert_int_equal(kura_descriptor_to_string(ctx, &s, d, KURA_DESCRIPTOR_ALL_BRANCHES, 4, NULL),
                         KURA_EINVAL);
        assert_int_equal(kura_descriptor_to_string(ctx, NULL, d, KURA_DESCRIPTOR_ALL_BRANCHES, 0,
                                                   NULL),
                         KURA_EINVAL);
        assert_int_equal(kura_descriptor_derive(ctx, NULL, d, 0, 0, NULL), KURA_EINVAL);
        kura_descriptor_free(d);
        kura_descriptor_free(NULL);
        kura_descriptor_output_free(NULL);
        kura_descriptor_string_free(NULL);
        assert_int_equal(kura_descriptor_key_check(ctx, "02", 2, (kura_descriptor_key_context)7, NULL),
                         KURA_EINVAL);
    }
}

/* Error messages never repeat a private key, even a mistyped one. */
static void test_no_secret_in_errors(void **state)
{
    const kura_ctx *ctx = *state;
    static const char *const cases[] = {
        "wpkh(L4rK1yDtCWekvXuE6oXD9jCYfFNV2cWRpVuPLBcCU2z8TrisoyY2)",
        "wpkh(" XPRV_C "x/0)",
        "wpkh(5KYZdUEo39z3FPrtuX2QbbwGnNP5zTd7yyr2SC1j299sBCnWjss)",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kura_descriptor *d = NULL;
        kura_error e;
        memset(&e, 0, sizeof(e));
        assert_int_equal(kura_descriptor_parse(ctx, &d, cases[i], strlen(cases[i]), &e), KURA_EDATA);
        assert_null(strstr(e.message, "L4rK"));
        assert_null(strstr(e.message, "xprv9"));
        assert_null(strstr(e.message, "5KYZ"));
    }
}

/* addr() and the network of keys. */
/* Finding 6: kura's signer reads (branch, index) from derivation paths, so a
 * wallet must number its branches <0;1> in every key. Other numbering and
 * mixed numbering are refused, clearly. */
static void test_check_branches(void **state)
{
    const kura_ctx *ctx = *state;
    static const struct {
        const char *text;
        int ok;
        const char *needle;
    } cases[] = {
        {"wpkh(" XPUB_A "/<0;1>/*)", 1, NULL},
        {"wsh(sortedmulti(2," XPUB_A "/<0;1>/*," XPUB_B "/<0;1>/*))", 1, NULL},
        {"tr(" XPUB_A "/<0;1>/*)", 1, NULL},
        {"wpkh(" XPUB_A "/<1;0>/*)", 0, "key expression 1 does not number its branches <0;1>: on branch 0 its path ends 1/7"},
        {"wpkh(" XPUB_A "/<0;2>/*)", 0, "on branch 1 its path ends 2/7"},
        {"wsh(sortedmulti(2," XPUB_A "/<0;1>/*," XPUB_B "/<1;0>/*))", 0, "key expression 2 does not number"},
        {"wsh(sortedmulti(2," XPUB_A "/<0;1>/*," XPUB_B "/0/*))", 0, "key expression 2"},
        {"wpkh(" XPUB_A "/<0;1;2>/*)", 0, "needs 2 branches"},
        {"wpkh(" XPUB_A "/0/*)", 0, "needs 2 branches"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kura_descriptor *d = parse_ok(ctx, cases[i].text);
        kura_error err;
        int rc = kura_descriptor_check_branches(ctx, d, 2, &err);
        if (cases[i].ok) {
            if (rc != KURA_OK) fail_msg("%s: %s", cases[i].text, err.message);
        } else {
            if (rc != KURA_EDATA || strstr(err.message, cases[i].needle) == NULL)
                fail_msg("%s: got %d '%s'", cases[i].text, rc, err.message);
        }
        kura_descriptor_free(d);
    }
    assert_int_equal(kura_descriptor_check_branches(ctx, NULL, 2, NULL), KURA_EINVAL);
}

static void test_networks(void **state)
{
    const kura_ctx *ctx = *state;
    kura_descriptor *d;
    char addr[KURA_ADDRESS_MAX];
    char *s = NULL;

    d = parse_ok(ctx, "addr(3PUNyaW7M55oKWJ3kDukwk9bsKvryra15j)");
    assert_int_equal(kura_descriptor_allows_network(d, KURA_NETWORK_MAINNET), 1);
    assert_int_equal(kura_descriptor_allows_network(d, KURA_NETWORK_TESTNET), 0);
    assert_int_equal(kura_descriptor_address(ctx, addr, sizeof(addr), d, 0, 0, KURA_NETWORK_MAINNET,
                                             NULL),
                     KURA_OK);
    assert_string_equal(addr, "3PUNyaW7M55oKWJ3kDukwk9bsKvryra15j");
    assert_int_equal(kura_descriptor_address(ctx, addr, sizeof(addr), d, 0, 0, KURA_NETWORK_TESTNET,
                                             NULL),
                     KURA_EDATA);
    assert_string_equal(addr, "");
    kura_descriptor_free(d);

    /* BIP173's upper-case address is re-encoded in lower case. */
    d = parse_ok(ctx, "addr(BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4)");
    assert_int_equal(kura_descriptor_to_string(ctx, &s, d, KURA_DESCRIPTOR_ALL_BRANCHES, 0, NULL),
                     KURA_OK);
    assert_memory_equal(s, "addr(bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4)#", 49);
    kura_descriptor_string_free(s);
    kura_descriptor_free(d);

    /* tpub: testnet and regtest, not mainnet. */
    d = parse_ok(ctx, "wpkh(tpubD6NzVbkrYhZ4XgiXtGrdW5XDAPFCL9h7we1vwNCpn8tGbBcgfVYjXyhWo4E1xkh56hjod1RhGjxbaTLV3X4FyWuejifB9jusQ46QzG87VKp/0/*)");
    assert_int_equal(kura_descriptor_allows_network(d, KURA_NETWORK_MAINNET), 0);
    assert_int_equal(kura_descriptor_allows_network(d, KURA_NETWORK_TESTNET), 1);
    assert_int_equal(kura_descriptor_allows_network(d, KURA_NETWORK_REGTEST), 1);
    assert_int_equal(kura_descriptor_address(ctx, addr, sizeof(addr), d, 0, 0, KURA_NETWORK_MAINNET,
                                             NULL),
                     KURA_EDATA);
    assert_int_equal(kura_descriptor_address(ctx, addr, sizeof(addr), d, 0, 0, KURA_NETWORK_REGTEST,
                                             NULL),
                     KURA_OK);
    assert_memory_equal(addr, "bcrt1q", 6);
    assert_int_equal(kura_descriptor_address(ctx, addr, sizeof(addr), d, 0, 0x80000000u,
                                             KURA_NETWORK_REGTEST, NULL),
                     KURA_EINVAL);
    kura_descriptor_free(d);

    /* No address: bare pk(). */
    d = parse_ok(ctx, "pk(03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd)");
    assert_int_equal(kura_descriptor_address(ctx, addr, sizeof(addr), d, 0, 0, KURA_NETWORK_MAINNET,
                                             NULL),
                     KURA_EDATA);
    kura_descriptor_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bip380_checksum),
        cmocka_unit_test(test_bip380_key_expressions),
        cmocka_unit_test(test_bip381),
        cmocka_unit_test(test_bip382),
        cmocka_unit_test(test_bip383),
        cmocka_unit_test(test_bip384),
        cmocka_unit_test(test_bip385),
        cmocka_unit_test(test_bip386),
        cmocka_unit_test(test_bip387),
        cmocka_unit_test(test_multi_a_large),
        cmocka_unit_test(test_bip389),
        cmocka_unit_test(test_bip341_trees),
        cmocka_unit_test(test_public_form_normalisation),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_no_secret_in_errors),
        cmocka_unit_test(test_networks),
        cmocka_unit_test(test_check_branches),
    };
    return cmocka_run_group_tests(tests, tu_ctx_setup, tu_ctx_teardown);
}
