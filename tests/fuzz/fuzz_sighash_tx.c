/* fuzz_sighash_tx — the three sighash algorithms over arbitrary parsed
 * transactions. The input is a serialised transaction (witness form allowed)
 * followed by nothing else; the parse consumes it whole. For every input up
 * to a few, legacy, BIP143 and BIP341 hashes are computed with the cache and
 * without, and must agree; the preimage/SigMsg writers must agree with the
 * hashes. Spent outputs are taken from the transaction's own outputs
 * (transactions without outputs are skipped). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kura/hash.h"
#include "kura/sighash.h"
#include "kura/tx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

static const uint32_t TYPES[] = {0x00, 0x01, 0x02, 0x03, 0x81, 0x82, 0x83, 0x04, 0x84, 0x41};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kura_tx *tx = NULL;
    kura_txout *spent;
    kura_sighash_cache cache;
    uint8_t leaf[32], annex[3] = {0x50, 0x01, 0x02};
    if (kura_tx_parse(&tx, data, size, KURA_TX_WITNESS, NULL) != KURA_OK) return 0;
    if (tx->output_count == 0) { /* no outputs to borrow as spent outputs */
        kura_tx_free(tx);
        return 0;
    }
    spent = calloc(tx->input_count, sizeof(*spent));
    CHECK(spent != NULL);
    for (size_t i = 0; i < tx->input_count; i++) spent[i] = tx->outputs[i % tx->output_count];
    CHECK(kura_sighash_cache_init(&cache, tx, spent) == KURA_OK);
    kura_sha256(leaf, data, size);

    for (size_t i = 0; i < tx->input_count && i < 4; i++) {
        const kura_bytes *sc = &spent[i].script_pubkey;
        for (size_t t = 0; t < sizeof(TYPES) / sizeof(TYPES[0]); t++) {
            uint32_t ht = TYPES[t];
            uint8_t a[32], b[32], buf[512];
            size_t n;
            int ra, rb;
            CHECK(kura_sighash_legacy(a, tx, i, sc->data, sc->len, ht) == KURA_OK);

            CHECK(kura_sighash_segwit_v0(a, tx, &cache, i, sc->data, sc->len, 1000, ht) ==
                  KURA_OK);
            CHECK(kura_sighash_segwit_v0(b, tx, NULL, i, sc->data, sc->len, 1000, ht) == KURA_OK);
            CHECK(memcmp(a, b, 32) == 0);
            if (sc->len < 256) {
                CHECK(kura_sighash_segwit_v0_preimage(buf, sizeof(buf), &n, tx, NULL, i, sc->data,
                                                      sc->len, 1000, ht) == KURA_OK);
                kura_sha256d(b, buf, n);
                CHECK(memcmp(a, b, 32) == 0);
            }

            for (int mode = 0; mode < 4; mode++) {
                const uint8_t *lh = (mode & 1) ? leaf : NULL;
                const uint8_t *ax = (mode & 2) ? annex : NULL;
                size_t axl = (mode & 2) ? sizeof(annex) : 0;
                ra = kura_sighash_taproot(a, tx, &cache, spent, i, ht, lh, 5, ax, axl);
                rb = kura_sighash_taproot(b, tx, NULL, spent, i, ht, lh, 5, ax, axl);
                CHECK(ra == rb);
                CHECK(memcmp(a, b, 32) == 0);
                if (ra != KURA_OK) {
                    /* Only invalid types and SINGLE without an output fail. */
                    CHECK(t >= 7 || ((ht & 3) == 3 && i >= tx->output_count));
                    continue;
                }
                CHECK(t < 7);
                if (sc->len < 128) {
                    CHECK(kura_sighash_taproot_sigmsg(buf, sizeof(buf), &n, tx, &cache, spent, i,
                                                      ht, lh, 5, ax, axl) == KURA_OK);
                    kura_tagged_hash(b, "TapSighash", buf, n);
                    CHECK(memcmp(a, b, 32) == 0);
                }
            }
        }
    }
    free(spent);
    kura_tx_free(tx);
    return 0;
}
