"""Leave-one-dataset-out accuracy of ens2rt against ground truth, beside ENS² and OASIS.

    python -m benchmarks.accuracy run --dataset DS09 --dataset DS31   # some datasets
    python -m benchmarks.accuracy run                                 # all excitatory
    python -m benchmarks.accuracy run --dataset DS22 ... --dataset DS27   # the inhibitory ones
    python -m benchmarks.accuracy table                               # the markdown table
    python -m benchmarks.accuracy cards                               # then, on purpose: scores into the cards
    python -m benchmarks.accuracy run --recipe conv-noise-distil1 -d DS09     # another recipe, beside it

For each held-out dataset D a model is trained with the published recipe on every
other dataset of D's cell class (excitatory DS01-DS21, DS29, DS31; inhibitory
DS22-DS27) (``benchmarks/cache/runs/loo-D``; `train` can do this elsewhere, e.g. on a
GPU, from an `ens2export prepare` folder), exported to ONNX, run through
``ens2rt.infer`` on D and scored per neuron. Results are cached per dataset in
``benchmarks/results/loo/D.json``, so a sweep resumes where it stopped. An inhibitory
dataset is also run through ENS²'s published Inh weights (``ens2-published-inh``), which
were trained on all six inhibitory datasets: that column is *not* held out.

``--recipe NAME`` trains and scores with another recipe of ``benchmarks/recipes.py``
(e.g. ``conv-noise-distil1``, chosen there on validation folds) under the same protocol: run
folders ``loo-NAME-D``, results in ``benchmarks/results/loo/NAME/``, and a column beside
the published recipe's in the excitatory table.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer

import ens2rt
from ens2export.dataset import WindowSource, concatenate, load_windows
from ens2export.groundtruth import find_datasets, load_dataset
from ens2rt.scoring import correlation, smooth_spike_counts
from ens2export.train import TrainSettings, save_run, train

from benchmarks.common import (
    CORRECTED,
    ENS2_REPORTED,
    GROUND_TRUTH_MARKS,
    EXCITATORY,
    GROUND_TRUTH,
    INHIBITORY,
    REPO,
    RESULTS,
    RUNS,
    export_trained_run,
    ground_truth_copy,
    ground_truth_fingerprint,
    ground_truth_note,
    median,
    predict_neuron,
    noise_rate_scale,
    put_scores_in_card,
    score_prediction,
)
from benchmarks.recipes import VARIANTS

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
LOO_RESULTS = RESULTS / "loo"
DATASET_FACTS = REPO / "research" / "results" / "recipe" / "datasets.json"  #: each dataset's typical ν and frame rate (`python -m research.recipe dataset-facts`)
PUBLISHED = "published"
POOLS = {"excitatory": EXCITATORY, "inhibitory": INHIBITORY}  #: cell class: its datasets
POOL_FIELDS = {"training_pool", "other_class_share"}  #: recipe fields that choose training datasets (leave-one-out only)
#: recipe: {cell class: the shipped model trained with it on all data of that class, whose card cites its table}
SHIPPED_RECIPES = {"conv-noise-distil1": {"excitatory": "ens2-exc-conv", "inhibitory": "ens2-inh-conv"}}
Datasets = Annotated[Optional[list[str]], typer.Option("--dataset", "-d", help="Held-out dataset (repeat); default: all excitatory.")]
Recipe = Annotated[str, typer.Option(help="published, or a recipe of benchmarks/recipes.py (e.g. conv-noise-distil1).")]


def seed_ensemble(recipe: str) -> tuple[str, int] | None:
    """``(base, n)`` for a seed ensemble ``<base>-x<n>`` (the rates of the base recipe's seeds 0 … n−1 averaged), else ``None``."""
    base, _, n = recipe.rpartition("-x")
    return (base, int(n)) if base and n.isdigit() and int(n) >= 2 else None


def recipe_fields(recipe: str) -> dict:
    """TrainSettings fields of ``recipe`` (a copy): the published recipe's defaults, or a validated variant's (or its seed ensemble's)."""
    if (ensemble := seed_ensemble(recipe)) is not None:
        return recipe_fields(ensemble[0])
    if recipe == PUBLISHED:
        return {}
    if recipe not in VARIANTS:
        raise typer.BadParameter(f"{recipe!r} is neither {PUBLISHED!r} nor a recipe of benchmarks/recipes.py", param_hint="--recipe")
    return dict(VARIANTS[recipe][0])


def refuse_training_pool(recipe: str, protocol: str, fields: dict | None = None) -> None:
    """Refuse a recipe that names its own training pool (leave-one-out only) in ``protocol``, whose folds fix the pool.

    ``fields``: the recipe's settings where it is not one of benchmarks/recipes.py (a research variant's).
    """
    if POOL_FIELDS & set(recipe_fields(recipe) if fields is None else fields):
        raise typer.BadParameter(f"{recipe} chooses its training datasets, which only the leave-one-out benchmark "
                                 f"(accuracy.py train) honours; {protocol} fixes them per fold", param_hint="--recipe")  # fmt: skip


def learns_from_one_teacher(recipe: str, protocol: str) -> bool:
    """Whether ``recipe`` is distilled; refuses an ensemble teacher, for which ``protocol`` has one published model per split."""
    teacher_run = recipe_fields(recipe).get("teacher_run")
    if teacher_run is not None and not isinstance(teacher_run, str):
        raise typer.BadParameter(f"{recipe} learns from an ensemble of teachers; {protocol} has one published model per "
                                 "split, so it runs on the validation folds only (research/recipe.py)", param_hint="--recipe")  # fmt: skip
    return teacher_run is not None


def recipe_text(recipe: str) -> str:
    """What ``recipe`` is, in words (benchmarks/recipes.py's description of the variant)."""
    if (ensemble := seed_ensemble(recipe)) is not None:
        return f"the rates of {ensemble[1]} seeds of `{ensemble[0]}` averaged (one model, `ens2export.ensemble`)"
    return VARIANTS[recipe][1] if recipe in VARIANTS else recipe


def run_dir(held_out: str, runs: Path, recipe: str = PUBLISHED, seed: int = 0) -> Path:
    """The run folder of ``recipe``'s leave-``held_out``-out model trained with ``seed`` (seed 0 keeps the sweep's first names)."""
    name = f"loo-{held_out}" if recipe == PUBLISHED else f"loo-{recipe}-{held_out}"
    return runs / (name if seed == 0 else f"{name}-s{seed}")


def member_runs(held_out: str, runs: Path, recipe: str = PUBLISHED) -> list[Path]:
    """The run folders a recipe's leave-``held_out``-out model is made of: one, or a seed ensemble's members."""
    ensemble = seed_ensemble(recipe)
    if ensemble is None:
        return [run_dir(held_out, runs, recipe)]
    return [run_dir(held_out, runs, ensemble[0], seed) for seed in range(ensemble[1])]


def results_dir(recipe: str = PUBLISHED) -> Path:
    return LOO_RESULTS if recipe == PUBLISHED else LOO_RESULTS / recipe


def cell_class(dataset: str) -> str:
    """excitatory or inhibitory: whose models a held-out dataset's model is trained like."""
    if dataset in INHIBITORY:
        return "inhibitory"
    if dataset in EXCITATORY:
        return "excitatory"
    raise typer.BadParameter(f"{dataset} is in neither the excitatory nor the inhibitory datasets", param_hint="--dataset")


def training_windows(
    held_out: str, training_data: Path, resampler: str, pool: str | None = None, other_class_share: float | None = None
) -> WindowSource:
    """The windows a leave-``held_out``-out model trains on: its pool (:func:`training_pool`) but ``held_out``.

    ``other_class_share``: the share of windows from the other cell class (pool ``"all"`` only), each of its trials cut
    to its first part (``WindowSource.trial_heads``) so every neuron stays; ``None`` keeps every window.
    """
    chosen = training_pool(held_out, pool)
    if other_class_share is None:
        return load_windows(training_data, include=chosen, exclude=[held_out], resampler=resampler)
    if pool != "all" or not 0.0 < other_class_share < 1.0:
        raise ValueError(f"other_class_share {other_class_share!r}: a share in (0, 1) of a pool of both classes ('all')")
    own_class = POOLS[cell_class(held_out)]
    own = load_windows(training_data, include=own_class, exclude=[held_out], resampler=resampler)
    other = load_windows(training_data, include=[d for d in chosen if d not in own_class], exclude=[held_out], resampler=resampler)
    fraction = other_class_share / (1.0 - other_class_share) * own.n_windows / other.n_windows
    return concatenate([own, other.trial_heads(min(1.0, fraction))])


def training_pool(dataset: str, pool: str | None = None) -> list[str]:
    """The datasets of ``dataset``'s cell class, or with ``pool="all"`` of both classes; ``dataset`` among them (train_one leaves it out)."""
    if pool == "all":
        return EXCITATORY + INHIBITORY
    if pool is not None:
        raise ValueError(f"training_pool {pool!r}: a recipe's pool is 'all' or absent (the held-out dataset's cell class)")
    return POOLS[cell_class(dataset)]


def train_one(
    held_out: str, training_data: Path, runs: Path, device: str, seed: int, max_steps: int | None, patience: int | None, recipe: str = PUBLISHED
) -> str:
    """Train the leave-``held_out``-out model with ``recipe`` unless its run folder already exists.

    ``max_steps``/``patience``: ``None`` keeps the recipe's (published: 5000 and 500).
    """
    if seed_ensemble(recipe) is not None:
        raise typer.BadParameter(f"{recipe} is a seed ensemble: train its members with `train --recipe {recipe}`", param_hint="--recipe")
    out = run_dir(held_out, runs, recipe, seed)
    if (out / "run.json").is_file():
        return f"{held_out}: cached"
    fields = {**recipe_fields(recipe), **{k: v for k, v in (("max_steps", max_steps), ("patience", patience)) if v is not None}}
    fields.pop("teacher_run", None)
    pool, share = fields.pop("training_pool", None), fields.pop("other_class_share", None)
    if learns_from_one_teacher(recipe, "leave-one-out"):  # the published recipe's model of this split teaches (it never saw held_out)
        if not (run_dir(held_out, runs) / "run.json").is_file():
            raise typer.BadParameter(f"{recipe} learns from the published recipe's leave-{held_out}-out model: train that first "
                                     f"(accuracy.py train -d {held_out})", param_hint="--recipe")  # fmt: skip
        fields["teacher"] = str(export_run(held_out, runs))
    settings = TrainSettings(seed=seed, **fields)
    source = training_windows(held_out, training_data, settings.resampler, pool, share)
    result = train(source, settings, device=device)
    limits = "".join(f" --{k.replace('_', '-')} {v}" for k, v in (("max_steps", max_steps), ("patience", patience)) if v is not None)
    command = f"python -m benchmarks.accuracy train -d {held_out} --recipe {recipe} --training-data {training_data} --device {device} --seed {seed}{limits} --runs {runs}"
    save_run(out, source, settings, result, command)
    return f"{held_out}: {result.steps} steps, {result.wall_time_s:.0f} s on {result.device}, loss {result.losses[-1]:.5f}"


@app.command("train")
def train_command(
    dataset: Datasets = None,
    training_data: Annotated[Path, typer.Option(help="Ground truth or an `ens2export prepare` folder.")] = GROUND_TRUTH,
    runs: Annotated[Path, typer.Option(help="Where the leave-one-out run folders go.")] = RUNS,
    device: str = "auto",
    workers: Annotated[int, typer.Option(help="Models trained at once (worth it on a GPU).")] = 1,
    seed: int = 0,
    max_steps: Annotated[Optional[int], typer.Option(help="Default: the recipe's (published 5000); fewer only to smoke-test.")] = None,
    patience: Annotated[Optional[int], typer.Option(help="Default: the recipe's (published 500 steps without a better loss).")] = None,
    recipe: Recipe = PUBLISHED,
) -> None:
    """Train the leave-one-dataset-out models; skips those already trained. A seed ensemble (``<recipe>-x<n>``) trains seeds 0 … n−1."""
    recipe_fields(recipe)  # an unknown recipe fails before any training
    if (ensemble := seed_ensemble(recipe)) is not None:
        for member_seed in range(ensemble[1]):
            train_command(dataset, training_data, runs, device, workers, member_seed, max_steps, patience, ensemble[0])
        return
    held_out = [key for key in dataset or EXCITATORY if not (run_dir(key, runs, recipe, seed) / "run.json").is_file()]
    if workers == 1:
        for key in held_out:
            typer.echo(train_one(key, training_data, runs, device, seed, max_steps, patience, recipe))
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        jobs = [(training_data, runs, device, seed, max_steps, patience, recipe)] * len(held_out)
        for line in pool.map(train_one, held_out, *zip(*jobs)):
            typer.echo(line)


def export_run(held_out: str, runs: Path, recipe: str = PUBLISHED) -> Path:
    """The leave-``held_out``-out model of ``recipe`` as ONNX (a seed ensemble: its members in one graph)."""
    folders = member_runs(held_out, runs, recipe)
    missing = [folder for folder in folders if not (folder / "run.json").is_file()]
    if missing:
        raise typer.BadParameter(f"no trained run in {missing[0]}; run `accuracy.py train -d {held_out} --recipe {recipe}` first",
                                 param_hint="--recipe")  # fmt: skip
    name = run_dir(held_out, runs, recipe).name
    out = folders[0] / f"{name}.onnx"
    return export_trained_run(folders if len(folders) > 1 else folders[0], out, name=name, cell_class=cell_class(held_out),
                              description=f"ENS2 {recipe} recipe, all {cell_class(held_out)} datasets but {held_out}")  # fmt: skip


def oasis_correlation(neuron) -> float:
    """OASIS (AR(1), L1 penalty) on each trial, its spikes put on the 60 Hz grid and smoothed like the truth."""
    from ens2rt.scoring import true_rate_at_60hz
    from oasis.functions import deconvolve

    predicted, truth = [], []
    for trial in neuron.trials:
        n_out = round(trial.dff.size * 60.0 / trial.frame_rate)
        if n_out < 96:
            continue
        _, spikes, *_ = deconvolve(trial.dff.astype(np.float64), penalty=1)
        frame_bins = np.floor(np.arange(trial.dff.size) / trial.frame_rate * 60.0 + 0.5).astype(int)
        keep = frame_bins < n_out
        predicted.append(smooth_spike_counts(np.bincount(frame_bins[keep], weights=spikes[keep], minlength=n_out)))
        truth.append(true_rate_at_60hz(trial.spike_times, n_out))
    return correlation(np.concatenate(predicted), np.concatenate(truth))


def score_one(held_out: str, ground_truth: Path, runs: Path, hop: int, recipe: str = PUBLISHED) -> dict:
    model = ens2rt.Model.load(export_run(held_out, runs, recipe), device="cpu")
    folder = find_datasets(ground_truth, include=[held_out])[held_out]
    neurons = load_dataset(folder)
    started = time.perf_counter()
    published = ens2rt.Model.load("ens2-published-inh", device="cpu") if cell_class(held_out) == "inhibitory" else None
    rows = []
    for neuron in neurons:
        scores = score_prediction(predict_neuron(neuron, model, hop))
        scores["oasis_correlation"] = oasis_correlation(neuron)
        if published is not None:  # trained on this dataset: a reference, not a held-out score
            scores["published_inh_correlation"] = score_prediction(predict_neuron(neuron, published, hop, spikes=False))["correlation"]
        rows.append({"file": neuron.path.name, **scores})
    infos = [json.loads((folder / "run.json").read_text()) for folder in member_runs(held_out, runs, recipe)]
    info = infos[0]
    return {
        "dataset": held_out,
        "recipe": recipe,
        "hop": hop if model.contract.kind == "windowed" else None,
        "resampler": ens2rt.engine.resample.DEFAULT_RESAMPLER,
        "model_sha256": model.sha256,
        "training": {k: info[k] for k in ("datasets", "steps", "final_loss", "device", "wall_time_s", "command", "git_commit")},
        **({} if len(infos) == 1 else {"members": [{k: member[k] for k in ("steps", "final_loss", "wall_time_s", "command")} for member in infos]}),
        "scoring_time_s": round(time.perf_counter() - started, 1),
        "ground_truth_sha256": ground_truth_fingerprint(folder),
        "neurons": rows,
    }


@app.command()
def score(
    dataset: Datasets = None,
    ground_truth: Path = GROUND_TRUTH,
    runs: Path = RUNS,
    hop: int = ens2rt.DEFAULT_HOP,
    force: bool = False,
    recipe: Recipe = PUBLISHED,
) -> None:
    """Score each trained leave-one-out model on its held-out dataset (cached per dataset)."""
    recipe_fields(recipe)
    results = results_dir(recipe)
    results.mkdir(parents=True, exist_ok=True)
    for key in dataset or EXCITATORY:
        out = results / f"{key}.json"
        if out.is_file() and not force:
            continue
        if not all((folder / "run.json").is_file() for folder in member_runs(key, runs, recipe)):
            typer.echo(f"{key}: no trained model in {runs}; run `train` first", err=True)
            continue
        result = score_one(key, ground_truth, runs, hop, recipe)
        out.write_text(json.dumps(result, indent=1) + "\n")
        typer.echo(f"{key}: median r {median(n['correlation'] for n in result['neurons']):.3f} over {len(result['neurons'])} neurons")


@app.command()
def run(dataset: Datasets = None, ground_truth: Path = GROUND_TRUTH, device: str = "auto", recipe: Recipe = PUBLISHED) -> None:
    """Train (if needed), score and tabulate the chosen held-out datasets."""
    train_command(dataset=dataset, training_data=ground_truth, device=device, recipe=recipe)
    score(dataset=dataset, ground_truth=ground_truth, recipe=recipe)
    table()


def load_results(recipe: str = PUBLISHED) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(results_dir(recipe).glob("DS*.json"))}


