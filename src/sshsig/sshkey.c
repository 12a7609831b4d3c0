/*
 * src/sshsig/sshkey.c — OpenSSH public keys: the wire blob (RFC 4253 §6.6,
 * RFC 5656 §3.1, RFC 8709 §4, PROTOCOL.u2f), the one-line text form of .pub
 * files, the SHA256 fingerprint, and the SSH wire helpers sshsig.c shares.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include "kura/hash.h"
#include "sshsig_internal.h"

/* A .pub line is one short line; anything this long is not a key. */
#define SSHKEY_LINE_MAX 8192
/* Decoded blobs are at most KURA_SSHKEY_BLOB_MAX bytes for keys kura keeps;
 * this larger buffer lets an over-long application be reported as such
 * (KURA_ERANGE) rather than as undecodable. */
#define SSHKEY_DECODE_MAX 1024

static const char *const type_names[] = {
    [KURA_SSHKEY_ED25519] = "ssh-ed25519",
    [KURA_SSHKEY_ECDSA_P256] = "ecdsa-sha2-nistp256",
    [KURA_SSHKEY_SK_ED25519] = "sk-ssh-ed25519@openssh.com",
    [KURA_SSHKEY_SK_ECDSA_P256] = "sk-ecdsa-sha2-nistp256@openssh.com",
};

/* The curve identifier inside ECDSA blobs (RFC 5656 §6.1). */
static const char curve_p256[] = "nistp256";

static bool is_sk(kura_sshkey_type t)
{
    return t == KURA_SSHKEY_SK_ED25519 || t == KURA_SSHKEY_SK_ECDSA_P256;
}

static bool is_ecdsa(kura_sshkey_type t)
{
    return t == KURA_SSHKEY_ECDSA_P256 || t == KURA_SSHKEY_SK_ECDSA_P256;
}

/* ---- SSH wire helpers (RFC 4251 §5) ---- */

bool kura_sshwire_read_u32(kura_reader *r, uint32_t *out)
{
    uint8_t b[4];
    bool ok = kura_read_bytes(r, b, 4);
    *out = kura_load_u32be(b);
    return ok;
}

bool kura_sshwire_read_string(kura_reader *r, const uint8_t **p, size_t *len)
{
    uint32_t n;
    *p = NULL;
    *len = 0;
    if (!kura_sshwire_read_u32(r, &n)) return false;
    /* kura_read_span checks n against what is left, so a huge length claimed
     * by a hostile blob fails here rather than being trusted. */
    if (!kura_read_span(r, p, (size_t)n)) return false;
    *len = (size_t)n;
    return true;
}

bool kura_sshwire_eq(const uint8_t *p, size_t len, const char *name)
{
    size_t n = strlen(name);
    return len == n && (n == 0 || memcmp(p, name, n) == 0);
}

void kura_sshwire_printable(char *out, size_t out_size, const uint8_t *p, size_t len)
{
    size_t n = len > 64 ? 64 : len, i;
    if (out_size < 68) {
        if (out_size > 0) out[0] = '\0';
        return;
    }
    for (i = 0; i < n; i++) out[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
    if (len > n) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

/* Appends an SSH string to a fixed buffer whose size the caller has checked. */
static size_t put_string(uint8_t *out, const void *data, size_t len)
{
    kura_store_u32be(out, (uint32_t)len);
    if (len > 0) memcpy(out + 4, data, len);
    return 4 + len;
}

/* ---- types ---- */

const char *kura_sshkey_type_name(kura_sshkey_type type)
{
    switch (type) {
    case KURA_SSHKEY_ED25519:
    case KURA_SSHKEY_ECDSA_P256:
    case KURA_SSHKEY_SK_ED25519:
    case KURA_SSHKEY_SK_ECDSA_P256: return type_names[type];
    case KURA_SSHKEY_NONE: break;
    }
    return NULL;
}

kura_sshkey_type kura_sshkey_type_from_name(const uint8_t *name, size_t len)
{
    for (int t = KURA_SSHKEY_ED25519; t <= KURA_SSHKEY_SK_ECDSA_P256; t++) {
        if (kura_sshwire_eq(name, len, type_names[t])) return (kura_sshkey_type)t;
    }
    return KURA_SSHKEY_NONE;
}

bool kura_sshkey_value_ok(const kura_sshkey *key)
{
    if (key == NULL || kura_sshkey_type_name(key->type) == NULL) return false;
    if (key->key_len != (is_ecdsa(key->type) ? 65u : 32u)) return false;
    if (is_ecdsa(key->type) && key->key[0] != 0x04) return false;
    if (key->application_len > KURA_SSHKEY_APPLICATION_MAX) return false;
    if (key->application[key->application_len] != '\0') return false;
    if (strlen(key->application) != key->application_len) return false;
    if (!is_sk(key->type) && key->application_len != 0) return false;
    return true;
}

/* ---- point checks ---- */

int kura_sshkey_p256_pkey(EVP_PKEY **out, const uint8_t point[65])
{
    EVP_PKEY_CTX *ctx = NULL, *check = NULL;
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM params[3];
    int rc = KURA_ECRYPTO;

    *out = NULL;
    /* Only the uncompressed form: it is what OpenSSH writes (RFC 5656 §3.1
     * via SEC1 2.3.3) and accepting one form keeps one key, one text. */
    if (point[0] != 0x04) return KURA_EDATA;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point, 65);
    params[2] = OSSL_PARAM_construct_end();

    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1) goto done;
    if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        /* OpenSSL decodes the point here and refuses one off the curve. */
        rc = KURA_EDATA;
        goto done;
    }
    check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (check == NULL) goto done;
    /* The full public-key check (SP 800-56A 5.6.2.3.3): not the point at
     * infinity, coordinates in range, on the curve, n*Q = O. A key that fails
     * could admit invalid-curve tricks; OpenSSH refuses such keys too. */
    if (EVP_PKEY_public_check(check) != 1) {
        rc = KURA_EDATA;
        goto done;
    }
    *out = pkey;
    pkey = NULL;
    rc = KURA_OK;
