"""A real cluster on this one machine: 3 NATS servers (JetStream, so the streams and KV
buckets are R3) and 3 Cassandra nodes (the keyspace RF 3), with the services and Envoy
configured for it with the production values of k8s/base/config.yaml.

``make up-cluster`` serves it (``python -m devstack up-cluster``); ``tests/cluster`` kills its
nodes under bid load. It is the single-node stack (devstack/stack.py) with the stores started
as several nodes, each from the same components (devstack/components.py) as the single node:
the same templates, changed only where the topology differs.

Where everything listens, from one base port (22000 for ``make up-cluster``; below Linux's ephemeral
range, 32768 and up, where a client socket of anything else may hold a port we need):

    Cassandra node i   127.0.0.(2+i)  CQL base+42, storage (gossip) base   -- an address each,
                                      the same ports, as on three machines (the driver takes
                                      one CQL port for every node)
    NATS server i      127.0.0.1      client base+222+i, routes base+248+i, monitor base+822+i
    services           127.0.0.1      base+51..53, metrics base+101..103
    Envoy              127.0.0.1      base+80, admin base+901

No JMX: the nodes are started without ``cassandra.jmx.*`` ports (Cassandra then opens none),
unless ``GAVEL_CASSANDRA_JMX_PORT`` is set, and then node i takes that port + i. Every node is
a seed with its own initial token (evenly spaced, one each): a fresh cluster whose nodes
start together, with nothing to stream and no seed to wait for.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

from devstack import components as c
from devstack.process import ManagedProcess
from devstack.stack import Stack
from gavel.settings import Settings

log = logging.getLogger(__name__)

#: The production values (k8s/base/config.yaml) the cluster runs with; the addresses are its
#: own. tests/cluster/test_same_settings_as_k8s.py holds the two equal.
PRODUCTION: dict[str, Any] = {
    # RF 3 in the one data centre; SimpleSnitch puts every local node in ``datacenter1``, as
    # the k8s pods declare theirs.
    "cassandra_replication": "{'class': 'NetworkTopologyStrategy', 'datacenter1': 3}",
    "nats_replicas": 3,
    "bid_partitions": 64,
    "lease_ttl": 16.0,
    "shutdown_grace": 10.0,
}
NODES = 3
#: Each Cassandra node's heap. 512 MiB holds the test load (memtables take a quarter of it)
#: and keeps three nodes, the services, the test stack and the bench's inside this machine:
#: a node's resident memory with it is 1.0-1.1 GiB, idle or under the cluster test's load
#: (measured; the heap is locked in, JNA mlockall, plus off-heap caches and the JIT).
HEAP = "512M"
CLUSTER_NAME = "gavel-local-cluster"
FIRST_ADDRESS = 2  # 127.0.0.2
UP_CLUSTER_BASE = 22000


def layout(base: int, nodes: int = NODES) -> dict[str, Any]:
    """The cluster's addresses and ports, from ``base`` (see the module's table)."""
    return {
        "cassandra_hosts": ",".join(f"127.0.0.{FIRST_ADDRESS + i}" for i in range(nodes)),
        "cassandra_port": base + 42,
        "cassandra_storage_port": base,
        "nats_url": ",".join(f"nats://127.0.0.1:{base + 222 + i}" for i in range(nodes)),
        "nats_port": base + 222,
        "nats_monitor_port": base + 822,
        "nats_cluster_port": base + 248,
        "auction_port": base + 51,
        "bid_port": base + 52,
        "stream_port": base + 53,
        "auction_metrics_port": base + 101,
        "bid_metrics_port": base + 102,
        "stream_metrics_port": base + 103,
        "envoy_port": base + 80,
        "envoy_admin_port": base + 901,
        "cassandra_heap": HEAP,
        "data_dir": Path(".devdata") / "cluster",
    }


def cluster_settings(base: int = UP_CLUSTER_BASE, **fixed: Any) -> Settings:
    """The cluster's settings: its layout and the production values, except where a
    ``GAVEL_*`` variable says otherwise; ``fixed`` wins over both (the tests' own)."""
    defaults = {**layout(base), **PRODUCTION}
    chosen = {k: v for k, v in defaults.items() if f"GAVEL_{k.upper()}" not in os.environ}
    return Settings(**{**chosen, **fixed})


# --- the nodes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CassandraNode:
    index: int  # 1, 2, 3
    address: str
    token: int

    @property
    def name(self) -> str:
        return f"cassandra-{self.index}"


@dataclass(frozen=True)
class NatsServer:
    index: int
    port: int
    monitor_port: int
    route_port: int

    @property
    def name(self) -> str:
        return f"nats-{self.index}"


def cassandra_nodes(settings: Settings) -> list[CassandraNode]:
    """One node per contact point, tokens evenly spaced over Murmur3's range."""
    hosts = settings.cassandra_contact_points
    step = 2**64 // len(hosts)
    return [CassandraNode(i + 1, host, -(2**63) + i * step) for i, host in enumerate(hosts)]


def nats_servers(settings: Settings) -> list[NatsServer]:
    """One server per URL of ``nats_url``; monitor and route ports counted up from the first's."""
    found = []
    for i, url in enumerate(settings.nats_servers):
        port = urlparse(url).port
        if port is None:
            raise c.StackError(f"{url}: a local cluster's server URLs name their ports")
        found.append(NatsServer(i + 1, port, settings.nats_monitor_port + i, settings.nats_cluster_port + i))
    return found


def cassandra_node_process(settings: Settings, node: CassandraNode, nodes: list[CassandraNode]) -> ManagedProcess:
    s = settings
    if s.cassandra_jmx_port:
        s = s.model_copy(update={"cassandra_jmx_port": s.cassandra_jmx_port + node.index - 1})
    seeds = ",".join(f"{n.address}:{s.cassandra_storage_port}" for n in nodes)
    return c.cassandra_process(
        s,
        node.name,
        config={
            "cluster_name": CLUSTER_NAME,
            "listen_address": node.address,
            "rpc_address": node.address,
            "seed_provider": [
                {"class_name": "org.apache.cassandra.locator.SimpleSeedProvider", "parameters": [{"seeds": seeds}]}
            ],
        },
        # Used on the first start only; a restarted node keeps the tokens it saved.
        properties={"cassandra.initial_token": str(node.token)},
    )


def cassandra_node_ready(settings: Settings, node: CassandraNode, peers: int) -> None:
    """The node itself answers CQL (a session that uses no other node) and knows its
    ``peers`` by gossip: after a restart, it has replayed its commit log and joined the ring."""
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, NoHostAvailable
    from cassandra.policies import WhiteListRoundRobinPolicy

    with socket.socket() as probe:  # the port first: the driver logs every refused attempt
        if probe.connect_ex((node.address, settings.cassandra_port)) != 0:
            raise c.NotReady(f"{node.name}: CQL port not open yet")
    only = ExecutionProfile(load_balancing_policy=WhiteListRoundRobinPolicy([node.address]), request_timeout=5)
    cluster = Cluster(
        [node.address],
        port=settings.cassandra_port,
        protocol_version=5,
        execution_profiles={EXEC_PROFILE_DEFAULT: only},
        connect_timeout=2,
    )
    try:
        session = cluster.connect()
        known = len(list(session.execute("SELECT peer FROM system.peers_v2")))
    except NoHostAvailable as exc:
        raise c.NotReady(f"{node.name}: {exc}") from None
    finally:
        cluster.shutdown()
    if known < peers:
        raise c.NotReady(f"{node.name}: knows {known} of its {peers} peers")


def nats_server_process(settings: Settings, server: NatsServer, servers: list[NatsServer]) -> ManagedProcess:
    routes = ", ".join(f"nats://127.0.0.1:{other.route_port}" for other in servers)
    more = f"""
# A server of the local cluster (devstack/cluster.py); these keys win over the ones above.
server_name: gavel-{server.name}
cluster {{
  name: {CLUSTER_NAME}
  listen: 127.0.0.1:{server.route_port}
  routes: [{routes}]
}}
"""
    return c.nats_process(_for_server(settings, server), server.name, more)


def _for_server(settings: Settings, server: NatsServer) -> Settings:
    return settings.model_copy(update={"nats_port": server.port, "nats_monitor_port": server.monitor_port})


def nats_server_ready(settings: Settings, server: NatsServer) -> None:
    """JetStream as the single server is judged (fsync on every write), and healthy in the
    cluster: a meta leader is known and this server's replicas are current (``/healthz``)."""
    c.nats_ready(_for_server(settings, server))
    try:
        reply = httpx.get(f"http://127.0.0.1:{server.monitor_port}/healthz", timeout=1)
    except httpx.HTTPError as exc:
        raise c.NotReady(f"{server.name}: {exc}") from None
    if reply.status_code != 200:
        raise c.NotReady(f"{server.name}: {reply.text.strip()}")


# --- the stack ---------------------------------------------------------------------------


class ClusterStack(Stack):
    """The stack with its stores as clusters. ``restart("cassandra-2")`` or ``("nats-1")``
    brings one node back as it was (its data, config and ports), awaited on its readiness."""

    def __init__(self, settings: Settings, *, gateway: bool = True, services: bool = True) -> None:
        super().__init__(settings, gateway=gateway, services=services)
        self.cassandra = cassandra_nodes(settings)
        self.nats = nats_servers(settings)
        if len(self.cassandra) < 3 or len(self.nats) < 3:
            raise c.StackError("a cluster has at least 3 Cassandra nodes and 3 NATS servers (quorum of RF 3 and R3)")

    @property
    def node_names(self) -> set[str]:
        return {n.name for n in self.cassandra} | {n.name for n in self.nats}

    def essential(self) -> list[ManagedProcess]:
        """A node that dies leaves a cluster that carries on: only the rest ends ``make up-cluster``."""
        return [p for name, p in self.processes.items() if name not in self.node_names]

    def ports(self) -> list[tuple[str, int]]:
        s = self.settings
        ports = [(n.address, port) for n in self.cassandra for port in (s.cassandra_port, s.cassandra_storage_port)]
        ports += [("127.0.0.1", port) for n in self.nats for port in (n.port, n.monitor_port, n.route_port)]
        return sorted(set(super().ports()) | set(ports))

    def start_stores(self) -> None:
        """Every node of both clusters at once, then each awaited: NATS first (it forms its
        meta group in a second or two), then Cassandra. Measured on 2 cores: the three nodes
        started together are ready in 19-23 s, one after the other (each awaited) in 25 s;
        then the schema takes 13-17 s (every DDL waits for the three to agree)."""
        s = self.settings
        started: list[tuple[ManagedProcess, functools.partial[None], float]] = []
        for server in self.nats:
            started.append(
                (nats_server_process(s, server, self.nats), functools.partial(nats_server_ready, s, server), 60)
            )
        for node in self.cassandra:
            started.append(
                (
                    cassandra_node_process(s, node, self.cassandra),
                    functools.partial(cassandra_node_ready, s, node, len(self.cassandra) - 1),
                    240,
                )
            )
        for proc, ready, timeout in started:
            self._readiness[proc.name] = (ready, timeout)
            proc.start()
            self.processes[proc.name] = proc
        for proc, ready, timeout in started:
            c.wait_ready(proc, ready, timeout)
            log.info("%s ready (pid %d)", proc.name, proc.pid)


def banner_lines(settings: Settings) -> str:
    """The stores' lines of ``make up-cluster``'s banner."""
    stack_nodes = cassandra_nodes(settings)
    lines = [f"  {'Cassandra ' + n.name + ' (CQL)':<32}{n.address}:{settings.cassandra_port}" for n in stack_nodes]
    lines += [
        f"  {'NATS ' + n.name:<32}localhost:{n.port}   monitor http://localhost:{n.monitor_port}"
        for n in nats_servers(settings)
    ]
    return "\n".join(lines)
