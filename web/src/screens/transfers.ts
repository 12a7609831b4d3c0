// transfers.ts — the list, one transfer (timeline, the intent and its hash,
// outputs against the allowlist, approvals, the air gap), and a new request.
import { ApiError, all, call, get, post } from "../api";
import { Child, field, h, replace } from "../dom";
import { amount, b64, badge, btc, download, sats, sha256Hex, short, time, txVsize } from "../format";
import { Policy, allowLabel, duration, fingerprint, parsePolicy, tierFor } from "../policy";
import { Me, act, button, card, dl, errorText, link, may, notice, page, status, table } from "../ui";
import { airGap } from "./airgap";
import { chainStatus, followerState } from "../chain";

const STATES = ["awaiting_approval", "approved", "awaiting_signatures", "signed", "broadcast", "confirmed", "cancelled", "rejected", "expired", "failed", "replaced"];

export interface Transfer {
  id: string;
  wallet_id: string;
  external_id: string | null;
  state: string;
  intent_id: string;
  intent_hash: string;
  initiator: string;
  created_by: string;
  outputs: { address: string; amount: number; label?: string }[];
  total: number;
  max_fee: number;
  expires_at: number;
  approvals: { approver: string; created_at: number }[];
  signatures_received: number;
  txid: string | null;
  fee: number | null;
  package_sha256?: string | null;
  reason: string | null;
  created_at: number;
  updated_at: number;
}

export async function transferList(_m: Me, q: URLSearchParams): Promise<HTMLElement> {
  const wallets = await all<any>("/v1/wallets");
  const params = new URLSearchParams();
  if (q.get("state")) params.set("state", q.get("state")!);
  if (q.get("wallet_id")) params.set("wallet_id", q.get("wallet_id")!);
  const list = await all<Transfer>("/v1/transfers" + (params.toString() ? "?" + params : ""), 2000);
  const search = (q.get("q") || "").toLowerCase();
  const shown = search
    ? list.filter((t) => [t.id, t.external_id || "", t.initiator, ...t.outputs.flatMap((o) => [o.address, o.label || ""])].some((s) => s.toLowerCase().includes(search)))
    : list;
  const walletName = new Map(wallets.map((w: any) => [w.id, w.name]));
  const state = h("select", { name: "state", id: "filter-state" }, h("option", { value: "" }, "any state"), STATES.map((s) => h("option", { value: s, selected: q.get("state") === s }, s.replace(/_/g, " ")))) as HTMLSelectElement;
  const wallet = h("select", { name: "wallet_id", id: "filter-wallet" }, h("option", { value: "" }, "any wallet"), wallets.map((w: any) => h("option", { value: w.id, selected: q.get("wallet_id") === w.id }, w.name))) as HTMLSelectElement;
  const text = h("input", { type: "search", name: "q", id: "filter-q", value: q.get("q") || "", placeholder: "id, external id, address, label" }) as HTMLInputElement;
  const form = h("form", {
    class: "filters",
    role: "search",
    onsubmit: (ev: Event) => {
      ev.preventDefault();
      const p = new URLSearchParams();
      if (state.value) p.set("state", state.value);
      if (wallet.value) p.set("wallet_id", wallet.value);
      if (text.value) p.set("q", text.value);
      location.hash = "#/transfers" + (p.toString() ? "?" + p : "");
    },
  }, field("State", state), field("Wallet", wallet), field("Search", text), h("button", { type: "submit", class: "btn btn-secondary" }, "Filter"));
  return page(
    "Transfers",
    form,
    table(
      ["Transfer", "State", "Wallet", "Total", "Outputs", "Initiator", "Created"],
      shown.map((t) => [
        link(`#/transfers/${t.id}`, h("span", { class: "mono" }, short(t.id, 14))),
        badge(t.state),
        String(walletName.get(t.wallet_id) || t.wallet_id),
        amount(t.total),
        String(t.outputs.length),
        t.initiator,
        time(t.created_at),
      ]),
      `${shown.length} transfer${shown.length === 1 ? "" : "s"}`,
    ),
  );
}

