"""DevAuthService: dev tokens for any user name, so the web page and the CLI can sign in
locally without an identity provider. Registered only when ``GAVEL_DEV_MODE`` is on; in
production the method is UNIMPLEMENTED and tokens come from the real issuer."""

from __future__ import annotations

import re
from datetime import timedelta

import grpc

from gavel import auth
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
from gavel.clock import utcnow
from gavel.errors import FieldViolation, InvalidArgument
from gavel.messages import timestamp
from gavel.settings import Settings

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["DevAuthService"].full_name
USER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
TOKEN_TTL_S = 12 * 3600


class DevAuthService(pb_grpc.DevAuthServiceServicer):
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def IssueDevToken(
        self,
        request: pb.IssueDevTokenRequest,
        context: grpc.aio.ServicerContext[pb.IssueDevTokenRequest, pb.IssueDevTokenResponse],
    ) -> pb.IssueDevTokenResponse:
        if not USER_ID.match(request.user_id):
            raise InvalidArgument(
                [
                    FieldViolation(
                        "user_id", "1-64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit"
                    )
                ]
            )
        expires_at = utcnow() + timedelta(seconds=TOKEN_TTL_S)
        token = auth.mint_dev_token(
            request.user_id, self._settings.jwt_secret, self._settings.jwt_audience, TOKEN_TTL_S
        )
        return pb.IssueDevTokenResponse(token=token, expires_at=timestamp(expires_at))


def register(server: grpc.aio.Server, settings: Settings) -> None:
    if settings.dev_mode:
        pb_grpc.add_DevAuthServiceServicer_to_server(DevAuthService(settings), server)
