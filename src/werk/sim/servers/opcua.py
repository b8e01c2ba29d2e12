"""Serve a simulated site as an OPC UA server with a Machinery-style address space (asyncua).

Namespace URI: ``urn:werk:sim:<enterprise>:<site>`` (resolve its index by URI; it is 2 on this
server, but clients must not rely on that). Every node of a machine has a string NodeId made of
the machine's asset path and the node's browse path below the machine::

    ns=<ns>;s=<machine asset path>/<browse path>
    e.g.  ns=2;s=acme/wob/body/line-1/press-01/Monitoring/spindle_temp

Address space (OPC 40001-1 "UA for Machinery" building blocks, without importing its NodeSet)::

    Objects/Machines                               ns=<ns>;s=Machines (FolderType, Organizes)
      <area>.<line>[.<cell>].<machine>             ns=<ns>;s=<path>   one object per machine
        Identification/                            machine nameplate
          Manufacturer        LocalizedText        MachineView.vendor
          Model               LocalizedText        MachineView.machine_type
          SerialNumber        String               MachineView.serial
          ProductInstanceUri  String               urn:werk:sim:<vendor>/<type>/<serial>
          AssetId             String               the ISA-95 asset path
        MachineryItemState/CurrentState            LocalizedText  NotAvailable | OutOfService |
                                                                  NotExecuting | Executing
        MachineryItemState/CurrentState/Number     UInt32         0 | 1 | 2 | 3 (that order)
        MachineryOperationMode/CurrentState        LocalizedText  None | Maintenance | Setup |
                                                                  Processing
        MachineryOperationMode/CurrentState/Number UInt32         0 | 1 | 2 | 3
        Status/StateCode      UInt16               werk.sim.view.STATE_CODES (ISO 22400 state)
        Status/StateName      String               MachineState value ("executing", ...)
        Status/Reason         String               reason code, "" when none
        Production/GoodParts  UInt16               PLC counter, wraps at 65536
        Production/ScrapParts UInt16               PLC counter, wraps at 65536
        Production/ProductId  String               "" when none
        Production/OrderId    String               "" when none
        Monitoring/<signal>   Double, AnalogItemType, with properties
                              EURange (Range low/high from the SignalSpec) and
                              EngineeringUnits (EUInformation, UN/CEFACT code where known)

werk's ten states map onto the two Machinery state machines as follows (Executing+Processing is
productive, NotExecuting+Processing standby, OutOfService unscheduled or planned downtime):

===================  ==================  ======================
werk state           MachineryItemState  MachineryOperationMode
===================  ==================  ======================
executing            Executing           Processing
setup                Executing           Setup
micro_stop           NotExecuting        Processing
failure              OutOfService        Processing
starved, blocked     NotExecuting        Processing
no_order             NotExecuting        Processing
planned_maintenance  OutOfService        Maintenance
break                NotExecuting        None
no_shift             NotAvailable        None
===================  ==================  ======================

Values are written only when they change, with the simulated time as SourceTimestamp and the
wall clock as ServerTimestamp, so monitored items report exactly the model's changes. All
variables are read-only. The server offers the None security policy only: it is a simulator on a
trusted network.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Final

from asyncua import ua
from asyncua.server.server import Server
from asyncua.ua.object_ids import ObjectIds

from werk.errors import ConfigError
from werk.sim.servers.silo import claim_port, port_in_use, relative_path, site_segments
from werk.sim.view import STATE_CODES, MachineState, MachineView, SiteView

_log = logging.getLogger(__name__)

ITEM_STATES: Final = ("NotAvailable", "OutOfService", "NotExecuting", "Executing")
OPERATION_MODES: Final = ("None", "Maintenance", "Setup", "Processing")

#: werk state → (MachineryItemState number, MachineryOperationMode number).
MACHINERY_STATE: Final[dict[MachineState, tuple[int, int]]] = {
    MachineState.EXECUTING: (3, 3),
    MachineState.SETUP: (3, 2),
    MachineState.MICRO_STOP: (2, 3),
    MachineState.FAILURE: (1, 3),
    MachineState.STARVED: (2, 3),
    MachineState.BLOCKED: (2, 3),
    MachineState.NO_ORDER: (2, 3),
    MachineState.PLANNED_MAINTENANCE: (1, 1),
    MachineState.BREAK: (2, 0),
    MachineState.NO_SHIFT: (0, 0),
}

#: Engineering units → UN/CEFACT Recommendation 20 common codes (OPC UA Part 8 §5.6.3).
UNECE_CODES: Final[dict[str, str]] = {
    "°C": "CEL",
    "%": "P1",
    "mm/s": "C16",
    "A": "AMP",
    "kA": "B22",
    "V": "VLT",
    "bar": "BAR",
    "kW": "KWT",
    "kWh": "KWH",
    "Nm": "NU",
    "mm": "MMT",
    "1/min": "RPM",
    "rpm": "RPM",
    "Hz": "HUR",
    "s": "SEC",
    "kN": "B47",
}
UNECE_NAMESPACE: Final = "http://www.opcfoundation.org/UA/units/un/cefact"


def unit_id(unit: str) -> int:
    """Return the OPC UA ``UnitId`` of a unit: its UN/CEFACT code packed into an Int32, or -1."""
    code = UNECE_CODES.get(unit)
    if code is None:
        return -1  # Part 8: -1 means "no UN/CEFACT code for this unit"
    value = 0
    for ch in code:
        value = (value << 8) | ord(ch)
    return value


def _sid(text: str, ns: int) -> ua.NodeId:
    return ua.NodeId(ua.String(text), ua.Int16(ns))


def _oid(number: int) -> ua.NodeId:
    return ua.NodeId(ua.Int32(number))


def namespace_uri(site: SiteView) -> str:
    """Return the namespace URI the site's nodes live in."""
    enterprise, name = site_segments(site)
    return f"urn:werk:sim:{enterprise}:{name}"


