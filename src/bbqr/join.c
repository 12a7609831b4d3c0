/*
 * src/bbqr/join.c — parts of a BBQr series, in any order, back into the file.
 *
 * Parts come from a camera or a handheld scanner, so anything may arrive:
 * parts of another series, a part read twice, a misread. The joiner checks
 * each part completely when it arrives (header, alphabet, length against
 * the parts already held) and a refused part changes nothing, so the
 * operator can simply scan again. The specification (BBQr.md "Spliting the
 * Data") requires the first six header characters to agree across the
 * series, every part but the last to be of equal length, and every payload to
 * decode to whole bytes on its own.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "internal.h"

struct kura_bbqr_joiner {
    size_t max_len;     /* cap on the decoded file */
    char header[6];     /* "B$", encoding, type, count: fixed by the first part */
    char encoding;      /* header[2], or 0 before the first part */
    char file_type;     /* header[3] */
    size_t count;       /* number of parts in the series; 0 before the first part */
    size_t received;    /* distinct parts held */
    size_t body_len;    /* payload length of the parts before the last; 0 while unknown */
    char **payload;     /* payload[i]: part i's payload (NUL-terminated), or NULL */
    size_t *payload_len; /* its length */
};

int kura_bbqr_joiner_new(kura_bbqr_joiner **out, size_t max_len)
{
    kura_bbqr_joiner *j;
    if (out == NULL) return KURA_EINVAL;
    *out = NULL;
    if (max_len > KURA_BBQR_DATA_MAX) return KURA_EINVAL;
    j = calloc(1, sizeof(*j));
    if (j == NULL) return KURA_ENOMEM;
    j->max_len = max_len == 0 ? KURA_BBQR_DATA_MAX : max_len;
    *out = j;
    return KURA_OK;
}

void kura_bbqr_joiner_free(kura_bbqr_joiner *joiner)
{
    if (joiner == NULL) return;
    if (joiner->payload != NULL)
        for (size_t i = 0; i < joiner->count; i++) free(joiner->payload[i]);
    free(joiner->payload);
    free(joiner->payload_len);
    free(joiner);
}

static int refuse(kura_bbqr_reason *reason, kura_error *err, kura_bbqr_reason why,
                  const char *fmt, ...) KURA_PRINTF(4, 5);

/* Sets the reason and err ("bbqr: KURA_BBQR_X: ..."); returns the status. */
static int refuse(kura_bbqr_reason *reason, kura_error *err, kura_bbqr_reason why,
                  const char *fmt, ...)
{
    char msg[KURA_ERROR_MESSAGE_MAX];
    va_list ap;
    int code = why == KURA_BBQR_TOO_LARGE ? KURA_ERANGE : KURA_EDATA;
    if (reason != NULL) *reason = why;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return kura_fail(err, code, "bbqr: %s: %s", kura_bbqr_reason_name(why), msg);
}

static int base36_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
    return -1;
}

/* The decoded bytes of the whole series, known once the count and the
 * length of a part before the last are: the last part adds at least one
 * byte. Used to refuse a series over the cap before holding it all. */
static bool too_large(const kura_bbqr_joiner *j, char encoding, size_t count, size_t body_len)
{
    size_t per, total;
    if (count < 2 || body_len == 0 || encoding == KURA_BBQR_ZLIB) return false;
    if (!bbqr_decoded_len(encoding, body_len, &per)) return false;
    if (!kura_size_mul(per, count - 1, &total) || !kura_size_add(total, 1, &total)) return true;
    return total > j->max_len;
}

