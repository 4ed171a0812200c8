"""The one settings object, read from PRINTWORK_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PRINTWORK_", extra="ignore")

    @field_validator("rate_limit", "auth_failure_limit")
    @classmethod
    def _readable_rate_limit(cls, value: str | None) -> str | None:
        """A limit that cannot be read stops the process at start, not at the first request."""
        if value is None or not value.strip():
            return None
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate limit such as '50/second' or '100/second;1000/minute'") from None
        return value

    @field_validator("storage_url")
    @classmethod
    def _readable_storage_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from printwork.core.assets.s3_storage import parse_s3_url

        parse_s3_url(value)
        return value

    data_dir: Path = Field(default=Path("./var"), description="Where the embedded database and files live.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; defaults to SQLite at DATA_DIR/printwork.db."
    )
    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str | None = Field(
        default=None,
        description="Absolute base URL clients use (for nextUrl); defaults to the request's own URL.",
    )
    api_key_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        description="How long a process may reuse an API key lookup; a revoked key stops working after at most this.",
    )
    max_request_bytes: int = Field(default=1_048_576, ge=1024, description="Largest request body accepted.")
    database_threads: int = Field(
        default=8, ge=1,
        description="Threads for the API's blocking database work: reads on a database server, order actions on any.",
    )
    database_write_threads: int = Field(
        default=4, ge=1, description="Transactions of new orders committed at once on a database server (SQLite: one)."
    )
    write_batch_max: int = Field(default=64, ge=1, description="Most order writes committed in one transaction.")
    log_format: Literal["console", "json"] = Field(
        default="console", description="Readable lines, or one JSON object a line for a log collector.")
    rate_limit: str | None = Field(
        default=None, description="Requests each API key may make, e.g. '50/second' or '100/second;1000/minute' "
                                  "(off when unset); shared through Redis when PRINTWORK_QUEUE_URL is redis://.")
    auth_failure_limit: str | None = Field(
        default="20/minute", description="With PRINTWORK_RATE_LIMIT set: requests with a wrong key each client address "
                                         "may make (a missing key is not counted); past it the address gets 429 "
                                         "for a while, whatever key it sends (against guessing keys).")
    metrics_token: str | None = Field(
        default=None, description="When set, GET /metrics needs `Authorization: Bearer <token>`.")
    storage_url: str | None = Field(
        default=None, description="Where originals, print files and thumbnails are kept: s3://bucket/prefix for an "
                                  "S3-compatible store shared by every machine; DATA_DIR/files when unset.")
    s3_endpoint_url: str | None = Field(
        default=None, description="The S3 server's URL (MinIO, Ceph, another cloud's S3); AWS when unset.")
    s3_region: str | None = Field(default=None, description="The bucket's region; the AWS default chain when unset.")
    s3_access_key_id: str | None = Field(
        default=None, description="S3 credentials; when unset, boto3's usual chain (AWS_* variables, files, roles).")
    s3_secret_access_key: SecretStr | None = None
    storage_signed_url_seconds: int = Field(
        default=0, ge=0, le=7 * 24 * 3600,
        description="With an S3 store: thumbnails and print files are answered with a redirect to a signed URL "
                    "valid this long (the S3 server must be reachable by shops and labs); 0 streams them through "
                    "Printwork.")
    seed_demo: bool = Field(default=True, description="Load the demo catalogue and demo merchant on first start.")

    # The order process
    queue_url: str | None = Field(
        default=None, description="redis://… for the job queue at scale; defaults to SQLite at DATA_DIR/queue.db."
    )
    worker_threads: int = Field(default=4, ge=1, le=64, description="Job threads per worker process.")
    embedded_workers: bool = Field(default=True, description="`printwork serve` also runs the workers.")
    embedded_worker_nice: int = Field(
        default=19, ge=0, le=19,
        description="How much lower the CPU priority of the downloads and image work of `printwork serve`'s "
                    "worker process is than the server's.")
    sandbox_lab_delay_seconds: float = Field(
        default=3.0, ge=0, description="How long the simulated sandbox lab takes per step (0 = at once)."
    )
    download_retry_delays_live: list[float] = Field(
        default=[60, 300, 900, 1800, 3600, 7200, 10800, 14400, 21600],
        description="Seconds to wait after each failed download attempt of a live order (9 waits, 10 attempts).",
    )
    download_retry_delays_sandbox: list[float] = Field(
        default=[1, 2, 3, 4, 5, 6, 7, 8, 9],
        description="The same for sandbox orders: compressed, so a failing URL shows Error within a minute.",
    )
    download_max_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    download_connect_timeout: float = Field(default=10.0, gt=0)
    download_read_timeout: float = Field(default=30.0, gt=0)
    download_deadline: float = Field(default=300.0, gt=0, description="Seconds for one whole download attempt.")
    allow_private_urls: bool = Field(
        default=False, description="Fetch assets from loopback and private addresses too (development only)."
    )
    job_lease_seconds: float = Field(
        default=420.0, gt=0, description="How long a job may hold an order before another may take it over."
    )
    reconcile_interval_seconds: float = Field(default=5.0, gt=0)
    reconcile_grace_seconds: float = Field(
        default=30.0, ge=0, description="How long a due order may wait for its job before the reconciler re-drives it."
    )
    callback_retry_delays_live: list[float] = Field(
        default=[30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 10800, 14400, 21600, 28800, 43200],
        description="Seconds between a live callback's 15 attempts (about 37 hours in all), each jittered by ±20%.",
    )
    callback_retry_delays_sandbox: list[float] = Field(
        default=[2, 4, 6, 8, 10, 15, 15, 20, 20, 30, 30, 30, 30, 30],
        description="The same for sandbox callbacks: the first retry within seconds, all 15 within about 5 minutes.",
    )
    callback_timeout_seconds: float = Field(default=10.0, gt=0, description="A callback must be answered within this.")
    retention_days: float = Field(
        default=30.0, gt=0, description="Originals and print files are deleted this long after an order is submitted."
    )

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def resolved_public_base_url(self) -> str:
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'printwork.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
