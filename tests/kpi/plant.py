"""Build event logs for KPI tests: a readable builder for one machine, and a fast synthetic site."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pyarrow as pa

from werk.kpi import Break, Granularity, PlantCalendar, Shift, Window
from werk.samples import EVENT_SCHEMA, UTC_NS, Event, EventKind

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


CODES = np.array(
    ["executing", "micro_stop", "failure", "setup", "starved", "no_order"], dtype=object
)
WEIGHTS = np.array([0.55, 0.2, 0.05, 0.05, 0.1, 0.05])
MEAN_MINUTES = np.array([20.0, 1.0, 25.0, 15.0, 4.0, 10.0])


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
    rng = np.random.default_rng(seed)
    start = datetime.combine(first, time(0), tzinfo=UTC) - timedelta(hours=2)
    span_s = (days * 24 + 4) * 3600
    paths = [f"{site}/area-{m // 50}/line-{m // 10}/m-{m:03d}" for m in range(machines)]
    t0_ns = int(start.timestamp()) * 1_000_000_000
    parts = []
    for path in paths:
        n = int(span_s / 60 / 8) + 10
        which = rng.choice(len(CODES), n, p=WEIGHTS)
        dur = rng.exponential(MEAN_MINUTES[which] * 60).astype(np.int64) + 1
        ts = np.cumsum(dur) - dur[0]
        keep = ts < span_s
        ts, which = ts[keep], which[keep]
        n_counts = int(span_s / count_every.total_seconds())
        cts = np.arange(n_counts, dtype=np.int64) * int(count_every.total_seconds()) + 17
        per_count = count_every.total_seconds() / 60  # about one part a minute
        good = rng.poisson(per_count, n_counts)
        scrap = rng.poisson(per_count / 40, n_counts)
        products = np.where(rng.random(n_counts) < 0.5, "A", "B").astype(object)
        n_all = len(ts) + n_counts
        parts.append(
            pa.table(
                {
                    "path": pa.array([path] * n_all, pa.string()),
                    "ts": pa.array(
                        np.concatenate([ts, cts]) * 1_000_000_000 + t0_ns, pa.int64()
                    ).cast(UTC_NS),
                    "kind": pa.array(["state"] * len(ts) + ["count"] * n_counts, pa.string()),
                    "code": pa.array(list(CODES[which]) + [None] * n_counts, pa.string()),
                    "reason": pa.nulls(n_all, pa.string()),
                    "product": pa.array([None] * len(ts) + list(products), pa.string()),
                    "good": pa.array(np.r_[np.zeros(len(ts), np.int64), good], pa.int64()),
                    "scrap": pa.array(np.r_[np.zeros(len(ts), np.int64), scrap], pa.int64()),
                    "rework": pa.array(np.zeros(n_all, np.int64), pa.int64()),
                    "active": pa.nulls(n_all, pa.bool_()),
                },
                schema=EVENT_SCHEMA,
            )
        )
    return pa.concat_tables(parts), paths
