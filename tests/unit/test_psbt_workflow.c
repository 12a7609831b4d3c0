/* The BIP174 workflow, role by role, against the vector's PSBTs byte for
 * byte: creator, updater, sighash update, two signers (RFC6979 makes ECDSA
 * deterministic), combiner, finalizer, extractor; the combiner with unknown
 * records; and the signer checks every signer_check_failures vector must
 * fail. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kura/hash.h"
#include "kura/keys.h"
#include "kura/psbt.h"
#include "kura/script.h"
#include "kura/sighash.h"
#include "testutil.h"

static kura_ctx *ctx;
static json_t *root;
static json_t *wf; /* the workflow object */

static int setup(void **state)
{
    (void)state;
    ctx = kura_ctx_new();
    root = tu_load_json("bip174.json");
    wf = json_object_get(root, "workflow");
    return ctx != NULL && wf != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    kura_ctx_free(ctx);
    json_decref(root);
    return 0;
}

static const char *psbt_hex(const char *role)
{
    return tu_str(json_object_get(json_object_get(wf, role), "psbt"), "hex");
}

static kura_psbt *parse_hex(const char *hex)
{
    size_t len;
    uint8_t *bin = tu_unhex(hex, &len);
    kura_psbt *p = NULL;
    kura_error err;
    if (kura_psbt_parse(&p, bin, len, &err) != KURA_OK) fail_msg("parse: %s", err.message);
    free(bin);
    return p;
}

static void assert_psbt_hex(const kura_psbt *p, const char *hex)
{
    uint8_t *out = NULL, *want;
    size_t out_len = 0, want_len;
    assert_int_equal(kura_psbt_serialize(&out, &out_len, p), KURA_OK);
    want = tu_unhex(hex, &want_len);
    tu_assert_bytes_equal(out, out_len, want, want_len);
    free(out);
    free(want);
}

static uint8_t *serialize(const kura_psbt *p, size_t *len)
{
    uint8_t *out = NULL;
    assert_int_equal(kura_psbt_serialize(&out, len, p), KURA_OK);
    return out;
}

static int wif_decode(uint8_t priv[32], const char *wif, kura_error *err)
{
    int compressed = 0;
    kura_network net;
    return kura_wif_decode(priv, &compressed, &net, wif, err);
}

static void master_key(kura_bip32_key *master)
{
    kura_error err;
    if (kura_bip32_parse(ctx, master, tu_str(wf, "master_xprv"), &err) != KURA_OK)
        fail_msg("master key: %s", err.message);
}

static void test_creator(void **state)
{
    (void)state;
    json_t *c = json_object_get(wf, "creator"), *v;
    kura_tx *tx = kura_tx_new();
    kura_psbt *p = NULL;
    size_t i;
    json_array_foreach(json_object_get(c, "inputs"), i, v)
    {
        uint8_t txid[32];
        assert_int_equal(kura_txid_from_hex(txid, tu_str(v, "txid"), NULL), KURA_OK);
        assert_int_equal(kura_tx_add_input(tx, txid,
                                           (uint32_t)json_integer_value(json_object_get(v, "vout")),
                                           0xffffffffu, NULL, 0),
                         KURA_OK);
    }
    json_array_foreach(json_object_get(c, "outputs"), i, v)
    {
        size_t slen;
        uint8_t *spk = tu_unhex(tu_str(v, "script_pubkey"), &slen);
        assert_int_equal(
            kura_tx_add_output(tx, (uint64_t)json_integer_value(json_object_get(v, "amount_sat")),
                               spk, slen),
            KURA_OK);
        free(spk);
    }
    assert_int_equal(kura_psbt_from_tx(&p, tx, 0, NULL), KURA_OK);
    assert_psbt_hex(p, psbt_hex("creator"));
    kura_psbt_free(p);
    /* A tx with a scriptSig is refused. */
    {
        uint8_t sig[1] = {0x51};
        kura_error err;
        assert_int_equal(kura_tx_set_script_sig(tx, 0, sig, 1), KURA_OK);
        assert_int_equal(kura_psbt_from_tx(&p, tx, 0, &err), KURA_EDATA);
        assert_null(p);
    }
    kura_tx_free(tx);
}

