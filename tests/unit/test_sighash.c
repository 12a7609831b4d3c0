/* Signature hashes against the vector files: every BIP143 sighash entry (the
 * preimage, its midstates and the hash), BIP341 keyPathSpending (the
 * intermediary sha_* values, each input's SigMsg and sigHash, and which
 * precomputed values each type uses), legacy sighash checked by verifying the
 * real ECDSA signatures in the vectors' signed transactions plus hand-built
 * preimages, and every refusal. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <secp256k1.h>

#include "kura/hash.h"
#include "kura/sighash.h"
#include "kura/tx.h"
#include "testutil.h"

/* ---- helpers ---- */

static kura_tx *parse_tx_hex(const char *hex)
{
    size_t len;
    uint8_t *b = tu_unhex(hex, &len);
    kura_tx *tx = NULL;
    kura_error err;
    if (kura_tx_parse(&tx, b, len, KURA_TX_WITNESS, &err) != KURA_OK)
        fail_msg("cannot parse vector tx: %s", err.message);
    free(b);
    return tx;
}

/* Reads a CompactSize from vector bytes (they are canonical). */
static size_t test_compact(const uint8_t *p, size_t *n)
{
    if (p[0] < 0xfd) {
        *n = 1;
        return p[0];
    }
    if (p[0] == 0xfd) {
        *n = 3;
        return (size_t)p[1] | ((size_t)p[2] << 8);
    }
    fail_msg("unexpectedly long CompactSize in a vector");
    return 0;
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static const uint8_t ZERO32[32] = {0};

/* ---- BIP143 ---- */

/* One sighash entry: rebuild the preimage and hash from the transaction and
 * compare with the BIP's preimage (as a whole and field by field), its
 * midstates and its sighash. */
static void check_bip143_entry(const kura_tx *tx, const json_t *s, const char *name)
{
    size_t pre_len, sc_len, pfx, n;
    uint8_t *pre = tu_unhex(tu_str(s, "preimage"), &pre_len);
    const uint8_t *script_code;
    uint64_t amount;
    uint32_t ht = (uint32_t)json_integer_value(json_object_get(s, "hash_type"));
    size_t idx = (size_t)json_integer_value(json_object_get(s, "input_index"));
    uint8_t sighash[32], want[32], got[32], buf[512];
    kura_sighash_cache cache;

    /* The script code and amount come from the BIP's preimage breakdown:
     * version(4) hashPrevouts(32) hashSequence(32) outpoint(36) scriptCode. */
    sc_len = test_compact(pre + 104, &pfx);
    script_code = pre + 104 + pfx;
    amount = le64(pre + 104 + pfx + sc_len);
    if (json_object_get(s, "script_code") != NULL) {
        size_t l;
        uint8_t *sc = tu_unhex(tu_str(s, "script_code"), &l);
        tu_assert_bytes_equal(sc, l, pre + 104, pfx + sc_len);
        free(sc);
        assert_int_equal(amount, json_integer_value(json_object_get(s, "amount_sat")));
    }
    tu_unhex_fixed(tu_str(s, "sighash"), want, 32);

    /* The whole preimage, byte for byte. */
    assert_int_equal(kura_sighash_cache_init(&cache, tx, NULL), KURA_OK);
    assert_int_equal(kura_sighash_segwit_v0_preimage(buf, sizeof(buf), &n, tx, &cache, idx,
                                                     script_code, sc_len, amount, ht),
                     KURA_OK);
    tu_assert_bytes_equal(buf, n, pre, pre_len);

    /* The midstates the BIP lists for this entry (zero where the type
     * leaves them out), and the cache where the type uses it. */
    if (json_object_get(s, "hash_prevouts") != NULL) {
        tu_unhex_fixed(tu_str(s, "hash_prevouts"), got, 32);
        tu_assert_bytes_equal(buf + 4, 32, got, 32);
        if ((ht & 0x80) == 0) tu_assert_bytes_equal(cache.hash_prevouts, 32, got, 32);
        else tu_assert_bytes_equal(got, 32, ZERO32, 32);
        tu_unhex_fixed(tu_str(s, "hash_sequence"), got, 32);
        tu_assert_bytes_equal(buf + 36, 32, got, 32);
        if ((ht & 0x80) == 0 && (ht & 0x1f) != 2 && (ht & 0x1f) != 3)
            tu_assert_bytes_equal(cache.hash_sequence, 32, got, 32);
        tu_unhex_fixed(tu_str(s, "hash_outputs"), got, 32);
        tu_assert_bytes_equal(buf + 104 + pfx + sc_len + 12, 32, got, 32);
        if ((ht & 0x1f) != 2 && (ht & 0x1f) != 3)
            tu_assert_bytes_equal(cache.hash_outputs, 32, got, 32);
    }

    /* The sighash with the cache, without it, and with an unfilled one. */
    assert_int_equal(kura_sighash_segwit_v0(sighash, tx, &cache, idx, script_code, sc_len, amount,
                                            ht),
                     KURA_OK);
    tu_assert_bytes_equal(sighash, 32, want, 32);
    memset(sighash, 0, 32);
    assert_int_equal(kura_sighash_segwit_v0(sighash, tx, NULL, idx, script_code, sc_len, amount,
                                            ht),
                     KURA_OK);
    tu_assert_bytes_equal(sighash, 32, want, 32);
    {
        kura_sighash_cache empty;
        memset(&empty, 0xaa, sizeof(empty));
        empty.have_v0 = 0;
        assert_int_equal(kura_sighash_segwit_v0(sighash, tx, &empty, idx, script_code, sc_len,
                                                amount, ht),
                         KURA_OK);
        tu_assert_bytes_equal(sighash, 32, want, 32);
    }
    /* A buffer one byte short is refused and reports the size it needs. */
    assert_int_equal(kura_sighash_segwit_v0_preimage(buf, pre_len - 1, &n, tx, &cache, idx,
                                                     script_code, sc_len, amount, ht),
                     KURA_EINVAL);
    assert_int_equal(n, pre_len);
    (void)name;
    free(pre);
}

static void test_bip143_sighashes(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bip143.json");
    json_t *ex = json_object_get(root, "examples"), *e;
    size_t i, count = 0;
    json_array_foreach(ex, i, e) {
        json_t *sh = json_object_get(e, "sighashes"), *s;
        size_t k;
        /* The sighash does not depend on scriptSigs or witnesses, so the
         * signed transaction serves where the BIP gives no unsigned one. */
        const char *hex = json_object_get(e, "unsigned_tx") != NULL ? tu_str(e, "unsigned_tx")
                                                                    : tu_str(e, "signed_tx");
        kura_tx *tx = parse_tx_hex(hex);
        json_array_foreach(sh, k, s) {
            check_bip143_entry(tx, s, tu_str(e, "name"));
            count++;
        }
        if (json_object_get(e, "intermediate") != NULL) {
            json_t *im = json_object_get(e, "intermediate");
            kura_sighash_cache cache;
            uint8_t want[32], got[32];
            assert_int_equal(kura_sighash_cache_init(&cache, tx, NULL), KURA_OK);
            tu_unhex_fixed(tu_str(im, "hash_prevouts"), want, 32);
            tu_assert_bytes_equal(cache.hash_prevouts, 32, want, 32);
            tu_unhex_fixed(tu_str(im, "hash_sequence"), want, 32);
            tu_assert_bytes_equal(cache.hash_sequence, 32, want, 32);
            tu_unhex_fixed(tu_str(im, "hash_outputs_all"), want, 32);
            tu_assert_bytes_equal(cache.hash_outputs, 32, want, 32);
            /* hash_outputs_single = SHA256d(output 0), as the preimage of
             * the SINGLE entry carries it. */
            tu_unhex_fixed(tu_str(im, "hash_outputs_single"), want, 32);
            {
                uint8_t pre[512];
                size_t n;
                uint8_t sc[1] = {0x51};
                assert_int_equal(kura_sighash_segwit_v0_preimage(pre, sizeof(pre), &n, tx, NULL,
                                                                 0, sc, 1, 0, 3),
                                 KURA_OK);
                memcpy(got, pre + 104 + 2 + 8 + 4, 32);
                tu_assert_bytes_equal(got, 32, want, 32);
            }
        }
        kura_tx_free(tx);
    }
    print_message("bip143.json: %zu sighash entries checked\n", count);
    assert_int_equal(count, 14);
    json_decref(root);
}

static void test_bip143_misuse(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bip143.json");
    kura_tx *tx = parse_tx_hex(tu_str(json_array_get(json_object_get(root, "examples"), 0),
                                      "unsigned_tx"));
    uint8_t out[32], sc[1] = {0x51};
    size_t n = 7;
    assert_int_equal(kura_sighash_segwit_v0(out, tx, NULL, 2, sc, 1, 0, 1), KURA_EINVAL);
    tu_assert_bytes_equal(out, 32, ZERO32, 32);
    assert_int_equal(kura_sighash_segwit_v0(out, NULL, NULL, 0, sc, 1, 0, 1), KURA_EINVAL);
    assert_int_equal(kura_sighash_segwit_v0(out, tx, NULL, 0, NULL, 1, 0, 1), KURA_EINVAL);
    assert_int_equal(kura_sighash_segwit_v0(NULL, tx, NULL, 0, sc, 1, 0, 1), KURA_EINVAL);
    assert_int_equal(kura_sighash_segwit_v0_preimage(NULL, 0, &n, tx, NULL, 0, sc, 1, 0, 1),
                     KURA_EINVAL);
    assert_int_equal(n, 4 + 32 + 32 + 36 + 2 + 8 + 4 + 32 + 4 + 4);
    assert_int_equal(kura_sighash_cache_init(NULL, tx, NULL), KURA_EINVAL);
    {
        kura_sighash_cache c;
        memset(&c, 0x55, sizeof(c));
        assert_int_equal(kura_sighash_cache_init(&c, NULL, NULL), KURA_EINVAL);
        assert_int_equal(c.have_v0, 0);
        assert_int_equal(c.have_taproot, 0);
    }
    kura_tx_free(tx);
    json_decref(root);
}

/* ---- legacy ---- */

/* Verifies a DER signature (with its trailing hash-type byte stripped) over
 * msg32 with a 33-byte compressed public key. */
static int ecdsa_ok(const uint8_t *der, size_t der_len, const uint8_t *pub, size_t pub_len,
                    const uint8_t msg[32])
{
    secp256k1_ecdsa_signature sig;
    secp256k1_pubkey pk;
    const secp256k1_context *ctx = secp256k1_context_static;
    if (!secp256k1_ecdsa_signature_parse_der(ctx, &sig, der, der_len)) return 0;
    secp256k1_ecdsa_signature_normalize(ctx, &sig, &sig);
    if (!secp256k1_ec_pubkey_parse(ctx, &pk, pub, pub_len)) return 0;
    return secp256k1_ecdsa_verify(ctx, &sig, msg, &pk);
}

/* Checks the legacy signature in input idx's scriptSig of a signed vector
 * transaction: a P2PK scriptSig <sig> (pubkey from the scriptPubKey) or a
 * P2PKH scriptSig <sig> <pubkey>. The script code is the spent scriptPubKey
 * (no OP_CODESEPARATOR in these). Returns 1 (for counting). */
static int check_legacy_signature(const char *signed_hex, size_t idx, const char *spk_hex)
{
    kura_tx *tx = parse_tx_hex(signed_hex);
    size_t spk_len;
    uint8_t *spk = tu_unhex(spk_hex, &spk_len);
    const kura_bytes *ss = &tx->inputs[idx].script_sig;
    const uint8_t *sig, *pub;
    size_t sig_len, pub_len;
    uint8_t h[32];
    uint32_t ht;
    assert_true(ss->len > 2 && ss->data[0] < 0x4c);
    sig_len = ss->data[0];
    sig = ss->data + 1;
    if (spk_len == 35 && spk[0] == 0x21 && spk[34] == 0xac) { /* P2PK */
        assert_int_equal(ss->len, 1 + sig_len);
        pub = spk + 1;
        pub_len = 33;
    } else { /* P2PKH */
        assert_int_equal(spk_len, 25);
        pub_len = ss->data[1 + sig_len];
        pub = ss->data + 2 + sig_len;
        assert_int_equal(ss->len, 2 + sig_len + pub_len);
    }
    ht = sig[sig_len - 1];
    assert_int_equal(kura_sighash_legacy(h, tx, idx, spk, spk_len, ht), KURA_OK);
    if (!ecdsa_ok(sig, sig_len - 1, pub, pub_len, h))
        fail_msg("legacy signature of input %zu does not verify over our sighash", idx);
    /* And a different hash type (or input) gives a hash it does not verify. */
    assert_int_equal(kura_sighash_legacy(h, tx, idx, spk, spk_len, ht ^ 0x80), KURA_OK);
    assert_false(ecdsa_ok(sig, sig_len - 1, pub, pub_len, h));
    free(spk);
    kura_tx_free(tx);
    return 1;
}

static void test_legacy_signatures(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bip143.json");
    json_t *ex = json_object_get(root, "examples");
    size_t n = 0;
    /* Native P2WPKH and Native P2WSH (OP_CODESEPARATOR): input 0 is P2PK. */
    for (size_t e = 0; e < 3; e += 2) {
        json_t *x = json_array_get(ex, e);
        json_t *in0 = json_array_get(json_object_get(x, "inputs"), 0);
        assert_string_equal(tu_str(in0, "type"), "P2PK");
        n += (size_t)check_legacy_signature(tu_str(x, "signed_tx"), 0,
                                            tu_str(in0, "script_pubkey"));
    }
    json_decref(root);
    /* BIP341's fully signed transaction: input 2 spends a P2PKH output. */
    root = tu_load_json("bip341.json");
    {
        json_t *k = json_array_get(json_object_get(root, "keyPathSpending"), 0);
        json_t *u = json_array_get(json_object_get(json_object_get(k, "given"), "utxosSpent"), 2);
        n += (size_t)check_legacy_signature(
            tu_str(json_object_get(k, "auxiliary"), "fullySignedTx"), 2, tu_str(u, "scriptPubKey"));
    }
    json_decref(root);
    print_message("legacy: %zu real ECDSA signatures verified over our sighash\n", n);
}

/* Native P2WPKH's unsigned transaction: 2 inputs with empty scriptSigs and
 * 2 outputs, so the fields sit at fixed offsets. */
#define U_IN(i) (5 + 41 * (size_t)(i)) /* outpoint of input i */

static void append(uint8_t *buf, size_t *n, const void *p, size_t len)
{
    memcpy(buf + *n, p, len);
    *n += len;
}

static void test_legacy_hand_built(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bip143.json");
    json_t *ex = json_object_get(root, "examples");
    size_t len, n;
    uint8_t *b = tu_unhex(tu_str(json_array_get(ex, 0), "unsigned_tx"), &len);
    kura_tx *tx = parse_tx_hex(tu_str(json_array_get(ex, 0), "unsigned_tx"));
    const uint8_t sc[3] = {0x51, 0x52, 0x53}; /* any script code */
    const size_t outs = U_IN(2) + 0;          /* output count byte */
    const size_t out0 = outs + 1, out0_len = 8 + 1 + b[out0 + 8];
    const size_t locktime = len - 4;
    uint8_t pre[400], want[32], got[32];
    assert_int_equal(b[4], 2);
    assert_int_equal(b[outs], 2);

    /* ALL, input 1: every input, only input 1 carries the script code. */
    n = 0;
    append(pre, &n, b, 5);
    append(pre, &n, b + U_IN(0), 41); /* outpoint, empty script, sequence */
    append(pre, &n, b + U_IN(1), 36);
    append(pre, &n, "\x03", 1);
    append(pre, &n, sc, 3);
    append(pre, &n, b + U_IN(1) + 37, 4);
    append(pre, &n, b + outs, locktime - outs + 4); /* outputs and locktime */
    append(pre, &n, "\x01\x00\x00\x00", 4);
    kura_sha256d(want, pre, n);
    assert_int_equal(kura_sighash_legacy(got, tx, 1, sc, 3, KURA_SIGHASH_ALL), KURA_OK);
    tu_assert_bytes_equal(got, 32, want, 32);

    /* NONE, input 0: no outputs, input 1's sequence zeroed. */
    n = 0;
    append(pre, &n, b, 5);
    append(pre, &n, b + U_IN(0), 36);
    append(pre, &n, "\x03", 1);
    append(pre, &n, sc, 3);
    append(pre, &n, b + U_IN(0) + 37, 4);
    append(pre, &n, b + U_IN(1), 37);
    append(pre, &n, "\x00\x00\x00\x00", 4);
    append(pre, &n, "\x00", 1);
    append(pre, &n, b + locktime, 4);
    append(pre, &n, "\x02\x00\x00\x00", 4);
    kura_sha256d(want, pre, n);
    assert_int_equal(kura_sighash_legacy(got, tx, 0, sc, 3, KURA_SIGHASH_NONE), KURA_OK);
    tu_assert_bytes_equal(got, 32, want, 32);

    /* SINGLE, input 1: outputs 0..1 with output 0 nulled (-1, empty). */
    n = 0;
    append(pre, &n, b, 5);
    append(pre, &n, b + U_IN(0), 37);
    append(pre, &n, "\x00\x00\x00\x00", 4);
    append(pre, &n, b + U_IN(1), 36);
    append(pre, &n, "\x03", 1);
    append(pre, &n, sc, 3);
    append(pre, &n, b + U_IN(1) + 37, 4);
    append(pre, &n, "\x02\xff\xff\xff\xff\xff\xff\xff\xff\x00", 10);
    append(pre, &n, b + out0 + out0_len, locktime - (out0 + out0_len)); /* output 1 */
    append(pre, &n, b + locktime, 4);
    append(pre, &n, "\x03\x00\x00\x00", 4);
    kura_sha256d(want, pre, n);
    assert_int_equal(kura_sighash_legacy(got, tx, 1, sc, 3, KURA_SIGHASH_SINGLE), KURA_OK);
    tu_assert_bytes_equal(got, 32, want, 32);

    /* ALL|ANYONECANPAY, input 1: only input 1. */
    n = 0;
    append(pre, &n, b, 4);
    append(pre, &n, "\x01", 1);
    append(pre, &n, b + U_IN(1), 36);
    append(pre, &n, "\x03", 1);
    append(pre, &n, sc, 3);
    append(pre, &n, b + U_IN(1) + 37, 4);
    append(pre, &n, b + outs, locktime - outs + 4);
    append(pre, &n, "\x81\x00\x00\x00", 4);
    kura_sha256d(want, pre, n);
    assert_int_equal(kura_sighash_legacy(got, tx, 1, sc, 3, 0x81), KURA_OK);
    tu_assert_bytes_equal(got, 32, want, 32);

    /* Misuse. */
    assert_int_equal(kura_sighash_legacy(got, tx, 2, sc, 3, 1), KURA_EINVAL);
    tu_assert_bytes_equal(got, 32, ZERO32, 32);
    assert_int_equal(kura_sighash_legacy(got, tx, 0, NULL, 3, 1), KURA_EINVAL);
    assert_int_equal(kura_sighash_legacy(got, NULL, 0, sc, 3, 1), KURA_EINVAL);
    free(b);
    kura_tx_free(tx);

    /* A one-input transaction, ALL: the preimage is the transaction itself
     * with the script code in place of the empty scriptSig, plus 01000000.
     * (P2SH-P2WPKH's unsigned tx: scriptSig length byte at offset 41.) */
    b = tu_unhex(tu_str(json_array_get(ex, 1), "unsigned_tx"), &len);
    tx = parse_tx_hex(tu_str(json_array_get(ex, 1), "unsigned_tx"));
    assert_int_equal(b[4], 1);
    assert_int_equal(b[41], 0);
    n = 0;
    append(pre, &n, b, 41);
    append(pre, &n, "\x03", 1);
    append(pre, &n, sc, 3);
    append(pre, &n, b + 42, len - 42);
    append(pre, &n, "\x01\x00\x00\x00", 4);
    kura_sha256d(want, pre, n);
    assert_int_equal(kura_sighash_legacy(got, tx, 0, sc, 3, KURA_SIGHASH_ALL), KURA_OK);
    tu_assert_bytes_equal(got, 32, want, 32);
    free(b);
    kura_tx_free(tx);
    json_decref(root);
}

static void test_legacy_single_bug(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bip143.json");
    /* Native P2WSH (OP_CODESEPARATOR): 2 inputs, 1 output. */
    kura_tx *tx = parse_tx_hex(tu_str(json_array_get(json_object_get(root, "examples"), 2),
                                      "unsigned_tx"));
    uint8_t got[32], one[32] = {1};
    uint8_t sc[1] = {0xac};
    assert_int_equal(tx->input_count, 2);
    assert_int_equal(tx->output_count, 1);
    /* SignatureHash returns uint256 1 (0x01 then 31 zero bytes) for SINGLE
     * with no output at the input's index, with or without ANYONECANPAY. */
    assert_int_equal(kura_sighash_legacy(got, tx, 1, sc, 1, KURA_SIGHASH_SINGLE), KURA_OK);
    tu_assert_bytes_equal(got, 32, one, 32);
    assert_int_equal(kura_sighash_legacy(got, tx, 1, sc, 1, 0x83), KURA_OK);
    tu_assert_bytes_equal(got, 32, one, 32);
    /* Input 0 has its output: a real hash. */
    assert_int_equal(kura_sighash_legacy(got, tx, 0, sc, 1, KURA_SIGHASH_SINGLE), KURA_OK);
    assert_true(memcmp(got, one, 32) != 0);
    /* BIP143 has no such bug: hashOutputs is zero and the hash is real (the
     * BIP's own entry for this case is checked in test_bip143_sighashes). */
    assert_int_equal(kura_sighash_segwit_v0(got, tx, NULL, 1, sc, 1, 1, KURA_SIGHASH_SINGLE),
                     KURA_OK);
    assert_true(memcmp(got, one, 32) != 0);
    kura_tx_free(tx);
    json_decref(root);
}

/* ---- BIP341 ---- */

typedef struct tr_fixture {
    json_t *root, *kps;
    kura_tx *tx;
    kura_txout *spent;
    size_t n_spent;
} tr_fixture;

static void tr_load(tr_fixture *f)
{
    json_t *utxos, *u;
    size_t i;
    f->root = tu_load_json("bip341.json");
    f->kps = json_array_get(json_object_get(f->root, "keyPathSpending"), 0);
    f->tx = parse_tx_hex(tu_str(json_object_get(f->kps, "given"), "rawUnsignedTx"));
    utxos = json_object_get(json_object_get(f->kps, "given"), "utxosSpent");
    f->n_spent = json_array_size(utxos);
    assert_int_equal(f->n_spent, f->tx->input_count);
    f->spent = calloc(f->n_spent, sizeof(*f->spent));
    assert_non_null(f->spent);
    json_array_foreach(utxos, i, u) {
        f->spent[i].amount = (uint64_t)json_integer_value(json_object_get(u, "amountSats"));
        f->spent[i].script_pubkey.data = tu_unhex(tu_str(u, "scriptPubKey"),
                                                  &f->spent[i].script_pubkey.len);
    }
}

static void tr_free(tr_fixture *f)
{
    for (size_t i = 0; i < f->n_spent; i++) free(f->spent[i].script_pubkey.data);
    free(f->spent);
    kura_tx_free(f->tx);
    json_decref(f->root);
}

/* The cache field each "precomputedUsed" name refers to. */
static uint8_t *cache_field(kura_sighash_cache *c, const char *name)
{
    if (strcmp(name, "hashPrevouts") == 0) return c->sha_prevouts;
    if (strcmp(name, "hashAmounts") == 0) return c->sha_amounts;
    if (strcmp(name, "hashScriptPubkeys") == 0) return c->sha_scriptpubkeys;
    if (strcmp(name, "hashSequences") == 0) return c->sha_sequences;
    if (strcmp(name, "hashOutputs") == 0) return c->sha_outputs;
    fail_msg("unknown precomputed name %s", name);
    return NULL;
}

static const char *const TR_FIELDS[] = {"hashPrevouts", "hashAmounts", "hashScriptPubkeys",
                                        "hashSequences", "hashOutputs"};

static void test_bip341_intermediary(void **state)
{
    (void)state;
    tr_fixture f;
    kura_sighash_cache cache;
    json_t *im;
    uint8_t want[32];
    tr_load(&f);
    im = json_object_get(f.kps, "intermediary");
    assert_int_equal(kura_sighash_cache_init(&cache, f.tx, f.spent), KURA_OK);
    assert_int_equal(cache.have_taproot, 1);
    assert_int_equal(cache.have_v0, 1);
    for (size_t i = 0; i < 5; i++) {
        tu_unhex_fixed(tu_str(im, TR_FIELDS[i]), want, 32);
        tu_assert_bytes_equal(cache_field(&cache, TR_FIELDS[i]), 32, want, 32);
    }
    /* BIP143's midstates are SHA256 of BIP341's (the same bytes, SHA256d). */
    kura_sha256(want, cache.sha_prevouts, 32);
    tu_assert_bytes_equal(cache.hash_prevouts, 32, want, 32);
    kura_sha256(want, cache.sha_outputs, 32);
    tu_assert_bytes_equal(cache.hash_outputs, 32, want, 32);
    /* Without spent outputs only the BIP143 part is marked filled. */
    assert_int_equal(kura_sighash_cache_init(&cache, f.tx, NULL), KURA_OK);
    assert_int_equal(cache.have_taproot, 0);
    assert_int_equal(cache.have_v0, 1);
    tr_free(&f);
}

static void test_bip341_key_path(void **state)
{
    (void)state;
    tr_fixture f;
    kura_sighash_cache cache;
    json_t *ins, *in;
    size_t i, count = 0;
    tr_load(&f);
    assert_int_equal(kura_sighash_cache_init(&cache, f.tx, f.spent), KURA_OK);
    ins = json_object_get(f.kps, "inputSpending");
    json_array_foreach(ins, i, in) {
        json_t *g = json_object_get(in, "given"), *im = json_object_get(in, "intermediary");
        size_t idx = (size_t)json_integer_value(json_object_get(g, "txinIndex"));
        uint32_t ht = (uint32_t)json_integer_value(json_object_get(g, "hashType"));
        size_t msg_len, n;
        uint8_t *msg = tu_unhex(tu_str(im, "sigMsg"), &msg_len);
        uint8_t want[32], got[32], buf[400];
        json_t *used = json_object_get(im, "precomputedUsed");
        tu_unhex_fixed(tu_str(im, "sigHash"), want, 32);

        /* The SigMsg, byte for byte. */
        assert_int_equal(kura_sighash_taproot_sigmsg(buf, sizeof(buf), &n, f.tx, &cache, f.spent,
                                                     idx, ht, NULL, 0xffffffffu, NULL, 0),
                         KURA_OK);
        tu_assert_bytes_equal(buf, n, msg, msg_len);
        /* The vector's own link: sigHash = hash_TapSighash(sigMsg), where
         * sigMsg starts with the epoch 0x00. */
        assert_int_equal(msg[0], 0x00);
        kura_tagged_hash(got, "TapSighash", msg, msg_len);
        tu_assert_bytes_equal(got, 32, want, 32);

        /* The sigHash with the cache and without. */
        assert_int_equal(kura_sighash_taproot(got, f.tx, &cache, f.spent, idx, ht, NULL,
                                              0xffffffffu, NULL, 0),
                         KURA_OK);
        tu_assert_bytes_equal(got, 32, want, 32);
        memset(got, 0, 32);
        assert_int_equal(kura_sighash_taproot(got, f.tx, NULL, f.spent, idx, ht, NULL, 0xffffffffu,
                                              NULL, 0),
                         KURA_OK);
        tu_assert_bytes_equal(got, 32, want, 32);

        /* precomputedUsed: spoiling any other cached value changes nothing,
         * spoiling a listed one changes the hash. */
        for (size_t fi = 0; fi < 5; fi++) {
            kura_sighash_cache bad = cache;
            bool listed = false;
            size_t k;
            json_t *u;
            json_array_foreach(used, k, u) {
                if (strcmp(json_string_value(u), TR_FIELDS[fi]) == 0) listed = true;
            }
            memset(cache_field(&bad, TR_FIELDS[fi]), 0xaa, 32);
            assert_int_equal(kura_sighash_taproot(got, f.tx, &bad, f.spent, idx, ht, NULL,
                                                  0xffffffffu, NULL, 0),
                             KURA_OK);
            if (listed) assert_true(memcmp(got, want, 32) != 0);
            else tu_assert_bytes_equal(got, 32, want, 32);
        }
        free(msg);
        count++;
    }
    print_message("bip341.json: %zu key-path inputs (SigMsg, sigHash, precomputedUsed)\n", count);
    assert_int_equal(count, 7);
    tr_free(&f);
}

/* Script path and annex, against messages assembled by hand from the
 * key-path sigMsg of the vectors, following BIP341 ("spend_type", "sha_annex") and
 * BIP342 (the extension: tapleaf_hash, key_version 0x00, codesep_pos). */
static void check_ext(tr_fixture *f, const kura_sighash_cache *cache, size_t vec)
{
    json_t *in = json_array_get(json_object_get(f->kps, "inputSpending"), vec);
    json_t *g = json_object_get(in, "given");
    size_t idx = (size_t)json_integer_value(json_object_get(g, "txinIndex"));
    uint32_t ht = (uint32_t)json_integer_value(json_object_get(g, "hashType"));
    size_t msg_len, n, spend_at, input_end, exp_len;
    uint8_t *msg = tu_unhex(tu_str(json_object_get(in, "intermediary"), "sigMsg"), &msg_len);
    uint8_t leaf[32], annex[5] = {0x50, 1, 2, 3, 4}, sha_annex[32], exp[500], buf[500], want[32],
                      got[32];
    bool acp = (ht & 0x80) != 0;
    uint32_t base = ht & 3;
    for (size_t k = 0; k < 32; k++) leaf[k] = (uint8_t)(0xc0 + k);
    /* spend_type sits after the epoch (1), control (1), version and
     * locktime (8), the four sha_* (128, unless ANYONECANPAY) and sha_outputs
     * (32, ALL only). */
    spend_at = 10u + (acp ? 0u : 128u) + ((base == 0 || base == 1) ? 32u : 0u);
    assert_int_equal(msg[spend_at], 0x00);
    input_end = spend_at + 1 + (acp ? 36 + 8 + 1 + f->spent[idx].script_pubkey.len + 4 : 4);
    {
        /* sha_annex = SHA256(compact_size(5) || annex). */
        uint8_t ser[6] = {5, 0x50, 1, 2, 3, 4};
        kura_sha256(sha_annex, ser, 6);
    }
    exp_len = 0;
    memcpy(exp, msg, input_end);
    exp_len = input_end;
    exp[spend_at] = 0x03; /* ext_flag 1, annex present */
    memcpy(exp + exp_len, sha_annex, 32);
    exp_len += 32;
    memcpy(exp + exp_len, msg + input_end, msg_len - input_end); /* sha_single_output, if any */
    exp_len += msg_len - input_end;
    memcpy(exp + exp_len, leaf, 32);
    exp_len += 32;
    exp[exp_len++] = 0x00;                                 /* key_version */
    memcpy(exp + exp_len, "\x07\x00\x00\x00", 4);          /* codesep_pos 7 */
    exp_len += 4;

    assert_int_equal(kura_sighash_taproot_sigmsg(buf, sizeof(buf), &n, f->tx, cache, f->spent,
                                                 idx, ht, leaf, 7, annex, sizeof(annex)),
                     KURA_OK);
    tu_assert_bytes_equal(buf, n, exp, exp_len);
    kura_tagged_hash(want, "TapSighash", exp, exp_len);
    assert_int_equal(kura_sighash_taproot(got, f->tx, cache, f->spent, idx, ht, leaf, 7, annex,
                                          sizeof(annex)),
                     KURA_OK);
    tu_assert_bytes_equal(got, 32, want, 32);
    assert_int_equal(kura_sighash_taproot(got, f->tx, NULL, f->spent, idx, ht, leaf, 7, annex,
                                          sizeof(annex)),
                     KURA_OK);
    tu_assert_bytes_equal(got, 32, want, 32);

    /* Script path without annex: spend_type 2, no sha_annex. */
    memcpy(exp, msg, msg_len);
    exp[spend_at] = 0x02;
    exp_len = msg_len;
    memcpy(exp + exp_len, leaf, 32);
    exp_len += 32;
    exp[exp_len++] = 0x00;
    memcpy(exp + exp_len, "\xff\xff\xff\xff", 4);
    exp_len += 4;
    assert_int_equal(kura_sighash_taproot_sigmsg(buf, sizeof(buf), &n, f->tx, cache, f->spent,
                                                 idx, ht, leaf, 0xffffffffu, NULL, 0),
                     KURA_OK);
    tu_assert_bytes_equal(buf, n, exp, exp_len);

    /* Key path with annex: spend_type 1. */
    memcpy(exp, msg, input_end);
    exp[spend_at] = 0x01;
    exp_len = input_end;
    memcpy(exp + exp_len, sha_annex, 32);
    exp_len += 32;
    memcpy(exp + exp_len, msg + input_end, msg_len - input_end);
    exp_len += msg_len - input_end;
    assert_int_equal(kura_sighash_taproot_sigmsg(buf, sizeof(buf), &n, f->tx, cache, f->spent,
                                                 idx, ht, NULL, 0xffffffffu, annex, sizeof(annex)),
                     KURA_OK);
    tu_assert_bytes_equal(buf, n, exp, exp_len);
    free(msg);
}

static void test_bip341_script_path_and_annex(void **state)
{
    (void)state;
    tr_fixture f;
    kura_sighash_cache cache;
    tr_load(&f);
    assert_int_equal(kura_sighash_cache_init(&cache, f.tx, f.spent), KURA_OK);
    for (size_t v = 0; v < 7; v++) check_ext(&f, &cache, v); /* every type in the vectors */
    tr_free(&f);
}

static void test_bip341_refusals(void **state)
{
    (void)state;
    tr_fixture f;
    kura_sighash_cache cache;
    uint8_t got[32], buf[400];
    size_t n;
    static const uint32_t bad_types[] = {0x04, 0x84, 0x80, 0x05, 0x40, 0x41, 0x7f, 0xff, 0x100,
                                         0x101, 0x181, 0xffffffffu};
    uint8_t bad_annex[2] = {0x51, 0x00};
    tr_load(&f);
    assert_int_equal(kura_sighash_cache_init(&cache, f.tx, f.spent), KURA_OK);
    for (size_t i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
        memset(got, 0x11, 32);
        assert_int_equal(kura_sighash_taproot(got, f.tx, &cache, f.spent, 0, bad_types[i], NULL,
                                              0xffffffffu, NULL, 0),
                         KURA_EINVAL);
        tu_assert_bytes_equal(got, 32, ZERO32, 32);
        assert_int_equal(kura_sighash_taproot_sigmsg(buf, sizeof(buf), &n, f.tx, &cache, f.spent,
                                                     0, bad_types[i], NULL, 0xffffffffu, NULL, 0),
                         KURA_EINVAL);
    }
    /* Every valid type is accepted on an input that has an output. */
    {
        static const uint32_t good[] = {0x00, 0x01, 0x02, 0x03, 0x81, 0x82, 0x83};
        for (size_t i = 0; i < 7; i++)
            assert_int_equal(kura_sighash_taproot(got, f.tx, &cache, f.spent, 1, good[i], NULL,
                                                  0xffffffffu, NULL, 0),
                             KURA_OK);
    }
    /* SINGLE with no output at the input's index (2 outputs, input 3). */
    assert_int_equal(f.tx->output_count, 2);
    assert_int_equal(kura_sighash_taproot(got, f.tx, &cache, f.spent, 3, 0x03, NULL, 0xffffffffu,
                                          NULL, 0),
                     KURA_EINVAL);
    assert_int_equal(kura_sighash_taproot(got, f.tx, NULL, f.spent, 3, 0x83, NULL, 0xffffffffu,
                                          NULL, 0),
                     KURA_EINVAL);
    /* Annex not starting with 0x50, or empty. */
    assert_int_equal(kura_sighash_taproot(got, f.tx, &cache, f.spent, 0, 1, NULL, 0xffffffffu,
                                          bad_annex, 2),
                     KURA_EINVAL);
    assert_int_equal(kura_sighash_taproot(got, f.tx, &cache, f.spent, 0, 1, NULL, 0xffffffffu,
                                          bad_annex, 0),
                     KURA_EINVAL);
    /* Missing spent outputs, index out of range, NULL tx. */
    assert_int_equal(kura_sighash_taproot(got, f.tx, &cache, NULL, 0, 1, NULL, 0xffffffffu, NULL,
                                          0),
                     KURA_EINVAL);
    assert_int_equal(kura_sighash_taproot(got, f.tx, &cache, f.spent, 9, 1, NULL, 0xffffffffu,
                                          NULL, 0),
                     KURA_EINVAL);
    assert_int_equal(kura_sighash_taproot(got, NULL, &cache, f.spent, 0, 1, NULL, 0xffffffffu,
                                          NULL, 0),
                     KURA_EINVAL);
    /* Too small a buffer for the SigMsg. */
    assert_int_equal(kura_sighash_taproot_sigmsg(buf, 10, &n, f.tx, &cache, f.spent, 0, 1, NULL,
                                                 0xffffffffu, NULL, 0),
                     KURA_EINVAL);
    assert_int_equal(n, 1 + 1 + 8 + 160 + 1 + 4);
    tr_free(&f);
}

/* A 100-input transaction: the cached and uncached paths agree for every
 * input and type (the benchmark signs such PSBTs through the cache). */
static void test_many_inputs_cache_agrees(void **state)
{
    (void)state;
    kura_tx *tx = kura_tx_new();
    kura_txout spent[100];
    uint8_t spk[34] = {0x51, 0x20};
    kura_sighash_cache cache;
    static const uint32_t types[] = {0x00, 0x01, 0x02, 0x03, 0x81, 0x82, 0x83};
    for (size_t i = 0; i < 100; i++) {
        uint8_t txid[32];
        memset(txid, (int)i, 32);
        assert_int_equal(kura_tx_add_input(tx, txid, (uint32_t)i, 0xfffffffd, NULL, 0), KURA_OK);
        spk[2 + i % 32] = (uint8_t)i;
        spent[i].amount = 1000 + i;
        spent[i].script_pubkey.data = malloc(34);
        memcpy(spent[i].script_pubkey.data, spk, 34);
        spent[i].script_pubkey.len = 34;
        assert_int_equal(kura_tx_add_output(tx, 500 + i, spk, 34), KURA_OK);
    }
    assert_int_equal(kura_sighash_cache_init(&cache, tx, spent), KURA_OK);
    for (size_t i = 0; i < 100; i += 7) {
        for (size_t t = 0; t < 7; t++) {
            uint8_t a[32], b[32];
            assert_int_equal(kura_sighash_taproot(a, tx, &cache, spent, i, types[t], NULL,
                                                  0xffffffffu, NULL, 0),
                             KURA_OK);
            assert_int_equal(kura_sighash_taproot(b, tx, NULL, spent, i, types[t], NULL,
                                                  0xffffffffu, NULL, 0),
                             KURA_OK);
            tu_assert_bytes_equal(a, 32, b, 32);
            assert_int_equal(kura_sighash_segwit_v0(a, tx, &cache, i, spk, 34, 1000 + i,
                                                    types[t] == 0 ? 1 : types[t]),
                             KURA_OK);
            assert_int_equal(kura_sighash_segwit_v0(b, tx, NULL, i, spk, 34, 1000 + i,
                                                    types[t] == 0 ? 1 : types[t]),
                             KURA_OK);
            tu_assert_bytes_equal(a, 32, b, 32);
        }
    }
    for (size_t i = 0; i < 100; i++) free(spent[i].script_pubkey.data);
    kura_tx_free(tx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bip143_sighashes),
        cmocka_unit_test(test_bip143_misuse),
        cmocka_unit_test(test_legacy_signatures),
        cmocka_unit_test(test_legacy_hand_built),
        cmocka_unit_test(test_legacy_single_bug),
        cmocka_unit_test(test_bip341_intermediary),
        cmocka_unit_test(test_bip341_key_path),
        cmocka_unit_test(test_bip341_script_path_and_annex),
        cmocka_unit_test(test_bip341_refusals),
        cmocka_unit_test(test_many_inputs_cache_agrees),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
