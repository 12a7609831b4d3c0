/* src/util/util.c — error reports, the bounds-checked reader and the growable
 * buffer that every other module builds on (see src/internal.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

int kura_fail(kura_error *err, int code, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return code;
}

void kura_error_clear(kura_error *err)
{
    if (err != NULL) {
        err->code = KURA_OK;
        err->message[0] = '\0';
    }
}

const char *kura_status_name(int code)
{
    switch (code) {
    case KURA_OK: return "KURA_OK";
    case KURA_EINVAL: return "KURA_EINVAL";
    case KURA_ENOMEM: return "KURA_ENOMEM";
    case KURA_EDATA: return "KURA_EDATA";
    case KURA_ERANGE: return "KURA_ERANGE";
    case KURA_ECRYPTO: return "KURA_ECRYPTO";
    case KURA_ENOTFOUND: return "KURA_ENOTFOUND";
    default: return "KURA_E?";
    }
}

const char *kura_network_name(kura_network network)
{
    switch (network) {
    case KURA_NETWORK_MAINNET: return "bitcoin";
    case KURA_NETWORK_TESTNET: return "testnet";
    case KURA_NETWORK_REGTEST: return "regtest";
    }
    return NULL;
}

/* ---- reader ---- */

void kura_reader_init(kura_reader *r, const uint8_t *data, size_t len)
{
    r->p = data;
    r->left = data != NULL ? len : 0;
    r->failed = false;
}

bool kura_read_span(kura_reader *r, const uint8_t **out, size_t n)
{
    if (r->failed || n > r->left) {
        r->failed = true;
        *out = NULL;
        return false;
    }
    *out = r->p;
    r->p += n;
    r->left -= n;
    return true;
}

bool kura_read_bytes(kura_reader *r, uint8_t *out, size_t n)
{
    const uint8_t *p;
    if (!kura_read_span(r, &p, n)) {
        if (n > 0) memset(out, 0, n);
        return false;
    }
    if (n > 0) memcpy(out, p, n);
    return true;
}

bool kura_read_u8(kura_reader *r, uint8_t *out)
{
    return kura_read_bytes(r, out, 1);
}

bool kura_read_u16le(kura_reader *r, uint16_t *out)
{
    uint8_t b[2];
    bool ok = kura_read_bytes(r, b, 2);
    *out = (uint16_t)(b[0] | (b[1] << 8));
    return ok;
}

bool kura_read_u32le(kura_reader *r, uint32_t *out)
{
    uint8_t b[4];
    bool ok = kura_read_bytes(r, b, 4);
    *out = kura_load_u32le(b);
    return ok;
}

bool kura_read_u64le(kura_reader *r, uint64_t *out)
{
    uint8_t b[8];
    bool ok = kura_read_bytes(r, b, 8);
    *out = kura_load_u64le(b);
    return ok;
}

bool kura_read_compact_size(kura_reader *r, uint64_t *out)
{
    uint8_t first;
    *out = 0;
    if (!kura_read_u8(r, &first)) return false;
    if (first < 0xfd) {
        *out = first;
        return true;
    }
    if (first == 0xfd) {
        uint16_t v;
        if (!kura_read_u16le(r, &v)) return false;
        if (v < 0xfd) goto noncanonical;
        *out = v;
    } else if (first == 0xfe) {
        uint32_t v;
        if (!kura_read_u32le(r, &v)) return false;
        if (v <= 0xffff) goto noncanonical;
        *out = v;
    } else {
        uint64_t v;
        if (!kura_read_u64le(r, &v)) return false;
        if (v <= 0xffffffffu) goto noncanonical;
        *out = v;
    }
    return true;
noncanonical:
    r->failed = true;
    *out = 0;
    return false;
}

/* ---- buffer ---- */

void kura_buf_init(kura_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->failed = false;
}

void kura_buf_free(kura_buf *b)
{
    if (b->data != NULL) {
        sodium_memzero(b->data, b->cap);
        free(b->data);
    }
    kura_buf_init(b);
}

bool kura_buf_reserve(kura_buf *b, size_t extra)
{
    size_t need, cap;
    uint8_t *p;
    if (b->failed) return false;
    if (!kura_size_add(b->len, extra, &need)) goto fail;
    if (need <= b->cap) return true;
    cap = b->cap < 64 ? 64 : b->cap;
    while (cap < need) {
        if (!kura_size_mul(cap, 2, &cap)) goto fail;
    }
    /* Grow by copying rather than realloc, so the old bytes can be wiped. */
    p = malloc(cap);
    if (p == NULL) goto fail;
    if (b->len > 0) memcpy(p, b->data, b->len);
    if (b->data != NULL) {
        sodium_memzero(b->data, b->cap);
        free(b->data);
    }
    b->data = p;
    b->cap = cap;
    return true;
fail:
    b->failed = true;
    return false;
}

