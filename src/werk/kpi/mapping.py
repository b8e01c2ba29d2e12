"""Map machine state codes to ISO 22400-2 time elements, as data.

A state code (the ``code`` of a ``state`` event) means nothing to a KPI until it is mapped to a time
element of the ISO 22400-2 time model (standards.md §3.1). The mapping is data, not code: plants
disagree on breaks and cleaning, machine builders invent their own codes, so every site and every
equipment type may override the defaults (§3.4: "the table must be data").

Default table (:data:`DEFAULT_MAPPING`; ``short`` = kept in APT as a minor stop when the stop lasts
less than the micro-stop threshold):

==============================================  ===========  =====================================
source state                                    element      flags
==============================================  ===========  =====================================
``executing`` · UMH 10000–29999 · OPC           APT          —
``Executing``, ``Executing/Processing``
``setup`` · UMH 100000, 130000 ·                AUST         —
OPC ``NotExecuting/Setup``
UMH 110000 cleaning, 120000 emptying            AUST         plant policy may make them PDOT
``micro_stop`` · UMH 50000                      ADET         short
UMH 40000 unspecified stop                      ADET         short
``failure`` · UMH 180000 ·                      ADET         failure (MTBF/MTTR)
OPC ``OutOfService``, ``OutOfService/*``
``starved`` · ``blocked`` · UMH 60000–80000     ADET         external (cause up- or downstream)
UMH 90000 material issue, 220000 technical      ADET         —
UMH 140000 operator absent, 150000 break        ADET         unplanned; a calendar break wins
UMH 190000, 200000 external failure             ADET         external
``no_order`` · UMH 170000 ·                     ADOT         —
OPC ``NotExecuting``, ``NotExecuting/None``
``planned_maintenance`` · UMH 210000 ·          PDOT         overrun → ADET (§3.5)
OPC ``*/Maintenance``
``break``                                       PDOT         overrun → ADET
``no_shift`` · UMH 160000                       not sched.   overrun → ADOT
UMH 30000 unknown · OPC ``NotAvailable``        no data      excluded, lowers completeness
==============================================  ===========  =====================================

Codes are matched exactly first; a numeric code then falls into the UMH-style ranges
(``[low, high)``, so ``180017`` is an equipment failure with sub-reason 17); an OPC 40001 pair
``ItemState/OperationMode`` then tries ``*/OperationMode`` and finally ``ItemState`` alone. A code
that matches nothing is *unmapped*: it is counted as unmapped time and reported, never dropped.

Precedence (:data:`PRECEDENCE`): when intervals overlap (a calendar break and a machine state, two
downtime entries from the MES, two state events at the same instant), each instant is given to the
interval whose element ranks highest; equal elements go to the more specific source (manual entry >
machine state > calendar), then to the later one. Every instant therefore lands in exactly one
element: time is never double-counted (the negative availability of point85/OEE-Designer #9 cannot
happen), and no instant is lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import StrEnum
from typing import Final

from werk.errors import ConfigError


class Element(StrEnum):
    """The bucket of the ISO 22400-2 time model (§3.1) an instant of a window falls into.

    ``POT = PDOT + PBT`` and ``PBT = APT + AUST + ADET + ADOT``; the window's whole length is
    ``NOT_SCHEDULED + NO_DATA + UNMAPPED + POT``.
    """

    APT = "apt"
    """Actual production time: the unit produces (value-adding)."""
    AUST = "aust"
    """Actual unit setup time: changeover, preparation of an order."""
    ADET = "adet"
    """Actual unit delay time: failures, jams, minor stops above threshold, during an order."""
    ADOT = "adot"
    """Actual unit down time: available but not working on an order (no order)."""
    PDOT = "pdot"
    """Planned down time: scheduled breaks and planned maintenance inside planned operation time."""
    NOT_SCHEDULED = "not_scheduled"
    """Outside planned operation time: no shift, holiday (schedule loss, TEEP only)."""
    UNMAPPED = "unmapped"
    """A state code the mapping does not know: reported, excluded from POT."""
    NO_DATA = "no_data"
    """Nothing is known about this time: excluded from POT, lowers completeness."""


PRECEDENCE: Final[tuple[Element, ...]] = (
    Element.APT,
    Element.NOT_SCHEDULED,
    Element.PDOT,
    Element.ADET,
    Element.AUST,
    Element.ADOT,
    Element.UNMAPPED,
    Element.NO_DATA,
)
"""Which element wins an instant claimed by overlapping intervals, highest first.

