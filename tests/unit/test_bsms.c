/* BIP129 (BSMS 1.0) against the BIP's test vectors (tests/vectors/bip129.json):
 * every signer's key record verifies (legacy signed-message signature by its
 * own key), the descriptor records kura's kinds use verify against the key
 * records and give the wallet and its first address, the encrypted files
 * decrypt (and encrypt) byte for byte; then the attacks: a changed record,
 * a record moved to another key, a descriptor with the coordinator's key in
 * a cosigner's place, a wrong first address, a wrong threshold; and kura's
 * own records and descriptor records round-trip. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kura/bsms.h"
#include "kura/descriptor.h"
#include "kura/encoding.h"
#include "kura/script.h"
#include "testutil.h"
#include "testutil_keys.h"

static kura_ctx *ctx;

static json_t *modes(json_t *v)
{
    return json_object_get(v, "modes");
}

/* The content of file `name` in party p (NULL if none). */
static const char *file_of(json_t *party, const char *name)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(party, "files"), i, f) {
        if (strcmp(tu_str(f, "name"), name) == 0) return tu_str(f, "content");
    }
    return NULL;
}

static const char *field_of(json_t *party, const char *prefix)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(party, "fields"), i, f) {
        if (strncmp(tu_str(f, "key"), prefix, strlen(prefix)) == 0) return tu_str(f, "value");
    }
    return NULL;
}

/* Parses the key records of round 1 of mode `m` into recs (returns count). */
static size_t records_of(json_t *mode, kura_bsms_key_record *recs)
{
    json_t *r1 = json_object_get(json_object_get(mode, "rounds"), "round1"), *p;
    size_t i, n = 0;
    json_array_foreach(r1, i, p) {
        char name[32];
        const char *party = tu_str(p, "party"), *text;
        kura_error err;
        if (strncmp(party, "Signer ", 7) != 0 || strchr(party + 7, ' ') != NULL) continue;
        snprintf(name, sizeof(name), "signer_%s_key.bsms", party + 7);
        text = file_of(p, name);
        assert_non_null(text);
        if (kura_bsms_key_record_parse(&recs[n], text, strlen(text), &err) != KURA_OK)
            fail_msg("%s: %s", name, err.message);
        /* The record holds the signer's key and fingerprint. */
        {
            char fp[9];
            const char *xpub = field_of(p, "XPUB"), *pub = field_of(p, "Public Key");
            (void)kura_hex_encode(fp, sizeof(fp), recs[n].fingerprint, 4);
            assert_string_equal(fp, field_of(p, "MASTER_KEY_FINGERPRINT"));
            if (xpub != NULL) {
                char back[KURA_BIP32_SERIALIZED_LEN];
                assert_true(recs[n].is_xpub);
                assert_int_equal(kura_bip32_serialize(back, sizeof(back), &recs[n].xpub, 0),
                                 KURA_OK);
                assert_string_equal(back, xpub);
            } else {
                assert_non_null(pub);
                assert_false(recs[n].is_xpub);
                assert_string_equal(tu_hex(recs[n].pubkey, 33), pub);
            }
        }
        n++;
    }
    return n;
}

static void test_key_records(void **state)
{
    json_t *v = tu_load_json("bip129.json"), *mode;
    size_t i, total = 0;
    (void)state;
    json_array_foreach(modes(v), i, mode) {
        kura_bsms_key_record recs[4];
        total += records_of(mode, recs);
    }
    assert_int_equal(total, 9);
    json_decref(v);
}

