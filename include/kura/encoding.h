/*
 * kura/encoding.h — hex, Base58Check and bech32/bech32m (BIP173, BIP350).
 *
 * Decoders are strict: they refuse mixed case, bad characters, bad checksums,
 * wrong lengths and non-zero padding, and name the reason in `err`.
 */
#ifndef KURA_ENCODING_H
#define KURA_ENCODING_H

#include <stddef.h>
#include <stdint.h>

#include "kura/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes the lower-case hex of bytes[0..len) and a NUL into out, which must
 * hold 2*len+1 chars. Returns KURA_OK or KURA_EINVAL (out too small). */
int kura_hex_encode(char *out, size_t out_len, const uint8_t *bytes, size_t len);

/* Decodes the whole of hex (upper or lower case, even length, no separators)
 * into out. *written receives the byte count. Returns KURA_OK, KURA_EDATA on a
 * bad character or odd length, KURA_EINVAL if out is too small. On failure
 * *written is 0. */
int kura_hex_decode(uint8_t *out, size_t out_len, size_t *written, const char *hex,
                    kura_error *err);

/* Base58Check: payload || first 4 bytes of SHA256d(payload), in Base58.
 * Encode writes a NUL-terminated string into out. Returns KURA_OK or KURA_EINVAL
 * (out too small). 128 chars hold any payload up to 90 bytes. */
int kura_base58check_encode(char *out, size_t out_len, const uint8_t *payload, size_t len);

/* Decodes a Base58Check string into its payload (checksum removed). Returns
 * KURA_OK; KURA_EDATA for a bad character, bad checksum or a string too short
 * to hold one; KURA_EINVAL if out is too small. */
int kura_base58check_decode(uint8_t *out, size_t out_len, size_t *written, const char *str,
                            kura_error *err);

typedef enum kura_bech32_variant {
    KURA_BECH32 = 1,  /* BIP173 constant 1 */
    KURA_BECH32M = 2  /* BIP350 constant 0x2bc830a3 */
} kura_bech32_variant;

/* Encodes hrp and 5-bit values data[0..len) with the variant's checksum into a
 * NUL-terminated lower-case string. Returns KURA_OK, KURA_EINVAL for a bad hrp,
 * a value >= 32, a result over 90 chars, or out too small. */
int kura_bech32_encode(char *out, size_t out_len, const char *hrp, const uint8_t *data,
                       size_t len, kura_bech32_variant variant);

/* Decodes a bech32 or bech32m string (max 90 chars). hrp_out receives the
 * lower-cased hrp (hrp_out_len >= 84 always suffices), data_out the 5-bit
 * values without checksum, *variant which checksum matched. Returns KURA_OK or
 * KURA_EDATA (mixed case, bad char, no separator, bad checksum, too long). */
int kura_bech32_decode(char *hrp_out, size_t hrp_out_len, uint8_t *data_out,
                       size_t data_out_len, size_t *data_written, kura_bech32_variant *variant,
                       const char *str, kura_error *err);

/* Encodes a segwit address: hrp ("bc", "tb", "bcrt"), witness version 0..16
 * and program. Version 0 uses bech32, 1..16 bech32m (BIP350). Returns KURA_OK
 * or KURA_EINVAL (version/program length invalid under BIP141, out too small). */
int kura_segwit_address_encode(char *out, size_t out_len, const char *hrp, unsigned version,
                               const uint8_t *program, size_t program_len);

/* Decodes a segwit address whose hrp must equal `hrp`. Enforces BIP173/BIP350:
 * checksum variant must match the version, program 2..40 bytes (20 or 32 for
 * v0), padding zero and under 5 bits. Returns KURA_OK or KURA_EDATA. */
int kura_segwit_address_decode(unsigned *version, uint8_t *program, size_t program_len,
                               size_t *program_written, const char *hrp, const char *addr,
                               kura_error *err);

#ifdef __cplusplus
}
#endif

#endif /* KURA_ENCODING_H */
