"""One conditioning step for every entry point: offline, Stream and dask refuse the same bad input.

And the units rule refuses no real recording at the frame rates users image at.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import ens2rt
from ens2rt.engine.conditioning import noise_level_limit

RATE = 30.0
MODEL = "ens2-exc-conv"  # a single fast model: the checks come before any model runs
STREAM_MODEL = "ens2-exc-native"  # a stream of it needs no noise level up front


def _realistic(n_neurons: int = 4, seconds: float = 60.0, rate: float = RATE, seed: int = 0) -> np.ndarray:
    """ΔF/F as a fraction: exponential transients on noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    spikes = rng.random((n_neurons, n)) < 0.5 / rate
    kernel = 0.3 * np.exp(-np.arange(int(2 * rate)) / (0.5 * rate))
    calcium = np.stack([np.convolve(row, kernel)[:n] for row in spikes.astype(float)])
    return calcium + rng.normal(0, 0.03, (n_neurons, n))


def _percent() -> np.ndarray:
    return 100 * _realistic()


def test_percent_input_is_refused_by_every_entry_point():
    dask = pytest.importorskip("ens2rt.dask")
    da = pytest.importorskip("dask.array")
    x = _percent()
    with pytest.raises(ens2rt.InputError, match="percent"):
        ens2rt.infer(x, RATE, model=MODEL)
    stream = ens2rt.Stream(x.shape[0], RATE, model=STREAM_MODEL)
    with pytest.raises(ens2rt.InputError, match="percent"):
        for start in range(0, x.shape[1], 30):  # judged once the first 10 s are in
            stream.push(x[:, start : start + 30])
    assert start < 11 * RATE
    with pytest.raises(ens2rt.InputError, match="percent"):
        dask.infer(da.from_array(x, chunks=(2, 600)), RATE, model=MODEL).rate.compute()
    # the same traces as a fraction pass everywhere, and percent=True makes them one
    fraction = ens2rt.infer(x / 100, RATE, model=MODEL, spikes=False).rate
    np.testing.assert_array_equal(ens2rt.infer(x, RATE, model=MODEL, spikes=False, percent=True).rate, fraction)
    lazy = dask.infer(da.from_array(x, chunks=(2, 600)), RATE, model=MODEL, percent=True, spikes=False)
    np.testing.assert_allclose(lazy.rate.compute(), fraction, atol=1e-5)


def test_a_short_stream_is_judged_at_flush_and_given_percent_levels_are_refused():
    x = _percent()[:, : int(5 * RATE)]
    stream = ens2rt.Stream(x.shape[0], RATE, model=STREAM_MODEL)
    stream.push(x)
    with pytest.raises(ens2rt.InputError, match="percent"):
        stream.flush()
    with pytest.raises(ens2rt.InputError, match="noise levels given"):
        ens2rt.Stream(3, RATE, noise_level=127.0)
    with pytest.raises(ens2rt.InputError, match="noise levels given"):
        ens2rt.infer(_realistic(), RATE, noise_level=127.0)
    ens2rt.Stream(3, RATE, noise_level=127.0, input_checks=False)  # the way out, as offline


def test_stream_settings_say_what_it_checked_and_close_releases_it():
    with ens2rt.Stream(2, RATE, model=STREAM_MODEL) as stream:
        stream.push(_realistic(2, 12)).rate  # noqa: B018
        assert "first 10 s" in stream.settings["conditioning"]["checks"]
        assert stream.settings["conditioning"]["gaps"] == "the neuron's last finite value held"
    with pytest.raises(ens2rt.InputError, match="closed"):
        stream.push(_realistic(2, 1))
    offline = ens2rt.infer(_realistic(2), RATE, model=MODEL, spikes=False).settings["conditioning"]
    assert offline["checks"] == "whole traces"


@pytest.mark.parametrize("bad,message", [
    (np.ones((2, 900)) * (1 + 1j), "complex"),
    (np.ones((2, 900), dtype=bool), "boolean"),
    (np.array([["a"] * 900] * 2), "numeric"),
])  # fmt: skip
def test_complex_boolean_and_text_are_refused_everywhere(bad, message):
    dask = pytest.importorskip("ens2rt.dask")
    with pytest.raises(ens2rt.InputError, match=message):
        ens2rt.infer(bad, RATE, model=MODEL)
    with pytest.raises(ens2rt.InputError, match=message):
        ens2rt.Stream(2, RATE, model=STREAM_MODEL).push(bad)
    with pytest.raises(ens2rt.InputError, match=message):
        dask.infer(bad, RATE, model=MODEL)


