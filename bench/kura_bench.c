/* bench/kura_bench.c — kura's side of bench/run (see bench/README.md).
 *
 *   kura-bench prepare DIR
 *       Builds the benchmark PSBTs with kura's wallet Updater and writes them to
 *       DIR (p2wpkh.psbt, p2wsh.psbt, p2tr.psbt, out500.psbt), with keys.json:
 *       the private key of every input for each signer, so that the peers can
 *       sign the same bytes with the same keys.
 *   kura-bench time DIR RUNS
 *       Times kura on those files (bytes in -> signed bytes out; the median of
 *       RUNS runs after one warm-up run), derives addresses, and times the raw
 *       libsecp256k1 floor. Each signing case is timed twice: as CASE with the
 *       default flags (no signature verified, like the peers) and as
 *       CASE-verify with KURA_PSBT_SIGN_VERIFY (each signature verified before
 *       it is added, as kura-cold signs). Then measurement 7, the batch
 *       (batch.c): kura-cold's whole work on a 100-input, 500-output package
 *       against the raw signing of its inputs, written to DIR/batch-*.psbt
 *       and DIR/kura-batch-*.psbt. Then measurement 8, the chain (chain.c):
 *       scanning mainnet block 413,567 against 1,000,000 watched scripts.
 *       Prints one JSON object on stdout.
 *   kura-bench profile DIR CASE RUNS
 *       Does the timed work of CASE (p2wpkh, p2wsh, p2tr, the same with
 *       -verify, out500, addresses, batch-p2wpkh, batch-p2wsh, the batches
 *       with -verify, -cache, -cache-verify; chain: 100 block scans per run)
 *       RUNS times and nothing else, for a profiler:
 *       valgrind --tool=callgrind kura-bench profile DIR p2wpkh 3
 *   kura-bench chain RUNS
 *       Measurement 8 alone: prints {"chain":{...}}.
 *   kura-bench verify DIR CASE FILE
 *       Checks a signed PSBT written by a peer (or by kura) for CASE: the same
 *       transaction as DIR/CASE.psbt, and for every input exactly the expected
 *       signatures, each verified against a sighash kura computes. For out500,
 *       that FILE describes the same transaction and outputs. Prints one JSON
 *       line; exits 1 if the check fails.
 *
 * Fixed seeds make the PSBTs the same in every run (the BIP340 signatures use
 * fresh randomness, as kura always does). This is a benchmark, not a wallet:
 * the keys are public test keys and are written to keys.json on purpose. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>

#include "kura/descriptor.h"
#include "kura/hash.h"
#include "kura/keys.h"
#include "kura/psbt.h"
#include "kura/script.h"
#include "kura/sighash.h"
#include "kura/tx.h"
#include "kura/wallet.h"

#include "batch.h"
#include "bench.h"
#include "chain.h"

#define H KURA_BIP32_HARDENED
#define N_INPUTS 100        /* inputs of the three signing cases */
#define N_BIG_OUTPUTS 500   /* outputs of the parse/serialise case */
#define N_ADDRESSES 10000   /* addresses derived per run */
#define MAX_KEYS 3

/* ---- small helpers ---- */

void die(const char *fmt, ...)
{
    va_list ap;
    fputs("kura-bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

void check(int rc, const char *what, const kura_error *err)
{
    if (rc == KURA_OK) return;
    die("%s: %s%s%s", what, kura_status_name(rc), err != NULL && err->message[0] ? ": " : "",
        err != NULL ? err->message : "");
}

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time of this thread: unlike the wall clock, it does not count the time
 * the scheduler gives to other processes on a shared machine. */
uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

uint64_t median(const uint64_t *v, size_t n)
{
    uint64_t s[MAX_RUNS];
    if (n == 0 || n > MAX_RUNS) return 0;
    memcpy(s, v, n * sizeof(*v));
    qsort(s, n, sizeof(*s), cmp_u64);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

void print_runs(const uint64_t *v, size_t n)
{
    printf("[");
    for (size_t i = 0; i < n; i++) printf("%s%llu", i ? "," : "", (unsigned long long)v[i]);
    printf("]");
}

static void hex_out(FILE *f, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) fprintf(f, "%02x", p[i]);
}

char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p == NULL) die("out of memory");
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;
    if (f == NULL) die("cannot open %s", path);
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        die("cannot read %s", path);
    buf = malloc((size_t)n + 1);
    if (buf == NULL) die("out of memory");
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) die("cannot read %s", path);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

void write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
        die("cannot write %s", path);
}

/* ---- the wallets ---- */

enum { CASE_P2WPKH, CASE_P2WSH, CASE_P2TR, CASE_OUT500, CASE_COUNT };
static const char *const case_name[CASE_COUNT] = {"p2wpkh", "p2wsh", "p2tr", "out500"};

/* A wallet: its keys' masters (fixed seeds) and its descriptor. The first
 * nsign masters sign. */
typedef struct wallet {
    kura_bip32_key master[MAX_KEYS];
    size_t nkeys, nsign;
    char xpub[MAX_KEYS][KURA_BIP32_SERIALIZED_LEN]; /* account xpubs */
    char desc[2048];
    kura_descriptor *d;
} wallet;

static kura_ctx *ctx;

