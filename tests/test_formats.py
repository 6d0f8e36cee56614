"""Real suite2p, CaImAn and NWB files built from ground truth, through `ens2rt infer`."""

import json

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

import ens2rt
from ens2rt.cli import app
from ens2rt.errors import InputError
from ens2export.groundtruth import find_datasets, load_dataset
from ens2rt.formats.suite2p import read_suite2p

runner = CliRunner()


@pytest.fixture(scope="module")
def recording(ground_truth):
    """Four DS21 neurons (about 30 Hz), cut to a common length: ROIs × frames ΔF/F."""
    neurons = load_dataset(find_datasets(ground_truth, include=["DS21"])["DS21"])[:4]
    trials = [n.trials[0] for n in neurons]
    n = min(t.dff.size for t in trials)
    return np.stack([t.dff[:n] for t in trials]), trials[0].frame_rate


def _npz(path):
    with np.load(path) as archive:
        return {key: archive[key] for key in archive.files}


def _run(args):
    result = runner.invoke(app, [*args, "-q"])
    assert result.exit_code == 0, result.output
    return result


def test_suite2p_folder(tmp_path, recording):
    dff, rate = recording
    rng = np.random.default_rng(0)
    neuropil = 300 + 20 * rng.standard_normal(dff.shape)
    f0 = np.array([[500.0], [800.0], [650.0], [720.0]])
    raw = f0 * (1 + dff) + 0.7 * neuropil
    plane = tmp_path / "suite2p" / "plane0"
    plane.mkdir(parents=True)
    np.save(plane / "F.npy", raw.astype(np.float32))
    np.save(plane / "Fneu.npy", neuropil.astype(np.float32))
    np.save(plane / "iscell.npy", np.array([[1, 0.9], [0, 0.2], [1, 0.8], [1, 0.7]]))
    np.save(plane / "ops.npy", {"fs": rate, "nplanes": 1})  # as suite2p saves its ops dict

    _run(["infer", str(plane)])
    saved = _npz(plane / "ens2.npz")
    np.testing.assert_array_equal(saved["roi_index"], [0, 2, 3])
    settings = json.loads(str(saved["settings"]))
    assert settings["neuropil_coefficient"] == 0.7 and settings["source_format"] == "suite2p"
    recovered, frame_rate, rois = read_suite2p(plane)
    assert frame_rate == pytest.approx(rate)
    for row, roi in enumerate(rois):
        assert np.corrcoef(recovered[row], dff[roi])[0, 1] > 0.97
    expected = ens2rt.infer(recovered, frame_rate)
    np.testing.assert_allclose(saved["rate"], expected.rate, atol=1e-5)

    _run(["infer", str(plane), "--all-rois", "--neuropil", "0.5", "-o", str(tmp_path / "all.npz")])
    assert _npz(tmp_path / "all.npz")["rate"].shape[0] == 4


def test_caiman_hdf5(tmp_path, recording):
    dff, rate = recording
    path = tmp_path / "caiman_results.hdf5"
    with h5py.File(path, "w") as handle:  # the layout cnm.save() writes
        handle.create_dataset("estimates/F_dff", data=dff)
        handle.create_dataset("estimates/C", data=dff * 3)
        handle.create_dataset("params/data/fr", data=rate)
    _run(["infer", str(path), "-o", str(tmp_path / "out.h5")])
    with h5py.File(tmp_path / "out.h5") as out:
        expected = ens2rt.infer(dff, rate)
        np.testing.assert_allclose(out["rate"][()], expected.rate, atol=1e-5)
        offsets = out["spike_times_offsets"][()]
        np.testing.assert_allclose(out["spike_times"][offsets[1] : offsets[2]], expected.spike_times[1])
        assert out.attrs["model"] == "ens2-exc"

    without = tmp_path / "no_dff.hdf5"
    with h5py.File(without, "w") as handle:
        handle.create_dataset("estimates/C", data=dff)
        handle.create_dataset("params/data/fr", data=rate)
    result = runner.invoke(app, ["infer", str(without)])
    assert result.exit_code == 1 and "not ΔF/F" in result.output and "detrend_df_f" in result.output


