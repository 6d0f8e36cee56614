"""Leave-one-dataset-out accuracy of ens2rt against ground truth, beside ENS² and OASIS.

    python benchmarks/accuracy.py run --dataset DS09 --dataset DS31   # some datasets
    python benchmarks/accuracy.py run                                 # all excitatory
    python benchmarks/accuracy.py run --dataset DS22 ... --dataset DS27   # the inhibitory ones
    python benchmarks/accuracy.py table                               # the markdown table

For each held-out dataset D a model is trained with the published recipe on every
other dataset of D's cell class (excitatory DS01-DS21, DS29, DS31; inhibitory
DS22-DS27) (``benchmarks/cache/runs/loo-D``; `train` can do this elsewhere, e.g. on a
GPU, from an `ens2export prepare` folder), exported to ONNX, run through
``ens2rt.infer`` on D and scored per neuron. Results are cached per dataset in
``benchmarks/results/loo/D.json``, so a sweep resumes where it stopped. An inhibitory
dataset is also run through ENS²'s published Inh weights (``ens2-published-inh``), which
were trained on all six inhibitory datasets: that column is *not* held out.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ens2rt  # noqa: E402
from benchmarks.common import (  # noqa: E402
    RUNS,
    REPO,
    ENS2_REPORTED,
    EXCITATORY,
    GROUND_TRUTH,
    INHIBITORY,
    RESULTS,
    median,
    predict_neuron,
    score_prediction,
)
from ens2export.groundtruth import find_datasets, load_dataset, smooth_spike_counts  # noqa: E402
from ens2export.metrics import correlation  # noqa: E402
from ens2export.dataset import load_windows  # noqa: E402
from ens2export.train import TrainSettings, save_run, train  # noqa: E402

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
LOO_RESULTS = RESULTS / "loo"
Datasets = Annotated[Optional[list[str]], typer.Option("--dataset", "-d", help="Held-out dataset (repeat); default: all excitatory.")]


def run_dir(held_out: str, runs: Path) -> Path:
    return runs / f"loo-{held_out}"


def cell_class(dataset: str) -> str:
    """excitatory or inhibitory: whose models a held-out dataset's model is trained like."""
    if dataset in INHIBITORY:
        return "inhibitory"
    if dataset in EXCITATORY:
        return "excitatory"
    raise typer.BadParameter(f"{dataset} is in neither the excitatory nor the inhibitory datasets", param_hint="--dataset")


def training_pool(dataset: str) -> list[str]:
    """The datasets of ``dataset``'s cell class, ``dataset`` among them (train_one leaves it out)."""
    return INHIBITORY if cell_class(dataset) == "inhibitory" else EXCITATORY


def train_one(held_out: str, training_data: Path, runs: Path, device: str, seed: int, max_steps: int, patience: int) -> str:
    """Train the leave-``held_out``-out model unless its run folder already exists."""
    out = run_dir(held_out, runs)
    if (out / "run.json").is_file():
        return f"{held_out}: cached"
    source = load_windows(training_data, include=training_pool(held_out), exclude=[held_out])
    settings = TrainSettings(seed=seed, max_steps=max_steps, patience=patience)
    result = train(source, settings, device=device)
    command = f"python benchmarks/accuracy.py train -d {held_out} --training-data {training_data} --device {device} --seed {seed} --max-steps {max_steps} --patience {patience} --runs {runs}"
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
    max_steps: Annotated[int, typer.Option(help="Published: 5000 (fewer only to smoke-test).")] = 5000,
    patience: Annotated[int, typer.Option(help="Published: 500 steps without a better loss.")] = 500,
) -> None:
    """Train the leave-one-dataset-out models (published recipe); skips those already trained."""
    held_out = [key for key in dataset or EXCITATORY if not (run_dir(key, runs) / "run.json").is_file()]
    if workers == 1:
        for key in held_out:
            typer.echo(train_one(key, training_data, runs, device, seed, max_steps, patience))
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        for line in pool.map(train_one, held_out, *zip(*[(training_data, runs, device, seed, max_steps, patience)] * len(held_out))):
            typer.echo(line)


