"""Run one edge agent per plant: connectors in, durable buffer, acknowledged uplink out."""
