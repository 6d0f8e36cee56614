"""Noise-matched models against the single recipe model, at native noise and at ν = 2, 4, 6, 8.

    python -m benchmarks.noise train      # 2 folds x (recipe + one model per level), ~7 min each on 2 cores
    python -m benchmarks.noise score      # degrade, infer, score (cached per dataset)
    python -m benchmarks.noise table      # markdown table
    python -m benchmarks.noise cards      # then, on purpose: the table's scores into the shipped cards
    python -m benchmarks.noise train --recipe conv-noise-distil1; python -m benchmarks.noise score --recipe conv-noise-distil1
                                          # another recipe's single model per fold, beside them
    python -m benchmarks.noise score --recipe conv-noise-distil1 --member conv-noise-distil1-nu4 ...
                                          # that recipe's own family (members trained with --recipe too)
    python -m benchmarks.noise score --recipe windowed --member windowed-band2 --member windowed-nu4 ...
                                          # a family with a member trained over a band of ν (at its centre)
    python -m benchmarks.noise score --recipe conv-noise-distil1 --published-members
                                          # that recipe's model with the published recipe's noise members

Noise-level members train for a fixed ``NOISE_STEPS`` steps instead of the recipe's
early stop: with noise added, the per-batch loss never again beats a lucky batch from
the first few hundred steps, so patience 500 stopped them at step 645 with the loss
still falling. 1600 steps is the median length of the recipe runs (1103–2318 here).

Protocol (declared, never scoring a model on data it saw): the excitatory datasets
are split into two folds, A = every other one starting with DS01 and B = the rest.
The models that score fold A were trained on fold B only, and vice versa: each of
them on half the datasets, so the absolute numbers sit below the leave-one-out
table. Per fold: the recipe model (native noise) and one model per level in
``LEVELS``. Each held-out trial is scored as recorded and degraded to every level
by white noise at its native frame rate (``ens2export.noise``, seeded per trial),
exactly what a noisier microscope adds; trials already noisier stay as they are.
Three contenders see the same traces: the recipe model alone, the noise-matched
family (the runtime picks a member per trial from its estimated ν) and OASIS. With
``--recipe NAME`` (a recipe of ``benchmarks/recipes.py``, e.g. the convolutional
``conv-noise-distil1``) one model of that recipe per fold, trained on the same half, is a
fourth contender (results in ``benchmarks/results/noise/NAME/``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer

import ens2rt
from ens2export.groundtruth import Neuron, Trial, find_datasets, load_dataset
from ens2rt.scoring import correlation
from ens2rt.engine.traces import noise_level

from benchmarks.common import (
    CACHE,
    CORRECTED,
    EXCITATORY,
    GROUND_TRUTH,
    GROUND_TRUTH_MARKS,
    REPO,
    RESULTS,
    copies_used,
    export_trained_run,
    median,
    predict_neuron,
    put_scores_in_card,
)

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
FOLDS = {"A": EXCITATORY[0::2], "B": EXCITATORY[1::2]}
LEVELS = (2.0, 4.0, 6.0, 8.0)
NOISE_STEPS = 1600
RUNS = CACHE / "runs" / "noise"
NOISE_RESULTS = RESULTS / "noise"


@app.callback()
def main() -> None:
    """Noise-matched models against the recipe model (see the module docstring)."""


def member_name(level: float | None) -> str:
    return "native" if level is None else f"nu{level:g}"


def trained_on(held_out_fold: str) -> list[str]:
    """The datasets a model that scores ``held_out_fold`` is trained on: the other fold's."""
    return [key for fold, keys in FOLDS.items() if fold != held_out_fold for key in keys]


def typical_level(datasets: list[str], resampler: str = "fourier") -> float:
    """Where a native-noise member sits in a family: the typical ν of its training data."""
    from ens2export.dataset import load_windows

    return load_windows(GROUND_TRUTH, include=datasets, resampler=resampler).typical_noise_level()


def scored_trial_levels(neuron: Neuron) -> list[float]:
    """Estimated ν of each trial that is scored (long enough for one 96-sample window at 60 Hz)."""
    return [noise_level(t.dff, t.frame_rate) for t in neuron.trials if t.dff.size * 60 / t.frame_rate >= 96]


