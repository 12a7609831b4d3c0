/* Watched sets: a million scripts added one at a time, every one found with
 * its value and a million others not found, within 64 bytes per script at
 * every moment (the peak during growth included); duplicates and shared
 * fingerprints; the outpoint set under random adds and removes checked
 * against a plain model; the scanner on built blocks (a parent and its child
 * in one block, a coinbase, a mempool transaction). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kura/block.h"
#include "kura/hash.h"
#include "kura/watch.h"
#include "testutil.h"

static const uint8_t KEY[KURA_WATCH_KEY_LEN] = {1, 2,  3,  4,  5,  6,  7,  8,
                                                9, 10, 11, 12, 13, 14, 15, 16};

/* A P2WPKH script for number n (a different one for each n and `salt`). */
static void script_of(uint8_t out[22], uint32_t n, uint8_t salt)
{
    uint8_t in[5] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24), salt};
    uint8_t h[32];
    kura_sha256(h, in, sizeof(in));
    out[0] = 0x00, out[1] = 0x14;
    memcpy(out + 2, h, 20);
}

#define MILLION 1000000u

static void test_million_scripts(void **state)
{
    (void)state;
    kura_watch_index *idx = NULL;
    kura_watch_stats st;
    uint8_t s[22];
    uint64_t v[2];
    size_t found, max_bytes_ratio_checks = 0, last_capacity = 0;
    assert_int_equal(kura_watch_index_new(&idx, KEY), KURA_OK);
    for (uint32_t i = 0; i < MILLION; i++) {
        script_of(s, i, 0);
        assert_int_equal(kura_watch_index_add(idx, s, sizeof(s), 1000000000ull + i), KURA_OK);
        /* Past the small-table floor the budget holds right after every
         * growth, when the old and the new table were both live (peak_bytes)
         * and the new one is emptiest. */
        kura_watch_index_stats(idx, &st);
        if (st.capacity != last_capacity) {
            last_capacity = st.capacity;
            if (i >= 1000) {
                assert_true(st.bytes <= 64u * st.count);
                assert_true(st.peak_bytes <= 64u * st.count);
                max_bytes_ratio_checks++;
            }
        }
    }
    assert_true(max_bytes_ratio_checks >= 9);
    kura_watch_index_stats(idx, &st);
    assert_int_equal(st.count, MILLION);
    print_message("watch: 1,000,000 scripts: %zu slots, %.1f bytes per script now, peak %.1f\n",
                  st.capacity, (double)st.bytes / (double)st.count,
                  (double)st.peak_bytes / (double)st.count);
    assert_true(st.bytes <= 64u * MILLION);
    assert_true(st.peak_bytes <= 64u * MILLION);
    for (uint32_t i = 0; i < MILLION; i++) {
        script_of(s, i, 0);
        assert_int_equal(kura_watch_index_find(idx, v, 2, &found, s, sizeof(s)), KURA_OK);
        assert_int_equal(found, 1);
        assert_true(v[0] == 1000000000ull + i);
    }
    size_t false_hits = 0;
    for (uint32_t i = 0; i < MILLION; i++) {
        script_of(s, i, 1); /* other scripts */
        assert_int_equal(kura_watch_index_find(idx, v, 2, &found, s, sizeof(s)), KURA_OK);
        false_hits += found;
        /* The same bytes but one shorter or one longer are other scripts. */
        if (i < 1000) {
            script_of(s, i, 0);
            assert_int_equal(kura_watch_index_find(idx, NULL, 0, &found, s, 21), KURA_OK);
            assert_int_equal(found, 0);
        }
    }
    /* About 1e6 * 1e6 / 2^64 = 5e-8 expected: any hit is a bug. */
    assert_int_equal(false_hits, 0);
    kura_watch_index_free(idx);
}