def other_recipes() -> list[str]:
    """Recipes besides the published one with leave-one-out results."""
    return sorted(p.name for p in LOO_RESULTS.iterdir() if p.is_dir() and any(p.glob("DS*.json"))) if LOO_RESULTS.is_dir() else []


def summary(results: dict[str, dict], cells: str = "excitatory", recipe: str = PUBLISHED) -> dict:
    """Per-dataset medians of one cell class and the median of dataset medians, for README and model cards."""
    results = {key: result for key, result in results.items() if cell_class(key) == cells}
    metrics = ["correlation", "error", "bias", "er_50ms", "victor_purpura", "oasis_correlation"]
    metrics += ["published_inh_correlation"] if cells == "inhibitory" else []
    per_dataset = {}
    for key, result in results.items():
        neurons = result["neurons"]
        per_dataset[key] = {"neurons": len(neurons), **{m: round(median(n[m] for n in neurons), 4) for m in metrics}}
        if key in CORRECTED:
            per_dataset[key]["ground_truth"] = ground_truth_copy(key, result.get("ground_truth_sha256"))
    common = {
        "protocol": f"leave-one-dataset-out over the {cells} datasets; {recipe} training recipe; median per-neuron scores",
        **({"count_ratio": ratios} if (ratios := count_ratio(results)) else {}),
        "hop": sorted({r["hop"] for r in results.values() if r.get("hop") is not None}),
        "resampler": sorted({r["resampler"] for r in results.values()}),
        "oasis": "oasis-deconv deconvolve(dff, penalty=1) per trial (AR(1), defaults), spikes smoothed like the truth",
        "per_dataset": per_dataset,
    }
    if cells == "inhibitory":

        def over_datasets(metric: str) -> float | None:
            return round(median(row[metric] for row in per_dataset.values()), 4) if per_dataset else None

        return {
            **common,
            "published_inh": "ENS2's published Inh weights (ens2-published-inh), trained on all six inhibitory datasets: not held out",
            "median_of_medians": over_datasets("correlation"),
            "oasis_same_datasets": over_datasets("oasis_correlation"),
            "published_inh_same_datasets": over_datasets("published_inh_correlation"),
        }
    classic = [k for k in per_dataset if k in ENS2_REPORTED]
    return {
        **common,
        "recipe": recipe,
        "ahead_of_ens2": sum(per_dataset[k]["correlation"] > ENS2_REPORTED[k] for k in classic),
        "median_of_medians_ds02_ds21": round(median(per_dataset[k]["correlation"] for k in classic), 4) if classic else None,
        "ens2_reported_same_datasets": round(median(ENS2_REPORTED[k] for k in classic), 4) if classic else None,
        "oasis_same_datasets": round(median(per_dataset[k]["oasis_correlation"] for k in classic), 4) if classic else None,
    }


