/*
 * tests/e2e/cold-package.c — makes signing packages for kura-cold's
 * end-to-end tests, the way a coordinator would: a PSBT from the wallet's
 * watch-only descriptor (kura_wallet_create_psbt, with made-up funding
 * transactions), an intent written by kura_intent_write, and kura's records
 * added with the kura_package_* writers. Approvals and policy signatures are
 * made by the test scripts with `ssh-keygen -Y sign`.
 *
 * It can also make packages that lie (the transaction and the intent
 * disagree, inputs that are not the wallet's, change that is not), for the
 * tests of every refusal.
 *
 *   cold-package descriptor DESC
 *       prints the canonical descriptor and, on a second line, its checksum
 *   cold-package addr CHAIN N
 *       prints a made-up P2WPKH address (number N) on CHAIN
 *   cold-package make --descriptor DESC --wallet NAME --chain CHAIN --out-dir DIR
 *       [--count N]                   N packages DIR/<i>.psbt + DIR/<i>.intent
 *       [--pay ADDR:SATS[:LABEL]]...  in the intent and in the transaction
 *       [--intent-pay ADDR:SATS[:LABEL]]...  only in the intent
 *       [--tx-pay ADDR:SATS]...       only in the transaction
 *       [--change SATS] [--change-index I] [--fee SATS] [--coins K]
 *       [--coin-descriptor DESC]      coins (inputs) from another wallet
 *       [--no-prev-tx]                inputs without their funding transaction
 *       [--intent-wallet 'NAME #CHECKSUM'] [--intent-chain CHAIN]
 *       [--id HEX32] [--initiator NAME] [--created UNIX] [--expires UNIX]
 *       [--max-fee SATS] [--policy-version N]
 *     prints one line per package: "<i> <intent sha256> <intent id>".
 *     Defaults: fee 1000, no change, change index 0, 1 coin, initiator
 *     "ops", created now - 60, expires created + 3600, max-fee 10000,
 *     policy version 1 (the version the approvers saw).
 *   cold-package attach PSBT -o OUT [--approval SIG]... [--policy TEXT]
 *       [--policy-sig SIG]...
 *   cold-package attach-dir DIR COUNT SUFFIX...
 *       adds DIR/<i>.intent<SUFFIX> as approvals to DIR/<i>.psbt, in place
 *   cold-package info PSBT
 *       prints "intent-sha256 <hex>" and "signatures <n>" (every signature
 *       verified); exit 1 if a signature does not verify
 *
 * PSBTs are written in base64 and read in base64 or binary.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "kura/check.h"
#include "kura/descriptor.h"
#include "kura/encoding.h"
#include "kura/hash.h"
#include "kura/intent.h"
#include "kura/psbt.h"
#include "kura/script.h"
#include "kura/tx.h"
#include "kura/wallet.h"

#include "e2e-util.h"

#define MAX_ITEMS 64

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "cold-package: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

static int load_psbt(kura_psbt **out, const char *path)
{
    kura_error err;
    int rc = e2e_load_psbt(out, path, &err);
    if (rc == E2E_EREAD) return die("cannot read %s: %s", path, strerror(errno));
    if (rc != KURA_OK) return die("%s: %s", path, err.message);
    return 0;
}

static int save_psbt(const kura_psbt *p, const char *path)
{
    char *b64 = NULL;
    size_t len = 0;
    int rc;
    if (kura_psbt_to_base64(&b64, &len, p) != KURA_OK) return die("cannot serialize a PSBT");
    b64[len] = '\n';
    rc = e2e_write_file(path, b64, len + 1);
    free(b64);
    if (rc != 0) return die("cannot write %s: %s", path, strerror(errno));
    return 0;
}

static int parse_chain(kura_intent_chain *out, const char *s)
{
    for (int c = KURA_CHAIN_BITCOIN; c <= KURA_CHAIN_REGTEST; c++)
        if (strcmp(kura_intent_chain_name((kura_intent_chain)c), s) == 0) {
            *out = (kura_intent_chain)c;
            return 0;
        }
    return -1;
}

static int parse_u64(uint64_t *out, const char *s)
{
    char *end;
    unsigned long long v;
    if (*s < '0' || *s > '9') return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0') return -1;
    *out = (uint64_t)v;
    return 0;
}

/* "ADDR:SATS[:LABEL]" */
typedef struct pay {
    char address[KURA_ADDRESS_MAX];
    uint64_t amount;
    char label[KURA_INTENT_LABEL_MAX + 1];
} pay;

