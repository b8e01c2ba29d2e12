"""Decode OPC UA PublishResponses without one Python object per monitored item.

asyncua decodes a PublishResponse into a ``MonitoredItemNotification`` with a ``DataValue``, a
``Variant``, a ``StatusCode`` and two ``datetime`` objects per item: at tens of thousands of items
per second that is most of a client's CPU. :func:`decode_publish_response` decodes the response
header, the PublishResult and every notification that is not a data change with asyncua, and
the body of each DataChangeNotification (TypeId ``ns=0;i=811``, binary encoding) itself into
numpy columns (:class:`DataChangeArrays`):

* when every item of the body has the same layout (the same DataValue encoding mask and, if it
  carries a value, the same scalar Variant type of fixed size), one ``np.frombuffer`` with a
  structured dtype decodes them all;
* otherwise a loop with ``struct.unpack_from`` reads item by item; a Variant that is not a
  fixed-size scalar (a string, an array, an ExtensionObject) is decoded by asyncua for that item.

A body the decoder does not take (DiagnosticInfos present, a timestamp outside the int64
nanosecond range, a truncated body) is decoded by asyncua as before, so every response still
decodes to what asyncua would have given.

Fields are read in the order asyncua reads them (Part 6 §5.2.2.17 encoding mask bits 0x01 Value,
0x02 StatusCode, 0x04 SourceTimestamp, 0x08 ServerTimestamp, 0x10 SourcePicoseconds, 0x20
ServerPicoseconds): asyncua reads both timestamps before both picosecond fields, which is what
werk received before this decoder existed; the picoseconds are skipped (samples keep
microseconds, as :func:`~werk.connectors.opcua.mapping.ua_ns` did).
"""

from __future__ import annotations

import logging
import math
import struct
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from asyncua import ua
from asyncua.client.ua_session import UaSession
from asyncua.common.utils import Buffer
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.ua_binary import (
    Primitives,
    extensionobject_from_binary,
    from_binary,
    get_safe_type_hints,
    nodeid_from_binary,
    variant_from_binary,
)
from asyncua.ua.uaerrors import UaStructParsingError

_log = logging.getLogger(__name__)

MISSING_TS: Final = np.iinfo(np.int64).min
"""Marker in :attr:`DataChangeArrays.source_ns`/``server_ns`` for a timestamp not sent."""

KIND_NUMBER: Final = 0
"""The item's value is a number (bool, integer or float, possibly NaN or infinite)."""
KIND_MISSING: Final = 1
"""The item carries no value (no Value bit, or a Null Variant)."""
KIND_OTHER: Final = 2
"""The item's value is not a number (a string, a DateTime, an array, a structure)."""

_DATA_CHANGE: Final = ObjectIds.DataChangeNotification_Encoding_DefaultBinary
# OPC UA DateTime: 100 ns ticks since 1601-01-01. asyncua turns ticks into a datetime of
# microseconds (ticks // 10); ua_ns turns that into ns since 1970. Ticks whose ns do not fit an
# int64 (before ~1685, after ~2255, and asyncua's clamping of <0 and ≥ year 9999) are left to
# asyncua, so those rare values behave exactly as before.
_EPOCH_US: Final = 11_644_473_600_000_000
_SPAN_US: Final = 9_000_000_000_000_000
_TICKS_LO: Final = (_EPOCH_US - _SPAN_US) * 10
_TICKS_HI: Final = (_EPOCH_US + _SPAN_US) * 10

