/*
 * src/block/block.c — the block parser: header, proof of work, the strict
 * walk over every transaction (recording where each lies, copying nothing),
 * the merkle root and the BIP141 witness commitment.
 *
 * Every count is checked against the bytes that remain before it is trusted,
 * and the only allocation (the index, one entry per transaction) is sized by
 * a count already bounded that way, so a short hostile input cannot ask for
 * much memory.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kura/block.h"
#include "kura/hash.h"

/* Smallest serialised input and output (see src/tx/tx.c). */
#define TXIN_MIN_SIZE 41u
#define TXOUT_MIN_SIZE 9u

/* Little-endian loads, inlined (compilers make each one load): the walk and
 * the in-place readers call them for every amount, vout and sequence. */
static inline uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* ---- a bounded cursor, inlined for the hot walk ---- */

typedef struct cur {
    const uint8_t *p;
    const uint8_t *end;
} cur;

static inline size_t cur_left(const cur *c)
{
    return (size_t)(c->end - c->p);
}

/* Reads a canonical CompactSize. Returns KURA_OK, or KURA_EDATA with *why set
 * ("truncated" / "non-canonical CompactSize"). */
static inline int cur_cs(cur *c, uint64_t *out, const char **why)
{
    size_t left = cur_left(c);
    uint8_t b;
    if (left < 1) return *why = "truncated", KURA_EDATA;
    b = c->p[0];
    if (b < 0xfd) {
        c->p += 1;
        *out = b;
        return KURA_OK;
    }
    if (b == 0xfd) {
        if (left < 3) return *why = "truncated", KURA_EDATA;
        *out = (uint64_t)c->p[1] | (uint64_t)c->p[2] << 8;
        c->p += 3;
        if (*out < 0xfd) return *why = "non-canonical CompactSize", KURA_EDATA;
        return KURA_OK;
    }
    if (b == 0xfe) {
        if (left < 5) return *why = "truncated", KURA_EDATA;
        *out = le32(c->p + 1);
        c->p += 5;
        if (*out <= 0xffff) return *why = "non-canonical CompactSize", KURA_EDATA;
        return KURA_OK;
    }
    if (left < 9) return *why = "truncated", KURA_EDATA;
    *out = le64(c->p + 1);
    c->p += 9;
    if (*out <= 0xffffffffu) return *why = "non-canonical CompactSize", KURA_EDATA;
    return KURA_OK;
}

/* Skips n bytes, or fails with "truncated". */
static inline int cur_skip(cur *c, uint64_t n, const char **why)
{
    if (n > cur_left(c)) return *why = "truncated", KURA_EDATA;
    c->p += n;
    return KURA_OK;
}

/* Reads a CompactSize that is a length and skips that many bytes. */
static inline int cur_skip_var(cur *c, const char **why)
{
    uint64_t n;
    int rc = cur_cs(c, &n, why);
    if (rc != KURA_OK) return rc;
    return cur_skip(c, n, why);
}

/* ---- headers and proof of work ---- */

int kura_block_header_parse(kura_block_header *out, const uint8_t *bytes, size_t len,
                            kura_error *err)
{
    if (out == NULL) return KURA_EINVAL;
    memset(out, 0, sizeof(*out));
    if (bytes == NULL) return KURA_EINVAL;
    if (len != KURA_BLOCK_HEADER_LEN)
        return kura_fail(err, KURA_EDATA, "block: header is %zu bytes, not 80", len);
    out->version = (int32_t)le32(bytes);
    memcpy(out->prev_hash, bytes + 4, 32);
    memcpy(out->merkle_root, bytes + 36, 32);
    out->time = le32(bytes + 68);
    out->bits = le32(bytes + 72);
    out->nonce = le32(bytes + 76);
    return KURA_OK;
}

void kura_block_header_hash(uint8_t out[32], const uint8_t header[KURA_BLOCK_HEADER_LEN])
{
    kura_sha256d(out, header, KURA_BLOCK_HEADER_LEN);
}