/* Does script push exactly this 33-byte key? (the test's own check) */
static bool pushes_key(const uint8_t *s, size_t len, const uint8_t key[33])
{
    for (size_t i = 0; i + 34 <= len; i++)
        if (s[i] == 33 && memcmp(s + i + 1, key, 33) == 0) return true;
    return false;
}

static void test_updater(void **state)
{
    (void)state;
    json_t *u = json_object_get(wf, "updater"), *v;
    kura_psbt *p = parse_hex(psbt_hex("creator"));
    kura_tx *prev[2];
    uint8_t *redeem[2], *wscript;
    size_t redeem_len[2], wscript_len, i;
    kura_bip32_key master;
    uint8_t fp[4];
    master_key(&master);
    assert_int_equal(kura_bip32_fingerprint(fp, &master), KURA_OK);
    assert_memory_equal(fp, "\xd9\x0c\x6a\x4f", 4);
    json_array_foreach(json_object_get(u, "previous_transactions"), i, v)
    {
        size_t len;
        uint8_t *b = tu_unhex(json_string_value(v), &len);
        assert_int_equal(kura_tx_parse(&prev[i], b, len, KURA_TX_WITNESS, NULL), KURA_OK);
        free(b);
    }
    for (i = 0; i < 2; i++)
        redeem[i] = tu_unhex(json_string_value(json_array_get(json_object_get(u, "redeem_scripts"), i)),
                             &redeem_len[i]);
    wscript = tu_unhex(json_string_value(json_array_get(json_object_get(u, "witness_scripts"), 0)),
                       &wscript_len);
    /* Each input: find its previous tx by txid; the redeem script whose hash
     * is the P2SH program; for a witness redeem script, the witness UTXO and
     * the witness script; otherwise the whole previous tx. */
    for (size_t in = 0; in < p->input_count; in++) {
        const kura_tx *pt = NULL;
        uint8_t txid[32];
        for (size_t k = 0; k < 2; k++) {
            assert_int_equal(kura_tx_txid(txid, prev[k]), KURA_OK);
            if (memcmp(txid, p->inputs[in].prev_txid, 32) == 0) pt = prev[k];
        }
        assert_non_null(pt);
        const kura_txout *o = &pt->outputs[p->inputs[in].prev_vout];
        assert_int_equal(o->script_pubkey.len, 23); /* both are P2SH */
        size_t r = 2;
        for (size_t k = 0; k < 2; k++) {
            uint8_t h[20];
            assert_int_equal(kura_hash160(h, redeem[k], redeem_len[k]), KURA_OK);
            if (memcmp(h, o->script_pubkey.data + 2, 20) == 0) r = k;
        }
        assert_true(r < 2);
        if (redeem_len[r] == 34 && redeem[r][0] == 0x00) {
            assert_int_equal(kura_psbt_input_set_witness_utxo(p, in, o->amount,
                                                              o->script_pubkey.data,
                                                              o->script_pubkey.len),
                             KURA_OK);
            assert_int_equal(kura_psbt_input_set_redeem_script(p, in, redeem[r], redeem_len[r]),
                             KURA_OK);
            assert_int_equal(kura_psbt_input_set_witness_script(p, in, wscript, wscript_len),
                             KURA_OK);
        } else {
            kura_error err;
            assert_int_equal(kura_psbt_input_set_non_witness_utxo(p, in, pt, &err), KURA_OK);
            assert_int_equal(kura_psbt_input_set_redeem_script(p, in, redeem[r], redeem_len[r]),
                             KURA_OK);
        }
    }
    /* The wrong previous tx is refused by the updater. */
    {
        kura_error err;
        kura_tx *wrong = prev[0];
        uint8_t txid[32];
        assert_int_equal(kura_tx_txid(txid, wrong), KURA_OK);
        size_t target = memcmp(txid, p->inputs[0].prev_txid, 32) == 0 ? 1 : 0;
        assert_int_equal(kura_psbt_input_set_non_witness_utxo(p, target, wrong, &err), KURA_EDATA);
    }
    /* Key paths: each key goes to the input whose script pushes it, or to the
     * output paying to its hash. */
    json_array_foreach(json_object_get(u, "public_keys"), i, v)
    {
        uint8_t pub[33], h[20];
        uint32_t path[8];
        size_t path_len;
        kura_bip32_key child;
        bool placed = false;
        tu_unhex_fixed(tu_str(v, "pubkey"), pub, 33);
        assert_int_equal(kura_bip32_path_parse(path, 8, &path_len, tu_str(v, "path"), NULL),
                         KURA_OK);
        assert_int_equal(kura_bip32_derive_path(ctx, &child, &master, path, path_len), KURA_OK);
        assert_memory_equal(child.pub, pub, 33);
        kura_bip32_wipe(&child);
        for (size_t in = 0; in < p->input_count; in++) {
            const kura_psbt_input *x = &p->inputs[in];
            if ((x->has_redeem_script && pushes_key(x->redeem_script.data, x->redeem_script.len, pub)) ||
                (x->has_witness_script &&
                 pushes_key(x->witness_script.data, x->witness_script.len, pub))) {
                assert_int_equal(kura_psbt_input_add_bip32(p, in, pub, 33, fp, path, path_len),
                                 KURA_OK);
                placed = true;
            }
        }
        assert_int_equal(kura_hash160(h, pub, 33), KURA_OK);
        for (size_t out = 0; out < p->output_count; out++) {
            if (memcmp(p->outputs[out].script_pubkey.data + 2, h, 20) == 0) {
                assert_int_equal(kura_psbt_output_add_bip32(p, out, pub, 33, fp, path, path_len),
                                 KURA_OK);
                placed = true;
            }
        }
        assert_true(placed);
    }
    assert_psbt_hex(p, psbt_hex("updater"));
    /* Updater, part two: SIGHASH_ALL on every input. */
    for (size_t in = 0; in < p->input_count; in++)
        assert_int_equal(kura_psbt_input_set_sighash_type(p, in, KURA_SIGHASH_ALL), KURA_OK);
    assert_psbt_hex(p, psbt_hex("updater_sighash_all"));
    kura_psbt_free(p);
    kura_tx_free(prev[0]);
    kura_tx_free(prev[1]);
    free(redeem[0]);
    free(redeem[1]);
    free(wscript);
    kura_bip32_wipe(&master);
}

