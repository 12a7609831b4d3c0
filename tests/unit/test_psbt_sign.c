/* PSBT signing and finalizing for kura's wallet types, built here from known
 * keys: P2TR key path, P2TR script path with sortedmulti_a leaves, P2WSH
 * 2-of-3 sortedmulti (two signers, combined), P2PKH and P2SH-P2WPKH. Every
 * signature is checked with kura_schnorr_verify / kura_ecdsa_verify against
 * the sighash of the extracted transaction, and every final witness is
 * checked item by item against what BIP141/BIP341/BIP342 require. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kura/hash.h"
#include "kura/keys.h"
#include "kura/psbt.h"
#include "kura/script.h"
#include "kura/sighash.h"
#include "testutil.h"

static kura_ctx *ctx;
static kura_bip32_key master[3]; /* three cosigners A, B, C */
static uint8_t fps[3][4];

/* The BIP341 NUMS point: an internal key nobody can sign for. */
static const char *NUMS = "50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0";

static int setup(void **state)
{
    (void)state;
    ctx = kura_ctx_new();
    if (ctx == NULL) return -1;
    for (int i = 0; i < 3; i++) {
        uint8_t seed[32];
        memset(seed, 0x11 * (i + 1), sizeof(seed));
        if (kura_bip32_from_seed(ctx, &master[i], seed, 32, KURA_NETWORK_TESTNET) != KURA_OK)
            return -1;
        if (kura_bip32_fingerprint(fps[i], &master[i]) != KURA_OK) return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) kura_bip32_wipe(&master[i]);
    kura_ctx_free(ctx);
    return 0;
}

static void derive(kura_bip32_key *out, int who, const char *path_str, uint32_t *path,
                   size_t *path_len)
{
    assert_int_equal(kura_bip32_path_parse(path, 10, path_len, path_str, NULL), KURA_OK);
    assert_int_equal(kura_bip32_derive_path(ctx, out, &master[who], path, *path_len), KURA_OK);
}

static kura_psbt *make_psbt(size_t n_in, const uint64_t *out_amounts, size_t n_out,
                            uint32_t version)
{
    kura_tx *tx = kura_tx_new();
    kura_psbt *p = NULL;
    uint8_t spk[22] = {0x00, 0x14};
    for (size_t i = 0; i < n_in; i++) {
        uint8_t txid[32];
        memset(txid, (int)(0xa0 + i % 16), 32);
        txid[0] = (uint8_t)i;
        txid[1] = (uint8_t)(i >> 8);
        assert_int_equal(kura_tx_add_input(tx, txid, (uint32_t)i, 0xfffffffdu, NULL, 0), KURA_OK);
    }
    for (size_t i = 0; i < n_out; i++) {
        spk[2] = (uint8_t)i;
        assert_int_equal(kura_tx_add_output(tx, out_amounts[i], spk, 22), KURA_OK);
    }
    tx->locktime = 850000;
    assert_int_equal(kura_psbt_from_tx(&p, tx, version, NULL), KURA_OK);
    kura_tx_free(tx);
    return p;
}

/* The spent outputs of every input, as the witness UTXOs say (for checking). */
static kura_txout *spent_of(const kura_psbt *p)
{
    kura_txout *s = calloc(p->input_count, sizeof(*s));
    assert_non_null(s);
    for (size_t i = 0; i < p->input_count; i++) {
        assert_true(p->inputs[i].has_witness_utxo);
        s[i] = p->inputs[i].witness_utxo;
    }
    return s;
}

#define assert_schnorr_valid(...) assert_schnorr_valid_at(__LINE__, __VA_ARGS__)
static void assert_schnorr_valid_at(int line, const kura_tx *tx, const kura_txout *spent, size_t i,
                                    const uint8_t *sig, size_t sig_len, const uint8_t *leaf_hash,
                                    const uint8_t xonly[32])
{
    uint8_t h[32];
    uint32_t type = sig_len == 65 ? sig[64] : KURA_SIGHASH_DEFAULT;
    if (sig_len != 64 && sig_len != 65) fail_msg("line %d: signature of %zu bytes", line, sig_len);
    if (kura_sighash_taproot(h, tx, NULL, spent, i, type, leaf_hash, 0xffffffffu, NULL, 0) !=
        KURA_OK)
        fail_msg("line %d: sighash failed", line);
    if (kura_schnorr_verify(ctx, sig, h, 32, xonly) != KURA_OK)
        fail_msg("line %d: signature does not verify", line);
    /* And not for another message. */
    h[0] ^= 1;
    if (kura_schnorr_verify(ctx, sig, h, 32, xonly) != KURA_EDATA)
        fail_msg("line %d: signature verifies for another message", line);
}

/* ---- P2TR key path (with a P2WPKH input beside it) ---- */

