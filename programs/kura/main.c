/*
 * kura — the command-line tool over libkura: derive a wallet's addresses,
 * show a descriptor's canonical form, decode PSBTs and transactions, and a
 * demo of the whole PSBT flow for a 2-of-3 wallet.
 *
 * Errors go to stderr as "kura: <command>: <reason>". Exit codes: 0 done,
 * 1 the input was bad (a malformed descriptor, PSBT or transaction), 2 the
 * tool could not run (usage, unreadable file, no memory).
 */
#include <errno.h>
#include <inttypes.h>
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

#define EXIT_BADINPUT 1
#define EXIT_CANNOT 2
#define MAX_FILE (KURA_PSBT_MAX_SIZE * 2u)

static const char *command = "kura";

static int die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int die(int code, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "kura: %s: ", command);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

static int usage(void)
{
    fputs("usage: kura address DESCRIPTOR [--network bitcoin|testnet|regtest] [--branch N]\n"
          "                    [--from N] [--count N]\n"
          "       kura descriptor DESCRIPTOR     canonical public form, checksum, branches\n"
          "       kura psbt FILE|-               decode a PSBT (binary or base64)\n"
          "       kura tx HEX|FILE|- [--network N] decode a raw transaction\n"
          "       kura demo                      a 2-of-3 wallet's PSBT, signed and finalized\n",
          stderr);
    return EXIT_CANNOT;
}

/* Reads a whole file ("-" for stdin) into a NUL-terminated buffer. */
static char *read_all(const char *path, size_t *len_out)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    if (f == NULL) return NULL;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            size_t ncap = cap == 0 ? 65536 : cap * 2;
            char *n;
            if (ncap > MAX_FILE + 1) {
                errno = EFBIG;
                goto fail;
            }
            n = realloc(buf, ncap);
            if (n == NULL) goto fail;
            buf = n;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0) break;
    }
    if (ferror(f)) goto fail;
    if (f != stdin) fclose(f);
    buf[len] = '\0';
    *len_out = len;
    return buf;
fail:
    if (f != stdin) fclose(f);
    free(buf);
    return NULL;
}

static size_t trim_right(const char *s, size_t len)
{
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' ' ||
                       s[len - 1] == '\t'))
        len--;
    return len;
}

static void print_btc(uint64_t sats)
{
    printf("%" PRIu64 ".%08" PRIu64 " BTC (%" PRIu64 " sat)", sats / 100000000u,
           sats % 100000000u, sats);
}

static int parse_network(const char *s, kura_network *out)
{
    if (strcmp(s, "bitcoin") == 0 || strcmp(s, "mainnet") == 0) *out = KURA_NETWORK_MAINNET;
    else if (strcmp(s, "testnet") == 0 || strcmp(s, "signet") == 0 || strcmp(s, "testnet4") == 0)
        *out = KURA_NETWORK_TESTNET;
    else if (strcmp(s, "regtest") == 0) *out = KURA_NETWORK_REGTEST;
    else return -1;
    return 0;
}

static int parse_u32(const char *s, uint32_t *out)
{
    char *end;
    unsigned long v;
    if (*s < '0' || *s > '9') return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > UINT32_MAX) return -1;
    *out = (uint32_t)v;
    return 0;
}

/* The network a descriptor's keys belong to, the first one it allows. */
static kura_network default_network(const kura_descriptor *d)
{
    if (kura_descriptor_allows_network(d, KURA_NETWORK_MAINNET)) return KURA_NETWORK_MAINNET;
    if (kura_descriptor_allows_network(d, KURA_NETWORK_TESTNET)) return KURA_NETWORK_TESTNET;
    return KURA_NETWORK_REGTEST;
}

