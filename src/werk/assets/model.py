"""Hold the asset model: sites with their calendars, versioned equipment types, and instances.

The asset model is what KPIs need to know about the plant besides its events:

* a **site** (``enterprise/site``) has an IANA time zone, weekly shift patterns with breaks,
  holidays, weekly or one-off planned maintenance, and may override the state mapping (plant
  policy: cleaning as planned down time...);
* an **equipment type** (``press``) has signals with units, an ideal cycle time (ISO 22400 PRI)
  per product and may override the state mapping (the machine builder's vocabulary). Types are
  *versioned*: changing a type makes a new version, and instances keep the version they were
  created with until they are moved explicitly (:meth:`AssetModel.move`);
* an **instance** is a machine at an asset path, of one type version, optionally with its own
  ideal cycle times (a machine balanced slower than its type's figure).

Pure data: no I/O. State mappings stay plain mappings here (``codes``, ``ranges``,
``micro_stop_seconds``, ``failure_merge_seconds``) because the KPI layer, above this one, reads
them (:func:`werk.kpi.mapping.override_from_dict`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Final

from werk.assets.paths import is_under, site_of
from werk.errors import Conflict, InvalidInput, NotFound

WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday names, index 0 = Monday (as :meth:`date.weekday`)."""

JsonObject = Mapping[str, object]


@dataclass(frozen=True, slots=True)
class BreakSpec:
    """A planned break inside a shift, in local wall-clock time."""

    name: str
    start: time
    end: time


@dataclass(frozen=True, slots=True)
class ShiftSpec:
    """A weekly shift in local wall-clock time; ``end`` not after ``start`` crosses midnight.

    ``days`` are the weekdays (0 Monday) the shift *starts* on.
    """

    name: str
    start: time
    end: time
    days: frozenset[int] = frozenset(range(5))
    breaks: tuple[BreakSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class WeeklyMaintenance:
    """Planned maintenance every week on ``days`` from ``start`` for ``length`` (wall clock)."""

    name: str
    start: time
    length: timedelta
    days: frozenset[int]
    scope: str = ""


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """One planned maintenance window (aware datetimes) for the assets under ``scope``."""

    name: str
    start: datetime
    end: datetime
    scope: str = ""


@dataclass(frozen=True, slots=True)
class SiteSpec:
    """A site: its zone, calendar and mapping policy.

    Attributes:
        path: ``enterprise/site``.
        tz: IANA time zone.
        shifts: Weekly shift patterns.
        holidays: Local dates without shifts (a night shift begun the day before still runs).
        weekly_maintenance: Recurring planned maintenance.
        maintenance: One-off planned maintenance windows.
        day_start: When the production day starts (local).
        state_mapping: Overrides of the state mapping for the whole site.
    """

    path: str
    tz: str
    shifts: tuple[ShiftSpec, ...] = ()
    holidays: tuple[date, ...] = ()
    weekly_maintenance: tuple[WeeklyMaintenance, ...] = ()
    maintenance: tuple[MaintenanceWindow, ...] = ()
    day_start: time = time(0)
    state_mapping: JsonObject | None = None


@dataclass(frozen=True, slots=True)
class SignalSpec:
    """A signal an equipment type has, with its unit (units are data, never in names)."""

    name: str
    unit: str = ""
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True, slots=True)
class EquipmentType:
    """One version of an equipment type.

    Attributes:
        name: Type name (``press``).
        version: 1, 2, ...: a changed type is a new version.
        signals: Its signals.
        ideal_cycles: Planned run time per item (PRI) per product.
        state_mapping: Overrides of the state mapping for machines of this type.
        vendor: Machine builder, if one.
    """

    name: str
    version: int = 1
    signals: tuple[SignalSpec, ...] = ()
    ideal_cycles: Mapping[str, timedelta] = field(default_factory=dict)
    state_mapping: JsonObject | None = None
    vendor: str | None = None

    @property
    def key(self) -> str:
        """``name@version``: the type version's identity."""
        return f"{self.name}@{self.version}"

    def same_content(self, other: EquipmentType) -> bool:
        """Tell whether two versions define the same type (everything but the version)."""
        return replace(self, version=other.version) == other


@dataclass(frozen=True, slots=True)
class Instance:
    """A machine at an asset path, of one type version, with optional own ideal cycle times."""

    path: str
    type: str
    version: int = 1
    ideal_cycles: Mapping[str, timedelta] = field(default_factory=dict)
    serial: str | None = None


