/* src/keys/ctx.c — the libkura context: one randomized libsecp256k1 context. */
#include <stdlib.h>

#include <sodium.h>

#include "internal.h"
#include "keys_internal.h"

kura_ctx *kura_ctx_new(void)
{
    uint8_t seed[32];
    kura_ctx *ctx;

    /* sodium_init is idempotent and thread-safe; randombytes_buf needs it. */
    if (sodium_init() < 0) return NULL;
    ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL) return NULL;
    ctx->secp = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    if (ctx->secp == NULL) {
        free(ctx);
        return NULL;
    }
    /* Randomizing blinds the scalar multiplications that touch secret keys
     * (signing, pubkey_create) against timing and power side channels; the
     * seed itself need not stay secret afterwards but is wiped anyway. */
    randombytes_buf(seed, sizeof(seed));
    if (!secp256k1_context_randomize(ctx->secp, seed)) {
        sodium_memzero(seed, sizeof(seed));
        secp256k1_context_destroy(ctx->secp);
        free(ctx);
        return NULL;
    }
    sodium_memzero(seed, sizeof(seed));
    return ctx;
}

void kura_ctx_free(kura_ctx *ctx)
{
    if (ctx == NULL) return;
    secp256k1_context_destroy(ctx->secp);
    free(ctx);
}

const secp256k1_context *kura_ctx_secp(const kura_ctx *ctx)
{
    return ctx != NULL ? ctx->secp : secp256k1_context_static;
}
