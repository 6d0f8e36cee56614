"""Accuracy at the frame rates users image at: held-out neurons as recorded and point-sampled to 60, 30, 15, 7.5 Hz.

    python -m benchmarks.frame_rates score -d DS31 --recipe published --recipe conv-noise-distil1 --family models/families/ens2-exc.json
    python -m benchmarks.frame_rates table       # writes benchmarks/results/frame_rates.md

The models are ``benchmarks/accuracy.py``'s leave-one-dataset-out fold models (``accuracy.py
train -d DS --recipe R`` trains them), so no neuron is scored by a model that saw its
dataset. Each trial is point-sampled to the rate (frame k is the trace at k / rate, as a
scanning microscope visits a neuron briefly each frame; only rates below the trial's own),
inferred, and scored against its true spikes on the 60 Hz grid: per-neuron correlation
(σ = 25 ms) and count bias (inferred / recorded − 1). Where a recipe is distilled from the
published recipe's fold model and both are scored, its *fidelity* to that teacher is
recorded too: per-neuron correlation of the two rates and the ratio of their spike totals
(no ground truth needed; where the teacher is wrong, the truth columns decide).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer

import ens2rt
from benchmarks.accuracy import PUBLISHED, RUNS, export_run, learns_from_one_teacher, member_runs, recipe_fields
from benchmarks.common import (
    EXCITATORY,
    GROUND_TRUTH,
    RESULTS,
    copies_used,
    copy_mark,
    ground_truth_fingerprint,
    ground_truth_note,
    median,
    point_sampled,
    predict_neuron,
    report,
    score_prediction,
)
from ens2export.groundtruth import find_datasets, load_dataset
from ens2rt.engine.traces import noise_level
from ens2rt.scoring import correlation

RATES_HZ = (60.0, 30.0, 15.0, 7.5)  #: point-sampled to these, below each trial's own rate
NATIVE = "native"
OUT = RESULTS / "frame_rates"
app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


def rate_label(rate: float | None) -> str:
    return NATIVE if rate is None else f"{rate:g} Hz"


def per_trial_median(neuron, rate: float | None, statistic: Callable[[np.ndarray, float], float]) -> float:
    """Median over the neuron's trials of ``statistic(dff, frame_rate)``, each trial point-sampled to ``rate`` where it was
    recorded faster (as the trials are run at)."""
    values = []
    for trial in neuron.trials:
        dff, trial_rate = trial.dff, trial.frame_rate
        if rate is not None and rate < trial_rate:
            dff, trial_rate = point_sampled(dff, trial_rate, rate), rate
        values.append(float(statistic(dff, trial_rate)))
    return median(values)


def neuron_noise_level(neuron, rate: float | None) -> float:
    """The neuron's ν as a family would estimate it: median over its trials, at the rate they are run at."""
    return per_trial_median(neuron, rate, noise_level)


# the recipe each shipped family member was trained with: a family's fold version is made of these recipes' fold models
FOLD_RECIPE = {"ens2-exc-native": PUBLISHED, "ens2-exc-conv": "conv-noise-distil1", "ens2-exc-band2": "windowed-band2",
               **{f"ens2-exc-nu{level}": f"windowed-nu{level}" for level in (2, 4, 6, 8)}}  # fmt: skip
FAMILY_PREFIX = "family-"  #: a recipe name FAMILY_PREFIX + manifest stem scores that family's fold version


def family_recipes(manifest: Path) -> list[str]:
    """The fold recipes a family manifest's members need."""
    from ens2rt.catalog.manifest import read_manifest

    names = read_manifest(manifest).model_names
    unknown = [n for n in names if n not in FOLD_RECIPE]
    if unknown:
        raise typer.BadParameter(f"{manifest}: no fold recipe known for {', '.join(unknown)}", param_hint="--family")
    return [FOLD_RECIPE[n] for n in names]


def trial_conditions(neurons, rates: tuple[float, ...] = RATES_HZ) -> list[tuple[float, float]]:
    """(ν, frame rate) of every trial as the benchmark runs it: as recorded, and point-sampled to each slower rate."""
    out = []
    for neuron in neurons:
        for trial in neuron.trials:
            out.append((float(noise_level(trial.dff, trial.frame_rate)), trial.frame_rate))
            out += [(float(noise_level(point_sampled(trial.dff, trial.frame_rate, rate), rate)), rate)
                    for rate in rates if rate < trial.frame_rate]  # fmt: skip
    return out


