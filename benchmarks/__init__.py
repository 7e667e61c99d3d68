"""Benchmarks: accuracy and speed, reading ../shared/data. Never run by the tests."""