def run_dir(held_out_fold: str, level: float | None, runs: Path = RUNS) -> Path:
    return runs / f"heldout-{held_out_fold}" / member_name(level)


def train_one(held_out_fold: str, level: float | None, training_data: Path, runs: Path, device: str) -> str:
    from ens2export.dataset import load_windows
    from ens2export.train import TrainSettings, save_run, train

    out = run_dir(held_out_fold, level, runs)
    if (out / "run.json").is_file():
        return f"{out}: cached"
    train_on = trained_on(held_out_fold)
    source = load_windows(training_data, include=train_on)
    settings = TrainSettings() if level is None else TrainSettings(noise_level=level, max_steps=NOISE_STEPS, patience=NOISE_STEPS)
    result = train(source, settings, device=device)
    level_option = "" if level is None else f" --level {level:g}"
    command = f"python -m benchmarks.noise train --fold {held_out_fold}{level_option} --training-data {training_data} --device {device}"
    save_run(out, source, settings, result, command)
    return f"{out}: {result.steps} steps, {result.wall_time_s:.0f} s on {result.device}, loss {result.losses[-1]:.5f}"


def recipe_dir(held_out_fold: str, recipe: str, runs: Path = RUNS) -> Path:
    return runs / f"heldout-{held_out_fold}" / recipe


def train_recipe(held_out_fold: str, recipe: str, training_data: Path, runs: Path, device: str) -> str:
    """Train one model of ``recipe`` (a benchmarks/recipes.py recipe) on the other fold, unless it exists."""
    from ens2export.dataset import load_windows
    from ens2export.train import TrainSettings, save_run, train

    from benchmarks.accuracy import learns_from_one_teacher, recipe_fields, refuse_training_pool

    refuse_training_pool(recipe, "the noise benchmark")
    out = recipe_dir(held_out_fold, recipe, runs)
    if (out / "run.json").is_file():
        return f"{out}: cached"
    fields = {k: v for k, v in recipe_fields(recipe).items() if k != "teacher_run"}
    if learns_from_one_teacher(recipe, "the noise benchmark"):  # the fold's native published-recipe member teaches (it never saw the held-out fold)
        if not (run_dir(held_out_fold, None, runs) / "run.json").is_file():
            raise typer.BadParameter(f"{recipe} learns from the published recipe's model of fold {held_out_fold}: train that "
                                     f"first (noise.py train --fold {held_out_fold} --native-only)", param_hint="--recipe")  # fmt: skip
        fields["teacher"] = str(export_member(held_out_fold, None, runs))
    settings = TrainSettings(**fields)
    train_on = trained_on(held_out_fold)
    source = load_windows(training_data, include=train_on, resampler=settings.resampler)
    result = train(source, settings, device=device)
    command = f"python -m benchmarks.noise train --fold {held_out_fold} --recipe {recipe} --training-data {training_data} --device {device}"
    save_run(out, source, settings, result, command)
    return f"{out}: {result.steps} steps, {result.wall_time_s:.0f} s on {result.device}, loss {result.losses[-1]:.5f}"


