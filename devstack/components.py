"""What the local stack runs, how each piece is installed, and when each counts as ready.

Readiness is always the real thing answering: CQL answers a query, JetStream answers (and
reports fsync-always), gRPC health says SERVING, Envoy's admin says LIVE.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from string import Template

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from devstack.process import ManagedProcess
from gavel import cql, services
from gavel.services import Service
from gavel.settings import Settings

HERE = Path(__file__).parent
ROOT = HERE.parent
CASSANDRA_VERSION = "5.0.9"
DESCRIPTOR = ROOT / "build" / "gavel.binpb"
WEB_DIR = ROOT / "build" / "web"


class NotReady(Exception):
    pass


class StackError(RuntimeError):
    pass


def wait_ready(proc: ManagedProcess, check: Callable[[], None], timeout: float) -> None:
    """Polls ``check`` until it passes; fails fast with the log tail if the process died."""

    def attempt() -> None:
        if not proc.alive():
            raise StackError(
                f"{proc.name} exited during start-up (status {proc.returncode}); last log lines:\n{proc.log_tail()}"
            )
        check()

    try:
        for try_ in Retrying(
            retry=retry_if_exception_type(NotReady), stop=stop_after_delay(timeout), wait=wait_fixed(0.25)
        ):
            with try_:
                attempt()
    except RetryError as exc:
        raise StackError(
            f"{proc.name} not ready after {timeout:.0f}s: {exc.last_attempt.exception()}\n{proc.log_tail()}"
        ) from None


# --- Cassandra ---------------------------------------------------------------------------


def cassandra_home(settings: Settings) -> Path:
    return settings.cache_dir / f"cassandra-{CASSANDRA_VERSION}"


def install_cassandra(settings: Settings) -> Path:
    """Assembles the server from Maven Central once; later runs find it in the cache."""
    home = cassandra_home(settings)
    stamp = home / ".installed"
    if stamp.exists():
        return home
    lib = home / "lib"
    if lib.exists():
        shutil.rmtree(lib)
    subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(HERE / "cassandra" / "pom.xml"),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={lib}",
            "-DincludeScope=runtime",
            f"-Dcassandra.version={CASSANDRA_VERSION}",
        ],
        check=True,
    )
    stamp.write_text(CASSANDRA_VERSION + "\n")
    return home


def replace_top_level(yaml_text: str, replacements: Mapping[str, object]) -> str:
    """``yaml_text`` with each top-level key of ``replacements`` given its new value: the key's
    whole block (the line and everything indented under it) is dropped, and the new value
    appended as JSON, which YAML reads as it is. For a file written like the template (every
    top-level key at column 0); a key given twice would leave YAML to keep only the last."""
    kept: list[str] = []
    dropping = False
    for line in yaml_text.splitlines():
        if line and not line[0].isspace():  # a new top-level key, or a comment at column 0
            key = re.match(r"^([A-Za-z_]+):", line)
            dropping = key is not None and key.group(1) in replacements
        if not dropping:
            kept.append(line)
    kept += [f"{key}: {json.dumps(value)}" for key, value in replacements.items()]
    return "\n".join(kept) + "\n"


def _property_name(jvm_option: str) -> str | None:
    """``cassandra.ring_delay_ms`` of ``-Dcassandra.ring_delay_ms=100``; None for other options."""
    return jvm_option[2:].split("=", 1)[0] if jvm_option.startswith("-D") else None


def cassandra_process(
    settings: Settings,
    name: str = "cassandra",
    *,
    config: Mapping[str, object] | None = None,
    properties: Mapping[str, str] | None = None,
) -> ManagedProcess:
    """The node ``name`` (its data directory and log are named after it). A cluster's node
    changes the single node's template only where the topology differs: ``config`` replaces
    top-level keys of cassandra.yaml (addresses, seeds), ``properties`` replaces or adds
    ``-D`` system properties of jvm.options (the token, gossip waits)."""
    home = install_cassandra(settings)
    data = (settings.data_dir / name).resolve()
    for sub in ("data", "commitlog", "hints", "saved_caches", "cdc_raw", "logs", "triggers"):
        (data / sub).mkdir(parents=True, exist_ok=True)
    config_file = data / "cassandra.yaml"
    text = Template((HERE / "cassandra" / "cassandra.yaml.tmpl").read_text()).substitute(
        storage_port=settings.cassandra_storage_port, native_port=settings.cassandra_port, data=data
    )
    config_file.write_text(replace_top_level(text, config) if config else text)
    properties = dict(properties or {})
    jvm_options = [
        line.strip()
        for line in (HERE / "cassandra" / "jvm.options").read_text().splitlines()
        if line.strip() and not line.startswith("#") and _property_name(line.strip()) not in properties
    ] + [f"-D{key}={value}" for key, value in properties.items()]
    lib = home / "lib"
    argv = [
        "java",
        f"-Xms{settings.cassandra_heap}",
        f"-Xmx{settings.cassandra_heap}",
        *jvm_options,
        f"-javaagent:{next(lib.glob('jamm-*.jar'))}",
        *([f"-Dcassandra.jmx.local.port={settings.cassandra_jmx_port}"] if settings.cassandra_jmx_port else []),
        "-Dcassandra-foreground=yes",
        f"-Dcassandra.config=file://{config_file}",
        f"-Dlogback.configurationFile={HERE / 'cassandra' / 'logback.xml'}",
        f"-Dcassandra.logdir={data / 'logs'}",
        f"-Dcassandra.storagedir={data}",
        f"-Dcassandra.triggers_dir={data / 'triggers'}",
        "-cp",
        f"{lib}/*",
        "org.apache.cassandra.service.CassandraDaemon",
    ]
    return ManagedProcess(name, argv, settings.data_dir / "logs" / f"{name}.log")


def cassandra_ready(settings: Settings) -> None:
    from cassandra.cluster import NoHostAvailable

    # The port first: the driver logs every refused attempt as an error.
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", settings.cassandra_port)) != 0:
            raise NotReady("CQL port not open yet")

    try:
        session = cql.connect(settings)
    except NoHostAvailable as exc:
        raise NotReady(str(exc)) from None
    try:
        session.execute("SELECT release_version FROM system.local")
    finally:
        session.cluster.shutdown()


# --- NATS --------------------------------------------------------------------------------


def nats_process(settings: Settings, name: str = "nats", more_config: str = "") -> ManagedProcess:
    """The server ``name`` (its store and log are named after it); ``more_config`` is appended
    to the template, and a key it sets again wins (nats-server keeps the last): a cluster's
    server adds its name and its routes."""
    data = (settings.data_dir / name).resolve()
    data.mkdir(parents=True, exist_ok=True)
    config = data / "nats.conf"
    config.write_text(
        Template((HERE / "nats.conf.tmpl").read_text()).substitute(
            port=settings.nats_port, monitor_port=settings.nats_monitor_port, store_dir=data / "jetstream"
        )
        + more_config
    )
    server = Path(sys.executable).parent / "nats-server"
    return ManagedProcess(name, [str(server), "-c", str(config)], settings.data_dir / "logs" / f"{name}.log")


def nats_ready(settings: Settings) -> None:
    try:
        varz = httpx.get(f"http://127.0.0.1:{settings.nats_monitor_port}/varz", timeout=1).json()
    except httpx.HTTPError as exc:
        raise NotReady(str(exc)) from None
    jetstream = varz.get("jetstream", {}).get("config")
    if not jetstream:
        raise StackError("nats-server is up without JetStream")
    if jetstream.get("sync_always") is not True:
        raise StackError("nats-server does not fsync every write (jetstream sync_interval: always); refusing to start")


# --- Gavel's services --------------------------------------------------------------------

#: What the stack starts after the schema, in order: gavel.services, the one list of them.
SERVICES = services.SERVICES


def service_process(settings: Settings, service: Service) -> ManagedProcess:
    return ManagedProcess(
        service.module,
        [sys.executable, "-m", service.module],
        settings.data_dir / "logs" / f"{service.module}.log",
        env=settings.as_env(),
        cwd=ROOT,
    )


def service_ready(settings: Settings, service: Service) -> None:
    target = service.target(settings)
    with grpc.insecure_channel(target) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
        except grpc.RpcError as exc:
            raise NotReady(f"{service.module}: {exc.code().name}") from None
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        raise NotReady(f"{service.module}: {reply.status}")


def migrate(settings: Settings) -> None:
    """The schema step, run as its own process exactly as a k8s Job would run it."""
    subprocess.run([sys.executable, "-m", "gavel.migrate"], env=settings.as_env(), cwd=ROOT, check=True)


# --- Envoy -------------------------------------------------------------------------------


def envoy_process(settings: Settings) -> ManagedProcess:
    from gateway_envoy.render import render

    if not DESCRIPTOR.exists():
        raise StackError(f"{DESCRIPTOR} is missing: run `make proto`")
    if not (WEB_DIR / "index.html").exists():
        raise StackError(f"{WEB_DIR} has no page: run `make web`")
    config = (settings.data_dir / "envoy.yaml").resolve()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(render(settings, DESCRIPTOR, WEB_DIR))
    envoy = Path(sys.executable).parent / "envoy"
    argv = [
        str(envoy),
        "-c",
        str(config),
        "--log-level",
        "warn",
        "--base-id",
        str(settings.envoy_admin_port),
    ]  # two stacks (dev and tests) can coexist
    return ManagedProcess("envoy", argv, settings.data_dir / "logs" / "envoy.log")


def envoy_ready(settings: Settings) -> None:
    _answers_200("envoy", f"http://127.0.0.1:{settings.envoy_admin_port}/ready")


def _answers_200(name: str, url: str) -> None:
    """Ready when ``url`` answers 200 (Envoy's admin and Prometheus say so on their own paths)."""
    try:
        reply = httpx.get(url, timeout=1)
    except httpx.HTTPError as exc:
        raise NotReady(str(exc)) from None
    if reply.status_code != 200:
        raise NotReady(f"{name}: {reply.text.strip()}")


# --- Prometheus --------------------------------------------------------------------------

#: Debian's package (make up and make test install it).
PROMETHEUS = Path("/usr/bin/prometheus")


def prometheus_process(settings: Settings) -> ManagedProcess:
    """Scrapes every service's metrics port under the labels k8s gives its pods (``app``), so
    the dashboard (k8s/monitoring/gavel-dashboard.json) reads the same series here as there."""
    if not PROMETHEUS.exists():
        raise StackError(f"{PROMETHEUS} is missing: `make up` installs Debian's prometheus package")
    data = (settings.data_dir / "prometheus").resolve()
    data.mkdir(parents=True, exist_ok=True)
    targets = [
        {
            "targets": [f"127.0.0.1:{service.metrics_port(settings)}"],
            "labels": {"app": service.module.replace("_", "-")},
        }
        for service in SERVICES
    ]
    config = data / "prometheus.yml"
    config.write_text(Template((HERE / "prometheus.yml.tmpl").read_text()).substitute(targets=json.dumps(targets)))
    argv = [
        str(PROMETHEUS),
        f"--config.file={config}",
        f"--storage.tsdb.path={data / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{settings.prometheus_port}",
        "--log.level=warn",
    ]
    return ManagedProcess("prometheus", argv, settings.data_dir / "logs" / "prometheus.log")


def prometheus_ready(settings: Settings) -> None:
    _answers_200("prometheus", f"http://127.0.0.1:{settings.prometheus_port}/-/ready")


def ensure_port_free(port: int, host: str = "127.0.0.1") -> None:
    """Fails fast when another stack (or anything else) already holds a port we need."""
    with socket.socket() as s:
        if s.connect_ex((host, port)) == 0:
            raise StackError(f"port {host}:{port} is already in use: is another stack running?")
