"""Export a simulated fleet as a werk asset model: sites, calendars, machine types, ideal cycles.

The export registers exactly what the simulator uses: each site's zone, shifts (wall-clock start
and length; a shift's end is its start plus its length on the wall clock, as the simulator
computes it), breaks (offsets from their shift's start, on the wall clock), holidays and weekly
maintenance; one equipment type per machine type with the type's signals and units; and each
machine with its own ideal cycle time per product (the simulator balances a line, so machines of
one type run different ideal cycles), which is the PRI its KPIs must use.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from werk.assets.model import (
    AssetModel,
    BreakSpec,
    EquipmentType,
    Instance,
    ShiftSpec,
    SignalSpec,
    SiteSpec,
    WeeklyMaintenance,
)
from werk.sim.calendar import ShiftPattern
from werk.sim.fleet import Fleet, Site

__all__ = ["asset_model", "site_spec"]


def _plus(at: time, length: timedelta) -> time:
    moment = datetime.combine(date(2000, 1, 1), at) + length
    return moment.time()


def _shift(s: ShiftPattern) -> ShiftSpec:
    return ShiftSpec(
        s.name,
        s.start,
        _plus(s.start, s.length),
        s.weekdays,
        tuple(
            BreakSpec(b.name, _plus(s.start, b.offset), _plus(s.start, b.offset + b.length))
            for b in s.breaks
        ),
    )


def site_spec(site: Site) -> SiteSpec:
    """Return the asset-model site of a simulated site (its calendar as the simulator runs it)."""
    cal = site.calendar
    return SiteSpec(
        site.path,
        site.tz,
        tuple(_shift(s) for s in cal.shifts),
        tuple(sorted(cal.holidays)),
        tuple(WeeklyMaintenance(m.name, m.start, m.length, m.weekdays) for m in cal.maintenance),
    )


def asset_model(fleet: Fleet) -> AssetModel:
    """Return the asset model of a simulated fleet (version 1 of every machine type)."""
    types: dict[str, EquipmentType] = {}
    instances: list[Instance] = []
    for site in fleet.sites:
        for machine in site.machines:
            name = machine.type.value
            if name not in types:
                types[name] = EquipmentType(
                    name,
                    1,
                    tuple(SignalSpec(s.name, s.unit, s.low, s.high) for s in machine.signal_specs),
                )
            instances.append(
                Instance(
                    machine.path,
                    name,
                    1,
                    dict(machine.ideal_cycles),
                    machine.serial,
                )
            )
    return AssetModel(
        tuple(site_spec(s) for s in fleet.sites),
        tuple(types[k] for k in sorted(types)),
        tuple(sorted(instances, key=lambda i: i.path)),
    )