def fold_family(held_out: str, manifest: Path, runs: Path, trials: list[tuple[float, float]] | None = None) -> ens2rt.ModelFamily:
    """The family of ``manifest`` made of the leave-``held_out``-out models of its members' recipes, choosing as it says.

    ``trials``: the (ν, frame rate) of every trial the family will run (:func:`trial_conditions`). A member whose fold
    model is not trained is then left out if the manifest hands it none of them (the family runs as the full one would);
    otherwise, or without ``trials``, its absence is an error naming what to train.
    """
    from dataclasses import replace

    from ens2rt.catalog.manifest import choose, read_manifest

    spec = read_manifest(manifest)
    if spec.by_noise_level:  # the fold models' levels are their recipes' (the native ones: their training data's median ν)
        raise typer.BadParameter(f"{manifest} chooses by nearest noise level: give its members explicit ranges to score it here", param_hint="--family")
    rates = {rate for _, rate in trials or ()}
    taken = {int(position) for rate in rates
             for position in choose(spec.members, np.array([level for level, r in trials if r == rate]), rate)}  # fmt: skip
    models, ranges = [], []
    for position, member in enumerate(spec.members):
        try:
            model = ens2rt.Model.load(export_run(held_out, runs, FOLD_RECIPE[member.model]), device="cpu")
        except typer.BadParameter:
            if trials is None or position in taken:
                raise
            continue  # no trial of this dataset at any rate reaches the member
        models.append(model)
        ranges.append(replace(member, model=model.name))
    return ens2rt.ModelFamily.with_ranges(FAMILY_PREFIX + spec.name, models, ranges)


def score_dataset(held_out: str, recipes: list[str], ground_truth: Path, runs: Path, hop: int, families: list[Path] = ()) -> dict[str, dict]:
    """Per recipe (and family): per rate label, one row per neuron (correlation, bias, spike totals; fidelity where it applies)."""
    neurons = load_dataset(find_datasets(ground_truth, include=[held_out])[held_out])
    models = {recipe: ens2rt.Model.load(export_run(held_out, runs, recipe), device="cpu") for recipe in recipes}
    trials = trial_conditions(neurons) if families else None
    models.update({FAMILY_PREFIX + manifest.stem: fold_family(held_out, manifest, runs, trials) for manifest in families})
    students = {recipe: PUBLISHED for recipe in recipes if recipe != PUBLISHED and learns_from_one_teacher(recipe, "leave-one-out")}
    return score_neurons(neurons, models, hop, students)


def score_neurons(neurons, models: dict, hop: int, teachers: dict[str, str] | None = None) -> dict[str, dict]:
    """Per model name: per rate label, one row per neuron (correlation, bias, spike totals).

    ``teachers``: student name → teacher name, both in ``models``; a student's rows also
    hold its fidelity to that teacher.
    """
    teachers = teachers or {}
    out: dict[str, dict] = {name: {} for name in models}
    for rate in (None, *RATES_HZ):
        rows: dict[str, list[dict]] = {name: [] for name in models}
        for neuron in neurons:
            if rate is not None and not any(trial.frame_rate > rate for trial in neuron.trials):
                continue  # recorded at or below this rate: nothing to sample down
            predictions = {name: predict_neuron(neuron, model, hop, frame_rate=rate) for name, model in models.items()}
            level = neuron_noise_level(neuron, rate)
            for name, prediction in predictions.items():
                scores = score_prediction(prediction)
                row = {"file": neuron.path.name, "noise_level": level, "correlation": scores["correlation"], "bias": scores["bias"],
                       "n_true_spikes": scores["n_true_spikes"], "n_predicted_spikes": scores["n_predicted_spikes"]}  # fmt: skip
                if name in teachers and teachers[name] in predictions:
                    teacher = predictions[teachers[name]]
                    row["fidelity_correlation"] = correlation(prediction.rate, teacher.rate)
                    row["fidelity_total_ratio"] = float(np.nansum(prediction.rate) / np.nansum(teacher.rate))
                rows[name].append(row)
        for name in models:
            if rows[name]:
                out[name][rate_label(rate)] = rows[name]
    return out


