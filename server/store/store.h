/*
 * server/store/store.h — kura-server's storage: a pool of database
 * connections (db.h), the schema's migrations, and transactions.
 *
 * Every change the server makes goes through kura_store_write: the caller's
 * function runs inside one database transaction and either all of its writes
 * (the state change, its audit row, its webhook event) commit together or
 * none do. A write is acknowledged (kura_store_write returns KURA_DB_OK) only
 * after the commit is durable.
 *
 * The typed queries (users, wallets, transfers, ...) live beside this file,
 * one file per area (store_<area>.c, declared in store_<area>.h), each taking
 * the kura_db handle of the transaction it runs in. Domain code calls those;
 * it never writes SQL.
 */
#ifndef KURA_SERVER_STORE_H
#define KURA_SERVER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

typedef struct kura_store kura_store;

/* Opens the store at `url` (see kura_db_open) with up to `pool_size`
 * connections (0: a default of 16), and brings the schema up to date:
 * migrations this binary knows and the database lacks are applied in order,
 * each in its own transaction. A database whose schema is newer than the
 * binary is refused (KURA_DB_ESCHEMA), and so is one whose applied
 * migrations differ from this binary's (a checksum mismatch).
 * Returns KURA_DB_OK and *out, or a KURA_DB_* code with err saying why;
 * *out is NULL on failure. */
int kura_store_open(kura_store **out, const char *url, size_t pool_size, kura_db_error *err);

/* Closes every connection. NULL is a no-op. Callers stop using the store first. */
void kura_store_close(kura_store *store);

kura_db_kind kura_store_kind(const kura_store *store);

/* The schema version the database is at, and the newest this binary knows. */
int kura_store_schema_version(kura_store *store, int64_t *version, kura_db_error *err);
int64_t kura_store_schema_latest(void);

/* A unit of work inside one transaction. It returns KURA_DB_OK to commit, or
 * any other value to roll back (that value is then what kura_store_write
 * returns; codes above 0 are the caller's own and pass through unchanged, so
 * domain code can return its own refusals). It may run more than once (the
 * store retries a transaction that met KURA_DB_EBUSY), so it must not have
 * effects outside the database, and must reset anything it fills in `arg`. */
typedef int (*kura_store_fn)(kura_db *db, void *arg, kura_db_error *err);

/* Runs fn in a write transaction and commits it durably. Retries on
 * KURA_DB_EBUSY a bounded number of times with back-off.
 * Returns KURA_DB_OK after a durable commit; fn's own non-zero value after a
 * rollback; a KURA_DB_* code when the database fails (err says why). */
int kura_store_write(kura_store *store, kura_store_fn fn, void *arg, kura_db_error *err);

/* Runs fn in a read transaction (a consistent snapshot on PostgreSQL and SQLite). */
int kura_store_read(kura_store *store, kura_store_fn fn, void *arg, kura_db_error *err);

/* Counters for /metrics. */
typedef struct kura_store_stats {
    uint64_t commits;      /* write transactions committed */
    uint64_t rollbacks;    /* write transactions rolled back by their function */
    uint64_t retries;      /* retries after KURA_DB_EBUSY */
    uint64_t failures;     /* database failures */
} kura_store_stats;
void kura_store_get_stats(kura_store *store, kura_store_stats *out);

#endif /* KURA_SERVER_STORE_H */
