/*
 * kura/keystore.h — kura-cold's encrypted seed file (format in
 * docs/keystore-format.md).
 *
 * A keystore holds the BIP39 entropy of one wallet seed, encrypted under a
 * passphrase, and a few facts the signer needs without the passphrase: the
 * format version, the KDF parameters, the creation time, the network and the
 * BIP32 master fingerprint. It keeps the entropy rather than the 64-byte
 * seed so that the mnemonic words can be shown again on an explicit export
 * (kura_bip39_from_entropy); the seed is derived from it on open, with an
 * empty BIP39 passphrase.
 *
 * Cryptography (all from libsodium): the passphrase goes through Argon2id
 * v1.3 (crypto_pwhash, parameters and a random salt stored in the header) to
 * a 32-byte key for XChaCha20-Poly1305 (IETF), with a random nonce. The whole
 * header is the associated data, so changing any byte of the file — a KDF
 * parameter, the network, the fingerprint — makes decryption fail.
 *
 * Files: created atomically (temporary file in the same directory, created
 * with O_CREAT|O_EXCL and mode 0600, written, fsynced, linked into place
 * without ever replacing an existing file, directory fsynced). A keystore that
 * group or others may access (any of mode 077) is refused before a byte is
 * read.
 *
 * Status codes: KURA_OK, the KURA_E* codes of kura/common.h, and the
 * KURA_KEYSTORE_E* codes below. In every case the kura_error (if given)
 * receives the same code and a one-line message starting "keystore: ".
 * The passphrase and the entropy never appear in a message.
 *
 * Secrets: the decrypted entropy and seed live only in memory from
 * sodium_malloc (locked, guard pages) and are wiped on every path; the
 * derived key and the plaintext likewise. Passphrases passed in are the
 * caller's to wipe.
 */
#ifndef KURA_KEYSTORE_H
#define KURA_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "kura/common.h"
#include "kura/keys.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes (the keystore module owns -400..-499) ---- */

/* Decryption failed: the passphrase is wrong, or a byte of the file was
 * altered. Authenticated encryption cannot tell these apart, by design: a
 * forger learns nothing from which it was. */
#define KURA_KEYSTORE_EAUTH (-401)
/* The file is readable or writable by group or others (mode & 077), or is
 * not a regular file. Nothing was read from it. */
#define KURA_KEYSTORE_EPERM (-402)
/* An operating-system call failed (open, read, write, fsync, link, rename);
 * the message names the call and strerror. */
#define KURA_KEYSTORE_EIO (-403)
/* Creation refused: a file already exists at the path. It is left as it was. */
#define KURA_KEYSTORE_EEXIST (-404)
/* A corrupt file or one of an unknown format (bad magic, unknown version or
 * algorithm, wrong length, a header field out of range) is KURA_EDATA. */

/* Returns a constant, stable name for any code this module returns
 * ("KURA_KEYSTORE_EAUTH", "KURA_EDATA", ...), or "KURA_E?" for an unknown one. */
const char *kura_keystore_status_name(int code);

/* ---- sizes and limits ---- */

#define KURA_KEYSTORE_VERSION 1     /* the format version this code writes and reads */
#define KURA_KEYSTORE_HEADER_LEN 81 /* bytes of header (the associated data) */
#define KURA_KEYSTORE_FILE_LEN 130  /* every version-1 keystore is exactly this long */
#define KURA_KEYSTORE_ENTROPY_MAX 32

/* Argon2id parameters. The defaults are libsodium's MODERATE (3 passes,
 * 256 MiB: under a second on a laptop, costly to guess at scale). The
 * minimums are libsodium's own and exist for tests; programs should use the
 * defaults. The maximums bound what opening a file may cost, since the
 * parameters are read before they can be authenticated. */
#define KURA_KEYSTORE_OPSLIMIT_DEFAULT 3u
#define KURA_KEYSTORE_MEMLIMIT_DEFAULT 268435456u /* 256 MiB */
#define KURA_KEYSTORE_OPSLIMIT_MIN 1u
#define KURA_KEYSTORE_MEMLIMIT_MIN 8192u /* 8 KiB */
#define KURA_KEYSTORE_OPSLIMIT_MAX 64u
#define KURA_KEYSTORE_MEMLIMIT_MAX 4294967296u /* 4 GiB */

/* The creation time is seconds since 1970-01-01T00:00:00Z, 0 up to
 * 9999-12-31T23:59:59Z. */
#define KURA_KEYSTORE_TIME_MAX 253402300799LL

/* Argon2id cost. */
typedef struct kura_keystore_kdf {
    uint64_t opslimit; /* passes, KURA_KEYSTORE_OPSLIMIT_MIN..MAX */
    uint64_t memlimit; /* bytes, KURA_KEYSTORE_MEMLIMIT_MIN..MAX */
} kura_keystore_kdf;

/* What a keystore says about itself without the passphrase. None of it is
 * secret; none of it is trustworthy until kura_keystore_open has decrypted
 * the file (the header is authenticated only then). */
typedef struct kura_keystore_info {
    uint16_t version;       /* KURA_KEYSTORE_VERSION */
    kura_keystore_kdf kdf;  /* Argon2id cost the file was written with */
    int64_t created;        /* creation time, 0..KURA_KEYSTORE_TIME_MAX */
    kura_network network;   /* the network of the wallet */
    uint8_t fingerprint[4]; /* BIP32 master key fingerprint (HASH160 of its pubkey) */
} kura_keystore_info;

/* The decrypted secret. Allocated by the library with sodium_malloc (locked
 * memory between guard pages); free it with kura_keystore_secret_free as
 * soon as it is no longer needed. Do not copy it into ordinary memory. */
