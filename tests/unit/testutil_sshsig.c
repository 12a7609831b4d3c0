#include "testutil_sshsig.h"

#include <stdio.h>
#include <stdlib.h>

void tu_ssh_pubkey(char out[KURA_SSHKEY_STRING_MAX], const char *dir, const char *name)
{
    char path[128];
    kura_sshkey key;
    kura_error err;
    size_t len;
    char *line;
    snprintf(path, sizeof(path), "%s/%s.pub", dir, name);
    line = tu_slurp(path, &len);
    if (kura_sshkey_parse(&key, line, len, &err) != KURA_OK) fail_msg("pub: %s", err.message);
    assert_int_equal(kura_sshkey_format(out, KURA_SSHKEY_STRING_MAX, NULL, &key), KURA_OK);
    free(line);
}
