/*
 * src/internal.h — helpers shared by libkura's modules; not installed, not API.
 *
 *  - kura_fail: fills a kura_error and returns its code, so a parser reads
 *      return kura_fail(err, KURA_EDATA, "bech32: mixed case");
 *  - kura_reader: a bounds-checked cursor over untrusted bytes. Every read
 *    checks the remaining length first; once a read fails the reader stays
 *    failed, so a parser may check `r.failed` once after a run of reads.
 *  - kura_buf: a growable byte buffer with overflow-checked growth, for writers.
 */
#ifndef KURA_INTERNAL_H
#define KURA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kura/common.h"

#if defined(__GNUC__)
#define KURA_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define KURA_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define KURA_PRINTF(fmt, args)
#define KURA_WARN_UNUSED
#endif

/* Sets err (if not NULL) to `code` and the formatted message; returns `code`. */
int kura_fail(kura_error *err, int code, const char *fmt, ...) KURA_PRINTF(3, 4);

/* Clears err (if not NULL): code KURA_OK, empty message. */
void kura_error_clear(kura_error *err);

/* ---- reading untrusted bytes ---- */

typedef struct kura_reader {
    const uint8_t *p; /* next unread byte */
    size_t left;      /* bytes remaining */
    bool failed;      /* a read ran past the end or met a non-canonical value */
} kura_reader;

void kura_reader_init(kura_reader *r, const uint8_t *data, size_t len);
/* Each returns false (and marks the reader failed) when the bytes run out. */
bool kura_read_u8(kura_reader *r, uint8_t *out);
bool kura_read_u16le(kura_reader *r, uint16_t *out);
bool kura_read_u32le(kura_reader *r, uint32_t *out);
bool kura_read_u64le(kura_reader *r, uint64_t *out);
bool kura_read_bytes(kura_reader *r, uint8_t *out, size_t n);
/* Points *out at the next n bytes without copying, and skips them. */
bool kura_read_span(kura_reader *r, const uint8_t **out, size_t n);
/* Reads a Bitcoin CompactSize. Fails on a non-minimal encoding (Bitcoin Core
 * rejects those in transactions and PSBT readers must too). */
bool kura_read_compact_size(kura_reader *r, uint64_t *out);

/* ---- writing ---- */

typedef struct kura_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    bool failed; /* an allocation failed or a size overflowed; later writes are no-ops */
} kura_buf;

void kura_buf_init(kura_buf *b);
/* Frees the storage after wiping it (buffers may hold signatures or keys). */
void kura_buf_free(kura_buf *b);
/* Ensures room for `extra` more bytes. */
bool kura_buf_reserve(kura_buf *b, size_t extra);
bool kura_buf_put(kura_buf *b, const void *data, size_t len);
bool kura_buf_put_u8(kura_buf *b, uint8_t v);
bool kura_buf_put_u16le(kura_buf *b, uint16_t v);
bool kura_buf_put_u32le(kura_buf *b, uint32_t v);
bool kura_buf_put_u64le(kura_buf *b, uint64_t v);
bool kura_buf_put_compact_size(kura_buf *b, uint64_t v);
/* Hands the bytes to the caller (who frees them with free()) and resets b. */
uint8_t *kura_buf_take(kura_buf *b, size_t *len_out);

/* Number of bytes kura_buf_put_compact_size writes for v. */
size_t kura_compact_size_len(uint64_t v);

/* Little-endian stores and loads into fixed arrays. */
void kura_store_u32le(uint8_t out[4], uint32_t v);
void kura_store_u64le(uint8_t out[8], uint64_t v);
void kura_store_u32be(uint8_t out[4], uint32_t v);
uint32_t kura_load_u32le(const uint8_t in[4]);
uint32_t kura_load_u32be(const uint8_t in[4]);
uint64_t kura_load_u64le(const uint8_t in[8]);

/* Overflow-checked arithmetic for sizes: return false on overflow. */
bool kura_size_add(size_t a, size_t b, size_t *out);
bool kura_size_mul(size_t a, size_t b, size_t *out);

/* Copies a byte string into newly allocated memory (NULL, 0 gives NULL). */
uint8_t *kura_memdup(const void *data, size_t len);

/* ---- durable files (the keystore and the journal) ---- */

/* Writes all of data to fd, retrying short writes and EINTR. 0 or -1 (errno). */
int kura_file_write_all(int fd, const void *data, size_t len);
/* fsyncs the directory that holds path, so a new name survives a crash. 0 or -1 (errno). */
int kura_file_sync_dir(const char *path);
/* Moves tmp to path without ever replacing a file there (link, then unlink;
 * errno EEXIST when path exists). 0 or -1 (errno). */
int kura_file_place_new(const char *tmp, const char *path);

/* Encodes v as a Bitcoin CompactSize into out; returns the length (1, 3, 5 or 9). */
size_t kura_compact_size_encode(uint8_t out[9], uint64_t v);

#endif /* KURA_INTERNAL_H */
