/*
 * server/domain/transfers.c — transfers from request to approval: create
 * (the intent written by libkura), read, approve (libkura's own check),
 * reject, cancel, expiry (transfers.h). The package and signatures are in
 * transfer_package.c; state moves in transfer_state.c.
 */
#include "domain/transfers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "domain/domain_internal.h"
#include "kura/check.h"
#include "kura/script.h"
#include "kura/sshsig.h"


int dom_transfer_lock(kura_db *db, const char *id, kura_transfer_row *t, int64_t now,
                      int *expired_now, kura_problem *p, kura_db_error *err)
{
    int rc;
    *expired_now = 0;
    rc = kura_store_transfer_lock(db, id, t, err);
    if (rc == KURA_DB_ENOTFOUND)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such transfer");
    if (rc)
        return rc;
    if (dom_transfer_state_open(t->state) && now >= t->expires_at) {
        if ((rc = kura_store_utxo_release(db, t->id, err)) ||
            (rc = dom_transfer_move(db, "system", t, "expired", NULL, NULL, now, NULL, p, err))) {
            kura_transfer_row_clear(t);
            return rc;
        }
        *expired_now = 1;
    }
    return 0;
}

static int expired_problem(kura_problem *p, const char *id)
{
    return kura_problem_set(p, KURA_PROBLEM_TRANSFER_EXPIRED, "transfer %s has expired", id);
}

/* The transfer as reads show it: an open transfer past its expiry reads as
 * expired even before kura_transfer_expire_due moved it. */
static void overlay_expiry(json_t *j, int64_t now)
{
    const char *state = json_string_value(json_object_get(j, "state"));
    json_int_t exp = json_integer_value(json_object_get(j, "expires_at"));
    if (state && dom_transfer_state_open(state) && now >= exp)
        json_object_set_new(j, "state", json_string("expired"));
}

/* ---- create ---- */

typedef struct create_arg {
    const kura_principal *who;
    const kura_transfer_request *req;
    const kura_idem *idem;
    int64_t now;
    json_t *out;
    kura_problem *p;
} create_arg;

/* Adds output i to the intent, telling a bad address from a bad label. */
static int add_output(kura_intent *in, const kura_transfer_output_req *o, size_t i,
                      kura_network network, kura_problem *p)
{
    uint8_t script[KURA_SCRIPT_PUBKEY_MAX];
    size_t slen = 0;
    kura_error kerr = {0};
    if (!o->address || !*o->address)
        return kura_problem_set(p, KURA_PROBLEM_MISSING_FIELD, "output %zu: address is required", i);
    if (o->amount == 0 || o->amount > KURA_INTENT_MAX_AMOUNT)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_AMOUNT,
                                "output %zu: amount must be 1..%llu satoshis", i,
                                (unsigned long long)KURA_INTENT_MAX_AMOUNT);
    if (kura_address_to_script(script, sizeof script, &slen, o->address, network, &kerr) != KURA_OK)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_ADDRESS, "output %zu: %s", i, kerr.message);
    if (kura_intent_add_output(in, o->address, o->amount, o->label, &kerr) == KURA_OK)
        return 0;
    if (kerr.code == KURA_EDATA && o->label && *o->label) {
        kura_intent *scratch = kura_intent_new();
        kura_error e2 = {0};
        int addr_ok;
        if (!scratch)
            return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "out of memory");
        scratch->chain = in->chain;
        addr_ok = kura_intent_add_output(scratch, o->address, o->amount, NULL, &e2) == KURA_OK;
        kura_intent_free(scratch);
        if (addr_ok)
            return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD,
                                    "output %zu: label: %s (printable ASCII words, at most %d)", i,
                                    kerr.message, KURA_INTENT_LABEL_MAX);
    }
    if (kerr.code == KURA_EDATA && strstr(kerr.message, "total"))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_AMOUNT, "the total is over 21e6 BTC");
    return kura_problem_set(p, kerr.code == KURA_ERANGE ? KURA_PROBLEM_INVALID_FIELD
                                                        : KURA_PROBLEM_INVALID_ADDRESS,
                            "output %zu: %s", i, kerr.message);
}

