#!/usr/bin/env node
// peer_js.mjs — the npm peer of kura's interoperability tests.
//
// bitcoinjs-lib 7 (with bip32, ecpair and tiny-secp256k1) is the peer for the
// wpkh, wsh and tr kinds; @scure/btc-signer 2 (with @scure/bip32) for
// tr-multi_a, whose script-path finalizer handles a 2-of-3 with a missing
// signature. Signatures are validated with bitcoinjs-lib's own validators for
// every kind, and a signed transaction is "accepted" by checking its witnesses
// against sighashes computed by bitcoinjs-lib.
//
//   node peer_js.mjs sign KIND WALLET PSBT SIGNER [INPUTS]  sign with signer SIGNER's
//                                       master key (every input, or "0,2"); base64
//   node peer_js.mjs combine KIND WALLET PSBT PSBT   base64
//   node peer_js.mjs finalize KIND WALLET PSBT       finalize and extract: tx hex
//   node peer_js.mjs verify KIND WALLET PSBT         validate every signature; the count
//   node peer_js.mjs accept KIND WALLET PSBT TXHEX   check a signed tx against PSBT; the count
//   node peer_js.mjs create KIND WALLET              a PSBT of the peer's own making; base64
//   node peer_js.mjs addresses KIND WALLET BRANCH COUNT [bitcoinjs|scure|both]
//
// PSBT arguments are files holding base64. WALLET is a file holding what
// `kura-interop descriptor KIND` prints. Errors go to stderr; exit 1 when the
// data is refused, 2 when the peer cannot run.
//
// The npm packages are loaded from the node_modules directory beside this
// file (KURA_INTEROP_NODE_MODULES may name another), whatever the working
// directory: ctest runs this from the build tree.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const modulesDir = process.env.KURA_INTEROP_NODE_MODULES || path.join(here, 'node_modules');

function die(code, message) {
  process.stderr.write(`peer_js: ${message}\n`);
  process.exit(code);
}

class Refused extends Error {}
function refuse(message) {
  throw new Refused(message);
}

if (!existsSync(modulesDir)) die(2, `no npm packages at ${modulesDir}: run scripts/install-deps`);

// Each package's ESM entry point from its package.json, under modulesDir.
async function load(name) {
  const dir = path.join(modulesDir, ...name.split('/'));
  const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  let entry = pkg.exports;
  if (entry && typeof entry === 'object' && entry['.'] !== undefined) entry = entry['.'];
  if (entry && typeof entry === 'object') entry = entry.import || entry.default || entry.node;
  if (entry && typeof entry === 'object') entry = entry.default || entry.types;
  if (typeof entry !== 'string') entry = pkg.module || pkg.main || 'index.js';
  return import(pathToFileURL(path.join(dir, entry)).href);
}

const bitcoin = await load('bitcoinjs-lib');
const ecc = await load('tiny-secp256k1');
const { BIP32Factory } = await load('bip32');
const { ECPairFactory } = await load('ecpair');
const btc = await load('@scure/btc-signer');
const { HDKey } = await load('@scure/bip32');
const { base64, hex } = await load('@scure/base');

bitcoin.initEccLib(ecc);
const bip32 = BIP32Factory(ecc);
const ECPair = ECPairFactory(ecc);
const network = bitcoin.networks.bitcoin;
const NUMS = hex.decode('50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0');
const PAYMENT_ADDRESS = 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq';
const KINDS = ['wpkh', 'wsh', 'tr', 'tr-multi_a'];

// ---- small helpers ----

const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const compare = (a, b) => {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
};
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const xOnly = pub => pub.subarray(1, 33);
const readText = file => readFileSync(file, 'utf8').trim();
const fingerprintBytes = fp => hex.decode(fp);
const fingerprintNumber = fp => parseInt(fp, 16);
const H = 0x80000000;