// The state timeline: this transfer's own audit rows (GET /v1/audit with
// its object filter, every page) when the role may read the audit log, else
// what the transfer itself records.
async function timeline(m: Me, t: Transfer): Promise<HTMLElement> {
  let rows: { at: number; what: string; who: string; seq?: number; hash?: string }[] = [];
  let source = "from the transfer's own record";
  if (may(m, "audit")) {
    const [audit, people, keys] = await Promise.all([
      all<any>(`/v1/audit?object_type=transfer&object_id=${encodeURIComponent(t.id)}`, 5000),
      all<any>("/v1/users", 5000),
      all<any>("/v1/api-keys", 5000),
    ]);
    const names = new Map<string, string>([...people.map((u: any) => [u.id, u.username] as [string, string]), ...keys.map((k: any) => [k.id, `key ${k.name}`] as [string, string])]);
    rows = audit.map((r) => ({ at: r.at, what: r.action, who: names.get(r.actor) || r.actor, seq: r.seq, hash: r.hash }));
    source = `from the audit log: ${rows.length} row${rows.length === 1 ? "" : "s"} about this transfer`;
  }
  if (!rows.length) {
    rows.push({ at: t.created_at, what: "transfer.requested", who: t.initiator });
    for (const a of t.approvals) rows.push({ at: a.created_at, what: "transfer.approved", who: a.approver });
    if (t.updated_at !== t.created_at) rows.push({ at: t.updated_at, what: `now ${t.state.replace(/_/g, " ")}`, who: "" });
  }
  rows.sort((a, b) => a.at - b.at || (a.seq || 0) - (b.seq || 0));
  return card(
    "Timeline",
    h("p", { class: "hint", id: "timeline-source" }, source),
    h("ol", { class: "timeline", id: "timeline" }, rows.map((r) => h("li", null, h("span", { class: "tl-time mono" }, time(r.at)), h("span", { class: "tl-what" }, r.what), r.who ? h("span", { class: "tl-who label-text" }, r.who) : null,
      r.seq ? h("span", { class: "tl-seq mono muted small", title: r.hash || "" }, `#${r.seq}`) : null))),
    may(m, "audit") ? h("p", null, link(`#/audit?object_type=transfer&object_id=${encodeURIComponent(t.id)}`, "Open this trail in the audit log")) : null,
  );
}

interface ChainInfo {
  transfer_id: string;
  state: string;
  txid: string | null;
  height: number | null;
  block_hash: string | null;
  confirmations: number;
  broadcasts: number;
  last_broadcast_at: number | null;
  last_error: string | null;
}

