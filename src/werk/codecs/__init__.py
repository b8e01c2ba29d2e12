"""Encode and decode shop-floor wire formats, shared by the simulator and the edge connectors.

Modules here are pure: bytes in, values out, no I/O, no clock. Each follows its published
specification clause by clause and says so where it matters.

* :mod:`werk.codecs.sparkplug` — Sparkplug B payloads (Eclipse Sparkplug 3.0, Tahu
  ``sparkplug_b.proto``) and topics, with the alias table that DATA messages need.
"""
