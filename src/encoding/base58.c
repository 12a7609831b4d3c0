/*
 * src/encoding/base58.c — Base58Check, the encoding of legacy addresses, WIF
 * keys and BIP32 extended keys.
 *
 * Base58 is a big-endian base conversion with one special rule: every leading
 * zero byte of the data becomes one leading '1', and back. Base58Check appends
 * the first four bytes of SHA256d(payload) before encoding.
 *
 * The data is often secret (xprv, WIF), so the conversion runs a fixed number
 * of steps for a given length (no early exit when the carry dies out) and maps
 * digits to characters with arithmetic instead of a table indexed by the
 * secret. What still depends on the data is only the count of leading zero
 * bytes/'1's and the output length, which the encoded string shows anyway
 * (and the leading byte of a key's payload is its public version byte).
 */
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "kura/encoding.h"
#include "kura/hash.h"

/* Hard limits. No Base58Check string Bitcoin defines comes near them (an xprv
 * is 111 characters, 82 bytes with checksum); they bound the quadratic
 * conversion so a hostile multi-megabyte string costs nothing. */
#define B58_MAX_BYTES 256u /* payload + checksum, encode side */
#define B58_MAX_CHARS 350u /* decode side; 350 * log(58)/log(256) < 257 bytes */
#define B58_CHECKSUM_LEN 4u

/* 1 if a > b, else 0, for a, b < 2^31, without a branch. */
static uint32_t ct_gt(uint32_t a, uint32_t b)
{
    return (b - a) >> 31;
}

/* 1 if lo <= c <= hi, else 0, without a branch (c, lo, hi < 2^31). */
static uint32_t ct_in(uint32_t c, uint32_t lo, uint32_t hi)
{
    return (1u ^ ct_gt(lo, c)) & (1u ^ ct_gt(c, hi));
}

/* Digit 0..57 to its character in Bitcoin's alphabet
 * "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz": start at '1'
 * and add the gaps the alphabet skips (':'..'@', 'I', 'O', '['..'`', 'l'). */
static char b58_char(uint32_t d)
{
    uint32_t c = '1' + d;
    c += 7u * ct_gt(d, 8);  /* 9 -> 'A' */
    c += ct_gt(d, 16);      /* skip 'I' */
    c += ct_gt(d, 21);      /* skip 'O' */
    c += 6u * ct_gt(d, 32); /* 33 -> 'a' */
    c += ct_gt(d, 43);      /* skip 'l' */
    return (char)c;
}

/* Character to digit; *valid gets 1 or 0. The inverse of b58_char, again
 * without a branch or table lookup on the character. */
static uint32_t b58_digit(unsigned char ch, uint32_t *valid)
{
    uint32_t c = ch, d = 0, ok = 0, in;
#define B58_RANGE(lo, hi, base)                        \
    in = ct_in(c, (lo), (hi));                         \
    ok |= in;                                          \
    d |= (0u - in) & (c - (uint32_t)(lo) + (base))
    B58_RANGE('1', '9', 0u);
    B58_RANGE('A', 'H', 9u);
    B58_RANGE('J', 'N', 17u);
    B58_RANGE('P', 'Z', 22u);
    B58_RANGE('a', 'k', 33u);
    B58_RANGE('m', 'z', 44u);
#undef B58_RANGE
    *valid = ok;
    return d;
}

int kura_base58check_encode(char *out, size_t out_len, const uint8_t *payload, size_t len)
{
    uint8_t data[B58_MAX_BYTES];
    uint8_t digits[B58_MAX_BYTES * 138 / 100 + 1]; /* log(256)/log(58) < 1.38 */
    size_t n, zeros = 0, size, skip = 0, total;
    int rc = KURA_EINVAL;

    if (out != NULL && out_len > 0) out[0] = '\0';
    if (out == NULL || (payload == NULL && len != 0)) return KURA_EINVAL;
    if (len > B58_MAX_BYTES - B58_CHECKSUM_LEN) return KURA_EINVAL;

    n = len + B58_CHECKSUM_LEN;
    if (len > 0) memcpy(data, payload, len);
    {
        uint8_t check[32];
        kura_sha256d(check, payload, len);
        memcpy(data + len, check, B58_CHECKSUM_LEN);
    }

    while (zeros < n && data[zeros] == 0) zeros++;
    size = (n - zeros) * 138 / 100 + 1;
    memset(digits, 0, size);
    /* digits[] holds the number little-endian in base 58. Each input byte
     * multiplies it by 256 and adds the byte; every digit is visited every
     * time, so the work does not depend on the values. */
    for (size_t i = zeros; i < n; i++) {
        uint32_t carry = data[i];
        for (size_t j = 0; j < size; j++) {
            carry += (uint32_t)digits[j] << 8;
            digits[j] = (uint8_t)(carry % 58u);
            carry /= 58u;
        }
    }
    /* The buffer is sized so the number always fits: the carry ends at 0. */
    while (skip < size && digits[size - 1 - skip] == 0) skip++;
    total = zeros + (size - skip);
    if (out_len < total + 1) goto done;

    memset(out, '1', zeros);
    for (size_t k = 0; k < size - skip; k++)
        out[zeros + k] = b58_char(digits[size - 1 - skip - k]);
    out[total] = '\0';
    rc = KURA_OK;
done:
    sodium_memzero(data, sizeof(data));
    sodium_memzero(digits, sizeof(digits));
    return rc;
}

