#!/usr/bin/env python3
"""tests/server/e2e_server.py — the whole story through the real programs over HTTP.

A 2-of-3 P2WSH wallet made by three kura-cold keystores is registered with
kura-server from `kura-cold export` and a policy two administrators signed with
ssh-keygen. A back office requests a batch transfer with an API key; two
approvers fetch the intent from the server, read it, sign it and post the
approval with `kura-approve --server`; an operator downloads the signing
package; two kura-cold devices check and sign it; the signed PSBTs are
uploaded; the server combines, finalizes and extracts the transaction, and
every signature of it verifies.

Then the coordinator is compromised: rows are edited directly in its database
after approval — a destination, an amount, where the change goes. The server's
own run of the signer's check refuses to build such packages; a coordinator
whose code the attacker replaced as well (a test-build switch turns that check
off) hands them out, and kura-cold refuses each with its reason. `kura-server
audit verify` names every edited row.

Usage: e2e_server.py KURA-SERVER   (KURA_COLD, KURA_APPROVE, KURA, KURA_TEST_FUND
in the environment; KURA_TEST_DB_URL set by with-postgres.sh for PostgreSQL).
"""
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kura_api_harness as h  # noqa: E402

WORDS = {
    "A": "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
    "B": "legal winner thank year wave sausage worth useful legal winner thank yellow",
    "C": "letter advice cage absurd amount doctor acoustic avoid letter advice cage above",
    # The BIP129 wallet's devices (BIP39 test vectors too).
    "D": "ozone drill grab fiber curtain grace pudding thank cruise elder eight picnic",
    "E": "scheme spot photo card baby mountain device kick cradle pact join borrow",
    "F": "cat swing flag economy stadium alone churn speed unique patch report train",
}
G = "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
DESTS = {
    "D1": "wpkh(02%s)" % G,
    "D2": "tr(c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5)",
    "D3": "wsh(pk(02f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9))",
    "EVIL": "wpkh(02e493dbf1c10d80f3581e4904930b1404cc6c13900ee0758474fa94abe8c4cd13)",
}
COIN = 100000000

passed = 0
failed = 0


def ok(what):
    global passed
    passed += 1
    print("ok: " + what, flush=True)


def bad(what):
    global failed
    failed += 1
    print("FAILED: " + what, flush=True)


def expect(cond, what):
    ok(what) if cond else bad(what)


