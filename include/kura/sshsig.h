/*
 * kura/sshsig.h — OpenSSH public keys and SSHSIG signatures, the format of
 * kura's approvals (namespace "kura-intent-v1") and policy signatures
 * (namespace "kura-policy-v1"): what `ssh-keygen -Y sign -n NAMESPACE FILE`
 * writes to FILE.sig.
 *
 * Specifications: OpenSSH PROTOCOL.sshsig (the SSHSIG blob and its armour),
 * PROTOCOL.u2f (security-key keys and signatures), RFC 4251 §5 (string and
 * mpint), RFC 4253 §6.6 (key and signature blobs), RFC 5656 §3 (ECDSA),
 * RFC 8709 (Ed25519).
 *
 * Four key types are accepted, and no others:
 *   ssh-ed25519                            Ed25519 (libsodium)
 *   ecdsa-sha2-nistp256                    ECDSA P-256 / SHA-256 (OpenSSL)
 *   sk-ssh-ed25519@openssh.com             Ed25519 on a FIDO security key
 *   sk-ecdsa-sha2-nistp256@openssh.com     ECDSA P-256 on a FIDO security key
 * RSA, DSA, other curves, certificates and the webauthn signature variant are
 * refused with KURA_SSHSIG_EUNSUPPORTED.
 *
 * Both types here are fixed-size values: nothing is allocated, nothing needs
 * freeing, and they may be copied with `=`.
 *
 * Status codes: every function returns KURA_OK or a negative code. Besides
 * the KURA_E* codes of kura/common.h, verification returns the KURA_SSHSIG_E*
 * codes below so that a caller can tell the refusal reasons apart without
 * reading messages. In every case the kura_error (if given) receives the same
 * code and a one-line message starting "sshsig: ".
 */
#ifndef KURA_SSHSIG_H
#define KURA_SSHSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kura/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes (the sshsig module owns -200..-299) ---- */

/* The signature was made for another namespace than the one asked for (for
 * instance a policy signature presented as an intent approval). */
#define KURA_SSHSIG_ENAMESPACE (-201)
/* A key type, signature algorithm or hash algorithm kura does not accept
 * (RSA, DSA, nistp384, webauthn signatures, "sha1", ...). */
#define KURA_SSHSIG_EUNSUPPORTED (-202)
/* The signature is well formed but does not verify. */
#define KURA_SSHSIG_EBADSIG (-203)
/* A security-key signature without the user-presence flag (nobody touched the
 * key), and the caller did not pass KURA_SSHSIG_ALLOW_NO_TOUCH. */
#define KURA_SSHSIG_ENOTOUCH (-204)
/* The signature is not by the key the caller expected, or its signature
 * algorithm does not belong to the key in the SSHSIG header. */
#define KURA_SSHSIG_EKEYMISMATCH (-205)
/* A security-key signature without the user-verified flag (no PIN or
 * biometric), and the caller passed KURA_SSHSIG_REQUIRE_VERIFIED. */
#define KURA_SSHSIG_ENOVERIFY (-206)

/* Returns a constant, stable name for any status code this module can return
 * ("KURA_SSHSIG_ENAMESPACE", "KURA_EDATA", ...); "KURA_E?" for unknown codes. */
const char *kura_sshsig_status_name(int code);

/* ---- public keys ---- */

typedef enum kura_sshkey_type {
    KURA_SSHKEY_NONE = 0,       /* only in a cleared value */
    KURA_SSHKEY_ED25519 = 1,    /* "ssh-ed25519" */
    KURA_SSHKEY_ECDSA_P256 = 2, /* "ecdsa-sha2-nistp256" */
    KURA_SSHKEY_SK_ED25519 = 3, /* "sk-ssh-ed25519@openssh.com" */
    KURA_SSHKEY_SK_ECDSA_P256 = 4 /* "sk-ecdsa-sha2-nistp256@openssh.com" */
} kura_sshkey_type;

/* The longest security-key application string kura accepts ("ssh:" is the
 * OpenSSH default; FIDO relying-party ids are short). */
#define KURA_SSHKEY_APPLICATION_MAX 128
/* Bytes of a formatted key ("TYPE BASE64", NUL included) at most. */
#define KURA_SSHKEY_STRING_MAX 400
/* Bytes of a formatted fingerprint ("SHA256:" + 43 base64 chars + NUL). */
#define KURA_SSHKEY_FINGERPRINT_SIZE 51

/* An OpenSSH public key. Parsed keys are always valid: the P-256 point is on
 * the curve and the Ed25519 point is canonical and of prime order. */
typedef struct kura_sshkey {
    kura_sshkey_type type;
    /* Ed25519 types: the 32-byte public key; P-256 types: the 65-byte
     * uncompressed point 0x04 || X || Y (the form OpenSSH writes). */
    uint8_t key[65];
    size_t key_len; /* 32 or 65 */
    /* Security-key types: the FIDO application (relying-party id), e.g.
     * "ssh:", NUL-terminated, no NUL inside; empty for the other types. */
    char application[KURA_SSHKEY_APPLICATION_MAX + 1];
    size_t application_len;
} kura_sshkey;

