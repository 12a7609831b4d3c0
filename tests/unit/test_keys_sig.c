/* Signatures and single keys:
 *  - BIP340: every row of bip340.csv (sign with the row's aux_rand where it has
 *    a secret key and compare the signature; verify; expect failure where the
 *    CSV says FALSE). The file has CRLF line endings and messages of 0..100
 *    bytes.
 *  - ECDSA: every signature of bip143.json signed again from its private key
 *    (RFC6979, low-S) and compared, then verified; its high-S twin and
 *    non-strict DER variants refused.
 *  - BIP341 tweak: keyPathSpending inputs (internalPrivkey, merkleRoot ->
 *    tweakedPrivkey and the tweaked pubkey) and every scriptPubKey entry.
 *  - WIF: bip174.json's signer keys round trip and match the workflow's
 *    tprv derivation and public keys.
 * The PSBT signer's lean forms (keys_internal.h) are checked against the
 * same vectors: kura_ecdsa_i_sign with and without its key check, the
 * keypair, its BIP341 tweak and kura_schnorr_i_sign32. */
#include <stdlib.h>
#include <string.h>

#include "keys/keys_internal.h"
#include "kura/encoding.h"
#include "kura/hash.h"
#include "kura/keys.h"
#include "testutil_keys.h"

/* ---- BIP340 ---- */

