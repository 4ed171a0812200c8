"""The dashboard: merchants' and operators' pages, server-rendered, calling only core services.

Every handler finds the signed-in user first (security.py); a merchant user's pages read only
through an Owner (their merchant, the environment chosen in the header), so another merchant's
ids are EntityNotFound exactly as through the API. Every change is a POST carrying the session's
CSRF token (a form field, or the header htmx sends).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import orjson
import yaml
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from printwork.api import faces
from printwork.api.dashboard import charts
from printwork.api.dashboard import security as guard
from printwork.api.http import context
from printwork.api.stored_files import stored_file_response
from printwork.core.assets import imaging
from printwork.core.assets.storage import (
    AssetStorage,
    original_key,
    preview_key,
    print_file_key,
    thumbnail_key,
)
from printwork.core.callbacks import service as callbacks
from printwork.core.callbacks.testing import callback_target, send_test_callbacks
from printwork.core.catalog.document import CatalogDocumentError, parse_catalog_document
from printwork.core.catalog.domain import SHIPPING_METHODS
from printwork.core.catalog.service import import_catalog
from printwork.core.errors import Conflict, CoreError, EntityNotFound, Failure, FailureCollector, ValidationFailed
from printwork.core.labs import service as labs
from printwork.core.merchants import credentials
from printwork.core.merchants import service as merchants
from printwork.core.merchants.service import ENVIRONMENTS, Owner, utcnow
from printwork.api.print_files import lab_print_file_response
from printwork.core.orders import actions, overview
from printwork.core.orders.repository import owned_order_id
from printwork.core.orders.domain import (
    STAGE_AWAITING_PAYMENT,
    STAGE_CANCELLED,
    STAGE_COMPLETE,
    STAGE_DRAFT,
    STAGE_IN_PROGRESS,
    STAGE_ON_HOLD,
    Address,
    Recipient,
    order_public_id,
    parse_order_id,
)
from printwork.core.process import controls, health
from printwork.core.orders.progress import LAB_ALLOCATED, LAB_IN_PRODUCTION, LAB_SUBMITTED
from printwork.core.users import service as users

STATIC_DIR = Path(__file__).parent / "static"
STATIC_FILES = {path.name: path for path in STATIC_DIR.iterdir() if path.suffix in (".js", ".css", ".svg")}
STAGES = (STAGE_DRAFT, STAGE_ON_HOLD, STAGE_AWAITING_PAYMENT, STAGE_IN_PROGRESS, STAGE_COMPLETE, STAGE_CANCELLED)
FINAL_STAGES = (STAGE_COMPLETE, STAGE_CANCELLED)
LIVE_REFRESH = "every 2s"

templates = Environment(loader=PackageLoader("printwork.api.dashboard", "templates"),
                        autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
templates.filters["order_id"] = order_public_id
templates.filters["when"] = lambda value: "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")
templates.filters["pretty_json"] = lambda text: json.dumps(json.loads(text), indent=2) if text else ""
templates.globals["face_names"] = {"prodigi_v4": "Prodigi v4", "pwinty_v3": "Pwinty v3.0"}


def page(request: Request, template: str, status_code: int = 200, **values) -> HTMLResponse:
    user = request.scope.get("printwork.signed_in")
    body = templates.get_template(template).render(request=request, user=user, **values)
    return HTMLResponse(body, status_code=status_code, headers=guard.SECURITY_HEADERS)


def redirect(to: str) -> Response:
    return RedirectResponse(to, status_code=303, headers=guard.SECURITY_HEADERS)


def _order_id(request: Request) -> int:
    order_id = parse_order_id(request.path_params["order_id"])
    if order_id is None:
        raise EntityNotFound("no such order")
    return order_id


# --- signing in ----------------------------------------------------------------------------

def _throttle(request: Request) -> guard.SignInThrottle:
    """One per app (each process of `serve --processes N` counts its own)."""
    state = request.app.state
    if not hasattr(state, "sign_in_throttle"):
        state.sign_in_throttle = guard.SignInThrottle()
    return state.sign_in_throttle


async def root(request: Request) -> Response:
    return redirect("/dashboard/")


async def home(request: Request) -> Response:
    user = await guard.current_user(request)
    return redirect("/dashboard/operator" if user.is_operator else "/dashboard/orders")


def _sign_in_page(request: Request, error: str | None = None, status_code: int = 200, email: str = "") -> Response:
    token = guard.new_sign_in_csrf()
    response = page(request, "sign_in.html", status_code, csrf=token, error=error, email=email,
                    next=_safe_next(request.query_params.get("next")))
    guard.set_cookie(response, request, guard.SIGN_IN_CSRF_COOKIE, token, max_age=3600)
    return response


def _safe_next(target: str | None) -> str:
    """Only a path of the dashboard's own, never another site."""
    if target and (target.startswith("/dashboard/") or target.startswith("/payments/")) and "//" not in target:
        return target
    return "/dashboard/"


