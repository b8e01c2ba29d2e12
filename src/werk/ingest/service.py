"""Take a batch through the one ingest door: decode, validate, write, acknowledge after commit.

Rejected input is kept in the store's dead-letter table with the reason and the place, and the
error is raised for the caller (the API answers it as problem+json). Acknowledgement happens only
after the store committed the batch and its ledger entry, so a retry of the same key after any
failure stores the batch exactly once.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Final

from werk.errors import InvalidInput
from werk.ingest.decode import decode, decompress, media_type
from werk.ingest.validate import validate_events, validate_samples
from werk.store import Store, WriteResult
from werk.store.layouts import LayoutMemo

DEAD_LETTER_PAYLOAD_MAX: Final = 16 * 1024 * 1024
"""Bytes of a rejected body kept in the dead-letter table; larger bodies are cut."""


class Ingest:
    """The ingest door over one store."""

    def __init__(self, store: Store, *, max_body_bytes: int, future_tolerance_s: int) -> None:
        self.store = store
        self.max_body_bytes = max_body_bytes
        self.future_tolerance_s = future_tolerance_s
        # (path, signal) columns already found valid: an edge's point table is checked once.
        self._valid: LayoutMemo[bool] = LayoutMemo()

    @staticmethod
    def content_key(body: bytes) -> str:
        """Return the batch key used when a request names none: the body's content hash."""
        return "sha256:" + hashlib.sha256(body).hexdigest()

    def ingest(
        self,
        body: bytes,
        *,
        content_type: str | None,
        content_encoding: str | None = None,
        batch_key: str | None = None,
        source: str = "",
    ) -> WriteResult:
        """Decode, validate and store one batch; return after it is committed.

        Raises:
            InvalidInput: the body is wrong; it was kept as a dead letter.
            StoreUnavailable: the store cannot be reached; nothing was committed.
        """
        key = batch_key or self.content_key(body)
        # No ledger look-up here: the store's write claims the key in its own transaction and
        # answers a repeated key with the original result. A separate read would cost every
        # batch a round trip to spare the rare retry its decoding.
        try:
            bare = media_type(content_type)
            raw = decompress(body, content_encoding, self.max_body_bytes)
            decoded = decode(raw, bare)
            now = datetime.now(UTC)
            samples = events = None
            if decoded.samples is not None and decoded.samples.num_rows:
                samples = validate_samples(
                    decoded.samples,
                    now=now,
                    future_tolerance_s=self.future_tolerance_s,
                    valid=self._valid,
                )
            if decoded.events is not None and decoded.events.num_rows:
                events = validate_events(
                    decoded.events, now=now, future_tolerance_s=self.future_tolerance_s
                )
        except InvalidInput as exc:
            location = ", ".join(
                f"{k} {exc.fields[k]}"
                for k in ("row", "column", "field", "line")
                if k in exc.fields
            )
            self.store.dead_letter(
                source=source,
                key=exc.key,
                reason=exc.message,
                batch_key=key,
                location=location or None,
                payload=body[:DEAD_LETTER_PAYLOAD_MAX],
            )
            raise
        return self.store.write(key, samples, events, source=source)
