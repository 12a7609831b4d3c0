/*
 * server/domain/transfer_bump.c — fee bumps (RBF) of a broadcast transfer
 * (transfers.h, kura_transfer_bump; docs/signer-check.md "Fee bumps").
 *
 * A bump is a new attempt of the same transfer: the same intent and
 * approvals, the same outputs, every coin the latest attempt spends (plus
 * more of the wallet's coins when the fee needs them), new change, a higher
 * fee. The transfer keeps its identity and stays `broadcast` (the earlier
 * transaction is still out there and may still confirm); its attempts are
 * rows of transfer_attempts. The bump's package is what
 * GET /v1/transfers/{id}/package answers while it awaits signatures, and
 * signed PSBTs uploaded then go to it; once finalized it becomes the
 * transfer's transaction (txid, raw_tx, fee) and the broadcaster sends it.
 * The follower confirms the transfer with whichever attempt a block holds
 * (kura_transfer_chain_move looks attempts up by txid).
 *
 * Decisions:
 *  - The fee is the asked rate times the estimated size, and at least the
 *    highest fee of every earlier attempt plus 1 sat/vB of the new size
 *    (BIP125 rules 3 and 4 at Bitcoin Core's default incremental relay
 *    fee), so a bump the node would reject is never built. It must fit the
 *    intent's max-fee and the policy's max-fee (FEE_TOO_HIGH).
 *  - Change keeps the transfer's change index when it has one (the amount
 *    changes); otherwise a new one is allocated as for a package. Change
 *    below the dust threshold goes to the fee, within the caps.
 *  - Before the package leaves, the signer's check runs on it here with a
 *    journal that knows the earlier attempts, exactly as kura-cold will
 *    (it must spend every earlier coin, pay more, signal BIP125).
 *  - A bump still awaiting signatures is superseded by a new bump
 *    (`abandoned`); the new one spends its coins too, since a signer may
 *    have signed it already.
 */
#include "domain/transfers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "domain/domain_internal.h"
#include "kura/assemble.h"
#include "kura/check.h"
#include "kura/psbt.h"
#include "kura/script.h"
#include "kura/tx.h"
#include "kura/wallet.h"
#include "webhook/webhook.h"

/* Bitcoin Core's default incremental relay fee, sat/vB (BIP125 rule 4). */
#define INCREMENTAL_RELAY 1u
#define MAX_BUMP_INPUTS 1000u