static void wallet_init(wallet *w, int which)
{
    static const uint32_t p84[] = {84 | H, 0 | H, 0 | H}, p48[] = {48 | H, 0 | H, 0 | H, 2 | H},
                          p86[] = {86 | H, 0 | H, 0 | H};
    const uint32_t *path;
    size_t path_len;
    const char *path_text;
    char keys[MAX_KEYS][300];
    uint8_t seed_byte;
    kura_error err;
    memset(w, 0, sizeof(*w));
    switch (which) {
    case CASE_P2WSH:
        path = p48, path_len = 4, path_text = "48h/0h/0h/2h", seed_byte = 2;
        w->nkeys = 3, w->nsign = 2;
        break;
    case CASE_P2TR:
        path = p86, path_len = 3, path_text = "86h/0h/0h", seed_byte = 5;
        w->nkeys = 1, w->nsign = 1;
        break;
    default: /* P2WPKH, also the wallet of the 500-output PSBT */
        path = p84, path_len = 3, path_text = "84h/0h/0h", seed_byte = 1;
        w->nkeys = 1, w->nsign = 1;
        break;
    }
    for (size_t k = 0; k < w->nkeys; k++) {
        uint8_t seed[32], fp[4];
        kura_bip32_key acct;
        memset(seed, seed_byte + (int)k, sizeof(seed));
        check(kura_bip32_from_seed(ctx, &w->master[k], seed, sizeof(seed), KURA_NETWORK_MAINNET),
              "master key", NULL);
        check(kura_bip32_derive_path(ctx, &acct, &w->master[k], path, path_len), "account key",
              NULL);
        kura_bip32_neuter(&acct, &acct);
        check(kura_bip32_serialize(w->xpub[k], sizeof(w->xpub[k]), &acct, 0), "xpub", NULL);
        check(kura_bip32_fingerprint(fp, &w->master[k]), "fingerprint", NULL);
        snprintf(keys[k], sizeof(keys[k]), "[%02x%02x%02x%02x/%s]%s/<0;1>/*", fp[0], fp[1], fp[2],
                 fp[3], path_text, w->xpub[k]);
    }
    if (which == CASE_P2WSH)
        snprintf(w->desc, sizeof(w->desc), "wsh(sortedmulti(2,%s,%s,%s))", keys[0], keys[1],
                 keys[2]);
    else if (which == CASE_P2TR)
        snprintf(w->desc, sizeof(w->desc), "tr(%s)", keys[0]);
    else
        snprintf(w->desc, sizeof(w->desc), "wpkh(%s)", keys[0]);
    check(kura_descriptor_parse(ctx, &w->d, w->desc, strlen(w->desc), &err), "descriptor", &err);
}

static void wallet_free(wallet *w)
{
    for (size_t k = 0; k < MAX_KEYS; k++) kura_bip32_wipe(&w->master[k]);
    kura_descriptor_free(w->d);
}

/* A funding transaction of one input and two outputs; output 1 pays
 * `amount` to `script`. */
static kura_tx *funding_tx(const uint8_t *script, size_t script_len, uint64_t amount, uint32_t tag)
{
    static const uint8_t other[22] = {0x00, 0x14, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
                                      0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
                                      0x42, 0x42};
    uint8_t prev[32], t[4] = {(uint8_t)tag, (uint8_t)(tag >> 8), (uint8_t)(tag >> 16), 0xbe};
    kura_tx *tx = kura_tx_new();
    if (tx == NULL) die("out of memory");
    kura_sha256(prev, t, sizeof(t));
    check(kura_tx_add_input(tx, prev, tag % 3, 0xfffffffdu, NULL, 0), "funding input", NULL);
    check(kura_tx_add_output(tx, 50000 + tag, other, sizeof(other)), "funding output", NULL);
    check(kura_tx_add_output(tx, amount, script, script_len), "funding output", NULL);
    return tx;
}

/* Builds the PSBT of case `which` with kura_wallet_create_psbt and returns
 * its serialisation. */
