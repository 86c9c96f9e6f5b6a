"""The k8s manifests against the code they deploy.

`make k8s-check` proves the manifests are valid Kubernetes (kustomize builds them, the schemas
accept them); these tests prove they deploy *this* code: the roles bid_svc knows, settings
that exist, the production values the design requires, probes on ports that serve health,
and a Cassandra and NATS configured as durably as the local stack. No cluster needed: the
files are read as kustomize would read them (its `resources` list).
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import re
import uuid
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from string import Template
from typing import Any

import pytest
import yaml
from nats.aio.client import DEFAULT_DRAIN_TIMEOUT
from nats.aio.msg import Msg
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

from bid_svc import partition
from bid_svc.__main__ import ROLES
from gateway_envoy.render import render
from gavel import commands
from gavel.services import SERVICES, Service
from gavel.settings import Settings
from stream_svc import fanout

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "k8s" / "base"
ADAPTER_VALUES = ROOT / "k8s" / "prometheus-adapter" / "values.yaml"
#: The committed figures of the scale bench (bench/results.json is each machine's own, untracked).
SCALE_RESULTS = ROOT / "bench" / "scale.json"
Doc = dict[str, Any]

#: Stands in for values the manifests take from a Secret (created outside them).
FROM_SECRET = "<from-secret>"


def _resource_files() -> list[Path]:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    return [BASE / name for name in kustomization["resources"]]


DOCS: list[Doc] = [doc for path in _resource_files() for doc in yaml.safe_load_all(path.read_text()) if doc]


def find(kind: str, name: str) -> Doc:
    matches = [d for d in DOCS if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def of_kind(*kinds: str) -> list[Doc]:
    return [d for d in DOCS if d["kind"] in kinds]


def container(workload: Doc) -> Doc:
    (only,) = workload["spec"]["template"]["spec"]["containers"]
    return only


def environment(workload: Doc) -> dict[str, str]:
    """The container's environment as the pod would get it: its ConfigMaps, then its own env."""
    c = container(workload)
    env: dict[str, str] = {}
    for source in c.get("envFrom", []):
        env.update(find("ConfigMap", source["configMapRef"]["name"])["data"])
    for var in c.get("env", []):
        if "value" in var:
            env[var["name"]] = str(var["value"])
        elif "secretKeyRef" in var["valueFrom"]:
            env[var["name"]] = FROM_SECRET
        else:
            env[var["name"]] = f"<{var['name']} from the pod>"
    return env


def settings_of(workload: Doc) -> Settings:
    """The Settings a Gavel process in this workload starts with (init values win over the
    environment, and every field the manifests leave unset keeps the code's default)."""
    env = environment(workload)
    values = {name[len("GAVEL_") :].lower(): value for name, value in env.items() if name.startswith("GAVEL_")}
    return Settings(**values)


def selected_by(selector: dict[str, str]) -> list[Doc]:
    """The workloads whose pods carry every label of ``selector``."""
    return [
        w
        for w in of_kind("Deployment", "StatefulSet")
        if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()
    ]


def gavel_workloads() -> Iterator[Doc]:
    return (w for w in of_kind("Deployment", "Job") if container_image(w) == "gavel")


def container_image(workload: Doc) -> str:
    return container(workload)["image"]


@pytest.fixture(autouse=True)
def _no_gavel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own GAVEL_* variables must not fill in what the manifests leave out."""
    for name in [n for n in os.environ if n.startswith("GAVEL_")]:
        monkeypatch.delenv(name)


# --- settings ---------------------------------------------------------------------------


def test_every_gavel_variable_in_the_manifests_is_a_setting() -> None:
    """A misspelt or retired variable is silently ignored by pydantic-settings; catch it here."""
    named = {m for path in BASE.glob("*.yaml") for m in re.findall(r"\bGAVEL_[A-Z0-9_]+", path.read_text())}
    assert named, "no GAVEL_* variables found: the manifests are not being read"
    unknown = sorted(n for n in named if n[len("GAVEL_") :].lower() not in Settings.model_fields)
    assert not unknown, f"not fields of gavel.settings.Settings: {unknown}"


def test_production_values_are_set_for_every_gavel_process() -> None:
    workloads = list(gavel_workloads())
    assert {w["metadata"]["name"] for w in workloads} >= {
        "auction-svc",
        "bid-svc",
        "bid-worker",
        "stream-svc",
        "gavel-migrate",
    }
    for w in workloads:
        s = settings_of(w)
        name = w["metadata"]["name"]
        assert s.nats_replicas == 3, name
        assert not s.dev_mode, name
        assert s.bind_host == "0.0.0.0", name
        replication = ast.literal_eval(s.cassandra_replication)
        assert replication.pop("class") == "NetworkTopologyStrategy", name
        assert list(replication.values()) == [3], name


def secret_ref(workload: Doc, variable: str) -> dict[str, str]:
    """The Secret and key a container's variable is taken from."""
    (var,) = [v for v in container(workload).get("env", []) if v["name"] == variable]
    return var["valueFrom"]["secretKeyRef"]


