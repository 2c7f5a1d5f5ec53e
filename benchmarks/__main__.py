"""Run the benchmarks, print a table of their figures and write PAAS_DATA_DIR/bench.json.

    python -m benchmarks                    # every module in benchmarks/
    python -m benchmarks workspace_create   # only the named modules (merged into bench.json)

`make bench` runs it with the embedded services up (config.localenv exec).
"""

from __future__ import annotations

import importlib
import json
import math
import os
import pkgutil
import re
import sys
import time
import traceback
from numbers import Real
from pathlib import Path

PACKAGE = "benchmarks"
GOAL = re.compile(r"^\s*(<=|>=|<|>|==)\s*(-?\d+(?:\.\d+)?)\s*$")


def benchmark_modules() -> list[str]:
    """Names of the benchmark modules: every module of the package not starting with "_"."""
    package = importlib.import_module(PACKAGE)
    return sorted(
        info.name for info in pkgutil.iter_modules(package.__path__)
        if not info.name.startswith("_") and not info.ispkg
    )


def check_figures(module: str, figures: object) -> dict[str, dict]:
    """The figures, if they have the shape DESIGN.md §11 asks for; else ValueError."""
    if not isinstance(figures, dict):
        raise ValueError(f"{module}.run() returned {type(figures).__name__}, not a dict")
    for name, figure in figures.items():
        if not isinstance(figure, dict) or set(figure) != {"value", "unit", "goal"}:
            raise ValueError(f"{module}: figure {name!r} must have exactly value, unit and goal")
        value = figure["value"]
        if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
            raise ValueError(f"{module}: figure {name!r} has a value that is not a number")
        if not isinstance(figure["unit"], str) or not isinstance(figure["goal"], str):
            raise ValueError(f"{module}: figure {name!r} needs a unit and a goal as strings")
    return figures


def goal_met(value: float, goal: str) -> str:
    """"yes" or "no" for a goal of the form "< 1", ">= 200"; "" for one it cannot read."""
    match = GOAL.match(goal)
    if not match:
        return ""
    operator, bound = match.group(1), float(match.group(2))
    met = {
        "<": value < bound, "<=": value <= bound, ">": value > bound, ">=": value >= bound,
        "==": value == bound,
    }[operator]
    return "yes" if met else "no"


def format_value(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"


def print_table(figures: dict[str, dict]) -> None:
    header = ("figure", "value", "unit", "goal", "met")
    rows = [
        (name, format_value(f["value"]), f["unit"], f["goal"], goal_met(f["value"], f["goal"]))
        for name, f in sorted(figures.items())
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(row: tuple) -> str:
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)]
        cells[1] = str(row[1]).rjust(widths[1])
        return "  ".join(cells).rstrip()

    print()
    print(line(header))
    print("  ".join("-" * width for width in widths))
    for row in rows:
        print(line(row))


def write_results(path: Path, figures: dict[str, dict], merge: bool) -> None:
    """Write the figures to `path`; with `merge`, over the figures already there."""
    results: dict[str, dict] = {}
    if merge and path.exists():
        try:
            results = json.loads(path.read_text())
        except ValueError:
            results = {}
    results.update(figures)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(dict(sorted(results.items())), indent=2) + "\n")
    temporary.replace(path)


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # the workflows' INFO lines drown the table
    # Queues of the benchmarks' own: a panel's worker running beside must not take their jobs.
    os.environ.setdefault("PAAS_QUEUE_NAMESPACE", f"paas-bench-{os.getpid()}")
    import django

    django.setup()
    from django.conf import settings

    available = benchmark_modules()
    selected = argv or available
    unknown = sorted(set(selected) - set(available))
    if unknown:
        print(f"Unknown benchmark(s): {', '.join(unknown)}. Known: {', '.join(available)}",
              file=sys.stderr)
        return 2

    figures: dict[str, dict] = {}
    failed: list[str] = []
    started = time.perf_counter()
    for name in selected:
        print(f"{name}: running...", flush=True)
        module_started = time.perf_counter()
        try:
            module = importlib.import_module(f"{PACKAGE}.{name}")
            results = check_figures(name, module.run())
        except Exception:
            traceback.print_exc()
            failed.append(name)
            print(f"{name}: FAILED", flush=True)
            continue
        clash = sorted(set(results) & set(figures))
        if clash:
            print(f"{name}: FAILED, figure(s) already reported by another module: "
                  f"{', '.join(clash)}", flush=True)
            failed.append(name)
            continue
        figures.update(results)
        print(f"{name}: done in {time.perf_counter() - module_started:.1f} s", flush=True)

    print_table(figures)
    path = Path(settings.PAAS_DATA_DIR) / "bench.json"
    # A partial run (named modules, or one that failed) keeps the other figures already there.
    write_results(path, figures, merge=bool(argv) or bool(failed))
    print(f"\n{len(figures)} figure(s) written to {path} "
          f"in {time.perf_counter() - started:.1f} s")
    if failed:
        print(f"Failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
