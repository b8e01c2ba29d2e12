"""Build event logs for KPI tests: a readable builder for one machine, and a fast synthetic site."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import pyarrow as pa

from bench.kpi import events
from werk.kpi import Break, Granularity, PlantCalendar, Shift, Window
from werk.samples import Event, EventKind

PRESS = "acme/berlin/body/line-1/press-01"
T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)  # a Monday


def window(start: datetime, minutes: float, label: str = "w") -> Window:
    """Return a bare window of ``minutes`` from ``start``."""
    end = start + timedelta(minutes=minutes)
    return Window(start, end, Granularity.SHIFT, start.date(), label, "test")


@dataclass
class Log:
    """Events of one machine, written in minutes after ``start``."""

    path: str = PRESS
    start: datetime = T0
    events: list[Event] = field(default_factory=list)

    def at(self, minute: float) -> datetime:
        return self.start + timedelta(minutes=minute)

    def state(self, minute: float, code: str | None, reason: str | None = None) -> Log:
        self.events.append(Event(self.path, self.at(minute), EventKind.STATE, code, reason))
        return self

    def count(
        self,
        minute: float,
        good: int = 0,
        scrap: int = 0,
        rework: int = 0,
        product: str | None = None,
    ) -> Log:
        self.events.append(
            Event(
                self.path,
                self.at(minute),
                EventKind.COUNT,
                product=product,
                good=good,
                scrap=scrap,
                rework=rework,
            )
        )
        return self

    def order(self, minute: float, order: str | None) -> Log:
        self.events.append(Event(self.path, self.at(minute), EventKind.ORDER, order))
        return self

    def product(self, minute: float, product: str) -> Log:
        self.events.append(Event(self.path, self.at(minute), EventKind.PRODUCT, product))
        return self


def three_shifts(tz: str, *, day_start: time = time(6)) -> PlantCalendar:
    """Return a 3-shift, 5-day calendar (Monday 06:00 to Saturday 06:00) with 30-min breaks."""
    return PlantCalendar(
        tz,
        (
            Shift("early", time(6), time(14), breaks=(Break(time(10), time(10, 30)),)),
            Shift("late", time(14), time(22), breaks=(Break(time(18), time(18, 30)),)),
            Shift("night", time(22), time(6), breaks=(Break(time(2), time(2, 30)),)),
        ),
        day_start=day_start,
    )


def synthetic_site(
    machines: int,
    first: date,
    days: int,
    *,
    seed: int = 5,
    count_every: timedelta = timedelta(minutes=5),
    site: str = "acme/berlin",
) -> tuple[pa.Table, list[str]]:
    """Return a random but plausible event table for a site (state changes and counts)."""
    paths = [f"{site}/area-{m // 50}/line-{m // 10}/m-{m:03d}" for m in range(machines)]
    table = events(paths, first, days, seed, margin=timedelta(hours=2), count_every=count_every)
    return table, paths