Why this order: production evidence (parts were made) beats any claim that the unit was idle; the
plan (no shift, then planned stops) beats unplanned states, so a failure during a break is no
availability loss and a stop running past its planned end becomes ADET/ADOT from that end on
(§3.5); among unplanned states the more specific explanation wins — a failure during a changeover
is a failure, a changeover while no order is booked is setup; an unmapped code still beats no data.
"""

RANK: Final[Mapping[Element, int]] = {e: len(PRECEDENCE) - i for i, e in enumerate(PRECEDENCE)}
"""Precedence as a number (higher wins)."""


class Source(StrEnum):
    """Who said what an interval was; breaks ties between equal elements (higher wins)."""

    CALENDAR = "calendar"
    MACHINE = "machine"
    MANUAL = "manual"


SOURCE_RANK: Final[Mapping[Source, int]] = {Source.CALENDAR: 1, Source.MACHINE: 2, Source.MANUAL: 3}


class PlanSource(StrEnum):
    """Who decides which time is planned (PDOT, not scheduled).

    ``EITHER`` trusts both the calendar and the machine's own ``break``/``no_shift`` states;
    ``CALENDAR`` trusts only the calendar, so a machine that reports a planned stop outside the
    planned window has *overrun* it (the rule's ``overrun`` element, §3.5); ``STATES`` ignores the
    calendar's planned stops and uses it only to cut windows.
    """

    EITHER = "either"
    CALENDAR = "calendar"
    STATES = "states"


@dataclass(frozen=True, slots=True)
class StateRule:
    """What one state code means for the time model.

    Attributes:
        element: The time element the state's time goes to.
        failure: A failure state: each run is a failure event for MTBF/MTTR (§3.5: only states
            classified as failures, not micro-stops, not setup).
        external: The cause lies outside the unit (starved, blocked, external failure); kept as a
            flag so a line-level Pareto does not blame the victim.
        short: A stop that stays in APT as a minor stop (effectiveness loss, Nakajima convention)
            when it lasts less than the micro-stop threshold; above it, it is ``element``.
        overrun: The element a planned state (PDOT, not scheduled) becomes outside the calendar's
            plan when the calendar is authoritative (:attr:`PlanSource.CALENDAR`).
        note: Why the rule is what it is (shown in mapping listings).
    """

    element: Element
    failure: bool = False
    external: bool = False
    short: bool = False
    overrun: Element | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class CodeRange:
    """A range ``[low, high)`` of numeric state codes mapped by one rule (UMH-style codes)."""

    low: int
    high: int
    rule: StateRule


@dataclass(frozen=True, slots=True)
class StateMapping:
    """A complete state-code mapping with its thresholds.

    Attributes:
        codes: Exact code → rule.
        ranges: Numeric code ranges, tried when no exact code matches; the first match wins.
        micro_stop: A ``short`` stop shorter than this stays in APT as a minor stop; zero disables
            it (§3.5 suggests 60–120 s or 2 × PRI).
        failure_merge: Failure runs separated by less than this are one failure event (repeated
            alarms, §3.5).
    """

    codes: Mapping[str, StateRule]
    ranges: tuple[CodeRange, ...] = ()
    micro_stop: timedelta = timedelta(seconds=120)
    failure_merge: timedelta = timedelta(0)

    def rule(self, code: str | None) -> StateRule | None:
        """Return the rule of ``code``, or None when the code is unmapped."""
        if code is None:
            return None
        found = self.codes.get(code)
        if found is not None:
            return found
        if code.isdigit():
            number = int(code)
            for r in self.ranges:
                if r.low <= number < r.high:
                    return r.rule
        item, sep, mode = code.partition("/")
        if sep:
            return self.codes.get(f"*/{mode}") or self.codes.get(item)
        return None

    def overlay(self, override: MappingOverride) -> StateMapping:
        """Return this mapping with ``override`` applied on top (its codes and ranges win)."""
        return replace(
            self,
            codes={**self.codes, **override.codes},
            ranges=tuple(override.ranges) + self.ranges,
            micro_stop=self.micro_stop if override.micro_stop is None else override.micro_stop,
            failure_merge=(
                self.failure_merge if override.failure_merge is None else override.failure_merge
            ),
        )


@dataclass(frozen=True, slots=True)
class MappingOverride:
    """Changes a site, an equipment type or one type at one site makes to the default mapping.

    ``None`` thresholds keep the underlying value.
    """

    codes: Mapping[str, StateRule] = field(default_factory=dict)
    ranges: tuple[CodeRange, ...] = ()
    micro_stop: timedelta | None = None
    failure_merge: timedelta | None = None


@dataclass(frozen=True, slots=True)
class MappingTable:
    """The default mapping plus per-site, per-type and per-site-and-type overrides.

    The mapping of a machine is built from the most general to the most specific: default, then its
    equipment type's override (the builder's vocabulary), then its site's (plant policy: cleaning as
    PDOT...), then the override for that type at that site.
    """

    default: StateMapping
    types: Mapping[str, MappingOverride] = field(default_factory=dict)
    sites: Mapping[str, MappingOverride] = field(default_factory=dict)
    site_types: Mapping[tuple[str, str], MappingOverride] = field(default_factory=dict)

    def for_machine(self, path: str, machine_type: str | None = None) -> StateMapping:
        """Return the mapping that applies to the machine at ``path`` of ``machine_type``."""
        segments = path.split("/")
        site = "/".join(segments[:2]) if len(segments) >= 2 else None
        mapping = self.default
        if machine_type is not None and machine_type in self.types:
            mapping = mapping.overlay(self.types[machine_type])
        if site is not None and site in self.sites:
            mapping = mapping.overlay(self.sites[site])
        if (
            site is not None
            and machine_type is not None
            and (site, machine_type) in self.site_types
        ):
            mapping = mapping.overlay(self.site_types[(site, machine_type)])
        return mapping


_APT = StateRule(Element.APT)
_SETUP = StateRule(Element.AUST)
_SHORT = StateRule(Element.ADET, short=True, note="minor stop below the micro-stop threshold")
_FAILURE = StateRule(Element.ADET, failure=True)
_EXTERNAL = StateRule(Element.ADET, external=True, note="cause up- or downstream")
_DELAY = StateRule(Element.ADET)
_NO_ORDER = StateRule(Element.ADOT)
_MAINTENANCE = StateRule(Element.PDOT, overrun=Element.ADET, note="planned; overrun is ADET")
_BREAK = StateRule(Element.PDOT, overrun=Element.ADET, note="planned; overrun is ADET")
_NO_SHIFT = StateRule(Element.NOT_SCHEDULED, overrun=Element.ADOT)
_NO_DATA = StateRule(Element.NO_DATA, note="the machine says it cannot tell")

SIMULATOR_CODES: Final[Mapping[str, StateRule]] = {
    # werk.sim.view.MachineState, copied as data: werk.kpi does not import the simulator.
    "executing": _APT,
    "setup": _SETUP,
    "micro_stop": _SHORT,
    "failure": _FAILURE,
    "starved": _EXTERNAL,
    "blocked": _EXTERNAL,
    "no_order": _NO_ORDER,
    "planned_maintenance": _MAINTENANCE,
    "break": _BREAK,
    "no_shift": _NO_SHIFT,
}
"""The simulator's state codes (``werk.sim.view.MachineState``)."""

