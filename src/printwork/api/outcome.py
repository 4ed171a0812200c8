"""The outcome-shaped answers the Prodigi v4 face and Printwork's own API share (INVENTORY A-22).

Every answer carries an `outcome` and the request's `traceParent`; an error adds its HTTP status,
message and failures. The error body merges the documented base error object (statusText, statusCode, data) with the
`outcome`/`failures` shape real Prodigi responses use, so clients written against either work.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from printwork.api.http import JSON, BodyTooLarge, InvalidContentType, NotAuthenticated, trace_parent
from printwork.api.rate_limits import RateLimited
from printwork.core.errors import Conflict, EntityNotFound, Failure, Forbidden, ValidationFailed

STATUS_TEXT = {
    "ValidationFailed": "We were unable to validate your request.",
    "EntityNotFound": "The endpoint was correct but the API could not find the given entity.",
    "EndpointDoesNotExist": "The API does not recognise the endpoint.",
    "MethodNotAllowed": "Request used an HTTP Method that the endpoint does not support.",
    "InvalidContentType": "The Content-Type header indicates an unsupported content type. We only accept application/json.",
    "InternalServerError": "An unexpected error occurred while processing your request.",
    "NotAuthenticated": "Your credentials are missing or incorrect.",
}


def error_response(
    outcome: str,
    status: int,
    trace_parent: str,
    *,
    failures: dict[str, list[Failure]] | None = None,
    message: str | None = None,
    data: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {"outcome": outcome, **(extra or {})}
    if failures is not None:
        body["failures"] = {
            path: [{"code": f.code, "providedValue": f.provided_value} for f in fs] for path, fs in failures.items()
        }
    body["statusCode"] = status
    body["statusText"] = message or STATUS_TEXT.get(outcome, outcome)
    body["data"] = data or {}
    body["traceParent"] = trace_parent
    try:
        content = orjson.dumps(body, default=str)
    except TypeError:  # orjson refuses integers beyond 64 bits, which a request may well send
        content = json.dumps(body, default=str, ensure_ascii=False).encode()
    return Response(content, status_code=status, media_type="application/json")


def camel_path(path: str) -> str:
    """A core field path in camelCase wire names: `items[0].recipient_cost.currency` ->
    `items[0].recipientCost.currency`; names under `attributes` are the merchant's own, kept."""
    if "_" not in path:
        return path
    parts = path.split(".")
    for i, part in enumerate(parts):
        if "_" in part and (i == 0 or parts[i - 1] != "attributes"):
            name, bracket, rest = part.partition("[")
            head, *tail = name.split("_")
            parts[i] = head + "".join(word[:1].upper() + word[1:] for word in tail) + bracket + rest
    return ".".join(parts)


def wire_failures(failures: dict[str, list[Failure]], wire_path) -> dict[str, list[Failure]]:
    """Failures under their wire paths; a core path and a face path that name one field merge."""
    wired: dict[str, list[Failure]] = {}
    for path, entries in failures.items():
        merged = wired.setdefault(wire_path(path), [])
        merged.extend(f for f in entries if f not in merged)
    return wired


def render_error(exc: Exception, trace: str, wire_path=camel_path) -> Response | None:
    """The answer to every error a request of these faces can end in; None: not one we know."""
    if isinstance(exc, ValidationFailed):
        return error_response("ValidationFailed", 400, trace, failures=wire_failures(exc.failures, wire_path))
    if isinstance(exc, EntityNotFound):
        return error_response("EntityNotFound", 404, trace)
    if isinstance(exc, Forbidden):
        return error_response("Forbidden", 403, trace, message=str(exc))
    if isinstance(exc, Conflict):
        return error_response("Conflict", 409, trace, message=str(exc))
    if isinstance(exc, NotAuthenticated):
        return error_response("NotAuthenticated", 401, trace)
    if isinstance(exc, InvalidContentType):
        return error_response("InvalidContentType", 415, trace)
    if isinstance(exc, RateLimited):
        response = error_response("TooManyRequests", 429, trace,
                                  message=f"Too many requests with this API key; retry after {exc.retry_after}s.")
        response.headers["retry-after"] = str(exc.retry_after)
        return response
    if isinstance(exc, BodyTooLarge):
        failures = {"body": [Failure("TooLarge", exc.size)]}
        return error_response("ValidationFailed", 413, trace, failures=failures,
                              message="The request body is larger than this server accepts.")
    if isinstance(exc, HTTPException):
        if exc.status_code == 404:
            return error_response("EndpointDoesNotExist", 404, trace)
        if exc.status_code == 405:
            return error_response("MethodNotAllowed", 405, trace)
    return None


def internal_error(trace: str) -> Response:
    return error_response("InternalServerError", 500, trace)


def envelope(request: Request, outcome: str, key: str, body: bytes, **more: bytes) -> Response:
    """`{"outcome":…,"<key>":<already-rendered JSON>,…,"traceParent":…}` without re-serialising."""
    extra = b"".join(b',"%s":%s' % (name.encode(), value) for name, value in more.items())
    content = b'{"outcome":"%s","%s":%s%s,"traceParent":"%s"}' % (
        outcome.encode(),
        key.encode(),
        body,
        extra,
        trace_parent(request),
    )
    return Response(content, media_type=JSON)
