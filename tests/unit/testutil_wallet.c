#include "testutil_wallet.h"

#include <string.h>

#include "kura/script.h"

kura_tx *tu_funding_tx(const kura_ctx *ctx, const kura_descriptor *d, size_t branch,
                       uint32_t index, uint64_t amount, uint8_t tag, uint64_t burn)
{
    uint8_t script[KURA_SCRIPT_PUBKEY_MAX], prev[32];
    size_t len;
    kura_tx *tx = kura_tx_new();
    assert_non_null(tx);
    memset(prev, tag, 32);
    assert_int_equal(kura_tx_add_input(tx, prev, 0, 0xffffffff, NULL, 0), KURA_OK);
    assert_int_equal(kura_descriptor_script_pubkey(ctx, script, sizeof(script), &len, d, branch,
                                                   index, NULL),
                     KURA_OK);
    assert_int_equal(kura_tx_add_output(tx, burn, (const uint8_t *)"\x6a", 1), KURA_OK);
    assert_int_equal(kura_tx_add_output(tx, amount, script, len), KURA_OK);
    return tx;
}