@app.command()
def score(
    dataset: Annotated[Optional[list[str]], typer.Option("--dataset", "-d", help="Held-out dataset (repeat).")] = None,
    recipe: Annotated[Optional[list[str]], typer.Option(help="Recipe (repeat): published, or an accuracy.py recipe.")] = None,
    family: Annotated[Optional[list[Path]], typer.Option(help="Family manifest (repeat) whose fold version to score, made of its members' recipes' fold models.")] = None,
    ground_truth: Path = GROUND_TRUTH,
    runs: Path = RUNS,
    hop: int = ens2rt.DEFAULT_HOP,
) -> None:
    """Score each held-out dataset's fold models at every rate (cached per dataset and recipe)."""
    recipes = recipe or ([] if family else [PUBLISHED])
    for name in recipes:
        recipe_fields(name)  # an unknown recipe fails before any work
    families = list(family or [])
    for manifest in families:
        family_recipes(manifest)  # a member without a fold recipe fails before any work
    for key in dataset or EXCITATORY:
        missing = [name for name in recipes if not all((f / "run.json").is_file() for f in member_runs(key, runs, name))]
        if missing:
            typer.echo(f"{key}: no fold model of {', '.join(missing)} in {runs}; train with accuracy.py train -d {key}", err=True)
            continue
        try:  # a family member's fold model may be absent where no trial of the dataset reaches it (fold_family)
            scored = score_dataset(key, recipes, ground_truth, runs, hop, families)
        except typer.BadParameter as error:
            typer.echo(f"{key}: {error.message}", err=True)
            continue
        for name, by_rate in scored.items():
            path = OUT / name / f"{key}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            record = {"dataset": key, "recipe": name, "hop": hop,
                      "ground_truth_sha256": ground_truth_fingerprint(find_datasets(ground_truth, include=[key])[key]), "rates": by_rate}  # fmt: skip
            path.write_text(json.dumps(record, indent=1) + "\n")
            cells = ", ".join(f"{label} {median(r['correlation'] for r in rows):.3f}" for label, rows in by_rate.items())
            typer.echo(f"{key} {name}: {cells}")


def load_scores(results: Path = OUT) -> dict[str, dict[str, dict]]:
    """recipe → dataset → the cached record."""
    return {folder.name: {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("DS*.json"))}
            for folder in sorted(results.iterdir()) if folder.is_dir()} if results.is_dir() else {}  # fmt: skip


def table_lines(scores: dict[str, dict[str, dict]]) -> list[str]:
    """Median per-neuron r (neurons) and median bias per recipe and rate, per dataset and pooled over every neuron."""
    labels = [NATIVE, *(rate_label(r) for r in RATES_HZ)]
    lines = ["| recipe | held out | " + " | ".join(labels) + " |", "|---|---|" + "---|" * len(labels)]
    for recipe, by_dataset in scores.items():
        pooled: dict[str, list[dict]] = {label: [] for label in labels}
        for key, record in by_dataset.items():
            cells = []
            for label in labels:
                rows = record["rates"].get(label, [])
                pooled[label] += rows
                cells.append(_cell(rows))
            lines.append(f"| {recipe} | {key}{copy_mark(key, record)} | " + " | ".join(cells) + " |")
        if len(by_dataset) > 1:
            lines.append(f"| {recipe} | all ({len(by_dataset)}) | " + " | ".join(_cell(pooled[label]) for label in labels) + " |")
    lines += ground_truth_note(copies_used(item for by_dataset in scores.values() for item in by_dataset.items()))
    fidelity = [(recipe, key, record) for recipe, by_dataset in scores.items() for key, record in by_dataset.items()
                if any("fidelity_correlation" in row for rows in record["rates"].values() for row in rows)]  # fmt: skip
    if fidelity:
        lines += ["", "Fidelity to the teacher (the published recipe's fold model): median per-neuron r of the two rates, "
                  "and the student's spike total over the teacher's.", "",
                  "| student | held out | " + " | ".join(labels) + " |", "|---|---|" + "---|" * len(labels)]  # fmt: skip
        for recipe, key, record in fidelity:
            cells = []
            for label in labels:
                rows = record["rates"].get(label, [])
                cells.append(f"{median(r['fidelity_correlation'] for r in rows):.2f} / "
                             f"{median(r['fidelity_total_ratio'] for r in rows):.2f}" if rows else "")  # fmt: skip
            lines.append(f"| {recipe} | {key} | " + " | ".join(cells) + " |")
    return lines


NOISE_BINS = ((0.0, 1.4), (1.4, 3.0), (3.0, np.inf))  #: ν bins of the real-noise table (issue 44, item 1)


def shared_datasets(scores: dict[str, dict[str, dict]]) -> list[str]:
    """The held-out datasets that every recipe in ``scores`` has run: the only ones its pooled rows may compare on."""
    keys = [set(by_dataset) for by_dataset in scores.values()]
    return sorted(set.intersection(*keys)) if keys else []