int kura_block_bits_to_target(uint8_t target[32], uint32_t bits, kura_error *err)
{
    /* Core's arith_uint256::SetCompact: the top byte is a base-256 exponent,
     * the low 23 bits the mantissa, bit 23 a sign. */
    uint32_t exponent = bits >> 24, mantissa = bits & 0x007fffffu;
    if (target == NULL) return KURA_EINVAL;
    memset(target, 0, 32);
    if (mantissa != 0 && (bits & 0x00800000u) != 0)
        return kura_fail(err, KURA_EDATA, "block: negative target (nBits %08x)", bits);
    if (mantissa != 0 && (exponent > 34 || (mantissa > 0xff && exponent > 33) ||
                          (mantissa > 0xffff && exponent > 32)))
        return kura_fail(err, KURA_EDATA, "block: target overflows (nBits %08x)", bits);
    if (exponent <= 3) {
        mantissa >>= 8 * (3 - exponent);
        target[0] = (uint8_t)mantissa;
        target[1] = (uint8_t)(mantissa >> 8);
        target[2] = (uint8_t)(mantissa >> 16);
    } else {
        /* mantissa * 256^(exponent-3); bytes beyond 32 are zero (checked above). */
        for (uint32_t k = 0; k < 3; k++) {
            uint32_t pos = exponent - 3 + k;
            if (pos < 32) target[pos] = (uint8_t)(mantissa >> (8 * k));
        }
    }
    for (size_t i = 0; i < 32; i++)
        if (target[i] != 0) return KURA_OK;
    return kura_fail(err, KURA_EDATA, "block: zero target (nBits %08x)", bits);
}

int kura_block_check_pow(const uint8_t hash[32], uint32_t bits, kura_error *err)
{
    uint8_t target[32];
    int rc;
    if (hash == NULL) return KURA_EINVAL;
    rc = kura_block_bits_to_target(target, bits, err);
    if (rc != KURA_OK) return rc;
    /* Both little-endian: compare from the most significant byte down. */
    for (size_t i = 32; i-- > 0;) {
        if (hash[i] < target[i]) return KURA_OK;
        if (hash[i] > target[i])
            return kura_fail(err, KURA_EDATA, "block: proof of work above target (nBits %08x)",
                             bits);
    }
    return KURA_OK; /* equal to the target is enough */
}

/* ---- one transaction ---- */

typedef enum tx_role { ROLE_COINBASE, ROLE_BLOCK_TX, ROLE_LONE_TX } tx_role;

/* Walks one transaction starting at c->p, checks it, fills *t (offsets from
 * base) and advances c. On failure returns the code with *why (a static
 * message) set. */
