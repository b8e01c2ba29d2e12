"""Read and write the asset model as a YAML or JSON document; errors name file, line and field.

Format (JSON is the same shape; unknown keys are refused with their line)::

    sites:
      - path: autowerk/berlin
        timezone: Europe/Berlin
        day_start: "00:00"                      # production day start, local (default 00:00)
        shifts:
          - {name: early, start: "06:00", end: "14:00", days: [mon, tue, wed, thu, fri],
             breaks: [{name: coffee, start: "09:00", end: "09:15"}]}
        holidays: [2026-12-25]
        maintenance:                            # weekly {days, start, end|duration_s} or
          - {name: weekly, days: [sat], start: "06:00", duration_s: 21600}
          - {name: overhaul, from: 2026-08-03T06:00:00+02:00, to: ..., scope: autowerk/berlin/x}
        state_mapping: {codes: {cleaning: {element: pdot}}, micro_stop_seconds: 120}
    types:
      - {name: press, version: 1, vendor: Schuler, signals: [{name: force, unit: kN}],
         ideal_cycles: {door: 55.0}, state_mapping: {...}}
    instances:
      - {path: autowerk/berlin/body-shop/line-1/press-01, type: press, version: 1,
         ideal_cycles: {door: 61.1}}

Ideal cycle times are seconds per part. Times of day are ``"HH:MM"`` strings (YAML 1.1 would read
an unquoted ``06:00`` as the number 360; this loader does not).
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from werk.assets.model import (
    WEEKDAYS,
    AssetModel,
    BreakSpec,
    EquipmentType,
    Instance,
    MaintenanceWindow,
    ShiftSpec,
    SignalSpec,
    SiteSpec,
    WeeklyMaintenance,
)
from werk.assets.paths import Level, levels, validate_path, validate_signal
from werk.errors import ConfigError, InvalidInput, PathError

Loc = tuple[str | int, ...]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_KEY = "assets.document"
_WORKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _site_path(value: str) -> str:
    try:
        validate_path(value)
    except PathError as exc:
        raise ValueError(exc.message) from None
    if levels(value)[-1] is not Level.SITE:
        raise ValueError(f"{value!r} is not a site path (enterprise/site)")
    return value


def _machine_path(value: str) -> str:
    try:
        validate_path(value)
    except PathError as exc:
        raise ValueError(exc.message) from None
    if len(value.split("/")) < 5:
        raise ValueError(f"{value!r} is not an equipment path (enterprise/site/area/line/...)")
    return value


def _positive_cycles(value: dict[str, float]) -> dict[str, float]:
    for product, seconds in value.items():
        if not seconds > 0:
            raise ValueError(f"ideal cycle of {product!r} must be > 0 seconds")
    return value


class BreakDoc(_Model):
    name: str = "break"
    start: time
    end: time


class ShiftDoc(_Model):
    name: str
    start: time
    end: time
    days: list[Weekday] = Field(default_factory=lambda: list(_WORKDAYS))
    breaks: list[BreakDoc] = Field(default_factory=list)


class MaintenanceDoc(_Model):
    name: str = "planned maintenance"
    days: list[Weekday] | None = None
    start: time | None = None
    end: time | None = None
    duration_s: float | None = Field(default=None, gt=0, le=7 * 86400)
    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None
    scope: str = ""


class SiteDoc(_Model):
    path: str
    timezone: str
    day_start: time = time(0)
    shifts: list[ShiftDoc] = Field(default_factory=list)
    holidays: list[date] = Field(default_factory=list)
    maintenance: list[MaintenanceDoc] = Field(default_factory=list)
    state_mapping: dict[str, Any] | None = None

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return _site_path(value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value


class SignalDoc(_Model):
    name: str
    unit: str = ""
    low: float | None = None
    high: float | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        try:
            return validate_signal(value)
        except PathError as exc:
            raise ValueError(exc.message) from None


class TypeDoc(_Model):
    name: str
    version: int = Field(default=1, ge=1)
    vendor: str | None = None
    signals: list[SignalDoc] = Field(default_factory=list)
    ideal_cycles: dict[str, float] = Field(default_factory=dict)
    state_mapping: dict[str, Any] | None = None

    @field_validator("ideal_cycles")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        return _positive_cycles(value)


class InstanceDoc(_Model):
    path: str
    type: str
    version: int = Field(default=1, ge=1)
    serial: str | None = None
    ideal_cycles: dict[str, float] = Field(default_factory=dict)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return _machine_path(value)

    @field_validator("ideal_cycles")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        return _positive_cycles(value)


class AssetDoc(_Model):
    sites: list[SiteDoc] = Field(default_factory=list)
    types: list[TypeDoc] = Field(default_factory=list)
    instances: list[InstanceDoc] = Field(default_factory=list)


# -- YAML with lines --------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's base-60 numbers, so ``06:00`` stays a time of day."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:int"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_SCALARS = _Loader("")


def field_name(loc: Sequence[str | int]) -> str:
    """Render a location as ``sites[0].shifts[1].start``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int], file: str) -> Any:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if not isinstance(key_node, yaml.ScalarNode) or key in out:
                raise ConfigError(
                    f"key {key!r} appears twice" if key in out else "keys must be plain names",
                    key=_KEY,
                    file=file,
                    line=key_node.start_mark.line + 1,
                    field=field_name((*loc, str(key))),
                )
            out[key] = _walk(value_node, (*loc, key), lines, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, (*loc, i), lines, file) for i, item in enumerate(node.value)]
    assert isinstance(node, yaml.ScalarNode)
    return _SCALARS.construct_object(node, deep=True)


