/* src/psbt/spend.c — what an input spends: reading its UTXO, matching its
 * redeem and witness scripts to the spent output (BIP174 "Signer" checks),
 * and recognising the script templates kura signs and finalizes. */
#include <stdlib.h>
#include <string.h>

#include "kura/hash.h"
#include "kura/script.h"
#include "psbt_internal.h"

#define OP_1 0x51
#define OP_16 0x60
#define OP_NUMEQUAL 0x9c
#define OP_CHECKSIG 0xac
#define OP_CHECKMULTISIG 0xae
#define OP_CHECKSIGADD 0xba

bool kura_psbt_i_script_has_push(const uint8_t *s, size_t len, const uint8_t *key, size_t key_len)
{
    size_t pos = 0, dl;
    uint8_t op;
    const uint8_t *d;
    while (kura_script_next_op(s, len, &pos, &op, &d, &dl)) {
        if (d != NULL && dl == key_len && memcmp(d, key, key_len) == 0) return true;
    }
    return false;
}

/* A small non-negative number as scripts write it minimally: OP_1..OP_16, or
 * a minimal little-endian push for 17 and up (what BIP387's multi_a and
 * Bitcoin Core write for thresholds and key counts over 16). */
static bool small_number(uint8_t op, const uint8_t *d, size_t dl, unsigned *out)
{
    unsigned v = 0;
    if (op >= OP_1 && op <= OP_16) {
        *out = (unsigned)(op - OP_1 + 1);
        return true;
    }
    if (d == NULL || dl == 0 || dl > 2 || op != dl) return false;
    if ((d[dl - 1] & 0x80) != 0) return false; /* negative */
    if (d[dl - 1] == 0 && (dl == 1 || (d[dl - 2] & 0x80) == 0)) return false; /* not minimal */
    for (size_t i = dl; i > 0; i--) v = (v << 8) | d[i - 1];
    if (v <= 16) return false; /* OP_1..OP_16 is the minimal form */
    *out = v;
    return true;
}

bool kura_psbt_i_parse_multisig(const uint8_t *s, size_t len, unsigned *m, size_t *n,
                                const uint8_t **keys, size_t *key_lens, bool *single)
{
    size_t pos = 0, dl, count = 0;
    uint8_t op;
    const uint8_t *d;
    unsigned nn;
    *m = 0;
    *n = 0;
    *single = false;
    if (!kura_script_next_op(s, len, &pos, &op, &d, &dl)) return false;
    /* <pubkey> OP_CHECKSIG: one key, one signature. */
    if (d != NULL && (dl == 33 || dl == 65)) {
        size_t p2 = pos, dl2;
        const uint8_t *d2;
        uint8_t op2;
        if (kura_script_next_op(s, len, &p2, &op2, &d2, &dl2) && op2 == OP_CHECKSIG &&
            p2 == len) {
            keys[0] = d;
            key_lens[0] = dl;
            *m = 1;
            *n = 1;
            *single = true;
            return true;
        }
        return false;
    }
    if (!small_number(op, d, dl, m) || *m < 1 || *m > KURA_PSBT_MULTISIG_MAX) return false;
    for (;;) {
        if (!kura_script_next_op(s, len, &pos, &op, &d, &dl)) return false;
        if (d != NULL && (dl == 33 || dl == 65)) {
            if (count == KURA_PSBT_MULTISIG_MAX) return false;
            keys[count] = d;
            key_lens[count] = dl;
            count++;
            continue;
        }
        break;
    }
    if (!small_number(op, d, dl, &nn) || nn != count || *m > nn) return false;
    if (!kura_script_next_op(s, len, &pos, &op, &d, &dl) || op != OP_CHECKMULTISIG ||
        pos != len)
        return false;
    *n = count;
    return true;
}