int kura_base58check_decode(uint8_t *out, size_t out_len, size_t *written, const char *str,
                            kura_error *err)
{
    uint8_t num[B58_MAX_CHARS * 733 / 1000 + 1]; /* log(58)/log(256) < 0.733 */
    uint8_t data[sizeof(num) + B58_MAX_CHARS];
    uint8_t check[32];
    size_t n, zeros = 0, size, skip = 0, total;
    uint32_t all_valid = 1;
    int rc;

    if (written != NULL) *written = 0;
    if (out == NULL && out_len != 0) return kura_fail(err, KURA_EINVAL, "base58: NULL output");
    if (written == NULL || str == NULL)
        return kura_fail(err, KURA_EINVAL, "base58: NULL argument");
    if (out_len > 0) sodium_memzero(out, out_len);

    n = strlen(str);
    if (n > B58_MAX_CHARS)
        return kura_fail(err, KURA_EDATA, "base58: string of %zu characters is over the %u limit",
                         n, B58_MAX_CHARS);

    while (zeros < n && str[zeros] == '1') zeros++;
    size = (n - zeros) * 733 / 1000 + 1;
    memset(num, 0, size);
    /* num[] holds the value big-endian in base 256; each character multiplies
     * it by 58 and adds its digit, visiting every byte every time. */
    for (size_t i = zeros; i < n; i++) {
        uint32_t valid;
        uint32_t carry = b58_digit((unsigned char)str[i], &valid);
        all_valid &= valid;
        for (size_t j = size; j-- > 0;) {
            carry += (uint32_t)num[j] * 58u;
            num[j] = (uint8_t)(carry & 0xffu);
            carry >>= 8;
        }
    }
    if (all_valid == 0) {
        /* Name the first offender's position, not the character: the string
         * may be a private key. 0, O, I and l are not in the alphabet. */
        size_t pos = 0;
        uint32_t valid = 1;
        for (pos = 0; pos < n; pos++) {
            (void)b58_digit((unsigned char)str[pos], &valid);
            if (!valid) break;
        }
        rc = kura_fail(err, KURA_EDATA, "base58: invalid character at position %zu", pos);
        goto done;
    }

    while (skip < size && num[skip] == 0) skip++;
    total = zeros + (size - skip);
    memset(data, 0, zeros);
    memcpy(data + zeros, num + skip, size - skip);

    if (total < B58_CHECKSUM_LEN) {
        rc = kura_fail(err, KURA_EDATA, "base58: %zu bytes cannot hold a 4-byte checksum", total);
        goto done;
    }
    kura_sha256d(check, data, total - B58_CHECKSUM_LEN);
    if (sodium_memcmp(check, data + total - B58_CHECKSUM_LEN, B58_CHECKSUM_LEN) != 0) {
        rc = kura_fail(err, KURA_EDATA, "base58: checksum mismatch");
        goto done;
    }
    if (total - B58_CHECKSUM_LEN > out_len) {
        rc = kura_fail(err, KURA_EINVAL, "base58: %zu-byte payload does not fit in %zu",
                       total - B58_CHECKSUM_LEN, out_len);
        goto done;
    }
    if (total > B58_CHECKSUM_LEN) memcpy(out, data, total - B58_CHECKSUM_LEN);
    *written = total - B58_CHECKSUM_LEN;
    rc = KURA_OK;
done:
    sodium_memzero(num, sizeof(num));
    sodium_memzero(data, sizeof(data));
    sodium_memzero(check, sizeof(check));
    return rc;
}
