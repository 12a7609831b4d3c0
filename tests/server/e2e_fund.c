/*
 * tests/server/e2e_fund.c — kura-test-fund: what the server end-to-end test
 * needs that has no HTTP route until the chain follower exists.
 *
 *   kura-test-fund fund DB WALLET_ID DESCRIPTOR INDEX AMOUNT SEED
 *       A made-up funding transaction (one input spending a coin named by
 *       SEED, one output of AMOUNT sat to DESCRIPTOR's receive address INDEX)
 *       recorded as the wallet's coin through the store API (kura_utxo_add,
 *       confirmed at height 100): the way the issue says the UTXO table is
 *       filled until the follower fills it. Prints the funding txid.
 *   kura-test-fund verify DB TRANSFER_ID
 *       Every signature of the transfer's final transaction verified
 *       (kura_wallet_verify_tx) against the outputs it spends, read from the
 *       funding transactions the store holds. Prints how many.
 *
 * DB is a store URL (sqlite:PATH or a PostgreSQL connection string).
 * Exit 0 done, 1 refused (a signature that does not verify), 2 could not run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "domain/addresses.h"
#include "domain/people.h"
#include "e2e-util.h"
#include "kura/keys.h"
#include "kura/wallet.h"
#include "store/store.h"

static int die(int code, const char *what, const char *why)
{
    fprintf(stderr, "kura-test-fund: %s: %s\n", what, why);
    return code;
}

static char *tx_hex(const kura_tx *tx)
{
    size_t n = kura_tx_serialized_size(tx, KURA_TX_WITNESS), wr = 0;
    uint8_t *b = malloc(n);
    char *hex = malloc(2 * n + 1);
    if (!b || !hex || kura_tx_serialize(b, n, &wr, tx, KURA_TX_WITNESS) != KURA_OK) {
        free(b);
        free(hex);
        return NULL;
    }
    sodium_bin2hex(hex, 2 * n + 1, b, wr);
    free(b);
    return hex;
}

static int cmd_fund(kura_store *st, char **argv)
{
    const char *wallet_id = argv[0], *descriptor = argv[1];
    uint32_t index = (uint32_t)strtoul(argv[2], NULL, 10);
    uint64_t amount = strtoull(argv[3], NULL, 10);
    uint8_t prev[32];
    kura_ctx *ctx = kura_ctx_new();
    kura_descriptor *d = NULL;
    kura_tx *tx = NULL;
    kura_error kerr = {0};
    kura_problem p = {0};
    uint8_t txid[32];
    char txid_hex[65], *hex = NULL;
    int rc = 2;

    memset(prev, 0, sizeof prev);
    prev[0] = (uint8_t)strtoul(argv[4], NULL, 16);
    prev[1] = (uint8_t)index;
    if (!ctx || kura_descriptor_parse(ctx, &d, descriptor, strlen(descriptor), &kerr) != KURA_OK) {
        rc = die(2, "descriptor", kerr.message);
        goto done;
    }
    if (e2e_funding_tx(&tx, ctx, d, 0, index, prev, 0, amount, &kerr) != 0 ||
        !(hex = tx_hex(tx))) {
        rc = die(2, "funding transaction", kerr.message);
        goto done;
    }
    if (kura_utxo_add(st, wallet_id, hex, 0, 100, (int64_t)time(NULL), &p) != 0) {
        rc = die(2, "kura_utxo_add", p.message);
        goto done;
    }
    kura_tx_txid(txid, tx);
    kura_txid_to_hex(txid_hex, txid);
    printf("%s\n", txid_hex);
    rc = 0;
done:
    free(hex);
    kura_tx_free(tx);
    kura_descriptor_free(d);
    kura_ctx_free(ctx);
    return rc;
}

/* Reads one text column of one row; NULL when absent. malloc'd. */
static int query_text(kura_db *db, char **out, const char *sql, const kura_db_param *params,
                      size_t n, kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc = kura_db_exec(db, &res, sql, params, n, err);
    const char *v;
    *out = NULL;
    if (rc != KURA_DB_OK)
        return rc;
    v = kura_db_result_text(res, 0, 0);
    if (v && !(*out = strdup(v)))
        rc = KURA_DB_ENOMEM;
    kura_db_result_free(res);
    return rc;
}

typedef struct verify_arg {
    const char *transfer_id;
    size_t checked;
    int refused;
    char why[KURA_ERROR_MESSAGE_MAX];
} verify_arg;

