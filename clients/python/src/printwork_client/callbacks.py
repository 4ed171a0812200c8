"""Checking a callback Printwork sent: its Standard Webhooks signature, its age, its event.

    event = printwork_client.callbacks.verify(request_body, request_headers, secret)
    if event.type.startswith("com.prodigi.order.status.stage.changed"):
        print(event.order.status.stage)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Union

from printwork_client import models
from printwork_client.errors import PrintworkError

TOLERANCE_SECONDS = 5 * 60


class InvalidCallback(PrintworkError):
    """The callback's signature does not match, it is too old (or from the future), or it is malformed."""


@dataclass(frozen=True)
class CallbackEvent:
    """A CloudEvent about an order: what happened (`type`), to which order, and the order then."""

    id: str
    type: str
    source: str
    subject: str
    time: datetime
    order: models.Order
    raw: dict = field(repr=False, compare=False)


def _secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def verify(body: Union[bytes, str], headers: Mapping[str, str], secret: str, *,
           tolerance: float = TOLERANCE_SECONDS, now: float | None = None) -> CallbackEvent:
    """The event in `body` if `headers` carry a valid signature of it by `secret` made within
    `tolerance` seconds; raises InvalidCallback otherwise."""
    payload = body.encode() if isinstance(body, str) else bytes(body)
    lowered = {k.lower(): v for k, v in headers.items()}
    message_id, stamp, signatures = (lowered.get("webhook-id"), lowered.get("webhook-timestamp"),
                                     lowered.get("webhook-signature"))
    if not message_id or not stamp or not signatures:
        raise InvalidCallback("the callback has no webhook-id, webhook-timestamp or webhook-signature header")
    try:
        sent_at = int(stamp)
    except ValueError:
        raise InvalidCallback(f"webhook-timestamp {stamp!r} is not a number") from None
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        raise InvalidCallback(f"the callback was signed {current - sent_at:.0f}s from now, beyond {tolerance:.0f}s")
    try:
        key = _secret_key(secret)
    except ValueError:
        raise InvalidCallback("the signing secret is not a whsec_… Standard Webhooks secret") from None
    expected = base64.b64encode(hmac.new(key, f"{message_id}.{sent_at}.".encode() + payload, hashlib.sha256).digest())
    for candidate in signatures.split():
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature.encode(), expected):
            break
    else:
        raise InvalidCallback("no signature on the callback matches its body and this secret")
    try:
        event = json.loads(payload)
        return CallbackEvent(id=event["id"], type=event["type"], source=event["source"], subject=event["subject"],
                             time=models._datetime(event["time"]), order=models.load(models.Order, event["data"]["order"]),
                             raw=event)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidCallback(f"the callback's body is not an order event: {exc!r}") from None
