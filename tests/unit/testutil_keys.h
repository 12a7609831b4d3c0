/* tests/unit/testutil_keys.h — shared helpers that call kura_keys: a kura
 * context for a test group, and BIP32 masters from a fixed seed. Linked into
 * the tests of every module that may call kura_keys (tests/CMakeLists.txt). */
#ifndef KURA_TESTUTIL_KEYS_H
#define KURA_TESTUTIL_KEYS_H

#include "kura/keys.h"
#include "testutil.h"

/* The group's context: set by tu_ctx_setup, freed by tu_ctx_teardown. */
extern kura_ctx *tu_ctx;

/* cmocka group setup: makes tu_ctx (also left in *state); fails when it cannot. */
int tu_ctx_setup(void **state);

/* cmocka group teardown: frees tu_ctx. */
int tu_ctx_teardown(void **state);

/* The mainnet master of the 32-byte seed of `seed_byte` repeated, and in
 * origin_xpub (cap bytes) "[fingerprint/path_text]xpub" of its account key at
 * path[0..path_len) (path_text is that path as written in a descriptor). */
void tu_make_master(const kura_ctx *ctx, kura_bip32_key *master, char *origin_xpub, size_t cap,
                    uint8_t seed_byte, const uint32_t *path, size_t path_len,
                    const char *path_text);

#endif
