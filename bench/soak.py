#!/usr/bin/python3
"""bench/soak.py — kura under sustained load and faults (bench/soak runs it;
bench/README.md, "soak"; not part of CI).

    /usr/bin/python3 bench/soak.py BUILD_DIR HOOKS_BUILD_DIR [--quick]
        [--rate 500] [--seconds 60] [--kills 1000] [--cold-kills 1000]
        [--parts mixed-sqlite,mixed-postgres,kills,cold]

BUILD_DIR: the Release build of bench/run (kura-server, kura-loadgen);
HOOKS_BUILD_DIR: a Release build with the test hooks (kura-cold --now and
its cheap KDF, and tests/e2e's cold-package helper) for the hot signer part.

  mixed-sqlite    one Release kura-server on SQLite; kura-loadgen open loops
                  together at --rate requests/s for --seconds: 60% transfer
                  creations (API key, unique external_id and Idempotency-Key),
                  25% transfer lists, 10% reads of one transfer, 5% /healthz.
                  Errors and non-2xx answers counted; latency p50/p99/p99.9
                  from each request's scheduled time, per kind; then the
                  database must hold every acknowledged creation and no more
                  than were sent (one in flight when the generator stops may
                  commit unanswered), and `kura-server audit verify` must pass.
  mixed-postgres  the same on PostgreSQL (a fresh cluster, with-postgres.sh)
                  with three kura-server processes behind nginx (a plain
                  HTTP listener on loopback: kura-loadgen speaks no TLS); if
                  nginx is not installed, each kind's rate split over the
                  three servers.
  kills           tests/server/test_server_durability.py on the Release
                  kura-server: --kills SIGKILLs at random moments under a
                  stream of creations, a restart after each; 0 acknowledged
                  writes lost, nothing half-written, the audit chain whole.
  cold            bench/soak-cold.sh: `kura-cold serve --spool` SIGKILLed
                  --cold-kills times while it signs a hot wallet's packages;
                  every signed PSBT has its journal entry, no intent signed
                  twice, every package answered once, the journal verifies.
                  SKIPPED when kura-cold has no `serve --spool` (its usage).

--quick: 100 requests/s for 5 s, 10 kills, 10 signer kills (a smoke run).
Prints a table as bench/run does; MISSED where a target is missed. The
machine is shared: the load average is printed beside the figures. Exit 0
when everything ran, 1 when something could not run.
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "server"))
sys.path.insert(0, HERE)
import kura_api_harness as H  # noqa: E402
import kura_load_fixture as FX  # noqa: E402
import server as BS  # noqa: E402  (bench/server.py: BenchServer, count_transfers)

ADMIN_PW = "soak password 1"
MIX = [("create", 0.60), ("list", 0.25), ("get", 0.10), ("healthz", 0.05)]


class Failure(Exception):
    pass


def loadavg():
    return " ".join("%.2f" % x for x in os.getloadavg())


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def templates(work, key, wallet_id, transfer_id, tag):
    out = {}
    auth = "Authorization: Bearer %s\n" % key.key
    for kind, _ in MIX:
        path = os.path.join(work, "soak-%s-%s.http" % (tag, kind))
        with open(path, "w") as fh:
            if kind == "create":
                body = FX.transfer_body(wallet_id, "soak-%s-{n}" % tag)
                fh.write("POST /v1/transfers HTTP/1.1\nHost: 127.0.0.1\n%s"
                         "Content-Type: application/json\nIdempotency-Key: soak-%s-{n}\n\n%s\n"
                         % (auth, tag, body))
            elif kind == "list":
                fh.write("GET /v1/transfers?limit=20 HTTP/1.1\nHost: 127.0.0.1\n%s\n" % auth)
            elif kind == "get":
                fh.write("GET /v1/transfers/%s HTTP/1.1\nHost: 127.0.0.1\n%s\n" %
                         (transfer_id, auth))
            else:
                fh.write("GET /healthz HTTP/1.1\nHost: 127.0.0.1\n\n")
        out[kind] = path
    return out


def run_mix(loadgen, targets, tmpl, rate, seconds):
    """kura-loadgen open loops at once, one per kind and target port; each
    kind's share of the rate split over the targets. Returns {kind: [json]}."""
    results, errors, threads = {}, [], []
    lock = threading.Lock()

    def one(kind, port, r):
        conns = max(16, min(64, int(r / 4)))
        try:
            res = BS.run_json([loadgen, "open", "127.0.0.1", str(port), str(seconds),
                               "%.3f" % r, str(conns), tmpl[kind]], "kura-loadgen %s" % kind)
        except BS.Failure as e:
            with lock:
                errors.append(str(e))
            return
        with lock:
            results.setdefault(kind, []).append(res)
    for kind, share in MIX:
        for port in targets:
            th = threading.Thread(target=one, args=(kind, port, rate * share / len(targets)))
            th.start()
            threads.append(th)
    for th in threads:
        th.join()
    if errors:
        raise Failure("; ".join(errors))
    return results


