"""The Pwinty v3.0 endpoints (INVENTORY §1.2): thin handlers over the core's drafts and orders.

Answers are `{"data": …, "statusTxt": "OK", "statusCode": 200}` (XML when `Accept` asks for it);
errors `{"data": null, "statusTxt": <reason>, "statusCode": <code>, "errorMessage": <reason>}` (XML too),
but a request without the two Pwinty headers gets the bare 401 the real service sends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import orjson
import pycountry
from sqlalchemy.orm import Session
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from printwork import logs
from printwork.api.http import (
    BodyTooLarge, InvalidContentType, NotAuthenticated, context, note_order_placed, owner_of_key, parsed, read_capped,
    rendered_order, rendered_page)
from printwork.api.rate_limits import RateLimited
from printwork.api.pwinty_v3 import translate
from printwork.core.errors import Conflict, EntityNotFound, FailureCollector, Forbidden, ValidationFailed
from printwork.core.merchants.service import Owner, billing_currency
from printwork.core.orders import actions, drafts
from printwork.core.orders.domain import STAGE_DRAFT, OrderListQuery, Outcome
from printwork.core.orders.repository import count_orders, order_stage_and_payment
from printwork.core.quotes import service as quotes
from printwork.db import Writes

PREFIX = "/v3.0/"
MAX_LIMIT = 250
T = TypeVar("T")

UNAUTHORISED = b'{"message":"Authorization has been denied for this request."}'


class Refused(Exception):
    """A request the v3 documents refuse with a status and a sentence of their own."""

    def __init__(self, status: int, message: str, data: Any = None) -> None:
        self.status, self.message, self.data = status, message, data
        super().__init__(message)


# --- the envelope ----------------------------------------------------------------------------

def _wants_xml(headers: Headers) -> bool:
    accept = headers.get("accept", "").lower()
    return "xml" in accept and "json" not in accept


def answer(request: Request, data: bytes | Any, status: int = 200, status_text: str = "OK",
           beside: str | None = None) -> Response:
    """`data` already rendered as JSON bytes, or a value to render. `beside` names a key of `data`
    that is repeated at the top level, where clients written from the document look for it."""
    rendered = data if isinstance(data, bytes) else orjson.dumps(data)
    if _wants_xml(request.headers):
        body = translate.to_xml({"data": orjson.loads(rendered), "statusTxt": status_text, "statusCode": status},
                                "response")
        return Response('<?xml version="1.0" encoding="utf-8"?>' + body, status_code=status,
                        media_type="application/xml")
    extra = b""
    if beside is not None:
        extra = b',"%s":%s' % (beside.encode(), orjson.dumps(data[beside]))
    content = b'{"data":%s,"statusTxt":%s,"statusCode":%d%s}' % (rendered, orjson.dumps(status_text), status, extra)
    return Response(content, status_code=status, media_type="application/json")


def error(headers: Headers | None, status: int, message: str, data: Any = None) -> Response:
    if headers is not None and _wants_xml(headers):
        body = translate.to_xml({"data": data, "statusTxt": message, "statusCode": status, "errorMessage": message},
                                "response")
        return Response('<?xml version="1.0" encoding="utf-8"?>' + body, status_code=status,
                        media_type="application/xml")
    return Response(orjson.dumps({"data": data, "statusTxt": message, "statusCode": status, "errorMessage": message}),
                    status_code=status, media_type="application/json")


def _failure_text(failures: dict) -> str:
    parts = []
    for path, entries in failures.items():
        wire = translate.wire_path(path)
        for failure in entries:
            value = "" if failure.provided_value is None else f" (got {failure.provided_value!r})"
            parts.append(f"{wire}: {failure.code}{value}")
    return "Invalid request: " + "; ".join(parts)


def render_error(exc: Exception, _trace: str, headers: Headers) -> Response | None:
    if isinstance(exc, NotAuthenticated):
        return Response(UNAUTHORISED, status_code=401, media_type="application/json")
    if isinstance(exc, Refused):
        return error(headers, exc.status, exc.message, exc.data)
    if isinstance(exc, ValidationFailed):
        return error(headers, 400, _failure_text(exc.failures))
    if isinstance(exc, EntityNotFound):
        return error(headers, 404, "The order with the specified id was not found.")
    if isinstance(exc, drafts.NotADraft):
        return error(headers, 403, "Only orders in state NotYetSubmitted can be updated.")
    if isinstance(exc, (Conflict, Forbidden)):
        return error(headers, 403, str(exc))
    if isinstance(exc, RateLimited):
        response = error(headers, 429, f"Too many requests with this API key; retry after {exc.retry_after} seconds.")
        response.headers["retry-after"] = str(exc.retry_after)
        return response
    if isinstance(exc, InvalidContentType):
        return error(headers, 415, "The Content-Type must be application/json or application/x-www-form-urlencoded.")
    if isinstance(exc, BodyTooLarge):
        return error(headers, 413, "The request body is larger than this server accepts.")
    if isinstance(exc, HTTPException) and exc.status_code in (404, 405):
        return error(headers, exc.status_code, "No such endpoint." if exc.status_code == 404 else "Method not allowed.")
    return None


def internal_error(_trace: str, headers: Headers) -> Response:
    return error(headers, 500, "An unexpected error occurred while processing your request.")


def claim(path: str) -> str | None:
    if path[:6].lower() != PREFIX:
        return None
    return path.lower().rstrip("/")  # `orders/{id}/`, as clients PUT an order back


# --- requests --------------------------------------------------------------------------------

async def authenticate(request: Request) -> Owner:
    """`X-Pwinty-MerchantId` (also `X-Pwinty-Merchant-Id`, as the migration guide spells it) names
    the merchant, `X-Pwinty-REST-API-Key` is one of its API keys."""
    merchant = request.headers.get("x-pwinty-merchantid") or request.headers.get("x-pwinty-merchant-id")
    key = request.headers.get("x-pwinty-rest-api-key")
    if not merchant or not key:
        raise NotAuthenticated()
    owner = await owner_of_key(request, key)
    if merchant.strip() != str(owner.merchant_id):
        raise NotAuthenticated()
    return owner


async def body(request: Request, *, form: bool = True) -> Any:
    """The JSON or form-encoded body; None when empty."""
    raw = await read_capped(request, context(request).settings.max_request_bytes)
    if not raw.strip():
        return None
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if form and media_type == "application/x-www-form-urlencoded":
        try:
            return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise Refused(400, "The form body is not UTF-8.") from None
    if media_type not in ("", "application/json", "text/json", "application/x-www-form-urlencoded") \
            and not media_type.endswith("+json"):
        raise InvalidContentType()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Refused(400, "The request body is not valid JSON.") from None


def order_number(request: Request) -> int:
    raw = request.path_params["order_id"]
    if not raw.isdigit() or len(raw) > 18:
        raise EntityNotFound(f"no order {raw!r}")
    logs.order_id.set(int(raw))
    return int(raw)


async def _rendered(request: Request, owner: Owner, order_id: int) -> bytes:
    return await rendered_order(request, owner, order_id, translate.render_order, translate.RENDITION_FORMAT)


async def _write(request: Request, work: Callable[[Session], T], *, due: Callable[[T], list[int]] | None = None) -> T:
    """`work` in the group committer's next transaction (its own savepoint); the orders it made due
    go to the workers once that has committed."""

    def unit(writes: Writes) -> T:
        result = work(writes.session)
        if due is not None:
            writes.due_orders.extend(due(result))
        return result

    return await context(request).committer.run(unit)


# --- orders ----------------------------------------------------------------------------------

async def get_order(request: Request) -> Response:
    owner = await authenticate(request)
    return answer(request, await _rendered(request, owner, order_number(request)))


def _bounded(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.strip().isdigit() or not low <= int(raw) <= high:
        raise Refused(400, f"{name} must be a whole number from {low} to {high}, not {raw!r}.")
    return int(raw)


async def list_orders(request: Request) -> Response:
    """Newest first; `limit` (default 100, at most 250) from `start`. v2.5's count/offset are ignored."""
    owner = await authenticate(request)
    limit = _bounded(request, "limit", 100, 1, MAX_LIMIT)
    start = _bounded(request, "start", 0, 0, 2**31 - 1)
    bodies, _ = await rendered_page(request, owner, OrderListQuery(top=limit, skip=start), translate.render_order,
                                    translate.RENDITION_FORMAT)
    total = await context(request).in_session(lambda s: count_orders(s, owner))
    data = b'{"content":[%s],"count":%d,"summary":[{"label":"Orders","value":"%d"}]}' % (b",".join(bodies), total, total)
    return answer(request, data)


