"""Sparkplug B codec: known byte vectors, round trips, alias resolution and malformed input."""

from __future__ import annotations

import contextlib
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from werk.codecs.sparkplug import (
    AliasTable,
    DataType,
    MessageType,
    Metric,
    MetricValue,
    Payload,
    PropertySet,
    PropertyValue,
    Topic,
    UnknownMetric,
    decode_payload,
    encode_metric,
    encode_payload,
    interpret,
    metric_value_field,
)
from werk.errors import InvalidInput, PayloadError

# --------------------------------------------------------------------------------------------
# Known byte vectors, assembled by hand from the protobuf wire format:
# tag = field << 3 | wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32).

NAME_A = bytes.fromhex("0a0161")  # field 1 (name), length 1, "a"


@pytest.mark.parametrize(
    ("datatype", "value", "value_bytes"),
    [
        # Int8 -1: two's complement of its own width, 255, in int_value (field 10 → tag 0x50).
        (DataType.INT8, -1, "50ff01"),
        (DataType.INT8, -128, "508001"),
        (DataType.INT16, -2, "50feff03"),
        (DataType.INT32, -2, "50feffffff0f"),
        (DataType.INT32, 2**31 - 1, "50ffffffff07"),
        (DataType.UINT32, 2**32 - 1, "50ffffffff0f"),
        (DataType.UINT16, 65535, "50ffff03"),
        # Int64 -1 in long_value (field 11 → tag 0x58): ten-byte varint of 2**64 - 1.
        (DataType.INT64, -1, "58ffffffffffffffffff01"),
        (DataType.UINT64, 300, "58ac02"),
        (DataType.DATETIME, 1486144502122, "58eaf2f5a8a02b"),
        # Float 1.5 in float_value (field 12, fixed32 → tag 0x65), little endian.
        (DataType.FLOAT, 1.5, "650000c03f"),
        # Double 1.5 in double_value (field 13, fixed64 → tag 0x69).
        (DataType.DOUBLE, 1.5, "69000000000000f83f"),
        (DataType.BOOLEAN, True, "7001"),
        (DataType.BOOLEAN, False, "7000"),
        (DataType.STRING, "hi", "7a026869"),
        (DataType.TEXT, "", "7a00"),
        # bytes_value is field 16: tag 130 needs a two-byte varint.
        (DataType.BYTES, b"\x00\xff", "820102" + "00ff"),
    ],
)
def test_known_metric_vectors(datatype: DataType, value: MetricValue, value_bytes: str) -> None:
    metric = Metric(name="a", datatype=datatype, value=value)
    expected = NAME_A + bytes([0x20, int(datatype)]) + bytes.fromhex(value_bytes)
    assert encode_metric(metric) == expected
    decoded = decode_payload(bytes([0x12, len(expected)]) + expected).metrics[0]
    assert decoded == metric


def test_known_payload_vector() -> None:
    payload = Payload(
        timestamp=1486144502122,
        metrics=(Metric(name="a", alias=1, timestamp=5, datatype=DataType.UINT8, value=7),),
        seq=2,
    )
    metric = bytes.fromhex("0a01611001180520055007")
    expected = bytes.fromhex("08eaf2f5a8a02b") + bytes([0x12, len(metric)]) + metric + b"\x18\x02"
    assert encode_payload(payload) == expected
    assert decode_payload(expected) == payload


def test_null_metric_sets_is_null_and_no_value() -> None:
    metric = Metric(name="a", datatype=DataType.STRING, value=None)
    assert encode_metric(metric) == NAME_A + bytes.fromhex("200c3801")
    assert decode_payload(b"\x12\x07" + encode_metric(metric)).metrics[0] == metric


def test_signed_ints_sign_extended_by_other_peers_decode() -> None:
    # Java clients write Int8 -1 as the 32-bit pattern 0xFFFFFFFF; the width decides the sign.
    assert interpret(DataType.INT8, 0xFFFFFFFF) == -1
    assert interpret(DataType.INT16, 0xFFFFFFFE) == -2
    assert interpret(DataType.INT32, 0xFFFFFFFFFFFFFFFF) == -1
    assert interpret(DataType.INT8, 0x7F) == 127
    assert interpret(DataType.UINT8, 0xFF) == 255


