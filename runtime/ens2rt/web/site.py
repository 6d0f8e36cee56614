"""The browser page's files, served locally (:func:`serve`) or written as a static site (:func:`export`).

The site is the page, the shipped models (``models/``: ``.onnx``, cards, family
manifests and an ``index.json`` listing them), onnxruntime-web's WebAssembly build
(``ort/``) and the example neuron (``example.csv``). Nothing is fetched from elsewhere,
and the page sends the user's data nowhere. Served with the cross-origin isolation
headers, onnxruntime-web runs on several threads.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

import numpy as np

from ens2rt.catalog.manifest import FAMILIES_FOLDER
from ens2rt.catalog.model import DEFAULT_MODEL, available_families, available_models, family_manifest, models_dir
from ens2rt.errors import InputError

PAGE_FILES = ("index.html", "page.css", "app.mjs", "worker.mjs", "ens2rt.mjs", "inputs.mjs", "results.mjs")
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
ORT_WEBGPU_FILES = ("ort.webgpu.min.mjs", "ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm")
# cross-origin isolation: what lets onnxruntime-web use threads (SharedArrayBuffer)
ISOLATION_HEADERS = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp",
                     "Cross-Origin-Resource-Policy": "same-origin"}  # fmt: skip
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
                 ".json": "application/json", ".wasm": "application/wasm", ".onnx": "application/octet-stream",
                 ".csv": "text/csv; charset=utf-8"}  # fmt: skip
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def page_folder() -> Path:
    """Where the page's files are in the installed package."""
    return Path(str(resources.files("ens2rt") / "web"))


def ort_folder(given: str | Path | None = None) -> Path:
    """onnxruntime-web's files: ``given``, else the copy bundled with the package; an :class:`InputError` if absent."""
    folder = Path(given) if given is not None else page_folder() / "ort"
    missing = [name for name in ORT_FILES if not (folder / name).is_file()]
    if missing:
        where = f"{folder} lacks {', '.join(missing)}" if given is not None else "this installation has no copy of onnxruntime-web"
        raise InputError(f"{where}. Bundle it before installing: `cd web && npm ci && npm run vendor`, then `pip install .` "
                         "(or pass --ort with the dist folder of an onnxruntime-web package)")  # fmt: skip
    return folder


def catalog() -> dict:
    """``models/index.json``: the default, and the shipped families and models with their descriptions."""
    folder = models_dir()
    families = [{"name": name, "description": family_manifest(name).description} for name in available_families()]
    models = [{"name": name, "description": json.loads((folder / f"{name}.json").read_text()).get("description", "")}
              for name in available_models()]  # fmt: skip
    return {"default": DEFAULT_MODEL, "families": families, "models": models}


def example_csv() -> str:
    """The example neuron as the page reads text: a frame-rate line, then one row of ΔF/F."""
    from ens2rt.example import load_example

    example = load_example()
    values = ",".join(repr(v) for v in np.asarray(example.dff, dtype=np.float64).tolist())  # exact: the numbers infer sees
    return f"# frame_rate_hz={example.frame_rate!r}\n# {example.source}\n{values}\n"


def site_file(path: str, ort: Path) -> tuple[bytes, str] | None:
    """The bytes and content type of the site's file at URL ``path``; None if the site has no such file."""
    parts = [part for part in path.split("?")[0].split("/") if part]
    if not parts:
        parts = ["index.html"]
    if not all(SAFE_NAME.match(part) for part in parts):
        return None
    name = parts[-1]
    kind = CONTENT_TYPES.get(Path(name).suffix)
    if kind is None:
        return None
    if parts == ["example.csv"]:
        return example_csv().encode(), kind
    if parts == ["models", "index.json"]:
        return json.dumps(catalog()).encode(), kind
    if len(parts) == 1 and name in PAGE_FILES:
        file = page_folder() / name
    elif len(parts) == 2 and parts[0] == "ort" and name in ORT_FILES + ORT_WEBGPU_FILES:
        file = ort / name
    elif len(parts) == 2 and parts[0] == "models":
        file = models_dir() / name
    elif len(parts) == 3 and parts[:2] == ["models", FAMILIES_FOLDER]:
        file = models_dir() / FAMILIES_FOLDER / name
    else:
        return None
    return (file.read_bytes(), kind) if file.is_file() else None


class _Handler(BaseHTTPRequestHandler):
    server_version = "ens2rt-web"

    def __init__(self, *args, ort: Path, **kwargs):
        self.ort = ort
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self._answer(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(body=False)

    def _answer(self, body: bool) -> None:
        found = site_file(self.path, self.ort)
        if found is None:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        content, kind = found
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(content)))
        self.send_header("Cache-Control", "no-cache")
        for key, value in ISOLATION_HEADERS.items():
            self.send_header(key, value)
        self.end_headers()
        if body:
            self.wfile.write(content)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's signature)
        pass  # a local page: no access log on the terminal


def serve(port: int = 0, ort: str | Path | None = None) -> ThreadingHTTPServer:
    """Start serving the page on 127.0.0.1 (``port`` 0: a free one) in a background thread; ``.shutdown()`` stops it."""
    server = ThreadingHTTPServer(("127.0.0.1", port), partial(_Handler, ort=ort_folder(ort)))
    threading.Thread(target=server.serve_forever, name="ens2rt-web", daemon=True).start()
    return server


def export(folder: str | Path, ort: str | Path | None = None) -> Path:
    """Write the page as a static site into ``folder`` (new or empty): host it as it is.

    A ``_headers`` file asks hosts that read it (Netlify, Cloudflare Pages) for the
    cross-origin isolation headers; elsewhere the page runs on one thread.
    """
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InputError(f"{folder} exists and is not an empty folder; give a new folder for the site")
    ort_files = ort_folder(ort)
    partial_folder = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(partial_folder, ignore_errors=True)
    (partial_folder / "models" / FAMILIES_FOLDER).mkdir(parents=True)
    (partial_folder / "ort").mkdir()
    for name in PAGE_FILES:
        shutil.copyfile(page_folder() / name, partial_folder / name)
    for name in ORT_FILES + ORT_WEBGPU_FILES:
        if (ort_files / name).is_file():
            shutil.copyfile(ort_files / name, partial_folder / "ort" / name)
    for name in available_models():
        for suffix in (".onnx", ".json"):
            shutil.copyfile(models_dir() / f"{name}{suffix}", partial_folder / "models" / f"{name}{suffix}")
    for name in available_families():
        shutil.copyfile(models_dir() / FAMILIES_FOLDER / f"{name}.json", partial_folder / "models" / FAMILIES_FOLDER / f"{name}.json")
    (partial_folder / "models" / "index.json").write_text(json.dumps(catalog()))
    (partial_folder / "example.csv").write_text(example_csv())
    headers = "".join(f"  {key}: {value}\n" for key, value in ISOLATION_HEADERS.items())
    (partial_folder / "_headers").write_text(f"/*\n{headers}")
    if folder.exists():
        folder.rmdir()
    partial_folder.rename(folder)  # never a half-written site
    return folder
