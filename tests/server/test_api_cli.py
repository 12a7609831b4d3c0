#!/usr/bin/env python3
"""tests/server/test_api_cli.py — kura-server's command line on a real data
directory: --help for every command (exit 0), usage errors and bad
configuration (exit 2, the line named), `migrate`, `user add` refusals
(exit 1), `audit export` in both formats, and `audit verify`: exit 0 on an
intact database, exit 1 naming the edited object after a row is changed
behind the server's back, and naming the first broken row after an audit row
is edited (the edits are made with Python's sqlite3 on the SQLite run; on
PostgreSQL they are skipped)."""
import json
import os
import sqlite3

from kura_api_harness import check, main, new_password, signin


def run(srv):
    def cli(*args, rc=0, stdin=None):
        p = srv.cli(*args, check_rc=False, stdin=stdin)
        check(p.returncode == rc, "kura-server %s: want exit %d, got %d: %s" % (
            " ".join(args), rc, p.returncode, p.stderr.decode(errors="replace")[-500:]))
        return p

    import subprocess
    for args in (["--help"], ["serve", "--help"], ["user", "--help"], ["audit", "--help"],
                 ["journal", "--help"], ["migrate", "--help"], ["routes", "--help"]):
        p = subprocess.run([srv.binary] + args, capture_output=True, env=srv.env)
        check(p.returncode == 0 and b"usage: kura-server" in p.stdout, "%s: %r" % (args, p.stdout[:100]))
    p = subprocess.run([srv.binary, "frobnicate"], capture_output=True, env=srv.env)
    check(p.returncode == 2 and b"unknown command" in p.stderr, "unknown command")
    p = subprocess.run([srv.binary, "serve", "--bogus"], capture_output=True, env=srv.env)
    check(p.returncode == 2 and b"unknown option" in p.stderr, "unknown option")
    conf = os.path.join(srv.dir, "bad.conf")
    with open(conf, "w") as f:
        f.write("# fine\nthreads = 4\nthreads = 0\n")
    p = subprocess.run([srv.binary, "migrate", "--config", conf] + srv.common(), capture_output=True, env=srv.env)
    check(p.returncode == 2 and b"line 3" in p.stderr, "bad config: %r" % p.stderr)

    p = cli("migrate")
    check(p.stdout.startswith(b"schema version "), "migrate: %r" % p.stdout)
    pw = new_password()
    srv.user_add("admin", "administrator", pw)
    pf = os.path.join(srv.dir, "short")
    with open(pf, "w") as f:
        f.write("short\n")
    p = cli("user", "add", "x", "--role", "viewer", "--password-file", pf, rc=1)
    check(b"INVALID_FIELD" in p.stderr, "short password: %r" % p.stderr)
    cli("user", "add", "admin", "--role", "viewer", "--password-file", pf, rc=1)
    cli("user", "add", "y", "--role", "root", "--password-file", pf, rc=2)

    srv.start()
    admin = signin(srv, "admin", pw)
    for i in range(3):
        r = srv.request("POST", "/v1/users", {"username": "u%d" % i, "password": new_password(),
                                              "role": "viewer"}, auth=admin)
        check(r.status == 201, "user: %r" % r)
    victim = r.json()["id"]
    srv.stop()

    p = cli("audit", "verify")
    check(b"intact" in p.stderr, "verify intact: %r" % p.stderr)
    p = cli("audit", "export", "--format", "jsonl")
    lines = p.stdout.decode().splitlines()
    check(len(lines) >= 5 and all(json.loads(l) is not None for l in lines), "jsonl export")
    p = cli("audit", "export", "--format", "csv", "--from", "0", "--to", "2000000000")
    check(p.stdout.count(b"\r\n") >= 5, "csv export")
    cli("audit", "export", "--format", "xml", rc=2)

    if srv.db:
        print("(PostgreSQL: direct edits skipped)")
        return
    db = sqlite3.connect(os.path.join(srv.data, "kura.db"))
    db.execute("UPDATE users SET role = 'administrator' WHERE id = ?", (victim,))
    db.commit()
    p = cli("audit", "verify", rc=1)
    check(("edited user %s" % victim).encode() in p.stderr and b"BROKEN" in p.stderr,
          "verify names the edited user: %r" % p.stderr)
    db.execute("UPDATE users SET role = 'viewer' WHERE id = ?", (victim,))
    db.execute("UPDATE audit_log SET action = 'user.nothing' WHERE seq = 3")
    db.commit()
    db.close()
    p = cli("audit", "verify", rc=1)
    check(b"first broken row 3" in p.stderr, "verify names row 3: %r" % p.stderr)


if __name__ == "__main__":
    main(run)
