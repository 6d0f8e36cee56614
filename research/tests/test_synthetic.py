"""Synthetic training trials: real spikes through simulated indicators (research.training.synthetic)."""

import math

import numpy as np
import pytest

pytest.importorskip("torch")

from ens2export.dataset import load_windows  # noqa: E402
from research.training.synthetic import Indicators, fluorescence, simulate_trial, with_synthetic  # noqa: E402
from research.training import ResearchSettings  # noqa: E402
from ens2rt.engine.traces import noise_level  # noqa: E402


def test_one_spike_gives_a_transient_that_peaks_at_its_amplitude_and_decays():
    frame_rate, rise, decay = 1000.0, 0.01, 0.3
    trace = fluorescence(np.array([1.0]), np.array([0.4]), 3000, frame_rate, rise, decay)
    assert np.all(trace[:1000] == 0.0)  # nothing before the spike
    assert trace.max() == pytest.approx(0.4, rel=1e-3)
    peak_time = rise * decay / (decay - rise) * math.log(decay / rise)
    assert (trace.argmax() - 1000) / frame_rate == pytest.approx(peak_time, abs=1.5 / frame_rate)
    # long after the peak only the decay remains: one time constant later, 1/e of the value
    assert trace[2300] / trace[2000] == pytest.approx(math.exp(-1.0), rel=1e-3)


def test_transients_add_and_spikes_between_frames_are_exact_at_the_frames():
    frame_rate = 30.0
    both = fluorescence(np.array([1.01, 2.52]), np.array([0.3, 0.5]), 150, frame_rate, 0.02, 0.5)
    one = fluorescence(np.array([1.01]), np.array([0.3]), 150, frame_rate, 0.02, 0.5)
    other = fluorescence(np.array([2.52]), np.array([0.5]), 150, frame_rate, 0.02, 0.5)
    np.testing.assert_allclose(both, one + other, atol=1e-12)
    k = np.arange(150) / frame_rate
    after = np.clip(k - 1.01, 0.0, None)
    direct = np.where(k >= 1.01, np.exp(-after / 0.5) - np.exp(-after / 0.02), 0.0)
    np.testing.assert_allclose(one / one.max() * direct.max(), direct, atol=1e-9)  # same shape as the closed form


def test_a_synthetic_trial_has_the_counts_length_and_the_asked_noise_level():
    rng = np.random.default_rng(0)
    silent = np.zeros(60 * 600)
    trace = simulate_trial(silent, 60.0, 1.3, rng)
    assert trace.shape == silent.shape
    assert noise_level(trace, 60.0) == pytest.approx(1.3, rel=0.05)
    counts = np.zeros(60 * 60)
    counts[600] = 1
    for frame_rate in (7.8, 30.0, 158.3):
        trace = simulate_trial(counts, frame_rate, 0.01, rng, Indicators(rise_s=(0.01, 0.01001), decay_s=(0.5, 0.5001),
                                                                         amplitude=(0.5, 0.5001), jitter=0.0))  # fmt: skip
        assert trace.shape == counts.shape
        assert 590 <= trace.argmax() <= 640 and trace.max() > 0.3  # the transient follows its spike


def test_with_synthetic_adds_copies_of_a_share_of_the_trials_with_their_spikes(ground_truth):
    source = load_windows(ground_truth, include=["DS05"])
    mixed = with_synthetic(source, 0.5, seed=1)
    n = source.trial_lengths.size
    added = mixed.trial_lengths[n:]
    assert added.size == round(0.5 * n) and mixed.datasets == ("DS05", "DS05-synthetic")
    assert mixed.n_windows == source.n_windows + int(added.sum())
    np.testing.assert_array_equal(mixed.inputs[: source.inputs.size], source.inputs)  # the real trials unchanged
    # every copy's spike counts are those of a real trial of the same length and frame rate
    for trial in range(n, mixed.trial_lengths.size):
        start, length = mixed.trial_offsets[trial], mixed.trial_lengths[trial]
        copy = mixed.spike_counts[start : start + length]
        originals = [t for t in range(n) if source.trial_lengths[t] == length and source.frame_rates[t] == mixed.frame_rates[trial]]
        assert any(np.array_equal(copy, source.spike_counts[source.trial_offsets[t] : source.trial_offsets[t] + length])
                   for t in originals)  # fmt: skip
    np.testing.assert_array_equal(with_synthetic(source, 0.5, seed=1).inputs, mixed.inputs)  # reproducible for a seed
    with pytest.raises(ValueError, match="synthetic share must be in"):
        with_synthetic(source, 0.0, seed=1)
    with pytest.raises(ValueError, match="share of training trials copied"):
        ResearchSettings(synthetic=1.5)


def test_a_scan_offset_samples_each_trial_up_to_a_frame_late():
    counts = np.zeros(60 * 20)
    counts[300] = 1
    fast = Indicators(rise_s=(0.005, 0.00501), decay_s=(0.4, 0.4001), amplitude=(0.5, 0.5001), jitter=0.0)
    later = []
    for seed in range(8):
        # the same seed draws the same spike jitter and indicator; only the scan delay is added
        plain = simulate_trial(counts, 10.0, 1e-9, np.random.default_rng(seed), fast, resampler="linear")
        scanned = simulate_trial(counts, 10.0, 1e-9, np.random.default_rng(seed), fast, resampler="linear", scan_offset=True)
        onset = lambda trace: int(np.argmax(trace > 0.05))  # noqa: E731
        assert 0 <= onset(plain) - onset(scanned) <= 6  # sampled later: the rise shows up to a frame (6 samples) earlier
        later.append(onset(plain) - onset(scanned))
    assert max(later) > 0
    with pytest.raises(ValueError, match="set synthetic too"):
        ResearchSettings(synthetic_scan_offset=True)
