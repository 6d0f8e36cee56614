"""Slower copies of training trials (research.training.slower_frames)."""

import numpy as np
import pytest

pytest.importorskip("torch")

from research.training import slower_frames  # noqa: E402
from ens2export.dataset import load_windows  # noqa: E402
from research.training import ResearchSettings  # noqa: E402


def test_a_slow_signal_sampled_slower_comes_back_nearly_unchanged():
    t = np.arange(1200) / 60.0
    trace = np.sin(2 * np.pi * 0.4 * t) + 0.5 * np.sin(2 * np.pi * 1.1 * t)
    frames = slower_frames.frames_at(trace, 10.0)
    assert frames.size == 200 and frames[0] == trace[0] and frames[10] == pytest.approx(trace[60])  # frame k at k / 10 s
    back = slower_frames.back_at_60hz(frames, 10.0, "fourier", trace.size)
    assert trace.size - 6 <= back.size <= trace.size  # at most one frame short
    np.testing.assert_allclose(back[60:-60], trace[60 : back.size - 60], atol=0.02)  # band-limited well below 5 Hz: kept


def test_a_fast_transient_sampled_slower_is_smeared_as_a_slow_recording_smears_it():
    trace = np.zeros(600)
    trace[303:] = np.exp(-np.arange(297) / 6.0)  # a 0.1 s decay from halfway between two 8 Hz frames (300, 307.5)
    back = slower_frames.back_at_60hz(slower_frames.frames_at(trace, 8.0), 8.0, "fourier", trace.size)
    assert back.max() < 0.7 and np.argmax(back) > 303  # the peak is missed and seen later, at the next frame


def test_each_trial_fast_enough_gets_a_slower_copy_with_its_own_spikes():
    assert slower_frames.slower_rate_range(60.0) == (5.0, 30.0)
    assert slower_frames.slower_rate_range(10.0) == (5.0, 8.0) and slower_frames.slower_rate_range(6.0) is None


def test_with_slower_frames_adds_copies_of_a_share_of_the_trials(ground_truth):
    source = load_windows(ground_truth, include=["DS05"])  # 7.8 Hz: copies between 5 and 6.25 Hz
    mixed = slower_frames.with_slower_frames(source, 0.5, seed=1)
    n = source.trial_lengths.size
    copies = range(n, mixed.trial_lengths.size)
    assert len(copies) == round(0.5 * n) and mixed.datasets == ("DS05", "DS05-slower")
    np.testing.assert_array_equal(mixed.inputs[: source.inputs.size], source.inputs)  # the real trials unchanged
    assert np.all((mixed.frame_rates[n:] >= 5.0) & (mixed.frame_rates[n:] <= 7.81 / slower_frames.MARGIN))
    assert np.all(mixed.noise_levels[n:] > 0)
    for trial in copies:  # each copy's spikes are the start of a real trial's, at most one frame shorter
        start, length = mixed.trial_offsets[trial], mixed.trial_lengths[trial]
        copy = mixed.spike_counts[start : start + length]
        assert any(np.array_equal(copy, source.spike_counts[source.trial_offsets[t] : source.trial_offsets[t] + length])
                   for t in range(n) if 0 <= source.trial_lengths[t] - length <= 60.0 / 5.0)  # fmt: skip
    np.testing.assert_array_equal(slower_frames.with_slower_frames(source, 0.5, seed=1).inputs, mixed.inputs)  # reproducible
    with pytest.raises(ValueError, match="must be in"):
        slower_frames.with_slower_frames(source, 0.0, seed=1)
    with pytest.raises(ValueError, match="share of training trials given a slower copy"):
        ResearchSettings(slower_frames=1.5)


def test_slower_copies_of_a_distilled_source_are_labelled_by_their_truth(ground_truth):
    from dataclasses import replace

    from ens2rt.scoring import smooth_spike_counts

    source = load_windows(ground_truth, include=["DS05"])
    teacher = np.full(source.inputs.shape, 0.25, dtype=np.float32)  # a stand-in teacher's rates
    taught = replace(source, teacher_rates=teacher, teacher_weight=1.0)
    mixed = slower_frames.with_slower_frames(taught, 0.5, seed=1)
    real = source.inputs.size
    np.testing.assert_array_equal(mixed.targets[:real], teacher)  # the real trials keep the teacher's targets
    truth = smooth_spike_counts(mixed.spike_counts).astype(np.float32)
    np.testing.assert_allclose(mixed.targets[real:], truth[real:], atol=1e-7)  # the copies: their own truth
    assert mixed.targets[real:].max() > 0
    with pytest.raises(ValueError, match="slower_targets"):
        ResearchSettings(slower_targets="both")
    with pytest.raises(ValueError, match="set slower_frames and teacher"):
        ResearchSettings(slower_targets="truth", slower_frames=0.5)
