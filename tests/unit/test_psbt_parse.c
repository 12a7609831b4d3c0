/* PSBT parsing and serialisation against the BIP174, BIP370 and BIP371 test
 * vectors: every invalid vector refused with KURA_EDATA, every valid one
 * re-serialised byte for byte (hex and base64), BIP370 lock times, v0 <-> v2
 * conversion, proprietary records and the hard limits. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kura/hash.h"
#include "kura/psbt.h"
#include "testutil.h"

static size_t vectors_run;

/* Where needle occurs in hay, or NULL (memmem is not in POSIX). */
static const uint8_t *find_bytes(const uint8_t *hay, size_t hay_len, const void *needle,
                                 size_t n)
{
    for (size_t i = 0; n <= hay_len && i <= hay_len - n; i++)
        if (memcmp(hay + i, needle, n) == 0) return hay + i;
    return NULL;
}

static kura_psbt *parse_hex_ok(const char *hex)
{
    size_t len;
    uint8_t *bin = tu_unhex(hex, &len);
    kura_psbt *p = NULL;
    kura_error err;
    memset(&err, 0, sizeof(err));
    int rc = kura_psbt_parse(&p, bin, len, &err);
    if (rc != KURA_OK) fail_msg("parse failed (%d): %s", rc, err.message);
    free(bin);
    return p;
}

static void assert_serializes_to(const kura_psbt *p, const char *hex, const char *b64)
{
    uint8_t *out = NULL, *want;
    size_t out_len = 0, want_len;
    char *s = NULL;
    size_t s_len = 0;
    assert_int_equal(kura_psbt_serialize(&out, &out_len, p), KURA_OK);
    want = tu_unhex(hex, &want_len);
    tu_assert_bytes_equal(out, out_len, want, want_len);
    free(out);
    free(want);
    if (b64 != NULL) {
        assert_int_equal(kura_psbt_to_base64(&s, &s_len, p), KURA_OK);
        assert_int_equal(s_len, strlen(b64));
        assert_string_equal(s, b64);
        free(s);
    }
}

/* Each invalid vector: refused with KURA_EDATA and a message, both as bytes
 * and as base64. */
static void run_invalid(const char *file, const char *group, size_t expect_count)
{
    json_t *root = tu_load_json(file);
    json_t *arr = json_object_get(root, group), *v;
    size_t i;
    assert_true(json_is_array(arr));
    assert_int_equal(json_array_size(arr), expect_count);
    json_array_foreach(arr, i, v)
    {
        size_t len;
        uint8_t *bin = tu_unhex(tu_str(v, "hex"), &len);
        const char *b64 = tu_str(v, "base64");
        kura_psbt *p = (kura_psbt *)1;
        kura_error err;
        memset(&err, 0, sizeof(err));
        int rc = kura_psbt_parse(&p, bin, len, &err);
        if (rc != KURA_EDATA)
            fail_msg("%s %s[%zu] (%s): expected KURA_EDATA, got %d", file, group, i,
                     json_string_value(json_object_get(v, "description")), rc);
        assert_null(p);
        assert_int_equal(err.code, KURA_EDATA);
        assert_true(strncmp(err.message, "psbt: ", 6) == 0);
        if (getenv("KURA_TEST_VERBOSE") != NULL)
            print_message("%s: %s\n    -> %s\n", file,
                          json_string_value(json_object_get(v, "description")), err.message);
        p = (kura_psbt *)1;
        assert_int_equal(kura_psbt_from_base64(&p, b64, strlen(b64), NULL), KURA_EDATA);
        assert_null(p);
        free(bin);
        vectors_run++;
    }
    json_decref(root);
}

/* Each valid vector: parses (bytes and base64) and re-serialises to the same
 * bytes and the same base64 text. */
static void run_valid(const char *file, const char *group, size_t expect_count,
                      uint32_t expect_version)
{
    json_t *root = tu_load_json(file);
    json_t *arr = json_object_get(root, group), *v;
    size_t i;
    assert_int_equal(json_array_size(arr), expect_count);
    json_array_foreach(arr, i, v)
    {
        const char *hex = tu_str(v, "hex"), *b64 = tu_str(v, "base64");
        kura_psbt *p = parse_hex_ok(hex), *q = NULL, *c = NULL;
        assert_int_equal(p->version, expect_version);
        assert_serializes_to(p, hex, b64);
        assert_int_equal(kura_psbt_from_base64(&q, b64, strlen(b64), NULL), KURA_OK);
        assert_serializes_to(q, hex, NULL);
        assert_int_equal(kura_psbt_clone(&c, p), KURA_OK);
        assert_serializes_to(c, hex, NULL);
        kura_psbt_free(p);
        kura_psbt_free(q);
        kura_psbt_free(c);
        vectors_run++;
    }
    json_decref(root);
}

static void test_bip174_invalid(void **state)
{
    (void)state;
    run_invalid("bip174.json", "invalid", 20);
}

static void test_bip174_valid(void **state)
{
    (void)state;
    run_valid("bip174.json", "valid", 10, 0);
    /* The signer-check PSBTs parse too (a signer refuses them later). */
    run_valid("bip174.json", "signer_check_failures", 4, 0);
}

