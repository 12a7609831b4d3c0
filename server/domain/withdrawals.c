/*
 * server/domain/withdrawals.c — withdrawal requests: queue, read, cancel,
 * follow their batch transfer, and batch (withdrawals.h). The batcher thread
 * is in withdrawal_batcher.c.
 */
#include "domain/withdrawals.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/domain_internal.h"
#include "kura/script.h"
#include "webhook/webhook.h"

#define SCAN_CHUNK 500
#define SCAN_MAX 5000 /* queued requests one batch looks at, at most */

const kura_principal kura_withdrawal_batcher = {KURA_PRINCIPAL_SYSTEM, "system:batcher",
                                                "system.batcher", KURA_ROLE_INITIATOR,
                                                0, "", ""};

/* ---- the state machine ---- */

static const struct {
    const char *from;
    const char *to[3];
} moves[] = {
    {"", {"queued"}},
    {"queued", {"batched", "cancelled"}},
    {"batched", {"queued", "sent", "failed"}},
    {"sent", {"completed", "failed"}},
    {"completed", {"sent"}},
    {"cancelled", {NULL}},
    {"failed", {NULL}},
};

static int move_allowed(const char *from, const char *to)
{
    for (size_t i = 0; i < sizeof moves / sizeof moves[0]; i++) {
        if (strcmp(moves[i].from, from) != 0)
            continue;
        for (size_t j = 0; j < 3 && moves[i].to[j]; j++)
            if (strcmp(moves[i].to[j], to) == 0)
                return 1;
        return 0;
    }
    return 0;
}

static int state_known(const char *state)
{
    for (size_t i = 1; i < sizeof moves / sizeof moves[0]; i++)
        if (strcmp(moves[i].from, state) == 0)
            return 1;
    return 0;
}

static json_t *withdrawal_json(const kura_withdrawal_row *w)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:o, s:s, s:o, s:I, s:o, s:s, s:I, s:I}", "id",
                     w->id, "wallet_id", w->wallet_id, "external_id", w->external_id, "address",
                     w->address, "amount", (json_int_t)w->amount, "label",
                     w->label[0] ? json_string(w->label) : json_null(), "state", w->state,
                     "transfer_id", w->transfer_id[0] ? json_string(w->transfer_id) : json_null(),
                     "batches", (json_int_t)w->batches, "reason",
                     w->reason[0] ? json_string(w->reason) : json_null(), "created_by",
                     w->created_by, "created_at", (json_int_t)w->created_at, "updated_at",
                     (json_int_t)w->updated_at);
}

int dom_withdrawal_snapshot_fn(kura_db *db, const char *object_id, json_t **out,
                               kura_db_error *err)
{
    kura_withdrawal_row w;
    int rc = kura_store_withdrawal_get(db, object_id, &w, err);
    *out = NULL;
    if (rc)
        return rc;
    *out = withdrawal_json(&w);
    return *out ? KURA_DB_OK : KURA_DB_ENOMEM;
}

/* The only way a request changes state: w->state -> to (guarded in SQL:
 * ECONFLICT when another transaction moved it first), then one audit row
 * and one webhook event "withdrawal.<to>" with the request after the move.
 * creation: the row was just inserted in queued; this writes its row and
 * event. add_batches: 1 when it joins a batch. *json_out may be NULL. */
