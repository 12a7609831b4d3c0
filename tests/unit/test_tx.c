/* Transactions: parse / serialise round trips over every transaction in the
 * vector files, txid/wtxid/weight/vsize against values computed independently
 * from the vector bytes, every refusal of the parser with its code, and
 * building transactions with the _add_/_set_ functions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kura/hash.h"
#include "kura/tx.h"
#include "testutil.h"

/* ---- helpers ---- */

static int parse_hex(kura_tx **tx, const char *hex, unsigned flags, kura_error *err)
{
    size_t len;
    uint8_t *b = tu_unhex(hex, &len);
    int rc = kura_tx_parse(tx, b, len, flags, err);
    free(b);
    return rc;
}

/* Parses bytes that must be refused with `code`; checks *out stays NULL and
 * err carries the same code and a "tx: " message containing `why` (if not
 * NULL), so a refusal for the wrong reason fails the test. */
static void expect_refused_why(const uint8_t *b, size_t len, unsigned flags, int code,
                               const char *why)
{
    kura_tx *tx = (kura_tx *)(uintptr_t)1; /* must be overwritten with NULL */
    kura_error err;
    memset(&err, 0, sizeof(err));
    int rc = kura_tx_parse(&tx, b, len, flags, &err);
    if (rc != code)
        fail_msg("parse returned %s (%s), want %s", kura_status_name(rc), err.message,
                 kura_status_name(code));
    assert_null(tx);
    assert_int_equal(err.code, code);
    assert_true(strncmp(err.message, "tx: ", 4) == 0);
    if (why != NULL && strstr(err.message, why) == NULL)
        fail_msg("refused for \"%s\", want \"%s\"", err.message, why);
}

static void expect_refused(const uint8_t *b, size_t len, unsigned flags, int code)
{
    expect_refused_why(b, len, flags, code, NULL);
}

static void expect_refused_hex(const char *hex, unsigned flags, int code, const char *why)
{
    size_t len;
    uint8_t *b = tu_unhex(hex, &len);
    expect_refused_why(b, len, flags, code, why);
    free(b);
}

/* Serialises with flags into a fresh buffer (caller frees). */
static uint8_t *serialize(const kura_tx *tx, unsigned flags, size_t *len)
{
    size_t need = kura_tx_serialized_size(tx, flags), written = 0;
    uint8_t *out = malloc(need + 1);
    assert_non_null(out);
    assert_int_equal(kura_tx_serialize(out, need, &written, tx, flags), KURA_OK);
    assert_int_equal(written, need);
    *len = written;
    return out;
}

/* ---- known transactions ----
 * Expected values were computed from the vector hex by an independent
 * throw-away Python script (hashlib, hand-written field walker): txid =
 * SHA256d(legacy form), wtxid = SHA256d(witness form), weight = base*3 + total. */
typedef struct known_tx {
    const char *file, *label;
    const char *txid, *wtxid; /* display order */
    size_t base, total;
    uint64_t weight, vsize;
} known_tx;