int kura_bbqr_joiner_add(kura_bbqr_joiner *j, kura_bbqr_reason *reason, const char *text,
                         size_t len, kura_error *err)
{
    const char *body;
    size_t body_len, count, index, nbytes;
    int c1, c2, i1, i2;
    uint8_t *scratch;
    kura_bbqr_reason r;
    char enc, type;

    if (reason != NULL) *reason = KURA_BBQR_OK;
    if (j == NULL || (text == NULL && len != 0))
        return kura_fail(err, KURA_EINVAL, "bbqr: NULL argument");
    if (len < KURA_BBQR_HEADER_LEN || text[0] != 'B' || text[1] != '$')
        return refuse(reason, err, KURA_BBQR_BAD_HEADER, "a part starts with \"B$\" and a "
                      "6-character header");
    if (len > KURA_BBQR_PART_MAX)
        return refuse(reason, err, KURA_BBQR_BAD_LENGTH,
                      "a part of %zu characters (a QR code holds at most %d)", len,
                      KURA_BBQR_PART_MAX);
    enc = text[2];
    type = text[3];
    if (enc != KURA_BBQR_HEX && enc != KURA_BBQR_BASE32 && enc != KURA_BBQR_ZLIB)
        return refuse(reason, err, KURA_BBQR_BAD_ENCODING, "unknown encoding 0x%02x",
                      (unsigned)(unsigned char)enc);
    if (type == '\0' || strchr("PTJCUBX", type) == NULL)
        return refuse(reason, err, KURA_BBQR_BAD_TYPE, "unknown file type 0x%02x",
                      (unsigned)(unsigned char)type);
    c1 = base36_value(text[4]);
    c2 = base36_value(text[5]);
    i1 = base36_value(text[6]);
    i2 = base36_value(text[7]);
    if (c1 < 0 || c2 < 0 || i1 < 0 || i2 < 0)
        return refuse(reason, err, KURA_BBQR_BAD_INDEX,
                      "part count and index are two base-36 digits each (0-9A-Z)");
    count = (size_t)c1 * 36 + (size_t)c2;
    index = (size_t)i1 * 36 + (size_t)i2;
    if (count == 0 || index >= count)
        return refuse(reason, err, KURA_BBQR_BAD_INDEX, "part %zu of %zu", index, count);
    if (j->count != 0 && memcmp(text, j->header, sizeof(j->header)) != 0)
        return refuse(reason, err, KURA_BBQR_MIXED_HEADER,
                      "part %zu is %.6s, the series is %.6s", index, text, j->header);

    body = text + KURA_BBQR_HEADER_LEN;
    body_len = len - KURA_BBQR_HEADER_LEN;
    if (j->count != 0 && j->payload[index] != NULL) {
        if (j->payload_len[index] != body_len ||
            memcmp(j->payload[index], body, body_len) != 0)
            return refuse(reason, err, KURA_BBQR_DUPLICATE_DIFFERS,
                          "part %zu was read before with other contents", index);
        return KURA_OK; /* the same part again: a camera sees each many times */
    }
    if (body_len == 0)
        return refuse(reason, err, KURA_BBQR_BAD_LENGTH, "part %zu is empty", index);
    if (!bbqr_decoded_len(enc, body_len, &nbytes))
        return refuse(reason, err, KURA_BBQR_BAD_LENGTH,
                      "part %zu: %zu characters are not a whole number of bytes", index,
                      body_len);
    /* Equal lengths: a part before the last fixes the length; the last may
     * be shorter, never longer. */
    if (index + 1 < count) {
        if (j->body_len != 0 && body_len != j->body_len)
            return refuse(reason, err, KURA_BBQR_BAD_LENGTH,
                          "part %zu has %zu characters, the others %zu", index, body_len,
                          j->body_len);
        if (j->count != 0 && j->payload[count - 1] != NULL &&
            j->payload_len[count - 1] > body_len)
            return refuse(reason, err, KURA_BBQR_BAD_LENGTH,
                          "part %zu has %zu characters, fewer than the last part's %zu", index,
                          body_len, j->payload_len[count - 1]);
        if (too_large(j, enc, count, body_len))
            return refuse(reason, err, KURA_BBQR_TOO_LARGE,
                          "%zu parts of %zu characters exceed %zu bytes", count, body_len,
                          j->max_len);
    } else if (j->body_len != 0 && body_len > j->body_len) {
        return refuse(reason, err, KURA_BBQR_BAD_LENGTH,
                      "the last part has %zu characters, more than the others' %zu", body_len,
                      j->body_len);
    }
    if (count == 1 && enc != KURA_BBQR_ZLIB && nbytes > j->max_len)
        return refuse(reason, err, KURA_BBQR_TOO_LARGE, "%zu bytes exceed %zu", nbytes,
                      j->max_len);
    /* The alphabet, by decoding into scratch memory now: a misread part is
     * refused when it is scanned, not when the series is complete. */
    scratch = malloc(nbytes > 0 ? nbytes : 1);
    if (scratch == NULL) return kura_fail(err, KURA_ENOMEM, "bbqr: out of memory");
    r = bbqr_decode(enc, scratch, body, body_len);
    free(scratch);
    if (r != KURA_BBQR_OK)
        return refuse(reason, err, r, "part %zu: a character outside the %s alphabet%s", index,
                      enc == KURA_BBQR_HEX ? "upper-case hex" : "base32",
                      enc == KURA_BBQR_HEX ? "" : " (or non-zero unused bits at its end)");

    if (j->count == 0) {
        j->payload = calloc(count, sizeof(char *));
        j->payload_len = calloc(count, sizeof(size_t));
        if (j->payload == NULL || j->payload_len == NULL) {
            free(j->payload);
            free(j->payload_len);
            j->payload = NULL;
            j->payload_len = NULL;
            return kura_fail(err, KURA_ENOMEM, "bbqr: out of memory");
        }
    }
    {
        char *copy = malloc(body_len + 1);
        if (copy == NULL) {
            if (j->count == 0) {
                free(j->payload);
                free(j->payload_len);
                j->payload = NULL;
                j->payload_len = NULL;
            }
            return kura_fail(err, KURA_ENOMEM, "bbqr: out of memory");
        }
        memcpy(copy, body, body_len);
        copy[body_len] = '\0';
        if (j->count == 0) {
            memcpy(j->header, text, sizeof(j->header));
            j->encoding = enc;
            j->file_type = type;
            j->count = count;
        }
        j->payload[index] = copy;
        j->payload_len[index] = body_len;
        j->received++;
        if (index + 1 < count) j->body_len = body_len;
    }
    return KURA_OK;
}

