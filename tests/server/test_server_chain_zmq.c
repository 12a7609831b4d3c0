/*
 * tests/server/test_server_chain_zmq.c — the chain worker woken by Bitcoin
 * Core's ZMQ notifications (server/chain/notify.h): a ZMQ PUB socket of the
 * test's own plays the node's -zmqpubhashblock/-zmqpubrawtx publisher
 * (frames: topic, body, 4-byte little-endian sequence number), beside the
 * fake node's JSON-RPC with the recorded `deposits` regtest chain.
 *
 * The worker polls every 60 s; each check wants a reaction within 5 s:
 *  - hashblock: the node's tip moves, a notification is published, and the
 *    follower connects the new blocks long before its next poll;
 *  - rawtx: a transaction paying a watched address enters the node's
 *    mempool and is published: the deposit is recorded at once, from the
 *    published bytes (the mempool scan did not ask the node for them);
 *  - a sequence number that skips is counted as a gap and still wakes it;
 *  - garbage on rawtx (not one transaction) is not handed to the follower.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>
#include <zmq.h>

#include "chain/broadcast.h"
#include "chain/chain.h"
#include "fake_bitcoind.h"
#include "kura/block.h"
#include "kura/descriptor.h"
#include "kura/keys.h"
#include "server_testutil.h"
#include "store/store_wallets.h"

#define POLL_MS 60000
#define REACT_MS 5000

static double mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

typedef struct fixture {
    fake_node node;
    json_t *expected;
    kura_store *st;
    void *zctx, *pub;
    char endpoint[128];
    uint32_t seq[2];
    char wallet[KURA_DB_ID_SIZE];
} fixture;

typedef struct wallet_arg {
    const char *descriptor;
    char *id;
} wallet_arg;

/* The `wpkh` wallet with receive addresses 0..19 allocated. */
static int wallet_fn(kura_db *db, void *varg, kura_db_error *err)
{
    wallet_arg *a = varg;
    kura_wallet_row w;
    kura_ctx *ctx = kura_ctx_new();
    kura_descriptor *desc = NULL;
    int rc;
    assert_non_null(ctx);
    assert_int_equal(kura_descriptor_parse(ctx, &desc, a->descriptor, strlen(a->descriptor), NULL),
                     0);
    memset(&w, 0, sizeof w);
    kura_db_new_id(w.id, "wl");
    snprintf(w.name, sizeof w.name, "wpkh");
    snprintf(w.chain, sizeof w.chain, "regtest");
    w.descriptor = (char *)a->descriptor;
    snprintf(w.checksum, sizeof w.checksum, "%s", strchr(a->descriptor, '#') + 1);
    snprintf(w.kind, sizeof w.kind, "wpkh");
    w.threshold = 1;
    w.policy_version = 1;
    w.min_confirmations = 1;
    w.created_at = 1;
    snprintf(a->id, KURA_DB_ID_SIZE, "%s", w.id);
    rc = kura_store_wallet_insert(db, &w, err);
    for (uint32_t i = 0; rc == KURA_DB_OK && i < 20; i++) {
        kura_address_row r;
        uint8_t script[64];
        size_t n = 0;
        memset(&r, 0, sizeof r);
        snprintf(r.wallet_id, sizeof r.wallet_id, "%s", w.id);
        r.idx = i;
        assert_int_equal(kura_descriptor_script_pubkey(ctx, script, sizeof script, &n, desc, 0, i,
                                                       NULL),
                         0);
        sodium_bin2hex(r.script, sizeof r.script, script, n);
        assert_int_equal(kura_descriptor_address(ctx, r.address, sizeof r.address, desc, 0, i,
                                                 KURA_NETWORK_REGTEST, NULL),
                         0);
        r.created_at = 1;
        rc = kura_store_address_insert(db, &r, err);
    }
    kura_descriptor_free(desc);
    kura_ctx_free(ctx);
    return rc;
}

