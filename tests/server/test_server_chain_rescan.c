/*
 * tests/server/test_server_chain_rescan.c — the recovery scan of a wallet
 * restored elsewhere (server/chain/rescan.h), against the fake node replaying
 * the `deposits` regtest chain made by Bitcoin Core 26.0
 * (tests/vectors/chain/deposits/: 251 blocks; Core watched indexes 0..1999 of
 * each wallet and concluded expected-follower.json).
 *
 * The wallets are registered with no address allocated (restored from their
 * descriptor only), so the follower alone finds nothing; the recovery scan
 * finds what a gap limit reaches. The chain's own gaps are the test: the
 * `wpkh` wallet was paid on its receive chain at 0..9, 17, then 50 (nothing
 * at 18..49), 70, 250, 999, ...; on its change chain at 0, 1, 10, 11.
 *  - gap limit 20: 0..9 and 17 found, 50 not (32 unused indexes before it);
 *    the change chain's 10 and 11 found;
 *  - gap limit 40: 50 and 70 found too, 250 not;
 *  - `wsh_multi` with gap limit 1000 reaches every index Core saw (its
 *    largest gap is 749) and not its payment at 5000 that Core did not
 *    watch: its coins and balance equal Core's to the satoshi, each deposit
 *    Core saw is recorded, and the scan, stopped after every 60 blocks and
 *    resumed by a new follower, ends the same;
 *  - the used addresses become allocated: the next deposit address handed
 *    out comes after the highest used index.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "chain/chain.h"
#include "chain/follower.h"
#include "chain/rescan.h"
#include "chain/rpc.h"
#include "domain/addresses.h"
#include "domain/people.h"
#include "fake_bitcoind.h"
#include "server_testutil.h"
#include "store/store_wallets.h"

typedef struct fixture {
    fake_node node;
    json_t *expected;
    kura_store *st;
    kura_rpc *rpc;
    char wpkh[KURA_DB_ID_SIZE];
    char wsh[KURA_DB_ID_SIZE];
} fixture;

static int64_t clock_now = 1704067200;

typedef struct wallet_arg {
    const char *kind;
    const char *descriptor;
    char *id;
} wallet_arg;

static int wallet_fn(kura_db *db, void *varg, kura_db_error *err)
{
    wallet_arg *a = varg;
    kura_wallet_row w;
    memset(&w, 0, sizeof w);
    kura_db_new_id(w.id, "wl");
    snprintf(w.name, sizeof w.name, "%s", a->kind);
    for (char *c = w.name; *c; c++)
        if (*c == '_')
            *c = '-';
    snprintf(w.chain, sizeof w.chain, "regtest");
    w.descriptor = (char *)a->descriptor;
    snprintf(w.checksum, sizeof w.checksum, "%s", strchr(a->descriptor, '#') + 1);
    snprintf(w.kind, sizeof w.kind, "%s", a->kind);
    w.threshold = 1;
    w.policy_version = 1;
    w.min_confirmations = 1;
    w.created_at = 1;
    snprintf(a->id, KURA_DB_ID_SIZE, "%s", w.id);
    return kura_store_wallet_insert(db, &w, err);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    kura_db_error err;
    kura_rpc_error e;
    kura_rpc_options o = {NULL, NULL, "kura", "regtest-password", 5000, 2, 10};
    json_t *descs;
    assert_non_null(fx);
    fake_node_start(&fx->node, KURA_CHAIN_VECTORS "/deposits/blocks.jsonl");
    fx->expected = json_load_file(KURA_CHAIN_VECTORS "/deposits/expected-follower.json", 0, NULL);
    assert_non_null(fx->expected);
    assert_true(fake_node_set_tip(&fx->node,
                                  json_string_value(json_object_get(
                                      json_object_get(fx->expected, "final_tip"), "hash"))) == 250);
    fx->st = kura_test_store_open();
    descs = json_object_get(fx->expected, "descriptors");
    {
        wallet_arg a = {"wpkh", json_string_value(json_object_get(descs, "wpkh")), fx->wpkh};
        wallet_arg b = {"wsh_multi", json_string_value(json_object_get(descs, "wsh_multi")),
                        fx->wsh};
        assert_int_equal(kura_store_write(fx->st, wallet_fn, &a, &err), 0);
        assert_int_equal(kura_store_write(fx->st, wallet_fn, &b, &err), 0);
    }
    o.url = fx->node.url;
    assert_int_equal(kura_rpc_new(&fx->rpc, &o, &e), KURA_RPC_OK);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    kura_rpc_free(fx->rpc);
    kura_store_close(fx->st);
    fake_node_stop(&fx->node);
    json_decref(fx->expected);
    free(fx);
    return 0;
}

static kura_follower *follower(fixture *fx, size_t max_blocks)
{
    kura_follower *f = NULL;
    kura_rpc_error e;
    kura_follower_options o = {"rescan-test", 30, -1, 1, max_blocks};
    assert_int_equal(kura_follower_new(&f, fx->st, fx->rpc, &o, &e), KURA_RPC_OK);
    return f;
}

static void step(kura_follower *f)
{
    kura_follower_report rep;
    kura_rpc_error e;
    int rc = kura_follower_step(f, ++clock_now, &rep, &e);
    if (rc != KURA_RPC_OK)
        fail_msg("follower step: %s: %s", kura_rpc_status_name(rc), e.message);
    assert_int_equal(rep.leader, 1);
}

static json_t *rescan_state(fixture *fx, const char *wallet)
{
    json_t *out = NULL;
    kura_problem p;
    assert_int_equal(kura_rescan_get(fx->st, wallet, &out, &p), 0);
    return out;
}

static int64_t field(const json_t *j, const char *name)
{
    return (int64_t)json_integer_value(json_object_get(j, name));
}

/* Steps (a new follower every `restart_every` steps, 0: never) until the
 * wallet's scan is done; returns the steps taken. */