class Story:
    def __init__(self, server_bin, need_fund=True):
        for var in ("KURA_COLD", "KURA_APPROVE", "KURA") + (("KURA_TEST_FUND",) if need_fund else ()):
            if not os.environ.get(var):
                raise h.Failure("$%s is not set" % var)
        self.cold_bin = os.environ["KURA_COLD"]
        self.approve_bin = os.environ["KURA_APPROVE"]
        self.kura_bin = os.environ["KURA"]
        self.fund_bin = os.environ.get("KURA_TEST_FUND")
        self.server_bin = server_bin
        self.work = tempfile.mkdtemp(prefix="kura-e2e-server.")
        self.env = dict(os.environ)
        self.env["KURA_COLD_TEST_KDF"] = "min"
        self.env["HOME"] = self.work  # kura-approve remembers policy versions under $HOME
        self.env["TMPDIR"] = self.work
        self.passfile = self.path("pass")
        with open(self.passfile, "w") as f:
            f.write("e2e test passphrase\n")
        os.chmod(self.passfile, 0o600)
        self.now = int(time.time())
        self.srv = None

    def path(self, *p):
        return os.path.join(self.work, *p)

    def run(self, args, stdin=None, check=True):
        p = subprocess.run(args, input=stdin.encode() if isinstance(stdin, str) else stdin,
                           capture_output=True, env=self.env, cwd=self.work, timeout=300)
        if check and p.returncode != 0:
            raise h.Failure("%s: exit %d\n%s%s" % (" ".join(args[:3]), p.returncode,
                                                   p.stdout.decode(errors="replace"),
                                                   p.stderr.decode(errors="replace")))
        return p

    def cold(self, device, *args, stdin=None, check=True, now=None):
        a = [self.cold_bin, "--passphrase-file", self.passfile, "--dir", self.path(device)]
        if now is not None:
            a += ["--now", str(now)]
        return self.run(a + list(args), stdin=stdin, check=check)

    def address(self, desc):
        out = self.run([self.kura_bin, "address", desc, "--network", "regtest"]).stdout.decode()
        return out.strip().splitlines()[-1].split()[-1]

    def pk(self, name):
        return " ".join(open(self.path("keys", name + ".pub")).read().split()[:2])

    # ---- the cast: keys, devices, wallet, policy ----

    def setup(self):
        os.makedirs(self.path("keys"))
        for k in ("alice", "carol", "admin1", "admin2", "admin3"):
            self.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", k, "-f", self.path("keys", k)])
        self.run(["ssh-keygen", "-q", "-t", "ecdsa", "-b", "256", "-N", "", "-C", "bob", "-f",
                  self.path("keys", "bob")])
        self.dest = {k: self.address(v) for k, v in DESTS.items()}
        xpubs = []
        for d in ("A", "B", "C"):
            self.cold(d, "restore", "--network", "regtest", stdin=WORDS[d] + "\n")
            xpubs.append(self.cold(d, "xpub", "--path", "m/48h/1h/0h/2h").stdout.decode().strip())
        raw = "wsh(sortedmulti(2,%s))" % ",".join(x + "/<0;1>/*" for x in xpubs)
        out = self.run([self.kura_bin, "descriptor", raw]).stdout.decode()
        self.descriptor = [l[len("descriptor: "):] for l in out.splitlines() if l.startswith("descriptor: ")][0]
        checksum = self.descriptor.rsplit("#", 1)[1]
        self.policy = self.policy_text("treasury-cold", checksum)
        with open(self.path("policy-v1"), "w") as f:
            f.write(self.policy)
        self.policy_sigs = self.sign_policy(self.policy)
        # Each device's ceremony, two days ago: the allowlist's day has passed.
        for d in ("A", "B", "C"):
            self.cold(d, "ceremony", "--descriptor", self.descriptor, "--policy", self.path("policy-v1"),
                      "--wallet", "treasury-cold", stdin="yes\n", now=self.now - 2 * 86400)
        export = self.cold("A", "export").stdout.decode().strip()
        expect(export == self.descriptor, "setup: three kura-cold devices hold the 2-of-3 wallet")
        self.export = export

    def sign_policy(self, text):
        sigs = []
        for a in ("admin1", "admin2"):
            p = self.run(["ssh-keygen", "-Y", "sign", "-f", self.path("keys", a), "-n", "kura-policy-v1"],
                         stdin=text)
            sigs.append(p.stdout.decode())
        return sigs

    def policy_text(self, wallet, checksum):
        allow = sorted(["allow: %s exchange a" % self.dest["D1"], "allow: %s exchange b" % self.dest["D2"],
                        "allow: %s cold storage" % self.dest["D3"]])
        return "".join([
            "kura-policy 1\nversion: 1\nnetwork: regtest\nwallet: %s #%s\nmode: cold\n" % (wallet, checksum),
            "admin: admin-one %s\nadmin: admin-three %s\nadmin: admin-two %s\nadmin-quorum: 2\n"
            % (self.pk("admin1"), self.pk("admin3"), self.pk("admin2")),
            "approver: alice %s\napprover: bob %s\napprover: carol %s\n"
            % (self.pk("alice"), self.pk("bob"), self.pk("carol")),
            "tier: 100000000 1\ntier: 1000000000 2\ntier: max 3\n",
            "initiator-may-approve: no\nallowlist-required: yes\nallowlist-delay: 86400\n",
            "".join(a + "\n" for a in allow),
            "max-per-transfer: 1000000000\nmax-per-24h: 3000000000\nmax-fee: 100000\n",
            "max-fee-rate: 100\nmax-lifetime: 86400\n"])

    # ---- the server ----

    def start_server(self, extra_env=None):
        self.srv = h.Server(self.server_bin, env_extra=extra_env)
        self.srv.validate_responses = True
        admin_pw = h.new_password()
        self.srv.user_add("admin", "administrator", admin_pw)
        self.srv.start()
        self.admin = h.signin(self.srv, "admin", admin_pw)
        self.make_keys()

    def make_keys(self):
        """The API keys of the cast (self.srv and self.admin set)."""
        self.keys = {}
        for name, role, scopes in (
                ("back-office", "initiator", ["transfers:create", "transfers:read", "wallets:read",
                                              "addresses:write"]),
                ("ops-desk", "initiator", ["transfers:sign", "transfers:read"]),
                ("alice", "approver", ["transfers:approve", "transfers:read"]),
                ("bob", "approver", ["transfers:approve", "transfers:read"])):
            r = self.srv.request("POST", "/v1/api-keys", {"name": name, "role": role, "scopes": scopes},
                                 auth=self.admin)
            h.check(r.status == 201, "api key %s: %r" % (name, r))
            self.keys[name] = h.ApiKey(r.json()["key"])
            with open(self.path(name + ".apikey"), "w") as f:
                f.write(r.json()["key"] + "\n")
            os.chmod(self.path(name + ".apikey"), 0o600)

    def db_url(self):
        return self.srv.db or "sqlite:" + os.path.join(self.srv.data, "kura.db")

    def sql(self, statement, *params):
        """Edits the coordinator's database behind its back (the attacker)."""
        if self.srv.db:
            conninfo = self.srv.db[len("postgres:"):]
            args = dict(kv.split("=", 1) for kv in conninfo.split())
            q = statement
            for p in params:
                q = q.replace("?", "'" + str(p).replace("'", "''") + "'", 1)
            psql = [b for b in (os.path.join(d, "psql") for d in
                                sorted(__import__("glob").glob("/usr/lib/postgresql/*/bin"))) if os.path.exists(b)]
            h.check(psql, "no psql")
            self.run([psql[-1], "-h", args["host"], "-U", args["user"], "-d", args["dbname"], "-q",
                      "-v", "ON_ERROR_STOP=1", "-c", q])
        else:
            import sqlite3
            con = sqlite3.connect(os.path.join(self.srv.data, "kura.db"), timeout=30)
            cur = con.execute(statement, params)
            h.check(cur.rowcount >= 1, "the edit changed no row: %s" % statement)
            con.commit()
            con.close()

    def register_wallet(self):
        amounts = (6 * COIN, 3 * COIN, 2 * COIN, 2 * COIN, COIN, COIN, COIN, COIN)
        self.register(len(amounts))
        # Enough coins that every package of the story finds its own.
        for i, amount in enumerate(amounts):
            self.run([self.fund_bin, "fund", self.db_url(), self.wallet_id, self.descriptor, str(i),
                      str(amount), "%02x" % (0x40 + i)])

    def register(self, naddresses, extra=None):
        """Registers the wallet (kura-cold export, the admins' signed policy)
        and allocates naddresses deposit addresses of account treasury;
        returns them."""
        body = {"descriptor": self.export, "policy": self.policy, "policy_signatures": self.policy_sigs}
        body.update(extra or {})
        r = self.srv.request("POST", "/v1/wallets", body, auth=self.admin)
        expect(r.status == 201 and r.json().get("name") == "treasury-cold",
               "register: the wallet from kura-cold export and the admins' signed policy")
        self.wallet_id = r.json()["id"]
        addrs = []
        for i in range(naddresses):
            r = self.srv.request("POST", "/v1/wallets/%s/addresses" % self.wallet_id,
                                 {"account": "treasury", "label": "funding %d" % i},
                                 auth=self.keys["back-office"])
            h.check(r.status == 201, "address: %r" % r)
            addrs.append(r.json()["address"])
        return addrs

    def request_transfer(self, external_id, outputs):
        r = self.srv.request("POST", "/v1/transfers",
                             {"wallet_id": self.wallet_id, "external_id": external_id,
                              "outputs": [{"address": self.dest[d], "amount": a, "label": l}
                                          for d, a, l in outputs],
                              "max_fee": 50000},
                             auth=self.keys["back-office"], idem="idem-" + external_id)
        h.check(r.status == 201, "transfer %s: %r" % (external_id, r))
        return r.json()["id"]

    def approve(self, tid, who):
        p = self.run([self.approve_bin, "approve", "--server", "http://127.0.0.1:%d" % self.srv.port,
                      "--transfer", tid, "--api-key-file", self.path(who + ".apikey"),
                      "--key", self.path("keys", who), "--policy", self.path("policy-v1"), "--yes",
                      "--intent-out", self.path("%s.intent" % tid), "-o",
                      self.path("%s.%s.approval" % (tid, who)), "--force"], check=False)
        return p

    def state(self, tid):
        return self.srv.request("GET", "/v1/transfers/" + tid, auth=self.keys["back-office"]).json()["state"]

    def package(self, tid):
        r = self.srv.request("GET", "/v1/transfers/%s/package" % tid, auth=self.keys["ops-desk"])
        if r.status == 200:
            with open(self.path(tid + ".psbt"), "wb") as f:
                f.write(r.body)
        return r

    def sign(self, device, tid):
        out = self.path("%s.%s.psbt" % (tid, device))
        if os.path.exists(out):
            os.unlink(out)
        p = self.cold(device, "sign", self.path(tid + ".psbt"), "-o", out, stdin="yes\n",
                      now=int(time.time()), check=False)
        return p, out

    def audit_verify(self):
        return self.srv.cli("audit", "verify", check_rc=False)


