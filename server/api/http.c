/*
 * server/api/http.c — the door: libmicrohttpd, the router and every check a
 * request passes before its handler runs (api.h gives the order).
 *
 * A request's context lives from MHD's first call (headers read) to its
 * completion callback. Refusals that need no body (no route, no credentials,
 * wrong role, missing CSRF token, a declared Content-Length over the limit)
 * are answered at the first call, before any body byte is read; the body is
 * accumulated up to the route's limit; then content type, JSON rules,
 * idempotency and the handler.
 */
#include "api/internal.h"
#include "api/static.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "log/log.h"
#include <sodium.h>

#define SESSION_COOKIE "kura_session"
#define CSP "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
            "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "  \
            "frame-ancestors 'none'"

typedef struct conn_ctx {
    struct kura_api_server *srv;
    int route;                      /* index, or -1 unrouted */
    int answered;                   /* a response is queued */
    int status;                     /* what was answered */
    struct timespec start;
    kura_req rq;
    kura_idem idem;
    char idem_key[256];
    char idem_hash[65];             /* the request's hash, under its key */
    int idem_claimed;
    char *buf;                      /* the body */
    size_t len, cap, limit;
    int too_large;
    char client_addr[64];
    char principal_id[40];
    char allow[40];                 /* the Allow header of a 405 */
    int is_static;                  /* a web page's file (static.h) */
    char request_id[72];            /* X-Request-Id: the proxy's, or made here */
} conn_ctx;

const int kura_api_status_slots[KURA_API_STATUS_SLOTS] = {
    200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 503, 502, 0};
const char *const kura_api_class_names[KURA_API_CLASSES] = {"1xx", "2xx", "3xx",
                                                           "4xx", "5xx", "none"};
const int64_t kura_api_bucket_us[KURA_API_BUCKETS] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 5000000};

/* ---- responses ---- */

static void add_common_headers(struct kura_api_server *srv, struct MHD_Response *r)
{
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
    MHD_add_response_header(r, "Content-Security-Policy", CSP);
    if (srv->tls)
        MHD_add_response_header(r, "Strict-Transport-Security", "max-age=31536000");
}

static enum MHD_Result send_bytes(conn_ctx *c, struct MHD_Connection *conn, int status,
                                  const char *ctype, const void *data, size_t len,
                                  const char *disposition, const char *cookie)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)data, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;
    if (!r)
        return MHD_NO;
    add_common_headers(c->srv, r);
    if (ctype)
        MHD_add_response_header(r, "Content-Type", ctype);
    if (disposition && *disposition)
        MHD_add_response_header(r, "Content-Disposition", disposition);
    if (cookie && *cookie)
        MHD_add_response_header(r, "Set-Cookie", cookie);
    if (c->allow[0]) /* RFC 9110 15.5.6: a 405 says which methods the path takes */
        MHD_add_response_header(r, "Allow", c->allow);
    MHD_add_response_header(r, "X-Request-Id", c->request_id);
    ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    c->answered = 1;
    c->status = status;
    return ret;
}

/* Sends len bytes of an open file from its start (MHD reads it as the
 * client takes it and closes the descriptor); the FILE is closed here. */
static enum MHD_Result send_file(conn_ctx *c, struct MHD_Connection *conn, int status,
                                 const char *ctype, FILE *f, size_t len, const char *disposition)
{
    struct MHD_Response *r = NULL;
    enum MHD_Result ret;
    int fd = fflush(f) == 0 ? dup(fileno(f)) : -1;
    fclose(f);
    if (fd >= 0 && (r = MHD_create_response_from_fd_at_offset64(len, fd, 0)) == NULL)
        close(fd);
    if (!r)
        return MHD_NO;
    add_common_headers(c->srv, r);
    if (ctype)
        MHD_add_response_header(r, "Content-Type", ctype);
    if (disposition && *disposition)
        MHD_add_response_header(r, "Content-Disposition", disposition);
    ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    c->answered = 1;
    c->status = status;
    return ret;
}

