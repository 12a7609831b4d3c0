/* fuzz_bsms_parse — BIP129 records from untrusted files. The input is a key
 * record, then optionally a NUL byte and a descriptor record. The key record
 * parser must never read past its length and, when it accepts, the record
 * must hold a key whose signature it checked (re-parsing the same bytes
 * gives the same record); the descriptor record is verified against the
 * parsed record (if any) and must free what it returns. ASan/UBSan catch the
 * rest. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kura/bsms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static kura_ctx *ctx;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t klen = nul != NULL ? (size_t)(nul - data) : size;
    kura_bsms_key_record rec, again;
    kura_descriptor *d = NULL;
    unsigned m = 0;
    int have;
    if (ctx == NULL) ctx = kura_ctx_new();
    if (ctx == NULL) abort();
    /* Copies, so that a read past the given length is an ASan error. */
    {
        char *k = malloc(klen > 0 ? klen : 1);
        if (k == NULL) abort();
        if (klen > 0) memcpy(k, data, klen);
        have = kura_bsms_key_record_parse(&rec, k, klen, NULL) == KURA_OK;
        if (have && (kura_bsms_key_record_parse(&again, k, klen, NULL) != KURA_OK ||
                     memcmp(&rec, &again, sizeof(rec)) != 0))
            abort();
        free(k);
    }
    if (nul != NULL) {
        size_t dlen = size - klen - 1;
        char *t = malloc(dlen > 0 ? dlen : 1);
        if (t == NULL) abort();
        if (dlen > 0) memcpy(t, nul + 1, dlen);
        if (kura_bsms_descriptor_record_verify(ctx, &d, &m, NULL, t, dlen, have ? &rec : NULL,
                                               have ? 1 : 0, KURA_NETWORK_MAINNET,
                                               NULL) == KURA_OK) {
            if (d == NULL || m != 1) abort();
            kura_descriptor_free(d);
        } else if (d != NULL) {
            abort();
        }
        free(t);
    }
    return 0;
}
