/* kura's wallet kinds end to end: derive, addresses, key origins, taproot
 * data, receive (branch 0) and change (branch 1).
 *
 * Ground truth: BIP84 and BIP86 test vectors (copied below from the BIP
 * texts), BIP129's coordinator files in tests/vectors/bip129.json (their
 * "first address"), BIP387's sortedmulti_a vector. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kura/descriptor.h"
#include "kura/encoding.h"
#include "kura/hash.h"
#include "kura/keys.h"
#include "kura/script.h"
#include "testutil_keys.h"

static kura_descriptor *parse_ok(const kura_ctx *ctx, const char *s)
{
    kura_descriptor *d = NULL;
    kura_error e;
    memset(&e, 0, sizeof(e));
    if (kura_descriptor_parse(ctx, &d, s, strlen(s), &e) != KURA_OK) {
        fail_msg("parse failed (%s) for %.200s", e.message, s);
    }
    return d;
}

static void assert_address(const kura_ctx *ctx, const kura_descriptor *d, size_t branch,
                           uint32_t index, const char *want)
{
    char addr[KURA_ADDRESS_MAX];
    kura_error e;
    memset(&e, 0, sizeof(e));
    if (kura_descriptor_address(ctx, addr, sizeof(addr), d, branch, index, KURA_NETWORK_MAINNET,
                                &e) != KURA_OK) {
        fail_msg("address failed: %s", e.message);
    }
    assert_string_equal(addr, want);
}

static void assert_hex(const uint8_t *b, size_t len, const char *hex)
{
    size_t n;
    uint8_t *want = tu_unhex(hex, &n);
    tu_assert_bytes_equal(b, len, want, n);
    free(want);
}

static void assert_path(const kura_descriptor_key_info *k, const uint32_t *want, size_t n)
{
    assert_int_equal(k->path_len, n);
    for (size_t i = 0; i < n; i++) assert_int_equal(k->path[i], want[i]);
}

#define H(x) (0x80000000u | (x))

/* An extended key with its version bytes replaced (SLIP-132 zprv -> xprv). */
static void reversion(char *out, size_t out_len, const char *key, uint32_t version)
{
    uint8_t raw[82];
    size_t n = 0;
    assert_int_equal(kura_base58check_decode(raw, sizeof(raw), &n, key, NULL), KURA_OK);
    assert_int_equal(n, 78);
    raw[0] = (uint8_t)(version >> 24);
    raw[1] = (uint8_t)(version >> 16);
    raw[2] = (uint8_t)(version >> 8);
    raw[3] = (uint8_t)version;
    assert_int_equal(kura_base58check_encode(out, out_len, raw, n), KURA_OK);
}

/* ---- wpkh([fp/84h/0h/0h]xpub/<0;1>/...): BIP84 ---- */

/* BIP84 account 0 of "abandon ... about" (m/84'/0'/0'), written as zprv. */
#define BIP84_ZPRV "zprvAdG4iTXWBoARxkkzNpNh8r6Qag3irQB8PzEMkAFeTRXxHpbF9z4QgEvBRmfvqWvGp42t42nvgGpNgYSJA9iefm1yYNZKEm7z6qUWCroSQnE"
/* Fingerprint of that seed's master key (also in the BIP86 test below, where
 * the root xprv is given and the fingerprint checked). */
#define ABANDON_FP "73c5da0a"