static int parse_pay(pay *p, const char *s)
{
    const char *c1 = strchr(s, ':'), *c2;
    char num[32];
    size_t n;
    memset(p, 0, sizeof(*p));
    if (c1 == NULL || (size_t)(c1 - s) >= sizeof(p->address)) return -1;
    memcpy(p->address, s, (size_t)(c1 - s));
    c2 = strchr(c1 + 1, ':');
    n = c2 != NULL ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1);
    if (n == 0 || n >= sizeof(num)) return -1;
    memcpy(num, c1 + 1, n);
    num[n] = '\0';
    if (parse_u64(&p->amount, num) != 0) return -1;
    if (c2 != NULL) snprintf(p->label, sizeof(p->label), "%s", c2 + 1);
    return 0;
}

static int cmd_descriptor(kura_ctx *ctx, int argc, char **argv)
{
    kura_descriptor *d = NULL;
    char *s = NULL;
    kura_error err;
    if (argc != 1) return die("usage: descriptor DESC");
    if (kura_descriptor_parse(ctx, &d, argv[0], strlen(argv[0]), &err) != KURA_OK ||
        kura_descriptor_to_string(ctx, &s, d, KURA_DESCRIPTOR_ALL_BRANCHES,
                                  KURA_DESCRIPTOR_PUBLIC, &err) != KURA_OK) {
        kura_descriptor_free(d);
        return die("%s", err.message);
    }
    printf("%s\n%s\n", s, s + strlen(s) - KURA_DESCRIPTOR_CHECKSUM_LEN);
    kura_descriptor_string_free(s);
    kura_descriptor_free(d);
    return 0;
}

static int cmd_addr(int argc, char **argv)
{
    kura_intent_chain chain;
    kura_network net;
    uint8_t h[32], script[KURA_SCRIPT_PUBKEY_MAX];
    size_t len;
    char addr[KURA_ADDRESS_MAX], tag[64];
    uint64_t n;
    if (argc != 2 || parse_chain(&chain, argv[0]) != 0 || parse_u64(&n, argv[1]) != 0)
        return die("usage: addr CHAIN N");
    kura_intent_chain_network(&net, chain);
    snprintf(tag, sizeof(tag), "cold-package destination %" PRIu64, n);
    kura_sha256(h, (const uint8_t *)tag, strlen(tag));
    if (kura_script_p2wpkh(script, sizeof(script), &len, h) != KURA_OK ||
        kura_address_from_script(addr, sizeof(addr), script, len, net, NULL) != KURA_OK)
        return die("cannot make an address");
    printf("%s\n", addr);
    return 0;
}

typedef struct make_opts {
    const char *descriptor, *coin_descriptor, *wallet, *intent_wallet, *out_dir, *id, *initiator;
    kura_intent_chain chain, intent_chain;
    int have_intent_chain, no_prev_tx;
    pay intent_pays[MAX_ITEMS], tx_pays[MAX_ITEMS];
    size_t n_intent, n_tx;
    uint64_t change, change_index, fee, coins, count, created, expires, max_fee, policy_version;
    int have_created, have_expires;
} make_opts;

