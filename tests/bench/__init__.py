"""Tests of the benchmark harness (``bench/``): its parts, never its figures."""
