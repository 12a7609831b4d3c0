// admin.ts — the audit log (filters, verify, export) and administration:
// users and roles, API keys (the secret shown once), webhooks and their
// delivery log with redelivery. Auditors see all of it and change nothing.
import { all, call, get, post } from "../api";
import { Child, field, h } from "../dom";
import { badge, download, short, time } from "../format";
import { Me, act, button, card, dl, link, may, notice, page, status, table } from "../ui";

const ROLES = ["viewer", "initiator", "approver", "administrator", "auditor"];
const SCOPES = ["wallets:read", "wallets:write", "addresses:read", "addresses:write", "transfers:read", "transfers:create", "transfers:approve", "transfers:sign", "transfers:cancel", "deposits:read", "audit:read", "webhooks:read", "webhooks:write", "users:read", "users:write", "keys:read", "keys:write"];

function toUnix(d: string): number | null {
  if (!d) return null;
  const t = Date.parse(d + "T00:00:00Z");
  return Number.isFinite(t) ? Math.floor(t / 1000) : null;
}

const OBJECT_TYPES = ["transfer", "wallet", "policy", "deposit", "user", "api_key", "webhook", "session", "journal"];

export async function auditScreen(_m: Me, q: URLSearchParams): Promise<HTMLElement> {
  const from = toUnix(q.get("from") || "");
  const to = toUnix(q.get("to") || "");
  const rng = new URLSearchParams();
  if (from !== null) rng.set("from", String(from));
  if (to !== null) rng.set("to", String(to + 86400));
  // The object filter is the server's (GET /v1/audit?object_type=&object_id=,
  // paged by cursor); action and actor filter what came back.
  const objType = q.get("object_type") || "";
  const objId = (q.get("object_id") || "").trim();
  const sq = new URLSearchParams(rng);
  if (objType) sq.set("object_type", objType);
  if (objId) sq.set("object_id", objId);
  const [rows, people, keys] = await Promise.all([
    all<any>("/v1/audit" + (sq.toString() ? "?" + sq : ""), 5000),
    all<any>("/v1/users", 5000),
    all<any>("/v1/api-keys", 5000),
  ]);
  // actors are ids: show the person's or the key's name beside them
  const names = new Map<string, string>([...people.map((u: any) => [u.id, u.username] as [string, string]), ...keys.map((k: any) => [k.id, `key ${k.name}`] as [string, string])]);
  const actor = (id: string) => (names.has(id) ? h("span", { title: id, class: "label-text" }, names.get(id)!) : h("span", { class: "mono small" }, id));
  const fAction = (q.get("action") || "").toLowerCase();
  const fActor = (q.get("actor") || "").toLowerCase();
  const shown = rows.filter((r) => (!fAction || r.action.toLowerCase().includes(fAction)) && (!fActor || `${r.actor} ${names.get(r.actor) || ""}`.toLowerCase().includes(fActor)));
  const inputs = {
    from: h("input", { type: "date", id: "audit-from", value: q.get("from") || "" }) as HTMLInputElement,
    to: h("input", { type: "date", id: "audit-to", value: q.get("to") || "" }) as HTMLInputElement,
    action: h("input", { type: "text", id: "audit-action", value: q.get("action") || "", placeholder: "transfer.approved" }) as HTMLInputElement,
    actor: h("input", { type: "text", id: "audit-actor", value: q.get("actor") || "" }) as HTMLInputElement,
    object_type: h("select", { id: "audit-object-type" }, h("option", { value: "" }, "any type"), OBJECT_TYPES.map((t) => h("option", { value: t, selected: t === objType }, t))) as HTMLSelectElement,
    object_id: h("input", { type: "text", id: "audit-object-id", value: objId, placeholder: "tr_…, wl_…, us_…", maxlength: 256 }) as HTMLInputElement,
  };
  const filters = h("form", {
    class: "filters",
    role: "search",
    onsubmit: (ev: Event) => {
      ev.preventDefault();
      const p = new URLSearchParams();
      for (const [k, el] of Object.entries(inputs)) if (el.value.trim()) p.set(k, el.value.trim());
      location.hash = "#/audit" + (p.toString() ? "?" + p : "");
    },
  }, field("From (UTC day)", inputs.from), field("To (UTC day)", inputs.to), field("Action", inputs.action), field("Actor", inputs.actor),
    field("Object type", inputs.object_type), field("Object id", inputs.object_id), h("button", { type: "submit", class: "btn btn-secondary", id: "audit-filter" }, "Filter"));
  const objectNote = objType || objId
    ? notice("info", h("span", { id: "audit-object-note" }, `The trail of ${objType || "any object"}${objId ? " " : ""}`, objId ? h("span", { class: "mono label-text" }, objId) : null, `: ${rows.length} row${rows.length === 1 ? "" : "s"}, in the chain's order. `),
        objType === "transfer" && objId ? link(`#/transfers/${encodeURIComponent(objId)}`, "Open the transfer") : null, " ", link("#/audit", "Clear the filter"))
    : null;
  const verifyOut = status();
  const verify = button("Verify the whole chain", async (ev) => {
    await act(ev.currentTarget as HTMLButtonElement, verifyOut, async () => {
      const r = await post<any>("/v1/audit/verify", {});
      return r.ok
        ? notice("ok", h("span", { id: "audit-verified" }, `The chain verifies: ${r.rows} rows, ${r.objects_checked} objects held against their last rows. Head: `), h("span", { class: "mono" }, `${r.head?.seq ?? ""} ${r.head?.hash ?? ""}`))
        : notice("bad", `The chain does NOT verify: ${JSON.stringify(r.chain_error || r.snapshot_mismatches)}`);
    });
  }, "primary", { id: "audit-verify" });
  const exportOut = status();
  const exp = (fmt: "jsonl" | "csv") =>
    button(`Export ${fmt.toUpperCase()}`, async (ev) => {
      await act(ev.currentTarget as HTMLButtonElement, exportOut, async () => {
        const p = new URLSearchParams(rng);
        p.set("format", fmt);
        const body = await call<Uint8Array>("GET", "/v1/audit?" + p, undefined, { accept: "bytes" });
        download(`kura-audit.${fmt}`, body, fmt === "csv" ? "text/csv" : "application/jsonl");
        return `Exported ${body.length} bytes (with the chain's head in its trailer).`;
      });
    });
  return page(
    "Audit log",
    card("Integrity", h("div", { class: "btn-row" }, verify, exp("jsonl"), exp("csv")), verifyOut, exportOut),
    filters,
    objectNote,
    table(["#", "When", "Actor", "Action", "Object", "Hash"], shown.slice(-1000).reverse().map((r) => [
      h("span", { class: "mono" }, String(r.seq)), time(r.at), actor(r.actor), h("span", { class: "mono" }, r.action),
      h("span", null, r.object_type === "transfer" ? link(`#/transfers/${r.object_id}`, h("span", { class: "mono" }, `${r.object_type} ${short(r.object_id, 12)}`)) : h("span", { class: "mono label-text" }, `${r.object_type} ${short(r.object_id, 12)}`),
        r.object_id && !objId ? [" ", h("a", { href: `#/audit?object_type=${encodeURIComponent(r.object_type)}&object_id=${encodeURIComponent(r.object_id)}`, class: "small trail-link", "aria-label": `The trail of ${r.object_type} ${r.object_id}` }, "trail")] : null),
      h("span", { class: "mono muted", title: r.hash }, short(r.hash, 12)),
    ]), `${shown.length} of ${rows.length} rows`),
  );
}

