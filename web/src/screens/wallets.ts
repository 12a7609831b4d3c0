// wallets.ts — wallets and their policies rendered for people, and deposit
// addresses (allocate with a label, show as QR).
import { all, get, post } from "../api";
import { field, h, replace } from "../dom";
import { amount, btc, sats, short, time } from "../format";
import { duration, fingerprint, parsePolicy } from "../policy";
import { qrCanvas } from "../qr";
import { Me, act, button, card, dl, link, may, notice, page, status, table } from "../ui";

export async function walletList(_m: Me): Promise<HTMLElement> {
  const ws = await all<any>("/v1/wallets");
  return page(
    "Wallets & policy",
    table(
      ["Wallet", "Chain", "Kind", "Policy", "Registered"],
      ws.map((w) => [link(`#/wallets/${w.id}`, w.name), w.chain, `${w.kind}${w.threshold ? ` (${w.threshold} signatures)` : ""}`, `version ${w.policy_version}`, time(w.created_at)]),
    ),
  );
}

export async function walletDetail(_m: Me, id: string): Promise<HTMLElement> {
  const w = await get<any>(`/v1/wallets/${encodeURIComponent(id)}`);
  const text: string = w.policy?.text || "";
  const p = parsePolicy(text);
  const sigs: string[] = Array.isArray(w.policy?.signatures) ? w.policy.signatures : [];
  const fps = await Promise.all([...p.admins, ...p.approvers].map((a) => fingerprint(a.key)));
  const adminFp = fps.slice(0, p.admins.length);
  const apprFp = fps.slice(p.admins.length);
  return page(
    `Wallet ${w.name}`,
    card("Wallet", dl([
      ["Name", w.name],
      ["Chain", w.chain],
      ["Kind", `${w.kind}${w.threshold ? `, ${w.threshold} signatures` : ""}`],
      ["Descriptor", h("span", { class: "mono wrap" }, w.descriptor)],
      ["Balance", w.balance ? h("span", null, amount(w.balance.confirmed), " confirmed, ", amount(w.balance.pending), " pending") : h("span", { class: "muted" }, "not known: the chain follower is not connected")],
      ["Confirmations for deposits", String(w.min_confirmations ?? "—")],
    ])),
    card(`Policy version ${p.version}`,
      dl([
        ["Signature status", h("span", null, h("span", { class: "badge badge-ok" }, "accepted"), ` — ${sigs.length} administrator signature${sigs.length === 1 ? "" : "s"}; ${p.adminQuorum} of ${p.admins.length} needed; verified by the server at ${time(w.policy?.accepted_at)} and again by every signer`)],
        ["Mode", p.mode],
        ["Network", p.network],
      ]),
      h("h3", null, "How many approvals a transfer needs"),
      table(["Total up to", "Approvals"], p.tiers.map((t) => [t.upTo === null ? "any amount" : h("span", { class: "mono" }, btc(t.upTo)), String(t.approvals)])),
      h("p", null, p.initiatorMayApprove ? "The initiator's own approval counts." : "The initiator's own approval does not count."),
      h("h3", null, "Approvers"),
      table(["Name", "Key fingerprint"], p.approvers.map((a, i) => [a.name, h("span", { class: "mono" }, apprFp[i])])),
      h("h3", null, "Administrators (sign policy changes)"),
      table(["Name", "Key fingerprint"], p.admins.map((a, i) => [a.name, h("span", { class: "mono" }, adminFp[i])])),
      h("h3", null, "Allowlist"),
      h("p", null, p.allowlistRequired ? "Only these destinations may be paid. " : "Destinations outside this list may be paid. ",
        p.allowlistDelay ? `Each entry may be paid from ${duration(p.allowlistDelay)} after the signer first accepted the policy that added it.` : "Each entry may be paid as soon as the signer has accepted the policy that added it."),
      table(["Address", "Label", "Waiting time"], p.allow.map((a) => [h("span", { class: "mono address" }, a.address), h("span", { class: "label-text" }, a.label), duration(p.allowlistDelay)])),
      h("h3", null, "Limits"),
      dl([
        ["Per transfer", h("span", { class: "mono" }, `${btc(p.maxPerTransfer)} (${sats(p.maxPerTransfer)})`)],
        ["In any 24 hours", h("span", { class: "mono" }, `${btc(p.maxPer24h)} (${sats(p.maxPer24h)})`)],
        ["Fee", h("span", { class: "mono" }, `${sats(p.maxFee)}, ${p.maxFeeRate} sat/vB`)],
        ["An intent lives at most", duration(p.maxLifetime)],
      ]),
      h("details", null, h("summary", null, "The policy's exact text"), h("pre", { class: "mono intent" }, text)),
    ),
  );
}

export async function deposits(m: Me, q: URLSearchParams): Promise<HTMLElement> {
  const ws = await all<any>("/v1/wallets");
  if (!ws.length) return page("Deposits", notice("info", "No wallet is registered yet."));
  const wid = q.get("wallet") || ws[0].id;
  const w = ws.find((x: any) => x.id === wid) || ws[0];
  const addrs = await all<any>(`/v1/wallets/${w.id}/addresses`, 5000);
  const sel = h("select", { id: "dep-wallet", onchange: (ev: Event) => { location.hash = `#/deposits?wallet=${(ev.currentTarget as HTMLSelectElement).value}`; } },
    ws.map((x: any) => h("option", { value: x.id, selected: x.id === w.id }, x.name))) as HTMLSelectElement;
  const qrArea = h("div", { class: "qr-area", id: "dep-qr" });
  const showQr = (a: any) =>
    replace(qrArea, card(`Deposit address ${a.index}`, h("div", { class: "qr-box" }, qrCanvas(`bitcoin:${a.address}`, { scale: 5, label: `QR code of ${a.address}` })),
      h("p", { class: "mono address" }, a.address), a.label ? h("p", null, "Label: ", h("span", { class: "label-text" }, a.label)) : null));
  let alloc: HTMLElement | null = null;
  if (may(m, "allocate")) {
    const account = h("input", { type: "text", id: "dep-account", maxlength: 128, required: true, value: "default" }) as HTMLInputElement;
    const label = h("input", { type: "text", id: "dep-label", maxlength: 256 }) as HTMLInputElement;
    const out = status();
    alloc = card("Allocate a deposit address", h("form", {
      class: "inline",
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        const btn = (ev.currentTarget as HTMLFormElement).querySelector("button") as HTMLButtonElement;
        await act(btn, out, async () => {
          const body: Record<string, string> = { account: account.value };
          if (label.value) body.label = label.value;
          const a = await post<any>(`/v1/wallets/${w.id}/addresses`, body, true);
          showQr(a);
          return notice("ok", h("span", null, "Allocated ", h("span", { class: "mono", id: "dep-new" }, a.address)));
        });
      },
    }, field("Account", account), field("Label (optional)", label), h("button", { type: "submit", class: "btn btn-primary", id: "dep-allocate" }, "Allocate")), out);
  }
  return page(
    "Deposits",
    field("Wallet", sel),
    notice("info", h("strong", null, "The chain follower is not connected: "), "deposits to these addresses, their confirmations and balances are not known to this server yet."),
    alloc,
    qrArea,
    card("Addresses",
      table(["#", "Address", "Account", "Label", "Allocated", ""], addrs.map((a) => [String(a.index), h("span", { class: "mono address" }, a.address), a.account || "—", a.label ? h("span", { class: "label-text" }, a.label) : "—", time(a.created_at),
        button("Show QR", () => showQr(a), "secondary", { "aria-label": `Show QR of address ${a.index}` })]))),
  );
}

export { short };