/* One package: number i of the run. */
static int make_one(kura_ctx *ctx, const make_opts *o, const kura_descriptor *wallet,
                    const kura_descriptor *coin_desc, const char *checksum, uint64_t i)
{
    kura_wallet_coin coins[MAX_ITEMS];
    kura_tx *funding[MAX_ITEMS];
    kura_wallet_payment payments[MAX_ITEMS];
    uint8_t scripts[MAX_ITEMS][KURA_SCRIPT_PUBKEY_MAX];
    kura_network net;
    kura_psbt *psbt = NULL;
    kura_intent *in = NULL;
    kura_error err;
    char *text = NULL, path[4096], hex[65];
    size_t text_len = 0;
    uint8_t idb[16], h[32];
    uint64_t total = o->change + o->fee, each;
    int rc = 2;
    memset(funding, 0, sizeof(funding));
    kura_intent_chain_network(&net, o->chain);
    for (size_t k = 0; k < o->n_tx; k++) {
        size_t len;
        if (kura_address_to_script(scripts[k], sizeof(scripts[k]), &len, o->tx_pays[k].address,
                                   net, &err) != KURA_OK) {
            rc = die("%s", err.message);
            goto done;
        }
        payments[k].script_pubkey = scripts[k];
        payments[k].script_pubkey_len = len;
        payments[k].amount = o->tx_pays[k].amount;
        total += o->tx_pays[k].amount;
    }
    /* The id first: the made-up funding transactions depend on it, so every
     * package spends coins of its own. */
    if (o->id != NULL) {
        size_t w;
        if (kura_hex_decode(idb, sizeof(idb), &w, o->id, &err) != KURA_OK || w != 16) {
            rc = die("--id takes 32 hex characters");
            goto done;
        }
    } else {
        randombytes_buf(idb, sizeof(idb));
    }
    each = total / o->coins;
    for (size_t c = 0; c < o->coins; c++) {
        uint8_t prev[32];
        memset(&coins[c], 0, sizeof(coins[c]));
        coins[c].amount = c + 1 == o->coins ? total - each * (o->coins - 1) : each;
        coins[c].branch = KURA_DESCRIPTOR_BRANCH_RECEIVE;
        coins[c].index = (uint32_t)(c + i % 1000);
        kura_sha256(prev, idb, sizeof(idb));
        prev[0] ^= (uint8_t)c;
        if (e2e_funding_tx(&funding[c], ctx, coin_desc != NULL ? coin_desc : wallet,
                           coins[c].branch, coins[c].index, prev, (uint32_t)c, coins[c].amount,
                           &err) != 0 ||
            kura_tx_txid(coins[c].txid, funding[c]) != KURA_OK) {
            rc = die("cannot make the funding transactions");
            goto done;
        }
        coins[c].prev_tx = o->no_prev_tx ? NULL : funding[c];
    }
    if (kura_wallet_create_psbt(ctx, &psbt, coin_desc != NULL ? coin_desc : wallet, coins,
                                (size_t)o->coins, payments, o->n_tx, o->change,
                                (uint32_t)o->change_index, 0, &err) != KURA_OK) {
        rc = die("%s", err.message);
        goto done;
    }

    in = kura_intent_new();
    if (in == NULL) goto done;
    kura_hex_encode(in->id, sizeof(in->id), idb, sizeof(idb));
    in->chain = o->have_intent_chain ? o->intent_chain : o->chain;
    if (o->intent_wallet != NULL) {
        const char *sp = strstr(o->intent_wallet, " #");
        if (sp == NULL || (size_t)(sp - o->intent_wallet) > KURA_INTENT_WALLET_NAME_MAX ||
            strlen(sp + 2) != KURA_INTENT_CHECKSUM_LEN) {
            rc = die("--intent-wallet takes 'NAME #CHECKSUM'");
            goto done;
        }
        memcpy(in->wallet.name, o->intent_wallet, (size_t)(sp - o->intent_wallet));
        memcpy(in->wallet.checksum, sp + 2, KURA_INTENT_CHECKSUM_LEN + 1);
    } else {
        snprintf(in->wallet.name, sizeof(in->wallet.name), "%s", o->wallet);
        memcpy(in->wallet.checksum, checksum, KURA_INTENT_CHECKSUM_LEN + 1);
    }
    snprintf(in->initiator, sizeof(in->initiator), "%s", o->initiator);
    in->policy_version = o->policy_version;
    in->created = o->have_created ? (int64_t)o->created : (int64_t)time(NULL) - 60;
    in->expires = o->have_expires ? (int64_t)o->expires : in->created + 3600;
    in->max_fee = o->max_fee;
    for (size_t k = 0; k < o->n_intent; k++)
        if (kura_intent_add_output(in, o->intent_pays[k].address, o->intent_pays[k].amount,
                                   o->intent_pays[k].label, &err) != KURA_OK) {
            rc = die("%s", err.message);
            goto done;
        }
    if (kura_intent_write(&text, &text_len, in, &err) != KURA_OK) {
        rc = die("%s", err.message);
        goto done;
    }
    if (kura_package_set_intent(psbt, (const uint8_t *)text, text_len) != KURA_OK) {
        rc = die("cannot add the intent");
        goto done;
    }
    snprintf(path, sizeof(path), "%s/%" PRIu64 ".intent", o->out_dir, i);
    if (e2e_write_file(path, text, text_len) != 0) {
        rc = die("cannot write %s: %s", path, strerror(errno));
        goto done;
    }
    snprintf(path, sizeof(path), "%s/%" PRIu64 ".psbt", o->out_dir, i);
    if (save_psbt(psbt, path) != 0) goto done;
    kura_intent_hash(h, (const uint8_t *)text, text_len);
    kura_hex_encode(hex, sizeof(hex), h, 32);
    printf("%" PRIu64 " %s %s\n", i, hex, in->id);
    rc = 0;
done:
    for (size_t c = 0; c < MAX_ITEMS; c++) kura_tx_free(funding[c]);
    free(text);
    kura_intent_free(in);
    kura_psbt_free(psbt);
    return rc;
}

