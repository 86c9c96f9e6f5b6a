// The auction page (#/auctions/<id>): the item, the highest bid kept live by WatchAuction, the
// bid form, and the bid history.
import { Code } from "@connectrpc/connect";
import { timestampDate } from "@bufbuild/protobuf/wkt";

import { auctions, bids, currentSession } from "../api";
import { countdown, h, photo, replace, setText } from "../dom";
import { describe, isCode, showProblem } from "../errors";
import { auctionStatusText, formatMoney, formatRemaining, formatTime, parseMoney, rejectReasonText } from "../format";
import { AuctionStatus, BidStatus, type Auction, type Bid } from "../gen/auction/v1/auction_pb";
import { isFinal, watchAuction, type WatchState } from "../watch";
import { BidHistory } from "./history";

const HISTORY_PAGE = 100;
const PENDING_POLL_MS = 1000;
const PENDING_POLL_TRIES = 30;

export function auctionPage(root: HTMLElement, auctionId: string, signal: AbortSignal): void {
  replace(root, h("p", { class: "muted" }, "Loading the auction…"));
  void load(root, auctionId, signal);
}

async function load(root: HTMLElement, auctionId: string, signal: AbortSignal): Promise<void> {
  let auction: Auction;
  let firstPage: Bid[];
  try {
    auction = await auctions.getAuction({ auctionId }, { signal });
    // Read after the auction, so the history is at least as new as the state shown with it.
    firstPage = (await bids.listBids({ auctionId, pageSize: HISTORY_PAGE }, { signal })).bids;
  } catch (err) {
    if (signal.aborted) return;
    const text = isCode(err, Code.NotFound) || isCode(err, Code.InvalidArgument)
      ? "There is no such auction."
      : `Could not load the auction (${describe(err).summary}).`;
    replace(root, h("p", { class: "error", "data-testid": "auction-error" }, text, " ", h("a", { href: "#/" }, "Back to the auctions")));
    return;
  }
  if (!signal.aborted) new AuctionView(root, auction, firstPage, signal).start();
}

class AuctionView {
  private shown: Auction;
  private readonly history: BidHistory;
  private watchState: WatchState = { kind: "connecting" };
  private reloading: Promise<void> | null = null;
  private reloadAgain = false;

  private readonly highest = h("div", { class: "highest", "data-testid": "highest-bid" });
  private readonly bidder = h("div", { class: "muted", "data-testid": "highest-bidder" });
  private readonly status = h("span", { class: "badge", "data-testid": "auction-status" });
  private readonly version = h("span", { class: "muted", "data-testid": "auction-version" });
  private readonly bidCount = h("span", { class: "muted", "data-testid": "bid-count" });
  private readonly winner = h("div", { class: "winner", "data-testid": "winner" });
  private readonly live = h("span", { class: "live", "data-testid": "live-status" });
  private readonly bidPanel = h("div", { class: "bid-panel" });
  private readonly result = h("div", { class: "bid-result", "data-testid": "bid-result", role: "status" });
  private readonly minimum = h("small", { class: "muted", "data-testid": "bid-minimum" });
  private readonly me = currentSession()?.userId;

  constructor(
    private readonly root: HTMLElement,
    auction: Auction,
    firstPage: Bid[],
    private readonly signal: AbortSignal,
  ) {
    this.shown = auction;
    this.history = new BidHistory(auction.currency, () => this.me);
    this.history.merge(firstPage);
  }

  start(): void {
    this.layout();
    this.update();
    if (isFinal(this.shown)) {
      this.setWatchState({ kind: "closed" });
      return;
    }
    void watchAuction(
      this.shown.auctionId,
      this.shown.version,
      {
        onEvent: (auction, bid, gap) => {
          this.apply(auction);
          if (bid) this.bidDecided(bid);
          if (gap) void this.reloadHistory();
        },
        onState: (state) => this.setWatchState(state),
      },
      this.signal,
    );
  }

