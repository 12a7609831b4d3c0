/* Fuzz descriptor parsing. Text that parses must serialise (private form) to
 * a canonical string that parses again to the same string; its public form,
 * where it has one, must parse and derive the same scripts; every branch
 * derives at index 0 (and index 1 when ranged), through both the full and
 * the scriptPubKey-only paths, with the same scriptPubKey. A refused input
 * must leave the output NULL and name a KURA_E* code in the error. */
#include <stdlib.h>
#include <string.h>

#include "kura/descriptor.h"
#include "kura/script.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static kura_ctx *ctx;

static int same_spk(kura_descriptor_output *out, const kura_descriptor *d, size_t branch,
                    uint32_t index, uint8_t *spk, size_t *spk_len)
{
    int rc = kura_descriptor_derive(ctx, out, d, branch, index, NULL);
    int rc2;
    size_t len = 0;
    static uint8_t buf[16384];
    if (rc == KURA_ECRYPTO) return rc; /* BIP32's invalid child: astronomically rare */
    if (rc != KURA_OK) abort();
    if (out->n_scripts < 1 || out->n_scripts > KURA_DESCRIPTOR_SCRIPTS_MAX) abort();
    rc2 = kura_descriptor_script_pubkey(ctx, buf, sizeof(buf), &len, d, branch, index, NULL);
    if (rc2 != KURA_OK) abort();
    if (len != out->scripts[0].script_pubkey_len ||
        memcmp(buf, out->scripts[0].script_pubkey, len) != 0) {
        abort();
    }
    for (size_t i = 0; i < out->n_leaves; i++) {
        if (out->leaves[i].control_block_len != 33 + 32 * (size_t)out->leaves[i].depth) abort();
    }
    if (spk != NULL) {
        if (len > *spk_len) abort();
        memcpy(spk, buf, len);
        *spk_len = len;
    }
    return KURA_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kura_descriptor *d = (kura_descriptor *)&ctx, *d2 = NULL, *dp = NULL;
    kura_descriptor_output *out;
    kura_error err;
    char *s = NULL, *s2 = NULL, *pub = NULL;
    int rc;

    if (ctx == NULL && (ctx = kura_ctx_new()) == NULL) abort();
    memset(&err, 0, sizeof(err));
    rc = kura_descriptor_parse(ctx, &d, (const char *)data, size, &err);
    if (rc != KURA_OK) {
        if (d != NULL) abort();
        if (err.code != rc || err.message[0] == '\0') abort();
        if (rc != KURA_EDATA && rc != KURA_ERANGE && rc != KURA_ECRYPTO && rc != KURA_ENOMEM) abort();
        return 0;
    }
    out = kura_descriptor_output_new();
    if (out == NULL) abort();

    /* Canonical text is a fixed point. */
    if (kura_descriptor_to_string(ctx, &s, d, KURA_DESCRIPTOR_ALL_BRANCHES, KURA_DESCRIPTOR_PRIVATE,
                                  NULL) != KURA_OK) {
        abort();
    }
    if (kura_descriptor_parse(ctx, &d2, s, strlen(s), &err) != KURA_OK) abort();
    if (kura_descriptor_to_string(ctx, &s2, d2, KURA_DESCRIPTOR_ALL_BRANCHES,
                                  KURA_DESCRIPTOR_PRIVATE, NULL) != KURA_OK) {
        abort();
    }
    if (strcmp(s, s2) != 0) abort();
    if (kura_descriptor_multipath_count(d) != kura_descriptor_multipath_count(d2)) abort();

    /* The public form, when there is one, describes the same outputs. */
    rc = kura_descriptor_to_string(ctx, &pub, d, KURA_DESCRIPTOR_ALL_BRANCHES,
                                   KURA_DESCRIPTOR_PUBLIC, NULL);
    if (rc == KURA_OK) {
        if (kura_descriptor_parse(ctx, &dp, pub, strlen(pub), &err) != KURA_OK) abort();
        if (kura_descriptor_has_private(dp)) abort();
    } else if (rc != KURA_EDATA) {
        abort();
    }

    for (size_t b = 0; b < kura_descriptor_multipath_count(d) && b < 4; b++) {
        uint32_t n_index = kura_descriptor_is_ranged(d) ? 2 : 1;
        for (uint32_t i = 0; i < n_index; i++) {
            uint8_t a[16384], c[16384];
            size_t alen = sizeof(a), clen = sizeof(c);
            if (same_spk(out, d, b, i, a, &alen) != KURA_OK) continue;
            if (same_spk(out, d2, b, i, c, &clen) != KURA_OK) abort();
            if (alen != clen || memcmp(a, c, alen) != 0) abort();
            if (dp != NULL) {
                clen = sizeof(c);
                if (same_spk(out, dp, b, i, c, &clen) != KURA_OK) abort();
                if (alen != clen || memcmp(a, c, alen) != 0) abort();
            }
        }
    }

    kura_descriptor_string_free(s);
    kura_descriptor_string_free(s2);
    kura_descriptor_string_free(pub);
    kura_descriptor_free(d);
    kura_descriptor_free(d2);
    kura_descriptor_free(dp);
    kura_descriptor_output_free(out);
    return 0;
}
