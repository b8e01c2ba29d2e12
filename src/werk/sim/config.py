"""Read a fleet file (YAML) into validated models; refuse bad input with file, line and field.

The file describes enterprise → sites → areas → lines → machines (see
``werk/sim/fleets/default.yaml`` for a commented example). Loading happens in three steps:

1. YAML is *composed* (not just loaded) so every value keeps its line; duplicate keys are refused.
2. Pydantic checks shapes and types (``extra="forbid"`` catches misspelt keys).
3. :func:`check` applies the rules pydantic cannot see across fields: unique asset paths, a real
   IANA time zone, a possible shift pattern (no overlaps in the week, breaks inside their shift,
   no shift of zero or more than 24 hours).

Every failure is a :class:`~werk.errors.ConfigError` with ``file``, ``line`` (1-based) and
``field`` (``sites[0].shifts[1].breaks[0].start``).

Times of day must be written as strings or ``HH:MM``; the loader reads ``06:00`` as a time, not as
YAML 1.1's base-60 integer 360, which would silently shift a shift.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from werk.assets.paths import segment_problem
from werk.errors import ConfigError
from werk.sim.catalog import MachineType
from werk.sim.view import Silo

Loc = tuple[str | int, ...]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_DAY = timedelta(days=1)
_WEEK = timedelta(days=7)


def _slug(value: str) -> str:
    problem = segment_problem(value)
    if problem is not None:
        raise ValueError(f"{value!r} {problem}")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class BreakConfig(_Model):
    """A break inside a shift, in the site's wall-clock time."""

    name: str = "break"
    start: time
    end: time


class ShiftConfig(_Model):
    """A shift in the site's wall-clock time; ``end`` may fall on the next day."""

    name: str
    start: time
    end: time | None = None
    duration: timedelta | None = Field(default=None, description="Instead of end.")
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    breaks: list[BreakConfig] = Field(default_factory=list)

    _check_name = field_validator("name")(_slug)


class MaintenanceConfig(_Model):
    """A weekly planned-maintenance window; it overrides shifts and breaks."""

    name: str = "planned"
    days: list[Weekday]
    start: time
    end: time | None = None
    duration: timedelta | None = None


class AmbientConfig(_Model):
    """The hall climate: yearly mean, seasonal and daily swing, humidity."""

    temperature: float = 20.0
    seasonal_swing: float = 6.0
    daily_swing: float = 3.0
    humidity: float = 50.0


class ProductConfig(_Model):
    """A product a line makes: its share of orders and its ideal cycle times.

    ``cycle_time`` is the ideal cycle at the line's bottleneck; other stations get it times
    their balance. ``cycle_times`` sets the ideal cycle for a machine type outright.
    """

    id: str
    share: Annotated[float, Field(gt=0)] = 1.0
    cycle_time: timedelta
    cycle_times: dict[str, timedelta] = Field(default_factory=dict)

    _check_id = field_validator("id")(_slug)

    @field_validator("cycle_time")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        return _cycle(value)

    @field_validator("cycle_times")
    @classmethod
    def _positive_each(cls, value: dict[str, timedelta]) -> dict[str, timedelta]:
        return {k: _cycle(v) for k, v in value.items()}


def _cycle(value: timedelta) -> timedelta:
    if value < timedelta(seconds=1) or value > timedelta(hours=4):
        raise ValueError("must lie between 1 second and 4 hours")
    return value


class MachineConfig(_Model):
    """A machine, or ``count`` machines of the same type in a row."""

    type: str
    name: str | None = None
    count: Annotated[int, Field(ge=1, le=1000)] = 1
    vendor: str | None = None
    balance: Annotated[float, Field(gt=0.2, le=1.0)] | None = None
    counter_start: Annotated[int, Field(ge=0, le=65535)] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else _slug(value)


