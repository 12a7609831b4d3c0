/*
 * kura/script.h — output scripts and addresses for mainnet, testnet/signet and
 * regtest: P2PKH, P2SH, P2WPKH, P2WSH, P2TR (and other witness versions,
 * which parse but which kura never pays to unless asked), plus the script
 * templates kura's wallets use (multisig, sortedmulti, multi_a).
 */
#ifndef KURA_SCRIPT_H
#define KURA_SCRIPT_H

#include <stddef.h>
#include <stdint.h>

#include "kura/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KURA_ADDRESS_MAX 91      /* longest address (90 chars for bech32) plus NUL */
#define KURA_SCRIPT_PUBKEY_MAX 42 /* longest standard scriptPubKey (v1+ witness, 40-byte program) */

typedef enum kura_script_type {
    KURA_SCRIPT_NONSTANDARD = 0,
    KURA_SCRIPT_P2PKH,     /* OP_DUP OP_HASH160 <20> OP_EQUALVERIFY OP_CHECKSIG */
    KURA_SCRIPT_P2SH,      /* OP_HASH160 <20> OP_EQUAL */
    KURA_SCRIPT_P2WPKH,    /* OP_0 <20> */
    KURA_SCRIPT_P2WSH,     /* OP_0 <32> */
    KURA_SCRIPT_P2TR,      /* OP_1 <32> */
    KURA_SCRIPT_WITNESS_UNKNOWN, /* any other valid witness program (BIP141) */
    KURA_SCRIPT_MULTISIG,  /* bare OP_m <keys> OP_n OP_CHECKMULTISIG */
    KURA_SCRIPT_OP_RETURN
} kura_script_type;

/* Returns a constant name for a type ("P2WPKH", "bare multisig"), or NULL for
 * a value outside the enum. */
const char *kura_script_type_name(kura_script_type type);

/* Classifies a scriptPubKey by exact template match; anything else is
 * KURA_SCRIPT_NONSTANDARD. Cannot fail.
 *   script, len: the script (script may be NULL when len is 0).
 *   program: may be NULL; for P2PKH/P2SH receives a pointer into script at the
 *     20-byte hash, for witness types at the witness program; NULL otherwise.
 *   program_len: may be NULL; receives the hash/program length, 0 otherwise.
 *   witness_version: may be NULL; receives the witness version (0..16) for
 *     the witness types, 0 otherwise.
 * Witness programs follow BIP141: OP_0..OP_16 then one direct push of 2..40
 * bytes; a v0 program that is not 20 or 32 bytes is NONSTANDARD (unspendable).
 * MULTISIG is OP_m, 1..20 direct pushes of 33-byte (02/03) or 65-byte
 * (04/06/07) keys, OP_n, OP_CHECKMULTISIG, with 1 <= m <= n; m and n above 16
 * as 1-byte pushes, as Bitcoin Core writes them. OP_RETURN is OP_RETURN
 * followed only by well-formed pushes. */
kura_script_type kura_script_classify(const uint8_t *script, size_t len, const uint8_t **program,
                                      size_t *program_len, unsigned *witness_version);

/* scriptPubKey for an address on `network`: Base58Check P2PKH/P2SH (versions
 * 0x00/0x05 on mainnet, 0x6f/0xc4 on testnet and regtest, which share them)
 * or a segwit address with hrp "bc", "tb" or "bcrt" (any witness version, as
 * BIP350 allows). Refuses an address of another network, naming the network
 * it belongs to ("address: testnet address on bitcoin mainnet"), an unknown
 * hrp or version byte, bad checksums, and anything BIP173/BIP350 refuse.
 *   script_out, out_len: receives the script; out_len must be at least
 *     KURA_SCRIPT_PUBKEY_MAX whatever the address.
 *   written: receives the script's length.
 *   address: NUL-terminated, untrusted; upper case is accepted for bech32
 *     (BIP173), never mixed case.
 *   network: the network the caller pays on.
 *   err: may be NULL; receives the reason on failure.
 * Returns KURA_OK, KURA_EDATA (the address is refused), or KURA_EINVAL (NULL
 * argument, out_len under KURA_SCRIPT_PUBKEY_MAX, network outside the enum).
 * On failure script_out is zeroed and *written is 0. */
int kura_address_to_script(uint8_t *script_out, size_t out_len, size_t *written,
                           const char *address, kura_network network, kura_error *err);

/* Address for a scriptPubKey on `network`: Base58Check for P2PKH/P2SH, the
 * lower-case bech32 (v0) or bech32m (v1+) address for witness outputs.
 *   out, out_len: receives the NUL-terminated address; out_len must be at
 *     least KURA_ADDRESS_MAX.
 *   script, len: the scriptPubKey (script may be NULL when len is 0).
 *   network: chooses version bytes / hrp.
 *   err: may be NULL; receives the reason on failure.
 * Returns KURA_OK, KURA_EDATA for a script with no address form (non-standard,
 * bare multisig, OP_RETURN), or KURA_EINVAL (NULL argument, out too small,
 * network outside the enum). On failure out holds "" (when out_len > 0). */
int kura_address_from_script(char *out, size_t out_len, const uint8_t *script, size_t len,
                             kura_network network, kura_error *err);