static uint8_t *build_psbt(size_t *len, int which, const wallet *w)
{
    size_t ncoins = which == CASE_OUT500 ? 2 : N_INPUTS;
    size_t npay = which == CASE_OUT500 ? N_BIG_OUTPUTS - 1 : 1;
    kura_wallet_coin *coins = calloc(ncoins, sizeof(*coins));
    kura_tx **funding = calloc(ncoins, sizeof(*funding));
    kura_wallet_payment *pay = calloc(npay, sizeof(*pay));
    uint8_t(*pay_scripts)[KURA_SCRIPT_PUBKEY_MAX] = calloc(npay, KURA_SCRIPT_PUBKEY_MAX);
    kura_descriptor *foreign[2] = {NULL, NULL};
    uint64_t in_total = 0, out_total = 0, fee = which == CASE_OUT500 ? 60000 : 20000;
    kura_psbt *psbt = NULL;
    uint8_t *bytes = NULL;
    kura_error err;
    if (coins == NULL || funding == NULL || pay == NULL || pay_scripts == NULL)
        die("out of memory");

    for (size_t i = 0; i < ncoins; i++) {
        uint8_t script[KURA_SCRIPT_PUBKEY_MAX];
        size_t slen;
        uint32_t index = which == CASE_OUT500 ? (uint32_t)(1000 + i) : (uint32_t)i;
        uint64_t amount = which == CASE_OUT500 ? 10000000u : 100000u + 10u * i;
        check(kura_descriptor_script_pubkey(ctx, script, sizeof(script), &slen, w->d, 0, index,
                                            &err),
              "coin script", &err);
        funding[i] = funding_tx(script, slen, amount, (uint32_t)(which * 100000 + (int)i));
        check(kura_tx_txid(coins[i].txid, funding[i]), "txid", NULL);
        coins[i].vout = 1;
        coins[i].amount = amount;
        coins[i].branch = KURA_DESCRIPTOR_BRANCH_RECEIVE;
        coins[i].index = index;
        /* Segwit v0 inputs carry the whole funding transaction (kura's
         * signer wants it: BIP143 commits to the amount only indirectly);
         * taproot inputs only the spent output (BIP341 commits to all). */
        coins[i].prev_tx = which == CASE_P2TR ? NULL : funding[i];
        in_total += amount;
    }
    if (which == CASE_OUT500) {
        /* Withdrawals to other people's P2WPKH and P2TR addresses. */
        static const char *const other_desc[2] = {
            "wpkh(xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8YtGq"
            "sefD265TMg7usUDFdp6W1EGMcet8/0/*)",
            "tr(xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8YtGqs"
            "efD265TMg7usUDFdp6W1EGMcet8/1/*)"};
        for (size_t k = 0; k < 2; k++)
            check(kura_descriptor_parse(ctx, &foreign[k], other_desc[k], strlen(other_desc[k]),
                                        &err),
                  "foreign descriptor", &err);
        for (size_t i = 0; i < npay; i++) {
            size_t slen;
            check(kura_descriptor_script_pubkey(ctx, pay_scripts[i], KURA_SCRIPT_PUBKEY_MAX, &slen,
                                                foreign[i % 2], 0, (uint32_t)i, &err),
                  "payment script", &err);
            pay[i].script_pubkey = pay_scripts[i];
            pay[i].script_pubkey_len = slen;
            pay[i].amount = 30000u + i;
            out_total += pay[i].amount;
        }
    } else {
        size_t slen;
        check(kura_address_to_script(pay_scripts[0], KURA_SCRIPT_PUBKEY_MAX, &slen,
                                     "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
                                     KURA_NETWORK_MAINNET, &err),
              "payment address", &err);
        pay[0].script_pubkey = pay_scripts[0];
        pay[0].script_pubkey_len = slen;
        pay[0].amount = 5000000u;
        out_total = pay[0].amount;
    }
    check(kura_wallet_create_psbt(ctx, &psbt, w->d, coins, ncoins, pay, npay,
                                  in_total - out_total - fee, 7, 0, &err),
          "create PSBT", &err);
    check(kura_psbt_serialize(&bytes, len, psbt), "serialize PSBT", NULL);
    kura_psbt_free(psbt);
    for (size_t i = 0; i < ncoins; i++) kura_tx_free(funding[i]);
    for (size_t k = 0; k < 2; k++) kura_descriptor_free(foreign[k]);
    free(coins);
    free(funding);
    free(pay);
    free(pay_scripts);
    return bytes;
}

/* Writes, for each signer, its master xprv and the private key each input is
 * signed with: the child of the master along the path the input's (tap)
 * BIP32 derivation record names, as a wallet's keystore would derive it. */
static void write_signer_keys(FILE *f, const kura_psbt *psbt, const kura_bip32_key *master)
{
    uint8_t fp[4];
    char xprv[KURA_BIP32_SERIALIZED_LEN];
    int first = 1;
    check(kura_bip32_fingerprint(fp, master), "fingerprint", NULL);
    check(kura_bip32_serialize(xprv, sizeof(xprv), master, 1), "xprv", NULL);
    fprintf(f, "{\"fingerprint\":\"");
    hex_out(f, fp, 4);
    fprintf(f, "\",\"master\":\"%s\",\"inputs\":[", xprv);
    for (size_t i = 0; i < psbt->input_count; i++) {
        const kura_psbt_input *in = &psbt->inputs[i];
        const kura_psbt_keyorigin *o = NULL;
        kura_bip32_key child;
        for (size_t j = 0; j < in->bip32_count && o == NULL; j++)
            if (memcmp(in->bip32[j].origin.fingerprint, fp, 4) == 0) o = &in->bip32[j].origin;
        for (size_t j = 0; j < in->tap_bip32_count && o == NULL; j++)
            if (memcmp(in->tap_bip32[j].origin.fingerprint, fp, 4) == 0)
                o = &in->tap_bip32[j].origin;
        if (o == NULL) die("input %zu has no key of this signer", i);
        check(kura_bip32_derive_path(ctx, &child, master, o->path, o->path_len), "derive", NULL);
        fprintf(f, "%s{\"priv\":\"", first ? "" : ",");
        hex_out(f, child.priv, 32);
        fprintf(f, "\",\"pub\":\"");
        hex_out(f, child.pub, 33);
        fprintf(f, "\"}");
        kura_bip32_wipe(&child);
        first = 0;
    }
    fprintf(f, "]}");
}

