/* src/assemble/package.c — the signing package from an approved intent and
 * selected coins, kura's records, and completing a PSBT imported from
 * another tool so that it carries what the signer needs. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "assemble_internal.h"
#include "kura/check.h"
#include "kura/script.h"

int kura_assemble_attach(kura_psbt *psbt, const kura_assemble_records *r)
{
    int rc;
    if (psbt == NULL || r == NULL || r->intent == NULL || r->intent_len == 0 ||
        (r->approval_count > 0 && (r->approvals == NULL || r->approval_lens == NULL)) ||
        (r->policy_signature_count > 0 &&
         (r->policy_signatures == NULL || r->policy_signature_lens == NULL)))
        return KURA_EINVAL;
    rc = kura_package_set_intent(psbt, r->intent, r->intent_len);
    for (size_t i = 0; rc == KURA_OK && i < r->approval_count; i++)
        rc = kura_package_add_approval(psbt, r->approvals[i], r->approval_lens[i]);
    if (rc == KURA_OK && r->policy != NULL && r->policy_len > 0)
        rc = kura_package_set_policy(psbt, r->policy, r->policy_len);
    for (size_t i = 0; rc == KURA_OK && i < r->policy_signature_count; i++)
        rc = kura_package_add_policy_signature(psbt, r->policy_signatures[i],
                                               r->policy_signature_lens[i]);
    return rc;
}

int kura_assemble_package(const kura_ctx *ctx, kura_psbt **out, kura_assemble_reason *reason,
                          const kura_descriptor *wallet, const kura_wallet_coin *coins,
                          size_t coin_count, uint32_t change_index, uint64_t change_amount,
                          const kura_assemble_records *records, kura_error *err)
{
    kura_intent *intent = NULL;
    kura_wallet_payment *payments = NULL;
    kura_psbt *psbt = NULL;
    uint64_t in_total = 0, out_total, fee;
    int rc;

    if (out != NULL) *out = NULL;
    if (reason != NULL) *reason = KURA_ASSEMBLE_OK;
    if (ctx == NULL || out == NULL || wallet == NULL || records == NULL || coins == NULL ||
        coin_count == 0)
        return kura_fail(err, KURA_EINVAL, "assemble: NULL argument or no coins");
    rc = kura_assemble_i_intent(ctx, &intent, reason, wallet, records->intent, records->intent_len,
                                err);
    if (rc != KURA_OK) return rc;

    /* Each coin: its whole funding transaction, paying the coin's amount to
     * the wallet's own script at the coin's (branch, index). The signer
     * refuses an input without its funding transaction (INPUT_UNPROVEN). */
    for (size_t i = 0; i < coin_count; i++) {
        const kura_wallet_coin *c = &coins[i];
        const kura_txout *o;
        uint8_t txid[32], script[KURA_SCRIPT_PUBKEY_MAX];
        size_t len = 0;
        char hex[65];
        kura_txid_to_hex(hex, c->txid);
        if (c->prev_tx == NULL || kura_tx_txid(txid, c->prev_tx) != KURA_OK ||
            memcmp(txid, c->txid, 32) != 0 || c->vout >= c->prev_tx->output_count) {
            rc = kura_assemble_i_refuse(reason, err, KURA_ASSEMBLE_FUNDING_MISSING,
                                        "coin %zu (%s:%" PRIu32 ") comes without its funding "
                                        "transaction",
                                        i, hex, c->vout);
            goto done;
        }
        o = &c->prev_tx->outputs[c->vout];
        if (o->amount != c->amount) {
            rc = kura_assemble_i_refuse(reason, err, KURA_ASSEMBLE_FUNDING_MISSING,
                                        "coin %zu (%s:%" PRIu32 ") says %" PRIu64
                                        " sat; its funding transaction pays %" PRIu64,
                                        i, hex, c->vout, c->amount, o->amount);
            goto done;
        }
        if (c->branch >= kura_descriptor_multipath_count(wallet) ||
            c->index >= KURA_BIP32_HARDENED ||
            kura_descriptor_script_pubkey(ctx, script, sizeof(script), &len, wallet, c->branch,
                                          c->index, NULL) != KURA_OK ||
            len != o->script_pubkey.len || memcmp(script, o->script_pubkey.data, len) != 0) {
            rc = kura_assemble_i_refuse(reason, err, KURA_ASSEMBLE_INPUT_FOREIGN,
                                        "coin %zu (%s:%" PRIu32 ") is not the wallet's at "
                                        ".../%zu/%" PRIu32,
                                        i, hex, c->vout, c->branch, c->index);
            goto done;
        }
        /* One outpoint spent twice makes an invalid transaction (and the
         * signer refuses it as PACKAGE_MALFORMED). */
        for (size_t j = 0; j < i; j++)
            if (coins[j].vout == c->vout && memcmp(coins[j].txid, c->txid, 32) == 0) {
                rc = kura_assemble_i_refuse(reason, err, KURA_ASSEMBLE_MALFORMED,
                                            "coins %zu and %zu are the same outpoint %s:%" PRIu32,
                                            j, i, hex, c->vout);
                goto done;
            }
        in_total += c->amount; /* each <= MAX_MONEY (parsed tx): no wrap before the test */
        if (in_total > KURA_MAX_MONEY) {
            rc = kura_assemble_i_refuse(reason, err, KURA_ASSEMBLE_MALFORMED,
                                        "the coins exceed 21 million BTC");
            goto done;
        }
    }
    out_total = kura_intent_total(intent);
    if (change_amount > KURA_MAX_MONEY || out_total + change_amount > in_total) {
        rc = kura_assemble_i_refuse(reason, err, KURA_ASSEMBLE_MALFORMED,
                                    "the outputs (%" PRIu64 " sat and %" PRIu64
                                    " sat change) exceed the coins (%" PRIu64 " sat)",
                                    out_total, change_amount, in_total);
        goto done;
    }
    fee = in_total - out_total - change_amount;
    if (fee > intent->max_fee) {
        rc = kura_assemble_i_refuse(reason, err, KURA_ASSEMBLE_FEE,
                                    "fee %" PRIu64 " sat is over the intent's max-fee of %" PRIu64
                                    " sat",
                                    fee, intent->max_fee);
        goto done;
    }

    payments = calloc(intent->output_count, sizeof(*payments));
    if (payments == NULL) {
        rc = kura_fail(err, KURA_ENOMEM, "assemble: out of memory");
        goto done;
    }
    for (size_t o = 0; o < intent->output_count; o++) {
        payments[o].script_pubkey = intent->outputs[o].script;
        payments[o].script_pubkey_len = intent->outputs[o].script_len;
        payments[o].amount = intent->outputs[o].amount;
    }
    rc = kura_wallet_create_psbt(ctx, &psbt, wallet, coins, coin_count, payments,
                                 intent->output_count, change_amount, change_index, 0, err);
    if (rc == KURA_EDATA) {
        if (reason != NULL) *reason = KURA_ASSEMBLE_MALFORMED;
        goto done;
    }
    if (rc != KURA_OK) goto done;
    rc = kura_assemble_attach(psbt, records);
    if (rc != KURA_OK) {
        kura_fail(err, rc, "assemble: cannot attach kura's records (%s)", kura_status_name(rc));
        goto done;
    }
    *out = psbt;
    psbt = NULL;
