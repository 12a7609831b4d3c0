/* BIP32 against bip32.json: the 4 valid vectors (17 chains) from seed to
 * every listed xprv and xpub, parse and re-serialize, neuter, public
 * derivation (one by one and batched) matching private derivation for each
 * non-hardened step, and the 16 invalid keys of test vector 5 refused with
 * KURA_EDATA. Then edge cases and paths. */
#include <string.h>

#include "keys/keys_internal.h"
#include "kura/keys.h"
#include "testutil_keys.h"

static int all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0) return 0;
    return 1;
}

/* Fields a serialization carries (everything but the private key when pub). */
static void assert_same_key(const kura_bip32_key *a, const kura_bip32_key *b, int with_private)
{
    assert_int_equal(a->network, b->network);
    assert_int_equal(a->depth, b->depth);
    tu_assert_bytes_equal(a->parent_fingerprint, 4, b->parent_fingerprint, 4);
    assert_int_equal(a->child_number, b->child_number);
    tu_assert_bytes_equal(a->chain_code, 32, b->chain_code, 32);
    tu_assert_bytes_equal(a->pub, 33, b->pub, 33);
    if (with_private) {
        assert_int_equal(a->has_private, 1);
        assert_int_equal(b->has_private, 1);
        tu_assert_bytes_equal(a->priv, 32, b->priv, 32);
    }
}

