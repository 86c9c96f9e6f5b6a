"""Starts the components in order, each gated on its readiness, and stops them in reverse.

Two behaviours, on purpose: ``make up`` treats any process that dies as the end of the stack
(it stops everything and shows the dead one's log), while the fault tests kill one process
and bring it back in place with ``restart``, as it was (same command, ports and data), gated
on the same readiness check as at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from devstack import components as c
from devstack.process import ManagedProcess
from gavel.services import Service
from gavel.settings import Settings

log = logging.getLogger(__name__)


class Stack:
    def __init__(
        self,
        settings: Settings,
        *,
        gateway: bool = True,
        services: bool = True,
        monitoring: bool = False,
        nats_config: str = "",
    ) -> None:
        self.settings = settings
        #: Appended to the NATS server's configuration (``make profile`` opens its profiler).
        self.nats_config = nats_config
        self.gateway = gateway
        self.services = services
        #: Prometheus too (make up); the tests start their own where they need one.
        self.monitoring = monitoring
        self.processes: dict[str, ManagedProcess] = {}
        #: How each process is judged ready, and how long it may take: reused by ``restart``.
        self._readiness: dict[str, tuple[Callable[[], None], float]] = {}

    def _start(self, proc: ManagedProcess, ready: Callable[[], None], timeout: float) -> None:
        self._readiness[proc.name] = (ready, timeout)
        proc.start()
        self.processes[proc.name] = proc
        c.wait_ready(proc, ready, timeout)
        log.info("%s ready (pid %d)", proc.name, proc.pid)

    def restart(self, name: str) -> None:
        """Starts ``name`` again as it was and returns once it is ready; a live one is stopped first."""
        proc = self.processes[name]
        if proc.alive():
            proc.stop()
        elif proc.proc is not None:
            proc.proc.wait()  # reaped, so its ports and locks are gone
        ready, timeout = self._readiness[name]
        self._start(proc, ready, timeout)

    def ports(self) -> list[tuple[str, int]]:
        """Every address the stack will listen on, as (host, port)."""
        s = self.settings
        ports = [s.cassandra_port, s.cassandra_storage_port, s.nats_port, s.nats_monitor_port]
        if self.services:
            ports += [port for service in c.SERVICES for port in (service.port(s), service.metrics_port(s))]
        if self.gateway:
            ports += [s.envoy_port, s.envoy_admin_port]
        if self.monitoring:
            ports.append(s.prometheus_port)
        return [("127.0.0.1", port) for port in ports]

    def start_stores(self) -> None:
        """Cassandra and NATS, each ready; a cluster (devstack/cluster.py) starts its nodes instead."""
        s = self.settings
        # The two stores start together; each is then awaited on its own readiness.
        cassandra, nats = c.cassandra_process(s), c.nats_process(s, more_config=self.nats_config)
        self._readiness[cassandra.name] = (lambda: c.cassandra_ready(s), 180)
        cassandra.start()
        self.processes[cassandra.name] = cassandra
        self._start(nats, lambda: c.nats_ready(s), timeout=30)
        c.wait_ready(cassandra, lambda: c.cassandra_ready(s), timeout=180)
        log.info("cassandra ready (pid %d)", cassandra.pid)

    def start(self) -> None:
        s = self.settings
        for host, port in self.ports():
            c.ensure_port_free(port, host)
        try:
            self.start_stores()
            c.migrate(s)
            if self.services:
                for service in c.SERVICES:
                    self.start_service(service)
            if self.gateway:
                self._start(c.envoy_process(s), lambda: c.envoy_ready(s), timeout=30)
            if self.monitoring:
                self._start(c.prometheus_process(s), lambda: c.prometheus_ready(s), timeout=30)
        except BaseException:
            self.stop()
            raise

    def essential(self) -> list[ManagedProcess]:
        """The processes whose death ends ``make up``: every one of a single-node stack."""
        return list(self.processes.values())

    def start_service(self, service: Service) -> ManagedProcess:
        """(Re)starts one service; tests use it to restart a killed one."""
        proc = c.service_process(self.settings, service)
        self._start(proc, lambda: c.service_ready(self.settings, service), timeout=30)
        return proc

    def stop(self) -> None:
        for name, proc in reversed(list(self.processes.items())):
            log.info("stopping %s", name)
            proc.stop(timeout=30 if name.startswith("cassandra") else 10)
        self.processes.clear()


@contextmanager
def running(settings: Settings, **kwargs: Any) -> Iterator[Stack]:
    stack = Stack(settings, **kwargs)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
