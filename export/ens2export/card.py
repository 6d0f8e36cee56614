"""Model cards: the JSON beside every ``.onnx`` that says what it is and how it was made."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import onnx

from ens2export.onnx_graph import INPUT_NAME, OPSET, OUTPUT_NAME, WINDOW, build_model
from ens2export.weights import n_parameters

CITATIONS = [
    "Zhou Z., Yip H.M., Tsimring K., Sur M., Ip J.P.K., Tong C.K.: Effective and efficient neural "
    "networks for spike inference from in vivo calcium imaging. Cell Reports Methods 3, 100462 (2023); "
    "bioRxiv 2021.08.30.458217.",
    "Rupprecht P., Carta S., Hoffmann A., et al.: A database and deep learning toolbox for noise-optimized, "
    "generalized spike inference from calcium imaging. Nature Neuroscience 24, 1324-1337 (2021).",
]

CONTRACT: dict[str, Any] = {
    "sample_rate_hz": 60.0,
    "window": WINDOW,
    "input": {
        "name": INPUT_NAME,
        "shape": ["batch", WINDOW],
        "dtype": "float32",
        "units": "raw dF/F as a fraction (0.3 = 30 %), not normalised, resampled to 60 Hz",
    },
    "output": {
        "name": OUTPUT_NAME,
        "shape": ["batch", WINDOW],
        "dtype": "float32",
        "units": "inferred spikes per 60 Hz bin (non-negative)",
    },
    "padding": "48 zeros before the first and after the last 60 Hz sample",
    "windows": "start at padded indices 0, hop, 2*hop, ... ... while below n_samples (window k covers samples k*hop-48 ... k*hop+47)",
    "overlap_add": "each sample's rate is the mean of the outputs of all windows covering it",
}


def write_model(
    weights: dict,
    out: Path,
    *,
    name: str,
    cell_class: str,
    description: str,
    training: dict[str, Any],
    published: bool = False,
    family: str | None = None,
    noise_level: float | None = None,
) -> dict[str, Any]:
    """Write ``out`` (.onnx) and its card ``out.with_suffix('.json')``; return the card.

    ``family`` and ``noise_level`` make the model a member of a noise-matched family
    (the runtime picks per neuron the member whose ``noise_level`` is nearest).
    """
    if family is not None and noise_level is None:
        raise ValueError(f"a member of family {family!r} needs the noise level it was trained at")
    metadata = {
        "name": name,
        "cell_class": cell_class,
        "contract": json.dumps(CONTRACT, sort_keys=True),
        "citation": CITATIONS[0],
    }
    model = build_model(weights, metadata)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(out))
    card = {
        "name": name,
        "description": description,
        "cell_class": cell_class,
        "published": published,
        **({} if family is None else {"family": family}),
        **({} if noise_level is None else {"noise_level": noise_level}),
        "architecture": {"name": "ENS2 U-Net, 1-D", "parameters": n_parameters(weights)},
        "training": training,
        "contract": CONTRACT,
        "onnx": {"file": out.name, "opset": OPSET},
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        "citations": CITATIONS,
        "scores": {},
    }
    out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    return card