static int cmd_prepare(const char *dir)
{
    char *kpath = path_join(dir, "keys.json");
    FILE *kf = fopen(kpath, "w");
    if (kf == NULL) die("cannot write %s", kpath);
    fprintf(kf, "{");
    for (int c = 0; c < CASE_COUNT; c++) {
        wallet w;
        size_t len;
        uint8_t *bytes;
        char name[64];
        char *p;
        kura_psbt *psbt = NULL;
        kura_error err;
        wallet_init(&w, c);
        bytes = build_psbt(&len, c, &w);
        snprintf(name, sizeof(name), "%s.psbt", case_name[c]);
        p = path_join(dir, name);
        write_file(p, bytes, len);
        free(p);
        check(kura_psbt_parse(&psbt, bytes, len, &err), "parse own PSBT", &err);
        fprintf(kf, "%s\"%s\":{\"inputs\":%zu,\"outputs\":%zu,\"bytes\":%zu,\"descriptor\":\"%s\","
                    "\"signers\":[",
                c ? "," : "", case_name[c], psbt->input_count, psbt->output_count, len, w.desc);
        for (size_t s = 0; c != CASE_OUT500 && s < w.nsign; s++) {
            if (s) fputc(',', kf);
            write_signer_keys(kf, psbt, &w.master[s]);
        }
        fprintf(kf, "]}");
        fprintf(stderr, "kura-bench: wrote %s.psbt: %zu inputs, %zu outputs, %zu bytes\n",
                case_name[c], psbt->input_count, psbt->output_count, len);
        kura_psbt_free(psbt);
        free(bytes);
        wallet_free(&w);
    }
    fprintf(kf, "}\n");
    if (fclose(kf) != 0) die("cannot write %s", kpath);
    free(kpath);
    return 0;
}

/* ---- kura's timed work ---- */

/* One signer's pass: bytes in -> parse -> kura_psbt_sign_bip32 with the
 * master -> serialize -> bytes out. Returns the signatures added. */
static size_t sign_pass(uint8_t **out, size_t *out_len, const uint8_t *in, size_t in_len,
                        const kura_bip32_key *master, unsigned flags)
{
    kura_psbt *psbt = NULL;
    kura_error err;
    size_t count = 0;
    check(kura_psbt_parse(&psbt, in, in_len, &err), "parse", &err);
    check(kura_psbt_sign_bip32(ctx, psbt, &count, master, flags, &err), "sign", &err);
    check(kura_psbt_serialize(out, out_len, psbt), "serialize", NULL);
    kura_psbt_free(psbt);
    return count;
}

/* Times case c, signing with `flags`, over `runs` runs (after a warm-up);
 * writes kura's signed PSBT to DIR/kura-CASE.psbt (kura-CASE-verify.psbt
 * under KURA_PSBT_SIGN_VERIFY). */
static void time_case(uint64_t *t, uint64_t *tc, size_t runs, int c, unsigned flags,
                      const wallet *w, const uint8_t *bytes, size_t len, const char *dir)
{
    uint8_t *out = NULL;
    size_t out_len = 0;
    for (size_t r = 0; r <= runs; r++) {
        uint64_t c0 = cpu_ns(), t0 = now_ns();
        size_t sigs = 0;
        free(out);
        out = NULL;
        if (c == CASE_OUT500) {
            kura_psbt *psbt = NULL;
            kura_error err;
            check(kura_psbt_parse(&psbt, bytes, len, &err), "parse", &err);
            check(kura_psbt_serialize(&out, &out_len, psbt), "serialize", NULL);
            kura_psbt_free(psbt);
        } else {
            /* Each signer is its own pass (bytes -> bytes), as two signing
             * devices would: the second parses what the first wrote. */
            const uint8_t *cur = bytes;
            size_t cur_len = len;
            uint8_t *prev = NULL;
            for (size_t s = 0; s < w->nsign; s++) {
                sigs += sign_pass(&out, &out_len, cur, cur_len, &w->master[s], flags);
                free(prev);
                prev = out;
                cur = out;
                cur_len = out_len;
            }
        }
        uint64_t t1 = now_ns(), c1 = cpu_ns();
        if (c != CASE_OUT500 && sigs != N_INPUTS * w->nsign)
            die("%s: %zu signatures, expected %zu", case_name[c], sigs, N_INPUTS * w->nsign);
        if (c == CASE_OUT500 && (out_len != len || memcmp(out, bytes, len) != 0))
            die("out500: re-serialisation differs from the input");
        if (r > 0) t[r - 1] = t1 - t0, tc[r - 1] = c1 - c0; /* run 0 is the warm-up */
    }
    char name[64];
    snprintf(name, sizeof(name), "kura-%s%s.psbt", case_name[c],
             (flags & KURA_PSBT_SIGN_VERIFY) != 0 ? "-verify" : "");
    char *p = path_join(dir, name);
    write_file(p, out, out_len);
    free(p);
    free(out);
}

static volatile uint8_t sink; /* keeps the compiler from dropping timed work */

/* Per-operation medians (ns of this thread's CPU time) of the libsecp256k1
 * floor and of kura's own building blocks, each over FLOOR_ROUNDS rounds of
 * FLOOR_OPS operations. keypair_create and keypair_xonly_tweak_add are what a
 * BIP32 taproot key-path signer must add to schnorrsig_sign32 with
 * libsecp256k1's API (the derived secret's point, then the BIP341 tweak);
 * the verifications are what KURA_PSBT_SIGN_VERIFY adds. */
typedef struct floors {
    double ecdsa_sign, schnorr_sign, ecdsa_verify, pubkey_create;
    double kura_ecdsa_sign, kura_schnorr_sign, kura_bip32_priv_step, kura_bip32_pub_step;
    double keypair_create, keypair_tweak, schnorr_verify;
} floors;

#define FLOOR_ROUNDS 7
#define FLOOR_OPS 400

static double per_op(const uint64_t *t, size_t rounds, size_t ops)
{
    return (double)median(t, rounds) / (double)ops;
}

