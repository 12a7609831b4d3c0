/*
 * programs/kura-cold/util.c — messages, files, locked buffers, prompts and
 * the test build's hooks.
 *
 * Secrets typed or read here (passphrases, words) go straight from read(2)
 * into locked memory: stdio is not used for them, because its buffers are
 * ordinary heap memory that nobody wipes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cold.h"

const char *cold_command = "kura-cold";

/* The last failure's message, for serve's refusal files. */
static char last_failure[1024];

int cold_fail(int code, const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    va_start(ap, fmt);
    vsnprintf(last_failure, sizeof(last_failure), fmt, ap);
    va_end(ap);
    fprintf(stderr, "kura-cold: %s: ", cold_command);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

const char *cold_last_failure(void)
{
    return last_failure;
}

void cold_note(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "kura-cold: %s: ", cold_command);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cold_path(char *out, size_t out_len, const char *dir, const char *name)
{
    int n = snprintf(out, out_len, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= out_len) {
        if (out_len > 0) out[0] = '\0';
        return -1;
    }
    return 0;
}

int cold_write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int cold_read_file(uint8_t **out, size_t *len, const char *path, size_t max)
{
    struct stat st;
    uint8_t *buf = NULL;
    size_t got = 0, cap;
    int fd, saved;
    *out = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    if (fstat(fd, &st) != 0) goto fail;
    if (!S_ISREG(st.st_mode)) {
        errno = EINVAL;
        goto fail;
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > max) {
        errno = EFBIG;
        goto fail;
    }
    cap = (size_t)st.st_size + 1;
    buf = malloc(cap);
    if (buf == NULL) goto fail;
    for (;;) {
        ssize_t n;
        if (got + 1 == cap) {
            /* The file grew while it was read: read on, up to max. */
            uint8_t *nb;
            if (cap - 1 >= max) {
                errno = EFBIG;
                goto fail;
            }
            cap = cap - 1 > max / 2 ? max + 1 : 2 * cap;
            nb = realloc(buf, cap);
            if (nb == NULL) goto fail;
            buf = nb;
        }
        n = read(fd, buf + got, cap - 1 - got);
        if (n < 0) {
            if (errno == EINTR) continue;
            goto fail;
        }
        if (n == 0) break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 0;
fail:
    saved = errno;
    free(buf);
    close(fd);
    errno = saved;
    return -1;
}

/* The directory part of path into out ("." when there is none). */
static void dir_of(char *out, size_t out_len, const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n;
    if (slash == NULL) {
        snprintf(out, out_len, ".");
        return;
    }
    n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= out_len) n = out_len - 1;
    memcpy(out, path, n);
    out[n] = '\0';
}

int cold_sync_dir(const char *path)
{
    char dir[PATH_MAX];
    int fd, rc = 0, saved;
    dir_of(dir, sizeof(dir), path);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    if (fsync(fd) != 0) rc = -1;
    saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int cold_tmpfile_open(cold_tmpfile *t, const char *path, mode_t mode)
{
    uint8_t rnd[8];
    char hex[17];
    int n;
    t->fd = -1;
    t->tmp[0] = '\0';
    if (snprintf(t->path, sizeof(t->path), "%s", path) >= (int)sizeof(t->path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    /* A random name: a stale temporary from a crash (or one planted by
     * someone) only makes O_EXCL fail; it is never written through. */
    randombytes_buf(rnd, sizeof(rnd));
    sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
    n = snprintf(t->tmp, sizeof(t->tmp), "%s.tmp-%s", path, hex);
    if (n < 0 || (size_t)n >= sizeof(t->tmp)) {
        t->tmp[0] = '\0';
        errno = ENAMETOOLONG;
        return -1;
    }
    t->fd = open(t->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (t->fd < 0) {
        t->tmp[0] = '\0';
        return -1;
    }
    return 0;
}

/* Writes and fsyncs the temporary; closes it. */
static int tmpfile_finish(cold_tmpfile *t, const uint8_t *data, size_t len)
{
    int saved;
    if (cold_write_all(t->fd, data, len) != 0 || fsync(t->fd) != 0) {
        saved = errno;
        close(t->fd);
        t->fd = -1;
        errno = saved;
        return -1;
    }
    if (close(t->fd) != 0) {
        t->fd = -1;
        return -1;
    }
    t->fd = -1;
    return 0;
}

int cold_tmpfile_commit(cold_tmpfile *t, const uint8_t *data, size_t len)
{
    int saved;
    if (tmpfile_finish(t, data, len) != 0) goto fail;
    /* link() refuses an existing name atomically, where rename() would
     * replace a file created since the check at the start. */
    if (link(t->tmp, t->path) != 0) goto fail;
    unlink(t->tmp);
    t->tmp[0] = '\0';
    return cold_sync_dir(t->path);
fail:
    saved = errno;
    cold_tmpfile_discard(t);
    errno = saved;
    return -1;
}

void cold_tmpfile_discard(cold_tmpfile *t)
{
    if (t->fd >= 0) close(t->fd);
    t->fd = -1;
    if (t->tmp[0] != '\0') unlink(t->tmp);
    t->tmp[0] = '\0';
}

int cold_write_atomic(const char *path, const uint8_t *data, size_t len, mode_t mode, int replace)
{
    cold_tmpfile t;
    int saved;
    if (cold_tmpfile_open(&t, path, mode) != 0) return -1;
    if (!replace) return cold_tmpfile_commit(&t, data, len);
    if (tmpfile_finish(&t, data, len) != 0 || rename(t.tmp, t.path) != 0) {
        saved = errno;
        cold_tmpfile_discard(&t);
        errno = saved;
        return -1;
    }
    t.tmp[0] = '\0';
    return cold_sync_dir(path);
}

int cold_mkdir(const char *dir)
{
    struct stat st;
    if (mkdir(dir, 0700) == 0) return 0;
    if (errno != EEXIST) return -1;
    if (stat(dir, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* ---- locked buffers ---- */

cold_secret *cold_secret_new(size_t cap)
{
    cold_secret *s = sodium_malloc(sizeof(*s));
    if (s == NULL) return NULL;
    s->p = sodium_malloc(cap);
    if (s->p == NULL) {
        sodium_free(s);
        return NULL;
    }
    sodium_memzero(s->p, cap);
    s->len = 0;
    s->cap = cap;
    return s;
}

void cold_secret_free(cold_secret *s)
{
    if (s == NULL) return;
    sodium_memzero(s->p, s->cap);
    sodium_free(s->p); /* sodium_free wipes again and unlocks */
    sodium_free(s);
}

/* ---- reading ---- */

int cold_read_line(int fd, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    int overflow = 0;
    *len = 0;
    if (cap == 0) return -1;
    buf[0] = '\0';
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0) {
            if (errno == EINTR) continue;
            sodium_memzero(buf, cap);
            return -1;
        }
        if (r == 0) {
            if (n == 0 && !overflow) return 0;
            break;
        }
        if (c == '\n') break;
        if (n + 1 < cap)
            buf[n++] = c;
        else
            overflow = 1;
        sodium_memzero(&c, sizeof(c)); /* the line may be a secret */
    }
    if (overflow) {
        sodium_memzero(buf, cap);
        return -1;
    }
    if (n > 0 && buf[n - 1] == '\r') n--;
    buf[n] = '\0';
    *len = n;
    return 1;
}

int cold_ask_yes(const char *question)
{
    char line[64];
    size_t len;
    printf("%s\n", question);
    fflush(stdout);
    if (cold_read_line(STDIN_FILENO, line, sizeof(line), &len) != 1) return 0;
    return strcmp(line, "yes") == 0;
}

/* Reads a passphrase from the file at path into s. */
static int passphrase_from_file(cold_secret *s, const char *path)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cold_fail(COLD_EXIT_CANNOT, "cannot read the passphrase file %s: %s", path,
                         strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return cold_fail(COLD_EXIT_CANNOT, "the passphrase file %s is not a regular file", path);
    }
    /* As ssh does for private keys: a secret that others can read is not. */
    if ((st.st_mode & 077) != 0) {
        close(fd);
        return cold_fail(COLD_EXIT_CANNOT,
                         "the passphrase file %s may be read or written by others "
                         "(mode %03o; chmod 600 it)",
                         path, (unsigned)(st.st_mode & 0777));
    }
    for (;;) {
        ssize_t n = read(fd, s->p + s->len, s->cap - s->len);
        if (n < 0) {
            if (errno == EINTR) continue;
            close(fd);
            return cold_fail(COLD_EXIT_CANNOT, "cannot read the passphrase file %s: %s", path,
                             strerror(errno));
        }
        if (n == 0) break;
        s->len += (size_t)n;
        if (s->len == s->cap) {
            close(fd);
            return cold_fail(COLD_EXIT_CANNOT, "the passphrase file %s is longer than %d bytes",
                             path, COLD_PASSPHRASE_MAX - 1);
        }
    }
    close(fd);
    /* One trailing newline is the file's, not the passphrase's. */
    if (s->len > 0 && s->p[s->len - 1] == '\n') s->p[--s->len] = 0;
    if (s->len > 0 && s->p[s->len - 1] == '\r') s->p[--s->len] = 0;
    return COLD_EXIT_OK;
}

/* Reads a line from the terminal with echo off. */
static int passphrase_from_tty(cold_secret *s, const char *prompt)
{
    struct termios old, quiet;
    size_t len;
    int rc, have_term = tcgetattr(STDIN_FILENO, &old) == 0;
    fprintf(stderr, "%s", prompt);
    fflush(stderr);
    if (have_term) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    rc = cold_read_line(STDIN_FILENO, (char *)s->p, s->cap, &len);
    if (have_term) tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fputc('\n', stderr);
    if (rc != 1) return cold_fail(COLD_EXIT_CANNOT, "no passphrase was typed");
    s->len = len;
    return COLD_EXIT_OK;
}

int cold_read_passphrase(const cold_env *env, cold_secret **out, int twice, size_t min_len)
{
    cold_secret *s = cold_secret_new(COLD_PASSPHRASE_MAX), *again = NULL;
    int rc;
    *out = NULL;
    if (s == NULL) return cold_fail(COLD_EXIT_CANNOT, "cannot lock memory for the passphrase");
    if (env->passphrase_file != NULL) {
        rc = passphrase_from_file(s, env->passphrase_file);
    } else if (isatty(STDIN_FILENO)) {
        rc = passphrase_from_tty(s, "Keystore passphrase: ");
        if (rc == COLD_EXIT_OK && twice) {
            again = cold_secret_new(COLD_PASSPHRASE_MAX);
            if (again == NULL) {
                rc = cold_fail(COLD_EXIT_CANNOT, "cannot lock memory for the passphrase");
            } else {
                rc = passphrase_from_tty(again, "The same passphrase again: ");
                if (rc == COLD_EXIT_OK &&
                    (again->len != s->len || sodium_memcmp(again->p, s->p, s->len) != 0))
                    rc = cold_fail(COLD_EXIT_CANNOT, "the two passphrases differ");
            }
            cold_secret_free(again);
        }
    } else {
        rc = cold_fail(COLD_EXIT_CANNOT,
                       "no passphrase: give --passphrase-file FILE (or set KURA_PASSPHRASE_FILE), "
                       "or run on a terminal");
    }
    if (rc == COLD_EXIT_OK && s->len == 0)
        rc = cold_fail(COLD_EXIT_CANNOT, "the passphrase is empty");
    if (rc == COLD_EXIT_OK && s->len < min_len)
        rc = cold_fail(COLD_EXIT_CANNOT, "the passphrase is shorter than %zu characters",
                       min_len);
    if (rc != COLD_EXIT_OK) {
        cold_secret_free(s);
        return rc;
    }
    *out = s;
    return COLD_EXIT_OK;
}

/* ---- small formats ---- */

int cold_parse_chain(kura_intent_chain *out, const char *s)
{
    for (int c = KURA_CHAIN_BITCOIN; c <= KURA_CHAIN_REGTEST; c++) {
        const char *name = kura_intent_chain_name((kura_intent_chain)c);
        if (name != NULL && strcmp(name, s) == 0) {
            *out = (kura_intent_chain)c;
            return 0;
        }
    }
    if (strcmp(s, "mainnet") == 0) {
        *out = KURA_CHAIN_BITCOIN;
        return 0;
    }
    return -1;
}

void cold_hex32(char out[65], const uint8_t h[32])
{
    sodium_bin2hex(out, 65, h, 32);
}

void cold_time(char out[21], int64_t t)
{
    if (kura_intent_time_format(out, 21, t) != KURA_OK) snprintf(out, 21, "?");
}

/* ---- the test build ---- */

void cold_kdf(kura_keystore_kdf *out)
{
    kura_keystore_kdf_default(out);
#ifdef KURA_TEST_HOOKS
    {
        const char *v = getenv("KURA_COLD_TEST_KDF");
        if (v != NULL && strcmp(v, "min") == 0) {
            out->opslimit = KURA_KEYSTORE_OPSLIMIT_MIN;
            out->memlimit = KURA_KEYSTORE_MEMLIMIT_MIN;
        }
    }
#endif
}

int cold_test_hooks(void)
{
#ifdef KURA_TEST_HOOKS
    return 1;
#else
    return 0;
#endif
}

void cold_hook(const char *name)
{
#ifdef KURA_TEST_HOOKS
    const char *stop = getenv("KURA_COLD_TEST_STOP");
    const char *crash = getenv("KURA_COLD_TEST_CRASH");
    if (crash != NULL && strcmp(crash, name) == 0) {
        /* What a power cut or kill -9 does: no atexit, no flushing. */
        raise(SIGKILL);
    }
    if (stop != NULL && strcmp(stop, name) == 0) {
        /* For the memory scan: stopped here, the process can be read through
         * /proc/PID/mem by its parent, then continued with SIGCONT. */
        fflush(stdout);
        fflush(stderr);
        raise(SIGSTOP);
    }
#else
    (void)name;
#endif
}
