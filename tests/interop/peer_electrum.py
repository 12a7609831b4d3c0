#!/usr/bin/python3
"""peer_electrum.py -- Electrum as a peer of kura's interoperability tests.

Electrum 4.3.4 is Debian's python3-electrum, a module of /usr/bin/python3 (not
of a pyenv python that may come first on PATH): run this file with
/usr/bin/python3. Electrum does not do taproot, so it covers the wpkh and wsh
kinds. Each command builds an in-memory Electrum wallet (a standard P2WPKH
wallet, or a 2-of-3 P2WSH multisig wallet) from the wallet description that
`kura-interop descriptor KIND` prints, with the key of one signer when it is to
sign, and then uses Electrum's own PSBT code:

  sign KIND WALLET PSBT SIGNER [INPUTS]  Electrum signs (wallet.sign_transaction);
                                         INPUTS ("0,2") keeps only those inputs'
                                         new signatures. Base64 PSBT, as Electrum
                                         exports it (complete inputs finalized).
  combine KIND WALLET PSBT PSBT          base64 PSBT
  finalize KIND WALLET PSBT              finalize and extract: tx hex
  verify KIND WALLET PSBT                check every signature; prints the count
  accept KIND WALLET PSBT TXHEX          check a signed tx spending PSBT; the count
  create KIND WALLET                     a PSBT of Electrum's making; base64
  addresses KIND WALLET BRANCH COUNT     one address per line

Signatures are checked with Electrum's sighash (serialize_preimage) and its
libsecp256k1 binding. HOME points to a temporary directory for the duration,
so Electrum writes nothing into the real home. Errors go to stderr; exit 1 when
the data is refused, 2 when the peer cannot run.
"""
import base64
import json
import os
import shutil
import sys
import tempfile

_home = tempfile.mkdtemp(prefix='kura-electrum-')
os.environ['HOME'] = _home

try:
    from electrum import bip32, ecc, keystore, util
    from electrum.bitcoin import address_to_script
    from electrum.crypto import hash_160, sha256, sha256d
    from electrum.simple_config import SimpleConfig
    from electrum.transaction import (PartialTransaction, PartialTxInput, PartialTxOutput,
                                      Transaction, TxOutpoint)
    from electrum.wallet import Multisig_Wallet, Standard_Wallet
    from electrum.wallet_db import WalletDB
except ImportError as e:  # a missing peer is a failure, not a skip
    sys.stderr.write(f'peer_electrum: cannot import Electrum ({e}): install python3-electrum '
                     f'and run this with /usr/bin/python3\n')
    shutil.rmtree(_home, ignore_errors=True)
    sys.exit(2)

PAYMENT_ADDRESS = 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq'
XTYPES = {'wpkh': 'p2wpkh', 'wsh': 'p2wsh'}
SIGHASH_ALL = 1


class Refused(Exception):
    pass


def electrum_path(path):
    """'m/48h/0h/0h/2h' -> "m/48'/0'/0'/2'" (Electrum's spelling)."""
    return path.replace('h', "'")


# How many receive addresses a wallet generates up front. Signing uses
# Electrum's default (20), so that for kura's coin at receive index 250 Electrum
# must learn the path from the PSBT's BIP32 records (and check that they derive
# the spent address). Verifying and finalizing see inputs that another side has
# already finalized, whose PSBT records are gone: there the wallet has scanned
# its first 260 receive addresses (kura-interop's coins go up to index 250), as
# a wallet with coins there would have.
GAP_SIGNING = 20
GAP_WATCHING = 260


def make_wallet(kind, wallet, signer=None, gap=GAP_WATCHING):
    """An in-memory Electrum wallet for `wallet`, holding signer's key if given."""
    xtype = XTYPES[kind]
    path = electrum_path(wallet['path'])

    def keystore_for(i):
        s = wallet['signers'][i]
        if i == signer:
            ks = keystore.from_bip43_rootseed(bytes.fromhex(s['seed']), path, xtype=xtype)
            # Electrum's own BIP32 from the seed must give kura's fingerprint and xpub.
            if ks.get_root_fingerprint() != s['fingerprint']:
                raise Refused(f'signer {i}: Electrum fingerprint {ks.get_root_fingerprint()}, '
                              f'kura {s["fingerprint"]}')
        else:
            ks = None
        node = bip32.BIP32Node.from_xkey(s['account_xpub'])._replace(xtype=xtype)
        if ks is not None:
            if ks.get_master_public_key() != node.to_xpub():
                raise Refused(f'signer {i}: Electrum derives another account xpub')
            return ks
        ks = keystore.from_xpub(node.to_xpub())
        ks.add_key_origin(derivation_prefix=path, root_fingerprint=s['fingerprint'])
        return ks

    db = WalletDB('', manual_upgrades=False)
    db.put('gap_limit', gap)
    if kind == 'wpkh':
        db.put('keystore', keystore_for(0).dump())
        db.put('wallet_type', 'standard')
        cls = Standard_Wallet
    else:
        n = len(wallet['signers'])
        for i in range(n):
            db.put(f'x{i + 1}/', keystore_for(i).dump())
        db.put('wallet_type', f'{wallet["threshold"]}of{n}')
        cls = Multisig_Wallet
    config = SimpleConfig({'electrum_path': _home})
    return cls(db, None, config=config)


