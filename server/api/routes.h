/*
 * server/api/routes.h — the one route table (routes.c) and what a handler
 * sees. Like Redis's command table, every route is declared once, with its
 * method, path, who may call it, what it takes and which handler runs; the
 * router (http.c), the route x role test (tests/server/test_api_routes.py,
 * through `kura-server routes`) and the OpenAPI check all read this table.
 */
#ifndef KURA_SERVER_API_ROUTES_H
#define KURA_SERVER_API_ROUTES_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include <jansson.h>

#include "api/api.h"
#include "api/compat.h"
#include "api/validate.h"

/* Route flags. */
#define KURA_ROUTE_PUBLIC 0x01u     /* no authentication at all (/healthz, sign-in) */
#define KURA_ROUTE_CREATES 0x02u    /* a creating POST: Idempotency-Key honoured */
#define KURA_ROUTE_NO_KEYS 0x04u    /* sessions only: API keys get 403 */
#define KURA_ROUTE_ANY_SCOPE 0x08u  /* API keys need no particular scope (who am I) */
#define KURA_ROUTE_SELF 0x10u       /* {id} is the caller's own user id or "me" */
#define KURA_ROUTE_ONE_TX 0x20u     /* creates in ONE transaction: its Idempotency-Key is
                                       claimed inside it (kura_idem.request_hash) */

/* Content types a route takes (bitset). */
#define KURA_CT_JSON 0x01u          /* application/json */
#define KURA_CT_OCTET 0x02u         /* application/octet-stream (a binary PSBT) */

/* Every role that may read (viewer and up). */
#define KURA_ROLES_READERS                                                                \
    (KURA_ROLE_BIT(KURA_ROLE_VIEWER) | KURA_ROLE_BIT(KURA_ROLE_INITIATOR) |               \
     KURA_ROLE_BIT(KURA_ROLE_APPROVER) | KURA_ROLE_BIT(KURA_ROLE_ADMINISTRATOR) |          \
     KURA_ROLE_BIT(KURA_ROLE_AUDITOR))
#define KURA_ROLES_ALL KURA_ROLES_READERS

#define KURA_API_QUERY_MAX 8
#define KURA_API_QUERY_NAMES 8

/* One request as a handler sees it, after the door has checked the route,
 * the caller, the body and the query. */
typedef struct kura_req {
    kura_store *store;
    const struct kura_route *route;
    const kura_api_config *cfg;
    struct kura_api_server *server;
    char id[65];                    /* the {id} segment ("" when the route has none) */
    kura_principal who;             /* the caller (kind 0 on public routes) */
    int by_session;                 /* 1: cookie session; 0: API key or public */
    char session_token[80];         /* the cookie's token (sessions only; never logged) */
    char csrf[80];                  /* the session's CSRF token (sessions only) */
    json_t *body;                   /* the validated JSON body, or NULL */
    const char *raw;                /* the raw body bytes (octet-stream routes) */
    size_t raw_len;
    int raw_is_octet;               /* 1 when the body came as application/octet-stream */
    const kura_idem *idem;          /* the Idempotency-Key, or NULL */
    struct { const char *name, *value; } query[KURA_API_QUERY_MAX];
    size_t nquery;
    const char *cursor;             /* validated ?cursor= or NULL */
    size_t limit;                   /* validated ?limit= (default 50) */
    int64_t now;
} kura_req;

/* What a handler answers. Either json (sent as application/json) or body
 * (malloc'd bytes sent with content_type). */
typedef struct kura_resp {
    int status;                     /* 200 when left 0 */
    json_t *json;                   /* owned */
    char *body;                     /* owned (malloc) */
    size_t len;
    FILE *file;                     /* owned: sent from its start, len bytes (a large
                                       answer spooled to an unlinked temporary file) */
    const char *content_type;
    char disposition[160];          /* Content-Disposition, "" none */
    char set_cookie[300];           /* Set-Cookie, "" none */
} kura_resp;

/* A handler: returns 0 with rs filled, or a positive problem code with p filled. */
typedef int (*kura_handler_fn)(kura_req *rq, kura_resp *rs, kura_problem *p);

typedef struct kura_route {
    const char *method;             /* "GET", "POST", "PATCH", "DELETE" */
    const char *path;               /* "/v1/transfers/{id}/intent": at most one {id} */
    uint32_t roles;                 /* KURA_ROLE_BIT set allowed; 0 with KURA_ROUTE_PUBLIC */
    uint32_t scope;                 /* the API-key scope needed (0: see flags) */
    unsigned flags;                 /* KURA_ROUTE_* */
    size_t body_limit;              /* bytes; 0: the server's body_limit */
    unsigned content_types;         /* KURA_CT_* taken; 0: no body expected */
    const kura_body_spec *body;     /* JSON rules (NULL: no JSON body) */
    const char *const *query;       /* query parameters taken besides cursor/limit; NULL none */
    int paginated;                  /* 1: ?cursor=&limit= taken */
    kura_handler_fn handler;
    const char *operation_id;       /* the OpenAPI operationId */
    const char *summary;            /* one line for the docs */
} kura_route;

extern const kura_route kura_routes[];
extern const size_t kura_route_count;

