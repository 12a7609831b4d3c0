"""tests/server/test_server_backup.py — `kura-server backup` taken while the
server runs under a stream of transfer creations, restored into an empty
database, and held against the source.

    python3 test_server_backup.py KURA_SERVER

On SQLite (a data directory of its own) by default; on the PostgreSQL of
with-postgres.sh when KURA_TEST_DB_URL is set (the restore goes into a second,
empty database of the same cluster, made here with createdb).

  1. A server with a wallet and an initiator's key; 3 client threads create
     transfers (test_server_durability's Load: each request its own
     external_id and Idempotency-Key) while `kura-server backup --out F` runs
     (a second process on the same database).
  2. `kura-server restore --from F` into an empty data directory / database;
     a second restore into the same target, and a restore into the source,
     are refused with RESTORE_TARGET_NOT_EMPTY (exit 1); a damaged copy of F
     with BACKUP_BAD_FILE; a header claiming a newer schema with
     BACKUP_SCHEMA_NEWER.
  3. The restored database is one moment of the source: its audit chain
     (recomputed here from docs/audit-format.md) is whole and is a prefix of
     the source's chain (row S has the same hash in both); every transfer in
     it is complete (outputs summing to its total, its audit row, its done
     idempotency row) and equal, field for field, to the source's; the
     transfers the source created up to audit row S are exactly those in the
     backup, with the same totals per wallet; every transfer acknowledged
     before the backup started is there.
  4. A server started on the restored database answers GET /v1/transfers/{id}
     for them, and `kura-server audit verify` says intact.
  5. After the load stops, a second backup restored into a third target
     equals the source exactly (counts, totals per wallet, audit head).

Prints "N passed, M failed"; exits 1 on any failure. Python 3 standard
library only (psql/createdb for PostgreSQL).
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import kura_api_harness as H  # noqa: E402
import kura_load_fixture as FX  # noqa: E402
import test_server_durability as D  # noqa: E402

ADMIN_PW = "a long password 1"


def pg_tool(name):
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin")):
        if os.path.exists(os.path.join(d, name)):
            return os.path.join(d, name)
    return shutil.which(name)


class Target:
    """An empty database to restore into: a data directory, or a fresh
    PostgreSQL database of with-postgres.sh's cluster."""

    def __init__(self, binary, name):
        self.srv = H.Server(binary)
        self.srv.validate_responses = False
        if self.srv.db:
            conninfo = self.srv.db[len("postgres:"):]
            parts = dict(p.split("=", 1) for p in conninfo.split())
            subprocess.run([pg_tool("createdb"), "-h", parts["host"], "-U", parts["user"], name],
                           check=True, capture_output=True)
            parts["dbname"] = name
            self.srv.db = "postgres:" + " ".join("%s=%s" % kv for kv in parts.items())
        self.db = D.Db(self.srv)


def run_cli(srv, *args):
    return subprocess.run([srv.binary] + list(args) + srv.common(), capture_output=True,
                          env=srv.env, timeout=600)


def chain(db, t, label):
    """The audit chain recomputed: returns [(seq, hash)] or None."""
    rows = db.rows("SELECT seq, at, actor, action, object_type, object_id, data, prev_hash, "
                   "hash FROM audit_log ORDER BY seq")
    head = db.rows("SELECT seq, hash FROM audit_head")
    prev, out = "0" * 64, []
    for i, r in enumerate(rows):
        if r["seq"] != i + 1 or r["prev_hash"] != prev or D.audit_row_hash(r) != r["hash"]:
            t.check(False, "%s: audit row %d does not link or hash" % (label, r["seq"]))
            return None
        prev = r["hash"]
        out.append((r["seq"], r["hash"]))
    ok = (not out and not head) or (head and head[0]["seq"] == out[-1][0] and
                                    head[0]["hash"] == out[-1][1])
    t.check(ok, "%s: audit_head %r is not the last row" % (label, head))
    return out


TRANSFER_COLS = "id, external_id, wallet_id, state, total, intent_hash, created_by"


def transfers(db, where=""):
    return {r["id"]: r for r in db.rows("SELECT %s FROM transfers %s" % (TRANSFER_COLS, where))}


