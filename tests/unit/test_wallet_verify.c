/* kura_wallet_verify_psbt and kura_wallet_verify_tx: every signature kura's
 * signer makes, for each wallet kind, verifies (in the PSBT, in the finalized
 * PSBT and in the extracted transaction); a flipped byte, a signature moved
 * to another input, a wrong amount in a UTXO, a missing UTXO, and a sighash
 * type other than the one the input asks for are each refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kura/descriptor.h"
#include "kura/keys.h"
#include "kura/psbt.h"
#include "kura/script.h"
#include "kura/sighash.h"
#include "kura/wallet.h"
#include "testutil_keys.h"
#include "testutil_wallet.h"

#define H KURA_BIP32_HARDENED
#define N_COINS 3

typedef struct signer {
    kura_bip32_key master;
    char origin_xpub[256]; /* "[fp/path]xpub" */
} signer;

static void make_signer(signer *s, uint8_t seed_byte, const char *path_text)
{
    uint32_t path[8];
    size_t path_len;
    assert_int_equal(kura_bip32_path_parse(path, 8, &path_len, path_text, NULL), KURA_OK);
    tu_make_master(tu_ctx, &s->master, s->origin_xpub, sizeof(s->origin_xpub), seed_byte, path,
                   path_len, path_text);
}

/* One wallet kind under test: its descriptor, the signers that sign, and what
 * a fully signed PSBT holds. */
typedef struct wallet_case {
    const char *name;
    kura_descriptor *desc;
    signer signers[3];
    size_t n_signers; /* how many sign */
    size_t sigs_per_input;
    int taproot;
    int legacy; /* P2PKH or legacy P2SH: signatures do not commit to amounts */
} wallet_case;

typedef struct built {
    kura_tx *funding[N_COINS];
    kura_psbt *psbt;
} built;

/* Builds the 3-input PSBT (receive 0, receive 5, change 2; a payment and change)
 * and signs it with every signer of the case. */
static void build(built *b, const wallet_case *wc, int sign)
{
    static const size_t branches[N_COINS] = {0, 0, 1};
    static const uint32_t indexes[N_COINS] = {0, 5, 2};
    static const uint64_t amounts[N_COINS] = {120000, 80000, 45000};
    kura_wallet_coin coins[N_COINS];
    uint8_t pay_script[KURA_SCRIPT_PUBKEY_MAX];
    size_t pay_len;
    kura_error err;

    memset(b, 0, sizeof(*b));
    memset(coins, 0, sizeof(coins));
    for (size_t i = 0; i < N_COINS; i++) {
        b->funding[i] = tu_funding_tx(tu_ctx, wc->desc, branches[i], indexes[i], amounts[i],
                                      (uint8_t)(0x31 + i), 5000);
        assert_int_equal(kura_tx_txid(coins[i].txid, b->funding[i]), KURA_OK);
        coins[i].vout = 1;
        coins[i].amount = amounts[i];
        coins[i].branch = branches[i];
        coins[i].index = indexes[i];
        coins[i].prev_tx = b->funding[i];
    }
    assert_int_equal(kura_address_to_script(pay_script, sizeof(pay_script), &pay_len,
                                            "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
                                            KURA_NETWORK_MAINNET, NULL),
                     KURA_OK);
    kura_wallet_payment pay = {pay_script, pay_len, 200000};
    if (kura_wallet_create_psbt(tu_ctx, &b->psbt, wc->desc, coins, N_COINS, &pay, 1, 40000, 3, 0,
                                &err) != KURA_OK)
        fail_msg("%s: create: %s", wc->name, err.message);
    for (size_t s = 0; sign && s < wc->n_signers; s++) {
        size_t count = 0;
        if (kura_psbt_sign_bip32(tu_ctx, b->psbt, &count, &wc->signers[s].master, 0, &err) !=
            KURA_OK)
            fail_msg("%s: sign %zu: %s", wc->name, s, err.message);
    }
}

