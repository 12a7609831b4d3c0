/*
 * server/store/backup.c — backups and restores (backup.h).
 */
#include "store/backup.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "store/migrations.h"

#define BACKUP_MAGIC "kura-backup 1\n"
#define HEADER_MAX 1024

static int64_t binary_schema(void)
{
    return kura_migration_count ? kura_migrations[kura_migration_count - 1].version : 0;
}

/* ---- URLs ---- */

typedef struct target {
    int sqlite;
    char path[PATH_MAX];     /* sqlite */
    const char *conninfo;    /* postgres: a libpq connection string or URI */
} target;

static int parse_url(const char *url, target *t, kura_db_error *err)
{
    memset(t, 0, sizeof *t);
    if (!strncmp(url, "sqlite:", 7)) {
        t->sqlite = 1;
        if (snprintf(t->path, sizeof t->path, "%s", url + 7) >= (int)sizeof t->path)
            return kura_db_fail(err, KURA_DB_EINVAL, "backup: path too long");
        return KURA_DB_OK;
    }
    if (!strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11)) {
        t->conninfo = url;
        return KURA_DB_OK;
    }
    if (!strncmp(url, "postgres:", 9)) {
        t->conninfo = url + 9;
        return KURA_DB_OK;
    }
    return kura_db_fail(err, KURA_DB_EINVAL, "backup: unknown database URL scheme");
}

/* ---- files ---- */

static int fsync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Copies len bytes (all of it when len is UINT64_MAX) from in to out,
 * hashing them. Returns the bytes copied, or -1. */
static int64_t copy_hash(int in, int out, uint64_t len, crypto_hash_sha256_state *h)
{
    uint8_t buf[65536];
    uint64_t done = 0;
    while (len == UINT64_MAX || done < len) {
        size_t want = sizeof buf;
        if (len != UINT64_MAX && len - done < want)
            want = (size_t)(len - done);
        ssize_t r = read(in, buf, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        crypto_hash_sha256_update(h, buf, (unsigned long long)r);
        if (out >= 0 && write_all(out, buf, (size_t)r))
            return -1;
        done += (uint64_t)r;
    }
    return (int64_t)done;
}

/* ---- PostgreSQL's tools ---- */

static int find_pg_tool(const char *name, char out[PATH_MAX])
{
    const char *bindir = getenv("KURA_PG_BINDIR");
    const char *path = getenv("PATH");
    glob_t g;
    if (bindir && *bindir) {
        snprintf(out, PATH_MAX, "%s/%s", bindir, name);
        return access(out, X_OK) == 0 ? 0 : -1;
    }
    /* Debian keeps the server's own tools under /usr/lib/postgresql/N/bin
     * (the newest wins, as with-postgres.sh picks initdb); /usr/bin has
     * wrappers that need a cluster configured in /etc. */
    if (glob("/usr/lib/postgresql/*/bin", 0, NULL, &g) == 0) {
        int found = -1;
        for (size_t i = 0; i < g.gl_pathc; i++) {
            char cand[PATH_MAX];
            snprintf(cand, sizeof cand, "%s/%s", g.gl_pathv[i], name);
            if (access(cand, X_OK) == 0) {
                snprintf(out, PATH_MAX, "%s", cand);
                found = 0;
            }
        }
        globfree(&g);
        if (found == 0)
            return 0;
    }
    while (path && *path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        if (n && n < PATH_MAX - 64) {
            snprintf(out, PATH_MAX, "%.*s/%s", (int)n, path, name);
            if (access(out, X_OK) == 0)
                return 0;
        }
        path = colon ? colon + 1 : NULL;
    }
    return -1;
}

/* Runs argv (argv[0] a full path), stdout to /dev/null, stderr inherited.
 * Returns 0 when it exits 0. */
static int run_tool(char *const argv[])
{
    pid_t pid = fork();
    int status;
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, STDOUT_FILENO);
        execv(argv[0], argv);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int pg_schema_and_tables(const char *conninfo, int64_t *schema, int64_t *tables,
                                kura_db_error *err)
{
    kura_db *db = NULL;
    kura_db_result *res = NULL;
    char url[4096];
    int rc;
    *schema = 0;
    *tables = 0;
    snprintf(url, sizeof url, "%s%s",
             strncmp(conninfo, "postgres", 8) == 0 && strstr(conninfo, "://") ? "" : "postgres:",
             conninfo);
    if ((rc = kura_db_open(&db, url, err)) != KURA_DB_OK)
        return rc;
    rc = kura_db_exec(db, &res,
                      "SELECT count(*) FROM information_schema.tables WHERE table_schema "
                      "NOT IN ('pg_catalog', 'information_schema')",
                      NULL, 0, err);
    if (rc == KURA_DB_OK)
        rc = kura_db_result_int(tables, res, 0, 0) ? kura_db_fail(err, KURA_DB_EIO, "backup: count")
                                                   : KURA_DB_OK;
    kura_db_result_free(res);
    res = NULL;
    if (rc == KURA_DB_OK && *tables > 0) {
        rc = kura_db_exec(db, &res, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                          NULL, 0, err);
        if (rc == KURA_DB_OK && kura_db_result_int(schema, res, 0, 0))
            rc = kura_db_fail(err, KURA_DB_EIO, "backup: schema_migrations unreadable");
        kura_db_result_free(res);
    }
    kura_db_close(db);
    return rc;
}

/* ---- SQLite ---- */

static int sqlite_schema(sqlite3 *db, int64_t *schema)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1,
                                &st, NULL);
    *schema = 0;
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        *schema = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    } else {
        rc = SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    return rc;
}

