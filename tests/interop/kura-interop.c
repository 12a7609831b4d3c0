/*
 * kura-interop — kura's side of the interoperability tests: the four wallet
 * kinds from fixed seeds, PSBTs built, signed, combined, finalized and
 * verified by libkura, for the scripts in tests/interop/ to hand to and take
 * from Electrum, bitcoinjs-lib and @scure/btc-signer.
 *
 *   kura-interop descriptor KIND             the wallet as JSON (descriptor, keys)
 *   kura-interop create KIND                 a base64 PSBT spending 3 coins
 *   kura-interop sign PSBT XPRV [INPUTS]     sign (every input, or "0,2")
 *   kura-interop combine PSBT PSBT           BIP174 combiner
 *   kura-interop finalize PSBT               finalize and extract: tx hex
 *   kura-interop verify PSBT                 verify every signature: prints the count
 *   kura-interop verify-tx PSBT TXHEX        verify a signed tx spending PSBT's inputs
 *   kura-interop match KIND PSBT             another updater's fields equal kura's
 *   kura-interop addresses DESCRIPTOR BRANCH COUNT
 *   kura-interop corrupt PSBT INPUT          flip a byte of input's first signature
 *
 * KIND is wpkh, wsh, tr or tr-multi_a. PSBT arguments are files holding
 * base64 ("-" is stdin). Results go to stdout; errors to stderr as
 * "kura-interop: <command>: <reason>". Exit codes: 0 done, 1 the data was
 * refused (a signature that does not verify, a PSBT that does not match),
 * 2 could not run (usage, unreadable file, no memory).
 *
 * The seeds are fixed so that every run builds the same wallets; none of
 * these keys may ever hold real coins.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "kura/descriptor.h"
#include "kura/encoding.h"
#include "kura/keys.h"
#include "kura/psbt.h"
#include "kura/script.h"
#include "kura/tx.h"
#include "kura/wallet.h"

#define EXIT_REFUSED 1
#define EXIT_CANNOT 2
#define MAX_FILE (4u * 1024u * 1024u * 2u)
#define MAX_SIGNERS 3
#define N_COINS 3

#define NUMS_KEY "50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0"
#define PAYMENT_ADDRESS "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"

static const char *command = "kura-interop";

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "kura-interop: %s: ", command);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

/* Refused data (KURA_EDATA, KURA_ERANGE) exits 1; anything else 2. */
static int fail_status(int rc, const kura_error *err, const char *what)
{
    int code = (rc == KURA_EDATA || rc == KURA_ERANGE) ? EXIT_REFUSED : EXIT_CANNOT;
    return fail(code, "%s: %s (%s)", what, err->message[0] ? err->message : "failed",
                kura_status_name(rc));
}

/* ---- the wallets ---- */

typedef struct kind_spec {
    const char *name;
    size_t n_signers;
    unsigned threshold;      /* 1 for the single-key kinds */
    uint8_t seed_byte;       /* signer i's seed is 32 bytes of seed_byte + i */
    const char *path;        /* account path */
    const char *prefix;      /* descriptor text before the keys */
    const char *suffix;      /* and after them */
} kind_spec;

static const kind_spec kinds[] = {
    {"wpkh", 1, 1, 0xa1, "84h/0h/0h", "wpkh(", ")"},
    {"wsh", 3, 2, 0xb1, "48h/0h/0h/2h", "wsh(sortedmulti(2,", "))"},
    {"tr", 1, 1, 0xc1, "86h/0h/0h", "tr(", ")"},
    {"tr-multi_a", 3, 2, 0xd1, "48h/0h/0h/3h", "tr(" NUMS_KEY ",sortedmulti_a(2,", "))"},
};

typedef struct wallet {
    const kind_spec *spec;
    uint8_t seeds[MAX_SIGNERS][32];
    kura_bip32_key masters[MAX_SIGNERS];
    kura_bip32_key accounts[MAX_SIGNERS]; /* public */
    uint8_t fingerprints[MAX_SIGNERS][4];
    char *text;                           /* the multipath descriptor with checksum */
    kura_descriptor *desc;
} wallet;

static void wallet_free(wallet *w)
{
    for (size_t i = 0; i < MAX_SIGNERS; i++) {
        kura_bip32_wipe(&w->masters[i]);
        sodium_memzero(w->seeds[i], 32);
    }
    free(w->text);
    kura_descriptor_free(w->desc);
    memset(w, 0, sizeof(*w));
}