static void test_wpkh_bip84(void **state)
{
    const kura_ctx *ctx = *state;
    static const struct {
        size_t branch;
        uint32_t index;
        const char *pubkey, *address;
    } want[] = {
        {0, 0, "0330d54fd0dd420a6e5f8d3624f5f3482cae350f79d5f0753bf5beef9c2d91af3c",
         "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"},
        {0, 1, "03e775fd51f0dfb8cd865d9ff1cca2a158cf651fe997fdc9fee9c1d3b5e995ea77",
         "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g"},
        {1, 0, "03025324888e429ab8e3dbaf1f7802648b9cd01e9b418485c5fa4c1b9b5700e1a6",
         "bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el"},
    };
    char xprv[128], text[512], *pub = NULL;
    kura_descriptor *priv_d, *d;
    kura_descriptor_output *out = kura_descriptor_output_new();
    assert_non_null(out);

    reversion(xprv, sizeof(xprv), BIP84_ZPRV, 0x0488ade4u);
    snprintf(text, sizeof(text), "wpkh([" ABANDON_FP "/84h/0h/0h]%s/<0;1>/*)", xprv);
    priv_d = parse_ok(ctx, text);
    assert_int_equal(kura_descriptor_has_private(priv_d), 1);
    /* The watch-only wallet: the public form, as the coordinator holds it. */
    assert_int_equal(kura_descriptor_to_string(ctx, &pub, priv_d, KURA_DESCRIPTOR_ALL_BRANCHES,
                                               KURA_DESCRIPTOR_PUBLIC, NULL),
                     KURA_OK);
    assert_memory_equal(pub, "wpkh([" ABANDON_FP "/84h/0h/0h]xpub", 27);
    assert_non_null(strstr(pub, "/<0;1>/*)#"));
    d = parse_ok(ctx, pub);
    assert_int_equal(kura_descriptor_has_private(d), 0);
    assert_int_equal(kura_descriptor_get_type(d), KURA_DESCRIPTOR_WPKH);
    assert_int_equal(kura_descriptor_multipath_count(d), 2);
    assert_int_equal(kura_descriptor_is_ranged(d), 1);

    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const uint32_t path[5] = {H(84), H(0), H(0), (uint32_t)want[i].branch, want[i].index};
        uint8_t h[20], spk[22] = {0x00, 0x14};
        assert_int_equal(kura_descriptor_derive(ctx, out, d, want[i].branch, want[i].index, NULL),
                         KURA_OK);
        assert_int_equal(out->n_scripts, 1);
        assert_int_equal(out->is_taproot, 0);
        assert_null(out->scripts[0].redeem_script);
        assert_null(out->scripts[0].witness_script);
        assert_int_equal(out->n_keys, 1);
        assert_hex(out->keys[0].pubkey, out->keys[0].pubkey_len, want[i].pubkey);
        assert_hex(out->keys[0].fingerprint, 4, ABANDON_FP);
        assert_int_equal(out->keys[0].has_origin, 1);
        assert_path(&out->keys[0], path, 5);
        assert_int_equal(out->keys[0].leaf, KURA_DESCRIPTOR_NO_LEAF);
        /* BIP84: OP_0 <HASH160(pubkey)>. */
        assert_int_equal(kura_hash160(h, out->keys[0].pubkey, 33), KURA_OK);
        memcpy(spk + 2, h, 20);
        tu_assert_bytes_equal(out->scripts[0].script_pubkey, out->scripts[0].script_pubkey_len,
                              spk, 22);
        assert_address(ctx, d, want[i].branch, want[i].index, want[i].address);
        /* The private descriptor derives the same. */
        assert_address(ctx, priv_d, want[i].branch, want[i].index, want[i].address);
    }
    kura_descriptor_string_free(pub);
    kura_descriptor_free(d);
    kura_descriptor_free(priv_d);
    kura_descriptor_output_free(out);
}

/* ---- tr([fp/86h/0h/0h]xpub/<0;1>/...): BIP86 ---- */

#define BIP86_ROOT "xprv9s21ZrQH143K3GJpoapnV8SFfukcVBSfeCficPSGfubmSFDxo1kuHnLisriDvSnRRuL2Qrg5ggqHKNVpxR86QEC8w35uxmGoggxtQTPvfUu"
#define BIP86_XPRV "xprv9xgqHN7yz9MwCkxsBPN5qetuNdQSUttZNKw1dcYTV4mkaAFiBVGQziHs3NRSWMkCzvgjEe3n9xV8oYywvM8at9yRqyaZVz6TYYhX98VjsUk"
#define BIP86_XPUB "xpub6BgBgsespWvERF3LHQu6CnqdvfEvtMcQjYrcRzx53QJjSxarj2afYWcLteoGVky7D3UKDP9QyrLprQ3VCECoY49yfdDEHGCtMMj92pReUsQ"

