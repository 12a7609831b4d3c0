#!/usr/bin/env python3
"""Converts a scenario of the regtest chain data (Bitcoin Core 26.0: blocks,
tips, mempool events and Core's own conclusions) into what the follower test
(tests/server/test_server_chain_follower.c) reads, kept small:

  blocks.jsonl            Core's raw blocks, as given (height, hash, prev, hex)
  timeline.jsonl          the node as a polling follower sees it, in order:
                          {"tip": hash} the best tip changes;
                          {"add": txid, "hex": raw or absent} a transaction
                          enters the mempool (hex absent when a block of
                          blocks.jsonl holds it: the test takes it from there);
                          {"remove": txid} it leaves;
                          {"poll": 1} the follower polls here
  expected-follower.json  Core's conclusions the test compares with, per wallet:
                          utxos [txid, vout, amount_sat, height], mempool_utxos
                          [txid, vout, amount_sat], received [txid, vout,
                          amount_sat, status, tx_spends_wallet_coins, height,
                          branch, index], balance_sat; unwatched payments
                          [txid, vout]; the multipath descriptors.

Usage: make-follower-vectors.py SRC_SCENARIO_DIR DST_DIR
"""
import json
import os
import shutil
import sys


def main():
    src, dst = sys.argv[1], sys.argv[2]
    os.makedirs(dst, exist_ok=True)
    if not os.path.exists(os.path.join(dst, "blocks.jsonl")):
        shutil.copy(os.path.join(src, "blocks.jsonl"), os.path.join(dst, "blocks.jsonl"))
    tips = [json.loads(l) for l in open(os.path.join(src, "tips.jsonl"))]
    events = [json.loads(l) for l in open(os.path.join(src, "mempool.jsonl"))]
    mined = {e["txid"] for e in events if e["event"] == "mined"}
    by_tip = {}
    for e in events:
        by_tip.setdefault(e["after_tip"], []).append(e)
    out = []
    for t in tips:
        out.append({"tip": t["hash"]})
        evs = by_tip.pop(t["hash"], [])
        # Events at the moment of the tip change come with it; later ones
        # (transactions sent while this tip stands) each get a poll.
        last_time = None
        for e in evs:
            if last_time is not None and e["time"] != last_time:
                out.append({"poll": 1})
            last_time = e["time"]
            if e["event"] in ("seen", "returned"):
                line = {"add": e["txid"]}
                if e["txid"] not in mined:
                    line["hex"] = e["hex"]
                out.append(line)
            else:
                out.append({"remove": e["txid"]})
        out.append({"poll": 1})
    assert not by_tip, "mempool events after a tip that is not in tips.jsonl"
    with open(os.path.join(dst, "timeline.jsonl"), "w") as f:
        for line in out:
            f.write(json.dumps(line, separators=(",", ":")) + "\n")

    e = json.load(open(os.path.join(src, "expected.json")))
    exp = {
        "_source": "converted by make-follower-vectors.py from chain-data %s/expected.json "
                   "(Bitcoin Core 26.0, regtest)" % e["scenario"],
        "final_tip": e["final_tip"],
        "descriptors": {k: v["multipath"] for k, v in e["descriptors"].items()},
        "unwatched": [[u["txid"], u["vout"]] for u in e["unwatched_payments"]],
        "wallets": {},
    }
    for kind, w in e["wallets"].items():
        exp["wallets"][kind] = {
            "balance_sat": w["balance_sat"]["confirmed_utxos"],
            "utxos": [[u["txid"], u["vout"], u["amount_sat"], u["height"]] for u in w["utxos"]],
            "mempool_utxos": [[u["txid"], u["vout"], u["amount_sat"]] for u in w["mempool_utxos"]],
            "received": [[r["txid"], r["vout"], r["amount_sat"], r["status"],
                          r["tx_spends_wallet_coins"], r["height"],
                          r["branch"], r["index"]] for r in w["received"]],
        }
    with open(os.path.join(dst, "expected-follower.json"), "w") as f:
        json.dump(exp, f, indent=0, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