static void time_floors(floors *fl)
{
    secp256k1_context *sctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    uint8_t seed[32], priv[32], msg[32], aux[32], der[KURA_ECDSA_DER_MAX], sig64[64];
    secp256k1_pubkey pub;
    secp256k1_keypair kp;
    secp256k1_ecdsa_signature sig;
    uint64_t t[11][FLOOR_ROUNDS];
    size_t derlen;
    kura_bip32_key master, child;
    memset(seed, 0x5a, sizeof(seed));
    memset(priv, 0x11, sizeof(priv));
    memset(aux, 0x33, sizeof(aux));
    kura_sha256(msg, seed, sizeof(seed));
    if (sctx == NULL || !secp256k1_context_randomize(sctx, seed) ||
        !secp256k1_ec_pubkey_create(sctx, &pub, priv) || !secp256k1_keypair_create(sctx, &kp, priv))
        die("libsecp256k1 setup failed");
    check(kura_bip32_from_seed(ctx, &master, seed, sizeof(seed), KURA_NETWORK_MAINNET), "master",
          NULL);
    for (size_t r = 0; r < FLOOR_ROUNDS; r++) {
        uint64_t t0 = cpu_ns();
        for (size_t i = 0; i < FLOOR_OPS; i++) {
            msg[0] = (uint8_t)i; /* a different hash each time, precomputed */
            if (!secp256k1_ecdsa_sign(sctx, &sig, msg, priv, NULL, NULL)) die("ecdsa_sign");
        }
        uint64_t t1 = cpu_ns();
        for (size_t i = 0; i < FLOOR_OPS; i++) {
            msg[0] = (uint8_t)i;
            if (!secp256k1_schnorrsig_sign32(sctx, sig64, msg, &kp, aux)) die("schnorrsig_sign32");
        }
        uint64_t t2 = cpu_ns();
        if (!secp256k1_ecdsa_sign(sctx, &sig, msg, priv, NULL, NULL)) die("ecdsa_sign");
        for (size_t i = 0; i < FLOOR_OPS; i++)
            sink ^= (uint8_t)secp256k1_ecdsa_verify(sctx, &sig, msg, &pub);
        uint64_t t3 = cpu_ns();
        for (size_t i = 0; i < FLOOR_OPS; i++) {
            priv[31] = (uint8_t)(i + 1);
            if (!secp256k1_ec_pubkey_create(sctx, &pub, priv)) die("pubkey_create");
        }
        uint64_t t4 = cpu_ns();
        for (size_t i = 0; i < FLOOR_OPS; i++) {
            msg[0] = (uint8_t)i;
            check(kura_ecdsa_sign(ctx, der, &derlen, priv, msg), "kura_ecdsa_sign", NULL);
        }
        uint64_t t5 = cpu_ns();
        for (size_t i = 0; i < FLOOR_OPS; i++) {
            msg[0] = (uint8_t)i;
            check(kura_schnorr_sign(ctx, sig64, priv, msg, 32, NULL), "kura_schnorr_sign", NULL);
        }
        uint64_t t6 = cpu_ns();
        for (size_t i = 0; i < FLOOR_OPS; i++)
            check(kura_bip32_derive(ctx, &child, &master, (uint32_t)i), "kura_bip32_derive", NULL);
        uint64_t t7 = cpu_ns();
        kura_bip32_neuter(&child, &master);
        for (size_t i = 0; i < FLOOR_OPS; i++) {
            kura_bip32_key pc;
            check(kura_bip32_derive(NULL, &pc, &child, (uint32_t)i), "kura_bip32_derive", NULL);
            sink ^= pc.pub[1];
        }
        uint64_t t8 = cpu_ns();
        secp256k1_keypair kp2;
        for (size_t i = 0; i < FLOOR_OPS; i++) {
            priv[31] = (uint8_t)(i + 1);
            if (!secp256k1_keypair_create(sctx, &kp2, priv)) die("keypair_create");
        }
        uint64_t t9 = cpu_ns();
        for (size_t i = 0; i < FLOOR_OPS; i++) {
            kp2 = kp;
            msg[0] = (uint8_t)i; /* a different tweak each time */
            if (!secp256k1_keypair_xonly_tweak_add(sctx, &kp2, msg)) die("keypair_xonly_tweak_add");
        }
        uint64_t t10 = cpu_ns();
        {
            secp256k1_xonly_pubkey xpk;
            if (!secp256k1_keypair_xonly_pub(sctx, &xpk, NULL, &kp) ||
                !secp256k1_schnorrsig_sign32(sctx, sig64, msg, &kp, aux))
                die("schnorrsig_sign32");
            for (size_t i = 0; i < FLOOR_OPS; i++)
                sink ^= (uint8_t)secp256k1_schnorrsig_verify(sctx, sig64, msg, 32, &xpk);
        }
        uint64_t t11 = cpu_ns();
        t[0][r] = t1 - t0, t[1][r] = t2 - t1, t[2][r] = t3 - t2, t[3][r] = t4 - t3;
        t[4][r] = t5 - t4, t[5][r] = t6 - t5, t[6][r] = t7 - t6, t[7][r] = t8 - t7;
        t[8][r] = t9 - t8, t[9][r] = t10 - t9, t[10][r] = t11 - t10;
    }
    fl->ecdsa_sign = per_op(t[0], FLOOR_ROUNDS, FLOOR_OPS);
    fl->schnorr_sign = per_op(t[1], FLOOR_ROUNDS, FLOOR_OPS);
    fl->ecdsa_verify = per_op(t[2], FLOOR_ROUNDS, FLOOR_OPS);
    fl->pubkey_create = per_op(t[3], FLOOR_ROUNDS, FLOOR_OPS);
    fl->kura_ecdsa_sign = per_op(t[4], FLOOR_ROUNDS, FLOOR_OPS);
    fl->kura_schnorr_sign = per_op(t[5], FLOOR_ROUNDS, FLOOR_OPS);
    fl->kura_bip32_priv_step = per_op(t[6], FLOOR_ROUNDS, FLOOR_OPS);
    fl->kura_bip32_pub_step = per_op(t[7], FLOOR_ROUNDS, FLOOR_OPS);
    fl->keypair_create = per_op(t[8], FLOOR_ROUNDS, FLOOR_OPS);
    fl->keypair_tweak = per_op(t[9], FLOOR_ROUNDS, FLOOR_OPS);
    fl->schnorr_verify = per_op(t[10], FLOOR_ROUNDS, FLOOR_OPS);
    kura_bip32_wipe(&master);
    kura_bip32_wipe(&child);
    secp256k1_context_destroy(sctx);
}

