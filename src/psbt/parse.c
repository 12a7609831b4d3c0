/* src/psbt/parse.c — reading a PSBT (BIP174 version 0, BIP370 version 2,
 * BIP371 taproot fields) and its base64 form.
 *
 * Every map is read whole first (so its keys can be checked for duplicates
 * in O(n log n)), then each record is handed to its map's field handler,
 * which checks the key data length and the value's form for the key type.
 * Nothing about the input is trusted: every length is checked against what
 * remains before it is used, and against the hard limits before anything
 * is allocated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "kura/hash.h"
#include "psbt_internal.h"

typedef struct rec {
    const uint8_t *key; /* the whole key */
    size_t key_len;
    uint64_t type;      /* the key type (a CompactSize at the key's start) */
    const uint8_t *kd;  /* key data: the key after the type */
    size_t kd_len;
    const uint8_t *val;
    size_t val_len;
} rec;

typedef struct parser {
    kura_reader r;
    rec *recs;           /* the current map's records (scratch) */
    size_t rec_cap;
    rec *sorted;         /* scratch for the duplicate check */
    size_t sorted_cap;
    size_t total_records;
    kura_error *err;
    char where[32];      /* "global", "input 3", "output 0" for messages */
} parser;

/* ---- field names, for messages a person reads ---- */

static const char *global_name(uint64_t t)
{
    switch (t) {
    case 0x00: return "PSBT_GLOBAL_UNSIGNED_TX";
    case 0x01: return "PSBT_GLOBAL_XPUB";
    case 0x02: return "PSBT_GLOBAL_TX_VERSION";
    case 0x03: return "PSBT_GLOBAL_FALLBACK_LOCKTIME";
    case 0x04: return "PSBT_GLOBAL_INPUT_COUNT";
    case 0x05: return "PSBT_GLOBAL_OUTPUT_COUNT";
    case 0x06: return "PSBT_GLOBAL_TX_MODIFIABLE";
    case 0xFB: return "PSBT_GLOBAL_VERSION";
    case 0xFC: return "PSBT_GLOBAL_PROPRIETARY";
    default: return "unknown";
    }
}

static const char *input_name(uint64_t t)
{
    static const char *const names[] = {
        "PSBT_IN_NON_WITNESS_UTXO", "PSBT_IN_WITNESS_UTXO", "PSBT_IN_PARTIAL_SIG",
        "PSBT_IN_SIGHASH_TYPE", "PSBT_IN_REDEEM_SCRIPT", "PSBT_IN_WITNESS_SCRIPT",
        "PSBT_IN_BIP32_DERIVATION", "PSBT_IN_FINAL_SCRIPTSIG", "PSBT_IN_FINAL_SCRIPTWITNESS",
        "PSBT_IN_POR_COMMITMENT", "PSBT_IN_RIPEMD160", "PSBT_IN_SHA256", "PSBT_IN_HASH160",
        "PSBT_IN_HASH256", "PSBT_IN_PREVIOUS_TXID", "PSBT_IN_OUTPUT_INDEX", "PSBT_IN_SEQUENCE",
        "PSBT_IN_REQUIRED_TIME_LOCKTIME", "PSBT_IN_REQUIRED_HEIGHT_LOCKTIME",
        "PSBT_IN_TAP_KEY_SIG", "PSBT_IN_TAP_SCRIPT_SIG", "PSBT_IN_TAP_LEAF_SCRIPT",
        "PSBT_IN_TAP_BIP32_DERIVATION", "PSBT_IN_TAP_INTERNAL_KEY", "PSBT_IN_TAP_MERKLE_ROOT"};
    if (t < sizeof(names) / sizeof(names[0])) return names[t];
    return t == 0xFC ? "PSBT_IN_PROPRIETARY" : "unknown";
}

static const char *output_name(uint64_t t)
{
    static const char *const names[] = {
        "PSBT_OUT_REDEEM_SCRIPT", "PSBT_OUT_WITNESS_SCRIPT", "PSBT_OUT_BIP32_DERIVATION",
        "PSBT_OUT_AMOUNT", "PSBT_OUT_SCRIPT", "PSBT_OUT_TAP_INTERNAL_KEY", "PSBT_OUT_TAP_TREE",
        "PSBT_OUT_TAP_BIP32_DERIVATION"};
    if (t < sizeof(names) / sizeof(names[0])) return names[t];
    return t == 0xFC ? "PSBT_OUT_PROPRIETARY" : "unknown";
}

/* ---- reading maps ---- */

static int cmp_rec(const void *a, const void *b)
{
    const rec *x = a, *y = b;
    return kura_psbt_i_cmp(x->key, x->key_len, y->key, y->key_len);
}

static int grow_scratch(rec **arr, size_t *cap, size_t need)
{
    size_t ncap = *cap == 0 ? 16 : *cap;
    rec *p;
    if (need <= *cap) return KURA_OK;
    while (ncap < need) {
        if (!kura_size_mul(ncap, 2, &ncap)) return KURA_ENOMEM;
    }
    if (ncap > SIZE_MAX / sizeof(rec)) return KURA_ENOMEM;
    p = realloc(*arr, ncap * sizeof(rec));
    if (p == NULL) return KURA_ENOMEM;
    *arr = p;
    *cap = ncap;
    return KURA_OK;
}

/* Reads one map's records (up to and including its 0x00 separator) into
 * p->recs and refuses duplicate keys (BIP174: "keys within each scope should
 * never be duplicated"). *count receives the number of records. */