OPC_MACHINERY_CODES: Final[Mapping[str, StateRule]] = {
    # OPC 40001-1 MachineryItemState, alone or as ItemState/MachineryOperationMode (Annex C.2).
    "Executing": _APT,
    "Executing/Processing": _APT,
    "Executing/Setup": _SETUP,
    "NotExecuting": _NO_ORDER,
    "NotExecuting/None": _NO_ORDER,
    "NotExecuting/Processing": _DELAY,
    "NotExecuting/Setup": _SETUP,
    "OutOfService": _FAILURE,
    "OutOfService/Processing": _FAILURE,
    "*/Maintenance": _MAINTENANCE,
    "NotAvailable": _NO_DATA,
}
"""OPC 40001-1 Machinery item states and operation modes."""

UMH_RANGES: Final[tuple[CodeRange, ...]] = (
    # United Manufacturing Hub state codes: each state owns 10,000 codes for sub-reasons.
    CodeRange(10_000, 30_000, _APT),  # 10000 producing, 20000 below set speed (speed loss)
    CodeRange(30_000, 40_000, _NO_DATA),  # unknown
    CodeRange(40_000, 50_000, _SHORT),  # unspecified stop
    CodeRange(50_000, 60_000, _SHORT),  # microstop
    CodeRange(60_000, 90_000, _EXTERNAL),  # inlet jam, outlet jam, congestion bypass
    CodeRange(90_000, 100_000, _DELAY),  # material issue
    CodeRange(100_000, 110_000, _SETUP),  # changeover
    CodeRange(110_000, 130_000, _SETUP),  # cleaning, emptying: AUST or PDOT per plant policy
    CodeRange(130_000, 140_000, _SETUP),  # setting up
    CodeRange(140_000, 160_000, _DELAY),  # operator absent, unplanned break
    CodeRange(160_000, 170_000, _NO_SHIFT),
    CodeRange(170_000, 180_000, _NO_ORDER),
    CodeRange(180_000, 190_000, _FAILURE),  # equipment failure
    CodeRange(190_000, 210_000, StateRule(Element.ADET, external=True)),  # external failure
    CodeRange(210_000, 220_000, _MAINTENANCE),  # preventive maintenance
    CodeRange(220_000, 230_000, _DELAY),  # technical other
)
"""UMH-style numeric state codes (standards.md §2.2, §3.4)."""

