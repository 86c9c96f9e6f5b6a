"""JSON logs, one object a line, each carrying the request id of the RPC that wrote it.

The request id lives in a context variable set by the server's interceptor, so code deep in
a repository logs it without passing it down.
"""

from __future__ import annotations

import contextvars
import logging
import sys

from pythonjsonlogger.json import JsonFormatter

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def configure(service: str, level: str = "INFO") -> None:
    """Route every logger (ours, grpc's, the drivers') through one JSON handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(
        JsonFormatter(
            "{asctime}{levelname}{name}{message}{request_id}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"service": service},
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The Cassandra driver logs topology at INFO on every connect; httpx every request.
    for chatty in ("cassandra", "httpx"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
