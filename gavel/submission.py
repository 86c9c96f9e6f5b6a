"""Putting a command in its auction's log partition and waiting for the worker's decision:
the one way every API that changes an auction does it (bids, purchases, payments, declines,
cancellations, retractions), so each is ordered with the others and decided once.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from nats.js import JetStreamContext

from gavel import bus, commands
from gavel.domain.refusals import Refusal
from gavel.errors import FailedPrecondition, GavelError, PermissionDenied, Unavailable
from gavel.replies import Replies, Reply
from gavel.settings import Settings

#: What each refusal tells the caller (the rule's name is the PreconditionFailure's type).
EXPLAINED = {
    Refusal.NOT_THE_SELLER: "only the seller may cancel the auction",
    Refusal.NOT_THE_BUYER: "only the buyer the sale stands with may pay for it or decline it",
    Refusal.NOT_YOUR_BID: "only the bidder who placed a bid may retract it",
    Refusal.AUCTION_ENDED: "the auction has ended",
    Refusal.AUCTION_CANCELLED: "the auction was cancelled",
    Refusal.CANCEL_TOO_LATE: "a bid leads and the auction ends too soon to cancel it (GAVEL_CANCEL_MIN_REMAINING)",
    Refusal.RETRACT_TOO_LATE: ("this close to the end only a bid placed within GAVEL_RETRACT_RECENT may be retracted"),
    Refusal.NO_SALE: "the auction has no sale (it has not closed with a winner)",
    Refusal.ALREADY_PAID: "the sale is paid",
    Refusal.SALE_UNSOLD: "the sale ended unsold",
    Refusal.PAYMENT_WINDOW_PASSED: "the payment window has passed",
    Refusal.WINNER_CANNOT_DECLINE: "the winner owes the item: only a next bidder's offer can be declined",
}


def refusal_error(reason: str, auction_id: uuid.UUID) -> GavelError:
    """PERMISSION_DENIED for who may act, FAILED_PRECONDITION naming the rule for the rest."""
    refusal = Refusal(reason)
    if refusal.permission:
        return PermissionDenied(EXPLAINED[refusal])
    return FailedPrecondition(refusal.name, f"auctions/{auction_id}", EXPLAINED[refusal])


@dataclass(frozen=True, slots=True)
class Submitted:
    #: The log already held this command (a retry within the dedupe window): no decision follows.
    duplicate: bool
    #: The decision; None if it did not come within the deadline (it is durable all the same).
    reply: Reply | None


class Submitter:
    def __init__(self, settings: Settings, js: JetStreamContext, replies: Replies) -> None:
        self._settings = settings
        self._js = js
        self._replies = replies

    @property
    def reply_to(self) -> str:
        return self._replies.subject

    async def submit(self, command: commands.AnyCommand, command_id: uuid.UUID, msg_id: str) -> Submitted:
        future = self._replies.expect(command_id)
        try:
            try:
                ack = await self._js.publish(
                    bus.bid_subject(bus.partition_of(command.auction_id, self._settings.bid_partitions)),
                    commands.encode(command),
                    headers={"Nats-Msg-Id": msg_id},
                    timeout=5.0,
                )
            except Exception as exc:  # nothing was acknowledged: safe for the client to retry
                raise Unavailable(f"the bid log did not take the command ({type(exc).__name__}); retry") from exc
            if ack.duplicate:
                return Submitted(True, None)
            try:
                reply = await asyncio.wait_for(asyncio.shield(future), self._settings.bid_decision_timeout)
            except TimeoutError:
                reply = None
            return Submitted(False, reply)
        finally:
            self._replies.forget(command_id, future)

    async def decided(self, command: commands.RequestCommand) -> Reply:
        """A request's decision (refused: raised as its error). Late: UNAVAILABLE, and a retry
        is safe (each request is idempotent in the decision function)."""
        submitted = await self.submit(command, command.command_id, str(command.command_id))
        if submitted.reply is None:
            raise Unavailable("the decision is late (it is in the log and will be made); retry the request")
        if submitted.reply.refusal:
            raise refusal_error(submitted.reply.refusal, command.auction_id)
        return submitted.reply
