/*
 * server/chain/deposits.c — the deposit resource, its announcements, and
 * the reads of chain.h (deposits, balances, the follower's status).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/audit.h"
#include "chain/chain.h"
#include "chain/chain_internal.h"
#include "webhook/webhook.h"

void chain_hex_rev(char out[65], const uint8_t in[32])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = digits[in[31 - i] >> 4];
        out[2 * i + 1] = digits[in[31 - i] & 15];
    }
    out[64] = '\0';
}

int chain_unhex_rev(uint8_t out[32], const char *hex)
{
    uint8_t tmp[32];
    size_t n = 0;
    if (!hex || strlen(hex) != 64 || sodium_hex2bin(tmp, 32, hex, 64, NULL, &n, NULL) != 0 ||
        n != 32)
        return -1;
    for (size_t i = 0; i < 32; i++)
        out[i] = tmp[31 - i];
    return 0;
}

static int64_t col_int(const kura_db_result *res, size_t row, size_t col, int64_t dflt)
{
    int64_t v;
    return kura_db_result_int(&v, res, row, col) == KURA_DB_OK ? v : dflt;
}

static json_t *text_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *chain_deposit_json(const kura_db_result *res, size_t r, int64_t tip, int for_audit)
{
    const char *block = kura_db_result_text(res, r, 13);
    int64_t height = col_int(res, r, 14, -1);
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:s, s:I, s:s, s:b, s:b, s:o, s:o, s:o, s:I, s:I}",
        "id", kura_db_result_text(res, r, 0), "wallet_id", kura_db_result_text(res, r, 1), "txid",
        kura_db_result_text(res, r, 2), "vout", (json_int_t)col_int(res, r, 3, 0), "address",
        kura_db_result_text(res, r, 4), "branch", (json_int_t)col_int(res, r, 5, 0), "index",
        (json_int_t)col_int(res, r, 6, 0), "account", kura_db_result_text(res, r, 7), "amount",
        (json_int_t)col_int(res, r, 8, 0), "state", kura_db_result_text(res, r, 9), "coinbase",
        (int)col_int(res, r, 11, 0), "replaceable", (int)col_int(res, r, 12, 0), "block_hash",
        text_or_null(block), "height", height >= 0 ? json_integer(height) : json_null(),
        "replaced_by", text_or_null(kura_db_result_text(res, r, 15)), "created_at",
        (json_int_t)col_int(res, r, 16, 0), "updated_at", (json_int_t)col_int(res, r, 17, 0));
    if (j && !for_audit) {
        int64_t conf = (height >= 0 && tip >= height) ? tip - height + 1 : 0;
        if (json_object_set_new(j, "confirmations", json_integer(conf))) {
            json_decref(j);
            return NULL;
        }
    }
    return j;
}

int chain_height(kura_db *db, int64_t *height, char tip[65], kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc = kura_db_exec(db, &res,
                          "SELECT height, hash FROM chain_blocks WHERE connected = 1 "
                          "ORDER BY height DESC LIMIT 1",
                          NULL, 0, err);
    *height = -1;
    if (tip)
        tip[0] = '\0';
    if (rc)
        return rc;
    if (kura_db_result_rows(res) == 1) {
        *height = col_int(res, 0, 0, -1);
        if (tip)
            snprintf(tip, 65, "%s", kura_db_result_text(res, 0, 1));
    }
    kura_db_result_free(res);
    return KURA_DB_OK;
}

int chain_announce(kura_db *db, const char *id, const char *what, int64_t tip, int64_t now,
                   kura_db_error *err)
{
    kura_db_result *res = NULL;
    json_t *full = NULL, *snap = NULL, *data = NULL;
    char action[48], head[KURA_AUDIT_HASH_SIZE] = "";
    int64_t seq = 0;
    int rc = kura_db_exec(db, &res, "SELECT " CHAIN_DEPOSIT_COLUMNS " FROM deposits WHERE id = $1",
                          (kura_db_param[]){KURA_DB_TEXT(id)}, 1, err);
    if (rc)
        return rc;
    if (kura_db_result_rows(res) != 1) {
        kura_db_result_free(res);
        return KURA_DB_ENOTFOUND;
    }
    full = chain_deposit_json(res, 0, tip, 0);
    snap = chain_deposit_json(res, 0, tip, 1);
    data = snap ? json_pack("{s:O}", "snapshot", snap) : NULL;
    kura_db_result_free(res);
    rc = KURA_DB_ENOMEM;
    if (full && data) {
        kura_audit_entry e = {"system", action, "deposit", id, data};
        snprintf(action, sizeof action, "deposit.%s", what);
        rc = kura_audit_append(db, &e, now, &seq, head, err);
        if (rc == KURA_DB_OK)
            rc = kura_webhook_emit(db, action, id, full, seq, head, now, err);
    }
    json_decref(full);
    json_decref(snap);
    json_decref(data);
    return rc;
}

/* ---- reads ---- */

