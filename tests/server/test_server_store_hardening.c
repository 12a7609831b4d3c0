/*
 * tests/server/test_server_store_hardening.c — the store under load and
 * trouble, on both backends: group commit (many threads; a failing function
 * in a batch leaves the others alone; every acknowledged row is there after
 * reopening), nested writes refused, servers starting at once, the
 * prepared-statement cache (eviction, schema changes), private files
 * (SQLite), a lost connection replaced (PostgreSQL).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "server_testutil.h"
#include "store/store.h"

static int make_table(kura_db *db, void *arg, kura_db_error *err)
{
    (void)arg;
    return kura_db_exec(db, NULL,
                        "CREATE TABLE IF NOT EXISTS gc_test (id TEXT PRIMARY KEY, n BIGINT NOT NULL)",
                        NULL, 0, err);
}

static int64_t count_where(kura_store *st, const char *sql);

typedef struct count_arg {
    const char *sql;
    int64_t n;
} count_arg;

static int count_fn(kura_db *db, void *varg, kura_db_error *err)
{
    count_arg *a = varg;
    kura_db_result *res = NULL;
    int rc = kura_db_exec(db, &res, a->sql, NULL, 0, err);
    if (rc == KURA_DB_OK)
        rc = kura_db_result_int(&a->n, res, 0, 0);
    kura_db_result_free(res);
    return rc;
}

static int64_t count_where(kura_store *st, const char *sql)
{
    count_arg a = {sql, -1};
    kura_db_error err = {0};
    assert_int_equal(kura_store_read(st, count_fn, &a, &err), KURA_DB_OK);
    return a.n;
}

/* ---- group commit ---- */

typedef struct writer {
    kura_store *st;
    int thread;
    int writes;
    int ok, refused, dup;   /* outcomes seen */
} writer;

typedef struct insert_arg {
    const char *id;
    int64_t n;
    int outcome;            /* 0 commit, 42 roll back after inserting, 1 duplicate key */
} insert_arg;

static int insert_fn(kura_db *db, void *varg, kura_db_error *err)
{
    insert_arg *a = varg;
    int rc = kura_db_exec(db, NULL, "INSERT INTO gc_test (id, n) VALUES ($1, $2)",
                          (kura_db_param[]){KURA_DB_TEXT(a->id), KURA_DB_INT(a->n)}, 2, err);
    if (rc == KURA_DB_OK && a->outcome == 1)
        /* The same key again: a constraint error inside the batch. */
        rc = kura_db_exec(db, NULL, "INSERT INTO gc_test (id, n) VALUES ($1, $2)",
                          (kura_db_param[]){KURA_DB_TEXT(a->id), KURA_DB_INT(a->n)}, 2, err);
    if (rc != KURA_DB_OK)
        return rc;
    return a->outcome == 42 ? 42 : KURA_DB_OK;
}

static void *writer_main(void *varg)
{
    writer *w = varg;
    for (int i = 0; i < w->writes; i++) {
        char id[64];
        kura_db_error err = {0};
        insert_arg a;
        int rc;
        snprintf(id, sizeof id, "t%d-%d", w->thread, i);
        a.id = id;
        a.n = i;
        a.outcome = (i % 7 == 3) ? 42 : (i % 11 == 5) ? 1 : 0;
        rc = kura_store_write(w->st, insert_fn, &a, &err);
        if (a.outcome == 0 && rc == KURA_DB_OK)
            w->ok++;
        else if (a.outcome == 42 && rc == 42)
            w->refused++;
        else if (a.outcome == 1 && rc == KURA_DB_ECONSTRAINT)
            w->dup++;
        else
            fprintf(stderr, "unexpected: outcome %d rc %d (%s)\n", a.outcome, rc, err.message);
    }
    return NULL;
}

static void run_writers(kura_store *st, int threads, int writes, int *ok_total)
{
    pthread_t tid[16];
    writer w[16];
    int expect_ok = 0, expect_refused = 0, expect_dup = 0, ok = 0, refused = 0, dup = 0;
    assert_true(threads <= 16);
    for (int t = 0; t < threads; t++) {
        w[t] = (writer){st, t, writes, 0, 0, 0};
        assert_int_equal(pthread_create(&tid[t], NULL, writer_main, &w[t]), 0);
    }
    for (int t = 0; t < threads; t++) {
        pthread_join(tid[t], NULL);
        ok += w[t].ok;
        refused += w[t].refused;
        dup += w[t].dup;
    }
    for (int i = 0; i < writes; i++) {
        int outcome = (i % 7 == 3) ? 42 : (i % 11 == 5) ? 1 : 0;
        expect_ok += outcome == 0;
        expect_refused += outcome == 42;
        expect_dup += outcome == 1;
    }
    assert_int_equal(ok, expect_ok * threads);
    assert_int_equal(refused, expect_refused * threads);
    assert_int_equal(dup, expect_dup * threads);
    *ok_total = ok;
}

