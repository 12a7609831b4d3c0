/*
 * server/audit/audit_export.c — the audit log by time range, as JSON lines
 * or as CSV (RFC 4180), each ending with a trailer that carries the chain's
 * head (docs/audit-format.md).
 */
#include "audit/audit_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT_PAGE 512
/* The export's own reasons to stop, positive so the store rolls back
 * without counting a database failure. */
#define EXPORT_WRITER_STOPPED 1
#define EXPORT_RETRIED 2

typedef struct export_arg {
    kura_audit_export_format format;
    int64_t from, to;
    kura_audit_write_fn write;
    void *ctx;
    int started;     /* bytes were written: a retried transaction must not repeat them */
    int writer_stopped;
} export_arg;

static int emit(export_arg *a, const char *s, size_t n, kura_db_error *err)
{
    a->started = 1;
    if (a->write(a->ctx, s, n) != 0) {
        a->writer_stopped = 1;
        return kura_db_fail(err, EXPORT_WRITER_STOPPED, "audit: export: the writer stopped");
    }
    return KURA_DB_OK;
}

/* A JSON value as one canonical line (sorted keys, compact, ASCII). */
static int emit_json_line(export_arg *a, json_t *v, kura_db_error *err)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    int rc;
    if (!s)
        return kura_db_fail(err, KURA_DB_ENOMEM, "audit: out of memory");
    rc = emit(a, s, strlen(s), err);
    if (rc == KURA_DB_OK)
        rc = emit(a, "\n", 1, err);
    free(s);
    return rc;
}

/* RFC 4180 section 2: a field holding a comma, a double quote, CR or LF is
 * enclosed in double quotes, and a double quote inside it is doubled. */
static int emit_csv_field(export_arg *a, const char *s, int last, kura_db_error *err)
{
    int quote = strpbrk(s, ",\"\r\n") != NULL;
    int rc = KURA_DB_OK;
    if (quote)
        rc = emit(a, "\"", 1, err);
    while (rc == KURA_DB_OK && *s) {
        const char *q = strchr(s, '"');
        size_t n = q ? (size_t)(q - s) + 1 : strlen(s);
        rc = emit(a, s, n, err);
        if (rc == KURA_DB_OK && q)
            rc = emit(a, "\"", 1, err);
        s += n;
    }
    if (rc == KURA_DB_OK && quote)
        rc = emit(a, "\"", 1, err);
    if (rc == KURA_DB_OK)
        rc = last ? emit(a, "\r\n", 2, err) : emit(a, ",", 1, err);
    return rc;
}

static const char *const csv_columns[9] = {"seq",       "at",        "actor",
                                           "action",    "object_type", "object_id",
                                           "data",      "prev_hash", "hash"};

static int emit_csv_row(export_arg *a, const kura_db_result *res, size_t row, kura_db_error *err)
{
    int rc = KURA_DB_OK;
    for (size_t c = 0; c < 9 && rc == KURA_DB_OK; c++)
        rc = emit_csv_field(a, kura_audit_text(res, row, c), c == 8, err);
    return rc;
}

static int export_fn(kura_db *db, void *arg, kura_db_error *err)
{
    export_arg *a = arg;
    int64_t head_seq = 0, after = 0, rows = 0;
    char head_hash[65];
    json_t *trailer;
    int rc;

    if (a->started)
        return kura_db_fail(err, EXPORT_RETRIED,
                               "audit: export: the database asked for a retry after output began");
    rc = kura_audit_head(db, &head_seq, head_hash, err);
    if (rc != KURA_DB_OK)
        return rc;
    if (a->format == KURA_AUDIT_EXPORT_CSV) {
        for (size_t c = 0; c < 9 && rc == KURA_DB_OK; c++)
            rc = emit_csv_field(a, csv_columns[c], c == 8, err);
        if (rc != KURA_DB_OK)
            return rc;
    }
    for (;;) {
        kura_db_result *res = NULL;
        size_t n;
        rc = kura_db_exec(db, &res,
                          "SELECT " KURA_AUDIT_ROW_COLUMNS " FROM audit_log "
                          "WHERE seq > $1 AND at >= $2 AND (CAST($3 AS BIGINT) = 0 OR at < CAST($3 AS BIGINT)) "
                          "ORDER BY seq LIMIT $4",
                          (kura_db_param[]){KURA_DB_INT(after), KURA_DB_INT(a->from),
                                            KURA_DB_INT(a->to), KURA_DB_INT(EXPORT_PAGE)},
                          4, err);
        if (rc != KURA_DB_OK)
            return rc;
        n = kura_db_result_rows(res);
        for (size_t i = 0; i < n && rc == KURA_DB_OK; i++) {
            if (a->format == KURA_AUDIT_EXPORT_JSONL) {
                json_t *row = kura_audit_row_json(res, i);
                rc = row ? emit_json_line(a, row, err)
                         : kura_db_fail(err, KURA_DB_ENOMEM, "audit: out of memory");
                json_decref(row);
            } else {
                rc = emit_csv_row(a, res, i, err);
            }
            rows++;
        }
        if (n > 0)
            after = kura_audit_int(res, n - 1, 0);
        kura_db_result_free(res);
        if (rc != KURA_DB_OK)
            return rc;
        if (n < EXPORT_PAGE)
            break;
    }

    trailer = json_pack("{s{sI sI ss sI sI}}", "trailer", "from", (json_int_t)a->from, "to",
                        (json_int_t)a->to, "head_hash", head_hash, "head_seq",
                        (json_int_t)head_seq, "rows", (json_int_t)rows);
    if (!trailer)
        return kura_db_fail(err, KURA_DB_ENOMEM, "audit: out of memory");
    if (a->format == KURA_AUDIT_EXPORT_JSONL) {
        rc = emit_json_line(a, trailer, err);
    } else {
        /* The trailer record: "trailer" in the seq column, the trailer's
         * JSON object in the data column, the head hash in the hash column. */
        char *s = json_dumps(json_object_get(trailer, "trailer"),
                             JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
        char seq[24];
        snprintf(seq, sizeof seq, "%" PRId64, head_seq);
        const char *fields[9] = {"trailer", "", "", "", "", "", s ? s : "{}", seq, head_hash};
        for (size_t c = 0; c < 9 && rc == KURA_DB_OK; c++)
            rc = emit_csv_field(a, fields[c], c == 8, err);
        free(s);
    }
    json_decref(trailer);
    return rc;
}

int kura_audit_export(kura_store *st, kura_audit_export_format format, int64_t from, int64_t to,
                      kura_audit_write_fn write, void *ctx, kura_problem *p)
{
    export_arg a = {0};
    kura_db_error err = {0};
    int rc;
    if (!st)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "audit: no store");
    if (!write || (format != KURA_AUDIT_EXPORT_JSONL && format != KURA_AUDIT_EXPORT_CSV))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD,
                                  "export format must be jsonl or csv, with a writer");
    if (from < 0 || to < 0)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "times must not be negative");
    a.format = format;
    a.from = from;
    a.to = to;
    a.write = write;
    a.ctx = ctx;
    rc = kura_store_read(st, export_fn, &a, &err);
    if (rc == KURA_DB_OK)
        return 0;
    if (rc > 0)
        return kura_problem_set(p, rc == EXPORT_RETRIED ? KURA_PROBLEM_UNAVAILABLE
                                                           : KURA_PROBLEM_INTERNAL,
                                  "%s", err.message);
    return kura_problem_from_db(p, rc, &err, NULL);
}
