"""Read a plant file: the mapping of one plant's sources, devices and points, as code.

One YAML file per plant (see docs/edge.md)::

    plant: acme/wob
    edge: wob-1
    uplink: {url: "http://127.0.0.1:8600", api_key_env: WERK_EDGE_KEY}
    buffer: {path: buffer.sqlite, disk_budget_mb: 512}
    templates:
      press-v2:
        points:
          - {signal: spindle_temp, unit: degC, node_id: "ns=2;s={path}/spindle_temp"}
    sources:
      - name: line1-opcua
        type: opcua
        endpoint: opc.tcp://127.0.0.1:4840
        devices:
          - {path: acme/wob/body/line-1/press-01, template: press-v2, vars: {unit: 3}}

Loading expands each device's template into its ``points`` (``{path}`` and the device's
``vars`` substituted into every string), fills a point's ``path`` from its device, and validates
each source with its connector's config model. Every problem is collected — not only the first —
with the file, the line and the field, so ``werk edge validate`` can list them all at once.
Relative paths in the file are relative to the file's folder (passed to the connector models as
the validation context ``base_dir``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from werk.assets.paths import is_under, validate_path
from werk.connectors.base import Point, SourceConfig, connector
from werk.edge.lines import LineDict, LineList, line_of, load_yaml, plain
from werk.errors import ConfigError, PathError


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a plant file, and where."""

    message: str
    field: str
    line: int | None
    key: str = "edge.invalid"


class PlantInvalid(ConfigError):
    """A plant file has problems; ``problems`` lists every one of them."""

    default_key = "edge.invalid_plant"

    def __init__(self, file: Path, problems: Sequence[Problem]) -> None:
        first = problems[0]
        super().__init__(
            f"{file} has {len(problems)} problem(s); the first: {first.message}",
            file=str(file),
            line=first.line,
            field=first.field,
        )
        self.problems = list(problems)


class UplinkConfig(BaseModel):
    """How the agent reaches the platform's ingest door."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(default="http://127.0.0.1:8600", description="Base URL of the werk server.")
    api_key_env: str | None = Field(
        default="WERK_EDGE_KEY", description="Environment variable holding the edge's API key."
    )
    api_key_file: str | None = Field(
        default=None, description="File holding the API key (used when the variable is unset)."
    )
    ca_file: str | None = Field(default=None, description="CA bundle to verify the server with.")
    verify: bool = Field(default=True, description="Verify the server's TLS certificate.")
    compression: Literal["zstd", "lz4", "none"] = Field(
        default="zstd", description="Arrow IPC buffer compression of uplink batches."
    )
    batch_max_rows: int = Field(default=50_000, ge=1, description="Rows per buffered batch.")
    flush_interval_s: float = Field(
        default=1.0, gt=0, description="Longest time readings wait to fill a batch."
    )
    timeout_s: float = Field(default=10.0, gt=0, description="Timeout of one request.")
    health_interval_s: float = Field(
        default=10.0, gt=0, description="Seconds between health reports to the platform."
    )


class BufferConfig(BaseModel):
    """The durable store-and-forward buffer on the edge's disk."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(default="buffer.sqlite", description="SQLite file of the buffer.")
    disk_budget_mb: float = Field(default=512, gt=0, description="Most megabytes of batches.")
    overflow: Literal["drop_oldest", "drop_newest"] = Field(
        default="drop_oldest",
        description="What goes when the budget is reached: the oldest backlog or the new batch.",
    )
    backlog_rate: float = Field(
        default=200_000, gt=0, description="Rows per second drained from the backlog lane."
    )
    live_window_s: float = Field(
        default=10.0, gt=0, description="Batches younger than this are live, older are backlog."
    )


class _Head(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plant: str = Field(description="Site path of the plant, e.g. acme/wob.")
    edge: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="Id of this edge agent.")
    uplink: UplinkConfig = Field(default_factory=UplinkConfig)
    buffer: BufferConfig = Field(default_factory=BufferConfig)
    templates: dict[str, dict[str, object]] = Field(default_factory=dict)
    sources: list[dict[str, object]] = Field(default_factory=list)

    @field_validator("plant")
    @classmethod
    def _plant(cls, value: str) -> str:
        try:
            validate_path(value)
        except PathError as exc:
            raise ValueError(exc.message) from exc
        return value


