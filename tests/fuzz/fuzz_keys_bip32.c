/* Fuzz BIP32 parsing. A string that parses as an xpub/xprv/tpub/tprv must
 * serialize back to itself, and derive a child without trouble. The same
 * bytes are also tried as a path: parse, format, parse again, same steps. */
#include <stdlib.h>
#include <string.h>

#include "kura/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static kura_ctx *ctx;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;
    kura_bip32_key key, child;
    kura_error err;
    if (ctx == NULL && (ctx = kura_ctx_new()) == NULL) abort();
    if ((s = malloc(size + 1)) == NULL) return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    if (kura_bip32_parse(ctx, &key, s, &err) == KURA_OK) {
        char enc[KURA_BIP32_SERIALIZED_LEN];
        if (kura_bip32_serialize(enc, sizeof(enc), &key, key.has_private) != KURA_OK) abort();
        if (strcmp(enc, s) != 0) abort();
        int rc = kura_bip32_derive(ctx, &child, &key, 1);
        if (rc != KURA_OK && rc != KURA_ECRYPTO && !(rc == KURA_EINVAL && key.depth == 255))
            abort();
        kura_bip32_wipe(&child);
    } else {
        const uint8_t *b = (const uint8_t *)&key;
        for (size_t i = 0; i < sizeof(key); i++)
            if (b[i] != 0) abort(); /* wiped, not partly filled */
    }
    kura_bip32_wipe(&key);

    uint32_t path[KURA_BIP32_PATH_MAX], again[KURA_BIP32_PATH_MAX];
    size_t n = 0, m = 0;
    if (kura_bip32_path_parse(path, KURA_BIP32_PATH_MAX, &n, s, &err) == KURA_OK) {
        char text[KURA_BIP32_PATH_MAX * 12 + 2];
        if (kura_bip32_path_format(text, sizeof(text), path, n) != KURA_OK) abort();
        if (kura_bip32_path_parse(again, KURA_BIP32_PATH_MAX, &m, text, &err) != KURA_OK) abort();
        if (m != n || (n > 0 && memcmp(path, again, n * sizeof(path[0])) != 0)) abort();
    }
    free(s);
    return 0;
}