static const known_tx KNOWN[] = {
    {"bip143.json", "Native P2WPKH/unsigned_tx",
     "3335ffae0df20c5407e8de12b49405c8e912371f00fe4132bfaf95ad49c40243",
     "3335ffae0df20c5407e8de12b49405c8e912371f00fe4132bfaf95ad49c40243", 160, 160, 640, 160},
    {"bip143.json", "Native P2WPKH/signed_tx",
     "e8151a2af31c368a35053ddd4bdb285a8595c769a3ad83e0fa02314a602d4609",
     "c36c38370907df2324d9ce9d149d191192f338b37665a82e78e76a12c909b762", 233, 343, 1042, 261},
    {"bip143.json", "P2SH-P2WPKH/unsigned_tx",
     "321a59707939041eeb0d524f34432c0c46ca3920f0964e6c23697581f176b6c0",
     "321a59707939041eeb0d524f34432c0c46ca3920f0964e6c23697581f176b6c0", 119, 119, 476, 119},
    {"bip143.json", "P2SH-P2WPKH/signed_tx",
     "ef48d9d0f595052e0f8cdcf825f7a5e50b6a388a81f206f3f4846e5ecd7a0c23",
     "680f483b2bf6c5dcbf111e69e885ba248a41a5e92070cfb0afec3cfc49a9fabb", 142, 251, 677, 170},
    {"bip143.json", "Native P2WSH (OP_CODESEPARATOR and out-of-range SIGHASH_SINGLE)/unsigned_tx",
     "412af7f6da10fd558d4c1505a201dc8641a71516c60fa99a78a5faac55d61ffa",
     "412af7f6da10fd558d4c1505a201dc8641a71516c60fa99a78a5faac55d61ffa", 126, 126, 504, 126},
    {"bip143.json", "Native P2WSH (OP_CODESEPARATOR and out-of-range SIGHASH_SINGLE)/signed_tx",
     "570e3730deeea7bd8bc92c836ccdeb4dd4556f2c33f2a1f7b889a4cb4e48d3ab",
     "dbff04c7044a569f179c843e929449f6a24be183e42c66be9032f1c9eaaf5811", 198, 418, 1012, 253},
    {"bip143.json", "Native P2WSH (unexecuted OP_CODESEPARATOR, SINGLE|ANYONECANPAY)/unsigned_tx",
     "e0b8142f587aaa322ca32abce469e90eda187f3851043cc4f2a0fff8c13fc84e",
     "e0b8142f587aaa322ca32abce469e90eda187f3851043cc4f2a0fff8c13fc84e", 160, 160, 640, 160},
    {"bip143.json", "Native P2WSH (unexecuted OP_CODESEPARATOR, SINGLE|ANYONECANPAY)/signed_tx",
     "e0b8142f587aaa322ca32abce469e90eda187f3851043cc4f2a0fff8c13fc84e",
     "6e4dd6473b52c00afec3af31b4a522eb9b51489683ce407a6c403313a0caa7a9", 160, 389, 869, 218},
    {"bip143.json",
     "Native P2WSH (unexecuted OP_CODESEPARATOR, SINGLE|ANYONECANPAY)/signed_tx_swapped",
     "b9ecf72df06b8f98f8b63748d1aded5ffc1a1186f8a302e63cf94f6250e29f4d",
     "a8c30f28b7d3fba4cc292992f42721fdfe1729c8c418055992052a65a04f9651", 160, 389, 869, 218},
    {"bip143.json", "P2SH-P2WSH 6-of-6 multisig/unsigned_tx",
     "5e34cc33d432b2b1c0906f17ce011af920b5ae9c13948518fa9cf79978a01175",
     "5e34cc33d432b2b1c0906f17ce011af920b5ae9c13948518fa9cf79978a01175", 119, 119, 476, 119},
    {"bip143.json", "P2SH-P2WSH 6-of-6 multisig/signed_tx",
     "27eae69aff1dd4388c0fa05cbbfe9a3983d1b0b5811ebcd4199b86f299370aac",
     "65dab5dd46a501fc695822c73d779067f2feb7c49dc47d39f86fdb2e3960b3bd", 154, 800, 1262, 316},
    {"bip143.json", "No FindAndDelete (OP_CHECKSIGVERIFY)/unsigned_tx",
     "2862bc0c69d2af55da7284d1b16a7cddc03971b77e5a97939cca7631add83bf5",
     "2862bc0c69d2af55da7284d1b16a7cddc03971b77e5a97939cca7631add83bf5", 60, 60, 240, 60},
    {"bip143.json", "No FindAndDelete (OP_CHECKSIGVERIFY)/signed_tx",
     "2862bc0c69d2af55da7284d1b16a7cddc03971b77e5a97939cca7631add83bf5",
     "651431f85e6e1ea3603d7e6a9e8e5966eab659fad5261882ae6232b845f35443", 60, 245, 425, 107},
    {"bip143.json", "No FindAndDelete (OP_CHECKMULTISIGVERIFY)/signed_tx",
     "45d17fb7db86162b2b6ca29fa4e163acf0ef0b54110e49b819bda1f948d423a3",
     "f73766431eac4f2c52c0be14ee74b4b65dca03c94daf31bba34d8cc0226402aa", 60, 430, 610, 153},
    {"bip341.json", "keyPathSpending/rawUnsignedTx",
     "0384e984ab29806f159d517d7b0215e614501eecdc245d7cdabccc360020eae3",
     "0384e984ab29806f159d517d7b0215e614501eecdc245d7cdabccc360020eae3", 454, 454, 1816, 454},
    {"bip341.json", "keyPathSpending/fullySignedTx",
     "fea03dc5c362e2ebd71f90960803aaa2cdbbc6cd536135f49980afedc19e3552",
     "4a5d2b15622b0c8e857527a6a1fc3c614cf7991aad19548cae678aa8306becf7", 561, 1139, 2822, 706},
    {"bip174.json", "workflow/extractor",
     "c001dff12b319c432360072394690d2e9ef1a28a5d77e3f5346ecc46dff966cd",
     "91736836f073cc890ce3d9fb1f5b78fbc9a3a2d0cd8150fca83af35cc469b39c", 407, 628, 1849, 463},
};
#define N_KNOWN (sizeof(KNOWN) / sizeof(KNOWN[0]))

static const known_tx *find_known(const char *file, const char *label)
{
    for (size_t i = 0; i < N_KNOWN; i++)
        if (strcmp(KNOWN[i].file, file) == 0 && strcmp(KNOWN[i].label, label) == 0)
            return &KNOWN[i];
    fail_msg("no known values for %s %s", file, label);
    return NULL;
}