  private layout(): void {
    const a = this.shown;
    const item = a.item;
    const end = a.endDate ? timestampDate(a.endDate) : null;
    replace(
      this.root,
      h("p", {}, h("a", { href: "#/" }, "← All auctions")),
      h(
        "article",
        { class: "auction" },
        photo(item?.imageUrl, item?.name ?? "", "photo"),
        h(
          "div",
          { class: "details" },
          h("h2", { "data-testid": "item-name" }, item?.name ?? "(unnamed)", " ", this.status),
          h("p", { class: "description", "data-testid": "item-description" }, item?.description ?? ""),
          h("p", { class: "muted" }, "Sold by ", h("strong", { "data-testid": "seller" }, a.sellerId)),
          h("p", {}, "Starting price ", h("strong", { "data-testid": "starting-price" }, formatMoney(a.startingPrice, a.currency))),
          end ? h("p", {}, "Ends ", h("span", { "data-testid": "ends-at" }, formatTime(end)), " · ", h("strong", { "data-testid": "ends-in" }, countdown(end, (e) => formatRemaining(e)))) : null,
          h("div", { class: "box" }, h("div", { class: "muted" }, "Highest bid"), this.highest, this.bidder, this.winner),
          this.bidPanel,
          h("p", { class: "meta" }, this.live, " · ", this.version, " · ", this.bidCount),
        ),
      ),
      h("section", {}, h("h3", {}, "Bids"), this.history.element),
    );
  }

  /** Shows a newer state; older versions (late answers, a resumed stream's snapshot) are ignored. */
  private apply(auction: Auction): void {
    if (auction.version < this.shown.version) return;
    const wasClosed = this.biddingClosed();
    this.shown = auction;
    this.update();
    if (this.biddingClosed() !== wasClosed) this.renderBidPanel();
  }

  private update(): void {
    const a = this.shown;
    if (a.highestBid > 0n) {
      setText(this.highest, formatMoney(a.highestBid, a.currency));
      setText(this.bidder, `by ${a.highestBidderId}${a.highestBidderId === this.me ? " (you)" : ""}`);
    } else {
      setText(this.highest, "No bids yet");
      setText(this.bidder, `starts at ${formatMoney(a.startingPrice, a.currency)}`);
    }
    setText(this.status, auctionStatusText(a.status));
    this.status.dataset.status = auctionStatusText(a.status);
    setText(this.version, `version ${a.version}`);
    setText(this.bidCount, `${a.bidCount} bid${a.bidCount === 1n ? "" : "s"} decided`);
    setText(this.minimum, a.highestBid > 0n
      ? `more than ${formatMoney(a.highestBid, a.currency)}`
      : `at least ${formatMoney(a.startingPrice, a.currency)}`);
    if (a.status === AuctionStatus.ENDED && a.closedAt === undefined) {
      setText(this.winner, "Ended: deciding the winner…"); // the close is on its way through the bid log
    } else if (a.status === AuctionStatus.ENDED) {
      setText(this.winner, a.winnerId ? `Won by ${a.winnerId}${a.winnerId === this.me ? " (you)" : ""} for ${formatMoney(a.highestBid, a.currency)}` : "Ended without a winning bid");
    } else if (a.status === AuctionStatus.CANCELLED) {
      setText(this.winner, "Cancelled");
    } else {
      setText(this.winner, "");
    }
    if (!this.bidPanel.firstChild) this.renderBidPanel();
  }

  /** No more bids are taken (the winner may still be on its way: see isFinal). */
  private biddingClosed(): boolean {
    return this.shown.status === AuctionStatus.ENDED || this.shown.status === AuctionStatus.CANCELLED;
  }

  private setWatchState(state: WatchState): void {
    this.watchState = state;
    setText(this.live, watchStateText(state));
    this.live.dataset.state = state.kind;
  }