def recipe_family(held_out_fold: str, recipe: str, members: list[str], runs: Path = RUNS) -> ens2rt.ModelFamily:
    """The fold's model of ``recipe`` and of each noise-member recipe in ``members``, as one family.

    Each member sits at the ν its recipe trains at (a banded member at its band's centre);
    the native model at the typical ν of its training data, as :func:`export_member`
    places the published recipe's.
    """
    from ens2export.train import TrainSettings

    train_on = trained_on(held_out_fold)
    settings = {}
    for variant in (recipe, *members):  # every run present and at its place before anything is exported
        folder = recipe_dir(held_out_fold, variant, runs)
        if not (folder / "run.json").is_file():
            raise typer.BadParameter(f"no {variant} model for fold {held_out_fold}: noise.py train --fold {held_out_fold} "
                                     f"--recipe {variant}", param_hint="--member")  # fmt: skip
        settings[variant] = TrainSettings.from_dict(json.loads((folder / "run.json").read_text())["settings"])
        if (variant == recipe) != (settings[variant].matched_level is None):
            raise typer.BadParameter(f"{variant} {'trains at a noise level' if variant == recipe else 'trains at native noise'}: "
                                     "a family is one native recipe and members each at one level", param_hint="--member")  # fmt: skip
    models = []
    for variant, trained in settings.items():
        folder = recipe_dir(held_out_fold, variant, runs)
        level = trained.matched_level
        if level is None:
            level = typical_level(train_on, trained.resampler)
        out = export_trained_run(folder, folder / f"heldout-{held_out_fold}-{variant}-member.onnx",
                                 name=f"heldout-{held_out_fold}-{variant}", cell_class="excitatory",
                                 description=f"noise benchmark, {family_name(recipe)} member: trained on {', '.join(train_on)}",
                                 noise_level=round(float(level), 3))  # fmt: skip
        models.append(ens2rt.Model.load(out, device="cpu"))
    return ens2rt.ModelFamily.from_models(f"heldout-{held_out_fold}-{family_name(recipe, members)}", models)


def family_name(recipe: str, members: list[str] = ()) -> str:
    """Where a recipe's family is scored and tabled: ``RECIPE-family`` with the recipe's own exact
    member at every level of ``LEVELS`` (``RECIPE-nu2`` … ``RECIPE-nu8``), else ``RECIPE-family+M+M…``
    naming each member (less the ``RECIPE-`` prefix), so two families never share a folder."""
    if not members or list(members) == [f"{recipe}-nu{level:g}" for level in LEVELS]:
        return f"{recipe}-family"
    return f"{recipe}-family+" + "+".join(m.removeprefix(f"{recipe}-") for m in members)


def mixed_family(held_out_fold: str, recipe: str, runs: Path = RUNS) -> ens2rt.ModelFamily:
    """The fold's model of ``recipe`` as the native member and the published recipe's noise members
    (one per level of ``LEVELS``, trained on the same half) beside it: a family that may mix kinds."""
    native = recipe_family(held_out_fold, recipe, [], runs).members[0]
    for level in LEVELS:
        if not (run_dir(held_out_fold, level, runs) / "run.json").is_file():
            raise typer.BadParameter(f"no published-recipe member at nu = {level:g} for fold {held_out_fold}: noise.py train "
                                     f"--fold {held_out_fold} --level {level:g}", param_hint="--published-members")  # fmt: skip
    noisy = [ens2rt.Model.load(export_member(held_out_fold, level, runs), device="cpu") for level in LEVELS]
    return ens2rt.ModelFamily.from_models(f"heldout-{held_out_fold}-{mixed_name(recipe)}", [native, *noisy])


def mixed_name(recipe: str) -> str:
    """Where a recipe's model with the published noise members is scored and tabled: ``RECIPE-mixed``."""
    return f"{recipe}-mixed"


def recipe_model(held_out_fold: str, recipe: str, runs: Path = RUNS) -> ens2rt.Model:
    """The fold's model of ``recipe``, exported once beside its run and loaded as any model."""
    folder = recipe_dir(held_out_fold, recipe, runs)
    train_on = ", ".join(trained_on(held_out_fold))
    out = export_trained_run(folder, folder / f"heldout-{held_out_fold}-{recipe}.onnx", name=f"heldout-{held_out_fold}-{recipe}",
                             cell_class="excitatory", description=f"noise benchmark, {recipe} recipe: trained on {train_on}")  # fmt: skip
    return ens2rt.Model.load(out, device="cpu")


