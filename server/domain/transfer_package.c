/*
 * server/domain/transfer_package.c — the signing package and the signatures
 * coming back (transfers.h): coin selection over the store's UTXOs
 * (libkura's coinselect), the PSBT with every field a signer needs and
 * kura's records (libkura's assemble), intake of each signer's PSBT,
 * finalization once the threshold is met.
 *
 * Decisions:
 *  - The policy in force and its signatures are attached to EVERY package.
 *    kura-cold reads a package policy equal to its own as absent
 *    (src/check/check.c, step 2; docs/signing-package.md "A policy update"),
 *    so this costs nothing for an up-to-date signer and brings a signer one
 *    version behind forward (the signatures are by the previous policy's
 *    administrators, which that signer holds).
 *  - The fee rate is a configured default (kura_transfer_set_fee_rate, 2
 *    sat/vB unless set) until the chain follower brings the node's
 *    estimates. The fee must fit the intent's max-fee and the policy's
 *    max-fee and max-fee-rate, else FEE_TOO_HIGH.
 *  - Before the package leaves, the server runs the signer's own check
 *    (kura_check_package) on it with the wallet's descriptor and policy, so
 *    a package the signer would refuse is an early, named error here.
 */
#include "domain/transfers.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "domain/domain_internal.h"
#include "kura/assemble.h"
#include "kura/check.h"
#include "kura/coinselect.h"
#include "kura/psbt.h"
#include "kura/script.h"
#include "kura/tx.h"
#include "kura/wallet.h"


#ifdef KURA_TEST_HOOKS
/* Test builds only: a coordinator whose code the attacker replaced skips
 * its own run of the signer's check, so the end-to-end tests can show what
 * kura-cold does with what such a coordinator sends. */
static atomic_int self_check_off;
void kura_transfer_test_skip_self_check(int skip) { atomic_store(&self_check_off, skip != 0); }
#define SELF_CHECK_ON() (!atomic_load(&self_check_off))
#else
#define SELF_CHECK_ON() 1
#endif
/* Core's long-term fee rate for the waste metric, sat/kvB. */
#define LONG_TERM_FEE_RATE 10000u

static _Atomic uint64_t fee_rate = KURA_TRANSFER_DEFAULT_FEE_RATE;

void kura_transfer_set_fee_rate(uint64_t sat_per_kvb)
{
    if (sat_per_kvb == 0)
        sat_per_kvb = KURA_TRANSFER_DEFAULT_FEE_RATE;
    if (sat_per_kvb > KURA_COINSELECT_MAX_FEE_RATE)
        sat_per_kvb = KURA_COINSELECT_MAX_FEE_RATE;
    atomic_store(&fee_rate, sat_per_kvb);
}

uint64_t kura_transfer_fee_rate(void) { return atomic_load(&fee_rate); }

/* ---- lookups for assemble: the store's knowledge of the wallet ---- */

typedef struct lookup_ctx {
    kura_db *db;
    const char *wallet_id;
    kura_network network;
} lookup_ctx;

static int locate_script(void *arg, const uint8_t *script, size_t len, size_t *branch,
                         uint32_t *index)
{
    lookup_ctx *l = arg;
    char address[KURA_ADDRESS_MAX];
    kura_address_row row;
    if (kura_address_from_script(address, sizeof address, script, len, l->network, NULL) !=
            KURA_OK ||
        kura_store_address_find(l->db, address, &row, NULL) != KURA_DB_OK ||
        strcmp(row.wallet_id, l->wallet_id) != 0 || row.idx < 0 ||
        row.idx >= (int64_t)KURA_BIP32_HARDENED)
        return 0;
    *branch = (size_t)row.branch;
    *index = (uint32_t)row.idx;
    return 1;
}

/* ---- the signer's check, run here first ---- */

static int j_intent_signed(void *arg, const uint8_t h[32], const char *id)
{
    (void)arg;
    (void)h;
    (void)id;
    return 0;
}

uint64_t dom_journal_signed_since_none(void *arg, int64_t since)
{
    (void)arg;
    (void)since;
    return 0;
}

/* The coordinator does not know when each signer accepted an entry: treat
 * every listed destination as accepted long ago (the signer decides). */
int64_t dom_journal_allow_accepted_at_any(void *arg, const uint8_t *script, size_t len)
{
    (void)arg;
    (void)script;
    (void)len;
    return 0;
}