/* Every check one valid transaction gets. Returns 1 (for counting). */
static int check_valid_tx(const char *file, const char *label, const char *hex)
{
    const known_tx *k = find_known(file, label);
    size_t len, slen, llen;
    uint8_t *b = tu_unhex(hex, &len);
    uint8_t *s, *legacy, id[32], want[32];
    char disp[65];
    kura_tx *tx = NULL;
    kura_error err;
    int rc = kura_tx_parse(&tx, b, len, KURA_TX_WITNESS, &err);
    if (rc != KURA_OK) fail_msg("%s: %s", label, err.message);

    /* Byte-identical re-serialisation. */
    s = serialize(tx, KURA_TX_WITNESS, &slen);
    tu_assert_bytes_equal(s, slen, b, len);
    assert_int_equal(kura_tx_serialized_size(tx, KURA_TX_WITNESS), k->total);
    legacy = serialize(tx, 0, &llen);
    assert_int_equal(llen, k->base);

    /* The legacy-only parser accepts exactly the witness-free ones. */
    if (k->base == k->total) {
        kura_tx *t2 = NULL;
        assert_int_equal(kura_tx_parse(&t2, b, len, 0, NULL), KURA_OK);
        kura_tx_free(t2);
        assert_int_equal(kura_tx_has_witness(tx), 0);
    } else {
        expect_refused_why(b, len, 0, KURA_EDATA, "witness serialisation");
        assert_int_equal(kura_tx_has_witness(tx), 1);
    }

    /* txid / wtxid in display order against the independent values, and
     * wtxid against SHA256d of the vector bytes themselves. */
    assert_int_equal(kura_tx_txid(id, tx), KURA_OK);
    kura_txid_to_hex(disp, id);
    assert_string_equal(disp, k->txid);
    kura_sha256d(want, legacy, llen);
    tu_assert_bytes_equal(id, 32, want, 32);
    assert_int_equal(kura_tx_wtxid(id, tx), KURA_OK);
    kura_txid_to_hex(disp, id);
    assert_string_equal(disp, k->wtxid);
    kura_sha256d(want, b, len);
    tu_assert_bytes_equal(id, 32, want, 32);

    assert_int_equal(kura_tx_weight(tx), k->weight);
    assert_int_equal(kura_tx_vsize(tx), k->vsize);

    /* A clone serialises identically. */
    {
        kura_tx *c = NULL;
        uint8_t *cs;
        size_t clen;
        assert_int_equal(kura_tx_clone(&c, tx), KURA_OK);
        cs = serialize(c, KURA_TX_WITNESS, &clen);
        tu_assert_bytes_equal(cs, clen, b, len);
        free(cs);
        kura_tx_free(c);
    }
    free(legacy);
    free(s);
    free(b);
    kura_tx_free(tx);
    return 1;
}

static void test_bip143_transactions(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bip143.json");
    json_t *ex = json_object_get(root, "examples");
    size_t i, n = 0;
    json_t *e;
    static const char *keys[] = {"unsigned_tx", "signed_tx", "signed_tx_swapped"};
    json_array_foreach(ex, i, e) {
        for (size_t k = 0; k < 3; k++) {
            char label[256];
            if (json_object_get(e, keys[k]) == NULL) continue;
            snprintf(label, sizeof(label), "%s/%s", tu_str(e, "name"), keys[k]);
            n += (size_t)check_valid_tx("bip143.json", label, tu_str(e, keys[k]));
        }
    }
    print_message("bip143.json: %zu transactions round-tripped\n", n);
    assert_int_equal(n, 14);
    json_decref(root);
}

static void test_bip341_and_bip174_transactions(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bip341.json");
    json_t *k = json_array_get(json_object_get(root, "keyPathSpending"), 0);
    check_valid_tx("bip341.json", "keyPathSpending/rawUnsignedTx",
                   tu_str(json_object_get(k, "given"), "rawUnsignedTx"));
    check_valid_tx("bip341.json", "keyPathSpending/fullySignedTx",
                   tu_str(json_object_get(k, "auxiliary"), "fullySignedTx"));
    json_decref(root);
    root = tu_load_json("bip174.json");
    check_valid_tx("bip174.json", "workflow/extractor",
                   tu_str(json_object_get(json_object_get(root, "workflow"), "extractor"),
                          "tx_hex"));
    json_decref(root);
}

/* Every proper prefix of a valid transaction is refused with KURA_EDATA and
 * no leak (ASan checks the latter). */
static size_t truncate_all(const char *hex, unsigned flags)
{
    size_t len;
    uint8_t *b = tu_unhex(hex, &len);
    for (size_t cut = 0; cut < len; cut++) {
        /* A copy of exactly `cut` bytes, so ASan also catches over-reads. */
        uint8_t *p = malloc(cut + 1);
        assert_non_null(p);
        memcpy(p, b, cut);
        expect_refused(cut > 0 ? p : NULL, cut, flags, KURA_EDATA);
        free(p);
    }
    free(b);
    return len;
}

static void test_truncation(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bip143.json");
    json_t *ex = json_object_get(root, "examples");
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(ex, i, e) {
        if (json_object_get(e, "unsigned_tx") != NULL)
            n += truncate_all(tu_str(e, "unsigned_tx"), 0);
        n += truncate_all(tu_str(e, "signed_tx"), KURA_TX_WITNESS);
    }
    json_decref(root);
    root = tu_load_json("bip341.json");
    n += truncate_all(tu_str(json_object_get(json_array_get(json_object_get(root,
                                                                            "keyPathSpending"),
                                                            0),
                                             "auxiliary"),
                             "fullySignedTx"),
                      KURA_TX_WITNESS);
    json_decref(root);
    print_message("truncation: %zu prefixes refused\n", n);
}

/* A small legacy transaction to mutate: 1 input, 2 outputs (P2SH-P2WPKH's
 * unsigned tx from BIP143). Layout: version(4) count(1)@4 outpoint(36)@5
 * script(1)@41 sequence(4)@42 count(1)@46 amount(8)@47 script(1+25)@55
 * amount(8)@81 script(1+25)@89 locktime(4)@115. */
static const char *SMALL =
    "0100000001db6b1b20aa0fd7b23880be2ecbd4a98130974cf4748fb66092ac4d3ceb1a547701000000"
    "00feffffff02b8b4eb0b000000001976a914a457b684d7f0d539a46a45bbc043f35b59d0d96388ac00"
    "08af2f000000001976a914fd270b1ee6abcaea97fea7ad0402e8bd8ad6d77c88ac92040000";

