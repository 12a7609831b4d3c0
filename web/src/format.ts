// format.ts — amounts, times and states as people read them.
import { h } from "./dom";

export function btc(sats: number): string {
  const neg = sats < 0;
  const s = Math.abs(sats);
  const whole = Math.floor(s / 1e8);
  const frac = String(s % 1e8).padStart(8, "0");
  return `${neg ? "-" : ""}${whole}.${frac} BTC`;
}

export function sats(n: number): string {
  return `${n.toLocaleString("en-US")} sat`;
}

// An amount: BTC with 8 decimals and the exact sats beside it, monospace.
export function amount(n: number | null | undefined): HTMLElement {
  if (n === null || n === undefined) return h("span", { class: "muted" }, "—");
  return h("span", { class: "amount mono" }, h("span", { class: "btc" }, btc(n)), " ", h("span", { class: "sats" }, `(${sats(n)})`));
}

export function time(unix: number | null | undefined): string {
  if (!unix) return "—";
  return new Date(unix * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

const STATE_TONE: Record<string, string> = {
  awaiting_approval: "warn",
  approved: "info",
  awaiting_signatures: "info",
  signed: "ok",
  broadcast: "ok",
  confirmed: "ok",
  cancelled: "muted",
  rejected: "bad",
  expired: "muted",
  failed: "bad",
  replaced: "muted",
  reorged: "bad",
  delivered: "ok",
  pending: "warn",
};

export function badge(state: string, label?: string): HTMLElement {
  return h("span", { class: `badge badge-${STATE_TONE[state] || "muted"}`, "data-state": state }, label || state.replace(/_/g, " "));
}

export function mono(text: string, cls = ""): HTMLElement {
  return h("span", { class: `mono ${cls}`.trim() }, text);
}

export function short(id: string, n = 10): string {
  return id.length > n + 2 ? id.slice(0, n) + "…" : id;
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", bytes as unknown as BufferSource);
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function b64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function unb64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function download(name: string, data: Uint8Array | string, type: string): void {
  const blob = new Blob([data as BlobPart], { type });
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: name }) as HTMLAnchorElement;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// A raw transaction's virtual size (BIP 141: weight / 4, rounded up), read
// from its hex; null when it does not parse.
export function txVsize(hex: string): number | null {
  if (!/^([0-9a-f]{2})+$/i.test(hex)) return null;
  const b = Uint8Array.from(hex.match(/../g)!.map((x) => parseInt(x, 16)));
  let p = 0;
  const need = (n: number) => {
    if (p + n > b.length) throw new Error("short");
  };
  const varint = (): number => {
    need(1);
    const f = b[p++];
    if (f < 0xfd) return f;
    const n = f === 0xfd ? 2 : f === 0xfe ? 4 : 8;
    need(n);
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + b[p + i];
    p += n;
    return v;
  };
  const skip = (n: number) => {
    need(n);
    p += n;
  };
  try {
    skip(4);
    let segwit = false;
    if (b[p] === 0 && b[p + 1] === 1) {
      segwit = true;
      p += 2;
    }
    const start = p;
    const nin = varint();
    for (let i = 0; i < nin; i++) {
      skip(36);
      skip(varint());
      skip(4);
    }
    const nout = varint();
    for (let i = 0; i < nout; i++) {
      skip(8);
      skip(varint());
    }
    const ioEnd = p;
    if (segwit) for (let i = 0; i < nin; i++) for (let k = varint(); k > 0; k--) skip(varint());
    const witEnd = p;
    skip(4);
    if (p !== b.length) return null;
    const base = 4 + (ioEnd - start) + 4;
    const weight = base * 4 + (segwit ? 2 + (witEnd - ioEnd) : 0);
    return Math.ceil(weight / 4);
  } catch {
    return null;
  }
}
