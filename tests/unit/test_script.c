/* Scripts and addresses against the vector files: base58check.json (legacy
 * addresses), bech32.json (segwit addresses and their scriptPubKeys),
 * bip67.json (sorted multisig and its P2SH address), descriptors.json (a
 * 16-of-16 sh(wsh(multi)) with hex keys), and bip341.json (tap tree hashes,
 * the tweaked key, scriptPubKey and address). Every refusal is checked for
 * its code and for the words of its message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kura/encoding.h"
#include "kura/hash.h"
#include "kura/keys.h"
#include "kura/script.h"
#include "testutil.h"

static const kura_network NETWORKS[] = {KURA_NETWORK_MAINNET, KURA_NETWORK_TESTNET,
                                        KURA_NETWORK_REGTEST};

static void assert_has(const kura_error *err, const char *needle, const char *input)
{
    if (strstr(err->message, needle) == NULL)
        fail_msg("%s: message \"%s\" lacks \"%s\"", input, err->message, needle);
}

/* address -> script on `net` must give spk; script -> address must give the
 * address back (lower-cased for bech32, exactly for Base58Check). */
static void check_address(const char *address, kura_network net, const uint8_t *spk,
                          size_t spk_len, int bech32)
{
    uint8_t script[KURA_SCRIPT_PUBKEY_MAX];
    char back[KURA_ADDRESS_MAX];
    size_t n = 99;
    kura_error err = {0};
    if (kura_address_to_script(script, sizeof(script), &n, address, net, &err) != KURA_OK)
        fail_msg("%s on %s refused: %s", address, kura_network_name(net), err.message);
    tu_assert_bytes_equal(script, n, spk, spk_len);
    assert_int_equal(kura_address_from_script(back, sizeof(back), spk, spk_len, net, &err),
                     KURA_OK);
    if (bech32) {
        char *low = tu_lower_copy(address);
        assert_string_equal(back, low);
        free(low);
    } else {
        assert_string_equal(back, address);
    }
}

/* address must be refused on `net` with KURA_EDATA, a cleared output and a
 * message containing needle (NULL: any message starting "address: "). */
static void check_refused(const char *address, kura_network net, const char *needle)
{
    uint8_t script[KURA_SCRIPT_PUBKEY_MAX];
    size_t n = 99;
    kura_error err = {0};
    int rc = kura_address_to_script(script, sizeof(script), &n, address, net, &err);
    if (rc != KURA_EDATA)
        fail_msg("%s on %s: got %d, want KURA_EDATA", address, kura_network_name(net), rc);
    assert_int_equal(err.code, KURA_EDATA);
    assert_int_equal(n, 0);
    for (size_t i = 0; i < sizeof(script); i++) assert_int_equal(script[i], 0);
    if (strncmp(err.message, "address: ", 9) != 0)
        fail_msg("%s: message \"%s\" lacks the module prefix", address, err.message);
    if (needle != NULL) assert_has(&err, needle, address);
}

/* The message for an address of network `from` used on `on`. */
static void wrong_network_message(char *out, size_t out_len, kura_network from, kura_network on)
{
    static const char *const adj[] = {"mainnet", "testnet", "regtest"};
    static const char *const place[] = {"bitcoin mainnet", "testnet", "regtest"};
    snprintf(out, out_len, "address: %s address on %s", adj[from], place[on]);
}

/* ---- base58check.json ---- */

static void test_base58_addresses(void **state)
{
    (void)state;
    json_t *root = tu_load_json("base58check.json");
    size_t i, count = 0;
    json_t *v;
    json_array_foreach(json_object_get(root, "valid"), i, v) {
        const char *address = tu_str(v, "address");
        const char *network = tu_str(v, "network");
        size_t spk_len, payload_len;
        uint8_t *spk = tu_unhex(tu_str(v, "script_pubkey"), &spk_len);
        uint8_t *payload = tu_unhex(tu_str(v, "payload"), &payload_len);
        const uint8_t *prog;
        size_t prog_len;
        char msg[128];
        assert_string_equal(tu_str(v, "type"), "p2sh");
        assert_int_equal(kura_script_classify(spk, spk_len, &prog, &prog_len, NULL),
                         KURA_SCRIPT_P2SH);
        tu_assert_bytes_equal(prog, prog_len, payload, payload_len);
        if (strcmp(network, "mainnet") == 0) {
            check_address(address, KURA_NETWORK_MAINNET, spk, spk_len, 0);
            wrong_network_message(msg, sizeof(msg), KURA_NETWORK_MAINNET, KURA_NETWORK_TESTNET);
            check_refused(address, KURA_NETWORK_TESTNET, msg);
            wrong_network_message(msg, sizeof(msg), KURA_NETWORK_MAINNET, KURA_NETWORK_REGTEST);
            check_refused(address, KURA_NETWORK_REGTEST, msg);
        } else {
            assert_string_equal(network, "testnet");
            check_address(address, KURA_NETWORK_TESTNET, spk, spk_len, 0);
            /* Regtest shares testnet's Base58 version bytes. */
            check_address(address, KURA_NETWORK_REGTEST, spk, spk_len, 0);
            wrong_network_message(msg, sizeof(msg), KURA_NETWORK_TESTNET, KURA_NETWORK_MAINNET);
            check_refused(address, KURA_NETWORK_MAINNET, msg);
        }
        /* The redeem script, where given, hashes to the address. */
        if (json_is_string(json_object_get(v, "redeem_script"))) {
            size_t rlen, n;
            uint8_t *redeem = tu_unhex(tu_str(v, "redeem_script"), &rlen);
            uint8_t out[KURA_SCRIPT_PUBKEY_MAX];
            assert_int_equal(kura_script_p2sh_of(out, sizeof(out), &n, redeem, rlen), KURA_OK);
            tu_assert_bytes_equal(out, n, spk, spk_len);
            free(redeem);
        }
        free(spk);
        free(payload);
        count++;
    }
    assert_int_equal(count, 6);
    json_array_foreach(json_object_get(root, "invalid"), i, v) {
        for (size_t k = 0; k < 3; k++) check_refused(tu_str(v, "string"), NETWORKS[k], NULL);
    }
    /* The xprv is over any address length; "asdf" is too short for a checksum. */
    check_refused("asdf", KURA_NETWORK_MAINNET, "base58");
    assert_int_equal(json_array_size(json_object_get(root, "invalid")), 2);
    json_decref(root);
}

