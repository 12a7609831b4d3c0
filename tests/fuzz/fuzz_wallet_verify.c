/* Fuzz target: kura_wallet_verify_psbt, which reads scripts, control blocks
 * and signatures out of an untrusted PSBT and recomputes sighashes. Any
 * input must give KURA_OK or a clean refusal (KURA_EDATA/KURA_ERANGE) with a
 * message; the count of checked signatures is 0 on refusal. Verification of
 * the extracted transaction (kura_wallet_verify_tx) runs on every finalized
 * PSBT too. Any crash, leak or sanitizer report is a failure. */
#include <stdint.h>
#include <stdlib.h>

#include "kura/psbt.h"
#include "kura/wallet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kura_psbt *p = NULL;
    kura_error err;
    size_t checked = 99;
    int rc;
    if (kura_psbt_parse(&p, data, size, NULL) != KURA_OK) return 0;
    err.code = KURA_OK;
    err.message[0] = '\0';
    rc = kura_wallet_verify_psbt(NULL, &checked, p, &err);
    if (rc != KURA_OK && (rc == KURA_EINVAL || err.message[0] == '\0')) abort();
    if (kura_psbt_is_finalized(p)) {
        kura_tx *tx = NULL;
        if (kura_psbt_extract(&tx, p, NULL) == KURA_OK) {
            kura_txout *spent = calloc(tx->input_count ? tx->input_count : 1, sizeof(*spent));
            int have_all = spent != NULL;
            for (size_t i = 0; have_all && i < tx->input_count; i++) {
                const kura_psbt_input *in = &p->inputs[i];
                if (in->has_witness_utxo) spent[i] = in->witness_utxo;
                else if (in->non_witness_utxo != NULL &&
                         in->prev_vout < in->non_witness_utxo->output_count)
                    spent[i] = in->non_witness_utxo->outputs[in->prev_vout];
                else have_all = 0;
            }
            if (have_all) (void)kura_wallet_verify_tx(NULL, &checked, tx, spent, NULL);
            free(spent);
            kura_tx_free(tx);
        }
    }
    kura_psbt_free(p);
    return 0;
}
