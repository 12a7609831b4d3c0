// overview.ts — what needs me, wallets and their balances (confirmed,
// pending) from the chain follower, its height and lag (or why there is
// none), webhook failures.
import { all, get } from "../api";
import { h } from "../dom";
import { amount, badge, short, time } from "../format";
import { Me, card, link, may, notice, page, table } from "../ui";
import { Balance, chainStatus, followerBadge, followerFacts, followerNotice, followerState } from "../chain";

interface Wallet {
  id: string;
  name: string;
  chain: string;
  kind: string;
  threshold: number;
  policy_version: number;
}

export async function overview(m: Me): Promise<HTMLElement> {
  const [wallets, transfers, chain] = await Promise.all([all<Wallet>("/v1/wallets"), all<any>("/v1/transfers", 500), chainStatus()]);
  const balances = await Promise.all(wallets.map((w) => get<Balance>(`/v1/wallets/${w.id}/balance`).catch(() => null)));
  const mine = transfers.filter((t) => {
    if (m.role === "approver") return t.state === "awaiting_approval" && !t.approvals.some((a: any) => a.approver === m.approver_name);
    if (m.role === "initiator") return t.state === "approved" || t.state === "awaiting_signatures";
    if (m.role === "administrator") return t.state === "approved" || t.state === "awaiting_signatures";
    return false;
  });
  const awaitingWhat =
    m.role === "approver" ? "Transfers waiting for your approval" : m.role === "viewer" || m.role === "auditor" ? null : "Transfers waiting for signatures from the signers";

  // Balances: only what the server reports; with no follower, no number.
  const st = followerState(chain);
  const known = st !== "unconfigured" && chain !== null && chain.height !== null;
  const chainCard = card(
    "Chain follower",
    h("p", null, "State: ", followerBadge(st)),
    followerNotice(chain, st),
    followerFacts(chain),
  );
  const balanceCard = card(
    "Balances",
    known
      ? table(
          ["Wallet", "Confirmed", "Pending", "Coins"],
          wallets.map((w, i) => {
            const b = balances[i];
            return [link(`#/wallets/${w.id}`, w.name), b ? h("span", { class: "bal-confirmed" }, amount(b.confirmed)) : "—", b ? h("span", { class: "bal-pending" }, amount(b.pending)) : "—", b ? String(b.utxo_count ?? "—") : "—"];
          }),
          `As of block ${chain!.height}: confirmed coins have the wallet's confirmations; pending ones are unconfirmed or below them.`,
        )
      : notice("info", "No balances: the server has not followed any block yet."),
    h("p", null, link("#/deposits", "Deposits and each account's balance")),
  );

  let hooks: HTMLElement | null = null;
  if (may(m, "peopleRead")) {
    const eps = await all<any>("/v1/webhooks", 100);
    const failed: { ep: any; n: number }[] = [];
    for (const ep of eps) {
      const ds = await all<any>(`/v1/webhooks/${ep.id}/deliveries`, 500);
      const n = ds.filter((d) => d.state === "failed").length;
      if (n) failed.push({ ep, n });
    }
    hooks = card(
      "Webhook deliveries",
      failed.length
        ? table(["Endpoint", "Failed deliveries"], failed.map((f) => [link(`#/admin/webhooks/${f.ep.id}`, f.ep.url), h("span", { class: "badge badge-bad" }, String(f.n))]))
        : h("p", null, eps.length ? "No failed deliveries." : "No webhook endpoints."),
    );
  }

  const counts = new Map<string, number>();
  for (const t of transfers) counts.set(t.state, (counts.get(t.state) || 0) + 1);

  return page(
    "Overview",
    h("div", { class: "stats" },
      h("div", { class: "stat" }, h("div", { class: "stat-n" }, String(wallets.length)), h("div", { class: "stat-l" }, "wallets")),
      h("div", { class: "stat" }, h("div", { class: "stat-n" }, String(transfers.length)), h("div", { class: "stat-l" }, "transfers")),
      h("div", { class: "stat" }, h("div", { class: "stat-n" }, String(counts.get("awaiting_approval") || 0)), h("div", { class: "stat-l" }, "awaiting approval")),
      h("div", { class: "stat" }, h("div", { class: "stat-n" }, String((counts.get("approved") || 0) + (counts.get("awaiting_signatures") || 0))), h("div", { class: "stat-l" }, "awaiting signatures")),
    ),
    awaitingWhat
      ? card(awaitingWhat,
          table(["Transfer", "State", "Total", "Initiator", "Expires"], mine.map((t) => [link(`#/transfers/${t.id}`, h("span", { class: "mono" }, short(t.id, 14))), badge(t.state), amount(t.total), t.initiator, time(t.expires_at)])))
      : null,
    balanceCard,
    chainCard,
    hooks,
  );
}
