"""Simulate a car maker's plant fleet behind real shop-floor protocols, with exact ground truth.

The simulator depends only on ``werk.samples`` and ``werk.assets``, never on the platform.
"""
