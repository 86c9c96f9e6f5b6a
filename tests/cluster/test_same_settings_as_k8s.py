"""The local cluster runs with the production values of k8s/base/config.yaml, on ports of its
own (no servers needed)."""

from __future__ import annotations

import ast
import os
from pathlib import Path
from string import Template

import pytest
import yaml

from devstack import cluster
from devstack.stack import Stack
from gavel.settings import Settings
from tests.cluster.conftest import BASE
from tests.local_stack import stack_settings

ROOT = Path(__file__).resolve().parents[2]
CONFIG_MAP = ROOT / "k8s" / "base" / "config.yaml"


@pytest.fixture(autouse=True)
def _no_gavel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own GAVEL_* variables must not stand in for the ConfigMap's or the cluster's."""
    for name in [n for n in os.environ if n.startswith("GAVEL_")]:
        monkeypatch.delenv(name)


def test_the_cluster_takes_the_production_values_of_the_k8s_config_map() -> None:
    data = yaml.safe_load(CONFIG_MAP.read_text())["data"]
    production = Settings(**{name: data[f"GAVEL_{name.upper()}"] for name in cluster.PRODUCTION})
    local = cluster.cluster_settings()
    for name in cluster.PRODUCTION:
        assert getattr(local, name) == getattr(production, name), name


def test_the_cluster_is_three_of_each_with_quorum_replication() -> None:
    s = cluster.cluster_settings()
    assert len(cluster.cassandra_nodes(s)) == len(cluster.nats_servers(s)) == 3
    assert len(s.nats_servers) == 3 and len(s.cassandra_contact_points) == 3
    assert s.nats_replicas == 3
    assert ast.literal_eval(s.cassandra_replication) == {"class": "NetworkTopologyStrategy", "datacenter1": 3}
    assert len({n.address for n in cluster.cassandra_nodes(s)}) == 3


def test_the_clusters_share_no_port_with_the_other_stacks(tmp_path: Path) -> None:
    """``make up``, ``make up-cluster``, the test stack and the test cluster can run together."""
    stacks = {
        "make up": Stack(Settings()).ports(),
        "make up-cluster": cluster.ClusterStack(cluster.cluster_settings()).ports(),
        "test stack": Stack(stack_settings(tmp_path)).ports(),
        "test cluster": cluster.ClusterStack(cluster.cluster_settings(BASE)).ports(),
    }
    for a, ports_a in stacks.items():
        for b, ports_b in stacks.items():
            if a < b:
                assert not set(ports_a) & set(ports_b), f"{a} and {b} share ports"


def test_a_node_is_configured_as_the_single_node_but_for_its_topology(tmp_path: Path) -> None:
    """The durability and Paxos lines (ARCHITECTURE.md) come from the one template; a node
    changes only its name, addresses and seeds, and its token."""
    s = cluster.cluster_settings(BASE, data_dir=tmp_path)
    nodes = cluster.cassandra_nodes(s)
    proc = cluster.cassandra_node_process(s, nodes[1], nodes)
    data = tmp_path / nodes[1].name
    node = yaml.safe_load((data / "cassandra.yaml").read_text())
    single = yaml.safe_load(
        Template((ROOT / "devstack" / "cassandra" / "cassandra.yaml.tmpl").read_text()).substitute(
            storage_port=s.cassandra_storage_port, native_port=s.cassandra_port, data=data.resolve()
        )
    )
    changed = {key for key in single.keys() | node.keys() if single.get(key) != node.get(key)}
    assert changed == {"cluster_name", "listen_address", "rpc_address", "seed_provider"}
    assert node["listen_address"] == node["rpc_address"] == nodes[1].address
    seeds = node["seed_provider"][0]["parameters"][0]["seeds"].split(",")
    assert seeds == [f"{n.address}:{s.cassandra_storage_port}" for n in nodes]
    tokens = [arg for arg in proc.argv if arg.startswith("-Dcassandra.initial_token=")]
    assert tokens == [f"-Dcassandra.initial_token={nodes[1].token}"]
    assert not [arg for arg in proc.argv if arg.startswith("-Dcassandra.jmx")], "three JVMs, one JMX port: none"
