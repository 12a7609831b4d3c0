/*
 * kura/block.h — Bitcoin blocks: the 80-byte header, its proof of work against
 * its own target, and the strict parse of a whole serialised block (header,
 * transactions with witnesses) into an index of where each transaction lies,
 * without copying the block or allocating a kura_tx per transaction.
 *
 * What kura_block_parse checks (every check on the bytes it is given):
 *  - structure: the header, a CompactSize transaction count, each transaction
 *    in the legacy or BIP144 witness form with canonical CompactSizes, and no
 *    byte after the last transaction;
 *  - limits: at most KURA_BLOCK_MAX_SIZE bytes and KURA_BLOCK_MAX_WEIGHT
 *    weight units (BIP141), no count that the remaining bytes cannot hold,
 *    every transaction with at least one input and one output, every amount
 *    and every transaction's sum of amounts at most KURA_MAX_MONEY;
 *  - the coinbase: the first transaction and only it has exactly one input
 *    with the null outpoint (32 zero bytes, index 0xffffffff) and a scriptSig
 *    of 2..100 bytes; no other transaction spends the null outpoint;
 *  - proof of work: nBits must give a positive target that fits in 256 bits
 *    (no negative or overflowing compact form, no zero target), and the block
 *    hash read as a little-endian 256-bit number must not exceed it;
 *  - unless KURA_BLOCK_SKIP_MERKLE: the merkle root recomputed from the txids
 *    equals the header's, with Core's CVE-2012-2459 rule (a level whose last
 *    two hashes are equal is refused: a duplicated transaction list hashes to
 *    the same root); and the BIP141 witness commitment: when the coinbase has
 *    an output whose script starts 6a24aa21a9ed (the last such output counts),
 *    its coinbase witness must be one 32-byte item R and the commitment must
 *    equal SHA256d(witness merkle root || R), the witness root taken over the
 *    wtxids with the coinbase's as zero; when no output commits, no
 *    transaction may carry witness data.
 *
 * Not checked (they need the chain or script execution): that nBits is the
 * right difficulty for this height or network, the previous block, time
 * rules, scripts and signatures, that inputs exist and are unspent, the
 * coinbase amount, sigops, locktimes, duplicate inputs. A follower that asks
 * its own node for a block by hash checks that kura's hash equals the one it
 * asked for and that prev_hash links to the block below.
 *
 * Cost: without KURA_BLOCK_SKIP_MERKLE every transaction is hashed twice over
 * (txids and wtxids, SHA-256d), which dominates the parse; the txids are kept
 * in the block for later use. With the flag nothing is hashed but the header.
 *
 * A kura_block does NOT copy the bytes: it points into the caller's buffer,
 * which must stay unchanged and alive until kura_block_free.
 */
#ifndef KURA_BLOCK_H
#define KURA_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "kura/common.h"
#include "kura/tx.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KURA_BLOCK_HEADER_LEN 80
#define KURA_BLOCK_MAX_WEIGHT 4000000u /* BIP141 consensus limit */
#define KURA_BLOCK_MAX_SIZE 4000000u   /* bytes; implied by the weight limit */
/* The smallest transaction a block can hold: version, one input with an empty
 * scriptSig (41), one output with an empty script (9), locktime. Counts that
 * the remaining bytes cannot hold at this size are refused before anything is
 * allocated. */
#define KURA_BLOCK_MIN_TX_SIZE 60u

/* kura_block_parse flags. */
#define KURA_BLOCK_SKIP_MERKLE 1u /* neither hash the transactions nor check the merkle root
                                     and witness commitment (the structure, limits and
                                     proof of work are still checked); txids stay NULL */

/* The header's fields. Hashes are in internal (serialisation) byte order. */
typedef struct kura_block_header {
    int32_t version;
    uint8_t prev_hash[32];
    uint8_t merkle_root[32];
    uint32_t time;
    uint32_t bits;
    uint32_t nonce;
} kura_block_header;

/* Where one transaction lies in the block, as byte offsets from the block's
 * first byte (blocks are below 4 MB, so 32 bits suffice). The txid is
 * SHA256d(bytes[offset..offset+4) || bytes[io_offset..io_offset+io_len) ||
 * bytes[offset+len-4..offset+len)); for a legacy transaction that is simply
 * SHA256d of the whole of it. */
