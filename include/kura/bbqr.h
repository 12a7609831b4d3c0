/*
 * kura/bbqr.h — BBQr ("Better Bitcoin QR", Coinkite's specification,
 * https://github.com/coinkite/BBQr/blob/master/BBQr.md): a file split into a
 * series of QR codes that may be scanned in any order. docs/bbqr.md says what
 * kura produces and accepts.
 *
 * Every part is text of the QR alphanumeric set, an 8-character header and a
 * payload:
 *
 *     B$ Z P 05 00 <payload>
 *     |  | |  |  +- this part's index, 2 base-36 digits (0-9A-Z)
 *     |  | |  +---- the number of parts, 2 base-36 digits (1..1295)
 *     |  | +------- file type: P PSBT, T transaction, J JSON, C CBOR,
 *     |  |          U UTF-8 text, B binary, X executable
 *     |  +--------- encoding: H hex (upper case), 2 base32 (RFC 4648, no
 *     |             padding), Z raw deflate (zlib, 1 KiB window) then base32
 *     +------------ fixed
 *
 * Every part but the last has the same payload length, and every payload
 * decodes to whole bytes on its own. The library does no I/O and holds no
 * global state; the joiner is the only thing that keeps state, and it is the
 * caller's.
 */
#ifndef KURA_BBQR_H
#define KURA_BBQR_H

#include <stddef.h>
#include <stdint.h>

#include "kura/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "B$", encoding, file type, two base-36 digits each of count and index. */
#define KURA_BBQR_HEADER_LEN 8
/* "ZZ" in base 36: the most parts a series can have. */
#define KURA_BBQR_MAX_PARTS 1295
/* The most characters one part may have: a version 40 QR code at error
 * correction level L in alphanumeric mode holds 4,296. */
#define KURA_BBQR_PART_MAX 4296
/* The default cap on the decoded (and decompressed) file, and the largest a
 * caller may ask for: kura's largest PSBT (KURA_PSBT_MAX_SIZE). */
#define KURA_BBQR_DATA_MAX (16u * 1024u * 1024u)

/* Encodings (the third header character). */
#define KURA_BBQR_HEX 'H'
#define KURA_BBQR_BASE32 '2'
#define KURA_BBQR_ZLIB 'Z'

/* File types (the fourth header character); every other letter is reserved
 * by the specification and refused. */
#define KURA_BBQR_PSBT 'P'
#define KURA_BBQR_TRANSACTION 'T'
#define KURA_BBQR_JSON 'J'
#define KURA_BBQR_CBOR 'C'
#define KURA_BBQR_TEXT 'U'
#define KURA_BBQR_BINARY 'B'
#define KURA_BBQR_EXECUTABLE 'X'

/* Why a part or a series was refused. The function returns KURA_EDATA (or
 * KURA_ERANGE for KURA_BBQR_TOO_LARGE); the reason tells the cases apart and
 * has a stable name (kura_bbqr_reason_name). Values are stable; new reasons
 * are added at the end. */
typedef enum kura_bbqr_reason {
    KURA_BBQR_OK = 0,
    KURA_BBQR_BAD_HEADER = 1,       /* shorter than the header, or not "B$" */
    KURA_BBQR_BAD_ENCODING = 2,     /* encoding other than H, 2, Z */
    KURA_BBQR_BAD_TYPE = 3,         /* file type not in the specification's list */
    KURA_BBQR_BAD_INDEX = 4,        /* count or index not two base-36 digits, count 0,
                                     * index >= count */
    KURA_BBQR_MIXED_HEADER = 5,     /* encoding, type or count differ from earlier parts */
    KURA_BBQR_DUPLICATE_DIFFERS = 6, /* a part seen before, now with another payload */
    KURA_BBQR_BAD_CHARACTER = 7,    /* a payload character outside its encoding's alphabet
                                     * (lower case included), or base32 whose unused
                                     * final bits are not zero */
    KURA_BBQR_BAD_LENGTH = 8,       /* an empty payload, one that does not decode to whole
                                     * bytes, a part longer than KURA_BBQR_PART_MAX, parts
                                     * before the last of unequal length, or a last part
                                     * longer than the others */
    KURA_BBQR_MISSING_PARTS = 9,    /* finished before every part arrived */
    KURA_BBQR_TOO_LARGE = 10,       /* the file (after decompression) exceeds the cap */
    KURA_BBQR_BAD_DEFLATE = 11      /* Z data that is not one complete raw deflate stream,
                                     * or has bytes after it */
} kura_bbqr_reason;

