/*
 * tests/server/test_server_store_crash.c — acknowledged means durable, and a
 * transaction is all or nothing, when the writer dies: a child process
 * writes in a loop from several threads (group commit on SQLite), each
 * transaction two rows, and tells the parent each id kura_store_write
 * acknowledged (one line on a pipe, written after the call returned). The
 * parent SIGKILLs it at a random moment (a quarter of the time early, while
 * it starts; the rest once writes flow), 60 times, then opens the database
 * and checks that every acknowledged id has both its rows, and that no id has
 * only one.
 *
 * (SIGKILL loses no page cache, so this proves the order "commit, then
 * acknowledge" and atomicity, not the fsync itself; synchronous=FULL and
 * PostgreSQL's fsync=on cover power loss.)
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "server_testutil.h"
#include "store/store.h"

#define KILLS 60
#define CHILD_THREADS 4

static int make_table(kura_db *db, void *arg, kura_db_error *err)
{
    (void)arg;
    return kura_db_exec(db, NULL,
                        "CREATE TABLE crash_test (id TEXT PRIMARY KEY, half TEXT NOT NULL, "
                        "pair TEXT NOT NULL)",
                        NULL, 0, err);
}

typedef struct child_arg {
    kura_store *st;
    int fd;
    int round;
    int thread;
} child_arg;

typedef struct pair_arg {
    const char *id;
} pair_arg;

static int pair_fn(kura_db *db, void *varg, kura_db_error *err)
{
    pair_arg *a = varg;
    char second[80];
    int rc;
    snprintf(second, sizeof second, "%s/b", a->id);
    rc = kura_db_exec(db, NULL, "INSERT INTO crash_test (id, half, pair) VALUES ($1, 'a', $2)",
                      (kura_db_param[]){KURA_DB_TEXT(a->id), KURA_DB_TEXT(a->id)}, 2, err);
    if (rc == KURA_DB_OK)
        rc = kura_db_exec(db, NULL, "INSERT INTO crash_test (id, half, pair) VALUES ($1, 'b', $2)",
                          (kura_db_param[]){KURA_DB_TEXT(second), KURA_DB_TEXT(a->id)}, 2, err);
    return rc;
}

static void *child_writer(void *varg)
{
    child_arg *c = varg;
    for (int n = 0;; n++) {
        char id[64], line[72];
        pair_arg a = {id};
        kura_db_error err = {0};
        int len;
        snprintf(id, sizeof id, "r%d-t%d-%d", c->round, c->thread, n);
        if (kura_store_write(c->st, pair_fn, &a, &err) != KURA_DB_OK)
            _exit(3);
        len = snprintf(line, sizeof line, "%s\n", id);
        /* Shorter than PIPE_BUF: one write is one whole line. */
        if (write(c->fd, line, (size_t)len) != len)
            _exit(4);
    }
    return NULL;
}

static void child_main(const char *url, int fd, int round)
{
    kura_store *st = NULL;
    kura_db_error err = {0};
    pthread_t tid[CHILD_THREADS];
    child_arg args[CHILD_THREADS];
    if (kura_store_open(&st, url, CHILD_THREADS, &err) != KURA_DB_OK)
        _exit(2);
    for (int t = 0; t < CHILD_THREADS; t++) {
        args[t] = (child_arg){st, fd, round, t};
        if (pthread_create(&tid[t], NULL, child_writer, &args[t]) != 0)
            _exit(5);
    }
    for (;;)
        pause();
}

typedef struct check_arg {
    char **acked;
    size_t nacked;
    size_t rows;
    size_t torn;     /* ids with one row of their pair */
    size_t missing;  /* acknowledged ids without both rows */
} check_arg;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int check_fn(kura_db *db, void *varg, kura_db_error *err)
{
    check_arg *a = varg;
    kura_db_result *res = NULL;
    size_t n;
    char **pairs;
    int rc = kura_db_exec(db, &res,
                          "SELECT pair, COUNT(*) FROM crash_test GROUP BY pair ORDER BY pair", NULL,
                          0, err);
    if (rc != KURA_DB_OK)
        return rc;
    n = kura_db_result_rows(res);
    a->rows = n;
    a->torn = a->missing = 0;
    pairs = calloc(n ? n : 1, sizeof *pairs);
    assert_non_null(pairs);
    for (size_t i = 0; i < n; i++) {
        int64_t count = 0;
        assert_int_equal(kura_db_result_int(&count, res, i, 1), KURA_DB_OK);
        if (count != 2)
            a->torn++;
        pairs[i] = (char *)kura_db_result_text(res, i, 0);
    }
    qsort(pairs, n, sizeof *pairs, cmp_str);
    for (size_t i = 0; i < a->nacked; i++)
        if (!bsearch(&a->acked[i], pairs, n, sizeof *pairs, cmp_str))
            a->missing++;
    free(pairs);
    kura_db_result_free(res);
    return KURA_DB_OK;
}