static int read_map(parser *p, size_t *count)
{
    size_t n = 0;
    int rc;
    *count = 0;
    for (;;) {
        uint64_t klen, vlen, type;
        const uint8_t *key, *val;
        kura_reader kr;
        if (!kura_read_compact_size(&p->r, &klen))
            return kura_fail(p->err, KURA_EDATA, "psbt: %s: truncated (map not terminated)",
                             p->where);
        if (klen == 0) break;
        if (klen > KURA_PSBT_MAX_KEY)
            return kura_fail(p->err, KURA_ERANGE, "psbt: %s: key of %llu bytes over the limit",
                             p->where, (unsigned long long)klen);
        if (!kura_read_span(&p->r, &key, (size_t)klen))
            return kura_fail(p->err, KURA_EDATA, "psbt: %s: truncated key", p->where);
        kura_reader_init(&kr, key, (size_t)klen);
        if (!kura_read_compact_size(&kr, &type))
            return kura_fail(p->err, KURA_EDATA, "psbt: %s: malformed key type", p->where);
        if (!kura_read_compact_size(&p->r, &vlen))
            return kura_fail(p->err, KURA_EDATA, "psbt: %s: truncated value length", p->where);
        if (vlen > KURA_PSBT_MAX_VALUE)
            return kura_fail(p->err, KURA_ERANGE,
                             "psbt: %s: value of %llu bytes for key type 0x%02llx over the limit",
                             p->where, (unsigned long long)vlen, (unsigned long long)type);
        if (!kura_read_span(&p->r, &val, (size_t)vlen))
            return kura_fail(p->err, KURA_EDATA,
                             "psbt: %s: value for key type 0x%02llx is shorter than its stated "
                             "size",
                             p->where, (unsigned long long)type);
        if (++p->total_records > KURA_PSBT_MAX_RECORDS)
            return kura_fail(p->err, KURA_ERANGE, "psbt: more than %u key-value records",
                             KURA_PSBT_MAX_RECORDS);
        rc = grow_scratch(&p->recs, &p->rec_cap, n + 1);
        if (rc != KURA_OK) return rc;
        p->recs[n].key = key;
        p->recs[n].key_len = (size_t)klen;
        p->recs[n].type = type;
        p->recs[n].kd = kr.p;
        p->recs[n].kd_len = kr.left;
        p->recs[n].val = val;
        p->recs[n].val_len = (size_t)vlen;
        n++;
    }
    if (n > 1) {
        rc = grow_scratch(&p->sorted, &p->sorted_cap, n);
        if (rc != KURA_OK) return rc;
        memcpy(p->sorted, p->recs, n * sizeof(rec));
        qsort(p->sorted, n, sizeof(rec), cmp_rec);
        for (size_t i = 1; i < n; i++) {
            if (cmp_rec(&p->sorted[i - 1], &p->sorted[i]) == 0)
                return kura_fail(p->err, KURA_EDATA, "psbt: %s: duplicate key (type 0x%02llx)",
                                 p->where, (unsigned long long)p->sorted[i].type);
        }
    }
    *count = n;
    return KURA_OK;
}

/* ---- value helpers ---- */

static int bad_keydata(parser *p, const rec *x, const char *name, const char *want)
{
    return kura_fail(p->err, KURA_EDATA, "psbt: %s: %s key data must be %s, got %zu bytes",
                     p->where, name, want, x->kd_len);
}

static int bad_value(parser *p, const char *name, const char *why)
{
    return kura_fail(p->err, KURA_EDATA, "psbt: %s: %s value %s", p->where, name, why);
}

static int append_unknown(kura_psbt_kv **arr, size_t *count, const rec *x)
{
    size_t total;
    uint8_t *block;
    int rc;
    if (!kura_size_add(x->key_len, x->val_len, &total)) return KURA_ENOMEM;
    block = malloc(total);
    if (block == NULL) return KURA_ENOMEM;
    memcpy(block, x->key, x->key_len);
    if (x->val_len > 0) memcpy(block + x->key_len, x->val, x->val_len);
    rc = kura_psbt_i_insert((void **)arr, count, sizeof(**arr), *count);
    if (rc != KURA_OK) {
        free(block);
        return rc;
    }
    (*arr)[*count - 1].key = block;
    (*arr)[*count - 1].key_len = x->key_len;
    (*arr)[*count - 1].value = x->val_len > 0 ? block + x->key_len : NULL;
    (*arr)[*count - 1].value_len = x->val_len;
    return KURA_OK;
}

/* An unknown or proprietary record. BIP174 gives proprietary keys a form
 * (identifier, subtype); a malformed one is refused rather than carried. */
static int take_unknown(parser *p, kura_psbt_kv **arr, size_t *count, const rec *x)
{
    if (x->type == KURA_PSBT_PROPRIETARY) {
        kura_psbt_kv tmp = {(uint8_t *)(uintptr_t)x->key, x->key_len, NULL, 0};
        const uint8_t *id, *kd;
        size_t idl, kdl;
        uint64_t sub;
        if (kura_psbt_proprietary_key_decode(&id, &idl, &sub, &kd, &kdl, &tmp) != KURA_OK)
            return kura_fail(p->err, KURA_EDATA,
                             "psbt: %s: malformed proprietary key (identifier, subtype)",
                             p->where);
        if (x->val_len > KURA_PSBT_MAX_PROPRIETARY_VALUE)
            return kura_fail(p->err, KURA_ERANGE,
                             "psbt: %s: proprietary value of %zu bytes over the limit", p->where,
                             x->val_len);
    }
    return append_unknown(arr, count, x);
}

/* BIP174 key origin: 4-byte fingerprint, then 32-bit little-endian indexes. */
static int parse_origin(parser *p, kura_psbt_keyorigin *o, const uint8_t *v, size_t len,
                        const char *name)
{
    size_t n;
    if (len < 4 || len % 4 != 0) return bad_value(p, name, "is not a fingerprint and a path");
    n = (len - 4) / 4;
    memcpy(o->fingerprint, v, 4);
    o->path = NULL;
    o->path_len = 0;
    if (n > 0) {
        o->path = malloc(n * sizeof(uint32_t));
        if (o->path == NULL) return KURA_ENOMEM;
        for (size_t i = 0; i < n; i++) o->path[i] = kura_load_u32le(v + 4 + 4 * i);
        o->path_len = n;
    }
    return KURA_OK;
}

/* Keys must be points on the curve (kura_psbt_i_pubkey_valid,
 * kura_psbt_i_xonly_valid): a key that is not names nobody, and a record
 * under it is garbage a signer or finalizer would otherwise carry along. */
static bool pubkey_form(const uint8_t *k, size_t len)
{
    return kura_psbt_i_pubkey_valid(k, len);
}

static bool xonly_valid(const uint8_t *k)
{
    return kura_psbt_i_xonly_valid(k);
}

static int need_empty_kd(parser *p, const rec *x, const char *name)
{
    if (x->kd_len != 0) return bad_keydata(p, x, name, "empty");
    return KURA_OK;
}

static int read_u32_value(parser *p, const rec *x, const char *name, uint32_t *out)
{
    if (x->val_len != 4) return bad_value(p, name, "is not 4 bytes");
    *out = kura_load_u32le(x->val);
    return KURA_OK;
}

