"""Checks every request gets before its servicer sees it: the well-known types' own ranges.

Native gRPC clients can send a ``google.protobuf.Timestamp`` or ``Duration`` that protobuf
parses but Python cannot represent (seconds past year 9999, nanos out of range);
``ToDatetime`` then raises deep inside a servicer. Envoy's JSON transcoding refuses those,
native gRPC does not, so the check is one generic walk over the message's descriptor, run at
the edge for every method (``gavel.interceptors.GavelInterceptor``), naming each bad
field by its path (``end_date``, ``items[2].start_date``).
"""

from __future__ import annotations

from google.protobuf.message import Message

from gavel.errors import FieldViolation

# The ranges google/protobuf/timestamp.proto and duration.proto define.
TIMESTAMP_MIN_SECONDS = -62_135_596_800  # 0001-01-01T00:00:00Z
TIMESTAMP_MAX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z
DURATION_MAX_SECONDS = 315_576_000_000  # 10,000 years
MAX_NANOS = 999_999_999


def _timestamp(ts: Message, path: str) -> list[FieldViolation]:
    seconds, nanos = ts.seconds, ts.nanos  # type: ignore[attr-defined]
    if not TIMESTAMP_MIN_SECONDS <= seconds <= TIMESTAMP_MAX_SECONDS:
        return [FieldViolation(path, "must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z")]
    if not 0 <= nanos <= MAX_NANOS:
        return [FieldViolation(path, f"nanos must be between 0 and {MAX_NANOS}")]
    return []


def _duration(d: Message, path: str) -> list[FieldViolation]:
    seconds, nanos = d.seconds, d.nanos  # type: ignore[attr-defined]
    if not -DURATION_MAX_SECONDS <= seconds <= DURATION_MAX_SECONDS:
        return [FieldViolation(path, f"seconds must be between -{DURATION_MAX_SECONDS} and {DURATION_MAX_SECONDS}")]
    if not -MAX_NANOS <= nanos <= MAX_NANOS:
        return [FieldViolation(path, f"nanos must be between -{MAX_NANOS} and {MAX_NANOS}")]
    if (seconds < 0 < nanos) or (nanos < 0 < seconds):
        return [FieldViolation(path, "seconds and nanos must have the same sign")]
    return []


_WELL_KNOWN = {"google.protobuf.Timestamp": _timestamp, "google.protobuf.Duration": _duration}


def _check(message: Message, path: str) -> list[FieldViolation]:
    check = _WELL_KNOWN.get(message.DESCRIPTOR.full_name)
    return check(message, path) if check else well_known_violations(message, f"{path}.")


def well_known_violations(message: Message, prefix: str = "") -> list[FieldViolation]:
    """Every out-of-range Timestamp or Duration set anywhere in ``message``, by field path."""
    found: list[FieldViolation] = []
    for field, value in message.ListFields():  # set fields only: unset ones are valid
        if field.message_type is None:
            continue
        path = prefix + field.name
        if field.message_type.GetOptions().map_entry:
            if field.message_type.fields_by_name["value"].message_type is not None:
                for key, item in value.items():
                    found += _check(item, f"{path}[{key!r}]")
        elif field.is_repeated:
            for index, item in enumerate(value):
                found += _check(item, f"{path}[{index}]")
        else:
            found += _check(value, path)
    return found
