import logging

import numpy as np
import pytest
import scipy.io

from ens2rt.errors import InputError
from ens2export.groundtruth import dataset_id, find_datasets, load_dataset, load_neuron
from ens2rt.scoring import true_rate_at_60hz


def _write_mat(path, trials):
    cells = np.empty((1, len(trials)), dtype=object)
    for index, trial in enumerate(trials):
        cells[0, index] = trial
    scipy.io.savemat(path, {"CAttached": cells})


def test_reads_every_neuron_of_ds03(ground_truth):
    folder = find_datasets(ground_truth, include=["DS03"])["DS03"]
    neurons = load_dataset(folder)
    assert len(neurons) == 8
    for neuron in neurons:
        assert neuron.dataset == "DS03" and neuron.trials
        for trial in neuron.trials:
            assert np.all(np.isfinite(trial.dff))
            assert 400 < trial.frame_rate < 600  # DS03 is imaged at about 500 Hz
            duration = trial.dff.size / trial.frame_rate
            assert np.all((trial.spike_times > -1) & (trial.spike_times < duration + 1))


def test_nan_timestamps_are_dropped(ground_truth):
    """DS07's first file starts with 1201 frames without a timestamp."""
    folder = find_datasets(ground_truth, include=["DS07"])["DS07"]
    path = sorted(folder.glob("*190522_Fish1_cell1_mini.mat"))[0]
    raw = scipy.io.loadmat(path)["CAttached"][0, 0][0, 0]
    trial = load_neuron(path).trials[0]
    assert trial.dff.size == np.isfinite(raw["fluo_time"].ravel()).sum() == raw["fluo_time"].size - 1201


def test_trials_without_the_three_fields_are_skipped_with_a_reason(tmp_path, caplog):
    good = {"fluo_time": np.arange(100) / 30.0, "fluo_mean": np.zeros(100, np.float32), "events_AP": np.array([[1e4], [np.nan]])}
    bad = {"fluo_time": np.arange(100) / 30.0, "fluo_mean": np.zeros(100, np.float32)}
    _write_mat(tmp_path / "cell.mat", [good, bad, good])
    with caplog.at_level(logging.WARNING, logger="ens2export.groundtruth"):
        neuron = load_neuron(tmp_path / "cell.mat")
    assert len(neuron.trials) == 2
    assert "cell.mat trial 1: skipped, no field events_AP" in caplog.text
    np.testing.assert_allclose(neuron.trials[0].spike_times, [1.0])  # NaN padding dropped
    assert neuron.trials[0].frame_rate == pytest.approx(30.0)


def test_a_broken_file_is_named(tmp_path):
    path = tmp_path / "broken.mat"
    path.write_bytes(b"not a mat file at all")
    with pytest.raises(InputError, match="broken.mat"):
        load_neuron(path)


def test_dataset_selection(ground_truth):
    chosen = find_datasets(ground_truth, include=["DS09", "DS10"], exclude=["DS10"])
    assert list(chosen) == ["DS09"]
    assert dataset_id("DS31-GCaMP8m-m-V1") == "DS31"
    with pytest.raises(InputError, match="DS99"):
        find_datasets(ground_truth, include=["DS99"])


def test_one_spike_gives_a_bump_of_area_one_on_its_bin():
    rate = true_rate_at_60hz(np.array([1.0 + 0.004]), 200)  # 1.004 s is nearest to bin 60
    assert rate.sum() == pytest.approx(1.0)
    assert np.argmax(rate) == 60
    assert rate[59] == pytest.approx(rate[61])
