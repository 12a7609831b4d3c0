#!/usr/bin/env python3
"""tests/server/test_api_input.py — bad input at the door of the real
kura-server, for every route that takes a body (read from `kura-server
routes`), each answered with its stable error and changing nothing:

  a declared Content-Length over the route's limit   413 BODY_TOO_LARGE (before the body)
  a chunked body over the limit                      413 BODY_TOO_LARGE (while reading)
  malformed JSON, a non-object, duplicate keys       400 BAD_JSON
  a wrong Content-Type                               415 UNSUPPORTED_MEDIA_TYPE
  an unknown field                                   400 UNKNOWN_FIELD
  a wrong type                                       400 INVALID_FIELD
  SQL metacharacters in every string field           a stable 4xx code and nothing changed,
                                                     or (a free-text field) accepted verbatim
                                                     with the audit chain intact

"Nothing changed" is checked by the audit chain's head and the number of
users, API keys, wallets, transfers and webhooks before and after. Also: bad
query parameters, unknown routes and methods, bodies on routes that take
none, and Idempotency-Key replays and reuse.
"""
import json
import secrets
import socket

from kura_api_harness import (ApiKey, ROLES, check, main, new_password, routes, signin)

MISSING_ID = "zz_0000000000000000000000000000"
SQL = ["'; DROP TABLE users; --", "\" OR \"1\"=\"1", "x' OR '1'='1' --", "$1", "?1 %' _",
       "\\'; SELECT pg_sleep(5); --", "a'); DELETE FROM audit_log; --"]
STABLE = None


def plausible(srv, schema, depth=0):
    s = srv.schemas.resolve(schema)
    t = s.get("type")
    t = t[0] if isinstance(t, list) else t
    if "enum" in s:
        return s["enum"][0]
    if t == "string":
        n = max(s.get("minLength", 1), 1)
        if "pattern" in s and "0-9]+$" in s["pattern"] and "a-z" not in s["pattern"]:
            return "1" * n
        return ("abcdefghijkl" * 8)[:max(n, 3)] if s.get("maxLength", 99) >= 3 else "a" * n
    if t == "integer":
        return max(s.get("minimum", 1), 1)
    if t == "boolean":
        return False
    if t == "array":
        return [plausible(srv, s["items"], depth + 1)]
    if t == "object":
        return {k: plausible(srv, v, depth + 1) for k, v in s.get("properties", {}).items()
                if k in s.get("required", [])}
    return None


def string_fields(srv, schema, prefix=()):
    """Paths to every string (or string-array item) in the body schema."""
    s = srv.schemas.resolve(schema)
    out = []
    for k, v in s.get("properties", {}).items():
        v = srv.schemas.resolve(v)
        t = v.get("type")
        if t == "string" and "enum" not in v:
            out.append((prefix + (k,), v))
        elif t == "array":
            it = srv.schemas.resolve(v["items"])
            if it.get("type") == "string":
                out.append((prefix + (k, 0), it))
            elif it.get("type") == "object":
                out += string_fields(srv, it, prefix + (k, 0))
    return out


def set_path(body, path, value):
    """Sets body[path] = value, making optional containers on the way."""
    node = body
    for i, p in enumerate(path[:-1]):
        nxt = path[i + 1]
        if isinstance(node, dict) and p not in node:
            node[p] = [None] if isinstance(nxt, int) else {}
        node = node[p]
    last = path[-1]
    if isinstance(node, list) and last >= len(node):
        node.append(value)
    else:
        node[last] = value


