/*
 * src/keystore/keystore_internal.h — what keystore.c and file.c share; not API.
 */
#ifndef KURA_KEYSTORE_INTERNAL_H
#define KURA_KEYSTORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "kura/keystore.h"

/* Reads the keystore file at `path` into out[0..out_cap) after checking that
 * it is a regular file no one but its owner may access. Reads at most
 * out_cap bytes, so an over-long file shows up as *len == out_cap (and the
 * parser then refuses it). Returns KURA_OK, KURA_KEYSTORE_EPERM,
 * KURA_ENOTFOUND (no such file), KURA_KEYSTORE_EIO. */
int kura_keystore_read_file(uint8_t *out, size_t out_cap, size_t *len, const char *path,
                            kura_error *err);

/* Writes data[0..len) to `path` atomically: a temporary file beside it
 * (O_CREAT|O_EXCL, 0600), write, fsync, then into place and fsync of the
 * directory. With replace 0 an existing file at `path` is never replaced
 * (KURA_KEYSTORE_EEXIST); with replace 1 it is, atomically. Returns KURA_OK,
 * KURA_KEYSTORE_EEXIST, KURA_KEYSTORE_EIO or KURA_ENOMEM; on failure the
 * temporary file is removed. */
int kura_keystore_write_file(const char *path, const uint8_t *data, size_t len, int replace,
                             kura_error *err);

#endif /* KURA_KEYSTORE_INTERNAL_H */
