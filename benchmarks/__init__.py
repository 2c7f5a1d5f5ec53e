"""Benchmarks (DESIGN.md §11): `make bench` runs every module here through `__main__`.

Each benchmark module exposes `run() -> dict[str, dict]`, returning its figures as
`{name: {"value": number, "unit": str, "goal": str}}`. A figure that compares with a baseline
measures both in the same run, alternating, and reports the median. A benchmark prepares its
own data and cleans up after itself.
"""
