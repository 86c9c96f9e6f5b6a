"""Fixtures of the e2e layer: the whole running stack, reached as clients reach it.

Every fixture here starts (or reuses) the session's stack; helpers that make requests live
in tests/e2e/api_client.py.
"""

from __future__ import annotations

import pytest

from gavel.settings import Settings


@pytest.fixture(scope="session")
def base_url(stack: object, settings: Settings) -> str:
    """The gateway's HTTP origin: REST, SSE, gRPC-Web and the web page."""
    return f"http://127.0.0.1:{settings.envoy_port}"


@pytest.fixture(scope="session")
def gateway_target(stack: object, settings: Settings) -> str:
    """The gateway as a native gRPC target (every service on one port)."""
    return f"127.0.0.1:{settings.envoy_port}"
