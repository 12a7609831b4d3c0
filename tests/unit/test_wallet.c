/* The wallet Updater end to end inside libkura: for each kura wallet kind
 * (P2WPKH, P2WSH 2-of-3 sortedmulti, P2TR key path, P2TR sortedmulti_a 2-of-3),
 * build a PSBT from the descriptor, sign it with the master keys, finalize,
 * extract, and verify every signature against an independently computed
 * sighash. Interop tests repeat this against Electrum and bitcoinjs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kura/descriptor.h"
#include "kura/hash.h"
#include "kura/keys.h"
#include "kura/psbt.h"
#include "kura/script.h"
#include "kura/sighash.h"
#include "kura/wallet.h"
#include "testutil_keys.h"
#include "testutil_wallet.h"

#define H KURA_BIP32_HARDENED

typedef struct signer {
    kura_bip32_key master;
    char origin_xpub[256]; /* "[fp/path]xpub" */
} signer;

static void make_signer(signer *s, uint8_t seed_byte, const uint32_t *path, size_t path_len,
                        const char *path_text)
{
    tu_make_master(tu_ctx, &s->master, s->origin_xpub, sizeof(s->origin_xpub), seed_byte, path,
                   path_len, path_text);
}

/* Builds, signs with `nsign` of the signers, finalizes and checks. */
static void run_wallet(const char *desc_text, signer *signers, size_t nsign, size_t witness_items)
{
    kura_descriptor *d = NULL;
    kura_error err;
    kura_tx *f1, *f2, *final = NULL;
    kura_psbt *psbt = NULL;
    uint8_t pay_script[KURA_SCRIPT_PUBKEY_MAX];
    size_t pay_len;

    if (kura_descriptor_parse(tu_ctx, &d, desc_text, strlen(desc_text), &err) != KURA_OK)
        fail_msg("descriptor: %s", err.message);
    f1 = tu_funding_tx(tu_ctx, d, 0, 3, 150000, 0x11, 1000);
    f2 = tu_funding_tx(tu_ctx, d, 1, 0, 70000, 0x22, 1000);
    kura_wallet_coin coins[2];
    memset(coins, 0, sizeof(coins));
    assert_int_equal(kura_tx_txid(coins[0].txid, f1), KURA_OK);
    coins[0].vout = 1;
    coins[0].amount = 150000;
    coins[0].branch = 0;
    coins[0].index = 3;
    coins[0].prev_tx = f1;
    assert_int_equal(kura_tx_txid(coins[1].txid, f2), KURA_OK);
    coins[1].vout = 1;
    coins[1].amount = 70000;
    coins[1].branch = 1;
    coins[1].index = 0;
    coins[1].prev_tx = f2;
    assert_int_equal(kura_address_to_script(pay_script, sizeof(pay_script), &pay_len,
                                            "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
                                            KURA_NETWORK_MAINNET, NULL),
                     KURA_OK);
    kura_wallet_payment pay = {pay_script, pay_len, 180000};
    if (kura_wallet_create_psbt(tu_ctx, &psbt, d, coins, 2, &pay, 1, 38000, 7, 0, &err) != KURA_OK)
        fail_msg("create: %s", err.message);
    assert_int_equal(psbt->input_count, 2);
    assert_int_equal(psbt->output_count, 2);

    /* The PSBT survives serialisation (what travels to the signer). */
    {
        uint8_t *bytes;
        size_t len;
        kura_psbt *again = NULL;
        assert_int_equal(kura_psbt_serialize(&bytes, &len, psbt), KURA_OK);
        assert_int_equal(kura_psbt_parse(&again, bytes, len, NULL), KURA_OK);
        kura_psbt_free(psbt);
        psbt = again;
        free(bytes);
    }

    for (size_t i = 0; i < nsign; i++) {
        size_t count = 0;
        if (kura_psbt_sign_bip32(tu_ctx, psbt, &count, &signers[i].master, 0, &err) != KURA_OK)
            fail_msg("sign %zu: %s", i, err.message);
        assert_int_equal(count, 2);
    }
    if (kura_psbt_finalize(psbt, &err) != KURA_OK) fail_msg("finalize: %s", err.message);
    assert_int_equal(kura_psbt_extract(&final, psbt, &err), KURA_OK);

    /* Verify each input's signatures independently of the PSBT signer. */
    kura_txout spent[2];
    spent[0] = f1->outputs[1];
    spent[1] = f2->outputs[1];
    kura_sighash_cache cache;
    assert_int_equal(kura_sighash_cache_init(&cache, final, spent), KURA_OK);
    for (size_t i = 0; i < 2; i++) {
        const kura_txin *in = &final->inputs[i];
        const uint8_t *prog;
        size_t prog_len;
        unsigned ver;
        kura_script_type t = kura_script_classify(spent[i].script_pubkey.data,
                                                  spent[i].script_pubkey.len, &prog, &prog_len, &ver);
        assert_int_equal(in->witness_count, witness_items);
        assert_int_equal(in->script_sig.len, 0);
        uint8_t sighash[32];
        if (t == KURA_SCRIPT_P2WPKH) {
            uint8_t code[25];
            size_t code_len;
            assert_int_equal(kura_script_p2pkh(code, sizeof(code), &code_len, prog), KURA_OK);
            assert_int_equal(kura_sighash_segwit_v0(sighash, final, &cache, i, code, code_len,
                                                    spent[i].amount, KURA_SIGHASH_ALL),
                             KURA_OK);
            const kura_bytes *sig = &in->witness[0], *pub = &in->witness[1];
            assert_int_equal(sig->data[sig->len - 1], KURA_SIGHASH_ALL);
            assert_int_equal(kura_ecdsa_verify(tu_ctx, pub->data, pub->len, sighash, sig->data,
                                               sig->len - 1),
                             KURA_OK);
        } else if (t == KURA_SCRIPT_P2WSH) {
            const kura_bytes *ws = &in->witness[in->witness_count - 1];
            uint8_t h[32];
            kura_sha256(h, ws->data, ws->len);
            assert_memory_equal(h, prog, 32);
            assert_int_equal(in->witness[0].len, 0); /* CHECKMULTISIG dummy */
            assert_int_equal(kura_sighash_segwit_v0(sighash, final, &cache, i, ws->data, ws->len,
                                                    spent[i].amount, KURA_SIGHASH_ALL),
                             KURA_OK);
            /* 2-of-3: each signature verifies under one of the script's keys. */
            for (size_t s = 1; s <= 2; s++) {
                const kura_bytes *sig = &in->witness[s];
                int ok = 0;
                for (size_t k = 0; k < 3; k++)
                    ok |= kura_ecdsa_verify(tu_ctx, ws->data + 2 + 34 * k, 33, sighash, sig->data,
                                            sig->len - 1) == KURA_OK;
                assert_true(ok);
            }
        } else if (t == KURA_SCRIPT_P2TR && witness_items == 1) {
            assert_int_equal(kura_sighash_taproot(sighash, final, &cache, spent, i,
                                                  KURA_SIGHASH_DEFAULT, NULL, 0xffffffffu, NULL, 0),
                             KURA_OK);
            assert_int_equal(in->witness[0].len, 64);
            assert_int_equal(kura_schnorr_verify(tu_ctx, in->witness[0].data, sighash, 32, prog),
                             KURA_OK);
        } else if (t == KURA_SCRIPT_P2TR) {
            /* Script path: sigs..., script, control block. */
            const kura_bytes *script = &in->witness[in->witness_count - 2];
            uint8_t leaf[32];
            kura_tapleaf_hash(leaf, 0xc0, script->data, script->len);
            assert_int_equal(kura_sighash_taproot(sighash, final, &cache, spent, i,
                                                  KURA_SIGHASH_DEFAULT, leaf, 0xffffffffu, NULL, 0),
                             KURA_OK);
            size_t good = 0;
            for (size_t s = 0; s + 2 < in->witness_count; s++) {
                const kura_bytes *sig = &in->witness[s];
                if (sig->len == 0) continue;
                assert_int_equal(sig->len, 64);
                /* Stack item s pairs with the script's key n-1-s (BIP342 order). */
                size_t k = in->witness_count - 3 - s;
                const uint8_t *key = script->data + 1 + 34 * k;
                assert_int_equal(kura_schnorr_verify(tu_ctx, sig->data, sighash, 32, key), KURA_OK);
                good++;
            }
            assert_int_equal(good, 2);
        } else {
            fail_msg("unexpected script type %d", (int)t);
        }
    }

    /* The change output is recognised as the wallet's; a foreign claim is refused. */
    {
        kura_descriptor_output *w = kura_descriptor_output_new();
        assert_non_null(w);
        assert_int_equal(kura_wallet_update_output(tu_ctx, psbt, 1, w, d, 1, 7, NULL), KURA_OK);
        assert_int_equal(kura_wallet_update_output(tu_ctx, psbt, 1, w, d, 1, 8, &err), KURA_EDATA);
        assert_int_equal(kura_wallet_update_output(tu_ctx, psbt, 1, w, d, 0, 7, &err), KURA_EDATA);
        assert_int_equal(kura_wallet_update_output(tu_ctx, psbt, 0, w, d, 1, 7, &err), KURA_EDATA);
        kura_descriptor_output_free(w);
    }

    /* A funding tx that does not pay the wallet at the claimed index is refused. */
    {
        kura_psbt *bad = NULL;
        coins[0].index = 4;
        assert_int_equal(kura_wallet_create_psbt(tu_ctx, &bad, d, coins, 2, &pay, 1, 38000, 7, 0, &err),
                         KURA_EDATA);
        assert_null(bad);
        coins[0].index = 3;
        coins[0].amount = 150001; /* lying amount */
        assert_int_equal(kura_wallet_create_psbt(tu_ctx, &bad, d, coins, 2, &pay, 1, 38000, 7, 0, &err),
                         KURA_EDATA);
        coins[0].amount = 150000;
        pay.amount = 300000; /* outputs over inputs */
        assert_int_equal(kura_wallet_create_psbt(tu_ctx, &bad, d, coins, 2, &pay, 1, 38000, 7, 0, &err),
                         KURA_EDATA);
    }

    kura_tx_free(final);
    kura_psbt_free(psbt);
    kura_tx_free(f1);
    kura_tx_free(f2);
    kura_descriptor_free(d);
}

