"""Validation-fold runs scored at the frame rates users image at (issue 44, item 4).

    python -m research.frame_rates score D conv-noise-distil1 windowed --seed 0
    python -m research.frame_rates table      # research/results/frame_rates.md

The runs are ``research/recipe.py``'s (``python -m research.recipe run FOLD VARIANT``):
trained on three folds, scored here on the fourth, as recorded and point-sampled to 60,
30, 15 and 7.5 Hz (``benchmarks/frame_rates.py``'s protocol). A student's fidelity to
its teacher run is recorded where both are scored together. This chooses recipes; the
leave-one-out frame-rate table (``benchmarks/frame_rates.py``) only reports.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

import ens2rt
from benchmarks.common import GROUND_TRUTH, median, report
from benchmarks.frame_rates import NATIVE, RATES_HZ, rate_label, score_neurons
from benchmarks.recipes import VARIANTS
from research.recipe import FOLDS, RESULTS, load_run

OUT = RESULTS / "frame_rates"
app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


def teacher_of(variant: str) -> str | None:
    """The run a variant is distilled from (``teacher_run``), if one."""
    teacher = VARIANTS[variant][0].get("teacher_run")
    return teacher if isinstance(teacher, str) else None


@app.command()
def score(
    fold: Annotated[str, typer.Argument(help="Validation fold: A, B, C or D.")],
    variants: Annotated[list[str], typer.Argument(help="Variants whose runs on FOLD to score (trained by research.recipe run).")],
    seed: int = 0,
    threads: int = 2,
) -> None:
    """Score each variant's run of FOLD at every rate; one JSON per run in research/results/frame_rates/."""
    from ens2export.groundtruth import find_datasets, load_dataset

    runs = {f"{variant}-s{seed}": load_run(fold, variant, seed, threads)[0] for variant in variants}
    students = {f"{v}-s{seed}": teacher_of(v) for v in variants if teacher_of(v) in runs}
    OUT.mkdir(parents=True, exist_ok=True)
    by_name: dict[str, dict] = {name: {} for name in runs}
    for key, folder in find_datasets(GROUND_TRUTH, include=FOLDS[fold]).items():
        for name, by_rate in score_neurons(load_dataset(folder), runs, ens2rt.DEFAULT_HOP, students).items():
            for label, rows in by_rate.items():
                by_name[name].setdefault(label, []).extend({"dataset": key, **row} for row in rows)
    for name, by_rate in by_name.items():
        record = {"fold": fold, "run": name, "rates": by_rate, "command": "python -m research.frame_rates " + " ".join(sys.argv[1:])}
        (OUT / f"{fold}-{name}.json").write_text(json.dumps(record, indent=1) + "\n")
        typer.echo(f"{fold} {name}: " + ", ".join(f"{label} {median(r['correlation'] for r in rows):.3f}" for label, rows in by_rate.items()))


def cell(rows: list[dict]) -> str:
    """Median r (neurons; median bias, median |bias|)."""
    if not rows:
        return ""
    bias = [r["bias"] for r in rows]
    return f"{median(r['correlation'] for r in rows):.3f} ({len(rows)}; {median(bias):+.2f}, {median(np.abs(bias)):.2f})"


def table_lines(records: list[dict]) -> list[str]:
    labels = [NATIVE, *(rate_label(r) for r in RATES_HZ)]
    lines = ["| fold | run | " + " | ".join(labels) + " |", "|---|---|" + "---|" * len(labels)]
    for record in sorted(records, key=lambda r: (r["fold"], r["run"])):
        lines.append(f"| {record['fold']} | {record['run']} | " + " | ".join(cell(record["rates"].get(label, [])) for label in labels) + " |")
    fidelity = [r for r in records if any("fidelity_correlation" in row for rows in r["rates"].values() for row in rows)]
    if fidelity:
        lines += ["", "Fidelity of each student to its teacher run: median per-neuron r of the two rates / "
                  "median ratio of their spike totals.", "",
                  "| fold | student | " + " | ".join(labels) + " |", "|---|---|" + "---|" * len(labels)]  # fmt: skip
        for record in sorted(fidelity, key=lambda r: (r["fold"], r["run"])):
            cells = [f"{median(r['fidelity_correlation'] for r in rows):.2f} / {median(r['fidelity_total_ratio'] for r in rows):.2f}"
                     if (rows := record["rates"].get(label)) else "" for label in labels]  # fmt: skip
            lines.append(f"| {record['fold']} | {record['run']} | " + " | ".join(cells) + " |")
    return lines


@app.command()
def table(out: Path = RESULTS / "frame_rates.md") -> None:
    """Write research/results/frame_rates.md from every scored run."""
    records = [json.loads(p.read_text()) for p in sorted(OUT.glob("*.json"))] if OUT.is_dir() else []
    text = "\n".join([
        "# Validation folds at the frame rates users image at",
        "",
        "Runs of `research/recipe.py` scored on their validation fold as recorded and point-sampled "
        "(`python -m research.frame_rates score FOLD VARIANT … --seed S`, then `table`). Cells: median "
        "per-neuron r over the fold's neurons (neurons; median bias, median |bias|).",
        "",
        *table_lines(records),
        "",
    ])  # fmt: skip
    report(text, out)


if __name__ == "__main__":
    app()