@dataclass(frozen=True, slots=True)
class Plant:
    """A loaded, valid plant file."""

    file: Path
    site: str
    edge: str
    uplink: UplinkConfig
    buffer: BufferConfig
    sources: list[SourceConfig] = field(default_factory=list)

    @property
    def base_dir(self) -> Path:
        """Folder that relative paths in the file are relative to."""
        return self.file.parent

    def resolve(self, name: str) -> Path:
        """Return a path named in the file, relative to the file's folder."""
        path = Path(name).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    def points(self) -> list[Point]:
        """Every point of every enabled source."""
        return [p for s in self.sources if s.enabled for p in s.points()]


def _dotted(loc: Sequence[object]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_FIELD = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)\}")


def _substitute(value: object, names: dict[str, str], missing: set[str]) -> object:
    """Replace ``{name}`` in every string of ``value``; collect names that are not defined."""
    if isinstance(value, str):

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in names:
                missing.add(name)
                return match.group(0)
            return names[name]

        return _FIELD.sub(one, value)
    if isinstance(value, dict):
        return {k: _substitute(v, names, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, names, missing) for v in value]
    return value


class _Reader:
    """Collect the problems of one plant file while building its sources."""

    def __init__(self, file: Path, doc: LineDict) -> None:
        self.file = file
        self.doc = doc
        self.problems: list[Problem] = []

    def problem(self, loc: Sequence[object], message: str, key: str = "edge.invalid") -> None:
        self.problems.append(Problem(message, _dotted(loc), line_of(self.doc, loc), key))

    def pydantic(
        self,
        exc: ValidationError,
        mapper: dict[tuple[object, ...], tuple[object, ...]],
        prefix: tuple[object, ...],
    ) -> None:
        for err in exc.errors():
            loc = tuple(err["loc"])
            where = prefix + loc
            for length in range(len(loc), 0, -1):  # the longest prefix with a known origin
                origin = mapper.get(loc[:length])
                if origin is not None:
                    where = origin + loc[length:]
                    break
            message = err["msg"].removeprefix("Value error, ")
            shown = _dotted(prefix + loc)
            if where[:1] == ("templates",):
                message += f" (in {_dotted(where)}, expanded at {shown})"
            self.problems.append(
                Problem(f"{shown}: {message}", shown, line_of(self.doc, where), "edge.invalid")
            )

    def source(
        self, index: int, raw: object, templates: Mapping[str, object], site: str
    ) -> SourceConfig | None:
        loc: tuple[object, ...] = ("sources", index)
        if not isinstance(raw, dict):
            self.problem(loc, f"{_dotted(loc)} must be a mapping")
            return None
        kind = raw.get("type")
        if not isinstance(kind, str):
            self.problem((*loc, "type"), f"{_dotted(loc)} needs a 'type' (the connector name)")
            return None
        try:
            found = connector(kind)
        except ConfigError as exc:
            self.problem((*loc, "type"), exc.message, exc.key)
            return None
        except ImportError as exc:
            self.problem((*loc, "type"), f"connector {kind!r} cannot be loaded: {exc}")
            return None
        data = copy.deepcopy(plain(raw))
        assert isinstance(data, dict)
        mapper: dict[tuple[object, ...], tuple[object, ...]] = {}
        devices = raw.get("devices")
        if isinstance(devices, list):
            data["devices"] = [
                self.device(loc, j, device, templates, site, mapper)
                for j, device in enumerate(devices)
            ]
        try:
            config = found.config.model_validate(data, context={"base_dir": self.file.parent})
        except ValidationError as exc:
            self.pydantic(exc, mapper, loc)
            return None
        return config

    def device(
        self,
        loc: tuple[object, ...],
        j: int,
        device: object,
        templates: Mapping[str, object],
        site: str,
        mapper: dict[tuple[object, ...], tuple[object, ...]],
    ) -> object:
        dloc = (*loc, "devices", j)
        mapper[("devices", j)] = dloc
        if not isinstance(device, dict):
            return plain(device)
        out = {k: plain(v) for k, v in device.items() if k not in ("template", "vars")}
        path = device.get("path")
        if isinstance(path, str):
            try:
                validate_path(path)
            except PathError as exc:
                self.problem((*dloc, "path"), f"device path {path!r}: {exc.message}", exc.key)
            else:
                if not is_under(path, site):
                    self.problem(
                        (*dloc, "path"), f"device path {path!r} is not under the plant {site!r}"
                    )
        names = {"path": path if isinstance(path, str) else ""}
        variables = device.get("vars") or {}
        if not isinstance(variables, dict):
            self.problem((*dloc, "vars"), "vars must be a mapping of name: value")
            variables = {}
        names.update({str(k): str(v) for k, v in variables.items()})
        points: list[object] = []
        name = device.get("template")
        if name is not None:
            template = templates.get(str(name))
            if not isinstance(template, dict):
                known = ", ".join(sorted(templates)) or "none defined"
                self.problem(
                    (*dloc, "template"),
                    f"unknown template {name!r} (templates: {known})",
                    "edge.unknown_template",
                )
            else:
                tpoints = template.get("points") or []
                if not isinstance(tpoints, list):
                    self.problem(("templates", name, "points"), "points must be a list")
                    tpoints = []
                for k, point in enumerate(tpoints):
                    mapper[("devices", j, "points", len(points))] = (
                        "templates",
                        name,
                        "points",
                        k,
                    )
                    points.append(self.point((("templates", name, "points", k)), point, names))
        own = device.get("points") or []
        if isinstance(own, list):
            for k, point in enumerate(own):
                mapper[("devices", j, "points", len(points))] = (*dloc, "points", k)
                points.append(self.point((*dloc, "points", k), point, names))
        if points or "points" in device or name is not None:
            out["points"] = points
        return out

    def point(self, ploc: tuple[object, ...], point: object, names: dict[str, str]) -> object:
        if not isinstance(point, dict):
            return plain(point)
        missing: set[str] = set()
        out = _substitute(plain(point), names, missing)
        for name in sorted(missing):
            self.problem(ploc, f"{{{name}}} is used but the device defines no var {name!r}")
        assert isinstance(out, dict)
        if "path" not in out and names["path"]:
            out["path"] = names["path"]
        return out

    def duplicates(self, sources: list[tuple[int, SourceConfig]]) -> None:
        seen: dict[tuple[str, str], str] = {}
        for index, config in sources:
            for point in config.points():
                key = (point.path, point.signal)
                if key in seen:
                    self.problem(
                        ("sources", index),
                        f"point {point.path} {point.signal} is mapped twice "
                        f"(in source {seen[key]!r} and {config.name!r})",
                        "edge.duplicate_point",
                    )
                else:
                    seen[key] = config.name


