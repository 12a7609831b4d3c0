/* Fuzz target: the PSBT parser on BIP370 version 2 input (and the base64
 * reader). Whatever parses must serialise, re-parse and re-serialise to the
 * same bytes; a v2 PSBT's lock time, unique id and conversion to v0 must not
 * crash, and the v0 form must round-trip too. Any crash, leak, sanitizer
 * report or abort is a failure. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "kura/psbt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok) abort();
}

static void roundtrip(const kura_psbt *p)
{
    uint8_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    kura_psbt *q = NULL;
    int rc = kura_psbt_serialize(&a, &alen, p);
    if (rc == KURA_ERANGE) return;
    check(rc == KURA_OK);
    rc = kura_psbt_parse(&q, a, alen, NULL);
    if (rc != KURA_ERANGE) {
        check(rc == KURA_OK);
        check(kura_psbt_serialize(&b, &blen, q) == KURA_OK);
        check(alen == blen && memcmp(a, b, alen) == 0);
        free(b);
        kura_psbt_free(q);
    }
    free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kura_psbt *p = NULL, *q = NULL;
    kura_error err;
    uint8_t id[32];
    uint32_t lt;
    int rc;
    if (kura_psbt_parse(&p, data, size, &err) != KURA_OK) {
        check(p == NULL && err.message[0] != '\0');
        return 0;
    }
    roundtrip(p);
    /* The same bytes as base64 parse to the same PSBT. */
    if (size < 4096) {
        size_t n = sodium_base64_ENCODED_LEN(size, sodium_base64_VARIANT_ORIGINAL);
        char *s = malloc(n);
        check(s != NULL);
        sodium_bin2base64(s, n, data, size, sodium_base64_VARIANT_ORIGINAL);
        check(kura_psbt_from_base64(&q, s, strlen(s), NULL) == KURA_OK);
        kura_psbt_free(q);
        free(s);
    }
    rc = kura_psbt_locktime(&lt, p, NULL);
    check(rc == KURA_OK || rc == KURA_EDATA);
    check(kura_psbt_unique_id(id, p, NULL) == rc);
    rc = kura_psbt_set_version(p, 0, NULL);
    check(rc == KURA_OK || rc == KURA_EDATA);
    if (rc == KURA_OK) {
        check(p->version == 0);
        roundtrip(p);
        check(kura_psbt_set_version(p, 2, NULL) == KURA_OK);
        roundtrip(p);
    }
    kura_psbt_free(p);
    return 0;
}
