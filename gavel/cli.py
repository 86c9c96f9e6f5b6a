"""``gavel``: the command line on the typed client (gavel.client).

Amounts are typed and shown in the currency's major unit (``12.50`` EUR); the API carries
minor units, and the currency's precision (ISO 4217, from Babel) converts between the two.
Errors print the gRPC status and its field violations, never a traceback. The token saved by
``gavel token`` is used by every later command (``--token`` / ``GAVEL_TOKEN`` override it).

Bidding follows eBay's rules: the amount of ``gavel bid`` is your *maximum*; Gavel bids for you
up to it, only as much as needed, so the price shown is what the proxy rules set.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click
import grpc
from babel.numbers import get_currency_precision
from tenacity import retry, retry_if_exception, wait_exponential

from gavel import durations
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.client import GavelClient
from gavel.errors import field_violations, precondition_failures
from gavel.messages import duration, timestamp
from gavel.money import money
from gavel.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")

REASONS = {
    pb.BID_REJECT_REASON_BELOW_STARTING_PRICE: "below the starting price",
    pb.BID_REJECT_REASON_NOT_ABOVE_HIGHEST: "not above the highest bid",  # no longer given; old histories
    pb.BID_REJECT_REASON_AUCTION_NOT_STARTED: "the auction has not started",
    pb.BID_REJECT_REASON_AUCTION_ENDED: "the auction has ended",
    pb.BID_REJECT_REASON_AUCTION_CANCELLED: "the auction was cancelled",
    pb.BID_REJECT_REASON_BELOW_MIN_BID: "below the minimum bid",
    pb.BID_REJECT_REASON_OUTBID: "outbid by the leader's maximum",
    pb.BID_REJECT_REASON_NOT_ABOVE_OWN_MAX: "not above your own maximum",
    pb.BID_REJECT_REASON_BUY_NOW_UNAVAILABLE: "Buy It Now is not available",
}
KINDS = {pb.BID_KIND_PROXY: "automatic bid", pb.BID_KIND_BUY_NOW: "Buy It Now"}
#: Soft close's hard end (the latest an extended auction may end): the end plus a day, but
#: within the service's longest auction, 30 days from the start. An auction created to end at
#: that limit leaves no room, and the service says so (soft_close.hard_end).
HARD_END_AFTER = timedelta(days=1)
MAX_AUCTION = timedelta(days=30)
STATUSES = {"scheduled": pb.AUCTION_STATUS_SCHEDULED, "open": pb.AUCTION_STATUS_OPEN, "ended": pb.AUCTION_STATUS_ENDED}


def token_file() -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "gavel" / "token"


# --- money and time ----------------------------------------------------------------------


def to_minor(amount: Decimal, currency: str) -> int:
    scaled = amount.scaleb(get_currency_precision(currency))
    if scaled != scaled.to_integral_value():
        raise click.BadParameter(f"{amount} has more decimals than {currency} allows")
    return int(scaled)


class Amount(click.ParamType[Decimal]):
    name = "amount"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Decimal:
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            self.fail(f"{value!r} is not an amount such as 12.50", param, ctx)
        if amount <= 0:
            self.fail("must be positive", param, ctx)
        return amount


class Duration(click.ParamType[timedelta]):
    """``90s``, ``15m``, ``2h``, ``3d``."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> timedelta:
        if isinstance(value, timedelta):
            return value
        parsed = durations.parse(str(value))
        if parsed is None:
            self.fail(f"{value!r} is not a duration such as 90s, 15m, 2h or 3d", param, ctx)
        return parsed

    @staticmethod
    def text(value: timedelta) -> str:
        """The other way: the largest unit that divides it (``timedelta(minutes=90)`` is ``90m``)."""
        seconds = int(value.total_seconds())
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
            if seconds and seconds % size == 0:
                return f"{seconds // size}{unit}"
        return f"{seconds}s"


