/* src/wallet/verify.c — checks every signature a PSBT or a signed transaction
 * holds against signature hashes computed here, from the transaction and the
 * outputs it spends.
 *
 * This is deliberately written apart from the PSBT signer and finalizer
 * (src/psbt): it has its own script parsing and its own view of what an input
 * spends, so that a bug in one does not hide in the other. Interop tests use
 * it to check the signatures other implementations produce. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kura/encoding.h"
#include "kura/hash.h"
#include "kura/keys.h"
#include "kura/script.h"
#include "kura/sighash.h"
#include "kura/wallet.h"

#define OP_PUSHDATA4 0x4e
#define OP_1 0x51
#define OP_16 0x60
#define OP_NUMEQUAL 0x9c
#define OP_CODESEPARATOR 0xab
#define OP_CHECKSIG 0xac
#define OP_CHECKMULTISIG 0xae
#define OP_CHECKSIGADD 0xba

#define TAPSCRIPT_LEAF 0xc0
#define ANNEX_TAG 0x50
#define MULTISIG_MAX_KEYS 20   /* CHECKMULTISIG's limit */
#define MULTI_A_MAX_KEYS 999   /* BIP387 */
#define CONTROL_BLOCK_MAX (33 + 32 * 128)

/* What an input spends, as far as its signatures are concerned. */
typedef enum spend_kind {
    SPEND_LEGACY_PKH = 1, /* P2PKH: legacy sighash, P2PKH script code */
    SPEND_LEGACY_SH,      /* P2SH, not segwit: legacy sighash over the redeem script */
    SPEND_V0_PKH,         /* P2WPKH, also in P2SH: BIP143, P2PKH script code */
    SPEND_V0_SH,          /* P2WSH, also in P2SH: BIP143 over the witness script */
    SPEND_TAPROOT         /* P2TR: BIP341/342 */
} spend_kind;

typedef struct spend {
    spend_kind kind;
    int nested;             /* wrapped in P2SH */
    const uint8_t *program; /* PKH kinds: the 20-byte key hash; TAPROOT: the output key */
    const uint8_t *script;  /* SH kinds: the script signatures commit to */
    size_t script_len;
    uint8_t code[25];       /* PKH kinds: the P2PKH script code (BIP143) */
    size_t code_len;
} spend;

/* State shared by the checks of one transaction. */
typedef struct verifier {
    const kura_ctx *ctx;
    const kura_tx *tx;
    const kura_txout *spent; /* tx->input_count entries (those not known are zero) */
    const uint8_t *have;     /* have[i]: spent[i] is known */
    int have_all;            /* every input's spent output is known (BIP341 needs it) */
    kura_sighash_cache cache;
    size_t checked;          /* signatures verified so far */
} verifier;

/* Hex of a key for messages: 65 bytes at most, so 131 characters. */
typedef struct key_text {
    char s[131];
} key_text;

static key_text key_hex(const uint8_t *key, size_t len)
{
    key_text t;
    if (len > 65) len = 65;
    if (kura_hex_encode(t.s, sizeof(t.s), key, len) != KURA_OK) t.s[0] = '\0';
    return t;
}

/* ---- scripts ---- */

static int is_push(uint8_t op)
{
    return op <= OP_PUSHDATA4;
}

/* 1 if the script holds OP_CODESEPARATOR as an opcode (or does not parse):
 * signatures over such scripts commit to a position kura does not track. */
static int has_codeseparator(const uint8_t *s, size_t len)
{
    size_t pos = 0;
    uint8_t op;
    const uint8_t *d;
    size_t dl;
    while (pos < len) {
        if (!kura_script_next_op(s, len, &pos, &op, &d, &dl)) return 1;
        if (op == OP_CODESEPARATOR) return 1;
    }
    return 0;
}

/* 1 if the script pushes exactly key[0..key_len) as one item. */
static int pushes_key(const uint8_t *s, size_t len, const uint8_t *key, size_t key_len)
{
    size_t pos = 0, dl;
    uint8_t op;
    const uint8_t *d;
    while (pos < len && kura_script_next_op(s, len, &pos, &op, &d, &dl))
        if (is_push(op) && dl == key_len && memcmp(d, key, key_len) == 0) return 1;
    return 0;
}

/* A small number as scripts write it: OP_1..OP_16, or a minimal push of 1-2
 * bytes (values 17 and up, as BIP387 and Bitcoin Core write them). */
static int small_number(uint8_t op, const uint8_t *d, size_t dl, unsigned *out)
{
    if (op >= OP_1 && op <= OP_16) {
        *out = (unsigned)(op - OP_1 + 1);
        return 1;
    }
    if (op == 0 || !is_push(op) || dl == 0 || dl > 2 || (d[dl - 1] & 0x80) != 0) return 0;
    if (d[dl - 1] == 0) return 0; /* not minimal (and 0 is not a threshold) */
    *out = dl == 1 ? (unsigned)d[0] : (unsigned)d[0] | ((unsigned)d[1] << 8);
    return *out > 16;
}