@app.command("train")
def train_command(
    fold: Annotated[Optional[list[str]], typer.Option(help="Held-out fold (repeat); default: A and B.")] = None,
    level: Annotated[Optional[list[float]], typer.Option(help="Noise level (repeat); default: native and every level.")] = None,
    training_data: Annotated[Path, typer.Option(help="Ground truth or an `ens2export prepare` folder.")] = GROUND_TRUTH,
    runs: Path = RUNS,
    device: str = "auto",
    recipe: Annotated[Optional[str], typer.Option(help="Train this benchmarks/recipes.py recipe's single model instead.")] = None,
    native_only: Annotated[bool, typer.Option(help="Only the native member (e.g. as a distilled recipe's teacher).")] = False,
) -> None:
    """Train every (fold, level) model not trained yet, one fold's family after the other."""
    if recipe is not None:
        for held_out in fold or list(FOLDS):
            typer.echo(train_recipe(held_out, recipe, training_data, runs, device))
        return
    if native_only and level:
        raise typer.BadParameter("--native-only trains the native member alone; leave out --level", param_hint="--native-only")
    levels: list[float | None] = [None] if native_only else list(level) if level else [None, *LEVELS]
    for held_out in fold or list(FOLDS):
        for chosen in levels:
            typer.echo(train_one(held_out, chosen, training_data, runs, device))
            sys.stdout.flush()


def fold_of(dataset: str) -> str:
    return next(fold for fold, keys in FOLDS.items() if dataset in keys)


def export_member(held_out_fold: str, level: float | None, runs: Path = RUNS) -> Path:
    """The fold's model at ``level`` as an ONNX family member (written once, beside its run)."""
    folder = run_dir(held_out_fold, level, runs)
    out = folder / f"heldout-{held_out_fold}-{member_name(level)}.onnx"
    if out.is_file():
        return out
    datasets = json.loads((folder / "run.json").read_text())["datasets"]
    member_level = level if level is not None else typical_level(datasets)
    return export_trained_run(folder, out, name=out.stem, cell_class="excitatory", stream_graph=True,
                              description=f"noise benchmark: trained on {', '.join(datasets)}",
                              noise_level=round(member_level, 3))  # fmt: skip


def fold_family(held_out_fold: str, runs: Path = RUNS) -> ens2rt.ModelFamily:
    members = [ens2rt.Model.load(export_member(held_out_fold, level, runs), device="cpu") for level in (None, *LEVELS)]
    return ens2rt.ModelFamily.from_models(f"heldout-{held_out_fold}", members)


def degrade(neuron: Neuron, level: float | None, seed: int) -> Neuron:
    """The neuron's trials with white noise at their native rate lifting each to ν = ``level``."""
    from ens2export.noise import added_noise_std

    if level is None:
        return neuron
    trials = []
    for index, trial in enumerate(neuron.trials):
        rng = np.random.default_rng([seed, index, int(level * 1000)])
        std = added_noise_std(noise_level(trial.dff, trial.frame_rate), level, trial.frame_rate)
        trials.append(Trial(dff=trial.dff + std * rng.standard_normal(trial.dff.size), frame_rate=trial.frame_rate, spike_times=trial.spike_times))
    return Neuron(dataset=neuron.dataset, path=neuron.path, trials=tuple(trials))


def each_condition(dataset: str, ground_truth: Path, score_row) -> dict[str, list[dict]]:
    """``score_row(noisy, neuron)`` for every neuron of ``dataset`` as recorded and degraded to each level (same seeds)."""
    neurons = load_dataset(find_datasets(ground_truth, include=[dataset])[dataset])
    return {member_name(level): [score_row(degrade(neuron, level, seed=int(dataset[2:]) * 1000 + number), neuron)
                                 for number, neuron in enumerate(neurons)]
            for level in (None, *LEVELS)}  # fmt: skip


def score_dataset(dataset: str, ground_truth: Path, runs: Path, hop: int) -> dict:
    """Every neuron of ``dataset`` at every noise condition: recipe model, family, OASIS."""
    from benchmarks.accuracy import oasis_correlation

    family = fold_family(fold_of(dataset), runs)
    recipe = family.members[0]
    started = time.perf_counter()

    def score_row(noisy: Neuron, neuron: Neuron) -> dict:
        levels = scored_trial_levels(noisy)
        alone = predict_neuron(noisy, recipe, hop, spikes=False)
        matched = predict_neuron(noisy, family, hop, spikes=False)  # the runtime picks a member per trial
        return {
            "file": neuron.path.name,
            "noise_levels": [round(float(v), 3) for v in levels],
            "models": [family.members[i].name for i in family.choose(np.array(levels))],
            "recipe": correlation(alone.rate, alone.true_rate),
            "noise_matched": correlation(matched.rate, matched.true_rate),
            "oasis": oasis_correlation(noisy),
        }

    conditions = each_condition(dataset, ground_truth, score_row)
    return {
        "dataset": dataset,
        "held_out_fold": fold_of(dataset),
        "hop": hop,
        "models": {m.name: {"noise_level": m.noise_level, "sha256": m.sha256} for m in family.members},
        "scoring_time_s": round(time.perf_counter() - started, 1),
        "conditions": conditions,
    }


