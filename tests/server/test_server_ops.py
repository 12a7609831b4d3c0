"""tests/server/test_server_ops.py — what an operator relies on
(docs/operators-guide.md), on the real kura-server.

    python3 test_server_ops.py KURA_SERVER

  1. log_format = json: every line the server writes is one JSON object with
     ts, level and msg; a request's line has request_id (a proxy's
     X-Request-Id kept, and sent back), method, route (the table's pattern,
     never the raw path), status, duration_ms and actor (the API key's or
     user's id); no password, session cookie, CSRF token or API key secret
     of a sign-in and a key creation ever appears in the log.
  2. /metrics in the Prometheus text format: every histogram's buckets are
     cumulative, monotone, in increasing `le` order, and end with +Inf equal
     to _count, with a _sum; the request histogram has the route pattern,
     method and status class; requests made here are counted; the commit
     latency histogram and the webhook backlog gauge are there.
  3. The guide: every `kura-server COMMAND` it names answers --help with
     exit 0; every configuration key of server/api/config.c is in it.
  4. contrib/systemd: systemd-analyze verify accepts both units (the binary
     paths pointed at this build) — when systemd-analyze is installed.
  5. contrib/nginx/kura.conf: nginx -t accepts it (a self-signed certificate
     made here), and a request through it over TLS reaches kura-server: HSTS
     from the proxy, the request id passed through, the session cookie
     Secure — when nginx is installed (scripts/install-deps: nginx-light).

Python 3 standard library, openssl for the certificate.
"""
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import kura_api_harness as H  # noqa: E402
import test_server_durability as D  # noqa: E402

ROOT = H.ROOT
ADMIN_PW = "an admin password that must never be logged"
REQUEST_FIELDS = {"ts": str, "level": str, "msg": str, "request_id": str, "method": str,
                  "route": str, "status": int, "duration_ms": (int, float)}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


# ---- 1. logs ----

def check_logs(t, srv):
    admin = H.signin(srv, "root", ADMIN_PW)
    secrets_seen = [ADMIN_PW, admin.cookie, admin.csrf]
    r = srv.request("POST", "/v1/api-keys", {"name": "ops-key", "role": "auditor",
                                             "scopes": ["audit:read", "transfers:read"]},
                    auth=admin, idem="ops-key-1")
    t.check(r.status == 201, "API key creation: %r" % r)
    key = H.ApiKey(r.json()["key"], r.json())
    secrets_seen.append(key.key)
    key_id = r.json()["id"]
    # a raw id in the path: the log must carry the pattern
    raw = "tr_ops_raw_path_id_123"
    r = srv.request("GET", "/v1/transfers/" + raw, auth=key,
                    headers={"X-Request-Id": "ops-test-req-1"})
    t.check(r.status == 404, "GET of a missing transfer: %r" % r)
    t.check(r.headers.get("x-request-id") == "ops-test-req-1",
            "the proxy's X-Request-Id is not sent back: %r" % r.headers.get("x-request-id"))
    r = srv.request("GET", "/healthz", headers={"X-Request-Id": "bad id with spaces"})
    rid = r.headers.get("x-request-id", "")
    t.check(re.fullmatch(r"[0-9a-f]{16}", rid) is not None,
            "a malformed X-Request-Id is not replaced by a made one: %r" % rid)
    r = srv.request("POST", "/v1/session", {"username": "root", "password": "wrong " + ADMIN_PW})
    t.check(r.status == 401, "a wrong password: %r" % r)
    srv.request("DELETE", "/v1/session", auth=admin)
    time.sleep(0.3)
    with open(os.path.join(srv.dir, "server.log"), "rb") as f:
        text = f.read().decode(errors="replace")
    lines = [ln for ln in text.split("\n") if ln.strip()]
    bad, reqs = [], []
    for ln in lines:
        if ln.startswith("==") or ln.startswith("SUMMARY"):   # a sanitizer's report
            bad.append(ln)
            continue
        try:
            o = json.loads(ln)
        except ValueError:
            bad.append(ln)
            continue
        if not isinstance(o, dict) or not all(isinstance(o.get(k), str) for k in
                                              ("ts", "level", "msg")):
            bad.append(ln)
            continue
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o["ts"]) or \
                o["level"] not in ("debug", "info", "warn", "error"):
            bad.append(ln)
        if "route" in o:
            reqs.append(o)
    t.check(not bad, "log lines that are not JSON objects with ts/level/msg: %r" % bad[:3])
    t.check(len(reqs) >= 6, "too few request lines: %d" % len(reqs))
    for o in reqs:
        missing = [k for k, ty in REQUEST_FIELDS.items() if not isinstance(o.get(k), ty)]
        t.check(not missing and "actor" in o, "request line lacks %r: %r" % (missing, o))
    mine = [o for o in reqs if o.get("request_id") == "ops-test-req-1"]
    t.check(len(mine) == 1 and mine[0]["route"] == "/v1/transfers/{id}" and
            mine[0]["method"] == "GET" and mine[0]["status"] == 404 and
            mine[0]["actor"] == key_id,
            "the request's line: %r" % mine)
    signin = [o for o in reqs if o["route"] == "/v1/session" and o["method"] == "POST"]
    t.check(len(signin) >= 2 and any(o["status"] == 401 for o in signin),
            "sign-in lines: %r" % signin)
    t.check(raw not in text, "the raw path appears in the log")
    leaked = [i for i, s in enumerate(secrets_seen) if s and s in text]
    t.check(not leaked, "secrets in the log (password, cookie, CSRF, API key: %r)" % leaked)
    return admin


