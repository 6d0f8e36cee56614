"""The engine's stage timers: what benchmarks read instead of patching module globals."""

import numpy as np

import ens2rt
from ens2rt.engine import timing


def test_infer_reports_each_stage_once():
    x = np.random.default_rng(0).normal(0, 0.05, (4, 1200))
    with timing.stage_times() as seconds:
        ens2rt.infer(x, 30.0, model="ens2-exc-native")
    assert set(seconds) == {"resampling", "windowing", "onnxruntime", "overlap-add", "spike fitting"}
    assert all(value > 0 for value in seconds.values())


def test_a_stage_inside_a_stage_counts_once_and_nothing_is_kept_outside():
    calls = []

    @timing.stage("inner")
    def inner():
        calls.append("inner")

    @timing.stage("outer")
    def outer():
        inner()

    outer()  # no collector: plain calls
    with timing.stage_times() as seconds:
        outer()
    assert calls == ["inner", "inner"] and set(seconds) == {"outer"}
    with timing.stage_times() as again:
        pass
    assert again == {}