static enum MHD_Result send_problem(conn_ctx *c, struct MHD_Connection *conn, const kura_problem *p)
{
    kura_problem_code code = p->code;
    const char *msg = p->message[0] ? p->message : kura_problem_meaning(code);
    json_t *j = json_pack("{s:s, s:s}", "error", kura_problem_name(code), "message", msg);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    enum MHD_Result ret;
    json_decref(j);
    if (!s)
        return MHD_NO;
    ret = send_bytes(c, conn, kura_problem_http_status(code), "application/json", s, strlen(s),
                     NULL, NULL);
    free(s);
    return ret;
}

static enum MHD_Result refuse(conn_ctx *c, struct MHD_Connection *conn, kura_problem_code code,
                              const char *msg)
{
    kura_problem p;
    kura_problem_set(&p, code, "%s", msg ? msg : kura_problem_meaning(code));
    return send_problem(c, conn, &p);
}

/* ---- the door ---- */

/* The client behind trusted reverse proxies: X-Forwarded-For read from the
 * right (the entry the nearest proxy appended), skipping proxies we trust;
 * the first address that is not one is the client. Entries left of it were
 * written by the client itself and prove nothing. A malformed entry stops
 * the walk at the last trusted hop. The peer itself must be trusted, or the
 * header is ignored: anyone can send it. */
static void forwarded_client(const char *trusted, const char *xff, char out[64])
{
    char list[1024], *end;
    size_t n;
    if (!xff || (n = strlen(xff)) >= sizeof list)
        return;
    memcpy(list, xff, n + 1);
    end = list + n;
    while (end > list) {
        char *start = end, *a, *b;
        unsigned char bin[16];
        while (start > list && start[-1] != ',')
            start--;
        a = start;
        b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        *b = '\0';
        if (b - a >= 64 || (inet_pton(AF_INET, a, bin) != 1 && inet_pton(AF_INET6, a, bin) != 1))
            return;
        snprintf(out, 64, "%s", a);
        if (!kura_cidrs_match(trusted, a))
            return;
        end = start > list ? start - 1 : list;
    }
}

static void client_address(struct MHD_Connection *conn, char out[64])
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, 64, "unknown");
    if (!ci || !ci->client_addr)
        return;
    if (ci->client_addr->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)ci->client_addr;
        inet_ntop(AF_INET, &a->sin_addr, out, 64);
    } else if (ci->client_addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)ci->client_addr;
        inet_ntop(AF_INET6, &a->sin6_addr, out, 64);
    }
}

/* The media type of a Content-Type value, matched case-insensitively; for
 * JSON a charset parameter, when given, must be utf-8. */
static unsigned media_type(const char *ct)
{
    size_t n;
    const char *semi;
    if (!ct)
        return 0;
    while (*ct == ' ')
        ct++;
    semi = strchr(ct, ';');
    n = semi ? (size_t)(semi - ct) : strlen(ct);
    while (n && ct[n - 1] == ' ')
        n--;
    if (n == 16 && strncasecmp(ct, "application/json", 16) == 0) {
        if (semi) {
            const char *q = semi + 1;
            while (*q == ' ')
                q++;
            if (strcasecmp(q, "charset=utf-8") != 0 && strcasecmp(q, "charset=\"utf-8\"") != 0)
                return 0;
        }
        return KURA_CT_JSON;
    }
    if (n == 24 && strncasecmp(ct, "application/octet-stream", 24) == 0 && !semi)
        return KURA_CT_OCTET;
    return 0;
}

typedef struct query_walk {
    kura_req *rq;
    const kura_route *route;
    kura_problem *p;
    int rc;
} query_walk;