static int cmd_make(kura_ctx *ctx, int argc, char **argv)
{
    make_opts o;
    kura_descriptor *wallet = NULL, *coin_desc = NULL;
    char *canon = NULL;
    kura_error err;
    int rc = 0;
    memset(&o, 0, sizeof(o));
    o.fee = 1000;
    o.coins = 1;
    o.count = 1;
    o.max_fee = 10000;
    o.policy_version = 1;
    o.initiator = "ops";
    for (int i = 0; i < argc; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(k, "--no-prev-tx") == 0) {
            o.no_prev_tx = 1;
            i--;
            continue;
        }
        if (v == NULL) return die("%s needs a value", k);
        if (strcmp(k, "--descriptor") == 0) o.descriptor = v;
        else if (strcmp(k, "--coin-descriptor") == 0) o.coin_descriptor = v;
        else if (strcmp(k, "--wallet") == 0) o.wallet = v;
        else if (strcmp(k, "--intent-wallet") == 0) o.intent_wallet = v;
        else if (strcmp(k, "--out-dir") == 0) o.out_dir = v;
        else if (strcmp(k, "--id") == 0) o.id = v;
        else if (strcmp(k, "--initiator") == 0) o.initiator = v;
        else if (strcmp(k, "--chain") == 0) {
            if (parse_chain(&o.chain, v) != 0) return die("unknown chain %s", v);
        } else if (strcmp(k, "--intent-chain") == 0) {
            if (parse_chain(&o.intent_chain, v) != 0) return die("unknown chain %s", v);
            o.have_intent_chain = 1;
        } else if (strcmp(k, "--pay") == 0 || strcmp(k, "--intent-pay") == 0 ||
                   strcmp(k, "--tx-pay") == 0) {
            pay p;
            if (parse_pay(&p, v) != 0) return die("%s takes ADDR:SATS[:LABEL]", k);
            if (strcmp(k, "--tx-pay") != 0) {
                if (o.n_intent == MAX_ITEMS) return die("too many outputs");
                o.intent_pays[o.n_intent++] = p;
            }
            if (strcmp(k, "--intent-pay") != 0) {
                if (o.n_tx == MAX_ITEMS) return die("too many outputs");
                o.tx_pays[o.n_tx++] = p;
            }
        } else {
            uint64_t *slot = NULL;
            if (strcmp(k, "--change") == 0) slot = &o.change;
            else if (strcmp(k, "--change-index") == 0) slot = &o.change_index;
            else if (strcmp(k, "--fee") == 0) slot = &o.fee;
            else if (strcmp(k, "--coins") == 0) slot = &o.coins;
            else if (strcmp(k, "--count") == 0) slot = &o.count;
            else if (strcmp(k, "--max-fee") == 0) slot = &o.max_fee;
            else if (strcmp(k, "--policy-version") == 0) slot = &o.policy_version;
            else if (strcmp(k, "--created") == 0) slot = &o.created;
            else if (strcmp(k, "--expires") == 0) slot = &o.expires;
            else return die("unknown option %s", k);
            o.have_created |= slot == &o.created;
            o.have_expires |= slot == &o.expires;
            if (parse_u64(slot, v) != 0) return die("%s takes a number", k);
        }
    }
    if (o.descriptor == NULL || o.wallet == NULL || o.out_dir == NULL)
        return die("make needs --descriptor, --wallet and --out-dir");
    if (o.coins < 1 || o.coins > MAX_ITEMS) return die("--coins takes 1..%d", MAX_ITEMS);
    if (o.count < 1 || (o.id != NULL && o.count != 1)) return die("--id makes one package");
    if (kura_descriptor_parse(ctx, &wallet, o.descriptor, strlen(o.descriptor), &err) != KURA_OK ||
        kura_descriptor_to_string(ctx, &canon, wallet, KURA_DESCRIPTOR_ALL_BRANCHES,
                                  KURA_DESCRIPTOR_PUBLIC, &err) != KURA_OK) {
        rc = die("--descriptor: %s", err.message);
        goto done;
    }
    if (o.coin_descriptor != NULL &&
        kura_descriptor_parse(ctx, &coin_desc, o.coin_descriptor, strlen(o.coin_descriptor),
                              &err) != KURA_OK) {
        rc = die("--coin-descriptor: %s", err.message);
        goto done;
    }
    for (uint64_t i = 0; i < o.count && rc == 0; i++)
        rc = make_one(ctx, &o, wallet, coin_desc,
                      canon + strlen(canon) - KURA_DESCRIPTOR_CHECKSUM_LEN, i);
