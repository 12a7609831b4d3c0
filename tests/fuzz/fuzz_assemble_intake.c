/* Fuzz target: kura_assemble_intake, the coordinator's door for signed
 * PSBTs. Arbitrary bytes are uploaded against a fixed package (a wsh
 * sortedmulti 2-of-3 or a tr sortedmulti_a 2-of-3 wallet, chosen by the
 * first byte; the rest is the upload). Any crash, leak or sanitizer report
 * fails, and so (abort) does:
 *   - an accepted upload after which the accumulated PSBT's unsigned
 *     transaction differs from the package's, or any record other than a
 *     signature differs, or a signature does not verify;
 *   - a refused upload that changed the accumulated PSBT, or a refusal
 *     without a reason.
 * The keys are made from fixed seeds, so the seeds in
 * corpus/fuzz_assemble_intake (the package and uploads signed by each key)
 * can be rebuilt: run the target with KURA_ASSEMBLE_SEED_DIR=<dir> on any
 * input and it writes them there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kura/assemble.h"
#include "kura/descriptor.h"
#include "kura/keys.h"
#include "kura/psbt.h"
#include "kura/tx.h"
#include "kura/wallet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define H 0x80000000u

typedef struct fixture {
    kura_descriptor *desc;
    kura_bip32_key masters[3];
    kura_tx *funding;
    kura_psbt *package;
    uint8_t *bytes; /* the package, serialised */
    size_t len;
} fixture;

static kura_ctx *ctx;
static fixture fx[2];

static void die(const char *what)
{
    fprintf(stderr, "fuzz_assemble_intake: setup: %s\n", what);
    abort();
}

static void build(fixture *f, int taproot)
{
    char origin[3][200], text[1024], xpub[120];
    const uint32_t path[4] = {48 | H, 0 | H, 0 | H, (taproot ? 3 : 2) | H};
    uint8_t seed[32], fp[4], script[64], prev[32];
    size_t slen;
    kura_wallet_coin coin;
    kura_wallet_payment pay;
    static const uint8_t dest[22] = {0x00, 0x14, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                     11,   12,   13, 14, 15, 16, 17, 18, 19, 20};
    for (int i = 0; i < 3; i++) {
        kura_bip32_key acct, pub;
        memset(seed, 0x41 + i, sizeof(seed));
        if (kura_bip32_from_seed(ctx, &f->masters[i], seed, 32, KURA_NETWORK_MAINNET) != KURA_OK ||
            kura_bip32_derive_path(ctx, &acct, &f->masters[i], path, 4) != KURA_OK)
            die("keys");
        kura_bip32_neuter(&pub, &acct);
        if (kura_bip32_serialize(xpub, sizeof(xpub), &pub, 0) != KURA_OK ||
            kura_bip32_fingerprint(fp, &f->masters[i]) != KURA_OK)
            die("xpub");
        snprintf(origin[i], sizeof(origin[i]), "[%02x%02x%02x%02x/48h/0h/0h/%dh]%s", fp[0], fp[1],
                 fp[2], fp[3], taproot ? 3 : 2, xpub);
        kura_bip32_wipe(&acct);
    }
    if (taproot)
        snprintf(text, sizeof(text),
                 "tr(50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0,"
                 "sortedmulti_a(2,%s/<0;1>/*,%s/<0;1>/*,%s/<0;1>/*))",
                 origin[0], origin[1], origin[2]);
    else
        snprintf(text, sizeof(text), "wsh(sortedmulti(2,%s/<0;1>/*,%s/<0;1>/*,%s/<0;1>/*))",
                 origin[0], origin[1], origin[2]);
    if (kura_descriptor_parse(ctx, &f->desc, text, strlen(text), NULL) != KURA_OK)
        die("descriptor");
    f->funding = kura_tx_new();
    memset(prev, 0x77, 32);
    if (f->funding == NULL || kura_tx_add_input(f->funding, prev, 0, 0xffffffff, NULL, 0) ||
        kura_descriptor_script_pubkey(ctx, script, sizeof(script), &slen, f->desc, 0, 7, NULL) ||
        kura_tx_add_output(f->funding, 1000000, script, slen))
        die("funding");
    memset(&coin, 0, sizeof(coin));
    if (kura_tx_txid(coin.txid, f->funding) != KURA_OK) die("txid");
    coin.vout = 0;
    coin.amount = 1000000;
    coin.branch = 0;
    coin.index = 7;
    coin.prev_tx = f->funding;
    pay.script_pubkey = dest;
    pay.script_pubkey_len = sizeof(dest);
    pay.amount = 600000;
    if (kura_wallet_create_psbt(ctx, &f->package, f->desc, &coin, 1, &pay, 1, 390000, 5000, 0,
                                NULL) != KURA_OK ||
        kura_psbt_serialize(&f->bytes, &f->len, f->package) != KURA_OK)
        die("package");
}