/* Returns the stable name of a reason ("KURA_BBQR_MIXED_HEADER"), or
 * "KURA_BBQR_?" for a value outside the enum. */
const char *kura_bbqr_reason_name(kura_bbqr_reason reason);

/* ---- splitting ---- */

/* How to split. Zero fields take their defaults, so `{0}` with a file type
 * is a valid choice. */
typedef struct kura_bbqr_split_options {
    char encoding;        /* 'H', '2' or 'Z' (0: 'Z'). 'Z' falls back to '2' when
                           * compression does not make the data smaller. */
    char file_type;       /* one of the KURA_BBQR_ types above; required */
    unsigned min_version; /* smallest QR version to use, 1..40 (0: 5, or 1 when
                           * max_version is below 5) */
    unsigned max_version; /* largest QR version to use, 1..40 (0: 40) */
    size_t min_parts;     /* 1..KURA_BBQR_MAX_PARTS (0: 1) */
    size_t max_parts;     /* 1..KURA_BBQR_MAX_PARTS (0: KURA_BBQR_MAX_PARTS) */
    size_t max_part_len;  /* when not 0: the longest part, header included
                           * (KURA_BBQR_HEADER_LEN + 8 .. KURA_BBQR_PART_MAX);
                           * the versions are then ignored, but min/max_parts hold */
} kura_bbqr_split_options;

/* A split series. The library allocates it; kura_bbqr_parts_free frees it. */
typedef struct kura_bbqr_parts {
    size_t count;     /* number of parts, 1..KURA_BBQR_MAX_PARTS */
    char **parts;     /* parts[i]: the NUL-terminated text of part i */
    size_t part_len;  /* the length of every part but the last (the last is at most this) */
    unsigned version; /* the smallest QR version (level L, alphanumeric) that holds every
                       * part: show the whole series at this version */
    char encoding;    /* the encoding used ('Z' may have become '2') */
    char file_type;   /* as asked */
} kura_bbqr_parts;

/* Splits data[0..data_len) into a BBQr series.
 *
 * Without max_part_len, the series uses, among QR versions min_version ..
 * max_version and part counts min_parts .. max_parts, the fewest parts, then
 * the lowest version (the specification's choice); the payload is then shared
 * out evenly, so every part but the last has the same length and the last is
 * not a runt when that can be avoided. With max_part_len, parts are at most
 * that long instead. Compression ('Z') is raw deflate at level 9 with a
 * 1 KiB window (zlib wbits -10), as the specification fixes.
 *
 *   out: receives the series (free with kura_bbqr_parts_free); NULL on failure.
 *   data, data_len: the file, 1 .. KURA_BBQR_DATA_MAX bytes.
 *   options: the choices above.
 * Returns KURA_OK; KURA_EINVAL (NULL argument, empty data, an unknown
 * encoding or file type, options out of range or contradicting each other);
 * KURA_ERANGE (the data does not fit in the allowed parts and versions);
 * KURA_ENOMEM. */
int kura_bbqr_split(kura_bbqr_parts **out, const uint8_t *data, size_t data_len,
                    const kura_bbqr_split_options *options);

/* Frees a series; NULL does nothing. */
void kura_bbqr_parts_free(kura_bbqr_parts *parts);

/* The QR version (1..40) whose alphanumeric capacity at error correction
 * level L is the smallest that holds `chars` characters, or 0 when even
 * version 40 does not. */
unsigned kura_bbqr_qr_version_for(size_t chars);