static int cursor_valid(const char *c)
{
    if (!c || !*c)
        return 1;
    if (strncmp(c, "dp_", 3) != 0 || strlen(c) != 31)
        return 0;
    for (const char *q = c + 3; *q; q++)
        if (!isxdigit((unsigned char)*q) || isupper((unsigned char)*q))
            return 0;
    return 1;
}

static int state_valid(const char *s)
{
    return strcmp(s, "pending") == 0 || strcmp(s, "confirmed") == 0 ||
           strcmp(s, "reorged") == 0 || strcmp(s, "replaced") == 0;
}

typedef struct list_arg {
    const char *wallet, *account, *state, *cursor;
    size_t limit;
    json_t *page;
    kura_problem *p;
} list_arg;

static int wallet_exists(kura_db *db, const char *id, int *exists, kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc = kura_db_exec(db, &res, "SELECT 1 FROM wallets WHERE id = $1",
                          (kura_db_param[]){KURA_DB_TEXT(id)}, 1, err);
    *exists = rc == KURA_DB_OK && kura_db_result_rows(res) == 1;
    kura_db_result_free(res);
    return rc;
}

static int list_fn(kura_db *db, void *varg, kura_db_error *err)
{
    list_arg *a = varg;
    kura_db_result *res = NULL;
    char sql[512];
    kura_db_param params[5];
    size_t np = 0, n;
    int64_t tip;
    int rc, exists;
    json_t *items = NULL;
    if (a->wallet) {
        if ((rc = wallet_exists(db, a->wallet, &exists, err)))
            return rc;
        if (!exists)
            return kura_problem_set(a->p, KURA_PROBLEM_NOT_FOUND, "no such wallet");
    }
    if ((rc = chain_height(db, &tip, NULL, err)))
        return rc;
    snprintf(sql, sizeof sql, "SELECT " CHAIN_DEPOSIT_COLUMNS " FROM deposits WHERE own = 0");
    if (a->wallet) {
        params[np++] = KURA_DB_TEXT(a->wallet);
        snprintf(sql + strlen(sql), sizeof sql - strlen(sql), " AND wallet_id = $%zu", np);
    }
    if (a->account) {
        params[np++] = KURA_DB_TEXT(a->account);
        snprintf(sql + strlen(sql), sizeof sql - strlen(sql), " AND account = $%zu", np);
    }
    if (a->state) {
        params[np++] = KURA_DB_TEXT(a->state);
        snprintf(sql + strlen(sql), sizeof sql - strlen(sql), " AND state = $%zu", np);
    }
    if (a->cursor) {
        params[np++] = KURA_DB_TEXT(a->cursor);
        snprintf(sql + strlen(sql), sizeof sql - strlen(sql), " AND id > $%zu", np);
    }
    params[np++] = KURA_DB_INT((int64_t)a->limit + 1);
    snprintf(sql + strlen(sql), sizeof sql - strlen(sql), " ORDER BY id LIMIT $%zu", np);
    if ((rc = kura_db_exec(db, &res, sql, params, np, err)))
        return rc;
    n = kura_db_result_rows(res);
    items = json_array();
    rc = items ? KURA_DB_OK : KURA_DB_ENOMEM;
    for (size_t i = 0; rc == KURA_DB_OK && i < n && i < a->limit; i++)
        if (json_array_append_new(items, chain_deposit_json(res, i, tip, 0)))
            rc = KURA_DB_ENOMEM;
    if (rc == KURA_DB_OK) {
        a->page = json_pack("{s:o, s:o}", "items", items, "next_cursor",
                            n > a->limit ? json_string(kura_db_result_text(res, a->limit - 1, 0))
                                         : json_null());
        items = NULL;
        if (!a->page)
            rc = KURA_DB_ENOMEM;
    }
    json_decref(items);
    kura_db_result_free(res);
    return rc;
}

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

