/*
 * kura/tx.h — Bitcoin transactions: parse and serialise with and without
 * witness (BIP144), txid/wtxid, weight and vsize, with hard limits on every
 * count and length so hostile bytes cannot exhaust memory.
 *
 * A kura_tx owns all its byte strings. Build one with kura_tx_new and the
 * _add_ functions, or parse one; free with kura_tx_free.
 */
#ifndef KURA_TX_H
#define KURA_TX_H

#include <stddef.h>
#include <stdint.h>

#include "kura/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Hard limits (consensus allows no transaction over 4,000,000 weight units,
 * so none of these refuse a valid transaction). */
#define KURA_TX_MAX_SIZE 4000000
#define KURA_TX_MAX_INPUTS 100000
#define KURA_TX_MAX_OUTPUTS 100000
#define KURA_TX_MAX_WITNESS_ITEMS 100000 /* per input */
#define KURA_MAX_MONEY 2100000000000000ull /* 21e6 BTC in satoshis */

/* Serialisation flags. */
#define KURA_TX_WITNESS 1u    /* include witness data (BIP144) when any input has some */

typedef struct kura_bytes {
    uint8_t *data; /* owned; NULL when len is 0 */
    size_t len;
} kura_bytes;

typedef struct kura_txin {
    uint8_t prev_txid[32]; /* in serialisation (internal) byte order */
    uint32_t prev_vout;
    kura_bytes script_sig;
    uint32_t sequence;
    kura_bytes *witness;   /* witness stack items, owned */
    size_t witness_count;
} kura_txin;

typedef struct kura_txout {
    uint64_t amount; /* satoshis */
    kura_bytes script_pubkey;
} kura_txout;

typedef struct kura_tx {
    uint32_t version; /* as serialised (signed in Core; 2 for kura's transactions) */
    kura_txin *inputs;
    size_t input_count;
    kura_txout *outputs;
    size_t output_count;
    uint32_t locktime;
} kura_tx;

/* A new empty transaction (version 2, locktime 0, no inputs or outputs), or
 * NULL on no memory. The caller owns it and frees it with kura_tx_free. */
kura_tx *kura_tx_new(void);

/* Frees tx and every byte string it owns; NULL is a no-op. */
void kura_tx_free(kura_tx *tx);

/* Deep copy of tx into *out, which the caller frees with kura_tx_free.
 * Returns KURA_OK, KURA_EINVAL (out or tx NULL, or a count with a NULL array)
 * or KURA_ENOMEM. *out is NULL on failure. */
int kura_tx_clone(kura_tx **out, const kura_tx *tx);

/* Appends an input (prev_txid in internal byte order; script_sig copied, may
 * be NULL when script_sig_len is 0) or an output (script_pubkey copied).
 * Returns KURA_OK; KURA_EINVAL for a NULL tx/prev_txid or a NULL pointer with
 * a non-zero length; KURA_ERANGE when the count would exceed
 * KURA_TX_MAX_INPUTS/KURA_TX_MAX_OUTPUTS, a script exceeds KURA_TX_MAX_SIZE or
 * amount > KURA_MAX_MONEY; KURA_ENOMEM. On failure tx is unchanged.
 * (The sum of the amounts is not checked here; see kura_tx_output_total.) */
int kura_tx_add_input(kura_tx *tx, const uint8_t prev_txid[32], uint32_t prev_vout,
                      uint32_t sequence, const uint8_t *script_sig, size_t script_sig_len);
int kura_tx_add_output(kura_tx *tx, uint64_t amount, const uint8_t *script_pubkey,
                       size_t script_pubkey_len);

/* Replaces input i's scriptSig / witness stack with copies of the given bytes
 * (count 0 empties the stack). Returns KURA_OK; KURA_EINVAL (tx NULL, i out
 * of range, NULL pointer with non-zero length); KURA_ERANGE (more than
 * KURA_TX_MAX_WITNESS_ITEMS items, or a script/item over KURA_TX_MAX_SIZE);
 * KURA_ENOMEM. On failure input i is unchanged. */
int kura_tx_set_script_sig(kura_tx *tx, size_t i, const uint8_t *script, size_t len);
int kura_tx_set_witness(kura_tx *tx, size_t i, const kura_bytes *items, size_t count);