/* ---- bech32.json ---- */

static kura_network network_of(const char *address)
{
    if (strncmp(address, "bc1", 3) == 0 || strncmp(address, "BC1", 3) == 0)
        return KURA_NETWORK_MAINNET;
    if (strncmp(address, "tb1", 3) == 0 || strncmp(address, "TB1", 3) == 0)
        return KURA_NETWORK_TESTNET;
    fail_msg("vector address %s has no hrp kura knows", address);
    return KURA_NETWORK_MAINNET;
}

static void check_segwit_valid(const char *address, const char *spk_hex)
{
    size_t spk_len;
    uint8_t *spk = tu_unhex(spk_hex, &spk_len);
    kura_network net = network_of(address);
    check_address(address, net, spk, spk_len, 1);
    for (size_t k = 0; k < 3; k++) {
        char msg[128];
        if (NETWORKS[k] == net) continue;
        wrong_network_message(msg, sizeof(msg), net, NETWORKS[k]);
        check_refused(address, NETWORKS[k], msg);
    }
    free(spk);
}

static void test_segwit_addresses(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bech32.json");
    const json_t *b173 = json_object_get(root, "bip173");
    const json_t *b350 = json_object_get(root, "bip350");
    size_t i, valid = 0, refused = 0;
    json_t *v;

    json_array_foreach(json_object_get(b350, "segwit_addresses_valid"), i, v) {
        check_segwit_valid(tu_str(v, "address"), tu_str(v, "script_pubkey"));
        valid++;
    }
    json_array_foreach(json_object_get(b173, "segwit_addresses_valid"), i, v) {
        const char *address = tu_str(v, "address");
        if (json_is_true(json_object_get(v, "valid_under_bip350"))) {
            check_segwit_valid(address, tu_str(v, "script_pubkey"));
            valid++;
        } else {
            /* BIP350 made these v1+ bech32 addresses invalid. */
            check_refused(address, network_of(address), "bech32 checksum on a v");
            refused++;
        }
    }
    /* Invalid addresses are refused on every network; those with an hrp
     * kura does not know ("tc") say so. */
    const json_t *lists[] = {json_object_get(b173, "segwit_addresses_invalid"),
                             json_object_get(b350, "segwit_addresses_invalid")};
    for (size_t l = 0; l < 2; l++) {
        json_array_foreach(lists[l], i, v) {
            const char *address = tu_str(v, "address");
            const char *reason = tu_str(v, "reason");
            int unknown_hrp = strncmp(reason, "Invalid human-readable part", 27) == 0;
            for (size_t k = 0; k < 3; k++)
                check_refused(address, NETWORKS[k],
                              unknown_hrp ? "unknown human-readable part \"tc\"" : NULL);
            refused++;
        }
    }
    assert_int_equal(valid, 11);
    assert_int_equal(refused, 3 + 10 + 15);
    json_decref(root);
}

/* ---- bip67.json ---- */

static uint8_t *keys_from(const json_t *list, size_t *n_out)
{
    size_t n = json_array_size(list), i;
    json_t *k;
    uint8_t *keys = malloc(n * 33);
    assert_non_null(keys);
    json_array_foreach(list, i, k) tu_unhex_fixed(json_string_value(k), keys + 33 * i, 33);
    *n_out = n;
    return keys;
}

static void test_bip67(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bip67.json");
    size_t i, count = 0;
    json_t *v;
    json_array_foreach(json_object_get(root, "vectors"), i, v) {
        size_t n, ns, rlen, w, sw;
        uint8_t *keys = keys_from(json_object_get(v, "keys"), &n);
        uint8_t *sorted = keys_from(json_object_get(v, "sorted_keys"), &ns);
        uint8_t *redeem = tu_unhex(tu_str(v, "redeem_script"), &rlen);
        uint8_t *copy = malloc(n * 33);
        uint8_t script[700], spk[KURA_SCRIPT_PUBKEY_MAX], spk2[KURA_SCRIPT_PUBKEY_MAX];
        char addr[KURA_ADDRESS_MAX];
        unsigned m = (unsigned)json_integer_value(json_object_get(v, "required_signatures"));
        kura_error err = {0};
        assert_non_null(copy);
        memcpy(copy, keys, n * 33);
        assert_int_equal(n, ns);

        /* Sorting the input order gives the BIP's redeem script... */
        assert_int_equal(kura_script_multisig(script, sizeof(script), &w, m, keys, n, 1), KURA_OK);
        tu_assert_bytes_equal(script, w, redeem, rlen);
        /* ...and leaves the caller's array as it was. */
        tu_assert_bytes_equal(keys, n * 33, copy, n * 33);
        /* The sorted keys unsorted give the same script; the input order
         * unsorted gives it only when it was already sorted (vector 2). */
        assert_int_equal(kura_script_multisig(script, sizeof(script), &w, m, sorted, n, 0),
                         KURA_OK);
        tu_assert_bytes_equal(script, w, redeem, rlen);
        assert_int_equal(kura_script_multisig(script, sizeof(script), &w, m, keys, n, 0), KURA_OK);
        assert_int_equal(w, rlen);
        assert_int_equal(memcmp(script, redeem, rlen) == 0, memcmp(keys, sorted, n * 33) == 0);

        assert_int_equal(kura_script_classify(redeem, rlen, NULL, NULL, NULL),
                         KURA_SCRIPT_MULTISIG);
        assert_int_equal(kura_script_p2sh_of(spk, sizeof(spk), &sw, redeem, rlen), KURA_OK);
        assert_int_equal(
            kura_address_from_script(addr, sizeof(addr), spk, sw, KURA_NETWORK_MAINNET, &err),
            KURA_OK);
        assert_string_equal(addr, tu_str(v, "p2sh_address"));
        assert_int_equal(kura_address_to_script(spk2, sizeof(spk2), &w, tu_str(v, "p2sh_address"),
                                                KURA_NETWORK_MAINNET, &err),
                         KURA_OK);
        tu_assert_bytes_equal(spk2, w, spk, sw);
        free(keys);
        free(sorted);
        free(redeem);
        free(copy);
        count++;
    }
    assert_int_equal(count, 4);
    json_decref(root);
}

