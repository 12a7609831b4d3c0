#!/usr/bin/env python3
"""tests/server/test_live_bitcoind.py — kura-server against a REAL Bitcoin
Core node (26 or newer) on regtest, started here on loopback in a temporary
directory and stopped at the end:

  1. deposits: the node's own wallet pays two allocated addresses of a kura
     wallet (accounts alice and bob); kura-server's follower sees them in the
     mempool (pending, no height), mined (pending below min_confirmations = 2)
     and confirmed; the wallet and account balances follow;
  2. a reorganisation: a third deposit is mined, the block is invalidated
     (invalidateblock): kura-server announces deposit.reorged, sees the
     transaction back in the mempool, and confirms it on the new branch;
  3. an incoming RBF replacement: the node's wallet pays a fourth address
     with a transaction signalling RBF; kura-server sees it in the mempool as
     replaceable; the payer replaces it with bumpfee; kura-server marks the
     original `replaced` (replaced_by the bump, deposit.replaced in the
     audit) and records the bump, which is mined and confirmed; the account
     counts the payment once;
  4. a withdrawal: a transfer in state `signed` (its transaction signed by a
     Core wallet holding the test keys: the kura wallet's coins) is given to
     testmempoolaccept and sendrawtransaction by kura-server, moves to
     broadcast, is mined and moves to confirmed; its change is the wallet's
     coin, not a deposit;
  5. a withdrawal through the real programs (e2e_server.py's cast: three
     kura-cold keystores on regtest, a 2-of-3 wallet registered through
     POST /v1/wallets with the policy two administrators signed with
     ssh-keygen, funded by the miner paying its allocated deposit addresses):
     approved with kura-approve --server, signed by kura-cold devices A and B,
     broadcast by kura-server, mined and confirmed;
  6. a fee bump: a second such withdrawal, broadcast, is bumped with
     POST /v1/transfers/{id}/bump; A and B sign the bump (kura-cold shows the
     transaction it replaces); kura-server broadcasts it, the node drops the
     original, the bump is the one mined, and the transfer ends confirmed with
     the bump's txid.

Where bitcoind comes from: $KURA_BITCOIND, else `bitcoind` on PATH. Without
one this prints `SKIPPED: no bitcoind (set KURA_BITCOIND or put bitcoind on
PATH)` and exits 77 (ctest shows it as skipped). kura never ships or builds
Bitcoin Core: install it yourself (https://bitcoincore.org, 26.0 or newer).
Runs on SQLite only (the follower's database code is the same on
PostgreSQL, which the fake-node tests cover).

  python3 tests/server/test_live_bitcoind.py BUILD/server/kura-server

kura-cold, kura-approve and kura come from $KURA_COLD, $KURA_APPROVE and $KURA
(ctest sets them), else from the build tree kura-server is in; kura-cold must
be a test build (--now).
"""
import base64
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# BIP32 test vector 1 (public test keys: never for real funds). The kura
# wallet is its BIP84 account 0 on regtest, as in tests/vectors/chain/.
TV1_TPRV = ("tprv8ZgxMBicQKsPeDgjzdC36fs6bMjGApWDNLR9erAXMs5skhMv36j9MV5ecvfavji5khqjWaWS"
            "FhN3YcCUUdiKH6isR4Pwy3U5y5egddBr16m")
WATCH_DESC = ("wpkh([3442193e/84h/1h/0h]tpubDDNRbZGvdA33cgpY5uy2mmphT7sK4uciRjcQScSd64S5KRyZDxHcP"
              "uzs24or84Hywugb2JbEEt2jWH8fduiN9cmZzkSj8sSSx6txXkhXyZs/<0;1>/*)#qy95uw5p")
SKIP = "SKIPPED: no bitcoind (set KURA_BITCOIND or put bitcoind on PATH)"