def dataset_label(key: str, row: dict | None) -> str:
    return key + (GROUND_TRUTH_MARKS[row["ground_truth"]] if row and "ground_truth" in row else "")


COUNT_RATIO_MIN_SPIKES = 10  #: neurons with fewer recorded spikes give too coarse a ratio


def count_ratio(results: dict[str, dict]) -> dict | None:
    """Quantiles over held-out neurons of inferred / recorded spikes: what a result's count interval is made from
    (``ens2rt`` reads them from the card: the recorded count lies in [N / q90, N / q10] for 80 % of these neurons)."""
    ratios = [n["n_predicted_spikes"] / n["n_true_spikes"] for r in results.values() for n in r["neurons"]
              if n.get("n_true_spikes", 0) >= COUNT_RATIO_MIN_SPIKES and "n_predicted_spikes" in n]  # fmt: skip
    if len(ratios) < 20:
        return None
    q10, q50, q90 = (round(float(v), 3) for v in np.quantile(ratios, [0.1, 0.5, 0.9]))
    return {"q10": q10, "q50": q50, "q90": q90, "neurons": len(ratios), "datasets": len(results),
            "what": f"inferred / recorded spikes per held-out neuron with at least {COUNT_RATIO_MIN_SPIKES} recorded spikes"}


def excitatory_lines(s: dict, others: dict[str, dict] | None = None) -> list[str]:
    """The excitatory table: the published recipe's scores, and ``others`` (recipe: summary) in columns beside them."""
    others = others or {}
    extra_head = "".join(f" {name} r | {name} bias |" for name in others)
    lines = [
        f"| held-out dataset | neurons | ens2rt r | ENS² reported r | OASIS r | ER 50 ms | bias | VP / spike |{extra_head}",
        "|---|---|---|---|---|---|---|---|" + "---|---|" * len(others),
    ]
    for key, row in s["per_dataset"].items():
        reported = f"{ENS2_REPORTED[key]:.3f}" if key in ENS2_REPORTED else "not seen by ENS²"
        extra = ""
        for other in others.values():
            cell = other["per_dataset"].get(key)
            mark = GROUND_TRUTH_MARKS[cell["ground_truth"]] if cell and cell.get("ground_truth") != row.get("ground_truth") else ""
            extra += f" {cell['correlation']:.3f}{mark} | {cell['bias']:+.3f} |" if cell else " not run | |"
        lines.append(
            f"| {dataset_label(key, row)} | {row['neurons']} | {row['correlation']:.3f} | {reported} | {row['oasis_correlation']:.3f} "
            f"| {row['er_50ms']:.3f} | {row['bias']:+.3f} | {row['victor_purpura']:.3f} |{extra}"
        )
    if s["median_of_medians_ds02_ds21"] is not None:
        done = len([k for k in s["per_dataset"] if k in ENS2_REPORTED])
        extra = ""
        for other in others.values():
            covered = len([k for k in other["per_dataset"] if k in ENS2_REPORTED])
            value = other["median_of_medians_ds02_ds21"]
            extra += f" **{value:.3f}** ({covered} of 20; ahead of ENS² on {other['ahead_of_ens2']}) | |" if value is not None else " | |"
        lines.append(
            f"| **median, {done} of DS02–DS21** | | "
            f"**{s['median_of_medians_ds02_ds21']:.3f}** | **{s['ens2_reported_same_datasets']:.3f}** | "
            f"**{s['oasis_same_datasets']:.3f}** | | | |{extra}"
        )
    return lines + ground_truth_note({row["ground_truth"] for x in (s, *others.values()) for row in x["per_dataset"].values() if "ground_truth" in row})