typedef struct kura_block_tx {
    uint32_t offset;          /* first byte (the version) */
    uint32_t len;             /* serialised length, witness included */
    uint32_t io_offset;       /* the input count: offset+4, or offset+6 after marker and flag */
    uint32_t io_len;          /* inputs and outputs, up to the witnesses or the locktime */
    uint32_t outputs_offset;  /* the output count */
    uint32_t input_count;
    uint32_t output_count;
    uint32_t has_witness;     /* 1 for the BIP144 form */
} kura_block_tx;

/* A parsed block. Read-only to the caller. */
typedef struct kura_block {
    kura_block_header header;
    uint8_t hash[32];         /* SHA256d of the header, internal byte order */
    const uint8_t *bytes;     /* the caller's buffer (borrowed, not copied) */
    size_t len;
    size_t tx_count;
    kura_block_tx *txs;       /* tx_count entries, owned */
    uint8_t (*txids)[32];     /* tx_count txids (internal order), owned; NULL when parsed
                                 with KURA_BLOCK_SKIP_MERKLE */
    uint64_t weight;          /* BIP141 weight */
    int has_witness_commitment; /* 1: the coinbase commits to witnesses, and the
                                   commitment was checked; always 0 when parsed with
                                   KURA_BLOCK_SKIP_MERKLE (nothing is looked at) */
} kura_block;

/* ---- headers and proof of work ---- */

/* Parses the 80-byte header bytes[0..len) into *out. Returns KURA_OK;
 * KURA_EDATA when len is not 80; KURA_EINVAL for NULL arguments. *out is
 * zeroed on failure. Proof of work is not checked here. */
int kura_block_header_parse(kura_block_header *out, const uint8_t *bytes, size_t len,
                            kura_error *err);

/* out = SHA256d(header[0..80)): the block hash in internal byte order. */
void kura_block_header_hash(uint8_t out[32], const uint8_t header[KURA_BLOCK_HEADER_LEN]);

/* Expands the compact target nBits into a 256-bit number, written little-endian
 * (byte 0 least significant) into target. Refused with KURA_EDATA: the sign
 * bit set with a non-zero mantissa ("negative target"), a value that does not
 * fit in 256 bits ("target overflows"), a zero target ("zero target").
 * KURA_EINVAL for NULL target. target is zeroed on failure. */
int kura_block_bits_to_target(uint8_t target[32], uint32_t bits, kura_error *err);

/* Checks that hash (internal byte order, read as a little-endian number) is
 * at most the target of bits. Returns KURA_OK; KURA_EDATA for a bad nBits (as
 * kura_block_bits_to_target) or "proof of work above target"; KURA_EINVAL for
 * NULL hash. */
int kura_block_check_pow(const uint8_t hash[32], uint32_t bits, kura_error *err);

/* ---- whole blocks ---- */

/* Parses and checks the block bytes[0..len) as described at the top.
 *
 * Out:   *out  a new block (free with kura_block_free); NULL on failure. It
 *              points into bytes, which must outlive it unchanged.
 * In:    bytes, len; flags 0 or KURA_BLOCK_SKIP_MERKLE; err may be NULL.
 * Returns KURA_OK; KURA_EINVAL (out NULL, bytes NULL with len > 0, unknown
 * flags); KURA_ENOMEM; KURA_ERANGE for len over KURA_BLOCK_MAX_SIZE, a weight
 * over KURA_BLOCK_MAX_WEIGHT, a transaction count, input count, output count
 * or witness item count that the remaining bytes cannot hold, or amounts over
 * KURA_MAX_MONEY; KURA_EDATA for everything else, with one of these messages
 * (after "block: "; "tx N: " is prefixed where a transaction is at fault):
 *   "truncated", "trailing bytes", "non-canonical CompactSize",
 *   "no transactions", "no inputs", "no outputs", "bad witness flag",
 *   "superfluous witness record", "first transaction is not a coinbase",
 *   "coinbase scriptSig size", "second coinbase", "negative target",
 *   "target overflows", "zero target", "proof of work above target",
 *   "merkle root mismatch", "duplicate transaction (merkle mutation)",
 *   "witness commitment mismatch", "bad witness reserved value",
 *   "unexpected witness".
 * Checks run in this order: the header and proof of work first (so a block
 * without work costs one hash), then the structure, then the merkle root, then
 * the witness commitment. */