class LineConfig(_Model):
    """A production line: machines in flow order, chained by buffers of ``buffer`` parts."""

    name: str
    count: Annotated[int, Field(ge=1, le=1000)] = 1
    buffer: Annotated[int, Field(ge=1, le=1000)] = 3
    products: Annotated[list[ProductConfig], Field(min_length=1)]
    order_size: tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]] = (80, 400)
    order_gap_probability: Annotated[float, Field(ge=0, le=1)] = 0.25
    order_gap: tuple[timedelta, timedelta] = (timedelta(minutes=5), timedelta(minutes=45))
    machines: Annotated[list[MachineConfig], Field(min_length=1)]

    _check_name = field_validator("name")(_slug)


class AreaConfig(_Model):
    """An area of a site (body shop, paint shop...)."""

    name: str
    lines: Annotated[list[LineConfig], Field(min_length=1)]

    _check_name = field_validator("name")(_slug)


class SiteConfig(_Model):
    """A plant: its time zone, calendar, climate, vendors, the silo it exposes, its areas."""

    name: str
    timezone: str
    silo: Silo
    shifts: Annotated[list[ShiftConfig], Field(min_length=1)]
    holidays: list[date] = Field(default_factory=list)
    maintenance: list[MaintenanceConfig] = Field(default_factory=list)
    ambient: AmbientConfig = Field(default_factory=AmbientConfig)
    vendors: dict[str, str] = Field(default_factory=dict)
    sensor_bias: Annotated[float, Field(ge=0, le=0.5)] = 0.02
    noise: Annotated[float, Field(ge=0, le=10)] = 1.0
    scrap_sensitivity: Annotated[float, Field(ge=0, le=100)] = 6.0
    areas: Annotated[list[AreaConfig], Field(min_length=1)]

    _check_name = field_validator("name")(_slug)


class FleetConfig(_Model):
    """The whole fleet file."""

    enterprise: str
    seed: int = 0
    sample_period: timedelta = timedelta(seconds=1)
    sites: Annotated[list[SiteConfig], Field(min_length=1)]

    _check_name = field_validator("enterprise")(_slug)


# --- YAML with line numbers ----------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's base-60 numbers, so ``06:00`` stays a time of day."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:int",
                                                              "tag:yaml.org,2002:float")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}  # fmt: skip
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
        r"|\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


class LineMap:
    """Where each value of a fleet file sits: location tuple → 1-based line."""

    def __init__(self, file: str, lines: Mapping[Loc, int]) -> None:
        self.file = file
        self._lines = dict(lines)

    def line(self, loc: Sequence[str | int]) -> int | None:
        """Return the line of ``loc``, or of its nearest enclosing value that has one."""
        key = tuple(loc)
        while key:
            if key in self._lines:
                return self._lines[key]
            key = key[:-1]
        return self._lines.get((), None)

    def error(self, message: str, loc: Sequence[str | int]) -> ConfigError:
        """Build a :class:`ConfigError` for the value at ``loc``."""
        return ConfigError(
            message, key="sim.fleet", file=self.file, line=self.line(loc), field=field_name(loc)
        )


def field_name(loc: Sequence[str | int]) -> str:
    """Render a location as ``sites[0].shifts[1].start``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int], file: str) -> Any:
    """Turn a composed node into plain data, noting each value's line."""
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError(
                    "mapping keys must be plain names",
                    key="sim.fleet",
                    file=file,
                    line=key_node.start_mark.line + 1,
                    field=field_name(loc),
                )
            key = key_node.value
            if key in out:
                raise ConfigError(
                    f"key {key!r} appears twice",
                    key="sim.fleet",
                    file=file,
                    line=key_node.start_mark.line + 1,
                    field=field_name((*loc, key)),
                )
            out[key] = _walk(value_node, (*loc, key), lines, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, (*loc, i), lines, file) for i, item in enumerate(node.value)]
    assert isinstance(node, yaml.ScalarNode)
    return _construct_scalar(node)


_SCALAR_LOADER = _Loader("")


def _construct_scalar(node: yaml.ScalarNode) -> Any:
    return _SCALAR_LOADER.construct_object(node, deep=True)