static int walk_tx(kura_block_tx *t, uint64_t *base_size, cur *c, const uint8_t *base,
                   tx_role role, const char **why)
{
    const uint8_t *start = c->p, *io;
    uint64_t nin, nout, sum = 0, witness_bytes = 0;
    bool any_witness = false;
    int rc;

    memset(t, 0, sizeof(*t));
    if ((rc = cur_skip(c, 4, why)) != KURA_OK) return rc;
    /* A block transaction has at least one input, so a zero where the input
     * count belongs is the BIP144 marker. */
    if (cur_left(c) >= 1 && c->p[0] == 0x00) {
        if (cur_left(c) < 2) return *why = "truncated", KURA_EDATA;
        if (c->p[1] != 0x01) return *why = "bad witness flag", KURA_EDATA;
        c->p += 2;
        t->has_witness = 1;
    }
    io = c->p;
    if ((rc = cur_cs(c, &nin, why)) != KURA_OK) return rc;
    if (nin == 0) return *why = "no inputs", KURA_EDATA;
    if (nin > cur_left(c) / TXIN_MIN_SIZE) return *why = "input count exceeds the bytes", KURA_ERANGE;
    for (uint64_t i = 0; i < nin; i++) {
        const uint8_t *op = c->p;
        uint64_t slen;
        bool null_outpoint;
        if ((rc = cur_skip(c, 36, why)) != KURA_OK) return rc;
        null_outpoint = op[32] == 0xff && op[33] == 0xff && op[34] == 0xff && op[35] == 0xff;
        for (size_t k = 0; null_outpoint && k < 32; k++) null_outpoint = op[k] == 0;
        if ((rc = cur_cs(c, &slen, why)) != KURA_OK) return rc;
        if (role == ROLE_COINBASE) {
            if (nin != 1 || !null_outpoint)
                return *why = "first transaction is not a coinbase", KURA_EDATA;
            if (slen < 2 || slen > 100) return *why = "coinbase scriptSig size", KURA_EDATA;
        } else if (null_outpoint) {
            return *why = role == ROLE_LONE_TX ? "null outpoint" : "second coinbase", KURA_EDATA;
        }
        if ((rc = cur_skip(c, slen, why)) != KURA_OK) return rc;
        if ((rc = cur_skip(c, 4, why)) != KURA_OK) return rc;
    }
    t->outputs_offset = (uint32_t)(c->p - base);
    if ((rc = cur_cs(c, &nout, why)) != KURA_OK) return rc;
    if (nout == 0) return *why = "no outputs", KURA_EDATA;
    if (nout > cur_left(c) / TXOUT_MIN_SIZE)
        return *why = "output count exceeds the bytes", KURA_ERANGE;
    for (uint64_t i = 0; i < nout; i++) {
        uint64_t amount;
        if (cur_left(c) < 8) return *why = "truncated", KURA_EDATA;
        amount = le64(c->p);
        c->p += 8;
        if (amount > KURA_MAX_MONEY) return *why = "amount over 21 million BTC", KURA_ERANGE;
        sum += amount;
        if (sum > KURA_MAX_MONEY) return *why = "sum of amounts over 21 million BTC", KURA_ERANGE;
        if ((rc = cur_skip_var(c, why)) != KURA_OK) return rc;
    }
    t->io_len = (uint32_t)(c->p - io);
    if (t->has_witness) {
        const uint8_t *w = c->p;
        for (uint64_t i = 0; i < nin; i++) {
            uint64_t items;
            if ((rc = cur_cs(c, &items, why)) != KURA_OK) return rc;
            /* Each item takes at least its one-byte length. */
            if (items > cur_left(c)) return *why = "witness item count exceeds the bytes", KURA_ERANGE;
            if (items > 0) any_witness = true;
            for (uint64_t k = 0; k < items; k++)
                if ((rc = cur_skip_var(c, why)) != KURA_OK) return rc;
        }
        if (!any_witness) return *why = "superfluous witness record", KURA_EDATA;
        witness_bytes = (uint64_t)(c->p - w) + 2; /* with marker and flag */
    }
    if ((rc = cur_skip(c, 4, why)) != KURA_OK) return rc;
    t->offset = (uint32_t)(start - base);
    t->len = (uint32_t)(c->p - start);
    t->io_offset = (uint32_t)(io - base);
    t->input_count = (uint32_t)nin;
    t->output_count = (uint32_t)nout;
    *base_size = t->len - witness_bytes;
    return KURA_OK;
}

int kura_block_tx_locate(kura_block_tx *out, const uint8_t *bytes, size_t len, kura_error *err)
{
    const char *why = NULL;
    uint64_t base_size;
    cur c;
    int rc;
    if (out == NULL) return KURA_EINVAL;
    memset(out, 0, sizeof(*out));
    if (bytes == NULL && len > 0) return KURA_EINVAL;
    if (len > KURA_TX_MAX_SIZE)
        return kura_fail(err, KURA_ERANGE, "tx: %zu bytes, over %u", len,
                         (unsigned)KURA_TX_MAX_SIZE);
    c.p = bytes;
    c.end = bytes + len;
    rc = walk_tx(out, &base_size, &c, bytes, ROLE_LONE_TX, &why);
    if (rc == KURA_OK && c.p != c.end) rc = KURA_EDATA, why = "trailing bytes";
    if (rc != KURA_OK) {
        memset(out, 0, sizeof(*out));
        return kura_fail(err, rc, "tx: %s", why);
    }
    return KURA_OK;
}

/* ---- ids and the merkle tree ---- */