/* ---- attempts ---- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

void dom_attempt_clear(dom_attempt *a)
{
    free(a->package);
    free(a->combined);
    memset(a, 0, sizeof *a);
}

static int attempt_from_row(dom_attempt *a, const kura_db_result *res, size_t i)
{
    const char *s;
    int64_t v = 0;
    memset(a, 0, sizeof *a);
    kura_db_result_int(&v, res, i, 0);
    a->attempt = v;
    snprintf(a->state, sizeof a->state, "%s", (s = kura_db_result_text(res, i, 1)) ? s : "");
    a->package = dup_or_null(kura_db_result_text(res, i, 2));
    a->combined = dup_or_null(kura_db_result_text(res, i, 3));
    snprintf(a->txid, sizeof a->txid, "%s", (s = kura_db_result_text(res, i, 4)) ? s : "");
    v = 0;
    kura_db_result_int(&v, res, i, 5);
    a->fee = v;
    a->fee_rate = kura_db_result_int(&v, res, i, 6) == KURA_DB_OK ? v : -1;
    a->change_index = kura_db_result_int(&v, res, i, 7) == KURA_DB_OK ? v : -1;
    v = 0;
    kura_db_result_int(&v, res, i, 8);
    a->created_at = v;
    if (!a->package || (kura_db_result_text(res, i, 3) && !a->combined)) {
        dom_attempt_clear(a);
        return KURA_DB_ENOMEM;
    }
    return KURA_DB_OK;
}

#define ATTEMPT_COLUMNS                                                                            \
    "attempt, state, package, combined, txid, fee, fee_rate, change_index, created_at"

int dom_attempt_pending(kura_db *db, const char *transfer_id, dom_attempt *a, kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc;
    memset(a, 0, sizeof *a);
    rc = kura_db_exec(db, &res,
                      "SELECT " ATTEMPT_COLUMNS " FROM transfer_attempts WHERE transfer_id = $1 "
                      "AND state = 'awaiting_signatures' ORDER BY attempt DESC LIMIT 1",
                      (kura_db_param[]){KURA_DB_TEXT(transfer_id)}, 1, err);
    if (rc)
        return rc;
    rc = kura_db_result_rows(res) == 0 ? KURA_DB_ENOTFOUND : attempt_from_row(a, res, 0);
    kura_db_result_free(res);
    return rc;
}

/* Every attempt of the transfer, in order. */
static int attempts_all(kura_db *db, const char *transfer_id, dom_attempt **out, size_t *n,
                        kura_db_error *err)
{
    kura_db_result *res = NULL;
    size_t rows;
    int rc;
    *out = NULL;
    *n = 0;
    rc = kura_db_exec(db, &res,
                      "SELECT " ATTEMPT_COLUMNS " FROM transfer_attempts WHERE transfer_id = $1 "
                      "ORDER BY attempt",
                      (kura_db_param[]){KURA_DB_TEXT(transfer_id)}, 1, err);
    if (rc)
        return rc;
    rows = kura_db_result_rows(res);
    if (rows > 0) {
        *out = calloc(rows, sizeof **out);
        if (!*out) {
            kura_db_result_free(res);
            return KURA_DB_ENOMEM;
        }
        for (size_t i = 0; i < rows && rc == KURA_DB_OK; i++)
            if ((rc = attempt_from_row(&(*out)[i], res, i)) == KURA_DB_OK)
                (*n)++;
    }
    kura_db_result_free(res);
    return rc;
}

static void attempts_free(dom_attempt *a, size_t n)
{
    for (size_t i = 0; a && i < n; i++)
        dom_attempt_clear(&a[i]);
    free(a);
}

int dom_transfer_attempts_json(kura_db *db, const char *transfer_id, json_t **out,
                               kura_db_error *err)
{
    dom_attempt *all = NULL;
    size_t n = 0;
    json_t *arr;
    int rc;
    *out = NULL;
    if ((rc = attempts_all(db, transfer_id, &all, &n, err)))
        return rc;
    arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        uint8_t h[crypto_hash_sha256_BYTES];
        char hex[65];
        crypto_hash_sha256(h, (const unsigned char *)all[i].package, strlen(all[i].package));
        sodium_bin2hex(hex, sizeof hex, h, sizeof h);
        if (json_array_append_new(
                arr, json_pack("{s:I, s:s, s:o, s:I, s:o, s:s, s:I}", "attempt",
                               (json_int_t)all[i].attempt, "state", all[i].state, "txid",
                               all[i].txid[0] ? json_string(all[i].txid) : json_null(), "fee",
                               (json_int_t)all[i].fee, "fee_rate",
                               all[i].fee_rate >= 0 ? json_integer(all[i].fee_rate) : json_null(),
                               "package_sha256", hex, "created_at",
                               (json_int_t)all[i].created_at))) {
            json_decref(arr);
            arr = NULL;
        }
    }
    attempts_free(all, n);
    if (!arr)
        return KURA_DB_ENOMEM;
    *out = arr;
    return KURA_DB_OK;
}

