// main.ts — kura's operator screens: who is signed in, the navigation their
// role may use, and the screen the address names (#/...).
import { ApiError, call, get, post, setCsrf } from "./api";
import { Child, field, h, replace } from "./dom";
import { qrCanvas } from "./qr";
import { Me, Role, button, card, errorText, may, notice, page, status } from "./ui";
import { overview } from "./screens/overview";
import { transferList, transferDetail, transferNew } from "./screens/transfers";
import { walletList, walletDetail, walletRegister, deposits } from "./screens/wallets";
import { auditScreen, usersScreen, keysScreen, webhooksScreen } from "./screens/admin";

const root = document.getElementById("app")!;
let me: Me | null = null;

interface NavItem {
  href: string;
  label: string;
  roles: Role[] | "all";
}
const NAV: NavItem[] = [
  { href: "#/", label: "Overview", roles: "all" },
  { href: "#/transfers", label: "Transfers", roles: "all" },
  { href: "#/transfers/new", label: "New transfer", roles: ["initiator"] },
  { href: "#/deposits", label: "Deposits", roles: "all" },
  { href: "#/wallets", label: "Wallets & policy", roles: "all" },
  { href: "#/audit", label: "Audit", roles: ["administrator", "auditor"] },
  { href: "#/admin/users", label: "Users", roles: ["administrator", "auditor"] },
  { href: "#/admin/keys", label: "API keys", roles: ["administrator", "auditor"] },
  { href: "#/admin/webhooks", label: "Webhooks", roles: ["administrator", "auditor"] },
  { href: "#/account", label: "My account", roles: "all" },
];

function navFor(m: Me): NavItem[] {
  return NAV.filter((n) => n.roles === "all" || n.roles.includes(m.role));
}

function shell(m: Me, content: HTMLElement): HTMLElement {
  const here = location.hash || "#/";
  const items = navFor(m).map((n) => {
    const current = here === n.href || (n.href !== "#/" && here.startsWith(n.href + "/") && !NAV.some((o) => o.href !== n.href && here.startsWith(o.href) && o.href.length > n.href.length));
    return h("li", null, h("a", { href: n.href, "aria-current": current ? "page" : null }, n.label));
  });
  const signOut = button("Sign out", async () => {
    try {
      await call("DELETE", "/v1/session");
    } catch {
      /* signed out anyway */
    }
    me = null;
    location.hash = "#/";
    render();
  }, "secondary", { id: "sign-out" });
  return h(
    "div",
    { class: "shell" },
    h("a", { href: "#main", class: "skip" }, "Skip to content"),
    h(
      "header",
      { class: "top" },
      h("div", { class: "brand" }, h("span", { class: "logo", "aria-hidden": "true" }, "K"), h("span", null, "kura"), h("span", { class: "brand-sub" }, "custody coordinator")),
      h("div", { class: "who" }, h("span", { class: "who-name", id: "who-name" }, m.name), h("span", { class: `role role-${m.role}`, id: "who-role" }, m.role), signOut),
    ),
    h("nav", { class: "side", "aria-label": "Screens" }, h("ul", null, items)),
    h("main", { id: "main", tabindex: "-1" }, content),
  );
}

async function screenFor(m: Me, hash: string): Promise<HTMLElement> {
  const path = hash.replace(/^#/, "") || "/";
  const [pathname, query] = path.split("?");
  const q = new URLSearchParams(query || "");
  const seg = pathname.split("/").filter(Boolean);
  const denied = () => page("Not for your role", notice("warn", `The ${m.role} role does not use this screen.`));
  if (seg.length === 0) return overview(m);
  if (seg[0] === "transfers") {
    if (seg[1] === "new") return may(m, "requestTransfer") ? transferNew(m) : denied();
    if (seg[1]) return transferDetail(m, seg[1]);
    return transferList(m, q);
  }
  if (seg[0] === "deposits") return deposits(m, q);
  if (seg[0] === "wallets") {
    if (seg[1] === "new") return may(m, "registerWallet") ? walletRegister(m) : denied();
    return seg[1] ? walletDetail(m, seg[1]) : walletList(m);
  }
  if (seg[0] === "audit") return may(m, "audit") ? auditScreen(m, q) : denied();
  if (seg[0] === "admin") {
    if (!may(m, "peopleRead")) return denied();
    if (seg[1] === "users") return usersScreen(m);
    if (seg[1] === "keys") return keysScreen(m);
    if (seg[1] === "webhooks") return webhooksScreen(m, seg[2]);
  }
  if (seg[0] === "account") return account(m);
  return page("Not found", notice("warn", "No such screen."));
}

let renderSeq = 0;
async function render(): Promise<void> {
  const seq = ++renderSeq;
  if (!me) {
    try {
      const s = await get<{ principal: Me; csrf_token: string }>("/v1/session");
      me = s.principal;
      setCsrf(s.csrf_token);
    } catch {
      me = null;
    }
  }
  if (seq !== renderSeq) return;
  if (!me) {
    replace(root, signIn());
    return;
  }
  const m = me;
  const holder = h("div", { class: "loading" }, "Loading…");
  replace(root, shell(m, holder));
  let content: HTMLElement;
  try {
    content = await screenFor(m, location.hash);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      me = null;
      if (seq === renderSeq) replace(root, signIn("Your session ended; sign in again."));
      return;
    }
    content = page("Something went wrong", notice("bad", errorText(e)));
  }
  if (seq !== renderSeq) return;
  holder.replaceWith(content);
  document.title = `${content.querySelector("h1")?.textContent || "kura"} — kura`;
  (content.querySelector("h1") as HTMLElement | null)?.focus({ preventScroll: true });
}