# ---- 2. metrics ----

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def parse_prometheus(text, t):
    """{name: [(labels dict, value)]}, and {family: type}."""
    samples, types = {}, {}
    for ln in text.split("\n"):
        if not ln:
            continue
        if ln.startswith("# TYPE "):
            _, _, fam, ty = ln.split(" ", 3)
            t.check(fam not in types, "TYPE of %s twice" % fam)
            types[fam] = ty
            continue
        if ln.startswith("#"):
            continue
        m = LINE.match(ln)
        if not t.check(m is not None, "not a sample line: %r" % ln):
            continue
        labels = {}
        if m.group(3):
            pos = 0
            for lm in LABEL.finditer(m.group(3)):
                t.check(lm.start() == pos, "bad labels: %r" % ln)
                labels[lm.group(1)] = lm.group(2)
                pos = lm.end()
            t.check(pos == len(m.group(3)), "bad labels: %r" % ln)
        v = m.group(4)
        samples.setdefault(m.group(1), []).append((labels, float(v)))
    return samples, types


def check_histograms(t, samples, types):
    hists = [f for f, ty in types.items() if ty == "histogram"]
    for fam in hists:
        series = {}
        for labels, v in samples.get(fam + "_bucket", []):
            le = labels.pop("le", None)
            t.check(le is not None, "%s bucket without le" % fam)
            series.setdefault(tuple(sorted(labels.items())), []).append((le, v))
        counts = {tuple(sorted(l.items())): v for l, v in samples.get(fam + "_count", [])}
        sums = {tuple(sorted(l.items())): v for l, v in samples.get(fam + "_sum", [])}
        t.check(set(series) == set(counts) == set(sums),
                "%s: buckets, _count and _sum name different series" % fam)
        for key, bs in series.items():
            les = [float("inf") if le == "+Inf" else float(le) for le, _ in bs]
            vals = [v for _, v in bs]
            t.check(les == sorted(les) and len(set(les)) == len(les),
                    "%s%r: le not increasing: %r" % (fam, key, les))
            t.check(all(a <= b for a, b in zip(vals, vals[1:])),
                    "%s%r: buckets not cumulative: %r" % (fam, key, vals))
            t.check(bs[-1][0] == "+Inf" and vals[-1] == counts.get(key),
                    "%s%r: +Inf %r is not _count %r" % (fam, key, bs[-1], counts.get(key)))
            t.check(sums.get(key, -1) >= 0, "%s%r: _sum" % (fam, key))
    return hists


