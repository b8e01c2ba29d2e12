"""The enforcer without HTTP: lifecycle, caching across a change, streams and counts, clocks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from werk.sharing.agreements import Status
from werk.sharing.door import ReadKind, ReadRequest
from werk.sharing.enforcement import Enforcer
from werk.sharing.exchange import Exchange
from werk.sharing.negotiation import Message
from werk.sharing.participants import Participant, ParticipantKind, Participants
from werk.sharing.principal import Grant, Principal, Role
from werk.store import Store, open_store

OWNER = Principal("boss", Role.ADMIN, "acme", (Grant("acme/wob", Role.ADMIN),))
OEM = Principal("svc", Role.VIEWER, "kuka", ())
ROBOT = "acme/wob/body/line-1/robot-01"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"duckdb:///{tmp_path / 'werk.duckdb'}")
    registry = Participants(opened)
    registry.create(Participant("acme", "ACME", ParticipantKind.PLANT_OPERATOR, ("acme/wob",)))
    registry.create(Participant("kuka", "KUKA", ParticipantKind.MACHINE_BUILDER, ()))
    yield opened
    opened.close()


@pytest.fixture
def exchange(store: Store) -> Iterator[Exchange]:
    made = Exchange(store)
    yield made
    made.close()


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def agreed(exchange: Exchange, constraints: list[dict[str, object]]) -> str:
    asset = f"a{len(exchange.assets(OWNER))}"
    exchange.create_asset(OWNER, {"id": asset, "scope": ROBOT, "categories": ["raw"]})
    offer = exchange.publish(
        OWNER,
        asset,
        {"permission": [{"action": "use", "constraint": constraints}]},
        auto_accept=True,
    )
    asked = exchange.request(OEM, {"offer": {"@id": offer.id}})
    done = exchange.receive(OEM, str(asked["providerPid"]), Message.VERIFICATION, {})
    return str(done["agreement_id"])


def purpose(value: str = "cm") -> dict[str, object]:
    return {"leftOperand": "purpose", "operator": "eq", "rightOperand": value}


def test_a_stream_is_one_use_however_often_it_is_re_decided(
    store: Store, exchange: Exchange
) -> None:
    enforcer = Enforcer(exchange)
    agreement = agreed(
        exchange, [purpose(), {"leftOperand": "count", "operator": "lteq", "rightOperand": 2}]
    )
    first = ReadRequest(ReadKind.STREAM, ROBOT, agreement=agreement, purpose="cm")
    for _ in range(5):
        assert enforcer.decide(OEM, first).permitted
    assert store.counter(f"sharing.uses:{agreement}") == 1
    second = ReadRequest(ReadKind.STREAM, ROBOT, agreement=agreement, purpose="cm")
    assert enforcer.decide(OEM, second).permitted
    third = ReadRequest(ReadKind.LATEST, ROBOT, agreement=agreement, purpose="cm")
    denied = enforcer.decide(OEM, third)
    assert not denied.permitted
    assert [r.code for r in denied.reasons] == ["count.exhausted"]


def test_elapsed_time_counts_from_the_first_use(exchange: Exchange) -> None:
    clock = Clock(datetime(2026, 11, 1, tzinfo=UTC))
    enforcer = Enforcer(exchange, clock=clock)
    agreement = agreed(
        exchange,
        [purpose(), {"leftOperand": "elapsedTime", "operator": "lteq", "rightOperand": "P7D"}],
    )
    read = ReadRequest(ReadKind.LATEST, ROBOT, agreement=agreement, purpose="cm")
    clock.now += timedelta(days=30)  # unused for a month: the week starts at the first read
    assert enforcer.decide(OEM, read).permitted
    clock.now += timedelta(days=6)
    assert enforcer.decide(OEM, read).permitted
    # another process (a fresh enforcer) sees the same first use, from the store
    other = Enforcer(exchange, clock=clock)
    clock.now += timedelta(days=2)
    late = other.decide(OEM, read)
    assert [r.code for r in late.reasons] == ["period.elapsed"]


def test_a_change_by_another_process_is_seen_after_the_recheck(
    store: Store, exchange: Exchange
) -> None:
    here, there = exchange, Exchange(store)
    enforcer = Enforcer(here, recheck=0.0)
    agreement = agreed(here, [purpose()])
    read = ReadRequest(ReadKind.LATEST, ROBOT, agreement=agreement, purpose="cm")
    assert enforcer.decide(OEM, read).permitted
    there.set_status(OWNER, agreement, Status.REVOKED, "x")
    assert [r.code for r in enforcer.decide(OEM, read).reasons] == ["agreement.revoked"]
    there.close()