async def sign_in_form(request: Request) -> Response:
    return _sign_in_page(request)


async def sign_in(request: Request) -> Response:
    fields = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    guard.check_sign_in_csrf(request, fields.get(guard.CSRF_FIELD))
    email, password = fields.get("email", ""), fields.get("password", "")
    address = request.client.host if request.client else "?"
    if not _throttle(request).allow(address):
        return _sign_in_page(request, "Too many sign-in attempts: wait a minute and try again.", 429, email)
    new = await context(request).in_session(lambda s: users.sign_in(s, email, password), write=True)
    if isinstance(new, users.SignInRefused):
        return _sign_in_page(request, str(new).capitalize() + ".", 429 if new.reason == "locked" else 400, email)
    response = redirect(_safe_next(fields.get("next")))
    guard.set_cookie(response, request, guard.SESSION_COOKIE, new.token,
                     max_age=int(users.SESSION_LIFETIME.total_seconds()))
    response.delete_cookie(guard.SIGN_IN_CSRF_COOKIE, path="/")
    return response


async def sign_out(request: Request) -> Response:
    user = await guard.current_user(request)
    await guard.form(request, user)
    await context(request).in_session(lambda s: users.sign_out(s, user.session_id), write=True)
    response = redirect("/dashboard/sign-in")
    response.delete_cookie(guard.SESSION_COOKIE, path="/")
    return response


async def switch_environment(request: Request) -> Response:
    user = await guard.current_user(request)
    fields = await guard.form(request, user)
    environment = fields.get("environment", "")
    await context(request).in_session(lambda s: users.switch_environment(s, user.session_id, environment), write=True)
    return redirect(_safe_next(fields.get("next")))


async def static(request: Request) -> Response:
    path = STATIC_FILES.get(request.path_params["name"])
    if path is None:
        raise EntityNotFound("no such file")
    media_type = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}[path.suffix]
    return FileResponse(path, media_type=media_type, headers={"cache-control": "public, max-age=3600",
                                                              "x-content-type-options": "nosniff"})


# --- orders --------------------------------------------------------------------------------

def _date(text: str | None, field: str, failures: FailureCollector) -> datetime | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
        # Stored times are naive UTC; an offset given by hand is honoured, not compared as if local.
        return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed
    except (ValueError, OverflowError):
        failures.add(field, "MustBeADate", text)
        return None


def _search(request: Request) -> tuple[overview.OrderSearch, dict[str, str], list[str]]:
    params = {key: value.strip() for key, value in request.query_params.items() if value.strip()}
    failures = FailureCollector()
    created_to = _date(params.get("to"), "to", failures)
    order_id = None
    if params.get("order"):
        order_id = parse_order_id(params["order"]) or (int(params["order"]) if params["order"].isdigit() else None)
        if order_id is None:
            failures.add("order", "MustBeAnOrderId", params["order"])
    page_number = int(params["page"]) if params.get("page", "").isdigit() else 1
    search = overview.OrderSearch(
        stage=params.get("status") if params.get("status") in STAGES else None,
        created_from=_date(params.get("from"), "from", failures),
        created_to=created_to + timedelta(days=1) if created_to and len(params["to"]) == 10 else created_to,
        merchant_reference=params.get("reference"), order_id=order_id,
        face=params.get("face") if params.get("face") in faces.ORDER_FACES else None, page=max(1, page_number))
    problems = [f"{field}: {failure.code}" for field, entries in failures.failures.items() for failure in entries]
    return search, params, problems


