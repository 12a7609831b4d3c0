/*
 * tests/e2e/package-finalize.c — the end of a legitimate transfer, for the
 * incident tests: combine the PSBTs the signers returned (BIP174 Combiner),
 * finalize, extract, and check the result independently of the signer:
 *
 *   - every signature in the PSBTs, then every signature in the final
 *     transaction, verifies against sighashes recomputed from the transaction
 *     and the coins it spends (kura_wallet_verify_psbt / _verify_tx);
 *   - the transaction's outputs are the intent's, in order, with the same
 *     scripts and amounts, and every other output is change on the wallet's
 *     change branch (found by deriving the descriptor, not by trusting the
 *     PSBT's derivation records);
 *   - the fee is within the intent's max-fee.
 *
 *   package-finalize --descriptor DESC --intent FILE [-o TXHEX] PSBT...
 *
 * The first PSBT is usually the unsigned package itself: combining the signed
 * ones with it proves the signers signed that very transaction. Prints the
 * txid and what it checked; writes the raw transaction's hex to TXHEX.
 * Exit 0 valid, 1 a check failed, 2 could not run.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kura/descriptor.h"
#include "kura/encoding.h"
#include "kura/intent.h"
#include "kura/psbt.h"
#include "kura/tx.h"
#include "kura/wallet.h"

#include "e2e-util.h"

#define CHANGE_SCAN 1000u

static int load_psbt(kura_psbt **out, const char *path)
{
    kura_error err;
    int rc = e2e_load_psbt(out, path, &err);
    if (rc == E2E_EREAD) {
        fprintf(stderr, "package-finalize: cannot read %s: %s\n", path, strerror(errno));
        return 2;
    }
    if (rc != KURA_OK) {
        fprintf(stderr, "package-finalize: %s: %s\n", path, err.message);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *desc_text = NULL, *intent_path = NULL, *hex_path = NULL;
    const char *files[64];
    size_t file_count = 0, checked = 0, tx_checked = 0, len;
    kura_ctx *ctx = NULL;
    kura_descriptor *desc = NULL;
    kura_intent *intent = NULL;
    kura_psbt *psbt = NULL;
    kura_tx *tx = NULL;
    kura_txout *spent = NULL;
    kura_error err;
    uint8_t *text = NULL;
    uint64_t in_total = 0, out_total = 0;
    int rc = 2;

    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--descriptor") == 0) desc_text = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--intent") == 0) intent_path = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "-o") == 0) hex_path = argv[++i];
        else if (file_count < 64) files[file_count++] = argv[i];
    }
    if (desc_text == NULL || intent_path == NULL || file_count == 0) {
        fputs("usage: package-finalize --descriptor DESC --intent FILE [-o TXHEX] PSBT...\n",
              stderr);
        return 2;
    }
    ctx = kura_ctx_new();
    if (ctx == NULL) goto done;
    if (kura_descriptor_parse(ctx, &desc, desc_text, strlen(desc_text), &err) != KURA_OK) {
        fprintf(stderr, "package-finalize: descriptor: %s\n", err.message);
        goto done;
    }
    if ((text = e2e_read_file(intent_path, &len)) == NULL ||
        kura_intent_parse(&intent, text, len, &err) != KURA_OK) {
        fprintf(stderr, "package-finalize: cannot read the intent %s\n", intent_path);
        goto done;
    }
    if ((rc = load_psbt(&psbt, files[0])) != 0) goto done;
    for (size_t i = 1; i < file_count; i++) {
        kura_psbt *other = NULL;
        if ((rc = load_psbt(&other, files[i])) != 0) goto done;
        if (kura_psbt_combine(psbt, other, &err) != KURA_OK) {
            fprintf(stderr, "package-finalize: combine %s: %s\n", files[i], err.message);
            kura_psbt_free(other);
            rc = 1;
            goto done;
        }
        kura_psbt_free(other);
    }
    rc = 1;
    if (kura_wallet_verify_psbt(ctx, &checked, psbt, &err) != KURA_OK) {
        fprintf(stderr, "package-finalize: signatures: %s\n", err.message);
        goto done;
    }
    if (kura_psbt_finalize(psbt, &err) != KURA_OK ||
        kura_psbt_extract(&tx, psbt, &err) != KURA_OK) {
        fprintf(stderr, "package-finalize: finalize: %s\n", err.message);
        goto done;
    }

    /* The coins spent, from the funding transactions the PSBT carries. */
    spent = calloc(tx->input_count, sizeof(*spent));
    if (spent == NULL) {
        rc = 2;
        goto done;
    }
    for (size_t i = 0; i < tx->input_count; i++) {
        const kura_psbt_input *in = &psbt->inputs[i];
        if (in->non_witness_utxo != NULL) {
            uint8_t txid[32];
            kura_tx_txid(txid, in->non_witness_utxo);
            if (memcmp(txid, in->prev_txid, 32) != 0 ||
                in->prev_vout >= in->non_witness_utxo->output_count) {
                fprintf(stderr, "package-finalize: input %zu: funding tx does not match\n", i);
                goto done;
            }
            spent[i] = in->non_witness_utxo->outputs[in->prev_vout];
        } else if (in->has_witness_utxo) {
            spent[i] = in->witness_utxo;
        } else {
            fprintf(stderr, "package-finalize: input %zu: no UTXO\n", i);
            goto done;
        }
        in_total += spent[i].amount;
    }
    if (kura_wallet_verify_tx(ctx, &tx_checked, tx, spent, &err) != KURA_OK) {
        fprintf(stderr, "package-finalize: transaction: %s\n", err.message);
        goto done;
    }

    /* The outputs are the intent's, then change. */
    if (tx->output_count < intent->output_count) {
        fprintf(stderr, "package-finalize: %zu outputs, the intent has %zu\n", tx->output_count,
                intent->output_count);
        goto done;
    }
    for (size_t i = 0; i < tx->output_count; i++) {
        const kura_txout *o = &tx->outputs[i];
        out_total += o->amount;
        if (i < intent->output_count) {
            const kura_intent_output *want = &intent->outputs[i];
            if (o->amount != want->amount || o->script_pubkey.len != want->script_len ||
                memcmp(o->script_pubkey.data, want->script, want->script_len) != 0) {
                fprintf(stderr, "package-finalize: output %zu is not the intent's %s %" PRIu64 "\n",
                        i, want->address, want->amount);
                goto done;
            }
            printf("output %zu: %" PRIu64 " sat to %s, as the intent says\n", i, o->amount,
                   want->address);
        } else {
            uint8_t script[KURA_SCRIPT_PUBKEY_MAX];
            size_t script_len;
            uint32_t k;
            for (k = 0; k < CHANGE_SCAN; k++)
                if (kura_descriptor_script_pubkey(ctx, script, sizeof(script), &script_len, desc,
                                                  KURA_DESCRIPTOR_BRANCH_CHANGE, k,
                                                  &err) == KURA_OK &&
                    script_len == o->script_pubkey.len &&
                    memcmp(script, o->script_pubkey.data, script_len) == 0)
                    break;
            if (k == CHANGE_SCAN) {
                fprintf(stderr, "package-finalize: output %zu is neither the intent's nor change\n",
                        i);
                goto done;
            }
            printf("output %zu: %" PRIu64 " sat change to the wallet's change index %" PRIu32 "\n",
                   i, o->amount, k);
        }
    }
    if (out_total > in_total || in_total - out_total > intent->max_fee) {
        fprintf(stderr, "package-finalize: fee %" PRIu64 " over the intent's max-fee %" PRIu64 "\n",
                in_total - out_total, intent->max_fee);
        goto done;
    }
    {
        uint8_t id[32];
        char hex_id[65];
        size_t n = kura_tx_serialized_size(tx, KURA_TX_WITNESS), w;
        uint8_t *raw = malloc(n);
        char *hex = malloc(2 * n + 1);
        if (raw == NULL || hex == NULL ||
            kura_tx_serialize(raw, n, &w, tx, KURA_TX_WITNESS) != KURA_OK ||
            kura_hex_encode(hex, 2 * n + 1, raw, w) != KURA_OK) {
            free(raw);
            free(hex);
            rc = 2;
            goto done;
        }
        kura_tx_txid(id, tx);
        kura_txid_to_hex(hex_id, id);
        printf("fee: %" PRIu64 " sat\n", in_total - out_total);
        printf("signatures: %zu in the PSBTs, %zu in the final transaction, all valid\n", checked,
               tx_checked);
        printf("txid: %s\n", hex_id);
        if (hex_path != NULL) {
            FILE *f = fopen(hex_path, "w");
            int written = f != NULL && fprintf(f, "%s\n", hex) >= 0;
            if (f != NULL && fclose(f) != 0) written = 0;
            if (!written) {
                fprintf(stderr, "package-finalize: cannot write %s\n", hex_path);
                free(raw);
                free(hex);
                rc = 2;
                goto done;
            }
        }
        free(raw);
        free(hex);
    }
    rc = 0;
done:
    free(spent); /* its entries point into psbt */
    free(text);
    kura_tx_free(tx);
    kura_psbt_free(psbt);
    kura_intent_free(intent);
    kura_descriptor_free(desc);
    kura_ctx_free(ctx);
    return rc;
}
