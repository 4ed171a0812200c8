"""create_app(): every API surface behind one ASGI entry point, one error renderer per surface.

A request goes straight to the router of the face that claims its path (HTTP_FACES: v4, Pwinty
v3.0, Printwork's own API, the dashboard); everything else (the docs) goes to a FastAPI app. FastAPI's middleware
stack costs more per request than a v4 read does (bench/README.md), so the faces are
dispatched before it.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from printwork import logs
from printwork.api import faces, operations, outcome
from printwork.api.dashboard import routes as dashboard
from printwork.api.context import ORIGINAL_PATH, AppContext, new_trace_parent
from printwork.api.dispatch import Dispatcher, is_plain, send_plain
from printwork.api.openapi import merged_into
from printwork.api.platform import routes as platform
from printwork.api.prodigi_v4 import routes as v4
from printwork.api.prodigi_v4 import translate as v4_translate
from printwork.api.pwinty_v3 import routes as v3
from printwork.config import Settings, get_settings
from printwork.db import Database
from printwork.group_commit import GroupCommitter
from printwork.jobs import JobQueue
from printwork.metrics import RequestTimer

log = logging.getLogger(__name__)

# The group committer's thread and the event loop share the GIL; with the default 5ms switch
# interval a request that released the GIL can wait up to 5ms to get it back.
SWITCH_INTERVAL = float(os.environ.get("PRINTWORK_SWITCH_INTERVAL", "0.0005"))


@dataclass(frozen=True)
class HttpFace:
    """One API surface: which paths are its own, its routes, and how it answers errors."""

    name: str
    # The path as the face's routes match it, or None when the path is not this face's.
    claim: Callable[[str], str | None]
    routes: list
    # Any error a request ended in, as the face documents it (given the trace id and the request's
    # headers, e.g. for a face that answers in XML when asked); None: not one it knows (then 500).
    render_error: Callable[[Exception, str, Headers], Response | None]
    internal_error: Callable[[str, Headers], Response]


def _claim_v4(path: str) -> str | None:
    if path[:6].lower() != "/v4.0/":
        return None
    # v4 paths are case-insensitive (INVENTORY A-07), and the real service answers
    # `/v4.0/Orders/` as `/v4.0/Orders` (many clients would not follow a redirect of a POST).
    return path.lower().rstrip("/") if len(path) > 6 else path.lower()


def _claim_platform(path: str) -> str | None:
    return path if path.startswith(platform.PREFIXES) else None


# The one place where faces are wired, tried in this order; what none claims (the docs) goes to
# FastAPI. The orders a face places are rendered by its entry in faces.ORDER_FACES.
HTTP_FACES = (
    HttpFace("operations", operations.claim, operations.routes, operations.render_error, operations.internal_error),
    HttpFace("prodigi_v4", _claim_v4, v4.routes,
             lambda exc, trace, _headers: outcome.render_error(exc, trace, wire_path=v4_translate.wire_path),
             lambda trace, _headers: outcome.internal_error(trace)),
    HttpFace("pwinty_v3", v3.claim, v3.routes, v3.render_error, v3.internal_error),
    HttpFace("platform", _claim_platform, platform.routes, lambda exc, trace, _headers: outcome.render_error(exc, trace),
             lambda trace, _headers: outcome.internal_error(trace)),
    HttpFace("dashboard", dashboard.claim, dashboard.routes, dashboard.render_error, dashboard.internal_error),
)


class Printwork:
    """The ASGI application: gives every request a traceParent and routes it to its surface."""

    def __init__(self, context: AppContext, fastapi_app: FastAPI) -> None:
        self.context = context
        self.fastapi = fastapi_app
        self.state = fastapi_app.state
        self.faces = [(face, Dispatcher(face.routes)) for face in HTTP_FACES]
        self.timer = RequestTimer()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.fastapi(scope, receive, send)
            return
        began = time.perf_counter()
        incoming = None
        for name, value in scope["headers"]:
            if name == b"traceparent":
                incoming = value.decode("latin-1")
                break
        trace = new_trace_parent(incoming)
        scope.setdefault("state", {})["trace_parent"] = trace
        header = (b"traceParent", trace.encode())
        status = 0

        async def send_with_trace(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        logs.trace_parent.set(trace)  # each request runs in a task of its own: this ends with it
        path = scope["path"]
        for face, dispatcher in self.faces:
            routed = face.claim(path)
            if routed is not None:
                logs.face.set(face.name)
                break
        else:
            try:
                await self.fastapi(scope, receive, send_with_trace)
            finally:
                self.timer.observe("docs", "(other)", scope["method"], status, time.perf_counter() - began)
            return
        scope[ORIGINAL_PATH] = path
        scope["path"] = path = routed
        scope["app"] = self.fastapi  # handlers find the context here
        route = "(unmatched)"
        try:
            endpoint, path_params = dispatcher.match(scope["method"], path)
            if endpoint is None:  # the Router answers 404, 405 and slash redirects as it always has
                await dispatcher.router(scope, receive, send_with_trace)
                return
            route = dispatcher.templates[endpoint]
            scope["path_params"] = path_params
            response = await endpoint(Request(scope, receive, send))
            if not is_plain(response):  # e.g. a file: Starlette sends it
                await response(scope, receive, send_with_trace)
                return
        except Exception as exc:
            if status:
                raise
            headers = Headers(scope=scope)
            response = face.render_error(exc, trace, headers)
            if response is None:
                log.exception("unhandled error on %s %s (%s)", scope.get("method"), path, trace)
                response = face.internal_error(trace, headers)
            await response(scope, receive, send_with_trace)
            return
        finally:
            if status:
                self.timer.observe(face.name, route, scope["method"], status, time.perf_counter() - began)
        status = response.status_code
        await send_plain(response, send, header)
        self.timer.observe(face.name, route, scope["method"], status, time.perf_counter() - began)


def create_app(settings: Settings | None = None, database: Database | None = None) -> Printwork:
    """The ASGI app. The order process's workers run elsewhere (`printwork worker`, or the child
    process `printwork serve` starts), so image work never competes with requests for the GIL."""
    sys.setswitchinterval(SWITCH_INTERVAL)
    settings = settings or get_settings()
    database = database or Database(settings.resolved_database_url)
    announcer = faces.wire(database, settings.resolved_public_base_url)
    jobs = JobQueue(settings, database, announcer)
    committer = GroupCommitter(database, max_batch=settings.write_batch_max, after_commit=jobs.orders_due,
                               threads=settings.database_write_threads)
    context = AppContext(settings=settings, database=database, committer=committer, jobs=jobs, announcer=announcer,
                         controls_order_face=faces.ORDER_FACES[faces.DEFAULT_FACE])

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        committer.start()
        with database.read() as session:
            context.catalog.get(session)
        # What exists at start-up (modules, metadata, catalogue) lives as long as the process:
        # keep it out of the collector's way so full collections stay short.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            committer.stop()
            context.close()
            jobs.close()

    # /docs with Swagger UI 5 served from this process (fastapi-offline bundles it): no CDN, so
    # the page works on a machine without internet, and it renders OpenAPI 3.1.
    fastapi_app = FastAPIOffline(
        title="Printwork",
        description="Print-on-demand fulfilment speaking the Prodigi Print API v4.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        static_url="/docs/assets",
    )
    fastapi_app.state.context = context

    def openapi() -> dict:
        if fastapi_app.openapi_schema is None:
            fastapi_app.openapi_schema = merged_into(FastAPI.openapi(fastapi_app))
        return fastapi_app.openapi_schema

    fastapi_app.openapi = openapi  # /openapi.json and /docs show the v4 surface and the platform's own
    return Printwork(context, fastapi_app)


def create_app_from_environment() -> Printwork:
    """The app of one of `printwork serve --processes N`'s processes, configured by PRINTWORK_*."""
    return create_app(get_settings())
