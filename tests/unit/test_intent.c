/* Transfer intent: the canonical example round-trips, and every canonical-form
 * rule of docs/intent-format.md has a text that breaks it and must be refused
 * with the right code and a message naming the line and the rule. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kura/intent.h"
#include "testutil.h"

static const char EXAMPLE[] =
    "kura-intent 1\n"
    "id: 4f1c2a9e7b3d4c58a1e0f6b2d9c3e7a1\n"
    "network: bitcoin\n"
    "wallet: treasury-cold #q4x7k2m9\n"
    "policy: 3\n"
    "initiator: ops-tanaka\n"
    "created: 2026-11-21T09:30:00Z\n"
    "expires: 2026-11-21T21:30:00Z\n"
    "output: bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq 150000000 withdrawal 8812\n"
    "output: bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297 2500000 withdrawal "
    "8813\n"
    "max-fee: 40000\n";

/* Parses text[0..len) and requires failure with `code` and a message that
 * contains `needle`; also requires *out to stay NULL. */
static void refuse_len(const char *text, size_t len, int code, const char *needle)
{
    kura_intent *in = (kura_intent *)(uintptr_t)1;
    kura_error err;
    memset(&err, 0, sizeof(err));
    int rc = kura_intent_parse(&in, (const uint8_t *)text, len, &err);
    if (rc != code || strstr(err.message, needle) == NULL)
        fail_msg("expected %s with '%s', got %s: '%s'", kura_status_name(code), needle,
                 kura_status_name(rc), err.message);
    assert_int_equal(err.code, code);
    assert_null(in);
}

static void refuse(const char *text, int code, const char *needle)
{
    refuse_len(text, strlen(text), code, needle);
}

/* Replaces `from` by `to` in the example and requires the parser to refuse it. */
static void refuse_edit(const char *from, const char *to, int code, const char *needle)
{
    char *text = tu_edit(EXAMPLE, from, to);
    refuse(text, code, needle);
    free(text);
}

static kura_intent *parse_ok(const char *text)
{
    kura_intent *in = NULL;
    kura_error err;
    memset(&err, 0, sizeof(err));
    int rc = kura_intent_parse(&in, (const uint8_t *)text, strlen(text), &err);
    if (rc != KURA_OK) fail_msg("parse failed: %s", err.message);
    assert_non_null(in);
    return in;
}

/* Requires write(parse(text)) == text byte for byte. */
static void round_trip(const char *text)
{
    kura_intent *in = parse_ok(text);
    char *out = NULL;
    size_t len = 0;
    kura_error err;
    assert_int_equal(kura_intent_write(&out, &len, in, &err), KURA_OK);
    assert_int_equal(len, strlen(text));
    assert_string_equal(out, text);
    free(out);
    kura_intent_free(in);
}

