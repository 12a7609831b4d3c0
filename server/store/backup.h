/*
 * server/store/backup.h — a backup of kura-server's database while the server
 * runs, and its restore into an empty database (docs/operators-guide.md).
 *
 * SQLite: the online backup API (sqlite3_backup_*) copies the database in one
 * step under one read transaction: a consistent snapshot, while the server
 * keeps writing (WAL). PostgreSQL: pg_dump --format=custom (one repeatable-read
 * snapshot) and pg_restore --single-transaction; both found on PATH or under
 * /usr/lib/postgresql/N/bin (KURA_PG_BINDIR overrides).
 *
 * The backup file: a text header, then the engine's bytes (a SQLite database
 * file, or pg_dump's custom archive):
 *
 *     kura-backup 1\n
 *     kind: sqlite|postgres\n
 *     schema: N\n            the schema version (schema_migrations) inside
 *     created: UNIX\n
 *     bytes: N\n             the payload's length
 *     sha256: HEX\n          the payload's SHA-256
 *     \n
 *     PAYLOAD
 *
 * The file is made 0600 (it holds password hashes and key hashes), written to
 * OUT.tmp, fsynced, then renamed to OUT: a crash leaves no half backup.
 *
 * Refusals name a stable reason first in err->message ("REASON: ..."):
 *   BACKUP_BAD_FILE        not a kura backup, truncated, or its SHA-256 differs
 *   BACKUP_KIND_MISMATCH   a SQLite backup for a PostgreSQL target, or back
 *   BACKUP_SCHEMA_NEWER    the backup's schema is newer than this binary's
 *   RESTORE_TARGET_NOT_EMPTY  the target database exists / has tables
 */
#ifndef KURA_SERVER_STORE_BACKUP_H
#define KURA_SERVER_STORE_BACKUP_H

#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

typedef struct kura_backup_info {
    char kind[16];      /* "sqlite" or "postgres" */
    int64_t schema;     /* schema version inside */
    int64_t created;    /* unix seconds */
    uint64_t bytes;     /* payload length */
    char sha256[65];    /* payload SHA-256, hex */
} kura_backup_info;

/* Writes a backup of the database at url (db.h's URLs) to out_path, which
 * must not exist. info (may be NULL) gets the header written. Returns
 * KURA_DB_OK, or a driver status with err set: KURA_DB_EINVAL (bad URL,
 * out_path exists), KURA_DB_EIO (the database, pg_dump, the disk). */
int kura_backup_write(const char *url, const char *out_path, kura_backup_info *info,
                      kura_db_error *err);

/* Reads a backup's header (and checks the payload's length and SHA-256).
 * Returns KURA_DB_OK or KURA_DB_EINVAL ("BACKUP_BAD_FILE: ..."), KURA_DB_EIO. */
int kura_backup_read_info(const char *path, kura_backup_info *info, kura_db_error *err);

/* Restores the backup at in_path into the database at url, which must be
 * empty: for SQLite the file must not exist (or be empty, with no -wal); for
 * PostgreSQL the database must have no tables. The schema is not migrated
 * here: the next kura_store_open brings a backup of an older schema up to
 * date. Returns KURA_DB_OK; KURA_DB_ECONFLICT (RESTORE_TARGET_NOT_EMPTY),
 * KURA_DB_ESCHEMA (BACKUP_SCHEMA_NEWER), KURA_DB_EINVAL (BACKUP_BAD_FILE,
 * BACKUP_KIND_MISMATCH), KURA_DB_EIO. On failure the target is left as it
 * was (SQLite: no file; PostgreSQL: pg_restore ran in one transaction). */
int kura_backup_restore(const char *url, const char *in_path, kura_backup_info *info,
                        kura_db_error *err);

#endif /* KURA_SERVER_STORE_BACKUP_H */
