"""Printwork's own endpoints beside the Prodigi surface: thumbnails, sandbox controls, the lab API.

Answers and errors have the outcome shape v4 has (api/outcome.py: outcome, statusText,
traceParent), so a client that already parses Prodigi errors parses these too; orders are shown
as v4 shows them.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from printwork.api.http import (
    JSON, NotAuthenticated, authenticate, context, json_body, order_id_from_path, rendered_order)
from printwork.api.print_files import lab_print_file_response
from printwork.api.stored_files import stored_file_response
from printwork.api.outcome import envelope
from printwork.core.assets import samples
from printwork.core.assets.storage import thumbnail_key
from printwork.core.callbacks import service as callbacks
from printwork.core.errors import EntityNotFound, FailureCollector
from printwork.core.labs import service as labs
from printwork.core.labs.service import LAB_STAGES_BY_LOWER, LabShipment
from printwork.core.merchants.service import utcnow
from printwork.core.orders.domain import (
    Recipient,
    asset_public_id,
    item_public_id,
    order_public_id,
    shipment_public_id,
)
from printwork.core.orders.repository import thumbnail_owner
from printwork.core.process import controls
from printwork.core.orders.progress import LAB_IN_PRODUCTION, LAB_SHIPPED, LAB_SUBMITTED

ADVANCE_WAIT_SECONDS = 15.0


def _parse_prefixed(raw: str, prefix: str, field: str) -> int:
    if raw[: len(prefix)].lower() == prefix and raw[len(prefix):].isdigit() and len(raw) < 24:
        return int(raw[len(prefix):])
    failures = FailureCollector()
    failures.add(field, "InvalidId", raw)
    failures.raise_if_any()
    raise AssertionError


# --- thumbnails ----------------------------------------------------------------------------

async def thumbnail(request: Request) -> Response:
    token = request.path_params["token"]
    row = await context(request).in_session(lambda s: thumbnail_owner(s, token))
    if row is None:
        raise EntityNotFound("no such thumbnail")
    try:
        return await stored_file_response(context(request), thumbnail_key(row[0], row[1]), "image/jpeg",
                                          cache_control="public, max-age=86400")
    except FileNotFoundError:
        raise EntityNotFound("the thumbnail is no longer kept") from None


async def sample_picture(request: Request) -> Response:
    path = samples.sample_file(request.path_params["name"])
    if path is None:
        raise EntityNotFound(f"no sample picture {request.path_params['name']!r}; there are {', '.join(samples.names())}")
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "public, max-age=86400"})


# --- sandbox controls ----------------------------------------------------------------------

async def _order_response(request: Request, owner, order_id: int, status_code: int = 200) -> Response:
    face = context(request).controls_order_face
    body = await rendered_order(request, owner, order_id, face.render_order, face.rendition_format)
    response = envelope(request, "Ok", "order", body)
    response.status_code = status_code
    return response


async def _control(request: Request, order_id: int, change) -> None:
    ctx = context(request)

    def run() -> None:
        with ctx.database.transaction() as session:
            change(session)
        ctx.jobs.orders_due([order_id])  # a queue write too: after the commit, off the loop

    await ctx.blocking(run)


async def _advanced(request: Request, order_id: int, all_the_way: bool, since) -> bool:
    """Wait (without blocking the loop) until the pipeline has done what was asked."""
    deadline = time.monotonic() + ADVANCE_WAIT_SECONDS
    while time.monotonic() < deadline:
        now = await context(request).in_session(lambda s: controls.progress(s, order_id))
        if now is not None and controls.has_advanced(now, all_the_way=all_the_way, since=since):
            return True
        await asyncio.sleep(0.05)
    return False


async def sandbox_advance(request: Request) -> Response:
    owner = await authenticate(request)
    order_id = order_id_from_path(request.path_params["order_id"])
    raw = await json_body(request)
    failures = FailureCollector()
    if raw is not None and not isinstance(raw, dict):
        failures.add("body", "MustBeAnObject", None)
        failures.raise_if_any()
    to = (raw or {}).get("to", "nextStep")
    if not isinstance(to, str) or to.lower() not in ("nextstep", "shipped"):
        failures.add("to", "InvalidValue", to)
        failures.raise_if_any()
    all_the_way = to.lower() == "shipped"
    await _control(request, order_id, lambda s: controls.advance(s, owner, order_id, all_the_way=all_the_way))
    done = await _advanced(request, order_id, all_the_way, since=utcnow())
    return await _order_response(request, owner, order_id, 200 if done else 202)


async def sandbox_fail(request: Request) -> Response:
    owner = await authenticate(request)
    order_id = order_id_from_path(request.path_params["order_id"])
    raw = await json_body(request)
    step = raw.get("step") if isinstance(raw, dict) else None
    if not isinstance(step, str) or step not in controls.FAULTS:
        failures = FailureCollector()
        failures.add("step", "Required" if step is None else "InvalidValue", step)
        failures.raise_if_any()
    await _control(request, order_id, lambda s: controls.set_fault(s, owner, order_id, step))
    return await _order_response(request, owner, order_id)


async def sandbox_authorise_payment(request: Request) -> Response:
    owner = await authenticate(request)
    order_id = order_id_from_path(request.path_params["order_id"])
    await _control(request, order_id, lambda s: controls.authorise_payment(s, order_id, owner))
    return await _order_response(request, owner, order_id)


async def sandbox_release_hold(request: Request) -> Response:
    owner = await authenticate(request)
    order_id = order_id_from_path(request.path_params["order_id"])
    ctx = context(request)
    await _control(request, order_id, lambda s: controls.release_hold(
        s, order_id, ctx.catalog.get(s), ctx.settings.resolved_public_base_url, ctx.announcer, owner))
    return await _order_response(request, owner, order_id)


# --- the lab API ---------------------------------------------------------------------------

async def _lab(request: Request) -> str:
    key = request.headers.get("x-api-key", "").strip()
    if not key:
        raise NotAuthenticated()
    lab_code = await context(request).in_session(lambda s: labs.lab_for_key(s, key))
    if lab_code is None:
        raise NotAuthenticated()
    return lab_code


def _recipient_document(recipient: Recipient) -> dict[str, Any]:
    address = recipient.address
    return {"name": recipient.name, "email": recipient.email, "phoneNumber": recipient.phone_number,
            "address": {"line1": address.line1, "line2": address.line2, "postalOrZipCode": address.postal_or_zip_code,
                        "countryCode": address.country_code, "townOrCity": address.town_or_city,
                        "stateOrCounty": address.state_or_county}}


def _shipment_document(request: Request, shipment: LabShipment) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    return {
        "id": shipment_public_id(shipment.id),
        "orderId": order_public_id(shipment.order_id),
        "stage": shipment.stage,
        "shippingMethod": shipment.shipping_method,
        "carrier": {"name": shipment.carrier, "service": shipment.service},
        "submitted": None if shipment.submitted_at is None else shipment.submitted_at.isoformat() + "Z",
        "tracking": None if shipment.tracking_number is None else {
            "number": shipment.tracking_number, "url": shipment.tracking_url},
        "recipient": _recipient_document(shipment.recipient),
        "packingSlipUrl": shipment.packing_slip_url,
        "items": [
            {
                "id": item_public_id(item.id), "sku": item.sku, "copies": item.copies, "attributes": item.attributes,
                "assets": [
                    {"id": asset_public_id(asset.id), "printArea": asset.print_area,
                     "printFileUrl": f"{base}/lab/v1/print-files/{asset_public_id(asset.id)}" if asset.prepared else None}
                    for asset in item.assets
                ],
            }
            for item in shipment.items
        ],
    }


def _json(request: Request, payload: dict) -> Response:
    payload["traceParent"] = request.scope["state"]["trace_parent"]
    return Response(orjson.dumps(payload), media_type=JSON)


async def lab_shipments(request: Request) -> Response:
    lab_code = await _lab(request)
    wanted = request.query_params.get("stage")
    if wanted is None:
        stages = (LAB_SUBMITTED, LAB_IN_PRODUCTION)
    elif wanted.lower() in LAB_STAGES_BY_LOWER:
        stages = (LAB_STAGES_BY_LOWER[wanted.lower()],)
    else:
        failures = FailureCollector()
        failures.add("stage", "InvalidValue", wanted)
        failures.raise_if_any()
    found = await context(request).in_session(lambda s: labs.shipments_for_lab(s, lab_code, stages))
    return _json(request, {"outcome": "Ok", "shipments": [_shipment_document(request, s) for s in found]})


async def lab_shipment(request: Request) -> Response:
    lab_code = await _lab(request)
    shipment_id = _parse_prefixed(request.path_params["shipment_id"], "shp_", "shipmentId")
    found = await context(request).in_session(lambda s: labs.shipments_for_lab(
        s, lab_code, (LAB_SUBMITTED, LAB_IN_PRODUCTION, LAB_SHIPPED), shipment_id))
    if not found:
        raise EntityNotFound("no such shipment for this lab")
    return _json(request, {"outcome": "Ok", "shipment": _shipment_document(request, found[0])})


async def lab_print_file(request: Request) -> Response:
    lab_code = await _lab(request)
    asset_id = _parse_prefixed(request.path_params["asset_id"], "ast_", "assetId")
    return await lab_print_file_response(context(request), lab_code, asset_id)


async def lab_in_production(request: Request) -> Response:
    lab_code = await _lab(request)
    shipment_id = _parse_prefixed(request.path_params["shipment_id"], "shp_", "shipmentId")
    announcer = context(request).announcer
    await context(request).in_session(
        lambda s: labs.report_in_production(s, lab_code, shipment_id, announcer), write=True)
    return _json(request, {"outcome": "Ok"})


async def lab_shipped(request: Request) -> Response:
    lab_code = await _lab(request)
    shipment_id = _parse_prefixed(request.path_params["shipment_id"], "shp_", "shipmentId")
    raw = await json_body(request)
    if not isinstance(raw, dict):
        failures = FailureCollector()
        failures.add("body", "Required" if raw is None else "MustBeAnObject", None)
        failures.raise_if_any()

    def field(name: str):
        return next((v for k, v in raw.items() if k.lower() == name.lower()), None)

    report = labs.checked_shipment_report(field("trackingNumber"), field("trackingUrl"), field("carrier"),
                                          field("service"))
    announcer = context(request).announcer
    await context(request).in_session(lambda s: labs.report_shipped(
        s, lab_code, shipment_id, tracking_number=report.tracking_number, tracking_link=report.tracking_url,
        carrier=report.carrier, service=report.service, announcer=announcer), write=True)
    return _json(request, {"outcome": "Ok"})


# --- callbacks ----------------------------------------------------------------------------

def _time(value) -> str | None:
    return None if value is None else value.isoformat(timespec="microseconds") + "Z"


async def order_callbacks(request: Request) -> Response:
    owner = await authenticate(request)
    order_id = order_id_from_path(request.path_params["order_id"])
    events = await context(request).in_session(lambda s: callbacks.deliveries(s, owner, order_id))
    return _json(request, {"outcome": "Ok", "callbacks": [
        {"id": e.public_id, "type": e.event_type, "time": _time(e.occurred_at), "url": e.url, "status": e.status,
         "attempts": e.attempts, "nextAttempt": _time(e.next_attempt_at), "delivered": _time(e.delivered_at),
         "history": [{"time": _time(a.attempted_at), "url": a.url, "statusCode": a.status_code,
                      "durationMs": a.duration_ms, "error": a.error} for a in e.history]}
        for e in events
    ]})


async def redeliver_callback(request: Request) -> Response:
    owner = await authenticate(request)
    ctx = context(request)
    public_id = request.path_params["event_id"]

    def run() -> None:
        with ctx.database.transaction() as session:
            event_id, _ = callbacks.redeliver_event(session, owner, public_id)
        ctx.jobs.events_due([event_id])  # after the commit, off the loop

    await ctx.blocking(run)
    return _json(request, {"outcome": "Ok", "id": request.path_params["event_id"], "status": "Pending"})


async def callback_settings(request: Request) -> Response:
    owner = await authenticate(request)
    change, url = False, None
    if request.method == "PUT":
        raw = await json_body(request)
        failures = FailureCollector()
        if not isinstance(raw, dict):
            failures.add("body", "MustBeAnObject", None)
            failures.raise_if_any()
        url = next((v for k, v in raw.items() if k.lower() == "defaultcallbackurl"), None)
        if url is not None and (not isinstance(url, str) or not url.lower().startswith(("http://", "https://"))):
            failures.add("defaultCallbackUrl", "MustBeAnHttpUrl", url)
        elif url is not None:
            failures.storable("defaultCallbackUrl", url)
        failures.raise_if_any()
        change = True
    current = await context(request).in_session(
        lambda s: callbacks.callback_settings(s, owner, url, change_url=change), write=True)
    return _json(request, {"outcome": "Ok", "defaultCallbackUrl": current.default_callback_url,
                               "signingSecret": current.signing_secret})


routes = [
    Route("/thumbnails/{token}.jpg", thumbnail, methods=["GET"]),
    Route("/sandbox/v1/samples/{name}", sample_picture, methods=["GET"]),
    Route("/sandbox/v1/orders/{order_id}/advance", sandbox_advance, methods=["POST"]),
    Route("/sandbox/v1/orders/{order_id}/fail", sandbox_fail, methods=["POST"]),
    Route("/sandbox/v1/orders/{order_id}/authorisePayment", sandbox_authorise_payment, methods=["POST"]),
    Route("/sandbox/v1/orders/{order_id}/releaseHold", sandbox_release_hold, methods=["POST"]),
    Route("/platform/v1/orders/{order_id}/callbacks", order_callbacks, methods=["GET"]),
    Route("/platform/v1/callbacks/settings", callback_settings, methods=["GET", "PUT"]),
    Route("/platform/v1/callbacks/{event_id}/redeliver", redeliver_callback, methods=["POST"]),
    Route("/lab/v1/shipments", lab_shipments, methods=["GET"]),
    Route("/lab/v1/shipments/{shipment_id}", lab_shipment, methods=["GET"]),
    Route("/lab/v1/shipments/{shipment_id}/inProduction", lab_in_production, methods=["POST"]),
    Route("/lab/v1/shipments/{shipment_id}/shipped", lab_shipped, methods=["POST"]),
    Route("/lab/v1/print-files/{asset_id}", lab_print_file, methods=["GET"]),
]

PREFIXES = ("/thumbnails/", "/sandbox/", "/lab/", "/platform/")