void kura_block_tx_txid(uint8_t out[32], const uint8_t *bytes, const kura_block_tx *tx)
{
    const uint8_t *p = bytes + tx->offset;
    if (!tx->has_witness) {
        kura_sha256d(out, p, tx->len);
        return;
    }
    /* BIP144: the txid leaves out the marker, flag and witnesses. */
    const kura_hash_span parts[3] = {
        {p, 4}, {bytes + tx->io_offset, tx->io_len}, {p + tx->len - 4, 4}};
    kura_sha256d_spans(out, parts, 3);
}

void kura_block_tx_wtxid(uint8_t out[32], const uint8_t *bytes, const kura_block_tx *tx)
{
    kura_sha256d(out, bytes + tx->offset, tx->len);
}

int kura_block_txid(uint8_t out[32], const kura_block *block, size_t i)
{
    if (out == NULL) return KURA_EINVAL;
    if (block == NULL || i >= block->tx_count) {
        memset(out, 0, 32);
        return KURA_EINVAL;
    }
    if (block->txids != NULL)
        memcpy(out, block->txids[i], 32);
    else
        kura_block_tx_txid(out, block->bytes, &block->txs[i]);
    return KURA_OK;
}

/* Reduces hashes[0..n) (n >= 1; overwritten; the array has room for n + 1
 * hashes when n > 1) to the merkle root in out, as Core's
 * ComputeMerkleRoot. *mutated is set when some level has a pair of equal
 * hashes (CVE-2012-2459). Each level's pairs lie side by side, so the level
 * is hashed in place in one call (one libcrypto context per level); an odd
 * last hash is paired with a copy of itself in the spare slot. */
static void merkle_root(uint8_t out[32], uint8_t (*hashes)[32], size_t n, bool *mutated)
{
    *mutated = false;
    while (n > 1) {
        for (size_t i = 0; i + 1 < n; i += 2)
            if (memcmp(hashes[i], hashes[i + 1], 32) == 0) *mutated = true;
        if (n % 2 == 1) memcpy(hashes[n], hashes[n - 1], 32), n++;
        kura_sha256d_64(hashes[0], hashes[0], n / 2);
        n /= 2;
    }
    memcpy(out, hashes[0], 32);
}

/* The BIP141 commitment output of the coinbase: the last output whose script
 * is at least 38 bytes and starts 6a24aa21a9ed. Returns a pointer to its 32
 * committed bytes, or NULL. */
static const uint8_t *witness_commitment(const uint8_t *bytes, const kura_block_tx *cb)
{
    static const uint8_t magic[6] = {0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed};
    const uint8_t *found = NULL;
    kura_block_cursor c;
    kura_block_txout o;
    kura_block_outputs_begin(&c, bytes, cb);
    while (kura_block_next_output(&c, &o))
        if (o.script_pubkey_len >= 38 && memcmp(o.script_pubkey, magic, 6) == 0)
            found = o.script_pubkey + 6;
    return found;
}

/* The coinbase's witness stack: *single points at its only item when the
 * stack is exactly one 32-byte item, else NULL. */
static const uint8_t *coinbase_reserved_value(const uint8_t *bytes, const kura_block_tx *cb)
{
    const uint8_t *w;
    if (!cb->has_witness) return NULL;
    /* The coinbase has one input; its witness follows the outputs. */
    w = bytes + cb->io_offset + cb->io_len;
    if (w[0] != 1 || w[1] != 32) return NULL;
    return w + 2;
}

/* ---- whole blocks ---- */

void kura_block_free(kura_block *block)
{
    if (block == NULL) return;
    free(block->txs);
    free(block->txids);
    free(block);
}

