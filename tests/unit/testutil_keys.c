#include "testutil_keys.h"

#include <stdio.h>
#include <string.h>

kura_ctx *tu_ctx;

int tu_ctx_setup(void **state)
{
    tu_ctx = kura_ctx_new();
    *state = tu_ctx;
    return tu_ctx == NULL ? -1 : 0;
}

int tu_ctx_teardown(void **state)
{
    (void)state;
    kura_ctx_free(tu_ctx);
    tu_ctx = NULL;
    return 0;
}

void tu_make_master(const kura_ctx *ctx, kura_bip32_key *master, char *origin_xpub, size_t cap,
                    uint8_t seed_byte, const uint32_t *path, size_t path_len,
                    const char *path_text)
{
    uint8_t seed[32], fp[4];
    kura_bip32_key acct, pub;
    char xpub[KURA_BIP32_SERIALIZED_LEN];
    memset(seed, seed_byte, sizeof(seed));
    assert_int_equal(kura_bip32_from_seed(ctx, master, seed, 32, KURA_NETWORK_MAINNET), KURA_OK);
    assert_int_equal(kura_bip32_derive_path(ctx, &acct, master, path, path_len), KURA_OK);
    kura_bip32_neuter(&pub, &acct);
    assert_int_equal(kura_bip32_serialize(xpub, sizeof(xpub), &pub, 0), KURA_OK);
    assert_int_equal(kura_bip32_fingerprint(fp, master), KURA_OK);
    snprintf(origin_xpub, cap, "[%02x%02x%02x%02x/%s]%s", fp[0], fp[1], fp[2], fp[3], path_text,
             xpub);
    kura_bip32_wipe(&acct);
}