static int wallet_load(wallet *w, const kura_ctx *ctx, const char *kind)
{
    const kind_spec *spec = NULL;
    uint32_t path[KURA_BIP32_PATH_MAX];
    size_t path_len;
    kura_error err;
    char body[4096];
    size_t at;
    int rc;

    memset(w, 0, sizeof(*w));
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
        if (strcmp(kinds[k].name, kind) == 0) spec = &kinds[k];
    if (spec == NULL) return fail(EXIT_CANNOT, "unknown kind \"%s\" (wpkh, wsh, tr, tr-multi_a)", kind);
    w->spec = spec;
    if (kura_bip32_path_parse(path, KURA_BIP32_PATH_MAX, &path_len, spec->path, &err) != KURA_OK)
        return fail(EXIT_CANNOT, "path: %s", err.message);
    at = (size_t)snprintf(body, sizeof(body), "%s", spec->prefix);
    for (size_t i = 0; i < spec->n_signers; i++) {
        kura_bip32_key acct;
        char xpub[KURA_BIP32_SERIALIZED_LEN];
        const uint8_t *fp = w->fingerprints[i];
        memset(w->seeds[i], spec->seed_byte + (int)i, 32);
        rc = kura_bip32_from_seed(ctx, &w->masters[i], w->seeds[i], 32, KURA_NETWORK_MAINNET);
        if (rc == KURA_OK) rc = kura_bip32_derive_path(ctx, &acct, &w->masters[i], path, path_len);
        if (rc != KURA_OK) return fail(EXIT_CANNOT, "cannot derive signer %zu", i);
        kura_bip32_neuter(&w->accounts[i], &acct);
        kura_bip32_wipe(&acct);
        if (kura_bip32_fingerprint(w->fingerprints[i], &w->masters[i]) != KURA_OK ||
            kura_bip32_serialize(xpub, sizeof(xpub), &w->accounts[i], 0) != KURA_OK)
            return fail(EXIT_CANNOT, "cannot serialise signer %zu", i);
        at += (size_t)snprintf(body + at, sizeof(body) - at, "%s[%02x%02x%02x%02x/%s]%s/<0;1>/*",
                               i > 0 ? "," : "", fp[0], fp[1], fp[2], fp[3], spec->path, xpub);
        if (at >= sizeof(body)) return fail(EXIT_CANNOT, "descriptor too long");
    }
    at += (size_t)snprintf(body + at, sizeof(body) - at, "%s", spec->suffix);
    if (at >= sizeof(body)) return fail(EXIT_CANNOT, "descriptor too long");
    rc = kura_descriptor_parse(ctx, &w->desc, body, strlen(body), &err);
    if (rc != KURA_OK) return fail_status(rc, &err, "descriptor");
    rc = kura_descriptor_to_string(ctx, &w->text, w->desc, KURA_DESCRIPTOR_ALL_BRANCHES,
                                   KURA_DESCRIPTOR_PUBLIC, &err);
    if (rc != KURA_OK) return fail_status(rc, &err, "descriptor");
    return 0;
}

/* ---- files ---- */

/* Reads a whole file ("-" for stdin), NUL-terminated, trailing whitespace cut. */
static char *read_text(const char *path, size_t *len_out)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    *len_out = 0;
    if (f == NULL) return NULL;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            size_t ncap = cap == 0 ? 65536 : cap * 2;
            char *n;
            if (ncap > MAX_FILE + 1) {
                errno = EFBIG;
                goto bad;
            }
            n = realloc(buf, ncap);
            if (n == NULL) goto bad;
            buf = n;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0) break;
    }
    if (ferror(f)) goto bad;
    if (f != stdin) fclose(f);
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
        len--;
    buf[len] = '\0';
    *len_out = len;
    return buf;
bad:
    if (f != stdin) fclose(f);
    free(buf);
    return NULL;
}

static int load_psbt(kura_psbt **out, const char *path)
{
    size_t len;
    kura_error err;
    char *text = read_text(path, &len);
    int rc;
    *out = NULL;
    if (text == NULL) return fail(EXIT_CANNOT, "%s: %s", path, strerror(errno));
    rc = kura_psbt_from_base64(out, text, len, &err);
    free(text);
    if (rc != KURA_OK) return fail_status(rc, &err, path);
    return 0;
}

static int print_psbt(const kura_psbt *psbt)
{
    char *b64 = NULL;
    int rc = kura_psbt_to_base64(&b64, NULL, psbt);
    if (rc != KURA_OK) return fail(EXIT_CANNOT, "cannot serialise the PSBT (%s)", kura_status_name(rc));
    printf("%s\n", b64);
    free(b64);
    return 0;
}

static int print_tx(const kura_tx *tx)
{
    size_t size = kura_tx_serialized_size(tx, KURA_TX_WITNESS), written;
    uint8_t *bytes = malloc(size);
    char *hex = malloc(2 * size + 1);
    int code = 0;
    if (bytes == NULL || hex == NULL ||
        kura_tx_serialize(bytes, size, &written, tx, KURA_TX_WITNESS) != KURA_OK ||
        kura_hex_encode(hex, 2 * size + 1, bytes, written) != KURA_OK)
        code = fail(EXIT_CANNOT, "cannot serialise the transaction");
    else
        printf("%s\n", hex);
    free(bytes);
    free(hex);
    return code;
}

static void hex_line(char *out, size_t out_len, const uint8_t *b, size_t len)
{
    if (kura_hex_encode(out, out_len, b, len) != KURA_OK && out_len > 0) out[0] = '\0';
}

/* ---- commands ---- */

