"""The frame-rate benchmark: point samples, per-rate scores of fold models, fidelity to the teacher, the table."""

import numpy as np
import pytest

from benchmarks import frame_rates
from benchmarks.common import point_sampled


def test_point_samples_are_the_trace_at_k_over_the_rate():
    trace = np.arange(1200) / 120.0  # a ramp: value = time
    sampled = point_sampled(trace, 120.0, 30.0)
    np.testing.assert_allclose(sampled, np.arange(sampled.size) / 30.0)
    assert sampled.size == 300


@pytest.mark.slow  # a benchmark's scoring, 1.4 s; its table arithmetic stays in the default run
def test_fold_models_are_scored_at_every_lower_rate_with_fidelity(ground_truth, monkeypatch):
    """Shipped models stand in for the fold models here (they saw DS17: this checks the plumbing, not accuracy)."""
    import ens2rt

    stand_in = {"published": "ens2-exc-native", "conv-noise-distil1": "ens2-exc-conv"}
    monkeypatch.setattr(frame_rates, "export_run", lambda key, runs, recipe: ens2rt.Model.load(stand_in[recipe]).path)
    loaded = frame_rates.load_dataset

    def two_neurons(folder):
        neurons = loaded(folder)[:2]
        return [type(n)(dataset=n.dataset, path=n.path, trials=n.trials[:1]) for n in neurons]

    monkeypatch.setattr(frame_rates, "load_dataset", two_neurons)
    scores = frame_rates.score_dataset("DS17", ["published", "conv-noise-distil1"], ground_truth, None, 6)
    assert set(scores["published"]) == {"native", "30 Hz", "15 Hz", "7.5 Hz"}  # DS17 is imaged at 50 Hz: no 60 Hz column
    for rows in scores["published"].values():
        assert len(rows) == 2 and all(-1 <= row["correlation"] <= 1 for row in rows) and "fidelity_correlation" not in rows[0]
    student = scores["conv-noise-distil1"]["30 Hz"]
    assert all(0 < row["fidelity_correlation"] <= 1 and row["fidelity_total_ratio"] > 0 for row in student)


def test_the_table_pools_neurons_and_reports_fidelity():
    row = {"correlation": 0.8, "bias": 0.5, "fidelity_correlation": 0.9, "fidelity_total_ratio": 1.1}
    scores = {"conv": {"DS29": {"rates": {"native": [row] * 3, "30 Hz": [dict(row, correlation=0.5)] * 3}},
                       "DS31": {"rates": {"native": [row] * 2, "30 Hz": [dict(row, correlation=0.6)] * 2}}}}  # fmt: skip
    lines = frame_rates.table_lines(scores)
    assert lines[2] == "| conv | DS29 | 0.800 (3; +0.50) |  | 0.500 (3; +0.50) |  |  |"
    assert lines[4] == "| conv | all (2) | 0.800 (5; +0.50) |  | 0.500 (5; +0.50) |  |  |"  # pooled over neurons, not datasets
    assert "| conv | DS31 | 0.90 / 1.10 |  | 0.90 / 1.10 |  |  |" in lines


def test_recipes_compare_only_on_the_datasets_all_of_them_ran():
    row = lambda c: {"correlation": c, "bias": 0.0, "noise_level": 1.0}  # noqa: E731
    scores = {"published": {"DS29": {"rates": {"native": [row(0.8)]}}, "DS31": {"rates": {"native": [row(0.2)]}}},
              "conv": {"DS29": {"rates": {"native": [row(0.9)]}}}}  # fmt: skip
    assert frame_rates.shared_datasets(scores) == ["DS29"]
    lines = frame_rates.shared_lines(scores)
    assert lines[2].startswith("| published | 0.800 (1; +0.00) |") and lines[3].startswith("| conv | 0.900 (1; +0.00) |")
    assert frame_rates.noise_bin_lines(scores, ["DS29"])[2].startswith("| published | < 1.4 | 0.800 (1; +0.00) |")


def test_a_students_fidelity_is_binned_by_noise_level_and_a_teacher_gets_no_row():
    row = lambda nu, f: {"correlation": 0.5, "bias": 0.0, "noise_level": nu, "fidelity_correlation": f, "fidelity_total_ratio": 0.5}  # noqa: E731
    scores = {"published": {"DS29": {"rates": {"native": [{"correlation": 0.5, "bias": 0.0, "noise_level": 1.0}]}}},
              "conv": {"DS29": {"rates": {"native": [row(1.0, 0.9), row(2.0, 0.8), row(4.0, 0.6)]}}}}  # fmt: skip
    lines = frame_rates.fidelity_bin_lines(scores)
    assert len(lines) == 5 and all(line.startswith("| conv |") for line in lines[2:])
    assert lines[2].startswith("| conv | < 1.4 | 0.90 / 0.50 (1) |") and lines[4].startswith("| conv | ≥ 3 | 0.60 / 0.50 (1) |")