done:
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    /* Leave no stale entries in the thread's OpenSSL error queue for
     * unrelated code to trip over. */
    if (rc != KURA_OK) ERR_clear_error();
    return rc;
}

static int p256_check(const uint8_t point[65])
{
    EVP_PKEY *pkey = NULL;
    int rc = kura_sshkey_p256_pkey(&pkey, point);
    EVP_PKEY_free(pkey);
    return rc;
}

/* ---- blobs ---- */

int kura_sshkey_parse_blob(kura_sshkey *out, const uint8_t *blob, size_t blob_len,
                           const char *where, kura_error *err)
{
    kura_reader r;
    const uint8_t *name, *curve, *pk, *app = NULL;
    size_t name_len, curve_len, pk_len, app_len = 0;
    char shown[68];
    kura_sshkey key;
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&key, 0, sizeof(key));
    kura_reader_init(&r, blob, blob_len);
    if (!kura_sshwire_read_string(&r, &name, &name_len))
        return kura_fail(err, KURA_EDATA, "sshsig: %s: truncated key type", where);
    key.type = kura_sshkey_type_from_name(name, name_len);
    if (key.type == KURA_SSHKEY_NONE) {
        kura_sshwire_printable(shown, sizeof(shown), name, name_len);
        return kura_fail(err, KURA_SSHSIG_EUNSUPPORTED,
                         "sshsig: %s: key type \"%s\" is not supported (only ssh-ed25519, "
                         "ecdsa-sha2-nistp256 and their sk- variants)",
                         where, shown);
    }
    if (is_ecdsa(key.type)) {
        /* RFC 5656 §3.1: string curve identifier, then string Q. */
        if (!kura_sshwire_read_string(&r, &curve, &curve_len))
            return kura_fail(err, KURA_EDATA, "sshsig: %s: truncated curve name", where);
        if (!kura_sshwire_eq(curve, curve_len, curve_p256)) {
            kura_sshwire_printable(shown, sizeof(shown), curve, curve_len);
            return kura_fail(err, KURA_EDATA, "sshsig: %s: curve \"%s\" does not match %s",
                             where, shown, type_names[key.type]);
        }
    }
    if (!kura_sshwire_read_string(&r, &pk, &pk_len))
        return kura_fail(err, KURA_EDATA, "sshsig: %s: truncated key", where);
    if (is_sk(key.type) && !kura_sshwire_read_string(&r, &app, &app_len))
        return kura_fail(err, KURA_EDATA, "sshsig: %s: truncated application", where);
    if (r.left != 0)
        return kura_fail(err, KURA_EDATA, "sshsig: %s: %zu trailing bytes after the key", where,
                         r.left);

    if (is_ecdsa(key.type)) {
        if (pk_len != 65 || pk[0] != 0x04)
            return kura_fail(err, KURA_EDATA,
                             "sshsig: %s: P-256 key is not a 65-byte uncompressed point", where);
        rc = p256_check(pk);
        if (rc == KURA_EDATA)
            return kura_fail(err, rc, "sshsig: %s: not a valid P-256 point", where);
        if (rc != KURA_OK) return kura_fail(err, rc, "sshsig: %s: OpenSSL failed", where);
    } else {
        if (pk_len != 32)
            return kura_fail(err, KURA_EDATA, "sshsig: %s: Ed25519 key is %zu bytes, not 32",
                             where, pk_len);
        /* Canonical encoding, on the curve, prime order: every key ssh-keygen
         * makes is; anything else is either garbage or a crafted key (small
         * order keys would let one signature verify for many messages). */
        if (crypto_core_ed25519_is_valid_point(pk) != 1)
            return kura_fail(err, KURA_EDATA, "sshsig: %s: not a valid Ed25519 public key",
                             where);
    }
    memcpy(key.key, pk, pk_len);
    key.key_len = pk_len;

    if (is_sk(key.type)) {
        if (app_len > KURA_SSHKEY_APPLICATION_MAX)
            return kura_fail(err, KURA_ERANGE,
                             "sshsig: %s: application is %zu bytes, more than %d", where,
                             app_len, KURA_SSHKEY_APPLICATION_MAX);
        /* OpenSSH reads the application as a C string; an embedded NUL would
         * make two different blobs name the same application. */
        if (app_len > 0 && memchr(app, 0, app_len) != NULL)
            return kura_fail(err, KURA_EDATA, "sshsig: %s: NUL byte in application", where);
        if (app_len > 0) memcpy(key.application, app, app_len);
        key.application[app_len] = '\0';
        key.application_len = app_len;
    }
    *out = key;
    return KURA_OK;
}

