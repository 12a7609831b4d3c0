/* Fuzz target: kura_descriptor_cache_parse, the reader of kura-cold's
 * derivation cache file. The cache lives on the signer's trusted storage,
 * but a damaged or hostile file must still be refused cleanly, never crash
 * the signer or be half-accepted. The harness rewrites the trailing SHA-256
 * digest over each mutated input, so mutations reach the structural checks
 * behind it. Whatever parses must serialise back to the same bytes and derive
 * at its first index exactly as the descriptor does.
 *
 * KURA_FUZZ_DESCRIPTOR_CACHE_WRITE_SEED=FILE writes a valid cache (4 indexes
 * per branch) to FILE and exits: how tests/fuzz/corpus/fuzz_descriptor_cache
 * was made. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kura/descriptor.h"
#include "kura/hash.h"
#include "kura/keys.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A 1-of-2 P2WSH wallet: one BIP32 key (BIP84's test account) and one fixed
 * key, so the file holds both a cached child key and a zero slot. */
static const char *const DESC =
    "wsh(sortedmulti(1,[73c5da0a/84h/0h/0h]xpub6CatWdiZiodmUeTDp8LT5or8nmbKNcuyvz7WyksVFkKB4RHwC"
    "D3XyuvPEbvqAQY3rAPshWcMLoP2fMFMKHPJ4ZeZXYVUhLv1VMrjPC7PW6V/<0;1>/*,"
    "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798))";

static kura_ctx *ctx;
static kura_descriptor *desc;

static void check(int ok)
{
    if (!ok) abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *seed = getenv("KURA_FUZZ_DESCRIPTOR_CACHE_WRITE_SEED");
    (void)argc;
    (void)argv;
    ctx = kura_ctx_new();
    check(ctx != NULL);
    check(kura_descriptor_parse(ctx, &desc, DESC, strlen(DESC), NULL) == KURA_OK);
    if (seed != NULL) {
        kura_descriptor_cache *cache = NULL;
        uint8_t *bytes = NULL;
        size_t len = 0;
        FILE *f;
        check(kura_descriptor_cache_build(ctx, &cache, desc, 4, NULL) == KURA_OK);
        check(kura_descriptor_cache_serialize(&bytes, &len, cache) == KURA_OK);
        f = fopen(seed, "wb");
        check(f != NULL && fwrite(bytes, 1, len, f) == len);
        fclose(f);
        free(bytes);
        kura_descriptor_cache_free(cache);
        exit(0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kura_descriptor_cache *cache = NULL;
    kura_error err;
    uint8_t *buf, *again = NULL;
    size_t again_len = 0;
    int rc;
    if (size < 32 || size > (1u << 20)) return 0;
    buf = malloc(size);
    check(buf != NULL);
    memcpy(buf, data, size);
    kura_sha256(buf + size - 32, buf, size - 32);
    err.code = KURA_OK;
    err.message[0] = '\0';
    rc = kura_descriptor_cache_parse(ctx, &cache, desc, buf, size, &err);
    if (rc != KURA_OK) {
        check(cache == NULL && err.message[0] != '\0');
        check(rc == KURA_EDATA || rc == KURA_ERANGE || rc == KURA_ENOMEM);
        free(buf);
        return 0;
    }
    check(kura_descriptor_cache_serialize(&again, &again_len, cache) == KURA_OK);
    check(again_len == size && memcmp(again, buf, size) == 0);
    if (kura_descriptor_cache_count(cache) > 0) {
        kura_descriptor_output *a = kura_descriptor_output_new(), *b = kura_descriptor_output_new();
        check(a != NULL && b != NULL);
        check(kura_descriptor_derive_cached(ctx, a, desc, cache, 0, 0, NULL) == KURA_OK);
        check(kura_descriptor_derive(ctx, b, desc, 0, 0, NULL) == KURA_OK);
        check(a->scripts[0].script_pubkey_len == b->scripts[0].script_pubkey_len &&
              memcmp(a->scripts[0].script_pubkey, b->scripts[0].script_pubkey,
                     a->scripts[0].script_pubkey_len) == 0);
        kura_descriptor_output_free(a);
        kura_descriptor_output_free(b);
    }
    free(again);
    kura_descriptor_cache_free(cache);
    free(buf);
    return 0;
}