def check_metrics(t, srv, admin):
    def scrape():
        r = srv.request("GET", "/metrics", auth=admin)
        t.check(r.status == 200 and r.headers.get("content-type", "").startswith("text/plain"),
                "GET /metrics: %r" % r)
        return parse_prometheus(r.body.decode(), t)

    def count_of(samples, route, method, cls):
        return sum(v for l, v in samples.get("kura_http_request_duration_seconds_count", [])
                   if l.get("route") == route and l.get("method") == method and
                   l.get("class") == cls)

    s0, _ = scrape()
    n404 = count_of(s0, "/v1/transfers/{id}", "GET", "4xx")
    for i in range(5):
        srv.request("GET", "/v1/transfers/tr_missing_%d" % i, auth=admin)
    samples, types = scrape()
    hists = check_histograms(t, samples, types)
    for fam in ("kura_http_request_duration_seconds", "kura_store_commit_duration_seconds"):
        t.check(fam in hists, "%s is not a histogram in /metrics" % fam)
    t.check(count_of(samples, "/v1/transfers/{id}", "GET", "4xx") == n404 + 5,
            "the 5 GETs answered 404 are not counted under their route pattern and 4xx")
    t.check(types.get("kura_webhook_pending_deliveries") == "gauge" and
            len(samples.get("kura_webhook_pending_deliveries", [])) == 1,
            "no webhook backlog gauge")
    commits = samples.get("kura_store_commit_duration_seconds_count", [({}, 0)])[0][1]
    t.check(commits >= 1, "no COMMIT timed (the sign-in and key creation wrote)")
    raw = [l for l, _ in samples.get("kura_http_request_duration_seconds_count", [])
           if "tr_missing" in l.get("route", "")]
    t.check(not raw, "a raw path as a route label: %r" % raw)
    return types


# ---- 3. the guide ----

def check_guide(t, srv):
    path = os.path.join(ROOT, "docs", "operators-guide.md")
    guide = open(path).read()
    # commands are written as code: fenced blocks and `spans`
    fenced = re.findall(r"```[a-z]*\n(.*?)```", guide, re.S)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```[a-z]*\n.*?```", "", guide, flags=re.S))
    cmds = set()
    for code in fenced + spans:
        for m in re.finditer(r"(?<![\w./-])kura-server((?: [a-z][a-z-]*){1,2})", code):
            words = tuple(m.group(1).split())
            if not words[0].startswith("kura-"):   # a list of targets, not a command
                cmds.add(words)
    t.check(len(cmds) >= 8, "the guide names few kura-server commands: %r" % cmds)
    known = {"serve", "user", "audit", "journal", "migrate", "routes", "bsms", "backup",
             "restore"}
    for words in sorted(cmds):
        if words[0] not in known:
            t.check(False, "the guide names `kura-server %s`, no such command" % " ".join(words))
            continue
        p = subprocess.run([srv.binary] + list(words) + ["--help"], capture_output=True,
                           timeout=60, env=srv.env)
        t.check(p.returncode == 0, "kura-server %s --help: exit %d" % (" ".join(words),
                                                                       p.returncode))
    src = open(os.path.join(ROOT, "server", "api", "config.c")).read()
    keys = set(re.findall(r'!strcmp\(key, "([a-z_]+)"\)', src))
    t.check(len(keys) >= 20, "config keys not found in config.c")
    missing = sorted(k for k in keys if "`%s`" % k not in guide)
    t.check(not missing, "configuration keys missing from the guide: %r" % missing)
    for f in ("contrib/systemd/kura-server.service", "contrib/systemd/kura-cold-serve@.service",
              "contrib/nginx/kura.conf", "bench/soak"):
        t.check(f in guide and os.path.exists(os.path.join(ROOT, f)),
                "the guide does not point at %s (or it is missing)" % f)
    return guide