/* Signs every input with each WIF key of a signer role; each key has a part
 * in exactly one input. */
static void run_signer(const char *role)
{
    json_t *s = json_object_get(wf, role), *v;
    kura_psbt *p = parse_hex(psbt_hex("updater_sighash_all"));
    size_t i, signed_inputs = 0;
    json_array_foreach(json_object_get(s, "keys"), i, v)
    {
        uint8_t priv[32];
        int compressed = 0;
        kura_network net;
        assert_int_equal(kura_wif_decode(priv, &compressed, &net, tu_str(v, "wif"), NULL), KURA_OK);
        assert_int_equal(net, KURA_NETWORK_TESTNET);
        for (size_t in = 0; in < p->input_count; in++) {
            kura_error err;
            int rc = kura_psbt_sign_input(ctx, p, in, priv, 0, &err);
            if (rc == KURA_OK)
                signed_inputs++;
            else if (rc != KURA_ENOTFOUND)
                fail_msg("%s: input %zu: %s", role, in, err.message);
        }
        memset(priv, 0, sizeof(priv));
    }
    assert_int_equal(signed_inputs, 2);
    assert_psbt_hex(p, psbt_hex(role));
    kura_psbt_free(p);
}

static void test_signers(void **state)
{
    (void)state;
    run_signer("signer_1");
    run_signer("signer_2");
}

