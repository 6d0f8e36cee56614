import numpy as np
import pytest

from ens2rt.engine.spikes import MAX_RUN, THRESHOLD, find_runs, fit_spikes, spike_kernel, spike_times_from_counts


def test_kernel_is_a_unit_area_gaussian():
    kernel = spike_kernel()
    assert kernel.sum() == pytest.approx(1.0)
    assert np.argmax(kernel) == kernel.size // 2


def test_one_clean_bump_gives_one_spike_at_its_centre():
    rate = np.zeros(200)
    rate[93:106] = spike_kernel()
    counts = fit_spikes(rate)
    assert counts.sum() == 1 and counts[99] == 1


def test_two_spikes_in_one_bin_are_counted_twice():
    rate = np.zeros(200)
    rate[43:56] = 2 * spike_kernel()
    counts = fit_spikes(rate)
    assert counts[49] == 2 and counts.sum() == 2


def test_runs_below_half_a_spike_give_nothing():
    rate = np.zeros(100)
    rate[40:45] = 0.09  # total 0.45
    assert fit_spikes(rate).sum() == 0


def test_runs_split_at_neuron_boundaries_and_max_length():
    rate = np.zeros((2, 1200))
    rate[0, -10:] = 1.0
    rate[1, :1100] = 1.0
    neurons, starts, lengths = find_runs(rate)
    assert list(neurons) == [0, 1, 1, 1]
    assert list(starts) == [1190, 0, MAX_RUN, 2 * MAX_RUN]
    assert list(lengths) == [10, MAX_RUN, MAX_RUN, 100]
    assert THRESHOLD == 0.02 / 1.5


def test_long_burst_fits_its_spike_count():
    """A saturated 10 s burst is split into runs and fitted without blowing up."""
    rate = np.zeros((3, 2000))
    rate[:, 200:800] = 2.0  # 1200 spikes' worth of rate
    counts = fit_spikes(rate)
    assert np.allclose(counts.sum(axis=1), 1200, atol=10)


def test_neurons_are_fitted_independently():
    rng = np.random.default_rng(0)
    rate = np.clip(rng.normal(0, 0.2, (4, 3000)), 0, None)
    together = fit_spikes(rate)
    for neuron in range(4):
        np.testing.assert_array_equal(together[neuron], fit_spikes(rate[neuron]))


def test_spike_times_repeat_multi_spike_bins():
    counts = np.array([[0, 2, 0, 1], [0, 0, 0, 0]], dtype=float)
    times = spike_times_from_counts(counts, 60.0)
    np.testing.assert_allclose(times[0], [1 / 60, 1 / 60, 3 / 60])
    assert times[1].size == 0
