"""What the benchmarks share: dataset lists, ENS²'s reported scores, scoring a model on ground truth."""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import lru_cache
from dataclasses import dataclass
from pathlib import Path

import ens2rt
import numpy as np
from ens2export.groundtruth import Neuron
from ens2rt.scoring import true_rate_at_60hz, score_neuron
from ens2rt.engine.resample import DEFAULT_RESAMPLER

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ENS2_SHARED", REPO.parent / "shared"))  # as the tests find it
GROUND_TRUTH = SHARED / "ground_truth"
RESULTS = REPO / "benchmarks" / "results"
CACHE = REPO / "benchmarks" / "cache"  # trained leave-one-out models: regenerable, not committed
RUNS = CACHE / "runs" / "published"  # leave-one-out runs of the published recipe

EXCITATORY = [f"DS{i:02d}" for i in range(1, 22)] + ["DS29", "DS31"]
# datasets with files CASCADE corrected in 2025 (an alignment error, upstream issue #76; ../shared/docs/DATA.md):
# scores made on the earlier copies are not comparable with new ones, so records carry the files' fingerprint
CORRECTED = {"DS09": "cell1", "DS21": "V1_3 and V1_9"}
INHIBITORY = [f"DS{i:02d}" for i in range(22, 28)]
# Median correlation per held-out dataset, from the ENS² paper's own leave-one-dataset-out run.
ENS2_REPORTED = {
    "DS02": 0.579, "DS03": 0.368, "DS04": 0.585, "DS05": 0.589, "DS06": 0.688, "DS07": 0.636,
    "DS08": 0.678, "DS09": 0.752, "DS10": 0.897, "DS11": 0.790, "DS12": 0.890, "DS13": 0.821,
    "DS14": 0.775, "DS15": 0.559, "DS16": 0.600, "DS17": 0.816, "DS18": 0.807, "DS19": 0.711,
    "DS20": 0.705, "DS21": 0.638,
}  # fmt: skip


@dataclass(frozen=True)
class Prediction:
    """A neuron's trials, inferred one by one and concatenated on the 60 Hz grid."""

    rate: np.ndarray
    true_rate: np.ndarray
    spike_times: np.ndarray | None
    true_spike_times: np.ndarray


@lru_cache(maxsize=None)
def ground_truth_fingerprint(folder: Path) -> str:
    """sha256 over a dataset folder's .mat files (names and bytes): which copy of the ground truth a score used
    (read once per process: tables ask for it per row)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.mat")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ground_truth_copy(key: str, sha256: str | None, ground_truth: Path = GROUND_TRUTH) -> str:
    """For a dataset CASCADE corrected: whether a score with this fingerprint used the corrected files here, the earlier copies, or unknown."""
    from ens2export.groundtruth import find_datasets

    folder = find_datasets(ground_truth, include=[key]).get(key) if ground_truth.is_dir() else None
    if folder is None:
        return "unknown"
    return "corrected" if sha256 == ground_truth_fingerprint(folder) else "earlier copies"


GROUND_TRUTH_MARKS = {"corrected": "†", "earlier copies": "‡", "unknown": "?"}


def copy_mark(key: str, record: dict) -> str:
    """† or ‡ after a dataset CASCADE corrected: which copy of its ground truth a record (with ``ground_truth_sha256``) used."""
    return GROUND_TRUTH_MARKS[ground_truth_copy(key, record.get("ground_truth_sha256"))] if key in CORRECTED else ""


def copies_used(records: Iterable[tuple[str, dict]]) -> set[str]:
    """Which copies of their ground truth the (dataset, record with ``ground_truth_sha256``) pairs of corrected datasets used."""
    return {ground_truth_copy(key, record.get("ground_truth_sha256")) for key, record in records if key in CORRECTED}


def ground_truth_note(copies: set[str]) -> list[str]:
    """A line under a table with rows of corrected datasets, saying which copy each mark means."""
    if not copies:
        return []
    meaning = {"corrected": "scored on CASCADE's 2025 correction of an alignment error (" + ", ".join(f"{k} {v}" for k, v in CORRECTED.items())
               + "; ../shared/docs/DATA.md); fold models trained before 2026-12-07 had the earlier copies among their training data",
               "earlier copies": "scored on the earlier copies of those files, not comparable with scores on the corrected ones",
               "unknown": "ground truth not found here, copy unknown"}  # fmt: skip
    return ["", " ".join(f"{GROUND_TRUTH_MARKS[c]} {meaning[c]}." for c in sorted(copies))]


def point_sampled(dff: np.ndarray, rate: float, target: float) -> np.ndarray:
    """A trace as if imaged at ``target`` Hz: frame k is the trace at k / ``target`` s (a scanning microscope
    visits a neuron briefly each frame, so a frame keeps its noise)."""
    n = int((dff.size - 1) * target / rate) + 1
    return np.interp(np.arange(n) / target, np.arange(dff.size) / rate, dff)


def predict_neuron(neuron: Neuron, model: ens2rt.Model | ens2rt.ModelFamily, hop: int, spikes: bool = True, resampler: str = DEFAULT_RESAMPLER,
                   frame_rate: float | None = None) -> Prediction:  # fmt: skip
    """Run ``ens2rt.infer`` on every trial of ``neuron``; times continue across trials.

    ``frame_rate``: point-sample each trial faster than it to this rate first (:func:`point_sampled`).
    """
    rates, truths, inferred, true_spikes = [], [], [], []
    offset = 0.0
    for trial in neuron.trials:
        dff, rate = trial.dff, trial.frame_rate
        if frame_rate is not None and frame_rate < rate:
            dff, rate = point_sampled(dff, rate, frame_rate), frame_rate
        if dff.size * 60.0 / rate < 96:
            continue  # shorter than one window
        result = ens2rt.infer(dff, rate, model=model, hop=hop, spikes=spikes, resampler=resampler)
        n_out = result.time.size
        rates.append(result.rate[0])
        truths.append(true_rate_at_60hz(trial.spike_times, n_out))
        true_spikes.append(trial.spike_times[(trial.spike_times >= -0.5 / 60) & (trial.spike_times < n_out / 60)] + offset)
        if spikes:
            inferred.append(result.spike_times[0] + offset)
        offset += n_out / 60.0
    return Prediction(
        rate=np.concatenate(rates),
        true_rate=np.concatenate(truths),
        spike_times=np.concatenate(inferred) if spikes else None,
        true_spike_times=np.concatenate(true_spikes),
    )


def score_prediction(prediction: Prediction) -> dict[str, float]:
    return score_neuron(prediction.rate, prediction.true_rate, prediction.spike_times, prediction.true_spike_times)


def median(values) -> float:
    values = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    return float(np.median(values)) if values.size else float("nan")


def report(text: str, out: Path | None) -> None:
    """Print a benchmark's table, and write it to ``out`` when given."""
    print(text)
    if out is not None:
        out.write_text(text)