def uses_page_tokens(service: Service) -> bool:
    """Whether the service's code signs or checks page tokens (its package reads the setting)."""
    return any("page_token_secret" in path.read_text() for path in (ROOT / service.module).glob("*.py"))


def test_processes_that_verify_tokens_take_the_jwt_secret_from_a_secret() -> None:
    """Every server checks bearer tokens (the shared GavelInterceptor), and so does the gateway
    (jwt_authn, for the per-user limits): the dev default must never be what production
    verifies with, and all of them verify with the same Secret."""
    names = [f"{service.name}-svc" for service in SERVICES] + ["gateway"]
    for name in names:
        assert environment(find("Deployment", name))["GAVEL_JWT_SECRET"] == FROM_SECRET, name
    assert len({tuple(secret_ref(find("Deployment", n), "GAVEL_JWT_SECRET").items()) for n in names}) == 1


def test_services_that_issue_page_tokens_take_their_secret_from_a_secret() -> None:
    """A page token signed with the dev default could be forged; one signed with a secret
    that differs between replicas fails on the next replica. Every API Deployment of a service
    whose code uses page tokens reads the one Secret."""
    users = [service for service in SERVICES if uses_page_tokens(service)]
    assert {s.name for s in users} >= {"auction", "bid"}, "the page token users were not found"
    refs = set()
    for service in users:
        deployment = find("Deployment", f"{service.name}-svc")
        assert environment(deployment)["GAVEL_PAGE_TOKEN_SECRET"] == FROM_SECRET, service.name
        refs.add(tuple(secret_ref(deployment, "GAVEL_PAGE_TOKEN_SECRET").items()))
    assert len(refs) == 1


def test_keyspace_replicas_live_in_the_data_centre_cassandra_declares() -> None:
    cassandra = find("StatefulSet", "cassandra")
    dc = {v["name"]: v.get("value") for v in container(cassandra)["env"]}["CASSANDRA_DC"]
    replication = ast.literal_eval(settings_of(find("Deployment", "bid-svc")).cassandra_replication)
    assert replication == {"class": "NetworkTopologyStrategy", dc: 3}
    assert cassandra["spec"]["replicas"] >= 3


def test_cassandra_contact_points_are_the_statefulset_pods() -> None:
    cassandra = find("StatefulSet", "cassandra")
    pods = {f"cassandra-{i}.{cassandra['spec']['serviceName']}" for i in range(cassandra["spec"]["replicas"])}
    assert set(settings_of(find("Deployment", "bid-worker")).cassandra_contact_points) == pods


def test_nats_url_is_the_client_service_of_the_three_server_cluster() -> None:
    url = settings_of(find("Deployment", "bid-worker")).nats_url
    host, port = re.fullmatch(r"nats://([\w.-]+):(\d+)", url).groups()  # type: ignore[union-attr]
    service = find("Service", host)
    assert int(port) in [p["port"] for p in service["spec"]["ports"]]
    (nats,) = selected_by(service["spec"]["selector"])
    assert nats["kind"] == "StatefulSet" and nats["spec"]["replicas"] == 3


# --- bid_svc: API and workers apart ------------------------------------------------------


def test_bid_api_and_workers_are_separate_deployments_in_their_roles() -> None:
    api, workers = find("Deployment", "bid-svc"), find("Deployment", "bid-worker")
    assert settings_of(api).bid_role == "api"
    assert settings_of(workers).bid_role == "worker"
    assert {"api", "worker"} <= set(ROLES)
    assert api["spec"]["selector"] != workers["spec"]["selector"]
    for d in (api, workers):
        assert container(d)["command"] == ["python", "-m", "bid_svc"]