bool kura_psbt_i_parse_multi_a(const uint8_t *s, size_t len, unsigned *m, size_t *n,
                               const uint8_t ***keys)
{
    size_t pos = 0, dl, count = 0, cap = len / 34 + 1;
    uint8_t op;
    const uint8_t *d;
    const uint8_t **k;
    *m = 0;
    *n = 0;
    *keys = NULL;
    if (cap > KURA_PSBT_MULTI_A_MAX) cap = KURA_PSBT_MULTI_A_MAX;
    k = calloc(cap, sizeof(*k));
    if (k == NULL) return false;
    /* <x1> OP_CHECKSIG */
    if (!kura_script_next_op(s, len, &pos, &op, &d, &dl) || d == NULL || dl != 32) goto no;
    k[count++] = d;
    if (!kura_script_next_op(s, len, &pos, &op, &d, &dl) || op != OP_CHECKSIG) goto no;
    if (pos == len) { /* pk(): one key */
        *m = 1;
        *n = 1;
        *keys = k;
        return true;
    }
    /* [<xi> OP_CHECKSIGADD]... <m> OP_NUMEQUAL (BIP387) */
    for (;;) {
        if (!kura_script_next_op(s, len, &pos, &op, &d, &dl)) goto no;
        if (d != NULL && dl == 32) {
            uint8_t op2;
            const uint8_t *d2;
            size_t dl2;
            if (!kura_script_next_op(s, len, &pos, &op2, &d2, &dl2) || op2 != OP_CHECKSIGADD)
                goto no;
            if (count == cap) goto no;
            k[count++] = d;
            continue;
        }
        break;
    }
    if (!small_number(op, d, dl, m) || *m < 1 || *m > count) goto no;
    if (!kura_script_next_op(s, len, &pos, &op, &d, &dl) || op != OP_NUMEQUAL || pos != len)
        goto no;
    *n = count;
    *keys = k;
    return true;
no:
    free(k);
    *m = 0;
    return false;
}

/* ---- the spent output ---- */

int kura_psbt_i_spent_output(const kura_txout **out, const kura_psbt *psbt, size_t i,
                             kura_error *err)
{
    const kura_psbt_input *in = &psbt->inputs[i];
    const kura_txout *nw = NULL;
    *out = NULL;
    if (in->non_witness_utxo != NULL) {
        uint8_t txid[32];
        int rc = kura_tx_txid(txid, in->non_witness_utxo);
        if (rc != KURA_OK) return kura_fail(err, rc, "psbt: input %zu: cannot hash its UTXO", i);
        /* BIP174 signer: "assert(sha256d(non_witness_utxo) ==
         * psbt.tx.input[i].prevout.hash)". Otherwise the amount it shows is
         * not the amount spent. */
        if (memcmp(txid, in->prev_txid, 32) != 0)
            return kura_fail(err, KURA_EDATA,
                             "psbt: input %zu: non-witness UTXO's txid is not the outpoint's", i);
        if (in->prev_vout >= in->non_witness_utxo->output_count)
            return kura_fail(err, KURA_EDATA,
                             "psbt: input %zu: non-witness UTXO has no output %u", i,
                             (unsigned)in->prev_vout);
        nw = &in->non_witness_utxo->outputs[in->prev_vout];
    }
    if (in->has_witness_utxo) {
        const kura_txout *w = &in->witness_utxo;
        /* Both given: they must agree, or one of them lies about the amount. */
        if (nw != NULL &&
            (nw->amount != w->amount ||
             kura_psbt_i_cmp(nw->script_pubkey.data, nw->script_pubkey.len,
                             w->script_pubkey.data, w->script_pubkey.len) != 0))
            return kura_fail(err, KURA_EDATA,
                             "psbt: input %zu: witness UTXO differs from the non-witness UTXO's "
                             "output",
                             i);
        *out = w;
        return KURA_OK;
    }
    *out = nw;
    return KURA_OK;
}

int kura_psbt_i_resolve(kura_psbt_spend *sp, const kura_psbt *psbt, size_t i, kura_error *err)
{
    const kura_txout *spent = NULL;
    int rc = kura_psbt_i_spent_output(&spent, psbt, i, err);
    if (rc != KURA_OK) {
        memset(sp, 0, sizeof(*sp));
        return rc;
    }
    return kura_psbt_i_resolve_spent(sp, psbt, i, spent, err);
}

