"""The werk HTTP API (``/api/v1``): ingest, reads, keys; errors as problem+json."""

from werk.api.app import create_app

__all__ = ["create_app"]
