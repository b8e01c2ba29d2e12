"""Build the simulated fleet from a fleet file and a seed: sites, lines, machines, all resolved.

Everything random about a machine (vendor where the file leaves it open, serial number, how well
its station is balanced, its reliability, sensor offsets, where its PLC counters start) is drawn
from a stream seeded by the fleet seed and the machine's asset path, so the same file and seed give
the same fleet, and adding a machine does not change the others.

Usage::

    fleet = load_fleet()                      # the default fleet shipped with werk
    fleet = load_fleet(Path("plants.yaml"), seed=7)
    for machine in fleet.sites[0].machines: ...
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources
from pathlib import Path

from werk.sim.calendar import BreakPattern, MaintenancePattern, ShiftPattern, SiteCalendar
from werk.sim.catalog import CATALOG, MachineType, TypeModel
from werk.sim.config import (
    WEEKDAYS,
    FleetConfig,
    LineConfig,
    MachineEntry,
    SiteConfig,
    break_offset,
    line_machines,
    read_fleet,
    shift_length,
    site_lines,
    window_length,
)
from werk.sim.view import SignalSpec, Silo


def stable_seed(*parts: object) -> int:
    """Return a 63-bit seed from ``parts``, the same in every process (unlike ``hash``)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


@dataclass(frozen=True, slots=True)
class Product:
    """A product a line makes: its share of orders and ideal cycle at the line's bottleneck."""

    id: str
    share: float
    cycle_time: timedelta
    cycle_times: Mapping[str, timedelta] = field(default_factory=dict)
    """Ideal cycle per machine type, where the fleet file sets one outright."""


@dataclass(frozen=True, slots=True)
class Machine:
    """One simulated machine, resolved: identity, ideal cycles, reliability, sensor offsets.

    Attributes:
        path: ISA-95 asset path.
        name: Last path segment.
        type: Machine type; :attr:`model` holds its figures.
        vendor: Machine builder.
        serial: Serial number.
        line: Asset path of its line.
        position: Index in the line's flow (0 feeds the line).
        seed: Seed of the machine's random streams.
        ideal_cycles: Ideal cycle time per product id (ISO 22400 PRI of this machine).
        reliability: Multiplier on failure rates (1 = the type's figure).
        speed_loss: Mean relative slowdown of a cycle over its ideal time (ISO 22400
            effectiveness loss): worn guides, cautious programs, operators.
        wear_gain: Multiplier on how strongly wear shows in signals (vendor and unit spread).
        noise: Multiplier on signal noise (site and vendor).
        bias: Sensor offset per signal, in the signal's unit.
        counter_start: Good and scrap PLC counters at the start of the simulation.
    """

    path: str
    name: str
    type: MachineType
    vendor: str
    serial: str
    line: str
    position: int
    seed: int
    ideal_cycles: Mapping[str, timedelta]
    reliability: float
    speed_loss: float
    wear_gain: float
    noise: float
    bias: tuple[float, ...]
    counter_start: tuple[int, int]

    @property
    def model(self) -> TypeModel:
        """The machine type's figures."""
        return CATALOG[self.type]

    @property
    def signal_specs(self) -> tuple[SignalSpec, ...]:
        """Signals of the machine's type, in a fixed order."""
        return CATALOG[self.type].signal_specs


@dataclass(frozen=True, slots=True)
class Line:
    """A production line: machines in flow order, each pair joined by a buffer of parts."""

    path: str
    name: str
    machines: tuple[Machine, ...]
    buffer: int
    products: tuple[Product, ...]
    order_size: tuple[int, int]
    order_gap_probability: float
    order_gap: tuple[timedelta, timedelta]
    seed: int


@dataclass(frozen=True, slots=True)
class Ambient:
    """A hall's climate: yearly mean temperature, seasonal and daily swing (K), humidity (%RH)."""

    temperature: float
    seasonal_swing: float
    daily_swing: float
    humidity: float


