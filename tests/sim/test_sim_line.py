"""The line engine: stops propagate along the line, PLC counters wrap and reset, chunks agree."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from werk.samples import to_ns
from werk.sim.fleet import Fleet, Line, load_fleet
from werk.sim.journal import MachineJournal
from werk.sim.line import LineSim
from werk.sim.view import STATE_CODES, MachineState

FleetFile = Callable[[str], Path]
DAY = 86_400_000
ORIGIN = to_ns(datetime(2026, 3, 2, tzinfo=UTC)) // 1_000_000
FAILURE = STATE_CODES[MachineState.FAILURE]
STARVED = STATE_CODES[MachineState.STARVED]
BLOCKED = STATE_CODES[MachineState.BLOCKED]


def _sim(fleet: Fleet, line: Line | None = None) -> LineSim:
    site = fleet.sites[0]
    return LineSim(
        line or site.lines[0],
        site.calendar,
        origin_ms=ORIGIN,
        scrap_sensitivity=site.scrap_sensitivity,
    )


def _intervals(journal: MachineJournal, end: int) -> list[tuple[int, int, int, str | None]]:
    starts = [*journal.st_start, end]
    return [
        (starts[i], starts[i + 1], journal.st_code[i], journal.st_reason[i])
        for i in range(len(journal.st_start))
    ]


def _five_machines(text: str) -> str:
    return text.replace(
        "{type: welding_robot}", "{type: welding_robot, count: 3, balance: 0.85}"
    ).replace("{type: press}", "{type: press, balance: 0.85}")


def test_a_failure_starves_downstream_and_blocks_upstream(
    fleet_file: FleetFile, small_fleet_text: str
) -> None:
    fleet = load_fleet(fleet_file(_five_machines(small_fleet_text)))
    sim = _sim(fleet)
    end = ORIGIN + 6 * DAY
    sim.advance(end)
    journals = sim.journals
    middle = journals[2]
    long_failures = [
        (s, e)
        for s, e, code, _ in _intervals(middle, end)
        if code == FAILURE and e - s > 15 * 60_000
    ]
    assert long_failures, "the seed should give the middle machine a long failure"

    def shows(journal: MachineJournal, code: int, a: int, b: int) -> bool:
        return any(
            c == code and reason == middle.path and s < b and e > a
            for s, e, c, reason in _intervals(journal, end)
        )

    for a, b in long_failures:
        assert shows(journals[3], STARVED, a, b)
        assert shows(journals[4], STARVED, a, b), "the root cause propagates past a neighbour"
        assert shows(journals[1], BLOCKED, a, b)
        assert shows(journals[0], BLOCKED, a, b)


def test_buffers_bound_the_parts_between_stations(
    fleet_file: FleetFile, small_fleet_text: str
) -> None:
    fleet = load_fleet(fleet_file(_five_machines(small_fleet_text)))
    sim = _sim(fleet)
    sim.advance(ORIGIN + 2 * DAY)
    assert all(len(buffer) <= fleet.sites[0].lines[0].buffer for buffer in sim.buffers)
    made = [len(j.part_ms) for j in sim.journals]
    # Each station makes at most what the one before it passed on (plus what sits in between).
    for before, after, journal in zip(made, made[1:], sim.journals, strict=False):
        assert after <= before - sum(journal.part_scrap) + 1


def test_counters_wrap_at_65536(fleet_file: FleetFile, small_fleet_text: str) -> None:
    text = small_fleet_text.replace("{type: press}", "{type: press, counter_start: 65500}")
    sim = _sim(load_fleet(fleet_file(text)))
    sim.advance(ORIGIN + DAY)
    journal = sim.journals[0]
    good = journal.ctr_good
    assert good[0] == 65500
    assert max(good) == 65535
    wrap = good.index(0)
    assert good[wrap - 1] == 65535
    assert all(0 <= g < 65536 for g in good)
    # Between restarts the counter counts every good part, modulo 2**16.
    assert not journal.restarts or journal.restarts[0] > journal.ctr_ms[wrap]
    scrap = sum(journal.part_scrap[:wrap])  # ctr entry i follows part i - 1
    assert wrap - scrap == 36


def test_a_plc_restart_resets_the_counters(fleet_file: FleetFile, small_fleet_text: str) -> None:
    text = small_fleet_text.replace("{type: welding_robot}", "{type: tightening_station, count: 8}")
    sim = _sim(load_fleet(fleet_file(text)))
    sim.advance(ORIGIN + 12 * DAY)
    restarted = [j for j in sim.journals if j.restarts]
    assert restarted, "the seed should restart at least one PLC"
    for journal in restarted:
        for at in journal.restarts:
            failure = next(f for f in journal.failures if f.end_ms == at)
            assert failure.plc_restart
            assert failure.reason == "plc_fault"
            i = journal.ctr_ms.index(at)
            assert (journal.ctr_good[i], journal.ctr_scrap[i]) == (0, 0)
            if i + 1 < len(journal.ctr_ms):
                assert journal.ctr_good[i + 1] + journal.ctr_scrap[i + 1] == 1


def test_the_journal_does_not_depend_on_how_time_is_chunked(small_fleet: Fleet) -> None:
    whole = _sim(small_fleet)
    whole.advance(ORIGIN + 2 * DAY)
    chunked = _sim(small_fleet)
    t = ORIGIN
    step = 1
    while t < ORIGIN + 2 * DAY:
        t = min(t + step, ORIGIN + 2 * DAY)
        chunked.advance(t)
        step = step * 3 + 7_777
    for a, b in zip(whole.journals, chunked.journals, strict=True):
        assert a.st_start == b.st_start
        assert a.st_code == b.st_code
        assert a.st_reason == b.st_reason
        assert a.part_ms == b.part_ms
        assert a.part_scrap == b.part_scrap
        assert a.seg_ms == b.seg_ms


def test_states_are_never_zero_length_or_repeated(small_fleet: Fleet) -> None:
    sim = _sim(small_fleet)
    sim.advance(ORIGIN + 2 * DAY)
    for journal in sim.journals:
        starts = journal.st_start
        assert all(a < b for a, b in itertools.pairwise(starts))
        keys = list(zip(journal.st_code, journal.st_reason, journal.st_product, strict=True))
        assert all(a != b for a, b in itertools.pairwise(keys))