def find_bitcoind():
    p = os.environ.get("KURA_BITCOIND") or shutil.which("bitcoind")
    if not p or not os.access(p, os.X_OK):
        print(SKIP)
        sys.exit(77)
    out = subprocess.run([p, "-version"], capture_output=True, text=True, timeout=60).stdout
    m = re.search(r"v(\d+)\.(\d+)", out)
    if not m or int(m.group(1)) < 26:
        print("SKIPPED: %s is not Bitcoin Core 26 or newer (%s)" % (p, out.splitlines()[0] if out else "?"))
        sys.exit(77)
    return p


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Node:
    def __init__(self, binary, tmp):
        self.dir = os.path.join(tmp, "bitcoind")
        os.makedirs(self.dir)
        self.rpcport = free_port()
        self.url = "http://127.0.0.1:%d/" % self.rpcport
        self.cookie = os.path.join(self.dir, "regtest", ".cookie")
        # No P2P at all (-listen=0; Core refuses -bind with it), RPC on loopback.
        self.errlog = open(os.path.join(tmp, "bitcoind.stderr"), "wb")
        self.proc = subprocess.Popen(
            [binary, "-regtest", "-datadir=" + self.dir, "-rpcport=%d" % self.rpcport,
             "-rpcbind=127.0.0.1", "-rpcallowip=127.0.0.1", "-listen=0", "-server=1",
             "-fallbackfee=0.0002", "-printtoconsole=0", "-dnsseed=0", "-fixedseeds=0"],
            stdout=subprocess.DEVNULL, stderr=self.errlog)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.errlog.close()
                raise RuntimeError("bitcoind exited %d at start: %s" % (
                    self.proc.returncode, open(self.errlog.name, "rb").read().decode(errors="replace").strip()))
            try:
                self.call("getblockchaininfo")
                return
            except (OSError, RuntimeError):
                time.sleep(0.2)
        raise RuntimeError("bitcoind did not start")

    def call(self, method, *params, wallet=None):
        auth = base64.b64encode(open(self.cookie, "rb").read().strip()).decode()
        body = json.dumps({"jsonrpc": "1.0", "id": 1, "method": method, "params": list(params)})
        url = self.url + ("wallet/" + wallet if wallet else "")
        req = urllib.request.Request(url, body.encode(), {"Authorization": "Basic " + auth,
                                                         "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                reply = json.loads(r.read())
        except urllib.error.HTTPError as e:
            reply = json.loads(e.read() or b"{}")
            if not reply.get("error"):
                raise RuntimeError("%s: HTTP %d" % (method, e.code))
        if reply.get("error"):
            raise RuntimeError("%s: %s" % (method, reply["error"]))
        return reply["result"]

    def stop(self):
        try:
            self.call("stop")
            self.proc.wait(timeout=60)
        except Exception:
            self.proc.kill()


def run(srv, bitcoind):
    from kura_api_harness import check, new_password, signin
    node = Node(bitcoind, srv.dir)
    try:
        story(srv, node, check, new_password, signin)
    finally:
        srv.stop()
        node.stop()


def wait_for(what, fn, check, timeout=60):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    check(False, "timed out waiting for " + what)


def story(srv, node, check, new_password, signin):
    n = node.call
    n("createwallet", "miner")
    mine_to = n("getnewaddress", wallet="miner")
    n("generatetoaddress", 101, mine_to)

    # The signer's wallet: Core holding the kura wallet's test keys.
    n("createwallet", "signer", False, True, "", False, True)
    descs = []
    for branch in (0, 1):
        d = "wpkh(%s/84h/1h/0h/%d/*)" % (TV1_TPRV, branch)
        d += "#" + n("getdescriptorinfo", d)["checksum"]
        descs.append(d)
    res = n("importdescriptors", [{"desc": descs[0], "timestamp": 0, "range": [0, 50], "active": True,
                                   "internal": False},
                                  {"desc": descs[1], "timestamp": 0, "range": [0, 50], "active": True,
                                   "internal": True}], wallet="signer")
    check(all(r["success"] for r in res), "importdescriptors: %r" % res)
    receive = n("deriveaddresses", descs[0], [0, 19])
    change = n("deriveaddresses", descs[1], [0, 9])

    # The kura wallet, registered straight in the database (the registration
    # through the API needs a policy signed by administrators: covered
    # elsewhere; here the chain is what is tested).
    srv.cli("migrate")
    db = sqlite3.connect(os.path.join(srv.data, "kura.db"), timeout=30)
    wid = "wl_000000000000live0000000000000"
    now = int(time.time())
    db.execute("INSERT INTO wallets (id, name, chain, descriptor, checksum, kind, threshold, "
               "policy_version, next_receive_index, next_change_index, birth_height, "
               "min_confirmations, created_at) VALUES (?, 'live', 'regtest', ?, 'qy95uw5p', "
               "'wpkh', 1, 1, 20, 10, 0, 2, ?)", (wid, WATCH_DESC, now))
    for branch, addrs in ((0, receive), (1, change)):
        for i, a in enumerate(addrs):
            spk = n("getaddressinfo", a, wallet="miner")["scriptPubKey"]
            account = ("alice" if i % 2 == 0 else "bob") if branch == 0 else ""
            db.execute("INSERT INTO addresses (wallet_id, branch, idx, address, script, account, "
                       "label, created_at) VALUES (?, ?, ?, ?, ?, ?, '', ?)",
                       (wid, branch, i, a, spk, account, now))
    db.commit()

    pw = new_password()
    srv.user_add("admin", "administrator", pw)
    conf = os.path.join(srv.dir, "live.conf")
    with open(conf, "w") as f:
        f.write("node_cookie_file = %s\nnode_poll_interval_ms = 200\nrebroadcast_interval = 10\n"
                % node.cookie)
    srv.start(["--config", conf, "--node", node.url])
    admin = signin(srv, "admin", pw)

    def get(path):
        r = srv.request("GET", path, auth=admin)
        check(r.status == 200, "%s: %r" % (path, r))
        return r.json()

    def deposits():
        return {(d["txid"], d["vout"]): d for d in get("/v1/deposits?wallet_id=" + wid)["items"]}

    def tip_followed():
        c = get("/v1/chain")
        return c["height"] is not None and c["height"] == n("getblockcount") and c["lag"] == 0

    wait_for("the follower to reach the tip", tip_followed, check)

    # 1. Deposits: mempool, one confirmation, two.
    t1 = n("sendtoaddress", receive[0], 1.5, wallet="miner")
    t2 = n("sendtoaddress", receive[1], 0.25, wallet="miner")
    d = wait_for("two deposits in the mempool",
                 lambda: (lambda x: x if len(x) == 2 else None)(deposits()), check)
    for dep in d.values():
        check(dep["state"] == "pending" and dep["height"] is None and dep["txid"] in (t1, t2),
              "mempool deposit: %r" % dep)
    n("generatetoaddress", 1, mine_to)
    wait_for("one confirmation", lambda: all(x["height"] is not None and x["state"] == "pending"
                                             for x in deposits().values()), check)
    n("generatetoaddress", 1, mine_to)
    wait_for("two confirmations", lambda: all(x["state"] == "confirmed" and x["confirmations"] == 2
                                              for x in deposits().values()), check)
    bal = get("/v1/wallets/%s/balance" % wid)
    check(bal["confirmed"] == 175000000 and bal["pending"] == 0, "wallet balance: %r" % bal)
    bal = get("/v1/wallets/%s/balance?account=alice" % wid)
    check(bal["confirmed"] == 150000000 and bal["deposit_count"] == 1, "alice: %r" % bal)

    # 2. A reorganisation: the block holding t3 is invalidated.
    t3 = n("sendtoaddress", receive[2], 0.3, wallet="miner")
    block = n("generatetoaddress", 1, mine_to)[0]
    wait_for("t3 mined", lambda: any(x["txid"] == t3 and x["height"] is not None
                                     for x in deposits().values()), check)
    n("invalidateblock", block)
    wait_for("t3 back in the mempool", lambda: any(x["txid"] == t3 and x["height"] is None and
                                                   x["state"] == "pending"
                                                   for x in deposits().values()), check)
    dep3 = [x for x in deposits().values() if x["txid"] == t3][0]
    audit = get("/v1/audit?limit=500")["items"]
    actions = [a["action"] for a in audit if a["object_id"] == dep3["id"]]
    check("deposit.reorged" in actions, "t3's audit rows: %r" % actions)
    check(get("/v1/chain")["height"] == n("getblockcount"), "follower height after invalidateblock")
    # Mined to another address: the same coinbase, transactions and time
    # could rebuild the very block just invalidated, which Core refuses.
    n("generatetoaddress", 2, n("getnewaddress", wallet="miner"))
    wait_for("t3 confirmed on the new branch", lambda: any(
        x["txid"] == t3 and x["state"] == "confirmed" and x["block_hash"] != block
        for x in deposits().values()), check)
    db2 = sqlite3.connect(os.path.join(srv.data, "kura.db"), timeout=30)
    check(db2.execute("SELECT connected FROM chain_blocks WHERE hash = ?", (block,)).fetchone() == (0,),
          "the invalidated block is kept, disconnected")

    # 3. An incoming RBF replacement: the payer's transaction signals
    # replaceability; kura-server sees it in the mempool as replaceable; the
    # payer bumps its fee (bumpfee: same outputs, less change); the original
    # becomes `replaced` (by the bump) and the bump is recorded, then mined.
    t4 = n("sendtoaddress", receive[3], 0.4, "", "", False, True, wallet="miner")
    check(n("getmempoolentry", t4)["bip125-replaceable"], "Core says t4 signals RBF")
    dep4 = wait_for("t4 in the mempool", lambda: [x for x in deposits().values() if x["txid"] == t4],
                    check)[0]
    check(dep4["state"] == "pending" and dep4["height"] is None and dep4["replaceable"] and
          dep4["amount"] == 40000000 and dep4["account"] == "bob", "t4 pending, replaceable: %r" % dep4)
    t4b = n("bumpfee", t4, wallet="miner")["txid"]
    check(t4 not in n("getrawmempool") and t4b in n("getrawmempool"), "Core replaced t4 by its bump")

    def replaced_seen():
        d = deposits()
        old = [x for x in d.values() if x["txid"] == t4]
        new = [x for x in d.values() if x["txid"] == t4b]
        return (old[0], new[0]) if old and new and old[0]["state"] == "replaced" else None

    old4, new4 = wait_for("t4 replaced by its bump", replaced_seen, check)
    check(old4["replaced_by"] == t4b and old4["height"] is None, "t4 replaced by t4b: %r" % old4)
    check(new4["state"] == "pending" and new4["amount"] == 40000000 and new4["address"] == receive[3],
          "the bump is the deposit now: %r" % new4)
    actions = [a["action"] for a in get("/v1/audit?limit=500")["items"] if a["object_id"] == old4["id"]]
    check("deposit.replaced" in actions, "t4's audit rows: %r" % actions)
    n("generatetoaddress", 2, mine_to)
    wait_for("the bump confirmed", lambda: any(x["txid"] == t4b and x["state"] == "confirmed"
                                               for x in deposits().values()), check)
    old4 = [x for x in deposits().values() if x["txid"] == t4][0]
    check(old4["state"] == "replaced" and old4["height"] is None, "t4 stays replaced once t4b is mined")
    bal = get("/v1/wallets/%s/balance?account=bob" % wid)
    check(bal["confirmed"] == 25000000 + 40000000, "bob counts the bump once: %r" % bal)

    # 4. A withdrawal kura-server broadcasts.
    out = n("getnewaddress", wallet="miner")
    psbt = n("walletcreatefundedpsbt", [], [{out: 0.1}], 0,
             {"changeAddress": change[0], "fee_rate": 5}, wallet="signer")["psbt"]
    signed = n("walletprocesspsbt", psbt, wallet="signer")
    fin = n("finalizepsbt", signed["psbt"])
    check(fin["complete"], "the withdrawal is signed")
    txid = n("decoderawtransaction", fin["hex"])["txid"]
    db2.execute("INSERT INTO transfers (id, wallet_id, state, intent_id, intent_text, intent_hash, "
                "initiator, created_by, total, max_fee, expires_at, raw_tx, txid, created_at, "
                "updated_at) VALUES ('tr_live', ?, 'signed', 'live-intent', 'live', '00', 'admin', "
                "'admin', 10000000, 100000, ?, ?, ?, ?, ?)",
                (wid, now + 86400, fin["hex"], txid, now, now))
    db2.commit()

    def transfer_state():
        return db2.execute("SELECT state FROM transfers WHERE id = 'tr_live'").fetchone()[0]

    wait_for("broadcast", lambda: transfer_state() == "broadcast", check)
    check(txid in n("getrawmempool"), "the node has the withdrawal")
    n("generatetoaddress", 1, mine_to)
    wait_for("confirmed", lambda: transfer_state() == "confirmed", check)
    check(all(x["txid"] != txid for x in deposits().values()), "change is not a deposit")
    own = db2.execute("SELECT COUNT(*) FROM deposits WHERE txid = ? AND own = 1", (txid,)).fetchone()[0]
    check(own == 1, "the change is recorded as the wallet's own")
    spent = db2.execute("SELECT COUNT(*) FROM utxos WHERE spent_txid = ?", (txid,)).fetchone()[0]
    check(spent >= 1, "the coins it spent are marked spent")
    cold_withdrawals(srv, node, admin, check, wait_for)
    print("live story: deposits, reorganisation, incoming RBF replacement, withdrawal, "
          "kura-cold withdrawal, fee bump: OK")


def cold_programs(server_bin):
    """KURA_COLD, KURA_APPROVE and KURA from the environment (ctest sets
    them), else from the build tree kura-server is in."""
    build = os.path.dirname(os.path.dirname(os.path.abspath(server_bin)))
    for var, rel in (("KURA_COLD", "programs/kura-cold/kura-cold"),
                     ("KURA_APPROVE", "programs/kura-approve/kura-approve"),
                     ("KURA", "programs/kura/kura")):
        if not os.environ.get(var):
            os.environ[var] = os.path.join(build, rel)
    cold = os.environ["KURA_COLD"]
    v = subprocess.run([cold, "--version"], capture_output=True) if os.access(cold, os.X_OK) else None
    if v is None or b"test build" not in v.stdout + v.stderr:
        print("FAILED: %s is not a kura-cold test build (set KURA_COLD, KURA_APPROVE, KURA)" % cold)
        sys.exit(1)


def cold_withdrawals(srv, node, admin, check, wait_for):
    """5. A 2-of-3 wallet of three kura-cold devices (e2e_server.py's cast:
    keystores on regtest, the policy two administrators signed with
    ssh-keygen), registered through POST /v1/wallets and funded on the chain:
    the miner pays its allocated deposit addresses, the follower records the
    coins. A withdrawal is approved with kura-approve --server, its package
    signed by devices A and B, uploaded, broadcast by kura-server, mined and
    confirmed. 6. A second withdrawal, broadcast, is bumped
    (POST /v1/transfers/{id}/bump): A and B sign the bump (kura-cold accepts it
    because it spends every input of what they signed before), kura-server
    broadcasts it, it is the one mined, and the transfer ends confirmed with
    the bump's txid."""
    import e2e_server as e2e
    n = node.call
    s = e2e.Story(srv.binary, need_fund=False)
    try:
        s.srv, s.admin = srv, admin
        s.setup()
        s.make_keys()
        addrs = s.register(3, {"birth_height": n("getblockcount"), "min_confirmations": 1})
        paid = {}
        for a, amount in zip(addrs, (1.0, 1.0, 0.5)):
            paid[n("sendtoaddress", a, amount, wallet="miner")] = a
        mine_to = n("getnewaddress", wallet="miner")
        n("generatetoaddress", 1, mine_to)
        ko = s.keys["ops-desk"]

        def wallet_get(path):
            r = srv.request("GET", path, auth=admin)
            check(r.status == 200, "%s: %r" % (path, r))
            return r.json()

        def funded():
            b = wallet_get("/v1/wallets/%s/balance" % s.wallet_id)
            return b if b["confirmed"] == 250000000 else None

        wait_for("the kura-cold wallet's three coins confirmed", funded, check)

        def transfer(tid):
            return srv.request("GET", "/v1/transfers/" + tid, auth=s.keys["back-office"]).json()

        def approve_sign(tid, what):
            p = s.approve(tid, "alice")
            check(p.returncode == 0 and s.state(tid) == "approved",
                  "%s: kura-approve --server, alice: approved (%s)" % (what, p.stderr.decode()[-300:]))
            r = s.package(tid)
            check(r.status == 200, "%s: package: %r" % (what, r))
            return sign_upload(tid, what)

        def sign_upload(tid, what):
            outs = []
            for d in ("A", "B"):
                p, out = s.sign(d, tid)
                check(p.returncode == 0 and os.path.exists(out),
                      "%s: kura-cold %s signs: %s" % (what, d, p.stderr.decode()[-300:]))
                outs.append((p, out))
            for _, out in outs:
                r = srv.request("POST", "/v1/transfers/%s/signatures" % tid, open(out, "rb").read(),
                                ctype="application/octet-stream", auth=ko)
                check(r.status == 200, "%s: signed PSBT uploaded: %r" % (what, r))
            return outs

        # 5. Approved, signed by kura-cold, broadcast, mined, confirmed.
        t1 = s.request_transfer("live-wd-1", [("D1", 30000000, "live withdrawal")])
        approve_sign(t1, "withdrawal")
        tx1 = wait_for("withdrawal broadcast", lambda: (lambda t: t if t["state"] == "broadcast" else None)(
            transfer(t1)), check)
        check(tx1["txid"] in n("getrawmempool"), "the node has the kura-cold withdrawal")
        dec = n("getrawtransaction", tx1["txid"], True)
        check(any(o["scriptPubKey"].get("address") == s.dest["D1"] and o["value"] == 0.3
                  for o in dec["vout"]) and all(i["txid"] in paid for i in dec["vin"]),
              "it pays D1 0.3 BTC from the coins mined to the wallet")
        n("generatetoaddress", 1, mine_to)
        wait_for("withdrawal confirmed", lambda: transfer(t1)["state"] == "confirmed", check)

        # 6. Broadcast, bumped, the bump mined.
        t2 = s.request_transfer("live-wd-2", [("D2", 20000000, "live withdrawal, bumped")])
        approve_sign(t2, "to be bumped")
        before = wait_for("second withdrawal broadcast", lambda: (
            lambda t: t if t["state"] == "broadcast" else None)(transfer(t2)), check)
        check(before["txid"] in n("getrawmempool"), "the node has the withdrawal to be bumped")
        r = srv.request("POST", "/v1/transfers/%s/bump" % t2, {"fee_rate_sat_vb": 20}, auth=ko)
        check(r.status == 200 and len(r.json().get("attempts", [])) == 2, "bump requested: %r" % r)
        new_fee = r.json()["attempts"][1]["fee"]
        check(new_fee > before["fee"], "the bump pays more: %d > %d" % (new_fee, before["fee"]))
        os.rename(s.path(t2 + ".psbt"), s.path(t2 + ".original.psbt"))
        r = s.package(t2)
        check(r.status == 200, "the bump's package: %r" % r)
        for p, _ in sign_upload(t2, "bump"):
            check(("FEE BUMP:   replaces transaction %s" % before["txid"]) in p.stdout.decode(),
                  "kura-cold shows the transaction the bump replaces")
        after = transfer(t2)
        check(after["txid"] != before["txid"] and after["fee"] == new_fee, "the bump is the transfer's now")
        wait_for("the bump in the node's mempool, the original gone", lambda: (
            lambda m: after["txid"] in m and before["txid"] not in m)(n("getrawmempool")), check)
        block = n("generatetoaddress", 1, mine_to)[0]
        final = wait_for("the bump confirmed", lambda: (
            lambda t: t if t["state"] == "confirmed" else None)(transfer(t2)), check)
        check(final["txid"] == after["txid"], "the transfer ends confirmed with the bump's txid")
        mined = n("getblock", block, 1)["tx"]
        check(after["txid"] in mined and before["txid"] not in mined, "the node mined the bump")
        check(e2e.failed == 0, "e2e_server checks: %d failed" % e2e.failed)
    finally:
        if e2e.failed == 0:
            shutil.rmtree(s.work, ignore_errors=True)


if __name__ == "__main__":
    bitcoind = find_bitcoind()
    cold_programs(sys.argv[1] if len(sys.argv) > 1 else "")
    os.environ.pop("KURA_TEST_DB_URL", None)
    from kura_api_harness import main
    main(lambda srv: run(srv, bitcoind))
