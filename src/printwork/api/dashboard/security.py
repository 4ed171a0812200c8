"""The dashboard's guards: who is signed in, CSRF on every change, sign-in throttling, headers."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque

from starlette.requests import Request
from starlette.responses import Response

from printwork.api.http import context
from printwork.core.merchants.service import Owner
from printwork.core.users import service as users

SESSION_COOKIE = "printwork_session"
SIGN_IN_CSRF_COOKIE = "printwork_sign_in_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"

# No inline script or style anywhere: htmx is served from /dashboard/static and told not to
# inject its indicator styles (base.html), so nothing needs 'unsafe-inline'.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


class NotSignedIn(Exception):
    """No live session: pages redirect to the sign-in page, fragments answer 401."""


class CsrfRefused(Exception):
    pass


class OperatorsOnly(Exception):
    pass


class SignInThrottle:
    """At most `limit` sign-in attempts per client address in `window` seconds, in this process.
    The account lockout in the database (core/users) holds across processes; this stops one
    address from spraying passwords over many accounts."""

    def __init__(self, limit: int = 10, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self._attempts: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, address: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._attempts) > 10_000:
                self._attempts.clear()
            attempts = self._attempts.setdefault(address, deque())
            while attempts and attempts[0] <= now - self.window:
                attempts.popleft()
            if len(attempts) >= self.limit:
                return False
            attempts.append(now)
            return True


def is_https(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded.split(",")[0].strip().lower() == "https"


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="lax",
                        secure=is_https(request))


async def current_user(request: Request) -> users.SignedIn:
    cached = request.scope.get("printwork.signed_in")
    if cached is not None:
        return cached
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise NotSignedIn()
    signed_in = await context(request).in_session(lambda s: users.signed_in(s, token))
    if signed_in is None:
        raise NotSignedIn()
    request.scope["printwork.signed_in"] = signed_in
    return signed_in


async def merchant_owner(request: Request) -> tuple[users.SignedIn, Owner]:
    """The signed-in merchant user and whose data they see (their merchant, the chosen environment)."""
    user = await current_user(request)
    if user.merchant_id is None:
        raise OperatorsOnly("this page is a merchant's")
    return user, Owner(user.merchant_id, user.environment)


async def operator(request: Request) -> users.SignedIn:
    user = await current_user(request)
    if not user.is_operator:
        raise OperatorsOnly("this page is for operators")
    return user


def _same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


async def form(request: Request, user: users.SignedIn) -> dict[str, str]:
    """The submitted form, once its CSRF token (field or htmx header) matches the session's."""
    data = await request.form()
    fields = {key: value for key, value in data.items() if isinstance(value, str)}
    if not _same(fields.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER), user.csrf_token):
        raise CsrfRefused()
    return fields


def new_sign_in_csrf() -> str:
    return secrets.token_urlsafe(24)


def check_sign_in_csrf(request: Request, submitted: str | None) -> None:
    """The sign-in form has no session yet: its token is double-submitted (cookie and field)."""
    if not _same(request.cookies.get(SIGN_IN_CSRF_COOKIE), submitted):
        raise CsrfRefused()
