"""Inference-time probes: ways to run a trained model differently, scored on the validation folds.

Nothing here trains. Each probe takes a finished run of ``research/recipe.py`` (trained
on three folds) and scores its held-out fold under several inference settings, so a
setting is chosen on validation data like every recipe choice, never on the reporting
tables. The settings probed here are not runtime options; each probe swaps one engine
step for the duration of the command (:func:`swapped`), and a setting that wins would
become a runtime option before anything ships with it.

    python -m research.probes overlap-weights D     # windowed: tapered overlap-add at large hops
    python -m research.probes phase-ensemble C      # convolutional: average over pooling phases
    python -m research.probes output-smoothing C    # convolutional: a Gaussian over the output
    python -m research.probes output-shift D        # any model: its rate moved earlier or later
    python -m research.probes rate-blur B           # any model: its rate blurred by a Gaussian
    python -m research.probes event-scale B         # any model: can a trace's own events calibrate its count?
    python -m research.probes rate-floor B          # any model: a constant taken off its rate (noise counted as spikes)
    python -m research.probes table                 # research/results/probes.md

One JSON per probe lands in ``research/results/probes/``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from benchmarks.common import median
from ens2rt.engine.spikes import SIGMA_SAMPLES, THRESHOLD

RESULTS = Path(__file__).resolve().parent / "results"

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
os.environ.setdefault("OMP_NUM_THREADS", "1")  # probes score on one thread, beside training elsewhere
OUT = RESULTS / "probes"
WINDOW = 96
#: overlap-add weight of each of a window's 96 outputs: uniform is the published rule;
#: hann (sin², sums to one at hop 48) trusts a window's centre over its edges
OVERLAP_WEIGHTS = {"uniform": np.ones(WINDOW), "hann": np.sin(np.pi * (np.arange(WINDOW) + 0.5) / WINDOW) ** 2}
OVERLAP_SETTINGS = ((6, "uniform"), (48, "uniform"), (48, "hann"), (32, "hann"), (24, "hann"), (16, "hann"))
PHASE_SETS = {"1": (0,), "2": (0, 4), "4": (0, 2, 4, 6), "8": tuple(range(8))}
SMOOTHING_SIGMAS = (0.0, 1.0, 2.0, 3.0)  # 60 Hz samples
SHIFTS = (-2, -1, 0, 1, 2)  # 60 Hz samples; positive: the rate moved later
BLUR_SIGMAS = (0.0, 0.5, 1.0, 1.5, 2.0)  # 60 Hz samples
EVENT_THRESHOLD = THRESHOLD  # spikes per 60 Hz sample: the spike fit's run threshold
BUMP_PEAK = 1.0 / np.sqrt(2.0 * np.pi * SIGMA_SAMPLES**2)  # the peak of one spike's bump
EVENT_QUANTILES = (0.1, 0.25, 0.5)
RATE_FLOORS = (0.0, 0.0025, 0.005, 0.01, 0.02)  # spikes per 60 Hz sample taken off the rate (the spike fit's threshold: 0.0133)


@contextmanager
def swapped(owner: Any, name: str, replacement: Callable) -> Iterator[None]:
    """``owner.name`` is ``replacement`` inside the block, and what it was after it."""
    original = getattr(owner, name)
    setattr(owner, name, replacement)
    try:
        yield
    finally:
        setattr(owner, name, original)


def weighted_overlap(weights: np.ndarray) -> tuple[Callable, Callable]:
    """An overlap-add and its divisor (``ens2rt.engine.windows``' pair) with each window output weighted by position."""

    def overlap_add(accumulator_flat: np.ndarray, offsets: np.ndarray, outputs: np.ndarray) -> None:
        for offset in range(WINDOW):
            accumulator_flat[offsets + offset] += weights[offset] * outputs[:, offset]

    def coverage_at(padded_index: np.ndarray, hop: int) -> np.ndarray:
        total = np.zeros(padded_index.shape)
        for offset in range(WINDOW):  # the window starting `offset` samples earlier, real or (past the ends) virtual
            total += np.where((padded_index - offset) % hop == 0, weights[offset], 0.0)
        return total

    return overlap_add, coverage_at


def phase_averaged(run: Callable, phases: tuple[int, ...]) -> Callable:
    """``Model.run`` averaged over the input shifted by each of ``phases`` samples (a convolutional model's pooling phases).

    The shifted copies are padded with 8 zeros at each end; a piece's context (56 samples, reach 51)
    keeps every output the engine keeps equal to the unshifted network's but for the phase.
    """

    def run_phases(self, inputs: np.ndarray) -> np.ndarray:
        if self.contract.kind != "convolutional":
            return run(self, inputs)
        length = inputs.shape[1]
        padded = np.pad(inputs, ((0, 0), (8, 8)))
        total = np.zeros(inputs.shape)
        for shift in phases:
            total += run(self, np.ascontiguousarray(padded[:, 8 - shift : length + 16 - shift]))[:, shift : shift + length]
        return (total / len(phases)).astype(np.float32)

    return run_phases


def smoothed(run: Callable, sigma: float) -> Callable:
    """``Model.run`` with a convolutional model's output convolved with a Gaussian of ``sigma`` samples (zeros past the ends)."""
    from scipy.ndimage import gaussian_filter1d

    def run_smoothed(self, inputs: np.ndarray) -> np.ndarray:
        output = run(self, inputs)
        if self.contract.kind != "convolutional" or sigma == 0:
            return output
        return np.maximum(gaussian_filter1d(output.astype(np.float64), sigma, axis=1, mode="constant"), 0).astype(np.float32)

    return run_smoothed


def shift_rows(rate: np.ndarray, samples: int) -> np.ndarray:
    """``rate`` (neurons, samples) moved ``samples`` later (earlier if negative), zeros where nothing moved in."""
    moved = np.zeros_like(rate)
    if samples >= 0:
        moved[:, samples:] = rate[:, : rate.shape[1] - samples]
    else:
        moved[:, :samples] = rate[:, -samples:]
    return moved


@contextmanager
def transformed_rate(transform: Callable[[np.ndarray], np.ndarray], untransformed: dict) -> Iterator[None]:
    """``ens2rt.infer`` with ``transform`` applied to its rate (neurons, samples): a change to the output alone.

    ``untransformed`` keeps each trace's result by its bytes, frame rate and options, so that
    every setting reuses one inference: the probe costs one scoring, not one per setting.
    """
    from dataclasses import replace

    import ens2rt

    infer = ens2rt.infer

    def infer_transformed(trace, frame_rate, **kwargs):
        key = (hashlib.sha1(np.ascontiguousarray(trace).tobytes()).hexdigest(), frame_rate, repr(sorted(kwargs.items())))
        if key not in untransformed:
            untransformed[key] = infer(trace, frame_rate, **kwargs)
        result = untransformed[key]
        return replace(result, rate=transform(result.rate))

    with swapped(ens2rt, "infer", infer_transformed):
        yield


def shifted_output(samples: int, unshifted: dict) -> AbstractContextManager:
    """``ens2rt.infer`` with its rate moved by ``samples`` (:func:`shift_rows`): how far off a model's timing is."""
    return transformed_rate(lambda rate: shift_rows(rate, samples), unshifted)


def blurred_rows(rate: np.ndarray, sigma: float) -> np.ndarray:
    """``rate`` (neurons, samples) convolved along time with a Gaussian of ``sigma`` samples (zeros past the ends)."""
    from scipy.ndimage import gaussian_filter1d

    if sigma == 0:
        return rate
    return np.maximum(gaussian_filter1d(rate.astype(np.float64), sigma, axis=1, mode="constant"), 0).astype(rate.dtype)


def floored_rows(rate: np.ndarray, floor: float) -> np.ndarray:
    """``rate`` less ``floor`` spikes per sample, clipped at zero: a low rate everywhere (noise counted as spikes) removed."""
    return np.maximum(rate - np.asarray(floor, dtype=rate.dtype), 0)


def event_sizes(rate: np.ndarray, threshold: float = EVENT_THRESHOLD) -> np.ndarray:
    """The rate (one row, spikes per sample) summed over each run of samples at or above ``threshold``."""
    above = np.concatenate([[False], np.asarray(rate) >= threshold, [False]])
    edges = np.diff(above.astype(np.int8))
    cumulative = np.concatenate([[0.0], np.cumsum(rate)])
    return cumulative[np.flatnonzero(edges == -1)] - cumulative[np.flatnonzero(edges == 1)]


def peak_sizes(rate: np.ndarray, threshold: float = EVENT_THRESHOLD) -> np.ndarray:
    """Each local maximum of the rate (prominence ``threshold``) as spikes: its height over one spike's bump peak."""
    from scipy.signal import find_peaks

    _, found = find_peaks(rate, height=threshold, prominence=threshold)
    return found["peak_heights"] / BUMP_PEAK


def unit_event(sizes: np.ndarray, quantile: float) -> float:
    """What one spike looks like in a trace's events, estimated from their sizes.

    The ``quantile`` of the sizes at least 0.3 times the 90th percentile (the small ones are
    noise). On a rate of isolated single spikes scaled by k it is k; a trace whose count is
    k times too high would be calibrated by dividing its rate by this.
    """
    sizes = np.asarray(sizes, dtype=np.float64)
    if sizes.size < 3:
        return float("nan")
    return float(np.quantile(sizes[sizes >= 0.3 * np.quantile(sizes, 0.9)], quantile))


def summarise(scores: dict) -> dict:
    correlations = [row["correlation"] for row in scores.values()]
    return {"per_dataset": scores, "median_r": median(correlations), "mean_r": float(np.mean(correlations))}


def save(name: str, record: dict) -> None:
    record["command"] = "python -m research.probes " + " ".join(sys.argv[1:])
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")


def probe(name: str, fold: str, variant: str, seed: int, swaps: dict[str, Callable[[], AbstractContextManager]]) -> None:
    """Score the finished validation run ``variant``-s``seed`` of ``fold`` under each setting of ``swaps`` and save the record.

    ``swaps``: a label per setting, and what to enter for it (a context that swaps engine steps).
    """
    from research.recipe import FOLDS, load_run, score_fold

    model, _ = load_run(fold, variant, seed, threads=1)
    settings = {}
    for label, swap in swaps.items():
        started = time.perf_counter()
        with swap():
            settings[label] = {**summarise(score_fold(model, FOLDS[fold])), "seconds": round(time.perf_counter() - started, 1)}
        typer.echo(f"{fold} {label}: mean r {settings[label]['mean_r']:.4f}")
    save(f"{name}-{fold}-{variant}-s{seed}", {"probe": name, "fold": fold, "run": f"{variant}-s{seed}", "settings": settings})


@contextmanager
def hop_and_overlap(hop: int, weights: str) -> Iterator[None]:
    """``ens2rt.infer`` at ``hop`` with the overlap-add weighted by :data:`OVERLAP_WEIGHTS` ``[weights]``."""
    from functools import partial

    import ens2rt
    import ens2rt.engine.offline as offline

    add, divisor = weighted_overlap(OVERLAP_WEIGHTS[weights])
    with swapped(offline, "overlap_add", add), swapped(offline, "coverage_at", divisor), swapped(ens2rt, "infer", partial(ens2rt.infer, hop=hop)):
        yield


Fold = Annotated[str, typer.Argument(help="Validation fold: A, B, C or D.")]


@app.command("overlap-weights")
def overlap_weights(fold: Fold, variant: str = "windowed", seed: int = 0) -> None:
    """Score a windowed run at hops 6 to 48 with uniform or tapered overlap-add."""
    from functools import partial

    probe("overlap-weights", fold, variant, seed, {f"hop {hop}, {weights}": partial(hop_and_overlap, hop, weights) for hop, weights in OVERLAP_SETTINGS})


@app.command("phase-ensemble")
def phase_ensemble(fold: Fold, variant: str = "conv-noise", seed: int = 0) -> None:
    """Score a convolutional run averaged over 1, 2, 4 or 8 pooling phases of its input."""
    from functools import partial

    from ens2rt.catalog.model import Model

    probe("phase-ensemble", fold, variant, seed,
          {f"{name} phases": partial(swapped, Model, "run", phase_averaged(Model.run, phases)) for name, phases in PHASE_SETS.items()})  # fmt: skip


@app.command("output-smoothing")
def output_smoothing(fold: Fold, variant: str = "conv-noise", seed: int = 0) -> None:
    """Score a convolutional run with its output smoothed by a Gaussian of 0 to 3 samples.

    The probe sits on ``Model.run``, so the engine's pieces of a long trace are smoothed on
    their own: the few outputs within 3σ of a piece's edge also read outputs from its
    context, which the engine otherwise drops. Close enough to choose whether to pursue it.
    """
    from functools import partial

    from ens2rt.catalog.model import Model

    probe("output-smoothing", fold, variant, seed,
          {f"σ {sigma:g} samples": partial(swapped, Model, "run", smoothed(Model.run, sigma)) for sigma in SMOOTHING_SIGMAS})  # fmt: skip


@app.command("output-shift")
def output_shift(fold: Fold, variant: str = "windowed", seed: int = 0) -> None:
    """Score a run with its rate moved 2 samples earlier to 2 samples later (33 ms at 60 Hz).

    A diagnosis, not a setting: a model whose best shift differs between datasets places
    spikes early on some indicators and late on others, which no one shift can mend.
    """
    from functools import partial

    unshifted: dict = {}
    probe("output-shift", fold, variant, seed, {f"{shift:+d} samples": partial(shifted_output, shift, unshifted) for shift in SHIFTS})


@app.command("rate-blur")
def rate_blur(fold: Fold, variant: str = "windowed", seed: int = 0) -> None:
    """Score a run with its final rate blurred by a Gaussian of 0 to 2 samples (33 ms at 60 Hz).

    Unlike output-smoothing, this acts on the whole trace's rate after the engine, so it
    applies to windowed models too. A blur trades timing precision for tolerance of a
    held-out indicator's timing offset (see output-shift): whether that pays is the question.
    """
    from functools import partial

    unblurred: dict = {}
    probe("rate-blur", fold, variant, seed,
          {f"σ {sigma:g} samples": partial(transformed_rate, partial(blurred_rows, sigma=sigma), unblurred) for sigma in BLUR_SIGMAS})  # fmt: skip


@app.command("rate-floor")
def rate_floor(fold: Fold, variant: str = "windowed", seed: int = 0) -> None:
    """Score a run with a constant of 0 to 0.02 spikes per sample taken off its rate (clipped at zero).

    Where a model counts noise as spikes (a low rate far from any recorded spike), a floor
    removes it; the floor is fitted on three folds and applied to the fourth in the table
    (:func:`rate_floor_lines`), so the fold it is scored on never chose it.
    """
    from functools import partial

    unfloored: dict = {}
    probe("rate-floor", fold, variant, seed,
          {f"floor {floor:g}": partial(transformed_rate, partial(floored_rows, floor=floor), unfloored) for floor in RATE_FLOORS})  # fmt: skip


def fitted_floor_rows(records: list[dict]) -> list[dict]:
    """Per run with ``rate-floor`` records on all four folds: the floor fitted on three folds, applied to the fourth.

    For each held-out fold the floor is the setting with the least median |bias| over the
    other three folds' datasets (the smaller floor on a tie); the rows pool the 23 datasets
    as scored unfloored and under those floors.
    """
    from research.recipe import FOLDS

    by_run: dict[str, dict[str, dict]] = {}
    for record in records:
        by_run.setdefault(record["run"], {})[record["fold"]] = record["settings"]
    rows = []
    for run, folds in sorted(by_run.items()):
        if set(folds) != set(FOLDS):
            continue
        labels = list(folds["A"])
        floors, before, after = [], [], []
        for fold in FOLDS:
            others = [folds[other] for other in FOLDS if other != fold]
            spread = [np.median([abs(row["bias"]) for settings in others for row in settings[label]["per_dataset"].values()]) for label in labels]
            chosen = labels[int(np.argmin(spread))]
            floors.append(chosen.removeprefix("floor "))
            before += list(folds[fold][labels[0]]["per_dataset"].values())
            after += list(folds[fold][chosen]["per_dataset"].values())
        rows.append({"run": run, "floors": floors, **{f"{name}_{when}": value for when, scores in (("unfloored", before), ("floored", after))
                     for name, value in (("median_r", float(np.median([s["correlation"] for s in scores]))),
                                         ("mean_r", float(np.mean([s["correlation"] for s in scores]))),
                                         ("median_abs_bias", float(np.median([abs(s["bias"]) for s in scores]))))}})  # fmt: skip
    return rows


def rate_floor_lines(records: list[dict]) -> list[str]:
    """The cross-fold table of :func:`fitted_floor_rows`."""
    rows = fitted_floor_rows(records)
    if not rows:
        return []
    lines = ["## rate-floor, fitted on three folds and applied to the fourth (`python -m research.probes rate-floor FOLD --variant V --seed S`)", "",
             "Pooled over the 23 datasets; floors (spikes per 60 Hz sample) per held-out fold A, B, C, D.", "",
             "| run | floors | median r unfloored | floored | mean r unfloored | floored | median \\|bias\\| unfloored | floored |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for row in rows:
        lines.append(f"| {row['run']} | {', '.join(row['floors'])} | {row['median_r_unfloored']:.3f} | {row['median_r_floored']:.3f} "
                     f"| {row['mean_r_unfloored']:.3f} | {row['mean_r_floored']:.3f} | {row['median_abs_bias_unfloored']:.2f} "
                     f"| {row['median_abs_bias_floored']:.2f} |")  # fmt: skip
    return lines + [""]


@app.command("event-scale")
def event_scale(fold: Fold, variant: str = "windowed", seed: int = 0) -> None:
    """Whether a trace's own events tell how far off its spike count is (a per-trace count calibration).

    Per neuron: k, its rate's total over the recorded spikes (bias + 1), and u, the size of
    one spike estimated from its events (:func:`unit_event`, over run sums or peak heights).
    A calibration dividing each rate by c · u helps only if u follows k: the record gives,
    over the fold's neurons, the correlation of log u with log k and the spread (sd) of
    log k before and after dividing by u. The spread after does not depend on c, so it is
    the least any such calibration could leave, c fitted on the fold itself included.
    """
    from benchmarks.common import predict_neuron
    from research.recipe import FOLDS, GROUND_TRUTH, load_run
    from ens2export.groundtruth import find_datasets, load_dataset
    from ens2rt.scoring import error_and_bias

    import ens2rt

    model, _ = load_run(fold, variant, seed, threads=1)
    neurons = []  # (dataset, k, {estimator: u})
    for key, folder in find_datasets(GROUND_TRUTH, include=FOLDS[fold]).items():
        for neuron in load_dataset(folder):
            prediction = predict_neuron(neuron, model, ens2rt.DEFAULT_HOP, spikes=False)
            bias = error_and_bias(prediction.rate, prediction.true_rate)[1]
            if not np.isfinite(bias):
                continue  # no recorded spike
            rate = prediction.rate.astype(np.float64)
            sizes = {"run sums": event_sizes(rate), "peak heights": peak_sizes(rate)}
            neurons.append((key, bias + 1.0, {f"{kind} q{q:g}": unit_event(found, q) for kind, found in sizes.items() for q in EVENT_QUANTILES}))
    dataset = np.array([d for d, _, _ in neurons])
    datasets = list(dict.fromkeys(dataset))
    log_k = np.log([k for _, k, _ in neurons])
    settings = {}
    for name in neurons[0][2]:
        log_u = np.log([estimates[name] for _, _, estimates in neurons])
        ok = np.isfinite(log_u) & np.isfinite(log_k)
        settings[name] = {"neurons": int(ok.sum()), "r_log_u_log_k": float(np.corrcoef(log_u[ok], log_k[ok])[0, 1]),
                          "sd_log_k": float(log_k[ok].std()), "sd_log_k_over_u": float((log_k[ok] - log_u[ok]).std()),
                          "per_dataset_u": {key: median(np.exp(log_u[ok & (dataset == key)])) for key in datasets}}  # fmt: skip
        typer.echo(f"{fold} {name}: r(log u, log k) {settings[name]['r_log_u_log_k']:.2f}, sd log k {settings[name]['sd_log_k']:.2f} -> {settings[name]['sd_log_k_over_u']:.2f}")
    per_dataset_k = {key: median(np.exp(log_k[dataset == key])) for key in datasets}
    save(f"event-scale-{fold}-{variant}-s{seed}", {"probe": "event-scale", "fold": fold, "run": f"{variant}-s{seed}", "per_dataset_k": per_dataset_k, "settings": settings})


def event_scale_lines(record: dict) -> list[str]:
    """An ``event-scale`` record as a table: per estimator, how well u follows k, and each dataset's median u."""
    datasets = list(record["per_dataset_k"])
    lines = [f"## {record['probe']}, fold {record['fold']}, run {record['run']} (`{record['command']}`)", "",
             "k: the rate's total over the recorded spikes (bias + 1), u: one spike's size estimated from the trace's",
             "events; medians per dataset. A calibration by u needs sd log(k/u) well below sd log k.", "",
             f"| estimator | {' | '.join(datasets)} | r(log u, log k) | sd log k | sd log(k/u) |", "|---|" + "---|" * (len(datasets) + 3),
             "| k | " + " | ".join(f"{record['per_dataset_k'][d]:.2f}" for d in datasets) + " | | | |"]  # fmt: skip
    for name, row in record["settings"].items():
        cells = " | ".join(f"{row['per_dataset_u'][d]:.2f}" for d in datasets)
        lines.append(f"| u, {name} | {cells} | {row['r_log_u_log_k']:.2f} | {row['sd_log_k']:.2f} | {row['sd_log_k_over_u']:.2f} |")
    return lines + [""]


@app.command()
def table(out: Path = RESULTS / "probes.md") -> None:
    """Write the markdown table of every probe run so far."""
    lines = ["# Inference-time probes on the validation folds", "",
             "Regenerate: `python -m research.probes table` (each probe's command is in its JSON under",
             "`research/results/probes/`). Median and mean over the fold's datasets of the median per-neuron",
             "correlation; the model is a `research/recipe.py` run that never saw the fold.", ""]  # fmt: skip
    records = [json.loads(path.read_text()) for path in sorted(OUT.glob("*.json"))]
    for record in records:
        if record["probe"] == "event-scale":
            lines += event_scale_lines(record)
            continue
        datasets = list(next(iter(record["settings"].values()))["per_dataset"])
        lines += [f"## {record['probe']}, fold {record['fold']}, run {record['run']} (`{record['command']}`)", "",
                  f"| setting | {' | '.join(datasets)} | median r | mean r |", "|---|" + "---|" * (len(datasets) + 2)]  # fmt: skip
        for name, row in record["settings"].items():
            cells = " | ".join(f"{row['per_dataset'][d]['correlation']:.3f}" for d in datasets)
            lines.append(f"| {name} | {cells} | {row['median_r']:.3f} | {row['mean_r']:.3f} |")
        lines.append("")
    lines += rate_floor_lines([record for record in records if record["probe"] == "rate-floor"])
    out.write_text("\n".join(lines))
    typer.echo("\n".join(lines))


if __name__ == "__main__":
    app()