static void run_keypath(uint32_t version)
{
    const uint64_t outs[1] = {140000};
    kura_psbt *p = make_psbt(2, outs, 1, version);
    kura_bip32_key k0, k1;
    uint32_t path0[10], path1[10];
    size_t pl0, pl1, count = 0;
    uint8_t q[32], spk0[34], spk1[22], h160[20];
    size_t w;
    kura_error err;
    kura_tx *tx = NULL;
    kura_txout *spent;

    derive(&k0, 0, "m/86h/1h/0h/0/0", path0, &pl0);
    derive(&k1, 0, "m/84h/1h/0h/0/0", path1, &pl1);
    assert_int_equal(kura_taproot_tweak_pubkey(ctx, q, NULL, k0.pub + 1, NULL), KURA_OK);
    assert_int_equal(kura_script_p2tr(spk0, sizeof(spk0), &w, q), KURA_OK);
    assert_int_equal(kura_hash160(h160, k1.pub, 33), KURA_OK);
    assert_int_equal(kura_script_p2wpkh(spk1, sizeof(spk1), &w, h160), KURA_OK);
    assert_int_equal(kura_psbt_input_set_witness_utxo(p, 0, 100000, spk0, 34), KURA_OK);
    assert_int_equal(kura_psbt_input_set_tap_internal_key(p, 0, k0.pub + 1), KURA_OK);
    assert_int_equal(kura_psbt_input_add_tap_bip32(p, 0, k0.pub + 1, NULL, 0, fps[0], path0, pl0),
                     KURA_OK);

    /* Without input 1's UTXO no BIP341 signature can be made. */
    assert_int_equal(kura_psbt_sign_input(ctx, p, 0, k0.priv, 0, &err), KURA_EDATA);
    assert_non_null(strstr(err.message, "every input's spent output"));
    assert_int_equal(p->inputs[0].tap_key_sig_len, 0);

    assert_int_equal(kura_psbt_input_set_witness_utxo(p, 1, 50000, spk1, 22), KURA_OK);
    assert_int_equal(kura_psbt_input_add_bip32(p, 1, k1.pub, 33, fps[0], path1, pl1), KURA_OK);

    /* A merkle root the output key does not commit to: refused. */
    {
        uint8_t bogus[32] = {1};
        assert_int_equal(kura_psbt_input_set_tap_merkle_root(p, 0, bogus), KURA_OK);
        assert_int_equal(kura_psbt_sign_input(ctx, p, 0, k0.priv, 0, &err), KURA_EDATA);
        assert_non_null(strstr(err.message, "tweaked"));
        p->inputs[0].has_tap_merkle_root = 0;
    }
    /* Another key has no part in input 0. */
    assert_int_equal(kura_psbt_sign_input(ctx, p, 0, k1.priv, 0, &err), KURA_ENOTFOUND);
    /* Unknown signing flags are misuse. */
    assert_int_equal(kura_psbt_sign_input(ctx, p, 0, k0.priv, 0x80u, &err), KURA_EINVAL);
    assert_int_equal(kura_psbt_sign_bip32(ctx, p, &count, &master[0], 0x80u, &err), KURA_EINVAL);
    /* A tap BIP32 record whose path does not derive its (internal) key is
     * refused even without KURA_PSBT_SIGN_VERIFY: the keypair's x-only key is
     * compared with the record. */
    {
        kura_psbt *c = NULL;
        assert_int_equal(kura_psbt_clone(&c, p), KURA_OK);
        c->inputs[0].tap_bip32[0].origin.path[4] ^= 1; /* .../0/0 -> .../0/1 */
        assert_int_equal(kura_psbt_sign_bip32(ctx, c, &count, &master[0], 0, &err), KURA_EDATA);
        assert_non_null(strstr(err.message, "not the recorded key"));
        assert_int_equal(count, 0);
        assert_int_equal(c->inputs[0].tap_key_sig_len, 0);
        assert_int_equal(c->inputs[1].partial_sig_count, 0);
        kura_psbt_free(c);
    }
    /* With KURA_PSBT_SIGN_VERIFY: the same signatures, each verified first. */
    {
        kura_psbt *c = NULL;
        assert_int_equal(kura_psbt_clone(&c, p), KURA_OK);
        assert_int_equal(kura_psbt_sign_bip32(ctx, c, &count, &master[0], KURA_PSBT_SIGN_VERIFY,
                                              &err),
                         KURA_OK);
        assert_int_equal(count, 2);
        assert_int_equal(kura_psbt_unsigned_tx(&tx, c, NULL), KURA_OK);
        spent = spent_of(c);
        assert_int_equal(c->inputs[0].tap_key_sig_len, 64);
        assert_schnorr_valid(tx, spent, 0, c->inputs[0].tap_key_sig, 64, NULL, q);
        free(spent);
        kura_tx_free(tx);
        tx = NULL;
        assert_int_equal(kura_psbt_sign_input(ctx, c, 0, k0.priv, KURA_PSBT_SIGN_VERIFY, &err),
                         KURA_OK);
        assert_int_equal(kura_psbt_sign_input(ctx, c, 1, k1.priv,
                                              KURA_PSBT_SIGN_VERIFY | KURA_PSBT_SIGN_ANY_SIGHASH,
                                              &err),
                         KURA_OK);
        kura_psbt_free(c);
    }

    assert_int_equal(kura_psbt_sign_bip32(ctx, p, &count, &master[0], 0, &err), KURA_OK);
    assert_int_equal(count, 2);
    assert_int_equal(p->inputs[0].tap_key_sig_len, 64); /* SIGHASH_DEFAULT */
    assert_int_equal(p->inputs[1].partial_sig_count, 1);

    assert_int_equal(kura_psbt_unsigned_tx(&tx, p, NULL), KURA_OK);
    spent = spent_of(p);
    assert_schnorr_valid(tx, spent, 0, p->inputs[0].tap_key_sig, 64, NULL, q);
    {
        uint8_t h[32], code[25];
        const kura_psbt_partial_sig *ps = &p->inputs[1].partial_sigs[0];
        assert_int_equal(kura_script_p2pkh(code, sizeof(code), &w, h160), KURA_OK);
        assert_int_equal(kura_sighash_segwit_v0(h, tx, NULL, 1, code, 25, 50000, KURA_SIGHASH_ALL),
                         KURA_OK);
        assert_memory_equal(ps->pubkey, k1.pub, 33);
        assert_int_equal(ps->sig[ps->sig_len - 1], KURA_SIGHASH_ALL);
        assert_int_equal(kura_ecdsa_verify(ctx, k1.pub, 33, h, ps->sig, ps->sig_len - 1), KURA_OK);
    }
    kura_tx_free(tx);
    tx = NULL;

    /* An explicit SIGHASH_ALL gives a 65-byte signature ending in 0x01. */
    {
        kura_psbt *c = NULL;
        assert_int_equal(kura_psbt_clone(&c, p), KURA_OK);
        assert_int_equal(kura_psbt_input_set_sighash_type(c, 0, KURA_SIGHASH_ALL), KURA_OK);
        assert_int_equal(kura_psbt_sign_input(ctx, c, 0, k0.priv, 0, &err), KURA_OK);
        assert_int_equal(c->inputs[0].tap_key_sig_len, 65);
        assert_int_equal(c->inputs[0].tap_key_sig[64], KURA_SIGHASH_ALL);
        assert_int_equal(kura_psbt_unsigned_tx(&tx, c, NULL), KURA_OK);
        assert_schnorr_valid(tx, spent, 0, c->inputs[0].tap_key_sig, 65, NULL, q);
        kura_tx_free(tx);
        tx = NULL;
        kura_psbt_free(c);
    }

    /* A 65-byte key signature with type 0x00 is invalid (BIP341): not finalized. */
    {
        kura_psbt *c = NULL;
        assert_int_equal(kura_psbt_clone(&c, p), KURA_OK);
        c->inputs[0].tap_key_sig[64] = 0x00;
        c->inputs[0].tap_key_sig_len = 65;
        assert_int_equal(kura_psbt_finalize(c, &err), KURA_EDATA);
        kura_psbt_free(c);
    }
    assert_int_equal(kura_psbt_finalize(p, &err), KURA_OK);
    /* Finalizing cleared the non-final fields and kept the UTXOs. */
    assert_int_equal(p->inputs[0].has_tap_internal_key, 0);
    assert_int_equal(p->inputs[0].tap_bip32_count, 0);
    assert_int_equal(p->inputs[0].tap_key_sig_len, 0);
    assert_int_equal(p->inputs[1].partial_sig_count, 0);
    assert_true(p->inputs[0].has_witness_utxo);
    assert_int_equal(kura_psbt_extract(&tx, p, &err), KURA_OK);
    assert_int_equal(tx->inputs[0].witness_count, 1);
    assert_int_equal(tx->inputs[0].witness[0].len, 64);
    assert_schnorr_valid(tx, spent, 0, tx->inputs[0].witness[0].data, 64, NULL, q);
    assert_int_equal(tx->inputs[0].script_sig.len, 0);
    assert_int_equal(tx->inputs[1].witness_count, 2);
    assert_int_equal(tx->inputs[1].witness[1].len, 33);
    assert_memory_equal(tx->inputs[1].witness[1].data, k1.pub, 33);
    assert_int_equal(tx->locktime, 850000);
    kura_tx_free(tx);
    free(spent);
    kura_bip32_wipe(&k0);
    kura_bip32_wipe(&k1);
    kura_psbt_free(p);
}