def head_to_head(published: dict, other: dict) -> dict:
    """``other`` recipe against the published recipe on the held-out datasets both have run.

    Counts datasets where its median r is higher / lower, and gives both recipes' median and
    mean r and median |bias| over exactly those datasets (with few datasets run, the mean is
    the steadier of the two).
    """
    both = [k for k in other["per_dataset"] if k in published["per_dataset"]]
    mine, theirs = ([table["per_dataset"][k] for k in both] for table in (other, published))
    r_mine, r_theirs = [row["correlation"] for row in mine], [row["correlation"] for row in theirs]
    return {
        "datasets": len(both),
        "ahead": sum(a > b for a, b in zip(r_mine, r_theirs)),
        "behind": sum(a < b for a, b in zip(r_mine, r_theirs)),
        "median_r": round(median(r_mine), 4),
        "published_median_r": round(median(r_theirs), 4),
        "mean_r": round(float(np.mean(r_mine)), 4) if both else None,
        "published_mean_r": round(float(np.mean(r_theirs)), 4) if both else None,
        "median_abs_bias": round(median(abs(row["bias"]) for row in mine), 4),
        "published_median_abs_bias": round(median(abs(row["bias"]) for row in theirs), 4),
    }


def head_to_head_lines(published: dict, others: dict[str, dict]) -> list[str]:
    """One sentence per other recipe: how it does against the published recipe on the same held-out datasets."""
    lines = []
    for name, other in others.items():
        h = head_to_head(published, other)
        if h["datasets"]:
            lines.append(f"- `{name}` against the published recipe on the {h['datasets']} held-out datasets both have run: "
                         f"ahead on {h['ahead']}, behind on {h['behind']}; "
                         f"median r {h['median_r']:.3f} against {h['published_median_r']:.3f}, "
                         f"mean r {h['mean_r']:.3f} against {h['published_mean_r']:.3f}, "
                         f"median |bias| {h['median_abs_bias']:.2f} against {h['published_median_abs_bias']:.2f}.")  # fmt: skip
    return lines