/* ---- descriptors.json (BIP383): multisig with hex keys ---- */

/* Parses the comma-separated hex keys after "multi(<m>," in a descriptor. */
static uint8_t *descriptor_keys(const char *desc, unsigned *m, size_t *n)
{
    const char *p = strstr(desc, "multi(");
    uint8_t *keys = malloc(20 * 33);
    char hex[67];
    assert_non_null(p);
    assert_non_null(keys);
    p += 6;
    *m = (unsigned)strtoul(p, NULL, 10);
    p = strchr(p, ',');
    *n = 0;
    while (p != NULL && *p == ',') {
        p++;
        assert_true(*n < 20);
        memcpy(hex, p, 66);
        hex[66] = '\0';
        tu_unhex_fixed(hex, keys + 33 * *n, 33);
        (*n)++;
        p += 66;
    }
    return keys;
}

static void test_bip383_multisig(void **state)
{
    (void)state;
    json_t *root = tu_load_json("descriptors.json");
    size_t i, nested = 0, bare = 0;
    json_t *v;
    json_array_foreach(json_object_get(json_object_get(root, "bip383"), "valid"), i, v) {
        const char *desc = tu_str(v, "descriptor");
        const char *want_hex = json_string_value(json_array_get(json_object_get(v, "scripts"), 0));
        size_t want_len;
        uint8_t *want;
        if (want_hex == NULL) continue;
        want = tu_unhex(want_hex, &want_len);
        if (strncmp(desc, "sh(wsh(multi(16,", 16) == 0) {
            /* 16-of-16 with hex keys: witness script, P2WSH, then P2SH of that. */
            unsigned m;
            size_t n, w, pw, sw;
            uint8_t *keys = descriptor_keys(desc, &m, &n);
            uint8_t ws[700], p2wsh[KURA_SCRIPT_PUBKEY_MAX], spk[KURA_SCRIPT_PUBKEY_MAX];
            assert_int_equal(n, 16);
            assert_int_equal(kura_script_multisig(ws, sizeof(ws), &w, m, keys, n, 0), KURA_OK);
            assert_int_equal(kura_script_classify(ws, w, NULL, NULL, NULL), KURA_SCRIPT_MULTISIG);
            assert_int_equal(kura_script_p2wsh_of(p2wsh, sizeof(p2wsh), &pw, ws, w), KURA_OK);
            assert_int_equal(kura_script_classify(p2wsh, pw, NULL, NULL, NULL), KURA_SCRIPT_P2WSH);
            assert_int_equal(kura_script_p2sh_of(spk, sizeof(spk), &sw, p2wsh, pw), KURA_OK);
            tu_assert_bytes_equal(spk, sw, want, want_len);
            free(keys);
            nested++;
        } else if (strncmp(desc, "multi(", 6) == 0 || strncmp(desc, "sortedmulti(", 12) == 0) {
            /* Bare multisig scripts (one with an uncompressed key) classify. */
            assert_int_equal(kura_script_classify(want, want_len, NULL, NULL, NULL),
                             KURA_SCRIPT_MULTISIG);
            bare++;
        }
        free(want);
    }
    assert_int_equal(nested, 1);
    assert_int_equal(bare, 4);
    json_decref(root);
}

/* ---- bip341.json ---- */

/* Walks a scriptTree: checks each leaf hash against leafHashes[id] and
 * returns the subtree's hash in out. */
static void tree_hash(uint8_t out[32], const json_t *node, const json_t *leaf_hashes,
                      size_t *leaves)
{
    if (json_is_object(node)) {
        size_t len, id = (size_t)json_integer_value(json_object_get(node, "id"));
        uint8_t *script = tu_unhex(tu_str(node, "script"), &len);
        uint8_t want[32];
        kura_tapleaf_hash(out,
                          (uint8_t)json_integer_value(json_object_get(node, "leafVersion")),
                          script, len);
        tu_unhex_fixed(json_string_value(json_array_get(leaf_hashes, id)), want, 32);
        tu_assert_bytes_equal(out, 32, want, 32);
        free(script);
        (*leaves)++;
    } else {
        uint8_t left[32], right[32];
        assert_true(json_is_array(node));
        assert_int_equal(json_array_size(node), 2);
        tree_hash(left, json_array_get(node, 0), leaf_hashes, leaves);
        tree_hash(right, json_array_get(node, 1), leaf_hashes, leaves);
        kura_tapbranch_hash(out, left, right);
    }
}