static void test_p2tr_keypath_v0(void **state)
{
    (void)state;
    run_keypath(0);
}

static void test_p2tr_keypath_v2(void **state)
{
    (void)state;
    run_keypath(2);
}

/* ---- P2TR script path: sortedmulti_a 2-of-3 and 2-of-2 leaves ---- */

typedef struct tap_setup {
    kura_psbt *p;
    uint8_t x[3][32];      /* x-only keys of A, B, C */
    uint8_t leaf[2][200];  /* leaf 0: sortedmulti_a(2, A, B, C); leaf 1: sortedmulti_a(2, A, C) */
    size_t leaf_len[2];
    uint8_t lh[2][32];
    uint8_t control[2][65];
    uint8_t q[32];
    uint8_t priv[3][32];
} tap_setup;

static void tap_build(tap_setup *t)
{
    uint8_t nums[32], root[32], spk[34], keys[96];
    uint32_t path[10];
    size_t pl, w;
    int parity = 0;
    const uint64_t outs[1] = {90000};
    memset(t, 0, sizeof(*t));
    tu_unhex_fixed(NUMS, nums, 32);
    for (int i = 0; i < 3; i++) {
        kura_bip32_key k;
        derive(&k, i, "m/87h/1h/0h/0/3", path, &pl);
        memcpy(t->x[i], k.pub + 1, 32);
        memcpy(t->priv[i], k.priv, 32);
        kura_bip32_wipe(&k);
    }
    memcpy(keys, t->x[0], 32);
    memcpy(keys + 32, t->x[1], 32);
    memcpy(keys + 64, t->x[2], 32);
    assert_int_equal(kura_script_multi_a(t->leaf[0], 200, &t->leaf_len[0], 2, keys, 3, 1), KURA_OK);
    memcpy(keys + 32, t->x[2], 32);
    assert_int_equal(kura_script_multi_a(t->leaf[1], 200, &t->leaf_len[1], 2, keys, 2, 1), KURA_OK);
    for (int l = 0; l < 2; l++) kura_tapleaf_hash(t->lh[l], 0xc0, t->leaf[l], t->leaf_len[l]);
    kura_tapbranch_hash(root, t->lh[0], t->lh[1]);
    assert_int_equal(kura_taproot_tweak_pubkey(ctx, t->q, &parity, nums, root), KURA_OK);
    for (int l = 0; l < 2; l++) {
        t->control[l][0] = (uint8_t)(0xc0 | parity);
        memcpy(t->control[l] + 1, nums, 32);
        memcpy(t->control[l] + 33, t->lh[1 - l], 32); /* the sibling */
    }
    t->p = make_psbt(1, outs, 1, 0);
    assert_int_equal(kura_script_p2tr(spk, sizeof(spk), &w, t->q), KURA_OK);
    assert_int_equal(kura_psbt_input_set_witness_utxo(t->p, 0, 100000, spk, 34), KURA_OK);
    assert_int_equal(kura_psbt_input_set_tap_internal_key(t->p, 0, nums), KURA_OK);
    assert_int_equal(kura_psbt_input_set_tap_merkle_root(t->p, 0, root), KURA_OK);
    for (int l = 0; l < 2; l++)
        assert_int_equal(kura_psbt_input_add_tap_leaf_script(t->p, 0, t->control[l], 65, t->leaf[l],
                                                             t->leaf_len[l], 0xc0),
                         KURA_OK);
    for (int i = 0; i < 3; i++) {
        uint8_t lhs[64];
        size_t n = 0;
        memcpy(lhs, t->lh[0], 32);
        n = 1;
        if (i != 1) { /* B is not in leaf 1 */
            memcpy(lhs + 32, t->lh[1], 32);
            n = 2;
        }
        assert_int_equal(kura_bip32_path_parse(path, 10, &pl, "m/87h/1h/0h/0/3", NULL), KURA_OK);
        assert_int_equal(kura_psbt_input_add_tap_bip32(t->p, 0, t->x[i], lhs, n, fps[i], path, pl),
                         KURA_OK);
    }
}

