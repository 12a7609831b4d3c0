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
