/*
 * server/domain/totp.c — RFC 6238 time-based one-time passwords (HOTP of
 * RFC 4226 over a time step), with HMAC-SHA1/256/512 from OpenSSL, and the
 * base32 secrets (RFC 4648) authenticator apps read.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "domain/people_internal.h"

int kura_totp_code(char out[10], kura_totp_alg alg, const uint8_t *key, size_t key_len, int64_t t,
                   int64_t t0, int64_t step, unsigned digits)
{
    const EVP_MD *md;
    uint8_t counter[8], mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    uint64_t c;
    uint32_t bin, mod = 1;
    size_t off;
    if (out)
        out[0] = '\0';
    if (!out || !key || key_len == 0 || key_len > 1024 || step <= 0 || t < t0 || digits < 6 ||
        digits > 9)
        return -1;
    switch (alg) {
    case KURA_TOTP_SHA1: md = EVP_sha1(); break;
    case KURA_TOTP_SHA256: md = EVP_sha256(); break;
    case KURA_TOTP_SHA512: md = EVP_sha512(); break;
    default: return -1;
    }
    /* RFC 6238 section 4: T = floor((t - T0) / X), as an 8-byte big-endian counter. */
    c = (uint64_t)((t - t0) / step);
    for (int i = 7; i >= 0; i--) {
        counter[i] = (uint8_t)(c & 0xff);
        c >>= 8;
    }
    if (!HMAC(md, key, (int)key_len, counter, sizeof counter, mac, &mac_len) || mac_len < 20)
        return -1;
    /* RFC 4226 section 5.3: dynamic truncation. */
    off = mac[mac_len - 1] & 0x0f;
    bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
          ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
    for (unsigned i = 0; i < digits; i++)
        mod *= 10u;
    snprintf(out, 10, "%0*u", (int)digits, (unsigned)(bin % mod));
    sodium_memzero(mac, sizeof mac);
    return 0;
}

/* ---- base32 (RFC 4648 section 6, upper case, no padding) ---- */

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static void base32_encode(char *out, size_t out_size, const uint8_t *in, size_t len)
{
    size_t o = 0;
    uint32_t buf = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        buf = (buf << 8) | in[i];
        bits += 8;
        while (bits >= 5 && o + 1 < out_size) {
            out[o++] = b32_alphabet[(buf >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0 && o + 1 < out_size)
        out[o++] = b32_alphabet[(buf << (5 - bits)) & 31];
    out[o] = '\0';
}

/* Decodes base32 (case-insensitive; '=' padding and spaces ignored) into
 * out[0..cap). Returns the byte count, or -1 for a bad character or too long. */
static long base32_decode(uint8_t *out, size_t cap, const char *in)
{
    size_t o = 0;
    uint32_t buf = 0;
    int bits = 0;
    for (; *in; in++) {
        char ch = *in;
        int v;
        if (ch == '=' || ch == ' ')
            continue;
        if (ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        if (ch >= 'A' && ch <= 'Z')
            v = ch - 'A';
        else if (ch >= '2' && ch <= '7')
            v = ch - '2' + 26;
        else
            return -1;
        buf = (buf << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            if (o >= cap)
                return -1;
            out[o++] = (uint8_t)(buf >> (bits - 8));
            bits -= 8;
        }
    }
    return (long)o;
}

void kura_people_i_totp_new_secret(char out[40])
{
    uint8_t key[KURA_TOTP_SECRET_BYTES];
    randombytes_buf(key, sizeof key);
    base32_encode(out, 40, key, sizeof key);
    sodium_memzero(key, sizeof key);
}

int kura_people_i_totp_check(const char *secret_b32, const char *code, int64_t now, int64_t *step)
{
    uint8_t key[128];
    long key_len;
    int found = 0;
    *step = 0;
    if (!secret_b32 || !code || strlen(code) != KURA_TOTP_DIGITS || now < KURA_TOTP_STEP)
        return 0;
    for (const char *c = code; *c; c++)
        if (*c < '0' || *c > '9')
            return 0;
    key_len = base32_decode(key, sizeof key, secret_b32);
    if (key_len <= 0) {
        sodium_memzero(key, sizeof key);
        return 0;
    }
    /* RFC 6238 section 5.2: accept one step of drift each way. The caller
     * refuses a step at or before the last one used (section 5.2: "the
     * verifier MUST NOT accept the second attempt of the OTP"). */
    for (int64_t d = -1; d <= 1 && !found; d++) {
        char want[10];
        int64_t t = now + d * KURA_TOTP_STEP;
        if (kura_totp_code(want, KURA_TOTP_SHA1, key, (size_t)key_len, t, 0, KURA_TOTP_STEP,
                           KURA_TOTP_DIGITS) == 0 &&
            sodium_memcmp(want, code, KURA_TOTP_DIGITS) == 0) {
            found = 1;
            *step = t / KURA_TOTP_STEP;
        }
        sodium_memzero(want, sizeof want);
    }
    sodium_memzero(key, sizeof key);
    return found;
}
