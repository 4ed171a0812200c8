"""`Printwork` and `AsyncPrintwork`: the v4 API as Python calls, with safe retries.

Every resource method describes its request as a `_Call`; the sync and async clients differ
only in how they send one, so both behave exactly alike.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Optional, TypeVar, Union
from urllib.parse import quote

import httpx

from printwork_client import models
from printwork_client.errors import PrintworkError, ServerError, error_for

T = TypeVar("T")

SANDBOX_URL = "https://api.sandbox.prodigi.com"
USER_AGENT = "printwork-client/0.1"
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to try again. Waits grow from `base_delay`, doubling up to
    `max_delay`, with full jitter; a `Retry-After` the service sends is honoured."""

    max_retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int, retry_after: Optional[float]) -> float:
        if retry_after is not None:
            return min(retry_after, 60.0)
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** attempt))


@dataclass
class _Call(Generic[T]):
    method: str
    path: str  # relative to the base URL, or an absolute URL (a list's nextUrl)
    parse: Callable[[dict], T]
    json: Any = None
    params: Optional[dict] = None
    # Whether the request may be sent again after it may have reached the service: true for
    # reads, quotes and creates (which carry an idempotency key), false for order actions,
    # which are only retried when they surely did not arrive (a refused connection, 429, 503).
    repeatable: bool = True


def _retry_after(response: httpx.Response) -> Optional[float]:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time()) if when else None


def _answer(call: _Call[T], response: httpx.Response) -> T:
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if response.status_code >= 400 or not isinstance(body, dict):
        raise error_for(response.status_code, body, _retry_after(response))
    return call.parse(body)


class _Client:
    def __init__(self, api_key: str, base_url: str, timeout: float, retry: Optional[RetryPolicy]) -> None:
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.orders = Orders(self)
        self.quotes = QuotesResource(self)
        self.products = Products(self)
        self.sandbox = Sandbox(self)

    def _headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key, "User-Agent": USER_AGENT, "Accept": "application/json"}

    def _url(self, call: _Call) -> str:
        return call.path if call.path.startswith(("http://", "https://")) else self.base_url + call.path

    def _next_delay(self, call: _Call, attempt: int, response: Optional[httpx.Response],
                    error: Optional[Exception]) -> Optional[float]:
        """Seconds to wait before trying `call` again, or None to stop here."""
        if attempt >= self.retry.max_retries:
            return None
        if error is not None:
            unsent = isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
            return self.retry.delay(attempt, None) if unsent or call.repeatable else None
        assert response is not None
        if response.status_code not in RETRIED_STATUSES:
            return None
        if not call.repeatable and response.status_code not in (429, 503):
            return None
        return self.retry.delay(attempt, _retry_after(response))


def _gave_up(error: Exception) -> ServerError:
    return ServerError(f"no answer from the service: {error!r}")


class Printwork(_Client):
    """The v4 API, synchronously. `base_url` is Printwork's (or Prodigi's) address."""

    def __init__(self, api_key: str, base_url: str = SANDBOX_URL, *, timeout: float = 30.0,
                 retry: Optional[RetryPolicy] = None, http: Optional[httpx.Client] = None) -> None:
        super().__init__(api_key, base_url, timeout, retry)
        self._http = http or httpx.Client(timeout=timeout)

    def _run(self, call: _Call[T]) -> T:
        attempt = 0
        while True:
            response = error = None
            try:
                response = self._http.request(call.method, self._url(call), json=call.json, params=call.params,
                                              headers=self._headers())
            except httpx.TransportError as exc:
                error = exc
            delay = self._next_delay(call, attempt, response, error)
            if delay is None:
                if error is not None:
                    raise _gave_up(error) from error
                return _answer(call, response)
            time.sleep(delay)
            attempt += 1

    def _pages(self, first: _Call[dict]) -> Iterator[models.Order]:
        call: Optional[_Call[dict]] = first
        while call is not None:
            page = self._run(call)
            for order in page["orders"]:
                yield models.load(models.Order, order)
            call = _next_page(page)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Printwork:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class AsyncPrintwork(_Client):
    """The v4 API for asyncio: the same resources, each method a coroutine."""

    def __init__(self, api_key: str, base_url: str = SANDBOX_URL, *, timeout: float = 30.0,
                 retry: Optional[RetryPolicy] = None, http: Optional[httpx.AsyncClient] = None) -> None:
        super().__init__(api_key, base_url, timeout, retry)
        self._http = http or httpx.AsyncClient(timeout=timeout)

    async def _run(self, call: _Call[T]) -> T:
        attempt = 0
        while True:
            response = error = None
            try:
                response = await self._http.request(call.method, self._url(call), json=call.json,
                                                    params=call.params, headers=self._headers())
            except httpx.TransportError as exc:
                error = exc
            delay = self._next_delay(call, attempt, response, error)
            if delay is None:
                if error is not None:
                    raise _gave_up(error) from error
                return _answer(call, response)
            await asyncio.sleep(delay)
            attempt += 1

    async def _pages(self, first: _Call[dict]) -> AsyncIterator[models.Order]:
        call: Optional[_Call[dict]] = first
        while call is not None:
            page = await self._run(call)
            for order in page["orders"]:
                yield models.load(models.Order, order)
            call = _next_page(page)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncPrintwork:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()


