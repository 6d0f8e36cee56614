"""Member choice by the indicator's kinetics, read from the trace (issue 44, item 2; findings.md, 2026-12-07 night).

    python -m research.kinetics score     # research/results/kinetics.json: τ and both runs' r per neuron and rate
    python -m research.kinetics table     # research/results/kinetics.md: the leave-one-fold-out switch and the rule

τ is the trace's autocorrelation time at the rate it is given (:func:`autocorrelation_time`).
A neuron runs on the whole-trace student (``conv-noise-distil1``) if τ < T, else on the
windowed model; T is chosen on three folds and applied to the fourth. The per-neuron
scores are the validation-fold runs' in ``results/frame_rates/`` (no model runs here).
"""

from __future__ import annotations

import json
import math
import sys

import numpy as np
import typer

from benchmarks.common import GROUND_TRUTH, median, report
from benchmarks.frame_rates import NATIVE, per_trial_median
from research.recipe import FOLDS, RESULTS

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
OUT = RESULTS / "kinetics.json"
TABLE = RESULTS / "kinetics.md"
SCORES = RESULTS / "frame_rates"
RUNS = {"windowed": "windowed-s0", "student": "conv-noise-distil1-s0"}
COLUMNS = ("60 Hz", "30 Hz", "15 Hz")  #: the columns the rule decides on
RATES = {NATIVE: None, "60 Hz": 60.0, "30 Hz": 30.0, "15 Hz": 15.0}
MAX_TAU_S = 5.0
GRID = np.round(np.arange(0.05, 3.0 + 1e-9, 0.05), 2)  #: thresholds T tried (s)


def autocorrelation_time(dff: np.ndarray, frame_rate: float, max_s: float = MAX_TAU_S) -> float:
    """Seconds until the trace's autocorrelation, relative to its value at one frame, falls below 1/e.

    Lag 0 is left out (white noise adds to it alone); the crossing is linearly
    interpolated between frames; ``max_s`` if it never falls that far (or the trace is
    too short or flat to say).
    """
    x = np.asarray(dff, dtype=float)
    x = x[np.isfinite(x)]
    lags = min(int(max_s * frame_rate) + 1, x.size - 2)
    if lags < 2:
        return max_s
    x = x - x.mean()
    n_fft = 1 << int(np.ceil(np.log2(2 * x.size)))
    power = np.abs(np.fft.rfft(x, n_fft)) ** 2
    acf = np.fft.irfft(power, n_fft)[: lags + 1] / (x.size - np.arange(lags + 1))
    if not acf[1] > 0:
        return max_s
    relative = acf[1:] / acf[1]  # relative[k - 1] is lag k
    below = np.flatnonzero(relative < 1 / math.e)
    if below.size == 0:
        return max_s
    k = int(below[0])  # relative[k] < 1/e <= relative[k - 1]
    fraction = (relative[k - 1] - 1 / math.e) / (relative[k - 1] - relative[k])
    return min(float((k + fraction) / frame_rate), max_s)


def neuron_tau(neuron, rate: float | None) -> float:
    """Median τ over the neuron's trials, each point-sampled to ``rate`` where it was recorded faster (as the scores were)."""
    return per_trial_median(neuron, rate, autocorrelation_time)


@app.command()
def score() -> None:
    """τ of every validation-fold neuron at each rate, joined with both runs' per-neuron r and |bias|."""
    from ens2export.groundtruth import find_datasets, load_dataset

    rows = []
    for fold, datasets in FOLDS.items():
        scores = {run: json.loads((SCORES / f"{fold}-{name}.json").read_text())["rates"] for run, name in RUNS.items()}
        for key, folder in find_datasets(GROUND_TRUTH, include=datasets).items():
            for neuron in load_dataset(folder):
                native_rate = median([t.frame_rate for t in neuron.trials])
                for label, rate in RATES.items():
                    found = {run: [r for r in scores[run].get(label, []) if r["dataset"] == key and r["file"] == neuron.path.name]
                             for run in RUNS}  # fmt: skip
                    if not all(len(f) == 1 for f in found.values()):
                        continue  # not scored at this rate (recorded at or below it)
                    rows.append({"fold": fold, "dataset": key, "file": neuron.path.name, "rate": label, "native_rate": native_rate,
                                 "tau_s": neuron_tau(neuron, rate),
                                 **{f"r_{run}": f[0]["correlation"] for run, f in found.items()},
                                 **{f"bias_{run}": f[0]["bias"] for run, f in found.items()}})  # fmt: skip
    OUT.write_text(json.dumps({"command": "python -m research.kinetics " + " ".join(sys.argv[1:]), "neurons": rows}, indent=1) + "\n")
    typer.echo(f"wrote {OUT} ({len(rows)} neuron-rate rows)")


