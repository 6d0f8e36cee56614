"""Why does the inhibitory model over-count on recordings unlike its training sets? (issue 44, item 5)

Each inhibitory dataset (DS22–DS27) is held out and scored by its leave-one-out fold model
(``benchmarks/accuracy.py train -d DS2x``: the published recipe on the other five), and by
the shipped ``ens2-exc-native``, which never saw an inhibitory dataset. One suspect at a
time changes the held-out ΔF/F:

- **baseline offset**: the ΔF/F lifted by a constant (0.05, 0.1), as a ΔF/F whose F0 was
  estimated low leaves it;
- **frame rate**: the trials point-sampled to 7.5 and 2.5 Hz (the spinal-cord recordings
  that showed the problem were imaged at 2.5–55 Hz);
- **firing pattern**: neurons split at the median of their recorded firing rate.

Per condition: median per-neuron correlation and median count bias (inferred / recorded − 1).

    python -m research.inhibitory score      # every dataset with a trained fold model
    python -m research.inhibitory table      # writes research/results/inhibitory.md

A fourth suspect, the **indicator**: ``indicators`` runs the shipped ``ens2-inh-native`` (trained on
DS22–DS27 only) on every excitatory dataset, all new to it, beside each excitatory dataset's own
fold model, and groups the neurons by indicator (GCaMP6s is what the spinal-cord recordings used;
no inhibitory training set does).

    python -m research.inhibitory indicators # writes research/results/inhibitory_indicators.md

``first_pass`` asks, from those rows alone, whether the excitatory model's inferred firing rate
can say which neurons the inhibitory model is fit for (a threshold chosen on the excitatory
neurons, checked on the inhibitory ones).

    python -m research.inhibitory first-pass # writes research/results/inhibitory_first_pass.md
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

import ens2rt
from benchmarks.accuracy import PUBLISHED, RUNS, export_run, run_dir
from benchmarks.common import EXCITATORY, GROUND_TRUTH, INHIBITORY, median, predict_neuron, report, score_prediction
from ens2export.groundtruth import Neuron, Trial, find_datasets, load_dataset

RESULTS = Path(__file__).resolve().parent / "results"
OUT = RESULTS / "inhibitory"
OFFSETS = (0.05, 0.1)
RATES_HZ = (15.0, 7.5, 2.5)
REFERENCES = ("ens2-exc-native", "ens2-exc-conv")  #: trained on excitatory data only: held out for every inhibitory dataset
app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


def lifted(neuron: Neuron, offset: float) -> Neuron:
    """The neuron with every trial's ΔF/F lifted by ``offset``."""
    trials = tuple(Trial(dff=t.dff + offset, frame_rate=t.frame_rate, spike_times=t.spike_times) for t in neuron.trials)
    return Neuron(dataset=neuron.dataset, path=neuron.path, trials=trials)


def firing_rate(neuron: Neuron) -> float:
    """Recorded spikes per second over all of the neuron's trials."""
    seconds = sum(t.dff.size / t.frame_rate for t in neuron.trials)
    return sum(t.spike_times.size for t in neuron.trials) / seconds


def conditions(neuron: Neuron) -> list[tuple[str, Neuron, float | None]]:
    """(name, neuron as changed, frame rate to point-sample to) for every suspect."""
    out = [("as recorded", neuron, None)]
    out += [(f"baseline +{offset:g}", lifted(neuron, offset), None) for offset in OFFSETS]
    out += [(f"{rate:g} Hz", neuron, rate) for rate in RATES_HZ if any(t.frame_rate > rate for t in neuron.trials)]
    return out


def fold_model_name(recipe: str) -> str:
    """The row name of ``recipe``'s fold models (the published recipe's: "fold model")."""
    return "fold model" if recipe == PUBLISHED else f"fold model, {recipe}"


