/*
 * server/store/store_transfers.c — transfers, outputs, approvals and uploads
 * in the common dialect (store_transfers.h).
 */
#include "store/store_transfers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(kura_db_error *err, int code, const char *msg)
{
    if (err) {
        err->code = code;
        snprintf(err->message, sizeof err->message, "store: %s", msg);
    }
    return code;
}

static int col_copy(char *dst, size_t cap, const kura_db_result *res, size_t row, size_t col,
                    kura_db_error *err)
{
    const char *s = kura_db_result_text(res, row, col);
    size_t n = s ? strlen(s) : 0;
    if (n >= cap)
        return fail(err, KURA_DB_EIO, "a column is longer than its field");
    memcpy(dst, s ? s : "", n + 1);
    return KURA_DB_OK;
}

/* NULL stays NULL. */
static int col_dup_null(char **dst, const kura_db_result *res, size_t row, size_t col)
{
    const char *s = kura_db_result_text(res, row, col);
    *dst = NULL;
    if (!s)
        return KURA_DB_OK;
    *dst = strdup(s);
    return *dst ? KURA_DB_OK : KURA_DB_ENOMEM;
}

static int col_int(int64_t *out, const kura_db_result *res, size_t row, size_t col,
                   int64_t null_value)
{
    if (!kura_db_result_text(res, row, col)) {
        *out = null_value;
        return KURA_DB_OK;
    }
    return kura_db_result_int(out, res, row, col) == KURA_DB_OK ? KURA_DB_OK : KURA_DB_EIO;
}

/* ---- transfers ---- */

#define TRANSFER_COLS                                                                         \
    "id, wallet_id, external_id, state, intent_id, intent_text, intent_hash, initiator, "      \
    "created_by, total, max_fee, expires_at, package, combined, raw_tx, txid, fee, "          \
    "change_index, reason, created_at, updated_at"

void kura_transfer_row_clear(kura_transfer_row *row)
{
    if (!row)
        return;
    free(row->intent_text);
    free(row->package);
    free(row->combined);
    free(row->raw_tx);
    free(row->reason);
    memset(row, 0, sizeof *row);
}

void kura_transfer_rows_free(kura_transfer_row *rows, size_t count)
{
    for (size_t i = 0; rows && i < count; i++)
        kura_transfer_row_clear(&rows[i]);
    free(rows);
}

static int transfer_read(kura_transfer_row *t, const kura_db_result *res, size_t r,
                         kura_db_error *err)
{
    int rc;
    memset(t, 0, sizeof *t);
    t->has_external_id = kura_db_result_text(res, r, 2) != NULL;
    if ((rc = col_copy(t->id, sizeof t->id, res, r, 0, err)) ||
        (rc = col_copy(t->wallet_id, sizeof t->wallet_id, res, r, 1, err)) ||
        (rc = col_copy(t->external_id, sizeof t->external_id, res, r, 2, err)) ||
        (rc = col_copy(t->state, sizeof t->state, res, r, 3, err)) ||
        (rc = col_copy(t->intent_id, sizeof t->intent_id, res, r, 4, err)) ||
        (rc = col_dup_null(&t->intent_text, res, r, 5)) ||
        (rc = col_copy(t->intent_hash, sizeof t->intent_hash, res, r, 6, err)) ||
        (rc = col_copy(t->initiator, sizeof t->initiator, res, r, 7, err)) ||
        (rc = col_copy(t->created_by, sizeof t->created_by, res, r, 8, err)) ||
        (rc = col_int(&t->total, res, r, 9, 0)) || (rc = col_int(&t->max_fee, res, r, 10, 0)) ||
        (rc = col_int(&t->expires_at, res, r, 11, 0)) ||
        (rc = col_dup_null(&t->package, res, r, 12)) ||
        (rc = col_dup_null(&t->combined, res, r, 13)) ||
        (rc = col_dup_null(&t->raw_tx, res, r, 14)) ||
        (rc = col_copy(t->txid, sizeof t->txid, res, r, 15, err)) ||
        (rc = col_int(&t->fee, res, r, 16, -1)) ||
        (rc = col_int(&t->change_index, res, r, 17, -1)) ||
        (rc = col_dup_null(&t->reason, res, r, 18)) ||
        (rc = col_int(&t->created_at, res, r, 19, 0)) ||
        (rc = col_int(&t->updated_at, res, r, 20, 0))) {
        kura_transfer_row_clear(t);
        return rc;
    }
    if (!t->intent_text) {
        kura_transfer_row_clear(t);
        return fail(err, KURA_DB_EIO, "a transfer without intent text");
    }
    return KURA_DB_OK;
}