static void test_group_commit_many_threads(void **state)
{
    (void)state;
    char *url = kura_test_db_url();
    kura_store *st = NULL;
    kura_db_error err = {0};
    kura_store_stats stats;
    int ok = 0;
    assert_int_equal(kura_store_open(&st, url, 8, &err), KURA_DB_OK);
    assert_int_equal(kura_store_write(st, make_table, NULL, &err), KURA_DB_OK);
    run_writers(st, 8, 150, &ok);
    /* Exactly the acknowledged rows: none of the rolled-back ones, none lost. */
    assert_int_equal(count_where(st, "SELECT COUNT(*) FROM gc_test"), ok);
    assert_int_equal(count_where(st, "SELECT COUNT(*) FROM gc_test WHERE n % 7 = 3"), 0);
    assert_int_equal(count_where(st, "SELECT COUNT(*) FROM gc_test WHERE n % 11 = 5"), 0);
    kura_store_get_stats(st, &stats);
    if (!kura_test_db_is_postgres()) {
        /* Writers did share COMMITs. */
        assert_true(stats.group_commits > 0);
        assert_true(stats.group_commits < stats.commits);
    } else {
        assert_int_equal(stats.group_commits, 0);
    }
    kura_store_close(st);

    /* Durable: all there after reopening. */
    st = NULL;
    assert_int_equal(kura_store_open(&st, url, 2, &err), KURA_DB_OK);
    assert_int_equal(count_where(st, "SELECT COUNT(*) FROM gc_test"), ok);
    kura_store_close(st);
    free(url);
}

static void test_group_commit_off(void **state)
{
    (void)state;
    char *url = kura_test_db_url();
    kura_store *st = NULL;
    kura_db_error err = {0};
    kura_store_options opts = {0};
    kura_store_stats stats;
    int ok = 0;
    opts.pool_size = 4;
    opts.no_group_commit = 1;
    assert_int_equal(kura_store_open_options(&st, url, &opts, &err), KURA_DB_OK);
    assert_int_equal(kura_store_write(st, make_table, NULL, &err), KURA_DB_OK);
    run_writers(st, 3, 40, &ok);
    assert_int_equal(count_where(st, "SELECT COUNT(*) FROM gc_test"), ok);
    kura_store_get_stats(st, &stats);
    assert_int_equal(stats.group_commits, 0);
    kura_store_close(st);
    free(url);
}

/* A batch of exactly one leader and queued followers, with group_max 2:
 * functions still all run, in batches of at most 2. */
static void test_group_commit_small_batches(void **state)
{
    (void)state;
    char *url = kura_test_db_url();
    kura_store *st = NULL;
    kura_db_error err = {0};
    kura_store_options opts = {0};
    int ok = 0;
    opts.pool_size = 4;
    opts.group_max = 2;
    assert_int_equal(kura_store_open_options(&st, url, &opts, &err), KURA_DB_OK);
    assert_int_equal(kura_store_write(st, make_table, NULL, &err), KURA_DB_OK);
    run_writers(st, 6, 40, &ok);
    assert_int_equal(count_where(st, "SELECT COUNT(*) FROM gc_test"), ok);
    kura_store_close(st);
    free(url);
}

static int nested_fn(kura_db *db, void *varg, kura_db_error *err)
{
    kura_store *st = varg;
    kura_db_error inner = {0};
    (void)db;
    (void)err;
    return kura_store_write(st, make_table, NULL, &inner) == KURA_DB_EINVAL ? 7 : 8;
}

static void test_nested_write_refused(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    kura_db_error err = {0};
    assert_int_equal(kura_store_write(st, nested_fn, st, &err), 7);
    kura_store_close(st);
}

/* ---- starting at once ---- */

typedef struct opener {
    const char *url;
    int rc;
    char message[KURA_DB_MESSAGE_MAX];
} opener;

static void *opener_main(void *varg)
{
    opener *o = varg;
    kura_store *st = NULL;
    kura_db_error err = {0};
    o->rc = kura_store_open(&st, o->url, 2, &err);
    snprintf(o->message, sizeof o->message, "%s", err.message);
    kura_store_close(st);
    return NULL;
}

