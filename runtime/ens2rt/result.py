"""What every entry point returns: one schema for results and their provenance.

:class:`InferenceResult` is the offline result; a stream's :class:`~ens2rt.StreamOutput`
is a slice of it in time, and :class:`ens2rt.dask.DaskResult` the same fields as lazy
arrays. All three carry ``settings`` made by :func:`run_settings`, the one place
provenance is written (every output format stores it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ens2rt.engine.contract import Contract
from ens2rt.options import Options


@dataclass(frozen=True)
class InferenceResult:
    """What :func:`infer` returns. Times are seconds, 0 = the first input frame.

    ``rate`` and ``spike_counts`` are NaN where the input had gaps.
    """

    rate: np.ndarray  #: (n_neurons, n_out) float32, inferred spikes per 60 Hz bin
    time: np.ndarray  #: (n_out,) float64, time of each output bin
    spike_counts: np.ndarray | None  #: (n_neurons, n_out) float32 discrete spikes per bin
    spike_times: list[np.ndarray] | None  #: per neuron, float64 spike times
    noise_level: np.ndarray  #: (n_neurons,) ENS²/CASCADE noise level of the input
    model: str  #: name of the model or model family asked for
    neuron_model: np.ndarray  #: (n_neurons,) str, the model that ran on each neuron
    model_sha256: dict[str, str]  #: sha256 of the ONNX file of each model that ran, by name
    settings: dict[str, Any] = field(default_factory=dict)  #: everything needed to redo the run
    spike_total_interval: np.ndarray | None = None  #: (n_neurons, 2) the recorded total likely lies in, from held-out counts (NaN: none)
    calibration_unit: np.ndarray | None = None  #: (n_neurons,) with calibrate="quantal": each neuron's unit u (NaN: no fit)
    calibration_applied: np.ndarray | None = None  #: (n_neurons,) bool, whether the rate was divided by u (a decisive fit)


def provenance_json(settings: dict[str, Any], *more: dict[str, Any] | None) -> str:
    """The one encoding of provenance every writer stores: ``settings`` (and ``more`` entries on top) as sorted JSON.

    ``.npz``, ``.mat`` and ``.h5`` results store it as ``settings``, a zarr store as its
    ``settings`` attribute, an NWB copy in its series' description.
    """
    merged: dict[str, Any] = dict(settings)
    for extra in more:
        merged.update(extra or {})
    return json.dumps(merged, sort_keys=True)


def run_settings(options: Options, contracts: tuple[Contract, ...], *, frame_rate: float, resampler: str, provider: str,
                 noise_level: float | np.ndarray | None = None, warnings: list[str] | None = None,
                 conditioning: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    """How a run was made, JSON-able: the options as given, and what they resolved to.

    ``contracts``: of the model, or of every member of a family. ``model_kind`` is their
    kind (kinds joined by ``+`` for a family of mixed kinds); ``hop`` is ``None`` when
    no model is windowed (a convolutional model has no windows); ``resampler`` is
    the one used (the options' or the model's own); ``noise_level_given`` the noise
    level passed in, if any (the estimates from the traces are ``result.noise_level``);
    ``conditioning`` what the entry point checked and how it treated gaps (offline, a
    stream and dask differ where a stream cannot see the future or dask whole traces).
    """
    record = {
        "options": options.as_dict(),
        "frame_rate": float(frame_rate),
        "model_kind": "+".join(dict.fromkeys(c.kind for c in contracts)),
        "hop": int(options.hop) if any(c.windowed for c in contracts) else None,
        "resampler": resampler,
        "provider": provider,
        "batch_size": int(options.batch_size),
        "spikes": bool(options.spikes),
        "spike_fit": options.spike_fit,
        "percent": bool(options.percent),
        "input_checks": bool(options.input_checks),
        "empty_neurons": options.empty_neurons,
        "conditioning": dict(conditioning or {}),
        "warnings": list(warnings or []),
    }
    if noise_level is not None:
        record["noise_level_given"] = np.asarray(noise_level, dtype=float).tolist()
    return record


def count_ratios(models: Sequence[Any], index: np.ndarray) -> np.ndarray:
    """(n_neurons, 2): the (q10, q90) of inferred / recorded spikes over held-out neurons of each neuron's model
    (``models[index]``, from its card's ``count_ratio``), NaN where the card has none."""
    per_model = np.array([m.count_ratio or (np.nan, np.nan) for m in models], dtype=float).reshape(-1, 2)  # each card read once
    return per_model[np.asarray(index, dtype=np.int64)]


def spike_total_interval(totals: np.ndarray, ratios: np.ndarray) -> np.ndarray:
    """(n_neurons, 2): where each neuron's recorded spike total lies for 80 % of held-out neurons of its model,
    [N / q90, N / q10] from each neuron's (q10, q90) of inferred / recorded spikes (``ratios``, (n_neurons, 2),
    NaN where its model has none)."""
    return (np.asarray(totals, dtype=float)[:, None] / np.asarray(ratios, dtype=float)[:, ::-1]).astype(np.float32)