static int wd_move(kura_db *db, const char *actor, kura_withdrawal_row *w, const char *to,
                   const char *transfer_id, const char *reason, int add_batches, int creation,
                   int64_t now, json_t **json_out, kura_problem *p, kura_db_error *err)
{
    char from[sizeof w->state], action[48], head[65] = "";
    int64_t seq = 0;
    json_t *snap = NULL, *data = NULL;
    int rc;
    if (json_out)
        *json_out = NULL;
    snprintf(from, sizeof from, "%s", creation ? "" : w->state);
    if (!move_allowed(from, to))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_STATE,
                                "withdrawal %s is %s; it cannot become %s", w->id, w->state, to);
    if (!creation) {
        if ((rc = kura_store_withdrawal_set_state(db, w->id, from, to, transfer_id, reason,
                                                  add_batches, now, err)))
            return rc;
        snprintf(w->state, sizeof w->state, "%s", to);
        snprintf(w->transfer_id, sizeof w->transfer_id, "%s", transfer_id ? transfer_id : "");
        snprintf(w->reason, sizeof w->reason, "%s", reason ? reason : "");
        w->batches += add_batches;
        w->updated_at = now;
    }
    snap = withdrawal_json(w);
    data = json_object();
    if (!snap || !data ||
        json_object_set_new(data, "from", from[0] ? json_string(from) : json_null()) ||
        json_object_set_new(data, "to", json_string(to)) ||
        (transfer_id && json_object_set_new(data, "transfer_id", json_string(transfer_id))) ||
        (reason && json_object_set_new(data, "reason", json_string(reason)))) {
        rc = KURA_DB_ENOMEM;
        goto done;
    }
    snprintf(action, sizeof action, "withdrawal.%s", to);
    if ((rc = dom_audit(db, actor, action, "withdrawal", w->id, data, snap, now, &seq, head, err)) ||
        (rc = kura_webhook_emit(db, action, w->id, snap, seq, head, now, err)))
        goto done;
    if (json_out) {
        *json_out = snap;
        snap = NULL;
    }
done:
    json_decref(snap);
    json_decref(data);
    return rc;
}

/* ---- following the batch transfer ---- */

int dom_withdrawals_follow(kura_db *db, const char *actor, const kura_transfer_row *t,
                           const char *to, const char *reason, int64_t now, kura_problem *p,
                           kura_db_error *err)
{
    kura_withdrawal_row *rows = NULL;
    size_t n = 0;
    char why[DOM_REASON_MAX + 96];
    int requeue = strcmp(to, "cancelled") == 0 || strcmp(to, "rejected") == 0 ||
                  strcmp(to, "expired") == 0 || strcmp(to, "failed") == 0;
    int rc;
    if (!requeue && strcmp(to, "broadcast") != 0 && strcmp(to, "confirmed") != 0)
        return 0;
    if ((rc = kura_store_withdrawals_of_transfer(db, t->id, &rows, &n, err)))
        return rc;
    snprintf(why, sizeof why, "transfer %s %s%s%.1024s", t->id, to, reason ? ": " : "",
             reason ? reason : "");
    for (size_t i = 0; i < n && rc == 0; i++) {
        kura_withdrawal_row *w = &rows[i];
        if (strcmp(to, "broadcast") == 0) {
            if (strcmp(w->state, "batched") == 0 || strcmp(w->state, "completed") == 0)
                rc = wd_move(db, actor, w, "sent", t->id, NULL, 0, 0, now, NULL, p, err);
        } else if (strcmp(to, "confirmed") == 0) {
            if (strcmp(w->state, "sent") == 0)
                rc = wd_move(db, actor, w, "completed", t->id, NULL, 0, 0, now, NULL, p, err);
        } else if (strcmp(w->state, "batched") == 0 && !t->package) {
            /* Ended before its signing package left: no signature exists,
             * nothing can be paid. Back in the queue, never dropped. */
            rc = wd_move(db, actor, w, "queued", NULL, why, 0, 0, now, NULL, p, err);
        } else if (strcmp(w->state, "batched") == 0) {
            /* The package left for the signers: a signed transaction paying
             * this request may exist outside kura, and the coins it spends
             * were released. Paying again on our own could pay twice, so a
             * person decides (the event says why). */
            char why2[sizeof why + 128];
            snprintf(why2, sizeof why2, "%s (after its signing package was issued: a signed "
                     "transaction may exist, so it is not requeued)", why);
            rc = wd_move(db, actor, w, "failed", t->id, why2, 0, 0, now, NULL, p, err);
        } else if (strcmp(w->state, "sent") == 0 && strcmp(to, "failed") == 0) {
            /* Broadcast, then failed: whether it paid is for a person to find out. */
            rc = wd_move(db, actor, w, "failed", t->id, why, 0, 0, now, NULL, p, err);
        }
    }
    free(rows);
    return rc;
}

