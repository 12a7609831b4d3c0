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

/* Longest bech32 string BIP173 allows (and so the longest segwit address). */
#define KURA_BECH32_MAX 90

/* Encodes hrp and 5-bit values data[0..len) with the variant's checksum into a
 * NUL-terminated lower-case string (an upper-case hrp is lower-cased first, as
 * BIP173 requires encoders to output lower case).
 *   out, out_len: receives the string; KURA_BECH32_MAX + 1 always suffices.
 *   hrp: NUL-terminated, 1..83 characters each in 33..126.
 *   data, len: the 5-bit values (each < 32); data may be NULL when len is 0.
 *   variant: KURA_BECH32 or KURA_BECH32M.
 * Returns KURA_OK, or KURA_EINVAL for a bad hrp, a value >= 32, a bad variant,
 * a result over 90 chars, or out too small. On failure out holds "" (when
 * out_len > 0). */
int kura_bech32_encode(char *out, size_t out_len, const char *hrp, const uint8_t *data,
                       size_t len, kura_bech32_variant variant);

/* Decodes a bech32 or bech32m string (BIP173, BIP350), strictly: it refuses
 * an empty string, more than 90 chars, any char outside 33..126, mixed case,
 * no '1' separator, an empty hrp, under 6 checksum chars, a data char outside
 * the charset, and a checksum that is neither bech32 nor bech32m.
 *   hrp_out, hrp_out_len: receives the lower-cased hrp and a NUL
 *     (hrp_out_len >= 84 always suffices).
 *   data_out, data_out_len: receives the 5-bit values without the checksum
 *     (82 always suffices); may be NULL when data_out_len is 0.
 *   data_written: receives the number of values written.
 *   variant: receives which checksum matched.
 *   str: NUL-terminated input (untrusted; read up to its NUL or 91 chars).
 *   err: may be NULL; receives the reason on failure ("bech32: mixed upper and
 *     lower case").
 * Returns KURA_OK, KURA_EDATA for a malformed string, or KURA_EINVAL for a NULL
 * argument or buffers too small. On failure hrp_out and data_out are zeroed,
 * *data_written is 0 and *variant is 0 (neither variant). */
int kura_bech32_decode(char *hrp_out, size_t hrp_out_len, uint8_t *data_out,
                       size_t data_out_len, size_t *data_written, kura_bech32_variant *variant,
                       const char *str, kura_error *err);

/* Encodes a segwit address: hrp ("bc", "tb", "bcrt"), witness version 0..16
 * and program[0..program_len). Version 0 uses bech32, 1..16 bech32m (BIP350).
 * out receives the NUL-terminated lower-case address (KURA_BECH32_MAX + 1
 * always suffices). Returns KURA_OK or KURA_EINVAL (version/program length
 * invalid under BIP141: version > 16, program outside 2..40 bytes, a v0
 * program not 20 or 32 bytes; bad hrp; out too small). On failure out holds
 * "" (when out_len > 0). */
int kura_segwit_address_encode(char *out, size_t out_len, const char *hrp, unsigned version,
                               const uint8_t *program, size_t program_len);

/* Decodes a segwit address whose hrp must equal `hrp` (compared without
 * regard to case). Enforces everything kura_bech32_decode does, and BIP173/
 * BIP350: a non-empty data part, version <= 16, padding under 5 bits and zero,
 * program 2..40 bytes (20 or 32 for v0), bech32 for v0 and bech32m for v1..16.
 *   version: receives the witness version.
 *   program, program_len: receives the program (40 bytes always suffice).
 *   program_written: receives the program's length.
 *   hrp: the expected hrp, NUL-terminated.
 *   addr: NUL-terminated input (untrusted).
 *   err: may be NULL; receives the reason ("address: bech32m checksum on a v0
 *     program", "address: human-readable part "tb", expected "bc"").
 * Returns KURA_OK, KURA_EDATA for an invalid address or another hrp, or
 * KURA_EINVAL (NULL argument, program buffer too small). On failure *version
 * and *program_written are 0 and program is zeroed. */
int kura_segwit_address_decode(unsigned *version, uint8_t *program, size_t program_len,
                               size_t *program_written, const char *hrp, const char *addr,
                               kura_error *err);

/* As kura_segwit_address_decode, but accepts any hrp and reports it: hrp_out
 * receives the lower-cased hrp and a NUL (hrp_out_len >= 84 always suffices).
 * For callers that map the hrp to a network themselves (kura_address_to_script
 * does, so it can name the network a foreign address belongs to). Returns as
 * kura_segwit_address_decode; on failure hrp_out is zeroed as well. */
int kura_segwit_address_parse(char *hrp_out, size_t hrp_out_len, unsigned *version,
                              uint8_t *program, size_t program_len, size_t *program_written,
                              const char *addr, kura_error *err);

#ifdef __cplusplus
}
#endif

#endif /* KURA_ENCODING_H */
