#!/usr/bin/env python3
"""tests/server/e2e_hot.py — the hot wallet end to end, with no person in the loop.

A 1-of-1 P2WPKH hot wallet is held by a kura-cold device running `kura-cold serve
--spool DIR` under a hot policy with small caps (0.01 BTC a transfer, 0.02 BTC a
day; only a customer address and the cold wallet's deposit address). kura-server
is configured with `hot_spool = hot-wallet DIR`. The back office requests
withdrawals with an API key; the system approver (an SSH key the back office
holds, its own API key) approves with `kura-approve --server ... --yes`; kura-server
writes the package to the spool, the signer checks and signs it, kura-server
collects the signed PSBT through the upload's intake and finalizes it: signed.

  - a small withdrawal and a sweep from hot to the cold wallet's deposit address
    (an ordinary transfer, allowlisted in the hot policy) flow to signed;
  - the administrators raise the per-transfer cap and allowlist a new address
    (policy version 2, installed on kura-server); the signer takes loosenings only
    after the waiting period, so a withdrawal over the old cap and one to the new
    address are refused by the hot signer, and each transfer goes to failed with
    the signer's reason;
  - the signer killed between its journal entry and the outbox file re-emits that
    signature when restarted, and the transfer is signed;
  - after more withdrawals, the one past the rolling 24-hour limit is refused by
    the hot signer (kura-server does not know the signer's journal);
  - an address on no allowlist is refused by kura-server at the request already;
  - `kura-server audit verify` passes; the signer's journal names every refusal.

Usage: e2e_hot.py KURA-SERVER  (KURA_COLD, KURA_APPROVE, KURA, KURA_TEST_FUND in the
environment; KURA_TEST_DB_URL set by with-postgres.sh for PostgreSQL).
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kura_api_harness as h  # noqa: E402
import e2e_server as e  # noqa: E402

HOT_WORDS = e.WORDS["A"]
COLD_WORDS = e.WORDS["B"]
CAP = 1000000        # max-per-transfer, version 1
CAP_V2 = 1500000     # version 2 (a loosening: waits at the signer)
DAY_CAP = 2000000    # max-per-24h
DELAY = 3600         # allowlist-delay: also how long a loosening waits


class HotStory(e.Story):
    def wpkh(self, device):
        self.cold(device, "restore", "--network", "regtest", stdin=HOT_WORDS + "\n"
                  if device == "H" else COLD_WORDS + "\n")
        xpub = self.cold(device, "xpub", "--path", "m/84h/1h/0h").stdout.decode().strip()
        out = self.run([self.kura_bin, "descriptor", "wpkh(%s/<0;1>/*)" % xpub]).stdout.decode()
        return [l[len("descriptor: "):] for l in out.splitlines() if l.startswith("descriptor: ")][0]

    def policy(self, wallet, checksum, version, mode, approvers, allow, cap, day_cap=DAY_CAP):
        return "".join([
            "kura-policy 1\nversion: %d\nnetwork: regtest\nwallet: %s #%s\nmode: %s\n"
            % (version, wallet, checksum, mode),
            "admin: admin-one %s\nadmin: admin-two %s\nadmin-quorum: 2\n" % (self.pk("admin1"), self.pk("admin2")),
            "".join("approver: %s %s\n" % (n, self.pk(k)) for n, k in approvers),
            "tier: max 1\ninitiator-may-approve: no\nallowlist-required: yes\nallowlist-delay: %d\n" % DELAY,
            "".join("allow: %s %s\n" % (a, l) for a, l in sorted(allow)),
            "max-per-transfer: %d\nmax-per-24h: %d\nmax-fee: 20000\nmax-fee-rate: 100\nmax-lifetime: 86400\n"
            % (cap, day_cap)])

    def setup(self):
        os.makedirs(self.path("keys"))
        for k in ("admin1", "admin2", "system", "alice"):
            self.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", k, "-f", self.path("keys", k)])
        self.dest = {k: self.address(v) for k, v in e.DESTS.items()}
        self.cold_desc = self.wpkh("V")
        self.hot_desc = self.wpkh("H")
        self.spool = self.path("spool")

    def start(self):
        cfg = self.path("kura-server.conf")
        with open(cfg, "w") as f:
            f.write("hot_spool = hot-wallet %s\nhot_poll_interval_ms = 100\n" % self.spool)
        self.srv = h.Server(self.server_bin)
        self.srv.validate_responses = True
        pw = h.new_password()
        self.srv.user_add("admin", "administrator", pw)
        self.srv.start(extra=["--config", cfg])
        self.admin = h.signin(self.srv, "admin", pw)
        self.keys = {}
        for name, role, scopes in (
                ("back-office", "initiator", ["transfers:create", "transfers:read", "wallets:read",
                                              "addresses:write"]),
                ("system", "approver", ["transfers:approve", "transfers:read"])):
            r = self.srv.request("POST", "/v1/api-keys", {"name": name, "role": role, "scopes": scopes},
                                 auth=self.admin)
            h.check(r.status == 201, "api key %s: %r" % (name, r))
            self.keys[name] = h.ApiKey(r.json()["key"])
            with open(self.path(name + ".apikey"), "w") as f:
                f.write(r.json()["key"] + "\n")
            os.chmod(self.path(name + ".apikey"), 0o600)

    def register(self, text):
        sigs = self.sign_policy(text)
        r = self.srv.request("POST", "/v1/wallets", {"descriptor": self.export_of(text), "policy": text,
                                                      "policy_signatures": sigs}, auth=self.admin)
        h.check(r.status == 201, "register: %r" % r)
        return r.json()["id"]

    def export_of(self, text):
        return self.hot_desc if "wallet: hot-wallet " in text else self.cold_desc

    def wallets(self):
        # The cold wallet (a person signs it) and its first deposit address.
        cold_policy = self.policy("treasury-cold", self.cold_desc.rsplit("#", 1)[1], 1, "cold",
                                  [("alice", "alice")], [(self.dest["D1"], "exchange a")], 100000000,
                                  100000000)
        self.cold_id = self.register(cold_policy)
        r = self.srv.request("POST", "/v1/wallets/%s/addresses" % self.cold_id,
                             {"account": "sweeps", "label": "from the hot wallet"}, auth=self.keys["back-office"])
        h.check(r.status == 201, "cold address: %r" % r)
        self.cold_addr = r.json()["address"]
        # The hot wallet: the system approver only; the customer and the cold wallet allowed.
        hot_sum = self.hot_desc.rsplit("#", 1)[1]
        self.allow1 = [(self.dest["D1"], "customer one"), (self.cold_addr, "cold wallet")]
        self.hot_v1 = self.policy("hot-wallet", hot_sum, 1, "hot", [("system-approver", "system")],
                                  self.allow1, CAP)
        self.hot_v2 = self.policy("hot-wallet", hot_sum, 2, "hot", [("system-approver", "system")],
                                  self.allow1 + [(self.dest["D2"], "customer two")], CAP_V2)
        for v, t in (("v1", self.hot_v1), ("v2", self.hot_v2)):
            with open(self.path("hot-policy-" + v), "w") as f:
                f.write(t)
        self.cold("H", "ceremony", "--descriptor", self.hot_desc, "--policy", self.path("hot-policy-v1"),
                  "--wallet", "hot-wallet", stdin="yes\n", now=self.now - 2 * 86400)
        self.hot_id = self.register(self.hot_v1)
        for i in range(8):
            r = self.srv.request("POST", "/v1/wallets/%s/addresses" % self.hot_id,
                                 {"account": "float", "label": "top-up %d" % i}, auth=self.keys["back-office"])
            h.check(r.status == 201, "hot address: %r" % r)
            self.run([self.fund_bin, "fund", self.db_url(), self.hot_id, self.hot_desc, str(i),
                      "1500000", "%02x" % (0x60 + i)])

    def serve(self):
        self.serve_log = open(self.path("serve.log"), "ab")
        self.signer = subprocess.Popen([self.cold_bin, "--passphrase-file", self.passfile, "--dir", self.path("H"),
                                        "serve", "--spool", self.spool, "--poll-ms", "100"],
                                       env=self.env, stdout=self.serve_log, stderr=self.serve_log)

    def withdraw(self, ext, address, amount, label):
        r = self.srv.request("POST", "/v1/transfers",
                             {"wallet_id": self.hot_id, "external_id": ext,
                              "outputs": [{"address": address, "amount": amount, "label": label}],
                              "max_fee": 20000},
                             auth=self.keys["back-office"], idem="idem-" + ext)
        return r

    def system_approve(self, tid, policy_file):
        return self.run([self.approve_bin, "approve", "--server", "http://127.0.0.1:%d" % self.srv.port,
                         "--transfer", tid, "--api-key-file", self.path("system.apikey"),
                         "--key", self.path("keys", "system"), "--policy", policy_file, "--yes",
                         "--intent-out", self.path(tid + ".intent"), "-o", self.path(tid + ".approval")],
                        check=False)

    def transfer(self, tid):
        return self.srv.request("GET", "/v1/transfers/" + tid, auth=self.keys["back-office"]).json()

    def settle(self, tid, timeout=60):
        """Waits until the transfer leaves approved/awaiting_signatures."""
        deadline = time.time() + timeout
        t = self.transfer(tid)
        while t["state"] in ("approved", "awaiting_signatures") and time.time() < deadline:
            time.sleep(0.1)
            t = self.transfer(tid)
        return t

    def flow(self, ext, address, amount, label, policy_file):
        r = self.withdraw(ext, address, amount, label)
        h.check(r.status == 201, "withdrawal %s: %r" % (ext, r))
        tid = r.json()["id"]
        p = self.system_approve(tid, policy_file)
        h.check(p.returncode == 0, "kura-approve --yes %s: %s%s" % (ext, p.stdout.decode(), p.stderr.decode()))
        return tid, self.settle(tid)


def story(s):
    s.setup()
    s.start()
    s.wallets()
    s.serve()
    v1, v2 = s.path("hot-policy-v1"), s.path("hot-policy-v2")

    tid, t = s.flow("hot-1", s.dest["D1"], 300000, "withdrawal 1", v1)
    e.expect(t["state"] == "signed",
             "a small withdrawal: requested, approved by the system approver, signed by the hot "
             "signer, collected and finalized, no person (%s)" % t["state"])
    p = s.run([s.fund_bin, "verify", s.db_url(), tid], check=False)
    e.expect(p.returncode == 0 and b"signatures verify" in p.stdout,
             "its transaction's signature verifies (%s)" % p.stdout.decode().strip())
    e.expect(t["signatures_received"] == 1, "one upload taken in: the hot signer's outbox file")

    tid, t = s.flow("sweep-1", s.cold_addr, 300000, "sweep to cold", v1)
    e.expect(t["state"] == "signed", "a sweep from hot to the cold wallet's deposit address is an "
             "ordinary transfer: signed (%s)" % t["state"])

    # The signer dies (SIGKILL, at the test build's named point) after its journal
    # entry and before the outbox file; restarted, it re-emits that signature.
    s.signer.kill()
    s.signer.wait()
    r = s.withdraw("hot-torn", s.dest["D1"], 100000, "withdrawal torn")
    h.check(r.status == 201, "withdrawal hot-torn: %r" % r)
    tid = r.json()["id"]
    h.check(s.system_approve(tid, v1).returncode == 0, "approval of hot-torn")
    inbox = os.path.join(s.spool, "inbox", tid + ".psbt")
    deadline = time.time() + 30
    while not os.path.exists(inbox) and time.time() < deadline:
        time.sleep(0.1)
    s.env["KURA_COLD_TEST_CRASH"] = "after-signed-journal"
    crashed = subprocess.run([s.cold_bin, "--passphrase-file", s.passfile, "--dir", s.path("H"), "serve",
                              "--spool", s.spool, "--once"], env=s.env, capture_output=True)
    del s.env["KURA_COLD_TEST_CRASH"]
    e.expect(crashed.returncode != 0 and os.path.exists(inbox) and
             not os.path.exists(os.path.join(s.spool, "outbox", tid + ".psbt")),
             "the hot signer killed between its journal entry and the outbox file")
    s.serve()
    t = s.settle(tid)
    e.expect(t["state"] == "signed", "restarted, it re-emits the journaled signature: signed (%s)" % t["state"])
    e.expect(b"re-emitted" in open(s.path("serve.log"), "rb").read(), "the signer says it re-emitted")

    r = s.withdraw("hot-nowhere", s.dest["D3"], 10000, "not listed")
    e.expect(r.status == 422 and r.error == "POLICY_LIMIT",
             "an address on no allowlist: kura-server refuses the request itself (%s)" % r.error)

    # Version 2 loosens: a higher cap, a new address. kura-server uses it at once;
    # the signer only after the waiting period.
    r = s.srv.request("POST", "/v1/wallets/%s/policy" % s.hot_id,
                      {"policy": s.hot_v2, "policy_signatures": s.sign_policy(s.hot_v2)}, auth=s.admin)
    h.check(r.status in (200, 201), "policy v2: %r" % r)

    tid, t = s.flow("hot-big", s.dest["D1"], 1200000, "over the old cap", v2)
    e.expect(t["state"] == "failed" and "KURA_REFUSE_LIMIT_TRANSFER" in (t["reason"] or ""),
             "over the hot cap in force at the signer: refused by the hot signer, the transfer failed "
             "with its reason (%s: %s)" % (t["state"], t["reason"]))
    tid, t = s.flow("hot-new", s.dest["D2"], 100000, "new address", v2)
    reason = t["reason"] or ""
    e.expect(t["state"] == "failed" and ("KURA_REFUSE_DESTINATION_NOT_ALLOWED" in reason or
                                        "KURA_REFUSE_DESTINATION_WAITING" in reason),
             "to an address the signer's allowlist does not hold yet: refused by the hot signer "
             "(%s: %s)" % (t["state"], reason))

    tid, t = s.flow("hot-2", s.dest["D1"], 900000, "withdrawal 2", v2)
    e.expect(t["state"] == "signed", "another withdrawal within the day's limit: signed (%s)" % t["state"])
    tid, t = s.flow("hot-3", s.dest["D1"], 900000, "withdrawal 3", v2)
    e.expect(t["state"] == "failed" and "KURA_REFUSE_LIMIT_ROLLING" in (t["reason"] or ""),
             "past the rolling 24-hour limit: refused by the hot signer (%s: %s)" % (t["state"], t["reason"]))

    # The refused transfers' coins are free again; nothing is left in the spool.
    e.expect(not [f for d in ("inbox", "outbox", "refused") for f in os.listdir(os.path.join(s.spool, d))
                  if not f.startswith(".")],
             "the spool is empty: every package answered and collected")
    s.signer.send_signal(signal.SIGTERM)
    rc = s.signer.wait(timeout=60)
    e.expect(rc == 0, "kura-cold serve stops on SIGTERM (exit %d)" % rc)
    journal = s.cold("H", "journal", "show").stdout.decode()
    e.expect(all(c in journal for c in ("KURA_REFUSE_LIMIT_TRANSFER", "KURA_REFUSE_LIMIT_ROLLING")),
             "the hot signer's journal records its refusals")
    e.expect(journal.count("signed    intent") == 4, "and exactly four signatures, one for each signed transfer")
    e.expect(s.audit_verify().returncode == 0, "audit verify: the chain and every object intact")
    log = open(s.path("serve.log"), "rb").read()
    e.expect(b"e2e test passphrase" not in log, "the signer's log holds no passphrase")


def main():
    if len(sys.argv) != 2:
        print("usage: e2e_hot.py KURA-SERVER", file=sys.stderr)
        return 2
    v = subprocess.run([os.environ.get("KURA_COLD", "false"), "--version"], capture_output=True)
    if b"test build" not in v.stdout + v.stderr:
        print("SKIPPED: kura-cold is not a test build")
        return 77
    s = HotStory(sys.argv[1])
    s.signer = None
    try:
        story(s)
    except h.Failure as ex:
        e.bad("setup or step failed: %s" % ex)
        if s.srv:
            print(s.srv.server_log()[-3000:])
        if os.path.exists(s.path("serve.log")):
            print(open(s.path("serve.log"), "rb").read().decode(errors="replace")[-3000:])
    finally:
        if s.signer and s.signer.poll() is None:
            s.signer.kill()
            s.signer.wait()
        if s.srv:
            try:
                s.srv.cleanup()
            except h.Failure as ex:
                e.bad(str(ex))
        if e.failed == 0:
            import shutil
            shutil.rmtree(s.work, ignore_errors=True)
        else:
            print("work directory kept: " + s.work)
    print("%d passed, %d failed" % (e.passed, e.failed))
    return 0 if e.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
