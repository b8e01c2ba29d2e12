"""Discover points by browsing a folder of machines (``discover:`` and ``werk edge discover``).

Every object directly below the folder is a machine (OPC 40001-1: the ``Machines`` folder is the
entry point). Its asset path is read from a variable below it (``Identification/AssetId`` by
default) or built from ``base_path`` and its browse name; the variables below the ``include``
browse paths become its points: signal = the browse name as a slug, value type from the
DataType, unit from the ``EngineeringUnits`` property where there is one. Node ids are written in
the ``nsu=<namespace uri>;`` form so the point table survives a change of namespace index.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Literal

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.node import Node
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.uaerrors import UaError

from werk.connectors.opcua.config import OpcUaConfig, OpcUaDevice, OpcUaDiscover, OpcUaPoint
from werk.connectors.opcua.session import explain, make_client, resolve
from werk.errors import ConnectorError

_INTEGER_TYPES = {
    ObjectIds.SByte, ObjectIds.Byte, ObjectIds.Int16, ObjectIds.UInt16,
    ObjectIds.Int32, ObjectIds.UInt32, ObjectIds.Int64, ObjectIds.UInt64,
}  # fmt: skip
_NUMBER_TYPES = {*_INTEGER_TYPES, ObjectIds.Float, ObjectIds.Double, ObjectIds.Boolean}


def slug(text: str) -> str:
    """Return a name as a werk slug: lower case, ``_`` between words, starting with a letter."""
    s = re.sub(r"[^a-z0-9]+", "_", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text).lower()).strip("_")
    return s if s[:1].isalpha() else f"n_{s}"


def _path_slug(text: str) -> str:
    return slug(text).replace("_", "-")


async def _nsu(node: Node, namespaces: Sequence[str]) -> str:
    nid = node.nodeid
    text = nid.to_string()
    if nid.NamespaceIndex == 0:
        return text
    _, _, rest = text.partition(";")
    return f"nsu={namespaces[nid.NamespaceIndex]};{rest}"


async def _variables(node: Node, depth: int) -> list[Node]:
    found: list[Node] = []
    for child in await node.get_children():
        cls = await child.read_node_class()
        if cls == ua.NodeClass.Variable:
            found.append(child)
        elif cls == ua.NodeClass.Object and depth > 1:
            found += await _variables(child, depth - 1)
    return found


async def _point(var: Node, path: str, namespaces: Sequence[str]) -> OpcUaPoint | None:
    datatype = await var.read_data_type()
    if datatype.NamespaceIndex != 0 or datatype.Identifier not in _NUMBER_TYPES:
        return None  # text, structures: not a sampled signal
    name = (await var.read_browse_name()).Name
    value_type: Literal["float", "int", "bool"] = (
        "bool"
        if datatype.Identifier == ObjectIds.Boolean
        else "int"
        if datatype.Identifier in _INTEGER_TYPES
        else "float"
    )
    unit = None
    # Part 8 puts EngineeringUnits in namespace 0; servers that build the property by hand
    # (the simulator among them) use their own namespace.
    for ns in dict.fromkeys((0, var.nodeid.NamespaceIndex)):
        try:
            info = await (await var.get_child([f"{ns}:EngineeringUnits"])).read_value()
        except UaError:
            continue
        if isinstance(info, ua.EUInformation) and info.DisplayName.Text:
            unit = info.DisplayName.Text
            break
    return OpcUaPoint(
        path=path,
        signal=slug(name),
        node=await _nsu(var, namespaces),
        value_type=value_type,
        unit=unit,
    )


async def browse(client: Client, discover: OpcUaDiscover) -> list[OpcUaDevice]:
    """Browse ``discover.folder`` on a connected client and return devices with points."""
    namespaces = await client.get_namespace_array()
    folder = client.get_node(await resolve(client, discover.folder, {}))
    devices: list[OpcUaDevice] = []
    for machine in await folder.get_children():
        if await machine.read_node_class() != ua.NodeClass.Object:
            continue
        qname = await machine.read_browse_name()
        ns = qname.NamespaceIndex
        path: str | None = None
        if discover.asset_path_from:
            try:
                parts = [f"{ns}:{p}" for p in discover.asset_path_from.split("/")]
                value = await (await machine.get_child(parts)).read_value()
                path = str(value) if value else None
            except UaError:
                path = None
        if path is None and discover.base_path:
            path = f"{discover.base_path}/{_path_slug(qname.Name.split('.')[-1])}"
        if path is None:
            continue
        points: list[OpcUaPoint] = []
        for include in discover.include:
            try:
                start = await machine.get_child([f"{ns}:{p}" for p in include.split("/")])
            except UaError:
                continue
            for var in await _variables(start, discover.max_depth):
                p = await _point(var, path, namespaces)
                if p is not None:
                    points.append(p)
        devices.append(OpcUaDevice(path=path, points=points))
    return devices


async def discover(config: OpcUaConfig, discover: OpcUaDiscover | None = None) -> list[OpcUaDevice]:
    """Connect, browse and return the devices found (what ``werk edge discover`` prints).

    Raises:
        ConnectorError: The server cannot be reached or the folder cannot be browsed.
    """
    what = discover or config.discover
    if what is None:
        raise ConnectorError(
            f"source {config.name} has no discover folder",
            key="connector.opcua_discover",
            source_id=config.name,
            field="discover",
        )
    client = await make_client(config)
    try:
        async with asyncio.timeout(config.timeout_s * 3):
            await client.connect()
    except (OSError, TimeoutError, UaError) as exc:
        raise explain(exc, config) from exc
    try:
        return await browse(client, what)
    except UaError as exc:
        raise ConnectorError(
            f"cannot browse {what.folder} on {config.endpoint}: {exc}",
            key="connector.opcua_discover",
            source_id=config.name,
            field="discover.folder",
        ) from exc
    finally:
        await client.disconnect()
