"""Originals, print files and thumbnails in an S3-compatible bucket, shared by every machine.

API processes and workers on different hosts see the same files: a worker's print file is what
the lab downloads through any API process. An object appears whole or not at all, so `put` is
atomic and idempotent as `AssetStorage` asks; image code that needs a file on disk gets a copy in
the local scratch folder for as long as it holds it.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit

from printwork.core.assets.storage import CHUNK_BYTES

MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` → (bucket, 'some/prefix/'); ValueError when it is not one."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"{url!r} is not an S3 location such as s3://bucket/prefix")
    prefix = parts.path.strip("/")
    return parts.netloc, f"{prefix}/" if prefix else ""


class S3Storage:
    def __init__(self, bucket: str, prefix: str, scratch_dir: Path, *, endpoint_url: str | None = None,
                 region: str | None = None, access_key_id: str | None = None,
                 secret_access_key: str | None = None) -> None:
        self.bucket, self.prefix = bucket, prefix
        self.scratch_dir = scratch_dir
        self.endpoint_url, self.region = endpoint_url, region
        self._credentials = (access_key_id, secret_access_key)
        scratch_dir.mkdir(parents=True, exist_ok=True)
        self._client = None
        self._client_lock = threading.Lock()

    # The slow-work processes receive the store by pickling: a boto3 client does not travel, so
    # each process makes its own on first use.
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_client"], state["_client_lock"] = None, None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._client_lock = threading.Lock()

    @property
    def client(self):
        with self._client_lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                access_key_id, secret_access_key = self._credentials
                self._client = boto3.session.Session().client(
                    "s3", endpoint_url=self.endpoint_url, region_name=self.region,
                    aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
                    config=Config(
                        signature_version="s3v4", retries={"max_attempts": 5, "mode": "standard"},
                        connect_timeout=5, read_timeout=60, max_pool_connections=32,
                        # An endpoint of one's own (MinIO, Ceph, a loopback server) rarely has
                        # a DNS name per bucket.
                        s3={"addressing_style": "path" if self.endpoint_url else "auto"},
                    ),
                )
            return self._client

    def _object_key(self, key: str) -> str:
        if not key or key.startswith("/") or any(part in ("", ".", "..") for part in key.split("/")):
            raise ValueError(f"storage key outside the store: {key!r}")
        return self.prefix + key

    @staticmethod
    def _is_missing(exc: Exception) -> bool:
        from botocore.exceptions import ClientError

        return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in MISSING_CODES

    def put(self, key: str, source: Path) -> None:
        self.client.upload_file(str(source), self.bucket, self._object_key(key))

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        copy = self.scratch_dir / f"s3-{uuid.uuid4().hex}"
        try:
            try:
                self.client.download_file(self.bucket, self._object_key(key), str(copy))
            except Exception as exc:
                if self._is_missing(exc):
                    raise FileNotFoundError(key) from None
                raise
            yield copy
        finally:
            copy.unlink(missing_ok=True)

    def _head(self, key: str) -> dict | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._object_key(key))
        except Exception as exc:
            if self._is_missing(exc):
                return None
            raise

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def size(self, key: str) -> int | None:
        head = self._head(key)
        return None if head is None else head["ContentLength"]

    def local_file(self, key: str) -> Path | None:
        return None

    def open_chunks(self, key: str) -> tuple[int, Iterator[bytes]]:
        try:
            found = self.client.get_object(Bucket=self.bucket, Key=self._object_key(key))
        except Exception as exc:
            if self._is_missing(exc):
                raise FileNotFoundError(key) from None
            raise
        body = found["Body"]

        def chunks() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(CHUNK_BYTES)
            finally:
                body.close()

        return found["ContentLength"], chunks()

    def signed_url(self, key: str, seconds: int, media_type: str, filename: str | None = None) -> str | None:
        params = {"Bucket": self.bucket, "Key": self._object_key(key), "ResponseContentType": media_type}
        if filename:
            params["ResponseContentDisposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._object_key(key))

    def scratch(self) -> Path:
        return self.scratch_dir