def read_psbt(path):
    with open(path) as f:
        return PartialTransaction.from_raw_psbt(f.read().strip())


def export_psbt(tx):
    """As Electrum exports a partial transaction: complete inputs finalized."""
    return base64.b64encode(tx.serialize_as_bytes(force_psbt=True)).decode('ascii')


def parse_inputs(text, count):
    if text is None:
        return set(range(count))
    out = {int(x) for x in text.split(',')}
    if any(not 0 <= i < count for i in out):
        raise SystemExit(f'peer_electrum: bad input list {text}')
    return out


# ---- commands ----

def cmd_sign(kind, wallet, psbt_path, signer, inputs=None):
    w = make_wallet(kind, wallet, int(signer), gap=GAP_SIGNING)
    tx = read_psbt(psbt_path)
    before = [dict(txin.part_sigs) for txin in tx.inputs()]
    w.sign_transaction(tx, password=None)
    keep = parse_inputs(inputs, len(tx.inputs()))
    added = 0
    for i, txin in enumerate(tx.inputs()):
        if i not in keep:
            txin.part_sigs = before[i]
        added += len(txin.part_sigs) - len(before[i])
    if added == 0:
        raise Refused('Electrum added no signature')
    sys.stderr.write(f'peer_electrum: sign: {added} signatures\n')
    tx.add_info_from_wallet(w)
    return export_psbt(tx)


def cmd_combine(kind, wallet, a, b):
    w = make_wallet(kind, wallet)
    tx = read_psbt(a)
    tx.combine_with_other_psbt(read_psbt(b))
    tx.add_info_from_wallet(w)
    return export_psbt(tx)


def cmd_finalize(kind, wallet, psbt_path):
    w = make_wallet(kind, wallet)
    tx = read_psbt(psbt_path)
    tx.add_info_from_wallet(w)
    tx.finalize_psbt()
    if not tx.is_complete():
        raise Refused('Electrum cannot complete the transaction')
    return tx.serialize()


def check_sig(pubkey, sig, pre_hash, what):
    if len(sig) < 9 or sig[-1] != SIGHASH_ALL:
        raise Refused(f'{what}: not a SIGHASH_ALL signature')
    sig_string = ecc.sig_string_from_der_sig(sig[:-1])
    if not ecc.ECPubkey(pubkey).verify_message_hash(sig_string, pre_hash):
        raise Refused(f'{what}: signature by {pubkey.hex()} does not verify')


def check_witness(tx, i, txin, items):
    """The signatures of a final witness for input i, against Electrum's sighash."""
    pre_hash = sha256d(bytes.fromhex(tx.serialize_preimage(i)))
    spk = txin.scriptpubkey
    if txin.script_type == 'p2wpkh':
        if len(items) != 2:
            raise Refused(f'input {i}: P2WPKH witness of {len(items)} items')
        sig, pub = items
        if hash_160(pub) != spk[2:]:
            raise Refused(f'input {i}: the witness key does not hash to the spent key hash')
        check_sig(pub, sig, pre_hash, f'input {i}')
        return 1
    if txin.script_type == 'p2wsh':
        ws = items[-1]
        if ws != txin.witness_script or sha256(ws) != spk[2:]:
            raise Refused(f'input {i}: the witness script is not the wallet\'s')
        sigs = items[1:-1]
        if items[0] != b'' or len(sigs) != txin.num_sig:
            raise Refused(f'input {i}: multisig stack of {len(items)} items')
        # CHECKMULTISIG: each signature in order against the keys that remain.
        keys = list(txin.pubkeys)
        k = 0
        for sig in sigs:
            while k < len(keys):
                try:
                    check_sig(keys[k], sig, pre_hash, f'input {i}')
                    break
                except Refused:
                    k += 1
            if k == len(keys):
                raise Refused(f'input {i}: a multisig signature verifies against no key left')
            k += 1
        return len(sigs)
    raise Refused(f'input {i}: Electrum does not know this input ({txin.script_type})')


def add_wallet_info(tx, w):
    """Electrum's wallet info for every input, even when the PSBT is complete
    (add_info_from_wallet skips a complete transaction, whose inputs then have
    no script type to compute a sighash with)."""
    tx.add_info_from_wallet(w)
    for txin in tx.inputs():
        if txin.script_type in ('unknown', 'address'):
            w.add_input_info(txin, only_der_suffix=False)


def witness_items(witness):
    t = PartialTxInput(prevout=TxOutpoint(txid=bytes(32), out_idx=0))
    t.witness = witness
    return t.witness_elements()


