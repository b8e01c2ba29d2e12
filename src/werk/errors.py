"""Define the one exception tree of werk.

Every error werk raises on purpose is a :class:`WerkError`. Each carries a stable machine-readable
``key`` (``"ingest.missing_column"``) and structured fields that say *where* the problem is (file,
line, row, column, field, path, source). Library code raises; only ``werk.cli`` decides exit codes
and ``werk.api`` maps errors to ``application/problem+json`` with the same key and fields.

::

    WerkError
    ├── ConfigError            a settings, fleet or mapping file is wrong      (file, line, field)
    ├── InvalidInput           data offered to werk is wrong                   (row, column, field)
    │   ├── PathError          an ISA-95 asset path or signal name is invalid  (path, segment)
    │   ├── PayloadError       a body cannot be decoded at all (corrupt Arrow, bad JSON)
    │   ├── UnsupportedMedia   an unknown content type
    │   └── PayloadTooLarge    a body over the size limit
    ├── AuthError              no, a wrong, or a revoked credential
    │   └── Forbidden          a known principal may not do this
    ├── NotFound               the thing does not exist (or may not be known to the caller)
    ├── Conflict               the request clashes with the current state
    ├── StoreError             the store failed
    │   ├── StoreUnavailable   the database cannot be reached right now (retry later)
    │   └── MigrationError     the schema cannot be brought to the expected version
    └── ConnectorError         a shop-floor source failed                      (source_id)
"""

from __future__ import annotations

from typing import ClassVar


class WerkError(Exception):
    """Base of every error werk raises on purpose.

    Attributes:
        key: Stable machine-readable identifier, e.g. ``"ingest.missing_column"``.
        status: The HTTP status the API answers with.
        fields: Where the problem is: any of ``file``, ``line``, ``row``, ``column``, ``field``,
            ``path``, ``segment``, ``source_id``, plus anything else that helps.
    """

    default_key: ClassVar[str] = "werk.error"
    status: ClassVar[int] = 500

    def __init__(self, message: str, *, key: str | None = None, **fields: object) -> None:
        super().__init__(message)
        self.message = message
        self.key = key or self.default_key
        self.fields: dict[str, object] = {k: v for k, v in fields.items() if v is not None}

    def __str__(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in self.fields.items())
        return f"{self.message} ({where})" if where else self.message

    def to_dict(self) -> dict[str, object]:
        """Return the error as a JSON-ready mapping (the body of a problem+json answer)."""
        return {"key": self.key, "detail": self.message, **self.fields}


class ConfigError(WerkError):
    """A settings, fleet or mapping file is wrong; says file, line and field."""

    default_key = "config.invalid"
    status = 422


class InvalidInput(WerkError):
    """Data offered to werk is wrong; says row, column or field."""

    default_key = "input.invalid"
    status = 422


class PathError(InvalidInput):
    """An ISA-95 asset path or a signal name is not valid."""

    default_key = "input.invalid_path"


class PayloadError(InvalidInput):
    """A body cannot be decoded at all."""

    default_key = "input.undecodable"
    status = 400


class UnsupportedMedia(InvalidInput):
    """The content type is not one werk reads."""

    default_key = "input.unsupported_media_type"
    status = 415


class PayloadTooLarge(InvalidInput):
    """The body is larger than the configured limit."""

    default_key = "input.too_large"
    status = 413


class AuthError(WerkError):
    """No credential, a wrong one, or a revoked one."""

    default_key = "auth.unauthenticated"
    status = 401


class Forbidden(AuthError):
    """A known principal may not do this."""

    default_key = "auth.forbidden"
    status = 403


class NotFound(WerkError):
    """The thing does not exist, or the caller may not know that it does."""

    default_key = "not_found"
    status = 404


class Conflict(WerkError):
    """The request clashes with the current state."""

    default_key = "conflict"
    status = 409


class StoreError(WerkError):
    """The store failed."""

    default_key = "store.error"
    status = 500


class StoreUnavailable(StoreError):
    """The database cannot be reached right now; the caller should retry later."""

    default_key = "store.unavailable"
    status = 503


class MigrationError(StoreError):
    """The store schema cannot be brought to the version this code expects."""

    default_key = "store.migration"


class ConnectorError(WerkError):
    """A shop-floor source failed; says which one in ``source_id``."""

    default_key = "connector.error"
    status = 502
