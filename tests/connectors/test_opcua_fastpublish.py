"""The lean PublishResponse decoder yields what asyncua's decoder yields, and maps the same."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from asyncua import ua
from asyncua.common.utils import Buffer
from asyncua.ua.status_codes import StatusCodes
from asyncua.ua.ua_binary import struct_from_binary, struct_to_binary
from asyncua.ua.uaerrors import UaError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from werk.connectors.base import PointRole, SourceHealth
from werk.connectors.derive import Collector
from werk.connectors.opcua import session as session_module
from werk.connectors.opcua.config import OpcUaConfig, OpcUaPoint
from werk.connectors.opcua.fastpublish import (
    KIND_MISSING,
    KIND_NUMBER,
    KIND_OTHER,
    MISSING_TS,
    DataChangeArrays,
    decode_data_change,
    decode_publish_response,
)
from werk.connectors.opcua.mapping import ua_ns
from werk.connectors.opcua.session import Session

VT = ua.VariantType


def _data_value(variant: ua.Variant | None = None, **fields: Any) -> ua.DataValue:
    """A DataValue (asyncua types its fields as its own int and datetime subclasses)."""
    return ua.DataValue(variant, **fields)


def _code(value: int) -> ua.StatusCode:
    return ua.StatusCode(ua.UInt32(value))


_INTS = {
    VT.SByte: (-(2**7), 2**7 - 1),
    VT.Byte: (0, 2**8 - 1),
    VT.Int16: (-(2**15), 2**15 - 1),
    VT.UInt16: (0, 2**16 - 1),
    VT.Int32: (-(2**31), 2**31 - 1),
    VT.UInt32: (0, 2**32 - 1),
    VT.Int64: (-(2**63), 2**63 - 1),
    VT.UInt64: (0, 2**64 - 1),
}
# Mostly plausible times; some at asyncua's clamps and outside the int64 ns range.
_PLAUSIBLE = st.datetimes(
    datetime(1970, 1, 1),  # noqa: DTZ001  # hypothesis wants naive bounds
    datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
_TIMES = st.one_of(
    _PLAUSIBLE,
    st.sampled_from(
        [
            datetime(1601, 1, 1, tzinfo=UTC),
            datetime(1650, 1, 1, tzinfo=UTC),
            datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
        ]
    ),
)


@st.composite
def variants(
    draw: st.DrawFn, vtype: VT | None = None, times: st.SearchStrategy[datetime] = _TIMES
) -> ua.Variant | None:
    """A Variant of a fast or a slow type; None for a DataValue without a Value."""
    choices = [*_INTS, VT.Boolean, VT.Float, VT.Double, VT.DateTime, VT.String, VT.Null]
    t = vtype if vtype is not None else draw(st.sampled_from([*choices, "array", "absent"]))
    if t == "absent":
        return None
    if t == "array":
        return ua.Variant(draw(st.lists(st.floats(), max_size=3)), VT.Double, is_array=True)
    assert isinstance(t, VT)
    if t in _INTS:
        lo, hi = _INTS[t]
        return ua.Variant(draw(st.integers(lo, hi)), t)
    value: Any
    if t is VT.Boolean:
        value = draw(st.booleans())
    elif t is VT.Float:
        value = draw(st.floats(width=32))
    elif t is VT.Double:
        value = draw(st.floats())
    elif t is VT.DateTime:
        value = draw(times)
    elif t is VT.String:
        value = draw(st.one_of(st.none(), st.text(max_size=5)))
    else:
        value = None
    return ua.Variant(value, t)


@st.composite
def data_values(
    draw: st.DrawFn,
    vtype: VT | None = None,
    mask: int | None = None,
    times: st.SearchStrategy[datetime] = _TIMES,
) -> ua.DataValue:
    """A DataValue with each optional field present or not (all present per ``mask`` bits)."""

    def has(bit: int) -> bool:
        return bool(mask & bit) if mask is not None else draw(st.booleans())

    variant = draw(variants(vtype, times))
    dv = _data_value(
        variant,
        StatusCode=_code(draw(st.integers(0, 2**32 - 1))) if has(0x02) else None,
        SourceTimestamp=draw(times) if has(0x04) else None,
        ServerTimestamp=draw(times) if has(0x08) else None,
        SourcePicoseconds=draw(st.integers(0, 9999)) if has(0x10) else None,
        ServerPicoseconds=draw(st.integers(0, 9999)) if has(0x20) else None,
    )
    if variant is None:
        object.__setattr__(dv, "Value", None)
    return dv


@st.composite
def data_changes(
    draw: st.DrawFn, times: st.SearchStrategy[datetime] = _TIMES
) -> ua.DataChangeNotification:
    """Items of mixed layouts, or of one layout (the vectorised path), or none."""
    if draw(st.booleans()):
        vtype = draw(st.sampled_from([*_INTS, VT.Boolean, VT.Float, VT.Double, VT.DateTime]))
        mask = draw(st.integers(0, 0x3F))
        values = st.lists(data_values(vtype, mask, times), max_size=40)
    else:
        values = st.lists(data_values(times=times), max_size=12)
    items = [
        ua.MonitoredItemNotification(ClientHandle=draw(st.integers(0, 2**32 - 1)), Value=dv)
        for dv in draw(values)
    ]
    with_diagnostics = draw(st.integers(0, 9)) == 0
    diagnostics = [ua.DiagnosticInfo(SymbolicId=ua.Int32(3))] if with_diagnostics else []
    return ua.DataChangeNotification(MonitoredItems=items, DiagnosticInfos=diagnostics)


def _response(notifications: list[Any]) -> ua.PublishResponse:
    message = ua.NotificationMessage(
        SequenceNumber=7,
        PublishTime=datetime(2026, 1, 2, tzinfo=UTC),
        NotificationData=notifications,
    )
    result = ua.PublishResult(
        SubscriptionId=3,
        AvailableSequenceNumbers=[5, 6, 7],
        MoreNotifications=False,
        NotificationMessage=message,
        Results=[_code(0)],
    )
    return ua.PublishResponse(Parameters=result)


def _both(response: ua.PublishResponse) -> tuple[ua.PublishResponse, ua.PublishResponse]:
    data = struct_to_binary(response)
    return decode_publish_response(Buffer(data)), struct_from_binary(
        ua.PublishResponse, Buffer(data)
    )


def _expect_item(item: ua.MonitoredItemNotification) -> tuple[Any, ...]:
    """What the lean decoder must give for one of asyncua's decoded items."""
    dv = item.Value
    value = dv.Value.Value if dv.Value is not None else None
    if value is None:
        kind, number = KIND_MISSING, math.nan
    elif isinstance(value, bool | int | float):
        kind, number = KIND_NUMBER, float(value)
    else:
        kind, number = KIND_OTHER, math.nan
    status = dv.StatusCode.value if dv.StatusCode is not None else 0
    src = ua_ns(dv.SourceTimestamp, MISSING_TS)
    srv = ua_ns(dv.ServerTimestamp, MISSING_TS)
    return item.ClientHandle, kind, repr(number), status, src, srv


