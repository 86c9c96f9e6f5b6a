"""Renders envoy.yaml from the settings: ``python -m gateway_envoy.render OUT DESCRIPTOR WEB_DIR``.

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

#: The web page's files (built by ``make web``), each served at one path by a direct response.
WEB_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/app.css": ("app.css", "text/css; charset=utf-8"),
}


def web_routes(web_dir: Path) -> str:
    route = Template((HERE / "web_route.yaml.tmpl").read_text())
    return "".join(
        route.substitute(path=path, filename=(web_dir / name).resolve(), content_type=content_type)
        for path, (name, content_type) in WEB_FILES.items()
    )


def render(settings: Settings, descriptor: Path, web_dir: Path) -> str:
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
        cors_origin_regex=settings.cors_origin_regex,
        web_routes=web_routes(web_dir),
        clusters=clusters,
    )


def main() -> None:
    out, descriptor, web_dir = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    out.write_text(render(Settings(), descriptor, web_dir))


if __name__ == "__main__":
    main()
