// chain.ts — what the chain follower reports (GET /v1/chain, balances,
// deposits), read for people: a number is shown only when the server has it,
// and a follower that is not configured, failing, stalled or behind says so.
import { get } from "./api";
import { Child, h } from "./dom";
import { time } from "./format";
import { dl, notice } from "./ui";

export interface ChainStatus {
  height: number | null;
  tip: string | null;
  node_height: number | null;
  node_tip: string;
  node_chain: string;
  lag: number | null;
  fee_rate: number;
  checked_at: number;
  last_error: string | null;
  leader: { holder: string; expires_at: number } | null;
}

export interface Balance {
  wallet_id: string;
  account: string | null;
  confirmed: number;
  pending: number;
  utxo_count?: number;
  deposit_count?: number;
  height: number;
}

export interface Deposit {
  id: string;
  wallet_id: string;
  txid: string;
  vout: number;
  address: string;
  branch: number;
  index: number;
  account: string;
  amount: number;
  state: "pending" | "confirmed" | "reorged" | "replaced";
  confirmations: number;
  height: number | null;
  block_hash: string | null;
  coinbase: boolean;
  replaceable: boolean;
  replaced_by: string | null;
  created_at: number;
  updated_at: number;
}

export type FollowerState = "unconfigured" | "error" | "stalled" | "behind" | "syncing" | "ok";

// A follower that has not written its status for this long is stalled (it
// polls every few seconds; its lease is 30 s).
export const STALL_SECONDS = 120;
// More blocks behind the node than this is "behind" (one block may arrive
// between two polls).
export const BEHIND_BLOCKS = 1;

export function followerState(s: ChainStatus | null, now = Math.floor(Date.now() / 1000)): FollowerState {
  if (!s || (!s.checked_at && s.height === null && !s.leader)) return "unconfigured";
  if (s.last_error) return "error";
  if (!s.leader || now - s.checked_at > STALL_SECONDS) return "stalled";
  if (s.height === null || s.lag === null) return "syncing";
  if (s.lag > BEHIND_BLOCKS) return "behind";
  return "ok";
}

export async function chainStatus(): Promise<ChainStatus | null> {
  try {
    return await get<ChainStatus>("/v1/chain");
  } catch {
    return null;
  }
}

const STATE_TEXT: Record<FollowerState, [string, "ok" | "info" | "warn" | "bad"]> = {
  unconfigured: ["not configured", "warn"],
  error: ["failing", "bad"],
  stalled: ["stalled", "bad"],
  behind: ["behind the node", "warn"],
  syncing: ["catching up", "info"],
  ok: ["following the node", "ok"],
};

export function followerBadge(st: FollowerState): HTMLElement {
  const [text, tone] = STATE_TEXT[st];
  return h("span", { class: `badge badge-${tone}`, id: "follower-state", "data-state": st }, text);
}

// Why the numbers may not be the chain's: one line a person can act on.
export function followerNotice(s: ChainStatus | null, st: FollowerState): HTMLElement | null {
  switch (st) {
    case "unconfigured":
      return notice("warn", h("strong", null, "No chain follower is configured. "), "This server follows no Bitcoin node (node_url in its configuration), so it knows no deposits, confirmations or balances: none are shown as if they were.");
    case "error":
      return notice("bad", h("strong", null, "The chain follower is failing: "), h("span", { class: "label-text", id: "follower-error" }, s?.last_error || ""), ". Balances and confirmations below are as of its last good poll.");
    case "stalled":
      return notice("bad", h("strong", null, "The chain follower has stalled: "), `its last poll was ${s && s.checked_at ? time(s.checked_at) : "never"}${s?.leader ? "" : " and no server holds its lease"}. Balances and confirmations below may be out of date.`);
    case "behind":
      return notice("warn", h("strong", null, `The chain follower is ${s?.lag} blocks behind the node. `), "Confirmations and balances will move as it catches up.");
    case "syncing":
      return notice("info", "The chain follower is connecting to the node; no block is known yet.");
    default:
      return null;
  }
}

export function followerFacts(s: ChainStatus | null): HTMLElement {
  const pairs: [string, Child][] = [
    ["Follower height", s && s.height !== null ? h("span", { class: "mono", id: "follower-height" }, String(s.height)) : h("span", { class: "muted", id: "follower-height" }, "—")],
    ["Node height", s && s.node_height !== null ? h("span", { class: "mono", id: "node-height" }, String(s.node_height)) : h("span", { class: "muted" }, "—")],
    ["Lag", s && s.lag !== null ? h("span", { class: "mono", id: "follower-lag" }, `${s.lag} block${s.lag === 1 ? "" : "s"}`) : h("span", { class: "muted", id: "follower-lag" }, "—")],
    ["Follower tip", s && s.tip ? h("span", { class: "mono wrap small" }, s.tip) : "—"],
    ["Network", s && s.node_chain ? s.node_chain : "—"],
    ["Last poll", s && s.checked_at ? time(s.checked_at) : "never"],
    ["Fee estimate", s && s.fee_rate ? h("span", { class: "mono" }, `${(s.fee_rate / 1000).toFixed(3)} sat/vB`) : "—"],
  ];
  return dl(pairs);
}

export const DEPOSIT_STATES = ["pending", "confirmed", "reorged", "replaced"] as const;

// The marks of a deposit beside its state: what a person must not mistake
// for money that has arrived.
export function depositMarks(d: Deposit): HTMLElement {
  const marks: Child[] = [];
  if (d.state === "reorged") marks.push(h("span", { class: "badge badge-bad mark-reorged", role: "note" }, "reorged out of the chain"));
  if (d.state === "replaced")
    marks.push(h("span", { class: "badge badge-bad mark-replaced", role: "note" }, "replaced by a conflicting transaction"), d.replaced_by ? h("span", { class: "small" }, " by ", h("span", { class: "mono" }, d.replaced_by)) : null);
  if (d.state === "pending" && d.height === null && d.replaceable) marks.push(h("span", { class: "badge badge-warn mark-rbf", role: "note" }, "RBF: may be replaced"));
  if (d.state === "pending" && d.height === null && !d.replaceable) marks.push(h("span", { class: "badge badge-info" }, "in the mempool"));
  if (d.coinbase) marks.push(h("span", { class: "badge badge-info" }, "coinbase (matures in 100 blocks)"));
  return h("span", { class: "marks" }, marks.length ? marks : h("span", { class: "muted" }, "—"));
}