def _next_page(page: dict) -> Optional[_Call[dict]]:
    if page.get("hasMore") and page.get("nextUrl"):
        return _Call("GET", page["nextUrl"], lambda body: body)
    return None


# --- resources -------------------------------------------------------------------------------

def _order_path(order_id: str) -> str:
    return f"/v4.0/orders/{quote(order_id, safe='')}"


def _created(body: dict) -> models.CreatedOrder:
    return models.CreatedOrder(models.Outcome(body["outcome"]), models.load(models.Order, body["order"]),
                               body.get("traceParent"))


def _action_result(body: dict) -> models.ActionResult:
    return models.load(models.ActionResult, body)


class _Resource:
    def __init__(self, client: _Client) -> None:
        self._client = client

    def _run(self, call: _Call[T]) -> Any:  # T, or an awaitable of T on AsyncPrintwork
        return self._client._run(call)  # type: ignore[attr-defined]


class Orders(_Resource):
    def create(self, order: Union[models.NewOrder, dict], *, idempotency_key: Optional[str] = None):
        """Create (and submit) an order: a `NewOrder`, or a dict in the documented v4 shape.

        The order always carries an idempotency key (the one given, the order's own, or a new
        one), so the retries after a lost answer can never make a second order."""
        body = models.dump(order)
        if idempotency_key is not None:
            body["idempotencyKey"] = idempotency_key
        body.setdefault("idempotencyKey", uuid.uuid4().hex)
        return self._run(_Call("POST", "/v4.0/orders", _created, json=body))

    def get(self, order_id: str):
        return self._run(_Call("GET", _order_path(order_id), lambda b: models.load(models.Order, b["order"])))

    def list(self, *, top: int = 100, skip: int = 0, created_from: Optional[str] = None,
             created_to: Optional[str] = None, status: Optional[str] = None,
             order_ids: Optional[list[str]] = None, merchant_references: Optional[list[str]] = None):
        """Every matching order, newest first, fetched a page (`top`) at a time as you iterate."""
        params: dict[str, Any] = {"top": top, "skip": skip}
        for name, value in (("createdFrom", created_from), ("createdTo", created_to), ("status", status),
                            ("orderIds", order_ids), ("merchantReferences", merchant_references)):
            if value is not None:
                params[name] = value
        return self._client._pages(_Call("GET", "/v4.0/orders", lambda body: body, params=params))  # type: ignore[attr-defined]

    def actions(self, order_id: str):
        return self._run(_Call("GET", _order_path(order_id) + "/actions", lambda b: models.load(models.Actions, b)))

    def cancel(self, order_id: str):
        return self._run(_Call("POST", _order_path(order_id) + "/actions/cancel", _action_result, repeatable=False))

    def update_shipping_method(self, order_id: str, shipping_method: Union[models.ShippingMethod, str]):
        return self._run(_Call("POST", _order_path(order_id) + "/actions/updateShippingMethod", _action_result,
                               json={"shippingMethod": models.dump(shipping_method)}, repeatable=False))

    def update_recipient(self, order_id: str, recipient: Union[models.Recipient, dict]):
        return self._run(_Call("POST", _order_path(order_id) + "/actions/updateRecipient", _action_result,
                               json=models.dump(recipient), repeatable=False))

    def update_metadata(self, order_id: str, metadata: dict):
        return self._run(_Call("POST", _order_path(order_id) + "/actions/updateMetadata", _action_result,
                               json={"metadata": metadata}, repeatable=False))


class QuotesResource(_Resource):
    def create(self, request: Union[models.QuoteRequest, dict]):
        return self._run(_Call("POST", "/v4.0/quotes", lambda b: models.load(models.Quotes, b),
                               json=models.dump(request)))


class Products(_Resource):
    def get(self, sku: str):
        return self._run(_Call("GET", f"/v4.0/products/{quote(sku, safe='')}",
                               lambda b: models.load(models.Product, b["product"])))

    def spine(self, sku: str, destination_country_code: str, number_of_pages: int, state: Optional[str] = None):
        body = {"sku": sku, "destinationCountryCode": destination_country_code, "numberOfPages": number_of_pages}
        if state is not None:
            body["state"] = state
        return self._run(_Call("POST", "/v4.0/products/spine", lambda b: models.load(models.Spine, b), json=body))


class Sandbox(_Resource):
    """Printwork's sandbox controls (not on Prodigi's service): move an order along, or make it fail."""

    def advance(self, order_id: str, to: str = "nextStep"):
        """The next lab step now (`nextStep`), or every step until shipped (`shipped`); the order after."""
        return self._run(_Call("POST", f"/sandbox/v1/orders/{quote(order_id, safe='')}/advance",
                               lambda b: models.load(models.Order, b["order"]), json={"to": to}, repeatable=False))

    def fail(self, order_id: str, step: str):
        """Make `assetDownload` or `labSubmission` fail when the order gets there."""
        return self._run(_Call("POST", f"/sandbox/v1/orders/{quote(order_id, safe='')}/fail",
                               lambda b: models.load(models.Order, b["order"]), json={"step": step}, repeatable=False))


__all__ = ["AsyncPrintwork", "Printwork", "PrintworkError", "RetryPolicy"]