/* Derives N_ADDRESSES P2WPKH addresses of wpkh(xpub/0/STAR) per run. */
static void time_addresses(uint64_t *t, uint64_t *tc, size_t runs, char first[KURA_ADDRESS_MAX])
{
    wallet w;
    char desc[256], addr[KURA_ADDRESS_MAX];
    kura_descriptor *d = NULL;
    kura_error err;
    wallet_init(&w, CASE_P2WPKH);
    snprintf(desc, sizeof(desc), "wpkh(%s/0/*)", w.xpub[0]);
    check(kura_descriptor_parse(ctx, &d, desc, strlen(desc), &err), "address descriptor", &err);
    check(kura_descriptor_address(ctx, first, KURA_ADDRESS_MAX, d, 0, 0, KURA_NETWORK_MAINNET,
                                  &err),
          "address", &err);
    for (size_t r = 0; r <= runs; r++) {
        uint64_t c0 = cpu_ns(), t0 = now_ns();
        for (uint32_t i = 0; i < N_ADDRESSES; i++) {
            check(kura_descriptor_address(ctx, addr, sizeof(addr), d, 0, i, KURA_NETWORK_MAINNET,
                                          &err),
                  "address", &err);
            sink ^= (uint8_t)addr[10];
        }
        uint64_t t1 = now_ns(), c1 = cpu_ns();
        if (r > 0) t[r - 1] = t1 - t0, tc[r - 1] = c1 - c0;
    }
    kura_descriptor_free(d);
    wallet_free(&w);
}

static void print_series(const char *name, const uint64_t *t, const uint64_t *tc, size_t n)
{
    printf("\"%s\":{\"median_ns\":%llu,\"median_cpu_ns\":%llu,\"runs_ns\":", name,
           (unsigned long long)median(t, n), (unsigned long long)median(tc, n));
    print_runs(t, n);
    printf(",\"cpu_ns\":");
    print_runs(tc, n);
}

static int cmd_time(const char *dir, size_t runs)
{
    static uint64_t t[CASE_COUNT][MAX_RUNS], tc[CASE_COUNT][MAX_RUNS], tv[CASE_COUNT][MAX_RUNS],
        tvc[CASE_COUNT][MAX_RUNS], ta[MAX_RUNS], tac[MAX_RUNS];
    size_t addr_runs = runs < 5 ? runs : 5;
    char first[KURA_ADDRESS_MAX];
    floors fl;
    if (runs == 0 || runs > MAX_RUNS) die("runs must be 1..%d", MAX_RUNS);
    for (int c = 0; c < CASE_COUNT; c++) {
        wallet w;
        char name[64];
        size_t len;
        snprintf(name, sizeof(name), "%s.psbt", case_name[c]);
        char *p = path_join(dir, name);
        uint8_t *bytes = read_file(p, &len);
        free(p);
        wallet_init(&w, c);
        time_case(t[c], tc[c], runs, c, 0, &w, bytes, len, dir);
        if (c != CASE_OUT500)
            time_case(tv[c], tvc[c], runs, c, KURA_PSBT_SIGN_VERIFY, &w, bytes, len, dir);
        wallet_free(&w);
        free(bytes);
    }
    time_addresses(ta, tac, addr_runs, first);
    time_floors(&fl);

    printf("{\"impl\":\"kura\",\"runs\":%zu,\"cases\":{", runs);
    for (int c = 0; c < CASE_COUNT; c++) {
        char vname[64];
        if (c) printf(",");
        print_series(case_name[c], t[c], tc[c], runs);
        printf("}");
        if (c == CASE_OUT500) continue;
        snprintf(vname, sizeof(vname), "%s-verify", case_name[c]);
        printf(",");
        print_series(vname, tv[c], tvc[c], runs);
        printf("}");
    }
    printf("},\"addresses\":{\"count\":%d,\"first\":\"%s\",", N_ADDRESSES, first);
    print_series("time", ta, tac, addr_runs);
    printf("}},\"floor_cpu_ns\":{\"secp256k1_ecdsa_sign\":%.0f,\"secp256k1_schnorrsig_sign32\":%.0f,"
           "\"secp256k1_ecdsa_verify\":%.0f,\"secp256k1_ec_pubkey_create\":%.0f,"
           "\"kura_ecdsa_sign\":%.0f,\"kura_schnorr_sign\":%.0f,"
           "\"kura_bip32_derive_private\":%.0f,\"kura_bip32_derive_public\":%.0f,"
           "\"secp256k1_keypair_create\":%.0f,\"secp256k1_keypair_xonly_tweak_add\":%.0f,"
           "\"secp256k1_schnorrsig_verify\":%.0f},",
           fl.ecdsa_sign, fl.schnorr_sign, fl.ecdsa_verify, fl.pubkey_create, fl.kura_ecdsa_sign,
           fl.kura_schnorr_sign, fl.kura_bip32_priv_step, fl.kura_bip32_pub_step,
           fl.keypair_create, fl.keypair_tweak, fl.schnorr_verify);
    /* Measurement 7, timed here (its floor in the same runs). */
    batch_time(ctx, dir, runs);
    /* Measurement 8, the chain (chain.c). */
    printf(",");
    chain_time(ctx, KURA_CHAIN_BLOCK, runs);
    printf("}\n");
    return 0;
}

