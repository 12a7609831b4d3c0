/*
 * tests/server/cluster_tool.c — kura-test-cluster: what the cluster test
 * (test_cluster.py) needs beside the real programs.
 *
 *   kura-test-cluster setup DB EXPECTED_JSON
 *       Registers the four watch-only wallets of a recorded regtest chain
 *       (EXPECTED_JSON: tests/vectors/chain/<scenario>/expected-follower.json,
 *       its "descriptors") straight in the database, as the follower's own
 *       test does, with the receive and change addresses Core saw paid (the
 *       "received" entries' branch and index), derived by libkura. The
 *       wallets' next indexes are set past them. Prints one line per
 *       wallet: "<kind> <wallet id>".
 *   kura-test-cluster node BLOCKS_JSONL
 *       A fake Bitcoin Core node (fake_bitcoind.c) serving the recorded
 *       blocks, user "kura", password "regtest-password". Prints
 *       "url <url>", then reads commands on stdin, one a line, answering
 *       each with one line: "tip HEIGHT" moves the best tip to the block at
 *       that height ("ok HEIGHT"); "calls" prints "calls <getblock calls>".
 *       Stops at end of input.
 *
 * DB is a store URL (sqlite:PATH or a PostgreSQL connection string).
 * Exit 0 done, 2 could not run.
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
#include "kura/descriptor.h"
#include "store/store.h"
#include "store/store_wallets.h"

static const char *const kinds[4] = {"wpkh", "wsh_multi", "tr", "tr_multi"};

static int die(const char *what, const char *why)
{
    fprintf(stderr, "kura-test-cluster: %s: %s\n", what, why);
    return 2;
}

typedef struct setup_arg {
    json_t *expected;
    kura_ctx *ctx;
    char ids[4][KURA_DB_ID_SIZE];
} setup_arg;

static int add_address(kura_db *db, kura_ctx *ctx, const kura_descriptor *desc, const char *wallet_id,
                       int64_t branch, int64_t idx, kura_db_error *err)
{
    kura_address_row r;
    uint8_t script[128];
    size_t n = 0;
    kura_db_result *res = NULL;
    int rc;
    /* Already there (two outputs paid one address). */
    rc = kura_db_exec(db, &res, "SELECT 1 FROM addresses WHERE wallet_id = $1 AND branch = $2 AND idx = $3",
                      (kura_db_param[]){KURA_DB_TEXT(wallet_id), KURA_DB_INT(branch), KURA_DB_INT(idx)},
                      3, err);
    if (rc != KURA_DB_OK)
        return rc;
    n = kura_db_result_rows(res);
    kura_db_result_free(res);
    if (n)
        return KURA_DB_OK;
    memset(&r, 0, sizeof r);
    snprintf(r.wallet_id, sizeof r.wallet_id, "%s", wallet_id);
    r.branch = branch;
    r.idx = idx;
    if (kura_descriptor_script_pubkey(ctx, script, sizeof script, &n, desc, (uint32_t)branch,
                                      (uint32_t)idx, NULL) != 0 ||
        kura_descriptor_address(ctx, r.address, sizeof r.address, desc, (uint32_t)branch,
                                (uint32_t)idx, KURA_NETWORK_REGTEST, NULL) != 0)
        return kura_db_fail(err, KURA_DB_EINVAL, "cannot derive %lld/%lld", (long long)branch,
                            (long long)idx);
    sodium_bin2hex(r.script, sizeof r.script, script, n);
    if (branch == 0)
        snprintf(r.account, sizeof r.account, "customer-%lld", (long long)(idx % 3));
    r.created_at = 1;
    return kura_store_address_insert(db, &r, err);
}