static void test_p2wpkh(void **state)
{
    (void)state;
    signer s;
    const uint32_t path[] = {84 | H, 0 | H, 0 | H};
    char desc[512];
    make_signer(&s, 1, path, 3, "84h/0h/0h");
    snprintf(desc, sizeof(desc), "wpkh(%s/<0;1>/*)", s.origin_xpub);
    run_wallet(desc, &s, 1, 2);
    kura_bip32_wipe(&s.master);
}

static void test_p2wsh_2of3(void **state)
{
    (void)state;
    signer s[3];
    const uint32_t path[] = {48 | H, 0 | H, 0 | H, 2 | H};
    char desc[1024];
    for (int i = 0; i < 3; i++) make_signer(&s[i], (uint8_t)(i + 1), path, 4, "48h/0h/0h/2h");
    snprintf(desc, sizeof(desc), "wsh(sortedmulti(2,%s/<0;1>/*,%s/<0;1>/*,%s/<0;1>/*))",
             s[0].origin_xpub, s[1].origin_xpub, s[2].origin_xpub);
    /* Signers 3 and 1: the finalizer must order signatures by the script's keys. */
    signer order[2] = {s[2], s[0]};
    run_wallet(desc, order, 2, 4);
    for (int i = 0; i < 3; i++) kura_bip32_wipe(&s[i].master);
}

