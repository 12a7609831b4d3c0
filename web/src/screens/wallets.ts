// wallets.ts — wallets and their policies rendered for people, and deposit
// addresses (allocate with a label, show as QR).
import { ApiError, all, get, post } from "../api";
import { field, h, replace } from "../dom";
import { amount, badge, short, time } from "../format";
import { Balance, DEPOSIT_STATES, Deposit, chainStatus, depositMarks, followerBadge, followerNotice, followerState } from "../chain";
import { Policy, parsePolicy } from "../policy";
import { policySection } from "./policyview";
import { qrCanvas } from "../qr";
import { Me, act, button, card, dl, link, may, notice, page, status, table } from "../ui";

export async function walletList(m: Me): Promise<HTMLElement> {
  const ws = await all<any>("/v1/wallets");
  return page(
    "Wallets & policy",
    may(m, "registerWallet") ? h("p", null, link("#/wallets/new", h("span", { class: "btn btn-primary", id: "wallet-register-link" }, "Register a wallet"))) : null,
    table(
      ["Wallet", "Chain", "Kind", "Policy", "Registered"],
      ws.map((w) => [link(`#/wallets/${w.id}`, h("span", { class: "label-text" }, w.name)), w.chain, `${w.kind}${w.threshold ? ` (${w.threshold} signatures)` : ""}`, `version ${w.policy_version}`, time(w.created_at)]),
    ),
  );
}

// The policy's earlier versions, as the audit log holds them (roles that read
// it): each version's text and when the server accepted it, oldest first.
async function policyVersions(m: Me, wid: string, upTo: number): Promise<{ version: number; at: number; policy: Policy }[]> {
  if (!may(m, "audit")) return [];
  const out: { version: number; at: number; policy: Policy }[] = [];
  for (let v = 1; v <= upTo && v <= 50; v++) {
    const rows = await get<any>(`/v1/audit?object_type=policy&object_id=${encodeURIComponent(`${wid}:${v}`)}&limit=5`).catch(() => null);
    const row = rows?.items?.find((r: any) => r.data?.snapshot?.text);
    if (!row) return [];
    out.push({ version: v, at: row.at, policy: parsePolicy(row.data.snapshot.text) });
  }
  return out;
}

export async function walletDetail(m: Me, id: string): Promise<HTMLElement> {
  const w = await get<any>(`/v1/wallets/${encodeURIComponent(id)}`);
  const text: string = w.policy?.text || "";
  const p = parsePolicy(text);
  const sigs: string[] = Array.isArray(w.policy?.signatures) ? w.policy.signatures : [];
  const [bal, chain, versions] = await Promise.all([get<Balance>(`/v1/wallets/${w.id}/balance`).catch(() => null), chainStatus(), policyVersions(m, w.id, p.version)]);
  const st = followerState(chain);
  return page(
    `Wallet ${w.name}`,
    card("Wallet", dl([
      ["Name", h("span", { class: "label-text" }, w.name)],
      ["Chain", w.chain],
      ["Kind", `${w.kind}${w.threshold ? `, ${w.threshold} signatures` : ""}`],
      ["Descriptor", h("span", { class: "mono wrap" }, w.descriptor)],
      ["Balance", st !== "unconfigured" && bal && chain?.height !== null
        ? h("span", { id: "wallet-balance" }, amount(bal.confirmed), " confirmed, ", amount(bal.pending), " pending", ` (block ${bal.height})`)
        : h("span", { class: "muted", id: "wallet-balance" }, "not known: no chain follower has followed a block")],
      ["Confirmations for deposits", String(w.min_confirmations ?? "—")],
      ["Deposits", link(`#/deposits?wallet=${w.id}`, "addresses, deposits and accounts")],
    ])),
    await policySection(p, text, { sigs, acceptedAt: w.policy?.accepted_at, versions }),
    may(m, "audit") ? h("p", null, link(`#/audit?object_type=wallet&object_id=${encodeURIComponent(w.id)}`, "This wallet's audit trail")) : null,
  );
}