static int read_compact_value(parser *p, const rec *x, const char *name, uint64_t *out)
{
    kura_reader r;
    kura_reader_init(&r, x->val, x->val_len);
    if (!kura_read_compact_size(&r, out) || r.left != 0)
        return bad_value(p, name, "is not one canonical CompactSize");
    return KURA_OK;
}

static int copy_bytes(kura_bytes *dst, const uint8_t *v, size_t len)
{
    return kura_psbt_i_bytes_set(dst, v, len);
}

/* BIP371 PSBT_*_TAP_BIP32_DERIVATION value: CompactSize n, n leaf hashes,
 * then a key origin. */
static int parse_tap_bip32(parser *p, kura_psbt_tap_bip32 **arr, size_t *count, const rec *x,
                           const char *name)
{
    kura_reader r;
    uint64_t n;
    const uint8_t *hashes = NULL;
    kura_psbt_tap_bip32 t;
    int rc;
    memset(&t, 0, sizeof(t));
    if (x->kd_len != 32) return bad_keydata(p, x, name, "a 32-byte x-only key");
    if (!xonly_valid(x->kd)) return bad_keydata(p, x, name, "an x-only key on the curve");
    kura_reader_init(&r, x->val, x->val_len);
    if (!kura_read_compact_size(&r, &n) || n > r.left / 32 ||
        !kura_read_span(&r, &hashes, (size_t)n * 32))
        return bad_value(p, name, "has a malformed leaf hash list");
    memcpy(t.xonly, x->kd, 32);
    if (n > 0) {
        t.leaf_hashes = kura_memdup(hashes, (size_t)n * 32);
        if (t.leaf_hashes == NULL) return KURA_ENOMEM;
        t.leaf_hash_count = (size_t)n;
    }
    rc = parse_origin(p, &t.origin, r.p, r.left, name);
    if (rc == KURA_OK) rc = kura_psbt_i_insert((void **)arr, count, sizeof(**arr), *count);
    if (rc != KURA_OK) {
        kura_psbt_i_tap_bip32_clear(&t);
        return rc;
    }
    (*arr)[*count - 1] = t;
    return KURA_OK;
}

static int parse_bip32(parser *p, kura_psbt_bip32 **arr, size_t *count, const rec *x,
                       const char *name)
{
    kura_psbt_keyorigin o;
    int rc;
    if (!pubkey_form(x->kd, x->kd_len))
        return bad_keydata(p, x, name, "a 33- or 65-byte public key on the curve");
    rc = parse_origin(p, &o, x->val, x->val_len, name);
    if (rc != KURA_OK) return rc;
    rc = kura_psbt_i_insert((void **)arr, count, sizeof(**arr), *count);
    if (rc != KURA_OK) {
        kura_psbt_i_keyorigin_clear(&o);
        return rc;
    }
    memcpy((*arr)[*count - 1].pubkey, x->kd, x->kd_len);
    (*arr)[*count - 1].pubkey_len = x->kd_len;
    (*arr)[*count - 1].origin = o;
    return KURA_OK;
}

/* ---- the global map ---- */

/* Reads a version 0 PSBT's unsigned transaction. kura_tx_parse is not used:
 * BIP174 allows an unsigned tx with no inputs or outputs (two of its valid
 * vectors have them) which a network transaction parser must refuse, and
 * requires the legacy form (a 0x00 after the version is an input count). */
static int parse_unsigned_tx(parser *p, kura_psbt *psbt, const uint8_t *v, size_t len)
{
    kura_reader r;
    uint64_t nin, nout;
    const char *name = "PSBT_GLOBAL_UNSIGNED_TX";
    kura_reader_init(&r, v, len);
    if (!kura_read_u32le(&r, &psbt->tx_version) || !kura_read_compact_size(&r, &nin))
        return bad_value(p, name, "is truncated");
    if (nin > KURA_TX_MAX_INPUTS)
        return kura_fail(p->err, KURA_ERANGE, "psbt: global: unsigned tx has %llu inputs",
                         (unsigned long long)nin);
    if (nin > r.left / 41) return bad_value(p, name, "is truncated (inputs)");
    if (nin > 0) {
        psbt->inputs = calloc(kura_psbt_i_cap((size_t)nin), sizeof(*psbt->inputs));
        if (psbt->inputs == NULL) return KURA_ENOMEM;
    }
    psbt->input_count = (size_t)nin;
    for (size_t i = 0; i < psbt->input_count; i++) {
        kura_psbt_input *in = &psbt->inputs[i];
        uint64_t sl;
        kura_read_bytes(&r, in->prev_txid, 32);
        kura_read_u32le(&r, &in->prev_vout);
        if (!kura_read_compact_size(&r, &sl)) return bad_value(p, name, "is truncated");
        /* BIP174: "the transaction must be in the old serialization format
         * (without witnesses)" and its scriptSigs empty: signatures go in the
         * input maps. */
        if (sl != 0)
            return kura_fail(p->err, KURA_EDATA,
                             "psbt: global: unsigned tx input %zu has a non-empty scriptSig", i);
        if (!kura_read_u32le(&r, &in->sequence)) return bad_value(p, name, "is truncated");
        in->has_sequence = 1;
    }
    if (!kura_read_compact_size(&r, &nout)) return bad_value(p, name, "is truncated");
    if (nout > KURA_TX_MAX_OUTPUTS)
        return kura_fail(p->err, KURA_ERANGE, "psbt: global: unsigned tx has %llu outputs",
                         (unsigned long long)nout);
    if (nout > r.left / 9) return bad_value(p, name, "is truncated (outputs)");
    if (nout > 0) {
        psbt->outputs = calloc(kura_psbt_i_cap((size_t)nout), sizeof(*psbt->outputs));
        if (psbt->outputs == NULL) return KURA_ENOMEM;
    }
    psbt->output_count = (size_t)nout;
    for (size_t i = 0; i < psbt->output_count; i++) {
        kura_psbt_output *o = &psbt->outputs[i];
        uint64_t sl;
        const uint8_t *s;
        if (!kura_read_u64le(&r, &o->amount) || !kura_read_compact_size(&r, &sl) ||
            sl > r.left || !kura_read_span(&r, &s, (size_t)sl))
            return bad_value(p, name, "is truncated");
        if (o->amount > KURA_MAX_MONEY)
            return kura_fail(p->err, KURA_EDATA,
                             "psbt: global: unsigned tx output %zu amount over 21e6 BTC", i);
        if (copy_bytes(&o->script_pubkey, s, (size_t)sl) != KURA_OK) return KURA_ENOMEM;
    }
    if (!kura_read_u32le(&r, &psbt->locktime)) return bad_value(p, name, "is truncated");
    if (r.left != 0)
        return bad_value(p, name,
                         "has trailing bytes (not the legacy serialization without witnesses)");
    return KURA_OK;
}