def put_scores_in_card(card_path: Path, entries: dict, drop: tuple[str, ...] = ()) -> None:
    """Merge ``entries`` into the ``scores`` of a shipped model's card, keeping other benchmarks' entries
    (less those named in ``drop``: entries that no longer describe the model).

    Only the card's ``scores`` change, so its sha256 of the .onnx stays valid. The card is
    replaced in one rename, never left half-written.
    """
    import json

    from ens2export.card import write_card

    card = json.loads(card_path.read_text())
    card["scores"] = {**{key: value for key, value in card.get("scores", {}).items() if key not in drop}, **entries}
    write_card(card_path, card)


def export_trained_run(folder: Path | list[Path], out: Path, *, name: str, cell_class: str, description: str, stream_graph: bool = False,
                       **card) -> Path:  # fmt: skip
    """Write ``out`` (.onnx and card) from the training run in ``folder`` unless it exists; return ``out``.

    ``folder``: one run, or several (seeds of one recipe: one model that averages their
    rates). The (first) run's own settings say how its model runs (kind, input scaling,
    reach …); ``card``: further :func:`ens2export.card.write_model` fields
    (``noise_level``).
    """
    import json

    from ens2export.card import write_model
    from ens2export.train import TrainSettings

    if not out.is_file():
        folders = [folder] if isinstance(folder, Path) else list(folder)
        info = json.loads((folders[0] / "run.json").read_text())
        weights = []
        for member in folders:
            with np.load(member / "weights.npz") as archive:
                weights.append({key: archive[key] for key in archive.files})
        settings = TrainSettings.from_dict(info["settings"])
        write_model(weights, out, name=name, cell_class=cell_class, description=description,
                    training=info, **settings.export_fields(stream_graph), **card)  # fmt: skip
    return out


def rate_scale(biases: list[float]) -> float:
    """The factor c on the rate that minimises the median |bias| of datasets with these median biases.

    CASCADE's bias of a non-negative rate is sum(rate) / sum(truth) − 1, so scaling the rate
    by c turns a dataset's median bias B into c (1 + B) − 1; c is found on a 0.01 grid.
    """
    ratios = 1.0 + np.asarray(biases)
    grid = np.round(np.arange(0.2, 3.0, 0.01), 2)
    return float(grid[np.argmin([np.median(np.abs(c * ratios - 1.0)) for c in grid])])


def noise_rate_scale(biases: list[float], levels: list[float]) -> tuple[float, float]:
    """The rate scale c · ν^slope (ν: a dataset's typical noise level) that minimises the median |bias|.

    As :func:`rate_scale`, with the factor allowed to follow ν; the slope is found on a
    0.05 grid from −2 to 2 and c, for each slope, by :func:`rate_scale`.
    """
    ratios, levels = 1.0 + np.asarray(biases), np.asarray(levels, dtype=float)
    best = (np.inf, 1.0, 0.0)
    for slope in np.round(np.arange(-2.0, 2.0001, 0.05), 2):
        tilt = levels**slope
        factor = rate_scale(list(ratios * tilt - 1.0))
        best = min(best, (float(np.median(np.abs(factor * tilt * ratios - 1.0))), factor, float(slope)))
    return best[1], best[2]
