/* Blocks: Bitcoin Core's real blocks (mainnet 413,567 from Core's bench data,
 * the testnet blocks of blockfilters.json, the 251 regtest blocks of the
 * chain-data `deposits` scenario) parse, hash to their known hashes, link,
 * and agree transaction by transaction with the independent kura_tx parser;
 * every refusal (proof of work, nBits, merkle root and mutation, witness
 * commitment, structure, limits) has its code and message; and no prefix or
 * extension of a real block is accepted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kura/block.h"
#include "kura/hash.h"
#include "kura/tx.h"
#include "testutil.h"

#define REGTEST_BITS 0x207fffffu

/* ---- helpers ---- */

static void hash_to_display(char out[65], const uint8_t h[32])
{
    kura_txid_to_hex(out, h); /* the same reversal as a txid */
}

/* Parses and expects refusal with `code` and a message containing `why`. */
static void expect_refused(const uint8_t *b, size_t len, unsigned flags, int code, const char *why)
{
    kura_block *blk = (kura_block *)(uintptr_t)1;
    kura_error err;
    memset(&err, 0, sizeof(err));
    int rc = kura_block_parse(&blk, b, len, flags, &err);
    if (rc != code)
        fail_msg("parse returned %s (%s), want %s (%s)", kura_status_name(rc), err.message,
                 kura_status_name(code), why);
    assert_null(blk);
    assert_int_equal(err.code, code);
    assert_true(strncmp(err.message, "block: ", 7) == 0);
    if (why != NULL && strstr(err.message, why) == NULL)
        fail_msg("refused for \"%s\", want \"%s\"", err.message, why);
}

static kura_block *parse_ok(const uint8_t *b, size_t len, unsigned flags)
{
    kura_block *blk = NULL;
    kura_error err;
    memset(&err, 0, sizeof(err));
    int rc = kura_block_parse(&blk, b, len, flags, &err);
    if (rc != KURA_OK) fail_msg("parse: %s: %s", kura_status_name(rc), err.message);
    assert_non_null(blk);
    return blk;
}

/* Checks every transaction of blk against kura_tx_parse of the same bytes:
 * the txid, counts, each input and each output read in place. */
static void cross_check(const kura_block *blk)
{
    for (size_t i = 0; i < blk->tx_count; i++) {
        kura_tx *tx = NULL;
        uint8_t a[32], b[32];
        kura_block_cursor c;
        kura_block_txin in;
        kura_block_txout out;
        size_t k;
        assert_int_equal(kura_block_tx_parse(&tx, blk, i), KURA_OK);
        assert_int_equal(kura_tx_txid(a, tx), KURA_OK);
        assert_int_equal(kura_block_txid(b, blk, i), KURA_OK);
        tu_assert_bytes_equal(a, 32, b, 32);
        kura_block_tx_txid(b, blk->bytes, &blk->txs[i]);
        tu_assert_bytes_equal(a, 32, b, 32);
        assert_int_equal(kura_tx_wtxid(a, tx), KURA_OK);
        kura_block_tx_wtxid(b, blk->bytes, &blk->txs[i]);
        tu_assert_bytes_equal(a, 32, b, 32);
        assert_int_equal(blk->txs[i].has_witness, kura_tx_has_witness(tx));
        assert_int_equal(blk->txs[i].input_count, tx->input_count);
        assert_int_equal(blk->txs[i].output_count, tx->output_count);
        kura_block_inputs_begin(&c, blk->bytes, &blk->txs[i]);
        for (k = 0; kura_block_next_input(&c, &in); k++) {
            assert_true(k < tx->input_count);
            assert_memory_equal(in.prev_txid, tx->inputs[k].prev_txid, 32);
            assert_int_equal(in.prev_vout, tx->inputs[k].prev_vout);
            assert_int_equal(in.sequence, tx->inputs[k].sequence);
            tu_assert_bytes_equal(in.script_sig, in.script_sig_len, tx->inputs[k].script_sig.data,
                                  tx->inputs[k].script_sig.len);
        }
        assert_int_equal(k, tx->input_count);
        kura_block_outputs_begin(&c, blk->bytes, &blk->txs[i]);
        for (k = 0; kura_block_next_output(&c, &out); k++) {
            assert_true(k < tx->output_count);
            assert_true(out.amount == tx->outputs[k].amount);
            tu_assert_bytes_equal(out.script_pubkey, out.script_pubkey_len,
                                  tx->outputs[k].script_pubkey.data,
                                  tx->outputs[k].script_pubkey.len);
        }
        assert_int_equal(k, tx->output_count);
        kura_tx_free(tx);
    }
}