export async function usersScreen(m: Me): Promise<HTMLElement> {
  const users = await all<any>("/v1/users");
  const write = may(m, "peopleWrite");
  const rows = users.map((u) => {
    const cells: Child[] = [h("span", { class: "user-name" }, u.username), h("span", { class: `role role-${u.role}` }, u.role), u.approver_name ? h("span", { class: "mono" }, u.approver_name) : "—", u.totp_enabled ? "on" : "off", u.disabled ? badge("failed", "disabled") : badge("confirmed", "active"), time(u.created_at)];
    if (write && u.id !== m.id) {
      const out = status();
      cells.push(h("div", null, button(u.disabled ? "Enable" : "Disable", async (ev) => {
        if (await act(ev.currentTarget as HTMLButtonElement, out, async () => { await call("PATCH", `/v1/users/${u.id}`, { disabled: !u.disabled }); })) window.dispatchEvent(new HashChangeEvent("hashchange"));
      }, "secondary", { "aria-label": `${u.disabled ? "Enable" : "Disable"} ${u.username}` }), out));
    } else if (write) cells.push("");
    return cells;
  });
  let create: HTMLElement | null = null;
  if (write) {
    const name = h("input", { type: "text", id: "user-name", required: true, maxlength: 64, autocomplete: "off" }) as HTMLInputElement;
    const pw = h("input", { type: "password", id: "user-password", required: true, minlength: 12, autocomplete: "new-password" }) as HTMLInputElement;
    const role = h("select", { id: "user-role" }, ROLES.map((r) => h("option", { value: r }, r))) as HTMLSelectElement;
    const appr = h("input", { type: "text", id: "user-approver", maxlength: 64, autocomplete: "off" }) as HTMLInputElement;
    const out = status();
    create = card("Add a user", h("form", {
      class: "grid-form",
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        const btn = (ev.currentTarget as HTMLFormElement).querySelector("button") as HTMLButtonElement;
        const body: Record<string, string> = { username: name.value, password: pw.value, role: role.value };
        if (appr.value) body.approver_name = appr.value;
        if (await act(btn, out, async () => { await post("/v1/users", body, true); pw.value = ""; })) window.dispatchEvent(new HashChangeEvent("hashchange"));
      },
    }, field("User name", name), field("First password (12+ characters)", pw), field("Role", role), field("Approver name in policies (approvers)", appr), h("button", { type: "submit", class: "btn btn-primary", id: "user-create" }, "Add user")), out);
  }
  return page("Users and roles", create, table(["User", "Role", "Approver name", "TOTP", "Status", "Created", ...(write ? [""] : [])], rows));
}

