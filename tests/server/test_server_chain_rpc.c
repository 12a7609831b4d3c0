/*
 * tests/server/test_server_chain_rpc.c — the JSON-RPC client against the
 * fake node: user/password and cookie-file authentication, retries with
 * back-off, and the stable errors for a missing node, wrong credentials, a
 * node still syncing, on the wrong chain, or pruned below what is needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "chain/rpc.h"
#include "fake_bitcoind.h"
#include "kura/block.h"

#define DEPOSITS KURA_CHAIN_VECTORS "/deposits/blocks.jsonl"

static kura_rpc *client(fake_node *n, const char *password, unsigned retries)
{
    kura_rpc *r = NULL;
    kura_rpc_error e;
    kura_rpc_options o = {n->url, NULL, "kura", password, 2000, retries, 10};
    assert_int_equal(kura_rpc_new(&r, &o, &e), KURA_RPC_OK);
    return r;
}

static void test_calls(void **state)
{
    fake_node n;
    kura_rpc *r;
    kura_rpc_error e;
    kura_rpc_chain_info info;
    char hash[65];
    uint8_t *bytes = NULL;
    size_t len = 0;
    kura_block *b = NULL;
    uint64_t fee;
    (void)state;
    fake_node_start(&n, DEPOSITS);
    assert_int_equal(fake_node_set_tip(&n, n.blocks[120].hash), 120);
    r = client(&n, "regtest-password", 0);
    assert_int_equal(kura_rpc_check(r, "regtest", 0, &info, &e), KURA_RPC_OK);
    assert_int_equal(info.blocks, 120);
    assert_string_equal(info.best_hash, n.blocks[120].hash);
    assert_int_equal(kura_rpc_best_hash(r, hash, &e), KURA_RPC_OK);
    assert_string_equal(hash, n.blocks[120].hash);
    assert_int_equal(kura_rpc_block_hash(r, 7, hash, &e), KURA_RPC_OK);
    assert_string_equal(hash, n.blocks[7].hash);
    /* Past the tip: the node's own error, code kept. */
    assert_int_equal(kura_rpc_block_hash(r, 121, hash, &e), KURA_RPC_ERPC);
    assert_int_equal(e.rpc_code, -8);
    /* The raw block parses with libkura and hashes to what was asked. */
    assert_int_equal(kura_rpc_block(r, n.blocks[7].hash, &bytes, &len, &e), KURA_RPC_OK);
    assert_int_equal(kura_block_parse(&b, bytes, len, 0, NULL), 0);
    {
        char hex[65];
        uint8_t rev[32];
        for (size_t i = 0; i < 32; i++)
            rev[i] = b->hash[31 - i];
        for (size_t i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", rev[i]);
        assert_string_equal(hex, n.blocks[7].hash);
    }
    kura_block_free(b);
    free(bytes);
    assert_int_equal(kura_rpc_estimate_fee(r, 6, &fee, &e), KURA_RPC_OK);
    assert_int_equal(fee, 12345);
    n.feerate = -1;
    assert_int_equal(kura_rpc_estimate_fee(r, 6, &fee, &e), KURA_RPC_OK);
    assert_int_equal(fee, 0);
    /* Unknown method: ERPC with Core's -32601. */
    {
        json_t *res = NULL;
        assert_int_equal(kura_rpc_call(r, "nosuchmethod", NULL, &res, &e), KURA_RPC_ERPC);
        assert_int_equal(e.rpc_code, -32601);
        assert_null(res);
    }
    kura_rpc_free(r);
    fake_node_stop(&n);
}