static uint8_t *small_bytes(size_t *len)
{
    return tu_unhex(SMALL, len);
}

static void test_refuse_noncanonical_compact_size(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = small_bytes(&len);
    kura_tx *tx = NULL;
    assert_int_equal(kura_tx_parse(&tx, b, len, 0, NULL), KURA_OK);
    kura_tx_free(tx);
    /* Input count 1 written as fd 01 00. */
    {
        uint8_t *m = malloc(len + 2);
        memcpy(m, b, 4);
        m[4] = 0xfd;
        m[5] = 0x01;
        m[6] = 0x00;
        memcpy(m + 7, b + 5, len - 5);
        expect_refused_why(m, len + 2, 0, KURA_EDATA, "input count: non-canonical");
        expect_refused_why(m, len + 2, KURA_TX_WITNESS, KURA_EDATA, "input count: non-canonical");
        free(m);
    }
    /* Empty scriptSig length written as fe 00 00 00 00. */
    {
        uint8_t *m = malloc(len + 4);
        memcpy(m, b, 41);
        m[41] = 0xfe;
        memset(m + 42, 0, 4);
        memcpy(m + 46, b + 42, len - 42);
        expect_refused_why(m, len + 4, 0, KURA_EDATA, "scriptSig of input 0: non-canonical");
        free(m);
    }
    /* Output count 2 written as ff + 8 bytes. */
    {
        uint8_t *m = malloc(len + 8);
        memcpy(m, b, 46);
        m[46] = 0xff;
        m[47] = 0x02;
        memset(m + 48, 0, 7);
        memcpy(m + 55, b + 47, len - 47);
        expect_refused_why(m, len + 8, 0, KURA_EDATA, "output count: non-canonical");
        free(m);
    }
    free(b);
}

static void test_refuse_witness_flag_and_superfluous(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bip143.json");
    json_t *e = json_array_get(json_object_get(root, "examples"), 1); /* P2SH-P2WPKH */
    size_t len;
    uint8_t *b = tu_unhex(tu_str(e, "signed_tx"), &len);
    assert_int_equal(b[4], 0x00);
    assert_int_equal(b[5], 0x01);
    b[5] = 0x02; /* reserved flag */
    expect_refused_why(b, len, KURA_TX_WITNESS, KURA_EDATA, "witness flag 0x02");
    b[5] = 0x00; /* flag 0: Core's "Unknown transaction optional data" */
    expect_refused_why(b, len, KURA_TX_WITNESS, KURA_EDATA, "witness flag 0x00");
    b[5] = 0x03;
    expect_refused_why(b, len, KURA_TX_WITNESS, KURA_EDATA, "witness flag 0x03");
    free(b);
    json_decref(root);

    /* Marker and flag with every witness stack empty. */
    {
        size_t slen;
        uint8_t *s = small_bytes(&slen);
        uint8_t *m = malloc(slen + 3);
        memcpy(m, s, 4);
        m[4] = 0x00;
        m[5] = 0x01;
        memcpy(m + 6, s + 4, slen - 8);
        m[slen - 2] = 0x00; /* the one input's witness: zero items */
        memcpy(m + slen - 1, s + slen - 4, 4);
        expect_refused_why(m, slen + 3, KURA_TX_WITNESS, KURA_EDATA, "superfluous witness");
        /* With one (empty) item it is a witness, and valid. */
        {
            uint8_t *m2 = malloc(slen + 4);
            kura_tx *tx = NULL;
            memcpy(m2, m, slen - 2);
            m2[slen - 2] = 0x01;
            m2[slen - 1] = 0x00;
            memcpy(m2 + slen, s + slen - 4, 4);
            assert_int_equal(kura_tx_parse(&tx, m2, slen + 4, KURA_TX_WITNESS, NULL), KURA_OK);
            assert_int_equal(tx->inputs[0].witness_count, 1);
            assert_int_equal(tx->inputs[0].witness[0].len, 0);
            kura_tx_free(tx);
            free(m2);
        }
        free(m);
        free(s);
    }
}

