"""tests/server/test_server_durability.py — kura-server killed with SIGKILL at
random moments under a stream of transfer creations, restarted on the same
database each time; nothing it acknowledged may be lost, nothing half-written
may appear.

    python3 test_server_durability.py KURA_SERVER [--kills N] [--clients C]
                                      [--seed S] [--max-delay SECONDS]

On SQLite (a data directory of its own) by default; on the PostgreSQL of
with-postgres.sh when KURA_TEST_DB_URL is set (the database survives, only
kura-server dies). Defaults: 200 kills on SQLite, 30 on PostgreSQL
(KURA_DURABILITY_KILLS overrides); 3 clients; the kill 0 to 0.25 s after
each start; the seed from the clock,
printed first, so that a failing run can be replayed with --seed (the kill
moments and the checked samples follow it; the server's own timing does not).

Each cycle: C client threads create transfers over keep-alive connections
(POST /v1/transfers with an initiator's API key; each request its own
external_id and Idempotency-Key); after a random delay the server gets
SIGKILL; it is started again on the same database, and then:

  1. every request answered 2xx (in this cycle) is there: GET /v1/transfers/{id}
     gives it back with its external_id, and the database maps the external_id
     to that id;
  2. retrying answered requests with the same Idempotency-Key and body gives
     the same transfer (the stored first response: same id, same body) — a
     random sample each cycle (--replays) and at the end (--final-replays);
  3. every request that got no answer (the kill cut it) is retried with its key:
     201 (it committed, or runs now) and then exactly that transfer has its
     external_id; or 409 IDEMPOTENCY_IN_PROGRESS (its claim committed, the
     transfer did not: a claim of a dead server is taken over only after
     KURA_IDEM_TAKEOVER seconds) and then no transfer has its external_id; it
     is retried every 10th cycle (--full-every) and at the end;
  4. the database, read directly (read-only): every transfer has its outputs
     (n = 0..k-1, amounts summing to its total), intent text whose SHA-256 is
     its intent_hash, its audit row (transfer.awaiting_approval), and a done
     idempotency row whose response names it; no done idempotency row without
     its transfer; the audit chain, recomputed here from audit-format.md, links
     every row from seq 1 with no gap to the head row. After each restart for
     the transfers of the cycle's requests and the chain's new rows, plus
     counts (transfers = transfers with outputs = their audit rows = done
     keys) over everything; the whole database every 10th cycle and at the end;
  5. at the end, every acknowledged request again: GET by id;
  6. the server's own verification (the chain and every transfer's fields
     against its audit rows) says ok: POST /v1/audit/verify and `kura-server
     audit verify --json` (the command line, a second process on the same
     database while the server runs), alternating every 25th cycle, and both
     at the end (each walks everything: seconds in the sanitized build).

Prints "N passed, M failed" for the checks and exits 1 on any failure.
Python 3 standard library only (psql for PostgreSQL).
"""
import argparse
import glob
import hashlib
import http.client
import json
import os
import random
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import kura_api_harness as H  # noqa: E402
import kura_load_fixture as FX  # noqa: E402

ADMIN_PW = "a long password 1"


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.messages = []
        self.lock = threading.Lock()

    def check(self, cond, what):
        with self.lock:
            if cond:
                self.passed += 1
            else:
                self.failed += 1
                if len(self.messages) < 50:
                    self.messages.append(what)
                print("FAILED:", what, flush=True)
        return cond


class Request:
    __slots__ = ("n", "ext", "idem", "body", "tid", "response", "cycle")

    def __init__(self, n, seed, cycle):
        self.n = n
        self.ext = "dur-%d-%d" % (seed, n)
        self.idem = "idem-%d-%d" % (seed, n)
        self.body = None
        self.tid = None
        self.response = None
        self.cycle = cycle


