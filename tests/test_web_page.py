"""The browser page (ens2rt web) in headless Chromium, driven as a user would by web/drive-page.mjs:
its downloads hold ens2rt.infer's numbers, bad input shows the Python runtime's message, and
the page renders. Needs Debian's chromium, `npm ci` in web/ and the bundled onnxruntime-web
(`npm run vendor`), which .ci/run installs; elsewhere it is skipped, in CI it fails."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import ens2rt
from ens2rt.errors import InputError
from ens2rt.example import load_example
from ens2rt.formats import read_input
from ens2rt.web import serve

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NEEDS = {
    "node": shutil.which("node") is not None,
    f"chromium at {CHROMIUM}": Path(CHROMIUM).is_file(),
    "playwright-core (npm ci in web/)": (WEB / "node_modules" / "playwright-core").is_dir(),
    "the bundled onnxruntime-web (npm run vendor in web/)": (ROOT / "runtime" / "ens2rt" / "web" / "ort" / "ort.wasm.min.mjs").is_file()
    or (Path(ens2rt.__file__).parent / "web" / "ort" / "ort.wasm.min.mjs").is_file(),
}
MISSING = [what for what, present in NEEDS.items() if not present]
if MISSING and os.environ.get("CI"):
    pytest.fail(f"the browser tests cannot run in CI: no {', '.join(MISSING)} (.ci/run installs them)", pytrace=False)
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"no {', '.join(MISSING)}")


def _bad_inputs(folder: Path) -> dict[str, tuple[Path, float]]:
    example = load_example()
    x = example.dff.astype(np.float64)
    cases = {
        "percent": (x[None, :] * 100, example.frame_rate),
        "transposed": (np.stack([x[k * 200 : k * 200 + 600] for k in range(60)], axis=1), 30.0),  # frames × neurons
        "short": (x[None, :40], 30.0),
    }
    files = {}
    for name, (dff, rate) in cases.items():
        np.savetxt(folder / f"{name}.csv", dff, delimiter=",")
        files[name] = (folder / f"{name}.csv", rate)
    (folder / "cells.csv").write_text("0.1,0.2,0.3\n0.2,n/a,0.1\n")
    files["cells"] = (folder / "cells.csv", 30.0)
    return files


def _suite2p_folder(folder: Path, frame_rate: float) -> Path:
    plane = folder / "plane0"
    plane.mkdir()
    example = load_example().dff[::2][:1800].astype(np.float64)
    rng = np.random.default_rng(3)
    f = np.stack([400 * (1 + np.roll(example, 311 * k)) + 5 * rng.standard_normal(example.size) for k in range(5)]).astype(np.float32)
    np.save(plane / "F.npy", f)
    np.save(plane / "Fneu.npy", (0.2 * f + 20).astype(np.float32))
    np.save(plane / "iscell.npy", np.array([[1, 0.9], [0, 0.2], [1, 0.8], [1, 0.7], [1, 0.9]]))
    np.save(plane / "ops.npy", np.array({"fs": frame_rate, "nframes": f.shape[1], "save_path": str(plane)}, dtype=object), allow_pickle=True)
    return plane


@pytest.fixture(scope="module")
def browser_run(tmp_path_factory):
    """One Chromium session over every case (starting a browser is the slow part)."""
    folder = tmp_path_factory.mktemp("web-page")
    rng = np.random.default_rng(1)
    x = load_example().dff[::2].astype(np.float64)
    many = np.stack([np.roll(x, 97 * k)[:300] * (0.6 + 0.01 * k) + 0.01 * (k % 7) * rng.standard_normal(300) for k in range(200)])
    many[5, 100:110] = np.nan
    np.savetxt(folder / "neurons200.csv", many, delimiter=",", fmt="%.7g")
    np.save(folder / "three.npy", many[:3].T.astype(np.float32))  # frames × neurons
    plane = _suite2p_folder(folder, 30.0)
    bad = _bad_inputs(folder)
    cases = [
        {"name": "example", "input": "example", "downloads": ["npz", "rate", "spikes"]},
        {"name": "neurons200", "input": "file", "files": [str(folder / "neurons200.csv")], "frameRate": 30, "downloads": ["npz"], "neuron": 5},
        {"name": "three", "input": "file", "files": [str(folder / "three.npy")], "frameRate": 30, "timeFirst": True,
         "model": "ens2-exc-conv", "downloads": ["npz"]},
        {"name": "suite2p", "input": "folder", "files": [str(plane)],
         "downloads": ["npz"]},
        *({"name": name, "input": "file", "files": [str(path)], "frameRate": rate} for name, (path, rate) in bad.items()),
    ]
    server = serve(0)
    try:
        plan = {"url": f"http://127.0.0.1:{server.server_address[1]}/", "cases": cases, "screenshot": True}
        (folder / "plan.json").write_text(json.dumps(plan))
        done = subprocess.run(["node", str(WEB / "drive-page.mjs"), str(folder / "plan.json"), str(folder)],
                              capture_output=True, text=True, timeout=600, env={**os.environ, "CHROMIUM": CHROMIUM})  # fmt: skip
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr[-3000:]
    return folder, json.loads((folder / "report.json").read_text()), bad, plane


def _same_as_infer(npz: Path, dff: np.ndarray, frame_rate: float, **kwargs) -> ens2rt.InferenceResult:
    page = np.load(npz)
    python = ens2rt.infer(dff, frame_rate, **kwargs)
    np.testing.assert_array_equal(np.isnan(page["rate"]), np.isnan(python.rate))
    assert np.nanmax(np.abs(page["rate"] - python.rate)) <= 1e-4
    np.testing.assert_array_equal(page["spike_counts"], python.spike_counts)
    np.testing.assert_array_equal(page["spike_times_offsets"], np.cumsum([0] + [t.size for t in python.spike_times]))
    assert list(page["neuron_model"]) == list(python.neuron_model) and str(page["model"]) == python.model
    np.testing.assert_allclose(page["spike_total_interval"], python.spike_total_interval, rtol=1e-6)
    settings = json.loads(str(page["settings"]))
    assert {k: settings[k] for k in ("frame_rate", "hop", "model_kind", "resampler", "warnings")} == {
        k: python.settings[k] for k in ("frame_rate", "hop", "model_kind", "resampler", "warnings")}
    return python


def test_the_example_gives_infers_numbers_and_the_readme_count(browser_run):
    folder, report, _, _ = browser_run
    example = load_example()
    python = _same_as_infer(folder / "example.npz", example.dff, example.frame_rate)
    assert "331 spikes" in report["cases"]["example"]["summary"] and sum(t.size for t in python.spike_times) == 331
    assert report["isolated"] and report["pageErrors"] == []
    rate = np.loadtxt(folder / "example-rate.csv", delimiter=",", ndmin=2)
    np.testing.assert_allclose(rate, python.rate, atol=1e-4)
    spikes = np.loadtxt(folder / "example-spikes.csv", delimiter=",", skiprows=1, usecols=2)
    np.testing.assert_allclose(spikes, python.spike_times[0])


def test_a_200_neuron_file_an_npy_and_a_suite2p_folder_give_infers_numbers(browser_run):
    folder, report, _, plane = browser_run
    _same_as_infer(folder / "neurons200.npz", read_input(folder / "neurons200.csv", frame_rate=30.0).dff, 30.0)
    assert report["cases"]["neurons200"]["progressSeen"]
    _same_as_infer(folder / "three.npz", np.load(folder / "three.npy").T, 30.0, model="ens2-exc-conv")
    traces = read_input(plane)  # the frame rate from ops.npy, as the page read it
    page = _same_as_infer(folder / "suite2p.npz", traces.dff, traces.frame_rate, roi_index=traces.roi_index)
    np.testing.assert_array_equal(np.load(folder / "suite2p.npz")["roi_index"], traces.roi_index)
    assert page.rate.shape[0] == 4  # iscell keeps four of five ROIs


def test_bad_input_shows_the_python_message(browser_run):
    _, report, bad, _ = browser_run
    for name, (path, rate) in bad.items():
        with pytest.raises(InputError) as raised:
            ens2rt.infer(read_input(path, frame_rate=rate).dff, rate)
        assert report["cases"][name]["message"] == str(raised.value).replace(str(path), path.name), name


def test_the_page_renders_a_plot(browser_run):
    matplotlib = pytest.importorskip("matplotlib.image")
    folder = browser_run[0]
    pixels = matplotlib.imread(folder / "page.png")[..., :3]
    blue = (pixels[..., 2] > 0.8) & (pixels[..., 0] < 0.35)  # the rate's line and the buttons
    red = (pixels[..., 0] > 0.6) & (pixels[..., 1] < 0.3)  # the spike marks
    assert pixels.std() > 0.05 and blue.sum() > 500 and red.sum() > 50
