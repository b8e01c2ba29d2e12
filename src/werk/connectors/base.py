"""Define what a connector is: a source of readings, its point table, and the registry by name.

Every protocol package (``opcua/``, ``modbus/``, ``sparkplug/``, ``mqtt/``, ``files/``) has the same
file roles (../shared/STYLE.md):

``config.py``       a pydantic model of the source settings and its point table, subclassing
                    :class:`SourceConfig` and :class:`Point`
``source.py``       the connection: an async context manager satisfying :class:`Source`
``mapping.py``      pure: protocol value → ``Sample`` / ``Event`` with ``Quality`` (a malformed
                    value becomes quality BAD with a reason, never an exception that stops the
                    source)
``diagnostics.py``  redacted state for support (no passwords, no keys)

and exports ``CONNECTOR`` (a :class:`Connector`) from its ``__init__``. The edge agent looks a
connector up by the ``type`` of a source in the plant file through :func:`connector`: built-ins
are listed in :data:`BUILTIN` and imported lazily (a plant without Modbus never imports pymodbus);
third-party connectors register in the entry-point group ``werk.connectors``.

A source produces :class:`Readings`: Arrow batches of samples (:data:`~werk.samples.SAMPLE_SCHEMA`
plus ``status``) and events (:data:`~werk.samples.EVENT_SCHEMA`). Connectors may collect values
one by one; they hand them on in batches.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from importlib.metadata import entry_points
from typing import Final, Literal, Protocol, Self

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, field_validator

from werk.assets.paths import validate_path, validate_signal
from werk.errors import ConfigError, PathError
from werk.samples import EVENT_SCHEMA, SAMPLE_SCHEMA, STATUS_FIELD, Event, Sample

READINGS_SAMPLE_SCHEMA: Final = SAMPLE_SCHEMA.append(STATUS_FIELD)
"""Samples as a source hands them on: the wire columns plus the raw protocol status."""


class PointRole(StrEnum):
    """What a point feeds besides its samples.

    ``value``: samples only. ``state``: samples, and a STATE event whenever the mapped state
    changes (the code is looked up in the point's ``states`` table). ``good`` / ``scrap``: a
    monotonic part counter; each increase becomes a COUNT event with that many parts (a decrease is
    a reset or wrap, detected, never a negative count). ``alarm``: an ALARM event on every change
    of a boolean. Raw counters and codes are kept as samples too, so nothing is lost.
    """

    VALUE = "value"
    STATE = "state"
    GOOD = "good"
    SCRAP = "scrap"
    ALARM = "alarm"


class Point(BaseModel):
    """One row of a point table: where a value lands in the model. Protocols add their address."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(
        description="ISA-95 asset path of the equipment, e.g. acme/berlin/body/l1/m1."
    )
    signal: str = Field(description="Signal name on that asset, e.g. spindle_temp.")
    unit: str | None = Field(default=None, description="Unit (UCUM or common symbol), e.g. degC.")
    value_type: Literal["float", "int", "bool"] = Field(
        default="float", description="Type of the value before it is carried as float64."
    )
    role: PointRole = Field(default=PointRole.VALUE, description="What the point feeds.")
    states: dict[str, str] | None = Field(
        default=None,
        description="State-code mapping for role=state: raw code (as text) → state name.",
    )
    expected_interval_s: float | None = Field(
        default=None, gt=0, description="Expected seconds between values, for completeness."
    )

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        try:
            validate_path(value)
        except PathError as exc:
            raise ValueError(exc.message) from exc
        return value

    @field_validator("signal")
    @classmethod
    def _signal(cls, value: str) -> str:
        try:
            validate_signal(value)
        except PathError as exc:
            raise ValueError(exc.message) from exc
        return value


