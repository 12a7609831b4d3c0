/*
 * server/chain/rescan.c — asking for a recovery scan and reading its
 * progress (rescan.h). The scan itself runs in the follower (follower.c).
 */
#include "chain/rescan.h"

#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "chain/chain_internal.h"

static int64_t col_int(const kura_db_result *res, size_t row, size_t col, int64_t dflt)
{
    int64_t v;
    return kura_db_result_int(&v, res, row, col) == KURA_DB_OK ? v : dflt;
}

typedef struct rescan_arg {
    const char *actor;
    const char *wallet_id;
    int64_t from_height, gap_limit, now;
    json_t *out;
    kura_problem *p;
} rescan_arg;

static int read_fn(kura_db *db, void *varg, kura_db_error *err)
{
    rescan_arg *a = varg;
    kura_db_result *res = NULL;
    int64_t tip = -1, gap, rused, cused, finished;
    int rc;
    json_decref(a->out);
    a->out = NULL;
    if ((rc = chain_height(db, &tip, NULL, err)))
        return rc;
    if ((rc = kura_db_exec(db, &res,
                           "SELECT state, from_height, gap_limit, next_height, receive_used, "
                           "change_used, outputs_found, spends_found, addresses_marked, "
                           "requested_by, requested_at, updated_at, finished_at FROM "
                           "wallet_rescans WHERE wallet_id = $1",
                           (kura_db_param[]){KURA_DB_TEXT(a->wallet_id)}, 1, err)))
        return rc;
    if (kura_db_result_rows(res) != 1) {
        kura_db_result_free(res);
        return kura_problem_set(a->p, KURA_PROBLEM_NOT_FOUND, "no recovery scan of this wallet");
    }
    gap = col_int(res, 0, 2, 0);
    rused = col_int(res, 0, 4, -1);
    cused = col_int(res, 0, 5, -1);
    finished = col_int(res, 0, 12, -1);
    a->out = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, "
                       "s:I, s:I, s:o}",
                       "wallet_id", a->wallet_id, "state", kura_db_result_text(res, 0, 0),
                       "from_height", (json_int_t)col_int(res, 0, 1, 0), "gap_limit",
                       (json_int_t)gap, "next_height", (json_int_t)col_int(res, 0, 3, 0),
                       "height", (json_int_t)tip, "receive_used", (json_int_t)rused,
                       "change_used", (json_int_t)cused, "receive_window",
                       (json_int_t)(rused + gap), "change_window", (json_int_t)(cused + gap),
                       "outputs_found", (json_int_t)col_int(res, 0, 6, 0), "spends_found",
                       (json_int_t)col_int(res, 0, 7, 0), "addresses_marked",
                       (json_int_t)col_int(res, 0, 8, 0), "requested_by",
                       kura_db_result_text(res, 0, 9), "requested_at",
                       (json_int_t)col_int(res, 0, 10, 0), "updated_at",
                       (json_int_t)col_int(res, 0, 11, 0), "finished_at",
                       finished >= 0 ? json_integer(finished) : json_null());
    kura_db_result_free(res);
    return a->out ? KURA_DB_OK : KURA_DB_ENOMEM;
}

static int request_fn(kura_db *db, void *varg, kura_db_error *err)
{
    rescan_arg *a = varg;
    kura_db_result *res = NULL;
    char gen[KURA_DB_ID_SIZE];
    int64_t next_receive, next_change;
    json_t *data;
    int rc;
    /* The wallet's row lock (PostgreSQL): allocations wait for this. */
    if ((rc = kura_db_exec(db, &res,
                           "UPDATE wallets SET next_change_index = next_change_index WHERE id = $1 "
                           "RETURNING next_receive_index, next_change_index",
                           (kura_db_param[]){KURA_DB_TEXT(a->wallet_id)}, 1, err)))
        return rc;
    if (kura_db_result_rows(res) != 1) {
        kura_db_result_free(res);
        return kura_problem_set(a->p, KURA_PROBLEM_NOT_FOUND, "no such wallet");
    }
    next_receive = col_int(res, 0, 0, 0);
    next_change = col_int(res, 0, 1, 0);
    kura_db_result_free(res);
    kura_db_new_id(gen, "rs");
    /* Addresses allocated here were handed out: they count as used. */
    if ((rc = kura_db_exec(db, NULL, "DELETE FROM wallet_rescans WHERE wallet_id = $1",
                           (kura_db_param[]){KURA_DB_TEXT(a->wallet_id)}, 1, err)) ||
        (rc = kura_db_exec(
             db, NULL,
             "INSERT INTO wallet_rescans (wallet_id, generation, state, from_height, gap_limit, "
             "next_height, receive_used, change_used, requested_by, requested_at, updated_at) "
             "VALUES ($1, $2, 'running', $3, $4, $3, $5, $6, $7, $8, $8)",
             (kura_db_param[]){KURA_DB_TEXT(a->wallet_id), KURA_DB_TEXT(gen),
                               KURA_DB_INT(a->from_height), KURA_DB_INT(a->gap_limit),
                               KURA_DB_INT(next_receive - 1), KURA_DB_INT(next_change - 1),
                               KURA_DB_TEXT(a->actor), KURA_DB_INT(a->now)},
             8, err)))
        return rc;
    data = json_pack("{s:I, s:I}", "from_height", (json_int_t)a->from_height, "gap_limit",
                     (json_int_t)a->gap_limit);
    if (!data)
        return KURA_DB_ENOMEM;
    {
        kura_audit_entry e = {a->actor, "wallet.rescan_requested", "wallet_rescan", a->wallet_id,
                              data};
        rc = kura_audit_append(db, &e, a->now, NULL, NULL, err);
    }
    json_decref(data);
    return rc ? rc : read_fn(db, a, err);
}

int kura_rescan_request(kura_store *st, const char *actor, const char *wallet_id,
                        int64_t from_height, int64_t gap_limit, int64_t now, json_t **out,
                        kura_problem *p)
{
    rescan_arg a = {actor && *actor ? actor : "system", wallet_id, from_height, gap_limit, now,
                    NULL, p};
    kura_db_error err = {0};
    int rc;
    *out = NULL;
    if (!wallet_id || !*wallet_id)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such wallet");
    if (from_height < 0)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "from_height: at least 0");
    if (gap_limit < KURA_RESCAN_GAP_MIN || gap_limit > KURA_RESCAN_GAP_MAX)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "gap_limit: %d to %d",
                                KURA_RESCAN_GAP_MIN, KURA_RESCAN_GAP_MAX);
    if ((rc = kura_store_write(st, request_fn, &a, &err))) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, "wallet");
    }
    *out = a.out;
    return 0;
}

int kura_rescan_get(kura_store *st, const char *wallet_id, json_t **out, kura_problem *p)
{
    rescan_arg a = {NULL, wallet_id, 0, 0, 0, NULL, p};
    kura_db_error err = {0};
    int rc;
    *out = NULL;
    if (!wallet_id || !*wallet_id)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such wallet");
    if ((rc = kura_store_read(st, read_fn, &a, &err))) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, "wallet");
    }
    *out = a.out;
    return 0;
}
