/* Bitcoin Core's address and key test data (tests/vectors/core/key_io_*.json,
 * Core's src/test/data, as is): every valid address of every chain gives its
 * scriptPubKey and is written back the same way (bech32 in lower case);
 * every WIF key decodes to its key, compression and network; every invalid
 * string is refused as an address on every network and as a WIF key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kura/keys.h"
#include "kura/script.h"
#include "testutil.h"

static kura_network chain_network(const char *chain)
{
    if (strcmp(chain, "main") == 0) return KURA_NETWORK_MAINNET;
    if (strcmp(chain, "regtest") == 0) return KURA_NETWORK_REGTEST;
    if (strcmp(chain, "test") == 0 || strcmp(chain, "signet") == 0) return KURA_NETWORK_TESTNET;
    fail_msg("unknown chain %s", chain);
    return KURA_NETWORK_MAINNET;
}

static void test_valid(void **state)
{
    json_t *v = tu_load_json("core/key_io_valid.json");
    size_t i, addresses = 0, keys = 0;
    json_t *e;
    (void)state;
    assert_true(json_is_array(v));
    json_array_foreach(v, i, e) {
        const char *text = json_string_value(json_array_get(e, 0));
        const char *hex = json_string_value(json_array_get(e, 1));
        json_t *meta = json_array_get(e, 2);
        const char *chain = tu_str(meta, "chain");
        kura_network net = chain_network(chain);
        size_t want_len;
        uint8_t *want = tu_unhex(hex, &want_len);
        kura_error err;
        assert_non_null(text);
        if (json_is_true(json_object_get(meta, "isPrivkey"))) {
            uint8_t priv[32];
            int compressed = -1;
            kura_network got_net;
            if (kura_wif_decode(priv, &compressed, &got_net, text, &err) != KURA_OK)
                fail_msg("vector %zu: WIF %s refused: %s", i, text, err.message);
            tu_assert_bytes_equal(priv, 32, want, want_len);
            assert_int_equal(compressed, json_is_true(json_object_get(meta, "isCompressed")));
            /* regtest, signet and testnet share the WIF prefix */
            assert_int_equal(got_net, net == KURA_NETWORK_REGTEST ? KURA_NETWORK_TESTNET : net);
            keys++;
        } else {
            uint8_t script[KURA_SCRIPT_PUBKEY_MAX];
            size_t len = 0;
            char back[KURA_ADDRESS_MAX];
            char *lower;
            if (kura_address_to_script(script, sizeof(script), &len, text, net, &err) != KURA_OK)
                fail_msg("vector %zu: %s (%s) refused: %s", i, text, chain, err.message);
            tu_assert_bytes_equal(script, len, want, want_len);
            /* Written back: Base58 as is, bech32 in lower case. */
            if (kura_address_from_script(back, sizeof(back), want, want_len, net, &err) != KURA_OK)
                fail_msg("vector %zu: script %s has no address: %s", i, hex, err.message);
            lower = tu_lower_copy(text);
            if (strncmp(text, "bc1", 3) == 0 || strncmp(text, "BC1", 3) == 0 ||
                strncmp(text, "tb1", 3) == 0 || strncmp(text, "TB1", 3) == 0 ||
                strncmp(text, "bcrt1", 5) == 0 || strncmp(text, "BCRT1", 5) == 0)
                assert_string_equal(back, lower);
            else
                assert_string_equal(back, text);
            free(lower);
            /* Another network's hrp or version byte: refused there. */
            if (net != KURA_NETWORK_REGTEST || strncmp(text, "bcrt", 4) == 0 ||
                strncmp(text, "BCRT", 4) == 0) {
                kura_network other =
                    net == KURA_NETWORK_MAINNET ? KURA_NETWORK_TESTNET : KURA_NETWORK_MAINNET;
                assert_int_equal(kura_address_to_script(script, sizeof(script), &len, text, other,
                                                        NULL),
                                 KURA_EDATA);
            }
            addresses++;
        }
        free(want);
    }
    /* Core 26.0's file: every chain, both kinds. */
    assert_true(addresses >= 50);
    assert_true(keys >= 10);
    json_decref(v);
}

static void test_invalid(void **state)
{
    json_t *v = tu_load_json("core/key_io_invalid.json");
    size_t i, n = 0;
    json_t *e;
    (void)state;
    json_array_foreach(v, i, e) {
        const char *text = json_string_value(json_array_get(e, 0));
        assert_non_null(text);
        for (int net = KURA_NETWORK_MAINNET; net <= KURA_NETWORK_REGTEST; net++) {
            uint8_t script[KURA_SCRIPT_PUBKEY_MAX];
            size_t len = 99;
            if (kura_address_to_script(script, sizeof(script), &len, text, (kura_network)net,
                                       NULL) != KURA_EDATA)
                fail_msg("vector %zu: '%s' accepted as an address on %s", i, text,
                         kura_network_name((kura_network)net));
            assert_int_equal(len, 0);
        }
        {
            uint8_t priv[32];
            int compressed;
            kura_network net;
            if (kura_wif_decode(priv, &compressed, &net, text, NULL) != KURA_EDATA)
                fail_msg("vector %zu: '%s' accepted as a WIF key", i, text);
        }
        n++;
    }
    assert_true(n >= 50);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
