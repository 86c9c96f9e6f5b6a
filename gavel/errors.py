"""Gavel's errors and the one place that turns them into gRPC statuses.

Services raise these; the server's interceptor maps them, so every RPC answers bad input the
same way: the canonical code, a message, and for INVALID_ARGUMENT a ``google.rpc.BadRequest``
naming each field (which Envoy turns into a 400 with a JSON body).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status


@dataclass(frozen=True, slots=True)
class FieldViolation:
    field: str
    description: str


class GavelError(Exception):
    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def to_status(self) -> grpc.Status:
        return cast(grpc.Status, rpc_status.to_status(status_pb2.Status(code=self.code.value[0], message=str(self))))


class InvalidArgument(GavelError):
    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, violations: list[FieldViolation], message: str = "") -> None:
        """``message`` is for a request that is bad as a whole (no field to name)."""
        self.violations = violations
        super().__init__(message or "; ".join(f"{v.field}: {v.description}" for v in violations))

    def to_status(self) -> grpc.Status:
        detail = any_pb2.Any()
        detail.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                    for v in self.violations
                ]
            )
        )
        return cast(
            grpc.Status,
            rpc_status.to_status(
                status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=str(self), details=[detail])
            ),
        )


class NotFound(GavelError):
    code = grpc.StatusCode.NOT_FOUND


class Unauthenticated(GavelError):
    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(GavelError):
    code = grpc.StatusCode.PERMISSION_DENIED


class FailedPrecondition(GavelError):
    """A rule the state does not allow now: named as a ``google.rpc.PreconditionFailure``
    violation (type: the rule; subject: what it is about)."""

    code = grpc.StatusCode.FAILED_PRECONDITION

    def __init__(self, rule: str, subject: str, description: str) -> None:
        self.rule, self.subject, self.description = rule, subject, description
        super().__init__(f"{rule}: {description}")

    def to_status(self) -> grpc.Status:
        detail = any_pb2.Any()
        violation = error_details_pb2.PreconditionFailure.Violation(
            type=self.rule, subject=self.subject, description=self.description
        )
        detail.Pack(error_details_pb2.PreconditionFailure(violations=[violation]))
        return cast(
            grpc.Status,
            rpc_status.to_status(
                status_pb2.Status(code=code_pb2.FAILED_PRECONDITION, message=str(self), details=[detail])
            ),
        )


class Unavailable(GavelError):
    code = grpc.StatusCode.UNAVAILABLE


class ResourceExhausted(GavelError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


def field_violations(error: grpc.RpcError) -> list[FieldViolation]:
    """The field violations a failed call carried (clients and tests read them here)."""
    status = rpc_status.from_call(error)
    if status is None:
        return []
    found: list[FieldViolation] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            found += [FieldViolation(v.field, v.description) for v in bad.field_violations]
    return found


def precondition_failures(error: grpc.RpcError) -> list[tuple[str, str]]:
    """The (rule, subject) pairs a FAILED_PRECONDITION carried."""
    status = rpc_status.from_call(error)
    found: list[tuple[str, str]] = []
    for detail in status.details if status is not None else []:
        if detail.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
            failure = error_details_pb2.PreconditionFailure()
            detail.Unpack(failure)
            found += [(v.type, v.subject) for v in failure.violations]
    return found
