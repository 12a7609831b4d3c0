/*
 * tests/fuzz/fuzz_server_webhook_signature.c — the Kura-Signature header
 * parser (kura_webhook_verify_signature) and the event-pattern parser, on
 * arbitrary bytes. Input: a header line, LF, then the body. Properties: no
 * crash or over-read; a header made by kura_webhook_sign over the body always
 * verifies; a pattern list that is valid matches "*"-free types only by the
 * documented rules (an exact type matches itself).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "webhook/webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char secret[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    const uint8_t *nl = memchr(data, '\n', size);
    size_t hlen = nl ? (size_t)(nl - data) : size;
    size_t blen = nl ? size - hlen - 1 : 0;
    char *header = malloc(hlen + 1);
    char *body = malloc(blen + 1);
    char sig[KURA_WEBHOOK_SIGNATURE_MAX];

    if (!header || !body) {
        free(header);
        free(body);
        return 0;
    }
    memcpy(header, data, hlen);
    header[hlen] = '\0';
    if (blen)
        memcpy(body, nl + 1, blen);
    body[blen] = '\0';

    (void)kura_webhook_verify_signature(secret, header, body, blen, 1700000000, 300);
    if (kura_webhook_sign(sig, secret, 1700000000, body, blen) != 0 ||
        kura_webhook_verify_signature(secret, sig, body, blen, 1700000000, 0) != 0)
        abort();

    if (kura_webhook_patterns_valid(header)) {
        (void)kura_webhook_patterns_match(header, "transfer.approved");
        /* A valid list without wildcards matches each of its own types. */
        if (!strchr(header, '*') && !strchr(header, ' ') &&
            !kura_webhook_patterns_match(header, header))
            abort();
    }
    free(header);
    free(body);
    return 0;
}
