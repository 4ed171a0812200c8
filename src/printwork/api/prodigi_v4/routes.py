"""The Prodigi v4 endpoints: thin handlers that turn a request into a core call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from printwork import logs
from printwork.api.context import ORIGINAL_PATH, AppContext
from printwork.api.http import (
    JSON, authenticate, context, json_body, note_order_placed, order_id_from_path, parsed, rendered_order,
    rendered_page, trace_parent)
from printwork.api.outcome import envelope, error_response, wire_failures
from printwork.api.prodigi_v4 import translate
from printwork.core.catalog.spine import spine_width_mm
from printwork.core.errors import (
    EntityNotFound,
    FailureCollector,
    ValidationFailed,
)
from printwork.core.merchants.service import Owner, billing_currency
from printwork.core.orders import actions
from printwork.core.orders import service as orders
from printwork.core.orders.domain import Outcome
from printwork.core.orders.progress import FAULTS
from printwork.core.quotes import service as quotes
from printwork.db import Writes

FAULTS_BY_LOWER = {fault.lower(): fault for fault in FAULTS}

T = TypeVar("T")


async def parsed_body(request: Request, parse: Callable[[Any, FailureCollector], T | None]) -> tuple[T, FailureCollector]:
    """The body read by `parse`, and the collector that may already hold its failures; a
    missing body, or one `parse` could make nothing of, is answered at once."""
    return parsed(await json_body(request), parse)


SANDBOX_FAULT_HEADER = "x-printwork-sandbox-fail"


def sandbox_fault_requested(request: Request, owner: Owner, failures: FailureCollector) -> str | None:
    """A sandbox order may be told at creation which step of its process must fail (README)."""
    value = request.headers.get(SANDBOX_FAULT_HEADER)
    if value is None:
        return None
    step = FAULTS_BY_LOWER.get(value.strip().lower())
    if owner.environment != "sandbox" or step is None:
        failures.add("header.X-Printwork-Sandbox-Fail", "InvalidValue" if step is None else "SandboxOnly", value)
    return step


async def create_order(request: Request) -> Response:
    owner = await authenticate(request)
    new_order, failures = await parsed_body(request, translate.parse_new_order)
    ctx = context(request)
    sandbox_fault = sandbox_fault_requested(request, owner, failures)
    trace = logs.trace_parent.get()  # read here: the committer may place it on another thread

    def place(writes: Writes) -> orders.PlacedOrder:
        return orders.place_order(
            writes, owner, new_order, ctx.catalog.for_writes(writes), failures,
            translate.render_order, translate.RENDITION_FORMAT, ctx.settings.resolved_public_base_url, sandbox_fault,
            face=translate.FACE, trace_parent=trace,
        )

    placed = await ctx.committer.run(place)
    if placed.outcome is not Outcome.ALREADY_EXISTS:
        note_order_placed(translate.FACE, owner, placed.order_id, placed.outcome.value)
    return envelope(request, translate.OUTCOMES[placed.outcome], "order", placed.body)


async def get_order(request: Request) -> Response:
    owner = await authenticate(request)
    number = order_id_from_path(request.path_params["order_id"])
    body = await rendered_order(request, owner, number, translate.render_order, translate.RENDITION_FORMAT)
    return envelope(request, "Ok", "order", body)


async def list_orders(request: Request) -> Response:
    owner = await authenticate(request)
    failures = FailureCollector()
    query = translate.parse_list_query(request.query_params.multi_items(), failures)
    failures.raise_if_any()
    bodies, has_more = await rendered_page(request, owner, query, translate.render_order, translate.RENDITION_FORMAT)
    next_url = b"null"
    if has_more:
        base = context(request).settings.public_base_url or str(request.base_url)
        url = f"{base.rstrip('/')}/v4.0/orders?{translate.list_query_string(query, query.skip + query.top)}"
        next_url = orjson.dumps(url)
    content = b'{"outcome":"Ok","orders":[%s],"hasMore":%s,"nextUrl":%s,"traceParent":"%s"}' % (
        b",".join(bodies),
        b"true" if has_more else b"false",
        next_url,
        trace_parent(request),
    )
    return Response(content, media_type=JSON)


async def create_quote(request: Request) -> Response:
    owner = await authenticate(request)
    quote_request, failures = await parsed_body(request, translate.parse_quote_request)
    ctx = context(request)
    catalog, currency = await ctx.read(_quote_inputs, ctx, owner)
    result = quotes.create_quotes(quote_request, catalog, currency, failures)
    document = translate.quotes_document(result, quote_request)
    outcome = "CreatedWithIssues" if result.issues else "Created"
    return envelope(request, outcome, "quotes", orjson.dumps(document["quotes"]), issues=orjson.dumps(document["issues"]))


def _quote_inputs(ctx: AppContext, owner: Owner):
    return ctx.catalog.current(ctx.database), billing_currency(ctx.database, owner.merchant_id)


async def get_product(request: Request) -> Response:
    await authenticate(request)
    ctx = context(request)
    catalog = await ctx.read(ctx.catalog.current, ctx.database)
    # The SKU as sent, case and all: the real service echoes it, trailing space included (the
    # official Postman collection sends `GLOBAL-CAN-10x10 `).
    original = request.scope.get(ORIGINAL_PATH, "")
    requested = original[len("/v4.0/products/"):] if original[:15].lower() == "/v4.0/products/" else request.path_params["sku"]
    product = catalog.product(requested.strip())
    if product is None:
        raise EntityNotFound(f"no product {requested!r}")
    body = ctx.rendered_products.get(catalog.revision, product.sku)
    if body is None:
        body = ctx.rendered_products.put(catalog.revision, product.sku, orjson.dumps(translate.product_document(product)))
    if requested != product.sku:
        body = orjson.dumps({**orjson.loads(body), "sku": requested})
    return envelope(request, "Ok", "product", body)


async def spine(request: Request) -> Response:
    await authenticate(request)
    ctx = context(request)
    try:
        (sku, country, pages), failures = await parsed_body(request, translate.parse_spine_request)
        failures.raise_if_any()
        width = spine_width_mm(await ctx.read(ctx.catalog.current, ctx.database), sku, country, pages, failures)
    except ValidationFailed as exc:
        # The documented response carries `success` and `message`; keep them on failure too.
        message = "; ".join(f"{path}: {', '.join(f.code for f in fs)}" for path, fs in exc.failures.items())
        return error_response("ValidationFailed", 400, request.scope["state"]["trace_parent"],
                              failures=wire_failures(exc.failures, translate.wire_path),
                              extra={"success": False, "message": message})
    content = b'{"outcome":"Ok","success":true,"message":"Spine info retrieved","spineInfo":{"widthMm":%s},"traceParent":"%s"}' % (
        format(width, "f").encode(), trace_parent(request))
    return Response(content, media_type=JSON)


def _action_response(request: Request, action: actions.ActionResult, body: bytes, **extra: bytes) -> Response:
    return envelope(request, translate.OUTCOMES[action.outcome], "order", body, **extra)


async def _act(request: Request, owner: Owner, order_id: int, act: Callable[[Session], T]) -> tuple[T, bytes]:
    """`act` in a transaction of its own, then the order as it is afterwards, off the event loop."""
    ctx = context(request)

    def work() -> tuple[T, bytes]:
        with ctx.database.transaction() as session:
            result = act(session)
        return result, orders.get_order(ctx.database, owner, order_id, translate.render_order,
                                        translate.RENDITION_FORMAT)

    return await ctx.blocking(work)


async def order_actions(request: Request) -> Response:
    owner = await authenticate(request)
    order_id = order_id_from_path(request.path_params["order_id"])
    available = await context(request).in_session(lambda s: actions.availability(s, owner, order_id))
    document = {"outcome": "Ok", **translate.availability_document(available),
                "traceParent": request.scope["state"]["trace_parent"]}
    return Response(orjson.dumps(document), media_type=JSON)


async def cancel_order(request: Request) -> Response:
    # Takes no body: whatever is sent, with whatever Content-Type, is not read.
    owner = await authenticate(request)
    order_id = order_id_from_path(request.path_params["order_id"])
    ctx = context(request)
    result, body = await _act(request, owner, order_id, lambda s: actions.cancel(s, owner, order_id, ctx.announcer))
    return _action_response(request, result, body,
                            shipmentUpdateResults=orjson.dumps(translate.shipment_results(result.shipments)))


async def _update(request: Request, parse: Callable[[Any, FailureCollector], T | None],
                  change: Callable[[Session, Owner, int, T], actions.ActionResult]) -> tuple[actions.ActionResult, bytes]:
    """The update actions' common course: key, order id, body read by `parse`, then `change`."""
    owner = await authenticate(request)
    order_id = order_id_from_path(request.path_params["order_id"])
    value, failures = await parsed_body(request, parse)
    failures.raise_if_any()
    return await _act(request, owner, order_id, lambda s: change(s, owner, order_id, value))