function parsePath(text) {
  // "m/48h/0h/0h/2h" -> [48|H, 0|H, 0|H, 2|H]
  return text
    .split('/')
    .slice(1)
    .map(step => (/[h']$/.test(step) ? (parseInt(step, 10) | 0) + H : parseInt(step, 10)) >>> 0);
}
const pathText = steps =>
  'm/' + steps.map(s => (s >= H ? `${s - H}'` : `${s}`)).join('/');

function parseInputs(list, count) {
  if (list === undefined) return [...Array(count).keys()];
  const out = list.split(',').map(x => parseInt(x, 10));
  if (out.some(i => !(i >= 0 && i < count))) die(2, `bad input list ${list}`);
  return out;
}

// The keys of a wallet at (branch, index), from its account xpubs.
// Branch nodes are cached: deriving 1,000 addresses costs one step each.
const branchNodes = new Map();
function branchNode(lib, xpub, branch) {
  const key = `${lib}/${xpub}/${branch}`;
  if (!branchNodes.has(key)) {
    branchNodes.set(key, lib === 'scure'
      ? HDKey.fromExtendedKey(xpub).deriveChild(branch)
      : bip32.fromBase58(xpub, network).derive(branch));
  }
  return branchNodes.get(key);
}

function walletKeys(wallet, branch, index) {
  return wallet.signers.map(s => {
    const node = branchNode('bitcoinjs', s.account_xpub, branch).derive(index);
    return { pubkey: node.publicKey, fingerprint: s.fingerprint, path: [...parsePath(wallet.path), branch, index] };
  });
}

// BIP387 multi_a: <x1> OP_CHECKSIG <x2> OP_CHECKSIGADD ... <m> OP_NUMEQUAL.
function multiA(m, xonlyKeys) {
  const chunks = [];
  xonlyKeys.forEach((k, i) => {
    chunks.push(k, i === 0 ? bitcoin.opcodes.OP_CHECKSIG : bitcoin.opcodes.OP_CHECKSIGADD);
  });
  chunks.push(bitcoin.script.number.encode(m), bitcoin.opcodes.OP_NUMEQUAL);
  if (m <= 16) chunks[chunks.length - 2] = bitcoin.opcodes.OP_1 + m - 1;
  return bitcoin.script.compile(chunks);
}

// The output (and what spends it) of a kind at (branch, index), by bitcoinjs-lib.
function bitcoinjsPayment(kind, wallet, branch, index) {
  const keys = walletKeys(wallet, branch, index);
  switch (kind) {
    case 'wpkh':
      return { keys, payment: bitcoin.payments.p2wpkh({ pubkey: keys[0].pubkey, network }) };
    case 'wsh': {
      const sorted = keys.map(k => k.pubkey).sort(compare);
      const redeem = bitcoin.payments.p2ms({ m: wallet.threshold, pubkeys: sorted, network });
      return { keys, payment: bitcoin.payments.p2wsh({ redeem, network }) };
    }
    case 'tr':
      return { keys, payment: bitcoin.payments.p2tr({ internalPubkey: xOnly(keys[0].pubkey), network }) };
    case 'tr-multi_a': {
      const leaf = multiA(wallet.threshold, keys.map(k => xOnly(k.pubkey)).sort(compare));
      const payment = bitcoin.payments.p2tr({
        internalPubkey: hex.decode(wallet.internal_key),
        scriptTree: { output: leaf },
        network,
      });
      return { keys, payment, leaf };
    }
  }
  die(2, `unknown kind ${kind}`);
}

// The same by @scure/btc-signer and @scure/bip32.
function scurePayment(kind, wallet, branch, index) {
  const keys = wallet.signers.map(s =>
    branchNode('scure', s.account_xpub, branch).deriveChild(index).publicKey);
  switch (kind) {
    case 'wpkh':
      return btc.p2wpkh(keys[0]);
    case 'wsh':
      return btc.sortedMultisig(wallet.threshold, keys, true); // P2WSH of the BIP67-sorted p2ms
    case 'tr':
      return btc.p2tr(xOnly(keys[0]));
    case 'tr-multi_a':
      return btc.p2tr(hex.decode(wallet.internal_key),
        btc.p2tr_ms(wallet.threshold, keys.map(xOnly).sort(compare)));
  }
  die(2, `unknown kind ${kind}`);
}

const usesScure = kind => kind === 'tr-multi_a';

// ---- commands: PSBT roles ----

function loadBitcoinjs(file) {
  return bitcoin.Psbt.fromBase64(readText(file), { network });
}
function loadScure(file) {
  return btc.Transaction.fromPSBT(base64.decode(readText(file)));
}

function sign(kind, file, xprv, list) {
  let added = 0;
  if (usesScure(kind)) {
    const tx = loadScure(file);
    const root = HDKey.fromExtendedKey(xprv);
    for (const i of parseInputs(list, tx.inputsLength)) {
      const input = tx.getInput(i);
      // @scure signs with an HDKey only from PSBT_IN_BIP32_DERIVATION; taproot
      // keys are in PSBT_IN_TAP_BIP32_DERIVATION, so derive them here.
      for (const [xonly, { der }] of input.tapBip32Derivation || []) {
        if (der.fingerprint !== root.fingerprint) continue;
        let child = root;
        for (const step of der.path) child = child.deriveChild(step);
        if (!equal(xOnly(child.publicKey), xonly)) refuse(`input ${i}: derivation does not give its key`);
        if (tx.signIdx(child.privateKey, i)) added++;
      }
    }
    if (added === 0) refuse('no input names this key');
    process.stderr.write(`peer_js: sign: ${added} signatures\n`);
    return base64.encode(tx.toPSBT());
  }
  const psbt = loadBitcoinjs(file);
  const root = bip32.fromBase58(xprv, network);
  for (const i of parseInputs(list, psbt.inputCount)) {
    const input = psbt.data.inputs[i];
    if (kind === 'tr') {
      // Key path: bitcoinjs-lib signs with the tweaked key (BIP341 taproot_tweak_seckey).
      for (const d of input.tapBip32Derivation || []) {
        if (!equal(d.masterFingerprint, root.fingerprint)) continue;
        const child = root.derivePath(d.path);
        if (!equal(xOnly(child.publicKey), d.pubkey)) refuse(`input ${i}: derivation does not give its key`);
        if (!input.tapInternalKey || !equal(input.tapInternalKey, d.pubkey)) continue;
        const tweak = bitcoin.crypto.taggedHash('TapTweak',
          input.tapMerkleRoot ? concat(d.pubkey, input.tapMerkleRoot) : d.pubkey);
        psbt.signTaprootInput(i, child.tweak(tweak));
        added++;
      }
    } else {
      const mine = (input.bip32Derivation || []).filter(d => equal(d.masterFingerprint, root.fingerprint));
      if (mine.length === 0) continue;
      psbt.signInputHD(i, root);
      added += mine.length;
    }
  }
  if (added === 0) refuse('no input names this key');
  process.stderr.write(`peer_js: sign: ${added} signatures\n`);
  return psbt.toBase64();
}

function combine(kind, a, b) {
  if (usesScure(kind)) return base64.encode(loadScure(a).combine(loadScure(b)).toPSBT());
  return loadBitcoinjs(a).combine(loadBitcoinjs(b)).toBase64();
}

function finalize(kind, file) {
  if (usesScure(kind)) {
    const tx = loadScure(file);
    tx.finalize();
    return hex.encode(tx.extract());
  }
  const psbt = loadBitcoinjs(file);
  psbt.finalizeAllInputs();
  return psbt.extractTransaction().toHex();
}

// Every PSBT_IN_PARTIAL_SIG, TAP_KEY_SIG and TAP_SCRIPT_SIG, validated by
// bitcoinjs-lib (which computes the sighash itself); finalized inputs are
// checked as a signed transaction's are, by acceptInput below.
function verify(kind, file) {
  const psbt = loadBitcoinjs(file);
  const prevouts = psbt.data.inputs.map((input, i) => prevoutOf(psbt, input, i));
  const tx = bitcoin.Transaction.fromBuffer(psbt.data.getTransaction());
  let total = 0;
  psbt.data.inputs.forEach((input, i) => {
    const held = (input.partialSig || []).length + (input.tapKeySig ? 1 : 0) +
      (input.tapScriptSig || []).length;
    if (held > 0) {
      let good = 0;
      const validator = (pubkey, msghash, signature) => {
        const ok = pubkey.length === 32
          ? ecc.verifySchnorr(msghash, pubkey, signature)
          : ECPair.fromPublicKey(pubkey).verify(msghash, signature);
        if (ok) good++;
        return ok;
      };
      let ok;
      try {
        ok = psbt.validateSignaturesOfInput(i, validator);
      } catch (e) {
        refuse(`input ${i}: ${e.message}`);
      }
      if (!ok) refuse(`input ${i}: a signature does not verify`);
      // bitcoinjs-lib skips a script signature it finds no hash for: count.
      if (good !== held) refuse(`input ${i}: ${held} signatures, ${good} verified`);
      total += good;
    }
    if (input.finalScriptWitness || input.finalScriptSig) {
      const witness = input.finalScriptWitness ? decodeWitness(input.finalScriptWitness) : [];
      total += acceptInput(tx, i, witness, prevouts);
    }
  });
  return String(total);
}

// ---- accepting a signed transaction ----

function compactSize(n) {
  if (n < 0xfd) return [n];
  if (n <= 0xffff) return [0xfd, n & 0xff, n >> 8];
  return [0xfe, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24];
}

// <x1> OP_CHECKSIG [<xi> OP_CHECKSIGADD]... <m> OP_NUMEQUAL, or <x> OP_CHECKSIG.
function parseMultiA(leaf, i) {
  const ops = bitcoin.opcodes;
  const chunks = bitcoin.script.decompile(leaf) || [];
  const keys = [];
  let at = 0;
  while (at + 1 < chunks.length && chunks[at] instanceof Uint8Array && chunks[at].length === 32 &&
         chunks[at + 1] === (keys.length === 0 ? ops.OP_CHECKSIG : ops.OP_CHECKSIGADD)) {
    keys.push(chunks[at]);
    at += 2;
  }
  if (keys.length === 1 && at === chunks.length) return { m: 1, keys };
  const mChunk = chunks[at];
  const m = typeof mChunk === 'number' && mChunk >= ops.OP_1 && mChunk <= ops.OP_16
    ? mChunk - ops.OP_1 + 1
    : mChunk instanceof Uint8Array ? bitcoin.script.number.decode(mChunk) : 0;
  if (keys.length === 0 || at + 2 !== chunks.length || chunks[at + 1] !== ops.OP_NUMEQUAL ||
      !(m >= 1 && m <= keys.length))
    refuse(`input ${i}: leaf is neither multi_a nor <key> OP_CHECKSIG`);
  return { m, keys };
}

function prevoutOf(psbt, input, i) {
  if (input.witnessUtxo) return { script: input.witnessUtxo.script, value: input.witnessUtxo.value };
  if (input.nonWitnessUtxo) {
    const prev = bitcoin.Transaction.fromBuffer(input.nonWitnessUtxo);
    const out = prev.outs[psbt.txInputs[i].index];
    return { script: out.script, value: out.value };
  }
  refuse(`input ${i}: no UTXO`);
}

function decodeWitness(bytes) {
  // CompactSize count, then CompactSize-prefixed items (BIP141).
  let at = 0;
  const varint = () => {
    const first = bytes[at++];
    if (first < 0xfd) return first;
    const n = first === 0xfd ? 2 : first === 0xfe ? 4 : 8;
    let v = 0;
    for (let k = 0; k < n; k++) v += bytes[at++] * 2 ** (8 * k);
    return v;
  };
  const items = [];
  for (let n = varint(); n > 0; n--) {
    const len = varint();
    items.push(bytes.subarray(at, at + len));
    at += len;
  }
  return items;
}

function checkEcdsa(pub, sigWithType, hashFor) {
  const { signature, hashType } = bitcoin.script.signature.decode(sigWithType);
  return ECPair.fromPublicKey(pub).verify(hashFor(hashType), signature);
}

function checkSchnorr(xonly, sig, hashFor) {
  if (sig.length !== 64 && sig.length !== 65) return false;
  const hashType = sig.length === 64 ? bitcoin.Transaction.SIGHASH_DEFAULT : sig[64];
  return ecc.verifySchnorr(hashFor(hashType), xonly, sig.subarray(0, 64));
}

// Checks input i's witness against its spent output, with sighashes computed
// by bitcoinjs-lib. Returns the signatures checked; refuses anything else.
function acceptInput(tx, i, witness, prevouts) {
  const { script, value } = prevouts[i];
  const scripts = prevouts.map(p => p.script);
  const values = prevouts.map(p => p.value);
  const type = script.length === 22 && script[0] === 0 && script[1] === 20 ? 'p2wpkh'
    : script.length === 34 && script[0] === 0 && script[1] === 32 ? 'p2wsh'
    : script.length === 34 && script[0] === 0x51 && script[1] === 32 ? 'p2tr' : 'other';
  if (type === 'p2wpkh') {
    if (witness.length !== 2) refuse(`input ${i}: P2WPKH witness of ${witness.length} items`);
    const [sig, pub] = witness;
    if (!equal(bitcoin.crypto.hash160(pub), script.subarray(2))) refuse(`input ${i}: key hash`);
    const code = bitcoin.payments.p2pkh({ hash: script.subarray(2) }).output;
    if (!checkEcdsa(pub, sig, t => tx.hashForWitnessV0(i, code, value, t)))
      refuse(`input ${i}: signature does not verify`);
    return 1;
  }
  if (type === 'p2wsh') {
    const ws = witness[witness.length - 1];
    if (!ws || !equal(bitcoin.crypto.sha256(ws), script.subarray(2))) refuse(`input ${i}: witness script`);
    const ms = bitcoin.payments.p2ms({ output: ws });
    const sigs = witness.slice(1, -1);
    if (witness[0].length !== 0 || sigs.length !== ms.m) refuse(`input ${i}: multisig stack`);
    // CHECKMULTISIG: each signature in order against the keys that remain.
    let k = 0;
    for (const sig of sigs) {
      while (k < ms.pubkeys.length &&
             !checkEcdsa(ms.pubkeys[k], sig, t => tx.hashForWitnessV0(i, ws, value, t))) k++;
      if (k === ms.pubkeys.length) refuse(`input ${i}: multisig signature does not verify`);
      k++;
    }
    return sigs.length;
  }
  if (type === 'p2tr') {
    const outputKey = script.subarray(2);
    if (witness.length === 1) {
      if (!checkSchnorr(outputKey, witness[0], t => tx.hashForWitnessV1(i, scripts, values, t)))
        refuse(`input ${i}: key-path signature does not verify`);
      return 1;
    }
    const control = witness[witness.length - 1];
    const leaf = witness[witness.length - 2];
    const stack = witness.slice(0, -2);
    if ((control[0] & 0xfe) !== 0xc0 || (control.length - 33) % 32 !== 0) refuse(`input ${i}: control block`);
    const leafHash = bitcoin.crypto.taggedHash('TapLeaf', concat([0xc0], compactSize(leaf.length), leaf));
    let k = leafHash;
    for (let at = 33; at < control.length; at += 32) {
      const sib = control.subarray(at, at + 32);
      k = bitcoin.crypto.taggedHash('TapBranch', compare(k, sib) < 0 ? concat(k, sib) : concat(sib, k));
    }
    const internal = control.subarray(1, 33);
    const tweaked = ecc.xOnlyPointAddTweak(internal, bitcoin.crypto.taggedHash('TapTweak', concat(internal, k)));
    if (!tweaked || !equal(tweaked.xOnlyPubkey, outputKey) || tweaked.parity !== (control[0] & 1))
      refuse(`input ${i}: control block does not commit to the output key`);
    const { m, keys } = parseMultiA(leaf, i);
    if (stack.length !== keys.length) refuse(`input ${i}: ${stack.length} items for ${keys.length} keys`);
    let good = 0;
    stack.forEach((sig, j) => {
      if (sig.length === 0) return;
      // The last stack item is consumed by the first key (BIP342).
      const key = keys[keys.length - 1 - j];
      if (!checkSchnorr(key, sig, t => tx.hashForWitnessV1(i, scripts, values, t, leafHash)))
        refuse(`input ${i}: script-path signature does not verify`);
      good++;
    });
    if (good !== m) refuse(`input ${i}: ${good} signatures, the leaf needs ${m}`);
    return good;
  }
  refuse(`input ${i}: cannot check a spend of ${hex.encode(script)}`);
}

function accept(kind, file, txHex) {
  const psbt = loadBitcoinjs(file);
  const tx = bitcoin.Transaction.fromHex(txHex);
  const unsigned = bitcoin.Transaction.fromBuffer(psbt.data.getTransaction());
  if (tx.getId() !== unsigned.getId()) refuse('the transaction is not the PSBT\'s');
  const prevouts = psbt.data.inputs.map((input, i) => prevoutOf(psbt, input, i));
  let total = 0;
  tx.ins.forEach((input, i) => {
    if (input.script.length !== 0) refuse(`input ${i}: a scriptSig on a native segwit spend`);
    total += acceptInput(tx, i, input.witness, prevouts);
  });
  return String(total);
}

// ---- the peer's own PSBT ----

// Coins at receive 1, receive 7 and change 4; a payment and change at change 5.
const COINS = [
  { branch: 0, index: 1, value: 110000n, tag: 0x61 },
  { branch: 0, index: 7, value: 70000n, tag: 0x62 },
  { branch: 1, index: 4, value: 50000n, tag: 0x63 },
];
const PAYMENT = 150000n;
const CHANGE = { branch: 1, index: 5, value: 78000n };

function fundingTx(script, value, tag) {
  const tx = new bitcoin.Transaction();
  tx.version = 2;
  tx.addInput(new Uint8Array(32).fill(tag), 0);
  tx.addOutput(bitcoin.script.compile([bitcoin.opcodes.OP_RETURN]), 0n);
  tx.addOutput(script, value);
  return tx;
}

function createBitcoinjs(kind, wallet) {
  const psbt = new bitcoin.Psbt({ network });
  psbt.setVersion(2);
  for (const coin of COINS) {
    const { keys, payment } = bitcoinjsPayment(kind, wallet, coin.branch, coin.index);
    const funding = fundingTx(payment.output, coin.value, coin.tag);
    const input = {
      hash: funding.getId(),
      index: 1,
      sequence: 0xfffffffe,
      witnessUtxo: { script: payment.output, value: coin.value },
    };
    if (kind === 'tr') {
      input.tapInternalKey = xOnly(keys[0].pubkey);
      input.tapBip32Derivation = [{
        masterFingerprint: fingerprintBytes(keys[0].fingerprint), path: pathText(keys[0].path),
        pubkey: xOnly(keys[0].pubkey), leafHashes: [],
      }];
    } else {
      input.nonWitnessUtxo = funding.toBuffer();
      if (kind === 'wsh') input.witnessScript = payment.redeem.output;
      input.bip32Derivation = keys.map(k => ({
        masterFingerprint: fingerprintBytes(k.fingerprint), path: pathText(k.path), pubkey: k.pubkey,
      }));
    }
    psbt.addInput(input);
  }
  psbt.addOutput({ address: PAYMENT_ADDRESS, value: PAYMENT });
  const { keys, payment } = bitcoinjsPayment(kind, wallet, CHANGE.branch, CHANGE.index);
  const change = { script: payment.output, value: CHANGE.value };
  if (kind === 'tr') {
    change.tapInternalKey = xOnly(keys[0].pubkey);
    change.tapBip32Derivation = [{
      masterFingerprint: fingerprintBytes(keys[0].fingerprint), path: pathText(keys[0].path),
      pubkey: xOnly(keys[0].pubkey), leafHashes: [],
    }];
  } else {
    if (kind === 'wsh') change.witnessScript = payment.redeem.output;
    change.bip32Derivation = keys.map(k => ({
      masterFingerprint: fingerprintBytes(k.fingerprint), path: pathText(k.path), pubkey: k.pubkey,
    }));
  }
  psbt.addOutput(change);
  return psbt.toBase64();
}

function createScure(kind, wallet) {
  const tx = new btc.Transaction({ version: 2 });
  const tapDerivations = (branch, index, leafHashes) =>
    wallet.signers.map(s => {
      const key = HDKey.fromExtendedKey(s.account_xpub).deriveChild(branch).deriveChild(index);
      return [xOnly(key.publicKey), {
        hashes: leafHashes,
        der: { fingerprint: fingerprintNumber(s.fingerprint), path: [...parsePath(wallet.path), branch, index] },
      }];
    });
  for (const coin of COINS) {
    const p = scurePayment(kind, wallet, coin.branch, coin.index);
    const funding = fundingTx(p.script, coin.value, coin.tag);
    tx.addInput({
      txid: hex.decode(funding.getId()),
      index: 1,
      sequence: 0xfffffffe,
      witnessUtxo: { script: p.script, amount: coin.value },
      tapInternalKey: p.tapInternalKey,
      tapMerkleRoot: p.tapMerkleRoot,
      tapLeafScript: p.tapLeafScript,
      tapBip32Derivation: tapDerivations(coin.branch, coin.index, p.leaves.map(l => l.hash)),
    });
  }
  tx.addOutputAddress(PAYMENT_ADDRESS, PAYMENT);
  const p = scurePayment(kind, wallet, CHANGE.branch, CHANGE.index);
  tx.addOutput({
    script: p.script,
    amount: CHANGE.value,
    tapInternalKey: p.tapInternalKey,
    tapTree: p.leaves.map(l => ({ depth: l.path.length, version: l.version ?? 0xc0, script: l.script })),
    tapBip32Derivation: tapDerivations(CHANGE.branch, CHANGE.index, p.leaves.map(l => l.hash)),
  });
  return base64.encode(tx.toPSBT());
}

function create(kind, wallet) {
  return usesScure(kind) ? createScure(kind, wallet) : createBitcoinjs(kind, wallet);
}

// LIB is bitcoinjs, scure, or both (the default: the two must agree).
function addresses(kind, wallet, branch, count, lib = 'both') {
  const out = [];
  for (let i = 0; i < count; i++) {
    const a = lib !== 'scure' ? bitcoinjsPayment(kind, wallet, branch, i).payment.address : null;
    const b = lib !== 'bitcoinjs' ? scurePayment(kind, wallet, branch, i).address : null;
    if (a !== null && b !== null && a !== b) refuse(`index ${i}: bitcoinjs-lib ${a}, @scure ${b}`);
    out.push(a ?? b);
  }
  return out.join('\n');
}

// ---- main ----

const [cmd, kind, walletFile, ...args] = process.argv.slice(2);
if (!KINDS.includes(kind) || walletFile === undefined)
  die(2, `usage: peer_js.mjs COMMAND KIND WALLET ... (KIND: ${KINDS.join(', ')})`);
try {
  const wallet = JSON.parse(readFileSync(walletFile, 'utf8'));
  if (wallet.kind !== kind) die(2, `the wallet is ${wallet.kind}, not ${kind}`);
  let out;
  switch (cmd) {
    case 'sign': {
      const signer = wallet.signers[Number(args[1])];
      if (!signer) die(2, `no signer ${args[1]}`);
      out = sign(kind, args[0], signer.xprv, args[2]);
      break;
    }
    case 'combine': out = combine(kind, args[0], args[1]); break;
    case 'finalize': out = finalize(kind, args[0]); break;
    case 'verify': out = verify(kind, args[0]); break;
    case 'accept': out = accept(kind, args[0], args[1]); break;
    case 'create': out = create(kind, wallet); break;
    case 'addresses': out = addresses(kind, wallet, Number(args[0]), Number(args[1]), args[2]); break;
    default: die(2, `unknown command ${cmd}`);
  }
  process.stdout.write(out + '\n');
} catch (e) {
  die(1, `${cmd}: ${e instanceof Refused ? e.message : e.stack || e}`);
}