export async function transferDetail(m: Me, id: string): Promise<HTMLElement> {
  const t = await get<Transfer>(`/v1/transfers/${encodeURIComponent(id)}`);
  const [wallet, intentBytes, onChain, follower] = await Promise.all([
    get<any>(`/v1/wallets/${t.wallet_id}`),
    call<Uint8Array>("GET", `/v1/transfers/${t.id}/intent`, undefined, { accept: "bytes" }),
    get<ChainInfo>(`/v1/transfers/${t.id}/chain`).catch(() => null),
    chainStatus(),
  ]);
  const fst = followerState(follower);
  const txid = onChain?.txid || t.txid;
  let confirmations: HTMLElement;
  if (!txid) confirmations = h("span", { class: "muted", id: "tx-confirmations" }, "no transaction yet");
  else if (fst === "unconfigured") confirmations = h("span", { class: "muted", id: "tx-confirmations" }, "not known: no chain follower is configured");
  else if (onChain && onChain.height !== null)
    confirmations = h("span", null, h("span", { class: "mono", id: "tx-confirmations" }, String(onChain.confirmations)), ` (mined in block ${onChain.height})`, fst !== "ok" ? h("span", { class: "muted" }, ` — the follower is ${fst}`) : null);
  else
    confirmations = h("span", null, h("span", { class: "mono", id: "tx-confirmations" }, "0"),
      onChain && onChain.broadcasts ? ` — broadcast ${onChain.broadcasts} time${onChain.broadcasts === 1 ? "" : "s"}, last at ${time(onChain.last_broadcast_at)}; not mined yet` : " — not broadcast yet");
  const broadcastError = onChain?.last_error ? h("span", { class: "label-text", id: "tx-broadcast-error" }, onChain.last_error) : null;
  const policy = parsePolicy(wallet.policy?.text || "");
  const intentText = new TextDecoder("utf-8", { fatal: false }).decode(intentBytes);
  const hash = await sha256Hex(intentBytes);
  const hashOk = hash === t.intent_hash;
  const tier = tierFor(policy, t.total);
  // The fee rate once the signed transaction exists (its vsize); before, only the cap.
  let feeRate: HTMLElement | null = null;
  if (t.txid && t.fee !== null) {
    const raw = await get<{ hex: string }>(`/v1/transfers/${t.id}/tx`).catch(() => null);
    const vs = raw ? txVsize(raw.hex) : null;
    if (vs) feeRate = h("span", { class: "mono", id: "fee-rate" }, `${(t.fee / vs).toFixed(2)} sat/vB (${vs} vB)`);
  }

  const outputs = table(
    ["#", "Address", "Amount", "Label in the request", "Allowlist"],
    t.outputs.map((o, i) => {
      const al = allowLabel(policy, o.address);
      return [
        String(i + 1),
        h("span", { class: "mono address" }, o.address),
        amount(o.amount),
        o.label ? h("span", { class: "label-text" }, o.label) : h("span", { class: "muted" }, "—"),
        al !== null
          ? h("span", { class: "allow-ok" }, h("span", { class: "badge badge-ok" }, "allowlisted"), " as ", h("span", { class: "label-text" }, al))
          : h("span", { class: "badge badge-bad", role: "note" }, policy.allowlistRequired ? "NOT ON THE ALLOWLIST — the signer will refuse" : "NOT ON THE ALLOWLIST"),
      ];
    }),
  );

  const approvals = await Promise.all(
    t.approvals.map(async (a) => {
      const key = policy.approvers.find((p) => p.name === a.approver)?.key;
      return [a.approver, time(a.created_at), key ? h("span", { class: "mono" }, await fingerprint(key)) : h("span", { class: "muted" }, "not in the policy")] as Child[];
    }),
  );

  const parts: Child[] = [
    h("div", { class: "title-row" }, badge(t.state), h("span", { class: "mono muted" }, t.id)),
    card(
      "Summary",
      dl([
        ["Wallet", link(`#/wallets/${t.wallet_id}`, wallet.name)],
        ["External id", t.external_id ? h("span", { class: "mono" }, t.external_id) : "—"],
        ["Initiator", t.initiator],
        ["Total", amount(t.total)],
        ["Fee", t.fee === null ? h("span", null, "set when the package is made; at most ", amount(t.max_fee)) : h("span", null, amount(t.fee), " (at most ", amount(t.max_fee), ")")],
        ["Fee rate", feeRate || h("span", { class: "muted" }, "known once the signed transaction exists")],
        ["Created", time(t.created_at)],
        ["Expires", time(t.expires_at)],
        ["Approvals", `${t.approvals.length} of ${tier ? tier.approvals : "?"} required by the policy's tier`],
        ["Signed PSBTs received", String(t.signatures_received)],
        ["Transaction id", txid ? h("span", { class: "mono wrap", id: "txid" }, txid) : "—"],
        ["Confirmations", confirmations],
        onChain?.block_hash ? ["Block", h("span", { class: "mono wrap small" }, onChain.block_hash)] : ["", ""],
        broadcastError ? ["The node's last refusal", broadcastError] : ["", ""],
        t.reason ? ["Reason", h("span", { class: "label-text" }, t.reason)] : ["", ""],
      ].filter(([k]) => k) as [string, Child][]),
    ),
    card("Outputs", outputs),
    card(
      "The intent (what approvers sign and the signer checks)",
      h("pre", { class: "intent mono", id: "intent-text", tabindex: "0", "aria-label": "The intent's exact text" }, intentText),
      dl([
        ["SHA-256 (computed here)", h("span", { class: "mono", id: "intent-sha" }, hash)],
        ["SHA-256 (the server's)", h("span", { class: "mono" }, t.intent_hash)],
      ]),
      hashOk
        ? notice("ok", h("span", { id: "intent-hash-ok" }, "The hashes match. kura-cold shows this SHA-256 when it signs: compare it there."))
        : notice("bad", "The hashes DIFFER: the text shown is not the intent the server holds. Do not approve; tell security."),
    ),
    card("Approvals", table(["Approver", "When", "Key fingerprint"], approvals)),
  ];

  if (may(m, "approve") && t.state === "awaiting_approval") parts.push(approvePanel(m, t, intentBytes, policy, wallet));
  if (may(m, "carryFiles") && ["approved", "awaiting_signatures", "signed"].includes(t.state)) parts.push(await airGap(t));
  if (may(m, "cancel") && ["awaiting_approval", "approved", "awaiting_signatures", "signed"].includes(t.state)) parts.push(cancelPanel(t));
  parts.push(await timeline(m, t));
  if (t.txid) {
    const out = status();
    parts.push(card("Raw transaction", button("Show the signed transaction", async (ev) => {
      await act(ev.currentTarget as HTMLButtonElement, out, async () => {
        const r = await get<{ hex: string }>(`/v1/transfers/${t.id}/tx`);
        return h("pre", { class: "mono wrap" }, r.hex);
      });
    }), out));
  }
  return page(`Transfer ${short(t.id, 12)}`, ...parts);
}