static void test_p2tr_keypath(void **state)
{
    (void)state;
    signer s;
    const uint32_t path[] = {86 | H, 0 | H, 0 | H};
    char desc[512];
    make_signer(&s, 4, path, 3, "86h/0h/0h");
    snprintf(desc, sizeof(desc), "tr(%s/<0;1>/*)", s.origin_xpub);
    run_wallet(desc, &s, 1, 1);
    kura_bip32_wipe(&s.master);
}

static void test_p2tr_sortedmulti_a(void **state)
{
    (void)state;
    signer s[3];
    const uint32_t path[] = {48 | H, 0 | H, 0 | H, 3 | H};
    char desc[1024];
    for (int i = 0; i < 3; i++) make_signer(&s[i], (uint8_t)(i + 5), path, 4, "48h/0h/0h/3h");
    /* The internal key is BIP341's NUMS point: no key path, script path only. */
    snprintf(desc, sizeof(desc),
             "tr(50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0,"
             "sortedmulti_a(2,%s/<0;1>/*,%s/<0;1>/*,%s/<0;1>/*))",
             s[0].origin_xpub, s[1].origin_xpub, s[2].origin_xpub);
    signer order[2] = {s[1], s[2]};
    run_wallet(desc, order, 2, 5);
    for (int i = 0; i < 3; i++) kura_bip32_wipe(&s[i].master);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_p2wpkh),
        cmocka_unit_test(test_p2wsh_2of3),
        cmocka_unit_test(test_p2tr_keypath),
        cmocka_unit_test(test_p2tr_sortedmulti_a),
    };
    return cmocka_run_group_tests(tests, tu_ctx_setup, tu_ctx_teardown);
}