def cmd_verify(kind, wallet, psbt_path):
    w = make_wallet(kind, wallet)
    tx = read_psbt(psbt_path)
    # The final witnesses, before Electrum's wallet info can touch them.
    finals = [txin.witness for txin in tx.inputs()]
    add_wallet_info(tx, w)
    total = 0
    for i, txin in enumerate(tx.inputs()):
        if txin.part_sigs:
            pre_hash = sha256d(bytes.fromhex(tx.serialize_preimage(i)))
            for pub, sig in txin.part_sigs.items():
                if pub not in txin.pubkeys:
                    raise Refused(f'input {i}: signature by {pub.hex()}, not a key of the input')
                check_sig(pub, sig, pre_hash, f'input {i}')
                total += 1
        if finals[i] is not None:
            total += check_witness(tx, i, txin, witness_items(finals[i]))
    return str(total)


def cmd_accept(kind, wallet, psbt_path, tx_hex):
    w = make_wallet(kind, wallet)
    tx = read_psbt(psbt_path)
    add_wallet_info(tx, w)
    signed = Transaction(tx_hex)
    if signed.txid() != tx.txid():
        raise Refused('the transaction is not the PSBT\'s')
    total = 0
    for i, (txin, sin) in enumerate(zip(tx.inputs(), signed.inputs())):
        if sin.script_sig:
            raise Refused(f'input {i}: a scriptSig on a native segwit spend')
        total += check_witness(tx, i, txin, sin.witness_elements())
    return str(total)


def funding_tx(address, value, tag):
    """A funding transaction paying value to address as its output 1."""
    def u32(n):
        return n.to_bytes(4, 'little').hex()

    def u64(n):
        return n.to_bytes(8, 'little').hex()

    spk = bytes.fromhex(address_to_script(address))
    raw = (u32(2) + '01' + (bytes([tag]) * 32).hex() + u32(0) + '00' + u32(0xffffffff)
           + '02' + u64(0) + '01' + '6a' + u64(value) + bytes([len(spk)]).hex() + spk.hex()
           + u32(0))
    tx = Transaction(raw)
    tx.deserialize()
    return tx


def cmd_create(kind, wallet):
    """Coins at receive 1, receive 7 and change 4; a payment and change at change 5."""
    w = make_wallet(kind, wallet, gap=GAP_SIGNING)
    coins = [(0, 1, 110000, 0x71), (0, 7, 70000, 0x72), (1, 4, 50000, 0x73)]
    inputs = []
    for branch, index, value, tag in coins:
        prev = funding_tx(w.derive_address(branch, index), value, tag)
        txin = PartialTxInput(prevout=TxOutpoint(txid=bytes.fromhex(prev.txid()), out_idx=1),
                              nsequence=0xfffffffd)
        txin.utxo = prev
        inputs.append(txin)
    outputs = [PartialTxOutput.from_address_and_value(PAYMENT_ADDRESS, 150000),
               PartialTxOutput.from_address_and_value(w.derive_address(1, 5), 78000)]
    tx = PartialTransaction.from_io(inputs, outputs, locktime=0, version=2, BIP69_sort=False)
    tx.add_info_from_wallet(w, include_xpubs=True)
    # Electrum includes the witness UTXO as well as the whole funding tx.
    for txin in tx.inputs():
        if txin.witness_utxo is None:
            txin.witness_utxo = txin.utxo.outputs()[txin.prevout.out_idx]
    return export_psbt(tx)


def cmd_addresses(kind, wallet, branch, count):
    w = make_wallet(kind, wallet, gap=GAP_SIGNING)
    return '\n'.join(w.derive_address(int(branch), i) for i in range(int(count)))


COMMANDS = {
    'sign': cmd_sign, 'combine': cmd_combine, 'finalize': cmd_finalize, 'verify': cmd_verify,
    'accept': cmd_accept, 'create': cmd_create, 'addresses': cmd_addresses,
}


def main(argv):
    if len(argv) < 3 or argv[0] not in COMMANDS or argv[1] not in XTYPES:
        sys.stderr.write('usage: peer_electrum.py COMMAND KIND WALLET_JSON ... '
                         '(KIND: wpkh, wsh; see the file\'s docstring)\n')
        return 2
    cmd, kind, wallet_path, args = argv[0], argv[1], argv[2], argv[3:]
    with open(wallet_path) as f:
        wallet = json.load(f)
    if wallet['kind'] != kind:
        sys.stderr.write(f'peer_electrum: the wallet is {wallet["kind"]}, not {kind}\n')
        return 2
    # Electrum's wallet machinery reports progress through an event loop.
    loop, stopping_fut, loop_thread = util.create_and_start_event_loop()
    try:
        print(COMMANDS[cmd](kind, wallet, *args))
        return 0
    except Refused as e:
        sys.stderr.write(f'peer_electrum: {cmd}: {e}\n')
        return 1
    except Exception as e:  # Electrum refusing the data raises its own exceptions
        sys.stderr.write(f'peer_electrum: {cmd}: {type(e).__name__}: {e}\n')
        return 1
    finally:
        loop.call_soon_threadsafe(stopping_fut.set_result, 1)
        loop_thread.join(timeout=10)


if __name__ == '__main__':
    try:
        code = main(sys.argv[1:])
    finally:
        shutil.rmtree(_home, ignore_errors=True)
    sys.exit(code)
