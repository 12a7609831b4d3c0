#!/usr/bin/python3
"""bench/run's driver: runs kura and the peers in rounds, checks the peers'
signed PSBTs, and prints the table. See bench/README.md.

    /usr/bin/python3 bench/driver.py BUILD_DIR [--rounds R] [--kura-runs N] [--peer-runs M]

Each round runs, one after the other, `kura-bench time` (every signing case
twice: with the default flags, which verify nothing, like the peers; and with
KURA_PSBT_SIGN_VERIFY, as kura-cold signs), the Electrum peer and the
bitcoinjs-lib peer, each timing N (kura) or M (peers) runs after a warm-up
run; then `kura-bench verify` checks every signed PSBT they wrote. Medians are
taken over all runs of all rounds, so that a burst of load from another
process on the machine lands on every implementation alike rather than on
whichever ran during it. Exit status: 0 when everything ran (whether or not a
target is met); 1 when something failed to run or a peer's output is wrong.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

SIGN_CASES = [
    # case, label, signatures, floor
    ('p2wpkh', '1  P2WPKH, 100 inputs: parse, sign, serialise', 100, 'ecdsa'),
    ('p2wsh', '2  P2WSH 2-of-3, 100 inputs: two signer passes', 200, 'ecdsa'),
    ('p2tr', '3  P2TR key path, 100 inputs: parse, sign, serialise', 100, 'schnorr'),
]
PARSE_CASE = ('out500', '4  500 outputs: parse, serialise')
TARGET = {'electrum': 10.0, 'bitcoinjs': 40.0}
ADDR_TARGET = 30000
# 7: kura-cold's whole work on a 100-input, 500-output batch, as a multiple of
# the raw libsecp256k1 signing of the same inputs.
BATCH_TARGET = 2.5
BATCH_WALLETS = [
    ('p2wpkh', 'P2WPKH, one signing device'),
    ('p2wsh', 'P2WSH 2-of-3, two signing devices (the second reads what the first wrote)'),
]
BATCH_VARIANTS = [('kura', 'kura'), ('kura-verify', 'kura, VERIFY'),
                  ('kura-cache', 'kura, cache'), ('kura-cache-verify', 'kura, cache, VERIFY')]
# 8: the chain follower's library work on mainnet block 413,567.
CHAIN_BLOCKS_TARGET = 500       # blocks/s on one core, 1,000,000 watched scripts
CHAIN_BYTES_TARGET = 64         # bytes of memory per watched script
CHAIN_SERIES = ['memcpy', 'sha256d', 'scan', 'verify_scan', 'allocate_address', 'bip32_public',
                'index_add_ps']
BATCH_PHASES = [('parse', 'parse'), ('check', 'check'), ('sign', 'sign'),
                ('serialize', 'serialise'), ('other', 'other')]


class Failure(Exception):
    pass


def run(cmd, what):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError as e:
        raise Failure(f'{what}: cannot run {cmd[0]}: {e}')
    if p.returncode != 0:
        raise Failure(f'{what} failed (exit {p.returncode}):\n{p.stderr.strip()}')
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise Failure(f'{what}: no JSON on stdout:\n{p.stdout[-500:]}\n{p.stderr[-500:]}')


def fmt_time(ns):
    if ns >= 1e9:
        return f'{ns / 1e9:.2f} s'
    if ns >= 1e6:
        return f'{ns / 1e6:.2f} ms'
    return f'{ns / 1e3:.1f} us'


def loadavg():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float('nan')


def cpu_model():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown CPU'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('build_dir')
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--kura-runs', type=int, default=15)
    ap.add_argument('--peer-runs', type=int, default=7)
    ap.add_argument('--node', default='node')
    ap.add_argument('--node-packages', default=os.path.join(ROOT, 'tests', 'interop'))
    a = ap.parse_args()

    bench = os.path.join(a.build_dir, 'bench', 'kura-bench')
    data = os.path.join(a.build_dir, 'data')
    os.makedirs(data, exist_ok=True)
    started = time.monotonic()
    load_start = loadavg()

    try:
        subprocess.run([bench, 'prepare', data], check=True, stdout=subprocess.DEVNULL)
    except (OSError, subprocess.CalledProcessError) as e:
        raise Failure(f'kura-bench prepare failed: {e}')

    peers = {
        'electrum': ['/usr/bin/python3', os.path.join(HERE, 'electrum_peer.py'), data,
                     str(a.peer_runs)],
        'bitcoinjs': [a.node, os.path.join(HERE, 'bitcoinjs_peer.mjs'), data, str(a.peer_runs),
                      a.node_packages],
    }
    impls = ('kura', 'electrum', 'bitcoinjs')
    wall = {i: {} for i in impls}   # impl -> case -> every run's wall time (ns)
    cpu = {i: {} for i in impls}    # impl -> case -> every run's CPU time (ns)
    round_medians = []              # per round: impl -> case -> wall median
    addr_wall, addr_cpu, addr_count = [], [], 0
    floors, versions, nchecked, loads = {}, {}, 0, []
    # batch[wallet]: ('floor' | variant, phase) -> {'wall': [...], 'cpu': [...]};
    # batch_info[wallet]: sizes and counts
    batch, batch_info, batch_rounds = {}, {}, []
    # chain[series]: {'wall': [...], 'cpu': [...]} (ns per block or per address);
    # chain_rounds: each round's scan rate (blocks/s, wall)
    chain, chain_info, chain_rounds = {}, {}, []
    chain_alloc = []  # per round: the one pass of 1,000,000 addresses
    for r in range(a.rounds):
        results = {'kura': run([bench, 'time', data, str(a.kura_runs)], 'kura-bench time')}
        for impl, cmd in peers.items():
            results[impl] = run(cmd, f'{impl} peer')
            versions[impl] = results[impl].get('version', '?')
        k = results['kura']
        addr_count = k['addresses']['count']
        addr_wall += k['addresses']['time']['runs_ns']
        addr_cpu += k['addresses']['time']['cpu_ns']
        for name, v in k['floor_cpu_ns'].items():
            floors.setdefault(name, []).append(v)
        brm = {}
        for wallet, res in k['batch'].items():
            b = batch.setdefault(wallet, {})
            batch_info[wallet] = {n: v for n, v in res.items() if not isinstance(v, dict)}
            series = [(('floor', 'total'), res['floor'])] + [
                ((variant, phase), res[variant][phase])
                for variant, _ in BATCH_VARIANTS for phase in res[variant]]
            for key, c in series:
                b.setdefault(key, {'wall': [], 'cpu': []})
                b[key]['wall'] += c['runs_ns']
                b[key]['cpu'] += c['cpu_ns']
            brm[wallet] = {v: statistics.median(res[v]['total']['runs_ns']) /
                           statistics.median(res['floor']['runs_ns']) for v, _ in BATCH_VARIANTS}
            nchecked += 2  # kura-batch-WALLET.psbt and -verify.psbt, checked by kura-bench
        batch_rounds.append(brm)
        ch = k['chain']
        chain_info = {n: v for n, v in ch.items() if not isinstance(v, dict)}
        for name in CHAIN_SERIES:
            chain.setdefault(name, {'wall': [], 'cpu': []})
            chain[name]['wall'] += ch[name]['runs_ns']
            chain[name]['cpu'] += ch[name]['cpu_ns']
        chain_rounds.append(1e9 / statistics.median(ch['scan']['runs_ns']))
        chain_alloc.append(ch['allocate_all'])
        rm = {}
        for impl, res in results.items():
            rm[impl] = {}
            for case, c in res['cases'].items():
                wall[impl].setdefault(case, []).extend(c['runs_ns'])
                cpu[impl].setdefault(case, []).extend(c['cpu_ns'])
                rm[impl][case] = c['median_ns']
                # Every signed PSBT must hold every expected signature, each valid,
                # so that an implementation that silently did nothing cannot look fast.
                out = os.path.join(data, f'{impl}-{case}.psbt')
                base = case
                for suffix in ('-hd', '-verify'):
                    if base.endswith(suffix):
                        base = base[:-len(suffix)]
                v = run([bench, 'verify', data, base, out], f'check of {impl}-{case}.psbt')
                if not v.get('ok'):
                    raise Failure(f'{impl} {case}: {v.get("error")}')
                nchecked += 1
        round_medians.append(rm)
        loads.append(loadavg())
        print(f'bench: round {r + 1}/{a.rounds} done, load average {loads[-1]:.2f}',
              file=sys.stderr)

    mw = {i: {c: statistics.median(v) for c, v in cs.items()} for i, cs in wall.items()}
    mc = {i: {c: statistics.median(v) for c, v in cs.items()} for i, cs in cpu.items()}
    floor = {name: statistics.median(v) for name, v in floors.items()}
    rate_wall = 1e9 * addr_count / statistics.median(addr_wall)
    rate_cpu = 1e9 * addr_count / statistics.median(addr_cpu)
    node_version = subprocess.run([a.node, '--version'], capture_output=True,
                                  text=True).stdout.strip()
    names = {'kura': 'kura', 'electrum': f'Electrum {versions.get("electrum")}',
             'bitcoinjs': f'bitcoinjs-lib {versions.get("bitcoinjs")}'}

    missed, lines = [], []
    w = lines.append

    def verdict(wall_ok, cpu_ok, what):
        # Met only when met on both clocks: a result that load noise can flip is
        # reported as missed.
        if wall_ok and cpu_ok:
            return 'met'
        missed.append(what)
        if wall_ok:
            return 'MISSED on CPU time (met on wall)'
        return 'MISSED' if not cpu_ok else 'MISSED on wall (met on CPU time)'

    w('')
    w(f'kura bench: {cpu_model()}, {os.cpu_count()} cores, shared; load average {load_start:.2f} '
      f'at start, then {", ".join(f"{x:.2f}" for x in loads)} after each round')
    w(f'{a.rounds} rounds; per round kura {a.kura_runs} runs, each peer {a.peer_runs} runs, after '
      f'a warm-up run; medians over all runs. Peers: {names["electrum"]} (/usr/bin/python3), '
      f'{names["bitcoinjs"]} (node {node_version})')
    w('Wall = elapsed time; CPU = CPU time of the thread (node: of the process), which the '
      'other load on the machine inflates less.')
    w('Peers sign with each input\'s private key, given to them (kura derives it from the master '
      'xprv, in its time);')
    w('"HD" is bitcoinjs-lib\'s signAllInputsHD from the master xprv, the same input kura gets.')
    w('kura signs with the default flags (no signature verified: the peers verify none either), '
      'which the targets compare;')
    w('"kura, VERIFY" is KURA_PSBT_SIGN_VERIFY (each signature verified against its recorded key '
      'before it is added),')
    w('as kura-cold signs: shown for its cost, and the peers\' ratios against it below each table.')
    cols = (f'   {"":<32}{"wall":>10}{"CPU":>10}   {"peer/kura wall, CPU":>19}   '
            f'{"target":<7} result')
    rows = [('kura', ''), ('kura', '-verify'), ('electrum', ''), ('bitcoinjs', ''),
            ('bitcoinjs', '-hd')]
    peer_rows = rows[2:]
    label_of = {('kura', ''): names['kura'], ('kura', '-verify'): 'kura, VERIFY',
                ('electrum', ''): names['electrum'],
                ('bitcoinjs', ''): names['bitcoinjs'],
                ('bitcoinjs', '-hd'): names['bitcoinjs'] + ', HD'}
    for case, label, _, _ in SIGN_CASES + [PARSE_CASE + (0, None)]:
        w('')
        w(f'{label}')
        w(cols)
        for impl, variant in rows:
            key, name = case + variant, label_of[(impl, variant)]
            if key not in mw[impl]:
                if impl == 'electrum':
                    w(f'   {name:<32}{"-":>10}{"-":>10}   {"":>19}   {"":<7} '
                      f'n/a: Electrum does not sign taproot inputs')
                continue
            row = f'   {name:<32}{fmt_time(mw[impl][key]):>10}{fmt_time(mc[impl][key]):>10}'
            if impl == 'kura' and variant == '-verify':
                cw = mw[impl][key] / mw['kura'][case]
                cc = mc[impl][key] / mc['kura'][case]
                row += (f'   {"":>19}   {"":<7} {cw:.2f}x, {cc:.2f}x the default\'s time '
                        f'(wall, CPU)')
            elif impl != 'kura':
                rw = mw[impl][key] / mw['kura'][case]
                rc = mc[impl][key] / mc['kura'][case]
                row += f'   {f"{rw:.1f}x, {rc:.1f}x":>19}   '
                if case == PARSE_CASE[0]:
                    row += f'{"-":<7} (no target)'
                else:
                    t = TARGET[impl]
                    row += f'{f">= {t:.0f}x":<7} ' + verdict(
                        rw >= t, rc >= t,
                        f'{case}: {rw:.1f}x (CPU {rc:.1f}x) {name}, target {t:.0f}x')
            w(row)
        spread = []
        for impl, variant in peer_rows:
            key = case + variant
            rs = [rm[impl][key] / rm['kura'][case] for rm in round_medians if key in rm[impl]]
            if rs:
                spread.append(f'{label_of[(impl, variant)]} {min(rs):.1f}x to {max(rs):.1f}x')
        w(f'   ratio of each round\'s wall medians: {"; ".join(spread)}')
        if case != PARSE_CASE[0]:
            vkey = case + '-verify'
            against = []
            for impl, variant in peer_rows:
                key = case + variant
                if key in mw[impl] and vkey in mw['kura']:
                    rw = mw[impl][key] / mw['kura'][vkey]
                    rc = mc[impl][key] / mc['kura'][vkey]
                    against.append(f'{label_of[(impl, variant)]} {rw:.1f}x, {rc:.1f}x')
            w('   peers against kura with VERIFY (wall, CPU; no target: the peers verify '
              f'nothing): {"; ".join(against)}')
            # What kura's time would have to be for each target, in multiples
            # of the libsecp256k1 floor (CPU time) for its signatures.
            nsig, kind = next((n, k) for c, _, n, k in SIGN_CASES if c == case)
            f = floor['secp256k1_ecdsa_sign' if kind == 'ecdsa' else 'secp256k1_schnorrsig_sign32']
            need = []
            for impl, variant in peer_rows:
                key = case + variant
                if key in mw[impl]:
                    # The peer's faster clock, so as not to flatter kura.
                    t = min(mw[impl][key], mc[impl][key]) / TARGET[impl]
                    x = t / nsig / f
                    need.append(f'{TARGET[impl]:.0f}x {label_of[(impl, variant)]}: '
                                f'<= {fmt_time(t)} ({x:.2f}x the floor'
                                f'{", below it" if x < 1 else ""})')
            w(f'   kura would need, for {"; ".join(need)}')
    w('')
    w(f'5  {addr_count:,} P2WPKH addresses from wpkh(xpub/0/*) with kura_descriptor_address, one core')
    w(f'   {rate_wall:,.0f} addresses/s (wall), {rate_cpu:,.0f}/s (CPU)   target >= {ADDR_TARGET:,}/s: '
      + verdict(rate_wall >= ADDR_TARGET, rate_cpu >= ADDR_TARGET,
                f'addresses: {rate_wall:,.0f}/s (CPU {rate_cpu:,.0f}/s), target {ADDR_TARGET:,}/s'))
    w('')
    w('6  libsecp256k1 floor (CPU time, one operation, precomputed message hash):')
    w(f'   secp256k1_ecdsa_sign {fmt_time(floor["secp256k1_ecdsa_sign"])}, '
      f'secp256k1_schnorrsig_sign32 {fmt_time(floor["secp256k1_schnorrsig_sign32"])}; '
      f'for comparison secp256k1_ecdsa_verify {fmt_time(floor["secp256k1_ecdsa_verify"])}, '
      f'secp256k1_ec_pubkey_create {fmt_time(floor["secp256k1_ec_pubkey_create"])}')
    w(f'   secp256k1_keypair_create {fmt_time(floor["secp256k1_keypair_create"])}, '
      f'secp256k1_keypair_xonly_tweak_add {fmt_time(floor["secp256k1_keypair_xonly_tweak_add"])}, '
      f'secp256k1_schnorrsig_verify {fmt_time(floor["secp256k1_schnorrsig_verify"])}')
    # A BIP32 taproot key-path signer must, with libsecp256k1's API, make the
    # derived secret's keypair (its point) and tweak it (BIP341) before it signs:
    # three EC operations where ECDSA needs one.
    tap_floor = (floor['secp256k1_keypair_create'] + floor['secp256k1_keypair_xonly_tweak_add'] +
                 floor['secp256k1_schnorrsig_sign32'])
    w(f'   so a BIP32 taproot key-path signature costs at least keypair_create + '
      f'keypair_xonly_tweak_add + schnorrsig_sign32 = {fmt_time(tap_floor)}')
    w(f'   kura\'s own: kura_ecdsa_sign {fmt_time(floor["kura_ecdsa_sign"])}, '
      f'kura_schnorr_sign {fmt_time(floor["kura_schnorr_sign"])} (both verify: the safe calls '
      f'for a caller with only a secret key), one kura_bip32_derive step '
      f'{fmt_time(floor["kura_bip32_derive_private"])} (private), '
      f'{fmt_time(floor["kura_bip32_derive_public"])} (public)')
    for case, label, nsig, kind in SIGN_CASES:
        f = floor['secp256k1_ecdsa_sign' if kind == 'ecdsa' else 'secp256k1_schnorrsig_sign32']
        # The least a signer that verifies each signature can spend: its
        # signing floor (for taproot the BIP32 key-path floor) and one verification.
        fv = (f if kind == 'ecdsa' else tap_floor) + floor[
            'secp256k1_ecdsa_verify' if kind == 'ecdsa' else 'secp256k1_schnorrsig_verify']
        per = mc['kura'][case] / nsig
        perv = mc['kura'][case + '-verify'] / nsig
        extra = ''
        if kind == 'schnorr':
            extra = f'; {per / tap_floor:.2f}x the BIP32 key-path floor'
        w(f'   kura {case + ":":<8}{fmt_time(per):>9} CPU per signature = {per / f:4.2f}x the '
          f'{"ECDSA" if kind == "ecdsa" else "BIP340"} floor{extra} '
          f'(a floor-limited signer: {fmt_time(f * nsig)} for this PSBT)')
        w(f'   {"  with VERIFY:":<13}{fmt_time(perv):>9} CPU per signature = {perv / fv:4.2f}x '
          f'that floor + one verification ({fmt_time(fv)})')
    bmed = {}
    for wallet, wlabel in BATCH_WALLETS:
        b = batch[wallet]
        bmed[wallet] = {f'{v}/{p}': {'wall': statistics.median(c['wall']),
                                     'cpu': statistics.median(c['cpu'])}
                        for (v, p), c in b.items()}
    info = batch_info['p2wpkh']
    w('')
    w(f'7  The issue\'s batch: {info["inputs"]} inputs, {info["outputs"]} outputs '
      f'({info["intent_outputs"]} intent outputs + change), kura-cold\'s whole work per signing '
      f'device:')
    w('   bytes -> kura_psbt_parse -> kura_check_package -> kura_psbt_sign_bip32 (master xprv) -> '
      'kura_psbt_serialize -> bytes.')
    w('   Floor: secp256k1_ecdsa_sign of the same inputs (sighashes and child keys precomputed), '
      'timed in the same runs.')
    w(f'   Intent {info["intent_bytes"] / 1000:.0f} kB, to P2WPKH, P2WSH, P2TR and P2PKH addresses, '
      f'all {info["allowlisted"]} on the allowlist (the policy requires it);')
    w(f'   2 ssh-ed25519 approvals (tier: 2 of 3 approvers); journal callbacks in memory. '
      f'Target: kura <= {BATCH_TARGET:g}x the floor.')
    w(f'   {"":<32}{"wall":>10}{"CPU":>10}   {"kura/floor wall, CPU":>20}  {"target":<7} result')
    for wallet, wlabel in BATCH_WALLETS:
        m, inf = bmed[wallet], batch_info[wallet]
        fl = m['floor/total']
        w(f'   {wlabel}: {inf["package_bytes"] / 1000:.0f} kB package, '
          f'{inf["signatures"]} signatures')
        w(f'   {"floor: " + str(inf["signatures"]) + " x secp256k1_ecdsa_sign":<32}'
          f'{fmt_time(fl["wall"]):>10}{fmt_time(fl["cpu"]):>10}')
        for variant, vlabel in BATCH_VARIANTS:
            t = m[f'{variant}/total']
            rw, rc = t['wall'] / fl['wall'], t['cpu'] / fl['cpu']
            w(f'   {vlabel:<32}{fmt_time(t["wall"]):>10}{fmt_time(t["cpu"]):>10}   '
              f'{f"{rw:.2f}x, {rc:.2f}x":>20}  {f"<= {BATCH_TARGET:g}x":<7} '
              + verdict(rw <= BATCH_TARGET, rc <= BATCH_TARGET,
                        f'batch {wallet} {vlabel}: {rw:.2f}x (CPU {rc:.2f}x) the floor, '
                        f'target <= {BATCH_TARGET:g}x'))
        spread = []
        for variant, vlabel in BATCH_VARIANTS:
            rs = [rm[wallet][variant] for rm in batch_rounds]
            spread.append(f'{vlabel} {min(rs):.2f}x to {max(rs):.2f}x')
        w(f'   ratio of each round\'s wall medians: {"; ".join(spread)}')
        w(f'   where the time goes, CPU medians (x the floor):')
        w(f'     {"":<21}' + ''.join(f'{plabel:<18}' for _, plabel in BATCH_PHASES).rstrip())
        for variant, vlabel in BATCH_VARIANTS:
            cells = []
            for phase, _ in BATCH_PHASES:
                c = m[f'{variant}/{phase}']['cpu']
                cell = f'{fmt_time(c)} {c / fl["cpu"]:.2f}x'
                cells.append(f'{cell:<18}')
            w(f'     {vlabel:<21}' + ''.join(cells).rstrip())
        for variant, vlabel in BATCH_VARIANTS:
            rest = sum(m[f'{variant}/{p}']['cpu'] for p, _ in BATCH_PHASES if p != 'check')
            room = BATCH_TARGET * fl['cpu'] - rest
            chk = m[f'{variant}/check']['cpu']
            if room > 0:
                w(f'   {vlabel}: for {BATCH_TARGET:g}x the check must take <= {fmt_time(room)} '
                  f'CPU ({room / fl["cpu"]:.2f}x the floor); it takes {fmt_time(chk)}')
            else:
                w(f'   {vlabel}: no check fits {BATCH_TARGET:g}x: the other phases take '
                  f'{rest / fl["cpu"]:.2f}x the floor (signing and verifying each signature: '
                  f'{m[f"{variant}/sign"]["cpu"] / fl["cpu"]:.2f}x)')
    w('   "other": what kura-cold does besides: kura_package_read and the intent\'s hash (the '
      'journal\'s name for the request),')
    w('   the txid (for the journal entry), freeing. Profiler: kura-bench profile DIR '
      'batch-p2wpkh RUNS (bench/README.md).')
    cm = {n: {'wall': statistics.median(c['wall']), 'cpu': statistics.median(c['cpu'])}
          for n, c in chain.items()}
    ci = chain_info
    w('')
    w(f'8  The chain: Bitcoin Core\'s mainnet block {int(ci["block"]):,} ({ci["block_bytes"]:,} bytes, '
      f'{ci["transactions"]:,} transactions, {ci["inputs"]:,} inputs, {ci["outputs"]:,} outputs),')
    w(f'   against {ci["watched_scripts"]:,} watched scripts and {ci["watched_outpoints"]:,} watched '
      f'outpoints; one core, per block ({ci["iterations"]} blocks per run).')
    w(f'   {"":<44}{"wall":>10}{"CPU":>10}   {"blocks/s wall, CPU":>20}  {"MB/s CPU":>9}')
    mb = ci['block_bytes'] / 1e6
    rows8 = [('memcpy', 'floor: copying the block once'),
             ('sha256d', 'floor: SHA-256d of every transaction'),
             ('scan', 'kura: parse (no merkle) + scan'),
             ('verify_scan', 'kura: parse with merkle check + scan')]
    for name, label in rows8:
        t = cm[name]
        bw, bc = 1e9 / t['wall'], 1e9 / t['cpu']
        row = (f'   {label:<44}{fmt_time(t["wall"]):>10}{fmt_time(t["cpu"]):>10}   '
               f'{f"{bw:,.0f}, {bc:,.0f}":>20}  {mb * bc:>9,.0f}')
        if name in ('scan', 'verify_scan'):
            row += f'   target >= {CHAIN_BLOCKS_TARGET}/s: ' + verdict(
                bw >= CHAIN_BLOCKS_TARGET, bc >= CHAIN_BLOCKS_TARGET,
                f'chain {label}: {bw:,.0f} blocks/s (CPU {bc:,.0f}), target {CHAIN_BLOCKS_TARGET}/s')
        w(row)
    w(f'   ratio of each round\'s scan rate (wall): {min(chain_rounds):,.0f} to '
      f'{max(chain_rounds):,.0f} blocks/s; the scan costs {cm["scan"]["cpu"] / cm["sha256d"]["cpu"]:.2f}x '
      f'the SHA-256d floor, {cm["scan"]["cpu"] / cm["memcpy"]["cpu"]:.0f}x the copy (CPU)')
    w(f'   found {ci["receipts"]} outputs paying watched scripts and {ci["spends"]} spends of '
      f'watched coins; hashed {ci["txids_computed"]} of {ci["transactions"]:,} transactions '
      f'for their txids (those with a hit)')
    per, peak = ci['index_bytes'] / ci['watched_scripts'], ci['index_peak_bytes'] / ci['watched_scripts']
    w(f'   memory: {per:.1f} bytes per watched script ({ci["index_slots"]:,} slots of 16 bytes), '
      f'{peak:.1f} at most while the table doubled   target <= {CHAIN_BYTES_TARGET}: '
      + verdict(max(per, peak) <= CHAIN_BYTES_TARGET, max(per, peak) <= CHAIN_BYTES_TARGET,
                f'chain memory: {max(per, peak):.1f} bytes per script, target {CHAIN_BYTES_TARGET}'))
    al, b32 = cm['allocate_address'], cm['bip32_public']
    w(f'   allocating deposit addresses (wpkh(xpub/0/*): kura_descriptor_script_pubkey + '
      f'kura_watch_index_add, growing), {ci["addresses_per_run"]:,} per run:')
    w(f'     {1e9 / al["wall"]:,.0f}/s wall, {1e9 / al["cpu"]:,.0f}/s CPU ({fmt_time(al["cpu"])} '
      f'each): 1,000,000 in {al["cpu"] * 1e6 / 1e9:.0f} s of one core; bare kura_bip32_derive '
      f'(public, one step) {1e9 / b32["cpu"]:,.0f}/s CPU ({fmt_time(b32["cpu"])})')
    aa = {k: statistics.median(x[k] for x in chain_alloc)
          for k in ('wall_ns', 'cpu_ns', 'bip32_wall_ns', 'bip32_cpu_ns', 'index_bytes',
                    'index_peak_bytes')}
    n_all = chain_alloc[0]['addresses']
    per_all = aa['index_bytes'] / n_all
    peak_all = aa['index_peak_bytes'] / n_all
    w(f'   allocating and indexing {n_all:,} deposit addresses, one pass per round into one '
      f'fresh index (median of {len(chain_alloc)}):')
    w(f'     {n_all * 1e9 / aa["wall_ns"]:,.0f}/s wall, {n_all * 1e9 / aa["cpu_ns"]:,.0f}/s CPU '
      f'({aa["cpu_ns"] / 1e9:.1f} s of one core); beside bare kura_bip32_derive (public, one step) '
      f'of the same indexes {n_all * 1e9 / aa["bip32_cpu_ns"]:,.0f}/s CPU '
      f'({aa["bip32_cpu_ns"] / 1e9:.1f} s): allocation costs '
      f'{aa["cpu_ns"] / aa["bip32_cpu_ns"]:.2f}x the bare derivation')
    w(f'     memory: {per_all:.1f} bytes per watched script, {peak_all:.1f} at most while the '
      f'table doubled   target <= {CHAIN_BYTES_TARGET}: '
      + verdict(max(per_all, peak_all) <= CHAIN_BYTES_TARGET,
                max(per_all, peak_all) <= CHAIN_BYTES_TARGET,
                f'allocated-address index memory: {max(per_all, peak_all):.1f} bytes per script, '
                f'target {CHAIN_BYTES_TARGET}'))
    ld = cm['index_add_ps']
    w(f'   loading 1,000,000 ready scripts into a new index (kura_watch_index_add, growing): '
      f'{ld["cpu"] / 1000:.0f} ns each CPU, {1e12 / ld["cpu"] / 1e6:.1f} million/s, '
      f'{ld["cpu"] * 1e6 / 1e12:.2f} s in all')
    w('')
    w(f'Checked: all {nchecked} signed PSBTs written (kura\'s and the peers\', every round) are '
      f'the same transaction and hold exactly the expected signatures, each verified against '
      f'its sighash; the 500-output ones keep every output and derivation; every batch check '
      f'accepted with the expected fee, change and approvals.')
    w('')
    if missed:
        w(f'MISSED {len(missed)} target{"s" if len(missed) > 1 else ""}:')
        for m in missed:
            w(f'  MISSED  {m}')
    else:
        w('All targets met.')
    w(f'(bench ran {time.monotonic() - started:.0f} s; every run is in '
      f'{os.path.join(a.build_dir, "results.json")})')
    print('\n'.join(lines))

    with open(os.path.join(a.build_dir, 'results.json'), 'w') as f:
        json.dump({'median_wall_ns': mw, 'median_cpu_ns': mc, 'floor_cpu_ns': floor,
                   'addresses_per_sec': {'wall': rate_wall, 'cpu': rate_cpu},
                   'runs_wall_ns': wall, 'runs_cpu_ns': cpu, 'round_wall_medians': round_medians,
                   'batch_median_ns': bmed, 'batch_info': batch_info,
                   'batch_runs_ns': {wl: {f'{v}/{p}': c for (v, p), c in b.items()}
                                     for wl, b in batch.items()},
                   'batch_round_ratios_wall': batch_rounds,
                   'chain_median_ns': cm, 'chain_info': chain_info,
                   'chain_runs_ns': chain, 'chain_round_scan_rates_wall': chain_rounds,
                   'chain_allocate_all': chain_alloc,
                   'loadavg': [load_start] + loads, 'versions': versions, 'missed': missed},
                  f, indent=1)
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except Failure as e:
        print(f'bench: FAILED: {e}', file=sys.stderr)
        sys.exit(1)