def test_each_bid_deployment_scales_on_its_own() -> None:
    targets = {h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind("HorizontalPodAutoscaler")}
    assert {"bid-svc", "bid-worker"} <= targets.keys()


def test_worker_autoscaling_stops_at_the_number_of_log_partitions() -> None:
    """A worker beyond the partition count would own nothing."""
    hpa = find("HorizontalPodAutoscaler", "bid-worker")
    partitions = settings_of(find("Deployment", "bid-worker")).bid_partitions
    assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"] <= partitions
    # Every process must agree on P: an auction's partition is hash % P.
    assert {settings_of(w).bid_partitions for w in gavel_workloads()} == {partitions}


def test_bid_service_routes_only_to_api_pods() -> None:
    """A worker serves no BidService methods: a request routed to one would fail UNIMPLEMENTED."""
    service = find("Service", "bid-svc")
    assert [w["metadata"]["name"] for w in selected_by(service["spec"]["selector"])] == ["bid-svc"]
    for s in of_kind("Service"):
        assert "bid-worker" not in [w["metadata"]["name"] for w in selected_by(s["spec"].get("selector", {}))]


def test_worker_probes_ask_the_health_server_a_worker_runs() -> None:
    """serve() runs the gRPC server (health, reflection) on bid_port in every role."""
    workers = find("Deployment", "bid-worker")
    port = settings_of(workers).bid_port
    for probe in ("readinessProbe", "livenessProbe"):
        assert container(workers)[probe]["grpc"]["port"] == port, probe


def test_worker_grace_period_covers_its_drain() -> None:
    """Server drain, then partitions stop, then leases are released, then NATS drains: cut
    short, the partitions are not lost but wait a lease TTL for their next owner."""
    workers = find("Deployment", "bid-worker")
    s = settings_of(workers)
    needed = s.shutdown_grace + partition.STOP_WAIT_S + DEFAULT_DRAIN_TIMEOUT
    assert workers["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= needed


# --- probes and ports --------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_api_deployments_serve_and_probe_their_settings_port(service: Service) -> None:
    deployment = find("Deployment", f"{service.name}-svc")
    s = settings_of(deployment)
    assert container(deployment)["command"] == ["python", "-m", service.module]
    port = service.port(s)
    assert port in [p["containerPort"] for p in container(deployment)["ports"]]
    assert container(deployment)["readinessProbe"]["grpc"]["port"] == port
    assert service.metrics_port(s) in [p["containerPort"] for p in container(deployment)["ports"]]


# --- the gateway -------------------------------------------------------------------------


def test_gateway_config_is_rendered_from_the_template_at_start() -> None:
    """No hand copy of envoy.yaml to drift: the pod runs gateway_envoy.render on the same
    ConfigMap as the services."""
    gateway = container(find("Deployment", "gateway"))
    assert "python -m gateway_envoy.render" in " ".join(gateway["args"])
    for cm in of_kind("ConfigMap"):
        assert not any("static_resources" in str(v) for v in cm["data"].values()), cm["metadata"]["name"]


def test_gateway_reaches_every_service_on_a_port_its_pods_serve(tmp_path: Path) -> None:
    gateway = find("Deployment", "gateway")
    rendered = yaml.safe_load(render(settings_of(gateway), tmp_path / "gavel.binpb", tmp_path))
    # The gateway's own "preflight" cluster has no endpoints on purpose (nothing may reach it);
    # every other cluster is one of the services, each once.
    clusters = [c for c in rendered["static_resources"]["clusters"] if c["load_assignment"].get("endpoints")]
    assert sorted(c["name"] for c in clusters) == sorted(s.module for s in SERVICES)
    for cluster in clusters:
        address = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]
        service = find("Service", address["address"])
        assert address["port_value"] in [p["port"] for p in service["spec"]["ports"]], cluster["name"]
        pods = selected_by(service["spec"]["selector"])
        assert pods and all(settings_of(p).bid_role != "worker" for p in pods), cluster["name"]
    readiness = container(gateway)["readinessProbe"]["httpGet"]["port"]
    assert rendered["admin"]["address"]["socket_address"]["port_value"] == readiness


