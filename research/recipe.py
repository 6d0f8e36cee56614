"""Validation of training choices on grouped folds *inside* the excitatory training data.

Every setting of a recipe (model kind, input scaling, window context, steps, …) is
chosen here, never on the leave-one-dataset-out or noise tables, which only report.
The 23 excitatory datasets fall into four folds of whole datasets with each indicator
family kept together, so a validation fold holds indicators its models never saw:

    A  synthetic dyes (OGB-1, Cal-520)         DS01-DS05
    B  GCaMP6f                                 DS06-DS11
    C  GCaMP6s, GCaMP5k                        DS12-DS17
    D  red indicators, jGCaMP7f, jGCaMP8m      DS18-DS21, DS29, DS31

``python -m research.recipe run FOLD VARIANT --seed S`` trains a variant on the
other three folds and scores it on FOLD (median per-neuron correlation and CASCADE
bias of each dataset, the model run over whole trials); one JSON per run lands in
``research/results/recipe/``. ``python -m research.recipe table`` writes
``research/results/recipe.md`` from every JSON there, finished runs only.
``python -m research.recipe dataset-facts`` records each dataset's typical noise level
and frame rate, which the table's spike-count rows relate the bias to;
``python -m research.recipe offset-counts FOLD VARIANT`` how a run's spike count moves
when the held-out ΔF/F is lifted by a constant (a baseline error).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from benchmarks.common import CACHE, EXCITATORY, GROUND_TRUTH, median, noise_rate_scale, rate_scale
from research.variants import DISTILLED_STUDENT, VARIANTS  # noqa: F401 -- the variants this validates

RESULTS = Path(__file__).resolve().parent / "results"

FOLDS = {
    "A": ["DS01", "DS02", "DS03", "DS04", "DS05"],
    "B": ["DS06", "DS07", "DS08", "DS09", "DS10", "DS11"],
    "C": ["DS12", "DS13", "DS14", "DS15", "DS16", "DS17"],
    "D": ["DS18", "DS19", "DS20", "DS21", "DS29", "DS31"],
}
assert sorted(sum(FOLDS.values(), [])) == sorted(EXCITATORY)
FINDINGS = Path(__file__).with_name("findings.md")  # what the runs decided, and what they did not
OUT = RESULTS / "recipe"
DATASET_FACTS = OUT / "datasets.json"  # each dataset's typical ν and frame rate (`dataset-facts`)
RUNS = CACHE / "runs" / "recipe"
app = typer.Typer(add_completion=False, no_args_is_help=True)


def score_fold(model, datasets: list[str], noise_level: float | None = None) -> dict:
    """Median correlation and bias per dataset of ``datasets`` (every neuron, all its trials), run by ens2rt.

    ``model``: anything ``ens2rt.infer`` runs, or a list of them (a seed ensemble: their
    rates averaged). ``noise_level``: each trial first degraded to that ν by white noise at
    its native rate (``benchmarks/noise.py``'s ``degrade``, same seeds), as a noisier
    microscope would.
    """
    from benchmarks.noise import degrade
    from ens2export.groundtruth import find_datasets, load_dataset
    from ens2rt.scoring import true_rate_at_60hz, correlation, error_and_bias

    import ens2rt

    members = model if isinstance(model, list) else [model]
    scores = {}
    for key, folder in find_datasets(GROUND_TRUTH, include=datasets).items():
        rows = []
        for number, neuron in enumerate(load_dataset(folder)):
            neuron = degrade(neuron, noise_level, seed=int(key[2:]) * 1000 + number)
            rates, truths = [], []
            for trial in neuron.trials:
                if trial.dff.size * 60.0 / trial.frame_rate < 96:
                    continue
                rate = np.mean([ens2rt.infer(trial.dff, trial.frame_rate, model=member, spikes=False, input_checks=False).rate[0]
                                for member in members], axis=0)  # fmt: skip
                rates.append(rate)
                truths.append(true_rate_at_60hz(trial.spike_times, rate.size))
            if rates:
                rate, truth = np.concatenate(rates), np.concatenate(truths)
                rows.append((correlation(rate, truth), error_and_bias(rate, truth)[1]))
        scores[key] = {"correlation": median(r[0] for r in rows), "bias": median(r[1] for r in rows), "n_neurons": len(rows)}
    return scores


def export_run(folder: Path, settings, threads: int):
    """The run's weights as an ONNX model with its card, loaded as the runtime loads any model."""
    from ens2export.card import write_model

    import ens2rt

    with np.load(folder / "weights.npz") as archive:
        weights = {key: archive[key] for key in archive.files}
    write_model(weights, folder / "model.onnx", name=f"recipe-{folder.parent.name}-{folder.name}", cell_class="excitatory",
                description="validation run", training={}, **settings.export_fields())  # fmt: skip
    return ens2rt.Model.load(folder / "model.onnx", device="cpu", threads=threads)


def load_run(fold: str, variant: str, seed: int, threads: int):
    """A finished run's model, exported and loaded as the runtime loads any model, and its run.json."""
    from research.training import ResearchSettings

    folder = RUNS / fold / f"{variant}-s{seed}"
    info = json.loads((folder / "run.json").read_text())
    return export_run(folder, ResearchSettings.from_dict(info["settings"]), threads), info


def save_record(name: str, record: dict) -> None:
    """One result JSON in research/results/recipe/, with the command that made it."""
    record["command"] = "python -m research.recipe " + " ".join(sys.argv[1:])
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")


@app.command()
def run(
    fold: Annotated[str, typer.Argument(help="Validation fold: A, B, C or D.")],
    variant: Annotated[str, typer.Argument(help=f"One of {', '.join(VARIANTS)}.")],
    seed: Annotated[int, typer.Option(help="Training seed.")] = 0,
    threads: Annotated[int, typer.Option(help="CPU threads for training and scoring.")] = 2,
) -> None:
    """Train VARIANT on the three other folds and score it on FOLD."""
    os.environ["OMP_NUM_THREADS"] = str(threads)  # before torch loads; ens2export's trainer keeps an explicit count
    from ens2export.dataset import load_windows
    from ens2export.train import as_teachers, save_run

    from research.training import ResearchSettings, train
    from research.training.validation import load_windows_and_validation

    held_out, (fields, what) = FOLDS[fold], VARIANTS[variant]
    training = [d for d in EXCITATORY if d not in held_out]
    fields = dict(fields)
    from benchmarks.accuracy import refuse_training_pool

    refuse_training_pool(variant, "research/recipe.py's validation folds", fields)
    teacher_run = fields.pop("teacher_run", None)
    if teacher_run is not None:  # runs of the same fold (so they never saw FOLD either) teach; several: rates averaged
        teachers = []
        for name in as_teachers(teacher_run):
            teacher_variant, teacher_seed = name.rsplit("-s", 1)
            load_run(fold, teacher_variant, int(teacher_seed), threads)  # exports its model if not yet
            teachers.append(str(RUNS / fold / name / "model.onnx"))
        fields["teacher"] = teachers[0] if len(teachers) == 1 else tuple(teachers)
    settings = ResearchSettings(seed=seed, **fields)
    validation = None
    if settings.validation_share:  # neurons of the training datasets, never of FOLD
        source, validation = load_windows_and_validation(GROUND_TRUTH, training, settings.validation_share, settings.resampler)
    else:
        source = load_windows(GROUND_TRUTH, include=training, resampler=settings.resampler)
    started = time.perf_counter()
    result = train(source, settings, device="cpu", validation=validation)
    folder = RUNS / fold / f"{variant}-s{seed}"
    save_run(folder, source, settings, result, " ".join(sys.argv))
    scores = score_fold(export_run(folder, settings, threads), held_out)
    record = {
        "fold": fold, "variant": variant, "seed": seed, "what": what, "settings": settings.as_dict(),
        "trained_on": training, "steps": result.steps, "train_time_s": round(result.wall_time_s, 1),
        **({} if result.best_step is None else {"best_step": result.best_step}),
        "total_time_s": round(time.perf_counter() - started, 1), "scores": scores,
        "median_correlation": median(s["correlation"] for s in scores.values()),
    }  # fmt: skip
    save_record(f"{fold}-{variant}-s{seed}", record)
    typer.echo(f"{fold} {variant} seed {seed}: median r {record['median_correlation']:.3f} ({result.steps} steps)")


@app.command()
def ensemble(
    fold: Annotated[str, typer.Argument(help="Validation fold whose runs to score: A, B, C or D.")],
    variant: Annotated[str, typer.Argument(help="Variant whose seeds to average.")],
    seed: Annotated[list[int], typer.Option(help="Seeds to average (repeat; their runs must exist).")] = [0, 1],
    threads: int = 2,
) -> None:
    """Score FOLD with the rates of VARIANT's seed runs averaged (a seed ensemble), as one more row of the table."""
    runs = [load_run(fold, variant, member, threads) for member in seed]
    models, steps = [model for model, _ in runs], [str(info["steps"]) for _, info in runs]
    started = time.perf_counter()
    scores = score_fold(models, FOLDS[fold])
    name = f"{variant}-x{len(seed)}"
    record = {
        "fold": fold, "variant": name, "seed": "+".join(map(str, seed)), "what": f"{variant}, rates of seeds {seed} averaged",
        "members": [f"{variant}-s{member}" for member in seed], "steps": "+".join(steps),
        "score_time_s": round(time.perf_counter() - started, 1), "scores": scores,
        "median_correlation": median(s["correlation"] for s in scores.values()),
    }  # fmt: skip
    save_record(f"{fold}-{name}", record)
    typer.echo(f"{fold} {name}: median r {record['median_correlation']:.3f}")


@app.command()
def noise(
    fold: Annotated[str, typer.Argument(help="Validation fold whose runs to score: A, B, C or D.")],
    base: Annotated[str, typer.Option(help="The native-noise variant.")] = "online-100ms",
    member: Annotated[list[str], typer.Option(help="Noise-member variants (repeat).")] = ["online-100ms-nu4", "online-100ms-nu8"],
    level: Annotated[list[float], typer.Option(help="Noise levels to degrade the fold to (repeat).")] = [4.0, 8.0],
    seed: int = 0,
    threads: int = 2,
) -> None:
    """Score FOLD as recorded and degraded to each level: BASE alone against the family of BASE and MEMBERs.

    The family is what ens2rt runs for a family: each trial on the member whose ν is
    nearest the trial's estimated ν (BASE sits at the typical ν of its training data).
    Members may be of another kind than BASE (a convolutional BASE, windowed members).
    """
    from ens2export.card import write_model
    from ens2export.dataset import load_windows

    import ens2rt

    from research.training import ResearchSettings

    models = []
    for variant in [base, *member]:
        folder = RUNS / fold / f"{variant}-s{seed}"
        info = json.loads((folder / "run.json").read_text())
        settings = ResearchSettings.from_dict(info["settings"])
        at = settings.matched_level
        if at is None:  # a native-noise member sits at the typical ν of its training data
            at = load_windows(GROUND_TRUTH, include=info["datasets"], resampler=settings.resampler).typical_noise_level()
        with np.load(folder / "weights.npz") as archive:
            weights = {key: archive[key] for key in archive.files}
        out = folder / "family-member.onnx"
        write_model(weights, out, name=f"{variant}-s{seed}", cell_class="excitatory", description="validation family member",
                    training={}, noise_level=round(float(at), 3),
                    **settings.export_fields())  # fmt: skip
        models.append(ens2rt.Model.load(out, device="cpu", threads=threads))
    family = ens2rt.ModelFamily.from_models(f"{base}-family", models)
    conditions = {}
    for condition in [None, *level]:
        name = "native" if condition is None else f"nu{condition:g}"
        alone, matched = score_fold(models[0], FOLDS[fold], condition), score_fold(family, FOLDS[fold], condition)
        conditions[name] = {
            "alone": {"scores": alone, "median_correlation": median(s["correlation"] for s in alone.values())},
            "family": {"scores": matched, "median_correlation": median(s["correlation"] for s in matched.values())},
        }
        typer.echo(f"{fold} {name}: {base} alone {conditions[name]['alone']['median_correlation']:.3f}, "
                   f"family {conditions[name]['family']['median_correlation']:.3f}")  # fmt: skip
    record = {
        "fold": fold, "base": base, "members": member, "seed": seed,
        "member_levels": {m.name: m.noise_level for m in family.members}, "conditions": conditions,
    }  # fmt: skip
    save_record(noise_record_name(fold, base, member, seed), record)


def noise_record_name(fold: str, base: str, members: list[str], seed: int) -> str:
    """The `noise` record's name: plain for BASE with its own ν = 4 and 8 members, else the members appended."""
    own_pair = list(members) == [f"{base}-nu4", f"{base}-nu8"]
    return f"noise-{fold}-{base}-s{seed}" + ("" if own_pair else "+" + "+".join(members))


@app.command()
def robustness(
    fold: Annotated[str, typer.Argument(help="Validation fold whose runs to score: A, B, C or D.")],
    variant: Annotated[list[str], typer.Option(help="Variants to compare, each run alone (repeat).")],
    level: Annotated[list[float], typer.Option(help="Noise levels to degrade the fold to (repeat).")] = [4.0, 8.0],
    seed: int = 0,
    threads: int = 2,
) -> None:
    """Score single models of FOLD as recorded and degraded to each level (same degradation as `noise`)."""
    models = {name: load_run(fold, name, seed, threads)[0] for name in variant}
    conditions = {}
    for condition in [None, *level]:
        label = "native" if condition is None else f"nu{condition:g}"
        conditions[label] = {}
        for name, model in models.items():
            scores = score_fold(model, FOLDS[fold], condition)
            conditions[label][name] = {"scores": scores, "median_correlation": median(s["correlation"] for s in scores.values())}
            typer.echo(f"{fold} {label}: {name} {conditions[label][name]['median_correlation']:.3f}")
    save_record(f"robustness-{fold}-s{seed}", {"fold": fold, "variants": variant, "seed": seed, "conditions": conditions})


def robustness_lines(record: dict) -> list[str]:
    """The table of one `robustness` run."""
    datasets = FOLDS[record["fold"]]
    lines = [f"## Single models across noise, fold {record['fold']} held out, seed {record['seed']} (`{record['command']}`)", "",
             "| condition | variant | " + " | ".join(datasets) + " | median r |", "|---|---|" + "---|" * len(datasets) + "---|"]  # fmt: skip
    for condition, entries in record["conditions"].items():
        for name, entry in entries.items():
            cells = [f"{entry['scores'][d]['correlation']:.3f}" for d in datasets]
            lines.append(f"| {condition} | {name} | " + " | ".join(cells) + f" | **{entry['median_correlation']:.3f}** |")
    return lines + [""]


def runs_over_all_folds(records: list[dict], seeds_only: bool = False) -> list[tuple[str, str | int, dict[str, dict]]]:
    """(variant, seed, each fold's scores) for every variant and seed with a run on all four folds.

    ``seeds_only``: single seeds only, no seed ensembles (whose seed reads like "0+1").
    """
    runs = {(r["variant"], r["seed"], r["fold"]): r for r in records}
    pairs = {(v, s) for v, s, _ in runs if isinstance(s, int) or not seeds_only}
    return [(variant, seed, {fold: runs[variant, seed, fold]["scores"] for fold in FOLDS})
            for variant, seed in sorted(pairs, key=lambda pair: (pair[0], str(pair[1])))
            if all((variant, seed, fold) in runs for fold in FOLDS)]  # fmt: skip


def pooled_lines(records: list[dict]) -> list[str]:
    """Each variant's runs that cover all four folds, pooled: every dataset scored by the model that never saw its fold."""
    lines = ["## All four folds pooled (23 datasets, each scored by a model that never saw its fold)", "",
             "| variant | seed | median r | mean r | median \\|bias\\| |", "|---|---|---|---|---|"]  # fmt: skip
    for variant, seed, by_fold in runs_over_all_folds(records):
        scores = [score for fold in FOLDS for score in by_fold[fold].values()]
        r = [s["correlation"] for s in scores]
        lines.append(f"| {variant} | {seed} | {np.median(r):.3f} | {np.mean(r):.3f} | {np.median([abs(s['bias']) for s in scores]):.2f} |")
    return lines + [""]


def noise_calibration_lines(records: list[dict], datasets: dict[str, dict]) -> list[str]:
    """Cross-fold check of a rate scale that follows the dataset's noise level (the global one: :func:`calibration_lines`)."""
    lines = ["## Spike counts: a rate scale that follows the noise level, fitted on three folds and applied to the fourth", "",
             "As above, the factor c · ν^slope (ν: the dataset's typical noise level, `python -m research.recipe",
             "dataset-facts`) fitted on the other three folds (`noise_rate_scale`; the global scale is the table above).",
             "Spearman ρ: rank correlation over the 23 datasets of the bias as trained with ν and with the frame rate.", "",
             "| variant | seed | slopes | median \\|bias\\| as trained | ν scale | largest bias as trained | ν scale | ρ(bias, ν) | ρ(bias, frame rate) |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    from scipy.stats import spearmanr

    for variant, seed, scores in runs_over_all_folds(records, seeds_only=True):
        if not all(key in datasets for fold in FOLDS for key in scores[fold]):
            continue
        raw, tilted, slopes = [], [], []
        for fold in FOLDS:
            others = [(s["bias"], datasets[key]["noise_level"]) for other in FOLDS if other != fold for key, s in scores[other].items()]
            factor, slope = noise_rate_scale([b for b, _ in others], [level for _, level in others])
            slopes.append(f"{slope:+.2f}")
            for key, s in scores[fold].items():
                raw.append(s["bias"])
                tilted.append(factor * datasets[key]["noise_level"] ** slope * (1 + s["bias"]) - 1)
        keys = [key for fold in FOLDS for key in scores[fold]]
        rho_noise = spearmanr(raw, [datasets[key]["noise_level"] for key in keys])[0]
        rho_rate = spearmanr(raw, [datasets[key]["frame_rate"] for key in keys])[0]
        lines.append(f"| {variant} | {seed} | {', '.join(slopes)} | {np.median(np.abs(raw)):.2f} | {np.median(np.abs(tilted)):.2f} "
                     f"| {max(raw):+.2f} | {max(tilted):+.2f} | {rho_noise:+.2f} | {rho_rate:+.2f} |")  # fmt: skip
    return lines + [""]


def calibration_lines(records: list[dict]) -> list[str]:
    """Cross-fold check of a global rate scale: fitted on three folds' validation biases, applied to the fourth."""
    lines = ["## Spike counts: a global rate scale, fitted on three folds and applied to the fourth", "",
             "Median |bias| over the 23 datasets, each fold's runs scaled by the factor that minimises median |bias| on",
             "the other three folds' runs of the same variant and seed (`rate_scale`; factors per held-out fold A, B, C, D).", "",
             "| variant | seed | factors | median \\|bias\\| as trained | scaled | largest bias as trained | scaled |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for variant, seed, scores in runs_over_all_folds(records, seeds_only=True):
        biases = {fold: [s["bias"] for s in scores[fold].values()] for fold in FOLDS}
        raw, scaled, factors = [], [], []
        for fold in FOLDS:
            factor = rate_scale([b for other in FOLDS if other != fold for b in biases[other]])
            factors.append(f"{factor:.2f}")
            raw += biases[fold]
            scaled += [factor * (1 + b) - 1 for b in biases[fold]]
        lines.append(f"| {variant} | {seed} | {', '.join(factors)} | {np.median(np.abs(raw)):.2f} | {np.median(np.abs(scaled)):.2f} "
                     f"| {max(raw):+.2f} | {max(scaled):+.2f} |")  # fmt: skip
    return lines + [""]


def validation_entry(records: list[dict], variant: str, baseline: str = "windowed") -> dict:
    """``variant``'s validation runs per fold and seed (median r of the fold's datasets), beside ``baseline``'s."""
    def by_fold(name: str) -> dict:
        folds = {}
        for r in records:
            if r["variant"] == name and isinstance(r["seed"], int):
                folds.setdefault(r["fold"], {})[str(r["seed"])] = round(r["median_correlation"], 3)
        return folds

    mine, theirs = by_fold(variant), by_fold(baseline)
    if not mine:
        raise typer.BadParameter(f"no finished validation run of {variant}", param_hint="VARIANT")
    ensembles = {}  # the variant's seed ensembles (`ensemble FOLD VARIANT`): median r per fold
    for r in records:
        if r["variant"].startswith(f"{variant}-x") and r["variant"][len(variant) + 2 :].isdigit():
            ensembles.setdefault(r["variant"], {"seeds": r["seed"], "folds": {}})["folds"][r["fold"]] = round(r["median_correlation"], 3)
    return {
        "protocol": "research/recipe.py: trained on the other three folds, scored on the held-out fold ("
        + "; ".join(f"{fold}: {', '.join(keys)}" for fold, keys in FOLDS.items()) + "), median per-neuron correlation",
        "command": f"python -m research.recipe run FOLD {variant} --seed S; python -m research.recipe run FOLD {baseline} --seed S",
        "table": "research/results/recipe.md",
        "folds": {fold: {"this_recipe": mine[fold], f"{baseline}_recipe_same_split": theirs.get(fold, {})} for fold in sorted(mine)},
        **({} if not ensembles else {"seed_ensembles": {name: {**entry, "command": f"python -m research.recipe ensemble FOLD {variant}",
                                                               "folds": dict(sorted(entry["folds"].items()))}
                                                        for name, entry in sorted(ensembles.items())}}),
    }  # fmt: skip


@app.command()
def card(
    variant: Annotated[str, typer.Argument(help="The recipe the shipped model was trained with.")],
    model: Annotated[str, typer.Argument(help="The shipped model (models/NAME.json) whose card gets the recipe's validation.")],
) -> None:
    """Write VARIANT's validation runs (every fold and seed, beside the windowed recipe's) into MODEL's card."""
    from benchmarks.common import REPO, put_scores_in_card

    path = REPO / "models" / f"{model}.json"
    if not path.is_file():
        raise typer.BadParameter(f"no shipped model {model} (models/{model}.json)", param_hint="MODEL")
    records = [json.loads(p.read_text()) for p in sorted(OUT.glob("[A-D]-*.json"))]
    put_scores_in_card(path, {"validation_of_the_recipe": validation_entry(records, variant)})
    typer.echo(f"{path}: validation of {variant} written")


def spike_triggered_half_rise(neurons, before_s: float = 0.5, after_s: float = 0.3, step_s: float = 0.002) -> float:
    """When, after an isolated recorded spike, the average ΔF/F first reaches half its peak (s; negative: before the spike).

    Isolated: no other spike within ``before_s`` before or ``after_s`` after. Each trace is
    read between frames by linear interpolation (frame k at k / frame rate, as the ground
    truth counts spike times) on a grid of ``step_s``, from 0.2 s before to 0.3 s after the
    spike, less its mean over the first 0.1 s; the half-rise is the last crossing of half
    the peak (the largest value from 0.1 s before the spike on) before that peak. NaN if
    no spike is isolated or the average never rises. Kinetics and time stamps together: a
    half-rise before the spike says the recorded spike times run late.
    """
    offsets = np.arange(-0.2, 0.3 + step_s / 2, step_s)
    segments = []
    for neuron in neurons:
        for trial in neuron.trials:
            spikes = np.sort(np.asarray(trial.spike_times, float))
            gap_before, gap_after = np.diff(np.r_[-np.inf, spikes]), np.diff(np.r_[spikes, np.inf])
            times = np.arange(trial.dff.size) / trial.frame_rate
            for spike in spikes[(gap_before > before_s) & (gap_after > after_s)]:
                if spike + offsets[0] >= 0 and spike + offsets[-1] <= times[-1]:
                    segment = np.interp(spike + offsets, times, np.asarray(trial.dff, float))
                    segments.append(segment - segment[offsets < -0.1].mean())
    if not segments:
        return float("nan")
    average = np.nanmean(segments, axis=0)
    peak = int(np.argmax(np.where(offsets >= -0.1, average, -np.inf)))  # the transient's peak, not an earlier tail
    below = np.flatnonzero(average[:peak] < 0.5 * average[peak])
    return float(offsets[below[-1] + 1]) if below.size else float("nan")  # the last half-peak crossing before the peak


@app.command("dataset-facts")
def dataset_facts() -> None:
    """Write each excitatory dataset's typical noise level ν, median frame rate and half-rise time after a recorded spike."""
    from ens2export.dataset import load_windows
    from ens2export.groundtruth import find_datasets, load_dataset

    facts = {}
    for key in EXCITATORY:
        source = load_windows(GROUND_TRUTH, include=[key])
        half_rise = spike_triggered_half_rise(load_dataset(find_datasets(GROUND_TRUTH, include=[key])[key]))
        facts[key] = {"noise_level": round(source.typical_noise_level(), 3), "frame_rate": round(float(np.median(source.frame_rates)), 2),
                      "half_rise_ms": round(half_rise * 1000.0, 1)}  # fmt: skip
    DATASET_FACTS.write_text(json.dumps(facts, indent=1) + "\n")
    typer.echo(f"wrote {DATASET_FACTS}")


#: around a recorded spike (s): where a spike's transient is, so where the rate for it should be
NEAR_SPIKE_S = (-0.25, 0.5)


def split_rate(rate: np.ndarray, spike_times: np.ndarray, near: tuple[float, float] = NEAR_SPIKE_S) -> tuple[float, float]:
    """The 60 Hz ``rate`` summed near recorded spikes (``near`` around each of ``spike_times``, s) and elsewhere."""
    close = np.zeros(rate.size, dtype=bool)
    for spike in spike_times:
        close[max(0, int(np.floor((spike + near[0]) * 60.0))) : max(0, int(np.ceil((spike + near[1]) * 60.0)))] = True
    return float(rate[close].sum()), float(rate[~close].sum())


@app.command("count-split")
def count_split(
    fold: Annotated[str, typer.Argument(help="Validation fold whose run to score: A, B, C or D.")],
    variant: Annotated[str, typer.Argument(help="Variant of the finished run.")] = "windowed",
    seed: int = 0,
    threads: int = 1,
) -> None:
    """Where a run's counted spikes fall on FOLD: near recorded spikes, or elsewhere, per recorded spike.

    A count off because each real event gets too many (or few) spikes shows near; one off
    because noise is counted shows elsewhere. Per dataset: the median over neurons.
    """
    from ens2export.groundtruth import find_datasets, load_dataset

    import ens2rt

    model, _ = load_run(fold, variant, seed, threads)
    per_dataset = {}
    for key, folder in find_datasets(GROUND_TRUTH, include=FOLDS[fold]).items():
        rows = []
        for neuron in load_dataset(folder):
            near = elsewhere = recorded = 0.0
            for trial in neuron.trials:
                if trial.dff.size * 60.0 / trial.frame_rate < 96:
                    continue
                rate = ens2rt.infer(trial.dff, trial.frame_rate, model=model, spikes=False, input_checks=False).rate[0]
                spikes = trial.spike_times[(trial.spike_times >= -0.5 / 60) & (trial.spike_times < rate.size / 60.0)]
                close, far = split_rate(rate, spikes)
                near, elsewhere, recorded = near + close, elsewhere + far, recorded + spikes.size
            if recorded:
                rows.append((near / recorded, elsewhere / recorded))
        per_dataset[key] = {"neurons": len(rows), "near_per_spike": median(r[0] for r in rows), "elsewhere_per_spike": median(r[1] for r in rows)}
        typer.echo(f"{key}: near {per_dataset[key]['near_per_spike']:.2f}, elsewhere {per_dataset[key]['elsewhere_per_spike']:.2f} per recorded spike")
    save_record(f"counts-{fold}-{variant}-s{seed}", {"fold": fold, "run": f"{variant}-s{seed}", "near_s": list(NEAR_SPIKE_S), "per_dataset": per_dataset})


def count_split_lines(records: list[dict]) -> list[str]:
    """The table of every ``count-split`` record: rate near recorded spikes and elsewhere, per recorded spike."""
    if not records:
        return []
    lines = ["## Where the counted spikes fall (`python -m research.recipe count-split FOLD VARIANT --seed S`)", "",
             "Per dataset, the median over neurons of the rate summed within −250 to +500 ms of a recorded spike (near)",
             "and outside (elsewhere), each divided by the recorded spikes: a model that counts right has near ≈ 1 and",
             "elsewhere ≈ 0.", "", "| fold | run | dataset | neurons | near per spike | elsewhere per spike |", "|---|---|---|---|---|---|"]  # fmt: skip
    for record in records:
        for key, row in record["per_dataset"].items():
            lines.append(f"| {record['fold']} | {record['run']} | {key} | {row['neurons']} | {row['near_per_spike']:.2f} | {row['elsewhere_per_spike']:.2f} |")
    return lines + [""]


@app.command("offset-counts")
def offset_counts(
    fold: Annotated[str, typer.Argument(help="Validation fold whose run to score: A, B, C or D.")],
    variant: Annotated[str, typer.Argument(help="Variant of the finished run.")] = "windowed",
    seed: int = 0,
    offset: Annotated[list[float], typer.Option(help="ΔF/F added to every trial (repeat).")] = [0.0, 0.1],
    threads: int = 1,
) -> None:
    """How a run's spike count on FOLD moves when every trial's ΔF/F is lifted by a constant (a baseline error).

    Per dataset: the rate summed over all its trials (the spikes a model counts) per recorded spike, at each offset.
    """
    from ens2export.groundtruth import find_datasets, load_dataset

    import ens2rt

    model, _ = load_run(fold, variant, seed, threads)
    per_dataset = {}
    for key, folder in find_datasets(GROUND_TRUTH, include=FOLDS[fold]).items():
        counted, recorded = np.zeros(len(offset)), 0
        for neuron in load_dataset(folder):
            for trial in neuron.trials:
                if trial.dff.size * 60.0 / trial.frame_rate < 96:
                    continue
                for index, lift in enumerate(offset):
                    rate = ens2rt.infer(trial.dff + lift, trial.frame_rate, model=model, spikes=False, input_checks=False).rate[0]
                    counted[index] += np.nansum(rate)
                recorded += int(np.sum((trial.spike_times >= -0.5 / 60) & (trial.spike_times < rate.size / 60.0)))
        per_dataset[key] = {"recorded": recorded, "counted_per_spike": [round(float(c) / recorded, 3) for c in counted]}
        typer.echo(f"{key}: " + ", ".join(f"{lift:+g}: {c:.2f}" for lift, c in zip(offset, per_dataset[key]["counted_per_spike"])))
    save_record(f"offsets-{fold}-{variant}-s{seed}", {"fold": fold, "run": f"{variant}-s{seed}", "offsets": list(offset), "per_dataset": per_dataset})


def offset_count_lines(records: list[dict]) -> list[str]:
    """The table of every ``offset-counts`` record: counted spikes per recorded spike with the ΔF/F lifted."""
    if not records:
        return []
    offsets = records[0]["offsets"]
    lines = ["## Spike counts under a baseline offset (`python -m research.recipe offset-counts FOLD VARIANT --seed S`)", "",
             "Per held-out dataset, the rate summed over its trials per recorded spike, with every trial's ΔF/F lifted by",
             "a constant: a model blind to the baseline counts the same in every column.", "",
             "| fold | run | dataset | " + " | ".join(f"{lift:+g}" for lift in offsets) + " |", "|---|---|---|" + "---|" * len(offsets)]  # fmt: skip
    for record in records:
        if record["offsets"] != offsets:
            raise ValueError(f"offset-counts records with different offsets ({record['offsets']} and {offsets}): rerun them alike")
        for key, row in record["per_dataset"].items():
            lines.append(f"| {record['fold']} | {record['run']} | {key} | " + " | ".join(f"{c:.2f}" for c in row["counted_per_spike"]) + " |")
    return lines + [""]


@app.command()
def table() -> None:
    """Write research/results/recipe.md from the finished runs."""
    records = [json.loads(p.read_text()) for p in sorted(OUT.glob("[A-D]-*.json"))]
    noise_records = [json.loads(p.read_text()) for p in sorted(OUT.glob("noise-*.json"))]
    robustness_records = [json.loads(p.read_text()) for p in sorted(OUT.glob("robustness-*.json"))]
    count_records = [json.loads(p.read_text()) for p in sorted(OUT.glob("counts-*.json"))]
    offset_records = [json.loads(p.read_text()) for p in sorted(OUT.glob("offsets-*.json"))]
    lines = [
        "# Recipe validation (grouped folds inside the excitatory training data)",
        "",
        "Regenerate: `python -m research.recipe table` (runs: `python -m research.recipe run FOLD VARIANT --seed S`).",
        "Each run trains on three folds and is scored on the fourth (folds in `research/recipe.py`); median over",
        "the fold's datasets of the median per-neuron correlation, and their mean (steadier over five or six datasets);",
        "bias: CASCADE's, median per dataset. Only finished runs are listed; these numbers choose settings, the",
        "leave-one-out and noise tables report.",
        "",
    ]
    for fold in FOLDS:
        chosen = [r for r in records if r["fold"] == fold]
        if not chosen:
            continue
        datasets = FOLDS[fold]
        lines += [f"## Fold {fold} held out ({', '.join(datasets)})", "",
                  "| variant | seed | steps | " + " | ".join(datasets) + " | median r | mean r | median bias |",
                  "|---|---|---|" + "---|" * len(datasets) + "---|---|---|"]  # fmt: skip
        for r in sorted(chosen, key=lambda r: (r["variant"], r["seed"])):
            cells = [f"{r['scores'][d]['correlation']:.3f}" for d in datasets]
            bias = median(s["bias"] for s in r["scores"].values())
            mean = np.mean([r["scores"][d]["correlation"] for d in datasets])
            lines.append(f"| {r['variant']} | {r['seed']} | {r['steps']} | " + " | ".join(cells)
                         + f" | **{r['median_correlation']:.3f}** | {mean:.3f} | {bias:+.2f} |")  # fmt: skip
        by_variant: dict[str, list[float]] = {}
        for r in chosen:
            by_variant.setdefault(r["variant"], []).append(r["median_correlation"])
        lines += ["", "Mean over runs: " + ", ".join(f"{v} {np.mean(s):.3f} ({len(s)})" for v, s in sorted(by_variant.items())), ""]
    for r in noise_records:
        datasets = FOLDS[r["fold"]]
        levels = ", ".join(f"{name} {value:g}" for name, value in r["member_levels"].items())
        lines += [f"## Noise members, fold {r['fold']} held out (`{r['command']}`)", "",
                  f"Family members and their ν: {levels}. Each trial runs on the member nearest its estimated ν.", "",
                  "| condition | contender | " + " | ".join(datasets) + " | median r |",
                  "|---|---|" + "---|" * len(datasets) + "---|"]  # fmt: skip
        for condition, contenders in r["conditions"].items():
            for who in ("alone", "family"):
                entry = contenders[who]
                label = r["base"] + " alone" if who == "alone" else "family"
                cells = [f"{entry['scores'][d]['correlation']:.3f}" for d in datasets]
                lines.append(f"| {condition} | {label} | " + " | ".join(cells) + f" | **{entry['median_correlation']:.3f}** |")
        lines += [""]
    lines += pooled_lines(records)
    for record in robustness_records:
        lines += robustness_lines(record)
    lines += calibration_lines(records)
    if DATASET_FACTS.is_file():
        lines += noise_calibration_lines(records, json.loads(DATASET_FACTS.read_text()))
    lines += count_split_lines(count_records)
    lines += offset_count_lines(offset_records)
    lines += [FINDINGS.read_text()]
    lines += ["## Variants", ""] + [f"- `{name}`: {what}" for name, (_, what) in VARIANTS.items()] + [""]
    (RESULTS / "recipe.md").write_text("\n".join(lines))
    typer.echo(f"wrote {RESULTS / 'recipe.md'}")


if __name__ == "__main__":
    app()
