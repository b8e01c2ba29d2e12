"""Turn the content of one export file into readings: pure, no I/O.

A bad row never stops a file: it becomes a :class:`RowProblem` naming the file, the line (CSV)
or record (JSON) and the field, and the other rows are still taken. A sample whose value cannot be
read but whose path, signal and time can is kept as quality BAD (value NaN, OPC UA status
BadTypeMismatch) so the gap is visible downstream; an event or a row without a valid path or
time is left out (there is nothing to attach it to).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import pyarrow as pa

from werk.assets.paths import is_valid_path, is_valid_signal
from werk.connectors.base import READINGS_SAMPLE_SCHEMA, Readings
from werk.connectors.files.config import FileFormat, FilePoint
from werk.samples import UTC_NS, Event, EventKind, Quality, events_to_batch, to_ns

BAD_TYPE_MISMATCH: Final = 0x80740000
"""OPC UA BadTypeMismatch: the status carried by a value that is not a number."""

_QUALITY_NAMES: Final = {"good": 0, "uncertain": 1, "bad": 2, "0": 0, "1": 1, "2": 2}
_EVENT_KINDS: Final = frozenset(k.value for k in EventKind)


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A row of a file that could not be taken (or only as quality BAD), and why."""

    file: str
    line: int | None
    """Line in a CSV file (1 is the header); None for JSON."""
    record: int | None
    """Index of the object in a JSON file; None for CSV."""
    field: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else f"record {self.record}"
        return f"{self.file} {where}, field {self.field}: {self.message}"


@dataclass(slots=True)
class Parsed:
    """What one file gave: its readings, the rows taken and the problems."""

    readings: Readings
    rows: int
    problems: list[RowProblem] = field(default_factory=list)


class _RowError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def parse_time(text: object, fmt: str) -> int:
    """Return nanoseconds since the epoch of a time cell (ISO 8601 with zone, or epoch)."""
    if fmt != "iso":
        scale = {"epoch_s": 1_000_000_000, "epoch_ms": 1_000_000, "epoch_ns": 1}[fmt]
        try:
            number = float(str(text)) if fmt != "epoch_ns" else int(str(text))
        except ValueError:
            raise _RowError("ts", f"time {text!r} is not a number ({fmt})") from None
        return int(number * scale)
    if not isinstance(text, str) or not text:
        raise _RowError("ts", f"time {text!r} is not an ISO 8601 string")
    try:
        ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _RowError("ts", f"time {text!r} is not ISO 8601") from None
    if ts.tzinfo is None:
        raise _RowError("ts", f"time {text!r} has no time zone; werk stores UTC")
    return to_ns(ts)


def _path(value: object, name: str = "path") -> str:
    if not isinstance(value, str) or not is_valid_path(value):
        raise _RowError(name, f"{value!r} is not a valid asset path")
    return value


def _int(value: object, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _RowError(name, f"{value!r} is not a whole number")
    try:
        number = float(value) if not isinstance(value, int) else value  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _RowError(name, f"{value!r} is not a whole number") from None
    if isinstance(number, float) and (not math.isfinite(number) or not number.is_integer()):
        raise _RowError(name, f"{value!r} is not a whole number")
    return int(number)


def _text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def _rows(
    name: str, data: bytes, fmt: FileFormat
) -> Iterator[tuple[int | None, int | None, Mapping[str, object]]]:
    """Yield (line, record, row) for every row of a CSV or JSON file."""
    text = data.decode("utf-8-sig")
    if name.lower().endswith(".json"):
        doc = json.loads(text)
        records = doc.get(fmt.records, doc.get("events")) if isinstance(doc, dict) else doc
        if not isinstance(records, list):
            raise _RowError(fmt.records, f"JSON holds no list of rows under {fmt.records!r}")
        for index, record in enumerate(records):
            yield None, index, record if isinstance(record, dict) else {"": record}
        return
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=fmt.delimiter)
    for row in reader:
        yield reader.line_num, None, row


