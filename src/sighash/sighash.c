/*
 * src/sighash/sighash.c — the three signature-hash algorithms Bitcoin uses:
 *
 *  - legacy SignatureHash (pre-segwit; Bitcoin Core's
 *    CTransactionSignatureSerializer), including its SIGHASH_SINGLE bug;
 *  - BIP143 (segwit v0), whose midstates make signing n inputs O(n);
 *  - BIP341 (taproot), SigMsg hashed with the "TapSighash" tag.
 *
 * Every preimage is streamed into an incremental SHA-256 (or, for the
 * _preimage/_sigmsg functions that tests and audits use, into a caller
 * buffer) through one writer, so the hash and the bytes cannot disagree and
 * nothing is allocated per call.
 */
#include <stdbool.h>
#include <string.h>

#include "internal.h"
#include "kura/hash.h"
#include "kura/sighash.h"

/* ---- one writer for hashing and for copying ---- */

typedef struct sh_writer {
    kura_sha256_ctx ctx; /* used when hashing */
    bool hashing;
    uint8_t *buf;        /* used when copying: caller's buffer ... */
    size_t cap;          /* ... of this size */
    size_t pos;          /* bytes produced so far (counted even past cap) */
} sh_writer;

static void w_init_hash(sh_writer *w)
{
    memset(w, 0, sizeof(*w));
    w->hashing = true;
    kura_sha256_init(&w->ctx);
}

static void w_init_tagged(sh_writer *w, const char *tag)
{
    memset(w, 0, sizeof(*w));
    w->hashing = true;
    kura_sha256_init_tagged(&w->ctx, tag);
}

static void w_init_buf(sh_writer *w, uint8_t *buf, size_t cap)
{
    memset(w, 0, sizeof(*w));
    w->buf = buf;
    w->cap = buf != NULL ? cap : 0;
}

static void w_put(sh_writer *w, const void *data, size_t len)
{
    if (len == 0) return;
    if (w->hashing) {
        kura_sha256_update(&w->ctx, data, len);
    } else if (w->pos <= w->cap && len <= w->cap - w->pos) {
        memcpy(w->buf + w->pos, data, len);
    }
    /* In copy mode a preimage that does not fit is still measured, so the
     * caller learns the size it needs; it is a few hundred bytes at most
     * plus a script, so pos cannot overflow. */
    w->pos += len;
}

static void w_u8(sh_writer *w, uint8_t v)
{
    w_put(w, &v, 1);
}

static void w_u32(sh_writer *w, uint32_t v)
{
    uint8_t b[4];
    kura_store_u32le(b, v);
    w_put(w, b, 4);
}

static void w_u64(sh_writer *w, uint64_t v)
{
    uint8_t b[8];
    kura_store_u64le(b, v);
    w_put(w, b, 8);
}

static void w_compact(sh_writer *w, uint64_t v)
{
    uint8_t b[9];
    w_put(w, b, kura_compact_size_encode(b, v));
}

/* A script as it appears in a serialised transaction: CompactSize length, bytes. */
static void w_script(sh_writer *w, const uint8_t *s, size_t len)
{
    w_compact(w, len);
    w_put(w, s, len);
}

static void w_outpoint(sh_writer *w, const kura_txin *in)
{
    w_put(w, in->prev_txid, 32);
    w_u32(w, in->prev_vout);
}

static void w_output(sh_writer *w, const kura_txout *o)
{
    w_u64(w, o->amount);
    w_script(w, o->script_pubkey.data, o->script_pubkey.len);
}

/* Single SHA-256 of what was written. */
static void w_final(sh_writer *w, uint8_t out[32])
{
    kura_sha256_final(&w->ctx, out);
}

/* Double SHA-256 of what was written. */
static void w_final_d(sh_writer *w, uint8_t out[32])
{
    uint8_t once[32];
    kura_sha256_final(&w->ctx, once);
    kura_sha256(out, once, 32);
}

/* ---- argument checks ---- */

static bool tx_ok(const kura_tx *tx)
{
    if (tx == NULL) return false;
    if (tx->input_count > 0 && tx->inputs == NULL) return false;
    if (tx->output_count > 0 && tx->outputs == NULL) return false;
    return true;
}

/* ---- per-transaction midstates ---- */

/* The single-SHA256 hashes of all outpoints, sequences and outputs. BIP143's
 * hashPrevouts/hashSequence/hashOutputs are SHA256d of the same bytes, i.e.
 * SHA256 of these (BIP341 notes the relation), so one pass serves both. */