int kura_block_parse(kura_block **out, const uint8_t *bytes, size_t len, unsigned flags,
                     kura_error *err);

/* Frees block and its index (not the bytes it points into). NULL is a no-op. */
void kura_block_free(kura_block *block);

/* Checks that bytes[0..len) is exactly one transaction in the legacy or BIP144
 * form, with the same rules as for a non-coinbase transaction of a block
 * (at least one input and one output, no null outpoint, amounts), and
 * describes it in *out with offsets from bytes (offset 0). For a transaction
 * from the node's mempool (ZMQ rawtx). Returns KURA_OK, KURA_EINVAL (NULL
 * arguments), KURA_EDATA or KURA_ERANGE with messages as kura_block_parse
 * but prefixed "tx: " (a null outpoint is "tx: null outpoint"); KURA_ERANGE
 * also for len over KURA_TX_MAX_SIZE. *out is zeroed on failure. */
int kura_block_tx_locate(kura_block_tx *out, const uint8_t *bytes, size_t len, kura_error *err);

/* txid (out) of the transaction described by tx within bytes: from the
 * stored txids when given, else hashed. wtxid likewise (the hash of all len
 * bytes). Neither fails for a tx from kura_block_parse / kura_block_tx_locate
 * over the same bytes. */
void kura_block_tx_txid(uint8_t out[32], const uint8_t *bytes, const kura_block_tx *tx);
void kura_block_tx_wtxid(uint8_t out[32], const uint8_t *bytes, const kura_block_tx *tx);

/* The txid of block transaction i (stored, or hashed when the block was
 * parsed with KURA_BLOCK_SKIP_MERKLE). Returns KURA_OK or KURA_EINVAL (NULL
 * argument, i out of range; out zeroed). */
int kura_block_txid(uint8_t out[32], const kura_block *block, size_t i);

/* ---- reading a transaction in place ----
 *
 * A cursor over the inputs or the outputs of one transaction described by a
 * kura_block_tx (from kura_block_parse or kura_block_tx_locate over the same
 * bytes, which were checked then: these readers do not fail). Pointers point
 * into bytes. Use:
 *     kura_block_cursor c; kura_block_txout o;
 *     kura_block_outputs_begin(&c, bytes, tx);
 *     while (kura_block_next_output(&c, &o)) ...
 */
typedef struct kura_block_cursor {
    const uint8_t *p;   /* next unread byte */
    uint32_t left;      /* items left */
} kura_block_cursor;

typedef struct kura_block_txin {
    const uint8_t *prev_txid; /* 32 bytes, internal order */
    uint32_t prev_vout;
    const uint8_t *script_sig;
    size_t script_sig_len;
    uint32_t sequence;
} kura_block_txin;

typedef struct kura_block_txout {
    uint64_t amount;
    const uint8_t *script_pubkey;
    size_t script_pubkey_len;
} kura_block_txout;

void kura_block_inputs_begin(kura_block_cursor *c, const uint8_t *bytes, const kura_block_tx *tx);
void kura_block_outputs_begin(kura_block_cursor *c, const uint8_t *bytes, const kura_block_tx *tx);
/* Each returns 1 and fills *out with the next item, or 0 at the end. */
int kura_block_next_input(kura_block_cursor *c, kura_block_txin *out);
int kura_block_next_output(kura_block_cursor *c, kura_block_txout *out);

/* A full kura_tx of block transaction i (parsed with kura_tx_parse), for
 * callers that want one. *out as kura_tx_parse. Returns KURA_OK, KURA_EINVAL
 * (NULL argument, i out of range), KURA_ENOMEM, or KURA_ERANGE for a
 * transaction over kura/tx.h's limits (more than KURA_TX_MAX_WITNESS_ITEMS
 * witness items in one input), which a block's limits allow. */
int kura_block_tx_parse(kura_tx **out, const kura_block *block, size_t i);

#ifdef __cplusplus
}
#endif

#endif /* KURA_BLOCK_H */
