"""Processes come and go cleanly: a service drains on SIGTERM; `make up` leaves nothing behind."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from devstack.stack import Stack
from gavel import services
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.settings import Settings
from tests.e2e.api_client import auction_stub, bearer, create_request
from tests.local_stack import stack_settings

ROOT = Path(__file__).resolve().parents[2]


def test_sigterm_drains_a_service_and_a_restart_serves_the_same_data(
    stack: Stack, settings: Settings, token_for
) -> None:
    target = services.AUCTION.target(settings)
    with auction_stub(target) as stub:
        created = stub.CreateAuction(create_request(), metadata=bearer(token_for("s")))
    proc = stack.processes[services.AUCTION.module]
    proc.signal(signal.SIGTERM)
    assert proc.proc is not None and proc.proc.wait(timeout=30) == 0
    assert '"message": "stopped"' in proc.log_tail(5)

    stack.processes[services.AUCTION.module] = stack.start_service(services.AUCTION)
    with auction_stub(target) as stub:
        assert stub.GetAuction(pb.GetAuctionRequest(auction_id=created.auction_id)) == created


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_devstack_up_serves_then_stops_everything_on_ctrl_c(tmp_path: Path) -> None:
    """What `make up` runs, on a third set of ports (26xxx: below the ephemeral range, where a
    client socket can hold a port, and apart from other tests' own servers): banner, then
    Ctrl-C leaves no process."""
    data_dir = tmp_path / f"up-{uuid.uuid4().hex[:8]}"
    settings = stack_settings(data_dir).model_copy(
        update={
            "auction_port": 26051,
            "bid_port": 26052,
            "stream_port": 26053,
            "auction_metrics_port": 26101,
            "bid_metrics_port": 26102,
            "stream_metrics_port": 26103,
            "envoy_port": 26080,
            "envoy_admin_port": 26901,
            "cassandra_port": 26042,
            "cassandra_storage_port": 26000,
            "cassandra_jmx_port": 0,  # the test stack's Cassandra holds its JMX port
            "nats_port": 26222,
            "nats_monitor_port": 26822,
            "nats_url": "nats://127.0.0.1:26222",
        }
    )
    launcher = subprocess.Popen(
        [sys.executable, "-m", "devstack", "up"],
        cwd=ROOT,
        env=settings.as_env(),
        stdout=subprocess.PIPE,
        stderr=(data_dir.parent / "launcher.err").open("w"),
        text=True,
    )
    try:
        assert launcher.stdout is not None
        banner: list[str] = []
        for line in launcher.stdout:  # blocks until the launcher prints its banner (or dies)
            if line.startswith("Gavel is up") or banner:
                banner.append(line)
            if line.startswith("Ctrl-C stops everything"):
                break
        else:
            err = (data_dir.parent / "launcher.err").read_text()[-3000:]
            pytest.fail(f"launcher exited ({launcher.wait()}) without serving; its stderr ends:\n{err}")
        assert _port_open(settings.envoy_port)
        # The banner's example works as printed: its token and its request create an auction.
        token = next(line.split("TOKEN=", 1)[1].strip() for line in banner if "export TOKEN=" in line)
        body = next(line.split("-d '", 1)[1].rstrip().removesuffix("'") for line in banner if " -d '" in line)
        created = httpx.post(
            f"http://127.0.0.1:{settings.envoy_port}/auctions",
            content=body,
            headers={"authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert created.status_code == 200, created.text
        assert created.json()["status"] == "AUCTION_STATUS_OPEN"
        assert _processes_mentioning(str(data_dir.resolve()))  # cassandra, nats, envoy are running
        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(timeout=120) == 0
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert _processes_mentioning(str(data_dir.resolve())) == []
    ports = [
        settings.envoy_port,
        settings.cassandra_port,
        settings.nats_port,
        *(port for s in services.SERVICES for port in (s.port(settings), s.metrics_port(settings))),
    ]
    assert [p for p in ports if _port_open(p)] == []