done:
    kura_descriptor_string_free(canon);
    kura_descriptor_free(coin_desc);
    kura_descriptor_free(wallet);
    return rc;
}

/* Adds the file at path as a record of `kind`. */
static int attach_file(kura_psbt *p, char kind, const char *path)
{
    size_t len;
    uint8_t *data = e2e_read_file(path, &len);
    int rc;
    if (data == NULL) return die("cannot read %s: %s", path, strerror(errno));
    if (kind == 'a')
        rc = kura_package_add_approval(p, data, len);
    else if (kind == 'p')
        rc = kura_package_set_policy(p, data, len);
    else
        rc = kura_package_add_policy_signature(p, data, len);
    free(data);
    if (rc != KURA_OK) return die("cannot add %s: %s", path, kura_status_name(rc));
    return 0;
}

static int cmd_attach(int argc, char **argv)
{
    kura_psbt *p = NULL;
    const char *out = NULL;
    int rc;
    if (argc < 1)
        return die("usage: attach PSBT -o OUT [--approval F]... [--policy F] "
                   "[--policy-sig F]...");
    if ((rc = load_psbt(&p, argv[0])) != 0) return rc;
    for (int i = 1; i < argc && rc == 0; i += 2) {
        if (i + 1 >= argc) {
            rc = die("%s needs a value", argv[i]);
        } else if (strcmp(argv[i], "-o") == 0) {
            out = argv[i + 1];
        } else if (strcmp(argv[i], "--approval") == 0) {
            rc = attach_file(p, 'a', argv[i + 1]);
        } else if (strcmp(argv[i], "--policy") == 0) {
            rc = attach_file(p, 'p', argv[i + 1]);
        } else if (strcmp(argv[i], "--policy-sig") == 0) {
            rc = attach_file(p, 's', argv[i + 1]);
        } else {
            rc = die("unknown option %s", argv[i]);
        }
    }
    if (rc == 0 && out == NULL) rc = die("attach needs -o OUT");
    if (rc == 0) rc = save_psbt(p, out);
    kura_psbt_free(p);
    return rc;
}

