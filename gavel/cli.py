"""``gavel``: the command line on the typed client (gavel.client).

Amounts are typed and shown in the currency's major unit (``12.50`` EUR); the API carries
minor units, and the currency's precision (ISO 4217, from Babel) converts between the two.
Errors print the gRPC status and its field violations, never a traceback. The token saved by
``gavel token`` is used by every later command (``--token`` / ``GAVEL_TOKEN`` override it).
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ClassVar, ParamSpec, TypeVar

import click
import grpc
from babel.numbers import format_currency, get_currency_precision
from tenacity import retry, retry_if_exception, wait_exponential

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.client import GavelClient
from gavel.errors import field_violations
from gavel.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")

REASONS = {
    pb.BID_REJECT_REASON_BELOW_STARTING_PRICE: "below the starting price",
    pb.BID_REJECT_REASON_NOT_ABOVE_HIGHEST: "not above the highest bid",
    pb.BID_REJECT_REASON_AUCTION_NOT_STARTED: "the auction has not started",
    pb.BID_REJECT_REASON_AUCTION_ENDED: "the auction has ended",
    pb.BID_REJECT_REASON_AUCTION_CANCELLED: "the auction was cancelled",
}
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


def money(minor: int, currency: str) -> str:
    return format_currency(Decimal(minor).scaleb(-get_currency_precision(currency)), currency, locale="en_US")


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
    UNITS: ClassVar[dict[str, str]] = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> timedelta:
        if isinstance(value, timedelta):
            return value
        match = re.fullmatch(r"(\d+)([smhd])", str(value).strip())
        if not match:
            self.fail(f"{value!r} is not a duration such as 90s, 15m, 2h or 3d", param, ctx)
        return timedelta(**{self.UNITS[match[2]]: int(match[1])})


def until(moment: datetime) -> str:
    left = moment - datetime.now(UTC)
    if left <= timedelta(0):
        return "ended"
    minutes, seconds = divmod(int(left.total_seconds()), 60)
    hours, minutes = divmod(minutes, 60)
    return f"ends in {hours}h{minutes:02d}m" if hours else f"ends in {minutes}m{seconds:02d}s"


def status_name(status: int) -> str:
    return pb.AuctionStatus.Name(status).removeprefix("AUCTION_STATUS_").lower()  # type: ignore[arg-type]


def leader(auction: pb.Auction) -> str:
    if auction.highest_bidder_id:
        return f"{money(auction.highest_bid, auction.currency)} by {auction.highest_bidder_id}"
    return f"no bids (starts at {money(auction.starting_price, auction.currency)})"


def summary(auction: pb.Auction) -> str:
    """The one line ``watch`` keeps updating."""
    end = auction.end_date.ToDatetime(tzinfo=UTC)
    if auction.HasField("closed_at"):
        outcome = f"won by {auction.winner_id}" if auction.winner_id else "ended without bids"
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
) -> None:
    """Posts an item for auction; you are the seller."""
    currency = currency.upper()
    created = client.create_auction(
        pb.Item(name=name, description=description, image_url=image_url),
        starting_price=to_minor(starting_price, currency),
        currency=currency,
        ends_in=ends_in,
        starts_in=starts_in,
    )
    click.echo(created.auction_id)


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
        ("ends", a.end_date.ToDatetime(tzinfo=UTC).isoformat()),
        ("starting price", money(a.starting_price, a.currency)),
        ("highest bid", leader(a)),
        ("bids", str(a.bid_count)),
        ("version", str(a.version)),
    ]
    if a.HasField("closed_at"):
        rows.append(("winner", a.winner_id or "(none)"))
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


@main.command()
@click.argument("auction_id")
@click.argument("amount", type=Amount())
@click.pass_obj
@friendly_errors
def bid(client: GavelClient, auction_id: str, amount: Decimal) -> None:
    """Bids AMOUNT, in major units such as 15.00, on an auction."""
    currency = client.get_auction(auction_id).currency
    placed = client.place_bid(auction_id, to_minor(amount, currency))
    highest = money(placed.highest_bid, currency)
    if placed.status == pb.BID_STATUS_ACCEPTED:
        click.echo(f"accepted: you lead with {money(placed.amount, currency)}")
    elif placed.status == pb.BID_STATUS_REJECTED:
        click.echo(f"rejected: {REASONS.get(placed.reject_reason, 'unknown reason')} (highest is {highest})")
        sys.exit(2)
    else:
        click.echo(f"pending: bid {placed.bid_id} is in the log; `gavel bids {auction_id}` shows its outcome")


@main.command()
@click.argument("auction_id")
@click.pass_obj
@friendly_errors
def bids(client: GavelClient, auction_id: str) -> None:
    """The bid history, newest first, rejected bids with their reasons."""
    currency = client.get_auction(auction_id).currency
    for b in client.list_bids(auction_id):
        at = b.placed_at.ToDatetime(tzinfo=UTC).strftime("%H:%M:%S")
        outcome = "accepted" if b.status == pb.BID_STATUS_ACCEPTED else f"rejected: {REASONS.get(b.reject_reason, '?')}"
        click.echo(f"{at}  {money(b.amount, currency):>14}  {b.bidder_id:<20}  {outcome}")


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

    try:
        follow()
    except KeyboardInterrupt:
        pass
    if live:
        click.echo()
