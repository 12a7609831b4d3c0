/*
 * server/audit/audit_internal.h — what the audit module's files share. Not
 * for use outside server/audit/.
 */
#ifndef KURA_SERVER_AUDIT_INTERNAL_H
#define KURA_SERVER_AUDIT_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>

#include "audit/audit.h"

#if defined(__GNUC__)
#define KURA_AUDIT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define KURA_AUDIT_PRINTF(a, b)
#endif

/* The store fn's rows, read as an int64 (0 on NULL or bad text). */
int64_t kura_audit_int(const kura_db_result *res, size_t row, size_t col);
/* The row's text, "" for NULL. */
const char *kura_audit_text(const kura_db_result *res, size_t row, size_t col);

/* 1 when s is 64 lower-case hex characters. */
int kura_audit_is_hash(const char *s);

/* The snapshot function registered for a type, or NULL. */
kura_audit_snapshot_fn kura_audit_snapshot_lookup(const char *object_type);
/* The registered types, copied into names[0..max) (each at most 64 bytes);
 * returns how many. */
size_t kura_audit_snapshot_types(char names[][64], size_t max);

/* A row as its export/list JSON object (the data text parsed back).
 * Columns of res: seq, at, actor, action, object_type, object_id, data,
 * prev_hash, hash. NULL on failure. */
json_t *kura_audit_row_json(const kura_db_result *res, size_t row);

#define KURA_AUDIT_ROW_COLUMNS "seq, at, actor, action, object_type, object_id, data, prev_hash, hash"

#endif