def test_the_gateway_sees_client_addresses_for_its_per_address_limits(tmp_path: Path) -> None:
    """Envoy counts a client address from the connection's peer (use_remote_address), so the
    load balancer must hand over connections with the client's address: with the default
    externalTrafficPolicy (Cluster) a node SNATs them, and every client behind one node would
    share one budget."""
    (service,) = [
        s for s in of_kind("Service") if selected_by(s["spec"]["selector"]) == [find("Deployment", "gateway")]
    ]
    assert service["spec"]["type"] in ("LoadBalancer", "NodePort")
    assert service["spec"]["externalTrafficPolicy"] == "Local"
    rendered = render(settings_of(find("Deployment", "gateway")), tmp_path / "gavel.binpb", tmp_path)
    assert re.search(r"^\s*use_remote_address: true$", rendered, re.M)


def test_the_image_holds_what_the_gateway_renders_from() -> None:
    """Envoy refuses a config whose direct responses name missing files, so the image must
    carry the descriptor and the built web page the gateway's command points at."""
    args = " ".join(container(find("Deployment", "gateway"))["args"])
    _, descriptor, web_dir = re.search(r"gateway_envoy\.render (\S+) (\S+) (\S+)", args).groups()  # type: ignore[union-attr]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert descriptor == "build/gavel.binpb" and "RUN make proto" in dockerfile
    assert re.search(rf"^COPY --from=\w+ /app/{web_dir} {web_dir}$", dockerfile, re.M)
    assert re.search(r"^RUN make web\b", dockerfile, re.M)


# --- disruption --------------------------------------------------------------------------


def test_every_long_running_workload_has_a_disruption_budget() -> None:
    budgets = [p["spec"] for p in of_kind("PodDisruptionBudget")]
    for w in of_kind("Deployment", "StatefulSet"):
        labels = w["spec"]["template"]["metadata"]["labels"]
        covering = [b for b in budgets if b["selector"]["matchLabels"].items() <= labels.items()]
        assert len(covering) == 1, w["metadata"]["name"]
        if w["kind"] == "StatefulSet":  # a quorum (2 of 3) stays up: never two down at once
            (budget,) = covering
            replicas = w["spec"]["replicas"]
            quorum = replicas // 2 + 1
            if "maxUnavailable" in budget:
                assert budget["maxUnavailable"] == replicas - quorum == 1, w["metadata"]["name"]
            else:
                assert budget["minAvailable"] == quorum == 2, w["metadata"]["name"]


# --- NATS and Cassandra durability -------------------------------------------------------


def test_nats_is_a_three_server_jetstream_cluster_that_fsyncs_every_write() -> None:
    conf = find("ConfigMap", "nats-config")["data"]["nats.conf"]
    jetstream = re.search(r"jetstream\s*\{([^}]*)\}", conf)
    assert jetstream and re.search(r"^\s*sync_interval:\s*always\s*$", jetstream.group(1), re.M)
    nats = find("StatefulSet", "nats")
    headless = find("Service", nats["spec"]["serviceName"])
    routes = set(re.findall(r"nats://([\w.-]+):6222", conf))
    assert routes == {f"nats-{i}.{headless['metadata']['name']}" for i in range(3)}
    assert nats["spec"]["replicas"] == 3
    assert headless["spec"].get("publishNotReadyAddresses") is True
    assert re.search(r"^\s*server_name:\s*\S+", conf, re.M), "JetStream clustering needs server names"


#: The lines of cassandra.yaml that are the design (ARCHITECTURE.md), not the topology.
CASSANDRA_DESIGN_KEYS = (
    "commitlog_sync",
    "paxos_variant",
    "storage_compatibility_mode",
    "batch_size_warn_threshold",
    "unlogged_batch_across_partitions_warn_threshold",
    # The storage engine (measured: bench/scale.py, Cassandra's CPU per bid and per create).
    "memtable",
    "sstable",
    "default_compaction",
)


def _top_level_keys(text: str) -> list[str]:
    return re.findall(r"^([a-z_]+):", text, re.M)