int dom_attempt_signed(kura_db *db, const char *actor, kura_transfer_row *t, const dom_attempt *a,
                       const char *combined_b64, const char *raw_tx_hex, const char *txid,
                       int64_t fee, int64_t vsize, int64_t added, int64_t now, json_t **out,
                       kura_db_error *err)
{
    json_t *extra;
    int rc;
    /* The attempt is now the transfer's transaction: what the broadcaster
     * sends (at once: its last broadcast is forgotten) and what reads show.
     * The earlier txids stay in transfer_attempts for the follower. */
    if ((rc = kura_db_exec(db, NULL,
                           "UPDATE transfer_attempts SET state = 'broadcast', combined = $3, "
                           "raw_tx = $4, txid = $5, fee = $6, updated_at = $7 WHERE transfer_id = "
                           "$1 AND attempt = $2",
                           (kura_db_param[]){KURA_DB_TEXT(t->id), KURA_DB_INT(a->attempt),
                                             KURA_DB_TEXT(combined_b64), KURA_DB_TEXT(raw_tx_hex),
                                             KURA_DB_TEXT(txid), KURA_DB_INT(fee), KURA_DB_INT(now)},
                           7, err)) ||
        (rc = kura_store_transfer_set_package(db, t->id, a->package, a->change_index, fee, now,
                                              err)) ||
        (rc = kura_store_transfer_set_combined(db, t->id, combined_b64, now, err)) ||
        (rc = kura_store_transfer_set_tx(db, t->id, raw_tx_hex, txid, fee, now, err)) ||
        (rc = kura_db_exec(db, NULL,
                           "UPDATE chain_transfers SET txid = $2, last_broadcast_at = NULL WHERE "
                           "transfer_id = $1 AND block_hash IS NULL",
                           (kura_db_param[]){KURA_DB_TEXT(t->id), KURA_DB_TEXT(txid)}, 2, err)))
        return rc;
    free(t->package);
    t->package = strdup(a->package);
    snprintf(t->txid, sizeof t->txid, "%s", txid);
    t->fee = fee;
    t->change_index = a->change_index;
    t->updated_at = now;
    if (!t->package)
        return KURA_DB_ENOMEM;
    extra = json_pack("{s:I, s:s, s:I, s:I, s:I}", "attempt", (json_int_t)a->attempt, "txid", txid,
                      "fee", (json_int_t)fee, "vsize", (json_int_t)vsize, "signatures_added",
                      (json_int_t)added);
    if (!extra)
        return KURA_DB_ENOMEM;
    rc = dom_transfer_note(db, actor, t, "bump_signed", extra, now, out, err);
    json_decref(extra);
    return rc;
}

int dom_attempt_set_combined(kura_db *db, const char *transfer_id, int64_t attempt,
                             const char *combined_b64, int64_t now, kura_db_error *err)
{
    return kura_db_exec(db, NULL,
                        "UPDATE transfer_attempts SET combined = $3, updated_at = $4 WHERE "
                        "transfer_id = $1 AND attempt = $2",
                        (kura_db_param[]){KURA_DB_TEXT(transfer_id), KURA_DB_INT(attempt),
                                          KURA_DB_TEXT(combined_b64), KURA_DB_INT(now)},
                        4, err);
}

/* ---- the signer's check, with the earlier attempts as its journal ---- */

typedef struct prior_ctx {
    uint8_t intent_hash[32];
    const kura_psbt *latest; /* the latest attempt's package: its inputs include every earlier one's */
    size_t attempts;
    uint64_t fee_max;
    uint8_t last_txid[32];
} prior_ctx;

static int j_intent_signed(void *arg, const uint8_t h[32], const char *id)
{
    prior_ctx *c = arg;
    (void)id;
    return memcmp(h, c->intent_hash, 32) == 0;
}

static int j_prior(void *arg, kura_check_prior *prior, kura_check_outpoint *inputs, size_t cap,
                   const uint8_t hash[32], int64_t since)
{
    prior_ctx *c = arg;
    (void)since;
    memset(prior, 0, sizeof *prior);
    if (memcmp(hash, c->intent_hash, 32) != 0)
        return 0;
    prior->signatures = c->attempts;
    prior->inputs_known = 1;
    prior->replaceable = 1;
    prior->fee_max = c->fee_max;
    memcpy(prior->last_txid, c->last_txid, 32);
    prior->input_count = c->latest->input_count;
    for (size_t i = 0; i < cap && i < c->latest->input_count; i++) {
        memcpy(inputs[i].txid, c->latest->inputs[i].prev_txid, 32);
        inputs[i].vout = c->latest->inputs[i].prev_vout;
    }
    return 0;
}

/* The signer's check of the bump, with the earlier attempts as its journal:
 * it must accept the package as a fee bump of them. */
