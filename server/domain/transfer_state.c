/*
 * server/domain/transfer_state.c — the transfer state machine (DESIGN
 * "Coordinator", "Transfers"), in one place: the table of allowed moves and
 * the one function that makes a move. Nothing else writes transfers.state
 * (store_transfers.c has the only UPDATE of it, called only from here).
 *
 *   awaiting_approval -> approved -> awaiting_signatures -> signed -> broadcast -> confirmed
 *   ends: cancelled (any state before broadcast), rejected (before signed),
 *         expired (the intent's expiry passed before broadcast), failed;
 *   broadcast -> replaced (fee bump); confirmed -> broadcast (reorganisation).
 *
 * Every move writes exactly one audit row "transfer.<to>" (with the
 * transfer's full snapshot after the move) and one webhook event
 * "transfer.<to>", in the transaction of the move.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/audit.h"
#include "domain/domain_internal.h"
#include "webhook/webhook.h"

/* The states, and for each the states it may move to. */
static const struct {
    const char *from;
    const char *to[6];
} moves[] = {
    {"", {"awaiting_approval"}},
    {"awaiting_approval", {"approved", "cancelled", "rejected", "expired"}},
    {"approved", {"awaiting_signatures", "cancelled", "rejected", "expired", "failed"}},
    {"awaiting_signatures", {"signed", "cancelled", "rejected", "expired", "failed"}},
    {"signed", {"broadcast", "cancelled", "expired", "failed"}},
    {"broadcast", {"confirmed", "replaced", "failed"}},
    {"confirmed", {"broadcast"}},
    {"cancelled", {NULL}},
    {"rejected", {NULL}},
    {"expired", {NULL}},
    {"failed", {NULL}},
    {"replaced", {NULL}},
};

int dom_transfer_move_allowed(const char *from, const char *to)
{
    for (size_t i = 0; i < sizeof moves / sizeof moves[0]; i++) {
        if (strcmp(moves[i].from, from) != 0)
            continue;
        for (size_t j = 0; j < 6 && moves[i].to[j]; j++)
            if (strcmp(moves[i].to[j], to) == 0)
                return 1;
        return 0;
    }
    return 0;
}

int dom_transfer_state_known(const char *state)
{
    for (size_t i = 1; state && i < sizeof moves / sizeof moves[0]; i++)
        if (strcmp(moves[i].from, state) == 0)
            return 1;
    return 0;
}

int dom_transfer_state_open(const char *state)
{
    return dom_transfer_move_allowed(state, "expired");
}

/* ---- the resource ---- */

static void sha256_hex(char out[65], const char *text)
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)text, strlen(text));
    sodium_bin2hex(out, 65, h, sizeof h);
}

int dom_transfer_json(kura_db *db, const kura_transfer_row *t, json_t **out, kura_db_error *err)
{
    kura_transfer_output_row *outs = NULL;
    kura_approval_row *apps = NULL;
    size_t nouts = 0, napps = 0;
    int64_t uploads = 0;
    char ihash[65], phash[65];
    json_t *j = NULL, *ja = NULL, *jo = NULL;
    int rc;
    *out = NULL;
    if ((rc = kura_store_transfer_outputs(db, t->id, &outs, &nouts, err)) ||
        (rc = kura_store_approvals(db, t->id, &apps, &napps, err)) ||
        (rc = kura_store_upload_count(db, t->id, &uploads, err)))
        goto done;
    rc = KURA_DB_ENOMEM;
    jo = json_array();
    ja = json_array();
    if (!jo || !ja)
        goto done;
    for (size_t i = 0; i < nouts; i++)
        if (json_array_append_new(jo, json_pack("{s:s, s:I, s:s}", "address", outs[i].address,
                                                "amount", (json_int_t)outs[i].amount, "label",
                                                outs[i].label)))
            goto done;
    for (size_t i = 0; i < napps; i++)
        if (json_array_append_new(ja, json_pack("{s:s, s:I}", "approver", apps[i].approver,
                                                "created_at", (json_int_t)apps[i].created_at)))
            goto done;
    /* The intent's hash is computed from the text held, never read from a
     * column: a snapshot of an edited text differs from the audited one. */
    sha256_hex(ihash, t->intent_text);
    if (t->package)
        sha256_hex(phash, t->package);
    j = json_pack("{s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:I, s:I, s:o, s:I, s:o, "
                  "s:o, s:o, s:o, s:o, s:I, s:I}",
                  "id", t->id, "wallet_id", t->wallet_id, "external_id",
                  t->has_external_id ? json_string(t->external_id) : json_null(), "state",
                  t->state, "intent_id", t->intent_id, "intent_hash", ihash, "initiator",
                  t->initiator, "created_by", t->created_by, "outputs", jo, "total",
                  (json_int_t)t->total, "max_fee", (json_int_t)t->max_fee, "expires_at",
                  (json_int_t)t->expires_at, "approvals", ja, "signatures_received",
                  (json_int_t)uploads, "txid", t->txid[0] ? json_string(t->txid) : json_null(),
                  "fee", t->fee >= 0 ? json_integer(t->fee) : json_null(), "change_index",
                  t->change_index >= 0 ? json_integer(t->change_index) : json_null(),
                  "package_sha256", t->package ? json_string(phash) : json_null(), "reason",
                  t->reason ? json_string(t->reason) : json_null(), "created_at",
                  (json_int_t)t->created_at, "updated_at", (json_int_t)t->updated_at);
    jo = ja = NULL; /* stolen by "o" (also on failure) */
    if (j) {
        /* Fee bumps: the attempts, once there are any (a transfer never
         * bumped reads, and is audited, as before). */
        json_t *attempts = NULL;
        if ((rc = dom_transfer_attempts_json(db, t->id, &attempts, err)) ||
            (json_array_size(attempts) > 0 ? json_object_set_new(j, "attempts", attempts)
                                           : (json_decref(attempts), 0))) {
            json_decref(j);
            j = NULL;
            if (!rc)
                rc = KURA_DB_ENOMEM;
            goto done;
        }
        *out = j;
        rc = KURA_DB_OK;
    }
done:
    json_decref(jo);
    json_decref(ja);
    free(outs);
    kura_approval_rows_free(apps, napps);
    return rc;
}

