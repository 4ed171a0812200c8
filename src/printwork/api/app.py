"""create_app(): every API surface on one FastAPI app, with one error renderer per surface."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from printwork.api.context import AppContext, new_trace_parent
from printwork.api.prodigi_v4 import routes as v4
from printwork.api.prodigi_v4.errors import error_response
from printwork.config import Settings, get_settings
from printwork.core.errors import EntityNotFound, ValidationFailed
from printwork.db import Database
from printwork.group_commit import GroupCommitter

log = logging.getLogger(__name__)

V4_PREFIX = "/v4.0/"


class TraceAndRoutingMiddleware:
    """Gives every request a traceParent (header and `scope.state`) and makes v4 paths
    case-insensitive; turns anything unhandled into the surface's 500 with its traceParent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope["headers"]:
            if name == b"traceparent":
                incoming = value.decode("latin-1")
                break
        trace = new_trace_parent(incoming)
        scope.setdefault("state", {})["trace_parent"] = trace
        path = scope["path"]
        if path[:6].lower() == V4_PREFIX:
            scope["path"] = path.lower()
        header = (b"traceParent", trace.encode())
        started = False

        async def send_with_trace(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_trace)
        except Exception:
            log.exception("unhandled error on %s %s (%s)", scope.get("method"), path, trace)
            if started:
                raise
            response = error_response("InternalServerError", 500, trace)
            await response(scope, receive, send_with_trace)


def _trace(request: Request) -> str:
    return request.scope.get("state", {}).get("trace_parent") or new_trace_parent()


def _install_error_renderers(app: FastAPI) -> None:
    @app.exception_handler(ValidationFailed)
    async def validation_failed(request: Request, exc: ValidationFailed) -> Response:
        return error_response("ValidationFailed", 400, _trace(request), failures=exc.failures)

    @app.exception_handler(EntityNotFound)
    async def not_found(request: Request, exc: EntityNotFound) -> Response:
        return error_response("EntityNotFound", 404, _trace(request))

    @app.exception_handler(v4.NotAuthenticated)
    async def not_authenticated(request: Request, exc: v4.NotAuthenticated) -> Response:
        return error_response("NotAuthenticated", 401, _trace(request))

    @app.exception_handler(v4.InvalidContentType)
    async def invalid_content_type(request: Request, exc: v4.InvalidContentType) -> Response:
        return error_response("InvalidContentType", 415, _trace(request))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error_response("EndpointDoesNotExist", 404, _trace(request))
        if exc.status_code == 405:
            return error_response("MethodNotAllowed", 405, _trace(request))
        return error_response("ValidationFailed" if exc.status_code < 500 else "InternalServerError",
                              exc.status_code, _trace(request), message=str(exc.detail))


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    database = database or Database(settings.resolved_database_url)
    committer = GroupCommitter(database, max_batch=settings.write_batch_max)
    context = AppContext(settings=settings, database=database, committer=committer)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        committer.start()
        try:
            yield
        finally:
            committer.stop()

    app = FastAPI(
        title="Printwork",
        description="Print-on-demand fulfilment speaking the Prodigi Print API v4.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.context = context
    app.router.routes.extend(v4.routes)
    _install_error_renderers(app)
    app.add_middleware(TraceAndRoutingMiddleware)
    return app