static int check_merkle(kura_block *b, kura_error *err)
{
    uint8_t root[32];
    uint8_t (*scratch)[32];
    bool mutated;
    size_t n = b->tx_count, bytes, scratch_bytes;
    const uint8_t *commit, *reserved;
    bool any_witness = false;

    if (!kura_size_mul(n, 32, &bytes) || !kura_size_add(bytes, 32, &scratch_bytes))
        return KURA_ENOMEM;
    b->txids = malloc(bytes);
    scratch = malloc(scratch_bytes); /* one spare slot: see merkle_root */
    if (b->txids == NULL || scratch == NULL) {
        free(scratch);
        return KURA_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        kura_block_tx_txid(b->txids[i], b->bytes, &b->txs[i]);
        any_witness |= b->txs[i].has_witness != 0;
    }
    memcpy(scratch, b->txids, bytes);
    merkle_root(root, scratch, n, &mutated);
    if (mutated) {
        free(scratch);
        return kura_fail(err, KURA_EDATA, "block: duplicate transaction (merkle mutation)");
    }
    if (memcmp(root, b->header.merkle_root, 32) != 0) {
        free(scratch);
        return kura_fail(err, KURA_EDATA, "block: merkle root mismatch");
    }

    commit = witness_commitment(b->bytes, &b->txs[0]);
    if (commit == NULL) {
        free(scratch);
        if (any_witness) return kura_fail(err, KURA_EDATA, "block: unexpected witness");
        return KURA_OK;
    }
    b->has_witness_commitment = 1;
    reserved = coinbase_reserved_value(b->bytes, &b->txs[0]);
    if (reserved == NULL) {
        free(scratch);
        return kura_fail(err, KURA_EDATA, "block: bad witness reserved value");
    }
    memset(scratch[0], 0, 32); /* the coinbase's wtxid counts as zero */
    for (size_t i = 1; i < n; i++) {
        if (b->txs[i].has_witness)
            kura_block_tx_wtxid(scratch[i], b->bytes, &b->txs[i]);
        else
            memcpy(scratch[i], b->txids[i], 32);
    }
    merkle_root(root, scratch, n, &mutated); /* Core ignores mutation here */
    free(scratch);
    {
        uint8_t pre[64], h[32];
        memcpy(pre, root, 32);
        memcpy(pre + 32, reserved, 32);
        kura_sha256d(h, pre, 64);
        if (memcmp(h, commit, 32) != 0)
            return kura_fail(err, KURA_EDATA, "block: witness commitment mismatch");
    }
    return KURA_OK;
}

int kura_block_parse(kura_block **out, const uint8_t *bytes, size_t len, unsigned flags,
                     kura_error *err)
{
    kura_block *b;
    uint64_t count, stripped;
    const char *why = NULL;
    cur c;
    int rc;

    if (out == NULL) return KURA_EINVAL;
    *out = NULL;
    if ((bytes == NULL && len > 0) || (flags & ~KURA_BLOCK_SKIP_MERKLE) != 0) return KURA_EINVAL;
    if (len > KURA_BLOCK_MAX_SIZE)
        return kura_fail(err, KURA_ERANGE, "block: %zu bytes, over %u", len,
                         (unsigned)KURA_BLOCK_MAX_SIZE);
    if (len < KURA_BLOCK_HEADER_LEN) return kura_fail(err, KURA_EDATA, "block: truncated");

    b = calloc(1, sizeof(*b));
    if (b == NULL) return KURA_ENOMEM;
    b->bytes = bytes;
    b->len = len;
    (void)kura_block_header_parse(&b->header, bytes, KURA_BLOCK_HEADER_LEN, NULL);
    kura_block_header_hash(b->hash, bytes);
    if ((rc = kura_block_check_pow(b->hash, b->header.bits, err)) != KURA_OK) goto fail;

    c.p = bytes + KURA_BLOCK_HEADER_LEN;
    c.end = bytes + len;
    if ((rc = cur_cs(&c, &count, &why)) != KURA_OK) {
        rc = kura_fail(err, rc, "block: %s", why);
        goto fail;
    }
    if (count == 0) {
        rc = kura_fail(err, KURA_EDATA, "block: no transactions");
        goto fail;
    }
    if (count > cur_left(&c) / KURA_BLOCK_MIN_TX_SIZE) {
        rc = kura_fail(err, KURA_ERANGE, "block: %llu transactions cannot fit in %zu bytes",
                       (unsigned long long)count, cur_left(&c));
        goto fail;
    }
    b->tx_count = (size_t)count;
    b->txs = malloc(b->tx_count * sizeof(*b->txs)); /* bounded by len / 60 above */
    if (b->txs == NULL) {
        rc = KURA_ENOMEM;
        goto fail;
    }
    stripped = (uint64_t)(c.p - bytes);
    for (size_t i = 0; i < b->tx_count; i++) {
        uint64_t base_size;
        rc = walk_tx(&b->txs[i], &base_size, &c, bytes, i == 0 ? ROLE_COINBASE : ROLE_BLOCK_TX,
                     &why);
        if (rc != KURA_OK) {
            rc = kura_fail(err, rc, "block: tx %zu: %s", i, why);
            goto fail;
        }
        stripped += base_size;
    }
    if (c.p != c.end) {
        rc = kura_fail(err, KURA_EDATA, "block: trailing bytes (%zu after the last transaction)",
                       cur_left(&c));
        goto fail;
    }
    b->weight = stripped * 3 + len;
    if (b->weight > KURA_BLOCK_MAX_WEIGHT) {
        rc = kura_fail(err, KURA_ERANGE, "block: weight %llu over %u",
                       (unsigned long long)b->weight, (unsigned)KURA_BLOCK_MAX_WEIGHT);
        goto fail;
    }
    if ((flags & KURA_BLOCK_SKIP_MERKLE) == 0 && (rc = check_merkle(b, err)) != KURA_OK) goto fail;
    *out = b;
    return KURA_OK;
fail:
    kura_block_free(b);
    return rc;
}