int dom_signer_check(const dom_wallet *w, const kura_check_journal *journal, int want_bump,
                     const kura_psbt *psbt, int64_t now, uint64_t *fee, kura_problem *p)
{
    kura_signer_state st;
    kura_check_result res;
    int rc;
    memset(&st, 0, sizeof st);
    memset(&res, 0, sizeof res);
    st.wallet = w->desc;
    st.wallet_name = w->row.name;
    snprintf(st.wallet_checksum, sizeof st.wallet_checksum, "%.8s", w->row.checksum);
    st.chain = w->chain;
    st.policy = w->policy;
    if (journal) {
        st.journal = *journal;
    } else {
        st.journal.intent_signed = j_intent_signed;
        st.journal.signed_since = dom_journal_signed_since_none;
        st.journal.allow_accepted_at = dom_journal_allow_accepted_at_any;
    }
    st.now = now;
    st.max_clock_skew = 300;
    st.max_change_index = DOM_MAX_CHANGE_INDEX;
    rc = kura_check_package(dom_ctx(), &res, &st, psbt);
    if (rc == KURA_OK && (!want_bump || res.is_bump)) {
        if (fee)
            *fee = res.fee;
        kura_check_result_clear(&res);
        return 0;
    }
    switch (res.reason) {
    case KURA_REFUSE_OUTPUT_MISSING:
    case KURA_REFUSE_OUTPUT_DUPLICATE:
    case KURA_REFUSE_OUTPUT_UNEXPECTED:
    case KURA_REFUSE_CHANGE_FOREIGN:
    case KURA_REFUSE_INPUT_FOREIGN:
    case KURA_REFUSE_INPUT_UNPROVEN:
        rc = kura_problem_set(p, KURA_PROBLEM_TX_MISMATCH, "%s", res.message);
        break;
    case KURA_REFUSE_SIGHASH:
    case KURA_REFUSE_UNKNOWN_FIELD:
    case KURA_REFUSE_PACKAGE_MALFORMED:
        rc = kura_problem_set(p, KURA_PROBLEM_INVALID_PSBT, "%s", res.message);
        break;
    case KURA_REFUSE_FEE_INTENT:
    case KURA_REFUSE_FEE_POLICY:
        rc = kura_problem_set(p, KURA_PROBLEM_FEE_TOO_HIGH, "%s", res.message);
        break;
    case KURA_REFUSE_LIMIT_TRANSFER:
    case KURA_REFUSE_LIMIT_ROLLING:
    case KURA_REFUSE_DESTINATION_NOT_ALLOWED:
    case KURA_REFUSE_DESTINATION_WAITING:
        rc = kura_problem_set(p, KURA_PROBLEM_POLICY_LIMIT, "%s", res.message);
        break;
    case KURA_REFUSE_APPROVAL_INVALID:
    case KURA_REFUSE_APPROVER_UNKNOWN:
    case KURA_REFUSE_APPROVER_DUPLICATE:
    case KURA_REFUSE_APPROVER_INITIATOR:
    case KURA_REFUSE_APPROVALS_INSUFFICIENT:
        rc = kura_problem_set(p, KURA_PROBLEM_INVALID_APPROVAL,
                              "under the policy in force: %s", res.message);
        break;
    case KURA_REFUSE_INTENT_EXPIRED:
        rc = kura_problem_set(p, KURA_PROBLEM_TRANSFER_EXPIRED, "%s", res.message);
        break;
    default:
        rc = kura_problem_set(p, KURA_PROBLEM_INTERNAL, "the signer's check refuses the %s: %s: %s",
                              want_bump ? "fee bump" : "package", kura_refusal_name(res.reason),
                              res.message[0] ? res.message : "not a bump");
    }
    kura_check_result_clear(&res);
    return rc;
}

/* ---- building the package ---- */

typedef struct package_arg {
    const kura_principal *who;
    const char *id;
    int64_t now;
    int expired;
    uint8_t *bytes;              /* the package (built or stored) */
    size_t len;
    kura_problem *p;
} package_arg;

static int psbt_bytes_from_b64(const char *b64, uint8_t **bytes, size_t *len, kura_problem *p)
{
    kura_psbt *psbt = NULL;
    kura_error kerr = {0};
    int rc;
    if (kura_psbt_from_base64(&psbt, b64, strlen(b64), &kerr) != KURA_OK)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "stored package: %s", kerr.message);
    rc = kura_psbt_serialize(bytes, len, psbt);
    kura_psbt_free(psbt);
    return rc == KURA_OK ? 0 : kura_problem_set(p, KURA_PROBLEM_INTERNAL, "package serialise");
}

/* Policy in force + its signatures; approvals as stored. */
typedef struct records_buf {
    kura_assemble_records rec;
    json_t *policy_sigs;
    const char **psigs;
    size_t *psig_lens;
    const uint8_t **apps;
    size_t *app_lens;
} records_buf;

static void records_clear(records_buf *r)
{
    json_decref(r->policy_sigs);
    free(r->psigs);
    free(r->psig_lens);
    free(r->apps);
    free(r->app_lens);
    memset(r, 0, sizeof *r);
}

static int records_make(records_buf *r, const dom_wallet *w, const kura_transfer_row *t,
                        const kura_approval_row *apps, size_t napps)
{
    size_t nps = 0;
    memset(r, 0, sizeof *r);
    if (dom_policy_signatures(&w->policy_row, &r->policy_sigs, &r->psigs, &r->psig_lens, &nps))
        return -1;
    r->apps = calloc(napps ? napps : 1, sizeof *r->apps);
    r->app_lens = calloc(napps ? napps : 1, sizeof *r->app_lens);
    if (!r->apps || !r->app_lens)
        return -1;
    for (size_t i = 0; i < napps; i++) {
        r->apps[i] = (const uint8_t *)apps[i].signature;
        r->app_lens[i] = strlen(apps[i].signature);
    }
    r->rec.intent = (const uint8_t *)t->intent_text;
    r->rec.intent_len = strlen(t->intent_text);
    r->rec.approvals = r->apps;
    r->rec.approval_lens = r->app_lens;
    r->rec.approval_count = napps;
    r->rec.policy = (const uint8_t *)w->policy_row.text;
    r->rec.policy_len = strlen(w->policy_row.text);
    r->rec.policy_signatures = (const uint8_t *const *)r->psigs;
    r->rec.policy_signature_lens = r->psig_lens;
    r->rec.policy_signature_count = nps;
    return 0;
}