# Scalar Variant types of fixed size (Part 6 §5.1.2 built-in type ids) → numpy dtype. Boolean is
# read as a byte (asyncua: any non-zero byte is True).
_FIXED: Final[dict[int, str]] = {
    1: "u1",  # Boolean
    2: "i1",  # SByte
    3: "u1",  # Byte
    4: "<i2",  # Int16
    5: "<u2",  # UInt16
    6: "<i4",  # Int32
    7: "<u4",  # UInt32
    8: "<i8",  # Int64
    9: "<u8",  # UInt64
    10: "<f4",  # Float
    11: "<f8",  # Double
    13: "<i8",  # DateTime: not a number, but of fixed size
}
_BOOLEAN: Final = 1
_DATETIME: Final = 13
_FORMAT: Final[dict[int, str]] = {
    1: "B",
    2: "b",
    3: "B",
    4: "h",
    5: "H",
    6: "i",
    7: "I",
    8: "q",
    9: "Q",
    10: "f",
    11: "d",
    13: "q",
}
_UNPACK: Final = {k: struct.Struct("<" + f) for k, f in _FORMAT.items()}
_HANDLE_MASK: Final = struct.Struct("<IB")
_U32: Final = struct.Struct("<I")
_I32: Final = struct.Struct("<i")
_I64: Final = struct.Struct("<q")
_MIN_VECTOR: Final = 4
"""Fewer items than this are read item by item (a structured dtype costs more to set up)."""

_RESULT_TYPES: Final = get_safe_type_hints(ua.PublishResult, {"ua": ua})


class _Fallback(Exception):
    """The body is not one the lean decoder takes: asyncua decodes it."""


@dataclass(slots=True, eq=False)
class DataChangeArrays:
    """The monitored items of one DataChangeNotification, as columns.

    Attributes:
        handles: ClientHandle of each item.
        values: The value as float64 where :attr:`kinds` is ``KIND_NUMBER`` (booleans as 0/1,
            integers converted as ``float(int)``), else NaN.
        kinds: ``KIND_NUMBER``, ``KIND_MISSING`` or ``KIND_OTHER`` per item.
        status: The StatusCode (0, Good, when the item carried none).
        source_ns: SourceTimestamp in ns since the Unix epoch, microsecond precision, or
            :data:`MISSING_TS`.
        server_ns: ServerTimestamp, likewise.
        raw: The Python value asyncua decoded for items whose Variant is not a fixed-size
            scalar, by item index (for diagnostics and tests).
    """

    handles: npt.NDArray[np.uint32]
    values: npt.NDArray[np.float64]
    kinds: npt.NDArray[np.uint8]
    status: npt.NDArray[np.uint32]
    source_ns: npt.NDArray[np.int64]
    server_ns: npt.NDArray[np.int64]
    raw: dict[int, object] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.handles)


def install(session: UaSession) -> None:
    """Make ``session`` (one client's asyncua UaSession) decode its publishes with the lean decoder.

    Only this session's ``publish`` changes: asyncua's publish loop, acknowledgements and error
    handling stay as they are (a response that cannot be decoded is a ``UaStructParsingError``,
    as in asyncua). Subscriptions of this session receive :class:`DataChangeArrays` in their
    ``publish_callback`` where asyncua would give a ``DataChangeNotification``.
    """

    async def publish(acks: list[ua.SubscriptionAcknowledgement]) -> ua.PublishResponse:
        request = ua.PublishRequest()
        request.Parameters.SubscriptionAcknowledgements = acks if acks else []
        data = await session._send_request(request, timeout=0)
        try:
            return decode_publish_response(data)
        except Exception as ex:
            _log.exception("Error parsing notification from server")
            raise UaStructParsingError from ex

    session.publish = publish  # type: ignore[method-assign]


