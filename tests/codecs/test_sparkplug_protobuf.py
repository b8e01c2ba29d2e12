"""Cross-check the hand-written Sparkplug B codec against Google's protobuf runtime.

The message classes are built at run time from a descriptor that restates the Tahu
``sparkplug_b.proto`` field numbers and types (no generated code, no protoc), so the check is
independent of werk's encoder: bytes werk writes must parse with protobuf to the same fields,
and bytes protobuf writes must decode with werk to the same payload.
"""

from __future__ import annotations

from typing import Any

# protobuf is in the dev extra (a hard test dependency), without type stubs.
from google.protobuf import (  # type: ignore[import-untyped]
    descriptor_pb2,
    descriptor_pool,
    message_factory,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from werk.codecs.sparkplug import (
    DataType,
    Metric,
    Payload,
    PropertySet,
    PropertyValue,
    decode_payload,
    encode_payload,
    metric_value_field,
)

_F = descriptor_pb2.FieldDescriptorProto
_PKG = "org.eclipse.tahu.protobuf"


def _add(
    msg: Any,
    name: str,
    number: int,
    kind: int,
    *,
    repeated: bool = False,
    type_name: str | None = None,
    oneof: int | None = None,
) -> None:
    field = msg.field.add(name=name, number=number, type=kind)
    field.label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
    if type_name is not None:
        field.type_name = f".{_PKG}.Payload.{type_name}"
    if oneof is not None:
        field.oneof_index = oneof


def _payload_class() -> Any:
    fdp = descriptor_pb2.FileDescriptorProto(
        name="werk_sparkplug_b_check.proto", package=_PKG, syntax="proto2"
    )
    payload = fdp.message_type.add(name="Payload")
    pv = payload.nested_type.add(name="PropertyValue")
    _add(pv, "type", 1, _F.TYPE_UINT32)
    _add(pv, "is_null", 2, _F.TYPE_BOOL)
    pv.oneof_decl.add(name="value")
    for name, number, kind in [
        ("int_value", 3, _F.TYPE_UINT32),
        ("long_value", 4, _F.TYPE_UINT64),
        ("float_value", 5, _F.TYPE_FLOAT),
        ("double_value", 6, _F.TYPE_DOUBLE),
        ("boolean_value", 7, _F.TYPE_BOOL),
        ("string_value", 8, _F.TYPE_STRING),
    ]:
        _add(pv, name, number, kind, oneof=0)
    _add(pv, "propertyset_value", 9, _F.TYPE_MESSAGE, type_name="PropertySet", oneof=0)
    _add(pv, "propertysets_value", 10, _F.TYPE_MESSAGE, type_name="PropertySetList", oneof=0)
    ps = payload.nested_type.add(name="PropertySet")
    _add(ps, "keys", 1, _F.TYPE_STRING, repeated=True)
    _add(ps, "values", 2, _F.TYPE_MESSAGE, repeated=True, type_name="PropertyValue")
    psl = payload.nested_type.add(name="PropertySetList")
    _add(psl, "propertyset", 1, _F.TYPE_MESSAGE, repeated=True, type_name="PropertySet")
    metric = payload.nested_type.add(name="Metric")
    _add(metric, "name", 1, _F.TYPE_STRING)
    _add(metric, "alias", 2, _F.TYPE_UINT64)
    _add(metric, "timestamp", 3, _F.TYPE_UINT64)
    _add(metric, "datatype", 4, _F.TYPE_UINT32)
    _add(metric, "is_historical", 5, _F.TYPE_BOOL)
    _add(metric, "is_transient", 6, _F.TYPE_BOOL)
    _add(metric, "is_null", 7, _F.TYPE_BOOL)
    _add(metric, "properties", 9, _F.TYPE_MESSAGE, type_name="PropertySet")
    metric.oneof_decl.add(name="value")
    for name, number, kind in [
        ("int_value", 10, _F.TYPE_UINT32),
        ("long_value", 11, _F.TYPE_UINT64),
        ("float_value", 12, _F.TYPE_FLOAT),
        ("double_value", 13, _F.TYPE_DOUBLE),
        ("boolean_value", 14, _F.TYPE_BOOL),
        ("string_value", 15, _F.TYPE_STRING),
        ("bytes_value", 16, _F.TYPE_BYTES),
    ]:
        _add(metric, name, number, kind, oneof=0)
    _add(payload, "timestamp", 1, _F.TYPE_UINT64)
    _add(payload, "metrics", 2, _F.TYPE_MESSAGE, repeated=True, type_name="Metric")
    _add(payload, "seq", 3, _F.TYPE_UINT64)
    _add(payload, "uuid", 4, _F.TYPE_STRING)
    _add(payload, "body", 5, _F.TYPE_BYTES)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PKG}.Payload"))


PB_PAYLOAD = _payload_class()