static int bump_check(const dom_wallet *w, prior_ctx *pc, const kura_psbt *psbt, int64_t now,
                      kura_problem *p)
{
    kura_check_journal j;
    memset(&j, 0, sizeof j);
    j.arg = pc;
    j.intent_signed = j_intent_signed;
    j.signed_since = dom_journal_signed_since_none;
    j.allow_accepted_at = dom_journal_allow_accepted_at_any;
    j.prior_signatures = j_prior;
    return dom_signer_check(w, &j, 1, psbt, now, NULL, p);
}

/* ---- building the bump ---- */

typedef struct bump_arg {
    const kura_principal *who;
    const char *id;
    uint64_t rate; /* sat/vB; 0: the current estimate */
    int64_t now;
    json_t *out;
    kura_problem *p;
} bump_arg;

static uint64_t vbytes(uint64_t weight)
{
    return (weight + 3) / 4;
}

/* The wallet coin (txid, vout) from the store, with its funding tx parsed. */
static int coin_load(kura_db *db, const char *wallet_id, const char *txid, int64_t vout,
                     kura_wallet_coin *c, kura_tx **prev, kura_problem *p, kura_db_error *err)
{
    kura_utxo_row u;
    kura_error kerr = {0};
    uint8_t *bytes;
    size_t hl, bl = 0;
    int rc;
    memset(c, 0, sizeof *c);
    *prev = NULL;
    memset(&u, 0, sizeof u);
    if ((rc = kura_store_utxo_get(db, txid, vout, &u, err)))
        return rc == KURA_DB_ENOTFOUND
                   ? kura_problem_set(p, KURA_PROBLEM_INTERNAL, "coin %s:%lld is not in the store",
                                      txid, (long long)vout)
                   : rc;
    if (strcmp(u.wallet_id, wallet_id) != 0 || !u.prev_tx) {
        kura_utxo_row_clear(&u);
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "coin %s:%lld is not the wallet's", txid,
                                (long long)vout);
    }
    hl = strlen(u.prev_tx);
    bytes = malloc(hl / 2 + 1);
    if (!bytes) {
        kura_utxo_row_clear(&u);
        return KURA_DB_ENOMEM;
    }
    if (sodium_hex2bin(bytes, hl / 2 + 1, u.prev_tx, hl, NULL, &bl, NULL) != 0 ||
        kura_tx_parse(prev, bytes, bl, KURA_TX_WITNESS, &kerr) != KURA_OK ||
        kura_txid_from_hex(c->txid, u.txid, &kerr) != KURA_OK) {
        rc = kura_problem_set(p, KURA_PROBLEM_INTERNAL, "stored coin %s:%lld: %s", txid,
                              (long long)vout, kerr.message);
    } else {
        c->vout = (uint32_t)u.vout;
        c->amount = (uint64_t)u.amount;
        c->branch = (size_t)u.branch;
        c->index = (uint32_t)u.idx;
        c->prev_tx = *prev;
        c->sequence = 0; /* 0xfffffffd: final, signals BIP125 */
        rc = 0;
    }
    free(bytes);
    kura_utxo_row_clear(&u);
    return rc;
}

static int take_change_index(kura_db *db, bump_arg *a, const dom_wallet *w, const char *transfer_id,
                             int64_t *index, kura_db_error *err)
{
    kura_address_row chg;
    kura_wallet_row moved;
    json_t *snap = NULL, *data = NULL;
    int rc;
    if ((rc = kura_store_wallet_take_index(db, w->row.id, 1, index, err)))
        return rc;
    if (*index > (int64_t)DOM_MAX_CHANGE_INDEX)
        return kura_problem_set(a->p, KURA_PROBLEM_INTERNAL,
                                "the wallet's change indexes are used up to %u (the signer's bound)",
                                DOM_MAX_CHANGE_INDEX);
    if ((rc = dom_address_derive(w->desc, w->network, w->row.id, 1, *index, &chg, a->p)))
        return rc;
    snprintf(chg.label, sizeof chg.label, "change of %s", transfer_id);
    chg.created_at = a->now;
    if ((rc = kura_store_address_insert(db, &chg, err)))
        return rc;
    memset(&moved, 0, sizeof moved);
    if ((rc = kura_store_wallet_get(db, w->row.id, &moved, err)))
        return rc;
    snap = dom_wallet_snapshot(&moved);
    data = json_pack("{s:I, s:s}", "change_index", (json_int_t)*index, "transfer_id", transfer_id);
    kura_wallet_row_clear(&moved);
    rc = snap && data ? dom_audit(db, dom_actor(a->who), "wallet.change_allocated", "wallet",
                                  w->row.id, data, snap, a->now, NULL, NULL, err)
                      : KURA_DB_ENOMEM;
    json_decref(snap);
    json_decref(data);
    return rc;
}