static void test_descriptor_records(void **state)
{
    json_t *v = tu_load_json("bip129.json");
    size_t verified = 0;
    (void)state;
    for (size_t mi = 0; mi < json_array_size(modes(v)); mi++) {
        json_t *mode = json_array_get(modes(v), mi);
        json_t *coord = json_array_get(json_object_get(json_object_get(mode, "rounds"), "round2"), 0);
        const char *text = file_of(coord, "my_multisig_wallet.bsms");
        kura_bsms_key_record recs[4];
        size_t n = records_of(mode, recs);
        kura_descriptor *d = NULL;
        unsigned m = 0;
        kura_bsms_kind kind;
        kura_error err;
        int rc;
        assert_non_null(text);
        rc = kura_bsms_descriptor_record_verify(ctx, &d, &m, &kind, text, strlen(text), recs, n,
                                                KURA_NETWORK_MAINNET, &err);
        if (strstr(text, "\n/0/*,/1/*\n") != NULL && strncmp(text + 9, "wsh(sortedmulti(", 16) == 0) {
            char addr[KURA_ADDRESS_MAX], *canon = NULL;
            if (rc != KURA_OK) fail_msg("mode %zu: %s", mi, err.message);
            assert_int_equal(m, 2);
            assert_int_equal(kind, KURA_BSMS_WSH_SORTEDMULTI);
            assert_int_equal(kura_descriptor_address(ctx, addr, sizeof(addr), d, 0, 0,
                                                     KURA_NETWORK_MAINNET, NULL),
                             KURA_OK);
            assert_non_null(strstr(text, addr));
            assert_int_equal(kura_descriptor_multipath_count(d), 2);
            assert_int_equal(kura_descriptor_to_string(ctx, &canon, d, KURA_DESCRIPTOR_ALL_BRANCHES,
                                                       KURA_DESCRIPTOR_PUBLIC, NULL),
                             KURA_OK);
            assert_non_null(strstr(canon, "/<0;1>/*"));
            kura_descriptor_string_free(canon);
            kura_descriptor_free(d);
            /* The same text written by kura's coordinator side. */
            {
                char *mine = NULL;
                size_t len = 0;
                assert_int_equal(kura_bsms_descriptor_record_write(ctx, &mine, &len, recs, n, 2,
                                                                   KURA_BSMS_WSH_SORTEDMULTI,
                                                                   KURA_NETWORK_MAINNET, &err),
                                 KURA_OK);
                assert_int_equal(strncmp(mine, text, strlen(text)), 0);
                free(mine);
            }
            verified++;
        } else {
            /* Plain keys without restrictions, and sh(wsh(multi)), are not
             * kura wallets: refused, by name. */
            assert_int_equal(rc, KURA_EDATA);
            assert_null(d);
        }
    }
    assert_int_equal(verified, 2);
    json_decref(v);
}

static void test_encryption(void **state)
{
    json_t *v = tu_load_json("bip129.json");
    size_t checked = 0;
    (void)state;
    for (size_t mi = 0; mi < json_array_size(modes(v)); mi++) {
        json_t *mode = json_array_get(modes(v), mi), *rounds = json_object_get(mode, "rounds");
        json_t *coord = json_array_get(json_object_get(rounds, "round1"), 0);
        const char *mode_name = tu_str(mode, "mode");
        if (strcmp(mode_name, "NO_ENCRYPTION") == 0) continue;
        for (int r = 1; r <= 2; r++) {
            json_t *parties = json_object_get(rounds, r == 1 ? "round1" : "round2"), *p;
            size_t i;
            json_array_foreach(parties, i, p) {
                size_t fi;
                json_t *f;
                json_array_foreach(json_object_get(p, "files"), fi, f) {
                    const char *name = tu_str(f, "name"), *hex = tu_str(f, "content");
                    const char *plain_name, *plain = NULL, *token_hex = NULL;
                    char plain_file[64], *got = NULL, *enc = NULL;
                    uint8_t token[16];
                    size_t token_len = 0, got_len = 0, enc_len = 0;
                    kura_error err;
                    if (strstr(name, ".dat") == NULL) continue;
                    /* The plaintext: the same name with .bsms, from the
                     * party before (round 1) or the coordinator (round 2). */
                    snprintf(plain_file, sizeof(plain_file), "%s", name);
                    strcpy(strstr(plain_file, ".dat"), ".bsms");
                    if (strstr(plain_file, "_for_signer_") != NULL) {
                        char who = plain_file[strlen("my_multisig_wallet_for_signer_")];
                        strcpy(plain_file, "my_multisig_wallet.bsms");
                        {
                            char key[40];
                            snprintf(key, sizeof(key), "TOKEN for Signer %c", who);
                            token_hex = field_of(coord, key);
                        }
                    } else {
                        token_hex = field_of(coord, "TOKEN (hex)");
                        if (token_hex == NULL) {
                            char key[40];
                            snprintf(key, sizeof(key), "TOKEN for Signer %c",
                                     plain_file[strlen("signer_")]);
                            token_hex = field_of(coord, key);
                        }
                    }
                    plain_name = plain_file;
                    for (size_t k = 0; k < json_array_size(parties) && plain == NULL; k++)
                        plain = file_of(json_array_get(parties, k), plain_name);
                    assert_non_null(plain);
                    assert_non_null(token_hex);
                    assert_int_equal(kura_hex_decode(token, sizeof(token), &token_len, token_hex,
                                                     NULL),
                                     KURA_OK);
                    if (kura_bsms_decrypt(&got, &got_len, token, token_len, hex, strlen(hex),
                                          &err) != KURA_OK)
                        fail_msg("%s: %s", name, err.message);
                    assert_string_equal(got, plain);
                    assert_int_equal(kura_bsms_encrypt(&enc, &enc_len, token, token_len,
                                                       (const uint8_t *)plain, strlen(plain)),
                                     KURA_OK);
                    assert_string_equal(enc, hex);
                    /* Another token: the MAC does not match. */
                    token[0] ^= 1;
                    free(got);
                    got = NULL;
                    assert_int_equal(kura_bsms_decrypt(&got, &got_len, token, token_len, hex,
                                                       strlen(hex), &err),
                                     KURA_EDATA);
                    assert_null(got);
                    free(enc);
                    checked++;
                }
            }
        }
    }
    assert_int_equal(checked, 9);
    json_decref(v);
}

