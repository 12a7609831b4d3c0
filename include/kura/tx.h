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
#define KURA_TX_MAX_WITNESS_ITEMS 100000
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

/* A new empty transaction (version 2, locktime 0), or NULL on no memory. */
kura_tx *kura_tx_new(void);
/* Frees tx and everything it owns; NULL is a no-op. */
void kura_tx_free(kura_tx *tx);
/* Deep copy into *out (NULL on failure). Returns KURA_OK or KURA_ENOMEM. */
int kura_tx_clone(kura_tx **out, const kura_tx *tx);

/* Appends an input/output (bytes copied). Returns KURA_OK, KURA_ENOMEM or
 * KURA_ERANGE (a limit above would be exceeded, or amount > KURA_MAX_MONEY). */
int kura_tx_add_input(kura_tx *tx, const uint8_t prev_txid[32], uint32_t prev_vout,
                      uint32_t sequence, const uint8_t *script_sig, size_t script_sig_len);
int kura_tx_add_output(kura_tx *tx, uint64_t amount, const uint8_t *script_pubkey,
                       size_t script_pubkey_len);
/* Replaces input i's scriptSig / witness stack (items copied). */
int kura_tx_set_script_sig(kura_tx *tx, size_t i, const uint8_t *script, size_t len);
int kura_tx_set_witness(kura_tx *tx, size_t i, const kura_bytes *items, size_t count);

/* Parses a whole serialised transaction. With KURA_TX_WITNESS in flags the
 * BIP144 form (marker 0x00, flag 0x01) is accepted as well as the legacy form;
 * without it only the legacy form is (as BIP174 requires of a PSBT's unsigned
 * transaction, where 0x00 may be a zero input count). Refuses trailing bytes,
 * truncation, non-canonical CompactSizes, a witness flag other than 1, a
 * witness marker with every witness empty, amounts over KURA_MAX_MONEY and
 * every limit above. Returns KURA_OK (*out set), KURA_EDATA or KURA_ERANGE
 * (message in err), or KURA_ENOMEM; *out is NULL on failure. */
int kura_tx_parse(kura_tx **out, const uint8_t *bytes, size_t len, unsigned flags,
                  kura_error *err);

/* Size of the serialisation with `flags`. */
size_t kura_tx_serialized_size(const kura_tx *tx, unsigned flags);

/* Serialises into out[0..out_len). Returns KURA_OK or KURA_EINVAL (too small). */
int kura_tx_serialize(uint8_t *out, size_t out_len, size_t *written, const kura_tx *tx,
                      unsigned flags);

/* Whether any input has witness items. */
int kura_tx_has_witness(const kura_tx *tx);

/* txid (no witness) / wtxid (with witness), both in internal byte order;
 * kura_txid_to_hex writes the usual reversed display form. Return KURA_OK or KURA_ENOMEM. */
int kura_tx_txid(uint8_t out[32], const kura_tx *tx);
int kura_tx_wtxid(uint8_t out[32], const kura_tx *tx);
void kura_txid_to_hex(char out[65], const uint8_t txid[32]);
/* Parses display-order hex into internal order. Returns KURA_OK or KURA_EDATA. */
int kura_txid_from_hex(uint8_t out[32], const char *hex, kura_error *err);

/* Weight (BIP141: base size * 3 + total size) and virtual size (weight / 4, rounded up). */
uint64_t kura_tx_weight(const kura_tx *tx);
uint64_t kura_tx_vsize(const kura_tx *tx);

/* Sum of output amounts into *out. Returns KURA_OK or KURA_ERANGE (over KURA_MAX_MONEY). */
int kura_tx_output_total(uint64_t *out, const kura_tx *tx);

#ifdef __cplusplus
}
#endif

#endif /* KURA_TX_H */
