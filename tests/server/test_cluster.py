#!/usr/bin/env python3
"""tests/server/test_cluster.py — many kura-server processes on one
PostgreSQL, behind a real reverse proxy, under faults.

    with-postgres.sh python3 test_cluster.py KURA_SERVER KURA_TEST_CLUSTER

Three `kura-server serve` processes on the PostgreSQL of with-postgres.sh
(KURA_TEST_DB_URL), each on a loopback port of its own, behind HAProxy
(Debian's haproxy, run here unprivileged in the foreground with a
configuration in the test's temporary directory: round-robin, health checks
on /healthz, the serving backend's name in an X-Backend answer header). A
fake Bitcoin Core node (`kura-test-cluster node`) serves the recorded
regtest chain tests/vectors/chain/deposits (251 blocks, 68 deposits to four
watch-only wallets that `kura-test-cluster setup` registers); its tip is
moved forward in steps. A webhook receiver (here, in Python) takes every
event, checks its signature, and notes any event id that arrives while
another delivery of the same id is still in flight.

While a mixed stream of requests goes through the proxy (transfer creations
with Idempotency-Keys, each retried so that the retry lands on another
server, and some sent twice at once; deposit-address allocations; reads with
an operator's session cookie signed in on another server):

  1. the chain follower's process (named by leases.holder "host:pid", and by
     its /metrics kura_leader{role="chain-follower"} 1) is SIGKILLed in the
     middle of the chain: another server must take over within TAKEOVER
     seconds and carry on from the last committed block;
  2. the webhook dispatcher's process is SIGKILLed: another must take over;
  3. the follower leader's database session is terminated
     (pg_terminate_backend, as when its connection drops): that process must
     stop leading (its /metrics says 0) while it lives on, and another must
     take over.
Killed servers are started again (as a supervisor would).

At the end: the follower's tip is the chain's; the deposits equal what Core
concluded (expected-follower.json) with every block connected once and
every deposit announced (deposit.detected) exactly once; every webhook event
in the outbox was delivered and the receiver saw each at least once, and no
event id ever by two dispatchers at once; every creation answered 2xx
exists, once; a sign-in rate limit holds across servers even for
simultaneous guesses; the audit chain verifies.

Skipped (exit 77) without KURA_TEST_DB_URL or haproxy. Python 3 standard
library only (psql for PostgreSQL).
"""
import glob
import hashlib
import hmac
import http.client
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import kura_load_fixture as FX  # noqa: E402

