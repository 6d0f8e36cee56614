"""The wheel carries the models and installs into a fresh venv without PyTorch."""

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(REPO)], check=True, capture_output=True)
    return next(out.glob("ens2_runtime-*.whl"))


def test_wheel_holds_models_cards_and_example(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    models = sorted(path.stem for path in (REPO / "models").glob("*.onnx"))
    assert {"ens2-exc-native", "ens2-inh-native", "ens2-published-exc", "ens2-published-inh"} <= set(models)
    for model in models:
        assert f"ens2rt/models/{model}.onnx" in names and f"ens2rt/models/{model}.json" in names
    graphs = sorted(path.name for path in (REPO / "models" / "stream").glob("*.onnx"))
    assert "ens2-exc-online.onnx" in graphs  # streaming graphs of the convolutional models
    for graph in graphs:
        assert f"ens2rt/models/stream/{graph}" in names
    assert "ens2rt/data/example.npz" in names
    for family in ("ens2-exc", "ens2-exc-mixed", "ens2-inh", "ens2-inh-mixed"):  # the manifests families are loaded from
        assert f"ens2rt/models/families/{family}.json" in names
    from ens2rt.web import PAGE_FILES
    from ens2rt.web.site import ORT_FILES

    assert {f"ens2rt/web/{name}" for name in PAGE_FILES} <= names  # the browser page (ens2rt web)
    if (REPO / "runtime" / "ens2rt" / "web" / "ort" / ORT_FILES[0]).is_file():  # bundled by `npm run vendor` in web/
        assert {f"ens2rt/web/ort/{name}" for name in ORT_FILES} <= names
    # every model is ~0.2 MB compressed, onnxruntime-web's WebAssembly 3.8 MB: a family must not bloat the install
    assert wheel.stat().st_size < 10e6
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist") and "extra ==" not in line]
    assert sorted(r.split()[1].split(">")[0].split("<")[0] for r in requires) == ["numpy", "onnxruntime", "scipy", "typer"]


@pytest.mark.slow  # a fresh venv and pip install: ~20 s; tests/test_no_torch.py checks the runtime without torch by default
def test_wheel_installs_and_runs_in_a_fresh_venv_without_torch(wheel, tmp_path):
    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True, capture_output=True)
    check = "import importlib.util as u, ens2rt; assert u.find_spec('torch') is None; print(ens2rt.available_families())"
    listed = subprocess.run([str(python), "-c", check], check=True, capture_output=True, text=True)
    assert "ens2-exc-native" in listed.stdout
    demo = subprocess.run([str(env / "bin" / "ens2rt"), "demo", "-o", str(tmp_path / "d.npz")], capture_output=True, text=True)
    assert demo.returncode == 0, demo.stderr
    assert (tmp_path / "d.npz").is_file() and "correlation" in demo.stdout
    export = subprocess.run([str(env / "bin" / "ens2export"), "--help"], capture_output=True, text=True)
    assert export.returncode == 1 and "pip install 'ens2-runtime[export]'" in export.stderr
