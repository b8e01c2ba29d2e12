"""Shared computations of identical requests: one per flight, never one that began before."""

from __future__ import annotations

import asyncio
import threading

import pytest

from werk.api.flights import Flights
from werk.errors import StoreError


class Gate:
    """A computation that blocks until released and counts its runs."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.runs = 0
        self.value = 1

    def __call__(self) -> int:
        self.runs += 1
        seen = self.value
        self.started.set()
        assert self.release.wait(10)
        return seen


async def _started(gate: Gate) -> None:
    assert await asyncio.to_thread(gate.started.wait, 10)


def test_identical_requests_share_one_computation() -> None:
    async def main() -> None:
        flights: Flights[int] = Flights("test")
        gate = Gate()
        gate.release.set()
        answers = await asyncio.gather(*(flights.run("k", gate) for _ in range(20)))
        assert answers == [1] * 20
        assert gate.runs == 1
        assert (flights.flights, flights.passengers) == (1, 20)

    asyncio.run(main())


def test_a_request_never_joins_a_computation_that_began_before_it() -> None:
    async def main() -> None:
        flights: Flights[int] = Flights("test")
        gate = Gate()
        first = asyncio.create_task(flights.run("k", gate))
        await _started(gate)
        gate.value = 2  # a write committed while the first flight computes
        later = [asyncio.create_task(flights.run("k", gate)) for _ in range(5)]
        await asyncio.sleep(0.05)
        assert gate.runs == 1  # the next flight waits for the one in the air
        gate.release.set()
        assert await first == 1
        assert await asyncio.gather(*later) == [2] * 5  # all see the write, one computation
        assert gate.runs == 2

    asyncio.run(main())


def test_different_keys_do_not_wait_for_each_other() -> None:
    async def main() -> None:
        flights: Flights[int] = Flights("test")
        slow, quick = Gate(), Gate()
        quick.release.set()
        held = asyncio.create_task(flights.run("a", slow))
        await _started(slow)
        assert await flights.run("b", quick) == 1
        slow.release.set()
        assert await held == 1

    asyncio.run(main())


def test_a_failure_reaches_every_passenger_and_the_next_flight_starts_afresh() -> None:
    async def main() -> None:
        flights: Flights[int] = Flights("test")
        calls = 0

        def failing() -> int:
            nonlocal calls
            calls += 1
            raise StoreError("store gone", key="store.unavailable")

        results = await asyncio.gather(
            *(flights.run("k", failing) for _ in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, StoreError) for r in results)
        assert calls == 1
        assert await flights.run("k", lambda: 7) == 7

    asyncio.run(main())


def test_a_passenger_that_leaves_does_not_ground_the_others() -> None:
    async def main() -> None:
        flights: Flights[int] = Flights("test")
        gate = Gate()
        leaving = asyncio.create_task(flights.run("k", gate))
        staying = asyncio.create_task(flights.run("k", gate))
        await _started(gate)
        leaving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leaving
        gate.release.set()
        assert await staying == 1
        assert gate.runs == 1

    asyncio.run(main())
