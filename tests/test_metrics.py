import numpy as np
import pytest

from ens2rt.scoring import correlation, error_and_bias, error_rate, matched_pairs, score_neuron, van_rossum, victor_purpura


def _victor_purpura_table(a, b, q=1.0):
    """The textbook O(n·m) table, for checking the vectorized version."""
    d = np.zeros((len(a) + 1, len(b) + 1))
    d[:, 0], d[0, :] = np.arange(len(a) + 1), np.arange(len(b) + 1)
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + q * abs(a[i - 1] - b[j - 1]))
    return d[-1, -1]


def test_identical_trains_are_perfect():
    spikes = np.array([0.5, 1.0, 2.25])
    assert victor_purpura(spikes, spikes) == 0
    assert error_rate(spikes, spikes, 0.05) == 0
    rate = np.array([0, 1, 2, 1, 0.0])
    assert correlation(rate, rate) == pytest.approx(1)
    assert error_and_bias(rate, rate) == (0, 0)
    assert van_rossum(rate, rate, 3) == 0


def test_one_shifted_spike_costs_its_shift():
    assert victor_purpura([1.0], [1.3]) == pytest.approx(0.3)
    # beyond 2 s, deleting and inserting (cost 2) is cheaper than moving
    assert victor_purpura([1.0], [3.5]) == pytest.approx(2.0)


def test_missing_and_extra_spikes_cost_one_each():
    assert victor_purpura([], [1, 2]) == 2
    assert victor_purpura([1, 2, 3], []) == 3


def test_victor_purpura_equals_the_full_table_on_random_trains():
    rng = np.random.default_rng(0)
    for _ in range(100):
        a = np.sort(rng.uniform(0, 5, rng.integers(0, 10)))
        b = np.sort(rng.uniform(0, 5, rng.integers(0, 10)))
        assert victor_purpura(a, b) == pytest.approx(_victor_purpura_table(a, b))


def test_error_rate_matches_one_to_one_within_tolerance():
    truth = [1.0, 2.0, 3.0]
    assert matched_pairs([1.01, 1.02, 2.2, 3.04], truth, 0.05) == 2  # one spike cannot match twice
    # 2 matched of 4 predicted and 3 true: F1 = 4/7
    assert error_rate([1.01, 1.02, 2.2, 3.04], truth, 0.05) == pytest.approx(1 - 4 / 7)
    assert error_rate([1.01, 1.02, 2.2, 3.04], truth, 0.5) == pytest.approx(1 - 6 / 7)


def test_bias_sign_follows_too_many_or_too_few_spikes():
    truth = np.array([0, 1, 0, 1, 0.0])
    error, bias = error_and_bias(truth * 1.5, truth)
    assert error == pytest.approx(0.5) and bias == pytest.approx(0.5)
    error, bias = error_and_bias(truth * 0.5, truth)
    assert error == pytest.approx(0.5) and bias == pytest.approx(-0.5)


def test_nan_bins_are_ignored():
    truth = np.array([0, 1, 0, 2, 0.0])
    predicted = truth.copy()
    predicted[2] = np.nan
    assert correlation(predicted, truth) == pytest.approx(1)


def test_score_neuron_reports_every_metric():
    truth = np.array([0, 1, 0, 2, 0.0])
    scores = score_neuron(truth, truth, np.array([0.1]), np.array([0.1]))
    assert set(scores) >= {"correlation", "error", "bias", "van_rossum", "er_50ms", "er_100ms", "er_500ms", "victor_purpura"}
    assert scores["er_50ms"] == 0 and scores["victor_purpura"] == 0
