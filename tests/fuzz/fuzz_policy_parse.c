/* Fuzz the policy parser. Any bytes: parsing either fails cleanly (a code, a
 * message, no policy) or gives a policy that writes back to the very same
 * bytes, and whose tiers answer for any amount. */
#include <stdlib.h>
#include <string.h>

#include "kura/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kura_policy *p = NULL;
    kura_error err;
    char *out = NULL;
    size_t len = 0;
    unsigned approvals = 0;
    int rc;
    memset(&err, 0, sizeof(err));
    rc = kura_policy_parse(&p, data, size, &err);
    if (rc != KURA_OK) {
        if (p != NULL || err.code != rc || err.message[0] == '\0') abort();
        return 0;
    }
    if (kura_policy_write(&out, &len, p, &err) != KURA_OK) abort();
    if (len != size || memcmp(out, data, size) != 0) abort();
    free(out);
    if (kura_policy_tier_required(&approvals, p, UINT64_MAX) != KURA_OK || approvals == 0 ||
        approvals > p->approver_count)
        abort();
    if (p->admin_quorum == 0 || p->admin_quorum > p->admin_count) abort();
    kura_policy_free(p);
    return 0;
}
