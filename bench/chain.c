/* bench/chain.c — measurement 8 of bench/run (see bench/README.md): the
 * chain follower's library work.
 *
 * The block is Bitcoin Core's own benchmark block, mainnet 413,567
 * (tests/vectors/core/block413567.raw: 999,887 bytes, 1,557 transactions).
 * The watched-script index holds 1,000,000 scripts: 999,900 P2WPKH scripts
 * of no one (hashes of a counter) and 100 scripts that outputs of the block
 * pay (evenly spread over the block's outputs), so the scan has hits to report, as an
 * exchange's deposits in a block would; the outpoint set holds 100,000
 * outpoints, 50 of them spent by the block. Built outside the timed region.
 *
 * Timed, per block, in every run (each run repeats the work CHAIN_ITER times
 * and divides):
 *   memcpy     copying the block's bytes once (the least any reader pays);
 *   sha256d    SHA-256d over every transaction, as its txid (what a scanner
 *              that hashes everything pays, and what the merkle check costs);
 *   scan       kura_block_parse with KURA_BLOCK_SKIP_MERKLE (the strict walk
 *              and the proof of work) + kura_watch_scan_block + freeing;
 *   verify     the same with the merkle root and witness commitment checked.
 * And, per address: allocating a deposit address (kura_descriptor_script_pubkey
 * of wpkh(xpub/0/STAR) at the next index) and indexing it (kura_watch_index_add,
 * growing as it goes), beside one bare kura_bip32_derive public step; and
 * kura_watch_index_add alone of 1,000,000 ready scripts (loading the
 * watched set at start, from the database). Then, once, the whole
 * measurement: 1,000,000 deposit addresses allocated and indexed into one
 * fresh index (growing from empty), the bare kura_bip32_derive public step
 * for the same 1,000,000 indexes beside it, and that index's memory per
 * watched script. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kura/block.h"
#include "kura/descriptor.h"
#include "kura/hash.h"
#include "kura/keys.h"
#include "kura/watch.h"

#include "bench.h"
#include "chain.h"

#define CHAIN_WATCHED 1000000u
#define CHAIN_REAL_SCRIPTS 100u   /* watched scripts that the block pays */
#define CHAIN_OUTPOINTS 100000u
#define CHAIN_REAL_SPENDS 50u     /* watched outpoints the block spends */
#define CHAIN_ITER 20u            /* blocks per timed run */
#define CHAIN_ALLOC 10000u        /* addresses allocated per run */
#define CHAIN_INDEX_RUNS 3u       /* runs of the 1,000,000-script load */
#define CHAIN_ALLOC_ALL 1000000u  /* addresses allocated in the one full pass */

static volatile uint8_t chain_sink;

static const uint8_t KEY[KURA_WATCH_KEY_LEN] = {0x6b, 0x75, 0x72, 0x61, 0x2d, 0x62, 0x65, 0x6e,
                                                0x63, 0x68, 0x2d, 0x6b, 0x65, 0x79, 0x21, 0x21};

typedef struct series {
    uint64_t wall[MAX_RUNS], cpu[MAX_RUNS];
    size_t n;
} series;

static void series_put(series *s, uint64_t w, uint64_t c, uint64_t div)
{
    if (s->n < MAX_RUNS) s->wall[s->n] = w / div, s->cpu[s->n] = c / div, s->n++;
}

static void series_print(const char *name, const series *s)
{
    printf("\"%s\":{\"median_ns\":%llu,\"median_cpu_ns\":%llu,\"runs_ns\":", name,
           (unsigned long long)median(s->wall, s->n), (unsigned long long)median(s->cpu, s->n));
    print_runs(s->wall, s->n);
    printf(",\"cpu_ns\":");
    print_runs(s->cpu, s->n);
    printf("}");
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;
    if (f == NULL) die("cannot open %s", path);
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        die("cannot read %s", path);
    buf = malloc((size_t)n + 1);
    if (buf == NULL) die("out of memory");
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) die("cannot read %s", path);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Script number i of no one: 0014 || first 20 bytes of SHA-256(i). */
static void other_script(uint8_t out[22], uint32_t i)
{
    uint8_t in[4] = {(uint8_t)i, (uint8_t)(i >> 8), (uint8_t)(i >> 16), (uint8_t)(i >> 24)}, h[32];
    kura_sha256(h, in, 4);
    out[0] = 0x00, out[1] = 0x14;
    memcpy(out + 2, h, 20);
}

