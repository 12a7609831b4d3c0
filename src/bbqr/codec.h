/*
 * src/bbqr/codec.h — what split.c and join.c share: the payload alphabets
 * and the raw deflate wrappers. Not API.
 */
#ifndef KURA_BBQR_CODEC_H
#define KURA_BBQR_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kura/bbqr.h"

/* Characters of payload for n bytes: 2n for hex, ceil(8n/5) for base32.
 * False on overflow. */
bool bbqr_encoded_len(char encoding, size_t n, size_t *chars);

/* Writes the payload of data[0..n) (upper-case hex or unpadded RFC 4648
 * base32) into out, which holds bbqr_encoded_len chars (no NUL). */
void bbqr_encode(char encoding, char *out, const uint8_t *data, size_t n);

/* Bytes that `chars` payload characters decode to, or false when they do
 * not decode to whole bytes (odd hex; base32 of 1, 3 or 6 characters mod 8). */
bool bbqr_decoded_len(char encoding, size_t chars, size_t *n);

/* Decodes text[0..chars) into out (bbqr_decoded_len bytes). Returns
 * KURA_BBQR_OK or KURA_BBQR_BAD_CHARACTER (a character outside the
 * alphabet, or non-zero unused bits at the end of base32). */
kura_bbqr_reason bbqr_decode(char encoding, uint8_t *out, const char *text, size_t chars);

/* Raw deflate (no zlib or gzip header), window 2^10, level 9.
 * *out (free()) and *out_len on KURA_OK; KURA_ENOMEM, KURA_EINVAL. */
int bbqr_deflate(uint8_t **out, size_t *out_len, const uint8_t *in, size_t in_len);

/* Inflates one complete raw deflate stream with a 2^10 window from
 * in[0..in_len), producing at most max_out bytes. Returns KURA_BBQR_OK with
 * *out (free()) and *out_len; KURA_BBQR_TOO_LARGE beyond max_out;
 * KURA_BBQR_BAD_DEFLATE for a broken or truncated stream or bytes after it.
 * *nomem is set when an allocation failed (the reason is then BAD_DEFLATE). */
kura_bbqr_reason bbqr_inflate(uint8_t **out, size_t *out_len, bool *nomem, const uint8_t *in,
                              size_t in_len, size_t max_out);

#endif /* KURA_BBQR_CODEC_H */
