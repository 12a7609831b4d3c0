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

typedef struct growbuf {
    char *data;
    size_t len, cap;
} growbuf;

static int grow_write(void *ctx, const char *bytes, size_t len)
{
    growbuf *g = ctx;
    if (len > SIZE_MAX / 2 - g->len)
        return -1;
    if (g->len + len > g->cap) {
        size_t cap = g->cap ? g->cap : 65536;
        while (cap < g->len + len)
            cap *= 2;
        char *n = realloc(g->data, cap);
        if (!n)
            return -1;
        g->data = n;
        g->cap = cap;
    }
    memcpy(g->data + g->len, bytes, len);
    g->len += len;
    return 0;
}

int kura_h_audit_list(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    int64_t from, to;
    const char *format = kura_req_query(rq, "format");
    int rc;
    if ((rc = time_param(rq, "from", &from, p)) || (rc = time_param(rq, "to", &to, p)))
        return rc;
    if (!format)
        return kura_audit_list(rq->store, from, to, NULL, NULL, rq->cursor, rq->limit, &rs->json, p);
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
    growbuf g = {NULL, 0, 0};
    rc = kura_audit_export(rq->store, f, from, to, grow_write, &g, p);
    if (rc) {
        free(g.data);
        return rc;
    }
    rs->body = g.data;
    rs->len = g.len;
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

/* The endpoint create call has no Idempotency-Key of its own (webhook.h):
 * the key is completed right after, in a transaction of its own. */
typedef struct idem_done {
    const kura_idem *idem;
    const char *body;
} idem_done;

static int complete_idem(kura_db *db, void *arg, kura_db_error *err)
{
    idem_done *d = arg;
    return kura_idempotency_complete(db, d->idem, 201, d->body, err);
}

int kura_h_webhook_create(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    int rc = kura_webhook_endpoint_create(rq->store, rq->who.id, kura_api_str(rq->body, "url", ""),
                                          kura_api_str(rq->body, "events", ""), rq->now, &rs->json, p);
    if (rc)
        return rc;
    rs->status = 201;
    if (rq->idem) {
        char *s = json_dumps(rs->json, JSON_COMPACT);
        idem_done d = {rq->idem, s};
        kura_db_error err = {0};
        if (!s || kura_store_write(rq->store, complete_idem, &d, &err) != KURA_DB_OK)
            kura_log(KURA_LOG_ERROR, "idempotency: could not record a webhook's response");
        free(s);
    }
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
