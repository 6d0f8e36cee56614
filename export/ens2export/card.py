"""Model cards: the JSON beside every ``.onnx`` that says what it is and how it was made."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import onnx
from ens2rt.formats.files import atomic_output
from ens2rt.engine.contract import MIN_INPUT_SCALE, NOISE_LEVEL_PER_STD

from ens2export.onnx_graph import INPUT_NAME, OPSET, OUTPUT_NAME, TRACE_INPUT_NAME, WINDOW, build_model
from ens2export.stream_graph import OUT_SUFFIX, POSITION_NAME, POSITION_OUT_NAME, STATE_PREFIX, WARMUP, build_stream_model
from ens2export.architecture import ALIGNMENT, Network
from ens2export.ensemble import average_models
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


STREAM_FOLDER = "stream"  #: a model's streaming graph: stream/<model file name>, beside the model


def stream_contract(contract: dict[str, Any], states: list[tuple[str, int, int]]) -> dict[str, Any]:
    """How a host runs the streaming graph (``states``: name, samples, channels) of a convolutional model with ``contract``."""
    lag = contract["reach"]["right"]
    return {
        "lag": lag,
        "warmup": WARMUP,
        "states": [{"name": name, "shape": [samples, "batch", channels]} for name, samples, channels in states],
        "inputs": f"{TRACE_INPUT_NAME} (batch, n) float32: new 60 Hz samples (any n >= 0, scaled as input_scaling says); "
                  f"{POSITION_NAME} (1,) int64; every state (its shape, float32)",
        "outputs": f"{OUTPUT_NAME} (batch, n): the rate of samples position - lag ... position + n - lag - 1; "
                   f"{POSITION_OUT_NAME} and <state>{OUT_SUFFIX}, fed back as {POSITION_NAME} and <state> at the next call",
        "start": f"zero states and {POSITION_NAME} = -warmup; push warmup zeros and drop their output (the silence before "
                 "the recording); then the first lag outputs precede sample 0: drop them too",
        "end": "push lag zeros to receive the rate of the recording's last lag samples",
    }  # fmt: skip


def write_stream_graph(weights: dict | list[dict], out: Path, name: str, contract: dict[str, Any]) -> dict[str, Any]:
    """Write the streaming graph of convolutional model ``out`` to ``stream/<out.name>``; return its card entry.

    ``weights``: one network's, or a list (a seed ensemble: the members' graphs averaged).
    """
    path = out.parent / STREAM_FOLDER / out.name
    path.parent.mkdir(parents=True, exist_ok=True)
    members = as_members(weights)
    model = build_stream_model(members[0], {}) if len(members) == 1 else average_models([build_stream_model(w, {}) for w in members], {})
    states = [(i.name, i.type.tensor_type.shape.dim[0].dim_value, i.type.tensor_type.shape.dim[2].dim_value)
              for i in model.graph.input if i.name.startswith(STATE_PREFIX)]  # fmt: skip
    stream = stream_contract(contract, states)
    metadata = {"name": f"{name} (streaming graph)", "contract": json.dumps({**contract, "stream": stream}, sort_keys=True), "citation": CITATIONS[0]}
    onnx.helper.set_model_props(model, metadata)
    onnx.save_model(model, str(path))
    return {"file": f"{STREAM_FOLDER}/{out.name}", "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), **stream}


def runtime_resampler(training_resampler: str) -> str:
    """The runtime resampler that matches a training resampler: Fourier-trained models run on sinc."""
    return "sinc" if training_resampler == "fourier" else training_resampler


def as_members(weights: dict | list[dict]) -> list[dict]:
    """The weights of each member: one network's weights, or a seed ensemble's list of them."""
    members = [weights] if isinstance(weights, dict) else list(weights)
    if not members:
        raise ValueError("no weights: pass one network's weights or a list of members")
    return members


def write_model(
    weights: dict | list[dict],
    out: Path,
    *,
    name: str,
    cell_class: str,
    description: str,
    training: dict[str, Any],
    published: bool = False,
    noise_level: float | None = None,
    network: Network = Network(),
    input_scaling: str = "none",
    output_delay: int = 0,
    resampler: str = "sinc",
    stream_graph: bool = True,
) -> dict[str, Any]:
    """Write ``out`` (.onnx) and its card ``out.with_suffix('.json')``; return the card.

    ``weights``: one network's, or a list of several networks' trained alike (a seed
    ensemble): the model then runs every member and averages their rates
    (:mod:`ens2export.ensemble`), in its whole-trace and its streaming graph.
    ``noise_level``: the ν it was trained at, by which a family listing it by name picks
    it (:mod:`ens2rt.catalog.manifest`; ``ens2export join-family`` adds it to one).
    ``network``: which variant of the U-Net (:class:`ens2export.architecture.Network`);
    ``input_scaling``: see the contract. ``output_delay`` (convolutional): the graph delays
    its output by this many samples, trading right reach for left (a low-latency model,
    trained for it); ``resampler``: the one its training data went through (``"fourier"``
    training runs with ``"sinc"``). ``stream_graph`` (convolutional): also write its
    streaming graph (:func:`write_stream_graph`), which ``ens2rt.Stream`` runs; only the
    plain convolutional network has one (a stream runs the others piece by piece).
    """
    kind = network.kind
    if stream_graph and kind == "convolutional" and not network.has_stream_graph:
        raise ValueError("the streaming graph covers only the plain BatchNorm network (no local z-score channel, dilation, sliding norm or local-mean baseline);"
                         " pass stream_graph=False")  # fmt: skip
    if kind == "windowed":
        contract = CONTRACT
    else:  # the reach follows from the architecture (and the delay); tests measure it on the graph itself
        left, right = network.reach()
        contract = convolutional_contract((left + output_delay, right - output_delay), input_scaling, resampler)
    metadata = {
        "name": name,
        "cell_class": cell_class,
        "contract": json.dumps(contract, sort_keys=True),
        "citation": CITATIONS[0],
    }
    members = as_members(weights)
    if len(members) == 1:
        model = build_model(members[0], metadata, network, output_delay=output_delay)
    else:
        model = average_models([build_model(w, metadata, network, output_delay=output_delay) for w in members], metadata)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(out))
    card = {
        "name": name,
        "description": description,
        "cell_class": cell_class,
        "published": published,
        **({} if noise_level is None else {"noise_level": noise_level}),
        "architecture": {"name": network.description() + ("" if len(members) == 1 else f", {len(members)} members, rates averaged"),
                         "parameters": sum(n_parameters(w) for w in members), **({} if len(members) == 1 else {"members": len(members)})},
        "training": training,
        "contract": contract,
        "onnx": {"file": out.name, "opset": OPSET},
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        **({"stream": write_stream_graph(weights, out, name, contract)} if kind == "convolutional" and stream_graph else {}),
        "citations": CITATIONS,
        "scores": {},
    }
    write_card(out.with_suffix(".json"), card)
    return card


def write_card(card_path: Path, card: dict) -> None:
    """Write a model card as JSON, replacing ``card_path`` in one rename (never half-written)."""
    with atomic_output(card_path) as partial:
        partial.write_text(json.dumps(card, indent=2) + "\n")
