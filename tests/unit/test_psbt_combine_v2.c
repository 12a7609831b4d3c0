/* BIP370 Combiner: PSBTv2 copies to which other Constructors added inputs
 * and outputs are merged into one (inputs by outpoint, outputs by amount and
 * script, new ones appended), as far as PSBT_GLOBAL_TX_MODIFIABLE allows;
 * what it does not allow is refused and leaves dst unchanged. */
#include <stdlib.h>
#include <string.h>

#include "kura/psbt.h"
#include "kura/tx.h"
#include "testutil.h"

static const uint8_t G[33] = {0x02, 0x79, 0xbe, 0x66, 0x7e, 0xf9, 0xdc, 0xbb, 0xac, 0x55, 0xa0,
                              0x62, 0x95, 0xce, 0x87, 0x0b, 0x07, 0x02, 0x9b, 0xfc, 0xdb, 0x2d,
                              0xce, 0x28, 0xd9, 0x59, 0xf2, 0x81, 0x5b, 0x16, 0xf8, 0x17, 0x98};

/* A v2 PSBT of `nin` inputs (txid byte 1..nin, vout 0) and `nout` outputs
 * (amount 1000 * k, script 0x51 + k), modifiable as `mod`. */
static kura_psbt *make(size_t nin, size_t nout, const size_t *in_ids, const size_t *out_ids,
                       uint8_t mod)
{
    kura_tx *tx = kura_tx_new();
    kura_psbt *p = NULL;
    assert_non_null(tx);
    for (size_t i = 0; i < nin; i++) {
        uint8_t txid[32] = {0};
        txid[0] = (uint8_t)in_ids[i];
        assert_int_equal(kura_tx_add_input(tx, txid, 0, 0xfffffffdu, NULL, 0), KURA_OK);
    }
    for (size_t i = 0; i < nout; i++) {
        uint8_t script[1] = {(uint8_t)(0x50 + out_ids[i])};
        assert_int_equal(kura_tx_add_output(tx, 1000u * out_ids[i], script, 1), KURA_OK);
    }
    assert_int_equal(kura_psbt_from_tx(&p, tx, 2, NULL), KURA_OK);
    kura_tx_free(tx);
    p->has_tx_modifiable = 1;
    p->tx_modifiable = mod;
    return p;
}

static void test_constructors_merge(void **state)
{
    const uint8_t fp[4] = {1, 2, 3, 4};
    const uint32_t path[1] = {5};
    const size_t a_in[2] = {1, 2}, b_in[1] = {1}, a_out[1] = {1}, b_out[2] = {1, 3};
    const uint8_t both = KURA_PSBT_TXMOD_INPUTS | KURA_PSBT_TXMOD_OUTPUTS;
    kura_psbt *a, *b, *c;
    kura_error err;
    (void)state;
    /* A added input 2; B added output 3 and a derivation record on input 1. */
    a = make(2, 1, a_in, a_out, both);
    b = make(1, 2, b_in, b_out, KURA_PSBT_TXMOD_OUTPUTS | KURA_PSBT_TXMOD_INPUTS);
    assert_int_equal(kura_psbt_input_add_bip32(b, 0, G, 33, fp, path, 1), KURA_OK);
    if (kura_psbt_combine(a, b, &err) != KURA_OK) fail_msg("combine: %s", err.message);
    assert_int_equal(a->input_count, 2);
    assert_int_equal(a->output_count, 2);
    assert_int_equal(a->inputs[0].prev_txid[0], 1);
    assert_int_equal(a->inputs[1].prev_txid[0], 2);
    assert_int_equal(a->inputs[0].bip32_count, 1);
    assert_int_equal(a->outputs[0].amount, 1000);
    assert_int_equal(a->outputs[1].amount, 3000);
    assert_int_equal(a->outputs[1].script_pubkey.data[0], 0x53);
    assert_int_equal(a->tx_modifiable, both);
    /* It serialises and parses as one PSBT. */
    {
        uint8_t *bin = NULL;
        size_t len = 0;
        kura_psbt *q = NULL;
        assert_int_equal(kura_psbt_serialize(&bin, &len, a), KURA_OK);
        assert_int_equal(kura_psbt_parse(&q, bin, len, NULL), KURA_OK);
        assert_int_equal(q->input_count, 2);
        assert_int_equal(q->output_count, 2);
        free(bin);
        kura_psbt_free(q);
    }
    kura_psbt_free(a);
    kura_psbt_free(b);

    /* Outputs are not modifiable in A (a signer signed with ALL): B's added
     * output is refused and A is unchanged. */
    a = make(2, 1, a_in, a_out, KURA_PSBT_TXMOD_INPUTS);
    b = make(1, 2, b_in, b_out, both);
    assert_int_equal(kura_psbt_combine(a, b, &err), KURA_EDATA);
    assert_non_null(strstr(err.message, "outputs to be added"));
    assert_int_equal(a->output_count, 1);
    kura_psbt_free(b);
    /* Nor inputs, when B does not allow them. */
    b = make(1, 1, b_in, a_out, KURA_PSBT_TXMOD_OUTPUTS);
    c = make(2, 1, a_in, a_out, both);
    assert_int_equal(kura_psbt_combine(b, c, &err), KURA_EDATA);
    assert_non_null(strstr(err.message, "inputs to be added"));
    assert_int_equal(b->input_count, 1);
    kura_psbt_free(a);
    kura_psbt_free(b);
    kura_psbt_free(c);
    /* Beside a SIGHASH_SINGLE signature nothing is added. */
    a = make(1, 1, b_in, a_out, both | KURA_PSBT_TXMOD_SIGHASH_SINGLE);
    b = make(1, 2, b_in, b_out, both);
    assert_int_equal(kura_psbt_combine(a, b, &err), KURA_EDATA);
    assert_non_null(strstr(err.message, "SIGHASH_SINGLE"));
    kura_psbt_free(a);
    kura_psbt_free(b);
    /* Two equal outputs are matched one to one: B's second copy is new. */
    {
        const size_t one[1] = {1}, two[2] = {1, 1};
        a = make(1, 1, b_in, one, both);
        b = make(1, 2, b_in, two, both);
        assert_int_equal(kura_psbt_combine(a, b, &err), KURA_OK);
        assert_int_equal(a->output_count, 2);
        kura_psbt_free(a);
        kura_psbt_free(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constructors_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