async def orders_page(request: Request) -> Response:
    user, owner = await guard.merchant_owner(request)
    search, params, problems = _search(request)
    found = await context(request).in_session(lambda s: overview.search_orders(s, owner, search))
    values = dict(found=found, params=params, problems=problems, stages=STAGES,
                  page_link=lambda number: "/dashboard/orders?" + urlencode({**params, "page": number}))
    if request.headers.get("hx-request") and request.headers.get("hx-target") == "orders-table":
        return page(request, "_orders_table.html", **values)
    return page(request, "orders.html", **values)


async def _detail(request: Request, owner: Owner, order_id: int) -> overview.OrderDetail:
    ctx = context(request)
    return await ctx.in_session(lambda s: overview.order_detail(s, owner, order_id, ctx.catalog.get(s)))


def _order_values(detail: overview.OrderDetail, availability: actions.Availability | None) -> dict:
    return dict(detail=detail, order=detail.view, final=detail.view.stage in FINAL_STAGES,
                refresh=None if detail.view.stage in FINAL_STAGES else LIVE_REFRESH,
                availability=availability, methods=SHIPPING_METHODS)


async def order_page(request: Request) -> Response:
    user, owner = await guard.merchant_owner(request)
    order_id = _order_id(request)
    detail = await _detail(request, owner, order_id)
    availability = await context(request).in_session(lambda s: actions.availability(s, owner, order_id))
    return page(request, "order.html", **_order_values(detail, availability),
                message=request.query_params.get("message"))


async def order_live(request: Request) -> Response:
    """The parts of the order page that move (status, timeline, shipments), for htmx to poll."""
    user, owner = await guard.merchant_owner(request)
    detail = await _detail(request, owner, _order_id(request))
    return page(request, "_order_live.html", **_order_values(detail, None))


def _result_message(result: actions.ActionResult) -> str:
    failed = [r for r in result.shipments if not r.successful]
    text = f"Outcome: {result.outcome.value.replace('_', ' ').capitalize()}."
    if failed:
        text += " " + " ".join(f"shp_{r.shipment_id}: {r.description or r.error_code}" for r in failed)
    return text


async def order_action(request: Request) -> Response:
    user, owner = await guard.merchant_owner(request)
    fields = await guard.form(request, user)
    order_id = _order_id(request)
    action = request.path_params["action"]
    ctx = context(request)

    def run(session) -> actions.ActionResult:
        if action == "cancel":
            return actions.cancel(session, owner, order_id, ctx.announcer)
        if action == "shipping-method":
            method = fields.get("method", "")
            if method not in SHIPPING_METHODS:
                raise ValidationFailed({"method": [Failure("MustBeOneOf", method)]})
            return actions.update_shipping_method(session, owner, order_id, method, ctx.catalog.get(session),
                                                  ctx.announcer)
        if action == "recipient":
            return actions.update_recipient(session, owner, order_id, _recipient(fields), ctx.catalog.get(session),
                                            ctx.announcer)
        if action == "metadata":
            return actions.update_metadata(session, owner, order_id, _metadata(fields.get("metadata", "")))
        raise EntityNotFound("no such action")

    def transaction() -> actions.ActionResult:
        with ctx.database.transaction() as session:
            result = run(session)
        ctx.jobs.orders_due([order_id])
        return result

    try:
        result = await ctx.blocking(transaction)
        message = _result_message(result)
    except ValidationFailed as invalid:
        message = "Not changed: " + "; ".join(f"{path} {f.code}" for path, entries in invalid.failures.items()
                                              for f in entries)
    return redirect(f"/dashboard/orders/{order_public_id(order_id)}?" + urlencode({"message": message}))


def _recipient(fields: dict[str, str]) -> Recipient:
    failures = FailureCollector()
    for name in ("name", "line1", "postal_code", "country_code", "town"):
        if not fields.get(name, "").strip():
            failures.add(f"recipient.{name}", "Required", None)
    failures.raise_if_any()
    value = lambda name: fields.get(name, "").strip() or None  # noqa: E731
    return Recipient(value("name"), value("email"), value("phone"), Address(
        value("line1"), value("line2"), value("postal_code"), value("country_code").upper(), value("town"),
        value("state")))


def _metadata(text: str) -> str:
    try:
        parsed = orjson.loads(text or "{}")
    except orjson.JSONDecodeError:
        raise ValidationFailed({"metadata": [Failure("MustBeJson", text[:100])]}) from None
    if not isinstance(parsed, dict):
        raise ValidationFailed({"metadata": [Failure("MustBeAnObject", text[:100])]})
    return orjson.dumps(parsed).decode()