async def create_order(request: Request) -> Response:
    owner = await authenticate(request)
    details, failures = parsed(await body(request), translate.parse_order)
    trace = logs.trace_parent.get()  # read here: the committer may write on another thread
    order_id, rendered = await context(request).committer.run(lambda writes: drafts.create_draft(
        writes, owner, details, face=translate.FACE, render=translate.render_order,
        rendition_format=translate.RENDITION_FORMAT, failures=failures, trace_parent=trace))
    note_order_placed(translate.FACE, owner, order_id, "draft")
    return answer(request, rendered)


async def update_order(request: Request) -> Response:
    """PUT replaces the order; clients PUT it back as they read it, so read-only fields are ignored."""
    owner = await authenticate(request)
    order_id = order_number(request)
    details, failures = parsed(await body(request), translate.parse_order)
    ctx = context(request)
    await _write(request, lambda s: drafts.update_draft(s, owner, order_id, details, ctx.catalog.get(s), failures))
    return answer(request, await _rendered(request, owner, order_id))


async def submission_status(request: Request) -> Response:
    owner = await authenticate(request)
    order_id = order_number(request)
    ctx = context(request)
    check = await ctx.in_session(lambda s: drafts.check_draft(s, owner, order_id, ctx.catalog.get(s)))
    return answer(request, translate.submission_status(check))