def summarize(results):
    """Per kind: sums, and the worst percentiles over its loops (with one
    target there is one loop per kind)."""
    out, total = {}, {"sent": 0, "ok": 0, "other": 0, "errors": 0}
    for kind, rs in results.items():
        s = {k: sum(r[k] for r in rs) for k in ("sent", "ok", "other", "errors")}
        for p in ("p50_ms", "p99_ms", "p999_ms", "max_ms"):
            s[p] = max(r[p] for r in rs)
        out[kind] = s
        for k in total:
            total[k] += s[k]
    return out, total


def first_transfer(srv, key, wallet_id):
    r = srv.request("POST", "/v1/transfers", FX.transfer_body(wallet_id, "soak-first"), auth=key,
                    idem="soak-first")
    if r.status != 201:
        raise Failure("the first transfer: %r" % r)
    return r.json()["id"]


def audit_verify(srv):
    p = srv.cli("audit", "verify", "--json", check_rc=False)
    try:
        return p.returncode == 0 and json.loads(p.stdout).get("ok") is True
    except ValueError:
        return False


def server_conf(work, threads):
    conf = os.path.join(work, "kura-server.conf")
    with open(conf, "w") as fh:
        fh.write("threads = %d\ndb_pool = %d\nlog_requests = no\n" % (threads, threads))
    return conf


def mixed_sqlite(a):
    work = os.path.join(a.build_dir, "soak", "sqlite")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    srv = BS.BenchServer(os.path.join(a.build_dir, "server", "kura-server"), work, None)
    try:
        srv.user_add("root", "administrator", ADMIN_PW)
        srv.start(["--config", server_conf(work, 32)])
        wallet_id, key = FX.setup(srv, work, H.signin, H.ApiKey, "root", ADMIN_PW)
        tid = first_transfer(srv, key, wallet_id)
        before = BS.count_transfers(srv)
        tmpl = templates(work, key, wallet_id, tid, "s")
        res = run_mix(os.path.join(a.build_dir, "bench", "kura-loadgen"), [srv.port], tmpl,
                      a.rate, a.seconds)
        kinds, total = summarize(res)
        stored = BS.count_transfers(srv) - before
        srv.stop()
        ok = audit_verify(srv)
        return {"servers": 1, "via": "direct", "kinds": kinds, "total": total,
                "stored": stored, "audit_ok": ok, "load": loadavg()}
    except (H.Failure, RuntimeError, BS.Failure) as e:
        raise Failure("mixed-sqlite: %s\n%s" % (e, srv.server_log()))
    finally:
        if srv.proc is not None and srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()
        shutil.rmtree(os.path.join(work, "data"), ignore_errors=True)


