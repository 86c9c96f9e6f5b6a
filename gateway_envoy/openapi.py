"""The REST API's OpenAPI 3 document, served by the gateway at ``GET /openapi.json``:
``python -m gateway_envoy.openapi GENERATED.yaml OUT.json``.

gnostic's protoc-gen-openapi writes the paths, bodies, enums and schemas from the protos'
``google.api.http`` annotations (``make openapi``). What it cannot know is Gavel's own, added
here from the code that decides it, so the document cannot drift from the services:

- which ids are UUIDs, that 64-bit integers are decimal strings, and which fields a request
  needs;
- who must sign in: the bearer scheme, required on the methods the services refuse to
  anonymous callers (each service's ``authenticated_methods``), optional on the rest;
- what an error body holds: ``google.rpc.Status`` whose details are the two kinds Gavel sends
  (``BadRequest`` with field violations, ``PreconditionFailure`` with the rule refused);
- that the two server streams answer Server-Sent Events, not one JSON body;
- the links a client (and schemathesis' stateful run) follows: create, then get, bid, list.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from auction_svc import creation
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.services import SERVICES

#: Server streams, transcoded as ``text/event-stream``: one ``data: <json>`` line per message.
STREAM_DESCRIPTION = "Server-Sent Events: one `data: <JSON message>` per {message}, until the client leaves."

#: proto3 JSON writes 64-bit integers as decimal strings (money, versions, counts).
INT64_TYPES = {FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED64}
INT64_PATTERN = "^-?[0-9]{1,19}$"

#: Fields a request is refused without (INVALID_ARGUMENT naming them); proto3 marks none.
REQUIRED = {
    "CreateAuctionRequest": ("item", "endDate", "startingPrice"),
    "Item": ("name",),
    "PlaceBidRequest": ("amount",),
}

#: An amount in minor units: 1 up to (not including) the largest any request may name.
AMOUNT = {"pattern": f"^[1-9][0-9]{{0,{len(str(creation.MAX_PRICE)) - 2}}}$"}
#: What the services check of a field, where a schema can say it (from their own limits).
CONSTRAINTS: dict[tuple[str, str], dict[str, Any]] = {
    ("Item", "name"): {"pattern": r"\S", "maxLength": creation.MAX_NAME},
    ("CreateAuctionRequest", "startingPrice"): AMOUNT,
    ("PlaceBidRequest", "amount"): AMOUNT,
}

#: Path parameters that are UUIDs (anything else is INVALID_ARGUMENT).
UUID_PARAMETERS = ("auctionId", "bidId")

_ANY_TYPE = "type.googleapis.com/google.rpc.{}"

ERROR_DETAILS: dict[str, Any] = {
    "BadRequest": {
        "type": "object",
        "description": "Which fields of the request are wrong, and why (INVALID_ARGUMENT, HTTP 400).",
        "required": ["@type", "fieldViolations"],
        "properties": {
            "@type": {"type": "string", "enum": [_ANY_TYPE.format("BadRequest")]},
            "fieldViolations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["field", "description"],
                    "properties": {"field": {"type": "string"}, "description": {"type": "string"}},
                },
            },
        },
    },
    "PreconditionFailure": {
        "type": "object",
        "description": "The auction rule that refused the request (FAILED_PRECONDITION, HTTP 400): its "
        "type (e.g. CANCEL_TOO_LATE, NO_SALE), the resource it is about and why.",
        "required": ["@type", "violations"],
        "properties": {
            "@type": {"type": "string", "enum": [_ANY_TYPE.format("PreconditionFailure")]},
            "violations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["type", "subject", "description"],
                    "properties": {
                        "type": {"type": "string"},
                        "subject": {"type": "string"},
                        "description": {"type": "string"},
                    },
                },
            },
        },
    },
}

#: operationId -> the links from its 200 answer: target operationId -> parameters from the body.
LINKS = {
    "AuctionService_CreateAuction": {
        "AuctionService_GetAuction": {"auctionId": "$response.body#/auctionId"},
        "BidService_PlaceBid": {"auctionId": "$response.body#/auctionId"},
        "BidService_ListBids": {"auctionId": "$response.body#/auctionId"},
        "AuctionService_AddToWatchlist": {"auctionId": "$response.body#/auctionId"},
    },
    "BidService_PlaceBid": {
        "BidService_GetBid": {"auctionId": "$response.body#/auctionId", "bidId": "$response.body#/bidId"},
        "BidService_ListBids": {"auctionId": "$response.body#/auctionId"},
        "AuctionService_GetAuction": {"auctionId": "$response.body#/auctionId"},
    },
}


def authenticated_methods() -> frozenset[str]:
    """The full method names every service refuses to anonymous callers, from its own spec."""
    names: set[str] = set()
    for service in SERVICES:
        names |= importlib.import_module(f"{service.module}.__main__").SPEC.authenticated_methods
    return frozenset(names)


def operations(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {op["operationId"]: op for path in doc["paths"].values() for op in path.values()}


def complete(generated: dict[str, Any], authenticated: frozenset[str]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(json.dumps(generated))  # a copy
    doc["info"]["description"] = (
        "Gavel's REST API, transcoded by the gateway from the gRPC services (the same methods on "
        "gRPC, gRPC-Web and REST). Money is in the currency's minor units, as strings (int64)."
    )
    schemas = doc["components"]["schemas"]
    schemas.update(ERROR_DETAILS)
    schemas["Status"]["properties"]["details"]["items"] = {
        "oneOf": [{"$ref": f"#/components/schemas/{name}"} for name in ERROR_DETAILS]
    }
    doc["components"]["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    }
    for message in _messages(pb.DESCRIPTOR.message_types_by_name.values()):
        schema = schemas.get(message.name)
        if schema is None:
            continue
        for field in message.fields:
            if field.type in INT64_TYPES and field.json_name in schema.get("properties", {}):
                target = schema["properties"][field.json_name]
                target = target.get("items", target)  # a repeated field's element
                target["pattern"] = INT64_PATTERN
        if message.name in REQUIRED:
            schema["required"] = list(REQUIRED[message.name])
        for (owner, field_name), rules in CONSTRAINTS.items():
            if owner == message.name:
                schema["properties"][field_name].update(rules)
    ops = operations(doc)
    for op in ops.values():
        for parameter in op.get("parameters", []):
            if parameter["in"] == "path" and parameter["name"] in UUID_PARAMETERS:
                parameter["schema"]["format"] = "uuid"
    for service in pb.DESCRIPTOR.services_by_name.values():
        for method in service.methods:
            op = ops[f"{service.name}_{method.name}"]
            signed_in = f"/{service.full_name}/{method.name}" in authenticated
            # Optional elsewhere: a signed-in caller sees their own maximums and masked names.
            op["security"] = [{"bearer": []}] if signed_in else [{}, {"bearer": []}]
            if method.server_streaming:
                op["responses"]["200"] = {
                    "description": STREAM_DESCRIPTION.format(message=method.output_type.name),
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                }
    for source, targets in LINKS.items():
        ops[source]["responses"]["200"]["links"] = {
            target: {"operationId": target, "parameters": parameters} for target, parameters in targets.items()
        }
    return doc


def _messages(messages: Iterable[Descriptor]) -> Iterator[Descriptor]:
    for message in messages:
        yield message
        yield from _messages(message.nested_types)


def main() -> None:
    generated, out = Path(sys.argv[1]), Path(sys.argv[2])
    doc = complete(yaml.safe_load(generated.read_text()), authenticated_methods())
    out.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