static int cmd_profile(const char *dir, const char *cname, size_t runs)
{
    static uint64_t t[MAX_RUNS], tc[MAX_RUNS];
    char first[KURA_ADDRESS_MAX];
    int c = -1;
    unsigned flags = 0;
    if (runs == 0 || runs > MAX_RUNS) die("runs must be 1..%d", MAX_RUNS);
    if (batch_profile(ctx, cname, runs) == 0) return 0;
    if (strcmp(cname, "chain") == 0) {
        chain_profile(ctx, KURA_CHAIN_BLOCK, runs);
        return 0;
    }
    if (strcmp(cname, "addresses") == 0) {
        time_addresses(t, tc, runs, first);
        return 0;
    }
    for (int i = 0; i < CASE_COUNT; i++) {
        char vname[64];
        snprintf(vname, sizeof(vname), "%s-verify", case_name[i]);
        if (strcmp(cname, case_name[i]) == 0) c = i;
        if (i != CASE_OUT500 && strcmp(cname, vname) == 0) c = i, flags = KURA_PSBT_SIGN_VERIFY;
    }
    if (c < 0) die("unknown case %s", cname);
    wallet w;
    char name[64];
    size_t len;
    snprintf(name, sizeof(name), "%s.psbt", case_name[c]);
    char *p = path_join(dir, name);
    uint8_t *bytes = read_file(p, &len);
    free(p);
    wallet_init(&w, c);
    time_case(t, tc, runs, c, flags, &w, bytes, len, dir);
    wallet_free(&w);
    free(bytes);
    return 0;
}

/* ---- checking a signed PSBT ---- */