static int create_body(kura_db *db, create_arg *a, kura_db_error *err)
{
    const kura_transfer_request *req = a->req;
    dom_wallet w;
    kura_intent *in = NULL;
    kura_transfer_row t;
    kura_error kerr = {0};
    char *text = NULL;
    size_t text_len = 0;
    uint8_t rnd[16], hash[32];
    uint64_t total = 0, lifetime;
    int rc;

    json_decref(a->out);
    a->out = NULL;
    memset(&t, 0, sizeof t);
    if ((rc = dom_wallet_load(db, req->wallet_id, 0, &w, a->p)))
        return rc;
    if (req->external_id) {
        int exists = 0;
        if ((rc = kura_store_transfer_external_exists(db, req->external_id, &exists, err)))
            goto done;
        if (exists) {
            rc = kura_problem_set(a->p, KURA_PROBLEM_DUPLICATE_EXTERNAL_ID,
                                  "a transfer with external_id %s exists", req->external_id);
            goto done;
        }
    }
    in = kura_intent_new();
    if (!in) {
        rc = KURA_DB_ENOMEM;
        goto done;
    }
    in->chain = w.chain;
    for (size_t i = 0; i < req->output_count; i++) {
        const kura_transfer_output_req *o = &req->outputs[i];
        if ((rc = add_output(in, o, i, w.network, a->p)))
            goto done;
        if (total + o->amount < total || total + o->amount > KURA_INTENT_MAX_AMOUNT) {
            rc = kura_problem_set(a->p, KURA_PROBLEM_INVALID_AMOUNT, "the total is over 21e6 BTC");
            goto done;
        }
        total += o->amount;
        if (w.policy->allowlist_required) {
            const char *label = NULL;
            const kura_intent_output *io = &in->outputs[in->output_count - 1];
            if (!kura_policy_allowlist_lookup((void *)(uintptr_t)w.policy, io->script, io->script_len, &label)) {
                rc = kura_problem_set(a->p, KURA_PROBLEM_POLICY_LIMIT,
                                      "output %zu: %s is not on the policy's allowlist", i,
                                      o->address);
                goto done;
            }
        }
    }
    if (total > w.policy->max_per_transfer) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_POLICY_LIMIT,
                              "the total %llu sat is over the policy's max-per-transfer %llu sat",
                              (unsigned long long)total,
                              (unsigned long long)w.policy->max_per_transfer);
        goto done;
    }
    if (req->max_fee > w.policy->max_fee) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_POLICY_LIMIT,
                              "max_fee %llu sat is over the policy's max-fee %llu sat",
                              (unsigned long long)req->max_fee,
                              (unsigned long long)w.policy->max_fee);
        goto done;
    }
    lifetime = w.policy->max_lifetime;
    if (req->expires_in > 0 && (uint64_t)req->expires_in < lifetime)
        lifetime = (uint64_t)req->expires_in;
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(in->id, sizeof in->id, rnd, sizeof rnd);
    snprintf(in->wallet.name, sizeof in->wallet.name, "%.32s", w.row.name);
    snprintf(in->wallet.checksum, sizeof in->wallet.checksum, "%.8s", w.row.checksum);
    /* The initiator is named as the policy names people: a user who is
     * also a policy approver initiates under their approver name, so the
     * signer's "the initiator does not count as an approver" rule sees
     * them (by user name alone, alice-the-user could approve her own
     * transfer as alice-the-approver). */
    snprintf(in->initiator, sizeof in->initiator, "%s",
             !a->who ? "" : a->who->approver_name[0] ? a->who->approver_name : a->who->name);
    /* The policy its approvers will see: a signer behind it refuses the
     * intent unless the package brings that policy (docs/intent-format.md). */
    in->policy_version = w.policy->version;
    in->created = a->now;
    in->expires = a->now + (int64_t)lifetime;
    in->max_fee = req->max_fee;
    if (kura_intent_write(&text, &text_len, in, &kerr) != KURA_OK) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_INVALID_FIELD, "the intent: %s", kerr.message);
        goto done;
    }

    kura_db_new_id(t.id, "tr");
    snprintf(t.wallet_id, sizeof t.wallet_id, "%s", w.row.id);
    if (req->external_id) {
        t.has_external_id = 1;
        snprintf(t.external_id, sizeof t.external_id, "%s", req->external_id);
    }
    snprintf(t.state, sizeof t.state, "awaiting_approval");
    snprintf(t.intent_id, sizeof t.intent_id, "%s", in->id);
    t.intent_text = text;
    text = NULL;
    kura_intent_hash(hash, (const uint8_t *)t.intent_text, text_len);
    sodium_bin2hex(t.intent_hash, sizeof t.intent_hash, hash, sizeof hash);
    snprintf(t.initiator, sizeof t.initiator, "%s", in->initiator);
    snprintf(t.created_by, sizeof t.created_by, "%s", dom_actor(a->who));
    t.total = (int64_t)total;
    t.max_fee = (int64_t)req->max_fee;
    t.expires_at = in->expires;
    t.fee = t.change_index = -1;
    t.created_at = t.updated_at = a->now;
    rc = kura_store_transfer_insert(db, &t, err);
    if (rc == KURA_DB_ECONSTRAINT && req->external_id) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_DUPLICATE_EXTERNAL_ID,
                              "a transfer with external_id %s exists", req->external_id);
        goto done;
    }
    if (rc)
        goto done;
    for (size_t i = 0; i < req->output_count; i++) {
        kura_transfer_output_row o = {0};
        o.n = (int64_t)i;
        snprintf(o.address, sizeof o.address, "%s", in->outputs[i].address);
        o.amount = (int64_t)in->outputs[i].amount;
        snprintf(o.label, sizeof o.label, "%s", in->outputs[i].label);
        if ((rc = kura_store_transfer_output_insert(db, t.id, &o, err)))
            goto done;
    }
    if ((rc = dom_transfer_move(db, dom_actor(a->who), &t, "awaiting_approval", NULL, NULL, a->now,
                                &a->out, a->p, err)))
        goto done;
    rc = dom_idem_complete(db, a->idem, 201, a->out, err);