/* Position of key x in a sorted multi_a leaf's key order. */
static size_t key_pos(const uint8_t *leaf, size_t leaf_len, const uint8_t x[32])
{
    for (size_t pos = 0, k = 0; pos + 33 <= leaf_len; pos += 34, k++)
        if (leaf[pos] == 32 && memcmp(leaf + pos + 1, x, 32) == 0) return k;
    fail_msg("key not in leaf");
    return 0;
}

static void verify_script_sigs(const kura_psbt *p, const tap_setup *t)
{
    kura_tx *tx = NULL;
    kura_txout *spent = spent_of(p);
    assert_int_equal(kura_psbt_unsigned_tx(&tx, p, NULL), KURA_OK);
    for (size_t i = 0; i < p->inputs[0].tap_script_sig_count; i++) {
        const kura_psbt_tap_script_sig *s = &p->inputs[0].tap_script_sigs[i];
        assert_true(memcmp(s->leaf_hash, t->lh[0], 32) == 0 ||
                    memcmp(s->leaf_hash, t->lh[1], 32) == 0);
        assert_schnorr_valid(tx, spent, 0, s->sig, s->sig_len, s->leaf_hash, s->xonly);
    }
    kura_tx_free(tx);
    free(spent);
}

static void test_p2tr_sortedmulti_a(void **state)
{
    (void)state;
    tap_setup t;
    kura_psbt *a = NULL, *c = NULL;
    kura_tx *tx = NULL;
    kura_txout *spent;
    size_t count = 0;
    kura_error err;
    tap_build(&t);
    assert_int_equal(kura_psbt_clone(&a, t.p), KURA_OK);
    assert_int_equal(kura_psbt_clone(&c, t.p), KURA_OK);
    /* A and C sign separately, by their xprvs: each signs both leaves. */
    assert_int_equal(kura_psbt_sign_bip32(ctx, a, &count, &master[0], 0, &err), KURA_OK);
    assert_int_equal(count, 2);
    assert_int_equal(a->inputs[0].tap_key_sig_len, 0); /* NUMS: no key path */
    assert_int_equal(kura_psbt_sign_bip32(ctx, c, &count, &master[2], 0, &err), KURA_OK);
    assert_int_equal(count, 2);
    /* Not finalizable with one signer's signatures. */
    assert_int_equal(kura_psbt_finalize(a, &err), KURA_EDATA);
    assert_int_equal(kura_psbt_combine(a, c, &err), KURA_OK);
    assert_int_equal(a->inputs[0].tap_script_sig_count, 4);
    verify_script_sigs(a, &t);
    /* Both leaves are satisfiable; the 2-of-2 leaf has the smaller witness. */
    assert_int_equal(kura_psbt_finalize(a, &err), KURA_OK);
    assert_int_equal(kura_psbt_extract(&tx, a, &err), KURA_OK);
    spent = spent_of(a);
    {
        const kura_txin *in = &tx->inputs[0];
        size_t pa = key_pos(t.leaf[1], t.leaf_len[1], t.x[0]);
        size_t pc = key_pos(t.leaf[1], t.leaf_len[1], t.x[2]);
        assert_int_equal(in->witness_count, 4);
        tu_assert_bytes_equal(in->witness[2].data, in->witness[2].len, t.leaf[1], t.leaf_len[1]);
        tu_assert_bytes_equal(in->witness[3].data, in->witness[3].len, t.control[1], 65);
        /* BIP342: key k's signature is witness item (n - 1 - k). */
        assert_schnorr_valid(tx, spent, 0, in->witness[1 - pa].data, in->witness[1 - pa].len,
                             t.lh[1], t.x[0]);
        assert_schnorr_valid(tx, spent, 0, in->witness[1 - pc].data, in->witness[1 - pc].len,
                             t.lh[1], t.x[2]);
    }
    kura_tx_free(tx);
    tx = NULL;
    free(spent);
    kura_psbt_free(a);
    kura_psbt_free(c);

    /* A and B: only the 2-of-3 leaf can be satisfied; C's slot is empty. B
     * signs with its bare private key here. */
    assert_int_equal(kura_psbt_clone(&a, t.p), KURA_OK);
    assert_int_equal(kura_psbt_sign_input(ctx, a, 0, t.priv[0], 0, &err), KURA_OK);
    assert_int_equal(a->inputs[0].tap_script_sig_count, 2);
    assert_int_equal(kura_psbt_sign_input(ctx, a, 0, t.priv[1], 0, &err), KURA_OK);
    assert_int_equal(a->inputs[0].tap_script_sig_count, 3); /* B is in one leaf */
    verify_script_sigs(a, &t);
    assert_int_equal(kura_psbt_finalize(a, &err), KURA_OK);
    assert_int_equal(kura_psbt_extract(&tx, a, &err), KURA_OK);
    spent = spent_of(a);
    {
        const kura_txin *in = &tx->inputs[0];
        size_t pa = key_pos(t.leaf[0], t.leaf_len[0], t.x[0]);
        size_t pb = key_pos(t.leaf[0], t.leaf_len[0], t.x[1]);
        size_t pc = key_pos(t.leaf[0], t.leaf_len[0], t.x[2]);
        assert_int_equal(in->witness_count, 5);
        assert_int_equal(in->witness[2 - pc].len, 0);
        assert_schnorr_valid(tx, spent, 0, in->witness[2 - pa].data, in->witness[2 - pa].len,
                             t.lh[0], t.x[0]);
        assert_schnorr_valid(tx, spent, 0, in->witness[2 - pb].data, in->witness[2 - pb].len,
                             t.lh[0], t.x[1]);
        tu_assert_bytes_equal(in->witness[3].data, in->witness[3].len, t.leaf[0], t.leaf_len[0]);
        tu_assert_bytes_equal(in->witness[4].data, in->witness[4].len, t.control[0], 65);
    }
    kura_tx_free(tx);
    free(spent);
    kura_psbt_free(a);

    /* A control block that does not commit to the output key: refused. */
    assert_int_equal(kura_psbt_clone(&a, t.p), KURA_OK);
    a->inputs[0].tap_leaf_scripts[0].control_block.data[0] ^= 1; /* parity */
    a->inputs[0].tap_leaf_scripts[1].control_block.data[0] ^= 1;
    assert_int_equal(kura_psbt_sign_input(ctx, a, 0, t.priv[0], 0, &err), KURA_EDATA);
    assert_non_null(strstr(err.message, "control block"));
    assert_int_equal(a->inputs[0].tap_script_sig_count, 0);
    kura_psbt_free(a);
    /* A tap BIP32 record whose key the path does not derive: refused. */
    assert_int_equal(kura_psbt_clone(&a, t.p), KURA_OK);
    a->inputs[0].tap_bip32[0].xonly[5] ^= 1;
    memcpy(a->inputs[0].tap_bip32[0].origin.fingerprint, fps[0], 4);
    memcpy(a->inputs[0].tap_bip32[1].origin.fingerprint, fps[0], 4);
    memcpy(a->inputs[0].tap_bip32[2].origin.fingerprint, fps[0], 4);
    assert_int_equal(kura_psbt_sign_bip32(ctx, a, &count, &master[0], 0, &err), KURA_EDATA);
    assert_non_null(strstr(err.message, "not the recorded key"));
    assert_int_equal(a->inputs[0].tap_script_sig_count, 0);
    assert_int_equal(kura_psbt_sign_bip32(ctx, a, &count, &master[0], KURA_PSBT_SIGN_VERIFY, &err),
                     KURA_EDATA);
    assert_int_equal(a->inputs[0].tap_script_sig_count, 0);
    kura_psbt_free(a);
    kura_psbt_free(t.p);
    memset(t.priv, 0, sizeof(t.priv));
}