static void test_errors(void **state)
{
    fake_node n;
    kura_rpc *r;
    kura_rpc_error e;
    kura_rpc_chain_info info;
    char hash[65];
    (void)state;
    fake_node_start(&n, DEPOSITS);
    fake_node_set_tip(&n, n.blocks[200].hash);

    /* Wrong password: EAUTH at once (not retried). */
    r = client(&n, "wrong", 3);
    n.calls = 0;
    assert_int_equal(kura_rpc_best_hash(r, hash, &e), KURA_RPC_EAUTH);
    assert_string_equal(kura_rpc_status_name(e.code), "KURA_RPC_EAUTH");
    assert_int_equal(n.calls, 1);
    kura_rpc_free(r);

    r = client(&n, "regtest-password", 3);
    /* Wrong chain. */
    assert_int_equal(kura_rpc_check(r, "bitcoin", 0, &info, &e), KURA_RPC_EWRONGCHAIN);
    assert_non_null(strstr(e.message, "\"regtest\""));
    assert_non_null(strstr(e.message, "\"main\""));
    assert_int_equal(kura_rpc_check(r, "testnet", 0, &info, &e), KURA_RPC_EWRONGCHAIN);
    /* Still syncing. */
    n.ibd = 1;
    assert_int_equal(kura_rpc_check(r, "regtest", 0, &info, &e), KURA_RPC_ESYNCING);
    assert_non_null(strstr(e.message, "initial block download"));
    n.ibd = 0;
    /* Pruned below the height needed; not when the need is above. */
    n.prune_height = 150;
    assert_int_equal(kura_rpc_check(r, "regtest", 100, &info, &e), KURA_RPC_EPRUNED);
    assert_non_null(strstr(e.message, "150"));
    assert_int_equal(kura_rpc_check(r, "regtest", 150, &info, &e), KURA_RPC_OK);
    n.prune_height = 0;
    /* Warming up (-28) twice, then an answer: retried with back-off. */
    n.warmup_next = 2;
    n.calls = 0;
    assert_int_equal(kura_rpc_best_hash(r, hash, &e), KURA_RPC_OK);
    assert_int_equal(n.calls, 3);
    /* More warm-up answers than retries: ESYNCING. */
    n.warmup_next = 10;
    assert_int_equal(kura_rpc_best_hash(r, hash, &e), KURA_RPC_ESYNCING);
    n.warmup_next = 0;
    /* A 503 without a body, then an answer. */
    n.fail_next = 1;
    assert_int_equal(kura_rpc_best_hash(r, hash, &e), KURA_RPC_OK);
    kura_rpc_free(r);

    /* No node at all: EUNREACHABLE after the retries. */
    {
        char url[64];
        kura_rpc_options o = {url, NULL, "kura", "x", 500, 2, 5};
        snprintf(url, sizeof url, "%s", n.url);
        fake_node_stop(&n);
        assert_int_equal(kura_rpc_new(&r, &o, &e), KURA_RPC_OK);
        assert_int_equal(kura_rpc_best_hash(r, hash, &e), KURA_RPC_EUNREACHABLE);
        assert_non_null(strstr(e.message, "no Bitcoin Core node answers"));
        kura_rpc_free(r);
    }
}

static void test_cookie(void **state)
{
    fake_node n;
    kura_rpc *r = NULL;
    kura_rpc_error e;
    char dir[] = "/tmp/kura-cookie.XXXXXX", path[128], hash[65];
    FILE *f;
    kura_rpc_options o;
    (void)state;
    fake_node_start(&n, DEPOSITS);
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/.cookie", dir);
    memset(&o, 0, sizeof o);
    o.url = n.url;
    o.cookie_file = path;
    /* No credentials at all: EINVAL at creation. */
    {
        kura_rpc_options bad = {n.url, NULL, NULL, NULL, 0, 0, 0};
        assert_int_equal(kura_rpc_new(&r, &bad, &e), KURA_RPC_EINVAL);
        assert_null(r);
    }
    assert_int_equal(kura_rpc_new(&r, &o, &e), KURA_RPC_OK);
    /* The cookie file is read per call: absent first, then written. */
    assert_int_equal(kura_rpc_best_hash(r, hash, &e), KURA_RPC_EAUTH);
    assert_non_null(strstr(e.message, "cookie"));
    snprintf(n.user, sizeof n.user, "__cookie__");
    snprintf(n.password, sizeof n.password, "0123abcd");
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("__cookie__:0123abcd", f);
    fclose(f);
    assert_int_equal(kura_rpc_best_hash(r, hash, &e), KURA_RPC_OK);
    assert_string_equal(hash, n.blocks[0].hash);
    /* A restarted node writes a new cookie: picked up without a restart. */
    snprintf(n.password, sizeof n.password, "feedface");
    assert_int_equal(kura_rpc_best_hash(r, hash, &e), KURA_RPC_EAUTH);
    f = fopen(path, "w");
    fputs("__cookie__:feedface\n", f);
    fclose(f);
    assert_int_equal(kura_rpc_best_hash(r, hash, &e), KURA_RPC_OK);
    kura_rpc_free(r);
    unlink(path);
    rmdir(dir);
    fake_node_stop(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calls),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_cookie),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
