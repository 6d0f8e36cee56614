"""The model contract: what a model's card says about how it must be run.

Every card carries a ``contract`` (also stored in the ONNX file's metadata, for hosts
in other languages: ``docs/onnx-contract.md``). The runtime reads it instead of
assuming constants, and refuses a model whose contract it does not know. Two kinds:

- ``"windowed"`` (the published ENS² network): (batch, 96) windows of raw ΔF/F at
  60 Hz, slid over the zero-padded trace and overlap-added (:mod:`ens2rt.engine.windows`).
- ``"convolutional"``: (batch, time) whole traces at 60 Hz, optionally divided by the
  trace's noise std; the output at a sample reads ``reach`` samples to each side, and
  a trace may be run whole or in pieces aligned to ``alignment`` with ``context``
  samples beyond each piece, with the same numbers. A low-latency model reads few
  samples to the right (``reach.right``, its lookahead) and many to the left.

Either kind may name the resampler it was trained with (``resampler``: ``"sinc"`` when
absent); the runtime uses it unless told otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ens2rt.errors import ModelError

KINDS = ("windowed", "convolutional")
INPUT_SCALINGS = ("none", "noise_std")
CONTRACT_RESAMPLERS = ("sinc", "linear")
SAMPLE_RATE_HZ = 60.0
WINDOW = 96
# ν of white noise of std 1 (ΔF/F) at 1 Hz: median |N(0, 2)| · 100; at fs Hz, ν = std · this / √fs.
NOISE_LEVEL_PER_STD = 100.0 * math.sqrt(2.0) * 0.6744897501960817
MIN_INPUT_SCALE = 1e-3


@dataclass(frozen=True)
class Contract:
    """How a model runs: its kind, sample rate and resampler, and for convolutional models reach, context and input scaling."""

    kind: str
    sample_rate_hz: float = SAMPLE_RATE_HZ
    window: int = WINDOW  #: windowed: samples per window
    alignment: int = 1  #: convolutional: pieces start and end at multiples of this
    context_left: int = 0  #: convolutional: input samples a piece reads before its first output
    context_right: int = 0  #: … and after its last
    input_scaling: str = "none"
    reach_left: int = 0  #: convolutional: input samples before an output that it reads (≤ context_left)
    reach_right: int = 0  #: … and after it: what a stream waits for
    resampler: str = "sinc"  #: how frames are brought to sample_rate_hz

    @classmethod
    def from_card(cls, card: dict[str, Any], where: str) -> Contract:
        """The contract of a model card; cards without a ``kind`` predate it and are windowed."""
        raw = card.get("contract")
        if not isinstance(raw, dict):
            raise ModelError(f"{where}: the model card has no contract")
        kind = raw.get("kind", "windowed")
        if kind not in KINDS:
            raise ModelError(f"{where}: model kind {kind!r} is unknown to this ens2rt (it runs {', '.join(KINDS)}); upgrade ens2-runtime")
        rate = float(raw.get("sample_rate_hz", SAMPLE_RATE_HZ))
        if rate != SAMPLE_RATE_HZ:
            raise ModelError(f"{where}: the model runs at {rate:g} Hz; this ens2rt resamples to {SAMPLE_RATE_HZ:g} Hz only")
        resampler = raw.get("resampler", "sinc")
        if resampler not in CONTRACT_RESAMPLERS:
            raise ModelError(f"{where}: resampler {resampler!r} is unknown to this ens2rt ({', '.join(CONTRACT_RESAMPLERS)})")
        if kind == "windowed":
            window = int(raw.get("window", WINDOW))
            if window != WINDOW:
                raise ModelError(f"{where}: windowed models take {WINDOW}-sample windows, its contract says {window}")
            return cls(kind=kind, resampler=resampler)
        try:
            scaling = raw["input_scaling"]["kind"]
            left, right = int(raw["context"]["left"]), int(raw["context"]["right"])
            reach = raw.get("reach", {"left": left, "right": right})  # without a reach, the context bounds it
            contract = cls(kind=kind, alignment=int(raw["alignment"]), context_left=left, context_right=right, input_scaling=scaling,
                           reach_left=int(reach["left"]), reach_right=int(reach["right"]), resampler=resampler)  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{where}: incomplete convolutional contract ({exc!r} missing or malformed)") from exc
        if scaling not in INPUT_SCALINGS:
            raise ModelError(f"{where}: input scaling {scaling!r} is unknown to this ens2rt ({', '.join(INPUT_SCALINGS)})")
        if contract.alignment < 1 or contract.context_left % contract.alignment or contract.context_right % contract.alignment:
            raise ModelError(f"{where}: context must be a multiple of the alignment ({contract})")
        if not (0 <= contract.reach_left <= left and 0 <= contract.reach_right <= right):
            raise ModelError(f"{where}: the reach must lie within the context ({contract})")
        return contract

    @property
    def windowed(self) -> bool:
        """Whether the model runs on 96-sample windows, overlap-added (else once over whole traces, in pieces).

        The one place a kind is compared: everything else asks the contract.
        """
        return self.kind == "windowed"

    @property
    def same_runs(self) -> tuple:
        """What models must share to run in one batch (members of one family)."""
        return (self.kind, self.alignment, self.context_left, self.context_right, self.input_scaling, self.reach_right, self.resampler)

    def input_scale(self, noise_levels: np.ndarray, frame_rate: float) -> np.ndarray:
        """What each trace is divided by before the network: 1, or its noise std at the native rate."""
        if self.input_scaling == "none":
            return np.ones(np.shape(noise_levels))
        return noise_std(noise_levels, frame_rate)


def noise_std(noise_levels: np.ndarray, frame_rates: np.ndarray | float) -> np.ndarray:
    """The ``"noise_std"`` input scale: ν·√fs / 95.39 (white noise's std at ν), floored at 1e-3."""
    scale = np.asarray(noise_levels, dtype=float) * np.sqrt(np.asarray(frame_rates, dtype=float)) / NOISE_LEVEL_PER_STD
    return np.maximum(np.nan_to_num(scale, nan=MIN_INPUT_SCALE), MIN_INPUT_SCALE)