static void test_servers_start_at_once(void **state)
{
    (void)state;
    char *url = kura_test_db_url();
    pthread_t tid[4];
    opener o[4];
    kura_store *st = NULL;
    kura_db_error err = {0};
    int64_t v = 0;
    for (int i = 0; i < 4; i++) {
        o[i] = (opener){url, -100, ""};
        assert_int_equal(pthread_create(&tid[i], NULL, opener_main, &o[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(tid[i], NULL);
        if (o[i].rc != KURA_DB_OK)
            fail_msg("store %d: %s: %s", i, kura_db_status_name(o[i].rc), o[i].message);
    }
    assert_int_equal(kura_store_open(&st, url, 2, &err), KURA_DB_OK);
    assert_int_equal(kura_store_schema_version(st, &v, &err), KURA_DB_OK);
    assert_int_equal(v, kura_store_schema_latest());
    /* Each migration applied once. */
    assert_int_equal(count_where(st, "SELECT COUNT(*) FROM schema_migrations"),
                     kura_store_schema_latest());
    kura_store_close(st);
    free(url);
}

/* ---- the statement cache ---- */

static int many_statements_fn(kura_db *db, void *arg, kura_db_error *err)
{
    (void)arg;
    /* More distinct statements than the cache holds, each run twice. */
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 700; i++) {
            char sql[64];
            kura_db_result *res = NULL;
            int64_t v = 0;
            int rc;
            snprintf(sql, sizeof sql, "SELECT $1 + %d", i);
            rc = kura_db_exec(db, &res, sql, (kura_db_param[]){KURA_DB_INT(round * 1000)}, 1, err);
            if (rc != KURA_DB_OK)
                return rc;
            assert_int_equal(kura_db_result_int(&v, res, 0, 0), KURA_DB_OK);
            assert_int_equal(v, round * 1000 + i);
            kura_db_result_free(res);
        }
    return KURA_DB_OK;
}

static int schema_a_fn(kura_db *db, void *arg, kura_db_error *err)
{
    (void)arg;
    int rc = kura_db_exec_script(db, "CREATE TABLE cache_t (a TEXT); INSERT INTO cache_t VALUES ('one')",
                                 err);
    kura_db_result *res = NULL;
    if (rc == KURA_DB_OK)
        rc = kura_db_exec(db, &res, "SELECT * FROM cache_t", NULL, 0, err);
    if (rc == KURA_DB_OK) {
        assert_int_equal(kura_db_result_columns(res), 1);
        assert_string_equal(kura_db_result_text(res, 0, 0), "one");
    }
    kura_db_result_free(res);
    return rc;
}

static int schema_b_fn(kura_db *db, void *arg, kura_db_error *err)
{
    (void)arg;
    int rc = kura_db_exec_script(
        db, "DROP TABLE cache_t; CREATE TABLE cache_t (a TEXT, b TEXT); INSERT INTO cache_t VALUES ('x', 'y')",
        err);
    kura_db_result *res = NULL;
    /* The same SQL text as before, over another table: re-prepared, not stale. */
    if (rc == KURA_DB_OK)
        rc = kura_db_exec(db, &res, "SELECT * FROM cache_t", NULL, 0, err);
    if (rc == KURA_DB_OK) {
        assert_int_equal(kura_db_result_columns(res), 2);
        assert_string_equal(kura_db_result_text(res, 0, 1), "y");
    }
    kura_db_result_free(res);
    return rc;
}

static void test_statement_cache(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    kura_db_error err = {0};
    assert_int_equal(kura_store_read(st, many_statements_fn, NULL, &err), KURA_DB_OK);
    assert_int_equal(kura_store_write(st, schema_a_fn, NULL, &err), KURA_DB_OK);
    assert_int_equal(kura_store_write(st, schema_b_fn, NULL, &err), KURA_DB_OK);
    kura_store_close(st);
}

/* ---- files (SQLite) ---- */

static void test_sqlite_files_private(void **state)
{
    (void)state;
    char dir[] = "/tmp/kura-test-files.XXXXXX", path[256], url[300];
    struct stat sb;
    kura_store *st = NULL;
    kura_db_error err = {0};
    if (kura_test_db_is_postgres())
        skip();
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/data/kura.db", dir);
    snprintf(url, sizeof url, "sqlite:%s", path);
    assert_int_equal(kura_store_open(&st, url, 2, &err), KURA_DB_OK);
    assert_int_equal(kura_store_write(st, make_table, NULL, &err), KURA_DB_OK);
    snprintf(path, sizeof path, "%s/data", dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    snprintf(path, sizeof path, "%s/data/kura.db", dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/data/kura.db-wal", dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0077, 0);
    kura_store_close(st);

    /* A database file made readable by others is narrowed again on open. */
    snprintf(path, sizeof path, "%s/data/kura.db", dir);
    assert_int_equal(chmod(path, 0644), 0);
    st = NULL;
    assert_int_equal(kura_store_open(&st, url, 2, &err), KURA_DB_OK);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    kura_store_close(st);
}

/* POSIX locks belong to the process and one close() of any descriptor of
 * the file drops them all: opening another connection of the pool must not
 * open and close the database file, or the locks of the connections already
 * open vanish and another process takes the database as unlocked (it then
 * read a stale snapshot here: acknowledged writes invisible to audit verify).
 * Held against /proc/locks: this process's locks on the database file survive
 * a second connection's open. */
static size_t process_locks_on(const char *path)
{
    struct stat sb;
    char line[512];
    size_t n = 0;
    FILE *f;
    if (stat(path, &sb) != 0 || !(f = fopen("/proc/locks", "r")))
        return 0;
    while (fgets(line, sizeof line, f)) {
        long pid = 0;
        unsigned maj = 0, min = 0;
        unsigned long long ino = 0;
        char *p = strstr(line, "ADVISORY");
        if (!p || sscanf(p, "ADVISORY %*s %ld %x:%x:%llu", &pid, &maj, &min, &ino) != 4)
            continue;
        if (pid == (long)getpid() && ino == (unsigned long long)sb.st_ino)
            n++;
    }
    fclose(f);
    return n;
}

static void test_sqlite_open_keeps_locks(void **state)
{
    (void)state;
    char dir[] = "/tmp/kura-test-locks.XXXXXX", path[256], url[300];
    kura_db *a = NULL, *b = NULL;
    kura_db_result *res = NULL;
    kura_db_error err = {0};
    size_t before, after;
    if (kura_test_db_is_postgres())
        skip();
    if (access("/proc/locks", R_OK) != 0)
        skip();
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/kura.db", dir);
    snprintf(url, sizeof url, "sqlite:%s", path);
    assert_int_equal(kura_db_open(&a, url, &err), KURA_DB_OK);
    /* A read transaction: a WAL reader holds its locks until it ends. */
    assert_int_equal(kura_db_exec_script(a, "CREATE TABLE t (x BIGINT)", &err), KURA_DB_OK);
    assert_int_equal(kura_db_begin(a, 0, &err), KURA_DB_OK);
    assert_int_equal(kura_db_exec(a, &res, "SELECT COUNT(*) FROM t", NULL, 0, &err), KURA_DB_OK);
    kura_db_result_free(res);
    before = process_locks_on(path);
    assert_true(before > 0);
    assert_int_equal(kura_db_open(&b, url, &err), KURA_DB_OK);
    after = process_locks_on(path);
    assert_true(after >= before);
    kura_db_rollback(a, NULL);
    kura_db_close(b);
    kura_db_close(a);
}

/* ---- a lost connection (PostgreSQL) ---- */

static void test_postgres_reconnects(void **state)
{
    (void)state;
    char *url;
    kura_store *st = NULL;
    kura_db *admin = NULL;
    kura_db_error err = {0};
    kura_db_result *res = NULL;
    kura_store_stats stats;
    if (!kura_test_db_is_postgres())
        skip();
    url = kura_test_db_url();
    assert_int_equal(kura_store_open(&st, url, 3, &err), KURA_DB_OK);
    assert_int_equal(kura_store_write(st, make_table, NULL, &err), KURA_DB_OK);
    /* The server drops every connection of the store (as a restart does). */
    assert_int_equal(kura_db_open(&admin, url, &err), KURA_DB_OK);
    assert_int_equal(kura_db_exec(admin, &res,
                                  "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE pid <> pg_backend_pid() AND datname = current_database()",
                                  NULL, 0, &err),
                     KURA_DB_OK);
    assert_true(kura_db_result_rows(res) >= 1);
    kura_db_result_free(res);
    kura_db_close(admin);
    /* The next write finds its connection dead before running, and runs on a new one. */
    insert_arg a = {"after-restart", 1, 0};
    assert_int_equal(kura_store_write(st, insert_fn, &a, &err), KURA_DB_OK);
    assert_int_equal(count_where(st, "SELECT COUNT(*) FROM gc_test"), 1);
    kura_store_get_stats(st, &stats);
    assert_true(stats.reconnects >= 1);
    kura_store_close(st);
    free(url);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_commit_many_threads),
        cmocka_unit_test(test_group_commit_off),
        cmocka_unit_test(test_group_commit_small_batches),
        cmocka_unit_test(test_nested_write_refused),
        cmocka_unit_test(test_servers_start_at_once),
        cmocka_unit_test(test_statement_cache),
        cmocka_unit_test(test_sqlite_files_private),
        cmocka_unit_test(test_sqlite_open_keeps_locks),
        cmocka_unit_test(test_postgres_reconnects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
