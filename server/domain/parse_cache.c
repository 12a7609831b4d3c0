/*
 * server/domain/parse_cache.c — parsed policies and descriptors shared by
 * every request. Parsing a policy costs about 0.4 ms (each SSH key's point is
 * validated) and would otherwise be paid inside every transfer's write
 * transaction. Entries are keyed by the SHA-256 of the exact text (and its
 * kind), so a changed text — a new version, or a row edited behind the
 * server's back — is simply another entry: the cache can serve stale data
 * never. libkura's parsed objects are read-only and may be shared by
 * threads; entries are reference-counted and only unused ones are evicted.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "domain/domain_internal.h"

#define CACHE_SLOTS 128

enum { KIND_POLICY = 1, KIND_DESCRIPTOR = 2 };

typedef struct cache_entry {
    uint8_t key[32];
    int kind;                /* 0: free slot */
    void *obj;
    size_t refs;
    uint64_t used;           /* last use, for eviction */
} cache_entry;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static cache_entry cache[CACHE_SLOTS];
static uint64_t cache_clock;

static void obj_free(int kind, void *obj)
{
    if (kind == KIND_POLICY)
        kura_policy_free(obj);
    else if (kind == KIND_DESCRIPTOR)
        kura_descriptor_free(obj);
}

static void make_key(uint8_t key[32], int kind, const char *text, size_t len)
{
    crypto_hash_sha256_state s;
    uint8_t k = (uint8_t)kind;
    crypto_hash_sha256_init(&s);
    crypto_hash_sha256_update(&s, &k, 1);
    crypto_hash_sha256_update(&s, (const unsigned char *)text, len);
    crypto_hash_sha256_final(&s, key);
}

/* Finds and references an entry; NULL on a miss. */
static cache_entry *lookup(const uint8_t key[32], int kind)
{
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        if (cache[i].kind == kind && memcmp(cache[i].key, key, 32) == 0) {
            cache[i].refs++;
            cache[i].used = ++cache_clock;
            return &cache[i];
        }
    }
    return NULL;
}

/* A handle is an entry pointer, or for an object the full cache could not
 * take, the object tagged in a small heap box. */
typedef struct loose {
    int kind;
    void *obj;
} loose;

static int acquire(int kind, const char *text, void **obj, void **handle, kura_error *err)
{
    uint8_t key[32];
    size_t len = strlen(text);
    cache_entry *e;
    void *parsed = NULL;
    int rc;
    *obj = NULL;
    *handle = NULL;
    make_key(key, kind, text, len);
    pthread_mutex_lock(&cache_lock);
    e = lookup(key, kind);
    pthread_mutex_unlock(&cache_lock);
    if (e) {
        *obj = e->obj;
        *handle = e;
        return KURA_OK;
    }
    if (kind == KIND_POLICY) {
        kura_policy *p = NULL;
        rc = kura_policy_parse(&p, (const uint8_t *)text, len, err);
        parsed = p;
    } else {
        kura_descriptor *d = NULL;
        const kura_ctx *ctx = dom_ctx();
        rc = ctx ? kura_descriptor_parse(ctx, &d, text, len, err) : KURA_ENOMEM;
        parsed = d;
    }
    if (rc != KURA_OK)
        return rc;
    pthread_mutex_lock(&cache_lock);
    e = lookup(key, kind); /* another thread may have parsed it meanwhile */
    if (!e) {
        cache_entry *slot = NULL;
        for (size_t i = 0; i < CACHE_SLOTS; i++) {
            if (cache[i].kind == 0) {
                slot = &cache[i];
                break;
            }
            if (cache[i].refs == 0 && (!slot || cache[i].used < slot->used))
                slot = &cache[i];
        }
        if (slot) {
            obj_free(slot->kind, slot->obj);
            memcpy(slot->key, key, 32);
            slot->kind = kind;
            slot->obj = parsed;
            slot->refs = 1;
            slot->used = ++cache_clock;
            parsed = NULL;
            e = slot;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    if (e) {
        obj_free(kind, parsed);
        *obj = e->obj;
        *handle = e;
        return KURA_OK;
    }
    /* Every slot in use: the caller owns this one. */
    loose *l = malloc(sizeof *l);
    if (!l) {
        obj_free(kind, parsed);
        return KURA_ENOMEM;
    }
    l->kind = kind;
    l->obj = parsed;
    *obj = parsed;
    *handle = (void *)((uintptr_t)l | 1u);
    return KURA_OK;
}

int dom_policy_acquire(const char *text, const kura_policy **out, void **handle, kura_error *err)
{
    void *obj = NULL;
    int rc = acquire(KIND_POLICY, text, &obj, handle, err);
    *out = obj;
    return rc;
}

int dom_descriptor_acquire(const char *text, const kura_descriptor **out, void **handle,
                           kura_error *err)
{
    void *obj = NULL;
    int rc = acquire(KIND_DESCRIPTOR, text, &obj, handle, err);
    *out = obj;
    return rc;
}

void dom_cache_release(void *handle)
{
    if (!handle)
        return;
    if ((uintptr_t)handle & 1u) {
        loose *l = (loose *)((uintptr_t)handle & ~(uintptr_t)1u);
        obj_free(l->kind, l->obj);
        free(l);
        return;
    }
    pthread_mutex_lock(&cache_lock);
    ((cache_entry *)handle)->refs--;
    pthread_mutex_unlock(&cache_lock);
}