static int transfers_read(kura_db_result *res, kura_transfer_row **rows, size_t *count,
                          kura_db_error *err)
{
    size_t n = kura_db_result_rows(res);
    int rc = KURA_DB_OK;
    if (!n)
        return KURA_DB_OK;
    kura_transfer_row *out = calloc(n, sizeof *out);
    if (!out)
        return KURA_DB_ENOMEM;
    for (size_t i = 0; i < n && rc == KURA_DB_OK; i++)
        rc = transfer_read(&out[i], res, i, err);
    if (rc) {
        kura_transfer_rows_free(out, n);
        return rc;
    }
    *rows = out;
    *count = n;
    return KURA_DB_OK;
}

int kura_store_transfer_insert(kura_db *db, const kura_transfer_row *t, kura_db_error *err)
{
    kura_db_param p[] = {
        KURA_DB_TEXT(t->id),
        KURA_DB_TEXT(t->wallet_id),
        t->has_external_id ? KURA_DB_TEXT(t->external_id) : KURA_DB_NULL,
        KURA_DB_TEXT(t->state),
        KURA_DB_TEXT(t->intent_id),
        KURA_DB_TEXT(t->intent_text),
        KURA_DB_TEXT(t->intent_hash),
        KURA_DB_TEXT(t->initiator),
        KURA_DB_TEXT(t->created_by),
        KURA_DB_INT(t->total),
        KURA_DB_INT(t->max_fee),
        KURA_DB_INT(t->expires_at),
        KURA_DB_INT(t->created_at),
        KURA_DB_INT(t->updated_at),
    };
    return kura_db_exec(db, NULL,
                        "INSERT INTO transfers (id, wallet_id, external_id, state, intent_id, "
                        "intent_text, intent_hash, initiator, created_by, total, max_fee, "
                        "expires_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, "
                        "$8, $9, $10, $11, $12, $13, $14)",
                        p, sizeof p / sizeof p[0], err);
}

int kura_store_transfer_external_exists(kura_db *db, const char *external_id, int *exists,
                                        kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc = kura_db_exec(db, &res, "SELECT 1 FROM transfers WHERE external_id = $1",
                          (kura_db_param[]){KURA_DB_TEXT(external_id)}, 1, err);
    *exists = rc == KURA_DB_OK && kura_db_result_rows(res) > 0;
    kura_db_result_free(res);
    return rc;
}

int kura_store_transfer_get(kura_db *db, const char *id, kura_transfer_row *row, kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc = kura_db_exec(db, &res, "SELECT " TRANSFER_COLS " FROM transfers WHERE id = $1",
                          (kura_db_param[]){KURA_DB_TEXT(id)}, 1, err);
    memset(row, 0, sizeof *row);
    if (rc == KURA_DB_OK)
        rc = kura_db_result_rows(res) ? transfer_read(row, res, 0, err)
                                      : fail(err, KURA_DB_ENOTFOUND, "no such transfer");
    kura_db_result_free(res);
    return rc;
}

int kura_store_transfer_lock(kura_db *db, const char *id, kura_transfer_row *row, kura_db_error *err)
{
    int rc = kura_db_exec(db, NULL, "UPDATE transfers SET updated_at = updated_at WHERE id = $1",
                          (kura_db_param[]){KURA_DB_TEXT(id)}, 1, err);
    if (rc)
        return rc;
    return kura_store_transfer_get(db, id, row, err);
}