/* OP_m <33/65-byte keys> OP_n OP_CHECKMULTISIG, or <key> OP_CHECKSIG (m = n = 1). */
typedef struct multisig {
    unsigned m;
    size_t n;
    const uint8_t *keys[MULTISIG_MAX_KEYS];
    size_t key_lens[MULTISIG_MAX_KEYS];
    int single; /* <key> OP_CHECKSIG */
} multisig;

static int parse_multisig(multisig *ms, const uint8_t *s, size_t len)
{
    size_t pos = 0, dl;
    uint8_t op;
    const uint8_t *d;
    unsigned n_declared;
    memset(ms, 0, sizeof(*ms));
    if (!kura_script_next_op(s, len, &pos, &op, &d, &dl)) return 0;
    if (is_push(op) && (dl == 33 || dl == 65)) {
        ms->keys[0] = d;
        ms->key_lens[0] = dl;
        if (!kura_script_next_op(s, len, &pos, &op, &d, &dl) || op != OP_CHECKSIG || pos != len) return 0;
        ms->m = 1;
        ms->n = 1;
        ms->single = 1;
        return 1;
    }
    if (!small_number(op, d, dl, &ms->m)) return 0;
    for (;;) {
        if (!kura_script_next_op(s, len, &pos, &op, &d, &dl)) return 0;
        if (!is_push(op) || !(dl == 33 || dl == 65)) break;
        if (ms->n == MULTISIG_MAX_KEYS) return 0;
        ms->keys[ms->n] = d;
        ms->key_lens[ms->n] = dl;
        ms->n++;
    }
    if (!small_number(op, d, dl, &n_declared) || n_declared != ms->n) return 0;
    if (ms->m < 1 || ms->m > ms->n) return 0;
    if (!kura_script_next_op(s, len, &pos, &op, &d, &dl) || op != OP_CHECKMULTISIG || pos != len) return 0;
    return 1;
}

/* <x1> OP_CHECKSIG [<xi> OP_CHECKSIGADD]... <m> OP_NUMEQUAL (multi_a), or
 * <x> OP_CHECKSIG (m = n = 1). keys[i] points at key i (32 bytes) in s:
 * with 34-byte steps, key i is at s + 1 + 34 i. */
static int parse_multi_a(unsigned *m, size_t *n, const uint8_t *s, size_t len)
{
    size_t pos = 0, dl, count = 0;
    uint8_t op;
    const uint8_t *d;
    *m = 0;
    *n = 0;
    for (;;) {
        size_t at = pos;
        if (!kura_script_next_op(s, len, &pos, &op, &d, &dl)) return 0;
        if (op != 0x20 || at != 34 * count) break; /* a direct 32-byte push, in step */
        if (!kura_script_next_op(s, len, &pos, &op, &d, &dl)) return 0;
        if (op != (count == 0 ? OP_CHECKSIG : OP_CHECKSIGADD)) return 0;
        if (++count > MULTI_A_MAX_KEYS) return 0;
        if (pos == len && count == 1) { /* <x> OP_CHECKSIG */
            *m = 1;
            *n = 1;
            return 1;
        }
    }
    if (count == 0 || !small_number(op, d, dl, m)) return 0;
    if (*m < 1 || *m > count) return 0;
    if (!kura_script_next_op(s, len, &pos, &op, &d, &dl) || op != OP_NUMEQUAL || pos != len) return 0;
    *n = count;
    return 1;
}

/* Splits a push-only scriptSig into its items (pointers into s). */
static int parse_push_only(kura_bytes *items, size_t max, size_t *count, const uint8_t *s,
                           size_t len)
{
    size_t pos = 0, dl;
    uint8_t op;
    const uint8_t *d;
    *count = 0;
    while (pos < len) {
        if (!kura_script_next_op(s, len, &pos, &op, &d, &dl) || !is_push(op) || *count == max) return 0;
        items[*count].data = (uint8_t *)(uintptr_t)d; /* read only; kura_bytes is not const */
        items[*count].len = dl;
        (*count)++;
    }
    return 1;
}

/* ---- what an input spends ---- */

/* Resolves how `out` is spent, given the redeem script (P2SH) and the
 * witness script (P2WSH) as the PSBT or the final scripts give them. */
