/*
 * server/store/store_wallets.c — wallets, policies, addresses and UTXOs in
 * the common dialect (store_wallets.h).
 */
#include "store/store_wallets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copies a column into a fixed field; a value that does not fit is a damaged
 * row (the domain validated lengths before writing). */
static int col_copy(char *dst, size_t cap, const kura_db_result *res, size_t row, size_t col,
                    kura_db_error *err)
{
    const char *s = kura_db_result_text(res, row, col);
    size_t n = s ? strlen(s) : 0;
    if (n >= cap) {
        if (err) {
            err->code = KURA_DB_EIO;
            snprintf(err->message, sizeof err->message, "store: column %zu too long", col);
        }
        return KURA_DB_EIO;
    }
    memcpy(dst, s ? s : "", n + 1);
    return KURA_DB_OK;
}

static int col_dup(char **dst, const kura_db_result *res, size_t row, size_t col)
{
    const char *s = kura_db_result_text(res, row, col);
    *dst = strdup(s ? s : "");
    return *dst ? KURA_DB_OK : KURA_DB_ENOMEM;
}

/* An integer column; NULL reads as `null_value`. */
static int col_int(int64_t *out, const kura_db_result *res, size_t row, size_t col,
                   int64_t null_value)
{
    if (!kura_db_result_text(res, row, col)) {
        *out = null_value;
        return KURA_DB_OK;
    }
    return kura_db_result_int(out, res, row, col) == KURA_DB_OK ? KURA_DB_OK : KURA_DB_EIO;
}

static int not_found(kura_db_error *err, const char *what)
{
    if (err) {
        err->code = KURA_DB_ENOTFOUND;
        snprintf(err->message, sizeof err->message, "store: no such %s", what);
    }
    return KURA_DB_ENOTFOUND;
}

/* ---- wallets ---- */

#define WALLET_COLS                                                                           \
    "id, name, chain, descriptor, checksum, kind, threshold, policy_version, "                \
    "next_receive_index, next_change_index, birth_height, min_confirmations, created_at"

void kura_wallet_row_clear(kura_wallet_row *row)
{
    if (!row)
        return;
    free(row->descriptor);
    memset(row, 0, sizeof *row);
}

static int wallet_read(kura_wallet_row *w, const kura_db_result *res, size_t r, kura_db_error *err)
{
    int rc;
    memset(w, 0, sizeof *w);
    if ((rc = col_copy(w->id, sizeof w->id, res, r, 0, err)) ||
        (rc = col_copy(w->name, sizeof w->name, res, r, 1, err)) ||
        (rc = col_copy(w->chain, sizeof w->chain, res, r, 2, err)) ||
        (rc = col_dup(&w->descriptor, res, r, 3)) ||
        (rc = col_copy(w->checksum, sizeof w->checksum, res, r, 4, err)) ||
        (rc = col_copy(w->kind, sizeof w->kind, res, r, 5, err)) ||
        (rc = col_int(&w->threshold, res, r, 6, 0)) ||
        (rc = col_int(&w->policy_version, res, r, 7, 0)) ||
        (rc = col_int(&w->next_receive_index, res, r, 8, 0)) ||
        (rc = col_int(&w->next_change_index, res, r, 9, 0)) ||
        (rc = col_int(&w->birth_height, res, r, 10, 0)) ||
        (rc = col_int(&w->min_confirmations, res, r, 11, 0)) ||
        (rc = col_int(&w->created_at, res, r, 12, 0))) {
        kura_wallet_row_clear(w);
        return rc;
    }
    return KURA_DB_OK;
}