/* ---- checks shared by create and batch ---- */

/* Bitcoin Core's dust threshold (GetDustThreshold at the default
 * dustrelayfee of 3000 sat/kvB): 3 * (the output's size + the size of the
 * input that would spend it: 67 vbytes for a witness program, 148 else). */
static uint64_t dust_threshold(const uint8_t *script, size_t len)
{
    unsigned version = 0;
    kura_script_type type = kura_script_classify(script, len, NULL, NULL, &version);
    int witness = type == KURA_SCRIPT_P2WPKH || type == KURA_SCRIPT_P2WSH ||
                  type == KURA_SCRIPT_P2TR || type == KURA_SCRIPT_WITNESS_UNKNOWN;
    uint64_t size = 8 + 1 + (uint64_t)len;
    return 3 * (size + (witness ? 67 : 148));
}

/* Checks one request against the wallet and the policy in force: 0, or the
 * problem (INVALID_ADDRESS, INVALID_AMOUNT, INVALID_FIELD, POLICY_LIMIT). */
static int check_request(const dom_wallet *w, const char *address, uint64_t amount,
                         const char *label, kura_problem *p)
{
    uint8_t script[KURA_SCRIPT_PUBKEY_MAX];
    size_t slen = 0;
    uint64_t dust;
    kura_error kerr = {0};
    kura_intent *scratch;
    const char *allow_label = NULL;
    int rc;
    if (kura_address_to_script(script, sizeof script, &slen, address, w->network, &kerr) != KURA_OK)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_ADDRESS, "%s", kerr.message);
    dust = dust_threshold(script, slen);
    if (amount < dust || amount > KURA_INTENT_MAX_AMOUNT)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_AMOUNT,
                                "amount must be %llu..%llu satoshis for this address (below "
                                "%llu is dust)",
                                (unsigned long long)dust, (unsigned long long)KURA_INTENT_MAX_AMOUNT,
                                (unsigned long long)dust);
    if (amount > w->policy->max_per_transfer)
        return kura_problem_set(p, KURA_PROBLEM_POLICY_LIMIT,
                                "amount %llu sat is over the policy's max-per-transfer %llu sat",
                                (unsigned long long)amount,
                                (unsigned long long)w->policy->max_per_transfer);
    if (w->policy->allowlist_required &&
        !kura_policy_allowlist_lookup((void *)(uintptr_t)w->policy, script, slen, &allow_label))
        return kura_problem_set(p, KURA_PROBLEM_POLICY_LIMIT,
                                "%s is not on the policy's allowlist", address);
    /* The label as the intent will hold it: the intent's own rules decide. */
    scratch = kura_intent_new();
    if (!scratch)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "out of memory");
    scratch->chain = w->chain;
    rc = kura_intent_add_output(scratch, address, amount, label && *label ? label : NULL, &kerr);
    kura_intent_free(scratch);
    if (rc != KURA_OK)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD,
                                "label: %s (printable ASCII words, at most %d)", kerr.message,
                                KURA_INTENT_LABEL_MAX);
    return 0;
}

/* ---- create ---- */

typedef struct create_arg {
    const kura_principal *who;
    const kura_withdrawal_request *req;
    const kura_idem *idem;
    int64_t now;
    json_t *out;
    kura_problem *p;
} create_arg;

static int dup_external(kura_problem *p, const char *external_id)
{
    return kura_problem_set(p, KURA_PROBLEM_DUPLICATE_EXTERNAL_ID,
                            "a withdrawal with external_id %s exists", external_id);
}

