"""Loading an ONNX spike-inference model with its card onto an onnxruntime provider."""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from ens2rt.catalog.manifest import FAMILIES_FOLDER, FamilyManifest, read_manifest
from ens2rt.engine.contract import Contract
from ens2rt.engine.stateful import StreamGraph
from ens2rt.engine.timing import stage
from ens2rt.errors import InputError, InputWarning, ModelError
from ens2rt.options import DEVICES, Options

DEFAULT_MODEL = "ens2-exc"  # a family: models/families/ens2-exc.json says which member runs which neuron
_PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


def models_dir() -> Path:
    """Folder of the models shipped inside the package."""
    return Path(str(resources.files("ens2rt") / "models"))


def available_models() -> list[str]:
    """Names of the shipped models (usable as ``model=``)."""
    folder = models_dir()
    if not folder.is_dir():
        return []
    return sorted(path.stem for path in folder.glob("*.onnx"))


def available_families() -> dict[str, list[str]]:
    """Shipped families by name, each with its member models in the order they are tried."""
    folder = models_dir() / FAMILIES_FOLDER
    if not folder.is_dir():
        return {}
    return {path.stem: read_manifest(path).model_names for path in sorted(folder.glob("*.json"))}


def family_manifest(name: str) -> FamilyManifest:
    """The manifest of shipped family ``name``: its members and the neurons each runs."""
    path = models_dir() / FAMILIES_FOLDER / f"{name}.json"
    if not path.is_file():
        families = ", ".join(available_families()) or "none"
        raise ModelError(f"unknown model family {name!r}; shipped families: {families}")
    manifest = read_manifest(path)
    missing = [m for m in manifest.model_names if not (models_dir() / f"{m}.onnx").is_file()]
    if missing:
        raise ModelError(f"family manifest {path} lists {', '.join(missing)}, which is not a shipped model")
    return manifest


def resolve_model_path(model: str | Path) -> Path:
    """Path of a shipped model name, or of an ``.onnx`` file given by path."""
    as_path = Path(model)
    if as_path.suffix == ".onnx":
        if not as_path.is_file():
            raise ModelError(f"model file {as_path} does not exist")
        return as_path
    candidate = models_dir() / f"{model}.onnx"
    if not candidate.is_file():
        known = ", ".join(available_models()) or "none"
        if str(model) in available_families():
            raise ModelError(f"{str(model)!r} is a model family, not one model (load it with ens2rt.ModelFamily.load); shipped models: {known}")
        families = ", ".join(available_families()) or "none"
        raise ModelError(f"unknown model {str(model)!r}; shipped families: {families}; shipped models: {known} "
                         "(or the path of an .onnx file with its card)")  # fmt: skip
    return candidate


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_card(onnx_path: Path) -> dict[str, Any]:
    """The JSON model card beside ``onnx_path``, checked against the file's sha256."""
    card_path = onnx_path.with_suffix(".json")
    if not card_path.is_file():
        raise ModelError(f"model {onnx_path} has no card {card_path.name} beside it")
    try:
        card = json.loads(card_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"model card {card_path} is not valid JSON: {exc}") from exc
    expected = card.get("sha256")
    actual = sha256_of(onnx_path)
    if expected != actual:
        raise ModelError(
            f"model file {onnx_path} does not match its card (sha256 {actual[:12]}…, "
            f"card says {str(expected)[:12]}…): the file is corrupt or was replaced"
        )
    return card


def conflicting_onnxruntimes() -> list[str]:
    """Names of the onnxruntime distributions installed, when more than one is (they clash)."""
    from importlib import metadata

    installed = []
    for name in ("onnxruntime", "onnxruntime-gpu"):
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        installed.append(name)
    return installed if len(installed) > 1 else []


def available_providers() -> list[str]:
    """onnxruntime execution providers this installation offers."""
    return list(ort.get_available_providers())


def _check_provider_options(session: ort.InferenceSession, providers: list[tuple[str, dict]]) -> None:
    """Refuse provider options onnxruntime does not know; warn where it cannot say (it would ignore them)."""
    reported = session.get_provider_options()
    for name, settings in providers:
        if not settings or name not in reported:
            continue
        known = reported[name]
        if known:
            unknown = sorted(set(settings) - set(known))
            if unknown:
                raise InputError(f"{name} has no option {', '.join(map(repr, unknown))}; its options are {', '.join(sorted(known))}")
        else:
            warnings.warn(f"onnxruntime does not list {name}'s options, so ens2rt cannot check "
                          f"{', '.join(f'{k}={v}' for k, v in settings.items())}: an option it does not know is ignored",
                          InputWarning, stacklevel=5)  # fmt: skip


def _requested_providers(device: str, providers: list[tuple[str, dict]] | None = None) -> list:
    """What onnxruntime is asked for: the ``providers`` given (each must be available), else by ``device``."""
    if device not in DEVICES:
        raise InputError(f"device must be one of {', '.join(DEVICES)}, not {device!r}")
    available = available_providers()
    if providers is not None:
        missing = [name for name, _ in providers if name not in available]
        if missing:
            raise ModelError(f"onnxruntime here has no {', '.join(missing)}; it offers {', '.join(available)}")
        return [(name, settings) for name, settings in providers]
    if device == "cuda":
        if _PROVIDERS["cuda"] not in available:
            raise ModelError(
                "device='cuda' needs onnxruntime-gpu with a working CUDA install; "
                f"this onnxruntime offers only {', '.join(available)}"
            )
        return [_PROVIDERS["cuda"], _PROVIDERS["cpu"]]
    if device == "auto" and _PROVIDERS["cuda"] in available:
        return [_PROVIDERS["cuda"], _PROVIDERS["cpu"]]
    return [_PROVIDERS["cpu"]]