int kura_store_transfer_list(kura_db *db, const char *wallet_id, const char *state, const char *after,
                             size_t limit, kura_transfer_row **rows, size_t *count,
                             kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc;
    *rows = NULL;
    *count = 0;
    /* One statement per filter combination, each served by an index:
     * transfers_wallet (wallet_id, id), transfers_state (state, id), the key. */
    if (wallet_id && state)
        rc = kura_db_exec(db, &res,
                          "SELECT " TRANSFER_COLS " FROM transfers WHERE wallet_id = $1 AND id > $2 "
                          "AND state = $3 ORDER BY id LIMIT $4",
                          (kura_db_param[]){KURA_DB_TEXT(wallet_id), KURA_DB_TEXT(after ? after : ""),
                                            KURA_DB_TEXT(state), KURA_DB_INT(limit)},
                          4, err);
    else if (wallet_id)
        rc = kura_db_exec(db, &res,
                          "SELECT " TRANSFER_COLS " FROM transfers WHERE wallet_id = $1 AND id > $2 "
                          "ORDER BY id LIMIT $3",
                          (kura_db_param[]){KURA_DB_TEXT(wallet_id), KURA_DB_TEXT(after ? after : ""),
                                            KURA_DB_INT(limit)},
                          3, err);
    else if (state)
        rc = kura_db_exec(db, &res,
                          "SELECT " TRANSFER_COLS " FROM transfers WHERE state = $1 AND id > $2 "
                          "ORDER BY id LIMIT $3",
                          (kura_db_param[]){KURA_DB_TEXT(state), KURA_DB_TEXT(after ? after : ""),
                                            KURA_DB_INT(limit)},
                          3, err);
    else
        rc = kura_db_exec(db, &res,
                          "SELECT " TRANSFER_COLS " FROM transfers WHERE id > $1 ORDER BY id LIMIT $2",
                          (kura_db_param[]){KURA_DB_TEXT(after ? after : ""), KURA_DB_INT(limit)}, 2,
                          err);
    if (rc == KURA_DB_OK)
        rc = transfers_read(res, rows, count, err);
    kura_db_result_free(res);
    return rc;
}

int kura_store_transfer_due(kura_db *db, const char *const *states, size_t nstates, int64_t now,
                            size_t limit, char (**ids)[KURA_DB_ID_SIZE], size_t *count,
                            kura_db_error *err)
{
    *ids = NULL;
    *count = 0;
    /* One indexed range per state (transfers_state), merged here. */
    for (size_t s = 0; s < nstates && *count < limit; s++) {
        kura_db_result *res = NULL;
        int rc = kura_db_exec(db, &res,
                              "SELECT id FROM transfers WHERE state = $1 AND expires_at <= $2 "
                              "ORDER BY id LIMIT $3",
                              (kura_db_param[]){KURA_DB_TEXT(states[s]), KURA_DB_INT(now),
                                                KURA_DB_INT(limit - *count)},
                              3, err);
        if (rc) {
            free(*ids);
            *ids = NULL;
            *count = 0;
            return rc;
        }
        size_t n = kura_db_result_rows(res);
        if (n) {
            char(*grown)[KURA_DB_ID_SIZE] = realloc(*ids, (*count + n) * sizeof **ids);
            if (!grown) {
                kura_db_result_free(res);
                free(*ids);
                *ids = NULL;
                *count = 0;
                return KURA_DB_ENOMEM;
            }
            *ids = grown;
            for (size_t i = 0; i < n; i++) {
                rc = col_copy((*ids)[*count], KURA_DB_ID_SIZE, res, i, 0, err);
                if (rc) {
                    kura_db_result_free(res);
                    free(*ids);
                    *ids = NULL;
                    *count = 0;
                    return rc;
                }
                (*count)++;
            }
        }
        kura_db_result_free(res);
    }
    return KURA_DB_OK;
}

static int guarded_update(kura_db *db, const char *sql, const kura_db_param *p, size_t n,
                          kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc = kura_db_exec(db, &res, sql, p, n, err);
    if (rc == KURA_DB_OK && kura_db_result_changes(res) != 1)
        rc = fail(err, KURA_DB_ECONFLICT, "the transfer changed under us");
    kura_db_result_free(res);
    return rc;
}