static void test_bip370_invalid(void **state)
{
    (void)state;
    run_invalid("bip370.json", "invalid", 24);
}

static void test_bip370_valid(void **state)
{
    (void)state;
    run_valid("bip370.json", "valid", 14, 2);
    run_valid("bip370.json", "locktime", 10, 2);
}

static void test_bip371_invalid(void **state)
{
    (void)state;
    run_invalid("bip371.json", "invalid", 11);
}

static void test_bip371_valid(void **state)
{
    (void)state;
    run_valid("bip371.json", "valid", 6, 0);
}

/* Spot checks that the typed fields hold what the vector bytes say. */
static void test_typed_fields(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bip174.json");
    json_t *valid = json_object_get(root, "valid");
    /* "PSBT with one P2SH-P2WSH input of a 2-of-2 multisig ... Contains one signature." */
    kura_psbt *p = parse_hex_ok(tu_str(json_array_get(valid, 4), "hex"));
    assert_int_equal(p->input_count, 1);
    kura_psbt_input *in = &p->inputs[0];
    assert_true(in->has_witness_utxo);
    assert_int_equal(in->witness_utxo.amount, 199909013u);
    assert_int_equal(in->partial_sig_count, 1);
    assert_int_equal(in->partial_sigs[0].pubkey_len, 33);
    assert_int_equal(in->partial_sigs[0].sig[in->partial_sigs[0].sig_len - 1], 0x01);
    assert_true(in->has_redeem_script);
    assert_true(in->has_witness_script);
    assert_int_equal(in->bip32_count, 2);
    assert_int_equal(in->bip32[0].origin.path_len, 3);
    assert_int_equal(in->bip32[0].origin.path[0], 0x80000000u);
    kura_psbt_free(p);
    /* "PSBT with `PSBT_GLOBAL_XPUB`." */
    p = parse_hex_ok(tu_str(json_array_get(valid, 7), "hex"));
    assert_int_equal(p->xpub_count, 1);
    assert_int_equal(p->xpubs[0].xpub[0], 0x04);
    kura_psbt_free(p);
    /* "PSBT with unknown types in the inputs." */
    p = parse_hex_ok(tu_str(json_array_get(valid, 6), "hex"));
    assert_int_equal(p->inputs[0].unknown_count, 1);
    assert_int_equal(p->inputs[0].unknowns[0].key[0], 0xf0);
    kura_psbt_free(p);
    json_decref(root);

    /* BIP371: the script-path input with signatures. */
    root = tu_load_json("bip371.json");
    valid = json_object_get(root, "valid");
    p = parse_hex_ok(tu_str(json_array_get(valid, 5), "hex"));
    in = &p->inputs[0];
    assert_int_equal(in->tap_script_sig_count, 3);
    assert_int_equal(in->tap_leaf_script_count, 3);
    assert_int_equal(in->tap_leaf_scripts[0].leaf_version, 0xc0);
    assert_int_equal(in->tap_bip32_count, 4);
    assert_true(in->has_tap_internal_key);
    assert_true(in->has_tap_merkle_root);
    kura_psbt_free(p);
    p = parse_hex_ok(tu_str(json_array_get(valid, 4), "hex"));
    assert_true(p->outputs[0].tap_tree_count >= 2);
    kura_psbt_free(p);
    json_decref(root);
}

static void test_bip370_locktime(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bip370.json");
    json_t *arr = json_object_get(root, "locktime"), *v;
    size_t i;
    assert_int_equal(json_array_size(arr), 10);
    json_array_foreach(arr, i, v)
    {
        kura_psbt *p = parse_hex_ok(tu_str(v, "hex"));
        json_t *want = json_object_get(v, "expected_locktime");
        uint32_t lt = 7;
        kura_error err;
        kura_tx *tx = NULL;
        int rc = kura_psbt_locktime(&lt, p, &err);
        if (json_is_null(want)) {
            assert_int_equal(rc, KURA_EDATA);
            assert_int_equal(lt, 0);
            /* Nothing can be built or converted from it either. */
            assert_int_equal(kura_psbt_unsigned_tx(&tx, p, NULL), KURA_EDATA);
            assert_null(tx);
            assert_int_equal(kura_psbt_set_version(p, 0, NULL), KURA_EDATA);
            assert_int_equal(p->version, 2);
        } else {
            assert_int_equal(rc, KURA_OK);
            assert_int_equal(lt, (uint32_t)json_integer_value(want));
            assert_int_equal(kura_psbt_unsigned_tx(&tx, p, NULL), KURA_OK);
            assert_int_equal(tx->locktime, lt);
            kura_tx_free(tx);
        }
        kura_psbt_free(p);
        vectors_run++;
    }
    json_decref(root);
}

/* v2 -> v0: the unsigned tx carries every v2 transaction field; back to v2
 * gives the original bytes when the v2 PSBT held nothing v0 cannot. */
