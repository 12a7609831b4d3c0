/*
 * server/domain/transfer_chain.c — the moves the chain makes a transfer
 * take (transfers.h, "For the chain"): signed -> broadcast when the node took
 * its transaction, broadcast -> confirmed when a block of the best chain
 * holds it (any attempt of a fee-bumped transfer), confirmed -> broadcast
 * when that block is disconnected. The moves go through transfer_state.c
 * like every other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/domain_internal.h"
#include "domain/transfers.h"

/* A fee-bumped transfer's attempts follow the chain: the one mined is
 * confirmed, the others replaced (or abandoned, if never signed), and the
 * coins only a losing attempt spent are free again; a reorganisation that
 * takes the block away makes them all broadcast again. */
static int attempts_follow(kura_db *db, const char *id, const char *txid, const char *from,
                           const char *to, int64_t now, kura_db_error *err)
{
    kura_db_result *res = NULL;
    int64_t n = 0;
    int rc;
    if (strcmp(to, "confirmed") == 0) {
        rc = kura_db_exec(db, &res, "SELECT COUNT(*) FROM transfer_attempts WHERE transfer_id = $1",
                          (kura_db_param[]){KURA_DB_TEXT(id)}, 1, err);
        if (rc == KURA_DB_OK)
            kura_db_result_int(&n, res, 0, 0);
        kura_db_result_free(res);
        if (rc || n == 0)
            return rc;
        rc = kura_db_exec(db, NULL,
                          "UPDATE transfer_attempts SET state = CASE WHEN txid = $2 THEN "
                          "'confirmed' WHEN state = 'broadcast' THEN 'replaced' ELSE 'abandoned' "
                          "END, updated_at = $3 WHERE transfer_id = $1 AND state IN ('broadcast', "
                          "'awaiting_signatures')",
                          (kura_db_param[]){KURA_DB_TEXT(id), KURA_DB_TEXT(txid), KURA_DB_INT(now)},
                          3, err);
        return rc ? rc : kura_store_utxo_release(db, id, err);
    }
    if (strcmp(from, "confirmed") == 0)
        return kura_db_exec(db, NULL,
                            "UPDATE transfer_attempts SET state = 'broadcast', updated_at = $2 "
                            "WHERE transfer_id = $1 AND state IN ('confirmed', 'replaced')",
                            (kura_db_param[]){KURA_DB_TEXT(id), KURA_DB_INT(now)}, 2, err);
    return KURA_DB_OK;
}

int kura_transfer_chain_move(kura_db *db, const char *txid, const char *from, const char *to,
                             json_t *extra, int64_t now, char id_out[KURA_DB_ID_SIZE],
                             kura_db_error *err)
{
    kura_db_result *res = NULL;
    kura_transfer_row t;
    kura_problem p;
    const char *id;
    int rc;
    if (id_out)
        id_out[0] = '\0';
    memset(&t, 0, sizeof t);
    rc = kura_db_exec(db, &res, "SELECT id FROM transfers WHERE txid = $1 AND state = $2 ORDER BY id LIMIT 1",
                      (kura_db_param[]){KURA_DB_TEXT(txid), KURA_DB_TEXT(from)}, 2, err);
    if (rc)
        return rc;
    id = kura_db_result_text(res, 0, 0);
    /* A fee-bumped transfer confirms with whichever of its attempts a block
     * holds: an earlier one than its current transaction becomes its
     * transaction again (transfer_bump.c). */
    if (!id && strcmp(to, "confirmed") == 0) {
        kura_db_result_free(res);
        res = NULL;
        rc = kura_db_exec(db, &res,
                          "SELECT a.transfer_id, a.raw_tx, a.fee FROM transfer_attempts a JOIN "
                          "transfers t ON t.id = a.transfer_id WHERE a.txid = $1 AND t.state = $2 "
                          "ORDER BY a.transfer_id LIMIT 1",
                          (kura_db_param[]){KURA_DB_TEXT(txid), KURA_DB_TEXT(from)}, 2, err);
        if (rc)
            return rc;
        id = kura_db_result_text(res, 0, 0);
        if (id) {
            int64_t fee = 0;
            const char *raw = kura_db_result_text(res, 0, 1);
            kura_db_result_int(&fee, res, 0, 2);
            if (!raw)
                id = NULL;
            else if ((rc = kura_store_transfer_set_tx(db, id, raw, txid, fee, now, err)))
                goto out;
        }
    }
    if (!id) {
        kura_db_result_free(res);
        return KURA_DB_OK;
    }
    rc = kura_store_transfer_lock(db, id, &t, err);
    if (rc == KURA_DB_OK)
        rc = attempts_follow(db, t.id, txid, from, to, now, err);
    if (rc == KURA_DB_OK) {
        if (id_out)
            snprintf(id_out, KURA_DB_ID_SIZE, "%s", t.id);
        rc = dom_transfer_move(db, "system", &t, to, NULL, extra, now, NULL, &p, err);
        if (rc > 0) { /* the table refuses: a bug in the caller, not the data */
            snprintf(err->message, sizeof err->message, "%s", p.message);
            err->code = rc = KURA_DB_EINVAL;
        }
    }
out:
    kura_transfer_row_clear(&t);
    kura_db_result_free(res);
    return rc;
}

int kura_transfer_mark_broadcast(kura_db *db, const char *id, json_t *extra, int64_t now,
                                 kura_problem *p, kura_db_error *err)
{
    kura_transfer_row t;
    int expired = 0;
    int rc;
    memset(&t, 0, sizeof t);
    if ((rc = dom_transfer_lock(db, id, &t, now, &expired, p, err)))
        return rc;
    if (expired) {
        rc = kura_problem_set(p, KURA_PROBLEM_TRANSFER_EXPIRED, "transfer %s has expired", id);
    } else if (strcmp(t.state, "signed") != 0) {
        rc = kura_problem_set(p, KURA_PROBLEM_INVALID_STATE,
                              "transfer %s is %s; only a signed transfer is broadcast", id,
                              t.state);
    } else {
        rc = dom_transfer_move(db, "system", &t, "broadcast", NULL, extra, now, NULL, p, err);
    }
    kura_transfer_row_clear(&t);
    return rc;
}