static enum MHD_Result query_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    query_walk *w = cls;
    int known = 0;
    (void)kind;
    if (w->rc)
        return MHD_NO;
    if (w->route->paginated && (!strcmp(key, "cursor") || !strcmp(key, "limit")))
        known = 1;
    for (const char *const *n = w->route->query; n && *n && !known; n++)
        if (!strcmp(*n, key))
            known = 1;
    if (!known) {
        w->rc = kura_problem_set(w->p, KURA_PROBLEM_BAD_REQUEST, "unknown query parameter '%.32s'",
                                 key);
        return MHD_NO;
    }
    for (size_t i = 0; i < w->rq->nquery; i++)
        if (!strcmp(w->rq->query[i].name, key)) {
            w->rc = kura_problem_set(w->p, KURA_PROBLEM_BAD_REQUEST,
                                     "query parameter '%.32s' given twice", key);
            return MHD_NO;
        }
    if (w->rq->nquery == KURA_API_QUERY_MAX) {
        w->rc = kura_problem_set(w->p, KURA_PROBLEM_BAD_REQUEST, "too many query parameters");
        return MHD_NO;
    }
    w->rq->query[w->rq->nquery].name = key;
    w->rq->query[w->rq->nquery].value = value ? value : "";
    w->rq->nquery++;
    return MHD_YES;
}

const char *kura_req_query(const kura_req *rq, const char *name)
{
    for (size_t i = 0; i < rq->nquery; i++)
        if (!strcmp(rq->query[i].name, name))
            return rq->query[i].value;
    return NULL;
}

static int check_query(conn_ctx *c, struct MHD_Connection *conn, kura_problem *p)
{
    query_walk w = {&c->rq, &kura_routes[c->route], p, 0};
    const char *v;
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, query_cb, &w);
    if (w.rc)
        return w.rc;
    c->rq.limit = 50;
    if ((v = kura_req_query(&c->rq, "limit")) != NULL) {
        char *end;
        unsigned long x = strtoul(v, &end, 10);
        if (!*v || *end || v[0] == '-' || v[0] == '+' || x < 1 || x > 500 || strlen(v) > 3)
            return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "limit: must be 1 to 500");
        c->rq.limit = (size_t)x;
    }
    if ((v = kura_req_query(&c->rq, "cursor")) != NULL) {
        if (!kura_api_id_ok(v))
            return kura_problem_set(p, KURA_PROBLEM_BAD_CURSOR, "cursor: not one this server issued");
        c->rq.cursor = v;
    }
    return 0;
}

static int authenticate(conn_ctx *c, struct MHD_Connection *conn, const kura_route *r,
                        kura_problem *p)
{
    const char *authz = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    const char *cookie = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, SESSION_COOKIE);
    int rc;
    if (r->flags & KURA_ROUTE_PUBLIC)
        return 0;
    if (authz) {
        if (strncasecmp(authz, "Bearer ", 7) != 0 || !authz[7])
            return kura_problem_set(p, KURA_PROBLEM_UNAUTHENTICATED,
                                    "Authorization must be 'Bearer <API key>'");
        rc = kura_api_auth_key(&c->rq, authz + 7, c->client_addr, p);
        if (rc)
            return rc;
        c->rq.by_session = 0;
    } else if (cookie && *cookie) {
        if (strlen(cookie) >= sizeof c->rq.session_token)
            return kura_problem_set(p, KURA_PROBLEM_UNAUTHENTICATED, "no valid session");
        snprintf(c->rq.session_token, sizeof c->rq.session_token, "%s", cookie);
        rc = kura_api_auth_session(&c->rq, cookie, c->client_addr, p);
        if (rc)
            return rc;
        c->rq.by_session = 1;
    } else {
        return kura_problem_set(p, KURA_PROBLEM_UNAUTHENTICATED,
                                "sign in (POST /v1/session) or send an API key");
    }
    snprintf(c->principal_id, sizeof c->principal_id, "%s", c->rq.who.id);
    /* The role decides for everyone; an API key also needs the route's scope. */
    if (c->rq.who.role <= KURA_ROLE_NONE || c->rq.who.role > KURA_ROLE_AUDITOR ||
        !(r->roles & KURA_ROLE_BIT(c->rq.who.role)))
        return kura_problem_set(p, KURA_PROBLEM_FORBIDDEN, "the role %s may not %s %s",
                                kura_api_role_name(c->rq.who.role), r->method, r->path);
    if (!c->rq.by_session) {
        if (r->flags & KURA_ROUTE_NO_KEYS)
            return kura_problem_set(p, KURA_PROBLEM_FORBIDDEN, "%s %s is for people, not API keys",
                                    r->method, r->path);
        if (!(r->flags & KURA_ROUTE_ANY_SCOPE) && !(c->rq.who.scopes & r->scope))
            return kura_problem_set(p, KURA_PROBLEM_FORBIDDEN, "the API key lacks the scope %s",
                                    kura_api_scope_name(r->scope));
    }
    if (r->flags & KURA_ROUTE_SELF) {
        if (!strcmp(c->rq.id, "me"))
            snprintf(c->rq.id, sizeof c->rq.id, "%s", c->rq.who.id);
        else if (strcmp(c->rq.id, c->rq.who.id) != 0)
            return kura_problem_set(p, KURA_PROBLEM_FORBIDDEN, "only for your own user ('me')");
    }
    /* CSRF: a cookie rides along on any request the browser makes, so an unsafe
     * method from a session must also prove it read the token from the page. */
    if (c->rq.by_session && strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
        const char *t = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-CSRF-Token");
        size_t n = t ? strlen(t) : 0;
        if (!t || n == 0 || n != strlen(c->rq.csrf) ||
            sodium_memcmp(t, c->rq.csrf, n) != 0)
            return kura_problem_set(p, KURA_PROBLEM_CSRF_FAILED,
                                    "send the session's CSRF token in X-CSRF-Token");
    }
    return 0;
}

