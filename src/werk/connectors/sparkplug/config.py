"""Describe a Sparkplug B host application: broker, host id, groups and device point tables.

A device is an edge node's device (``edge_node_id`` + ``device_id``), or the edge node itself
(``device_id`` omitted) for node metrics; its points name Sparkplug metrics. Devices that are not
listed can be mapped from their birth certificate (``auto_devices``): the DBIRTH's
``Properties/AssetPath`` metric gives the asset path and every numeric metric becomes a signal
named after the last segment of the metric name (``Signals/spindle_temp`` → ``spindle_temp``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from werk.connectors.base import Point, PointRole, SourceConfig
from werk.connectors.mqtt.config import MqttConnection

_ID = r"^[^/+#]+$"


class SparkplugPoint(Point):
    """One metric of a device."""

    metric: str = Field(description="Metric name as in the BIRTH, e.g. Signals/spindle_temp.")


class SparkplugDevice(BaseModel):
    """An edge node's device (or the node itself) and its points."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="Asset path; the default of every point's path.")
    edge_node_id: str = Field(pattern=_ID, description="Edge node id (4th topic level).")
    device_id: str | None = Field(
        default=None, pattern=_ID, description="Device id; omitted for the node's own metrics."
    )
    group_id: str | None = Field(
        default=None, pattern=_ID, description="Group id; the source's by default."
    )
    points: list[SparkplugPoint] = Field(default_factory=list, description="Metrics mapped.")

    @model_validator(mode="before")
    @classmethod
    def _path_default(cls, data: object) -> object:
        # A point's path defaults to its device's (before validation: locations stay exact).
        if isinstance(data, dict) and isinstance(data.get("points"), list):
            points = [
                {"path": data.get("path"), **p} if isinstance(p, dict) else p
                for p in data["points"]
            ]
            return {**data, "points": points}
        return data


class SparkplugConfig(SourceConfig, MqttConnection):
    """A Sparkplug B host application on one broker."""

    type: Literal["sparkplug"] = "sparkplug"
    group_id: str = Field(pattern=_ID, description="Sparkplug group to follow.")
    host_id: str = Field(
        pattern=_ID, description="Host application id: STATE is published on spBv1.0/STATE/<id>."
    )
    stale_quality: Literal["uncertain", "bad"] = Field(
        default="bad", description="Quality of the stale samples sent when a node or device dies."
    )
    rebirth_interval_s: float = Field(
        default=5.0, ge=0, description="Least seconds between two rebirth requests to one node."
    )
    flush_interval_ms: float = Field(default=200, gt=0, description="Batch hand-on interval.")
    auto_devices: bool = Field(
        default=False, description="Map unlisted devices by their Properties/AssetPath metric."
    )
    auto_roles: dict[str, PointRole] = Field(
        default_factory=dict, description="Role per metric name of auto-mapped devices."
    )
    auto_states: dict[str, str] | None = Field(
        default=None, description="State-code table of auto-mapped state metrics."
    )
    devices: list[SparkplugDevice] = Field(default_factory=list, description="Devices mapped.")

    def points(self) -> Sequence[SparkplugPoint]:
        """Every listed point."""
        return [p for d in self.devices for p in d.points]