static int cmd_attach_dir(int argc, char **argv)
{
    uint64_t count;
    int rc = 0;
    if (argc < 3 || parse_u64(&count, argv[1]) != 0)
        return die("usage: attach-dir DIR COUNT SUFFIX...");
    for (uint64_t i = 0; i < count && rc == 0; i++) {
        kura_psbt *p = NULL;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%" PRIu64 ".psbt", argv[0], i);
        if ((rc = load_psbt(&p, path)) != 0) break;
        for (int s = 2; s < argc && rc == 0; s++) {
            char sig[4096];
            snprintf(sig, sizeof(sig), "%s/%" PRIu64 ".intent%s", argv[0], i, argv[s]);
            rc = attach_file(p, 'a', sig);
        }
        if (rc == 0) rc = save_psbt(p, path);
        kura_psbt_free(p);
    }
    return rc;
}

static int cmd_info(int argc, char **argv)
{
    kura_psbt *p = NULL;
    kura_package_view v;
    kura_error err;
    size_t checked = 0;
    char hex[65];
    uint8_t h[32];
    int rc;
    if (argc != 1) return die("usage: info PSBT");
    if ((rc = load_psbt(&p, argv[0])) != 0) return rc;
    if (kura_package_read(&v, p, &err) != KURA_OK || v.intent == NULL) {
        kura_psbt_free(p);
        return die("%s: no kura intent", argv[0]);
    }
    kura_intent_hash(h, v.intent, v.intent_len);
    kura_hex_encode(hex, sizeof(hex), h, 32);
    printf("intent-sha256 %s\n", hex);
    rc = kura_wallet_verify_psbt(NULL, &checked, p, &err);
    if (rc != KURA_OK) {
        printf("signatures invalid: %s\n", err.message);
        kura_psbt_free(p);
        return 1;
    }
    printf("signatures %zu\n", checked);
    kura_psbt_free(p);
    return 0;
}

int main(int argc, char **argv)
{
    kura_ctx *ctx;
    int rc;
    if (argc < 2) return die("usage: cold-package descriptor|addr|make|attach|attach-dir|info ...");
    ctx = kura_ctx_new();
    if (ctx == NULL) return die("no context");
    if (strcmp(argv[1], "descriptor") == 0) rc = cmd_descriptor(ctx, argc - 2, argv + 2);
    else if (strcmp(argv[1], "addr") == 0) rc = cmd_addr(argc - 2, argv + 2);
    else if (strcmp(argv[1], "make") == 0) rc = cmd_make(ctx, argc - 2, argv + 2);
    else if (strcmp(argv[1], "attach") == 0) rc = cmd_attach(argc - 2, argv + 2);
    else if (strcmp(argv[1], "attach-dir") == 0) rc = cmd_attach_dir(argc - 2, argv + 2);
    else if (strcmp(argv[1], "info") == 0) rc = cmd_info(argc - 2, argv + 2);
    else rc = die("unknown command %s", argv[1]);
    kura_ctx_free(ctx);
    return rc;
}
