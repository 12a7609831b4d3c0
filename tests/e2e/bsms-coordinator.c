/* bsms-coordinator — the coordinator's side of BIP129 for the end-to-end
 * tests: reads the devices' key records, writes the descriptor record with
 * kura_bsms_descriptor_record_write, and prints the wallet's canonical
 * descriptor ("descriptor: ..."), as kura-server will.
 *
 *   bsms-coordinator M NETWORK -o OUT KEYRECORD...
 *       verifies every record first (as an honest coordinator does)
 *   bsms-coordinator --unchecked M NETWORK -o OUT KEYRECORD...
 *       takes each record's key line as it stands, signature or not: a
 *       hostile coordinator assembling a wallet around a tampered record
 *
 * NETWORK: bitcoin, testnet or regtest. Exit 0, or 1 with a message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kura/bsms.h"
#include "kura/descriptor.h"
#include "e2e-util.h"

static int die(const char *msg, const char *detail)
{
    fprintf(stderr, "bsms-coordinator: %s%s%s\n", msg, detail ? ": " : "", detail ? detail : "");
    return 1;
}

/* The key line (line 3) of a record, unchecked. */
static int key_line(kura_bsms_key_record *r, const char *text)
{
    const char *l3 = text, *end;
    for (int i = 0; i < 2 && l3 != NULL; i++) {
        l3 = strchr(l3, '\n');
        if (l3 != NULL) l3++;
    }
    if (l3 == NULL || (end = strchr(l3, '\n')) == NULL || (size_t)(end - l3) > KURA_BSMS_KEY_MAX)
        return -1;
    memset(r, 0, sizeof(*r));
    memcpy(r->key, l3, (size_t)(end - l3));
    {
        const char *x = strchr(r->key, ']');
        if (x == NULL || kura_bip32_parse(NULL, &r->xpub, x + 1, NULL) != KURA_OK) return -1;
    }
    r->is_xpub = 1;
    memcpy(r->pubkey, r->xpub.pub, 33);
    return 0;
}

int main(int argc, char **argv)
{
    kura_bsms_key_record recs[KURA_BSMS_SIGNERS_MAX];
    kura_ctx *ctx = kura_ctx_new();
    kura_network net;
    kura_descriptor *d = NULL;
    kura_error err;
    char *out = NULL, *canon = NULL;
    size_t len = 0, n = 0;
    int a = 1, unchecked = 0;
    unsigned m;
    const char *out_path;
    if (argc > 1 && strcmp(argv[1], "--unchecked") == 0) {
        unchecked = 1;
        a = 2;
    }
    if (ctx == NULL || argc < a + 5 || strcmp(argv[a + 2], "-o") != 0)
        return die("usage: bsms-coordinator [--unchecked] M NETWORK -o OUT KEYRECORD...", NULL);
    m = (unsigned)atoi(argv[a]);
    if (strcmp(argv[a + 1], "bitcoin") == 0) net = KURA_NETWORK_MAINNET;
    else if (strcmp(argv[a + 1], "testnet") == 0) net = KURA_NETWORK_TESTNET;
    else net = KURA_NETWORK_REGTEST;
    out_path = argv[a + 3];
    for (int i = a + 4; i < argc && n < KURA_BSMS_SIGNERS_MAX; i++, n++) {
        size_t tl = 0;
        char *text = (char *)e2e_read_file(argv[i], &tl);
        if (text == NULL) return die("cannot read", argv[i]);
        if (unchecked ? key_line(&recs[n], text) != 0
                      : kura_bsms_key_record_parse(&recs[n], text, tl, &err) != KURA_OK)
            return die(argv[i], unchecked ? "no key line" : err.message);
        free(text);
    }
    if (kura_bsms_descriptor_record_write(ctx, &out, &len, recs, n, m, KURA_BSMS_WSH_SORTEDMULTI,
                                          net, &err) != KURA_OK)
        return die("descriptor record", err.message);
    if (e2e_write_file(out_path, out, len) != 0) return die("cannot write", out_path);
    if (unchecked) {
        free(out);
        kura_ctx_free(ctx);
        return 0;
    }
    /* The wallet as the devices will verify it. */
    {
        kura_bsms_kind kind;
        unsigned mm;
        if (kura_bsms_descriptor_record_verify(ctx, &d, &mm, &kind, out, len, recs, n, net, &err) !=
                KURA_OK ||
            kura_descriptor_to_string(ctx, &canon, d, KURA_DESCRIPTOR_ALL_BRANCHES,
                                      KURA_DESCRIPTOR_PUBLIC, &err) != KURA_OK)
            return die("descriptor", err.message);
    }
    printf("descriptor: %s\n", canon);
    kura_descriptor_string_free(canon);
    kura_descriptor_free(d);
    free(out);
    kura_ctx_free(ctx);
    return 0;
}
