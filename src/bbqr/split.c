/*
 * src/bbqr/split.c — a file into a BBQr series (BBQr.md "Spliting the
 * Data", "Optimizations").
 *
 * The series is sized the way the specification describes: for each QR
 * version allowed, a part holds the version's alphanumeric capacity at level
 * L less the 8-character header, rounded down to whole encoded units (2 hex
 * digits, 8 base32 characters: every part must decode to whole bytes on its
 * own); the choice is the fewest parts, then the lowest version. The payload
 * is then shared out evenly over that many parts (the specification asks for
 * no small "runt" at the end and for one QR version across the series).
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "internal.h"

/* ISO/IEC 18004 table 7: alphanumeric characters per version at error
 * correction level L. */
static const uint16_t qr_alnum_l[41] = {
    0,    25,   47,   77,   114,  154,  195,  224,  279,  335,  395,  468,  535,  619,
    667,  758,  854,  938,  1046, 1153, 1249, 1352, 1460, 1588, 1704, 1853, 1990, 2132,
    2223, 2369, 2520, 2677, 2840, 3009, 3183, 3351, 3537, 3729, 3927, 4087, 4296,
};

size_t kura_bbqr_qr_capacity(unsigned version)
{
    return version >= 1 && version <= 40 ? qr_alnum_l[version] : 0;
}

unsigned kura_bbqr_qr_version_for(size_t chars)
{
    for (unsigned v = 1; v <= 40; v++)
        if (qr_alnum_l[v] >= chars) return v;
    return 0;
}

const char *kura_bbqr_reason_name(kura_bbqr_reason reason)
{
    switch (reason) {
    case KURA_BBQR_OK: return "KURA_BBQR_OK";
    case KURA_BBQR_BAD_HEADER: return "KURA_BBQR_BAD_HEADER";
    case KURA_BBQR_BAD_ENCODING: return "KURA_BBQR_BAD_ENCODING";
    case KURA_BBQR_BAD_TYPE: return "KURA_BBQR_BAD_TYPE";
    case KURA_BBQR_BAD_INDEX: return "KURA_BBQR_BAD_INDEX";
    case KURA_BBQR_MIXED_HEADER: return "KURA_BBQR_MIXED_HEADER";
    case KURA_BBQR_DUPLICATE_DIFFERS: return "KURA_BBQR_DUPLICATE_DIFFERS";
    case KURA_BBQR_BAD_CHARACTER: return "KURA_BBQR_BAD_CHARACTER";
    case KURA_BBQR_BAD_LENGTH: return "KURA_BBQR_BAD_LENGTH";
    case KURA_BBQR_MISSING_PARTS: return "KURA_BBQR_MISSING_PARTS";
    case KURA_BBQR_TOO_LARGE: return "KURA_BBQR_TOO_LARGE";
    case KURA_BBQR_BAD_DEFLATE: return "KURA_BBQR_BAD_DEFLATE";
    }
    return "KURA_BBQR_?";
}

static bool known_type(char t)
{
    return t != '\0' && strchr("PTJCUBX", t) != NULL;
}

void kura_bbqr_parts_free(kura_bbqr_parts *parts)
{
    if (parts == NULL) return;
    if (parts->parts != NULL) {
        for (size_t i = 0; i < parts->count; i++) free(parts->parts[i]);
        free(parts->parts);
    }
    free(parts);
}

static char base36_digit(size_t v)
{
    return (char)(v < 10 ? '0' + (int)v : 'A' + (int)(v - 10));
}

/* Parts needed for `chars` payload characters when a part may hold `cap`
 * characters: one part holds up to cap; with more, every part but the last
 * must be a whole number of units, so they hold cap rounded down. 0 when
 * no part fits even one unit. */
static size_t parts_needed(size_t chars, size_t cap, size_t unit)
{
    size_t per = cap - cap % unit;
    if (chars <= cap) return 1;
    if (per == 0) return 0;
    return chars / per + (chars % per != 0);
}

