// An auction's bid history, newest decision first, merged from ListBids pages, PlaceBid answers
// and watch events: each bid is kept once by id, so the same bid arriving twice is harmless.
import { timestampDate } from "@bufbuild/protobuf/wkt";

import { h, replace } from "../dom";
import { bidStatusText, formatMoney, formatTime, rejectReasonText } from "../format";
import { BidStatus, type Bid } from "../gen/auction/v1/auction_pb";

export class BidHistory {
  readonly element: HTMLOListElement = h("ol", { class: "history", "data-testid": "bid-history" });
  private readonly bids = new Map<string, Bid>();

  constructor(
    private readonly currency: string,
    private readonly me: () => string | undefined,
  ) {}

  merge(bids: Iterable<Bid>): void {
    for (const bid of bids) {
      const known = this.bids.get(bid.bidId);
      // A decision replaces a pending answer; nothing replaces a decision.
      if (!known || known.status === BidStatus.PENDING) this.bids.set(bid.bidId, bid);
    }
    this.render();
  }

  private render(): void {
    const ordered = [...this.bids.values()]
      .filter((b) => b.status !== BidStatus.PENDING)
      .sort(newestFirst);
    if (ordered.length === 0) {
      replace(this.element, h("li", { class: "muted" }, "No bids yet."));
      return;
    }
    replace(this.element, ...ordered.map((b) => this.row(b)));
  }

  private row(bid: Bid): HTMLElement {
    const rejected = bid.status === BidStatus.REJECTED;
    const you = bid.bidderId === this.me() ? " (you)" : "";
    return h(
      "li",
      { "data-testid": "bid", "data-bid-id": bid.bidId, "data-status": bidStatusText(bid.status).toLowerCase(), class: rejected ? "rejected" : "" },
      h("span", { class: "amount" }, formatMoney(bid.amount, this.currency)),
      h("span", { class: "bidder" }, bid.bidderId + you),
      h("span", { class: "verdict" }, bidStatusText(bid.status), rejected ? ` (${rejectReasonText(bid.rejectReason)})` : ""),
      h("time", { class: "muted" }, bid.placedAt ? formatTime(timestampDate(bid.placedAt)) : ""),
    );
  }
}

// The auction's version right after a decision orders decisions; the time placed breaks ties.
function newestFirst(a: Bid, b: Bid): number {
  if (a.auctionVersion !== b.auctionVersion) return a.auctionVersion > b.auctionVersion ? -1 : 1;
  const ta = a.placedAt ? timestampDate(a.placedAt).getTime() : 0;
  const tb = b.placedAt ? timestampDate(b.placedAt).getTime() : 0;
  return tb - ta;
}