IMAGE_KINDS = ("original", "print", "thumbnail")


async def order_image(request: Request) -> Response:
    """An item's image as the order page shows it: the original or the print file scaled down
    for the browser (kept beside them), or the thumbnail."""
    user, owner = await guard.merchant_owner(request)
    order_id = _order_id(request)
    kind = request.path_params["kind"]
    asset_id = request.path_params["asset_id"]
    if kind not in IMAGE_KINDS or not asset_id.isdigit():
        raise EntityNotFound("no such image")
    ctx = context(request)
    panels = await ctx.in_session(lambda s: overview.order_detail(s, owner, order_id, ctx.catalog.get(s)).panels)
    if not any(p.id == int(asset_id) for entries in panels.values() for p in entries):
        raise EntityNotFound("no such image")
    storage = ctx.storage
    source_key = {"original": original_key, "print": print_file_key, "thumbnail": thumbnail_key}[kind](
        order_id, int(asset_id))
    if kind == "thumbnail":
        key = source_key
    else:
        key = preview_key(order_id, int(asset_id), kind)
        if not storage.exists(key):
            await ctx.blocking(_make_preview, storage, source_key, key)
    try:
        return await stored_file_response(ctx, key, "image/jpeg", cache_control="private, max-age=300")
    except FileNotFoundError:
        raise EntityNotFound("the image is no longer kept") from None


PREVIEW_SIDE = 800


def _make_preview(storage: AssetStorage, source_key: str, key: str) -> None:
    try:
        with storage.local_path(source_key) as source:
            scratch = storage.scratch() / f"preview-{key.replace('/', '-')}-{id(source)}.jpg"
            imaging.thumbnail(source, scratch, PREVIEW_SIDE)
            storage.put(key, scratch)
    except FileNotFoundError:
        raise EntityNotFound("the image is no longer kept") from None


async def redeliver(request: Request) -> Response:
    user, owner = await guard.merchant_owner(request)
    fields = await guard.form(request, user)
    ctx = context(request)
    public_id = request.path_params["event_id"]

    def run() -> int:
        with ctx.database.transaction() as session:
            event_id, order_id = callbacks.redeliver_event(session, owner, public_id)
        ctx.jobs.events_due([event_id])
        return order_id

    order_id = await ctx.blocking(run)
    return redirect(_safe_next(fields.get("next")) if fields.get("next") else
                    f"/dashboard/orders/{order_public_id(order_id)}?" + urlencode({"message": f"{public_id} scheduled."}))


async def redeliver_failed(request: Request) -> Response:
    user, owner = await guard.merchant_owner(request)
    fields = await guard.form(request, user)
    failures = FailureCollector()
    since = _date(fields.get("since"), "since", failures) or (utcnow() - timedelta(days=7))
    ctx = context(request)

    def run() -> int:
        with ctx.database.transaction() as session:
            ids = callbacks.redeliver_failed(session, owner, since)
        ctx.jobs.events_due(ids)
        return len(ids)

    count = await ctx.blocking(run)
    return redirect("/dashboard/settings?" + urlencode({"message": f"{count} failed callbacks scheduled again."}))


# --- keys and settings ---------------------------------------------------------------------

async def keys_page(request: Request) -> Response:
    user, owner = await guard.merchant_owner(request)
    return await _keys(request, user, owner)


async def _keys(request: Request, user, owner: Owner, issued: merchants.IssuedKey | None = None,
                error: str | None = None, made: credentials.PrintApiCredentials | None = None) -> Response:
    ctx = context(request)

    def read(session):
        return (merchants.merchant_keys(session, owner.merchant_id, owner.environment),
                credentials.existing_credentials(session, owner.merchant_id, owner.environment))

    keys, legacy = await ctx.in_session(read)
    return page(request, "keys.html", 400 if error else 200, keys=keys, issued=issued, error=error,
                legacy=made or legacy, owner=owner)


async def legacy_credentials(request: Request) -> Response:
    """Make the legacy Print API credentials, or rotate their secret: the secret is shown this once."""
    user, owner = await guard.merchant_owner(request)
    await guard.form(request, user)

    def run(session) -> credentials.PrintApiCredentials:
        exists = credentials.existing_credentials(session, owner.merchant_id, owner.environment) is not None
        return credentials.merchant_credentials(session, user.merchant_name, owner.environment,
                                                rotate_secret=exists).print_api

    made = await context(request).in_session(run, write=True)
    return await _keys(request, user, owner, made=made)