static size_t run_until_done(fixture *fx, const char *wallet, size_t max_blocks,
                             size_t restart_every)
{
    kura_follower *f = follower(fx, max_blocks);
    size_t steps = 0;
    for (;;) {
        json_t *r;
        int done;
        step(f);
        steps++;
        r = rescan_state(fx, wallet);
        done = strcmp(json_string_value(json_object_get(r, "state")), "done") == 0;
        json_decref(r);
        if (done)
            break;
        assert_true(steps < 100);
        if (restart_every && steps % restart_every == 0) {
            /* A restart: the next follower knows only the database. */
            kura_follower_release(f);
            kura_follower_free(f);
            f = follower(fx, max_blocks);
        }
    }
    kura_follower_free(f);
    return steps;
}

static void request(fixture *fx, const char *wallet, int64_t from, int64_t gap)
{
    json_t *out = NULL;
    kura_problem p;
    assert_int_equal(kura_rescan_request(fx->st, "admin-test", wallet, from, gap, ++clock_now,
                                         &out, &p),
                     0);
    assert_string_equal(json_string_value(json_object_get(out, "state")), "running");
    assert_int_equal(field(out, "gap_limit"), gap);
    assert_int_equal(field(out, "next_height"), from);
    json_decref(out);
}

typedef struct rows_arg {
    const char *sql;
    const char *param;
    kura_db_result *res;
} rows_arg;

static int rows_fn(kura_db *db, void *varg, kura_db_error *err)
{
    rows_arg *a = varg;
    return kura_db_exec(db, &a->res, a->sql,
                        a->param ? (kura_db_param[]){KURA_DB_TEXT(a->param)} : NULL,
                        a->param ? 1 : 0, err);
}

static kura_db_result *query(fixture *fx, const char *sql, const char *param)
{
    rows_arg a = {sql, param, NULL};
    kura_db_error err;
    if (kura_store_read(fx->st, rows_fn, &a, &err) != 0)
        fail_msg("query failed: %s: %s", sql, err.message);
    return a.res;
}

static int64_t query_int(fixture *fx, const char *sql, const char *param)
{
    kura_db_result *r = query(fx, sql, param);
    int64_t v = -1;
    assert_int_equal(kura_db_result_rows(r), 1);
    if (kura_db_result_text(r, 0, 0))
        assert_int_equal(kura_db_result_int(&v, r, 0, 0), 0);
    kura_db_result_free(r);
    return v;
}

