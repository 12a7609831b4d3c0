/* Fuzz BIP39 mnemonic checking. A mnemonic that yields entropy must be exactly
 * the mnemonic of that entropy: one spelling per secret. */
#include <stdlib.h>
#include <string.h>

#include "kura/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    uint8_t entropy[32];
    size_t written = 0;
    kura_error err;
    if (s == NULL) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (kura_bip39_to_entropy(entropy, sizeof(entropy), &written, s, &err) == KURA_OK) {
        char words[24 * 9];
        if (kura_bip39_from_entropy(words, sizeof(words), entropy, written) != KURA_OK) abort();
        if (strcmp(words, s) != 0) abort();
    } else {
        if (written != 0 || err.code != KURA_EDATA) abort();
    }
    free(s);
    return 0;
}
