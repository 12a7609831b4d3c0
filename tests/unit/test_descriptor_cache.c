/* The derivation cache (kura_descriptor_cache_*): a cached derive fills the
 * output exactly as kura_descriptor_derive does, misses derive, the binary
 * form round-trips and its parser refuses truncation, garbage and a cache of
 * another descriptor. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kura/descriptor.h"
#include "kura/hash.h"
#include "testutil_keys.h"

#define H KURA_BIP32_HARDENED
#define COUNT 12u

static kura_descriptor *make_desc(const char *kind, uint8_t seed0)
{
    kura_bip32_key m;
    char origin[3][256], text[1200];
    const uint32_t p84[] = {84 | H, 0 | H, 0 | H}, p48[] = {48 | H, 0 | H, 0 | H, 2 | H},
                   p49[] = {49 | H, 0 | H, 0 | H};
    kura_descriptor *d = NULL;
    kura_error err;
    for (size_t i = 0; i < 3; i++) {
        uint8_t s = (uint8_t)(seed0 + i);
        if (strcmp(kind, "wpkh") == 0)
            tu_make_master(tu_ctx, &m, origin[i], 256, s, p84, 3, "84h/0h/0h");
        else if (strcmp(kind, "wsh") == 0)
            tu_make_master(tu_ctx, &m, origin[i], 256, s, p48, 4, "48h/0h/0h/2h");
        else
            tu_make_master(tu_ctx, &m, origin[i], 256, s, p49, 3, "49h/0h/0h");
        kura_bip32_wipe(&m);
    }
    if (strcmp(kind, "wpkh") == 0)
        snprintf(text, sizeof(text), "wpkh(%s/<0;1>/*)", origin[0]);
    else if (strcmp(kind, "wsh") == 0)
        snprintf(text, sizeof(text), "wsh(sortedmulti(2,%s/<0;1>/*,%s/<0;1>/*,%s/<0;1>/*))",
                 origin[0], origin[1], origin[2]);
    else if (strcmp(kind, "tr") == 0)
        snprintf(text, sizeof(text), "tr(%s/<0;1>/*)", origin[0]);
    else if (strcmp(kind, "trms") == 0)
        snprintf(text, sizeof(text),
                 "tr(50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0,"
                 "sortedmulti_a(2,%s/<0;1>/*,%s/<0;1>/*,%s/<0;1>/*))",
                 origin[0], origin[1], origin[2]);
    else
        snprintf(text, sizeof(text), "sh(wpkh(%s/<0;1>/*))", origin[0]);
    if (kura_descriptor_parse(tu_ctx, &d, text, strlen(text), &err) != KURA_OK)
        fail_msg("descriptor: %s", err.message);
    return d;
}

static void assert_span(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    assert_int_equal(alen, blen);
    assert_true((a == NULL) == (b == NULL));
    if (alen > 0) assert_memory_equal(a, b, alen);
}

/* Every field a caller can read. */
static void assert_same_output(const kura_descriptor_output *x, const kura_descriptor_output *y)
{
    assert_int_equal(x->n_scripts, y->n_scripts);
    for (size_t i = 0; i < x->n_scripts; i++) {
        assert_span(x->scripts[i].script_pubkey, x->scripts[i].script_pubkey_len,
                    y->scripts[i].script_pubkey, y->scripts[i].script_pubkey_len);
        assert_span(x->scripts[i].redeem_script, x->scripts[i].redeem_script_len,
                    y->scripts[i].redeem_script, y->scripts[i].redeem_script_len);
        assert_span(x->scripts[i].witness_script, x->scripts[i].witness_script_len,
                    y->scripts[i].witness_script, y->scripts[i].witness_script_len);
    }
    assert_int_equal(x->n_keys, y->n_keys);
    for (size_t i = 0; i < x->n_keys; i++) {
        const kura_descriptor_key_info *a = &x->keys[i], *b = &y->keys[i];
        assert_span(a->pubkey, a->pubkey_len, b->pubkey, b->pubkey_len);
        assert_memory_equal(a->fingerprint, b->fingerprint, 4);
        assert_int_equal(a->path_len, b->path_len);
        assert_memory_equal(a->path, b->path, a->path_len * sizeof(uint32_t));
        assert_int_equal(a->has_origin, b->has_origin);
        assert_int_equal(a->expression, b->expression);
        assert_int_equal(a->leaf, b->leaf);
    }
    assert_int_equal(x->is_taproot, y->is_taproot);
    assert_memory_equal(x->internal_key, y->internal_key, 32);
    assert_memory_equal(x->output_key, y->output_key, 32);
    assert_int_equal(x->output_key_parity, y->output_key_parity);
    assert_int_equal(x->has_merkle_root, y->has_merkle_root);
    assert_memory_equal(x->merkle_root, y->merkle_root, 32);
    assert_int_equal(x->n_leaves, y->n_leaves);
}