typedef struct global_state {
    bool have_tx, have_tx_version, have_input_count, have_output_count;
    uint64_t input_count, output_count;
} global_state;

static int global_record(parser *p, kura_psbt *psbt, global_state *g, const rec *x)
{
    const char *name = global_name(x->type);
    int rc;
    /* BIP370: fields 0x02-0x06 exist only in version 2, and the unsigned tx
     * only in version 0. */
    if (x->type >= 0x02 && x->type <= 0x06 && psbt->version == 0)
        return kura_fail(p->err, KURA_EDATA, "psbt: global: %s is not allowed in version 0",
                         name);
    switch (x->type) {
    case KURA_PSBT_GLOBAL_UNSIGNED_TX:
        if ((rc = need_empty_kd(p, x, name)) != KURA_OK) return rc;
        if (psbt->version != 0)
            return kura_fail(p->err, KURA_EDATA, "psbt: global: %s is not allowed in version 2",
                             name);
        g->have_tx = true;
        return parse_unsigned_tx(p, psbt, x->val, x->val_len);
    case KURA_PSBT_GLOBAL_XPUB: {
        kura_psbt_keyorigin o;
        if (x->kd_len != 78) return bad_keydata(p, x, name, "a 78-byte extended key");
        /* BIP32 serialisation: the key is the last 33 bytes. */
        if (!pubkey_form(x->kd + 45, 33))
            return bad_keydata(p, x, name, "an extended public key whose key is on the curve");
        rc = parse_origin(p, &o, x->val, x->val_len, name);
        if (rc != KURA_OK) return rc;
        rc = kura_psbt_i_insert((void **)&psbt->xpubs, &psbt->xpub_count, sizeof(*psbt->xpubs),
                                psbt->xpub_count);
        if (rc != KURA_OK) {
            kura_psbt_i_keyorigin_clear(&o);
            return rc;
        }
        memcpy(psbt->xpubs[psbt->xpub_count - 1].xpub, x->kd, 78);
        psbt->xpubs[psbt->xpub_count - 1].origin = o;
        return KURA_OK;
    }
    case KURA_PSBT_GLOBAL_TX_VERSION:
        if ((rc = need_empty_kd(p, x, name)) != KURA_OK) return rc;
        g->have_tx_version = true;
        return read_u32_value(p, x, name, &psbt->tx_version);
    case KURA_PSBT_GLOBAL_FALLBACK_LOCKTIME:
        if ((rc = need_empty_kd(p, x, name)) != KURA_OK) return rc;
        psbt->has_fallback_locktime = 1;
        return read_u32_value(p, x, name, &psbt->locktime);
    case KURA_PSBT_GLOBAL_INPUT_COUNT:
        if ((rc = need_empty_kd(p, x, name)) != KURA_OK) return rc;
        g->have_input_count = true;
        return read_compact_value(p, x, name, &g->input_count);
    case KURA_PSBT_GLOBAL_OUTPUT_COUNT:
        if ((rc = need_empty_kd(p, x, name)) != KURA_OK) return rc;
        g->have_output_count = true;
        return read_compact_value(p, x, name, &g->output_count);
    case KURA_PSBT_GLOBAL_TX_MODIFIABLE:
        if ((rc = need_empty_kd(p, x, name)) != KURA_OK) return rc;
        if (x->val_len != 1) return bad_value(p, name, "is not 1 byte");
        psbt->has_tx_modifiable = 1;
        psbt->tx_modifiable = x->val[0];
        return KURA_OK;
    case KURA_PSBT_GLOBAL_VERSION:
        if ((rc = need_empty_kd(p, x, name)) != KURA_OK) return rc;
        if (x->val_len != 4) return bad_value(p, name, "is not 4 bytes");
        psbt->has_version_field = 1;
        return KURA_OK; /* read before the other records */
    default:
        return take_unknown(p, &psbt->unknowns, &psbt->unknown_count, x);
    }
}

/* ---- input maps ---- */

/* Bits of the input key types seen, for BIP370's required fields. */
#define SEEN(t) (1u << (t))