/* Finds the route for method and path. Returns the index into kura_routes,
 * -1 when no route has this path (NOT_FOUND), -2 when the path exists with
 * other methods (METHOD_NOT_ALLOWED). id_out (65 bytes) receives the {id}
 * segment ("" none); a segment that is not 1..64 of [A-Za-z0-9_-] does not
 * match. */
int kura_route_find(const char *method, const char *path, char id_out[65]);

/* The route table as JSON (method, path, roles by name, scope by name,
 * flags, operation id), for `kura-server routes` and the tests. */
json_t *kura_route_table_json(void);

/* Names of roles and scopes (the people layer's names), for the table dump. */
const char *kura_api_role_name(kura_role r);
const char *kura_api_scope_name(uint32_t bit);

/* The handlers (handlers_*.c). */
int kura_h_healthz(kura_req *, kura_resp *, kura_problem *);
int kura_h_metrics(kura_req *, kura_resp *, kura_problem *);
int kura_h_session_create(kura_req *, kura_resp *, kura_problem *);
int kura_h_session_get(kura_req *, kura_resp *, kura_problem *);
int kura_h_session_delete(kura_req *, kura_resp *, kura_problem *);
int kura_h_wallet_list(kura_req *, kura_resp *, kura_problem *);
int kura_h_wallet_create(kura_req *, kura_resp *, kura_problem *);
int kura_h_wallet_get(kura_req *, kura_resp *, kura_problem *);
int kura_h_wallet_policy(kura_req *, kura_resp *, kura_problem *);
int kura_h_address_create(kura_req *, kura_resp *, kura_problem *);
int kura_h_address_list(kura_req *, kura_resp *, kura_problem *);
int kura_h_deposit_list(kura_req *, kura_resp *, kura_problem *);
int kura_h_deposit_get(kura_req *, kura_resp *, kura_problem *);
int kura_h_wallet_balance(kura_req *, kura_resp *, kura_problem *);
int kura_h_chain_status(kura_req *, kura_resp *, kura_problem *);
int kura_h_wallet_rescan(kura_req *, kura_resp *, kura_problem *);
int kura_h_wallet_rescan_get(kura_req *, kura_resp *, kura_problem *);
int kura_h_transfer_chain(kura_req *, kura_resp *, kura_problem *);
int kura_h_transfer_create(kura_req *, kura_resp *, kura_problem *);
int kura_h_transfer_list(kura_req *, kura_resp *, kura_problem *);
int kura_h_transfer_get(kura_req *, kura_resp *, kura_problem *);
int kura_h_transfer_intent(kura_req *, kura_resp *, kura_problem *);
int kura_h_transfer_approve(kura_req *, kura_resp *, kura_problem *);
int kura_h_transfer_reject(kura_req *, kura_resp *, kura_problem *);
int kura_h_transfer_package(kura_req *, kura_resp *, kura_problem *);
int kura_h_transfer_signatures(kura_req *, kura_resp *, kura_problem *);
int kura_h_transfer_import(kura_req *, kura_resp *, kura_problem *);
int kura_h_transfer_cancel(kura_req *, kura_resp *, kura_problem *);
int kura_h_transfer_bump(kura_req *, kura_resp *, kura_problem *);
int kura_h_transfer_tx(kura_req *, kura_resp *, kura_problem *);
int kura_h_audit_list(kura_req *, kura_resp *, kura_problem *);
int kura_h_audit_verify(kura_req *, kura_resp *, kura_problem *);
int kura_h_user_list(kura_req *, kura_resp *, kura_problem *);
int kura_h_user_create(kura_req *, kura_resp *, kura_problem *);
int kura_h_user_get(kura_req *, kura_resp *, kura_problem *);
int kura_h_user_update(kura_req *, kura_resp *, kura_problem *);
int kura_h_totp_enroll(kura_req *, kura_resp *, kura_problem *);
int kura_h_totp_confirm(kura_req *, kura_resp *, kura_problem *);
int kura_h_apikey_list(kura_req *, kura_resp *, kura_problem *);
int kura_h_apikey_create(kura_req *, kura_resp *, kura_problem *);
int kura_h_apikey_revoke(kura_req *, kura_resp *, kura_problem *);
int kura_h_webhook_list(kura_req *, kura_resp *, kura_problem *);
int kura_h_webhook_create(kura_req *, kura_resp *, kura_problem *);
int kura_h_webhook_get(kura_req *, kura_resp *, kura_problem *);
int kura_h_webhook_delete(kura_req *, kura_resp *, kura_problem *);
int kura_h_webhook_deliveries(kura_req *, kura_resp *, kura_problem *);
int kura_h_webhook_redeliver(kura_req *, kura_resp *, kura_problem *);
int kura_h_withdrawal_create(kura_req *, kura_resp *, kura_problem *);
int kura_h_withdrawal_list(kura_req *, kura_resp *, kura_problem *);
int kura_h_withdrawal_get(kura_req *, kura_resp *, kura_problem *);
int kura_h_withdrawal_cancel(kura_req *, kura_resp *, kura_problem *);
int kura_h_batch_create(kura_req *, kura_resp *, kura_problem *);

/* Shared by handlers: a query parameter's value or NULL. */
const char *kura_req_query(const kura_req *rq, const char *name);
/* Answers "this area is not wired into this build" (503 UNAVAILABLE). */
int kura_h_not_wired(kura_problem *p, const char *area);

#endif /* KURA_SERVER_API_ROUTES_H */
