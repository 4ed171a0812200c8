"""The one settings object, read from PRINTWORK_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PRINTWORK_", extra="ignore")

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
    write_batch_max: int = Field(default=64, ge=1, description="Most order writes committed in one transaction.")
    seed_demo: bool = Field(default=True, description="Load the demo catalogue and demo merchant on first start.")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'printwork.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
