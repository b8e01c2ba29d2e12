"""Share one blocking computation among identical requests: :class:`Flights`.

A wall of dashboards asks the same question many times at once: the fleet overview, a site's
OEE per shift, the trend of the machine everyone is looking at. Computed once per request, 50
concurrent callers of a 100 ms answer queue for seconds on a few cores. Here identical requests
(same key: same question, same scope the read door granted) board one *flight*: a computation in
a worker thread whose answer every passenger gets.

Freshness is kept exactly: a request never joins a computation that started before it arrived.
It boards the flight that has not departed yet, and a flight departs only when the one before it
with the same key has landed — so each answer reflects every write committed before any of its
passengers arrived, as if each had computed it alone, and at most one flight per key waits while
another runs. Only the computation is shared: each request still passes the read door and writes
its own audit record.

A passenger that gives up (client gone) leaves the flight running for the others; a failure is
raised to every passenger of that flight, and the next flight starts afresh.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from fastapi import Request, Response

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Answer:
    """An encoded answer: its body, media type and the rows it holds (for the audit record)."""

    body: bytes | memoryview
    media_type: str
    rows: int

    def response(self) -> Response:
        """Return the HTTP response carrying the answer."""
        return Response(self.body, media_type=self.media_type)


class Flights(Generic[T]):
    """Run ``fn`` once for all requests with the same key that arrive while one is running.

    Attributes:
        flights: Computations run.
        passengers: Requests answered (``passengers - flights`` computations were saved).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._boarding: dict[Hashable, asyncio.Task[T]] = {}
        self._flying: dict[Hashable, asyncio.Task[T]] = {}
        self.flights = 0
        self.passengers = 0

    async def run(self, key: Hashable, fn: Callable[[], T]) -> T:
        """Return ``fn()`` computed in a worker thread, shared with identical requests.

        ``fn`` must depend on nothing but ``key`` (and the stored data): the passengers of a
        flight get the answer of the first one's ``fn``.
        """
        task = self._boarding.get(key)
        if task is None:
            task = asyncio.create_task(self._fly(key, fn), name=f"werk[api].{self.name}")
            # a flight all of whose passengers left still lands; nobody reads its error then
            task.add_done_callback(_observe)
            self._boarding[key] = task
            self.flights += 1
        self.passengers += 1
        return await asyncio.shield(task)

    async def _fly(self, key: Hashable, fn: Callable[[], T]) -> T:
        me = asyncio.current_task()
        ahead = self._flying.get(key)
        if ahead is not None:
            # wait for the computation that started before our first passenger arrived
            await asyncio.wait([ahead])
        if self._boarding.get(key) is me:
            del self._boarding[key]  # departed: later requests board the next flight
        assert me is not None
        self._flying[key] = me
        try:
            return await asyncio.to_thread(fn)
        finally:
            if self._flying.get(key) is me:
                del self._flying[key]


def flights(request: Request) -> Flights[Answer]:
    """Return the app's flights of encoded answers (keys begin with the route's name)."""
    state = request.app.state
    found: Flights[Answer] | None = getattr(state, "flights", None)
    if found is None:
        found = Flights("answer")
        state.flights = found
    return found


def _observe(task: asyncio.Task[object]) -> None:
    if not task.cancelled():
        task.exception()
