#!/usr/bin/env python3
"""tests/server/e2e_withdrawals.py — withdrawal requests batched into one
transfer, through the real programs over HTTP (the wallet, keys and devices
of e2e_server.py).

A back office queues customers' withdrawals one by one with its API key
(POST /v1/wallets/{id}/withdrawals; refusals at the door: another network's
address, dust, an address off the policy's allowlist, a duplicate external
id; Idempotency-Key replays). Three queued requests become ONE transfer
(POST /v1/wallets/{id}/batches), which two approvers approve with
`kura-approve --server`; the signing package is downloaded, two kura-cold
devices check and sign it, the signed PSBTs are uploaded and the transaction
is finalized: its outputs are exactly the three requests (plus change), and
every signature verifies. A batch an administrator cancels puts its
requests back in the queue with the reason; the next batch takes them again.
Then kura-server restarts with `batch_interval = 1`: the scheduled batcher
batches the queue as system:batcher. `kura-server audit verify` holds
throughout, and every answer is checked against docs/openapi.json.

Usage: e2e_withdrawals.py KURA-SERVER   (KURA_COLD, KURA_APPROVE, KURA,
KURA_TEST_FUND in the environment; KURA_TEST_DB_URL for PostgreSQL).
"""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kura_api_harness as h  # noqa: E402
import e2e_server as e2e  # noqa: E402

expect = e2e.expect


def outputs_of(s, tid):
    """The finalized transaction's outputs as [(address, sats)], decoded by the kura tool."""
    r = s.srv.request("GET", "/v1/transfers/%s/tx" % tid, auth=s.keys["back-office"])
    h.check(r.status == 200, "raw tx: %r" % r)
    dec = s.run([s.kura_bin, "tx", r.json()["hex"], "--network", "regtest"]).stdout.decode()
    return [(m.group(2), int(m.group(1))) for m in re.finditer(r"^output \d+: .* \((\d+) sat\) to (\S+) \(", dec, re.M)]


def queue(s, ext, dest, amount, label=None, idem=None, auth=None):
    body = {"external_id": ext, "address": s.dest.get(dest, dest), "amount": amount}
    if label is not None:
        body["label"] = label
    return s.srv.request("POST", "/v1/wallets/%s/withdrawals" % s.wallet_id, body,
                         auth=auth or s.keys["back-office"], idem=idem)


def get(s, wid):
    return s.srv.request("GET", "/v1/withdrawals/" + wid, auth=s.keys["back-office"]).json()


def batch(s, body=None, idem=None):
    return s.srv.request("POST", "/v1/wallets/%s/batches" % s.wallet_id, body or {},
                         auth=s.keys["back-office"], idem=idem)


def the_door(s):
    r = queue(s, "bad-net", "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", 100000)
    expect(r.status == 422 and r.error == "INVALID_ADDRESS", "queue: a testnet address refused (%s)" % r.error)
    r = queue(s, "dust", "D1", 293)
    expect(r.status == 422 and r.error == "INVALID_AMOUNT", "queue: dust refused (%s)" % r.error)
    r = queue(s, "evil", "EVIL", 100000)
    expect(r.status == 422 and r.error == "POLICY_LIMIT",
           "queue: an address off the policy's allowlist refused (%s)" % r.error)
    r = queue(s, "label", "D1", 100000, label="bad\u202elabel")
    expect(r.status == 400 and r.error == "INVALID_FIELD", "queue: an invisible-character label refused")
    r = s.srv.request("POST", "/v1/wallets/%s/withdrawals" % s.wallet_id,
                      {"address": s.dest["D1"], "amount": 1000}, auth=s.keys["back-office"])
    expect(r.status == 400 and r.error == "MISSING_FIELD", "queue: external_id is required")
    r = s.srv.request("POST", "/v1/wallets/wl_missing/withdrawals",
                      {"external_id": "x", "address": s.dest["D1"], "amount": 1000}, auth=s.keys["back-office"])
    expect(r.status == 404 and r.error == "NOT_FOUND", "queue: no such wallet")
    r = batch(s)
    expect(r.status == 409 and r.error == "NOTHING_QUEUED", "batch: nothing queued is a stable 409 (%s)" % r.error)
    r = s.srv.request("GET", "/v1/wallets/%s/withdrawals?state=lost" % s.wallet_id, auth=s.keys["back-office"])
    expect(r.status == 400 and r.error == "INVALID_FIELD", "list: an unknown state refused")