static void test_valid_vectors(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bip32.json");
    json_t *valid = json_object_get(root, "valid");
    size_t vi, ci, chains = 0, public_steps = 0;
    json_t *vec, *chain;

    assert_int_equal(json_array_size(valid), 4);
    json_array_foreach(valid, vi, vec) {
        size_t seed_len;
        uint8_t *seed = tu_unhex(tu_str(vec, "seed"), &seed_len);
        kura_bip32_key master, prev_pub;
        int have_prev = 0;
        uint32_t prev_path_len = 0;

        assert_int_equal(
            kura_bip32_from_seed(tu_ctx, &master, seed, seed_len, KURA_NETWORK_MAINNET), KURA_OK);
        json_array_foreach(json_object_get(vec, "chains"), ci, chain) {
            json_t *jidx = json_object_get(chain, "path_indices");
            uint32_t path[KURA_BIP32_PATH_MAX], parsed_path[KURA_BIP32_PATH_MAX];
            size_t path_len = json_array_size(jidx), parsed_len = 99, k;
            json_t *jv;
            kura_bip32_key derived, parsed_prv, parsed_pub, neutered;
            char s[KURA_BIP32_SERIALIZED_LEN], fmt[256];
            kura_error err;

            json_array_foreach(jidx, k, jv) path[k] = (uint32_t)json_integer_value(jv);
            /* The path text parses to the listed indices and formats back. */
            assert_int_equal(kura_bip32_path_parse(parsed_path, KURA_BIP32_PATH_MAX, &parsed_len,
                                                   tu_str(chain, "path"), &err),
                             KURA_OK);
            assert_int_equal(parsed_len, path_len);
            for (k = 0; k < path_len; k++) assert_int_equal(parsed_path[k], path[k]);
            assert_int_equal(kura_bip32_path_format(fmt, sizeof(fmt), path, path_len), KURA_OK);
            {
                /* The vectors write "H"; kura writes "h". */
                char want[256];
                strcpy(want, tu_str(chain, "path"));
                for (char *c = want; *c; c++)
                    if (*c == 'H') *c = 'h';
                assert_string_equal(fmt, want);
            }

            /* Private derivation from the master. */
            assert_int_equal(kura_bip32_derive_path(tu_ctx, &derived, &master, path, path_len),
                             KURA_OK);
            assert_int_equal(kura_bip32_serialize(s, sizeof(s), &derived, 1), KURA_OK);
            assert_string_equal(s, tu_str(chain, "ext_prv"));
            assert_int_equal(kura_bip32_serialize(s, sizeof(s), &derived, 0), KURA_OK);
            assert_string_equal(s, tu_str(chain, "ext_pub"));

            /* Parse both strings back. */
            assert_int_equal(kura_bip32_parse(tu_ctx, &parsed_prv, tu_str(chain, "ext_prv"), &err),
                             KURA_OK);
            assert_same_key(&parsed_prv, &derived, 1);
            assert_int_equal(kura_bip32_parse(tu_ctx, &parsed_pub, tu_str(chain, "ext_pub"), &err),
                             KURA_OK);
            assert_int_equal(parsed_pub.has_private, 0);
            assert_true(all_zero(parsed_pub.priv, 32));
            assert_same_key(&parsed_pub, &derived, 0);
            /* An xpub needs no context to parse. */
            assert_int_equal(kura_bip32_parse(NULL, &parsed_pub, tu_str(chain, "ext_pub"), &err),
                             KURA_OK);
            assert_same_key(&parsed_pub, &derived, 0);
            /* An xpub cannot serialize as private. */
            assert_int_equal(kura_bip32_serialize(s, sizeof(s), &parsed_pub, 1), KURA_EINVAL);

            /* Neuter gives the xpub. */
            kura_bip32_neuter(&neutered, &derived);
            assert_int_equal(neutered.has_private, 0);
            assert_true(all_zero(neutered.priv, 32));
            assert_same_key(&neutered, &parsed_pub, 0);

            /* Fingerprint: the child's parent fingerprint is the parent's. */
            if (have_prev) {
                uint8_t fp[4];
                assert_int_equal(kura_bip32_fingerprint(fp, &prev_pub), KURA_OK);
                tu_assert_bytes_equal(fp, 4, parsed_pub.parent_fingerprint, 4);
            }

            /* Each chain extends the previous by one step. Where that step
             * is not hardened, CKDpub from the previous xpub must give the
             * same xpub as CKDpriv; where it is, CKDpub must refuse. */
            if (have_prev && path_len == prev_path_len + 1) {
                kura_bip32_key pubchild;
                uint32_t last = path[path_len - 1];
                if (last & KURA_BIP32_HARDENED) {
                    assert_int_equal(kura_bip32_derive(tu_ctx, &pubchild, &prev_pub, last),
                                     KURA_EINVAL);
                    assert_true(all_zero(&pubchild, sizeof(pubchild)));
                } else {
                    assert_int_equal(kura_bip32_derive(tu_ctx, &pubchild, &prev_pub, last),
                                     KURA_OK);
                    assert_int_equal(pubchild.has_private, 0);
                    assert_int_equal(kura_bip32_serialize(s, sizeof(s), &pubchild, 0), KURA_OK);
                    assert_string_equal(s, tu_str(chain, "ext_pub"));
                    /* ... and without any context at all. */
                    assert_int_equal(kura_bip32_derive(NULL, &pubchild, &prev_pub, last), KURA_OK);
                    assert_same_key(&pubchild, &parsed_pub, 0);
                    /* The batch path gives the vector's key too. */
                    uint8_t batch[1][33];
                    assert_int_equal(kura_bip32_derive_pubkeys(NULL, batch, &prev_pub, last, 1),
                                     KURA_OK);
                    tu_assert_bytes_equal(batch[0], 33, parsed_pub.pub, 33);
                    public_steps++;
                }
            }
            prev_pub = parsed_pub;
            prev_path_len = (uint32_t)path_len;
            have_prev = 1;
            kura_bip32_wipe(&derived);
            kura_bip32_wipe(&parsed_prv);
            chains++;
        }
        kura_bip32_wipe(&master);
        free(seed);
    }
    assert_int_equal(chains, 17);
    assert_true(public_steps >= 5);
    json_decref(root);
}

static void test_invalid_vectors(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bip32.json");
    json_t *invalid = json_object_get(root, "invalid");
    size_t i;
    json_t *v;
    assert_int_equal(json_array_size(invalid), 16);
    json_array_foreach(invalid, i, v) {
        kura_bip32_key k;
        kura_error err = {0, ""};
        memset(&k, 0x5a, sizeof(k));
        int rc = kura_bip32_parse(tu_ctx, &k, tu_str(v, "key"), &err);
        if (rc != KURA_EDATA)
            fail_msg("accepted or wrong code %d for \"%s\" (%s)", rc, tu_str(v, "key"),
                     tu_str(v, "reason"));
        assert_int_equal(err.code, KURA_EDATA);
        assert_true(strncmp(err.message, "bip32: ", 7) == 0);
        assert_true(all_zero(&k, sizeof(k))); /* wiped, not partly filled */
    }
    json_decref(root);
}