static void test_tr_bip86(void **state)
{
    const kura_ctx *ctx = *state;
    static const struct {
        size_t branch;
        uint32_t index;
        const char *internal, *output, *spk, *address;
    } want[] = {
        {0, 0, "cc8a4bc64d897bddc5fbc2f670f7a8ba0b386779106cf1223c6fc5d7cd6fc115",
         "a60869f0dbcf1dc659c9cecbaf8050135ea9e8cdc487053f1dc6880949dc684c",
         "5120a60869f0dbcf1dc659c9cecbaf8050135ea9e8cdc487053f1dc6880949dc684c",
         "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr"},
        {0, 1, "83dfe85a3151d2517290da461fe2815591ef69f2b18a2ce63f01697a8b313145",
         "a82f29944d65b86ae6b5e5cc75e294ead6c59391a1edc5e016e3498c67fc7bbb",
         "5120a82f29944d65b86ae6b5e5cc75e294ead6c59391a1edc5e016e3498c67fc7bbb",
         "bc1p4qhjn9zdvkux4e44uhx8tc55attvtyu358kutcqkudyccelu0was9fqzwh"},
        {1, 0, "399f1b2f4393f29a18c937859c5dd8a77350103157eb880f02e8c08214277cef",
         "882d74e5d0572d5a816cef0041a96b6c1de832f6f9676d9605c44d5e9a97d3dc",
         "5120882d74e5d0572d5a816cef0041a96b6c1de832f6f9676d9605c44d5e9a97d3dc",
         "bc1p3qkhfews2uk44qtvauqyr2ttdsw7svhkl9nkm9s9c3x4ax5h60wqwruhk7"},
    };
    const char *watch = "tr([" ABANDON_FP "/86h/0h/0h]" BIP86_XPUB "/<0;1>/*)";
    const char *from_root = "tr(" BIP86_ROOT "/86h/0h/0h/<0;1>/*)";
    const char *from_account = "tr([" ABANDON_FP "/86h/0h/0h]" BIP86_XPRV "/<0;1>/*)";
    kura_descriptor *d = parse_ok(ctx, watch);
    kura_descriptor_output *out = kura_descriptor_output_new();
    assert_non_null(out);

    /* The public form of the root xprv and of the account xprv is the
     * watch-only descriptor: BIP380 normalisation moves 86h/0h/0h into the
     * origin with the root's fingerprint. */
    for (int k = 0; k < 2; k++) {
        kura_descriptor *p = parse_ok(ctx, k == 0 ? from_root : from_account);
        char *s = NULL;
        assert_int_equal(kura_descriptor_to_string(ctx, &s, p, KURA_DESCRIPTOR_ALL_BRANCHES,
                                                   KURA_DESCRIPTOR_PUBLIC, NULL),
                         KURA_OK);
        assert_int_equal(strlen(s), strlen(watch) + 9);
        assert_memory_equal(s, watch, strlen(watch));
        kura_descriptor_string_free(s);
        kura_descriptor_free(p);
    }

    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const uint32_t path[5] = {H(86), H(0), H(0), (uint32_t)want[i].branch, want[i].index};
        assert_int_equal(kura_descriptor_derive(ctx, out, d, want[i].branch, want[i].index, NULL),
                         KURA_OK);
        assert_int_equal(out->is_taproot, 1);
        assert_int_equal(out->has_merkle_root, 0);
        assert_int_equal(out->n_leaves, 0);
        assert_hex(out->internal_key, 32, want[i].internal);
        assert_hex(out->output_key, 32, want[i].output);
        assert_hex(out->scripts[0].script_pubkey, out->scripts[0].script_pubkey_len, want[i].spk);
        /* PSBT_IN_TAP_BIP32_DERIVATION: the x-only internal key, no leaves. */
        assert_int_equal(out->n_keys, 1);
        assert_hex(out->keys[0].pubkey, out->keys[0].pubkey_len, want[i].internal);
        assert_hex(out->keys[0].fingerprint, 4, ABANDON_FP);
        assert_path(&out->keys[0], path, 5);
        assert_int_equal(out->keys[0].leaf, KURA_DESCRIPTOR_NO_LEAF);
        assert_address(ctx, d, want[i].branch, want[i].index, want[i].address);
    }
    kura_descriptor_free(d);
    kura_descriptor_output_free(out);
}

/* ---- wsh(sortedmulti(...)) and sh(wsh(multi(...))): BIP129 ---- */

typedef struct bsms {
    char descriptor[2048];
    char address[128];
} bsms;