static void write_file(const char *dir, const char *name, uint8_t kind, const uint8_t *b,
                       size_t n)
{
    char path[4096];
    FILE *fp;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "wb");
    if (fp == NULL) die("seed file");
    fputc(kind, fp);
    fwrite(b, 1, n, fp);
    fclose(fp);
}

static void write_seeds(const char *dir)
{
    for (int k = 0; k < 2; k++) {
        char name[64];
        kura_psbt *both = NULL;
        if (kura_psbt_clone(&both, fx[k].package) != KURA_OK) die("clone");
        snprintf(name, sizeof(name), "%s-package", k ? "trms" : "wsh");
        write_file(dir, name, (uint8_t)k, fx[k].bytes, fx[k].len);
        for (int m = 0; m < 2; m++) {
            kura_psbt *c = NULL;
            uint8_t *b = NULL;
            size_t n = 0, signed_count = 0;
            if (kura_psbt_clone(&c, fx[k].package) != KURA_OK ||
                kura_psbt_sign_bip32(ctx, c, &signed_count, &fx[k].masters[m], 0, NULL) !=
                    KURA_OK ||
                kura_psbt_sign_bip32(ctx, both, &signed_count, &fx[k].masters[m], 0, NULL) !=
                    KURA_OK ||
                kura_psbt_serialize(&b, &n, c) != KURA_OK)
                die("sign");
            snprintf(name, sizeof(name), "%s-signed-%d", k ? "trms" : "wsh", m);
            write_file(dir, name, (uint8_t)k, b, n);
            free(b);
            kura_psbt_free(c);
        }
        {
            uint8_t *b = NULL;
            size_t n = 0;
            if (kura_psbt_serialize(&b, &n, both) != KURA_OK) die("serialize");
            snprintf(name, sizeof(name), "%s-signed-both", k ? "trms" : "wsh");
            write_file(dir, name, (uint8_t)k, b, n);
            free(b);
        }
        kura_psbt_free(both);
    }
}