/* Template builders. Each writes a scriptPubKey (or redeem/witness script)
 * into out[0..out_len) and its length into *written. Returns KURA_OK, or
 * KURA_EINVAL for a NULL argument, out too small, or invalid parameters; on
 * failure *written is 0 (when written is not NULL) and out is untouched.
 * The key and hash inputs are fixed-size arrays the caller owns; keys are not
 * checked to be on the curve (that needs a context: see kura/keys.h). */
int kura_script_p2pkh(uint8_t *out, size_t out_len, size_t *written, const uint8_t hash160[20]);
int kura_script_p2sh(uint8_t *out, size_t out_len, size_t *written, const uint8_t hash160[20]);
int kura_script_p2wpkh(uint8_t *out, size_t out_len, size_t *written, const uint8_t hash160[20]);
int kura_script_p2wsh(uint8_t *out, size_t out_len, size_t *written, const uint8_t sha256[32]);
int kura_script_p2tr(uint8_t *out, size_t out_len, size_t *written, const uint8_t xonly[32]);

/* P2SH for a redeem script (HASH160 of it, BIP16) / P2WSH for a witness
 * script (SHA256 of it, BIP141): hashes it and builds the scriptPubKey. The
 * script may be NULL when its length is 0. Returns as the builders above,
 * or KURA_ECRYPTO if libcrypto's RIPEMD-160 fails (p2sh_of only). */
int kura_script_p2sh_of(uint8_t *out, size_t out_len, size_t *written, const uint8_t *redeem,
                        size_t redeem_len);
int kura_script_p2wsh_of(uint8_t *out, size_t out_len, size_t *written, const uint8_t *witness_script,
                         size_t witness_script_len);

/* OP_m <pub1> ... <pubn> OP_n OP_CHECKMULTISIG for 33-byte compressed keys
 * (first byte 02 or 03), 1 <= m <= n <= 20 (n <= 15 for P2SH by script size
 * is the caller's concern); m and n above 16 are written as 1-byte pushes.
 * sorted != 0 sorts the keys lexicographically first (BIP67); the caller's
 * array is not reordered. pubkeys is n*33 bytes. Duplicate keys are not
 * refused here. out needs 3 + 34*n bytes, plus 1 for each of m and n above 16.
 * Returns as the builders above. */
int kura_script_multisig(uint8_t *out, size_t out_len, size_t *written, unsigned m,
                         const uint8_t *pubkeys, size_t n, int sorted);

/* Tapscript <x1> OP_CHECKSIG <x2> OP_CHECKSIGADD ... <xn> OP_CHECKSIGADD <m> OP_NUMEQUAL
 * for 32-byte x-only keys, 1 <= m <= n <= 999 (BIP387 multi_a); sorted != 0
 * sorts first (sortedmulti_a; the caller's array is not reordered). m is
 * OP_1..OP_16 or a minimal script-number push. out needs 34*n + 4 bytes at
 * most. Returns as the builders above, or KURA_ENOMEM. */
int kura_script_multi_a(uint8_t *out, size_t out_len, size_t *written, unsigned m,
                        const uint8_t *xonly_keys, size_t n, int sorted);

/* Writes a minimal push (BIP62 / Bitcoin Core MINIMALDATA) of data[0..len) at
 * out: OP_0 for empty data, OP_1..OP_16 for a single byte 1..16, OP_1NEGATE
 * for the single byte 0x81, else a direct push (up to 75 bytes) or
 * PUSHDATA1/2/4. data may be NULL when len is 0. Returns the bytes written,
 * or 0 if out is NULL, out_len is too small or len exceeds 2^32-1 (nothing is
 * written then). */
size_t kura_script_push(uint8_t *out, size_t out_len, const uint8_t *data, size_t len);

/* Reads the opcode at script[*pos] and advances *pos past it (and its data).
 * For a push opcode (OP_0, a direct push 0x01..0x4b, OP_PUSHDATA1/2/4)
 * *data points at the pushed bytes inside script (OP_0: a zero-length push)
 * and *data_len is their length; for any other opcode *data is NULL and
 * *data_len 0. Returns 1 when an opcode was read, 0 at the end of the script
 * or for a push that runs past it (a malformed script); *pos is then
 * unspecified. Pushes are not required to be minimal: callers that care
 * check the opcode. */
int kura_script_next_op(const uint8_t *script, size_t len, size_t *pos, uint8_t *op,
                        const uint8_t **data, size_t *data_len);

/* BIP341 tapleaf hash (leaf_version 0xc0 for tapscript):
 * tagged "TapLeaf"(leaf_version || compact_size(len) || script). script may be
 * NULL when len is 0. Cannot fail. */
void kura_tapleaf_hash(uint8_t out[32], uint8_t leaf_version, const uint8_t *script, size_t len);
/* BIP341 tapbranch hash of two child hashes: tagged "TapBranch"(min || max),
 * the two sorted lexicographically first, so the order of a and b does not
 * matter. out may be the same array as a or b. Cannot fail. */
void kura_tapbranch_hash(uint8_t out[32], const uint8_t a[32], const uint8_t b[32]);

/* The bech32 hrp for a network: "bc", "tb" (testnet and signet) or "bcrt";
 * NULL for a value outside the enum. The string is constant. */
const char *kura_network_hrp(kura_network network);

#ifdef __cplusplus
}
#endif

#endif /* KURA_SCRIPT_H */