def noise_scale_check(s: dict, levels: dict[str, float]) -> dict | None:
    """Median and largest bias of ``s`` (an excitatory summary) as trained and with a rate scale c · ν^slope.

    The scale is ``benchmarks/common.py``'s ``noise_rate_scale``, chosen by ``research/recipe.py`` on validation
    folds; here each held-out dataset's c and slope are fitted on the other datasets'
    median biases in ``s`` (ν: ``levels``, the dataset's typical noise level), so no
    dataset's own bias sets its scale. ``None`` when fewer than three datasets have a ν.
    """
    rows = {key: row["bias"] for key, row in s["per_dataset"].items() if key in levels and np.isfinite(row["bias"])}
    if len(rows) < 3:
        return None
    scaled = []
    for key, bias in rows.items():
        others = [other for other in rows if other != key]
        factor, slope = noise_rate_scale([rows[o] for o in others], [levels[o] for o in others])
        scaled.append(factor * levels[key] ** slope * (1 + bias) - 1)
    raw = list(rows.values())
    return {"datasets": len(rows), "median_abs_bias": median(np.abs(raw)), "scaled_median_abs_bias": median(np.abs(scaled)),
            "largest_bias": max(raw), "scaled_largest_bias": max(scaled)}  # fmt: skip


def noise_scale_lines(summaries: dict[str, dict], levels: dict[str, float]) -> list[str]:
    """One sentence per recipe (``summaries``: recipe: excitatory summary) on :func:`noise_scale_check`."""
    lines = []
    for name, s in summaries.items():
        check = noise_scale_check(s, levels)
        if check is not None:
            lines.append(f"- `{name}` with a rate scale c · ν^slope fitted on the other held-out datasets ({check['datasets']} in all): "
                         f"median |bias| {check['median_abs_bias']:.2f} as trained, {check['scaled_median_abs_bias']:.2f} scaled; "
                         f"largest bias {check['largest_bias']:+.2f}, {check['scaled_largest_bias']:+.2f} scaled.")  # fmt: skip
    if lines:
        lines = ["Spike counts with the noise-following rate scale of `research/recipe.py` (`noise_rate_scale`, ν from",
                 "`recipe.py dataset-facts`): each dataset's scale is fitted on the other datasets' biases in this table (whose",
                 "models did see it in training; its own bias sets nothing).", ""] + lines  # fmt: skip
    return lines


