#!/usr/bin/env python3
"""tests/server/test_api_openapi.py — docs/openapi.json held against the
route table (`kura-server routes`) both ways, and against the running
server's answers:

  every route is documented, and every documented path + method is routed;
  x-kura-roles, x-kura-scope, x-kura-api-keys, x-kura-creates equal the table;
  the request body's properties and required fields equal the route's
  declared rules; the query parameters equal the route's;
  real answers of a running server (sign-in, who am I, users, keys,
  webhooks, deliveries, audit list/export/verify, lists, health, metrics,
  errors) are valid against the documented schemas (kura_api_harness).
"""
import json
import re
import secrets

from kura_api_harness import ROLES, check, main, new_password, routes, signin


def run(srv):
    doc = srv.doc
    table = routes(srv)
    routed = {(r["method"].lower(), r["path"]) for r in table}
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    check(routed - documented == set(), "routed but not documented: %s" % sorted(routed - documented))
    check(documented - routed == set(), "documented but not routed: %s" % sorted(documented - routed))
    ids = set()
    for r in table:
        op = doc["paths"][r["path"]][r["method"].lower()]
        where = "%s %s" % (r["method"], r["path"])
        check(op["operationId"] == r["operation_id"], where + ": operationId")
        check(op["operationId"] not in ids, where + ": operationId used twice")
        ids.add(op["operationId"])
        check(sorted(op["x-kura-roles"]) == sorted(r["roles"]), where + ": x-kura-roles %s vs %s" % (op["x-kura-roles"], r["roles"]))
        check(op["x-kura-scope"] == r["scope"], where + ": x-kura-scope")
        check(op["x-kura-api-keys"] == r["keys"], where + ": x-kura-api-keys")
        check(bool(op.get("x-kura-creates")) == r["creates"], where + ": x-kura-creates")
        check((op.get("security") == []) == r["public"], where + ": security (public)")
        qnames = sorted(p["name"] if "name" in p else doc["components"]["parameters"][p["$ref"].split("/")[-1]]["name"]
                        for p in op.get("parameters", [])
                        if (p.get("in") or doc["components"]["parameters"].get(p.get("$ref", "/").split("/")[-1], {}).get("in")) == "query")
        check(qnames == sorted(r["query"]), where + ": query parameters %s vs %s" % (qnames, r["query"]))
        if r["body"]:
            content = op["requestBody"]["content"]
            types = sorted(content)
            check(types == sorted(r["content_types"]), where + ": request content types %s" % types)
            sch = srv.schemas.resolve(content["application/json"]["schema"])
            check(sorted(sch["properties"]) == sorted(f["name"] for f in r["fields"]), where + ": body fields")
            check(sorted(sch.get("required", [])) == sorted(f["name"] for f in r["fields"] if f["required"]),
                  where + ": required fields")
            check(sch.get("additionalProperties") is False, where + ": unknown fields are refused, say so")
        else:
            check("requestBody" not in op, where + ": documents a body it does not take")
    codes = doc["components"]["schemas"]["Error"]["properties"]["error"]["enum"]
    check(len(codes) == len(set(codes)) and "UNKNOWN_FIELD" in codes, "error codes")

    # Real answers, each validated by the harness against the document.
    pw = new_password()
    srv.user_add("admin", "administrator", pw)
    srv.start()
    admin = signin(srv, "admin", pw)
    check(srv.request("GET", "/v1/session", auth=admin).status == 200, "who am I")
    users = {}
    for role in ROLES:
        body = {"username": "o-" + role, "password": new_password(), "role": role}
        if role == "approver":
            body["approver_name"] = "appr-two"
        r = srv.request("POST", "/v1/users", body, auth=admin, idem=secrets.token_hex(6))
        check(r.status == 201, "user: %r" % r)
        users[role] = r.json()
    r = srv.request("PATCH", "/v1/users/" + users["viewer"]["id"], {"disabled": True}, auth=admin)
    check(r.status == 200 and r.json()["disabled"] is True, "patch: %r" % r)
    check(srv.request("GET", "/v1/users/" + users["viewer"]["id"], auth=admin).status == 200, "get user")
    check(srv.request("GET", "/v1/users?limit=2", auth=admin).json()["next_cursor"] is not None, "paging")
    r = srv.request("POST", "/v1/api-keys", {"name": "bo", "role": "initiator", "scopes": ["transfers:create", "transfers:read"],
                                             "cidrs": ["127.0.0.1/32"]}, auth=admin)
    check(r.status == 201 and r.json()["key"].startswith("kura_"), "key: %r" % r)
    key = r.json()
    check(srv.request("GET", "/v1/api-keys", auth=admin).status == 200, "list keys")
    r = srv.request("POST", "/v1/users/me/totp", {}, auth=admin)
    check(r.status == 200 and "otpauth_uri" in r.json(), "totp enrol: %r" % r)
    r = srv.request("POST", "/v1/users/me/totp/confirm", {"code": "000000"}, auth=admin)
    check(r.status in (401, 200), "totp confirm: %r" % r)
    r = srv.request("POST", "/v1/webhooks", {"url": "http://127.0.0.1:9/h", "events": "transfer.* user.*"}, auth=admin)
    check(r.status == 201 and len(r.json()["secret"]) == 64, "webhook: %r" % r)
    wh = r.json()["id"]
    for path in ("/v1/webhooks", "/v1/webhooks/" + wh, "/v1/webhooks/%s/deliveries" % wh, "/v1/wallets",
                 "/v1/transfers", "/v1/deposits", "/v1/deposits?state=pending&limit=5", "/v1/chain",
                 "/v1/audit?limit=3", "/v1/audit?format=jsonl", "/v1/audit?format=csv&from=0",
                 "/metrics", "/healthz"):
        r = srv.request("GET", path, auth=admin)
        check(r.status == 200, "%s: %r" % (path, r))
    r = srv.request("GET", "/v1/deposits?state=lost", auth=admin)
    check(r.status == 400 and r.error == "INVALID_FIELD", "deposits: unknown state: %r" % r)
    r = srv.request("GET", "/v1/deposits?account=a", auth=admin)
    check(r.status == 400 and r.error == "INVALID_FIELD", "deposits: account without wallet: %r" % r)
    r = srv.request("GET", "/v1/wallets/wl_missing/balance", auth=admin)
    check(r.status == 404 and r.error == "NOT_FOUND", "balance of no wallet: %r" % r)
    r = srv.request("POST", "/v1/wallets/wl_missing/rescan", {"from_height": 0}, auth=admin)
    check(r.status == 404 and r.error == "NOT_FOUND", "rescan of no wallet: %r" % r)
    r = srv.request("POST", "/v1/wallets/wl_missing/rescan", {"from_height": 0, "gap_limit": 19}, auth=admin)
    check(r.status == 400 and r.error == "INVALID_FIELD", "rescan gap limit below 20: %r" % r)
    r = srv.request("GET", "/v1/wallets/wl_missing/rescan", auth=admin)
    check(r.status == 404 and r.error == "NOT_FOUND", "rescan state of no wallet: %r" % r)
    r = srv.request("GET", "/v1/chain", auth=admin)
    check(r.json()["height"] is None and r.json()["lag"] is None, "chain before any block: %r" % r)
    r = srv.request("GET", "/v1/audit?format=csv", auth=admin)
    check(r.headers["content-disposition"].startswith("attachment"), "export is a download")
    # The export is spooled to a file and sent from it: whole, every line JSON,
    # one per audit row plus the trailer with the chain's head.
    r = srv.request("GET", "/v1/audit?format=jsonl", auth=admin)
    lines = r.body.decode().split("\n")
    check(lines[-1] == "" and int(r.headers["content-length"]) == len(r.body), "export: whole, LF-terminated")
    rows = [json.loads(x) for x in lines[:-1]]
    listed, cursor = 0, None
    while True:
        page = srv.request("GET", "/v1/audit?limit=500" + ("&cursor=" + cursor if cursor else ""), auth=admin).json()
        listed += len(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    check(len(rows) == listed + 1, "export: %d lines for %d rows and a trailer" % (len(rows), listed))
    # One object's trail (the viewer: created, then disabled), paged by cursor
    vid = users["viewer"]["id"]
    trail, cursor = [], None
    for _ in range(10):
        r = srv.request("GET", "/v1/audit?object_type=user&object_id=%s&limit=1%s" % (vid, "&cursor=" + cursor if cursor else ""), auth=admin)
        check(r.status == 200, "audit by object: %r" % r)
        trail += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if not cursor:
            break
    check(len(trail) >= 2 and all(x["object_type"] == "user" and x["object_id"] == vid for x in trail)
          and [x["seq"] for x in trail] == sorted(x["seq"] for x in trail),
          "audit by object: the viewer's own rows only, a page at a time: %r" % [x["action"] for x in trail])
    r = srv.request("GET", "/v1/audit?object_id=%s" % vid, auth=admin)
    check(r.status == 200 and len(r.json()["items"]) == len(trail), "audit by object id alone")
    r = srv.request("GET", "/v1/audit?object_type=user&object_id=us_none", auth=admin)
    check(r.status == 200 and r.json()["items"] == [], "audit by an object with no rows: none")
    r = srv.request("GET", "/v1/audit?format=jsonl&object_type=user", auth=admin)
    check(r.status == 400 and r.error == "BAD_REQUEST", "an export takes no object filter: %r" % r)
    r = srv.request("GET", "/v1/audit?object_type=", auth=admin)
    check(r.status == 400 and r.error == "INVALID_FIELD", "audit: an empty object filter: %r" % r)
    r = srv.request("GET", "/metrics", auth=admin)
    text = r.body.decode()
    check('kura_http_requests_total{method="POST",route="/v1/users",status="201"} 5' in text, "metrics: requests by route")
    check("kura_http_request_duration_seconds_bucket" in text and "kura_store_commits_total" in text
          and "kura_webhook_attempts_total" in text, "metrics: histogram, store, webhooks")
    # group commit: on SQLite the users' writes went through batches (COMMITs
    # counted); PostgreSQL commits each alone (none)
    m = re.search(r"^kura_store_group_commits_total (\d+)$", text, re.M)
    check(m is not None and (int(m.group(1)) > 0) == (srv.db is None),
          "metrics: kura_store_group_commits_total %r" % (m and m.group(1)))
    r = srv.request("POST", "/v1/audit/verify", {}, auth=admin)
    check(r.status == 200 and r.json()["ok"] is True, "verify: %r" % r)
    r = srv.request("DELETE", "/v1/webhooks/" + wh, auth=admin)
    check(r.status == 204, "delete webhook: %r" % r)
    r = srv.request("DELETE", "/v1/api-keys/" + key["id"], auth=admin)
    check(r.status == 200 and r.json()["revoked_at"] is not None, "revoke: %r" % r)
    r = srv.request("DELETE", "/v1/session", auth=admin)
    check(r.status == 204 and "Max-Age=0" in r.headers.get("set-cookie", ""), "sign out: %r" % r)
    check(srv.request("GET", "/v1/session", auth=admin).status == 401, "signed out")
    srv.stop()
    # The CLI agrees the chain is intact after all of it.
    p = srv.cli("audit", "verify", check_rc=False)
    check(p.returncode == 0 and b"intact" in p.stderr, "kura-server audit verify: %r" % p.stderr)


if __name__ == "__main__":
    main(run)
