/*
 * src/sshsig/sshsig.c — SSHSIG signatures (OpenSSH PROTOCOL.sshsig): the
 * armour, the blob, and verification for Ed25519 (RFC 8709), ECDSA P-256
 * (RFC 5656) and their FIDO security-key variants (PROTOCOL.u2f).
 *
 * Why this is strict: an approval is the one thing standing between an
 * altered transfer and a signature. Every field has exactly one accepted
 * encoding, every length is checked before it is used, and every refusal has
 * its own reason so the signer can say which check failed.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "kura/hash.h"
#include "sshsig_internal.h"

static const char armor_begin[] = "-----BEGIN SSH SIGNATURE-----\n";
static const char armor_end[] = "-----END SSH SIGNATURE-----";
/* ssh-keygen wraps at 70 columns; 76 is the MIME limit (RFC 2045 §6.8) and
 * the most any encoder we know of writes. */
#define ARMOR_LINE_MAX 76

/* PROTOCOL.sshsig: byte[6] MAGIC_PREAMBLE, uint32 SIG_VERSION. */
static const uint8_t sshsig_magic[6] = {'S', 'S', 'H', 'S', 'I', 'G'};
#define SSHSIG_VERSION 1u

/* The largest signed-data blob: magic, namespace, empty reserved, "sha512"
 * and a SHA-512 digest, each string with its 4-byte length. */
#define SIGNED_DATA_MAX (6 + 4 + KURA_SSHSIG_NAMESPACE_MAX + 4 + 4 + 6 + 4 + 64)

const char *kura_sshsig_status_name(int code)
{
    switch (code) {
    case KURA_SSHSIG_ENAMESPACE: return "KURA_SSHSIG_ENAMESPACE";
    case KURA_SSHSIG_EUNSUPPORTED: return "KURA_SSHSIG_EUNSUPPORTED";
    case KURA_SSHSIG_EBADSIG: return "KURA_SSHSIG_EBADSIG";
    case KURA_SSHSIG_ENOTOUCH: return "KURA_SSHSIG_ENOTOUCH";
    case KURA_SSHSIG_EKEYMISMATCH: return "KURA_SSHSIG_EKEYMISMATCH";
    case KURA_SSHSIG_ENOVERIFY: return "KURA_SSHSIG_ENOVERIFY";
    default: return kura_status_name(code);
    }
}

static bool is_sk(kura_sshkey_type t)
{
    return t == KURA_SSHKEY_SK_ED25519 || t == KURA_SSHKEY_SK_ECDSA_P256;
}

static bool is_ecdsa(kura_sshkey_type t)
{
    return t == KURA_SSHKEY_ECDSA_P256 || t == KURA_SSHKEY_SK_ECDSA_P256;
}

static const char *hash_name(kura_sshsig_hash h)
{
    switch (h) {
    case KURA_SSHSIG_HASH_SHA256: return "sha256";
    case KURA_SSHSIG_HASH_SHA512: return "sha512";
    case KURA_SSHSIG_HASH_NONE: break;
    }
    return NULL;
}

/* ---- armour ---- */

static bool is_b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/' || c == '=';
}

/* Decodes the armour into blob (KURA_SSHSIG_ARMOR_MAX bytes). The accepted
 * form is what ssh-keygen writes, and nothing looser: armour lines exactly,
 * LF endings, no blank or padded lines, no text around it. */
