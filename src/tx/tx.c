/*
 * src/tx/tx.c — Bitcoin transactions: building, parsing and serialising the
 * legacy and BIP144 (segwit) forms, txid/wtxid, weight and vsize.
 *
 * The parser treats every byte as hostile: each count is checked against the
 * hard limits in kura/tx.h and against the bytes that remain BEFORE anything
 * is allocated, so a 10-byte input cannot ask for a gigabyte of inputs.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kura/hash.h"
#include "kura/tx.h"

/* Smallest serialised input: outpoint (32 + 4), empty scriptSig (1), sequence (4). */
#define TXIN_MIN_SIZE 41u
/* Smallest serialised output: amount (8), empty scriptPubKey (1). */
#define TXOUT_MIN_SIZE 9u

/* ---- building and freeing ---- */

static void bytes_free(kura_bytes *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

static void witness_free(kura_bytes *items, size_t count)
{
    if (items == NULL) return;
    for (size_t i = 0; i < count; i++) bytes_free(&items[i]);
    free(items);
}

static void txin_clear(kura_txin *in)
{
    bytes_free(&in->script_sig);
    witness_free(in->witness, in->witness_count);
    in->witness = NULL;
    in->witness_count = 0;
}

kura_tx *kura_tx_new(void)
{
    kura_tx *tx = calloc(1, sizeof(*tx));
    if (tx == NULL) return NULL;
    tx->version = 2;
    tx->locktime = 0;
    return tx;
}

void kura_tx_free(kura_tx *tx)
{
    if (tx == NULL) return;
    if (tx->inputs != NULL) {
        for (size_t i = 0; i < tx->input_count; i++) txin_clear(&tx->inputs[i]);
        free(tx->inputs);
    }
    if (tx->outputs != NULL) {
        for (size_t i = 0; i < tx->output_count; i++) bytes_free(&tx->outputs[i].script_pubkey);
        free(tx->outputs);
    }
    free(tx);
}

/* Copies len bytes into a new kura_bytes (NULL data for an empty string).
 * Returns false only when the allocation fails. */
static bool bytes_copy(kura_bytes *dst, const uint8_t *src, size_t len)
{
    dst->data = NULL;
    dst->len = 0;
    if (len == 0) return true;
    dst->data = kura_memdup(src, len);
    if (dst->data == NULL) return false;
    dst->len = len;
    return true;
}

/* A deep copy of a witness stack; *out is NULL for an empty one. */
static int witness_copy(kura_bytes **out, const kura_bytes *items, size_t count)
{
    kura_bytes *copy;
    *out = NULL;
    if (count == 0) return KURA_OK;
    copy = calloc(count, sizeof(*copy));
    if (copy == NULL) return KURA_ENOMEM;
    for (size_t i = 0; i < count; i++) {
        if (!bytes_copy(&copy[i], items[i].data, items[i].len)) {
            witness_free(copy, i);
            return KURA_ENOMEM;
        }
    }
    *out = copy;
    return KURA_OK;
}

int kura_tx_clone(kura_tx **out, const kura_tx *tx)
{
    kura_tx *c;
    if (out == NULL) return KURA_EINVAL;
    *out = NULL;
    if (tx == NULL) return KURA_EINVAL;
    if ((tx->input_count > 0 && tx->inputs == NULL) ||
        (tx->output_count > 0 && tx->outputs == NULL))
        return KURA_EINVAL;
    c = calloc(1, sizeof(*c));
    if (c == NULL) return KURA_ENOMEM;
    c->version = tx->version;
    c->locktime = tx->locktime;
    if (tx->input_count > 0) {
        c->inputs = calloc(tx->input_count, sizeof(*c->inputs));
        if (c->inputs == NULL) goto nomem;
        c->input_count = tx->input_count;
        for (size_t i = 0; i < tx->input_count; i++) {
            const kura_txin *src = &tx->inputs[i];
            kura_txin *dst = &c->inputs[i];
            memcpy(dst->prev_txid, src->prev_txid, 32);
            dst->prev_vout = src->prev_vout;
            dst->sequence = src->sequence;
            if (!bytes_copy(&dst->script_sig, src->script_sig.data, src->script_sig.len))
                goto nomem;
            if (witness_copy(&dst->witness, src->witness, src->witness_count) != KURA_OK)
                goto nomem;
            dst->witness_count = src->witness_count;
        }
    }
    if (tx->output_count > 0) {
        c->outputs = calloc(tx->output_count, sizeof(*c->outputs));
        if (c->outputs == NULL) goto nomem;
        c->output_count = tx->output_count;
        for (size_t i = 0; i < tx->output_count; i++) {
            c->outputs[i].amount = tx->outputs[i].amount;
            if (!bytes_copy(&c->outputs[i].script_pubkey, tx->outputs[i].script_pubkey.data,
                            tx->outputs[i].script_pubkey.len))
                goto nomem;
        }
    }
    *out = c;
    return KURA_OK;
nomem:
    kura_tx_free(c);
    return KURA_ENOMEM;
}

int kura_tx_add_input(kura_tx *tx, const uint8_t prev_txid[32], uint32_t prev_vout,
                      uint32_t sequence, const uint8_t *script_sig, size_t script_sig_len)
{
    kura_txin *grown;
    kura_txin in;
    size_t bytes;
    if (tx == NULL || prev_txid == NULL || (script_sig == NULL && script_sig_len > 0))
        return KURA_EINVAL;
    if (tx->input_count >= KURA_TX_MAX_INPUTS || script_sig_len > KURA_TX_MAX_SIZE)
        return KURA_ERANGE;
    memset(&in, 0, sizeof(in));
    memcpy(in.prev_txid, prev_txid, 32);
    in.prev_vout = prev_vout;
    in.sequence = sequence;
    if (!bytes_copy(&in.script_sig, script_sig, script_sig_len)) return KURA_ENOMEM;
    if (!kura_size_mul(tx->input_count + 1, sizeof(*grown), &bytes)) {
        bytes_free(&in.script_sig);
        return KURA_ENOMEM;
    }
    /* Growing by one with realloc keeps the struct free of a capacity field;
     * transactions have at most KURA_TX_MAX_INPUTS inputs and are built once. */
    grown = realloc(tx->inputs, bytes);
    if (grown == NULL) {
        bytes_free(&in.script_sig);
        return KURA_ENOMEM;
    }
    tx->inputs = grown;
    tx->inputs[tx->input_count++] = in;
    return KURA_OK;
}

int kura_tx_add_output(kura_tx *tx, uint64_t amount, const uint8_t *script_pubkey,
                       size_t script_pubkey_len)
{
    kura_txout *grown;
    kura_txout o;
    size_t bytes;
    if (tx == NULL || (script_pubkey == NULL && script_pubkey_len > 0)) return KURA_EINVAL;
    if (tx->output_count >= KURA_TX_MAX_OUTPUTS || amount > KURA_MAX_MONEY ||
        script_pubkey_len > KURA_TX_MAX_SIZE)
        return KURA_ERANGE;
    o.amount = amount;
    if (!bytes_copy(&o.script_pubkey, script_pubkey, script_pubkey_len)) return KURA_ENOMEM;
    if (!kura_size_mul(tx->output_count + 1, sizeof(*grown), &bytes)) {
        bytes_free(&o.script_pubkey);
        return KURA_ENOMEM;
    }
    grown = realloc(tx->outputs, bytes);
    if (grown == NULL) {
        bytes_free(&o.script_pubkey);
        return KURA_ENOMEM;
    }
    tx->outputs = grown;
    tx->outputs[tx->output_count++] = o;
    return KURA_OK;
}

int kura_tx_set_script_sig(kura_tx *tx, size_t i, const uint8_t *script, size_t len)
{
    kura_bytes b;
    if (tx == NULL || i >= tx->input_count || (script == NULL && len > 0)) return KURA_EINVAL;
    if (len > KURA_TX_MAX_SIZE) return KURA_ERANGE;
    /* Copy first, so a failed allocation leaves the old scriptSig in place. */
    if (!bytes_copy(&b, script, len)) return KURA_ENOMEM;
    bytes_free(&tx->inputs[i].script_sig);
    tx->inputs[i].script_sig = b;
    return KURA_OK;
}

int kura_tx_set_witness(kura_tx *tx, size_t i, const kura_bytes *items, size_t count)
{
    kura_bytes *copy;
    int rc;
    if (tx == NULL || i >= tx->input_count || (items == NULL && count > 0)) return KURA_EINVAL;
    if (count > KURA_TX_MAX_WITNESS_ITEMS) return KURA_ERANGE;
    for (size_t k = 0; k < count; k++) {
        if (items[k].data == NULL && items[k].len > 0) return KURA_EINVAL;
        if (items[k].len > KURA_TX_MAX_SIZE) return KURA_ERANGE;
    }
    rc = witness_copy(&copy, items, count);
    if (rc != KURA_OK) return rc;
    witness_free(tx->inputs[i].witness, tx->inputs[i].witness_count);
    tx->inputs[i].witness = copy;
    tx->inputs[i].witness_count = count;
    return KURA_OK;
}

/* ---- parsing ---- */

/* Reads a CompactSize and, when that fails, says whether the bytes ran out or
 * the encoding was not minimal (Bitcoin Core refuses both; a non-minimal
 * encoding would give one transaction two serialisations and so two
 * different byte strings for one txid). */
static int read_count(kura_reader *r, uint64_t *v, kura_error *err, const char *what,
                      size_t idx /* SIZE_MAX: none */)
{
    size_t need = 1;
    if (r->left > 0) {
        uint8_t first = r->p[0];
        need = first < 0xfd ? 1 : first == 0xfd ? 3 : first == 0xfe ? 5 : 9;
    }
    bool canonical_fail;
    if (kura_read_compact_size(r, v)) return KURA_OK;
    canonical_fail = r->left >= need && need > 1;
    if (idx == SIZE_MAX)
        return kura_fail(err, KURA_EDATA, "tx: %s: %s", what,
                         canonical_fail ? "non-canonical CompactSize" : "truncated");
    return kura_fail(err, KURA_EDATA, "tx: %s %zu: %s", what, idx,
                     canonical_fail ? "non-canonical CompactSize" : "truncated");
}

/* Reads a length-prefixed byte string (script or witness item) into *out. */
static int read_var_bytes(kura_reader *r, kura_bytes *out, kura_error *err, const char *what,
                          size_t idx)
{
    uint64_t len;
    const uint8_t *p;
    int rc = read_count(r, &len, err, what, idx);
    if (rc != KURA_OK) return rc;
    /* Compare before narrowing: len may exceed SIZE_MAX on a 32-bit host. */
    if (len > (uint64_t)r->left)
        return kura_fail(err, KURA_EDATA, "tx: %s %zu: length %llu exceeds the %zu bytes left",
                         what, idx, (unsigned long long)len, r->left);
    if (!kura_read_span(r, &p, (size_t)len))
        return kura_fail(err, KURA_EDATA, "tx: %s %zu: truncated", what, idx);
    if (!bytes_copy(out, p, (size_t)len)) return kura_fail(err, KURA_ENOMEM, "tx: out of memory");
    return KURA_OK;
}

static int parse_inputs(kura_tx *tx, kura_reader *r, uint64_t n, kura_error *err)
{
    if (n == 0) return KURA_OK;
    if (n > KURA_TX_MAX_INPUTS)
        return kura_fail(err, KURA_ERANGE, "tx: %llu inputs exceed the limit of %d",
                         (unsigned long long)n, KURA_TX_MAX_INPUTS);
    /* Refuse before allocating: each input takes at least 41 bytes. */
    if (n > r->left / TXIN_MIN_SIZE)
        return kura_fail(err, KURA_EDATA, "tx: %llu inputs cannot fit in the %zu bytes left",
                         (unsigned long long)n, r->left);
    tx->inputs = calloc((size_t)n, sizeof(*tx->inputs));
    if (tx->inputs == NULL) return kura_fail(err, KURA_ENOMEM, "tx: out of memory");
    tx->input_count = (size_t)n;
    for (size_t i = 0; i < tx->input_count; i++) {
        kura_txin *in = &tx->inputs[i];
        int rc;
        kura_read_bytes(r, in->prev_txid, 32);
        kura_read_u32le(r, &in->prev_vout);
        if (r->failed) return kura_fail(err, KURA_EDATA, "tx: input %zu: truncated", i);
        rc = read_var_bytes(r, &in->script_sig, err, "scriptSig of input", i);
        if (rc != KURA_OK) return rc;
        if (!kura_read_u32le(r, &in->sequence))
            return kura_fail(err, KURA_EDATA, "tx: input %zu: truncated", i);
    }
    return KURA_OK;
}

static int parse_outputs(kura_tx *tx, kura_reader *r, kura_error *err)
{
    uint64_t n, total = 0;
    int rc = read_count(r, &n, err, "output count", SIZE_MAX);
    if (rc != KURA_OK) return rc;
    if (n == 0) return KURA_OK;
    if (n > KURA_TX_MAX_OUTPUTS)
        return kura_fail(err, KURA_ERANGE, "tx: %llu outputs exceed the limit of %d",
                         (unsigned long long)n, KURA_TX_MAX_OUTPUTS);
    if (n > r->left / TXOUT_MIN_SIZE)
        return kura_fail(err, KURA_EDATA, "tx: %llu outputs cannot fit in the %zu bytes left",
                         (unsigned long long)n, r->left);
    tx->outputs = calloc((size_t)n, sizeof(*tx->outputs));
    if (tx->outputs == NULL) return kura_fail(err, KURA_ENOMEM, "tx: out of memory");
    tx->output_count = (size_t)n;
    for (size_t i = 0; i < tx->output_count; i++) {
        kura_txout *o = &tx->outputs[i];
        if (!kura_read_u64le(r, &o->amount))
            return kura_fail(err, KURA_EDATA, "tx: output %zu: truncated", i);
        /* Consensus (CheckTransaction): every amount and their sum must be
         * within MAX_MONEY; larger values only ever come from a forged or
         * corrupted transaction. */
        if (o->amount > KURA_MAX_MONEY)
            return kura_fail(err, KURA_ERANGE, "tx: output %zu: amount %llu exceeds 21e6 BTC",
                             i, (unsigned long long)o->amount);
        total += o->amount; /* both terms <= 2.1e15: cannot overflow */
        if (total > KURA_MAX_MONEY)
            return kura_fail(err, KURA_ERANGE, "tx: output total exceeds 21e6 BTC at output %zu",
                             i);
        rc = read_var_bytes(r, &o->script_pubkey, err, "scriptPubKey of output", i);
        if (rc != KURA_OK) return rc;
    }
    return KURA_OK;
}

static int parse_witnesses(kura_tx *tx, kura_reader *r, kura_error *err)
{
    bool any = false;
    for (size_t i = 0; i < tx->input_count; i++) {
        kura_txin *in = &tx->inputs[i];
        uint64_t n;
        int rc = read_count(r, &n, err, "witness of input", i);
        if (rc != KURA_OK) return rc;
        if (n == 0) continue;
        if (n > KURA_TX_MAX_WITNESS_ITEMS)
            return kura_fail(err, KURA_ERANGE, "tx: input %zu: %llu witness items exceed the limit",
                             i, (unsigned long long)n);
        /* Each item takes at least its one-byte length. */
        if (n > r->left)
            return kura_fail(err, KURA_EDATA,
                             "tx: input %zu: %llu witness items cannot fit in the %zu bytes left",
                             i, (unsigned long long)n, r->left);
        in->witness = calloc((size_t)n, sizeof(*in->witness));
        if (in->witness == NULL) return kura_fail(err, KURA_ENOMEM, "tx: out of memory");
        in->witness_count = (size_t)n;
        for (size_t k = 0; k < in->witness_count; k++) {
            rc = read_var_bytes(r, &in->witness[k], err, "witness item of input", i);
            if (rc != KURA_OK) return rc;
        }
        any = true;
    }
    /* BIP144 / Bitcoin Core: the marker and flag may only be used when some
     * witness is present; otherwise the legacy form is the one serialisation,
     * and accepting both would give one transaction two encodings. */
    if (!any) return kura_fail(err, KURA_EDATA, "tx: superfluous witness record (all empty)");
    return KURA_OK;
}

static int parse_body(kura_tx *tx, kura_reader *r, unsigned flags, kura_error *err)
{
    uint64_t n_in;
    bool segwit = false;
    int rc;
    if (!kura_read_u32le(r, &tx->version))
        return kura_fail(err, KURA_EDATA, "tx: truncated version");
    rc = read_count(r, &n_in, err, "input count", SIZE_MAX);
    if (rc != KURA_OK) return rc;
    if (n_in == 0 && (flags & KURA_TX_WITNESS) != 0) {
        /* BIP144: an input count of zero is the marker 0x00, followed by a
         * flag byte that must be 1 (other values are reserved). */
        uint8_t flag;
        if (!kura_read_u8(r, &flag)) return kura_fail(err, KURA_EDATA, "tx: truncated witness flag");
        if (flag != 1)
            return kura_fail(err, KURA_EDATA, "tx: witness flag 0x%02x is not 0x01 (BIP144)",
                             flag);
        segwit = true;
        rc = read_count(r, &n_in, err, "input count", SIZE_MAX);
        if (rc != KURA_OK) return rc;
    }
    /* No inputs, or no outputs, is a well-formed serialisation (consensus
     * refuses such a transaction, but BIP174 has valid PSBTs whose unsigned
     * transaction has neither), so the parser accepts it and leaves the
     * judgement to the caller's checks. With KURA_TX_WITNESS a zero input
     * count cannot be expressed: 0x00 there is the marker. */
    rc = parse_inputs(tx, r, n_in, err);
    if (rc != KURA_OK) return rc;
    rc = parse_outputs(tx, r, err);
    if (rc != KURA_OK) return rc;
    if (segwit) {
        rc = parse_witnesses(tx, r, err);
        if (rc != KURA_OK) return rc;
    }
    if (!kura_read_u32le(r, &tx->locktime))
        return kura_fail(err, KURA_EDATA, "tx: truncated locktime");
    if (r->left != 0) return kura_fail(err, KURA_EDATA, "tx: %zu trailing bytes", r->left);
    return KURA_OK;
}

/* Whether bytes that failed to parse as legacy start like a BIP144
 * serialisation (a zero input count then 0x01), so the error can name the
 * likely cause: BIP174 requires the unsigned transaction in legacy form, and
 * sending the witness form (with or without witness data) is a common
 * mistake. A legacy transaction with no inputs and one output starts the
 * same way; it is only reported so when it failed to parse anyway. */
static bool starts_like_witness(const uint8_t *bytes, size_t len)
{
    return len >= 6 && bytes[4] == 0x00 && bytes[5] == 0x01;
}

int kura_tx_parse(kura_tx **out, const uint8_t *bytes, size_t len, unsigned flags,
                  kura_error *err)
{
    kura_reader r;
    kura_tx *tx;
    int rc;
    if (out == NULL) return kura_fail(err, KURA_EINVAL, "tx: NULL output");
    *out = NULL;
    if (bytes == NULL && len > 0) return kura_fail(err, KURA_EINVAL, "tx: NULL input");
    if ((flags & ~KURA_TX_WITNESS) != 0)
        return kura_fail(err, KURA_EINVAL, "tx: unknown flags 0x%x", flags);
    if (len > KURA_TX_MAX_SIZE)
        return kura_fail(err, KURA_ERANGE, "tx: %zu bytes exceed the limit of %d", len,
                         KURA_TX_MAX_SIZE);
    tx = calloc(1, sizeof(*tx));
    if (tx == NULL) return kura_fail(err, KURA_ENOMEM, "tx: out of memory");
    kura_reader_init(&r, bytes, len);
    rc = parse_body(tx, &r, flags, err);
    if (rc == KURA_OK) {
        *out = tx;
        return KURA_OK;
    }
    kura_tx_free(tx); /* every count is set only once its array exists */
    if (rc != KURA_ENOMEM && (flags & KURA_TX_WITNESS) == 0 && starts_like_witness(bytes, len))
        return kura_fail(err, KURA_EDATA,
                         "tx: not a legacy transaction: starts with the BIP144 witness marker and "
                         "flag (a witness serialisation is not allowed here)");
    return rc;
}

/* ---- serialising ---- */

/* A transaction the functions below can walk without touching NULL arrays. */
static bool tx_walkable(const kura_tx *tx)
{
    if (tx == NULL) return false;
    if (tx->input_count > 0 && tx->inputs == NULL) return false;
    if (tx->output_count > 0 && tx->outputs == NULL) return false;
    return true;
}

int kura_tx_has_witness(const kura_tx *tx)
{
    if (!tx_walkable(tx)) return 0;
    for (size_t i = 0; i < tx->input_count; i++)
        if (tx->inputs[i].witness_count > 0) return 1;
    return 0;
}

static bool use_witness(const kura_tx *tx, unsigned flags)
{
    return (flags & KURA_TX_WITNESS) != 0 && kura_tx_has_witness(tx);
}

static size_t var_bytes_size(size_t len)
{
    return kura_compact_size_len(len) + len;
}

/* The serialised sizes are sums over objects that exist in memory, each at
 * least as large as the bytes it contributes plus its 9-byte prefix, so the
 * sums cannot overflow size_t. */
size_t kura_tx_serialized_size(const kura_tx *tx, unsigned flags)
{
    size_t n;
    bool wit;
    if (!tx_walkable(tx)) return 0;
    wit = use_witness(tx, flags);
    n = 4 + 4 + kura_compact_size_len(tx->input_count) + kura_compact_size_len(tx->output_count);
    if (wit) n += 2;
    for (size_t i = 0; i < tx->input_count; i++) {
        const kura_txin *in = &tx->inputs[i];
        n += 36 + var_bytes_size(in->script_sig.len) + 4;
        if (wit) {
            n += kura_compact_size_len(in->witness_count);
            for (size_t k = 0; k < in->witness_count; k++) n += var_bytes_size(in->witness[k].len);
        }
    }
    for (size_t i = 0; i < tx->output_count; i++)
        n += 8 + var_bytes_size(tx->outputs[i].script_pubkey.len);
    return n;
}

/* One writer for both the byte serialisation and the streamed hash (txid),
 * so the two can never disagree. In buffer mode the caller has already made
 * sure the whole serialisation fits. */
typedef struct tx_writer {
    uint8_t *p;           /* next byte to write (buffer mode) */
    kura_sha256_ctx *ctx; /* non-NULL: hash instead of copying */
} tx_writer;

static void w_put(tx_writer *w, const void *data, size_t len)
{
    if (len == 0) return;
    if (w->ctx != NULL) {
        kura_sha256_update(w->ctx, data, len);
    } else {
        memcpy(w->p, data, len);
        w->p += len;
    }
}

static void w_u32(tx_writer *w, uint32_t v)
{
    uint8_t b[4];
    kura_store_u32le(b, v);
    w_put(w, b, 4);
}

static void w_compact(tx_writer *w, uint64_t v)
{
    uint8_t b[9];
    w_put(w, b, kura_compact_size_encode(b, v));
}

static void w_var_bytes(tx_writer *w, const kura_bytes *b)
{
    w_compact(w, b->len);
    w_put(w, b->data, b->len);
}

static void write_tx(tx_writer *w, const kura_tx *tx, bool wit)
{
    static const uint8_t marker_flag[2] = {0x00, 0x01}; /* BIP144 */
    w_u32(w, tx->version);
    if (wit) w_put(w, marker_flag, 2);
    w_compact(w, tx->input_count);
    for (size_t i = 0; i < tx->input_count; i++) {
        const kura_txin *in = &tx->inputs[i];
        w_put(w, in->prev_txid, 32);
        w_u32(w, in->prev_vout);
        w_var_bytes(w, &in->script_sig);
        w_u32(w, in->sequence);
    }
    w_compact(w, tx->output_count);
    for (size_t i = 0; i < tx->output_count; i++) {
        uint8_t amount[8];
        kura_store_u64le(amount, tx->outputs[i].amount);
        w_put(w, amount, 8);
        w_var_bytes(w, &tx->outputs[i].script_pubkey);
    }
    if (wit) {
        for (size_t i = 0; i < tx->input_count; i++) {
            const kura_txin *in = &tx->inputs[i];
            w_compact(w, in->witness_count);
            for (size_t k = 0; k < in->witness_count; k++) w_var_bytes(w, &in->witness[k]);
        }
    }
    w_u32(w, tx->locktime);
}

int kura_tx_serialize(uint8_t *out, size_t out_len, size_t *written, const kura_tx *tx,
                      unsigned flags)
{
    size_t need;
    tx_writer w;
    if (written != NULL) *written = 0;
    if (written == NULL || !tx_walkable(tx) || (out == NULL && out_len > 0) ||
        (flags & ~KURA_TX_WITNESS) != 0)
        return KURA_EINVAL;
    need = kura_tx_serialized_size(tx, flags);
    if (out_len < need) {
        *written = need; /* tells the caller how much room to give */
        return KURA_EINVAL;
    }
    w.p = out;
    w.ctx = NULL;
    write_tx(&w, tx, use_witness(tx, flags));
    *written = need;
    return KURA_OK;
}

static void tx_hash(uint8_t out[32], const kura_tx *tx, bool wit)
{
    kura_sha256_ctx ctx;
    tx_writer w;
    uint8_t once[32];
    kura_sha256_init(&ctx);
    w.p = NULL;
    w.ctx = &ctx;
    write_tx(&w, tx, wit);
    kura_sha256_final(&ctx, once);
    kura_sha256(out, once, 32);
}

int kura_tx_txid(uint8_t out[32], const kura_tx *tx)
{
    if (out == NULL) return KURA_EINVAL;
    memset(out, 0, 32);
    if (!tx_walkable(tx)) return KURA_EINVAL;
    tx_hash(out, tx, false);
    return KURA_OK;
}

int kura_tx_wtxid(uint8_t out[32], const kura_tx *tx)
{
    if (out == NULL) return KURA_EINVAL;
    memset(out, 0, 32);
    if (!tx_walkable(tx)) return KURA_EINVAL;
    /* BIP141: a transaction without witness data has wtxid == txid. */
    tx_hash(out, tx, kura_tx_has_witness(tx) != 0);
    return KURA_OK;
}

void kura_txid_to_hex(char out[65], const uint8_t txid[32])
{
    static const char digits[] = "0123456789abcdef";
    if (out == NULL) return;
    if (txid == NULL) {
        out[0] = '\0';
        return;
    }
    /* Display order is the reverse of the hash's byte order (a historical
     * quirk: Satoshi's client printed the 256-bit number big-endian). */
    for (size_t i = 0; i < 32; i++) {
        uint8_t b = txid[31 - i];
        out[2 * i] = digits[b >> 4];
        out[2 * i + 1] = digits[b & 0x0f];
    }
    out[64] = '\0';
}

static int hex_nibble(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int kura_txid_from_hex(uint8_t out[32], const char *hex, kura_error *err)
{
    uint8_t tmp[32];
    if (out == NULL) return kura_fail(err, KURA_EINVAL, "tx: NULL output");
    memset(out, 0, 32);
    if (hex == NULL) return kura_fail(err, KURA_EINVAL, "tx: NULL txid");
    for (size_t i = 0; i < 64; i++) {
        if (hex[i] == '\0')
            return kura_fail(err, KURA_EDATA, "tx: txid has %zu hex digits, not 64", i);
    }
    if (hex[64] != '\0') return kura_fail(err, KURA_EDATA, "tx: txid longer than 64 hex digits");
    for (size_t i = 0; i < 32; i++) {
        int hi = hex_nibble(hex[2 * i]), lo = hex_nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return kura_fail(err, KURA_EDATA, "tx: txid: bad hex digit at %zu", 2 * i);
        tmp[31 - i] = (uint8_t)((hi << 4) | lo);
    }
    memcpy(out, tmp, 32);
    return KURA_OK;
}

uint64_t kura_tx_weight(const kura_tx *tx)
{
    if (!tx_walkable(tx)) return 0;
    /* BIP141: weight = base size * 3 + total size. */
    return (uint64_t)kura_tx_serialized_size(tx, 0) * 3 +
           (uint64_t)kura_tx_serialized_size(tx, KURA_TX_WITNESS);
}

uint64_t kura_tx_vsize(const kura_tx *tx)
{
    return (kura_tx_weight(tx) + 3) / 4;
}

int kura_tx_output_total(uint64_t *out, const kura_tx *tx)
{
    uint64_t total = 0;
    if (out == NULL) return KURA_EINVAL;
    *out = 0;
    if (!tx_walkable(tx)) return KURA_EINVAL;
    for (size_t i = 0; i < tx->output_count; i++) {
        uint64_t a = tx->outputs[i].amount;
        if (a > KURA_MAX_MONEY || total + a > KURA_MAX_MONEY) return KURA_ERANGE;
        total += a;
    }
    *out = total;
    return KURA_OK;
}