static void test_bip370_convert(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bip370.json");
    json_t *arr = json_object_get(root, "valid"), *v;
    size_t i, lossless = 0;
    json_array_foreach(arr, i, v)
    {
        const char *hex = tu_str(v, "hex");
        kura_psbt *orig = parse_hex_ok(hex), *p = parse_hex_ok(hex), *back = NULL;
        uint8_t *bin = NULL, id2[32], id0[32];
        size_t len = 0;
        bool lossy = orig->has_tx_modifiable || orig->has_fallback_locktime;
        kura_tx *tx = NULL;
        uint32_t lt;
        assert_int_equal(kura_psbt_locktime(&lt, orig, NULL), KURA_OK);
        assert_int_equal(kura_psbt_set_version(p, 0, NULL), KURA_OK);
        assert_int_equal(p->version, 0);
        assert_int_equal(kura_psbt_serialize(&bin, &len, p), KURA_OK);
        assert_int_equal(kura_psbt_parse(&back, bin, len, NULL), KURA_OK);
        free(bin);
        assert_int_equal(back->version, 0);
        assert_int_equal(kura_psbt_unsigned_tx(&tx, back, NULL), KURA_OK);
        assert_int_equal(tx->version, orig->tx_version);
        assert_int_equal(tx->locktime, lt);
        assert_int_equal(tx->input_count, orig->input_count);
        assert_int_equal(tx->output_count, orig->output_count);
        for (size_t j = 0; j < orig->input_count; j++) {
            const kura_psbt_input *in = &orig->inputs[j];
            assert_memory_equal(tx->inputs[j].prev_txid, in->prev_txid, 32);
            assert_int_equal(tx->inputs[j].prev_vout, in->prev_vout);
            assert_int_equal(tx->inputs[j].sequence, in->has_sequence ? in->sequence : 0xffffffffu);
            if (in->has_required_height_locktime || in->has_required_time_locktime) lossy = true;
            if (in->has_sequence && in->sequence == 0xffffffffu) lossy = true;
            /* The other fields came across. */
            assert_int_equal(back->inputs[j].has_witness_utxo, in->has_witness_utxo);
            assert_int_equal(back->inputs[j].non_witness_utxo != NULL,
                             in->non_witness_utxo != NULL);
        }
        for (size_t j = 0; j < orig->output_count; j++) {
            assert_int_equal(tx->outputs[j].amount, orig->outputs[j].amount);
            tu_assert_bytes_equal(tx->outputs[j].script_pubkey.data,
                                  tx->outputs[j].script_pubkey.len,
                                  orig->outputs[j].script_pubkey.data,
                                  orig->outputs[j].script_pubkey.len);
            assert_int_equal(back->outputs[j].bip32_count, orig->outputs[j].bip32_count);
        }
        kura_tx_free(tx);
        /* The v2 unique id is the txid with zero sequences; v0's is the txid. */
        assert_int_equal(kura_psbt_unique_id(id2, orig, NULL), KURA_OK);
        assert_int_equal(kura_psbt_unique_id(id0, back, NULL), KURA_OK);
        assert_int_equal(kura_psbt_set_version(back, 2, NULL), KURA_OK);
        if (!lossy) {
            assert_serializes_to(back, hex, NULL);
            lossless++;
        }
        kura_psbt_free(orig);
        kura_psbt_free(p);
        kura_psbt_free(back);
        vectors_run++;
    }
    assert_true(lossless >= 3);
    json_decref(root);
}

/* v0 -> v2 -> v0 gives back the same bytes, for every BIP174 and BIP371 valid vector. */
static void test_v0_v2_roundtrip(void **state)
{
    (void)state;
    const char *files[] = {"bip174.json", "bip371.json"};
    for (size_t f = 0; f < 2; f++) {
        json_t *root = tu_load_json(files[f]);
        json_t *arr = json_object_get(root, "valid"), *v;
        size_t i;
        json_array_foreach(arr, i, v)
        {
            const char *hex = tu_str(v, "hex");
            kura_psbt *p = parse_hex_ok(hex), *q = NULL;
            uint8_t *bin = NULL, id_a[32], id_b[32];
            size_t len = 0;
            assert_int_equal(kura_psbt_unique_id(id_a, p, NULL), KURA_OK);
            assert_int_equal(kura_psbt_set_version(p, 2, NULL), KURA_OK);
            assert_int_equal(kura_psbt_serialize(&bin, &len, p), KURA_OK);
            /* The v2 form is itself a valid v2 PSBT. */
            assert_int_equal(kura_psbt_parse(&q, bin, len, NULL), KURA_OK);
            free(bin);
            assert_int_equal(q->version, 2);
            assert_int_equal(kura_psbt_set_version(q, 0, NULL), KURA_OK);
            assert_serializes_to(q, hex, NULL);
            assert_int_equal(kura_psbt_unique_id(id_b, q, NULL), KURA_OK);
            assert_memory_equal(id_a, id_b, 32);
            kura_psbt_free(p);
            kura_psbt_free(q);
            vectors_run++;
        }
        json_decref(root);
    }
}