static int bytes_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* acc holds the package's transaction and records, plus signatures only. */
static void check_same_but_signatures(const kura_psbt *pkg, const kura_psbt *acc)
{
    uint8_t a[32], b[32];
    size_t checked = 0;
    if (kura_psbt_unique_id(a, pkg, NULL) != KURA_OK ||
        kura_psbt_unique_id(b, acc, NULL) != KURA_OK || memcmp(a, b, 32) != 0)
        abort();
    if (acc->version != pkg->version || acc->input_count != pkg->input_count ||
        acc->output_count != pkg->output_count || acc->unknown_count != pkg->unknown_count ||
        acc->xpub_count != pkg->xpub_count)
        abort();
    for (size_t i = 0; i < pkg->input_count; i++) {
        const kura_psbt_input *p = &pkg->inputs[i], *q = &acc->inputs[i];
        if (q->has_final_script_sig || q->has_final_script_witness) abort();
        if ((p->non_witness_utxo == NULL) != (q->non_witness_utxo == NULL)) abort();
        if (p->non_witness_utxo != NULL &&
            (kura_tx_txid(a, p->non_witness_utxo) != KURA_OK ||
             kura_tx_txid(b, q->non_witness_utxo) != KURA_OK || memcmp(a, b, 32) != 0))
            abort();
        if (p->has_witness_utxo != q->has_witness_utxo ||
            p->witness_utxo.amount != q->witness_utxo.amount ||
            !bytes_eq(p->witness_utxo.script_pubkey.data, p->witness_utxo.script_pubkey.len,
                      q->witness_utxo.script_pubkey.data, q->witness_utxo.script_pubkey.len))
            abort();
        if (p->has_sighash_type != q->has_sighash_type || p->bip32_count != q->bip32_count ||
            p->tap_bip32_count != q->tap_bip32_count ||
            p->tap_leaf_script_count != q->tap_leaf_script_count ||
            p->has_witness_script != q->has_witness_script ||
            !bytes_eq(p->witness_script.data, p->witness_script.len, q->witness_script.data,
                      q->witness_script.len) ||
            p->has_tap_internal_key != q->has_tap_internal_key ||
            p->has_tap_merkle_root != q->has_tap_merkle_root ||
            p->preimage_count != q->preimage_count || p->unknown_count != q->unknown_count)
            abort();
        /* Signatures: every one SIGHASH_ALL / DEFAULT. */
        for (size_t k = 0; k < q->partial_sig_count; k++)
            if (q->partial_sigs[k].sig[q->partial_sigs[k].sig_len - 1] != 0x01) abort();
    }
    for (size_t o = 0; o < pkg->output_count; o++) {
        const kura_psbt_output *p = &pkg->outputs[o], *q = &acc->outputs[o];
        if (p->bip32_count != q->bip32_count || p->tap_bip32_count != q->tap_bip32_count ||
            p->unknown_count != q->unknown_count || p->tap_tree_count != q->tap_tree_count ||
            p->has_witness_script != q->has_witness_script)
            abort();
    }
    if (kura_wallet_verify_psbt(ctx, &checked, acc, NULL) != KURA_OK) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    kura_psbt *acc = NULL;
    kura_assemble_progress pr;
    kura_error err;
    uint8_t *before = NULL, *after = NULL;
    size_t blen = 0, alen = 0;
    int rc, k;

    if (!ready) {
        const char *dir = getenv("KURA_ASSEMBLE_SEED_DIR");
        ctx = kura_ctx_new();
        if (ctx == NULL) die("ctx");
        build(&fx[0], 0);
        build(&fx[1], 1);
        if (dir != NULL) write_seeds(dir);
        ready = 1;
    }
    if (size < 1) return 0;
    k = data[0] & 1;
    if (kura_psbt_clone(&acc, fx[k].package) != KURA_OK) abort();
    /* Half the time start from an accumulated PSBT that already holds the
     * first signer's signatures. */
    if (data[0] & 2) {
        size_t n = 0;
        if (kura_psbt_sign_bip32(ctx, acc, &n, &fx[k].masters[0], 0, NULL) != KURA_OK) abort();
    }
    if (kura_psbt_serialize(&before, &blen, acc) != KURA_OK) abort();
    memset(&pr, 0, sizeof(pr));
    err.message[0] = '\0';
    rc = kura_assemble_intake(ctx, &pr, acc, fx[k].desc, data + 1, size - 1, &err);
    if (rc == KURA_OK) {
        if (pr.reason != KURA_ASSEMBLE_OK || pr.input_count != acc->input_count ||
            pr.signatures == NULL || pr.threshold != 2)
            abort();
        check_same_but_signatures(fx[k].package, acc);
    } else {
        if (rc == KURA_EINVAL) abort();
        if (rc == KURA_EDATA && (pr.reason == KURA_ASSEMBLE_OK || err.message[0] == '\0')) abort();
        if (pr.signatures != NULL) abort();
        if (kura_psbt_serialize(&after, &alen, acc) != KURA_OK) abort();
        if (!bytes_eq(before, blen, after, alen)) abort();
    }
    kura_assemble_progress_clear(&pr);
    free(before);
    free(after);
    kura_psbt_free(acc);
    return 0;
}
