/* tests/unit/testutil_wallet.h — shared helpers that call the wallet's
 * modules (descriptor, tx). Linked into the tests of every module that may
 * call kura_wallet. */
#ifndef KURA_TESTUTIL_WALLET_H
#define KURA_TESTUTIL_WALLET_H

#include "kura/descriptor.h"
#include "kura/tx.h"
#include "testutil.h"

/* A made-up funding transaction: one input spending output 0 of a txid of 32
 * `tag` bytes, output 0 an OP_RETURN of `burn` sats, output 1 `amount` to the
 * script of descriptor d at (branch, index). */
kura_tx *tu_funding_tx(const kura_ctx *ctx, const kura_descriptor *d, size_t branch,
                       uint32_t index, uint64_t amount, uint8_t tag, uint64_t burn);

#endif