static int cmd_address(kura_ctx *ctx, int argc, char **argv)
{
    kura_descriptor *d = NULL;
    kura_error err;
    kura_network net;
    int have_net = 0, rc = 0;
    uint32_t branch = 0, from = 0, count = 10;
    if (argc < 1) return usage();
    for (int i = 1; i < argc; i += 2) { /* --option value pairs */
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) return usage();
        if (strcmp(argv[i], "--network") == 0) {
            if (parse_network(v, &net) != 0) return die(EXIT_CANNOT, "unknown network '%s'", v);
            have_net = 1;
        } else if (strcmp(argv[i], "--branch") == 0) {
            if (parse_u32(v, &branch) != 0) return usage();
        } else if (strcmp(argv[i], "--from") == 0) {
            if (parse_u32(v, &from) != 0) return usage();
        } else if (strcmp(argv[i], "--count") == 0) {
            if (parse_u32(v, &count) != 0 || count > 1000000) return usage();
        } else {
            return usage();
        }
    }
    if (kura_descriptor_parse(ctx, &d, argv[0], strlen(argv[0]), &err) != KURA_OK)
        return die(EXIT_BADINPUT, "%s", err.message);
    if (!have_net) net = default_network(d);
    if (branch >= kura_descriptor_multipath_count(d)) {
        rc = die(EXIT_BADINPUT, "the descriptor has %zu branch(es); there is no branch %" PRIu32,
                 kura_descriptor_multipath_count(d), branch);
        goto done;
    }
    if (!kura_descriptor_is_ranged(d) && count > 1) count = 1;
    for (uint32_t i = 0; i < count; i++) {
        char addr[KURA_ADDRESS_MAX];
        if (from > UINT32_MAX - i || from + i >= KURA_BIP32_HARDENED) break;
        if (kura_descriptor_address(ctx, addr, sizeof(addr), d, branch, from + i, net, &err) !=
            KURA_OK) {
            rc = die(EXIT_BADINPUT, "%s", err.message);
            goto done;
        }
        if (kura_descriptor_is_ranged(d)) printf("%" PRIu32 "/%" PRIu32 " %s\n", branch, from + i, addr);
        else printf("%s\n", addr);
    }
done:
    kura_descriptor_free(d);
    return rc;
}

static const char *type_word(kura_descriptor_type t)
{
    switch (t) {
    case KURA_DESCRIPTOR_PK: return "pk";
    case KURA_DESCRIPTOR_PKH: return "pkh";
    case KURA_DESCRIPTOR_WPKH: return "wpkh";
    case KURA_DESCRIPTOR_SH: return "sh";
    case KURA_DESCRIPTOR_WSH: return "wsh";
    case KURA_DESCRIPTOR_MULTI: return "multi";
    case KURA_DESCRIPTOR_SORTEDMULTI: return "sortedmulti";
    case KURA_DESCRIPTOR_COMBO: return "combo";
    case KURA_DESCRIPTOR_ADDR: return "addr";
    case KURA_DESCRIPTOR_RAW: return "raw";
    case KURA_DESCRIPTOR_TR: return "tr";
    }
    return "?";
}

static int cmd_descriptor(kura_ctx *ctx, int argc, char **argv)
{
    kura_descriptor *d = NULL;
    kura_error err;
    char *pub = NULL;
    int rc = 0;
    if (argc != 1) return usage();
    if (kura_descriptor_parse(ctx, &d, argv[0], strlen(argv[0]), &err) != KURA_OK)
        return die(EXIT_BADINPUT, "%s", err.message);
    if (kura_descriptor_to_string(ctx, &pub, d, KURA_DESCRIPTOR_ALL_BRANCHES,
                                  KURA_DESCRIPTOR_PUBLIC, &err) != KURA_OK) {
        rc = die(EXIT_BADINPUT, "%s", err.message);
        goto done;
    }
    printf("descriptor: %s\n", pub);
    printf("type: %s\n", type_word(kura_descriptor_get_type(d)));
    printf("ranged: %s\n", kura_descriptor_is_ranged(d) ? "yes" : "no");
    printf("branches: %zu\n", kura_descriptor_multipath_count(d));
    printf("private keys: %s\n", kura_descriptor_has_private(d) ? "yes (not shown)" : "no");
    for (size_t b = 0; b < kura_descriptor_multipath_count(d); b++) {
        char *one = NULL;
        if (kura_descriptor_to_string(ctx, &one, d, b, KURA_DESCRIPTOR_PUBLIC, &err) == KURA_OK)
            printf("branch %zu: %s\n", b, one);
        kura_descriptor_string_free(one);
    }
done:
    kura_descriptor_string_free(pub);
    kura_descriptor_free(d);
    return rc;
}