static void test_combiner_finalizer_extractor(void **state)
{
    (void)state;
    kura_psbt *a = parse_hex(psbt_hex("signer_1")), *b = parse_hex(psbt_hex("signer_2"));
    kura_tx *tx = NULL;
    kura_error err;
    assert_int_equal(kura_psbt_combine(a, b, &err), KURA_OK);
    assert_psbt_hex(a, psbt_hex("combiner"));
    /* The extractor refuses what is not finalized. */
    assert_int_equal(kura_psbt_is_finalized(a), 0);
    assert_int_equal(kura_psbt_extract(&tx, a, &err), KURA_EDATA);
    assert_null(tx);
    assert_int_equal(kura_psbt_finalize(a, &err), KURA_OK);
    assert_int_equal(kura_psbt_is_finalized(a), 1);
    assert_psbt_hex(a, psbt_hex("finalizer"));
    assert_int_equal(kura_psbt_extract(&tx, a, &err), KURA_OK);
    {
        size_t n = kura_tx_serialized_size(tx, KURA_TX_WITNESS), w = 0, want_len;
        uint8_t *out = malloc(n);
        uint8_t *want = tu_unhex(tu_str(json_object_get(wf, "extractor"), "tx_hex"), &want_len);
        assert_int_equal(kura_tx_serialize(out, n, &w, tx, KURA_TX_WITNESS), KURA_OK);
        tu_assert_bytes_equal(out, w, want, want_len);
        free(out);
        free(want);
    }
    kura_tx_free(tx);
    /* Finalizing again changes nothing. */
    assert_int_equal(kura_psbt_finalize(a, &err), KURA_OK);
    assert_psbt_hex(a, psbt_hex("finalizer"));
    kura_psbt_free(a);
    kura_psbt_free(b);
}

/* One signature of two: the finalizer refuses and changes nothing. */
static void test_finalizer_refuses_partial(void **state)
{
    (void)state;
    kura_psbt *p = parse_hex(psbt_hex("signer_1"));
    kura_error err;
    size_t len1, len2;
    uint8_t *before = serialize(p, &len1), *after;
    assert_int_equal(kura_psbt_finalize(p, &err), KURA_EDATA);
    assert_non_null(strstr(err.message, "1 of 2 signatures"));
    after = serialize(p, &len2);
    tu_assert_bytes_equal(after, len2, before, len1);
    free(before);
    free(after);
    kura_psbt_free(p);
}

/* The master xprv signs everything its fingerprint names, in one call; the
 * result finalizes to the vector's final PSBT. */
static void test_sign_bip32_master(void **state)
{
    (void)state;
    kura_psbt *p = parse_hex(psbt_hex("updater_sighash_all"));
    kura_bip32_key master;
    size_t count = 0;
    kura_error err;
    master_key(&master);
    assert_int_equal(kura_psbt_sign_bip32(ctx, p, &count, &master, 0, &err), KURA_OK);
    assert_int_equal(count, 4);
    assert_int_equal(p->inputs[0].partial_sig_count, 2);
    assert_int_equal(p->inputs[1].partial_sig_count, 2);
    assert_int_equal(kura_psbt_finalize(p, &err), KURA_OK);
    assert_psbt_hex(p, psbt_hex("finalizer"));
    kura_psbt_free(p);
    /* A key that no input names. */
    {
        kura_bip32_key other;
        uint8_t seed[32] = {7};
        p = parse_hex(psbt_hex("updater_sighash_all"));
        assert_int_equal(kura_bip32_from_seed(ctx, &other, seed, 32, KURA_NETWORK_TESTNET), KURA_OK);
        assert_int_equal(kura_psbt_sign_bip32(ctx, p, &count, &other, 0, &err), KURA_ENOTFOUND);
        assert_int_equal(count, 0);
        kura_bip32_wipe(&other);
        /* A public key cannot sign. */
        kura_bip32_key pub;
        kura_bip32_neuter(&pub, &master);
        assert_int_equal(kura_psbt_sign_bip32(ctx, p, &count, &pub, 0, &err), KURA_EINVAL);
        assert_psbt_hex(p, psbt_hex("updater_sighash_all"));
        kura_psbt_free(p);
    }
    /* With KURA_PSBT_SIGN_VERIFY every signature is verified before it is
     * added: the same deterministic signatures, the same final PSBT. */
    p = parse_hex(psbt_hex("updater_sighash_all"));
    assert_int_equal(kura_psbt_sign_bip32(ctx, p, &count, &master, KURA_PSBT_SIGN_VERIFY, &err),
                     KURA_OK);
    assert_int_equal(count, 4);
    assert_int_equal(kura_psbt_finalize(p, &err), KURA_OK);
    assert_psbt_hex(p, psbt_hex("finalizer"));
    kura_psbt_free(p);
    /* A recorded pubkey that is not what the path derives: under
     * KURA_PSBT_SIGN_VERIFY the signature does not verify against the
     * recorded key, so the PSBT is refused and nothing is signed. */
    {
        p = parse_hex(psbt_hex("updater_sighash_all"));
        p->inputs[1].bip32[0].origin.path[2] ^= 1; /* m/0'/0'/3' -> m/0'/0'/2'... */
        assert_int_equal(kura_psbt_sign_bip32(ctx, p, &count, &master, KURA_PSBT_SIGN_VERIFY,
                                              &err),
                         KURA_EDATA);
        assert_non_null(strstr(err.message, "not the recorded key"));
        assert_non_null(strstr(err.message, "input 1"));
        assert_int_equal(count, 0);
        assert_int_equal(p->inputs[0].partial_sig_count, 0);
        assert_int_equal(p->inputs[1].partial_sig_count, 0);
        kura_psbt_free(p);
    }
    kura_bip32_wipe(&master);
}

