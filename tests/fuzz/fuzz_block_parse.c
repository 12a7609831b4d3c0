/* fuzz_block_parse — kura_block_parse on arbitrary bytes, with and without
 * KURA_BLOCK_SKIP_MERKLE, and kura_block_tx_locate on the same bytes.
 *
 * Whatever parses must describe the bytes exactly: transactions back to back
 * from the count to the last byte, the in-place cursors ending where the
 * index says, every transaction accepted by the independent kura_tx parser
 * with the same txid, wtxid and counts; a block accepted with the merkle
 * check is accepted without it, with the same index. Whatever does not parse
 * leaves *out NULL with KURA_EDATA or KURA_ERANGE. The seeds are real regtest
 * and testnet blocks with trivial or low difficulty, so mutations keep
 * meeting the proof of work about half the time (regtest nBits). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kura/block.h"
#include "kura/tx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

/* One transaction described by t within bytes: cursors and kura_tx agree. */
static void check_tx(const uint8_t *bytes, const kura_block_tx *t)
{
    kura_block_cursor c;
    kura_block_txin in;
    kura_block_txout out;
    kura_tx *tx = NULL;
    uint8_t a[32], b[32];
    uint32_t n;
    int rc;

    CHECK(t->input_count >= 1 && t->output_count >= 1);
    CHECK(t->io_offset == t->offset + 4 + (t->has_witness ? 2 : 0));
    CHECK(t->io_offset + t->io_len + 4 <= t->offset + t->len);
    kura_block_inputs_begin(&c, bytes, t);
    for (n = 0; kura_block_next_input(&c, &in); n++) CHECK(in.prev_txid >= bytes);
    CHECK(n == t->input_count);
    CHECK(c.p == bytes + t->outputs_offset);
    kura_block_outputs_begin(&c, bytes, t);
    for (n = 0; kura_block_next_output(&c, &out); n++) CHECK(out.amount <= KURA_MAX_MONEY);
    CHECK(n == t->output_count);
    CHECK(c.p == bytes + t->io_offset + t->io_len);
    if (!t->has_witness) CHECK(t->io_offset + t->io_len + 4 == t->offset + t->len);

    rc = kura_tx_parse(&tx, bytes + t->offset, t->len, KURA_TX_WITNESS, NULL);
    CHECK(rc == KURA_OK || rc == KURA_ERANGE); /* kura_tx's witness item limit */
    if (rc != KURA_OK) return;
    CHECK(tx->input_count == t->input_count && tx->output_count == t->output_count);
    CHECK(kura_tx_has_witness(tx) == (int)t->has_witness);
    CHECK(kura_tx_txid(a, tx) == KURA_OK);
    kura_block_tx_txid(b, bytes, t);
    CHECK(memcmp(a, b, 32) == 0);
    CHECK(kura_tx_wtxid(a, tx) == KURA_OK);
    kura_block_tx_wtxid(b, bytes, t);
    CHECK(memcmp(a, b, 32) == 0);
    kura_tx_free(tx);
}

static void check_block(const kura_block *blk, const uint8_t *data, size_t size)
{
    size_t at;
    CHECK(blk->bytes == data && blk->len == size && blk->tx_count >= 1);
    CHECK(blk->weight <= KURA_BLOCK_MAX_WEIGHT && blk->weight >= 4 * (uint64_t)80);
    at = blk->txs[0].offset;
    CHECK(at > 80 && at <= 89);
    for (size_t i = 0; i < blk->tx_count; i++) {
        CHECK(blk->txs[i].offset == at);
        at += blk->txs[i].len;
        check_tx(data, &blk->txs[i]);
        if (blk->txids != NULL) {
            uint8_t id[32];
            kura_block_tx_txid(id, data, &blk->txs[i]);
            CHECK(memcmp(id, blk->txids[i], 32) == 0);
        }
    }
    CHECK(at == size);
    CHECK(kura_block_check_pow(blk->hash, blk->header.bits, NULL) == KURA_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kura_block *full = NULL, *fast = NULL;
    kura_block_tx t;
    kura_error err;
    int rc_full = kura_block_parse(&full, data, size, 0, &err);
    int rc_fast = kura_block_parse(&fast, data, size, KURA_BLOCK_SKIP_MERKLE, &err);

    CHECK((rc_full == KURA_OK) == (full != NULL));
    CHECK((rc_fast == KURA_OK) == (fast != NULL));
    if (rc_full != KURA_OK) CHECK(rc_full == KURA_EDATA || rc_full == KURA_ERANGE);
    if (rc_fast != KURA_OK) CHECK(rc_fast == KURA_EDATA || rc_fast == KURA_ERANGE);
    if (full != NULL) {
        CHECK(fast != NULL && fast->tx_count == full->tx_count);
        CHECK(memcmp(fast->txs, full->txs, full->tx_count * sizeof(*full->txs)) == 0);
        CHECK(full->txids != NULL && fast->txids == NULL);
        check_block(full, data, size);
    } else if (fast != NULL) {
        check_block(fast, data, size);
    }
    kura_block_free(full);
    kura_block_free(fast);

    /* The same bytes as one lone transaction. */
    if (kura_block_tx_locate(&t, data, size, &err) == KURA_OK) {
        CHECK(t.offset == 0 && t.len == size);
        check_tx(data, &t);
    } else {
        CHECK(t.len == 0 && t.input_count == 0);
    }
    return 0;
}