@dataclass
class Model:
    """An ONNX model, its card and the onnxruntime session that runs it.

    Load once and pass to :func:`ens2rt.infer` to avoid reloading per call::

        model = ens2rt.Model.load("ens2-exc-native", device="cpu", threads=2)
        res = ens2rt.infer(dff, frame_rate=30.0, model=model)
    """

    name: str
    path: Path
    card: dict[str, Any]
    session: ort.InferenceSession = field(repr=False)
    provider: str
    contract: Contract

    @classmethod
    def load(cls, model: str | Path, device: str = "auto", threads: int | None = None,
             providers: list[str | tuple[str, dict]] | None = None) -> Model:  # fmt: skip
        """Load a shipped model by name or an ``.onnx`` file (with its card) by path.

        ``device``: ``"auto"`` (CUDA when onnxruntime-gpu sees a GPU, else CPU),
        ``"cpu"`` or ``"cuda"``. ``threads``: CPU threads for onnxruntime (default: all).
        ``providers``: onnxruntime execution providers with their options, e.g.
        ``[("CUDAExecutionProvider", {"device_id": 1}), "CPUExecutionProvider"]``; they
        replace what ``device`` would choose.
        """
        chosen = Options(device=device, threads=threads, providers=providers)  # checks all three
        return cls._load(model, chosen.device, chosen.threads, chosen.provider_list())

    @classmethod
    def _load(cls, model: str | Path, device: str, threads: int | None, providers: list[tuple[str, dict]] | None) -> Model:
        path = resolve_model_path(model)
        card = read_card(path)
        contract = Contract.from_card(card, str(path))
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        requested = _requested_providers(device, providers)
        try:
            session = ort.InferenceSession(str(path), sess_options=options, providers=requested)
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(f"onnxruntime cannot load {path}: {exc}") from exc
        provider = session.get_providers()[0]
        if providers is None and device == "cuda" and provider != _PROVIDERS["cuda"]:
            raise ModelError(f"asked for CUDA but onnxruntime fell back to {provider}")
        _check_provider_options(session, providers or [])
        _check_contract(session, path, contract)
        return cls(name=card.get("name", path.stem), path=path, card=card, session=session, provider=provider, contract=contract)

    @property
    def sha256(self) -> str:
        """sha256 of the ``.onnx`` file (checked against the card at load)."""
        return str(self.card["sha256"])

    @property
    def contracts(self) -> tuple[Contract, ...]:
        """Its contract, as a one-element tuple (a family may hold several)."""
        return (self.contract,)

    @property
    def resampler(self) -> str:
        """How its input is brought to 60 Hz unless told otherwise (the contract's)."""
        return self.contract.resampler

    @property
    def noise_level(self) -> float | None:
        """Noise level ν the model was trained at (``None`` if its card does not say)."""
        level = self.card.get("noise_level")
        return None if level is None else float(level)

    @property
    def count_ratio(self) -> tuple[float, float] | None:
        """(q10, q90) of inferred / recorded spikes over held-out neurons of this model's recipe, from its card; None without."""
        ratio = self.card.get("scores", {}).get("count_ratio")
        if not isinstance(ratio, dict) or not all(isinstance(ratio.get(q), (int, float)) and ratio[q] > 0 for q in ("q10", "q90")):
            return None
        return float(ratio["q10"]), float(ratio["q90"])

    @cached_property
    def stream_graph(self) -> StreamGraph | None:
        """The streaming graph the card names (convolutional models; loaded on first use), or None."""
        entry = self.card.get("stream")
        if entry is None:
            return None
        path = self.path.parent / str(entry.get("file", ""))
        if not path.is_file():
            raise ModelError(f"model {self.name}: its streaming graph {path} is missing")
        return StreamGraph.load(path, entry, self.session, sha256_of(path))

    @property
    def input_name(self) -> str:
        return self.session.get_inputs()[0].name

    @stage("onnxruntime")
    def run(self, inputs: np.ndarray) -> np.ndarray:
        """Run the network on float32 (n, 96) windows or (n, time) traces, by kind; spikes per bin, same shape."""
        return self.session.run(None, {self.input_name: inputs})[0]


def _check_contract(session: ort.InferenceSession, path: Path, contract: Contract) -> None:
    """The graph's input and output match what the card's contract says."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelError(f"{path}: expected one input and one output, got {len(inputs)} and {len(outputs)}")
    if contract.windowed:
        if inputs[0].shape[-1] != contract.window or outputs[0].shape[-1] != contract.window:
            raise ModelError(f"{path}: expected (batch, {contract.window}) input and output, got {inputs[0].shape}")
    elif len(inputs[0].shape) != 2 or isinstance(inputs[0].shape[-1], int):
        raise ModelError(f"{path}: a convolutional model takes (batch, time) with a free time axis, got {inputs[0].shape}")