export async function keysScreen(m: Me): Promise<HTMLElement> {
  const keys = await all<any>("/v1/api-keys");
  const write = may(m, "peopleWrite");
  let create: HTMLElement | null = null;
  if (write) {
    const name = h("input", { type: "text", id: "key-name", required: true, maxlength: 64 }) as HTMLInputElement;
    const role = h("select", { id: "key-role" }, ROLES.map((r) => h("option", { value: r }, r))) as HTMLSelectElement;
    const scopes = h("fieldset", { class: "scopes" }, h("legend", null, "Scopes"), SCOPES.map((s) => h("label", { class: "check" }, h("input", { type: "checkbox", value: s, name: "scope" }), " ", s)));
    const cidrs = h("input", { type: "text", id: "key-cidrs", placeholder: "10.0.0.0/8 192.168.1.5/32" }) as HTMLInputElement;
    const out = status();
    create = card("Create an API key", h("form", {
      class: "grid-form",
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        const btn = (ev.currentTarget as HTMLFormElement).querySelector("button[type=submit]") as HTMLButtonElement;
        const body: Record<string, unknown> = { name: name.value, role: role.value, scopes: Array.from(scopes.querySelectorAll("input:checked"), (i) => (i as HTMLInputElement).value) };
        if (cidrs.value.trim()) body.cidrs = cidrs.value.trim().split(/\s+/);
        await act(btn, out, async () => {
          const k = await post<any>("/v1/api-keys", body, true);
          return notice("warn", h("p", null, h("strong", null, "The key, shown this once: "), "copy it into the system that uses it now."), h("pre", { class: "mono secret", id: "key-secret" }, k.key));
        });
      },
    }, field("Name", name), field("Role", role), scopes, field("Allowed addresses (CIDR, optional)", cidrs), h("button", { type: "submit", class: "btn btn-primary", id: "key-create" }, "Create key")), out);
  }
  return page("API keys", create, table(["Name", "Prefix", "Role", "Scopes", "Addresses", "Created", "Last used", "Status", ...(write ? [""] : [])], keys.map((k) => {
    const out = status();
    const cells: Child[] = [k.name, h("span", { class: "mono" }, k.prefix), k.role, h("span", { class: "mono small" }, k.scopes.join(" ")), k.cidrs.length ? h("span", { class: "mono" }, k.cidrs.join(" ")) : "any", time(k.created_at), time(k.last_used_at), k.revoked_at ? badge("cancelled", "revoked") : badge("confirmed", "active")];
    if (write) cells.push(k.revoked_at ? "" : h("div", null, button("Revoke", async (ev) => {
      if (await act(ev.currentTarget as HTMLButtonElement, out, async () => { await call("DELETE", `/v1/api-keys/${k.id}`); })) window.dispatchEvent(new HashChangeEvent("hashchange"));
    }, "danger", { "aria-label": `Revoke ${k.name}` }), out));
    return cells;
  })));
}