static int create_tx(kura_db *db, void *arg, kura_db_error *err)
{
    create_arg *a = arg;
    const kura_withdrawal_request *req = a->req;
    kura_withdrawal_row row;
    dom_wallet w;
    int exists = 0, rc;
    json_decref(a->out);
    a->out = NULL;
    if ((rc = dom_wallet_load(db, req->wallet_id, 0, &w, a->p)))
        return rc;
    if ((rc = check_request(&w, req->address, req->amount, req->label, a->p)))
        goto done;
    if ((rc = kura_store_withdrawal_external_exists(db, req->external_id, &exists, err)))
        goto done;
    if (exists) {
        rc = dup_external(a->p, req->external_id);
        goto done;
    }
    memset(&row, 0, sizeof row);
    kura_db_new_id(row.id, "wd");
    snprintf(row.wallet_id, sizeof row.wallet_id, "%s", w.row.id);
    snprintf(row.external_id, sizeof row.external_id, "%s", req->external_id);
    snprintf(row.address, sizeof row.address, "%s", req->address);
    row.amount = (int64_t)req->amount;
    snprintf(row.label, sizeof row.label, "%s", req->label ? req->label : "");
    snprintf(row.state, sizeof row.state, "queued");
    snprintf(row.created_by, sizeof row.created_by, "%s", dom_actor(a->who));
    row.created_at = row.updated_at = a->now;
    rc = kura_store_withdrawal_insert(db, &row, err);
    if (rc == KURA_DB_ECONSTRAINT) {
        rc = dup_external(a->p, req->external_id);
        goto done;
    }
    if (rc || (rc = wd_move(db, dom_actor(a->who), &row, "queued", NULL, NULL, 0, 1, a->now,
                            &a->out, a->p, err)))
        goto done;
    rc = dom_idem_complete(db, a->idem, 201, a->out, err);
done:
    dom_wallet_clear(&w);
    return rc;
}

int kura_withdrawal_create(kura_store *st, const kura_principal *who,
                           const kura_withdrawal_request *req, const kura_idem *idem, int64_t now,
                           json_t **out, kura_problem *p)
{
    create_arg a = {who, req, idem, now, NULL, p};
    kura_db_error err = {0};
    int rc;
    *out = NULL;
    if (!req || !req->wallet_id || !*req->wallet_id)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such wallet");
    if (!req->external_id || !*req->external_id)
        return kura_problem_set(p, KURA_PROBLEM_MISSING_FIELD, "external_id is required");
    if (!dom_printable(req->external_id, DOM_EXTERNAL_ID_MAX))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD,
                                "external_id: 1..%d printable characters", DOM_EXTERNAL_ID_MAX);
    if (!req->address || !*req->address)
        return kura_problem_set(p, KURA_PROBLEM_MISSING_FIELD, "address is required");
    if (strlen(req->address) >= sizeof ((kura_withdrawal_row *)0)->address)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_ADDRESS, "address: too long");
    rc = kura_store_write(st, create_tx, &a, &err);
    if (rc) {
        json_decref(a.out);
        if (rc == KURA_DB_ECONSTRAINT)
            return dup_external(p, req->external_id);
        return kura_problem_from_db(p, rc, &err, "withdrawal");
    }
    *out = a.out;
    return 0;
}

/* ---- reads ---- */

typedef struct read_arg {
    const char *id;
    const char *wallet_id, *state, *cursor;
    size_t limit;
    json_t *out;
    kura_problem *p;
} read_arg;

static int get_tx(kura_db *db, void *arg, kura_db_error *err)
{
    read_arg *a = arg;
    kura_withdrawal_row w;
    int rc = kura_store_withdrawal_get(db, a->id, &w, err);
    json_decref(a->out);
    a->out = NULL;
    if (rc)
        return rc;
    a->out = withdrawal_json(&w);
    return a->out ? KURA_DB_OK : KURA_DB_ENOMEM;
}

int kura_withdrawal_get(kura_store *st, const char *id, json_t **out, kura_problem *p)
{
    read_arg a = {id, NULL, NULL, NULL, 0, NULL, p};
    kura_db_error err = {0};
    int rc;
    *out = NULL;
    if (!id || !*id)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such withdrawal");
    rc = kura_store_read(st, get_tx, &a, &err);
    if (rc) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, "withdrawal");
    }
    *out = a.out;
    return 0;
}