/* Copies the intent and approvals of `from` into `to`, with the policy in
 * force and its signatures (as every package carries them). */
static int attach_records(kura_psbt *to, const kura_psbt *from, const dom_wallet *w)
{
    kura_package_view v;
    json_t *arr = NULL;
    const char **sigs = NULL;
    size_t *lens = NULL, n = 0;
    int rc = -1;
    if (kura_package_read(&v, from, NULL) != KURA_OK || !v.intent ||
        kura_package_set_intent(to, v.intent, v.intent_len) != KURA_OK)
        return -1;
    for (size_t i = 0; i < v.approval_count; i++)
        if (kura_package_add_approval(to, v.approvals[i], v.approval_lens[i]) != KURA_OK)
            return -1;
    if (dom_policy_signatures(&w->policy_row, &arr, &sigs, &lens, &n))
        goto done;
    if (kura_package_set_policy(to, (const uint8_t *)w->policy_row.text,
                                strlen(w->policy_row.text)) != KURA_OK)
        goto done;
    for (size_t i = 0; i < n; i++)
        if (kura_package_add_policy_signature(to, (const uint8_t *)sigs[i], lens[i]) != KURA_OK)
            goto done;
    rc = 0;
done:
    json_decref(arr);
    free(sigs);
    free(lens);
    return rc;
}

