"""Stream live values and state changes under a path as Server-Sent Events: ``GET /stream``.

Messages (``event:`` names; ``data:`` is one JSON object):

* ``latest`` — the newest value of every series under the path when the stream opens
  (``snapshot=false`` leaves it out);
* ``sample`` — ``{"rows": [...]}``, the newest value of each series a committed batch touched;
* ``event`` — ``{"rows": [...]}``, state changes and alarms (kinds ``state`` and ``alarm``);
* ``dropped`` — ``{"dropped": n}``: the client read too slowly and the server dropped the n
  oldest messages of its bounded queue (drop-oldest; the next ``sample`` is current again);
* ``end`` — ``{"reason": ..., "codes": [...]}``, the last message: the read door turned to deny
  (a revoked agreement or key), the stream reached ``max_s``, or the server is stopping.

The stream re-decides through the read door every ``recheck_s`` seconds (at most 2), so a
revoked agreement or key ends it within that time; every message is cut to the decision's scope.
A comment line every 15 s keeps proxies from closing an idle stream.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from werk.api.auth import Door, Reader, current_principal
from werk.api.hub import Hub, Message
from werk.api.params import parse_path
from werk.api.routes.signals import parse_signals
from werk.api.tables import rows
from werk.errors import WerkError
from werk.sharing.door import Decision, ReadDoor, ReadKind, ReadRequest, Scope
from werk.sharing.principal import Principal
from werk.store import Store

router = APIRouter(tags=["stream"])

EVENT_STREAM: Final = "text/event-stream"
KEEPALIVE_S: Final = 15.0


def hub_of(request: Request) -> Hub:
    """Return the app's hub (created on first use, so apps built without one still stream)."""
    state = request.app.state
    hub: Hub | None = getattr(state, "hub", None)
    if hub is None:
        hub = Hub()
        state.hub = hub
    return hub


def frame(event: str, data: object, ident: int | None = None) -> bytes:
    """Return one SSE frame."""
    head = f"id: {ident}\n" if ident is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, allow_nan=False)}\n\n".encode()


def _scoped(message: Message, scope: Scope) -> list[dict[str, object]]:
    table = scope.filter(message.rows)
    return rows(table) if table.num_rows else []


class _Live:
    """One open stream: its subscription, the decision in force and what it sent."""

    def __init__(
        self,
        request: Request,
        door: ReadDoor,
        principal: Principal,
        read: ReadRequest,
        decision: Decision,
        scope: Scope,
    ) -> None:
        self.request = request
        self.door = door
        self.principal = principal
        self.read = read
        self.decision = decision
        self.scope = scope
        self.sent_rows = 0
        self.ident = 0

    async def still_allowed(self) -> tuple[bool, str, list[str]]:
        """Authenticate the caller again and re-decide the read; False with the reason if not."""
        try:
            principal = await current_principal(self.request)
        except WerkError as exc:
            return False, exc.message, [exc.key]
        decision = self.door.decide(principal, self.read)
        if not decision.permitted or decision.scope is None:
            self.door.record(decision, None)
            detail = "; ".join(r.detail for r in decision.reasons) or "read denied"
            return False, detail, [r.code for r in decision.reasons] or ["access.denied"]
        self.principal, self.decision, self.scope = principal, decision, decision.scope
        return True, "", []

    def next_id(self) -> int:
        self.ident += 1
        return self.ident


async def _events(
    live: _Live, hub: Hub, snapshot: bool, max_s: float, recheck_s: float
) -> AsyncIterator[bytes]:
    store: Store = live.request.app.state.store
    read = live.read
    sub = hub.subscribe(read.path, frozenset(read.signals) if read.signals else None)
    began = last_check = last_sent = time.monotonic()
    try:
        yield f"retry: {int(recheck_s * 1000)}\n\n".encode()
        if snapshot:
            table = await asyncio.to_thread(
                store.latest, read.path or None, list(read.signals) if read.signals else None
            )
            found = rows(live.scope.filter(table))
            live.sent_rows += len(found)
            yield frame("latest", {"rows": found}, live.next_id())
        while True:
            now = time.monotonic()
            if now - began >= max_s:
                yield frame("end", {"reason": "the stream reached max_s", "codes": ["max_s"]})
                return
            if now - last_check >= recheck_s:
                ok, reason, codes = await live.still_allowed()
                last_check = time.monotonic()
                if not ok:
                    yield frame("end", {"reason": reason, "codes": codes})
                    return
            wait = max(0.05, min(recheck_s - (time.monotonic() - last_check), max_s))
            message = await sub.get(wait)
            dropped = sub.take_dropped()
            if dropped:
                yield frame("dropped", {"dropped": dropped}, live.next_id())
            if message is not None:
                found = _scoped(message, live.scope)
                if found:
                    live.sent_rows += len(found)
                    last_sent = time.monotonic()
                    yield frame(message.kind, {"rows": found}, live.next_id())
            if time.monotonic() - last_sent >= KEEPALIVE_S:
                last_sent = time.monotonic()
                yield b": keepalive\n\n"
    finally:
        hub.unsubscribe(sub)
        live.door.record(live.decision, live.sent_rows)


@router.get(
    "/stream",
    operation_id="stream",
    summary="Live values and state changes under a path (Server-Sent Events)",
    response_class=StreamingResponse,
    responses={200: {"content": {EVENT_STREAM: {}}, "description": "An SSE stream"}},
)
async def stream(
    request: Request,
    principal: Reader,
    door: Door,
    path: Annotated[str | None, Query(description="Asset path prefix (empty: all).")] = None,
    signal: Annotated[list[str] | None, Query(description="Only these signals.")] = None,
    agreement: Annotated[str | None, Query(description="Agreement the read is made under.")] = None,
    purpose: Annotated[str | None, Query(description="Purpose of the read (ODRL).")] = None,
    snapshot: Annotated[bool, Query(description="Send the latest values first.")] = True,
    max_s: Annotated[
        float, Query(gt=0, le=86_400, description="End the stream after this many seconds.")
    ] = 3600,
    recheck_s: Annotated[
        float, Query(ge=0.2, le=2, description="Re-decide access at least this often.")
    ] = 1.0,
) -> StreamingResponse:
    """Open a live stream of the values and state changes at or below ``path``."""
    the_path = parse_path(path) or ""
    names = parse_signals(signal)
    read = ReadRequest(
        ReadKind.STREAM,
        the_path,
        tuple(names) if names else None,
        agreement=agreement,
        purpose=purpose,
    )
    decision, scope = door.check(principal, read)
    live = _Live(request, door, principal, read, decision, scope)
    return StreamingResponse(
        _events(live, hub_of(request), snapshot, max_s, recheck_s),
        media_type=EVENT_STREAM,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
