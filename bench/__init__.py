"""Benchmarks of werk, each figure printed beside a peer measured in the same run."""