def browse_name(site: SiteView, machine: MachineView) -> str:
    """Return the browse name of a machine object under ``Machines``."""
    return relative_path(site, machine).replace("/", ".")


def node_id(machine_path: str, browse_path: str, ns: int) -> ua.NodeId:
    """Return the NodeId of a machine's node (see the module docstring)."""
    return _sid(f"{machine_path}/{browse_path}", ns)


@dataclass(slots=True)
class _Slot:
    """One variable the server keeps current: its NodeId, value getter and last value."""

    nodeid: ua.NodeId
    read: Callable[[], object]
    variant: ua.VariantType
    last: object = None


@dataclass(slots=True)
class _MachineSlots:
    """The variables of one machine; signals are read with one ``signals()`` call per update."""

    machine: MachineView
    fixed: list[_Slot] = field(default_factory=list)
    signals: list[tuple[str, _Slot]] = field(default_factory=list)


def _localized(value: object) -> ua.LocalizedText:
    return ua.LocalizedText(str(value), "en")


class _Builder:
    """Collect AddNodesItems for one batch ``add_nodes`` call (one per machine)."""

    def __init__(self, ns: int) -> None:
        self.ns = ns
        self.items: list[ua.AddNodesItem] = []

    def _item(
        self,
        nodeid: ua.NodeId,
        name: str,
        parent: ua.NodeId,
        node_class: ua.NodeClass,
        reference: int,
        type_definition: int,
        attrs: ua.ObjectAttributes | ua.VariableAttributes,
    ) -> ua.NodeId:
        item = ua.AddNodesItem()
        item.RequestedNewNodeId = nodeid
        item.BrowseName = ua.QualifiedName(name, self.ns)
        item.NodeClass = node_class
        item.ParentNodeId = parent
        item.ReferenceTypeId = _oid(reference)
        item.TypeDefinition = _oid(type_definition)
        attrs.DisplayName = ua.LocalizedText(name)
        item.NodeAttributes = attrs
        self.items.append(item)
        return nodeid

    def obj(
        self,
        nodeid: ua.NodeId,
        name: str,
        parent: ua.NodeId,
        *,
        folder: bool = False,
        reference: int = ObjectIds.HasComponent,
    ) -> ua.NodeId:
        attrs = ua.ObjectAttributes()
        attrs.EventNotifier = 0
        kind = ObjectIds.FolderType if folder else ObjectIds.BaseObjectType
        return self._item(nodeid, name, parent, ua.NodeClass.Object, reference, kind, attrs)

    def var(
        self,
        nodeid: ua.NodeId,
        name: str,
        parent: ua.NodeId,
        value: ua.Variant,
        datatype: int,
        *,
        prop: bool = False,
        type_definition: int | None = None,
    ) -> ua.NodeId:
        attrs = ua.VariableAttributes()
        attrs.Value = value
        attrs.DataType = _oid(datatype)
        attrs.ValueRank = ua.ValueRank.Scalar
        attrs.AccessLevel = ua.AccessLevel.CurrentRead.mask
        attrs.UserAccessLevel = ua.AccessLevel.CurrentRead.mask
        attrs.WriteMask = 0
        attrs.UserWriteMask = 0
        if prop:
            reference, kind = ObjectIds.HasProperty, ObjectIds.PropertyType
        else:
            reference, kind = ObjectIds.HasComponent, ObjectIds.BaseDataVariableType
        if type_definition is not None:
            kind = type_definition
        return self._item(nodeid, name, parent, ua.NodeClass.Variable, reference, kind, attrs)