async def update_shipping_method(request: Request) -> Response:
    ctx = context(request)
    result, body = await _update(request, translate.parse_shipping_method_update, lambda s, owner, order_id, method:
                                 actions.update_shipping_method(s, owner, order_id, method, ctx.catalog.get(s),
                                                                ctx.announcer))
    results = orjson.dumps(translate.shipment_results(result.shipments))
    # Both spellings the documents use for the per-shipment results.
    return _action_response(request, result, body, shipmentUpdateResults=results,
                            shippingUpdateResults=results)


async def update_recipient(request: Request) -> Response:
    ctx = context(request)

    def change(session: Session, owner: Owner, order_id: int, update: translate.RecipientUpdate) -> actions.ActionResult:
        try:
            return actions.update_recipient(session, owner, order_id, update.recipient, ctx.catalog.get(session),
                                            ctx.announcer)
        except ValidationFailed as exc:
            raise update.failures_as_sent(exc) from None

    result, body = await _update(request, translate.parse_recipient_update, change)
    results = orjson.dumps(translate.shipment_results(result.shipments))
    extra = {"shipmentUpdateResults": results, "shipmentResult": results}
    if result.outcome in translate.RECIPIENT_RESULTS:
        extra["result"] = orjson.dumps(translate.RECIPIENT_RESULTS[result.outcome])
    return _action_response(request, result, body, **extra)


