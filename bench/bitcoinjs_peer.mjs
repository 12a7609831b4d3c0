// bitcoinjs-lib's side of bench/run: the same PSBT work kura does, on the same bytes.
//
//   node bench/bitcoinjs_peer.mjs DIR RUNS [NODE_PACKAGES_DIR]
//
// DIR holds what `kura-bench prepare` wrote: CASE.psbt and keys.json. The npm
// packages are the pinned test peers of tests/interop (NODE_PACKAGES_DIR, the
// folder holding package.json, defaults to ../tests/interop from here). For
// each case, one warm-up run and then RUNS timed runs; only the work is timed,
// not node's start or the module loading. Prints one JSON object on stdout
// with the median and every run (wall clock, and CPU time from
// process.cpuUsage: the whole process, so node's garbage collector and
// compiler threads count too), and writes the last signed PSBT to
// DIR/bitcoinjs-CASE.psbt for `kura-bench verify` to check.
//
// What is timed, per signer (a "pass"): Psbt.fromBuffer(bytes), for each
// input an ECPair made from the input's raw private key (for taproot, tweaked
// by the BIP341 TapTweak of its x-only key, which bitcoinjs-lib's key-path
// signing needs), psbt.signInput(i, pair), and psbt.toBuffer(). Deriving the
// raw keys from the master key is not timed (kura's time includes it). The
// cases p2wpkh-hd and p2wsh-hd do the same with signAllInputsHD and the
// master xprv instead, the same inputs kura gets (it derives every input's
// whole path from the master). fromBase64/toBase64 would be
// fromBuffer/toBuffer plus base64.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const [dir, runsArg, pkgDirArg] = process.argv.slice(2);
if (!dir || !runsArg) {
  console.error('usage: bitcoinjs_peer.mjs DIR RUNS [NODE_PACKAGES_DIR]');
  process.exit(2);
}
const runs = Number(runsArg);
const here = path.dirname(fileURLToPath(import.meta.url));
const pkgDir = path.resolve(pkgDirArg ?? path.join(here, '..', 'tests', 'interop'));
const require = createRequire(path.join(pkgDir, 'package.json'));
const bitcoin = require('bitcoinjs-lib');
const ecc = require('tiny-secp256k1');
const { ECPairFactory } = require('ecpair');
const { BIP32Factory } = require('bip32');
const version = JSON.parse(
  readFileSync(path.join(pkgDir, 'node_modules', 'bitcoinjs-lib', 'package.json'), 'utf8'),
).version;

bitcoin.initEccLib(ecc);
const ECPair = ECPairFactory(ecc);
const bip32 = BIP32Factory(ecc);

const keys = JSON.parse(readFileSync(path.join(dir, 'keys.json'), 'utf8'));
const hex = s => Uint8Array.from(Buffer.from(s, 'hex'));

function signPass(bytes, privs, taproot) {
  const psbt = bitcoin.Psbt.fromBuffer(bytes);
  for (let i = 0; i < privs.length; i++) {
    let pair = ECPair.fromPrivateKey(privs[i]);
    if (taproot) {
      // BIP341 key path without a script tree: tweak by TapTweak(x-only key).
      pair = pair.tweak(bitcoin.crypto.taggedHash('TapTweak', pair.publicKey.subarray(1, 33)));
    }
    psbt.signInput(i, pair);
  }
  return [psbt.toBuffer(), countSigs(psbt)];
}

function countSigs(psbt) {
  return psbt.data.inputs.reduce(
    (n, input) => n + (input.partialSig ? input.partialSig.length : 0) + (input.tapKeySig ? 1 : 0),
    0,
  );
}

// The HD variant: signAllInputsHD with the master key, which derives each
// input's key along its whole recorded path (bitcoinjs-lib has no HD signing
// for taproot inputs).
function signPassHD(bytes, masterXprv) {
  const psbt = bitcoin.Psbt.fromBuffer(bytes);
  psbt.signAllInputsHD(bip32.fromBase58(masterXprv));
  return [psbt.toBuffer(), countSigs(psbt)];
}

function runCase(name, bytes, signers) {
  if (name === 'out500') return [bitcoin.Psbt.fromBuffer(bytes).toBuffer(), 0];
  let cur = bytes;
  let sigs = 0;
  for (const s of signers) {
    [cur, sigs] = name.endsWith('-hd') ? signPassHD(cur, s.master)
      : signPass(cur, s.privs, name === 'p2tr');
  }
  return [cur, sigs];
}

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : Math.round((s[n / 2 - 1] + s[n / 2]) / 2);
}

const out = { impl: 'bitcoinjs-lib', version, runs, cases: {} };
const CASES = ['p2wpkh', 'p2wsh', 'p2tr', 'out500', 'p2wpkh-hd', 'p2wsh-hd'];
const inputs = {};
for (const name of CASES) {
  const base = name.replace(/-hd$/, '');
  inputs[name] = {
    bytes: readFileSync(path.join(dir, `${base}.psbt`)),
    signers: keys[base].signers.map(s => ({
      master: s.master,
      privs: s.inputs.map(k => hex(k.priv)),
    })),
    expected: keys[base].inputs * keys[base].signers.length,
  };
}
// Warm-up: every case once before any is timed, so that V8 has compiled the
// code paths the cases share; then one more warm-up run per case below.
for (const name of CASES) runCase(name, inputs[name].bytes, inputs[name].signers);

for (const name of CASES) {
  const { bytes, signers, expected } = inputs[name];
  const times = [];
  const cpu = [];
  let signed;
  for (let r = 0; r <= runs; r++) {
    // run 0 is the warm-up
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const [result, sigs] = runCase(name, bytes, signers);
    const t1 = process.hrtime.bigint();
    const c1 = process.cpuUsage(c0);
    if (sigs !== expected) {
      console.error(`bitcoinjs_peer: ${name}: ${sigs} signatures, expected ${expected}`);
      process.exit(1);
    }
    if (r > 0) {
      times.push(Number(t1 - t0));
      cpu.push((c1.user + c1.system) * 1000);
    }
    signed = result;
  }
  writeFileSync(path.join(dir, `bitcoinjs-${name}.psbt`), signed);
  out.cases[name] = {
    median_ns: median(times),
    median_cpu_ns: median(cpu),
    runs_ns: times,
    cpu_ns: cpu,
    signatures: expected,
  };
}
process.stdout.write(JSON.stringify(out) + '\n');