/* 1 when the wallet has a deposit row at (branch, idx). */
static int has_deposit_at(fixture *fx, const char *wallet, int branch, int64_t idx)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM deposits WHERE wallet_id = $1 AND branch = %d AND idx = %lld",
             branch, (long long)idx);
    return query_int(fx, sql, wallet) > 0;
}

static void test_gap_20_stops_at_the_gap(void **state)
{
    fixture *fx = *state;
    json_t *r, *addr = NULL;
    kura_problem p;
    kura_principal who;
    /* Following alone: no address allocated, nothing found. */
    {
        kura_follower *f = follower(fx, 0);
        step(f);
        kura_follower_free(f);
    }
    assert_int_equal(query_int(fx, "SELECT COUNT(*) FROM deposits WHERE wallet_id = $1", fx->wpkh),
                     0);
    request(fx, fx->wpkh, 0, 20);
    run_until_done(fx, fx->wpkh, 0, 0);
    r = rescan_state(fx, fx->wpkh);
    assert_int_equal(field(r, "receive_used"), 17);
    assert_int_equal(field(r, "change_used"), 11);
    assert_int_equal(field(r, "receive_window"), 37);
    assert_int_equal(field(r, "next_height"), 251);
    assert_int_equal(field(r, "height"), 250);
    assert_true(field(r, "outputs_found") > 0);
    assert_false(json_is_null(json_object_get(r, "finished_at")));
    json_decref(r);
    for (int64_t i = 0; i <= 9; i++)
        assert_true(has_deposit_at(fx, fx->wpkh, 0, i));
    assert_true(has_deposit_at(fx, fx->wpkh, 0, 17));
    assert_false(has_deposit_at(fx, fx->wpkh, 0, 50)); /* beyond the gap limit */
    assert_false(has_deposit_at(fx, fx->wpkh, 0, 70));
    /* The change chain's funds. */
    assert_true(has_deposit_at(fx, fx->wpkh, 1, 10));
    assert_true(has_deposit_at(fx, fx->wpkh, 1, 11));
    /* The used indexes, and every one below them, are allocated now. */
    assert_int_equal(query_int(fx,
                               "SELECT COUNT(*) FROM addresses WHERE wallet_id = $1 AND branch = 0 "
                               "AND label = 'recovered'",
                               fx->wpkh),
                     18);
    assert_int_equal(query_int(fx, "SELECT next_change_index FROM wallets WHERE id = $1", fx->wpkh),
                     12);
    memset(&who, 0, sizeof who);
    snprintf(who.id, sizeof who.id, "us-test");
    assert_int_equal(kura_address_allocate(fx->st, &who, fx->wpkh, "acct", NULL, NULL, ++clock_now,
                                           &addr, &p),
                     0);
    assert_int_equal(json_integer_value(json_object_get(addr, "index")), 18);
    json_decref(addr);
    /* The change index moved at each of the four blocks that used a change
     * index past it (0, 1, 10, 11): audited with the wallet's snapshot. */
    assert_int_equal(query_int(fx,
                               "SELECT COUNT(*) FROM audit_log WHERE action = "
                               "'wallet.change_recovered' AND object_id = $1",
                               fx->wpkh),
                     4);
}

static void test_gap_40_finds_what_20_did_not(void **state)
{
    fixture *fx = *state;
    json_t *r;
    request(fx, fx->wpkh, 0, 40);
    run_until_done(fx, fx->wpkh, 0, 0);
    r = rescan_state(fx, fx->wpkh);
    assert_int_equal(field(r, "receive_used"), 70);
    json_decref(r);
    assert_true(has_deposit_at(fx, fx->wpkh, 0, 17));
    assert_true(has_deposit_at(fx, fx->wpkh, 0, 50));
    assert_true(has_deposit_at(fx, fx->wpkh, 0, 70));
    assert_false(has_deposit_at(fx, fx->wpkh, 0, 250));
    /* Asked again from a later height: the row is replaced, nothing doubles. */
    {
        int64_t before = query_int(fx, "SELECT COUNT(*) FROM deposits WHERE wallet_id = $1",
                                   fx->wpkh);
        request(fx, fx->wpkh, 200, 40);
        run_until_done(fx, fx->wpkh, 0, 0);
        assert_int_equal(query_int(fx, "SELECT COUNT(*) FROM deposits WHERE wallet_id = $1",
                                   fx->wpkh),
                         before);
    }
}

