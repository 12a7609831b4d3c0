/* Fuzz kura-server's configuration file parser: any bytes either parse or
 * are refused with a message naming the line; never a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kura_server_config c;
    char err[256];
    err[0] = '\0';
    kura_config_defaults(&c);
    if (kura_config_parse(&c, (const char *)data, size, err, sizeof err) != 0) {
        if (strncmp(err, "line ", 5) != 0)
            abort();
        return 0;
    }
    if (c.body_limit < 1024 || c.threads < 1 || !memchr(c.data_dir, '\0', sizeof c.data_dir))
        abort();
    return 0;
}
