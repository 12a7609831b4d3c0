/* src/assemble/estimate.c — the sizes coin selection needs, from the
 * signer's own estimator (kura_check_input_size) in its ceiling mode, so a
 * transaction paid at these sizes reaches its fee rate; and Bitcoin Core's
 * dust threshold for the change output. */
#include <string.h>

#include "assemble_internal.h"
#include "kura/check.h"
#include "kura/script.h"

/* Bitcoin Core's default dust relay fee, 3 sat/vB: an output is dust when
 * spending it costs more than a third of its value (policy.cpp
 * GetDustThreshold: the output's size plus the input that spends it, 67
 * vbytes for a witness program and 148 otherwise, at that rate). */
#define DUST_RELAY_SAT_PER_VB 3u

static size_t cs(size_t n)
{
    return kura_compact_size_len((uint64_t)n);
}

int kura_assemble_estimate(const kura_ctx *ctx, kura_assemble_sizes *out,
                           const kura_descriptor *wallet, const kura_intent *intent,
                           kura_error *err)
{
    kura_descriptor_output *work = NULL;
    size_t ssl = 0, wl = 0, change_len, outputs = 1, base;
    int segwit = 0, rc;
    uint8_t change[KURA_SCRIPT_PUBKEY_MAX];

    if (out != NULL) memset(out, 0, sizeof(*out));
    if (ctx == NULL || out == NULL || wallet == NULL ||
        kura_descriptor_multipath_count(wallet) <= KURA_DESCRIPTOR_BRANCH_CHANGE)
        return kura_fail(err, KURA_EINVAL, "assemble: NULL argument or a wallet without change");
    work = kura_descriptor_output_new();
    if (work == NULL) return kura_fail(err, KURA_ENOMEM, "assemble: out of memory");
    rc = kura_descriptor_derive(ctx, work, wallet, KURA_DESCRIPTOR_BRANCH_RECEIVE, 0, err);
    if (rc == KURA_OK && work->n_scripts != 1)
        rc = kura_fail(err, KURA_EDATA, "assemble: a wallet of several scripts (combo)");
    if (rc == KURA_OK)
        rc = kura_check_input_size(&ssl, &wl, &segwit, work, KURA_CHECK_SIZE_CEILING);
    kura_descriptor_output_free(work);
    if (rc != KURA_OK) return rc;
    if (ssl == 0 && wl == 0)
        return kura_fail(err, KURA_EDATA, "assemble: the wallet's scripts are not a kind kura "
                                          "spends (wpkh, wsh multisig, tr)");
    rc = kura_descriptor_script_pubkey(ctx, change, sizeof(change), &change_len, wallet,
                                       KURA_DESCRIPTOR_BRANCH_CHANGE, 0, err);
    if (rc != KURA_OK) return rc;

    /* One input: outpoint 36, scriptSig with its length, sequence 4. */
    out->input_weight = (uint32_t)(4 * (36 + cs(ssl) + ssl + 4) + wl);
    out->change_input_weight = out->input_weight;
    out->change_output_weight = (uint32_t)(4 * (8 + cs(change_len) + change_len));
    base = 4 + 3 + 4; /* version, input count (up to 65535 inputs), lock time */
    if (intent != NULL) {
        outputs += intent->output_count;
        for (size_t o = 0; o < intent->output_count; o++)
            base += 8 + cs(intent->outputs[o].script_len) + intent->outputs[o].script_len;
    }
    base += cs(outputs);
    out->base_weight = (uint32_t)(4 * base + (segwit ? 2 : 0));
    switch (kura_script_classify(change, change_len, NULL, NULL, NULL)) {
    case KURA_SCRIPT_P2WPKH:
    case KURA_SCRIPT_P2WSH:
    case KURA_SCRIPT_P2TR:
    case KURA_SCRIPT_WITNESS_UNKNOWN:
        out->change_dust = DUST_RELAY_SAT_PER_VB * (8 + cs(change_len) + change_len + 67);
        break;
    default:
        out->change_dust = DUST_RELAY_SAT_PER_VB * (8 + cs(change_len) + change_len + 148);
        break;
    }
    return KURA_OK;
}

void kura_assemble_coinselect_params(kura_coinselect_params *params,
                                     const kura_assemble_sizes *sizes, uint64_t target,
                                     uint64_t fee_rate, uint64_t long_term_fee_rate,
                                     uint64_t seed)
{
    if (params == NULL || sizes == NULL) return;
    memset(params, 0, sizeof(*params));
    params->target = target;
    params->fee_rate = fee_rate;
    params->long_term_fee_rate = long_term_fee_rate;
    params->base_weight = sizes->base_weight;
    params->change_output_weight = sizes->change_output_weight;
    params->change_input_weight = sizes->change_input_weight;
    params->min_change = sizes->change_dust;
    params->seed = seed;
}