_SCALARS: dict[DataType, st.SearchStrategy[Any]] = {
    DataType.INT8: st.integers(-(2**7), 2**7 - 1),
    DataType.INT16: st.integers(-(2**15), 2**15 - 1),
    DataType.INT32: st.integers(-(2**31), 2**31 - 1),
    DataType.INT64: st.integers(-(2**63), 2**63 - 1),
    DataType.UINT8: st.integers(0, 2**8 - 1),
    DataType.UINT16: st.integers(0, 2**16 - 1),
    DataType.UINT32: st.integers(0, 2**32 - 1),
    DataType.UINT64: st.integers(0, 2**64 - 1),
    DataType.DATETIME: st.integers(0, 2**64 - 1),
    DataType.FLOAT: st.floats(width=32, allow_nan=False),
    DataType.DOUBLE: st.floats(allow_nan=False),
    DataType.BOOLEAN: st.booleans(),
    DataType.STRING: st.text(),
    DataType.UUID: st.uuids().map(str),
    DataType.BYTES: st.binary(),
}
_WIDTH = {DataType.INT8: 8, DataType.INT16: 16, DataType.INT32: 32, DataType.INT64: 64}


def _unsigned(datatype: DataType, value: Any) -> Any:
    bits = _WIDTH.get(datatype)
    return value & ((1 << bits) - 1) if bits else value


@st.composite
def scalar_metrics(draw: st.DrawFn) -> Metric:
    datatype = draw(st.sampled_from(sorted(_SCALARS)))
    props = draw(
        st.none()
        | st.dictionaries(
            st.text(max_size=8),
            st.builds(PropertyValue, st.just(DataType.INT32), st.integers(-(2**31), 2**31 - 1)),
            max_size=3,
        ).map(PropertySet.of)
    )
    return Metric(
        name=draw(st.none() | st.text(max_size=20)),
        alias=draw(st.none() | st.integers(0, 2**64 - 1)),
        timestamp=draw(st.none() | st.integers(0, 2**64 - 1)),
        datatype=datatype,
        value=draw(st.none() | _SCALARS[datatype]),
        is_historical=draw(st.booleans()),
        is_transient=draw(st.booleans()),
        properties=props,
    )


payloads = st.builds(
    Payload,
    timestamp=st.none() | st.integers(0, 2**64 - 1),
    metrics=st.lists(scalar_metrics(), max_size=6).map(tuple),
    seq=st.none() | st.integers(0, 255),
    uuid=st.none() | st.text(max_size=10),
    body=st.none() | st.binary(max_size=10),
)


def _to_protobuf(payload: Payload) -> Any:
    msg = PB_PAYLOAD()
    if payload.timestamp is not None:
        msg.timestamp = payload.timestamp
    if payload.seq is not None:
        msg.seq = payload.seq
    if payload.uuid is not None:
        msg.uuid = payload.uuid
    if payload.body is not None:
        msg.body = payload.body
    for m in payload.metrics:
        pm = msg.metrics.add()
        if m.name is not None:
            pm.name = m.name
        if m.alias is not None:
            pm.alias = m.alias
        if m.timestamp is not None:
            pm.timestamp = m.timestamp
        assert m.datatype is not None
        pm.datatype = int(m.datatype)
        if m.is_historical:
            pm.is_historical = True
        if m.is_transient:
            pm.is_transient = True
        if m.value is None:
            pm.is_null = True
        if m.properties is not None:
            pm.properties.SetInParent()
            for key, pv in m.properties.items:
                pm.properties.keys.append(key)
                value = pm.properties.values.add()
                value.type = int(pv.type)
                value.int_value = _unsigned(pv.type, pv.value)
        if m.value is not None:
            setattr(pm, metric_value_field(m.datatype), _unsigned(m.datatype, m.value))
    return msg


@settings(max_examples=150)
@given(payloads)
def test_werk_bytes_equal_protobuf_bytes(payload: Payload) -> None:
    # Both write fields in number order, so the serializations are byte-identical.
    assert encode_payload(payload) == _to_protobuf(payload).SerializeToString()


@settings(max_examples=150)
@given(payloads)
def test_protobuf_bytes_decode_with_werk(payload: Payload) -> None:
    assert decode_payload(_to_protobuf(payload).SerializeToString()) == payload


@given(payloads)
def test_werk_bytes_parse_with_protobuf(payload: Payload) -> None:
    msg = PB_PAYLOAD.FromString(encode_payload(payload))
    assert len(msg.metrics) == len(payload.metrics)
    for pm, m in zip(msg.metrics, payload.metrics, strict=True):
        assert m.datatype is not None
        assert pm.datatype == int(m.datatype)
        assert pm.is_null == (m.value is None)
        if m.value is not None:
            assert pm.WhichOneof("value") == metric_value_field(m.datatype)
            assert getattr(pm, metric_value_field(m.datatype)) == _unsigned(m.datatype, m.value)
