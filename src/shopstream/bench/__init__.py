"""Benchmarks (`shopstream bench ...`): each module runs one and writes JSON + a PNG plot
under `bench/results/`; numbers are measured, never asserted in tests."""
