// api.ts — kura-server's JSON API (docs/api.md) from the browser: the session
// cookie rides along by itself (HttpOnly, SameSite=Strict); every unsafe
// request carries the session's CSRF token in X-CSRF-Token.
export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string) {
    super(message);
  }
}

let csrf = "";
export function setCsrf(token: string): void {
  csrf = token;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

async function parse(r: Response): Promise<unknown> {
  const ct = r.headers.get("content-type") || "";
  if (ct.startsWith("application/json")) return r.json();
  if (ct.startsWith("text/")) return r.text();
  return new Uint8Array(await r.arrayBuffer());
}

export async function call<T = any>(
  method: string,
  path: string,
  body?: unknown,
  opts: { idem?: boolean; raw?: Uint8Array; accept?: "text" | "bytes" } = {},
): Promise<T> {
  const headers: Record<string, string> = {};
  let payload: BodyInit | undefined;
  if (opts.raw) {
    headers["Content-Type"] = "application/octet-stream";
    payload = opts.raw as unknown as BodyInit;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  if (method !== "GET" && method !== "HEAD" && csrf) headers["X-CSRF-Token"] = csrf;
  if (opts.idem) headers["Idempotency-Key"] = crypto.randomUUID();
  const r = await fetch(path, { method, headers, body: payload, credentials: "same-origin", cache: "no-store" });
  if (!r.ok) {
    let code = "HTTP_" + r.status;
    let message = r.statusText;
    try {
      const j = (await r.json()) as { error?: string; message?: string };
      code = j.error || code;
      message = j.message || message;
    } catch {
      /* not JSON */
    }
    throw new ApiError(r.status, code, message);
  }
  if (r.status === 204) return undefined as T;
  if (opts.accept === "text") return (await r.text()) as T;
  if (opts.accept === "bytes") return new Uint8Array(await r.arrayBuffer()) as T;
  return (await parse(r)) as T;
}

export const get = <T = any>(path: string) => call<T>("GET", path);
export const post = <T = any>(path: string, body?: unknown, idem = false) => call<T>("POST", path, body ?? {}, { idem });

// Every page of a list, up to `max` items.
export async function all<T>(path: string, max = 2000): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const url: string = path + sep + "limit=500" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
    const page: Page<T> = await get<Page<T>>(url);
    out.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && out.length < max);
  return out;
}