def test_cassandra_in_k8s_is_as_durable_as_the_local_node() -> None:
    k8s_text = find("ConfigMap", "cassandra-config")["data"]["cassandra.yaml"]
    local_text = Template((ROOT / "devstack" / "cassandra" / "cassandra.yaml.tmpl").read_text()).substitute(
        storage_port=7000, native_port=9042, data="/d"
    )
    k8s, local = yaml.safe_load(k8s_text), yaml.safe_load(local_text)
    assert {k: k8s.get(k) for k in CASSANDRA_DESIGN_KEYS} == {k: local.get(k) for k in CASSANDRA_DESIGN_KEYS}
    # Fsync before the ack, Paxos v2 (5.0's default is still v1).
    assert k8s["commitlog_sync"] == "batch"
    assert k8s["paxos_variant"] == "v2"
    # Cassandra refuses to start with a sync period beside `batch`.
    assert "commitlog_sync_period" not in k8s
    keys = _top_level_keys(k8s_text)
    assert len(keys) == len(set(keys)), "a key given twice: YAML keeps only the last"


def test_cassandra_runs_the_config_file_the_manifests_carry() -> None:
    statefulset = find("StatefulSet", "cassandra")
    cassandra = container(statefulset)
    mount = next(m for m in cassandra["volumeMounts"] if m["name"] == "config")
    volume = next(v for v in statefulset["spec"]["template"]["spec"]["volumes"] if v["name"] == "config")
    assert "cassandra.yaml" in find("ConfigMap", volume["configMap"]["name"])["data"]
    assert f"cp {mount['mountPath']}/cassandra.yaml /etc/cassandra/cassandra.yaml" in " ".join(cassandra["args"])


# --- placement ---------------------------------------------------------------------------


def pod_spec(workload: Doc) -> Doc:
    spec: Doc = workload["spec"]["template"]["spec"]
    return spec


def anti_affinity(workload: Doc, strength: str) -> list[Doc]:
    """The workload's podAntiAffinity terms, ``required`` or ``preferred``."""
    rules = pod_spec(workload).get("affinity", {}).get("podAntiAffinity", {})
    if strength == "required":
        terms: list[Doc] = rules.get("requiredDuringSchedulingIgnoredDuringExecution", [])
        return terms
    return [t["podAffinityTerm"] for t in rules.get("preferredDuringSchedulingIgnoredDuringExecution", [])]


def keeps_its_own_pods_on_separate_nodes(workload: Doc, terms: list[Doc]) -> bool:
    """A term by node that selects this workload's pods and no other's (a selector as wide as
    ``part-of: gavel`` would keep every Gavel pod from every other)."""
    return any(
        t["topologyKey"] == "kubernetes.io/hostname" and selected_by(t["labelSelector"]["matchLabels"]) == [workload]
        for t in terms
    )


@pytest.mark.parametrize("name", ["cassandra", "nats"])
def test_each_quorum_member_has_a_node_of_its_own(name: str) -> None:
    """Two of the three on one node, and that node's loss takes the quorum (QUORUM of RF 3,
    the R3 bid log): the scheduler must refuse it, not merely avoid it."""
    statefulset = find("StatefulSet", name)
    assert keeps_its_own_pods_on_separate_nodes(statefulset, anti_affinity(statefulset, "required"))


def test_deployments_spread_over_nodes_where_they_can() -> None:
    """Preferred, not required: an HPA may ask for more replicas than the cluster has nodes."""
    for deployment in of_kind("Deployment"):
        name = deployment["metadata"]["name"]
        assert keeps_its_own_pods_on_separate_nodes(deployment, anti_affinity(deployment, "preferred")), name
        assert not anti_affinity(deployment, "required"), name


# --- resources ---------------------------------------------------------------------------

_QUANTITY = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
#: JVM (-Xmx 4G) and Go (GOMEMLIMIT 1800MiB) sizes, binary either way; NATS's config sizes
#: taken the same (the larger reading, so a check against a volume is on the safe side).
_BINARY = {"K": 2**10, "M": 2**20, "G": 2**30, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}


def quantity(value: str | int) -> float:
    """A Kubernetes quantity (``500m``, ``2``, ``512Mi``) as a number."""
    number, suffix = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value)).groups()  # type: ignore[union-attr]
    return float(number) * _QUANTITY[suffix]