def export_run(held_out: str, runs: Path) -> Path:
    from ens2export.card import write_model

    folder = run_dir(held_out, runs)
    out = folder / f"loo-{held_out}.onnx"
    if not out.is_file():
        info = json.loads((folder / "run.json").read_text())
        with np.load(folder / "weights.npz") as archive:
            weights = {key: archive[key] for key in archive.files}
        write_model(weights, out, name=f"loo-{held_out}", cell_class=cell_class(held_out),
                    description=f"ENS2 recipe, all {cell_class(held_out)} datasets but {held_out}", training=info)  # fmt: skip
    return out


def oasis_correlation(neuron) -> float:
    """OASIS (AR(1), L1 penalty) on each trial, its spikes put on the 60 Hz grid and smoothed like the truth."""
    from oasis.functions import deconvolve

    from ens2export.groundtruth import true_rate_at_60hz

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


def score_one(held_out: str, ground_truth: Path, runs: Path, hop: int) -> dict:
    model = ens2rt.Model.load(export_run(held_out, runs), device="cpu")
    neurons = load_dataset(find_datasets(ground_truth, include=[held_out])[held_out])
    started = time.perf_counter()
    published = ens2rt.Model.load("ens2-published-inh", device="cpu") if cell_class(held_out) == "inhibitory" else None
    rows = []
    for neuron in neurons:
        scores = score_prediction(predict_neuron(neuron, model, hop))
        scores["oasis_correlation"] = oasis_correlation(neuron)
        if published is not None:  # trained on this dataset: a reference, not a held-out score
            scores["published_inh_correlation"] = score_prediction(predict_neuron(neuron, published, hop, spikes=False))["correlation"]
        rows.append({"file": neuron.path.name, **scores})
    info = json.loads((run_dir(held_out, runs) / "run.json").read_text())
    return {
        "dataset": held_out,
        "hop": hop,
        "resampler": ens2rt.engine.resample.DEFAULT_RESAMPLER,
        "model_sha256": model.sha256,
        "training": {k: info[k] for k in ("datasets", "steps", "final_loss", "device", "wall_time_s", "command", "git_commit")},
        "scoring_time_s": round(time.perf_counter() - started, 1),
        "neurons": rows,
    }


@app.command()
def score(
    dataset: Datasets = None,
    ground_truth: Path = GROUND_TRUTH,
    runs: Path = RUNS,
    hop: int = ens2rt.DEFAULT_HOP,
    force: bool = False,
) -> None:
    """Score each trained leave-one-out model on its held-out dataset (cached per dataset)."""
    LOO_RESULTS.mkdir(parents=True, exist_ok=True)
    for key in dataset or EXCITATORY:
        out = LOO_RESULTS / f"{key}.json"
        if out.is_file() and not force:
            continue
        if not (run_dir(key, runs) / "run.json").is_file():
            typer.echo(f"{key}: no trained model in {runs}; run `train` first", err=True)
            continue
        result = score_one(key, ground_truth, runs, hop)
        out.write_text(json.dumps(result, indent=1) + "\n")
        typer.echo(f"{key}: median r {median(n['correlation'] for n in result['neurons']):.3f} over {len(result['neurons'])} neurons")


@app.command()
def run(dataset: Datasets = None, ground_truth: Path = GROUND_TRUTH, device: str = "auto") -> None:
    """Train (if needed), score and tabulate the chosen held-out datasets."""
    train_command(dataset=dataset, training_data=ground_truth, device=device)
    score(dataset=dataset, ground_truth=ground_truth)
    table()


def load_results() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(LOO_RESULTS.glob("DS*.json"))}


def summary(results: dict[str, dict], cells: str = "excitatory") -> dict:
    """Per-dataset medians of one cell class and the median of dataset medians, for README and model cards."""
    results = {key: result for key, result in results.items() if cell_class(key) == cells}
    metrics = ["correlation", "error", "bias", "er_50ms", "victor_purpura", "oasis_correlation"]
    metrics += ["published_inh_correlation"] if cells == "inhibitory" else []
    per_dataset = {}
    for key, result in results.items():
        neurons = result["neurons"]
        per_dataset[key] = {"neurons": len(neurons), **{m: round(median(n[m] for n in neurons), 4) for m in metrics}}
    common = {
        "protocol": f"leave-one-dataset-out over the {cells} datasets; published training recipe; median per-neuron scores",
        "hop": sorted({r["hop"] for r in results.values()}),
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
        "median_of_medians_ds02_ds21": round(median(per_dataset[k]["correlation"] for k in classic), 4) if classic else None,
        "ens2_reported_same_datasets": round(median(ENS2_REPORTED[k] for k in classic), 4) if classic else None,
        "oasis_same_datasets": round(median(per_dataset[k]["oasis_correlation"] for k in classic), 4) if classic else None,
    }