/* ---- a small block builder for the refusals that need a valid header ---- */

typedef struct bb {
    uint8_t b[8192];
    size_t len;
} bb;

static void put(bb *x, const void *p, size_t n)
{
    assert_true(x->len + n <= sizeof(x->b));
    memcpy(x->b + x->len, p, n);
    x->len += n;
}
static void put_hex(bb *x, const char *hex)
{
    size_t n;
    uint8_t *p = tu_unhex(hex, &n);
    put(x, p, n);
    free(p);
}
static void put_u32(bb *x, uint32_t v)
{
    uint8_t t[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(x, t, 4);
}

/* Test transactions, as hex. */
#define CB_IN "01" "0000000000000000000000000000000000000000000000000000000000000000" "ffffffff"
/* A coinbase with the longest scriptSig (100 bytes), so that a block of it
 * and one small transaction still passes the count-against-bytes check. */
#define CB_SCRIPT "64" "5151515151515151515151515151515151515151515151515151515151515151" \
    "5151515151515151515151515151515151515151515151515151515151515151" \
    "5151515151515151515151515151515151515151515151515151515151515151" "51515151"
#define COINBASE "01000000" CB_IN CB_SCRIPT "ffffffff" "01" "00f2052a01000000" "0151" "00000000"
#define SPEND(b) "02000000" "01" b "00000000" "00" "fdffffff" "01" "1027000000000000" "0151" "00000000"
#define PREV1 "1111111111111111111111111111111111111111111111111111111111111111"
#define PREV2 "2222222222222222222222222222222222222222222222222222222222222222"
#define PREV3 "3333333333333333333333333333333333333333333333333333333333333333"
/* A segwit spend: marker, flag, one input with a one-item witness. */
#define SEGWIT_SPEND "02000000" "0001" "01" PREV3 "00000000" "00" "fdffffff" "01" \
                     "1027000000000000" "0151" "01" "02" "abcd" "00000000"

/* txid of a transaction's hex (legacy form: stripped by hand for SEGWIT_SPEND). */
static void txid_of(uint8_t out[32], const char *hex)
{
    kura_tx *tx = NULL;
    size_t n;
    uint8_t *p = tu_unhex(hex, &n);
    assert_int_equal(kura_tx_parse(&tx, p, n, KURA_TX_WITNESS, NULL), KURA_OK);
    assert_int_equal(kura_tx_txid(out, tx), KURA_OK);
    kura_tx_free(tx);
    free(p);
}

/* Merkle root of ids[0..n), computed here the plain way. */
static void merkle(uint8_t out[32], uint8_t (*ids)[32], size_t n)
{
    uint8_t lvl[16][32], pair[64];
    assert_true(n >= 1 && n <= 16);
    memcpy(lvl, ids, n * 32);
    while (n > 1) {
        size_t m = 0;
        for (size_t i = 0; i < n; i += 2) {
            memcpy(pair, lvl[i], 32);
            memcpy(pair + 32, lvl[i + 1 < n ? i + 1 : i], 32);
            kura_sha256d(lvl[m++], pair, 64);
        }
        n = m;
    }
    memcpy(out, lvl[0], 32);
}

/* Builds a regtest block of the given transactions with the given merkle
 * root (NULL: the right one) and grinds the nonce until its proof of work
 * holds. */
static void build_block(bb *x, const char *const *txs, size_t n, const uint8_t *root_override)
{
    uint8_t ids[16][32], root[32], h[32];
    x->len = 0;
    if (root_override == NULL) {
        for (size_t i = 0; i < n; i++) txid_of(ids[i], txs[i]);
        merkle(root, ids, n);
    }
    put_u32(x, 0x20000000u);
    put_hex(x, PREV1);
    put(x, root_override != NULL ? root_override : root, 32);
    put_u32(x, 1704067200u);
    put_u32(x, REGTEST_BITS);
    put_u32(x, 0);
    assert_true(n < 0xfd);
    uint8_t cnt = (uint8_t)n;
    put(x, &cnt, 1);
    for (size_t i = 0; i < n; i++) put_hex(x, txs[i]);
    for (uint32_t nonce = 0;; nonce++) {
        x->b[76] = (uint8_t)nonce, x->b[77] = (uint8_t)(nonce >> 8);
        kura_block_header_hash(h, x->b);
        if (kura_block_check_pow(h, REGTEST_BITS, NULL) == KURA_OK) break;
    }
}

/* ---- the real blocks ---- */

static void test_mainnet_413567(void **state)
{
    (void)state;
    size_t len;
    uint8_t *raw = (uint8_t *)tu_read_file("vectors/core/block413567.raw", &len);
    char hex[65];
    assert_int_equal(len, 999887);
    kura_block *blk = parse_ok(raw, len, 0);
    hash_to_display(hex, blk->hash);
    assert_string_equal(hex, "0000000000000000025aff8be8a55df8f89c77296db6198f272d6577325d4069");
    assert_int_equal(blk->tx_count, 1557);
    assert_int_equal(blk->header.version, 4);
    assert_true(blk->header.bits == 0x18058436u);
    assert_non_null(blk->txids);
    /* A pre-segwit block: no witness anywhere, weight four times the size. */
    assert_int_equal(blk->has_witness_commitment, 0);
    assert_true(blk->weight == 4u * 999887u);
    cross_check(blk);

    /* Without the merkle check: the same index, no stored txids. */
    kura_block *fast = parse_ok(raw, len, KURA_BLOCK_SKIP_MERKLE);
    assert_null(fast->txids);
    assert_int_equal(fast->tx_count, blk->tx_count);
    assert_memory_equal(fast->txs, blk->txs, blk->tx_count * sizeof(*blk->txs));
    uint8_t a[32];
    assert_int_equal(kura_block_txid(a, fast, 1556), KURA_OK);
    assert_memory_equal(a, blk->txids[1556], 32);
    assert_int_equal(kura_block_txid(a, fast, 1557), KURA_EINVAL);
    kura_block_free(fast);
    kura_block_free(blk);
    free(raw);
}

static void test_testnet_blockfilters(void **state)
{
    (void)state;
    json_t *v = tu_load_json("core/blockfilters.json");
    size_t i, n = 0, with_commitment = 0;
    json_t *row;
    json_array_foreach(v, i, row) {
        if (i == 0) continue; /* the column names */
        const char *want = json_string_value(json_array_get(row, 1));
        const char *blockhex = json_string_value(json_array_get(row, 2));
        char hex[65];
        size_t len;
        uint8_t *b = tu_unhex(blockhex, &len);
        kura_block *blk = parse_ok(b, len, 0);
        hash_to_display(hex, blk->hash);
        assert_string_equal(hex, want);
        with_commitment += (size_t)blk->has_witness_commitment;
        cross_check(blk);
        kura_block_free(blk);
        free(b);
        n++;
    }
    assert_int_equal(n, 10);
    assert_true(with_commitment >= 1); /* later testnet blocks commit to witnesses */
    json_decref(v);
}

/* Every block of the regtest `deposits` chain: hash, height order, the link
 * to its parent, the merkle root and witness commitments. */
static void test_regtest_chain(void **state)
{
    (void)state;
    size_t flen;
    char *text = tu_read_file("vectors/chain/deposits/blocks.jsonl", &flen);
    char *save = NULL, prev_hash[65] = "";
    size_t n = 0, commitments = 0, segwit_txs = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        char hex[65];
        size_t len;
        assert_non_null(o);
        uint8_t *b = tu_unhex(tu_str(o, "hex"), &len);
        kura_block *blk = parse_ok(b, len, 0);
        hash_to_display(hex, blk->hash);
        assert_string_equal(hex, tu_str(o, "hash"));
        assert_int_equal(json_integer_value(json_object_get(o, "height")), n);
        hash_to_display(hex, blk->header.prev_hash);
        assert_string_equal(hex, tu_str(o, "prev"));
        if (n > 0) assert_string_equal(hex, prev_hash);
        hash_to_display(prev_hash, blk->hash);
        assert_true(blk->header.bits == REGTEST_BITS);
        commitments += (size_t)blk->has_witness_commitment;
        for (size_t i = 0; i < blk->tx_count; i++) segwit_txs += blk->txs[i].has_witness;
        cross_check(blk);
        kura_block_free(blk);
        free(b);
        json_decref(o);
        n++;
    }
    assert_int_equal(n, 251);
    assert_true(commitments >= 240); /* Core commits in every block after genesis */
    assert_true(segwit_txs > 100);
    free(text);
}

