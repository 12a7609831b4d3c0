/*
 * src/descriptor/cache.c — a derivation cache: the child public keys of a
 * descriptor's BIP32 key expressions for a range of (branch, index), so that
 * a signer re-deriving its own outputs skips the EC multiplications. Scripts
 * are still built by derive.c from those keys, so a cached derive fills a
 * kura_descriptor_output exactly as kura_descriptor_derive does.
 *
 * tr() is cached too: its keys are x-only, stored as 0x02 || x (only x is
 * used), and each entry also holds the output key, parity byte 0x02/0x03
 * then x, since the BIP341 tweak is an EC multiplication of its own. A
 * cached tr() derive then costs hashes only, like the segwit v0 kinds.
 */
#include <stdlib.h>
#include <string.h>

#include "descriptor_internal.h"
#include "kura/hash.h"

#define CACHE_MAGIC "KURADCX\n"
#define CACHE_HEADER (8 + 4 + 32 + 4 + 4 + 4)
#define CACHE_DIGEST 32
#define KEY_BYTES 33

struct kura_descriptor_cache {
    const kura_descriptor *desc; /* the descriptor it was built or parsed for */
    uint8_t desc_hash[32];       /* SHA-256 of its canonical public text */
    size_t n_branches, n_keys;
    uint32_t count;              /* indexes per branch */
    uint8_t *rows;               /* [branch][index][key] 33 bytes each */
};

/* SHA-256 of desc's canonical public text, all branches, with checksum. */
static int desc_hash(const kura_ctx *ctx, uint8_t out[32], const kura_descriptor *desc,
                     kura_error *err)
{
    char *text = NULL;
    int rc = kura_descriptor_to_string(ctx, &text, desc, KURA_DESCRIPTOR_ALL_BRANCHES,
                                       KURA_DESCRIPTOR_PUBLIC, NULL);
    if (rc != KURA_OK) {
        if (rc == KURA_ENOMEM) return kura_fail(err, rc, "descriptor cache: out of memory");
        return kura_fail(err, KURA_EDATA,
                         "descriptor cache: the descriptor has no public form to bind to");
    }
    kura_sha256(out, (const uint8_t *)text, strlen(text));
    kura_descriptor_string_free(text);
    return KURA_OK;
}

/* Indexes per branch a cache of desc keeps when asked for `want`. */
static uint32_t effective_count(const kura_descriptor *desc, uint32_t want)
{
    if (!desc->ranged && want > 1) return 1;
    return want;
}

static int is_tr(const kura_descriptor *desc)
{
    return desc->root->kind == KD_TR;
}

/* A row: one key slot per key expression, then for tr() the output key. */
static size_t row_bytes(const kura_descriptor_cache *c)
{
    return c->n_keys * KEY_BYTES + (is_tr(c->desc) ? KEY_BYTES : 0);
}

/* The slot of a derived key: the compressed key as written, or for an
 * x-only key (inside tr()) 0x02 || x. */
static void key_slot(uint8_t slot[KEY_BYTES], const kura_descriptor_key_info *ki)
{
    if (ki->pubkey_len == 32) {
        slot[0] = 0x02;
        memcpy(slot + 1, ki->pubkey, 32);
    } else {
        memcpy(slot, ki->pubkey, KEY_BYTES);
    }
}

/* The output-key slot of a derived tr() output: 0x02 | parity, then x. */
static void output_slot(uint8_t slot[KEY_BYTES], const kura_descriptor_output *o)
{
    slot[0] = (uint8_t)(0x02 | (o->output_key_parity & 1));
    memcpy(slot + 1, o->output_key, 32);
}

/* Allocates c->rows for c's shape; 0 on overflow or no memory. */
static int alloc_rows(kura_descriptor_cache *c, size_t *total)
{
    size_t entries, bytes;
    if (!kura_size_mul(c->n_branches, (size_t)c->count, &entries) ||
        !kura_size_mul(entries, row_bytes(c), &bytes)) {
        return 0;
    }
    *total = bytes;
    c->rows = calloc(bytes > 0 ? bytes : 1, 1);
    return c->rows != NULL;
}