/* The default (no KURA_PSBT_SIGN_VERIFY) with a record whose path does not
 * derive its key: the derived key's public key is not computed, so the
 * signature is made and filed under the recorded key, where it does not
 * verify; the other signatures do. (No funds are at risk: the sighash commits
 * to the witness script and the amount.) */
static void test_sign_bip32_mismatch_default(void **state)
{
    (void)state;
    kura_psbt *p = parse_hex(psbt_hex("updater_sighash_all"));
    kura_bip32_key master;
    kura_tx *tx = NULL;
    size_t count = 0, bad = 0, good = 0;
    uint8_t h[32];
    kura_error err;
    const kura_psbt_input *in;
    master_key(&master);
    p->inputs[1].bip32[0].origin.path[2] ^= 1;
    assert_int_equal(kura_psbt_sign_bip32(ctx, p, &count, &master, 0, &err), KURA_OK);
    assert_int_equal(count, 4);
    in = &p->inputs[1];
    assert_int_equal(in->partial_sig_count, 2);
    assert_true(in->has_witness_script && in->has_witness_utxo);
    assert_int_equal(kura_psbt_unsigned_tx(&tx, p, &err), KURA_OK);
    assert_int_equal(kura_sighash_segwit_v0(h, tx, NULL, 1, in->witness_script.data,
                                            in->witness_script.len, in->witness_utxo.amount,
                                            KURA_SIGHASH_ALL),
                     KURA_OK);
    for (size_t j = 0; j < in->partial_sig_count; j++) {
        const kura_psbt_partial_sig *ps = &in->partial_sigs[j];
        int rc = kura_ecdsa_verify(ctx, ps->pubkey, ps->pubkey_len, h, ps->sig, ps->sig_len - 1);
        bool mismatched = ps->pubkey_len == in->bip32[0].pubkey_len &&
                          memcmp(ps->pubkey, in->bip32[0].pubkey, ps->pubkey_len) == 0;
        assert_int_equal(rc, mismatched ? KURA_EDATA : KURA_OK);
        if (mismatched) bad++;
        else good++;
    }
    assert_int_equal(bad, 1);
    assert_int_equal(good, 1);
    kura_tx_free(tx);
    kura_psbt_free(p);
    kura_bip32_wipe(&master);
}

/* The sighash policy: only ALL by default. */
static void test_sighash_policy(void **state)
{
    (void)state;
    kura_psbt *p = parse_hex(psbt_hex("updater_sighash_all"));
    kura_bip32_key master;
    size_t count = 0;
    uint32_t t = 0;
    kura_error err;
    master_key(&master);
    assert_int_equal(kura_psbt_input_sighash_type(&t, p, 0, 0, &err), KURA_OK);
    assert_int_equal(t, KURA_SIGHASH_ALL);
    assert_int_equal(kura_psbt_input_set_sighash_type(p, 1, KURA_SIGHASH_NONE), KURA_OK);
    assert_int_equal(kura_psbt_input_sighash_type(&t, p, 1, 0, &err), KURA_EDATA);
    assert_int_equal(t, KURA_SIGHASH_NONE);
    assert_int_equal(kura_psbt_sign_bip32(ctx, p, &count, &master, 0, &err), KURA_EDATA);
    assert_non_null(strstr(err.message, "not allowed"));
    assert_int_equal(p->inputs[0].partial_sig_count, 0); /* all or nothing */
    assert_int_equal(kura_psbt_sign_bip32(ctx, p, &count, &master, KURA_PSBT_SIGN_ANY_SIGHASH,
                                          &err),
                     KURA_OK);
    assert_int_equal(count, 4);
    assert_int_equal(p->inputs[1].partial_sigs[0].sig[p->inputs[1].partial_sigs[0].sig_len - 1],
                     KURA_SIGHASH_NONE);
    /* A type that is no sighash type at all is refused even then. */
    assert_int_equal(kura_psbt_input_set_sighash_type(p, 0, 0x42), KURA_OK);
    assert_int_equal(kura_psbt_input_sighash_type(&t, p, 0, KURA_PSBT_SIGN_ANY_SIGHASH, &err),
                     KURA_EDATA);
    kura_psbt_free(p);
    kura_bip32_wipe(&master);
}