typedef struct kura_keystore_secret {
    uint8_t entropy[KURA_KEYSTORE_ENTROPY_MAX]; /* BIP39 entropy; bytes past entropy_len are 0 */
    size_t entropy_len;                         /* 16, 20, 24, 28 or 32 */
    uint8_t seed[64]; /* BIP39 seed of the entropy's mnemonic, empty BIP39 passphrase */
} kura_keystore_secret;

/* Fills *out with the default Argon2id cost. out may not be NULL. */
void kura_keystore_kdf_default(kura_keystore_kdf *out);

/* Creates a keystore at `path` holding entropy[0..entropy_len) (16, 20, 24,
 * 28 or 32 bytes), encrypted under passphrase[0..passphrase_len) (any bytes,
 * at least one) with Argon2id cost `kdf` (NULL: the defaults). `network` and
 * `created` are recorded in the header; the master fingerprint is computed
 * from the entropy. Needs ctx (to derive the master key).
 * The file appears at `path` complete or not at all, with mode 0600; an
 * existing file at `path` is never replaced.
 * Returns KURA_OK; KURA_KEYSTORE_EEXIST; KURA_KEYSTORE_EIO; KURA_ENOMEM;
 * KURA_ECRYPTO (libsodium failure, including too little memory for the KDF);
 * KURA_EINVAL for a NULL argument, a bad entropy length, an empty passphrase,
 * a KDF cost outside the limits, an unknown network or a time out of range. */
int kura_keystore_create(const kura_ctx *ctx, const char *path, const uint8_t *entropy,
                         size_t entropy_len, const uint8_t *passphrase, size_t passphrase_len,
                         const kura_keystore_kdf *kdf, kura_network network, int64_t created,
                         kura_error *err);

/* Opens the keystore at `path` with passphrase[0..passphrase_len): checks the
 * file's mode, reads and parses it, derives the key, decrypts, derives the
 * seed and checks the master fingerprint against the header. Needs ctx.
 *   out:  receives a new secret (free with kura_keystore_secret_free).
 *   info: may be NULL; receives the header's contents.
 * Returns KURA_OK; KURA_KEYSTORE_EPERM (mode too open, not a regular file);
 * KURA_ENOTFOUND (no file at path); KURA_KEYSTORE_EIO (the file cannot be
 * opened or read); KURA_EDATA (corrupt
 * or unknown format, including a fingerprint that does not match the
 * decrypted entropy); KURA_KEYSTORE_EAUTH (wrong passphrase or tampered
 * file); KURA_ENOMEM; KURA_ECRYPTO; KURA_EINVAL (NULL argument). On failure
 * *out is NULL and *info zeroed. */
int kura_keystore_open(const kura_ctx *ctx, kura_keystore_secret **out, kura_keystore_info *info,
                       const char *path, const uint8_t *passphrase, size_t passphrase_len,
                       kura_error *err);

/* Re-encrypts the keystore at `path` under a new passphrase (at least one
 * byte) with a fresh salt and nonce and Argon2id cost `kdf` (NULL: the
 * defaults). The metadata is kept. The old file is replaced atomically (a
 * crash leaves either the old file or the new one, whole). Needs ctx.
 * Returns what kura_keystore_open returns for the old passphrase, then
 * KURA_KEYSTORE_EIO, KURA_ENOMEM, KURA_ECRYPTO, or KURA_EINVAL (empty new
 * passphrase, KDF cost out of range). On failure the file is unchanged. */
int kura_keystore_change_passphrase(const kura_ctx *ctx, const char *path,
                                    const uint8_t *old_passphrase, size_t old_len,
                                    const uint8_t *new_passphrase, size_t new_len,
                                    const kura_keystore_kdf *kdf, kura_error *err);

/* Reads the header of the keystore at `path` without the passphrase. The
 * same checks as kura_keystore_open up to decryption (mode, length, format).
 * Returns KURA_OK, KURA_KEYSTORE_EPERM, KURA_ENOTFOUND, KURA_KEYSTORE_EIO,
 * KURA_EDATA or KURA_EINVAL; *out zeroed on failure. */
int kura_keystore_read_info(kura_keystore_info *out, const char *path, kura_error *err);

/* Parses the bytes of a keystore file data[0..len) (the whole file) without
 * decrypting: magic, version, algorithms, KDF cost within the limits, time,
 * network, and the exact length. Returns KURA_OK, KURA_EDATA (naming the
 * field) or KURA_EINVAL (NULL out, NULL data with len > 0); *out zeroed on
 * failure. */
int kura_keystore_parse(kura_keystore_info *out, const uint8_t *data, size_t len,
                        kura_error *err);

/* Decrypts the bytes of a keystore file data[0..len) already in memory, as
 * kura_keystore_open does after reading the file (no mode check). Returns
 * and clears outputs as kura_keystore_open, without the EPERM and EIO codes. */
int kura_keystore_decrypt(const kura_ctx *ctx, kura_keystore_secret **out,
                          kura_keystore_info *info, const uint8_t *data, size_t len,
                          const uint8_t *passphrase, size_t passphrase_len, kura_error *err);

/* Zeroes every byte of *secret (sodium_memzero) and leaves the memory
 * allocated; NULL is a no-op. kura_keystore_secret_free calls it. */
void kura_keystore_secret_wipe(kura_keystore_secret *secret);

/* Wipes and frees a secret from kura_keystore_open/_decrypt. NULL is a no-op. */
void kura_keystore_secret_free(kura_keystore_secret *secret);

#ifdef __cplusplus
}
#endif

#endif /* KURA_KEYSTORE_H */
