"""``ens2rt web``: the page's files served locally (isolated, nothing outside the site) or written as a static site."""

import json
import urllib.error
import urllib.request

import pytest
from typer.testing import CliRunner

from ens2rt.cli import app
from ens2rt.web import PAGE_FILES, catalog, export, serve
from ens2rt.web.site import ORT_FILES, ort_folder, site_file

try:
    ORT = ort_folder()
except Exception:  # noqa: BLE001 (the reason is the skip's)
    ORT = None
needs_ort = pytest.mark.skipif(ORT is None, reason="onnxruntime-web is not bundled (cd web && npm ci && npm run vendor)")


def test_the_catalog_lists_the_default_and_every_shipped_model():
    listed = catalog()
    assert listed["default"] == "ens2-exc"
    assert "ens2-exc" in [f["name"] for f in listed["families"]] and "ens2-exc-conv" in [m["name"] for m in listed["models"]]
    assert all(entry["description"] for entry in listed["families"] + listed["models"])


@pytest.mark.parametrize("path", ["/../pyproject.toml", "/models/../../pyproject.toml", "/models/%2e%2e/x.json", "/site.py",
                                  "/ort/ort.js", "/models/families/../ens2-exc-native.onnx", "/nothing.html"])  # fmt: skip
def test_nothing_outside_the_site_is_served(path, tmp_path):
    assert site_file(path, tmp_path) is None


@needs_ort
def test_the_page_is_served_cross_origin_isolated():
    server = serve(0)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        with urllib.request.urlopen(f"{base}/") as answer:
            assert answer.headers["Cross-Origin-Opener-Policy"] == "same-origin"
            assert answer.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
            assert b"worker" in urllib.request.urlopen(f"{base}/app.mjs").read()
        with urllib.request.urlopen(f"{base}/ort/ort-wasm-simd-threaded.wasm") as answer:
            assert answer.headers["Content-Type"] == "application/wasm"
        assert json.loads(urllib.request.urlopen(f"{base}/models/index.json").read())["default"] == "ens2-exc"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/../README.md")
        assert refused.value.code == 404
    finally:
        server.shutdown()


@needs_ort
def test_export_writes_a_whole_static_site_and_refuses_a_full_folder(tmp_path):
    site = export(tmp_path / "site")
    for name in PAGE_FILES + ("example.csv", "_headers", "models/index.json", "models/ens2-exc-native.onnx",
                              "models/ens2-exc-native.json", "models/families/ens2-exc.json"):  # fmt: skip
        assert (site / name).is_file(), name
    assert all((site / "ort" / name).is_file() for name in ORT_FILES)
    assert "Cross-Origin-Embedder-Policy: require-corp" in (site / "_headers").read_text()
    refused = CliRunner().invoke(app, ["web", "--export", str(site)])
    assert refused.exit_code == 1 and "is not an empty folder" in refused.output
    assert not (tmp_path / ".site.partial").exists()


def test_a_missing_onnxruntime_web_is_named_with_the_fix(tmp_path):
    refused = CliRunner().invoke(app, ["web", "--no-open", "--port", "0", "--ort", str(tmp_path)])
    assert refused.exit_code == 1
    assert f"{tmp_path} lacks {ORT_FILES[0]}" in refused.output and "npm run vendor" in refused.output