static int build(kura_db *db, package_arg *a, kura_transfer_row *t, kura_db_error *err)
{
    dom_wallet w;
    kura_intent *in = NULL;
    kura_approval_row *apps = NULL;
    size_t napps = 0;
    kura_utxo_row *utxos = NULL;
    size_t nutxos = 0;
    kura_tx **prev = NULL;
    kura_coinselect_coin *cands = NULL;
    kura_coinselect_result sel;
    kura_assemble_sizes sizes;
    kura_coinselect_params params;
    kura_wallet_coin *coins = NULL;
    records_buf rec;
    kura_psbt *psbt = NULL;
    kura_error kerr = {0};
    kura_transfer_output_row *outs = NULL;
    size_t nouts = 0;
    kura_wallet_payment *payments = NULL;
    uint8_t *scripts = NULL;
    uint64_t target = 0;
    char *b64 = NULL;
    int64_t change_index = -1;
    uint64_t rate = kura_transfer_fee_rate(), seed;
    int rc;

    memset(&sel, 0, sizeof sel);
    memset(&rec, 0, sizeof rec);
    if ((rc = kura_store_wallet_lock(db, t->wallet_id, err)))
        return rc;
    if ((rc = dom_wallet_load(db, t->wallet_id, 1, &w, a->p)))
        return rc;
    if (kura_intent_parse(&in, (const uint8_t *)t->intent_text, strlen(t->intent_text), &kerr) !=
        KURA_OK) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_INTERNAL, "stored intent: %s", kerr.message);
        goto done;
    }
    if ((rc = kura_store_approvals(db, t->id, &apps, &napps, err)) ||
        (rc = kura_store_utxo_available(db, t->wallet_id, &utxos, &nutxos, err)))
        goto done;
    /* Until the chain follower knows the tip, a coin's confirmations are
     * not counted; but an unconfirmed coin is not spent by a wallet that
     * asks for any confirmation. */
    if (w.row.min_confirmations > 0) {
        size_t kept = 0;
        for (size_t i = 0; i < nutxos; i++) {
            if (utxos[i].height < 0) {
                kura_utxo_row_clear(&utxos[i]);
                continue;
            }
            if (kept != i) {
                utxos[kept] = utxos[i];
                memset(&utxos[i], 0, sizeof utxos[i]);
            }
            kept++;
        }
        nutxos = kept;
    }
    if (nutxos == 0) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_INSUFFICIENT_FUNDS,
                              "the wallet has no unreserved confirmed coins");
        goto done;
    }
    if (rate > w.policy->max_fee_rate * 1000u) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_FEE_TOO_HIGH,
                              "the fee rate %llu sat/kvB is over the policy's max-fee-rate %llu "
                              "sat/vB",
                              (unsigned long long)rate, (unsigned long long)w.policy->max_fee_rate);
        goto done;
    }
    if (kura_assemble_estimate(dom_ctx(), &sizes, w.desc, in, &kerr) != KURA_OK) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_INTERNAL, "estimate: %s", kerr.message);
        goto done;
    }
    prev = calloc(nutxos, sizeof *prev);
    cands = calloc(nutxos, sizeof *cands);
    if (!prev || !cands) {
        rc = KURA_DB_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < nutxos; i++) {
        cands[i].amount = (uint64_t)utxos[i].amount;
        cands[i].weight = sizes.input_weight;
    }
    /* The transaction pays the transfer's recorded outputs: the coordinator
     * builds from its own records, and its run of the signer's check below
     * (like the signer itself) holds them against the approved intent. */
    if ((rc = kura_store_transfer_outputs(db, t->id, &outs, &nouts, err)))
        goto done;
    payments = calloc(nouts ? nouts : 1, sizeof *payments);
    scripts = calloc(nouts ? nouts : 1, KURA_SCRIPT_PUBKEY_MAX);
    if (!payments || !scripts) {
        rc = KURA_DB_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < nouts; i++) {
        uint8_t *script = scripts + i * KURA_SCRIPT_PUBKEY_MAX;
        size_t slen = 0;
        if (outs[i].amount <= 0 || (uint64_t)outs[i].amount > KURA_INTENT_MAX_AMOUNT - target ||
            kura_address_to_script(script, KURA_SCRIPT_PUBKEY_MAX, &slen, outs[i].address,
                                   w.network, &kerr) != KURA_OK) {
            rc = kura_problem_set(a->p, KURA_PROBLEM_INTERNAL, "stored output %zu is unusable",
                                  i);
            goto done;
        }
        payments[i].script_pubkey = script;
        payments[i].script_pubkey_len = slen;
        payments[i].amount = (uint64_t)outs[i].amount;
        target += (uint64_t)outs[i].amount;
    }
    randombytes_buf(&seed, sizeof seed);
    kura_assemble_coinselect_params(&params, &sizes, target, rate, LONG_TERM_FEE_RATE, seed);
    if (kura_coinselect_select(&sel, cands, nutxos, &params, &kerr) != KURA_OK) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_INSUFFICIENT_FUNDS, "%s (%s)", kerr.message,
                              kura_coinselect_failure_name(sel.failure));
        goto done;
    }
    if (sel.fee > in->max_fee || sel.fee > w.policy->max_fee) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_FEE_TOO_HIGH,
                              "the fee %llu sat at %llu sat/kvB is over the %s's max-fee %llu sat",
                              (unsigned long long)sel.fee, (unsigned long long)rate,
                              sel.fee > in->max_fee ? "intent" : "policy",
                              (unsigned long long)(sel.fee > in->max_fee ? in->max_fee
                                                                         : w.policy->max_fee));
        goto done;
    }
    if (sel.change > 0) {
        kura_address_row chg;
        if ((rc = kura_store_wallet_take_index(db, w.row.id, 1, &change_index, err)))
            goto done;
        if (change_index > (int64_t)DOM_MAX_CHANGE_INDEX) {
            rc = kura_problem_set(a->p, KURA_PROBLEM_INTERNAL,
                                  "the wallet's change indexes are used up to %u (the signer's "
                                  "bound)",
                                  DOM_MAX_CHANGE_INDEX);
            goto done;
        }
        if ((rc = dom_address_derive(w.desc, w.network, w.row.id, 1, change_index, &chg, a->p)))
            goto done;
        snprintf(chg.label, sizeof chg.label, "change of %s", t->id);
        chg.created_at = a->now;
        if ((rc = kura_store_address_insert(db, &chg, err)))
            goto done;
        /* The wallet's change index moved: its audited snapshot with it. */
        {
            kura_wallet_row moved;
            json_t *snap = NULL, *data = NULL;
            memset(&moved, 0, sizeof moved);
            if ((rc = kura_store_wallet_get(db, w.row.id, &moved, err)))
                goto done;
            snap = dom_wallet_snapshot(&moved);
            data = json_pack("{s:I, s:s}", "change_index", (json_int_t)change_index,
                             "transfer_id", t->id);
            kura_wallet_row_clear(&moved);
            rc = snap && data ? dom_audit(db, dom_actor(a->who), "wallet.change_allocated",
                                          "wallet", w.row.id, data, snap, a->now, NULL, NULL, err)
                              : KURA_DB_ENOMEM;
            json_decref(snap);
            json_decref(data);
            if (rc)
                goto done;
        }
    }
    coins = calloc(sel.selected_count, sizeof *coins);
    if (!coins) {
        rc = KURA_DB_ENOMEM;
        goto done;
    }
    for (size_t k = 0; k < sel.selected_count; k++) {
        const kura_utxo_row *u = &utxos[sel.selected[k]];
        kura_wallet_coin *c = &coins[k];
        size_t hl = strlen(u->prev_tx), bl = 0;
        uint8_t *bytes = malloc(hl / 2 + 1);
        if (!bytes) {
            rc = KURA_DB_ENOMEM;
            goto done;
        }
        if (sodium_hex2bin(bytes, hl / 2 + 1, u->prev_tx, hl, NULL, &bl, NULL) != 0 ||
            kura_tx_parse(&prev[sel.selected[k]], bytes, bl, KURA_TX_WITNESS, &kerr) != KURA_OK ||
            kura_txid_from_hex(c->txid, u->txid, &kerr) != KURA_OK) {
            free(bytes);
            rc = kura_problem_set(a->p, KURA_PROBLEM_INTERNAL, "stored coin %s:%lld: %s", u->txid,
                                  (long long)u->vout, kerr.message);
            goto done;
        }
        free(bytes);
        c->vout = (uint32_t)u->vout;
        c->amount = (uint64_t)u->amount;
        c->branch = (size_t)u->branch;
        c->index = (uint32_t)u->idx;
        c->prev_tx = prev[sel.selected[k]];
        c->sequence = 0;
    }
    if (records_make(&rec, &w, t, apps, napps)) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_INTERNAL, "stored policy signatures");
        goto done;
    }
    if (kura_wallet_create_psbt(dom_ctx(), &psbt, w.desc, coins, sel.selected_count, payments,
                                nouts, sel.change, change_index < 0 ? 0 : (uint32_t)change_index,
                                0, &kerr) != KURA_OK ||
        kura_assemble_attach(psbt, &rec.rec) != KURA_OK) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_INTERNAL, "the package: %s", kerr.message);
        goto done;
    }
    /* The signer's own check, before anything is reserved or sent. */
    if (SELF_CHECK_ON() && (rc = dom_signer_check(&w, NULL, 0, psbt, a->now, NULL, a->p)))
        goto done;
    if (kura_psbt_to_base64(&b64, NULL, psbt) != KURA_OK ||
        kura_psbt_serialize(&a->bytes, &a->len, psbt) != KURA_OK) {
        rc = KURA_DB_ENOMEM;
        goto done;
    }
    for (size_t k = 0; k < sel.selected_count; k++) {
        const kura_utxo_row *u = &utxos[sel.selected[k]];
        if ((rc = kura_store_utxo_reserve(db, u->txid, u->vout, t->id, err)))
            goto done;
    }
    if ((rc = kura_store_transfer_set_package(db, t->id, b64, change_index, (int64_t)sel.fee, a->now,
                                              err)))
        goto done;
    t->change_index = change_index;
    t->fee = (int64_t)sel.fee;
    free(t->package);
    t->package = b64;
    b64 = NULL;
    {
        json_t *extra = json_pack("{s:I, s:I, s:I, s:I, s:s}", "inputs",
                                  (json_int_t)sel.selected_count, "fee", (json_int_t)sel.fee,
                                  "change", (json_int_t)sel.change, "fee_rate", (json_int_t)rate,
                                  "algorithm", kura_coinselect_algorithm_name(sel.algorithm));
        if (!extra) {
            rc = KURA_DB_ENOMEM;
            goto done;
        }
        rc = dom_transfer_move(db, dom_actor(a->who), t, "awaiting_signatures", NULL, extra, a->now,
                               NULL, a->p, err);
        json_decref(extra);
    }