static int input_record(parser *p, kura_psbt *psbt, kura_psbt_input *in, const rec *x,
                        uint32_t *seen)
{
    const char *name = input_name(x->type);
    int rc;
    if (x->type >= KURA_PSBT_IN_PREVIOUS_TXID && x->type <= KURA_PSBT_IN_REQUIRED_HEIGHT_LOCKTIME &&
        psbt->version == 0)
        return kura_fail(p->err, KURA_EDATA, "psbt: %s: %s is not allowed in version 0",
                         p->where, name);
    if (x->type <= KURA_PSBT_IN_TAP_MERKLE_ROOT) *seen |= SEEN(x->type);
    switch (x->type) {
    case KURA_PSBT_IN_NON_WITNESS_UTXO: {
        kura_error e;
        if ((rc = need_empty_kd(p, x, name)) != KURA_OK) return rc;
        /* The whole previous transaction, witness form allowed. */
        rc = kura_tx_parse(&in->non_witness_utxo, x->val, x->val_len, KURA_TX_WITNESS, &e);
        if (rc == KURA_ENOMEM) return rc;
        if (rc != KURA_OK)
            return kura_fail(p->err, KURA_EDATA, "psbt: %s: %s is not a transaction (%s)",
                             p->where, name, e.message);
        return KURA_OK;
    }
    case KURA_PSBT_IN_WITNESS_UTXO: {
        kura_reader r;
        uint64_t sl;
        const uint8_t *s;
        if ((rc = need_empty_kd(p, x, name)) != KURA_OK) return rc;
        kura_reader_init(&r, x->val, x->val_len);
        if (!kura_read_u64le(&r, &in->witness_utxo.amount) || !kura_read_compact_size(&r, &sl) ||
            sl != r.left || !kura_read_span(&r, &s, (size_t)sl))
            return bad_value(p, name, "is not an amount and a script");
        if (in->witness_utxo.amount > KURA_MAX_MONEY)
            return bad_value(p, name, "has an amount over 21e6 BTC");
        in->has_witness_utxo = 1;
        return copy_bytes(&in->witness_utxo.script_pubkey, s, (size_t)sl);
    }
    case KURA_PSBT_IN_PARTIAL_SIG: {
        kura_psbt_partial_sig *ps;
        if (!pubkey_form(x->kd, x->kd_len))
            return bad_keydata(p, x, name, "a 33- or 65-byte public key on the curve");
        if (x->val_len < 1 || x->val_len > 73)
            return bad_value(p, name, "is not a DER signature and a sighash type");
        rc = kura_psbt_i_insert((void **)&in->partial_sigs, &in->partial_sig_count,
                                sizeof(*in->partial_sigs), in->partial_sig_count);
        if (rc != KURA_OK) return rc;
        ps = &in->partial_sigs[in->partial_sig_count - 1];
        memcpy(ps->pubkey, x->kd, x->kd_len);
        ps->pubkey_len = x->kd_len;
        memcpy(ps->sig, x->val, x->val_len);
        ps->sig_len = x->val_len;
        return KURA_OK;
    }
    case KURA_PSBT_IN_SIGHASH_TYPE:
        if ((rc = need_empty_kd(p, x, name)) != KURA_OK) return rc;
        in->has_sighash_type = 1;
        return read_u32_value(p, x, name, &in->sighash_type);
    case KURA_PSBT_IN_REDEEM_SCRIPT:
        if ((rc = need_empty_kd(p, x, name)) != KURA_OK) return rc;
        in->has_redeem_script = 1;
        return copy_bytes(&in->redeem_script, x->val, x->val_len);
    case KURA_PSBT_IN_WITNESS_SCRIPT:
        if ((rc = need_empty_kd(p, x, name)) != KURA_OK) return rc;
        in->has_witness_script = 1;
        return copy_bytes(&in->witness_script, x->val, x->val_len);
    case KURA_PSBT_IN_BIP32_DERIVATION:
        return parse_bip32(p, &in->bip32, &in->bip32_count, x, name);
    case KURA_PSBT_IN_FINAL_SCRIPTSIG:
        if ((rc = need_empty_kd(p, x, name)) != KURA_OK) return rc;
        in->has_final_script_sig = 1;
        return copy_bytes(&in->final_script_sig, x->val, x->val_len);
    case KURA_PSBT_IN_FINAL_SCRIPTWITNESS: {
        kura_reader r;
        uint64_t n;
        if ((rc = need_empty_kd(p, x, name)) != KURA_OK) return rc;
        kura_reader_init(&r, x->val, x->val_len);
        /* Each item takes at least its length byte: bound n before allocating. */
        if (!kura_read_compact_size(&r, &n) || n > r.left)
            return bad_value(p, name, "is not a witness stack");
        if (n > KURA_TX_MAX_WITNESS_ITEMS)
            return kura_fail(p->err, KURA_ERANGE, "psbt: %s: %s has %llu items", p->where, name,
                             (unsigned long long)n);
        in->has_final_script_witness = 1;
        if (n > 0) {
            in->final_script_witness = calloc((size_t)n, sizeof(kura_bytes));
            if (in->final_script_witness == NULL) return KURA_ENOMEM;
        }
        for (size_t i = 0; i < (size_t)n; i++) {
            uint64_t il;
            const uint8_t *item;
            if (!kura_read_compact_size(&r, &il) || il > r.left ||
                !kura_read_span(&r, &item, (size_t)il))
                return bad_value(p, name, "is not a witness stack");
            in->final_script_witness_count = i + 1;
            if (copy_bytes(&in->final_script_witness[i], item, (size_t)il) != KURA_OK)
                return KURA_ENOMEM;
        }
        if (r.left != 0) return bad_value(p, name, "has trailing bytes");
        return KURA_OK;
    }
    case KURA_PSBT_IN_RIPEMD160:
    case KURA_PSBT_IN_SHA256:
    case KURA_PSBT_IN_HASH160:
    case KURA_PSBT_IN_HASH256: {
        size_t hl = (x->type == KURA_PSBT_IN_RIPEMD160 || x->type == KURA_PSBT_IN_HASH160) ? 20
                                                                                           : 32;
        uint8_t h[32];
        kura_psbt_preimage *pi;
        if (x->kd_len != hl) return bad_keydata(p, x, name, hl == 20 ? "20 bytes" : "32 bytes");
        switch (x->type) {
        case KURA_PSBT_IN_RIPEMD160: rc = kura_ripemd160(h, x->val, x->val_len); break;
        case KURA_PSBT_IN_SHA256: kura_sha256(h, x->val, x->val_len); rc = KURA_OK; break;
        case KURA_PSBT_IN_HASH160: rc = kura_hash160(h, x->val, x->val_len); break;
        default: kura_sha256d(h, x->val, x->val_len); rc = KURA_OK; break;
        }
        if (rc != KURA_OK) return rc;
        if (memcmp(h, x->kd, hl) != 0) return bad_value(p, name, "does not hash to its key");
        rc = kura_psbt_i_insert((void **)&in->preimages, &in->preimage_count,
                                sizeof(*in->preimages), in->preimage_count);
        if (rc != KURA_OK) return rc;
        pi = &in->preimages[in->preimage_count - 1];
        pi->type = (uint8_t)x->type;
        memcpy(pi->hash, x->kd, hl);
        pi->hash_len = hl;
        return copy_bytes(&pi->preimage, x->val, x->val_len);
    }
    case KURA_PSBT_IN_PREVIOUS_TXID:
        if ((rc = need_empty_kd(p, x, name)) != KURA_OK) return rc;
        if (x->val_len != 32) return bad_value(p, name, "is not 32 bytes");
        memcpy(in->prev_txid, x->val, 32);
        return KURA_OK;
    case KURA_PSBT_IN_OUTPUT_INDEX:
        if ((rc = need_empty_kd(p, x, name)) != KURA_OK) return rc;
        return read_u32_value(p, x, name, &in->prev_vout);
    case KURA_PSBT_IN_SEQUENCE:
        if ((rc = need_empty_kd(p, x, name)) != KURA_OK) return rc;
        in->has_sequence = 1;
        return read_u32_value(p, x, name, &in->sequence);
    case KURA_PSBT_IN_REQUIRED_TIME_LOCKTIME:
        if ((rc = need_empty_kd(p, x, name)) != KURA_OK) return rc;
        if ((rc = read_u32_value(p, x, name, &in->required_time_locktime)) != KURA_OK) return rc;
        /* BIP370: a time lock is >= 500000000 (a height below). */
        if (in->required_time_locktime < 500000000u)
            return bad_value(p, name, "is below 500000000 (a height, not a time)");
        in->has_required_time_locktime = 1;
        return KURA_OK;
    case KURA_PSBT_IN_REQUIRED_HEIGHT_LOCKTIME:
        if ((rc = need_empty_kd(p, x, name)) != KURA_OK) return rc;
        if ((rc = read_u32_value(p, x, name, &in->required_height_locktime)) != KURA_OK)
            return rc;
        /* BIP370: "must be greater than 0 and less than 500000000". */
        if (in->required_height_locktime == 0 || in->required_height_locktime >= 500000000u)
            return bad_value(p, name, "is not in 1..499999999");
        in->has_required_height_locktime = 1;
        return KURA_OK;
    case KURA_PSBT_IN_TAP_KEY_SIG:
        if ((rc = need_empty_kd(p, x, name)) != KURA_OK) return rc;
        /* BIP371: a 64- or 65-byte BIP340 signature. */
        if (x->val_len != 64 && x->val_len != 65) return bad_value(p, name, "is not 64 or 65 bytes");
        memcpy(in->tap_key_sig, x->val, x->val_len);
        in->tap_key_sig_len = x->val_len;
        return KURA_OK;
    case KURA_PSBT_IN_TAP_SCRIPT_SIG: {
        kura_psbt_tap_script_sig *ts;
        if (x->kd_len != 64)
            return bad_keydata(p, x, name, "a 32-byte x-only key and a 32-byte leaf hash");
        if (!xonly_valid(x->kd)) return bad_keydata(p, x, name, "an x-only key on the curve");
        if (x->val_len != 64 && x->val_len != 65) return bad_value(p, name, "is not 64 or 65 bytes");
        rc = kura_psbt_i_insert((void **)&in->tap_script_sigs, &in->tap_script_sig_count,
                                sizeof(*in->tap_script_sigs), in->tap_script_sig_count);
        if (rc != KURA_OK) return rc;
        ts = &in->tap_script_sigs[in->tap_script_sig_count - 1];
        memcpy(ts->xonly, x->kd, 32);
        memcpy(ts->leaf_hash, x->kd + 32, 32);
        memcpy(ts->sig, x->val, x->val_len);
        ts->sig_len = x->val_len;
        return KURA_OK;
    }
    case KURA_PSBT_IN_TAP_LEAF_SCRIPT: {
        kura_psbt_tap_leaf_script *l;
        /* BIP341 control block: 33 + 32m bytes with m <= 128. */
        if (x->kd_len < 33 || x->kd_len > 33 + 32 * 128 || (x->kd_len - 33) % 32 != 0)
            return bad_keydata(p, x, name, "a control block of 33+32m bytes (m <= 128)");
        if (!xonly_valid(x->kd + 1))
            return bad_keydata(p, x, name, "a control block whose internal key is on the curve");
        if (x->val_len < 1) return bad_value(p, name, "has no leaf version");
        rc = kura_psbt_i_insert((void **)&in->tap_leaf_scripts, &in->tap_leaf_script_count,
                                sizeof(*in->tap_leaf_scripts), in->tap_leaf_script_count);
        if (rc != KURA_OK) return rc;
        l = &in->tap_leaf_scripts[in->tap_leaf_script_count - 1];
        l->leaf_version = x->val[x->val_len - 1];
        if (copy_bytes(&l->control_block, x->kd, x->kd_len) != KURA_OK ||
            copy_bytes(&l->script, x->val, x->val_len - 1) != KURA_OK)
            return KURA_ENOMEM;
        return KURA_OK;
    }
    case KURA_PSBT_IN_TAP_BIP32_DERIVATION:
        return parse_tap_bip32(p, &in->tap_bip32, &in->tap_bip32_count, x, name);
    case KURA_PSBT_IN_TAP_INTERNAL_KEY:
        if ((rc = need_empty_kd(p, x, name)) != KURA_OK) return rc;
        if (x->val_len != 32) return bad_value(p, name, "is not a 32-byte x-only key");
        if (!xonly_valid(x->val)) return bad_value(p, name, "is not an x-only key on the curve");
        memcpy(in->tap_internal_key, x->val, 32);
        in->has_tap_internal_key = 1;
        return KURA_OK;
    case KURA_PSBT_IN_TAP_MERKLE_ROOT:
        if ((rc = need_empty_kd(p, x, name)) != KURA_OK) return rc;
        if (x->val_len != 32) return bad_value(p, name, "is not 32 bytes");
        memcpy(in->tap_merkle_root, x->val, 32);
        in->has_tap_merkle_root = 1;
        return KURA_OK;
    default:
        return take_unknown(p, &in->unknowns, &in->unknown_count, x);
    }
}

