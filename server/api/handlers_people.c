/*
 * server/api/handlers_people.c — sessions, users, TOTP and API keys: each
 * handler reads its validated request and makes one people-layer call
 * (domain/people.h).
 */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define SESSION_COOKIE "kura_session"

static void session_cookie(kura_req *rq, kura_resp *rs, const char *token, int64_t max_age)
{
    snprintf(rs->set_cookie, sizeof rs->set_cookie,
             SESSION_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s", token,
             (long long)max_age, rq->server->tls ? "; Secure" : "");
}

int kura_h_session_create(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    kura_session_token tok;
    json_t *user = NULL;
    int rc = kura_session_signin(rq->store, kura_api_str(rq->body, "username", ""),
                                 kura_api_str(rq->body, "password", ""),
                                 kura_api_str(rq->body, "totp", NULL), rq->who.client_addr,
                                 rq->now, &tok, &user, p);
    if (rc)
        return rc;
    session_cookie(rq, rs, tok.token, tok.expires_at - rq->now);
    rs->status = 201;
    rs->json = json_pack("{s:o, s:s, s:I}", "user", user, "csrf_token", tok.csrf, "expires_at",
                         (json_int_t)tok.expires_at);
    sodium_memzero(&tok, sizeof tok);
    return rs->json ? 0 : kura_problem_set(p, KURA_PROBLEM_INTERNAL, "out of memory");
}

static json_t *scopes_json(uint32_t scopes)
{
    json_t *a = json_array();
    for (unsigned i = 0; i < 32; i++)
        if (scopes & (1u << i)) {
            const char *n = kura_scope_name(1u << i);
            if (n)
                json_array_append_new(a, json_string(n));
        }
    return a;
}

int kura_h_session_get(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    const kura_principal *w = &rq->who;
    json_t *pr = json_pack("{s:s, s:s, s:s, s:s}", "kind",
                           w->kind == KURA_PRINCIPAL_API_KEY ? "api_key" : "user", "id", w->id,
                           "name", w->name, "role", kura_role_name(w->role));
    if (!pr)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "out of memory");
    if (w->approver_name[0])
        json_object_set_new(pr, "approver_name", json_string(w->approver_name));
    if (w->kind == KURA_PRINCIPAL_API_KEY)
        json_object_set_new(pr, "scopes", scopes_json(w->scopes));
    rs->json = json_pack("{s:o}", "principal", pr);
    if (rs->json && rq->by_session)
        json_object_set_new(rs->json, "csrf_token", json_string(rq->csrf));
    return rs->json ? 0 : kura_problem_set(p, KURA_PROBLEM_INTERNAL, "out of memory");
}

int kura_h_session_delete(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    int rc = kura_session_signout(rq->store, rq->session_token, rq->now, p);
    if (rc)
        return rc;
    session_cookie(rq, rs, "", 0);
    rs->status = 204;
    return 0;
}

/* ---- users ---- */

int kura_h_user_list(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    return kura_user_list(rq->store, rq->cursor, rq->limit, &rs->json, p);
}

int kura_h_user_create(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    kura_role role = KURA_ROLE_NONE;
    if (kura_role_parse(kura_api_str(rq->body, "role", ""), &role))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "role: unknown");
    rs->status = 201;
    return kura_user_create(rq->store, &rq->who, kura_api_str(rq->body, "username", ""),
                            kura_api_str(rq->body, "password", ""), role,
                            kura_api_str(rq->body, "approver_name", NULL), rq->idem, rq->now,
                            &rs->json, p);
}

int kura_h_user_get(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    return kura_user_get(rq->store, rq->id, &rs->json, p);
}

int kura_h_user_update(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    kura_user_changes ch = {KURA_ROLE_NONE, -1, NULL};
    const json_t *d = json_object_get(rq->body, "disabled");
    const char *role = kura_api_str(rq->body, "role", NULL);
    if (role && kura_role_parse(role, &ch.role))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "role: unknown");
    if (d)
        ch.disabled = json_is_true(d) ? 1 : 0;
    ch.approver_name = kura_api_str(rq->body, "approver_name", NULL);
    return kura_user_update(rq->store, &rq->who, rq->id, &ch, rq->now, &rs->json, p);
}

int kura_h_totp_enroll(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    return kura_user_totp_enroll(rq->store, &rq->who, rq->id, rq->now, &rs->json, p);
}

int kura_h_totp_confirm(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    int rc = kura_user_totp_confirm(rq->store, &rq->who, rq->id,
                                    kura_api_str(rq->body, "code", ""), rq->now, p);
    if (rc)
        return rc;
    return kura_user_get(rq->store, rq->id, &rs->json, p);
}

/* ---- API keys ---- */

int kura_h_apikey_list(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    return kura_apikey_list(rq->store, rq->cursor, rq->limit, &rs->json, p);
}

int kura_h_apikey_create(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    kura_role role = KURA_ROLE_NONE;
    uint32_t scopes = 0, bit;
    const json_t *sc = json_object_get(rq->body, "scopes");
    const json_t *ci = json_object_get(rq->body, "cidrs");
    char cidrs[64 * 66 + 1];
    size_t used = 0;
    if (kura_role_parse(kura_api_str(rq->body, "role", ""), &role))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "role: unknown");
    for (size_t i = 0; i < json_array_size(sc); i++) {
        const char *n = json_string_value(json_array_get(sc, i));
        if (kura_scope_parse(n, &bit))
            return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "scopes[%zu]: unknown scope", i);
        scopes |= bit;
    }
    cidrs[0] = '\0';
    for (size_t i = 0; i < json_array_size(ci); i++) {
        const char *c = json_string_value(json_array_get(ci, i));
        size_t n = strlen(c); /* at most 64 by the body rules */
        if (used + n + 2 > sizeof cidrs)
            return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "cidrs: too long");
        if (used)
            cidrs[used++] = ' ';
        memcpy(cidrs + used, c, n + 1);
        used += n;
    }
    rs->status = 201;
    return kura_apikey_create(rq->store, &rq->who, kura_api_str(rq->body, "name", ""), role, scopes,
                              cidrs, kura_api_int(rq->body, "expires_at", 0), rq->idem, rq->now,
                              &rs->json, p);
}

int kura_h_apikey_revoke(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    return kura_apikey_revoke(rq->store, &rq->who, rq->id, rq->now, &rs->json, p);
}