function approvePanel(m: Me, t: Transfer, intent: Uint8Array, policy: Policy, wallet: any): HTMLElement {
  const file = `intent-${t.id}.txt`;
  const pol = `policy-${wallet.name}-v${policy.version}.txt`;
  const cmd = `kura-approve approve ${file} --policy ${pol} --key ~/.ssh/id_ed25519 -o ${file}.sig`;
  const sigFile = h("input", { type: "file", id: "sig-file", accept: ".sig,.txt,text/plain" }) as HTMLInputElement;
  const out = status();
  const reason = h("textarea", { id: "reject-reason", rows: 2, maxlength: 500, required: true }) as HTMLTextAreaElement;
  const rejectOut = status();
  const initiatorNote =
    m.approver_name && m.approver_name === t.initiator && !policy.initiatorMayApprove ? notice("warn", "You initiated this transfer: the policy does not count your approval.") : null;
  return card(
    "Approve or reject",
    initiatorNote,
    h("ol", { class: "steps" },
      h("li", null, "Download the intent and the wallet's policy to the device that holds your SSH key: ",
        button("Download the intent", () => download(file, intent, "text/plain"), "secondary", { id: "dl-intent" }), " ",
        button("Download the policy", () => download(pol, wallet.policy.text, "text/plain"), "secondary", { id: "dl-policy" })),
      h("li", null, "On that device, read it and sign it with your own key:", h("pre", { class: "mono cmd", id: "approve-cmd" }, cmd),
        h("p", { class: "hint" }, "kura-approve shows each output against the policy's allowlist and the SHA-256 above. Nothing in this browser signs.")),
      h("li", null, "Upload the signature file it wrote:",
        h("form", {
          class: "inline",
          onsubmit: async (ev: Event) => {
            ev.preventDefault();
            const f = sigFile.files?.[0];
            if (!f) {
              replace(out, notice("bad", "Choose the signature file first."));
              return;
            }
            const btn = (ev.currentTarget as HTMLFormElement).querySelector("button") as HTMLButtonElement;
            const okDone = await act(btn, out, async () => {
              const text = await f.text();
              await post(`/v1/transfers/${t.id}/approvals`, { signature: text });
              return notice("ok", "Your approval is recorded.");
            });
            if (okDone) setTimeout(() => window.dispatchEvent(new HashChangeEvent("hashchange")), 600);
          },
        }, field("Signature file (.sig)", sigFile), h("button", { type: "submit", class: "btn btn-primary", id: "upload-approval" }, "Upload approval")),
        out),
    ),
    h("details", { class: "reject" },
      h("summary", null, "Reject this transfer"),
      h("form", {
        onsubmit: async (ev: Event) => {
          ev.preventDefault();
          if (!reason.value.trim()) {
            replace(rejectOut, notice("bad", "A rejection needs a reason."));
            return;
          }
          const btn = (ev.currentTarget as HTMLFormElement).querySelector("button") as HTMLButtonElement;
          if (await act(btn, rejectOut, async () => {
            await post(`/v1/transfers/${t.id}/reject`, { reason: reason.value.trim() });
            return notice("ok", "Rejected.");
          })) setTimeout(() => window.dispatchEvent(new HashChangeEvent("hashchange")), 600);
        },
      }, field("Reason (required, one line)", reason), h("button", { type: "submit", class: "btn btn-danger", id: "reject-submit" }, "Reject")),
      rejectOut),
  );
}