def score_recipe_dataset(dataset: str, recipe: str, ground_truth: Path, runs: Path, members: list[str] | None = None,
                         published_members: bool = False) -> dict:  # fmt: skip
    """Every neuron of ``dataset`` at every noise condition (the same degraded traces), by its fold's ``recipe`` model.

    With ``members`` (noise-member recipes), by the family of the recipe's model and theirs;
    with ``published_members``, by the recipe's model and the published recipe's noise
    members (:func:`mixed_family`). Either way the runtime picks a member per trial from
    its estimated ν, as for the published family.
    """
    fold = fold_of(dataset)
    if published_members:
        model = mixed_family(fold, recipe, runs)
        members = [member_name(level) for level in LEVELS]
    else:
        model = recipe_family(fold, recipe, members, runs) if members else recipe_model(fold, recipe, runs)
    started = time.perf_counter()

    def score_row(noisy: Neuron, neuron: Neuron) -> dict:
        predicted = predict_neuron(noisy, model, ens2rt.DEFAULT_HOP, spikes=False)
        row = {"file": neuron.path.name, "correlation": correlation(predicted.rate, predicted.true_rate)}
        if members:
            levels = scored_trial_levels(noisy)
            row["models"] = [model.members[i].name for i in model.choose(np.array(levels))]
        return row

    conditions = each_condition(dataset, ground_truth, score_row)
    shas = {m.name: m.sha256 for m in model.members} if members else model.sha256
    return {"dataset": dataset, "held_out_fold": fold, "recipe": recipe, "members": list(members or []),
            "published_members": published_members, "model_sha256": shas,
            "scoring_time_s": round(time.perf_counter() - started, 1), "conditions": conditions}  # fmt: skip


@app.command()
def score(
    dataset: Annotated[Optional[list[str]], typer.Option("--dataset", "-d", help="Dataset (repeat); default: all excitatory.")] = None,
    ground_truth: Path = GROUND_TRUTH,
    runs: Path = RUNS,
    hop: int = ens2rt.DEFAULT_HOP,
    results: Path = NOISE_RESULTS,
    force: bool = False,
    recipe: Annotated[Optional[str], typer.Option(help="Score this benchmarks/recipes.py recipe's single models instead.")] = None,
    member: Annotated[Optional[list[str]], typer.Option(help="With --recipe: noise-member variants (repeat) making a family with it.")] = None,
    published_members: Annotated[bool, typer.Option(help="With --recipe: the published recipe's noise members make a family with it.")] = False,
) -> None:
    """Score each dataset with its fold's models at every noise condition (cached per dataset)."""
    if (member or published_members) and recipe is None:
        raise typer.BadParameter("members join a --recipe's model in a family: give --recipe too", param_hint="--member")
    if member and published_members:
        raise typer.BadParameter("either the recipe's own --member models or --published-members, not both", param_hint="--member")
    if recipe is not None:
        folder = results / (mixed_name(recipe) if published_members else family_name(recipe, member) if member else recipe)
        folder.mkdir(parents=True, exist_ok=True)
        for key in dataset or EXCITATORY:
            out = folder / f"{key}.json"
            if not out.is_file() or force:
                result = score_recipe_dataset(key, recipe, ground_truth, runs, member, published_members)
                out.write_text(json.dumps(result, indent=1) + "\n")
                typer.echo(f"{key} ({folder.name}): " + ", ".join(f"{c} {median(r['correlation'] for r in rows):.3f}" for c, rows in result["conditions"].items()))
        return
    results.mkdir(parents=True, exist_ok=True)
    for key in dataset or EXCITATORY:
        out = results / f"{key}.json"
        if out.is_file() and not force:
            continue
        result = score_dataset(key, ground_truth, runs, hop)
        out.write_text(json.dumps(result, indent=1) + "\n")
        summary = ", ".join(
            f"{name} {median(r['recipe'] for r in rows):.3f}/{median(r['noise_matched'] for r in rows):.3f}"
            for name, rows in result["conditions"].items()
        )
        typer.echo(f"{key} (recipe/noise-matched): {summary}")
        sys.stdout.flush()