def legit(s):
    tid = s.request_transfer("wd-8812", [("D1", 150000000, "withdrawal 8812"),
                                         ("D2", 75000000, "withdrawal 8813"),
                                         ("D3", 25000000, "to cold storage")])
    # The approvers read the intent on their own machines, from its exact bytes.
    text = s.srv.request("GET", "/v1/transfers/%s/intent" % tid, auth=s.keys["alice"]).body
    p = s.approve(tid, "alice")
    expect(p.returncode == 0 and b"Approval posted" in p.stdout,
           "kura-approve --server: alice fetched, read, signed and posted her approval")
    expect(open(s.path(tid + ".intent"), "rb").read() == text,
           "kura-approve --server: the intent alice signed is the server's exact bytes")
    expect(s.state(tid) == "awaiting_approval", "one approval of two: still awaiting approval")
    p = s.approve(tid, "bob")
    expect(p.returncode == 0 and s.state(tid) == "approved",
           "kura-approve --server: bob's approval meets the 2-approval tier: approved")
    r = s.package(tid)
    expect(r.status == 200 and r.headers.get("content-type") == "application/octet-stream",
           "package: the signing package downloaded as a file")
    outs = []
    for d in ("A", "B"):
        p, out = s.sign(d, tid)
        expect(p.returncode == 0 and os.path.exists(out) and b"signed: " in p.stdout,
               "kura-cold %s: its check accepts the package, and it signs" % d)
        outs.append(out)
    for i, out in enumerate(outs):
        r = s.srv.request("POST", "/v1/transfers/%s/signatures" % tid, open(out, "rb").read(),
                          ctype="application/octet-stream", auth=s.keys["ops-desk"])
        expect(r.status == 200, "upload: device %s's signed PSBT taken in (%r)" % ("AB"[i], r.status))
    expect(s.state(tid) == "signed", "two of three: combined, finalized, extracted: signed")
    r = s.srv.request("GET", "/v1/transfers/%s/tx" % tid, auth=s.keys["back-office"])
    expect(r.status == 200, "the raw transaction is available")
    p = s.run([s.fund_bin, "verify", s.db_url(), tid], check=False)
    expect(p.returncode == 0 and b"signatures verify" in p.stdout,
           "every signature of the transaction verifies (%s)" % p.stdout.decode().strip())
    tx = json.loads(r.body) if r.headers.get("content-type") == "application/json" else {"hex": r.body.decode()}
    hexes = [v for v in tx.values() if isinstance(v, str) and len(v) > 100]
    if hexes:
        dec = s.run([s.kura_bin, "tx", hexes[0], "--network", "regtest"], check=False).stdout.decode()
        expect(all(s.dest[d] in dec for d in ("D1", "D2", "D3")),
               "the kura tool decodes the transaction: the intent's three destinations")
    expect(s.audit_verify().returncode == 0, "audit verify: the chain and every object intact")
    return tid


