"""Hold the one settings tree of werk; environment names derive from the path (``WERK_STORE_URL``).

Settings are read only by entry points (the CLI, ``create_app``), never at import time.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from werk.errors import ConfigError


def _default_data_dir() -> Path:
    return Path.cwd() / ".werk"


class Settings(BaseSettings):
    """Settings of a werk platform process."""

    model_config = SettingsConfigDict(env_prefix="WERK_", extra="ignore")

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Directory for the embedded store and local state.",
    )
    store_url: str = Field(
        default="",
        description="Store to use: duckdb:///path/file.duckdb or postgresql://host/db. "
        "Empty means the DuckDB file werk.duckdb in the data directory.",
    )
    admin_key: SecretStr | None = Field(
        default=None,
        description="An API key with the admin role, accepted besides the keys in the store.",
    )
    host: str = Field(default="127.0.0.1", description="Address the API server binds to.")
    port: int = Field(default=8600, ge=1, le=65535, description="Port the API server binds to.")
    max_body_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted by ingest, in bytes (after decompression).",
    )
    future_tolerance_s: int = Field(
        default=86_400,
        ge=0,
        description="How far in the future a sample's timestamp may lie before it is refused.",
    )
    retention_interval_s: int = Field(
        default=3600,
        ge=0,
        description="How often the server applies retention rules, in seconds (0: never).",
    )
    dev: bool = Field(
        default=False,
        description="Development mode: allows unsafe defaults such as binding to 0.0.0.0 "
        "without an admin key.",
    )
    log_level: str = Field(default="info", description="Log level of the server.")

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        local = self.host in ("127.0.0.1", "localhost", "::1")
        if not self.dev and not local and self.admin_key is None:
            raise ConfigError(
                f"binding to {self.host} needs WERK_ADMIN_KEY set (or WERK_DEV=1)",
                field="host",
            )
        return self

    def resolved_store_url(self) -> str:
        """Return the store URL, defaulting to the DuckDB file in the data directory."""
        if self.store_url:
            return self.store_url
        return f"duckdb:///{(self.data_dir / 'werk.duckdb').resolve()}"