@pytest.mark.parametrize(
    ("datatype", "value", "packed"),
    [
        # Vectors from the Sparkplug 3.0 array table (those the table gets right).
        (DataType.INT16_ARRAY, (-30000, 30000), "d08a3075"),
        (DataType.INT32_ARRAY, (-1, 315338746), "fffffffffaafcb12"),
        (DataType.INT32_ARRAY, (123456789, 987654321), "15cd5b07b168de3a"),
        (DataType.UINT8_ARRAY, (23, 250), "17fa"),
        (DataType.UINT16_ARRAY, (30, 52360), "1e0088cc"),
        (DataType.UINT32_ARRAY, (52, 3293969225), "3400000049fb55c4"),
        (
            DataType.UINT64_ARRAY,
            (52, 16444743074749521625),
            "3400000000000000d99e02d1b27637e4",
        ),
        # The table prints -23 as 0xEF; two's complement int8 of -23 is 0xE9.
        (DataType.INT8_ARRAY, (-23, 123), "e97b"),
        (
            DataType.BOOLEAN_ARRAY,
            (False, False, True, True, False, True, False, False, True, True, False, True),
            "0c00000034d0",
        ),
        (DataType.STRING_ARRAY, ("ABC", "hello"), "4142430068656c6c6f00"),
        (DataType.DATETIME_ARRAY, (1256102875335,), "c7d0907524010000"),
        # Little endian as the normative text says (the table's example bytes are big endian).
        (DataType.FLOAT_ARRAY, (1.5,), "0000c03f"),
    ],
)
def test_array_vectors(datatype: DataType, value: tuple[int, ...], packed: str) -> None:
    metric = Metric(name="a", datatype=datatype, value=value)
    data = bytes.fromhex(packed)
    assert (
        encode_metric(metric) == NAME_A + bytes([0x20, int(datatype), 0x82, 0x01, len(data)]) + data
    )
    assert decode_payload(
        b"\x12" + bytes([len(encode_metric(metric))]) + encode_metric(metric)
    ) == (Payload(metrics=(metric,)))


def test_properties_round_trip_with_nesting() -> None:
    props = PropertySet.of(
        {
            "engUnit": PropertyValue(DataType.STRING, "°C"),
            "engLow": PropertyValue(DataType.DOUBLE, -40.0),
            "Quality": PropertyValue(DataType.INT32, 192),
            "offset": PropertyValue(DataType.INT16, -3),
            "nothing": PropertyValue(DataType.STRING, None),
            "nested": PropertyValue(
                DataType.PROPERTYSET, PropertySet.of({"x": PropertyValue(DataType.BOOLEAN, True)})
            ),
            "list": PropertyValue(
                DataType.PROPERTYSETLIST,
                (PropertySet(), PropertySet.of({"y": PropertyValue(DataType.UINT64, 2**64 - 1)})),
            ),
        }
    )
    payload = Payload(
        timestamp=1,
        metrics=(Metric(name="t", datatype=DataType.DOUBLE, value=21.5, properties=props),),
        seq=0,
    )
    decoded = decode_payload(encode_payload(payload))
    assert decoded == payload
    assert decoded.metrics[0].properties is not None
    unit = decoded.metrics[0].properties.get("engUnit")
    assert unit == PropertyValue(DataType.STRING, "°C")


def test_dataset_and_template_travel_as_raw_bytes() -> None:
    raw = bytes.fromhex("0801")  # DataSet.num_of_columns = 1
    payload = Payload(metrics=(Metric(name="d", datatype=DataType.DATASET, value=raw),))
    data = encode_payload(payload)
    assert b"\x8a\x01\x02\x08\x01" in data  # field 17, length-delimited
    assert decode_payload(data) == payload


# --------------------------------------------------------------------------------------------
# Round trips

