"""Timing helpers shared by the in-process benchmarks."""

from __future__ import annotations

import gc
from collections.abc import Callable


def without_gc(measure: Callable[[], float]) -> float:
    """One timing with the garbage collector out of the way, as timeit does: a collection
    set off by the previous side's garbage would otherwise land in whichever side runs next."""
    gc.collect()
    gc.disable()
    try:
        return measure()
    finally:
        gc.enable()