static int list_tx(kura_db *db, void *arg, kura_db_error *err)
{
    read_arg *a = arg;
    kura_withdrawal_row *rows = NULL;
    kura_wallet_row wr;
    size_t n = 0;
    json_t *items;
    int rc;
    json_decref(a->out);
    a->out = NULL;
    if ((rc = kura_store_wallet_get(db, a->wallet_id, &wr, err)))
        return rc;
    kura_wallet_row_clear(&wr);
    if ((rc = kura_store_withdrawal_list(db, a->wallet_id, a->state, a->cursor, a->limit + 1, &rows,
                                         &n, err)))
        return rc;
    items = json_array();
    rc = items ? KURA_DB_OK : KURA_DB_ENOMEM;
    for (size_t i = 0; rc == KURA_DB_OK && i < n && i < a->limit; i++)
        if (json_array_append_new(items, withdrawal_json(&rows[i])))
            rc = KURA_DB_ENOMEM;
    if (rc == KURA_DB_OK) {
        a->out = dom_page(items, n > a->limit ? rows[a->limit - 1].id : NULL);
        rc = a->out ? KURA_DB_OK : KURA_DB_ENOMEM;
    } else {
        json_decref(items);
    }
    free(rows);
    return rc;
}

int kura_withdrawal_list(kura_store *st, const char *wallet_id, const char *state,
                         const char *cursor, size_t limit, json_t **page, kura_problem *p)
{
    read_arg a = {NULL, wallet_id, state && *state ? state : NULL, cursor && *cursor ? cursor : NULL,
                  0, NULL, p};
    kura_db_error err = {0};
    int rc;
    *page = NULL;
    if (!wallet_id || !*wallet_id)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such wallet");
    if ((rc = dom_limit(limit, &a.limit, p)))
        return rc;
    if (a.state && !state_known(a.state))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "unknown state %s", a.state);
    if (!dom_cursor_valid(a.cursor, "wd"))
        return kura_problem_set(p, KURA_PROBLEM_BAD_CURSOR, "not a withdrawal cursor");
    rc = kura_store_read(st, list_tx, &a, &err);
    if (rc) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, "wallet");
    }
    *page = a.out;
    return 0;
}

/* ---- cancel ---- */

typedef struct cancel_arg {
    const kura_principal *who;
    const char *id, *reason;
    int64_t now;
    json_t *out;
    kura_problem *p;
} cancel_arg;

static int cancel_tx(kura_db *db, void *arg, kura_db_error *err)
{
    cancel_arg *a = arg;
    kura_withdrawal_row w;
    int rc;
    json_decref(a->out);
    a->out = NULL;
    if ((rc = kura_store_withdrawal_get(db, a->id, &w, err)))
        return rc == KURA_DB_ENOTFOUND
                   ? kura_problem_set(a->p, KURA_PROBLEM_NOT_FOUND, "no such withdrawal")
                   : rc;
    if (strcmp(w.state, "queued") != 0)
        return kura_problem_set(a->p, KURA_PROBLEM_INVALID_STATE,
                                "withdrawal %s is %s; only a queued request can be cancelled",
                                w.id, w.state);
    rc = wd_move(db, dom_actor(a->who), &w, "cancelled", NULL, a->reason, 0, 0, a->now, &a->out,
                 a->p, err);
    /* A batch took it between our read and our write (PostgreSQL): read again. */
    return rc == KURA_DB_ECONFLICT ? KURA_DB_EBUSY : rc;
}

int kura_withdrawal_cancel(kura_store *st, const kura_principal *who, const char *id,
                           const char *reason, int64_t now, json_t **out, kura_problem *p)
{
    cancel_arg a = {who, id, reason && *reason ? reason : NULL, now, NULL, p};
    kura_db_error err = {0};
    int rc;
    *out = NULL;
    if (!id || !*id)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such withdrawal");
    if (a.reason && !dom_printable(a.reason, DOM_REASON_MAX))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD,
                                "reason: at most %d characters, no control characters", DOM_REASON_MAX);
    rc = kura_store_write(st, cancel_tx, &a, &err);
    if (rc) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, "withdrawal");
    }
    *out = a.out;
    return 0;
}

/* ---- batch ---- */