/* A web page's file (static.h): not an API route, so none of the API's
 * checks apply; its own headers (the pages' CSP, caching). Not found is the
 * API's JSON 404, so nothing tells a missing file from a refused path. */
static enum MHD_Result send_static(conn_ctx *c, struct MHD_Connection *conn, const char *url)
{
    kura_static_file f;
    struct MHD_Response *r;
    enum MHD_Result ret;
    size_t size = 0;
    int fd;
    if (kura_static_resolve(url, &f) != 0 ||
        (fd = kura_static_open(c->srv->web_root, &f, &size)) < 0)
        return refuse(c, conn, KURA_PROBLEM_NOT_FOUND, "no such route");
    r = MHD_create_response_from_fd(size, fd); /* owns fd from here */
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", f.content_type);
    MHD_add_response_header(r, "Cache-Control", f.cache_control);
    MHD_add_response_header(r, "Content-Security-Policy", KURA_WEB_CSP);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
    MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
    MHD_add_response_header(r, "Permissions-Policy", "camera=(self), microphone=(), geolocation=()");
    MHD_add_response_header(r, "X-Request-Id", c->request_id);
    if (c->srv->tls)
        MHD_add_response_header(r, "Strict-Transport-Security", "max-age=31536000");
    ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    c->answered = 1;
    c->status = 200;
    c->is_static = 1;
    return ret;
}

