/*
 * src/sshsig/sshsig_internal.h — what the two halves of the sshsig module
 * (sshkey.c: keys; sshsig.c: signatures) share. Not API.
 */
#ifndef KURA_SSHSIG_INTERNAL_H
#define KURA_SSHSIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "internal.h"
#include "kura/sshsig.h"

/* The longest key blob a valid kura_sshkey encodes to: the sk-ecdsa type
 * (4+34), curve (4+8), point (4+65) and a maximal application (4+128). */
#define KURA_SSHKEY_BLOB_MAX 251

/* Reads an SSH uint32 (big-endian, RFC 4251 §5). */
bool kura_sshwire_read_u32(kura_reader *r, uint32_t *out);
/* Reads an SSH string (uint32 length, then the bytes) without copying: *p
 * points into the reader's data. */
bool kura_sshwire_read_string(kura_reader *r, const uint8_t **p, size_t *len);
/* True if [p, p+len) equals the NUL-terminated name. */
bool kura_sshwire_eq(const uint8_t *p, size_t len, const char *name);

/* Copies up to 64 bytes of untrusted text into out (size >= 68) for an error
 * message, replacing anything but printable ASCII by '?' and marking a cut
 * with "...". */
void kura_sshwire_printable(char *out, size_t out_size, const uint8_t *p, size_t len);

/* Maps an OpenSSH key or signature algorithm name to its type; returns
 * KURA_SSHKEY_NONE for a name kura does not accept. */
kura_sshkey_type kura_sshkey_type_from_name(const uint8_t *name, size_t len);

/* Parses a public key blob (RFC 4253 §6.6 / PROTOCOL.u2f) into *out, which is
 * cleared first and holds a valid key only on KURA_OK. `where` prefixes the
 * error message ("public key", "signature key"). */
int kura_sshkey_parse_blob(kura_sshkey *out, const uint8_t *blob, size_t blob_len,
                           const char *where, kura_error *err);

/* True if key is a well-formed value (as kura_sshkey_parse produces): a known
 * type, the right key length, an application only on the sk types. It does
 * not re-check the curve point. */
bool kura_sshkey_value_ok(const kura_sshkey *key);

/* Writes the key blob of a valid key value into out; returns its length, or
 * 0 if key is not a valid value. */
size_t kura_sshkey_write_blob(uint8_t out[KURA_SSHKEY_BLOB_MAX], const kura_sshkey *key);

/* Makes an OpenSSL key of point (65 bytes, 0x04 || X || Y) after checking it
 * is a valid P-256 public key (on the curve, not infinity, of order n).
 * Returns KURA_OK with *out owned by the caller (EVP_PKEY_free), KURA_EDATA
 * (not a valid point) or KURA_ECRYPTO (OpenSSL failed); *out is NULL then. */
int kura_sshkey_p256_pkey(EVP_PKEY **out, const uint8_t point[65]);

#endif /* KURA_SSHSIG_INTERNAL_H */
