"""Encode and decode Sparkplug B payloads and topics (Eclipse Sparkplug 3.0 = ISO/IEC 20237).

The protobuf wire format of ``org.eclipse.tahu.protobuf.Payload`` is written here by hand (varints,
fixed32/64, length-delimited fields) so werk does not depend on the Sparkplug libraries, which pin
old paho/protobuf releases. Field numbers follow the Tahu ``sparkplug_b.proto``:

===========  ========================================================================
message      fields
===========  ========================================================================
Payload      timestamp 1 (uint64, ms), metrics 2, seq 3 (uint64), uuid 4, body 5
Metric       name 1, alias 2 (uint64), timestamp 3, datatype 4 (uint32), is_historical 5,
             is_transient 6, is_null 7, metadata 8 (skipped), properties 9, value oneof:
             int_value 10 (uint32), long_value 11 (uint64), float_value 12 (fixed32),
             double_value 13 (fixed64), boolean_value 14, string_value 15, bytes_value 16,
             dataset_value 17, template_value 18 (kept as raw bytes), extension_value 19
PropertySet  keys 1 (repeated string), values 2 (repeated PropertyValue)
PropertyVal  type 1, is_null 2, int_value 3, long_value 4, float_value 5, double_value 6,
             boolean_value 7, string_value 8, propertyset_value 9, propertysets_value 10
===========  ========================================================================

Value encoding per :class:`DataType` (spec §6.4.16 "Datatype Details"):

* Int8/16/32 and UInt8/16/32 go in ``int_value`` (uint32), Int64/UInt64/DateTime in
  ``long_value`` (uint64). Protobuf has no signed field here, so signed values are written as
  two's complement *of their own width* (Int8 -1 → 255, Int16 -1 → 65535), as the Tahu reference
  client does. The decoder reduces the raw value to the datatype's width before reading the sign,
  so it also reads peers that sign-extend to 32 or 64 bits (Int8 -1 → 4294967295, Java style).
* Float → ``float_value``, Double → ``double_value``, Boolean → ``boolean_value``,
  String/Text/UUID → ``string_value``, Bytes/File → ``bytes_value``.
* Arrays (22–34) → ``bytes_value``, packed little endian; BooleanArray is a uint32 LE count
  followed by the bits, first value in the most significant bit; StringArray is NUL-terminated
  UTF-8 strings. (Two examples in the spec's array table are wrong — Int8 ``-23 → 0xEF`` and the
  big-endian FloatArray bytes — the normative text, "little endian", is followed here.)
* DataSet and Template values are not interpreted: they travel as the raw bytes of the
  sub-message, so a payload that carries them still decodes and re-encodes unchanged.

DATA and CMD messages should omit the datatype and may name metrics by alias only
(spec §6.4.3), so a stateless decoder cannot interpret them: :class:`AliasTable` keeps the
alias → (name, datatype) table of the last NBIRTH/DBIRTH of one edge node and resolves DATA
payloads against it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import IntEnum, StrEnum
from typing import Final, TypeAlias

from werk.errors import InvalidInput, PayloadError

NAMESPACE: Final = "spBv1.0"
"""First topic level of every Sparkplug B topic."""


class DataType(IntEnum):
    """Sparkplug B datatype enumeration (``org.eclipse.tahu.protobuf.DataType``)."""

    UNKNOWN = 0
    INT8 = 1
    INT16 = 2
    INT32 = 3
    INT64 = 4
    UINT8 = 5
    UINT16 = 6
    UINT32 = 7
    UINT64 = 8
    FLOAT = 9
    DOUBLE = 10
    BOOLEAN = 11
    STRING = 12
    DATETIME = 13
    TEXT = 14
    UUID = 15
    DATASET = 16
    BYTES = 17
    FILE = 18
    TEMPLATE = 19
    PROPERTYSET = 20
    PROPERTYSETLIST = 21
    INT8_ARRAY = 22
    INT16_ARRAY = 23
    INT32_ARRAY = 24
    INT64_ARRAY = 25
    UINT8_ARRAY = 26
    UINT16_ARRAY = 27
    UINT32_ARRAY = 28
    UINT64_ARRAY = 29
    FLOAT_ARRAY = 30
    DOUBLE_ARRAY = 31
    BOOLEAN_ARRAY = 32
    STRING_ARRAY = 33
    DATETIME_ARRAY = 34


class MessageType(StrEnum):
    """The Sparkplug message types (the third topic level)."""

    NBIRTH = "NBIRTH"
    NDEATH = "NDEATH"
    DBIRTH = "DBIRTH"
    DDEATH = "DDEATH"
    NDATA = "NDATA"
    DDATA = "DDATA"
    NCMD = "NCMD"
    DCMD = "DCMD"
    STATE = "STATE"


_DEVICE_TYPES: Final = frozenset(
    {MessageType.DBIRTH, MessageType.DDEATH, MessageType.DDATA, MessageType.DCMD}
)

Scalar: TypeAlias = int | float | bool | str
"""A single value: integers, floats, booleans and strings."""

MetricValue: TypeAlias = Scalar | bytes | tuple[Scalar, ...] | None
"""A metric value: a scalar, bytes (Bytes, File, raw DataSet/Template) or an array as a tuple;
None is the Sparkplug null (``is_null``)."""


@dataclass(frozen=True, slots=True)
class Topic:
    """A Sparkplug topic: ``spBv1.0/<group_id>/<message_type>/<edge_node_id>[/<device_id>]``.

    Host STATE topics (``spBv1.0/STATE/<host_id>``) parse with ``group_id`` empty and the host id
    in ``edge_node_id``.
    """

    group_id: str
    message_type: MessageType
    edge_node_id: str
    device_id: str | None = None

    def __post_init__(self) -> None:
        ids = [("group_id", self.group_id), ("edge_node_id", self.edge_node_id)]
        if self.device_id is not None:
            ids.append(("device_id", self.device_id))
        if self.message_type is MessageType.STATE:
            ids = ids[1:]
        for name, value in ids:
            # Spec §4.1.1: ids are valid UTF-8 and must not contain the MQTT separators or
            # wildcards '/', '+', '#'.
            if not value or any(c in value for c in "/+#"):
                raise InvalidInput(
                    f"Sparkplug {name} {value!r} is empty or contains '/', '+' or '#'",
                    field=name,
                )
        if (self.device_id is not None) != (self.message_type in _DEVICE_TYPES):
            raise InvalidInput(
                f"a {self.message_type} topic {'needs' if self.device_id is None else 'has no'} "
                "device_id",
                field="device_id",
            )

    def __str__(self) -> str:
        if self.message_type is MessageType.STATE:
            return f"{NAMESPACE}/STATE/{self.edge_node_id}"
        base = f"{NAMESPACE}/{self.group_id}/{self.message_type}/{self.edge_node_id}"
        return base if self.device_id is None else f"{base}/{self.device_id}"

    @classmethod
    def parse(cls, topic: str) -> Topic:
        """Parse an MQTT topic name; raise :class:`PayloadError` if it is not Sparkplug B."""
        parts = topic.split("/")
        if parts[0] != NAMESPACE:
            raise PayloadError(f"topic {topic!r} is not in the {NAMESPACE} namespace", field=topic)
        if len(parts) == 3 and parts[1] == "STATE":
            return cls("", MessageType.STATE, parts[2])
        if len(parts) not in (4, 5):
            raise PayloadError(f"topic {topic!r} has {len(parts)} levels, not 4 or 5", field=topic)
        try:
            message_type = MessageType(parts[2])
        except ValueError:
            raise PayloadError(
                f"topic {topic!r} has an unknown message type {parts[2]!r}", field=topic
            ) from None
        try:
            return cls(parts[1], message_type, parts[3], parts[4] if len(parts) == 5 else None)
        except InvalidInput as exc:
            raise PayloadError(f"topic {topic!r}: {exc.message}", field=topic) from None


@dataclass(frozen=True, slots=True)
class PropertySet:
    """Custom key/value properties of a metric (engineering unit, range, quality...)."""

    items: tuple[tuple[str, PropertyValue], ...] = ()

    @classmethod
    def of(cls, mapping: Mapping[str, PropertyValue]) -> PropertySet:
        """Build a property set from a mapping, keeping its order."""
        return cls(tuple(mapping.items()))

    def get(self, key: str) -> PropertyValue | None:
        """Return the value of ``key``, or None."""
        for k, v in self.items:
            if k == key:
                return v
        return None

    def to_dict(self) -> dict[str, PropertyValue]:
        """Return the properties as a dict."""
        return dict(self.items)


PropertyData: TypeAlias = Scalar | PropertySet | tuple[PropertySet, ...] | None


@dataclass(frozen=True, slots=True)
class PropertyValue:
    """A typed property value; None is the Sparkplug null."""

    type: DataType
    value: PropertyData = None


@dataclass(frozen=True, slots=True)
class Metric:
    """One Sparkplug metric.

    Attributes:
        name: Metric name; required in BIRTH, omitted in DATA when an alias is used.
        alias: Alias declared in the BIRTH and used alone in DATA/CMD.
        timestamp: Acquisition time, ms since the Unix epoch (UTC).
        datatype: The datatype; encoded in BIRTH, needed to encode any value. After decoding a
            DATA message it is None until :meth:`AliasTable.resolve` fills it in.
        value: The value (see :data:`MetricValue`); None means null.
        is_historical: The value is not current (store and forward, backfill).
        is_transient: Hosts should not historize the value.
        properties: Optional property set.
    """

    name: str | None = None
    alias: int | None = None
    timestamp: int | None = None
    datatype: DataType | None = None
    value: MetricValue = None
    is_historical: bool = False
    is_transient: bool = False
    properties: PropertySet | None = None


@dataclass(frozen=True, slots=True)
class Payload:
    """A Sparkplug B payload.

    Attributes:
        timestamp: Publish time, ms since the Unix epoch (UTC).
        metrics: The metrics, in order.
        seq: Sequence number 0–255; absent only in NDEATH, NCMD, DCMD and STATE.
        uuid: Optional schema identifier for ``body``.
        body: Optional opaque bytes.
    """

    timestamp: int | None = None
    metrics: tuple[Metric, ...] = ()
    seq: int | None = None
    uuid: str | None = None
    body: bytes | None = None

    def metric(self, name: str) -> Metric | None:
        """Return the first metric named ``name``, or None."""
        for m in self.metrics:
            if m.name == name:
                return m
        return None


# --------------------------------------------------------------------------------------------
# Datatype tables

_INT_WIDTH: Final[Mapping[DataType, tuple[int, bool]]] = {
    DataType.INT8: (8, True),
    DataType.INT16: (16, True),
    DataType.INT32: (32, True),
    DataType.INT64: (64, True),
    DataType.UINT8: (8, False),
    DataType.UINT16: (16, False),
    DataType.UINT32: (32, False),
    DataType.UINT64: (64, False),
    DataType.DATETIME: (64, False),
}
_LONG_TYPES: Final = frozenset({DataType.INT64, DataType.UINT64, DataType.DATETIME})
_STRING_TYPES: Final = frozenset({DataType.STRING, DataType.TEXT, DataType.UUID})
_BYTES_TYPES: Final = frozenset({DataType.BYTES, DataType.FILE})
_RAW_TYPES: Final[Mapping[DataType, int]] = {DataType.DATASET: 17, DataType.TEMPLATE: 18}
_PACKED_ARRAYS: Final[Mapping[DataType, str]] = {
    DataType.INT8_ARRAY: "b",
    DataType.INT16_ARRAY: "h",
    DataType.INT32_ARRAY: "i",
    DataType.INT64_ARRAY: "q",
    DataType.UINT8_ARRAY: "B",
    DataType.UINT16_ARRAY: "H",
    DataType.UINT32_ARRAY: "I",
    DataType.UINT64_ARRAY: "Q",
    DataType.FLOAT_ARRAY: "f",
    DataType.DOUBLE_ARRAY: "d",
    DataType.DATETIME_ARRAY: "Q",
}
_ARRAY_TYPES: Final = frozenset({*_PACKED_ARRAYS, DataType.BOOLEAN_ARRAY, DataType.STRING_ARRAY})

# Offsets of the value fields from the oneof's first field (int_value): Metric starts at 10,
# PropertyValue at 3; both list int, long, float, double, bool, string in the same order.
_INT, _LONG, _FLOAT, _DOUBLE, _BOOL, _STRING, _BYTES = range(7)
_METRIC_VALUE_BASE: Final = 10
_PROPERTY_VALUE_BASE: Final = 3

# Wire types.
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


# --------------------------------------------------------------------------------------------
# Encoding


def _varint(out: bytearray, value: int) -> None:
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _tag(out: bytearray, number: int, wire: int) -> None:
    _varint(out, (number << 3) | wire)


def _put_varint(out: bytearray, number: int, value: int) -> None:
    _tag(out, number, _VARINT)
    _varint(out, value)


def _put_bytes(out: bytearray, number: int, data: bytes | bytearray) -> None:
    _tag(out, number, _LEN)
    _varint(out, len(data))
    out += data


def _put_str(out: bytearray, number: int, text: str) -> None:
    _put_bytes(out, number, text.encode("utf-8"))


def _bad(name: str | None, message: str) -> InvalidInput:
    return InvalidInput(f"metric {name!r}: {message}", field=name or "<alias>")


def _pack_array(datatype: DataType, values: tuple[Scalar, ...], name: str | None) -> bytes:
    if datatype is DataType.BOOLEAN_ARRAY:
        if not all(isinstance(v, bool) for v in values):
            raise _bad(name, "a BooleanArray holds booleans only")
        bits = bytearray((len(values) + 7) // 8)
        for i, v in enumerate(values):
            if v:
                bits[i // 8] |= 0x80 >> (i % 8)
        return struct.pack("<I", len(values)) + bytes(bits)
    if datatype is DataType.STRING_ARRAY:
        out = bytearray()
        for v in values:
            if not isinstance(v, str) or "\x00" in v:
                raise _bad(name, "a StringArray holds strings without NUL characters")
            out += v.encode("utf-8") + b"\x00"
        return bytes(out)
    code = _PACKED_ARRAYS[datatype]
    try:
        return struct.pack(f"<{len(values)}{code}", *values)
    except struct.error as exc:
        raise _bad(name, f"{datatype.name} cannot hold {values!r}: {exc}") from None


def _put_value(
    out: bytearray, base: int, datatype: DataType, value: object, name: str | None
) -> None:
    """Write ``value`` into the oneof field its datatype selects (``base`` = int_value)."""
    width = _INT_WIDTH.get(datatype)
    if width is not None:
        if type(value) is not int:
            raise _bad(name, f"{datatype.name} needs an int, got {type(value).__name__}")
        bits, signed = width
        low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        if not low <= value <= high:
            raise _bad(name, f"{value} is outside the {datatype.name} range {low}..{high}")
        # Two's complement of the type's own width (Tahu reference client).
        raw = value & ((1 << bits) - 1)
        _put_varint(out, base + (_LONG if datatype in _LONG_TYPES else _INT), raw)
    elif datatype is DataType.FLOAT or datatype is DataType.DOUBLE:
        if not isinstance(value, float | int) or isinstance(value, bool):
            raise _bad(name, f"{datatype.name} needs a float, got {type(value).__name__}")
        if datatype is DataType.FLOAT:
            try:
                packed = struct.pack("<f", value)
            except OverflowError:
                raise _bad(name, f"{value} does not fit a 32-bit float") from None
            _tag(out, base + _FLOAT, _I32)
        else:
            packed = struct.pack("<d", value)
            _tag(out, base + _DOUBLE, _I64)
        out += packed
    elif datatype is DataType.BOOLEAN:
        if not isinstance(value, bool):
            raise _bad(name, f"Boolean needs a bool, got {type(value).__name__}")
        _put_varint(out, base + _BOOL, int(value))
    elif datatype in _STRING_TYPES:
        if not isinstance(value, str):
            raise _bad(name, f"{datatype.name} needs a str, got {type(value).__name__}")
        _put_str(out, base + _STRING, value)
    elif base == _METRIC_VALUE_BASE and datatype in _BYTES_TYPES:
        if not isinstance(value, bytes):
            raise _bad(name, f"{datatype.name} needs bytes, got {type(value).__name__}")
        _put_bytes(out, base + _BYTES, value)
    elif base == _METRIC_VALUE_BASE and datatype in _ARRAY_TYPES:
        if not isinstance(value, tuple):
            raise _bad(name, f"{datatype.name} needs a tuple, got {type(value).__name__}")
        _put_bytes(out, base + _BYTES, _pack_array(datatype, value, name))
    elif base == _METRIC_VALUE_BASE and datatype in _RAW_TYPES:
        if not isinstance(value, bytes):
            raise _bad(name, f"{datatype.name} values travel as raw protobuf bytes")
        _put_bytes(out, _RAW_TYPES[datatype], value)
    elif base == _PROPERTY_VALUE_BASE and datatype is DataType.PROPERTYSET:
        if not isinstance(value, PropertySet):
            raise _bad(name, "a PropertySet property needs a PropertySet")
        _put_bytes(out, 9, _encode_property_set(value, name))
    elif base == _PROPERTY_VALUE_BASE and datatype is DataType.PROPERTYSETLIST:
        if not isinstance(value, tuple) or not all(isinstance(v, PropertySet) for v in value):
            raise _bad(name, "a PropertySetList property needs a tuple of PropertySet")
        inner = bytearray()
        for ps in value:
            _put_bytes(inner, 1, _encode_property_set(ps, name))
        _put_bytes(out, 10, inner)
    else:
        raise _bad(name, f"datatype {datatype.name} cannot carry a value here")


def _encode_property_set(ps: PropertySet, name: str | None) -> bytes:
    out = bytearray()
    for key, _ in ps.items:
        _put_str(out, 1, key)
    for _, pv in ps.items:
        inner = bytearray()
        _put_varint(inner, 1, int(pv.type))
        if pv.value is None:
            _put_varint(inner, 2, 1)
        else:
            _put_value(inner, _PROPERTY_VALUE_BASE, pv.type, pv.value, name)
        _put_bytes(out, 2, inner)
    return bytes(out)


def encode_metric(metric: Metric, *, datatype: bool = True) -> bytes:
    """Encode one ``Metric`` message (without its field tag).

    Args:
        metric: The metric. ``metric.datatype`` selects the value field and is required unless
            the value is null.
        datatype: Write the datatype field. BIRTH messages must (spec §6.4.3); DATA and CMD
            messages should not.

    Raises:
        InvalidInput: The value does not fit the datatype.
    """
    out = bytearray()
    if metric.name is not None:
        _put_str(out, 1, metric.name)
    if metric.alias is not None:
        _put_varint(out, 2, metric.alias)
    if metric.timestamp is not None:
        _put_varint(out, 3, metric.timestamp)
    if datatype and metric.datatype is not None:
        _put_varint(out, 4, int(metric.datatype))
    if metric.is_historical:
        _put_varint(out, 5, 1)
    if metric.is_transient:
        _put_varint(out, 6, 1)
    if metric.value is None:
        _put_varint(out, 7, 1)
    if metric.properties is not None:
        _put_bytes(out, 9, _encode_property_set(metric.properties, metric.name))
    if metric.value is not None:
        if metric.datatype is None:
            raise _bad(metric.name, "a metric with a value needs a datatype to be encoded")
        _put_value(out, _METRIC_VALUE_BASE, metric.datatype, metric.value, metric.name)
    return bytes(out)


def encode_payload(payload: Payload, *, datatypes: bool = True) -> bytes:
    """Encode a payload to protobuf bytes.

    Args:
        payload: The payload.
        datatypes: Write each metric's datatype; pass False for DATA and CMD messages, which
            should omit it (spec §6.4.3: "datatype ... should be omitted" outside BIRTH).

    Raises:
        InvalidInput: A metric value does not fit its datatype.
    """
    out = bytearray()
    if payload.timestamp is not None:
        _put_varint(out, 1, payload.timestamp)
    for metric in payload.metrics:
        _put_bytes(out, 2, encode_metric(metric, datatype=datatypes))
    if payload.seq is not None:
        _put_varint(out, 3, payload.seq)
    if payload.uuid is not None:
        _put_str(out, 4, payload.uuid)
    if payload.body is not None:
        _put_bytes(out, 5, payload.body)
    return bytes(out)


# --------------------------------------------------------------------------------------------
# Decoding

_U32: Final = (1 << 32) - 1
_U64: Final = (1 << 64) - 1


class _Reader:
    """Walk the fields of one protobuf message."""

    __slots__ = ("buf", "end", "pos", "where")

    def __init__(self, buf: bytes, where: str, pos: int = 0, end: int | None = None) -> None:
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end
        self.where = where

    def error(self, message: str) -> PayloadError:
        return PayloadError(f"Sparkplug B {self.where}: {message}", field=self.where)

    def varint(self) -> int:
        buf, pos, end = self.buf, self.pos, self.end
        result = 0
        shift = 0
        while True:
            if pos >= end:
                raise self.error("truncated varint")
            b = buf[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            if b < 0x80:
                self.pos = pos
                return result & _U64
            shift += 7
            if shift >= 70:
                raise self.error("varint longer than 10 bytes")

    def fields(self) -> Iterable[tuple[int, int]]:
        """Yield ``(field number, wire type)`` until the end of the message."""
        while self.pos < self.end:
            key = self.varint()
            number, wire = key >> 3, key & 7
            if number == 0:
                raise self.error("field number 0")
            yield number, wire

    def fixed(self, size: int) -> bytes:
        if self.pos + size > self.end:
            raise self.error("truncated fixed-size field")
        data = self.buf[self.pos : self.pos + size]
        self.pos += size
        return data

    def length_delimited(self) -> tuple[int, int]:
        """Return the ``(start, end)`` of a length-delimited field and skip it."""
        length = self.varint()
        start = self.pos
        if start + length > self.end:
            raise self.error("length-delimited field runs past the end")
        self.pos = start + length
        return start, start + length

    def text(self) -> str:
        start, end = self.length_delimited()
        try:
            return self.buf[start:end].decode("utf-8")
        except UnicodeDecodeError:
            raise self.error("string is not valid UTF-8") from None

    def skip(self, wire: int) -> None:
        if wire == _VARINT:
            self.varint()
        elif wire == _I64:
            self.fixed(8)
        elif wire == _LEN:
            self.length_delimited()
        elif wire == _I32:
            self.fixed(4)
        else:
            raise self.error(f"unsupported wire type {wire}")

    def expect(self, wire: int, expected: int, number: int) -> None:
        if wire != expected:
            raise self.error(f"field {number} has wire type {wire}, expected {expected}")


def _read_value(r: _Reader, number: int, wire: int, base: int) -> tuple[bool, MetricValue]:
    """Read a oneof value field; return (handled, raw value)."""
    offset = number - base
    if offset in (_INT, _LONG, _BOOL):
        r.expect(wire, _VARINT, number)
        raw = r.varint()
        if offset == _BOOL:
            return True, raw != 0
        return True, raw & _U32 if offset == _INT else raw
    if offset == _FLOAT:
        r.expect(wire, _I32, number)
        return True, float(struct.unpack("<f", r.fixed(4))[0])
    if offset == _DOUBLE:
        r.expect(wire, _I64, number)
        return True, float(struct.unpack("<d", r.fixed(8))[0])
    if offset == _STRING:
        r.expect(wire, _LEN, number)
        return True, r.text()
    if base == _METRIC_VALUE_BASE and number in (16, 17, 18):
        r.expect(wire, _LEN, number)
        start, end = r.length_delimited()
        return True, r.buf[start:end]
    return False, None


def _unpack_array(datatype: DataType, data: bytes, where: str) -> tuple[Scalar, ...]:
    if datatype is DataType.BOOLEAN_ARRAY:
        if len(data) < 4:
            raise PayloadError(f"{where}: BooleanArray shorter than its 4-byte count", field=where)
        (count,) = struct.unpack_from("<I", data)
        if len(data) - 4 < (count + 7) // 8:
            raise PayloadError(f"{where}: BooleanArray holds fewer than {count} bits", field=where)
        return tuple(bool(data[4 + i // 8] & (0x80 >> (i % 8))) for i in range(count))
    if datatype is DataType.STRING_ARRAY:
        if data and not data.endswith(b"\x00"):
            raise PayloadError(f"{where}: StringArray is not NUL-terminated", field=where)
        try:
            return tuple(s.decode("utf-8") for s in data.split(b"\x00")[:-1])
        except UnicodeDecodeError:
            raise PayloadError(f"{where}: StringArray is not valid UTF-8", field=where) from None
    code = _PACKED_ARRAYS[datatype]
    size = struct.calcsize(code)
    if len(data) % size:
        raise PayloadError(
            f"{where}: {datatype.name} of {len(data)} bytes is not a multiple of {size}",
            field=where,
        )
    return tuple(struct.unpack(f"<{len(data) // size}{code}", data))


def interpret(datatype: DataType, raw: MetricValue, where: str = "metric") -> MetricValue:
    """Turn a raw wire value into the value its datatype means.

    Integers are reduced to the datatype's width and signed types read as two's complement;
    array bytes are unpacked; everything else is checked against the datatype.

    Raises:
        PayloadError: The wire value does not fit the datatype.
    """
    if raw is None:
        return None
    width = _INT_WIDTH.get(datatype)
    if width is not None:
        if type(raw) is not int:
            raise PayloadError(
                f"{where}: {datatype.name} arrived as {type(raw).__name__}", field=where
            )
        bits, signed = width
        value = raw & ((1 << bits) - 1)
        if signed and value >> (bits - 1):
            value -= 1 << bits
        return value
    if datatype is DataType.FLOAT or datatype is DataType.DOUBLE:
        ok = isinstance(raw, float)
    elif datatype is DataType.BOOLEAN:
        ok = isinstance(raw, bool)
    elif datatype in _STRING_TYPES:
        ok = isinstance(raw, str)
    elif datatype in _BYTES_TYPES or datatype in _RAW_TYPES:
        ok = isinstance(raw, bytes)
    elif datatype in _ARRAY_TYPES:
        if isinstance(raw, tuple):
            return raw
        if not isinstance(raw, bytes):
            raise PayloadError(f"{where}: {datatype.name} arrived as a scalar", field=where)
        return _unpack_array(datatype, raw, where)
    else:
        ok = False
    if not ok:
        raise PayloadError(
            f"{where}: datatype {datatype.name} cannot hold a {type(raw).__name__}", field=where
        )
    return raw


def _datatype(r: _Reader, raw: int) -> DataType:
    try:
        return DataType(raw)
    except ValueError:
        raise r.error(f"unknown datatype {raw}") from None


def _decode_property_value(r: _Reader) -> PropertyValue:
    type_: DataType | None = None
    raw: PropertyData = None
    for number, wire in r.fields():
        if number == 1:
            r.expect(wire, _VARINT, number)
            type_ = _datatype(r, r.varint())
        elif number == 2:
            r.expect(wire, _VARINT, number)
            r.varint()
        elif number == 9:
            r.expect(wire, _LEN, number)
            start, end = r.length_delimited()
            raw = _decode_property_set(_Reader(r.buf, r.where, start, end))
        elif number == 10:
            r.expect(wire, _LEN, number)
            start, end = r.length_delimited()
            sets = []
            inner = _Reader(r.buf, r.where, start, end)
            for n, w in inner.fields():
                if n == 1:
                    inner.expect(w, _LEN, n)
                    s, e = inner.length_delimited()
                    sets.append(_decode_property_set(_Reader(r.buf, r.where, s, e)))
                else:
                    inner.skip(w)
            raw = tuple(sets)
        else:
            handled, value = _read_value(r, number, wire, _PROPERTY_VALUE_BASE)
            if handled:
                assert not isinstance(value, bytes | tuple)  # property values carry no bytes
                raw = value
            else:
                r.skip(wire)
    if type_ is None:
        type_ = DataType.UNKNOWN
    if raw is None or isinstance(raw, PropertySet | tuple):
        return PropertyValue(type_, raw)
    value = interpret(type_, raw, r.where) if type_ is not DataType.UNKNOWN else raw
    assert not isinstance(value, bytes | tuple)
    return PropertyValue(type_, value)


def _decode_property_set(r: _Reader) -> PropertySet:
    keys: list[str] = []
    values: list[PropertyValue] = []
    for number, wire in r.fields():
        if number == 1:
            r.expect(wire, _LEN, number)
            keys.append(r.text())
        elif number == 2:
            r.expect(wire, _LEN, number)
            start, end = r.length_delimited()
            values.append(_decode_property_value(_Reader(r.buf, r.where, start, end)))
        else:
            r.skip(wire)
    if len(keys) != len(values):
        # Spec §6.4.9: the keys and values arrays MUST have the same size.
        raise r.error(f"property set has {len(keys)} keys but {len(values)} values")
    return PropertySet(tuple(zip(keys, values, strict=True)))


def _decode_metric(r: _Reader) -> Metric:
    name: str | None = None
    alias: int | None = None
    timestamp: int | None = None
    datatype: DataType | None = None
    historical = transient = False
    properties: PropertySet | None = None
    raw: MetricValue = None
    for number, wire in r.fields():
        if number == 1:
            r.expect(wire, _LEN, number)
            name = r.text()
            r.where = f"metric {name!r}"
        elif number in (2, 3, 4, 5, 6, 7):
            r.expect(wire, _VARINT, number)
            v = r.varint()
            if number == 2:
                alias = v
            elif number == 3:
                timestamp = v
            elif number == 4:
                datatype = _datatype(r, v & _U32)
            elif number == 5:
                historical = v != 0
            elif number == 6:
                transient = v != 0
            # number 7 (is_null): a null is a metric without a value; nothing to keep.
        elif number == 9:
            r.expect(wire, _LEN, number)
            start, end = r.length_delimited()
            properties = _decode_property_set(_Reader(r.buf, r.where, start, end))
        else:
            handled, value = _read_value(r, number, wire, _METRIC_VALUE_BASE)
            if handled:
                raw = value
            else:
                r.skip(wire)  # metadata (8), extension values (19), unknown fields
    if alias is not None and name is None:
        r.where = f"metric alias {alias}"
    value = raw if datatype is None else interpret(datatype, raw, r.where)
    return Metric(name, alias, timestamp, datatype, value, historical, transient, properties)


def decode_payload(data: bytes) -> Payload:
    """Decode protobuf bytes into a :class:`Payload`.

    Metrics that carry a datatype come back with interpreted values; metrics without one (DATA
    messages) come back with the raw wire value (unsigned integers, array bytes) and
    ``datatype=None`` — resolve them with :meth:`AliasTable.resolve`.

    Raises:
        PayloadError: The bytes are not a valid Sparkplug B payload.
    """
    r = _Reader(bytes(data), "payload")
    timestamp: int | None = None
    metrics: list[Metric] = []
    seq: int | None = None
    uuid: str | None = None
    body: bytes | None = None
    for number, wire in r.fields():
        if number == 1:
            r.expect(wire, _VARINT, number)
            timestamp = r.varint()
        elif number == 2:
            r.expect(wire, _LEN, number)
            start, end = r.length_delimited()
            metrics.append(_decode_metric(_Reader(r.buf, f"metric #{len(metrics)}", start, end)))
        elif number == 3:
            r.expect(wire, _VARINT, number)
            seq = r.varint()
        elif number == 4:
            r.expect(wire, _LEN, number)
            uuid = r.text()
        elif number == 5:
            r.expect(wire, _LEN, number)
            start, end = r.length_delimited()
            body = r.buf[start:end]
        else:
            r.skip(wire)
    return Payload(timestamp, tuple(metrics), seq, uuid, body)


# --------------------------------------------------------------------------------------------
# Birth certificates


class UnknownMetric(PayloadError):
    """A DATA/CMD metric names an alias or metric that no BIRTH declared.

    A host must answer with a rebirth request (NCMD ``Node Control/Rebirth`` = true).
    """

    default_key = "input.sparkplug_unknown_metric"


@dataclass(slots=True)
class AliasTable:
    """The alias → (name, datatype) table of one edge node, learned from its BIRTH certificates.

    Aliases are unique across the edge node and all its devices (spec §6.4.3
    ``tck-id-payloads-alias-uniqueness``), so one table serves the node and its devices; names
    are scoped per device. An NBIRTH starts a new session and forgets every device too.
    """

    _by_alias: dict[int, tuple[str | None, str, DataType]] = field(default_factory=dict)
    _by_name: dict[tuple[str | None, str], tuple[int | None, DataType]] = field(
        default_factory=dict
    )

    def learn(self, birth: Payload, device_id: str | None = None) -> None:
        """Record the metrics of an NBIRTH (``device_id`` None) or a DBIRTH.

        Raises:
            PayloadError: A birth metric lacks a name or datatype, or reuses an alias.
        """
        if device_id is None:
            self._by_alias.clear()
            self._by_name.clear()
        else:
            self.forget(device_id)
        for m in birth.metrics:
            if m.name is None or m.datatype is None:
                raise PayloadError(
                    f"BIRTH metric {m.name or m.alias!r} lacks a name or datatype "
                    "(spec: both are required in NBIRTH and DBIRTH)",
                    field=m.name or str(m.alias),
                )
            if m.alias is not None:
                owner = self._by_alias.get(m.alias)
                if owner is not None and (owner[0], owner[1]) != (device_id, m.name):
                    raise PayloadError(
                        f"alias {m.alias} of {m.name!r} is already used by {owner[1]!r}",
                        field=m.name,
                    )
                self._by_alias[m.alias] = (device_id, m.name, m.datatype)
            self._by_name[(device_id, m.name)] = (m.alias, m.datatype)

    def forget(self, device_id: str | None = None) -> None:
        """Forget one device (after a DDEATH), or everything (``device_id`` None, NDEATH)."""
        if device_id is None:
            self._by_alias.clear()
            self._by_name.clear()
            return
        self._by_alias = {a: v for a, v in self._by_alias.items() if v[0] != device_id}
        self._by_name = {k: v for k, v in self._by_name.items() if k[0] != device_id}

    def lookup(self, alias: int) -> tuple[str, DataType] | None:
        """Return the ``(name, datatype)`` of an alias, or None."""
        entry = self._by_alias.get(alias)
        return None if entry is None else (entry[1], entry[2])

    def resolve(self, payload: Payload, device_id: str | None = None) -> Payload:
        """Fill in names and datatypes of a DATA/CMD payload and interpret its values.

        Raises:
            UnknownMetric: An alias or name that no BIRTH of this node/device declared.
            PayloadError: A value does not fit the datatype the BIRTH declared.
        """
        metrics = []
        for m in payload.metrics:
            name, datatype = m.name, m.datatype
            if m.alias is not None and (name is None or datatype is None):
                entry = self._by_alias.get(m.alias)
                if entry is None or entry[0] != device_id:
                    raise UnknownMetric(
                        f"alias {m.alias} was not declared in the BIRTH of "
                        f"{device_id or 'the edge node'}",
                        field=str(m.alias),
                    )
                name = entry[1]
                datatype = datatype or entry[2]
            elif datatype is None:
                known = self._by_name.get((device_id, name or ""))
                if known is None:
                    raise UnknownMetric(
                        f"metric {name!r} was not declared in the BIRTH of "
                        f"{device_id or 'the edge node'}",
                        field=name,
                    )
                datatype = known[1]
            if m.datatype is None:
                value = interpret(datatype, m.value, f"metric {name!r}")
            else:
                value = m.value
            metrics.append(replace(m, name=name, datatype=datatype, value=value))
        return replace(payload, metrics=tuple(metrics))

    def decode(self, data: bytes, device_id: str | None = None) -> Payload:
        """Decode and resolve a DATA/CMD payload in one step."""
        return self.resolve(decode_payload(data), device_id)


def metric_value_field(datatype: DataType) -> str:
    """Name the protobuf oneof field a datatype's values travel in (for diagnostics and tests)."""
    if datatype in _INT_WIDTH:
        return "long_value" if datatype in _LONG_TYPES else "int_value"
    return {
        DataType.FLOAT: "float_value",
        DataType.DOUBLE: "double_value",
        DataType.BOOLEAN: "boolean_value",
        DataType.DATASET: "dataset_value",
        DataType.TEMPLATE: "template_value",
    }.get(datatype, "string_value" if datatype in _STRING_TYPES else "bytes_value")