/* Everything decided from the headers alone. */
static enum MHD_Result first_call(conn_ctx *c, struct MHD_Connection *conn, const char *method,
                                  const char *url)
{
    kura_problem p = {0};
    const kura_route *r;
    const char *cl;
    int rc;
    c->route = kura_route_find(method, url, c->rq.id);
    if (c->route == -1 && c->srv->web_root && strncmp(url, "/v1/", 4) != 0 &&
        (!strcmp(method, "GET") || !strcmp(method, "HEAD")))
        return send_static(c, conn, url);
    if (c->route == -1)
        return refuse(c, conn, KURA_PROBLEM_NOT_FOUND, "no such route");
    if (c->route == -2) {
        char id[65];
        for (size_t i = 0; i < kura_route_count; i++) {
            const char *m = kura_routes[i].method;
            if (kura_route_find(m, url, id) >= 0 && !strstr(c->allow, m) &&
                strlen(c->allow) + strlen(m) + 3 < sizeof c->allow)
                snprintf(c->allow + strlen(c->allow), sizeof c->allow - strlen(c->allow), "%s%s",
                         c->allow[0] ? ", " : "", m);
        }
        return refuse(c, conn, KURA_PROBLEM_METHOD_NOT_ALLOWED, "the path does not take this method");
    }
    r = &kura_routes[c->route];
    c->rq.route = r;
    if ((rc = authenticate(c, conn, r, &p)) != 0)
        return send_problem(c, conn, &p);
    if ((rc = check_query(c, conn, &p)) != 0)
        return send_problem(c, conn, &p);
    c->limit = r->body_limit ? r->body_limit : c->srv->cfg.body_limit;
    cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if (cl) {
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        if (*end || n > c->limit)
            return refuse(c, conn, KURA_PROBLEM_BODY_TOO_LARGE, "the body is over this route's limit");
        if (n && !r->content_types)
            return refuse(c, conn, KURA_PROBLEM_BAD_REQUEST, "this route takes no body");
    }
    if (r->flags & KURA_ROUTE_CREATES) {
        const char *k = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Idempotency-Key");
        if (k) {
            size_t n = strlen(k);
            int ok = n >= 1 && n <= 255;
            for (size_t i = 0; ok && i < n; i++)
                ok = k[i] > 0x20 && k[i] < 0x7F;
            if (!ok)
                return refuse(c, conn, KURA_PROBLEM_BAD_REQUEST,
                              "Idempotency-Key: 1 to 255 printable ASCII characters");
            memcpy(c->idem_key, k, n + 1);
            c->idem.principal_id = c->rq.who.id;
            c->idem.key = c->idem_key;
            c->rq.idem = &c->idem;
        }
    }
    return MHD_YES;
}

static enum MHD_Result respond(conn_ctx *c, struct MHD_Connection *conn, kura_resp *rs)
{
    enum MHD_Result ret;
    int status = rs->status ? rs->status : 200;
    if (rs->json) {
        char *s = json_dumps(rs->json, JSON_COMPACT);
        if (!s)
            return refuse(c, conn, KURA_PROBLEM_INTERNAL, "out of memory");
        ret = send_bytes(c, conn, status, "application/json", s, strlen(s), rs->disposition,
                         rs->set_cookie);
        free(s);
        return ret;
    }
    if (rs->file) {
        FILE *f = rs->file;
        rs->file = NULL;
        return send_file(c, conn, status, rs->content_type, f, rs->len, rs->disposition);
    }
    return send_bytes(c, conn, status, rs->content_type ? rs->content_type : "application/json",
                      rs->body ? rs->body : "", rs->len, rs->disposition, rs->set_cookie);
}

/* Claims the request's Idempotency-Key in its own transaction (c->idem_hash
 * computed). Returns MHD_YES with nothing answered when the request may run,
 * or the result of answering it: the first response again, or the problem. */
static enum MHD_Result claim_key(conn_ctx *c, struct MHD_Connection *conn, kura_problem *p)
{
    int st = 0;
    char *body = NULL;
    enum MHD_Result ret;
    int rc = kura_api_idem_claim(&c->rq, &c->idem, c->idem_hash, &st, &body, p);
    if (rc == 1) {
        ret = send_bytes(c, conn, st, "application/json", body ? body : "",
                         body ? strlen(body) : 0, NULL, NULL);
        free(body);
        return ret;
    }
    if (rc)
        return send_problem(c, conn, p);
    c->idem_claimed = 1;
    return MHD_YES;
}

