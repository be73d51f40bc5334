"""Docs derived from the code: written once in code or data, rendered into Markdown.

`docs/configuration.md` is rendered from `config.py`; the benchmark tables of README.md,
`docs/benchmarks.md` and `docs/operations.md` from `bench/results/*.json`; the contract
tables of `docs/design.md` from `contract.py`. `shopstream docs build` writes them, and a
unit test fails when a committed file differs from what it would write.
"""