static int hex_tx(kura_tx **out, const char *hex)
{
    size_t hl = strlen(hex), bl = 0;
    uint8_t *b = malloc(hl / 2 + 1);
    int rc;
    if (!b)
        return -1;
    rc = sodium_hex2bin(b, hl / 2 + 1, hex, hl, NULL, &bl, NULL) == 0 &&
                 kura_tx_parse(out, b, bl, KURA_TX_WITNESS, NULL) == KURA_OK
             ? 0
             : -1;
    free(b);
    return rc;
}

static int verify_tx(kura_db *db, void *arg, kura_db_error *err)
{
    verify_arg *a = arg;
    char *raw = NULL;
    kura_tx *tx = NULL;
    kura_txout *spent = NULL;
    kura_tx **prevs = NULL;
    kura_error kerr = {0};
    int rc = query_text(db, &raw, "SELECT raw_tx FROM transfers WHERE id = $1",
                        (kura_db_param[]){KURA_DB_TEXT(a->transfer_id)}, 1, err);
    if (rc)
        return rc;
    if (!raw || hex_tx(&tx, raw) != 0) {
        snprintf(a->why, sizeof a->why, "the transfer has no parsable raw_tx");
        a->refused = 2;
        goto done;
    }
    spent = calloc(tx->input_count, sizeof *spent);
    prevs = calloc(tx->input_count, sizeof *prevs);
    if (!spent || !prevs) {
        rc = KURA_DB_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < tx->input_count; i++) {
        char txid[65], *prev_hex = NULL;
        kura_txid_to_hex(txid, tx->inputs[i].prev_txid);
        if ((rc = query_text(db, &prev_hex, "SELECT prev_tx FROM utxos WHERE txid = $1 AND vout = $2",
                             (kura_db_param[]){KURA_DB_TEXT(txid),
                                               KURA_DB_INT(tx->inputs[i].prev_vout)},
                             2, err)))
            goto done;
        if (!prev_hex || hex_tx(&prevs[i], prev_hex) != 0 ||
            tx->inputs[i].prev_vout >= prevs[i]->output_count) {
            free(prev_hex);
            snprintf(a->why, sizeof a->why, "input %zu spends %s:%u, which the store does not hold",
                     i, txid, tx->inputs[i].prev_vout);
            a->refused = 2;
            goto done;
        }
        free(prev_hex);
        spent[i] = prevs[i]->outputs[tx->inputs[i].prev_vout];
    }
    if (kura_wallet_verify_tx(NULL, &a->checked, tx, spent, &kerr) != KURA_OK) {
        snprintf(a->why, sizeof a->why, "%s", kerr.message);
        a->refused = 1;
    }
done:
    for (size_t i = 0; prevs && tx && i < tx->input_count; i++)
        kura_tx_free(prevs[i]);
    free(prevs);
    free(spent);
    kura_tx_free(tx);
    free(raw);
    return rc;
}

int main(int argc, char **argv)
{
    kura_store *st = NULL;
    kura_db_error err = {0};
    int rc;
    if (argc < 3 || (strcmp(argv[1], "fund") == 0 && argc != 8) ||
        (strcmp(argv[1], "verify") == 0 && argc != 4)) {
        fputs("usage: kura-test-fund fund DB WALLET_ID DESCRIPTOR INDEX AMOUNT SEED\n"
              "       kura-test-fund verify DB TRANSFER_ID\n",
              stderr);
        return 2;
    }
    if (sodium_init() < 0)
        return die(2, "libsodium", "cannot start");
    if (kura_store_open(&st, argv[2], 2, &err) != KURA_DB_OK)
        return die(2, argv[2], err.message);
    if (strcmp(argv[1], "fund") == 0) {
        rc = cmd_fund(st, argv + 3);
    } else if (strcmp(argv[1], "verify") == 0) {
        verify_arg a = {argv[3], 0, 0, ""};
        rc = kura_store_read(st, verify_tx, &a, &err);
        if (rc != KURA_DB_OK)
            rc = die(2, "database", err.message);
        else if (a.refused)
            rc = die(a.refused, "verify", a.why);
        else
            printf("%zu signatures verify\n", a.checked);
    } else {
        rc = die(2, argv[1], "unknown command");
    }
    kura_store_close(st);
    return rc;
}
