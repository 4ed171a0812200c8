"""The v4 surface's OpenAPI document (openapi.yaml, written by hand from the API documents)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

DOCUMENT = Path(__file__).with_name("openapi.yaml")


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    return yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))


def merged_into(generated: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's generated document with the v4 paths, components and security added."""
    v4 = document()
    merged = {**generated, "openapi": v4["openapi"], "paths": {**v4["paths"], **generated.get("paths", {})}}
    components = dict(generated.get("components", {}))
    for section, entries in v4["components"].items():
        components[section] = {**entries, **components.get(section, {})}
    merged["components"] = components
    merged["security"] = v4["security"]
    return merged
