"""The operators' dashboard (k8s/monitoring/gavel-dashboard.json) against what the services
export, so it cannot drift: every metric it names is on a service's /metrics, every query is
PromQL a real Prometheus (Debian's, as `make up` runs it) accepts, and a bid placed through the
gateway shows on its panels."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from devstack import components
from gavel.services import SERVICES
from gavel.settings import Settings
from tests.e2e.api_client import create_auction, metric_families, rest

DASHBOARD = components.ROOT / "k8s" / "monitoring" / "gavel-dashboard.json"
#: Grafana's own variables, as Grafana would fill them in for a one-hour view.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}
#: The sample names each kind of metric family exposes (prometheus_client's text format).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("_count", "_sum", "_created", ""),
    "gauge": ("",),
}


def queries() -> dict[str, list[str]]:
    """Each panel's title with its queries, Grafana's variables filled in."""
    dashboard = json.loads(DASHBOARD.read_text())
    out = {}
    for panel in dashboard["panels"]:
        exprs = []
        for target in panel["targets"]:
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            exprs.append(expr)
        out[panel["title"]] = exprs
    return out


def exported(settings: Settings) -> set[str]:
    """Every sample name the three services can expose, labelled metrics with no sample yet
    included (their family is listed all the same)."""
    names: set[str] = set()
    for family in metric_families(settings):
        names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
    return names


def test_every_metric_the_dashboard_queries_is_exported(stack: object, settings: Settings) -> None:
    named = {name for exprs in queries().values() for expr in exprs for name in re.findall(r"\bgavel_\w+", expr)}
    assert len(named) >= 10, named  # the panels the operators asked for
    assert named - exported(settings) == set()


@pytest.fixture(scope="module")
def prometheus(stack: object, settings: Settings) -> Iterator[str]:
    process = components.prometheus_process(settings)
    process.start()
    try:
        components.wait_ready(process, lambda: components.prometheus_ready(settings), timeout=30)
        yield f"http://127.0.0.1:{settings.prometheus_port}"
    finally:
        process.stop()


def query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    reply = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert reply["status"] == "success", (expr, reply)
    result: list[dict[str, Any]] = reply["data"]["result"]
    return result


class NotYet(Exception):
    pass


def until(check: Any, timeout: float = 30) -> Any:
    """Asks again (Prometheus scrapes every 2 s) until ``check`` stops raising NotYet."""
    for attempt in Retrying(
        retry=retry_if_exception_type(NotYet), stop=stop_after_delay(timeout), wait=wait_fixed(0.5)
    ):
        with attempt:
            return check()


def test_the_panels_show_a_bid_through_prometheus(
    prometheus: str, settings: Settings, base_url: str, token_for
) -> None:
    def every_service_scraped() -> None:
        up = {s["metric"]["app"]: s["value"][1] for s in query(prometheus, 'up{job="gavel"}')}
        if up != {service.module.replace("_", "-"): "1" for service in SERVICES}:
            raise NotYet(up)

    until(every_service_scraped)
    # A rate needs two scrapes of a series: the first bid makes sure every series the panels
    # read exists (in a fresh stack it is the first), and once Prometheus holds them the
    # second moves them.
    auction = create_auction(base_url, token_for("dashboard-seller"))
    with rest(base_url, token_for("dashboard-bidder")) as http:

        def bid(amount: int) -> None:
            placed = http.post(f"/auctions/{auction}/bids", json={"amount": amount})
            assert placed.json()["status"] == "BID_STATUS_ACCEPTED", placed.text

        def series_held() -> None:
            if not query(prometheus, 'gavel_bid_decisions_total{outcome="accepted"}'):
                raise NotYet("no accepted decision scraped yet")

        bid(1500)
        until(series_held)
        bid(2500)

    panels = queries()

    def bid_shown() -> None:
        [p50, p99] = [query(prometheus, expr) for expr in panels["PlaceBid latency"]]
        decided = {
            s["metric"].get("outcome"): float(s["value"][1])
            for s in query(prometheus, panels["Bids decided per second, by outcome"][0])
        }
        answered = {s["metric"].get("status") for s in query(prometheus, panels["PlaceBid answers, by status"][0])}
        latencies = [float(series[0]["value"][1]) for series in (p50, p99) if series]
        if len(latencies) < 2 or not all(math.isfinite(v) and v > 0 for v in latencies):
            raise NotYet(f"latency {latencies}")
        if decided.get("accepted", 0) <= 0 or "BID_STATUS_ACCEPTED" not in answered:
            raise NotYet(f"decided {decided}, answered {answered}")

    until(bid_shown)
    for title, exprs in panels.items():
        for expr in exprs:
            query(prometheus, expr)  # valid PromQL, over the series as they are
        assert exprs, title