def _parse(text: str, file: str) -> tuple[dict[str, Any], dict[Loc, int]]:
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ConfigError(
            f"neither valid YAML nor JSON: {exc.problem or exc.context}",
            key=_KEY,
            file=file,
            line=None if mark is None else mark.line + 1,
        ) from exc
    lines: dict[Loc, int] = {}
    data = {} if root is None else _walk(root, (), lines, file)
    if not isinstance(data, dict):
        raise ConfigError(
            "an asset model is a mapping with sites, types, instances", key=_KEY, file=file, line=1
        )
    return data, lines


def _line(lines: Mapping[Loc, int], loc: Loc) -> int | None:
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return lines.get(())


def _error(message: str, loc: Loc, lines: Mapping[Loc, int], file: str) -> ConfigError:
    return ConfigError(message, key=_KEY, file=file, line=_line(lines, loc), field=field_name(loc))


# -- document → model -------------------------------------------------------------------------


def parse_assets(text: str, file: str = "<asset model>") -> AssetModel:
    """Parse an asset model document (YAML or JSON text).

    Raises:
        ConfigError: with ``file``, ``line`` and ``field`` of the first problem.
    """
    data, lines = _parse(text, file)
    return assets_from_data(data, file, lines)


def assets_from_data(
    data: Mapping[str, Any], file: str = "<asset model>", lines: Mapping[Loc, int] | None = None
) -> AssetModel:
    """Build an asset model from parsed data (a JSON body), naming the field of any problem."""
    where = lines or {}
    try:
        doc = AssetDoc.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc: Loc = tuple(p for p in first["loc"] if isinstance(p, str | int))
        while loc and where and _line(where, loc) is None:
            loc = loc[:-1]
        message = str(first["msg"])
        if first["type"] == "extra_forbidden":
            message = f"unknown field {loc[-1]!r}" if loc else message
        elif first["type"] == "missing":
            message = f"field {first['loc'][-1]!r} is required"
        raise _error(message, loc, where, file) from None
    sites = tuple(_site(s, ("sites", n), where, file) for n, s in enumerate(doc.sites))
    types = tuple(
        EquipmentType(
            t.name,
            t.version,
            tuple(SignalSpec(s.name, s.unit, s.low, s.high) for s in t.signals),
            {p: timedelta(seconds=v) for p, v in t.ideal_cycles.items()},
            t.state_mapping,
            t.vendor,
        )
        for t in doc.types
    )
    instances = tuple(
        Instance(
            i.path,
            i.type,
            i.version,
            {p: timedelta(seconds=v) for p, v in i.ideal_cycles.items()},
            i.serial,
        )
        for i in doc.instances
    )
    try:
        return AssetModel(sites, types, instances)
    except InvalidInput as exc:
        index = next((n for n, i in enumerate(instances) if i.path == exc.fields.get("path")), None)
        loc = ("instances", index, str(exc.fields.get("field", ""))) if index is not None else ()
        raise _error(exc.message, loc, where, file) from None


def _days(days: Sequence[str]) -> frozenset[int]:
    return frozenset(WEEKDAYS.index(d) for d in days)