int dom_transfer_snapshot_fn(kura_db *db, const char *object_id, json_t **out, kura_db_error *err);
int dom_transfer_snapshot_fn(kura_db *db, const char *object_id, json_t **out, kura_db_error *err)
{
    kura_transfer_row t;
    int rc = kura_store_transfer_get(db, object_id, &t, err);
    *out = NULL;
    if (rc)
        return rc;
    rc = dom_transfer_json(db, &t, out, err);
    kura_transfer_row_clear(&t);
    return rc;
}

/* ---- moves ---- */

int dom_transfer_move(kura_db *db, const char *actor, kura_transfer_row *t, const char *to,
                      const char *reason, json_t *extra, int64_t now, json_t **json_out,
                      kura_problem *p, kura_db_error *err)
{
    char from[sizeof t->state];
    char action[48];
    char head[KURA_AUDIT_HASH_SIZE] = "";
    int64_t seq = 0;
    json_t *snap = NULL, *data = NULL;
    int creation = 0;
    int rc;
    if (json_out)
        *json_out = NULL;
    snprintf(from, sizeof from, "%s", t->state);
    /* Creation: the caller inserted the row in awaiting_approval, the one
     * state no move leads back to; this writes its audit row and event. */
    if (strcmp(to, "awaiting_approval") == 0 && strcmp(from, "awaiting_approval") == 0) {
        creation = 1;
        from[0] = '\0';
    }
    if (!dom_transfer_move_allowed(from, to))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_STATE,
                                "a transfer in state %s cannot become %s", from, to);
    if (!creation) {
        if ((rc = kura_store_transfer_set_state(db, t->id, from, to, reason, now, err)))
            return rc;
        snprintf(t->state, sizeof t->state, "%s", to);
        t->updated_at = now;
        if (reason) {
            char *r = strdup(reason);
            if (!r)
                return KURA_DB_ENOMEM;
            free(t->reason);
            t->reason = r;
        }
    }
    if ((rc = dom_transfer_json(db, t, &snap, err)))
        return rc;
    data = extra ? json_deep_copy(extra) : json_object();
    if (!data || json_object_set_new(data, "from", from[0] ? json_string(from) : json_null()) ||
        json_object_set_new(data, "to", json_string(to)) ||
        (reason && json_object_set_new(data, "reason", json_string(reason)))) {
        rc = KURA_DB_ENOMEM;
        goto done;
    }
    snprintf(action, sizeof action, "transfer.%s", to);
    if ((rc = dom_audit(db, actor, action, "transfer", t->id, data, snap, now, &seq, head, err)))
        goto done;
    if ((rc = kura_webhook_emit(db, action, t->id, snap, seq, head, now, err)))
        goto done;
    /* A batch transfer's withdrawal requests follow it (withdrawals.c). */
    if (!creation && (rc = dom_withdrawals_follow(db, actor, t, to, reason, now, p, err)))
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

int dom_transfer_note(kura_db *db, const char *actor, const kura_transfer_row *t, const char *what,
                      json_t *extra, int64_t now, json_t **json_out, kura_db_error *err)
{
    char action[48];
    json_t *snap = NULL;
    int rc;
    if (json_out)
        *json_out = NULL;
    if ((rc = dom_transfer_json(db, t, &snap, err)))
        return rc;
    snprintf(action, sizeof action, "transfer.%s", what);
    rc = dom_audit(db, actor, action, "transfer", t->id, extra, snap, now, NULL, NULL, err);
    if (rc == 0 && json_out) {
        *json_out = snap;
        snap = NULL;
    }
    json_decref(snap);
    return rc;
}