def recipe_summary(results: dict[str, dict], family: dict) -> dict:
    """A recipe's single models per condition: median of dataset medians, against the family on the same datasets."""
    conditions = {}
    for name, row in family["conditions"].items():
        # at the family's rounding (its per-dataset medians are stored to 4 decimals), so equal scores tie
        mine = {key: round(median(r["correlation"] for r in result["conditions"][name]), 4) for key, result in results.items()}
        theirs = {key: row["per_dataset"][key]["noise_matched"] for key in mine}
        conditions[name] = {
            "correlation": round(median(mine.values()), 4),
            "family_same_datasets": round(median(theirs.values()), 4),
            "datasets_better_than_family": sum(mine[k] > theirs[k] for k in mine),
            "datasets_worse_than_family": sum(mine[k] < theirs[k] for k in mine),
            "per_dataset": {k: round(v, 4) for k, v in mine.items()},
        }
    members = sorted({(tuple(result.get("members", [])), result.get("published_members", False)) for result in results.values()})
    if len(members) > 1:
        raise ValueError(f"datasets scored by different families: {members}; score them again with one set of --member")
    recipes = {result["recipe"] for result in results.values() if "recipe" in result}
    return {"datasets": sorted(results), "recipe": recipes.pop() if len(recipes) == 1 else None, "members": list(members[0][0]),
            "published_members": members[0][1], "conditions": conditions}  # fmt: skip


def summary(results: dict[str, dict]) -> dict:
    """Median over datasets of each dataset's median correlation, per condition and contender."""
    conditions = {}
    for name in [member_name(level) for level in (None, *LEVELS)]:
        per_dataset = {
            key: {c: median(row[c] for row in result["conditions"][name]) for c in ("recipe", "noise_matched", "oasis")}
            for key, result in results.items()
        }
        chosen = [m.rsplit("-", 1)[-1] for result in results.values() for row in result["conditions"][name] for m in row["models"]]
        conditions[name] = {
            **{c: round(median(d[c] for d in per_dataset.values()), 4) for c in ("recipe", "noise_matched", "oasis")},
            "datasets_family_better": sum(d["noise_matched"] > d["recipe"] for d in per_dataset.values()),
            "datasets_family_worse": sum(d["noise_matched"] < d["recipe"] for d in per_dataset.values()),
            "members_chosen": {m: chosen.count(m) for m in sorted(set(chosen))},
            "per_dataset": {k: {c: round(v, 4) for c, v in d.items()} for k, d in per_dataset.items()},
        }
    return {
        "protocol": "two folds of the excitatory datasets (A: every other from DS01, B: the rest); models of one fold "
        "score the other; test traces degraded by white noise at their native rate; median per-neuron correlation",
        "datasets": sorted(results),
        "conditions": conditions,
    }