/* ---- refusals on real bytes ---- */

static void test_mainnet_mutations(void **state)
{
    (void)state;
    size_t len;
    uint8_t *raw = (uint8_t *)tu_read_file("vectors/core/block413567.raw", &len);
    uint8_t *m = malloc(len + 16);
    kura_block *blk = parse_ok(raw, len, KURA_BLOCK_SKIP_MERKLE);

    /* A nonce bit: the hash no longer meets the target. */
    memcpy(m, raw, len);
    m[76] ^= 1;
    expect_refused(m, len, 0, KURA_EDATA, "proof of work above target");
    /* A merkle root bit: the header changes, so the work fails first. */
    memcpy(m, raw, len);
    m[36] ^= 0x80;
    expect_refused(m, len, 0, KURA_EDATA, "proof of work above target");
    /* A byte of a transaction's output amount: the merkle root no longer
     * matches (and only the merkle check sees it). */
    memcpy(m, raw, len);
    m[blk->txs[700].outputs_offset + 2] ^= 1;
    expect_refused(m, len, 0, KURA_EDATA, "merkle root mismatch");
    kura_block *skip = parse_ok(m, len, KURA_BLOCK_SKIP_MERKLE);
    kura_block_free(skip);
    /* Truncated by one byte, and trailing bytes. */
    expect_refused(raw, len - 1, 0, KURA_EDATA, "tx 1556: truncated");
    memcpy(m, raw, len);
    m[len] = 0;
    expect_refused(m, len + 1, 0, KURA_EDATA, "trailing bytes");
    /* The transaction count: one more than there are (the walk runs out),
     * and one no block of this size could hold. */
    {
        uint8_t *c = malloc(len + 8);
        memcpy(c, raw, 80);
        c[80] = 0xfd, c[81] = 0x16, c[82] = 0x06; /* 1558 */
        memcpy(c + 83, raw + 83, len - 83);
        assert_true(raw[80] == 0xfd && raw[81] == 0x15 && raw[82] == 0x06);
        expect_refused(c, len, 0, KURA_EDATA, "tx 1557: truncated");
        c[80] = 0xfe, c[81] = 0xff, c[82] = 0xff, c[83] = 0xff, c[84] = 0x00;
        memcpy(c + 85, raw + 83, len - 83);
        expect_refused(c, len + 2, 0, KURA_ERANGE, "transactions cannot fit");
        /* A non-minimal CompactSize for 1557. */
        c[80] = 0xfe, c[81] = 0x15, c[82] = 0x06, c[83] = 0, c[84] = 0;
        expect_refused(c, len + 2, 0, KURA_EDATA, "non-canonical CompactSize");
        free(c);
    }
    /* An input count in transaction 5 that the rest of the block cannot hold. */
    memcpy(m, raw, len);
    {
        size_t at = blk->txs[5].io_offset;
        assert_true(m[at] < 0xfd);
        m[at] = 0xfc;
        kura_block *ok = NULL;
        /* 252 inputs of 41 bytes fit in the block's remaining bytes, so this is
         * a structural failure later on, not a count refusal: still refused. */
        assert_int_not_equal(kura_block_parse(&ok, m, len, 0, NULL), KURA_OK);
        assert_null(ok);
    }
    /* Over the size limit. */
    expect_refused(raw, KURA_BLOCK_MAX_SIZE + 1, 0, KURA_ERANGE, "over 4000000");
    expect_refused(raw, 79, 0, KURA_EDATA, "truncated");
    expect_refused(raw, 80, 0, KURA_EDATA, "truncated");
    kura_block_free(blk);
    free(m);
    free(raw);
}