static void test_refuse_trailing_and_structure(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = small_bytes(&len);
    uint8_t *m = malloc(len + 1);
    memcpy(m, b, len);
    m[len] = 0x00;
    expect_refused_why(m, len + 1, 0, KURA_EDATA, "1 trailing bytes");
    expect_refused_why(m, len + 1, KURA_TX_WITNESS, KURA_EDATA, "1 trailing bytes");
    free(m);
    /* No inputs (legacy form only) and no outputs parse: they are
     * well-formed, and BIP174 has valid PSBTs with such transactions. */
    {
        static const char *empties[] = {
            "01000000" "00" "01" "0000000000000000" "00" "00000000",
            "02000000" "00" "00" "00000000",
            "01000000" "01" "1111111111111111111111111111111111111111111111111111111111111111"
            "00000000" "00" "ffffffff" "00" "00000000",
        };
        for (size_t i = 0; i < 3; i++) {
            kura_tx *tx = NULL;
            size_t el, sl;
            uint8_t *e = tu_unhex(empties[i], &el), *s;
            assert_int_equal(kura_tx_parse(&tx, e, el, 0, NULL), KURA_OK);
            assert_int_equal(tx->input_count, i == 2 ? 1 : 0);
            assert_int_equal(tx->output_count, i == 0 ? 1 : 0);
            s = serialize(tx, KURA_TX_WITNESS, &sl);
            tu_assert_bytes_equal(s, sl, e, el);
            free(s);
            kura_tx_free(tx);
            free(e);
        }
        /* With KURA_TX_WITNESS the 0x00 is the marker and needs flag 1. */
        expect_refused_hex(empties[1], KURA_TX_WITNESS, KURA_EDATA, "witness flag 0x00");
        /* Marker, flag, then zero inputs: every witness is (vacuously) empty. */
        expect_refused_hex("02000000" "0001" "00" "00" "00000000", KURA_TX_WITNESS, KURA_EDATA,
                           "superfluous witness");
    }
    /* A witness serialisation where only the legacy form is allowed. */
    {
        json_t *root = tu_load_json("bip143.json");
        size_t slen;
        uint8_t *s = tu_unhex(tu_str(json_array_get(json_object_get(root, "examples"), 0),
                                     "signed_tx"),
                              &slen);
        expect_refused_why(s, slen, 0, KURA_EDATA, "witness serialisation");
        free(s);
        json_decref(root);
    }
    /* BIP174: every valid PSBT's unsigned transaction parses in legacy form
     * and re-serialises identically; the one serialised in witness form is
     * refused for that reason. */
    {
        json_t *root = tu_load_json("bip174.json"), *v;
        size_t i, n = 0;
        json_array_foreach(json_object_get(root, "valid"), i, v) {
            size_t pl, sl;
            uint8_t *p = tu_unhex(tu_str(v, "hex"), &pl), *s;
            kura_tx *tx = NULL;
            kura_error err;
            /* magic (5) | key len 01 | key 00 (global unsigned tx) | len | tx */
            if (pl > 8 && p[5] == 0x01 && p[6] == 0x00 && p[7] < 0xfd && (size_t)8 + p[7] <= pl) {
                if (kura_tx_parse(&tx, p + 8, p[7], 0, &err) != KURA_OK)
                    fail_msg("%s: %s", tu_str(v, "description"), err.message);
                s = serialize(tx, 0, &sl);
                tu_assert_bytes_equal(s, sl, p + 8, p[7]);
                free(s);
                kura_tx_free(tx);
                n++;
            }
            free(p);
        }
        assert_true(n >= 8);
        json_array_foreach(json_object_get(root, "invalid"), i, v) {
            if (strcmp(tu_str(v, "description"),
                       "PSBT with unsigned tx serialized with witness serialization format") == 0) {
                size_t pl;
                uint8_t *p = tu_unhex(tu_str(v, "hex"), &pl);
                assert_true(pl > 8 && p[5] == 0x01 && p[6] == 0x00 && (size_t)8 + p[7] <= pl);
                expect_refused_why(p + 8, p[7], 0, KURA_EDATA, "witness serialisation");
                free(p);
                n++;
            }
        }
        print_message("bip174.json: %zu unsigned transactions checked\n", n);
        json_decref(root);
    }
    /* Misuse. */
    {
        kura_tx *tx = NULL;
        kura_error err;
        assert_int_equal(kura_tx_parse(NULL, b, len, 0, NULL), KURA_EINVAL);
        assert_int_equal(kura_tx_parse(&tx, b, len, 0x80, &err), KURA_EINVAL);
        assert_int_equal(err.code, KURA_EINVAL);
        assert_null(tx);
        assert_int_equal(kura_tx_parse(&tx, NULL, 10, 0, NULL), KURA_EINVAL);
    }
    free(b);
}

static void test_refuse_amounts(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = small_bytes(&len);
    kura_tx *tx = NULL;
    uint64_t total;
    /* Output 0's amount sits at offset 47 (after the output count). */
    const size_t amt0 = 47;
    const size_t amt1 = 47 + 8 + 1 + 25;
    /* Exactly 21e6 BTC in one output and 0 in the other is allowed. */
    {
        uint64_t v = KURA_MAX_MONEY;
        for (int i = 0; i < 8; i++) b[amt0 + (size_t)i] = (uint8_t)(v >> (8 * i));
        memset(b + amt1, 0, 8);
        assert_int_equal(kura_tx_parse(&tx, b, len, 0, NULL), KURA_OK);
        assert_int_equal(tx->outputs[0].amount, KURA_MAX_MONEY);
        assert_int_equal(kura_tx_output_total(&total, tx), KURA_OK);
        assert_int_equal(total, KURA_MAX_MONEY);
        kura_tx_free(tx);
        tx = NULL;
        v = KURA_MAX_MONEY + 1;
        for (int i = 0; i < 8; i++) b[amt0 + (size_t)i] = (uint8_t)(v >> (8 * i));
        expect_refused_why(b, len, 0, KURA_ERANGE, "output 0: amount");
        memset(b + amt0, 0xff, 8);
        expect_refused_why(b, len, 0, KURA_ERANGE, "output 0: amount");
        /* Each within the limit, the sum over it (consensus refuses this too). */
        v = KURA_MAX_MONEY;
        for (int i = 0; i < 8; i++) b[amt0 + (size_t)i] = (uint8_t)(v >> (8 * i));
        b[amt1] = 1;
        expect_refused_why(b, len, 0, KURA_ERANGE, "output total exceeds");
    }
    free(b);
}