static int resolve(spend *sp, size_t i, const kura_txout *out, const uint8_t *redeem,
                   size_t redeem_len, int has_redeem, const uint8_t *wscript, size_t wscript_len,
                   int has_wscript, kura_error *err)
{
    const uint8_t *prog, *inner;
    size_t prog_len, inner_len;
    unsigned ver;
    uint8_t h[32];
    kura_script_type t;

    memset(sp, 0, sizeof(*sp));
    t = kura_script_classify(out->script_pubkey.data, out->script_pubkey.len, &prog, &prog_len, &ver);
    if (t == KURA_SCRIPT_P2SH) {
        if (!has_redeem || redeem_len == 0)
            return kura_fail(err, KURA_EDATA, "wallet: input %zu: P2SH output without a redeem script", i);
        if (kura_hash160(h, redeem, redeem_len) != KURA_OK)
            return kura_fail(err, KURA_ECRYPTO, "wallet: input %zu: hash failure", i);
        if (memcmp(h, prog, 20) != 0)
            return kura_fail(err, KURA_EDATA,
                             "wallet: input %zu: redeem script does not hash to the P2SH output", i);
        t = kura_script_classify(redeem, redeem_len, &inner, &inner_len, &ver);
        if (t == KURA_SCRIPT_P2WPKH || t == KURA_SCRIPT_P2WSH) {
            sp->nested = 1;
            prog = inner;
            prog_len = inner_len;
        } else if (t == KURA_SCRIPT_P2TR || t == KURA_SCRIPT_WITNESS_UNKNOWN) {
            return kura_fail(err, KURA_EDATA,
                             "wallet: input %zu: P2SH-wrapped witness v%u is not verifiable", i, ver);
        } else {
            sp->kind = SPEND_LEGACY_SH;
            sp->script = redeem;
            sp->script_len = redeem_len;
            return KURA_OK;
        }
    }
    switch (t) {
    case KURA_SCRIPT_P2PKH:
    case KURA_SCRIPT_P2WPKH:
        sp->kind = t == KURA_SCRIPT_P2PKH ? SPEND_LEGACY_PKH : SPEND_V0_PKH;
        sp->program = prog;
        if (kura_script_p2pkh(sp->code, sizeof(sp->code), &sp->code_len, prog) != KURA_OK)
            return kura_fail(err, KURA_EINVAL, "wallet: input %zu: script code", i);
        return KURA_OK;
    case KURA_SCRIPT_P2WSH:
        if (!has_wscript || wscript_len == 0)
            return kura_fail(err, KURA_EDATA, "wallet: input %zu: P2WSH output without a witness script", i);
        kura_sha256(h, wscript, wscript_len);
        if (memcmp(h, prog, 32) != 0)
            return kura_fail(err, KURA_EDATA,
                             "wallet: input %zu: witness script does not hash to the P2WSH program", i);
        sp->kind = SPEND_V0_SH;
        sp->script = wscript;
        sp->script_len = wscript_len;
        return KURA_OK;
    case KURA_SCRIPT_P2TR:
        sp->kind = SPEND_TAPROOT;
        sp->program = prog;
        return KURA_OK;
    default:
        return kura_fail(err, KURA_EDATA, "wallet: input %zu: cannot verify signatures for a %s output",
                         i, kura_script_type_name(t));
    }
}

/* ---- ECDSA ---- */

static int standard_ecdsa_type(uint32_t t)
{
    uint32_t base = t & ~(uint32_t)KURA_SIGHASH_ANYONECANPAY;
    return base >= KURA_SIGHASH_ALL && base <= KURA_SIGHASH_SINGLE;
}

/* Verifies one ECDSA signature (DER || hash type) by pub for input i.
 * `quiet` makes a signature that does not verify return KURA_EDATA without a
 * message (CHECKMULTISIG tries keys in turn). want_type >= 0 is the hash type
 * the PSBT asks for. */
