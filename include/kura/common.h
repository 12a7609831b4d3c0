/*
 * kura/common.h — status codes, error reports and networks shared by every
 * libkura module.
 *
 * Conventions that hold across the library (docs/conventions.md has more):
 *  - Every function that can fail returns an int status: KURA_OK (0) or a
 *    negative KURA_E* code. Results go through out-parameters, which are
 *    cleared on entry, so a failed call never leaves a partly filled output.
 *  - Argument order: context, outputs, in/out, inputs; a length comes right
 *    after its pointer.
 *  - Functions that read untrusted data take a `kura_error *err` last (may be
 *    NULL). On failure it receives the same code and a one-line message that a
 *    person can read ("bech32: mixed case"); on success it is left untouched.
 *  - KURA_EINVAL means the caller misused the API (NULL pointer, buffer too
 *    small, index out of range); KURA_EDATA means the data itself is bad.
 *    Callers treat the first as a bug and the second as input to refuse.
 *  - The library allocates only where a type has _new/_free twins; _free(NULL)
 *    is a no-op. Everything else writes into caller-owned memory.
 *  - Secrets are wiped with sodium_memzero before every return.
 */
#ifndef KURA_COMMON_H
#define KURA_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes. */
#define KURA_OK 0
#define KURA_EINVAL (-1)  /* misuse: bad argument, buffer too small */
#define KURA_ENOMEM (-2)  /* an allocation failed */
#define KURA_EDATA (-3)   /* the input is malformed or fails a check */
#define KURA_ERANGE (-4)  /* the input is well formed but exceeds a hard limit */
#define KURA_ECRYPTO (-5) /* a cryptographic operation failed (invalid key, tweak out of range) */
#define KURA_ENOTFOUND (-6) /* a looked-up item is absent */

/* The longest message an error report holds, terminating NUL included. */
#define KURA_ERROR_MESSAGE_MAX 256

/* A failure a person can read. `code` is one of the KURA_E* codes above (or,
 * for the signer's check, a refusal reason); `message` is NUL-terminated. */
typedef struct kura_error {
    int code;
    char message[KURA_ERROR_MESSAGE_MAX];
} kura_error;

/* Returns a constant, stable name for a status code ("KURA_EDATA"), or
 * "KURA_E?" for a code the library does not define. */
const char *kura_status_name(int code);

/* The Bitcoin networks kura knows. Testnet3, testnet4 and signet share address
 * and key encodings, so they are one value here; a transfer intent names the
 * exact chain separately. */
typedef enum kura_network {
    KURA_NETWORK_MAINNET = 0,
    KURA_NETWORK_TESTNET = 1, /* testnet3, testnet4 and signet */
    KURA_NETWORK_REGTEST = 2
} kura_network;

/* Returns "bitcoin", "testnet" or "regtest", or NULL for a value outside the enum. */
const char *kura_network_name(kura_network network);

#ifdef __cplusplus
}
#endif

#endif /* KURA_COMMON_H */