static void test_reserve_and_duplicates(void **state)
{
    (void)state;
    kura_watch_index *idx = NULL;
    kura_watch_stats st, st2;
    uint8_t s[22];
    uint64_t v[4];
    size_t found;
    assert_int_equal(kura_watch_index_new(&idx, KEY), KURA_OK);
    assert_int_equal(kura_watch_index_reserve(idx, 100000), KURA_OK);
    kura_watch_index_stats(idx, &st);
    assert_true(st.capacity >= 125000);
    for (uint32_t i = 0; i < 100000; i++) {
        script_of(s, i, 7);
        assert_int_equal(kura_watch_index_add(idx, s, sizeof(s), i), KURA_OK);
    }
    kura_watch_index_stats(idx, &st2);
    assert_int_equal(st2.capacity, st.capacity); /* no growth after the reserve */
    /* The same script and value again: nothing added. */
    script_of(s, 5, 7);
    assert_int_equal(kura_watch_index_add(idx, s, sizeof(s), 5), KURA_OK);
    kura_watch_index_stats(idx, &st2);
    assert_int_equal(st2.count, 100000);
    /* The same script with another value: both reported. */
    assert_int_equal(kura_watch_index_add(idx, s, sizeof(s), 77), KURA_OK);
    assert_int_equal(kura_watch_index_find(idx, v, 4, &found, s, sizeof(s)), KURA_OK);
    assert_int_equal(found, 2);
    assert_true((v[0] == 5 && v[1] == 77) || (v[0] == 77 && v[1] == 5));
    /* max smaller than found: the count is still the whole. */
    assert_int_equal(kura_watch_index_find(idx, v, 1, &found, s, sizeof(s)), KURA_OK);
    assert_int_equal(found, 2);
    /* The empty script may be watched. */
    assert_int_equal(kura_watch_index_find(idx, NULL, 0, &found, NULL, 0), KURA_OK);
    assert_int_equal(found, 0);
    assert_int_equal(kura_watch_index_add(idx, NULL, 0, 9), KURA_OK);
    assert_int_equal(kura_watch_index_find(idx, v, 4, &found, NULL, 0), KURA_OK);
    assert_int_equal(found, 1);
    /* Another key: other fingerprints, same answers. */
    {
        uint8_t k2[16] = {0};
        kura_watch_index *other = NULL;
        assert_int_equal(kura_watch_index_new(&other, k2), KURA_OK);
        assert_int_equal(kura_watch_index_add(other, s, sizeof(s), 5), KURA_OK);
        assert_int_equal(kura_watch_index_find(other, v, 4, &found, s, sizeof(s)), KURA_OK);
        assert_int_equal(found, 1);
        kura_watch_index_free(other);
    }
    /* Misuse. */
    assert_int_equal(kura_watch_index_add(NULL, s, 22, 1), KURA_EINVAL);
    assert_int_equal(kura_watch_index_add(idx, NULL, 22, 1), KURA_EINVAL);
    assert_int_equal(kura_watch_index_find(idx, NULL, 1, &found, s, 22), KURA_EINVAL);
    assert_int_equal(found, 0);
    assert_int_equal(kura_watch_index_find(idx, v, 1, NULL, s, 22), KURA_EINVAL);
    assert_int_equal(kura_watch_index_reserve(idx, (size_t)KURA_WATCH_MAX_ENTRIES + 1),
                     KURA_ERANGE);
    assert_int_equal(kura_watch_index_new(NULL, KEY), KURA_EINVAL);
    kura_watch_index *bad = (kura_watch_index *)(uintptr_t)1;
    assert_int_equal(kura_watch_index_new(&bad, NULL), KURA_EINVAL);
    assert_null(bad);
    kura_watch_index_free(NULL);
    kura_watch_index_free(idx);
}

/* Random adds and removes against a model: every present outpoint is found
 * with its value, every removed one is not. */