def inhibitory_lines(s: dict, others: dict[str, dict] | None = None) -> list[str]:
    """The inhibitory table: the published recipe's scores, and ``others`` (recipe: inhibitory summary) in columns beside them."""
    others = {name: other for name, other in (others or {}).items() if other["per_dataset"]}
    lines = [
        "## Inhibitory datasets",
        "",
        "Each model trained with the published recipe on the other five of DS22–DS27. The ENS² Inh column is the",
        "published Inh network, trained on all six: it has seen the dataset it is scored on, so it is a reference,",
        "not a held-out score." + (" Other recipes' models are trained on the same five." if others else ""),
        "",
        "| held-out dataset | neurons | ens2rt r | ENS² Inh weights r (trained on it) | OASIS r | ER 50 ms | bias | VP / spike |"
        + "".join(f" {name} r | {name} bias |" for name in others),
        "|---|---|---|---|---|---|---|---|" + "---|---|" * len(others),
    ]
    for key, row in s["per_dataset"].items():
        extra = "".join(f" {cell['correlation']:.3f} | {cell['bias']:+.3f} |" if (cell := other["per_dataset"].get(key)) else " not run | |"
                        for other in others.values())  # fmt: skip
        lines.append(
            f"| {key} | {row['neurons']} | {row['correlation']:.3f} | {row['published_inh_correlation']:.3f} "
            f"| {row['oasis_correlation']:.3f} | {row['er_50ms']:.3f} | {row['bias']:+.3f} | {row['victor_purpura']:.3f} |{extra}"
        )
    done = len(s["per_dataset"])
    extra = "".join(f" **{other['median_of_medians']:.3f}** ({len(other['per_dataset'])} of {len(INHIBITORY)}) | |" for other in others.values())
    lines.append(
        f"| **median, {done} of {len(INHIBITORY)}** | | **{s['median_of_medians']:.3f}** | "
        f"**{s['published_inh_same_datasets']:.3f}** | **{s['oasis_same_datasets']:.3f}** | | | |{extra}"
    )
    return lines