typedef struct setup {
    uint8_t *block;
    size_t len;
    size_t txs, outputs, inputs;
    uint8_t (*scripts)[22];       /* CHAIN_WATCHED - CHAIN_REAL_SCRIPTS scripts of no one */
    const uint8_t *real[CHAIN_REAL_SCRIPTS]; /* the block's scripts to watch */
    size_t real_len[CHAIN_REAL_SCRIPTS];
    size_t expect_receipts;
    kura_watch_outpoints *ops;
} setup;

static kura_watch_index *build_index(const setup *s)
{
    kura_watch_index *idx = NULL;
    check(kura_watch_index_new(&idx, KEY), "index", NULL);
    for (uint32_t i = 0; i < CHAIN_WATCHED - CHAIN_REAL_SCRIPTS; i++)
        check(kura_watch_index_add(idx, s->scripts[i], 22, i), "index add", NULL);
    for (uint32_t i = 0; i < CHAIN_REAL_SCRIPTS; i++)
        check(kura_watch_index_add(idx, s->real[i], s->real_len[i], 5000000u + i), "index add",
              NULL);
    return idx;
}

/* How many outputs of the block pay script[0..len). */
static size_t occurrences(const kura_block *blk, const uint8_t *bytes, const uint8_t *script,
                          size_t len)
{
    size_t n = 0;
    for (size_t t = 0; t < blk->tx_count; t++) {
        kura_block_cursor c;
        kura_block_txout o;
        kura_block_outputs_begin(&c, bytes, &blk->txs[t]);
        while (kura_block_next_output(&c, &o))
            n += o.script_pubkey_len == len && memcmp(o.script_pubkey, script, len) == 0;
    }
    return n;
}

static void prepare(setup *s, const char *block_path)
{
    kura_block *blk = NULL;
    kura_error err;
    size_t out_no = 0, picked = 0, spent = 0;
    memset(s, 0, sizeof(*s));
    s->block = slurp(block_path, &s->len);
    check(kura_block_parse(&blk, s->block, s->len, 0, &err), "block413567", &err);
    s->txs = blk->tx_count;
    check(kura_watch_outpoints_new(&s->ops, KEY), "outpoints", NULL);
    for (uint32_t i = 0; i < CHAIN_OUTPOINTS - CHAIN_REAL_SPENDS; i++) {
        uint8_t in[5] = {(uint8_t)i, (uint8_t)(i >> 8), (uint8_t)(i >> 16), 0x0f, 0}, txid[32];
        kura_sha256(txid, in, 5);
        check(kura_watch_outpoints_add(s->ops, txid, i % 3, i), "outpoint add", NULL);
    }
    for (size_t t = 0; t < blk->tx_count; t++) {
        s->outputs += blk->txs[t].output_count;
        s->inputs += blk->txs[t].input_count;
    }
    /* Pick the watched outputs evenly, each a script paid once in the block
     * (a deposit address, not a reused one). */
    size_t step = s->outputs / (CHAIN_REAL_SCRIPTS + 1), next_pick = 0;
    for (size_t t = 0; t < blk->tx_count; t++) {
        kura_block_cursor c;
        kura_block_txout o;
        kura_block_txin in;
        kura_block_outputs_begin(&c, s->block, &blk->txs[t]);
        while (kura_block_next_output(&c, &o)) {
            if (out_no++ >= next_pick && picked < CHAIN_REAL_SCRIPTS &&
                occurrences(blk, s->block, o.script_pubkey, o.script_pubkey_len) == 1) {
                next_pick += step;
                s->real[picked] = o.script_pubkey;
                s->real_len[picked] = o.script_pubkey_len;
                picked++;
            }
        }
        if (t > 0 && t % 30 == 0 && spent < CHAIN_REAL_SPENDS) {
            kura_block_inputs_begin(&c, s->block, &blk->txs[t]);
            if (kura_block_next_input(&c, &in)) {
                check(kura_watch_outpoints_add(s->ops, in.prev_txid, in.prev_vout, 9000000u + t),
                      "outpoint add", NULL);
                spent++;
            }
        }
    }
    if (picked != CHAIN_REAL_SCRIPTS || spent != CHAIN_REAL_SPENDS) die("block too small");
    /* Every output paying one of the picked scripts is a receipt (scripts
     * repeat: address reuse). Counted here the plain way. */
    for (size_t t = 0; t < blk->tx_count; t++) {
        kura_block_cursor c;
        kura_block_txout o;
        kura_block_outputs_begin(&c, s->block, &blk->txs[t]);
        while (kura_block_next_output(&c, &o)) {
            for (size_t k = 0; k < CHAIN_REAL_SCRIPTS; k++) {
                if (o.script_pubkey_len == s->real_len[k] &&
                    memcmp(o.script_pubkey, s->real[k], o.script_pubkey_len) == 0) {
                    /* One receipt per watched entry with this script. */
                    s->expect_receipts++;
                }
            }
        }
    }
    kura_block_free(blk);
    s->scripts = malloc((size_t)(CHAIN_WATCHED - CHAIN_REAL_SCRIPTS) * 22);
    if (s->scripts == NULL) die("out of memory");
    for (uint32_t i = 0; i < CHAIN_WATCHED - CHAIN_REAL_SCRIPTS; i++) other_script(s->scripts[i], i);
}

