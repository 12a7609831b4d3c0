/* Fuzz the chain's reading of a Bitcoin Core node's answers: the first two
 * bytes are the HTTP status (big-endian), the rest the body. Any bytes give
 * a result or a stable error code with a message; never a crash or a leak.
 * A result is then read as getblockchaininfo's. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chain/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *res = NULL;
    kura_rpc_error err;
    kura_rpc_chain_info info;
    int retryable = 0, rc;
    long status;
    if (size < 2)
        return 0;
    status = (long)((data[0] << 8) | data[1]);
    rc = kura_rpc_parse_reply(status, (const char *)data + 2, size - 2, &res, &retryable, &err);
    if (rc != KURA_RPC_OK) {
        if (res || err.code != rc || !memchr(err.message, '\0', sizeof err.message) ||
            (rc != KURA_RPC_EAUTH && rc != KURA_RPC_ESYNCING && rc != KURA_RPC_ERPC &&
             rc != KURA_RPC_EPROTO))
            abort();
        return 0;
    }
    if (!res)
        abort();
    rc = kura_rpc_chain_info_parse(res, &info, &err);
    if (rc == KURA_RPC_OK && (strlen(info.best_hash) != 64 || info.blocks < 0))
        abort();
    json_decref(res);
    return 0;
}