def excitatory_lines(s: dict) -> list[str]:
    lines = [
        "| held-out dataset | neurons | ens2rt r | ENS² reported r | OASIS r | ER 50 ms | bias | VP / spike |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, row in s["per_dataset"].items():
        reported = f"{ENS2_REPORTED[key]:.3f}" if key in ENS2_REPORTED else "not seen by ENS²"
        lines.append(
            f"| {key} | {row['neurons']} | {row['correlation']:.3f} | {reported} | {row['oasis_correlation']:.3f} "
            f"| {row['er_50ms']:.3f} | {row['bias']:+.3f} | {row['victor_purpura']:.3f} |"
        )
    if s["median_of_medians_ds02_ds21"] is not None:
        lines.append(
            f"| **median, {len([k for k in s['per_dataset'] if k in ENS2_REPORTED])} of DS02–DS21** | | "
            f"**{s['median_of_medians_ds02_ds21']:.3f}** | **{s['ens2_reported_same_datasets']:.3f}** | "
            f"**{s['oasis_same_datasets']:.3f}** | | | |"
        )
    return lines


def inhibitory_lines(s: dict) -> list[str]:
    lines = [
        "## Inhibitory datasets",
        "",
        "Each model trained with the published recipe on the other five of DS22–DS27. The ENS² Inh column is the",
        "published Inh network, trained on all six: it has seen the dataset it is scored on, so it is a reference,",
        "not a held-out score.",
        "",
        "| held-out dataset | neurons | ens2rt r | ENS² Inh weights r (trained on it) | OASIS r | ER 50 ms | bias | VP / spike |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, row in s["per_dataset"].items():
        lines.append(
            f"| {key} | {row['neurons']} | {row['correlation']:.3f} | {row['published_inh_correlation']:.3f} "
            f"| {row['oasis_correlation']:.3f} | {row['er_50ms']:.3f} | {row['bias']:+.3f} | {row['victor_purpura']:.3f} |"
        )
    done = len(s["per_dataset"])
    lines.append(
        f"| **median, {done} of {len(INHIBITORY)}** | | **{s['median_of_medians']:.3f}** | "
        f"**{s['published_inh_same_datasets']:.3f}** | **{s['oasis_same_datasets']:.3f}** | | | |"
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
    lines = excitatory_lines(excitatory)
    if inhibitory["per_dataset"]:
        lines += [""] + inhibitory_lines(inhibitory)
        update_card(REPO / "models" / "ens2-inh-native.json", inhibitory)
    text = "\n".join(lines) + "\n"
    out.write_text(text)
    (RESULTS / "accuracy_summary.json").write_text(json.dumps(excitatory, indent=1) + "\n")
    if inhibitory["per_dataset"]:
        (RESULTS / "accuracy_summary_inhibitory.json").write_text(json.dumps(inhibitory, indent=1) + "\n")
    update_card(REPO / "models" / "ens2-exc-native.json", excitatory)
    typer.echo(text)


def update_card(card_path: Path, scores: dict) -> None:
    """Put the leave-one-out scores into the shipped model's card (its sha256 stays valid; other benchmarks' entries stay)."""
    card = json.loads(card_path.read_text())
    card["scores"] = {
        **card.get("scores", {}),
        "note": "scores of models trained with this card's recipe on all datasets of its cell class but the one "
        "scored; this model itself saw every dataset, so these estimate how it does on new data",
        "command": "python benchmarks/accuracy.py table",
        **scores,
    }
    card_path.write_text(json.dumps(card, indent=2) + "\n")


if __name__ == "__main__":
    app()