def binary_size(value: str) -> float:
    number, suffix = re.fullmatch(r"([0-9.]+)([A-Za-z]+)", value).groups()  # type: ignore[union-attr]
    return float(number) * _BINARY[suffix.upper()]


def all_containers(workload: Doc) -> list[Doc]:
    spec = pod_spec(workload)
    containers: list[Doc] = spec["containers"] + spec.get("initContainers", [])
    return containers


def test_every_container_has_requests_and_limits() -> None:
    """Requests place pods and are what CPU HPAs measure against; limits keep a leak or a
    surge on one pod from starving its node's neighbours."""
    workloads = of_kind("Deployment", "StatefulSet", "Job")
    assert len(workloads) >= 8
    for w in workloads:
        for c in all_containers(w):
            where = f"{w['metadata']['name']}/{c['name']}"
            resources = c.get("resources", {})
            for resource in ("cpu", "memory"):
                request = resources.get("requests", {}).get(resource)
                limit = resources.get("limits", {}).get(resource)
                assert request is not None and limit is not None, f"{where}: {resource}"
                assert quantity(request) <= quantity(limit), f"{where}: {resource}"


@pytest.mark.parametrize("name", ["cassandra", "nats"])
def test_the_stores_get_exactly_what_they_ask_for(name: str) -> None:
    """Guaranteed QoS: a quorum member is never CPU-throttled below its request, nor evicted
    before best-effort pods."""
    resources = container(find("StatefulSet", name))["resources"]
    assert resources["requests"] == resources["limits"]


def test_cassandra_heap_and_direct_memory_fit_its_container() -> None:
    """cassandra-env.sh sizes heap and direct memory from the node's memory, not the
    container's: both are set, and with ~1 GiB for metaspace, code and thread stacks they
    leave room under the limit (the rest is page cache)."""
    cassandra = container(find("StatefulSet", "cassandra"))
    env = {v["name"]: v.get("value") for v in cassandra["env"]}
    heap = binary_size(env["MAX_HEAP_SIZE"])
    direct = binary_size(re.search(r"-XX:MaxDirectMemorySize=(\S+)", env["JVM_EXTRA_OPTS"]).group(1))  # type: ignore[union-attr]
    limit = quantity(cassandra["resources"]["limits"]["memory"])
    assert heap <= limit / 2
    assert heap + direct + 2**30 <= limit


def test_nats_memory_and_store_fit_its_container_and_volume() -> None:
    statefulset = find("StatefulSet", "nats")
    nats = container(statefulset)
    env = {v["name"]: v.get("value") for v in nats["env"]}
    limit = quantity(nats["resources"]["limits"]["memory"])
    assert binary_size(env["GOMEMLIMIT"]) < limit
    jetstream = re.search(r"jetstream\s*\{([^}]*)\}", find("ConfigMap", "nats-config")["data"]["nats.conf"]).group(1)  # type: ignore[union-attr]
    store = {k: binary_size(v) for k, v in re.findall(r"^\s*(max_\w+_store):\s*(\S+)\s*$", jetstream, re.M)}
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert store["max_file_store"] < quantity(claim["spec"]["resources"]["requests"]["storage"])
    assert store["max_memory_store"] < binary_size(env["GOMEMLIMIT"])


def test_envoy_runs_as_many_worker_threads_as_its_cpu_limit() -> None:
    """By default Envoy starts a worker thread per core of the node, not of its limit."""
    gateway = container(find("Deployment", "gateway"))
    threads = re.search(r"--concurrency (\d+)", " ".join(gateway["args"])).group(1)  # type: ignore[union-attr]
    assert int(threads) == quantity(gateway["resources"]["limits"]["cpu"])


# --- autoscaling: each on its own signal ---------------------------------------------------


def hpa_for(name: str) -> Doc:
    (hpa,) = [h for h in of_kind("HorizontalPodAutoscaler") if h["spec"]["scaleTargetRef"]["name"] == name]
    return hpa


def pods_metrics(hpa: Doc) -> dict[str, Doc]:
    """The HPA's Pods metrics: name → target."""
    return {m["pods"]["metric"]["name"]: m["pods"]["target"] for m in hpa["spec"]["metrics"] if m["type"] == "Pods"}