def run(srv):
    global STABLE
    STABLE = set(srv.doc["components"]["schemas"]["Error"]["properties"]["error"]["enum"])
    table = routes(srv)
    admin_pw = new_password()
    srv.user_add("admin", "administrator", admin_pw)
    srv.start()
    admin = signin(srv, "admin", admin_pw)
    sessions = {"administrator": admin}
    for role in ROLES:
        if role == "administrator":
            continue
        pw = new_password()
        body = {"username": "u-" + role, "password": pw, "role": role}
        if role == "approver":
            body["approver_name"] = "appr-one"
        check(srv.request("POST", "/v1/users", body, auth=admin).status == 201, "user " + role)
        sessions[role] = signin(srv, "u-" + role, pw)

    def state():
        r = srv.request("POST", "/v1/audit/verify", {}, auth=admin)
        check(r.status == 200 and r.json()["ok"], "audit verify: %r" % r)
        head = json.dumps(r.json()["head"], sort_keys=True)
        counts = {}
        for coll in ("users", "api-keys", "wallets", "transfers", "webhooks"):
            r = srv.request("GET", "/v1/%s?limit=500" % coll, auth=admin)
            check(r.status == 200, "list %s: %r" % (coll, r))
            counts[coll] = len(r.json()["items"])
        return (head, counts)

    # Real objects where the route names one, so the field reaches the domain.
    r = srv.request("POST", "/v1/webhooks", {"url": "http://127.0.0.1:9/hook", "events": "transfer.*"}, auth=admin)
    check(r.status == 201, "webhook: %r" % r)
    real = {"/v1/webhooks/": r.json()["id"], "/v1/users/": sessions["viewer"].user["id"]}

    def who(rt):
        if rt["public"]:
            return None
        return sessions[rt["roles"][0]]

    def path(rt):
        if rt["self"]:
            return rt["path"].replace("{id}", "me")
        for prefix, oid in real.items():
            if rt["path"].startswith(prefix) and rt["method"] != "DELETE":
                return rt["path"].replace("{id}", oid)
        return rt["path"].replace("{id}", MISSING_ID)

    def expect(r, status, code, label):
        check(r.status == status and r.error == code, "%s: want %d %s, got %r" % (label, status, code, r))

    limit_default = 1 << 20
    changed_ok = 0
    refused = 0
    for rt in table:
        if not rt["content_types"]:
            continue
        label = "%s %s" % (rt["method"], rt["path"])
        auth, p = who(rt), path(rt)
        limit = rt["body_limit"] or limit_default
        before = state()

        # Over the limit, declared: refused from the headers alone.
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=60)
        hdr = "%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % (
            rt["method"], p, limit + 1)
        if auth:
            h = {}
            auth.apply(h, rt["method"])
            hdr += "".join("%s: %s\r\n" % kv for kv in h.items())
        s.sendall((hdr + "\r\n").encode())
        resp = s.recv(65536).decode(errors="replace")
        s.close()
        check(resp.startswith("HTTP/1.1 413") and "BODY_TOO_LARGE" in resp, "%s: declared oversize: %s" % (label, resp[:200]))

        # Over the limit, chunked (no length known up front).
        if limit <= limit_default:
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=60)
            hdr = "%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n" % (rt["method"], p)
            if auth:
                h = {}
                auth.apply(h, rt["method"])
                hdr += "".join("%s: %s\r\n" % kv for kv in h.items())
            s.sendall((hdr + "\r\n").encode())
            chunk = b"x" * 65536
            sent = 0
            try:
                while sent <= limit:
                    s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                    sent += len(chunk)
                s.sendall(b"0\r\n\r\n")
            except OSError:
                pass
            resp = s.recv(65536).decode(errors="replace")
            s.close()
            check(resp.startswith("HTTP/1.1 413") and "BODY_TOO_LARGE" in resp, "%s: chunked oversize: %s" % (label, resp[:200]))

        for bad in ('{"a":', '[]', '"text"', '{"x":1,"x":2}', '\x00', '{"a":1}garbage', '\xff\xfe'):
            r = srv.request(rt["method"], p, bad.encode("latin-1"), auth=auth)
            expect(r, 400, "BAD_JSON" if bad not in ('{"x":1,"x":2}',) else "BAD_JSON", "%s body %r" % (label, bad))
        for ct in ("text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1", "multipart/form-data"):
            if ct == "application/octet-stream":
                continue
            r = srv.request(rt["method"], p, "{}", auth=auth, ctype=ct)
            expect(r, 415, "UNSUPPORTED_MEDIA_TYPE", "%s as %s" % (label, ct))
        r = srv.request(rt["method"], p, {"zz_unknown_field": 1}, auth=auth)
        expect(r, 400, "UNKNOWN_FIELD", label + " unknown field")

        op = srv.doc["paths"][rt["path"]][rt["method"].lower()]
        bschema = op["requestBody"]["content"]["application/json"]["schema"]
        base = plausible(srv, bschema)
        for f in rt.get("fields", []):
            wrong = {"string": 12, "integer": "12", "boolean": "yes", "strings": "x", "objects": {"a": 1}}[f["type"]]
            b = dict(base)
            b[f["name"]] = wrong
            r = srv.request(rt["method"], p, b, auth=auth)
            expect(r, 400, "INVALID_FIELD", "%s %s of the wrong type" % (label, f["name"]))
        check(state() == before, "%s: bad input changed something" % label)

        for fpath, fs in string_fields(srv, bschema):
            for payload in SQL:
                b = json.loads(json.dumps(base))
                v = payload[:fs.get("maxLength", 1 << 30)]
                set_path(b, fpath, v)
                before = state()
                r = srv.request(rt["method"], p, b, auth=auth, idem=secrets.token_hex(8) if rt["creates"] else None)
                lab = "%s %s=%r" % (label, ".".join(map(str, fpath)), v)
                check(r.status < 500, "%s: server error %r" % (lab, r))
                if r.status >= 400:
                    check(r.error in STABLE, "%s: unstable error %r" % (lab, r))
                    after = state()
                    if rt["path"] == "/v1/session":
                        check(after[1] == before[1], "%s: a refused sign-in changed counts" % lab)
                    else:
                        check(after == before, "%s: refused, yet something changed" % lab)
                    refused += 1
                else:
                    # Accepted as data: stored verbatim, nothing else touched.
                    text = r.body.decode()
                    check(json.dumps(v)[1:-1] in text or rt["path"] == "/v1/users/{id}/totp" or "password" in fpath,
                          "%s: value not kept verbatim: %s" % (lab, text[:200]))
                    changed_ok += 1
    # Refused requests leave the chain as it was; accepted ones extend it validly.
    state()

    # Routes that take no body refuse one.
    r = srv.request("GET", "/v1/wallets", "{}", auth=admin)
    expect(r, 400, "BAD_REQUEST", "GET with a body")
    r = srv.request("DELETE", "/v1/api-keys/" + MISSING_ID, "{}", auth=admin)
    expect(r, 400, "BAD_REQUEST", "DELETE with a body")

    # Query parameters.
    for q, code in (("limit=0", "INVALID_FIELD"), ("limit=501", "INVALID_FIELD"), ("limit=-1", "INVALID_FIELD"),
                    ("limit=abc", "INVALID_FIELD"), ("limit=1e2", "INVALID_FIELD"), ("cursor=a'b", "BAD_CURSOR"),
                    ("cursor=" + "a" * 65, "BAD_CURSOR"), ("zzz=1", "BAD_REQUEST"), ("limit=1&limit=2", "BAD_REQUEST")):
        r = srv.request("GET", "/v1/users?" + q, auth=admin)
        expect(r, 400, code, "?" + q)
    r = srv.request("GET", "/v1/audit?format=xml", auth=admin)
    expect(r, 400, "INVALID_FIELD", "audit format")
    r = srv.request("GET", "/v1/audit?from=yesterday", auth=admin)
    expect(r, 400, "INVALID_FIELD", "audit from")

    # Routes and methods.
    expect(srv.request("GET", "/v1/nothing", auth=admin), 404, "NOT_FOUND", "unknown route")
    expect(srv.request("GET", "/v1/transfers/a'b", auth=admin), 404, "NOT_FOUND", "bad id segment")
    r = srv.request("PUT", "/v1/wallets", "{}", auth=admin)
    expect(r, 405, "METHOD_NOT_ALLOWED", "PUT /v1/wallets")
    check("GET" in r.headers.get("allow", "") and "POST" in r.headers.get("allow", ""), "Allow: %r" % r.headers.get("allow"))

    # Idempotency-Key: the first answer again; another body with the key: 422.
    key = secrets.token_hex(8)
    body = {"username": "idem-user", "password": new_password(), "role": "viewer"}
    r1 = srv.request("POST", "/v1/users", body, auth=admin, idem=key)
    r2 = srv.request("POST", "/v1/users", body, auth=admin, idem=key)
    check(r1.status == 201 and r2.status == 201 and r1.json() == r2.json(), "replay: %r / %r" % (r1, r2))
    body2 = dict(body, username="idem-user2")
    r3 = srv.request("POST", "/v1/users", body2, auth=admin, idem=key)
    expect(r3, 422, "IDEMPOTENCY_KEY_REUSED", "key reused")
    r4 = srv.request("POST", "/v1/users", body, auth=admin, idem="bad key with spaces")
    expect(r4, 400, "BAD_REQUEST", "malformed Idempotency-Key")
    users = srv.request("GET", "/v1/users?limit=500", auth=admin).json()["items"]
    check(sum(1 for u in users if u["username"].startswith("idem-user")) == 1, "idempotent create made one user")

    # The same for a webhook endpoint (its answer is recorded inside the
    # endpoint's own creating transaction).
    key = secrets.token_hex(8)
    hook = {"url": "http://127.0.0.1:9/idem-hook", "events": "transfer.*"}
    r1 = srv.request("POST", "/v1/webhooks", hook, auth=admin, idem=key)
    r2 = srv.request("POST", "/v1/webhooks", hook, auth=admin, idem=key)
    check(r1.status == 201 and r2.status == 201 and r1.json() == r2.json(), "webhook replay: %r / %r" % (r1, r2))
    expect(srv.request("POST", "/v1/webhooks", dict(hook, events="*"), auth=admin, idem=key),
           422, "IDEMPOTENCY_KEY_REUSED", "webhook key reused")
    hooks = srv.request("GET", "/v1/webhooks?limit=500", auth=admin).json()["items"]
    check(sum(1 for h in hooks if h["url"].endswith("/idem-hook")) == 1, "idempotent create made one endpoint")

    srv.stop()
    print("bad-input routes checked; SQL payloads refused: %d, kept verbatim: %d" % (refused, changed_ok))


if __name__ == "__main__":
    main(run)
