import json

import numpy as np
import pytest
import scipy.io
from typer.testing import CliRunner

import ens2rt
from ens2rt.cli import app

runner = CliRunner()
RATE = 30.0


@pytest.fixture(scope="module")
def dff():
    return np.random.default_rng(0).normal(0, 0.1, (3, 900)).astype(np.float32)


@pytest.fixture(scope="module")
def expected(dff):
    return ens2rt.infer(dff, RATE, device="cpu")


def _write_input(folder, kind, dff):
    path = folder / f"traces.{kind}"
    if kind == "npy":
        np.save(path, dff)
    elif kind == "npz":
        np.savez(path, dff=dff, frame_rate=RATE)
    elif kind == "mat":
        scipy.io.savemat(path, {"traces": dff, "other": np.arange(5.0), "fs": RATE})
    else:
        np.savetxt(path, dff, delimiter="," if kind == "csv" else "\t")
    return path


def _read_npz(path):
    with np.load(path) as archive:
        return {key: archive[key] for key in archive.files}


@pytest.mark.parametrize("kind", ["npy", "npz", "mat", "csv", "tsv"])
@pytest.mark.parametrize("out_kind", ["npz", "mat"])
def test_every_input_and_output_format_round_trips(tmp_path, dff, expected, kind, out_kind):
    source = _write_input(tmp_path, kind, dff)
    out = tmp_path / f"result.{out_kind}"
    args = ["infer", str(source), "-o", str(out), "-q"]
    if kind in ("npy", "csv", "tsv"):
        args += ["--frame-rate", str(RATE)]
    if kind == "mat":
        args += ["--variable", "traces"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.output == ""  # -q
    if out_kind == "npz":
        saved = _read_npz(out)
        offsets = saved["spike_times_offsets"]
        spikes = [saved["spike_times"][offsets[i] : offsets[i + 1]] for i in range(3)]
        model, settings = str(saved["model"]), json.loads(str(saved["settings"]))
    else:
        saved = scipy.io.loadmat(out)
        spikes = [np.ravel(cell) for cell in saved["spike_times"].ravel()]
        model, settings = str(saved["model"][0]), json.loads(str(saved["settings"][0]))
    np.testing.assert_allclose(saved["rate"], expected.rate, atol=1e-5)
    np.testing.assert_allclose(np.ravel(saved["time"]), expected.time)
    np.testing.assert_array_equal(saved["spike_counts"], expected.spike_counts)
    for got, want in zip(spikes, expected.spike_times):
        np.testing.assert_allclose(got, want)
    assert model == "ens2-exc"
    assert settings["hop"] == ens2rt.DEFAULT_HOP and settings["frame_rate"] == RATE


def test_time_axis_first_transposes(tmp_path, dff, expected):
    path = tmp_path / "t.npy"
    np.save(path, dff.T)
    out = tmp_path / "r.npz"
    result = runner.invoke(app, ["infer", str(path), "-r", "30", "--time-axis", "first", "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(_read_npz(out)["rate"], expected.rate, atol=1e-5)


def test_default_output_sits_beside_the_input(tmp_path, dff):
    path = _write_input(tmp_path, "npy", dff)
    result = runner.invoke(app, ["infer", str(path), "-r", "30", "--no-spikes"])
    assert result.exit_code == 0, result.output
    saved = _read_npz(tmp_path / "traces.ens2.npz")
    assert "spike_counts" not in saved and saved["rate"].shape == (3, 1800)
    assert "3 neurons" in result.output


def test_failures_exit_1_with_one_line_and_leave_no_file(tmp_path):
    short = tmp_path / "short.npy"
    np.save(short, np.zeros((2, 10)))
    out = tmp_path / "out.npz"
    result = runner.invoke(app, ["infer", str(short), "-r", "30", "-o", str(out)])
    assert result.exit_code == 1
    assert result.output.strip().startswith("ens2rt: error:") and "too short" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == [short]


@pytest.mark.parametrize(
    "setup,message",
    [
        (lambda p: np.save(p / "x.npy", np.zeros((2, 900))), "frame rate"),
        (lambda p: (p / "x.txt").write_text("1,2"), "unsupported"),
        (lambda p: np.savez(p / "x.npz", a=np.zeros((2, 900)), b=np.zeros((2, 900))), "--variable"),
        (lambda p: (p / "x.npy").write_bytes(b"junk"), "cannot read"),
    ],
)
def test_bad_files_are_named(tmp_path, setup, message):
    setup(tmp_path)
    path = next(tmp_path.iterdir())
    result = runner.invoke(app, ["infer", str(path)])
    assert result.exit_code == 1, result.output
    assert message in result.output and path.name in result.output


def test_usage_errors_exit_2(tmp_path):
    assert runner.invoke(app, ["infer"]).exit_code == 2
    assert runner.invoke(app, ["infer", "x.npy", "--hop", "many"]).exit_code == 2


def test_help_shows_an_example():
    result = runner.invoke(app, ["infer", "--help"])
    assert result.exit_code == 0 and "ens2rt infer recording.npy --frame-rate 30" in result.output


def test_version_and_info():
    assert runner.invoke(app, ["--version"]).output.strip() == f"ens2rt {ens2rt.__version__}"
    info = runner.invoke(app, ["info"])
    assert info.exit_code == 0
    assert "CPUExecutionProvider" in info.output and "ens2-exc" in info.output and "ens2-inh" in info.output
    assert " *ens2-exc-online " in info.output and "  ens2-exc-native " in info.output  # streaming graph or not
    assert "ens2-exc-conv (< 10 Hz)" in info.output  # a member's ranges, from ens2-inh's manifest
    assert next(line for line in info.output.splitlines() if line.startswith("default ens2-exc: "))  # what the default is, and why


def test_demo_scores_the_example_and_writes_its_result(tmp_path):
    out = tmp_path / "demo.npz"
    result = runner.invoke(app, ["demo", "-o", str(out)])
    assert result.exit_code == 0, result.output
    line = next(l for l in result.output.splitlines() if l.startswith("correlation"))
    assert float(line.rsplit(":", 1)[1]) > 0.5
    assert _read_npz(out)["rate"].shape[0] == 1


def test_info_warns_when_both_onnxruntimes_are_installed(monkeypatch):
    import ens2rt.cli.info

    monkeypatch.setattr(ens2rt.cli.info, "conflicting_onnxruntimes", lambda: ["onnxruntime", "onnxruntime-gpu"])
    result = runner.invoke(app, ["info"])
    assert result.exit_code == 0 and "overwrite each other" in result.output


def test_the_readme_model_and_hop_example(tmp_path, dff):
    path = tmp_path / "traces.csv"
    np.savetxt(path, dff.T, delimiter=",")
    result = runner.invoke(app, ["infer", str(path), "--time-axis", "first", "-r", "30", "--model", "ens2-inh", "--hop", "1", "-q"])
    assert result.exit_code == 0, result.output
    saved = _read_npz(tmp_path / "traces.ens2.npz")
    assert str(saved["model"]) == "ens2-inh" and json.loads(str(saved["settings"]))["hop"] == 1
    np.testing.assert_allclose(saved["rate"], ens2rt.infer(dff, RATE, model="ens2-inh", hop=1).rate, atol=1e-5)