static void test_example_fields(void **state)
{
    (void)state;
    kura_intent *in = parse_ok(EXAMPLE);
    assert_string_equal(in->id, "4f1c2a9e7b3d4c58a1e0f6b2d9c3e7a1");
    assert_int_equal(in->chain, KURA_CHAIN_BITCOIN);
    assert_string_equal(in->wallet.name, "treasury-cold");
    assert_string_equal(in->wallet.checksum, "q4x7k2m9");
    assert_string_equal(in->initiator, "ops-tanaka");
    assert_int_equal(in->created, 1795253400);
    assert_int_equal(in->expires, 1795296600);
    assert_int_equal(in->output_count, 2);
    assert_string_equal(in->outputs[0].address, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq");
    assert_int_equal(in->outputs[0].amount, 150000000);
    assert_string_equal(in->outputs[0].label, "withdrawal 8812");
    /* P2WPKH: OP_0 <20 bytes>; P2TR: OP_1 <32 bytes>. */
    assert_int_equal(in->outputs[0].script_len, 22);
    assert_int_equal(in->outputs[0].script[0], 0x00);
    assert_int_equal(in->outputs[1].script_len, 34);
    assert_int_equal(in->outputs[1].script[0], 0x51);
    assert_int_equal(in->outputs[1].amount, 2500000);
    assert_int_equal(in->max_fee, 40000);
    assert_int_equal(kura_intent_total(in), 152500000);
    kura_intent_free(in);
}

static void test_round_trips(void **state)
{
    (void)state;
    round_trip(EXAMPLE);
    /* No label, base58 destinations, one output. */
    char *t = tu_edit(EXAMPLE,
                      "output: bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq 150000000 withdrawal 8812\n"
                      "output: bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297 "
                      "2500000 withdrawal 8813\n",
                      "output: 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa 1\n"
                      "output: 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy 2100000000000000 x\n");
    char *u =
        tu_edit(t, "2100000000000000 x", "2099999999999999 ~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}");
    round_trip(u);
    free(t);
    free(u);
    /* Other chains: signet and testnet4 read testnet addresses. */
    const char *chains[] = {"testnet", "testnet4", "signet"};
    for (size_t i = 0; i < 3; i++) {
        char net[32];
        snprintf(net, sizeof(net), "network: %s\n", chains[i]);
        t = tu_edit(EXAMPLE, "network: bitcoin\n", net);
        u = tu_edit(t,
                    "output: bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq 150000000 withdrawal 8812\n"
                    "output: bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297 "
                    "2500000 withdrawal 8813\n",
                    "output: tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx 5000\n");
        round_trip(u);
        kura_intent *in = parse_ok(u);
        assert_int_equal(in->chain, (kura_intent_chain)(i + 1));
        kura_network nw;
        assert_int_equal(kura_intent_chain_network(&nw, in->chain), KURA_OK);
        assert_int_equal(nw, KURA_NETWORK_TESTNET);
        kura_intent_free(in);
        free(t);
        free(u);
    }
    /* Regtest and its own hrp; every script type kura pays to. */
    t = tu_edit(EXAMPLE, "network: bitcoin\n", "network: regtest\n");
    u = tu_edit(t,
                "output: bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq 150000000 withdrawal 8812\n"
                "output: bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297 "
                "2500000 withdrawal 8813\n",
                "output: bcrt1qzyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3lgth6c 5000 a b c\n"
                "output: 2MtoTvMi65NXBt3sTCXNd1aqKGa7gXsX8CC 1\n");
    round_trip(u);
    free(t);
    free(u);
    t = tu_edit(EXAMPLE, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
                "bc1qzyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygsszvapf");
    round_trip(t);
    free(t);
    /* Leap day in a leap year is a date. */
    t = tu_edit(EXAMPLE, "expires: 2026-11-21T21:30:00Z", "expires: 2028-02-29T23:59:59Z");
    round_trip(t);
    free(t);
}

static void test_hash(void **state)
{
    (void)state;
    uint8_t h[32], want[32];
    kura_intent_hash(h, (const uint8_t *)EXAMPLE, strlen(EXAMPLE));
    tu_unhex_fixed("2ddc7d42bcdb71408c9df6266f83d5ee2242e2df18285e07387a5cd42d5a811e", want, 32);
    tu_assert_bytes_equal(h, 32, want, 32);
}

static void test_refuse_structure(void **state)
{
    (void)state;
    refuse("", KURA_EDATA, "empty text");
    refuse_edit("kura-intent 1\n", "kura-intent 2\n", KURA_EDATA, "line 1: unsupported version");
    refuse_edit("kura-intent 1\n", "kura-policy 1\n", KURA_EDATA, "line 1: expected 'kura-intent 1'");
    /* Duplicate, reordered, unknown, missing fields. */
    refuse_edit("network: bitcoin\n", "id: 4f1c2a9e7b3d4c58a1e0f6b2d9c3e7a1\nnetwork: bitcoin\n",
                KURA_EDATA, "line 3: duplicate field 'id'");
    refuse_edit("network: bitcoin\nwallet: treasury-cold #q4x7k2m9\n",
                "wallet: treasury-cold #q4x7k2m9\nnetwork: bitcoin\n", KURA_EDATA,
                "line 3: expected field 'network', found 'wallet'");
    refuse_edit("max-fee: 40000\n", "max-fee: 40000\nmemo: hello\n", KURA_EDATA,
                "line 12: unknown field 'memo'");
    refuse_edit("initiator: ops-tanaka\n", "note: x\ninitiator: ops-tanaka\n", KURA_EDATA,
                "line 6: unknown field 'note' (expected 'initiator')");
    refuse_edit("initiator: ops-tanaka\n", "", KURA_EDATA,
                "line 6: expected field 'initiator', found 'created'");
    refuse_edit("max-fee: 40000\n", "", KURA_EDATA, "missing field 'max-fee'");
    refuse_edit("max-fee: 40000\n", "max-fee: 40000\nmax-fee: 40000\n", KURA_EDATA,
                "line 12: duplicate field 'max-fee'");
    refuse_edit("max-fee: 40000\n",
                "max-fee: 40000\noutput: bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq 1\n",
                KURA_EDATA, "line 12: field 'output' out of order");
    refuse_edit("output: bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq 150000000 withdrawal 8812\n"
                "output: bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297 2500000 "
                "withdrawal 8813\n",
                "", KURA_EDATA, "line 9: expected field 'output', found 'max-fee'");
    refuse_edit("id: 4f", "id:4f", KURA_EDATA, "line 2: expected 'id: <value>'");
    refuse_edit("id: 4f", "ID: 4f", KURA_EDATA, "line 2: unknown field 'ID'");
    /* Byte-level rules. */
    refuse_edit("network: bitcoin\n", "network: bitcoin\r\n", KURA_EDATA,
                "line 3, column 17: carriage return");
    refuse_edit("network: bitcoin\n", "network: bitcoin \n", KURA_EDATA, "line 3: trailing space");
    refuse_edit("network: bitcoin\n", " network: bitcoin\n", KURA_EDATA,
                "line 3: line starts with a space");
    refuse_edit("network: bitcoin\n", "network:  bitcoin\n", KURA_EDATA,
                "line 3, column 10: two spaces in a row");
    refuse_edit("withdrawal 8812", "withdrawal  8812", KURA_EDATA, "line 9, column 73: two spaces");
    refuse_edit("network: bitcoin\n", "network:\tbitcoin\n", KURA_EDATA,
                "line 3, column 9: control byte 0x09");
    refuse_edit("network: bitcoin\n", "network: bitcoin\n\n", KURA_EDATA, "line 4: empty line");
    refuse_edit("withdrawal 8812", "withdrawal 8812\x1b[2K", KURA_EDATA,
                "line 9, column 77: control byte 0x1b");
    refuse_edit("withdrawal 8812", "withdr\xc3\xa4wal 8812", KURA_EDATA,
                "line 9, column 68: non-ASCII byte 0xc3");
    refuse_edit("withdrawal 8812", "withdrawal\x7f" "8812", KURA_EDATA, "column 72: control byte 0x7f");
    char *bom = malloc(sizeof(EXAMPLE) + 3);
    assert_non_null(bom);
    memcpy(bom, "\xef\xbb\xbf", 3);
    memcpy(bom + 3, EXAMPLE, sizeof(EXAMPLE));
    refuse(bom, KURA_EDATA, "line 1: byte order mark");
    free(bom);
    /* Missing final LF. */
    refuse_len(EXAMPLE, strlen(EXAMPLE) - 1, KURA_EDATA, "line 11: missing final newline");
    /* A NUL inside the text. */
    char nul[sizeof(EXAMPLE)];
    memcpy(nul, EXAMPLE, sizeof(EXAMPLE));
    nul[20] = '\0';
    refuse_len(nul, sizeof(EXAMPLE) - 1, KURA_EDATA, "line 2, column 7: control byte 0x00");
    /* Whole-text limit. */
    size_t big = KURA_INTENT_TEXT_MAX + 1;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, 'a', big);
    refuse_len(huge, big, KURA_ERANGE, "over the limit of 262144");
    free(huge);
}