/* The coordinator's wallet file of BIP129 mode i: line 2 the descriptor
 * (BIP129 writes "/" "**" as shorthand for BIP389's "/<0;1>/" "*"), line 4
 * the first address. */
static int load_bsms(bsms *out, size_t which)
{
    json_t *root = tu_load_json("bip129.json");
    const json_t *mode = json_array_get(json_object_get(root, "modes"), which);
    const json_t *round2 = json_object_get(json_object_get(mode, "rounds"), "round2");
    size_t i, j;
    json_t *party, *file;
    int found = 0;
    json_array_foreach(round2, i, party) {
        if (strcmp(tu_str(party, "party"), "Coordinator") != 0) continue;
        json_array_foreach(json_object_get(party, "files"), j, file) {
            const char *content = tu_str(file, "content");
            char lines[4][2048];
            size_t n = 0, k = 0;
            const char *p = content, *src;
            char *dst;
            if (strcmp(tu_str(file, "name"), "my_multisig_wallet.bsms") != 0) continue;
            memset(lines, 0, sizeof(lines));
            for (; *p != '\0' && n < 4; p++) {
                if (*p == '\n') {
                    n++;
                    k = 0;
                } else if (k + 1 < sizeof(lines[0])) {
                    lines[n][k++] = *p;
                }
            }
            dst = out->descriptor;
            for (src = lines[1]; *src != '\0'; src++) {
                if (strncmp(src, "/**", 3) == 0) {
                    strcpy(dst, "/<0;1>/*");
                    dst += 8;
                    src += 2;
                } else {
                    *dst++ = *src;
                }
            }
            *dst = '\0';
            snprintf(out->address, sizeof(out->address), "%.100s", lines[3]);
            found = 1;
        }
    }
    json_decref(root);
    return found;
}

static void test_multisig_bip129(void **state)
{
    const kura_ctx *ctx = *state;
    kura_descriptor_output *out = kura_descriptor_output_new();
    size_t checked = 0;
    assert_non_null(out);
    for (size_t m = 0; m < 4; m++) {
        bsms w;
        kura_descriptor *d;
        if (!load_bsms(&w, m)) continue;
        /* The one with plain keys carries a checksum: parsed as written. */
        d = parse_ok(ctx, w.descriptor);
        assert_address(ctx, d, 0, 0, w.address);
        assert_int_equal(kura_descriptor_derive(ctx, out, d, 0, 0, NULL), KURA_OK);
        assert_non_null(out->scripts[0].witness_script);
        if (kura_descriptor_get_type(d) == KURA_DESCRIPTOR_SH) {
            /* sh(wsh()): the redeem script is P2WSH of the witness script. */
            uint8_t h[32];
            assert_int_equal(out->scripts[0].redeem_script_len, 34);
            kura_sha256(h, out->scripts[0].witness_script, out->scripts[0].witness_script_len);
            assert_memory_equal(out->scripts[0].redeem_script + 2, h, 32);
        } else {
            assert_null(out->scripts[0].redeem_script);
        }
        if (kura_descriptor_multipath_count(d) == 2) {
            /* Every key: the origin from the file, then /0/0; change /1/5. */
            for (size_t k = 0; k < out->n_keys; k++) {
                assert_true(out->keys[k].has_origin);
                assert_int_equal(out->keys[k].path_len, 6);
                assert_int_equal(out->keys[k].path[0], H(48));
                assert_int_equal(out->keys[k].path[4], 0);
                assert_int_equal(out->keys[k].path[5], 0);
            }
            assert_int_equal(kura_descriptor_derive(ctx, out, d, 1, 5, NULL), KURA_OK);
            for (size_t k = 0; k < out->n_keys; k++) {
                assert_int_equal(out->keys[k].path[4], 1);
                assert_int_equal(out->keys[k].path[5], 5);
            }
        }
        kura_descriptor_free(d);
        checked++;
    }
    assert_int_equal(checked, 4);
    kura_descriptor_output_free(out);
}

/* wsh(sortedmulti(2, three keys)): the witness script is the keys of the
 * BIP129 2-of-3 (whose address is checked above) in BIP67 order. */