/* The attacks, on mode 2 (2-of-2 xpubs, no encryption). */
static void test_tampering(void **state)
{
    json_t *v = tu_load_json("bip129.json");
    json_t *mode = json_array_get(modes(v), 1);
    json_t *coord = json_array_get(json_object_get(json_object_get(mode, "rounds"), "round2"), 0);
    json_t *r1 = json_object_get(json_object_get(mode, "rounds"), "round1");
    const char *rec1 = file_of(json_array_get(r1, 1), "signer_1_key.bsms");
    const char *rec2 = file_of(json_array_get(r1, 2), "signer_2_key.bsms");
    const char *desc = file_of(coord, "my_multisig_wallet.bsms");
    kura_bsms_key_record recs[2], r;
    kura_descriptor *d = NULL;
    kura_error err;
    char *t;
    (void)state;
    assert_int_equal(records_of(mode, recs), 2);
    /* A changed description, token or key: the signature no longer holds. */
    t = tu_edit(rec1, "Signer 1 key", "Signer 1 kez");
    assert_int_equal(kura_bsms_key_record_parse(&r, t, strlen(t), &err), KURA_BSMS_EBADSIG);
    free(t);
    /* Signer 2's key under signer 1's signature (a substituted key). */
    {
        const char *k2 = strchr(strchr(rec2, '\n') + 1, '\n') + 1;
        const char *k1 = strchr(strchr(rec1, '\n') + 1, '\n') + 1;
        char from[200], to[200];
        snprintf(from, sizeof(from), "%.*s", (int)(strchr(k1, '\n') - k1), k1);
        snprintf(to, sizeof(to), "%.*s", (int)(strchr(k2, '\n') - k2), k2);
        t = tu_edit(rec1, from, to);
        assert_int_equal(kura_bsms_key_record_parse(&r, t, strlen(t), &err), KURA_BSMS_EBADSIG);
        free(t);
    }
    /* Garbage signatures and shapes. */
    t = tu_edit(rec1, "BSMS 1.0", "BSMS 2.0");
    assert_int_equal(kura_bsms_key_record_parse(&r, t, strlen(t), &err), KURA_EDATA);
    free(t);
    assert_int_equal(kura_bsms_key_record_parse(&r, rec1, strlen(rec1) - 3, &err), KURA_EDATA);
    /* The coordinator's own key in the descriptor in place of signer 2's. */
    {
        kura_bip32_key m;
        char origin[256], xpub[KURA_BIP32_SERIALIZED_LEN];
        const uint32_t p48[] = {48 | KURA_BIP32_HARDENED, KURA_BIP32_HARDENED,
                                KURA_BIP32_HARDENED, 2 | KURA_BIP32_HARDENED};
        const char *k2 = strstr(desc, "[4fc1dd4a"), *e = strstr(k2, "/**");
        char from[200], to[300];
        tu_make_master(ctx, &m, origin, sizeof(origin), 0x66, p48, 4, "48h/0h/0h/2h");
        assert_int_equal(kura_bip32_serialize(xpub, sizeof(xpub), &m, 0), KURA_OK);
        (void)xpub;
        snprintf(from, sizeof(from), "%.*s", (int)(e - k2), k2);
        snprintf(to, sizeof(to), "%s", origin);
        t = tu_edit(desc, from, to);
        assert_int_equal(kura_bsms_descriptor_record_verify(ctx, &d, NULL, NULL, t, strlen(t),
                                                            recs, 2, KURA_NETWORK_MAINNET, &err),
                         KURA_EDATA);
        assert_non_null(strstr(err.message, "key 2 of the descriptor is not any signer's"));
        assert_null(d);
        free(t);
        kura_bip32_wipe(&m);
    }
    /* One key twice (a key insertion), a lower threshold, another first
     * address, other restrictions: each refused. */
    t = tu_edit(desc, "sortedmulti(2,", "sortedmulti(1,");
    assert_int_equal(kura_bsms_descriptor_record_verify(ctx, &d, NULL, NULL, t, strlen(t), recs, 2,
                                                        KURA_NETWORK_MAINNET, &err),
                     KURA_EDATA);
    assert_non_null(strstr(err.message, "first address"));
    free(t);
    t = tu_edit(desc, "/0/*,/1/*", "/1/*,/0/*");
    assert_int_equal(kura_bsms_descriptor_record_verify(ctx, &d, NULL, NULL, t, strlen(t), recs, 2,
                                                        KURA_NETWORK_MAINNET, &err),
                     KURA_EDATA);
    free(t);
    assert_int_equal(kura_bsms_descriptor_record_verify(ctx, &d, NULL, NULL, desc, strlen(desc),
                                                        recs, 1, KURA_NETWORK_MAINNET, &err),
                     KURA_EDATA);
    assert_non_null(strstr(err.message, "2 keys, but 1 signers"));
    /* The records of one signer twice do not make two signers. */
    {
        kura_bsms_key_record twice[2] = {recs[0], recs[0]};
        assert_int_equal(kura_bsms_descriptor_record_verify(ctx, &d, NULL, NULL, desc,
                                                            strlen(desc), twice, 2,
                                                            KURA_NETWORK_MAINNET, &err),
                         KURA_EDATA);
    }
    json_decref(v);
}

