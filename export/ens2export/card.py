"""Model cards: the JSON beside every ``.onnx`` that says what it is and how it was made."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import onnx
from ens2rt.engine.contract import MIN_INPUT_SCALE, NOISE_LEVEL_PER_STD

from ens2export.onnx_graph import INPUT_NAME, OPSET, OUTPUT_NAME, TRACE_INPUT_NAME, WINDOW, build_model
from ens2export.architecture import ALIGNMENT, architecture_reach
from ens2export.weights import n_parameters

CITATIONS = [
    "Zhou Z., Yip H.M., Tsimring K., Sur M., Ip J.P.K., Tong C.K.: Effective and efficient neural "
    "networks for spike inference from in vivo calcium imaging. Cell Reports Methods 3, 100462 (2023); "
    "bioRxiv 2021.08.30.458217.",
    "Rupprecht P., Carta S., Hoffmann A., et al.: A database and deep learning toolbox for noise-optimized, "
    "generalized spike inference from calcium imaging. Nature Neuroscience 24, 1324-1337 (2021).",
]

CONTRACT: dict[str, Any] = {
    "kind": "windowed",
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

NOISE_STD_SCALING = (
    f"divide the trace by its noise std at the native frame rate: s = nu * sqrt(frame_rate) / {NOISE_LEVEL_PER_STD:.2f} "
    f"(floored at {MIN_INPUT_SCALE:g}), nu = median(|dF/F(t+1) - dF/F(t)|) * 100 / sqrt(frame_rate) over the native-rate "
    "trace (for white noise s is its std); a stream takes nu from a baseline recording"
)

# the rule's constants as numbers, for hosts in other languages
NOISE_STD_FIELDS = {"rule": NOISE_STD_SCALING, "noise_level_per_std": NOISE_LEVEL_PER_STD, "min_scale": MIN_INPUT_SCALE}


def convolutional_contract(reach: tuple[int, int], input_scaling: str, resampler: str = "sinc") -> dict[str, Any]:
    """The contract of a convolutional model whose outputs read ``reach`` = (left, right) samples around them."""
    left, right = (-(-r // ALIGNMENT) * ALIGNMENT for r in reach)
    return {
        "kind": "convolutional",
        "sample_rate_hz": 60.0,
        "resampler": resampler,
        "alignment": ALIGNMENT,
        "reach": {"left": reach[0], "right": reach[1]},
        "context": {"left": left, "right": right},
        "input_scaling": {"kind": input_scaling, **(NOISE_STD_FIELDS if input_scaling == "noise_std" else {})},
        "input": {
            "name": TRACE_INPUT_NAME,
            "shape": ["batch", "time"],
            "dtype": "float32",
            "units": "dF/F as a fraction resampled to 60 Hz, then scaled as input_scaling says; time divisible by alignment",
        },
        "output": {
            "name": OUTPUT_NAME,
            "shape": ["batch", "time"],
            "dtype": "float32",
            "units": "inferred spikes per 60 Hz bin (non-negative), one per input sample",
        },
        "padding": "zeros outside the trace",
        "pieces": (
            "output samples [a, b) with a, b multiples of alignment, counted from the trace's first sample, come from one "
            "run over input samples [a - context.left, b + context.right) (zeros outside the trace); every such piece "
            "gives the same numbers, so a trace may be run whole (a = 0) or in pieces"
        ),
        "streaming": "output sample t is final once input sample t + reach.right exists (run a piece that ends past it, zeros beyond)",
    }


def runtime_resampler(training_resampler: str) -> str:
    """The runtime resampler that matches a training resampler: Fourier-trained models run on sinc."""
    return "sinc" if training_resampler == "fourier" else training_resampler


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
    kind: str = "windowed",
    input_scaling: str = "none",
    output_delay: int = 0,
    resampler: str = "sinc",
) -> dict[str, Any]:
    """Write ``out`` (.onnx) and its card ``out.with_suffix('.json')``; return the card.

    ``family`` and ``noise_level`` make the model a member of a noise-matched family
    (the runtime picks per neuron the member whose ``noise_level`` is nearest).
    ``kind``/``input_scaling``: see :mod:`ens2export.weights` and the contract.
    ``output_delay`` (convolutional): the graph delays its output by this many samples,
    trading right reach for left (a low-latency model, trained for it); ``resampler``:
    the one its training data went through (``"fourier"`` training runs with ``"sinc"``).
    """
    if family is not None and noise_level is None:
        raise ValueError(f"a member of family {family!r} needs the noise level it was trained at")
    if kind == "windowed":
        contract = CONTRACT
    else:  # the reach follows from the architecture (and the delay); tests measure it on the graph itself
        left, right = architecture_reach()
        contract = convolutional_contract((left + output_delay, right - output_delay), input_scaling, resampler)
    metadata = {
        "name": name,
        "cell_class": cell_class,
        "contract": json.dumps(contract, sort_keys=True),
        "citation": CITATIONS[0],
    }
    model = build_model(weights, metadata, kind, output_delay=output_delay)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(out))
    card = {
        "name": name,
        "description": description,
        "cell_class": cell_class,
        "published": published,
        **({} if family is None else {"family": family}),
        **({} if noise_level is None else {"noise_level": noise_level}),
        "architecture": {"name": "ENS2 U-Net, 1-D" + ("" if kind == "windowed" else ", BatchNorm (folded), whole-trace"),
                         "parameters": n_parameters(weights)},  # fmt: skip
        "training": training,
        "contract": contract,
        "onnx": {"file": out.name, "opset": OPSET},
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        "citations": CITATIONS,
        "scores": {},
    }
    out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    return card