function cancelPanel(t: Transfer): HTMLElement {
  const reason = h("input", { type: "text", id: "cancel-reason", maxlength: 500 }) as HTMLInputElement;
  const out = status();
  return card(
    "Cancel",
    h("form", {
      class: "inline",
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        const btn = (ev.currentTarget as HTMLFormElement).querySelector("button") as HTMLButtonElement;
        if (await act(btn, out, async () => {
          await post(`/v1/transfers/${t.id}/cancel`, reason.value ? { reason: reason.value } : {});
          return notice("ok", "Cancelled.");
        })) setTimeout(() => window.dispatchEvent(new HashChangeEvent("hashchange")), 600);
      },
    }, field("Reason (optional)", reason), h("button", { type: "submit", class: "btn btn-danger", id: "cancel-submit" }, "Cancel the transfer")),
    out,
  );
}

// "0.3" / "1" / "0.00000001" BTC -> sats, exactly; null when not an amount.
export function parseBtc(s: string): number | null {
  const m = /^\s*(\d{1,8})(?:\.(\d{1,8}))?\s*$/.exec(s);
  if (!m) return null;
  const v = Number(m[1]) * 1e8 + Number((m[2] || "").padEnd(8, "0"));
  return Number.isSafeInteger(v) && v > 0 ? v : null;
}