done:
    free(b64);
    kura_psbt_free(psbt);
    records_clear(&rec);
    free(outs);
    free(payments);
    free(scripts);
    free(coins);
    for (size_t i = 0; prev && i < nutxos; i++)
        kura_tx_free(prev[i]);
    free(prev);
    free(cands);
    kura_coinselect_result_clear(&sel);
    kura_utxo_rows_free(utxos, nutxos);
    kura_approval_rows_free(apps, napps);
    kura_intent_free(in);
    dom_wallet_clear(&w);
    return rc;
}

/* The package of a broadcast transfer's fee bump awaiting signatures into
 * a->bytes: 0, or KURA_DB_ENOTFOUND when there is none. */
static int bump_package(kura_db *db, const kura_transfer_row *t, package_arg *a,
                        kura_db_error *err)
{
    dom_attempt at;
    int rc;
    if (strcmp(t->state, "broadcast") != 0)
        return KURA_DB_ENOTFOUND;
    if ((rc = dom_attempt_pending(db, t->id, &at, err)))
        return rc;
    rc = psbt_bytes_from_b64(at.package, &a->bytes, &a->len, a->p);
    dom_attempt_clear(&at);
    return rc;
}

static int package_tx(kura_db *db, void *arg, kura_db_error *err)
{
    package_arg *a = arg;
    kura_transfer_row t;
    int rc;
    free(a->bytes);
    a->bytes = NULL;
    a->len = 0;
    a->expired = 0;
    if ((rc = dom_transfer_lock(db, a->id, &t, a->now, &a->expired, a->p, err)))
        return rc;
    if (a->expired) {
        kura_transfer_row_clear(&t);
        return 0;
    }
    if (strcmp(t.state, "approved") == 0)
        rc = build(db, a, &t, err);
    else if ((rc = bump_package(db, &t, a, err)) != KURA_DB_ENOTFOUND)
        ; /* a fee bump awaiting signatures: its package (transfer_bump.c) */
    else if (t.package)
        rc = psbt_bytes_from_b64(t.package, &a->bytes, &a->len, a->p);
    else
        rc = kura_problem_set(a->p, KURA_PROBLEM_INVALID_STATE,
                              "transfer %s is %s; the package is built once it is approved", t.id,
                              t.state);
    kura_transfer_row_clear(&t);
    return rc;
}

