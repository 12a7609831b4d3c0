#include "testutil_sshsig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <sodium.h>

void tu_ssh_pubkey(char out[KURA_SSHKEY_STRING_MAX], const char *dir, const char *name)
{
    char path[128];
    kura_sshkey key;
    kura_error err;
    size_t len;
    char *line;
    snprintf(path, sizeof(path), "%s/%s.pub", dir, name);
    line = tu_slurp(path, &len);
    if (kura_sshkey_parse(&key, line, len, &err) != KURA_OK) fail_msg("pub: %s", err.message);
    assert_int_equal(kura_sshkey_format(out, KURA_SSHKEY_STRING_MAX, NULL, &key), KURA_OK);
    free(line);
}

/* ---- the in-test signer (PROTOCOL.sshsig, PROTOCOL.u2f) ---- */

typedef struct {
    unsigned char b[4096];
    size_t n;
} tu_wbuf;

static void tw_bytes(tu_wbuf *w, const void *p, size_t n)
{
    assert_true(w->n + n <= sizeof(w->b));
    if (n > 0) memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void tw_u32(tu_wbuf *w, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    tw_bytes(w, x, 4);
}

static void tw_string(tu_wbuf *w, const void *p, size_t n)
{
    tw_u32(w, (uint32_t)n);
    tw_bytes(w, p, n);
}

static void tw_cstring(tu_wbuf *w, const char *s)
{
    tw_string(w, s, strlen(s));
}

/* RFC 4251 mpint of a 32-byte unsigned big-endian value. */
static void tw_mpint(tu_wbuf *w, const unsigned char *v, size_t n)
{
    while (n > 0 && v[0] == 0) {
        v++;
        n--;
    }
    if (n > 0 && (v[0] & 0x80)) {
        tw_u32(w, (uint32_t)n + 1);
        tw_bytes(w, "\0", 1);
        tw_bytes(w, v, n);
    } else {
        tw_string(w, v, n);
    }
}

static const char *tu_type(const tu_sshkey *k, const char *sk_app)
{
    if (k->ecdsa)
        return sk_app != NULL ? "sk-ecdsa-sha2-nistp256@openssh.com" : "ecdsa-sha2-nistp256";
    return sk_app != NULL ? "sk-ssh-ed25519@openssh.com" : "ssh-ed25519";
}

static void tu_keyblob(tu_wbuf *w, const tu_sshkey *k, const char *sk_app)
{
    tw_cstring(w, tu_type(k, sk_app));
    if (k->ecdsa) {
        tw_cstring(w, "nistp256");
        tw_string(w, k->point, 65);
    } else {
        tw_string(w, k->ed_pk, 32);
    }
    if (sk_app != NULL) tw_cstring(w, sk_app);
}

void tu_sshkey_new(tu_sshkey *k, int ecdsa)
{
    memset(k, 0, sizeof(*k));
    k->ecdsa = ecdsa;
    if (ecdsa) {
        size_t len = 0;
        EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        assert_non_null(pk);
        assert_int_equal(EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, k->point,
                                                         sizeof(k->point), &len),
                         1);
        assert_int_equal(len, 65);
        k->ec = pk;
    } else {
        assert_int_equal(crypto_sign_keypair(k->ed_pk, k->ed_sk), 0);
    }
}

void tu_sshkey_free(tu_sshkey *k)
{
    EVP_PKEY_free(k->ec);
    sodium_memzero(k->ed_sk, sizeof(k->ed_sk));
    k->ec = NULL;
}

void tu_sshkey_line(char out[KURA_SSHKEY_STRING_MAX], const tu_sshkey *k, const char *sk_app)
{
    tu_wbuf blob = {.n = 0};
    char b64[1024];
    tu_keyblob(&blob, k, sk_app);
    sodium_bin2base64(b64, sizeof(b64), blob.b, blob.n, sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, KURA_SSHKEY_STRING_MAX, "%s %s", tu_type(k, sk_app), b64);
}

