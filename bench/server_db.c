/*
 * bench/server_db.c — kura-bench-server-db: the database floor of
 * kura-server's speed (bench/README.md, "server-db").
 *
 *   kura-bench-server-db floor URL SECONDS
 *       The raw durable commit rate: one row per transaction, in a plain C
 *       loop straight on the database's own API (no kura code): SQLite with
 *       journal_mode=WAL and synchronous=FULL (BEGIN IMMEDIATE; INSERT;
 *       COMMIT), PostgreSQL through libpq with its default synchronous_commit
 *       (one INSERT, which commits by itself). No server can acknowledge
 *       durable transactions one at a time faster than this.
 *   kura-bench-server-db store URL THREADS SECONDS [no-group]
 *       The same one-row write through kura_store_write from THREADS threads
 *       at once (SQLite: group commit unless no-group), every write
 *       acknowledged after a durable COMMIT: how far group commit takes the
 *       store past the floor.
 *
 * URL: sqlite:PATH or postgres:CONNINFO (as kura_db_open). Prints one line:
 *   <label>  <count> in <seconds> s  =  <rate>/s  [extra]
 * and, with KURA_BENCH_JSON set, a JSON object instead.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "store/store.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const char *label, long count, double secs, const char *extra)
{
    if (getenv("KURA_BENCH_JSON"))
        printf("{\"label\": \"%s\", \"count\": %ld, \"seconds\": %.3f, \"per_second\": %.1f%s%s}\n",
               label, count, secs, (double)count / secs, extra ? ", " : "", extra ? extra : "");
    else
        printf("  %-52s %7ld in %5.2f s = %8.1f/s%s%s\n", label, count, secs, (double)count / secs,
               extra ? "  " : "", extra ? extra : "");
}

static int die(const char *what, const char *why)
{
    fprintf(stderr, "kura-bench-server-db: %s: %s\n", what, why);
    return 1;
}

/* ---- the floors ---- */

static int floor_sqlite(const char *path, double seconds)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *begin = NULL, *ins = NULL, *commit = NULL;
    long n = 0;
    double t0, t;
    remove(path);
    if (sqlite3_open(path, &db) != SQLITE_OK)
        return die("sqlite", sqlite3_errmsg(db));
    if (sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "CREATE TABLE floor (id INTEGER PRIMARY KEY, v TEXT NOT NULL)",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO floor (v) VALUES ('a transfer row, about this long')",
                           -1, &ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL) != SQLITE_OK)
        return die("sqlite", sqlite3_errmsg(db));
    t0 = now_s();
    do {
        if (sqlite3_step(begin) != SQLITE_DONE || sqlite3_step(ins) != SQLITE_DONE ||
            sqlite3_step(commit) != SQLITE_DONE)
            return die("sqlite", sqlite3_errmsg(db));
        sqlite3_reset(begin);
        sqlite3_reset(ins);
        sqlite3_reset(commit);
        n++;
    } while ((t = now_s()) - t0 < seconds);
    report("SQLite floor: 1 row per COMMIT (WAL, synchronous=FULL)", n, t - t0, NULL);
    sqlite3_finalize(begin);
    sqlite3_finalize(ins);
    sqlite3_finalize(commit);
    sqlite3_close(db);
    return 0;
}