done:
    kura_psbt_free(psbt);
    free(payments);
    kura_intent_free(intent);
    return rc;
}

/* ---- completing an imported PSBT ---- */

/* The transaction's own fields as the signer accepts them (docs/signer-check.md 5a). */
static int check_tx_fields(const kura_psbt *p, kura_assemble_reason *reason, kura_error *err)
{
    if (p->tx_version != 2)
        return kura_assemble_i_refuse(reason, err, KURA_ASSEMBLE_TX_UNSUPPORTED,
                                      "transaction version %" PRIu32 "; kura signs version 2",
                                      p->tx_version);
    if (p->locktime != 0)
        return kura_assemble_i_refuse(reason, err, KURA_ASSEMBLE_TX_UNSUPPORTED,
                                      "lock time %" PRIu32 "; kura signs lock time 0 (create the "
                                      "PSBT with locktime 0)",
                                      p->locktime);
    for (size_t i = 0; i < p->input_count; i++)
        if (p->inputs[i].sequence != 0xfffffffdu && p->inputs[i].sequence != 0xffffffffu)
            return kura_assemble_i_refuse(reason, err, KURA_ASSEMBLE_TX_UNSUPPORTED,
                                          "input %zu: sequence 0x%08" PRIx32
                                          "; kura signs 0xfffffffd or 0xffffffff",
                                          i, p->inputs[i].sequence);
    return KURA_OK;
}

