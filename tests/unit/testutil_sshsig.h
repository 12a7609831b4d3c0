/* tests/unit/testutil_sshsig.h — shared helpers that call kura_sshsig. Linked
 * into the tests of every module that may call kura_sshsig. */
#ifndef KURA_TESTUTIL_SSHSIG_H
#define KURA_TESTUTIL_SSHSIG_H

#include "kura/sshsig.h"
#include "testutil.h"

/* The canonical "TYPE BASE64" (kura_sshkey_format) of the key in dir/name.pub,
 * as tu_ssh_keygen made it; fails the test if it does not parse. */
void tu_ssh_pubkey(char out[KURA_SSHKEY_STRING_MAX], const char *dir, const char *name);

#endif