static void tu_ec_sign(const tu_sshkey *k, unsigned char r[32], unsigned char s[32],
                       const unsigned char *msg, size_t len)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char der[80];
    size_t der_len = sizeof(der);
    const unsigned char *p = der;
    ECDSA_SIG *sig;
    const BIGNUM *br, *bs;
    assert_non_null(md);
    assert_int_equal(EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, k->ec, NULL), 1);
    assert_int_equal(EVP_DigestSign(md, der, &der_len, msg, len), 1);
    sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    assert_non_null(sig);
    ECDSA_SIG_get0(sig, &br, &bs);
    assert_int_equal(BN_bn2binpad(br, r, 32), 32);
    assert_int_equal(BN_bn2binpad(bs, s, 32), 32);
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(md);
}

char *tu_sshkey_sign(size_t *len, const tu_sshkey *k, const char *sk_app, const char *ns,
                     const void *msg, size_t msg_len)
{
    tu_wbuf data = {.n = 0}, sigblob = {.n = 0}, keyblob = {.n = 0}, all = {.n = 0};
    unsigned char h[64], tosign[32 + 1 + 4 + 32];
    const unsigned char *m;
    size_t mlen, b64_len, n = 0, cap;
    char b64[6000], *out;

    crypto_hash_sha512(h, msg, msg_len);
    tw_bytes(&data, "SSHSIG", 6);
    tw_cstring(&data, ns);
    tw_string(&data, NULL, 0);
    tw_cstring(&data, "sha512");
    tw_string(&data, h, 64);
    m = data.b;
    mlen = data.n;
    if (sk_app != NULL) {
        /* SHA256(application) || flags (user present) || counter || SHA256(data). */
        crypto_hash_sha256(tosign, (const unsigned char *)sk_app, strlen(sk_app));
        tosign[32] = 0x01;
        memcpy(tosign + 33, "\0\0\0\7", 4);
        crypto_hash_sha256(tosign + 37, data.b, data.n);
        m = tosign;
        mlen = sizeof(tosign);
    }
    tw_cstring(&sigblob, tu_type(k, sk_app));
    if (k->ecdsa) {
        unsigned char r[32], s[32];
        tu_wbuf inner = {.n = 0};
        tu_ec_sign(k, r, s, m, mlen);
        tw_mpint(&inner, r, 32);
        tw_mpint(&inner, s, 32);
        tw_string(&sigblob, inner.b, inner.n);
    } else {
        unsigned char sig[64];
        assert_int_equal(crypto_sign_detached(sig, NULL, m, mlen, k->ed_sk), 0);
        tw_string(&sigblob, sig, 64);
    }
    if (sk_app != NULL) {
        tw_bytes(&sigblob, "\1", 1);
        tw_u32(&sigblob, 7);
    }
    tu_keyblob(&keyblob, k, sk_app);
    tw_bytes(&all, "SSHSIG", 6);
    tw_u32(&all, 1);
    tw_string(&all, keyblob.b, keyblob.n);
    tw_cstring(&all, ns);
    tw_string(&all, NULL, 0);
    tw_cstring(&all, "sha512");
    tw_string(&all, sigblob.b, sigblob.n);

    sodium_bin2base64(b64, sizeof(b64), all.b, all.n, sodium_base64_VARIANT_ORIGINAL);
    b64_len = strlen(b64);
    cap = b64_len + b64_len / 70 + 100;
    out = malloc(cap);
    assert_non_null(out);
    n += (size_t)snprintf(out + n, cap - n, "-----BEGIN SSH SIGNATURE-----\n");
    for (size_t i = 0; i < b64_len; i += 70)
        n += (size_t)snprintf(out + n, cap - n, "%.70s\n", b64 + i);
    n += (size_t)snprintf(out + n, cap - n, "-----END SSH SIGNATURE-----\n");
    *len = n;
    return out;
}
