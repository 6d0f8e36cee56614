"""Quantal calibration (ens2rt.engine.quantal): a known unit is recovered, indecisive cases leave the rate alone."""

import json

import numpy as np
import pytest

import ens2rt
from ens2rt.example import load_example
from ens2rt.engine import quantal
from ens2rt.engine.spikes import spike_kernel
from ens2rt.errors import InputError
from ens2rt.formats import write_result


def synthetic_rate(unit: float, seed: int = 0, n_events: int = 150, dense: bool = False, seconds: float = 1200.0) -> np.ndarray:
    """A 60 Hz rate of isolated events of 1–3 spikes, each spike a bump of total ``unit`` (±15 %); or Poisson-dense firing."""
    rng = np.random.default_rng(seed)
    n = int(seconds * 60)
    rate, kernel = np.zeros(n), spike_kernel()
    radius = kernel.size // 2
    if dense:  # 12 Hz Poisson: events merge, few are isolated
        for t in np.flatnonzero(rng.poisson(0.2, n))[1:-1]:
            if radius <= t < n - radius:
                rate[t - radius : t + radius + 1] += unit * kernel
        return rate
    for t in np.sort(rng.choice(np.arange(120, n - 120, 90), n_events, replace=False)):
        for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
            at = t + rng.integers(0, 6)
            rate[at - radius : at + radius + 1] += unit * kernel * rng.normal(1.0, 0.15)
    return rate


@pytest.mark.parametrize("unit", [0.5, 1.0, 2.0])
def test_the_fit_recovers_a_known_unit_within_ten_percent(unit):
    fit = quantal.fit_neuron(synthetic_rate(unit, seed=int(unit * 10)))
    assert fit.decisive and fit.reason == "decisive" and fit.n_events == 150
    assert fit.unit == pytest.approx(unit, rel=0.10)
    assert fit.bic_gain_one >= quantal.MIN_BIC_GAIN and fit.bic_gain_free >= quantal.MIN_BIC_GAIN


def test_dense_firing_is_not_decisive_and_says_why():
    fit = quantal.fit_neuron(synthetic_rate(1.0, dense=True))
    assert not fit.decisive and "isolated events, fewer than" in fit.reason


def test_sums_without_quanta_are_not_decisive():
    sums = np.random.default_rng(3).lognormal(0.0, 0.6, 400)  # one broad skewed cluster: a slow indicator's merged events
    fit = quantal.fit_sums(sums)
    assert not fit.decisive and "BIC" in fit.reason