@app.command()
def table(out: Path = RESULTS / "accuracy.md") -> None:
    """Write and print the markdown tables of everything scored so far."""
    results = load_results()
    if not results:
        typer.echo("nothing scored yet", err=True)
        raise typer.Exit(1)
    excitatory, inhibitory = summary(results), summary(results, "inhibitory")
    others = {recipe: summary(load_results(recipe), recipe=recipe) for recipe in other_recipes()}
    inhibitory_others = {recipe: summary(load_results(recipe), "inhibitory", recipe) for recipe in other_recipes()}
    lines = excitatory_lines(excitatory, others)
    if others:
        lines += ["", "Other recipes (columns beside the published one): " + "; ".join(
            f"`{name}`: {recipe_text(name)}, trained on the other excitatory datasets as above, "
            f"{len(other['per_dataset'])} of {len(EXCITATORY)} held-out datasets run" for name, other in others.items())
            + ". Each was tried on the validation folds of `research/recipe.py` first (`research/results/recipe.md` says which passed"
            " its rule), none chosen on this table."]  # fmt: skip
        lines += [""] + head_to_head_lines(excitatory, others)
    if DATASET_FACTS.is_file():
        levels = {key: facts["noise_level"] for key, facts in json.loads(DATASET_FACTS.read_text()).items()}
        lines += [""] + noise_scale_lines({PUBLISHED: excitatory, **others}, levels)
    if inhibitory["per_dataset"]:
        lines += [""] + inhibitory_lines(inhibitory, inhibitory_others)
        compared = {name: other for name, other in inhibitory_others.items() if other["per_dataset"]}
        if compared:
            lines += [""] + head_to_head_lines(inhibitory, compared)
    text = "\n".join(lines) + "\n"
    out.write_text(text)
    (RESULTS / "accuracy_summary.json").write_text(json.dumps(excitatory, indent=1) + "\n")
    if inhibitory["per_dataset"]:
        (RESULTS / "accuracy_summary_inhibitory.json").write_text(json.dumps(inhibitory, indent=1) + "\n")
    for recipe in others:
        for other, suffix in ((others[recipe], ""), (inhibitory_others[recipe], "_inhibitory")):
            if other["per_dataset"]:
                (RESULTS / f"accuracy_summary_{recipe}{suffix}.json").write_text(json.dumps(other, indent=1) + "\n")
    typer.echo(text)