static void test_bip341(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bip341.json");
    kura_ctx *ctx = kura_ctx_new();
    size_t i, count = 0, leaves = 0, blocks = 0;
    json_t *v;
    assert_non_null(ctx);
    json_array_foreach(json_object_get(root, "scriptPubKey"), i, v) {
        const json_t *given = json_object_get(v, "given");
        const json_t *inter = json_object_get(v, "intermediary");
        const json_t *expected = json_object_get(v, "expected");
        const json_t *tree = json_object_get(given, "scriptTree");
        uint8_t internal[32], root_hash[32], want[32], tweaked[32];
        uint8_t spk[KURA_SCRIPT_PUBKEY_MAX];
        size_t spk_len, w;
        uint8_t *want_spk = tu_unhex(tu_str(expected, "scriptPubKey"), &spk_len);
        int parity = -1;
        const uint8_t *merkle = NULL;

        tu_unhex_fixed(tu_str(given, "internalPubkey"), internal, 32);
        if (!json_is_null(tree)) {
            tree_hash(root_hash, tree, json_object_get(inter, "leafHashes"), &leaves);
            tu_unhex_fixed(tu_str(inter, "merkleRoot"), want, 32);
            tu_assert_bytes_equal(root_hash, 32, want, 32);
            merkle = root_hash;
        } else {
            assert_true(json_is_null(json_object_get(inter, "merkleRoot")));
        }
        assert_int_equal(kura_taproot_tweak_pubkey(ctx, tweaked, &parity, internal, merkle),
                         KURA_OK);
        tu_unhex_fixed(tu_str(inter, "tweakedPubkey"), want, 32);
        tu_assert_bytes_equal(tweaked, 32, want, 32);

        assert_int_equal(kura_script_p2tr(spk, sizeof(spk), &w, tweaked), KURA_OK);
        tu_assert_bytes_equal(spk, w, want_spk, spk_len);
        assert_int_equal(kura_script_classify(spk, w, NULL, NULL, NULL), KURA_SCRIPT_P2TR);
        check_address(tu_str(expected, "bip350Address"), KURA_NETWORK_MAINNET, want_spk, spk_len,
                      1);

        /* Each control block (BIP341 "Script validation rules"): its first
         * byte carries the output key's parity, and walking its path from
         * the leaf hash with tapbranch reaches the merkle root. */
        const json_t *cbs = json_object_get(expected, "scriptPathControlBlocks");
        size_t k;
        json_t *cb_hex;
        json_array_foreach(cbs, k, cb_hex) {
            size_t cb_len;
            uint8_t *cb = tu_unhex(json_string_value(cb_hex), &cb_len);
            uint8_t node[32];
            assert_true(cb_len >= 33 && (cb_len - 33) % 32 == 0);
            assert_int_equal(cb[0] & 1, parity);
            tu_assert_bytes_equal(cb + 1, 32, internal, 32);
            tu_unhex_fixed(json_string_value(
                               json_array_get(json_object_get(inter, "leafHashes"), k)),
                           node, 32);
            for (size_t off = 33; off < cb_len; off += 32) kura_tapbranch_hash(node, node, cb + off);
            tu_assert_bytes_equal(node, 32, root_hash, 32);
            free(cb);
            blocks++;
        }
        free(want_spk);
        count++;
    }
    assert_int_equal(count, 7);
    assert_int_equal(leaves, 12);
    assert_int_equal(blocks, 12);
    kura_ctx_free(ctx);
    json_decref(root);
}

/* ---- classification ---- */

struct classify_case {
    const char *hex;
    kura_script_type type;
    unsigned version;
    size_t program_offset; /* where *program must point; 0 with program_len 0 = NULL */
    size_t program_len;
};