int kura_store_transfer_set_state(kura_db *db, const char *id, const char *from, const char *to,
                                  const char *reason, int64_t now, kura_db_error *err)
{
    kura_db_param p[] = {KURA_DB_TEXT(id), KURA_DB_TEXT(from), KURA_DB_TEXT(to),
                         reason ? KURA_DB_TEXT(reason) : KURA_DB_NULL, KURA_DB_INT(now)};
    return guarded_update(db,
                          "UPDATE transfers SET state = $3, reason = COALESCE($4, reason), "
                          "updated_at = $5 WHERE id = $1 AND state = $2",
                          p, 5, err);
}

int kura_store_transfer_set_package(kura_db *db, const char *id, const char *package_b64,
                                    int64_t change_index, int64_t fee, int64_t now,
                                    kura_db_error *err)
{
    kura_db_param p[] = {KURA_DB_TEXT(id), KURA_DB_TEXT(package_b64),
                         change_index < 0 ? KURA_DB_NULL : KURA_DB_INT(change_index),
                         KURA_DB_INT(fee), KURA_DB_INT(now)};
    return guarded_update(db,
                          "UPDATE transfers SET package = $2, combined = $2, change_index = $3, "
                          "fee = $4, updated_at = $5 WHERE id = $1",
                          p, 5, err);
}

int kura_store_transfer_set_combined(kura_db *db, const char *id, const char *combined_b64,
                                     int64_t now, kura_db_error *err)
{
    kura_db_param p[] = {KURA_DB_TEXT(id), KURA_DB_TEXT(combined_b64), KURA_DB_INT(now)};
    return guarded_update(db, "UPDATE transfers SET combined = $2, updated_at = $3 WHERE id = $1",
                          p, 3, err);
}

int kura_store_transfer_set_tx(kura_db *db, const char *id, const char *raw_tx_hex,
                               const char *txid, int64_t fee, int64_t now, kura_db_error *err)
{
    kura_db_param p[] = {KURA_DB_TEXT(id), KURA_DB_TEXT(raw_tx_hex), KURA_DB_TEXT(txid),
                         KURA_DB_INT(fee), KURA_DB_INT(now)};
    return guarded_update(db,
                          "UPDATE transfers SET raw_tx = $2, txid = $3, fee = $4, updated_at = $5 "
                          "WHERE id = $1",
                          p, 5, err);
}

/* ---- outputs ---- */

int kura_store_transfer_output_insert(kura_db *db, const char *transfer_id,
                                      const kura_transfer_output_row *o, kura_db_error *err)
{
    kura_db_param p[] = {KURA_DB_TEXT(transfer_id), KURA_DB_INT(o->n), KURA_DB_TEXT(o->address),
                         KURA_DB_INT(o->amount), KURA_DB_TEXT(o->label)};
    return kura_db_exec(db, NULL,
                        "INSERT INTO transfer_outputs (transfer_id, n, address, amount, label) "
                        "VALUES ($1, $2, $3, $4, $5)",
                        p, 5, err);
}

int kura_store_transfer_outputs(kura_db *db, const char *transfer_id,
                                kura_transfer_output_row **rows, size_t *count, kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc;
    size_t n;
    *rows = NULL;
    *count = 0;
    rc = kura_db_exec(db, &res,
                      "SELECT n, address, amount, label FROM transfer_outputs WHERE transfer_id = "
                      "$1 ORDER BY n",
                      (kura_db_param[]){KURA_DB_TEXT(transfer_id)}, 1, err);
    if (rc)
        return rc;
    n = kura_db_result_rows(res);
    if (n) {
        kura_transfer_output_row *out = calloc(n, sizeof *out);
        if (!out) {
            kura_db_result_free(res);
            return KURA_DB_ENOMEM;
        }
        for (size_t i = 0; i < n && rc == KURA_DB_OK; i++) {
            if ((rc = col_int(&out[i].n, res, i, 0, 0)) ||
                (rc = col_copy(out[i].address, sizeof out[i].address, res, i, 1, err)) ||
                (rc = col_int(&out[i].amount, res, i, 2, 0)) ||
                (rc = col_copy(out[i].label, sizeof out[i].label, res, i, 3, err)))
                break;
        }
        if (rc) {
            free(out);
            kura_db_result_free(res);
            return rc;
        }
        *rows = out;
        *count = n;
    }
    kura_db_result_free(res);
    return KURA_DB_OK;
}