async def create_key(request: Request) -> Response:
    user, owner = await guard.merchant_owner(request)
    fields = await guard.form(request, user)
    try:
        issued = await context(request).in_session(
            lambda s: merchants.issue_key(s, owner.merchant_id, owner.environment, fields.get("name", "")), write=True)
    except merchants.InvalidMerchantInput as invalid:
        return await _keys(request, user, owner, error=str(invalid))
    return await _keys(request, user, owner, issued=issued)


async def revoke_key(request: Request) -> Response:
    user, owner = await guard.merchant_owner(request)
    fields = await guard.form(request, user)
    key_id = int(fields["key_id"]) if fields.get("key_id", "").isdigit() else 0
    await context(request).in_session(lambda s: merchants.revoke_merchant_key(s, owner.merchant_id, key_id),
                                      write=True)
    return redirect("/dashboard/keys")


async def settings_page(request: Request, message: str | None = None, error: str | None = None,
                        tested: list | None = None) -> Response:
    user, owner = await guard.merchant_owner(request)

    def read(session):
        return (merchants.merchant_terms(session, owner.merchant_id),
                merchants.secret_state(session, owner.merchant_id))

    terms, secret = await context(request).in_session(read, write=True)  # the secret is made on first use
    return page(request, "settings.html", 400 if error else 200, terms=terms, secret=secret,
                message=message or request.query_params.get("message"), error=error, tested=tested)


async def save_settings(request: Request) -> Response:
    user, owner = await guard.merchant_owner(request)
    fields = await guard.form(request, user)
    pause = fields.get("pause", "none")
    hours = fields.get("pause_hours", "").strip()
    try:
        pause_seconds = int(float(hours) * 3600) if pause == "hours" and hours else None
    except ValueError:
        return await settings_page(request, error=f"{hours!r} is not a number of hours")
    if pause == "hours" and (pause_seconds is None or pause_seconds <= 0 or pause_seconds > 30 * 86400):
        return await settings_page(request, error="a pause window is between a few minutes and 30 days")
    try:
        await context(request).in_session(lambda s: merchants.update_settings(
            s, user.merchant_name, pause_seconds=pause_seconds, pause_indefinite=pause == "indefinite",
            no_pause=pause == "none", pays_per_order=fields.get("payment") == "per_order",
            callback_url=fields.get("callback_url", "").strip(),
            billing_currency=fields.get("currency", "").strip() or None), write=True)
    except merchants.InvalidMerchantInput as invalid:
        return await settings_page(request, error=str(invalid))
    return redirect("/dashboard/settings?" + urlencode({"message": "Settings saved."}))


async def test_callback(request: Request) -> Response:
    user, owner = await guard.merchant_owner(request)
    await guard.form(request, user)
    ctx = context(request)
    try:
        target = await ctx.in_session(lambda s: callback_target(s, user.merchant_name, None), write=True)
    except CoreError as refused:
        return await settings_page(request, error=str(refused))
    face, render_order = faces.callback_rendering(ctx.settings.resolved_public_base_url)
    sent = await ctx.blocking(lambda: send_test_callbacks(
        target, face, render_order, allow_private_urls=ctx.settings.allow_private_urls,
        timeout=ctx.settings.callback_timeout_seconds, environment=owner.environment))
    return await settings_page(request, message=f"Sent {len(sent)} test callbacks to {target.url}.", tested=sent)


async def rotate_secret(request: Request) -> Response:
    user, owner = await guard.merchant_owner(request)
    await guard.form(request, user)
    await context(request).in_session(lambda s: merchants.callback_secret(s, user.merchant_name, rotate=True),
                                      write=True)
    return redirect("/dashboard/settings?" + urlencode(
        {"message": "Secret rotated: the old one also signs callbacks for the next 24 hours."}))


# --- payments ------------------------------------------------------------------------------

async def _payment_owner(request: Request, order_id: int) -> tuple[users.SignedIn, Owner]:
    """The merchant's own order, in whichever environment it was placed: the link comes from the
    order's issue, not from the header's switch."""
    user, _ = await guard.merchant_owner(request)
    for environment in ENVIRONMENTS:
        owner = Owner(user.merchant_id, environment)
        try:
            await context(request).in_session(lambda s: owned_order_id(s, owner, order_id))
            return user, owner
        except EntityNotFound:
            continue
    raise EntityNotFound(f"order {order_id} not found")