@app.command()
def cards() -> None:
    """Put the scores of the tables into the shipped models' cards: an explicit step, after `table`, which writes only tables."""
    def summary_file(name: str) -> dict | None:
        path = RESULTS / f"{name}.json"
        return json.loads(path.read_text()) if path.is_file() else None

    excitatory, inhibitory = summary_file("accuracy_summary"), summary_file("accuracy_summary_inhibitory")
    if excitatory is None:
        typer.echo("no accuracy_summary.json: run `table` first", err=True)
        raise typer.Exit(1)
    by_class: dict[str, dict[str, dict]] = {"excitatory": {}, "inhibitory": {}}
    for recipe in other_recipes():
        for cells, suffix in (("excitatory", ""), ("inhibitory", "_inhibitory")):
            if (other := summary_file(f"accuracy_summary_{recipe}{suffix}")) is not None:
                by_class[cells][recipe] = other
    written = update_shipped_cards(by_class)
    if inhibitory is not None:
        update_card(REPO / "models" / "ens2-inh-native.json", inhibitory)
        written.append(REPO / "models" / "ens2-inh-native.json")
    update_card(REPO / "models" / "ens2-exc-native.json", excitatory)
    typer.echo("updated " + ", ".join(path.name for path in [*written, REPO / "models" / "ens2-exc-native.json"]))


def update_shipped_cards(summaries: dict[str, dict[str, dict]], models: Path = REPO / "models") -> list[Path]:
    """Put each recipe's leave-one-out scores (``summaries``: cell class: recipe: summary) into the card of the
    model shipped with it for that cell class, where there is one; returns the cards written."""
    written = []
    for cells, by_recipe in summaries.items():
        for recipe, other in by_recipe.items():
            model = SHIPPED_RECIPES.get(recipe, {}).get(cells)
            if model is None or not other["per_dataset"] or not (models / f"{model}.json").is_file():
                continue
            done = f"{len(other['per_dataset'])} of {len(POOLS[cells])} held-out datasets" + ("" if len(other["per_dataset"]) == len(POOLS[cells]) else " so far")
            held_out = f"leave-one-dataset-out with this card's recipe: {done}" + seeds_note(models / f"{model}.json")
            update_card(models / f"{model}.json", {"held_out": held_out, **other})
            written.append(models / f"{model}.json")
    return written


def seeds_note(card_path: Path) -> str:
    """For a card of a seed ensemble: that the recipe's held-out scores are of one seed each."""
    members = json.loads(card_path.read_text()).get("architecture", {}).get("members")
    return f" (one seed per held-out dataset; this model averages {members} seeds of the recipe)" if members else ""


def update_card(card_path: Path, scores: dict) -> None:
    """Put the leave-one-out scores into the shipped model's card."""
    put_scores_in_card(card_path, {
        "note": "scores of models trained with this card's recipe on all datasets of its cell class but the one "
        "scored; this model itself saw every dataset, so these estimate how it does on new data",
        "command": "python -m benchmarks.accuracy table",
        **scores,
    })  # fmt: skip


if __name__ == "__main__":
    app()