typedef struct batch_arg {
    const kura_principal *who;
    const kura_batch_request *req;
    const kura_idem *idem;
    size_t max_outputs;
    int64_t now;
    json_t *out;
    kura_problem *p;
} batch_arg;

static int batch_tx(kura_db *db, void *arg, kura_db_error *err)
{
    batch_arg *a = arg;
    dom_wallet w;
    kura_withdrawal_row *chosen = NULL;
    kura_transfer_output_req *outs = NULL;
    size_t nchosen = 0, scanned = 0;
    uint64_t total = 0;
    int full = 0, rc;
    char after[KURA_DB_ID_SIZE] = "";
    json_t *skipped = json_array(), *batched = json_array(), *transfer = NULL;

    json_decref(a->out);
    a->out = NULL;
    if (!skipped || !batched) {
        rc = KURA_DB_ENOMEM;
        goto out;
    }
    if ((rc = dom_wallet_load(db, a->req->wallet_id, 0, &w, a->p)))
        goto out;
    /* One batch of a wallet at a time: the second waits here for the first
     * to commit, then reads the queue without what the first took. */
    if ((rc = kura_store_wallet_lock(db, w.row.id, err)))
        goto done;
    chosen = calloc(a->max_outputs, sizeof *chosen);
    if (!chosen) {
        rc = KURA_DB_ENOMEM;
        goto done;
    }
    /* Oldest first, in pages, until the batch is full or the queue read. */
    while (!full && nchosen < a->max_outputs && scanned < SCAN_MAX) {
        kura_withdrawal_row *rows = NULL;
        size_t n = 0;
        if ((rc = kura_store_withdrawal_list(db, w.row.id, "queued", after[0] ? after : NULL,
                                             SCAN_CHUNK, &rows, &n, err)))
            goto done;
        for (size_t i = 0; i < n && !full && nchosen < a->max_outputs; i++) {
            kura_problem why = {0};
            scanned++;
            if (check_request(&w, rows[i].address, (uint64_t)rows[i].amount, rows[i].label, &why)) {
                /* Refused under the policy now in force: stays queued, reported. */
                if (json_array_append_new(skipped, json_pack("{s:s, s:s, s:s}", "id", rows[i].id,
                                                             "error", kura_problem_name(why.code),
                                                             "reason", why.message))) {
                    free(rows);
                    rc = KURA_DB_ENOMEM;
                    goto done;
                }
                continue;
            }
            if (total + (uint64_t)rows[i].amount > w.policy->max_per_transfer) {
                full = 1; /* this one and the rest wait for the next batch, in order */
                break;
            }
            total += (uint64_t)rows[i].amount;
            chosen[nchosen++] = rows[i];
        }
        if (n)
            snprintf(after, sizeof after, "%s", rows[n - 1].id);
        free(rows);
        if (n < SCAN_CHUNK)
            break;
    }
    if (nchosen == 0) {
        if (json_array_size(skipped))
            rc = kura_problem_set(a->p, KURA_PROBLEM_NOTHING_QUEUED,
                                  "wallet %s: none of its %zu queued withdrawals may be batched "
                                  "under the policy in force (first: %s)",
                                  w.row.id, json_array_size(skipped),
                                  json_string_value(json_object_get(json_array_get(skipped, 0),
                                                                    "reason")));
        else
            rc = kura_problem_set(a->p, KURA_PROBLEM_NOTHING_QUEUED,
                                  "wallet %s has no queued withdrawal", w.row.id);
        goto done;
    }
    outs = calloc(nchosen, sizeof *outs);
    if (!outs) {
        rc = KURA_DB_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < nchosen; i++) {
        outs[i].address = chosen[i].address;
        outs[i].amount = (uint64_t)chosen[i].amount;
        outs[i].label = chosen[i].label[0] ? chosen[i].label : NULL;
    }
    {
        kura_transfer_request treq = {w.row.id, NULL, outs, nchosen,
                                      a->req->max_fee ? a->req->max_fee : w.policy->max_fee,
                                      a->req->expires_in};
        if (treq.max_fee == 0) {
            rc = kura_problem_set(a->p, KURA_PROBLEM_INVALID_AMOUNT,
                                  "max_fee: the policy allows no fee; give one");
            goto done;
        }
        if ((rc = dom_transfer_create_in(db, a->who, &treq, a->now, &transfer, a->p, err)))
            goto done;
    }
    for (size_t i = 0; i < nchosen; i++) {
        json_t *j = NULL;
        rc = wd_move(db, dom_actor(a->who), &chosen[i], "batched",
                     json_string_value(json_object_get(transfer, "id")), NULL, 1, 0, a->now, &j,
                     a->p, err);
        /* Taken by another transaction since we read it (a cancel): the
         * whole batch is rolled back and made again from a fresh read. */
        if (rc == KURA_DB_ECONFLICT)
            rc = KURA_DB_EBUSY;
        if (rc)
            goto done;
        json_array_append_new(batched, j);
    }
    a->out = json_pack("{s:O, s:O, s:O}", "transfer", transfer, "withdrawals", batched, "skipped",
                       skipped);
    if (!a->out) {
        rc = KURA_DB_ENOMEM;
        goto done;
    }
    rc = dom_idem_complete(db, a->idem, 201, a->out, err);
done:
    dom_wallet_clear(&w);
out:
    free(outs);
    free(chosen);
    json_decref(transfer);
    json_decref(skipped);
    json_decref(batched);
    return rc;
}