def complete(db, t, label):
    """Every transfer whole: the counts of durability's check_database."""
    c = db.rows(
        "SELECT (SELECT count(*) FROM transfers) AS transfers, "
        "(SELECT count(DISTINCT transfer_id) FROM transfer_outputs) AS with_outputs, "
        "(SELECT count(*) FROM audit_log WHERE object_type = 'transfer' AND "
        " action = 'transfer.awaiting_approval') AS created_rows, "
        "(SELECT count(*) FROM idempotency_keys WHERE state = 'done' AND "
        " idem_key LIKE 'idem-%') AS done_keys")[0]
    t.check(c["transfers"] == c["with_outputs"] == c["created_rows"] == c["done_keys"],
            "%s: half-written transfers: %r" % (label, c))
    bad = db.rows("SELECT t.id FROM transfers t WHERE t.total <> "
                  "(SELECT COALESCE(SUM(o.amount), 0) FROM transfer_outputs o "
                  " WHERE o.transfer_id = t.id)")
    t.check(not bad, "%s: outputs do not sum to the total: %r" % (label, bad[:3]))
    return c["transfers"]


def per_wallet(trs):
    out = {}
    for r in trs.values():
        n, s = out.get(r["wallet_id"], (0, 0))
        out[r["wallet_id"]] = (n + 1, s + r["total"])
    return out


def expect_refusal(t, p, reason, what):
    err = p.stderr.decode(errors="replace")
    t.check(p.returncode == 1 and reason in err,
            "%s: want exit 1 with %s, got %d: %s" % (what, reason, p.returncode, err[-300:]))