def _got_item(arrays: DataChangeArrays, i: int) -> tuple[Any, ...]:
    return (
        int(arrays.handles[i]),
        int(arrays.kinds[i]),
        repr(float(arrays.values[i])),
        int(arrays.status[i]),
        int(arrays.source_ns[i]),
        int(arrays.server_ns[i]),
    )


def _assert_same(lean: ua.PublishResponse, full: ua.PublishResponse) -> None:
    assert lean.ResponseHeader == full.ResponseHeader
    lp, fp = lean.Parameters, full.Parameters
    assert (lp.SubscriptionId, lp.AvailableSequenceNumbers, lp.MoreNotifications) == (
        fp.SubscriptionId,
        fp.AvailableSequenceNumbers,
        fp.MoreNotifications,
    )
    assert (lp.Results, lp.DiagnosticInfos) == (fp.Results, fp.DiagnosticInfos)
    lm, fm = lp.NotificationMessage, fp.NotificationMessage
    assert (lm.SequenceNumber, lm.PublishTime) == (fm.SequenceNumber, fm.PublishTime)
    assert len(lm.NotificationData or []) == len(fm.NotificationData or [])
    for mine, theirs in zip(lm.NotificationData or [], fm.NotificationData or [], strict=True):
        if isinstance(mine, DataChangeArrays):
            assert isinstance(theirs, ua.DataChangeNotification)
            assert not theirs.DiagnosticInfos
            got = [_got_item(mine, i) for i in range(len(mine))]
            assert got == [_expect_item(item) for item in theirs.MonitoredItems]
            for i, raw in mine.raw.items():
                variant = theirs.MonitoredItems[i].Value.Value
                assert variant is not None
                assert repr(raw) == repr(variant.Value)
        else:
            assert repr(mine) == repr(theirs)  # repr: NaN values compare equal


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(data_changes(), max_size=3))
def test_data_changes_decode_as_asyncua_decodes(notifications: list[Any]) -> None:
    lean, full = _both(_response(notifications))
    _assert_same(lean, full)