def score_dataset(held_out: str, runs: Path = RUNS, hop: int = ens2rt.DEFAULT_HOP, done: dict | None = None,
                  recipes: tuple[str, ...] = ()) -> dict:  # fmt: skip
    """Per model and condition, one row per neuron: correlation, bias, recorded firing rate.

    ``done``: rows already scored (a cached record's), kept; only missing model-condition pairs run.
    ``recipes``: leave-one-out recipes whose fold models are scored beside the published recipe's.
    """
    folds = {fold_model_name(recipe): recipe for recipe in (PUBLISHED, *recipes)}
    names = [*folds, *REFERENCES]
    rows: dict[str, dict[str, list[dict]]] = {name: dict(by) for name, by in (done or {}).items()}  # other recipes' rows stay
    for name in names:
        rows.setdefault(name, {})
    neurons = load_dataset(find_datasets(GROUND_TRUTH, include=[held_out])[held_out])
    wanted = {name: [c for c, _, _ in conditions(neurons[0]) if c not in rows[name]] for name in names}
    models = {name: ens2rt.Model.load(export_run(held_out, runs, folds[name]) if name in folds else name, device="cpu")
              for name in names if wanted[name]}  # fmt: skip
    for neuron in neurons:
        for condition, changed, rate in conditions(neuron):
            for name, model in models.items():
                if condition not in wanted[name]:
                    continue
                scores = score_prediction(predict_neuron(changed, model, hop, frame_rate=rate))
                rows[name].setdefault(condition, []).append(
                    {"file": neuron.path.name, "correlation": scores["correlation"], "bias": scores["bias"],
                     "firing_rate_hz": firing_rate(neuron)})  # fmt: skip
    return rows


@app.command()
def score(dataset: list[str] = typer.Option(None, "--dataset", "-d"), runs: Path = RUNS,
          recipe: list[str] = typer.Option([], help="Another leave-one-out recipe whose fold models to score (repeat).")) -> None:  # fmt: skip
    """Score each inhibitory dataset with a trained fold model under every condition (cached per dataset and model-condition pair)."""
    OUT.mkdir(parents=True, exist_ok=True)
    for key in dataset or INHIBITORY:
        missing = [r for r in (PUBLISHED, *recipe) if not (run_dir(key, runs, r) / "run.json").is_file()]
        if missing:
            typer.echo(f"{key}: no {missing[0]} fold model in {runs}; train it with python -m benchmarks.accuracy train "
                       f"-d {key} --recipe {missing[0]}", err=True)  # fmt: skip
            continue
        path = OUT / f"{key}.json"
        done = json.loads(path.read_text())["rows"] if path.is_file() else None
        rows = score_dataset(key, runs, done=done, recipes=tuple(recipe))
        path.write_text(json.dumps({"dataset": key, "rows": rows}, indent=1) + "\n")
        typer.echo(f"{key}: " + "; ".join(f"{name} as recorded bias {median(r['bias'] for r in by['as recorded']):+.2f}"
                                          for name, by in rows.items()))  # fmt: skip


def table_lines(records: dict[str, dict]) -> list[str]:
    """Median r / median bias per dataset, model and condition; then every neuron pooled, and by firing rate."""
    names = list(dict.fromkeys(name for record in records.values() for name in record["rows"]))
    present = {label for record in records.values() for by in record["rows"].values() for label in by}
    order = ["as recorded", *(f"baseline +{o:g}" for o in OFFSETS), *(f"{r:g} Hz" for r in RATES_HZ)]
    labels = [label for label in order if label in present]
    lines = ["| held out | model | " + " | ".join(labels) + " |", "|---|---|" + "---|" * len(labels)]
    pooled: dict[str, dict[str, list[dict]]] = {name: {label: [] for label in labels} for name in names}
    ran = {name: [key for key, record in records.items() if record["rows"].get(name)] for name in names}
    for key, record in records.items():
        for name in names:
            if key not in ran[name]:
                continue  # a model not scored on this dataset gets no row (nor a share of the pooled one)
            by = record["rows"][name]
            lines.append(f"| {key} | {name} | " + " | ".join(_cell(by.get(label, [])) for label in labels) + " |")
            for label in labels:
                pooled[name][label] += by.get(label, [])
    for name in names:
        lines.append(f"| all ({len(ran[name])}) | {name} | " + " | ".join(_cell(pooled[name][label]) for label in labels) + " |")
    rates = [row["firing_rate_hz"] for row in pooled[names[0]]["as recorded"]]
    split = median(rates)
    lines += ["", f"Firing pattern: every neuron as recorded, split at the median recorded firing rate ({split:.2f} Hz).", "",
              "| model | below | at or above |", "|---|---|---|"]  # fmt: skip
    for name in names:
        rows = pooled[name]["as recorded"]
        lines.append(f"| {name} | {_cell([r for r in rows if r['firing_rate_hz'] < split])} | "
                     f"{_cell([r for r in rows if r['firing_rate_hz'] >= split])} |")  # fmt: skip
    return lines


def write_table(file: str, title: str, caption: str, lines: list[str]) -> None:
    """Print a titled table and write it to ``research/results/<file>``."""
    report("\n".join([f"# {title}", "", caption, "", *lines, ""]), RESULTS / file)