def metric_name(metric: MetricWrapperBase) -> str:
    return metric.describe()[0].name


def adapter_metrics() -> dict[str, Doc]:
    """What prometheus-adapter serves with k8s/prometheus-adapter/values.yaml: the custom
    metric's name → its rule, with the series it reads under ``series``."""
    rules = yaml.safe_load(ADAPTER_VALUES.read_text())["rules"]
    assert rules["default"] is False, "the chart's default rules would expose every series"
    served = {}
    for rule in rules["custom"]:
        series = re.match(r"([A-Za-z_:][\w:]*)\{", rule["seriesQuery"]).group(1)  # type: ignore[union-attr]
        assert re.fullmatch(rule["name"]["matches"], series), series
        served[re.sub(rule["name"]["matches"], rule["name"]["as"], series)] = {**rule, "series": series}
    return served


def scraped_metrics_port(deployment: Doc) -> int:
    annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
    assert annotations.get("prometheus.io/scrape") == "true", deployment["metadata"]["name"]
    return int(annotations["prometheus.io/port"])


def test_workers_scale_on_the_logs_lag_from_the_gauge_they_export() -> None:
    """The lag is what the workers have not decided; CPU alone misses a worker that waits on
    Cassandra with its partitions piling up."""
    hpa, workers = hpa_for("bid-worker"), find("Deployment", "bid-worker")
    name = metric_name(partition.PENDING)
    assert name == "gavel_bid_partition_pending"
    assert pods_metrics(hpa)[name]["type"] == "AverageValue"
    # One series per partition (the adapter sums a worker's).
    partition.PENDING.labels(partition="-1")
    partition.PENDING.remove("-1")
    # Exported by the pods the HPA scales, on the port Prometheus scrapes.
    assert settings_of(workers).bid_role == "worker"
    assert scraped_metrics_port(workers) == settings_of(workers).bid_metrics_port
    # Never more workers than partitions (the maximum is checked against them above).
    assert hpa["spec"]["maxReplicas"] <= settings_of(workers).bid_partitions


def test_stream_pods_scale_on_their_open_watches() -> None:
    """A watcher costs memory and a send per event, and almost no CPU while its auction is
    quiet: CPU would let watchers pile up on a pod until its memory limit."""
    hpa, stream = hpa_for("stream-svc"), find("Deployment", "stream-svc")
    name = metric_name(fanout.WATCHERS)
    assert name == "gavel_stream_watchers"
    assert pods_metrics(hpa)[name]["type"] == "AverageValue"
    assert container(stream)["command"] == ["python", "-m", "stream_svc"]
    assert scraped_metrics_port(stream) == settings_of(stream).stream_metrics_port


def test_every_hpa_metric_is_one_the_cluster_serves() -> None:
    """Resource metrics come from metrics-server; every Pods metric from a prometheus-adapter
    rule, per pod, over a gauge the code defines. An HPA naming a metric nobody serves
    silently ignores it (and a CPU one beside it keeps scaling as if nothing were wrong)."""
    served = adapter_metrics()
    defined = {m.name for m in REGISTRY.collect()}
    for hpa in of_kind("HorizontalPodAutoscaler"):
        name = hpa["metadata"]["name"]
        types = {m["type"] for m in hpa["spec"]["metrics"]}
        assert types <= {"Resource", "Pods"}, name
        for metric in pods_metrics(hpa):
            assert metric in served, f"{name}: {metric} has no adapter rule"
    for metric, rule in served.items():
        assert rule["series"] in defined, f"{metric}: no Gavel metric is called {rule['series']}"
        assert rule["resources"]["overrides"] == {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}
        assert rule["metricsQuery"].startswith("sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)"), metric


def test_the_rest_scale_on_cpu() -> None:
    for name in ("auction-svc", "bid-svc", "gateway"):
        (metric,) = hpa_for(name)["spec"]["metrics"]
        assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu", name


