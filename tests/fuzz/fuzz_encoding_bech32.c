/* Fuzz target: bech32/bech32m strings and segwit addresses (BIP173, BIP350).
 *
 * The input is read as a NUL-terminated string. Whatever the bytes, decoding
 * must not crash or read past the string, a refusal must carry KURA_EDATA and
 * a "bech32: " / "address: " message, and anything accepted must encode back
 * to the lower-cased input: one string, one meaning. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kura/encoding.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_encoding_bech32: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), *low;
    char hrp[84], enc[KURA_BECH32_MAX + 1];
    uint8_t values[82], program[40];
    size_t n = 0, program_len = 0;
    unsigned version = 0;
    kura_bech32_variant variant;
    kura_error err = {0};
    int rc, rc_any;

    if (s == NULL) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    low = strdup(s);
    if (low == NULL) {
        free(s);
        return 0;
    }
    for (char *p = low; *p != '\0'; p++) {
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    }

    rc_any = kura_bech32_decode(hrp, sizeof(hrp), values, sizeof(values), &n, &variant, s, &err);
    if (rc_any == KURA_OK) {
        check(kura_bech32_encode(enc, sizeof(enc), hrp, values, n, variant) == KURA_OK,
              "re-encode failed");
        check(strcmp(enc, low) == 0, "bech32 round trip differs");
    } else {
        check(rc_any == KURA_EDATA && err.code == KURA_EDATA, "bech32 refusal not KURA_EDATA");
        check(strncmp(err.message, "bech32: ", 8) == 0, "bech32 message prefix");
        check(n == 0 && variant == (kura_bech32_variant)0 && hrp[0] == '\0', "outputs not cleared");
    }

    rc = kura_segwit_address_parse(hrp, sizeof(hrp), &version, program, sizeof(program),
                                   &program_len, s, &err);
    if (rc == KURA_OK) {
        check(rc_any == KURA_OK, "segwit accepted what bech32 refused");
        check(kura_segwit_address_encode(enc, sizeof(enc), hrp, version, program, program_len) ==
                  KURA_OK,
              "segwit re-encode failed");
        check(strcmp(enc, low) == 0, "segwit round trip differs");
        /* Decoding with its own hrp agrees; with another it is refused. */
        check(kura_segwit_address_decode(&version, program, sizeof(program), &program_len, hrp, s,
                                         &err) == KURA_OK,
              "decode with own hrp failed");
        check(kura_segwit_address_decode(&version, program, sizeof(program), &program_len,
                                         strcmp(hrp, "bc") == 0 ? "tb" : "bc", s,
                                         &err) == KURA_EDATA,
              "decode with another hrp accepted");
    } else {
        check(rc == KURA_EDATA && err.code == KURA_EDATA, "segwit refusal not KURA_EDATA");
        check(strncmp(err.message, "address: ", 9) == 0, "segwit message prefix");
        check(program_len == 0 && version == 0 && hrp[0] == '\0', "segwit outputs not cleared");
    }
    free(low);
    free(s);
    return 0;
}