def switched(rows: list[dict], threshold: float) -> list[float]:
    """Each row's r on the student if its τ < ``threshold``, else on the windowed model."""
    return [r["r_student"] if r["tau_s"] < threshold else r["r_windowed"] for r in rows]


def objective(rows: list[dict], threshold: float) -> float:
    """Mean over :data:`COLUMNS` of the pooled median switched r."""
    return float(np.mean([median(switched([r for r in rows if r["rate"] == c], threshold)) for c in COLUMNS]))


def choose_threshold(rows: list[dict]) -> float:
    """The T of :data:`GRID` with the highest :func:`objective` on ``rows`` (ties: the smaller)."""
    values = [objective(rows, t) for t in GRID]
    return float(GRID[int(np.argmax(values))])


def leave_one_fold_out(rows: list[dict]) -> dict[str, dict]:
    """Per fold: T chosen on the other folds, and per column the median r of the windowed run, the student and the switch."""
    out = {}
    for fold in FOLDS:
        threshold = choose_threshold([r for r in rows if r["fold"] != fold])
        held = [r for r in rows if r["fold"] == fold]
        columns = {}
        for column in (NATIVE, *COLUMNS):
            cell = [r for r in held if r["rate"] == column and r["native_rate"] >= 10.0]  # below 10 Hz the student runs already
            if cell:
                chosen = sum(r["tau_s"] < threshold for r in cell)
                columns[column] = {"neurons": len(cell), "to_student": int(chosen), "windowed": median([r["r_windowed"] for r in cell]),
                                   "student": median([r["r_student"] for r in cell]), "switch": median(switched(cell, threshold))}  # fmt: skip
        out[fold] = {"threshold_s": threshold, "columns": columns}
    return out


def rule_outcome(result: dict[str, dict]) -> tuple[bool, float, list[str]]:
    """Whether the rule passes, the mean gain of the switch over the windowed run in the rule's cells, and the cells it fails."""
    gains, failed = [], []
    for fold, record in result.items():
        for column in COLUMNS:
            cell = record["columns"][column]
            gains.append(cell["switch"] - cell["windowed"])
            if cell["switch"] < cell["windowed"] - 0.005:
                failed.append(f"{fold} {column}")
    mean_gain = float(np.mean(gains))
    return not failed and mean_gain >= 0.01, mean_gain, failed


@app.command()
def table() -> None:
    """research/results/kinetics.md from kinetics.json."""
    rows = json.loads(OUT.read_text())["neurons"]
    result = leave_one_fold_out(rows)
    passed, mean_gain, failed = rule_outcome(result)
    lines = ["# Member choice by the trace's autocorrelation time", "",
             "Per validation fold, T chosen on the other three folds; each neuron recorded at 10 Hz or faster runs on the "
             "student (`conv-noise-distil1-s0`) if its τ < T, else on the windowed run (`windowed-s0`). Cells: median r "
             "windowed / student / switch (neurons; to the student). Regenerate: `python -m research.kinetics score`, then `table`.",
             "", "| fold | T (s) | " + " | ".join((NATIVE, *COLUMNS)) + " |", "|---|---|" + "---|" * (len(COLUMNS) + 1)]  # fmt: skip
    for fold, record in result.items():
        cells = []
        for column in (NATIVE, *COLUMNS):
            c = record["columns"].get(column)
            cells.append("" if c is None else f"{c['windowed']:.3f} / {c['student']:.3f} / {c['switch']:.3f} ({c['neurons']}; {c['to_student']})")
        lines.append(f"| {fold} | {record['threshold_s']:.2f} | " + " | ".join(cells) + " |")
    taus = {fold: median([r["tau_s"] for r in rows if r["fold"] == fold and r["rate"] == "30 Hz"]) for fold in FOLDS}
    lines += ["", "Median τ at 30 Hz per fold: " + ", ".join(f"{f} {t:.2f} s" for f, t in taus.items()) + ".", "",
              f"Rule (findings.md): every fold and column of {', '.join(COLUMNS)} at least the windowed run's − 0.005, and a "
              f"mean gain of at least +0.01. Mean gain {mean_gain:+.4f}; cells below: {', '.join(failed) or 'none'}. "
              f"**{'Passes' if passed else 'Fails'}.**", ""]  # fmt: skip
    report("\n".join(lines), TABLE)


if __name__ == "__main__":
    app()