def test_event_sums_are_whole_isolated_events():
    rate = np.zeros(6000)
    kernel = spike_kernel()
    for at, size in ((100, 1.0), (1000, 2.0), (1010, 1.0), (5990, 1.0)):  # 1000 and 1010 merge; 5990 is cut by the end
        rate[at - 6 : at + 7] += size * kernel[kernel.size // 2 - 6 : kernel.size // 2 + 7]
    sums = quantal.event_sums(rate)
    np.testing.assert_allclose(sums, [1.0, 3.0], rtol=0.03)  # each bump's tails below the event threshold are not counted


def test_infer_divides_decisive_neurons_only_and_records_every_fit(monkeypatch):
    from ens2rt.engine import offline

    fits = iter([quantal.QuantalFit(2.0, True, 80, 3, 50.0, 20.0, "decisive"),
                 quantal.QuantalFit(np.nan, False, 4, 0, np.nan, np.nan, "4 isolated events, fewer than 30")])  # fmt: skip
    monkeypatch.setattr(offline, "fit_neuron", lambda rate: next(fits))
    example = load_example()
    dff = np.stack([example.dff[:3600], example.dff[:3600]])
    plain = ens2rt.infer(dff, example.frame_rate)
    calibrated = ens2rt.infer(dff, example.frame_rate, calibrate="quantal")
    np.testing.assert_allclose(calibrated.rate[0], plain.rate[0] / 2.0, rtol=1e-6)
    np.testing.assert_array_equal(calibrated.rate[1], plain.rate[1])
    assert calibrated.calibration_applied.tolist() == [True, False] and calibrated.calibration_unit[0] == 2.0
    assert calibrated.settings["options"]["calibrate"] == "quantal" and calibrated.settings["calibration"][1]["reason"].startswith("4 isolated")
    assert plain.calibration_unit is None and "calibration" not in plain.settings
    assert sum(t.size for t in calibrated.spike_times[:1]) < sum(t.size for t in plain.spike_times[:1])


def test_calibration_is_written_and_refused_where_whole_traces_are_missing(tmp_path):
    example = load_example()
    result = ens2rt.infer(example.dff[:3600], example.frame_rate, calibrate="quantal")
    with np.load(write_result(tmp_path / "r.npz", result)) as saved:
        assert saved["calibration_applied"].tolist() == result.calibration_applied.tolist()
        np.testing.assert_array_equal(saved["calibration_unit"], result.calibration_unit)
        assert json.loads(str(saved["settings"]))["calibration"][0]["reason"] == result.settings["calibration"][0]["reason"]
    with pytest.raises(InputError, match="calibrate must be one of"):
        ens2rt.infer(example.dff[:3600], example.frame_rate, calibrate="magic")
    with pytest.raises(InputError, match="calibration_s is the warm-up"):
        ens2rt.Stream(1, example.frame_rate, model="ens2-exc-native", calibrate="quantal", calibration_s=0)


def test_the_count_table_measures_how_one_spike_scatters():
    from benchmarks import counts

    rate = synthetic_rate(1.0, seed=5, n_events=100)
    events = np.flatnonzero(np.diff((rate >= quantal.EVENT_THRESHOLD).astype(int)) == 1) + 3  # one "recorded spike" per event
    cv, n = counts.single_spike_spread(rate, events / 60.0)
    assert n > 20 and 0.1 < cv < 1.0  # events of 1–3 spikes each counted as one: their sums scatter
    row = {"bias": 1.0, "calibrated_bias": 0.1, "decisive": True, "n_events": 40, "single_spike_cv": 0.2, "reason": "decisive"}
    lines = counts.table_lines({"DS31": {"neurons": [row, {**row, "decisive": False, "calibrated_bias": 1.0,
                                                           "reason": "12 isolated events, fewer than 30"}]}})  # fmt: skip
    assert lines[2] == "| DS31 | 2 | 1.00 | 0.55 | 1 | 40 | 0.20 |"
    assert lines[-1] == "Why fits were not decisive (neurons): decisive: 1; fewer than 30 isolated events: 1."


def test_every_result_carries_an_interval_for_each_neurons_spike_total(tmp_path):
    """[N / q90, N / q10] from the model card's held-out count ratios; NaN for a model without them."""
    example = load_example()
    result = ens2rt.infer(example.dff, example.frame_rate)
    model = ens2rt.Model.load(result.neuron_model[0])
    q10, q90 = model.count_ratio
    total = result.spike_times[0].size
    np.testing.assert_allclose(result.spike_total_interval[0], [total / q90, total / q10], rtol=1e-6)
    windowed = ens2rt.infer(example.dff, example.frame_rate, model="ens2-exc-native")  # its interval holds the demo neuron's count
    assert windowed.spike_total_interval[0, 0] <= example.spike_times.size <= windowed.spike_total_interval[0, 1]
    with np.load(write_result(tmp_path / "r.npz", result)) as saved:
        np.testing.assert_array_equal(saved["spike_total_interval"], result.spike_total_interval)
    unrecorded = ens2rt.infer(example.dff[:3600], example.frame_rate, model="ens2-published-exc")
    assert np.isnan(unrecorded.spike_total_interval).all()
    assert ens2rt.infer(example.dff[:3600], example.frame_rate, spikes=False).spike_total_interval is None


@pytest.mark.parametrize("chunks", [(1, 4000)])
def test_dask_and_a_stream_carry_the_same_interval(chunks):
    """A stream's interval covers the spikes out so far: at the flush, the offline one; dask's equals it for any chunking."""
    import dask.array as da

    import ens2rt.dask

    example = load_example()
    dff = np.stack([example.dff, np.roll(example.dff, 500), 0.5 * example.dff]).astype(np.float64)
    offline = ens2rt.infer(dff, example.frame_rate)
    lazy = ens2rt.dask.infer(da.from_array(dff, chunks=chunks), example.frame_rate)
    np.testing.assert_array_equal(lazy.spike_total_interval.compute(), offline.spike_total_interval)
    with ens2rt.Stream(3, example.frame_rate, noise_level=ens2rt.noise_level(dff, example.frame_rate)) as stream:
        outputs = [stream.push(dff[:, k : k + 600]) for k in range(0, dff.shape[1], 600)] + [stream.flush()]
    so_far = [sum(t.size for o in outputs[: i + 1] for t in o.spike_times[n : n + 1]) for i in (0, len(outputs) - 1) for n in range(3)]
    assert so_far[3:] == [t.size for t in offline.spike_times]
    np.testing.assert_array_equal(outputs[-1].spike_total_interval, offline.spike_total_interval)
    q10, q90 = ens2rt.Model.load("ens2-exc-native").count_ratio
    np.testing.assert_allclose(outputs[0].spike_total_interval[:, 0], np.array(so_far[:3]) / q90, rtol=1e-6)


def _stream(dff: np.ndarray, frame_rate: float, **settings) -> tuple[ens2rt.Stream, list]:
    stream = ens2rt.Stream(dff.shape[0], frame_rate, model="ens2-exc-native", **settings)
    return stream, [stream.push(dff[:, k : k + 300]) for k in range(0, dff.shape[1], 300)] + [stream.flush()]


def test_a_stream_calibrates_after_its_warm_up_and_leaves_what_came_before(monkeypatch):
    """Fitted on each neuron's first calibration_s of rate; decisive neurons divided from the next sample on."""
    fits = [quantal.QuantalFit(2.0, True, 80, 3, 50.0, 20.0, "decisive"),
            quantal.QuantalFit(np.nan, False, 4, 0, np.nan, np.nan, "4 isolated events, fewer than 30")]  # fmt: skip
    seen = []
    monkeypatch.setattr(quantal, "fit_neuron", lambda rate: (seen.append(rate.size), fits[len(seen) - 1])[1])
    example = load_example()
    dff = np.stack([example.dff, example.dff]).astype(np.float64)
    _, plain = _stream(dff, example.frame_rate)
    stream, calibrated = _stream(dff, example.frame_rate, calibrate="quantal", calibration_s=30.0)
    assert seen == [1800, 1800]  # 30 s of 60 Hz rate per neuron
    before, after = (np.concatenate([o.rate for o in outputs], axis=1) for outputs in (plain, calibrated))
    np.testing.assert_array_equal(after[:, :1800], before[:, :1800])
    np.testing.assert_allclose(after[0, 1800:], before[0, 1800:] / 2.0, rtol=1e-6)
    np.testing.assert_array_equal(after[1], before[1])
    assert stream.calibration_applied.tolist() == [True, False] and stream.calibration_unit[0] == 2.0
    record = stream.settings["calibration"]
    assert record["warmup_s"] == 30.0 and record["neurons"][1]["reason"].startswith("4 isolated")
    assert np.isnan(calibrated[-1].spike_total_interval[0]).all() and np.isfinite(calibrated[-1].spike_total_interval[1]).all()


def test_a_stream_shorter_than_its_warm_up_is_not_calibrated_and_says_so():
    example = load_example()
    dff = example.dff[None, :3600].astype(np.float64)
    _, plain = _stream(dff, example.frame_rate)
    stream, outputs = _stream(dff, example.frame_rate, calibrate="quantal")  # the default warm-up, 300 s, is longer
    np.testing.assert_array_equal(np.concatenate([o.rate for o in outputs], axis=1), np.concatenate([o.rate for o in plain], axis=1))
    assert not stream.calibration_applied.any() and np.isnan(stream.calibration_unit).all()
    assert stream.settings["calibration"]["state"].startswith("not calibrated: fewer than 300 s")
