"""Parse query parameters shared by the read routes: times (absolute or relative) and paths."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from werk.assets.paths import validate_path
from werk.errors import InvalidInput, PathError

_DURATION = re.compile(r"^(\d+)(s|m|h|d|w)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str, field: str) -> timedelta:
    """Parse a duration like ``90s``, ``15m``, ``12h``, ``30d`` or ``52w``."""
    match = _DURATION.match(value.strip())
    if match is None:
        raise InvalidInput(
            f"{field}={value!r} is not a duration like 90s, 15m, 12h, 30d or 52w",
            key="request.invalid_duration",
            field=field,
        )
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def parse_window(from_: str, to: str) -> tuple[datetime, datetime]:
    """Parse the ``from`` and ``to`` of a read; ``to`` (exclusive) must lie after ``from``.

    Raises:
        InvalidInput: either time is malformed, or the window is empty.
    """
    start, end = parse_time(from_, "from"), parse_time(to, "to")
    if end <= start:
        raise InvalidInput(
            f"to ({end.isoformat()}) must be after from ({start.isoformat()})",
            key="request.invalid_range",
            field="to",
        )
    return start, end


def parse_time(value: str, field: str, now: datetime | None = None) -> datetime:
    """Parse ``now``, a relative time like ``-15m`` / ``-7d``, or ISO 8601 with a time zone."""
    now = now or datetime.now(UTC)
    text = value.strip()
    if text == "now":
        return now
    if text.startswith("-") and _DURATION.match(text[1:]):
        return now - parse_duration(text[1:], field)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(
            f"{field}={value!r} is neither ISO 8601, 'now', nor relative like -15m or -7d",
            key="request.invalid_time",
            field=field,
        ) from exc
    if parsed.tzinfo is None:
        raise InvalidInput(
            f"{field}={value!r} has no time zone; add Z or an offset like +01:00",
            key="request.invalid_time",
            field=field,
        )
    return parsed.astimezone(UTC)


def parse_path(value: str | None, field: str = "path") -> str | None:
    """Validate an optional asset path parameter (empty means everything)."""
    if value is None or value.strip("/") == "":
        return None
    try:
        return validate_path(value.strip("/"))
    except PathError as exc:
        raise InvalidInput(exc.message, key="request.invalid_path", field=field) from exc