static void print_script(const uint8_t *script, size_t len, kura_network net)
{
    char addr[KURA_ADDRESS_MAX];
    kura_script_type t = kura_script_classify(script, len, NULL, NULL, NULL);
    if (kura_address_from_script(addr, sizeof(addr), script, len, net, NULL) == KURA_OK)
        printf("%s (%s)", addr, kura_script_type_name(t));
    else {
        char hex[2 * 64 + 1];
        size_t n = len > 64 ? 64 : len;
        kura_hex_encode(hex, sizeof(hex), script, n);
        printf("script %s%s (%s)", hex, len > 64 ? "..." : "", kura_script_type_name(t));
    }
}

/* The network whose addresses to show: from the PSBT's derivations if any
 * record a testnet path (coin type 1'), else mainnet. */
static kura_network psbt_network(const kura_psbt *p)
{
    for (size_t i = 0; i < p->input_count; i++) {
        const kura_psbt_input *in = &p->inputs[i];
        if (in->bip32_count > 0 && in->bip32[0].origin.path_len >= 2)
            return in->bip32[0].origin.path[1] == (1u | KURA_BIP32_HARDENED) ? KURA_NETWORK_TESTNET
                                                                            : KURA_NETWORK_MAINNET;
        if (in->tap_bip32_count > 0 && in->tap_bip32[0].origin.path_len >= 2)
            return in->tap_bip32[0].origin.path[1] == (1u | KURA_BIP32_HARDENED)
                       ? KURA_NETWORK_TESTNET
                       : KURA_NETWORK_MAINNET;
    }
    return KURA_NETWORK_MAINNET;
}

static int cmd_psbt(int argc, char **argv)
{
    kura_psbt *p = NULL;
    kura_error err;
    size_t len;
    char *data;
    int rc;
    uint64_t in_total = 0, out_total = 0;
    int amounts_known = 1;
    kura_network net;
    if (argc != 1) return usage();
    data = read_all(argv[0], &len);
    if (data == NULL) return die(EXIT_CANNOT, "cannot read %s: %s", argv[0], strerror(errno));
    if (len >= 5 && memcmp(data, "psbt\xff", 5) == 0)
        rc = kura_psbt_parse(&p, (const uint8_t *)data, len, &err);
    else
        rc = kura_psbt_from_base64(&p, data, trim_right(data, len), &err);
    free(data);
    if (rc != KURA_OK) return die(EXIT_BADINPUT, "%s", err.message);
    net = psbt_network(p);
    printf("PSBT version %" PRIu32 ", transaction version %" PRIu32 ", %zu input(s), %zu output(s)\n",
           p->version, p->tx_version, p->input_count, p->output_count);
    for (size_t i = 0; i < p->input_count; i++) {
        const kura_psbt_input *in = &p->inputs[i];
        char txid[65];
        const kura_txout *utxo = NULL;
        kura_txid_to_hex(txid, in->prev_txid);
        printf("input %zu: %s:%" PRIu32 "\n", i, txid, in->prev_vout);
        if (in->has_witness_utxo) utxo = &in->witness_utxo;
        else if (in->non_witness_utxo != NULL && in->prev_vout < in->non_witness_utxo->output_count)
            utxo = &in->non_witness_utxo->outputs[in->prev_vout];
        if (utxo != NULL) {
            printf("  spends ");
            print_btc(utxo->amount);
            printf(" from ");
            print_script(utxo->script_pubkey.data, utxo->script_pubkey.len, net);
            printf("\n");
            in_total += utxo->amount;
        } else {
            printf("  spends an unknown amount (no UTXO in the PSBT)\n");
            amounts_known = 0;
        }
        printf("  funding transaction %s\n", in->non_witness_utxo != NULL ? "included" : "not included");
        if (in->has_final_script_sig || in->has_final_script_witness)
            printf("  finalized\n");
        else
            printf("  signatures: %zu ECDSA, %s key path, %zu script path\n", in->partial_sig_count,
                   in->tap_key_sig_len > 0 ? "1" : "no", in->tap_script_sig_count);
    }
    for (size_t i = 0; i < p->output_count; i++) {
        const kura_psbt_output *o = &p->outputs[i];
        printf("output %zu: ", i);
        print_btc(o->amount);
        printf(" to ");
        print_script(o->script_pubkey.data, o->script_pubkey.len, net);
        if (o->bip32_count > 0 || o->tap_bip32_count > 0)
            printf(" [claims to be the wallet's own (derivation recorded)]");
        printf("\n");
        out_total += o->amount;
    }
    if (amounts_known && in_total >= out_total) {
        printf("fee: ");
        print_btc(in_total - out_total);
        printf("\n");
    } else if (amounts_known) {
        printf("fee: negative — outputs exceed inputs\n");
    }
    for (size_t i = 0; i < p->unknown_count; i++) {
        const uint8_t *ident, *kd;
        size_t ident_len, kd_len;
        uint64_t sub;
        if (kura_psbt_proprietary_key_decode(&ident, &ident_len, &sub, &kd, &kd_len, &p->unknowns[i]) ==
            KURA_OK)
            printf("proprietary record: %.*s/%" PRIu64 " (%zu bytes)\n", (int)ident_len,
                   (const char *)ident, sub, p->unknowns[i].value_len);
    }
    printf("complete: %s\n", kura_psbt_is_finalized(p) ? "yes (ready to extract)" : "no");
    kura_psbt_free(p);
    return 0;
}

