/*
 * tests/server/fake_bitcoind.h — a fake Bitcoin Core node for the chain
 * tests: libmicrohttpd on 127.0.0.1 (an OS-chosen port) answering the
 * JSON-RPC calls kura-server's follower makes, from recorded regtest data
 * (tests/vectors/chain/<scenario>/blocks.jsonl: Core's own raw blocks).
 * The test moves the node's tip and mempool by hand, replaying the
 * scenario's tips.jsonl and mempool.jsonl, so the follower sees what it
 * would have seen polling the real node.
 */
#ifndef KURA_TEST_FAKE_BITCOIND_H
#define KURA_TEST_FAKE_BITCOIND_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fake_block {
    char hash[65];
    char prev[65];
    int64_t height;
    char *hex;
} fake_block;

typedef struct fake_tx {
    char txid[65];
    char *hex;
} fake_tx;

typedef struct fake_node {
    struct MHD_Daemon *daemon;
    uint16_t port;
    char url[64];
    pthread_mutex_t lock;
    char user[32], password[64];     /* expected Basic credentials */
    fake_block *blocks;
    size_t nblocks;
    char tip[65];
    char **chain;                    /* best chain by height (pointers into blocks) */
    int64_t height;
    fake_tx *mempool;
    size_t nmempool;
    fake_tx *sent;                   /* sendrawtransaction calls, in order */
    size_t nsent;
    char chain_name[16];             /* "regtest" */
    int ibd;                         /* initialblockdownload */
    int64_t prune_height;            /* >0: pruned below it */
    unsigned warmup_next;            /* answer -28 to the next N calls */
    unsigned fail_next;              /* answer HTTP 503 with no body to the next N calls */
    double feerate;                  /* estimatesmartfee BTC/kvB; <0: no estimate */
    int reject_next;                 /* testmempoolaccept refuses the next one */
    size_t calls;
    size_t getblock_calls;
    void (*on_getblock)(void *); /* called (once, then cleared) at the next getblock */
    void *on_getblock_arg;
} fake_node;

/* Starts the node with the scenario's blocks (blocks.jsonl path) and its
 * tip at genesis; user/password required. Fails the test on error. */
void fake_node_start(fake_node *n, const char *blocks_jsonl);
void fake_node_stop(fake_node *n);
/* Sets the best tip (a hash of blocks.jsonl); returns its height or -1. */
int64_t fake_node_set_tip(fake_node *n, const char *hash);
void fake_node_mempool_add(fake_node *n, const char *txid, const char *hex);
void fake_node_mempool_remove(fake_node *n, const char *txid);
/* The block's hex (NULL when unknown). */
const char *fake_node_block_hex(fake_node *n, const char *hash);

#endif