def three_into_one(s):
    reqs = [("cust-1001", "D1", 40000000, "withdrawal 1001"),
            ("cust-1002", "D2", 25000000, None),
            ("cust-1003", "D3", 15000000, "withdrawal 1003")]
    ids = []
    for ext, d, amount, label in reqs:
        r = queue(s, ext, d, amount, label, idem="idem-" + ext)
        h.check(r.status == 201, "queue %s: %r" % (ext, r))
        ids.append(r.json()["id"])
        expect(r.json()["state"] == "queued", "queue: %s queued" % ext)
    # A retry with the same Idempotency-Key is the first answer, not a second request.
    r = queue(s, "cust-1001", "D1", 40000000, "withdrawal 1001", idem="idem-cust-1001")
    expect(r.status == 201 and r.json()["id"] == ids[0], "queue: an Idempotency-Key retry replays the answer")
    r = queue(s, "cust-1001", "D1", 40000000, "withdrawal 1001")
    expect(r.status == 409 and r.error == "DUPLICATE_EXTERNAL_ID", "queue: the external id is unique")
    r = s.srv.request("GET", "/v1/wallets/%s/withdrawals?state=queued&limit=2" % s.wallet_id,
                      auth=s.keys["back-office"])
    page = r.json()
    r2 = s.srv.request("GET", "/v1/wallets/%s/withdrawals?state=queued&cursor=%s" % (s.wallet_id, page["next_cursor"]),
                       auth=s.keys["back-office"])
    expect([w["id"] for w in page["items"] + r2.json()["items"]] == ids,
           "list: the queue in order, two pages")

    r = batch(s, {"max_outputs": 10}, idem="idem-batch-1")
    h.check(r.status == 201, "batch: %r" % r)
    tr = r.json()["transfer"]
    tid = tr["id"]
    expect(len(r.json()["withdrawals"]) == 3 and r.json()["skipped"] == [],
           "batch: the three queued requests taken")
    expect([(o["address"], o["amount"]) for o in tr["outputs"]] ==
           [(s.dest[d], a) for _, d, a, _ in reqs] and tr["initiator"] == "back-office",
           "batch: ONE transfer whose outputs are the three requests, in order")
    r = batch(s, {"max_outputs": 10}, idem="idem-batch-1")
    expect(r.status == 201 and r.json()["transfer"]["id"] == tid, "batch: an Idempotency-Key retry replays it")
    expect(all(get(s, i)["state"] == "batched" and get(s, i)["transfer_id"] == tid for i in ids),
           "the requests are batched into that transfer")
    r = s.srv.request("POST", "/v1/withdrawals/%s/cancel" % ids[0], {}, auth=s.admin)
    expect(r.status == 409 and r.error == "INVALID_STATE", "cancel: a batched request cannot be cancelled")

    # The batch is an ordinary transfer: tier (0.8 BTC: one approval), the
    # approvers' own check, the package, kura-cold's check and signature.
    text = s.srv.request("GET", "/v1/transfers/%s/intent" % tid, auth=s.keys["alice"]).body.decode()
    expect(all("output: %s %d" % (s.dest[d], a) in text for _, d, a, _ in reqs),
           "the intent approvers sign lists every request")
    p = s.approve(tid, "alice")
    expect(p.returncode == 0 and s.state(tid) == "approved", "kura-approve --server: alice approves the batch")
    r = s.package(tid)
    expect(r.status == 200, "package: the batch's signing package downloaded")
    outs = []
    for d in ("A", "C"):
        p, out = s.sign(d, tid)
        expect(p.returncode == 0 and os.path.exists(out), "kura-cold %s: checks and signs the batch" % d)
        outs.append(out)
    for out in outs:
        r = s.srv.request("POST", "/v1/transfers/%s/signatures" % tid, open(out, "rb").read(),
                          ctype="application/octet-stream", auth=s.keys["ops-desk"])
        h.check(r.status == 200, "upload: %r" % r)
    expect(s.state(tid) == "signed", "two of three signatures: the batch transaction is finalized")
    p = s.run([s.fund_bin, "verify", s.db_url(), tid], check=False)
    expect(p.returncode == 0 and b"signatures verify" in p.stdout, "every signature of it verifies")
    paid = outputs_of(s, tid)
    want = [(s.dest[d], a) for _, d, a, _ in reqs]
    change = [o for o in paid if o not in want]
    expect(sorted(o for o in paid if o in want) == sorted(want) and len(paid) == 4 and len(change) == 1,
           "the transaction pays exactly the three requests, plus one change output: %s" % paid)
    expect(all(get(s, i)["state"] == "batched" for i in ids),
           "signed, not yet broadcast: the requests stay batched")


