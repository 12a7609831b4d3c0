/* src/assemble/finalize.c — the end of a transfer: finalize, extract, verify
 * every signature of the network transaction, and hold its effects against
 * the intent the way the signer's check does (docs/signer-check.md step 5):
 * intent outputs as a multiset in any order, change recognised by deriving
 * the wallet's own descriptor on its change branch at any index up to the
 * caller's bound, the fee within max-fee. The coordinator broadcasts only
 * what passes. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "assemble_internal.h"
#include "kura/script.h"

void kura_assemble_final_clear(kura_assemble_final *final)
{
    if (final == NULL) return;
    free(final->tx);
    memset(final, 0, sizeof(*final));
}

static int bytes_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* The outputs: each intent output once, everything else change. */
static int check_outputs(const kura_ctx *ctx, kura_assemble_final *final, const kura_psbt *acc,
                         const kura_tx *tx, const kura_descriptor *wallet,
                         const kura_intent *intent, uint32_t max_change_index,
                         const kura_assemble_lookup *lookup, kura_network network,
                         kura_assemble_i_table **table, kura_error *err)
{
    size_t *role = NULL; /* per tx output: intent output index, or SIZE_MAX */
    unsigned char *used = NULL;
    char what[KURA_ADDRESS_MAX + 96];
    int rc = KURA_OK;

    role = calloc(tx->output_count ? tx->output_count : 1, sizeof(*role));
    used = calloc(intent->output_count ? intent->output_count : 1, 1);
    if (role == NULL || used == NULL) {
        rc = kura_fail(err, KURA_ENOMEM, "assemble: out of memory");
        goto done;
    }
    for (size_t o = 0; o < tx->output_count; o++) {
        const kura_txout *out = &tx->outputs[o];
        role[o] = SIZE_MAX;
        for (size_t j = 0; j < intent->output_count; j++) {
            const kura_intent_output *io = &intent->outputs[j];
            if (used[j] || io->amount != out->amount ||
                !bytes_eq(io->script, io->script_len, out->script_pubkey.data,
                          out->script_pubkey.len))
                continue;
            used[j] = 1;
            role[o] = j;
            break;
        }
    }
    for (size_t j = 0; j < intent->output_count; j++) {
        if (used[j]) continue;
        rc = kura_assemble_i_refuse(&final->reason, err, KURA_ASSEMBLE_OUTPUT_MISSING,
                                    "intent output %zu (%s, %" PRIu64
                                    " sat) is not in the transaction",
                                    j + 1, intent->outputs[j].address, intent->outputs[j].amount);
        goto done;
    }
    for (size_t o = 0; o < tx->output_count; o++) {
        const kura_txout *out = &tx->outputs[o];
        const kura_psbt_output *po = &acc->outputs[o];
        size_t branch = 0;
        uint32_t index = 0, scan;
        if (role[o] != SIZE_MAX) continue;
        for (size_t j = 0; j < intent->output_count; j++) {
            const kura_intent_output *io = &intent->outputs[j];
            if (io->amount == out->amount &&
                bytes_eq(io->script, io->script_len, out->script_pubkey.data,
                         out->script_pubkey.len)) {
                rc = kura_assemble_i_refuse(&final->reason, err, KURA_ASSEMBLE_OUTPUT_DUPLICATE,
                                            "output %zu pays intent output %zu (%s, %" PRIu64
                                            " sat) a second time",
                                            o, j + 1, io->address, io->amount);
                goto done;
            }
        }
        /* Change: the wallet's own script on its change branch. The
         * PSBT's records only say where to look; the derivation decides.
         * Hints and the locator may find any index (then the bound is
         * checked and named); the scan stops at the bound. */
        scan = max_change_index == UINT32_MAX ? UINT32_MAX : max_change_index + 1;
        rc = kura_assemble_i_locate(ctx, &branch, &index, table, wallet,
                                    out->script_pubkey.data, out->script_pubkey.len, po->bip32, po->bip32_count,
                                    po->tap_bip32, po->tap_bip32_count, lookup,
                                    KURA_DESCRIPTOR_BRANCH_CHANGE, scan);
        kura_assemble_i_describe(what, sizeof(what), out->script_pubkey.data,
                                 out->script_pubkey.len, network);
        if (rc == KURA_ENOTFOUND) {
            rc = kura_assemble_i_refuse(&final->reason, err, KURA_ASSEMBLE_OUTPUT_UNEXPECTED,
                                        "output %zu pays %s %" PRIu64 " sat, which is neither in "
                                        "the intent nor the wallet's change",
                                        o, what, out->amount);
            goto done;
        }
        if (rc != KURA_OK) goto done;
        if (index > max_change_index) {
            rc = kura_assemble_i_refuse(&final->reason, err, KURA_ASSEMBLE_CHANGE_BEYOND_LIMIT,
                                        "output %zu pays %s %" PRIu64 " sat as change at index "
                                        "%" PRIu32 ", beyond the change limit %" PRIu32,
                                        o, what, out->amount, index, max_change_index);
            goto done;
        }
        final->change += out->amount;
        final->change_outputs++;
    }
done:
    free(role);
    free(used);
    return rc;
}