@app.command()
def table(results: Path = NOISE_RESULTS, out: Path = RESULTS / "noise.md") -> None:
    """Write and print the markdown table of everything scored so far."""
    found = {p.stem: json.loads(p.read_text()) for p in sorted(results.glob("DS*.json"))}
    if not found:
        typer.echo("nothing scored yet", err=True)
        raise typer.Exit(1)
    s = summary(found)
    lines = [
        f"Median over {len(found)} held-out datasets of the median per-neuron correlation "
        "(`python -m benchmarks.noise table`).",
        "",
        "| test noise | recipe model | noise-matched family | difference | OASIS | datasets better / worse | members chosen (trials) |",
        "|---|---|---|---|---|---|---|",
    ]
    corrected = sorted(key for key in found if key in CORRECTED)
    if corrected:  # the fold models here were trained, and these datasets scored, before they carried a fingerprint
        copies = copies_used((key, found[key]) for key in corrected)
        lines[0] += (f" {', '.join(corrected)}: " + "; ".join(f"{GROUND_TRUTH_MARKS[c]} {c}" for c in sorted(copies))
                     + " of their ground truth (CASCADE's 2025 correction is in ../shared; scores on the earlier copies are not "
                     "comparable with new ones, and both folds' models trained on the earlier copies).")  # fmt: skip
    for name, row in s["conditions"].items():
        label = "as recorded" if name == "native" else f"ν = {name[2:]}"
        members = ", ".join(f"{m} {n}" for m, n in row["members_chosen"].items())
        lines.append(
            f"| {label} | {row['recipe']:.3f} | {row['noise_matched']:.3f} | {row['noise_matched'] - row['recipe']:+.3f} "
            f"| {row['oasis']:.3f} | {row['datasets_family_better']} / {row['datasets_family_worse']} | {members} |"
        )
    recipes = {}
    for folder in sorted(p for p in results.iterdir() if p.is_dir()):
        scored = {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("DS*.json")) if p.stem in found}
        if scored:
            recipes[folder.name] = recipe_summary(scored, s)
    if recipes:
        native, exact, shipped = (f"`{folder}`" for folder in reversed(SHIPPED_FAMILY_ROWS.values()))
        lines += ["", "Each table below scores models trained when it was scored, not the family's above: seeded runs differ between "
                  f"machines by a few hundredths, so tables whose models were trained together ({native}, {exact} and "
                  f"{shipped}, for one) compare with each other more closely than with the family above."]  # fmt: skip
    lines += recipe_lines(recipes)
    text = "\n".join(lines) + "\n"
    out.write_text(text)
    (RESULTS / "noise_summary.json").write_text(json.dumps({**s, "recipes": recipes}, indent=1) + "\n")
    typer.echo(text)


@app.command()
def cards() -> None:
    """Put the noise table's scores into the shipped models' cards: an explicit step, after `table`, which writes only tables."""
    path = RESULTS / "noise_summary.json"
    if not path.is_file():
        typer.echo("no noise_summary.json: run `table` first", err=True)
        raise typer.Exit(1)
    summary = json.loads(path.read_text())
    recipes = summary.pop("recipes", {})
    update_cards(summary, recipes)
    update_recipe_cards(recipes)
    typer.echo("updated the cards of the shipped family and of the recipes' shipped models")


def recipe_lines(recipes: dict[str, dict]) -> list[str]:
    """The single models of other recipes beside the family, on the datasets they were scored on."""
    lines = []
    for recipe, r in recipes.items():
        n, members = len(r["datasets"]), r.get("members", [])
        if r.get("published_members"):
            base = recipe.removesuffix("-mixed")
            what = (f"A family of mixed kinds per fold: the `{base}` model as its native member and the published recipe's noise "
                    f"members ({', '.join(members)}) beside it, all trained on the same half, the runtime picking one per trial "
                    f"by its estimated ν (`python -m benchmarks.noise score --recipe {base} --published-members`)")  # fmt: skip
        elif members:
            base = r.get("recipe") or recipe.removesuffix("-family")
            what = (f"The `{base}` family per fold: its model and {', '.join(f'`{m}`' for m in members)}, each trained on the same "
                    f"half, the runtime picking one per trial by its estimated ν (`python -m benchmarks.noise score --recipe {base} "
                    + " ".join(f"--member {m}" for m in members) + "`)")  # fmt: skip
        else:
            what = f"One `{recipe}` model per fold, same folds and traces (`python -m benchmarks.noise score --recipe {recipe}`)"
        lines += ["", f"{what}, {n} of {len(EXCITATORY)} datasets; the family's median over the same datasets beside it.", "",
                  f"| test noise | {recipe} | noise-matched family | difference | datasets better / worse |", "|---|---|---|---|---|"]  # fmt: skip
        for name, row in r["conditions"].items():
            label = "as recorded" if name == "native" else f"ν = {name[2:]}"
            lines.append(f"| {label} | {row['correlation']:.3f} | {row['family_same_datasets']:.3f} | "
                         f"{row['correlation'] - row['family_same_datasets']:+.3f} | "
                         f"{row['datasets_better_than_family']} / {row['datasets_worse_than_family']} |")  # fmt: skip
    return lines