static void test_edge_cases(void **state)
{
    (void)state;
    uint8_t seed[64] = {1};
    kura_bip32_key k, child;
    char s[KURA_BIP32_SERIALIZED_LEN];
    kura_error err;

    /* Seed length 16..64 bytes. */
    assert_int_equal(kura_bip32_from_seed(tu_ctx, &k, seed, 15, KURA_NETWORK_MAINNET), KURA_EINVAL);
    assert_int_equal(kura_bip32_from_seed(tu_ctx, &k, seed, 65, KURA_NETWORK_MAINNET), KURA_EINVAL);
    assert_int_equal(kura_bip32_from_seed(NULL, &k, seed, 32, KURA_NETWORK_MAINNET), KURA_EINVAL);
    assert_int_equal(kura_bip32_from_seed(tu_ctx, &k, seed, 64, (kura_network)7), KURA_EINVAL);
    assert_int_equal(kura_bip32_from_seed(tu_ctx, &k, seed, 16, KURA_NETWORK_MAINNET), KURA_OK);
    assert_int_equal(kura_bip32_from_seed(tu_ctx, &k, seed, 64, KURA_NETWORK_TESTNET), KURA_OK);

    /* Testnet and regtest keys serialize as tprv/tpub; parsing gives TESTNET. */
    assert_int_equal(kura_bip32_serialize(s, sizeof(s), &k, 1), KURA_OK);
    assert_true(strncmp(s, "tprv", 4) == 0);
    assert_int_equal(kura_bip32_parse(tu_ctx, &child, s, &err), KURA_OK);
    assert_int_equal(child.network, KURA_NETWORK_TESTNET);
    k.network = KURA_NETWORK_REGTEST;
    assert_int_equal(kura_bip32_serialize(s, sizeof(s), &k, 0), KURA_OK);
    assert_true(strncmp(s, "tpub", 4) == 0);
    /* An xprv cannot be parsed without a context (it computes the pubkey). */
    assert_int_equal(kura_bip32_serialize(s, sizeof(s), &k, 1), KURA_OK);
    assert_int_equal(kura_bip32_parse(NULL, &child, s, &err), KURA_EINVAL);

    /* Buffer too small for 111 characters and the NUL. */
    assert_int_equal(kura_bip32_serialize(s, 111, &k, 1), KURA_EINVAL);
    assert_string_equal(s, "");

    /* Deriving in place works. */
    kura_bip32_key copy = k;
    assert_int_equal(kura_bip32_derive(tu_ctx, &child, &k, 7), KURA_OK);
    assert_int_equal(kura_bip32_derive(tu_ctx, &copy, &copy, 7), KURA_OK);
    assert_same_key(&copy, &child, 1);

    /* Depth 255 has no children. */
    k.depth = 255;
    assert_int_equal(kura_bip32_derive(tu_ctx, &child, &k, 0), KURA_EINVAL);
    assert_true(all_zero(&child, sizeof(child)));
    k.depth = 0;
    /* Private derivation needs a context. */
    assert_int_equal(kura_bip32_derive(NULL, &child, &k, 0), KURA_EINVAL);

    /* Not extended keys at all. */
    static const char *const bad[] = {
        "",
        "xpub",
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", /* a valid Base58Check address */
        "KwDiBf89QgGbjEhKnhXJuH7LrciVrZi3qYjgd9M7rFU73sVHnoWn", /* a WIF */
        "xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8YtGqsefD265TMg7usUDFdp6W1EGMcet8 ",
        "xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8YtGqsefD265TMg7usUDFdp6W1EGMcet9",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(kura_bip32_parse(tu_ctx, &child, bad[i], &err), KURA_EDATA);
        assert_int_equal(err.code, KURA_EDATA);
    }
    kura_bip32_wipe(&k);
    kura_bip32_wipe(&copy);
    kura_bip32_wipe(&child);
}

/* kura_bip32_derive_pubkeys equals kura_bip32_derive index by index, from a
 * public and from a private parent (vector 1's m/0H/1). */