static void test_outpoints_model(void **state)
{
    (void)state;
    enum { N = 60000 };
    kura_watch_outpoints *set = NULL;
    static uint8_t present[N];
    uint8_t txid[32];
    uint64_t v[4];
    size_t found, count = 0;
    uint32_t rnd = 12345;
    assert_int_equal(kura_watch_outpoints_new(&set, KEY), KURA_OK);
    memset(present, 0, sizeof(present));
    for (size_t step = 0; step < 400000; step++) {
        rnd = rnd * 1103515245u + 12345u;
        uint32_t n = (rnd >> 8) % N;
        uint32_t vout = n % 7;
        uint8_t seed[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), 0xaa};
        kura_sha256(txid, seed, 4);
        if (present[n]) {
            assert_int_equal(kura_watch_outpoints_remove(set, txid, vout, n), KURA_OK);
            present[n] = 0, count--;
            assert_int_equal(kura_watch_outpoints_remove(set, txid, vout, n), KURA_ENOTFOUND);
        } else {
            /* Removing what is absent changes nothing. */
            assert_int_equal(kura_watch_outpoints_remove(set, txid, vout, n), KURA_ENOTFOUND);
            assert_int_equal(kura_watch_outpoints_add(set, txid, vout, n), KURA_OK);
            present[n] = 1, count++;
        }
        if (step % 50000 == 0 || step == 399999) {
            kura_watch_stats st;
            kura_watch_outpoints_stats(set, &st);
            assert_int_equal(st.count, count);
            for (uint32_t m = 0; m < N; m++) {
                uint8_t sd[4] = {(uint8_t)m, (uint8_t)(m >> 8), (uint8_t)(m >> 16), 0xaa};
                kura_sha256(txid, sd, 4);
                assert_int_equal(kura_watch_outpoints_find(set, v, 4, &found, txid, m % 7),
                                 KURA_OK);
                if (present[m]) {
                    assert_int_equal(found, 1);
                    assert_true(v[0] == m);
                } else {
                    assert_int_equal(found, 0);
                }
                /* Another vout of the same txid is another outpoint. */
                assert_int_equal(kura_watch_outpoints_find(set, v, 4, &found, txid, m % 7 + 1),
                                 KURA_OK);
                assert_int_equal(found, 0);
            }
        }
    }
    /* Remove with the wrong value: not found. */
    for (uint32_t m = 0; m < N; m++) {
        if (!present[m]) continue;
        uint8_t sd[4] = {(uint8_t)m, (uint8_t)(m >> 8), (uint8_t)(m >> 16), 0xaa};
        kura_sha256(txid, sd, 4);
        assert_int_equal(kura_watch_outpoints_remove(set, txid, m % 7, m + 1), KURA_ENOTFOUND);
        assert_int_equal(kura_watch_outpoints_remove(set, txid, m % 7, m), KURA_OK);
    }
    kura_watch_stats st;
    kura_watch_outpoints_stats(set, &st);
    assert_int_equal(st.count, 0);
    assert_int_equal(kura_watch_outpoints_add(NULL, txid, 0, 0), KURA_EINVAL);
    assert_int_equal(kura_watch_outpoints_remove(set, NULL, 0, 0), KURA_EINVAL);
    kura_watch_outpoints_free(NULL);
    kura_watch_outpoints_free(set);
}

/* ---- the scanner on a built block ---- */

#define CB_IN "01" "0000000000000000000000000000000000000000000000000000000000000000" "ffffffff"
#define CB_SCRIPT "64" "5151515151515151515151515151515151515151515151515151515151515151" \
    "5151515151515151515151515151515151515151515151515151515151515151" \
    "5151515151515151515151515151515151515151515151515151515151515151" "51515151"
#define WATCHED_A "0014aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define WATCHED_B "0014bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define OTHER "0014cccccccccccccccccccccccccccccccccccccccc"
/* The coinbase pays WATCHED_B. */
#define COINBASE "01000000" CB_IN CB_SCRIPT "ffffffff" "01" "00f2052a01000000" "16" WATCHED_B \
                 "00000000"
#define UTXO "1111111111111111111111111111111111111111111111111111111111111111"
/* tx 1 spends our UTXO:3 (RBF-signalling) and pays OTHER and WATCHED_A (vout 1). */
#define TX1 "02000000" "01" UTXO "03000000" "00" "fdffffff" "02" "1027000000000000" "16" OTHER \
            "2042000000000000" "16" WATCHED_A "00000000"
/* tx 2 pays someone else only. */
#define TX2 "02000000" "01" "4444444444444444444444444444444444444444444444444444444444444444" \
            "00000000" "00" "ffffffff" "01" "1027000000000000" "16" OTHER "00000000"

typedef struct bb {
    uint8_t b[4096];
    size_t len;
} bb;

static void put_hex(bb *x, const char *hex)
{
    size_t n;
    uint8_t *p = tu_unhex(hex, &n);
    assert_true(x->len + n <= sizeof(x->b));
    memcpy(x->b + x->len, p, n);
    x->len += n;
    free(p);
}