/* Read first: a package already built is answered without a write. */
static int package_read(kura_db *db, void *arg, kura_db_error *err)
{
    package_arg *a = arg;
    kura_transfer_row t;
    int rc = kura_store_transfer_get(db, a->id, &t, err);
    free(a->bytes);
    a->bytes = NULL;
    a->len = 0;
    if (rc)
        return rc;
    if ((rc = bump_package(db, &t, a, err)) != KURA_DB_ENOTFOUND)
        ; /* a fee bump awaiting signatures: its package (transfer_bump.c) */
    else if (t.package && strcmp(t.state, "approved") != 0 &&
             !(dom_transfer_state_open(t.state) && a->now >= t.expires_at))
        rc = psbt_bytes_from_b64(t.package, &a->bytes, &a->len, a->p);
    else
        rc = 0;
    kura_transfer_row_clear(&t);
    return rc;
}

int kura_transfer_package(kura_store *st, const kura_principal *who, const char *id, int64_t now,
                          uint8_t **psbt, size_t *len, kura_problem *p)
{
    package_arg a = {who, id, now, 0, NULL, 0, p};
    kura_db_error err = {0};
    int rc;
    *psbt = NULL;
    *len = 0;
    if (!id || !*id)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such transfer");
    rc = kura_store_read(st, package_read, &a, &err);
    if (rc == 0 && !a.bytes)
        rc = kura_store_write(st, package_tx, &a, &err);
    if (rc) {
        free(a.bytes);
        return kura_problem_from_db(p, rc, &err, "transfer");
    }
    if (a.expired) {
        free(a.bytes);
        return kura_problem_set(p, KURA_PROBLEM_TRANSFER_EXPIRED, "transfer %s has expired", id);
    }
    *psbt = a.bytes;
    *len = a.len;
    return 0;
}

/* ---- signatures coming back ---- */

typedef struct sign_arg {
    const kura_principal *who;
    const char *id;
    const uint8_t *upload;
    size_t len;
    int64_t now;
    int expired;
    json_t *out;
    kura_problem *p;
} sign_arg;

static int intake_problem(kura_problem *p, kura_assemble_reason why, const kura_error *kerr)
{
    switch (why) {
    case KURA_ASSEMBLE_SIGNATURE_INVALID:
    case KURA_ASSEMBLE_SIGHASH:
        return kura_problem_set(p, KURA_PROBLEM_INVALID_SIGNATURE, "%s", kerr->message);
    case KURA_ASSEMBLE_OUTPUT_MISSING:
    case KURA_ASSEMBLE_OUTPUT_DUPLICATE:
    case KURA_ASSEMBLE_OUTPUT_UNEXPECTED:
    case KURA_ASSEMBLE_CHANGE_BEYOND_LIMIT:
    case KURA_ASSEMBLE_FEE:
    case KURA_ASSEMBLE_INPUT_FOREIGN:
    case KURA_ASSEMBLE_INTENT:
        return kura_problem_set(p, KURA_PROBLEM_TX_MISMATCH, "%s", kerr->message);
    default:
        return kura_problem_set(p, KURA_PROBLEM_INVALID_PSBT, "%s", kerr->message);
    }
}

/* An upload short of the threshold: an audit row, no move. */
static int note_signatures(kura_db *db, sign_arg *a, const kura_transfer_row *t,
                           const kura_assemble_progress *prog, kura_db_error *err)
{
    json_t *extra = json_pack("{s:I, s:I}", "signatures_added", (json_int_t)prog->added,
                              "threshold", (json_int_t)prog->threshold);
    int rc;
    if (!extra)
        return KURA_DB_ENOMEM;
    rc = dom_transfer_note(db, dom_actor(a->who), t, "signatures_added", extra, a->now, &a->out,
                           err);
    json_decref(extra);
    return rc;
}