def check_guide_metrics(t, guide, types):
    """Every metric the guide names is one /metrics has (a family with TYPE)."""
    named = set(re.findall(r"`(kura_[a-z_]+)`", guide))
    t.check(len(named) >= 6, "the guide names few metrics: %r" % named)
    unknown = sorted(n for n in named if re.sub(r"_(bucket|sum|count)$", "", n) not in types
                     and n not in types)
    t.check(not unknown, "metrics in the guide that /metrics lacks: %r" % unknown)


# ---- 4. systemd ----

def check_systemd(t, srv, work):
    sa = shutil.which("systemd-analyze")
    if not sa:
        print("SKIPPED (part): systemd-analyze not installed")
        return
    cold = os.path.abspath(os.environ.get("KURA_COLD") or shutil.which("true"))
    d = os.path.join(work, "units")
    os.makedirs(d)
    for name in ("kura-server.service", "kura-cold-serve@.service"):
        text = open(os.path.join(ROOT, "contrib", "systemd", name)).read()
        for want in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                     "ProtectHome=yes", "CapabilityBoundingSet=\n", "SystemCallFilter=@system-service",
                     "MemoryDenyWriteExecute=yes", "RestrictAddressFamilies=", "ReadWritePaths="):
            t.check(want in text, "%s lacks %s" % (name, want.strip()))
        t.check(re.search(r"^User=kura", text, re.M) is not None, "%s: no dedicated user" % name)
        text = text.replace("/usr/local/bin/kura-server", os.path.abspath(srv.binary))
        text = text.replace("/usr/local/bin/kura-cold", cold)
        out = name.replace("@.service", "@hot1.service")
        with open(os.path.join(d, out), "w") as f:
            f.write(text)
        p = subprocess.run([sa, "verify", os.path.join(d, out)], capture_output=True, timeout=120)
        t.check(p.returncode == 0, "systemd-analyze verify %s: %s" %
                (name, (p.stdout + p.stderr).decode(errors="replace")[-500:]))
    t.check("--passphrase-file" in open(os.path.join(ROOT, "contrib", "systemd",
                                                     "kura-cold-serve@.service")).read() and
            "serve --spool" in open(os.path.join(ROOT, "contrib", "systemd",
                                                 "kura-cold-serve@.service")).read(),
            "kura-cold-serve@.service does not run `kura-cold serve --spool`")


# ---- 5. nginx ----