int kura_bbqr_joiner_progress(const kura_bbqr_joiner *joiner, size_t *received, size_t *total)
{
    if (received != NULL) *received = joiner != NULL ? joiner->received : 0;
    if (total != NULL) *total = joiner != NULL ? joiner->count : 0;
    return joiner != NULL && joiner->count != 0 && joiner->received == joiner->count;
}

void kura_bbqr_joiner_kind(const kura_bbqr_joiner *joiner, char *encoding, char *file_type)
{
    if (encoding != NULL) *encoding = joiner != NULL ? joiner->encoding : 0;
    if (file_type != NULL) *file_type = joiner != NULL ? joiner->file_type : 0;
}

int kura_bbqr_joiner_finish(const kura_bbqr_joiner *j, uint8_t **out, size_t *out_len,
                            char *file_type, kura_bbqr_reason *reason, kura_error *err)
{
    size_t total = 0, off = 0;
    uint8_t *buf;
    if (out != NULL) *out = NULL;
    if (out_len != NULL) *out_len = 0;
    if (file_type != NULL) *file_type = 0;
    if (reason != NULL) *reason = KURA_BBQR_OK;
    if (j == NULL || out == NULL || out_len == NULL)
        return kura_fail(err, KURA_EINVAL, "bbqr: NULL argument");
    if (j->count == 0 || j->received != j->count)
        return refuse(reason, err, KURA_BBQR_MISSING_PARTS, "%zu of %zu parts", j->received,
                      j->count);
    for (size_t i = 0; i < j->count; i++) {
        size_t n = 0;
        (void)bbqr_decoded_len(j->encoding, j->payload_len[i], &n); /* checked in add */
        if (!kura_size_add(total, n, &total))
            return refuse(reason, err, KURA_BBQR_TOO_LARGE, "the series overflows");
    }
    if (j->encoding != KURA_BBQR_ZLIB && total > j->max_len)
        return refuse(reason, err, KURA_BBQR_TOO_LARGE, "%zu bytes exceed %zu", total,
                      j->max_len);
    buf = malloc(total > 0 ? total : 1);
    if (buf == NULL) return kura_fail(err, KURA_ENOMEM, "bbqr: out of memory");
    for (size_t i = 0; i < j->count; i++) {
        size_t n = 0;
        (void)bbqr_decoded_len(j->encoding, j->payload_len[i], &n);
        (void)bbqr_decode(j->encoding, buf + off, j->payload[i], j->payload_len[i]);
        off += n;
    }
    if (j->encoding == KURA_BBQR_ZLIB) {
        uint8_t *plain = NULL;
        size_t plain_len = 0;
        bool nomem = false;
        kura_bbqr_reason r = bbqr_inflate(&plain, &plain_len, &nomem, buf, total, j->max_len);
        free(buf);
        if (nomem) return kura_fail(err, KURA_ENOMEM, "bbqr: out of memory");
        if (r == KURA_BBQR_TOO_LARGE)
            return refuse(reason, err, r, "decompresses to more than %zu bytes", j->max_len);
        if (r != KURA_BBQR_OK)
            return refuse(reason, err, r,
                          "not one complete raw deflate stream");
        if (plain_len == 0) {
            free(plain);
            return refuse(reason, err, KURA_BBQR_BAD_LENGTH, "decompresses to nothing");
        }
        buf = plain;
        total = plain_len;
    }
    *out = buf;
    *out_len = total;
    if (file_type != NULL) *file_type = j->file_type;
    return KURA_OK;
}

int kura_bbqr_join(uint8_t **out, size_t *out_len, char *file_type, kura_bbqr_reason *reason,
                   const char *const *parts, const size_t *part_lens, size_t count,
                   size_t max_len, kura_error *err)
{
    kura_bbqr_joiner *j = NULL;
    int rc;
    if (out != NULL) *out = NULL;
    if (out_len != NULL) *out_len = 0;
    if (file_type != NULL) *file_type = 0;
    if (reason != NULL) *reason = KURA_BBQR_OK;
    if (out == NULL || out_len == NULL || (count != 0 && (parts == NULL || part_lens == NULL)))
        return kura_fail(err, KURA_EINVAL, "bbqr: NULL argument");
    rc = kura_bbqr_joiner_new(&j, max_len);
    if (rc != KURA_OK) return kura_fail(err, rc, "bbqr: cannot make a joiner");
    for (size_t i = 0; i < count; i++) {
        rc = kura_bbqr_joiner_add(j, reason, parts[i], part_lens[i], err);
        if (rc != KURA_OK) goto done;
    }
    rc = kura_bbqr_joiner_finish(j, out, out_len, file_type, reason, err);
done:
    kura_bbqr_joiner_free(j);
    return rc;
}