static size_t row_offset(const kura_descriptor_cache *c, size_t branch, uint32_t index)
{
    return (branch * (size_t)c->count + index) * row_bytes(c);
}

static const uint8_t *row_at(const kura_descriptor_cache *c, size_t branch, uint32_t index)
{
    return c->rows + row_offset(c, branch, index);
}

void kura_descriptor_cache_free(kura_descriptor_cache *cache)
{
    if (cache == NULL) return;
    free(cache->rows);
    free(cache);
}

uint32_t kura_descriptor_cache_count(const kura_descriptor_cache *cache)
{
    return cache == NULL ? 0 : cache->count;
}

static kura_descriptor_cache *cache_new(const kura_descriptor *desc, uint32_t count)
{
    kura_descriptor_cache *c = calloc(1, sizeof(*c));
    if (c == NULL) return NULL;
    c->desc = desc;
    c->n_branches = desc->n_branches;
    c->n_keys = desc->n_keys;
    c->count = count;
    return c;
}

int kura_descriptor_cache_build(const kura_ctx *ctx, kura_descriptor_cache **out,
                                const kura_descriptor *desc, uint32_t count_per_branch,
                                kura_error *err)
{
    kura_descriptor_cache *c;
    kura_descriptor_output *o;
    size_t total = 0;
    int rc;

    if (out == NULL) return kura_fail(err, KURA_EINVAL, "descriptor cache: NULL argument");
    *out = NULL;
    if (ctx == NULL || desc == NULL) {
        return kura_fail(err, KURA_EINVAL, "descriptor cache: NULL argument");
    }
    if (count_per_branch > KURA_DESCRIPTOR_CACHE_COUNT_MAX) {
        return kura_fail(err, KURA_ERANGE, "descriptor cache: over %u indexes per branch",
                         (unsigned)KURA_DESCRIPTOR_CACHE_COUNT_MAX);
    }
    c = cache_new(desc, effective_count(desc, count_per_branch));
    if (c == NULL) return kura_fail(err, KURA_ENOMEM, "descriptor cache: out of memory");
    rc = desc_hash(ctx, c->desc_hash, desc, err);
    if (rc != KURA_OK) {
        kura_descriptor_cache_free(c);
        return rc;
    }
    o = kura_descriptor_output_new();
    if (o == NULL || !alloc_rows(c, &total)) {
        kura_descriptor_output_free(o);
        kura_descriptor_cache_free(c);
        return kura_fail(err, KURA_ENOMEM, "descriptor cache: out of memory");
    }
    for (size_t b = 0; b < c->n_branches; b++) {
        for (uint32_t i = 0; i < c->count; i++) {
            uint8_t *row = c->rows + row_offset(c, b, i);
            rc = kura_descriptor_derive(ctx, o, desc, b, i, err);
            if (rc != KURA_OK) {
                kura_descriptor_output_free(o);
                kura_descriptor_cache_free(c);
                return rc;
            }
            /* A BIP32 child is the 33-byte compressed key outside tr(),
             * the x-only key inside. */
            for (size_t k = 0; k < c->n_keys && k < o->n_keys; k++) {
                if (desc->keys[k].kind == KD_KEY_BIP32) key_slot(row + k * KEY_BYTES, &o->keys[k]);
            }
            if (is_tr(desc)) output_slot(row + c->n_keys * KEY_BYTES, o);
        }
    }
    kura_descriptor_output_free(o);
    *out = c;
    return KURA_OK;
}