static void test_combiner_unknown_kv(void **state)
{
    (void)state;
    json_t *c = json_object_get(root, "combiner_unknown_kv");
    json_t *ins = json_object_get(c, "inputs");
    kura_psbt *a = parse_hex(tu_str(json_array_get(ins, 0), "hex"));
    kura_psbt *b = parse_hex(tu_str(json_array_get(ins, 1), "hex"));
    assert_int_equal(kura_psbt_combine(a, b, NULL), KURA_OK);
    assert_psbt_hex(a, tu_str(json_object_get(c, "output"), "hex"));
    /* Combining again adds nothing. */
    assert_int_equal(kura_psbt_combine(a, b, NULL), KURA_OK);
    assert_psbt_hex(a, tu_str(json_object_get(c, "output"), "hex"));
    kura_psbt_free(a);
    kura_psbt_free(b);
}

static void test_combiner_refuses_other_tx(void **state)
{
    (void)state;
    kura_psbt *a = parse_hex(psbt_hex("signer_1"));
    json_t *valid = json_object_get(root, "valid");
    kura_psbt *b = parse_hex(tu_str(json_array_get(valid, 0), "hex"));
    kura_error err;
    size_t l1, l2;
    uint8_t *before = serialize(a, &l1), *after;
    assert_int_equal(kura_psbt_combine(a, b, &err), KURA_EDATA);
    after = serialize(a, &l2);
    tu_assert_bytes_equal(after, l2, before, l1);
    free(after);
    /* Same tx, other version: refused too. */
    kura_psbt_free(b);
    b = parse_hex(psbt_hex("signer_2"));
    assert_int_equal(kura_psbt_set_version(b, 2, NULL), KURA_OK);
    assert_int_equal(kura_psbt_combine(a, b, &err), KURA_EDATA);
    /* Both v2: combines, and back in v0 gives the combiner vector. */
    assert_int_equal(kura_psbt_set_version(a, 2, NULL), KURA_OK);
    assert_int_equal(kura_psbt_combine(a, b, &err), KURA_OK);
    assert_int_equal(kura_psbt_set_version(a, 0, NULL), KURA_OK);
    assert_psbt_hex(a, psbt_hex("combiner"));
    free(before);
    kura_psbt_free(a);
    kura_psbt_free(b);
}

/* Every signer_check_failures vector is refused, by every key, on the input
 * the check is about, and nothing is added. */