DEFAULT_MAPPING: Final = StateMapping(
    codes={**SIMULATOR_CODES, **OPC_MACHINERY_CODES},
    ranges=UMH_RANGES,
)
"""The mapping used when a site and its equipment types override nothing."""


def rule_from_dict(data: Mapping[str, object], *, where: str) -> StateRule:
    """Build a :class:`StateRule` from a plain mapping (a row of a YAML mapping file).

    Raises:
        ConfigError: naming ``where`` and the field that is wrong.
    """
    known = {"element", "failure", "external", "short", "overrun", "note"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}", field=unknown[0])

    def element(key: str) -> Element:
        value = data.get(key)
        try:
            return Element(str(value))
        except ValueError:
            names = ", ".join(e.value for e in Element)
            raise ConfigError(
                f"{where}: {key} {value!r} is not a time element ({names})", field=key
            ) from None

    def flag(key: str) -> bool:
        value = data.get(key, False)
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: {key} must be true or false", field=key)
        return value

    return StateRule(
        element=element("element"),
        failure=flag("failure"),
        external=flag("external"),
        short=flag("short"),
        overrun=element("overrun") if data.get("overrun") is not None else None,
        note=str(data.get("note", "")),
    )


def override_from_dict(data: Mapping[str, object], *, where: str) -> MappingOverride:
    """Build a :class:`MappingOverride` from a plain mapping (a section of a mapping file).

    The mapping has ``codes`` (code → rule), optional ``ranges`` (``[{low, high, ...rule}]``),
    ``micro_stop_seconds`` and ``failure_merge_seconds``.

    Raises:
        ConfigError: naming ``where`` and the field that is wrong.
    """
    codes_in = data.get("codes", {})
    if not isinstance(codes_in, Mapping):
        raise ConfigError(f"{where}: codes must be a mapping of code to rule", field="codes")
    codes: dict[str, StateRule] = {}
    for code, row in codes_in.items():
        if not isinstance(row, Mapping):
            raise ConfigError(f"{where}: code {code!r} must map to a rule", field=str(code))
        codes[str(code)] = rule_from_dict(row, where=f"{where}: code {code!r}")
    ranges: list[CodeRange] = []
    ranges_in = data.get("ranges", [])
    if not isinstance(ranges_in, list):
        raise ConfigError(f"{where}: ranges must be a list", field="ranges")
    for index, row in enumerate(ranges_in):
        if not isinstance(row, Mapping):
            raise ConfigError(f"{where}: range {index} must be a mapping", field="ranges")
        low, high = row.get("low"), row.get("high")
        if not isinstance(low, int) or not isinstance(high, int) or not low < high:
            raise ConfigError(
                f"{where}: range {index} needs integers low < high, got {low!r}, {high!r}",
                field="ranges",
            )
        rest = {k: v for k, v in row.items() if k not in ("low", "high")}
        ranges.append(CodeRange(low, high, rule_from_dict(rest, where=f"{where}: range {index}")))

    def seconds(key: str) -> timedelta | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{where}: {key} must be a number ≥ 0", field=key)
        return timedelta(seconds=value)

    return MappingOverride(
        codes=codes,
        ranges=tuple(ranges),
        micro_stop=seconds("micro_stop_seconds"),
        failure_merge=seconds("failure_merge_seconds"),
    )
