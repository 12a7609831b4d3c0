/* Fuzz Base58Check and hex decoding. A string that decodes must encode back
 * to itself: Base58Check has one spelling per payload (leading '1's are the
 * leading zero bytes, the rest a number without leading zero digits), and hex
 * re-encodes in lower case. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "kura/encoding.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    uint8_t out[400];
    size_t written = 0;
    kura_error err;
    if (s == NULL) return 0;
    memcpy(s, data, size);
    s[size] = '\0'; /* inputs with an embedded NUL are read up to it */

    if (kura_base58check_decode(out, sizeof(out), &written, s, &err) == KURA_OK) {
        char enc[512];
        if (kura_base58check_encode(enc, sizeof(enc), out, written) != KURA_OK) abort();
        if (strcmp(enc, s) != 0) abort();
    } else {
        if (written != 0 || err.code == KURA_OK) abort();
    }

    if (kura_hex_decode(out, sizeof(out), &written, s, &err) == KURA_OK) {
        char enc[2 * sizeof(out) + 1];
        if (kura_hex_encode(enc, sizeof(enc), out, written) != KURA_OK) abort();
        for (size_t i = 0; s[i] != '\0'; i++)
            if (enc[i] != (char)tolower((unsigned char)s[i])) abort();
    }
    free(s);
    return 0;
}