static void test_gap_1000_matches_core_across_restarts(void **state)
{
    fixture *fx = *state;
    json_t *w = json_object_get(json_object_get(fx->expected, "wallets"), "wsh_multi");
    json_t *utxos = json_object_get(w, "utxos"), *received = json_object_get(w, "received"), *u;
    kura_db_result *r;
    size_t i, steps;
    int64_t sum = 0;
    json_t *bal = NULL;
    kura_problem p;
    request(fx, fx->wsh, 0, 1000);
    /* 60 blocks per step, a new follower every two steps. */
    steps = run_until_done(fx, fx->wsh, 60, 2);
    assert_true(steps >= 4 + 5); /* 5 steps to catch up, the scan in 5 */
    /* The confirmed coins: Core's set, amounts and heights. */
    r = query(fx,
              "SELECT txid, vout, amount, height FROM utxos WHERE wallet_id = $1 AND height IS "
              "NOT NULL AND spent_txid IS NULL",
              fx->wsh);
    if (kura_db_result_rows(r) != json_array_size(utxos))
        fail_msg("%zu coins, Core has %zu", kura_db_result_rows(r), json_array_size(utxos));
    json_array_foreach(utxos, i, u) {
        int found = 0;
        for (size_t x = 0; x < kura_db_result_rows(r); x++) {
            int64_t vout = -1, amount = -1;
            assert_int_equal(kura_db_result_int(&vout, r, x, 1), 0);
            assert_int_equal(kura_db_result_int(&amount, r, x, 2), 0);
            if (strcmp(kura_db_result_text(r, x, 0), json_string_value(json_array_get(u, 0))) ==
                    0 &&
                vout == json_integer_value(json_array_get(u, 1))) {
                assert_int_equal(amount, json_integer_value(json_array_get(u, 2)));
                found = 1;
            }
        }
        if (!found)
            fail_msg("Core's coin %s missing", json_string_value(json_array_get(u, 0)));
        sum += json_integer_value(json_array_get(u, 2));
    }
    kura_db_result_free(r);
    assert_int_equal(sum, json_integer_value(json_object_get(w, "balance_sat")));
    assert_int_equal(query_int(fx,
                               "SELECT SUM(amount) FROM utxos WHERE wallet_id = $1 AND height IS "
                               "NOT NULL AND spent_txid IS NULL",
                               fx->wsh),
                     json_integer_value(json_object_get(w, "balance_sat")));
    /* The wallet balance the API gives (min_confirmations 1, at the tip). */
    assert_int_equal(kura_chain_balance(fx->st, fx->wsh, NULL, &bal, &p), 0);
    assert_int_equal(json_integer_value(json_object_get(bal, "confirmed")) +
                         json_integer_value(json_object_get(bal, "pending")),
                     json_integer_value(json_object_get(w, "balance_sat")));
    json_decref(bal);
    /* Every output Core saw paying the wallet, once. */
    assert_int_equal(query_int(fx, "SELECT COUNT(*) FROM deposits WHERE wallet_id = $1", fx->wsh),
                     (int64_t)json_array_size(received));
    /* Its payment at receive index 5000 (Core did not watch it) is not found. */
    assert_false(has_deposit_at(fx, fx->wsh, 0, 5000));
}

static void test_bad_requests(void **state)
{
    fixture *fx = *state;
    json_t *out = NULL;
    kura_problem p;
    assert_int_equal(kura_rescan_request(fx->st, "a", fx->wpkh, 0, 19, 1, &out, &p),
                     KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(kura_rescan_request(fx->st, "a", fx->wpkh, 0, 1001, 1, &out, &p),
                     KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(kura_rescan_request(fx->st, "a", fx->wpkh, -1, 20, 1, &out, &p),
                     KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(kura_rescan_request(fx->st, "a", "wl-none", 0, 20, 1, &out, &p),
                     KURA_PROBLEM_NOT_FOUND);
    assert_int_equal(kura_rescan_get(fx->st, fx->wpkh, &out, &p), KURA_PROBLEM_NOT_FOUND);
    assert_null(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gap_20_stops_at_the_gap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gap_40_finds_what_20_did_not, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gap_1000_matches_core_across_restarts, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