/* ---- approvals ---- */

void kura_approval_rows_free(kura_approval_row *rows, size_t count)
{
    for (size_t i = 0; rows && i < count; i++)
        free(rows[i].signature);
    free(rows);
}

int kura_store_approval_insert(kura_db *db, const char *transfer_id, const kura_approval_row *a,
                               kura_db_error *err)
{
    kura_db_param p[] = {KURA_DB_TEXT(transfer_id), KURA_DB_TEXT(a->approver),
                         KURA_DB_TEXT(a->signature),
                         a->user_id[0] ? KURA_DB_TEXT(a->user_id) : KURA_DB_NULL,
                         KURA_DB_INT(a->created_at)};
    return kura_db_exec(db, NULL,
                        "INSERT INTO approvals (transfer_id, approver, signature, user_id, "
                        "created_at) VALUES ($1, $2, $3, $4, $5)",
                        p, 5, err);
}

int kura_store_approvals(kura_db *db, const char *transfer_id, kura_approval_row **rows,
                         size_t *count, kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc;
    size_t n;
    *rows = NULL;
    *count = 0;
    rc = kura_db_exec(db, &res,
                      "SELECT approver, signature, user_id, created_at FROM approvals WHERE "
                      "transfer_id = $1 ORDER BY created_at, approver",
                      (kura_db_param[]){KURA_DB_TEXT(transfer_id)}, 1, err);
    if (rc)
        return rc;
    n = kura_db_result_rows(res);
    if (n) {
        kura_approval_row *out = calloc(n, sizeof *out);
        if (!out) {
            kura_db_result_free(res);
            return KURA_DB_ENOMEM;
        }
        for (size_t i = 0; i < n && rc == KURA_DB_OK; i++) {
            if ((rc = col_copy(out[i].approver, sizeof out[i].approver, res, i, 0, err)) ||
                (rc = col_dup_null(&out[i].signature, res, i, 1)) ||
                (rc = col_copy(out[i].user_id, sizeof out[i].user_id, res, i, 2, err)) ||
                (rc = col_int(&out[i].created_at, res, i, 3, 0)))
                break;
            if (!out[i].signature)
                rc = fail(err, KURA_DB_EIO, "an approval without signature");
        }
        if (rc) {
            kura_approval_rows_free(out, n);
            kura_db_result_free(res);
            return rc;
        }
        *rows = out;
        *count = n;
    }
    kura_db_result_free(res);
    return KURA_DB_OK;
}

/* ---- signature uploads ---- */

int kura_store_upload_insert(kura_db *db, const char *id, const char *transfer_id,
                             const char *psbt_b64, int64_t signatures, const char *uploaded_by,
                             int64_t now, kura_db_error *err)
{
    kura_db_param p[] = {KURA_DB_TEXT(id), KURA_DB_TEXT(transfer_id), KURA_DB_TEXT(psbt_b64),
                         KURA_DB_INT(signatures), KURA_DB_TEXT(uploaded_by), KURA_DB_INT(now)};
    return kura_db_exec(db, NULL,
                        "INSERT INTO signature_uploads (id, transfer_id, psbt, signatures, "
                        "uploaded_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                        p, 6, err);
}

int kura_store_upload_count(kura_db *db, const char *transfer_id, int64_t *count,
                            kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc = kura_db_exec(db, &res, "SELECT COUNT(*) FROM signature_uploads WHERE transfer_id = $1",
                          (kura_db_param[]){KURA_DB_TEXT(transfer_id)}, 1, err);
    *count = 0;
    if (rc == KURA_DB_OK && kura_db_result_int(count, res, 0, 0) != KURA_DB_OK)
        rc = KURA_DB_EIO;
    kura_db_result_free(res);
    return rc;
}