static void test_wsh_sortedmulti_2of3(void **state)
{
    const kura_ctx *ctx = *state;
    kura_descriptor_output *out = kura_descriptor_output_new();
    kura_descriptor *ref, *d;
    char text[2048], *p;
    bsms w;
    uint8_t keys[3][33], h[32];
    assert_non_null(out);
    assert_true(load_bsms(&w, 3));
    ref = parse_ok(ctx, w.descriptor);
    assert_int_equal(kura_descriptor_get_type(ref), KURA_DESCRIPTOR_SH);
    /* sh(wsh(multi(...))) -> wsh(sortedmulti(...)) */
    p = strstr(w.descriptor, "multi(");
    assert_non_null(p);
    snprintf(text, sizeof(text), "wsh(sorted%.*s", (int)(strlen(p) - 1), p);
    d = parse_ok(ctx, text);
    for (size_t branch = 0; branch < 2; branch++) {
        for (uint32_t index = 0; index < 4; index++) {
            const uint8_t *ws;
            assert_int_equal(kura_descriptor_derive(ctx, out, ref, branch, index, NULL), KURA_OK);
            for (int k = 0; k < 3; k++) memcpy(keys[k], out->scripts[0].witness_script + 2 + 34 * k, 33);
            assert_int_equal(kura_descriptor_derive(ctx, out, d, branch, index, NULL), KURA_OK);
            ws = out->scripts[0].witness_script;
            assert_int_equal(out->scripts[0].witness_script_len, 105);
            assert_int_equal(ws[0], 0x52);
            assert_int_equal(ws[103], 0x53);
            assert_int_equal(ws[104], 0xae);
            for (int k = 0; k < 3; k++) {
                int found = 0;
                assert_int_equal(ws[1 + 34 * k], 33);
                for (int j = 0; j < 3; j++) found |= memcmp(ws + 2 + 34 * k, keys[j], 33) == 0;
                assert_true(found);
                if (k > 0) assert_true(memcmp(ws + 2 + 34 * (k - 1), ws + 2 + 34 * k, 33) < 0);
            }
            /* Key infos stay in descriptor order, not script order. */
            for (int k = 0; k < 3; k++) assert_memory_equal(out->keys[k].pubkey, keys[k], 33);
            kura_sha256(h, ws, 105);
            assert_int_equal(out->scripts[0].script_pubkey_len, 34);
            assert_memory_equal(out->scripts[0].script_pubkey + 2, h, 32);
        }
    }
    kura_descriptor_free(d);
    kura_descriptor_free(ref);
    kura_descriptor_output_free(out);
}

/* ---- tr(KEY, sortedmulti_a(...)): BIP387 ---- */

#define NUMS "50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0"
#define XPUB_A "xpub6ERApfZwUNrhLCkDtcHTcxd75RbzS1ed54G1LkBUHQVHQKqhMkhgbmJbZRkrgZw4koxb5JaHWkY4ALHY2grBGRjaDMzQLcgJvLJuZZvRcEL"
#define XPUB_B "xpub68NZiKmJWnxxS6aaHmn81bvJeTESw724CRDs6HbuccFQN9Ku14VQrADWgqbhhTHBaohPX4CjNLf9fq9MYo6oDaPPLPxSb7gwQN3ih19Zm4Y"