done:
    free(text);
    kura_intent_free(in);
    kura_transfer_row_clear(&t);
    dom_wallet_clear(&w);
    return rc;
}

static int create_tx(kura_db *db, void *arg, kura_db_error *err)
{
    return create_body(db, arg, err);
}

/* The batch of withdrawals (withdrawals.c) creates its transfer inside its
 * own transaction, by exactly this path. */
int dom_transfer_create_in(kura_db *db, const kura_principal *who, const kura_transfer_request *req,
                           int64_t now, json_t **out, kura_problem *p, kura_db_error *err)
{
    create_arg a = {who, req, NULL, now, NULL, p};
    int rc = create_body(db, &a, err);
    *out = rc ? NULL : a.out;
    if (rc)
        json_decref(a.out);
    return rc;
}

int kura_transfer_create(kura_store *st, const kura_principal *who, const kura_transfer_request *req,
                         const kura_idem *idem, int64_t now, json_t **out, kura_problem *p)
{
    create_arg a = {who, req, idem, now, NULL, p};
    kura_db_error err = {0};
    int rc;
    *out = NULL;
    if (!req || !req->wallet_id || !*req->wallet_id)
        return kura_problem_set(p, KURA_PROBLEM_MISSING_FIELD, "wallet_id is required");
    if (req->output_count == 0 || !req->outputs)
        return kura_problem_set(p, KURA_PROBLEM_MISSING_FIELD, "outputs: at least one is required");
    if (req->output_count > KURA_TRANSFER_OUTPUTS_MAX)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "outputs: at most %d",
                                KURA_TRANSFER_OUTPUTS_MAX);
    if (req->max_fee == 0 || req->max_fee > KURA_INTENT_MAX_AMOUNT)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_AMOUNT, "max_fee must be 1..%llu satoshis",
                                (unsigned long long)KURA_INTENT_MAX_AMOUNT);
    if (req->expires_in < 0)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "expires_in must be 0 or more");
    if (req->external_id && !dom_printable(req->external_id, DOM_EXTERNAL_ID_MAX))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD,
                                "external_id: 1..%d printable characters", DOM_EXTERNAL_ID_MAX);
    rc = kura_store_write(st, create_tx, &a, &err);
    if (rc) {
        json_decref(a.out);
        if (rc == KURA_DB_ECONSTRAINT && req->external_id)
            return kura_problem_set(p, KURA_PROBLEM_DUPLICATE_EXTERNAL_ID,
                                    "a transfer with external_id %s exists", req->external_id);
        return kura_problem_from_db(p, rc, &err, "wallet");
    }
    *out = a.out;
    return 0;
}