static int sign_tx(kura_db *db, void *arg, kura_db_error *err)
{
    sign_arg *a = arg;
    kura_transfer_row t;
    dom_wallet w;
    kura_psbt *acc = NULL;
    kura_assemble_progress prog;
    kura_assemble_final fin;
    kura_error kerr = {0};
    char *acc_b64 = NULL, *up_b64 = NULL;
    char upload_id[KURA_DB_ID_SIZE];
    dom_attempt bump;
    int is_bump = 0;
    int rc;

    memset(&bump, 0, sizeof bump);
    json_decref(a->out);
    a->out = NULL;
    a->expired = 0;
    memset(&w, 0, sizeof w);
    memset(&prog, 0, sizeof prog);
    memset(&fin, 0, sizeof fin);
    if ((rc = dom_transfer_lock(db, a->id, &t, a->now, &a->expired, a->p, err)))
        return rc;
    if (a->expired)
        goto done;
    /* A broadcast transfer takes signatures for its fee bump, if one
     * awaits them (transfer_bump.c). */
    if (strcmp(t.state, "broadcast") == 0) {
        rc = dom_attempt_pending(db, t.id, &bump, err);
        if (rc == KURA_DB_OK)
            is_bump = 1;
        else if (rc != KURA_DB_ENOTFOUND)
            goto done;
    }
    if (!is_bump && (strcmp(t.state, "awaiting_signatures") != 0 || !t.combined)) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_INVALID_STATE,
                              "transfer %s is %s; signatures are taken while awaiting_signatures "
                              "(or for a fee bump)",
                              t.id, t.state);
        goto done;
    }
    if ((rc = dom_wallet_load(db, t.wallet_id, 1, &w, a->p)))
        goto done;
    if (is_bump && !bump.combined) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_INTERNAL, "stored fee bump without a PSBT");
        goto done;
    }
    if (kura_psbt_from_base64(&acc, is_bump ? bump.combined : t.combined,
                              strlen(is_bump ? bump.combined : t.combined), &kerr) != KURA_OK) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_INTERNAL, "stored PSBT: %s", kerr.message);
        goto done;
    }
    rc = kura_assemble_intake(dom_ctx(), &prog, acc, w.desc, a->upload, a->len, &kerr);
    if (rc != KURA_OK) {
        rc = rc == KURA_EDATA    ? intake_problem(a->p, prog.reason, &kerr)
             : rc == KURA_ERANGE
                 ? kura_problem_set(a->p, KURA_PROBLEM_INVALID_PSBT, "%s", kerr.message)
                 : kura_problem_set(a->p, KURA_PROBLEM_INTERNAL, "intake: %s", kerr.message);
        goto done;
    }
    if (kura_psbt_to_base64(&acc_b64, NULL, acc) != KURA_OK) {
        rc = KURA_DB_ENOMEM;
        goto done;
    }
    up_b64 = malloc(sodium_base64_ENCODED_LEN(a->len, sodium_base64_VARIANT_ORIGINAL));
    if (!up_b64) {
        rc = KURA_DB_ENOMEM;
        goto done;
    }
    sodium_bin2base64(up_b64, sodium_base64_ENCODED_LEN(a->len, sodium_base64_VARIANT_ORIGINAL),
                      a->upload, a->len, sodium_base64_VARIANT_ORIGINAL);
    kura_db_new_id(upload_id, "su");
    if ((rc = is_bump ? dom_attempt_set_combined(db, t.id, bump.attempt, acc_b64, a->now, err)
                      : kura_store_transfer_set_combined(db, t.id, acc_b64, a->now, err)) ||
        (rc = kura_store_upload_insert(db, upload_id, t.id, up_b64, (int64_t)prog.added,
                                       dom_actor(a->who), a->now, err)))
        goto done;
    free(t.combined);
    t.combined = acc_b64;
    acc_b64 = NULL;
    if (prog.complete) {
        lookup_ctx lc = {db, w.row.id, w.network};
        kura_assemble_lookup lookup = {&lc, NULL, locate_script, 0};
        char *hex, txid[65];
        rc = kura_assemble_finalize(dom_ctx(), &fin, acc, w.desc, (const uint8_t *)t.intent_text,
                                    strlen(t.intent_text), DOM_MAX_CHANGE_INDEX, &lookup, &kerr);
        if (rc != KURA_OK) {
            if (rc == KURA_EDATA && fin.reason == KURA_ASSEMBLE_THRESHOLD_NOT_MET)
                goto partial;
            rc = rc == KURA_EDATA
                     ? intake_problem(a->p, fin.reason, &kerr)
                     : kura_problem_set(a->p, KURA_PROBLEM_INTERNAL, "finalize: %s", kerr.message);
            goto done;
        }
        hex = malloc(fin.tx_len * 2 + 1);
        if (!hex) {
            rc = KURA_DB_ENOMEM;
            goto done;
        }
        sodium_bin2hex(hex, fin.tx_len * 2 + 1, fin.tx, fin.tx_len);
        kura_txid_to_hex(txid, fin.txid);
        if (is_bump) {
            rc = dom_attempt_signed(db, dom_actor(a->who), &t, &bump, t.combined, hex, txid,
                                    (int64_t)fin.fee, (int64_t)fin.vsize, (int64_t)prog.added,
                                    a->now, &a->out, err);
            free(hex);
            goto done;
        }
        rc = kura_store_transfer_set_tx(db, t.id, hex, txid, (int64_t)fin.fee, a->now, err);
        free(hex);
        if (rc)
            goto done;
        snprintf(t.txid, sizeof t.txid, "%s", txid);
        t.fee = (int64_t)fin.fee;
        {
            json_t *extra = json_pack("{s:s, s:I, s:I, s:I}", "txid", txid, "fee",
                                      (json_int_t)fin.fee, "vsize", (json_int_t)fin.vsize,
                                      "signatures_added", (json_int_t)prog.added);
            if (!extra) {
                rc = KURA_DB_ENOMEM;
                goto done;
            }
            rc = dom_transfer_move(db, dom_actor(a->who), &t, "signed", NULL, extra, a->now,
                                   &a->out, a->p, err);
            json_decref(extra);
        }
        goto done;
    }
