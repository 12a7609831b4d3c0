/* Fuzz the request body rules of kura-server's bump body (fuzz_server_api.h). */
#include "fuzz_server_api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_server_api_body(&kura_body_bump, data, size, NULL);
}