static int cmd_descriptor(const kura_ctx *ctx, int argc, char **argv)
{
    wallet w;
    int code;
    if (argc != 1) return fail(EXIT_CANNOT, "usage: descriptor KIND");
    if ((code = wallet_load(&w, ctx, argv[0])) != 0) {
        wallet_free(&w);
        return code;
    }
    printf("{\n  \"kind\": \"%s\",\n  \"network\": \"bitcoin\",\n  \"descriptor\": \"%s\",\n",
           w.spec->name, w.text);
    printf("  \"threshold\": %u,\n  \"path\": \"m/%s\",\n", w.spec->threshold, w.spec->path);
    if (strncmp(w.spec->name, "tr-", 3) == 0) printf("  \"internal_key\": \"%s\",\n", NUMS_KEY);
    printf("  \"signers\": [\n");
    for (size_t i = 0; i < w.spec->n_signers; i++) {
        char xprv[KURA_BIP32_SERIALIZED_LEN], xpub[KURA_BIP32_SERIALIZED_LEN], seed[65], fp[9];
        if (kura_bip32_serialize(xprv, sizeof(xprv), &w.masters[i], 1) != KURA_OK ||
            kura_bip32_serialize(xpub, sizeof(xpub), &w.accounts[i], 0) != KURA_OK) {
            wallet_free(&w);
            return fail(EXIT_CANNOT, "cannot serialise signer %zu", i);
        }
        hex_line(seed, sizeof(seed), w.seeds[i], 32);
        hex_line(fp, sizeof(fp), w.fingerprints[i], 4);
        /* Test keys from fixed seeds: printing them is the point here. */
        printf("    {\"seed\": \"%s\", \"xprv\": \"%s\", \"fingerprint\": \"%s\", "
               "\"account_xpub\": \"%s\"}%s\n",
               seed, xprv, fp, xpub, i + 1 < w.spec->n_signers ? "," : "");
        sodium_memzero(xprv, sizeof(xprv));
        sodium_memzero(seed, sizeof(seed));
    }
    printf("  ]\n}\n");
    wallet_free(&w);
    return 0;
}

/* A funding transaction paying `amount` to the wallet at (branch, index) as its
 * output 1 (output 0 is an OP_RETURN, so vout 0 is never assumed). */
static int funding_tx(kura_tx **out, const kura_ctx *ctx, const kura_descriptor *d, size_t branch,
                      uint32_t index, uint64_t amount, uint8_t tag)
{
    uint8_t script[KURA_SCRIPT_PUBKEY_MAX], prev[32];
    size_t len;
    kura_tx *tx = kura_tx_new();
    *out = NULL;
    if (tx == NULL) return KURA_ENOMEM;
    memset(prev, tag, 32);
    int rc = kura_tx_add_input(tx, prev, tag, 0xffffffffu, NULL, 0);
    if (rc == KURA_OK)
        rc = kura_descriptor_script_pubkey(ctx, script, sizeof(script), &len, d, branch, index, NULL);
    if (rc == KURA_OK) rc = kura_tx_add_output(tx, 1000, (const uint8_t *)"\x6a\x01\x2a", 3);
    if (rc == KURA_OK) rc = kura_tx_add_output(tx, amount, script, len);
    if (rc != KURA_OK) {
        kura_tx_free(tx);
        return rc;
    }
    *out = tx;
    return KURA_OK;
}

static int cmd_create(const kura_ctx *ctx, int argc, char **argv)
{
    /* Receive and change coins, one far beyond any gap limit, so that a peer
     * must learn the path from the PSBT rather than from its own scan. */
    static const size_t branches[N_COINS] = {0, 0, 1};
    static const uint32_t indexes[N_COINS] = {2, 250, 3};
    static const uint64_t amounts[N_COINS] = {150000, 90000, 60000};
    wallet w;
    kura_tx *funding[N_COINS] = {NULL, NULL, NULL};
    kura_wallet_coin coins[N_COINS];
    kura_psbt *psbt = NULL;
    uint8_t pay_script[KURA_SCRIPT_PUBKEY_MAX];
    size_t pay_len;
    kura_error err;
    int code = 0, rc = KURA_OK;

    if (argc != 1) return fail(EXIT_CANNOT, "usage: create KIND");
    if ((code = wallet_load(&w, ctx, argv[0])) != 0) goto done;
    memset(coins, 0, sizeof(coins));
    for (size_t i = 0; i < N_COINS && rc == KURA_OK; i++) {
        rc = funding_tx(&funding[i], ctx, w.desc, branches[i], indexes[i], amounts[i],
                        (uint8_t)(0x51 + i));
        if (rc == KURA_OK) rc = kura_tx_txid(coins[i].txid, funding[i]);
        coins[i].vout = 1;
        coins[i].amount = amounts[i];
        coins[i].branch = branches[i];
        coins[i].index = indexes[i];
        coins[i].prev_tx = funding[i];
    }
    if (rc != KURA_OK) {
        code = fail(EXIT_CANNOT, "cannot build the funding transactions (%s)", kura_status_name(rc));
        goto done;
    }
    rc = kura_address_to_script(pay_script, sizeof(pay_script), &pay_len, PAYMENT_ADDRESS,
                                KURA_NETWORK_MAINNET, &err);
    if (rc != KURA_OK) {
        code = fail_status(rc, &err, "payment address");
        goto done;
    }
    kura_wallet_payment pay = {pay_script, pay_len, 200000};
    rc = kura_wallet_create_psbt(ctx, &psbt, w.desc, coins, N_COINS, &pay, 1, 98000, 9, 0, &err);
    if (rc != KURA_OK) {
        code = fail_status(rc, &err, "create");
        goto done;
    }
    code = print_psbt(psbt);
done:
    kura_psbt_free(psbt);
    for (size_t i = 0; i < N_COINS; i++) kura_tx_free(funding[i]);
    wallet_free(&w);
    return code;
}

