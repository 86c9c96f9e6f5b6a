// An auction's bid history, newest decision first, merged from ListBids pages, PlaceBid answers
// and watch events: each bid is kept once by id, so the same bid arriving twice is harmless.
// A bid's amount is the public price it stood at; the bidder's own maximum (max_amount) comes
// only on their own reads (ListBids/GetBid with their token, PlaceBid's answer), never on
// watch events, so a copy carrying it replaces one without.
import { timestampDate } from "@bufbuild/protobuf/wkt";

import { h, replace } from "../dom";
import { bidKindText, bidStatusText, formatMoney, formatTime, rejectReasonText } from "../format";
import { BidKind, BidStatus, type Bid } from "../gen/auction/v1/auction_pb";

export class BidHistory {
  readonly element: HTMLOListElement = h("ol", { class: "history", "data-testid": "bid-history" });
  private readonly bids = new Map<string, Bid>();

  constructor(
    private readonly currency: string,
    private readonly me: () => string | undefined,
    /** Offered on the user's own bids while the auction is open; the service judges the rules. */
    private readonly retract: { allowed: () => boolean; run: (bid: Bid) => void } | null = null,
  ) {}

  merge(bids: Iterable<Bid>): void {
    for (const bid of bids) {
      const known = this.bids.get(bid.bidId);
      // A decision replaces a pending answer; nothing replaces a decision, except the same
      // decision with the bidder's maximum (a watch event's copy lacks it).
      if (!known) {
        this.bids.set(bid.bidId, bid);
      } else if (known.status === BidStatus.PENDING) {
        // The pending answer carried the maximum entered; the decision may come from the watch.
        this.bids.set(bid.bidId, bid.maxAmount === 0n ? { ...bid, maxAmount: known.maxAmount } : bid);
      } else if (bid.status === known.status && bid.maxAmount > known.maxAmount) {
        this.bids.set(bid.bidId, bid);
      } else if (bid.retracted && !known.retracted) {
        // A retraction marks a decided bid; it keeps the maximum the user's own copy had.
        this.bids.set(bid.bidId, { ...known, retracted: true });
      }
    }
    this.render();
  }

  get(bidId: string): Bid | undefined {
    return this.bids.get(bidId);
  }

  /** The user's own decided bids, newest first. */
  bidsOf(userId: string): Bid[] {
    return [...this.bids.values()].filter((b) => b.yours && b.bidderId === userId && b.status !== BidStatus.PENDING).sort(newestFirst);
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

  /** Re-renders (whether retraction is offered follows the auction's state). */
  refresh(): void {
    this.render();
  }

  private row(bid: Bid): HTMLElement {
    const rejected = bid.status === BidStatus.REJECTED;
    const mine = bid.yours && bid.bidderId === this.me();
    const kind = bidKindText(bid.kind);
    const retractable = mine && !bid.retracted && bid.kind === BidKind.MANUAL && this.retract?.allowed();
    const retractButton = retractable
      ? h("button", { type: "button", class: "link", "data-testid": "retract-bid" }, "retract")
      : null;
    if (retractButton) retractButton.onclick = () => this.retract?.run(bid);
    return h(
      "li",
      {
        "data-testid": "bid",
        "data-bid-id": bid.bidId,
        "data-status": bidStatusText(bid.status).toLowerCase(),
        "data-kind": bid.kind === BidKind.PROXY ? "proxy" : bid.kind === BidKind.BUY_NOW ? "buy-now" : "manual",
        "data-retracted": String(bid.retracted),
        class: rejected || bid.retracted ? "rejected" : "",
      },
      h("span", { class: "amount" }, formatMoney(bid.amount, this.currency)),
      h(
        "span",
        { class: "bidder" },
        bid.bidderAlias + (mine ? " (you)" : ""),
        // Only the bidder's own reads carry it; shown to them alone.
        mine && !rejected && bid.kind !== BidKind.BUY_NOW && bid.maxAmount > 0n ? h("small", { class: "muted max", "data-testid": "bid-max" }, `max ${formatMoney(bid.maxAmount, this.currency)}`) : null,
      ),
      h(
        "span",
        { class: "verdict" },
        bidStatusText(bid.status),
        rejected ? ` (${rejectReasonText(bid.rejectReason)})` : "",
        kind ? h("span", { class: "kind", "data-testid": "bid-kind" }, ` · ${kind}`) : null,
        bid.retracted ? h("span", { class: "kind", "data-testid": "bid-retracted" }, " · retracted") : null,
      ),
      retractButton,
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