/* The online backup of the database at src into a new file dst. */
static int sqlite_backup(const char *src, const char *dst, int64_t *schema, kura_db_error *err)
{
    sqlite3 *from = NULL, *to = NULL;
    sqlite3_backup *b;
    struct stat sb;
    int rc, status = KURA_DB_EIO;
    if (stat(src, &sb) != 0)
        return kura_db_fail(err, KURA_DB_EIO, "backup: no database at %s: %s", src,
                            strerror(errno));
    if (sqlite3_open_v2(src, &from, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        kura_db_fail(err, KURA_DB_EIO, "backup: cannot open %s: %s", src,
                     from ? sqlite3_errmsg(from) : "out of memory");
        goto done;
    }
    sqlite3_busy_timeout(from, 10000);
    if (sqlite3_open_v2(dst, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        kura_db_fail(err, KURA_DB_EIO, "backup: cannot create %s: %s", dst,
                     to ? sqlite3_errmsg(to) : "out of memory");
        goto done;
    }
    b = sqlite3_backup_init(to, "main", from, "main");
    if (!b) {
        kura_db_fail(err, KURA_DB_EIO, "backup: %s", sqlite3_errmsg(to));
        goto done;
    }
    /* All pages in one step: one read transaction on the source, so the copy
     * is one moment of it; the server's writers go on in the WAL. */
    for (int tries = 0;; tries++) {
        rc = sqlite3_backup_step(b, -1);
        if (rc == SQLITE_DONE)
            break;
        if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && tries < 600) {
            sqlite3_sleep(50);
            continue;
        }
        break;
    }
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) {
        kura_db_fail(err, KURA_DB_EIO, "backup: %s", sqlite3_errstr(rc));
        goto done;
    }
    /* One self-contained file (no -wal beside it), checked. */
    if (sqlite3_exec(to, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite_schema(to, schema) != SQLITE_OK) {
        kura_db_fail(err, KURA_DB_EIO, "backup: the copy is unreadable: %s", sqlite3_errmsg(to));
        goto done;
    }
    status = KURA_DB_OK;
done:
    sqlite3_close_v2(from);
    sqlite3_close_v2(to);
    return status;
}

static int sqlite_check(const char *path, int64_t *schema, kura_db_error *err)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int ok = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        ok = t && !strcmp((const char *)t, "ok");
    }
    sqlite3_finalize(st);
    if (ok)
        ok = sqlite_schema(db, schema) == SQLITE_OK;
    sqlite3_close_v2(db);
    return ok ? KURA_DB_OK
              : kura_db_fail(err, KURA_DB_EINVAL, "BACKUP_BAD_FILE: the SQLite payload fails its check");
}

/* ---- the file ---- */