_INT_RANGES = {
    DataType.INT8: (-(2**7), 2**7 - 1),
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.INT64: (-(2**63), 2**63 - 1),
    DataType.UINT8: (0, 2**8 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.UINT32: (0, 2**32 - 1),
    DataType.UINT64: (0, 2**64 - 1),
    DataType.DATETIME: (0, 2**64 - 1),
}
_ARRAY_ITEMS: dict[DataType, st.SearchStrategy[int | float | bool | str]] = {
    DataType.INT8_ARRAY: st.integers(-(2**7), 2**7 - 1),
    DataType.INT16_ARRAY: st.integers(-(2**15), 2**15 - 1),
    DataType.INT32_ARRAY: st.integers(-(2**31), 2**31 - 1),
    DataType.INT64_ARRAY: st.integers(-(2**63), 2**63 - 1),
    DataType.UINT8_ARRAY: st.integers(0, 2**8 - 1),
    DataType.UINT16_ARRAY: st.integers(0, 2**16 - 1),
    DataType.UINT32_ARRAY: st.integers(0, 2**32 - 1),
    DataType.UINT64_ARRAY: st.integers(0, 2**64 - 1),
    DataType.DATETIME_ARRAY: st.integers(0, 2**64 - 1),
    DataType.FLOAT_ARRAY: st.floats(width=32, allow_nan=False),
    DataType.DOUBLE_ARRAY: st.floats(allow_nan=False),
    DataType.BOOLEAN_ARRAY: st.booleans(),
    DataType.STRING_ARRAY: st.text().filter(lambda s: "\x00" not in s),
}


def _values(datatype: DataType) -> st.SearchStrategy[MetricValue]:
    if datatype in _INT_RANGES:
        low, high = _INT_RANGES[datatype]
        return st.integers(low, high)
    if datatype is DataType.FLOAT:
        return st.floats(width=32, allow_nan=False)
    if datatype is DataType.DOUBLE:
        return st.floats(allow_nan=False)
    if datatype is DataType.BOOLEAN:
        return st.booleans()
    if datatype in (DataType.STRING, DataType.TEXT, DataType.UUID):
        return st.text()
    if datatype in (DataType.BYTES, DataType.FILE):
        return st.binary()
    return st.lists(_ARRAY_ITEMS[datatype], max_size=20).map(tuple)


_METRIC_TYPES = sorted(
    [
        *_INT_RANGES,
        *_ARRAY_ITEMS,
        DataType.FLOAT,
        DataType.DOUBLE,
        DataType.BOOLEAN,
        DataType.STRING,
        DataType.TEXT,
        DataType.UUID,
        DataType.BYTES,
        DataType.FILE,
    ]
)


@st.composite
def metrics(draw: st.DrawFn) -> Metric:
    datatype = draw(st.sampled_from(_METRIC_TYPES))
    value = draw(st.none() | _values(datatype))
    return Metric(
        name=draw(st.none() | st.text(max_size=30)),
        alias=draw(st.none() | st.integers(0, 2**64 - 1)),
        timestamp=draw(st.none() | st.integers(0, 2**64 - 1)),
        datatype=datatype,
        value=value,
        is_historical=draw(st.booleans()),
        is_transient=draw(st.booleans()),
    )


payloads = st.builds(
    Payload,
    timestamp=st.none() | st.integers(0, 2**64 - 1),
    metrics=st.lists(metrics(), max_size=8).map(tuple),
    seq=st.none() | st.integers(0, 255),
    uuid=st.none() | st.text(max_size=20),
    body=st.none() | st.binary(max_size=20),
)


@given(payloads)
def test_round_trip_with_datatypes(payload: Payload) -> None:
    assert decode_payload(encode_payload(payload)) == payload


@given(st.lists(metrics(), min_size=1, max_size=8, unique_by=lambda m: m.name))
def test_data_by_alias_resolves_against_birth(birth_metrics: list[Metric]) -> None:
    named = [
        Metric(
            name=m.name or f"m{i}", alias=i + 10, timestamp=1, datatype=m.datatype, value=m.value
        )
        for i, m in enumerate(birth_metrics)
    ]
    table = AliasTable()
    table.learn(decode_payload(encode_payload(Payload(timestamp=1, metrics=tuple(named), seq=0))))
    # DATA: alias only, no name, no datatype on the wire (spec §6.4.3).
    data = Payload(
        timestamp=2,
        metrics=tuple(
            Metric(alias=m.alias, timestamp=2, datatype=m.datatype, value=m.value) for m in named
        ),
        seq=1,
    )
    wire = encode_payload(data, datatypes=False)
    raw = decode_payload(wire)
    assert all(m.datatype is None and m.name is None for m in raw.metrics)
    resolved = table.resolve(raw)
    assert [(m.name, m.datatype, m.value) for m in resolved.metrics] == [
        (n.name, n.datatype, d.value) for n, d in zip(named, data.metrics, strict=True)
    ]


def test_nan_survives() -> None:
    for datatype in (DataType.FLOAT, DataType.DOUBLE):
        payload = Payload(metrics=(Metric(name="x", datatype=datatype, value=math.nan),))
        value = decode_payload(encode_payload(payload)).metrics[0].value
        assert isinstance(value, float)
        assert math.isnan(value)


@given(st.binary(max_size=200))
def test_garbage_raises_payload_error_only(data: bytes) -> None:
    # Anything else (IndexError, struct.error, UnicodeDecodeError) would fail the test.
    with contextlib.suppress(PayloadError):
        decode_payload(data)


def test_truncated_payload_names_the_problem() -> None:
    good = encode_payload(
        Payload(timestamp=1, metrics=(Metric(name="speed", datatype=DataType.DOUBLE, value=1.0),))
    )
    with pytest.raises(PayloadError, match=r"truncated|past the end"):
        decode_payload(good[:-3])


def test_value_that_does_not_fit_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"'x'.*INT8 range"):
        encode_metric(Metric(name="x", datatype=DataType.INT8, value=128))
    with pytest.raises(InvalidInput, match="needs an int"):
        encode_metric(Metric(name="x", datatype=DataType.UINT16, value=1.5))
    with pytest.raises(InvalidInput, match="32-bit float"):
        encode_metric(Metric(name="x", datatype=DataType.FLOAT, value=1e300))
    with pytest.raises(InvalidInput, match="needs a datatype"):
        encode_metric(Metric(name="x", value=1))