/* ---- output maps ---- */

bool kura_psbt_i_tap_tree_complete(const kura_psbt_tap_leaf *leaves, size_t count)
{
    /* Depth-first leaves: keep the depths of the subtrees not yet joined to
     * their sibling. Two neighbours at the same depth join into their parent
     * one level up. The tree is complete when exactly the root (depth 0)
     * remains. A new node must be deeper than the node before it on the stack,
     * or it could not be that node's right-hand sibling's descendant. */
    uint8_t stack[130];
    size_t top = 0;
    for (size_t i = 0; i < count; i++) {
        unsigned d = leaves[i].depth;
        if (d > 128) return false;
        while (top > 0 && stack[top - 1] == d) {
            if (d == 0) return false;
            top--;
            d--;
        }
        if (top > 0 && stack[top - 1] >= d) return false;
        if (top >= sizeof(stack)) return false;
        stack[top++] = (uint8_t)d;
    }
    return top == 1 && stack[0] == 0;
}

static int parse_tap_tree(parser *p, kura_psbt_output *o, const rec *x, const char *name)
{
    kura_reader r;
    kura_reader_init(&r, x->val, x->val_len);
    if (x->val_len == 0) return bad_value(p, name, "is empty");
    while (r.left > 0) {
        uint8_t depth, ver;
        uint64_t sl;
        const uint8_t *s;
        kura_psbt_tap_leaf *l;
        int rc;
        if (!kura_read_u8(&r, &depth) || !kura_read_u8(&r, &ver) ||
            !kura_read_compact_size(&r, &sl) || sl > r.left || !kura_read_span(&r, &s, (size_t)sl))
            return bad_value(p, name, "is truncated");
        /* BIP371: depth at most 128 (BIP341's control block limit); the leaf
         * version is a BIP341 leaf version, so even. */
        if (depth > 128) return bad_value(p, name, "has a leaf deeper than 128");
        if ((ver & 1) != 0) return bad_value(p, name, "has an odd leaf version");
        rc = kura_psbt_i_insert((void **)&o->tap_tree, &o->tap_tree_count, sizeof(*o->tap_tree),
                                o->tap_tree_count);
        if (rc != KURA_OK) return rc;
        l = &o->tap_tree[o->tap_tree_count - 1];
        l->depth = depth;
        l->leaf_version = ver;
        if (copy_bytes(&l->script, s, (size_t)sl) != KURA_OK) return KURA_ENOMEM;
    }
    if (!kura_psbt_i_tap_tree_complete(o->tap_tree, o->tap_tree_count))
        return bad_value(p, name, "is not a complete binary tree");
    return KURA_OK;
}

