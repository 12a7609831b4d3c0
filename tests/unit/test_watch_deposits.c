/* The scanner against Bitcoin Core's own wallet: the regtest `deposits`
 * chain of tests/vectors/chain (251 blocks made by Bitcoin Core 26.0), with
 * the four watch-only wallets' receive and change scripts 0..1999 derived by
 * kura's descriptor module, exactly as Core watched them. Scanning every
 * block in order and applying each result as a follower would (receipts
 * become watched outpoints, spends remove them) must find exactly the outputs
 * Core's wallets received in blocks (txid, vout, amount to the satoshi,
 * script, wallet, chain, index), exactly the spends Core saw, none of the
 * payments Core did not watch, and end with Core's UTXO sets and balances. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kura/block.h"
#include "kura/descriptor.h"
#include "kura/keys.h"
#include "kura/tx.h"
#include "kura/watch.h"
#include "testutil.h"

#define KINDS 4
static const char *const kind_name[KINDS] = {"wpkh", "wsh_multi", "tr", "tr_multi"};

/* The caller's value: kind, branch and index packed. */
static uint64_t pack(size_t kind, size_t branch, uint32_t index)
{
    return (uint64_t)kind << 32 | (uint64_t)branch << 31 | index;
}

static char *hex_of(const uint8_t *p, size_t n)
{
    char *s = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) snprintf(s + 2 * i, 3, "%02x", p[i]);
    return s;
}

/* "txid:vout" in display order. */
static void outpoint_key(char out[80], const uint8_t txid[32], uint32_t vout)
{
    char h[65];
    kura_txid_to_hex(h, txid);
    snprintf(out, 80, "%s:%u", h, vout);
}