/* Parses "0,2" into a flag per input. */
static int parse_inputs(uint8_t *want, size_t count, const char *list)
{
    const char *p = list;
    memset(want, 0, count);
    while (*p != '\0') {
        char *end;
        errno = 0;
        unsigned long v = strtoul(p, &end, 10);
        if (end == p || errno != 0 || v >= count || (*end != ',' && *end != '\0')) return -1;
        want[v] = 1;
        p = *end == ',' ? end + 1 : end;
    }
    return 0;
}

/* Signs input i with every key of `master` the input records a derivation for
 * (BIP32 for ECDSA, TAP_BIP32 for Schnorr). Returns the signatures added. */
static int sign_one_input(const kura_ctx *ctx, kura_psbt *psbt, size_t i,
                          const kura_bip32_key *master, size_t *added, kura_error *err)
{
    uint8_t fp[4];
    const kura_psbt_input *in = &psbt->inputs[i];
    size_t n = in->bip32_count + in->tap_bip32_count;
    int rc = kura_bip32_fingerprint(fp, master);
    if (rc != KURA_OK) return rc;
    for (size_t k = 0; k < n; k++) {
        /* Re-read each time: signing reallocates the input's arrays. */
        in = &psbt->inputs[i];
        const kura_psbt_keyorigin *o;
        const uint8_t *key;
        size_t key_len;
        kura_bip32_key child;
        if (k < in->bip32_count) {
            o = &in->bip32[k].origin;
            key = in->bip32[k].pubkey;
            key_len = in->bip32[k].pubkey_len;
        } else {
            o = &in->tap_bip32[k - in->bip32_count].origin;
            key = in->tap_bip32[k - in->bip32_count].xonly;
            key_len = 32;
        }
        if (memcmp(o->fingerprint, fp, 4) != 0) continue;
        rc = kura_bip32_derive_path(ctx, &child, master, o->path, o->path_len);
        if (rc != KURA_OK) return rc;
        if (memcmp(child.pub + (key_len == 32 ? 1 : 0), key, key_len) != 0) {
            kura_bip32_wipe(&child);
            err->code = KURA_EDATA;
            snprintf(err->message, sizeof(err->message),
                     "input %zu: the derivation record does not give its key", i);
            return KURA_EDATA;
        }
        rc = kura_psbt_sign_input(ctx, psbt, i, child.priv, 0, err);
        kura_bip32_wipe(&child);
        if (rc == KURA_ENOTFOUND) continue;
        if (rc != KURA_OK) return rc;
        (*added)++;
    }
    return KURA_OK;
}

static int cmd_sign(const kura_ctx *ctx, int argc, char **argv)
{
    kura_psbt *psbt = NULL;
    kura_bip32_key master;
    kura_error err;
    uint8_t *want = NULL;
    size_t added = 0;
    int code, rc;

    memset(&master, 0, sizeof(master));
    memset(&err, 0, sizeof(err));
    if (argc != 2 && argc != 3) return fail(EXIT_CANNOT, "usage: sign PSBT XPRV [INPUTS]");
    if ((code = load_psbt(&psbt, argv[0])) != 0) return code;
    rc = kura_bip32_parse(ctx, &master, argv[1], &err);
    if (rc != KURA_OK || !master.has_private) {
        code = fail(EXIT_CANNOT, "not an extended private key");
        goto done;
    }
    if (argc == 2) {
        rc = kura_psbt_sign_bip32(ctx, psbt, &added, &master, 0, &err);
    } else {
        want = malloc(psbt->input_count > 0 ? psbt->input_count : 1);
        if (want == NULL || parse_inputs(want, psbt->input_count, argv[2]) != 0) {
            code = fail(EXIT_CANNOT, "bad input list \"%s\"", argv[2]);
            goto done;
        }
        rc = KURA_OK;
        for (size_t i = 0; i < psbt->input_count && rc == KURA_OK; i++)
            if (want[i]) rc = sign_one_input(ctx, psbt, i, &master, &added, &err);
        if (rc == KURA_OK && added == 0) {
            rc = KURA_ENOTFOUND;
            snprintf(err.message, sizeof(err.message), "no input names this key");
        }
    }
    if (rc != KURA_OK) {
        code = fail_status(rc, &err, "sign");
        goto done;
    }
    fprintf(stderr, "kura-interop: sign: %zu signatures\n", added);
    code = print_psbt(psbt);
done:
    kura_bip32_wipe(&master);
    free(want);
    kura_psbt_free(psbt);
    return code;
}

static int cmd_combine(int argc, char **argv)
{
    kura_psbt *a = NULL, *b = NULL;
    kura_error err;
    int code, rc;
    if (argc != 2) return fail(EXIT_CANNOT, "usage: combine PSBT PSBT");
    if ((code = load_psbt(&a, argv[0])) != 0) return code;
    if ((code = load_psbt(&b, argv[1])) != 0) goto done;
    rc = kura_psbt_combine(a, b, &err);
    code = rc != KURA_OK ? fail_status(rc, &err, "combine") : print_psbt(a);
done:
    kura_psbt_free(a);
    kura_psbt_free(b);
    return code;
}