static void test_classify(void **state)
{
    (void)state;
    static const struct classify_case cases[] = {
        /* P2PKH of HASH160(G) and the BIP67 vector 1 P2SH */
        {"76a914751e76e8199196d454941c45d1b3a323f1433bd688ac", KURA_SCRIPT_P2PKH, 0, 3, 20},
        {"a91456be8ea93912f37685542a2a864a5600f88a675487", KURA_SCRIPT_P2SH, 0, 2, 20},
        /* The witness scriptPubKeys of the bech32.json vectors */
        {"0014751e76e8199196d454941c45d1b3a323f1433bd6", KURA_SCRIPT_P2WPKH, 0, 2, 20},
        {"00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
         KURA_SCRIPT_P2WSH, 0, 2, 32},
        {"512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798", KURA_SCRIPT_P2TR,
         1, 2, 32},
        {"5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6",
         KURA_SCRIPT_WITNESS_UNKNOWN, 1, 2, 40},
        {"6002751e", KURA_SCRIPT_WITNESS_UNKNOWN, 16, 2, 2},
        {"5210751e76e8199196d454941c45d1b3a323", KURA_SCRIPT_WITNESS_UNKNOWN, 2, 2, 16},
        /* v1 with a 2-byte program (the pay-to-anchor shape) */
        {"51024e73", KURA_SCRIPT_WITNESS_UNKNOWN, 1, 2, 2},
        /* BIP67 vector 1 redeem script as a bare output */
        {"522102fe6f0a5a297eb38c391581c4413e084773ea23954d93f7753db7dc0adc188b2f2102ff12471208c14bd5"
         "80709cb2358d98975247d8765f92bc25eab3b2763ed605f852ae",
         KURA_SCRIPT_MULTISIG, 0, 0, 0},
        {"6a", KURA_SCRIPT_OP_RETURN, 0, 0, 0},
        {"6a04deadbeef", KURA_SCRIPT_OP_RETURN, 0, 0, 0},
        {"6a4c0100", KURA_SCRIPT_OP_RETURN, 0, 0, 0},
        {"6a0051", KURA_SCRIPT_OP_RETURN, 0, 0, 0},
        /* Non-standard: empty; truncated or extra bytes; wrong opcodes */
        {"", KURA_SCRIPT_NONSTANDARD, 0, 0, 0},
        {"76a914751e76e8199196d454941c45d1b3a323f1433bd688", KURA_SCRIPT_NONSTANDARD, 0, 0, 0},
        {"76a914751e76e8199196d454941c45d1b3a323f1433bd688ac00", KURA_SCRIPT_NONSTANDARD, 0, 0, 0},
        {"76a914751e76e8199196d454941c45d1b3a323f1433bd687ac", KURA_SCRIPT_NONSTANDARD, 0, 0, 0},
        {"a91456be8ea93912f37685542a2a864a5600f88a675488", KURA_SCRIPT_NONSTANDARD, 0, 0, 0},
        /* v0 programs other than 20/32 bytes, a 41-byte program, a 1-byte program */
        {"0015751e76e8199196d454941c45d1b3a323f1433bd6aa", KURA_SCRIPT_NONSTANDARD, 0, 0, 0},
        {"0010751e76e8199196d454941c45d1b3a323", KURA_SCRIPT_NONSTANDARD, 0, 0, 0},
        {"5129751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6aa",
         KURA_SCRIPT_NONSTANDARD, 0, 0, 0},
        {"510175", KURA_SCRIPT_NONSTANDARD, 0, 0, 0},
        /* A program pushed with PUSHDATA1, a version opcode that is not one (OP_RESERVED) */
        {"004c14751e76e8199196d454941c45d1b3a323f1433bd6", KURA_SCRIPT_NONSTANDARD, 0, 0, 0},
        {"5014751e76e8199196d454941c45d1b3a323f1433bd6", KURA_SCRIPT_NONSTANDARD, 0, 0, 0},
        /* Multisig: m > n, key count not n, zero keys, bad key prefix, no OP_CHECKMULTISIG */
        {"532102fe6f0a5a297eb38c391581c4413e084773ea23954d93f7753db7dc0adc188b2f2102ff12471208c14bd5"
         "80709cb2358d98975247d8765f92bc25eab3b2763ed605f852ae",
         KURA_SCRIPT_NONSTANDARD, 0, 0, 0},
        {"512102fe6f0a5a297eb38c391581c4413e084773ea23954d93f7753db7dc0adc188b2f2102ff12471208c14bd5"
         "80709cb2358d98975247d8765f92bc25eab3b2763ed605f853ae",
         KURA_SCRIPT_NONSTANDARD, 0, 0, 0},
        {"5150ae", KURA_SCRIPT_NONSTANDARD, 0, 0, 0},
        {"512105fe6f0a5a297eb38c391581c4413e084773ea23954d93f7753db7dc0adc188b2f51ae",
         KURA_SCRIPT_NONSTANDARD, 0, 0, 0},
        {"512102fe6f0a5a297eb38c391581c4413e084773ea23954d93f7753db7dc0adc188b2f51", KURA_SCRIPT_NONSTANDARD,
         0, 0, 0},
        /* OP_RETURN with a non-push after it, or a truncated push */
        {"6aac", KURA_SCRIPT_NONSTANDARD, 0, 0, 0},
        {"6a05aabb", KURA_SCRIPT_NONSTANDARD, 0, 0, 0},
        {"6a4d0100", KURA_SCRIPT_NONSTANDARD, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len;
        uint8_t *s = tu_unhex(cases[i].hex, &len);
        const uint8_t *prog = (const uint8_t *)1;
        size_t prog_len = 99;
        unsigned version = 99;
        kura_script_type t = kura_script_classify(s, len, &prog, &prog_len, &version);
        if (t != cases[i].type)
            fail_msg("case %zu (%s): type %d, want %d", i, cases[i].hex, (int)t,
                     (int)cases[i].type);
        assert_int_equal(version, cases[i].version);
        assert_int_equal(prog_len, cases[i].program_len);
        if (cases[i].program_len == 0) {
            assert_null(prog);
        } else {
            assert_ptr_equal(prog, s + cases[i].program_offset);
        }
        /* All-NULL outputs are allowed. */
        assert_int_equal(kura_script_classify(s, len, NULL, NULL, NULL), cases[i].type);
        free(s);
    }
    assert_int_equal(kura_script_classify(NULL, 0, NULL, NULL, NULL), KURA_SCRIPT_NONSTANDARD);
    assert_string_equal(kura_script_type_name(KURA_SCRIPT_P2TR), "P2TR");
    assert_null(kura_script_type_name((kura_script_type)99));
}

/* ---- builders ---- */

static void test_hash_builders(void **state)
{
    (void)state;
    uint8_t h20[20], h32[32], out[KURA_SCRIPT_PUBKEY_MAX], want[40];
    size_t w = 99;
    char addr[KURA_ADDRESS_MAX];
    kura_error err = {0};
    tu_unhex_fixed("751e76e8199196d454941c45d1b3a323f1433bd6", h20, 20);
    tu_unhex_fixed("1863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262", h32, 32);

    /* HASH160 of the generator point: the P2PKH address of private key 1
     * (a widely published value) and BIP173's first P2WPKH vector. */
    assert_int_equal(kura_script_p2pkh(out, sizeof(out), &w, h20), KURA_OK);
    assert_int_equal(kura_address_from_script(addr, sizeof(addr), out, w, KURA_NETWORK_MAINNET,
                                              &err),
                     KURA_OK);
    assert_string_equal(addr, "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH");
    check_address(addr, KURA_NETWORK_MAINNET, out, w, 0);
    /* The same hash on testnet round-trips and is refused on mainnet. */
    assert_int_equal(kura_address_from_script(addr, sizeof(addr), out, w, KURA_NETWORK_TESTNET,
                                              &err),
                     KURA_OK);
    assert_true(addr[0] == 'm' || addr[0] == 'n');
    check_address(addr, KURA_NETWORK_TESTNET, out, w, 0);
    check_refused(addr, KURA_NETWORK_MAINNET, "address: testnet address on bitcoin mainnet");

    assert_int_equal(kura_script_p2wpkh(out, sizeof(out), &w, h20), KURA_OK);
    tu_unhex_fixed("0014751e76e8199196d454941c45d1b3a323f1433bd6", want, 22);
    tu_assert_bytes_equal(out, w, want, 22);
    assert_int_equal(kura_script_p2wsh(out, sizeof(out), &w, h32), KURA_OK);
    tu_unhex_fixed("00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262", want,
                   34);
    tu_assert_bytes_equal(out, w, want, 34);
    assert_int_equal(kura_script_p2sh(out, sizeof(out), &w, h20), KURA_OK);
    tu_unhex_fixed("a914751e76e8199196d454941c45d1b3a323f1433bd687", want, 23);
    tu_assert_bytes_equal(out, w, want, 23);

    /* Exactly big enough, one byte short, NULL. */
    assert_int_equal(kura_script_p2pkh(out, 25, &w, h20), KURA_OK);
    assert_int_equal(kura_script_p2pkh(out, 24, &w, h20), KURA_EINVAL);
    assert_int_equal(w, 0);
    assert_int_equal(kura_script_p2tr(out, 33, &w, h32), KURA_EINVAL);
    assert_int_equal(kura_script_p2wpkh(NULL, 22, &w, h20), KURA_EINVAL);
    assert_int_equal(kura_script_p2sh(out, sizeof(out), &w, NULL), KURA_EINVAL);
    assert_int_equal(kura_script_p2sh_of(out, sizeof(out), &w, NULL, 3), KURA_EINVAL);
    assert_int_equal(kura_script_p2wsh_of(out, 33, &w, (const uint8_t *)"a", 1), KURA_EINVAL);

    /* P2WSH of the empty script is SHA256("") (FIPS 180 value). */
    assert_int_equal(kura_script_p2wsh_of(out, sizeof(out), &w, NULL, 0), KURA_OK);
    tu_unhex_fixed("0020e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want,
                   34);
    tu_assert_bytes_equal(out, w, want, 34);
}

static void test_multisig_builder(void **state)
{
    (void)state;
    uint8_t keys[20 * 33], out[700];
    size_t w = 99;
    for (size_t i = 0; i < 20; i++) {
        memset(keys + 33 * i, (int)(0x40 + i), 33);
        keys[33 * i] = 0x02;
    }
    /* 20-of-20: counts above 16 are 1-byte pushes (0x01 0x14). */
    assert_int_equal(kura_script_multisig(out, sizeof(out), &w, 20, keys, 20, 0), KURA_OK);
    assert_int_equal(w, 2 + 20 * 34 + 2 + 1);
    assert_int_equal(out[0], 0x01);
    assert_int_equal(out[1], 0x14);
    assert_int_equal(out[w - 3], 0x01);
    assert_int_equal(out[w - 2], 0x14);
    assert_int_equal(out[w - 1], 0xae);
    assert_int_equal(kura_script_classify(out, w, NULL, NULL, NULL), KURA_SCRIPT_MULTISIG);
    /* 1-of-17: OP_1 ... 0x01 0x11 OP_CHECKMULTISIG. */
    assert_int_equal(kura_script_multisig(out, sizeof(out), &w, 1, keys, 17, 0), KURA_OK);
    assert_int_equal(w, 1 + 17 * 34 + 2 + 1);
    assert_int_equal(out[0], 0x51);
    assert_int_equal(out[w - 2], 0x11);
    assert_int_equal(kura_script_classify(out, w, NULL, NULL, NULL), KURA_SCRIPT_MULTISIG);
    /* Exactly big enough and one short. */
    assert_int_equal(kura_script_multisig(out, 1 + 34 + 1 + 1, &w, 1, keys, 1, 0), KURA_OK);
    assert_int_equal(kura_script_multisig(out, 1 + 34 + 1, &w, 1, keys, 1, 0), KURA_EINVAL);
    assert_int_equal(w, 0);
    /* Bad m/n, bad key prefix, NULL keys. */
    assert_int_equal(kura_script_multisig(out, sizeof(out), &w, 0, keys, 2, 0), KURA_EINVAL);
    assert_int_equal(kura_script_multisig(out, sizeof(out), &w, 3, keys, 2, 0), KURA_EINVAL);
    assert_int_equal(kura_script_multisig(out, sizeof(out), &w, 1, keys, 0, 0), KURA_EINVAL);
    assert_int_equal(kura_script_multisig(out, sizeof(out), &w, 1, keys, 21, 0), KURA_EINVAL);
    assert_int_equal(kura_script_multisig(out, sizeof(out), &w, 1, NULL, 2, 0), KURA_EINVAL);
    keys[33] = 0x04;
    assert_int_equal(kura_script_multisig(out, sizeof(out), &w, 1, keys, 2, 0), KURA_EINVAL);
}

static void test_multi_a_builder(void **state)
{
    (void)state;
    uint8_t keys[2 * 32], out[34 * 999 + 4], want[200];
    uint8_t *many;
    size_t w = 99, wl;
    char hex[300];
    memset(keys, 0xbb, 32);
    memset(keys + 32, 0xaa, 32);
    /* BIP387: <k1> OP_CHECKSIG <k2> OP_CHECKSIGADD <2> OP_NUMEQUAL, written
     * out by hand from the BIP's definition. */
    snprintf(hex, sizeof(hex), "20%s%s", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
             "ac20aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaba529c");
    tu_unhex_fixed(hex, want, 70);
    assert_int_equal(kura_script_multi_a(out, sizeof(out), &w, 2, keys, 2, 0), KURA_OK);
    tu_assert_bytes_equal(out, w, want, 70);
    /* Sorted: 0xaa.. first. */
    snprintf(hex, sizeof(hex), "20%s%s", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
             "ac20bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbba519c");
    tu_unhex_fixed(hex, want, 70);
    assert_int_equal(kura_script_multi_a(out, sizeof(out), &w, 1, keys, 2, 1), KURA_OK);
    tu_assert_bytes_equal(out, w, want, 70);
    assert_int_equal(keys[0], 0xbb); /* caller's order kept */

    /* Thresholds as script numbers: 17 -> 01 11, 128 -> 02 80 00, 999 -> 02 e7 03. */
    many = malloc(999 * 32);
    assert_non_null(many);
    for (size_t i = 0; i < 999; i++) memset(many + 32 * i, (int)(i & 0xff), 32);
    assert_int_equal(kura_script_multi_a(out, sizeof(out), &w, 17, many, 17, 0), KURA_OK);
    assert_int_equal(w, 17 * 34 + 2 + 1);
    tu_unhex_fixed("01119c", want, 3);
    tu_assert_bytes_equal(out + w - 3, 3, want, 3);
    assert_int_equal(kura_script_multi_a(out, sizeof(out), &w, 128, many, 200, 0), KURA_OK);
    tu_unhex_fixed("0280009c", want, 4);
    tu_assert_bytes_equal(out + w - 4, 4, want, 4);
    assert_int_equal(kura_script_multi_a(out, sizeof(out), &w, 999, many, 999, 1), KURA_OK);
    assert_int_equal(w, 999 * 34 + 3 + 1);
    tu_unhex_fixed("02e7039c", want, 4);
    tu_assert_bytes_equal(out + w - 4, 4, want, 4);
    /* Sorted: keys 0x00.. first, both the 0x00.. keys (i = 0, 256, 512, 768) lead. */
    assert_int_equal(out[1], 0x00);
    assert_int_equal(out[34 * 4 + 1], 0x01);
    /* Size exactly and one short; bad m/n. */
    wl = 2 * 34 + 1 + 1;
    assert_int_equal(kura_script_multi_a(out, wl, &w, 2, keys, 2, 0), KURA_OK);
    assert_int_equal(kura_script_multi_a(out, wl - 1, &w, 2, keys, 2, 0), KURA_EINVAL);
    assert_int_equal(w, 0);
    assert_int_equal(kura_script_multi_a(out, sizeof(out), &w, 0, keys, 2, 0), KURA_EINVAL);
    assert_int_equal(kura_script_multi_a(out, sizeof(out), &w, 3, keys, 2, 0), KURA_EINVAL);
    assert_int_equal(kura_script_multi_a(out, sizeof(out), &w, 1, many, 1000, 0), KURA_EINVAL);
    assert_int_equal(kura_script_multi_a(out, sizeof(out), &w, 1, NULL, 1, 0), KURA_EINVAL);
    free(many);
}

static void test_push(void **state)
{
    (void)state;
    uint8_t data[70000], out[70010];
    uint8_t one;
    memset(data, 0x42, sizeof(data));
    /* BIP62 minimal pushes. */
    assert_int_equal(kura_script_push(out, sizeof(out), NULL, 0), 1);
    assert_int_equal(out[0], 0x00);
    for (unsigned v = 1; v <= 16; v++) {
        one = (uint8_t)v;
        assert_int_equal(kura_script_push(out, sizeof(out), &one, 1), 1);
        assert_int_equal(out[0], 0x50 + v);
    }
    one = 0x81;
    assert_int_equal(kura_script_push(out, sizeof(out), &one, 1), 1);
    assert_int_equal(out[0], 0x4f);
    one = 0x00; /* a single zero byte is data, not OP_0 */
    assert_int_equal(kura_script_push(out, sizeof(out), &one, 1), 2);
    assert_int_equal(out[0], 0x01);
    assert_int_equal(out[1], 0x00);
    one = 17;
    assert_int_equal(kura_script_push(out, sizeof(out), &one, 1), 2);
    assert_int_equal(kura_script_push(out, sizeof(out), data, 75), 76);
    assert_int_equal(out[0], 75);
    assert_int_equal(kura_script_push(out, sizeof(out), data, 76), 78);
    assert_int_equal(out[0], 0x4c);
    assert_int_equal(out[1], 76);
    assert_int_equal(kura_script_push(out, sizeof(out), data, 255), 257);
    assert_int_equal(out[0], 0x4c);
    assert_int_equal(kura_script_push(out, sizeof(out), data, 256), 259);
    assert_int_equal(out[0], 0x4d);
    assert_int_equal(out[1], 0x00);
    assert_int_equal(out[2], 0x01);
    assert_int_equal(kura_script_push(out, sizeof(out), data, 65535), 65538);
    assert_int_equal(out[0], 0x4d);
    assert_int_equal(kura_script_push(out, sizeof(out), data, 65536), 65541);
    assert_int_equal(out[0], 0x4e);
    assert_int_equal(out[1], 0x00);
    assert_int_equal(out[2], 0x00);
    assert_int_equal(out[3], 0x01);
    assert_int_equal(out[4], 0x00);
    tu_assert_bytes_equal(out + 5, 65536, data, 65536);
    /* Too small: nothing written. */
    out[0] = 0xee;
    assert_int_equal(kura_script_push(out, 76, data, 76), 0);
    assert_int_equal(out[0], 0xee);
    assert_int_equal(kura_script_push(out, 0, NULL, 0), 0);
    assert_int_equal(kura_script_push(NULL, 10, data, 1), 0);
    assert_int_equal(kura_script_push(out, 10, NULL, 1), 0);
}

static void test_tap_hashes(void **state)
{
    (void)state;
    uint8_t script[300], buf[4 + 300], a[32], b[32], x[32], y[32], want[32];
    memset(script, 0x51, sizeof(script));
    /* A script of 300 bytes needs the 3-byte compact size (0xfd 0x2c 0x01):
     * the hash built by hand from BIP341's definition. */
    buf[0] = 0xc0;
    buf[1] = 0xfd;
    buf[2] = 0x2c;
    buf[3] = 0x01;
    memcpy(buf + 4, script, 300);
    kura_tagged_hash(want, "TapLeaf", buf, sizeof(buf));
    kura_tapleaf_hash(x, 0xc0, script, 300);
    tu_assert_bytes_equal(x, 32, want, 32);
    /* Empty script. */
    buf[1] = 0x00;
    kura_tagged_hash(want, "TapLeaf", buf, 2);
    kura_tapleaf_hash(x, 0xc0, NULL, 0);
    tu_assert_bytes_equal(x, 32, want, 32);
    /* Branch: the smaller child first, whatever the argument order. */
    memset(a, 0x01, 32);
    memset(b, 0x02, 32);
    memcpy(buf, a, 32);
    memcpy(buf + 32, b, 32);
    kura_tagged_hash(want, "TapBranch", buf, 64);
    kura_tapbranch_hash(x, a, b);
    kura_tapbranch_hash(y, b, a);
    tu_assert_bytes_equal(x, 32, want, 32);
    tu_assert_bytes_equal(y, 32, want, 32);
}

/* ---- refusals and their messages ---- */

static void test_refusals(void **state)
{
    (void)state;
    uint8_t script[KURA_SCRIPT_PUBKEY_MAX], prog[32], payload[34];
    char addr[KURA_ADDRESS_MAX], long_addr[100];
    size_t w;
    kura_error err = {0};
    memset(prog, 0x33, sizeof(prog));

    /* A regtest address: on regtest it works, elsewhere the network is named. */
    assert_int_equal(kura_segwit_address_encode(addr, sizeof(addr), "bcrt", 0, prog, 20), KURA_OK);
    assert_int_equal(kura_address_to_script(script, sizeof(script), &w, addr,
                                            KURA_NETWORK_REGTEST, &err),
                     KURA_OK);
    assert_int_equal(kura_script_classify(script, w, NULL, NULL, NULL), KURA_SCRIPT_P2WPKH);
    check_refused(addr, KURA_NETWORK_MAINNET, "address: regtest address on bitcoin mainnet");
    check_refused(addr, KURA_NETWORK_TESTNET, "address: regtest address on testnet");
    /* Exact messages from the brief. */
    check_refused("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
                  KURA_NETWORK_MAINNET, "address: testnet address on bitcoin mainnet");
    check_refused("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", KURA_NETWORK_MAINNET,
                  "address: bech32m checksum on a v0 program");

    /* Base58Check with a version byte that is not a bitcoin address
     * (Litecoin's 0x30), a 22-byte payload, a WIF-sized payload. */
    memset(payload, 0x11, sizeof(payload));
    payload[0] = 0x30;
    assert_int_equal(kura_base58check_encode(addr, sizeof(addr), payload, 21), KURA_OK);
    check_refused(addr, KURA_NETWORK_MAINNET, "version byte 0x30");
    payload[0] = 0x00;
    assert_int_equal(kura_base58check_encode(addr, sizeof(addr), payload, 22), KURA_OK);
    check_refused(addr, KURA_NETWORK_MAINNET, "payload of 22 bytes");
    payload[0] = 0x80;
    assert_int_equal(kura_base58check_encode(addr, sizeof(addr), payload, 34), KURA_OK);
    check_refused(addr, KURA_NETWORK_MAINNET, "payload of 34 bytes");
    /* A typo in a Base58 address breaks its checksum. */
    check_refused("1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMh", KURA_NETWORK_MAINNET, "checksum");
    check_refused("1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAM0", KURA_NETWORK_MAINNET, "invalid character");

    /* Whitespace, case, emptiness, length. */
    check_refused(" bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", KURA_NETWORK_MAINNET, NULL);
    check_refused("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4 ", KURA_NETWORK_MAINNET,
                  "out of range");
    check_refused("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3T4", KURA_NETWORK_MAINNET,
                  "mixed upper and lower case");
    check_refused("Bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", KURA_NETWORK_MAINNET,
                  "mixed upper and lower case");
    check_refused("", KURA_NETWORK_MAINNET, "address: empty");
    memset(long_addr, 'q', sizeof(long_addr) - 1);
    long_addr[sizeof(long_addr) - 1] = '\0';
    memcpy(long_addr, "bc1", 3);
    check_refused(long_addr, KURA_NETWORK_MAINNET, "longer than 90");
    /* A Litecoin segwit address: well formed, not ours. */
    assert_int_equal(kura_segwit_address_encode(addr, sizeof(addr), "ltc", 0, prog, 20), KURA_OK);
    check_refused(addr, KURA_NETWORK_MAINNET, "unknown human-readable part \"ltc\"");
    /* bech32-looking nonsense gets the bech32 reason. */
    check_refused("bc1qqqqqqqqqqqqqqqqqqqq", KURA_NETWORK_MAINNET, "checksum mismatch");
    check_refused("xx1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", KURA_NETWORK_MAINNET,
                  "checksum mismatch");

    /* Misuse: NULLs, small buffer, network outside the enum. */
    assert_int_equal(kura_address_to_script(NULL, 42, &w, "x", KURA_NETWORK_MAINNET, &err),
                     KURA_EINVAL);
    assert_int_equal(kura_address_to_script(script, 42, &w, NULL, KURA_NETWORK_MAINNET, &err),
                     KURA_EINVAL);
    assert_int_equal(kura_address_to_script(script, 41, &w,
                                            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
                                            KURA_NETWORK_MAINNET, &err),
                     KURA_EINVAL);
    assert_int_equal(kura_address_to_script(script, 42, &w,
                                            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
                                            (kura_network)3, &err),
                     KURA_EINVAL);
    /* err may be NULL. */
    assert_int_equal(kura_address_to_script(script, 42, &w, "x", KURA_NETWORK_MAINNET, NULL),
                     KURA_EDATA);

    /* Scripts without an address. */
    static const char *const no_address[] = {"6a04deadbeef", "", "ac",
                                             "0015751e76e8199196d454941c45d1b3a323f1433bd6aa",
                                             "512102fe6f0a5a297eb38c391581c4413e084773ea23954d93f7753db7dc0adc188b2f51ae"};
    for (size_t i = 0; i < sizeof(no_address) / sizeof(no_address[0]); i++) {
        size_t len;
        uint8_t *s = tu_unhex(no_address[i], &len);
        strcpy(addr, "junk");
        assert_int_equal(
            kura_address_from_script(addr, sizeof(addr), s, len, KURA_NETWORK_MAINNET, &err),
            KURA_EDATA);
        assert_has(&err, "has no address", no_address[i]);
        assert_string_equal(addr, "");
        free(s);
    }
    assert_int_equal(kura_script_p2tr(script, sizeof(script), &w, prog), KURA_OK);
    assert_int_equal(kura_address_from_script(addr, KURA_ADDRESS_MAX - 1, script, w,
                                              KURA_NETWORK_MAINNET, &err),
                     KURA_EINVAL);
    assert_int_equal(kura_address_from_script(addr, sizeof(addr), script, w, (kura_network)5,
                                              &err),
                     KURA_EINVAL);
    assert_int_equal(kura_address_from_script(addr, sizeof(addr), NULL, 3, KURA_NETWORK_MAINNET,
                                              &err),
                     KURA_EINVAL);
    /* Every network's P2TR round-trips. */
    for (size_t k = 0; k < 3; k++) {
        assert_int_equal(kura_address_from_script(addr, sizeof(addr), script, w, NETWORKS[k],
                                                  &err),
                         KURA_OK);
        assert_int_equal(strncmp(addr, kura_network_hrp(NETWORKS[k]),
                                 strlen(kura_network_hrp(NETWORKS[k]))),
                         0);
        check_address(addr, NETWORKS[k], script, w, 1);
    }
    assert_null(kura_network_hrp((kura_network)3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base58_addresses),
        cmocka_unit_test(test_segwit_addresses),
        cmocka_unit_test(test_bip67),
        cmocka_unit_test(test_bip383_multisig),
        cmocka_unit_test(test_bip341),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_hash_builders),
        cmocka_unit_test(test_multisig_builder),
        cmocka_unit_test(test_multi_a_builder),
        cmocka_unit_test(test_push),
        cmocka_unit_test(test_tap_hashes),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