def _cell(rows: list[dict]) -> str:
    if not rows:
        return ""
    return f"{median(r['correlation'] for r in rows):.3f} / {median(r['bias'] for r in rows):+.2f} ({len(rows)})"


@app.command()
def table() -> None:
    """Write research/results/inhibitory.md from the cached scores."""
    records = {p.stem: json.loads(p.read_text()) for p in sorted(OUT.glob("DS*.json"))}
    if not records:
        typer.echo("nothing scored yet", err=True)
        raise typer.Exit(1)
    write_table("inhibitory.md", "Inhibitory models on held-out datasets, one suspect at a time",
                "Cells: median per-neuron correlation / median count bias (neurons). Fold model: the published recipe "
                "trained on the other five inhibitory datasets. Regenerate: `python -m research.inhibitory score`, then `table`.",
                table_lines(records))  # fmt: skip


INDICATOR_GROUPS = {
    "OGB-1, Cal-520": ("DS01", "DS02", "DS03", "DS04", "DS05"),
    "GCaMP6f": ("DS06", "DS07", "DS08", "DS09", "DS10", "DS11"),
    "GCaMP6s": ("DS12", "DS13", "DS14", "DS15", "DS16"),
    "others": ("DS17", "DS18", "DS19", "DS20", "DS21", "DS29", "DS31"),
}  #: excitatory datasets by indicator (GCaMP5k, red indicators, jGECO1a, jGCaMP7f, jGCaMP8m are "others")


def indicator_rows(held_out: str, runs: Path = RUNS, hop: int = ens2rt.DEFAULT_HOP) -> dict[str, list[dict]]:
    """One excitatory dataset as recorded, per neuron, by ``ens2-inh-native`` and by the dataset's own fold model."""
    neurons = load_dataset(find_datasets(GROUND_TRUTH, include=[held_out])[held_out])
    models = {"ens2-inh-native": ens2rt.Model.load("ens2-inh-native", device="cpu"),
              "excitatory fold model": ens2rt.Model.load(export_run(held_out, runs), device="cpu")}  # fmt: skip
    rows: dict[str, list[dict]] = {name: [] for name in models}
    for neuron in neurons:
        for name, model in models.items():
            scores = score_prediction(predict_neuron(neuron, model, hop))
            rows[name].append({"file": neuron.path.name, "correlation": scores["correlation"], "bias": scores["bias"],
                               "firing_rate_hz": firing_rate(neuron)})  # fmt: skip
    return rows


