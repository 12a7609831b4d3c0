/*
 * tests/fuzz/fuzz_server_api.h — what every kura-server body fuzz target
 * does: the door's JSON layer (kura_api_body_load: parse + the route's
 * declared rules) on any bytes, no server. A refusal must be one of the
 * door's stable codes with a message and no output; an accepted body must be
 * an object that, written out and read again, is accepted again and equal
 * (so the rules do not depend on spelling), and the typed filling the
 * handler does must hold up.
 */
#ifndef KURA_FUZZ_SERVER_API_H
#define KURA_FUZZ_SERVER_API_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef void (*fuzz_typed_fn)(const json_t *body);

static inline int fuzz_server_api_body(const kura_body_spec *spec, const uint8_t *data,
                                       size_t size, fuzz_typed_fn typed)
{
    json_t *j = NULL, *k = NULL;
    kura_problem p;
    char *s;
    int rc;
    memset(&p, 0, sizeof p);
    rc = kura_api_body_load(spec, (const char *)data, size, &j, &p);
    if (rc) {
        if (j || (int)p.code != rc || !p.message[0] || !memchr(p.message, '\0', sizeof p.message))
            abort();
        if (rc != KURA_PROBLEM_BAD_JSON && rc != KURA_PROBLEM_UNKNOWN_FIELD &&
            rc != KURA_PROBLEM_MISSING_FIELD && rc != KURA_PROBLEM_INVALID_FIELD)
            abort();
        return 0;
    }
    if (!json_is_object(j))
        abort();
    s = json_dumps(j, JSON_COMPACT);
    if (!s)
        abort();
    if (kura_api_body_load(spec, s, strlen(s), &k, &p) != 0 || !json_equal(j, k))
        abort();
    if (typed)
        typed(j);
    free(s);
    json_decref(k);
    json_decref(j);
    return 0;
}

#endif
