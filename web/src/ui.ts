// ui.ts — the pieces every screen is made of.
import { ApiError } from "./api";
import { Child, h, replace } from "./dom";

export type Role = "viewer" | "initiator" | "approver" | "administrator" | "auditor";

export interface Me {
  id: string;
  name: string;
  role: Role;
  approver_name?: string;
  kind: string;
}

// Which role may do what (docs/api.md); the server enforces it anyway.
export const MAY = {
  requestTransfer: ["initiator"],
  approve: ["approver"],
  carryFiles: ["initiator", "administrator"],
  cancel: ["administrator"],
  allocate: ["initiator"],
  audit: ["administrator", "auditor"],
  peopleRead: ["administrator", "auditor"],
  peopleWrite: ["administrator"],
  registerWallet: ["administrator"],
} as const satisfies Record<string, readonly Role[]>;

export function may(me: Me, what: keyof typeof MAY): boolean {
  return (MAY[what] as readonly string[]).includes(me.role);
}

export function page(title: string, ...children: Child[]): HTMLElement {
  return h("section", { class: "page", "aria-labelledby": "page-title" }, h("h1", { id: "page-title", tabindex: "-1" }, title), ...children);
}

export function card(title: string | null, ...children: Child[]): HTMLElement {
  return h("section", { class: "card" }, title ? h("h2", null, title) : null, ...children);
}

export function notice(kind: "info" | "warn" | "bad" | "ok", ...children: Child[]): HTMLElement {
  return h("div", { class: `notice notice-${kind}`, role: kind === "bad" ? "alert" : "status" }, ...children);
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return `${e.message} (${e.code})`;
  if (e instanceof Error) return e.message;
  return String(e);
}

export function table(head: string[], rows: Child[][], caption?: string): HTMLElement {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      null,
      caption ? h("caption", null, caption) : null,
      h("thead", null, h("tr", null, head.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", null, rows.length ? rows.map((r) => h("tr", null, r.map((c, i) => h("td", { "data-label": head[i] || null }, c)))) : h("tr", null, h("td", { colspan: head.length, class: "muted" }, "Nothing here yet."))),
    ),
  );
}

export function dl(pairs: [string, Child][]): HTMLElement {
  return h("dl", { class: "kv" }, pairs.map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
}

// A status line for an action's outcome, read out by screen readers.
export function status(): HTMLElement {
  return h("div", { class: "status", role: "status", "aria-live": "polite" });
}

// Runs an action with its button disabled; shows the error in `out`.
export async function act(btn: HTMLButtonElement | null, out: HTMLElement, fn: () => Promise<Child | void>): Promise<boolean> {
  if (btn) btn.disabled = true;
  replace(out, h("span", { class: "muted" }, "Working…"));
  try {
    const r = await fn();
    replace(out, r === undefined ? "" : r);
    return true;
  } catch (e) {
    replace(out, notice("bad", errorText(e)));
    return false;
  } finally {
    if (btn) btn.disabled = false;
  }
}

export function button(label: string, onclick: (ev: Event) => void, kind: "primary" | "secondary" | "danger" = "secondary", extra: Record<string, string> = {}): HTMLButtonElement {
  return h("button", { type: "button", class: `btn btn-${kind}`, onclick, ...extra }, label) as HTMLButtonElement;
}

export function link(href: string, ...children: Child[]): HTMLElement {
  return h("a", { href }, ...children);
}

export function loading(): HTMLElement {
  return h("p", { class: "muted" }, "Loading…");
}
