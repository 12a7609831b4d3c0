// policyview.ts — a policy rendered for people (approvers, tiers, allowlist
// with each entry's waiting time, limits) and its signature status: which
// administrator's key made each signature (read from the SSHSIG blob, held
// against the policy's admin keys). The server verified the signatures
// themselves when it accepted the policy, and every signer verifies them
// again; this only names them.
import { Child, h } from "../dom";
import { btc, sats, time } from "../format";
import { Policy, duration, fingerprint } from "../policy";
import { card, dl, table } from "../ui";

export interface SigInfo {
  ok: boolean;          // an SSHSIG blob that reads
  admin: string | null; // the administrator whose key made it
  keyFp: string;        // SHA256:... of the key in the blob
  namespace: string;
  problem: string | null;
}

function b64bytes(s: string): Uint8Array | null {
  try {
    const bin = atob(s.replace(/\s+/g, ""));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

function bytesB64(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
}

// One armored SSH signature (PROTOCOL.sshsig): its public key and namespace.
export async function readSshsig(armored: string, p: Policy): Promise<SigInfo> {
  const bad = (problem: string): SigInfo => ({ ok: false, admin: null, keyFp: "", namespace: "", problem });
  const m = /-----BEGIN SSH SIGNATURE-----([\s\S]*?)-----END SSH SIGNATURE-----/.exec(armored);
  if (!m) return bad("not an SSH signature (no BEGIN/END SSH SIGNATURE lines)");
  const b = b64bytes(m[1]);
  if (!b) return bad("its base64 does not read");
  let pos = 0;
  const u32 = (): number => {
    if (pos + 4 > b.length) throw new Error("short");
    const v = ((b[pos] << 24) | (b[pos + 1] << 16) | (b[pos + 2] << 8) | b[pos + 3]) >>> 0;
    pos += 4;
    return v;
  };
  const str = (): Uint8Array => {
    const n = u32();
    if (n > b.length - pos) throw new Error("short");
    const v = b.subarray(pos, pos + n);
    pos += n;
    return v;
  };
  try {
    if (new TextDecoder().decode(b.subarray(0, 6)) !== "SSHSIG") return bad("no SSHSIG magic");
    pos = 6;
    u32();
    const key = str();
    const ns = new TextDecoder().decode(str());
    const keyB64 = bytesB64(key);
    const admin = p.admins.find((a) => a.key.split(" ")[1] === keyB64);
    const fp = await fingerprint("x " + keyB64);
    return {
      ok: true,
      admin: admin ? admin.name : null,
      keyFp: fp,
      namespace: ns,
      problem: !admin ? "its key is not an administrator's key in this policy" : ns !== "kura-policy-v1" ? `namespace ${ns}, not kura-policy-v1` : null,
    };
  } catch {
    return bad("the signature blob is truncated");
  }
}

export async function signatureStatus(p: Policy, sigs: string[]): Promise<{ infos: SigInfo[]; distinct: number }> {
  const infos = await Promise.all(sigs.map((s) => readSshsig(s, p)));
  const distinct = new Set(infos.filter((i) => i.ok && !i.problem).map((i) => i.admin)).size;
  return { infos, distinct };
}

export function signatureTable(infos: SigInfo[]): HTMLElement {
  return table(
    ["#", "Signed by", "Key fingerprint", "Namespace", "Status"],
    infos.map((i, n) => [
      String(n + 1),
      i.admin ? h("span", { class: "label-text" }, i.admin) : h("span", { class: "muted" }, "—"),
      i.keyFp ? h("span", { class: "mono small" }, i.keyFp) : "—",
      i.namespace ? h("span", { class: "mono" }, i.namespace) : "—",
      i.problem ? h("span", { class: "badge badge-bad sig-problem" }, i.problem) : h("span", { class: "badge badge-ok" }, "administrator's key"),
    ]),
    "Signatures over the policy's exact text",
  );
}

// When each allowlist entry may be paid, as far as the server can tell: the
// waiting period from the start of the latest unbroken run of accepted
// policy versions that list it (versions: oldest first, with the time the
// server accepted each). The signer counts from its own acceptance.
export function entryPayableFrom(address: string, versions: { version: number; at: number; policy: Policy }[], delay: number): number | null {
  let start: number | null = null;
  for (const v of versions) {
    if (v.policy.allow.some((a) => a.address === address)) {
      if (start === null) start = v.at;
    } else start = null;
  }
  return start === null ? null : start + delay;
}

export async function policySection(
  p: Policy,
  text: string,
  opts: { sigs: string[]; acceptedAt?: number | null; versions?: { version: number; at: number; policy: Policy }[]; now?: number; preview?: boolean },
): Promise<HTMLElement> {
  const fps = await Promise.all([...p.admins, ...p.approvers].map((a) => fingerprint(a.key)));
  const adminFp = fps.slice(0, p.admins.length);
  const apprFp = fps.slice(p.admins.length);
  const { infos, distinct } = await signatureStatus(p, opts.sigs);
  const quorumMet = distinct >= p.adminQuorum && p.adminQuorum > 0;
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  const statusLine: Child = opts.preview
    ? h("span", { id: "policy-sig-status" }, h("span", { class: `badge ${quorumMet ? "badge-info" : "badge-warn"}` }, quorumMet ? "quorum named" : "quorum not named"),
        ` — ${distinct} of the ${p.adminQuorum} administrators needed named by ${opts.sigs.length} signature${opts.sigs.length === 1 ? "" : "s"}. The server verifies each signature when you register.`)
    : h("span", { id: "policy-sig-status" }, h("span", { class: `badge ${quorumMet ? "badge-ok" : "badge-bad"}` }, quorumMet ? "accepted" : "quorum not named"),
        ` — signed by ${distinct} of ${p.admins.length} administrators (${p.adminQuorum} needed); verified by the server${opts.acceptedAt ? ` at ${time(opts.acceptedAt)}` : ""} and again by every signer`);
  const versions = opts.versions || [];
  return card(
    `Policy version ${p.version}`,
    dl([
      ["Signature status", statusLine],
      ["Wallet", h("span", { class: "mono wrap" }, p.wallet)],
      ["Mode", p.mode === "cold" ? "cold (a person confirms every signature)" : p.mode === "hot" ? "hot (the signer may sign unattended)" : p.mode],
      ["Network", p.network],
    ]),
    opts.sigs.length ? signatureTable(infos) : null,
    h("h3", null, "How many approvals a transfer needs"),
    table(["Total up to", "Approvals"], p.tiers.map((t) => [t.upTo === null ? "any amount" : h("span", { class: "mono" }, btc(t.upTo)), String(t.approvals)])),
    h("p", null, p.initiatorMayApprove ? "The initiator's own approval counts." : "The initiator's own approval does not count."),
    h("h3", null, "Approvers"),
    table(["Name", "Key fingerprint"], p.approvers.map((a, i) => [h("span", { class: "label-text" }, a.name), h("span", { class: "mono" }, apprFp[i])])),
    h("h3", null, `Administrators (sign policy changes; ${p.adminQuorum} of ${p.admins.length} needed)`),
    table(["Name", "Key fingerprint", "Signed this version"], p.admins.map((a, i) => [h("span", { class: "label-text" }, a.name), h("span", { class: "mono" }, adminFp[i]), infos.some((x) => x.admin === a.name && !x.problem) ? "yes" : "no"])),
    h("h3", null, "Allowlist"),
    h("p", null, p.allowlistRequired ? "Only these destinations may be paid. " : "Destinations outside this list may be paid too (the approvers see them marked). ",
      p.allowlistDelay ? `Each entry waits ${duration(p.allowlistDelay)} from the start of the latest unbroken run of accepted policies that list it; the signer counts from when it accepted them.` : "Entries may be paid as soon as the signer has accepted the policy that lists them."),
    table(["Address", "Label", "Waiting time", "Payable"], p.allow.map((a) => {
      const from = versions.length ? entryPayableFrom(a.address, versions, p.allowlistDelay) : opts.acceptedAt && p.version === 1 ? opts.acceptedAt + p.allowlistDelay : null;
      const payable: Child = p.allowlistDelay === 0
        ? "at once"
        : from === null
          ? h("span", { class: "muted" }, opts.preview ? `${duration(p.allowlistDelay)} after the signer accepts it` : "after the waiting time from the version that added it")
          : from <= now
            ? h("span", null, h("span", { class: "badge badge-ok" }, "now"), ` since ${time(from)}`)
            : h("span", null, h("span", { class: "badge badge-warn" }, "waiting"), ` until about ${time(from)}`);
      return [h("span", { class: "mono address" }, a.address), h("span", { class: "label-text" }, a.label), duration(p.allowlistDelay), payable];
    }), `${p.allow.length} entr${p.allow.length === 1 ? "y" : "ies"}`),
    h("h3", null, "Limits"),
    dl([
      ["Per transfer", h("span", { class: "mono" }, `${btc(p.maxPerTransfer)} (${sats(p.maxPerTransfer)})`)],
      ["In any 24 hours (payments and fees)", h("span", { class: "mono" }, `${btc(p.maxPer24h)} (${sats(p.maxPer24h)})`)],
      ["Fee", h("span", { class: "mono" }, `at most ${sats(p.maxFee)}, ${p.maxFeeRate} sat/vB`)],
      ["An intent lives at most", duration(p.maxLifetime)],
    ]),
    h("details", null, h("summary", null, "The policy's exact text"), h("pre", { class: "mono intent" }, text)),
  );
}
