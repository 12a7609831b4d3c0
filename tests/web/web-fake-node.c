/*
 * tests/web/web-fake-node.c — the fake Bitcoin Core node of the chain tests
 * (tests/server/fake_bitcoind.c, fed with a recorded regtest chain from
 * tests/vectors/chain/<scenario>/) as a program of its own, so the browser
 * test's real kura-server can follow it over HTTP.
 *
 *   web-fake-node SCENARIO_DIR
 *
 * Prints one line "url USER PASSWORD" when it listens (tip at genesis), then
 * reads the scenario's timeline lines on stdin, one JSON object a line, and
 * answers each with one line:
 *   {"tip": HASH}            the best tip moves there     -> "ok HEIGHT"
 *   {"add": TXID[, "hex"]}   a transaction enters the mempool (without hex:
 *                            taken from the scenario's blocks) -> "ok"
 *   {"remove": TXID}         it leaves                     -> "ok"
 *   {"calls": 1}             how many RPC calls it answered -> "ok N"
 * anything else: "error ...". It stops at the end of its input.
 * Exit 0, 1 (the scenario does not load), 2 (usage).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "fake_bitcoind.h"
#include "kura/block.h"

typedef struct txhex {
    char txid[65];
    char *hex;
} txhex;

static txhex *txs;
static size_t ntxs;

/* Every transaction of every block, by txid (for mempool lines without hex). */
static int index_txs(fake_node *n)
{
    for (size_t i = 0; i < n->nblocks; i++) {
        const char *hex = n->blocks[i].hex;
        size_t len = strlen(hex) / 2, got = 0;
        uint8_t *bytes = malloc(len ? len : 1);
        kura_block *b = NULL;
        if (!bytes || sodium_hex2bin(bytes, len, hex, strlen(hex), NULL, &got, NULL) != 0 ||
            got != len || kura_block_parse(&b, bytes, len, 0, NULL) != 0) {
            free(bytes);
            return -1;
        }
        for (size_t t = 0; t < b->tx_count; t++) {
            txhex *p = realloc(txs, (ntxs + 1) * sizeof *p);
            uint8_t txid[32], rev[32];
            if (!p) {
                kura_block_free(b);
                free(bytes);
                return -1;
            }
            txs = p;
            kura_block_tx_txid(txid, bytes, &b->txs[t]);
            for (size_t k = 0; k < 32; k++)
                rev[k] = txid[31 - k];
            sodium_bin2hex(txs[ntxs].txid, 65, rev, 32);
            txs[ntxs].hex = malloc((size_t)b->txs[t].len * 2 + 1);
            if (!txs[ntxs].hex) {
                kura_block_free(b);
                free(bytes);
                return -1;
            }
            sodium_bin2hex(txs[ntxs].hex, (size_t)b->txs[t].len * 2 + 1,
                           bytes + b->txs[t].offset, b->txs[t].len);
            ntxs++;
        }
        kura_block_free(b);
        free(bytes);
    }
    return 0;
}

static const char *tx_hex_of(const char *txid)
{
    for (size_t i = 0; i < ntxs; i++)
        if (strcmp(txs[i].txid, txid) == 0)
            return txs[i].hex;
    return NULL;
}

int main(int argc, char **argv)
{
    fake_node node;
    char path[1024];
    char *line = NULL;
    size_t cap = 0;
    if (argc != 2) {
        fprintf(stderr, "usage: web-fake-node SCENARIO_DIR\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    snprintf(path, sizeof path, "%s/blocks.jsonl", argv[1]);
    fake_node_start(&node, path);
    if (index_txs(&node) != 0) {
        fprintf(stderr, "web-fake-node: the blocks of %s do not parse\n", argv[1]);
        fake_node_stop(&node);
        return 1;
    }
    printf("%s %s %s\n", node.url, node.user, node.password);
    fflush(stdout);
    while (getline(&line, &cap, stdin) > 0) {
        json_t *j = json_loads(line, 0, NULL);
        const char *v;
        if (!j) {
            printf("error: not JSON\n");
        } else if ((v = json_string_value(json_object_get(j, "tip")))) {
            int64_t h = fake_node_set_tip(&node, v);
            if (h < 0)
                printf("error: no block %s\n", v);
            else
                printf("ok %lld\n", (long long)h);
        } else if ((v = json_string_value(json_object_get(j, "add")))) {
            const char *hex = json_string_value(json_object_get(j, "hex"));
            if (!hex)
                hex = tx_hex_of(v);
            if (!hex) {
                printf("error: no transaction %s\n", v);
            } else {
                fake_node_mempool_add(&node, v, hex);
                printf("ok\n");
            }
        } else if ((v = json_string_value(json_object_get(j, "remove")))) {
            fake_node_mempool_remove(&node, v);
            printf("ok\n");
        } else if (json_object_get(j, "calls")) {
            size_t calls;
            pthread_mutex_lock(&node.lock);
            calls = node.calls;
            pthread_mutex_unlock(&node.lock);
            printf("ok %zu\n", calls);
        } else {
            printf("error: unknown line\n");
        }
        json_decref(j);
        fflush(stdout);
    }
    free(line);
    fake_node_stop(&node);
    for (size_t i = 0; i < ntxs; i++)
        free(txs[i].hex);
    free(txs);
    return 0;
}
