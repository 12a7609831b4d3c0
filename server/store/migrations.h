/*
 * server/store/migrations.h — the schema migrations compiled into the binary
 * (server/store/migrations/NNNN_name.sql, embedded at build time by
 * server/cmake/embed-migrations.cmake), in version order 1, 2, 3, ...
 */
#ifndef KURA_SERVER_MIGRATIONS_H
#define KURA_SERVER_MIGRATIONS_H

#include <stddef.h>
#include <stdint.h>

typedef struct kura_migration {
    int64_t version; /* 1, 2, ... */
    const char *name; /* from the file name */
    const char *sql;  /* the file's text, NUL-terminated */
} kura_migration;

extern const kura_migration kura_migrations[];
extern const size_t kura_migration_count;

#endif /* KURA_SERVER_MIGRATIONS_H */