static void test_signer_check_failures(void **state)
{
    (void)state;
    /* The failing input of each vector, as its description says: a witness
     * UTXO for the P2PKH input 0; input 0's redeem script; input 1's redeem
     * script; input 1's witness script. */
    const size_t failing[4] = {0, 0, 1, 1};
    const char *reason[4] = {"witness UTXO given for a non-witness input",
                             "redeem script does not match", "redeem script does not match",
                             "witness script does not match"};
    json_t *arr = json_object_get(root, "signer_check_failures"), *v;
    kura_bip32_key master;
    size_t i;
    master_key(&master);
    assert_int_equal(json_array_size(arr), 4);
    json_array_foreach(arr, i, v)
    {
        kura_psbt *p = parse_hex(tu_str(v, "hex"));
        const char *roles[2] = {"signer_1", "signer_2"};
        size_t len, count = 0;
        uint8_t *before = serialize(p, &len);
        kura_error err;
        for (size_t r = 0; r < 2; r++) {
            json_t *keys = json_object_get(json_object_get(wf, roles[r]), "keys"), *k;
            size_t ki;
            json_array_foreach(keys, ki, k)
            {
                uint8_t priv[32];
                assert_int_equal(wif_decode(priv, tu_str(k, "wif"), NULL),
                                 KURA_OK);
                memset(&err, 0, sizeof(err));
                assert_int_equal(kura_psbt_sign_input(ctx, p, failing[i], priv, 0, &err),
                                 KURA_EDATA);
                if (strstr(err.message, reason[i]) == NULL)
                    fail_msg("vector %zu: message \"%s\" lacks \"%s\"", i, err.message, reason[i]);
                memset(priv, 0, sizeof(priv));
            }
        }
        /* Signing by path refuses too (vector 0 names no input key of this master). */
        int rc = kura_psbt_sign_bip32(ctx, p, &count, &master, 0, &err);
        assert_int_equal(rc, i == 0 ? KURA_ENOTFOUND : KURA_EDATA);
        assert_int_equal(count, 0);
        /* The finalizer checks the same. */
        rc = kura_psbt_finalize(p, &err);
        assert_int_equal(rc, KURA_EDATA);
        size_t len2;
        uint8_t *after = serialize(p, &len2);
        tu_assert_bytes_equal(after, len2, before, len);
        free(before);
        free(after);
        kura_psbt_free(p);
    }
    kura_bip32_wipe(&master);
}

/* A non-witness UTXO whose txid is not the outpoint's: the signer refuses. */
static void test_non_witness_utxo_mismatch(void **state)
{
    (void)state;
    kura_psbt *p = parse_hex(psbt_hex("updater_sighash_all"));
    kura_bip32_key master;
    size_t count;
    kura_error err;
    master_key(&master);
    /* Change one byte of the previous tx's first output amount. */
    p->inputs[0].non_witness_utxo->outputs[0].amount ^= 1;
    assert_int_equal(kura_psbt_sign_bip32(ctx, p, &count, &master, 0, &err), KURA_EDATA);
    assert_non_null(strstr(err.message, "txid is not the outpoint's"));
    p->inputs[0].non_witness_utxo->outputs[0].amount ^= 1;
    /* A witness UTXO that disagrees with the non-witness UTXO's output. */
    assert_int_equal(kura_psbt_input_set_witness_utxo(p, 0, 1, p->inputs[0].redeem_script.data, 5),
                     KURA_OK);
    assert_int_equal(kura_psbt_sign_bip32(ctx, p, &count, &master, 0, &err), KURA_EDATA);
    assert_non_null(strstr(err.message, "differs"));
    kura_psbt_free(p);
    kura_bip32_wipe(&master);
}

/* A finalized input is not signed again. */
static void test_sign_finalized(void **state)
{
    (void)state;
    kura_psbt *p = parse_hex(psbt_hex("finalizer"));
    uint8_t priv[32];
    kura_error err;
    size_t count;
    kura_bip32_key master;
    master_key(&master);
    json_t *keys = json_object_get(json_object_get(wf, "signer_1"), "keys");
    assert_int_equal(wif_decode(priv, tu_str(json_array_get(keys, 0), "wif"), NULL), KURA_OK);
    assert_int_equal(kura_psbt_sign_input(ctx, p, 0, priv, 0, &err), KURA_EDATA);
    assert_int_equal(kura_psbt_sign_bip32(ctx, p, &count, &master, 0, &err), KURA_ENOTFOUND);
    assert_int_equal(kura_psbt_sign_input(ctx, p, 2, priv, 0, &err), KURA_EINVAL);
    memset(priv, 0, sizeof(priv));
    kura_psbt_free(p);
    kura_bip32_wipe(&master);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_creator),
        cmocka_unit_test(test_updater),
        cmocka_unit_test(test_signers),
        cmocka_unit_test(test_combiner_finalizer_extractor),
        cmocka_unit_test(test_finalizer_refuses_partial),
        cmocka_unit_test(test_sign_bip32_master),
        cmocka_unit_test(test_sign_bip32_mismatch_default),
        cmocka_unit_test(test_sighash_policy),
        cmocka_unit_test(test_combiner_unknown_kv),
        cmocka_unit_test(test_combiner_refuses_other_tx),
        cmocka_unit_test(test_signer_check_failures),
        cmocka_unit_test(test_non_witness_utxo_mismatch),
        cmocka_unit_test(test_sign_finalized),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
