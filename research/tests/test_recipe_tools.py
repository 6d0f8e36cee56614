"""The arithmetic behind recipe.md's spike-count rows (research/recipe.py)."""

import pytest

from research import recipe


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


def test_pooled_rows_need_all_four_folds():
    records = [
        {"variant": "v", "seed": 0, "fold": fold, "scores": {d: {"correlation": 0.5 + 0.1 * i, "bias": -0.2} for d in datasets}}
        for i, (fold, datasets) in enumerate(recipe.FOLDS.items())
    ]
    rows = [line for line in recipe.pooled_lines(records) if line.startswith("| v |")]
    # 5 datasets at 0.5, 6 each at 0.6, 0.7, 0.8: median of 23 is the 12th (0.7), mean (2.5 + 3.6 + 4.2 + 4.8) / 23
    assert rows == [f"| v | 0 | 0.700 | {(2.5 + 3.6 + 4.2 + 4.8) / 23:.3f} | 0.20 |"]
    assert not [line for line in recipe.pooled_lines(records[1:]) if line.startswith("| v |")]


def test_a_cards_validation_lists_every_fold_and_seed_beside_the_windowed_recipe():
    records = [{"variant": v, "seed": seed, "fold": fold, "median_correlation": r}
               for v, seed, fold, r in [("v", 0, "A", 0.51234), ("v", 1, "A", 0.5), ("v", 0, "D", 0.7), ("windowed", 0, "A", 0.49),
                                        ("v-x2", "0+1", "A", 0.6), ("other", 0, "B", 0.9)]]  # fmt: skip
    entry = recipe.validation_entry(records, "v")
    assert entry["folds"] == {"A": {"this_recipe": {"0": 0.512, "1": 0.5}, "windowed_recipe_same_split": {"0": 0.49}},
                              "D": {"this_recipe": {"0": 0.7}, "windowed_recipe_same_split": {}}}  # fmt: skip
    assert "run FOLD v --seed S" in entry["command"] and "D: DS18, DS19" in entry["protocol"]
    assert entry["seed_ensembles"] == {"v-x2": {"seeds": "0+1", "folds": {"A": 0.6}, "command": "python -m research.recipe ensemble FOLD v"}}
    assert "seed_ensembles" not in recipe.validation_entry(records, "other")
    import typer

    with pytest.raises(typer.BadParameter, match="no finished validation run of w"):
        recipe.validation_entry(records, "w")


def test_a_noise_rate_scale_undoes_a_count_that_grows_with_noise():
    levels = [0.5, 1.0, 2.0, 4.0]
    biases = [level - 1.0 for level in levels]  # the rate counts ν times the true spikes
    factor, slope = recipe.noise_rate_scale(biases, levels)
    assert factor == pytest.approx(1.0) and slope == pytest.approx(-1.0)
    assert recipe.noise_rate_scale([0.5] * 4, levels) == pytest.approx((2 / 3, 0.0), abs=0.01)  # no trend: a global scale


def test_noise_calibration_rows_fit_each_fold_on_the_other_three():
    folds = recipe.FOLDS
    keys = [key for datasets in folds.values() for key in datasets]
    facts = {key: {"noise_level": 0.5 + 0.1 * i, "frame_rate": 30.0 + i} for i, key in enumerate(keys)}
    records = [{"variant": "v", "seed": 0, "fold": fold, "scores": {d: {"bias": facts[d]["noise_level"] - 1.0} for d in datasets}}
               for fold, datasets in folds.items()]  # fmt: skip
    [row] = [line for line in recipe.noise_calibration_lines(records, facts) if line.startswith("| v | 0 |")]
    cells = row.split(" | ")
    assert cells[2] == "-1.00, -1.00, -1.00, -1.00" and cells[4] == "0.00"  # the ν scale makes every count exact
    assert float(cells[3]) > 0.5 and cells[7] == "+1.00"  # as trained; bias ranks with ν
    without = recipe.noise_calibration_lines(records, {k: v for k, v in facts.items() if k != "DS31"})
    assert not any(line.startswith("| v |") for line in without)  # a dataset without facts: no row


def test_the_spike_triggered_half_rise_finds_when_transients_rise_and_late_time_stamps():
    np = pytest.importorskip("numpy")
    from ens2export.groundtruth import Neuron, Trial
    from research.training.synthetic import fluorescence

    frame_rate, spikes = 500.0, np.arange(1.0, 59.0, 1.0)
    dff = fluorescence(spikes, np.full(spikes.size, 0.3), 30000, frame_rate, 0.02, 0.4)
    kernel = fluorescence(np.array([0.0]), np.array([1.0]), 2000, frame_rate, 0.02, 0.4)
    expected = np.argmax(kernel >= 0.5) / frame_rate  # the transient's own half-rise, after the spike
    on_time = Neuron("DSX", None, (Trial(dff, frame_rate, spikes),))
    assert recipe.spike_triggered_half_rise([on_time]) == pytest.approx(expected, abs=0.003)
    stamped_late = Neuron("DSX", None, (Trial(dff, frame_rate, spikes + 0.04),))  # spikes recorded 40 ms late
    assert recipe.spike_triggered_half_rise([stamped_late]) == pytest.approx(expected - 0.04, abs=0.003)
    crowded = Neuron("DSX", None, (Trial(dff, frame_rate, np.arange(1.0, 59.0, 0.2)),))  # no spike is isolated
    assert np.isnan(recipe.spike_triggered_half_rise([crowded]))