export function rerender(): void {
  void render();
}

function signIn(why?: string): HTMLElement {
  const user = h("input", { type: "text", name: "username", autocomplete: "username", required: true, id: "signin-user" }) as HTMLInputElement;
  const pass = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true, id: "signin-password" }) as HTMLInputElement;
  const totp = h("input", { type: "text", name: "totp", inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6,8}", id: "signin-totp" }) as HTMLInputElement;
  const out = status();
  const form = h(
    "form",
    {
      class: "signin-form",
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        const body: Record<string, string> = { username: user.value, password: pass.value };
        if (totp.value) body.totp = totp.value;
        try {
          const s = await post<{ user: { id: string; username: string; role: Role; approver_name?: string }; csrf_token: string }>("/v1/session", body);
          setCsrf(s.csrf_token);
          me = { id: s.user.id, name: s.user.username, role: s.user.role, approver_name: s.user.approver_name || undefined, kind: "user" };
          pass.value = "";
          render();
        } catch (e) {
          if (e instanceof ApiError && e.code === "TOTP_REQUIRED") {
            replace(out, notice("warn", "This account needs the one-time code from your authenticator app."));
            totp.focus();
          } else {
            replace(out, notice("bad", errorText(e)));
          }
        }
      },
    },
    field("User name", user),
    field("Password", pass),
    field("One-time code (if your account has one)", totp, "Six digits from your authenticator app."),
    h("button", { type: "submit", class: "btn btn-primary", id: "signin-submit" }, "Sign in"),
    out,
  );
  return h(
    "main",
    { class: "signin", id: "main" },
    h("div", { class: "signin-box" }, h("div", { class: "brand brand-big" }, h("span", { class: "logo", "aria-hidden": "true" }, "K"), h("span", null, "kura")), h("h1", null, "Sign in"), why ? notice("warn", why) : null, form,
      h("p", { class: "hint" }, "Approvals are never made here: approvers sign on their own device with kura-approve.")),
  );
}

// My account: TOTP enrolment with its QR code (the otpauth URI drawn here).
function account(m: Me): HTMLElement {
  const area = h("div");
  const out = status();
  const start = button("Set up a one-time code", async () => {
    try {
      const e = await post<{ secret: string; otpauth_uri: string }>("/v1/users/me/totp", {});
      const code = h("input", { type: "text", inputmode: "numeric", autocomplete: "one-time-code", id: "totp-code", pattern: "[0-9]{6,8}" }) as HTMLInputElement;
      const confirmOut = status();
      replace(
        area,
        h("div", { class: "totp" },
          h("p", null, "Scan this code with your authenticator app, or type the secret. It is shown once."),
          h("div", { class: "qr-box" }, qrCanvas(e.otpauth_uri, { scale: 5, label: "QR code of your one-time-code secret" })),
          h("p", null, "Secret: ", h("code", { class: "mono secret", id: "totp-secret" }, e.secret)),
          h("p", { class: "hint" }, "Then type the code the app shows, to confirm:"),
          h("form", {
            class: "inline",
            onsubmit: async (ev: Event) => {
              ev.preventDefault();
              try {
                await post(`/v1/users/me/totp/confirm`, { code: code.value });
                replace(area, notice("ok", "One-time codes are on: sign-in now asks for one."));
              } catch (err) {
                replace(confirmOut, notice("bad", errorText(err)));
              }
            },
          }, field("Code", code), h("button", { type: "submit", class: "btn btn-primary", id: "totp-confirm" }, "Confirm")),
          confirmOut),
      );
    } catch (err) {
      replace(out, notice("bad", errorText(err)));
    }
  }, "primary", { id: "totp-start" });
  const items: Child[] = [
    card("Who you are", h("p", null, "Signed in as ", h("strong", null, m.name), " with the role ", h("strong", null, m.role), m.approver_name ? [" (approver name in policies: ", h("code", { class: "mono" }, m.approver_name), ")"] : null, ".")),
    card("One-time codes (TOTP)", h("p", null, "A second factor for signing in. Setting it up again replaces the old secret."), start, out, area),
  ];
  return page("My account", ...items);
}

window.addEventListener("hashchange", () => render());
render();