/* kura's records ride in global 0xFC fields with identifier "kura". */
static void test_proprietary(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bip174.json");
    const char *hex = tu_str(json_array_get(json_object_get(root, "valid"), 0), "hex");
    kura_psbt *p = parse_hex_ok(hex), *q = NULL;
    const uint8_t id[4] = {'k', 'u', 'r', 'a'};
    const char *intent = "kura-intent 1\nid: 4f1c\n";
    uint8_t approval_key[1] = {0x03};
    const uint8_t *val;
    size_t val_len, len;
    uint8_t *bin;
    /* Absent at first. */
    assert_int_equal(kura_psbt_proprietary_get(&val, &val_len, p, id, 4, 1, NULL, 0),
                     KURA_ENOTFOUND);
    assert_null(val);
    assert_int_equal(kura_psbt_proprietary_set(p, id, 4, 1, NULL, 0, (const uint8_t *)intent,
                                               strlen(intent)),
                     KURA_OK);
    assert_int_equal(kura_psbt_proprietary_set(p, id, 4, 2, approval_key, 1,
                                               (const uint8_t *)"sig-a", 5),
                     KURA_OK);
    /* Replacing keeps the position. */
    assert_int_equal(kura_psbt_proprietary_set(p, id, 4, 1, NULL, 0, (const uint8_t *)intent,
                                               strlen(intent)),
                     KURA_OK);
    assert_int_equal(p->unknown_count, 2);
    assert_int_equal(kura_psbt_serialize(&bin, &len, p), KURA_OK);
    /* The exact record bytes BIP174 defines: keylen, 0xFC, CompactSize(4)
     * "kura", subtype, keydata; value length, value. */
    {
        const uint8_t rec1[] = {0x07, 0xfc, 0x04, 'k', 'u', 'r', 'a', 0x01, 0x17};
        const uint8_t rec2[] = {0x08, 0xfc, 0x04, 'k',  'u', 'r', 'a',
                                0x02, 0x03, 0x05, 's',  'i', 'g', '-', 'a'};
        assert_int_equal(strlen(intent), 0x17);
        assert_non_null(find_bytes(bin, len, rec1, sizeof(rec1)));
        assert_non_null(find_bytes(bin, len, rec2, sizeof(rec2)));
    }
    assert_int_equal(kura_psbt_parse(&q, bin, len, NULL), KURA_OK);
    free(bin);
    assert_int_equal(kura_psbt_proprietary_get(&val, &val_len, q, id, 4, 1, NULL, 0), KURA_OK);
    tu_assert_bytes_equal(val, val_len, (const uint8_t *)intent, strlen(intent));
    assert_int_equal(kura_psbt_proprietary_get(&val, &val_len, q, id, 4, 2, approval_key, 1),
                     KURA_OK);
    tu_assert_bytes_equal(val, val_len, (const uint8_t *)"sig-a", 5);
    /* Walking the records. */
    {
        const uint8_t *rid, *kd;
        size_t rid_len, kd_len;
        uint64_t sub;
        assert_int_equal(kura_psbt_proprietary_key_decode(&rid, &rid_len, &sub, &kd, &kd_len,
                                                          &q->unknowns[1]),
                         KURA_OK);
        tu_assert_bytes_equal(rid, rid_len, id, 4);
        assert_int_equal(sub, 2);
        tu_assert_bytes_equal(kd, kd_len, approval_key, 1);
    }
    assert_int_equal(kura_psbt_proprietary_remove(q, id, 4, 1, NULL, 0), KURA_OK);
    assert_int_equal(kura_psbt_proprietary_remove(q, id, 4, 1, NULL, 0), KURA_ENOTFOUND);
    assert_int_equal(kura_psbt_proprietary_get(&val, &val_len, q, id, 4, 1, NULL, 0),
                     KURA_ENOTFOUND);
    assert_int_equal(kura_psbt_proprietary_remove(q, id, 4, 2, approval_key, 1), KURA_OK);
    /* Back to the original bytes. */
    assert_serializes_to(q, hex, NULL);
    /* Values up to the limit are fine; one byte over is refused. */
    {
        uint8_t *big = calloc(1, KURA_PSBT_MAX_PROPRIETARY_VALUE + 1);
        assert_non_null(big);
        assert_int_equal(kura_psbt_proprietary_set(q, id, 4, 9, NULL, 0, big,
                                                   KURA_PSBT_MAX_PROPRIETARY_VALUE + 1),
                         KURA_ERANGE);
        assert_int_equal(q->unknown_count, 0);
        assert_int_equal(
            kura_psbt_proprietary_set(q, id, 4, 9, NULL, 0, big, KURA_PSBT_MAX_PROPRIETARY_VALUE),
            KURA_OK);
        assert_int_equal(kura_psbt_serialize(&bin, &len, q), KURA_OK);
        kura_psbt_free(p);
        p = NULL;
        assert_int_equal(kura_psbt_parse(&p, bin, len, NULL), KURA_OK);
        assert_int_equal(kura_psbt_proprietary_get(&val, &val_len, p, id, 4, 9, NULL, 0), KURA_OK);
        assert_int_equal(val_len, KURA_PSBT_MAX_PROPRIETARY_VALUE);
        free(bin);
        free(big);
    }
    assert_int_equal(kura_psbt_proprietary_set(q, NULL, 1, 1, NULL, 0, NULL, 0), KURA_EINVAL);
    kura_psbt_free(p);
    kura_psbt_free(q);
    json_decref(root);
}

/* Builds: magic, a global map with the given extra bytes after a minimal
 * unsigned tx (0 inputs, 0 outputs). */