def start_nginx(work, ports):
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                      else None)
    if not nginx:
        return None, None
    d = os.path.join(work, "nginx")
    os.makedirs(d, exist_ok=True)
    port = free_port()
    ups = "".join("    server 127.0.0.1:%d max_fails=3 fail_timeout=5s;\n" % p for p in ports)
    with open(os.path.join(d, "nginx.conf"), "w") as fh:
        fh.write("pid %s/nginx.pid;\nerror_log %s/error.log;\ndaemon off;\nworker_processes 2;\n"
                 "events { worker_connections 1024; }\nhttp {\n access_log off;\n"
                 " client_body_temp_path %s/b;\n proxy_temp_path %s/p;\n fastcgi_temp_path %s/f;\n"
                 " uwsgi_temp_path %s/u;\n scgi_temp_path %s/s;\n"
                 " upstream kura_servers {\n%s    keepalive 64;\n }\n"
                 " server {\n  listen 127.0.0.1:%d;\n  client_max_body_size 8m;\n"
                 "  keepalive_requests 100000;\n"
                 "  location / {\n   proxy_pass http://kura_servers;\n   proxy_http_version 1.1;\n"
                 "   proxy_set_header Connection \"\";\n   proxy_set_header Host $host;\n"
                 "   proxy_set_header X-Request-Id $request_id;\n"
                 "   proxy_next_upstream error timeout;\n  }\n }\n}\n" %
                 (d, d, d, d, d, d, d, ups, port))
    base = [nginx, "-p", d, "-e", os.path.join(d, "error.log"), "-c", os.path.join(d, "nginx.conf")]
    p = subprocess.run(base + ["-t"], capture_output=True)
    if p.returncode != 0:
        raise Failure("nginx -t: %s" % p.stderr.decode(errors="replace"))
    proc = subprocess.Popen(base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise Failure("nginx did not start")


def mixed_postgres(a):
    url = os.environ["KURA_TEST_DB_URL"]
    base = os.path.join(a.build_dir, "soak", "postgres")
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    binary = os.path.join(a.build_dir, "server", "kura-server")
    servers, nginx = [], None
    try:
        for i in range(3):
            w = os.path.join(base, "s%d" % i)
            os.makedirs(w)
            s = BS.BenchServer(binary, w, url)
            servers.append(s)
        servers[0].user_add("root", "administrator", ADMIN_PW)
        # 6 HTTP threads and database connections each: three servers share
        # the machine with PostgreSQL, nginx and the load generator, and 48
        # backends on 2 cores (16 each) answered fewer requests in the minute
        # (26,626 of 30,000 sent) than 18 do (all 30,000).
        for s in servers:
            s.start(["--config", server_conf(s.dir, 6)])
        srv = servers[0]
        wallet_id, key = FX.setup(srv, base, H.signin, H.ApiKey, "root", ADMIN_PW)
        tid = first_transfer(srv, key, wallet_id)
        before = BS.count_transfers(srv)
        tmpl = templates(base, key, wallet_id, tid, "p")
        nginx, port = start_nginx(base, [s.port for s in servers])
        targets = [port] if nginx else [s.port for s in servers]
        res = run_mix(os.path.join(a.build_dir, "bench", "kura-loadgen"), targets, tmpl,
                      a.rate, a.seconds)
        kinds, total = summarize(res)
        stored = BS.count_transfers(srv) - before
        for s in servers:
            s.stop()
        ok = audit_verify(srv)
        return {"servers": 3, "via": "nginx" if nginx else "round-robin in the generator",
                "kinds": kinds, "total": total, "stored": stored, "audit_ok": ok,
                "load": loadavg()}
    except (H.Failure, RuntimeError, BS.Failure) as e:
        raise Failure("mixed-postgres: %s\n%s" % (e, "\n".join(s.server_log() for s in servers)))
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait()
        for s in servers:
            if s.proc is not None and s.proc.poll() is None:
                s.proc.kill()
                s.proc.wait()


def kills(a):
    script = os.path.join(ROOT, "tests", "server", "test_server_durability.py")
    binary = os.path.join(a.build_dir, "server", "kura-server")
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, script, binary, "--kills", str(a.kills)],
                       capture_output=True, text=True)
    out = p.stdout
    m = re.search(r"durability: (\d+) kills in (\S+) s \(seed (\d+)\): (\d+) requests "
                  r"acknowledged before a kill, (\d+) cut by one", out)
    m2 = re.search(r"^(\d+) passed, (\d+) failed", out, re.M)
    if not m or not m2:
        raise Failure("kills: test_server_durability.py printed no summary (exit %d):\n%s\n%s" %
                      (p.returncode, out[-2000:], p.stderr[-1000:]))
    failed = [ln for ln in out.splitlines() if ln.startswith("FAILED")]
    return {"kills": int(m.group(1)), "seconds": time.monotonic() - t0, "seed": int(m.group(3)),
            "acked": int(m.group(4)), "cut": int(m.group(5)), "passed": int(m2.group(1)),
            "failed": int(m2.group(2)), "failures": failed[:5], "load": loadavg()}


