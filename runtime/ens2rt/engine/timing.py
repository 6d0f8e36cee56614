"""Per-stage timing of the engine, for benchmarks and profiling; free when nobody asks.

>>> with ens2rt.engine.timing.stage_times() as seconds:
...     ens2rt.infer(dff, 30.0)
>>> seconds   # {"resampling": 0.4, "onnxruntime": 2.1, "windowing": 0.2, ...}

The engine's stages (resampling, windowing, onnxruntime, overlap-add, spike fitting)
are decorated with :func:`stage`; outside :func:`stage_times` the decorator costs one
context-variable lookup per call. A stage called inside another counts once, in the
outer one. Collection follows the calling context (threads started inside the block,
e.g. dask's, are not collected).
"""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _Collector:
    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.depth = 0


_collector: ContextVar[_Collector | None] = ContextVar("ens2rt_stage_times", default=None)


@contextmanager
def stage_times() -> Iterator[dict[str, float]]:
    """Collect the seconds spent in each engine stage inside the ``with`` block (a dict filled as it runs)."""
    collector = _Collector()
    token = _collector.set(collector)
    try:
        yield collector.seconds
    finally:
        _collector.reset(token)


def stage(name: str) -> Callable[[F], F]:
    """Decorate an engine function as the stage ``name``."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            collector = _collector.get()
            if collector is None or collector.depth:
                return function(*args, **kwargs)
            collector.depth += 1
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                collector.seconds[name] += time.perf_counter() - started
                collector.depth -= 1

        return timed  # type: ignore[return-value]

    return decorate
