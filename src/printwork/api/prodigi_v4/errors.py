"""The v4 error shape: outcome, HTTP status, message, failures, traceParent (INVENTORY A-22).

The body merges the documented base error object (statusText, statusCode, data) with the
`outcome`/`failures` shape real Prodigi responses use, so clients written against either work.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.responses import Response

from printwork.core.errors import Failure

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