def test_dask_takes_a_numpy_array_and_records_its_conditioning():
    dask = pytest.importorskip("ens2rt.dask")
    x = _realistic()
    result = dask.infer(x, RATE, model=MODEL, spikes=False)
    np.testing.assert_allclose(result.rate.compute(), ens2rt.infer(x, RATE, model=MODEL, spikes=False).rate, atol=1e-5)
    assert result.settings["conditioning"] == {"checks": "whole traces, when computed", "gaps": "refused"}


def test_frames_by_neurons_saved_the_wrong_way_round_is_refused():
    frames_by_neurons = _realistic(400, 100).T  # 3000 frames × 400 neurons
    assert frames_by_neurons.shape == (3000, 400)
    with pytest.raises(ens2rt.InputError, match="rows frames"):
        ens2rt.infer(frames_by_neurons, RATE, model=MODEL)
    dask = pytest.importorskip("ens2rt.dask")
    with pytest.raises(ens2rt.InputError, match="rows frames"):
        dask.infer(frames_by_neurons, RATE, model=MODEL)
    # more neurons than frames, the right way round: white across neurons, smooth in time
    many = _realistic(700, 20)
    assert many.shape[0] > many.shape[1]
    assert ens2rt.infer(many, RATE, model=MODEL, spikes=False).rate.shape[0] == 700


def test_a_too_short_input_says_so_before_asking_about_its_orientation():
    with pytest.raises(ens2rt.InputError, match="too short") as caught:
        ens2rt.infer(np.random.default_rng(0).normal(0, 0.05, (10, 1)), RATE, model=MODEL)
    assert "rows frames" not in str(caught.value)
    with pytest.raises(ens2rt.InputError, match="too short.*transpose"):
        ens2rt.infer(np.random.default_rng(0).normal(0, 0.05, (300, 20)), RATE, model=MODEL)


@pytest.mark.slow  # 3 s of ground truth; benchmarks/units_rule.py measures the rule on every dataset
def test_the_units_rule_refuses_no_trial_of_five_datasets_at_any_user_frame_rate(ground_truth):
    """A dye at 7.8 Hz, a red indicator at 30 Hz, GCaMP6f at 158 Hz, jGCaMP8m at 122 Hz and interneurons at 30 Hz;
    every dataset is judged by the slow test below and by ``benchmarks/units_rule.py``."""
    from benchmarks.units_rule import judge_all

    counts = sum(judge_all(ground_truth, include=["DS04", "DS21", "DS10", "DS31", "DS26"]).values())
    judged, fraction_refused, _, _, percent_refused, percent_said, _ = counts
    assert judged > 1000 and fraction_refused == 0
    assert percent_refused / judged > 0.8 and percent_said / judged > 0.99


@pytest.mark.slow  # every trial of every dataset: ~10 s
def test_the_units_rule_refuses_no_ground_truth_trial_at_any_user_frame_rate(ground_truth):
    """Every trial of every dataset, as recorded and at 30, 15, 7.5 and 2.5 Hz (point samples and
    frame averages): none refused as a fraction, few warned; × 100 (percent), most refused and the
    rest warned (``benchmarks/units_rule.py`` writes the table)."""
    from benchmarks.units_rule import judge_all

    counts = sum(judge_all(ground_truth).values())
    judged, fraction_refused, fraction_warned, _, percent_refused, percent_said, _ = counts
    assert judged > 9000
    assert fraction_refused == 0 and fraction_warned / judged < 0.005
    assert percent_refused / judged > 0.85 and percent_said / judged > 0.995


def test_the_noise_level_limit_follows_the_median_step_at_low_rates():
    assert noise_level_limit(122.0) == 20.0 and noise_level_limit(30.0) == pytest.approx(200 / math.sqrt(30))
    assert noise_level_limit(2.5) == pytest.approx(126.5, abs=0.1)


def test_dask_names_each_neurons_model_as_infer_does():
    dask = pytest.importorskip("ens2rt.dask")
    x = _realistic(4)
    x[2:] += np.random.default_rng(1).normal(0, 0.3, (2, x.shape[1]))  # two noisy neurons: another family member
    lazy = dask.infer(x, RATE, model="ens2-exc-mixed", spikes=False)
    expected = ens2rt.infer(x, RATE, model="ens2-exc-mixed", spikes=False).neuron_model
    np.testing.assert_array_equal(lazy.neuron_model.compute(), expected)
    assert len(set(expected)) == 2
