/* src/check/summary.c — what the signer shows a person before it asks
 * (DESIGN step 7), written only from what the check verified: the intent's
 * outputs as matched in the transaction, change as re-derived, the fee from
 * proven amounts, approvers by the names the policy gives their keys.
 * Everything in it is printable ASCII (the intent and policy parsers allow
 * nothing else; addresses are re-encoded here), so a label cannot carry a
 * terminal escape that rewrites the screen. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_internal.h"
#include "kura/tx.h"

static void put(kura_buf *b, const char *fmt, ...) KURA_PRINTF(2, 3);
static void put(kura_buf *b, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    kura_buf_put(b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* Copies s showing anything outside printable ASCII as '?' (labels are
 * already clean; this is the second line of defence). */
static void put_clean(kura_buf *b, const char *s)
{
    for (size_t i = 0; s[i] != '\0' && i < 256; i++) {
        uint8_t c = (uint8_t)s[i];
        kura_buf_put_u8(b, c >= 0x20 && c <= 0x7e ? c : (uint8_t)'?');
    }
}

int kura_check_i_summary(kura_check_run *run)
{
    const kura_intent *in = run->intent;
    const kura_policy *p = run->policy;
    const kura_psbt *psbt = run->psbt;
    const kura_check_result *res = run->result;
    char btc[40], t1[32], t2[32], hex[65], what[KURA_ADDRESS_MAX + 16];
    uint64_t total = kura_intent_total(in), tenths;
    size_t len;
    kura_buf b;

    for (size_t i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", res->intent_hash[i]);
    if (kura_intent_time_format(t1, sizeof(t1), in->created) != KURA_OK) t1[0] = '\0';
    if (kura_intent_time_format(t2, sizeof(t2), in->expires) != KURA_OK) t2[0] = '\0';

    kura_buf_init(&b);
    put(&b, "Transfer from wallet %s #%s on %s\n", in->wallet.name, in->wallet.checksum,
        kura_intent_chain_name(in->chain));
    put(&b, "  intent:    %s\n  initiator: %s\n  created:   %s\n  expires:   %s\n", in->id,
        in->initiator, t1, t2);
    put(&b, "  SHA-256:   %s\n", hex);
    if (run->policy_is_new)
        put(&b,
            "  policy:    version %" PRIu64 ", NEW: this package updates the policy from "
            "version %" PRIu64 " (signed by %zu administrators)\n",
            p->version, run->state->policy->version, run->policy_signatures_valid);
    else
        put(&b, "  policy:    version %" PRIu64 "\n", p->version);

    put(&b, "\nPays %zu destination%s:\n", in->output_count, in->output_count == 1 ? "" : "s");
    for (size_t j = 0; j < in->output_count; j++) {
        const kura_intent_output *o = &in->outputs[j];
        const char *allow = NULL;
        size_t at = SIZE_MAX;
        for (size_t k = 0; k < psbt->output_count && at == SIZE_MAX; k++)
            if (run->roles[k].intent_output == j) at = k;
        kura_check_i_btc(btc, sizeof(btc), o->amount);
        put(&b, "  %zu. %s\n     %s (%" PRIu64 " sat), transaction output %zu\n", j + 1, o->address,
            btc, o->amount, at);
        if (o->label[0] != '\0') {
            put(&b, "     label: ");
            put_clean(&b, o->label);
            put(&b, "\n");
        }
        /* Looked up once, in step 6. */
        if (run->dest_allow != NULL && run->dest_allow[j] != NULL) {
            allow = run->dest_allow[j]->label;
            put(&b, "     allowlisted as: ");
            put_clean(&b, allow != NULL ? allow : "");
            put(&b, "\n");
        } else {
            put(&b, "     NOT ON THE ALLOWLIST\n");
        }
    }
    kura_check_i_btc(btc, sizeof(btc), total);
    put(&b, "  Total: %s (%" PRIu64 " sat)\n", btc, total);

    kura_check_i_btc(btc, sizeof(btc), run->change);
    if (run->change_outputs == 0) {
        put(&b, "\nNo change.\n");
    } else {
        put(&b, "\nChange back to this wallet: %s (%" PRIu64 " sat)\n", btc, run->change);
        for (size_t k = 0; k < psbt->output_count; k++) {
            const kura_psbt_output *o = &psbt->outputs[k];
            if (!run->roles[k].is_change) continue;
            kura_check_i_describe_script(what, sizeof(what), o->script_pubkey.data,
                                         o->script_pubkey.len, run->network);
            kura_check_i_btc(btc, sizeof(btc), o->amount);
            put(&b, "  %s, change index %" PRIu32 ": %s (%" PRIu64 " sat)\n", what,
                run->roles[k].change_index, btc, o->amount);
        }
    }

    if (run->bump) {
        char txid[65];
        kura_txid_to_hex(txid, run->prior.last_txid);
        put(&b,
            "\nFEE BUMP: this replaces transaction %s (journal entry %" PRIu64
            "), signed before for this intent; it spends every coin that one spent, so at most "
            "one of them can confirm. Fee %" PRIu64 " sat -> %" PRIu64 " sat.\n",
            txid, run->prior.last_entry, run->prior.fee_max, run->fee);
    }
    kura_check_i_btc(btc, sizeof(btc), run->fee);
    tenths = run->vsize > 0 ? (run->fee * 10 + run->vsize - 1) / run->vsize : 0;
    put(&b,
        "\nFee: %s (%" PRIu64 " sat), %" PRIu64 ".%" PRIu64 " sat/vB for an estimated %" PRIu64
        " vB\n",
        btc, run->fee, tenths / 10, tenths % 10, run->vsize);
    put(&b, "  caps: intent %" PRIu64 " sat; policy %" PRIu64 " sat and %" PRIu64 " sat/vB\n",
        in->max_fee, p->max_fee, p->max_fee_rate);
    kura_check_i_btc(btc, sizeof(btc), run->in_total);
    put(&b, "Spends %zu coin%s of this wallet: %s (%" PRIu64 " sat)\n", psbt->input_count,
        psbt->input_count == 1 ? "" : "s", btc, run->in_total);
    kura_check_i_btc(btc, sizeof(btc), total + run->fee);
    put(&b, "Leaves the wallet: %s (%" PRIu64 " sat)\n", btc, total + run->fee);

    put(&b, "\nApproved by: ");
    for (size_t k = 0; k < run->approver_count; k++)
        put(&b, "%s%s", k > 0 ? ", " : "", p->approvers[run->approvers[k]].name);
    put(&b, " (%zu approval%s, %u required for this amount)\n", run->approver_count,
        run->approver_count == 1 ? "" : "s", res->approvals_required);
    kura_buf_put_u8(&b, 0);
    if (b.failed) {
        kura_buf_free(&b);
        run->result->reason = KURA_REFUSE_NONE;
        snprintf(run->result->message, sizeof(run->result->message), "check: out of memory");
        return KURA_ENOMEM;
    }
    run->result->summary = (char *)kura_buf_take(&b, &len);
    if (run->result->summary == NULL) return KURA_ENOMEM;
    return KURA_OK;
}