bool kura_buf_put(kura_buf *b, const void *data, size_t len)
{
    if (len == 0) return !b->failed;
    if (!kura_buf_reserve(b, len)) return false;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return true;
}

bool kura_buf_put_u8(kura_buf *b, uint8_t v)
{
    return kura_buf_put(b, &v, 1);
}

bool kura_buf_put_u16le(kura_buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    return kura_buf_put(b, x, 2);
}

bool kura_buf_put_u32le(kura_buf *b, uint32_t v)
{
    uint8_t x[4];
    kura_store_u32le(x, v);
    return kura_buf_put(b, x, 4);
}

bool kura_buf_put_u64le(kura_buf *b, uint64_t v)
{
    uint8_t x[8];
    kura_store_u64le(x, v);
    return kura_buf_put(b, x, 8);
}

size_t kura_compact_size_len(uint64_t v)
{
    if (v < 0xfd) return 1;
    if (v <= 0xffff) return 3;
    if (v <= 0xffffffffu) return 5;
    return 9;
}

size_t kura_compact_size_encode(uint8_t out[9], uint64_t v)
{
    if (v < 0xfd) {
        out[0] = (uint8_t)v;
        return 1;
    }
    if (v <= 0xffff) {
        out[0] = 0xfd;
        out[1] = (uint8_t)v;
        out[2] = (uint8_t)(v >> 8);
        return 3;
    }
    if (v <= 0xffffffffu) {
        out[0] = 0xfe;
        kura_store_u32le(out + 1, (uint32_t)v);
        return 5;
    }
    out[0] = 0xff;
    kura_store_u64le(out + 1, v);
    return 9;
}

bool kura_buf_put_compact_size(kura_buf *b, uint64_t v)
{
    uint8_t enc[9];
    return kura_buf_put(b, enc, kura_compact_size_encode(enc, v));
}

uint8_t *kura_buf_take(kura_buf *b, size_t *len_out)
{
    uint8_t *p = NULL;
    *len_out = 0;
    if (b->failed) {
        kura_buf_free(b);
        return NULL;
    }
    if (b->len == 0) {
        kura_buf_free(b);
        return malloc(1); /* a valid, empty allocation */
    }
    p = b->data;
    *len_out = b->len;
    kura_buf_init(b);
    return p;
}

/* ---- byte order and sizes ---- */

void kura_store_u32le(uint8_t out[4], uint32_t v)
{
    out[0] = (uint8_t)v;
    out[1] = (uint8_t)(v >> 8);
    out[2] = (uint8_t)(v >> 16);
    out[3] = (uint8_t)(v >> 24);
}

void kura_store_u64le(uint8_t out[8], uint64_t v)
{
    for (int i = 0; i < 8; i++) out[i] = (uint8_t)(v >> (8 * i));
}

void kura_store_u32be(uint8_t out[4], uint32_t v)
{
    out[0] = (uint8_t)(v >> 24);
    out[1] = (uint8_t)(v >> 16);
    out[2] = (uint8_t)(v >> 8);
    out[3] = (uint8_t)v;
}

uint32_t kura_load_u32le(const uint8_t in[4])
{
    return (uint32_t)in[0] | ((uint32_t)in[1] << 8) | ((uint32_t)in[2] << 16) |
           ((uint32_t)in[3] << 24);
}

uint32_t kura_load_u32be(const uint8_t in[4])
{
    return ((uint32_t)in[0] << 24) | ((uint32_t)in[1] << 16) | ((uint32_t)in[2] << 8) |
           (uint32_t)in[3];
}

uint64_t kura_load_u64le(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | in[i];
    return v;
}

bool kura_size_add(size_t a, size_t b, size_t *out)
{
    if (a > SIZE_MAX - b) return false;
    *out = a + b;
    return true;
}

bool kura_size_mul(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) return false;
    *out = a * b;
    return true;
}

uint8_t *kura_memdup(const void *data, size_t len)
{
    uint8_t *p;
    if (data == NULL || len == 0) return NULL;
    p = malloc(len);
    if (p != NULL) memcpy(p, data, len);
    return p;
}