static int cmd_finalize(int argc, char **argv)
{
    kura_psbt *psbt = NULL;
    kura_tx *tx = NULL;
    kura_error err;
    int code, rc;
    if (argc != 1) return fail(EXIT_CANNOT, "usage: finalize PSBT");
    if ((code = load_psbt(&psbt, argv[0])) != 0) return code;
    rc = kura_psbt_finalize(psbt, &err);
    if (rc == KURA_OK) rc = kura_psbt_extract(&tx, psbt, &err);
    code = rc != KURA_OK ? fail_status(rc, &err, "finalize") : print_tx(tx);
    kura_tx_free(tx);
    kura_psbt_free(psbt);
    return code;
}

static int cmd_verify(const kura_ctx *ctx, int argc, char **argv)
{
    kura_psbt *psbt = NULL;
    kura_error err;
    size_t checked = 0;
    int code, rc;
    if (argc != 1) return fail(EXIT_CANNOT, "usage: verify PSBT");
    if ((code = load_psbt(&psbt, argv[0])) != 0) return code;
    rc = kura_wallet_verify_psbt(ctx, &checked, psbt, &err);
    if (rc != KURA_OK)
        code = fail_status(rc, &err, "verify");
    else
        printf("%zu\n", checked);
    kura_psbt_free(psbt);
    return code;
}

/* The signed transaction spends exactly the PSBT's unsigned transaction (same
 * txid, which commits to everything but the signatures), and every signature
 * in it verifies against the PSBT's UTXOs. */