/* Every prefix of a real regtest block with witnesses (height 150 of the
 * deposits chain) is refused, and one appended byte too. */
static void test_every_prefix_refused(void **state)
{
    (void)state;
    size_t flen;
    char *text = tu_read_file("vectors/chain/deposits/blocks.jsonl", &flen);
    char *at = strstr(text, "{\"height\": 150,");
    assert_non_null(at);
    *strchr(at, '\n') = 0;
    json_t *o = json_loads(at, 0, NULL);
    size_t len;
    uint8_t *b = tu_unhex(tu_str(o, "hex"), &len);
    kura_block *blk = parse_ok(b, len, 0);
    assert_true(blk->has_witness_commitment);
    kura_block_free(blk);
    for (size_t cut = 0; cut < len; cut++) {
        kura_block *x = (kura_block *)(uintptr_t)1;
        int rc = kura_block_parse(&x, b, cut, 0, NULL);
        assert_true(rc == KURA_EDATA || rc == KURA_ERANGE);
        assert_null(x);
    }
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, b, len);
    longer[len] = 0x00;
    expect_refused(longer, len + 1, 0, KURA_EDATA, "trailing bytes");
    free(longer);
    free(b);
    json_decref(o);
    free(text);
}

/* A witness byte changes the wtxid but not the txid: the merkle root still
 * matches, the witness commitment does not. */
