/* src/check/bump.c — fee bumps (RBF): when the signer may sign an intent it
 * signed before (docs/signer-check.md, "Fee bumps").
 *
 * An approved intent pays once. A second signature is safe only when it
 * cannot be a second payment: when it spends every coin that every earlier
 * signature of the intent spent, so that the transactions conflict pairwise
 * and at most one of them can ever confirm. The journal records the coins
 * each signature spent; a signature whose coins it does not know (a
 * version-1 journal entry) can never be bumped. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_internal.h"
#include "kura/tx.h"

static int fail_result_nomem(kura_check_run *run)
{
    run->result->reason = KURA_REFUSE_NONE;
    snprintf(run->result->message, sizeof(run->result->message), "check: out of memory");
    return KURA_ENOMEM;
}

/* BIP125: a transaction signals replaceability when some input's nSequence
 * is below 0xfffffffe. */
int kura_check_i_signals_rbf(const kura_psbt *psbt)
{
    for (size_t i = 0; i < psbt->input_count; i++)
        if (psbt->inputs[i].sequence < 0xfffffffeu) return 1;
    return 0;
}

static int refuse_replay(kura_check_run *run, const char *why)
{
    return kura_check_i_refuse(run, KURA_REFUSE_INTENT_REPLAY,
                               "intent %s was signed before, and %s", run->intent->id, why);
}

/* 1 when the package's unsigned transaction is the one signed last. */
static int same_as_last(const kura_check_run *run)
{
    kura_tx *utx = NULL;
    uint8_t txid[32];
    int same = kura_psbt_unsigned_tx(&utx, run->psbt, NULL) == KURA_OK &&
               kura_tx_txid(txid, utx) == KURA_OK &&
               memcmp(txid, run->prior.last_txid, 32) == 0;
    kura_tx_free(utx);
    return same;
}

int kura_check_i_bump_prepare(kura_check_run *run)
{
    const kura_signer_state *st = run->state;
    const kura_psbt *psbt = run->psbt;
    kura_check_prior *prior = &run->prior;
    kura_check_outpoint *ops = NULL;
    char what[80];
    int64_t since = st->now >= INT64_MIN + KURA_CHECK_I_WINDOW ? st->now - KURA_CHECK_I_WINDOW
                                                               : INT64_MIN;

    memset(prior, 0, sizeof(*prior));
    if (st->journal.prior_signatures == NULL)
        return refuse_replay(run, "this signer does not sign fee bumps");
    if (st->journal.prior_signatures(st->journal.arg, prior, NULL, 0, run->result->intent_hash,
                                     since) != 0)
        return refuse_replay(run, "the journal cannot say what it spent");
    /* Signed by id with another text: a re-spelled instruction, never a
     * bump (a bump carries the very intent the approvers signed). */
    if (prior->signatures == 0)
        return refuse_replay(run, "its id was signed with another intent text");
    /* The very transaction signed last, presented again: a replay, whatever
     * else it would pass or fail as a bump. */
    if (same_as_last(run))
        return refuse_replay(run, "this very transaction was signed then");
    if (!prior->inputs_known || prior->input_count == 0)
        return refuse_replay(run, "the journal does not record which coins the earlier "
                                  "signature spent, so a replacement cannot be told from a "
                                  "second payment");
    if (prior->input_count > SIZE_MAX / sizeof(*ops)) return fail_result_nomem(run);
    ops = calloc(prior->input_count, sizeof(*ops));
    if (ops == NULL) return fail_result_nomem(run);
    {
        kura_check_prior again;
        memset(&again, 0, sizeof(again));
        if (st->journal.prior_signatures(st->journal.arg, &again, ops, prior->input_count,
                                         run->result->intent_hash, since) != 0 ||
            again.input_count != prior->input_count || again.signatures != prior->signatures) {
            free(ops);
            return refuse_replay(run, "the journal's answer changed while it was asked");
        }
        *prior = again;
    }
    /* The proof that this is a replacement and not a second payment: every
     * coin spent before is spent again. A transaction that spends other
     * coins (or only some of the earlier ones) could confirm beside the
     * earlier one and pay the intent twice. */
    for (size_t k = 0; k < prior->input_count; k++) {
        size_t i = 0;
        while (i < psbt->input_count && (psbt->inputs[i].prev_vout != ops[k].vout ||
                                         memcmp(psbt->inputs[i].prev_txid, ops[k].txid, 32) != 0))
            i++;
        if (i == psbt->input_count) {
            char txid[65], msg[200];
            kura_txid_to_hex(txid, ops[k].txid);
            snprintf(what, sizeof(what), "%s:%" PRIu32, txid, ops[k].vout);
            snprintf(msg, sizeof(msg),
                     "this transaction does not spend coin %s that it spent: it would be a "
                     "second payment, not a replacement",
                     what);
            free(ops);
            return refuse_replay(run, msg);
        }
    }
    free(ops);
    /* A replacement relays under BIP125 only if the transaction it replaces
     * signalled; the replacement signals too, so that it can be bumped in
     * its turn. (Nodes with full RBF would relay regardless, but kura
     * builds signalling transactions, and a final one was meant to stay.) */
    if (!prior->replaceable)
        return kura_check_i_refuse(run, KURA_REFUSE_BUMP_NOT_REPLACEABLE,
                                   "intent %s was signed before in a transaction that does not "
                                   "signal BIP125 replaceability; it cannot be fee-bumped",
                                   run->intent->id);
    if (!kura_check_i_signals_rbf(psbt))
        return kura_check_i_refuse(run, KURA_REFUSE_BUMP_NOT_REPLACEABLE,
                                   "this replacement of intent %s does not signal BIP125 "
                                   "replaceability (every input's sequence is final)",
                                   run->intent->id);
    run->bump = 1;
    return KURA_OK;
}

int kura_check_i_bump_fee(kura_check_run *run)
{
    if (!run->bump) return KURA_OK;
    /* BIP125 rule 3: the replacement pays more than what it replaces. The
     * node asks more (the incremental relay fee); the signer asks at least
     * this, so a bump never lowers what the intent may cost. */
    if (run->fee <= run->prior.fee_max)
        return kura_check_i_refuse(run, KURA_REFUSE_BUMP_FEE_NOT_HIGHER,
                                   "fee %" PRIu64 " sat is not above %" PRIu64
                                   " sat, the highest fee signed before for intent %s: a "
                                   "replacement must pay more",
                                   run->fee, run->prior.fee_max, run->intent->id);
    return KURA_OK;
}