static enum MHD_Result last_call(conn_ctx *c, struct MHD_Connection *conn, const char *method,
                                 const char *url)
{
    const kura_route *r = &kura_routes[c->route];
    kura_problem p = {0};
    kura_resp rs;
    enum MHD_Result ret;
    int rc;
    if (c->too_large)
        return refuse(c, conn, KURA_PROBLEM_BODY_TOO_LARGE, "the body is over this route's limit");
    if (c->len && !r->content_types)
        return refuse(c, conn, KURA_PROBLEM_BAD_REQUEST, "this route takes no body");
    if (r->content_types) {
        const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
        unsigned mt = media_type(ct);
        if ((c->len || ct) && !(mt & r->content_types))
            return refuse(c, conn, KURA_PROBLEM_UNSUPPORTED_MEDIA_TYPE,
                          (r->content_types & KURA_CT_OCTET)
                              ? "send application/json or application/octet-stream"
                              : "send application/json");
        if (mt == KURA_CT_OCTET) {
            c->rq.raw = c->buf ? c->buf : "";
            c->rq.raw_len = c->len;
            c->rq.raw_is_octet = 1;
        } else if (r->body) {
            if ((rc = kura_api_body_load(r->body, c->buf, c->len, &c->rq.body, &p)) != 0)
                return send_problem(c, conn, &p);
        }
    }
    if (c->rq.idem) {
        kura_idempotency_request_hash(c->idem_hash, method, url, c->buf, c->len);
        if (r->flags & KURA_ROUTE_ONE_TX) {
            /* Claimed inside the creation's own transaction: one commit. */
            c->idem.request_hash = c->idem_hash;
            c->idem.claimed_at = (int64_t)time(NULL);
        } else if ((ret = claim_key(c, conn, &p)) != MHD_YES || c->answered) {
            return ret;
        }
    }
    memset(&rs, 0, sizeof rs);
    c->rq.now = (int64_t)time(NULL);
    rc = r->handler(&c->rq, &rs, &p);
    if (rc && c->idem.request_hash) {
        /* The inline claim failed (the key exists) or the creation was
         * refused: ask the classic way, which answers a replay, a reused key
         * or a running one, or claims the key for a second try whose refusal
         * then releases it. The first try rolled back whole. */
        json_decref(rs.json);
        free(rs.body);
        if (rs.file)
            fclose(rs.file);
        memset(&rs, 0, sizeof rs);
        memset(&p, 0, sizeof p);
        c->idem.request_hash = NULL;
        c->idem.claimed_at = 0;
        if ((ret = claim_key(c, conn, &p)) != MHD_YES || c->answered)
            return ret;
        c->rq.now = (int64_t)time(NULL);
        rc = r->handler(&c->rq, &rs, &p);
    }
    if (rc) {
        if (c->idem_claimed)
            kura_api_idem_release(&c->rq);
        json_decref(rs.json);
        free(rs.body);
        if (rs.file)
            fclose(rs.file);
        if (p.code == KURA_PROBLEM_NONE)
            kura_problem_set(&p, (kura_problem_code)rc, "%s", kura_problem_meaning((kura_problem_code)rc));
        return send_problem(c, conn, &p);
    }
    ret = respond(c, conn, &rs);
    json_decref(rs.json);
    free(rs.body);
    if (rs.file)
        fclose(rs.file);
    return ret;
}

/* X-Request-Id: a proxy's (1 to 64 of [A-Za-z0-9._:-]) is kept, so one id
 * follows a request through the proxy's log and this one; else 16 random
 * hex digits. */