int kura_chain_deposit_list(kura_store *st, const char *wallet_id, const char *account,
                            const char *state, const char *cursor, size_t limit, json_t **page,
                            kura_problem *p)
{
    list_arg a = {nonempty(wallet_id), account, nonempty(state), nonempty(cursor),
                  limit ? limit : 50, NULL, p};
    kura_db_error err = {0};
    int rc;
    *page = NULL;
    if (limit > 500)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "limit must be 1..500");
    if (a.state && !state_valid(a.state))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD,
                                "state must be one of: " KURA_DEPOSIT_STATES);
    if (account && !a.wallet)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD,
                                "an account filter needs a wallet filter");
    if (!cursor_valid(a.cursor))
        return kura_problem_set(p, KURA_PROBLEM_BAD_CURSOR, "the cursor is not one this server issued");
    rc = kura_store_read(st, list_fn, &a, &err);
    if (rc) {
        json_decref(a.page);
        return kura_problem_from_db(p, rc, &err, NULL);
    }
    *page = a.page;
    return 0;
}

typedef struct get_arg {
    const char *id;
    json_t *out;
    kura_problem *p;
} get_arg;

static int get_fn(kura_db *db, void *varg, kura_db_error *err)
{
    get_arg *a = varg;
    kura_db_result *res = NULL;
    int64_t tip;
    int rc;
    if ((rc = chain_height(db, &tip, NULL, err)))
        return rc;
    if ((rc = kura_db_exec(db, &res,
                           "SELECT " CHAIN_DEPOSIT_COLUMNS " FROM deposits WHERE id = $1 AND own = 0",
                           (kura_db_param[]){KURA_DB_TEXT(a->id)}, 1, err)))
        return rc;
    if (kura_db_result_rows(res) != 1)
        rc = kura_problem_set(a->p, KURA_PROBLEM_NOT_FOUND, "no such deposit");
    else if (!(a->out = chain_deposit_json(res, 0, tip, 0)))
        rc = KURA_DB_ENOMEM;
    kura_db_result_free(res);
    return rc;
}

int kura_chain_deposit_get(kura_store *st, const char *id, json_t **out, kura_problem *p)
{
    get_arg a = {id, NULL, p};
    kura_db_error err = {0};
    int rc = kura_store_read(st, get_fn, &a, &err);
    *out = NULL;
    if (rc) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, NULL);
    }
    *out = a.out;
    return 0;
}

typedef struct balance_arg {
    const char *wallet, *account;
    json_t *out;
    kura_problem *p;
} balance_arg;

