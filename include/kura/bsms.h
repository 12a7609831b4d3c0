/*
 * kura/bsms.h — Bitcoin Secure Multisig Setup (BIP129, "BSMS 1.0"): setting
 * up a multisig wallet without trusting the coordinator that assembles it.
 *
 * (In this header "/ *" stands for a slash followed by a star, which a C
 * comment cannot spell: "KEY/ * *" is BIP129's template key, "/0/ *" a
 * path restriction.)
 *
 * Round 1: each signer writes a KEY RECORD — version, token, its key with
 * origin ("[fingerprint/path]xpub"), a description, and a signature by that
 * key over the first four lines (the legacy Bitcoin signed-message format,
 * which BIP129 accepts). Round 2: the coordinator assembles a DESCRIPTOR
 * RECORD from the records — version, descriptor template ("KEY/ * *" for each
 * key), the path restrictions, the wallet's first address — and every signer
 * checks it against every key record before it accepts the wallet: each
 * record's signature verifies, the template's keys are exactly the records'
 * keys (compared by key, never by fingerprint), and the first address is the
 * descriptor's. A coordinator that slips its own key in place of a
 * cosigner's cannot make that key's record verify.
 *
 * kura's wallets are wsh(sortedmulti(M, ...)) and tr(NUMS, sortedmulti_a(M,
 * ...)) over xpubs with the restrictions "/0/ *,/1/ *" (receive and change);
 * the verified wallet comes back as kura's multipath descriptor ("/<0;1>/ *").
 *
 * The optional encryption (BIP129 "Encryption": PBKDF2-HMAC-SHA512 key from
 * the TOKEN, AES-256-CTR, HMAC-SHA256 MAC whose first 16 bytes are the IV) is
 * kura_bsms_encrypt / kura_bsms_decrypt.
 *
 * Status codes: KURA_OK or a negative code of kura/common.h, plus
 * KURA_BSMS_EBADSIG below; messages start "bsms: ". Nothing here does I/O.
 */
#ifndef KURA_BSMS_H
#define KURA_BSMS_H

#include <stddef.h>
#include <stdint.h>

#include "kura/common.h"
#include "kura/descriptor.h"
#include "kura/keys.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes (the bsms module owns -600..-699) ---- */

/* A key record whose signature is not by its own key over its first four
 * lines (a tampered or substituted record). */
#define KURA_BSMS_EBADSIG (-601)

#define KURA_BSMS_VERSION "BSMS 1.0"
#define KURA_BSMS_RECORD_MAX 8192       /* longest record text, bytes */
#define KURA_BSMS_DESCRIPTION_MAX 80    /* key record line 4, characters */
#define KURA_BSMS_KEY_MAX 256           /* key record line 3, characters */
#define KURA_BSMS_TOKEN_MAX 16          /* EXTENDED mode: 128-bit token */
#define KURA_BSMS_SIGNERS_MAX 20        /* keys in one wallet */

/* A parsed, verified key record. A plain value (no memory owned). */
typedef struct kura_bsms_key_record {
    uint8_t token[KURA_BSMS_TOKEN_MAX]; /* the TOKEN: 1 byte 0x00 (no encryption), 8 or 16 */
    size_t token_len;
    char key[KURA_BSMS_KEY_MAX + 1];    /* line 3 as written: "[fp/path]xpub" */
    char description[KURA_BSMS_DESCRIPTION_MAX + 1];
    uint8_t fingerprint[4];             /* the key origin */
    uint32_t path[KURA_BIP32_PATH_MAX];
    size_t path_len;
    int is_xpub;                        /* 1: an extended public key, 0: a plain public key */
    kura_bip32_key xpub;                /* when is_xpub (public only) */
    uint8_t pubkey[33];                 /* the key that signed the record */
} kura_bsms_key_record;

/* Parses a key record (five lines, LF between them, an optional final LF)
 * and verifies its signature: line 5 is the base64 of a 65-byte compact
 * signature (header 31..34, or the segwit headers 35..42, all compressed)
 * of the legacy signed message "line 1 LF line 2 LF line 3 LF line 4" whose
 * recovered key is the record's own key (the xpub's key, or the plain key).
 * The key is "[8 hex fingerprint/path]" then an xpub/tpub or a 66-hex
 * compressed key; the description is 0..80 printable ASCII characters.
 * Returns KURA_OK; KURA_BSMS_EBADSIG for a signature that does not verify
 * by the record's key; KURA_EDATA for anything malformed (version, token,
 * key, description, signature encoding); KURA_ERANGE over
 * KURA_BSMS_RECORD_MAX; KURA_EINVAL for NULL arguments. *out is cleared on
 * entry and holds the record only on KURA_OK. */
int kura_bsms_key_record_parse(kura_bsms_key_record *out, const char *text, size_t len,
                               kura_error *err);

