#!/usr/bin/python3
"""Electrum's side of bench/run: the same PSBT work kura does, on the same bytes.

Run with Debian's /usr/bin/python3 (python3-electrum is a module for it):

    /usr/bin/python3 bench/electrum_peer.py DIR RUNS

DIR holds what `kura-bench prepare` wrote: CASE.psbt and keys.json. Every case
is run once as a warm-up, then for each case one more warm-up run and RUNS
timed runs; only the work is timed, not the
interpreter's start or the imports. Prints one JSON object on stdout with the
median and every run (wall clock, and this thread's CPU time), and writes the last signed PSBT to DIR/electrum-CASE.psbt
for `kura-bench verify` to check.

What is timed, per signer (a "pass"): PartialTransaction.from_raw_psbt(bytes),
telling each input its script type and keys (what an Electrum wallet's
add_input_info does for its own coins), PartialTransaction.sign(keypairs), and
writing the PSBT back to bytes. The keypairs map each input's public key to
its raw private key, as Electrum's keystore hands them to sign(); deriving
them from the master key is not timed (kura's time includes it). The PSBT is
written with _serialize_psbt, which is serialize_as_bytes(force_psbt=True)
without the finalizer, so that the output is a signed PSBT with partial
signatures like kura's. Electrum does not sign taproot inputs: no p2tr case.
"""
import io
import json
import os
import statistics
import sys
import time

from electrum.transaction import PartialTransaction
from electrum.version import ELECTRUM_VERSION


def psbt_bytes(tx):
    with io.BytesIO() as fd:
        tx._serialize_psbt(fd)
        return fd.getvalue()


def sign_pass(raw, keypairs, multisig):
    tx = PartialTransaction.from_raw_psbt(raw)
    for txin in tx.inputs():
        if multisig:
            # wsh(sortedmulti(2, ...)): the witness script lists the keys sorted.
            txin.script_type = 'p2wsh'
            txin.pubkeys = sorted(txin.bip32_paths)
            txin.num_sig = 2
        else:
            txin.script_type = 'p2wpkh'
            txin.pubkeys = list(txin.bip32_paths)
            txin.num_sig = 1
    tx.sign(keypairs)
    sigs = sum(len(txin.part_sigs) for txin in tx.inputs())
    return psbt_bytes(tx), sigs


def run_case(case, raw, keys):
    if case == 'out500':
        tx = PartialTransaction.from_raw_psbt(raw)
        return psbt_bytes(tx), 0
    signers = [{bytes.fromhex(k['pub']).hex(): (bytes.fromhex(k['priv']), True)
                for k in s['inputs']} for s in keys['signers']]
    cur, total = raw, 0
    for keypairs in signers:
        cur, sigs = sign_pass(cur, keypairs, multisig=(case == 'p2wsh'))
        total = sigs  # signatures held after this pass (they accumulate)
    return cur, total


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: electrum_peer.py DIR RUNS')
    d, runs = sys.argv[1], int(sys.argv[2])
    with open(os.path.join(d, 'keys.json')) as f:
        keys = json.load(f)
    out = {'impl': 'electrum', 'version': ELECTRUM_VERSION, 'runs': runs, 'cases': {}}
    cases = ('p2wpkh', 'p2wsh', 'out500')
    raws = {}
    for case in cases:
        with open(os.path.join(d, case + '.psbt'), 'rb') as f:
            raws[case] = f.read()
    # Warm-up: every case once before any is timed; then one more per case.
    for case in cases:
        run_case(case, raws[case], keys[case])
    for case in cases:
        raw = raws[case]
        expected = keys[case]['inputs'] * len(keys[case]['signers'])
        times, cpu = [], []
        for r in range(runs + 1):  # run 0 is the warm-up
            c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
            signed, sigs = run_case(case, raw, keys[case])
            t1, c1 = time.perf_counter_ns(), time.thread_time_ns()
            if sigs != expected:
                sys.exit(f'electrum_peer: {case}: {sigs} signatures, expected {expected}')
            if r > 0:
                times.append(t1 - t0)
                cpu.append(c1 - c0)
        with open(os.path.join(d, f'electrum-{case}.psbt'), 'wb') as f:
            f.write(signed)
        out['cases'][case] = {'median_ns': int(statistics.median(times)),
                              'median_cpu_ns': int(statistics.median(cpu)),
                              'runs_ns': times, 'cpu_ns': cpu, 'signatures': sigs}
    json.dump(out, sys.stdout)
    print()


if __name__ == '__main__':
    main()