static void unbuild(built *b)
{
    kura_psbt_free(b->psbt);
    for (size_t i = 0; i < N_COINS; i++) kura_tx_free(b->funding[i]);
}

static void expect_ok(const kura_psbt *psbt, size_t want, const char *what)
{
    kura_error err;
    size_t checked = 99;
    memset(&err, 0, sizeof(err));
    if (kura_wallet_verify_psbt(tu_ctx, &checked, psbt, &err) != KURA_OK)
        fail_msg("%s: %s", what, err.message);
    if (checked != want) fail_msg("%s: checked %zu signatures, expected %zu", what, checked, want);
}

static void expect_refused(const kura_psbt *psbt, const char *needle, const char *what)
{
    kura_error err;
    size_t checked = 99;
    memset(&err, 0, sizeof(err));
    int rc = kura_wallet_verify_psbt(tu_ctx, &checked, psbt, &err);
    if (rc != KURA_EDATA) fail_msg("%s: expected KURA_EDATA, got %s", what, kura_status_name(rc));
    assert_int_equal(err.code, KURA_EDATA);
    assert_int_equal(checked, 0);
    if (needle != NULL && strstr(err.message, needle) == NULL)
        fail_msg("%s: message \"%s\" lacks \"%s\"", what, err.message, needle);
}

/* A fresh signed copy of the case's PSBT, for one tampering. */
static kura_psbt *signed_copy(const built *b)
{
    kura_psbt *c = NULL;
    assert_int_equal(kura_psbt_clone(&c, b->psbt), KURA_OK);
    return c;
}

/* The first signature of input i, whatever its kind: pointer and length. */
static uint8_t *first_sig(kura_psbt *p, size_t i, size_t *len)
{
    kura_psbt_input *in = &p->inputs[i];
    if (in->partial_sig_count > 0) {
        *len = in->partial_sigs[0].sig_len;
        return in->partial_sigs[0].sig;
    }
    if (in->tap_key_sig_len > 0) {
        *len = in->tap_key_sig_len;
        return in->tap_key_sig;
    }
    assert_true(in->tap_script_sig_count > 0);
    *len = in->tap_script_sigs[0].sig_len;
    return in->tap_script_sigs[0].sig;
}

static void drop_non_witness_utxos(kura_psbt *p)
{
    for (size_t i = 0; i < p->input_count; i++) {
        kura_tx_free(p->inputs[i].non_witness_utxo);
        p->inputs[i].non_witness_utxo = NULL;
    }
}