static int check_ecdsa(verifier *v, size_t i, const spend *sp, const uint8_t *pub, size_t pub_len,
                       const uint8_t *sig, size_t sig_len, int64_t want_type, int quiet,
                       kura_error *err)
{
    uint8_t sighash[32], h[20];
    uint32_t type;
    int rc;
    if (sig_len < 2)
        return kura_fail(err, KURA_EDATA, "wallet: input %zu: signature by %s: empty or truncated",
                         i, key_hex(pub, pub_len).s);
    type = sig[sig_len - 1];
    if (!standard_ecdsa_type(type))
        return kura_fail(err, KURA_EDATA,
                         "wallet: input %zu: signature by %s: non-standard sighash type 0x%02x", i,
                         key_hex(pub, pub_len).s, (unsigned)type);
    if (want_type >= 0 && (uint32_t)want_type != type)
        return kura_fail(err, KURA_EDATA,
                         "wallet: input %zu: signature by %s has sighash type 0x%02x, the input asks "
                         "for 0x%02x",
                         i, key_hex(pub, pub_len).s, (unsigned)type, (unsigned)want_type);
    if (sp->kind == SPEND_LEGACY_PKH || sp->kind == SPEND_V0_PKH) {
        if (kura_hash160(h, pub, pub_len) != KURA_OK)
            return kura_fail(err, KURA_ECRYPTO, "wallet: input %zu: hash failure", i);
        if (memcmp(h, sp->program, 20) != 0)
            return kura_fail(err, KURA_EDATA,
                             "wallet: input %zu: signature by %s: the key does not hash to the "
                             "spent key hash",
                             i, key_hex(pub, pub_len).s);
        if (sp->kind == SPEND_V0_PKH && pub_len != 33)
            return kura_fail(err, KURA_EDATA,
                             "wallet: input %zu: signature by %s: segwit keys are compressed", i,
                             key_hex(pub, pub_len).s);
    } else {
        if (!pushes_key(sp->script, sp->script_len, pub, pub_len))
            return kura_fail(err, KURA_EDATA,
                             "wallet: input %zu: signature by %s: the key is not in the script", i,
                             key_hex(pub, pub_len).s);
        if (has_codeseparator(sp->script, sp->script_len))
            return kura_fail(err, KURA_EDATA,
                             "wallet: input %zu: script with OP_CODESEPARATOR: not verifiable", i);
    }
    if (sp->kind == SPEND_LEGACY_PKH || sp->kind == SPEND_LEGACY_SH) {
        /* The original SignatureHash. FindAndDelete of the signature is a
         * no-op here: the scripts accepted above never contain a signature. */
        const uint8_t *code = sp->kind == SPEND_LEGACY_PKH ? sp->code : sp->script;
        size_t code_len = sp->kind == SPEND_LEGACY_PKH ? sp->code_len : sp->script_len;
        rc = kura_sighash_legacy(sighash, v->tx, i, code, code_len, type);
    } else {
        /* BIP143: the amount of the spent output, and the script code of
         * P2WPKH (the P2PKH script) or P2WSH (the witness script). */
        const uint8_t *code = sp->kind == SPEND_V0_PKH ? sp->code : sp->script;
        size_t code_len = sp->kind == SPEND_V0_PKH ? sp->code_len : sp->script_len;
        rc = kura_sighash_segwit_v0(sighash, v->tx, &v->cache, i, code, code_len,
                                    v->spent[i].amount, type);
    }
    if (rc != KURA_OK) return kura_fail(err, rc, "wallet: input %zu: cannot compute the sighash", i);
    if (kura_ecdsa_verify(v->ctx, pub, pub_len, sighash, sig, sig_len - 1) != KURA_OK) {
        if (quiet) return KURA_EDATA;
        return kura_fail(err, KURA_EDATA, "wallet: input %zu: signature by %s: does not verify", i,
                         key_hex(pub, pub_len).s);
    }
    v->checked++;
    return KURA_OK;
}

/* The stack a P2SH or P2WSH script is run with (without the script itself):
 * `<sig>` for <key> OP_CHECKSIG; `<> <sig>...` (m signatures, in key order)
 * for CHECKMULTISIG. */
static int check_script_stack(verifier *v, size_t i, const spend *sp, const kura_bytes *stack,
                              size_t count, kura_error *err)
{
    multisig ms;
    size_t k = 0;
    if (!parse_multisig(&ms, sp->script, sp->script_len))
        return kura_fail(err, KURA_EDATA,
                         "wallet: input %zu: final script is neither multisig nor <key> OP_CHECKSIG", i);
    if (ms.single) {
        if (count != 1)
            return kura_fail(err, KURA_EDATA, "wallet: input %zu: %zu stack items for <key> OP_CHECKSIG",
                             i, count);
        return check_ecdsa(v, i, sp, ms.keys[0], ms.key_lens[0], stack[0].data, stack[0].len, -1, 0,
                           err);
    }
    if (count != (size_t)ms.m + 1 || stack[0].len != 0)
        return kura_fail(err, KURA_EDATA,
                         "wallet: input %zu: a %u-of-%zu multisig needs an empty dummy and %u "
                         "signatures, not %zu items",
                         i, ms.m, ms.n, ms.m, count);
    /* CHECKMULTISIG: each signature, in order, against the keys that remain. */
    for (size_t s = 1; s < count; s++) {
        int ok = 0;
        while (k < ms.n && !ok) {
            int rc = check_ecdsa(v, i, sp, ms.keys[k], ms.key_lens[k], stack[s].data, stack[s].len,
                                 -1, 1, err);
            if (rc == KURA_OK)
                ok = 1;
            else if (rc != KURA_EDATA)
                return rc;
            k++;
        }
        if (!ok)
            return kura_fail(err, KURA_EDATA,
                             "wallet: input %zu: multisig signature %zu verifies against none of "
                             "the keys left",
                             i, s);
    }
    return KURA_OK;
}

/* ---- Schnorr ---- */

/* Verifies one BIP340 signature (64 bytes, or 65 with a hash type) by xonly
 * for input i: key path when leaf_hash is NULL, else the script path of that
 * leaf. want_type >= 0 is the hash type the PSBT asks for. */
