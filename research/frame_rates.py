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
from typing import Annotated, Optional

import numpy as np
import typer

import ens2rt
from benchmarks.common import GROUND_TRUTH, median, report
from benchmarks.accuracy import PUBLISHED
from benchmarks.frame_rates import FOLD_RECIPE, NATIVE, RATES_HZ, rate_label, score_neurons
from research.variants import VARIANTS
from research.recipe import FOLDS, RESULTS, load_run

OUT = RESULTS / "frame_rates"
app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


def teacher_of(variant: str) -> str | None:
    """The run a variant is distilled from (``teacher_run``), if one."""
    teacher = VARIANTS[variant][0].get("teacher_run")
    return teacher if isinstance(teacher, str) else None


# the variant each shipped family member was trained with (the published recipe is research's "windowed")
FOLD_VARIANT = {name: "windowed" if recipe == PUBLISHED else recipe for name, recipe in FOLD_RECIPE.items()}


def without_noise_members(ranges):
    """The ranges with the noise members (those taking only ν above 0) dropped and the others taking every ν."""
    from dataclasses import replace

    from ens2rt.catalog.manifest import ANYTHING

    return [replace(r, noise_level=ANYTHING) for r in ranges if r.noise_level[0] == 0.0]


def fold_families(fold: str, manifest: Path, seed: int, threads: int) -> dict:
    """The manifest's family made of FOLD's runs, and the same without its noise members, by run name."""
    from dataclasses import replace

    from ens2rt.catalog.manifest import read_manifest

    spec = read_manifest(manifest)
    runs = {m.model: load_run(fold, FOLD_VARIANT[m.model], seed, threads)[0] for m in spec.members}
    out = {}
    for name, ranges in ((f"family-{spec.name}", list(spec.members)), (f"family-{spec.name}-without-noise-members", without_noise_members(spec.members))):
        out[f"{name}-s{seed}"] = ens2rt.ModelFamily.with_ranges(name, [runs[r.model] for r in ranges],
                                                                [replace(r, model=runs[r.model].name) for r in ranges])  # fmt: skip
    return out


@app.command()
def score(
    fold: Annotated[str, typer.Argument(help="Validation fold: A, B, C or D.")],
    variants: Annotated[Optional[list[str]], typer.Argument(help="Variants whose runs on FOLD to score (trained by research.recipe run).")] = None,
    seed: int = 0,
    threads: int = 2,
    family: Annotated[Path | None, typer.Option(help="Also a family manifest's fold version, and the same without its noise members.")] = None,
) -> None:
    """Score each variant's run of FOLD at every rate; one JSON per run in research/results/frame_rates/."""
    from ens2export.groundtruth import find_datasets, load_dataset

    variants = variants or []
    runs = {f"{variant}-s{seed}": load_run(fold, variant, seed, threads)[0] for variant in variants}
    if family is not None:
        runs.update(fold_families(fold, family, seed, threads))
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
def members(fold: str = "D", family: str = "family-ens2-exc", seed: int = 0, at_least: float = 5.0) -> None:
    """The noise-member rule: the family against itself without members, on FOLD's neurons with ν ≥ AT_LEAST at each rate."""
    with_members = json.loads((OUT / f"{fold}-{family}-s{seed}.json").read_text())["rates"]
    without = json.loads((OUT / f"{fold}-{family}-without-noise-members-s{seed}.json").read_text())["rates"]
    pooled: dict[str, list[float]] = {"with": [], "without": []}
    for label, rows in with_members.items():
        noisy = [k for k, row in enumerate(rows) if row["noise_level"] >= at_least]
        if not noisy:
            continue
        a, b = [rows[k]["correlation"] for k in noisy], [without[label][k]["correlation"] for k in noisy]
        if label != NATIVE and label != rate_label(60.0):
            pooled["with"] += a
            pooled["without"] += b
        typer.echo(f"{fold} {label}: {len(noisy)} neurons with ν ≥ {at_least:g}: with members {median(a):.3f}, without {median(b):.3f}")
    if pooled["with"]:
        typer.echo(f"{fold} 30/15/7.5 Hz pooled ({len(pooled['with'])}): with members {median(pooled['with']):.3f}, "
                   f"without {median(pooled['without']):.3f}")  # fmt: skip


def noisy_bin(windowed: list[dict], student: list[dict], at_least: float) -> tuple[list[dict], list[dict]]:
    """The rows of both runs (same neurons, same order) whose ν, as measured at that rate, is at least ``at_least``."""
    chosen = [k for k, row in enumerate(windowed) if row["noise_level"] >= at_least]
    return [windowed[k] for k in chosen], [student[k] for k in chosen]


@app.command("noisy-student")
def noisy_student(rate: float = 15.0, at_least: float = 3.0, student: str = "conv-noise-distil1", seed: int = 0) -> None:
    """The student against the windowed model on each validation fold's neurons with ν ≥ AT_LEAST at RATE, and pooled."""
    label, pooled = rate_label(rate), ([], [])
    for fold in ("A", "B", "C", "D"):
        a = json.loads((OUT / f"{fold}-windowed-s{seed}.json").read_text())["rates"].get(label, [])
        b = json.loads((OUT / f"{fold}-{student}-s{seed}.json").read_text())["rates"].get(label, [])
        if [r["file"] for r in a] != [r["file"] for r in b]:
            raise typer.BadParameter(f"fold {fold}: the two runs scored different neurons at {label}")
        a, b = noisy_bin(a, b, at_least)
        pooled[0].extend(a)
        pooled[1].extend(b)
        typer.echo(f"{fold} {label} ν ≥ {at_least:g}: windowed {cell(a) or '-'}; student {cell(b) or '-'}")
    typer.echo(f"pooled {label} ν ≥ {at_least:g}: windowed {cell(pooled[0])}; student {cell(pooled[1])}")


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
