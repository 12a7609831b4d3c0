/*
 * server/store/db_internal.h — what the two backends implement behind db.h.
 * Not for use outside server/store/.
 */
#ifndef KURA_SERVER_DB_INTERNAL_H
#define KURA_SERVER_DB_INTERNAL_H

#include "store/db.h"

#if defined(__GNUC__)
#define KURA_DB_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define KURA_DB_PRINTF(a, b)
#endif

/* A backend's operations. */
typedef struct kura_db_ops {
    const char *begin_write; /* the statement that opens a write transaction */
    void (*close)(kura_db *db);
    /* One or more statements without parameters or rows. */
    int (*exec_simple)(kura_db *db, const char *sql, kura_db_error *err);
    int (*exec)(kura_db *db, kura_db_result **res, const char *sql, const kura_db_param *params,
                size_t nparams, kura_db_error *err);
    /* 1 when the connection is lost (it must be closed and opened again). */
    int (*broken)(kura_db *db);
    /* 1 inside a transaction (SQLite may roll one back by itself after an
     * I/O error or a full disk: the group commit must know). */
    int (*in_transaction)(kura_db *db);
} kura_db_ops;

/* Every backend's connection struct starts with this. */
struct kura_db {
    const kura_db_ops *ops;
    kura_db_kind kind;
};

/* Results are rows x columns of malloc'd strings (NULL for SQL NULL). */
struct kura_db_result {
    size_t rows, columns, row_cap;
    size_t changes;
    char **cell;
};

kura_db_result *kura_db_result_new(size_t columns);
/* Appends a row of NULLs. */
int kura_db_result_add_row(kura_db_result *res);
/* Sets column `col` of the last row to a copy of text[0..len) (NULL: stays NULL). */
int kura_db_result_set(kura_db_result *res, size_t col, const char *text, size_t len);

/* The store's view of the two operations above. */
int kura_db_broken(kura_db *db);
int kura_db_in_transaction(kura_db *db);

int kura_db_sqlite_open(kura_db **out, const char *path, kura_db_error *err);
int kura_db_pg_open(kura_db **out, const char *conninfo, kura_db_error *err);

#endif /* KURA_SERVER_DB_INTERNAL_H */