CHAIN = os.path.join(ROOT, "tests", "vectors", "chain", "deposits")
TAKEOVER = 20.0   # seconds a takeover may take (the servers retry every 0.3 s)
# A regtest account key (the `tr` wallet's account xpub of the recorded chain,
# used here in a single-key wpkh wallet of its own): transfers need a
# registered wallet with a signed policy, and the follower follows one chain.
TPUB = ("tpubDCuFYGtwQbunU2hJUzex1tW6kCqEMHGhx4iVs88DuWY1c1YUapyhFG7NfmHGs75WbCkwcc6oP3bw"
        "wE4y453HdykZZAv2vMPsj9w9qoTL2CJ")


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_for(what, fn, timeout):
    """Polls fn until it returns a true value; returns (value, seconds)."""
    t0 = time.time()
    while True:
        v = fn()
        if v:
            return v, time.time() - t0
        if time.time() - t0 > timeout:
            raise Failure("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(0.05)


def leader_key(role):
    """The advisory lock key of store/leader.c: BLAKE2b-64 of the role's name."""
    h = hashlib.blake2b(("kura-leader:" + role).encode(), digest_size=8).digest()
    return int.from_bytes(h, "big")


# ---- the database, read with psql ----

class DB:
    def __init__(self, url):
        self.conninfo = url[len("postgres:"):] if url.startswith("postgres:") else url
        self.psql = shutil.which("psql")
        if not self.psql:
            found = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))
            self.psql = found[-1] if found else None
        check(self.psql is not None, "no psql")

    def rows(self, sql):
        p = subprocess.run([self.psql, self.conninfo, "-X", "-q", "-At", "-F", "\t", "-c", sql],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise Failure("psql: %s: %s" % (sql, p.stderr))
        return [line.split("\t") for line in p.stdout.splitlines() if line != ""]

    def one(self, sql):
        r = self.rows(sql)
        return r[0][0] if r else None


# ---- the webhook receiver ----

class Receiver:
    def __init__(self):
        self.lock = threading.Lock()
        self.seen = {}          # event id -> deliveries received
        self.inflight = {}      # event id -> deliveries in progress
        self.overlaps = []      # event ids delivered twice at once
        self.bad_signatures = 0
        self.secret = None
        recv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                eid = self.headers.get("Kura-Event-Id", "")
                sig = self.headers.get("Kura-Signature", "")
                with recv.lock:
                    if recv.inflight.get(eid, 0) > 0:
                        recv.overlaps.append(eid)
                    recv.inflight[eid] = recv.inflight.get(eid, 0) + 1
                    if recv.secret and not recv.verify(sig, body):
                        recv.bad_signatures += 1
                # Long enough that two dispatchers posting one event at
                # once would be seen overlapping.
                time.sleep(0.01)
                with recv.lock:
                    recv.inflight[eid] -= 1
                    recv.seen[eid] = recv.seen.get(eid, 0) + 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hook" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def verify(self, header, body):
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        want = hmac.new(self.secret.encode(), parts.get("t", "").encode() + b"." + body,
                        hashlib.sha256).hexdigest()
        return hmac.compare_digest(want, parts.get("v1", ""))

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# ---- the processes ----

class Node:
    def __init__(self, tool):
        self.proc = subprocess.Popen([tool, "node", os.path.join(CHAIN, "blocks.jsonl")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        check(len(line) == 2 and line[0] == "url", "fake node: %r" % line)
        self.url = line[1]
        self.tip = 0

    def set_tip(self, h):
        self.proc.stdin.write("tip %d\n" % h)
        self.proc.stdin.flush()
        check(self.proc.stdout.readline().strip() == "ok %d" % h, "fake node: tip %d" % h)
        self.tip = h

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


class Server:
    def __init__(self, binary, db_url, node_url, base, n):
        self.binary, self.db_url, self.n = binary, db_url, n
        self.dir = os.path.join(base, "server%d" % n)
        os.makedirs(self.dir)
        self.port = free_port()
        self.conf = os.path.join(self.dir, "kura-server.conf")
        with open(self.conf, "w") as f:
            f.write("listen = 127.0.0.1:%d\n" % self.port)
            f.write("data_dir = %s\n" % os.path.join(self.dir, "data"))
            f.write("db_pool = 4\nthreads = 4\nlog_requests = no\nexpiry_interval = 30\n")
            f.write("node_user = kura\nnode_password = regtest-password\n")
            f.write("node_poll_interval_ms = 300\nnode_timeout_ms = 5000\n")
            f.write("webhook_interval_ms = 300\nwebhook_timeout_ms = 2000\n")
        self.node_url = node_url
        self.proc = None
        self.env = dict(os.environ)
        self.env["KURA_TEST_CHEAP_KDF"] = "1"
        self.starts = 0

    def start(self):
        self.starts += 1
        log = open(os.path.join(self.dir, "server.log"), "ab")
        self.proc = subprocess.Popen([self.binary, "serve", "--config", self.conf, "--db", self.db_url,
                                      "--node", self.node_url], env=self.env, stdout=log,
                                     stderr=log)
        log.close()

    def healthy(self):
        try:
            return request(self.port, "GET", "/healthz").status == 200
        except OSError:
            return False

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise Failure("server %d did not stop on SIGTERM" % self.n)
            check(rc == 0, "server %d exited %d on SIGTERM:\n%s" % (self.n, rc, self.log_tail()))
        self.proc = None

    def log_tail(self):
        try:
            with open(os.path.join(self.dir, "server.log"), "rb") as f:
                return f.read().decode(errors="replace")[-3000:]
        except OSError:
            return ""


class Proxy:
    def __init__(self, base, servers):
        self.port = free_port()
        cfg = os.path.join(base, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write("global\n  maxconn 512\n\n"
                    "defaults\n  mode http\n  timeout connect 2s\n  timeout client 60s\n"
                    "  timeout server 60s\n  option redispatch\n  retries 1\n\n"
                    "frontend kura\n  bind 127.0.0.1:%d\n  default_backend servers\n\n"
                    "backend servers\n  balance roundrobin\n"
                    "  option httpchk GET /healthz\n  http-check expect status 200\n"
                    "  http-response set-header X-Backend %%s\n" % self.port)
            for s in servers:
                f.write("  server s%d 127.0.0.1:%d check inter 300 fall 2 rise 1\n" % (s.n, s.port))
        self.log = open(os.path.join(base, "haproxy.log"), "ab")
        self.proc = subprocess.Popen([shutil.which("haproxy"), "-db", "-f", cfg],
                                     stdout=self.log, stderr=self.log)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.log.close()

    def log_tail(self):
        with open(self.log.name, "rb") as f:
            return f.read().decode(errors="replace")[-2000:]


# ---- HTTP ----

class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def json(self):
        return json.loads(self.body.decode())

    @property
    def error(self):
        try:
            return self.json().get("error")
        except Exception:
            return None

    @property
    def backend(self):
        return self.headers.get("x-backend")

    def __repr__(self):
        return "%d %s" % (self.status, self.body[:300])


def request(port, method, path, body=None, headers=None, timeout=60):
    h = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body, separators=(",", ":"))
    if isinstance(body, str):
        body = body.encode()
    if body is not None:
        h.setdefault("Content-Type", "application/json")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return Resp(r.status, r.getheaders(), r.read())
    finally:
        conn.close()


class Session:
    def __init__(self, cookie, csrf):
        self.cookie, self.csrf = cookie, csrf

    def headers(self, method):
        h = {"Cookie": "kura_session=" + self.cookie}
        if method not in ("GET", "HEAD"):
            h["X-CSRF-Token"] = self.csrf
        return h


def signin(port, user, password):
    r = request(port, "POST", "/v1/session", {"username": user, "password": password})
    check(r.status == 201, "sign-in of %s: %r" % (user, r))
    m = re.match(r"kura_session=([^;]*);", r.headers.get("set-cookie", ""))
    check(m is not None, "sign-in: no cookie")
    return Session(m.group(1), r.json()["csrf_token"]), r.backend


def wallet_request(workdir):
    """POST /v1/wallets for a regtest wpkh wallet under a policy two
    administrators' ssh keys sign (as kura_load_fixture, on regtest)."""
    kd = os.path.join(workdir, "keys")
    os.makedirs(kd, exist_ok=True)
    admins = [("admin1", FX._keygen(kd, "admin1")), ("admin2", FX._keygen(kd, "admin2"))]
    approver = FX._keygen(kd, "carol")
    body = "wpkh(%s/<0;1>/*)" % TPUB
    desc = body + "#" + FX.descriptor_checksum(body)
    policy = ("kura-policy 1\nversion: 1\nnetwork: regtest\nwallet: cluster-wallet #%s\nmode: cold\n"
              % FX.descriptor_checksum(body))
    for n, k in admins:
        policy += "admin: %s %s\n" % (n, k)
    policy += "admin-quorum: 2\napprover: carol %s\n" % approver
    policy += ("tier: max 1\ninitiator-may-approve: no\nallowlist-required: no\n"
               "allowlist-delay: 0\nmax-per-transfer: 100000000000\n"
               "max-per-24h: 2100000000000000\nmax-fee: 1000000\nmax-fee-rate: 1000\n"
               "max-lifetime: 86400\n")
    sigs = []
    for n, _ in admins:
        p = subprocess.run(["ssh-keygen", "-Y", "sign", "-f", os.path.join(kd, n), "-n",
                            "kura-policy-v1"], input=policy.encode(), capture_output=True,
                           check=True)
        sigs.append(p.stdout.decode())
    return {"descriptor": desc, "policy": policy, "policy_signatures": sigs}


# ---- the mixed stream ----

class Stream:
    """Client threads sending a mix of requests through the proxy until
    stopped; what was acknowledged is kept for the final checks."""

    def __init__(self, proxy_port, key, wallet_id, dest, session, threads=2):
        self.port, self.key, self.wallet_id, self.dest = proxy_port, key, wallet_id, dest
        self.session = session
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.transfers = {}     # external id -> transfer id (acknowledged)
        self.addresses = {}     # idempotency key -> (index, address)
        self.backends = {}      # backend name -> requests served
        self.retry_moved = 0    # retries answered by another server than the first
        self.concurrent = 0     # same key sent twice at once
        self.errors = []
        self.unanswered = []    # (key, body) whose answer was lost (a server died)
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(threads)]
        self.n = 0

    def note(self, r):
        if r is not None and r.backend:
            with self.lock:
                self.backends[r.backend] = self.backends.get(r.backend, 0) + 1

    def auth(self, h=None):
        h = dict(h or {})
        h["Authorization"] = "Bearer " + self.key
        return h

    def post(self, path, body, idem):
        try:
            r = request(self.port, "POST", path, body, self.auth({"Idempotency-Key": idem}))
        except (OSError, http.client.HTTPException):
            return None
        self.note(r)
        return r

    def transfer(self, tag):
        ext = "ext-%s" % tag
        body = FX.transfer_body(self.wallet_id, ext, 10000 + (hash(tag) % 1000))
        body = body.replace(FX.D1, self.dest)
        idem = "idem-%s" % tag
        r1 = self.post("/v1/transfers", body, idem)
        if r1 is None or r1.status >= 500 or r1.status == 409:
            with self.lock:
                self.unanswered.append((idem, body, ext))
            return
        if r1.status != 201:
            self.errors.append("transfer %s: %r" % (tag, r1))
            return
        tid = r1.json()["id"]
        with self.lock:
            self.transfers[ext] = tid
        # The retry, on a new connection: round-robin gives it another server.
        r2 = self.post("/v1/transfers", body, idem)
        if r2 is None or r2.status in (502, 503, 504):
            return  # cut by a kill (the proxy says so): the first answer stands
        if r2.status != 201 or r2.json()["id"] != tid:
            self.errors.append("retry of %s: %r (first %s)" % (tag, r2, tid))
        elif r2.backend != r1.backend:
            with self.lock:
                self.retry_moved += 1

    def transfer_twice_at_once(self, tag):
        ext = "ext-%s" % tag
        body = FX.transfer_body(self.wallet_id, ext, 20000).replace(FX.D1, self.dest)
        idem = "idem-%s" % tag
        out = [None, None]

        def go(i):
            out[i] = self.post("/v1/transfers", body, idem)
        ts = [threading.Thread(target=go, args=(i,)) for i in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        ids = set()
        for r in out:
            if r is None or r.status >= 500:
                with self.lock:
                    self.unanswered.append((idem, body, ext))
                continue
            if r.status == 201:
                ids.add(r.json()["id"])
            elif not (r.status == 409 and r.error == "IDEMPOTENCY_IN_PROGRESS"):
                self.errors.append("same key at once %s: %r" % (tag, r))
        if len(ids) > 1:
            self.errors.append("same key at once %s: two transfers %r" % (tag, ids))
        if len(ids) == 1:
            with self.lock:
                self.transfers[ext] = ids.pop()
                self.concurrent += 1

    def address(self, tag):
        idem = "addr-%s" % tag
        r = self.post("/v1/wallets/%s/addresses" % self.wallet_id, {"account": "acct-%s" % tag}, idem)
        if r is None or r.status >= 500 or r.status == 409:
            return
        if r.status != 201:
            self.errors.append("address %s: %r" % (tag, r))
            return
        j = r.json()
        with self.lock:
            self.addresses[idem] = (j.get("index"), j.get("address"))

    def read(self, i):
        path = ["/v1/transfers?limit=5", "/v1/chain", "/v1/deposits?limit=5", "/v1/wallets"][i % 4]
        try:
            r = request(self.port, "GET", path, headers=self.session.headers("GET"))
        except (OSError, http.client.HTTPException):
            return
        self.note(r)
        if r.status != 200 and r.status < 500:
            self.errors.append("GET %s with a session: %r" % (path, r))

    def run(self, t):
        i = 0
        while not self.stop_flag.is_set():
            tag = "%d-%d" % (t, i)
            k = i % 6
            if k in (0, 3):
                self.transfer(tag)
            elif k == 1:
                self.address(tag)
            elif k == 5 and i % 12 == 5:
                self.transfer_twice_at_once(tag)
            else:
                self.read(i)
            i += 1
            with self.lock:
                self.n += 1

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join()


# ---- the story ----

def metric_leader(srv, session, role):
    try:
        r = request(srv.port, "GET", "/metrics", headers=session.headers("GET"), timeout=10)
    except OSError:
        return None
    m = re.search(r'^kura_leader\{role="%s"\} (\d)$' % re.escape(role), r.body.decode(), re.M)
    return int(m.group(1)) if m else None


def run(tmp, server_bin, tool):
    url = os.environ["KURA_TEST_DB_URL"]
    db = DB(url)
    expected = json.load(open(os.path.join(CHAIN, "expected-follower.json")))
    final = expected["final_tip"]["height"]
    passed = [0]

    def ok(cond, what):
        check(cond, what)
        passed[0] += 1

    # The chain's wallets, straight in the database (their descriptors are
    # Core's; the follower's test does the same), and an administrator.
    p = subprocess.run([tool, "setup", url, os.path.join(CHAIN, "expected-follower.json")],
                       capture_output=True, text=True, timeout=300)
    check(p.returncode == 0, "setup: %s" % p.stderr)
    chain_wallets = dict(line.split() for line in p.stdout.splitlines())
    pw = "pw-cluster-admin"
    with open(os.path.join(tmp, "pw"), "w") as f:
        f.write(pw + "\n")
    p = subprocess.run([server_bin, "user", "add", "root", "--role", "administrator",
                        "--password-file", os.path.join(tmp, "pw"), "--db", url,
                        "--data-dir", os.path.join(tmp, "cli")],
                       capture_output=True, text=True, env=dict(os.environ, KURA_TEST_CHEAP_KDF="1"),
                       timeout=300)
    check(p.returncode == 0, "user add: %s" % p.stderr)

    node = Node(tool)
    recv = Receiver()
    servers = [Server(server_bin, url, node.url, tmp, n) for n in (1, 2, 3)]
    proxy = None
    stream = None
    try:
        for s in servers:
            s.start()
        for s in servers:
            wait_for("server %d healthy" % s.n, s.healthy, 120)
        proxy = Proxy(tmp, servers)
        def proxy_ready():
            try:
                return all(request(proxy.port, "GET", "/healthz").status == 200 for _ in range(3))
            except OSError:
                check(proxy.proc.poll() is None, "haproxy exited: %s" % proxy.log_tail())
                return False
        wait_for("the proxy", proxy_ready, 60)
        by_pid = lambda pid: next((s for s in servers if s.pid == pid), None)  # noqa: E731

        # -- sessions and CSRF across servers --
        admin, signed_on = signin(proxy.port, "root", pw)
        used_on = set()
        for _ in range(3):
            r = request(proxy.port, "GET", "/v1/wallets", headers=admin.headers("GET"))
            ok(r.status == 200, "the session on %s: %r" % (r.backend, r))
            used_on.add(r.backend)
        ok(len(used_on - {signed_on}) >= 1, "the session was used on another server than %s" % signed_on)
        h = admin.headers("POST")
        del h["X-CSRF-Token"]
        r = request(proxy.port, "POST", "/v1/webhooks", {"url": recv.url, "events": "*"}, h)
        ok(r.status == 403 and r.error == "CSRF_FAILED", "no CSRF token: %r" % r)
        r = request(proxy.port, "POST", "/v1/webhooks", {"url": recv.url, "events": "*"},
                    admin.headers("POST"))
        ok(r.status == 201, "webhook endpoint: %r" % r)
        recv.secret = r.json()["secret"]
        endpoint = r.json()["id"]
        r = request(proxy.port, "POST", "/v1/wallets", wallet_request(tmp),
                    dict(admin.headers("POST"), **{"Idempotency-Key": "cluster-wallet"}))
        ok(r.status == 201, "wallet: %r" % r)
        wallet_id = r.json()["id"]
        r = request(proxy.port, "POST", "/v1/api-keys",
                    {"name": "back-office", "role": "initiator",
                     "scopes": ["transfers:create", "transfers:read", "addresses:write",
                                "addresses:read"]},
                    dict(admin.headers("POST"), **{"Idempotency-Key": "cluster-key"}))
        ok(r.status == 201, "API key: %r" % r)
        key = r.json()["key"]
        dest = db.one("SELECT address FROM addresses WHERE wallet_id = '%s' AND branch = 0 "
                      "ORDER BY idx LIMIT 1" % chain_wallets["wpkh"])

        # -- sign-in rate limit across servers, simultaneous guesses --
        results = []

        def guess():
            try:
                results.append(request(proxy.port, "POST", "/v1/session",
                                       {"username": "mallory", "password": "wrong"}))
            except OSError as e:
                results.append(e)
        ts = [threading.Thread(target=guess) for _ in range(16)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        refused = [r for r in results if isinstance(r, Resp) and r.status == 401]
        limited = [r for r in results if isinstance(r, Resp) and r.error == "RATE_LIMITED"]
        ok(len(refused) == 10 and len(limited) == 6,
           "16 simultaneous guesses on 3 servers: %d checked, %d rate-limited (want 10 and 6): %r"
           % (len(refused), len(limited), results[:3]))
        ok(len({r.backend for r in refused}) == 3, "the guesses reached all three servers")

        # -- the stream, and the chain --
        stream = Stream(proxy.port, key, wallet_id, dest, admin)
        stream.start()

        def height():
            v = db.one("SELECT MAX(height) FROM chain_blocks WHERE connected = 1")
            return int(v) if v else -1

        def holder_pid(role):
            h = db.one("SELECT holder FROM leases WHERE name = '%s'" % role)
            if not h or ":" not in h:
                return None
            return int(h.rsplit(":", 1)[1])

        def lock_backend(role):
            k = leader_key(role)
            return db.one("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = %d "
                          "AND objid = %d AND objsubid = 1 AND granted"
                          % (k >> 32, k & 0xffffffff))

        node.set_tip(60)
        wait_for("the follower at 60", lambda: height() >= 60, 120)
        f1 = holder_pid("chain-follower")
        lead1 = by_pid(f1)
        ok(lead1 is not None, "the follower's holder %r is one of ours" % f1)
        ok(lock_backend("chain-follower") is not None, "the follower holds its advisory lock")
        for s in servers:
            want = 1 if s is lead1 else 0
            ok(metric_leader(s, admin, "chain-follower") == want,
               "server %d: kura_leader{role=\"chain-follower\"} is not %d" % (s.n, want))

        # 1. SIGKILL the follower's process in the middle of the chain.
        node.set_tip(200)
        wait_for("the follower past 62", lambda: height() > 62, 120)
        at_kill = height()
        lead1.kill()
        print("killed the follower (server %d) at height %d" % (lead1.n, at_kill))
        f2, took = wait_for("another follower", lambda: (holder_pid("chain-follower") not in (None, f1)
                                                      and lock_backend("chain-follower")
                                                      and holder_pid("chain-follower")), TAKEOVER)
        ok(by_pid(f2) is not None, "the new follower is one of ours")
        print("server %d took over in %.1f s" % (by_pid(f2).n, took))
        lead1.start()
        wait_for("the killed server back", lead1.healthy, 120)
        wait_for("the follower at 200", lambda: height() >= 200, 180)
        ok(height() > at_kill, "the chain went on after the kill")

        # 2. SIGKILL the webhook dispatcher's process.
        d1 = holder_pid("webhook-dispatcher")
        disp = by_pid(d1)
        ok(disp is not None and lock_backend("webhook-dispatcher") is not None,
           "a dispatcher leads (holder %r)" % d1)
        node.set_tip(230)
        disp.kill()
        print("killed the webhook dispatcher (server %d)" % disp.n)
        d2, took = wait_for("another dispatcher", lambda: (holder_pid("webhook-dispatcher") not in (None, d1)
                                                         and lock_backend("webhook-dispatcher")
                                                         and holder_pid("webhook-dispatcher")), TAKEOVER)
        print("server %d took the dispatcher over in %.1f s" % (by_pid(d2).n, took))
        disp.start()
        wait_for("the killed server back", disp.healthy, 120)
        wait_for("the follower at 230", lambda: height() >= 230, 180)

        # 3. The follower's database session is cut (its connection lost).
        f3 = holder_pid("chain-follower")
        lead3 = by_pid(f3)
        backend = lock_backend("chain-follower")
        ok(lead3 is not None and backend is not None, "a follower leads")
        node.set_tip(final)
        db.rows("SELECT pg_terminate_backend(%s)" % backend)
        print("terminated the follower's session (server %d)" % lead3.n)
        wait_for("server %d to stop leading" % lead3.n,
                 lambda: metric_leader(lead3, admin, "chain-follower") == 0, TAKEOVER)
        f4, took = wait_for("another follower", lambda: (holder_pid("chain-follower") not in (None, f3)
                                                      and lock_backend("chain-follower")
                                                      and holder_pid("chain-follower")), TAKEOVER)
        ok(lead3.proc.poll() is None, "the server whose session was cut lives on")
        print("server %d took over in %.1f s" % (by_pid(f4).n, took))
        wait_for("the follower at the final tip", lambda: height() >= final, 180)
        time.sleep(1.0)
        stream.stop()
        print("stream: %d requests, by server %r, %d retries on another server, "
              "%d keys sent twice at once" % (stream.n, stream.backends, stream.retry_moved,
                                              stream.concurrent))

        # -- the checks --
        ok(not stream.errors, "stream errors: %r" % stream.errors[:5])
        ok(len(stream.backends) == 3, "all three servers served the stream: %r" % stream.backends)
        ok(stream.retry_moved > 0, "some retries landed on another server")
        # Requests cut by a kill: retried now, they resolve to one transfer.
        for idem, body, ext in stream.unanswered:
            r = request(proxy.port, "POST", "/v1/transfers", body,
                        {"Authorization": "Bearer " + key, "Idempotency-Key": idem})
            if r.status == 201:
                stream.transfers[ext] = r.json()["id"]
            else:
                ok(r.status == 409 and r.error == "IDEMPOTENCY_IN_PROGRESS",
                   "a cut request retried: %r" % r)
                ok(db.one("SELECT COUNT(*) FROM transfers WHERE external_id = '%s'" % ext) == "0",
                   "a claim still running has no transfer")
        for ext, tid in stream.transfers.items():
            r = request(proxy.port, "GET", "/v1/transfers/" + tid, headers={"Authorization": "Bearer " + key})
            ok(r.status == 200 and r.json().get("external_id") == ext, "acknowledged %s: %r" % (tid, r))
        dup = db.rows("SELECT external_id FROM transfers GROUP BY external_id HAVING COUNT(*) > 1")
        ok(not dup, "an external id made twice: %r" % dup)
        idx = [i for i, _ in stream.addresses.values()]
        ok(len(idx) == len(set(idx)), "an address index was given twice")
        held = {(int(r[0]), r[1]) for r in db.rows(
            "SELECT idx, address FROM addresses WHERE wallet_id = '%s' AND branch = 0" % wallet_id)}
        ok(set(stream.addresses.values()) <= held, "an acknowledged address is not in the database")
        ok(len(stream.transfers) > 0 and len(stream.addresses) > 0, "the stream created things")

        # The chain: every block once, the tip Core's.
        ok(db.one("SELECT hash FROM chain_blocks WHERE connected = 1 AND height = %d" % final)
           == expected["final_tip"]["hash"], "the follower's tip is Core's")
        blocks = db.rows("SELECT COUNT(*), COUNT(DISTINCT height), MIN(height), MAX(height) "
                         "FROM chain_blocks WHERE connected = 1")[0]
        ok(blocks[0] == blocks[1] and int(blocks[3]) - int(blocks[2]) + 1 == int(blocks[0]),
           "connected blocks: %r" % blocks)
        # The deposits: what Core concluded, each once.
        tip = final
        total = 0
        for kind, wid in chain_wallets.items():
            got = {(r[0], int(r[1])): r for r in db.rows(
                "SELECT txid, vout, amount, state, own, COALESCE(height, -1) FROM deposits "
                "WHERE wallet_id = '%s'" % wid)}
            want = [u for u in expected["wallets"][kind]["received"] if u[3] != "mempool"]
            ok(len(got) == len(want), "%s: %d deposits, Core saw %d" % (kind, len(got), len(want)))
            for u in want:
                r = got.get((u[0], u[1]))
                ok(r is not None, "%s: Core's %s:%d missing" % (kind, u[0], u[1]))
                ok(int(r[2]) == u[2] and int(r[4]) == (1 if u[4] else 0) and int(r[5]) == u[5],
                   "%s: %s:%d is %r, Core says %r" % (kind, u[0], u[1], r, u))
                ok(r[3] in ("confirmed", "pending"), "%s: %s:%d state %s" % (kind, u[0], u[1], r[3]))
            total += len(want)
        del tip
        ok(int(db.one("SELECT COUNT(*) FROM deposits")) == total, "no deposit beyond Core's")
        twice = db.rows("SELECT object_id, type, COUNT(*) FROM webhook_events WHERE type IN "
                        "('deposit.detected', 'deposit.confirmed') GROUP BY object_id, type "
                        "HAVING COUNT(*) > 1")
        ok(not twice, "a deposit announced twice: %r" % twice[:3])
        ok(db.one("SELECT COUNT(*) FROM webhook_events WHERE type = 'deposit.detected'")
           == db.one("SELECT COUNT(*) FROM deposits WHERE own = 0"),
           "every deposit announced once")

        # Webhooks: every event delivered, seen, never twice at once.
        wait_for("every webhook delivered", lambda: db.one(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE state <> 'delivered'") == "0", 120)
        events = {r[0] for r in db.rows("SELECT id FROM webhook_events")}
        delivered = {r[0] for r in db.rows(
            "SELECT event_id FROM webhook_deliveries WHERE endpoint_id = '%s' AND state = 'delivered'"
            % endpoint)}
        ok(events == delivered, "%d events, %d delivered" % (len(events), len(delivered)))
        with recv.lock:
            seen = set(recv.seen)
            overlaps = list(recv.overlaps)
            again = sum(1 for v in recv.seen.values() if v > 1)
        ok(events <= seen, "events the receiver never saw: %r" % sorted(events - seen)[:3])
        ok(not overlaps, "delivered by two dispatchers at once: %r" % overlaps[:3])
        ok(recv.bad_signatures == 0, "deliveries with a bad signature")
        print("webhooks: %d events, all delivered; %d seen more than once (at least once)"
              % (len(events), again))

        # The audit chain, whole, after all that.
        p = subprocess.run([server_bin, "audit", "verify", "--db", url, "--data-dir",
                            os.path.join(tmp, "cli")], capture_output=True, text=True, timeout=300)
        ok(p.returncode == 0, "audit verify: %s %s" % (p.stdout, p.stderr))
    except Exception:
        for s in servers:
            print("--- server %d log (tail) ---\n%s" % (s.n, s.log_tail()))
        raise
    finally:
        if stream:
            stream.stop()
        if proxy:
            proxy.stop()
        for s in servers:
            try:
                s.stop()
            except Failure as e:
                print("FAIL:", e)
                passed[0] = -1
        node.stop()
        recv.stop()
    check(passed[0] >= 0, "a server did not stop cleanly")
    return passed[0]


def main():
    if len(sys.argv) != 3:
        print("usage: %s KURA_SERVER KURA_TEST_CLUSTER" % sys.argv[0])
        sys.exit(2)
    if not os.environ.get("KURA_TEST_DB_URL"):
        print("SKIPPED: the cluster test runs on PostgreSQL (tests/server/with-postgres.sh)")
        sys.exit(77)
    if not shutil.which("haproxy"):
        print("SKIPPED: no haproxy (Debian package haproxy; scripts/install-deps)")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="kura-cluster.")
    t0 = time.time()
    try:
        n = run(tmp, sys.argv[1], sys.argv[2])
    except Failure as e:
        print("FAIL:", e)
        sys.exit(1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("OK: %d checks passed in %.0f s" % (n, time.time() - t0))


if __name__ == "__main__":
    main()
