// Home (#/): the open auctions, ending soonest first, and the form to post one.
import { durationFromMs, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";

import { auctions, currentSession } from "../api";
import { countdown, h, photo, replace } from "../dom";
import { describe, showProblem } from "../errors";
import { formatMoney, formatRemaining, parseMoney } from "../format";
import { AuctionStatus, type Auction } from "../gen/auction/v1/auction_pb";
import { navigate } from "../router";

// The list is re-read this often while shown, so new auctions and bids appear without a reload.
const REFRESH_MS = 10_000;

export function homePage(root: HTMLElement, signal: AbortSignal): void {
  const list = h("ul", { class: "cards", "data-testid": "auction-list" });
  const status = h("p", { class: "muted", "data-testid": "auction-list-status" }, "Loading…");
  const refresh = h("button", { type: "button", class: "link", "data-testid": "refresh" }, "Refresh");
  replace(
    root,
    h("section", {}, h("h2", {}, "Open auctions ", refresh), status, list),
    h("section", {}, h("h2", {}, "Post an auction"), createForm()),
  );

  const load = async (): Promise<void> => {
    try {
      const reply = await auctions.listAuctions({ status: AuctionStatus.OPEN, pageSize: 100 }, { signal });
      replace(list, ...reply.auctions.map(card));
      replace(status, reply.auctions.length ? "" : "No open auctions right now: post one below.");
    } catch (err) {
      if (!signal.aborted) replace(status, `Could not load the auctions (${describe(err).summary}).`);
    }
  };
  refresh.addEventListener("click", () => void load());
  const timer = setInterval(() => void load(), REFRESH_MS);
  signal.addEventListener("abort", () => clearInterval(timer));
  void load();
}

export function card(auction: Auction): HTMLElement {
  const item = auction.item;
  const end = auction.endDate ? timestampDate(auction.endDate) : null;
  // The price is the starting price after the first bid: the leader says whether anyone bid.
  const price = auction.highestBidderAlias
    ? h("span", { "data-testid": "card-price" }, formatMoney(auction.highestBid, auction.currency))
    : h("span", { "data-testid": "card-price" }, formatMoney(auction.startingPrice, auction.currency), h("small", {}, " starting price"));
  return h(
    "li",
    {},
    h(
      "a",
      { class: "card", href: `#/auctions/${auction.auctionId}`, "data-testid": "auction-card", "data-auction-id": auction.auctionId },
      photo(item?.imageUrl, "", "thumb"),
      h("div", { class: "card-name", "data-testid": "card-name" }, item?.name ?? "(unnamed)"),
      h("div", { class: "card-price" }, price),
      auction.buyNowPrice > 0n
        ? h("div", { class: "muted", "data-testid": "card-buy-now" }, `Buy It Now ${formatMoney(auction.buyNowPrice, auction.currency)}`)
        : null,
      end ? h("div", { class: "muted" }, "ends in ", countdown(end, (e) => formatRemaining(e))) : null,
    ),
  );
}

const DURATION_UNITS_S: Record<string, number> = { minutes: 60, hours: 3600, days: 86400 };
// Soft close: the hard end (the latest an extended auction may end) is the end plus a day, but
// within the service's longest auction (30 days from the start; a minute's margin for a browser
// clock ahead of the server's).
const HARD_END_AFTER_MS = 86400_000;
const MAX_AUCTION_MS = 30 * 86400_000 - 60_000;

/** An optional amount field: "" is 0n (none). */
function optionalMoney(text: string, currency: string): bigint {
  return text.trim() === "" ? 0n : parseMoney(text, currency);
}

function field(label: string, name: string, input: HTMLElement, hint?: string): HTMLElement {
  return h(
    "label",
    { class: "field" },
    h("span", {}, label),
    input,
    hint ? h("small", { class: "muted" }, hint) : null,
    h("span", { class: "error", "data-error-for": name }),
  );
}

function createForm(): HTMLElement {
  const name = h("input", { name: "item.name", "data-testid": "create-name", maxlength: "200" });
  const description = h("textarea", { name: "item.description", "data-testid": "create-description", rows: "3" });
  const imageUrl = h("input", { name: "item.image_url", "data-testid": "create-image", type: "url", placeholder: "https://…" });
  const price = h("input", { name: "starting_price", "data-testid": "create-price", inputmode: "decimal", placeholder: "12.50" });
  const currency = h("input", { name: "currency", "data-testid": "create-currency", value: "EUR", maxlength: "3", size: "4" });
  const duration = h("input", { name: "duration", "data-testid": "create-duration", type: "number", min: "1", value: "60" });
  const unit = h(
    "select",
    { name: "duration_unit", "data-testid": "create-duration-unit" },
    ...Object.keys(DURATION_UNITS_S).map((u) => h("option", { value: u }, u)),
  );
  const reserve = h("input", { name: "reserve_price", "data-testid": "create-reserve", inputmode: "decimal", placeholder: "none" });
  const buyNow = h("input", { name: "buy_now_price", "data-testid": "create-buy-now", inputmode: "decimal", placeholder: "none" });
  const softClose = h("input", { name: "soft_close", "data-testid": "create-soft-close", type: "checkbox" });
  const softMinutes = h("input", { name: "soft_close.window", "data-testid": "create-soft-close-minutes", type: "number", min: "1", value: "5", size: "4" });
  const submit = h("button", { type: "submit", "data-testid": "create-submit" }, "Post auction");
  const summary = h("div", { class: "error", "data-testid": "create-error", role: "alert" });
  const signedOut = currentSession() === null;

  const form = h(
    "form",
    { class: "create", "data-testid": "create-auction" },
    field("Item", "item.name", name),
    field("Description", "item.description", description),
    field("Image URL", "item.image_url", imageUrl),
    h("div", { class: "row" }, field("Starting price", "starting_price", price), field("Currency", "currency", currency)),
    h("div", { class: "row" }, field("Runs for", "end_date", duration), field("", "duration_unit", unit)),
    h(
      "div",
      { class: "row" },
      field("Reserve (optional)", "reserve_price", reserve, "hidden from bidders; below it, no sale"),
      field("Buy It Now (optional)", "buy_now_price", buyNow, "until the first bid (or the reserve is met)"),
    ),
    h(
      "div",
      { class: "row" },
      h("label", { class: "check" }, softClose, " Soft close: a bid in the last "),
      field("", "soft_close.window", softMinutes),
      h("span", {}, "minutes moves the end to that long after it"),
      h("span", { class: "error", "data-error-for": "soft_close.hard_end" }),
    ),
    signedOut ? h("p", { class: "muted" }, "Sign in (top right) to post an auction.") : null,
    submit,
    summary,
  );
  submit.disabled = signedOut;
  // One request id per filled-in form: resubmitting it unchanged (e.g. after a timeout) cannot
  // post the item twice, while any edit makes it a new request.
  let requestId = crypto.randomUUID();
  form.addEventListener("input", () => (requestId = crypto.randomUUID()));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = currency.value.trim().toUpperCase() || "USD";
    const amounts: Record<string, bigint> = {};
    for (const [fieldName, input, optional] of [
      ["starting_price", price, false],
      ["reserve_price", reserve, true],
      ["buy_now_price", buyNow, true],
    ] as const) {
      try {
        amounts[fieldName] = optional ? optionalMoney(input.value, code) : parseMoney(input.value, code);
      } catch (err) {
        showProblem(form, summary, { summary: "Check the amounts.", fields: new Map([[fieldName, [(err as Error).message]]]) });
        return;
      }
    }
    const seconds = Math.round(Number(duration.value) * (DURATION_UNITS_S[unit.value] ?? 60));
    const end = Date.now() + seconds * 1000;
    // window = extension = the minutes given; see HARD_END_AFTER_MS for the hard end.
    const softMs = Math.round(Number(softMinutes.value) * 60_000);
    if (softClose.checked && !(softMs > 0)) {
      showProblem(form, summary, { summary: "Check the soft close.", fields: new Map([["soft_close.window", ["a number of minutes such as 5"]]]) });
      return;
    }
    const soft = softClose.checked
      ? {
          window: durationFromMs(softMs),
          extension: durationFromMs(softMs),
          hardEnd: timestampFromDate(new Date(Math.min(end + HARD_END_AFTER_MS, Date.now() + MAX_AUCTION_MS))),
        }
      : undefined;
    submit.disabled = true;
    showProblem(form, summary, null);
    try {
      const auction = await auctions.createAuction({
        item: { name: name.value, description: description.value, imageUrl: imageUrl.value.trim() },
        // start_date is left out: the server reads that as "now" by its own clock, which a
        // browser's clock (often seconds off) cannot beat.
        endDate: timestampFromDate(new Date(end)),
        startingPrice: amounts.starting_price,
        reservePrice: amounts.reserve_price,
        buyNowPrice: amounts.buy_now_price,
        softClose: soft,
        currency: code,
        requestId,
      });
      navigate(`#/auctions/${auction.auctionId}`);
    } catch (err) {
      showProblem(form, summary, describe(err));
      submit.disabled = false;
    }
  });
  return form;
}