class _Columns:
    """Sample columns collected as lists, turned into one batch at the end."""

    def __init__(self) -> None:
        self.path: list[str] = []
        self.signal: list[str] = []
        self.ts: list[int] = []
        self.value: list[float] = []
        self.quality: list[int] = []
        self.status: list[int | None] = []

    def add(
        self, path: str, signal: str, ts: int, value: float, quality: int, status: int | None
    ) -> None:
        self.path.append(path)
        self.signal.append(signal)
        self.ts.append(ts)
        self.value.append(value)
        self.quality.append(quality)
        self.status.append(status)

    def batch(self) -> pa.RecordBatch:
        return pa.RecordBatch.from_arrays(
            [
                pa.array(self.path, pa.string()),
                pa.array(self.signal, pa.string()),
                pa.array(self.ts, pa.int64()).cast(UTC_NS),
                pa.array(self.value, pa.float64()),
                pa.array(self.quality, pa.uint8()),
                pa.array(self.status, pa.uint32()),
            ],
            schema=READINGS_SAMPLE_SCHEMA,
        )


def _value(raw: object) -> float | None:
    """Return a cell as a float, or None when it is not a finite number."""
    if isinstance(raw, bool):
        return float(raw)
    if isinstance(raw, int | float):
        number = float(raw)
    elif isinstance(raw, str) and raw.strip():
        try:
            number = float(raw)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


class _Row:
    """Read fields of one row through a format's column mapping and constants."""

    def __init__(self, fmt: FileFormat, row: Mapping[str, object]) -> None:
        self.fmt = fmt
        self.row = row

    def get(self, name: str, default_column: str | None = None) -> object:
        if name in self.fmt.constants:
            return self.fmt.constants[name]
        column = self.fmt.columns.get(name, default_column or name)
        return self.row.get(column)


def _mes_event(kind: str, r: _Row) -> Event | None:
    machine = _path(r.get("machine"), "machine")
    if kind == "mes_counts":
        return Event(
            machine,
            _dt(parse_time(r.get("produced_at"), "iso")),
            EventKind.COUNT,
            product=_text(r.get("product")),
            good=_int(r.get("good"), "good"),
            scrap=_int(r.get("scrap"), "scrap"),
            rework=_int(r.get("rework"), "rework"),
        )
    if kind == "mes_scrap":
        # Late scrap: parts counted good that inspection found scrap (see mes_files).
        scrap = _int(r.get("scrap"), "scrap")
        return Event(
            machine,
            _dt(parse_time(r.get("produced_at"), "iso")),
            EventKind.COUNT,
            product=_text(r.get("product")),
            good=None if scrap is None else -scrap,
            scrap=scrap,
            reason=_text(r.get("reason")),
        )
    if kind == "mes_downtime":
        return Event(
            machine,
            _dt(parse_time(r.get("start"), "iso")),
            EventKind.STATE,
            code=_text(r.get("state")),
            reason=_text(r.get("reason")),
        )
    # mes_orders
    what = r.get("kind")
    if what == "order":
        return Event(
            machine,
            _dt(parse_time(r.get("at"), "iso")),
            EventKind.ORDER,
            code=_text(r.get("order")),
            product=_text(r.get("product")),
        )
    if what == "product":
        return Event(
            machine,
            _dt(parse_time(r.get("at"), "iso")),
            EventKind.PRODUCT,
            code=_text(r.get("product")),
        )
    raise _RowError("kind", f"kind {what!r} is neither order nor product")


def _dt(ns: int) -> datetime:
    from werk.samples import from_ns

    return from_ns(ns)


def _downtime_ends(events: list[Event], ends: list[tuple[str, int]]) -> list[Event]:
    """Close each downtime interval with an ``executing`` state unless another one starts then."""
    starts = {(e.path, to_ns(e.ts)) for e in events if e.kind is EventKind.STATE}
    out = []
    for path, end in ends:
        if (path, end) not in starts:
            out.append(Event(path, _dt(end), EventKind.STATE, code="executing"))
    return out


