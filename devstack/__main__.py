"""``python -m devstack up``: the whole local stack in the foreground, until Ctrl-C / SIGTERM.

``python -m devstack up-cluster``: the same on 3 Cassandra nodes and 3 NATS servers
(devstack/cluster.py); a node that dies is reported and the cluster carries on.
``python -m devstack install`` only installs what the stack needs (the Cassandra server).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from datetime import UTC, datetime, timedelta

from devstack import cluster, components
from devstack.stack import Stack
from gavel import logs
from gavel.auth import mint_dev_token
from gavel.services import SERVICES
from gavel.settings import Settings


def _service_lines(settings: Settings) -> str:
    """Each service's direct address, as ``AuctionService (direct gRPC)    localhost:50051``."""
    return "\n".join(
        f"  {service.proto_services[0].rsplit('.', 1)[1] + ' (direct gRPC)':<32}localhost:{service.port(settings)}"
        f"   metrics http://localhost:{service.metrics_port(settings)}/metrics"
        for service in SERVICES
    )


def _single_node_lines(settings: Settings) -> str:
    s = settings
    return f"""  Cassandra (CQL)                 localhost:{s.cassandra_port}
  NATS                            localhost:{s.nats_port}   monitor http://localhost:{s.nats_monitor_port}"""


def _monitoring_line(settings: Settings) -> str:
    return (
        f"  Prometheus                      http://localhost:{settings.prometheus_port}"
        "   (dashboard: k8s/monitoring/gavel-dashboard.json)\n"
    )


def _banner(settings: Settings, seconds: float, stores: str, monitoring: bool) -> str:
    s = settings
    token = mint_dev_token("dev-user", s.jwt_secret, s.jwt_audience) if s.dev_mode else "(dev tokens are off)"
    # An end date the rules accept now (an auction runs at most 30 days), not a fixed one.
    end = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"""
Gavel is up ({seconds:.1f}s).

  The web page                    http://localhost:{s.envoy_port}/
  Gateway (gRPC, gRPC-Web, REST)  http://localhost:{s.envoy_port}
{_service_lines(s)}
{stores}
  Envoy admin                     http://localhost:{s.envoy_admin_port}
{_monitoring_line(s) if monitoring else ""}  Logs                            {s.data_dir.resolve() / "logs"}

Dev bearer token (user "dev-user", 12 h):
  export TOKEN={token}

  curl -s -X POST localhost:{s.envoy_port}/auctions -H "authorization: Bearer $TOKEN" \\
    -d '{{"item": {{"name": "Lamp"}}, "endDate": "{end}", "startingPrice": 1000}}'

Ctrl-C stops everything.
"""


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def up(settings: Settings, stack: Stack, stores: str) -> None:
    logs.configure("devstack", settings.log_level)
    # SIGTERM stops the stack like Ctrl-C does; SIGINT is set explicitly because a shell
    # starts background jobs with it ignored, which Python would otherwise keep.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _interrupt)
    started = time.monotonic()
    reported: set[str] = set()
    try:
        stack.start()
        print(_banner(settings, time.monotonic() - started, stores, stack.monitoring), flush=True)
        while all(p.alive() for p in stack.essential()):
            for proc in stack.processes.values():
                if not proc.alive() and proc.name not in reported:  # a cluster's node: the others carry on
                    reported.add(proc.name)
                    logging.getLogger("devstack").warning(
                        "%s exited (status %s); the cluster carries on without it", proc.name, proc.returncode
                    )
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean stop short
        for proc in stack.essential():
            if not proc.alive():
                logging.getLogger("devstack").error(
                    "%s exited; stopping the stack. Last lines:\n%s", proc.name, proc.log_tail()
                )
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="devstack")
    parser.add_argument("command", choices=["up", "up-cluster", "install"])
    args = parser.parse_args()
    if args.command == "install":
        components.install_cassandra(Settings())
    elif args.command == "up-cluster":
        settings = cluster.cluster_settings()
        up(settings, cluster.ClusterStack(settings), cluster.banner_lines(settings))
    else:
        settings = Settings()
        up(settings, Stack(settings, monitoring=True), _single_node_lines(settings))
    sys.exit(0)


if __name__ == "__main__":
    main()