// Registration (administrators): the descriptor as `kura-cold export` prints
// it (or a BIP129 BSMS setup), the policy text and its administrators'
// signatures; POST /v1/wallets verifies all of it and answers a refusal by
// its stable code.
const REG_CODES: Record<string, string> = {
  INVALID_DESCRIPTOR: "The descriptor is not a kura wallet descriptor (wsh(sortedmulti), wpkh or tr, public keys only, both branches): paste what `kura-cold export` printed.",
  INVALID_POLICY: "The policy text does not parse as a canonical policy: use the file exactly as written, with its final newline.",
  POLICY_SIGNATURES: "The signatures do not make a quorum of the policy's administrators over this exact text (namespace kura-policy-v1).",
  POLICY_MISMATCH: "The policy names another wallet, descriptor checksum or network than the descriptor.",
  POLICY_STALE: "The policy is not newer than the one in force, or is for another wallet.",
  CONFLICT: "A wallet with this descriptor or name is registered already.",
  INVALID_FIELD: "A field breaks its rules (see the message).",
  MISSING_FIELD: "A required field is empty.",
};

async function readFiles(input: HTMLInputElement): Promise<string[]> {
  return Promise.all(Array.from(input.files || [], (f) => f.text()));
}

export function walletRegister(_m: Me): HTMLElement {
  const name = h("input", { type: "text", id: "reg-name", maxlength: 64, autocomplete: "off" }) as HTMLInputElement;
  const desc = h("textarea", { id: "reg-descriptor", rows: 4, class: "mono", spellcheck: "false" }) as HTMLTextAreaElement;
  const useBsms = h("input", { type: "checkbox", id: "reg-use-bsms" }) as HTMLInputElement;
  const bsmsDesc = h("textarea", { id: "reg-bsms-descriptor", rows: 4, class: "mono", spellcheck: "false" }) as HTMLTextAreaElement;
  const bsmsKeys = h("textarea", { id: "reg-bsms-keys", rows: 6, class: "mono", spellcheck: "false" }) as HTMLTextAreaElement;
  const policy = h("textarea", { id: "reg-policy", rows: 10, class: "mono", spellcheck: "false" }) as HTMLTextAreaElement;
  const policyFile = h("input", { type: "file", id: "reg-policy-file", accept: ".txt,text/plain,*/*" }) as HTMLInputElement;
  const sigs = h("textarea", { id: "reg-sigs", rows: 8, class: "mono", spellcheck: "false" }) as HTMLTextAreaElement;
  const sigFiles = h("input", { type: "file", id: "reg-sig-files", multiple: true, accept: ".sig,text/plain,*/*" }) as HTMLInputElement;
  const minConf = h("input", { type: "number", id: "reg-minconf", min: 0, max: 1000, value: 1 }) as HTMLInputElement;
  const birth = h("input", { type: "number", id: "reg-birth", min: 0, max: 100000000, value: 0 }) as HTMLInputElement;
  const preview = h("div", { id: "reg-preview" });
  const out = h("div", { class: "status", role: "status", "aria-live": "polite", id: "reg-out" });
  const bsmsBox = h("div", { class: "bsms", hidden: true },
    field("BSMS descriptor record (wallet.bsms)", bsmsDesc, "The coordinator's record (BIP129), as `kura-server bsms descriptor-record` wrote it."),
    field("BSMS key records, one after another", bsmsKeys, "Each device's signed key record (A.bsms, B.bsms, ...), pasted one after another."));
  const descBox = h("div", null, field("Descriptor (the output of `kura-cold export`)", desc, "The watch-only descriptor with both branches and its checksum, e.g. wsh(sortedmulti(2,[…]tpub…/<0;1>/*,…))#checksum."));
  useBsms.addEventListener("change", () => {
    bsmsBox.hidden = !useBsms.checked;
    descBox.hidden = useBsms.checked;
  });
  const splitSigs = (t: string): string[] => t.match(/-----BEGIN SSH SIGNATURE-----[\s\S]*?-----END SSH SIGNATURE-----\n?/g) || [];
  const splitKeyRecords = (t: string): string[] => t.split(/\n(?=BSMS )/).map((x) => x.trim()).filter(Boolean).map((x) => x + "\n");
  let seq = 0;
  const refresh = async () => {
    const mine = ++seq;
    const text = policy.value;
    if (!text.trim()) {
      replace(preview, h("p", { class: "muted" }, "The policy, read for people, appears here as you paste it."));
      return;
    }
    const p = parsePolicy(text);
    const section = await policySection(p, text, { sigs: splitSigs(sigs.value), preview: true });
    if (mine === seq) replace(preview, section);
  };
  policyFile.addEventListener("change", async () => {
    const [t] = await readFiles(policyFile);
    if (t !== undefined) policy.value = t;
    void refresh();
  });
  sigFiles.addEventListener("change", async () => {
    const ts = await readFiles(sigFiles);
    sigs.value = [sigs.value.trim(), ...ts.map((t) => t.trim())].filter(Boolean).join("\n") + "\n";
    void refresh();
  });
  policy.addEventListener("input", () => void refresh());
  sigs.addEventListener("input", () => void refresh());
  const form = h("form", {
    class: "stack-form",
    id: "reg-form",
    onsubmit: async (ev: Event) => {
      ev.preventDefault();
      const btn = form.querySelector("button[type=submit]") as HTMLButtonElement;
      const body: Record<string, unknown> = { policy: policy.value, policy_signatures: splitSigs(sigs.value) };
      if (name.value.trim()) body.name = name.value.trim();
      if (useBsms.checked) {
        body.bsms_descriptor_record = bsmsDesc.value.endsWith("\n") ? bsmsDesc.value : bsmsDesc.value + "\n";
        body.bsms_key_records = splitKeyRecords(bsmsKeys.value);
      } else body.descriptor = desc.value.trim();
      if (minConf.value !== "") body.min_confirmations = Number(minConf.value);
      if (birth.value !== "" && Number(birth.value) > 0) body.birth_height = Number(birth.value);
      btn.disabled = true;
      replace(out, h("span", { class: "muted" }, "Verifying…"));
      try {
        const w = await post<any>("/v1/wallets", body, true);
        replace(out, notice("ok", h("span", { id: "reg-ok" }, "Registered: ", link(`#/wallets/${w.id}`, h("span", { class: "label-text" }, w.name)), ` (${w.kind}, policy version ${w.policy_version}).`)));
      } catch (e) {
        const code = e instanceof ApiError ? e.code : "ERROR";
        replace(out, notice("bad",
          h("p", null, h("strong", null, "Refused: "), h("code", { class: "mono", id: "reg-error-code" }, code)),
          h("p", { class: "label-text", id: "reg-error-message" }, e instanceof Error ? e.message : String(e)),
          REG_CODES[code] ? h("p", null, REG_CODES[code]) : null));
      } finally {
        btn.disabled = false;
      }
    },
  },
    field("Name (optional; the policy's wallet name otherwise)", name),
    h("label", { class: "check" }, useBsms, " The wallet comes from a BSMS (BIP129) setup instead of a descriptor"),
    descBox,
    bsmsBox,
    field("Policy text", policy, "The signed policy file's exact text (docs/policy-format.md)."),
    field("…or the policy file", policyFile),
    field("Administrators' signatures (SSHSIG, armored, one after another)", sigs, "ssh-keygen -Y sign -n kura-policy-v1 output of each administrator; a quorum is needed."),
    field("…or the signature files", sigFiles),
    h("div", { class: "row" }, field("Confirmations a deposit needs", minConf), field("Birth height (the chain follower starts there; 0: from the start)", birth)),
    h("button", { type: "submit", class: "btn btn-primary", id: "reg-submit" }, "Register the wallet"),
  );
  void refresh();
  return page("Register a wallet",
    h("p", null, "Register a wallet from its ceremony: the descriptor ", h("code", null, "kura-cold export"), " prints, the policy the signers accepted, and the administrators' signatures over it. The server checks that the policy names this descriptor and network and that a quorum of its administrators signed it."),
    card("Wallet", form, out),
    card("The policy, as people read it", preview),
  );
}

