// The auction page (#/auctions/<id>): the item, the price kept live by WatchAuction, the bid
// form, Buy It Now, the bid history (with retract on one's own bids), the seller's cancel,
// and after the close the sale: pay for the buyer, "offered to you" for a next bidder, the
// countdown to the payment deadline.
//
// eBay's rules: a bid is the bidder's maximum and Gavel bids for them up to it (the price shown
// is the one the proxy rules set, not the maximum); the leader's automatic answers are bids of
// their own in the history. The reserve's amount is hidden (the seller's reads carry it); Buy
// It Now lasts until the first bid, or with a reserve until it is met; a soft close moves the end.
import { Code } from "@connectrpc/connect";
import { timestampDate } from "@bufbuild/protobuf/wkt";

import { auctions, bids, currentSession } from "../api";
import { countdown, h, photo, replace, setText } from "../dom";
import { describe, isCode, showProblem } from "../errors";
import {
  auctionStatusText,
  formatDuration,
  formatMoney,
  formatRemaining,
  formatTime,
  parseMoney,
  rejectReasonText,
} from "../format";
import {
  AuctionStatus,
  BidKind,
  BidRejectReason,
  BidStatus,
  SaleStatus,
  type Auction,
  type Bid,
  type Sale,
} from "../gen/auction/v1/auction_pb";
import { isFinal, watchAuction, type WatchState } from "../watch";
import { BidHistory } from "./history";
import { isWatched } from "./mine";

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
  private readonly endsAt = h("span", { "data-testid": "ends-at" });
  private readonly extended = h("span", { class: "badge extended", "data-testid": "end-extended" }, "extended");
  private readonly softClose = h("small", { class: "muted", "data-testid": "soft-close" });
  private readonly reserve = h("div", { class: "reserve", "data-testid": "reserve-status" });
  private readonly buyNowOffer = h("p", { "data-testid": "buy-now-price" });
  private readonly mine = h("div", { class: "mine", "data-testid": "my-status" });
  private readonly buyNow = h("button", { type: "button", class: "buy-now", "data-testid": "buy-now" });
  private readonly salePanel = h("div", { class: "box sale", "data-testid": "sale" });
  private readonly sellerPanel = h("div", { class: "seller-panel" });
  private readonly actionResult = h("div", { class: "bid-result", "data-testid": "action-result", role: "status" });
  private readonly watchButton = h("button", { type: "button", class: "watch", "data-testid": "watch-button", hidden: true }, "Watch");
  /** The sale as the user may see it (GetSale: the buyer named), for the seller and the buyer. */
  private mySale: Sale | null = null;
  private saleRead = -1n;
  private endsIn: HTMLElement | null = null;
  private readonly me = currentSession()?.userId;

  constructor(
    private readonly root: HTMLElement,
    auction: Auction,
    firstPage: Bid[],
    private readonly signal: AbortSignal,
  ) {
    this.shown = auction;
    this.history = new BidHistory(auction.currency, () => this.me, {
      allowed: () => !this.biddingClosed(),
      run: (bid) => void this.retractBid(bid),
    });
    this.history.merge(firstPage);
  }

  start(): void {
    this.layout();
    this.update();
    void this.setUpWatchButton();
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
          // A change without a bid may be a retraction, which marks bids already shown.
          if (gap || (!bid && auction.closedAt === undefined)) void this.reloadHistory();
        },
        onState: (state) => this.setWatchState(state),
      },
      this.signal,
    );
  }

  /** Watch / Watching: the auction's ending-soon and end notifications, for a signed-in user. */
  private async setUpWatchButton(): Promise<void> {
    if (!this.me) return;
    const show = (watching: boolean): void => {
      this.watchButton.hidden = false;
      this.watchButton.dataset.watching = String(watching);
      setText(this.watchButton, watching ? "Watching ✓" : "Watch");
    };
    try {
      show(await isWatched(this.shown.auctionId, this.signal));
    } catch {
      return; // no button rather than a wrong one
    }
    this.watchButton.addEventListener("click", async () => {
      const watching = this.watchButton.dataset.watching === "true";
      this.watchButton.disabled = true;
      try {
        const auctionId = this.shown.auctionId;
        if (watching) await auctions.removeFromWatchlist({ auctionId }, { signal: this.signal });
        else await auctions.addToWatchlist({ auctionId }, { signal: this.signal });
        show(!watching);
      } catch (err) {
        replace(this.actionResult, describe(err).summary);
      } finally {
        this.watchButton.disabled = false;
      }
    });
  }

  private layout(): void {
    const a = this.shown;
    const item = a.item;
    const end = a.endDate ? timestampDate(a.endDate) : null;
    this.endsIn = end ? countdown(end, (e) => formatRemaining(e)) : null;
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
          h("h2", { "data-testid": "item-name" }, item?.name ?? "(unnamed)", " ", this.status, " ", this.watchButton),
          h("p", { class: "description", "data-testid": "item-description" }, item?.description ?? ""),
          h("p", { class: "muted" }, "Sold by ", h("strong", { "data-testid": "seller" }, a.sellerId)),
          h("p", {}, "Starting price ", h("strong", { "data-testid": "starting-price" }, formatMoney(a.startingPrice, a.currency))),
          end ? h("p", {}, "Ends ", this.endsAt, " · ", h("strong", { "data-testid": "ends-in" }, this.endsIn), " ", this.extended, h("br", {}), this.softClose) : null,
          this.buyNowOffer,
          h("div", { class: "box" }, h("div", { class: "muted" }, "Current price"), this.highest, this.bidder, this.reserve, this.mine, this.winner),
          this.salePanel,
          this.bidPanel,
          this.sellerPanel,
          this.actionResult,
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
    const money = (minor: bigint) => formatMoney(minor, a.currency);
    // The price is the starting price after the first bid, so the leader, not the price, says
    // whether anyone has bid.
    if (a.highestBidderAlias) {
      setText(this.highest, money(a.highestBid));
      setText(this.bidder, `by ${a.highestBidderAlias}${a.youLead ? " (you)" : ""}`);
    } else {
      setText(this.highest, "No bids yet");
      setText(this.bidder, `starts at ${formatMoney(a.startingPrice, a.currency)}`);
    }
    setText(this.status, auctionStatusText(a.status));
    this.status.dataset.status = auctionStatusText(a.status);
    setText(this.version, `version ${a.version}`);
    setText(this.bidCount, `${a.bidCount} bid${a.bidCount === 1n ? "" : "s"} decided`);
    this.updateEnd();
    this.updateReserve();
    this.updateMine();
    // The leader is not held to min_next_bid: they may raise their maximum by any amount.
    const myMax = this.myMaximum();
    if (a.youLead) {
      setText(this.minimum, myMax > 0n ? `more than your maximum of ${money(myMax)}` : "more than your current maximum");
    } else {
      setText(this.minimum, `at least ${money(a.minNextBid > 0n ? a.minNextBid : a.startingPrice)}`);
    }
    const buyNow = this.biddingClosed() ? 0n : a.buyNowPrice;
    this.buyNowOffer.hidden = buyNow === 0n;
    this.buyNow.hidden = buyNow === 0n;
    if (buyNow > 0n) {
      replace(this.buyNowOffer, "Buy It Now price ", h("strong", {}, money(buyNow)));
      setText(this.buyNow, `Buy It Now for ${money(buyNow)}`);
    }
    if (a.status === AuctionStatus.ENDED && a.closedAt === undefined) {
      setText(this.winner, "Ended: deciding the winner…"); // the close is on its way through the bid log
    } else if (a.status === AuctionStatus.ENDED) {
      // The winner is named to themself and the seller; everyone else reads the alias.
      const won = a.winnerId === this.me && this.me !== undefined;
      const winner = a.winnerId && !won ? `${a.highestBidderAlias} (${a.winnerId})` : a.highestBidderAlias;
      setText(this.winner, a.sale !== undefined
        ? `Won by ${winner}${won ? " (you)" : ""} for ${money(a.highestBid)}`
        : a.highestBidderAlias && a.hasReserve && !a.reserveMet ? "Ended: the reserve was not met" : "Ended without a winning bid");
    } else if (a.status === AuctionStatus.CANCELLED) {
      setText(this.winner, "Cancelled");
    } else {
      setText(this.winner, "");
    }
    if (!this.bidPanel.firstChild) this.renderBidPanel();
    this.renderSellerPanel();
    this.updateSale();
    this.history.refresh();
  }

  /** After the close: the sale as everyone sees it, and what the seller or buyer can do. */
  private updateSale(): void {
    const a = this.shown;
    const sale = a.sale;
    this.salePanel.hidden = sale === undefined;
    if (!sale) return;
    // The public copy names no buyer: the seller and the buyer read theirs (once per version).
    if (this.me && this.saleRead !== a.version) {
      this.saleRead = a.version;
      void auctions.getSale({ auctionId: a.auctionId }, { signal: this.signal }).then(
        (mine) => {
          this.mySale = mine;
          this.renderSale();
        },
        () => {
          this.mySale = null; // not theirs to see: the public copy says enough
          this.renderSale();
        },
      );
    }
    this.renderSale();
  }

  private renderSale(): void {
    const a = this.shown;
    const sale = this.mySale && this.mySale.offer === a.sale?.offer && this.mySale.status === a.sale.status ? this.mySale : a.sale;
    if (!sale) return;
    const money = formatMoney(sale.price, a.currency);
    const payBy = sale.payBy ? timestampDate(sale.payBy) : null;
    this.salePanel.dataset.status = saleStatusText(sale.status);
    const parts: (HTMLElement | string)[] = [h("div", { class: "muted" }, "Sale")];
    if (sale.status === SaleStatus.PAID) {
      parts.push(h("strong", { "data-testid": "sale-status" }, `Paid: ${money}`));
    } else if (sale.status === SaleStatus.UNSOLD) {
      parts.push(h("strong", { "data-testid": "sale-status" }, "Unsold: no buyer paid"));
    } else {
      const mine = this.me !== undefined && sale.buyerId === this.me;
      const label = mine
        ? sale.offer > 0 ? `Offered to you at your maximum, ${money}` : `You won: pay ${money}`
        : sale.offer > 0 ? `Offered to the next bidder at ${money}` : `Awaiting the winner's payment of ${money}`;
      parts.push(h("strong", { "data-testid": "sale-status" }, label));
      if (payBy) parts.push(h("div", { class: "muted" }, "Pay within ", h("strong", { "data-testid": "pay-by" }, countdown(payBy, (e) => formatRemaining(e)))));
      if (this.me && this.me === a.sellerId && sale.buyerId) {
        const unpaid = sale.buyerUnpaidItems > 0 ? ` (${sale.buyerUnpaidItems} won item(s) left unpaid before)` : "";
        parts.push(h("div", { class: "muted", "data-testid": "sale-buyer" }, `Buyer: ${sale.buyerId}${unpaid}`));
      }
      if (mine) {
        const pay = h("button", { type: "button", "data-testid": "pay-sale" }, `Pay ${money}`);
        const requestId = crypto.randomUUID(); // a retry of this button is the same payment
        pay.onclick = () => void this.act(pay, () => auctions.paySale({ auctionId: a.auctionId, requestId }), "Paid. Thank you!");
        parts.push(h("div", { class: "row" }, pay));
        if (sale.offer > 0) {
          const decline = h("button", { type: "button", class: "secondary", "data-testid": "decline-offer" }, "Decline the offer");
          decline.onclick = () => void this.act(decline, () => auctions.declineOffer({ auctionId: a.auctionId }), "Declined.");
          parts.push(decline);
        }
      }
    }
    replace(this.salePanel, ...parts);
  }

  /** The seller's cancel button, while the auction is open (the service judges the time rule). */
  private renderSellerPanel(): void {
    const a = this.shown;
    if (!this.me || this.me !== a.sellerId || this.biddingClosed()) {
      replace(this.sellerPanel);
      return;
    }
    if (this.sellerPanel.firstChild) return;
    const cancel = h("button", { type: "button", class: "secondary", "data-testid": "cancel-auction" }, "Cancel the auction");
    cancel.onclick = () => void this.act(cancel, () => auctions.cancelAuction({ auctionId: a.auctionId, reason: "" }), "Cancelled.");
    replace(this.sellerPanel, cancel);
  }

  private async retractBid(bid: Bid): Promise<void> {
    try {
      await bids.retractBid({ auctionId: this.shown.auctionId, bidId: bid.bidId, reason: "" }, { signal: this.signal });
      this.answer("Retracted: the price is what the remaining bids make it.", "accepted");
      await this.reloadHistory();
      await this.refresh();
    } catch (err) {
      if (!this.signal.aborted) this.answer(describe(err).summary, "rejected");
    }
  }

  /** A sale or seller action: its answer (or the rule that refused it) under the panel. */
  private async act(button: HTMLButtonElement, call: () => Promise<unknown>, done: string): Promise<void> {
    button.disabled = true;
    try {
      await call();
      this.answer(done, "accepted");
      await this.refresh();
    } catch (err) {
      if (!this.signal.aborted) this.answer(describe(err).summary, "rejected");
    } finally {
      button.disabled = false;
    }
  }

  private answer(text: string, status: string): void {
    setText(this.actionResult, text);
    this.actionResult.dataset.status = status;
  }

  /** The end as it stands, moved by soft close: marked "extended" once it differs from the original. */
  private updateEnd(): void {
    const a = this.shown;
    if (!a.endDate || !this.endsIn) return;
    // Closed before its end (Buy It Now): it ended then.
    const closed = a.closedAt ? timestampDate(a.closedAt) : null;
    const end = closed && closed < timestampDate(a.endDate) ? closed : timestampDate(a.endDate);
    setText(this.endsAt, formatTime(end));
    if (this.endsIn.dataset.endsAt !== String(end.getTime())) {
      this.endsIn.dataset.endsAt = String(end.getTime()); // the countdown ticker reads it
      setText(this.endsIn, formatRemaining(end));
    }
    const original = a.originalEndDate ? timestampDate(a.originalEndDate) : timestampDate(a.endDate);
    this.extended.hidden = original.getTime() === timestampDate(a.endDate).getTime();
    this.extended.title = `originally ${formatTime(original)}`;
    const soft = a.softClose;
    if (soft?.window && soft.extension) {
      const hardEnd = soft.hardEnd ? ` (at the latest ${formatTime(timestampDate(soft.hardEnd))})` : "";
      setText(this.softClose, `Soft close: a bid in the last ${formatDuration(soft.window.seconds)} moves the end to ${formatDuration(soft.extension.seconds)} after it${hardEnd}.`);
    } else {
      setText(this.softClose, "");
    }
  }

  private updateReserve(): void {
    const a = this.shown;
    this.reserve.hidden = !a.hasReserve;
    this.reserve.dataset.met = String(a.reserveMet);
    // reserve_price is filled for the seller only.
    const own = a.reservePrice > 0n ? ` (your reserve: ${formatMoney(a.reservePrice, a.currency)})` : "";
    setText(this.reserve, a.hasReserve ? `${a.reserveMet ? "Reserve met" : "Reserve not met"}${own}` : "");
  }

  /** The greatest maximum of the user's own standing bids (their accepted and automatic bids;
   * a leader's maximum only ever rises), as their own reads tell it: 0 when unknown. */
  private myMaximum(): bigint {
    if (!this.me) return 0n;
    let max = 0n;
    for (const b of this.history.bidsOf(this.me)) if (b.status === BidStatus.ACCEPTED && b.maxAmount > max) max = b.maxAmount;
    return max;
  }

  /** For a signed-in bidder: leading (with their maximum), or outbid. */
  private updateMine(): void {
    const a = this.shown;
    let text = "";
    let state = "";
    if (this.me && this.me !== a.sellerId && !this.biddingClosed()) {
      const max = this.myMaximum();
      const price = formatMoney(a.highestBid, a.currency);
      if (a.youLead) {
        state = "leading";
        text = max > 0n ? `You lead — your maximum ${formatMoney(max, a.currency)}` : "You lead";
        if (a.hasReserve && !a.reserveMet) text += " (the reserve is not met yet)";
      } else if (this.history.bidsOf(this.me).some((b) => b.status === BidStatus.ACCEPTED || b.rejectReason === BidRejectReason.OUTBID)) {
        state = "outbid";
        text = `Outbid: the price is now ${price}`;
      }
    }
    setText(this.mine, text);
    this.mine.dataset.state = state;
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
      // The answer to the user's last bid or purchase stays (a purchase closes the auction at once).
      replace(this.bidPanel, h("p", { class: "muted" }, "Bidding is closed."), this.result);
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
    const amount = h("input", { name: "amount", "data-testid": "bid-amount", inputmode: "decimal", placeholder: "amount", "aria-label": `Your maximum bid in ${currency}` });
    const button = h("button", { type: "submit", "data-testid": "place-bid" }, "Place bid");
    const form = h(
      "form",
      { class: "bid", "data-testid": "bid-form" },
      h(
        "label",
        { class: "field" },
        h("span", {}, `Your maximum bid (${currency})`),
        h("div", { class: "row" }, amount, button),
        this.minimum,
        h("small", { class: "muted" }, "Gavel bids for you, only as much as it takes to keep you in the lead, up to your maximum; no one else sees it."),
        h("span", { class: "error", "data-error-for": "amount" }),
      ),
      h("div", { class: "row" }, this.buyNow),
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
        this.bidDecided(bid);
        this.showAnswer(bid);
        if (bid.status === BidStatus.ACCEPTED) amount.value = "";
        if (bid.status === BidStatus.PENDING) void this.settle(bid);
      } catch (err) {
        if (!this.signal.aborted) showProblem(form, this.result, describe(err));
      } finally {
        button.disabled = false;
      }
    });
    // Buy It Now: a request id per purchase attempt, as for bids (a retry is the same purchase).
    let buyRequestId = crypto.randomUUID();
    this.buyNow.onclick = async () => {
      showProblem(form, this.result, null);
      this.buyNow.disabled = true;
      try {
        const bid = await bids.buyNow({ auctionId: this.shown.auctionId, requestId: buyRequestId }, { signal: this.signal });
        buyRequestId = crypto.randomUUID();
        this.bidDecided(bid);
        this.showAnswer(bid);
        if (bid.status === BidStatus.PENDING) void this.settle(bid);
      } catch (err) {
        if (!this.signal.aborted) showProblem(form, this.result, describe(err));
      } finally {
        this.buyNow.disabled = false;
      }
    };
    replace(this.bidPanel, form);
  }

  private showAnswer(answer: Bid): void {
    // The history's copy: it keeps the maximum that a decision arriving on the watch lacks.
    const bid = this.history.get(answer.bidId) ?? answer;
    const money = (minor: bigint) => formatMoney(minor, this.shown.currency);
    let text: string;
    if (bid.kind === BidKind.BUY_NOW) {
      text = bid.status === BidStatus.ACCEPTED
        ? `BOUGHT: the item is yours for ${money(bid.amount)}`
        : bid.status === BidStatus.REJECTED
          ? `REJECTED: ${rejectReasonText(bid.rejectReason)}`
          : "PENDING: your purchase is queued; the decision will show here and in the history";
    } else if (bid.status === BidStatus.ACCEPTED) {
      text = `ACCEPTED: you lead at ${money(bid.amount)}${bid.maxAmount > 0n ? ` — your maximum ${money(bid.maxAmount)}` : ""}`;
    } else if (bid.status === BidStatus.REJECTED && bid.rejectReason === BidRejectReason.OUTBID) {
      // highest_bid is the price the leader's proxy answered with.
      text = `OUTBID: another bidder's maximum is higher; the price is now ${money(bid.highestBid)}`;
    } else if (bid.status === BidStatus.REJECTED && bid.rejectReason === BidRejectReason.NOT_ABOVE_OWN_MAX) {
      const max = this.myMaximum();
      text = `REJECTED: ${money(bid.amount)} is not above your maximum${max > 0n ? ` of ${money(max)}` : ""}`;
    } else if (bid.status === BidStatus.REJECTED) {
      text = `REJECTED: ${money(bid.amount)} is ${rejectReasonText(bid.rejectReason)}`;
    } else {
      text = `PENDING: your maximum ${money(bid.amount)} is queued; the decision will show here and in the history`;
    }
    replace(this.result, h("span", { "data-bid-id": bid.bidId }, text));
    this.result.dataset.status = bid.status === BidStatus.ACCEPTED ? "accepted" : bid.status === BidStatus.REJECTED ? "rejected" : "pending";
  }

  /** A bid's decision, from the answer to PlaceBid or BuyNow, a read, or a watch event. */
  private bidDecided(bid: Bid): void {
    this.history.merge([bid]);
    // The answer to a pending bid of ours can arrive on the watch before polling finds it.
    if (this.result.dataset.status === "pending" && this.result.querySelector(`[data-bid-id="${CSS.escape(bid.bidId)}"]`) && bid.status !== BidStatus.PENDING) {
      this.showAnswer(bid);
    }
    this.update(); // whether the user leads, and with what maximum, may have changed
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
          this.update();
        } catch {
          // The next gap or page load reads it again.
        }
      } while (this.reloadAgain && !this.signal.aborted);
      this.reloading = null;
    })();
    return this.reloading;
  }
}

function saleStatusText(status: SaleStatus): string {
  return status === SaleStatus.PAID ? "paid" : status === SaleStatus.UNSOLD ? "unsold" : "awaiting-payment";
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