int kura_descriptor_cache_serialize(uint8_t **out, size_t *out_len,
                                    const kura_descriptor_cache *cache)
{
    size_t rows, total;
    uint8_t *p;

    if (out != NULL) *out = NULL;
    if (out_len != NULL) *out_len = 0;
    if (out == NULL || out_len == NULL || cache == NULL) return KURA_EINVAL;
    rows = cache->n_branches * (size_t)cache->count * row_bytes(cache); /* fits: it is allocated */
    if (!kura_size_add(rows, CACHE_HEADER + CACHE_DIGEST, &total)) return KURA_ENOMEM;
    p = malloc(total);
    if (p == NULL) return KURA_ENOMEM;
    memcpy(p, CACHE_MAGIC, 8);
    kura_store_u32be(p + 8, KURA_DESCRIPTOR_CACHE_VERSION);
    memcpy(p + 12, cache->desc_hash, 32);
    kura_store_u32be(p + 44, (uint32_t)cache->n_branches);
    kura_store_u32be(p + 48, (uint32_t)cache->n_keys);
    kura_store_u32be(p + 52, cache->count);
    if (rows > 0) memcpy(p + CACHE_HEADER, cache->rows, rows);
    kura_sha256(p + CACHE_HEADER + rows, p, CACHE_HEADER + rows);
    *out = p;
    *out_len = total;
    return KURA_OK;
}

