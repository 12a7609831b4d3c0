/* tests/unit/testutil.h — helpers every cmocka test binary shares: loading the
 * vector files in tests/vectors/, turning hex into bytes, files and commands,
 * and OpenSSH keys and signatures made with the real ssh-keygen. Helpers that
 * call libkura are in testutil_<module>.h (linked into the tests whose module
 * may call that module). */
#ifndef KURA_TESTUTIL_H
#define KURA_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>

/* Loads tests/vectors/<name> as JSON; fails the test if it cannot. Free with json_decref. */
json_t *tu_load_json(const char *name);

/* Reads tests/<relpath> whole into a NUL-terminated malloc'd buffer; fails the test if it cannot. */
char *tu_read_file(const char *relpath, size_t *len_out);

/* Reads the file at `path` whole into a NUL-terminated malloc'd buffer; fails the test if it
 * cannot. len_out may be NULL. */
char *tu_slurp(const char *path, size_t *len_out);

/* Writes data[0..len) to the file at `path`, replacing it; fails the test if it cannot. */
void tu_spit(const char *path, const void *data, size_t len);

/* Creates the file at `path` afresh (unlinked first, then O_EXCL) with data[0..len) and
 * permissions exactly `mode`; fails the test if it cannot. */
void tu_write_new_file(const char *path, const void *data, size_t len, unsigned mode);

/* Runs cmd with system(3); fails the test unless it exits 0. */
void tu_run(const char *cmd);

/* Removes the entries of directory `dir` (one level; each made 0700 first, so read-only ones
 * go too) and then `dir` itself. Never fails the test: for teardowns. */
void tu_remove_dir(const char *dir);

/* Returns a malloc'd copy of text with the one occurrence of `from` replaced by `to`; fails
 * the test if `from` is absent or appears twice. */
char *tu_edit(const char *text, const char *from, const char *to);

/* Returns a malloc'd copy of s with A-Z lowered. */
char *tu_lower_copy(const char *s);

/* ssh-keygen: makes the key dir/name (and dir/name.pub) of `type` ("ed25519",
 * "ecdsa -b 256", ...), no passphrase, comment "test"; fails the test if it cannot. */
void tu_ssh_keygen(const char *dir, const char *name, const char *type);

/* ssh-keygen -Y sign: signs message[0..message_len) with key dir/name in namespace ns and
 * returns the armoured signature (malloc'd, NUL-terminated, its length in *sig_len). The
 * message and signature go through fresh files msg<n>, sig<n> in dir. */
char *tu_ssh_sign(const char *dir, const char *name, const char *ns, const void *message,
                  size_t message_len, size_t *sig_len);

/* Decodes hex (even length, either case) into a malloc'd buffer; fails the test on bad hex.
 * An empty string gives a 1-byte allocation and *len_out 0. */
uint8_t *tu_unhex(const char *hex, size_t *len_out);

/* Decodes hex into a fixed buffer of exactly `len` bytes; fails the test otherwise. */
void tu_unhex_fixed(const char *hex, uint8_t *out, size_t len);

/* Returns a static buffer (per call site reuse is fine) with the lower-case hex of data. */
char *tu_hex(const uint8_t *data, size_t len);

/* The string member `key` of obj; fails the test when absent or not a string. */
const char *tu_str(const json_t *obj, const char *key);

/* Asserts that two byte strings are equal, printing both in hex when not. */
#define tu_assert_bytes_equal(a, alen, b, blen) \
    tu_assert_bytes_equal_impl((a), (alen), (b), (blen), __FILE__, __LINE__)
void tu_assert_bytes_equal_impl(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                                const char *file, int line);

#endif