int kura_withdrawal_batch(kura_store *st, const kura_principal *who, const kura_batch_request *req,
                          const kura_idem *idem, int64_t now, json_t **out, kura_problem *p)
{
    batch_arg a = {who, req, idem, 0, now, NULL, p};
    kura_db_error err = {0};
    int rc;
    *out = NULL;
    if (!req || !req->wallet_id || !*req->wallet_id)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such wallet");
    a.max_outputs = req->max_outputs ? req->max_outputs : KURA_BATCH_OUTPUTS_DEFAULT;
    if (a.max_outputs > KURA_BATCH_OUTPUTS_MAX)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "max_outputs must be 1..%d",
                                KURA_BATCH_OUTPUTS_MAX);
    if (req->max_fee > KURA_INTENT_MAX_AMOUNT)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_AMOUNT, "max_fee: at most %llu satoshis",
                                (unsigned long long)KURA_INTENT_MAX_AMOUNT);
    if (req->expires_in < 0)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "expires_in must be 0 or more");
    rc = kura_store_write(st, batch_tx, &a, &err);
    if (rc) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, "wallet");
    }
    *out = a.out;
    return 0;
}

/* ---- the scheduled round ---- */

typedef struct due_arg {
    int64_t min;
    char (*ids)[KURA_DB_ID_SIZE];
    size_t n;
} due_arg;

static int due_tx(kura_db *db, void *arg, kura_db_error *err)
{
    due_arg *a = arg;
    free(a->ids);
    a->ids = NULL;
    a->n = 0;
    return kura_store_withdrawal_wallets_due(db, a->min, 1000, &a->ids, &a->n, err);
}

int kura_withdrawal_batch_due(kura_store *st, int64_t min_requests, size_t max_outputs,
                              int64_t now, size_t *made, kura_problem *p)
{
    due_arg a = {min_requests > 0 ? min_requests : 1, NULL, 0};
    kura_db_error err = {0};
    int rc, first = 0;
    *made = 0;
    rc = kura_store_read(st, due_tx, &a, &err);
    if (rc) {
        free(a.ids);
        return kura_problem_from_db(p, rc, &err, "withdrawal");
    }
    for (size_t i = 0; i < a.n; i++) {
        kura_batch_request req = {a.ids[i], max_outputs, 0, 0};
        kura_problem one = {0};
        json_t *out = NULL;
        rc = kura_withdrawal_batch(st, &kura_withdrawal_batcher, &req, NULL, now, &out, &one);
        json_decref(out);
        if (rc == 0)
            (*made)++;
        else if (rc != KURA_PROBLEM_NOTHING_QUEUED && !first) {
            first = rc;
            *p = one;
        }
    }
    free(a.ids);
    return first;
}