static int check_schnorr(verifier *v, size_t i, const uint8_t xonly[32], const uint8_t *leaf_hash,
                         const uint8_t *sig, size_t sig_len, int64_t want_type, const uint8_t *annex,
                         size_t annex_len, kura_error *err)
{
    uint8_t sighash[32];
    uint32_t type;
    if (!v->have_all) {
        size_t missing = 0;
        while (missing < v->tx->input_count && v->have[missing]) missing++;
        return kura_fail(err, KURA_EDATA,
                         "wallet: input %zu: taproot signatures commit to every spent output, and "
                         "input %zu has no UTXO",
                         i, missing);
    }
    if (sig_len != 64 && sig_len != 65)
        return kura_fail(err, KURA_EDATA, "wallet: input %zu: signature by %s: %zu bytes", i,
                         key_hex(xonly, 32).s, sig_len);
    type = sig_len == 64 ? KURA_SIGHASH_DEFAULT : sig[64];
    /* BIP341: a 65-byte signature with type 0x00 is invalid, and only these
     * types exist. */
    if (sig_len == 65 && !(type == 0x01 || type == 0x02 || type == 0x03 || type == 0x81 ||
                           type == 0x82 || type == 0x83))
        return kura_fail(err, KURA_EDATA,
                         "wallet: input %zu: signature by %s: invalid sighash type 0x%02x", i,
                         key_hex(xonly, 32).s, (unsigned)type);
    if (want_type >= 0 && (uint32_t)want_type != type)
        return kura_fail(err, KURA_EDATA,
                         "wallet: input %zu: signature by %s has sighash type 0x%02x, the input asks "
                         "for 0x%02x",
                         i, key_hex(xonly, 32).s, (unsigned)type, (unsigned)want_type);
    if (kura_sighash_taproot(sighash, v->tx, &v->cache, v->spent, i, type, leaf_hash, 0xffffffffu,
                             annex, annex_len) != KURA_OK)
        return kura_fail(err, KURA_EDATA,
                         "wallet: input %zu: signature by %s: no sighash (SINGLE without its output?)",
                         i, key_hex(xonly, 32).s);
    if (kura_schnorr_verify(v->ctx, sig, sighash, 32, xonly) != KURA_OK)
        return kura_fail(err, KURA_EDATA, "wallet: input %zu: signature by %s: does not verify", i,
                         key_hex(xonly, 32).s);
    v->checked++;
    return KURA_OK;
}

/* BIP341 script path: the control block proves that the leaf (version, script)
 * is committed to by the output key. Writes the leaf hash. */
static int check_control_block(verifier *v, size_t i, const spend *sp, const uint8_t *control,
                               size_t control_len, uint8_t leaf_version, const uint8_t *script,
                               size_t script_len, uint8_t leaf_hash[32], kura_error *err)
{
    uint8_t k[32], q[32];
    int parity = 0;
    if (control_len < 33 || control_len > CONTROL_BLOCK_MAX || (control_len - 33) % 32 != 0)
        return kura_fail(err, KURA_EDATA, "wallet: input %zu: control block of %zu bytes", i,
                         control_len);
    if ((control[0] & 0xfe) != leaf_version)
        return kura_fail(err, KURA_EDATA,
                         "wallet: input %zu: control block is for leaf version 0x%02x, not 0x%02x", i,
                         (unsigned)(control[0] & 0xfe), (unsigned)leaf_version);
    kura_tapleaf_hash(k, leaf_version, script, script_len);
    memcpy(leaf_hash, k, 32);
    for (size_t pos = 33; pos < control_len; pos += 32) kura_tapbranch_hash(k, k, control + pos);
    if (kura_taproot_tweak_pubkey(v->ctx, q, &parity, control + 1, k) != KURA_OK ||
        memcmp(q, sp->program, 32) != 0 || parity != (control[0] & 1))
        return kura_fail(err, KURA_EDATA,
                         "wallet: input %zu: control block does not commit the leaf to the output key",
                         i);
    return KURA_OK;
}

/* ---- signatures held in a PSBT ---- */

