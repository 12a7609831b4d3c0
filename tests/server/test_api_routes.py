#!/usr/bin/env python3
"""tests/server/test_api_routes.py — EVERY route x role (x API-key scope) pair
on the real kura-server, read from its own route table (`kura-server routes`):

  anonymous                        public route: not 401/403; else exactly 401 UNAUTHENTICATED
  a session of each role           role allowed: not 401/403 (and no 5xx); else exactly 403 FORBIDDEN
  an API key of each role holding  role allowed and keys taken: not 401/403; else exactly 403
    exactly the route's scope
  an API key of each role holding  exactly 403 (the scope is what is missing)
    every scope but the route's

plus CSRF (a session's unsafe request without or with a wrong X-CSRF-Token is
403 CSRF_FAILED), revoked and malformed keys (401), and every answer held
against docs/openapi.json.
"""
import secrets

from kura_api_harness import (ApiKey, ROLES, SCOPES, check, main, new_password, routes,
                              signin)

MISSING_ID = "zz_0000000000000000000000000000"


def run(srv):
    table = routes(srv)
    admin_pw = new_password()
    srv.user_add("admin", "administrator", admin_pw)
    srv.start()
    admin = signin(srv, "admin", admin_pw)

    sessions = {}
    for role in ROLES:
        pw = new_password()
        body = {"username": "u-" + role, "password": pw, "role": role}
        if role == "approver":
            body["approver_name"] = "appr-one"
        r = srv.request("POST", "/v1/users", body, auth=admin, idem=secrets.token_hex(8))
        check(r.status == 201, "create user %s: %r" % (role, r))
        sessions[role] = signin(srv, "u-" + role, pw)

    def make_key(role, scopes):
        r = srv.request("POST", "/v1/api-keys",
                        {"name": "k-%s-%d" % (role, len(keys)), "role": role, "scopes": scopes},
                        auth=admin, idem=secrets.token_hex(8))
        check(r.status == 201, "create key %s %s: %r" % (role, scopes, r))
        return ApiKey(r.json()["key"], r.json())

    keys = {}
    for role in ROLES:
        keys[(role, "*")] = make_key(role, SCOPES)
        for s in SCOPES:
            keys[(role, s)] = make_key(role, [s])
            keys[(role, "-" + s)] = make_key(role, [x for x in SCOPES if x != s])

    def call(route, auth):
        path = route["path"].replace("{id}", "me" if route["self"] else MISSING_ID)
        body = None
        if route["content_types"]:
            body = {}
        idem = secrets.token_hex(8) if route["creates"] else None
        return srv.request(route["method"], path, body, auth=auth, idem=idem)

    def expect(route, who, r, allowed, anonymous=False):
        label = "%s %s as %s" % (route["method"], route["path"], who)
        if allowed:
            check(r.status not in (401, 403), "%s: allowed, got %r" % (label, r))
            check(r.status < 500, "%s: server error %r" % (label, r))
        elif anonymous:
            check(r.status == 401 and r.error == "UNAUTHENTICATED", "%s: want 401, got %r" % (label, r))
        else:
            check(r.status == 403 and r.error == "FORBIDDEN", "%s: want 403, got %r" % (label, r))

    # Own-user routes: another user's id is refused even to an administrator.
    other = sessions["viewer"].user["id"]
    r = srv.request("POST", "/v1/users/%s/totp" % other, {}, auth=sessions["administrator"])
    check(r.status == 403 and r.error == "FORBIDDEN", "TOTP of another user: %r" % r)
    r = srv.request("POST", "/v1/users/%s/totp" % other, {}, auth=sessions["viewer"])
    check(r.status == 200, "TOTP of oneself by id: %r" % r)

    pairs = 0
    # Sign-out ends the session the other checks use: it goes last.
    ordered = sorted(table, key=lambda rt: rt["method"] == "DELETE" and rt["path"] == "/v1/session")
    for rt in ordered:
        expect(rt, "anonymous", call(rt, None), rt["public"], anonymous=True)
        pairs += 1
        for role in ROLES:
            allowed = rt["public"] or role in rt["roles"]
            expect(rt, role + " session", call(rt, sessions[role]), allowed)
            pairs += 1
            if rt["public"]:
                continue
            scope = rt["scope"]
            k = keys[(role, scope if scope else "*")]
            expect(rt, "%s key [%s]" % (role, scope), call(rt, k), allowed and rt["keys"])
            pairs += 1
            if scope:
                expect(rt, "%s key without %s" % (role, scope), call(rt, keys[(role, "-" + scope)]),
                       False)
                pairs += 1

    # CSRF: sessions must prove they read the token on unsafe methods.
    aud = signin(srv, "admin", admin_pw)
    aud.send_csrf = False
    r = srv.request("POST", "/v1/audit/verify", {}, auth=aud)
    check(r.status == 403 and r.error == "CSRF_FAILED", "no CSRF token: %r" % r)
    r = srv.request("POST", "/v1/audit/verify", {}, auth=aud, headers={"X-CSRF-Token": "0" * 64})
    check(r.status == 403 and r.error == "CSRF_FAILED", "wrong CSRF token: %r" % r)
    aud.send_csrf = True
    r = srv.request("POST", "/v1/audit/verify", {}, auth=aud)
    check(r.status == 200 and r.json()["ok"] is True, "audit verify: %r" % r)

    # Keys: revoked, malformed, wrong scheme.
    k = keys[("auditor", "*")]
    r = srv.request("DELETE", "/v1/api-keys/" + k.info["id"], auth=aud)
    check(r.status == 200, "revoke: %r" % r)
    r = srv.request("GET", "/v1/wallets", auth=k)
    check(r.status == 401 and r.error == "UNAUTHENTICATED", "revoked key: %r" % r)
    for bad in ("Bearer nonsense", "Bearer " + "kura_" + "0" * 16 + "_" + "0" * 64, "Basic YTpi", "Bearer"):
        r = srv.request("GET", "/v1/wallets", headers={"Authorization": bad})
        check(r.status == 401 and r.error == "UNAUTHENTICATED", "%s: %r" % (bad, r))
    r = srv.request("GET", "/v1/wallets", headers={"Cookie": "kura_session=" + "ab" * 32})
    check(r.status == 401, "unknown session: %r" % r)

    srv.stop()
    print("route x role pairs checked: %d over %d routes" % (pairs, len(table)))


if __name__ == "__main__":
    main(run)