static void test_refuse_values(void **state)
{
    (void)state;
    /* id */
    refuse_edit("4f1c2a9e7b3d4c58a1e0f6b2d9c3e7a1", "4F1C2A9E7B3D4C58A1E0F6B2D9C3E7A1", KURA_EDATA,
                "line 2: id must be 32 lower-case hex");
    refuse_edit("4f1c2a9e7b3d4c58a1e0f6b2d9c3e7a1", "4f1c2a9e7b3d4c58a1e0f6b2d9c3e7a", KURA_EDATA,
                "line 2: id");
    refuse_edit("4f1c2a9e7b3d4c58a1e0f6b2d9c3e7a1", "4f1c2a9e7b3d4c58a1e0f6b2d9c3e7ag", KURA_EDATA,
                "line 2: id");
    /* network */
    refuse_edit("network: bitcoin", "network: mainnet", KURA_EDATA, "line 3: unknown network");
    refuse_edit("network: bitcoin", "network: Bitcoin", KURA_EDATA, "line 3: unknown network");
    /* wallet */
    refuse_edit("#q4x7k2m9", "#Q4X7K2M9", KURA_EDATA, "line 4: wallet: descriptor checksum");
    refuse_edit("#q4x7k2m9", "#q4x7k2mb", KURA_EDATA, "line 4: wallet: descriptor checksum");
    refuse_edit("#q4x7k2m9", "#q4x7k2m", KURA_EDATA, "line 4: wallet: expected '#'");
    refuse_edit("#q4x7k2m9", "q4x7k2m9", KURA_EDATA, "line 4: wallet: expected '#'");
    refuse_edit("treasury-cold #", "Treasury-cold #", KURA_EDATA, "line 4: wallet: name may");
    refuse_edit("treasury-cold #", "treasury-cold-and-a-very-long-name #", KURA_EDATA,
                "line 4: wallet: name longer than 32");
    refuse_edit("treasury-cold #q4x7k2m9", "treasury-cold", KURA_EDATA, "line 4: wallet");
    refuse_edit("#q4x7k2m9", "#q4x7k2m9 extra", KURA_EDATA, "line 4: wallet");
    /* initiator */
    refuse_edit("initiator: ops-tanaka", "initiator: Ops-Tanaka", KURA_EDATA,
                "line 6: initiator: name may");
    refuse_edit("initiator: ops-tanaka", "initiator: ops tanaka", KURA_EDATA, "line 6: initiator");
    refuse_edit("initiator: ops-tanaka",
                "initiator: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                KURA_EDATA, "line 6: initiator: name longer than 64");
    /* dates */
    refuse_edit("created: 2026-11-21T09:30:00Z", "created: 2026-02-30T09:30:00Z", KURA_EDATA,
                "line 7: created: time: 2026-02-30 is not a calendar date");
    refuse_edit("created: 2026-11-21T09:30:00Z", "created: 2026-02-29T09:30:00Z", KURA_EDATA,
                "not a calendar date");
    refuse_edit("created: 2026-11-21T09:30:00Z", "created: 2100-02-29T09:30:00Z", KURA_EDATA,
                "not a calendar date");
    refuse_edit("created: 2026-11-21T09:30:00Z", "created: 2026-04-31T09:30:00Z", KURA_EDATA,
                "not a calendar date");
    refuse_edit("created: 2026-11-21T09:30:00Z", "created: 2026-13-01T09:30:00Z", KURA_EDATA,
                "month 13");
    refuse_edit("created: 2026-11-21T09:30:00Z", "created: 2026-00-01T09:30:00Z", KURA_EDATA,
                "month 00");
    refuse_edit("created: 2026-11-21T09:30:00Z", "created: 2026-11-00T09:30:00Z", KURA_EDATA,
                "not a calendar date");
    refuse_edit("created: 2026-11-21T09:30:00Z", "created: 2026-11-21T24:00:00Z", KURA_EDATA,
                "not a time of day");
    refuse_edit("created: 2026-11-21T09:30:00Z", "created: 2026-11-21T09:60:00Z", KURA_EDATA,
                "not a time of day");
    refuse_edit("created: 2026-11-21T09:30:00Z", "created: 2026-11-21T09:30:60Z", KURA_EDATA,
                "not a time of day");
    refuse_edit("created: 2026-11-21T09:30:00Z", "created: 1969-12-31T23:59:59Z", KURA_EDATA,
                "before 1970");
    refuse_edit("created: 2026-11-21T09:30:00Z", "created: 2026-11-21T09:30:00z", KURA_EDATA,
                "expected YYYY-MM-DDTHH:MM:SSZ");
    refuse_edit("created: 2026-11-21T09:30:00Z", "created: 2026-11-21t09:30:00Z", KURA_EDATA,
                "expected YYYY");
    refuse_edit("created: 2026-11-21T09:30:00Z", "created: 2026-11-21T09:30:00+00:00", KURA_EDATA,
                "expected YYYY");
    refuse_edit("created: 2026-11-21T09:30:00Z", "created: 2026-11-21T09:30:00.000Z", KURA_EDATA,
                "expected YYYY");
    refuse_edit("created: 2026-11-21T09:30:00Z", "created: 2026-11-21T9:30:00Z", KURA_EDATA,
                "expected YYYY");
    refuse_edit("created: 2026-11-21T09:30:00Z", "created: 1795253400", KURA_EDATA,
                "expected YYYY");
    refuse_edit("created: 2026-11-21T09:30:00Z", "created: 2026-11-21T+9:30:00Z", KURA_EDATA,
                "expected YYYY");
    refuse_edit("expires: 2026-11-21T21:30:00Z", "expires: 2026-11-21T09:30:00Z", KURA_EDATA,
                "line 8: expires must be later than created");
    refuse_edit("expires: 2026-11-21T21:30:00Z", "expires: 2026-11-20T21:30:00Z", KURA_EDATA,
                "line 8: expires must be later than created");
    /* amounts */
    refuse_edit(" 150000000 ", " 0150000000 ", KURA_EDATA, "line 9: output 1: amount: leading zero");
    refuse_edit(" 150000000 ", " 0 ", KURA_EDATA, "line 9: output 1: amount: must be at least 1");
    refuse_edit(" 150000000 ", " 00 ", KURA_EDATA, "amount: leading zero");
    refuse_edit(" 150000000 ", " +150000000 ", KURA_EDATA, "not a plain decimal number");
    refuse_edit(" 150000000 ", " -1 ", KURA_EDATA, "not a plain decimal number");
    refuse_edit(" 150000000 ", " 1.5 ", KURA_EDATA, "not a plain decimal number");
    refuse_edit(" 150000000 ", " 1e8 ", KURA_EDATA, "not a plain decimal number");
    refuse_edit(" 150000000 ", " 2100000000000001 ", KURA_EDATA,
                "amount: above the limit of 2100000000000000");
    refuse_edit(" 150000000 ", " 99999999999999999999999 ", KURA_EDATA, "above the limit");
    refuse_edit(" 150000000 ", " 18446744073709551616 ", KURA_EDATA, "above the limit");
    refuse_edit(" 150000000 withdrawal 8812", "", KURA_EDATA,
                "line 9: output 1: expected '<address> <amount>");
    /* The sum of the amounts. */
    char *sum = tu_edit(EXAMPLE, " 150000000 ", " 2097500000000000 ");
    round_trip(sum); /* 2097500000000000 + 2500000 is still within MAX_MONEY */
    free(sum);
    refuse_edit(" 150000000 ", " 2099999999999999 ", KURA_EDATA,
                "line 10: output 2: total of the outputs above 2100000000000000");
    /* max-fee */
    refuse_edit("max-fee: 40000", "max-fee: 0", KURA_EDATA, "line 11: max-fee: must be at least 1");
    refuse_edit("max-fee: 40000", "max-fee: 040000", KURA_EDATA, "line 11: max-fee: leading zero");
    refuse_edit("max-fee: 40000", "max-fee: 2100000000000001", KURA_EDATA, "max-fee: above");
    refuse_edit("max-fee: 40000", "max-fee: 40000 sats", KURA_EDATA, "not a plain decimal");
    /* labels */
    refuse_edit("withdrawal 8812",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", KURA_EDATA,
                "line 9: output 1: label longer than 64");
}

static void test_refuse_addresses(void **state)
{
    (void)state;
    /* Upper-case bech32 is the same script: refused, naming the canonical spelling. */
    refuse_edit("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
                "BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ", KURA_EDATA,
                "line 9: output 1: address not in canonical form (write it as "
                "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq)");
    refuse_edit("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
                "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdQ", KURA_EDATA, "line 9: output 1:");
    /* Bad checksum. */
    refuse_edit("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
                "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdp", KURA_EDATA, "line 9: output 1:");
    /* An address of another network. */
    refuse_edit("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
                "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", KURA_EDATA,
                "line 9: output 1: address: testnet address on");
    /* A testnet Base58 address (made here from a hash, so it is valid). */
    uint8_t hash[20], script[KURA_SCRIPT_PUBKEY_MAX];
    size_t script_len;
    char testnet_p2pkh[KURA_ADDRESS_MAX];
    memset(hash, 0x42, sizeof(hash));
    assert_int_equal(kura_script_p2pkh(script, sizeof(script), &script_len, hash), KURA_OK);
    assert_int_equal(kura_address_from_script(testnet_p2pkh, sizeof(testnet_p2pkh), script,
                                              script_len, KURA_NETWORK_TESTNET, NULL),
                     KURA_OK);
    refuse_edit("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", testnet_p2pkh, KURA_EDATA,
                "line 9: output 1: address: testnet address on");
    char *t = tu_edit(EXAMPLE, "network: bitcoin", "network: signet");
    refuse(t, KURA_EDATA, "line 9: output 1: address: mainnet address on");
    free(t);
    t = tu_edit(EXAMPLE, "network: bitcoin", "network: regtest");
    refuse(t, KURA_EDATA, "line 9: output 1: address: mainnet address on");
    free(t);
    /* A future witness version (BIP350 test address) is anyone-can-spend today. */
    refuse_edit("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs",
                KURA_EDATA, "witness version 2");
    refuse_edit("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "not-an-address", KURA_EDATA,
                "line 9: output 1:");
    refuse_edit("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
                "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"
                "qqqqqqqqqqqqqqqqqqqqqqq",
                KURA_EDATA, "line 9: output 1: address is empty or longer than 90");
}

/* The policy version the approvers saw (finding 3): required, right after
 * the wallet, 1..2^53-1, digits only; the struct carries it and the render
 * shows it. */
static void test_policy_field(void **state)
{
    kura_intent *in = NULL;
    char *shown = NULL;
    size_t n = 0;
    (void)state;
    refuse_edit("policy: 3\n", "", KURA_EDATA, "line 5: expected field 'policy', found 'initiator'");
    refuse_edit("policy: 3", "policy: 0", KURA_EDATA, "line 5: policy:");
    refuse_edit("policy: 3", "policy: 03", KURA_EDATA, "line 5: policy:");
    refuse_edit("policy: 3", "policy: 9007199254740992", KURA_EDATA, "line 5: policy:");
    refuse_edit("policy: 3", "policy: -3", KURA_EDATA, "line 5: policy:");
    refuse_edit("policy: 3\ninitiator: ops-tanaka\n", "initiator: ops-tanaka\npolicy: 3\n",
                KURA_EDATA, "line 5");
    assert_int_equal(kura_intent_parse(&in, (const uint8_t *)EXAMPLE, strlen(EXAMPLE), NULL),
                     KURA_OK);
    assert_int_equal(in->policy_version, 3);
    assert_int_equal(kura_intent_render(&shown, &n, in, NULL, NULL, NULL), KURA_OK);
    assert_non_null(strstr(shown, "policy:    version 3\n"));
    free(shown);
    in->policy_version = 0;
    assert_int_equal(kura_intent_write(&shown, &n, in, NULL), KURA_EDATA);
    in->policy_version = 9007199254740991ull;
    assert_int_equal(kura_intent_write(&shown, &n, in, NULL), KURA_OK);
    assert_non_null(strstr(shown, "\npolicy: 9007199254740991\n"));
    free(shown);
    kura_intent_free(in);
}

static void test_too_many_outputs(void **state)
{
    (void)state;
    const char *head = "kura-intent 1\n"
                       "id: 4f1c2a9e7b3d4c58a1e0f6b2d9c3e7a1\n"
                       "network: bitcoin\n"
                       "wallet: treasury-cold #q4x7k2m9\n"
                       "policy: 3\n"
                       "initiator: ops-tanaka\n"
                       "created: 2026-11-21T09:30:00Z\n"
                       "expires: 2026-11-21T21:30:00Z\n";
    const char *line = "output: bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq 1\n";
    size_t cap = strlen(head) + (KURA_INTENT_OUTPUTS_MAX + 1) * strlen(line) + 32;
    char *text = malloc(cap);
    assert_non_null(text);
    strcpy(text, head);
    for (int i = 0; i < KURA_INTENT_OUTPUTS_MAX; i++) strcat(text, line);
    strcat(text, "max-fee: 1\n");
    round_trip(text); /* exactly the limit is fine */
    text[strlen(text) - strlen("max-fee: 1\n")] = '\0';
    strcat(text, line);
    strcat(text, "max-fee: 1\n");
    refuse(text, KURA_ERANGE, "line 1009: more than 1000 outputs");
    free(text);
}

/* Builds the example through the API, writes it, and requires the very text. */
static void test_build_and_write(void **state)
{
    (void)state;
    kura_intent *in = kura_intent_new();
    kura_error err;
    char *out = NULL;
    size_t len = 99;
    assert_non_null(in);
    strcpy(in->id, "4f1c2a9e7b3d4c58a1e0f6b2d9c3e7a1");
    in->chain = KURA_CHAIN_BITCOIN;
    strcpy(in->wallet.name, "treasury-cold");
    strcpy(in->wallet.checksum, "q4x7k2m9");
    in->policy_version = 3;
    strcpy(in->initiator, "ops-tanaka");
    assert_int_equal(kura_intent_time_parse(&in->created, "2026-11-21T09:30:00Z", 20, &err), 0);
    assert_int_equal(kura_intent_time_parse(&in->expires, "2026-11-21T21:30:00Z", 20, &err), 0);
    in->max_fee = 40000;
    /* Nothing to write without outputs. */
    assert_int_equal(kura_intent_write(&out, &len, in, &err), KURA_EDATA);
    assert_null(out);
    assert_int_equal(len, 0);
    assert_non_null(strstr(err.message, "no outputs"));
    assert_int_equal(kura_intent_add_output(in, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
                                            150000000, "withdrawal 8812", &err),
                     KURA_OK);
    /* The builder refuses what the parser would. */
    assert_int_equal(kura_intent_add_output(in, "BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ", 1,
                                            NULL, &err),
                     KURA_EDATA);
    assert_non_null(strstr(err.message, "output 2: address not in canonical form"));
    assert_int_equal(kura_intent_add_output(in, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", 1,
                                            "x\nmax-fee: 1", &err),
                     KURA_EDATA);
    assert_int_equal(kura_intent_add_output(in, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", 1,
                                            "trailing ", &err),
                     KURA_EDATA);
    assert_int_equal(kura_intent_add_output(in, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", 0,
                                            NULL, &err),
                     KURA_EDATA);
    assert_int_equal(kura_intent_add_output(in, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
                                            KURA_INTENT_MAX_AMOUNT, NULL, &err),
                     KURA_EDATA);
    assert_non_null(strstr(err.message, "total of the outputs"));
    assert_int_equal(in->output_count, 1);
    assert_int_equal(
        kura_intent_add_output(in, "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297",
                               2500000, "withdrawal 8813", &err),
        KURA_OK);
    assert_int_equal(kura_intent_write(&out, &len, in, &err), KURA_OK);
    assert_string_equal(out, EXAMPLE);
    assert_int_equal(len, strlen(EXAMPLE));
    /* parse(write(s)) == s */
    kura_intent *back = parse_ok(out);
    assert_true(kura_intent_equal(back, in));
    back->outputs[1].amount++;
    assert_false(kura_intent_equal(back, in));
    kura_intent_free(back);
    free(out);

    /* A struct the format cannot spell is refused, not written. */
    in->outputs[0].label[0] = '\t';
    assert_int_equal(kura_intent_write(&out, &len, in, &err), KURA_EDATA);
    assert_non_null(strstr(err.message, "output 1: label byte 0x09"));
    in->outputs[0].label[0] = 'w';
    in->outputs[0].script[5] ^= 1;
    assert_int_equal(kura_intent_write(&out, &len, in, &err), KURA_EINVAL);
    assert_non_null(strstr(err.message, "output 1: script does not match the address"));
    in->outputs[0].script[5] ^= 1;
    in->expires = in->created;
    assert_int_equal(kura_intent_write(&out, &len, in, &err), KURA_EDATA);
    in->expires = KURA_INTENT_TIME_MAX + 1;
    assert_int_equal(kura_intent_write(&out, &len, in, &err), KURA_EDATA);
    in->expires = in->created + 1;
    in->id[3] = 'A';
    assert_int_equal(kura_intent_write(&out, &len, in, &err), KURA_EDATA);
    in->id[3] = 'c';
    memset(in->initiator, 'a', sizeof(in->initiator)); /* not terminated */
    assert_int_equal(kura_intent_write(&out, &len, in, &err), KURA_EDATA);
    strcpy(in->initiator, "ops-tanaka");
    in->chain = (kura_intent_chain)9;
    assert_int_equal(kura_intent_write(&out, &len, in, &err), KURA_EDATA);
    in->chain = KURA_CHAIN_TESTNET; /* mainnet addresses on testnet */
    assert_int_equal(kura_intent_write(&out, &len, in, &err), KURA_EDATA);
    in->chain = KURA_CHAIN_BITCOIN;
    in->max_fee = 0;
    assert_int_equal(kura_intent_write(&out, &len, in, &err), KURA_EDATA);
    in->max_fee = 1;
    assert_int_equal(kura_intent_write(&out, &len, in, &err), KURA_OK);
    free(out);
    kura_intent_free(in);
    kura_intent_free(NULL);
    assert_int_equal(kura_intent_parse(NULL, (const uint8_t *)"x", 1, NULL), KURA_EINVAL);
    assert_int_equal(kura_intent_write(NULL, &len, NULL, NULL), KURA_EINVAL);
}

static void test_builder_limit(void **state)
{
    (void)state;
    kura_intent *in = kura_intent_new();
    kura_error err;
    assert_non_null(in);
    for (int i = 0; i < KURA_INTENT_OUTPUTS_MAX; i++)
        assert_int_equal(kura_intent_add_output(in, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", 1, NULL,
                                                &err),
                         KURA_OK);
    assert_int_equal(
        kura_intent_add_output(in, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", 1, NULL, &err),
        KURA_ERANGE);
    assert_int_equal(in->output_count, KURA_INTENT_OUTPUTS_MAX);
    kura_intent_free(in);
}

static void test_time(void **state)
{
    (void)state;
    char s[32];
    int64_t t;
    kura_error err;
    assert_int_equal(kura_intent_time_format(s, sizeof(s), 0), KURA_OK);
    assert_string_equal(s, "1970-01-01T00:00:00Z");
    assert_int_equal(kura_intent_time_format(s, sizeof(s), KURA_INTENT_TIME_MAX), KURA_OK);
    assert_string_equal(s, "9999-12-31T23:59:59Z");
    assert_int_equal(kura_intent_time_format(s, sizeof(s), KURA_INTENT_TIME_MAX + 1), KURA_EINVAL);
    assert_int_equal(kura_intent_time_format(s, sizeof(s), -1), KURA_EINVAL);
    assert_int_equal(kura_intent_time_format(s, 20, 0), KURA_EINVAL);
    assert_int_equal(kura_intent_time_parse(&t, "2000-02-29T00:00:00Z", 20, &err), KURA_OK);
    assert_int_equal(t, 951782400);
    assert_int_equal(kura_intent_time_parse(&t, "9999-12-31T23:59:59Z", 20, &err), KURA_OK);
    assert_int_equal(t, KURA_INTENT_TIME_MAX);
    /* Against the C library's gmtime_r as an independent oracle, across
     * 8000 years in irregular steps (month and leap-year boundaries included). */
    for (int64_t x = 0; x <= KURA_INTENT_TIME_MAX; x += 86399 * 37 + 13) {
        time_t tt = (time_t)x;
        struct tm tm;
        char want[80];
        assert_non_null(gmtime_r(&tt, &tm));
        snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        assert_int_equal(kura_intent_time_format(s, sizeof(s), x), KURA_OK);
        assert_string_equal(s, want);
        assert_int_equal(kura_intent_time_parse(&t, s, 20, &err), KURA_OK);
        assert_int_equal(t, x);
    }
}

static int fake_allowlist(void *arg, const uint8_t *script, size_t script_len, const char **label)
{
    (void)arg;
    /* Only the P2WPKH destination is on this list. */
    if (script_len == 22 && script[0] == 0) {
        *label = "exchange\x1b[31m deposit";
        return 1;
    }
    return 0;
}

static void test_render(void **state)
{
    (void)state;
    kura_intent *in = parse_ok(EXAMPLE);
    char *out = NULL;
    size_t len = 0;
    kura_error err;
    assert_int_equal(kura_intent_render(&out, &len, in, fake_allowlist, NULL, &err), KURA_OK);
    assert_int_equal(len, strlen(out));
    assert_non_null(strstr(out, "Transfer intent 4f1c2a9e7b3d4c58a1e0f6b2d9c3e7a1\n"));
    assert_non_null(strstr(out, "Output 1 of 2\n  to:        "
                                "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq\n"
                                "  amount:    1.50000000 BTC (150000000 sats)\n"
                                "  label:     withdrawal 8812\n"
                                "  allowlist: allowlisted as exchange?[31m deposit\n"));
    assert_non_null(strstr(out, "\n\nOutput 2 of 2\n  to:        "
                                "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297\n"
                                "  amount:    0.02500000 BTC (2500000 sats)\n"
                                "  label:     withdrawal 8813\n"
                                "  allowlist: NOT ON THE ALLOWLIST\n"));
    assert_non_null(strstr(out, "Total:       1.52500000 BTC (152500000 sats) to 2 outputs\n"));
    assert_non_null(strstr(out, "Fee cap:     0.00040000 BTC (40000 sats)\n"));
    assert_non_null(strstr(out, "At most:     1.52540000 BTC (152540000 sats) leaves the wallet\n"));
    assert_non_null(strstr(out, "Expires:     2026-11-21T21:30:00Z\n"));
    assert_non_null(strstr(out, "Intent hash: "
                                "2ddc7d42bcdb71408c9df6266f83d5ee2242e2df18285e07387a5cd42d5a811e\n"));
    assert_null(strchr(out, '\x1b'));
    free(out);
    /* Without a lookup, no allowlist lines. */
    assert_int_equal(kura_intent_render(&out, &len, in, NULL, NULL, &err), KURA_OK);
    assert_null(strstr(out, "allowlist"));
    free(out);
    /* An invalid intent is not shown. */
    in->max_fee = 0;
    assert_int_equal(kura_intent_render(&out, &len, in, NULL, NULL, &err), KURA_EDATA);
    assert_null(out);
    kura_intent_free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_fields),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_policy_field),
        cmocka_unit_test(test_refuse_structure),
        cmocka_unit_test(test_refuse_values),
        cmocka_unit_test(test_refuse_addresses),
        cmocka_unit_test(test_too_many_outputs),
        cmocka_unit_test(test_build_and_write),
        cmocka_unit_test(test_builder_limit),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
