#!/usr/bin/env node
// tests/web/test_web_browser.mjs — the operators' screens in a real Chromium
// (Debian's /usr/bin/chromium driven by playwright-core) against a real
// kura-server (the test build, a free loopback port, SQLite in a temporary
// directory), with the real kura-cold, kura-approve and ssh-keygen:
//
//   an administrator signs in, enrols TOTP from the page and signs in again
//   with a code, and creates the users; registers the wallet on its screen
//   from `kura-cold export`, the policy file and the administrators'
//   signature files (refused by its code with one signature, then accepted);
//   an initiator allocates a deposit address (web-fund stands in for the
//   chain follower for this wallet's coins) and requests a
//   transfer, seeing the policy's tier and allowlist status first; two
//   approvers sign the downloaded intent with kura-approve and upload the
//   signature files (the second one with the keyboard only); the package is
//   downloaded and its animated BBQr read back from the canvas frames (jsqr in
//   node) to the same bytes; two kura-cold devices sign it; the signed PSBTs
//   come back (a binary file and BBQr parts in shuffled order) and the
//   transfer shows signed (or broadcast) with its txid and confirmations.
//
// The chain: kura-server follows web-fake-node (the chain tests' fake node,
// fed with the recorded regtest chain tests/vectors/chain/reorg: Bitcoin
// Core's blocks, two reorganisations, a mempool). A second wallet (that
// chain's 2-of-3 taproot wallet) gets its deposit addresses; the timeline is
// replayed; the overview shows balances and the follower's height and lag,
// the deposits screen a confirmed deposit, a reorged-out coinbase and the
// mempool's marks, with each account's balance; the follower's other states
// (not configured, failing, stalled, behind) are drawn from answers the
// test gives the page. The audit log's per-object filter, on the audit
// screen and as the transfer's own trail.
//
// Also: each role sees only its screens and buttons, and a forbidden action
// forced through the API is refused; hostile labels (markup, look-alike
// Unicode, long strings) show as text and no script runs; the CSP header;
// axe-core finds nothing serious or critical; a 390-pixel-wide phone still
// shows every output. Screenshots of every screen go to KURA_WEB_ARTIFACTS.
//
// Environment (tests/web/CMakeLists.txt): KURA_SERVER KURA_COLD KURA_APPROVE
// KURA WEB_FUND WEB_FAKE_NODE KURA_CHAIN_VECTORS KURA_WEB_ARTIFACTS. Exit 0 passed, 1 failed, 77 skipped (no
// chromium).
import { execFileSync, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const webDir = path.join(root, "web");
const CHROMIUM = process.env.KURA_CHROMIUM || "/usr/bin/chromium";
const started = Date.now();

if (!fs.existsSync(CHROMIUM)) {
  console.log(`SKIPPED: test_web_browser: no Chromium at ${CHROMIUM} (scripts/install-deps installs Debian's chromium)`);
  process.exit(77);
}
for (const v of ["KURA_SERVER", "KURA_COLD", "KURA_APPROVE", "KURA", "WEB_FUND", "WEB_FAKE_NODE", "KURA_CHAIN_VECTORS"]) {
  if (!process.env[v]) {
    console.log(`test_web_browser: $${v} is not set (run it through ctest)`);
    process.exit(2);
  }
}
if (!fs.existsSync(path.join(webDir, "node_modules", "playwright-core"))) {
  console.log("test_web_browser: web/node_modules is missing: run scripts/install-deps (npm ci in web/)");
  process.exit(1);
}
const require = createRequire(path.join(webDir, "package.json"));
const { chromium } = require("playwright-core");
const jsQR = require("jsqr");
const axeSource = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

// Always build the pages: the test checks what the sources make now.
execFileSync(process.execPath, [path.join(webDir, "build.mjs")], { stdio: "inherit", env: { ...process.env, KURA_WEB_NO_CHECK: "1" } });

let pass = 0;
let fail = 0;
const ok = (name) => {
  pass += 1;
  console.log(`ok: ${name}`);
};
const bad = (name) => {
  fail += 1;
  console.log(`FAILED: ${name}`);
};
const check = (cond, name) => (cond ? ok(name) : bad(name));
class Fatal extends Error {}
const must = (cond, what) => {
  if (!cond) throw new Fatal(what);
};

const work = fs.mkdtempSync(path.join(os.tmpdir(), "kura-web-test."));
const artifacts = process.env.KURA_WEB_ARTIFACTS || path.join(work, "artifacts");
fs.rmSync(artifacts, { recursive: true, force: true });
fs.mkdirSync(artifacts, { recursive: true });
const env = { ...process.env, KURA_TEST_CHEAP_KDF: "1", KURA_COLD_TEST_KDF: "min", TMPDIR: work };
const run = (prog, args, opts = {}) => execFileSync(prog, args, { env, cwd: work, stdio: ["pipe", "pipe", "pipe"], ...opts }).toString();

// ---- keys, wallets, policy (as the ceremony makes them) ----
fs.mkdirSync(path.join(work, "keys"));
for (const k of ["admin1", "admin2", "alice", "bob"]) run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", k, "-f", `keys/${k}`]);
const pub = (k) => fs.readFileSync(path.join(work, "keys", `${k}.pub`), "utf8").split(" ").slice(0, 2).join(" ");
fs.writeFileSync(path.join(work, "pass"), "web test passphrase\n", { mode: 0o600 });
const cold = (dir, args, input) => run(process.env.KURA_COLD, ["--passphrase-file", path.join(work, "pass"), "--dir", dir, ...args], { input });
const WORDS = {
  A: "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
  B: "legal winner thank year wave sausage worth useful legal winner thank yellow",
  C: "letter advice cage absurd amount doctor acoustic avoid letter advice cage above",
};
const xpubs = {};
for (const s of ["A", "B", "C"]) {
  cold(s, ["restore", "--network", "regtest"], WORDS[s] + "\n");
  xpubs[s] = cold(s, ["xpub", "--path", "m/48h/1h/0h/2h"]).trim().split("\n").pop().trim();
}
const descriptor = run(process.env.KURA, ["descriptor", `wsh(sortedmulti(2,${xpubs.A}/<0;1>/*,${xpubs.B}/<0;1>/*,${xpubs.C}/<0;1>/*))`])
  .split("\n").find((l) => l.startsWith("descriptor: ")).slice(12).trim();
const checksum = descriptor.split("#")[1];
const addr = (d) => run(process.env.KURA, ["address", d, "--network", "regtest"]).trim().split("\n").pop().replace(/^.* /, "");
const G = "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
const D1 = addr(`wpkh(02${G})`);
const D2 = addr("tr(c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5)");
const ALLOW_LABEL = "exchange <b>a</b> <script>window.__pwned=1</script>";
const policy = [
  "kura-policy 1", "version: 1", "network: regtest", `wallet: treasury-cold #${checksum}`, "mode: cold",
  `admin: admin-one ${pub("admin1")}`, `admin: admin-two ${pub("admin2")}`, "admin-quorum: 2",
  `approver: alice ${pub("alice")}`, `approver: bob ${pub("bob")}`,
  "tier: max 2", "initiator-may-approve: no", "allowlist-required: no", "allowlist-delay: 0",
  `allow: ${D1} ${ALLOW_LABEL}`,
  "max-per-transfer: 1000000000", "max-per-24h: 1200000000", "max-fee: 100000", "max-fee-rate: 100", "max-lifetime: 86400", "",
].join("\n");
fs.writeFileSync(path.join(work, "policy"), policy);
const policySigs = ["admin1", "admin2"].map((k) => run("ssh-keygen", ["-Y", "sign", "-f", `keys/${k}`, "-n", "kura-policy-v1"], { input: policy }));
policySigs.forEach((sig, i) => fs.writeFileSync(path.join(work, `policy.admin${i + 1}.sig`), sig));
const now = () => Math.floor(Date.now() / 1000);
for (const s of ["A", "B", "C"]) cold(s, ["--now", String(now()), "ceremony", "--descriptor", descriptor, "--policy", path.join(work, "policy"), "--wallet", "treasury-cold"], "yes\n");
const exported = cold("A", ["export"]).trim();
// A BIP129 (BSMS) setup of the same three devices at another account: their
// signed key records, and the coordinator's descriptor record.
for (const s of ["A", "B", "C"]) cold(s, ["bsms", "key", "--path", "m/48h/1h/1h/2h", "-o", path.join(work, `${s}.bsms`)]);
const bsmsDescriptor = run(process.env.KURA_SERVER, ["bsms", "descriptor-record", "--threshold", "2", "--network", "regtest", "-o", path.join(work, "wallet.bsms"), ...["A", "B", "C"].map((s) => path.join(work, `${s}.bsms`))])
  .split("\n").find((l) => l.startsWith("descriptor: ")).slice(12).trim();

// ---- the chain: the recorded regtest chain with reorganisations, and its
// 2-of-3 taproot wallet (watch-only; its policy signed like the first) ----
const scenario = path.join(process.env.KURA_CHAIN_VECTORS, "reorg");
const expected = JSON.parse(fs.readFileSync(path.join(scenario, "expected-follower.json"), "utf8"));
const blocksMeta = new Map(fs.readFileSync(path.join(scenario, "blocks.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => {
  const j = JSON.parse(l);
  return [j.hash, { height: j.height, prev: j.prev }];
}));
const timelineLines = fs.readFileSync(path.join(scenario, "timeline.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
const canonical = (d) => run(process.env.KURA, ["descriptor", d]).split("\n").find((l) => l.startsWith("descriptor: ")).slice(12).trim();
const chainDescriptor = canonical(expected.descriptors.tr_multi);
const wshDescriptor = canonical(expected.descriptors.wsh_multi);
const chainPolicyFor = (name, desc) => [
  "kura-policy 1", "version: 1", "network: regtest", `wallet: ${name} #${desc.split("#")[1]}`, "mode: cold",
  `admin: admin-one ${pub("admin1")}`, `admin: admin-two ${pub("admin2")}`, "admin-quorum: 2",
  `approver: alice ${pub("alice")}`, `approver: bob ${pub("bob")}`,
  "tier: max 2", "initiator-may-approve: no", "allowlist-required: yes", "allowlist-delay: 86400",
  `allow: ${D1} cold storage`,
  "max-per-transfer: 1000000000", "max-per-24h: 1200000000", "max-fee: 100000", "max-fee-rate: 100", "max-lifetime: 86400", "",
].join("\n");
const chainPolicy = chainPolicyFor("deposits-hot", chainDescriptor);
const chainPolicySigs = ["admin1", "admin2"].map((k) => run("ssh-keygen", ["-Y", "sign", "-f", `keys/${k}`, "-n", "kura-policy-v1"], { input: chainPolicy }));
const wshPolicy = chainPolicyFor("deposits-wsh", wshDescriptor);
const wshPolicySigs = ["admin1", "admin2"].map((k) => run("ssh-keygen", ["-Y", "sign", "-f", `keys/${k}`, "-n", "kura-policy-v1"], { input: wshPolicy }));

// web-fake-node: one JSON line in, one answer line out.
const fakeNode = spawn(process.env.WEB_FAKE_NODE, [scenario], { env, stdio: ["pipe", "pipe", "inherit"] });
const nodeLines = [];
let nodeWaiter = null;
let nodeBuf = "";
fakeNode.stdout.on("data", (d) => {
  nodeBuf += d;
  for (let i; (i = nodeBuf.indexOf("\n")) >= 0;) {
    const l = nodeBuf.slice(0, i);
    nodeBuf = nodeBuf.slice(i + 1);
    if (nodeWaiter) {
      const w = nodeWaiter;
      nodeWaiter = null;
      w(l);
    } else nodeLines.push(l);
  }
});
function nodeLine() {
  if (nodeLines.length) return Promise.resolve(nodeLines.shift());
  return Promise.race([new Promise((r) => (nodeWaiter = r)), new Promise((_, rej) => setTimeout(() => rej(new Fatal("web-fake-node does not answer")), 15000))]);
}
async function nodeSend(obj) {
  fakeNode.stdin.write(JSON.stringify(obj) + "\n");
  const l = await nodeLine();
  if (!l.startsWith("ok")) throw new Fatal(`web-fake-node: ${JSON.stringify(obj).slice(0, 80)}: ${l}`);
  return l;
}
const [nodeUrl, nodeUser, nodePassword] = (await nodeLine()).split(" ");

// ---- kura-server ----
const data = path.join(work, "data");
const pwfile = path.join(work, "pw");
const PW = "web test password 1";
fs.writeFileSync(pwfile, PW + "\n");
run(process.env.KURA_SERVER, ["user", "add", "admin", "--role", "administrator", "--password-file", pwfile, "--data-dir", data]);
fs.writeFileSync(path.join(work, "kura.conf"), `web_root = ${path.join(webDir, "dist")}\nexpiry_interval = 3600\n` +
  `node_url = ${nodeUrl}\nnode_user = ${nodeUser}\nnode_password = ${nodePassword}\nnode_poll_interval_ms = 200\n`);
const portFile = path.join(work, "port");
const serverLog = fs.openSync(path.join(artifacts, "kura-server.log"), "w");
const server = spawn(process.env.KURA_SERVER, ["serve", "--config", path.join(work, "kura.conf"), "--data-dir", data, "--listen", "127.0.0.1:0", "--port-file", portFile], { env, stdio: ["ignore", serverLog, serverLog] });
let base = "";
for (let i = 0; i < 600 && !base; i++) {
  await new Promise((r) => setTimeout(r, 50));
  if (fs.existsSync(portFile) && fs.readFileSync(portFile, "utf8").trim()) {
    const p = fs.readFileSync(portFile, "utf8").trim();
    try {
      if ((await fetch(`http://127.0.0.1:${p}/healthz`)).ok) base = `http://127.0.0.1:${p}`;
    } catch {
      /* not yet */
    }
  }
}

// A small API client for the test's own setup (the ceremony's operator).
async function apiSession(user, password, totp) {
  const r = await fetch(base + "/v1/session", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(totp ? { username: user, password, totp } : { username: user, password }) });
  const text = await r.text();
  must(r.status === 201, `sign-in of ${user}: ${r.status} ${text}`);
  const cookie = r.headers.get("set-cookie").split(";")[0];
  const j = JSON.parse(text);
  return async (method, p, body, raw) => {
    const h = { Cookie: cookie, "X-CSRF-Token": j.csrf_token };
    if (body !== undefined) h["Content-Type"] = "application/json";
    const res = await fetch(base + p, { method, headers: h, body: body !== undefined ? JSON.stringify(body) : undefined });
    const buf = new Uint8Array(await res.arrayBuffer());
    return { status: res.status, bytes: buf, json: () => JSON.parse(new TextDecoder().decode(buf)), headers: res.headers };
  };
}

function totpCode(secretB32, t = now()) {
  const A = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0, val = 0;
  const out = [];
  for (const ch of secretB32.replace(/=+$/, "")) {
    val = (val << 5) | A.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      out.push((val >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  const ctr = Buffer.alloc(8);
  ctr.writeBigUInt64BE(BigInt(Math.floor(t / 30)));
  const mac = crypto.createHmac("sha1", Buffer.from(out)).update(ctr).digest();
  const o = mac[19] & 15;
  return String(((mac.readUInt32BE(o) & 0x7fffffff) % 1000000)).padStart(6, "0");
}

// BBQr, written again here from the specification (not the page's code):
// header B$ ENC TYPE TOTAL INDEX, base32/hex parts, Z = raw deflate.
function bbqrJoin(parts) {
  const byIdx = new Map();
  let enc = "", type = "", total = 0;
  for (const p of parts) {
    const m = /^B\$([H2Z])([A-Z])([0-9A-Z]{2})([0-9A-Z]{2})(.*)$/.exec(p.trim());
    if (!m) throw new Error("not a BBQr part: " + p.slice(0, 20));
    [enc, type] = [m[1], m[2]];
    total = parseInt(m[3], 36);
    byIdx.set(parseInt(m[4], 36), m[5]);
  }
  if (byIdx.size !== total) throw new Error(`${byIdx.size} of ${total} parts`);
  const A = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const chunks = [];
  for (let i = 0; i < total; i++) {
    const s = byIdx.get(i);
    if (enc === "H") chunks.push(Buffer.from(s, "hex"));
    else {
      let bits = 0, val = 0;
      const out = [];
      for (const ch of s) {
        val = ((val << 5) | A.indexOf(ch)) & 0xffff;
        bits += 5;
        if (bits >= 8) {
          out.push((val >>> (bits - 8)) & 255);
          bits -= 8;
        }
      }
      chunks.push(Buffer.from(out));
    }
  }
  const raw = Buffer.concat(chunks);
  return { type, enc, data: enc === "Z" ? zlib.inflateRawSync(raw) : raw };
}
function bbqrSplit(data, type = "P", per = 400) {
  const A = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let s = "", bits = 0, val = 0;
  for (const b of data) {
    val = ((val << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      s += A[(val >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits) s += A[(val << (5 - bits)) & 31];
  const n = Math.ceil(s.length / per);
  const b36 = (x) => x.toString(36).toUpperCase().padStart(2, "0");
  return Array.from({ length: n }, (_, i) => `B$2${type}${b36(n)}${b36(i)}` + s.slice(i * per, (i + 1) * per));
}

const CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"];
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: CHROMIUM_ARGS,
  // launch() runs Chromium on a fresh, temporary --user-data-dir of its own
  // (playwright refuses the flag here: launchPersistentContext would allow
  // only one context, and the story needs one per person).
});
const dialogs = [];
async function newPage(viewport = { width: 1280, height: 900 }) {
  const ctx = await browser.newContext({ viewport, acceptDownloads: true });
  // every Content-Security-Policy violation the pages cause, kept for noScriptRan
  await ctx.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const page = await ctx.newPage();
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    d.dismiss();
  });
  page.on("pageerror", (e) => console.log("page error:", e.message));
  return page;
}
async function shot(page, name) {
  await page.waitForTimeout(150);
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}
async function signIn(page, user, password, totp) {
  await page.goto(base + "/");
  await page.fill("#signin-user", user);
  await page.fill("#signin-password", password);
  if (totp) await page.fill("#signin-totp", totp);
  await page.click("#signin-submit");
  await page.waitForSelector("#who-name");
}
async function go(page, hash, sel = "#page-title") {
  // the same screen again is drawn anew (hashchange), as the page itself does
  await page.evaluate((hsh) => {
    if (location.hash === hsh) window.dispatchEvent(new HashChangeEvent("hashchange"));
    else location.hash = hsh;
  }, hash);
  try {
    await page.waitForSelector(sel);
    await page.waitForFunction(() => !document.querySelector(".loading"));
  } catch (e) {
    await page.screenshot({ path: path.join(artifacts, "failure.png"), fullPage: true }).catch(() => {});
    const text = await page.textContent("body").catch(() => "");
    throw new Fatal(`${hash}: no ${sel} (failure.png); the page says: ${String(text).slice(0, 400)}`);
  }
}
async function navLabels(page) {
  return page.$$eval("nav.side a", (as) => as.map((a) => a.textContent));
}
async function axe(page, name) {
  await page.evaluate(axeSource);
  const r = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const res = await axe.run(document, { resultTypes: ["violations"] });
    return res.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id} (${v.impact}): ${v.nodes.length} node(s) e.g. ${v.nodes[0]?.target}`);
  });
  check(r.length === 0, `axe-core, ${name}: no serious or critical findings${r.length ? ": " + r.join("; ") : ""}`);
}
async function noScriptRan(page, name) {
  const r = await page.evaluate(() => ({ pwned: window.__pwned === 1, imgs: document.querySelectorAll("img").length, scripts: Array.from(document.scripts).filter((s) => !s.src).length, csp: window.__csp || [] }));
  check(!r.pwned && r.imgs === 0 && r.scripts === 0 && dialogs.length === 0 && r.csp.length === 0, `${name}: hostile markup shown as text, no script ran (no <img>, no inline <script>, no dialog, no CSP violation${r.csp.length ? ": " + r.csp.join("; ") : ""})`);
}


// One frame of a canvas on the page, as jsQR reads it: the page sends its
// pixels as grey bytes (base64), which is quick enough to see every frame of
// the animation.
async function readQr(page, sel) {
  const f = await page.$eval(sel, (c) => {
    const g = c.getContext("2d");
    const d = g.getImageData(0, 0, c.width, c.height).data;
    const grey = new Uint8Array(c.width * c.height);
    for (let i = 0; i < grey.length; i++) grey[i] = d[4 * i];
    let s = "";
    for (let i = 0; i < grey.length; i += 0x8000) s += String.fromCharCode(...grey.subarray(i, i + 0x8000));
    return { w: c.width, h: c.height, b: btoa(s) };
  });
  const grey = Buffer.from(f.b, "base64");
  const rgba = new Uint8ClampedArray(grey.length * 4);
  for (let i = 0; i < grey.length; i++) {
    rgba[4 * i] = rgba[4 * i + 1] = rgba[4 * i + 2] = grey[i];
    rgba[4 * i + 3] = 255;
  }
  return jsQR(rgba, f.w, f.h);
}

function shuffle(a) {
  for (let i = a.length - 1; i > 0; i--) {
    const j = crypto.randomInt(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

// A Y4M video (4:2:0) showing each BBQr part as a QR code for a few frames:
// what Chromium's fake camera plays (--use-file-for-fake-video-capture).
function writeY4m(file, parts) {
  const qrcode = require("qrcode-generator");
  const W = 480, H = 480, perPart = 3;
  const fd = fs.openSync(file, "w");
  fs.writeSync(fd, `YUV4MPEG2 W${W} H${H} F10:1 Ip A1:1 C420jpeg\n`);
  const chroma = Buffer.alloc((W / 2) * (H / 2) * 2, 128);
  for (const p of parts) {
    const q = qrcode(0, "L");
    q.addData(p, "Alphanumeric");
    q.make();
    const n = q.getModuleCount();
    const scale = Math.floor(W / (n + 8));
    const off = Math.floor((W - n * scale) / 2);
    const y = Buffer.alloc(W * H, 235);
    for (let r = 0; r < n; r++)
      for (let c = 0; c < n; c++)
        if (q.isDark(r, c))
          for (let dy = 0; dy < scale; dy++) y.fill(16, (off + r * scale + dy) * W + off + c * scale, (off + r * scale + dy) * W + off + (c + 1) * scale);
    for (let k = 0; k < perPart; k++) {
      fs.writeSync(fd, "FRAME\n");
      fs.writeSync(fd, y);
      fs.writeSync(fd, chroma);
    }
  }
  fs.closeSync(fd);
}

const users = { ivy: "initiator", alice: "approver", bob: "approver", vera: "viewer", audrey: "auditor" };
let tid = "";
try {
  must(base, "kura-server did not start");

  // ---- CSP and the page itself ----
  {
    const page = await newPage();
    const resp = await page.goto(base + "/");
    const h = resp.headers();
    check(h["content-security-policy"] === "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; media-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'", "GET /: the strict Content-Security-Policy");
    check(h["content-type"] === "text/html; charset=utf-8" && h["x-frame-options"] === "DENY" && h["x-content-type-options"] === "nosniff", "GET /: HTML, no framing, nosniff");
    const html = await resp.text();
    check(!/<script(?![^>]*\bsrc=)[^>]*>/.test(html) && !/style=/.test(html), "index.html: no inline script or style");
    await page.waitForSelector("#signin-user");
    // the CSP violation detector noScriptRan relies on does see one
    const seen = await page.evaluate(async () => {
      const d = document.createElement("div");
      d.setAttribute("style", "color: red");
      document.body.appendChild(d);
      await new Promise((r) => setTimeout(r, 100));
      d.remove();
      const n = window.__csp.length;
      window.__csp.length = 0;
      return n;
    });
    check(seen > 0, "the page's CSP refuses an inline style, and the test sees the violation");
    await shot(page, "01-sign-in");
    await axe(page, "sign-in");
    await page.context().close();
  }

  // ---- the administrator: TOTP enrolment, then sign-in with a code; users ----
  // The test's own API session for the ceremony's steps (before TOTP is on).
  const api = await apiSession("admin", PW);
  const admin = await newPage();
  await signIn(admin, "admin", PW);
  await go(admin, "#/account");
  await admin.click("#totp-start");
  await admin.waitForSelector("#totp-secret");
  const secret = (await admin.textContent("#totp-secret")).trim();
  const qrRead = await readQr(admin, "canvas.qr");
  const qrOk = qrRead && qrRead.data.startsWith("otpauth://totp/") && qrRead.data.includes(`secret=${secret}`);
  await shot(admin, "02-account-totp-enrolment");
  await admin.fill("#totp-code", totpCode(secret));
  await admin.click("#totp-confirm");
  await admin.waitForSelector("text=One-time codes are on");
  check(qrOk, "TOTP enrolment: the QR code drawn in the browser reads back as the otpauth URI with the secret shown");
  await admin.click("#sign-out");
  await admin.waitForSelector("#signin-user");
  await admin.fill("#signin-user", "admin");
  await admin.fill("#signin-password", PW);
  await admin.click("#signin-submit");
  await admin.waitForSelector("text=needs the one-time code");
  ok("sign-in without the code: the page asks for it (TOTP_REQUIRED)");
  await shot(admin, "03-sign-in-totp-required");
  // the next step's code: the server takes one step of drift and never a step twice
  await admin.fill("#signin-totp", totpCode(secret, now() + 30));
  await admin.click("#signin-submit");
  await admin.waitForSelector("#who-name");
  ok("the administrator signs in with password and TOTP");
  await go(admin, "#/admin/users", "#user-create");
  for (const [name, role] of Object.entries(users)) {
    await admin.fill("#user-name", name);
    await admin.fill("#user-password", PW);
    await admin.selectOption("#user-role", role);
    await admin.fill("#user-approver", role === "approver" ? name : "");
    await admin.click("#user-create");
    await admin.waitForSelector(`td .user-name:text-is("${name}")`);
  }
  ok("the administrator creates an initiator, two approvers, a viewer and an auditor");
  await shot(admin, "04-users");
  await axe(admin, "users");

  // ---- the wallet, registered on its screen: `kura-cold export`, the policy
  // file and the administrators' signature files ----
  await go(admin, "#/wallets", "#wallet-register-link");
  await admin.click("#wallet-register-link");
  await admin.waitForSelector("#reg-submit");
  await admin.fill("#reg-descriptor", exported + "\n");
  await admin.setInputFiles("#reg-policy-file", path.join(work, "policy"));
  await admin.setInputFiles("#reg-sig-files", path.join(work, "policy.admin1.sig"));
  await admin.waitForSelector("#policy-sig-status");
  const preview = await admin.textContent("#reg-preview");
  check(preview.includes("quorum not named") && preview.includes(ALLOW_LABEL) && preview.includes("admin-one") && (await admin.$$("#reg-preview .sig-problem")).length === 0,
    "wallet registration: the policy is read for people as it is given (the allowlist label with markup as text), its one signature named as admin-one's, the quorum not yet named");
  await admin.click("#reg-submit");
  await admin.waitForSelector("#reg-error-code");
  const refusal = (await admin.textContent("#reg-error-code")).trim();
  check(refusal === "POLICY_SIGNATURES", `wallet registration with one of two administrators' signatures: refused and shown by its code (${refusal})`);
  await shot(admin, "04a-wallet-register-refused");
  await noScriptRan(admin, "wallet registration");
  await axe(admin, "wallet registration");
  check((await api("GET", "/v1/wallets")).json().items.length === 0, "the refused registration registered nothing");
  await admin.setInputFiles("#reg-sig-files", path.join(work, "policy.admin2.sig"));
  await admin.waitForFunction(() => document.querySelector("#policy-sig-status")?.textContent.includes("quorum named") && !document.querySelector("#policy-sig-status")?.textContent.includes("not"));
  await admin.click("#reg-submit");
  await admin.waitForSelector("#reg-ok");
  const wid = (await admin.getAttribute("#reg-ok a", "href")).split("#/wallets/")[1];
  const wreg = (await api("GET", `/v1/wallets/${wid}`)).json();
  check(wreg.descriptor === descriptor && wreg.policy.text === policy && wreg.policy.signatures.length === 2, "wallet registration: both signature files added, the wallet registered from kura-cold's export");
  await shot(admin, "04b-wallet-registered");
  await axe(admin, "wallet registered");
  // ... and one from a BSMS setup: the descriptor record and the key records
  const bsmsPolicy = chainPolicyFor("treasury-bsms", bsmsDescriptor);
  await go(admin, "#/wallets/new", "#reg-submit");
  await admin.check("#reg-use-bsms");
  await admin.fill("#reg-bsms-descriptor", fs.readFileSync(path.join(work, "wallet.bsms"), "utf8"));
  await admin.fill("#reg-bsms-keys", ["A", "B", "C"].map((s) => fs.readFileSync(path.join(work, `${s}.bsms`), "utf8")).join(""));
  await admin.fill("#reg-policy", bsmsPolicy);
  await admin.fill("#reg-sigs", ["admin1", "admin2"].map((k) => run("ssh-keygen", ["-Y", "sign", "-f", `keys/${k}`, "-n", "kura-policy-v1"], { input: bsmsPolicy })).join(""));
  await admin.click("#reg-submit");
  await admin.waitForSelector("#reg-ok, #reg-error-code");
  {
    const okLink = await admin.getAttribute("#reg-ok a", "href").catch(() => null);
    const why = okLink ? "" : await admin.textContent("#reg-out");
    const bw = okLink ? (await api("GET", `/v1/wallets/${okLink.split("#/wallets/")[1]}`)).json() : {};
    check(okLink && bw.descriptor === bsmsDescriptor, `wallet registration from a BSMS setup (descriptor record and three key records)${why ? ": " + why : ""}`);
  }
  await shot(admin, "04c-wallet-registered-bsms");
  // The chain's wallet, through the API as a program would.
  const cw = await api("POST", "/v1/wallets", { descriptor: chainDescriptor, policy: chainPolicy, policy_signatures: chainPolicySigs });
  must(cw.status === 201, "the chain wallet's registration: " + new TextDecoder().decode(cw.bytes));
  const chainWid = cw.json().id;
  const ww = await api("POST", "/v1/wallets", { descriptor: wshDescriptor, policy: wshPolicy, policy_signatures: wshPolicySigs });
  must(ww.status === 201, "the second chain wallet's registration: " + new TextDecoder().decode(ww.bytes));
  const wshWid = ww.json().id;

  // ---- the initiator: a deposit address with a hostile label, a transfer ----
  const ivy = await newPage();
  await signIn(ivy, "ivy", PW);
  await shot(ivy, "05-overview-initiator");
  {
    const st = await ivy.getAttribute("#follower-state", "data-state");
    const hgt = (await ivy.textContent("#follower-height")).trim();
    check(st === "ok" && hgt === "0", `overview: the follower follows the node at its genesis block (state ${st}, height ${hgt})`);
  }
  await go(ivy, "#/deposits", "#dep-allocate");
  const HOSTILE_DEP = "<img src=x onerror=window.__pwned=1> раypal ехchange " + "W".repeat(180);
  await ivy.fill("#dep-label", HOSTILE_DEP);
  await ivy.click("#dep-allocate");
  await ivy.waitForSelector("#dep-new");
  const depAddr = (await ivy.textContent("#dep-new")).trim();
  await go(ivy, "#/deposits", "#dep-allocate");
  const depLabels = await ivy.$$eval("td .label-text", (es) => es.map((e) => e.textContent));
  check(depLabels.includes(HOSTILE_DEP), `deposits: the hostile label is shown exactly, as text${depLabels.includes(HOSTILE_DEP) ? "" : " (saw " + JSON.stringify(depLabels) + ")"}`);
  await ivy.click(`button[aria-label="Show QR of address 0"]`);
  await ivy.waitForSelector("#dep-qr canvas");
  {
    const q = await readQr(ivy, "#dep-qr canvas");
    check(q && q.data === `bitcoin:${depAddr}`, "deposits: the address's QR code reads back as bitcoin:ADDRESS");
  }
  await shot(ivy, "06-deposits");
  await noScriptRan(ivy, "deposits");
  for (let i = 0; i < 2; i++) run(process.env.WEB_FUND, [`sqlite:${data}/kura.db`, wid, descriptor, "0", "100000000", String(0x61 + i)]);
  ok("the deposit address holds two coins of 1 BTC (web-fund, standing in for the chain follower)");

  await go(ivy, "#/transfers/new", "#nt-submit");
  const HOSTILE_OUT = "<img src=x onerror=alert(1)> payroll";
  await ivy.fill("#nt-addr-1", D1);
  await ivy.fill("#nt-amount-1", "0.3");
  await ivy.fill("#nt-label-1", HOSTILE_OUT);
  await ivy.click("#nt-add");
  await ivy.fill("#nt-addr-2", D2);
  await ivy.fill("#nt-amount-2", "0.1");
  await ivy.fill("#nt-label-2", "supplier 2");
  await ivy.fill("#nt-external", "wd-web-1");
  await ivy.waitForSelector("#nt-tier");
  const pre = await ivy.textContent("#nt-check");
  check(pre.includes("2 approvals") && pre.includes("allowlisted") && pre.includes("not on the allowlist") && pre.includes(ALLOW_LABEL),
    "new transfer: the policy's tier (2 approvals) and each output's allowlist status before submitting");
  await shot(ivy, "07-new-transfer");
  await axe(ivy, "new transfer");
  await ivy.click("#nt-submit");
  await ivy.waitForSelector("#intent-sha");
  tid = ivy.url().split("#/transfers/")[1];
  must(tid, "no transfer id in the address");
  ok(`the initiator requests transfer ${tid}`);
  await noScriptRan(ivy, "transfer detail");

  // ---- approvers: the intent, kura-approve on their own keys, uploads ----
  const intentApi = await api("GET", `/v1/transfers/${tid}/intent`);
  for (const who of ["alice", "bob"]) {
    const page = await newPage();
    await signIn(page, who, PW);
    await go(page, `#/transfers/${tid}`, "#upload-approval");
    const shown = await page.textContent("#intent-text");
    check(shown === new TextDecoder().decode(intentApi.bytes), `${who}: the intent's exact text is shown`);
    const sha = (await page.textContent("#intent-sha")).trim();
    check(sha === crypto.createHash("sha256").update(intentApi.bytes).digest("hex") && (await page.$("#intent-hash-ok")) !== null, `${who}: the SHA-256 computed in the browser is the intent's and matches the server's`);
    const cmd = await page.textContent("#approve-cmd");
    check(cmd.startsWith(`kura-approve approve intent-${tid}.txt --policy `), `${who}: the kura-approve command to run is shown`);
    const [dl] = await Promise.all([page.waitForEvent("download"), page.click("#dl-intent")]);
    const intentFile = path.join(work, `intent-${who}.txt`);
    await dl.saveAs(intentFile);
    check(Buffer.compare(fs.readFileSync(intentFile), Buffer.from(intentApi.bytes)) === 0, `${who}: the downloaded intent is the server's exact bytes`);
    run(process.env.KURA_APPROVE, ["approve", intentFile, "--key", `keys/${who}`, "-o", `${intentFile}.sig`, "--yes"]);
    if (who === "alice") {
      await shot(page, "08-approve");
      await axe(page, "approve");
      await page.setInputFiles("#sig-file", `${intentFile}.sig`);
      await page.click("#upload-approval");
    } else {
      // keyboard only: Tab to the file input, open it with Space, Tab to the button, Enter
      await page.focus("#page-title");
      let found = false;
      for (let i = 0; i < 80 && !found; i++) {
        await page.keyboard.press("Tab");
        found = await page.evaluate(() => document.activeElement?.id === "sig-file");
      }
      must(found, "keyboard: the signature file input is reachable with Tab");
      const [chooser] = await Promise.all([page.waitForEvent("filechooser"), page.keyboard.press("Space")]);
      await chooser.setFiles(`${intentFile}.sig`);
      let onButton = false;
      for (let i = 0; i < 5 && !onButton; i++) {
        await page.keyboard.press("Tab");
        onButton = await page.evaluate(() => document.activeElement?.id === "upload-approval");
      }
      must(onButton, "keyboard: the upload button follows the file input");
      await page.keyboard.press("Enter");
    }
    await page.waitForSelector("text=Your approval is recorded");
    ok(`${who} approves with a signature made by kura-approve${who === "bob" ? " (keyboard only)" : ""}`);
    await page.context().close();
  }
  const afterApprovals = (await api("GET", `/v1/transfers/${tid}`)).json();
  check(afterApprovals.state === "approved" && afterApprovals.approvals.length === 2, "the transfer is approved with two approvals");

  // ---- the air gap: package, animated BBQr read from the page, two signers ----
  await go(ivy, `#/transfers/${tid}`, "#bbqr-canvas");
  await ivy.waitForFunction(() => document.querySelector("#bbqr-canvas")?.dataset.total);
  const [pdl] = await Promise.all([ivy.waitForEvent("download"), ivy.click("#dl-package")]);
  const pkgFile = path.join(work, "package.psbt");
  await pdl.saveAs(pkgFile);
  const pkg = fs.readFileSync(pkgFile);
  const pkgApi = await api("GET", `/v1/transfers/${tid}/package`);
  check(pkg.length > 0 && Buffer.compare(pkg, Buffer.from(pkgApi.bytes)) === 0, "the downloaded package is the server's PSBT");
  await shot(ivy, "09-air-gap-package");
  await axe(ivy, "transfer detail (air gap)");
  const seen = new Map();
  let total = 0;
  const t0 = Date.now();
  while (Date.now() - t0 < 30000) {
    const q = await readQr(ivy, "#bbqr-canvas");
    if (q && q.data.startsWith("B$")) {
      total = parseInt(q.data.slice(4, 6), 36);
      seen.set(q.data.slice(6, 8), q.data);
      if (seen.size === total) break;
    }
    await ivy.waitForTimeout(40);
  }
  let fromQr = null;
  try {
    fromQr = bbqrJoin([...seen.values()]);
  } catch (e) {
    console.log("BBQr join:", e.message);
  }
  check(fromQr && fromQr.type === "P" && Buffer.compare(fromQr.data, pkg) === 0, `the animated BBQr (${seen.size} of ${total} parts, encoding ${fromQr?.enc}) decodes from the page's frames to the package's exact bytes`);
  if (process.env.BBQR_TOOL) {
    let joined = null;
    try {
      joined = execFileSync(process.env.BBQR_TOOL, ["join"], { input: [...seen.values()].reverse().join("\n") + "\n", stdio: ["pipe", "pipe", "pipe"] });
    } catch (e) {
      console.log("bbqr-tool join:", String(e.stderr));
    }
    check(joined && Buffer.compare(joined, pkg) === 0, "libkura's BBQr (bbqr-tool join) reads the page's frames to the package's bytes");
  }
  // every encoding the page offers
  for (const enc of ["2", "H"]) {
    await ivy.selectOption("#bbqr-encoding", enc);
    await ivy.click("#bbqr-pause");
    const parts = new Map();
    let n = 0;
    for (let i = 0; i < 400 && (n === 0 || parts.size < n); i++) {
      const q = await readQr(ivy, "#bbqr-canvas");
      if (q) {
        n = parseInt(q.data.slice(4, 6), 36);
        parts.set(q.data.slice(6, 8), q.data);
      }
      await ivy.click("#bbqr-next");
    }
    await ivy.click("#bbqr-pause");
    let j = null;
    try {
      j = bbqrJoin([...parts.values()]);
    } catch (e) {
      console.log("BBQr join:", e.message);
    }
    check(j && j.enc === enc && Buffer.compare(j.data, pkg) === 0, `BBQr encoding ${enc}, stepped with "Next part": ${parts.size} parts decode to the package`);
  }
  const signedFiles = [];
  for (const s of ["A", "B"]) {
    const out = path.join(work, `signed-${s}.psbt`);
    const so = cold(s, ["--now", String(now()), "sign", pkgFile, "-o", out], "yes\n");
    must(fs.existsSync(out) && /^signed: /m.test(so), `kura-cold ${s} did not sign: ${so}`);
    signedFiles.push(out);
  }
  ok("two kura-cold devices sign the package");
  // A's signature as the binary file ...
  await ivy.setInputFiles("#signed-file", signedFiles[0]);
  await ivy.click("#upload-signed");
  await ivy.waitForSelector("text=Received. The transfer is now awaiting signatures");
  ok("a signed PSBT uploaded as a binary file");
  // ... and again as BBQr parts typed in, shuffled and with a repeat, as a
  // keyboard-mode scanner would (merged: still one signer's signatures)
  await ivy.waitForTimeout(800);
  await go(ivy, `#/transfers/${tid}`, "#signed-parts");
  const typedParts = shuffle(bbqrSplit(fs.readFileSync(signedFiles[0]), "P", 160));
  await ivy.fill("#signed-parts", [...typedParts, typedParts[0]].join("\n"));
  await ivy.click("#upload-parts");
  await ivy.waitForSelector("text=Received. The transfer is now awaiting signatures");
  ok(`a signed PSBT typed in as ${typedParts.length} BBQr parts in shuffled order, one repeated`);
  // B's signature from the computer's camera: libkura's parts (bbqr-tool
  // split) in shuffled order, played as Chromium's fake camera (a Y4M video)
  const camParts = shuffle(process.env.BBQR_TOOL
    ? execFileSync(process.env.BBQR_TOOL, ["split", signedFiles[1], "--encoding", "Z", "--type", "P", "--max", "300"], { stdio: ["ignore", "pipe", "pipe"] }).toString().split("\n").filter(Boolean)
    : bbqrSplit(fs.readFileSync(signedFiles[1]), "P", 200));
  const video = path.join(work, "parts.y4m");
  writeY4m(video, camParts);
  const camBrowser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", `--use-file-for-fake-video-capture=${video}`],
  });
  try {
    const cctx = await camBrowser.newContext({ viewport: { width: 1280, height: 900 } });
    const cam = await cctx.newPage();
    await signIn(cam, "ivy", PW);
    await go(cam, `#/transfers/${tid}`, "#camera-scan");
    await cam.click("#camera-scan");
    await cam.waitForSelector("text=Received. The transfer is now signed", { timeout: 60000 });
    ok(`the camera reads libkura's ${camParts.length} BBQr parts in shuffled order and the signed PSBT is uploaded`);
  } finally {
    await camBrowser.close();
  }
  // The server's chain worker broadcasts a signed transfer to the node
  // (the fake node takes it): signed, then broadcast.
  let final = null;
  for (let i = 0; i < 50; i++) {
    final = (await api("GET", `/v1/transfers/${tid}`)).json();
    if (final.state !== "signed") break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await go(ivy, `#/transfers/${tid}`, "#txid");
  const state = await ivy.getAttribute(".title-row .badge", "data-state");
  check(["signed", "broadcast"].includes(final.state) && state === final.state && (await ivy.textContent("#txid")).trim() === final.txid, `the transfer shows ${final.state}, with its txid`);
  {
    const onChain = (await api("GET", `/v1/transfers/${tid}/chain`)).json();
    const conf = (await ivy.textContent("#tx-confirmations")).trim();
    const text = await ivy.textContent("main");
    check(onChain.txid === final.txid && onChain.confirmations === 0 && conf === "0" && (final.state !== "broadcast" || text.includes(`broadcast ${onChain.broadcasts} time`)),
      `transfer detail: the transaction id and its confirmations from the chain route (${conf}; ${final.state}, broadcast ${onChain.broadcasts} times)`);
  }
  const rate = (await ivy.textContent("#fee-rate")) || "";
  const rawTx = (await api("GET", `/v1/transfers/${tid}/tx`)).json().hex;
  const m = /^([0-9.]+) sat\/vB \((\d+) vB\)$/.exec(rate.trim());
  check(m && Number(m[2]) > rawTx.length / 8 && Number(m[2]) < rawTx.length / 2 /* a segwit tx: vsize between a quarter and its whole size */ && Math.abs(Number(m[1]) - final.fee / Number(m[2])) < 0.01, `the fee rate from the signed transaction's vsize (${rate})`);
  await shot(ivy, "10-transfer-signed");
  await axe(ivy, "transfer detail with its transaction on chain");
  await noScriptRan(ivy, "signed transfer");
  await go(ivy, "#/transfers", "#filter-state");
  await shot(ivy, "11-transfers-list");
  await ivy.selectOption("#filter-state", final.state);
  await ivy.click("form.filters button[type=submit]");
  await ivy.waitForFunction((st) => location.hash.includes(`state=${st}`), final.state);
  await ivy.waitForSelector("table caption");
  check((await ivy.textContent("table caption")).startsWith("1 transfer"), "transfers list: the state filter (through the API's ?state=)");
  await go(ivy, `#/wallets/${wid}`);
  check((await ivy.textContent("main")).includes(ALLOW_LABEL), "wallet policy: the allowlist label with markup shown as text");
  await shot(ivy, "12-wallet-policy");
  await noScriptRan(ivy, "wallet policy");
  await axe(ivy, "wallet policy");

  // ---- the chain: the chain wallet's deposit addresses, the recorded chain
  // replayed to the follower, balances, deposits with reorg and RBF marks ----
  const ivyApi = await apiSession("ivy", PW);
  const HOSTILE_ACCT = "<img src=x onerror=window.__pwned=1>alpha";
  for (let i = 0; i < 13; i++) {
    const r = await ivyApi("POST", `/v1/wallets/${chainWid}/addresses`, { account: i < 5 ? HOSTILE_ACCT : "beta", label: `customer ${i}` });
    must(r.status === 201 && r.json().index === i, `chain wallet address ${i}: ${new TextDecoder().decode(r.bytes)}`);
  }
  for (let i = 0; i < 12; i++) {
    const r = await ivyApi("POST", `/v1/wallets/${wshWid}/addresses`, { account: "gamma" });
    must(r.status === 201 && r.json().index === i, `wsh wallet address ${i}: ${new TextDecoder().decode(r.bytes)}`);
  }
  // The payment to the wsh wallet's receive 10 that a reorganisation later
  // double-spends: the test waits for the follower to see it in the mempool.
  const doomedTx = expected.wallets.wsh_multi.received.find((r) => r[3] === "conflicted")[0];
  let doomedSeen = null;
  const descends = (tip, from) => {
    for (let x = tip; blocksMeta.has(x); x = blocksMeta.get(x).prev) if (x === from) return true;
    return false;
  };
  async function followerAt(tip) {
    for (let i = 0; i < 600; i++) {
      const c = (await api("GET", "/v1/chain")).json();
      if (c.tip === tip && c.lag === 0) return c;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Fatal(`the follower did not reach ${tip}: ${JSON.stringify((await api("GET", "/v1/chain")).json())}`);
  }
  const replayStart = Date.now();
  let cur = null, reorgs = 0;
  for (const line of timelineLines) {
    if (line.poll) continue;
    if (line.tip) {
      // Before the node's best chain leaves the follower's, the follower
      // must have followed it (else there is nothing to reorganise).
      if (cur && !descends(line.tip, cur)) {
        await followerAt(cur);
        reorgs += 1;
      }
      cur = line.tip;
    }
    await nodeSend(line);
    if (line.add === doomedTx) {
      for (let i = 0; i < 300 && !doomedSeen; i++) {
        doomedSeen = (await api("GET", `/v1/deposits?wallet_id=${wshWid}&state=pending`)).json().items.find((d) => d.txid === doomedTx) || null;
        if (!doomedSeen) await new Promise((r) => setTimeout(r, 100));
      }
      must(doomedSeen, "the follower did not see the wsh wallet's mempool payment");
      await go(ivy, `#/deposits?wallet=${wshWid}`, "#dep-table");
      const row = await ivy.$$eval("#dep-table tbody tr", (rs, tx) => {
        const r = rs.find((x) => x.textContent.includes(tx));
        return r && { state: r.querySelector(".badge")?.dataset.state, rbf: !!r.querySelector(".mark-rbf"), mempool: r.textContent.includes("in the mempool") };
      }, doomedTx);
      check(row && row.state === "pending" && row.rbf === doomedSeen.replaceable && row.mempool === !doomedSeen.replaceable,
        `deposits: a payment in the mempool is pending and ${doomedSeen.replaceable ? "marked RBF-replaceable (it signals BIP125)" : "marked as in the mempool"}`);
      await shot(ivy, "10d-deposits-mempool");
    }
  }
  const chainNow = await followerAt(cur);
  const mempoolTx = expected.wallets.tr_multi.mempool_utxos[0][0];
  let deps = [];
  for (let i = 0; i < 300; i++) {
    deps = (await api("GET", `/v1/deposits?wallet_id=${chainWid}&limit=500`)).json().items;
    if (deps.some((d) => d.txid === mempoolTx)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const want = { confirmed: "confirmed", "reorged-out": "reorged", mempool: "pending" };
  const mism = expected.wallets.tr_multi.received.filter(([txid, vout, amt, st]) => !deps.some((d) => d.txid === txid && d.vout === vout && d.amount === amt && d.state === want[st]));
  check(chainNow.height === expected.final_tip.height && reorgs === 2 && mism.length === 0 && deps.length === expected.wallets.tr_multi.received.length,
    `the follower followed the recorded chain to height ${chainNow.height} through ${reorgs} reorganisations in ${Math.round((Date.now() - replayStart) / 1000)} s; the chain wallet's ${deps.length} deposits are Core's${mism.length ? " (differ: " + JSON.stringify(mism) + ")" : ""}`);
  {
    const wdeps = (await api("GET", `/v1/deposits?wallet_id=${wshWid}&limit=500`)).json().items;
    const wantW = { ...want, conflicted: "replaced" };
    const bad = expected.wallets.wsh_multi.received.filter(([txid, vout, amt, st]) => !wdeps.some((d) => d.txid === txid && d.vout === vout && d.amount === amt && d.state === wantW[st]));
    const replaced = wdeps.find((d) => d.txid === doomedTx);
    check(bad.length === 0 && wdeps.length === expected.wallets.wsh_multi.received.length && replaced && replaced.replaced_by,
      `the wsh wallet's ${wdeps.length} deposits are Core's; the double-spent one is replaced (by ${replaced && replaced.replaced_by})${bad.length ? " (differ: " + JSON.stringify(bad) + ")" : ""}`);
    await go(ivy, `#/deposits?wallet=${wshWid}`, "#dep-table");
    const row = await ivy.$$eval("#dep-table tbody tr", (rs, tx) => {
      const r = rs.find((x) => x.textContent.includes(tx));
      return r && { state: r.querySelector(".badge")?.dataset.state, replaced: !!r.querySelector(".mark-replaced"), text: r.textContent };
    }, doomedTx);
    check(row && row.state === "replaced" && row.replaced && replaced && row.text.includes(replaced.replaced_by), "deposits: the double-spent deposit is marked replaced, with the transaction that replaced it");
    await shot(ivy, "10e-deposits-replaced");
  }
  const confirmedDep = deps.find((d) => d.state === "confirmed" && d.index === 0);
  const reorgedDep = deps.find((d) => d.state === "reorged");
  const mempoolDep = deps.find((d) => d.txid === mempoolTx);
  must(confirmedDep && reorgedDep && mempoolDep, "the chain wallet lacks a confirmed, a reorged or a mempool deposit");
  const bal = (await api("GET", `/v1/wallets/${chainWid}/balance`)).json();
  // the overview: balances and the follower's height and lag
  await go(ivy, "#/", "#follower-height");
  {
    const rows = await ivy.$$eval("table tr", (rs) => rs.map((r) => r.textContent));
    const row = rows.find((r) => r.includes("deposits-hot")) || "";
    const fh = (await ivy.textContent("#follower-height")).trim();
    const lag = (await ivy.textContent("#follower-lag")).trim();
    const b = (n) => `${Math.floor(n / 1e8)}.${String(n % 1e8).padStart(8, "0")} BTC`;
    check(bal.confirmed === expected.wallets.tr_multi.balance_sat && row.includes(b(bal.confirmed)) && row.includes(b(bal.pending)) && bal.pending === mempoolDep.amount,
      `overview: the chain wallet's balance, ${b(bal.confirmed)} confirmed (Core's) and ${b(bal.pending)} pending (the mempool's)`);
    check(fh === String(expected.final_tip.height) && lag === "0 blocks" && (await ivy.getAttribute("#follower-state", "data-state")) === "ok", `overview: the follower's height ${fh} and lag ${lag}`);
  }
  await shot(ivy, "10a-overview-balances");
  await axe(ivy, "overview with balances");
  // the deposits screen: accounts and their balances, deposits with marks
  await go(ivy, `#/deposits?wallet=${chainWid}`, "#dep-table");
  {
    const rows = await ivy.$$eval("#dep-table tbody tr", (rs) => rs.map((r) => ({ text: r.textContent, state: r.querySelector(".badge")?.dataset.state, conf: r.querySelector(".dep-conf")?.textContent, reorg: !!r.querySelector(".mark-reorged"), rbf: !!r.querySelector(".mark-rbf"), replaced: !!r.querySelector(".mark-replaced") })));
    const c = rows.find((r) => r.text.includes(confirmedDep.txid));
    const g = rows.find((r) => r.text.includes(reorgedDep.txid));
    const mp = rows.find((r) => r.text.includes(mempoolDep.txid));
    check(c && c.state === "confirmed" && c.conf === String(confirmedDep.confirmations) && confirmedDep.confirmations === expected.final_tip.height - 107 + 1 && !c.reorg,
      `deposits: a confirmed deposit with its ${c && c.conf} confirmations`);
    check(g && g.state === "reorged" && g.reorg && g.conf === "0 (unconfirmed)", "deposits: the coinbase reorganised out of the chain is marked reorged");
    check(mp && mp.state === "pending" && mp.rbf === mempoolDep.replaceable, `deposits: the mempool's deposit is pending${mempoolDep.replaceable ? ", marked RBF-replaceable" : ""}`);
    const acct = await ivy.$$eval(".acct-name", (es) => es.map((e) => [e.textContent, e.closest("tr").textContent]));
    const alpha = acct.find(([n]) => n === HOSTILE_ACCT);
    const beta = acct.find(([n]) => n === "beta");
    check(alpha && alpha[1].includes("1.50000000 BTC") && beta && beta[1].includes("0.30000000 BTC") && beta[1].includes("0.05000000 BTC"),
      "deposits: each account's balance (what its deposits credited; the reorged coinbase not counted), the hostile account name as text");
  }
  await shot(ivy, "10b-deposits-chain");
  await noScriptRan(ivy, "deposits with hostile account names");
  await axe(ivy, "deposits");
  await ivy.selectOption("#dep-f-state", "reorged");
  await ivy.click("#dep-filter");
  await ivy.waitForFunction(() => location.hash.includes("state=reorged"));
  await ivy.waitForSelector("#dep-table");
  {
    const n = await ivy.$$eval("#dep-table tbody tr", (rs) => rs.map((r) => r.querySelector(".badge")?.dataset.state));
    check(n.length === 1 && n[0] === "reorged", `deposits: the state filter (through /v1/deposits?state=) shows the reorged one only (${n})`);
  }
  await shot(ivy, "10c-deposits-reorged");
  await go(ivy, `#/wallets/${chainWid}`, "#wallet-balance");
  {
    const t = await ivy.textContent("main");
    check(t.includes("WAITING") || t.includes("waiting"), "wallet policy: the allowlist entry's waiting time (a day from the policy's acceptance)");
  }
  await shot(ivy, "12b-wallet-chain-policy");
  await axe(ivy, "wallet policy with signatures and waiting times");

  // ---- the administrator's screens: audit, keys, webhooks ----
  await go(admin, `#/transfers/${tid}`, "#txid");
  {
    const trail = (await api("GET", `/v1/audit?object_type=transfer&object_id=${tid}&limit=500`)).json().items;
    const items = await admin.$$eval("#timeline li", (ls) => ls.map((l) => l.textContent));
    const src = await admin.textContent("#timeline-source");
    check(trail.length >= 5 && items.length === trail.length && src.includes(`${trail.length} rows about this transfer`) && trail.every((r, i) => items[i].includes(r.action) && items[i].includes(`#${r.seq}`)),
      `transfer detail: its own audit trail (GET /v1/audit?object_type=transfer&object_id=), ${trail.length} rows in order`);
  }
  await shot(admin, "13-transfer-admin-timeline");
  await admin.click(`a[href="#/audit?object_type=transfer&object_id=${tid}"]`);
  await admin.waitForSelector("#audit-object-note");
  {
    const objs = await admin.$$eval("main table tbody tr", (rs) => rs.map((r) => r.children[4]?.textContent || ""));
    const all = (await api("GET", "/v1/audit?limit=500")).json().items;
    check(objs.length > 0 && objs.every((o) => o.startsWith("transfer " + tid.slice(0, 12))) && objs.length < all.length && (await admin.inputValue("#audit-object-id")) === tid,
      `audit: the per-object filter shows the transfer's ${objs.length} rows only (of ${all.length})`);
  }
  await shot(admin, "14a-audit-object-filter");
  await axe(admin, "audit (object filter)");
  // the filter from the form: one user's trail
  const ivyId = (await ivyApi("GET", "/v1/session")).json().principal.id;
  await go(admin, "#/audit", "#audit-filter");
  await admin.selectOption("#audit-object-type", "user");
  await admin.fill("#audit-object-id", ivyId);
  await admin.click("#audit-filter");
  await admin.waitForSelector("#audit-object-note");
  {
    const objs = await admin.$$eval("main table tbody tr", (rs) => rs.map((r) => r.children[4]?.textContent || ""));
    check(objs.length >= 1 && objs.every((o) => o.startsWith("user ")), `audit: the object filter from the form (user ${ivyId}: ${objs.length} rows)`);
  }
  await go(admin, "#/audit", "#audit-verify");
  await admin.click("#audit-verify");
  await admin.waitForSelector("#audit-verified");
  ok("audit: the chain verifies from the page");
  const [adl] = await Promise.all([admin.waitForEvent("download"), admin.click("text=Export JSONL")]);
  const auditFile = path.join(work, "audit.jsonl");
  await adl.saveAs(auditFile);
  check(fs.readFileSync(auditFile, "utf8").split("\n").filter(Boolean).length > 5, "audit: export downloads the rows");
  await shot(admin, "14-audit");
  await axe(admin, "audit");
  await go(admin, "#/admin/keys", "#key-create");
  await admin.fill("#key-name", "back-office");
  await admin.selectOption("#key-role", "initiator");
  await admin.check('input[value="transfers:read"]');
  await admin.click("#key-create");
  await admin.waitForSelector("#key-secret");
  const key = (await admin.textContent("#key-secret")).trim();
  const kr = await fetch(base + "/v1/transfers", { headers: { Authorization: "Bearer " + key } });
  check(key.startsWith("kura_") && kr.status === 200, "API keys: the secret is shown once and works");
  await shot(admin, "15-api-keys");
  await go(admin, "#/admin/keys", "#key-create");
  check(!(await admin.textContent("main")).includes(key), "API keys: the secret is not shown again");
  await go(admin, "#/admin/webhooks", "#hook-create");
  await admin.fill("#hook-url", "http://127.0.0.1:9/kura");
  await admin.fill("#hook-events", "*");
  await admin.click("#hook-create");
  await admin.waitForSelector("#hook-secret");
  await go(admin, "#/admin/webhooks", "#hook-create");
  await admin.click("text=Delivery log");
  await admin.waitForSelector("#redeliver-all");
  await shot(admin, "16-webhook-deliveries");
  await admin.click("#redeliver-all");
  await admin.waitForTimeout(500);
  ok("webhooks: an endpoint added (secret shown once), its delivery log, redelivery");
  await go(admin, "#/admin/webhooks", "#hook-create");
  await shot(admin, "17-webhooks");
  await go(admin, "#/", "#page-title");
  await shot(admin, "18-overview-administrator");

  // ---- every role: its screens and buttons only; forbidden actions refused ----
  const NAV = {
    administrator: ["Overview", "Transfers", "Deposits", "Wallets & policy", "Audit", "Users", "API keys", "Webhooks", "My account"],
    auditor: ["Overview", "Transfers", "Deposits", "Wallets & policy", "Audit", "Users", "API keys", "Webhooks", "My account"],
    initiator: ["Overview", "Transfers", "New transfer", "Deposits", "Wallets & policy", "My account"],
    approver: ["Overview", "Transfers", "Deposits", "Wallets & policy", "My account"],
    viewer: ["Overview", "Transfers", "Deposits", "Wallets & policy", "My account"],
  };
  // A second transfer awaiting approval, to see each role's buttons on it.
  const t2 = await ivyApi("POST", "/v1/transfers", { wallet_id: wid, outputs: [{ address: D1, amount: 1000000, label: "second" }], max_fee: 20000, expires_in: 7200 });
  must(t2.status === 201, "second transfer: " + new TextDecoder().decode(t2.bytes));
  const tid2 = t2.json().id;
  const logins = { administrator: ["admin"], auditor: ["audrey"], initiator: ["ivy"], approver: ["alice"], viewer: ["vera"] };
  for (const [role, [user, code]] of Object.entries(logins)) {
    const page = role === "administrator" ? admin : await newPage();
    if (role !== "administrator") await signIn(page, user, PW, code);
    await go(page, "#/");
    const nav = await navLabels(page);
    check(JSON.stringify(nav) === JSON.stringify(NAV[role]), `${role}: sees exactly the screens ${NAV[role].join(", ")}${JSON.stringify(nav) === JSON.stringify(NAV[role]) ? "" : " (saw " + nav.join(", ") + ")"}`);
    await go(page, `#/transfers/${tid2}`, "#intent-sha");
    const has = async (sel) => (await page.$(sel)) !== null;
    const want = { "#upload-approval": role === "approver", "#reject-submit": role === "approver", "#dl-package": false, "#cancel-submit": role === "administrator" };
    const got = {};
    for (const s of Object.keys(want)) got[s] = await has(s);
    check(JSON.stringify(got) === JSON.stringify(want), `${role}: on a transfer awaiting approval, only its buttons (${JSON.stringify(got)})`);
    await go(page, `#/transfers/${tid}`, "#intent-sha");
    const carries = (role === "initiator" || role === "administrator") && final.state === "signed";
    check((await has("#dl-package")) === carries, `${role}: the package and signed-PSBT upload ${carries ? "shown" : "hidden"} on a ${final.state} transfer`);
    await shot(page, `19-role-${role}-transfer`);
    // forced through the API from this very page (its cookie and CSRF token)
    const forced = await page.evaluate(async ([t, w]) => {
      const s = await (await fetch("/v1/session")).json();
      const post = (p, b) => fetch(p, { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": s.csrf_token }, body: JSON.stringify(b) }).then((r) => r.status);
      return {
        create: await post("/v1/transfers", { wallet_id: w, outputs: [{ address: "x", amount: 1 }], max_fee: 1 }),
        approve: await post(`/v1/transfers/${t}/approvals`, { signature: "x" }),
        users: await post("/v1/users", { username: "mallory", password: "a long password 9", role: "administrator" }),
        audit: (await fetch("/v1/audit")).status,
        auditObject: (await fetch(`/v1/audit?object_type=transfer&object_id=${t}`)).status,
        wallet: await post("/v1/wallets", { policy: "kura-policy 1\n", policy_signatures: [] }),
      };
    }, [tid2, wid]);
    const refused = {
      create: role !== "initiator",
      approve: role !== "approver",
      users: role !== "administrator",
      audit: !["administrator", "auditor"].includes(role),
      auditObject: !["administrator", "auditor"].includes(role),
      wallet: role !== "administrator",
    };
    const wrong = Object.entries(refused).filter(([k, r]) => r && forced[k] !== 403);
    check(wrong.length === 0, `${role}: forbidden actions forced through the API are refused with 403 (${JSON.stringify(forced)})`);
    // wallet registration: the button and the screen are the administrator's
    await go(page, "#/wallets", "#page-title");
    const regLink = await has("#wallet-register-link");
    await go(page, "#/wallets/new", "#page-title");
    const regForm = await has("#reg-submit");
    check(regLink === (role === "administrator") && regForm === (role === "administrator") && (role === "administrator" || (await page.textContent("main")).includes("does not use this screen")),
      `${role}: the wallet registration ${role === "administrator" ? "button and screen" : "is neither shown nor usable by its address"}`);
    if (role === "approver") {
      // rejecting needs a reason; a reason holding markup is shown as text
      await go(page, `#/transfers/${tid2}`, "#upload-approval");
      await page.click("text=Reject this transfer");
      await page.click("#reject-submit");
      await page.waitForTimeout(300);
      check((await ivyApi("GET", `/v1/transfers/${tid2}`)).json().state === "awaiting_approval", "reject without a reason is not sent");
      const REASON = "<script>window.__pwned=1</script> wrong payee ‮evil";
      await page.fill("#reject-reason", REASON.replace("‮", ""));
      await page.click("#reject-submit");
      await page.waitForSelector("text=Rejected.");
      await page.waitForTimeout(800);
      await go(page, `#/transfers/${tid2}`, "#intent-sha");
      check((await page.textContent("main")).includes(REASON.replace("‮", "")) && (await page.getAttribute(".title-row .badge", "data-state")) === "rejected", "approver: rejects with a reason; the reason with markup is shown as text");
      await shot(page, "19-role-approver-rejected");
      await noScriptRan(page, "rejected transfer");
    }
    if (role === "viewer") {
      await go(page, "#/audit", "#page-title");
      check((await page.textContent("main")).includes("does not use this screen"), "viewer: the audit screen by its address says it is not for the role");
    }
    if (page !== admin) await page.context().close();
  }

  // ---- a phone: 390 pixels wide, every output of the transfer visible ----
  {
    const phone = await newPage({ width: 390, height: 844 });
    await signIn(phone, "vera", PW);
    await go(phone, `#/transfers/${tid}`, "#intent-sha");
    const r = await phone.evaluate(() => {
      const rows = Array.from(document.querySelectorAll("td .address"));
      return {
        n: rows.length,
        inside: rows.every((e) => {
          const b = e.getBoundingClientRect();
          return b.width > 0 && b.left >= 0 && b.right <= 390;
        }),
        scrollW: document.documentElement.scrollWidth,
        texts: rows.map((e) => e.textContent),
      };
    });
    check(r.n === 2 && r.inside && r.scrollW <= 390 && r.texts.includes(D1) && r.texts.includes(D2), `390 px wide: both outputs' addresses are whole and on screen (page width ${r.scrollW})`);
    await shot(phone, "20-phone-transfer");
    await go(phone, "#/transfers", "#filter-state");
    await shot(phone, "21-phone-transfers");
    await go(phone, `#/deposits?wallet=${chainWid}`, "#dep-table");
    const d = await phone.evaluate(() => ({
      scrollW: document.documentElement.scrollWidth,
      marks: Array.from(document.querySelectorAll("#dep-table .mark-reorged")).map((e) => {
        const b = e.getBoundingClientRect();
        return b.width > 0 && b.left >= 0 && b.right <= 390;
      }),
    }));
    check(d.scrollW <= 390 && d.marks.length === 1 && d.marks.every(Boolean), `390 px wide: the deposits screen fits (page width ${d.scrollW}), its reorg mark on screen`);
    await shot(phone, "22-phone-deposits");
    await go(phone, "#/", "#follower-height");
    const ow = await phone.evaluate(() => document.documentElement.scrollWidth);
    check(ow <= 390, `390 px wide: the overview with balances and the follower fits (page width ${ow})`);
    await shot(phone, "23-phone-overview");
    await phone.context().close();
  }

  // ---- the follower's states the recorded chain does not reach, drawn from
  // answers the test gives the page for GET /v1/chain ----
  {
    const page = await newPage();
    await signIn(page, "vera", PW);
    const t = now();
    const good = { height: 119, tip: "00".repeat(32), node_height: 119, node_tip: "00".repeat(32), node_chain: "regtest", lag: 0, fee_rate: 12345, checked_at: t, last_error: null, leader: { holder: "h:1", expires_at: t + 30 } };
    const cases = {
      unconfigured: [{ height: null, tip: null, node_height: null, node_tip: "", node_chain: "", lag: null, fee_rate: 0, checked_at: 0, last_error: null, leader: null }, "No chain follower is configured"],
      error: [{ ...good, last_error: "<script>window.__pwned=1</script> connection refused" }, "The chain follower is failing: <script>window.__pwned=1</script> connection refused"],
      stalled: [{ ...good, checked_at: t - 3600, leader: null }, "The chain follower has stalled"],
      behind: [{ ...good, height: 100, lag: 19 }, "The chain follower is 19 blocks behind the node"],
    };
    for (const [want, [body, says]] of Object.entries(cases)) {
      await page.route("**/v1/chain", (r) => r.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify(body) }));
      await go(page, "#/", "#follower-state");
      const st = await page.getAttribute("#follower-state", "data-state");
      const text = await page.textContent("main");
      const noBalances = want !== "unconfigured" || !/\d+\.\d{8} BTC/.test(text);
      check(st === want && text.includes(says) && noBalances, `overview: the follower ${want} is said plainly${want === "unconfigured" ? ", and no balance is shown" : ""}`);
      await shot(page, `24-follower-${want}`);
      if (want === "error") await axe(page, "overview, the follower failing");
      await page.unroute("**/v1/chain");
    }
    await noScriptRan(page, "the follower's error message");
    // a payment signalling BIP125 (the recorded chain's do not): marked
    const rbf = { id: "dp_" + "0".repeat(28), wallet_id: chainWid, txid: "ab".repeat(32), vout: 0, address: "bcrt1qexample", branch: 0, index: 5, account: "beta", amount: 1234, state: "pending", confirmations: 0, height: null, block_hash: null, coinbase: false, replaceable: true, replaced_by: null, created_at: t, updated_at: t };
    await page.route("**/v1/deposits?*", (r) => r.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify({ items: [rbf], next_cursor: null }) }));
    await go(page, `#/deposits?wallet=${chainWid}`, "#dep-table");
    const mark = await page.$eval("#dep-table .mark-rbf", (e) => e.textContent).catch(() => null);
    check(mark && mark.includes("RBF"), `deposits: a pending payment that signals BIP125 is marked (${mark})`);
    await shot(page, "24-deposit-rbf");
    await page.unroute("**/v1/deposits?*");
    await page.context().close();
  }
  await noScriptRan(admin, "administrator's pages");
} catch (e) {
  bad(`the story stopped: ${e instanceof Fatal ? e.message : e.stack || e}`);
} finally {
  await browser.close().catch(() => {});
  fakeNode.stdin.end();
  const nodeExit = await new Promise((r) => (fakeNode.exitCode !== null ? r(fakeNode.exitCode) : fakeNode.once("exit", (c) => r(c))));
  if (nodeExit !== 0) bad(`web-fake-node exited ${nodeExit}`);
  server.kill("SIGTERM");
  await new Promise((r) => server.once("exit", r));
  if (server.exitCode !== 0 && server.signalCode === null && server.exitCode !== null) bad(`kura-server exited ${server.exitCode} on SIGTERM`);
  if (fail === 0) fs.rmSync(work, { recursive: true, force: true });
  else console.log(`kept ${work} (server log in ${artifacts}/kura-server.log)`);
}
console.log(`screenshots: ${artifacts}`);
console.log(`(${Math.round((Date.now() - started) / 1000)} s)`);
console.log(`${pass} passed, ${fail} failed`);
process.exit(fail === 0 ? 0 : 1);
