/* src/psbt/convert.c — the transaction a PSBT describes: creator, lock time
 * (BIP370), the unsigned tx, the unique identifier, and v0 <-> v2 conversion. */
#include <stdlib.h>
#include <string.h>

#include "kura/hash.h"
#include "psbt_internal.h"

int kura_psbt_from_tx(kura_psbt **out, const kura_tx *tx, uint32_t version, kura_error *err)
{
    kura_psbt *p;
    if (out == NULL) return kura_fail(err, KURA_EINVAL, "psbt: no output pointer");
    *out = NULL;
    if (tx == NULL || (version != 0 && version != 2) ||
        (tx->input_count > 0 && tx->inputs == NULL) ||
        (tx->output_count > 0 && tx->outputs == NULL))
        return kura_fail(err, KURA_EINVAL, "psbt: bad creator arguments");
    if (tx->input_count > KURA_TX_MAX_INPUTS || tx->output_count > KURA_TX_MAX_OUTPUTS)
        return kura_fail(err, KURA_ERANGE, "psbt: %zu inputs, %zu outputs", tx->input_count,
                         tx->output_count);
    for (size_t i = 0; i < tx->input_count; i++) {
        /* BIP174 Creator: the transaction's scriptSigs and witnesses are empty. */
        if (tx->inputs[i].script_sig.len > 0 || tx->inputs[i].witness_count > 0)
            return kura_fail(err, KURA_EDATA, "psbt: input %zu of the tx has a scriptSig or witness",
                             i);
    }
    for (size_t i = 0; i < tx->output_count; i++) {
        if (tx->outputs[i].amount > KURA_MAX_MONEY)
            return kura_fail(err, KURA_EDATA, "psbt: output %zu amount over 21e6 BTC", i);
        if (tx->outputs[i].script_pubkey.len > KURA_PSBT_MAX_VALUE)
            return kura_fail(err, KURA_ERANGE, "psbt: output %zu script too long", i);
    }
    p = kura_psbt_i_alloc(version);
    if (p == NULL) return kura_fail(err, KURA_ENOMEM, "psbt: out of memory");
    p->tx_version = tx->version;
    p->locktime = tx->locktime;
    p->has_fallback_locktime = version == 2 && tx->locktime != 0;
    if (tx->input_count > 0) {
        p->inputs = calloc(kura_psbt_i_cap(tx->input_count), sizeof(*p->inputs));
        if (p->inputs == NULL) goto nomem;
    }
    p->input_count = tx->input_count;
    for (size_t i = 0; i < tx->input_count; i++) {
        memcpy(p->inputs[i].prev_txid, tx->inputs[i].prev_txid, 32);
        p->inputs[i].prev_vout = tx->inputs[i].prev_vout;
        p->inputs[i].sequence = tx->inputs[i].sequence;
        p->inputs[i].has_sequence = version == 0 || tx->inputs[i].sequence != 0xffffffffu;
    }
    if (tx->output_count > 0) {
        p->outputs = calloc(kura_psbt_i_cap(tx->output_count), sizeof(*p->outputs));
        if (p->outputs == NULL) goto nomem;
    }
    p->output_count = tx->output_count;
    for (size_t i = 0; i < tx->output_count; i++) {
        p->outputs[i].amount = tx->outputs[i].amount;
        if (kura_psbt_i_bytes_set(&p->outputs[i].script_pubkey, tx->outputs[i].script_pubkey.data,
                                  tx->outputs[i].script_pubkey.len) != KURA_OK)
            goto nomem;
    }
    *out = p;
    return KURA_OK;
nomem:
    kura_psbt_free(p);
    return kura_fail(err, KURA_ENOMEM, "psbt: out of memory");
}

int kura_psbt_locktime(uint32_t *out, const kura_psbt *psbt, kura_error *err)
{
    bool any = false, all_height = true, all_time = true;
    uint32_t max_height = 0, max_time = 0;
    if (out == NULL || psbt == NULL) return kura_fail(err, KURA_EINVAL, "psbt: NULL argument");
    *out = 0;
    if (psbt->version == 0) {
        *out = psbt->locktime;
        return KURA_OK;
    }
    /* BIP370 "Determining Lock Time": only inputs that state a requirement
     * take part. A kind (height or time) is usable when every such input
     * states it; the lock time is the largest value of the kind chosen,
     * height when both are usable. With no requirement at all, the fallback
     * lock time (0 when absent). */
    for (size_t i = 0; i < psbt->input_count; i++) {
        const kura_psbt_input *in = &psbt->inputs[i];
        if (!in->has_required_height_locktime && !in->has_required_time_locktime) continue;
        any = true;
        if (in->has_required_height_locktime) {
            if (in->required_height_locktime > max_height) max_height = in->required_height_locktime;
        } else {
            all_height = false;
        }
        if (in->has_required_time_locktime) {
            if (in->required_time_locktime > max_time) max_time = in->required_time_locktime;
        } else {
            all_time = false;
        }
    }
    if (!any) {
        *out = psbt->has_fallback_locktime ? psbt->locktime : 0;
        return KURA_OK;
    }
    if (all_height) {
        *out = max_height;
        return KURA_OK;
    }
    if (all_time) {
        *out = max_time;
        return KURA_OK;
    }
    return kura_fail(err, KURA_EDATA,
                     "psbt: inputs require a height lock time and a time lock time; no lock "
                     "time satisfies both");
}