int kura_bbqr_split(kura_bbqr_parts **out, const uint8_t *data, size_t data_len,
                    const kura_bbqr_split_options *options)
{
    kura_bbqr_split_options o;
    kura_bbqr_parts *p = NULL;
    uint8_t *packed = NULL;
    const uint8_t *payload;
    size_t payload_len, chars, unit, count = 0, per, longest;
    char *text = NULL;
    int rc;

    if (out != NULL) *out = NULL;
    if (out == NULL || data == NULL || options == NULL || data_len == 0 ||
        data_len > KURA_BBQR_DATA_MAX)
        return KURA_EINVAL;
    o = *options;
    if (o.encoding == 0) o.encoding = KURA_BBQR_ZLIB;
    if (o.min_version == 0) o.min_version = o.max_version != 0 && o.max_version < 5 ? 1 : 5;
    if (o.max_version == 0) o.max_version = 40;
    if (o.min_parts == 0) o.min_parts = 1;
    if (o.max_parts == 0) o.max_parts = KURA_BBQR_MAX_PARTS;
    if ((o.encoding != KURA_BBQR_HEX && o.encoding != KURA_BBQR_BASE32 &&
         o.encoding != KURA_BBQR_ZLIB) ||
        !known_type(o.file_type) || o.min_version > o.max_version || o.max_version > 40 ||
        o.min_parts > o.max_parts || o.max_parts > KURA_BBQR_MAX_PARTS ||
        (o.max_part_len != 0 && (o.max_part_len < KURA_BBQR_HEADER_LEN + 8 ||
                                 o.max_part_len > KURA_BBQR_PART_MAX)))
        return KURA_EINVAL;

    payload = data;
    payload_len = data_len;
    if (o.encoding == KURA_BBQR_ZLIB) {
        rc = bbqr_deflate(&packed, &payload_len, data, data_len);
        if (rc != KURA_OK) return rc;
        /* BBQr.md: fall back to base32 rather than send more than needed. */
        if (payload_len >= data_len) {
            o.encoding = KURA_BBQR_BASE32;
            payload_len = data_len;
        } else {
            payload = packed;
        }
    }
    unit = o.encoding == KURA_BBQR_HEX ? 2 : 8;
    if (!bbqr_encoded_len(o.encoding, payload_len, &chars)) {
        rc = KURA_ERANGE;
        goto fail;
    }

    if (o.max_part_len != 0) {
        count = parts_needed(chars, o.max_part_len - KURA_BBQR_HEADER_LEN, unit);
        if (count == 0 || count < o.min_parts || count > o.max_parts) {
            rc = KURA_ERANGE;
            goto fail;
        }
    } else {
        /* Fewest parts, then the lowest version (the first found). */
        for (unsigned v = o.min_version; v <= o.max_version; v++) {
            size_t n = parts_needed(chars, qr_alnum_l[v] - KURA_BBQR_HEADER_LEN, unit);
            if (n == 0 || n < o.min_parts || n > o.max_parts) continue;
            if (count == 0 || n < count) count = n;
        }
        if (count == 0) {
            rc = KURA_ERANGE;
            goto fail;
        }
    }

    /* Share the payload out: per = ceil(chars / count) rounded up to a whole
     * unit. per is at most the chosen capacity (which is a whole number of
     * units at least chars / count), and ceil(chars / per) is still count. */
    if (count == 1) {
        per = chars;
    } else {
        per = chars / count + (chars % count != 0);
        per += (unit - per % unit) % unit;
        if (per == 0 || (chars + per - 1) / per != count) { /* cannot happen; see above */
            rc = KURA_ERANGE;
            goto fail;
        }
    }
    longest = KURA_BBQR_HEADER_LEN + per;

    text = malloc(chars > 0 ? chars : 1);
    p = calloc(1, sizeof(*p));
    if (text == NULL || p == NULL || (p->parts = calloc(count, sizeof(char *))) == NULL) {
        rc = KURA_ENOMEM;
        goto fail;
    }
    bbqr_encode(o.encoding, text, payload, payload_len);
    p->count = count;
    for (size_t i = 0; i < count; i++) {
        size_t off = i * per, n = i + 1 < count ? per : chars - off;
        char *s = malloc(KURA_BBQR_HEADER_LEN + n + 1);
        if (s == NULL) {
            rc = KURA_ENOMEM;
            goto fail;
        }
        s[0] = 'B';
        s[1] = '$';
        s[2] = o.encoding;
        s[3] = o.file_type;
        s[4] = base36_digit(count / 36);
        s[5] = base36_digit(count % 36);
        s[6] = base36_digit(i / 36);
        s[7] = base36_digit(i % 36);
        memcpy(s + KURA_BBQR_HEADER_LEN, text + off, n);
        s[KURA_BBQR_HEADER_LEN + n] = '\0';
        p->parts[i] = s;
    }
    p->part_len = longest;
    p->version = kura_bbqr_qr_version_for(longest);
    p->encoding = o.encoding;
    p->file_type = o.file_type;
    free(text);
    free(packed);
    *out = p;
    return KURA_OK;
fail:
    free(text);
    free(packed);
    kura_bbqr_parts_free(p);
    return rc;
}
