"""Where originals, print files and thumbnails are kept.

The pipeline speaks only to `AssetStorage`, so an S3-compatible store can stand in for the local
folder: `put` must be atomic and idempotent (the same key written twice holds one whole file),
and `local_path` hands image code a file it can open, downloading first if it must.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol


class AssetStorage(Protocol):
    def put(self, key: str, source: Path) -> None:
        """Store `source` under `key`, replacing whatever was there; `source` may be moved."""

    def local_path(self, key: str) -> Iterator[Path]:
        """A context manager giving a readable local file for `key`; FileNotFoundError if absent."""

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int | None:
        """The stored file's length in bytes; None if absent."""

    def local_file(self, key: str) -> Path | None:
        """The stored file itself when it lies on this machine (served without a copy), else None."""

    def open_chunks(self, key: str) -> tuple[int, Iterator[bytes]]:
        """The stored file's length and its bytes as they arrive, for streaming; FileNotFoundError
        (raised here, before the first chunk) if absent."""

    def signed_url(self, key: str, seconds: int, media_type: str, filename: str | None = None) -> str | None:
        """A URL a browser or lab can fetch `key` from directly for `seconds`; None where the
        store has no such thing (a local folder)."""

    def delete(self, key: str) -> None:
        """Remove `key`; a missing key is not an error."""

    def scratch(self) -> Path:
        """A local folder for work in progress, on the same file system as the store if it has one."""


def original_key(order_id: int, asset_id: int) -> str:
    return f"orders/{order_id}/originals/{asset_id}"


def print_file_key(order_id: int, asset_id: int) -> str:
    return f"orders/{order_id}/print/{asset_id}.jpg"


def print_file_pdf_key(order_id: int, asset_id: int) -> str:
    return f"orders/{order_id}/print/{asset_id}.pdf"


def thumbnail_key(order_id: int, asset_id: int) -> str:
    return f"orders/{order_id}/thumbnails/{asset_id}.jpg"


def preview_key(order_id: int, asset_id: int, kind: str) -> str:
    """The dashboard's scaled-down view of an original or a print file (kind: original, print)."""
    return f"orders/{order_id}/previews/{asset_id}-{kind}.jpg"


CHUNK_BYTES = 1024 * 1024


class LocalStorage:
    """A folder on this machine (PRINTWORK_DATA_DIR/files by default)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / ".scratch").mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"storage key outside the store: {key!r}")
        return path

    def put(self, key: str, source: Path) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.stat().st_dev == target.parent.stat().st_dev:
            os.replace(source, target)
        else:
            partial = target.with_name(target.name + ".part")
            shutil.copyfile(source, partial)
            os.replace(partial, target)
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        yield path

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int | None:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            return None

    def local_file(self, key: str) -> Path | None:
        return self._path(key)

    def open_chunks(self, key: str) -> tuple[int, Iterator[bytes]]:
        handle = self._path(key).open("rb")
        size = os.fstat(handle.fileno()).st_size

        def chunks() -> Iterator[bytes]:
            with handle:
                while chunk := handle.read(CHUNK_BYTES):
                    yield chunk

        return size, chunks()

    def signed_url(self, key: str, seconds: int, media_type: str, filename: str | None = None) -> str | None:
        return None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def scratch(self) -> Path:
        return self.root / ".scratch"