int kura_psbt_unsigned_tx(kura_tx **out, const kura_psbt *psbt, kura_error *err)
{
    kura_tx *tx;
    uint32_t locktime;
    int rc;
    if (out == NULL || psbt == NULL) return kura_fail(err, KURA_EINVAL, "psbt: NULL argument");
    *out = NULL;
    rc = kura_psbt_locktime(&locktime, psbt, err);
    if (rc != KURA_OK) return rc;
    tx = kura_tx_new();
    if (tx == NULL) return kura_fail(err, KURA_ENOMEM, "psbt: out of memory");
    tx->version = psbt->tx_version;
    tx->locktime = locktime;
    for (size_t i = 0; i < psbt->input_count; i++) {
        const kura_psbt_input *in = &psbt->inputs[i];
        rc = kura_tx_add_input(tx, in->prev_txid, in->prev_vout, in->sequence, NULL, 0);
        if (rc != KURA_OK) goto fail;
    }
    for (size_t i = 0; i < psbt->output_count; i++) {
        const kura_psbt_output *o = &psbt->outputs[i];
        rc = kura_tx_add_output(tx, o->amount, o->script_pubkey.data, o->script_pubkey.len);
        if (rc != KURA_OK) goto fail;
    }
    *out = tx;
    return KURA_OK;
fail:
    kura_tx_free(tx);
    return kura_fail(err, rc, "psbt: cannot build the unsigned tx (%s)", kura_status_name(rc));
}

int kura_psbt_unique_id(uint8_t out[32], const kura_psbt *psbt, kura_error *err)
{
    kura_buf b;
    uint32_t locktime;
    int rc;
    if (out == NULL || psbt == NULL) return kura_fail(err, KURA_EINVAL, "psbt: NULL argument");
    memset(out, 0, 32);
    rc = kura_psbt_locktime(&locktime, psbt, err);
    if (rc != KURA_OK) return rc;
    kura_buf_init(&b);
    /* BIP370 "Unique Identification": sequences may still change in a v2
     * PSBT, so its identifier zeroes them; a v0 PSBT's is its txid. */
    kura_psbt_i_write_unsigned_tx(&b, psbt, locktime, psbt->version == 2);
    if (b.failed) {
        kura_buf_free(&b);
        return kura_fail(err, KURA_ENOMEM, "psbt: out of memory");
    }
    kura_sha256d(out, b.data, b.len);
    kura_buf_free(&b);
    return KURA_OK;
}

int kura_psbt_set_version(kura_psbt *psbt, uint32_t version, kura_error *err)
{
    uint32_t locktime;
    int rc;
    if (psbt == NULL || (version != 0 && version != 2))
        return kura_fail(err, KURA_EINVAL, "psbt: bad version %u", (unsigned)version);
    if (psbt->version == version) return KURA_OK;
    if (version == 2) {
        /* BIP370: the unsigned tx's fields move to the global and per-map
         * fields; the defaults (lock time 0, sequence 0xffffffff) are left
         * implicit so that a v2 PSBT converted to v0 and back is unchanged. */
        psbt->version = 2;
        psbt->has_version_field = 1;
        psbt->has_fallback_locktime = psbt->locktime != 0;
        psbt->has_tx_modifiable = 0;
        psbt->tx_modifiable = 0;
        for (size_t i = 0; i < psbt->input_count; i++)
            psbt->inputs[i].has_sequence = psbt->inputs[i].sequence != 0xffffffffu;
        return KURA_OK;
    }
    rc = kura_psbt_locktime(&locktime, psbt, err);
    if (rc != KURA_OK) return rc;
    psbt->version = 0;
    psbt->has_version_field = 0;
    psbt->locktime = locktime;
    psbt->has_fallback_locktime = 0;
    psbt->has_tx_modifiable = 0;
    psbt->tx_modifiable = 0;
    for (size_t i = 0; i < psbt->input_count; i++) {
        kura_psbt_input *in = &psbt->inputs[i];
        if (!in->has_sequence) in->sequence = 0xffffffffu;
        in->has_sequence = 1;
        in->has_required_time_locktime = 0;
        in->required_time_locktime = 0;
        in->has_required_height_locktime = 0;
        in->required_height_locktime = 0;
    }
    return KURA_OK;
}
