/*
 * server/store/store_withdrawals.c — withdrawal requests in the common
 * dialect (store_withdrawals.h).
 */
#include "store/store_withdrawals.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WITHDRAWAL_COLS                                                                       \
    "id, wallet_id, external_id, address, amount, label, state, transfer_id, batches, "       \
    "reason, created_by, created_at, updated_at"

static int col_copy(char *dst, size_t cap, const kura_db_result *res, size_t row, size_t col,
                    kura_db_error *err)
{
    const char *s = kura_db_result_text(res, row, col);
    size_t n = s ? strlen(s) : 0;
    if (n >= cap)
        return kura_db_fail(err, KURA_DB_EIO, "store: a withdrawal column is longer than its field");
    memcpy(dst, s ? s : "", n + 1);
    return KURA_DB_OK;
}

static int col_int(int64_t *out, const kura_db_result *res, size_t row, size_t col,
                   kura_db_error *err)
{
    if (kura_db_result_int(out, res, row, col) != KURA_DB_OK)
        return kura_db_fail(err, KURA_DB_EIO, "store: a withdrawal number does not read");
    return KURA_DB_OK;
}

static int withdrawal_read(kura_withdrawal_row *w, const kura_db_result *res, size_t r,
                           kura_db_error *err)
{
    int rc;
    memset(w, 0, sizeof *w);
    if ((rc = col_copy(w->id, sizeof w->id, res, r, 0, err)) ||
        (rc = col_copy(w->wallet_id, sizeof w->wallet_id, res, r, 1, err)) ||
        (rc = col_copy(w->external_id, sizeof w->external_id, res, r, 2, err)) ||
        (rc = col_copy(w->address, sizeof w->address, res, r, 3, err)) ||
        (rc = col_int(&w->amount, res, r, 4, err)) ||
        (rc = col_copy(w->label, sizeof w->label, res, r, 5, err)) ||
        (rc = col_copy(w->state, sizeof w->state, res, r, 6, err)) ||
        (rc = col_copy(w->transfer_id, sizeof w->transfer_id, res, r, 7, err)) ||
        (rc = col_int(&w->batches, res, r, 8, err)) ||
        (rc = col_copy(w->reason, sizeof w->reason, res, r, 9, err)) ||
        (rc = col_copy(w->created_by, sizeof w->created_by, res, r, 10, err)) ||
        (rc = col_int(&w->created_at, res, r, 11, err)) ||
        (rc = col_int(&w->updated_at, res, r, 12, err)))
        memset(w, 0, sizeof *w);
    return rc;
}

static int withdrawals_read(kura_db_result *res, kura_withdrawal_row **rows, size_t *count,
                            kura_db_error *err)
{
    size_t n = kura_db_result_rows(res);
    int rc = KURA_DB_OK;
    kura_withdrawal_row *out;
    if (!n)
        return KURA_DB_OK;
    out = calloc(n, sizeof *out);
    if (!out)
        return KURA_DB_ENOMEM;
    for (size_t i = 0; i < n && rc == KURA_DB_OK; i++)
        rc = withdrawal_read(&out[i], res, i, err);
    if (rc) {
        free(out);
        return rc;
    }
    *rows = out;
    *count = n;
    return KURA_DB_OK;
}

