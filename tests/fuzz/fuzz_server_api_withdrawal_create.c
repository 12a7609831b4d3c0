/* Fuzz the body of POST /v1/wallets/{id}/withdrawals: the rules, then what
 * the handler reads (handlers_withdrawals.c) must be what the rules promise:
 * an external id and an address present, an amount of at least 1 that fits
 * the uint64_t it is cast to, a label that is absent or a string. */
#include "fuzz_server_api.h"

static void typed(const json_t *body)
{
    const char *ext = kura_api_str(body, "external_id", NULL);
    const char *addr = kura_api_str(body, "address", NULL);
    int64_t amount = kura_api_int(body, "amount", 0);
    const json_t *label = json_object_get(body, "label");
    if (!ext || !*ext || !addr || !*addr || amount < 1)
        abort();
    if (label && !json_is_string(label))
        abort();
    if ((uint64_t)amount > UINT64_C(2100000000000000))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_server_api_body(&kura_body_withdrawal_create, data, size, typed);
}