static uint8_t *with_global(size_t *len, const uint8_t *extra, size_t extra_len, size_t pad)
{
    static const uint8_t head[] = {'p', 's', 'b', 't', 0xff, 0x01, 0x00, 0x0a, 0x02, 0x00,
                                   0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    uint8_t *b = calloc(1, sizeof(head) + extra_len + pad + 1);
    assert_non_null(b);
    memcpy(b, head, sizeof(head));
    memcpy(b + sizeof(head), extra, extra_len);
    *len = sizeof(head) + extra_len + pad + 1; /* the zero after is the map separator */
    return b;
}

static void test_hard_limits(void **state)
{
    (void)state;
    kura_psbt *p = (kura_psbt *)1;
    kura_error err;
    size_t len;
    uint8_t *b;
    /* Over the whole-PSBT limit, refused before any byte is read. */
    b = calloc(1, (size_t)KURA_PSBT_MAX_SIZE + 1);
    assert_non_null(b);
    assert_int_equal(kura_psbt_parse(&p, b, (size_t)KURA_PSBT_MAX_SIZE + 1, &err), KURA_ERANGE);
    assert_null(p);
    free(b);
    /* A value claiming 4,000,001 bytes. */
    {
        const uint8_t x[] = {0x02, 0xf0, 0x01, 0xfe, 0x01, 0x09, 0x3d, 0x00};
        b = with_global(&len, x, sizeof(x), 0);
        assert_int_equal(kura_psbt_parse(&p, b, len, &err), KURA_ERANGE);
        free(b);
    }
    /* A key of 8193 bytes. */
    {
        const uint8_t x[] = {0xfd, 0x01, 0x20};
        b = with_global(&len, x, sizeof(x), 8193 + 1);
        assert_int_equal(kura_psbt_parse(&p, b, len, &err), KURA_ERANGE);
        free(b);
    }
    /* A proprietary value over 1 MiB. */
    {
        uint8_t x[] = {0x03, 0xfc, 0x00, 0x00, 0xfe, 0x01, 0x00, 0x10, 0x00};
        b = with_global(&len, x, sizeof(x), KURA_PSBT_MAX_PROPRIETARY_VALUE + 1);
        assert_int_equal(kura_psbt_parse(&p, b, len, &err), KURA_ERANGE);
        free(b);
        /* At the limit it parses. */
        x[5] = 0x00;
        b = with_global(&len, x, sizeof(x), KURA_PSBT_MAX_PROPRIETARY_VALUE);
        x[5] = 0x01;
        assert_int_equal(kura_psbt_parse(&p, b, len, &err), KURA_OK);
        assert_int_equal(p->unknown_count, 1);
        assert_int_equal(p->unknowns[0].value_len, KURA_PSBT_MAX_PROPRIETARY_VALUE);
        kura_psbt_free(p);
        free(b);
    }
    /* More than KURA_PSBT_MAX_RECORDS records (each unique, 6 bytes). */
    {
        size_t n = KURA_PSBT_MAX_RECORDS + 1;
        uint8_t *x = malloc(n * 6);
        assert_non_null(x);
        for (size_t i = 0; i < n; i++) {
            uint8_t *r = x + 6 * i;
            r[0] = 0x04;
            r[1] = 0xf0;
            r[2] = (uint8_t)(i >> 16);
            r[3] = (uint8_t)(i >> 8);
            r[4] = (uint8_t)i;
            r[5] = 0x00;
        }
        b = with_global(&len, x, n * 6, 0);
        assert_int_equal(kura_psbt_parse(&p, b, len, &err), KURA_ERANGE);
        free(b);
        free(x);
    }
    /* A v2 input count over the limit, and one the data cannot hold. */
    {
        const uint8_t v2[] = {'p',  's',  'b',  't',  0xff, 0x01, 0x02, 0x04, 0x02, 0x00,
                              0x00, 0x00, 0x01, 0x04, 0x05, 0xfe, 0xa1, 0x86, 0x01, 0x00,
                              0x01, 0x05, 0x01, 0x00, 0x01, 0xfb, 0x04, 0x02, 0x00, 0x00,
                              0x00, 0x00};
        assert_int_equal(kura_psbt_parse(&p, v2, sizeof(v2), &err), KURA_ERANGE);
        uint8_t v2b[sizeof(v2)];
        memcpy(v2b, v2, sizeof(v2));
        v2b[16] = 0x00; /* 0x018600 = 99840 inputs: under the limit, but no data for them */
        assert_int_equal(kura_psbt_parse(&p, v2b, sizeof(v2b), &err), KURA_EDATA);
    }
    /* Base64 text too long for the limit, and malformed base64. */
    {
        size_t n = ((size_t)KURA_PSBT_MAX_SIZE / 3 + 2) * 4;
        char *s = malloc(n);
        assert_non_null(s);
        memset(s, 'A', n);
        assert_int_equal(kura_psbt_from_base64(&p, s, n, &err), KURA_ERANGE);
        free(s);
        assert_int_equal(kura_psbt_from_base64(&p, "cHNidP8=!", 9, &err), KURA_EDATA);
        assert_int_equal(kura_psbt_from_base64(&p, "cHNidP8", 7, &err), KURA_EDATA);
        assert_int_equal(kura_psbt_from_base64(&p, "", 0, &err), KURA_EDATA);
    }
    /* Misuse. */
    assert_int_equal(kura_psbt_parse(NULL, (const uint8_t *)"", 0, NULL), KURA_EINVAL);
    assert_int_equal(kura_psbt_parse(&p, NULL, 5, NULL), KURA_EINVAL);
    kura_psbt_free(NULL);
}

/* Refusals the vectors do not cover. */
static void test_more_refusals(void **state)
{
    (void)state;
    /* Trailing bytes after the last map, a duplicate proprietary key, a
     * malformed proprietary key, a bad tap tree, PSBT version 1. */
    struct {
        const char *hex, *reason;
    } cases[] = {
        /* trailing byte */
        {"70736274ff01000a0200000000000000000000" "00", "after the last"},
        /* duplicate 0xFC key */
        {"70736274ff01000a0200000000000000000007fc046b7572610100" "07fc046b7572610100" "00",
         "duplicate key (type 0xfc)"},
        /* proprietary key whose identifier length runs past the key */
        {"70736274ff01000a0200000000000000000002fc0500" "00", "malformed proprietary key"},
        /* version 1 */
        {"70736274ff01000a0200000000000000000001fb0401000000" "00", "unsupported PSBT version 1"},
        /* a non-minimal CompactSize key length */
        {"70736274ff01000a02000000000000000000fd0100f000" "00", "truncated"},
        /* a preimage that does not hash to its key (SHA256 of "" is e3b0...) */
        {"70736274ff010033" "0200000001" "0000000000000000000000000000000000000000000000000000000000000000"
         "00000000" "00" "ffffffff" "00" "00000000" "00"
         "210b" "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b856" "00" "00",
         "does not hash"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len;
        uint8_t *b = tu_unhex(cases[i].hex, &len);
        kura_psbt *p = NULL;
        kura_error err;
        int rc = kura_psbt_parse(&p, b, len, &err);
        if (rc != KURA_EDATA) fail_msg("case %zu: expected KURA_EDATA, got %d", i, rc);
        if (strstr(err.message, cases[i].reason) == NULL)
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err.message, cases[i].reason);
        assert_null(p);
        free(b);
    }
    /* The first case without the trailing byte is valid. */
    kura_psbt_free(parse_hex_ok("70736274ff01000a0200000000000000000000"));
}

static void test_tap_tree_rules(void **state)
{
    (void)state;
    /* A v0 PSBT with one output; its tap tree set through the updater. */
    kura_psbt *p;
    kura_tx *tx = kura_tx_new();
    uint8_t txid[32] = {1}, spk[34] = {0x51, 0x20};
    uint8_t s1[1] = {0x51}, s2[1] = {0x52};
    kura_psbt_tap_leaf leaves[3];
    assert_int_equal(kura_tx_add_input(tx, txid, 0, 0xffffffffu, NULL, 0), KURA_OK);
    assert_int_equal(kura_tx_add_output(tx, 1000, spk, 34), KURA_OK);
    assert_int_equal(kura_psbt_from_tx(&p, tx, 0, NULL), KURA_OK);
    memset(leaves, 0, sizeof(leaves));
    leaves[0] = (kura_psbt_tap_leaf){1, 0xc0, {s1, 1}};
    leaves[1] = (kura_psbt_tap_leaf){2, 0xc0, {s2, 1}};
    assert_int_equal(kura_psbt_output_set_tap_tree(p, 0, leaves, 2, NULL), KURA_EDATA);
    leaves[2] = (kura_psbt_tap_leaf){2, 0xc0, {s1, 1}};
    assert_int_equal(kura_psbt_output_set_tap_tree(p, 0, leaves, 3, NULL), KURA_OK);
    leaves[0].leaf_version = 0xc1;
    assert_int_equal(kura_psbt_output_set_tap_tree(p, 0, leaves, 3, NULL), KURA_EDATA);
    {
        uint8_t *bin = NULL;
        size_t len = 0;
        kura_psbt *q = NULL;
        /* depth 1 c0 <51>, depth 2 c0 <52>, depth 2 c0 <51> */
        const uint8_t want[] = {0x01, 0x06, 0x0c, 0x01, 0xc0, 0x01, 0x51, 0x02,
                                0xc0, 0x01, 0x52, 0x02, 0xc0, 0x01, 0x51};
        assert_int_equal(kura_psbt_serialize(&bin, &len, p), KURA_OK);
        assert_non_null(find_bytes(bin, len, want, sizeof(want)));
        assert_int_equal(kura_psbt_parse(&q, bin, len, NULL), KURA_OK);
        assert_int_equal(q->outputs[0].tap_tree_count, 3);
        kura_psbt_free(q);
        free(bin);
    }
    kura_psbt_free(p);
    kura_tx_free(tx);
}

/* The updater's fields, written as BIP174/BIP371 define their records. */
/* Public keys must lie on the curve: a BIP32 derivation record, a partial
 * signature, a global xpub, and the x-only keys of BIP371 (internal key, tap
 * BIP32 derivation, script signature, control block) under a key that is no
 * point are refused by the parser, and by the updater. x = 5 is not the x of
 * any point of secp256k1; 02 || 5 is not a key either. */
static void test_keys_on_curve(void **state)
{
    kura_psbt *p = NULL;
    kura_tx *tx = kura_tx_new();
    uint8_t txid[32] = {3}, spk[22] = {0x00, 0x14}, bad_x[32] = {0}, good_x[32], bad33[33],
            xpub[78], fp[4] = {1, 2, 3, 4}, ctl[33];
    const uint32_t path[1] = {7};
    (void)state;
    bad_x[31] = 5;
    bad33[0] = 0x02;
    memcpy(bad33 + 1, bad_x, 32);
    tu_unhex_fixed("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798", good_x, 32);
    assert_int_equal(kura_tx_add_input(tx, txid, 1, 0xffffffffu, NULL, 0), KURA_OK);
    assert_int_equal(kura_tx_add_output(tx, 5000, spk, 22), KURA_OK);
    assert_int_equal(kura_psbt_from_tx(&p, tx, 0, NULL), KURA_OK);
    kura_tx_free(tx);
    assert_int_equal(kura_psbt_input_add_bip32(p, 0, bad33, 33, fp, path, 1), KURA_EINVAL);
    assert_int_equal(kura_psbt_output_add_bip32(p, 0, bad33, 33, fp, path, 1), KURA_EINVAL);
    assert_int_equal(kura_psbt_input_set_tap_internal_key(p, 0, bad_x), KURA_EINVAL);
    assert_int_equal(kura_psbt_output_set_tap_internal_key(p, 0, bad_x), KURA_EINVAL);
    assert_int_equal(kura_psbt_input_add_tap_bip32(p, 0, bad_x, NULL, 0, fp, path, 1), KURA_EINVAL);
    memset(xpub, 0, sizeof(xpub));
    memcpy(xpub + 45, bad33, 33);
    assert_int_equal(kura_psbt_add_xpub(p, xpub, fp, path, 1), KURA_EINVAL);
    ctl[0] = 0xc0;
    memcpy(ctl + 1, bad_x, 32);
    assert_int_equal(kura_psbt_input_add_tap_leaf_script(p, 0, ctl, 33, spk, 2, 0xc0), KURA_EINVAL);
    /* The parser: each record written by hand over a valid PSBT. */
    {
        uint8_t *bin = NULL;
        size_t len = 0;
        assert_int_equal(kura_psbt_input_set_tap_internal_key(p, 0, good_x), KURA_OK);
        assert_int_equal(kura_psbt_serialize(&bin, &len, p), KURA_OK);
        /* the internal key record: 01 17 20 <x>; make x 5 */
        {
            uint8_t rec[3] = {0x01, 0x17, 0x20};
            uint8_t *at = NULL;
            kura_psbt *q = NULL;
            kura_error err;
            for (size_t i = 0; i + 35 <= len; i++)
                if (memcmp(bin + i, rec, 3) == 0 && memcmp(bin + i + 3, good_x, 32) == 0) at = bin + i;
            assert_non_null(at);
            memcpy(at + 3, bad_x, 32);
            assert_int_equal(kura_psbt_parse(&q, bin, len, &err), KURA_EDATA);
            assert_non_null(strstr(err.message, "on the curve"));
            assert_null(q);
        }
        free(bin);
    }
    kura_psbt_free(p);
}

static void test_updater_records(void **state)
{
    (void)state;
    kura_psbt *p = NULL, *q = NULL;
    kura_tx *tx = kura_tx_new();
    uint8_t txid[32] = {3}, spk[22] = {0x00, 0x14}, x1[32], x2[32], xpub[78], ctl[65], root[32];
    uint8_t lh[64], fp[4] = {0xde, 0xad, 0xbe, 0xef}, script[3] = {0x51, 0x52, 0x93};
    const uint32_t path[2] = {0x80000056u, 5};
    uint8_t *bin = NULL;
    size_t len = 0;
    /* Keys on the curve (G and 2G): the updater and the parser refuse others. */
    tu_unhex_fixed("c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5", x1, 32);
    tu_unhex_fixed("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798", x2, 32);
    memset(xpub, 0x04, 78);
    xpub[45] = 0x02;
    memcpy(xpub + 46, x2, 32);
    memset(ctl, 0xc0, 65);
    memcpy(ctl + 1, x2, 32);
    memset(root, 0x99, 32);
    memset(lh, 0x55, 64);
    assert_int_equal(kura_tx_add_input(tx, txid, 1, 0xffffffffu, NULL, 0), KURA_OK);
    assert_int_equal(kura_tx_add_output(tx, 5000, spk, 22), KURA_OK);
    assert_int_equal(kura_psbt_from_tx(&p, tx, 0, NULL), KURA_OK);
    kura_tx_free(tx);
    assert_int_equal(kura_psbt_output_set_redeem_script(p, 0, script, 3), KURA_OK);
    assert_int_equal(kura_psbt_output_set_witness_script(p, 0, script, 2), KURA_OK);
    assert_int_equal(kura_psbt_output_set_tap_internal_key(p, 0, x1), KURA_OK);
    /* Added in reverse key order; written in key order. */
    assert_int_equal(kura_psbt_output_add_tap_bip32(p, 0, x1, lh, 2, fp, path, 2), KURA_OK);
    assert_int_equal(kura_psbt_output_add_tap_bip32(p, 0, x2, NULL, 0, fp, path, 2), KURA_OK);
    assert_int_equal(kura_psbt_add_xpub(p, xpub, fp, path, 2), KURA_OK);
    assert_int_equal(kura_psbt_input_add_tap_leaf_script(p, 0, ctl, 65, script, 3, 0xc0), KURA_OK);
    assert_int_equal(kura_psbt_input_set_tap_merkle_root(p, 0, root), KURA_OK);
    assert_int_equal(kura_psbt_input_add_tap_leaf_script(p, 0, ctl, 34, script, 3, 0xc0),
                     KURA_EINVAL);
    assert_int_equal(kura_psbt_output_add_bip32(p, 0, x1, 32, fp, path, 2), KURA_EINVAL);
    assert_int_equal(kura_psbt_output_set_redeem_script(p, 1, script, 3), KURA_EINVAL);
    assert_int_equal(kura_psbt_serialize(&bin, &len, p), KURA_OK);
    {
        const uint8_t origin[12] = {0xde, 0xad, 0xbe, 0xef, 0x56, 0x00, 0x00, 0x80, 5, 0, 0, 0};
        uint8_t r[200];
        const uint8_t *a, *b;
        /* PSBT_OUT_REDEEM_SCRIPT, PSBT_OUT_WITNESS_SCRIPT */
        const uint8_t r1[] = {0x01, 0x00, 0x03, 0x51, 0x52, 0x93, 0x01, 0x01, 0x02, 0x51, 0x52};
        assert_non_null(find_bytes(bin, len, r1, sizeof(r1)));
        /* PSBT_OUT_TAP_INTERNAL_KEY */
        r[0] = 0x01, r[1] = 0x05, r[2] = 0x20;
        memcpy(r + 3, x1, 32);
        assert_non_null(find_bytes(bin, len, r, 35));
        /* PSBT_OUT_TAP_BIP32_DERIVATION for x2 (no leaves) before x1 (two). */
        r[0] = 0x21, r[1] = 0x07;
        memcpy(r + 2, x2, 32);
        r[34] = 13, r[35] = 0x00;
        memcpy(r + 36, origin, 12);
        a = find_bytes(bin, len, r, 48);
        assert_non_null(a);
        memcpy(r + 2, x1, 32);
        r[34] = 1 + 64 + 12, r[35] = 0x02;
        memcpy(r + 36, lh, 64);
        memcpy(r + 100, origin, 12);
        b = find_bytes(bin, len, r, 112);
        assert_non_null(b);
        assert_true(a < b);
        /* PSBT_GLOBAL_XPUB */
        r[0] = 0x4f, r[1] = 0x01;
        memcpy(r + 2, xpub, 78);
        r[80] = 12;
        memcpy(r + 81, origin, 12);
        assert_non_null(find_bytes(bin, len, r, 93));
        /* PSBT_IN_TAP_LEAF_SCRIPT: control block key, script || leaf version */
        r[0] = 0x42, r[1] = 0x15;
        memcpy(r + 2, ctl, 65);
        r[67] = 4, r[68] = 0x51, r[69] = 0x52, r[70] = 0x93, r[71] = 0xc0;
        assert_non_null(find_bytes(bin, len, r, 72));
        /* PSBT_IN_TAP_MERKLE_ROOT */
        r[0] = 0x01, r[1] = 0x18, r[2] = 0x20;
        memcpy(r + 3, root, 32);
        assert_non_null(find_bytes(bin, len, r, 35));
    }
    assert_int_equal(kura_psbt_parse(&q, bin, len, NULL), KURA_OK);
    assert_serializes_to(q, tu_hex(bin, len), NULL);
    free(bin);
    kura_psbt_free(p);
    kura_psbt_free(q);
    /* A preimage that hashes to its key parses (SHA256 of the empty string). */
    kura_psbt_free(parse_hex_ok(
        "70736274ff010033" "0200000001" "0000000000000000000000000000000000000000000000000000000000000000"
        "00000000" "00" "ffffffff" "00" "00000000" "00"
        "210b" "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" "00" "00"));
}

static void test_counts(void **state)
{
    (void)state;
    /* 20 + 10 + 4 + 24 + 14 + 10 + 10 + 11 + 6 vectors, and the conversions. */
    assert_true(vectors_run >= 109);
    print_message("psbt parse: %zu vector cases run\n", vectors_run);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bip174_invalid),  cmocka_unit_test(test_bip174_valid),
        cmocka_unit_test(test_bip370_invalid),  cmocka_unit_test(test_bip370_valid),
        cmocka_unit_test(test_bip371_invalid),  cmocka_unit_test(test_bip371_valid),
        cmocka_unit_test(test_typed_fields),    cmocka_unit_test(test_bip370_locktime),
        cmocka_unit_test(test_bip370_convert),  cmocka_unit_test(test_v0_v2_roundtrip),
        cmocka_unit_test(test_proprietary),     cmocka_unit_test(test_hard_limits),
        cmocka_unit_test(test_more_refusals),   cmocka_unit_test(test_tap_tree_rules),
        cmocka_unit_test(test_updater_records),
        cmocka_unit_test(test_keys_on_curve), cmocka_unit_test(test_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
