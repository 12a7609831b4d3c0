/* Fuzz the keystore reader. Any bytes: the header parser either refuses them
 * (KURA_EDATA, a message, a zeroed info) or accepts exactly a file of the
 * version-1 length with every field in range. Decryption with a fixed
 * passphrase is tried when the header's KDF cost is small enough for a
 * fuzzer; it must fail cleanly or, for the seeds made with the passphrase,
 * give a secret whose entropy length is valid. */
#include <stdlib.h>
#include <string.h>

#include "kura/keystore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static kura_ctx *ctx;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t zero[sizeof(kura_keystore_info)];
    kura_keystore_info info;
    kura_keystore_secret *s = NULL;
    kura_error err;
    int rc;
    if (ctx == NULL && (ctx = kura_ctx_new()) == NULL) abort();
    memset(&err, 0, sizeof(err));
    rc = kura_keystore_parse(&info, data, size, &err);
    if (rc != KURA_OK) {
        if (rc != KURA_EDATA || err.code != rc || memcmp(&info, zero, sizeof(info)) != 0) abort();
        return 0;
    }
    if (size != KURA_KEYSTORE_FILE_LEN || info.version != KURA_KEYSTORE_VERSION) abort();
    if (info.kdf.opslimit < KURA_KEYSTORE_OPSLIMIT_MIN ||
        info.kdf.opslimit > KURA_KEYSTORE_OPSLIMIT_MAX ||
        info.kdf.memlimit < KURA_KEYSTORE_MEMLIMIT_MIN ||
        info.kdf.memlimit > KURA_KEYSTORE_MEMLIMIT_MAX)
        abort();
    if (info.created < 0 || info.created > KURA_KEYSTORE_TIME_MAX) abort();
    if (info.kdf.opslimit > 2 || info.kdf.memlimit > 65536) return 0;
    rc = kura_keystore_decrypt(ctx, &s, &info, data, size, (const uint8_t *)"fuzz", 4, &err);
    if (rc == KURA_OK) {
        if (s == NULL || s->entropy_len < 16 || s->entropy_len > 32 || s->entropy_len % 4 != 0)
            abort();
        kura_keystore_secret_free(s);
    } else if (s != NULL || (rc != KURA_KEYSTORE_EAUTH && rc != KURA_EDATA)) {
        abort();
    }
    return 0;
}