static void test_deposits_scenario(void **state)
{
    (void)state;
    static const uint8_t key[KURA_WATCH_KEY_LEN] = "kura-deposits-k";
    json_t *exp = tu_load_json("chain/deposits/expected-scan.json");
    json_t *wallets = json_object_get(exp, "wallets");
    kura_ctx *ctx = kura_ctx_new();
    kura_watch_index *idx = NULL;
    kura_watch_outpoints *ops = NULL;
    kura_watch_result *res = kura_watch_result_new();
    /* What the scan found, as JSON objects keyed "txid:vout" / "txid:vin". */
    json_t *found_receipts = json_object(), *found_spends = json_object();
    json_t *utxos = json_object(); /* "txid:vout" -> {kind, amount} */
    size_t hashed = 0, txs = 0, blocks = 0;
    kura_error err;

    assert_non_null(ctx);
    assert_int_equal(kura_watch_index_new(&idx, key), KURA_OK);
    assert_int_equal(kura_watch_outpoints_new(&ops, key), KURA_OK);
    assert_int_equal(kura_watch_index_reserve(idx, KINDS * 2 * 2000), KURA_OK);
    for (size_t k = 0; k < KINDS; k++) {
        json_t *w = json_object_get(wallets, kind_name[k]);
        const char *branch_desc[2] = {tu_str(w, "receive"), tu_str(w, "change")};
        for (size_t br = 0; br < 2; br++) {
            kura_descriptor *d = NULL;
            memset(&err, 0, sizeof(err));
            assert_int_equal(kura_descriptor_parse(ctx, &d, branch_desc[br],
                                                   strlen(branch_desc[br]), &err),
                             KURA_OK);
            /* Core watched indexes 0..1999 of each chain. */
            int rc = kura_watch_index_add_descriptor(ctx, idx, d, 0, 0, 2000, pack(k, br, 0),
                                                     &err);
            if (rc != KURA_OK) fail_msg("%s: %s", kind_name[k], err.message);
            kura_descriptor_free(d);
        }
    }
    kura_watch_stats st;
    kura_watch_index_stats(idx, &st);
    assert_int_equal(st.count, KINDS * 2 * 2000);

    size_t flen;
    char *text = tu_read_file("vectors/chain/deposits/blocks.jsonl", &flen), *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *o = json_loads(line, 0, NULL);
        size_t len;
        uint8_t *b = tu_unhex(tu_str(o, "hex"), &len);
        kura_block *blk = NULL;
        int height = (int)json_integer_value(json_object_get(o, "height"));
        /* Half the blocks without the merkle check (txids hashed on demand),
         * half with it (txids given): the same findings either way. */
        unsigned flags = height % 2 ? KURA_BLOCK_SKIP_MERKLE : 0;
        memset(&err, 0, sizeof(err));
        if (kura_block_parse(&blk, b, len, flags, &err) != KURA_OK)
            fail_msg("height %d: %s", height, err.message);
        assert_int_equal(kura_watch_scan_block(res, idx, ops, blk), KURA_OK);
        if (flags) hashed += res->txids_computed;
        else assert_int_equal(res->txids_computed, 0);
        txs += blk->tx_count;
        /* Spends first (they refer to outpoints known before this block or
         * to receipts of this block), as a follower applies them. */
        for (size_t i = 0; i < res->spend_count; i++) {
            const kura_watch_spend *s = &res->spends[i];
            char op[80], sk[80];
            outpoint_key(op, s->prev_txid, s->prev_vout);
            outpoint_key(sk, s->txid, s->vin);
            /* The follower confirms the fingerprint hit exactly. */
            json_t *u = json_object_get(utxos, op);
            if (s->receipt == KURA_WATCH_NONE) {
                assert_non_null(u);
                assert_int_equal(kura_watch_outpoints_remove(ops, s->prev_txid, s->prev_vout,
                                                             s->value),
                                 KURA_OK);
            } else {
                /* Paid and spent in this block: not yet in the set. */
                assert_true(s->receipt < res->receipt_count);
                assert_int_equal(res->receipts[s->receipt].vout, s->prev_vout);
                assert_memory_equal(res->receipts[s->receipt].txid, s->prev_txid, 32);
            }
            json_t *rec = json_pack("{s:s, s:I}", "outpoint", op, "height", (json_int_t)height);
            assert_int_equal(json_object_set_new(found_spends, sk, rec), 0);
            /* Spent (a receipt of this block is removed below, once added). */
            if (u != NULL) json_object_del(utxos, op);
        }
        for (size_t i = 0; i < res->receipt_count; i++) {
            const kura_watch_receipt *r = &res->receipts[i];
            char op[80];
            outpoint_key(op, r->txid, r->vout);
            char *script = hex_of(r->script_pubkey, r->script_pubkey_len);
            json_t *rec = json_pack("{s:I, s:s, s:I, s:I, s:I, s:I, s:b}", "amount_sat",
                                    (json_int_t)r->amount, "script_hex", script, "kind",
                                    (json_int_t)(r->value >> 32), "branch",
                                    (json_int_t)((r->value >> 31) & 1), "index",
                                    (json_int_t)(r->value & 0x7fffffff), "height",
                                    (json_int_t)height, "coinbase", r->tx_index == 0);
            free(script);
            assert_null(json_object_get(found_receipts, op));
            json_object_set_new(found_receipts, op, rec);
            /* Spent in this same block? Then it is not a UTXO. */
            int spent_here = 0;
            for (size_t j = 0; j < res->spend_count; j++)
                spent_here |= res->spends[j].receipt == i;
            if (!spent_here) {
                assert_int_equal(kura_watch_outpoints_add(ops, r->txid, r->vout, r->value),
                                 KURA_OK);
                json_object_set_new(utxos, op,
                                    json_pack("{s:I, s:I}", "kind", (json_int_t)(r->value >> 32),
                                              "amount", (json_int_t)r->amount));
            }
        }
        kura_block_free(blk);
        free(b);
        json_decref(o);
        blocks++;
    }
    free(text);
    assert_int_equal(blocks, 251);

    /* Every output Core's wallets received in a block, found, to the satoshi. */
    size_t expected_receipts = 0, expected_spends = 0;
    for (size_t k = 0; k < KINDS; k++) {
        json_t *w = json_object_get(wallets, kind_name[k]), *r;
        size_t i;
        json_array_foreach(json_object_get(w, "received"), i, r) {
            char op[80];
            if (strcmp(tu_str(r, "status"), "confirmed") != 0) {
                /* The one deposit still in the mempool is in no block. */
                assert_string_equal(tu_str(r, "status"), "mempool");
                continue;
            }
            snprintf(op, sizeof(op), "%s:%lld", tu_str(r, "txid"),
                     (long long)json_integer_value(json_object_get(r, "vout")));
            json_t *f = json_object_get(found_receipts, op);
            if (f == NULL) fail_msg("%s: %s not found", kind_name[k], op);
            assert_true(json_integer_value(json_object_get(f, "amount_sat")) ==
                        json_integer_value(json_object_get(r, "amount_sat")));
            assert_string_equal(tu_str(f, "script_hex"), tu_str(r, "script_hex"));
            assert_int_equal(json_integer_value(json_object_get(f, "kind")), k);
            assert_int_equal(json_integer_value(json_object_get(f, "branch")),
                             strcmp(tu_str(r, "branch"), "change") == 0);
            assert_true(json_integer_value(json_object_get(f, "index")) ==
                        json_integer_value(json_object_get(r, "index")));
            assert_true(json_integer_value(json_object_get(f, "height")) ==
                        json_integer_value(json_object_get(r, "height")));
            assert_int_equal(json_is_true(json_object_get(f, "coinbase")),
                             json_is_true(json_object_get(r, "coinbase")));
            expected_receipts++;
            /* And each confirmed spend of it. */
            json_t *sp;
            size_t j;
            json_array_foreach(json_object_get(r, "spent_by"), j, sp) {
                char sk[80];
                if (strcmp(tu_str(sp, "status"), "confirmed") != 0) continue;
                snprintf(sk, sizeof(sk), "%s:%lld", tu_str(sp, "txid"),
                         (long long)json_integer_value(json_object_get(sp, "vin")));
                json_t *fs = json_object_get(found_spends, sk);
                if (fs == NULL) fail_msg("%s: spend %s of %s not found", kind_name[k], sk, op);
                assert_string_equal(tu_str(fs, "outpoint"), op);
                expected_spends++;
            }
        }
    }
    /* ... and nothing else: no extra receipt or spend. */
    assert_int_equal(json_object_size(found_receipts), expected_receipts);
    assert_int_equal(json_object_size(found_spends), expected_spends);
    assert_int_equal(expected_receipts, 25 + 19 + 21 + 21);

    /* Payments outside the watched range or account: not found. */
    json_t *u;
    size_t i;
    json_array_foreach(json_object_get(exp, "unwatched_payments"), i, u) {
        char op[80];
        snprintf(op, sizeof(op), "%s:%lld", tu_str(u, "txid"),
                 (long long)json_integer_value(json_object_get(u, "vout")));
        assert_null(json_object_get(found_receipts, op));
    }

    /* The UTXO sets and balances at the final tip are Core's. */
    for (size_t k = 0; k < KINDS; k++) {
        json_t *w = json_object_get(wallets, kind_name[k]), *e;
        json_int_t balance = 0, want = json_integer_value(json_object_get(w, "balance_sat"));
        size_t n = 0, j;
        const char *op;
        json_t *v;
        json_object_foreach(utxos, op, v) {
            if ((size_t)json_integer_value(json_object_get(v, "kind")) != k) continue;
            balance += json_integer_value(json_object_get(v, "amount"));
            n++;
        }
        json_array_foreach(json_object_get(w, "utxos"), j, e) {
            char key2[80];
            snprintf(key2, sizeof(key2), "%s:%lld", tu_str(e, "txid"),
                     (long long)json_integer_value(json_object_get(e, "vout")));
            if (json_object_get(utxos, key2) == NULL)
                fail_msg("%s: UTXO %s missing", kind_name[k], key2);
        }
        assert_int_equal(n, json_array_size(json_object_get(w, "utxos")));
        if (balance != want)
            fail_msg("%s: balance %lld, Core %lld", kind_name[k], (long long)balance,
                     (long long)want);
    }
    kura_watch_outpoints_stats(ops, &st);
    assert_int_equal(st.count, json_object_size(utxos));

    /* Only transactions with a hit were hashed (in the blocks scanned
     * without txids): far fewer than all. */
    print_message("deposits: %zu blocks, %zu transactions, %zu receipts, %zu spends, "
                  "%zu txids hashed by the scan\n",
                  blocks, txs, expected_receipts, expected_spends, hashed);
    assert_true(hashed > 0 && hashed < txs / 4);

    json_decref(found_receipts);
    json_decref(found_spends);
    json_decref(utxos);
    json_decref(exp);
    kura_watch_result_free(res);
    kura_watch_index_free(idx);
    kura_watch_outpoints_free(ops);
    kura_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deposits_scenario),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
