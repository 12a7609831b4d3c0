/*
 * server/store/store_wallets.h — the typed queries of wallets, policies,
 * addresses and UTXOs (tables of migrations/0001_init.sql). Each takes the
 * kura_db of the transaction it runs in and returns a KURA_DB_* code:
 * KURA_DB_ENOTFOUND for a lookup without a row, KURA_DB_ECONSTRAINT when a
 * UNIQUE key refuses an insert, KURA_DB_ECONFLICT when a guarded update
 * matched no row. Rows are filled only on KURA_DB_OK; *_clear frees what a
 * row owns (and is safe on a zeroed row).
 */
#ifndef KURA_SERVER_STORE_WALLETS_H
#define KURA_SERVER_STORE_WALLETS_H

#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

/* ---- wallets ---- */

typedef struct kura_wallet_row {
    char id[KURA_DB_ID_SIZE];
    char name[40];           /* [a-z0-9-]{1,32} */
    char chain[16];          /* bitcoin | testnet | testnet4 | signet | regtest */
    char *descriptor;        /* owned: canonical multipath descriptor with #checksum */
    char checksum[16];       /* 8 chars */
    char kind[16];           /* wpkh | wsh | tr | sh | pkh */
    int64_t threshold;
    int64_t policy_version;
    int64_t next_receive_index;
    int64_t next_change_index;
    int64_t birth_height;
    int64_t min_confirmations;
    int64_t created_at;
} kura_wallet_row;

void kura_wallet_row_clear(kura_wallet_row *row);

/* Inserts a wallet (next indexes 0). ECONSTRAINT: a wallet of that name exists. */
int kura_store_wallet_insert(kura_db *db, const kura_wallet_row *row, kura_db_error *err);
int kura_store_wallet_get(kura_db *db, const char *id, kura_wallet_row *row, kura_db_error *err);
/* Wallets with id > after (NULL: from the start) in id order, at most limit.
 * *rows is a malloc'd array of *count rows (free each with _clear, then free). */
int kura_store_wallet_list(kura_db *db, const char *after, size_t limit, kura_wallet_row **rows,
                           size_t *count, kura_db_error *err);
/* Sets the version of the policy in force. ENOTFOUND. */
int kura_store_wallet_set_policy_version(kura_db *db, const char *id, int64_t version,
                                         kura_db_error *err);
/* Locks the wallet's row until the transaction ends (PostgreSQL; a no-op
 * UPDATE), so package builds of one wallet serialise. ENOTFOUND. */
int kura_store_wallet_lock(kura_db *db, const char *id, kura_db_error *err);
/* Takes the next index of a branch (0 receive, 1 change) in one statement
 * (UPDATE ... RETURNING): *index gets the index taken. On PostgreSQL the
 * update also locks the wallet row until the transaction ends. ENOTFOUND. */
int kura_store_wallet_take_index(kura_db *db, const char *id, int branch, int64_t *index,
                                 kura_db_error *err);

/* ---- policies ---- */

typedef struct kura_policy_row {
    char wallet_id[KURA_DB_ID_SIZE];
    int64_t version;
    char *text;              /* owned: the exact policy text */
    char *signatures;        /* owned: JSON array of armoured SSHSIG strings */
    int64_t accepted_at;
} kura_policy_row;

void kura_policy_row_clear(kura_policy_row *row);

/* ECONSTRAINT: that version exists. */
int kura_store_policy_insert(kura_db *db, const kura_policy_row *row, kura_db_error *err);
int kura_store_policy_get(kura_db *db, const char *wallet_id, int64_t version, kura_policy_row *row,
                          kura_db_error *err);

/* ---- addresses ---- */

typedef struct kura_address_row {
    char wallet_id[KURA_DB_ID_SIZE];
    int64_t branch;          /* 0 receive, 1 change */
    int64_t idx;
    char address[96];
    char script[96];         /* hex scriptPubKey */
    char account[132];
    char label[260];
    int64_t created_at;
} kura_address_row;

/* ECONSTRAINT: (wallet, branch, idx) or the address exists. */
int kura_store_address_insert(kura_db *db, const kura_address_row *row, kura_db_error *err);
/* The address row of `address` (any wallet). ENOTFOUND. */
int kura_store_address_find(kura_db *db, const char *address, kura_address_row *row,
                            kura_db_error *err);
/* Receive addresses (branch 0) of a wallet with idx > after (-1: from the
 * start), in idx order, for one account (NULL: every account), at most limit.
 * Uses the index (wallet_id, account, idx), or the primary key for all
 * accounts: no scan. *rows malloc'd (free()). */
int kura_store_address_list(kura_db *db, const char *wallet_id, const char *account, int64_t after,
                            size_t limit, kura_address_row **rows, size_t *count,
                            kura_db_error *err);

/* ---- UTXOs ---- */

typedef struct kura_utxo_row {
    char txid[68];           /* display-order hex */
    int64_t vout;
    char wallet_id[KURA_DB_ID_SIZE];
    int64_t amount;
    char script[96];         /* hex */
    int64_t branch;
    int64_t idx;
    char *prev_tx;           /* owned: hex of the whole funding transaction */
    int64_t height;          /* -1: unconfirmed (NULL) */
    char reserved_by[KURA_DB_ID_SIZE]; /* "" when free */
    char spent_txid[68];     /* "" when unspent */
    int64_t created_at;
} kura_utxo_row;

void kura_utxo_row_clear(kura_utxo_row *row);
void kura_utxo_rows_free(kura_utxo_row *rows, size_t count);

/* Inserts a coin, or when (txid, vout) exists updates its height only. */
int kura_store_utxo_upsert(kura_db *db, const kura_utxo_row *row, kura_db_error *err);
int kura_store_utxo_get(kura_db *db, const char *txid, int64_t vout, kura_utxo_row *row,
                        kura_db_error *err);
/* The funding transaction (hex, malloc'd in *prev_tx) of any coin of the
 * wallet with this txid. ENOTFOUND. */
int kura_store_utxo_prev_tx(kura_db *db, const char *wallet_id, const char *txid, char **prev_tx,
                            kura_db_error *err);
/* The wallet's coins neither reserved nor spent, in (txid, vout) order, with
 * height NULL counted as unconfirmed. *rows malloc'd (kura_utxo_rows_free). */
int kura_store_utxo_available(kura_db *db, const char *wallet_id, kura_utxo_row **rows,
                              size_t *count, kura_db_error *err);
/* Reserves a coin for a transfer if it is free and unspent; ECONFLICT when not. */
int kura_store_utxo_reserve(kura_db *db, const char *txid, int64_t vout, const char *transfer_id,
                            kura_db_error *err);
/* Frees every coin reserved by the transfer (not spent ones). */
int kura_store_utxo_release(kura_db *db, const char *transfer_id, kura_db_error *err);

#endif /* KURA_SERVER_STORE_WALLETS_H */