static void txid_hex(uint8_t out[32], const char *hex)
{
    size_t n;
    uint8_t *p = tu_unhex(hex, &n);
    kura_sha256d(out, p, n); /* legacy transactions only */
    free(p);
}

/* A regtest block of txs (with tx 3 = a child spending tx 1's vout 1, built
 * here since it names tx 1's txid), merkle root right, work ground. */
static void build(bb *x, char *child_hex)
{
    uint8_t ids[4][32], pair[64], l1[2][32], root[32], h[32], t1[32];
    char t1hex[65];
    txid_hex(t1, TX1);
    for (int i = 0; i < 32; i++) snprintf(t1hex + 2 * i, 3, "%02x", t1[i]);
    /* tx 3 spends tx 1's output 1 (WATCHED_A) and pays WATCHED_A again. */
    snprintf(child_hex, 400,
             "02000000" "01" "%s" "01000000" "00" "ffffffff" "01" "1027000000000000" "16" WATCHED_A
             "00000000",
             t1hex);
    txid_hex(ids[0], COINBASE);
    txid_hex(ids[1], TX1);
    txid_hex(ids[2], TX2);
    txid_hex(ids[3], child_hex);
    for (int i = 0; i < 2; i++) {
        memcpy(pair, ids[2 * i], 32);
        memcpy(pair + 32, ids[2 * i + 1], 32);
        kura_sha256d(l1[i], pair, 64);
    }
    memcpy(pair, l1[0], 32);
    memcpy(pair + 32, l1[1], 32);
    kura_sha256d(root, pair, 64);
    x->len = 0;
    put_hex(x, "00000020" UTXO);
    memcpy(x->b + x->len, root, 32);
    x->len += 32;
    put_hex(x, "00000000" "ffff7f20" "00000000" "04" COINBASE TX1 TX2);
    put_hex(x, child_hex);
    for (uint32_t nonce = 0;; nonce++) {
        x->b[76] = (uint8_t)nonce, x->b[77] = (uint8_t)(nonce >> 8);
        kura_block_header_hash(h, x->b);
        if (kura_block_check_pow(h, 0x207fffffu, NULL) == KURA_OK) break;
    }
}

