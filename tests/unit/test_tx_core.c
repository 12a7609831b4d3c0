/* Bitcoin Core's transaction test data (tests/vectors/core/tx_valid.json and
 * tx_invalid.json, Core's src/test/data, as is) as a corpus for the
 * transaction parser: every transaction Core calls valid parses (legacy and
 * BIP144 witness forms) and serialises back byte for byte; of those Core
 * refuses, the ones the parser must refuse (an output amount or their sum
 * over MAX_MONEY, Core's "BADTX" for CheckTransaction) are refused with
 * KURA_ERANGE, and every other one either parses and round-trips or is
 * refused with a code, never anything else. (Script and consensus checks —
 * signatures, no outputs, duplicate inputs, coinbase sizes — are not the
 * parser's; kura's signer checks what it signs itself.) The transactions are
 * also the fuzz_tx_parse seeds (tests/fuzz/corpus/fuzz_tx_parse/core-*). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kura/tx.h"
#include "testutil.h"

/* Parses and, on success, requires the serialisation to give the bytes back. */
static int parse_round_trip(const char *hex, size_t i)
{
    size_t len, n = 0;
    uint8_t *raw = tu_unhex(hex, &len), *again;
    kura_tx *tx = NULL;
    uint8_t txid[32];
    int rc = kura_tx_parse(&tx, raw, len, KURA_TX_WITNESS, NULL);
    if (rc == KURA_OK) {
        again = malloc(len + 1);
        assert_non_null(again);
        assert_int_equal(kura_tx_serialize(again, len, &n, tx, KURA_TX_WITNESS), KURA_OK);
        if (n != len || memcmp(again, raw, len) != 0) fail_msg("vector %zu: no round trip", i);
        assert_int_equal(kura_tx_txid(txid, tx), KURA_OK);
        free(again);
        kura_tx_free(tx);
    } else {
        assert_null(tx);
        assert_true(rc == KURA_EDATA || rc == KURA_ERANGE);
    }
    free(raw);
    return rc;
}

static void test_tx_valid(void **state)
{
    json_t *v = tu_load_json("core/tx_valid.json");
    size_t i, n = 0, witness = 0;
    json_t *e;
    (void)state;
    json_array_foreach(v, i, e) {
        const char *hex;
        if (json_array_size(e) != 3 || !json_is_array(json_array_get(e, 0))) continue;
        hex = json_string_value(json_array_get(e, 1));
        assert_non_null(hex);
        if (parse_round_trip(hex, i) != KURA_OK) fail_msg("vector %zu: Core's valid tx refused", i);
        /* BIP144 marker and flag after the version */
        if (strlen(hex) > 12 && strncmp(hex + 8, "0001", 4) == 0) witness++;
        n++;
    }
    assert_true(n >= 100);
    assert_true(witness >= 10);
    json_decref(v);
}

static void test_tx_invalid(void **state)
{
    json_t *v = tu_load_json("core/tx_invalid.json");
    const char *comment = "";
    size_t i, n = 0, money = 0;
    json_t *e;
    (void)state;
    json_array_foreach(v, i, e) {
        const char *hex, *flags;
        int rc;
        if (json_array_size(e) == 1 && json_is_string(json_array_get(e, 0))) {
            comment = json_string_value(json_array_get(e, 0));
            continue;
        }
        if (json_array_size(e) != 3) continue;
        hex = json_string_value(json_array_get(e, 1));
        flags = json_string_value(json_array_get(e, 2));
        assert_non_null(hex);
        assert_non_null(flags);
        rc = parse_round_trip(hex, i);
        if (strcmp(flags, "BADTX") == 0 &&
            (strstr(comment, "MAX_MONEY") != NULL || strstr(comment, "Negative output") != NULL)) {
            if (rc != KURA_ERANGE)
                fail_msg("vector %zu (%s): parsed as %d, want KURA_ERANGE", i, comment, rc);
            money++;
        }
        n++;
    }
    assert_true(n >= 90);
    assert_int_equal(money, 3);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tx_valid),
        cmocka_unit_test(test_tx_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