static void test_tr_sortedmulti_a(void **state)
{
    const kura_ctx *ctx = *state;
    static const char *const bip387_scripts[3] = {
        "5120abd47468515223f58a1a18edfde709a7a2aab2b696d59ecf8c34f0ba274ef772",
        "5120fe62e7ed20705bd1d3678e072bc999acb014f07795fa02cb8f25a7aa787e8cbd",
        "51201311093750f459039adaa2a5ed23b0f7a8ae2c2ffb07c5390ea37e2fb1050b41"};
    /* BIP387's vector has XPUB_B/0/0 and a wildcard; as a multipath descriptor its
     * branch 0 must give the same outputs. */
    kura_descriptor *d = parse_ok(ctx, "tr(" NUMS ",sortedmulti_a(2," XPUB_A "/*," XPUB_B "/<0;1>/0/*))");
    kura_descriptor_output *out = kura_descriptor_output_new();
    uint8_t nums[33] = {0x02}, h[20], q[32], change_spk[34];
    int parity = -1;
    assert_non_null(out);
    tu_unhex_fixed(NUMS, nums + 1, 32);
    assert_int_equal(kura_hash160(h, nums, 33), KURA_OK);

    for (uint32_t i = 0; i < 3; i++) {
        const uint32_t path_b[3] = {0, 0, i};
        const uint8_t *sc;
        assert_int_equal(kura_descriptor_derive(ctx, out, d, KURA_DESCRIPTOR_BRANCH_RECEIVE, i, NULL),
                         KURA_OK);
        assert_hex(out->scripts[0].script_pubkey, out->scripts[0].script_pubkey_len,
                   bip387_scripts[i]);
        assert_hex(out->internal_key, 32, NUMS);
        /* Keys: the internal key (own fingerprint, empty path), then the two
         * leaf keys, x-only, attributed to leaf 0. */
        assert_int_equal(out->n_keys, 3);
        assert_int_equal(out->keys[0].leaf, KURA_DESCRIPTOR_NO_LEAF);
        assert_int_equal(out->keys[0].has_origin, 0);
        assert_int_equal(out->keys[0].path_len, 0);
        assert_memory_equal(out->keys[0].fingerprint, h, 4);
        assert_int_equal(out->keys[1].leaf, 0);
        assert_int_equal(out->keys[2].leaf, 0);
        assert_int_equal(out->keys[1].pubkey_len, 32);
        assert_int_equal(out->keys[1].path_len, 1);
        assert_int_equal(out->keys[1].path[0], i);
        assert_path(&out->keys[2], path_b, 3);
        /* The leaf: sorted x-only keys, 2 OP_NUMEQUAL; version 0xc0; the
         * control block for a lone leaf; merkle root = leaf hash. */
        assert_int_equal(out->n_leaves, 1);
        sc = out->leaves[0].script;
        assert_int_equal(out->leaves[0].script_len, 2 * 34 + 2);
        assert_int_equal(out->leaves[0].depth, 0);
        assert_int_equal(sc[0], 0x20);
        assert_int_equal(sc[33], 0xac);
        assert_int_equal(sc[34], 0x20);
        assert_int_equal(sc[67], 0xba);
        assert_int_equal(sc[68], 0x52);
        assert_int_equal(sc[69], 0x9c);
        assert_true(memcmp(sc + 1, sc + 35, 32) < 0);
        assert_true((memcmp(sc + 1, out->keys[1].pubkey, 32) == 0 &&
                     memcmp(sc + 35, out->keys[2].pubkey, 32) == 0) ||
                    (memcmp(sc + 1, out->keys[2].pubkey, 32) == 0 &&
                     memcmp(sc + 35, out->keys[1].pubkey, 32) == 0));
        assert_int_equal(out->has_merkle_root, 1);
        assert_memory_equal(out->merkle_root, out->leaves[0].leaf_hash, 32);
        assert_int_equal(out->leaves[0].control_block_len, 33);
        assert_int_equal(out->leaves[0].control_block[0], 0xc0 | out->output_key_parity);
        assert_memory_equal(out->leaves[0].control_block + 1, out->internal_key, 32);
        assert_int_equal(kura_taproot_tweak_pubkey(ctx, q, &parity, out->internal_key,
                                                   out->merkle_root),
                         KURA_OK);
        assert_memory_equal(q, out->output_key, 32);
        assert_int_equal(parity, out->output_key_parity);

        /* Change: another output, the multipath key on /1/0/i. */
        memcpy(change_spk, out->scripts[0].script_pubkey, 34);
        assert_int_equal(kura_descriptor_derive(ctx, out, d, KURA_DESCRIPTOR_BRANCH_CHANGE, i, NULL),
                         KURA_OK);
        assert_true(memcmp(change_spk, out->scripts[0].script_pubkey, 34) != 0);
        assert_int_equal(out->keys[2].path[0], 1);
        assert_int_equal(out->keys[1].path[0], i);
    }
    kura_descriptor_free(d);
    kura_descriptor_output_free(out);
}

/* The same kind with origins and three cosigners: BIP129's 2-of-3 keys
 * (address-checked above) as the leaf keys, the x-only forms of exactly the
 * keys that the sh(wsh(multi)) wallet derives. */