int kura_store_wallet_insert(kura_db *db, const kura_wallet_row *w, kura_db_error *err)
{
    kura_db_param p[] = {
        KURA_DB_TEXT(w->id),           KURA_DB_TEXT(w->name),
        KURA_DB_TEXT(w->chain),        KURA_DB_TEXT(w->descriptor),
        KURA_DB_TEXT(w->checksum),     KURA_DB_TEXT(w->kind),
        KURA_DB_INT(w->threshold),     KURA_DB_INT(w->policy_version),
        KURA_DB_INT(w->birth_height),  KURA_DB_INT(w->min_confirmations),
        KURA_DB_INT(w->created_at),
    };
    return kura_db_exec(db, NULL,
                        "INSERT INTO wallets (id, name, chain, descriptor, checksum, kind, threshold, "
                        "policy_version, birth_height, min_confirmations, created_at) "
                        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                        p, sizeof p / sizeof p[0], err);
}

int kura_store_wallet_get(kura_db *db, const char *id, kura_wallet_row *row, kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc = kura_db_exec(db, &res, "SELECT " WALLET_COLS " FROM wallets WHERE id = $1",
                          (kura_db_param[]){KURA_DB_TEXT(id)}, 1, err);
    if (rc == KURA_DB_OK)
        rc = kura_db_result_rows(res) ? wallet_read(row, res, 0, err) : not_found(err, "wallet");
    kura_db_result_free(res);
    return rc;
}

