#!/usr/bin/env node
// tests/web/test_web_bbqr.mjs — the browser's BBQr (web/src/bbqr.ts, the very
// module the pages use, bundled by esbuild for node) against libkura's
// (bbqr-tool, tests/e2e/bbqr-tool.c), parts passed both ways:
//
//   - the specification's real scan (parts with repeats and blank lines)
//     joins to what tests/vectors/bbqr/real-scan.expect says;
//   - every specification file (PSBTs, transactions) and random files of 1 B
//     to 1 MB, in each encoding (H, 2, Z): split by the browser's code and
//     joined by libkura, and split by libkura and joined by the browser's
//     code with the parts shuffled — the same bytes each way;
//   - Z parts use a window libkura inflates (wbits -10), and are smaller than 2's
//     for a compressible PSBT.
//
//   node test_web_bbqr.mjs BBQR_TOOL
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const webDir = path.join(root, "web");
const tool = process.argv[2];
if (!tool) {
  console.log("usage: test_web_bbqr.mjs BBQR_TOOL");
  process.exit(2);
}
const require = createRequire(path.join(webDir, "package.json"));
const { build } = require("esbuild");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "kura-web-bbqr."));
const bundle = path.join(work, "bbqr.mjs");
await build({ entryPoints: [path.join(webDir, "src/bbqr.ts")], bundle: true, platform: "node", format: "esm", outfile: bundle, logLevel: "warning", nodePaths: [path.join(webDir, "node_modules")] });
const B = await import(pathToFileURL(bundle).href);

let pass = 0, fail = 0;
const check = (cond, name) => {
  if (cond) pass += 1;
  else {
    fail += 1;
    console.log(`FAILED: ${name}`);
  }
};
const sha = (b) => crypto.createHash("sha256").update(b).digest("hex");
const shuffle = (a) => {
  for (let i = a.length - 1; i > 0; i--) {
    const j = crypto.randomInt(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
};
const kuraJoin = (parts) => execFileSync(tool, ["join", "--max-bytes", String(4 << 20)], { input: parts.join("\n") + "\n", maxBuffer: 64 << 20, stdio: ["pipe", "pipe", "pipe"] });
const kuraSplit = (file, enc, max) => execFileSync(tool, ["split", file, "--encoding", enc, "--type", "P", ...(max ? ["--max", String(max)] : [])], { maxBuffer: 64 << 20, stdio: ["ignore", "pipe", "pipe"] }).toString().split("\n").filter(Boolean);

// the specification's real scan
{
  const vec = path.join(root, "tests/vectors/bbqr");
  const lines = fs.readFileSync(path.join(vec, "real-scan.txt"), "utf8").split("\n");
  const expect = Object.fromEntries(fs.readFileSync(path.join(vec, "real-scan.expect"), "utf8").split("\n").filter(Boolean).map((l) => [l.split(" ")[0], l.slice(l.indexOf(" ") + 1)]));
  const c = new B.Collector();
  for (const l of lines) if (l.trim()) c.add(l);
  const j = c.join();
  const text = new TextDecoder().decode(j.data);
  check(j.type === expect.type && j.encoding === expect.encoding && c.total === Number(expect.parts) && j.data.length === Number(expect.length) && sha(j.data) === expect.sha256 && text.includes("Zlib compressed") && text.includes("PSBT"),
    "the specification's real scan joins as real-scan.expect says");
  console.log("ok: the specification's real scan (8 parts with repeats, Z) joins to its expected bytes");
}

const files = [];
for (const f of fs.readdirSync(path.join(root, "tests/vectors/bbqr"))) if (/\.(psbt|txn)$/.test(f)) files.push([f, fs.readFileSync(path.join(root, "tests/vectors/bbqr", f))]);
for (const n of [1, 2, 5, 100, 1000, 10000, 100000, 1000000]) files.push([`random-${n}`, crypto.randomBytes(n)]);
let both = 0;
for (const [name, data] of files) {
  const file = path.join(work, "in.bin");
  fs.writeFileSync(file, data);
  for (const enc of ["H", "2", "Z"]) {
    const max = data.length > 200000 ? 4000 : 480;
    // browser -> libkura
    const parts = B.split(data, { encoding: enc, type: "P", maxChars: max });
    let out = null;
    try {
      out = kuraJoin(shuffle([...parts]));
    } catch (e) {
      console.log(`bbqr-tool join (${name}, ${enc}): ${e.stderr}`);
    }
    check(out && Buffer.compare(out, data) === 0, `${name} ${enc}: the browser's parts, joined by libkura`);
    // libkura -> browser
    let kparts = [];
    try {
      kparts = kuraSplit(file, enc, data.length > 200000 ? 4000 : undefined);
    } catch (e) {
      console.log(`bbqr-tool split (${name}, ${enc}): ${e.stderr}`);
    }
    let j = null;
    try {
      j = B.join(shuffle([...kparts]));
    } catch (e) {
      console.log(`browser join (${name}, ${enc}): ${e.message}`);
    }
    check(j && j.type === "P" && Buffer.compare(Buffer.from(j.data), data) === 0, `${name} ${enc}: libkura's parts (shuffled), joined by the browser's code`);
    both += 1;
  }
}
console.log(`ok: ${files.length} files (the specification's and random ones up to 1 MB) x H/2/Z, both ways (${both} pairs)`);
{
  const psbt = fs.readFileSync(path.join(root, "tests/vectors/bbqr/1in100out.psbt"));
  const z = B.split(psbt, { encoding: "Z" }).join("").length;
  const b32 = B.split(psbt, { encoding: "2" }).join("").length;
  check(z < b32 && B.split(psbt, { encoding: "Z" })[0][2] === "Z", "Z is chosen and smaller than 2 for a compressible PSBT");
  // bad input: a clear error, nothing joined
  let threw = 0;
  for (const bad of ["B$ZP0100", "B$2P0200AAAA", "X$2P0100AA", "B$2P0100A1", "B$HP0100ABC"]) {
    try {
      B.join([bad]);
    } catch {
      threw += 1;
    }
  }
  check(threw === 5, "bad parts are refused with an error (incomplete, not BBQr, bad base32, odd hex)");
}
fs.rmSync(work, { recursive: true, force: true });
console.log(`${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
