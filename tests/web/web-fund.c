/*
 * tests/web/web-fund.c — coins for the browser test's wallet, as the chain
 * follower will add them once it exists: a made-up funding transaction paying
 * AMOUNT to the wallet's receive address INDEX, recorded with kura_utxo_add
 * in the running kura-server's database (SQLite in WAL mode takes a second
 * writer).
 *
 *   web-fund DB_URL WALLET_ID DESCRIPTOR INDEX AMOUNT_SATS SEED_BYTE
 *
 * Exit 0 done, 1 refused (the message says why), 2 usage.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "domain/addresses.h"
#include "domain/people.h"
#include "domain/wallets.h"
#include "e2e-util.h"
#include "kura/descriptor.h"
#include "kura/keys.h"
#include "kura/tx.h"
#include "store/store.h"

int main(int argc, char **argv)
{
    kura_ctx *ctx;
    kura_descriptor *d = NULL;
    kura_tx *tx = NULL;
    kura_error err;
    kura_store *st = NULL;
    kura_db_error derr = {0};
    kura_problem p;
    uint8_t prev[32];
    uint8_t *bytes = NULL;
    char *hex = NULL;
    size_t n, wr = 0;
    int rc = 1;
    if (argc != 7) {
        fprintf(stderr, "usage: web-fund DB_URL WALLET_ID DESCRIPTOR INDEX AMOUNT_SATS SEED_BYTE\n");
        return 2;
    }
    if (sodium_init() < 0 || !(ctx = kura_ctx_new()))
        return 1;
    memset(prev, (int)strtoul(argv[6], NULL, 10), sizeof prev);
    if (kura_descriptor_parse(ctx, &d, argv[3], strlen(argv[3]), &err) != KURA_OK) {
        fprintf(stderr, "web-fund: descriptor: %s\n", err.message);
        goto done;
    }
    if (e2e_funding_tx(&tx, ctx, d, 0, (uint32_t)strtoul(argv[4], NULL, 10), prev, 0,
                       strtoull(argv[5], NULL, 10), &err) != 0) {
        fprintf(stderr, "web-fund: funding transaction: %s\n", err.message);
        goto done;
    }
    n = kura_tx_serialized_size(tx, KURA_TX_WITNESS);
    bytes = malloc(n);
    hex = malloc(2 * n + 1);
    if (!bytes || !hex || kura_tx_serialize(bytes, n, &wr, tx, KURA_TX_WITNESS) != KURA_OK)
        goto done;
    sodium_bin2hex(hex, 2 * n + 1, bytes, n);
    kura_people_init();
    kura_domain_register_snapshots();
    if (kura_store_open(&st, argv[1], 2, &derr) != KURA_DB_OK) {
        fprintf(stderr, "web-fund: %s: %s\n", argv[1], derr.message);
        goto done;
    }
    if (kura_utxo_add(st, argv[2], hex, 0, 100, (int64_t)time(NULL), &p) != 0) {
        fprintf(stderr, "web-fund: kura_utxo_add: %s\n", p.message);
        goto done;
    }
    printf("funded %s with %s sats at receive index %s\n", argv[2], argv[5], argv[4]);
    rc = 0;
done:
    kura_store_close(st);
    free(bytes);
    free(hex);
    kura_tx_free(tx);
    kura_descriptor_free(d);
    kura_ctx_free(ctx);
    return rc;
}