partial:
    rc = note_signatures(db, a, &t, &prog, err);
done:
    dom_attempt_clear(&bump);
    free(acc_b64);
    free(up_b64);
    kura_assemble_final_clear(&fin);
    kura_assemble_progress_clear(&prog);
    kura_psbt_free(acc);
    dom_wallet_clear(&w);
    kura_transfer_row_clear(&t);
    return rc;
}

int kura_transfer_add_signatures(kura_store *st, const kura_principal *who, const char *id,
                                 const uint8_t *psbt, size_t len, int64_t now, json_t **out,
                                 kura_problem *p)
{
    sign_arg a = {who, id, psbt, len, now, 0, NULL, p};
    kura_db_error err = {0};
    int rc;
    *out = NULL;
    if (!id || !*id)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such transfer");
    if (!psbt || len == 0)
        return kura_problem_set(p, KURA_PROBLEM_MISSING_FIELD, "the signed PSBT is required");
    if (len > KURA_PSBT_MAX_SIZE)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_PSBT, "the PSBT is over %u bytes",
                                KURA_PSBT_MAX_SIZE);
    rc = kura_store_write(st, sign_tx, &a, &err);
    if (rc) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, "transfer");
    }
    if (a.expired)
        return kura_problem_set(p, KURA_PROBLEM_TRANSFER_EXPIRED, "transfer %s has expired", id);
    *out = a.out;
    return 0;
}

/* ---- the raw transaction ---- */

typedef struct raw_arg {
    const char *id;
    char *hex;
    kura_problem *p;
} raw_arg;

static int raw_tx(kura_db *db, void *arg, kura_db_error *err)
{
    raw_arg *a = arg;
    kura_transfer_row t;
    int rc = kura_store_transfer_get(db, a->id, &t, err);
    free(a->hex);
    a->hex = NULL;
    if (rc)
        return rc;
    if (!t.raw_tx)
        rc = kura_problem_set(a->p, KURA_PROBLEM_INVALID_STATE,
                              "transfer %s is %s; the transaction exists once it is signed", t.id,
                              t.state);
    else {
        a->hex = t.raw_tx;
        t.raw_tx = NULL;
    }
    kura_transfer_row_clear(&t);
    return rc;
}

int kura_transfer_raw_tx(kura_store *st, const char *id, char **hex, kura_problem *p)
{
    raw_arg a = {id, NULL, p};
    kura_db_error err = {0};
    int rc;
    *hex = NULL;
    if (!id || !*id)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such transfer");
    rc = kura_store_read(st, raw_tx, &a, &err);
    if (rc) {
        free(a.hex);
        return kura_problem_from_db(p, rc, &err, "transfer");
    }
    *hex = a.hex;
    return 0;
}

/* ---- a package made by another tool ---- */

#define IMPORT_TXS_MAX 1000

typedef struct import_lookup {
    lookup_ctx base;
    kura_tx *txs[IMPORT_TXS_MAX]; /* funding transactions handed out, freed after */
    size_t ntxs;
} import_lookup;

static const kura_tx *funding_tx(void *arg, const uint8_t txid[32])
{
    import_lookup *l = arg;
    char hex_id[65], *hex = NULL;
    kura_tx *tx = NULL;
    uint8_t *bytes;
    size_t hl, bl = 0;
    if (l->ntxs >= IMPORT_TXS_MAX)
        return NULL;
    kura_txid_to_hex(hex_id, txid);
    if (kura_store_utxo_prev_tx(l->base.db, l->base.wallet_id, hex_id, &hex, NULL) != KURA_DB_OK)
        return NULL;
    hl = strlen(hex);
    bytes = malloc(hl / 2 + 1);
    if (bytes && sodium_hex2bin(bytes, hl / 2 + 1, hex, hl, NULL, &bl, NULL) == 0 &&
        kura_tx_parse(&tx, bytes, bl, KURA_TX_WITNESS, NULL) == KURA_OK)
        l->txs[l->ntxs++] = tx;
    free(bytes);
    free(hex);
    return tx;
}

static int lookup_locate(void *arg, const uint8_t *script, size_t len, size_t *branch,
                         uint32_t *index)
{
    import_lookup *l = arg;
    return locate_script(&l->base, script, len, branch, index);
}

typedef struct import_arg {
    const kura_principal *who;
    const char *id;
    const uint8_t *psbt;
    size_t len;
    int64_t now;
    int expired;
    json_t *out;
    kura_problem *p;
} import_arg;

