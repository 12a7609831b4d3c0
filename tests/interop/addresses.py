#!/usr/bin/python3
"""addresses.py -- kura's descriptor-derived addresses against a peer's.

  /usr/bin/python3 addresses.py --driver PATH/kura-interop --peer electrum|js --kind KIND
                                [--count 1000]

For the wallet `kura-interop descriptor KIND` describes, the first COUNT
addresses of the receive branch (0) and of the change branch (1) as kura
derives them from the descriptor must equal the peer's, which it derives from
the account xpubs with its own BIP32 and script code: Electrum's wallet
(wpkh, wsh), or bitcoinjs-lib and @scure/btc-signer, which must also agree
with each other (all four kinds). One process call per side and branch.
Exit 0 when all agree, 1 otherwise (a missing peer included).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEER_KINDS = {'electrum': {'wpkh', 'wsh'}, 'js': {'wpkh', 'wsh', 'tr', 'tr-multi_a'}}


def run(argv):
    start = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=240)
    if p.returncode != 0:
        raise RuntimeError(f'exit {p.returncode}: {" ".join(argv[:4])} ...\n{p.stderr.strip()[:4000]}')
    return p.stdout.split(), time.monotonic() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--driver', required=True)
    ap.add_argument('--peer', required=True, choices=sorted(PEER_KINDS))
    ap.add_argument('--kind', required=True, choices=['wpkh', 'wsh', 'tr', 'tr-multi_a'])
    ap.add_argument('--count', type=int, default=1000)
    args = ap.parse_args()
    if args.kind not in PEER_KINDS[args.peer]:
        print(f'addresses: {args.peer} does not do {args.kind}')
        return 2
    if args.peer == 'electrum':
        peer = ['/usr/bin/python3', os.path.join(HERE, 'peer_electrum.py')]
    else:
        node = shutil.which('node')
        if node is None:
            print('FAILED: node is not installed (scripts/install-deps installs it)')
            return 1
        peer = [node, os.path.join(HERE, 'peer_js.mjs')]
    with tempfile.TemporaryDirectory(prefix='kura-interop-') as workdir:
        try:
            wallet_text, _ = run([args.driver, 'descriptor', args.kind])
            wallet_path = os.path.join(workdir, 'wallet.json')
            with open(wallet_path, 'w') as f:
                f.write(' '.join(wallet_text))
            with open(wallet_path) as f:
                descriptor = json.load(f)['descriptor']
            for branch in (0, 1):
                ours, t1 = run([args.driver, 'addresses', descriptor, str(branch), str(args.count)])
                theirs, t2 = run([*peer, 'addresses', args.kind, wallet_path, str(branch),
                                  str(args.count)])
                if len(ours) != args.count or len(theirs) != args.count:
                    raise RuntimeError(f'branch {branch}: kura gave {len(ours)}, '
                                       f'{args.peer} {len(theirs)} addresses')
                if len(set(ours)) != args.count:
                    raise RuntimeError(f'branch {branch}: kura repeats addresses')
                for i, (a, b) in enumerate(zip(ours, theirs)):
                    if a != b:
                        raise RuntimeError(f'branch {branch} index {i}: kura {a}, {args.peer} {b}')
                print(f'{args.kind} branch {branch}: {args.count} addresses agree '
                      f'(kura {t1:.2f}s, {args.peer} {t2:.2f}s); last {ours[-1]}')
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            print(f'FAILED: {e}')
            return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
