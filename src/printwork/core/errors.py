"""Typed errors the core raises; every API surface renders them in its own shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class CoreError(Exception):
    code = "CoreError"


@dataclass
class Failure:
    code: str
    provided_value: Any = None


class ValidationFailed(CoreError):
    """Field path (`recipient.address.country_code`, `items[0].sku`: the core's names) -> what is wrong with it.

    A face adds its own wire paths for what it parsed itself; it maps the core's when it renders.
    """

    code = "ValidationFailed"

    def __init__(self, failures: dict[str, list[Failure]]) -> None:
        self.failures = failures
        super().__init__(", ".join(f"{path}: {'/'.join(f.code for f in fs)}" for path, fs in failures.items()))


class EntityNotFound(CoreError):
    code = "EntityNotFound"


# No PostgreSQL text column can hold U+0000, and no field has a use for it: every surface refuses it.
NUL_FAILURE = "MustNotContainNulCharacters"


@dataclass
class FailureCollector:
    failures: dict[str, list[Failure]] = field(default_factory=dict)

    def add(self, path: str, code: str, provided: Any = None) -> None:
        entries = self.failures.setdefault(path, [])
        failure = Failure(code, provided)
        if failure not in entries:  # several items can break the same order-level rule
            entries.append(failure)

    def storable(self, path: str, text: str) -> bool:
        """Whether `text` can be stored; if not (it holds U+0000), a failure at `path` says so."""
        if "\x00" in text:
            self.add(path, NUL_FAILURE, text)
            return False
        return True

    def raise_if_any(self) -> None:
        if self.failures:
            raise ValidationFailed(self.failures)

    def __bool__(self) -> bool:
        return bool(self.failures)


class Forbidden(CoreError):
    """The caller is known but may not do this (e.g. a sandbox control with a live key)."""

    code = "Forbidden"


class Conflict(CoreError):
    """The request is understood but the entity's state does not allow it now."""

    code = "Conflict"