/* ---- reads ---- */

typedef struct read_arg {
    const char *id;
    json_t *out;
    char *text;
    size_t len;
} read_arg;

static int get_tx(kura_db *db, void *arg, kura_db_error *err)
{
    read_arg *a = arg;
    kura_transfer_row t;
    int rc = kura_store_transfer_get(db, a->id, &t, err);
    json_decref(a->out);
    a->out = NULL;
    if (rc)
        return rc;
    rc = dom_transfer_json(db, &t, &a->out, err);
    kura_transfer_row_clear(&t);
    return rc;
}

int kura_transfer_get(kura_store *st, const char *id, json_t **out, kura_problem *p)
{
    read_arg a = {id, NULL, NULL, 0};
    kura_db_error err = {0};
    int rc;
    *out = NULL;
    if (!id || !*id)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such transfer");
    rc = kura_store_read(st, get_tx, &a, &err);
    if (rc) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, "transfer");
    }
    overlay_expiry(a.out, dom_now());
    *out = a.out;
    return 0;
}

static int intent_tx(kura_db *db, void *arg, kura_db_error *err)
{
    read_arg *a = arg;
    kura_transfer_row t;
    int rc = kura_store_transfer_get(db, a->id, &t, err);
    free(a->text);
    a->text = NULL;
    if (rc)
        return rc;
    a->text = t.intent_text;
    a->len = strlen(t.intent_text);
    t.intent_text = NULL;
    kura_transfer_row_clear(&t);
    return KURA_DB_OK;
}

int kura_transfer_intent(kura_store *st, const char *id, char **text, size_t *len, kura_problem *p)
{
    read_arg a = {id, NULL, NULL, 0};
    kura_db_error err = {0};
    int rc;
    *text = NULL;
    *len = 0;
    if (!id || !*id)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such transfer");
    rc = kura_store_read(st, intent_tx, &a, &err);
    if (rc) {
        free(a.text);
        return kura_problem_from_db(p, rc, &err, "transfer");
    }
    *text = a.text;
    *len = a.len;
    return 0;
}

typedef struct list_arg {
    const char *wallet_id, *state, *cursor;
    size_t limit;
    json_t *page;
} list_arg;

static int list_tx(kura_db *db, void *arg, kura_db_error *err)
{
    list_arg *a = arg;
    kura_transfer_row *rows = NULL;
    size_t n = 0;
    int64_t now = dom_now();
    json_t *items;
    int rc;
    json_decref(a->page);
    a->page = NULL;
    if ((rc = kura_store_transfer_list(db, a->wallet_id, a->state, a->cursor, a->limit + 1, &rows,
                                       &n, err)))
        return rc;
    items = json_array();
    rc = items ? KURA_DB_OK : KURA_DB_ENOMEM;
    for (size_t i = 0; rc == KURA_DB_OK && i < n && i < a->limit; i++) {
        json_t *j = NULL;
        if ((rc = dom_transfer_json(db, &rows[i], &j, err)) == KURA_DB_OK) {
            overlay_expiry(j, now);
            json_array_append_new(items, j);
        }
    }
    if (rc == KURA_DB_OK) {
        a->page = dom_page(items, n > a->limit ? rows[a->limit - 1].id : NULL);
        rc = a->page ? KURA_DB_OK : KURA_DB_ENOMEM;
    } else {
        json_decref(items);
    }
    kura_transfer_rows_free(rows, n);
    return rc;
}