static int dearmor(uint8_t *blob, size_t *blob_len, const char *text, size_t text_len,
                   kura_error *err)
{
    /* Base64 is shorter than the text it came from, so this never overflows. */
    char b64[KURA_SSHSIG_ARMOR_MAX];
    size_t b64_len = 0, pos, line_no = 1;
    const size_t begin_len = sizeof(armor_begin) - 1, end_len = sizeof(armor_end) - 1;
    const char *b64_end = NULL;

    *blob_len = 0;
    if (text_len < begin_len || memcmp(text, armor_begin, begin_len) != 0)
        return kura_fail(err, KURA_EDATA,
                         "sshsig: armour: does not start with \"-----BEGIN SSH SIGNATURE-----\"");
    pos = begin_len;
    for (;;) {
        size_t start = pos, len;
        line_no++;
        if (pos == text_len)
            return kura_fail(err, KURA_EDATA, "sshsig: armour: no END line");
        if (text_len - pos >= end_len && memcmp(text + pos, armor_end, end_len) == 0) {
            size_t rest = text_len - pos - end_len;
            if (rest == 0 || (rest == 1 && text[pos + end_len] == '\n')) break;
            return kura_fail(err, KURA_EDATA, "sshsig: armour: text after the END line");
        }
        while (pos < text_len && text[pos] != '\n') {
            char c = text[pos];
            if (!is_b64_char(c)) {
                if (c == '\r')
                    return kura_fail(err, KURA_EDATA,
                                     "sshsig: armour: CR on line %zu (use LF line endings)",
                                     line_no);
                return kura_fail(err, KURA_EDATA,
                                 "sshsig: armour: byte 0x%02x on line %zu is not base64",
                                 (unsigned)(unsigned char)c, line_no);
            }
            pos++;
        }
        len = pos - start;
        if (pos == text_len)
            return kura_fail(err, KURA_EDATA, "sshsig: armour: no END line");
        if (len == 0) return kura_fail(err, KURA_EDATA, "sshsig: armour: blank line %zu", line_no);
        if (len > ARMOR_LINE_MAX)
            return kura_fail(err, KURA_EDATA,
                             "sshsig: armour: line %zu is %zu characters, more than %d", line_no,
                             len, ARMOR_LINE_MAX);
        memcpy(b64 + b64_len, text + start, len);
        b64_len += len;
        pos++; /* the '\n' */
    }
    if (b64_len == 0) return kura_fail(err, KURA_EDATA, "sshsig: armour: no signature inside");
    /* libsodium's decoder demands exact '=' padding at the very end and zero
     * trailing bits, so each blob has one base64 form. */
    if (sodium_base642bin(blob, KURA_SSHSIG_ARMOR_MAX, b64, b64_len, NULL, blob_len, &b64_end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        b64_end != b64 + b64_len) {
        *blob_len = 0;
        return kura_fail(err, KURA_EDATA, "sshsig: armour: invalid base64");
    }
    return KURA_OK;
}

/* ---- the blob ---- */

/* Reads an mpint holding a value 0 <= v < 2^256 into 32 big-endian bytes.
 * RFC 4251 §5: two's complement, and "unnecessary leading bytes with the
 * value 0 or 255 MUST NOT be included" — so exactly one encoding per value. */
static bool read_mpint256(kura_reader *r, uint8_t out[32], const char **why)
{
    const uint8_t *p;
    size_t len;
    memset(out, 0, 32);
    if (!kura_sshwire_read_string(r, &p, &len)) {
        *why = "truncated";
        return false;
    }
    if (len == 0) return true; /* zero; the signature check refuses it */
    if (p[0] & 0x80) {
        *why = "negative";
        return false;
    }
    if (p[0] == 0) {
        if (len == 1 || (p[1] & 0x80) == 0) {
            *why = "not minimally encoded";
            return false;
        }
        p++;
        len--;
    }
    if (len > 32) {
        *why = "larger than 256 bits";
        return false;
    }
    memcpy(out + 32 - len, p, len);
    return true;
}

/* Parses the signature blob inside SSHSIG (RFC 4253 §6.6 form: string
 * algorithm, string signature; PROTOCOL.u2f adds byte flags, uint32 counter
 * for the security-key types). */
static int parse_sig_blob(kura_sshsig *sig, const uint8_t *blob, size_t blob_len,
                          kura_error *err)
{
    kura_reader r, inner;
    const uint8_t *name, *body;
    size_t name_len, body_len;
    const char *why = "";
    char shown[68];

    kura_reader_init(&r, blob, blob_len);
    if (!kura_sshwire_read_string(&r, &name, &name_len))
        return kura_fail(err, KURA_EDATA, "sshsig: signature: truncated algorithm name");
    sig->sig_type = kura_sshkey_type_from_name(name, name_len);
    if (sig->sig_type == KURA_SSHKEY_NONE) {
        kura_sshwire_printable(shown, sizeof(shown), name, name_len);
        return kura_fail(err, KURA_SSHSIG_EUNSUPPORTED,
                         "sshsig: signature: algorithm \"%s\" is not supported", shown);
    }
    if (!kura_sshwire_read_string(&r, &body, &body_len))
        return kura_fail(err, KURA_EDATA, "sshsig: signature: truncated signature");
    if (is_ecdsa(sig->sig_type)) {
        /* RFC 5656 §3.1.2: the signature string holds mpint r, mpint s. */
        kura_reader_init(&inner, body, body_len);
        if (!read_mpint256(&inner, sig->sig, &why))
            return kura_fail(err, KURA_EDATA, "sshsig: signature: ECDSA r is %s", why);
        if (!read_mpint256(&inner, sig->sig + 32, &why))
            return kura_fail(err, KURA_EDATA, "sshsig: signature: ECDSA s is %s", why);
        if (inner.left != 0)
            return kura_fail(err, KURA_EDATA, "sshsig: signature: bytes after ECDSA s");
    } else {
        /* RFC 8709 §6: the 64-byte Ed25519 signature R || S. */
        if (body_len != 64)
            return kura_fail(err, KURA_EDATA, "sshsig: signature: Ed25519 signature is %zu bytes",
                             body_len);
        memcpy(sig->sig, body, 64);
    }
    if (is_sk(sig->sig_type)) {
        if (!kura_read_u8(&r, &sig->flags) || !kura_sshwire_read_u32(&r, &sig->counter))
            return kura_fail(err, KURA_EDATA,
                             "sshsig: signature: truncated security-key flags or counter");
    }
    if (r.left != 0)
        return kura_fail(err, KURA_EDATA, "sshsig: signature: %zu trailing bytes", r.left);
    return KURA_OK;
}

/* PROTOCOL.sshsig §2: the blob inside the armour. */
static int parse_blob(kura_sshsig *sig, const uint8_t *blob, size_t blob_len, kura_error *err)
{
    kura_reader r;
    const uint8_t *magic, *pk, *ns, *reserved, *hash, *sigblob;
    size_t pk_len, ns_len, reserved_len, hash_len, sigblob_len;
    uint32_t version;
    char shown[68];
    int rc;

    kura_reader_init(&r, blob, blob_len);
    if (!kura_read_span(&r, &magic, sizeof(sshsig_magic)) ||
        memcmp(magic, sshsig_magic, sizeof(sshsig_magic)) != 0)
        return kura_fail(err, KURA_EDATA, "sshsig: blob does not start with \"SSHSIG\"");
    if (!kura_sshwire_read_u32(&r, &version))
        return kura_fail(err, KURA_EDATA, "sshsig: truncated version");
    /* "Verifiers MUST reject signatures with versions greater than those
     * they support." */
    if (version != SSHSIG_VERSION)
        return kura_fail(err, KURA_SSHSIG_EUNSUPPORTED, "sshsig: version %u is not supported",
                         (unsigned)version);
    if (!kura_sshwire_read_string(&r, &pk, &pk_len))
        return kura_fail(err, KURA_EDATA, "sshsig: truncated public key");
    rc = kura_sshkey_parse_blob(&sig->key, pk, pk_len, "signature key", err);
    if (rc != KURA_OK) return rc;

    if (!kura_sshwire_read_string(&r, &ns, &ns_len))
        return kura_fail(err, KURA_EDATA, "sshsig: truncated namespace");
    /* PROTOCOL.sshsig: the namespace "MUST NOT be the empty string". */
    if (ns_len == 0) return kura_fail(err, KURA_EDATA, "sshsig: empty namespace");
    if (ns_len > KURA_SSHSIG_NAMESPACE_MAX)
        return kura_fail(err, KURA_ERANGE, "sshsig: namespace is %zu bytes, more than %d", ns_len,
                         KURA_SSHSIG_NAMESPACE_MAX);
    /* A NUL would let "kura-intent-v1\0x" compare equal as a C string. */
    if (memchr(ns, 0, ns_len) != NULL)
        return kura_fail(err, KURA_EDATA, "sshsig: NUL byte in namespace");
    memcpy(sig->ns, ns, ns_len);
    sig->ns[ns_len] = '\0';
    sig->ns_len = ns_len;

    /* OpenSSH always signs over an empty reserved field whatever the header
     * says, so a non-empty one is at best meaningless; refuse it rather than
     * carry bytes nobody signed. */
    if (!kura_sshwire_read_string(&r, &reserved, &reserved_len))
        return kura_fail(err, KURA_EDATA, "sshsig: truncated reserved field");
    if (reserved_len != 0) return kura_fail(err, KURA_EDATA, "sshsig: reserved field is not empty");

    if (!kura_sshwire_read_string(&r, &hash, &hash_len))
        return kura_fail(err, KURA_EDATA, "sshsig: truncated hash algorithm");
    if (kura_sshwire_eq(hash, hash_len, "sha256")) {
        sig->hash = KURA_SSHSIG_HASH_SHA256;
    } else if (kura_sshwire_eq(hash, hash_len, "sha512")) {
        sig->hash = KURA_SSHSIG_HASH_SHA512;
    } else {
        kura_sshwire_printable(shown, sizeof(shown), hash, hash_len);
        return kura_fail(err, KURA_SSHSIG_EUNSUPPORTED,
                         "sshsig: hash algorithm \"%s\" is not supported (sha256, sha512)",
                         shown);
    }

    if (!kura_sshwire_read_string(&r, &sigblob, &sigblob_len))
        return kura_fail(err, KURA_EDATA, "sshsig: truncated signature");
    rc = parse_sig_blob(sig, sigblob, sigblob_len, err);
    if (rc != KURA_OK) return rc;
    if (r.left != 0) return kura_fail(err, KURA_EDATA, "sshsig: %zu trailing bytes", r.left);
    return KURA_OK;
}

int kura_sshsig_parse(kura_sshsig *out, const char *text, size_t text_len, kura_error *err)
{
    uint8_t blob[KURA_SSHSIG_ARMOR_MAX];
    size_t blob_len = 0;
    kura_sshsig sig;
    int rc;

    if (out == NULL) return kura_fail(err, KURA_EINVAL, "sshsig: NULL output");
    memset(out, 0, sizeof(*out));
    if (text == NULL && text_len != 0) return kura_fail(err, KURA_EINVAL, "sshsig: NULL input");
    if (text_len > KURA_SSHSIG_ARMOR_MAX)
        return kura_fail(err, KURA_ERANGE, "sshsig: armoured signature longer than %d bytes",
                         KURA_SSHSIG_ARMOR_MAX);
    rc = dearmor(blob, &blob_len, text, text_len, err);
    if (rc != KURA_OK) return rc;
    /* Build into a local so that a failure half-way leaves *out cleared. */
    memset(&sig, 0, sizeof(sig));
    rc = parse_blob(&sig, blob, blob_len, err);
    if (rc != KURA_OK) return rc;
    *out = sig;
    return KURA_OK;
}

/* ---- verification ---- */

/* Writes a DER INTEGER for a 32-byte big-endian unsigned value; returns its
 * length (at most 35). DER INTEGER content is the same minimal two's
 * complement as an SSH mpint. */
static size_t der_integer(uint8_t *out, const uint8_t v[32])
{
    size_t skip = 0, len, n = 0;
    while (skip < 31 && v[skip] == 0) skip++;
    len = 32 - skip;
    out[n++] = 0x02;
    out[n++] = (uint8_t)(len + ((v[skip] & 0x80) ? 1 : 0));
    if (v[skip] & 0x80) out[n++] = 0x00;
    memcpy(out + n, v + skip, len);
    return n + len;
}

/* ECDSA P-256 with SHA-256 (RFC 5656 §6.2.1) of msg by point, r || s in rs. */
static int p256_verify(const uint8_t point[65], const uint8_t rs[64], const uint8_t *msg,
                       size_t msg_len, kura_error *err)
{
    uint8_t der[2 + 35 + 35];
    size_t der_len, body;
    EVP_PKEY *pkey = NULL;
    EVP_MD_CTX *md = NULL;
    int rc, ok;

    /* SEQUENCE { INTEGER r, INTEGER s }, short-form lengths (< 128). */
    body = der_integer(der + 2, rs);
    body += der_integer(der + 2 + body, rs + 32);
    der[0] = 0x30;
    der[1] = (uint8_t)body;
    der_len = 2 + body;

    rc = kura_sshkey_p256_pkey(&pkey, point);
    if (rc == KURA_EDATA)
        return kura_fail(err, KURA_EDATA, "sshsig: verify: not a valid P-256 public key");
    if (rc != KURA_OK) return kura_fail(err, rc, "sshsig: verify: OpenSSL failed to load the key");
    md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, NULL, pkey, NULL) != 1) {
        rc = kura_fail(err, KURA_ECRYPTO, "sshsig: verify: OpenSSL failed to set up ECDSA");
        goto done;
    }
    ok = EVP_DigestVerify(md, der, der_len, msg, msg_len);
    /* 1 is the only success; 0 is a bad signature and a negative value an
     * encoding or internal failure — either way nothing to accept. */
    rc = ok == 1 ? KURA_OK
                 : kura_fail(err, KURA_SSHSIG_EBADSIG, "sshsig: ECDSA signature does not verify");