int kura_backup_write(const char *url, const char *out_path, kura_backup_info *info,
                      kura_db_error *err)
{
    target t;
    char payload[PATH_MAX], tmp[PATH_MAX], header[HEADER_MAX];
    kura_backup_info bi;
    crypto_hash_sha256_state h;
    uint8_t digest[crypto_hash_sha256_BYTES];
    struct stat sb;
    int rc, in = -1, out = -1, hn;
    if (info)
        memset(info, 0, sizeof *info);
    memset(&bi, 0, sizeof bi);
    if ((rc = parse_url(url, &t, err)) != KURA_DB_OK)
        return rc;
    if (lstat(out_path, &sb) == 0)
        return kura_db_fail(err, KURA_DB_EINVAL, "backup: %s exists", out_path);
    if (snprintf(payload, sizeof payload, "%s.payload", out_path) >= (int)sizeof payload ||
        snprintf(tmp, sizeof tmp, "%s.tmp", out_path) >= (int)sizeof tmp)
        return kura_db_fail(err, KURA_DB_EINVAL, "backup: path too long");
    unlink(payload);
    unlink(tmp);
    if (t.sqlite) {
        snprintf(bi.kind, sizeof bi.kind, "sqlite");
        rc = sqlite_backup(t.path, payload, &bi.schema, err);
    } else {
        char tool[PATH_MAX];
        int64_t tables;
        snprintf(bi.kind, sizeof bi.kind, "postgres");
        if (find_pg_tool("pg_dump", tool))
            return kura_db_fail(err, KURA_DB_EIO,
                                "backup: pg_dump not found (PATH, /usr/lib/postgresql/N/bin, "
                                "KURA_PG_BINDIR)");
        if ((rc = pg_schema_and_tables(t.conninfo, &bi.schema, &tables, err)) != KURA_DB_OK)
            return rc;
        char *argv[] = {tool, (char *)"--format=custom", (char *)"--no-owner",
                        (char *)"--no-privileges", (char *)"--file", payload,
                        (char *)"--dbname", (char *)t.conninfo, NULL};
        rc = run_tool(argv) ? kura_db_fail(err, KURA_DB_EIO, "backup: pg_dump failed (its "
                                                              "message is above)")
                            : KURA_DB_OK;
    }
    if (rc != KURA_DB_OK)
        goto fail;
    bi.created = (int64_t)time(NULL);
    /* The header needs the payload's hash: hash it first, then copy. */
    crypto_hash_sha256_init(&h);
    in = open(payload, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        rc = kura_db_fail(err, KURA_DB_EIO, "backup: %s: %s", payload, strerror(errno));
        goto fail;
    }
    int64_t n = copy_hash(in, -1, UINT64_MAX, &h);
    if (n < 0) {
        rc = kura_db_fail(err, KURA_DB_EIO, "backup: reading %s: %s", payload, strerror(errno));
        goto fail;
    }
    bi.bytes = (uint64_t)n;
    crypto_hash_sha256_final(&h, digest);
    sodium_bin2hex(bi.sha256, sizeof bi.sha256, digest, sizeof digest);
    hn = snprintf(header, sizeof header,
                  BACKUP_MAGIC "kind: %s\nschema: %" PRId64 "\ncreated: %" PRId64
                               "\nbytes: %" PRIu64 "\nsha256: %s\n\n",
                  bi.kind, bi.schema, bi.created, bi.bytes, bi.sha256);
    out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0 || lseek(in, 0, SEEK_SET) != 0 || write_all(out, header, (size_t)hn)) {
        rc = kura_db_fail(err, KURA_DB_EIO, "backup: %s: %s", tmp, strerror(errno));
        goto fail;
    }
    crypto_hash_sha256_init(&h);
    if (copy_hash(in, out, bi.bytes, &h) != (int64_t)bi.bytes || fsync(out) != 0) {
        rc = kura_db_fail(err, KURA_DB_EIO, "backup: writing %s: %s", tmp, strerror(errno));
        goto fail;
    }
    close(out);
    out = -1;
    close(in);
    in = -1;
    if (rename(tmp, out_path) != 0) {
        rc = kura_db_fail(err, KURA_DB_EIO, "backup: rename to %s: %s", out_path, strerror(errno));
        goto fail;
    }
    fsync_dir_of(out_path);
    unlink(payload);
    if (info)
        *info = bi;
    return KURA_DB_OK;
fail:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    unlink(payload);
    unlink(tmp);
    return rc;
}