def cold(a):
    kc = os.path.join(a.hooks_dir, "programs", "kura-cold", "kura-cold")
    pkg = os.path.join(a.hooks_dir, "tests", "e2e", "cold-package")
    if not os.path.exists(kc) or not os.path.exists(pkg):
        return {"skipped": "kura-cold or cold-package not built in %s" % a.hooks_dir}
    # kura-cold has no per-command --help (`kura-cold serve --help` exits 2
    # even where serve exists): its usage names `serve --spool` when it is there.
    p = subprocess.run([kc, "--help"], capture_output=True)
    if b"serve --spool" not in p.stdout + p.stderr:
        return {"skipped": "kura-cold has no `serve --spool`: the hot signer is not in this tree"}
    t0 = time.monotonic()
    p = subprocess.run([os.path.join(HERE, "soak-cold.sh"), kc, pkg, str(a.cold_kills)],
                       capture_output=True, text=True)
    out = p.stdout
    if p.returncode == 77:
        return {"skipped": out.strip().splitlines()[-1] if out.strip() else "skipped"}
    m = re.search(r"cold soak: (\d+) kills, (\d+) packages: (\d+) signed, (\d+) refused, "
                  r"(\d+) signed without a journal entry, (\d+) intents signed twice", out)
    m2 = re.search(r"^(\d+) passed, (\d+) failed", out, re.M)
    if not m or not m2:
        raise Failure("cold: soak-cold.sh printed no summary (exit %d):\n%s\n%s" %
                      (p.returncode, out[-2000:], p.stderr[-1000:]))
    failed = [ln for ln in out.splitlines() if ln.startswith("FAILED")]
    return {"kills": int(m.group(1)), "packages": int(m.group(2)), "signed": int(m.group(3)),
            "refused": int(m.group(4)), "unjournaled": int(m.group(5)),
            "doubles": int(m.group(6)), "passed": int(m2.group(1)), "failed": int(m2.group(2)),
            "failures": failed[:5], "seconds": time.monotonic() - t0, "load": loadavg()}


def save(a, r):
    """Each part's figures as soon as it is done (a long run stopped halfway
    keeps them): BUILD_DIR/soak-results.json."""
    with open(os.path.join(a.build_dir, "soak-results.json"), "w") as fh:
        json.dump(r, fh, indent=1)