done:
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);
    if (rc != KURA_OK) ERR_clear_error();
    return rc;
}

static int ed25519_verify(const uint8_t pk[32], const uint8_t sig[64], const uint8_t *msg,
                          size_t msg_len, kura_error *err)
{
    /* libsodium refuses non-canonical S and small-order keys and R. */
    if (crypto_sign_verify_detached(sig, msg, msg_len, pk) != 0)
        return kura_fail(err, KURA_SSHSIG_EBADSIG, "sshsig: Ed25519 signature does not verify");
    return KURA_OK;
}

/* True if sig looks like something kura_sshsig_parse produced, so that a
 * hand-made or corrupted value cannot steer verification off its arrays. */
static bool sig_value_ok(const kura_sshsig *sig)
{
    return kura_sshkey_value_ok(&sig->key) && hash_name(sig->hash) != NULL &&
           kura_sshkey_type_name(sig->sig_type) != NULL && sig->ns_len >= 1 &&
           sig->ns_len <= KURA_SSHSIG_NAMESPACE_MAX && sig->ns[sig->ns_len] == '\0' &&
           strlen(sig->ns) == sig->ns_len;
}

/* The body of both verifiers. The message's hash is taken from sha256 or
 * sha512 when given (the caller computed it), else computed from
 * message[0..message_len). */
