/* fuzz_tx_parse — kura_tx_parse on arbitrary bytes, with and without
 * KURA_TX_WITNESS. Whatever parses must re-serialise to exactly the input
 * (one transaction, one encoding), clone to the same bytes, and give
 * consistent sizes, weight and ids; whatever does not parse must leave *out
 * NULL. ASan/UBSan catch over-reads, leaks and overflow. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kura/hash.h"
#include "kura/tx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

static void roundtrip(const kura_tx *tx, const uint8_t *data, size_t size, unsigned flags)
{
    size_t need = kura_tx_serialized_size(tx, flags), written = 0;
    uint8_t *out = malloc(need > 0 ? need : 1);
    CHECK(out != NULL);
    CHECK(need == size);
    CHECK(kura_tx_serialize(out, need, &written, tx, flags) == KURA_OK);
    CHECK(written == size && memcmp(out, data, size) == 0);
    free(out);
}

static void check_tx(const kura_tx *tx, const uint8_t *data, size_t size, unsigned flags)
{
    size_t base = kura_tx_serialized_size(tx, 0);
    size_t total = kura_tx_serialized_size(tx, KURA_TX_WITNESS);
    uint8_t id[32], wid[32], h[32], back[32];
    char hex[65];
    uint64_t sum;
    kura_tx *copy = NULL;

    roundtrip(tx, data, size, flags);
    CHECK(kura_tx_weight(tx) == (uint64_t)base * 3 + total);
    CHECK(kura_tx_vsize(tx) == (kura_tx_weight(tx) + 3) / 4);
    CHECK(kura_tx_txid(id, tx) == KURA_OK);
    CHECK(kura_tx_wtxid(wid, tx) == KURA_OK);
    if (!kura_tx_has_witness(tx)) {
        CHECK(base == total && memcmp(id, wid, 32) == 0);
        kura_sha256d(h, data, size);
        CHECK(memcmp(h, id, 32) == 0);
    } else {
        CHECK(base < total);
        kura_sha256d(h, data, size);
        CHECK(memcmp(h, wid, 32) == 0);
    }
    kura_txid_to_hex(hex, id);
    CHECK(kura_txid_from_hex(back, hex, NULL) == KURA_OK && memcmp(back, id, 32) == 0);
    /* The parser already refused sums over 21e6 BTC. */
    CHECK(kura_tx_output_total(&sum, tx) == KURA_OK);
    CHECK(kura_tx_clone(&copy, tx) == KURA_OK);
    roundtrip(copy, data, size, flags);
    kura_tx_free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kura_tx *legacy = NULL, *segwit = NULL;
    kura_error err;
    int rc0 = kura_tx_parse(&legacy, data, size, 0, &err);
    int rc1 = kura_tx_parse(&segwit, data, size, KURA_TX_WITNESS, &err);

    CHECK((rc0 == KURA_OK) == (legacy != NULL));
    CHECK((rc1 == KURA_OK) == (segwit != NULL));
    if (rc0 != KURA_OK) CHECK(rc0 == KURA_EDATA || rc0 == KURA_ERANGE);
    if (rc1 != KURA_OK) CHECK(rc1 == KURA_EDATA || rc1 == KURA_ERANGE);
    if (legacy != NULL) {
        /* A legacy encoding with inputs starts with a non-zero input count,
         * so the witness-aware parser must read it the same way (with no
         * inputs, 0x00 is the BIP144 marker to that parser). */
        CHECK(!kura_tx_has_witness(legacy));
        if (legacy->input_count > 0) CHECK(segwit != NULL);
        check_tx(legacy, data, size, 0);
    }
    if (segwit != NULL) check_tx(segwit, data, size, KURA_TX_WITNESS);
    kura_tx_free(legacy);
    kura_tx_free(segwit);
    return 0;
}