/* Splits the pipe's bytes into acknowledged ids (whole lines). */
typedef struct line_buf {
    char text[128];
    size_t len;
} line_buf;

static void take_lines(check_arg *chk, size_t *cap, line_buf *lb, const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (buf[i] != '\n') {
            assert_true(lb->len + 1 < sizeof lb->text);
            lb->text[lb->len++] = buf[i];
            continue;
        }
        lb->text[lb->len] = '\0';
        if (chk->nacked == *cap) {
            *cap *= 2;
            chk->acked = realloc(chk->acked, *cap * sizeof *chk->acked);
            assert_non_null(chk->acked);
        }
        chk->acked[chk->nacked] = strdup(lb->text);
        assert_non_null(chk->acked[chk->nacked]);
        chk->nacked++;
        lb->len = 0;
    }
}

static void test_sigkill_keeps_acknowledged_writes(void **state)
{
    (void)state;
    char *url = kura_test_db_url();
    kura_store *st = NULL;
    kura_db_error err = {0};
    check_arg chk = {0};
    size_t cap = 1024, killed_mid_stream = 0;
    chk.acked = malloc(cap * sizeof *chk.acked);
    assert_non_null(chk.acked);
    assert_int_equal(kura_store_open(&st, url, 2, &err), KURA_DB_OK);
    assert_int_equal(kura_store_write(st, make_table, NULL, &err), KURA_DB_OK);
    kura_store_close(st);
    srand((unsigned)time(NULL));

    for (int round = 0; round < KILLS; round++) {
        int fds[2], status = 0;
        pid_t pid;
        struct timespec ts;
        char buf[4096];
        line_buf lb = {{0}, 0};
        size_t before = chk.nacked;
        ssize_t got;
        assert_int_equal(pipe(fds), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_main(url, fds[1], round);
        }
        close(fds[1]);
        if (round % 4 == 0) {
            /* Every fourth: 1 to 20 ms after the start, often while the
             * child still opens the store. */
            ts.tv_sec = 0;
            ts.tv_nsec = (1 + rand() % 20) * 1000000L;
        } else {
            /* The others: once writes are flowing (the first
             * acknowledgement, within 5 s), then 0 to 25 ms more. */
            struct pollfd pfd = {fds[0], POLLIN, 0};
            if (poll(&pfd, 1, 5000) == 1 && (got = read(fds[0], buf, sizeof buf)) > 0)
                take_lines(&chk, &cap, &lb, buf, (size_t)got);
            ts.tv_sec = 0;
            ts.tv_nsec = (rand() % 26) * 1000000L;
        }
        nanosleep(&ts, NULL);
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
            fail_msg("round %d: the child ended by itself (status %d)", round, status);
        /* Everything the child acknowledged, now that its end is closed. */
        while ((got = read(fds[0], buf, sizeof buf)) > 0 || (got < 0 && errno == EINTR))
            if (got > 0)
                take_lines(&chk, &cap, &lb, buf, (size_t)got);
        close(fds[0]);
        if (chk.nacked > before)
            killed_mid_stream++;
    }

    st = NULL;
    assert_int_equal(kura_store_open(&st, url, 2, &err), KURA_DB_OK);
    assert_int_equal(kura_store_read(st, check_fn, &chk, &err), KURA_DB_OK);
    kura_store_close(st);
    printf("# %zu acknowledged transactions over %d kills (%zu kills after the first "
           "acknowledgement); %zu committed\n",
           chk.nacked, KILLS, killed_mid_stream, chk.rows);
    assert_int_equal(chk.missing, 0);
    assert_int_equal(chk.torn, 0);
    /* The test must have exercised something: kills among acknowledged writes. */
    assert_true(killed_mid_stream >= KILLS / 2);
    /* Committed but never acknowledged is allowed (killed between COMMIT and
     * the pipe write); the reverse is not. */
    assert_true(chk.rows >= chk.nacked);
    for (size_t i = 0; i < chk.nacked; i++)
        free(chk.acked[i]);
    free(chk.acked);
    free(url);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigkill_keeps_acknowledged_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