def check_nginx(t, srv, work):
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                      else None)
    if not nginx or not shutil.which("openssl"):
        print("SKIPPED (part): nginx not installed (scripts/install-deps: nginx-light)")
        return
    d = os.path.join(work, "nginx")
    os.makedirs(d)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                    "/CN=kura.test", "-keyout", key, "-out", cert], check=True,
                   capture_output=True)
    https, http_ = free_port(), free_port()
    conf = open(os.path.join(ROOT, "contrib", "nginx", "kura.conf")).read()
    t.check("ssl_protocols TLSv1.2 TLSv1.3;" in conf and "Strict-Transport-Security" in conf and
            "client_max_body_size 8m;" in conf and conf.count("server 127.0.0.1:842") >= 3,
            "kura.conf: TLS 1.2+, HSTS, the body limit, several upstreams")
    conf = conf.replace("/etc/kura/tls/fullchain.pem", cert)
    conf = conf.replace("/etc/kura/tls/privkey.pem", key)
    conf = re.sub(r"listen \[::\]:\d+[^;]*;", "", conf)
    conf = conf.replace("listen 80;", "listen 127.0.0.1:%d;" % http_)
    conf = conf.replace("listen 443 ssl http2;", "listen 127.0.0.1:%d ssl http2;" % https)
    conf = re.sub(r"server 127\.0\.0\.1:842\d", "server 127.0.0.1:%d" % srv.port, conf)
    with open(os.path.join(d, "kura.conf"), "w") as f:
        f.write(conf)
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write("pid %s/nginx.pid;\nerror_log %s/error.log;\ndaemon off;\n"
                "events { worker_connections 64; }\nhttp {\n access_log off;\n"
                " client_body_temp_path %s/b;\n proxy_temp_path %s/p;\n"
                " fastcgi_temp_path %s/f;\n uwsgi_temp_path %s/u;\n scgi_temp_path %s/s;\n"
                " include %s/kura.conf;\n}\n" % ((d,) * 8))
    base = [nginx, "-p", d, "-e", os.path.join(d, "error.log"), "-c", os.path.join(d, "nginx.conf")]
    p = subprocess.run(base + ["-t"], capture_output=True, timeout=60)
    t.check(p.returncode == 0, "nginx -t: %s" % p.stderr.decode(errors="replace")[-500:])
    if p.returncode != 0:
        return
    proc = subprocess.Popen(base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ctx = ssl.create_default_context(cafile=cert)
        ctx.check_hostname = False
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        r = None
        for _ in range(100):
            try:
                c = http.client.HTTPSConnection("127.0.0.1", https, context=ctx, timeout=10)
                c.request("POST", "/v1/session", body=json.dumps(
                    {"username": "root", "password": ADMIN_PW}),
                    headers={"Content-Type": "application/json"})
                r = c.getresponse()
                body = r.read()
                break
            except OSError:
                time.sleep(0.1)
        if not t.check(r is not None, "nginx did not answer"):
            return
        cookie = r.getheader("Set-Cookie", "")
        t.check(r.status == 201 and "kura_session=" in cookie,
                "sign-in through nginx: %d %r" % (r.status, body[:200]))
        t.check("secure" in cookie.lower(), "the session cookie is not Secure behind the proxy: %r"
                % cookie)
        t.check("max-age=" in (r.getheader("Strict-Transport-Security") or ""),
                "no HSTS through the proxy")
        t.check(re.fullmatch(r"[0-9a-f]{32}", r.getheader("X-Request-Id") or "") is not None,
                "nginx's $request_id is not what kura-server answered: %r" %
                r.getheader("X-Request-Id"))
        c.request("GET", "/healthz")
        r = c.getresponse()
        r.read()
        t.check(r.status == 200, "GET /healthz through nginx: %d" % r.status)
        # the body limit: a 9 MiB body is refused by the proxy
        c = http.client.HTTPSConnection("127.0.0.1", https, context=ctx, timeout=30)
        try:
            c.request("POST", "/v1/session", body=b"x" * (9 << 20),
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            t.check(r.status == 413, "a 9 MiB body through nginx: %d" % r.status)
        except OSError as e:
            t.check(False, "a 9 MiB body through nginx: %s" % e)
        print("nginx: TLS proxy to kura-server checked (nginx -t, sign-in, HSTS, request id, "
              "body limit)")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main():
    binary = sys.argv[1]
    t = D.Tally()
    srv = H.Server(binary)
    srv.validate_responses = False
    work = tempfile.mkdtemp(prefix="kura-ops-test.")
    try:
        conf = os.path.join(srv.dir, "kura-server.conf")
        with open(conf, "w") as f:
            f.write("log_format = json\nlog_requests = yes\n")
        srv.user_add("root", "administrator", ADMIN_PW)
        srv.start(["--config", conf])
        admin = check_logs(t, srv)
        admin = H.signin(srv, "root", ADMIN_PW)
        types = check_metrics(t, srv, admin)
        guide = check_guide(t, srv)
        check_guide_metrics(t, guide, types)
        check_systemd(t, srv, work)
        check_nginx(t, srv, work)
        srv.stop()
    except H.Failure as e:
        t.check(False, "the run stopped: %s" % e)
        print(srv.server_log())
    finally:
        if srv.proc is not None and srv.proc.poll() is None:
            srv.proc.kill()
        shutil.rmtree(srv.dir, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (t.passed, t.failed))
    sys.exit(1 if t.failed else 0)


if __name__ == "__main__":
    main()