static void single_hashes(const kura_tx *tx, uint8_t prevouts[32], uint8_t sequences[32],
                          uint8_t outputs[32])
{
    sh_writer w;
    if (prevouts != NULL) {
        w_init_hash(&w);
        for (size_t i = 0; i < tx->input_count; i++) w_outpoint(&w, &tx->inputs[i]);
        w_final(&w, prevouts);
    }
    if (sequences != NULL) {
        w_init_hash(&w);
        for (size_t i = 0; i < tx->input_count; i++) w_u32(&w, tx->inputs[i].sequence);
        w_final(&w, sequences);
    }
    if (outputs != NULL) {
        w_init_hash(&w);
        for (size_t i = 0; i < tx->output_count; i++) w_output(&w, &tx->outputs[i]);
        w_final(&w, outputs);
    }
}

/* BIP341: sha_amounts and sha_scriptpubkeys over the outputs every input spends. */
static void spent_hashes(const kura_tx *tx, const kura_txout *spent, uint8_t amounts[32],
                         uint8_t scripts[32])
{
    sh_writer w;
    w_init_hash(&w);
    for (size_t i = 0; i < tx->input_count; i++) w_u64(&w, spent[i].amount);
    w_final(&w, amounts);
    w_init_hash(&w);
    for (size_t i = 0; i < tx->input_count; i++)
        w_script(&w, spent[i].script_pubkey.data, spent[i].script_pubkey.len);
    w_final(&w, scripts);
}

static bool spent_ok(const kura_tx *tx, const kura_txout *spent)
{
    for (size_t i = 0; i < tx->input_count; i++)
        if (spent[i].script_pubkey.data == NULL && spent[i].script_pubkey.len > 0) return false;
    return true;
}

int kura_sighash_cache_init(kura_sighash_cache *cache, const kura_tx *tx,
                            const kura_txout *spent)
{
    if (cache == NULL) return KURA_EINVAL;
    memset(cache, 0, sizeof(*cache));
    if (!tx_ok(tx) || (spent != NULL && !spent_ok(tx, spent))) return KURA_EINVAL;
    single_hashes(tx, cache->sha_prevouts, cache->sha_sequences, cache->sha_outputs);
    kura_sha256(cache->hash_prevouts, cache->sha_prevouts, 32);
    kura_sha256(cache->hash_sequence, cache->sha_sequences, 32);
    kura_sha256(cache->hash_outputs, cache->sha_outputs, 32);
    cache->have_v0 = 1;
    if (spent != NULL) {
        spent_hashes(tx, spent, cache->sha_amounts, cache->sha_scriptpubkeys);
        cache->have_taproot = 1;
    }
    return KURA_OK;
}

/* ---- legacy ---- */

/* The original SignatureHash (Bitcoin Core, CTransactionSignatureSerializer):
 * a copy of the transaction in which every scriptSig is empty except the
 * signed input's, which holds script_code; then
 *  - NONE: no outputs, and the other inputs' sequences are 0;
 *  - SINGLE: outputs up to input_index, the earlier ones "null" (amount -1,
 *    empty script), other inputs' sequences 0;
 *  - ANYONECANPAY: only the signed input;
 * followed by the 4-byte hash type, double-SHA256'd. */
