// policy.ts — a wallet policy's text (docs/policy-format.md) read for people.
// The signer parses and enforces the policy itself; this only renders it.
export interface Policy {
  version: number;
  network: string;
  wallet: string;
  mode: string;
  admins: { name: string; key: string }[];
  adminQuorum: number;
  approvers: { name: string; key: string }[];
  tiers: { upTo: number | null; approvals: number }[];
  initiatorMayApprove: boolean;
  allowlistRequired: boolean;
  allowlistDelay: number;
  allow: { address: string; label: string }[];
  maxPerTransfer: number;
  maxPer24h: number;
  maxFee: number;
  maxFeeRate: number;
  maxLifetime: number;
}

export function parsePolicy(text: string): Policy {
  const p: Policy = {
    version: 0, network: "", wallet: "", mode: "", admins: [], adminQuorum: 0, approvers: [], tiers: [],
    initiatorMayApprove: false, allowlistRequired: false, allowlistDelay: 0, allow: [],
    maxPerTransfer: 0, maxPer24h: 0, maxFee: 0, maxFeeRate: 0, maxLifetime: 0,
  };
  for (const line of text.split("\n")) {
    const i = line.indexOf(": ");
    if (i < 0) continue;
    const k = line.slice(0, i);
    const v = line.slice(i + 2);
    const sp = v.indexOf(" ");
    switch (k) {
      case "version": p.version = Number(v); break;
      case "network": p.network = v; break;
      case "wallet": p.wallet = v; break;
      case "mode": p.mode = v; break;
      case "admin": p.admins.push({ name: v.slice(0, sp), key: v.slice(sp + 1) }); break;
      case "admin-quorum": p.adminQuorum = Number(v); break;
      case "approver": p.approvers.push({ name: v.slice(0, sp), key: v.slice(sp + 1) }); break;
      case "tier": {
        const [a, n] = v.split(" ");
        p.tiers.push({ upTo: a === "max" ? null : Number(a), approvals: Number(n) });
        break;
      }
      case "initiator-may-approve": p.initiatorMayApprove = v === "yes"; break;
      case "allowlist-required": p.allowlistRequired = v === "yes"; break;
      case "allowlist-delay": p.allowlistDelay = Number(v); break;
      case "allow": p.allow.push({ address: v.slice(0, sp), label: v.slice(sp + 1) }); break;
      case "max-per-transfer": p.maxPerTransfer = Number(v); break;
      case "max-per-24h": p.maxPer24h = Number(v); break;
      case "max-fee": p.maxFee = Number(v); break;
      case "max-fee-rate": p.maxFeeRate = Number(v); break;
      case "max-lifetime": p.maxLifetime = Number(v); break;
    }
  }
  return p;
}

// How many approvals a total needs: the first tier whose bound holds it.
export function tierFor(p: Policy, total: number): { approvals: number; upTo: number | null } | null {
  for (const t of p.tiers) if (t.upTo === null || total <= t.upTo) return t;
  return null;
}

export function allowLabel(p: Policy, address: string): string | null {
  const e = p.allow.find((a) => a.address === address);
  return e ? e.label : null;
}

export function duration(s: number): string {
  if (s === 0) return "none";
  if (s % 86400 === 0) return `${s / 86400} day${s === 86400 ? "" : "s"}`;
  if (s % 3600 === 0) return `${s / 3600} hour${s === 3600 ? "" : "s"}`;
  if (s % 60 === 0) return `${s / 60} minutes`;
  return `${s} s`;
}

// An OpenSSH key's fingerprint as `ssh-keygen -l` prints it: SHA256:base64 (no padding).
export async function fingerprint(key: string): Promise<string> {
  const b64 = key.split(" ")[1] || "";
  let bin: string;
  try {
    bin = atob(b64);
  } catch {
    return "(unreadable key)";
  }
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  let s = "";
  for (const b of d) s += String.fromCharCode(b);
  return "SHA256:" + btoa(s).replace(/=+$/, "");
}
