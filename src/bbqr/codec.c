/*
 * src/bbqr/codec.c — the payload encodings of BBQr (BBQr.md "Binary to Text
 * Encoding", "Advanced Encodings"): upper-case hex, RFC 4648 base32 without
 * padding, and raw deflate with a 1 KiB window under base32.
 *
 * The alphabets are those of the QR code's alphanumeric mode; lower case is
 * not in it, so a lower-case payload cannot have come from a BBQr QR code and
 * is refused rather than guessed at.
 */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "codec.h"
#include "internal.h"

static const char hex_digits[16] = "0123456789ABCDEF";
static const char b32_alphabet[32] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* The value of a payload character, or -1. */
static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int b32_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= '2' && c <= '7') return c - '2' + 26;
    return -1;
}

bool bbqr_encoded_len(char encoding, size_t n, size_t *chars)
{
    size_t bits;
    if (encoding == KURA_BBQR_HEX) return kura_size_mul(n, 2, chars);
    if (!kura_size_mul(n, 8, &bits) || !kura_size_add(bits, 4, &bits)) return false;
    *chars = bits / 5;
    return true;
}

void bbqr_encode(char encoding, char *out, const uint8_t *data, size_t n)
{
    size_t o = 0;
    uint32_t acc = 0;
    unsigned nbits = 0;
    if (encoding == KURA_BBQR_HEX) {
        for (size_t i = 0; i < n; i++) {
            out[2 * i] = hex_digits[data[i] >> 4];
            out[2 * i + 1] = hex_digits[data[i] & 0x0f];
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | data[i];
        nbits += 8;
        while (nbits >= 5) {
            nbits -= 5;
            out[o++] = b32_alphabet[(acc >> nbits) & 31u];
        }
        acc &= (1u << nbits) - 1u;
    }
    if (nbits > 0) out[o++] = b32_alphabet[(acc << (5 - nbits)) & 31u];
}

bool bbqr_decoded_len(char encoding, size_t chars, size_t *n)
{
    if (encoding == KURA_BBQR_HEX) {
        if (chars % 2 != 0) return false;
        *n = chars / 2;
        return true;
    }
    /* 8 base32 characters are 5 bytes; a tail of 2, 4, 5 or 7 characters is
     * 1, 2, 3 or 4 bytes. A tail of 1, 3 or 6 is no whole number of bytes. */
    switch (chars % 8) {
    case 1:
    case 3:
    case 6:
        return false;
    default:
        *n = chars / 8 * 5 + (chars % 8) * 5 / 8;
        return true;
    }
}

kura_bbqr_reason bbqr_decode(char encoding, uint8_t *out, const char *text, size_t chars)
{
    size_t o = 0;
    uint32_t acc = 0;
    unsigned nbits = 0;
    if (encoding == KURA_BBQR_HEX) {
        for (size_t i = 0; i + 1 < chars; i += 2) {
            int hi = hex_value(text[i]), lo = hex_value(text[i + 1]);
            if (hi < 0 || lo < 0) return KURA_BBQR_BAD_CHARACTER;
            out[o++] = (uint8_t)((hi << 4) | lo);
        }
        return KURA_BBQR_OK;
    }
    for (size_t i = 0; i < chars; i++) {
        int v = b32_value(text[i]);
        if (v < 0) return KURA_BBQR_BAD_CHARACTER;
        acc = (acc << 5) | (uint32_t)v;
        nbits += 5;
        if (nbits >= 8) {
            nbits -= 8;
            out[o++] = (uint8_t)(acc >> nbits);
        }
        acc &= (1u << nbits) - 1u;
    }
    /* The bits left over fill the last character and must be zero: else two
     * texts would decode to the same bytes, and a duplicate part could
     * differ from its twin without our noticing. */
    if (acc != 0) return KURA_BBQR_BAD_CHARACTER;
    return KURA_BBQR_OK;
}

/* BBQr.md "Advanced Encodings": zlib with wbits 10 and no header, i.e.
 * deflateInit2 with windowBits -10. The window bounds what a decoder needs. */
#define BBQR_WBITS (-10)

int bbqr_deflate(uint8_t **out, size_t *out_len, const uint8_t *in, size_t in_len)
{
    z_stream zs;
    uLong bound;
    uint8_t *buf;
    int zrc;
    *out = NULL;
    *out_len = 0;
    if (in_len > (size_t)UINT32_MAX) return KURA_EINVAL;
    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, 9, Z_DEFLATED, BBQR_WBITS, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return KURA_ENOMEM;
    bound = deflateBound(&zs, (uLong)in_len);
    buf = malloc(bound > 0 ? bound : 1);
    if (buf == NULL) {
        deflateEnd(&zs);
        return KURA_ENOMEM;
    }
    zs.next_in = (Bytef *)(uintptr_t)in; /* zlib's API is not const; it does not write */
    zs.avail_in = (uInt)in_len;
    zs.next_out = buf;
    zs.avail_out = (uInt)bound;
    zrc = deflate(&zs, Z_FINISH);
    if (zrc != Z_STREAM_END) {
        deflateEnd(&zs);
        free(buf);
        return zrc == Z_MEM_ERROR ? KURA_ENOMEM : KURA_EINVAL;
    }
    *out_len = (size_t)zs.total_out;
    deflateEnd(&zs);
    *out = buf;
    return KURA_OK;
}

kura_bbqr_reason bbqr_inflate(uint8_t **out, size_t *out_len, bool *nomem, const uint8_t *in,
                              size_t in_len, size_t max_out)
{
    z_stream zs;
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    kura_bbqr_reason reason = KURA_BBQR_BAD_DEFLATE;
    int zrc;
    *out = NULL;
    *out_len = 0;
    *nomem = false;
    if (in_len > (size_t)UINT32_MAX) return KURA_BBQR_TOO_LARGE;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, BBQR_WBITS) != Z_OK) {
        *nomem = true;
        return KURA_BBQR_BAD_DEFLATE;
    }
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)in_len;
    for (;;) {
        if (len == cap) {
            /* Grow geometrically, but never past max_out + 1: one byte more
             * than allowed is enough to know the output is too large, and a
             * bomb never gets more memory than the cap. */
            size_t want = cap == 0 ? 4096 : cap * 2;
            uint8_t *nb;
            if (want > max_out + 1 || want < cap) want = max_out + 1;
            if (want <= cap) {
                reason = KURA_BBQR_TOO_LARGE;
                goto done;
            }
            nb = realloc(buf, want);
            if (nb == NULL) {
                *nomem = true;
                goto done;
            }
            buf = nb;
            cap = want;
        }
        zs.next_out = buf + len;
        zs.avail_out = (uInt)(cap - len > UINT32_MAX ? UINT32_MAX : cap - len);
        {
            uInt before = zs.avail_out;
            zrc = inflate(&zs, Z_NO_FLUSH);
            len += (size_t)(before - zs.avail_out);
        }
        if (len > max_out) {
            reason = KURA_BBQR_TOO_LARGE;
            goto done;
        }
        if (zrc == Z_STREAM_END) break;
        if (zrc == Z_MEM_ERROR) {
            *nomem = true;
            goto done;
        }
        if (zrc != Z_OK && zrc != Z_BUF_ERROR) goto done; /* Z_DATA_ERROR: broken stream */
        if (zrc == Z_BUF_ERROR && zs.avail_in == 0) goto done; /* truncated */
        if (zrc == Z_OK && zs.avail_in == 0 && zs.avail_out > 0) goto done; /* truncated */
    }
    /* zlib checks back-references against its window and against the
     * output of the current call, which here is the whole buffer: a stream
     * made with a larger window than 1 KiB may still inflate. Such a series
     * is accepted (the bytes are what they are); kura never makes one. */
    /* One stream, nothing after it: trailing bytes would let two different
     * part sets decode to the same file, and hide data nobody looked at. */
    if (zs.avail_in != 0) goto done;
    reason = KURA_BBQR_OK;
    *out = buf;
    *out_len = len;
    buf = NULL;
done:
    inflateEnd(&zs);
    free(buf);
    return reason;
}