export async function transferNew(_m: Me): Promise<HTMLElement> {
  const wallets = await all<any>("/v1/wallets");
  if (!wallets.length) return page("New transfer", notice("info", "No wallet is registered yet: an administrator registers one first."));
  const full = new Map<string, any>();
  const walletSel = h("select", { id: "nt-wallet", required: true }, wallets.map((w: any) => h("option", { value: w.id }, w.name))) as HTMLSelectElement;
  const rows = h("div", { class: "out-rows" });
  const extId = h("input", { type: "text", id: "nt-external", maxlength: 128 }) as HTMLInputElement;
  const maxFee = h("input", { type: "number", id: "nt-maxfee", min: 1, step: 1, value: 50000, required: true }) as HTMLInputElement;
  const expires = h("input", { type: "number", id: "nt-expires", min: 1, step: 1, value: 6, required: true }) as HTMLInputElement;
  const check = h("div", { class: "precheck", "aria-live": "polite", id: "nt-check" });
  const out = status();
  let n = 0;
  const addRow = () => {
    n += 1;
    const i = n;
    const addr = h("input", { type: "text", class: "mono", id: `nt-addr-${i}`, required: true, spellcheck: "false", autocomplete: "off", oninput: () => void refresh() }) as HTMLInputElement;
    const amt = h("input", { type: "text", class: "mono", id: `nt-amount-${i}`, inputmode: "decimal", required: true, placeholder: "0.00000000", oninput: () => void refresh() }) as HTMLInputElement;
    const lbl = h("input", { type: "text", id: `nt-label-${i}`, maxlength: 100 }) as HTMLInputElement;
    const row = h("fieldset", { class: "out-row" }, h("legend", null, `Output ${i}`), field("Address", addr), field("Amount (BTC)", amt), field("Label (optional)", lbl),
      i > 1 ? button("Remove", () => { row.remove(); void refresh(); }, "secondary") : null);
    rows.appendChild(row);
  };
  const collect = () =>
    Array.from(rows.querySelectorAll("fieldset")).map((fs) => {
      const [a, v, l] = Array.from(fs.querySelectorAll("input")) as HTMLInputElement[];
      return { address: a.value.trim(), amount: parseBtc(v.value), label: l.value };
    });
  const policyOf = async (): Promise<Policy> => {
    if (!full.has(walletSel.value)) full.set(walletSel.value, await get(`/v1/wallets/${walletSel.value}`));
    return parsePolicy(full.get(walletSel.value).policy?.text || "");
  };
  const refresh = async () => {
    const p = await policyOf();
    const outs = collect();
    const total = outs.reduce((s, o) => s + (o.amount || 0), 0);
    const tier = tierFor(p, total);
    const items: Child[] = [
      h("p", null, "Total ", amount(total), tier ? [" — the policy's tier needs ", h("strong", { id: "nt-tier" }, `${tier.approvals} approval${tier.approvals === 1 ? "" : "s"}`), tier.upTo !== null ? ` (up to ${btc(tier.upTo)})` : " (the top tier)"] : null),
    ];
    const list = h("ul", { class: "checks" });
    outs.forEach((o, i) => {
      if (!o.address) return;
      const al = allowLabel(p, o.address);
      list.appendChild(h("li", { "data-allow": al !== null ? "yes" : "no" }, `Output ${i + 1}: `, h("span", { class: "mono address" }, o.address), " — ",
        al !== null ? [h("span", { class: "badge badge-ok" }, "allowlisted"), " as ", h("span", { class: "label-text" }, al), p.allowlistDelay ? ` (usable ${duration(p.allowlistDelay)} after the signer accepted the entry)` : ""]
          : h("span", { class: "badge badge-bad" }, p.allowlistRequired ? "NOT ON THE ALLOWLIST: the signer will refuse" : "not on the allowlist")));
    });
    items.push(list);
    if (total > p.maxPerTransfer) items.push(notice("bad", `Over the policy's ${btc(p.maxPerTransfer)} per transfer.`));
    if (Number(maxFee.value) > p.maxFee) items.push(notice("warn", `The fee cap is over the policy's ${sats(p.maxFee)}.`));
    if (Number(expires.value) * 3600 > p.maxLifetime) items.push(notice("warn", `Intents live at most ${duration(p.maxLifetime)} under this policy.`));
    replace(check, ...items);
  };
  walletSel.addEventListener("change", () => void refresh());
  maxFee.addEventListener("input", () => void refresh());
  expires.addEventListener("input", () => void refresh());
  addRow();
  const form = h("form", {
    class: "new-transfer",
    onsubmit: async (ev: Event) => {
      ev.preventDefault();
      const outs = collect();
      if (outs.some((o) => !o.address || o.amount === null)) {
        replace(out, notice("bad", "Every output needs an address and an amount in BTC (up to 8 decimals)."));
        return;
      }
      const body: Record<string, unknown> = {
        wallet_id: walletSel.value,
        outputs: outs.map((o) => (o.label ? { address: o.address, amount: o.amount, label: o.label } : { address: o.address, amount: o.amount })),
        max_fee: Number(maxFee.value),
        expires_in: Number(expires.value) * 3600,
      };
      if (extId.value) body.external_id = extId.value;
      const btn = (ev.currentTarget as HTMLFormElement).querySelector("button[type=submit]") as HTMLButtonElement;
      await act(btn, out, async () => {
        try {
          const t = await post<Transfer>("/v1/transfers", body, true);
          location.hash = `#/transfers/${t.id}`;
        } catch (e) {
          if (e instanceof ApiError) throw e;
          throw new Error(errorText(e));
        }
      });
    },
  },
    field("Wallet", walletSel),
    rows,
    button("Add an output", () => addRow(), "secondary", { id: "nt-add" }),
    h("div", { class: "grid-form" },
      field("Maximum fee (sats)", maxFee),
      field("Expires in (hours)", expires),
      field("External id (optional)", extId, "Your system's reference; a second request with it is refused.")),
    card("Before you submit", check),
    h("button", { type: "submit", class: "btn btn-primary", id: "nt-submit" }, "Request the transfer"),
    out,
  );
  void refresh();
  return page("New transfer", form);
}

export { b64 };