def test_wire_type_mismatch_is_refused() -> None:
    # datatype Int32 but the value arrives in double_value
    data = NAME_A + bytes([0x20, 3]) + bytes.fromhex("69000000000000f83f")
    with pytest.raises(PayloadError, match="INT32 arrived as float"):
        decode_payload(bytes([0x12, len(data)]) + data)


# --------------------------------------------------------------------------------------------
# Alias table


def _birth(*metrics: Metric) -> Payload:
    return Payload(timestamp=1, metrics=metrics, seq=0)


def test_alias_table_scopes_devices_and_resets_on_nbirth() -> None:
    table = AliasTable()
    table.learn(_birth(Metric(name="bdSeq", datatype=DataType.UINT64, value=0)))
    table.learn(_birth(Metric(name="temp", alias=1, datatype=DataType.INT16, value=-5)), "press")
    data = Payload(timestamp=2, metrics=(Metric(alias=1, value=0xFFFB),), seq=2)
    assert table.resolve(data, "press").metrics[0] == Metric(
        name="temp", alias=1, datatype=DataType.INT16, value=-5
    )
    assert table.lookup(1) == ("temp", DataType.INT16)
    with pytest.raises(UnknownMetric, match="alias 1"):
        table.resolve(data, "robot")  # the alias belongs to another device
    with pytest.raises(UnknownMetric, match="'speed'"):
        table.resolve(Payload(metrics=(Metric(name="speed", value=1.0),)), "press")
    table.learn(_birth(Metric(name="bdSeq", datatype=DataType.UINT64, value=1)))  # new session
    with pytest.raises(UnknownMetric):
        table.resolve(data, "press")


def test_alias_reuse_across_devices_is_refused() -> None:
    table = AliasTable()
    table.learn(_birth(Metric(name="a", alias=7, datatype=DataType.BOOLEAN, value=True)), "d1")
    with pytest.raises(PayloadError, match="alias 7"):
        table.learn(_birth(Metric(name="b", alias=7, datatype=DataType.BOOLEAN, value=True)), "d2")


def test_birth_without_datatype_is_refused() -> None:
    with pytest.raises(PayloadError, match="lacks a name or datatype"):
        AliasTable().learn(_birth(Metric(name="a", alias=1)))


def test_names_resolve_without_alias() -> None:
    table = AliasTable()
    table.learn(_birth(Metric(name="Node Control/Rebirth", datatype=DataType.BOOLEAN, value=False)))
    resolved = table.decode(
        encode_payload(
            Payload(
                timestamp=3,
                metrics=(
                    Metric(name="Node Control/Rebirth", datatype=DataType.BOOLEAN, value=True),
                ),
            ),
            datatypes=False,
        )
    )
    assert resolved.metrics[0].value is True
    assert resolved.metrics[0].datatype is DataType.BOOLEAN


# --------------------------------------------------------------------------------------------
# Topics


def test_topics_round_trip_and_validate() -> None:
    t = Topic("acme-wob", MessageType.DDATA, "body-line-1", "press-01")
    assert str(t) == "spBv1.0/acme-wob/DDATA/body-line-1/press-01"
    assert Topic.parse(str(t)) == t
    assert Topic.parse("spBv1.0/STATE/host-1") == Topic("", MessageType.STATE, "host-1")
    assert str(Topic.parse("spBv1.0/g/NBIRTH/e")) == "spBv1.0/g/NBIRTH/e"
    with pytest.raises(PayloadError, match="namespace"):
        Topic.parse("spAv1.0/g/NBIRTH/e")
    with pytest.raises(PayloadError, match="unknown message type"):
        Topic.parse("spBv1.0/g/NFOO/e")
    with pytest.raises(PayloadError, match="needs device_id"):
        Topic.parse("spBv1.0/g/DDATA/e")
    with pytest.raises(InvalidInput, match="'a\\+b'"):
        Topic("a+b", MessageType.NBIRTH, "e")


def test_value_field_names() -> None:
    assert metric_value_field(DataType.UINT32) == "int_value"
    assert metric_value_field(DataType.DATETIME) == "long_value"
    assert metric_value_field(DataType.UUID) == "string_value"
    assert metric_value_field(DataType.BOOLEAN_ARRAY) == "bytes_value"