/* ---- reading in place ---- */

/* Reads a CompactSize already checked by the parser. */
static inline uint64_t trusted_cs(const uint8_t **p)
{
    const uint8_t *q = *p;
    if (q[0] < 0xfd) return *p += 1, q[0];
    if (q[0] == 0xfd) return *p += 3, (uint64_t)q[1] | (uint64_t)q[2] << 8;
    if (q[0] == 0xfe) return *p += 5, le32(q + 1);
    return *p += 9, le64(q + 1);
}

void kura_block_inputs_begin(kura_block_cursor *c, const uint8_t *bytes, const kura_block_tx *tx)
{
    c->p = bytes + tx->io_offset;
    (void)trusted_cs(&c->p);
    c->left = tx->input_count;
}

void kura_block_outputs_begin(kura_block_cursor *c, const uint8_t *bytes, const kura_block_tx *tx)
{
    c->p = bytes + tx->outputs_offset;
    (void)trusted_cs(&c->p);
    c->left = tx->output_count;
}

int kura_block_next_input(kura_block_cursor *c, kura_block_txin *out)
{
    if (c->left == 0) return 0;
    c->left--;
    out->prev_txid = c->p;
    out->prev_vout = le32(c->p + 32);
    c->p += 36;
    out->script_sig_len = (size_t)trusted_cs(&c->p);
    out->script_sig = c->p;
    c->p += out->script_sig_len;
    out->sequence = le32(c->p);
    c->p += 4;
    return 1;
}

int kura_block_next_output(kura_block_cursor *c, kura_block_txout *out)
{
    if (c->left == 0) return 0;
    c->left--;
    out->amount = le64(c->p);
    c->p += 8;
    out->script_pubkey_len = (size_t)trusted_cs(&c->p);
    out->script_pubkey = c->p;
    c->p += out->script_pubkey_len;
    return 1;
}

int kura_block_tx_parse(kura_tx **out, const kura_block *block, size_t i)
{
    int rc;
    if (out == NULL) return KURA_EINVAL;
    *out = NULL;
    if (block == NULL || i >= block->tx_count) return KURA_EINVAL;
    rc = kura_tx_parse(out, block->bytes + block->txs[i].offset, block->txs[i].len,
                       KURA_TX_WITNESS, NULL);
    /* The block parser accepted this transaction; kura_tx_parse refuses it
     * only for memory or for kura_tx.h's per-transaction limits
     * (KURA_TX_MAX_WITNESS_ITEMS), which a block's own limits allow past. */
    return rc;
}