async def change_status(request: Request) -> Response:
    owner = await authenticate(request)
    order_id = order_number(request)
    wanted, failures = parsed(await body(request), translate.parse_status)
    failures.raise_if_any()
    ctx = context(request)
    public_base_url = ctx.settings.resolved_public_base_url
    if wanted == "Cancelled":
        result = await _write(request, lambda s: actions.cancel(s, owner, order_id, ctx.announcer))
        if result.outcome != Outcome.CANCELLED:
            raise Refused(400, "Cannot cancel order")
        return answer(request, {})

    def current(session: Session) -> tuple[str, str]:
        found = order_stage_and_payment(session, owner, order_id)
        if found is None:
            raise EntityNotFound(f"order {order_id} not found")
        return found

    stage, payment = await ctx.in_session(current)
    if wanted == "AwaitingPayment" or stage != STAGE_DRAFT:
        # A draft moves to AwaitingPayment only when submitted by a merchant who pays per order;
        # the recipient-pays flow (InvoiceRecipient's payment page) is not offered yet.
        raise Refused(400, f"Transition to state {wanted} from status {translate.STATUSES.get(stage, stage)} with "
                           f"payment option {translate.PAYMENTS.get(payment, 'InvoiceMe')} is not valid")

    def submit(session: Session) -> drafts.Submitted:
        try:
            return drafts.submit_draft(session, owner, order_id, ctx.catalog.get(session), public_base_url,
                                       ctx.announcer)
        except drafts.DraftNotValid as exc:
            status = translate.submission_status(exc.check)
            problems = status["generalErrors"] + [e for p in status["photos"] for e in p["errors"]]
            raise Refused(400, f"The order is not valid and cannot be submitted: {', '.join(problems)}") from None

    submitted = await _write(request, submit, due=lambda _: [order_id])
    if submitted.stage == "AwaitingPayment":
        order = orjson.loads(await _rendered(request, owner, order_id))
        return answer(request, {"url": order["paymentUrl"], "paymentRequest": order["price"]}, 402,
                      "Payment Authorization Required")
    return answer(request, {})


