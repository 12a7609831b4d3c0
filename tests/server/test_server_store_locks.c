/*
 * tests/server/test_server_store_locks.c — another process opening the
 * SQLite database while kura-server runs (`kura-server audit verify`, a
 * backup, the sqlite3 shell) must not take kura-server's writes away.
 *
 * SQLite's locks are POSIX advisory locks, which belong to the process and
 * are ALL dropped when the process closes ANY descriptor of the file. When
 * opening a connection opened and closed its own descriptor of the database
 * file (to create it 0600) while another connection of the same process was
 * open, that connection's shared lock was gone; a second process closing its
 * connection then took the exclusive lock, believed itself the last user,
 * checkpointed and deleted the WAL — and every later commit of the server
 * went into the deleted WAL file: acknowledged, invisible to everyone else,
 * and lost when the server died (found by test_server_durability.py: the
 * transfers acknowledged after each `kura-server audit verify` vanished at the
 * next SIGKILL).
 *
 * Here: two connections in this process (the second opened while the first
 * is in use), then a child process opens and closes the database, then the
 * first connection commits a row, then another child must see the row and
 * the WAL file must still be there. SQLite only (PostgreSQL: skipped).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "server_testutil.h"
#include "store/db.h"

/* The other process (this program run again as "count PATH": a new process
 * image, since SQLite's state must not cross a fork): opens the database,
 * counts the rows of t, closes. Exits with the count (at most 100), 255 on
 * error. */
static int count_main(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int n = 255;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int(st, 0);
        if (n > 100)
            n = 100;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static int child_count(const char *path)
{
    pid_t pid = fork();
    int status = 0;
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/proc/self/exe", "test_server_store_locks", "count", path, (char *)NULL);
        _exit(254);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void exec_ok(kura_db *db, const char *sql)
{
    kura_db_error err = {0};
    if (kura_db_exec(db, NULL, sql, NULL, 0, &err) != KURA_DB_OK)
        fail_msg("%s: %s", sql, err.message);
}

static void test_other_process_keeps_our_wal(void **state)
{
    char *url = kura_test_db_url();
    const char *path = url + strlen("sqlite:");
    char wal[512];
    kura_db *a = NULL, *b = NULL;
    kura_db_error err = {0};
    struct stat sb;
    (void)state;
    if (kura_test_db_is_postgres()) {
        free(url);
        skip();
    }
    snprintf(wal, sizeof wal, "%s-wal", path);

    assert_int_equal(kura_db_open(&a, url, &err), KURA_DB_OK);
    exec_ok(a, "CREATE TABLE t (v TEXT NOT NULL)");
    exec_ok(a, "INSERT INTO t (v) VALUES ('one')");
    /* The pool grows while a is open (and holds its locks). */
    assert_int_equal(kura_db_open(&b, url, &err), KURA_DB_OK);
    exec_ok(b, "INSERT INTO t (v) VALUES ('two')");
    assert_int_equal(stat(wal, &sb), 0);

    /* Another process comes and goes (kura-server audit verify). */
    assert_int_equal(child_count(path), 2);
    assert_int_equal(stat(wal, &sb), 0); /* not deleted under us */

    /* Our next commits reach the database everyone sees. */
    assert_int_equal(kura_db_begin(a, 1, &err), KURA_DB_OK);
    exec_ok(a, "INSERT INTO t (v) VALUES ('three')");
    assert_int_equal(kura_db_commit(a, &err), KURA_DB_OK);
    exec_ok(b, "INSERT INTO t (v) VALUES ('four')");
    assert_int_equal(child_count(path), 4);

    kura_db_close(b);
    kura_db_close(a);
    assert_int_equal(child_count(path), 4);
    free(url);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "count") == 0)
        return count_main(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_other_process_keeps_our_wal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