static void check_kind(const char *kind)
{
    kura_descriptor *d = make_desc(kind, 0x21), *other = make_desc(kind, 0x51);
    kura_descriptor_cache *c = NULL, *c2 = NULL;
    kura_descriptor_output *a = kura_descriptor_output_new(), *b = kura_descriptor_output_new();
    uint8_t *bytes = NULL, *bytes2 = NULL, *bad;
    size_t len = 0, len2 = 0;
    kura_error err;

    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(kura_descriptor_cache_build(tu_ctx, &c, d, COUNT, &err), KURA_OK);
    assert_int_equal(kura_descriptor_cache_count(c), COUNT);
    /* Hits (index < COUNT) and misses (above) both equal plain derivation. */
    for (size_t br = 0; br < 2; br++) {
        for (uint32_t i = 0; i < COUNT + 3; i++) {
            assert_int_equal(kura_descriptor_derive(tu_ctx, a, d, br, i, NULL), KURA_OK);
            assert_int_equal(kura_descriptor_derive_cached(tu_ctx, b, d, c, br, i, NULL), KURA_OK);
            assert_same_output(a, b);
            assert_int_equal(kura_descriptor_derive_cached(tu_ctx, b, d, NULL, br, i, NULL),
                             KURA_OK);
            assert_same_output(a, b);
        }
    }
    /* Misuse is refused as by kura_descriptor_derive. */
    assert_int_equal(kura_descriptor_derive_cached(tu_ctx, b, d, c, 2, 0, NULL), KURA_EINVAL);
    assert_int_equal(b->n_scripts, 0);
    assert_int_equal(kura_descriptor_derive_cached(tu_ctx, b, d, c, 0, H, NULL), KURA_EINVAL);
    assert_int_equal(kura_descriptor_derive_cached(tu_ctx, b, other, c, 0, 0, NULL), KURA_EINVAL);
    assert_int_equal(b->n_scripts, 0);

    /* Round trip. */
    assert_int_equal(kura_descriptor_cache_serialize(&bytes, &len, c), KURA_OK);
    assert_int_equal(kura_descriptor_cache_parse(tu_ctx, &c2, d, bytes, len, &err), KURA_OK);
    assert_int_equal(kura_descriptor_cache_serialize(&bytes2, &len2, c2), KURA_OK);
    assert_span(bytes, len, bytes2, len2);
    for (uint32_t i = 0; i < COUNT; i++) {
        assert_int_equal(kura_descriptor_derive(tu_ctx, a, d, 1, i, NULL), KURA_OK);
        assert_int_equal(kura_descriptor_derive_cached(tu_ctx, b, d, c2, 1, i, NULL), KURA_OK);
        assert_same_output(a, b);
    }
    kura_descriptor_cache_free(c2);
    c2 = NULL;

    /* Truncation at every length, extra bytes, a flipped bit anywhere. */
    for (size_t n = 0; n < len; n++) {
        assert_int_equal(kura_descriptor_cache_parse(tu_ctx, &c2, d, bytes, n, NULL), KURA_EDATA);
        assert_null(c2);
    }
    bad = malloc(len + 1);
    assert_non_null(bad);
    memcpy(bad, bytes, len);
    bad[len] = 0;
    assert_int_equal(kura_descriptor_cache_parse(tu_ctx, &c2, d, bad, len + 1, NULL), KURA_EDATA);
    for (size_t n = 0; n < len; n += 7) {
        bad[n] ^= 0x10;
        assert_int_not_equal(kura_descriptor_cache_parse(tu_ctx, &c2, d, bad, len, NULL), KURA_OK);
        assert_null(c2);
        bad[n] ^= 0x10;
    }
    /* Garbage with a correct digest still fails (bad key prefix / spot check). */
    memset(bad + 56, 0x02, len - 56 - 32);
    kura_sha256(bad + len - 32, bad, len - 32);
    assert_int_equal(kura_descriptor_cache_parse(tu_ctx, &c2, d, bad, len, NULL), KURA_EDATA);
    free(bad);
    /* Another descriptor (same shape). */
    assert_int_equal(kura_descriptor_cache_parse(tu_ctx, &c2, other, bytes, len, &err), KURA_EDATA);
    assert_non_null(strstr(err.message, "another descriptor"));
    assert_null(c2);

    free(bytes);
    free(bytes2);
    kura_descriptor_cache_free(c);
    kura_descriptor_output_free(a);
    kura_descriptor_output_free(b);
    kura_descriptor_free(d);
    kura_descriptor_free(other);
}

