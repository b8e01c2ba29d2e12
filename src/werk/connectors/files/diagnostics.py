"""Report a files source's state for support: folder, counts, the latest bad rows."""

from __future__ import annotations

from collections.abc import Mapping

from werk.connectors.files.source import FilesSource


def diagnose(source: FilesSource) -> Mapping[str, object]:
    """Return the redacted state of a files source (file exports hold no secrets to hide)."""
    health = source.health
    return {
        **source.diagnostics(),
        "connected": health.connected,
        "last_value_at": health.last_value_at.isoformat() if health.last_value_at else None,
        "last_error": health.last_error,
    }
