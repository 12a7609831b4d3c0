/* src/check/estimate.c — the virtual size the transaction will have once
 * finalized, for the policy's fee-rate cap.
 *
 * The signer checks the transaction before any signature exists, so the
 * witnesses are estimated from the wallet's own scripts (never from the
 * PSBT's claims). The estimate is a floor: every part is the smallest the
 * finalizer can produce, so fee / estimate is never below the real rate and
 * the cap is never passed by underestimating it. docs/signer-check.md has
 * the table.
 *
 * Signature sizes, with their push byte:
 *  - ECDSA: 71 bytes + 1 push. A strict-DER low-S signature with 32-byte r
 *    and s is 70 bytes, plus the sighash byte. kura's signer does not grind
 *    for low R, so about half of its signatures are 72; shorter ones need a
 *    leading zero byte in r or s (about 1 in 128 signatures) and are one
 *    byte (a quarter vbyte) shorter per such byte.
 *  - Schnorr: 64 bytes + 1 push (SIGHASH_DEFAULT; SIGHASH_ALL adds a byte).
 */
#include <string.h>

#include "check_internal.h"
#include "kura/script.h"

#define ECDSA_SIG 71   /* DER with 32-byte r and s, plus the sighash byte */
#define SCHNORR_SIG 64 /* BIP340, SIGHASH_DEFAULT */
#define PUBKEY 33
/* The ceiling (KURA_CHECK_SIZE_CEILING), for a payer who must reach a fee
 * rate: a low-S strict-DER signature is at most 71 bytes (r of 33 with its
 * leading zero, s of 32) plus the sighash byte; a BIP340 signature with an
 * explicit sighash byte is 65. */
#define ECDSA_SIG_MAX 72
#define SCHNORR_SIG_MAX 65

/* Signature sizes of one estimate, with the push byte excluded. */
typedef struct sig_sizes {
    size_t ecdsa;
    size_t schnorr;
} sig_sizes;

/* BIP341's suggested "nothing up my sleeve" point H: a taproot output with
 * it as internal key has no key path (kura's multisig taproot wallets). */
static const uint8_t NUMS_H[32] = {0x50, 0x92, 0x9b, 0x74, 0xc1, 0xa0, 0x49, 0x54, 0xb7, 0x8b, 0x4b,
                                   0x60, 0x35, 0xe9, 0x7a, 0x5e, 0x07, 0x8a, 0x5a, 0x0f, 0x28, 0xec,
                                   0x96, 0xd5, 0x47, 0xbf, 0xee, 0x9a, 0xce, 0x80, 0x3a, 0xc0};

static size_t cs(size_t n)
{
    return kura_compact_size_len((uint64_t)n);
}

/* m of a CHECKMULTISIG script (OP_m ... OP_n OP_CHECKMULTISIG), 0 if the
 * script is not one. */
static size_t multisig_m(const uint8_t *s, size_t len)
{
    if (kura_script_classify(s, len, NULL, NULL, NULL) != KURA_SCRIPT_MULTISIG) return 0;
    if (s[0] >= 0x51 && s[0] <= 0x60) return (size_t)(s[0] - 0x50);
    if (s[0] == 0x01 && len > 1) return s[1]; /* m above 16, a one-byte push */
    return 0;
}

/* m and n of a BIP387 multi_a leaf:
 * <x1> OP_CHECKSIG <x2> OP_CHECKSIGADD ... <xn> OP_CHECKSIGADD <m> OP_NUMEQUAL;
 * or m = n = 1 for a pk() leaf, <x> OP_CHECKSIG. Returns 0 for anything else. */
static int leaf_keys(size_t *m, size_t *n, const uint8_t *s, size_t len)
{
    size_t pos = 0, k = 0, mm;
    *m = *n = 0;
    while (pos + 34 <= len && s[pos] == 0x20 && s[pos + 33] == (k == 0 ? 0xac : 0xba)) {
        pos += 34;
        k++;
    }
    if (k == 0) return 0;
    if (k == 1 && pos == len) { /* pk(): <x> OP_CHECKSIG */
        *m = *n = 1;
        return 1;
    }
    if (pos >= len) return 0;
    if (s[pos] >= 0x51 && s[pos] <= 0x60) {
        mm = (size_t)(s[pos] - 0x50);
        pos += 1;
    } else if (s[pos] == 0x01 && pos + 2 <= len) {
        mm = s[pos + 1];
        pos += 2;
    } else if (s[pos] == 0x02 && pos + 3 <= len) {
        mm = (size_t)s[pos + 1] | ((size_t)s[pos + 2] << 8);
        pos += 3;
    } else {
        return 0;
    }
    if (pos + 1 != len || s[pos] != 0x9c || mm == 0 || mm > k) return 0;
    *m = mm;
    *n = k;
    return 1;
}

/* The smallest witness that spends leaf l: its signatures (one per key it
 * needs, an empty item for each other key), the script and the control
 * block. A leaf of another form is counted without signatures (a floor). */
