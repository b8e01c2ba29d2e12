"""Turn Sparkplug B metrics into werk values, and decide what a message means for a node. Pure.

:class:`NodeSession` is the host application's view of one edge node (Sparkplug 3.0 §5, see
``standards.md`` §2.5): its ``bdSeq`` from the NBIRTH, the last ``seq``, the alias table, and
whether its data is trusted. :meth:`NodeSession.check_seq` says when a message broke the
sequence (a gap or reordering → the host must request a rebirth and treat the node's data as
suspect until the NBIRTH arrives); :meth:`NodeSession.death_matches` pairs an NDEATH with the
NBIRTH of the same MQTT session, so a late NDEATH of an old session cannot kill a newer one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from werk.codecs.sparkplug import AliasTable, Metric, Payload
from werk.connectors.derive import BadReason, to_number
from werk.samples import Quality

UNCERTAIN_STATUS = 0x40000000
"""OPC UA "Uncertain": values of a node whose sequence broke, until its rebirth."""


def metric_ts_ns(metric: Metric, payload: Payload, now_ns: int) -> int:
    """Return a metric's time: its own timestamp, else the payload's, else the receive time."""
    ms = metric.timestamp if metric.timestamp is not None else payload.timestamp
    return now_ns if ms is None else ms * 1_000_000


def map_metric(
    metric: Metric, payload: Payload, now_ns: int, suspect: bool
) -> tuple[int, float, Quality, int | None, BadReason | None]:
    """Map one metric to ``(ts_ns, value, quality, status, bad reason)``."""
    ts = metric_ts_ns(metric, payload, now_ns)
    value, bad = to_number(metric.value)
    if bad is not None:
        return ts, value, Quality.BAD, bad.status, bad
    if suspect:
        return ts, value, Quality.UNCERTAIN, UNCERTAIN_STATUS, None
    return ts, value, Quality.GOOD, None, None


@dataclass(slots=True)
class NodeSession:
    """What the host knows about one edge node's current MQTT session."""

    bd_seq: int | None = None
    seq: int | None = None
    online: bool = False
    suspect: bool = True
    """True until an NBIRTH was seen, and again after a sequence break."""
    aliases: AliasTable = field(default_factory=AliasTable)
    devices: set[str] = field(default_factory=set)
    last_rebirth_request: float = -math.inf

    def birth(self, payload: Payload) -> None:
        """An NBIRTH: a new session; its seq is 0 and its bdSeq pairs with the next NDEATH."""
        bd = payload.metric("bdSeq")
        self.bd_seq = bd.value if bd is not None and isinstance(bd.value, int) else None
        self.seq = payload.seq
        self.online = True
        self.suspect = False
        self.devices.clear()
        self.aliases.learn(payload)

    def check_seq(self, seq: int | None) -> bool:
        """Record the seq of a node or device message; return False on a gap or reordering.

        Spec: seq counts every message of the node's session 0..255 and wraps; a host that sees
        anything but the previous seq + 1 must request a rebirth.
        """
        if seq is None or self.seq is None:
            self.seq = seq
            return False  # no session to compare with (no NBIRTH yet, or a seq-less message)
        expected = (self.seq + 1) & 0xFF
        self.seq = seq
        if seq != expected:
            self.suspect = True
            return False
        return True

    def death_matches(self, payload: Payload) -> bool:
        """Tell whether an NDEATH belongs to the current session (its bdSeq is the NBIRTH's)."""
        bd = payload.metric("bdSeq")
        if bd is None or not isinstance(bd.value, int) or self.bd_seq is None:
            return True  # nothing to compare: believe the death
        return bd.value == self.bd_seq

    def death(self) -> None:
        """The node is offline: its devices too; its aliases are void until the next NBIRTH."""
        self.online = False
        self.suspect = True
        self.devices.clear()
        self.aliases.forget()