static void test_witness_commitment_mismatch(void **state)
{
    (void)state;
    size_t flen;
    char *text = tu_read_file("vectors/chain/deposits/blocks.jsonl", &flen);
    char *at = strstr(text, "{\"height\": 150,");
    *strchr(at, '\n') = 0;
    json_t *o = json_loads(at, 0, NULL);
    size_t len;
    uint8_t *b = tu_unhex(tu_str(o, "hex"), &len);
    kura_block *blk = parse_ok(b, len, 0);
    size_t t = 1;
    while (t < blk->tx_count && !blk->txs[t].has_witness) t++;
    assert_true(t < blk->tx_count);
    /* The last byte of the first witness item (count, length, then bytes). */
    const uint8_t *w = b + blk->txs[t].io_offset + blk->txs[t].io_len;
    size_t item_len = w[1];
    assert_true(w[0] >= 1 && item_len > 0 && item_len < 0xfd);
    b[(size_t)(w - b) + 1 + item_len] ^= 1;
    kura_block_free(blk);
    expect_refused(b, len, 0, KURA_EDATA, "witness commitment mismatch");
    blk = parse_ok(b, len, KURA_BLOCK_SKIP_MERKLE);
    kura_block_free(blk);
    free(b);
    json_decref(o);
    free(text);
}

/* ---- nBits and proof of work ---- */