static void test_wpkh(void **state)
{
    (void)state;
    check_kind("wpkh");
}

static void test_wsh_sortedmulti(void **state)
{
    (void)state;
    check_kind("wsh");
}

static void test_sh_wpkh(void **state)
{
    (void)state;
    check_kind("shwpkh");
}

/* Finding 8: tr() wallets are cached like the segwit v0 kinds, key path
 * and multi_a script trees alike, and equal plain derivation. */
static void test_tr(void **state)
{
    (void)state;
    check_kind("tr");
}

static void test_tr_multi_a(void **state)
{
    (void)state;
    check_kind("trms");
}

/* The cached tr() output key is what a hit uses (no tweak is computed): an
 * entry edited in the trusted file shows through. And a cache of count 0,
 * as kura-cold wrote for tr() wallets before, still parses (every derive a
 * miss). */
static void test_tr_uses_cached_output_key(void **state)
{
    kura_descriptor *d = make_desc("tr", 0x33);
    kura_descriptor_cache *c = NULL, *c2 = NULL;
    kura_descriptor_output *a = kura_descriptor_output_new(), *b = kura_descriptor_output_new();
    uint8_t *bytes = NULL;
    size_t len = 0, row = 2 * 33, off;
    (void)state;
    assert_int_equal(kura_descriptor_cache_build(tu_ctx, &c, d, COUNT, NULL), KURA_OK);
    assert_int_equal(kura_descriptor_cache_serialize(&bytes, &len, c), KURA_OK);
    /* header 56 bytes; rows of (1 key + output key) x 33; branch 0 index 5 */
    off = 56 + 5 * row + 33 + 1;
    bytes[off] ^= 1;
    kura_sha256(bytes + len - 32, bytes, len - 32);
    assert_int_equal(kura_descriptor_cache_parse(tu_ctx, &c2, d, bytes, len, NULL), KURA_OK);
    assert_int_equal(kura_descriptor_derive(tu_ctx, a, d, 0, 5, NULL), KURA_OK);
    assert_int_equal(kura_descriptor_derive_cached(tu_ctx, b, d, c2, 0, 5, NULL), KURA_OK);
    assert_int_equal(b->output_key[0], a->output_key[0] ^ 1);
    free(bytes);
    kura_descriptor_cache_free(c);
    kura_descriptor_cache_free(c2);
    c = c2 = NULL;
    assert_int_equal(kura_descriptor_cache_build(tu_ctx, &c, d, 0, NULL), KURA_OK);
    assert_int_equal(kura_descriptor_cache_serialize(&bytes, &len, c), KURA_OK);
    assert_int_equal(kura_descriptor_cache_parse(tu_ctx, &c2, d, bytes, len, NULL), KURA_OK);
    assert_int_equal(kura_descriptor_cache_count(c2), 0);
    assert_int_equal(kura_descriptor_derive_cached(tu_ctx, b, d, c2, 1, 3, NULL), KURA_OK);
    assert_int_equal(kura_descriptor_derive(tu_ctx, a, d, 1, 3, NULL), KURA_OK);
    assert_same_output(a, b);
    free(bytes);
    kura_descriptor_cache_free(c);
    kura_descriptor_cache_free(c2);
    kura_descriptor_output_free(a);
    kura_descriptor_output_free(b);
    kura_descriptor_free(d);
}

static void test_limits(void **state)
{
    kura_descriptor *d = make_desc("wpkh", 0x44);
    kura_descriptor_cache *c = NULL;
    (void)state;
    assert_int_equal(kura_descriptor_cache_build(tu_ctx, &c, d, KURA_DESCRIPTOR_CACHE_COUNT_MAX + 1,
                                                 NULL),
                     KURA_ERANGE);
    assert_null(c);
    assert_int_equal(kura_descriptor_cache_build(tu_ctx, NULL, d, 1, NULL), KURA_EINVAL);
    assert_int_equal(kura_descriptor_cache_parse(tu_ctx, &c, d, NULL, 0, NULL), KURA_EDATA);
    kura_descriptor_cache_free(NULL);
    kura_descriptor_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wpkh),
        cmocka_unit_test(test_wsh_sortedmulti),
        cmocka_unit_test(test_sh_wpkh),
        cmocka_unit_test(test_tr),
        cmocka_unit_test(test_tr_multi_a),
        cmocka_unit_test(test_tr_uses_cached_output_key),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, tu_ctx_setup, tu_ctx_teardown);
}