int kura_transfer_list(kura_store *st, const char *wallet_id, const char *state,
                       const char *cursor, size_t limit, json_t **page, kura_problem *p)
{
    list_arg a = {wallet_id && *wallet_id ? wallet_id : NULL, state && *state ? state : NULL,
                  cursor && *cursor ? cursor : NULL, 0, NULL};
    kura_db_error err = {0};
    int rc;
    *page = NULL;
    if ((rc = dom_limit(limit, &a.limit, p)))
        return rc;
    if (a.state && !dom_transfer_state_known(a.state))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "unknown state %s", a.state);
    if (!dom_cursor_valid(cursor, "tr"))
        return kura_problem_set(p, KURA_PROBLEM_BAD_CURSOR, "not a transfer cursor");
    rc = kura_store_read(st, list_tx, &a, &err);
    if (rc) {
        json_decref(a.page);
        return kura_problem_from_db(p, rc, &err, "transfer");
    }
    *page = a.page;
    return 0;
}

/* ---- approvals ---- */

typedef struct approve_arg {
    const kura_principal *who;
    const char *id;
    const char *sig;
    size_t len;
    int64_t now;
    int expired;
    json_t *out;
    kura_problem *p;
} approve_arg;

static int refusal_problem(kura_problem *p, const kura_check_result *res)
{
    switch (res->reason) {
    case KURA_REFUSE_APPROVER_DUPLICATE:
        return kura_problem_set(p, KURA_PROBLEM_DUPLICATE_APPROVAL, "%s", res->message);
    case KURA_REFUSE_APPROVER_INITIATOR:
        return kura_problem_set(p, KURA_PROBLEM_INITIATOR_APPROVAL, "%s", res->message);
    case KURA_REFUSE_NONE:
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "approval check: %s", res->message);
    default:
        return kura_problem_set(p, KURA_PROBLEM_INVALID_APPROVAL, "%s", res->message);
    }
}

static int approve_tx(kura_db *db, void *arg, kura_db_error *err)
{
    approve_arg *a = arg;
    kura_transfer_row t;
    dom_wallet w;
    kura_intent *in = NULL;
    kura_approval_row *apps = NULL;
    size_t napps = 0;
    kura_check_result res;
    kura_sshsig sig;
    kura_error kerr = {0};
    const uint8_t **sigs = NULL;
    size_t *lens = NULL;
    const uint8_t *one[1] = {(const uint8_t *)a->sig};
    size_t one_len[1] = {a->len};
    const char *approver = NULL;
    int rc;

    json_decref(a->out);
    a->out = NULL;
    a->expired = 0;
    memset(&w, 0, sizeof w);
    memset(&res, 0, sizeof res);
    if ((rc = dom_transfer_lock(db, a->id, &t, a->now, &a->expired, a->p, err)))
        return rc;
    if (a->expired)
        goto done;
    if (strcmp(t.state, "awaiting_approval") != 0) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_INVALID_STATE,
                              "transfer %s is %s; approvals are taken while awaiting_approval",
                              t.id, t.state);
        goto done;
    }
    if ((rc = dom_wallet_load(db, t.wallet_id, 0, &w, a->p)))
        goto done;
    if (kura_intent_parse(&in, (const uint8_t *)t.intent_text, strlen(t.intent_text), &kerr) !=
        KURA_OK) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_INTERNAL, "stored intent: %s", kerr.message);
        goto done;
    }
    /* The new approval alone, by libkura's own check: does it verify over
     * these exact bytes, is its key an approver's, is it the initiator's? */
    rc = kura_check_approvals(&res, w.policy, in, (const uint8_t *)t.intent_text,
                              strlen(t.intent_text), one, one_len, 1);
    if (rc != KURA_OK && res.reason != KURA_REFUSE_APPROVALS_INSUFFICIENT) {
        rc = refusal_problem(a->p, &res);
        goto done;
    }
    kura_check_result_clear(&res);
    /* Which approver signed: by key, as the check counts it. */
    if (kura_sshsig_parse(&sig, a->sig, a->len, &kerr) != KURA_OK) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_INVALID_APPROVAL, "%s", kerr.message);
        goto done;
    }
    for (size_t i = 0; i < w.policy->approver_count; i++)
        if (kura_sshkey_equal(&w.policy->approvers[i].key, &sig.key))
            approver = w.policy->approvers[i].name;
    if (!approver) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_INVALID_APPROVAL, "not signed by an approver");
        goto done;
    }
    if ((rc = kura_store_approvals(db, t.id, &apps, &napps, err)))
        goto done;
    for (size_t i = 0; i < napps; i++) {
        if (strcmp(apps[i].approver, approver) == 0) {
            rc = kura_problem_set(a->p, KURA_PROBLEM_DUPLICATE_APPROVAL,
                                  "%s has approved transfer %s already", approver, t.id);
            goto done;
        }
    }
    /* Every approval together, as the signer will count them. */
    sigs = calloc(napps + 1, sizeof *sigs);
    lens = calloc(napps + 1, sizeof *lens);
    if (!sigs || !lens) {
        rc = KURA_DB_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < napps; i++) {
        sigs[i] = (const uint8_t *)apps[i].signature;
        lens[i] = strlen(apps[i].signature);
    }
    sigs[napps] = (const uint8_t *)a->sig;
    lens[napps] = a->len;
    rc = kura_check_approvals(&res, w.policy, in, (const uint8_t *)t.intent_text,
                              strlen(t.intent_text), sigs, lens, napps + 1);
    if (rc != KURA_OK && res.reason != KURA_REFUSE_APPROVALS_INSUFFICIENT) {
        rc = refusal_problem(a->p, &res);
        goto done;
    }
    {
        kura_approval_row row = {0};
        snprintf(row.approver, sizeof row.approver, "%s", approver);
        row.signature = (char *)a->sig;
        snprintf(row.user_id, sizeof row.user_id, "%s", a->who ? a->who->id : "");
        row.created_at = a->now;
        rc = kura_store_approval_insert(db, t.id, &row, err);
        if (rc == KURA_DB_ECONSTRAINT) {
            rc = kura_problem_set(a->p, KURA_PROBLEM_DUPLICATE_APPROVAL,
                                  "%s has approved transfer %s already", approver, t.id);
            goto done;
        }
        if (rc)
            goto done;
    }
    {
        json_t *extra = json_pack("{s:s, s:I, s:I}", "approver", approver, "approvals",
                                  (json_int_t)res.approval_count, "required",
                                  (json_int_t)res.approvals_required);
        if (!extra) {
            rc = KURA_DB_ENOMEM;
            goto done;
        }
        if (res.reason == KURA_REFUSE_NONE) /* the quorum of the amount's tier is met */
            rc = dom_transfer_move(db, dom_actor(a->who), &t, "approved", NULL, extra, a->now,
                                   &a->out, a->p, err);
        else
            rc = dom_transfer_note(db, dom_actor(a->who), &t, "approval_added", extra, a->now,
                                   &a->out, err);
        json_decref(extra);
    }