def test_the_rate_is_split_between_recorded_spikes_and_elsewhere():
    import numpy as np

    rate = np.zeros(600)
    rate[121], rate[500] = 1.0, 0.5  # one near the spike at 2 s (1 sample later), one 6 s away from it
    assert recipe.split_rate(rate, np.array([2.0])) == (1.0, 0.5)
    rate[105] = 0.25  # 0.25 s before the spike: still near; 0.3 s before: not
    rate[102] = 0.125
    assert recipe.split_rate(rate, np.array([2.0])) == (1.25, 0.625)
    assert recipe.split_rate(rate, np.array([])) == (0.0, rate.sum())
    lines = recipe.count_split_lines([{"fold": "C", "run": "windowed-s2", "per_dataset": {
        "DS14": {"neurons": 7, "near_per_spike": 1.97, "elsewhere_per_spike": 0.65}}}])  # fmt: skip
    assert lines[-2] == "| C | windowed-s2 | DS14 | 7 | 1.97 | 0.65 |" and recipe.count_split_lines([]) == []


def test_offset_count_rows_list_each_dataset_at_every_offset():
    record = {"fold": "D", "run": "v-s0", "offsets": [0.0, 0.1], "per_dataset": {"DS31": {"recorded": 10, "counted_per_spike": [1.0, 1.5]}}}
    lines = recipe.offset_count_lines([record])
    assert "| fold | run | dataset | +0 | +0.1 |" in lines and "| D | v-s0 | DS31 | 1.00 | 1.50 |" in lines
    assert recipe.offset_count_lines([]) == []
    with pytest.raises(ValueError, match="different offsets"):
        recipe.offset_count_lines([record, {**record, "offsets": [0.0, 0.2]}])


def test_a_rate_floor_is_fitted_on_three_folds_and_applied_to_the_fourth():
    from research import probes

    def settings(fold):
        # every dataset counts half too many unfloored; a floor of 0.01 mends fold A's only, and costs 0.01 r
        floored_bias = 0.0 if fold == "A" else 0.6
        return {"floor 0": {"per_dataset": {d: {"correlation": 0.7, "bias": 0.5} for d in recipe.FOLDS[fold]}},
                "floor 0.01": {"per_dataset": {d: {"correlation": 0.69, "bias": floored_bias} for d in recipe.FOLDS[fold]}}}

    records = [{"probe": "rate-floor", "run": "v-s0", "fold": fold, "settings": settings(fold)} for fold in recipe.FOLDS]
    (row,) = probes.fitted_floor_rows(records)
    # A is held out: B, C, D prefer no floor (0.5 < 0.6); held out B: A, C, D pool to median 0.6 floored against 0.5
    assert row["floors"] == ["0", "0", "0", "0"] and row["median_abs_bias_floored"] == pytest.approx(0.5)
    for record in records:
        record["settings"]["floor 0.01"]["per_dataset"] = {d: {"correlation": 0.69, "bias": 0.1} for d in recipe.FOLDS[record["fold"]]}
    (row,) = probes.fitted_floor_rows(records)
    assert row["floors"] == ["0.01"] * 4 and row["median_abs_bias_floored"] == pytest.approx(0.1)
    assert row["median_r_floored"] == pytest.approx(0.69) and row["median_r_unfloored"] == pytest.approx(0.7)
    assert probes.fitted_floor_rows(records[:3]) == []  # a fold missing: no row
    assert "| v-s0 | 0.01, 0.01, 0.01, 0.01 | 0.700 | 0.690 |" in "\n".join(probes.rate_floor_lines(records))


def test_a_family_member_sits_at_its_noise_level_or_its_bands_centre():
    from ens2export.train import TrainSettings

    assert TrainSettings(noise_level=4.0).matched_level == 4.0
    assert TrainSettings(**recipe.VARIANTS["windowed-band6"][0]).matched_level == 6.0
    assert TrainSettings().matched_level is None  # native: placed at its training data's typical ν


def test_noise_records_of_other_member_sets_get_their_own_names():
    assert recipe.noise_record_name("D", "windowed", ["windowed-nu4", "windowed-nu8"], 0) == "noise-D-windowed-s0"
    assert recipe.noise_record_name("D", "conv-noise-distil1", ["windowed-nu4", "windowed-nu8"], 0) == (
        "noise-D-conv-noise-distil1-s0+windowed-nu4+windowed-nu8")
    banded = [f"windowed-band{level}" for level in (2, 4, 6, 8)]
    assert recipe.noise_record_name("D", "windowed", banded, 0) == "noise-D-windowed-s0+" + "+".join(banded)