def decode_publish_response(data: Buffer) -> ua.PublishResponse:
    """Decode a PublishResponse body as asyncua does, data changes into :class:`DataChangeArrays`.

    The returned response is asyncua's own type; its ``NotificationData`` holds a
    :class:`DataChangeArrays` where asyncua would hold a ``DataChangeNotification`` (or that
    ``DataChangeNotification`` itself, where the lean decoder left the body to asyncua) and
    asyncua's objects for every other notification.
    """
    type_id = nodeid_from_binary(data)
    header = from_binary(ua.ResponseHeader, data)
    subscription_id = Primitives.UInt32.unpack(data)
    available = from_binary(_RESULT_TYPES["AvailableSequenceNumbers"], data)
    more = Primitives.Boolean.unpack(data)
    sequence = Primitives.UInt32.unpack(data)
    publish_time = Primitives.DateTime.unpack(data)
    count = Primitives.Int32.unpack(data)
    notifications: list[Any] | None = None
    if count != -1:
        notifications = [_notification(data) for _ in range(count)]
    results = from_binary(_RESULT_TYPES["Results"], data)
    diagnostics = from_binary(_RESULT_TYPES["DiagnosticInfos"], data)
    message = ua.NotificationMessage(
        SequenceNumber=sequence,
        PublishTime=publish_time,
        NotificationData=notifications,  # type: ignore[arg-type]  # None, as asyncua gives
    )
    result = ua.PublishResult(
        SubscriptionId=subscription_id,
        AvailableSequenceNumbers=available,
        MoreNotifications=more,
        NotificationMessage=message,
        Results=results,
        DiagnosticInfos=diagnostics,
    )
    return ua.PublishResponse(TypeId=type_id, ResponseHeader=header, Parameters=result)


def _notification(data: Buffer) -> Any:
    """Decode one ExtensionObject of NotificationData."""
    peek = data.copy()
    type_id = nodeid_from_binary(peek)
    if type_id.NamespaceIndex != 0 or type_id.Identifier != _DATA_CHANGE:
        return extensionobject_from_binary(data)
    encoding = Primitives.Byte.unpack(peek)
    if encoding != 1:
        return extensionobject_from_binary(data)
    length = Primitives.Int32.unpack(peek)
    if length < 1:
        return extensionobject_from_binary(data)
    body = bytes(peek.read(length))
    data.skip(len(data) - len(peek))
    try:
        return decode_data_change(body)
    except _Fallback:
        return from_binary(ua.DataChangeNotification, Buffer(body))


def decode_data_change(body: bytes) -> DataChangeArrays:
    """Decode the binary body of one DataChangeNotification into columns.

    Raises:
        _Fallback: The body is not one the lean decoder takes (see the module docstring).
    """
    try:
        (count,) = _I32.unpack_from(body, 0)
        if count > (len(body) - 8) // 5:  # an item takes ≥ 5 bytes: a corrupt count
            raise _Fallback
        found: DataChangeArrays | None = _empty() if count <= 0 else None
        pos = 4
        if found is None and count >= _MIN_VECTOR:
            found, pos = _vector(body, count)
        if found is None:
            found, pos = _loop(body, count)
        (diagnostics,) = _I32.unpack_from(body, pos)
    except _Fallback:
        raise
    except Exception as exc:  # malformed for the lean decoder: asyncua decides (and raises)
        raise _Fallback from exc
    if diagnostics > 0:
        raise _Fallback
    return found


def _empty() -> DataChangeArrays:
    return DataChangeArrays(
        np.empty(0, np.uint32),
        np.empty(0, np.float64),
        np.empty(0, np.uint8),
        np.empty(0, np.uint32),
        np.empty(0, np.int64),
        np.empty(0, np.int64),
    )


@cache
def _layout(mask: int, variant: int) -> np.dtype[Any]:
    """The packed structured dtype of one item with this encoding mask and Variant type."""
    fields: list[tuple[str, str]] = [("h", "<u4"), ("m", "u1")]
    if mask & 0x01:
        fields.append(("e", "u1"))
        if variant:
            fields.append(("v", _FIXED[variant]))
    if mask & 0x02:
        fields.append(("s", "<u4"))
    if mask & 0x04:
        fields.append(("st", "<i8"))
    if mask & 0x08:
        fields.append(("vt", "<i8"))
    if mask & 0x10:
        fields.append(("sp", "<u2"))
    if mask & 0x20:
        fields.append(("vp", "<u2"))
    return np.dtype(fields)


