/* Fuzz the body of POST /v1/transfers: the rules, then the typed filling the
 * handler does (every output read back as the JSON held it). */
#include "fuzz_server_api.h"

static void typed(const json_t *body)
{
    kura_transfer_body b;
    kura_problem p;
    const json_t *outs = json_object_get(body, "outputs");
    if (kura_api_fill_transfer(body, &b, &p) != 0)
        abort();
    if (b.output_count != json_array_size(outs) || b.output_count == 0 || !b.wallet_id[0])
        abort();
    for (size_t i = 0; i < b.output_count; i++) {
        const json_t *o = json_array_get(outs, i);
        if (b.outputs[i].amount == 0 ||
            (json_int_t)b.outputs[i].amount != json_integer_value(json_object_get(o, "amount")) ||
            strcmp(b.outputs[i].address, json_string_value(json_object_get(o, "address"))) != 0)
            abort();
    }
    kura_transfer_body_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_server_api_body(&kura_body_transfer_create, data, size, typed);
}
