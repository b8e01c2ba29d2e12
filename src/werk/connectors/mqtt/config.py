"""Describe an MQTT JSON source: the broker connection, topic routes and explicit points.

:class:`MqttConnection` (host, TLS, credentials, client id) is shared with the Sparkplug B
connector: every MQTT connection werk opens takes the same settings.

Two ways to map messages, used together or alone:

* **points** of devices: ``topic`` relative to the device's ``topic_prefix`` (so one template
  serves many machines) or absolute, a ``field`` inside the JSON payload and a
  ``timestamp_field``;
* **routes**: a topic template with named placeholders that map topic segments to the asset
  path and signal, for a whole namespace at once::

      topic: "umh/v1/{path...}/_historian/{signal}"    # {x} one segment, {x...} several

  ``path`` and ``signal`` are format strings over the placeholders (``"acme/{site}/{machine}"``);
  ``+`` and ``#`` may appear too. An explicit point wins over a route for the same topic.
"""

from __future__ import annotations

import re
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

from werk.connectors.base import Point, PointRole, SourceConfig

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)(\.\.\.)?\}")


class MqttTls(BaseModel):
    """TLS of an MQTT connection: the CA that signed the broker, and a client certificate."""

    model_config = ConfigDict(extra="forbid")

    ca: Path | None = Field(default=None, description="CA certificate(s) of the broker (PEM).")
    cert: Path | None = Field(default=None, description="Client certificate (PEM).")
    key: Path | None = Field(default=None, description="Client private key (PEM).")
    key_password: SecretStr | None = Field(default=None, description="Password of the key.")
    insecure: bool = Field(
        default=False, description="Skip the host-name check (test brokers only)."
    )

    @field_validator("ca", "cert", "key")
    @classmethod
    def _relative(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        # Relative paths are relative to the plant file (the loader passes its folder).
        base = info.context.get("base_dir") if isinstance(info.context, dict) else None
        if base is None or value is None or value.is_absolute():
            return value
        return Path(base) / value


class MqttConnection(BaseModel):
    """Settings of one MQTT connection (mixed into the MQTT and Sparkplug source configs)."""

    host: str = Field(description="Broker host name or address.")
    port: int = Field(default=1883, ge=1, le=65535, description="Broker port (8883 for TLS).")
    client_id: str | None = Field(default=None, description="MQTT client id; werk-<name>.")
    username: str | None = Field(default=None, description="User name.")
    password: SecretStr | None = Field(default=None, description="Password.")
    tls: MqttTls | None = Field(default=None, description="TLS; None means plain TCP.")
    keepalive_s: int = Field(default=30, ge=5, description="MQTT keep-alive.")
    timeout_s: float = Field(default=10, gt=0, description="Connect and request timeout.")
    qos: Literal[0, 1] = Field(default=1, description="QoS of the subscriptions.")


class MqttPoint(Point):
    """A value inside the JSON messages of one topic."""

    topic: str = Field(description="Topic, relative to the device's topic_prefix or absolute.")
    field: str = Field(
        default="value", description="Dotted path into the JSON payload; empty: the payload."
    )
    timestamp_field: str | None = Field(
        default="timestamp_ms", description="Dotted path of the source time; None: receive time."
    )
    timestamp_unit: Literal["ms", "s", "us", "ns", "iso"] = Field(
        default="ms", description="Unit of a numeric timestamp, or iso for ISO 8601 text."
    )


class MqttDevice(BaseModel):
    """A machine publishing on MQTT: its asset path, topic prefix and points."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="Asset path; the default of every point's path.")
    topic_prefix: str = Field(default="", description="Prepended to every point's topic.")
    points: list[MqttPoint] = Field(default_factory=list, description="The point table.")

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: object) -> object:
        # Point path defaults to the device's; topics are joined to the prefix (before
        # validation, so error locations stay devices.N.points.M.<field>).
        if not isinstance(data, dict) or not isinstance(data.get("points"), list):
            return data
        prefix = data.get("topic_prefix") or ""
        points = []
        for p in data["points"]:
            if isinstance(p, dict):
                p = {"path": data.get("path"), **p}
                if isinstance(p.get("topic"), str) and isinstance(prefix, str):
                    p["topic"] = prefix + p["topic"]
            points.append(p)
        return {**data, "points": points}


class MqttRoute(BaseModel):
    """A topic template mapping a whole namespace of topics to paths and signals."""

    model_config = ConfigDict(extra="forbid")

    topic: str = Field(description="Topic template: {name} one segment, {name...} several.")
    path: str = Field(default="{path}", description="Asset path as a format string.")
    signal: str = Field(default="{signal}", description="Signal name as a format string.")
    field: str = Field(default="value", description="Dotted path of the value in the JSON.")
    timestamp_field: str | None = Field(default="timestamp_ms", description="Source time.")
    timestamp_unit: Literal["ms", "s", "us", "ns", "iso"] = Field(default="ms")
    unit: str | None = Field(default=None, description="Unit of every matched signal.")
    roles: dict[str, PointRole] = Field(
        default_factory=dict, description="Role per signal name (state, good, scrap, alarm)."
    )
    states: dict[str, str] | None = Field(
        default=None, description="State-code mapping for signals with role state."
    )
    exclude: list[str] = Field(
        default_factory=list, description="Signal names to ignore (text tags, for example)."
    )

    @field_validator("topic")
    @classmethod
    def _topic(cls, value: str) -> str:
        names = [m.group(1) for m in _PLACEHOLDER.finditer(value)]
        if len(names) != len(set(names)):
            raise ValueError("a placeholder appears twice in the topic")
        if "#" in value[:-1]:
            raise ValueError("'#' may only end a topic")
        return value

    def regex(self) -> re.Pattern[str]:
        """Return the regular expression matching topics of this template."""
        out, pos = [], 0
        for m in _PLACEHOLDER.finditer(self.topic):
            out.append(_literal(self.topic[pos : m.start()]))
            out.append(f"(?P<{m.group(1)}>{'.+' if m.group(2) else '[^/]+'})")
            pos = m.end()
        out.append(_literal(self.topic[pos:]))
        return re.compile("".join(out) + "$")

    def subscription(self) -> str:
        """Return the MQTT topic filter that receives every topic of this template."""
        parts = []
        for segment in self.topic.split("/"):
            m = _PLACEHOLDER.fullmatch(segment)
            if segment == "#" or (m is not None and m.group(2)):
                parts.append("#")
                break
            parts.append("+" if m is not None or "{" in segment else segment)
        return "/".join(parts)


def _literal(text: str) -> str:
    return re.escape(text).replace(r"\+", "[^/]+").replace(r"\#", ".*")


class MqttConfig(SourceConfig, MqttConnection):
    """An MQTT broker with JSON payloads."""

    type: Literal["mqtt"] = "mqtt"
    flush_interval_ms: float = Field(default=200, gt=0, description="Batch hand-on interval.")
    routes: list[MqttRoute] = Field(default_factory=list, description="Topic templates.")
    devices: list[MqttDevice] = Field(default_factory=list, description="Explicit points.")

    def points(self) -> Sequence[MqttPoint]:
        """Every explicit point (route points appear as messages arrive)."""
        return [p for d in self.devices for p in d.points]

    def subscriptions(self) -> list[str]:
        """Every topic filter the source subscribes to (explicit topics may hold wildcards)."""
        topics = [r.subscription() for r in self.routes] + [p.topic for p in self.points()]
        return list(dict.fromkeys(topics))