static void test_refuse_absurd_counts(void **state)
{
    (void)state;
    const char *ver = "01000000";
    char hex[512];
    /* Input counts over the hard limit: refused as ERANGE before any read. */
    snprintf(hex, sizeof(hex), "%sfe%s%s", ver, "a0860100", "00"); /* 100000 is the limit... */
    expect_refused_hex(hex, 0, KURA_EDATA, "100000 inputs cannot fit");                        /* ...and cannot fit */
    snprintf(hex, sizeof(hex), "%sfe%s%s", ver, "a1860100", "00"); /* 100001 */
    expect_refused_hex(hex, 0, KURA_ERANGE, "100001 inputs exceed");
    snprintf(hex, sizeof(hex), "%sff%s", ver, "ffffffffffffffff");
    expect_refused_hex(hex, 0, KURA_ERANGE, "inputs exceed");
    snprintf(hex, sizeof(hex), "%sfe%s", ver, "ffffffff");
    expect_refused_hex(hex, KURA_TX_WITNESS, KURA_ERANGE, "inputs exceed");
    /* Two inputs need 82 bytes; only one input's worth follows. */
    snprintf(hex, sizeof(hex), "%s02%s00000000" "00" "ffffffff" "01" "0000000000000000" "00"
                               "00000000",
             ver, "1111111111111111111111111111111111111111111111111111111111111111");
    expect_refused_hex(hex, 0, KURA_EDATA, "2 inputs cannot fit");

    /* Output count too large for the bytes / over the limit. */
    {
        const char *in = "01" "1111111111111111111111111111111111111111111111111111111111111111"
                         "00000000" "00" "ffffffff";
        snprintf(hex, sizeof(hex), "%s%s" "fd0010" "0000000000000000" "00" "00000000", ver, in);
        expect_refused_hex(hex, 0, KURA_EDATA, "4096 outputs cannot fit");
        snprintf(hex, sizeof(hex), "%s%s" "fea1860100" "0000000000000000" "00" "00000000", ver,
                 in);
        expect_refused_hex(hex, 0, KURA_ERANGE, "100001 outputs exceed");
        /* scriptPubKey length larger than what is left. */
        snprintf(hex, sizeof(hex), "%s%s" "01" "0000000000000000" "feffffff7f" "00000000", ver,
                 in);
        expect_refused_hex(hex, 0, KURA_EDATA, "scriptPubKey of output 0: length");
        /* scriptSig length larger than what is left. */
        snprintf(hex, sizeof(hex),
                 "%s01%s00000000" "fd0001" "ffffffff" "01" "0000000000000000" "00" "00000000", ver,
                 "1111111111111111111111111111111111111111111111111111111111111111");
        expect_refused_hex(hex, 0, KURA_EDATA, "scriptSig of input 0: length");
        /* Witness item counts: over the limit, and too many for the bytes. */
        snprintf(hex, sizeof(hex), "%s0001%s" "01" "0000000000000000" "00" "fea1860100" "00000000",
                 ver, in);
        expect_refused_hex(hex, KURA_TX_WITNESS, KURA_ERANGE, "witness items exceed");
        snprintf(hex, sizeof(hex), "%s0001%s" "01" "0000000000000000" "00" "fd0001" "00000000",
                 ver, in);
        expect_refused_hex(hex, KURA_TX_WITNESS, KURA_EDATA, "256 witness items cannot fit");
        /* Witness item length larger than what is left. */
        snprintf(hex, sizeof(hex), "%s0001%s" "01" "0000000000000000" "00" "01" "fd0002" "00000000",
                 ver, in);
        expect_refused_hex(hex, KURA_TX_WITNESS, KURA_EDATA, "witness item of input 0: length 512");
        /* And the well-formed version of the same transaction parses. */
        snprintf(hex, sizeof(hex), "%s0001%s" "01" "0000000000000000" "00" "01" "0151" "00000000",
                 ver, in);
        {
            kura_tx *tx = NULL;
            assert_int_equal(parse_hex(&tx, hex, KURA_TX_WITNESS, NULL), KURA_OK);
            assert_int_equal(tx->inputs[0].witness_count, 1);
            assert_int_equal(tx->inputs[0].witness[0].data[0], 0x51);
            kura_tx_free(tx);
        }
    }
    /* More than KURA_TX_MAX_SIZE bytes in total. */
    {
        size_t big = (size_t)KURA_TX_MAX_SIZE + 1;
        uint8_t *b = calloc(big, 1);
        assert_non_null(b);
        expect_refused_why(b, big, KURA_TX_WITNESS, KURA_ERANGE, "bytes exceed the limit");
        free(b);
    }
}

/* ---- building ---- */

/* The BIP174 creator's unsigned transaction, built with the _add_ functions
 * from the creator's inputs and outputs, must equal the one inside the
 * creator's PSBT; then setting the finaliser's scriptSigs and witnesses must
 * give the extractor's transaction. */
