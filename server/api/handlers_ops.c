/*
 * server/api/handlers_ops.c — health, metrics, the audit log and webhooks.
 */
#include "api/internal.h"
#include "log/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kura_h_healthz(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    int64_t version = 0;
    kura_db_error err = {0};
    /* A real query against the database, so a load balancer takes a server
     * whose database is gone out of rotation. */
    if (kura_store_schema_version(rq->store, &version, &err) != KURA_DB_OK)
        return kura_problem_set(p, KURA_PROBLEM_UNAVAILABLE, "database: %s", err.message);
    rs->json = json_pack("{s:s, s:I}", "status", "ok", "schema_version", (json_int_t)version);
    return rs->json ? 0 : kura_problem_set(p, KURA_PROBLEM_INTERNAL, "out of memory");
}

int kura_h_metrics(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    if (kura_api_metrics_text(rq->server, &rs->body, &rs->len))
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "out of memory");
    rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
    return 0;
}

/* ---- audit ---- */

static int time_param(const kura_req *rq, const char *name, int64_t *out, kura_problem *p)
{
    const char *v = kura_req_query(rq, name);
    char *end;
    long long x;
    *out = 0;
    if (!v)
        return 0;
    errno = 0;
    x = strtoll(v, &end, 10);
    if (!*v || *end || errno || x < 0 || v[0] == '+' || v[0] == '-' || strlen(v) > 12)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "%s: unix seconds", name);
    *out = (int64_t)x;
    return 0;
}

/* An object filter of the audit list: absent, or 1..max bytes without
 * control characters (ids and type names; the object id of a failed sign-in
 * is the user name tried, which may be any UTF-8). */
static int object_param(const kura_req *rq, const char *name, size_t max, kura_problem *p)
{
    const char *v = kura_req_query(rq, name);
    size_t n;
    if (!v)
        return 0;
    n = strlen(v);
    if (n == 0 || n > max)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "%s: 1..%zu characters", name, max);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] == 0x7f)
            return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "%s: a control character",
                                    name);
    return 0;
}

/* An export is spooled to an unlinked temporary file, not held in memory:
 * the read transaction stays as short as writing the rows takes, and the
 * client then takes the bytes at its own pace from the file. */
typedef struct spool {
    FILE *f;
    size_t len;
} spool;

static int spool_write(void *ctx, const char *bytes, size_t len)
{
    spool *sp = ctx;
    if (len > SIZE_MAX - sp->len || fwrite(bytes, 1, len, sp->f) != len)
        return -1;
    sp->len += len;
    return 0;
}

int kura_h_audit_list(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    int64_t from, to;
    const char *format = kura_req_query(rq, "format");
    int rc;
    if ((rc = time_param(rq, "from", &from, p)) || (rc = time_param(rq, "to", &to, p)) ||
        (rc = object_param(rq, "object_type", 32, p)) ||
        (rc = object_param(rq, "object_id", 256, p)))
        return rc;
    if (!format)
        return kura_audit_list(rq->store, from, to, kura_req_query(rq, "object_type"),
                               kura_req_query(rq, "object_id"), rq->cursor, rq->limit, &rs->json,
                               p);
    if (kura_req_query(rq, "object_type") || kura_req_query(rq, "object_id"))
        return kura_problem_set(p, KURA_PROBLEM_BAD_REQUEST,
                                "an export is the whole chain: no object filter");
    kura_audit_export_format f;
    if (!strcmp(format, "jsonl"))
        f = KURA_AUDIT_EXPORT_JSONL;
    else if (!strcmp(format, "csv"))
        f = KURA_AUDIT_EXPORT_CSV;
    else
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "format: jsonl or csv");
    if (rq->cursor || kura_req_query(rq, "limit"))
        return kura_problem_set(p, KURA_PROBLEM_BAD_REQUEST,
                                "an export is the whole range: no cursor or limit");
    spool sp = {tmpfile(), 0};
    if (!sp.f)
        return kura_problem_set(p, KURA_PROBLEM_UNAVAILABLE, "no temporary file for the export");
    rc = kura_audit_export(rq->store, f, from, to, spool_write, &sp, p);
    if (rc == 0 && fflush(sp.f) != 0)
        rc = kura_problem_set(p, KURA_PROBLEM_UNAVAILABLE, "the export's temporary file: %s",
                              strerror(errno));
    if (rc) {
        fclose(sp.f);
        return rc;
    }
    rs->file = sp.f;
    rs->len = sp.len;
    rs->content_type = f == KURA_AUDIT_EXPORT_CSV ? "text/csv; charset=utf-8"
                                                  : "application/x-ndjson";
    snprintf(rs->disposition, sizeof rs->disposition, "attachment; filename=\"kura-audit.%s\"",
             format);
    return 0;
}

int kura_h_audit_verify(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    return kura_audit_verify(rq->store, kura_api_int(rq->body, "held_seq", 0),
                             kura_api_str(rq->body, "held_hash", NULL), &rs->json, p);
}

/* ---- webhooks ---- */

/* The webhook module sits below the people domain and knows no
 * Idempotency-Key: the key's answer is recorded by this hook, inside the
 * endpoint's own creating transaction, so both commit or neither does. */
static int complete_idem(kura_db *db, const json_t *created, void *arg, kura_db_error *err)
{
    const kura_idem *idem = arg;
    char *s = json_dumps(created, JSON_COMPACT | JSON_SORT_KEYS);
    int rc;
    if (!s)
        return kura_db_fail(err, KURA_DB_ENOMEM, "webhook: out of memory");
    rc = kura_idempotency_complete(db, idem, 201, s, err);
    free(s);
    return rc;
}

int kura_h_webhook_create(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    int rc = kura_webhook_endpoint_create_also(
        rq->store, rq->who.id, kura_api_str(rq->body, "url", ""),
        kura_api_str(rq->body, "events", ""), rq->now, rq->idem ? complete_idem : NULL,
        (void *)rq->idem, &rs->json, p);
    if (rc)
        return rc;
    rs->status = 201;
    return 0;
}

int kura_h_webhook_list(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    return kura_webhook_endpoint_list(rq->store, rq->cursor, rq->limit, &rs->json, p);
}

int kura_h_webhook_get(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    return kura_webhook_endpoint_get(rq->store, rq->id, &rs->json, p);
}

int kura_h_webhook_delete(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    int rc = kura_webhook_endpoint_delete(rq->store, rq->who.id, rq->id, rq->now, p);
    if (rc)
        return rc;
    rs->status = 204;
    return 0;
}

int kura_h_webhook_deliveries(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    return kura_webhook_delivery_list(rq->store, rq->id, NULL, rq->cursor, rq->limit, &rs->json, p);
}

int kura_h_webhook_redeliver(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    return kura_webhook_redeliver(rq->store, rq->who.id, rq->id,
                                  kura_api_str(rq->body, "event_id", ""), rq->now, &rs->json, p);
}
