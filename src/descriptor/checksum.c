/* src/descriptor/checksum.c — the BIP380 descriptor checksum. */
#include <string.h>

#include "descriptor_internal.h"

/* BIP380 "Character Set": three groups of 32, in this exact order, so that a
 * case error or a substitution within the first group is one symbol error. */
static const char input_charset[] = "0123456789()[],'/*abcdefgh@:$%{}"
                                    "IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~"
                                    "ijklmnopqrstuvwxyzABCDEFGH`#\"\\ ";
static const char checksum_charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/* BIP380 descsum_polymod, one symbol at a time: a BCH code over GF(32) with
 * the generator below, 40-bit state. */
static uint64_t polymod_step(uint64_t c, unsigned value)
{
    uint64_t top = c >> 35;
    c = ((c & UINT64_C(0x7ffffffff)) << 5) ^ value;
    if (top & 1) c ^= UINT64_C(0xf5dee51989);
    if (top & 2) c ^= UINT64_C(0xa9fdca3312);
    if (top & 4) c ^= UINT64_C(0x1bab10e32d);
    if (top & 8) c ^= UINT64_C(0x3706b1677a);
    if (top & 16) c ^= UINT64_C(0x644d626ffd);
    return c;
}

int kd_checksum8(char out[8], const char *s, size_t len, size_t *bad)
{
    int8_t pos[256];
    uint64_t c = 1;
    unsigned groups[3];
    size_t n_groups = 0;

    memset(pos, -1, sizeof(pos));
    for (size_t i = 0; i < sizeof(input_charset) - 1; i++) {
        pos[(unsigned char)input_charset[i]] = (int8_t)i;
    }
    /* descsum_expand: each character gives its position within its group;
     * after every third character a symbol carries the three group numbers. */
    for (size_t i = 0; i < len; i++) {
        int v = pos[(unsigned char)s[i]];
        if (v < 0) {
            if (bad != NULL) *bad = i;
            return 0;
        }
        c = polymod_step(c, (unsigned)v & 31);
        groups[n_groups++] = (unsigned)v >> 5;
        if (n_groups == 3) {
            c = polymod_step(c, groups[0] * 9 + groups[1] * 3 + groups[2]);
            n_groups = 0;
        }
    }
    if (n_groups == 1) c = polymod_step(c, groups[0]);
    if (n_groups == 2) c = polymod_step(c, groups[0] * 3 + groups[1]);
    /* descsum_create: eight zero symbols, then xor 1. */
    for (int i = 0; i < 8; i++) c = polymod_step(c, 0);
    c ^= 1;
    for (int i = 0; i < 8; i++) out[i] = checksum_charset[(c >> (5 * (7 - i))) & 31];
    return 1;
}

int kura_descriptor_checksum(char out[KURA_DESCRIPTOR_CHECKSUM_LEN + 1], const char *str,
                             size_t len, kura_error *err)
{
    size_t bad = 0;
    if (out == NULL) return kura_fail(err, KURA_EINVAL, "descriptor: NULL output");
    out[0] = '\0';
    if (str == NULL && len > 0) return kura_fail(err, KURA_EINVAL, "descriptor: NULL input");
    if (!kd_checksum8(out, str, len, &bad)) {
        out[0] = '\0';
        return kura_fail(err, KURA_EDATA,
                         "descriptor: character at offset %zu is outside the descriptor "
                         "character set (BIP380)",
                         bad);
    }
    out[KURA_DESCRIPTOR_CHECKSUM_LEN] = '\0';
    return KURA_OK;
}
