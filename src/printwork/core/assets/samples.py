"""Sample pictures that ship with Printwork, so a sandbox order can reach Complete offline.

Printwork serves them itself at `/sandbox/v1/samples/<name>`. A sandbox order whose asset URL
names one of them on this very server gets the packaged file; that is the one private address
a sandbox order may use, and only for these files (any other loopback URL is refused as ever).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

FOLDER = Path(__file__).parent / "samples"
PATH_PREFIX = "/sandbox/v1/samples/"
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def names() -> list[str]:
    return sorted(path.name for path in FOLDER.glob("*.jpg"))


def sample_file(name: str) -> Path | None:
    """The packaged sample called `name`, if there is one (nothing else can be named)."""
    return FOLDER / name if name in names() else None


def sample_for_url(url: str, public_base_url: str) -> Path | None:
    """The sample an asset URL names on this server (`public_base_url`), else None."""
    try:
        asked, base = urlsplit(url), urlsplit(public_base_url)
        asked_port, base_port = asked.port, base.port
    except ValueError:
        return None
    if not asked.path.startswith(PATH_PREFIX) or asked.scheme != base.scheme or asked_port != base_port:
        return None
    same_host = asked.hostname == base.hostname or (asked.hostname in _LOOPBACK and base.hostname in _LOOPBACK)
    return sample_file(asked.path[len(PATH_PREFIX):]) if same_host else None


def sample_url(public_base_url: str, name: str) -> str:
    return f"{public_base_url.rstrip('/')}{PATH_PREFIX}{name}"