static int output_record(parser *p, kura_psbt *psbt, kura_psbt_output *o, const rec *x,
                         uint32_t *seen)
{
    const char *name = output_name(x->type);
    int rc;
    if ((x->type == KURA_PSBT_OUT_AMOUNT || x->type == KURA_PSBT_OUT_SCRIPT) && psbt->version == 0)
        return kura_fail(p->err, KURA_EDATA, "psbt: %s: %s is not allowed in version 0",
                         p->where, name);
    if (x->type <= KURA_PSBT_OUT_TAP_BIP32_DERIVATION) *seen |= SEEN(x->type);
    switch (x->type) {
    case KURA_PSBT_OUT_REDEEM_SCRIPT:
        if ((rc = need_empty_kd(p, x, name)) != KURA_OK) return rc;
        o->has_redeem_script = 1;
        return copy_bytes(&o->redeem_script, x->val, x->val_len);
    case KURA_PSBT_OUT_WITNESS_SCRIPT:
        if ((rc = need_empty_kd(p, x, name)) != KURA_OK) return rc;
        o->has_witness_script = 1;
        return copy_bytes(&o->witness_script, x->val, x->val_len);
    case KURA_PSBT_OUT_BIP32_DERIVATION:
        return parse_bip32(p, &o->bip32, &o->bip32_count, x, name);
    case KURA_PSBT_OUT_AMOUNT:
        if ((rc = need_empty_kd(p, x, name)) != KURA_OK) return rc;
        if (x->val_len != 8) return bad_value(p, name, "is not 8 bytes");
        o->amount = kura_load_u64le(x->val);
        /* BIP370: a signed 64-bit amount; negative or over the money supply
         * is no amount at all. */
        if (o->amount > KURA_MAX_MONEY) return bad_value(p, name, "is over 21e6 BTC");
        return KURA_OK;
    case KURA_PSBT_OUT_SCRIPT:
        if ((rc = need_empty_kd(p, x, name)) != KURA_OK) return rc;
        return copy_bytes(&o->script_pubkey, x->val, x->val_len);
    case KURA_PSBT_OUT_TAP_INTERNAL_KEY:
        if ((rc = need_empty_kd(p, x, name)) != KURA_OK) return rc;
        if (x->val_len != 32) return bad_value(p, name, "is not a 32-byte x-only key");
        if (!xonly_valid(x->val)) return bad_value(p, name, "is not an x-only key on the curve");
        memcpy(o->tap_internal_key, x->val, 32);
        o->has_tap_internal_key = 1;
        return KURA_OK;
    case KURA_PSBT_OUT_TAP_TREE:
        if ((rc = need_empty_kd(p, x, name)) != KURA_OK) return rc;
        return parse_tap_tree(p, o, x, name);
    case KURA_PSBT_OUT_TAP_BIP32_DERIVATION:
        return parse_tap_bip32(p, &o->tap_bip32, &o->tap_bip32_count, x, name);
    default:
        return take_unknown(p, &o->unknowns, &o->unknown_count, x);
    }
}

/* ---- the whole PSBT ---- */

static int parse_global(parser *p, kura_psbt *psbt)
{
    global_state g;
    size_t n;
    int rc;
    memset(&g, 0, sizeof(g));
    snprintf(p->where, sizeof(p->where), "global");
    rc = read_map(p, &n);
    if (rc != KURA_OK) return rc;
    /* The version decides which fields are allowed, so find it first. */
    psbt->version = 0;
    for (size_t i = 0; i < n; i++) {
        const rec *x = &p->recs[i];
        if (x->type == KURA_PSBT_GLOBAL_VERSION && x->val_len == 4) {
            psbt->version = kura_load_u32le(x->val);
            if (psbt->version != 0 && psbt->version != 2)
                return kura_fail(p->err, KURA_EDATA, "psbt: unsupported PSBT version %u",
                                 (unsigned)psbt->version);
        }
    }
    psbt->tx_version = 0;
    for (size_t i = 0; i < n; i++) {
        rc = global_record(p, psbt, &g, &p->recs[i]);
        if (rc != KURA_OK) return rc;
    }
    if (psbt->version == 0) {
        if (!g.have_tx)
            return kura_fail(p->err, KURA_EDATA,
                             "psbt: global: version 0 without PSBT_GLOBAL_UNSIGNED_TX");
        return KURA_OK;
    }
    /* BIP370: version 2 requires these. */
    if (!g.have_tx_version)
        return kura_fail(p->err, KURA_EDATA, "psbt: global: version 2 without %s",
                         global_name(KURA_PSBT_GLOBAL_TX_VERSION));
    if (!g.have_input_count)
        return kura_fail(p->err, KURA_EDATA, "psbt: global: version 2 without %s",
                         global_name(KURA_PSBT_GLOBAL_INPUT_COUNT));
    if (!g.have_output_count)
        return kura_fail(p->err, KURA_EDATA, "psbt: global: version 2 without %s",
                         global_name(KURA_PSBT_GLOBAL_OUTPUT_COUNT));
    if (g.input_count > KURA_TX_MAX_INPUTS || g.output_count > KURA_TX_MAX_OUTPUTS)
        return kura_fail(p->err, KURA_ERANGE, "psbt: global: %llu inputs, %llu outputs",
                         (unsigned long long)g.input_count, (unsigned long long)g.output_count);
    /* Every map takes at least one byte: refuse counts the data cannot hold
     * before allocating for them. */
    if (g.input_count + g.output_count > p->r.left)
        return kura_fail(p->err, KURA_EDATA,
                         "psbt: global: %llu input and %llu output maps do not fit in the data",
                         (unsigned long long)g.input_count, (unsigned long long)g.output_count);
    if (g.input_count > 0) {
        psbt->inputs = calloc(kura_psbt_i_cap((size_t)g.input_count), sizeof(*psbt->inputs));
        if (psbt->inputs == NULL) return KURA_ENOMEM;
    }
    psbt->input_count = (size_t)g.input_count;
    for (size_t i = 0; i < psbt->input_count; i++) psbt->inputs[i].sequence = 0xffffffffu;
    if (g.output_count > 0) {
        psbt->outputs = calloc(kura_psbt_i_cap((size_t)g.output_count), sizeof(*psbt->outputs));
        if (psbt->outputs == NULL) return KURA_ENOMEM;
    }
    psbt->output_count = (size_t)g.output_count;
    return KURA_OK;
}