/* The alphanumeric capacity of QR version `version` (1..40) at level L, in
 * characters; 0 for a version outside 1..40. */
size_t kura_bbqr_qr_capacity(unsigned version);

/* ---- joining ---- */

/* Collects the parts of one series as they arrive, in any order, with
 * repeats. The caller owns it (kura_bbqr_joiner_new / _free). */
typedef struct kura_bbqr_joiner kura_bbqr_joiner;

/* A new, empty joiner.
 *   out: receives it; NULL on failure.
 *   max_len: the cap on the decoded file, 1..KURA_BBQR_DATA_MAX (0: the
 *     default KURA_BBQR_DATA_MAX). A series that would decode (or
 *     decompress) to more is refused with KURA_BBQR_TOO_LARGE: this is what
 *     stops a decompression bomb.
 * Returns KURA_OK, KURA_EINVAL (max_len over KURA_BBQR_DATA_MAX, NULL out),
 * KURA_ENOMEM. */
int kura_bbqr_joiner_new(kura_bbqr_joiner **out, size_t max_len);

/* Frees a joiner; NULL does nothing. */
void kura_bbqr_joiner_free(kura_bbqr_joiner *joiner);

/* Adds one part: text[0..len), exactly the QR's text (no line end).
 *   reason: receives KURA_BBQR_OK or why the part was refused (may be NULL).
 * A part equal to one already held is accepted and changes nothing. The
 * first part fixes the series (encoding, type, count); every later part must
 * agree. A refused part leaves the joiner as it was, so a caller may go on
 * adding the parts of the same series.
 * Returns KURA_OK; KURA_EDATA (reason says why; message in err); KURA_ERANGE
 * (KURA_BBQR_TOO_LARGE: the parts' payload alone already exceeds the cap);
 * KURA_EINVAL (NULL joiner or text); KURA_ENOMEM. */
int kura_bbqr_joiner_add(kura_bbqr_joiner *joiner, kura_bbqr_reason *reason, const char *text,
                         size_t len, kura_error *err);

/* Progress: *received distinct parts of *total (0 of 0 before the first
 * part). Either pointer may be NULL. Returns 1 when every part is held, else 0. */
int kura_bbqr_joiner_progress(const kura_bbqr_joiner *joiner, size_t *received, size_t *total);

/* The series' encoding and file type, or 0 for each before the first part.
 * Either pointer may be NULL. */
void kura_bbqr_joiner_kind(const kura_bbqr_joiner *joiner, char *encoding, char *file_type);

/* Decodes the complete series.
 *   out: receives the file (caller frees with free()); NULL on failure.
 *   out_len: receives its length; 0 on failure.
 *   file_type: receives the series' file type (may be NULL); 0 on failure.
 *   reason: as for kura_bbqr_joiner_add (may be NULL).
 * The joiner is not changed. Returns KURA_OK; KURA_EDATA (KURA_BBQR_MISSING_PARTS,
 * KURA_BBQR_BAD_DEFLATE); KURA_ERANGE (KURA_BBQR_TOO_LARGE); KURA_EINVAL;
 * KURA_ENOMEM. */
int kura_bbqr_joiner_finish(const kura_bbqr_joiner *joiner, uint8_t **out, size_t *out_len,
                            char *file_type, kura_bbqr_reason *reason, kura_error *err);

/* Joins a whole series at once: parts[i][0..part_lens[i]) for i < count, in
 * any order, repeats allowed; max_len as for kura_bbqr_joiner_new. Outputs
 * and returns as kura_bbqr_joiner_add, then kura_bbqr_joiner_finish (no
 * parts at all is KURA_BBQR_MISSING_PARTS). */
int kura_bbqr_join(uint8_t **out, size_t *out_len, char *file_type, kura_bbqr_reason *reason,
                   const char *const *parts, const size_t *part_lens, size_t count,
                   size_t max_len, kura_error *err);

#ifdef __cplusplus
}
#endif

#endif /* KURA_BBQR_H */