def parse_text(text: str, file: str) -> tuple[dict[str, Any], LineMap]:
    """Parse YAML text into plain data and its line map; refuse syntax errors with their line."""
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ConfigError(
            f"not valid YAML: {exc.problem or exc.context}",
            key="sim.fleet",
            file=file,
            line=None if mark is None else mark.line + 1,
        ) from exc
    if root is None:
        raise ConfigError("the fleet file is empty", key="sim.fleet", file=file, line=1)
    lines: dict[Loc, int] = {}
    data = _walk(root, (), lines, file)
    if not isinstance(data, dict):
        raise ConfigError(
            "a fleet file is a mapping with enterprise, sites...",
            key="sim.fleet",
            file=file,
            line=1,
        )
    return data, LineMap(file, lines)


def _pydantic_error(exc: ValidationError, lines: LineMap) -> ConfigError:
    first = exc.errors()[0]
    loc = tuple(p for p in first["loc"] if isinstance(p, str | int))
    # Pydantic adds the failing union member or validator to the location; keep what the file has.
    while loc and lines.line(loc) is None:
        loc = loc[:-1]
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = f"unknown field {loc[-1]!r}" if loc else message
    elif first["type"] == "missing":
        message = f"field {first['loc'][-1]!r} is required"
    elif first["type"] in ("literal_error", "enum"):
        message = f"{first['input']!r} is not one of {first['ctx']['expected']}"
    count = exc.error_count()
    if count > 1:
        message += f" (and {count - 1} more problem{'s' if count > 2 else ''})"
    return lines.error(message, loc if first["type"] != "missing" else tuple(first["loc"]))


def parse_fleet(text: str, file: str) -> tuple[FleetConfig, LineMap]:
    """Parse and validate a fleet file's text; raise :class:`ConfigError` on any problem."""
    data, lines = parse_text(text, file)
    try:
        config = FleetConfig.model_validate(data)
    except ValidationError as exc:
        raise _pydantic_error(exc, lines) from None
    check(config, lines)
    return config, lines


def read_fleet(path: Path) -> tuple[FleetConfig, LineMap]:
    """Read and validate the fleet file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read fleet file: {exc.strerror}", key="sim.fleet", file=str(path)
        ) from exc
    return parse_fleet(text, str(path))


# --- Rules across fields -------------------------------------------------------------------------


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def shift_length(shift: ShiftConfig) -> timedelta:
    """Return a shift's wall-clock length; an ``end`` at or before ``start`` is on the next day."""
    if shift.duration is not None:
        return shift.duration
    assert shift.end is not None
    minutes = (_minutes(shift.end) - _minutes(shift.start)) % (24 * 60)
    return timedelta(minutes=minutes or 24 * 60)


def window_length(start: time, end: time | None, duration: timedelta | None) -> timedelta:
    """Return the length of a start/end or start/duration window; ``end`` may be next day."""
    if duration is not None:
        return duration
    assert end is not None
    minutes = (_minutes(end) - _minutes(start)) % (24 * 60)
    return timedelta(minutes=minutes)


def break_offset(shift: ShiftConfig, brk: BreakConfig) -> tuple[timedelta, timedelta]:
    """Return a break's start offset from its shift's start and its length (wall clock)."""
    offset = timedelta(minutes=(_minutes(brk.start) - _minutes(shift.start)) % (24 * 60))
    length = timedelta(minutes=(_minutes(brk.end) - _minutes(brk.start)) % (24 * 60))
    return offset, length


