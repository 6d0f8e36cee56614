"""Should quantal calibration be on by default? Its effect on validation folds' count bias.

    python -m research.quantal_rule score B      # research/results/quantal_rule/B.json
    python -m research.quantal_rule table        # research/results/quantal_rule.md

Each neuron of the fold, run by the fold's ``windowed-s0`` run, measured as
``benchmarks/counts.py`` measures held-out datasets. The rule is in ``research/findings.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from benchmarks.common import GROUND_TRUTH, median, report
from benchmarks.counts import neuron_rows
from research.recipe import FOLDS, RESULTS, load_run

OUT = RESULTS / "quantal_rule"
app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


@app.command()
def score(fold: Annotated[str, typer.Argument(help="Validation fold: B or D.")], seed: int = 0, threads: int = 2) -> None:
    """Count bias with and without calibration for every neuron of FOLD."""
    from ens2export.groundtruth import find_datasets

    model = load_run(fold, "windowed", seed, threads)[0]
    rows = []
    for key, folder in find_datasets(GROUND_TRUTH, include=FOLDS[fold]).items():
        rows += [{"dataset": key, **row} for row in neuron_rows(folder, model)]
        typer.echo(f"{fold} {key}: {sum(r['decisive'] for r in rows if r['dataset'] == key)} decisive")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{fold}.json").write_text(json.dumps({"fold": fold, "seed": seed, "neurons": rows}, indent=1) + "\n")


def verdict(rows: list[dict]) -> tuple[str, bool]:
    decisive = [r for r in rows if r["decisive"]]
    share = len(decisive) / len(rows)
    if not decisive:
        return f"{len(rows)} neurons, none decisive", False
    before, after = median(abs(r["bias"]) for r in decisive), median(abs(r["calibrated_bias"]) for r in decisive)
    worse = sum(abs(r["calibrated_bias"]) > abs(r["bias"]) for r in decisive) / len(decisive)
    passes = share >= 0.10 and before - after >= 0.1 and worse <= 1 / 3
    return (f"{len(rows)} neurons, {len(decisive)} decisive ({share:.0%}); on them median |bias| {before:.2f} → {after:.2f}, "
            f"worse on {worse:.0%}"), passes  # fmt: skip


@app.command()
def table(out: Path = RESULTS / "quantal_rule.md") -> None:
    """Per fold: how often the fit is decisive, what it does to the decisive neurons' |bias|, and the rule's verdict."""
    lines = ["| fold | measure | rule |", "|---|---|---|"]
    for path in sorted(OUT.glob("*.json")):
        record = json.loads(path.read_text())
        text, passes = verdict(record["neurons"])
        lines.append(f"| {record['fold']} | {text} | {'passes' if passes else 'fails'} |")
    report("\n".join(lines) + "\n", out)


if __name__ == "__main__":
    app()