def indicator_table_lines(records: dict[str, dict]) -> list[str]:
    """Median r / median bias (neurons) per indicator group and model, then the rule's two differences."""
    names = ["ens2-inh-native", "excitatory fold model"]
    pooled = {group: {name: [row for key in keys if key in records for row in records[key]["rows"][name]] for name in names}
              for group, keys in INDICATOR_GROUPS.items()}  # fmt: skip
    lines = ["| indicator | datasets | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for group, keys in INDICATOR_GROUPS.items():
        present = [key for key in keys if key in records]
        lines.append(f"| {group} | {len(present)} | " + " | ".join(_cell(pooled[group][name]) for name in names) + " |")
    lines.append("")
    for name in names:
        slow, fast = (median(r["bias"] for r in pooled[group][name]) for group in ("GCaMP6s", "GCaMP6f"))
        lines.append(f"- {name}: median bias on GCaMP6s minus on GCaMP6f: {slow - fast:+.2f}")
    return lines


@app.command()
def indicators(dataset: list[str] = typer.Option(None, "--dataset", "-d"), runs: Path = RUNS) -> None:
    """Score ens2-inh-native and each excitatory fold model on the excitatory datasets; write the indicator table."""
    out = RESULTS / "inhibitory_indicators"
    out.mkdir(parents=True, exist_ok=True)
    for key in dataset or EXCITATORY:
        path = out / f"{key}.json"
        if path.is_file():
            continue
        if not (run_dir(key, runs) / "run.json").is_file():
            typer.echo(f"{key}: no fold model in {runs}; train it with python -m benchmarks.accuracy train -d {key}", err=True)
            continue
        rows = indicator_rows(key, runs)
        path.write_text(json.dumps({"dataset": key, "rows": rows}, indent=1) + "\n")
        typer.echo(f"{key}: " + "; ".join(f"{name} bias {median(r['bias'] for r in by):+.2f}" for name, by in rows.items()))
    records = {p.stem: json.loads(p.read_text()) for p in sorted(out.glob("DS*.json"))}
    write_table("inhibitory_indicators.md", "Does an indicator it never saw make the inhibitory model over-count?",
                "Every excitatory neuron as recorded. Cells: median per-neuron correlation / median count bias (neurons). "
                "`ens2-inh-native` was trained on the six inhibitory datasets only; the excitatory fold model is the "
                "published recipe trained on the other excitatory datasets (what the firing pattern alone does). "
                "Regenerate: `python -m research.inhibitory indicators`.", indicator_table_lines(records))  # fmt: skip


THRESHOLDS_HZ = tuple(round(0.1 * k, 1) for k in range(1, 51))  #: R grid of the first-pass switch


def inferred_rate(row: dict) -> float:
    """The firing rate a model inferred for a neuron: its recorded rate × (1 + count bias)."""
    return row["firing_rate_hz"] * (1.0 + row["bias"])


def switched(inhibitory: list[dict], excitatory: list[dict], threshold_hz: float) -> list[dict]:
    """Per neuron (rows aligned), the inhibitory model's row where the excitatory one infers ≥ ``threshold_hz``, else its own."""
    return [inh if inferred_rate(exc) >= threshold_hz else exc for inh, exc in zip(inhibitory, excitatory, strict=True)]


def choose_threshold(inhibitory: list[dict], excitatory: list[dict], most_bias: float = 1.0) -> float | None:
    """The smallest R of the grid at which the switched median bias is at most ``most_bias`` (None: none is)."""
    for threshold in THRESHOLDS_HZ:
        if median(r["bias"] for r in switched(inhibitory, excitatory, threshold)) <= most_bias:
            return threshold
    return None


@app.command("first-pass")
def first_pass() -> None:
    """Choose R on the excitatory neurons, check it on the held-out inhibitory ones; write the table."""
    chosen_on = [json.loads(p.read_text())["rows"] for p in sorted((RESULTS / "inhibitory_indicators").glob("DS*.json"))]
    inh_models = [row for rows in chosen_on for row in rows["ens2-inh-native"]]
    exc_models = [row for rows in chosen_on for row in rows["excitatory fold model"]]
    threshold = choose_threshold(inh_models, exc_models)
    if threshold is None:
        typer.echo("no R on the grid brings the excitatory neurons' median bias to +1", err=True)
        raise typer.Exit(1)
    lines = [f"R chosen on the {len(exc_models)} excitatory neurons: **{threshold:g} Hz** (switched median bias "
             f"{median(r['bias'] for r in switched(inh_models, exc_models, threshold)):+.2f}; `ens2-inh-native` alone "
             f"{median(r['bias'] for r in inh_models):+.2f}).", "",
             "| held out | fold model | ens2-exc-native | switched at R | neurons to the inhibitory model |", "|---|---|---|---|---|"]  # fmt: skip
    pooled: dict[str, list[dict]] = {"fold": [], "exc": [], "switched": []}
    for path in sorted(OUT.glob("DS*.json")):
        rows = json.loads(path.read_text())["rows"]
        fold, exc = rows["fold model"]["as recorded"], rows["ens2-exc-native"]["as recorded"]
        both = switched(fold, exc, threshold)
        for name, value in (("fold", fold), ("exc", exc), ("switched", both)):
            pooled[name] += value
        taken = sum(inferred_rate(e) >= threshold for e in exc)
        lines.append(f"| {path.stem} | {_cell(fold)} | {_cell(exc)} | {_cell(both)} | {taken} of {len(fold)} |")
    taken = sum(inferred_rate(e) >= threshold for e in pooled["exc"])
    lines.append(f"| all | {_cell(pooled['fold'])} | {_cell(pooled['exc'])} | {_cell(pooled['switched'])} | {taken} of {len(pooled['fold'])} |")
    write_table("inhibitory_first_pass.md", "The inhibitory model only where the excitatory one infers a busy neuron",
                "Rows of `research/results/inhibitory/` and `inhibitory_indicators/`, no new inference. A neuron's "
                "excitatory-inferred rate is its recorded rate × (1 + bias) of the excitatory model; the switch runs the "
                "inhibitory model where that rate is at least R. Cells: median r / median bias (neurons), held-out "
                "inhibitory neurons as recorded. Regenerate: `python -m research.inhibitory first-pass`.", lines)  # fmt: skip


if __name__ == "__main__":
    app()