async def payment_page(request: Request) -> Response:
    try:
        user = await guard.current_user(request)
    except guard.NotSignedIn:
        return redirect("/dashboard/sign-in?" + urlencode({"next": request.url.path}))
    order_id = _order_id(request)
    user, owner = await _payment_owner(request, order_id)
    detail = await _detail(request, owner, order_id)
    payment = next((issue.payment for issue in detail.view.issues if issue.payment is not None), None)
    return page(request, "payment.html", order=detail.view, environment=owner.environment, payment=payment,
                message=request.query_params.get("message"))


async def authorise_payment(request: Request) -> Response:
    user = await guard.current_user(request)
    await guard.form(request, user)
    order_id = _order_id(request)
    user, owner = await _payment_owner(request, order_id)
    ctx = context(request)

    def run() -> None:
        with ctx.database.transaction() as session:
            controls.authorise_owned_payment(session, owner, order_id)
        ctx.jobs.orders_due([order_id])

    try:
        await ctx.blocking(run)
        message = "Payment authorised: the order goes into production."
    except Conflict:
        message = "This order is not waiting for a payment."
    return redirect(f"/payments/{order_public_id(order_id)}?" + urlencode({"message": message}))


# --- operators -----------------------------------------------------------------------------

async def operator_home(request: Request) -> Response:
    await guard.operator(request)

    def read(session):
        return health.health(session), health.trends(session)

    state, trend = await context(request).in_session(read)
    return page(request, "operator_health.html", health=state, trends=trend,
                orders_chart=Markup(charts.stacked_bars(trend.days, trend.orders_per_day, "orders")),
                shipped_chart=Markup(charts.line(trend.days, trend.shipped_hours, "hours", "{:.1f} h")),
                callbacks_chart=Markup(charts.line(trend.days, [None if v is None else v * 100
                                                                for v in trend.callback_success], "%", "{:.0f}%")),
                message=request.query_params.get("message"))


async def operator_retry_callbacks(request: Request) -> Response:
    user = await guard.operator(request)
    fields = await guard.form(request, user)
    merchant_id = int(fields["merchant_id"]) if fields.get("merchant_id", "").isdigit() else 0
    ctx = context(request)

    def run() -> int:
        with ctx.database.transaction() as session:
            ids = health.retry_failed_callbacks(session, merchant_id)
        ctx.jobs.events_due(ids)
        return len(ids)

    count = await ctx.blocking(run)
    return redirect("/dashboard/operator?" + urlencode({"message": f"{count} failed callbacks scheduled again."}))


async def operator_merchants(request: Request, invited: tuple[str, str] | None = None,
                             error: str | None = None) -> Response:
    await guard.operator(request)

    def read(session):
        return merchants.list_merchants(session), users.list_users(session)

    listed, people = await context(request).in_session(read)
    return page(request, "operator_merchants.html", 400 if error else 200, merchants=listed, users=people,
                invited=invited, error=error)


async def operator_invite(request: Request) -> Response:
    user = await guard.operator(request)
    fields = await guard.form(request, user)
    password = users.new_initial_password()
    role = fields.get("role", "")
    merchant_name = fields.get("merchant", "").strip() if role == "merchant" else None
    try:
        made = await context(request).in_session(lambda s: users.create_user(
            s, fields.get("email", ""), password, merchant_name=merchant_name, operator=role == "operator"),
            write=True)
    except (users.InvalidUserInput, EntityNotFound) as invalid:
        return await operator_merchants(request, error=str(invalid))
    return await operator_merchants(request, invited=(made.email, password))


async def operator_disable_user(request: Request) -> Response:
    user = await guard.operator(request)
    fields = await guard.form(request, user)
    await context(request).in_session(lambda s: users.disable_user(s, fields.get("email", "")), write=True)
    return redirect("/dashboard/operator/merchants")


async def operator_catalog(request: Request, problems: list[str] | None = None, message: str | None = None) -> Response:
    await guard.operator(request)
    ctx = context(request)
    catalog = await ctx.in_session(lambda s: ctx.catalog.get(s))
    return page(request, "operator_catalog.html", 400 if problems else 200, catalog=catalog,
                problems=problems, message=message)