async def update_metadata(request: Request) -> Response:
    result, body = await _update(request, translate.parse_metadata_update, actions.update_metadata)
    return _action_response(request, result, body)


# Plain Starlette routes: FastAPI's per-route dependency machinery costs more than these
# handlers do (measured in bench/), and they parse their own bodies anyway. Paths are lower
# case; the app's middleware lower-cases v4 paths before routing.
routes = [
    Route("/v4.0/orders", create_order, methods=["POST"]),
    Route("/v4.0/orders", list_orders, methods=["GET"]),
    Route("/v4.0/orders/{order_id}", get_order, methods=["GET"]),
    Route("/v4.0/orders/{order_id}/actions", order_actions, methods=["GET"]),
    Route("/v4.0/orders/{order_id}/actions/cancel", cancel_order, methods=["POST"]),
    Route("/v4.0/orders/{order_id}/actions/updateshippingmethod", update_shipping_method, methods=["POST"]),
    Route("/v4.0/orders/{order_id}/actions/updateshipping", update_shipping_method, methods=["POST"]),
    Route("/v4.0/orders/{order_id}/actions/updaterecipient", update_recipient, methods=["POST"]),
    Route("/v4.0/orders/{order_id}/actions/updatemetadata", update_metadata, methods=["POST"]),
    Route("/v4.0/quotes", create_quote, methods=["POST"]),
    Route("/v4.0/products/spine", spine, methods=["POST"]),
    Route("/v4.0/products/{sku}", get_product, methods=["GET"]),
]