@dataclass(frozen=True, slots=True)
class Site:
    """A simulated plant.

    Attributes:
        path: ``enterprise/site``.
        name: The site slug.
        tz: IANA time zone.
        silo: The system the site exposes its data through.
        calendar: Shifts, breaks, holidays and maintenance.
        ambient: Hall climate.
        lines: Lines in file order.
        scrap_sensitivity: How strongly process drift raises scrap (material, climate, people).
        seed: Seed of the site's random streams.
    """

    path: str
    name: str
    tz: str
    silo: Silo
    calendar: SiteCalendar
    ambient: Ambient
    lines: tuple[Line, ...]
    scrap_sensitivity: float
    seed: int

    @property
    def machines(self) -> tuple[Machine, ...]:
        """Every machine of the site, in path order."""
        return tuple(sorted((m for line in self.lines for m in line.machines), key=_path))


def _path(machine: Machine) -> str:
    return machine.path


@dataclass(frozen=True, slots=True)
class Fleet:
    """The whole simulated enterprise."""

    enterprise: str
    seed: int
    sample_period: timedelta
    sites: tuple[Site, ...]
    source: str = field(default="", compare=False)
    """The fleet file it was read from."""

    @property
    def machines(self) -> tuple[Machine, ...]:
        """Every machine of the fleet, in path order."""
        return tuple(m for site in self.sites for m in site.machines)

    def site(self, name: str) -> Site:
        """Return the site with slug or path ``name``."""
        for site in self.sites:
            if name in (site.name, site.path):
                return site
        raise KeyError(name)

    def machine(self, path: str) -> Machine:
        """Return the machine at ``path``."""
        for machine in self.machines:
            if machine.path == path:
                return machine
        raise KeyError(path)


def default_fleet_path() -> Path:
    """Return the path of the default fleet file shipped with werk."""
    return Path(str(resources.files("werk.sim").joinpath("fleets/default.yaml")))


def load_fleet(path: Path | None = None, *, seed: int | None = None) -> Fleet:
    """Read a fleet file (the default one if ``path`` is None) and build the fleet.

    Args:
        path: The YAML fleet file.
        seed: Overrides the file's ``seed``.

    Raises:
        ConfigError: The file is missing or wrong; says file, line and field.
    """
    path = path or default_fleet_path()
    config, _ = read_fleet(path)
    return build_fleet(config, seed=seed, source=str(path))


def build_fleet(config: FleetConfig, *, seed: int | None = None, source: str = "") -> Fleet:
    """Resolve a validated fleet file into a :class:`Fleet`."""
    fleet_seed = config.seed if seed is None else seed
    return Fleet(
        enterprise=config.enterprise,
        seed=fleet_seed,
        sample_period=config.sample_period,
        sites=tuple(_build_site(config.enterprise, s, fleet_seed) for s in config.sites),
        source=source,
    )


def _build_site(enterprise: str, cfg: SiteConfig, fleet_seed: int) -> Site:
    site_path = f"{enterprise}/{cfg.name}"
    lines = []
    for area in cfg.areas:
        for entry in site_lines(area):
            line_path = f"{site_path}/{area.name}/{entry.name}"
            lines.append(_build_line(cfg, entry.config, line_path, entry.name, fleet_seed))
    calendar = SiteCalendar(
        cfg.timezone,
        [
            ShiftPattern(
                name=s.name,
                start=s.start,
                length=shift_length(s),
                weekdays=frozenset(WEEKDAYS.index(d) for d in s.days),
                breaks=tuple(BreakPattern(b.name, *break_offset(s, b)) for b in s.breaks),
            )
            for s in cfg.shifts
        ],
        holidays=cfg.holidays,
        maintenance=[
            MaintenancePattern(
                name=m.name,
                start=m.start,
                length=window_length(m.start, m.end, m.duration),
                weekdays=frozenset(WEEKDAYS.index(d) for d in m.days),
            )
            for m in cfg.maintenance
        ],
    )
    amb = cfg.ambient
    return Site(
        path=site_path,
        name=cfg.name,
        tz=cfg.timezone,
        silo=cfg.silo,
        calendar=calendar,
        ambient=Ambient(amb.temperature, amb.seasonal_swing, amb.daily_swing, amb.humidity),
        lines=tuple(lines),
        scrap_sensitivity=cfg.scrap_sensitivity,
        seed=stable_seed(fleet_seed, site_path),
    )


