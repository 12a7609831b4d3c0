/* tests/unit/testutil_sshsig.h — shared helpers that call kura_sshsig. Linked
 * into the tests of every module that may call kura_sshsig. */
#ifndef KURA_TESTUTIL_SSHSIG_H
#define KURA_TESTUTIL_SSHSIG_H

#include "kura/sshsig.h"
#include "testutil.h"

/* The canonical "TYPE BASE64" (kura_sshkey_format) of the key in dir/name.pub,
 * as tu_ssh_keygen made it; fails the test if it does not parse. */
void tu_ssh_pubkey(char out[KURA_SSHKEY_STRING_MAX], const char *dir, const char *name);

/* A key pair made here (libsodium, OpenSSL), to sign SSHSIG in every form
 * of one key: plain or security-key type, any application. The security-key
 * signatures are built per PROTOCOL.u2f with the user-presence flag set, no
 * FIDO hardware needed; they are what an attacker holding the plain private
 * key can make. */
typedef struct tu_sshkey {
    int ecdsa;                    /* 0: Ed25519, 1: ECDSA P-256 */
    unsigned char ed_sk[64], ed_pk[32];
    void *ec;                     /* EVP_PKEY* for P-256 */
    unsigned char point[65];
} tu_sshkey;

void tu_sshkey_new(tu_sshkey *k, int ecdsa);
void tu_sshkey_free(tu_sshkey *k);
/* The canonical "TYPE BASE64" of k: the plain type when sk_app is NULL, the
 * security-key type with application sk_app otherwise. */
void tu_sshkey_line(char out[KURA_SSHKEY_STRING_MAX], const tu_sshkey *k, const char *sk_app);
/* An armoured SSHSIG by k (as tu_sshkey_line names it) over msg in namespace
 * ns, hash sha512. Returns a malloc'd NUL-terminated text, *len its length. */
char *tu_sshkey_sign(size_t *len, const tu_sshkey *k, const char *sk_app, const char *ns,
                     const void *msg, size_t msg_len);

#endif
