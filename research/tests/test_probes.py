"""benchmarks/probes.py: the swapped engine steps compute what they claim."""

import numpy as np
import pytest

import ens2rt
from research import probes
from ens2rt.engine.windows import coverage_at


def test_uniform_weights_are_the_engines_overlap_add_and_hann_sums_to_one():
    positions = np.arange(48, 600)
    for hop in (1, 6, 48):
        np.testing.assert_array_equal(probes.weighted_overlap(probes.OVERLAP_WEIGHTS["uniform"])[1](positions, hop), coverage_at(positions, hop))
    np.testing.assert_allclose(probes.weighted_overlap(probes.OVERLAP_WEIGHTS["hann"])[1](positions, 48), 1.0)


def test_the_swap_is_undone_even_after_an_error():
    with pytest.raises(RuntimeError), probes.swapped(ens2rt, "infer", lambda *a, **k: None):
        assert ens2rt.infer() is None
        raise RuntimeError
    assert ens2rt.infer.__name__ == "infer"


def test_a_whole_pooling_period_shift_leaves_a_convolutional_model_unchanged():
    model = ens2rt.Model.load("ens2-exc-conv", device="cpu")
    x = np.random.default_rng(0).normal(0, 2, (2, 400)).astype(np.float32)
    plain = type(model).run(model, x)
    shifted = probes.phase_averaged(type(model).run, (8,))(model, x)  # one whole pooling period: the same network output
    np.testing.assert_allclose(shifted[:, 60:-60], plain[:, 60:-60], atol=1e-5)
    averaged = probes.phase_averaged(type(model).run, (0, 4))(model, x)
    assert averaged.shape == x.shape and not np.allclose(averaged, plain, atol=1e-5)  # other phases do differ


def test_smoothing_by_zero_is_the_plain_network():
    model = ens2rt.Model.load("ens2-exc-conv", device="cpu")
    x = np.random.default_rng(1).normal(0, 2, (1, 400)).astype(np.float32)
    plain = type(model).run(model, x)
    np.testing.assert_array_equal(probes.smoothed(type(model).run, 0.0)(model, x), plain)
    smooth = probes.smoothed(type(model).run, 2.0)(model, x)
    assert smooth.sum() == pytest.approx(plain.sum(), rel=0.05) and np.abs(np.diff(smooth)).sum() < np.abs(np.diff(plain)).sum()


def test_a_shifted_output_moves_the_rate_and_nothing_else():
    rate = np.arange(1.0, 11.0)[None, :]
    np.testing.assert_array_equal(probes.shift_rows(rate, 2)[0], [0, 0, 1, 2, 3, 4, 5, 6, 7, 8])
    np.testing.assert_array_equal(probes.shift_rows(rate, -3)[0], [4, 5, 6, 7, 8, 9, 10, 0, 0, 0])
    np.testing.assert_array_equal(probes.shift_rows(rate, 0), rate)
    trace = np.random.default_rng(2).normal(0, 0.05, 600).astype(np.float32)
    plain = ens2rt.infer(trace, 30.0, model="ens2-exc-native", spikes=False)
    unshifted = {}
    with probes.shifted_output(1, unshifted):
        later = ens2rt.infer(trace, 30.0, model="ens2-exc-native", spikes=False)
    with probes.shifted_output(-1, unshifted):
        earlier = ens2rt.infer(trace, 30.0, model="ens2-exc-native", spikes=False)
    assert len(unshifted) == 1  # both shifts read the one inference
    np.testing.assert_array_equal(earlier.rate[:, :-1], plain.rate[:, 1:])
    np.testing.assert_array_equal(later.rate[:, 1:], plain.rate[:, :-1])
    np.testing.assert_array_equal(later.time, plain.time)
    assert ens2rt.infer.__name__ == "infer"


def test_a_blurred_rate_keeps_its_total_and_a_zero_blur_is_the_rate():
    rate = np.zeros((2, 200))
    rate[0, 100], rate[1, 50:60] = 3.0, 1.0
    np.testing.assert_array_equal(probes.blurred_rows(rate, 0.0), rate)
    blurred = probes.blurred_rows(rate, 1.5)
    np.testing.assert_allclose(blurred.sum(axis=1), rate.sum(axis=1), rtol=1e-6)
    assert blurred[0, 100] < 3.0 and blurred[0, 99] == pytest.approx(blurred[0, 101]) and blurred.min() >= 0
    trace = np.random.default_rng(3).normal(0, 0.05, 600).astype(np.float32)
    plain = ens2rt.infer(trace, 30.0, model="ens2-exc-native", spikes=False)
    with probes.transformed_rate(lambda r: probes.blurred_rows(r, 1.0), {}):
        blurred = ens2rt.infer(trace, 30.0, model="ens2-exc-native", spikes=False)
    np.testing.assert_allclose(blurred.rate, probes.blurred_rows(plain.rate, 1.0), rtol=1e-6)


@pytest.mark.parametrize("scale", [0.4, 1.0, 2.5])
def test_unit_event_recovers_the_scale_of_isolated_single_spikes(scale):
    from scipy.ndimage import gaussian_filter1d

    spikes = np.zeros(6000)
    spikes[np.arange(100, 6000, 150)] = 1.0
    rate = gaussian_filter1d(scale * spikes, 1.5)  # each spike's bump, as a model counting `scale` per spike gives
    assert probes.event_sizes(rate).size == 40
    assert probes.unit_event(probes.peak_sizes(rate), 0.5) == pytest.approx(scale, rel=1e-3)
    assert probes.unit_event(probes.event_sizes(rate), 0.5) == pytest.approx(scale, rel=0.03)  # the tails below threshold are cut


def test_event_sizes_sums_each_run_above_threshold():
    rate = np.array([0.0, 0.5, 0.5, 0.0, 0.0, 1.0, 0.001, 0.2])
    np.testing.assert_allclose(probes.event_sizes(rate, threshold=0.1), [1.0, 1.0, 0.2])
    assert np.isnan(probes.unit_event(np.array([1.0, 2.0]), 0.5))  # too few events to say
