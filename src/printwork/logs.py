"""Logs: readable console lines by default, one JSON object a line with PRINTWORK_LOG_FORMAT=json.

Each record carries what it happened for, from context variables the boundaries set: the
request's traceParent and face, the merchant whose key it carried, the order it concerned. A
job sets the order it drives. Whatever a record says, API keys, signing secrets and URL query
strings (where image URLs carry their signatures) are masked before it is written.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

import orjson

trace_parent: ContextVar[str | None] = ContextVar("printwork_trace_parent", default=None)
face: ContextVar[str | None] = ContextVar("printwork_face", default=None)
merchant_id: ContextVar[int | None] = ContextVar("printwork_merchant_id", default=None)
order_id: ContextVar[int | None] = ContextVar("printwork_order_id", default=None)

_SECRETS = re.compile(
    r"(?P<key>\b(?:pw_(?:sandbox|live|lab)|pa_[a-z]+|whsec)_[A-Za-z0-9_\-+/]{4})[A-Za-z0-9_\-+/=]*"
    r"|(?P<url>\bhttps?://[^\s?#\"']+)\?[^\s#\"']*")


@contextmanager
def bound(*, order: int | None = None, merchant: int | None = None, trace: str | None = None,
          through: str | None = None) -> Iterator[None]:
    """Records inside carry these (a job's order, its merchant, the trace of the request that made
    it, its face); whatever the block sets besides is undone when it ends."""
    tokens = [(var, var.set(value)) for var, value in
              ((order_id, order), (merchant_id, merchant), (trace_parent, trace), (face, through))]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def describe_order(*, merchant: int, trace: str | None, through: str | None) -> None:
    """Within `bound`: the order being worked on turned out to be this merchant's, made by this trace."""
    merchant_id.set(merchant)
    trace_parent.set(trace)
    face.set(through)


def masked(text: str) -> str:
    """`text` with API keys and secrets cut to their first characters and URL queries dropped."""
    return _SECRETS.sub(lambda m: f"{m['key']}…" if m["key"] else f"{m['url']}?…", text)


class _Context(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.trace_parent = trace_parent.get()
        record.face = face.get()
        record.merchant_id = merchant_id.get()
        record.order_id = order_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": masked(record.getMessage()),
        }
        for name, key in (("trace_parent", "traceParent"), ("face", "face"), ("merchant_id", "merchantId"),
                          ("order_id", "orderId")):
            value = getattr(record, name, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = masked(self.formatException(record.exc_info))
        return orjson.dumps(entry).decode()


class ConsoleFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = masked(super().format(record))
        tags = [f"{name}={value}" for name, value in (
            ("order", getattr(record, "order_id", None)), ("merchant", getattr(record, "merchant_id", None)),
            ("face", getattr(record, "face", None)), ("trace", getattr(record, "trace_parent", None))) if value]
        return f"{line}  [{' '.join(tags)}]" if tags else line


def handler(log_format: str) -> logging.Handler:
    made = logging.StreamHandler(sys.stderr)
    made.setFormatter(JsonFormatter() if log_format == "json" else ConsoleFormatter())
    made.addFilter(_Context())
    return made


def configure(log_format: str, level: str = "INFO") -> None:
    """Every logger of the process (Printwork's, uvicorn's, Huey's) through one handler."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler(log_format))
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "huey", "huey.consumer"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # Huey says something of every job it runs: /metrics counts those; its warnings still show.
    logging.getLogger("huey").setLevel("WARNING")
    # httpx logs every request's whole URL, and a callback URL's path may be its receiver's secret;
    # Printwork's own lines say what was fetched or sent, naming only the host.
    logging.getLogger("httpx").setLevel("WARNING")


def uvicorn_log_config(log_format: str) -> dict:
    """uvicorn configures logging in each server process it starts; this makes it ours there too."""
    formatter = "printwork.logs.JsonFormatter" if log_format == "json" else "printwork.logs.ConsoleFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "printwork.logs._Context"}},
        "formatters": {"default": {"()": formatter}},
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "default", "filters": ["context"],
                                 "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["default"], "level": "INFO"},
        "loggers": {"uvicorn": {"handlers": [], "propagate": True}, "uvicorn.error": {"propagate": True},
                    "uvicorn.access": {"handlers": [], "propagate": True}},
    }
