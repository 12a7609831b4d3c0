/*
 * server/store/store_transfers.h — the typed queries of transfers, their
 * outputs, approvals and signature uploads. Codes as in store_wallets.h.
 *
 * transfers.state is written in exactly two places: the INSERT of a new
 * transfer and kura_store_transfer_set_state, which only the state machine
 * (server/domain/transfer_state.c) calls.
 */
#ifndef KURA_SERVER_STORE_TRANSFERS_H
#define KURA_SERVER_STORE_TRANSFERS_H

#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

typedef struct kura_transfer_row {
    char id[KURA_DB_ID_SIZE];
    char wallet_id[KURA_DB_ID_SIZE];
    char external_id[132];   /* "" when none (NULL in the table) */
    int has_external_id;
    char state[24];
    char intent_id[40];
    char *intent_text;       /* owned */
    char intent_hash[68];
    char initiator[68];
    char created_by[KURA_DB_ID_SIZE + 8];
    int64_t total;
    int64_t max_fee;
    int64_t expires_at;
    char *package;           /* owned, base64; NULL when none */
    char *combined;          /* owned, base64; NULL when none */
    char *raw_tx;            /* owned, hex; NULL when none */
    char txid[68];           /* "" when none */
    int64_t fee;             /* -1 when none */
    int64_t change_index;    /* -1 when none */
    char *reason;            /* owned; NULL when none */
    int64_t created_at;
    int64_t updated_at;
} kura_transfer_row;

void kura_transfer_row_clear(kura_transfer_row *row);
void kura_transfer_rows_free(kura_transfer_row *rows, size_t count);

/* Inserts a new transfer (package, combined, raw_tx, txid, fee,
 * change_index, reason NULL). ECONSTRAINT: id, intent_id or external_id exists. */
int kura_store_transfer_insert(kura_db *db, const kura_transfer_row *row, kura_db_error *err);
/* 1 in *exists when a transfer has this external id. */
int kura_store_transfer_external_exists(kura_db *db, const char *external_id, int *exists,
                                        kura_db_error *err);
int kura_store_transfer_get(kura_db *db, const char *id, kura_transfer_row *row, kura_db_error *err);
/* Reads the transfer and, on PostgreSQL, locks its row until the transaction
 * ends (a no-op UPDATE first), so concurrent moves of one transfer serialise
 * (SQLite's write transactions are serial already). ENOTFOUND. */
int kura_store_transfer_lock(kura_db *db, const char *id, kura_transfer_row *row, kura_db_error *err);
/* Transfers with id > after, optionally of one wallet / one state, in id order. */
int kura_store_transfer_list(kura_db *db, const char *wallet_id, const char *state, const char *after,
                             size_t limit, kura_transfer_row **rows, size_t *count,
                             kura_db_error *err);
/* Ids of transfers in any of states[0..nstates) with expires_at <= now, at most limit. */
int kura_store_transfer_due(kura_db *db, const char *const *states, size_t nstates, int64_t now,
                            size_t limit, char (**ids)[KURA_DB_ID_SIZE], size_t *count,
                            kura_db_error *err);

/* The state machine's write: state from -> to (guarded: ECONFLICT when the
 * row is not in `from`), updated_at, and reason when not NULL. */
int kura_store_transfer_set_state(kura_db *db, const char *id, const char *from, const char *to,
                                  const char *reason, int64_t now, kura_db_error *err);
/* The package as built (base64), the change index (-1: none) and the fee. */
int kura_store_transfer_set_package(kura_db *db, const char *id, const char *package_b64,
                                    int64_t change_index, int64_t fee, int64_t now,
                                    kura_db_error *err);
int kura_store_transfer_set_combined(kura_db *db, const char *id, const char *combined_b64,
                                     int64_t now, kura_db_error *err);
int kura_store_transfer_set_tx(kura_db *db, const char *id, const char *raw_tx_hex,
                               const char *txid, int64_t fee, int64_t now, kura_db_error *err);

/* ---- outputs ---- */

typedef struct kura_transfer_output_row {
    int64_t n;
    char address[96];
    int64_t amount;
    char label[72];
} kura_transfer_output_row;

int kura_store_transfer_output_insert(kura_db *db, const char *transfer_id,
                                      const kura_transfer_output_row *row, kura_db_error *err);
/* In n order; *rows malloc'd (free()). */
int kura_store_transfer_outputs(kura_db *db, const char *transfer_id,
                                kura_transfer_output_row **rows, size_t *count, kura_db_error *err);

/* ---- approvals ---- */

typedef struct kura_approval_row {
    char approver[68];
    char *signature;         /* owned */
    char user_id[KURA_DB_ID_SIZE + 8]; /* "" when none */
    int64_t created_at;
} kura_approval_row;

void kura_approval_rows_free(kura_approval_row *rows, size_t count);
/* ECONSTRAINT: this approver approved already. */
int kura_store_approval_insert(kura_db *db, const char *transfer_id, const kura_approval_row *row,
                               kura_db_error *err);
/* In the order they were given (created_at, then approver). */
int kura_store_approvals(kura_db *db, const char *transfer_id, kura_approval_row **rows,
                         size_t *count, kura_db_error *err);

/* ---- signature uploads ---- */

int kura_store_upload_insert(kura_db *db, const char *id, const char *transfer_id,
                             const char *psbt_b64, int64_t signatures, const char *uploaded_by,
                             int64_t now, kura_db_error *err);
int kura_store_upload_count(kura_db *db, const char *transfer_id, int64_t *count,
                            kura_db_error *err);

#endif /* KURA_SERVER_STORE_TRANSFERS_H */
