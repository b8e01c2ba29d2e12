"""Describe an OPC UA source: endpoint, security, subscription defaults, sharding, point table.

A point names its node either absolutely (``ns=2;s=...``, ``nsu=<namespace uri>;s=...``,
``i=2258``) or relative to its device's ``node_root`` — so one device template serves every
machine of a model: the template says ``Monitoring/spindle_temp``, each device says where its
machine's nodes start. ``nsu=`` node ids are resolved by namespace URI on every connect, because
namespace indices may differ between servers and restarts (OPC UA Part 3 §8.2.2).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from werk.connectors.base import Point, SourceConfig

_ABSOLUTE = ("ns=", "nsu=", "i=", "s=", "g=", "b=")


def relative_to_plant(value: Path | list[Path] | None, info: ValidationInfo) -> object:
    """Resolve relative paths against the plant file's folder (validation context ``base_dir``)."""
    base = (info.context or {}).get("base_dir") if isinstance(info.context, dict) else None
    if base is None or value is None:
        return value
    if isinstance(value, list):
        return [p if p.is_absolute() else Path(base) / p for p in value]
    return value if value.is_absolute() else Path(base) / value


def is_absolute(node: str) -> bool:
    """Tell whether a node id string is absolute (not relative to a device's ``node_root``)."""
    return node.startswith(_ABSOLUTE)


class OpcUaPoint(Point):
    """One monitored item: a node and how it is sampled."""

    node: str = Field(
        description="NodeId (ns=2;s=..., nsu=<uri>;s=..., i=...) or a path below node_root."
    )
    sampling_interval_ms: float | None = Field(
        default=None, ge=0, description="Server-side sampling interval; the source's default."
    )
    queue_size: int | None = Field(
        default=None, ge=1, description="Server-side queue of the monitored item."
    )
    deadband: float | None = Field(
        default=None, ge=0, description="Only report changes larger than this (data change)."
    )
    deadband_type: Literal["absolute", "percent"] = Field(
        default="absolute", description="absolute: in the value's unit; percent: of EURange."
    )


class OpcUaDevice(BaseModel):
    """A machine on the server: its asset path, where its nodes start, and its points."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="Asset path; the default of every point's path.")
    node_root: str | None = Field(
        default=None, description="Prefix of relative point nodes, e.g. nsu=urn:x;s=line-1/m1/."
    )
    points: list[OpcUaPoint] = Field(default_factory=list, description="The point table.")

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: object) -> object:
        # A point's path defaults to its device's path; a relative node is joined to node_root.
        # Done before validation so error locations stay devices.N.points.M.<field>.
        if not isinstance(data, dict) or not isinstance(data.get("points"), list):
            return data
        root = data.get("node_root")
        points = []
        for p in data["points"]:
            if isinstance(p, dict):
                p = dict(p)
                p.setdefault("path", data.get("path"))
                node = p.get("node")
                if isinstance(node, str) and not is_absolute(node) and isinstance(root, str):
                    p["node"] = root + node
            points.append(p)
        return {**data, "points": points}

    @model_validator(mode="after")
    def _absolute(self) -> OpcUaDevice:
        for index, p in enumerate(self.points):
            if not is_absolute(p.node):
                raise ValueError(
                    f"points[{index}].node {p.node!r} is relative but the device has no node_root"
                )
        return self


class OpcUaSecurity(BaseModel):
    """Message security with a client certificate and a trust list (OPC UA Part 2 §4.10)."""

    model_config = ConfigDict(extra="forbid")

    policy: Literal["Basic256Sha256"] = Field(
        default="Basic256Sha256", description="Security policy."
    )
    mode: Literal["Sign", "SignAndEncrypt"] = Field(
        default="SignAndEncrypt", description="Message security mode."
    )
    certificate: Path = Field(description="Client application certificate (DER or PEM).")
    private_key: Path = Field(description="Private key of the client certificate (PEM).")
    private_key_password: SecretStr | None = Field(
        default=None, description="Password of the private key, if encrypted."
    )
    application_uri: str | None = Field(
        default=None,
        description="Application URI; must match the certificate's SubjectAltName URI.",
    )
    server_certificate: Path | None = Field(
        default=None, description="Pin the server certificate; else taken from its endpoints."
    )
    trust: list[Path] = Field(
        default_factory=list,
        description="Trusted server certificates or CA certificates (files or folders). Empty: "
        "the server certificate is not checked against a trust list.",
    )

    @field_validator("certificate", "private_key", "server_certificate", "trust")
    @classmethod
    def _relative(cls, value: Path | list[Path] | None, info: ValidationInfo) -> object:
        # Relative paths are relative to the plant file (the loader passes its folder).
        return relative_to_plant(value, info)


class OpcUaDiscover(BaseModel):
    """Browse a folder and monitor what is found below it (OPC 40001-1 ``Machines`` style)."""

    model_config = ConfigDict(extra="forbid")

    folder: str = Field(description="NodeId of the folder whose child objects are machines.")
    asset_path_from: str | None = Field(
        default="Identification/AssetId",
        description="Browse path below each machine of a variable holding its asset path.",
    )
    base_path: str | None = Field(
        default=None,
        description="Asset path prefix; machine path = base_path/<slug of its browse name> when "
        "asset_path_from is unset or missing on a machine.",
    )
    include: list[str] = Field(
        default_factory=lambda: ["Monitoring"],
        description="Browse paths below each machine whose variables become points.",
    )
    max_depth: int = Field(default=2, ge=1, le=8, description="How deep to browse below those.")


class OpcUaConfig(SourceConfig):
    """An OPC UA server and what to subscribe to."""

    type: Literal["opcua"] = "opcua"
    endpoint: str = Field(pattern=r"^opc\.tcp://", description="opc.tcp://host:port/path")
    username: str | None = Field(default=None, description="User name (user token).")
    password: SecretStr | None = Field(default=None, description="Password of the user.")
    security: OpcUaSecurity | None = Field(
        default=None, description="Message security; None means security policy None."
    )
    publishing_interval_ms: float = Field(default=1000, gt=0, description="Subscription rate.")
    sampling_interval_ms: float = Field(default=1000, ge=0, description="Default sampling.")
    queue_size: int = Field(default=1, ge=1, description="Default monitored-item queue size.")
    timeout_s: float = Field(default=10, gt=0, description="Request timeout.")
    items_per_session: int = Field(
        default=2500,
        ge=1,
        le=50_000,
        description="Monitored items per client session (one asyncua session tops out near "
        "4,000 notifications/s).",
    )
    workers: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Worker processes owning sessions; 0 runs every session in the agent.",
    )
    flush_interval_ms: float = Field(
        default=200, gt=0, description="How often collected values are handed on as a batch."
    )
    discover: OpcUaDiscover | None = Field(default=None, description="Browse for points.")
    devices: list[OpcUaDevice] = Field(default_factory=list, description="Machines and points.")

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        if "@" in value:
            raise ValueError("put credentials in username/password, not in the endpoint URL")
        return value

    @model_validator(mode="after")
    def _unique(self) -> OpcUaConfig:
        seen: dict[tuple[str, str], str] = {}
        for p in self.points():
            key = (p.path, p.signal)
            if key in seen:
                raise ValueError(f"{p.path} {p.signal} is mapped twice ({seen[key]} and {p.node})")
            seen[key] = p.node
        return self

    def points(self) -> Sequence[OpcUaPoint]:
        """Every point of every device."""
        return [p for d in self.devices for p in d.points]