int kura_sighash_legacy(uint8_t out[32], const kura_tx *tx, size_t input_index,
                        const uint8_t *script_code, size_t script_code_len, uint32_t hash_type)
{
    sh_writer w;
    uint32_t base = hash_type & 0x1f;
    bool acp = (hash_type & KURA_SIGHASH_ANYONECANPAY) != 0;
    bool none = base == KURA_SIGHASH_NONE, single = base == KURA_SIGHASH_SINGLE;
    size_t n_out;
    if (out == NULL) return KURA_EINVAL;
    memset(out, 0, 32);
    if (!tx_ok(tx) || input_index >= tx->input_count ||
        (script_code == NULL && script_code_len > 0))
        return KURA_EINVAL;
    if (single && input_index >= tx->output_count) {
        /* The SIGHASH_SINGLE bug: Core returns the number 1 instead of a hash
         * (uint256 one, stored little-endian), and consensus depends on it. */
        out[0] = 1;
        return KURA_OK;
    }
    w_init_hash(&w);
    w_u32(&w, tx->version);
    w_compact(&w, acp ? 1 : tx->input_count);
    for (size_t i = 0; i < tx->input_count; i++) {
        const kura_txin *in = &tx->inputs[i];
        if (acp && i != input_index) continue;
        w_outpoint(&w, in);
        if (i == input_index) w_script(&w, script_code, script_code_len);
        else w_compact(&w, 0);
        /* With NONE or SINGLE the other inputs' sequences are not signed
         * (they are serialised as 0), so their owners may update them. */
        w_u32(&w, (i != input_index && (none || single)) ? 0 : in->sequence);
    }
    n_out = none ? 0 : single ? input_index + 1 : tx->output_count;
    w_compact(&w, n_out);
    for (size_t i = 0; i < n_out; i++) {
        if (single && i != input_index) {
            w_u64(&w, UINT64_MAX); /* CTxOut::SetNull: nValue -1, empty script */
            w_compact(&w, 0);
        } else {
            w_output(&w, &tx->outputs[i]);
        }
    }
    w_u32(&w, tx->locktime);
    w_u32(&w, hash_type);
    w_final_d(&w, out);
    return KURA_OK;
}

/* ---- BIP143 ---- */

/* Writes the BIP143 preimage; caller has checked the arguments. */
static void v0_write(sh_writer *w, const kura_tx *tx, const kura_sighash_cache *cache,
                     size_t input_index, const uint8_t *script_code, size_t script_code_len,
                     uint64_t amount, uint32_t hash_type)
{
    static const uint8_t zero[32] = {0};
    const kura_txin *in = &tx->inputs[input_index];
    uint32_t base = hash_type & 0x1f;
    bool acp = (hash_type & KURA_SIGHASH_ANYONECANPAY) != 0;
    bool none = base == KURA_SIGHASH_NONE, single = base == KURA_SIGHASH_SINGLE;
    uint8_t prevouts[32], sequence[32], outputs[32];
    const uint8_t *hp = zero, *hs = zero, *ho = zero;

    /* BIP143 items 2 and 3: hashPrevouts unless ANYONECANPAY; hashSequence
     * only for ALL (without ANYONECANPAY). */
    if (!acp) {
        if (cache != NULL) {
            hp = cache->hash_prevouts;
        } else {
            uint8_t once[32];
            single_hashes(tx, once, NULL, NULL);
            kura_sha256(prevouts, once, 32);
            hp = prevouts;
        }
    }
    if (!acp && !single && !none) {
        if (cache != NULL) {
            hs = cache->hash_sequence;
        } else {
            uint8_t once[32];
            single_hashes(tx, NULL, once, NULL);
            kura_sha256(sequence, once, 32);
            hs = sequence;
        }
    }
    /* Item 8: all outputs unless SINGLE or NONE; for SINGLE the output at the
     * same index, or zero when there is none (BIP143 has no "one" bug). */
    if (!single && !none) {
        if (cache != NULL) {
            ho = cache->hash_outputs;
        } else {
            uint8_t once[32];
            single_hashes(tx, NULL, NULL, once);
            kura_sha256(outputs, once, 32);
            ho = outputs;
        }
    } else if (single && input_index < tx->output_count) {
        sh_writer o;
        w_init_hash(&o);
        w_output(&o, &tx->outputs[input_index]);
        w_final_d(&o, outputs);
        ho = outputs;
    }

    w_u32(w, tx->version);
    w_put(w, hp, 32);
    w_put(w, hs, 32);
    w_outpoint(w, in);
    w_script(w, script_code, script_code_len);
    w_u64(w, amount);
    w_u32(w, in->sequence);
    w_put(w, ho, 32);
    w_u32(w, tx->locktime);
    w_u32(w, hash_type);
}

static int v0_check(const kura_tx *tx, const kura_sighash_cache **cache, size_t input_index,
                    const uint8_t *script_code, size_t script_code_len)
{
    if (!tx_ok(tx) || input_index >= tx->input_count ||
        (script_code == NULL && script_code_len > 0))
        return KURA_EINVAL;
    if (*cache != NULL && !(*cache)->have_v0) *cache = NULL; /* not filled: compute */
    return KURA_OK;
}