static void run_case(wallet_case *wc)
{
    built b;
    kura_error err;
    size_t checked;
    char what[128];
    const size_t total = N_COINS * wc->sigs_per_input;

    /* Nothing signed yet: nothing to check, and that is not an error. */
    build(&b, wc, 0);
    snprintf(what, sizeof(what), "%s unsigned", wc->name);
    expect_ok(b.psbt, 0, what);
    unbuild(&b);

    build(&b, wc, 1);
    snprintf(what, sizeof(what), "%s signed", wc->name);
    expect_ok(b.psbt, total, what);
    /* Verification touches no secret: it needs no context. */
    checked = 0;
    assert_int_equal(kura_wallet_verify_psbt(NULL, &checked, b.psbt, NULL), KURA_OK);
    assert_int_equal(checked, total);

    /* A flipped byte in one signature (inside r, or inside the Schnorr R). */
    {
        kura_psbt *c = signed_copy(&b);
        size_t len;
        uint8_t *sig = first_sig(c, 1, &len);
        sig[wc->taproot ? 10 : 8] ^= 0x01;
        snprintf(what, sizeof(what), "%s flipped byte", wc->name);
        expect_refused(c, "input 1: signature by", what);
        kura_psbt_free(c);
    }
    /* Input 0's signature, valid there, moved into input 1. */
    {
        kura_psbt *c = signed_copy(&b);
        kura_psbt_input *in0 = &c->inputs[0], *in1 = &c->inputs[1];
        if (wc->taproot) {
            size_t len0, len1;
            uint8_t *s0 = first_sig(c, 0, &len0), *s1 = first_sig(c, 1, &len1);
            assert_int_equal(len0, len1);
            memcpy(s1, s0, len0);
        } else {
            memcpy(in1->partial_sigs[0].sig, in0->partial_sigs[0].sig, in0->partial_sigs[0].sig_len);
            in1->partial_sigs[0].sig_len = in0->partial_sigs[0].sig_len;
        }
        snprintf(what, sizeof(what), "%s moved signature", wc->name);
        expect_refused(c, "input 1: signature by", what);
        kura_psbt_free(c);
    }
    /* A wrong amount in input 0's witness UTXO: first caught as disagreeing
     * with the non-witness UTXO; without that, by the signatures themselves
     * (BIP143 and BIP341 commit to amounts; legacy ones do not). */
    {
        kura_psbt *c = signed_copy(&b);
        c->inputs[0].witness_utxo.amount += 1;
        snprintf(what, sizeof(what), "%s amount vs non-witness UTXO", wc->name);
        expect_refused(c, "input 0: the witness UTXO disagrees", what);
        drop_non_witness_utxos(c);
        snprintf(what, sizeof(what), "%s wrong amount", wc->name);
        /* Legacy sighashes do not commit to the amount. */
        if (!wc->legacy) expect_refused(c, "input 0: signature by", what);
        kura_psbt_free(c);
    }
    /* The input asks for a sighash type the signature does not carry. */
    {
        kura_psbt *c = signed_copy(&b);
        assert_int_equal(kura_psbt_input_set_sighash_type(c, 2, 0x81), KURA_OK);
        snprintf(what, sizeof(what), "%s sighash type", wc->name);
        expect_refused(c, "input 2: signature by", what);
        kura_psbt_free(c);
    }
    if (wc->taproot) {
        /* BIP341 needs every spent output: input 2 without its UTXOs. */
        kura_psbt *c = signed_copy(&b);
        drop_non_witness_utxos(c);
        c->inputs[2].has_witness_utxo = 0;
        snprintf(what, sizeof(what), "%s missing UTXO", wc->name);
        expect_refused(c, "input 2 has no UTXO", what);
        kura_psbt_free(c);
    }

    /* Finalized: the signatures now live in the final scripts. */
    {
        kura_psbt *c = signed_copy(&b);
        kura_tx *tx = NULL;
        kura_txout spent[N_COINS];
        if (kura_psbt_finalize(c, &err) != KURA_OK) fail_msg("%s: finalize: %s", wc->name, err.message);
        /* multi_a needs only m signatures; the finalizer keeps exactly those. */
        snprintf(what, sizeof(what), "%s finalized", wc->name);
        expect_ok(c, total, what);
        assert_int_equal(kura_psbt_extract(&tx, c, &err), KURA_OK);
        for (size_t i = 0; i < N_COINS; i++) spent[i] = b.funding[i]->outputs[1];
        checked = 0;
        if (kura_wallet_verify_tx(tu_ctx, &checked, tx, spent, &err) != KURA_OK)
            fail_msg("%s: verify_tx: %s", wc->name, err.message);
        assert_int_equal(checked, total);

        /* A flipped byte in the extracted transaction's first signature. */
        size_t item = 0; /* the first non-empty witness item: a signature */
        if (wc->legacy) {
            /* scriptSig: <sig...> — flip a byte inside the first push. */
            kura_bytes *ss = &tx->inputs[1].script_sig;
            size_t at = ss->data[0] == 0 ? 10 : 8;
            ss->data[at] ^= 0x01;
        } else {
            while (tx->inputs[1].witness[item].len == 0) item++;
            tx->inputs[1].witness[item].data[10] ^= 0x01;
        }
        assert_int_equal(kura_wallet_verify_tx(tu_ctx, &checked, tx, spent, &err), KURA_EDATA);
        assert_int_equal(checked, 0);
        assert_non_null(strstr(err.message, "input 1"));
        if (wc->legacy) {
            kura_bytes *ss = &tx->inputs[1].script_sig;
            ss->data[ss->data[0] == 0 ? 10 : 8] ^= 0x01;
        } else {
            tx->inputs[1].witness[item].data[10] ^= 0x01;
        }
        assert_int_equal(kura_wallet_verify_tx(tu_ctx, &checked, tx, spent, &err), KURA_OK);

        /* The wrong amount for input 2's spent output. */
        if (!wc->legacy) {
            spent[2].amount -= 1;
            assert_int_equal(kura_wallet_verify_tx(tu_ctx, &checked, tx, spent, &err), KURA_EDATA);
            assert_non_null(strstr(err.message, wc->taproot ? "input 0" : "input 2"));
            spent[2].amount += 1;
        }
        /* Another script entirely for input 0. */
        spent[0] = b.funding[1]->outputs[1];
        assert_int_equal(kura_wallet_verify_tx(tu_ctx, &checked, tx, spent, &err), KURA_EDATA);
        kura_tx_free(tx);
        kura_psbt_free(c);
    }
    unbuild(&b);
}