def fee_bump(s, tid):
    """The transfer is broadcast (this story has no node: its state is set as
    the broadcaster would) and stuck: an operator bumps its fee over HTTP
    without a new approval round; devices A and B, which signed the
    original, see that the package replaces it (old fee -> new fee) and sign;
    the server finalizes the bump and it becomes the transfer's transaction.
    The original package presented again to A is refused."""
    before = s.srv.request("GET", "/v1/transfers/" + tid, auth=s.keys["back-office"]).json()
    s.sql("UPDATE transfers SET state = 'broadcast' WHERE id = ?", tid)
    r = s.srv.request("POST", "/v1/transfers/%s/bump" % tid, {"fee_rate_sat_vb": 0},
                      auth=s.keys["ops-desk"])
    expect(r.status == 400 and r.error == "INVALID_FIELD", "bump: a rate of 0 is refused (%r)" % r)
    r = s.srv.request("POST", "/v1/transfers/%s/bump" % tid, {"fee_rate_sat_vb": 100000},
                      auth=s.keys["ops-desk"])
    expect(r.status == 422 and r.error == "FEE_TOO_HIGH", "bump: a rate over the caps: FEE_TOO_HIGH (%r)" % r)
    r = s.srv.request("POST", "/v1/transfers/%s/bump" % tid, {"fee_rate_sat_vb": 20},
                      auth=s.keys["back-office"])
    expect(r.status == 403, "bump: a key without transfers:sign may not (%r)" % r.status)
    r = s.srv.request("POST", "/v1/transfers/%s/bump" % tid, {"fee_rate_sat_vb": 20},
                      auth=s.keys["ops-desk"])
    body = r.json() if r.status == 200 else {}
    atts = body.get("attempts", [])
    expect(r.status == 200 and body.get("state") == "broadcast" and len(atts) == 2 and
           atts[1]["state"] == "awaiting_signatures" and atts[1]["fee"] > before["fee"],
           "bump: a second attempt awaiting signatures, the transfer still broadcast (%r)" % r.status)
    os.rename(s.path(tid + ".psbt"), s.path(tid + ".original.psbt"))
    r = s.package(tid)
    expect(r.status == 200, "bump: its package downloaded")
    outs = []
    for d in ("A", "B"):
        p, out = s.sign(d, tid)
        so = p.stdout.decode()
        expect(p.returncode == 0 and "FEE BUMP:   replaces transaction %s" % before["txid"] in so and
               "fee %d sat -> %d sat" % (before["fee"], atts[1]["fee"]) in so,
               "kura-cold %s: shows the transaction the bump replaces and old fee -> new fee, signs" % d)
        outs.append(out)
    for out in outs:
        r = s.srv.request("POST", "/v1/transfers/%s/signatures" % tid, open(out, "rb").read(),
                          ctype="application/octet-stream", auth=s.keys["ops-desk"])
        expect(r.status == 200, "bump: signed PSBT uploaded (%r)" % r.status)
    after = s.srv.request("GET", "/v1/transfers/" + tid, auth=s.keys["back-office"]).json()
    expect(after["state"] == "broadcast" and after["txid"] != before["txid"] and
           after["fee"] == atts[1]["fee"] and after["attempts"][1]["state"] == "broadcast" and
           after["attempts"][0]["txid"] == before["txid"],
           "bump: finalized, the transfer's transaction now; the original kept as attempt 1")
    os.rename(s.path(tid + ".original.psbt"), s.path(tid + ".psbt"))
    p, out = s.sign("A", tid)
    expect(p.returncode == 1 and b"KURA_REFUSE_BUMP_FEE_NOT_HIGHER" in p.stderr and not os.path.exists(out),
           "kura-cold A: the original package again is refused (%s)" % p.stderr.decode().strip()[-200:])