/* One scan of the block; returns what it found, checked by the caller. */
static void scan_once(const setup *s, const kura_watch_index *idx, kura_watch_result *r,
                      unsigned flags)
{
    kura_block *blk = NULL;
    kura_error err;
    check(kura_block_parse(&blk, s->block, s->len, flags, &err), "parse", &err);
    check(kura_watch_scan_block(r, idx, s->ops, blk), "scan", NULL);
    kura_block_free(blk);
}

void chain_time(const kura_ctx *ctx, const char *block_path, size_t runs)
{
    static series t_copy, t_sha, t_scan, t_verify, t_alloc, t_bip32, t_load;
    setup s;
    kura_watch_index *idx = NULL;
    kura_watch_result *r = kura_watch_result_new();
    kura_watch_stats st;
    kura_block *blk = NULL;
    uint8_t *copy;
    size_t receipts = 0, spends = 0, hashed = 0;
    if (r == NULL) die("out of memory");
    memset(&t_copy, 0, sizeof(t_copy)); /* static: keep repeated calls clean */
    t_sha = t_scan = t_verify = t_alloc = t_bip32 = t_load = t_copy;
    prepare(&s, block_path);
    copy = malloc(s.len);
    if (copy == NULL) die("out of memory");
    check(kura_block_parse(&blk, s.block, s.len, KURA_BLOCK_SKIP_MERKLE, NULL), "parse", NULL);

    /* Loading 1,000,000 scripts into a fresh index, growing as it goes; the
     * last index built is the one scanned against. */
    for (size_t run = 0; run <= CHAIN_INDEX_RUNS; run++) {
        kura_watch_index_free(idx);
        uint64_t c0 = cpu_ns(), w0 = now_ns();
        idx = build_index(&s);
        uint64_t w1 = now_ns(), c1 = cpu_ns();
        if (run > 0) series_put(&t_load, (w1 - w0) * 1000, (c1 - c0) * 1000, CHAIN_WATCHED);
    }
    kura_watch_index_stats(idx, &st);
    if (st.count != CHAIN_WATCHED) die("index holds %zu scripts", st.count);

    /* Allocating deposit addresses: the xpub of a fixed seed. */
    kura_bip32_key master, acct;
    kura_descriptor *d = NULL;
    kura_error err;
    char desc[256], xpub[KURA_BIP32_SERIALIZED_LEN];
    {
        uint8_t seed[32];
        static const uint32_t path[3] = {84 | KURA_BIP32_HARDENED, KURA_BIP32_HARDENED,
                                         KURA_BIP32_HARDENED};
        memset(seed, 0x42, sizeof(seed));
        check(kura_bip32_from_seed(ctx, &master, seed, sizeof(seed), KURA_NETWORK_MAINNET), "seed",
              NULL);
        check(kura_bip32_derive_path(ctx, &acct, &master, path, 3), "account", NULL);
        kura_bip32_neuter(&acct, &acct);
        check(kura_bip32_serialize(xpub, sizeof(xpub), &acct, 0), "xpub", NULL);
        kura_bip32_wipe(&master);
        snprintf(desc, sizeof(desc), "wpkh(%s/0/*)", xpub);
        check(kura_descriptor_parse(ctx, &d, desc, strlen(desc), &err), "descriptor", &err);
    }
    kura_bip32_key receive;
    check(kura_bip32_derive(NULL, &receive, &acct, 0), "receive chain", NULL);

    size_t addr_runs = runs < 5 ? runs : 5;
    for (size_t run = 0; run <= runs; run++) {
        uint64_t c0, w0, c1, w1;

        c0 = cpu_ns(), w0 = now_ns();
        for (size_t k = 0; k < CHAIN_ITER; k++) {
            memcpy(copy, s.block, s.len);
            chain_sink ^= copy[k * 1000];
        }
        w1 = now_ns(), c1 = cpu_ns();
        if (run > 0) series_put(&t_copy, w1 - w0, c1 - c0, CHAIN_ITER);

        c0 = cpu_ns(), w0 = now_ns();
        for (size_t k = 0; k < CHAIN_ITER; k++) {
            uint8_t id[32];
            for (size_t t = 0; t < blk->tx_count; t++) {
                kura_block_tx_txid(id, s.block, &blk->txs[t]);
                chain_sink ^= id[0];
            }
        }
        w1 = now_ns(), c1 = cpu_ns();
        if (run > 0) series_put(&t_sha, w1 - w0, c1 - c0, CHAIN_ITER);

        c0 = cpu_ns(), w0 = now_ns();
        for (size_t k = 0; k < CHAIN_ITER; k++) scan_once(&s, idx, r, KURA_BLOCK_SKIP_MERKLE);
        w1 = now_ns(), c1 = cpu_ns();
        if (run > 0) series_put(&t_scan, w1 - w0, c1 - c0, CHAIN_ITER);
        receipts = r->receipt_count, spends = r->spend_count, hashed = r->txids_computed;
        size_t from_set = 0;
        for (size_t k = 0; k < r->spend_count; k++)
            from_set += r->spends[k].receipt == KURA_WATCH_NONE;
        if (receipts != s.expect_receipts || from_set != CHAIN_REAL_SPENDS)
            die("scan found %zu receipts and %zu spends of watched outpoints, expected %zu and %u",
                receipts, from_set, s.expect_receipts, CHAIN_REAL_SPENDS);

        c0 = cpu_ns(), w0 = now_ns();
        for (size_t k = 0; k < CHAIN_ITER; k++) scan_once(&s, idx, r, 0);
        w1 = now_ns(), c1 = cpu_ns();
        if (run > 0) series_put(&t_verify, w1 - w0, c1 - c0, CHAIN_ITER);
        if (r->receipt_count != receipts || r->spend_count != spends || r->txids_computed != 0)
            die("the verified scan found something else");

        if (run > addr_runs) continue;
        /* Allocating CHAIN_ALLOC addresses into a fresh index (it grows). */
        kura_watch_index *fresh = NULL;
        check(kura_watch_index_new(&fresh, KEY), "index", NULL);
        c0 = cpu_ns(), w0 = now_ns();
        for (uint32_t i = 0; i < CHAIN_ALLOC; i++) {
            uint8_t script[64];
            size_t slen;
            check(kura_descriptor_script_pubkey(ctx, script, sizeof(script), &slen, d, 0, i,
                                                &err),
                  "address", &err);
            check(kura_watch_index_add(fresh, script, slen, i), "index add", NULL);
        }
        w1 = now_ns(), c1 = cpu_ns();
        if (run > 0) series_put(&t_alloc, w1 - w0, c1 - c0, CHAIN_ALLOC);
        kura_watch_index_free(fresh);

        c0 = cpu_ns(), w0 = now_ns();
        for (uint32_t i = 0; i < CHAIN_ALLOC; i++) {
            kura_bip32_key child;
            check(kura_bip32_derive(NULL, &child, &receive, i), "derive", NULL);
            chain_sink ^= child.pub[1];
        }
        w1 = now_ns(), c1 = cpu_ns();
        if (run > 0) series_put(&t_bip32, w1 - w0, c1 - c0, CHAIN_ALLOC);
    }

    /* The whole measurement, once: 1,000,000 addresses allocated and
     * indexed, and 1,000,000 bare derivations, in the same run. */
    uint64_t all_w, all_c, bare_w, bare_c;
    kura_watch_stats all_st;
    {
        kura_watch_index *all = NULL;
        check(kura_watch_index_new(&all, KEY), "index", NULL);
        uint64_t c0 = cpu_ns(), w0 = now_ns();
        for (uint32_t i = 0; i < CHAIN_ALLOC_ALL; i++) {
            uint8_t script[64];
            size_t slen;
            check(kura_descriptor_script_pubkey(ctx, script, sizeof(script), &slen, d, 0, i,
                                                &err),
                  "address", &err);
            check(kura_watch_index_add(all, script, slen, i), "index add", NULL);
        }
        all_w = now_ns() - w0, all_c = cpu_ns() - c0;
        kura_watch_index_stats(all, &all_st);
        if (all_st.count != CHAIN_ALLOC_ALL) die("index holds %zu addresses", all_st.count);
        kura_watch_index_free(all);
        c0 = cpu_ns(), w0 = now_ns();
        for (uint32_t i = 0; i < CHAIN_ALLOC_ALL; i++) {
            kura_bip32_key child;
            check(kura_bip32_derive(NULL, &child, &receive, i), "derive", NULL);
            chain_sink ^= child.pub[1];
        }
        bare_w = now_ns() - w0, bare_c = cpu_ns() - c0;
    }

    printf("\"chain\":{\"block\":\"413567\",\"block_bytes\":%zu,\"transactions\":%zu,"
           "\"inputs\":%zu,\"outputs\":%zu,\"watched_scripts\":%u,\"watched_outpoints\":%u,"
           "\"index_bytes\":%zu,\"index_peak_bytes\":%zu,\"index_slots\":%zu,"
           "\"receipts\":%zu,\"spends\":%zu,\"txids_computed\":%zu,\"iterations\":%u,"
           "\"addresses_per_run\":%u,",
           s.len, s.txs, s.inputs, s.outputs, CHAIN_WATCHED, CHAIN_OUTPOINTS, st.bytes,
           st.peak_bytes, st.capacity, receipts, spends, hashed, CHAIN_ITER, CHAIN_ALLOC);
    series_print("memcpy", &t_copy);
    printf(",");
    series_print("sha256d", &t_sha);
    printf(",");
    series_print("scan", &t_scan);
    printf(",");
    series_print("verify_scan", &t_verify);
    printf(",");
    series_print("allocate_address", &t_alloc);
    printf(",");
    series_print("bip32_public", &t_bip32);
    printf(",");
    /* per script, in thousandths of a ns (the load is ~100 ns per script) */
    series_print("index_add_ps", &t_load);
    printf(",\"allocate_all\":{\"addresses\":%u,\"wall_ns\":%llu,\"cpu_ns\":%llu,"
           "\"bip32_wall_ns\":%llu,\"bip32_cpu_ns\":%llu,\"index_bytes\":%zu,"
           "\"index_peak_bytes\":%zu}",
           CHAIN_ALLOC_ALL, (unsigned long long)all_w, (unsigned long long)all_c,
           (unsigned long long)bare_w, (unsigned long long)bare_c, all_st.bytes,
           all_st.peak_bytes);
    printf("}");

    kura_bip32_wipe(&acct);
    kura_bip32_wipe(&receive);
    kura_descriptor_free(d);
    kura_block_free(blk);
    kura_watch_index_free(idx);
    kura_watch_outpoints_free(s.ops);
    kura_watch_result_free(r);
    free(s.scripts);
    free(s.block);
    free(copy);
}

void chain_profile(const kura_ctx *ctx, const char *block_path, size_t runs)
{
    setup s;
    kura_watch_index *idx;
    kura_watch_result *r = kura_watch_result_new();
    (void)ctx;
    if (r == NULL) die("out of memory");
    prepare(&s, block_path);
    idx = build_index(&s);
    for (size_t k = 0; k < runs * 100; k++) scan_once(&s, idx, r, KURA_BLOCK_SKIP_MERKLE);
    kura_watch_index_free(idx);
    kura_watch_outpoints_free(s.ops);
    kura_watch_result_free(r);
    free(s.scripts);
    free(s.block);
}