def remaining(moment: datetime) -> str:
    """``1h05m``, ``4m09s``, or "" once it has passed."""
    left = moment - datetime.now(UTC)
    if left <= timedelta(0):
        return ""
    minutes, seconds = divmod(int(left.total_seconds()), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


def until(moment: datetime) -> str:
    left = remaining(moment)
    return f"ends in {left}" if left else "ended"


def status_name(status: int) -> str:
    return pb.AuctionStatus.Name(status).removeprefix("AUCTION_STATUS_").lower()  # type: ignore[arg-type]


def leader(auction: pb.Auction) -> str:
    """The price and who leads; the price is the starting price after the first bid, so the
    leader, not the price, says whether anyone has bid."""
    if auction.highest_bidder_alias:
        return f"{money(auction.highest_bid, auction.currency)} by {who(auction)}"
    return f"no bids (starts at {money(auction.starting_price, auction.currency)})"


def who(auction: pb.Auction) -> str:
    """The leader as the caller may see them: their alias, "(you)" if it is the caller, and
    the winner's account name where the caller is shown it (the seller, after the close)."""
    name = auction.highest_bidder_alias
    if auction.you_lead:
        return f"{name} (you)"
    if auction.winner_id:
        return f"{name} ({auction.winner_id})"
    return name


def reserve(auction: pb.Auction) -> str:
    if not auction.has_reserve:
        return ""
    state = "met" if auction.reserve_met else "not met"
    # Only the seller's reads carry the amount.
    return f"{money(auction.reserve_price, auction.currency)} ({state})" if auction.reserve_price else state


def ends(auction: pb.Auction) -> str:
    end = auction.end_date.ToDatetime(tzinfo=UTC).isoformat()
    original = auction.original_end_date.ToDatetime(tzinfo=UTC).isoformat()
    if auction.HasField("original_end_date") and original != end:
        return f"{end} (extended from {original})"
    return end


def soft_close(auction: pb.Auction) -> str:
    if not auction.HasField("soft_close"):
        return ""
    soft = auction.soft_close
    window, extension = (Duration.text(d.ToTimedelta()) for d in (soft.window, soft.extension))
    hard_end = soft.hard_end.ToDatetime(tzinfo=UTC).isoformat()
    return f"a bid in the last {window} moves the end to {extension} after it, until {hard_end} at the latest"


def summary(auction: pb.Auction) -> str:
    """The one line ``watch`` keeps updating."""
    end = auction.end_date.ToDatetime(tzinfo=UTC)
    if auction.HasField("closed_at"):
        if auction.HasField("sale"):
            outcome = f"won by {who(auction)}"
        elif auction.highest_bidder_alias:
            outcome = "ended: reserve not met"
        else:
            outcome = "ended without bids"
        return f"{auction.item.name} · {outcome} · {money(auction.highest_bid, auction.currency)} · {auction.bid_count} bids"
    return f"{auction.item.name} · {leader(auction)} · {auction.bid_count} bids · v{auction.version} · {until(end)}"


# --- errors ------------------------------------------------------------------------------


def friendly_errors(command: Callable[P, R]) -> Callable[P, R]:
    """A failed call becomes its status, message and field violations, and exit code 1."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except grpc.RpcError as exc:
            click.echo(f"error: {exc.code().name}: {exc.details()}", err=True)
            for violation in field_violations(exc):
                click.echo(f"  {violation.field}: {violation.description}", err=True)
            for rule, _subject in precondition_failures(exc):
                click.echo(f"  rule: {rule}", err=True)
            sys.exit(1)

    return run


# --- commands ----------------------------------------------------------------------------


@click.group()
@click.option("--target", envvar="GAVEL_TARGET", help="host:port of the gateway (default: the local stack's).")
@click.option("--token", envvar="GAVEL_TOKEN", help="Bearer token (default: the one `gavel token` saved).")
@click.pass_context
def main(ctx: click.Context, target: str | None, token: str | None) -> None:
    """Gavel from the command line: auctions, bids, and live watching."""
    if token is None and token_file().exists():
        token = token_file().read_text().strip()
    target = target or f"localhost:{Settings().envoy_port}"
    ctx.obj = ctx.with_resource(GavelClient(target, token))


@main.command()
@click.option("--user", required=True, help="The user name to act as.")
@click.pass_obj
@friendly_errors
def token(client: GavelClient, user: str) -> None:
    """Signs in as USER on a local stack (dev mode only) and saves the token for later commands."""
    issued = client.issue_dev_token(user)
    path = token_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(issued.token + "\n")
    path.chmod(0o600)
    click.echo(issued.token)
    click.echo(f"signed in as {user}; token saved to {path}", err=True)


@main.group()
def auction() -> None:
    """Create, show and list auctions."""


@auction.command("create")
@click.option("--name", required=True)
@click.option("--description", default="")
@click.option("--image-url", default="")
@click.option("--starting-price", type=Amount(), required=True, help="In major units, e.g. 12.50.")
@click.option("--currency", default="USD", show_default=True)
@click.option("--ends-in", type=Duration(), default="1h", show_default=True)
@click.option("--starts-in", type=Duration(), default="0s", show_default=True)
@click.option("--reserve", type=Amount(), help="Hidden reserve price; below it the item is not sold.")
@click.option("--buy-now", type=Amount(), help="Buy It Now price, until the first bid (or the reserve is met).")
@click.option(
    "--soft-close",
    type=Duration(),
    help="A bid in the last DURATION moves the end to DURATION after it (up to a day past the end).",
)
@click.option("--payment-window", type=Duration(), help="How long the buyer has to pay (default: the service's).")
@click.pass_obj
@friendly_errors
def auction_create(
    client: GavelClient,
    name: str,
    description: str,
    image_url: str,
    starting_price: Decimal,
    currency: str,
    ends_in: timedelta,
    starts_in: timedelta,
    reserve: Decimal | None,
    buy_now: Decimal | None,
    soft_close: timedelta | None,
    payment_window: timedelta | None,
) -> None:
    """Posts an item for auction; you are the seller."""
    currency = currency.upper()
    now = datetime.now(UTC)
    start, end = now + starts_in, now + ends_in
    request = pb.CreateAuctionRequest(
        item=pb.Item(name=name, description=description, image_url=image_url),
        start_date=timestamp(start),
        end_date=timestamp(end),
        starting_price=to_minor(starting_price, currency),
        currency=currency,
        reserve_price=to_minor(reserve, currency) if reserve is not None else 0,
        buy_now_price=to_minor(buy_now, currency) if buy_now is not None else 0,
    )
    if soft_close is not None:
        window = duration(soft_close)
        hard_end = min(end + HARD_END_AFTER, start + MAX_AUCTION)
        request.soft_close.CopyFrom(pb.SoftClose(window=window, extension=window, hard_end=timestamp(hard_end)))
    if payment_window is not None:
        request.payment_window.CopyFrom(duration(payment_window))
    click.echo(client.create_auction(request).auction_id)


@auction.command("show")
@click.argument("auction_id")
@click.pass_obj
@friendly_errors
def auction_show(client: GavelClient, auction_id: str) -> None:
    """Everything about one auction."""
    a = client.get_auction(auction_id)
    rows = [
        ("id", a.auction_id),
        ("item", a.item.name),
        ("description", a.item.description),
        ("image", a.item.image_url),
        ("seller", a.seller_id),
        ("status", status_name(a.status)),
        ("starts", a.start_date.ToDatetime(tzinfo=UTC).isoformat()),
        ("ends", ends(a)),
        ("soft close", soft_close(a)),
        ("starting price", money(a.starting_price, a.currency)),
        ("reserve", reserve(a)),
        ("buy it now", money(a.buy_now_price, a.currency) if a.buy_now_price else ""),
        ("price", leader(a)),
        ("minimum bid", money(a.min_next_bid, a.currency) if a.status == pb.AUCTION_STATUS_OPEN else ""),
        ("bids", str(a.bid_count)),
        ("version", str(a.version)),
    ]
    if a.HasField("closed_at"):
        rows.append(("winner", who(a) if a.HasField("sale") else "(none)"))
    if a.HasField("sale"):
        rows.append(("sale", sale_line(a.sale, a.currency)))
    for label, value in rows:
        if value:
            click.echo(f"{label:>15}  {value}")


@auction.command("list")
@click.option("--status", type=click.Choice(list(STATUSES)), default="open", show_default=True)
@click.option("--seller", default="", help="Only this seller's auctions.")
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True)
@click.pass_obj
@friendly_errors
def auction_list(client: GavelClient, status: str, seller: str, limit: int) -> None:
    """Open auctions come ending soonest first."""
    for n, a in enumerate(client.list_auctions(STATUSES[status], seller), start=1):
        end = a.end_date.ToDatetime(tzinfo=UTC)
        click.echo(f"{a.auction_id}  {a.item.name[:30]:<30}  {leader(a):<32}  {until(end)}")
        if n >= limit:
            break


def standing(auction: pb.Auction) -> str:
    """After a rejection: where the auction stands, and what a bid must be now."""
    if auction.status != pb.AUCTION_STATUS_OPEN:
        return f"the price is {leader(auction)}; the auction is {status_name(auction.status)}"
    return f"the price is {leader(auction)}; bid at least {money(auction.min_next_bid, auction.currency)}"


@main.command()
@click.argument("auction_id")
@click.argument("amount", type=Amount())
@click.pass_obj
@friendly_errors
def bid(client: GavelClient, auction_id: str, amount: Decimal) -> None:
    """Bids up to AMOUNT, your maximum in major units such as 15.00: Gavel bids for you, only as
    much as it takes to keep you in the lead, up to it. Exit code 2 when refused or outbid."""
    before = client.get_auction(auction_id)
    currency = before.currency
    placed = client.place_bid(auction_id, to_minor(amount, currency))
    if placed.status == pb.BID_STATUS_ACCEPTED:
        line = f"accepted: you lead at {money(placed.amount, currency)}"
        if placed.max_amount:  # the answer to the bidder carries their maximum
            line += f" — your maximum {money(placed.max_amount, currency)}"
        if before.has_reserve and not before.reserve_met and not client.get_auction(auction_id).reserve_met:
            line += " (the reserve is not met yet)"
        click.echo(line)
    elif placed.status == pb.BID_STATUS_REJECTED and placed.reject_reason == pb.BID_REJECT_REASON_OUTBID:
        # highest_bid: the price the leader's automatic bid answered with.
        click.echo(
            f"outbid: the price is now {money(placed.highest_bid, currency)} (another bidder's maximum is higher)"
        )
        sys.exit(2)
    elif placed.status == pb.BID_STATUS_REJECTED and placed.reject_reason == pb.BID_REJECT_REASON_NOT_ABOVE_OWN_MAX:
        # The leader is not held to the minimum bid, only to their own maximum.
        mine = [b.max_amount for b in client.list_bids(auction_id) if b.status == pb.BID_STATUS_ACCEPTED]
        line = f"rejected: {REASONS[placed.reject_reason]}"
        if max(mine, default=0):
            line += f" (you lead with a maximum of {money(max(mine), currency)})"
        click.echo(line)
        sys.exit(2)
    elif placed.status == pb.BID_STATUS_REJECTED:
        reason = REASONS.get(placed.reject_reason, "unknown reason")
        click.echo(f"rejected: {reason} ({standing(client.get_auction(auction_id))})")
        sys.exit(2)
    else:
        click.echo(f"pending: bid {placed.bid_id} is in the log; `gavel bids {auction_id}` shows its outcome")


@main.command()
@click.argument("auction_id")
@click.pass_obj
@friendly_errors
def buy(client: GavelClient, auction_id: str) -> None:
    """Buys the item at its Buy It Now price (while that is offered). Exit code 2 when refused."""
    auction = client.get_auction(auction_id)
    bought = client.buy_now(auction_id)
    if bought.status == pb.BID_STATUS_ACCEPTED:
        click.echo(f"bought: {auction.item.name} is yours for {money(bought.amount, auction.currency)}")
    elif bought.status == pb.BID_STATUS_REJECTED:
        click.echo(f"rejected: {REASONS.get(bought.reject_reason, 'unknown reason')}")
        sys.exit(2)
    else:
        click.echo(
            f"pending: purchase {bought.bid_id} is in the log; `gavel auction show {auction_id}` shows its outcome"
        )


@main.command()
@click.argument("auction_id")
@click.option("--ids", is_flag=True, help="Start each line with the bid's id (for `gavel retract`).")
@click.pass_obj
@friendly_errors
def bids(client: GavelClient, auction_id: str, ids: bool) -> None:
    """The bid history, newest first, rejected bids with their reasons (and, signed in, your
    own maximum on your bids)."""
    currency = client.get_auction(auction_id).currency
    for b in client.list_bids(auction_id):
        at = b.placed_at.ToDatetime(tzinfo=UTC).strftime("%H:%M:%S")
        outcome = "accepted" if b.status == pb.BID_STATUS_ACCEPTED else f"rejected: {REASONS.get(b.reject_reason, '?')}"
        if b.kind in KINDS:
            outcome += f" ({KINDS[b.kind]})"
        if b.max_amount and b.status == pb.BID_STATUS_ACCEPTED:
            outcome += f", your maximum {money(b.max_amount, currency)}"
        if b.retracted:
            outcome += " [retracted]"
        bidder = f"{b.bidder_alias} (you)" if b.yours else b.bidder_alias
        line = f"{at}  {money(b.amount, currency):>14}  {bidder:<20}  {outcome}"
        click.echo(f"{b.bid_id}  {line}" if ids else line)


SALE_STATUSES = {
    pb.SALE_STATUS_AWAITING_PAYMENT: "awaiting payment",
    pb.SALE_STATUS_PAID: "paid",
    pb.SALE_STATUS_UNSOLD: "unsold",
}


def sale_line(sale: pb.Sale, currency: str) -> str:
    """One line of a sale: status, price, who (when the caller may see it), the deadline."""
    buyer = f" by {sale.buyer_id}" if sale.buyer_id else ""
    line = f"{SALE_STATUSES.get(sale.status, '?')}: {money(sale.price, currency)}{buyer}"
    if sale.offer:
        line += f" (offer {sale.offer} to a next bidder)"
    if sale.status == pb.SALE_STATUS_AWAITING_PAYMENT:
        line += f", pay within {remaining(sale.pay_by.ToDatetime(tzinfo=UTC)) or '(the deadline has passed)'}"
    if sale.buyer_unpaid_items:
        line += f"; the buyer has left {sale.buyer_unpaid_items} won item(s) unpaid"
    return line


@main.command()
@click.argument("auction_id")
@click.pass_obj
@friendly_errors
def sale(client: GavelClient, auction_id: str) -> None:
    """The sale after the close (for its seller and its buyer)."""
    click.echo(sale_line(client.get_sale(auction_id), client.get_auction(auction_id).currency))


@main.command()
@click.argument("auction_id")
@click.option("--request-id", default=None, help="Reuse to retry the same payment.")
@click.pass_obj
@friendly_errors
def pay(client: GavelClient, auction_id: str, request_id: str | None) -> None:
    """Pays for an item you won (or were offered as the next bidder), before its deadline."""
    paid = client.pay_sale(auction_id, request_id)
    click.echo(sale_line(paid, client.get_auction(auction_id).currency))


@main.command()
@click.argument("auction_id")
@click.pass_obj
@friendly_errors
def decline(client: GavelClient, auction_id: str) -> None:
    """Turns down an item offered to you as the next bidder; it goes to the next one."""
    declined = client.decline_offer(auction_id)
    click.echo(f"declined; the sale is now {SALE_STATUSES.get(declined.status, '?')}")


@main.command()
@click.argument("auction_id")
@click.option("--reason", default="", help="Shown with the cancelled auction.")
@click.pass_obj
@friendly_errors
def cancel(client: GavelClient, auction_id: str, reason: str) -> None:
    """Cancels your auction: any time without bids, with bids only while more than 12 hours
    are left. It then ends with no winner."""
    cancelled = client.cancel_auction(auction_id, reason)
    click.echo(f"cancelled: {cancelled.item.name}")


@main.command()
@click.argument("auction_id")
@click.argument("bid_id")
@click.option("--reason", default="", help="Why (kept with the retraction).")
@click.pass_obj
@friendly_errors
def retract(client: GavelClient, auction_id: str, bid_id: str, reason: str) -> None:
    """Takes back your bid BID_ID (`gavel bids --ids` shows it): any bid while more than 12
    hours are left; later, only a bid of the last hour, which takes back all your bids."""
    taken = client.retract_bid(auction_id, bid_id, reason)
    after = client.get_auction(auction_id)
    click.echo(f"retracted bid {taken.bid_id}; {standing(after)}")


def _unavailable(exc: BaseException) -> bool:
    return isinstance(exc, grpc.RpcError) and exc.code() == grpc.StatusCode.UNAVAILABLE


@main.command()
@click.argument("auction_id")
@click.pass_obj
@friendly_errors
def watch(client: GavelClient, auction_id: str) -> None:
    """A live line for the auction, updated in place as bids land, until it ends.
    Reconnects (resuming from the current state) when the service goes away."""
    live = sys.stdout.isatty()

    def show(line: str) -> None:
        click.echo(f"\r\x1b[2K{line}" if live else line, nl=not live)

    @retry(
        retry=retry_if_exception(_unavailable),
        wait=wait_exponential(max=5),
        before_sleep=lambda _: show("(reconnecting…)"),
    )
    def follow() -> None:
        for event in client.watch(auction_id):
            show(summary(event.auction))
            a = event.auction
            if a.HasField("closed_at") or a.status == pb.AUCTION_STATUS_CANCELLED:
                return  # it has ended (its sale, if any, is `gavel sale`'s to follow)

    try:
        follow()
    except KeyboardInterrupt:
        pass
    if live:
        click.echo()


KIND_NAMES = {
    k: pb.NotificationKind.Name(k).removeprefix("NOTIFICATION_KIND_").lower() for k in pb.NotificationKind.values()
}


def notification_line(n: pb.Notification) -> str:
    at = n.created_at.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"{n.notification_id:>8}  {at}  {KIND_NAMES.get(n.kind, '?'):<20} {n.text}  ({n.auction_id})"


@main.command()
@click.option("--follow", is_flag=True, help="Then print new ones as they come, until interrupted.")
@click.pass_obj
@friendly_errors
def notifications(client: GavelClient, follow: bool) -> None:
    """What concerns you: outbid, ending soon, won or lost, payments; oldest first. With
    --follow it goes on live, and reconnects from the last one shown when the service goes."""
    if not follow:
        for n in list(client.notifications())[::-1]:
            click.echo(notification_line(n))
        return
    last = 0  # the newest shown: a reconnect resumes after it

    def show(n: pb.Notification) -> None:
        nonlocal last
        if int(n.notification_id) > last:
            click.echo(notification_line(n))
            last = int(n.notification_id)

    @retry(retry=retry_if_exception(_unavailable), wait=wait_exponential(max=5))
    def go_on() -> None:
        listed = last > 0  # with a cursor, the stream itself brings what was missed
        for n in client.follow_notifications(str(last) if last else ""):
            if n.heartbeat:
                if not listed:  # live now: the kept ones, then what comes (shown once each)
                    for kept in list(client.notifications())[::-1]:
                        show(kept)
                    listed = True
                continue
            show(n)

    try:
        go_on()
    except KeyboardInterrupt:
        pass


@main.group()
def watchlist() -> None:
    """The auctions you watch: they tell you when they end soon and when they end."""


@watchlist.command("add")
@click.argument("auction_id")
@click.pass_obj
@friendly_errors
def watchlist_add(client: GavelClient, auction_id: str) -> None:
    auction = client.watch_auction(auction_id)
    click.echo(f"watching {auction.item.name}: {summary(auction)}")


@watchlist.command("rm")
@click.argument("auction_id")
@click.pass_obj
@friendly_errors
def watchlist_rm(client: GavelClient, auction_id: str) -> None:
    client.unwatch_auction(auction_id)
    click.echo(f"not watching {auction_id}")


@watchlist.command("ls")
@click.pass_obj
@friendly_errors
def watchlist_ls(client: GavelClient) -> None:
    """Ending soonest first."""
    for a in client.watchlist():
        click.echo(f"{a.auction_id}  {summary(a)}")