def bsms_wallet(s):
    """A 2-of-3 wallet set up with BIP129: each device signs its key record,
    kura-server writes the descriptor record, every device checks it against
    every record at its ceremony, and kura-server registers the wallet from the
    same records with the same check; a tampered record is refused."""
    records = []
    for d in ("D", "E", "F"):
        s.cold(d, "restore", "--network", "regtest", stdin=WORDS[d] + "\n")
        s.cold(d, "bsms", "key", "-o", s.path(d + ".bsms"))
        records.append(open(s.path(d + ".bsms")).read())
    out = s.run([s.server_bin, "bsms", "descriptor-record", "--threshold", "2", "--network", "regtest",
                 "-o", s.path("vault.bsms")] + [s.path(d + ".bsms") for d in ("D", "E", "F")]).stdout.decode()
    desc = [l[len("descriptor: "):] for l in out.splitlines() if l.startswith("descriptor: ")][0]
    drec = open(s.path("vault.bsms")).read()
    policy = s.policy_text("vault", desc.rsplit("#", 1)[1])
    with open(s.path("policy-vault"), "w") as f:
        f.write(policy)
    sigs = s.sign_policy(policy)
    for d in ("D", "E", "F"):
        p = s.cold(d, "ceremony", "--bsms", s.path("vault.bsms"), "--policy", s.path("policy-vault"),
                   "--wallet", "vault", s.path("D.bsms"), s.path("E.bsms"), s.path("F.bsms"),
                   stdin="yes\n", now=s.now - 2 * 86400, check=False)
        expect(p.returncode == 0, "bsms: device %s checks the descriptor record against every key record" % d)
    # A key record the coordinator altered (its description) no longer verifies.
    forged = records[1].split("\n")
    forged[3] = "E (replaced)"
    r = s.srv.request("POST", "/v1/wallets", {"bsms_descriptor_record": drec,
                                              "bsms_key_records": [records[0], "\n".join(forged), records[2]],
                                              "policy": policy, "policy_signatures": sigs}, auth=s.admin)
    expect(r.status == 422 and r.error == "INVALID_DESCRIPTOR",
           "bsms: kura-server refuses a tampered key record (%s)" % r.error)
    r = s.srv.request("POST", "/v1/wallets", {"bsms_descriptor_record": drec, "bsms_key_records": records,
                                              "policy": policy, "policy_signatures": sigs}, auth=s.admin)
    export = s.cold("D", "export").stdout.decode().strip()
    expect(r.status == 201 and r.json().get("descriptor") == export == desc,
           "bsms: kura-server registers from the same records the wallet every device accepted")