class OpcUaSilo:
    """An OPC UA server exposing one site's machines (see the module docstring)."""

    def __init__(self, site: SiteView, *, host: str = "127.0.0.1", port: int) -> None:
        self.site = site
        self.host = host
        self.requested_port = port
        self.port = port
        self.endpoint = ""
        self.namespace_uri = namespace_uri(site)
        self.ns = 0
        self._server: Server | None = None
        self._machines: list[_MachineSlots] = []

    async def __aenter__(self) -> OpcUaSilo:
        self.port = claim_port(self.site, self.host, self.requested_port)
        self.endpoint = f"opc.tcp://{self.host}:{self.port}/"
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name(f"werk simulator {self.site.path}")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        self.ns = await server.register_namespace(self.namespace_uri)
        await self._build(server)
        try:
            await server.start()
        except OSError as exc:
            raise port_in_use(self.site, self.host, self.port, exc) from None
        self._server = server
        _log.info("OPC UA silo of %s listening on %s", self.site.path, self.endpoint)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            await self._server.stop()
            self._server = None

    async def _build(self, server: Server) -> None:
        ns = self.ns
        root = _Builder(ns)
        machines_folder = root.obj(
            _sid("Machines", ns),
            "Machines",
            _oid(ObjectIds.ObjectsFolder),
            folder=True,
            reference=ObjectIds.Organizes,
        )
        await self._add(server, root.items)
        names: set[str] = set()
        for machine in self.site.machines:
            name = browse_name(self.site, machine)
            if name in names:
                raise ConfigError(
                    f"two machines of site {self.site.path} share the path {machine.path}",
                    key="sim.duplicate_machine",
                    path=machine.path,
                    site=self.site.path,
                )
            names.add(name)
            b = _Builder(ns)
            self._machine_nodes(b, machine, name, machines_folder)
            await self._add(server, b.items)

    async def _add(self, server: Server, items: list[ua.AddNodesItem]) -> None:
        results = await server.iserver.isession.add_nodes(items)
        for item, result in zip(items, results, strict=True):
            if not result.StatusCode.is_good():
                raise ConfigError(
                    f"OPC UA node {item.RequestedNewNodeId.to_string()} cannot be created: "
                    f"{result.StatusCode.name}",
                    key="sim.opcua_node",
                    site=self.site.path,
                )

    def _machine_nodes(
        self, b: _Builder, m: MachineView, name: str, machines_folder: ua.NodeId
    ) -> None:
        ns, path = b.ns, m.path

        def nid(browse: str) -> ua.NodeId:
            return node_id(path, browse, ns)

        slots = _MachineSlots(m)
        self._machines.append(slots)

        def slot(nodeid: ua.NodeId, read: Callable[[], object], variant: ua.VariantType) -> None:
            slots.fixed.append(_Slot(nodeid, read, variant, read()))

        machine = b.obj(_sid(path, ns), name, machines_folder, reference=ObjectIds.Organizes)

        ident = b.obj(nid("Identification"), "Identification", machine, folder=True)
        lt, s = ua.VariantType.LocalizedText, ua.VariantType.String
        for key, value, vt, dt in (
            ("Manufacturer", _localized(m.vendor), lt, ObjectIds.LocalizedText),
            ("Model", _localized(m.machine_type), lt, ObjectIds.LocalizedText),
            ("SerialNumber", m.serial, s, ObjectIds.String),
            (
                "ProductInstanceUri",
                f"urn:werk:sim:{m.vendor}/{m.machine_type}/{m.serial}",
                s,
                ObjectIds.String,
            ),
            ("AssetId", path, s, ObjectIds.String),
        ):
            b.var(nid(f"Identification/{key}"), key, ident, ua.Variant(value, vt), dt, prop=True)

        def item_state() -> int:
            return MACHINERY_STATE[m.state][0]

        def operation_mode() -> int:
            return MACHINERY_STATE[m.state][1]

        for sm, number, names in (
            ("MachineryItemState", item_state, ITEM_STATES),
            ("MachineryOperationMode", operation_mode, OPERATION_MODES),
        ):
            obj = b.obj(nid(sm), sm, machine)
            current = b.var(
                nid(f"{sm}/CurrentState"),
                "CurrentState",
                obj,
                ua.Variant(_localized(names[number()]), lt),
                ObjectIds.LocalizedText,
            )
            b.var(
                nid(f"{sm}/CurrentState/Number"),
                "Number",
                current,
                ua.Variant(number(), ua.VariantType.UInt32),
                ObjectIds.UInt32,
                prop=True,
            )
            slot(current, _state_text(number, names), lt)
            slot(nid(f"{sm}/CurrentState/Number"), number, ua.VariantType.UInt32)

        status = b.obj(nid("Status"), "Status", machine, folder=True)
        production = b.obj(nid("Production"), "Production", machine, folder=True)
        u16 = ua.VariantType.UInt16
        for folder, key, read, vt, dt in (
            (status, "StateCode", lambda: STATE_CODES[m.state], u16, ObjectIds.UInt16),
            (status, "StateName", lambda: str(m.state), s, ObjectIds.String),
            (status, "Reason", lambda: m.reason or "", s, ObjectIds.String),
            (production, "GoodParts", lambda: m.good_counter & 0xFFFF, u16, ObjectIds.UInt16),
            (production, "ScrapParts", lambda: m.scrap_counter & 0xFFFF, u16, ObjectIds.UInt16),
            (production, "ProductId", lambda: m.product or "", s, ObjectIds.String),
            (production, "OrderId", lambda: m.order or "", s, ObjectIds.String),
        ):
            prefix = "Status" if folder is status else "Production"
            nodeid = b.var(nid(f"{prefix}/{key}"), key, folder, ua.Variant(read(), vt), dt)
            slot(nodeid, read, vt)

        monitoring = b.obj(nid("Monitoring"), "Monitoring", machine, folder=True)
        values = m.signals()
        for spec in m.signal_specs:
            var = b.var(
                nid(f"Monitoring/{spec.name}"),
                spec.name,
                monitoring,
                ua.Variant(float(values[spec.name]), ua.VariantType.Double),
                ObjectIds.Double,
                type_definition=ObjectIds.AnalogItemType,
            )
            b.var(
                nid(f"Monitoring/{spec.name}/EURange"),
                "EURange",
                var,
                ua.Variant(ua.Range(spec.low, spec.high), ua.VariantType.ExtensionObject),
                ObjectIds.Range,
                prop=True,
            )
            eu = ua.EUInformation(
                NamespaceUri=UNECE_NAMESPACE,
                UnitId=unit_id(spec.unit),
                DisplayName=ua.LocalizedText(spec.unit),
                Description=ua.LocalizedText(spec.unit),
            )
            b.var(
                nid(f"Monitoring/{spec.name}/EngineeringUnits"),
                "EngineeringUnits",
                var,
                ua.Variant(eu, ua.VariantType.ExtensionObject),
                ObjectIds.EUInformation,
                prop=True,
            )
            slots.signals.append(
                (spec.name, _Slot(var, _no_reader, ua.VariantType.Double, float(values[spec.name])))
            )

    async def update(self) -> None:
        """Write every value that changed since the last update (report by exception)."""
        server = self._server
        if server is None:
            return
        source_ts = _ua_time(self.site.now())
        server_ts = _ua_time(datetime.now(UTC))
        write = server.write_attribute_value
        double = ua.VariantType.Double
        for group in self._machines:
            values = group.machine.signals()
            for name, s in group.signals:
                value: object = float(values[name])
                if value != s.last:
                    s.last = value
                    dv = ua.DataValue(ua.Variant(value, double), SourceTimestamp=source_ts)
                    dv.ServerTimestamp = server_ts
                    await write(s.nodeid, dv)
            for s in group.fixed:
                value = s.read()
                if value != s.last:
                    s.last = value
                    dv = ua.DataValue(ua.Variant(value, s.variant), SourceTimestamp=source_ts)
                    dv.ServerTimestamp = server_ts
                    await write(s.nodeid, dv)

    @property
    def variable_count(self) -> int:
        """Number of variables kept current (signals, states, counters, ids)."""
        return sum(len(g.fixed) + len(g.signals) for g in self._machines)


def _ua_time(ts: datetime) -> ua.DateTime:
    ts = ts.astimezone(UTC)
    return ua.DateTime(
        ts.year, ts.month, ts.day, ts.hour, ts.minute, ts.second, ts.microsecond, tzinfo=UTC
    )


def _no_reader() -> object:
    return None  # signal slots are read in bulk through MachineView.signals()


def _state_text(number: Callable[[], int], names: tuple[str, ...]) -> Callable[[], object]:
    def read() -> object:
        return _localized(names[number()])

    return read
