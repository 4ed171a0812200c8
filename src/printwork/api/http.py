"""What every face shares on the way in: the app's context, API keys, trace ids, bodies and their caps."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from starlette.requests import Request

from printwork import logs, metrics
from printwork.api.context import AppContext
from printwork.core.errors import Failure, FailureCollector, ValidationFailed
from printwork.core.merchants.service import Owner, note_key_used
from printwork.core.orders import service as orders
from printwork.core.orders.domain import OrderListQuery, OrderView, parse_order_id

JSON = "application/json"
log = logging.getLogger("printwork.api")
T = TypeVar("T")


class NotAuthenticated(Exception):
    pass


class InvalidContentType(Exception):
    pass


class BodyTooLarge(Exception):
    def __init__(self, size: int) -> None:
        self.size = size


def context(request: Request) -> AppContext:
    return request.app.state.context


async def authenticate(request: Request) -> Owner:
    """The owner of the request's `X-API-Key` (the key of v4 and of Printwork's own API)."""
    return await owner_of_key(request, request.headers.get("x-api-key"))


async def owner_of_key(request: Request, key: str | None) -> Owner:
    """The owner of a merchant's API key however a face carries it; NotAuthenticated when none."""
    ctx = context(request)
    limiter = ctx.rate_limiter
    address = request.client.host if request.client else "unknown"
    if limiter.guards_failures:
        await _limited(ctx, limiter.check_address, address)
    if not key:
        raise NotAuthenticated()
    key = key.strip()
    owner = ctx.keys.cached(key)
    if owner is None:
        owner, note_use = await ctx.read(ctx.keys.look_up, ctx.database, key)
        if owner is None:
            if limiter.guards_failures:
                await _limited(ctx, limiter.note_failure, address)
            raise NotAuthenticated()
        if note_use:  # at most once a minute per key: a write, so on a thread
            await ctx.in_session(lambda session: note_key_used(session, key), write=True)
    logs.merchant_id.set(owner.merchant_id)
    if limiter.enabled:
        await _limited(ctx, limiter.check, key)
    return owner


async def _limited(ctx: AppContext, check, value: str) -> None:
    """A rate-limit call: off the event loop when its counts are in Redis (a round trip)."""
    if ctx.rate_limiter.shared:
        await ctx.blocking(check, value)
    else:
        check(value)


def note_order_placed(face: str, owner: Owner, order_id: int, outcome: str) -> None:
    """A new order (not an idempotent repeat): counted for /metrics and logged with its ids."""
    metrics.order_created(face, owner.environment)
    logs.order_id.set(order_id)
    log.info("order placed through %s in %s: %s", face, owner.environment, outcome)


def trace_parent(request: Request) -> bytes:
    return request.scope["state"]["trace_parent"].encode()


async def json_body(request: Request) -> Any:
    """The request's JSON body, or None when it is empty (INVENTORY A-24).

    JSON media types are accepted, and so is a missing or form Content-Type when the body is
    JSON, as the documents' own curl examples send; anything else is 415.
    """
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    is_json = media_type == JSON or media_type.endswith("+json")
    body = await read_capped(request, context(request).settings.max_request_bytes)
    if not body.strip():
        return None
    if not is_json and media_type not in ("", "application/x-www-form-urlencoded"):
        raise InvalidContentType()
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ValidationFailed({"body": [Failure("MalformedJson", None)]}) from None


async def read_capped(request: Request, limit: int) -> bytes:
    """The body, refusing it as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(int(declared))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(size)
        chunks.append(chunk)
    return b"".join(chunks)


def order_id_from_path(raw: str) -> int:
    order_id = parse_order_id(raw)
    if order_id is None:
        failures = FailureCollector()
        failures.add("orderId", "InvalidOrderId", raw)
        failures.raise_if_any()
    logs.order_id.set(order_id)
    return order_id  # type: ignore[return-value]


def parsed(raw: Any, parse: Callable[[Any, FailureCollector], T | None]) -> tuple[T, FailureCollector]:
    """`raw` (a body already read) read by a face's `parse`, and the collector that may already
    hold its failures; a missing body, or one `parse` could make nothing of, is refused at once."""
    failures = FailureCollector()
    if raw is None:
        failures.add("body", "Required", None)
        failures.raise_if_any()
    value = parse(raw, failures)
    if value is None:
        failures.raise_if_any()
    return value, failures  # type: ignore[return-value]


async def rendered_order(request: Request, owner: Owner, order_id: int, render: Callable[[OrderView], bytes],
                         fmt: str) -> bytes:
    """The owner's order in a face's format: its stored rendition, or rendered now and kept
    (off the event loop) for the next reader of this version."""
    ctx = context(request)
    made: list[orders.Rendition] = []
    body = await ctx.read(orders.get_order, ctx.database, owner, order_id, render, fmt, made)
    if made:
        await ctx.blocking(orders.keep, ctx.database, fmt, made)
    return body


async def rendered_page(request: Request, owner: Owner, query: OrderListQuery, render: Callable[[OrderView], bytes],
                        fmt: str) -> tuple[list[bytes], bool]:
    """One page of the owner's orders in a face's format, and whether another follows; as above."""
    ctx = context(request)
    made: list[orders.Rendition] = []
    bodies, has_more = await ctx.read(orders.list_orders, ctx.database, owner, query, render, fmt, made)
    if made:
        await ctx.blocking(orders.keep, ctx.database, fmt, made)
    return bodies, has_more
