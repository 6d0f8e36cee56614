"""The autocorrelation time behind the kinetics-based member choice (research/kinetics.py)."""

import math

import numpy as np
import pytest

from research import kinetics


def _ar1(decay_s: float, rate: float, seconds: float = 1800.0, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """An AR(1) trace whose autocorrelation falls as exp(-t / decay_s), plus white noise."""
    rng = np.random.default_rng(seed)
    phi = math.exp(-1.0 / (decay_s * rate))
    drive = rng.normal(0, 1, int(seconds * rate))
    x = np.zeros_like(drive)
    for i in range(1, x.size):
        x[i] = phi * x[i - 1] + drive[i]
    return x + noise * x.std() * rng.normal(0, 1, x.size)


@pytest.mark.parametrize("decay_s", [0.2, 0.5, 1.5])
@pytest.mark.parametrize("rate", [30.0, 60.0])
def test_tau_is_the_decay_plus_one_frame_and_white_noise_does_not_move_it(decay_s, rate):
    # lag 1 is the reference, so the crossing comes one frame after the decay time; 30 min of trace estimate it within
    # 0.94-1.10 of that over seeds 0-3, with or without white noise as strong as the signal
    clean = kinetics.autocorrelation_time(_ar1(decay_s, rate), rate)
    assert clean == pytest.approx(decay_s + 1 / rate, rel=0.15)
    noisy = kinetics.autocorrelation_time(_ar1(decay_s, rate, noise=1.0, seed=1), rate)
    assert noisy == pytest.approx(decay_s + 1 / rate, rel=0.15)


def test_a_trace_that_never_decorrelates_or_is_too_short_gives_the_cap():
    assert kinetics.autocorrelation_time(np.arange(1000.0), 30.0) == kinetics.MAX_TAU_S
    assert kinetics.autocorrelation_time(np.ones(3), 30.0) == kinetics.MAX_TAU_S
    assert kinetics.autocorrelation_time(np.r_[np.nan, _ar1(0.5, 30.0, 120.0)], 30.0) < 1.0  # NaN frames are left out


def test_the_switch_picks_the_threshold_that_helps_and_is_scored_on_the_held_out_fold():
    rows = []
    for fold in kinetics.FOLDS:
        for i in range(20):
            fast = i % 2 == 0  # fast neurons are better on the student, slow ones on the windowed model
            for column in kinetics.COLUMNS:
                rows.append({"fold": fold, "rate": column, "native_rate": 60.0, "tau_s": 0.3 if fast else 1.5,
                             "r_student": 0.8 if fast else 0.5, "r_windowed": 0.7 if fast else 0.6})  # fmt: skip
    assert kinetics.choose_threshold(rows) == pytest.approx(0.35)  # the smallest T above every fast neuron's τ
    result = kinetics.leave_one_fold_out(rows)
    assert all(r["columns"]["30 Hz"]["to_student"] == 10 for r in result.values())
    passed, gain, failed = kinetics.rule_outcome(result)
    assert passed and not failed and gain == pytest.approx(0.05)  # medians 0.65 -> 0.70