static int cmd_tx(int argc, char **argv)
{
    kura_tx *tx = NULL;
    kura_error err;
    uint8_t *bytes;
    size_t len, n;
    char *text;
    char id[65];
    uint8_t h[32];
    int rc;
    kura_network net = KURA_NETWORK_MAINNET;
    if (argc == 3 && strcmp(argv[1], "--network") == 0) {
        if (parse_network(argv[2], &net) != 0) return die(EXIT_CANNOT, "unknown network '%s'", argv[2]);
        argc = 1;
    }
    if (argc != 1) return usage();
    /* A hex string on the command line, or a file holding hex or raw bytes. */
    if (strspn(argv[0], "0123456789abcdefABCDEF") == strlen(argv[0]) && strlen(argv[0]) >= 20) {
        text = strdup(argv[0]);
        len = strlen(argv[0]);
    } else {
        text = read_all(argv[0], &len);
    }
    if (text == NULL) return die(EXIT_CANNOT, "cannot read %s: %s", argv[0], strerror(errno));
    n = trim_right(text, len);
    bytes = malloc(n / 2 + 1);
    if (bytes == NULL) {
        free(text);
        return die(EXIT_CANNOT, "out of memory");
    }
    text[n] = '\0';
    if (kura_hex_decode(bytes, n / 2 + 1, &len, text, &err) != KURA_OK) {
        /* Not hex: take the file's bytes as they are. */
        memcpy(bytes, text, n < n / 2 + 1 ? n : n / 2 + 1);
        free(bytes);
        bytes = (uint8_t *)text;
        text = NULL;
        len = n;
    }
    rc = kura_tx_parse(&tx, bytes, len, KURA_TX_WITNESS, &err);
    free(bytes);
    free(text);
    if (rc != KURA_OK) return die(EXIT_BADINPUT, "%s", err.message);
    kura_tx_txid(h, tx);
    kura_txid_to_hex(id, h);
    printf("txid: %s\n", id);
    kura_tx_wtxid(h, tx);
    kura_txid_to_hex(id, h);
    printf("wtxid: %s\n", id);
    printf("version: %" PRIu32 "  locktime: %" PRIu32 "\n", tx->version, tx->locktime);
    printf("size: %zu bytes  weight: %" PRIu64 "  vsize: %" PRIu64 "\n",
           kura_tx_serialized_size(tx, KURA_TX_WITNESS), kura_tx_weight(tx), kura_tx_vsize(tx));
    for (size_t i = 0; i < tx->input_count; i++) {
        kura_txid_to_hex(id, tx->inputs[i].prev_txid);
        printf("input %zu: %s:%" PRIu32 " sequence 0x%08" PRIx32 ", %zu witness item(s)\n", i, id,
               tx->inputs[i].prev_vout, tx->inputs[i].sequence, tx->inputs[i].witness_count);
    }
    for (size_t i = 0; i < tx->output_count; i++) {
        printf("output %zu: ", i);
        print_btc(tx->outputs[i].amount);
        printf(" to ");
        print_script(tx->outputs[i].script_pubkey.data, tx->outputs[i].script_pubkey.len, net);
        printf("\n");
    }
    kura_tx_free(tx);
    return 0;
}

/* ---- demo ---- */