size_t kura_sshkey_write_blob(uint8_t out[KURA_SSHKEY_BLOB_MAX], const kura_sshkey *key)
{
    const char *name;
    size_t n = 0;
    if (!kura_sshkey_value_ok(key)) return 0;
    name = type_names[key->type];
    n += put_string(out + n, name, strlen(name));
    if (is_ecdsa(key->type)) n += put_string(out + n, curve_p256, sizeof(curve_p256) - 1);
    n += put_string(out + n, key->key, key->key_len);
    if (is_sk(key->type)) n += put_string(out + n, key->application, key->application_len);
    return n;
}

/* ---- text form ---- */

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

int kura_sshkey_parse(kura_sshkey *out, const char *line, size_t line_len, kura_error *err)
{
    uint8_t blob[SSHKEY_DECODE_MAX];
    char shown[68];
    size_t i = 0, type_start, type_len, b64_start, b64_len, blob_len = 0;
    const char *b64_end = NULL;
    kura_sshkey_type text_type;
    kura_sshkey key;
    int rc;

    if (out == NULL) return kura_fail(err, KURA_EINVAL, "sshsig: key: NULL output");
    memset(out, 0, sizeof(*out));
    if (line == NULL && line_len != 0)
        return kura_fail(err, KURA_EINVAL, "sshsig: key: NULL input");
    if (line_len > SSHKEY_LINE_MAX)
        return kura_fail(err, KURA_ERANGE, "sshsig: key: line longer than %d bytes",
                         SSHKEY_LINE_MAX);

    /* One optional final newline; everything else must be on the line. */
    if (line_len > 0 && line[line_len - 1] == '\n') line_len--;
    if (line_len > 0 && line[line_len - 1] == '\r')
        return kura_fail(err, KURA_EDATA, "sshsig: key: line ends in CR (use LF line endings)");

    type_start = i;
    while (i < line_len && !is_blank(line[i])) i++;
    type_len = i - type_start;
    if (type_len == 0) return kura_fail(err, KURA_EDATA, "sshsig: key: empty line or no key type");
    text_type = kura_sshkey_type_from_name((const uint8_t *)line + type_start, type_len);
    if (text_type == KURA_SSHKEY_NONE) {
        kura_sshwire_printable(shown, sizeof(shown), (const uint8_t *)line + type_start,
                               type_len);
        return kura_fail(err, KURA_SSHSIG_EUNSUPPORTED,
                         "sshsig: key: key type \"%s\" is not supported (only ssh-ed25519, "
                         "ecdsa-sha2-nistp256 and their sk- variants)",
                         shown);
    }
    if (i == line_len) return kura_fail(err, KURA_EDATA, "sshsig: key: no base64 key after type");
    while (i < line_len && is_blank(line[i])) i++;
    b64_start = i;
    while (i < line_len && !is_blank(line[i])) i++;
    b64_len = i - b64_start;
    if (b64_len == 0) return kura_fail(err, KURA_EDATA, "sshsig: key: no base64 key after type");
    if (b64_len > (SSHKEY_DECODE_MAX / 3) * 4)
        return kura_fail(err, KURA_ERANGE, "sshsig: key: key blob too long");
    /* Padded, canonical base64 as ssh-keygen writes: libsodium's decoder
     * refuses missing or extra padding and non-zero trailing bits, so one key
     * has exactly one text form. */
    if (sodium_base642bin(blob, sizeof(blob), line + b64_start, b64_len, NULL, &blob_len,
                          &b64_end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        b64_end != line + b64_start + b64_len)
        return kura_fail(err, KURA_EDATA, "sshsig: key: invalid base64");
    /* The rest is blanks and a comment; refuse control characters so a
     * comment cannot hide a second line or terminal escapes. */
    for (; i < line_len; i++) {
        unsigned char c = (unsigned char)line[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return kura_fail(err, KURA_EDATA, "sshsig: key: control character 0x%02x in comment",
                             c);
    }

    rc = kura_sshkey_parse_blob(&key, blob, blob_len, "key", err);
    if (rc != KURA_OK) return rc;
    if (key.type != text_type)
        return kura_fail(err, KURA_EDATA, "sshsig: key: text says %s but the blob holds %s",
                         type_names[text_type], type_names[key.type]);
    *out = key;
    return KURA_OK;
}

int kura_sshkey_format(char *out, size_t out_size, size_t *written, const kura_sshkey *key)
{
    uint8_t blob[KURA_SSHKEY_BLOB_MAX];
    size_t blob_len, name_len, need;
    const char *name;

    if (written != NULL) *written = 0;
    if (out == NULL) return KURA_EINVAL;
    if (out_size > 0) out[0] = '\0';
    blob_len = kura_sshkey_write_blob(blob, key);
    if (blob_len == 0) return KURA_EINVAL;
    name = type_names[key->type];
    name_len = strlen(name);
    /* name, space, base64 with its NUL */
    need = name_len + 1 + sodium_base64_ENCODED_LEN(blob_len, sodium_base64_VARIANT_ORIGINAL);
    if (out_size < need) return KURA_EINVAL;
    memcpy(out, name, name_len);
    out[name_len] = ' ';
    sodium_bin2base64(out + name_len + 1, out_size - name_len - 1, blob, blob_len,
                      sodium_base64_VARIANT_ORIGINAL);
    if (written != NULL) *written = strlen(out);
    return KURA_OK;
}

int kura_sshkey_fingerprint(char out[KURA_SSHKEY_FINGERPRINT_SIZE], const kura_sshkey *key)
{
    uint8_t blob[KURA_SSHKEY_BLOB_MAX], digest[KURA_SHA256_LEN];
    size_t blob_len;

    if (out == NULL) return KURA_EINVAL;
    out[0] = '\0';
    blob_len = kura_sshkey_write_blob(blob, key);
    if (blob_len == 0) return KURA_EINVAL;
    /* ssh-keygen -l: SHA-256 of the blob, base64 without '=' padding. */
    kura_sha256(digest, blob, blob_len);
    memcpy(out, "SHA256:", 7);
    sodium_bin2base64(out + 7, KURA_SSHKEY_FINGERPRINT_SIZE - 7, digest, sizeof(digest),
                      sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    return KURA_OK;
}

bool kura_sshkey_equal(const kura_sshkey *a, const kura_sshkey *b)
{
    if (!kura_sshkey_value_ok(a) || !kura_sshkey_value_ok(b)) return false;
    /* Public values: an ordinary comparison is fine. */
    return a->type == b->type && a->key_len == b->key_len &&
           memcmp(a->key, b->key, a->key_len) == 0 && a->application_len == b->application_len &&
           memcmp(a->application, b->application, a->application_len) == 0;
}

bool kura_sshkey_same_point(const kura_sshkey *a, const kura_sshkey *b)
{
    bool a_ec, b_ec;
    if (!kura_sshkey_value_ok(a) || !kura_sshkey_value_ok(b)) return false;
    /* The security-key forms use the same curves and the same point
     * encodings as the plain forms (PROTOCOL.u2f): only the type name and the
     * application string differ, and neither is secret. Whoever holds the
     * private key can sign in every form, so identity is the point. */
    a_ec = a->type == KURA_SSHKEY_ECDSA_P256 || a->type == KURA_SSHKEY_SK_ECDSA_P256;
    b_ec = b->type == KURA_SSHKEY_ECDSA_P256 || b->type == KURA_SSHKEY_SK_ECDSA_P256;
    return a_ec == b_ec && a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0;
}
