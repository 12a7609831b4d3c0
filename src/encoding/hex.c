/*
 * src/encoding/hex.c — strict hexadecimal, over libsodium's constant-time
 * sodium_bin2hex / sodium_hex2bin (hex often carries private keys and seeds,
 * so neither direction may branch on or index by the digits).
 */
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "kura/encoding.h"

int kura_hex_encode(char *out, size_t out_len, const uint8_t *bytes, size_t len)
{
    size_t need;
    if (out == NULL || (bytes == NULL && len != 0)) return KURA_EINVAL;
    /* need = 2*len + 1, checked: a huge len must not wrap into a small buffer. */
    if (!kura_size_mul(len, 2, &need) || !kura_size_add(need, 1, &need) || out_len < need) {
        if (out_len > 0) out[0] = '\0';
        return KURA_EINVAL;
    }
    if (len == 0) {
        out[0] = '\0';
        return KURA_OK;
    }
    sodium_bin2hex(out, out_len, bytes, len); /* lower case, NUL-terminated */
    return KURA_OK;
}

/* 0 for a hex digit, 1 otherwise, computed without a data-dependent branch so
 * that checking a secret's hex does not leak which digits it holds. */
static unsigned hex_digit_bad(unsigned char c)
{
    unsigned x = c;
    /* Each range test is (x - lo) <= (hi - lo), evaluated as an unsigned
     * comparison; the compiler emits setcc, not a jump. */
    unsigned digit = (unsigned)((x - '0') <= 9u);
    unsigned lower = (unsigned)((x - 'a') <= 5u);
    unsigned upper = (unsigned)((x - 'A') <= 5u);
    return 1u ^ (digit | lower | upper);
}

int kura_hex_decode(uint8_t *out, size_t out_len, size_t *written, const char *hex,
                    kura_error *err)
{
    size_t n, bin_len = 0;
    const char *end = NULL;
    unsigned bad = 0;

    if (written != NULL) *written = 0;
    if (out == NULL && out_len != 0) return kura_fail(err, KURA_EINVAL, "hex: NULL output");
    if (written == NULL || hex == NULL) return kura_fail(err, KURA_EINVAL, "hex: NULL argument");
    if (out_len > 0) sodium_memzero(out, out_len);

    n = strlen(hex);
    if (n % 2 != 0) return kura_fail(err, KURA_EDATA, "hex: odd length %zu", n);
    for (size_t i = 0; i < n; i++) bad |= hex_digit_bad((unsigned char)hex[i]);
    if (bad != 0) return kura_fail(err, KURA_EDATA, "hex: character outside 0-9a-fA-F");
    if (n / 2 > out_len)
        return kura_fail(err, KURA_EINVAL, "hex: %zu bytes do not fit in %zu", n / 2, out_len);
    if (n == 0) return KURA_OK;

    /* ignore = NULL: no separators are skipped, so the whole string must be
     * digits, which the loop above already proved. */
    if (sodium_hex2bin(out, out_len, hex, n, NULL, &bin_len, &end) != 0 || end != hex + n ||
        bin_len != n / 2) {
        sodium_memzero(out, out_len);
        return kura_fail(err, KURA_EDATA, "hex: not valid hex");
    }
    *written = bin_len;
    return KURA_OK;
}
