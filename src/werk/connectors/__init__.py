"""Speak the shop-floor protocols: one connector per protocol, registered by name."""