static void test_build_bip174(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bip174.json");
    json_t *wf = json_object_get(root, "workflow");
    json_t *creator = json_object_get(wf, "creator");
    json_t *ins = json_object_get(creator, "inputs"), *outs = json_object_get(creator, "outputs");
    size_t psbt_len, i;
    uint8_t *psbt = tu_unhex(tu_str(json_object_get(creator, "psbt"), "hex"), &psbt_len);
    kura_tx *tx = kura_tx_new();
    json_t *v;
    uint64_t total;
    assert_non_null(tx);
    json_array_foreach(ins, i, v) {
        uint8_t txid[32];
        kura_error err;
        assert_int_equal(kura_txid_from_hex(txid, tu_str(v, "txid"), &err), KURA_OK);
        assert_int_equal(kura_tx_add_input(tx, txid,
                                           (uint32_t)json_integer_value(json_object_get(v, "vout")),
                                           0xffffffffu, NULL, 0),
                         KURA_OK);
    }
    json_array_foreach(outs, i, v) {
        size_t sl;
        uint8_t *spk = tu_unhex(tu_str(v, "script_pubkey"), &sl);
        assert_int_equal(kura_tx_add_output(tx,
                                            (uint64_t)json_integer_value(
                                                json_object_get(v, "amount_sat")),
                                            spk, sl),
                         KURA_OK);
        free(spk);
    }
    {
        /* PSBT: magic (5) | key len 01 | key 00 | value len (CompactSize < 0xfd) | tx */
        size_t n, tx_len = psbt[7];
        uint8_t *s;
        assert_int_equal(psbt[5], 0x01);
        assert_int_equal(psbt[6], 0x00);
        s = serialize(tx, KURA_TX_WITNESS, &n);
        tu_assert_bytes_equal(s, n, psbt + 8, tx_len);
        free(s);
    }
    assert_int_equal(kura_tx_output_total(&total, tx), KURA_OK);
    assert_int_equal(total, 149990000u + 100000000u);

    /* Finalise by hand with the extractor transaction's scripts and witnesses. */
    {
        size_t xlen, n;
        uint8_t *x = tu_unhex(tu_str(json_object_get(wf, "extractor"), "tx_hex"), &xlen);
        kura_tx *ref = NULL;
        uint8_t *s;
        assert_int_equal(kura_tx_parse(&ref, x, xlen, KURA_TX_WITNESS, NULL), KURA_OK);
        assert_int_equal(ref->input_count, tx->input_count);
        for (size_t k = 0; k < ref->input_count; k++) {
            assert_int_equal(kura_tx_set_script_sig(tx, k, ref->inputs[k].script_sig.data,
                                                    ref->inputs[k].script_sig.len),
                             KURA_OK);
            assert_int_equal(kura_tx_set_witness(tx, k, ref->inputs[k].witness,
                                                 ref->inputs[k].witness_count),
                             KURA_OK);
        }
        s = serialize(tx, KURA_TX_WITNESS, &n);
        tu_assert_bytes_equal(s, n, x, xlen);
        free(s);
        /* Replacing again (and emptying) frees the old copies. */
        assert_int_equal(kura_tx_set_witness(tx, 1, NULL, 0), KURA_OK);
        assert_int_equal(kura_tx_set_witness(tx, 1, ref->inputs[1].witness,
                                             ref->inputs[1].witness_count),
                         KURA_OK);
        kura_tx_free(ref);
        free(x);
    }
    kura_tx_free(tx);
    free(psbt);
    json_decref(root);
}