def shared_lines(scores: dict[str, dict[str, dict]]) -> list[str]:
    """Every recipe pooled over the same held-out datasets (:func:`shared_datasets`): median r (neurons; bias)."""
    labels = [NATIVE, *(rate_label(r) for r in RATES_HZ)]
    shared = shared_datasets(scores)
    lines = ["| recipe | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for recipe, by_dataset in scores.items():
        cells = [_cell([row for key in shared for row in by_dataset[key]["rates"].get(label, [])]) for label in labels]
        lines.append(f"| {recipe} | " + " | ".join(cells) + " |")
    return lines


def _records(by_dataset: dict[str, dict], datasets: list[str] | None) -> list[dict]:
    return [record for key, record in by_dataset.items() if datasets is None or key in datasets]


def _in_bin(records: list[dict], label: str, low: float, high: float) -> list[dict]:
    """The rows of ``records`` at rate ``label`` whose neuron's ν lies in [low, high)."""
    return [row for record in records for row in record["rates"].get(label, []) if low <= row.get("noise_level", np.nan) < high]


def noise_bin_lines(scores: dict[str, dict[str, dict]], datasets: list[str] | None = None) -> list[str]:
    """Real neurons by their own noise level at each rate, held-out datasets pooled: median r (neurons; bias).

    ``datasets``: those to pool (default: every one a recipe has run).
    """
    labels = [NATIVE, *(rate_label(r) for r in RATES_HZ)]
    lines = ["| recipe | ν | " + " | ".join(labels) + " |", "|---|---|" + "---|" * len(labels)]
    for recipe, by_dataset in scores.items():
        records = _records(by_dataset, datasets)
        for low, high in NOISE_BINS:
            cells = [_cell(_in_bin(records, label, low, high)) for label in labels]
            lines.append(f"| {recipe} | {_bin_name(low, high)} | " + " | ".join(cells) + " |")
    return lines


def _bin_name(low: float, high: float) -> str:
    return f"< {high:g}" if low == 0 else (f"≥ {low:g}" if high == np.inf else f"{low:g}–{high:g}")


def fidelity_bin_lines(scores: dict[str, dict[str, dict]], datasets: list[str] | None = None) -> list[str]:
    """Each student's fidelity to its teacher by the neurons' own noise level at each rate: median r / total ratio (neurons)."""
    labels = [NATIVE, *(rate_label(r) for r in RATES_HZ)]
    lines = ["| student | ν | " + " | ".join(labels) + " |", "|---|---|" + "---|" * len(labels)]
    for recipe, by_dataset in scores.items():
        records = _records(by_dataset, datasets)
        if not any("fidelity_correlation" in row for record in records for rows in record["rates"].values() for row in rows):
            continue
        for low, high in NOISE_BINS:
            cells = []
            for label in labels:
                rows = [row for row in _in_bin(records, label, low, high) if "fidelity_correlation" in row]
                cells.append(f"{median(r['fidelity_correlation'] for r in rows):.2f} / "
                             f"{median(r['fidelity_total_ratio'] for r in rows):.2f} ({len(rows)})" if rows else "")  # fmt: skip
            lines.append(f"| {recipe} | {_bin_name(low, high)} | " + " | ".join(cells) + " |")
    return lines


def _cell(rows: list[dict]) -> str:
    if not rows:
        return ""
    return f"{median(r['correlation'] for r in rows):.3f} ({len(rows)}; {median(r['bias'] for r in rows):+.2f})"


@app.command()
def table(out: Path = RESULTS / "frame_rates.md") -> None:
    """Write the frame-rate table from the cached scores."""
    scores = load_scores()
    shared = shared_datasets(scores)
    text = "\n".join([
        "# Accuracy at the frame rates users image at",
        "",
        "Held-out datasets scored by their leave-one-out fold models (`benchmarks/accuracy.py`), as recorded and "
        "point-sampled to lower rates. Cells: median per-neuron correlation (neurons; median count bias). "
        "Regenerate: `python -m benchmarks.frame_rates score -d DS --recipe R …`, then `python -m benchmarks.frame_rates table`.",
        "",
        f"## Every recipe on the same {len(shared)} held-out datasets",
        "",
        f"Pooled over the neurons of the datasets every recipe below has run ({', '.join(shared)}); only these rows "
        "compare recipes with each other.",
        "",
        *shared_lines(scores),
        "",
        "## Per held-out dataset",
        "",
        *table_lines(scores),
        "",
        "## By each neuron's own noise level",
        "",
        f"The neurons of the same {len(shared)} datasets binned by their ν at the rate they were run at (median over "
        "their trials).",
        "",
        *noise_bin_lines(scores, shared),
        "",
        "Fidelity of each student to its teacher on the same neurons, by noise level: median per-neuron r of the two "
        "rates / median ratio of their spike totals (neurons).",
        "",
        *fidelity_bin_lines(scores, shared),
        "",
    ])  # fmt: skip
    report(text, out)


if __name__ == "__main__":
    app()
