"""`ens2-inh`'s noise members on real held-out inhibitory neurons (issue 44, item 6; findings.md, 2026-12-07 night).

    python -m research.inhibitory_members score    # research/results/inhibitory_members.json
    python -m research.inhibitory_members table    # research/results/inhibitory_members.md, with the rule's outcome

For each held-out inhibitory dataset whose neurons reach a member (DS26, DS27), the
family's fold version — `ens2-inh`'s ranges, each member the leave-one-out fold model of
its recipe (`ens2-exc-conv` itself below 10 Hz: it never saw inhibitory data) — against
the native fold model alone, as recorded and point-sampled to 15 Hz. Scored over the
neurons whose ν reaches a member (ν ≥ 1.315 at that rate), and over all.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace

import typer

import ens2rt
from benchmarks.accuracy import PUBLISHED, RUNS, export_run
from benchmarks.common import GROUND_TRUTH, REPO, median, predict_neuron, report, score_prediction
from benchmarks.frame_rates import neuron_noise_level, rate_label
from research.recipe import RESULTS

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
MANIFEST = REPO / "models" / "families" / "ens2-inh.json"
OUT = RESULTS / "inhibitory_members.json"
TABLE = RESULTS / "inhibitory_members.md"
DATASETS = ("DS26", "DS27")
RATES = (None, 15.0)
#: the recipe of each ens2-inh member's fold model (None: the shipped model, which never saw inhibitory data)
FOLD_RECIPE = {"ens2-inh-native": PUBLISHED, **{f"ens2-inh-nu{n}": f"windowed-nu{n}" for n in (2, 4, 6, 8)}, "ens2-exc-conv": None}


def fold_family(held_out: str) -> tuple[ens2rt.ModelFamily, float]:
    """`ens2-inh` made of ``held_out``'s fold models, and the lowest ν it hands to a noise member."""
    from ens2rt.catalog.manifest import read_manifest

    spec = read_manifest(MANIFEST)
    models, ranges = [], []
    for member in spec.members:
        recipe = FOLD_RECIPE[member.model]
        folder = RUNS / (f"loo-{held_out}" if recipe == PUBLISHED else f"loo-{recipe}-{held_out}")
        if recipe is not None and not (folder / "run.json").is_file():
            continue  # a member no neuron reaches (nu8: ν ≥ 7) was not trained; the one below it takes its range
        model = ens2rt.Model.load(member.model if recipe is None else export_run(held_out, RUNS, recipe), device="cpu")
        models.append(model)
        ranges.append(replace(member, model=model.name))
    if ranges[-1].noise_level[1] != float("inf"):
        ranges[-1] = replace(ranges[-1], noise_level=(ranges[-1].noise_level[0], float("inf")))
    lowest = min(member.noise_level[0] for member in spec.members if member.model.startswith("ens2-inh-nu"))
    return ens2rt.ModelFamily.with_ranges(f"ens2-inh-fold-{held_out}", models, ranges), lowest


@app.command()
def score() -> None:
    """Score the family's fold version and the native fold model on DS26 and DS27, as recorded and at 15 Hz."""
    from ens2export.groundtruth import find_datasets, load_dataset

    rows = []
    for key, folder in find_datasets(GROUND_TRUTH, include=list(DATASETS)).items():
        family, lowest = fold_family(key)
        native = ens2rt.Model.load(export_run(key, RUNS, PUBLISHED), device="cpu")
        for neuron in load_dataset(folder):
            for rate in RATES:
                level = neuron_noise_level(neuron, rate)
                scores = {name: score_prediction(predict_neuron(neuron, model, ens2rt.DEFAULT_HOP, frame_rate=rate))
                          for name, model in (("family", family), ("native", native))}  # fmt: skip
                rows.append({"dataset": key, "file": neuron.path.name, "rate": rate_label(rate), "noise_level": level,
                             "to_member": level >= lowest,
                             **{f"{k}_{name}": s[k] for name, s in scores.items() for k in ("correlation", "bias")}})  # fmt: skip
    OUT.write_text(json.dumps({"command": "python -m research.inhibitory_members " + " ".join(sys.argv[1:]), "neurons": rows}, indent=1) + "\n")
    typer.echo(f"wrote {OUT} ({len(rows)} neuron-rate rows)")


@app.command()
def table() -> None:
    """research/results/inhibitory_members.md from the scores, with the rule's outcome."""
    rows = json.loads(OUT.read_text())["neurons"]
    lines = ["# `ens2-inh`'s noise members on held-out inhibitory neurons", "",
             "Cells: median r family / native fold model (neurons; median bias family / native). `python -m research.inhibitory_members score`, then `table`.",
             "", "| neurons | " + " | ".join(rate_label(r) for r in RATES) + " |", "|---|" + "---|" * len(RATES)]  # fmt: skip
    for subset, keep in (("handed to a member", lambda r: r["to_member"]), ("all of DS26 and DS27", lambda r: True)):
        cells = []
        for rate in RATES:
            chosen = [r for r in rows if r["rate"] == rate_label(rate) and keep(r)]
            cells.append(f"{median(r['correlation_family'] for r in chosen):.3f} / {median(r['correlation_native'] for r in chosen):.3f} "
                         f"({len(chosen)}; {median(r['bias_family'] for r in chosen):+.2f} / {median(r['bias_native'] for r in chosen):+.2f})")  # fmt: skip
        lines.append(f"| {subset} | " + " | ".join(cells) + " |")
    passed, gaps = rule_outcome(rows)
    lines += ["", "Rule (findings.md): on the neurons handed to a member, family median r at least the native fold model's − 0.005 "
              f"as recorded and at 15 Hz. Differences: {', '.join(f'{k} {v:+.3f}' for k, v in gaps.items())}. "
              f"**{'Passes: the members stay' if passed else 'Fails: below ν 5 ens2-inh-native runs every neuron'}.**", ""]  # fmt: skip
    report("\n".join(lines), TABLE)


def rule_outcome(rows: list[dict]) -> tuple[bool, dict[str, float]]:
    """Whether the members pass, and per rate the family's median r less the native model's over the neurons they take."""
    gaps = {}
    for rate in RATES:
        handed = [x for x in rows if x["rate"] == rate_label(rate) and x["to_member"]]
        gaps[rate_label(rate)] = median(x["correlation_family"] for x in handed) - median(x["correlation_native"] for x in handed)
    return all(gap >= -0.005 for gap in gaps.values()), gaps

if __name__ == "__main__":
    app()