def _ns(ticks: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    if len(ticks) and (ticks.min() < _TICKS_LO or ticks.max() > _TICKS_HI):
        raise _Fallback
    return (ticks // 10 - _EPOCH_US) * 1000


def _vector(body: bytes, count: int) -> tuple[DataChangeArrays | None, int]:
    """Decode ``count`` items of one layout with one ``np.frombuffer``; None if they differ."""
    mask = body[8]
    variant = body[9] if mask & 0x01 else 0
    if variant and variant not in _FIXED:
        return None, 0
    dtype = _layout(mask, variant)
    end = 4 + count * dtype.itemsize
    if end + 4 > len(body):
        return None, 0
    items = np.frombuffer(body, dtype, count=count, offset=4)
    if not (items["m"] == mask).all():
        return None, 0
    if mask & 0x01 and not (items["e"] == variant).all():
        return None, 0
    if not mask & 0x01 or variant == 0:
        values = np.full(count, math.nan)
        kinds = np.full(count, KIND_MISSING, np.uint8)
    elif variant == _DATETIME:
        values = np.full(count, math.nan)
        kinds = np.full(count, KIND_OTHER, np.uint8)
    else:
        raw = items["v"]
        values = (raw != 0).astype(np.float64) if variant == _BOOLEAN else raw.astype(np.float64)
        kinds = np.zeros(count, np.uint8)
    missing = np.full(count, MISSING_TS, np.int64)
    arrays = DataChangeArrays(
        handles=items["h"].astype(np.uint32),
        values=values,
        kinds=kinds,
        status=items["s"].astype(np.uint32) if mask & 0x02 else np.zeros(count, np.uint32),
        source_ns=_ns(items["st"].astype(np.int64)) if mask & 0x04 else missing,
        server_ns=_ns(items["vt"].astype(np.int64)) if mask & 0x08 else missing.copy(),
    )
    return arrays, end


def _tick_ns(ticks: int) -> int:
    if ticks < _TICKS_LO or ticks > _TICKS_HI:
        raise _Fallback
    return (ticks // 10 - _EPOCH_US) * 1000


def _loop(body: bytes, count: int) -> tuple[DataChangeArrays, int]:
    """Decode ``count`` items one by one into lists (no per-item objects but asyncua's Variants
    for values that are not fixed-size scalars)."""
    handles = [0] * count
    values = [math.nan] * count
    kinds = [KIND_MISSING] * count
    status = [0] * count
    source = [MISSING_TS] * count
    server = [MISSING_TS] * count
    raw: dict[int, object] = {}
    unpack, handle_mask, u32, i64 = _UNPACK, _HANDLE_MASK.unpack_from, _U32, _I64
    pos = 4
    for i in range(count):
        handles[i], mask = handle_mask(body, pos)
        pos += 5
        if mask & 0x01:
            variant = body[pos]
            s = unpack.get(variant)
            if s is not None:
                if variant == _DATETIME:
                    kinds[i] = KIND_OTHER
                else:
                    (v,) = s.unpack_from(body, pos + 1)
                    values[i] = float(v != 0) if variant == _BOOLEAN else float(v)
                    kinds[i] = KIND_NUMBER
                pos += 1 + s.size
            elif variant == 0:
                pos += 1
            else:
                buf = Buffer(body, pos)
                value = variant_from_binary(buf).Value
                pos = buf.cur_pos
                raw[i] = value
                if isinstance(value, bool | int | float):
                    values[i] = float(value)
                    kinds[i] = KIND_NUMBER
                elif value is not None:
                    kinds[i] = KIND_OTHER
        if mask & 0x02:
            (status[i],) = u32.unpack_from(body, pos)
            pos += 4
        if mask & 0x04:
            source[i] = _tick_ns(i64.unpack_from(body, pos)[0])
            pos += 8
        if mask & 0x08:
            server[i] = _tick_ns(i64.unpack_from(body, pos)[0])
            pos += 8
        if mask & 0x10:
            pos += 2
        if mask & 0x20:
            pos += 2
    if pos > len(body):
        raise _Fallback
    arrays = DataChangeArrays(
        handles=np.array(handles, np.uint32),
        values=np.array(values, np.float64),
        kinds=np.array(kinds, np.uint8),
        status=np.array(status, np.uint32),
        source_ns=np.array(source, np.int64),
        server_ns=np.array(server, np.int64),
        raw=raw,
    )
    return arrays, pos