static void test_derive_pubkeys(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bip32.json");
    json_t *chain = json_array_get(
        json_object_get(json_array_get(json_object_get(root, "valid"), 0), "chains"), 2);
    kura_bip32_key prv, pub, child;
    kura_error err;
    static uint8_t out[300][33];
    assert_int_equal(kura_bip32_parse(tu_ctx, &prv, tu_str(chain, "ext_prv"), &err), KURA_OK);
    assert_int_equal(kura_bip32_parse(tu_ctx, &pub, tu_str(chain, "ext_pub"), &err), KURA_OK);

    assert_int_equal(kura_bip32_derive_pubkeys(NULL, out, &pub, 1000, 300), KURA_OK);
    for (uint32_t i = 0; i < 300; i++) {
        assert_int_equal(kura_bip32_derive(NULL, &child, &pub, 1000 + i), KURA_OK);
        tu_assert_bytes_equal(out[i], 33, child.pub, 33);
    }
    assert_int_equal(kura_bip32_derive_pubkeys(tu_ctx, out, &prv, 1000, 300), KURA_OK);
    for (uint32_t i = 0; i < 300; i += 37) {
        assert_int_equal(kura_bip32_derive(tu_ctx, &child, &prv, 1000 + i), KURA_OK);
        tu_assert_bytes_equal(out[i], 33, child.pub, 33);
    }
    /* The last non-hardened index is fine; one more is not. */
    assert_int_equal(kura_bip32_derive_pubkeys(NULL, out, &pub, 0x7fffffffu, 1), KURA_OK);
    assert_int_equal(kura_bip32_derive(NULL, &child, &pub, 0x7fffffffu), KURA_OK);
    tu_assert_bytes_equal(out[0], 33, child.pub, 33);
    assert_int_equal(kura_bip32_derive_pubkeys(NULL, out, &pub, 0x7fffffffu, 2), KURA_EINVAL);
    assert_int_equal(kura_bip32_derive_pubkeys(NULL, out, &pub, KURA_BIP32_HARDENED, 1),
                     KURA_EINVAL);
    for (size_t k = 0; k < 33; k++) assert_int_equal(out[0][k], 0);
    assert_int_equal(kura_bip32_derive_pubkeys(NULL, NULL, &pub, 0, 0), KURA_OK);
    assert_int_equal(kura_bip32_derive_pubkeys(NULL, NULL, &pub, 0, 1), KURA_EINVAL);
    assert_int_equal(kura_bip32_derive_pubkeys(NULL, out, NULL, 0, 1), KURA_EINVAL);
    pub.depth = 255;
    assert_int_equal(kura_bip32_derive_pubkeys(NULL, out, &pub, 0, 1), KURA_EINVAL);
    kura_bip32_wipe(&prv);
    kura_bip32_wipe(&child);
    json_decref(root);
}

/* The signer's CKDpriv on raw parts gives kura_bip32_derive's secret key and
 * chain code, for hardened and normal steps, also in place; a normal step
 * without the parent's public key is misuse. */
static void test_ckd_priv(void **state)
{
    (void)state;
    static const uint32_t steps[] = {0, 1, KURA_BIP32_HARDENED, KURA_BIP32_HARDENED | 44,
                                     KURA_BIP32_HARDENED - 1, 0xffffffffu};
    uint8_t seed[16], priv[32], chain[32];
    kura_bip32_key cur, next;
    for (size_t i = 0; i < sizeof(seed); i++) seed[i] = (uint8_t)i; /* BIP32 test vector 1 */
    assert_int_equal(kura_bip32_from_seed(tu_ctx, &cur, seed, sizeof(seed), KURA_NETWORK_MAINNET),
                     KURA_OK);
    memcpy(priv, cur.priv, 32);
    memcpy(chain, cur.chain_code, 32);
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        uint8_t cp[32], cc[32];
        assert_int_equal(kura_bip32_derive(tu_ctx, &next, &cur, steps[i]), KURA_OK);
        assert_int_equal(
            kura_bip32_i_ckd_priv(tu_ctx, cp, cc, cur.priv, cur.chain_code, cur.pub, steps[i]),
            KURA_OK);
        tu_assert_bytes_equal(cp, 32, next.priv, 32);
        tu_assert_bytes_equal(cc, 32, next.chain_code, 32);
        {
            /* With the parent's HMAC key schedule done beforehand, twice
             * (the state is not consumed). */
            crypto_auth_hmacsha512_state keyed;
            crypto_auth_hmacsha512_init(&keyed, cur.chain_code, 32);
            for (int twice = 0; twice < 2; twice++) {
                memset(cp, 0, sizeof(cp));
                assert_int_equal(kura_bip32_i_ckd_priv_keyed(tu_ctx, cp, cc, cur.priv, &keyed,
                                                             cur.pub, steps[i]),
                                 KURA_OK);
                tu_assert_bytes_equal(cp, 32, next.priv, 32);
                tu_assert_bytes_equal(cc, 32, next.chain_code, 32);
            }
            sodium_memzero(&keyed, sizeof(keyed));
        }
        /* In place, along the whole chain so far. */
        assert_int_equal(kura_bip32_i_ckd_priv(tu_ctx, priv, chain, priv, chain, cur.pub, steps[i]),
                         KURA_OK);
        tu_assert_bytes_equal(priv, 32, next.priv, 32);
        tu_assert_bytes_equal(chain, 32, next.chain_code, 32);
        if (steps[i] & KURA_BIP32_HARDENED) {
            /* A hardened step needs no public key. */
            assert_int_equal(
                kura_bip32_i_ckd_priv(tu_ctx, cp, cc, cur.priv, cur.chain_code, NULL, steps[i]),
                KURA_OK);
            tu_assert_bytes_equal(cp, 32, next.priv, 32);
        } else {
            memset(cp, 0x55, sizeof(cp));
            memset(cc, 0x55, sizeof(cc));
            assert_int_equal(
                kura_bip32_i_ckd_priv(tu_ctx, cp, cc, cur.priv, cur.chain_code, NULL, steps[i]),
                KURA_EINVAL);
            assert_true(all_zero(cp, 32) && all_zero(cc, 32));
        }
        cur = next;
        memset(cp, 0, sizeof(cp));
        memset(cc, 0, sizeof(cc));
    }
    kura_bip32_wipe(&cur);
    kura_bip32_wipe(&next);
    memset(priv, 0, sizeof(priv));
    memset(chain, 0, sizeof(chain));
}