// A wide table scrolls sideways inside its frame: keyboard users reach it
// with Tab and scroll it with the arrow keys.
function scrollable(label: string, t: HTMLElement): HTMLElement {
  t.setAttribute("tabindex", "0");
  t.setAttribute("role", "region");
  t.setAttribute("aria-label", label);
  return t;
}

export async function deposits(m: Me, q: URLSearchParams): Promise<HTMLElement> {
  const ws = await all<any>("/v1/wallets");
  if (!ws.length) return page("Deposits", notice("info", "No wallet is registered yet."));
  const wid = q.get("wallet") || ws[0].id;
  const w = ws.find((x: any) => x.id === wid) || ws[0];
  const fAccount = q.get("account") || "";
  const fState = q.get("state") || "";
  const dq = new URLSearchParams({ wallet_id: w.id });
  if (fAccount) dq.set("account", fAccount);
  if (fState) dq.set("state", fState);
  const [addrs, chain, deps, walletBal] = await Promise.all([
    all<any>(`/v1/wallets/${w.id}/addresses`, 5000),
    chainStatus(),
    all<Deposit>("/v1/deposits?" + dq, 5000),
    get<Balance>(`/v1/wallets/${w.id}/balance`).catch(() => null),
  ]);
  const st = followerState(chain);
  const accounts = [...new Set(addrs.map((a: any) => String(a.account || "")))].sort();
  const accBal = await Promise.all(accounts.map((a) => get<Balance>(`/v1/wallets/${w.id}/balance?account=${encodeURIComponent(a)}`).catch(() => null)));
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
  const accSel = h("select", { id: "dep-f-account" }, h("option", { value: "" }, "any account"), accounts.map((a) => h("option", { value: a, selected: a === fAccount }, a || "(none)"))) as HTMLSelectElement;
  const stateSel = h("select", { id: "dep-f-state" }, h("option", { value: "" }, "any state"), DEPOSIT_STATES.map((s) => h("option", { value: s, selected: s === fState }, s))) as HTMLSelectElement;
  const filters = h("form", {
    class: "filters",
    role: "search",
    onsubmit: (ev: Event) => {
      ev.preventDefault();
      const p = new URLSearchParams({ wallet: w.id });
      if (accSel.value) p.set("account", accSel.value);
      if (stateSel.value) p.set("state", stateSel.value);
      location.hash = "#/deposits?" + p;
    },
  }, field("Account", accSel), field("State", stateSel), h("button", { type: "submit", class: "btn btn-secondary", id: "dep-filter" }, "Filter"));
  const known = st !== "unconfigured";
  return page(
    "Deposits",
    field("Wallet", sel),
    h("p", null, "Chain follower: ", followerBadge(st), chain && chain.height !== null ? h("span", null, " at block ", h("span", { class: "mono" }, String(chain.height)), chain.lag !== null ? ` (${chain.lag} behind the node)` : "") : null),
    followerNotice(chain, st),
    known && walletBal
      ? card("Wallet balance", dl([
          ["Confirmed", h("span", { id: "dep-wallet-confirmed" }, amount(walletBal.confirmed))],
          ["Pending", h("span", { id: "dep-wallet-pending" }, amount(walletBal.pending))],
          ["Coins", String(walletBal.utxo_count ?? "—")],
          ["Confirmations needed", String(w.min_confirmations ?? "—")],
        ]))
      : null,
    alloc,
    qrArea,
    card("Accounts",
      h("p", { class: "hint" }, "What each account's deposits credited (confirmed, pending). Withdrawals are paid by the wallet, not by an account."),
      table(["Account", "Addresses", "Deposits", "Confirmed", "Pending"], accounts.map((a, i) => {
        const b = accBal[i];
        return [h("span", { class: "label-text acct-name" }, a || "(none)"), String(addrs.filter((x: any) => String(x.account || "") === a).length), b ? String(b.deposit_count ?? 0) : "—", b && known ? amount(b.confirmed) : "—", b && known ? amount(b.pending) : "—"];
      }), `${accounts.length} account${accounts.length === 1 ? "" : "s"}`)),
    card("Deposits",
      filters,
      h("div", { id: "dep-table" }, scrollable("Deposits", table(["Amount", "State", "Confirmations", "Marks", "Account", "Address, transaction, first seen"], deps.slice().reverse().map((d) => [
        amount(d.amount),
        badge(d.state),
        h("span", { class: "mono dep-conf" }, d.height === null ? "0 (unconfirmed)" : String(d.confirmations)),
        depositMarks(d),
        h("span", { class: "label-text" }, d.account || "—"),
        h("span", { class: "dep-where" },
          h("span", { class: "mono address small" }, `#${d.index} ${d.address}`), h("br"),
          h("span", { class: "mono wrap small muted", title: d.id }, `${d.txid}:${d.vout}`), h("br"),
          h("span", { class: "small" }, time(d.created_at))),
      ]), `${deps.length} deposit${deps.length === 1 ? "" : "s"}${fAccount || fState ? " (filtered)" : ""}`)))),
    card("Addresses",
      table(["#", "Address", "Account", "Label", "Allocated", ""], addrs.map((a) => [String(a.index), h("span", { class: "mono address" }, a.address), a.account || "—", a.label ? h("span", { class: "label-text" }, a.label) : "—", time(a.created_at),
        button("Show QR", () => showQr(a), "secondary", { "aria-label": `Show QR of address ${a.index}` })]))),
  );
}

export { short };