def main():
    binary = sys.argv[1]
    t = D.Tally()
    src = H.Server(binary)
    src.validate_responses = False
    targets = []
    pg = bool(src.db)
    print("backup: %s" % ("PostgreSQL" if pg else "SQLite"), flush=True)
    try:
        src.user_add("root", "administrator", ADMIN_PW)
        src.start()
        wallet_id, key = FX.setup(src, src.dir, H.signin, H.ApiKey, "root", ADMIN_PW)
        counter = [0]
        load = D.Load(src.port, key, wallet_id, 4242, 1, counter)
        threads = [threading.Thread(target=load.client) for _ in range(3)]
        for th in threads:
            th.start()
        time.sleep(1.5)
        with load.lock:
            acked_before = [q for q in load.answered]
        f1 = os.path.join(src.dir, "under-load.kbackup")
        t0 = time.monotonic()
        p = run_cli(src, "backup", "--out", f1)
        took = time.monotonic() - t0
        t.check(p.returncode == 0, "backup under load: exit %d: %s" %
                (p.returncode, p.stderr.decode(errors="replace")[-500:]))
        time.sleep(0.5)
        load.stop.set()
        for th in threads:
            th.join(60)
        for req, status, data in load.refused:
            t.check(False, "%s refused with %d: %r" % (req.ext, status, data))
        if p.returncode != 0:
            raise H.Failure("no backup")
        info = json.loads(p.stdout)
        t.check(info["kind"] == ("postgres" if pg else "sqlite") and info["schema"] >= 1 and
                oct(os.stat(f1).st_mode & 0o777) == "0o600",
                "backup header / mode: %r %o" % (info, os.stat(f1).st_mode))
        print("backup under load: %.2f s, %d bytes; %d transfers acknowledged during the run, "
              "%d before the backup began" % (took, info["bytes"], len(load.answered),
                                              len(acked_before)), flush=True)

        # ---- restore, and the refusals ----
        a = Target(binary, "kura_restore_a")
        targets.append(a)
        p = run_cli(a.srv, "restore", "--from", f1)
        t.check(p.returncode == 0, "restore: exit %d: %s" %
                (p.returncode, p.stderr.decode(errors="replace")[-500:]))
        expect_refusal(t, run_cli(a.srv, "restore", "--from", f1), "RESTORE_TARGET_NOT_EMPTY",
                       "a second restore into the same target")
        expect_refusal(t, run_cli(src, "restore", "--from", f1), "RESTORE_TARGET_NOT_EMPTY",
                       "a restore into the running source")
        damaged = os.path.join(src.dir, "damaged.kbackup")
        data = bytearray(open(f1, "rb").read())
        data[len(data) // 2] ^= 0x40
        open(damaged, "wb").write(bytes(data))
        b = Target(binary, "kura_restore_b")
        targets.append(b)
        expect_refusal(t, run_cli(b.srv, "restore", "--from", damaged), "BACKUP_BAD_FILE",
                       "a damaged backup")
        newer = os.path.join(src.dir, "newer.kbackup")
        hdr, _, payload = bytes(open(f1, "rb").read()).partition(b"\n\n")
        hdr = hdr.replace(b"schema: %d" % info["schema"], b"schema: %d" % (info["schema"] + 100))
        open(newer, "wb").write(hdr + b"\n\n" + payload)
        expect_refusal(t, run_cli(b.srv, "restore", "--from", newer), "BACKUP_SCHEMA_NEWER",
                       "a backup of a newer schema")
        expect_refusal(t, run_cli(b.srv, "restore", "--from", os.path.join(HERE, "with-postgres.sh")),
                       "BACKUP_BAD_FILE", "not a backup")
        if not pg:
            t.check(not os.path.exists(os.path.join(b.srv.data, "kura.db")),
                    "a refused restore left a database behind")

        # ---- the restored database is one moment of the source ----
        sdb = D.Db(src)
        rchain = chain(a.db, t, "restored")
        schain = chain(sdb, t, "source")
        if rchain is not None and schain is not None:
            s = len(rchain)
            t.check(s > 0 and schain[:s] == rchain,
                    "the restored chain (%d rows) is not a prefix of the source's (%d)" %
                    (s, len(schain)))
            n = complete(a.db, t, "restored")
            rtr = transfers(a.db)
            created = set(r["object_id"] for r in sdb.rows(
                "SELECT object_id FROM audit_log WHERE object_type = 'transfer' AND "
                "action = 'transfer.awaiting_approval' AND seq <= %d" % s))
            str_ = transfers(sdb)
            t.check(set(rtr) == created,
                    "transfers in the backup (%d) are not those the source made up to audit "
                    "row %d (%d)" % (len(rtr), s, len(created)))
            diff = [i for i in rtr if str_.get(i) != rtr[i]]
            t.check(not diff, "restored transfers differ from the source's: %r" % diff[:3])
            t.check(per_wallet(rtr) == per_wallet({i: str_[i] for i in created if i in str_}),
                    "per-wallet counts and totals differ at the backup's moment")
            missing = [q.ext for q in acked_before if q.tid not in rtr]
            t.check(not missing, "acknowledged before the backup, missing from it: %r" %
                    missing[:5])
            print("restored: audit rows 1..%d of the source's %d, %d transfers" %
                  (s, len(schain), n), flush=True)

        # ---- a server on the restored database ----
        p = run_cli(a.srv, "audit", "verify", "--json")
        try:
            rep = json.loads(p.stdout)
        except ValueError:
            rep = {}
        t.check(p.returncode == 0 and rep.get("ok") is True,
                "audit verify of the restored database: exit %d %s" %
                (p.returncode, p.stderr.decode(errors="replace")[-300:]))
        a.srv.start()
        some = [q for q in acked_before][:50]
        for q in some:
            r = a.srv.request("GET", "/v1/transfers/" + q.tid, auth=key)
            t.check(r.status == 200 and r.json().get("external_id") == q.ext,
                    "restored server: GET %s: %r" % (q.tid, r))
        adm = H.signin(a.srv, "root", ADMIN_PW)
        r = a.srv.request("POST", "/v1/audit/verify", {}, auth=adm)
        t.check(r.status == 200 and r.json().get("ok") is True,
                "restored server: POST /v1/audit/verify: %r" % r)
        a.srv.stop()

        # ---- quiet: a second backup equals the source exactly ----
        f2 = os.path.join(src.dir, "quiet.kbackup")
        p = run_cli(src, "backup", "--out", f2)
        t.check(p.returncode == 0, "quiet backup: %r" % p.stderr[-300:])
        c = Target(binary, "kura_restore_c")
        targets.append(c)
        p = run_cli(c.srv, "restore", "--from", f2)
        t.check(p.returncode == 0, "quiet restore: %r" % p.stderr[-300:])
        ctr, str_ = transfers(c.db), transfers(sdb)
        t.check(ctr == str_ and per_wallet(ctr) == per_wallet(str_),
                "the quiet backup's transfers (%d) are not the source's (%d)" %
                (len(ctr), len(str_)))
        t.check(chain(c.db, t, "quiet restore") == chain(sdb, t, "source"),
                "the quiet backup's audit chain is not the source's")
        src.stop()
    except H.Failure as e:
        t.check(False, "the run stopped: %s" % e)
        print("--- server log (tail) ---")
        print(src.server_log())
    finally:
        for x in targets:
            if x.srv.proc is not None and x.srv.proc.poll() is None:
                x.srv.proc.kill()
            shutil.rmtree(x.srv.dir, ignore_errors=True)
        if src.proc is not None and src.proc.poll() is None:
            src.proc.kill()
        shutil.rmtree(src.dir, ignore_errors=True)
    print("%d passed, %d failed" % (t.passed, t.failed))
    sys.exit(1 if t.failed else 0)


if __name__ == "__main__":
    main()