int kura_sighash_segwit_v0(uint8_t out[32], const kura_tx *tx, const kura_sighash_cache *cache,
                           size_t input_index, const uint8_t *script_code,
                           size_t script_code_len, uint64_t amount, uint32_t hash_type)
{
    sh_writer w;
    int rc;
    if (out == NULL) return KURA_EINVAL;
    memset(out, 0, 32);
    rc = v0_check(tx, &cache, input_index, script_code, script_code_len);
    if (rc != KURA_OK) return rc;
    w_init_hash(&w);
    v0_write(&w, tx, cache, input_index, script_code, script_code_len, amount, hash_type);
    w_final_d(&w, out);
    return KURA_OK;
}

int kura_sighash_segwit_v0_preimage(uint8_t *out, size_t out_len, size_t *written,
                                    const kura_tx *tx, const kura_sighash_cache *cache,
                                    size_t input_index, const uint8_t *script_code,
                                    size_t script_code_len, uint64_t amount, uint32_t hash_type)
{
    sh_writer w;
    int rc;
    if (written == NULL || (out == NULL && out_len > 0)) return KURA_EINVAL;
    *written = 0;
    if (out_len > 0) memset(out, 0, out_len);
    rc = v0_check(tx, &cache, input_index, script_code, script_code_len);
    if (rc != KURA_OK) return rc;
    w_init_buf(&w, out, out_len);
    v0_write(&w, tx, cache, input_index, script_code, script_code_len, amount, hash_type);
    *written = w.pos;
    if (w.pos > out_len) {
        if (out_len > 0) memset(out, 0, out_len);
        return KURA_EINVAL;
    }
    return KURA_OK;
}

/* ---- BIP341 ---- */

/* BIP341 "Common signature message": hash_type must be 0x00-0x03 or
 * 0x81-0x83; anything else makes the signature invalid, so refuse to hash. */
static bool taproot_type_ok(uint32_t t)
{
    return t <= 0x03 || (t >= 0x81 && t <= 0x83);
}

static int taproot_check(const kura_tx *tx, const kura_txout *spent, size_t input_index,
                         uint32_t hash_type, const uint8_t *annex, size_t annex_len)
{
    if (!tx_ok(tx) || spent == NULL || input_index >= tx->input_count) return KURA_EINVAL;
    if ((uint64_t)input_index > UINT32_MAX) return KURA_EINVAL; /* a 4-byte field */
    if (!taproot_type_ok(hash_type)) return KURA_EINVAL;
    /* BIP341: SIGHASH_SINGLE without an output at the same index fails. */
    if ((hash_type & 0x03) == KURA_SIGHASH_SINGLE && input_index >= tx->output_count)
        return KURA_EINVAL;
    /* BIP341: the annex is the last witness item when it starts with 0x50. */
    if (annex != NULL && (annex_len == 0 || annex[0] != 0x50)) return KURA_EINVAL;
    if (annex == NULL && annex_len != 0) return KURA_EINVAL;
    if (spent[input_index].script_pubkey.data == NULL && spent[input_index].script_pubkey.len > 0)
        return KURA_EINVAL;
    return KURA_OK;
}

/* Writes the epoch 0x00, SigMsg(hash_type, ext_flag) and, for the script
 * path, the BIP342 extension; caller has checked the arguments. */