static void test_bits(void **state)
{
    (void)state;
    uint8_t t[32], want[32], h[32];
    kura_error err;
    /* Genesis difficulty: 0x00000000ffff0000...0000. */
    assert_int_equal(kura_block_bits_to_target(t, 0x1d00ffffu, NULL), KURA_OK);
    memset(want, 0, 32);
    want[26] = 0xff, want[27] = 0xff;
    assert_memory_equal(t, want, 32);
    /* Regtest: 0x7fffff << 232. */
    assert_int_equal(kura_block_bits_to_target(t, REGTEST_BITS, NULL), KURA_OK);
    memset(want, 0, 32);
    want[29] = 0xff, want[30] = 0xff, want[31] = 0x7f;
    assert_memory_equal(t, want, 32);
    /* Small exponents shift the mantissa right. */
    assert_int_equal(kura_block_bits_to_target(t, 0x01123456u, NULL), KURA_OK);
    memset(want, 0, 32);
    want[0] = 0x12;
    assert_memory_equal(t, want, 32);
    assert_int_equal(kura_block_bits_to_target(t, 0x02123456u, NULL), KURA_OK);
    want[0] = 0x34, want[1] = 0x12;
    assert_memory_equal(t, want, 32);
    /* The largest: 0x7fffff at exponent 32 fills bytes 29..31. */
    assert_int_equal(kura_block_bits_to_target(t, 0x207fffffu, NULL), KURA_OK);
    assert_int_equal(kura_block_bits_to_target(t, 0x2100ffffu, NULL), KURA_OK); /* 0xffff<<248 */

    static const struct {
        uint32_t bits;
        const char *why;
    } bad[] = {
        {0x04923456u, "negative target"}, {0x1d80ffffu, "negative target"},
        {0xff123456u, "target overflows"}, {0x23000001u, "target overflows"},
        {0x2200ffffu, "target overflows"}, {0x21010000u, "target overflows"},
        {0x00000000u, "zero target"},     {0x01003456u, "zero target"},
        {0x1d000000u, "zero target"},     {0x00800000u, "zero target"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(t, 0xaa, 32);
        memset(&err, 0, sizeof(err));
        assert_int_equal(kura_block_bits_to_target(t, bad[i].bits, &err), KURA_EDATA);
        if (strstr(err.message, bad[i].why) == NULL)
            fail_msg("%08x: \"%s\", want \"%s\"", bad[i].bits, err.message, bad[i].why);
        memset(want, 0, 32);
        assert_memory_equal(t, want, 32);
        memset(h, 0, 32);
        assert_int_equal(kura_block_check_pow(h, bad[i].bits, NULL), KURA_EDATA);
    }
    /* A hash equal to the target passes; one more fails. */
    assert_int_equal(kura_block_bits_to_target(t, 0x1d00ffffu, NULL), KURA_OK);
    assert_int_equal(kura_block_check_pow(t, 0x1d00ffffu, NULL), KURA_OK);
    t[0] = 1;
    memset(&err, 0, sizeof(err));
    assert_int_equal(kura_block_check_pow(t, 0x1d00ffffu, &err), KURA_EDATA);
    assert_non_null(strstr(err.message, "proof of work above target"));

    /* A block with a bad nBits in its header is refused for it. */
    size_t len;
    uint8_t *raw = (uint8_t *)tu_read_file("vectors/core/block413567.raw", &len);
    raw[74] = 0x00, raw[73] = 0x00, raw[72] = 0x00; /* mantissa 0 */
    expect_refused(raw, len, 0, KURA_EDATA, "zero target");
    raw[74] = 0x80; /* sign bit with a zero mantissa is zero; make the mantissa non-zero */
    raw[72] = 0x01;
    expect_refused(raw, len, 0, KURA_EDATA, "negative target");
    raw[74] = 0x01, raw[75] = 0x40;
    expect_refused(raw, len, 0, KURA_EDATA, "target overflows");
    free(raw);

    assert_int_equal(kura_block_bits_to_target(NULL, 0x1d00ffffu, NULL), KURA_EINVAL);
    assert_int_equal(kura_block_check_pow(NULL, 0x1d00ffffu, NULL), KURA_EINVAL);
}

static uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void test_header_parse(void **state)
{
    (void)state;
    size_t len;
    uint8_t *raw = (uint8_t *)tu_read_file("vectors/core/block413567.raw", &len);
    kura_block_header h;
    kura_error err;
    assert_int_equal(kura_block_header_parse(&h, raw, 80, NULL), KURA_OK);
    assert_int_equal(h.version, 4);
    assert_true(h.bits == 0x18058436u);
    assert_true(h.time == load_le32(raw + 68));
    memset(&err, 0, sizeof(err));
    assert_int_equal(kura_block_header_parse(&h, raw, 81, &err), KURA_EDATA);
    assert_non_null(strstr(err.message, "not 80"));
    assert_int_equal(h.bits, 0);
    assert_int_equal(kura_block_header_parse(NULL, raw, 80, NULL), KURA_EINVAL);
    assert_int_equal(kura_block_header_parse(&h, NULL, 80, NULL), KURA_EINVAL);
    free(raw);
}

/* ---- built blocks: the refusals a real block does not show ---- */

static void test_built_blocks(void **state)
{
    (void)state;
    bb x;
    kura_block *blk;
    uint8_t zero[32] = {0};

    /* The builder makes valid blocks. */
    {
        const char *txs[] = {COINBASE, SPEND(PREV1), SPEND(PREV2)};
        build_block(&x, txs, 3, NULL);
        blk = parse_ok(x.b, x.len, 0);
        assert_int_equal(blk->tx_count, 3);
        kura_block_free(blk);
        /* A wrong root in a header that still has its work. */
        build_block(&x, txs, 3, zero);
        expect_refused(x.b, x.len, 0, KURA_EDATA, "merkle root mismatch");
        blk = parse_ok(x.b, x.len, KURA_BLOCK_SKIP_MERKLE);
        kura_block_free(blk);
    }
    /* CVE-2012-2459: [cb, a, b, b] has the root of [cb, a, b]. */
    {
        const char *three[] = {COINBASE, SPEND(PREV1), SPEND(PREV2)};
        const char *four[] = {COINBASE, SPEND(PREV1), SPEND(PREV2), SPEND(PREV2)};
        uint8_t ids[3][32], root[32];
        for (size_t i = 0; i < 3; i++) txid_of(ids[i], three[i]);
        merkle(root, ids, 3);
        build_block(&x, four, 4, root);
        expect_refused(x.b, x.len, 0, KURA_EDATA, "duplicate transaction (merkle mutation)");
    }
    /* Coinbase rules. */
    {
        const char *txs[] = {SPEND(PREV1)};
        build_block(&x, txs, 1, NULL);
        expect_refused(x.b, x.len, 0, KURA_EDATA, "tx 0: first transaction is not a coinbase");
        const char *two_cb[] = {COINBASE, COINBASE};
        build_block(&x, two_cb, 2, NULL);
        expect_refused(x.b, x.len, 0, KURA_EDATA, "tx 1: second coinbase");
        const char *short_cb[] = {"01000000" CB_IN "0151" "ffffffff" "01" "00f2052a01000000"
                                  "0151" "00000000"};
        build_block(&x, short_cb, 1, NULL);
        expect_refused(x.b, x.len, 0, KURA_EDATA, "coinbase scriptSig size");
    }
    /* No outputs; an amount over 21 million BTC. */
    {
        const char *txs[] = {COINBASE, "02000000" "01" PREV1 "00000000" "00" "fdffffff" "00"
                                       "00000000"};
        build_block(&x, txs, 2, NULL);
        expect_refused(x.b, x.len, 0, KURA_EDATA, "tx 1: no outputs");
        const char *rich[] = {COINBASE, "02000000" "01" PREV1 "00000000" "00" "fdffffff" "01"
                                        "0140075af0750700" "0151" "00000000"};
        build_block(&x, rich, 2, zero); /* refused before the merkle root is looked at */
        expect_refused(x.b, x.len, 0, KURA_ERANGE, "amount over 21 million BTC");
    }
    /* A witness transaction in a block whose coinbase commits to nothing. */
    {
        const char *txs[] = {COINBASE, SEGWIT_SPEND};
        build_block(&x, txs, 2, NULL);
        expect_refused(x.b, x.len, 0, KURA_EDATA, "unexpected witness");
        blk = parse_ok(x.b, x.len, KURA_BLOCK_SKIP_MERKLE);
        kura_block_free(blk);
    }
    /* A coinbase that commits without a witness reserved value. */
    {
        const char *txs[] = {"01000000" CB_IN "025151" "ffffffff" "02" "00f2052a01000000" "0151"
                             "0000000000000000" "26" "6a24aa21a9ed"
                             "0000000000000000000000000000000000000000000000000000000000000000"
                             "00000000",
                             SEGWIT_SPEND};
        build_block(&x, txs, 2, NULL);
        expect_refused(x.b, x.len, 0, KURA_EDATA, "bad witness reserved value");
    }
}

/* Structural refusals that the tx parser itself would also refuse, so the
 * builder (which computes txids with it) cannot make their blocks: spliced
 * into a valid block's bytes by hand, checked before the merkle root. */
static void test_structure_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *tx;
        int code;
        const char *why;
    } cases[] = {
        {"02000000" "0002" "01" PREV3 "00000000" "00" "fdffffff" "01" "1027000000000000" "0151"
         "0100" "00000000",
         KURA_EDATA, "tx 1: bad witness flag"},
        {"02000000" "0001" "01" PREV3 "00000000" "00" "fdffffff" "01" "1027000000000000" "0151"
         "00" "00000000",
         KURA_EDATA, "tx 1: superfluous witness record"},
        {"02000000" "0001" "00" "01" "1027000000000000" "0151" "00000000", KURA_EDATA,
         "tx 1: no inputs"},
        {"02000000" "01" PREV1 "00000000" "fd0100" "51" "fdffffff" "01" "1027000000000000"
         "0151" "00000000",
         KURA_EDATA, "tx 1: non-canonical CompactSize"},
        {"02000000" "fc" PREV1 "00000000" "00" "fdffffff" "01" "1027000000000000" "0151"
         "00000000",
         KURA_ERANGE, "tx 1: input count exceeds the bytes"},
        {"02000000" "01" PREV1 "00000000" "00" "fdffffff" "fc" "1027000000000000" "0151"
         "00000000",
         KURA_ERANGE, "tx 1: output count exceeds the bytes"},
        {"02000000" "0001" "01" PREV3 "00000000" "00" "fdffffff" "01" "1027000000000000" "0151"
         "fc" "00000000",
         KURA_ERANGE, "tx 1: witness item count exceeds the bytes"},
        {"02000000" "01" PREV1 "00000000" "00" "fdffffff" "01" "1027000000000000" "0151"
         "000000",
         KURA_EDATA, "tx 1: truncated"},
        {"02000000" "01" "0000000000000000000000000000000000000000000000000000000000000000"
         "ffffffff" "025151" "fdffffff" "01" "1027000000000000" "0151" "00000000",
         KURA_EDATA, "tx 1: second coinbase"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bb x;
        const char *one[] = {COINBASE};
        build_block(&x, one, 1, NULL);
        x.b[80] = 2; /* two transactions: the coinbase and the case */
        put_hex(&x, cases[i].tx);
        /* The header (and its work) is unchanged; the structure fails first. */
        expect_refused(x.b, x.len, 0, cases[i].code, cases[i].why);
    }
    /* No transactions at all. */
    {
        bb x;
        const char *one[] = {COINBASE};
        build_block(&x, one, 1, NULL);
        x.b[80] = 0;
        expect_refused(x.b, 81, 0, KURA_EDATA, "no transactions");
    }
}

