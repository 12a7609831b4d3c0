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

/* Classifies a scriptPubKey. For the hash/witness types *program (may be NULL)
 * points into script at the hash or witness program and *program_len gets its
 * length; *witness_version (may be NULL) gets the version for witness types. */
kura_script_type kura_script_classify(const uint8_t *script, size_t len, const uint8_t **program,
                                      size_t *program_len, unsigned *witness_version);

/* scriptPubKey for an address on `network`. Refuses an address of another
 * network (naming it), bad checksums, and anything BIP173/BIP350 refuse.
 * script_out must hold KURA_SCRIPT_PUBKEY_MAX bytes. Returns KURA_OK or KURA_EDATA. */
int kura_address_to_script(uint8_t *script_out, size_t out_len, size_t *written,
                           const char *address, kura_network network, kura_error *err);

/* Address for a scriptPubKey on `network` into out (KURA_ADDRESS_MAX chars).
 * Returns KURA_OK, or KURA_EDATA for a script with no address form
 * (nonstandard, bare multisig, OP_RETURN). */
int kura_address_from_script(char *out, size_t out_len, const uint8_t *script, size_t len,
                             kura_network network, kura_error *err);

/* Template builders. Each writes a scriptPubKey (or redeem/witness script)
 * into out and its length into *written; returns KURA_OK, or KURA_EINVAL for
 * out too small or invalid parameters. */
int kura_script_p2pkh(uint8_t *out, size_t out_len, size_t *written, const uint8_t hash160[20]);
int kura_script_p2sh(uint8_t *out, size_t out_len, size_t *written, const uint8_t hash160[20]);
int kura_script_p2wpkh(uint8_t *out, size_t out_len, size_t *written, const uint8_t hash160[20]);
int kura_script_p2wsh(uint8_t *out, size_t out_len, size_t *written, const uint8_t sha256[32]);
int kura_script_p2tr(uint8_t *out, size_t out_len, size_t *written, const uint8_t xonly[32]);

/* P2SH for a redeem script / P2WSH for a witness script: hashes it and builds
 * the scriptPubKey. */
int kura_script_p2sh_of(uint8_t *out, size_t out_len, size_t *written, const uint8_t *redeem,
                        size_t redeem_len);
int kura_script_p2wsh_of(uint8_t *out, size_t out_len, size_t *written, const uint8_t *witness_script,
                         size_t witness_script_len);

/* OP_m <pub1> ... <pubn> OP_n OP_CHECKMULTISIG for 33-byte keys, 1 <= m <= n <= 20
 * (n <= 16 for P2SH is the caller's concern). sorted != 0 sorts the keys
 * lexicographically first (BIP67). pubkeys is n*33 bytes. */
int kura_script_multisig(uint8_t *out, size_t out_len, size_t *written, unsigned m,
                         const uint8_t *pubkeys, size_t n, int sorted);

/* Tapscript <x1> OP_CHECKSIG <x2> OP_CHECKSIGADD ... <xn> OP_CHECKSIGADD <m> OP_NUMEQUAL
 * for 32-byte x-only keys, 1 <= m <= n <= 999 (BIP387 multi_a); sorted != 0 sorts first. */
int kura_script_multi_a(uint8_t *out, size_t out_len, size_t *written, unsigned m,
                        const uint8_t *xonly_keys, size_t n, int sorted);

/* Appends a minimal push of data[0..len) (OP_0, OP_1..16, direct, PUSHDATA1/2/4)
 * at out; returns bytes written or 0 if out_len is too small. */
size_t kura_script_push(uint8_t *out, size_t out_len, const uint8_t *data, size_t len);

/* BIP341 tapleaf hash (leaf_version 0xc0 for tapscript): tagged "TapLeaf"(leaf_version || compact_size(len) || script). */
void kura_tapleaf_hash(uint8_t out[32], uint8_t leaf_version, const uint8_t *script, size_t len);
/* BIP341 tapbranch hash of two child hashes (sorted first). */
void kura_tapbranch_hash(uint8_t out[32], const uint8_t a[32], const uint8_t b[32]);

/* The bech32 hrp for a network: "bc", "tb" or "bcrt". */
const char *kura_network_hrp(kura_network network);

#ifdef __cplusplus
}
#endif

#endif /* KURA_SCRIPT_H */