static void test_path_parse(void **state)
{
    (void)state;
    uint32_t path[8];
    size_t n;
    kura_error err;

    assert_int_equal(kura_bip32_path_parse(path, 8, &n, "m/44'/0h/1H/2/2147483647h", &err),
                     KURA_OK);
    assert_int_equal(n, 5);
    assert_int_equal(path[0], 44u | KURA_BIP32_HARDENED);
    assert_int_equal(path[1], 0u | KURA_BIP32_HARDENED);
    assert_int_equal(path[2], 1u | KURA_BIP32_HARDENED);
    assert_int_equal(path[3], 2u);
    assert_int_equal(path[4], 0xffffffffu);
    assert_int_equal(kura_bip32_path_parse(path, 8, &n, "84h/0h", &err), KURA_OK);
    assert_int_equal(n, 2);
    assert_int_equal(kura_bip32_path_parse(path, 8, &n, "m", &err), KURA_OK);
    assert_int_equal(n, 0);
    assert_int_equal(kura_bip32_path_parse(path, 8, &n, "", &err), KURA_OK);
    assert_int_equal(n, 0);
    assert_int_equal(kura_bip32_path_parse(path, 8, &n, "2147483647", &err), KURA_OK);
    assert_int_equal(path[0], 2147483647u);

    static const char *const bad[] = {
        "m/",   "/0",  "m//1", "m/1/", "m/2147483648", "m/4294967296", "m/99999999999",
        "m/-1", "m/+1", "m/1''", "m/1hh", "m/1x", "m/ 1", "m/01", "M/1", "m1", "mm/1", "1/m",
        "m/1/h", "m/h",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = 7;
        int rc = kura_bip32_path_parse(path, 8, &n, bad[i], &err);
        if (rc != KURA_EDATA) fail_msg("path \"%s\" gave %d", bad[i], rc);
        assert_int_equal(err.code, KURA_EDATA);
        assert_int_equal(n, 0);
    }
    /* Deeper than the caller's array. */
    assert_int_equal(kura_bip32_path_parse(path, 2, &n, "m/1/2/3", &err), KURA_ERANGE);
    assert_int_equal(err.code, KURA_ERANGE);
    assert_int_equal(kura_bip32_path_parse(path, 3, &n, "m/1/2/3", &err), KURA_OK);

    char out[64];
    uint32_t p[3] = {84u | KURA_BIP32_HARDENED, 0, 0xffffffffu};
    assert_int_equal(kura_bip32_path_format(out, sizeof(out), p, 3), KURA_OK);
    assert_string_equal(out, "m/84h/0/2147483647h");
    assert_int_equal(kura_bip32_path_format(out, sizeof(out), NULL, 0), KURA_OK);
    assert_string_equal(out, "m");
    assert_int_equal(kura_bip32_path_format(out, 8, p, 3), KURA_EINVAL);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_vectors),
        cmocka_unit_test(test_invalid_vectors),
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_derive_pubkeys),
        cmocka_unit_test(test_ckd_priv),
        cmocka_unit_test(test_path_parse),
    };
    return cmocka_run_group_tests(tests, tu_ctx_setup, tu_ctx_teardown);
}