def _week_spans(
    start: time, length: timedelta, days: Sequence[Weekday]
) -> Iterator[tuple[int, int]]:
    """Yield the minutes of the week a daily window occupies, split where the week wraps."""
    week = 7 * 24 * 60
    for day in days:
        a = WEEKDAYS.index(day) * 24 * 60 + _minutes(start)
        b = a + int(length.total_seconds() // 60)
        if b <= week:
            yield a, b
        else:
            yield a, week
            yield 0, b - week


def check(config: FleetConfig, lines: LineMap) -> None:
    """Apply the rules across fields; raise :class:`ConfigError` for the first one broken."""
    if config.sample_period <= timedelta(0) or (600_000_000 % _us(config.sample_period)) != 0:
        raise lines.error(
            "sample_period must divide 10 minutes (1 s, 2 s, 5 s, 10 s, 1 min...)",
            ("sample_period",),
        )
    paths: dict[str, Loc] = {}

    def claim(path: str, loc: Loc) -> None:
        if path in paths:
            raise lines.error(
                f"duplicate asset path {path!r} (first defined at line "
                f"{lines.line(paths[path])}, field {field_name(paths[path])})",
                loc,
            )
        paths[path] = loc

    for si, site in enumerate(config.sites):
        sloc: Loc = ("sites", si)
        claim(f"{config.enterprise}/{site.name}", (*sloc, "name"))
        try:
            zoneinfo.ZoneInfo(site.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise lines.error(
                f"{site.timezone!r} is not an IANA time zone (e.g. Europe/Berlin)",
                (*sloc, "timezone"),
            ) from None
        _check_shifts(site, sloc, lines)
        for vendor_type in site.vendors:
            if vendor_type not in set(MachineType):
                raise lines.error(
                    f"unknown machine type {vendor_type!r} in vendors; known: "
                    f"{', '.join(MachineType)}",
                    (*sloc, "vendors", vendor_type),
                )
        for ai, area in enumerate(site.areas):
            aloc: Loc = (*sloc, "areas", ai)
            area_path = f"{config.enterprise}/{site.name}/{area.name}"
            claim(area_path, (*aloc, "name"))
            for line in site_lines(area):
                _check_line(line.config, (*aloc, "lines", line.index), lines)
                line_path = f"{area_path}/{line.name}"
                claim(line_path, (*aloc, "lines", line.index, "name"))
                for machine in line_machines(line.config):
                    claim(
                        f"{line_path}/{machine.name}",
                        (*aloc, "lines", line.index, "machines", machine.index, "name"),
                    )


def _us(value: timedelta) -> int:
    return value // timedelta(microseconds=1)


def _check_line(line: LineConfig, loc: Loc, lines: LineMap) -> None:
    low, high = line.order_size
    if low > high:
        raise lines.error(
            "order_size is [smallest, largest]; smallest > largest", (*loc, "order_size")
        )
    gap_low, gap_high = line.order_gap
    if gap_low < timedelta(0) or gap_low > gap_high:
        raise lines.error("order_gap is [shortest, longest], both ≥ 0", (*loc, "order_gap"))
    ids = [p.id for p in line.products]
    for pi, product in enumerate(line.products):
        if ids.index(product.id) != pi:
            raise lines.error(f"product {product.id!r} listed twice", (*loc, "products", pi, "id"))
        for mtype in product.cycle_times:
            if mtype not in set(MachineType):
                raise lines.error(
                    f"unknown machine type {mtype!r} in cycle_times; known: "
                    f"{', '.join(MachineType)}",
                    (*loc, "products", pi, "cycle_times", mtype),
                )
    for mi, machine in enumerate(line.machines):
        if machine.type not in set(MachineType):
            raise lines.error(
                f"unknown machine type {machine.type!r}; known: {', '.join(MachineType)}",
                (*loc, "machines", mi, "type"),
            )


def _check_shifts(site: SiteConfig, sloc: Loc, lines: LineMap) -> None:
    spans: list[tuple[int, int, int]] = []
    for i, shift in enumerate(site.shifts):
        loc: Loc = (*sloc, "shifts", i)
        if (shift.end is None) == (shift.duration is None):
            raise lines.error("give a shift either end or duration", loc)
        length = shift_length(shift)
        if length <= timedelta(0):
            raise lines.error("a shift must last longer than zero", (*loc, "duration"))
        if length > _DAY:
            raise lines.error(
                f"shift lasts {length}; a shift may last at most 24 hours",
                (*loc, "duration" if shift.duration is not None else "end"),
            )
        if not shift.days:
            raise lines.error("a shift needs at least one day", (*loc, "days"))
        if len(set(shift.days)) != len(shift.days):
            raise lines.error("a day is listed twice", (*loc, "days"))
        names = [s.name for s in site.shifts]
        if names.index(shift.name) != i:
            raise lines.error(f"shift name {shift.name!r} used twice", (*loc, "name"))
        taken: list[tuple[timedelta, timedelta, int]] = []
        for bi, brk in enumerate(shift.breaks):
            offset, blen = break_offset(shift, brk)
            if blen <= timedelta(0):
                raise lines.error("a break must end after it starts", (*loc, "breaks", bi, "end"))
            if offset + blen > length:
                field = "start" if offset >= length else "end"
                raise lines.error(
                    f"break {brk.name!r} {brk.start:%H:%M}–{brk.end:%H:%M} lies outside shift "
                    f"{shift.name!r} ({shift.start:%H:%M} for {length})",
                    (*loc, "breaks", bi, field),
                )
            for other_offset, other_len, other in taken:
                if offset < other_offset + other_len and other_offset < offset + blen:
                    raise lines.error(
                        f"break overlaps break {other} of the same shift",
                        (*loc, "breaks", bi, "start"),
                    )
            taken.append((offset, blen, bi))
        for a, b in _week_spans(shift.start, length, shift.days):
            for oa, ob, other in spans:
                if a < ob and oa < b:
                    day = WEEKDAYS[max(a, oa) // (24 * 60)]
                    raise lines.error(
                        f"shift {shift.name!r} overlaps shift {site.shifts[other].name!r} on {day}",
                        (*loc, "start"),
                    )
            spans.append((a, b, i))
    for mi, window in enumerate(site.maintenance):
        loc = (*sloc, "maintenance", mi)
        if (window.end is None) == (window.duration is None):
            raise lines.error("give a maintenance window either end or duration", loc)
        length = window_length(window.start, window.end, window.duration)
        if length <= timedelta(0) or length > _WEEK:
            raise lines.error("a maintenance window lasts more than zero and at most a week", loc)
        if not window.days:
            raise lines.error("a maintenance window needs at least one day", (*loc, "days"))


class LineEntry:
    """A line after ``count`` expansion: its name and the index of its entry in the file."""

    __slots__ = ("config", "index", "name")

    def __init__(self, config: LineConfig, index: int, name: str) -> None:
        self.config = config
        self.index = index
        self.name = name


class MachineEntry:
    """A machine after ``count`` expansion: its name and the index of its entry in the file."""

    __slots__ = ("config", "index", "name")

    def __init__(self, config: MachineConfig, index: int, name: str) -> None:
        self.config = config
        self.index = index
        self.name = name


def site_lines(area: AreaConfig) -> list[LineEntry]:
    """Expand an area's line entries (``count: 20`` gives ``name-01`` ... ``name-20``)."""
    out: list[LineEntry] = []
    for i, line in enumerate(area.lines):
        if line.count == 1:
            out.append(LineEntry(line, i, line.name))
        else:
            out.extend(LineEntry(line, i, f"{line.name}-{n:02d}") for n in range(1, line.count + 1))
    return out


def line_machines(line: LineConfig) -> list[MachineEntry]:
    """Expand a line's machine entries in flow order.

    Unnamed machines are numbered per type across the line (``press-01``, ``press-02``); a named
    entry with ``count`` > 1 gets ``name-01``...
    """
    out: list[MachineEntry] = []
    numbers: dict[str, int] = {}
    for i, machine in enumerate(line.machines):
        for n in range(1, machine.count + 1):
            if machine.name is None:
                numbers[machine.type] = numbers.get(machine.type, 0) + 1
                name = f"{machine.type.replace('_', '-')}-{numbers[machine.type]:02d}"
            elif machine.count == 1:
                name = machine.name
            else:
                name = f"{machine.name}-{n:02d}"
            out.append(MachineEntry(machine, i, name))
    return out
