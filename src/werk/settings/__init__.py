"""Hold the one settings tree of werk; environment names derive from the path (``WERK_STORE_URL``).

Settings are read only by entry points (the CLI, ``create_app``), never at import time.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from werk.errors import ConfigError

WEAK_SECRETS = frozenset({"changeme", "change-me", "secret", "werk", "dev"})
"""Placeholder token secrets refused outside dev mode (besides anything under 32 characters)."""


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
    ml_score_interval_s: int = Field(
        default=900,
        ge=0,
        description="How often the server scores machines with the promoted models of the "
        "registry in <data_dir>/models, writing predictions and alarms back (0: never).",
    )
    dev: bool = Field(
        default=False,
        description="Development mode: allows unsafe defaults such as binding to 0.0.0.0 "
        "without an admin key.",
    )
    log_level: str = Field(default="info", description="Log level of the server.")
    token_secret: SecretStr | None = Field(
        default=None,
        description="Key signing login tokens (HMAC-SHA256), at least 32 characters. Empty: "
        "a random one is made and kept in the data directory (set it when several API "
        "processes share one store, so a token from one is accepted by all).",
    )
    token_ttl_s: int = Field(
        default=900, ge=30, le=86_400, description="How long a login token is valid, in seconds."
    )
    login_attempts: int = Field(
        default=5,
        ge=1,
        description="Failed logins allowed per user within login_window_s (four times as many "
        "per client address) before further tries are refused with 429.",
    )
    login_window_s: int = Field(
        default=300, ge=1, description="Window the failed logins are counted in, in seconds."
    )

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        local = self.host in ("127.0.0.1", "localhost", "::1")
        if not self.dev and not local and self.admin_key is None:
            raise ConfigError(
                f"binding to {self.host} needs WERK_ADMIN_KEY set (or WERK_DEV=1)",
                field="host",
            )
        secret = self.token_secret.get_secret_value() if self.token_secret else None
        if not self.dev and secret is not None and (len(secret) < 32 or secret in WEAK_SECRETS):
            raise ConfigError(
                "WERK_TOKEN_SECRET must be at least 32 random characters (or WERK_DEV=1)",
                field="token_secret",
            )
        return self

    def resolved_store_url(self) -> str:
        """Return the store URL, defaulting to the DuckDB file in the data directory."""
        if self.store_url:
            return self.store_url
        return f"duckdb:///{(self.data_dir / 'werk.duckdb').resolve()}"