async def operator_catalog_import(request: Request) -> Response:
    user = await guard.operator(request)
    data = await request.form(max_files=1, max_fields=10)
    if not guard._same(data.get(guard.CSRF_FIELD), user.csrf_token):
        raise guard.CsrfRefused()
    upload = data.get("catalog")
    if upload is None or isinstance(upload, str):
        return await operator_catalog(request, problems=["choose a catalogue file (.json or .yaml)"])
    raw_bytes = await upload.read(10 * 1024 * 1024 + 1)
    if len(raw_bytes) > 10 * 1024 * 1024:
        return await operator_catalog(request, problems=["the file is larger than 10 MB"])
    try:
        text = raw_bytes.decode("utf-8")
        raw = json.loads(text) if (upload.filename or "").lower().endswith(".json") else yaml.safe_load(text)
        document = parse_catalog_document(raw)
    except UnicodeDecodeError:
        return await operator_catalog(request, problems=["the file is not UTF-8 text"])
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        return await operator_catalog(request, problems=[f"not valid JSON/YAML: {exc}"])
    except CatalogDocumentError as invalid:
        return await operator_catalog(request, problems=invalid.problems)
    revision = await context(request).in_session(lambda s: import_catalog(s, document), write=True)
    return await operator_catalog(request, message=f"Imported {len(document.products)} products and "
                                                   f"{len(document.labs)} labs (catalogue revision {revision}).")


LAB_QUEUE_STAGES = (LAB_ALLOCATED, LAB_SUBMITTED, LAB_IN_PRODUCTION)


async def operator_labs(request: Request, error: str | None = None) -> Response:
    await guard.operator(request)
    ctx = context(request)

    def read(session):
        catalog = ctx.catalog.get(session)
        return catalog, {code: labs.shipments_for_lab(session, code, LAB_QUEUE_STAGES) for code in catalog.labs}

    catalog, queues = await ctx.in_session(read)
    return page(request, "operator_labs.html", 400 if error else 200, catalog=catalog, queues=queues, error=error,
                message=request.query_params.get("message"))


async def operator_lab_report(request: Request) -> Response:
    user = await guard.operator(request)
    fields = await guard.form(request, user)
    lab_code = request.path_params["lab"]
    raw_id = request.path_params["shipment_id"]
    if not raw_id.startswith("shp_") or not raw_id[4:].isdigit():
        raise EntityNotFound("no such shipment")
    shipment_id = int(raw_id[4:])
    ctx = context(request)
    report = request.path_params["report"]

    def run() -> None:
        with ctx.database.transaction() as session:
            if report == "in-production":
                labs.report_in_production(session, lab_code, shipment_id, ctx.announcer)
            elif report == "shipped":
                given = {name: fields.get(name, "").strip() or None
                         for name in ("tracking_number", "tracking_url", "carrier", "service")}
                shipped = labs.checked_shipment_report(**given)
                labs.report_shipped(session, lab_code, shipment_id, tracking_number=shipped.tracking_number,
                                    tracking_link=shipped.tracking_url, carrier=shipped.carrier,
                                    service=shipped.service, announcer=ctx.announcer)
            else:
                raise EntityNotFound("no such report")

    try:
        await ctx.blocking(run)
    except ValidationFailed as invalid:
        return await operator_labs(request, error="Not reported: " + "; ".join(
            f"{path} {f.code}" for path, entries in invalid.failures.items() for f in entries))
    except Conflict as refused:
        return await operator_labs(request, error=f"Not reported: {refused}")
    return redirect("/dashboard/operator/labs?" + urlencode({"message": f"{raw_id}: {report.replace('-', ' ')}."}))


async def operator_print_file(request: Request) -> Response:
    """A print file of a shipment the lab has been sent, for an operator working the lab's queue."""
    await guard.operator(request)
    lab_code = request.path_params["lab"]
    raw_id = request.path_params["asset_id"]
    if not raw_id.isdigit():
        raise EntityNotFound("no such print file")
    return await lab_print_file_response(context(request), lab_code, int(raw_id))