static void request_id(struct MHD_Connection *conn, char out[72])
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    size_t n = h ? strlen(h) : 0;
    int ok = n >= 1 && n <= 64;
    for (size_t i = 0; ok && i < n; i++) {
        char ch = h[i];
        ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
             ch == '.' || ch == '_' || ch == ':' || ch == '-';
    }
    if (ok) {
        memcpy(out, h, n + 1);
        return;
    }
    uint8_t rnd[8];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(out, 72, rnd, sizeof rnd);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct kura_api_server *srv = cls;
    conn_ctx *c = *con_cls;
    (void)version;
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c)
            return MHD_NO;
        c->srv = srv;
        c->route = -1;
        clock_gettime(CLOCK_MONOTONIC, &c->start);
        c->rq.store = srv->store;
        c->rq.cfg = &srv->cfg;
        c->rq.server = srv;
        client_address(conn, c->client_addr);
        if (srv->trusted_proxies && kura_cidrs_match(srv->trusted_proxies, c->client_addr))
            forwarded_client(srv->trusted_proxies,
                             MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Forwarded-For"),
                             c->client_addr);
        request_id(conn, c->request_id);
        snprintf(c->rq.who.client_addr, sizeof c->rq.who.client_addr, "%s", c->client_addr);
        *con_cls = c;
        return first_call(c, conn, method, url);
    }
    if (c->answered) {
        /* Refused before the body: drop whatever still comes. */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (c->too_large || n > c->limit - c->len) {
            c->too_large = 1;
            return MHD_YES;
        }
        if (c->len + n + 1 > c->cap) {
            size_t cap = c->cap ? c->cap : 4096;
            while (cap < c->len + n + 1)
                cap *= 2;
            char *nb = realloc(c->buf, cap);
            if (!nb)
                return MHD_NO;
            c->buf = nb;
            c->cap = cap;
        }
        memcpy(c->buf + c->len, upload_data, n);
        c->len += n;
        c->buf[c->len] = '\0';
        return MHD_YES;
    }
    return last_call(c, conn, method, url);
}

static size_t status_slot(int status)
{
    for (size_t i = 0; i + 1 < KURA_API_STATUS_SLOTS; i++)
        if (kura_api_status_slots[i] == status)
            return i;
    return KURA_API_STATUS_SLOTS - 1;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct kura_api_server *srv = cls;
    conn_ctx *c = *con_cls;
    struct timespec end;
    int64_t us;
    size_t ri, b;
    (void)conn;
    (void)toe;
    if (!c)
        return;
    clock_gettime(CLOCK_MONOTONIC, &end);
    us = (int64_t)(end.tv_sec - c->start.tv_sec) * 1000000 +
         (int64_t)(end.tv_nsec - c->start.tv_nsec) / 1000;
    ri = c->route >= 0 ? (size_t)c->route : kura_route_count;
    atomic_fetch_add(&srv->stats[ri].by_status[status_slot(c->status)], 1);
    for (b = 0; b < KURA_API_BUCKETS && us > kura_api_bucket_us[b]; b++)
        ;
    size_t cl = c->status >= 100 && c->status < 600 ? (size_t)(c->status / 100 - 1) : 5;
    atomic_fetch_add(&srv->stats[ri].buckets[cl][b], 1);
    atomic_fetch_add(&srv->stats[ri].sum_us[cl], (uint64_t)(us > 0 ? us : 0));
    atomic_fetch_add(&srv->stats[ri].count[cl], 1);
    if (srv->cfg.log_requests) {
        /* One line per request: never a body, a token, a key or a query value. */
        kura_log_request lr = {
            c->request_id,
            c->route >= 0 ? kura_routes[c->route].method : "-",
            c->route >= 0 ? kura_routes[c->route].path
                          : c->is_static ? "(web page)" : "(unrouted)",
            c->status, (double)us / 1000.0, c->principal_id[0] ? c->principal_id : NULL};
        kura_log_http(&lr);
    }
    json_decref(c->rq.body);
    if (c->buf) {
        sodium_memzero(c->buf, c->cap); /* bodies carry passwords */
        free(c->buf);
    }
    sodium_memzero(c->rq.session_token, sizeof c->rq.session_token);
    sodium_memzero(c->rq.csrf, sizeof c->rq.csrf);
    free(c);
    *con_cls = NULL;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 0)))
#endif
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[1024];
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    kura_log(KURA_LOG_WARN, "http: %s", msg);
}