static int import_tx(kura_db *db, void *arg, kura_db_error *err)
{
    import_arg *a = arg;
    kura_transfer_row t;
    dom_wallet w;
    import_lookup *lk = NULL;
    kura_psbt *psbt = NULL;
    kura_approval_row *apps = NULL;
    size_t napps = 0;
    records_buf rec;
    kura_error kerr = {0};
    kura_assemble_reason why = KURA_ASSEMBLE_OK;
    uint64_t fee = 0;
    char *b64 = NULL;
    int rc;

    json_decref(a->out);
    a->out = NULL;
    a->expired = 0;
    memset(&w, 0, sizeof w);
    memset(&rec, 0, sizeof rec);
    if ((rc = dom_transfer_lock(db, a->id, &t, a->now, &a->expired, a->p, err)))
        return rc;
    if (a->expired)
        goto done;
    if (strcmp(t.state, "approved") != 0) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_INVALID_STATE,
                              "transfer %s is %s; a package is imported once it is approved", t.id,
                              t.state);
        goto done;
    }
    if ((rc = kura_store_wallet_lock(db, t.wallet_id, err)) ||
        (rc = dom_wallet_load(db, t.wallet_id, 1, &w, a->p)))
        goto done;
    if (kura_psbt_parse(&psbt, a->psbt, a->len, &kerr) != KURA_OK) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_INVALID_PSBT, "%s", kerr.message);
        goto done;
    }
    lk = calloc(1, sizeof *lk);
    if (!lk) {
        rc = KURA_DB_ENOMEM;
        goto done;
    }
    lk->base.db = db;
    lk->base.wallet_id = w.row.id;
    lk->base.network = w.network;
    {
        kura_assemble_lookup lookup = {lk, funding_tx, lookup_locate, 0};
        if (kura_assemble_complete(dom_ctx(), &psbt, &why, w.desc, &lookup, &kerr) != KURA_OK) {
            rc = kura_problem_set(a->p, KURA_PROBLEM_INVALID_PSBT, "%s (%s)", kerr.message,
                                  kura_assemble_reason_name(why));
            goto done;
        }
    }
    if ((rc = kura_store_approvals(db, t.id, &apps, &napps, err)))
        goto done;
    if (records_make(&rec, &w, &t, apps, napps) || kura_assemble_attach(psbt, &rec.rec) != KURA_OK) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_INTERNAL, "cannot attach kura's records");
        goto done;
    }
    /* It must pay exactly what the intent says, as the signer reads it. */
    if ((rc = dom_signer_check(&w, NULL, 0, psbt, a->now, &fee, a->p)))
        goto done;
    /* Its coins must be the wallet's, known here and free. */
    for (size_t i = 0; i < psbt->input_count; i++) {
        char txid[65];
        kura_utxo_row u;
        kura_txid_to_hex(txid, psbt->inputs[i].prev_txid);
        rc = kura_store_utxo_get(db, txid, psbt->inputs[i].prev_vout, &u, err);
        if (rc == KURA_DB_ENOTFOUND || (rc == 0 && strcmp(u.wallet_id, w.row.id) != 0)) {
            if (rc == 0)
                kura_utxo_row_clear(&u);
            rc = kura_problem_set(a->p, KURA_PROBLEM_INVALID_PSBT,
                                  "input %zu spends %s:%u, which is not a coin of this wallet", i,
                                  txid, psbt->inputs[i].prev_vout);
            goto done;
        }
        if (rc)
            goto done;
        kura_utxo_row_clear(&u);
        rc = kura_store_utxo_reserve(db, txid, psbt->inputs[i].prev_vout, t.id, err);
        if (rc == KURA_DB_ECONFLICT) {
            rc = kura_problem_set(a->p, KURA_PROBLEM_CONFLICT,
                                  "input %zu spends %s:%u, which is spent or reserved", i, txid,
                                  psbt->inputs[i].prev_vout);
            goto done;
        }
        if (rc)
            goto done;
    }
    if (kura_psbt_to_base64(&b64, NULL, psbt) != KURA_OK) {
        rc = KURA_DB_ENOMEM;
        goto done;
    }
    if ((rc = kura_store_transfer_set_package(db, t.id, b64, -1, (int64_t)fee, a->now, err)))
        goto done;
    t.fee = (int64_t)fee;
    free(t.package);
    t.package = b64;
    b64 = NULL;
    {
        json_t *extra = json_pack("{s:b, s:I, s:I}", "imported", 1, "inputs",
                                  (json_int_t)psbt->input_count, "fee", (json_int_t)fee);
        if (!extra) {
            rc = KURA_DB_ENOMEM;
            goto done;
        }
        rc = dom_transfer_move(db, dom_actor(a->who), &t, "awaiting_signatures", NULL, extra, a->now,
                               &a->out, a->p, err);
        json_decref(extra);
    }
done:
    free(b64);
    records_clear(&rec);
    kura_approval_rows_free(apps, napps);
    for (size_t i = 0; lk && i < lk->ntxs; i++)
        kura_tx_free(lk->txs[i]);
    free(lk);
    kura_psbt_free(psbt);
    dom_wallet_clear(&w);
    kura_transfer_row_clear(&t);
    return rc;
}

int kura_transfer_import_package(kura_store *st, const kura_principal *who, const char *id,
                                 const uint8_t *psbt, size_t len, int64_t now, json_t **out,
                                 kura_problem *p)
{
    import_arg a = {who, id, psbt, len, now, 0, NULL, p};
    kura_db_error err = {0};
    int rc;
    *out = NULL;
    if (!id || !*id)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such transfer");
    if (!psbt || len == 0)
        return kura_problem_set(p, KURA_PROBLEM_MISSING_FIELD, "the PSBT is required");
    if (len > KURA_PSBT_MAX_SIZE)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_PSBT, "the PSBT is over %u bytes",
                                KURA_PSBT_MAX_SIZE);
    rc = kura_store_write(st, import_tx, &a, &err);
    if (rc) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, "transfer");
    }
    if (a.expired)
        return kura_problem_set(p, KURA_PROBLEM_TRANSFER_EXPIRED, "transfer %s has expired", id);
    *out = a.out;
    return 0;
}