def _generic_event(r: _Row, fmt: FileFormat) -> Event:
    kind = r.get("kind")
    if not isinstance(kind, str) or kind not in _EVENT_KINDS:
        raise _RowError("kind", f"kind {kind!r} is not one of {', '.join(sorted(_EVENT_KINDS))}")
    active = r.get("active")
    if isinstance(active, str):
        active = {"true": True, "1": True, "false": False, "0": False, "": None}.get(active.lower())
    return Event(
        _path(r.get("path")),
        _dt(parse_time(r.get("ts"), fmt.ts_format)),
        EventKind(kind),
        code=_text(r.get("code")),
        reason=_text(r.get("reason")),
        product=_text(r.get("product")),
        good=_int(r.get("good"), "good"),
        scrap=_int(r.get("scrap"), "scrap"),
        rework=_int(r.get("rework"), "rework"),
        active=active if isinstance(active, bool) else None,
    )


def parse_file(name: str, data: bytes, fmt: FileFormat, points: Sequence[FilePoint] = ()) -> Parsed:
    """Parse one file's bytes as ``fmt`` says; never raises for bad rows or a bad file."""
    samples = _Columns()
    events: list[Event] = []
    ends: list[tuple[str, int]] = []
    problems: list[RowProblem] = []
    rows = 0
    try:
        for line, record, row in _rows(name, data, fmt):
            r = _Row(fmt, row)
            try:
                if fmt.kind == "samples":
                    rows += _sample_row(r, fmt, samples, problems, name, line, record)
                    continue
                if fmt.kind == "wide":
                    rows += _wide_row(r, fmt, points, samples, problems, name, line, record)
                    continue
                if fmt.kind == "events":
                    events.append(_generic_event(r, fmt))
                else:
                    event = _mes_event(fmt.kind, r)
                    if event is None:
                        continue
                    if fmt.kind == "mes_downtime":
                        ends.append((event.path, parse_time(r.get("end"), "iso")))
                    events.append(event)
                rows += 1
            except _RowError as exc:
                problems.append(RowProblem(name, line, record, exc.field, exc.message))
    except (UnicodeDecodeError, json.JSONDecodeError, csv.Error, _RowError) as exc:
        line = getattr(exc, "lineno", None)
        problems.append(RowProblem(name, line, None, "file", f"file cannot be read: {exc}"))
    events += _downtime_ends(events, ends)
    return Parsed(Readings(samples.batch(), events_to_batch(events)), rows, problems)


def _sample_row(
    r: _Row,
    fmt: FileFormat,
    out: _Columns,
    problems: list[RowProblem],
    name: str,
    line: int | None,
    record: int | None,
) -> int:
    path = _path(r.get("path"))
    signal = r.get("signal")
    if not isinstance(signal, str) or not is_valid_signal(signal):
        raise _RowError("signal", f"{signal!r} is not a valid signal name")
    ts = parse_time(r.get("ts"), fmt.ts_format)
    raw = r.get("value")
    value = _value(raw)
    quality_raw = r.get("quality")
    quality = 0
    if quality_raw not in (None, ""):
        found = _QUALITY_NAMES.get(str(quality_raw).strip().lower())
        if found is None:
            raise _RowError("quality", f"quality {quality_raw!r} is not good/uncertain/bad/0/1/2")
        quality = found
    if value is None:
        problems.append(
            RowProblem(
                name, line, record, "value", f"value {raw!r} is not a number; kept as quality BAD"
            )
        )
        out.add(path, signal, ts, math.nan, int(Quality.BAD), BAD_TYPE_MISMATCH)
    else:
        out.add(path, signal, ts, value, quality, None)
    return 1


def _wide_row(
    r: _Row,
    fmt: FileFormat,
    points: Sequence[FilePoint],
    out: _Columns,
    problems: list[RowProblem],
    name: str,
    line: int | None,
    record: int | None,
) -> int:
    ts = parse_time(r.get("ts"), fmt.ts_format)
    for point in points:
        raw = r.row.get(point.column)
        if raw is None:
            continue  # the column is not in this file: another format's point
        value = _value(raw)
        if value is None:
            problems.append(
                RowProblem(
                    name,
                    line,
                    record,
                    point.column,
                    f"value {raw!r} is not a number; kept as quality BAD",
                )
            )
            out.add(point.path, point.signal, ts, math.nan, int(Quality.BAD), BAD_TYPE_MISMATCH)
        else:
            out.add(point.path, point.signal, ts, value, 0, None)
    return 1