static int floor_postgres(const char *conninfo, double seconds)
{
    PGconn *c = PQconnectdb(conninfo);
    PGresult *r;
    long n = 0;
    double t0, t;
    char sync[64] = "?", extra[96];
    if (PQstatus(c) != CONNECTION_OK)
        return die("postgres", PQerrorMessage(c));
    r = PQexec(c, "DROP TABLE IF EXISTS floor; CREATE TABLE floor (id BIGSERIAL PRIMARY KEY, v TEXT NOT NULL)");
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return die("postgres", PQerrorMessage(c));
    PQclear(r);
    r = PQexec(c, "SHOW synchronous_commit");
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        snprintf(sync, sizeof sync, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    r = PQprepare(c, "ins", "INSERT INTO floor (v) VALUES ('a transfer row, about this long')", 0, NULL);
    PQclear(r);
    t0 = now_s();
    do {
        r = PQexecPrepared(c, "ins", 0, NULL, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            return die("postgres", PQerrorMessage(c));
        PQclear(r);
        n++;
    } while ((t = now_s()) - t0 < seconds);
    snprintf(extra, sizeof extra, "(synchronous_commit=%s)", sync);
    report("PostgreSQL floor: 1 row per COMMIT", n, t - t0, getenv("KURA_BENCH_JSON") ? NULL : extra);
    PQfinish(c);
    return 0;
}

/* ---- through the store ---- */

typedef struct shared {
    kura_store *st;
    double until;
    atomic_long writes;
    atomic_long errors;
} shared;

static int insert_fn(kura_db *db, void *arg, kura_db_error *err)
{
    char id[KURA_DB_ID_SIZE];
    (void)arg;
    kura_db_new_id(id, "b");
    return kura_db_exec(db, NULL, "INSERT INTO bench_rows (id, v) VALUES ($1, $2)",
                        (kura_db_param[]){KURA_DB_TEXT(id), KURA_DB_TEXT("a transfer row, about this long")},
                        2, err);
}

static int table_fn(kura_db *db, void *arg, kura_db_error *err)
{
    (void)arg;
    return kura_db_exec_script(db, "CREATE TABLE IF NOT EXISTS bench_rows (id TEXT PRIMARY KEY, v TEXT NOT NULL)",
                               err);
}

static void *store_worker(void *arg)
{
    shared *s = arg;
    while (now_s() < s->until) {
        kura_db_error err = {0};
        if (kura_store_write(s->st, insert_fn, NULL, &err) == KURA_DB_OK)
            atomic_fetch_add(&s->writes, 1);
        else
            atomic_fetch_add(&s->errors, 1);
    }
    return NULL;
}

static int store_run(const char *url, int threads, double seconds, int no_group)
{
    kura_store_options opts = {0};
    kura_db_error err = {0};
    kura_store_stats stats;
    pthread_t tid[256];
    shared s;
    double t0, t1;
    char label[96], extra[160];
    if (threads < 1 || threads > 256)
        return die("store", "THREADS must be 1..256");
    if (strncmp(url, "sqlite:", 7) == 0)
        remove(url + 7);
    opts.pool_size = (size_t)threads;
    opts.no_group_commit = no_group;
    memset(&s, 0, sizeof s);
    if (kura_store_open_options(&s.st, url, &opts, &err) != KURA_DB_OK ||
        kura_store_write(s.st, table_fn, NULL, &err) != KURA_DB_OK)
        return die("store", err.message);
    t0 = now_s();
    s.until = t0 + seconds;
    for (int i = 0; i < threads; i++)
        pthread_create(&tid[i], NULL, store_worker, &s);
    for (int i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    t1 = now_s();
    kura_store_get_stats(s.st, &stats);
    snprintf(label, sizeof label, "%s kura_store_write, %d threads%s",
             kura_store_kind(s.st) == KURA_DB_SQLITE ? "SQLite" : "PostgreSQL", threads,
             kura_store_kind(s.st) == KURA_DB_SQLITE ? (no_group ? ", no group commit" : ", group commit")
                                                     : "");
    if (getenv("KURA_BENCH_JSON"))
        snprintf(extra, sizeof extra, "\"commits\": %llu, \"errors\": %ld",
                 (unsigned long long)(stats.group_commits ? stats.group_commits : stats.commits),
                 atomic_load(&s.errors));
    else
        snprintf(extra, sizeof extra, "(%.1f writes per COMMIT%s)",
                 stats.group_commits ? (double)atomic_load(&s.writes) / (double)stats.group_commits : 1.0,
                 atomic_load(&s.errors) ? ", ERRORS" : "");
    report(label, atomic_load(&s.writes), t1 - t0, extra);
    kura_store_close(s.st);
    return atomic_load(&s.errors) ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "floor") == 0) {
        double secs = atof(argv[3]);
        if (strncmp(argv[2], "sqlite:", 7) == 0)
            return floor_sqlite(argv[2] + 7, secs);
        if (strncmp(argv[2], "postgres:", 9) == 0)
            return floor_postgres(argv[2] + 9, secs);
        return die("floor", "URL must be sqlite:PATH or postgres:CONNINFO");
    }
    if (argc >= 5 && strcmp(argv[1], "store") == 0)
        return store_run(argv[2], atoi(argv[3]), atof(argv[4]),
                         argc >= 6 && strcmp(argv[5], "no-group") == 0);
    fprintf(stderr, "usage: kura-bench-server-db floor URL SECONDS\n"
                    "       kura-bench-server-db store URL THREADS SECONDS [no-group]\n");
    return 2;
}