/* Opens path, parses the header; leaves fd at the payload. */
static int open_backup(const char *path, kura_backup_info *bi, int *fd_out, kura_db_error *err)
{
    char header[HEADER_MAX + 1];
    ssize_t got;
    int fd;
    memset(bi, 0, sizeof *bi);
    *fd_out = -1;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kura_db_fail(err, KURA_DB_EIO, "restore: %s: %s", path, strerror(errno));
    got = read(fd, header, HEADER_MAX);
    if (got < 0) {
        close(fd);
        return kura_db_fail(err, KURA_DB_EIO, "restore: %s: %s", path, strerror(errno));
    }
    header[got] = '\0';
    /* The header is text up to the first blank line; the payload after it
     * is binary (NUL bytes), so the end is looked for within what was read. */
    char *end = NULL;
    for (ssize_t i = 0; i + 1 < got && header[i] != '\0'; i++)
        if (header[i] == '\n' && header[i + 1] == '\n') {
            end = header + i;
            break;
        }
    if (end)
        end[1] = '\0';
    long long schema, created;
    unsigned long long bytes;
    char kind[16], sha[65];
    if (strncmp(header, BACKUP_MAGIC, strlen(BACKUP_MAGIC)) != 0 || !end ||
        sscanf(header + strlen(BACKUP_MAGIC),
               "kind: %15[a-z]\nschema: %lld\ncreated: %lld\nbytes: %llu\nsha256: %64[0-9a-f]\n",
               kind, &schema, &created, &bytes, sha) != 5 ||
        strlen(sha) != 64 || (strcmp(kind, "sqlite") && strcmp(kind, "postgres")) || schema < 0) {
        close(fd);
        return kura_db_fail(err, KURA_DB_EINVAL, "BACKUP_BAD_FILE: %s is not a kura backup", path);
    }
    snprintf(bi->kind, sizeof bi->kind, "%s", kind);
    snprintf(bi->sha256, sizeof bi->sha256, "%s", sha);
    bi->schema = schema;
    bi->created = created;
    bi->bytes = bytes;
    if (lseek(fd, (off_t)(end + 2 - header), SEEK_SET) < 0) {
        close(fd);
        return kura_db_fail(err, KURA_DB_EIO, "restore: %s: %s", path, strerror(errno));
    }
    *fd_out = fd;
    return KURA_DB_OK;
}

/* Copies the payload of fd to out (or nowhere, out < 0) and checks its
 * length and hash. */
static int check_payload(int fd, int out, const kura_backup_info *bi, const char *path,
                         kura_db_error *err)
{
    crypto_hash_sha256_state h;
    uint8_t digest[crypto_hash_sha256_BYTES], extra;
    char hex[65];
    crypto_hash_sha256_init(&h);
    int64_t n = copy_hash(fd, out, bi->bytes, &h);
    if (n < 0)
        return kura_db_fail(err, KURA_DB_EIO, "restore: %s: %s", path, strerror(errno));
    crypto_hash_sha256_final(&h, digest);
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    if ((uint64_t)n != bi->bytes || read(fd, &extra, 1) != 0 || strcmp(hex, bi->sha256) != 0)
        return kura_db_fail(err, KURA_DB_EINVAL,
                            "BACKUP_BAD_FILE: %s is truncated or damaged (length or SHA-256 "
                            "differs from its header)",
                            path);
    return KURA_DB_OK;
}

int kura_backup_read_info(const char *path, kura_backup_info *info, kura_db_error *err)
{
    int fd, rc;
    kura_backup_info bi;
    if (info)
        memset(info, 0, sizeof *info);
    if ((rc = open_backup(path, &bi, &fd, err)) != KURA_DB_OK)
        return rc;
    rc = check_payload(fd, -1, &bi, path, err);
    close(fd);
    if (rc == KURA_DB_OK && info)
        *info = bi;
    return rc;
}