int kura_api_start(kura_api_server **out, kura_store *store, const kura_api_config *cfg,
                   char *errbuf, size_t errlen)
{
    struct kura_api_server *s;
    struct sockaddr_storage ss;
    unsigned flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    const char *addr = cfg->listen_addr ? cfg->listen_addr : "127.0.0.1";
    const union MHD_DaemonInfo *di;
    *out = NULL;
    if (sodium_init() < 0) {
        snprintf(errbuf, errlen, "libsodium failed to start");
        return -1;
    }
    memset(&ss, 0, sizeof ss);
    if (strchr(addr, ':')) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(cfg->port);
        if (inet_pton(AF_INET6, addr, &a6->sin6_addr) != 1) {
            snprintf(errbuf, errlen, "listen: '%s' is not an IPv6 address", addr);
            return -1;
        }
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        a4->sin_family = AF_INET;
        a4->sin_port = htons(cfg->port);
        if (inet_pton(AF_INET, addr, &a4->sin_addr) != 1) {
            snprintf(errbuf, errlen, "listen: '%s' is not an IPv4 address", addr);
            return -1;
        }
    }
    if ((cfg->tls_cert_pem == NULL) != (cfg->tls_key_pem == NULL)) {
        snprintf(errbuf, errlen, "TLS needs both a certificate and a key");
        return -1;
    }
    s = calloc(1, sizeof *s);
    if (!s || !(s->stats = calloc(kura_route_count + 1, sizeof *s->stats))) {
        free(s);
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    s->store = store;
    s->cfg = *cfg;
    if (!s->cfg.body_limit)
        s->cfg.body_limit = KURA_API_DEFAULT_BODY_LIMIT;
    if (!s->cfg.threads)
        s->cfg.threads = 4;
    s->cfg.listen_addr = NULL;
    s->cfg.tls_cert_pem = s->cfg.tls_key_pem = NULL;
    s->cfg.web_root = NULL;
    s->cfg.trusted_proxies = NULL;
    if ((cfg->web_root && *cfg->web_root && !(s->web_root = strdup(cfg->web_root))) ||
        (cfg->trusted_proxies && *cfg->trusted_proxies &&
         !(s->trusted_proxies = strdup(cfg->trusted_proxies)))) {
        kura_api_stop(s);
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    if (cfg->tls_cert_pem) {
        s->cert = strdup(cfg->tls_cert_pem);
        s->key = strdup(cfg->tls_key_pem);
        if (!s->cert || !s->key) {
            kura_api_stop(s);
            snprintf(errbuf, errlen, "out of memory");
            return -1;
        }
        s->tls = 1;
        flags |= MHD_USE_TLS;
    }
    if (s->tls)
        s->daemon = MHD_start_daemon(
            flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
            MHD_OPTION_THREAD_POOL_SIZE, s->cfg.threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
            s, MHD_OPTION_CONNECTION_TIMEOUT, 60u,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_HTTPS_MEM_CERT,
            s->cert, MHD_OPTION_HTTPS_MEM_KEY, s->key, MHD_OPTION_END);
    else
        s->daemon = MHD_start_daemon(
            flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
            MHD_OPTION_THREAD_POOL_SIZE, s->cfg.threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
            s, MHD_OPTION_CONNECTION_TIMEOUT, 60u,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_END);
    if (!s->daemon) {
        kura_api_stop(s);
        snprintf(errbuf, errlen, "cannot listen on %s port %u%s", addr, (unsigned)cfg->port,
                 cfg->tls_cert_pem ? " (or the TLS certificate/key is not usable)" : "");
        return -1;
    }
    di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : cfg->port;
    *out = s;
    return 0;
}

uint16_t kura_api_port(const kura_api_server *s)
{
    return s ? s->port : 0;
}

void kura_api_set_webhook_worker(kura_api_server *s, struct kura_webhook_worker *w)
{
    if (s)
        s->worker = w;
}

void kura_api_stop(kura_api_server *s)
{
    if (!s)
        return;
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    if (s->key) {
        sodium_memzero(s->key, strlen(s->key));
        free(s->key);
    }
    free(s->cert);
    free(s->web_root);
    free(s->trusted_proxies);
    free(s->stats);
    free(s);
}