async def _add_images(request: Request, raw_images: list, path_of: Callable[[int], str]) -> list[dict]:
    """Add the images to the draft; the new images as the order now shows them."""
    owner = await authenticate(request)
    order_id = order_number(request)
    ctx = context(request)
    currency = await ctx.read(billing_currency, ctx.database, owner.merchant_id)
    failures = FailureCollector()
    items = [translate.parse_image(raw, path_of(i), failures, currency) for i, raw in enumerate(raw_images)]
    ids = await _write(request, lambda s: drafts.add_items(s, owner, order_id, items, ctx.catalog.get(s), failures),
                       due=lambda _: [order_id])
    by_id = {image["id"]: image for image in orjson.loads(await _rendered(request, owner, order_id))["images"]}
    return [by_id[i] for i in ids]


async def add_image(request: Request) -> Response:
    raw = await body(request)
    if not isinstance(raw, dict):
        raise Refused(400, "The body must be an image object.")
    [image] = await _add_images(request, [raw], lambda _: "")
    return answer(request, image)


async def add_images(request: Request) -> Response:
    raw = await body(request, form=False)
    if not isinstance(raw, list) or not raw:
        raise Refused(400, "The body must be a non-empty array of image objects.")
    # The real answer is {"data": {"items": […]}, …}; the published npm client reads `items` at the top.
    return answer(request, {"items": await _add_images(request, raw, lambda i: f"items[{i}]")}, beside="items")


# --- reference data --------------------------------------------------------------------------

COUNTRIES = sorted(({"name": c.name.upper(), "isoCode": c.alpha_2} for c in pycountry.countries),
                   key=lambda c: c["name"])


async def countries(request: Request) -> Response:
    await authenticate(request)
    return answer(request, COUNTRIES)


async def prices(request: Request) -> Response:
    """What each SKU costs to make for `countryCode`, in minor units of the merchant's currency, no shipping."""
    owner = await authenticate(request)
    country = request.path_params["country_code"].upper()
    raw = await body(request, form=False)
    skus = raw.get("skus") if isinstance(raw, dict) else raw
    if not isinstance(skus, list) or not skus or not all(isinstance(s, str) for s in skus):
        raise Refused(400, "The body must be an array of SKUs (or {\"skus\": [...]}).")
    ctx = context(request)
    catalog = await ctx.read(ctx.catalog.current, ctx.database)
    currency = await ctx.read(billing_currency, ctx.database, owner.merchant_id)
    result = [{"sku": sku, "price": translate.minor(price, currency), "currency": currency}
              for sku, price in quotes.unit_prices(catalog, skus, country, currency, FailureCollector())]
    return answer(request, {"prices": result}, beside="prices")  # top-level `prices`: as for images/batch


routes = [
    Route("/v3.0/orders", list_orders, methods=["GET"]),
    Route("/v3.0/orders", create_order, methods=["POST"]),
    Route("/v3.0/orders/{order_id}", get_order, methods=["GET"]),
    Route("/v3.0/orders/{order_id}", update_order, methods=["PUT"]),
    Route("/v3.0/orders/{order_id}/submissionstatus", submission_status, methods=["GET"]),
    Route("/v3.0/orders/{order_id}/status", change_status, methods=["POST"]),
    Route("/v3.0/orders/{order_id}/images", add_image, methods=["POST"]),
    Route("/v3.0/orders/{order_id}/images/batch", add_images, methods=["POST"]),
    Route("/v3.0/countries", countries, methods=["GET"]),
    Route("/v3.0/catalogue/prodigi direct/destination/{country_code}/prices", prices, methods=["POST"]),
]