/* Copies the global proprietary records of src into dst, in order. */
static int copy_proprietary(kura_psbt *dst, const kura_psbt *src)
{
    for (size_t k = 0; k < src->unknown_count; k++) {
        const uint8_t *ident, *keydata;
        size_t ident_len, keydata_len;
        uint64_t subtype;
        int rc;
        if (kura_psbt_proprietary_key_decode(&ident, &ident_len, &subtype, &keydata, &keydata_len,
                                             &src->unknowns[k]) != KURA_OK)
            continue; /* an unknown global type: dropped */
        rc = kura_psbt_proprietary_set(dst, ident, ident_len, subtype, keydata, keydata_len,
                                       src->unknowns[k].value, src->unknowns[k].value_len);
        if (rc != KURA_OK) return rc;
    }
    return KURA_OK;
}

int kura_assemble_complete(const kura_ctx *ctx, kura_psbt **psbt, kura_assemble_reason *reason,
                           const kura_descriptor *wallet, const kura_assemble_lookup *lookup,
                           kura_error *err)
{
    kura_psbt *src = NULL, *dst = NULL;
    kura_tx *tx = NULL;
    kura_descriptor_output *work = NULL;
    kura_assemble_i_table *table = NULL;
    kura_network network = KURA_NETWORK_MAINNET;
    int rc;

    if (reason != NULL) *reason = KURA_ASSEMBLE_OK;
    if (ctx == NULL || psbt == NULL || *psbt == NULL || wallet == NULL ||
        kura_descriptor_multipath_count(wallet) <= KURA_DESCRIPTOR_BRANCH_CHANGE)
        return kura_fail(err, KURA_EINVAL, "assemble: NULL argument or a wallet without change");
    if (lookup != NULL && lookup->scan_limit > KURA_ASSEMBLE_SCAN_MAX)
        return kura_fail(err, KURA_EINVAL, "assemble: scan limit over %u", KURA_ASSEMBLE_SCAN_MAX);
    if (!kura_descriptor_allows_network(wallet, KURA_NETWORK_MAINNET))
        network = KURA_NETWORK_TESTNET;

    rc = kura_psbt_clone(&src, *psbt);
    if (rc != KURA_OK) return kura_fail(err, rc, "assemble: cannot copy the PSBT");
    if (src->version != 0) {
        kura_error cerr;
        rc = kura_psbt_set_version(src, 0, &cerr);
        if (rc != KURA_OK) {
            rc = kura_assemble_i_refuse(reason, err, KURA_ASSEMBLE_MALFORMED, "%s", cerr.message);
            goto done;
        }
    }
    rc = check_tx_fields(src, reason, err);
    if (rc != KURA_OK) goto done;
    rc = kura_psbt_unsigned_tx(&tx, src, err);
    if (rc == KURA_OK) rc = kura_psbt_from_tx(&dst, tx, 0, err);
    if (rc == KURA_OK) rc = copy_proprietary(dst, src);
    if (rc != KURA_OK) {
        if (rc == KURA_EDATA && reason != NULL) *reason = KURA_ASSEMBLE_MALFORMED;
        goto done;
    }
    work = kura_descriptor_output_new();
    if (work == NULL) {
        rc = kura_fail(err, KURA_ENOMEM, "assemble: out of memory");
        goto done;
    }

    for (size_t i = 0; i < src->input_count; i++) {
        const kura_psbt_input *in = &src->inputs[i];
        const kura_tx *funding = NULL;
        const kura_txout *spent;
        uint8_t txid[32];
        char hex[65], what[KURA_ADDRESS_MAX + 96];
        size_t branch = 0;
        uint32_t index = 0;

        kura_txid_to_hex(hex, in->prev_txid);
        /* The funding transaction: the PSBT's, or the coordinator's. Each
         * must hash to the outpoint's txid. */
        if (in->non_witness_utxo != NULL && kura_tx_txid(txid, in->non_witness_utxo) == KURA_OK &&
            memcmp(txid, in->prev_txid, 32) == 0)
            funding = in->non_witness_utxo;
        if (funding == NULL && lookup != NULL && lookup->funding_tx != NULL) {
            funding = lookup->funding_tx(lookup->arg, in->prev_txid);
            if (funding != NULL &&
                (kura_tx_txid(txid, funding) != KURA_OK || memcmp(txid, in->prev_txid, 32) != 0))
                funding = NULL;
        }
        if (funding == NULL) {
            rc = kura_assemble_i_refuse(reason, err, KURA_ASSEMBLE_FUNDING_MISSING,
                                        "input %zu (%s:%" PRIu32 "): funding transaction unknown",
                                        i, hex, in->prev_vout);
            goto done;
        }
        if (in->prev_vout >= funding->output_count) {
            rc = kura_assemble_i_refuse(reason, err, KURA_ASSEMBLE_MALFORMED,
                                        "input %zu (%s:%" PRIu32 "): the funding transaction has "
                                        "no such output",
                                        i, hex, in->prev_vout);
            goto done;
        }
        spent = &funding->outputs[in->prev_vout];
        if (in->has_witness_utxo &&
            (in->witness_utxo.amount != spent->amount ||
             in->witness_utxo.script_pubkey.len != spent->script_pubkey.len ||
             memcmp(in->witness_utxo.script_pubkey.data, spent->script_pubkey.data,
                    spent->script_pubkey.len) != 0)) {
            rc = kura_assemble_i_refuse(reason, err, KURA_ASSEMBLE_MALFORMED,
                                        "input %zu (%s:%" PRIu32 "): the witness UTXO is not the "
                                        "funding transaction's output",
                                        i, hex, in->prev_vout);
            goto done;
        }
        rc = kura_assemble_i_locate(ctx, &branch, &index, &table, wallet, spent->script_pubkey.data,
                                    spent->script_pubkey.len, in->bip32, in->bip32_count,
                                    in->tap_bip32, in->tap_bip32_count, lookup, SIZE_MAX,
                                    UINT32_MAX);
        if (rc == KURA_ENOTFOUND) {
            kura_assemble_i_describe(what, sizeof(what), spent->script_pubkey.data,
                                     spent->script_pubkey.len, network);
            rc = kura_assemble_i_refuse(reason, err, KURA_ASSEMBLE_INPUT_FOREIGN,
                                        "input %zu spends %s, which is not found in the wallet",
                                        i, what);
            goto done;
        }
        if (rc != KURA_OK) goto done;
        rc = kura_wallet_update_input(ctx, dst, i, work, wallet, branch, index, spent->amount,
                                      funding, err);
        if (rc != KURA_OK) goto done;
    }
    /* Change: an output the wallet derives on its change branch. Others
     * (payments, and anything else) are left bare; the signer decides. */
    for (size_t o = 0; o < src->output_count; o++) {
        const kura_psbt_output *out = &src->outputs[o];
        size_t branch = 0;
        uint32_t index = 0;
        rc = kura_assemble_i_locate(ctx, &branch, &index, &table, wallet, out->script_pubkey.data,
                                    out->script_pubkey.len, out->bip32, out->bip32_count,
                                    out->tap_bip32, out->tap_bip32_count, lookup,
                                    KURA_DESCRIPTOR_BRANCH_CHANGE, UINT32_MAX);
        if (rc == KURA_ENOTFOUND) continue;
        if (rc == KURA_OK)
            rc = kura_wallet_update_output(ctx, dst, o, work, wallet, branch, index, err);
        if (rc != KURA_OK) goto done;
    }
    kura_psbt_free(*psbt);
    *psbt = dst;
    dst = NULL;
    rc = KURA_OK;
done:
    kura_assemble_i_table_free(table);
    kura_descriptor_output_free(work);
    kura_tx_free(tx);
    kura_psbt_free(src);
    kura_psbt_free(dst);
    return rc;
}
