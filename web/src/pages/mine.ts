// The signed-in user's own views: "My bids" (#/me/bids: their bids across auctions, newest
// first) and "Watching" (#/me/watching: their watchlist, ending soonest first).
import { timestampDate } from "@bufbuild/protobuf/wkt";

import { auctions, bids, currentSession } from "../api";
import { h, replace } from "../dom";
import { describe } from "../errors";
import { bidKindText, bidStatusText, formatMoney, rejectReasonText } from "../format";
import { BidStatus, type Auction, type Bid } from "../gen/auction/v1/auction_pb";
import { card } from "./home";

function signedInOnly(root: HTMLElement, title: string): boolean {
  if (currentSession()) return true;
  replace(root, h("h2", {}, title), h("p", { class: "muted" }, "Sign in to see this."));
  return false;
}

export async function myBidsPage(root: HTMLElement, signal: AbortSignal): Promise<void> {
  if (!signedInOnly(root, "My bids")) return;
  const list = h("ul", { class: "history", "data-testid": "my-bids" }, h("li", { class: "muted" }, "Loading…"));
  replace(root, h("h2", {}, "My bids"), list);
  try {
    const reply = await bids.listMyBids({ pageSize: 100 }, { signal });
    // A bid names its auction only: each auction (a few) is read once for its name and currency.
    const ids = [...new Set(reply.bids.map((b) => b.auctionId))];
    const read = await Promise.all(ids.map((auctionId) => auctions.getAuction({ auctionId }, { signal }).catch(() => null)));
    const byId = new Map(read.filter((a) => a !== null).map((a) => [a.auctionId, a]));
    const rows = reply.bids.map((b) => row(b, byId.get(b.auctionId)));
    replace(list, ...(rows.length ? rows : [h("li", { class: "muted" }, "You have not bid yet.")]));
  } catch (err) {
    if (!signal.aborted) replace(list, h("li", { class: "error" }, `Could not load your bids (${describe(err).summary}).`));
  }
}

function row(bid: Bid, auction: Auction | undefined): HTMLElement {
  const rejected = bid.status === BidStatus.REJECTED;
  const kind = bidKindText(bid.kind);
  return h(
    "li",
    { "data-testid": "my-bid", class: rejected || bid.retracted ? "rejected" : "" },
    h(
      "span",
      { class: "amount" },
      auction ? formatMoney(bid.amount, auction.currency) : String(bid.amount),
      auction && bid.maxAmount > 0n && !rejected ? h("small", { class: "muted max" }, ` max ${formatMoney(bid.maxAmount, auction.currency)}`) : null,
    ),
    h("a", { href: `#/auctions/${bid.auctionId}` }, auction?.item?.name ?? "(an auction)"),
    h("span", { class: "verdict" }, bidStatusText(bid.status), rejected ? ` (${rejectReasonText(bid.rejectReason)})` : "", kind ? ` · ${kind}` : ""),
    h("small", { class: "muted" }, bid.placedAt ? timestampDate(bid.placedAt).toLocaleString() : ""),
  );
}

export async function watchingPage(root: HTMLElement, signal: AbortSignal): Promise<void> {
  if (!signedInOnly(root, "Watching")) return;
  const list = h("ul", { class: "cards", "data-testid": "watchlist" });
  const status = h("p", { class: "muted" }, "Loading…");
  replace(root, h("h2", {}, "Watching"), status, list);
  try {
    const reply = await auctions.listWatchlist({ pageSize: 100 }, { signal });
    replace(list, ...reply.auctions.map(card));
    replace(status, reply.auctions.length ? "Ending soonest first." : "You watch no auction: use Watch on an auction's page.");
  } catch (err) {
    if (!signal.aborted) replace(status, `Could not load your watchlist (${describe(err).summary}).`);
  }
}

/** Whether the user watches the auction (their watchlist is short: read a page at a time). */
export async function isWatched(auctionId: string, signal: AbortSignal): Promise<boolean> {
  let pageToken = "";
  do {
    const page = await auctions.listWatchlist({ pageSize: 100, pageToken }, { signal });
    if (page.auctions.some((a) => a.auctionId === auctionId)) return true;
    pageToken = page.nextPageToken;
  } while (pageToken);
  return false;
}