int kura_psbt_i_resolve_spent(kura_psbt_spend *sp, const kura_psbt *psbt, size_t i,
                              const kura_txout *spent, kura_error *err)
{
    const kura_psbt_input *in = &psbt->inputs[i];
    const uint8_t *prog = NULL;
    size_t plen = 0;
    uint8_t h[32];
    kura_script_type t;
    bool witness = false;
    int rc;
    memset(sp, 0, sizeof(*sp));
    if (spent == NULL)
        return kura_fail(err, KURA_EDATA,
                         "psbt: input %zu: no UTXO (PSBT_IN_NON_WITNESS_UTXO or "
                         "PSBT_IN_WITNESS_UTXO)",
                         i);
    sp->spent = spent;
    /* Consensus limits: a redeem script is one push (at most 520 bytes,
     * BIP16) and a witness script at most 10,000 bytes (BIP141); longer ones
     * can never be spent, and refusing them bounds what the signer scans. */
    if (in->has_redeem_script && in->redeem_script.len > 520)
        return kura_fail(err, KURA_EDATA, "psbt: input %zu: redeem script over 520 bytes", i);
    if (in->has_witness_script && in->witness_script.len > 10000)
        return kura_fail(err, KURA_EDATA, "psbt: input %zu: witness script over 10000 bytes", i);
    t = kura_script_classify(spent->script_pubkey.data, spent->script_pubkey.len, &prog, &plen,
                             NULL);
    if (t == KURA_SCRIPT_P2SH) {
        /* BIP174 signer: "assert(scriptPubKey == P2SH(redeemScript))". */
        if (!in->has_redeem_script)
            return kura_fail(err, KURA_EDATA, "psbt: input %zu: P2SH output without a redeem script",
                             i);
        rc = kura_hash160(h, in->redeem_script.data, in->redeem_script.len);
        if (rc != KURA_OK) return kura_fail(err, rc, "psbt: input %zu: hash failed", i);
        if (memcmp(h, prog, 20) != 0)
            return kura_fail(err, KURA_EDATA,
                             "psbt: input %zu: redeem script does not match the P2SH output", i);
        sp->nested = 1;
        t = kura_script_classify(in->redeem_script.data, in->redeem_script.len, &prog, &plen, NULL);
        if (t == KURA_SCRIPT_P2WPKH || t == KURA_SCRIPT_P2WSH) {
            /* P2SH-P2WPKH / P2SH-P2WSH */
        } else if (t == KURA_SCRIPT_P2TR || t == KURA_SCRIPT_WITNESS_UNKNOWN) {
            return kura_fail(err, KURA_EDATA,
                             "psbt: input %zu: P2SH-wrapped witness program of an unsupported "
                             "version",
                             i);
        } else {
            sp->nested = 0;
            sp->kind = KURA_PSBT_SPEND_P2SH;
            sp->script = in->redeem_script.data;
            sp->script_len = in->redeem_script.len;
        }
    } else if (in->has_redeem_script) {
        return kura_fail(err, KURA_EDATA,
                         "psbt: input %zu: redeem script given for an output that is not P2SH", i);
    }
    if (sp->kind == 0) {
        switch (t) {
        case KURA_SCRIPT_P2PKH:
            sp->kind = KURA_PSBT_SPEND_P2PKH;
            sp->program = prog;
            sp->program_len = plen;
            break;
        case KURA_SCRIPT_P2WPKH:
            sp->kind = KURA_PSBT_SPEND_P2WPKH;
            sp->program = prog;
            sp->program_len = plen;
            witness = true;
            break;
        case KURA_SCRIPT_P2WSH:
            if (!in->has_witness_script)
                return kura_fail(err, KURA_EDATA,
                                 "psbt: input %zu: P2WSH output without a witness script", i);
            kura_sha256(h, in->witness_script.data, in->witness_script.len);
            /* BIP174 signer: "assert(script == P2WSH(witnessScript))". */
            if (memcmp(h, prog, 32) != 0)
                return kura_fail(err, KURA_EDATA,
                                 "psbt: input %zu: witness script does not match the %s program",
                                 i, sp->nested ? "redeem script's" : "P2WSH output's");
            sp->kind = KURA_PSBT_SPEND_P2WSH;
            sp->program = prog;
            sp->program_len = plen;
            sp->script = in->witness_script.data;
            sp->script_len = in->witness_script.len;
            witness = true;
            break;
        case KURA_SCRIPT_P2TR:
            sp->kind = KURA_PSBT_SPEND_P2TR;
            sp->program = prog;
            sp->program_len = plen;
            witness = true;
            break;
        default:
            return kura_fail(err, KURA_EDATA, "psbt: input %zu: unsupported output script", i);
        }
    }
    if (in->has_witness_script && sp->kind != KURA_PSBT_SPEND_P2WSH)
        return kura_fail(err, KURA_EDATA,
                         "psbt: input %zu: witness script given for an output that is not P2WSH",
                         i);
    /* BIP174: a non-witness input needs its whole previous transaction, whose
     * txid vouches for the amount; a witness UTXO alone is refused there. */
    if (!witness && in->non_witness_utxo == NULL)
        return kura_fail(err, KURA_EDATA,
                         "psbt: input %zu: witness UTXO given for a non-witness input (needs "
                         "PSBT_IN_NON_WITNESS_UTXO)",
                         i);
    return KURA_OK;
}