static void test_tx_locate(void **state)
{
    (void)state;
    size_t n;
    uint8_t *p = tu_unhex(SEGWIT_SPEND, &n), id[32], want[32];
    kura_block_tx t;
    kura_error err;
    assert_int_equal(kura_block_tx_locate(&t, p, n, NULL), KURA_OK);
    assert_int_equal(t.offset, 0);
    assert_int_equal(t.len, n);
    assert_int_equal(t.has_witness, 1);
    assert_int_equal(t.io_offset, 6);
    kura_block_tx_txid(id, p, &t);
    txid_of(want, SEGWIT_SPEND);
    assert_memory_equal(id, want, 32);
    assert_int_equal(kura_block_tx_locate(&t, p, n - 1, &err), KURA_EDATA);
    assert_non_null(strstr(err.message, "tx: truncated"));
    assert_int_equal(t.len, 0);
    free(p);
    p = tu_unhex(SPEND(PREV1) "00", &n);
    assert_int_equal(kura_block_tx_locate(&t, p, n, &err), KURA_EDATA);
    assert_non_null(strstr(err.message, "tx: trailing bytes"));
    free(p);
    p = tu_unhex(COINBASE, &n);
    assert_int_equal(kura_block_tx_locate(&t, p, n, &err), KURA_EDATA);
    assert_non_null(strstr(err.message, "tx: null outpoint"));
    free(p);
    assert_int_equal(kura_block_tx_locate(NULL, p, n, NULL), KURA_EINVAL);
}

