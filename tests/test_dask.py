import json

import numpy as np
import pytest

import ens2rt

da = pytest.importorskip("dask.array")
zarr = pytest.importorskip("zarr")
from typer.testing import CliRunner  # noqa: E402

import ens2rt.dask as ens2rt_dask  # noqa: E402
from ens2rt.cli import app  # noqa: E402


@pytest.fixture(scope="module")
def dff():
    ex = ens2rt.example.load_example()
    return np.stack([np.roll(ex.dff, shift) for shift in range(0, 14400, 1800)]).astype(np.float64), ex.frame_rate


@pytest.fixture(scope="module")
def offline(dff):
    traces, rate = dff
    return ens2rt.infer(traces, rate, device="cpu")


@pytest.mark.parametrize("chunks", [(3, -1), pytest.param((4, 1000), marks=pytest.mark.slow), pytest.param((8, 2777), marks=pytest.mark.slow), (1, 5000)])
def test_dask_equals_in_memory_for_any_chunking(dff, offline, chunks):
    traces, rate = dff
    result = ens2rt_dask.infer(da.from_array(traces, chunks=chunks), rate)
    got_rate, got_counts = da.compute(result.rate, result.spike_counts, scheduler="threads")
    np.testing.assert_allclose(got_rate, offline.rate, atol=1e-5)
    np.testing.assert_array_equal(got_counts, offline.spike_counts)
    np.testing.assert_allclose(result.time, offline.time)
    np.testing.assert_allclose(result.noise_level.compute(scheduler="threads"), offline.noise_level, rtol=1e-6)
    assert result.model == offline.model


def test_one_model_per_worker_process(dff):
    traces, rate = dff
    path = str(ens2rt.Model.load("ens2-exc-native", device="cpu").path)
    assert ens2rt_dask.worker_model(path) is ens2rt_dask.worker_model(path)
    assert ens2rt_dask.worker_model(path).session.get_session_options().intra_op_num_threads == 1


@pytest.mark.slow  # 6 s, a 2-worker cluster; dask = in memory is checked by default elsewhere
def test_zarr_cli_on_a_local_cluster(tmp_path, dff, offline):
    traces, rate = dff
    source = zarr.create_array(str(tmp_path / "in.zarr"), shape=traces.shape, chunks=(3, 4000), dtype="float32")
    source[:] = traces.astype(np.float32)
    source.attrs["frame_rate"] = rate
    out = tmp_path / "out.zarr"
    result = CliRunner().invoke(app, ["infer", str(tmp_path / "in.zarr"), "-o", str(out), "--workers", "2", "-q"])
    assert result.exit_code == 0, result.output
    group = zarr.open_group(str(out), mode="r")
    assert group.attrs["complete"] is True and group.attrs["model"] == "ens2-exc"
    expected = ens2rt.infer(traces.astype(np.float32), rate, device="cpu")
    np.testing.assert_allclose(group["rate"][:], expected.rate, atol=1e-5)
    np.testing.assert_array_equal(group["spike_counts"][:], expected.spike_counts)
    np.testing.assert_array_equal(group["spike_total_interval"][:], expected.spike_total_interval)
    np.testing.assert_allclose(group["noise_level"][:], expected.noise_level, rtol=1e-6)
    settings = json.loads(group.attrs["settings"])  # the one provenance encoding every writer stores
    assert settings["options"] == ens2rt.Options().as_dict() and settings["input"] == str(tmp_path / "in.zarr")
    assert json.loads(group.attrs["model_sha256"]).keys() <= set(ens2rt.available_families()["ens2-exc"])
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary store left

    again = CliRunner().invoke(app, ["infer", str(tmp_path / "in.zarr"), "-o", str(out), "-q"])
    assert again.exit_code == 1 and "exists" in again.output


def test_bad_dask_inputs(dff):
    traces, rate = dff
    with pytest.raises(ens2rt.InputError, match="neurons × frames"):
        ens2rt_dask.infer(da.zeros((2, 3, 900)), rate)
    with pytest.raises(ens2rt.InputError, match="too short"):
        ens2rt_dask.infer(da.zeros((2, 20)), 30.0)
    gappy = traces.copy()
    gappy[0, 100] = np.nan
    with pytest.raises(ens2rt.InputError, match="finite"):
        ens2rt_dask.infer(da.from_array(gappy, chunks=(4, -1)), rate).rate.compute(scheduler="threads")
    padded = traces.copy()
    padded[1, -int(2 * rate):] = 0.0  # two seconds of zero padding, split over two chunks in time
    for noise_level in (None, 1.0):  # with noise_level given too, though then no level is computed
        with pytest.raises(ens2rt.InputError, match="runs of one value"):
            result = ens2rt_dask.infer(da.from_array(padded, chunks=(4, padded.shape[1] - int(rate))), rate,
                                       noise_level=noise_level)
            result.rate.compute(scheduler="threads")