static size_t leaf_witness(const kura_descriptor_leaf *l, const sig_sizes *z)
{
    size_t m = 0, n = 0, items, sigs;
    if (leaf_keys(&m, &n, l->script, l->script_len)) {
        items = n + 2;
        sigs = m * (1 + z->schnorr) + (n - m) * 1;
    } else {
        items = 2;
        sigs = 0;
    }
    return cs(items) + sigs + cs(l->script_len) + l->script_len + cs(l->control_block_len) +
           l->control_block_len;
}

static void input_size(size_t *script_sig_len, size_t *witness_len, int *segwit,
                       const kura_descriptor_output *work, const sig_sizes *z)
{
    const kura_descriptor_script_info *s = &work->scripts[0];
    size_t m;
    *script_sig_len = 0;
    *witness_len = 0;
    *segwit = 0;
    switch (kura_script_classify(s->script_pubkey, s->script_pubkey_len, NULL, NULL, NULL)) {
    case KURA_SCRIPT_P2WPKH:
        /* 2 items: signature, public key. */
        *segwit = 1;
        *witness_len = cs(2) + 1 + z->ecdsa + 1 + PUBKEY;
        break;
    case KURA_SCRIPT_P2WSH:
        *segwit = 1;
        if (s->witness_script == NULL) break;
        m = multisig_m(s->witness_script, s->witness_script_len);
        if (m > 0) /* CHECKMULTISIG: the empty dummy, m signatures, the script. */
            *witness_len = cs(m + 2) + 1 + m * (1 + z->ecdsa) + cs(s->witness_script_len) +
                           s->witness_script_len;
        else
            *witness_len = cs(1) + cs(s->witness_script_len) + s->witness_script_len;
        break;
    case KURA_SCRIPT_P2TR: {
        /* Key path: one signature. Possible unless the internal key is the
         * NUMS point (a disguised NUMS key looks spendable: the estimate
         * then takes the smaller key path, still a floor). */
        size_t best = SIZE_MAX;
        *segwit = 1;
        if (!work->has_merkle_root || memcmp(work->internal_key, NUMS_H, 32) != 0)
            best = cs(1) + 1 + z->schnorr;
        for (size_t l = 0; l < work->n_leaves; l++) {
            size_t w = leaf_witness(&work->leaves[l], z);
            if (w < best) best = w;
        }
        *witness_len = best == SIZE_MAX ? 0 : best;
        break;
    }
    case KURA_SCRIPT_P2PKH:
        /* scriptSig: <signature> <public key>. */
        *script_sig_len = 1 + z->ecdsa + 1 + PUBKEY;
        break;
    default:
        /* Not one of kura's wallet kinds: counted as empty, a floor. */
        break;
    }
}

void kura_check_i_input_size(size_t *script_sig_len, size_t *witness_len, int *segwit,
                             const kura_descriptor_output *work)
{
    const sig_sizes floor = {ECDSA_SIG, SCHNORR_SIG};
    input_size(script_sig_len, witness_len, segwit, work, &floor);
}

int kura_check_input_size(size_t *script_sig_len, size_t *witness_len, int *segwit,
                          const kura_descriptor_output *work, unsigned mode)
{
    const sig_sizes floor = {ECDSA_SIG, SCHNORR_SIG}, ceiling = {ECDSA_SIG_MAX, SCHNORR_SIG_MAX};
    if (script_sig_len != NULL) *script_sig_len = 0;
    if (witness_len != NULL) *witness_len = 0;
    if (segwit != NULL) *segwit = 0;
    if (script_sig_len == NULL || witness_len == NULL || segwit == NULL || work == NULL ||
        work->n_scripts == 0 || (mode != KURA_CHECK_SIZE_FLOOR && mode != KURA_CHECK_SIZE_CEILING))
        return KURA_EINVAL;
    input_size(script_sig_len, witness_len, segwit, work,
               mode == KURA_CHECK_SIZE_FLOOR ? &floor : &ceiling);
    return KURA_OK;
}

uint64_t kura_check_i_vsize(const kura_psbt *psbt, const size_t *script_sig_lens,
                            const size_t *witness_lens, int any_segwit)
{
    /* BIP141: weight = 4 * (size without witness) + witness size, where the
     * witness part is the marker and flag and every input's stack (one
     * byte, a zero count, for an input without witness). */
    uint64_t base = 4 + cs(psbt->input_count) + cs(psbt->output_count) + 4;
    uint64_t witness = 0, weight;
    for (size_t i = 0; i < psbt->input_count; i++) {
        base += 32 + 4 + cs(script_sig_lens[i]) + script_sig_lens[i] + 4;
        if (any_segwit) witness += witness_lens[i] > 0 ? witness_lens[i] : 1;
    }
    for (size_t o = 0; o < psbt->output_count; o++) {
        size_t len = psbt->outputs[o].script_pubkey.len;
        base += 8 + cs(len) + len;
    }
    if (any_segwit) witness += 2;
    weight = 4 * base + witness;
    return (weight + 3) / 4; /* BIP141 vsize: weight / 4 rounded up */
}