def _write_nwb(path, dff, rate=None, extra_series=False, timestamps=None):
    """An NWB file with ``dff`` (ROIs × frames) as a DfOverF series at ``rate`` Hz from 5 s, or at ``timestamps``."""
    from datetime import datetime, timezone

    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.ophys import DfOverF, ImageSegmentation, OpticalChannel, RoiResponseSeries

    nwbfile = NWBFile(session_description="ground truth as NWB", identifier="gt", session_start_time=datetime(2026, 1, 1, tzinfo=timezone.utc))
    device = nwbfile.create_device("microscope")
    plane = nwbfile.create_imaging_plane(
        name="plane",
        optical_channel=OpticalChannel(name="red", description="jRGECO1a", emission_lambda=600.0),
        description="V1",
        device=device,
        excitation_lambda=1040.0,
        imaging_rate=rate,
        indicator="jRGECO1a",
        location="V1",
    )
    module = nwbfile.create_processing_module(name="ophys", description="optical physiology")
    image_segmentation = ImageSegmentation()
    module.add(image_segmentation)
    segmentation = image_segmentation.create_plane_segmentation(name="rois", imaging_plane=plane, description="segmentation")
    for roi in range(dff.shape[0]):
        mask = np.zeros((8, 8))
        mask[roi, roi] = 1
        segmentation.add_roi(image_mask=mask)
    region = segmentation.create_roi_table_region(description="all ROIs", region=list(range(dff.shape[0])))
    timing = {"rate": rate, "starting_time": 5.0} if timestamps is None else {"timestamps": timestamps}
    series = [RoiResponseSeries(name="dff", data=dff.T, rois=region, unit="1", **timing)]
    if extra_series:
        series.append(RoiResponseSeries(name="dff_neuropil", data=dff.T, rois=region, unit="1", rate=rate))
    module.add(DfOverF(roi_response_series=series))
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)


def test_nwb_in_and_out(tmp_path, recording):
    from pynwb import NWBHDF5IO

    dff, rate = recording
    source = tmp_path / "session.nwb"
    _write_nwb(source, dff, rate)
    out = tmp_path / "session_spikes.nwb"
    _run(["infer", str(source), "-o", str(out)])
    expected = ens2rt.infer(dff, rate)
    with NWBHDF5IO(str(out), "r") as io:
        nwbfile = io.read()
        module = nwbfile.processing["spike_inference"]
        inferred = module["inferred_rate"]
        np.testing.assert_allclose(inferred.data[:].T, expected.rate, atol=1e-5)
        assert inferred.rate == 60.0 and inferred.starting_time == 5.0
        assert list(inferred.rois.data[:]) == [0, 1, 2, 3]
        assert inferred.rois.table is nwbfile.processing["ophys"]["ImageSegmentation"]["rois"]
        spikes = module["inferred_spikes"]
        np.testing.assert_allclose(spikes["spike_times"][2], expected.spike_times[2] + 5.0)
        np.testing.assert_allclose(spikes["noise_level"][:], expected.noise_level, rtol=1e-6)
        np.testing.assert_allclose(nwbfile.processing["ophys"]["DfOverF"]["dff"].data[:], dff.T)  # source kept

    _run(["infer", str(source), "-o", str(tmp_path / "r.npz")])
    np.testing.assert_allclose(_npz(tmp_path / "r.npz")["rate"], expected.rate, atol=1e-5)


def test_nwb_with_several_series_asks_which(tmp_path, recording):
    dff, rate = recording
    source = tmp_path / "two.nwb"
    _write_nwb(source, dff, rate, extra_series=True)
    result = runner.invoke(app, ["infer", str(source)])
    assert result.exit_code == 1 and "dff, dff_neuropil" in result.output and "--series" in result.output
    _run(["infer", str(source), "--series", "dff_neuropil", "-o", str(tmp_path / "x.npz")])


def test_nwb_output_needs_an_nwb_input(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((1, 900)))
    result = runner.invoke(app, ["infer", str(tmp_path / "x.npy"), "-r", "30", "-o", str(tmp_path / "x.nwb")])
    assert result.exit_code == 1 and "NWB output" in result.output
    assert not (tmp_path / "x.nwb").exists()