def check_plant(file: Path | str) -> tuple[Plant | None, list[Problem]]:
    """Load a plant file and return it with every problem found (the plant is None if any).

    Raises:
        ConfigError: the file cannot be read or is not YAML at all.
    """
    path = Path(file)
    doc = load_yaml(path)
    if not isinstance(doc, LineDict):
        return None, [Problem("a plant file is a mapping with plant, edge, sources", "", 1)]
    reader = _Reader(path, doc)
    try:
        head = _Head.model_validate(
            {k: (v if k in ("templates", "sources") else plain(v)) for k, v in doc.items()}
        )
    except ValidationError as exc:
        reader.pydantic(exc, {}, ())
        return None, reader.problems
    configs: list[tuple[int, SourceConfig]] = []
    names: dict[str, int] = {}
    raw_sources = doc.get("sources")
    items = raw_sources if isinstance(raw_sources, LineList) else []
    for index, raw in enumerate(items):
        config = reader.source(index, raw, head.templates, head.plant)
        if config is None:
            continue
        if config.name in names:
            reader.problem(
                ("sources", index, "name"),
                f"source name {config.name!r} is used twice (also sources[{names[config.name]}])",
                "edge.duplicate_source",
            )
        names[config.name] = index
        configs.append((index, config))
    reader.duplicates(configs)
    if reader.problems:
        return None, reader.problems
    plant = Plant(
        file=path.resolve(),
        site=head.plant,
        edge=head.edge,
        uplink=head.uplink,
        buffer=head.buffer,
        sources=[c for _, c in configs],
    )
    return plant, []


def load_plant(file: Path | str) -> Plant:
    """Load a plant file.

    Raises:
        PlantInvalid: the file has problems (all of them are in ``problems``).
        ConfigError: the file cannot be read or is not YAML.
    """
    plant, problems = check_plant(file)
    if plant is None:
        raise PlantInvalid(Path(file), problems)
    return plant