static int setup_fn(kura_db *db, void *varg, kura_db_error *err)
{
    setup_arg *a = varg;
    json_t *descs = json_object_get(a->expected, "descriptors");
    json_t *wallets = json_object_get(a->expected, "wallets");
    int rc;
    for (size_t k = 0; k < 4; k++) {
        const char *d = json_string_value(json_object_get(descs, kinds[k]));
        json_t *received = json_object_get(json_object_get(wallets, kinds[k]), "received"), *u;
        kura_descriptor *desc = NULL;
        kura_wallet_row w;
        int64_t next[2] = {0, 0};
        size_t i;
        if (!d || !json_is_array(received))
            return kura_db_fail(err, KURA_DB_EINVAL, "no descriptor or received list for %s", kinds[k]);
        if (kura_descriptor_parse(a->ctx, &desc, d, strlen(d), NULL) != 0)
            return kura_db_fail(err, KURA_DB_EINVAL, "bad descriptor for %s", kinds[k]);
        memset(&w, 0, sizeof w);
        kura_db_new_id(w.id, "wl");
        snprintf(w.name, sizeof w.name, "chain-%s", kinds[k]);
        for (char *c = w.name; *c; c++)
            if (*c == '_')
                *c = '-';
        snprintf(w.chain, sizeof w.chain, "regtest");
        w.descriptor = (char *)d;
        snprintf(w.checksum, sizeof w.checksum, "%s", strchr(d, '#') + 1);
        snprintf(w.kind, sizeof w.kind, "%s", kinds[k]);
        w.threshold = 1;
        w.policy_version = 1;
        w.min_confirmations = k == 1 ? 3 : 1; /* as the follower's test: wsh_multi waits for 3 */
        w.created_at = 1;
        rc = kura_store_wallet_insert(db, &w, err);
        json_array_foreach(received, i, u) {
            int64_t branch = strcmp(json_string_value(json_array_get(u, 6)), "change") == 0;
            int64_t idx = json_integer_value(json_array_get(u, 7));
            if (rc == KURA_DB_OK)
                rc = add_address(db, a->ctx, desc, w.id, branch, idx, err);
            if (idx + 1 > next[branch])
                next[branch] = idx + 1;
        }
        kura_descriptor_free(desc);
        if (rc == KURA_DB_OK)
            rc = kura_db_exec(db, NULL,
                              "UPDATE wallets SET next_receive_index = $2, next_change_index = $3 WHERE id = $1",
                              (kura_db_param[]){KURA_DB_TEXT(w.id), KURA_DB_INT(next[0]),
                                                KURA_DB_INT(next[1])},
                              3, err);
        if (rc != KURA_DB_OK)
            return rc;
        snprintf(a->ids[k], sizeof a->ids[k], "%s", w.id);
    }
    return KURA_DB_OK;
}

static int cmd_setup(const char *url, const char *expected_path)
{
    kura_store *st = NULL;
    kura_db_error err = {0};
    json_error_t jerr;
    setup_arg a;
    int rc;
    memset(&a, 0, sizeof a);
    a.expected = json_load_file(expected_path, 0, &jerr);
    if (!a.expected)
        return die(expected_path, jerr.text);
    a.ctx = kura_ctx_new();
    if (!a.ctx || kura_store_open(&st, url, 2, &err) != KURA_DB_OK) {
        json_decref(a.expected);
        kura_ctx_free(a.ctx);
        return die("database", err.message);
    }
    rc = kura_store_write(st, setup_fn, &a, &err);
    kura_store_close(st);
    kura_ctx_free(a.ctx);
    json_decref(a.expected);
    if (rc != KURA_DB_OK)
        return die("setup", err.message);
    for (size_t k = 0; k < 4; k++)
        printf("%s %s\n", kinds[k], a.ids[k]);
    return 0;
}

static int cmd_node(const char *blocks)
{
    fake_node n;
    char line[256];
    fake_node_start(&n, blocks);
    printf("url %s\n", n.url);
    fflush(stdout);
    while (fgets(line, sizeof line, stdin)) {
        long long h;
        if (sscanf(line, "tip %lld", &h) == 1) {
            const char *hash = NULL;
            for (size_t i = 0; i < n.nblocks; i++)
                if (n.blocks[i].height == h)
                    hash = n.blocks[i].hash;
            printf("ok %lld\n", hash ? (long long)fake_node_set_tip(&n, hash) : -1LL);
        } else if (strncmp(line, "calls", 5) == 0) {
            pthread_mutex_lock(&n.lock);
            printf("calls %zu\n", n.getblock_calls);
            pthread_mutex_unlock(&n.lock);
        } else {
            printf("? %s", line);
        }
        fflush(stdout);
    }
    fake_node_stop(&n);
    return 0;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return die("libsodium", "cannot initialise");
    if (argc == 4 && strcmp(argv[1], "setup") == 0)
        return cmd_setup(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "node") == 0)
        return cmd_node(argv[2]);
    fprintf(stderr, "usage: kura-test-cluster setup DB EXPECTED_JSON\n"
                    "       kura-test-cluster node BLOCKS_JSONL\n");
    return 2;
}
