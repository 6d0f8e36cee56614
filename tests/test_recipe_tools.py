"""The arithmetic behind recipe.md's spike-count rows (benchmarks/recipe.py)."""

import pytest

from benchmarks import recipe


def test_rate_scale_puts_the_median_dataset_on_the_true_count():
    assert recipe.rate_scale([1.0, 1.0, 1.0]) == pytest.approx(0.5)  # every dataset counts twice: halve the rate
    assert recipe.rate_scale([0.25, 0.25, -0.5]) == pytest.approx(0.8)  # two of three exact: median |bias| 0


def test_calibration_rows_fit_each_fold_on_the_other_three():
    folds = recipe.FOLDS
    # fold A's datasets count double, the other folds are exact: A is scaled by the others' factor (1), the rest by
    # a factor fitted on A and two exact folds (still 1), so nothing changes
    records = [
        {"variant": "v", "seed": 0, "fold": fold, "scores": {d: {"bias": 1.0 if fold == "A" else 0.0} for d in datasets}}
        for fold, datasets in folds.items()
    ]
    row = next(line for line in recipe.calibration_lines(records) if line.startswith("| v | 0 |"))
    assert row == "| v | 0 | 1.00, 1.00, 1.00, 1.00 | 0.00 | 0.00 | +1.00 | +1.00 |"
    records[1]["scores"] = {d: {"bias": 1.0} for d in folds["B"]}  # now A and B double: C and D are scaled by 0.5
    row = next(line for line in recipe.calibration_lines(records) if line.startswith("| v | 0 |"))
    assert row.split(" | ")[2] == "1.00, 1.00, 0.50, 0.50"
    assert not any(line.startswith("| v |") for line in recipe.calibration_lines(records[:3]))  # a fold missing: no row
