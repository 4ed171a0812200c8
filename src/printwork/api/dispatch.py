"""A lean dispatcher in front of a Starlette route table.

A request that fully matches one of the table's routes goes straight to its handler, and a plain
`Response` goes straight to the server: Starlette's per-request layers (router scan, route
wrappers, exception wrapper, response and send wrappers) were a quarter of a v4 read's CPU
(bench/README.md). Everything else — unknown paths, wrong methods, trailing-slash redirects —
is left to the Starlette `Router` built from the same table, so those answers do not change.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router
from starlette.types import Send

Endpoint = Callable[[Request], Awaitable[Response]]


class Dispatcher:
    def __init__(self, routes: list) -> None:
        self.router = Router(routes=routes)
        # Routes are tried in the table's order, as Starlette does; a path without parameters is
        # also kept in a dict when no earlier route could take it first.
        self._ordered: list[tuple[re.Pattern, dict, frozenset, Endpoint]] = []
        self._static: dict[tuple[str, str], Endpoint] = {}
        # Each handler's route template (its first, where one handler serves several), for metrics.
        self.templates: dict[Endpoint, str] = {}
        for route in routes:
            if not isinstance(route, Route) or not inspect.iscoroutinefunction(route.endpoint):
                continue
            self.templates.setdefault(route.endpoint, route.path)
            methods = frozenset(route.methods or ())
            self._ordered.append((route.path_regex, route.param_convertors, methods, route.endpoint))
            if not route.param_convertors:
                for method in methods:
                    if (route.path, method) not in self._static and self._first_full_match(method, route.path)[0] is route.endpoint:
                        self._static[(route.path, method)] = route.endpoint

    def _first_full_match(self, method: str, path: str) -> tuple[Endpoint | None, dict[str, Any]]:
        for regex, convertors, methods, endpoint in self._ordered:
            if method not in methods:
                continue
            match = regex.match(path)
            if match is not None:
                return endpoint, {name: convertors[name].convert(value) for name, value in match.groupdict().items()}
        return None, {}

    def match(self, method: str, path: str) -> tuple[Endpoint | None, dict[str, Any]]:
        endpoint = self._static.get((path, method))
        if endpoint is not None:
            return endpoint, {}
        return self._first_full_match(method, path)


def is_plain(response: Response) -> bool:
    """A body held in memory and nothing to run after it: `send_plain` can send it."""
    return type(response) is Response and response.background is None


async def send_plain(response: Response, send: Send, extra_header: tuple[bytes, bytes]) -> None:
    """What `Response.__call__` sends, with `extra_header` added, in two messages and no wrappers."""
    await send({"type": "http.response.start", "status": response.status_code,
                "headers": [*response.raw_headers, extra_header]})
    await send({"type": "http.response.body", "body": response.body})