static int check_psbt_input(verifier *v, const kura_psbt *psbt, size_t i, kura_error *err)
{
    const kura_psbt_input *in = &psbt->inputs[i];
    int64_t want = in->has_sighash_type ? (int64_t)in->sighash_type : -1;
    spend sp;
    int rc;

    rc = resolve(&sp, i, &v->spent[i], in->redeem_script.data, in->redeem_script.len,
                 in->has_redeem_script, in->witness_script.data, in->witness_script.len,
                 in->has_witness_script, err);
    if (rc != KURA_OK) return rc;
    if (sp.kind != SPEND_TAPROOT) {
        if (in->tap_key_sig_len != 0 || in->tap_script_sig_count != 0)
            return kura_fail(err, KURA_EDATA,
                             "wallet: input %zu: taproot signatures on an input that is not P2TR", i);
        for (size_t s = 0; s < in->partial_sig_count; s++) {
            const kura_psbt_partial_sig *ps = &in->partial_sigs[s];
            rc = check_ecdsa(v, i, &sp, ps->pubkey, ps->pubkey_len, ps->sig, ps->sig_len, want, 0, err);
            if (rc != KURA_OK) return rc;
        }
        return KURA_OK;
    }
    if (in->partial_sig_count != 0)
        return kura_fail(err, KURA_EDATA, "wallet: input %zu: ECDSA partial signature on a P2TR input",
                         i);
    if (in->tap_key_sig_len != 0) {
        /* BIP341 key path: the signature is by the output key itself. */
        rc = check_schnorr(v, i, sp.program, NULL, in->tap_key_sig, in->tap_key_sig_len, want, NULL,
                           0, err);
        if (rc != KURA_OK) return rc;
    }
    for (size_t s = 0; s < in->tap_script_sig_count; s++) {
        const kura_psbt_tap_script_sig *ts = &in->tap_script_sigs[s];
        const kura_psbt_tap_leaf_script *leaf = NULL;
        uint8_t h[32];
        for (size_t l = 0; l < in->tap_leaf_script_count && leaf == NULL; l++) {
            const kura_psbt_tap_leaf_script *cand = &in->tap_leaf_scripts[l];
            kura_tapleaf_hash(h, cand->leaf_version, cand->script.data, cand->script.len);
            if (memcmp(h, ts->leaf_hash, 32) == 0) leaf = cand;
        }
        if (leaf == NULL)
            return kura_fail(err, KURA_EDATA,
                             "wallet: input %zu: signature by %s: for a leaf the input does not hold",
                             i, key_hex(ts->xonly, 32).s);
        if (leaf->leaf_version != TAPSCRIPT_LEAF)
            return kura_fail(err, KURA_EDATA,
                             "wallet: input %zu: signature by %s: leaf version 0x%02x is not tapscript",
                             i, key_hex(ts->xonly, 32).s, leaf->leaf_version);
        rc = check_control_block(v, i, &sp, leaf->control_block.data, leaf->control_block.len,
                                 leaf->leaf_version, leaf->script.data, leaf->script.len, h, err);
        if (rc != KURA_OK) return rc;
        if (!pushes_key(leaf->script.data, leaf->script.len, ts->xonly, 32))
            return kura_fail(err, KURA_EDATA,
                             "wallet: input %zu: signature by %s: the key is not in the leaf", i,
                             key_hex(ts->xonly, 32).s);
        if (has_codeseparator(leaf->script.data, leaf->script.len))
            return kura_fail(err, KURA_EDATA,
                             "wallet: input %zu: leaf with OP_CODESEPARATOR: not verifiable", i);
        rc = check_schnorr(v, i, ts->xonly, ts->leaf_hash, ts->sig, ts->sig_len, want, NULL, 0, err);
        if (rc != KURA_OK) return rc;
    }
    return KURA_OK;
}

/* ---- signatures in final scripts ---- */

/* BIP341/342 witness: [annex] stripped; one item is the key path; otherwise
 * the last is the control block, the one before the tapscript, and the rest
 * its stack. */
static int check_final_taproot(verifier *v, size_t i, const spend *sp, const kura_bytes *w,
                               size_t count, kura_error *err)
{
    const uint8_t *annex = NULL;
    size_t annex_len = 0;
    const kura_bytes *script, *control;
    uint8_t leaf_hash[32];
    unsigned m;
    size_t n, valid = 0;
    int rc;
    if (count >= 2 && w[count - 1].len > 0 && w[count - 1].data[0] == ANNEX_TAG) {
        annex = w[count - 1].data;
        annex_len = w[count - 1].len;
        count--;
    }
    if (count == 0)
        return kura_fail(err, KURA_EDATA, "wallet: input %zu: empty taproot witness", i);
    if (count == 1)
        return check_schnorr(v, i, sp->program, NULL, w[0].data, w[0].len, -1, annex, annex_len, err);
    control = &w[count - 1];
    script = &w[count - 2];
    if (control->len == 0 || (control->data[0] & 0xfe) != TAPSCRIPT_LEAF)
        return kura_fail(err, KURA_EDATA, "wallet: input %zu: not a tapscript leaf", i);
    rc = check_control_block(v, i, sp, control->data, control->len, TAPSCRIPT_LEAF, script->data,
                             script->len, leaf_hash, err);
    if (rc != KURA_OK) return rc;
    if (!parse_multi_a(&m, &n, script->data, script->len))
        return kura_fail(err, KURA_EDATA,
                         "wallet: input %zu: leaf is neither multi_a nor <key> OP_CHECKSIG", i);
    if (count - 2 != n)
        return kura_fail(err, KURA_EDATA, "wallet: input %zu: %zu stack items for a leaf of %zu keys",
                         i, count - 2, n);
    /* The stack's top (its last item) is consumed by the first key: item j
     * belongs to key n-1-j. An empty item is a key that did not sign; a
     * non-empty one must verify (BIP342). */
    for (size_t j = 0; j < n; j++) {
        const uint8_t *key = script->data + 1 + 34 * (n - 1 - j);
        if (w[j].len == 0) continue;
        rc = check_schnorr(v, i, key, leaf_hash, w[j].data, w[j].len, -1, annex, annex_len, err);
        if (rc != KURA_OK) return rc;
        valid++;
    }
    if (valid != m)
        return kura_fail(err, KURA_EDATA, "wallet: input %zu: %zu signatures, the leaf needs %u", i,
                         valid, m);
    return KURA_OK;
}