/* Returns the OpenSSH name of a key type ("ssh-ed25519", ...), or NULL for
 * KURA_SSHKEY_NONE and values outside the enum. */
const char *kura_sshkey_type_name(kura_sshkey_type type);

/* Parses an OpenSSH public key line, as in a .pub file or authorized_keys
 * without options: "TYPE BASE64" optionally followed by blanks and a comment,
 * optionally ending in one "\n". TYPE must equal the type inside the blob,
 * separators are spaces or tabs, the comment (ignored) may not hold control
 * characters other than tab, and the base64 must be canonical and padded.
 *
 * Returns KURA_OK; KURA_EINVAL if out is NULL or line is NULL with a nonzero
 * length; KURA_SSHSIG_EUNSUPPORTED for a key type kura does not accept;
 * KURA_ERANGE for an application longer than KURA_SSHKEY_APPLICATION_MAX or a
 * line longer than 8 KiB; KURA_EDATA for anything malformed or an invalid
 * point.
 * Out: *out, cleared on entry, holds the key only on success.
 * In:  line[0..line_len) (need not be NUL-terminated; the caller keeps it).
 *      err may be NULL. */
int kura_sshkey_parse(kura_sshkey *out, const char *line, size_t line_len, kura_error *err);

/* Writes the key canonically, "TYPE BASE64" with no comment and no newline,
 * NUL-terminated. Parsing the result gives back an equal key.
 * Returns KURA_OK, or KURA_EINVAL if an argument is NULL, out_size is too
 * small (KURA_SSHKEY_STRING_MAX always suffices) or key is not a valid key
 * value; then out (if out_size > 0) holds "". *written (may be NULL) gets
 * the length without the NUL, 0 on failure. */
int kura_sshkey_format(char *out, size_t out_size, size_t *written, const kura_sshkey *key);

/* Writes the SHA-256 fingerprint as `ssh-keygen -l` prints it:
 * "SHA256:" followed by the unpadded base64 of SHA256(key blob), NUL-terminated.
 * Returns KURA_OK, or KURA_EINVAL for NULL arguments or an invalid key value
 * (out then holds ""). */
int kura_sshkey_fingerprint(char out[KURA_SSHKEY_FINGERPRINT_SIZE], const kura_sshkey *key);

/* Returns true when a and b are the same key: same type, same key bytes and,
 * for security keys, the same application. NULL equals nothing. */
bool kura_sshkey_equal(const kura_sshkey *a, const kura_sshkey *b);

/* Returns true when a and b are the same public key on the same curve —
 * the same Ed25519 point, or the same P-256 point — whatever their type's
 * plain or security-key form and whatever the application: one private key
 * can sign as "ssh-ed25519" and as "sk-ssh-ed25519@openssh.com" under any
 * application (a security-key signature needs nothing a plain key holder
 * lacks), so these keys belong to one holder. Count people with this, never
 * with kura_sshkey_equal or fingerprints. NULL or invalid keys equal
 * nothing. */
bool kura_sshkey_same_point(const kura_sshkey *a, const kura_sshkey *b);

/* ---- signatures ---- */

typedef enum kura_sshsig_hash {
    KURA_SSHSIG_HASH_NONE = 0,
    KURA_SSHSIG_HASH_SHA256 = 1, /* "sha256" */
    KURA_SSHSIG_HASH_SHA512 = 2  /* "sha512", ssh-keygen's default */
} kura_sshsig_hash;

/* The longest namespace kura parses. */
#define KURA_SSHSIG_NAMESPACE_MAX 255
/* The longest armoured signature kura reads (ssh-keygen's are < 1 KiB). */
#define KURA_SSHSIG_ARMOR_MAX 8192

/* FIDO authenticator flags in a security-key signature (PROTOCOL.u2f). */
#define KURA_SSHSIG_FLAG_USER_PRESENT 0x01
#define KURA_SSHSIG_FLAG_USER_VERIFIED 0x04

/* A parsed SSHSIG signature (PROTOCOL.sshsig). Parsing checks the structure
 * only; kura_sshsig_verify checks the rest. */
typedef struct kura_sshsig {
    kura_sshkey key;          /* the public key in the header */
    char ns[KURA_SSHSIG_NAMESPACE_MAX + 1]; /* namespace, NUL-terminated */
    size_t ns_len;
    kura_sshsig_hash hash;    /* how the message was hashed */
    kura_sshkey_type sig_type; /* the algorithm named in the signature blob */
    /* Ed25519 types: R || S; P-256 types: r || s, each 32 bytes big-endian. */
    uint8_t sig[64];
    /* Security-key types only (0 otherwise): the authenticator flags
     * (KURA_SSHSIG_FLAG_*) and its signature counter. */
    uint8_t flags;
    uint32_t counter;
} kura_sshsig;

