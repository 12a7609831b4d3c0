/*
 * server/store/store_withdrawals.h — the typed queries of withdrawal requests
 * (migrations/0005_batch.sql). Codes as in store_wallets.h: ENOTFOUND for a
 * lookup without a row, ECONSTRAINT when the external id exists, ECONFLICT
 * when a guarded update matched no row.
 *
 * withdrawals.state is written in exactly two places: the INSERT of a new
 * request and kura_store_withdrawal_set_state, which only the domain's
 * withdrawal moves (server/domain/withdrawals.c) call.
 */
#ifndef KURA_SERVER_STORE_WITHDRAWALS_H
#define KURA_SERVER_STORE_WITHDRAWALS_H

#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

typedef struct kura_withdrawal_row {
    char id[KURA_DB_ID_SIZE];
    char wallet_id[KURA_DB_ID_SIZE];
    char external_id[132];
    char address[96];
    int64_t amount;            /* satoshis */
    char label[72];            /* "" when none */
    char state[16];            /* queued | batched | sent | completed | cancelled | failed */
    char transfer_id[KURA_DB_ID_SIZE]; /* "" when none (NULL in the table) */
    int64_t batches;           /* batch transfers it has been part of */
    char reason[1040];         /* "" when none (NULL in the table) */
    char created_by[KURA_DB_ID_SIZE + 8];
    int64_t created_at;
    int64_t updated_at;
} kura_withdrawal_row;

/* Inserts a new request (state as in the row, transfer_id and reason NULL).
 * ECONSTRAINT: the id or external_id exists. */
int kura_store_withdrawal_insert(kura_db *db, const kura_withdrawal_row *row, kura_db_error *err);
/* 1 in *exists when a request has this external id. */
int kura_store_withdrawal_external_exists(kura_db *db, const char *external_id, int *exists,
                                          kura_db_error *err);
int kura_store_withdrawal_get(kura_db *db, const char *id, kura_withdrawal_row *row,
                              kura_db_error *err);
/* Requests of one wallet with id > after (NULL: from the start), optionally
 * in one state, in id order, at most limit. *rows malloc'd (free()). */
int kura_store_withdrawal_list(kura_db *db, const char *wallet_id, const char *state,
                               const char *after, size_t limit, kura_withdrawal_row **rows,
                               size_t *count, kura_db_error *err);
/* The requests of one batch transfer, in id order. *rows malloc'd (free()). */
int kura_store_withdrawals_of_transfer(kura_db *db, const char *transfer_id,
                                       kura_withdrawal_row **rows, size_t *count,
                                       kura_db_error *err);
/* How many requests of the wallet are queued. */
int kura_store_withdrawal_queued_count(kura_db *db, const char *wallet_id, int64_t *count,
                                       kura_db_error *err);
/* Wallets with at least min_count queued requests, in wallet id order, at
 * most limit. *ids malloc'd (free()). */
int kura_store_withdrawal_wallets_due(kura_db *db, int64_t min_count, size_t limit,
                                      char (**ids)[KURA_DB_ID_SIZE], size_t *count,
                                      kura_db_error *err);

/* The only write of state: from -> to (guarded: ECONFLICT when the row is
 * not in `from`, e.g. another batch took it first), transfer_id (NULL:
 * cleared), reason (NULL: cleared), batches += add_batches, updated_at. On
 * PostgreSQL the row stays locked until the transaction ends, and a
 * concurrent transaction that moved it first makes this one ECONFLICT. */
int kura_store_withdrawal_set_state(kura_db *db, const char *id, const char *from, const char *to,
                                    const char *transfer_id, const char *reason,
                                    int64_t add_batches, int64_t now, kura_db_error *err);

#endif /* KURA_SERVER_STORE_WITHDRAWALS_H */
