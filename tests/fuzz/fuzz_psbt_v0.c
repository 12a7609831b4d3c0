/* Fuzz target: the PSBT parser (BIP174 version 0 input, though any version
 * is accepted). Whatever parses must serialise, re-parse and re-serialise to
 * the same bytes; a version 0 PSBT must also survive v0 -> v2 -> v0 unchanged
 * (kura/psbt.h promises it), combining it with a copy of itself must change
 * nothing, the signer's checks must run on it without harm, and the finalizer
 * must leave a PSBT that still round-trips. Any crash, leak, sanitizer report
 * or abort is a failure. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kura/psbt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok) abort();
}

/* Serialises p, re-parses, and checks that the copy serialises the same.
 * Returns the bytes (caller frees) or NULL when over the size limit. */
static uint8_t *roundtrip(const kura_psbt *p, size_t *len)
{
    uint8_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    kura_psbt *q = NULL;
    int rc = kura_psbt_serialize(&a, &alen, p);
    if (rc == KURA_ERANGE) return NULL;
    check(rc == KURA_OK);
    rc = kura_psbt_parse(&q, a, alen, NULL);
    if (rc == KURA_ERANGE) { /* more records than the limit after a conversion */
        free(a);
        return NULL;
    }
    check(rc == KURA_OK);
    check(kura_psbt_serialize(&b, &blen, q) == KURA_OK);
    check(alen == blen && memcmp(a, b, alen) == 0);
    free(b);
    kura_psbt_free(q);
    *len = alen;
    return a;
}

/* One context for the whole run (creating one per input would dominate). */
static kura_ctx *ctx;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kura_psbt *p = NULL;
    kura_error err;
    uint8_t *bytes, *again;
    size_t len = 0, len2 = 0;
    if (kura_psbt_parse(&p, data, size, &err) != KURA_OK) {
        check(p == NULL && err.code != KURA_OK && err.message[0] != '\0');
        return 0;
    }
    /* A PSBT written by another implementation in canonical order comes
     * back byte for byte; what comes back from kura is stable. */
    bytes = roundtrip(p, &len);
    if (bytes != NULL && p->version == 0 && !p->has_version_field) {
        check(kura_psbt_set_version(p, 2, NULL) == KURA_OK);
        free(roundtrip(p, &len2));
        check(kura_psbt_set_version(p, 0, NULL) == KURA_OK);
        again = roundtrip(p, &len2);
        check(again != NULL && len2 == len && memcmp(again, bytes, len) == 0);
        free(again);
    }
    /* Combining with a copy of itself adds nothing. */
    if (bytes != NULL) {
        kura_psbt *c = NULL;
        uint32_t lt;
        check(kura_psbt_clone(&c, p) == KURA_OK);
        /* (A v2 PSBT whose lock time cannot be determined has no identity.) */
        check(kura_psbt_combine(p, c, NULL) ==
              (kura_psbt_locktime(&lt, p, NULL) == KURA_OK ? KURA_OK : KURA_EDATA));
        again = roundtrip(p, &len2);
        check(again != NULL && len2 == len && memcmp(again, bytes, len) == 0);
        free(again);
        kura_psbt_free(c);
    }
    free(bytes);
    /* The signer's checks, with the key 1 (its public key is G). */
    if (ctx == NULL) ctx = kura_ctx_new();
    check(ctx != NULL);
    for (size_t i = 0; i < p->input_count && i < 4; i++) {
        uint8_t priv[32] = {0};
        int rc;
        priv[31] = 1;
        rc = kura_psbt_sign_input(ctx, p, i, priv, KURA_PSBT_SIGN_ANY_SIGHASH, &err);
        check(rc == KURA_OK || rc == KURA_ENOTFOUND || rc == KURA_EDATA);
    }
    /* The finalizer either finalizes everything or changes nothing. */
    if (kura_psbt_finalize(p, &err) == KURA_OK) {
        kura_tx *tx = NULL;
        if (kura_psbt_extract(&tx, p, NULL) == KURA_OK) kura_tx_free(tx);
    }
    free(roundtrip(p, &len));
    kura_psbt_free(p);
    return 0;
}