static int balance_fn(kura_db *db, void *varg, kura_db_error *err)
{
    balance_arg *a = varg;
    kura_db_result *res = NULL;
    int64_t tip, minconf;
    int rc;
    if ((rc = chain_height(db, &tip, NULL, err)))
        return rc;
    if ((rc = kura_db_exec(db, &res, "SELECT min_confirmations FROM wallets WHERE id = $1",
                           (kura_db_param[]){KURA_DB_TEXT(a->wallet)}, 1, err)))
        return rc;
    if (kura_db_result_rows(res) != 1) {
        kura_db_result_free(res);
        return kura_problem_set(a->p, KURA_PROBLEM_NOT_FOUND, "no such wallet");
    }
    minconf = col_int(res, 0, 0, 1);
    kura_db_result_free(res);
    res = NULL;
    if (a->account) {
        rc = kura_db_exec(
            db, &res,
            "SELECT COALESCE(SUM(CASE WHEN state = 'confirmed' THEN amount ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN state = 'pending' THEN amount ELSE 0 END), 0), "
            "COUNT(*) FROM deposits WHERE wallet_id = $1 AND account = $2 AND own = 0",
            (kura_db_param[]){KURA_DB_TEXT(a->wallet), KURA_DB_TEXT(a->account)}, 2, err);
        if (rc == KURA_DB_OK)
            a->out = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "wallet_id", a->wallet,
                               "account", a->account, "confirmed",
                               (json_int_t)col_int(res, 0, 0, 0), "pending",
                               (json_int_t)col_int(res, 0, 1, 0), "deposit_count",
                               (json_int_t)col_int(res, 0, 2, 0), "height", (json_int_t)tip);
    } else {
        /* A coin counts as confirmed with min_confirmations (a coinbase also
         * needs 100): height <= tip - threshold + 1. */
        int64_t lim = tip - minconf + 1;
        int64_t lim_cb = tip - (minconf > 100 ? minconf : 100) + 1;
        rc = kura_db_exec(
            db, &res,
            "SELECT COALESCE(SUM(CASE WHEN height IS NOT NULL AND ((coinbase = 0 AND height <= $2) "
            "OR (coinbase = 1 AND height <= $3)) THEN amount ELSE 0 END), 0), "
            "COALESCE(SUM(amount), 0), COUNT(*) FROM utxos WHERE wallet_id = $1 AND "
            "spent_txid IS NULL",
            (kura_db_param[]){KURA_DB_TEXT(a->wallet), KURA_DB_INT(lim), KURA_DB_INT(lim_cb)}, 3,
            err);
        if (rc == KURA_DB_OK) {
            int64_t conf = col_int(res, 0, 0, 0), all = col_int(res, 0, 1, 0);
            a->out = json_pack("{s:s, s:n, s:I, s:I, s:I, s:I}", "wallet_id", a->wallet, "account",
                               "confirmed", (json_int_t)conf, "pending", (json_int_t)(all - conf),
                               "utxo_count", (json_int_t)col_int(res, 0, 2, 0), "height",
                               (json_int_t)tip);
        }
    }
    if (rc == KURA_DB_OK && !a->out)
        rc = KURA_DB_ENOMEM;
    kura_db_result_free(res);
    return rc;
}

int kura_chain_balance(kura_store *st, const char *wallet_id, const char *account, json_t **out,
                       kura_problem *p)
{
    balance_arg a = {wallet_id, account, NULL, p};
    kura_db_error err = {0};
    int rc = kura_store_read(st, balance_fn, &a, &err);
    *out = NULL;
    if (rc) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, NULL);
    }
    *out = a.out;
    return 0;
}

typedef struct status_arg {
    int64_t now;
    json_t *out;
} status_arg;