class Load:
    """The client threads of one cycle and what they saw."""

    def __init__(self, port, key, wallet_id, seed, cycle, counter):
        self.port, self.key, self.wallet_id = port, key, wallet_id
        self.seed, self.cycle, self.counter = seed, cycle, counter
        self.stop = threading.Event()
        self.answered, self.unanswered, self.refused = [], [], []
        self.lock = threading.Lock()

    def client(self):
        conn = None
        while not self.stop.is_set():
            with self.lock:
                self.counter[0] += 1
                req = Request(self.counter[0], self.seed, self.cycle)
            req.body = FX.transfer_body(self.wallet_id, req.ext, 1000 + req.n)
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                conn.request("POST", "/v1/transfers", body=req.body,
                             headers={"Authorization": "Bearer " + self.key.key,
                                      "Content-Type": "application/json",
                                      "Idempotency-Key": req.idem})
                r = conn.getresponse()
                data = r.read()
                status = r.status
            except (OSError, http.client.HTTPException):
                # Sent (perhaps only in part), no whole answer: unknown.
                with self.lock:
                    self.unanswered.append(req)
                if conn is not None:
                    conn.close()
                conn = None
                if self.stop.is_set():
                    break
                time.sleep(0.01)
                continue
            with self.lock:
                if 200 <= status < 300:
                    req.response = json.loads(data)
                    req.tid = req.response.get("id")
                    self.answered.append(req)
                else:
                    self.refused.append((req, status, data[:300]))
        if conn is not None:
            conn.close()


class Db:
    """Read-only queries on the server's database: rows as dicts."""

    def __init__(self, srv):
        self.url = srv.db
        if self.url:
            self.conninfo = self.url[len("postgres:"):]
            psql = shutil.which("psql")
            for d in sorted(glob.glob("/usr/lib/postgresql/*/bin")):
                if os.path.exists(os.path.join(d, "psql")):
                    psql = os.path.join(d, "psql")
            if not psql:
                raise H.Failure("psql not found")
            self.psql = psql
        else:
            self.path = os.path.join(srv.data, "kura.db")

    def rows(self, sql):
        if self.url:
            env = dict(os.environ)
            env["PGOPTIONS"] = "-c default_transaction_read_only=on"
            p = subprocess.run([self.psql, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
                                "-d", self.conninfo, "-c",
                                "SELECT coalesce(json_agg(q), '[]') FROM (%s) q" % sql],
                               capture_output=True, env=env, timeout=120)
            if p.returncode != 0:
                raise H.Failure("psql: %s" % p.stderr.decode(errors="replace"))
            return json.loads(p.stdout)
        con = sqlite3.connect("file:%s?mode=ro" % self.path, uri=True, timeout=30)
        try:
            con.row_factory = sqlite3.Row
            return [dict(r) for r in con.execute(sql)]
        finally:
            con.close()


def audit_row_hash(r):
    """docs/audit-format.md: SHA-256 of the row's fields, length-prefixed,
    and the previous row's hash."""
    def lp(s):
        b = s.encode()
        return struct.pack(">I", len(b)) + b
    m = (b"kura-audit-v1\x00" + struct.pack(">Q", r["seq"]) + struct.pack(">q", r["at"]) +
         lp(r["actor"]) + lp(r["action"]) + lp(r["object_type"]) + lp(r["object_id"]) +
         lp(r["data"]) + bytes.fromhex(r["prev_hash"]))
    return hashlib.sha256(m).hexdigest()