def test_stream_pods_hold_their_watcher_target_in_their_memory() -> None:
    """From the scale bench's watchers run (bench/scale.json, 10,000 streams on one process): a
    process's memory before its watchers and per watcher. The request holds the HPA's target per
    pod; the limit three times it, for a surge while the HPA adds pods."""
    measured = json.loads(SCALE_RESULTS.read_text())["watchers"]
    base, per_watcher = measured["stream_svc_rss_before_mb"] * 2**20, measured["memory_per_watcher_kb"] * 2**10
    target = quantity(pods_metrics(hpa_for("stream-svc"))[metric_name(fanout.WATCHERS)]["averageValue"])
    resources = container(find("Deployment", "stream-svc"))["resources"]
    assert quantity(resources["requests"]["memory"]) >= base + target * per_watcher
    assert quantity(resources["limits"]["memory"]) >= base + 3 * target * per_watcher


# --- the lag gauge -----------------------------------------------------------------------


class _HeldDecisions:
    """Decides nothing until let go: the commands stay fetched and undecided meanwhile."""

    def __init__(self, expected: int) -> None:
        self.go = asyncio.Event()
        self.decided = 0
        self.expected = expected
        self.all_decided = asyncio.Event()
        self.made = asyncio.Event()  # set at each decision: the server may push more

    async def decide(self, number: int, lane: partition.Lane, group: partition.Group) -> None:
        await self.go.wait()
        self.decided += len(group)
        self.made.set()
        if self.decided >= self.expected:
            self.all_decided.set()

    async def dead_letter(self, number: int, msg: Msg, reason: str) -> None:
        raise AssertionError(f"dead-lettered: {reason}")


class _Consumer:
    """A partition's push consumer as the server runs it: commands in log order, at most
    max_ack_pending delivered and undecided (the rest held back until decisions make room),
    each carrying how many are left behind it (``num_pending`` in its ack subject)."""

    def __init__(self, number: int, commands_: list[bytes], decisions: _HeldDecisions) -> None:
        self.number = number
        self.log = deque(commands_)
        self.decisions = decisions
        self.delivered = 0
        self.held = asyncio.Event()  # max_ack_pending reached, commands left behind

    async def push(self, worker: partition.Partition) -> None:
        while self.log:
            if self.delivered - self.decisions.decided >= partition.MAX_ACK_PENDING:
                self.held.set()
                await self.decisions.made.wait()
                self.decisions.made.clear()
                continue
            self.delivered += 1
            data = self.log.popleft()
            reply = f"$JS.ACK.BIDS.worker-p{self.number}.1.{self.delivered}.{self.delivered}.0.{len(self.log)}"
            await worker._deliver(Msg(None, subject=f"bids.{self.number}", reply=reply, data=data))  # type: ignore[arg-type]


def _reported_lag(number: int) -> float | None:
    return REGISTRY.get_sample_value("gavel_bid_partition_pending", {"partition": str(number)})


async def test_the_lag_counts_the_log_held_back_and_the_fetched_undecided(monkeypatch: pytest.MonkeyPatch) -> None:
    """The workers' HPA signal (gavel_bid_partition_pending): while decisions are held up, the
    partition reports what it holds undecided *and* what the server holds back behind
    max_ack_pending; once decided, zero; once stopped, nothing (its next owner reports it)."""
    monkeypatch.setattr(partition, "MAX_ACK_PENDING", 10)
    auctions = [uuid.uuid4() for _ in range(3)]
    log = [
        commands.encode(
            commands.PlaceBidCommand(
                auction_id=auctions[i % 3],
                bid_id=uuid.uuid4(),
                bidder_id="b",
                amount=100 + i,
                placed_at=datetime.now(UTC),
            )
        )
        for i in range(25)
    ]
    decisions = _HeldDecisions(expected=len(log))

    async def no_failure(number: int, group: partition.Group, exc: Exception) -> None:
        raise AssertionError(exc)

    worker = partition.Partition(7, None, None, decisions, no_failure)  # type: ignore[arg-type]
    consumer = _Consumer(7, log, decisions)
    pushing = asyncio.create_task(consumer.push(worker))
    try:
        async with asyncio.timeout(10):
            await consumer.held.wait()  # max_ack_pending reached: the server holds the rest
        assert (worker.pending, len(consumer.log)) == (10, 15)
        assert _reported_lag(7) == 25

        decisions.go.set()
        async with asyncio.timeout(10):
            await decisions.all_decided.wait()
            await pushing
        assert _reported_lag(7) == 0
    finally:
        pushing.cancel()
        await worker.stop()
    assert _reported_lag(7) is None
