"""The JavaScript engine (runtime/ens2rt/web/ens2rt.mjs) that the browser page and examples/node
share gives ens2rt.infer's numbers and refuses bad input with the Python runtime's messages."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import ens2rt
from ens2rt.errors import InputError, InputWarning
from ens2rt.example import load_example
from ens2rt.formats import read_input

ROOT = Path(__file__).resolve().parents[1]
NODE_HOST = ROOT / "examples" / "node"
WEB = ROOT / "runtime" / "ens2rt" / "web"
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node is not installed: the JavaScript engine is untested here"),
    pytest.mark.skipif(
        not (NODE_HOST / "node_modules" / "onnxruntime-node").is_dir(),
        reason="onnxruntime-node is not installed: run `npm ci --ignore-scripts` in examples/node (as .ci/run does)",
    ),
]

MODELS = ["ens2-exc", "ens2-exc-conv", "ens2-exc-mixed", "ens2-inh"]  # windowed, convolutional, mixed kinds, ranges


@pytest.fixture(scope="module")
def traces(tmp_path_factory) -> dict[str, tuple[Path, float]]:
    """The example neuron at its 60.06 Hz, and six neurons at 30 Hz (one with a gap, levels spread over the families' members)."""
    folder = tmp_path_factory.mktemp("js-engine")
    example = load_example()
    np.savetxt(folder / "example.csv", example.dff[None, :], delimiter=",")
    rng = np.random.default_rng(0)
    x = example.dff[::2][:3600]
    many = np.stack([np.roll(x, 37 * k) * (1 + 0.2 * k) + 0.015 * k * rng.standard_normal(x.size) for k in range(6)])
    many[2, 500:530] = np.nan
    np.savetxt(folder / "many.csv", many, delimiter=",")
    np.savetxt(folder / "slow.csv", many[:, ::4], delimiter=",")  # 7.5 Hz: the default runs its whole-trace member
    return {"example": (folder / "example.csv", example.frame_rate), "many": (folder / "many.csv", 30.0), "slow": (folder / "slow.csv", 7.5)}


def _node_infer(trace: Path, frame_rate: float, model: str, out: Path) -> dict:
    done = subprocess.run([NODE, str(NODE_HOST / "infer.mjs"), "--trace", str(trace), "--frame-rate", repr(frame_rate), "--model", model,
                           "--out", str(out)], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text())


# by default each model once, the example on the two families; the other pairs run with -m slow
CASES = [(w, m) if (w, m) in {("example", "ens2-exc"), ("example", "ens2-inh"), ("many", "ens2-exc-conv"), ("many", "ens2-exc-mixed")}
         else pytest.param(w, m, marks=pytest.mark.slow) for w in ("example", "many") for m in MODELS]  # fmt: skip


@pytest.mark.parametrize(("which", "model"), CASES + [("slow", "ens2-exc")])
def test_the_js_engine_gives_infers_numbers(traces, which, model, tmp_path):
    path, frame_rate = traces[which]
    js = _node_infer(path, frame_rate, model, tmp_path / "result.json")
    py = ens2rt.infer(np.loadtxt(path, delimiter=",", ndmin=2), frame_rate, model=model)
    rate = np.array(js["rate"], dtype=float)  # null (a gap) becomes NaN
    np.testing.assert_array_equal(np.isnan(rate), np.isnan(py.rate))
    assert np.nanmax(np.abs(rate - py.rate)) <= 1e-4
    np.testing.assert_array_equal(np.array(js["spikeCounts"], dtype=float), py.spike_counts)
    assert [len(t) for t in js["spikeTimes"]] == [t.size for t in py.spike_times]
    assert js["neuronModel"] == list(py.neuron_model) and js["model"] == py.model
    assert js["modelSha256"] == py.model_sha256
    np.testing.assert_allclose(js["noiseLevel"], py.noise_level, rtol=1e-6)
    np.testing.assert_allclose(np.array(js["spikeTotalInterval"], dtype=float), py.spike_total_interval, rtol=1e-6)
    for key in ("frame_rate", "model_kind", "hop", "resampler", "spikes", "spike_fit", "percent", "input_checks", "conditioning", "warnings"):
        assert js["settings"][key] == py.settings[key], key
    assert set(js["settings"]) == set(py.settings) and set(js["settings"]["options"]) == set(py.settings["options"])
    if which == "slow":
        assert set(js["neuronModel"]) == {"ens2-exc-conv"}
    if which == "example" and model == "ens2-exc":
        assert sum(len(t) for t in js["spikeTimes"]) == 331  # the README's demo count


BAD_TEXT = {
    "header.csv": "time,neuron\n0.1,0.2\n",
    "ragged.csv": "0.1,0.2,0.3\n0.1,0.2\n",
    "letters.csv": "0.1,0.2\n0.1,abc\n",
    "empty.csv": "\n\n",
}


def _js_messages(calls: str) -> dict:
    """Run ``calls`` (JavaScript that fills ``out`` with name → message) against the web engine's modules."""
    script = (f"import * as e from {json.dumps((WEB / 'ens2rt.mjs').as_uri())};\n"
              f"import * as i from {json.dumps((WEB / 'inputs.mjs').as_uri())};\n"
              "const out = {};\nconst message = async (f) => { try { await f(); return null; } catch (error) { return error.message; } };\n"
              f"{calls}\nconsole.log(JSON.stringify(out));")  # fmt: skip
    done = subprocess.run([NODE, "--input-type=module"], input=script, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_bad_text_files_get_the_python_readers_messages(tmp_path):
    calls = "\n".join(f"out[{json.dumps(name)}] = await message(() => i.parseDelimited({json.dumps(text)}, {json.dumps(name)}));"
                      for name, text in BAD_TEXT.items())  # fmt: skip
    js = _js_messages(calls)
    for name, text in BAD_TEXT.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(InputError) as raised:
            read_input(tmp_path / name, frame_rate=30.0)
        assert js[name] == str(raised.value).replace(str(tmp_path / name), name), name


def test_bad_traces_get_the_python_runtimes_messages():
    example = load_example()
    cases = {  # name → (traces, frame rate): percent, transposed, too short, F/F0, a neuron of one value
        "percent": (example.dff[None, :] * 100, example.frame_rate),
        "transposed": (np.stack([example.dff[k * 200 : k * 200 + 600] for k in range(60)], axis=1), 30.0),  # frames × neurons
        "transposed_smooth": (np.stack([example.dff[k * 70 : k * 70 + 300] for k in range(200)], axis=1), 30.0),
        "short": (example.dff[None, :40], 30.0),
        "f_over_f0": (np.stack([example.dff + 1] * 3), example.frame_rate),
        "frame_rate": (example.dff[None, :], 0.5),
    }
    calls = []
    for name, (dff, rate) in cases.items():
        rows = json.dumps(np.round(dff, 7).tolist())
        # infer() checks the input before it touches a model, so none is needed to see the refusal
        calls.append(f"out[{json.dumps(name)}] = await message(() => e.infer(null, ({rows}).map((r) => Float64Array.from(r)), {rate!r}, {{}}));")
    js = _js_messages("\n".join(calls))
    for name, (dff, rate) in cases.items():
        with pytest.raises(InputError) as raised:
            ens2rt.infer(np.round(dff, 7), rate, spikes=False)
        assert js[name] == str(raised.value), name


def test_the_node_command_refuses_bad_input_with_one_line_and_no_file(tmp_path):
    (tmp_path / "header.csv").write_text(BAD_TEXT["header.csv"])
    out = tmp_path / "result.json"
    done = subprocess.run([NODE, str(NODE_HOST / "infer.mjs"), "--trace", str(tmp_path / "header.csv"), "--frame-rate", "30",
                           "--out", str(out)], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr and " at " not in done.stderr
    assert done.stderr.strip() == f"error: {tmp_path / 'header.csv'}: row 1, column 1: 'time' is not a number (a header row? remove it: " \
                                  "one neuron per row, numbers only)"
    assert not out.exists() and not out.with_name("result.json.partial").exists()
    (tmp_path / "plain.csv").write_text("0.1,0.2,0.1\n")
    missing = subprocess.run([NODE, str(NODE_HOST / "infer.mjs"), "--trace", str(tmp_path / "plain.csv")], capture_output=True, text=True)
    assert missing.returncode == 2 and "pass --frame-rate" in missing.stderr


def test_empty_and_flat_neurons_get_the_python_warnings():
    from ens2rt.engine.conditioning import condition

    x = load_example().dff[:1200].astype(float)
    dff = np.stack([x, np.full(1200, np.nan), np.r_[x[:600], np.full(600, 0.2)], np.full(1200, 0.3)])  # fine, empty, half flat, flat
    with pytest.warns(InputWarning):
        expected = condition(dff, 60.0, percent=False, input_checks=True, empty_neurons="nan").warnings
    rows = json.dumps(np.where(np.isnan(dff), None, dff).tolist())
    js = _js_messages(f"out.warnings = e.condition(({rows}).map((r) => Float64Array.from(r, (v) => (v === null ? NaN : v))), 60).warnings;")
    assert js["warnings"] == expected and len(expected) == 2