#define FINAL_ITEMS_MAX (MULTISIG_MAX_KEYS + 2)

static int check_final(verifier *v, size_t i, const uint8_t *script_sig, size_t script_sig_len,
                       const kura_bytes *witness, size_t witness_count, kura_error *err)
{
    kura_bytes items[FINAL_ITEMS_MAX];
    size_t n_items = 0;
    const uint8_t *redeem = NULL, *wscript = NULL;
    size_t redeem_len = 0, wscript_len = 0;
    spend sp;
    int rc;

    if (!parse_push_only(items, FINAL_ITEMS_MAX, &n_items, script_sig, script_sig_len))
        return kura_fail(err, KURA_EDATA, "wallet: input %zu: scriptSig is not a short push-only script",
                         i);
    if (n_items > 0) {
        redeem = items[n_items - 1].data;
        redeem_len = items[n_items - 1].len;
    }
    if (witness_count > 0) {
        wscript = witness[witness_count - 1].data;
        wscript_len = witness[witness_count - 1].len;
    }
    rc = resolve(&sp, i, &v->spent[i], redeem, redeem_len, n_items > 0, wscript, wscript_len,
                 witness_count > 0, err);
    if (rc != KURA_OK) return rc;
    /* Segwit spends: the scriptSig is empty, or only the redeem script. */
    if (sp.kind != SPEND_LEGACY_PKH && sp.kind != SPEND_LEGACY_SH &&
        n_items != (sp.nested ? 1u : 0u))
        return kura_fail(err, KURA_EDATA, "wallet: input %zu: segwit input with a scriptSig of %zu items",
                         i, n_items);
    if ((sp.kind == SPEND_LEGACY_PKH || sp.kind == SPEND_LEGACY_SH) && witness_count != 0)
        return kura_fail(err, KURA_EDATA, "wallet: input %zu: witness on a legacy input", i);
    switch (sp.kind) {
    case SPEND_LEGACY_PKH:
        if (n_items != 2)
            return kura_fail(err, KURA_EDATA, "wallet: input %zu: P2PKH scriptSig of %zu items", i,
                             n_items);
        return check_ecdsa(v, i, &sp, items[1].data, items[1].len, items[0].data, items[0].len, -1,
                           0, err);
    case SPEND_LEGACY_SH:
        return check_script_stack(v, i, &sp, items, n_items - 1, err);
    case SPEND_V0_PKH:
        if (witness_count != 2)
            return kura_fail(err, KURA_EDATA, "wallet: input %zu: P2WPKH witness of %zu items", i,
                             witness_count);
        return check_ecdsa(v, i, &sp, witness[1].data, witness[1].len, witness[0].data,
                           witness[0].len, -1, 0, err);
    case SPEND_V0_SH:
        return check_script_stack(v, i, &sp, witness, witness_count - 1, err);
    case SPEND_TAPROOT:
        return check_final_taproot(v, i, &sp, witness, witness_count, err);
    }
    return kura_fail(err, KURA_EDATA, "wallet: input %zu: unknown spend", i);
}

/* ---- entry points ---- */

static int verifier_init(verifier *v, const kura_ctx *ctx, const kura_tx *tx,
                         const kura_txout *spent, const uint8_t *have)
{
    memset(v, 0, sizeof(*v));
    v->ctx = ctx;
    v->tx = tx;
    v->spent = spent;
    v->have = have;
    v->have_all = 1;
    for (size_t i = 0; i < tx->input_count; i++)
        if (!have[i]) v->have_all = 0;
    /* The BIP341 midstates need every spent output; BIP143's need none. */
    return kura_sighash_cache_init(&v->cache, tx, v->have_all ? spent : NULL);
}

/* The output input i spends: from the non-witness UTXO (BIP174: its txid must
 * be the outpoint's) or the witness UTXO; when both are given they must agree,
 * or a signer could have been shown one amount and the verifier another. */
