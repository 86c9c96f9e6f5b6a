// Home (#/): the open auctions, ending soonest first, and the form to post one.
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";

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

function card(auction: Auction): HTMLElement {
  const item = auction.item;
  const end = auction.endDate ? timestampDate(auction.endDate) : null;
  const price = auction.highestBid > 0n
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
      end ? h("div", { class: "muted" }, "ends in ", countdown(end, (e) => formatRemaining(e))) : null,
    ),
  );
}

const DURATION_UNITS_S: Record<string, number> = { minutes: 60, hours: 3600, days: 86400 };

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
    let startingPrice: bigint;
    try {
      startingPrice = parseMoney(price.value, code);
    } catch (err) {
      showProblem(form, summary, { summary: "Check the starting price.", fields: new Map([["starting_price", [(err as Error).message]]]) });
      return;
    }
    const seconds = Math.round(Number(duration.value) * (DURATION_UNITS_S[unit.value] ?? 60));
    submit.disabled = true;
    showProblem(form, summary, null);
    try {
      const auction = await auctions.createAuction({
        item: { name: name.value, description: description.value, imageUrl: imageUrl.value.trim() },
        // start_date is left out: the server reads that as "now" by its own clock, which a
        // browser's clock (often seconds off) cannot beat.
        endDate: timestampFromDate(new Date(Date.now() + seconds * 1000)),
        startingPrice,
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