static void taproot_write(sh_writer *w, const kura_tx *tx, const kura_sighash_cache *cache,
                          const kura_txout *spent, size_t input_index, uint32_t hash_type,
                          const uint8_t *leaf_hash, uint32_t codesep_pos, const uint8_t *annex,
                          size_t annex_len)
{
    uint32_t out_type = hash_type == KURA_SIGHASH_DEFAULT ? KURA_SIGHASH_ALL : (hash_type & 0x03);
    bool acp = (hash_type & KURA_SIGHASH_ANYONECANPAY) != 0;
    uint8_t ext_flag = leaf_hash != NULL ? 1 : 0;
    kura_sighash_cache local;

    /* Without a filled cache, compute the midstates this call needs. Only the
     * shared parts are hashed, so this is O(size of tx) per call, as a
     * one-off must be; callers signing many inputs pass a cache. */
    if (cache == NULL || !cache->have_taproot) {
        memset(&local, 0, sizeof(local));
        if (!acp) {
            single_hashes(tx, local.sha_prevouts, local.sha_sequences, NULL);
            spent_hashes(tx, spent, local.sha_amounts, local.sha_scriptpubkeys);
        }
        if (out_type == KURA_SIGHASH_ALL) single_hashes(tx, NULL, NULL, local.sha_outputs);
        cache = &local;
    }

    /* The epoch (BIP341: hash_TapSighash(0x00 || SigMsg(...)); a future
     * sighash scheme would use another value). */
    w_u8(w, 0x00);
    /* Control. */
    w_u8(w, (uint8_t)hash_type);
    /* Transaction data. */
    w_u32(w, tx->version);
    w_u32(w, tx->locktime);
    if (!acp) {
        w_put(w, cache->sha_prevouts, 32);
        w_put(w, cache->sha_amounts, 32);
        w_put(w, cache->sha_scriptpubkeys, 32);
        w_put(w, cache->sha_sequences, 32);
    }
    if (out_type != KURA_SIGHASH_NONE && out_type != KURA_SIGHASH_SINGLE)
        w_put(w, cache->sha_outputs, 32);
    /* Data about this input. spend_type = ext_flag * 2 + annex_present. */
    w_u8(w, (uint8_t)(ext_flag * 2 + (annex != NULL ? 1 : 0)));
    if (acp) {
        const kura_txin *in = &tx->inputs[input_index];
        w_outpoint(w, in);
        w_u64(w, spent[input_index].amount);
        w_script(w, spent[input_index].script_pubkey.data, spent[input_index].script_pubkey.len);
        w_u32(w, in->sequence);
    } else {
        w_u32(w, (uint32_t)input_index); /* checked to fit in taproot_check */
    }
    if (annex != NULL) {
        /* sha_annex: SHA256 of the annex as a serialised byte string. */
        sh_writer a;
        uint8_t sha_annex[32];
        w_init_hash(&a);
        w_script(&a, annex, annex_len);
        w_final(&a, sha_annex);
        w_put(w, sha_annex, 32);
    }
    /* Data about this output. */
    if (out_type == KURA_SIGHASH_SINGLE) {
        sh_writer o;
        uint8_t sha_single[32];
        w_init_hash(&o);
        w_output(&o, &tx->outputs[input_index]);
        w_final(&o, sha_single);
        w_put(w, sha_single, 32);
    }
    /* BIP342 extension for the script path: tapleaf_hash, key_version 0,
     * codesep_pos. */
    if (ext_flag) {
        w_put(w, leaf_hash, 32);
        w_u8(w, 0x00);
        w_u32(w, codesep_pos);
    }
}

int kura_sighash_taproot(uint8_t out[32], const kura_tx *tx, const kura_sighash_cache *cache,
                         const kura_txout *spent, size_t input_index, uint32_t hash_type,
                         const uint8_t *leaf_hash, uint32_t codesep_pos, const uint8_t *annex,
                         size_t annex_len)
{
    sh_writer w;
    int rc;
    if (out == NULL) return KURA_EINVAL;
    memset(out, 0, 32);
    rc = taproot_check(tx, spent, input_index, hash_type, annex, annex_len);
    if (rc != KURA_OK) return rc;
    if ((cache == NULL || !cache->have_taproot) && !spent_ok(tx, spent)) return KURA_EINVAL;
    w_init_tagged(&w, "TapSighash");
    taproot_write(&w, tx, cache, spent, input_index, hash_type, leaf_hash, codesep_pos, annex,
                  annex_len);
    w_final(&w, out);
    return KURA_OK;
}

int kura_sighash_taproot_sigmsg(uint8_t *out, size_t out_len, size_t *written, const kura_tx *tx,
                                const kura_sighash_cache *cache, const kura_txout *spent,
                                size_t input_index, uint32_t hash_type, const uint8_t *leaf_hash,
                                uint32_t codesep_pos, const uint8_t *annex, size_t annex_len)
{
    sh_writer w;
    int rc;
    if (written == NULL || (out == NULL && out_len > 0)) return KURA_EINVAL;
    *written = 0;
    if (out_len > 0) memset(out, 0, out_len);
    rc = taproot_check(tx, spent, input_index, hash_type, annex, annex_len);
    if (rc != KURA_OK) return rc;
    if ((cache == NULL || !cache->have_taproot) && !spent_ok(tx, spent)) return KURA_EINVAL;
    w_init_buf(&w, out, out_len);
    taproot_write(&w, tx, cache, spent, input_index, hash_type, leaf_hash, codesep_pos, annex,
                  annex_len);
    *written = w.pos;
    if (w.pos > out_len) {
        if (out_len > 0) memset(out, 0, out_len);
        return KURA_EINVAL;
    }
    return KURA_OK;
}
