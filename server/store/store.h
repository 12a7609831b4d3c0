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

/* How a store runs; zero-initialised means the defaults. */
typedef struct kura_store_options {
    size_t pool_size;     /* connections, 0: 16 */
    int no_group_commit;  /* 1: on SQLite, every kura_store_write commits alone */
    size_t group_max;     /* most writes acknowledged by one COMMIT, 0: 128 */
} kura_store_options;

/* As kura_store_open, with options (opts NULL: the defaults).
 *
 * Group commit (SQLite, on by default): SQLite has one writer at a time, and
 * each durable COMMIT waits for an fsync of the WAL, so writes in separate
 * transactions go no faster than the disk syncs. With group commit, the
 * kura_store_write calls that arrive while a COMMIT is in progress queue up;
 * the next one to run takes the whole queue and runs every caller's function
 * in one BEGIN IMMEDIATE ... COMMIT, each inside its own SAVEPOINT: a function
 * that returns non-zero rolls back only its own savepoint (and gets its code
 * back), the others commit. Every caller returns only after that one durable
 * COMMIT, so the contract of kura_store_write is unchanged: an acknowledged
 * write is durable, fn may run more than once (a failed COMMIT re-runs the
 * whole batch). What differs: fn may run on another caller's thread (use
 * `arg`, not thread-local state), it sees the uncommitted writes of the
 * batch's earlier functions (as if they had committed just before), and it
 * must not call kura_store_write itself (refused with KURA_DB_EINVAL).
 * PostgreSQL commits concurrent transactions in parallel and groups their WAL
 * flushes itself: there every write is its own transaction. */
int kura_store_open_options(kura_store **out, const char *url, const kura_store_options *opts,
                            kura_db_error *err);

/* Closes every connection. NULL is a no-op. Callers stop using the store first. */
void kura_store_close(kura_store *store);

kura_db_kind kura_store_kind(const kura_store *store);

/* Opens one more connection to the store's database, outside the pool, for
 * a caller that needs a session of its own (leader.h: the session holds the
 * leader's lock). The caller closes it with kura_db_close. Returns as
 * kura_db_open. */
int kura_store_connect(kura_store *store, kura_db **out, kura_db_error *err);

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

/* Runs fn in a write transaction and commits it durably (with group commit,
 * see kura_store_open_options). Retries on KURA_DB_EBUSY a bounded number of
 * times with back-off. A connection found lost (PostgreSQL restarted) before
 * fn ran is replaced and the transaction started again on a new one.
 * Returns KURA_DB_OK after a durable commit; fn's own non-zero value after a
 * rollback; a KURA_DB_* code when the database fails (err says why). */
int kura_store_write(kura_store *store, kura_store_fn fn, void *arg, kura_db_error *err);

/* Runs fn in a read transaction (a consistent snapshot on PostgreSQL and SQLite). */
int kura_store_read(kura_store *store, kura_store_fn fn, void *arg, kura_db_error *err);

/* The commit latency histogram's bucket upper bounds, microseconds. */
#define KURA_STORE_COMMIT_BUCKETS 10
extern const int64_t kura_store_commit_bucket_us[KURA_STORE_COMMIT_BUCKETS];

/* Counters for /metrics. */
typedef struct kura_store_stats {
    uint64_t commits;      /* write transactions committed */
    uint64_t rollbacks;    /* write transactions rolled back by their function */
    uint64_t retries;      /* retries after KURA_DB_EBUSY */
    uint64_t failures;     /* database failures */
    uint64_t group_commits; /* COMMITs made for a batch of writes (SQLite group commit) */
    uint64_t reconnects;   /* connections found lost and replaced */
    /* How long write COMMITs took (the durable flush): a histogram, counts
     * per bucket (not cumulative; the last is over the largest bound). */
    uint64_t commit_buckets[KURA_STORE_COMMIT_BUCKETS + 1];
    uint64_t commit_sum_us;
    uint64_t commit_count;
} kura_store_stats;
void kura_store_get_stats(kura_store *store, kura_store_stats *out);

#endif /* KURA_SERVER_STORE_H */