int kura_store_withdrawal_insert(kura_db *db, const kura_withdrawal_row *w, kura_db_error *err)
{
    kura_db_param p[] = {
        KURA_DB_TEXT(w->id),         KURA_DB_TEXT(w->wallet_id), KURA_DB_TEXT(w->external_id),
        KURA_DB_TEXT(w->address),    KURA_DB_INT(w->amount),     KURA_DB_TEXT(w->label),
        KURA_DB_TEXT(w->state),      KURA_DB_INT(w->batches),    KURA_DB_TEXT(w->created_by),
        KURA_DB_INT(w->created_at),  KURA_DB_INT(w->updated_at),
    };
    return kura_db_exec(db, NULL,
                        "INSERT INTO withdrawals (id, wallet_id, external_id, address, amount, "
                        "label, state, batches, created_by, created_at, updated_at) VALUES ($1, "
                        "$2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                        p, sizeof p / sizeof p[0], err);
}

int kura_store_withdrawal_external_exists(kura_db *db, const char *external_id, int *exists,
                                          kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc = kura_db_exec(db, &res, "SELECT 1 FROM withdrawals WHERE external_id = $1",
                          (kura_db_param[]){KURA_DB_TEXT(external_id)}, 1, err);
    *exists = rc == KURA_DB_OK && kura_db_result_rows(res) > 0;
    kura_db_result_free(res);
    return rc;
}

int kura_store_withdrawal_get(kura_db *db, const char *id, kura_withdrawal_row *row,
                              kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc = kura_db_exec(db, &res, "SELECT " WITHDRAWAL_COLS " FROM withdrawals WHERE id = $1",
                          (kura_db_param[]){KURA_DB_TEXT(id)}, 1, err);
    memset(row, 0, sizeof *row);
    if (rc == KURA_DB_OK)
        rc = kura_db_result_rows(res)
                 ? withdrawal_read(row, res, 0, err)
                 : kura_db_fail(err, KURA_DB_ENOTFOUND, "store: no such withdrawal");
    kura_db_result_free(res);
    return rc;
}

int kura_store_withdrawal_list(kura_db *db, const char *wallet_id, const char *state,
                               const char *after, size_t limit, kura_withdrawal_row **rows,
                               size_t *count, kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc;
    *rows = NULL;
    *count = 0;
    /* Served by withdrawals_queue (wallet_id, state, id) and withdrawals_wallet (wallet_id, id). */
    if (state)
        rc = kura_db_exec(db, &res,
                          "SELECT " WITHDRAWAL_COLS " FROM withdrawals WHERE wallet_id = $1 AND "
                          "state = $2 AND id > $3 ORDER BY id LIMIT $4",
                          (kura_db_param[]){KURA_DB_TEXT(wallet_id), KURA_DB_TEXT(state),
                                            KURA_DB_TEXT(after ? after : ""), KURA_DB_INT(limit)},
                          4, err);
    else
        rc = kura_db_exec(db, &res,
                          "SELECT " WITHDRAWAL_COLS " FROM withdrawals WHERE wallet_id = $1 AND "
                          "id > $2 ORDER BY id LIMIT $3",
                          (kura_db_param[]){KURA_DB_TEXT(wallet_id), KURA_DB_TEXT(after ? after : ""),
                                            KURA_DB_INT(limit)},
                          3, err);
    if (rc == KURA_DB_OK)
        rc = withdrawals_read(res, rows, count, err);
    kura_db_result_free(res);
    return rc;
}

int kura_store_withdrawals_of_transfer(kura_db *db, const char *transfer_id,
                                       kura_withdrawal_row **rows, size_t *count,
                                       kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc;
    *rows = NULL;
    *count = 0;
    rc = kura_db_exec(db, &res,
                      "SELECT " WITHDRAWAL_COLS " FROM withdrawals WHERE transfer_id = $1 ORDER BY id",
                      (kura_db_param[]){KURA_DB_TEXT(transfer_id)}, 1, err);
    if (rc == KURA_DB_OK)
        rc = withdrawals_read(res, rows, count, err);
    kura_db_result_free(res);
    return rc;
}

int kura_store_withdrawal_queued_count(kura_db *db, const char *wallet_id, int64_t *count,
                                       kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc = kura_db_exec(db, &res,
                          "SELECT COUNT(*) FROM withdrawals WHERE wallet_id = $1 AND state = 'queued'",
                          (kura_db_param[]){KURA_DB_TEXT(wallet_id)}, 1, err);
    *count = 0;
    if (rc == KURA_DB_OK)
        rc = col_int(count, res, 0, 0, err);
    kura_db_result_free(res);
    return rc;
}

int kura_store_withdrawal_wallets_due(kura_db *db, int64_t min_count, size_t limit,
                                      char (**ids)[KURA_DB_ID_SIZE], size_t *count,
                                      kura_db_error *err)
{
    kura_db_result *res = NULL;
    size_t n;
    int rc;
    *ids = NULL;
    *count = 0;
    rc = kura_db_exec(db, &res,
                      "SELECT wallet_id FROM withdrawals WHERE state = 'queued' GROUP BY wallet_id "
                      "HAVING COUNT(*) >= $1 ORDER BY wallet_id LIMIT $2",
                      (kura_db_param[]){KURA_DB_INT(min_count), KURA_DB_INT(limit)}, 2, err);
    n = rc == KURA_DB_OK ? kura_db_result_rows(res) : 0;
    if (n) {
        *ids = calloc(n, sizeof **ids);
        if (!*ids)
            rc = KURA_DB_ENOMEM;
        for (size_t i = 0; rc == KURA_DB_OK && i < n; i++)
            rc = col_copy((*ids)[i], KURA_DB_ID_SIZE, res, i, 0, err);
        if (rc) {
            free(*ids);
            *ids = NULL;
        } else {
            *count = n;
        }
    }
    kura_db_result_free(res);
    return rc;
}

int kura_store_withdrawal_set_state(kura_db *db, const char *id, const char *from, const char *to,
                                    const char *transfer_id, const char *reason,
                                    int64_t add_batches, int64_t now, kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc = kura_db_exec(
        db, &res,
        "UPDATE withdrawals SET state = $1, transfer_id = $2, reason = $3, batches = batches + $4, "
        "updated_at = $5 WHERE id = $6 AND state = $7",
        (kura_db_param[]){KURA_DB_TEXT(to), transfer_id ? KURA_DB_TEXT(transfer_id) : KURA_DB_NULL,
                          reason ? KURA_DB_TEXT(reason) : KURA_DB_NULL, KURA_DB_INT(add_batches),
                          KURA_DB_INT(now), KURA_DB_TEXT(id), KURA_DB_TEXT(from)},
        7, err);
    if (rc == KURA_DB_OK && kura_db_result_changes(res) != 1)
        rc = kura_db_fail(err, KURA_DB_ECONFLICT, "store: withdrawal %s is no longer %s", id, from);
    kura_db_result_free(res);
    return rc;
}