static void test_bip340_csv(void **state)
{
    (void)state;
    size_t len;
    char *csv = tu_read_file("vectors/bip340.csv", &len);
    char *save = NULL;
    char *line = strtok_r(csv, "\n", &save);
    size_t rows = 0, signed_rows = 0, false_rows = 0;

    assert_non_null(line);
    assert_true(strncmp(line, "index,secret key,public key,aux_rand,message,signature,", 55) == 0);
    for (line = strtok_r(NULL, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        char *f[8];
        size_t nf = 0;
        char *p = line;
        size_t l = strlen(line);
        if (l > 0 && line[l - 1] == '\r') line[l - 1] = '\0'; /* CRLF */
        if (line[0] == '\0') continue;
        /* Seven commas split eight fields; the comment (last) has none. */
        f[nf++] = p;
        while (*p && nf < 8) {
            if (*p == ',') {
                *p = '\0';
                f[nf++] = p + 1;
            }
            p++;
        }
        assert_int_equal(nf, 8);

        uint8_t pub[32], sig[64], out[64];
        size_t msg_len;
        uint8_t *msg = tu_unhex(f[4], &msg_len);
        int expect_ok = strcmp(f[6], "TRUE") == 0;
        assert_true(expect_ok || strcmp(f[6], "FALSE") == 0);
        tu_unhex_fixed(f[2], pub, 32);
        tu_unhex_fixed(f[5], sig, 64);

        if (f[1][0] != '\0') {
            uint8_t sk[32], aux[32], xonly[32];
            tu_unhex_fixed(f[1], sk, 32);
            tu_unhex_fixed(f[3], aux, 32);
            assert_int_equal(kura_xonly_from_privkey(tu_ctx, xonly, sk), KURA_OK);
            tu_assert_bytes_equal(xonly, 32, pub, 32);
            assert_int_equal(kura_schnorr_sign(tu_ctx, out, sk, msg, msg_len, aux), KURA_OK);
            tu_assert_bytes_equal(out, 64, sig, 64);
            if (msg_len == 32) {
                /* The signer's lean form: the same signature, verified or not. */
                kura_keypair kp;
                assert_int_equal(kura_keypair_i_create(tu_ctx, &kp, sk), KURA_OK);
                tu_assert_bytes_equal(kp.xonly, 32, pub, 32);
                for (int verify = 0; verify < 2; verify++) {
                    memset(out, 0, sizeof(out));
                    assert_int_equal(kura_schnorr_i_sign32(tu_ctx, out, &kp, msg, aux, verify),
                                     KURA_OK);
                    tu_assert_bytes_equal(out, 64, sig, 64);
                }
                kura_keypair_i_wipe(&kp);
                for (size_t k = 0; k < sizeof(kp); k++)
                    assert_int_equal(((const uint8_t *)&kp)[k], 0);
            }
            /* Fresh randomness gives another, equally valid signature. */
            assert_int_equal(kura_schnorr_sign(tu_ctx, out, sk, msg, msg_len, NULL), KURA_OK);
            assert_int_equal(kura_schnorr_verify(tu_ctx, out, msg, msg_len, pub), KURA_OK);
            signed_rows++;
        }
        int rc = kura_schnorr_verify(tu_ctx, sig, msg, msg_len, pub);
        if (expect_ok) {
            assert_int_equal(rc, KURA_OK);
            /* The static context verifies as well. */
            assert_int_equal(kura_schnorr_verify(NULL, sig, msg, msg_len, pub), KURA_OK);
            /* One flipped bit in the signature or the message breaks it. */
            sig[63] ^= 1;
            assert_int_equal(kura_schnorr_verify(tu_ctx, sig, msg, msg_len, pub), KURA_EDATA);
            sig[63] ^= 1;
            if (msg_len > 0) {
                msg[0] ^= 0x80;
                assert_int_equal(kura_schnorr_verify(tu_ctx, sig, msg, msg_len, pub), KURA_EDATA);
            }
        } else {
            if (rc != KURA_EDATA) fail_msg("row %s (%s) verified", f[0], f[7]);
            false_rows++;
        }
        free(msg);
        rows++;
    }
    assert_int_equal(rows, 19);
    assert_int_equal(signed_rows, 8);
    assert_int_equal(false_rows, 10);
    free(csv);
}

static void test_schnorr_misuse(void **state)
{
    (void)state;
    uint8_t sig[64], sk[32] = {0}, zero_msg[32] = {0};
    memset(sig, 0x11, sizeof(sig));
    /* Secret key 0 is invalid: no signature, output zeroed. */
    assert_int_equal(kura_schnorr_sign(tu_ctx, sig, sk, zero_msg, 32, NULL), KURA_ECRYPTO);
    for (size_t i = 0; i < 64; i++) assert_int_equal(sig[i], 0);
    sk[31] = 1;
    assert_int_equal(kura_schnorr_sign(NULL, sig, sk, zero_msg, 32, NULL), KURA_EINVAL);
    assert_int_equal(kura_schnorr_sign(tu_ctx, sig, sk, NULL, 5, NULL), KURA_EINVAL);
    assert_int_equal(kura_schnorr_sign(tu_ctx, sig, sk, NULL, 0, NULL), KURA_OK);
    uint8_t x[32];
    assert_int_equal(kura_xonly_from_privkey(tu_ctx, x, sk), KURA_OK);
    assert_int_equal(kura_schnorr_verify(tu_ctx, sig, NULL, 0, x), KURA_OK);
    memset(sk, 0xff, 32); /* >= n */
    assert_int_equal(kura_xonly_from_privkey(tu_ctx, x, sk), KURA_ECRYPTO);
    for (size_t i = 0; i < 32; i++) assert_int_equal(x[i], 0);
}

/* ---- ECDSA ---- */

/* Splits a strict DER signature into 32-byte R and S (test helper; the
 * vectors' signatures are well formed). */
static void der_split(const uint8_t *der, size_t len, uint8_t r[32], uint8_t s[32])
{
    size_t lr = der[3], ls = der[5 + lr];
    const uint8_t *pr = der + 4, *ps = der + 6 + lr;
    assert_true(lr + ls + 6 == len);
    while (lr > 32) { pr++; lr--; }
    while (ls > 32) { ps++; ls--; }
    memset(r, 0, 32);
    memset(s, 0, 32);
    memcpy(r + 32 - lr, pr, lr);
    memcpy(s + 32 - ls, ps, ls);
}

static size_t der_int(uint8_t *out, const uint8_t v[32])
{
    size_t i = 0, n = 0;
    while (i < 31 && v[i] == 0 && !(v[i + 1] & 0x80)) i++;
    out[n++] = 0x02;
    if (v[i] & 0x80) {
        out[n++] = (uint8_t)(32 - i + 1);
        out[n++] = 0;
    } else {
        out[n++] = (uint8_t)(32 - i);
    }
    memcpy(out + n, v + i, 32 - i);
    return n + 32 - i;
}

static size_t der_join(uint8_t out[72], const uint8_t r[32], const uint8_t s[32])
{
    uint8_t body[70];
    size_t n = der_int(body, r);
    n += der_int(body + n, s);
    out[0] = 0x30;
    out[1] = (uint8_t)n;
    memcpy(out + 2, body, n);
    return n + 2;
}

/* s' = n - s, the other (high or low) S of the same signature. */
static void negate_s(uint8_t s[32])
{
    static const uint8_t n[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
                                  0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
    int borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int d = n[i] - s[i] - borrow;
        borrow = d < 0;
        s[i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
}

/* Non-strict DER variants of a valid signature must all be refused. */
static void check_der_variants(const uint8_t *pub, size_t pub_len, const uint8_t hash[32],
                               const uint8_t *der, size_t len)
{
    uint8_t v[80];
    size_t lr = der[3];
    /* trailing garbage */
    memcpy(v, der, len);
    v[len] = 0x01;
    assert_int_equal(kura_ecdsa_verify(tu_ctx, pub, pub_len, hash, v, len + 1), KURA_EDATA);
    /* truncated */
    assert_int_equal(kura_ecdsa_verify(tu_ctx, pub, pub_len, hash, der, len - 1), KURA_EDATA);
    /* wrong sequence tag, wrong total length */
    memcpy(v, der, len);
    v[0] = 0x31;
    assert_int_equal(kura_ecdsa_verify(tu_ctx, pub, pub_len, hash, v, len), KURA_EDATA);
    memcpy(v, der, len);
    v[1]++;
    assert_int_equal(kura_ecdsa_verify(tu_ctx, pub, pub_len, hash, v, len), KURA_EDATA);
    /* R not an INTEGER */
    memcpy(v, der, len);
    v[2] = 0x03;
    assert_int_equal(kura_ecdsa_verify(tu_ctx, pub, pub_len, hash, v, len), KURA_EDATA);
    /* R padded with an unnecessary 0x00 */
    v[0] = 0x30;
    v[1] = (uint8_t)(der[1] + 1);
    v[2] = 0x02;
    v[3] = (uint8_t)(lr + 1);
    v[4] = 0x00;
    memcpy(v + 5, der + 4, len - 4);
    if (!(der[4] & 0x80) && der[4] != 0x00)
        assert_int_equal(kura_ecdsa_verify(tu_ctx, pub, pub_len, hash, v, len + 1), KURA_EDATA);
    /* long-form (BER) length byte */
    v[0] = 0x30;
    v[1] = 0x81;
    v[2] = der[1];
    memcpy(v + 3, der + 2, len - 2);
    assert_int_equal(kura_ecdsa_verify(tu_ctx, pub, pub_len, hash, v, len + 1), KURA_EDATA);
    /* R made negative (top bit set without 0x00) */
    memcpy(v, der, len);
    if (der[4] == 0x00) {
        /* drop the 0x00 pad: R then reads as negative */
        v[1] = (uint8_t)(der[1] - 1);
        v[3] = (uint8_t)(lr - 1);
        memcpy(v + 4, der + 5, len - 5);
        assert_int_equal(kura_ecdsa_verify(tu_ctx, pub, pub_len, hash, v, len - 1), KURA_EDATA);
    } else {
        v[4] |= 0x80;
        assert_int_equal(kura_ecdsa_verify(tu_ctx, pub, pub_len, hash, v, len), KURA_EDATA);
    }
    /* S of length zero */
    memcpy(v, der, 4 + lr);
    v[1] = (uint8_t)(2 + lr + 2);
    v[4 + lr] = 0x02;
    v[5 + lr] = 0x00;
    assert_int_equal(kura_ecdsa_verify(tu_ctx, pub, pub_len, hash, v, 6 + lr), KURA_EDATA);
    /* empty and over-long */
    assert_int_equal(kura_ecdsa_verify(tu_ctx, pub, pub_len, hash, der, 0), KURA_EDATA);
    memset(v, 0, sizeof(v));
    assert_int_equal(kura_ecdsa_verify(tu_ctx, pub, pub_len, hash, v, 73), KURA_EDATA);
}

static void test_ecdsa_bip143(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bip143.json");
    size_t ei, si, signed_count = 0, verified = 0, high_s_in_vectors = 0;
    json_t *ex, *sh;
    json_array_foreach(json_object_get(root, "examples"), ei, ex) {
        json_array_foreach(json_object_get(ex, "sighashes"), si, sh) {
            json_t *jsig = json_object_get(sh, "signature");
            const char *priv_hex = json_string_value(json_object_get(sh, "private_key"));
            const char *pub_hex = json_string_value(json_object_get(sh, "public_key"));
            uint8_t hash[32], priv[32], pub[33], der[KURA_ECDSA_DER_MAX];
            size_t der_len, sig_len;
            uint8_t *sig;
            if (jsig == NULL) continue;
            /* The key lives on the sighash entry or on its input. */
            if (priv_hex == NULL || pub_hex == NULL) {
                json_int_t idx = json_integer_value(json_object_get(sh, "input_index"));
                size_t ii;
                json_t *in;
                json_array_foreach(json_object_get(ex, "inputs"), ii, in) {
                    if (json_integer_value(json_object_get(in, "index")) != idx) continue;
                    if (priv_hex == NULL)
                        priv_hex = json_string_value(json_object_get(in, "private_key"));
                    if (pub_hex == NULL)
                        pub_hex = json_string_value(json_object_get(in, "public_key"));
                }
            }
            tu_unhex_fixed(tu_str(sh, "sighash"), hash, 32);
            sig = tu_unhex(json_string_value(jsig), &sig_len);
            /* The vector appends the sighash type byte; it must match. */
            assert_int_equal(sig[sig_len - 1],
                             (uint8_t)json_integer_value(json_object_get(sh, "hash_type")));
            sig_len--;

            if (priv_hex != NULL) {
                uint8_t derived[33];
                tu_unhex_fixed(priv_hex, priv, 32);
                assert_int_equal(kura_privkey_check(tu_ctx, priv), KURA_OK);
                assert_int_equal(kura_pubkey_from_privkey(tu_ctx, derived, priv), KURA_OK);
                if (pub_hex != NULL) {
                    tu_unhex_fixed(pub_hex, pub, 33);
                    tu_assert_bytes_equal(derived, 33, pub, 33);
                }
                memcpy(pub, derived, 33);
                assert_int_equal(kura_ecdsa_sign(tu_ctx, der, &der_len, priv, hash), KURA_OK);
                tu_assert_bytes_equal(der, der_len, sig, sig_len);
                /* The signer's lean form gives the same (RFC6979) signature,
                 * unchecked or checked against the key; against another key
                 * it is withheld. */
                assert_int_equal(kura_ecdsa_i_sign(tu_ctx, der, &der_len, priv, hash, NULL),
                                 KURA_OK);
                tu_assert_bytes_equal(der, der_len, sig, sig_len);
                assert_int_equal(kura_ecdsa_i_sign(tu_ctx, der, &der_len, priv, hash, pub),
                                 KURA_OK);
                tu_assert_bytes_equal(der, der_len, sig, sig_len);
                {
                    uint8_t other[33], other_priv[32];
                    memcpy(other_priv, priv, 32);
                    other_priv[31] ^= 1;
                    assert_int_equal(kura_pubkey_from_privkey(tu_ctx, other, other_priv), KURA_OK);
                    assert_int_equal(kura_ecdsa_i_sign(tu_ctx, der, &der_len, priv, hash, other),
                                     KURA_EDATA);
                    assert_int_equal(der_len, 0);
                    for (size_t k = 0; k < KURA_ECDSA_DER_MAX; k++) assert_int_equal(der[k], 0);
                    other[0] = 0x05; /* not a key */
                    assert_int_equal(kura_ecdsa_i_sign(tu_ctx, der, &der_len, priv, hash, other),
                                     KURA_EDATA);
                    assert_int_equal(der_len, 0);
                    memset(other_priv, 0, sizeof(other_priv));
                }
                signed_count++;
            } else {
                assert_non_null(pub_hex);
                tu_unhex_fixed(pub_hex, pub, 33);
            }

            uint8_t r[32], s[32], twin[72];
            size_t twin_len;
            der_split(sig, sig_len, r, s);
            if (s[0] & 0x80) {
                /* A high-S signature in the vectors (BIP143 predates the
                 * LOW_S rule): refused as is, accepted once normalised. */
                assert_int_equal(kura_ecdsa_verify(tu_ctx, pub, 33, hash, sig, sig_len),
                                 KURA_EDATA);
                negate_s(s);
                twin_len = der_join(twin, r, s);
                assert_int_equal(kura_ecdsa_verify(tu_ctx, pub, 33, hash, twin, twin_len), KURA_OK);
                high_s_in_vectors++;
            } else {
                assert_int_equal(kura_ecdsa_verify(tu_ctx, pub, 33, hash, sig, sig_len), KURA_OK);
                assert_int_equal(kura_ecdsa_verify(NULL, pub, 33, hash, sig, sig_len), KURA_OK);
                /* Its high-S twin is the same signature, malleated: refused. */
                negate_s(s);
                twin_len = der_join(twin, r, s);
                assert_int_equal(kura_ecdsa_verify(tu_ctx, pub, 33, hash, twin, twin_len),
                                 KURA_EDATA);
                check_der_variants(pub, 33, hash, sig, sig_len);
                /* Wrong hash, wrong key. */
                hash[0] ^= 1;
                assert_int_equal(kura_ecdsa_verify(tu_ctx, pub, 33, hash, sig, sig_len),
                                 KURA_EDATA);
                hash[0] ^= 1;
                pub[0] ^= 1; /* the other y */
                assert_int_equal(kura_ecdsa_verify(tu_ctx, pub, 33, hash, sig, sig_len),
                                 KURA_EDATA);
                pub[0] ^= 1;
                verified++;
            }
            free(sig);
        }
    }
    assert_int_equal(signed_count, 12);
    assert_int_equal(verified, 12);
    assert_int_equal(high_s_in_vectors, 1);
    json_decref(root);
}

static void test_pubkey_forms(void **state)
{
    (void)state;
    /* Secret key 1: the generator, in its well-known encodings. */
    uint8_t sk[32] = {0}, pub[33], norm[33], unc[65], hash[32], der[72];
    size_t der_len;
    sk[31] = 1;
    tu_unhex_fixed("0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
                   "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8",
                   unc, 65);
    assert_int_equal(kura_pubkey_from_privkey(tu_ctx, pub, sk), KURA_OK);
    tu_unhex_fixed("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798", norm, 33);
    tu_assert_bytes_equal(pub, 33, norm, 33);
    assert_int_equal(kura_pubkey_normalize(tu_ctx, norm, unc, 65), KURA_OK);
    tu_assert_bytes_equal(norm, 33, pub, 33);
    assert_int_equal(kura_pubkey_normalize(NULL, norm, pub, 33), KURA_OK);
    tu_assert_bytes_equal(norm, 33, pub, 33);
    /* Hybrid (0x06/0x07) and wrong lengths are refused. */
    unc[0] = 0x06;
    assert_int_equal(kura_pubkey_normalize(tu_ctx, norm, unc, 65), KURA_EDATA);
    unc[0] = 0x04;
    assert_int_equal(kura_pubkey_normalize(tu_ctx, norm, unc, 64), KURA_EDATA);
    assert_int_equal(kura_pubkey_normalize(tu_ctx, norm, pub, 32), KURA_EDATA);
    uint8_t off[33];
    memcpy(off, pub, 33);
    off[0] = 0x04;
    assert_int_equal(kura_pubkey_normalize(tu_ctx, norm, off, 33), KURA_EDATA);
    /* x = 7 has no point on the curve (BIP32 test vector 5's invalid pubkey). */
    memset(off, 0, 33);
    off[0] = 0x02;
    off[32] = 0x07;
    assert_int_equal(kura_pubkey_normalize(tu_ctx, norm, off, 33), KURA_EDATA);
    for (size_t i = 0; i < 33; i++) assert_int_equal(norm[i], 0);

    /* A signature verifies under both encodings of the key. */
    kura_sha256(hash, (const uint8_t *)"kura", 4);
    assert_int_equal(kura_ecdsa_sign(tu_ctx, der, &der_len, sk, hash), KURA_OK);
    assert_int_equal(kura_ecdsa_verify(tu_ctx, pub, 33, hash, der, der_len), KURA_OK);
    assert_int_equal(kura_ecdsa_verify(tu_ctx, unc, 65, hash, der, der_len), KURA_OK);
    unc[0] = 0x06 | (unc[64] & 1);
    assert_int_equal(kura_ecdsa_verify(tu_ctx, unc, 65, hash, der, der_len), KURA_EDATA);

    /* Invalid secret keys: 0 and n. */
    uint8_t zero[32] = {0}, n[32];
    tu_unhex_fixed("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", n, 32);
    assert_int_equal(kura_privkey_check(tu_ctx, zero), KURA_ECRYPTO);
    assert_int_equal(kura_privkey_check(NULL, n), KURA_ECRYPTO);
    assert_int_equal(kura_pubkey_from_privkey(tu_ctx, pub, n), KURA_ECRYPTO);
    for (size_t i = 0; i < 33; i++) assert_int_equal(pub[i], 0);
    memset(der, 0x44, sizeof(der));
    der_len = 5;
    assert_int_equal(kura_ecdsa_sign(tu_ctx, der, &der_len, zero, hash), KURA_ECRYPTO);
    assert_int_equal(der_len, 0);
    for (size_t i = 0; i < sizeof(der); i++) assert_int_equal(der[i], 0);
    assert_int_equal(kura_ecdsa_sign(NULL, der, &der_len, sk, hash), KURA_EINVAL);
}

/* ---- BIP341 taproot tweak ---- */

static void test_taproot_tweak(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bip341.json");
    json_t *kps = json_array_get(json_object_get(root, "keyPathSpending"), 0);
    size_t i, inputs = 0, spks = 0, parities = 0;
    json_t *in, *spk;

    json_array_foreach(json_object_get(kps, "inputSpending"), i, in) {
        json_t *given = json_object_get(in, "given");
        json_t *inter = json_object_get(in, "intermediary");
        json_t *jroot = json_object_get(given, "merkleRoot");
        uint8_t priv[32], internal[32], want_priv[32], root_bytes[32], out[32], xq[32], q[32];
        const uint8_t *mr = NULL;
        int parity = -1;
        tu_unhex_fixed(tu_str(given, "internalPrivkey"), priv, 32);
        tu_unhex_fixed(tu_str(inter, "internalPubkey"), internal, 32);
        tu_unhex_fixed(tu_str(inter, "tweakedPrivkey"), want_priv, 32);
        if (!json_is_null(jroot)) {
            tu_unhex_fixed(json_string_value(jroot), root_bytes, 32);
            mr = root_bytes;
        }
        assert_int_equal(kura_xonly_from_privkey(tu_ctx, out, priv), KURA_OK);
        tu_assert_bytes_equal(out, 32, internal, 32);
        assert_int_equal(kura_taproot_tweak_privkey(tu_ctx, out, priv, mr), KURA_OK);
        tu_assert_bytes_equal(out, 32, want_priv, 32);
        /* The tweaked public key is the x-only key of the tweaked secret. */
        assert_int_equal(kura_xonly_from_privkey(tu_ctx, xq, want_priv), KURA_OK);
        assert_int_equal(kura_taproot_tweak_pubkey(tu_ctx, q, &parity, internal, mr), KURA_OK);
        tu_assert_bytes_equal(q, 32, xq, 32);
        assert_true(parity == 0 || parity == 1);
        /* The signer's keypair: its x-only key is the internal key, its
         * tweak holds the tweaked secret and has Q as its x-only key. */
        {
            kura_keypair kp, tw;
            uint8_t sec[32], sighash[32], sig[64];
            assert_int_equal(kura_keypair_i_create(tu_ctx, &kp, priv), KURA_OK);
            tu_assert_bytes_equal(kp.xonly, 32, internal, 32);
            assert_int_equal(kura_keypair_i_taptweak(tu_ctx, &tw, &kp, mr), KURA_OK);
            tu_assert_bytes_equal(tw.xonly, 32, q, 32);
            assert_int_equal(secp256k1_keypair_sec(secp256k1_context_static, sec, &tw.kp), 1);
            tu_assert_bytes_equal(sec, 32, want_priv, 32);
            /* In place too. */
            assert_int_equal(kura_keypair_i_taptweak(tu_ctx, &kp, &kp, mr), KURA_OK);
            tu_assert_bytes_equal(kp.xonly, 32, q, 32);
            tu_unhex_fixed(tu_str(inter, "sigHash"), sighash, 32);
            assert_int_equal(kura_schnorr_i_sign32(tu_ctx, sig, &tw, sighash, NULL, 1), KURA_OK);
            assert_int_equal(kura_schnorr_verify(tu_ctx, sig, sighash, 32, q), KURA_OK);
            assert_int_equal(kura_schnorr_i_sign32(tu_ctx, sig, &tw, sighash, NULL, 0), KURA_OK);
            assert_int_equal(kura_schnorr_verify(tu_ctx, sig, sighash, 32, q), KURA_OK);
            kura_keypair_i_wipe(&kp);
            kura_keypair_i_wipe(&tw);
            memset(sec, 0, sizeof(sec));
        }
        /* A key-path signature by the tweaked secret verifies under Q. */
        {
            uint8_t sighash[32], sig[64], wsig[65];
            size_t wlen;
            uint8_t *w = tu_unhex(
                json_string_value(json_array_get(
                    json_object_get(json_object_get(in, "expected"), "witness"), 0)),
                &wlen);
            tu_unhex_fixed(tu_str(inter, "sigHash"), sighash, 32);
            assert_true(wlen == 64 || wlen == 65);
            memcpy(wsig, w, wlen);
            assert_int_equal(kura_schnorr_verify(tu_ctx, wsig, sighash, 32, q), KURA_OK);
            assert_int_equal(kura_schnorr_sign(tu_ctx, sig, out, sighash, 32, NULL), KURA_OK);
            assert_int_equal(kura_schnorr_verify(tu_ctx, sig, sighash, 32, q), KURA_OK);
            free(w);
        }
        inputs++;
    }
    assert_int_equal(inputs, 7);

    json_array_foreach(json_object_get(root, "scriptPubKey"), i, spk) {
        json_t *given = json_object_get(spk, "given");
        json_t *inter = json_object_get(spk, "intermediary");
        json_t *jroot = json_object_get(inter, "merkleRoot");
        json_t *cbs = json_object_get(json_object_get(spk, "expected"), "scriptPathControlBlocks");
        uint8_t internal[32], want[32], root_bytes[32], q[32];
        const uint8_t *mr = NULL;
        int parity = -1;
        tu_unhex_fixed(tu_str(given, "internalPubkey"), internal, 32);
        tu_unhex_fixed(tu_str(inter, "tweakedPubkey"), want, 32);
        if (!json_is_null(jroot)) {
            tu_unhex_fixed(json_string_value(jroot), root_bytes, 32);
            mr = root_bytes;
        }
        assert_int_equal(kura_taproot_tweak_pubkey(NULL, q, &parity, internal, mr), KURA_OK);
        tu_assert_bytes_equal(q, 32, want, 32);
        /* BIP341: control block byte 0 = leaf version | parity of Q. */
        if (json_array_size(cbs) > 0) {
            size_t cb_len;
            uint8_t *cb = tu_unhex(json_string_value(json_array_get(cbs, 0)), &cb_len);
            assert_true(cb_len >= 33);
            assert_int_equal(parity, cb[0] & 1);
            free(cb);
            parities++;
        }
        spks++;
    }
    assert_int_equal(spks, 7);
    assert_int_equal(parities, 6);

    /* An x coordinate off the curve is bad data. */
    uint8_t bad[32], q[32];
    memset(bad, 0, 32);
    bad[31] = 7;
    assert_int_equal(kura_taproot_tweak_pubkey(tu_ctx, q, NULL, bad, NULL), KURA_EDATA);
    memset(bad, 0xff, 32); /* >= p */
    assert_int_equal(kura_taproot_tweak_pubkey(tu_ctx, q, NULL, bad, NULL), KURA_EDATA);
    uint8_t zero[32] = {0};
    assert_int_equal(kura_taproot_tweak_privkey(tu_ctx, q, zero, NULL), KURA_ECRYPTO);
    for (size_t k = 0; k < 32; k++) assert_int_equal(q[k], 0);
    {
        /* An invalid secret makes no keypair, and the output is wiped. */
        kura_keypair kp;
        memset(&kp, 0x55, sizeof(kp));
        assert_int_equal(kura_keypair_i_create(tu_ctx, &kp, zero), KURA_ECRYPTO);
        for (size_t k = 0; k < sizeof(kp); k++) assert_int_equal(((const uint8_t *)&kp)[k], 0);
    }
    json_decref(root);
}

/* ---- WIF ---- */

static void test_wif(void **state)
{
    (void)state;
    json_t *root = tu_load_json("bip174.json");
    json_t *wf = json_object_get(root, "workflow");
    json_t *pubkeys = json_object_get(json_object_get(wf, "updater"), "public_keys");
    kura_bip32_key master;
    kura_error err;
    size_t count = 0;
    static const char *const signers[] = {"signer_1", "signer_2"};

    assert_int_equal(kura_bip32_parse(tu_ctx, &master, tu_str(wf, "master_xprv"), &err), KURA_OK);
    assert_int_equal(master.network, KURA_NETWORK_TESTNET);
    for (size_t s = 0; s < 2; s++) {
        size_t i;
        json_t *k;
        json_array_foreach(json_object_get(json_object_get(wf, signers[s]), "keys"), i, k) {
            const char *wif = tu_str(k, "wif");
            const char *path_str = tu_str(k, "path");
            uint8_t priv[32], pub[33];
            int compressed = -1;
            kura_network net = KURA_NETWORK_MAINNET;
            char enc[64];
            uint32_t path[8];
            size_t path_len, pi;
            kura_bip32_key child;
            json_t *pk;
            int matched = 0;

            assert_int_equal(kura_wif_decode(priv, &compressed, &net, wif, &err), KURA_OK);
            assert_int_equal(compressed, 1);
            assert_int_equal(net, KURA_NETWORK_TESTNET);
            assert_int_equal(kura_wif_encode(enc, sizeof(enc), priv, compressed, net), KURA_OK);
            assert_string_equal(enc, wif);
            /* The key is the workflow's tprv at the listed path ... */
            assert_int_equal(kura_bip32_path_parse(path, 8, &path_len, path_str, &err), KURA_OK);
            assert_int_equal(kura_bip32_derive_path(tu_ctx, &child, &master, path, path_len),
                             KURA_OK);
            tu_assert_bytes_equal(child.priv, 32, priv, 32);
            /* ... and its public key is the updater's for that path. */
            assert_int_equal(kura_pubkey_from_privkey(tu_ctx, pub, priv), KURA_OK);
            json_array_foreach(pubkeys, pi, pk) {
                if (strcmp(tu_str(pk, "path"), path_str) != 0) continue;
                uint8_t want[33];
                tu_unhex_fixed(tu_str(pk, "pubkey"), want, 33);
                tu_assert_bytes_equal(pub, 33, want, 33);
                matched = 1;
            }
            assert_true(matched);
            kura_bip32_wipe(&child);
            count++;
        }
    }
    assert_int_equal(count, 4);
    kura_bip32_wipe(&master);
    json_decref(root);
}

static void test_wif_edges(void **state)
{
    (void)state;
    uint8_t priv[32], one[32] = {0};
    int compressed;
    kura_network net;
    kura_error err;
    char enc[64];
    one[31] = 1;

    /* Secret key 1, the textbook WIFs. */
    assert_int_equal(kura_wif_decode(priv, &compressed, &net,
                                     "KwDiBf89QgGbjEhKnhXJuH7LrciVrZi3qYjgd9M7rFU73sVHnoWn", &err),
                     KURA_OK);
    tu_assert_bytes_equal(priv, 32, one, 32);
    assert_int_equal(compressed, 1);
    assert_int_equal(net, KURA_NETWORK_MAINNET);
    assert_int_equal(kura_wif_decode(priv, &compressed, &net,
                                     "5HpHagT65TZzG1PH3CSu63k8DbpvD8s5ip4nEB3kEsreAnchuDf", &err),
                     KURA_OK);
    tu_assert_bytes_equal(priv, 32, one, 32);
    assert_int_equal(compressed, 0);
    assert_int_equal(kura_wif_encode(enc, sizeof(enc), one, 0, KURA_NETWORK_MAINNET), KURA_OK);
    assert_string_equal(enc, "5HpHagT65TZzG1PH3CSu63k8DbpvD8s5ip4nEB3kEsreAnchuDf");
    assert_int_equal(kura_wif_encode(enc, sizeof(enc), one, 1, KURA_NETWORK_REGTEST), KURA_OK);
    assert_true(enc[0] == 'c'); /* testnet/regtest compressed */
    /* 52 characters and the NUL need 53. */
    assert_int_equal(kura_wif_encode(enc, 52, one, 1, KURA_NETWORK_MAINNET), KURA_EINVAL);
    assert_int_equal(kura_wif_encode(enc, 53, one, 1, KURA_NETWORK_MAINNET), KURA_OK);
    assert_int_equal(kura_wif_encode(enc, 53, one, 1, (kura_network)9), KURA_EINVAL);
    uint8_t zero[32] = {0};
    assert_int_equal(kura_wif_encode(enc, 53, zero, 1, KURA_NETWORK_MAINNET), KURA_EINVAL);

    /* Refusals: built as Base58Check so only the named defect is wrong. */
    uint8_t buf[40];
    char s[80];
    struct { uint8_t version; size_t key_fill; uint8_t last; size_t len; const char *why; } bad[] = {
        {0x81, 1, 0x01, 34, "unknown version"},
        {0x00, 1, 0x01, 34, "address version"},
        {0x80, 1, 0x02, 34, "compression flag"},
        {0x80, 1, 0x01, 35, "too long"},
        {0x80, 1, 0x01, 32, "too short"},
        {0x80, 0, 0x01, 34, "key zero"},
        {0x80, 2, 0x01, 34, "key n"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(buf, 0, sizeof(buf));
        buf[0] = bad[i].version;
        if (bad[i].key_fill == 1) buf[32] = 1;
        if (bad[i].key_fill == 2)
            tu_unhex_fixed("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
                           buf + 1, 32);
        buf[33] = bad[i].last;
        assert_int_equal(kura_base58check_encode(s, sizeof(s), buf, bad[i].len), KURA_OK);
        memset(priv, 0x33, 32);
        compressed = 7;
        int rc = kura_wif_decode(priv, &compressed, &net, s, &err);
        if (rc != KURA_EDATA) fail_msg("%s: code %d", bad[i].why, rc);
        assert_int_equal(err.code, KURA_EDATA);
        assert_true(strncmp(err.message, "wif: ", 5) == 0);
        for (size_t k = 0; k < 32; k++) assert_int_equal(priv[k], 0);
        assert_int_equal(compressed, 0);
    }
    /* Bad checksum and a payload too large to be a WIF. */
    assert_int_equal(kura_wif_decode(priv, &compressed, &net,
                                     "KwDiBf89QgGbjEhKnhXJuH7LrciVrZi3qYjgd9M7rFU73sVHnoWo", &err),
                     KURA_EDATA);
    memset(buf, 1, sizeof(buf));
    assert_int_equal(kura_base58check_encode(s, sizeof(s), buf, 40), KURA_OK);
    assert_int_equal(kura_wif_decode(priv, &compressed, &net, s, &err), KURA_EDATA);
    assert_int_equal(kura_wif_decode(priv, &compressed, &net, NULL, &err), KURA_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bip340_csv),
        cmocka_unit_test(test_schnorr_misuse),
        cmocka_unit_test(test_ecdsa_bip143),
        cmocka_unit_test(test_pubkey_forms),
        cmocka_unit_test(test_taproot_tweak),
        cmocka_unit_test(test_wif),
        cmocka_unit_test(test_wif_edges),
    };
    return cmocka_run_group_tests(tests, tu_ctx_setup, tu_ctx_teardown);
}
