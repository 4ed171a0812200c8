"""create_app(): every API surface behind one ASGI entry point, one error renderer per surface.

Requests under /v4.0/ go straight to that surface's Starlette router; everything else (docs,
and later the dashboard and the older dialects) goes to a FastAPI app. FastAPI's middleware
stack costs more per request than a v4 read does (bench/README.md), so the hot surface is
dispatched before it.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from printwork.api import faces
from printwork.api.context import ORIGINAL_PATH, AppContext, new_trace_parent
from printwork.api.dispatch import Dispatcher, is_plain, send_plain
from printwork.api.openapi import merged_into
from printwork.api.platform import routes as platform
from printwork.api.prodigi_v4 import routes as v4
from printwork.api.prodigi_v4.errors import error_response
from printwork.config import Settings, get_settings
from printwork.core.errors import (
    Conflict,
    EntityNotFound,
    Failure,
    Forbidden,
    ValidationFailed,
)
from printwork.db import Database
from printwork.group_commit import GroupCommitter
from printwork.jobs import JobQueue

log = logging.getLogger(__name__)

V4_PREFIX = "/v4.0/"
# The group committer's thread and the event loop share the GIL; with the default 5ms switch
# interval a request that released the GIL can wait up to 5ms to get it back.
SWITCH_INTERVAL = float(os.environ.get("PRINTWORK_SWITCH_INTERVAL", "0.0005"))


def v4_error(exc: Exception, trace: str):
    """The v4 rendering of every error a v4 request can end in."""
    if isinstance(exc, ValidationFailed):
        return error_response("ValidationFailed", 400, trace, failures=exc.failures)
    if isinstance(exc, EntityNotFound):
        return error_response("EntityNotFound", 404, trace)
    if isinstance(exc, Forbidden):
        return error_response("Forbidden", 403, trace, message=str(exc))
    if isinstance(exc, Conflict):
        return error_response("Conflict", 409, trace, message=str(exc))
    if isinstance(exc, v4.NotAuthenticated):
        return error_response("NotAuthenticated", 401, trace)
    if isinstance(exc, v4.InvalidContentType):
        return error_response("InvalidContentType", 415, trace)
    if isinstance(exc, v4.BodyTooLarge):
        failures = {"body": [Failure("TooLarge", exc.size)]}
        return error_response("ValidationFailed", 413, trace, failures=failures,
                              message="The request body is larger than this server accepts.")
    if isinstance(exc, HTTPException):
        if exc.status_code == 404:
            return error_response("EndpointDoesNotExist", 404, trace)
        if exc.status_code == 405:
            return error_response("MethodNotAllowed", 405, trace)
    return None


class Printwork:
    """The ASGI application: gives every request a traceParent and routes it to its surface."""

    def __init__(self, context: AppContext, fastapi_app: FastAPI) -> None:
        self.context = context
        self.fastapi = fastapi_app
        self.state = fastapi_app.state
        self.v4 = Dispatcher(v4.routes)
        self.platform = Dispatcher(platform.routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.fastapi(scope, receive, send)
            return
        incoming = None
        for name, value in scope["headers"]:
            if name == b"traceparent":
                incoming = value.decode("latin-1")
                break
        trace = new_trace_parent(incoming)
        scope.setdefault("state", {})["trace_parent"] = trace
        header = (b"traceParent", trace.encode())
        started = False

        async def send_with_trace(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        path = scope["path"]
        if path[:6].lower() == V4_PREFIX:
            scope[ORIGINAL_PATH] = path
            # v4 paths are case-insensitive (INVENTORY A-07), and the real service answers
            # `/v4.0/Orders/` as `/v4.0/Orders` (many clients would not follow a redirect of a POST).
            scope["path"] = path = path.lower().rstrip("/") if len(path) > len(V4_PREFIX) else path.lower()
            dispatcher = self.v4
        elif path.startswith(platform.PREFIXES):
            dispatcher = self.platform
        else:
            await self.fastapi(scope, receive, send_with_trace)
            return
        scope["app"] = self.fastapi  # handlers find the context here
        try:
            endpoint, path_params = dispatcher.match(scope["method"], path)
            if endpoint is None:  # the Router answers 404, 405 and slash redirects as it always has
                await dispatcher.router(scope, receive, send_with_trace)
                return
            scope["path_params"] = path_params
            response = await endpoint(Request(scope, receive, send))
            if not is_plain(response):  # e.g. a file: Starlette sends it
                await response(scope, receive, send_with_trace)
                return
        except Exception as exc:
            if started:
                raise
            response = v4_error(exc, trace)
            if response is None:
                log.exception("unhandled error on %s %s (%s)", scope.get("method"), path, trace)
                response = error_response("InternalServerError", 500, trace)
            await response(scope, receive, send_with_trace)
            return
        await send_plain(response, send, header)


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
    context = AppContext(settings=settings, database=database, committer=committer, jobs=jobs, announcer=announcer)

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