static uint32_t load_u32be(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Spot check: the first and last cached index of every branch must be what
 * deriving gives. Catches a cache of another descriptor whatever its header
 * says, for a few EC multiplications per branch. */
static int spot_check(const kura_ctx *ctx, const kura_descriptor_cache *c, kura_error *err)
{
    kura_descriptor_output *o;
    int rc = KURA_OK;
    if (c->count == 0) return KURA_OK;
    o = kura_descriptor_output_new();
    if (o == NULL) return kura_fail(err, KURA_ENOMEM, "descriptor cache: out of memory");
    for (size_t b = 0; b < c->n_branches && rc == KURA_OK; b++) {
        uint32_t idx[2] = {0, c->count - 1};
        for (size_t j = 0; j < 2 && rc == KURA_OK; j++) {
            const uint8_t *row = row_at(c, b, idx[j]);
            rc = kura_descriptor_derive(ctx, o, c->desc, b, idx[j], err);
            if (rc != KURA_OK) break;
            for (size_t k = 0; k <= c->n_keys && k <= o->n_keys; k++) {
                uint8_t want[KEY_BYTES];
                if (k == c->n_keys || k == o->n_keys) {
                    if (!is_tr(c->desc)) break;
                    output_slot(want, o);
                    k = c->n_keys;
                } else if (c->desc->keys[k].kind == KD_KEY_BIP32) {
                    key_slot(want, &o->keys[k]);
                } else {
                    continue;
                }
                if (memcmp(row + k * KEY_BYTES, want, KEY_BYTES) != 0) {
                    rc = kura_fail(err, KURA_EDATA,
                                   "descriptor cache: branch %zu index %u does not match the "
                                   "descriptor", b, (unsigned)idx[j]);
                    break;
                }
            }
        }
    }
    kura_descriptor_output_free(o);
    return rc;
}

int kura_descriptor_cache_parse(const kura_ctx *ctx, kura_descriptor_cache **out,
                                const kura_descriptor *desc, const uint8_t *bytes, size_t len,
                                kura_error *err)
{
    kura_descriptor_cache *c;
    uint8_t want_hash[32], digest[32];
    uint32_t version, branches, keys, count;
    size_t total = 0, want_len;
    int rc;

    if (out == NULL) return kura_fail(err, KURA_EINVAL, "descriptor cache: NULL argument");
    *out = NULL;
    if (ctx == NULL || desc == NULL || (bytes == NULL && len > 0)) {
        return kura_fail(err, KURA_EINVAL, "descriptor cache: NULL argument");
    }
    if (len < CACHE_HEADER + CACHE_DIGEST || memcmp(bytes, CACHE_MAGIC, 8) != 0) {
        return kura_fail(err, KURA_EDATA, "descriptor cache: not a kura descriptor cache");
    }
    version = load_u32be(bytes + 8);
    if (version != KURA_DESCRIPTOR_CACHE_VERSION) {
        return kura_fail(err, KURA_EDATA, "descriptor cache: unknown version %u",
                         (unsigned)version);
    }
    rc = desc_hash(ctx, want_hash, desc, err);
    if (rc != KURA_OK) return rc;
    if (memcmp(want_hash, bytes + 12, 32) != 0) {
        return kura_fail(err, KURA_EDATA, "descriptor cache: built for another descriptor");
    }
    branches = load_u32be(bytes + 44);
    keys = load_u32be(bytes + 48);
    count = load_u32be(bytes + 52);
    if (branches != desc->n_branches || keys != desc->n_keys) {
        return kura_fail(err, KURA_EDATA, "descriptor cache: shape does not match the descriptor");
    }
    if (count > KURA_DESCRIPTOR_CACHE_COUNT_MAX) {
        return kura_fail(err, KURA_ERANGE, "descriptor cache: over %u indexes per branch",
                         (unsigned)KURA_DESCRIPTOR_CACHE_COUNT_MAX);
    }
    if (count != effective_count(desc, count)) {
        return kura_fail(err, KURA_EDATA, "descriptor cache: %u indexes is not a valid count here",
                         (unsigned)count);
    }
    c = cache_new(desc, count);
    if (c == NULL || !alloc_rows(c, &total) ||
        !kura_size_add(total, CACHE_HEADER + CACHE_DIGEST, &want_len)) {
        kura_descriptor_cache_free(c);
        return kura_fail(err, KURA_ENOMEM, "descriptor cache: out of memory");
    }
    if (len != want_len) {
        kura_descriptor_cache_free(c);
        return kura_fail(err, KURA_EDATA, "descriptor cache: %zu bytes, expected %zu", len,
                         want_len);
    }
    kura_sha256(digest, bytes, CACHE_HEADER + total);
    if (memcmp(digest, bytes + CACHE_HEADER + total, 32) != 0) {
        kura_descriptor_cache_free(c);
        return kura_fail(err, KURA_EDATA, "descriptor cache: digest mismatch (corrupted)");
    }
    memcpy(c->desc_hash, want_hash, 32);
    if (total > 0) memcpy(c->rows, bytes + CACHE_HEADER, total);
    /* Every slot: a compressed key for a BIP32 key expression (and for a
     * tr() output key), zeros else. */
    for (size_t e = 0; e < c->n_branches * (size_t)c->count; e++) {
        const uint8_t *row = c->rows + e * row_bytes(c);
        for (size_t k = 0; k < c->n_keys + (is_tr(desc) ? 1u : 0u); k++) {
            const uint8_t *slot = row + k * KEY_BYTES;
            int ok;
            if (k == c->n_keys || desc->keys[k].kind == KD_KEY_BIP32) {
                ok = slot[0] == 0x02 || slot[0] == 0x03;
            } else {
                uint8_t acc = 0;
                for (size_t i = 0; i < KEY_BYTES; i++) acc |= slot[i];
                ok = acc == 0;
            }
            if (!ok) {
                kura_descriptor_cache_free(c);
                return kura_fail(err, KURA_EDATA, "descriptor cache: entry %zu key %zu is malformed",
                                 e, k);
            }
        }
    }
    rc = spot_check(ctx, c, err);
    if (rc != KURA_OK) {
        kura_descriptor_cache_free(c);
        return rc;
    }
    *out = c;
    return KURA_OK;
}

int kura_descriptor_derive_cached(const kura_ctx *ctx, kura_descriptor_output *out,
                                  const kura_descriptor *desc,
                                  const kura_descriptor_cache *cache, size_t branch,
                                  uint32_t index, kura_error *err)
{
    uint32_t eff;
    if (cache == NULL) return kura_descriptor_derive(ctx, out, desc, branch, index, err);
    if (cache->desc != desc) {
        if (out != NULL && out->work_ != NULL) {
            (void)kura_descriptor_derive(ctx, out, NULL, 0, 0, NULL); /* empties out */
        }
        return kura_fail(err, KURA_EINVAL, "descriptor cache: built for another descriptor");
    }
    eff = desc->ranged ? index : 0;
    if (branch < cache->n_branches && eff < cache->count) {
        return kd_derive_row(ctx, out, desc, branch, index, row_at(cache, branch, eff), err);
    }
    return kura_descriptor_derive(ctx, out, desc, branch, index, err);
}