int kura_backup_restore(const char *url, const char *in_path, kura_backup_info *info,
                        kura_db_error *err)
{
    target t;
    kura_backup_info bi;
    char tmp[PATH_MAX + 64];
    struct stat sb;
    int fd = -1, out = -1, rc;
    int64_t schema = 0;
    if (info)
        memset(info, 0, sizeof *info);
    if ((rc = parse_url(url, &t, err)) != KURA_DB_OK)
        return rc;
    if ((rc = open_backup(in_path, &bi, &fd, err)) != KURA_DB_OK)
        return rc;
    if (strcmp(bi.kind, t.sqlite ? "sqlite" : "postgres") != 0) {
        close(fd);
        return kura_db_fail(err, KURA_DB_EINVAL,
                            "BACKUP_KIND_MISMATCH: a %s backup cannot be restored into %s",
                            bi.kind, t.sqlite ? "SQLite" : "PostgreSQL");
    }
    if (bi.schema > binary_schema()) {
        close(fd);
        return kura_db_fail(err, KURA_DB_ESCHEMA,
                            "BACKUP_SCHEMA_NEWER: the backup's schema is version %" PRId64
                            ", this kura-server knows up to %" PRId64 ": restore with a newer one",
                            bi.schema, binary_schema());
    }
    if (t.sqlite) {
        char side[PATH_MAX + 16];
        int nonempty = lstat(t.path, &sb) == 0 && (!S_ISREG(sb.st_mode) || sb.st_size > 0);
        snprintf(side, sizeof side, "%s-wal", t.path);
        nonempty |= lstat(side, &sb) == 0 && sb.st_size > 0;
        if (nonempty) {
            close(fd);
            return kura_db_fail(err, KURA_DB_ECONFLICT,
                                "RESTORE_TARGET_NOT_EMPTY: %s exists: restore into an empty "
                                "data directory",
                                t.path);
        }
        snprintf(tmp, sizeof tmp, "%s.restore-tmp", t.path);
    } else {
        int64_t tables = 0, cur = 0;
        if ((rc = pg_schema_and_tables(t.conninfo, &cur, &tables, err)) != KURA_DB_OK) {
            close(fd);
            return rc;
        }
        if (tables > 0) {
            close(fd);
            return kura_db_fail(err, KURA_DB_ECONFLICT,
                                "RESTORE_TARGET_NOT_EMPTY: the database has %" PRId64
                                " table(s): restore into an empty database",
                                tables);
        }
        const char *dir = getenv("TMPDIR");
        snprintf(tmp, sizeof tmp, "%s/kura-restore-%ld.dump", dir && *dir ? dir : "/tmp",
                 (long)getpid());
    }
    unlink(tmp);
    out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        close(fd);
        return kura_db_fail(err, KURA_DB_EIO, "restore: %s: %s", tmp, strerror(errno));
    }
    rc = check_payload(fd, out, &bi, in_path, err);
    close(fd);
    if (rc == KURA_DB_OK && fsync(out) != 0)
        rc = kura_db_fail(err, KURA_DB_EIO, "restore: %s: %s", tmp, strerror(errno));
    close(out);
    if (rc != KURA_DB_OK)
        goto done;
    if (t.sqlite) {
        if ((rc = sqlite_check(tmp, &schema, err)) != KURA_DB_OK)
            goto done;
        if (schema != bi.schema) {
            rc = kura_db_fail(err, KURA_DB_EINVAL,
                              "BACKUP_BAD_FILE: the payload's schema %" PRId64
                              " is not the header's %" PRId64,
                              schema, bi.schema);
            goto done;
        }
        /* The file is whole and checked: now it takes the database's name. */
        if (lstat(t.path, &sb) == 0 && sb.st_size == 0)
            unlink(t.path);
        if (link(tmp, t.path) != 0) {
            rc = kura_db_fail(err, errno == EEXIST ? KURA_DB_ECONFLICT : KURA_DB_EIO,
                              "%s%s: %s", errno == EEXIST ? "RESTORE_TARGET_NOT_EMPTY: " : "restore: ",
                              t.path, strerror(errno));
            goto done;
        }
        fsync_dir_of(t.path);
    } else {
        char tool[PATH_MAX];
        if (find_pg_tool("pg_restore", tool)) {
            rc = kura_db_fail(err, KURA_DB_EIO, "restore: pg_restore not found (PATH, "
                                                "/usr/lib/postgresql/N/bin, KURA_PG_BINDIR)");
            goto done;
        }
        char *argv[] = {tool, (char *)"--single-transaction", (char *)"--exit-on-error",
                        (char *)"--no-owner", (char *)"--no-privileges", (char *)"--dbname",
                        (char *)t.conninfo, tmp, NULL};
        if (run_tool(argv)) {
            rc = kura_db_fail(err, KURA_DB_EIO, "restore: pg_restore failed (its message is above)");
            goto done;
        }
    }
    if (info)
        *info = bi;
done:
    unlink(tmp);
    return rc;
}