def report(r, a):
    lines, missed = [], []
    w = lines.append
    w("")
    w("soak: the Release kura-server under sustained load and faults%s (load average at the "
      "start %s; the machine is shared: figures taken under other work are labelled by the "
      "load average beside them)" % (" (--quick)" if a.quick else "", r["load0"]))
    for name, label in (("mixed-sqlite", "SQLite (WAL, synchronous=FULL), one server"),
                        ("mixed-postgres", "PostgreSQL (a fresh cluster, fsync=on), three "
                                           "servers")):
        m = r.get(name)
        if m is None:
            continue
        if "skipped" in m:
            w(" %s: SKIPPED (%s)" % (label, m["skipped"]))
            continue
        t = m["total"]
        w(" %s, via %s: open loop %g requests/s for %g s, mixed (load average after: %s)" %
          (label, m["via"], a.rate, a.seconds, m["load"]))
        for kind, share in MIX:
            k = m["kinds"].get(kind)
            if not k:
                continue
            w("   %-34s %6d sent, %6d 2xx, %3d other, %3d errors; p50 %7.2f ms, p99 %7.2f ms, "
              "p99.9 %7.2f ms, max %7.2f ms" %
              ("%s (%d%%)" % (kind, share * 100), k["sent"], k["ok"], k["other"], k["errors"],
               k["p50_ms"], k["p99_ms"], k["p999_ms"], k["max_ms"]))
        bad = t["other"] + t["errors"]
        w("   %-34s %6d sent, %6d 2xx, %3d other, %3d errors   target 0 errors: %s" %
          ("all", t["sent"], t["ok"], t["other"], t["errors"], "met" if not bad else "MISSED"))
        if bad:
            missed.append("%s: %d non-2xx answers and %d errors" % (name, t["other"],
                                                                   t["errors"]))
        # A creation still in flight when the generator stops may commit
        # unanswered: acknowledged <= stored <= sent.
        acked = m["kinds"].get("create", {}).get("ok", 0)
        sent = m["kinds"].get("create", {}).get("sent", 0)
        same = acked <= m["stored"] <= sent and m["audit_ok"]
        w("   checked: %d creations acknowledged, %d transfers stored, %d sent (in flight at the "
          "end: %d); audit verify %s%s" %
          (acked, m["stored"], sent, sent - acked, "intact" if m["audit_ok"] else "BROKEN",
           "" if same else "  MISMATCH"))
        if not same:
            missed.append("%s: %d acknowledged, %d stored, audit %s" %
                          (name, acked, m["stored"], m["audit_ok"]))
    k = r.get("kills")
    if k is not None:
        ok = k["failed"] == 0
        w(" SIGKILL restarts of kura-server (SQLite) under a stream of creations: %d kills in "
          "%.0f s (seed %d; load average after: %s)" % (k["kills"], k["seconds"], k["seed"],
                                                        k["load"]))
        w("   %d requests acknowledged before a kill, %d cut by one; %d checks passed, %d failed  "
          "target 0 acknowledged writes lost, audit chain intact: %s" %
          (k["acked"], k["cut"], k["passed"], k["failed"], "met" if ok else "MISSED"))
        for f in k["failures"]:
            w("     " + f)
        if not ok or k["kills"] < a.kills:
            missed.append("kills: %d of %d kills, %d checks failed" % (k["kills"], a.kills,
                                                                      k["failed"]))
    c = r.get("cold")
    if c is not None:
        if "skipped" in c:
            w(" kura-cold serve under SIGKILL: SKIPPED (%s)" % c["skipped"])
        else:
            ok = c["failed"] == 0 and c["unjournaled"] == 0 and c["doubles"] == 0
            w(" kura-cold serve (the hot signer) SIGKILLed while signing: %d kills over %d "
              "packages in %.0f s (load average after: %s)" % (c["kills"], c["packages"],
                                                             c["seconds"], c["load"]))
            w("   %d signed, %d refused (replays of a signature cut by a kill), %d signed "
              "without a journal entry, %d intents signed twice; %d checks passed, %d failed  "
              "target 0 signatures without a journal entry: %s" %
              (c["signed"], c["refused"], c["unjournaled"], c["doubles"], c["passed"],
               c["failed"], "met" if ok else "MISSED"))
            for f in c["failures"]:
                w("     " + f)
            if not ok or c["kills"] < a.cold_kills:
                missed.append("cold: %d of %d kills, %d unjournaled, %d doubles, %d failed" %
                              (c["kills"], a.cold_kills, c["unjournaled"], c["doubles"],
                               c["failed"]))
    if missed:
        w(" MISSED %d:" % len(missed))
        for m in missed:
            w("   MISSED  " + m)
    else:
        w(" soak: all targets met.")
    print("\n".join(lines), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("hooks_dir")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rate", type=float)
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--kills", type=int)
    ap.add_argument("--cold-kills", type=int)
    ap.add_argument("--parts", default="mixed-sqlite,mixed-postgres,kills,cold")
    ap.add_argument("--json-out", help="(internal) write the part's result here")
    a = ap.parse_args()
    a.build_dir = os.path.abspath(a.build_dir)
    a.hooks_dir = os.path.abspath(a.hooks_dir)
    q = a.quick
    a.rate = a.rate or (100 if q else 500)
    a.seconds = a.seconds or (5 if q else 60)
    a.kills = a.kills or (10 if q else 1000)
    a.cold_kills = a.cold_kills or (10 if q else 1000)
    parts = a.parts.split(",")
    if a.json_out:   # one part, inside with-postgres.sh
        res = mixed_postgres(a)
        with open(a.json_out, "w") as fh:
            json.dump(res, fh)
        return 0
    r = {"load0": loadavg()}
    if "mixed-sqlite" in parts:
        print("soak: mixed traffic on SQLite ...", file=sys.stderr, flush=True)
        r["mixed-sqlite"] = mixed_sqlite(a)
        save(a, r)
    if "mixed-postgres" in parts:
        print("soak: mixed traffic on PostgreSQL, three servers ...", file=sys.stderr, flush=True)
        out = os.path.join(a.build_dir, "soak", "postgres.json")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        if os.path.exists(out):
            os.unlink(out)
        args = [sys.executable, os.path.abspath(__file__), a.build_dir, a.hooks_dir,
                "--rate", str(a.rate), "--seconds", str(a.seconds), "--json-out", out]
        p = subprocess.run([os.path.join(ROOT, "tests", "server", "with-postgres.sh")] + args)
        if p.returncode == 77:
            r["mixed-postgres"] = {"skipped": "PostgreSQL not installed"}
        elif p.returncode != 0:
            raise Failure("the PostgreSQL part failed")
        else:
            with open(out) as fh:
                r["mixed-postgres"] = json.load(fh)
        save(a, r)
    if "kills" in parts:
        print("soak: %d SIGKILL restarts of kura-server ..." % a.kills, file=sys.stderr,
              flush=True)
        r["kills"] = kills(a)
        save(a, r)
    if "cold" in parts:
        print("soak: kura-cold serve under %d SIGKILLs ..." % a.cold_kills, file=sys.stderr,
              flush=True)
        r["cold"] = cold(a)
        save(a, r)
    report(r, a)
    with open(os.path.join(a.build_dir, "soak-results.json"), "w") as fh:
        json.dump(r, fh, indent=1)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print("bench soak: FAILED: %s" % e, file=sys.stderr)
        sys.exit(1)
