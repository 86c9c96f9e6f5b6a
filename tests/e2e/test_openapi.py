"""The REST API's OpenAPI document as REST users meet it: served by the gateway, valid OpenAPI 3,
and true of the API behind it, which schemathesis (its CLI, as a user would run it) checks from
the document alone: no 5xx, every answer's status, content type and body as documented, and
the links (create, then get, bid, list) followed in its stateful phase.

GAVEL_SCHEMATHESIS_EXAMPLES sets the examples per operation (a bounded few in CI)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
from openapi_spec_validator import validate

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.settings import Settings
from tests.e2e.api_client import metric_families

EXAMPLES = int(os.environ.get("GAVEL_SCHEMATHESIS_EXAMPLES", "8"))
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
#: What is checked of every answer (schemathesis' names): the issue's bar. Left out, on
#: purpose: the positive/negative data checks, which would hold the API to a schema's types
#: (an int64 is a JSON string there, while the API also accepts numbers).
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def streams() -> list[str]:
    """Server streams never end on their own: schemathesis would wait on them forever."""
    return [
        f"{s.name}_{m.name}" for s in pb.DESCRIPTOR.services_by_name.values() for m in s.methods if m.server_streaming
    ]


def test_the_gateway_serves_a_valid_document(base_url: str) -> None:
    reply = httpx.get(f"{base_url}/openapi.json")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json"
    doc = reply.json()
    validate(doc)  # raises on anything OpenAPI 3 does not allow
    assert doc["openapi"].startswith("3.")
    ops = {op["operationId"]: op for path in doc["paths"].values() for op in path.values()}
    rpcs = {f"{s.name}_{m.name}" for s in pb.DESCRIPTOR.services_by_name.values() for m in s.methods}
    assert set(ops) == rpcs  # every method has its REST path
    assert ops["BidService_PlaceBid"]["security"] == [{"bearer": []}]
    assert {} in ops["AuctionService_GetAuction"]["security"]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    details = doc["components"]["schemas"]["Status"]["properties"]["details"]["items"]["oneOf"]
    assert {"#/components/schemas/BadRequest", "#/components/schemas/PreconditionFailure"} == {
        d["$ref"] for d in details
    }
    assert "AuctionService_AddToWatchlist" in ops["AuctionService_CreateAuction"]["responses"]["200"]["links"]
    assert "AUCTION_STATUS_OPEN" in doc["components"]["schemas"]["Auction"]["properties"]["status"]["enum"]


#: Methods the document links to from a create's answer, and the codes a made-up id gets.
LINKED = ("/auction.v1.AuctionService/GetAuction", "/auction.v1.BidService/PlaceBid", "/auction.v1.BidService/ListBids")
MADE_UP = {"NOT_FOUND", "INVALID_ARGUMENT", "UNAUTHENTICATED"}


def handled(settings: Settings) -> dict[tuple[str, str], float]:
    """gavel_rpc_handled_total of every service, by (method, code)."""
    counts: dict[tuple[str, str], float] = {}
    for family in metric_families(settings):
        for sample in family.samples:
            if sample.name == "gavel_rpc_handled_total":
                key = (sample.labels["grpc_method"], sample.labels["grpc_code"])
                counts[key] = counts.get(key, 0) + sample.value
    return counts


def test_schemathesis_finds_the_api_as_documented(base_url: str, settings: Settings, token_for, tmp_path: Path) -> None:
    events = tmp_path / "events.ndjson"
    before = handled(settings)
    args = [
        str(SCHEMATHESIS),
        "run",
        f"{base_url}/openapi.json",
        "--url",
        base_url,
        "-H",
        f"authorization: Bearer {token_for('schemathesis')}",
        "--checks",
        CHECKS,
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        "1",
        "--request-timeout",
        "15",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(events),
        *[arg for op in streams() for arg in ("--exclude-operation-id", op)],
    ]
    hooks = {"SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks", "PYTHONPATH": str(Path(__file__).parents[2])}
    done = subprocess.run(args, capture_output=True, text=True, timeout=900, env={**os.environ, **hooks}, cwd=tmp_path)
    print(done.stdout[-6000:])
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    finished = {
        event["PhaseFinished"]["phase"]["name"]: event["PhaseFinished"]["status"]
        for event in map(json.loads, events.read_text().splitlines())
        if "PhaseFinished" in event
    }
    assert {finished[phase] for phase in ("coverage", "fuzzing", "stateful")} == {"success"}, finished
    # The links followed: calls that found an auction only a create's answer could have named
    # (any id made up is NOT_FOUND or INVALID_ARGUMENT).
    after = handled(settings)
    reached = {
        method: sum(
            n - before.get((method, code), 0) for (m, code), n in after.items() if m == method and code not in MADE_UP
        )
        for method in LINKED
    }
    print(f"calls that reached an auction schemathesis created: {reached}")
    assert all(reached.values()), reached