done:
    kura_check_result_clear(&res);
    free(sigs);
    free(lens);
    kura_approval_rows_free(apps, napps);
    kura_intent_free(in);
    dom_wallet_clear(&w);
    kura_transfer_row_clear(&t);
    return rc;
}

int kura_transfer_approve(kura_store *st, const kura_principal *who, const char *id,
                          const char *signature, size_t len, int64_t now, json_t **out, kura_problem *p)
{
    approve_arg a = {who, id, signature, len, now, 0, NULL, p};
    kura_db_error err = {0};
    char *copy;
    int rc;
    *out = NULL;
    if (!id || !*id)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such transfer");
    if (!signature || len == 0)
        return kura_problem_set(p, KURA_PROBLEM_MISSING_FIELD, "the signature is required");
    if (len > KURA_SSHSIG_ARMOR_MAX || memchr(signature, '\0', len))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_APPROVAL, "not an armoured SSH signature");
    /* Stored as text: a NUL-terminated copy of exactly the bytes given. */
    copy = malloc(len + 1);
    if (!copy)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "out of memory");
    memcpy(copy, signature, len);
    copy[len] = '\0';
    a.sig = copy;
    rc = kura_store_write(st, approve_tx, &a, &err);
    free(copy);
    if (rc) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, "transfer");
    }
    if (a.expired)
        return expired_problem(p, id);
    *out = a.out;
    return 0;
}

/* ---- reject, cancel ---- */

typedef struct end_arg {
    const kura_principal *who;
    const char *id;
    const char *to;             /* rejected | cancelled */
    const char *reason;
    int64_t now;
    int expired;
    json_t *out;
    kura_problem *p;
} end_arg;