static int psbt_spent(kura_txout *out, uint8_t *have, const kura_psbt *psbt, size_t i,
                      kura_error *err)
{
    const kura_psbt_input *in = &psbt->inputs[i];
    memset(out, 0, sizeof(*out));
    *have = 0;
    if (in->non_witness_utxo != NULL) {
        uint8_t txid[32];
        const kura_txout *o;
        if (kura_tx_txid(txid, in->non_witness_utxo) != KURA_OK ||
            memcmp(txid, in->prev_txid, 32) != 0)
            return kura_fail(err, KURA_EDATA,
                             "wallet: input %zu: the non-witness UTXO is not the transaction spent", i);
        if (in->prev_vout >= in->non_witness_utxo->output_count)
            return kura_fail(err, KURA_EDATA, "wallet: input %zu: the non-witness UTXO has no output %u",
                             i, in->prev_vout);
        o = &in->non_witness_utxo->outputs[in->prev_vout];
        if (in->has_witness_utxo &&
            (in->witness_utxo.amount != o->amount ||
             in->witness_utxo.script_pubkey.len != o->script_pubkey.len ||
             (o->script_pubkey.len > 0 &&
              memcmp(in->witness_utxo.script_pubkey.data, o->script_pubkey.data,
                     o->script_pubkey.len) != 0)))
            return kura_fail(err, KURA_EDATA,
                             "wallet: input %zu: the witness UTXO disagrees with the non-witness UTXO",
                             i);
        *out = *o;
        *have = 1;
    } else if (in->has_witness_utxo) {
        *out = in->witness_utxo;
        *have = 1;
    }
    return KURA_OK;
}

int kura_wallet_verify_psbt(const kura_ctx *ctx, size_t *checked, const kura_psbt *psbt,
                            kura_error *err)
{
    kura_tx *tx = NULL;
    kura_txout *spent = NULL;
    uint8_t *have = NULL;
    verifier v;
    int rc;

    if (checked != NULL) *checked = 0;
    if (checked == NULL || psbt == NULL)
        return kura_fail(err, KURA_EINVAL, "wallet: bad arguments to verify_psbt");
    if ((rc = kura_psbt_unsigned_tx(&tx, psbt, err)) != KURA_OK) return rc;
    if (tx->input_count != psbt->input_count) {
        kura_tx_free(tx);
        return kura_fail(err, KURA_EDATA, "wallet: PSBT input count disagrees with its transaction");
    }
    spent = calloc(tx->input_count > 0 ? tx->input_count : 1, sizeof(*spent));
    have = calloc(tx->input_count > 0 ? tx->input_count : 1, 1);
    if (spent == NULL || have == NULL) {
        rc = kura_fail(err, KURA_ENOMEM, "wallet: out of memory");
        goto done;
    }
    /* spent[i] are shallow copies: their scripts belong to psbt. */
    for (size_t i = 0; i < psbt->input_count; i++)
        if ((rc = psbt_spent(&spent[i], &have[i], psbt, i, err)) != KURA_OK) goto done;
    if ((rc = verifier_init(&v, ctx, tx, spent, have)) != KURA_OK) {
        rc = kura_fail(err, rc, "wallet: cannot compute the sighash midstates");
        goto done;
    }
    for (size_t i = 0; i < psbt->input_count && rc == KURA_OK; i++) {
        const kura_psbt_input *in = &psbt->inputs[i];
        int has_sigs = in->partial_sig_count > 0 || in->tap_key_sig_len > 0 ||
                       in->tap_script_sig_count > 0;
        int final = in->has_final_script_sig || in->has_final_script_witness;
        if (!has_sigs && !final) continue;
        if (!have[i]) {
            rc = kura_fail(err, KURA_EDATA,
                           "wallet: input %zu has signatures but no UTXO to check them against", i);
            break;
        }
        if (has_sigs) rc = check_psbt_input(&v, psbt, i, err);
        if (rc == KURA_OK && final)
            rc = check_final(&v, i, in->final_script_sig.data, in->final_script_sig.len,
                             in->final_script_witness, in->final_script_witness_count, err);
    }
    if (rc == KURA_OK) *checked = v.checked;
done:
    free(have);
    free(spent);
    kura_tx_free(tx);
    return rc;
}

int kura_wallet_verify_tx(const kura_ctx *ctx, size_t *checked, const kura_tx *tx,
                          const kura_txout *spent, kura_error *err)
{
    uint8_t *have;
    verifier v;
    int rc;

    if (checked != NULL) *checked = 0;
    if (checked == NULL || tx == NULL || (spent == NULL && tx->input_count > 0))
        return kura_fail(err, KURA_EINVAL, "wallet: bad arguments to verify_tx");
    have = malloc(tx->input_count > 0 ? tx->input_count : 1);
    if (have == NULL) return kura_fail(err, KURA_ENOMEM, "wallet: out of memory");
    memset(have, 1, tx->input_count > 0 ? tx->input_count : 1);
    rc = verifier_init(&v, ctx, tx, spent, have);
    if (rc != KURA_OK) rc = kura_fail(err, rc, "wallet: cannot compute the sighash midstates");
    for (size_t i = 0; i < tx->input_count && rc == KURA_OK; i++) {
        const kura_txin *in = &tx->inputs[i];
        if (in->script_sig.len == 0 && in->witness_count == 0) {
            rc = kura_fail(err, KURA_EDATA, "wallet: input %zu is not signed", i);
            break;
        }
        rc = check_final(&v, i, in->script_sig.data, in->script_sig.len, in->witness,
                         in->witness_count, err);
    }
    if (rc == KURA_OK) *checked = v.checked;
    free(have);
    return rc;
}