static int fail_check(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail_check(const char *who, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    printf("{\"ok\":false,\"file\":\"%s\",\"error\":\"%s\"}\n", who, msg);
    return 1;
}

static const kura_psbt_partial_sig *find_sig(const kura_psbt_input *in, const uint8_t pub[33])
{
    for (size_t j = 0; j < in->partial_sig_count; j++)
        if (in->partial_sigs[j].pubkey_len == 33 && memcmp(in->partial_sigs[j].pubkey, pub, 33) == 0)
            return &in->partial_sigs[j];
    return NULL;
}

static int cmd_verify(const char *dir, const char *cname, const char *file)
{
    int c = -1;
    for (int i = 0; i < CASE_COUNT; i++)
        if (strcmp(cname, case_name[i]) == 0) c = i;
    if (c < 0) die("unknown case %s", cname);
    char name[64];
    snprintf(name, sizeof(name), "%s.psbt", case_name[c]);
    char *p = path_join(dir, name);
    size_t olen, slen, nsig = 0;
    uint8_t *obytes = read_file(p, &olen), *sbytes = read_file(file, &slen);
    free(p);
    kura_psbt *orig = NULL, *sgn = NULL;
    kura_error err;
    uint8_t oid[32], sid[32];
    check(kura_psbt_parse(&orig, obytes, olen, &err), "parse original", &err);
    if (kura_psbt_parse(&sgn, sbytes, slen, &err) != KURA_OK)
        return fail_check(file, "kura cannot parse it: %s", err.message);
    check(kura_psbt_unique_id(oid, orig, NULL), "unique id", NULL);
    if (kura_psbt_unique_id(sid, sgn, NULL) != KURA_OK || memcmp(oid, sid, 32) != 0 ||
        sgn->input_count != orig->input_count || sgn->output_count != orig->output_count)
        return fail_check(file, "not the same transaction");
    int identical = slen == olen && memcmp(sbytes, obytes, olen) == 0;
    if (c == CASE_OUT500) {
        for (size_t i = 0; i < orig->output_count; i++) {
            const kura_psbt_output *a = &orig->outputs[i], *b = &sgn->outputs[i];
            if (a->bip32_count != b->bip32_count ||
                (a->bip32_count && memcmp(a->bip32[0].pubkey, b->bip32[0].pubkey, 33) != 0))
                return fail_check(file, "output %zu lost its BIP32 derivation", i);
        }
        for (size_t i = 0; i < orig->input_count; i++)
            if ((orig->inputs[i].non_witness_utxo == NULL) !=
                    (sgn->inputs[i].non_witness_utxo == NULL) ||
                orig->inputs[i].bip32_count != sgn->inputs[i].bip32_count)
                return fail_check(file, "input %zu lost a field", i);
    } else {
        wallet w;
        kura_tx *tx = NULL;
        kura_txout *spent = calloc(orig->input_count, sizeof(*spent));
        kura_sighash_cache cache;
        uint8_t fps[MAX_KEYS][4];
        if (spent == NULL) die("out of memory");
        wallet_init(&w, c);
        for (size_t s = 0; s < w.nsign; s++) check(kura_bip32_fingerprint(fps[s], &w.master[s]), "fp", NULL);
        check(kura_psbt_unsigned_tx(&tx, orig, NULL), "unsigned tx", NULL);
        for (size_t i = 0; i < orig->input_count; i++) {
            if (!orig->inputs[i].has_witness_utxo) die("input %zu: no witness UTXO", i);
            spent[i] = orig->inputs[i].witness_utxo;
        }
        check(kura_sighash_cache_init(&cache, tx, spent), "sighash cache", NULL);
        for (size_t i = 0; i < orig->input_count; i++) {
            const kura_psbt_input *oi = &orig->inputs[i], *si = &sgn->inputs[i];
            const uint8_t *prog;
            size_t prog_len, want = 0;
            unsigned ver;
            uint8_t sighash[32];
            kura_script_type st = kura_script_classify(spent[i].script_pubkey.data,
                                                       spent[i].script_pubkey.len, &prog,
                                                       &prog_len, &ver);
            if (c == CASE_P2TR) {
                if (st != KURA_SCRIPT_P2TR) die("input %zu is not P2TR", i);
                if (si->tap_key_sig_len != 64)
                    return fail_check(file, "input %zu: no 64-byte taproot key-path signature "
                                            "(length %zu)", i, si->tap_key_sig_len);
                check(kura_sighash_taproot(sighash, tx, &cache, spent, i, KURA_SIGHASH_DEFAULT,
                                           NULL, 0xffffffffu, NULL, 0),
                      "sighash", NULL);
                if (kura_schnorr_verify(ctx, si->tap_key_sig, sighash, 32, prog) != KURA_OK)
                    return fail_check(file, "input %zu: the key-path signature does not verify", i);
                nsig++;
                continue;
            }
            uint8_t code_buf[25];
            const uint8_t *code;
            size_t code_len;
            if (c == CASE_P2WPKH) {
                if (st != KURA_SCRIPT_P2WPKH) die("input %zu is not P2WPKH", i);
                check(kura_script_p2pkh(code_buf, sizeof(code_buf), &code_len, prog), "code", NULL);
                code = code_buf;
            } else {
                if (st != KURA_SCRIPT_P2WSH || !oi->has_witness_script) die("input %zu is not P2WSH", i);
                code = oi->witness_script.data;
                code_len = oi->witness_script.len;
            }
            check(kura_sighash_segwit_v0(sighash, tx, &cache, i, code, code_len, spent[i].amount,
                                         KURA_SIGHASH_ALL),
                  "sighash", NULL);
            for (size_t j = 0; j < oi->bip32_count; j++) {
                const kura_psbt_partial_sig *ps;
                int ours = 0;
                for (size_t s = 0; s < w.nsign; s++)
                    ours |= memcmp(oi->bip32[j].origin.fingerprint, fps[s], 4) == 0;
                if (!ours) continue;
                want++;
                ps = find_sig(si, oi->bip32[j].pubkey);
                if (ps == NULL)
                    return fail_check(file, "input %zu: no signature by key %zu", i, j);
                if (ps->sig_len < 9 || ps->sig[ps->sig_len - 1] != KURA_SIGHASH_ALL)
                    return fail_check(file, "input %zu: signature is not SIGHASH_ALL", i);
                if (kura_ecdsa_verify(ctx, ps->pubkey, 33, sighash, ps->sig, ps->sig_len - 1) !=
                    KURA_OK)
                    return fail_check(file, "input %zu: signature by key %zu does not verify", i, j);
                nsig++;
            }
            if (want != w.nsign || si->partial_sig_count != want)
                return fail_check(file, "input %zu: %zu signatures, expected %zu", i,
                                  si->partial_sig_count, w.nsign);
        }
        kura_tx_free(tx);
        free(spent);
        wallet_free(&w);
    }
    printf("{\"ok\":true,\"file\":\"%s\",\"signatures\":%zu,\"identical_to_input\":%s}\n", file,
           nsig, identical ? "true" : "false");
    kura_psbt_free(orig);
    kura_psbt_free(sgn);
    free(obytes);
    free(sbytes);
    return 0;
}

int main(int argc, char **argv)
{
    int rc;
    ctx = kura_ctx_new();
    if (ctx == NULL) die("kura_ctx_new failed");
    if (argc == 3 && strcmp(argv[1], "prepare") == 0)
        rc = cmd_prepare(argv[2]);
    else if (argc == 4 && strcmp(argv[1], "time") == 0)
        rc = cmd_time(argv[2], (size_t)strtoul(argv[3], NULL, 10));
    else if (argc == 5 && strcmp(argv[1], "profile") == 0)
        rc = cmd_profile(argv[2], argv[3], (size_t)strtoul(argv[4], NULL, 10));
    else if (argc == 3 && strcmp(argv[1], "chain") == 0) {
        /* Measurement 8 alone (bench/README.md), for quick runs. */
        size_t runs = (size_t)strtoul(argv[2], NULL, 10);
        if (runs == 0 || runs > MAX_RUNS) die("runs must be 1..%d", MAX_RUNS);
        printf("{");
        chain_time(ctx, KURA_CHAIN_BLOCK, runs);
        printf("}\n");
        rc = 0;
    } else if (argc == 5 && strcmp(argv[1], "verify") == 0)
        rc = cmd_verify(argv[2], argv[3], argv[4]);
    else {
        fprintf(stderr, "usage: kura-bench prepare DIR | time DIR RUNS | profile DIR CASE RUNS |"
                        " verify DIR CASE FILE | chain RUNS\n");
        rc = 2;
    }
    kura_ctx_free(ctx);
    return rc;
}