# The rows of the family ``ens2-exc`` ships (its ν = 2 member trained over ν 1–3), of the same
# family with the exact ν = 2 member, and of its native member alone, all trained in one session.
SHIPPED_FAMILY_ROWS = {"family": "windowed-family+band2+nu4+nu6+nu8", "family_with_exact_nu2_member": "windowed-family",
                       "native_member_alone": "windowed"}  # fmt: skip


def shipped_family_entry(scores: dict, recipes: dict[str, dict]) -> dict | None:
    """The card entry of the shipped ``ens2-exc`` family's benchmark (None until its rows are scored), OASIS beside it."""
    if not all(folder in recipes for folder in SHIPPED_FAMILY_ROWS.values()):
        return None
    return {
        "note": "the family as it ships (its ν = 2 member trained over ν 1–3), each member trained with its recipe on one half "
        "of the excitatory datasets and scored on the other half as recorded and degraded to each level; beside it the same "
        "family with the exact ν = 2 member and the native member alone, trained in the same session, and OASIS on the "
        "same traces; this model itself saw every dataset",
        "command": "python -m benchmarks.noise table",
        "protocol": scores["protocol"],
        "median_of_dataset_medians": {
            condition: {**{key: recipes[folder]["conditions"][condition]["correlation"] for key, folder in SHIPPED_FAMILY_ROWS.items()},
                        "oasis": row["oasis"]}
            for condition, row in scores["conditions"].items()
        },
    }  # fmt: skip


def update_cards(scores: dict, recipes: dict[str, dict], models: Path = REPO / "models") -> None:
    """Put the shipped family's benchmark into the card of every ``ens2-exc`` member, and take it out of
    any other card that holds it (a model that left the family, as ``ens2-exc-nu2`` did)."""
    from ens2rt.catalog.manifest import FAMILIES_FOLDER, read_manifest

    entry = shipped_family_entry(scores, recipes)
    if entry is None:
        typer.echo(f"the shipped family's rows ({', '.join(SHIPPED_FAMILY_ROWS.values())}) are not all scored: cards left as they are", err=True)
        return
    members = read_manifest(models / FAMILIES_FOLDER / "ens2-exc.json").model_names
    for card_path in sorted(models.glob("*.json")):
        card = json.loads(card_path.read_text())
        if card_path.stem in members:
            put_scores_in_card(card_path, {"noise_matched_family": entry})
        elif "noise_matched_family" in card.get("scores", {}):
            put_scores_in_card(card_path, {}, drop=("noise_matched_family",))


def update_recipe_cards(recipes: dict[str, dict], models: Path = REPO / "models") -> list[Path]:
    """Put each shipped recipe's noise benchmark (one model of it per fold) into the card of the model shipped with it."""
    from benchmarks.accuracy import SHIPPED_RECIPES, seeds_note

    written = []
    for recipe, shipped in SHIPPED_RECIPES.items():
        model = shipped.get("excitatory")  # the noise benchmark scores excitatory datasets only
        if recipe not in recipes or model is None or not (models / f"{model}.json").is_file():
            continue
        r = recipes[recipe]
        put_scores_in_card(models / f"{model}.json", {"noise_benchmark_of_the_recipe": {
            "note": "one model of this card's recipe per fold, trained on one half of the excitatory datasets and scored on "
            "the other half as recorded and degraded to each level; this model itself saw every dataset"
            + seeds_note(models / f"{model}.json"),
            "command": "python -m benchmarks.noise table",
            "datasets": r["datasets"],
            "median_of_dataset_medians": {condition: {"this_recipe": row["correlation"], "ens2_exc_family_same_datasets": row["family_same_datasets"]}
                                          for condition, row in r["conditions"].items()},
        }})  # fmt: skip
        written.append(models / f"{model}.json")
    return written


if __name__ == "__main__":
    app()
