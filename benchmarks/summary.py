"""docs/benchmarks.md, regenerated from the tables in benchmarks/results/ (never written by hand).

    python -m benchmarks.summary          # after any table changed; a test checks it is current

Each section names the command that makes its table, says in one line what it measures,
and copies the table's headline block from the result file, which holds the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer

from benchmarks.common import REPO, RESULTS

OUT = REPO / "docs" / "benchmarks.md"
app = typer.Typer(add_completion=False, help=__doc__)


@dataclass(frozen=True)
class Section:
    title: str
    file: str  #: in benchmarks/results/
    command: str
    what: str
    blocks: tuple[int, ...] = (0,)  #: which tables of the file to copy, in order (0: the first)


SECTIONS = (
    Section("Frame rates", "frame_rates.md", "python -m benchmarks.frame_rates score -d DS --recipe published --recipe conv-noise-distil1 "
            "--family models/families/ens2-exc.json; "
            "python -m benchmarks.frame_rates table",
            "Held-out neurons as recorded and point-sampled to the rates users image at, each scored by the leave-one-out "
            "fold models that never saw its dataset, pooled over the datasets every recipe has run; below, the same "
            "neurons binned by their own noise level. Per-dataset rows and fidelity to the teacher are in the file.", (0, 3)),  # fmt: skip
    Section("Accuracy, leave one dataset out", "accuracy.md", "python -m benchmarks.accuracy run [-d DS …]; python -m benchmarks.accuracy table",
            "Each dataset scored by a model trained with the recipe on the others of its cell class, beside ENS²'s reported "
            "numbers and OASIS (defaults, no tuning); excitatory, then inhibitory.", (0, 1)),  # fmt: skip
    Section("Noise", "noise.md", "python -m benchmarks.noise train; python -m benchmarks.noise score; python -m benchmarks.noise table",
            "Two folds of the excitatory datasets, each scored by models trained on the other, as recorded and degraded to "
            "ν = 2 … 8 by white noise at each trace's native rate."),  # fmt: skip
    Section("Spike counts", "counts.md", "python -m benchmarks.counts score; python -m benchmarks.counts table",
            "Held-out count bias with and without quantal calibration, and why the quantal fits were or were not decisive."),
    Section("Speed at 30 Hz", "speed_cpu.md", "python -m benchmarks.speed run --conv-model ens2-exc-conv",
            "Throughput on this 2-core CPU, every method in one run, as ratios to the published pipeline."),
    Section("Speed at 122 Hz", "speed_cpu_120hz.md", "python -m benchmarks.speed run --frame-rate 122.07 --conv-model ens2-exc-conv",
            "The same at GCaMP8-style imaging rates."),
    Section("Streaming", "stream_latency.md", "python -m benchmarks.stream_latency run --neurons 1000 --seconds 120 --chunk-s 1",
            "Compute per push of a 1,000-neuron stream, against the real time it covers.", (0, 1, 2, 3, 4)),
    Section("Latency against accuracy", "latency.md", "python -m benchmarks.stream_latency trade",
            "Lookahead of the low-latency models against their accuracy on validation fold D."),
    Section("dask", "dask_scaling.md", "python -m benchmarks.dask_scaling", "Neuron-hours per second on 1 and 2 dask workers."),
    Section("Browser", "browser.md", "python -m benchmarks.browser --neurons 16 --minutes 10",
            "The page of `ens2rt web` (onnxruntime-web, WebAssembly, 2 threads, in headless Chromium) beside ens2rt.infer "
            "on the same 16 neurons × 10 min at 30 Hz, in one run."),
    Section("Window hop", "hops.md", "python -m benchmarks.sweep hops", "Accuracy and speed of the windowed models' hop; the default is 6."),
    Section("Resamplers", "resamplers.md", "python -m benchmarks.sweep resamplers", "Windowed sinc (streamable) against Fourier resampling."),
    Section("Input units", "units_rule.md", "python -m benchmarks.units_rule",
            "The rule that refuses raw fluorescence or percent, on every ground-truth trace as ΔF/F and × 100."),
)


def table_blocks(text: str) -> list[str]:
    """The markdown tables of ``text``, each with its caption: the last non-empty line above it, if not a table's."""
    lines, blocks, start = text.splitlines(), [], None
    for number, line in enumerate([*lines, ""]):
        if line.startswith("|") and start is None:
            start = number
        elif not line.startswith("|") and start is not None:
            above = [k for k in range(start) if lines[k].strip()]
            caption = lines[above[-1]] if above and not lines[above[-1]].startswith("|") else None
            blocks.append("\n".join(([caption.lstrip("# "), ""] if caption else []) + lines[start:number]))
            start = None
    return blocks


def section_text(section: Section, results: Path = RESULTS) -> str:
    path = results / section.file
    head = [f"## {section.title}", "", section.what, "", f"`{section.command}` → [{section.file}](../benchmarks/results/{section.file})", ""]
    if not path.is_file():
        return "\n".join([*head, "Not run yet.", ""])
    blocks = table_blocks(path.read_text())
    chosen = [blocks[k] for k in section.blocks if k < len(blocks)]
    return "\n".join([*head, *("\n\n".join(chosen).splitlines()), ""])


def render(results: Path = RESULTS) -> str:
    return "\n".join([
        "# Benchmarks",
        "",
        "Generated by `python -m benchmarks.summary` from the tables in [`benchmarks/results/`](../benchmarks/results); "
        "do not edit by hand. The benchmarks need `pip install \".[bench,dask]\"` and the ground truth in `../shared` "
        "(or `ENS2_SHARED`). `python -m benchmarks.accuracy cards` and `python -m benchmarks.noise cards` put the tables' "
        "scores into the shipped model cards, on purpose; the tables themselves never touch the cards. What the research "
        "rounds tried and decided, with their own tables, is in [research/findings.md](../research/findings.md).",
        "",
        *(section_text(section, results) for section in SECTIONS),
    ])  # fmt: skip


@app.command()
def write(out: Path = OUT) -> None:
    """Write docs/benchmarks.md from the tables."""
    out.write_text(render())
    typer.echo(f"wrote {out}")


if __name__ == "__main__":
    app()