/* Parses a whole serialised transaction from bytes[0..len) into a new
 * kura_tx (*out, owned by the caller, free with kura_tx_free).
 *
 * flags: 0 or KURA_TX_WITNESS. With KURA_TX_WITNESS the BIP144 form (marker
 * 0x00, flag 0x01) is accepted as well as the legacy form; without it only
 * the legacy form is (as BIP174 requires of a PSBT's unsigned transaction,
 * where 0x00 would be a zero input count).
 *
 * Refused with KURA_EDATA: truncation, trailing bytes, non-canonical
 * CompactSizes, a witness flag other than 1, a witness marker with every
 * witness stack empty ("superfluous witness record"), a witness
 * serialisation when flags lacks KURA_TX_WITNESS, and any count that cannot
 * fit in the bytes that remain (checked before anything is allocated).
 * Refused with KURA_ERANGE: len over KURA_TX_MAX_SIZE, counts over the
 * limits above, an amount or the sum of the amounts over KURA_MAX_MONEY.
 * KURA_EINVAL: out NULL, bytes NULL with len > 0, unknown flag bits.
 * KURA_ENOMEM.
 *
 * Accepted although consensus refuses them: no inputs (legacy form only,
 * since with KURA_TX_WITNESS a 0x00 there is the BIP144 marker) and no
 * outputs. BIP174's valid PSBT vectors contain such unsigned transactions;
 * callers that sign must check for them.
 *
 * Returns KURA_OK with *out set; on failure *out is NULL and err (if not
 * NULL) holds the code and a message ("tx: ..."). */
int kura_tx_parse(kura_tx **out, const uint8_t *bytes, size_t len, unsigned flags,
                  kura_error *err);

/* Size in bytes of kura_tx_serialize's output with `flags` (0 for a NULL tx,
 * or a tx with a non-zero count and a NULL array). */
size_t kura_tx_serialized_size(const kura_tx *tx, unsigned flags);

/* Serialises tx into out[0..out_len): the BIP144 witness form when flags has
 * KURA_TX_WITNESS and some input has witness items, else the legacy form.
 * Returns KURA_OK with *written set to the bytes written; KURA_EINVAL for a
 * NULL argument, unknown flag bits, or a buffer too small, in which last
 * case *written holds the size needed (nothing is written). */
int kura_tx_serialize(uint8_t *out, size_t out_len, size_t *written, const kura_tx *tx,
                      unsigned flags);

/* 1 if any input has witness items, else 0 (also for NULL). */
int kura_tx_has_witness(const kura_tx *tx);

/* txid (SHA256d of the legacy form) / wtxid (SHA256d of the witness form;
 * equal to the txid when no input has witness items), both in internal byte
 * order, hashed without allocating. Return KURA_OK, or KURA_EINVAL for NULL
 * arguments (out is then zeroed). (KURA_ENOMEM is never returned; the code
 * is kept in the contract for callers written against it.) */
int kura_tx_txid(uint8_t out[32], const kura_tx *tx);
int kura_tx_wtxid(uint8_t out[32], const kura_tx *tx);

/* Writes the 64-digit lower-case display form (bytes reversed) of an
 * internal-order txid, NUL-terminated, into out. */
void kura_txid_to_hex(char out[65], const uint8_t txid[32]);

/* Parses a display-order txid (exactly 64 hex digits, either case) into
 * internal order. Returns KURA_OK, KURA_EDATA (wrong length, bad digit;
 * message in err) or KURA_EINVAL (NULL argument); out is zeroed on failure. */
int kura_txid_from_hex(uint8_t out[32], const char *hex, kura_error *err);

/* Weight (BIP141: base size * 3 + total size) and virtual size (weight / 4,
 * rounded up). 0 for a NULL tx. */
uint64_t kura_tx_weight(const kura_tx *tx);
uint64_t kura_tx_vsize(const kura_tx *tx);

/* Sum of output amounts into *out. Returns KURA_OK, KURA_ERANGE (an amount
 * or the sum over KURA_MAX_MONEY) or KURA_EINVAL (NULL argument); *out is 0
 * on failure. */
int kura_tx_output_total(uint64_t *out, const kura_tx *tx);

#ifdef __cplusplus
}
#endif

#endif /* KURA_TX_H */