int kura_assemble_finalize(const kura_ctx *ctx, kura_assemble_final *final,
                           const kura_psbt *accumulated, const kura_descriptor *wallet,
                           const uint8_t *intent_text, size_t intent_len,
                           uint32_t max_change_index, const kura_assemble_lookup *lookup,
                           kura_error *err)
{
    kura_intent *intent = NULL;
    kura_psbt *copy = NULL;
    kura_tx *tx = NULL;
    kura_txout *spent = NULL;
    kura_assemble_i_table *table = NULL;
    kura_network network = KURA_NETWORK_MAINNET;
    kura_error e;
    uint64_t in_total = 0, out_total = 0;
    size_t checked = 0, len = 0;
    int rc;

    if (final != NULL) memset(final, 0, sizeof(*final));
    if (ctx == NULL || final == NULL || accumulated == NULL || wallet == NULL ||
        kura_descriptor_multipath_count(wallet) <= KURA_DESCRIPTOR_BRANCH_CHANGE)
        return kura_fail(err, KURA_EINVAL, "assemble: NULL argument or a wallet without change");
    if (lookup != NULL && lookup->scan_limit > KURA_ASSEMBLE_SCAN_MAX)
        return kura_fail(err, KURA_EINVAL, "assemble: scan limit over %u", KURA_ASSEMBLE_SCAN_MAX);
    memset(&e, 0, sizeof(e));
    rc = kura_assemble_i_intent(ctx, &intent, &final->reason, wallet, intent_text, intent_len,
                                err);
    if (rc != KURA_OK) return rc;
    (void)kura_intent_chain_network(&network, intent->chain);

    rc = kura_psbt_clone(&copy, accumulated);
    if (rc != KURA_OK) {
        kura_fail(err, rc, "assemble: cannot copy the PSBT");
        goto done;
    }
    rc = kura_psbt_finalize(copy, &e);
    if (rc == KURA_EDATA) {
        rc = kura_assemble_i_refuse(&final->reason, err, KURA_ASSEMBLE_THRESHOLD_NOT_MET, "%s",
                                    e.message);
        goto done;
    }
    if (rc == KURA_OK) rc = kura_psbt_extract(&tx, copy, &e);
    if (rc != KURA_OK) {
        if (rc == KURA_EDATA)
            rc = kura_assemble_i_refuse(&final->reason, err, KURA_ASSEMBLE_MALFORMED, "%s",
                                        e.message);
        else
            kura_fail(err, rc, "assemble: cannot finalize (%s)", kura_status_name(rc));
        goto done;
    }

    /* What each input spends, from the PSBT's funding transaction (which
     * must hash to the outpoint) or its witness UTXO; both must agree. */
    spent = calloc(tx->input_count ? tx->input_count : 1, sizeof(*spent));
    if (spent == NULL) {
        rc = kura_fail(err, KURA_ENOMEM, "assemble: out of memory");
        goto done;
    }
    for (size_t i = 0; i < tx->input_count; i++) {
        const kura_psbt_input *in = &accumulated->inputs[i];
        const kura_txout *s = NULL;
        uint8_t txid[32];
        if (in->non_witness_utxo != NULL) {
            if (kura_tx_txid(txid, in->non_witness_utxo) != KURA_OK ||
                memcmp(txid, in->prev_txid, 32) != 0 ||
                in->prev_vout >= in->non_witness_utxo->output_count) {
                rc = kura_assemble_i_refuse(&final->reason, err, KURA_ASSEMBLE_MALFORMED,
                                            "input %zu: the funding transaction is another "
                                            "transaction",
                                            i);
                goto done;
            }
            s = &in->non_witness_utxo->outputs[in->prev_vout];
            if (in->has_witness_utxo &&
                (in->witness_utxo.amount != s->amount ||
                 !bytes_eq(in->witness_utxo.script_pubkey.data, in->witness_utxo.script_pubkey.len,
                           s->script_pubkey.data, s->script_pubkey.len))) {
                rc = kura_assemble_i_refuse(&final->reason, err, KURA_ASSEMBLE_MALFORMED,
                                            "input %zu: the witness UTXO contradicts the funding "
                                            "transaction",
                                            i);
                goto done;
            }
        } else if (in->has_witness_utxo) {
            s = &in->witness_utxo;
        }
        if (s == NULL) {
            rc = kura_assemble_i_refuse(&final->reason, err, KURA_ASSEMBLE_FUNDING_MISSING,
                                        "input %zu: the output it spends is unknown", i);
            goto done;
        }
        spent[i] = *s; /* borrowed: points into accumulated */
        in_total += s->amount;
        if (s->amount > KURA_MAX_MONEY || in_total > KURA_MAX_MONEY) {
            rc = kura_assemble_i_refuse(&final->reason, err, KURA_ASSEMBLE_MALFORMED,
                                        "the inputs exceed 21 million BTC");
            goto done;
        }
    }
    rc = kura_wallet_verify_tx(ctx, &checked, tx, spent, &e);
    if (rc == KURA_EDATA) {
        rc = kura_assemble_i_refuse(&final->reason, err, KURA_ASSEMBLE_SIGNATURE_INVALID, "%s",
                                    e.message);
        goto done;
    }
    if (rc != KURA_OK) {
        kura_fail(err, rc, "assemble: cannot verify (%s)", kura_status_name(rc));
        goto done;
    }
    /* Every input is the wallet's own coin. */
    for (size_t i = 0; i < tx->input_count; i++) {
        const kura_psbt_input *in = &accumulated->inputs[i];
        size_t branch = 0;
        uint32_t index = 0;
        rc = kura_assemble_i_locate(ctx, &branch, &index, &table, wallet,
                                    spent[i].script_pubkey.data, spent[i].script_pubkey.len, in->bip32, in->bip32_count,
                                    in->tap_bip32, in->tap_bip32_count, lookup, SIZE_MAX,
                                    UINT32_MAX);
        if (rc == KURA_ENOTFOUND) {
            char what[KURA_ADDRESS_MAX + 96];
            kura_assemble_i_describe(what, sizeof(what), spent[i].script_pubkey.data,
                                     spent[i].script_pubkey.len, network);
            rc = kura_assemble_i_refuse(&final->reason, err, KURA_ASSEMBLE_INPUT_FOREIGN,
                                        "input %zu spends %s, which is not the wallet's", i, what);
            goto done;
        }
        if (rc != KURA_OK) goto done;
    }
    rc = check_outputs(ctx, final, accumulated, tx, wallet, intent, max_change_index, lookup,
                       network, &table, err);
    if (rc != KURA_OK) goto done;
    rc = kura_tx_output_total(&out_total, tx);
    if (rc != KURA_OK || out_total > in_total) {
        rc = kura_assemble_i_refuse(&final->reason, err, KURA_ASSEMBLE_MALFORMED,
                                    "the outputs exceed the inputs");
        goto done;
    }
    final->fee = in_total - out_total;
    if (final->fee > intent->max_fee) {
        rc = kura_assemble_i_refuse(&final->reason, err, KURA_ASSEMBLE_FEE,
                                    "fee %" PRIu64 " sat is over the intent's max-fee of %" PRIu64
                                    " sat",
                                    final->fee, intent->max_fee);
        goto done;
    }

    final->tx_len = kura_tx_serialized_size(tx, KURA_TX_WITNESS);
    final->tx = malloc(final->tx_len ? final->tx_len : 1);
    if (final->tx == NULL) {
        rc = kura_fail(err, KURA_ENOMEM, "assemble: out of memory");
        goto done;
    }
    rc = kura_tx_serialize(final->tx, final->tx_len, &len, tx, KURA_TX_WITNESS);
    if (rc == KURA_OK) rc = kura_tx_txid(final->txid, tx);
    if (rc != KURA_OK) {
        kura_fail(err, rc, "assemble: cannot serialise the transaction");
        goto done;
    }
    final->tx_len = len;
    final->vsize = kura_tx_vsize(tx);
    final->reason = KURA_ASSEMBLE_OK;
done:
    if (rc != KURA_OK) {
        kura_assemble_reason why = final->reason;
        kura_assemble_final_clear(final);
        final->reason = rc == KURA_EDATA ? why : KURA_ASSEMBLE_OK;
    }
    kura_assemble_i_table_free(table);
    free(spent);
    kura_tx_free(tx);
    kura_psbt_free(copy);
    kura_intent_free(intent);
    return rc;
}