static int cmd_verify_tx(const kura_ctx *ctx, int argc, char **argv)
{
    kura_psbt *psbt = NULL;
    kura_tx *tx = NULL, *unsigned_tx = NULL;
    kura_txout *spent = NULL;
    kura_error err;
    uint8_t *bytes = NULL, id1[32], id2[32];
    size_t len, checked = 0;
    int code, rc;
    if (argc != 2) return fail(EXIT_CANNOT, "usage: verify-tx PSBT TXHEX");
    if ((code = load_psbt(&psbt, argv[0])) != 0) return code;
    len = strlen(argv[1]) / 2;
    bytes = malloc(len > 0 ? len : 1);
    if (bytes == NULL) {
        code = fail(EXIT_CANNOT, "out of memory");
        goto done;
    }
    rc = kura_hex_decode(bytes, len, &len, argv[1], &err);
    if (rc == KURA_OK) rc = kura_tx_parse(&tx, bytes, len, KURA_TX_WITNESS, &err);
    if (rc == KURA_OK) rc = kura_psbt_unsigned_tx(&unsigned_tx, psbt, &err);
    if (rc != KURA_OK) {
        code = fail_status(rc, &err, "transaction");
        goto done;
    }
    if (kura_tx_txid(id1, tx) != KURA_OK || kura_tx_txid(id2, unsigned_tx) != KURA_OK ||
        memcmp(id1, id2, 32) != 0) {
        code = fail(EXIT_REFUSED, "the transaction is not the PSBT's");
        goto done;
    }
    spent = calloc(psbt->input_count > 0 ? psbt->input_count : 1, sizeof(*spent));
    if (spent == NULL) {
        code = fail(EXIT_CANNOT, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < psbt->input_count; i++) {
        const kura_psbt_input *in = &psbt->inputs[i];
        if (in->has_witness_utxo) {
            spent[i] = in->witness_utxo;
        } else if (in->non_witness_utxo != NULL &&
                   in->prev_vout < in->non_witness_utxo->output_count) {
            spent[i] = in->non_witness_utxo->outputs[in->prev_vout];
        } else {
            code = fail(EXIT_REFUSED, "input %zu: the PSBT has no UTXO", i);
            goto done;
        }
    }
    rc = kura_wallet_verify_tx(ctx, &checked, tx, spent, &err);
    if (rc != KURA_OK)
        code = fail_status(rc, &err, "verify-tx");
    else
        printf("%zu\n", checked);
done:
    free(spent);
    free(bytes);
    kura_tx_free(unsigned_tx);
    kura_tx_free(tx);
    kura_psbt_free(psbt);
    return code;
}

/* ---- match: another updater's fields equal what kura derives ---- */

static int origin_equal(const kura_psbt_keyorigin *a, const kura_psbt_keyorigin *b)
{
    return memcmp(a->fingerprint, b->fingerprint, 4) == 0 && a->path_len == b->path_len &&
           (a->path_len == 0 || memcmp(a->path, b->path, a->path_len * sizeof(uint32_t)) == 0);
}

static int bytes_equal(const kura_bytes *a, const kura_bytes *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* The derivation records that matter here are those naming one of the
 * wallet's master fingerprints. kura also records a key written without an
 * origin (the NUMS internal key of tr-multi_a) under its own fingerprint and
 * an empty path, as Bitcoin Core does; BIP371 does not ask for that and other
 * updaters leave it out, so such records are not compared. */
static int is_wallet_origin(const wallet *w, const kura_psbt_keyorigin *o)
{
    for (size_t s = 0; s < w->spec->n_signers; s++)
        if (memcmp(o->fingerprint, w->fingerprints[s], 4) == 0) return 1;
    return 0;
}

/* Every wallet-origin BIP32 record of `a` is in `b` with the same origin. */
static int bip32_subset(const wallet *w, const kura_psbt_bip32 *a, size_t na,
                        const kura_psbt_bip32 *b, size_t nb)
{
    for (size_t i = 0; i < na; i++) {
        int found = 0;
        if (!is_wallet_origin(w, &a[i].origin)) continue;
        for (size_t j = 0; j < nb && !found; j++)
            found = a[i].pubkey_len == b[j].pubkey_len &&
                    memcmp(a[i].pubkey, b[j].pubkey, a[i].pubkey_len) == 0 &&
                    origin_equal(&a[i].origin, &b[j].origin);
        if (!found) return 0;
    }
    return 1;
}

static int bip32_sets_equal(const wallet *w, const kura_psbt_bip32 *want, size_t nw,
                            const kura_psbt_bip32 *got, size_t ng)
{
    return bip32_subset(w, want, nw, got, ng) && bip32_subset(w, got, ng, want, nw);
}

/* The same for TAP_BIP32 records, leaf hashes included (as sets). */
static int tap_bip32_subset(const wallet *w, const kura_psbt_tap_bip32 *a, size_t na,
                            const kura_psbt_tap_bip32 *b, size_t nb)
{
    for (size_t i = 0; i < na; i++) {
        const kura_psbt_tap_bip32 *g = NULL;
        if (!is_wallet_origin(w, &a[i].origin)) continue;
        for (size_t j = 0; j < nb && g == NULL; j++)
            if (memcmp(a[i].xonly, b[j].xonly, 32) == 0) g = &b[j];
        if (g == NULL || !origin_equal(&a[i].origin, &g->origin) ||
            g->leaf_hash_count != a[i].leaf_hash_count)
            return 0;
        for (size_t h = 0; h < a[i].leaf_hash_count; h++) {
            int found = 0;
            for (size_t k = 0; k < g->leaf_hash_count && !found; k++)
                found = memcmp(a[i].leaf_hashes + 32 * h, g->leaf_hashes + 32 * k, 32) == 0;
            if (!found) return 0;
        }
    }
    return 1;
}

static int tap_bip32_sets_equal(const wallet *w, const kura_psbt_tap_bip32 *want, size_t nw,
                                const kura_psbt_tap_bip32 *got, size_t ng)
{
    return tap_bip32_subset(w, want, nw, got, ng) && tap_bip32_subset(w, got, ng, want, nw);
}

/* (branch, index) from the first derivation record naming one of the wallet's
 * master fingerprints: the last two steps of its path. */
static int find_position(size_t *branch, uint32_t *index, const wallet *w,
                         const kura_psbt_bip32 *b, size_t nb, const kura_psbt_tap_bip32 *t,
                         size_t nt)
{
    for (size_t k = 0; k < nb + nt; k++) {
        const kura_psbt_keyorigin *o = k < nb ? &b[k].origin : &t[k - nb].origin;
        for (size_t s = 0; s < w->spec->n_signers; s++) {
            if (memcmp(o->fingerprint, w->fingerprints[s], 4) != 0 || o->path_len < 2) continue;
            *branch = o->path[o->path_len - 2];
            *index = o->path[o->path_len - 1];
            return *branch <= 1 && *index < KURA_BIP32_HARDENED;
        }
    }
    return 0;
}

static int match_input(const wallet *w, const kura_psbt_input *want, const kura_psbt_input *got, size_t i)
{
    if (!bytes_equal(&want->witness_utxo.script_pubkey, &got->witness_utxo.script_pubkey) ||
        want->witness_utxo.amount != got->witness_utxo.amount)
        return fail(EXIT_REFUSED, "input %zu: the spent output differs", i);
    if (want->has_witness_script != got->has_witness_script ||
        !bytes_equal(&want->witness_script, &got->witness_script))
        return fail(EXIT_REFUSED, "input %zu: the witness script differs", i);
    if (want->has_redeem_script != got->has_redeem_script ||
        !bytes_equal(&want->redeem_script, &got->redeem_script))
        return fail(EXIT_REFUSED, "input %zu: the redeem script differs", i);
    if (!bip32_sets_equal(w, want->bip32, want->bip32_count, got->bip32, got->bip32_count))
        return fail(EXIT_REFUSED, "input %zu: the BIP32 derivations differ", i);
    if (want->has_tap_internal_key != got->has_tap_internal_key ||
        (want->has_tap_internal_key && memcmp(want->tap_internal_key, got->tap_internal_key, 32) != 0))
        return fail(EXIT_REFUSED, "input %zu: the taproot internal key differs", i);
    /* BIP371 makes the merkle root optional for an updater that gives the leaves. */
    if (got->has_tap_merkle_root &&
        (!want->has_tap_merkle_root || memcmp(want->tap_merkle_root, got->tap_merkle_root, 32) != 0))
        return fail(EXIT_REFUSED, "input %zu: the taproot merkle root differs", i);
    if (want->tap_leaf_script_count != got->tap_leaf_script_count)
        return fail(EXIT_REFUSED, "input %zu: %zu leaf scripts, kura derives %zu", i,
                    got->tap_leaf_script_count, want->tap_leaf_script_count);
    for (size_t l = 0; l < want->tap_leaf_script_count; l++) {
        int found = 0;
        for (size_t k = 0; k < got->tap_leaf_script_count && !found; k++)
            found = bytes_equal(&want->tap_leaf_scripts[l].script, &got->tap_leaf_scripts[k].script) &&
                    bytes_equal(&want->tap_leaf_scripts[l].control_block,
                                &got->tap_leaf_scripts[k].control_block) &&
                    want->tap_leaf_scripts[l].leaf_version == got->tap_leaf_scripts[k].leaf_version;
        if (!found) return fail(EXIT_REFUSED, "input %zu: leaf script %zu differs", i, l);
    }
    if (!tap_bip32_sets_equal(w, want->tap_bip32, want->tap_bip32_count, got->tap_bip32,
                              got->tap_bip32_count))
        return fail(EXIT_REFUSED, "input %zu: the taproot BIP32 derivations differ", i);
    return 0;
}

static int match_output(const wallet *w, const kura_psbt_output *want, const kura_psbt_output *got, size_t o)
{
    if (want->has_witness_script != got->has_witness_script ||
        !bytes_equal(&want->witness_script, &got->witness_script))
        return fail(EXIT_REFUSED, "output %zu: the witness script differs", o);
    if (!bip32_sets_equal(w, want->bip32, want->bip32_count, got->bip32, got->bip32_count))
        return fail(EXIT_REFUSED, "output %zu: the BIP32 derivations differ", o);
    if (want->has_tap_internal_key != got->has_tap_internal_key ||
        (want->has_tap_internal_key && memcmp(want->tap_internal_key, got->tap_internal_key, 32) != 0))
        return fail(EXIT_REFUSED, "output %zu: the taproot internal key differs", o);
    if (want->tap_tree_count != got->tap_tree_count)
        return fail(EXIT_REFUSED, "output %zu: the taproot tree differs", o);
    for (size_t l = 0; l < want->tap_tree_count; l++)
        if (want->tap_tree[l].depth != got->tap_tree[l].depth ||
            want->tap_tree[l].leaf_version != got->tap_tree[l].leaf_version ||
            !bytes_equal(&want->tap_tree[l].script, &got->tap_tree[l].script))
            return fail(EXIT_REFUSED, "output %zu: taproot leaf %zu differs", o, l);
    if (!tap_bip32_sets_equal(w, want->tap_bip32, want->tap_bip32_count, got->tap_bip32,
                              got->tap_bip32_count))
        return fail(EXIT_REFUSED, "output %zu: the taproot BIP32 derivations differ", o);
    return 0;
}

/* For each input and each output that records a derivation by the wallet's
 * keys, kura's own updater (from the descriptor at the recorded branch and
 * index) must write the same scripts, keys, origins and taproot data. Prints
 * "INPUTS OUTPUTS", the numbers matched. */
static int cmd_match(const kura_ctx *ctx, int argc, char **argv)
{
    wallet w;
    kura_psbt *got = NULL, *want = NULL;
    kura_tx *tx = NULL;
    kura_descriptor_output *work = NULL;
    kura_error err;
    size_t n_in = 0, n_out = 0;
    int code, rc;

    if (argc != 2) return fail(EXIT_CANNOT, "usage: match KIND PSBT");
    if ((code = wallet_load(&w, ctx, argv[0])) != 0) goto done;
    if ((code = load_psbt(&got, argv[1])) != 0) goto done;
    work = kura_descriptor_output_new();
    rc = work == NULL ? KURA_ENOMEM : kura_psbt_unsigned_tx(&tx, got, &err);
    if (rc == KURA_OK) rc = kura_psbt_from_tx(&want, tx, 0, &err);
    if (rc != KURA_OK) {
        code = fail(EXIT_CANNOT, "cannot start the reference PSBT (%s)", kura_status_name(rc));
        goto done;
    }
    for (size_t i = 0; i < got->input_count; i++) {
        const kura_psbt_input *g = &got->inputs[i];
        size_t branch;
        uint32_t index;
        if (!find_position(&branch, &index, &w, g->bip32, g->bip32_count, g->tap_bip32,
                           g->tap_bip32_count)) {
            code = fail(EXIT_REFUSED, "input %zu names none of the wallet's keys", i);
            goto done;
        }
        if (!g->has_witness_utxo) {
            code = fail(EXIT_REFUSED, "input %zu has no witness UTXO", i);
            goto done;
        }
        rc = kura_wallet_update_input(ctx, want, i, work, w.desc, branch, index,
                                      g->witness_utxo.amount, NULL, &err);
        if (rc != KURA_OK) {
            code = fail_status(rc, &err, "update_input");
            goto done;
        }
        if ((code = match_input(&w, &want->inputs[i], g, i)) != 0) goto done;
        n_in++;
    }
    for (size_t o = 0; o < got->output_count; o++) {
        const kura_psbt_output *g = &got->outputs[o];
        size_t branch;
        uint32_t index;
        if (!find_position(&branch, &index, &w, g->bip32, g->bip32_count, g->tap_bip32,
                           g->tap_bip32_count))
            continue; /* a payment */
        rc = kura_wallet_update_output(ctx, want, o, work, w.desc, branch, index, &err);
        if (rc != KURA_OK) {
            code = fail_status(rc, &err, "update_output");
            goto done;
        }
        if ((code = match_output(&w, &want->outputs[o], g, o)) != 0) goto done;
        n_out++;
    }
    printf("%zu %zu\n", n_in, n_out);
done:
    kura_descriptor_output_free(work);
    kura_psbt_free(want);
    kura_psbt_free(got);
    kura_tx_free(tx);
    wallet_free(&w);
    return code;
}

/* ---- addresses, corrupt ---- */

static int parse_count(unsigned long *out, const char *s, unsigned long max)
{
    char *end;
    errno = 0;
    *out = strtoul(s, &end, 10);
    return end != s && *end == '\0' && errno == 0 && *out <= max ? 0 : -1;
}

static int cmd_addresses(const kura_ctx *ctx, int argc, char **argv)
{
    kura_descriptor *d = NULL;
    kura_error err;
    unsigned long branch, count;
    int code = 0, rc;
    if (argc != 3) return fail(EXIT_CANNOT, "usage: addresses DESCRIPTOR BRANCH COUNT");
    if (parse_count(&branch, argv[1], 1000) != 0 || parse_count(&count, argv[2], 1000000) != 0)
        return fail(EXIT_CANNOT, "bad branch or count");
    rc = kura_descriptor_parse(ctx, &d, argv[0], strlen(argv[0]), &err);
    if (rc != KURA_OK) return fail_status(rc, &err, "descriptor");
    for (unsigned long i = 0; i < count; i++) {
        char addr[KURA_ADDRESS_MAX];
        rc = kura_descriptor_address(ctx, addr, sizeof(addr), d, branch, (uint32_t)i,
                                     KURA_NETWORK_MAINNET, &err);
        if (rc != KURA_OK) {
            code = fail_status(rc, &err, "address");
            break;
        }
        puts(addr);
    }
    kura_descriptor_free(d);
    return code;
}

/* Flips one bit inside input's first signature (partial, key-path,
 * script-path, or in the final witness, in that order): a negative control
 * for the peers' checks. */
static int cmd_corrupt(int argc, char **argv)
{
    kura_psbt *psbt = NULL;
    unsigned long i;
    int code;
    if (argc != 2) return fail(EXIT_CANNOT, "usage: corrupt PSBT INPUT");
    if ((code = load_psbt(&psbt, argv[0])) != 0) return code;
    if (parse_count(&i, argv[1], psbt->input_count > 0 ? psbt->input_count - 1 : 0) != 0 ||
        psbt->input_count == 0) {
        code = fail(EXIT_CANNOT, "bad input index");
    } else {
        /* The PSBT API keeps no invariant on signature bytes, so flipping one
         * in place is safe. */
        kura_psbt_input *in = &psbt->inputs[i];
        if (in->partial_sig_count > 0)
            in->partial_sigs[0].sig[10] ^= 0x01;
        else if (in->tap_key_sig_len > 0)
            in->tap_key_sig[10] ^= 0x01;
        else if (in->tap_script_sig_count > 0)
            in->tap_script_sigs[0].sig[10] ^= 0x01;
        else {
            /* A finalized input: the first witness item long enough to be a
             * signature (past a CHECKMULTISIG dummy or an unused key's
             * empty item). */
            size_t w = 0;
            while (w < in->final_script_witness_count && in->final_script_witness[w].len < 64) w++;
            if (w < in->final_script_witness_count)
                in->final_script_witness[w].data[10] ^= 0x01;
            else
                code = fail(EXIT_CANNOT, "input %lu has no signature", i);
        }
        if (code == 0) code = print_psbt(psbt);
    }
    kura_psbt_free(psbt);
    return code;
}

static int usage(void)
{
    fputs("usage: kura-interop descriptor KIND | create KIND | sign PSBT XPRV [INPUTS]\n"
          "                    | combine PSBT PSBT | finalize PSBT | verify PSBT\n"
          "                    | verify-tx PSBT TXHEX | match KIND PSBT\n"
          "                    | addresses DESCRIPTOR BRANCH COUNT | corrupt PSBT INPUT\n"
          "KIND: wpkh, wsh, tr, tr-multi_a\n",
          stderr);
    return EXIT_CANNOT;
}

int main(int argc, char **argv)
{
    kura_ctx *ctx;
    int code;
    if (argc < 2) return usage();
    command = argv[1];
    ctx = kura_ctx_new();
    if (ctx == NULL) return fail(EXIT_CANNOT, "cannot create a kura context");
    argc -= 2;
    argv += 2;
    if (strcmp(command, "descriptor") == 0)
        code = cmd_descriptor(ctx, argc, argv);
    else if (strcmp(command, "create") == 0)
        code = cmd_create(ctx, argc, argv);
    else if (strcmp(command, "sign") == 0)
        code = cmd_sign(ctx, argc, argv);
    else if (strcmp(command, "combine") == 0)
        code = cmd_combine(argc, argv);
    else if (strcmp(command, "finalize") == 0)
        code = cmd_finalize(argc, argv);
    else if (strcmp(command, "verify") == 0)
        code = cmd_verify(ctx, argc, argv);
    else if (strcmp(command, "verify-tx") == 0)
        code = cmd_verify_tx(ctx, argc, argv);
    else if (strcmp(command, "match") == 0)
        code = cmd_match(ctx, argc, argv);
    else if (strcmp(command, "addresses") == 0)
        code = cmd_addresses(ctx, argc, argv);
    else if (strcmp(command, "corrupt") == 0)
        code = cmd_corrupt(argc, argv);
    else
        code = usage();
    kura_ctx_free(ctx);
    return code;
}