static int bump_tx(kura_db *db, void *varg, kura_db_error *err)
{
    bump_arg *a = varg;
    kura_transfer_row t;
    dom_wallet w;
    dom_attempt *all = NULL;
    size_t nall = 0, ncoins = 0, nouts = 0, navail = 0, used_avail = 0, added = 0;
    kura_psbt *latest = NULL, *psbt = NULL;
    kura_wallet_coin *coins = NULL;
    kura_tx **prevs = NULL;
    kura_utxo_row *avail = NULL;
    kura_transfer_output_row *outs = NULL;
    kura_wallet_payment *payments = NULL;
    uint8_t *scripts = NULL;
    kura_intent *in = NULL;
    kura_assemble_sizes sizes;
    kura_error kerr = {0};
    prior_ctx pc;
    uint64_t target = 0, in_total = 0, fee = 0, change = 0, rate, vsize = 0, prev_fee = 0;
    int64_t change_index, number;
    char *b64 = NULL;
    const char *latest_pkg;
    int expired = 0, rc;

    json_decref(a->out);
    a->out = NULL;
    memset(&w, 0, sizeof w);
    memset(&pc, 0, sizeof pc);
    if ((rc = dom_transfer_lock(db, a->id, &t, a->now, &expired, a->p, err)))
        return rc;
    if (strcmp(t.state, "broadcast") != 0 || !t.package || !t.txid[0]) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_INVALID_STATE,
                              "transfer %s is %s; only a broadcast transfer (not yet confirmed) "
                              "can be fee-bumped",
                              t.id, t.state);
        goto done;
    }
    /* The signer refuses an expired intent, bump or not. */
    if (a->now >= t.expires_at) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_TRANSFER_EXPIRED,
                              "transfer %s's intent expired; a fee bump needs an unexpired intent",
                              t.id);
        goto done;
    }
    if ((rc = kura_store_wallet_lock(db, t.wallet_id, err)) ||
        (rc = dom_wallet_load(db, t.wallet_id, 1, &w, a->p)))
        goto done;
    if ((rc = attempts_all(db, t.id, &all, &nall, err)))
        goto done;
    /* The earlier attempts: the original (the transfer's own fields, until
     * it is archived below) and every bump, signed or not. */
    prev_fee = t.fee > 0 ? (uint64_t)t.fee : 0;
    latest_pkg = t.package;
    for (size_t i = 0; i < nall; i++) {
        if (all[i].fee > 0 && (uint64_t)all[i].fee > prev_fee)
            prev_fee = (uint64_t)all[i].fee;
        latest_pkg = all[i].package;
    }
    if (kura_psbt_from_base64(&latest, latest_pkg, strlen(latest_pkg), &kerr) != KURA_OK ||
        latest->input_count == 0 || latest->input_count > MAX_BUMP_INPUTS) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_INTERNAL, "stored package: %s", kerr.message);
        goto done;
    }
    rate = a->rate ? a->rate : (kura_transfer_fee_rate() + 999) / 1000;
    if (rate > w.policy->max_fee_rate) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_FEE_TOO_HIGH,
                              "the fee rate %llu sat/vB is over the policy's max-fee-rate %llu sat/vB",
                              (unsigned long long)rate, (unsigned long long)w.policy->max_fee_rate);
        goto done;
    }
    if (kura_intent_parse(&in, (const uint8_t *)t.intent_text, strlen(t.intent_text), &kerr) !=
            KURA_OK ||
        kura_assemble_estimate(dom_ctx(), &sizes, w.desc, in, &kerr) != KURA_OK) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_INTERNAL, "stored intent: %s", kerr.message);
        goto done;
    }
    /* The outputs, as the package pays them. */
    if ((rc = kura_store_transfer_outputs(db, t.id, &outs, &nouts, err)))
        goto done;
    payments = calloc(nouts ? nouts : 1, sizeof *payments);
    scripts = calloc(nouts ? nouts : 1, KURA_SCRIPT_PUBKEY_MAX);
    if (!payments || !scripts) {
        rc = KURA_DB_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < nouts; i++) {
        size_t slen = 0;
        uint8_t *script = scripts + i * KURA_SCRIPT_PUBKEY_MAX;
        if (kura_address_to_script(script, KURA_SCRIPT_PUBKEY_MAX, &slen, outs[i].address,
                                   w.network, &kerr) != KURA_OK) {
            rc = kura_problem_set(a->p, KURA_PROBLEM_INTERNAL, "stored output %zu", i);
            goto done;
        }
        payments[i] = (kura_wallet_payment){script, slen, (uint64_t)outs[i].amount};
        target += (uint64_t)outs[i].amount;
    }
    /* Every coin of the latest attempt (it holds every earlier one's). */
    coins = calloc(MAX_BUMP_INPUTS, sizeof *coins);
    prevs = calloc(MAX_BUMP_INPUTS, sizeof *prevs);
    if (!coins || !prevs) {
        rc = KURA_DB_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < latest->input_count; i++) {
        char hex[65];
        kura_txid_to_hex(hex, latest->inputs[i].prev_txid);
        if ((rc = coin_load(db, w.row.id, hex, latest->inputs[i].prev_vout, &coins[ncoins],
                            &prevs[ncoins], a->p, err)))
            goto done;
        in_total += coins[ncoins++].amount;
    }
    /* The fee, and more coins while it is not covered. */
    for (;;) {
        uint64_t w0 = sizes.base_weight + (uint64_t)ncoins * sizes.input_weight;
        uint64_t v1 = vbytes(w0 + sizes.change_output_weight), v0 = vbytes(w0);
        uint64_t f1 = rate * v1, f0 = rate * v0;
        if (f1 < prev_fee + INCREMENTAL_RELAY * v1)
            f1 = prev_fee + INCREMENTAL_RELAY * v1;
        if (f0 < prev_fee + INCREMENTAL_RELAY * v0)
            f0 = prev_fee + INCREMENTAL_RELAY * v0;
        if (in_total >= target + f1 + sizes.change_dust) {
            fee = f1;
            change = in_total - target - f1;
            vsize = v1;
            break;
        }
        /* Change below dust goes to the fee, if the caps allow. */
        if (in_total >= target + f0 && in_total - target <= in->max_fee &&
            in_total - target <= w.policy->max_fee) {
            fee = in_total - target;
            change = 0;
            vsize = v0;
            break;
        }
        if (ncoins == MAX_BUMP_INPUTS) {
            rc = kura_problem_set(a->p, KURA_PROBLEM_INSUFFICIENT_FUNDS, "too many inputs");
            goto done;
        }
        if (!avail) {
            if ((rc = kura_store_utxo_available(db, w.row.id, &avail, &navail, err)))
                goto done;
            if (w.row.min_confirmations > 0) {
                size_t kept = 0;
                for (size_t i = 0; i < navail; i++) {
                    if (avail[i].height < 0) {
                        kura_utxo_row_clear(&avail[i]);
                        continue;
                    }
                    if (kept != i) {
                        avail[kept] = avail[i];
                        memset(&avail[i], 0, sizeof avail[i]);
                    }
                    kept++;
                }
                navail = kept;
            }
        }
        /* The largest coin left: fewest inputs, smallest fee. */
        {
            size_t best = navail;
            for (size_t i = used_avail; i < navail; i++)
                if (best == navail || avail[i].amount > avail[best].amount)
                    best = i;
            if (best == navail) {
                rc = kura_problem_set(a->p, KURA_PROBLEM_INSUFFICIENT_FUNDS,
                                      "the coins of the transfer and the wallet's free coins do "
                                      "not cover the outputs and a fee above %llu sat",
                                      (unsigned long long)prev_fee);
                goto done;
            }
            if (best != used_avail) {
                kura_utxo_row tmp = avail[used_avail];
                avail[used_avail] = avail[best];
                avail[best] = tmp;
            }
        }
        if ((rc = coin_load(db, w.row.id, avail[used_avail].txid, avail[used_avail].vout,
                            &coins[ncoins], &prevs[ncoins], a->p, err)))
            goto done;
        in_total += coins[ncoins++].amount;
        used_avail++;
        added++;
    }
    if (fee > in->max_fee || fee > w.policy->max_fee) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_FEE_TOO_HIGH,
                              "the bump needs a fee of %llu sat (above the %llu sat paid, at %llu "
                              "sat/vB), over the %s's max-fee of %llu sat",
                              (unsigned long long)fee, (unsigned long long)prev_fee,
                              (unsigned long long)rate, fee > in->max_fee ? "intent" : "policy",
                              (unsigned long long)(fee > in->max_fee ? in->max_fee
                                                                     : w.policy->max_fee));
        goto done;
    }
    change_index = t.change_index;
    if (change > 0 && change_index < 0 &&
        (rc = take_change_index(db, a, &w, t.id, &change_index, err)))
        goto done;
    if (kura_wallet_create_psbt(dom_ctx(), &psbt, w.desc, coins, ncoins, payments, nouts, change,
                                change_index < 0 ? 0 : (uint32_t)change_index, 0, &kerr) !=
            KURA_OK ||
        attach_records(psbt, latest, &w) != 0) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_INTERNAL, "the bump's package: %s", kerr.message);
        goto done;
    }
    if (change == 0)
        change_index = t.change_index;
    /* The signer's check, with the earlier attempts as its journal. */
    kura_intent_hash(pc.intent_hash, (const uint8_t *)t.intent_text, strlen(t.intent_text));
    pc.latest = latest;
    pc.attempts = nall > 0 ? nall : 1;
    pc.fee_max = prev_fee;
    kura_txid_from_hex(pc.last_txid, t.txid, NULL);
    if ((rc = bump_check(&w, &pc, psbt, a->now, a->p)))
        goto done;
    if (kura_psbt_to_base64(&b64, NULL, psbt) != KURA_OK) {
        rc = KURA_DB_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < used_avail; i++)
        if ((rc = kura_store_utxo_reserve(db, avail[i].txid, avail[i].vout, t.id, err)))
            goto done;
    /* The original becomes attempt 1 on the first bump. */
    if (nall == 0 &&
        (rc = kura_db_exec(db, NULL,
                           "INSERT INTO transfer_attempts (transfer_id, attempt, state, package, "
                           "combined, raw_tx, txid, fee, fee_rate, change_index, created_at, "
                           "updated_at) VALUES ($1, 1, 'broadcast', $2, $3, $4, $5, $6, NULL, $7, "
                           "$8, $8)",
                           (kura_db_param[]){KURA_DB_TEXT(t.id), KURA_DB_TEXT(t.package),
                                             t.combined ? KURA_DB_TEXT(t.combined) : KURA_DB_NULL,
                                             t.raw_tx ? KURA_DB_TEXT(t.raw_tx) : KURA_DB_NULL,
                                             KURA_DB_TEXT(t.txid), KURA_DB_INT(t.fee),
                                             t.change_index >= 0 ? KURA_DB_INT(t.change_index)
                                                                 : KURA_DB_NULL,
                                             KURA_DB_INT(t.updated_at)},
                           8, err)))
        goto done;
    number = nall == 0 ? 2 : all[nall - 1].attempt + 1;
    if ((rc = kura_db_exec(db, NULL,
                           "UPDATE transfer_attempts SET state = 'abandoned', updated_at = $2 "
                           "WHERE transfer_id = $1 AND state = 'awaiting_signatures'",
                           (kura_db_param[]){KURA_DB_TEXT(t.id), KURA_DB_INT(a->now)}, 2, err)) ||
        (rc = kura_db_exec(db, NULL,
                           "INSERT INTO transfer_attempts (transfer_id, attempt, state, package, "
                           "combined, fee, fee_rate, change_index, created_at, updated_at) VALUES "
                           "($1, $2, 'awaiting_signatures', $3, $3, $4, $5, $6, $7, $7)",
                           (kura_db_param[]){KURA_DB_TEXT(t.id), KURA_DB_INT(number),
                                             KURA_DB_TEXT(b64), KURA_DB_INT((int64_t)fee),
                                             KURA_DB_INT((int64_t)rate),
                                             change_index >= 0 ? KURA_DB_INT(change_index)
                                                               : KURA_DB_NULL,
                                             KURA_DB_INT(a->now)},
                           7, err)))
        goto done;
    /* One audit row and one webhook event, in this transaction. */
    {
        json_t *snap = NULL, *data;
        char head[65] = "";
        int64_t seq = 0;
        if ((rc = dom_transfer_json(db, &t, &snap, err)))
            goto done;
        data = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "attempt",
                         (json_int_t)number, "fee", (json_int_t)fee, "previous_fee",
                         (json_int_t)prev_fee, "fee_rate", (json_int_t)rate, "vsize",
                         (json_int_t)vsize, "inputs", (json_int_t)ncoins, "inputs_added",
                         (json_int_t)added, "replaces_txid", t.txid);
        rc = data ? dom_audit(db, dom_actor(a->who), "transfer.bumped", "transfer", t.id, data,
                              snap, a->now, &seq, head, err)
                  : KURA_DB_ENOMEM;
        if (rc == 0)
            rc = kura_webhook_emit(db, "transfer.bumped", t.id, snap, seq, head, a->now, err);
        json_decref(data);
        if (rc == 0)
            a->out = snap;
        else
            json_decref(snap);
    }
done:
    free(b64);
    kura_psbt_free(psbt);
    kura_psbt_free(latest);
    for (size_t i = 0; prevs && i < ncoins; i++)
        kura_tx_free(prevs[i]);
    free(prevs);
    free(coins);
    free(payments);
    free(scripts);
    free(outs);
    kura_utxo_rows_free(avail, navail);
    kura_intent_free(in);
    attempts_free(all, nall);
    dom_wallet_clear(&w);
    kura_transfer_row_clear(&t);
    return rc;
}

int kura_transfer_bump(kura_store *st, const kura_principal *who, const char *id,
                       uint64_t fee_rate, int64_t now, json_t **out, kura_problem *p)
{
    bump_arg a = {who, id, fee_rate, now, NULL, p};
    kura_db_error err = {0};
    int rc;
    *out = NULL;
    if (!id || !*id)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such transfer");
    rc = kura_store_write(st, bump_tx, &a, &err);
    if (rc) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, "transfer");
    }
    *out = a.out;
    return 0;
}