/* The descriptor is prefix, then each key as "[origin]xpub/<0;1>/STAR" separated
 * by commas (STAR being the wildcard), then suffix. */
static void make_case(wallet_case *wc, const char *name, const char *prefix, const char *suffix,
                      uint8_t seed0,
                      const char *path, size_t n_keys, size_t n_sign, size_t sigs, int taproot,
                      int legacy)
{
    char desc[2048];
    kura_error err;
    memset(wc, 0, sizeof(*wc));
    wc->name = name;
    for (size_t i = 0; i < n_keys; i++) make_signer(&wc->signers[i], (uint8_t)(seed0 + i), path);
    snprintf(desc, sizeof(desc), "%s", prefix);
    for (size_t i = 0; i < n_keys; i++) {
        size_t at = strlen(desc);
        snprintf(desc + at, sizeof(desc) - at, "%s%s/<0;1>/*", i > 0 ? "," : "",
                 wc->signers[i].origin_xpub);
    }
    size_t at = strlen(desc);
    snprintf(desc + at, sizeof(desc) - at, "%s", suffix);
    if (kura_descriptor_parse(tu_ctx, &wc->desc, desc, strlen(desc), &err) != KURA_OK)
        fail_msg("%s: descriptor: %s", name, err.message);
    wc->n_signers = n_sign;
    wc->sigs_per_input = sigs;
    wc->taproot = taproot;
    wc->legacy = legacy;
}

static void free_case(wallet_case *wc)
{
    kura_descriptor_free(wc->desc);
    for (size_t i = 0; i < 3; i++) kura_bip32_wipe(&wc->signers[i].master);
}

static void test_wpkh(void **state)
{
    (void)state;
    wallet_case wc;
    make_case(&wc, "wpkh", "wpkh(", ")", 1, "84h/0h/0h", 1, 1, 1, 0, 0);
    run_case(&wc);
    free_case(&wc);
}

static void test_wsh_sortedmulti(void **state)
{
    (void)state;
    wallet_case wc;
    make_case(&wc, "wsh", "wsh(sortedmulti(2,", "))", 2,
              "48h/0h/0h/2h", 3, 2, 2, 0, 0);
    run_case(&wc);
    free_case(&wc);
}

static void test_tr_keypath(void **state)
{
    (void)state;
    wallet_case wc;
    make_case(&wc, "tr", "tr(", ")", 5, "86h/0h/0h", 1, 1, 1, 1, 0);
    run_case(&wc);
    free_case(&wc);
}

static void test_tr_sortedmulti_a(void **state)
{
    (void)state;
    wallet_case wc;
    make_case(&wc, "tr-multi_a",
              "tr(50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0,"
              "sortedmulti_a(2,",
              "))",
              6, "48h/0h/0h/3h", 3, 2, 2, 1, 0);
    run_case(&wc);
    free_case(&wc);
}

