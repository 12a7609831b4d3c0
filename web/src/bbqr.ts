// bbqr.ts — BBQr (Coinkite's "Better Bitcoin QR"), the animated-QR format
// Coldcard, Sparrow and Nunchuk read: a file split into parts, each part one
// QR code of QR's alphanumeric characters:
//
//   "B$" ENCODING TYPE TOTAL INDEX DATA
//
// ENCODING: H (upper-case hex), 2 (RFC 4648 base32, no padding), Z (raw
// deflate with a 1 KiB window, i.e. zlib wbits -10, then base32); TYPE: P
// PSBT, T transaction, J JSON, U text, ...; TOTAL and INDEX: two base-36
// digits each (0-9A-Z), INDEX from 0. Every part but the last carries a
// whole number of encoding units (2 hex digits, 8 base32 characters), so
// each part decodes on its own; the file is the parts' bytes in index order
// (for Z, inflated after joining).
import { deflateRaw, inflateRaw } from "pako";

export type Encoding = "H" | "2" | "Z";

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

export function base32Encode(data: Uint8Array): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const b of data) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

export function base32Decode(s: string): Uint8Array {
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of s) {
    const v = B32.indexOf(ch);
    if (v < 0) throw new Error(`BBQr: '${ch}' is not base32`);
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
    value &= (1 << bits) - 1;
  }
  // leftover bits must be zero padding (fewer than 5 of them)
  if (value !== 0) throw new Error("BBQr: base32 padding bits are not zero");
  return Uint8Array.from(out);
}

function hexEncode(data: Uint8Array): string {
  return Array.from(data, (b) => b.toString(16).padStart(2, "0")).join("").toUpperCase();
}

function hexDecode(s: string): Uint8Array {
  if (s.length % 2 || /[^0-9A-F]/.test(s)) throw new Error("BBQr: bad hex");
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function b36(n: number): string {
  return n.toString(36).toUpperCase().padStart(2, "0");
}

export interface SplitOptions {
  encoding?: Encoding;   // default Z (falling back to 2 when compression does not help)
  type?: string;         // default "P"
  maxChars?: number;     // a part's data characters at most (default 480)
}

export function split(data: Uint8Array, opts: SplitOptions = {}): string[] {
  let enc: Encoding = opts.encoding || "Z";
  const type = opts.type || "P";
  if (!/^[A-Z]$/.test(type)) throw new Error("BBQr: the type is one letter A-Z");
  let text: string;
  if (enc === "Z") {
    const z = deflateRaw(data, { windowBits: 10, level: 9 });
    if (z.length >= data.length) {
      enc = "2";
      text = base32Encode(data);
    } else {
      text = base32Encode(z);
    }
  } else if (enc === "2") {
    text = base32Encode(data);
  } else {
    text = hexEncode(data);
  }
  const unit = enc === "H" ? 2 : 8;
  const max = Math.max(unit, Math.floor((opts.maxChars || 480) / unit) * unit);
  const count = Math.max(1, Math.ceil(text.length / max));
  if (count > 1295) throw new Error("BBQr: too large for 1295 parts; raise maxChars");
  // the same size for every part but the last, in whole units
  const per = Math.ceil(Math.ceil(text.length / count) / unit) * unit;
  const parts: string[] = [];
  for (let i = 0; i < count; i++) {
    parts.push(`B$${enc}${type}${b36(count)}${b36(i)}` + text.slice(i * per, (i + 1) * per));
  }
  return parts;
}

export interface Joined {
  type: string;
  encoding: Encoding;
  data: Uint8Array;
}

// Collects parts in any order (repeats ignored); complete() tells when every
// part has been seen; join() gives the file.
export class Collector {
  private parts = new Map<number, string>();
  total = 0;
  encoding: Encoding | "" = "";
  type = "";

  add(raw: string): boolean {
    const s = raw.trim();
    const m = /^B\$([H2Z])([A-Z])([0-9A-Z]{2})([0-9A-Z]{2})(.*)$/.exec(s);
    if (!m) throw new Error("not a BBQr part (it starts with B$, then encoding, type, total, index)");
    const [, enc, type, tot, idx, data] = m;
    const total = parseInt(tot, 36);
    const index = parseInt(idx, 36);
    if (total < 1 || index >= total) throw new Error(`BBQr: part ${index + 1} of ${total}?`);
    if (this.total && (total !== this.total || enc !== this.encoding || type !== this.type)) {
      throw new Error("BBQr: this part belongs to another file (its header differs)");
    }
    this.total = total;
    this.encoding = enc as Encoding;
    this.type = type;
    const had = this.parts.get(index);
    if (had !== undefined && had !== data) throw new Error(`BBQr: part ${index + 1} seen twice with different data`);
    this.parts.set(index, data);
    return this.complete();
  }

  have(): number {
    return this.parts.size;
  }

  complete(): boolean {
    return this.total > 0 && this.parts.size === this.total;
  }

  join(): Joined {
    if (!this.complete()) throw new Error(`BBQr: ${this.parts.size} of ${this.total} parts`);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < this.total; i++) {
      const d = this.parts.get(i)!;
      chunks.push(this.encoding === "H" ? hexDecode(d) : base32Decode(d));
    }
    let n = 0;
    for (const c of chunks) n += c.length;
    let data = new Uint8Array(n);
    let o = 0;
    for (const c of chunks) {
      data.set(c, o);
      o += c.length;
    }
    if (this.encoding === "Z") {
      try {
        data = inflateRaw(data);
      } catch (e) {
        throw new Error("BBQr: the compressed data does not inflate");
      }
    }
    return { type: this.type, encoding: this.encoding as Encoding, data };
  }
}

export function join(parts: string[]): Joined {
  const c = new Collector();
  for (const p of parts) if (p.trim()) c.add(p);
  return c.join();
}