static int status_fn(kura_db *db, void *varg, kura_db_error *err)
{
    status_arg *a = varg;
    kura_db_result *res = NULL, *lease = NULL;
    int64_t height, node_height;
    char tip[65];
    json_t *leader;
    int rc;
    if ((rc = chain_height(db, &height, tip, err)))
        return rc;
    if ((rc = kura_db_exec(db, &res,
                           "SELECT node_height, node_tip, node_chain, fee_rate, checked_at, "
                           "last_error FROM chain_status WHERE id = 1",
                           NULL, 0, err)))
        return rc;
    if ((rc = kura_db_exec(db, &lease, "SELECT holder, expires_at FROM leases WHERE name = $1",
                           (kura_db_param[]){KURA_DB_TEXT("chain-follower")}, 1, err))) {
        kura_db_result_free(res);
        return rc;
    }
    node_height = col_int(res, 0, 0, -1);
    leader = kura_db_result_rows(lease) == 1 && col_int(lease, 0, 1, 0) > a->now
                 ? json_pack("{s:s, s:I}", "holder", kura_db_result_text(lease, 0, 0),
                             "expires_at", (json_int_t)col_int(lease, 0, 1, 0))
                 : json_null();
    a->out = json_pack(
        "{s:o, s:o, s:o, s:s, s:s, s:o, s:I, s:I, s:o, s:o}", "height",
        height >= 0 ? json_integer(height) : json_null(), "tip",
        tip[0] ? json_string(tip) : json_null(), "node_height",
        node_height >= 0 ? json_integer(node_height) : json_null(), "node_tip",
        kura_db_result_rows(res) ? kura_db_result_text(res, 0, 1) : "", "node_chain",
        kura_db_result_rows(res) ? kura_db_result_text(res, 0, 2) : "", "lag",
        height >= 0 && node_height >= 0 ? json_integer(node_height - height) : json_null(),
        "fee_rate", (json_int_t)col_int(res, 0, 3, 0), "checked_at",
        (json_int_t)col_int(res, 0, 4, 0), "last_error",
        kura_db_result_rows(res) && kura_db_result_text(res, 0, 5) &&
                kura_db_result_text(res, 0, 5)[0]
            ? json_string(kura_db_result_text(res, 0, 5))
            : json_null(),
        "leader", leader);
    kura_db_result_free(res);
    kura_db_result_free(lease);
    return a->out ? KURA_DB_OK : KURA_DB_ENOMEM;
}

int kura_chain_status(kura_store *st, int64_t now, json_t **out, kura_problem *p)
{
    status_arg a = {now, NULL};
    kura_db_error err = {0};
    int rc = kura_store_read(st, status_fn, &a, &err);
    *out = NULL;
    if (rc) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, NULL);
    }
    *out = a.out;
    return 0;
}

typedef struct transfer_arg {
    const char *id;
    json_t *out;
    kura_problem *p;
} transfer_arg;

static int transfer_fn(kura_db *db, void *varg, kura_db_error *err)
{
    transfer_arg *a = varg;
    kura_db_result *res = NULL;
    int64_t tip, height, last;
    int rc;
    if ((rc = chain_height(db, &tip, NULL, err)))
        return rc;
    if ((rc = kura_db_exec(db, &res,
                           "SELECT t.id, t.state, t.txid, c.height, c.block_hash, "
                           "COALESCE(c.broadcasts, 0), c.last_broadcast_at, c.last_error FROM "
                           "transfers t LEFT JOIN chain_transfers c ON c.transfer_id = t.id "
                           "WHERE t.id = $1",
                           (kura_db_param[]){KURA_DB_TEXT(a->id)}, 1, err)))
        return rc;
    if (kura_db_result_rows(res) != 1) {
        kura_db_result_free(res);
        return kura_problem_set(a->p, KURA_PROBLEM_NOT_FOUND, "no such transfer");
    }
    height = col_int(res, 0, 3, -1);
    last = col_int(res, 0, 6, -1);
    a->out = json_pack("{s:s, s:s, s:o, s:o, s:o, s:I, s:I, s:o, s:o}", "transfer_id",
                       kura_db_result_text(res, 0, 0), "state", kura_db_result_text(res, 0, 1),
                       "txid", text_or_null(kura_db_result_text(res, 0, 2)), "height",
                       height >= 0 ? json_integer(height) : json_null(), "block_hash",
                       text_or_null(kura_db_result_text(res, 0, 4)), "confirmations",
                       (json_int_t)(height >= 0 && tip >= height ? tip - height + 1 : 0),
                       "broadcasts", (json_int_t)col_int(res, 0, 5, 0), "last_broadcast_at",
                       last >= 0 ? json_integer(last) : json_null(), "last_error",
                       text_or_null(kura_db_result_text(res, 0, 7)));
    kura_db_result_free(res);
    return a->out ? KURA_DB_OK : KURA_DB_ENOMEM;
}

int kura_chain_transfer(kura_store *st, const char *transfer_id, json_t **out, kura_problem *p)
{
    transfer_arg a = {transfer_id, NULL, p};
    kura_db_error err = {0};
    int rc = kura_store_read(st, transfer_fn, &a, &err);
    *out = NULL;
    if (rc) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, NULL);
    }
    *out = a.out;
    return 0;
}