def test_plot_draws_the_chosen_neurons(tmp_path, recording):
    dff, rate = recording
    np.save(tmp_path / "r.npy", dff)
    _run(["infer", str(tmp_path / "r.npy"), "-r", str(rate), "-o", str(tmp_path / "r.npz")])
    result = runner.invoke(app, ["plot", str(tmp_path / "r.npz"), "--neurons", "0,2", "-o", str(tmp_path / "fig.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "fig.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = runner.invoke(app, ["plot", str(tmp_path / "r.npz"), "--neurons", "7"])
    assert result.exit_code == 1 and "neuron 7 does not exist" in result.output


class _Boom:
    def __reduce__(self):
        import os

        return (os.system, ("touch pwned",))


def test_suite2p_ops_pickles_run_no_code(tmp_path, monkeypatch):
    from ens2rt.formats.suite2p import read_frame_rate

    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "ops.npy", {"fs": 30.0, "save_path": "x", "Ly": np.int64(512), "meanImg": np.zeros((4, 4))})
    assert read_frame_rate(tmp_path / "ops.npy") == 30.0
    np.save(tmp_path / "evil.npy", {"fs": 30.0, "payload": _Boom()}, allow_pickle=True)
    with pytest.raises(ens2rt.InputError, match="posix.system|os.system|nt.system"):
        read_frame_rate(tmp_path / "evil.npy")
    assert not (tmp_path / "pwned").exists()


def test_the_registry_names_a_reader_per_input_and_what_it_can_read(tmp_path):
    from ens2rt import formats

    np.save(tmp_path / "x.npy", np.zeros((2, 100)))
    (tmp_path / "x.nwb").write_bytes(b"")
    (tmp_path / "x.hdf5").write_bytes(b"")
    plane = tmp_path / "plane"
    plane.mkdir()
    for name in ("F.npy", "Fneu.npy", "iscell.npy"):
        np.save(plane / name, np.ones((2, 100)))
    chosen = {path.name: formats.reader_for(path).name for path in (tmp_path / "x.npy", tmp_path / "x.nwb", tmp_path / "x.hdf5", plane)}
    assert chosen == {"x.npy": "array", "x.nwb": "nwb", "x.hdf5": "caiman", "plane": "suite2p"}
    assert formats.files_read(plane) == [plane / n for n in ("F.npy", "Fneu.npy", "iscell.npy", "ops.npy")]
    (tmp_path / "x.tiff").write_bytes(b"")
    with pytest.raises(InputError, match="unsupported input type '.tiff'; ens2rt reads a suite2p plane folder"):
        formats.read_input(tmp_path / "x.tiff")
    traces = formats.read_input(tmp_path / "x.npy", frame_rate=30.0)
    assert traces.frame_rate == 30.0 and traces.settings["source_format"] == "array"


def test_spike_times_share_one_ragged_encoding():
    from ens2rt.formats.results import ragged, unragged

    times = [np.array([0.5, 1.0]), np.zeros(0), np.array([2.0])]
    flat, offsets = ragged(times)
    assert [unragged(flat, offsets, i).tolist() for i in range(3)] == [[0.5, 1.0], [], [2.0]]
    assert ragged([])[0].size == 0 and ragged([])[1].tolist() == [0]


def test_text_files_take_empty_cells_as_gaps_and_skip_comment_lines(tmp_path):
    """Empty cells are gaps and '#' lines comments, whatever the delimiter (a comment line once hid a ';' table)."""
    from ens2rt.formats.arrays import read_traces

    (tmp_path / "gaps.csv").write_text("0.1,,0.3\n0.1,0.2,0.3\n")
    (tmp_path / "comma.csv").write_text("# frame_rate_hz=30\n0,1;0,25;0,5\n")
    np.testing.assert_array_equal(read_traces(tmp_path / "gaps.csv").dff, [[0.1, np.nan, 0.3], [0.1, 0.2, 0.3]])
    np.testing.assert_array_equal(read_traces(tmp_path / "comma.csv").dff, [[0.1, 0.25, 0.5]])