export async function webhooksScreen(m: Me, id?: string): Promise<HTMLElement> {
  const write = may(m, "peopleWrite");
  if (id) {
    const [ep, ds] = await Promise.all([get<any>(`/v1/webhooks/${encodeURIComponent(id)}`), all<any>(`/v1/webhooks/${encodeURIComponent(id)}/deliveries`, 1000)]);
    const out = status();
    return page(
      "Webhook deliveries",
      card("Endpoint", dl([["URL", h("span", { class: "mono wrap" }, ep.url)], ["Events", h("span", { class: "mono" }, ep.events)], ["Enabled", ep.enabled ? "yes" : "no"], ["Created", time(ep.created_at)]]),
        write ? h("div", { class: "btn-row" }, button("Redeliver every failed event", async (ev) => {
          if (await act(ev.currentTarget as HTMLButtonElement, out, async () => { await post(`/v1/webhooks/${ep.id}/redeliver`, {}); })) window.dispatchEvent(new HashChangeEvent("hashchange"));
        }, "primary", { id: "redeliver-all" })) : null, out),
      table(["Event", "Type", "State", "Attempts", "Last status", "Last error", "Next attempt", "Delivered", ...(write ? [""] : [])], ds.map((d) => {
        const o = status();
        const cells: Child[] = [h("span", { class: "mono" }, short(d.event_id, 14)), h("span", { class: "mono" }, d.event_type), badge(d.state), String(d.attempts), d.last_status === null ? "—" : String(d.last_status), d.last_error ? h("span", { class: "label-text" }, d.last_error) : "—", time(d.next_attempt_at), time(d.delivered_at)];
        if (write) cells.push(h("div", null, button("Redeliver", async (ev) => {
          if (await act(ev.currentTarget as HTMLButtonElement, o, async () => { await post(`/v1/webhooks/${ep.id}/redeliver`, { event_id: d.event_id }); })) window.dispatchEvent(new HashChangeEvent("hashchange"));
        }, "secondary", { "aria-label": `Redeliver event ${d.event_id}` }), o));
        return cells;
      }), "Delivery log"),
    );
  }
  const eps = await all<any>("/v1/webhooks");
  let create: HTMLElement | null = null;
  if (write) {
    const url = h("input", { type: "url", id: "hook-url", required: true, placeholder: "https://ops.example/kura" }) as HTMLInputElement;
    const events = h("input", { type: "text", id: "hook-events", required: true, value: "*" }) as HTMLInputElement;
    const out = status();
    create = card("Add a webhook endpoint", h("form", {
      class: "grid-form",
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        const btn = (ev.currentTarget as HTMLFormElement).querySelector("button") as HTMLButtonElement;
        await act(btn, out, async () => {
          const w = await post<any>("/v1/webhooks", { url: url.value, events: events.value }, true);
          return notice("warn", h("p", null, h("strong", null, "The signing secret, shown this once:")), h("pre", { class: "mono secret", id: "hook-secret" }, w.secret));
        });
      },
    }, field("URL", url), field("Events (space-separated patterns, * for all)", events), h("button", { type: "submit", class: "btn btn-primary", id: "hook-create" }, "Add endpoint")), out);
  }
  return page("Webhooks", create, table(["URL", "Events", "Enabled", "Created", ""], eps.map((e) => {
    const out = status();
    return [h("span", { class: "mono wrap" }, e.url), h("span", { class: "mono" }, e.events), e.enabled ? "yes" : "no", time(e.created_at),
      h("div", { class: "btn-row" }, link(`#/admin/webhooks/${e.id}`, "Delivery log"), write ? button("Remove", async (ev) => {
        if (await act(ev.currentTarget as HTMLButtonElement, out, async () => { await call("DELETE", `/v1/webhooks/${e.id}`); })) window.dispatchEvent(new HashChangeEvent("hashchange"));
      }, "danger", { "aria-label": `Remove ${e.url}` }) : null, out)];
  })));
}
