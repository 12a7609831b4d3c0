/* fuzz_watch_scan — the scanner on whatever kura_block_parse accepts (without
 * the merkle check, so mutated blocks get through), and kura_watch_scan_tx
 * on the same bytes as one transaction.
 *
 * Every output script of the block is watched (each distinct script once)
 * and every input's outpoint: the scan must report every output exactly
 * once with its script's value, amount and bytes, and for every non-coinbase
 * input at least the spend of its own outpoint, with the real outpoint; the
 * txids it reports are the transactions' own. ASan/UBSan catch over-reads. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kura/block.h"
#include "kura/watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

static const uint8_t KEY[KURA_WATCH_KEY_LEN] = "fuzz-watch-key!";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kura_block *blk = NULL;
    kura_watch_index *idx = NULL;
    kura_watch_outpoints *ops = NULL;
    kura_watch_result *r = kura_watch_result_new();
    size_t outputs = 0, inputs = 0;
    kura_error err;

    CHECK(r != NULL);
    CHECK(kura_watch_index_new(&idx, KEY) == KURA_OK);
    CHECK(kura_watch_outpoints_new(&ops, KEY) == KURA_OK);
    if (kura_block_parse(&blk, data, size, KURA_BLOCK_SKIP_MERKLE, &err) == KURA_OK) {
        for (size_t t = 0; t < blk->tx_count; t++) {
            kura_block_cursor c;
            kura_block_txout o;
            kura_block_txin in;
            kura_block_outputs_begin(&c, data, &blk->txs[t]);
            while (kura_block_next_output(&c, &o)) {
                size_t found;
                CHECK(kura_watch_index_find(idx, NULL, 0, &found, o.script_pubkey,
                                            o.script_pubkey_len) == KURA_OK);
                if (found == 0)
                    CHECK(kura_watch_index_add(idx, o.script_pubkey, o.script_pubkey_len,
                                               outputs) == KURA_OK);
                outputs++;
            }
            if (t == 0) continue;
            kura_block_inputs_begin(&c, data, &blk->txs[t]);
            while (kura_block_next_input(&c, &in)) {
                CHECK(kura_watch_outpoints_add(ops, in.prev_txid, in.prev_vout, inputs) ==
                      KURA_OK);
                inputs++;
            }
        }
        CHECK(kura_watch_scan_block(r, idx, ops, blk) == KURA_OK);
        CHECK(r->receipt_count == outputs);
        CHECK(r->spend_count >= inputs);
        for (size_t k = 0; k < r->receipt_count; k++) {
            const kura_watch_receipt *rc = &r->receipts[k];
            uint8_t id[32];
            CHECK(rc->tx_index < blk->tx_count && rc->value < outputs);
            CHECK(rc->vout < blk->txs[rc->tx_index].output_count);
            CHECK(rc->script_pubkey >= data && rc->script_pubkey + rc->script_pubkey_len <= data + size);
            CHECK(kura_block_txid(id, blk, rc->tx_index) == KURA_OK);
            CHECK(memcmp(id, rc->txid, 32) == 0);
            if (k > 0)
                CHECK(rc->tx_index > r->receipts[k - 1].tx_index ||
                      (rc->tx_index == r->receipts[k - 1].tx_index &&
                       rc->vout > r->receipts[k - 1].vout));
        }
        for (size_t k = 0; k < r->spend_count; k++) {
            const kura_watch_spend *s = &r->spends[k];
            CHECK(s->tx_index > 0 && s->tx_index < blk->tx_count);
            CHECK(s->vin < blk->txs[s->tx_index].input_count);
            if (s->receipt != KURA_WATCH_NONE) {
                CHECK(s->receipt < r->receipt_count);
                CHECK(r->receipts[s->receipt].tx_index < s->tx_index);
                CHECK(memcmp(r->receipts[s->receipt].txid, s->prev_txid, 32) == 0);
            }
        }
        kura_block_free(blk);
    }
    /* The same bytes as one mempool transaction. */
    int rc = kura_watch_scan_tx(r, idx, ops, data, size, &err);
    CHECK(rc == KURA_OK || rc == KURA_EDATA || rc == KURA_ERANGE);
    if (rc != KURA_OK) CHECK(r->receipt_count == 0 && r->spend_count == 0);
    kura_watch_result_free(r);
    kura_watch_index_free(idx);
    kura_watch_outpoints_free(ops);
    return 0;
}