class SourceConfig(BaseModel):
    """Settings every source has; a protocol's config subclasses it and adds its own."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]*$", description="Unique source id in the plant."
    )
    type: str = Field(description="Connector name: opcua, modbus, sparkplug, mqtt, files, ...")
    enabled: bool = Field(default=True, description="Whether the agent starts this source.")

    def points(self) -> Sequence[Point]:
        """Every point of the source, templates already expanded (override when nested)."""
        return ()


@dataclass(frozen=True, slots=True)
class Readings:
    """What a source hands on at once: a batch of samples and a batch of events."""

    samples: pa.RecordBatch
    events: pa.RecordBatch
    origin: str | None = None
    """Where these readings come from when that can be read twice (a file's content hash).

    The edge agent records it in its buffer in the same transaction as the readings and drops
    readings whose origin it has recorded before: a file read again after a crash, between the
    buffer's commit and the source's own bookkeeping, is stored once. Live protocol readings
    leave it None.
    """

    @classmethod
    def of(cls, samples: Iterable[Sample] = (), events: Iterable[Event] = ()) -> Readings:
        """Build readings from objects collected one by one (a connector's edge, not a hot path)."""
        s = list(samples)
        e = list(events)
        sample_batch = pa.RecordBatch.from_pydict(
            {
                "path": [x.path for x in s],
                "signal": [x.signal for x in s],
                "ts": [x.ts for x in s],
                "value": [float(x.value) for x in s],
                "quality": [int(x.quality) for x in s],
                "status": [x.status for x in s],
            },
            schema=READINGS_SAMPLE_SCHEMA,
        )
        event_batch = pa.RecordBatch.from_pydict(
            {
                "path": [x.path for x in e],
                "ts": [x.ts for x in e],
                "kind": [str(x.kind) for x in e],
                "code": [x.code for x in e],
                "reason": [x.reason for x in e],
                "product": [x.product for x in e],
                "good": [x.good for x in e],
                "scrap": [x.scrap for x in e],
                "rework": [x.rework for x in e],
                "active": [x.active for x in e],
            },
            schema=EVENT_SCHEMA,
        )
        return cls(sample_batch, event_batch)

    @property
    def empty(self) -> bool:
        """True when there is nothing to hand on."""
        return bool(self.samples.num_rows == 0 and self.events.num_rows == 0)


@dataclass(slots=True)
class SourceHealth:
    """Connection state of one source, kept by the source and read by the agent."""

    connected: bool = False
    last_value_at: datetime | None = None
    reconnects: int = 0
    last_error: str | None = None
    bad_values: int = 0
    """Values turned into quality BAD (malformed, out of range), counted, never silent."""
    extra: dict[str, float | int | str] = field(default_factory=dict)


class Source(Protocol):
    """A live connection to one shop-floor system.

    ``async with source:`` connects (retrying with :class:`Backoff` on its own, so a server that
    is down at start is not fatal) and owns its background tasks; leaving the block disconnects.
    """

    config: SourceConfig
    health: SourceHealth

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None: ...

    def readings(self) -> AsyncIterator[Readings]:
        """Yield readings as they arrive, forever; reconnects and resubscribes inside."""
        ...

    async def read_once(self) -> Readings:
        """Read every point once (``werk edge test``); a point that fails is a BAD sample."""
        ...

    def diagnostics(self) -> Mapping[str, object]:
        """Redacted state for support: endpoint, counts, last error; never secrets."""
        ...


@dataclass(frozen=True, slots=True)
class Connector:
    """A protocol werk can speak: its config model and how to open a source from it."""

    name: str
    config: type[SourceConfig]
    open: Callable[[SourceConfig], Source]


BUILTIN: Final[Mapping[str, str]] = {
    "opcua": "werk.connectors.opcua",
    "modbus": "werk.connectors.modbus",
    "sparkplug": "werk.connectors.sparkplug",
    "mqtt": "werk.connectors.mqtt",
    "files": "werk.connectors.files",
}
"""Built-in connectors: name → module exporting ``CONNECTOR``, imported on first use."""

ENTRY_POINT_GROUP: Final = "werk.connectors"


def connector(name: str) -> Connector:
    """Return the connector registered as ``name`` (built-in first, then entry points).

    Raises:
        ConfigError: no connector has that name.
    """
    module = BUILTIN.get(name)
    if module is not None:
        found: Connector = importlib.import_module(module).CONNECTOR
        return found
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            loaded: Connector = ep.load()
            return loaded
    known = sorted({*BUILTIN, *(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))})
    raise ConfigError(
        f"unknown source type {name!r}; known: {', '.join(known)}",
        key="edge.unknown_connector",
        field="type",
    )


class Backoff:
    """Capped, jittered exponential backoff shared by every reconnect loop and the uplink.

    Full jitter (a uniform draw below the capped exponential) keeps a fleet of agents that lost
    the same server from reconnecting in lockstep.
    """

    def __init__(
        self,
        first: timedelta = timedelta(milliseconds=200),
        cap: timedelta = timedelta(seconds=30),
        rng: random.Random | None = None,
    ) -> None:
        self.first = first.total_seconds()
        self.cap = cap.total_seconds()
        self.attempt = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        """Return the seconds to wait before the next attempt, and count the attempt."""
        ceiling = min(self.cap, self.first * 2**self.attempt)
        self.attempt += 1
        return self._rng.uniform(self.first / 2, max(self.first / 2, ceiling))

    def reset(self) -> None:
        """Start over after a success."""
        self.attempt = 0