static void test_scan_built_block(void **state)
{
    (void)state;
    bb x;
    char child[400];
    kura_watch_index *idx = NULL;
    kura_watch_outpoints *ops = NULL;
    kura_watch_result *r = kura_watch_result_new();
    kura_block *blk = NULL;
    uint8_t a[22], b[22], utxo[32], t1[32];
    size_t n;
    build(&x, child);
    assert_int_equal(kura_block_parse(&blk, x.b, x.len, KURA_BLOCK_SKIP_MERKLE, NULL), KURA_OK);
    assert_int_equal(kura_watch_index_new(&idx, KEY), KURA_OK);
    assert_int_equal(kura_watch_outpoints_new(&ops, KEY), KURA_OK);
    tu_unhex_fixed(WATCHED_A, a, 22);
    tu_unhex_fixed(WATCHED_B, b, 22);
    tu_unhex_fixed(UTXO, utxo, 32);
    assert_int_equal(kura_watch_index_add(idx, a, 22, 100), KURA_OK);
    assert_int_equal(kura_watch_index_add(idx, b, 22, 200), KURA_OK);
    assert_int_equal(kura_watch_outpoints_add(ops, utxo, 3, 555), KURA_OK);
    assert_int_equal(kura_watch_outpoints_add(ops, utxo, 4, 556), KURA_OK); /* not spent */
    txid_hex(t1, TX1);

    assert_int_equal(kura_watch_scan_block(r, idx, ops, blk), KURA_OK);
    /* Receipts: the coinbase to B, tx 1 vout 1 to A, tx 3 vout 0 to A. */
    assert_int_equal(r->receipt_count, 3);
    assert_int_equal(r->receipts[0].tx_index, 0);
    assert_true(r->receipts[0].value == 200 && r->receipts[0].amount == 5000000000ull);
    assert_int_equal(r->receipts[1].tx_index, 1);
    assert_int_equal(r->receipts[1].vout, 1);
    assert_memory_equal(r->receipts[1].txid, t1, 32);
    assert_true(r->receipts[1].value == 100 && r->receipts[1].amount == 0x4220);
    tu_assert_bytes_equal(r->receipts[1].script_pubkey, r->receipts[1].script_pubkey_len, a, 22);
    assert_int_equal(r->receipts[2].tx_index, 3);
    /* Spends: tx 1 spends the watched UTXO:3; tx 3 spends tx 1's output 1,
     * paid in this same block (receipt 1). */
    assert_int_equal(r->spend_count, 2);
    assert_int_equal(r->spends[0].tx_index, 1);
    assert_int_equal(r->spends[0].vin, 0);
    assert_memory_equal(r->spends[0].prev_txid, utxo, 32);
    assert_int_equal(r->spends[0].prev_vout, 3);
    assert_true(r->spends[0].receipt == KURA_WATCH_NONE && r->spends[0].value == 555);
    assert_memory_equal(r->spends[0].txid, t1, 32);
    assert_int_equal(r->spends[1].tx_index, 3);
    assert_int_equal(r->spends[1].receipt, 1);
    assert_true(r->spends[1].value == 100);
    assert_memory_equal(r->spends[1].prev_txid, t1, 32);
    /* Only the three transactions with hits were hashed; tx 2 was not. */
    assert_int_equal(r->txids_computed, 3);

    /* A block parsed with the merkle check carries its txids: none hashed. */
    {
        kura_block *checked = NULL;
        assert_int_equal(kura_block_parse(&checked, x.b, x.len, 0, NULL), KURA_OK);
        assert_int_equal(kura_watch_scan_block(r, idx, ops, checked), KURA_OK);
        assert_int_equal(r->receipt_count, 3);
        assert_int_equal(r->spend_count, 2);
        assert_int_equal(r->txids_computed, 0);
        assert_memory_equal(r->receipts[1].txid, t1, 32);
        kura_block_free(checked);
    }
    /* The result is reused: a second scan gives the same. */
    assert_int_equal(kura_watch_scan_block(r, idx, ops, blk), KURA_OK);
    assert_int_equal(r->receipt_count, 3);
    assert_int_equal(r->spend_count, 2);
    /* Nothing watched: nothing found, nothing hashed. */
    assert_int_equal(kura_watch_scan_block(r, NULL, NULL, blk), KURA_OK);
    assert_int_equal(r->receipt_count + r->spend_count + r->txids_computed, 0);
    /* Only outpoints watched. */
    assert_int_equal(kura_watch_scan_block(r, NULL, ops, blk), KURA_OK);
    assert_int_equal(r->receipt_count, 0);
    assert_int_equal(r->spend_count, 1);

    /* The mempool form: tx 1 alone, which signals RBF. */
    {
        size_t len;
        uint8_t *p = tu_unhex(TX1, &len);
        kura_error err;
        assert_int_equal(kura_watch_scan_tx(r, idx, ops, p, len, &err), KURA_OK);
        assert_int_equal(r->receipt_count, 1);
        assert_int_equal(r->spend_count, 1);
        assert_int_equal(r->signals_rbf, 1);
        assert_memory_equal(r->receipts[0].txid, t1, 32);
        /* Bad bytes: refused, result empty. */
        assert_int_equal(kura_watch_scan_tx(r, idx, ops, p, len - 1, &err), KURA_EDATA);
        assert_int_equal(r->receipt_count + r->spend_count, 0);
        free(p);
        p = tu_unhex(TX2, &len);
        assert_int_equal(kura_watch_scan_tx(r, idx, ops, p, len, &err), KURA_OK);
        assert_int_equal(r->signals_rbf, 0);
        assert_int_equal(r->receipt_count + r->spend_count, 0);
        free(p);
    }
    n = 0;
    assert_int_equal(kura_watch_scan_block(NULL, idx, ops, blk), KURA_EINVAL);
    assert_int_equal(kura_watch_scan_block(r, idx, ops, NULL), KURA_EINVAL);
    (void)n;
    kura_block_free(blk);
    kura_watch_result_free(r);
    kura_watch_result_free(NULL);
    kura_watch_index_free(idx);
    kura_watch_outpoints_free(ops);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_million_scripts),
        cmocka_unit_test(test_reserve_and_duplicates),
        cmocka_unit_test(test_outpoints_model),
        cmocka_unit_test(test_scan_built_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
