/*
 * programs/kura-approve/sshkeygen.h — signing with the approver's own
 * OpenSSH: `ssh-keygen -Y sign`, run without a shell.
 */
#ifndef KURA_APPROVE_SSHKEYGEN_H
#define KURA_APPROVE_SSHKEYGEN_H

#include <stddef.h>
#include <stdint.h>

/* Signs message[0..message_len) in namespace `ns` by running
 *     ssh-keygen -Y sign -f KEYFILE -n NS FILE
 * (the first ssh-keygen on PATH) over a private copy of the message in a new
 * temporary directory, and reads back FILE.sig. KEYFILE may be a private key
 * (ssh-keygen asks for its passphrase on the terminal), a security-key handle
 * (it asks for a touch), or a .pub file whose key an ssh-agent holds.
 * ssh-keygen's own messages go to stderr; standard input stays the user's.
 *   sig_out: receives the armoured signature as ssh-keygen wrote it (malloc'd,
 *     NUL-terminated; the caller frees); NULL on failure.
 *   why: on failure, a line saying what went wrong.
 * Returns 0 on success, -1 on failure. The signature is NOT verified here. */
int approve_sshkeygen_sign(char **sig_out, size_t *sig_len, char *why, size_t why_len,
                           const char *keyfile, const char *ns, const uint8_t *message,
                           size_t message_len);

/* Reads at most `max` bytes of the file at `path` into a new NUL-terminated
 * buffer (*out, malloc'd; *len without the NUL). A file longer than `max` is
 * read as its first max + 1 bytes, so a caller's parser sees it is too long.
 * Returns 0, or -1 with errno set. */
int approve_read_file(char **out, size_t *len, const char *path, size_t max);

#endif /* KURA_APPROVE_SSHKEYGEN_H */
