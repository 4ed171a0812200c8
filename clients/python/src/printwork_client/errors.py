"""What a request can end in besides an answer: one exception per kind, all PrintworkError."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional


@dataclass(frozen=True)
class FieldFailure:
    """One reason a field was refused, e.g. `Required` with the value that was sent."""

    code: str
    provided_value: Any = None


class PrintworkError(Exception):
    """An error answer (or none at all). `outcome` is the service's word for it."""

    def __init__(self, message: str, *, outcome: Optional[str] = None, status_code: Optional[int] = None,
                 failures: Optional[dict[str, list[FieldFailure]]] = None, trace_parent: Optional[str] = None,
                 body: Any = None) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.status_code = status_code
        self.failures = failures or {}
        self.trace_parent = trace_parent
        self.body = body


class ValidationFailed(PrintworkError):
    """400: `failures` names each refused field (e.g. `recipient.name`) and why."""


class AuthenticationFailed(PrintworkError):
    """401: the API key is missing, wrong or revoked."""


class NotFound(PrintworkError):
    """404: no such order (or product) for this key."""


class RateLimited(PrintworkError):
    """429: too many requests; `retry_after` is how many seconds the service asked for."""

    def __init__(self, message: str, *, retry_after: Optional[float] = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(PrintworkError):
    """5xx, or no answer at all (`status_code` None) after the retries."""


def error_for(status_code: int, body: Any, retry_after: Optional[float]) -> PrintworkError:
    body_dict = body if isinstance(body, dict) else {}
    outcome = body_dict.get("outcome")
    failures = {
        name: [FieldFailure(f.get("code", ""), f.get("providedValue")) for f in items if isinstance(f, dict)]
        for name, items in (body_dict.get("failures") or {}).items()
        if isinstance(items, list)
    }
    message = body_dict.get("message") or outcome or f"HTTP {status_code}"
    if failures:
        message += ": " + "; ".join(f"{name} {', '.join(f.code for f in items)}" for name, items in failures.items())
    common = dict(outcome=outcome, status_code=status_code, failures=failures,
                  trace_parent=body_dict.get("traceParent"), body=body)
    if status_code == 400:
        return ValidationFailed(message, **common)
    if status_code == 401:
        return AuthenticationFailed(message, **common)
    if status_code == 404:
        return NotFound(message, **common)
    if status_code == 429:
        return RateLimited(message, retry_after=retry_after, **common)
    if status_code >= 500:
        return ServerError(message, **common)
    return PrintworkError(message, **common)