def test_in_range_uniform_body_is_vectorised_and_other_bodies_fall_back() -> None:
    when = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    items = [
        ua.MonitoredItemNotification(
            ClientHandle=h,
            Value=_data_value(
                ua.Variant(h * 0.5, VT.Double), SourceTimestamp=when, ServerTimestamp=when
            ),
        )
        for h in range(10)
    ]
    body = struct_to_binary(ua.DataChangeNotification(MonitoredItems=items))
    arrays = decode_data_change(body)
    assert arrays.values.tolist() == [h * 0.5 for h in range(10)]
    assert set(arrays.source_ns.tolist()) == {ua_ns(when, 0)}
    diag = ua.DataChangeNotification(MonitoredItems=items, DiagnosticInfos=[ua.DiagnosticInfo()])
    lean, full = _both(_response([diag]))
    assert lean.Parameters.NotificationMessage.NotificationData == [diag]
    _assert_same(lean, full)


def test_status_change_events_and_mixed_bodies_are_asyncua_objects() -> None:
    status = ua.StatusChangeNotification(Status=_code(StatusCodes.BadTimeout))
    events = ua.EventNotificationList(
        Events=[ua.EventFieldList(ClientHandle=4, EventFields=[ua.Variant(1.0)])]
    )
    change = ua.DataChangeNotification(
        MonitoredItems=[
            ua.MonitoredItemNotification(ClientHandle=1, Value=_data_value(ua.Variant("x")))
        ]
    )
    lean, full = _both(_response([status, change, events]))
    data = lean.Parameters.NotificationMessage.NotificationData
    assert isinstance(data[0], ua.StatusChangeNotification)
    assert isinstance(data[1], DataChangeArrays)
    assert data[1].raw == {0: "x"}
    assert isinstance(data[2], ua.EventNotificationList)
    _assert_same(lean, full)
    empty, full_empty = _both(_response([]))
    _assert_same(empty, full_empty)


# --- mapping: on_data_arrays feeds the collector exactly as on_data does ----------------------


def _session(roles: list[PointRole]) -> Session:
    config = OpcUaConfig.model_validate({"name": "s", "endpoint": "opc.tcp://localhost:4840"})
    points = [
        OpcUaPoint(path=f"site/m{i}", signal=f"sig{i}", node=f"ns=2;i={i}", role=role)
        for i, role in enumerate(roles)
    ]
    return Session(config, points, Collector(), SourceHealth(), label="test")


def _flushed(session: Session) -> tuple[pa.RecordBatch, pa.RecordBatch | None, int]:
    readings = session.collector.flush()
    return readings.samples, readings.events, session.health.bad_values


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    roles=st.lists(st.sampled_from(list(PointRole)), min_size=1, max_size=6),
    # Plausible times only: today's path overflows int64 for the others (see fastpublish).
    changes=st.lists(data_changes(_PLAUSIBLE), min_size=1, max_size=3),
)
def test_arrays_map_like_items(
    roles: list[PointRole], changes: list[ua.DataChangeNotification]
) -> None:
    # "now" (items without timestamps) is the same instant for both paths.
    clock = SimpleNamespace(time_ns=lambda: 1_767_000_000_123_456_789, monotonic=time.monotonic)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(session_module, "time", clock)
        _check_arrays_map_like_items(roles, changes)