static int parse_body(parser *p, kura_psbt *psbt)
{
    static const uint8_t magic[5] = {'p', 's', 'b', 't', 0xff};
    const uint8_t *m;
    size_t n;
    int rc;
    if (!kura_read_span(&p->r, &m, 5) || memcmp(m, magic, 5) != 0)
        return kura_fail(p->err, KURA_EDATA, "psbt: no PSBT magic (\"psbt\" 0xff)");
    rc = parse_global(p, psbt);
    if (rc != KURA_OK) return rc;
    for (size_t i = 0; i < psbt->input_count; i++) {
        uint32_t seen = 0;
        snprintf(p->where, sizeof(p->where), "input %zu", i);
        if (p->r.left == 0)
            return kura_fail(p->err, KURA_EDATA, "psbt: %zu input maps for %zu inputs", i,
                             psbt->input_count);
        rc = read_map(p, &n);
        if (rc != KURA_OK) return rc;
        for (size_t j = 0; j < n; j++) {
            rc = input_record(p, psbt, &psbt->inputs[i], &p->recs[j], &seen);
            if (rc != KURA_OK) return rc;
        }
        if (psbt->version == 2) {
            if (!(seen & SEEN(KURA_PSBT_IN_PREVIOUS_TXID)))
                return kura_fail(p->err, KURA_EDATA, "psbt: %s: version 2 without %s", p->where,
                                 input_name(KURA_PSBT_IN_PREVIOUS_TXID));
            if (!(seen & SEEN(KURA_PSBT_IN_OUTPUT_INDEX)))
                return kura_fail(p->err, KURA_EDATA, "psbt: %s: version 2 without %s", p->where,
                                 input_name(KURA_PSBT_IN_OUTPUT_INDEX));
        }
    }
    for (size_t i = 0; i < psbt->output_count; i++) {
        uint32_t seen = 0;
        snprintf(p->where, sizeof(p->where), "output %zu", i);
        if (p->r.left == 0)
            return kura_fail(p->err, KURA_EDATA, "psbt: %zu output maps for %zu outputs", i,
                             psbt->output_count);
        rc = read_map(p, &n);
        if (rc != KURA_OK) return rc;
        for (size_t j = 0; j < n; j++) {
            rc = output_record(p, psbt, &psbt->outputs[i], &p->recs[j], &seen);
            if (rc != KURA_OK) return rc;
        }
        if (psbt->version == 2) {
            if (!(seen & SEEN(KURA_PSBT_OUT_AMOUNT)))
                return kura_fail(p->err, KURA_EDATA, "psbt: %s: version 2 without %s", p->where,
                                 output_name(KURA_PSBT_OUT_AMOUNT));
            if (!(seen & SEEN(KURA_PSBT_OUT_SCRIPT)))
                return kura_fail(p->err, KURA_EDATA, "psbt: %s: version 2 without %s", p->where,
                                 output_name(KURA_PSBT_OUT_SCRIPT));
        }
    }
    if (p->r.left != 0)
        return kura_fail(p->err, KURA_EDATA, "psbt: %zu bytes after the last output map",
                         p->r.left);
    return KURA_OK;
}

int kura_psbt_parse(kura_psbt **out, const uint8_t *bytes, size_t len, kura_error *err)
{
    parser p;
    kura_psbt *psbt;
    int rc;
    if (out == NULL) return kura_fail(err, KURA_EINVAL, "psbt: no output pointer");
    *out = NULL;
    if (bytes == NULL && len > 0) return kura_fail(err, KURA_EINVAL, "psbt: NULL input");
    if (len > KURA_PSBT_MAX_SIZE)
        return kura_fail(err, KURA_ERANGE, "psbt: %zu bytes, over the %u-byte limit", len,
                         KURA_PSBT_MAX_SIZE);
    psbt = kura_psbt_i_alloc(0);
    if (psbt == NULL) return kura_fail(err, KURA_ENOMEM, "psbt: out of memory");
    memset(&p, 0, sizeof(p));
    kura_reader_init(&p.r, bytes, len);
    p.err = err;
    rc = parse_body(&p, psbt);
    free(p.recs);
    free(p.sorted);
    if (rc != KURA_OK) {
        if (rc == KURA_ENOMEM) kura_fail(err, KURA_ENOMEM, "psbt: out of memory");
        kura_psbt_free(psbt);
        return rc;
    }
    *out = psbt;
    return KURA_OK;
}

int kura_psbt_from_base64(kura_psbt **out, const char *b64, size_t b64_len, kura_error *err)
{
    uint8_t *bin;
    size_t max, bin_len = 0;
    const char *end = NULL;
    int rc;
    if (out == NULL) return kura_fail(err, KURA_EINVAL, "psbt: no output pointer");
    *out = NULL;
    if (b64 == NULL && b64_len > 0) return kura_fail(err, KURA_EINVAL, "psbt: NULL input");
    /* Four characters carry three bytes: refuse text too long for the limit
     * before allocating anything for it. */
    if (b64_len / 4 > KURA_PSBT_MAX_SIZE / 3 + 1)
        return kura_fail(err, KURA_ERANGE, "psbt: base64 text of %zu chars over the limit",
                         b64_len);
    max = b64_len / 4 * 3 + 3;
    bin = malloc(max);
    if (bin == NULL) return kura_fail(err, KURA_ENOMEM, "psbt: out of memory");
    if (b64_len == 0 ||
        sodium_base642bin(bin, max, b64, b64_len, NULL, &bin_len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != b64 + b64_len) {
        free(bin);
        return kura_fail(err, KURA_EDATA, "psbt: not valid base64");
    }
    rc = kura_psbt_parse(out, bin, bin_len, err);
    free(bin);
    return rc;
}
