"""The units rule on real recordings: does it refuse ΔF/F as a fraction, and does it catch percent?

Every trial of every ground-truth dataset, as recorded and as if imaged at 30, 15, 7.5
and 2.5 Hz (point samples of the trace, and frames averaged), is judged by
:func:`ens2rt.engine.conditioning.check_units` as a fraction and × 100 (percent),
beside the rule it replaced (ν > 20 or median |ΔF/F| > 5 at any frame rate).

    python -m benchmarks.units_rule      # writes benchmarks/results/units_rule.md
"""

from __future__ import annotations

import logging
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from benchmarks.common import GROUND_TRUTH, RESULTS, point_sampled
from ens2rt.engine.conditioning import check_units, unit_statistics
from ens2rt.engine.traces import noise_level
from ens2rt.errors import InputError

RESULT = RESULTS / "units_rule.md"
USER_RATES = (30.0, 15.0, 7.5, 2.5)
MIN_SECONDS = 2.5  # shorter versions are too short to judge (or to infer)


def resampled(dff: np.ndarray, rate: float, target: float, how: str) -> np.ndarray:
    """A trace as if imaged at ``target`` Hz: ``"point"`` samples of it, or frames averaged (``"mean"``)."""
    if how == "point":
        return point_sampled(dff, rate, target)
    bins = np.floor(np.arange(dff.size) * target / rate).astype(int)
    n = bins.max()  # the last bin may be partial: dropped
    return np.bincount(bins, dff)[:n] / np.bincount(bins)[:n]


def versions(dff: np.ndarray, rate: float) -> Iterator[tuple[str, np.ndarray, float]]:
    """(label, trace, frame rate): the trial as recorded, then at each user rate below its own, both ways."""
    yield "as recorded", dff, rate
    for target in USER_RATES:
        if target < rate:
            for how in ("point", "mean"):
                yield f"{target:g} Hz {how}", resampled(dff, rate, target, how), target


def statistics(dff: np.ndarray, rate: float) -> np.ndarray:
    """The unit statistics of one trace (they scale with it: those of 100 · dff are 100 times these)."""
    x = dff[None, :]
    return unit_statistics(x, noise_level(x, rate))


def judged(stats: np.ndarray, rate: float) -> str:
    """What the units rule does with a trace of these statistics: ``"refused"``, ``"warned"`` or ``"passed"``."""
    try:
        warned = check_units(stats, rate)
    except InputError:
        return "refused"
    return "warned" if warned else "passed"


def refused_before(stats: np.ndarray) -> bool:
    """The rule this one replaced: ν above 20 or median |ΔF/F| above 5, at any frame rate."""
    level, typical, _ = stats[0]
    return bool(level > 20.0 or typical > 5.0)


def judge_all(ground_truth: Path, include: list[str] | None = None) -> dict[str, np.ndarray]:
    """Per version label: counts of [judged, fraction refused, fraction warned, fraction refused before,
    percent refused, percent refused or warned, percent refused before]; ``include``: only these datasets."""
    from ens2export.groundtruth import find_datasets, load_dataset

    logging.getLogger("ens2export").setLevel(logging.ERROR)
    counts: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(7, dtype=int))
    for folder in find_datasets(ground_truth, include=include).values():
        for neuron in load_dataset(folder):
            for trial in neuron.trials:
                for label, dff, rate in versions(trial.dff, trial.frame_rate):
                    if dff.size < MIN_SECONDS * rate:
                        continue
                    fraction = statistics(dff, rate)
                    percent = 100.0 * fraction
                    as_fraction, as_percent = judged(fraction, rate), judged(percent, rate)
                    counts[label] += [1, as_fraction == "refused", as_fraction == "warned", refused_before(fraction),
                                      as_percent == "refused", as_percent != "passed", refused_before(percent)]  # fmt: skip
    return dict(counts)


def table(counts: dict[str, np.ndarray]) -> str:
    rows = ["| trials | n | fraction refused | fraction warned | (refused before) | percent refused | percent refused or warned "
            "| (refused before) |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    order = ["as recorded"] + [f"{r:g} Hz {how}" for r in USER_RATES for how in ("point", "mean")]
    for label in order + ["all"]:
        n, refused, warned, before, percent, percent_said, percent_before = counts[label] if label != "all" else sum(counts.values())
        rows.append(f"| {label} | {n} | {refused} | {warned} | {before} | {percent / n:.1%} | {percent_said / n:.1%} "
                    f"| {percent_before / n:.1%} |")  # fmt: skip
    return "\n".join(rows)


def main() -> None:
    counts = judge_all(GROUND_TRUTH)
    text = (
        "# The units rule on real recordings\n\n"
        "Every trial of the ground truth as recorded, and point-sampled or frame-averaged to the rates users image at, "
        "judged as ΔF/F (a fraction) and × 100 (percent). `python -m benchmarks.units_rule` writes this file.\n\n"
        "Now: refused where ν > max(20, 200/√fs) (a median |step| of 2 ΔF/F at low rates) or median |ΔF/F| > 10; "
        "a warning where 20 < ν ≤ that limit. Before: refused where ν > 20 or median |ΔF/F| > 5 at any rate.\n\n"
        + table(counts) + "\n"
    )
    RESULT.write_text(text)
    print(text)


if __name__ == "__main__":
    sys.exit(main())