static void test_tr_sortedmulti_a_origins(void **state)
{
    const kura_ctx *ctx = *state;
    kura_descriptor_output *out = kura_descriptor_output_new();
    kura_descriptor *ref, *d;
    char text[2048], *p;
    bsms w;
    uint8_t keys[3][33];
    assert_non_null(out);
    assert_true(load_bsms(&w, 3));
    ref = parse_ok(ctx, w.descriptor);
    p = strstr(w.descriptor, "multi(2,");
    assert_non_null(p);
    snprintf(text, sizeof(text), "tr(" NUMS ",sortedmulti_a(2,%.*s", (int)(strlen(p) - 8 - 2),
             p + 8);
    strcat(text, ")");
    d = parse_ok(ctx, text);
    assert_int_equal(kura_descriptor_multipath_count(d), 2);
    for (size_t branch = 0; branch < 2; branch++) {
        for (uint32_t index = 0; index < 3; index++) {
            assert_int_equal(kura_descriptor_derive(ctx, out, ref, branch, index, NULL), KURA_OK);
            for (int k = 0; k < 3; k++) memcpy(keys[k], out->keys[k].pubkey, 33);
            assert_int_equal(kura_descriptor_derive(ctx, out, d, branch, index, NULL), KURA_OK);
            assert_int_equal(out->n_keys, 4);
            for (int k = 0; k < 3; k++) {
                const kura_descriptor_key_info *ki = &out->keys[1 + k];
                assert_int_equal(ki->pubkey_len, 32);
                assert_memory_equal(ki->pubkey, keys[k] + 1, 32);
                assert_int_equal(ki->leaf, 0);
                assert_true(ki->has_origin);
                assert_int_equal(ki->path_len, 6);
                assert_int_equal(ki->path[0], H(48));
                assert_int_equal(ki->path[3], H(1));
                assert_int_equal(ki->path[4], branch);
                assert_int_equal(ki->path[5], index);
            }
        }
    }
    kura_descriptor_free(d);
    kura_descriptor_free(ref);
    kura_descriptor_output_free(out);
}

/* The output object is reused: a derive replaces everything, a failed
 * derive leaves it empty. */
static void test_output_reuse(void **state)
{
    const kura_ctx *ctx = *state;
    kura_descriptor *big = parse_ok(ctx, "tr(" NUMS ",{pk(" XPUB_A "/*),sortedmulti_a(1," XPUB_A "/*," XPUB_B "/*)})");
    kura_descriptor *small = parse_ok(ctx, "wpkh(" XPUB_B "/<0;1>/*)");
    kura_descriptor_output *out = kura_descriptor_output_new();
    assert_non_null(out);
    assert_int_equal(kura_descriptor_derive(ctx, out, big, 0, 3, NULL), KURA_OK);
    assert_int_equal(out->n_leaves, 2);
    assert_int_equal(out->n_keys, 4);
    assert_int_equal(out->leaves[0].depth, 1);
    assert_int_equal(out->leaves[0].control_block_len, 65);
    assert_int_equal(out->keys[1].leaf, 0);
    assert_int_equal(out->keys[2].leaf, 1);
    assert_int_equal(out->keys[3].leaf, 1);
    assert_int_equal(kura_descriptor_derive(ctx, out, small, 1, 3, NULL), KURA_OK);
    assert_int_equal(out->is_taproot, 0);
    assert_int_equal(out->n_leaves, 0);
    assert_null(out->leaves);
    assert_int_equal(out->n_keys, 1);
    assert_int_equal(kura_descriptor_derive(ctx, out, small, 2, 3, NULL), KURA_EINVAL);
    assert_int_equal(out->n_scripts, 0);
    assert_int_equal(out->n_keys, 0);
    assert_int_equal(kura_descriptor_derive(ctx, out, small, 0, 0x80000000u, NULL), KURA_EINVAL);
    assert_int_equal(out->n_scripts, 0);
    kura_descriptor_free(big);
    kura_descriptor_free(small);
    kura_descriptor_output_free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wpkh_bip84),
        cmocka_unit_test(test_tr_bip86),
        cmocka_unit_test(test_multisig_bip129),
        cmocka_unit_test(test_wsh_sortedmulti_2of3),
        cmocka_unit_test(test_tr_sortedmulti_a),
        cmocka_unit_test(test_tr_sortedmulti_a_origins),
        cmocka_unit_test(test_output_reuse),
    };
    return cmocka_run_group_tests(tests, tu_ctx_setup, tu_ctx_teardown);
}