/* Writes a signer's key record: the xpub of `key` (the signer's extended
 * private key AT `path`, e.g. m/48'/0'/0'/2'), its origin (master
 * fingerprint and path), `description` (NULL or up to 80 printable ASCII
 * characters), the token (token_len 1 with 0x00 for no encryption, 8 or 16),
 * signed with key's private key. *out (malloc'd, NUL-terminated, free with
 * free()) and *out_len (without the NUL) get the text, which
 * kura_bsms_key_record_parse accepts. key is not kept; nothing secret is
 * left in memory this function owned.
 * Returns KURA_OK, KURA_EINVAL (NULL, key without a private part, bad token
 * length, description too long or not printable), KURA_ECRYPTO, KURA_ENOMEM;
 * *out NULL on failure. */
int kura_bsms_key_record_write(const kura_ctx *ctx, char **out, size_t *out_len,
                               const uint8_t *token, size_t token_len,
                               const kura_bip32_key *key, const uint8_t fingerprint[4],
                               const uint32_t *path, size_t path_len, const char *description,
                               kura_error *err);

/* The multisig kinds kura sets up with BSMS. */
typedef enum kura_bsms_kind {
    KURA_BSMS_WSH_SORTEDMULTI = 0,   /* wsh(sortedmulti(M, ...)) */
    KURA_BSMS_TR_SORTEDMULTI_A = 1   /* tr(NUMS, sortedmulti_a(M, ...)), BIP341 NUMS point */
} kura_bsms_kind;

/* The coordinator's round 2: a descriptor record from the signers' key
 * records, in their order: "BSMS 1.0", the template ("wsh(sortedmulti(M,
 * KEY1/ * *,KEY2/ * *,...))", keys as the records wrote them), "/0/ *,/1/ *", and
 * the first address (receive branch, index 0) on `network`. Every record
 * must hold an xpub, the keys must be distinct, 1 <= m <= n <= 20.
 * Returns KURA_OK; KURA_EDATA (a record without an xpub, a repeated key, m or
 * n out of range, keys of another network); KURA_EINVAL; KURA_ENOMEM.
 * *out (malloc'd, NUL-terminated) is NULL on failure. */
int kura_bsms_descriptor_record_write(const kura_ctx *ctx, char **out, size_t *out_len,
                                      const kura_bsms_key_record *records, size_t n, unsigned m,
                                      kura_bsms_kind kind, kura_network network,
                                      kura_error *err);

/* A signer's round 2 (and the coordinator's registration): checks the
 * descriptor record text[0..len) against the verified key records[0..n)
 * (from kura_bsms_key_record_parse) and returns the wallet:
 *  - the version line is "BSMS 1.0";
 *  - the template is one of the kinds above with "KEY/ * *" keys, and its keys
 *    are exactly the records' keys: as many, each record's key once, compared
 *    by fingerprint, path and the key itself (BIP129: never by fingerprint
 *    alone);
 *  - the restrictions are "/0/ *,/1/ *" (receive, change);
 *  - the first address is the wallet's receive address 0 on `network`.
 * Out: *wallet gets the descriptor with "/<0;1>/ *" (free with
 *   kura_descriptor_free); *m and *kind (either may be NULL) the threshold
 *   and kind. All cleared on entry, set only on KURA_OK.
 * Returns KURA_OK; KURA_EDATA naming what does not match (a key that is in
 * no record: "key 2 of the descriptor is not any signer's key record");
 * KURA_EINVAL; KURA_ENOMEM. */
int kura_bsms_descriptor_record_verify(const kura_ctx *ctx, kura_descriptor **wallet,
                                       unsigned *m, kura_bsms_kind *kind, const char *text,
                                       size_t len, const kura_bsms_key_record *records, size_t n,
                                       kura_network network, kura_error *err);

/* BIP129 encryption of a record with a TOKEN of 8 or 16 bytes: writes the
 * hex of MAC || ciphertext (NUL-terminated, malloc'd) into *out.
 * Returns KURA_OK, KURA_EINVAL (token length, NULL), KURA_ECRYPTO, KURA_ENOMEM. */
int kura_bsms_encrypt(char **out, size_t *out_len, const uint8_t *token, size_t token_len,
                      const uint8_t *plaintext, size_t len);

/* Decrypts the hex of MAC || ciphertext and checks the MAC. *out (malloc'd,
 * NUL-terminated) gets the plaintext. Returns KURA_OK; KURA_EDATA (bad hex,
 * too short, a MAC that does not match: a wrong token or a changed record);
 * KURA_EINVAL; KURA_ECRYPTO; KURA_ENOMEM. */
int kura_bsms_decrypt(char **out, size_t *out_len, const uint8_t *token, size_t token_len,
                      const char *hex, size_t hex_len, kura_error *err);

#ifdef __cplusplus
}
#endif

#endif /* KURA_BSMS_H */