@pytest.mark.parametrize("label,rate", [("native", None), ("30 Hz", 30.0), ("7.5 Hz", 7.5)])
def test_rate_labels(label, rate):
    assert frame_rates.rate_label(rate) == label


def test_neurons_are_binned_by_their_own_noise_level():
    rows = [{"correlation": c, "bias": 0.0, "noise_level": nu} for c, nu in ((0.9, 0.5), (0.8, 1.0), (0.5, 2.0), (0.2, 5.0))]
    lines = frame_rates.noise_bin_lines({"published": {"DS31": {"rates": {"native": rows}}}})
    assert lines[2].startswith("| published | < 1.4 | 0.850 (2; +0.00) |")
    assert lines[3].startswith("| published | 1.4–3 | 0.500 (1; +0.00) |")
    assert lines[4].startswith("| published | ≥ 3 | 0.200 (1; +0.00) |")


def test_a_family_is_scored_by_its_members_fold_models_choosing_as_its_manifest_says(ground_truth, monkeypatch, tmp_path):
    """A ranged manifest of shipped names becomes a family of fold models (shipped models stand in for them here)."""
    import json

    import ens2rt

    stand_in = {"published": "ens2-exc-native", "conv-noise-distil1": "ens2-exc-conv", "windowed-nu6": "ens2-exc-nu6"}
    monkeypatch.setattr(frame_rates, "export_run", lambda key, runs, recipe: ens2rt.Model.load(stand_in[recipe]).path)
    manifest = tmp_path / "candidate.json"
    manifest.write_text(json.dumps({"name": "candidate", "members": [
        {"model": "ens2-exc-conv", "frame_rate_hz": [0, 40], "noise_level": [0, 5]},
        {"model": "ens2-exc-native", "noise_level": [0, 5]}, {"model": "ens2-exc-nu6", "noise_level": [5, None]}]}))  # fmt: skip
    assert frame_rates.family_recipes(manifest) == ["conv-noise-distil1", "published", "windowed-nu6"]
    family = frame_rates.fold_family("DS31", manifest, None)
    assert family.name == "family-candidate" and family.member_for(1.0, 30.0).name == "ens2-exc-conv"
    assert family.member_for(1.0, 122.0).name == "ens2-exc-native" and family.member_for(6.0, 30.0).name == "ens2-exc-nu6"
    nearest = tmp_path / "nearest.json"
    nearest.write_text(json.dumps({"name": "nearest", "members": ["ens2-exc-native", "ens2-exc-nu6"]}))
    with pytest.raises(Exception, match="explicit ranges"):
        frame_rates.fold_family("DS31", nearest, None)
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"name": "unknown", "members": ["ens2-inh-native"]}))
    with pytest.raises(Exception, match="no fold recipe known for ens2-inh-native"):
        frame_rates.family_recipes(unknown)


def test_a_member_without_a_fold_model_is_left_out_only_where_no_trial_reaches_it(monkeypatch, tmp_path):
    import json

    import ens2rt
    import typer

    def export_run(key, runs, recipe):
        if recipe == "windowed-nu6":
            raise typer.BadParameter("no trained run")
        return ens2rt.Model.load({"published": "ens2-exc-native", "conv-noise-distil1": "ens2-exc-conv"}[recipe]).path

    monkeypatch.setattr(frame_rates, "export_run", export_run)
    manifest = tmp_path / "default.json"
    manifest.write_text(json.dumps({"name": "default", "members": [
        {"model": "ens2-exc-conv", "frame_rate_hz": [0, 10]},
        {"model": "ens2-exc-nu6", "frame_rate_hz": [20, None], "noise_level": [5, None]}, "ens2-exc-native"]}))  # fmt: skip
    quiet = [(1.0, 60.0), (6.0, 15.0), (9.0, 7.5)]  # the only ν ≥ 5 trials are below 20 Hz: the member takes none
    family = frame_rates.fold_family("DS31", manifest, None, quiet)
    assert [m.name for m in family.members] == ["ens2-exc-conv", "ens2-exc-native"]
    with pytest.raises(typer.BadParameter, match="no trained run"):
        frame_rates.fold_family("DS31", manifest, None, [*quiet, (6.0, 30.0)])
    with pytest.raises(typer.BadParameter, match="no trained run"):
        frame_rates.fold_family("DS31", manifest, None)
    rows = frame_rates.trial_conditions([type("N", (), {"trials": [type("T", (), {"dff": np.random.default_rng(0).normal(0, 0.05, 1200),
                                                                                       "frame_rate": 30.0})()]})()])  # fmt: skip
    assert [rate for _, rate in rows] == [30.0, 15.0, 7.5] and all(level > 0 for level, _ in rows)