  private renderBidPanel(): void {
    if (this.biddingClosed()) {
      replace(this.bidPanel, h("p", { class: "muted" }, "Bidding is closed."));
      return;
    }
    if (!this.me) {
      replace(this.bidPanel, h("p", { class: "muted", "data-testid": "bid-signin-hint" }, "Sign in (top right) to bid."));
      return;
    }
    if (this.me === this.shown.sellerId) {
      replace(this.bidPanel, h("p", { class: "muted", "data-testid": "bid-seller-hint" }, "This is your auction: others bid on it."));
      return;
    }
    const currency = this.shown.currency;
    const amount = h("input", { name: "amount", "data-testid": "bid-amount", inputmode: "decimal", placeholder: "amount", "aria-label": `Bid in ${currency}` });
    const button = h("button", { type: "submit", "data-testid": "place-bid" }, "Place bid");
    const form = h(
      "form",
      { class: "bid", "data-testid": "bid-form" },
      h("label", { class: "field" }, h("span", {}, `Your bid (${currency})`), h("div", { class: "row" }, amount, button), this.minimum, h("span", { class: "error", "data-error-for": "amount" })),
      this.result,
    );
    // One request id per attempt at a given amount: a resubmit after a network error is the
    // same bid (the service dedups it), a new amount or an answered bid gets a new id.
    let requestId = crypto.randomUUID();
    amount.addEventListener("input", () => (requestId = crypto.randomUUID()));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      let minor: bigint;
      try {
        minor = parseMoney(amount.value, currency);
      } catch (err) {
        showProblem(form, this.result, { summary: "Check the amount.", fields: new Map([["amount", [(err as Error).message]]]) });
        return;
      }
      showProblem(form, this.result, null);
      button.disabled = true;
      try {
        const bid = await bids.placeBid({ auctionId: this.shown.auctionId, amount: minor, requestId }, { signal: this.signal });
        requestId = crypto.randomUUID();
        this.showAnswer(bid);
        this.bidDecided(bid);
        if (bid.status === BidStatus.ACCEPTED) amount.value = "";
        if (bid.status === BidStatus.PENDING) void this.settle(bid);
      } catch (err) {
        if (!this.signal.aborted) showProblem(form, this.result, describe(err));
      } finally {
        button.disabled = false;
      }
    });
    replace(this.bidPanel, form);
  }

  private showAnswer(bid: Bid): void {
    const amount = formatMoney(bid.amount, this.shown.currency);
    const text = bid.status === BidStatus.ACCEPTED
      ? `ACCEPTED: your ${amount} is the highest bid`
      : bid.status === BidStatus.REJECTED
        ? `REJECTED: ${amount} is ${rejectReasonText(bid.rejectReason)}`
        : `PENDING: ${amount} is queued; the decision will show here and in the history`;
    replace(this.result, h("span", { "data-bid-id": bid.bidId }, text));
    this.result.dataset.status = bid.status === BidStatus.ACCEPTED ? "accepted" : bid.status === BidStatus.REJECTED ? "rejected" : "pending";
  }

  /** A bid's decision, from the answer to PlaceBid or from a watch event. */
  private bidDecided(bid: Bid): void {
    this.history.merge([bid]);
    // The answer to a pending bid of ours can arrive on the watch before polling finds it.
    if (this.result.dataset.status === "pending" && this.result.querySelector(`[data-bid-id="${CSS.escape(bid.bidId)}"]`) && bid.status !== BidStatus.PENDING) {
      this.showAnswer(bid);
    }
    // Without a live watch, the answer is the only news of the new highest bid: re-read the state.
    if (bid.auctionVersion > this.shown.version && this.watchState.kind !== "live") void this.refresh();
  }

  /** Polls a PENDING bid until it is decided (the watch usually brings the decision first). */
  private async settle(pending: Bid): Promise<void> {
    for (let i = 0; i < PENDING_POLL_TRIES && !this.signal.aborted; i++) {
      await new Promise((resolve) => setTimeout(resolve, PENDING_POLL_MS));
      if (this.result.dataset.status !== "pending") return;
      try {
        const bid = await bids.getBid({ auctionId: pending.auctionId, bidId: pending.bidId }, { signal: this.signal });
        if (bid.status !== BidStatus.PENDING) {
          this.bidDecided(bid);
          return;
        }
      } catch {
        // Not readable yet, or a blip: try again.
      }
    }
  }

  private async refresh(): Promise<void> {
    try {
      this.apply(await auctions.getAuction({ auctionId: this.shown.auctionId }, { signal: this.signal }));
    } catch {
      // The next event or answer will bring the state.
    }
  }

  /** Re-reads the newest history page after a gap; calls during a reload coalesce into one more. */
  private async reloadHistory(): Promise<void> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      do {
        this.reloadAgain = false;
        try {
          const page = await bids.listBids({ auctionId: this.shown.auctionId, pageSize: HISTORY_PAGE }, { signal: this.signal });
          this.history.merge(page.bids);
        } catch {
          // The next gap or page load reads it again.
        }
      } while (this.reloadAgain && !this.signal.aborted);
      this.reloading = null;
    })();
    return this.reloading;
  }
}

function watchStateText(state: WatchState): string {
  switch (state.kind) {
    case "connecting":
      return "connecting…";
    case "live":
      return "● live";
    case "retrying":
      return `reconnecting in ${Math.ceil(state.inMs / 1000)} s (${state.reason})`;
    case "closed":
      return "final";
    case "failed":
      return `no live updates (${state.reason})`;
  }
}