routes = [
    Route("/", root, methods=["GET"]),
    Route("/dashboard", root, methods=["GET"]),
    Route("/dashboard/", home, methods=["GET"]),
    Route("/dashboard/sign-in", sign_in_form, methods=["GET"]),
    Route("/dashboard/sign-in", sign_in, methods=["POST"]),
    Route("/dashboard/sign-out", sign_out, methods=["POST"]),
    Route("/dashboard/environment", switch_environment, methods=["POST"]),
    Route("/dashboard/static/{name}", static, methods=["GET"]),
    Route("/dashboard/orders", orders_page, methods=["GET"]),
    Route("/dashboard/orders/{order_id}", order_page, methods=["GET"]),
    Route("/dashboard/orders/{order_id}/live", order_live, methods=["GET"]),
    Route("/dashboard/orders/{order_id}/images/{asset_id}/{kind}.jpg", order_image, methods=["GET"]),
    Route("/dashboard/orders/{order_id}/{action}", order_action, methods=["POST"]),
    Route("/dashboard/callbacks/redeliver-failed", redeliver_failed, methods=["POST"]),
    Route("/dashboard/callbacks/{event_id}/redeliver", redeliver, methods=["POST"]),
    Route("/dashboard/keys", keys_page, methods=["GET"]),
    Route("/dashboard/keys", create_key, methods=["POST"]),
    Route("/dashboard/keys/revoke", revoke_key, methods=["POST"]),
    Route("/dashboard/keys/legacy", legacy_credentials, methods=["POST"]),
    Route("/dashboard/settings", settings_page, methods=["GET"]),
    Route("/dashboard/settings", save_settings, methods=["POST"]),
    Route("/dashboard/settings/test-callback", test_callback, methods=["POST"]),
    Route("/dashboard/settings/rotate-secret", rotate_secret, methods=["POST"]),
    Route("/payments/{order_id}", payment_page, methods=["GET"]),
    Route("/payments/{order_id}", authorise_payment, methods=["POST"]),
    Route("/dashboard/operator", operator_home, methods=["GET"]),
    Route("/dashboard/operator/callbacks/retry", operator_retry_callbacks, methods=["POST"]),
    Route("/dashboard/operator/merchants", operator_merchants, methods=["GET"]),
    Route("/dashboard/operator/users", operator_invite, methods=["POST"]),
    Route("/dashboard/operator/users/disable", operator_disable_user, methods=["POST"]),
    Route("/dashboard/operator/catalog", operator_catalog, methods=["GET"]),
    Route("/dashboard/operator/catalog", operator_catalog_import, methods=["POST"]),
    Route("/dashboard/operator/labs", operator_labs, methods=["GET"]),
    Route("/dashboard/operator/labs/{lab}/print-files/{asset_id}", operator_print_file, methods=["GET"]),
    Route("/dashboard/operator/labs/{lab}/{shipment_id}/{report}", operator_lab_report, methods=["POST"]),
]

PREFIXES = ("/dashboard", "/payments/")


def claim(path: str) -> str | None:
    return path if path == "/" or path.startswith(PREFIXES) else None


def render_error(exc: Exception, trace: str, headers) -> Response | None:
    htmx = headers.get("hx-request") is not None
    if isinstance(exc, guard.NotSignedIn):
        if htmx:  # a poll from a page whose session ended: send the browser to sign in
            return Response(status_code=401, headers={"hx-redirect": "/dashboard/sign-in"})
        return RedirectResponse("/dashboard/sign-in", status_code=303)
    status, title = None, None
    if isinstance(exc, guard.CsrfRefused):
        status, title = 403, "This form has expired: reload the page and try again."
    elif isinstance(exc, guard.OperatorsOnly):
        status, title = 403, str(exc).capitalize() + "."
    elif isinstance(exc, EntityNotFound):
        status, title = 404, "Not found."
    elif isinstance(exc, ValidationFailed):
        status, title = 400, "Not valid: " + "; ".join(f"{p} {f.code}" for p, entries in exc.failures.items()
                                                      for f in entries)
    elif isinstance(exc, Conflict):
        status, title = 409, str(exc)
    if status is None:
        return None
    return _error_page(status, title, trace)


def _error_page(status: int, title: str, trace: str) -> Response:
    body = templates.get_template("error.html").render(status=status, title=title, trace=trace, user=None)
    return HTMLResponse(body, status_code=status, headers=guard.SECURITY_HEADERS)


def internal_error(trace: str, _headers) -> Response:
    return _error_page(500, "Something went wrong on our side.", trace)