/* kura's own round trip: three signers write records (testnet, tpub), the
 * coordinator writes the descriptor record, each signer verifies it. */
static void test_round_trip(void **state)
{
    kura_bsms_key_record recs[3];
    const uint32_t p48[] = {48 | KURA_BIP32_HARDENED, 1 | KURA_BIP32_HARDENED,
                            KURA_BIP32_HARDENED, 2 | KURA_BIP32_HARDENED};
    const uint8_t none[1] = {0}, token[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    char *desc = NULL;
    size_t len = 0;
    kura_error err;
    (void)state;
    for (int i = 0; i < 3; i++) {
        kura_bip32_key master, at;
        uint8_t seed[32], fp[4];
        char *text = NULL;
        size_t tl = 0;
        memset(seed, 0x40 + i, sizeof(seed));
        assert_int_equal(kura_bip32_from_seed(ctx, &master, seed, 32, KURA_NETWORK_TESTNET), KURA_OK);
        assert_int_equal(kura_bip32_fingerprint(fp, &master), KURA_OK);
        assert_int_equal(kura_bip32_derive_path(ctx, &at, &master, p48, 4), KURA_OK);
        assert_int_equal(kura_bsms_key_record_write(ctx, &text, &tl, i == 2 ? token : none,
                                                    i == 2 ? 8 : 1, &at, fp, p48, 4,
                                                    "kura-cold test", &err),
                         KURA_OK);
        if (kura_bsms_key_record_parse(&recs[i], text, tl, &err) != KURA_OK)
            fail_msg("record %d: %s\n%s", i, err.message, text);
        assert_string_equal(recs[i].description, "kura-cold test");
        assert_true(recs[i].is_xpub);
        free(text);
        kura_bip32_wipe(&master);
        kura_bip32_wipe(&at);
    }
    for (int kind = 0; kind <= 1; kind++) {
        kura_descriptor *d = NULL;
        unsigned m = 0;
        kura_bsms_kind got;
        assert_int_equal(kura_bsms_descriptor_record_write(ctx, &desc, &len, recs, 3, 2,
                                                           (kura_bsms_kind)kind,
                                                           KURA_NETWORK_TESTNET, &err),
                         KURA_OK);
        if (kura_bsms_descriptor_record_verify(ctx, &d, &m, &got, desc, len, recs, 3,
                                               KURA_NETWORK_TESTNET, &err) != KURA_OK)
            fail_msg("kind %d: %s\n%s", kind, err.message, desc);
        assert_int_equal(m, 2);
        assert_int_equal((int)got, kind);
        kura_descriptor_free(d);
        d = NULL;
        /* On another network the first address differs. */
        assert_int_equal(kura_bsms_descriptor_record_verify(ctx, &d, &m, &got, desc, len, recs, 3,
                                                            KURA_NETWORK_REGTEST, &err),
                         KURA_EDATA);
        free(desc);
        desc = NULL;
    }
    /* Misuse. */
    assert_int_equal(kura_bsms_descriptor_record_write(ctx, &desc, &len, recs, 3, 4,
                                                       KURA_BSMS_WSH_SORTEDMULTI,
                                                       KURA_NETWORK_TESTNET, &err),
                     KURA_EDATA);
    assert_null(desc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_records),     cmocka_unit_test(test_descriptor_records),
        cmocka_unit_test(test_encryption),      cmocka_unit_test(test_tampering),
        cmocka_unit_test(test_round_trip),
    };
    int rc;
    ctx = kura_ctx_new();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    kura_ctx_free(ctx);
    return rc;
}
