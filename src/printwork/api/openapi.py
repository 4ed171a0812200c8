"""The OpenAPI document: written by hand (the routes are plain Starlette routes, which FastAPI
cannot describe) as the v4 surface's and Printwork's own endpoints' YAML, merged here."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

API = Path(__file__).parent
DOCUMENTS = (API / "prodigi_v4" / "openapi.yaml", API / "platform" / "openapi.yaml")


@lru_cache(maxsize=1)
def hand_written() -> dict[str, Any]:
    """The documents in order; the first gives openapi, info and security, each adds paths and components."""
    merged: dict[str, Any] = {}
    for path in DOCUMENTS:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for key in ("openapi", "info", "security"):
            if key in document:
                merged.setdefault(key, document[key])
        merged.setdefault("paths", {}).update(document.get("paths", {}))
        for section, entries in document.get("components", {}).items():
            merged.setdefault("components", {}).setdefault(section, {}).update(entries)
    return merged


def merged_into(generated: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's generated document (its own routes) with the hand-written one added."""
    written = hand_written()
    merged = {**generated, "openapi": written["openapi"], "security": written["security"],
              "paths": {**written["paths"], **generated.get("paths", {})}}
    components = {section: dict(entries) for section, entries in written["components"].items()}
    for section, entries in generated.get("components", {}).items():
        components.setdefault(section, {}).update(entries)
    merged["components"] = components
    return merged