static void test_pkh(void **state)
{
    (void)state;
    wallet_case wc;
    make_case(&wc, "pkh", "pkh(", ")", 9, "44h/0h/0h", 1, 1, 1, 0, 1);
    run_case(&wc);
    free_case(&wc);
}

static void test_sh_wpkh(void **state)
{
    (void)state;
    wallet_case wc;
    make_case(&wc, "sh-wpkh", "sh(wpkh(", "))", 10, "49h/0h/0h", 1, 1, 1, 0, 0);
    run_case(&wc);
    free_case(&wc);
}

static void test_sh_wsh_multi(void **state)
{
    (void)state;
    wallet_case wc;
    make_case(&wc, "sh-wsh", "sh(wsh(multi(2,", ")))", 11,
              "48h/0h/0h/1h", 3, 2, 2, 0, 0);
    run_case(&wc);
    free_case(&wc);
}

static void test_sh_multi_legacy(void **state)
{
    (void)state;
    wallet_case wc;
    make_case(&wc, "sh-multi", "sh(sortedmulti(2,", "))", 14,
              "45h", 3, 2, 2, 0, 1);
    run_case(&wc);
    free_case(&wc);
}

/* A key-path signature that is valid, but for another input's output key, and
 * a script-path signature naming a leaf the input does not hold. */
static void test_taproot_misplaced(void **state)
{
    (void)state;
    wallet_case wc;
    built b;
    make_case(&wc, "tr-multi_a",
              "tr(50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0,"
              "sortedmulti_a(2,",
              "))",
              6, "48h/0h/0h/3h", 3, 2, 2, 1, 0);
    build(&b, &wc, 1);
    {
        kura_psbt *c = signed_copy(&b);
        c->inputs[1].tap_script_sigs[0].leaf_hash[0] ^= 0x01;
        expect_refused(c, "for a leaf the input does not hold", "unknown leaf");
        kura_psbt_free(c);
    }
    {
        kura_psbt *c = signed_copy(&b);
        /* Input 1's key, input 0's leaf hash: the key is not in that leaf. */
        kura_psbt_tap_script_sig *s0 = &c->inputs[0].tap_script_sigs[0];
        kura_psbt_tap_script_sig *s1 = &c->inputs[1].tap_script_sigs[0];
        memcpy(s0->xonly, s1->xonly, 32);
        expect_refused(c, "the key is not in the leaf", "foreign key");
        kura_psbt_free(c);
    }
    {
        kura_psbt *c = signed_copy(&b);
        /* A control block that commits to another output key. */
        c->inputs[2].tap_leaf_scripts[0].control_block.data[1] ^= 0x01;
        expect_refused(c, "control block", "bad control block");
        kura_psbt_free(c);
    }
    unbuild(&b);
    free_case(&wc);
}

static void test_misuse(void **state)
{
    (void)state;
    size_t checked = 7;
    kura_error err;
    assert_int_equal(kura_wallet_verify_psbt(tu_ctx, &checked, NULL, &err), KURA_EINVAL);
    assert_int_equal(checked, 0);
    assert_int_equal(kura_wallet_verify_psbt(tu_ctx, NULL, NULL, NULL), KURA_EINVAL);
    checked = 7;
    assert_int_equal(kura_wallet_verify_tx(tu_ctx, &checked, NULL, NULL, &err), KURA_EINVAL);
    assert_int_equal(checked, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wpkh),
        cmocka_unit_test(test_wsh_sortedmulti),
        cmocka_unit_test(test_tr_keypath),
        cmocka_unit_test(test_tr_sortedmulti_a),
        cmocka_unit_test(test_pkh),
        cmocka_unit_test(test_sh_wpkh),
        cmocka_unit_test(test_sh_wsh_multi),
        cmocka_unit_test(test_sh_multi_legacy),
        cmocka_unit_test(test_taproot_misplaced),
        cmocka_unit_test(test_misuse),
    };
    return cmocka_run_group_tests(tests, tu_ctx_setup, tu_ctx_teardown);
}