static int demo_signer(kura_ctx *ctx, kura_bip32_key *master, char *origin, size_t origin_len,
                       uint8_t seed_byte)
{
    static const uint32_t path[] = {48 | KURA_BIP32_HARDENED, 0 | KURA_BIP32_HARDENED,
                                    0 | KURA_BIP32_HARDENED, 2 | KURA_BIP32_HARDENED};
    uint8_t seed[32], fp[4];
    kura_bip32_key acct, pub;
    char xpub[KURA_BIP32_SERIALIZED_LEN];
    int rc;
    memset(seed, seed_byte, sizeof(seed));
    rc = kura_bip32_from_seed(ctx, master, seed, sizeof(seed), KURA_NETWORK_MAINNET);
    if (rc == KURA_OK) rc = kura_bip32_derive_path(ctx, &acct, master, path, 4);
    if (rc == KURA_OK) {
        kura_bip32_neuter(&pub, &acct);
        rc = kura_bip32_serialize(xpub, sizeof(xpub), &pub, 0);
    }
    if (rc == KURA_OK) rc = kura_bip32_fingerprint(fp, master);
    if (rc == KURA_OK)
        snprintf(origin, origin_len, "[%02x%02x%02x%02x/48h/0h/0h/2h]%s", fp[0], fp[1], fp[2],
                 fp[3], xpub);
    kura_bip32_wipe(&acct);
    sodium_memzero(seed, sizeof(seed));
    return rc;
}