static void test_misuse(void **state)
{
    (void)state;
    kura_block *blk = (kura_block *)(uintptr_t)1;
    uint8_t b[100] = {0};
    assert_int_equal(kura_block_parse(NULL, b, 100, 0, NULL), KURA_EINVAL);
    assert_int_equal(kura_block_parse(&blk, NULL, 100, 0, NULL), KURA_EINVAL);
    assert_null(blk);
    assert_int_equal(kura_block_parse(&blk, b, 100, 0x80, NULL), KURA_EINVAL);
    kura_block_free(NULL);
    kura_tx *tx = (kura_tx *)(uintptr_t)1;
    assert_int_equal(kura_block_tx_parse(&tx, NULL, 0), KURA_EINVAL);
    assert_null(tx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mainnet_413567),
        cmocka_unit_test(test_testnet_blockfilters),
        cmocka_unit_test(test_regtest_chain),
        cmocka_unit_test(test_mainnet_mutations),
        cmocka_unit_test(test_every_prefix_refused),
        cmocka_unit_test(test_witness_commitment_mismatch),
        cmocka_unit_test(test_bits),
        cmocka_unit_test(test_header_parse),
        cmocka_unit_test(test_built_blocks),
        cmocka_unit_test(test_structure_refusals),
        cmocka_unit_test(test_tx_locate),
        cmocka_unit_test(test_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