/* Parses an armoured signature:
 *     -----BEGIN SSH SIGNATURE-----\n
 *     base64 lines of 1 to 76 characters, each ending "\n"\n
 *     -----END SSH SIGNATURE-----      (final "\n" optional)
 * Nothing may come before or after; no CR, no blank or space-padded lines.
 * The decoded blob must be exactly: "SSHSIG", version 1, a supported public
 * key, a namespace (no NUL), an empty reserved field, "sha256" or "sha512",
 * and a signature blob of a supported algorithm, with no trailing bytes at any
 * level and minimal mpints.
 *
 * Returns KURA_OK; KURA_EINVAL if out is NULL or text is NULL with a nonzero
 * length; KURA_ERANGE if text is over KURA_SSHSIG_ARMOR_MAX bytes or the
 * namespace or application is over its limit; KURA_SSHSIG_EUNSUPPORTED for an
 * unsupported key, signature or hash algorithm or an SSHSIG version other
 * than 1; KURA_EDATA for anything else malformed.
 * Out: *out, cleared on entry, holds the signature only on success.
 * In:  text[0..text_len) (need not be NUL-terminated); err may be NULL. */
int kura_sshsig_parse(kura_sshsig *out, const char *text, size_t text_len, kura_error *err);

/* Options for kura_sshsig_verify (bit flags; 0 is the strict default). */
/* Accept security-key signatures made without a touch (user-presence flag
 * clear), like OpenSSH's "no-touch-required". Off by default. */
#define KURA_SSHSIG_ALLOW_NO_TOUCH 0x01u
/* Require the user-verified flag (PIN or biometric) on security-key
 * signatures, like OpenSSH's "verify-required". Keys of the plain types then
 * fail with KURA_SSHSIG_ENOVERIFY too, since they cannot prove it. */
#define KURA_SSHSIG_REQUIRE_VERIFIED 0x02u

/* Verifies that sig signs message[0..message_len) under namespace `ns`, as
 * `ssh-keygen -Y verify` does, in this order:
 *   1. the signature's namespace equals ns exactly;
 *   2. expected_key, when not NULL, equals the key in the signature header;
 *   3. the signature algorithm belongs to the header key's type;
 *   4. the signature verifies over the SSHSIG signed data
 *      ("SSHSIG" || string ns || string "" || string hash || string H(message)):
 *      Ed25519 directly; ECDSA P-256 with SHA-256; the security-key types over
 *      SHA256(application) || flags || counter (uint32 BE) || SHA256(signed data)
 *      (Ed25519 directly, ECDSA with SHA-256), per PROTOCOL.u2f;
 *   5. for security keys, the user-presence flag is set unless options has
 *      KURA_SSHSIG_ALLOW_NO_TOUCH, and the user-verified flag is set if
 *      options has KURA_SSHSIG_REQUIRE_VERIFIED.
 *
 * Returns KURA_OK when all hold; KURA_SSHSIG_ENAMESPACE (1),
 * KURA_SSHSIG_EKEYMISMATCH (2, 3), KURA_SSHSIG_EBADSIG (4),
 * KURA_SSHSIG_ENOTOUCH / KURA_SSHSIG_ENOVERIFY (5), checked in that order;
 * KURA_EDATA for a sig value that kura_sshsig_parse would not have produced;
 * KURA_EINVAL for NULL sig, NULL or empty ns, ns over
 * KURA_SSHSIG_NAMESPACE_MAX, message NULL with a nonzero length, or unknown
 * option bits; KURA_ECRYPTO if libsodium or OpenSSL fails (out of memory).
 *
 * ECDSA signatures are malleable: (r, n - s) verifies as well as (r, s), as in
 * OpenSSH. Count approvals by signer key (*signer_key_out), never by the
 * signature's bytes. The security-key counter (sig->counter) is reported, not
 * checked: the SSHSIG format gives a verifier nothing to compare it with.
 * Out: *signer_key_out (may be NULL), cleared on entry, gets the signing key
 *      only on KURA_OK.
 * In:  sig: a signature from kura_sshsig_parse. message: the exact signed
 *      bytes (may be NULL when message_len is 0). ns: the expected namespace,
 *      NUL-terminated. expected_key: the key that must have signed, or NULL to
 *      accept any (the caller then must check *signer_key_out itself).
 *      options: KURA_SSHSIG_* option bits. err may be NULL. */
int kura_sshsig_verify(const kura_sshsig *sig, const uint8_t *message, size_t message_len,
                       const char *ns, const kura_sshkey *expected_key, uint32_t options,
                       kura_sshkey *signer_key_out, kura_error *err);

/* kura_sshsig_verify with the message's hash computed by the caller, for one
 * message checked against many signatures (an intent's approvals): SSHSIG
 * signs H(message) only, so the message itself is not needed.
 *   sha256: SHA-256(message) (32 bytes), or NULL;
 *   sha512: SHA-512(message) (64 bytes), or NULL;
 * the one sig->hash names must be given (else KURA_EINVAL), the other is
 * ignored. Everything else, the checks, their order and the return codes,
 * are kura_sshsig_verify's. */
int kura_sshsig_verify_hashed(const kura_sshsig *sig, const uint8_t *sha256,
                              const uint8_t *sha512, const char *ns,
                              const kura_sshkey *expected_key, uint32_t options,
                              kura_sshkey *signer_key_out, kura_error *err);

#ifdef __cplusplus
}
#endif

#endif /* KURA_SSHSIG_H */