static void test_build_misuse(void **state)
{
    (void)state;
    kura_tx *tx = kura_tx_new();
    uint8_t txid[32] = {0}, buf[8];
    uint8_t spk[1] = {0x51};
    kura_bytes item = {NULL, 3};
    size_t written = 99;
    assert_non_null(tx);
    assert_int_equal(tx->version, 2);
    assert_int_equal(tx->locktime, 0);
    assert_int_equal(kura_tx_add_input(NULL, txid, 0, 0, NULL, 0), KURA_EINVAL);
    assert_int_equal(kura_tx_add_input(tx, NULL, 0, 0, NULL, 0), KURA_EINVAL);
    assert_int_equal(kura_tx_add_input(tx, txid, 0, 0, NULL, 5), KURA_EINVAL);
    assert_int_equal(kura_tx_add_output(tx, KURA_MAX_MONEY + 1, spk, 1), KURA_ERANGE);
    assert_int_equal(kura_tx_add_output(tx, 1, NULL, 1), KURA_EINVAL);
    assert_int_equal(tx->output_count, 0);
    assert_int_equal(kura_tx_set_script_sig(tx, 0, spk, 1), KURA_EINVAL); /* no input 0 yet */
    assert_int_equal(kura_tx_add_input(tx, txid, 7, 0xfffffffd, spk, 1), KURA_OK);
    assert_int_equal(kura_tx_add_output(tx, KURA_MAX_MONEY, spk, 1), KURA_OK);
    assert_int_equal(kura_tx_set_witness(tx, 1, &item, 1), KURA_EINVAL);
    assert_int_equal(kura_tx_set_witness(tx, 0, &item, 1), KURA_EINVAL); /* NULL data, len 3 */
    assert_int_equal(kura_tx_set_witness(tx, 0, NULL, KURA_TX_MAX_WITNESS_ITEMS + 1),
                     KURA_EINVAL);
    /* Too small a buffer: refused, with the size needed. */
    assert_int_equal(kura_tx_serialize(buf, sizeof(buf), &written, tx, 0), KURA_EINVAL);
    assert_int_equal(written, kura_tx_serialized_size(tx, 0));
    assert_int_equal(kura_tx_serialize(buf, sizeof(buf), &written, tx, 0x10), KURA_EINVAL);
    assert_int_equal(kura_tx_serialize(buf, sizeof(buf), NULL, tx, 0), KURA_EINVAL);
    /* A built transaction: hand-assembled expected bytes. */
    {
        size_t n;
        uint8_t *s = serialize(tx, KURA_TX_WITNESS, &n);
        uint8_t want[4 + 1 + 36 + 2 + 4 + 1 + 8 + 2 + 4];
        size_t p = 0;
        memcpy(want + p, "\x02\x00\x00\x00\x01", 5);
        p += 5;
        memset(want + p, 0, 32);
        p += 32;
        memcpy(want + p, "\x07\x00\x00\x00\x01\x51\xfd\xff\xff\xff\x01", 11);
        p += 11;
        memcpy(want + p, "\x00\x40\x07\x5a\xf0\x75\x07\x00\x01\x51\x00\x00\x00\x00", 14);
        p += 14;
        assert_int_equal(p, sizeof(want));
        tu_assert_bytes_equal(s, n, want, sizeof(want));
        assert_int_equal(kura_tx_weight(tx), 4 * sizeof(want));
        assert_int_equal(kura_tx_vsize(tx), sizeof(want));
        free(s);
    }
    /* Adding a witness switches to the BIP144 form; weight counts it once. */
    {
        uint8_t w1[2] = {0xab, 0xcd};
        kura_bytes items[2] = {{w1, 2}, {NULL, 0}};
        size_t n, base = kura_tx_serialized_size(tx, 0);
        uint8_t *s;
        assert_int_equal(kura_tx_set_witness(tx, 0, items, 2), KURA_OK);
        s = serialize(tx, KURA_TX_WITNESS, &n);
        /* marker+flag (2) + count (1) + item (1+2) + empty item (1) */
        assert_int_equal(n, base + 2 + 1 + 3 + 1);
        assert_int_equal(s[4], 0x00);
        assert_int_equal(s[5], 0x01);
        assert_int_equal(kura_tx_weight(tx), 3 * base + n);
        assert_int_equal(kura_tx_vsize(tx), (3 * base + n + 3) / 4);
        free(s);
    }
    kura_tx_free(tx);
    kura_tx_free(NULL);
}

static void test_output_total_overflow(void **state)
{
    (void)state;
    kura_tx *tx = kura_tx_new();
    uint64_t total = 5;
    uint8_t spk[1] = {0x51};
    assert_int_equal(kura_tx_add_output(tx, KURA_MAX_MONEY, spk, 1), KURA_OK);
    assert_int_equal(kura_tx_add_output(tx, 1, spk, 1), KURA_OK);
    assert_int_equal(kura_tx_output_total(&total, tx), KURA_ERANGE);
    assert_int_equal(total, 0);
    kura_tx_free(tx);
}

static void test_txid_hex(void **state)
{
    (void)state;
    /* The BIP174 creator's first input: display form vs. the bytes in its
     * unsigned transaction (input 0's outpoint hash). */
    const char *disp = "75ddabb27b8845f5247975c8a5ba7c6f336c4570708ebe230caf6db5217ae858";
    uint8_t id[32], want[32];
    char back[65];
    kura_error err;
    tu_unhex_fixed("58e87a21b56daf0c23be8e7070456c336f7cbaa5c8757924f545887bb2abdd75", want, 32);
    assert_int_equal(kura_txid_from_hex(id, disp, &err), KURA_OK);
    tu_assert_bytes_equal(id, 32, want, 32);
    kura_txid_to_hex(back, id);
    assert_string_equal(back, disp);
    assert_int_equal(
        kura_txid_from_hex(id, "75DDABB27B8845F5247975C8A5BA7C6F336C4570708EBE230CAF6DB5217AE858",
                           NULL),
        KURA_OK);
    tu_assert_bytes_equal(id, 32, want, 32);
    /* Refusals leave out zeroed. */
    assert_int_equal(kura_txid_from_hex(id, "75dd", &err), KURA_EDATA);
    assert_int_equal(err.code, KURA_EDATA);
    memset(want, 0, 32);
    tu_assert_bytes_equal(id, 32, want, 32);
    assert_int_equal(
        kura_txid_from_hex(id, "75ddabb27b8845f5247975c8a5ba7c6f336c4570708ebe230caf6db5217ae8580",
                           &err),
        KURA_EDATA);
    assert_int_equal(
        kura_txid_from_hex(id, "g5ddabb27b8845f5247975c8a5ba7c6f336c4570708ebe230caf6db5217ae858",
                           &err),
        KURA_EDATA);
    assert_int_equal(kura_txid_from_hex(id, NULL, &err), KURA_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bip143_transactions),
        cmocka_unit_test(test_bip341_and_bip174_transactions),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_refuse_noncanonical_compact_size),
        cmocka_unit_test(test_refuse_witness_flag_and_superfluous),
        cmocka_unit_test(test_refuse_trailing_and_structure),
        cmocka_unit_test(test_refuse_amounts),
        cmocka_unit_test(test_refuse_absurd_counts),
        cmocka_unit_test(test_build_bip174),
        cmocka_unit_test(test_build_misuse),
        cmocka_unit_test(test_output_total_overflow),
        cmocka_unit_test(test_txid_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
