/* Fuzz the body of POST /v1/wallets/{id}/batches: the rules, then what the
 * handler reads (handlers_withdrawals.c): every field optional, and when
 * present within the range the casts to size_t / uint64_t rely on. */
#include "fuzz_server_api.h"

static void typed(const json_t *body)
{
    int64_t max_outputs = kura_api_int(body, "max_outputs", 0);
    int64_t max_fee = kura_api_int(body, "max_fee", 0);
    int64_t expires_in = kura_api_int(body, "expires_in", 0);
    if (json_object_get(body, "max_outputs") && (max_outputs < 1 || max_outputs > 1000))
        abort();
    if (json_object_get(body, "max_fee") && (max_fee < 1 || max_fee > INT64_C(2100000000000000)))
        abort();
    if (expires_in < 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_server_api_body(&kura_body_batch_create, data, size, typed);
}