class Durability:
    def __init__(self, a):
        self.a = a
        self.t = Tally()
        self.srv = H.Server(a.binary)
        self.srv.validate_responses = False
        self.db = Db(self.srv)
        self.rng = random.Random(a.seed)
        self.counter = [0]
        self.answered = {}      # ext -> Request
        self.pending = {}       # ext -> Request: no answer yet
        self.audit_checked = (0, "0" * 64)   # (seq, hash) verified so far
        self.phase = {"start": 0.0, "load": 0.0, "checks": 0.0}
        self.stats = {"answered": 0, "unanswered": 0, "resolved_201": 0, "in_progress": 0,
                      "kills_in_flight": 0}

    # ---- the server ----

    def start(self):
        """kura_api_harness's start, polling every 5 ms rather than 50 (200
        starts: the polling alone would add seconds)."""
        srv = self.srv
        if getattr(srv, "log", None):
            srv.log.close()
        portfile = os.path.join(srv.dir, "port")
        if os.path.exists(portfile):
            os.unlink(portfile)
        srv.log = open(os.path.join(srv.dir, "server.log"), "ab")
        srv.proc = subprocess.Popen([srv.binary, "serve"] + srv.common() +
                                    ["--listen", "127.0.0.1:0", "--port-file", portfile],
                                    env=srv.env, stdout=srv.log, stderr=srv.log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if srv.proc.poll() is not None:
                raise H.Failure("kura-server exited %d at start" % srv.proc.returncode)
            try:
                txt = open(portfile).read().strip()
            except OSError:
                txt = ""
            if txt:
                srv.port = int(txt)
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
                    conn.request("GET", "/healthz")
                    if conn.getresponse().status == 200:
                        conn.close()
                        return
                    conn.close()
                except OSError:
                    pass
            time.sleep(0.005)
        raise H.Failure("kura-server did not become healthy")

    def kill(self):
        self.srv.proc.send_signal(signal.SIGKILL)
        self.srv.proc.wait()
        self.srv.proc = None

    # ---- checks ----

    def post_again(self, req):
        return self.srv.request("POST", "/v1/transfers", req.body, auth=self.key, idem=req.idem)

    def check_answered(self, reqs, conn=None):
        """GET /v1/transfers/{id} of each, on one keep-alive connection."""
        own = conn is None
        if own:
            conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=60)
        for req in reqs:
            conn.request("GET", "/v1/transfers/" + req.tid,
                         headers={"Authorization": "Bearer " + self.key.key})
            r = conn.getresponse()
            body = r.read()
            ok = r.status == 200
            if ok:
                j = json.loads(body)
                ok = j.get("id") == req.tid and j.get("external_id") == req.ext
            self.t.check(ok, "answered %s (%s, cycle %d) is not there after the restart: %d %r" %
                         (req.ext, req.tid, req.cycle, r.status, body[:200]))
        if own:
            conn.close()

    def check_all_answered(self):
        reqs = list(self.answered.values())

        def worker(part):
            self.check_answered(part)
        threads = [threading.Thread(target=worker, args=(reqs[i::4],)) for i in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()

    def check_replay(self, reqs):
        for req in reqs:
            r = self.post_again(req)
            ok = r.status == 201 and r.json() == req.response
            self.t.check(ok, "retry of answered %s with its Idempotency-Key: %r (first: %s)" %
                         (req.ext, r, req.tid))

    def resolve_pending(self, exts):
        """Requests the kill cut: retried with their key."""
        for ext in exts:
            req = self.pending[ext]
            r = self.post_again(req)
            if r.status == 201:
                req.response = r.json()
                req.tid = req.response["id"]
                self.t.check(req.response.get("external_id") == ext,
                             "retried %s: 201 for another external_id: %r" % (ext, r))
                del self.pending[ext]
                self.answered[ext] = req
                self.stats["resolved_201"] += 1
                # the retry's answer is itself acknowledged: check it at once
                self.check_answered([req])
            elif r.status == 409 and r.error == "IDEMPOTENCY_IN_PROGRESS":
                self.stats["in_progress"] += 1
                req.tid = None
            else:
                self.t.check(False, "retried unanswered %s: %r" % (ext, r))
                del self.pending[ext]

    def check_database(self, exts=None):
        """The invariants of the database, read directly. exts: only the
        transfers of these external ids (the requests of one cycle: only
        they can have been cut) and the tail of the audit chain, plus counts
        that hold for all; None: everything."""
        where = ""
        if exts is not None:
            if not exts:
                exts = ["-"]
            where = " WHERE external_id IN (%s)" % ",".join("'%s'" % e for e in exts)
        tr = self.db.rows("SELECT id, external_id, state, intent_text, intent_hash, total, "
                          "created_by FROM transfers" + where)
        sub = "SELECT id FROM transfers" + where
        outs = self.db.rows("SELECT transfer_id, n, amount FROM transfer_outputs WHERE "
                            "transfer_id IN (%s)" % sub)
        created_rows = set(r["object_id"] for r in self.db.rows(
            "SELECT object_id FROM audit_log WHERE object_type = 'transfer' AND "
            "action = 'transfer.awaiting_approval' AND object_id IN (%s)" % sub))
        idem_where = "" if exts is None else " AND idem_key IN (%s)" % ",".join(
            "'%s'" % e.replace("dur-", "idem-", 1) for e in exts)
        idem = self.db.rows("SELECT idem_key, state, status, response FROM idempotency_keys "
                            "WHERE idem_key LIKE 'idem-%'" + idem_where)
        counts = self.db.rows(
            "SELECT (SELECT count(*) FROM transfers) AS transfers, "
            "(SELECT count(DISTINCT transfer_id) FROM transfer_outputs) AS with_outputs, "
            "(SELECT count(*) FROM audit_log WHERE object_type = 'transfer' AND "
            " action = 'transfer.awaiting_approval') AS created_rows, "
            "(SELECT count(*) FROM idempotency_keys WHERE state = 'done' AND "
            " idem_key LIKE 'idem-%') AS done_keys")[0]
        by_ext = {}
        outputs = {}
        for o in outs:
            outputs.setdefault(o["transfer_id"], []).append(o)
        bad = []
        for t in tr:
            by_ext[t["external_id"]] = t["id"]
            os_ = sorted(outputs.get(t["id"], []), key=lambda o: o["n"])
            if not os_ or [o["n"] for o in os_] != list(range(len(os_))):
                bad.append("%s: outputs %r" % (t["id"], [o["n"] for o in os_]))
            elif sum(o["amount"] for o in os_) != t["total"]:
                bad.append("%s: outputs sum to %d, total %d" %
                           (t["id"], sum(o["amount"] for o in os_), t["total"]))
            if hashlib.sha256(t["intent_text"].encode()).hexdigest() != t["intent_hash"]:
                bad.append("%s: intent_hash is not the SHA-256 of intent_text" % t["id"])
            if t["id"] not in created_rows:
                bad.append("%s: no transfer.awaiting_approval audit row" % t["id"])
        # (the wallet-less fixture made no transfers: every transfer is ours)
        if not (counts["transfers"] == counts["with_outputs"] == counts["created_rows"] ==
                counts["done_keys"]):
            bad.append("counts disagree: %r" % counts)
        self.t.check(not bad, "half-written transfers: %s" % "; ".join(bad[:5]))
        # idempotency: a done key names its transfer; every transfer has one
        done_ids = set()
        bad = []
        for k in idem:
            if k["state"] == "done":
                try:
                    tid = json.loads(k["response"])["id"]
                except (ValueError, KeyError, TypeError):
                    bad.append("%s: unreadable response" % k["idem_key"])
                    continue
                done_ids.add(tid)
                if tid not in outputs:
                    bad.append("%s: done, but transfer %s is not there" % (k["idem_key"], tid))
        for t in tr:
            if t["id"] not in done_ids:
                bad.append("%s: no done idempotency row" % t["id"])
        self.t.check(not bad, "idempotency rows: %s" % "; ".join(bad[:5]))
        # every acknowledged request: its external_id maps to its transfer
        want = self.answered if exts is None else {e: self.answered[e] for e in exts
                                                   if e in self.answered}
        lost = ["%s -> %s (want %s)" % (e, by_ext.get(e), q.tid)
                for e, q in want.items() if by_ext.get(e) != q.tid]
        self.t.check(not lost, "acknowledged transfers missing in the database: %s" %
                     "; ".join(lost[:5]))
        # requests whose claim is still running: no transfer may exist for them
        ghost = [e for e in self.pending if e in by_ext]
        self.t.check(not ghost, "a transfer exists for a request whose claim is running: %s" %
                     ghost[:5])
        self.check_audit_chain(full=exts is None)
        return counts["transfers"]

    def check_audit_chain(self, full):
        """The chain recomputed here (docs/audit-format.md): from row 1 when
        full, else from the last row verified before (whose hash must not
        have changed); each row's hash from its fields and the previous
        hash, seq without gaps, audit_head the last row."""
        start_seq, start_hash = (0, "0" * 64) if full else self.audit_checked
        audit = self.db.rows("SELECT seq, at, actor, action, object_type, object_id, data, "
                             "prev_hash, hash FROM audit_log WHERE seq >= %d ORDER BY seq" %
                             max(start_seq, 1))
        head = self.db.rows("SELECT seq, hash FROM audit_head")
        bad = []
        prev, expect = "0" * 64, 1
        if start_seq:
            if not audit or audit[0]["seq"] != start_seq or audit[0]["hash"] != start_hash:
                bad.append("row %d changed since it was verified" % start_seq)
            else:
                prev, expect = start_hash, start_seq + 1
                audit = audit[1:]
        for r in audit if not bad else []:
            if r["seq"] != expect:
                bad.append("seq %d where %d was due" % (r["seq"], expect))
                break
            if r["prev_hash"] != prev:
                bad.append("row %d: prev_hash does not link" % r["seq"])
                break
            if audit_row_hash(r) != r["hash"]:
                bad.append("row %d: hash does not match its fields" % r["seq"])
                break
            prev, expect = r["hash"], expect + 1
        if not bad:
            h = head[0] if head else None
            if not h or h["seq"] != expect - 1 or h["hash"] != prev:
                bad.append("audit_head %r is not the last row (%d, %s)" % (h, expect - 1, prev))
            else:
                self.audit_checked = (expect - 1, prev)
        self.t.check(not bad, "audit chain: %s" % "; ".join(bad))

    def check_audit_http(self):
        r = self.srv.request("POST", "/v1/audit/verify", {}, auth=self.admin)
        self.t.check(r.status == 200 and r.json().get("ok") is True,
                     "POST /v1/audit/verify: %r" % r)

    def check_audit_cli(self):
        p = self.srv.cli("audit", "verify", "--json", check_rc=False)
        try:
            rep = json.loads(p.stdout)
        except ValueError:
            rep = {}
        self.t.check(p.returncode == 0 and rep.get("ok") is True,
                     "kura-server audit verify: exit %d: %s %s" %
                     (p.returncode, p.stdout[-500:], p.stderr[-500:]))

    # ---- the run ----

    def run(self):
        a = self.a
        self.srv.user_add("root", "administrator", ADMIN_PW)
        self.start()
        self.wallet_id, self.key = FX.setup(self.srv, self.srv.dir, H.signin, H.ApiKey,
                                            "root", ADMIN_PW)
        self.admin = H.signin(self.srv, "root", ADMIN_PW)
        t0 = time.monotonic()
        for cycle in range(1, a.kills + 1):
            tl = time.monotonic()
            if cycle > 1:
                self.phase["checks"] += tl - t2
            load = Load(self.srv.port, self.key, self.wallet_id, a.seed, cycle, self.counter)
            threads = [threading.Thread(target=load.client) for _ in range(a.clients)]
            for th in threads:
                th.start()
            delay = self.rng.uniform(0.0, a.max_delay)
            time.sleep(delay)
            self.kill()
            load.stop.set()
            for th in threads:
                th.join(60)
            for req, status, data in load.refused:
                self.t.check(False, "cycle %d: %s refused with %d before the kill: %r" %
                             (cycle, req.ext, status, data))
            for req in load.answered:
                self.answered[req.ext] = req
            for req in load.unanswered:
                self.pending[req.ext] = req
            self.stats["answered"] += len(load.answered)
            self.stats["unanswered"] += len(load.unanswered)
            if load.unanswered:
                self.stats["kills_in_flight"] += 1

            t1 = time.monotonic()
            self.start()
            t2 = time.monotonic()
            self.phase["load"] += t1 - tl
            self.phase["start"] += t2 - t1
            self.check_answered(load.answered)
            sample = self.rng.sample(load.answered, min(a.replays, len(load.answered)))
            self.check_replay(sample)
            # The requests this kill cut are retried now; those still claimed
            # by the dead server (409) again every --full-every cycles.
            every = cycle % a.full_every == 0 or cycle == a.kills
            cut = list(self.pending) if every else [q.ext for q in load.unanswered]
            self.resolve_pending(cut)
            ntr = self.check_database(None if every else
                                      [q.ext for q in load.answered] + cut)
            # The server's own verification walks the whole chain and every
            # transfer: alternately over HTTP and by the command line.
            if cycle % a.verify_every == 0 and cycle != a.kills:
                if (cycle // a.verify_every) % 2 == 1:
                    self.check_audit_http()
                else:
                    self.check_audit_cli()
            if every:
                print("cycle %d/%d: %.0f s, %d transfers, %d acknowledged, %d cut by the "
                      "kill (%d still claimed), %d failed so far; time in starts %.0f s, "
                      "under load %.0f s, checking %.0f s" %
                      (cycle, a.kills, time.monotonic() - t0, ntr, len(self.answered),
                       self.stats["unanswered"], len(self.pending), self.t.failed,
                       self.phase["start"], self.phase["load"], self.phase["checks"]),
                      flush=True)
        # The end: every acknowledged request, once more, through the API
        # (GET by id, over a few keep-alive connections), and a sample of
        # them retried with their keys.
        self.check_all_answered()
        everyone = list(self.answered.values())
        self.check_replay(self.rng.sample(everyone, min(a.final_replays, len(everyone))))
        self.check_database()
        self.check_audit_http()
        self.check_audit_cli()
        self.srv.stop()
        return time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    pg = bool(os.environ.get("KURA_TEST_DB_URL"))
    ap.add_argument("--kills", type=int,
                    default=int(os.environ.get("KURA_DURABILITY_KILLS", 30 if pg else 200)))
    ap.add_argument("--clients", type=int, default=3)
    ap.add_argument("--seed", type=int, default=int(time.time() * 1000) % 1000000007)
    ap.add_argument("--max-delay", type=float, default=0.25,
                    help="the kill comes uniformly 0..this many seconds after the start")
    ap.add_argument("--replays", type=int, default=3,
                    help="answered requests retried per cycle (all of them at the end)")
    ap.add_argument("--full-every", type=int, default=10,
                    help="cycles between whole-database checks and the server's audit verify")
    ap.add_argument("--verify-every", type=int, default=25,
                    help="cycles between the server's own audit verifications (they walk "
                         "everything: seconds in the sanitized build)")
    ap.add_argument("--final-replays", type=int, default=500,
                    help="answered requests retried at the end")
    a = ap.parse_args()
    print("durability: %s, %d kills, %d clients, seed %d (replay: --seed %d)" %
          ("PostgreSQL" if pg else "SQLite", a.kills, a.clients, a.seed, a.seed), flush=True)
    d = Durability(a)

    def on_term(signum, frame):
        # (ctest's timeout, a ^C): the server must not outlive the test
        if d.srv.proc is not None and d.srv.proc.poll() is None:
            d.srv.proc.kill()
        print("durability: stopped by signal %d (seed %d)" % (signum, a.seed), flush=True)
        os._exit(1)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        secs = d.run()
    except H.Failure as e:
        d.t.check(False, "the run stopped: %s" % e)
        print("--- server log (tail) ---")
        print(d.srv.server_log())
        secs = float("nan")
    except Exception:
        print("--- server log (tail) ---")
        print(d.srv.server_log())
        d.srv.cleanup()
        raise
    finally:
        if d.t.failed == 0:
            d.srv.cleanup()
        else:
            if d.srv.proc is not None and d.srv.proc.poll() is None:
                d.srv.proc.kill()
            print("kept for inspection: %s" % d.srv.dir)
    s = d.stats
    print("durability: %d kills in %.0f s (seed %d): %d requests acknowledged before a kill, "
          "%d cut by one (%d kills with requests in flight); of those, %d were there or ran on "
          "retry, %d still claimed by a dead server at the end" %
          (a.kills, secs, a.seed, s["answered"], s["unanswered"], s["kills_in_flight"],
           s["resolved_201"], len(d.pending)))
    print("%d passed, %d failed" % (d.t.passed, d.t.failed))
    sys.exit(1 if d.t.failed else 0)


if __name__ == "__main__":
    main()