int kura_store_wallet_list(kura_db *db, const char *after, size_t limit, kura_wallet_row **rows,
                           size_t *count, kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc;
    size_t n;
    *rows = NULL;
    *count = 0;
    rc = kura_db_exec(db, &res,
                      "SELECT " WALLET_COLS " FROM wallets WHERE id > $1 ORDER BY id LIMIT $2",
                      (kura_db_param[]){KURA_DB_TEXT(after ? after : ""), KURA_DB_INT(limit)}, 2,
                      err);
    if (rc)
        return rc;
    n = kura_db_result_rows(res);
    if (n) {
        kura_wallet_row *out = calloc(n, sizeof *out);
        if (!out) {
            kura_db_result_free(res);
            return KURA_DB_ENOMEM;
        }
        for (size_t i = 0; i < n && rc == KURA_DB_OK; i++)
            rc = wallet_read(&out[i], res, i, err);
        if (rc) {
            for (size_t i = 0; i < n; i++)
                kura_wallet_row_clear(&out[i]);
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

int kura_store_wallet_set_policy_version(kura_db *db, const char *id, int64_t version,
                                         kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc = kura_db_exec(db, &res, "UPDATE wallets SET policy_version = $2 WHERE id = $1",
                          (kura_db_param[]){KURA_DB_TEXT(id), KURA_DB_INT(version)}, 2, err);
    if (rc == KURA_DB_OK && kura_db_result_changes(res) != 1)
        rc = not_found(err, "wallet");
    kura_db_result_free(res);
    return rc;
}

int kura_store_wallet_lock(kura_db *db, const char *id, kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc = kura_db_exec(db, &res,
                          "UPDATE wallets SET next_change_index = next_change_index WHERE id = $1",
                          (kura_db_param[]){KURA_DB_TEXT(id)}, 1, err);
    if (rc == KURA_DB_OK && kura_db_result_changes(res) != 1)
        rc = not_found(err, "wallet");
    kura_db_result_free(res);
    return rc;
}

int kura_store_wallet_take_index(kura_db *db, const char *id, int branch, int64_t *index,
                                 kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc;
    *index = -1;
    rc = kura_db_exec(db, &res,
                      branch == 0
                          ? "UPDATE wallets SET next_receive_index = next_receive_index + 1 "
                            "WHERE id = $1 RETURNING next_receive_index - 1"
                          : "UPDATE wallets SET next_change_index = next_change_index + 1 "
                            "WHERE id = $1 RETURNING next_change_index - 1",
                      (kura_db_param[]){KURA_DB_TEXT(id)}, 1, err);
    if (rc == KURA_DB_OK) {
        if (kura_db_result_rows(res) != 1)
            rc = not_found(err, "wallet");
        else if (kura_db_result_int(index, res, 0, 0) != KURA_DB_OK)
            rc = KURA_DB_EIO;
    }
    kura_db_result_free(res);
    return rc;
}

/* ---- policies ---- */

void kura_policy_row_clear(kura_policy_row *row)
{
    if (!row)
        return;
    free(row->text);
    free(row->signatures);
    memset(row, 0, sizeof *row);
}

int kura_store_policy_insert(kura_db *db, const kura_policy_row *row, kura_db_error *err)
{
    kura_db_param p[] = {KURA_DB_TEXT(row->wallet_id), KURA_DB_INT(row->version),
                         KURA_DB_TEXT(row->text), KURA_DB_TEXT(row->signatures),
                         KURA_DB_INT(row->accepted_at)};
    return kura_db_exec(db, NULL,
                        "INSERT INTO policies (wallet_id, version, text, signatures, accepted_at) "
                        "VALUES ($1, $2, $3, $4, $5)",
                        p, 5, err);
}

int kura_store_policy_get(kura_db *db, const char *wallet_id, int64_t version, kura_policy_row *row,
                          kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc = kura_db_exec(db, &res,
                          "SELECT wallet_id, version, text, signatures, accepted_at FROM policies "
                          "WHERE wallet_id = $1 AND version = $2",
                          (kura_db_param[]){KURA_DB_TEXT(wallet_id), KURA_DB_INT(version)}, 2, err);
    memset(row, 0, sizeof *row);
    if (rc == KURA_DB_OK && !kura_db_result_rows(res))
        rc = not_found(err, "policy");
    if (rc == KURA_DB_OK &&
        ((rc = col_copy(row->wallet_id, sizeof row->wallet_id, res, 0, 0, err)) ||
         (rc = col_int(&row->version, res, 0, 1, 0)) || (rc = col_dup(&row->text, res, 0, 2)) ||
         (rc = col_dup(&row->signatures, res, 0, 3)) ||
         (rc = col_int(&row->accepted_at, res, 0, 4, 0))))
        kura_policy_row_clear(row);
    kura_db_result_free(res);
    return rc;
}

/* ---- addresses ---- */

#define ADDRESS_COLS "wallet_id, branch, idx, address, script, account, label, created_at"

static int address_read(kura_address_row *a, const kura_db_result *res, size_t r,
                        kura_db_error *err)
{
    int rc;
    memset(a, 0, sizeof *a);
    if ((rc = col_copy(a->wallet_id, sizeof a->wallet_id, res, r, 0, err)) ||
        (rc = col_int(&a->branch, res, r, 1, 0)) || (rc = col_int(&a->idx, res, r, 2, 0)) ||
        (rc = col_copy(a->address, sizeof a->address, res, r, 3, err)) ||
        (rc = col_copy(a->script, sizeof a->script, res, r, 4, err)) ||
        (rc = col_copy(a->account, sizeof a->account, res, r, 5, err)) ||
        (rc = col_copy(a->label, sizeof a->label, res, r, 6, err)) ||
        (rc = col_int(&a->created_at, res, r, 7, 0)))
        return rc;
    return KURA_DB_OK;
}

int kura_store_address_insert(kura_db *db, const kura_address_row *a, kura_db_error *err)
{
    kura_db_param p[] = {KURA_DB_TEXT(a->wallet_id), KURA_DB_INT(a->branch), KURA_DB_INT(a->idx),
                         KURA_DB_TEXT(a->address),   KURA_DB_TEXT(a->script), KURA_DB_TEXT(a->account),
                         KURA_DB_TEXT(a->label),     KURA_DB_INT(a->created_at)};
    return kura_db_exec(db, NULL,
                        "INSERT INTO addresses (" ADDRESS_COLS
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                        p, 8, err);
}

int kura_store_address_find(kura_db *db, const char *address, kura_address_row *row,
                            kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc = kura_db_exec(db, &res, "SELECT " ADDRESS_COLS " FROM addresses WHERE address = $1",
                          (kura_db_param[]){KURA_DB_TEXT(address)}, 1, err);
    if (rc == KURA_DB_OK)
        rc = kura_db_result_rows(res) ? address_read(row, res, 0, err) : not_found(err, "address");
    kura_db_result_free(res);
    return rc;
}

int kura_store_address_list(kura_db *db, const char *wallet_id, const char *account, int64_t after,
                            size_t limit, kura_address_row **rows, size_t *count,
                            kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc;
    size_t n;
    *rows = NULL;
    *count = 0;
    if (account)
        rc = kura_db_exec(db, &res,
                          "SELECT " ADDRESS_COLS " FROM addresses WHERE wallet_id = $1 AND "
                          "account = $2 AND idx > $3 AND branch = 0 ORDER BY idx LIMIT $4",
                          (kura_db_param[]){KURA_DB_TEXT(wallet_id), KURA_DB_TEXT(account),
                                            KURA_DB_INT(after), KURA_DB_INT(limit)},
                          4, err);
    else
        rc = kura_db_exec(db, &res,
                          "SELECT " ADDRESS_COLS " FROM addresses WHERE wallet_id = $1 AND "
                          "branch = 0 AND idx > $2 ORDER BY branch, idx LIMIT $3",
                          (kura_db_param[]){KURA_DB_TEXT(wallet_id), KURA_DB_INT(after),
                                            KURA_DB_INT(limit)},
                          3, err);
    if (rc)
        return rc;
    n = kura_db_result_rows(res);
    if (n) {
        kura_address_row *out = calloc(n, sizeof *out);
        if (!out) {
            kura_db_result_free(res);
            return KURA_DB_ENOMEM;
        }
        for (size_t i = 0; i < n && rc == KURA_DB_OK; i++)
            rc = address_read(&out[i], res, i, err);
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

/* ---- UTXOs ---- */

#define UTXO_COLS                                                                             \
    "txid, vout, wallet_id, amount, script, branch, idx, prev_tx, height, reserved_by, "       \
    "spent_txid, created_at"

void kura_utxo_row_clear(kura_utxo_row *row)
{
    if (!row)
        return;
    free(row->prev_tx);
    memset(row, 0, sizeof *row);
}

void kura_utxo_rows_free(kura_utxo_row *rows, size_t count)
{
    for (size_t i = 0; rows && i < count; i++)
        kura_utxo_row_clear(&rows[i]);
    free(rows);
}

static int utxo_read(kura_utxo_row *u, const kura_db_result *res, size_t r, kura_db_error *err)
{
    int rc;
    memset(u, 0, sizeof *u);
    if ((rc = col_copy(u->txid, sizeof u->txid, res, r, 0, err)) ||
        (rc = col_int(&u->vout, res, r, 1, 0)) ||
        (rc = col_copy(u->wallet_id, sizeof u->wallet_id, res, r, 2, err)) ||
        (rc = col_int(&u->amount, res, r, 3, 0)) ||
        (rc = col_copy(u->script, sizeof u->script, res, r, 4, err)) ||
        (rc = col_int(&u->branch, res, r, 5, 0)) || (rc = col_int(&u->idx, res, r, 6, 0)) ||
        (rc = col_dup(&u->prev_tx, res, r, 7)) || (rc = col_int(&u->height, res, r, 8, -1)) ||
        (rc = col_copy(u->reserved_by, sizeof u->reserved_by, res, r, 9, err)) ||
        (rc = col_copy(u->spent_txid, sizeof u->spent_txid, res, r, 10, err)) ||
        (rc = col_int(&u->created_at, res, r, 11, 0))) {
        kura_utxo_row_clear(u);
        return rc;
    }
    return KURA_DB_OK;
}

int kura_store_utxo_upsert(kura_db *db, const kura_utxo_row *u, kura_db_error *err)
{
    kura_db_param p[] = {KURA_DB_TEXT(u->txid),   KURA_DB_INT(u->vout),
                         KURA_DB_TEXT(u->wallet_id), KURA_DB_INT(u->amount),
                         KURA_DB_TEXT(u->script), KURA_DB_INT(u->branch),
                         KURA_DB_INT(u->idx),     KURA_DB_TEXT(u->prev_tx),
                         u->height < 0 ? KURA_DB_NULL : KURA_DB_INT(u->height),
                         KURA_DB_INT(u->created_at)};
    return kura_db_exec(db, NULL,
                        "INSERT INTO utxos (txid, vout, wallet_id, amount, script, branch, idx, "
                        "prev_tx, height, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                        "$10) ON CONFLICT (txid, vout) DO UPDATE SET height = excluded.height",
                        p, 10, err);
}

int kura_store_utxo_get(kura_db *db, const char *txid, int64_t vout, kura_utxo_row *row,
                        kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc = kura_db_exec(db, &res, "SELECT " UTXO_COLS " FROM utxos WHERE txid = $1 AND vout = $2",
                          (kura_db_param[]){KURA_DB_TEXT(txid), KURA_DB_INT(vout)}, 2, err);
    if (rc == KURA_DB_OK)
        rc = kura_db_result_rows(res) ? utxo_read(row, res, 0, err) : not_found(err, "utxo");
    kura_db_result_free(res);
    return rc;
}

int kura_store_utxo_prev_tx(kura_db *db, const char *wallet_id, const char *txid, char **prev_tx,
                            kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc = kura_db_exec(db, &res,
                          "SELECT prev_tx FROM utxos WHERE txid = $1 AND wallet_id = $2 LIMIT 1",
                          (kura_db_param[]){KURA_DB_TEXT(txid), KURA_DB_TEXT(wallet_id)}, 2, err);
    *prev_tx = NULL;
    if (rc == KURA_DB_OK)
        rc = kura_db_result_rows(res) ? col_dup(prev_tx, res, 0, 0) : not_found(err, "utxo");
    kura_db_result_free(res);
    return rc;
}

int kura_store_utxo_available(kura_db *db, const char *wallet_id, kura_utxo_row **rows,
                              size_t *count, kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc;
    size_t n;
    *rows = NULL;
    *count = 0;
    rc = kura_db_exec(db, &res,
                      "SELECT " UTXO_COLS " FROM utxos WHERE wallet_id = $1 AND reserved_by IS "
                      "NULL AND spent_txid IS NULL ORDER BY txid, vout",
                      (kura_db_param[]){KURA_DB_TEXT(wallet_id)}, 1, err);
    if (rc)
        return rc;
    n = kura_db_result_rows(res);
    if (n) {
        kura_utxo_row *out = calloc(n, sizeof *out);
        if (!out) {
            kura_db_result_free(res);
            return KURA_DB_ENOMEM;
        }
        for (size_t i = 0; i < n && rc == KURA_DB_OK; i++)
            rc = utxo_read(&out[i], res, i, err);
        if (rc) {
            kura_utxo_rows_free(out, n);
            kura_db_result_free(res);
            return rc;
        }
        *rows = out;
        *count = n;
    }
    kura_db_result_free(res);
    return KURA_DB_OK;
}

int kura_store_utxo_reserve(kura_db *db, const char *txid, int64_t vout, const char *transfer_id,
                            kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc = kura_db_exec(db, &res,
                          "UPDATE utxos SET reserved_by = $3 WHERE txid = $1 AND vout = $2 AND "
                          "reserved_by IS NULL AND spent_txid IS NULL",
                          (kura_db_param[]){KURA_DB_TEXT(txid), KURA_DB_INT(vout),
                                            KURA_DB_TEXT(transfer_id)},
                          3, err);
    if (rc == KURA_DB_OK && kura_db_result_changes(res) != 1) {
        rc = KURA_DB_ECONFLICT;
        if (err) {
            err->code = rc;
            snprintf(err->message, sizeof err->message, "store: coin %s:%lld is taken", txid,
                     (long long)vout);
        }
    }
    kura_db_result_free(res);
    return rc;
}

int kura_store_utxo_release(kura_db *db, const char *transfer_id, kura_db_error *err)
{
    return kura_db_exec(db, NULL,
                        "UPDATE utxos SET reserved_by = NULL WHERE reserved_by = $1 AND "
                        "spent_txid IS NULL",
                        (kura_db_param[]){KURA_DB_TEXT(transfer_id)}, 1, err);
}