def _check_arrays_map_like_items(
    roles: list[PointRole], changes: list[ua.DataChangeNotification]
) -> None:
    by_items, by_arrays = _session(roles), _session(roles)
    for change in changes:
        for item in change.MonitoredItems:  # handles inside and outside the share
            item.ClientHandle %= len(roles) + 1
        lean, full = _both(_response([change]))
        mine = lean.Parameters.NotificationMessage.NotificationData[0]
        theirs = full.Parameters.NotificationMessage.NotificationData[0]
        if not isinstance(mine, DataChangeArrays):
            continue  # left to asyncua: on_data as before
        by_items.on_data(theirs.MonitoredItems)
        by_arrays.on_data_arrays(mine)
    assert by_arrays.notifications == by_items.notifications
    try:
        b = _flushed(by_items)
    except OverflowError:  # a UInt64 counter step does not fit an event: fails on both paths
        with pytest.raises(OverflowError):
            _flushed(by_arrays)
        return
    a = _flushed(by_arrays)
    assert _same_with_nan(a[0], b[0])
    assert a[1:] == b[1:]


def _same_with_nan(x: pa.RecordBatch, y: pa.RecordBatch) -> bool:
    for name in x.schema.names:
        u, v = x.column(name).to_pylist(), y.column(name).to_pylist()
        if name == "value":
            if not np.array_equal(np.array(u, float), np.array(v, float), equal_nan=True):
                return False
        elif u != v:
            return False
    return True


def test_edge_values_map_like_items() -> None:
    when = datetime(2026, 3, 1, 12, 0, 0, 654321, tzinfo=UTC)
    cases: list[tuple[ua.Variant | None, int | None]] = [
        (ua.Variant(math.inf, VT.Double), None),
        (ua.Variant(-math.inf, VT.Float), 0x40000000),  # Uncertain
        (ua.Variant(math.nan, VT.Double), None),
        (ua.Variant(math.nan, VT.Double), 0x80000000),  # Bad stays Bad with its own code
        (ua.Variant("12", VT.String), None),
        (ua.Variant(when, VT.DateTime), None),
        (ua.Variant(None, VT.Null), None),
        (None, None),
        (ua.Variant(True, VT.Boolean), None),
        (ua.Variant(2**64 - 1, VT.UInt64), None),
        (ua.Variant([1.0, 2.0], VT.Double, is_array=True), None),
        (ua.Variant(3, VT.UInt16), 0x00A50000),  # a Good code other than 0
    ]
    items = []
    for handle, (variant, code) in enumerate(cases):
        dv = _data_value(
            variant,
            StatusCode=_code(code) if code is not None else None,
            SourceTimestamp=when if handle % 3 == 0 else None,
            ServerTimestamp=when if handle % 2 == 0 else None,
        )
        if variant is None:
            object.__setattr__(dv, "Value", None)
        items.append(ua.MonitoredItemNotification(ClientHandle=handle % 5, Value=dv))
    roles = [PointRole.VALUE, PointRole.STATE, PointRole.ALARM, PointRole.GOOD]
    for n in (len(items), 3):  # the item-by-item and (uniform prefix) the vectorised path
        test_arrays_map_like_items.hypothesis.inner_test(  # type: ignore[attr-defined]
            roles, [ua.DataChangeNotification(MonitoredItems=items[:n])]
        )
    uniform = [
        ua.MonitoredItemNotification(
            ClientHandle=h % 5,
            Value=_data_value(ua.Variant(v, VT.Double), SourceTimestamp=when),
        )
        for h, v in enumerate([1.0, math.inf, math.nan, -0.0, 2.5, 7.0])
    ]
    test_arrays_map_like_items.hypothesis.inner_test(  # type: ignore[attr-defined]
        roles, [ua.DataChangeNotification(MonitoredItems=uniform)]
    )


def test_corrupt_bodies_fail_as_in_asyncua() -> None:
    item = ua.MonitoredItemNotification(ClientHandle=1, Value=_data_value(ua.Variant(1.5)))
    change = ua.DataChangeNotification(MonitoredItems=[item] * 5)
    good = struct_to_binary(_response([change]))
    at = good.index(struct_to_binary(change))
    for data in (
        good[: at + 30],  # truncated inside the body's items
        good[:at] + b"\xff\xff\xff\x7f" + good[at + 4 :],  # an item count of 2**31-1
    ):
        with pytest.raises(UaError) as theirs:
            struct_from_binary(ua.PublishResponse, Buffer(data))
        with pytest.raises(type(theirs.value)):
            decode_publish_response(Buffer(data))