static int verify_common(const kura_sshsig *sig, const uint8_t *message, size_t message_len,
                         const uint8_t *sha256, const uint8_t *sha512, const char *ns,
                         const kura_sshkey *expected_key, uint32_t options,
                         kura_sshkey *signer_key_out, kura_error *err)
{
    uint8_t signed_data[SIGNED_DATA_MAX], digest[KURA_SHA512_LEN];
    uint8_t u2f[32 + 1 + 4 + 32];
    size_t n = 0, digest_len, ns_len;
    const char *hname;
    char shown[68], want[68], fp_got[KURA_SSHKEY_FINGERPRINT_SIZE],
        fp_want[KURA_SSHKEY_FINGERPRINT_SIZE];
    const uint8_t *to_check;
    size_t to_check_len;
    int rc;

    if (signer_key_out != NULL) memset(signer_key_out, 0, sizeof(*signer_key_out));
    if (sig == NULL || ns == NULL || ns[0] == '\0' || (message == NULL && message_len != 0))
        return kura_fail(err, KURA_EINVAL, "sshsig: verify: NULL argument or empty namespace");
    if ((options & ~(KURA_SSHSIG_ALLOW_NO_TOUCH | KURA_SSHSIG_REQUIRE_VERIFIED)) != 0)
        return kura_fail(err, KURA_EINVAL, "sshsig: verify: unknown option bits 0x%x",
                         (unsigned)options);
    ns_len = strlen(ns);
    if (ns_len > KURA_SSHSIG_NAMESPACE_MAX)
        return kura_fail(err, KURA_EINVAL, "sshsig: verify: expected namespace too long");
    if (!sig_value_ok(sig))
        return kura_fail(err, KURA_EDATA, "sshsig: verify: not a parsed signature");

    /* 1. Namespace first: the namespace is what keeps a policy signature from
     * counting as an intent approval (and an email or git signature from
     * counting as either), so it gets its own refusal reason. */
    if (sig->ns_len != ns_len || memcmp(sig->ns, ns, ns_len) != 0) {
        kura_sshwire_printable(shown, sizeof(shown), (const uint8_t *)sig->ns, sig->ns_len);
        kura_sshwire_printable(want, sizeof(want), (const uint8_t *)ns, ns_len);
        return kura_fail(err, KURA_SSHSIG_ENAMESPACE,
                         "sshsig: signed for namespace \"%s\", not \"%s\"", shown, want);
    }

    /* 2. The key the caller trusts must be the key the signature names. */
    if (expected_key != NULL && !kura_sshkey_equal(expected_key, &sig->key)) {
        if (kura_sshkey_fingerprint(fp_got, &sig->key) != KURA_OK) fp_got[0] = '\0';
        if (kura_sshkey_fingerprint(fp_want, expected_key) != KURA_OK)
            memcpy(fp_want, "(invalid key)", sizeof("(invalid key)"));
        return kura_fail(err, KURA_SSHSIG_EKEYMISMATCH,
                         "sshsig: signed by %s %s, not the expected key %s",
                         kura_sshkey_type_name(sig->key.type), fp_got, fp_want);
    }

    /* 3. The signature algorithm must be the header key's own: OpenSSH's
     * verifiers check this too, and without it an Ed25519 signature could
     * be checked as an sk one (different message) or the other way round. */
    if (sig->sig_type != sig->key.type)
        return kura_fail(err, KURA_SSHSIG_EKEYMISMATCH,
                         "sshsig: %s signature presented with a %s key",
                         kura_sshkey_type_name(sig->sig_type),
                         kura_sshkey_type_name(sig->key.type));

    if (sodium_init() < 0)
        return kura_fail(err, KURA_ECRYPTO, "sshsig: verify: libsodium failed to initialise");

    /* 4. The signed data (PROTOCOL.sshsig §3). The namespace written is the
     * caller's, which equals the signature's after check 1. */
    hname = hash_name(sig->hash);
    if (sig->hash == KURA_SSHSIG_HASH_SHA256) {
        if (sha256 != NULL)
            memcpy(digest, sha256, KURA_SHA256_LEN);
        else
            kura_sha256(digest, message, message_len);
        digest_len = KURA_SHA256_LEN;
    } else {
        if (sha512 != NULL)
            memcpy(digest, sha512, KURA_SHA512_LEN);
        else
            kura_sha512(digest, message, message_len);
        digest_len = KURA_SHA512_LEN;
    }
    memcpy(signed_data, sshsig_magic, sizeof(sshsig_magic));
    n = sizeof(sshsig_magic);
    kura_store_u32be(signed_data + n, (uint32_t)ns_len);
    memcpy(signed_data + n + 4, ns, ns_len);
    n += 4 + ns_len;
    kura_store_u32be(signed_data + n, 0); /* reserved, always empty */
    n += 4;
    kura_store_u32be(signed_data + n, (uint32_t)strlen(hname));
    memcpy(signed_data + n + 4, hname, strlen(hname));
    n += 4 + strlen(hname);
    kura_store_u32be(signed_data + n, (uint32_t)digest_len);
    memcpy(signed_data + n + 4, digest, digest_len);
    n += 4 + digest_len;

    to_check = signed_data;
    to_check_len = n;
    if (is_sk(sig->key.type)) {
        /* PROTOCOL.u2f: the authenticator signs
         *   SHA256(application) || flags || counter (uint32 BE) || SHA256(data)
         * — Ed25519 over these 69 bytes, ECDSA over their SHA-256. The flags
         * and counter are covered by the signature, which is why they are
         * only trusted after it verifies (step 5). */
        kura_sha256(u2f, (const uint8_t *)sig->key.application, sig->key.application_len);
        u2f[32] = sig->flags;
        kura_store_u32be(u2f + 33, sig->counter);
        kura_sha256(u2f + 37, signed_data, n);
        to_check = u2f;
        to_check_len = sizeof(u2f);
    }
    if (is_ecdsa(sig->key.type))
        rc = p256_verify(sig->key.key, sig->sig, to_check, to_check_len, err);
    else
        rc = ed25519_verify(sig->key.key, sig->sig, to_check, to_check_len, err);
    if (rc != KURA_OK) return rc;

    /* 5. Security-key flags. Without user presence, malware on the
     * approver's machine could have the key sign anything without anyone
     * touching it — the approval would prove nothing about a person. */
    if (is_sk(sig->key.type) && (sig->flags & KURA_SSHSIG_FLAG_USER_PRESENT) == 0 &&
        (options & KURA_SSHSIG_ALLOW_NO_TOUCH) == 0)
        return kura_fail(err, KURA_SSHSIG_ENOTOUCH,
                         "sshsig: security key signature without user presence (flags 0x%02x)",
                         (unsigned)sig->flags);
    if ((options & KURA_SSHSIG_REQUIRE_VERIFIED) != 0 &&
        (!is_sk(sig->key.type) || (sig->flags & KURA_SSHSIG_FLAG_USER_VERIFIED) == 0))
        return kura_fail(err, KURA_SSHSIG_ENOVERIFY,
                         is_sk(sig->key.type)
                             ? "sshsig: security key signature without user verification"
                             : "sshsig: user verification required but the key is not a "
                               "security key");

    if (signer_key_out != NULL) *signer_key_out = sig->key;
    return KURA_OK;
}