def _build_line(site: SiteConfig, cfg: LineConfig, path: str, name: str, fleet_seed: int) -> Line:
    products = tuple(
        Product(p.id, p.share, p.cycle_time, dict(p.cycle_times)) for p in cfg.products
    )
    entries = line_machines(cfg)
    line_seed = stable_seed(fleet_seed, path)
    # One station is the bottleneck (balance 1.0); the others are a little faster, as after line
    # balancing, so starving and blocking come from stops, not from a badly planned line.
    bottleneck = random.Random(line_seed).randrange(len(entries))
    site_path = path.rsplit("/", 2)[0]
    machines = tuple(
        _build_machine(site, entry, f"{path}/{entry.name}", position, position == bottleneck,
                       products, site_path, fleet_seed)
        for position, entry in enumerate(entries)
    )  # fmt: skip
    return Line(
        path=path,
        name=name,
        machines=machines,
        buffer=cfg.buffer,
        products=products,
        order_size=cfg.order_size,
        order_gap_probability=cfg.order_gap_probability,
        order_gap=cfg.order_gap,
        seed=line_seed,
    )


def _build_machine(
    site: SiteConfig,
    entry: MachineEntry,
    path: str,
    position: int,
    is_bottleneck: bool,
    products: tuple[Product, ...],
    site_path: str,
    fleet_seed: int,
) -> Machine:
    cfg = entry.config
    mtype = MachineType(cfg.type)
    model = CATALOG[mtype]
    seed = stable_seed(fleet_seed, path)
    rng = random.Random(seed)
    vendor = cfg.vendor or site.vendors.get(mtype.value) or rng.choice(model.vendors)
    balance = cfg.balance
    if balance is None:
        balance = 1.0 if is_bottleneck else round(rng.uniform(0.7, 0.95), 3)
    ideal = {
        p.id: p.cycle_times.get(mtype.value)
        or timedelta(milliseconds=round(p.cycle_time / timedelta(milliseconds=1) * balance))
        for p in products
    }
    bias = []
    for signal in model.signals:
        if signal.integrates is not None:
            bias.append(0.0)
            continue
        # A site's sensors share a calibration habit (one offset per signal name, relative to
        # its working level), plus each sensor's own small error. That, with climate and scrap
        # sensitivity, is the domain shift a model trained at one site meets at another.
        habit = random.Random(stable_seed(fleet_seed, site_path, signal.spec.name))
        relative = habit.gauss(0.0, site.sensor_bias) + rng.gauss(0.0, site.sensor_bias / 4)
        bias.append(round(relative * max(abs(signal.run), abs(signal.idle)), 4))
    vendor_rng = random.Random(stable_seed(fleet_seed, "vendor", vendor, mtype))
    if cfg.counter_start is not None:
        counter_start = (cfg.counter_start, 0)
    else:
        counter_start = (rng.randrange(65536), rng.randrange(2000))
    return Machine(
        path=path,
        name=entry.name,
        type=mtype,
        vendor=vendor,
        serial=f"{_vendor_code(vendor)}-{rng.randrange(2012, 2026)}-{rng.randrange(10**6):06d}",
        line=path.rsplit("/", 1)[0],
        position=position,
        seed=seed,
        ideal_cycles=ideal,
        reliability=round(rng.lognormvariate(0.0, 0.3), 4),
        speed_loss=round(min(0.15, 0.03 * rng.lognormvariate(0.0, 0.6)), 4),
        wear_gain=round(vendor_rng.uniform(0.7, 1.4) * rng.uniform(0.9, 1.1), 4),
        noise=round(site.noise * vendor_rng.uniform(0.8, 1.3), 4),
        bias=tuple(bias),
        counter_start=counter_start,
    )


def _vendor_code(vendor: str) -> str:
    letters = [c for c in vendor.upper() if c.isascii() and c.isalpha()]
    return "".join(letters[:3]).ljust(3, "X")