static int cmd_demo(kura_ctx *ctx)
{
    kura_bip32_key masters[3];
    char origins[3][200], text[1024];
    kura_descriptor *d = NULL;
    kura_psbt *psbt = NULL;
    kura_tx *funding[2] = {NULL, NULL}, *final = NULL;
    kura_error err;
    char *pub = NULL, *b64 = NULL;
    int rc = 0;
    uint8_t pay[KURA_SCRIPT_PUBKEY_MAX];
    size_t pay_len, b64_len;
    const char *dest = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";

    memset(masters, 0, sizeof(masters));
    printf("== kura demo: a 2-of-3 P2WSH sortedmulti wallet (synthetic keys and coins) ==\n\n");
    for (int i = 0; i < 3; i++)
        if (demo_signer(ctx, &masters[i], origins[i], sizeof(origins[i]), (uint8_t)(0x10 + i)) != KURA_OK) {
            rc = die(EXIT_CANNOT, "cannot make the demo keys");
            goto done;
        }
    snprintf(text, sizeof(text), "wsh(sortedmulti(2,%s/<0;1>/*,%s/<0;1>/*,%s/<0;1>/*))", origins[0],
             origins[1], origins[2]);
    if (kura_descriptor_parse(ctx, &d, text, strlen(text), &err) != KURA_OK ||
        kura_descriptor_to_string(ctx, &pub, d, KURA_DESCRIPTOR_ALL_BRANCHES,
                                  KURA_DESCRIPTOR_PUBLIC, &err) != KURA_OK) {
        rc = die(EXIT_CANNOT, "%s", err.message);
        goto done;
    }
    printf("wallet descriptor (watch-only):\n  %s\n\n", pub);
    for (uint32_t b = 0; b < 2; b++)
        for (uint32_t i = 0; i < 3; i++) {
            char addr[KURA_ADDRESS_MAX];
            if (kura_descriptor_address(ctx, addr, sizeof(addr), d, b, i, KURA_NETWORK_MAINNET, &err) != KURA_OK) {
                rc = die(EXIT_CANNOT, "%s", err.message);
                goto done;
            }
            printf("%s %" PRIu32 ": %s\n", b == 0 ? "receive" : "change ", i, addr);
        }

    /* Two coins of the wallet, in funding transactions made up for the demo. */
    kura_wallet_coin coins[2];
    memset(coins, 0, sizeof(coins));
    for (int c = 0; c < 2; c++) {
        uint8_t script[KURA_SCRIPT_PUBKEY_MAX], prev[32];
        size_t len;
        memset(prev, 0xa0 + c, sizeof(prev));
        coins[c].vout = 0;
        coins[c].amount = c == 0 ? 120000000u : 45000000u;
        coins[c].branch = (size_t)c;
        coins[c].index = (uint32_t)c;
        funding[c] = kura_tx_new();
        if (funding[c] == NULL ||
            kura_descriptor_script_pubkey(ctx, script, sizeof(script), &len, d, coins[c].branch,
                                          coins[c].index, &err) != KURA_OK ||
            kura_tx_add_input(funding[c], prev, 1, 0xfffffffdu, NULL, 0) != KURA_OK ||
            kura_tx_add_output(funding[c], coins[c].amount, script, len) != KURA_OK ||
            kura_tx_txid(coins[c].txid, funding[c]) != KURA_OK) {
            rc = die(EXIT_CANNOT, "cannot make the demo coins");
            goto done;
        }
        coins[c].prev_tx = funding[c];
    }
    if (kura_address_to_script(pay, sizeof(pay), &pay_len, dest, KURA_NETWORK_MAINNET, &err) != KURA_OK) {
        rc = die(EXIT_CANNOT, "%s", err.message);
        goto done;
    }
    kura_wallet_payment payment = {pay, pay_len, 150000000u};
    if (kura_wallet_create_psbt(ctx, &psbt, d, coins, 2, &payment, 1, 14985000u, 0, 0, &err) != KURA_OK) {
        rc = die(EXIT_CANNOT, "%s", err.message);
        goto done;
    }
    printf("\nPSBT: pay 1.5 BTC to %s, change to change 0, fee 15000 sat\n", dest);
    for (int s = 0; s < 2; s++) {
        size_t count = 0;
        int who = s == 0 ? 2 : 0; /* cosigners 3 and 1 sign */
        if (kura_psbt_sign_bip32(ctx, psbt, &count, &masters[who], KURA_PSBT_SIGN_VERIFY, &err) != KURA_OK) {
            rc = die(EXIT_CANNOT, "%s", err.message);
            goto done;
        }
        printf("cosigner %d signed %zu input(s)\n", who + 1, count);
    }
    if (kura_psbt_to_base64(&b64, &b64_len, psbt) == KURA_OK)
        printf("signed PSBT: %zu base64 characters\n", b64_len);
    if (kura_psbt_finalize(psbt, &err) != KURA_OK || kura_psbt_extract(&final, psbt, &err) != KURA_OK) {
        rc = die(EXIT_CANNOT, "%s", err.message);
        goto done;
    }
    {
        size_t n = kura_tx_serialized_size(final, KURA_TX_WITNESS), w;
        uint8_t *raw = malloc(n);
        char *hex = malloc(2 * n + 1);
        uint8_t h[32];
        char id[65];
        if (raw == NULL || hex == NULL ||
            kura_tx_serialize(raw, n, &w, final, KURA_TX_WITNESS) != KURA_OK) {
            free(raw);
            free(hex);
            rc = die(EXIT_CANNOT, "out of memory");
            goto done;
        }
        kura_hex_encode(hex, 2 * n + 1, raw, w);
        kura_tx_txid(h, final);
        kura_txid_to_hex(id, h);
        printf("\nfinal transaction %s (%" PRIu64 " vbytes):\n%s\n", id, kura_tx_vsize(final), hex);
        free(raw);
        free(hex);
    }
done:
    for (int i = 0; i < 3; i++) kura_bip32_wipe(&masters[i]);
    free(b64);
    kura_tx_free(final);
    kura_tx_free(funding[0]);
    kura_tx_free(funding[1]);
    kura_psbt_free(psbt);
    kura_descriptor_string_free(pub);
    kura_descriptor_free(d);
    return rc;
}

int main(int argc, char **argv)
{
    kura_ctx *ctx;
    int rc;
    if (argc < 2) return usage();
    command = argv[1];
    ctx = kura_ctx_new();
    if (ctx == NULL) return die(EXIT_CANNOT, "cannot set up libkura (no memory or no OS randomness)");
    if (strcmp(argv[1], "address") == 0) rc = cmd_address(ctx, argc - 2, argv + 2);
    else if (strcmp(argv[1], "descriptor") == 0) rc = cmd_descriptor(ctx, argc - 2, argv + 2);
    else if (strcmp(argv[1], "psbt") == 0) rc = cmd_psbt(argc - 2, argv + 2);
    else if (strcmp(argv[1], "tx") == 0) rc = cmd_tx(argc - 2, argv + 2);
    else if (strcmp(argv[1], "demo") == 0) rc = argc == 2 ? cmd_demo(ctx) : usage();
    else rc = usage();
    kura_ctx_free(ctx);
    return rc;
}