def _site(s: SiteDoc, loc: Loc, lines: Mapping[Loc, int], file: str) -> SiteSpec:
    weekly: list[WeeklyMaintenance] = []
    once: list[MaintenanceWindow] = []
    for n, m in enumerate(s.maintenance):
        mloc = (*loc, "maintenance", n)
        if m.from_ is not None or m.to is not None:
            if m.from_ is None or m.to is None or m.from_.tzinfo is None or m.to.tzinfo is None:
                raise _error(
                    "a one-off window needs from and to with a UTC offset", mloc, lines, file
                )
            if not m.from_ < m.to:
                raise _error("maintenance ends before it starts", (*mloc, "to"), lines, file)
            once.append(MaintenanceWindow(m.name, m.from_, m.to, m.scope))
            continue
        if m.days is None or m.start is None or (m.end is None) == (m.duration_s is None):
            raise _error(
                "weekly maintenance needs days, start and one of end or duration_s",
                mloc,
                lines,
                file,
            )
        if m.duration_s is not None:
            length = timedelta(seconds=m.duration_s)
        else:
            assert m.end is not None
            minutes = (m.end.hour * 60 + m.end.minute) - (m.start.hour * 60 + m.start.minute)
            length = timedelta(minutes=minutes % 1440 or 1440)
        weekly.append(WeeklyMaintenance(m.name, m.start, length, _days(m.days), m.scope))
    return SiteSpec(
        s.path,
        s.timezone,
        tuple(
            ShiftSpec(
                sh.name,
                sh.start,
                sh.end,
                _days(sh.days),
                tuple(BreakSpec(b.name, b.start, b.end) for b in sh.breaks),
            )
            for sh in s.shifts
        ),
        tuple(s.holidays),
        tuple(weekly),
        tuple(once),
        s.day_start,
        s.state_mapping,
    )


# -- model → document -------------------------------------------------------------------------


def _hm(t: time) -> str:
    return t.strftime("%H:%M")


def _names(days: frozenset[int]) -> list[str]:
    return [WEEKDAYS[d] for d in sorted(days)]


def assets_to_data(model: AssetModel) -> dict[str, Any]:
    """Return the asset model as a JSON-ready document (what :func:`parse_assets` reads)."""
    sites = []
    for s in model.sites:
        maintenance: list[dict[str, Any]] = [
            {
                "name": m.name,
                "days": _names(m.days),
                "start": _hm(m.start),
                "duration_s": m.length.total_seconds(),
                **({"scope": m.scope} if m.scope else {}),
            }
            for m in s.weekly_maintenance
        ]
        maintenance += [
            {
                "name": m.name,
                "from": m.start.isoformat(),
                "to": m.end.isoformat(),
                **({"scope": m.scope} if m.scope else {}),
            }
            for m in s.maintenance
        ]
        site: dict[str, Any] = {
            "path": s.path,
            "timezone": s.tz,
            "day_start": _hm(s.day_start),
            "shifts": [
                {
                    "name": sh.name,
                    "start": _hm(sh.start),
                    "end": _hm(sh.end),
                    "days": _names(sh.days),
                    "breaks": [
                        {"name": b.name, "start": _hm(b.start), "end": _hm(b.end)}
                        for b in sh.breaks
                    ],
                }
                for sh in s.shifts
            ],
            "holidays": [d.isoformat() for d in s.holidays],
            "maintenance": maintenance,
        }
        if s.state_mapping is not None:
            site["state_mapping"] = dict(s.state_mapping)
        sites.append(site)
    types = []
    for t in model.types:
        doc: dict[str, Any] = {
            "name": t.name,
            "version": t.version,
            "signals": [
                {
                    "name": g.name,
                    "unit": g.unit,
                    **({"low": g.low} if g.low is not None else {}),
                    **({"high": g.high} if g.high is not None else {}),
                }
                for g in t.signals
            ],
            "ideal_cycles": {p: v.total_seconds() for p, v in sorted(t.ideal_cycles.items())},
        }
        if t.vendor is not None:
            doc["vendor"] = t.vendor
        if t.state_mapping is not None:
            doc["state_mapping"] = dict(t.state_mapping)
        types.append(doc)
    instances = []
    for i in model.instances:
        inst: dict[str, Any] = {"path": i.path, "type": i.type, "version": i.version}
        if i.ideal_cycles:
            inst["ideal_cycles"] = {p: v.total_seconds() for p, v in sorted(i.ideal_cycles.items())}
        if i.serial is not None:
            inst["serial"] = i.serial
        instances.append(inst)
    return {"sites": sites, "types": types, "instances": instances}


def dump_assets(model: AssetModel) -> str:
    """Return the asset model as JSON text (valid YAML too)."""
    return json.dumps(assets_to_data(model), indent=2, ensure_ascii=False)
