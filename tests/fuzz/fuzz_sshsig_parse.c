/* fuzz_sshsig_parse — feeds arbitrary bytes to both sshsig parsers:
 *  - as an armoured SSHSIG signature, and again as the raw blob inside one
 *    (the target armours it, so mutations reach the binary parser directly
 *    instead of dying in base64); when either parses, verifies it against a
 *    fixed message (the one the seed signatures sign, so verification runs to
 *    the end) under several options, and checks the header key round-trips;
 *  - as a public key line; when it parses, the canonical form must parse back
 *    to an equal key and the fingerprint must have its fixed shape.
 * Any crash, sanitizer report, leak or broken invariant (abort) is a finding.
 * Seeds: tests/fuzz/corpus/fuzz_sshsig_parse/ (tests/sshsig fixtures and
 * security-key signatures). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "kura/sshsig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* tests/sshsig/message.txt: the seeds' signatures verify over it. */
static const char message[] =
    "kura-intent 1\n"
    "id: 4f1c2a9e7b3d4c58a1e0f6b2d9c3e7a1\n"
    "network: bitcoin\n"
    "wallet: treasury-cold #q4x7k2m9\n"
    "initiator: ops-tanaka\n"
    "created: 2026-11-21T09:30:00Z\n"
    "expires: 2026-11-21T21:30:00Z\n"
    "output: bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq 150000000 withdrawal 8812\n"
    "max-fee: 40000\n";

static void check_key(const kura_sshkey *key)
{
    char text[KURA_SSHKEY_STRING_MAX], fp[KURA_SSHKEY_FINGERPRINT_SIZE];
    size_t written = 0;
    kura_sshkey again;
    if (kura_sshkey_format(text, sizeof(text), &written, key) != KURA_OK) abort();
    if (written != strlen(text)) abort();
    if (kura_sshkey_parse(&again, text, written, NULL) != KURA_OK) abort();
    if (!kura_sshkey_equal(&again, key)) abort();
    if (kura_sshkey_fingerprint(fp, key) != KURA_OK) abort();
    if (strlen(fp) != KURA_SSHKEY_FINGERPRINT_SIZE - 1 || memcmp(fp, "SHA256:", 7) != 0) abort();
}

static int all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0) return 0;
    return 1;
}

static void try_signature(const char *text, size_t text_len, const uint8_t *raw, size_t raw_len)
{
    kura_sshsig sig;
    kura_sshkey signer;
    kura_error err;
    static const uint32_t options[] = {0, KURA_SSHSIG_ALLOW_NO_TOUCH,
                                       KURA_SSHSIG_REQUIRE_VERIFIED};

    if (kura_sshsig_parse(&sig, text, text_len, &err) == KURA_OK) {
        check_key(&sig.key);
        if (sig.ns_len != strlen(sig.ns)) abort();
        for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
            int rc = kura_sshsig_verify(&sig, (const uint8_t *)message, sizeof(message) - 1,
                                        "kura-intent-v1", NULL, options[i], &signer, &err);
            if (rc == KURA_OK && !kura_sshkey_equal(&signer, &sig.key)) abort();
            if (rc != KURA_OK && (err.code != rc || signer.type != KURA_SSHKEY_NONE)) abort();
            (void)kura_sshsig_verify(&sig, raw, raw_len, sig.ns, &sig.key, options[i], NULL,
                                     NULL);
        }
    } else if (!all_zero(&sig, sizeof(sig))) {
        abort(); /* a failed parse must leave no partial output */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kura_sshkey key;
    kura_error err;

    try_signature((const char *)data, size, data, size);

    /* The same bytes as a decoded blob, armoured as ssh-keygen would. */
    if (size > 0 && size <= 4096) {
        static char b64[sodium_base64_ENCODED_LEN(4096, sodium_base64_VARIANT_ORIGINAL)];
        static char text[sizeof(b64) + sizeof(b64) / 70 + 64];
        size_t n = 0, b64_len;
        sodium_bin2base64(b64, sizeof(b64), data, size, sodium_base64_VARIANT_ORIGINAL);
        b64_len = strlen(b64);
        memcpy(text, "-----BEGIN SSH SIGNATURE-----\n", 30);
        n = 30;
        for (size_t i = 0; i < b64_len; i += 70) {
            size_t l = b64_len - i < 70 ? b64_len - i : 70;
            memcpy(text + n, b64 + i, l);
            n += l;
            text[n++] = '\n';
        }
        memcpy(text + n, "-----END SSH SIGNATURE-----\n", 28);
        n += 28;
        try_signature(text, n, data, size);
    }

    if (kura_sshkey_parse(&key, (const char *)data, size, &err) == KURA_OK)
        check_key(&key);
    else if (!all_zero(&key, sizeof(key)))
        abort();
    return 0;
}