static const char *block_at(fixture *fx, int64_t height)
{
    for (size_t i = 0; i < fx->node.nblocks; i++)
        if (fx->node.blocks[i].height == height)
            return fx->node.blocks[i].hash;
    return NULL;
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    kura_db_error err;
    size_t len = sizeof fx->endpoint;
    assert_non_null(fx);
    fake_node_start(&fx->node, KURA_CHAIN_VECTORS "/deposits/blocks.jsonl");
    fx->expected = json_load_file(KURA_CHAIN_VECTORS "/deposits/expected-follower.json", 0, NULL);
    assert_non_null(fx->expected);
    assert_true(fake_node_set_tip(&fx->node, block_at(fx, 100)) == 100);
    fx->st = kura_test_store_open();
    {
        wallet_arg a = {json_string_value(json_object_get(json_object_get(fx->expected,
                                                                          "descriptors"),
                                                          "wpkh")),
                        fx->wallet};
        assert_int_equal(kura_store_write(fx->st, wallet_fn, &a, &err), 0);
    }
    /* The node's publisher, on a port the OS picks. */
    fx->zctx = zmq_ctx_new();
    assert_non_null(fx->zctx);
    fx->pub = zmq_socket(fx->zctx, ZMQ_PUB);
    assert_non_null(fx->pub);
    assert_int_equal(zmq_bind(fx->pub, "tcp://127.0.0.1:*"), 0);
    assert_int_equal(zmq_getsockopt(fx->pub, ZMQ_LAST_ENDPOINT, fx->endpoint, &len), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    int linger = 0;
    zmq_setsockopt(fx->pub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(fx->pub);
    zmq_ctx_term(fx->zctx);
    kura_store_close(fx->st);
    fake_node_stop(&fx->node);
    json_decref(fx->expected);
    free(fx);
    return 0;
}

/* One notification as Core sends it; seq NULL: the topic's next number. */
static void publish(fixture *fx, const char *topic, const void *body, size_t len,
                    const uint32_t *seq)
{
    int t = strcmp(topic, "rawtx") == 0;
    uint32_t s = seq ? *seq : fx->seq[t];
    uint8_t le[4] = {(uint8_t)s, (uint8_t)(s >> 8), (uint8_t)(s >> 16), (uint8_t)(s >> 24)};
    fx->seq[t] = s + 1;
    assert_true(zmq_send(fx->pub, topic, strlen(topic), ZMQ_SNDMORE) >= 0);
    assert_true(zmq_send(fx->pub, body, len, ZMQ_SNDMORE) >= 0);
    assert_true(zmq_send(fx->pub, le, 4, 0) >= 0);
}

static int64_t follower_height(fixture *fx)
{
    json_t *st = NULL;
    kura_problem p;
    int64_t h;
    assert_int_equal(kura_chain_status(fx->st, 0, &st, &p), 0);
    h = json_is_integer(json_object_get(st, "height"))
            ? (int64_t)json_integer_value(json_object_get(st, "height"))
            : -1;
    json_decref(st);
    return h;
}

static kura_chain_worker *worker(fixture *fx)
{
    kura_chain_worker *w = NULL;
    kura_chain_worker_options o;
    kura_rpc_error e;
    memset(&o, 0, sizeof o);
    o.rpc.url = fx->node.url;
    o.rpc.user = "kura";
    o.rpc.password = "regtest-password";
    o.rpc.timeout_ms = 5000;
    o.poll_interval_ms = POLL_MS;
    o.holder = "zmq-test";
    o.zmq_hashblock = fx->endpoint;
    o.zmq_rawtx = fx->endpoint;
    if (kura_chain_worker_start(&w, fx->st, &o, &e) != KURA_RPC_OK)
        fail_msg("worker: %s", e.message);
    /* Its first polls run at once: wait for them to be done (101 blocks),
     * so that what the test does next is seen by a poll it wakes. */
    for (double t0 = mono();
         follower_height(fx) < 100 || kura_chain_worker_counts(w, NULL, NULL, NULL, NULL, NULL);
         sleep_ms(50))
        assert_true(mono() - t0 < 120);
    return w;
}

/* Publishes (again every 200 ms: a subscriber that has just connected
 * misses what came before it) until done(fx) or REACT_MS; returns the
 * seconds it took. */
static double publish_until(fixture *fx, const char *topic, const void *body, size_t len,
                            int (*done)(fixture *))
{
    double t0 = mono(), last = 0;
    while (!done(fx)) {
        double now = mono();
        if (now - t0 > REACT_MS / 1000.0)
            fail_msg("no reaction to %s within %d ms (the poll interval is %d ms)", topic,
                     REACT_MS, POLL_MS);
        if (now - last >= 0.2) {
            publish(fx, topic, body, len, NULL);
            last = now;
        }
        sleep_ms(20);
    }
    return mono() - t0;
}

static int at_120(fixture *fx)
{
    return follower_height(fx) == 120;
}

static void test_hashblock_wakes_the_follower(void **state)
{
    fixture *fx = *state;
    kura_chain_worker *w = worker(fx);
    uint8_t hash[32];
    size_t n = 0;
    double took;
    uint64_t notes = 0;
    assert_true(fake_node_set_tip(&fx->node, block_at(fx, 120)) == 120);
    assert_int_equal(sodium_hex2bin(hash, 32, block_at(fx, 120), 64, NULL, &n, NULL), 0);
    took = publish_until(fx, "hashblock", hash, 32, at_120);
    assert_true(took < REACT_MS / 1000.0);
    kura_chain_worker_counts(w, NULL, &notes, NULL, NULL, NULL);
    assert_true(notes >= 1);
    kura_chain_worker_stop(w);
}

/* A transaction of a later block that pays receive index 0..19 of the wallet. */
static const char *watched_payment(fixture *fx, int64_t *height)
{
    json_t *rec = json_object_get(json_object_get(json_object_get(fx->expected, "wallets"), "wpkh"),
                                  "received");
    size_t i;
    json_t *u;
    json_array_foreach(rec, i, u) {
        json_t *h = json_array_get(u, 5);
        if (json_is_integer(h) && json_integer_value(h) > 120 &&
            strcmp(json_string_value(json_array_get(u, 6)), "receive") == 0 &&
            json_integer_value(json_array_get(u, 7)) < 20 && !json_is_true(json_array_get(u, 4))) {
            *height = (int64_t)json_integer_value(h);
            return json_string_value(json_array_get(u, 0));
        }
    }
    return NULL;
}

static const char *want_txid;

static int deposit_seen(fixture *fx)
{
    json_t *page = NULL;
    kura_problem p;
    int found = 0;
    size_t i;
    json_t *d;
    assert_int_equal(kura_chain_deposit_list(fx->st, fx->wallet, NULL, NULL, NULL, 500, &page, &p),
                     0);
    json_array_foreach(json_object_get(page, "items"), i, d)
        found |= strcmp(json_string_value(json_object_get(d, "txid")), want_txid) == 0;
    json_decref(page);
    return found;
}

/* The raw transaction txid, from the block at height that holds it. */
static uint8_t *tx_bytes(fixture *fx, int64_t height, const char *txid, size_t *len)
{
    const char *hex = fake_node_block_hex(&fx->node, block_at(fx, height));
    size_t blen = strlen(hex) / 2, got = 0;
    uint8_t *b = malloc(blen), *out = NULL;
    kura_block *blk = NULL;
    assert_non_null(b);
    assert_int_equal(sodium_hex2bin(b, blen, hex, strlen(hex), NULL, &got, NULL), 0);
    assert_int_equal(kura_block_parse(&blk, b, blen, 0, NULL), 0);
    for (size_t t = 0; t < blk->tx_count; t++) {
        uint8_t id[32], rev[32];
        char h[65];
        kura_block_tx_txid(id, b, &blk->txs[t]);
        for (size_t k = 0; k < 32; k++)
            rev[k] = id[31 - k];
        sodium_bin2hex(h, sizeof h, rev, 32);
        if (strcmp(h, txid) == 0) {
            out = malloc(blk->txs[t].len);
            assert_non_null(out);
            memcpy(out, b + blk->txs[t].offset, blk->txs[t].len);
            *len = blk->txs[t].len;
        }
    }
    kura_block_free(blk);
    free(b);
    assert_non_null(out);
    return out;
}

static void test_rawtx_hands_the_bytes_over(void **state)
{
    fixture *fx = *state;
    kura_chain_worker *w = worker(fx);
    int64_t height = 0;
    size_t len = 0;
    uint8_t *bytes;
    uint64_t rawtx = 0, used = 0, gaps = 0;
    uint8_t junk[7] = {1, 2, 3, 4, 5, 6, 7};
    uint32_t skip = 1000;
    want_txid = watched_payment(fx, &height);
    assert_non_null(want_txid);
    bytes = tx_bytes(fx, height, want_txid, &len);
    /* As Core does: in the mempool, then published. */
    {
        char *hex = malloc(len * 2 + 1);
        assert_non_null(hex);
        sodium_bin2hex(hex, len * 2 + 1, bytes, len);
        fake_node_mempool_add(&fx->node, want_txid, hex);
        free(hex);
    }
    assert_true(publish_until(fx, "rawtx", bytes, len, deposit_seen) < REACT_MS / 1000.0);
    /* The counts move when the poll that recorded the deposit is over. */
    for (double t0 = mono(); kura_chain_worker_counts(w, NULL, NULL, NULL, &rawtx, &used);
         sleep_ms(20))
        assert_true(mono() - t0 < REACT_MS / 1000.0);
    assert_true(rawtx >= 1);
    assert_true(used >= 1); /* the scan read the published bytes, not the node's */
    /* Garbage: a notification (a poll), never handed over. */
    {
        uint64_t notes = 0, notes_after = 0, rawtx_after = 0;
        kura_chain_worker_counts(w, NULL, &notes, NULL, &rawtx, NULL);
        publish(fx, "rawtx", junk, sizeof junk, NULL);
        for (double t0 = mono(); notes_after <= notes; sleep_ms(20)) {
            kura_chain_worker_counts(w, NULL, &notes_after, NULL, &rawtx_after, NULL);
            assert_true(mono() - t0 < REACT_MS / 1000.0);
        }
        assert_int_equal(rawtx_after, rawtx);
    }
    /* A skipped sequence number: a gap, and still a wake-up. */
    publish(fx, "rawtx", bytes, len, &skip);
    for (double t0 = mono();; sleep_ms(20)) {
        kura_chain_worker_counts(w, NULL, NULL, &gaps, NULL, NULL);
        if (gaps >= 1)
            break;
        assert_true(mono() - t0 < REACT_MS / 1000.0);
    }
    kura_chain_worker_stop(w);
    free(bytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hashblock_wakes_the_follower, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rawtx_hands_the_bytes_over, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