def compromised(s):
    """Rows edited after approval; the coordinator's own check stops them,
    and with that check gone too, kura-cold does."""
    evil = s.dest["EVIL"]
    cases = []
    tid = s.request_transfer("wd-dest", [("D1", 50000000, "withdrawal 9001")])
    cases.append((tid, "destination", "UPDATE transfer_outputs SET address = ? WHERE transfer_id = ?",
                  (evil, tid), "KURA_REFUSE_OUTPUT_MISSING"))
    tid = s.request_transfer("wd-amount", [("D2", 40000000, "withdrawal 9002")])
    cases.append((tid, "amount", "UPDATE transfer_outputs SET amount = 140000000 WHERE transfer_id = ?",
                  (tid,), "KURA_REFUSE_OUTPUT_MISSING"))
    tid = s.request_transfer("wd-change", [("D3", 30000000, "withdrawal 9003")])
    cases.append((tid, "change", "UPDATE wallets SET next_change_index = 500000 WHERE id = ?",
                  (s.wallet_id,), "KURA_REFUSE_CHANGE_FOREIGN"))
    for tid, _, _, _, _ in cases:
        # Under 1 BTC: the policy's first tier, one approval.
        p = s.approve(tid, "alice")
        h.check(p.returncode == 0, "approval of %s: %s" % (tid, p.stderr.decode()))
        h.check(s.state(tid) == "approved", tid + " approved")
    # The attacker edits the database after approval.
    for tid, what, stmt, params, _ in cases:
        s.sql(stmt, *params)
    # The coordinator's own run of the signer's check refuses each package.
    for tid, what, _, _, _ in cases[:2]:
        r = s.package(tid)
        expect(r.status == 422 and r.error == "TX_MISMATCH",
               "compromised database, %s edited: the server's own check refuses the package (%s)"
               % (what, r))
    p = s.audit_verify()
    report = (p.stdout + p.stderr).decode()
    expect(p.returncode == 1 and all(tid in report for tid, *_ in cases[:2]) and s.wallet_id in report,
           "audit verify exits 1 and names every edited transfer and the edited wallet")
    # Now the coordinator's code is the attacker's too: its check is gone.
    s.srv.stop()
    s.srv.env["KURA_TEST_COMPROMISED_COORDINATOR"] = "1"
    s.srv.start()
    for tid, what, _, _, reason in cases:
        r = s.package(tid)
        h.check(r.status == 200, "the compromised coordinator hands out %s: %r" % (tid, r))
        p, out = s.sign("C", tid)
        err = p.stderr.decode()
        expect(p.returncode == 1 and reason in err and not os.path.exists(out),
               "kura-cold refuses the package with %s edited: %s, nothing written" % (what, reason))
    s.srv.stop()


def main():
    if len(sys.argv) != 2:
        print("usage: e2e_server.py KURA-SERVER", file=sys.stderr)
        return 2
    cold = os.environ.get("KURA_COLD", "")
    v = subprocess.run([cold, "--version"], capture_output=True)
    if b"test build" not in v.stdout + v.stderr:
        print("SKIPPED: %s is not a test build (no --now)" % cold)
        return 77
    s = Story(sys.argv[1])
    try:
        s.setup()
        s.start_server()
        s.register_wallet()
        tid = legit(s)
        fee_bump(s, tid)
        bsms_wallet(s)
        compromised(s)
    except h.Failure as e:
        bad("setup or step failed: %s" % e)
        if s.srv:
            print(s.srv.server_log()[-3000:])
    finally:
        if s.srv:
            try:
                s.srv.cleanup()
            except h.Failure as e:
                bad(str(e))
        if failed == 0:
            import shutil
            shutil.rmtree(s.work, ignore_errors=True)
        else:
            print("work directory kept: " + s.work)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
