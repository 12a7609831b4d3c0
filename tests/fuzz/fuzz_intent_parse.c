/* Fuzz the transfer intent parser. Any bytes: parsing either fails cleanly
 * (a code, a message, no intent) or gives an intent that writes back to the
 * very same bytes, since the format has one spelling per intent, and that
 * the renderer can show. */
#include <stdlib.h>
#include <string.h>

#include "kura/intent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kura_intent *in = NULL;
    kura_error err;
    char *out = NULL;
    size_t len = 0;
    int rc;
    memset(&err, 0, sizeof(err));
    rc = kura_intent_parse(&in, data, size, &err);
    if (rc != KURA_OK) {
        if (in != NULL || err.code != rc || err.message[0] == '\0') abort();
        return 0;
    }
    if (kura_intent_write(&out, &len, in, &err) != KURA_OK) abort();
    if (len != size || memcmp(out, data, size) != 0) abort();
    free(out);
    if (kura_intent_render(&out, &len, in, NULL, NULL, &err) != KURA_OK) abort();
    if (strlen(out) != len) abort();
    free(out);
    kura_intent_free(in);
    return 0;
}