def requeue(s):
    ids = []
    for ext, d, amount in (("cust-2001", "D2", 1000000), ("cust-2002", "D1", 2000000)):
        r = queue(s, ext, d, amount)
        h.check(r.status == 201, "queue: %r" % r)
        ids.append(r.json()["id"])
    r = s.srv.request("POST", "/v1/withdrawals/%s/cancel" % ids[1], {"reason": "customer closed the account"},
                      auth=s.keys["canceller"])
    expect(r.status == 200 and r.json()["state"] == "cancelled", "cancel: a queued request cancelled")
    r = queue(s, "cust-2003", "D3", 3000000)
    ids[1] = r.json()["id"]
    r = batch(s)
    tid = r.json()["transfer"]["id"]
    r = s.srv.request("POST", "/v1/transfers/%s/cancel" % tid, {"reason": "fees too high today"}, auth=s.admin)
    h.check(r.status == 200, "cancel transfer: %r" % r)
    w = get(s, ids[0])
    expect(w["state"] == "queued" and w["transfer_id"] is None and tid in w["reason"]
           and "fees too high today" in w["reason"],
           "a cancelled batch puts its requests back in the queue, with the reason: %r" % w["reason"])
    r = batch(s)
    expect(r.status == 201 and len(r.json()["withdrawals"]) == 2 and r.json()["transfer"]["id"] != tid
           and get(s, ids[0])["batches"] == 2, "the next batch takes them again")
    expect(s.audit_verify().returncode == 0, "audit verify: every request's moves and snapshots intact")


def scheduled(s):
    cfg = s.path("batch.conf")
    with open(cfg, "w") as f:
        f.write("batch_interval = 1\nbatch_min_requests = 2\n")
    s.srv.stop()
    s.srv.start(["--config", cfg])
    r = queue(s, "cust-3001", "D1", 500000)
    one = r.json()["id"]
    time.sleep(2.5)
    expect(get(s, one)["state"] == "queued", "schedule: one request is under batch_min_requests: it waits")
    r = queue(s, "cust-3002", "D2", 600000)
    two = r.json()["id"]
    deadline = time.time() + 30
    while time.time() < deadline and get(s, two)["state"] != "batched":
        time.sleep(0.2)
    w = get(s, two)
    expect(w["state"] == "batched" and get(s, one)["transfer_id"] == w["transfer_id"],
           "schedule: with two queued, the batcher batches them into one transfer")
    tr = s.srv.request("GET", "/v1/transfers/" + w["transfer_id"], auth=s.keys["back-office"]).json()
    expect(tr["initiator"] == "system.batcher" and tr["created_by"] == "system:batcher",
           "schedule: the batch is initiated by system:batcher")
    p = s.approve(tr["id"], "alice")
    expect(p.returncode == 0 and s.state(tr["id"]) == "approved",
           "schedule: its batch is approved like any other")
    r = s.srv.request("GET", "/v1/audit?limit=500", auth=s.admin)
    expect(any(row.get("actor") == "system:batcher" for row in r.json()["items"]),
           "schedule: the audit log names system:batcher")
    expect(b"batch transfer(s) made" in s.srv.server_log().encode(), "schedule: the server log says so")
    s.srv.stop()
    p = s.audit_verify()
    expect(p.returncode == 0, "audit verify after the schedule: intact")


def main():
    if len(sys.argv) != 2:
        print("usage: e2e_withdrawals.py KURA-SERVER", file=sys.stderr)
        return 2
    cold = os.environ.get("KURA_COLD", "")
    v = subprocess.run([cold, "--version"], capture_output=True)
    if b"test build" not in v.stdout + v.stderr:
        print("SKIPPED: %s is not a test build (no --now)" % cold)
        return 77
    s = e2e.Story(sys.argv[1])
    try:
        s.setup()
        s.start_server()
        r = s.srv.request("POST", "/v1/api-keys", {"name": "canceller", "role": "initiator",
                                                   "scopes": ["transfers:cancel"]}, auth=s.admin)
        h.check(r.status == 201, "api key: %r" % r)
        s.keys["canceller"] = h.ApiKey(r.json()["key"])
        s.register_wallet()
        the_door(s)
        three_into_one(s)
        requeue(s)
        scheduled(s)
    except h.Failure as ex:
        e2e.bad("setup or step failed: %s" % ex)
        if s.srv:
            print(s.srv.server_log()[-3000:])
    finally:
        if s.srv:
            try:
                s.srv.cleanup()
            except h.Failure as ex:
                e2e.bad(str(ex))
        if e2e.failed == 0:
            import shutil
            shutil.rmtree(s.work, ignore_errors=True)
        else:
            print("work directory kept: " + s.work)
    print("%d passed, %d failed" % (e2e.passed, e2e.failed))
    return 0 if e2e.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
