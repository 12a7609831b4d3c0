/* Fuzz the people domain's parsers of untrusted text: CIDR allowlists (an API
 * key's, and the client address held against one), scope lists, role and
 * user names, and TOTP codes against a base32 secret. The first byte picks
 * the secret-or-list half; the rest is the text. Properties: a scope list
 * that parses formats back to the same bits; an allowlist that is valid
 * accepts every address it was written with; nothing reads past the NUL. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/people.h"
#include "domain/people_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    uint32_t scopes = 0, again = 0, bit = 0;
    char text[512];
    kura_role role;
    int64_t step = 0;
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0'; /* inputs with an embedded NUL are read up to it */

    if (kura_scopes_parse(s, &scopes) == 0) {
        if (kura_scopes_format(text, sizeof text, scopes) != 0)
            abort();
        if (kura_scopes_parse(text, &again) != 0 || again != scopes)
            abort();
    } else if (scopes != 0) {
        abort();
    }
    if (kura_scope_parse(s, &bit) == 0 && strcmp(kura_scope_name(bit), s) != 0)
        abort();
    if (kura_role_parse(s, &role) == 0 && strcmp(kura_role_name(role), s) != 0)
        abort();
    (void)kura_people_name_valid(s);

    if (kura_cidrs_valid(s)) {
        /* A single bare address in the list matches itself. */
        if (!strchr(s, ' ') && !strchr(s, '/') && *s && !kura_cidrs_match(s, s))
            abort();
    }
    (void)kura_cidrs_match(s, "10.1.2.3");
    (void)kura_cidrs_match(s, "2001:db8::1");
    (void)kura_cidrs_match("10.0.0.0/8 2001:db8::/32 ::ffff:0:0/96", s);

    /* As a TOTP secret, and as a code against a fixed secret. */
    (void)kura_people_i_totp_check(s, "123456", 1700000000, &step);
    (void)kura_people_i_totp_check("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", s, 1700000000, &step);
    free(s);
    return 0;
}