static int end_tx(kura_db *db, void *arg, kura_db_error *err)
{
    end_arg *a = arg;
    kura_transfer_row t;
    int rc;
    json_decref(a->out);
    a->out = NULL;
    a->expired = 0;
    if ((rc = dom_transfer_lock(db, a->id, &t, a->now, &a->expired, a->p, err)))
        return rc;
    if (!a->expired) {
        if (!dom_transfer_move_allowed(t.state, a->to))
            rc = kura_problem_set(a->p, KURA_PROBLEM_INVALID_STATE,
                                  "transfer %s is %s; it can no longer be %s", t.id, t.state,
                                  a->to);
        else if ((rc = kura_store_utxo_release(db, t.id, err)) == KURA_DB_OK)
            rc = dom_transfer_move(db, dom_actor(a->who), &t, a->to, a->reason, NULL, a->now,
                                   &a->out, a->p, err);
    }
    kura_transfer_row_clear(&t);
    return rc;
}

static int end_transfer(kura_store *st, const kura_principal *who, const char *id, const char *to,
                        const char *reason, int64_t now, json_t **out, kura_problem *p)
{
    end_arg a = {who, id, to, reason && *reason ? reason : NULL, now, 0, NULL, p};
    kura_db_error err = {0};
    int rc;
    *out = NULL;
    if (!id || !*id)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such transfer");
    if (a.reason && !dom_printable(a.reason, DOM_REASON_MAX))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD,
                                "reason: at most %d characters, no control characters", DOM_REASON_MAX);
    rc = kura_store_write(st, end_tx, &a, &err);
    if (rc) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, "transfer");
    }
    if (a.expired)
        return expired_problem(p, id);
    *out = a.out;
    return 0;
}

int kura_transfer_reject(kura_store *st, const kura_principal *who, const char *id, const char *reason,
                         int64_t now, json_t **out, kura_problem *p)
{
    if (!reason || !*reason) {
        *out = NULL;
        return kura_problem_set(p, KURA_PROBLEM_MISSING_FIELD, "a reason is required to reject");
    }
    return end_transfer(st, who, id, "rejected", reason, now, out, p);
}

int kura_transfer_cancel(kura_store *st, const kura_principal *who, const char *id, const char *reason,
                         int64_t now, json_t **out, kura_problem *p)
{
    return end_transfer(st, who, id, "cancelled", reason, now, out, p);
}

/* ---- expiry ---- */

#define EXPIRE_BATCH 100

typedef struct expire_arg {
    int64_t now;
    size_t moved;
    size_t found;
    kura_problem *p;
} expire_arg;

static int expire_tx(kura_db *db, void *arg, kura_db_error *err)
{
    static const char *const open_states[] = {"awaiting_approval", "approved",
                                              "awaiting_signatures", "signed"};
    expire_arg *a = arg;
    char(*ids)[KURA_DB_ID_SIZE] = NULL;
    size_t n = 0;
    int rc;
    a->moved = a->found = 0;
    if ((rc = kura_store_transfer_due(db, open_states, sizeof open_states / sizeof open_states[0],
                                      a->now, EXPIRE_BATCH, &ids, &n, err)))
        return rc;
    a->found = n;
    for (size_t i = 0; i < n && rc == 0; i++) {
        kura_transfer_row t;
        int expired = 0;
        rc = dom_transfer_lock(db, ids[i], &t, a->now, &expired, a->p, err);
        if (rc == 0) {
            a->moved += (size_t)expired;
            kura_transfer_row_clear(&t);
        }
    }
    free(ids);
    return rc;
}

int kura_transfer_expire_due(kura_store *st, int64_t now, size_t *expired, kura_problem *p)
{
    expire_arg a = {now, 0, 0, p};
    kura_db_error err = {0};
    size_t total = 0;
    int rc;
    *expired = 0;
    do {
        rc = kura_store_write(st, expire_tx, &a, &err);
        if (rc)
            return kura_problem_from_db(p, rc, &err, "transfer");
        total += a.moved;
    } while (a.found == EXPIRE_BATCH && a.moved > 0);
    *expired = total;
    return 0;
}
