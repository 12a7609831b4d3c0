#!/usr/bin/python3
"""flow.py -- one PSBT flow between kura and a peer, for one wallet kind, in
both directions. Run by ctest (tests/interop/CMakeLists.txt):

  /usr/bin/python3 flow.py --driver PATH/kura-interop --peer electrum|js --kind KIND

Keys. For the single-key kinds (wpkh, tr) both sides hold the one master key
and split the inputs: the peer signs inputs 0 and 2, kura input 1. For the
2-of-3 kinds (wsh, tr-multi_a) kura holds cosigner 0 and the peer cosigner 1
(cosigner 2 when the peer builds the PSBT).

A. kura creates the PSBT. Both sign it apart; kura verifies the peer's
   signatures and the peer kura's (and each refuses the other's with a flipped
   byte); each combines; each verifies the combined PSBTs; each finalizes both
   combined PSBTs, and the four transactions must be byte-identical; the peer
   accepts kura's transaction and kura the peer's. Then kura signs on top of
   the peer's PSBT, as a second signer would. For 2-of-3, the third cosigner
   signs as well and kura's finalizer must pick two (the peer accepts).
B. The peer creates the PSBT (with its BIP32 / taproot derivation fields).
   kura's updater must derive the same fields; (for 2-of-3 the peer signs;)
   kura signs, the peer validates kura's signatures, both finalize to the same
   transaction, and the peer accepts kura's.

Exit 0 when every step passes; 1 with the failing step otherwise. A missing
peer (no node, no Electrum) fails: it is never skipped.
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
SINGLE_KEY = {'wpkh', 'tr'}
PEER_KINDS = {'electrum': {'wpkh', 'wsh'}, 'js': {'wpkh', 'wsh', 'tr', 'tr-multi_a'}}


class StepFailed(Exception):
    pass


class Runner:
    """Runs the commands of one flow in a scratch directory and logs them."""

    def __init__(self, workdir, driver, peer, kind):
        self.dir = workdir
        self.driver = driver
        self.kind = kind
        self.peer_name = peer
        self.wallet = os.path.join(workdir, 'wallet.json')
        if peer == 'electrum':
            # Debian's Electrum is a module of the system python3.
            self.peer_cmd = ['/usr/bin/python3', os.path.join(HERE, 'peer_electrum.py')]
        else:
            node = shutil.which('node')
            if node is None:
                raise StepFailed('node is not installed (scripts/install-deps installs it)')
            self.peer_cmd = [node, os.path.join(HERE, 'peer_js.mjs')]
        self.calls = 0

    def path(self, name):
        return os.path.join(self.dir, name)

    def run(self, what, argv, expect_fail=False):
        """Runs argv; with expect_fail it must be refused (exit 1) for a
        signature that does not verify, not fail for another reason."""
        self.calls += 1
        start = time.monotonic()
        p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        took = time.monotonic() - start
        ok = (p.returncode != 0) if expect_fail else (p.returncode == 0)
        print(f'  [{took:5.2f}s] {what}' + (' (refused, as it must be)' if expect_fail and ok else ''))
        if not ok:
            raise StepFailed(f'{what}: exit {p.returncode}\n  command: {" ".join(argv)}\n'
                             f'  stdout: {p.stdout.strip()[:2000]}\n  stderr: {p.stderr.strip()[:4000]}')
        if expect_fail and (p.returncode != 1 or 'does not verify' not in p.stderr):
            raise StepFailed(f'{what}: exit {p.returncode}, expected 1 and "does not verify"\n'
                             f'  stderr: {p.stderr.strip()[:4000]}')
        return p.stdout.strip()

    def kura(self, what, *args, out=None, expect_fail=False):
        text = self.run(f'kura: {what}', [self.driver, *args], expect_fail)
        if out is not None:
            with open(self.path(out), 'w') as f:
                f.write(text + '\n')
        return text

    def peer(self, what, cmd, *args, out=None, expect_fail=False):
        text = self.run(f'{self.peer_name}: {what}',
                        [*self.peer_cmd, cmd, self.kind, self.wallet, *args], expect_fail)
        if out is not None:
            with open(self.path(out), 'w') as f:
                f.write(text + '\n')
        return text


def expect_equal(what, got, want):
    if got != want:
        raise StepFailed(f'{what}: got {got!r}, expected {want!r}')


def xprv_of(wallet_text, index):
    return json.loads(wallet_text)['signers'][index]['xprv']


def direction_a(r, wallet_text):
    """kura creates; both sign; both verify, combine, finalize."""
    single = r.kind in SINGLE_KEY
    n_inputs = 3
    kura_signer, peer_signer = 0, (0 if single else 1)
    kura_inputs, peer_inputs = ('1', '0,2') if single else (None, None)
    peer_sigs = 2 if single else n_inputs
    kura_sigs = 1 if single else n_inputs
    total = peer_sigs + kura_sigs
    kura_xprv = xprv_of(wallet_text, kura_signer)

    r.kura('create the PSBT', 'create', r.kind, out='a.psbt')
    r.peer(f'sign inputs {peer_inputs or "all"} with signer {peer_signer}', 'sign',
           r.path('a.psbt'), str(peer_signer), *([peer_inputs] if peer_inputs else []), out='a.peer')
    r.kura(f'sign inputs {kura_inputs or "all"} with signer {kura_signer}', 'sign',
           r.path('a.psbt'), kura_xprv, *([kura_inputs] if kura_inputs else []), out='a.kura')

    expect_equal('kura verifies the peer\'s signatures',
                 r.kura('verify the peer\'s signatures', 'verify', r.path('a.peer')), str(peer_sigs))
    expect_equal('the peer verifies kura\'s signatures',
                 r.peer('verify kura\'s signatures', 'verify', r.path('a.kura')), str(kura_sigs))

    # Negative controls: each side refuses the other's signature with one bit flipped.
    r.kura('flip a bit in the peer\'s signature', 'corrupt', r.path('a.peer'), '0', out='a.peer.bad')
    r.kura('refuse it', 'verify', r.path('a.peer.bad'), expect_fail=True)
    r.kura('flip a bit in kura\'s signature', 'corrupt', r.path('a.kura'),
           '1' if single else '0', out='a.kura.bad')
    r.peer('refuse it', 'verify', r.path('a.kura.bad'), expect_fail=True)

    r.kura('combine (kura\'s, then the peer\'s)', 'combine', r.path('a.kura'), r.path('a.peer'),
           out='a.c1')
    r.peer('combine (its own, then kura\'s)', 'combine', r.path('a.peer'), r.path('a.kura'),
           out='a.c2')
    for name in ('a.c1', 'a.c2'):
        expect_equal(f'kura verifies {name}', r.kura(f'verify {name}', 'verify', r.path(name)),
                     str(total))
        expect_equal(f'the peer verifies {name}',
                     r.peer(f'verify {name}', 'verify', r.path(name)), str(total))

    txs = {
        'kura finalizes kura\'s combination': r.kura('finalize a.c1', 'finalize', r.path('a.c1')),
        'kura finalizes the peer\'s combination': r.kura('finalize a.c2', 'finalize', r.path('a.c2')),
        'the peer finalizes its combination': r.peer('finalize a.c2', 'finalize', r.path('a.c2')),
        'the peer finalizes kura\'s combination': r.peer('finalize a.c1', 'finalize', r.path('a.c1')),
    }
    first = next(iter(txs.values()))
    for what, tx in txs.items():
        if tx != first:
            raise StepFailed(f'the finalized transactions differ: {what}:\n  {tx}\n'
                             f'  {next(iter(txs))}:\n  {first}')
    print(f'  four finalizations, one transaction ({len(first) // 2} bytes)')
    expect_equal('the peer accepts kura\'s transaction',
                 r.peer('accept kura\'s transaction', 'accept', r.path('a.psbt'),
                        txs['kura finalizes kura\'s combination']), str(total))
    expect_equal('kura accepts the peer\'s transaction',
                 r.kura('accept the peer\'s transaction', 'verify-tx', r.path('a.psbt'),
                        txs['the peer finalizes its combination']), str(total))

    # kura as the second signer, on the peer's PSBT.
    r.kura('sign on top of the peer\'s PSBT', 'sign', r.path('a.peer'), kura_xprv,
           *([kura_inputs] if kura_inputs else []), out='a.serial')
    expect_equal('kura verifies the serial PSBT',
                 r.kura('verify it', 'verify', r.path('a.serial')), str(total))
    expect_equal('the peer verifies the serial PSBT',
                 r.peer('verify it', 'verify', r.path('a.serial')), str(total))
    serial_tx = r.peer('finalize it', 'finalize', r.path('a.serial'))
    if r.kind in ('wpkh', 'wsh'):
        # RFC6979: kura's ECDSA signatures are the same whichever PSBT it signs.
        expect_equal('the serial transaction', serial_tx, first)
    else:
        expect_equal('kura accepts the serial transaction',
                     r.kura('accept it', 'verify-tx', r.path('a.psbt'), serial_tx), str(total))


def spare_signature(r, wallet_text):
    """2-of-3 with all three signatures: the finalizer must use exactly two."""
    n_inputs = 3
    r.kura('cosigner 2 signs the combined PSBT too', 'sign', r.path('a.c1'),
           xprv_of(wallet_text, 2), out='a.all')
    expect_equal('kura verifies three signatures per input',
                 r.kura('verify', 'verify', r.path('a.all')), str(3 * n_inputs))
    expect_equal('the peer verifies three signatures per input',
                 r.peer('verify', 'verify', r.path('a.all')), str(3 * n_inputs))
    tx = r.kura('finalize with a signature to spare', 'finalize', r.path('a.all'))
    expect_equal('the peer accepts it (two signatures per input)',
                 r.peer('accept', 'accept', r.path('a.psbt'), tx), str(2 * n_inputs))


def direction_b(r, wallet_text):
    """The peer creates; kura matches its fields, signs, finalizes; the peer accepts."""
    single = r.kind in SINGLE_KEY
    n_inputs = 3
    total = n_inputs if single else 2 * n_inputs
    r.peer('create the PSBT', 'create', out='b.psbt')
    expect_equal('kura derives the peer\'s fields (inputs, change outputs)',
                 r.kura('match the peer\'s updater fields', 'match', r.kind, r.path('b.psbt')),
                 f'{n_inputs} 1')
    to_sign = 'b.psbt'
    if not single:
        r.peer('sign with signer 2', 'sign', r.path('b.psbt'), '2', out='b.peer')
        expect_equal('kura verifies the peer\'s signatures',
                     r.kura('verify them', 'verify', r.path('b.peer')), str(n_inputs))
        to_sign = 'b.peer'
    r.kura('sign with signer 0', 'sign', r.path(to_sign), xprv_of(wallet_text, 0), out='b.kura')
    expect_equal('kura verifies', r.kura('verify', 'verify', r.path('b.kura')), str(total))
    expect_equal('the peer verifies kura\'s signatures',
                 r.peer('verify', 'verify', r.path('b.kura')), str(total))
    tx = r.kura('finalize', 'finalize', r.path('b.kura'))
    expect_equal('the peer\'s finalization', r.peer('finalize', 'finalize', r.path('b.kura')), tx)
    expect_equal('the peer accepts kura\'s transaction',
                 r.peer('accept kura\'s transaction', 'accept', r.path('b.psbt'), tx), str(total))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--driver', required=True, help='the kura-interop program')
    ap.add_argument('--peer', required=True, choices=sorted(PEER_KINDS))
    ap.add_argument('--kind', required=True, choices=['wpkh', 'wsh', 'tr', 'tr-multi_a'])
    args = ap.parse_args()
    if args.kind not in PEER_KINDS[args.peer]:
        print(f'flow: {args.peer} does not do {args.kind}')
        return 2
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix='kura-interop-') as workdir:
        try:
            r = Runner(workdir, os.path.abspath(args.driver), args.peer, args.kind)
            print(f'{args.peer} / {args.kind}: the wallet')
            wallet_text = r.kura('describe the wallet', 'descriptor', args.kind, out='wallet.json')
            print('A. kura creates, both sign, both finalize')
            direction_a(r, wallet_text)
            if args.kind not in SINGLE_KEY:
                spare_signature(r, wallet_text)
            print('B. the peer creates, kura signs and finalizes')
            direction_b(r, wallet_text)
        except (StepFailed, subprocess.TimeoutExpired) as e:
            print(f'FAILED: {e}')
            return 1
        print(f'passed: {r.calls} calls in {time.monotonic() - start:.1f}s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