/* ---- P2WSH 2-of-3 sortedmulti, two signers, combined ---- */

static void test_p2wsh_sortedmulti(void **state)
{
    (void)state;
    const uint64_t outs[2] = {60000, 39000};
    kura_psbt *p = make_psbt(1, outs, 2, 0), *a = NULL, *b = NULL, *c3 = NULL;
    uint8_t pubs[99], ws[120], spk[34];
    size_t ws_len, w, count = 0;
    uint32_t path[10];
    size_t pl;
    kura_error err;
    kura_tx *tx = NULL;
    for (int i = 0; i < 3; i++) {
        kura_bip32_key k;
        derive(&k, i, "m/48h/1h/0h/2h/0/0", path, &pl);
        memcpy(pubs + 33 * i, k.pub, 33);
        kura_bip32_wipe(&k);
    }
    assert_int_equal(kura_script_multisig(ws, sizeof(ws), &ws_len, 2, pubs, 3, 1), KURA_OK);
    assert_int_equal(kura_script_p2wsh_of(spk, sizeof(spk), &w, ws, ws_len), KURA_OK);
    assert_int_equal(kura_psbt_input_set_witness_utxo(p, 0, 100000, spk, 34), KURA_OK);
    assert_int_equal(kura_psbt_input_set_witness_script(p, 0, ws, ws_len), KURA_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(kura_psbt_input_add_bip32(p, 0, pubs + 33 * i, 33, fps[i], path, pl),
                         KURA_OK);
    /* Entries added by the updater are in key order. */
    for (size_t i = 1; i < 3; i++)
        assert_true(memcmp(p->inputs[0].bip32[i - 1].pubkey, p->inputs[0].bip32[i].pubkey, 33) < 0);
    assert_int_equal(kura_psbt_clone(&a, p), KURA_OK);
    assert_int_equal(kura_psbt_clone(&b, p), KURA_OK);
    assert_int_equal(kura_psbt_sign_bip32(ctx, a, &count, &master[0], 0, &err), KURA_OK);
    assert_int_equal(count, 1);
    assert_int_equal(kura_psbt_sign_bip32(ctx, b, &count, &master[1], 0, &err), KURA_OK);
    assert_int_equal(count, 1);
    assert_int_equal(kura_psbt_finalize_input(a, 0, &err), KURA_EDATA);
    assert_non_null(strstr(err.message, "1 of 2 signatures"));
    assert_int_equal(kura_psbt_combine(a, b, &err), KURA_OK);
    assert_int_equal(a->inputs[0].partial_sig_count, 2);
    /* A third signature too: the finalizer still uses exactly two. */
    assert_int_equal(kura_psbt_clone(&c3, a), KURA_OK);
    assert_int_equal(kura_psbt_sign_bip32(ctx, c3, &count, &master[2], 0, &err), KURA_OK);
    assert_int_equal(c3->inputs[0].partial_sig_count, 3);
    assert_int_equal(kura_psbt_finalize(c3, &err), KURA_OK);
    assert_int_equal(c3->inputs[0].final_script_witness_count, 4);
    kura_psbt_free(c3);

    assert_int_equal(kura_psbt_finalize(a, &err), KURA_OK);
    assert_false(a->inputs[0].has_final_script_sig); /* native: no scriptSig */
    assert_int_equal(kura_psbt_extract(&tx, a, &err), KURA_OK);
    {
        const kura_txin *in = &tx->inputs[0];
        uint8_t h[32];
        const uint8_t *sorted = ws + 1; /* the script's keys: 0x21 <key> each */
        assert_int_equal(in->witness_count, 4);
        assert_int_equal(in->witness[0].len, 0); /* CHECKMULTISIG's extra item */
        tu_assert_bytes_equal(in->witness[3].data, in->witness[3].len, ws, ws_len);
        assert_int_equal(kura_sighash_segwit_v0(h, tx, NULL, 0, ws, ws_len, 100000,
                                                KURA_SIGHASH_ALL),
                         KURA_OK);
        /* Signatures in the script's key order: item 1 verifies under the
         * first of the script's keys that signed, item 2 under a later one. */
        size_t first = 3, second = 3;
        for (size_t k = 0; k < 3; k++) {
            const uint8_t *key = sorted + 34 * k + 1;
            if (kura_ecdsa_verify(ctx, key, 33, h, in->witness[1].data, in->witness[1].len - 1) ==
                KURA_OK)
                first = k;
            if (kura_ecdsa_verify(ctx, key, 33, h, in->witness[2].data, in->witness[2].len - 1) ==
                KURA_OK)
                second = k;
        }
        assert_true(first < 3 && second < 3 && first < second);
    }
    kura_tx_free(tx);
    kura_psbt_free(a);
    kura_psbt_free(b);
    /* A witness script over the consensus limit (10,000 bytes) is refused. */
    {
        uint8_t *big = calloc(1, 10001);
        assert_non_null(big);
        memcpy(big, ws, ws_len); /* still pushes the keys */
        assert_int_equal(kura_script_p2wsh_of(spk, sizeof(spk), &w, big, 10001), KURA_OK);
        assert_int_equal(kura_psbt_input_set_witness_utxo(p, 0, 100000, spk, 34), KURA_OK);
        assert_int_equal(kura_psbt_input_set_witness_script(p, 0, big, 10001), KURA_OK);
        assert_int_equal(kura_psbt_sign_bip32(ctx, p, &count, &master[0], 0, &err), KURA_EDATA);
        assert_non_null(strstr(err.message, "over 10000 bytes"));
        free(big);
    }
    kura_psbt_free(p);
}

/* ---- P2PKH and P2SH-P2WPKH ---- */

static void test_p2pkh_and_nested_p2wpkh(void **state)
{
    (void)state;
    kura_bip32_key k0, k1;
    uint32_t path[10];
    size_t pl, w;
    uint8_t h0[20], h1[20], spk0[25], redeem[22], spk1[23];
    kura_tx *prev = kura_tx_new(), *tx = NULL;
    kura_psbt *p = NULL;
    kura_error err;
    uint8_t prev_txid[32], other[32] = {9};
    derive(&k0, 1, "m/44h/1h/0h/0/0", path, &pl);
    derive(&k1, 1, "m/49h/1h/0h/0/0", path, &pl);
    assert_int_equal(kura_hash160(h0, k0.pub, 33), KURA_OK);
    assert_int_equal(kura_script_p2pkh(spk0, sizeof(spk0), &w, h0), KURA_OK);
    assert_int_equal(kura_hash160(h1, k1.pub, 33), KURA_OK);
    assert_int_equal(kura_script_p2wpkh(redeem, sizeof(redeem), &w, h1), KURA_OK);
    assert_int_equal(kura_script_p2sh_of(spk1, sizeof(spk1), &w, redeem, 22), KURA_OK);
    /* The previous tx paying to the P2PKH key (needed whole: non-witness). */
    assert_int_equal(kura_tx_add_input(prev, other, 0, 0xffffffffu, (const uint8_t *)"\x51", 1),
                     KURA_OK);
    assert_int_equal(kura_tx_add_output(prev, 70000, spk0, 25), KURA_OK);
    assert_int_equal(kura_tx_txid(prev_txid, prev), KURA_OK);
    {
        kura_tx *t = kura_tx_new();
        uint8_t dest[22] = {0x00, 0x14};
        assert_int_equal(kura_tx_add_input(t, prev_txid, 0, 0xffffffffu, NULL, 0), KURA_OK);
        assert_int_equal(kura_tx_add_input(t, other, 3, 0xffffffffu, NULL, 0), KURA_OK);
        assert_int_equal(kura_tx_add_output(t, 100000, dest, 22), KURA_OK);
        assert_int_equal(kura_psbt_from_tx(&p, t, 0, NULL), KURA_OK);
        kura_tx_free(t);
    }
    assert_int_equal(kura_psbt_input_set_non_witness_utxo(p, 0, prev, &err), KURA_OK);
    assert_int_equal(kura_psbt_input_set_witness_utxo(p, 1, 40000, spk1, 23), KURA_OK);
    assert_int_equal(kura_psbt_input_set_redeem_script(p, 1, redeem, 22), KURA_OK);
    assert_int_equal(kura_psbt_sign_input(ctx, p, 0, k0.priv, 0, &err), KURA_OK);
    assert_int_equal(kura_psbt_sign_input(ctx, p, 1, k0.priv, 0, &err), KURA_ENOTFOUND);
    assert_int_equal(kura_psbt_sign_input(ctx, p, 1, k1.priv, 0, &err), KURA_OK);
    assert_int_equal(kura_psbt_finalize(p, &err), KURA_OK);
    assert_int_equal(kura_psbt_extract(&tx, p, &err), KURA_OK);
    {
        const kura_txin *in0 = &tx->inputs[0], *in1 = &tx->inputs[1];
        uint8_t h[32], code[25];
        size_t sig_len = in0->script_sig.data[0];
        /* P2PKH: <sig> <pubkey>, legacy sighash over the spent script. */
        assert_int_equal(in0->witness_count, 0);
        assert_int_equal(in0->script_sig.len, 1 + sig_len + 1 + 33);
        assert_int_equal(in0->script_sig.data[1 + sig_len], 33);
        assert_memory_equal(in0->script_sig.data + 2 + sig_len, k0.pub, 33);
        assert_int_equal(kura_sighash_legacy(h, tx, 0, spk0, 25, KURA_SIGHASH_ALL), KURA_OK);
        assert_int_equal(kura_ecdsa_verify(ctx, k0.pub, 33, h, in0->script_sig.data + 1,
                                           sig_len - 1),
                         KURA_OK);
        /* P2SH-P2WPKH: scriptSig pushes the redeem script; witness <sig> <pubkey>. */
        assert_int_equal(in1->script_sig.len, 23);
        assert_int_equal(in1->script_sig.data[0], 22);
        assert_memory_equal(in1->script_sig.data + 1, redeem, 22);
        assert_int_equal(in1->witness_count, 2);
        assert_memory_equal(in1->witness[1].data, k1.pub, 33);
        assert_int_equal(kura_script_p2pkh(code, sizeof(code), &w, h1), KURA_OK);
        assert_int_equal(kura_sighash_segwit_v0(h, tx, NULL, 1, code, 25, 40000, KURA_SIGHASH_ALL),
                         KURA_OK);
        assert_int_equal(kura_ecdsa_verify(ctx, k1.pub, 33, h, in1->witness[0].data,
                                           in1->witness[0].len - 1),
                         KURA_OK);
    }
    kura_tx_free(tx);
    kura_tx_free(prev);
    kura_psbt_free(p);
    kura_bip32_wipe(&k0);
    kura_bip32_wipe(&k1);
}

/* ---- 100 inputs: one pass of hashing, derivations shared ---- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run_many(bool taproot)
{
    enum { N = 100 };
    const uint64_t outs[1] = {N * 1000 - 5000};
    kura_psbt *p = make_psbt(N, outs, 1, 0);
    size_t count = 0;
    kura_error err;
    double t0, t1;
    for (size_t i = 0; i < N; i++) {
        char path_str[64];
        uint32_t path[10];
        size_t pl, w;
        kura_bip32_key k;
        uint8_t spk[34], h[32];
        snprintf(path_str, sizeof(path_str), "m/%s/1h/0h/0/%zu", taproot ? "86h" : "84h", i);
        derive(&k, 0, path_str, path, &pl);
        if (taproot) {
            assert_int_equal(kura_taproot_tweak_pubkey(ctx, h, NULL, k.pub + 1, NULL), KURA_OK);
            assert_int_equal(kura_script_p2tr(spk, sizeof(spk), &w, h), KURA_OK);
            assert_int_equal(kura_psbt_input_set_tap_internal_key(p, i, k.pub + 1), KURA_OK);
            assert_int_equal(kura_psbt_input_add_tap_bip32(p, i, k.pub + 1, NULL, 0, fps[0], path,
                                                           pl),
                             KURA_OK);
        } else {
            assert_int_equal(kura_hash160(h, k.pub, 33), KURA_OK);
            assert_int_equal(kura_script_p2wpkh(spk, sizeof(spk), &w, h), KURA_OK);
            assert_int_equal(kura_psbt_input_add_bip32(p, i, k.pub, 33, fps[0], path, pl), KURA_OK);
        }
        assert_int_equal(kura_psbt_input_set_witness_utxo(p, i, 1000, spk, w), KURA_OK);
        kura_bip32_wipe(&k);
    }
    t0 = now();
    assert_int_equal(kura_psbt_sign_bip32(ctx, p, &count, &master[0], 0, &err), KURA_OK);
    t1 = now();
    assert_int_equal(count, N);
    assert_int_equal(kura_psbt_finalize(p, &err), KURA_OK);
    print_message("psbt: signed %d %s inputs in %.1f ms\n", N,
                  taproot ? "P2TR" : "P2WPKH", (t1 - t0) * 1e3);
    /* Generous even for a sanitizer build on a shared machine. */
    assert_true(t1 - t0 < 5.0);
    kura_psbt_free(p);
}

static void test_many_inputs(void **state)
{
    (void)state;
    run_many(false);
    run_many(true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_p2tr_keypath_v0),
        cmocka_unit_test(test_p2tr_keypath_v2),
        cmocka_unit_test(test_p2tr_sortedmulti_a),
        cmocka_unit_test(test_p2wsh_sortedmulti),
        cmocka_unit_test(test_p2pkh_and_nested_p2wpkh),
        cmocka_unit_test(test_many_inputs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
