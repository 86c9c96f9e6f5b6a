"""Renders envoy.yaml from the settings: ``python -m gateway_envoy.render OUT DESCRIPTOR``.

The template is plain YAML with ``${name}`` holes (string.Template), so what Envoy runs is
readable next to the template, and the local stack, the tests and k8s differ only in values.
"""

from __future__ import annotations

import sys
from pathlib import Path
from string import Template

from gavel.settings import Settings

HERE = Path(__file__).parent

#: Per-cluster concurrent request cap. Envoy's default (1,024) would cap live watchers;
#: raised for every service so the gateway is never the silent limit.
MAX_STREAMS = 100_000


def render(settings: Settings, descriptor: Path) -> str:
    cluster = Template((HERE / "cluster.yaml.tmpl").read_text())
    clusters = "".join(
        cluster.substitute(
            name=f"{service}_svc",
            host=getattr(settings, f"{service}_host"),
            port=getattr(settings, f"{service}_port"),
            max_streams=MAX_STREAMS,
        )
        for service in ("auction", "bid", "stream")
    )
    return Template((HERE / "envoy.yaml.tmpl").read_text()).substitute(
        listen_host=settings.bind_host,
        envoy_port=settings.envoy_port,
        admin_port=settings.envoy_admin_port,
        descriptor=descriptor.resolve(),
        clusters=clusters,
    )


def main() -> None:
    out, descriptor = Path(sys.argv[1]), Path(sys.argv[2])
    out.write_text(render(Settings(), descriptor))


if __name__ == "__main__":
    main()