@dataclass(frozen=True, slots=True)
class AssetModel:
    """The asset model of an enterprise: sites, type versions, instances.

    Raises:
        InvalidInput: an instance under no site, of an unknown type version, or a repeated key.
    """

    sites: tuple[SiteSpec, ...] = ()
    types: tuple[EquipmentType, ...] = ()
    instances: tuple[Instance, ...] = ()

    def __post_init__(self) -> None:
        _unique((s.path for s in self.sites), "site")
        _unique((t.key for t in self.types), "type version")
        _unique((i.path for i in self.instances), "instance")
        sites = {s.path for s in self.sites}
        types = {t.key for t in self.types}
        for i in self.instances:
            if site_of(i.path) not in sites:
                raise InvalidInput(
                    f"instance {i.path} lies under no site of the model",
                    key="assets.unknown_site",
                    path=i.path,
                    field="path",
                )
            if f"{i.type}@{i.version}" not in types:
                raise InvalidInput(
                    f"instance {i.path}: type {i.type!r} version {i.version} is not in the model",
                    key="assets.unknown_type",
                    path=i.path,
                    field="type",
                )

    # -- lookups -------------------------------------------------------------------------------

    def site(self, path: str) -> SiteSpec:
        """Return the site that ``path`` lies in.

        Raises:
            NotFound: no site of the model contains ``path``.
        """
        site = site_of(path)
        for s in self.sites:
            if s.path == site:
                return s
        raise NotFound(f"no site in the asset model for {path}", key="assets.not_found", path=path)

    def type_of(self, instance: Instance) -> EquipmentType:
        """Return the type version ``instance`` is of."""
        return self.type_version(instance.type, instance.version)

    def type_version(self, name: str, version: int) -> EquipmentType:
        """Return a type version.

        Raises:
            NotFound: the model has no such version.
        """
        for t in self.types:
            if t.name == name and t.version == version:
                return t
        raise NotFound(f"no type {name!r} version {version}", key="assets.not_found", field="type")

    def latest(self, name: str) -> EquipmentType:
        """Return the newest version of type ``name``."""
        versions = [t for t in self.types if t.name == name]
        if not versions:
            raise NotFound(f"no type {name!r}", key="assets.not_found", field="type")
        return max(versions, key=lambda t: t.version)

    def instance(self, path: str) -> Instance:
        """Return the instance at ``path``.

        Raises:
            NotFound: no instance is at ``path``.
        """
        for i in self.instances:
            if i.path == path:
                return i
        raise NotFound(f"no machine at {path}", key="assets.not_found", path=path)

    def under(self, prefix: str) -> tuple[Instance, ...]:
        """Return the instances at or below ``prefix``, in path order."""
        return tuple(sorted((i for i in self.instances if is_under(i.path, prefix)), key=_path))

    def knows(self, path: str) -> bool:
        """Tell whether ``path`` is a site or an instance of the model, or lies above one."""
        return any(is_under(i.path, path) for i in self.instances) or any(
            is_under(s.path, path) for s in self.sites
        )

    def ideal_cycle(self, path: str, product: str | None) -> timedelta | None:
        """Return the PRI of ``product`` on the machine at ``path``: its own, else its type's."""
        if product is None:
            return None
        try:
            inst = self.instance(path)
        except NotFound:
            return None
        own = inst.ideal_cycles.get(product)
        if own is not None:
            return own
        return self.type_of(inst).ideal_cycles.get(product)

    # -- changes -------------------------------------------------------------------------------

    def with_type(self, new: EquipmentType) -> AssetModel:
        """Return the model with a changed type as a new version (instances stay where they are).

        The version number is the next free one; a type equal to its latest version is no change.
        """
        existing = [t for t in self.types if t.name == new.name]
        if existing:
            newest = max(existing, key=lambda t: t.version)
            if newest.same_content(new):
                return self
            new = replace(new, version=newest.version + 1)
        else:
            new = replace(new, version=1)
        return replace(self, types=(*self.types, new))

    def move(self, path: str, version: int) -> AssetModel:
        """Return the model with the instance at ``path`` moved to another version of its type.

        Raises:
            NotFound: no such instance or version.
        """
        inst = self.instance(path)
        self.type_version(inst.type, version)
        return replace(
            self,
            instances=tuple(
                replace(i, version=version) if i.path == path else i for i in self.instances
            ),
        )

    def merged(self, other: AssetModel) -> AssetModel:
        """Return this model with ``other``'s sites, type versions and instances put over it.

        Raises:
            Conflict: ``other`` redefines an existing type version differently (make a new
                version instead).
        """
        types = {t.key: t for t in self.types}
        for t in other.types:
            old = types.get(t.key)
            if old is not None and old != t:
                raise Conflict(
                    f"type {t.key} exists with other content; give the change a new version",
                    key="assets.type_version_exists",
                    field="types",
                )
            types[t.key] = t
        sites = {s.path: s for s in self.sites} | {s.path: s for s in other.sites}
        instances = {i.path: i for i in self.instances} | {i.path: i for i in other.instances}
        return AssetModel(
            tuple(sites[k] for k in sorted(sites)),
            tuple(sorted(types.values(), key=lambda t: (t.name, t.version))),
            tuple(instances[k] for k in sorted(instances)),
        )


def _path(instance: Instance) -> str:
    return instance.path


def _unique(keys: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    for k in keys:
        if k in seen:
            raise InvalidInput(f"{what} {k} appears twice", key="assets.duplicate", field=what)
        seen.add(k)