int kura_sshsig_verify(const kura_sshsig *sig, const uint8_t *message, size_t message_len,
                       const char *ns, const kura_sshkey *expected_key, uint32_t options,
                       kura_sshkey *signer_key_out, kura_error *err)
{
    return verify_common(sig, message, message_len, NULL, NULL, ns, expected_key, options,
                         signer_key_out, err);
}

int kura_sshsig_verify_hashed(const kura_sshsig *sig, const uint8_t *sha256,
                              const uint8_t *sha512, const char *ns,
                              const kura_sshkey *expected_key, uint32_t options,
                              kura_sshkey *signer_key_out, kura_error *err)
{
    if (signer_key_out != NULL) memset(signer_key_out, 0, sizeof(*signer_key_out));
    if (sig == NULL)
        return kura_fail(err, KURA_EINVAL, "sshsig: verify: NULL argument or empty namespace");
    /* The hash the signature names must be given; the other may be NULL. */
    if ((sig->hash == KURA_SSHSIG_HASH_SHA256 && sha256 == NULL) ||
        (sig->hash == KURA_SSHSIG_HASH_SHA512 && sha512 == NULL))
        return kura_fail(err, KURA_EINVAL, "sshsig: verify: no %s hash of the message given",
                         sig->hash == KURA_SSHSIG_HASH_SHA256 ? "sha256" : "sha512");
    return verify_common(sig, NULL, 0, sha256, sha512, ns, expected_key, options, signer_key_out,
                         err);
}
