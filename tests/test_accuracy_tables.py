"""benchmarks/accuracy.py: which datasets a held-out model trains on, and how the two cell classes are tabled."""

from pathlib import Path

import numpy as np
import pytest
import typer

from benchmarks import accuracy


def test_a_held_out_dataset_trains_with_its_own_cell_class():
    assert accuracy.cell_class("DS31") == "excitatory" and accuracy.cell_class("DS24") == "inhibitory"
    assert "DS24" not in accuracy.training_pool("DS31") and accuracy.training_pool("DS24") == accuracy.INHIBITORY
    with pytest.raises(typer.BadParameter, match="DS28 is in neither"):
        accuracy.cell_class("DS28")


def test_a_recipe_may_train_on_both_cell_classes_in_leave_one_out_only():
    pool = accuracy.training_pool("DS24", accuracy.recipe_fields("windowed-allcells")["training_pool"])
    assert set(pool) == set(accuracy.EXCITATORY) | set(accuracy.INHIBITORY)
    with pytest.raises(ValueError, match="'all' or absent"):
        accuracy.training_pool("DS24", "inhibitory-only")
    accuracy.refuse_training_pool("windowed", "the noise benchmark")  # a recipe without a pool of its own passes
    with pytest.raises(typer.BadParameter, match="only the leave-one-out benchmark"):
        accuracy.refuse_training_pool("windowed-allcells", "the noise benchmark")
    with pytest.raises(typer.BadParameter, match="only the leave-one-out benchmark"):  # a research variant's own fields
        accuracy.refuse_training_pool("research-variant", "the validation folds", {"training_pool": "all"})
    with pytest.raises(typer.BadParameter, match="only the leave-one-out benchmark"):
        accuracy.refuse_training_pool("windowed-inh-share25", "the noise benchmark")


def test_a_share_of_the_other_cell_class_cuts_its_trials_to_that_share(monkeypatch):
    from ens2export.dataset import windows_from_neurons
    from ens2export.groundtruth import Neuron, Trial

    def fake_windows(root, include, exclude, resampler):  # one 100 s trial per dataset
        trial = Trial(dff=np.sin(np.arange(3000) / 7.0), frame_rate=30.0, spike_times=np.array([1.0]))
        return accuracy.concatenate([windows_from_neurons([Neuron(dataset=d, path=None, trials=(trial,))]) for d in include if d not in exclude])

    monkeypatch.setattr(accuracy, "load_windows", fake_windows)
    fields = accuracy.recipe_fields("windowed-inh-share25")
    source = accuracy.training_windows("DS27", Path("unused"), "fourier", fields["training_pool"], fields["other_class_share"])
    excitatory = np.isin(np.array(source.datasets), accuracy.EXCITATORY)  # one trial per dataset here
    assert excitatory.sum() == len(accuracy.EXCITATORY) and (~excitatory).sum() == len(accuracy.INHIBITORY) - 1
    assert source.trial_lengths[excitatory].sum() / source.n_windows == pytest.approx(0.25, abs=0.01)
    with pytest.raises(ValueError, match="share in \\(0, 1\\)"):
        accuracy.training_windows("DS27", Path("unused"), "fourier", None, 0.25)

def _result(dataset: str, correlation: float, inhibitory: bool) -> dict:
    neuron = {"correlation": correlation, "error": 1.0, "bias": 0.1, "er_50ms": 0.5, "victor_purpura": 0.6, "oasis_correlation": 0.4}
    if inhibitory:
        neuron["published_inh_correlation"] = 0.9
    return {"dataset": dataset, "hop": 6, "resampler": "sinc", "neurons": [neuron, {**neuron, "correlation": correlation + 0.2}]}


def test_each_cell_class_is_summarised_on_its_own():
    results = {"DS09": _result("DS09", 0.7, False), "DS22": _result("DS22", 0.5, True), "DS23": _result("DS23", 0.3, True)}
    excitatory, inhibitory = accuracy.summary(results), accuracy.summary(results, "inhibitory")
    assert list(excitatory["per_dataset"]) == ["DS09"] and excitatory["median_of_medians_ds02_ds21"] == pytest.approx(0.8)
    assert list(inhibitory["per_dataset"]) == ["DS22", "DS23"]
    assert inhibitory["median_of_medians"] == pytest.approx(0.5)  # medians 0.6 and 0.4
    assert inhibitory["published_inh_same_datasets"] == pytest.approx(0.9) and "not held out" in inhibitory["published_inh"]
    table = accuracy.inhibitory_lines(inhibitory)
    assert table[-1].startswith("| **median, 2 of 6** | | **0.500** | **0.900** | **0.400** |")
    conv = accuracy.summary({"DS23": _result("DS23", 0.5, True)}, "inhibitory", "conv-noise")
    table = accuracy.inhibitory_lines(inhibitory, {"conv-noise": conv, "online-100ms": accuracy.summary({}, "inhibitory", "online-100ms")})
    assert table[6].endswith(" conv-noise r | conv-noise bias |") and "online-100ms" not in table[6]  # a recipe with no inhibitory run: no column
    assert table[8].endswith("| not run | |") and table[9].endswith("| 0.600 | +0.100 |")  # DS22 not run, DS23 run
    assert table[-1].endswith("| **0.600** (1 of 6) | |")


def test_another_recipe_runs_in_its_own_folders_and_sits_in_columns_beside(tmp_path):
    assert accuracy.run_dir("DS09", tmp_path) == tmp_path / "loo-DS09"  # the published recipe's cache keeps its name
    assert accuracy.run_dir("DS09", tmp_path, "online-100ms") == tmp_path / "loo-online-100ms-DS09"
    assert accuracy.results_dir("online-100ms") == accuracy.LOO_RESULTS / "online-100ms"
    assert accuracy.recipe_fields("online-100ms")["lookahead"] == 6 and accuracy.recipe_fields("published") == {}
    with pytest.raises(typer.BadParameter, match="neither"):
        accuracy.recipe_fields("conv-magic")
    published = accuracy.summary({"DS09": _result("DS09", 0.7, False), "DS10": _result("DS10", 0.7, False)})
    other = accuracy.summary({"DS09": _result("DS09", 0.8, False)}, recipe="online-100ms")
    assert other["ahead_of_ens2"] == 1 and "online-100ms training recipe" in other["protocol"] and other["hop"] == [6]
    lines = accuracy.excitatory_lines(published, {"online-100ms": other})
    assert lines[0].endswith(" online-100ms r | online-100ms bias |")
    assert lines[2].endswith("| 0.900 | +0.100 |") and lines[3].endswith("| not run | |")  # DS09 run, DS10 not
    assert "**0.900** (1 of 20; ahead of ENS² on 1)" in next(line for line in lines if line.startswith("| **median"))


def test_a_seed_ensemble_is_made_of_its_base_recipes_seed_runs(tmp_path):
    assert accuracy.seed_ensemble("conv-noise-distil1-x2") == ("conv-noise-distil1", 2)
    assert accuracy.seed_ensemble("conv-noise-distil1") is None and accuracy.seed_ensemble("windowed-x1") is None
    assert accuracy.recipe_fields("conv-noise-distil1-x2") == accuracy.recipe_fields("conv-noise-distil1")
    assert accuracy.member_runs("DS09", tmp_path, "conv-noise-distil1-x2") == [tmp_path / "loo-conv-noise-distil1-DS09",
                                                                                tmp_path / "loo-conv-noise-distil1-DS09-s1"]  # fmt: skip
    assert accuracy.run_dir("DS09", tmp_path, seed=2) == tmp_path / "loo-DS09-s2"
    with pytest.raises(typer.BadParameter, match="seed ensemble"):  # its members train, not the ensemble
        accuracy.train_one("DS09", accuracy.GROUND_TRUTH, tmp_path, "cpu", 0, None, None, recipe="conv-noise-distil1-x2")
    with pytest.raises(typer.BadParameter, match="no trained run"):
        accuracy.export_run("DS09", tmp_path, "conv-noise-distil1-x2")


def test_a_shipped_model_cites_the_table_of_its_own_recipe():
    import json

    for recipe, shipped in accuracy.SHIPPED_RECIPES.items():
        for cells, model in shipped.items():
            card = json.loads((accuracy.REPO / "models" / f"{model}.json").read_text())
            trained_with = card["training"]["settings"]
            fields = accuracy.recipe_fields(recipe)
            teacher_run = fields.pop("teacher_run", None)
            assert card["cell_class"] == cells and {k: trained_with[k] for k in fields} == fields
            if teacher_run is not None:  # a split's published-recipe model teaches in a fold; on all data, the shipped one
                assert trained_with["teacher"] == f"ens2-{cells[:3]}-native"


def test_a_distilled_recipe_learns_from_the_published_model_of_its_split(tmp_path):
    assert accuracy.recipe_fields("conv-noise-distil")["teacher_run"] == "windowed-s0"
    with pytest.raises(typer.BadParameter, match="train that first"):  # no published leave-DS09-out run under tmp_path
        accuracy.train_one("DS09", accuracy.GROUND_TRUTH, tmp_path, "cpu", 0, None, None, recipe="conv-noise-distil")


def test_scores_go_into_a_card_beside_other_benchmarks_entries(tmp_path):
    import json

    card = tmp_path / "ens2-exc-native.json"
    card.write_text(json.dumps({"name": "ens2-exc-native", "sha256": "abc", "scores": {"noise_matched_family": {"x": 1}}}))
    accuracy.update_card(card, {"median_of_medians_ds02_ds21": 0.7})
    written = json.loads(card.read_text())
    assert written["sha256"] == "abc" and written["scores"]["noise_matched_family"] == {"x": 1}
    assert written["scores"]["median_of_medians_ds02_ds21"] == 0.7
    assert written["scores"]["command"] == "python -m benchmarks.accuracy table"
    assert [p.name for p in tmp_path.iterdir()] == ["ens2-exc-native.json"]  # no partial file left behind


def test_another_recipe_is_compared_with_the_published_one_on_the_datasets_both_ran():
    published = accuracy.summary({"DS09": _result("DS09", 0.7, False), "DS10": _result("DS10", 0.5, False),
                                  "DS11": _result("DS11", 0.6, False)})  # fmt: skip
    other = accuracy.summary({"DS09": _result("DS09", 0.8, False), "DS10": _result("DS10", 0.4, False)}, recipe="online-100ms")
    h = accuracy.head_to_head(published, other)
    assert (h["datasets"], h["ahead"], h["behind"]) == (2, 1, 1)  # DS11 not run by the other recipe: left out
    assert h["median_r"] == pytest.approx(0.7) and h["published_median_r"] == pytest.approx(0.7)  # (0.9 + 0.5) / 2, (0.8 + 0.6) / 2
    assert h["mean_r"] == pytest.approx(0.7) and h["median_abs_bias"] == pytest.approx(0.1)
    [line] = accuracy.head_to_head_lines(published, {"online-100ms": other})
    assert "on the 2 held-out datasets both have run: ahead on 1, behind on 1" in line


def test_each_cell_class_of_a_shipped_recipe_scores_its_own_card(tmp_path, monkeypatch):
    import json

    monkeypatch.setattr(accuracy, "SHIPPED_RECIPES", {"online-100ms": {"excitatory": "my-exc", "inhibitory": "my-inh"}})
    for name in ("my-exc", "my-inh"):
        (tmp_path / f"{name}.json").write_text(json.dumps({"name": name, "scores": {"noise_benchmark_of_the_recipe": "kept"}}))
    excitatory = accuracy.summary({"DS09": _result("DS09", 0.7, False)}, recipe="online-100ms")
    inhibitory = accuracy.summary({"DS22": _result("DS22", 0.5, True), "DS23": _result("DS23", 0.3, True)}, "inhibitory", "online-100ms")
    unshipped = accuracy.summary({"DS22": _result("DS22", 0.5, True)}, "inhibitory", "conv-magic")
    written = accuracy.update_shipped_cards({"excitatory": {"online-100ms": excitatory},
                                             "inhibitory": {"online-100ms": inhibitory, "conv-magic": unshipped}}, tmp_path)  # fmt: skip
    assert written == [tmp_path / "my-exc.json", tmp_path / "my-inh.json"]
    exc, inh = (json.loads((tmp_path / f"{name}.json").read_text())["scores"] for name in ("my-exc", "my-inh"))
    assert exc["held_out"].endswith("1 of 23 held-out datasets so far") and list(exc["per_dataset"]) == ["DS09"]
    assert inh["held_out"].endswith("2 of 6 held-out datasets so far") and inh["median_of_medians"] == pytest.approx(0.5)
    assert inh["noise_benchmark_of_the_recipe"] == "kept"  # the card's other benchmarks stay
    complete = accuracy.summary({d: _result(d, 0.5, True) for d in accuracy.INHIBITORY}, "inhibitory", "online-100ms")
    accuracy.update_shipped_cards({"inhibitory": {"online-100ms": complete}}, tmp_path)
    assert json.loads((tmp_path / "my-inh.json").read_text())["scores"]["held_out"].endswith(": 6 of 6 held-out datasets")
    card = json.loads((tmp_path / "my-exc.json").read_text())
    (tmp_path / "my-exc.json").write_text(json.dumps({**card, "architecture": {"members": 2}}))  # a seed ensemble's card says so
    accuracy.update_shipped_cards({"excitatory": {"online-100ms": excitatory}}, tmp_path)
    assert "this model averages 2 seeds" in json.loads((tmp_path / "my-exc.json").read_text())["scores"]["held_out"]
    empty = accuracy.summary({}, "inhibitory", "online-100ms")
    assert accuracy.update_shipped_cards({"inhibitory": {"online-100ms": empty}}, tmp_path) == []  # nothing run: the card is left alone


@pytest.mark.slow  # 5 s; a research table's cross-check
def test_a_noise_following_rate_scale_is_fitted_without_the_dataset_it_scales():
    levels = {f"DS{i:02d}": level for i, level in zip(range(2, 8), (0.5, 0.8, 1.0, 1.5, 2.0, 3.0))}
    # every bias follows ν exactly (counts ∝ ν): a scale c · ν^-1 mends all of them but the one that breaks the rule
    biases = {key: level - 1.0 for key, level in levels.items()}
    biases["DS07"] = 5.0
    s = {"per_dataset": {key: {"bias": bias} for key, bias in biases.items()}}
    check = accuracy.noise_scale_check(s, levels)
    assert check["datasets"] == 6 and check["largest_bias"] == pytest.approx(5.0)
    assert check["scaled_median_abs_bias"] < 0.02 < check["median_abs_bias"]
    assert check["scaled_largest_bias"] == pytest.approx(6.0 / 3.0 - 1.0, abs=0.05)  # DS07 scaled by the others' fit, 1/ν
    assert accuracy.noise_scale_check({"per_dataset": {"DS02": {"bias": 0.1}}}, levels) is None
    lines = accuracy.noise_scale_lines({"published": s}, levels)
    assert lines[-1].startswith("- `published` with a rate scale c · ν^slope fitted on the other held-out datasets (6 in all)")


def test_rows_of_corrected_datasets_say_which_copy_of_the_ground_truth_they_used(ground_truth, monkeypatch):
    """DS09 and DS21 carry CASCADE's 2025 correction: a row scored on it is marked †, one on the earlier copies ‡."""
    from benchmarks import common

    monkeypatch.setattr(common, "GROUND_TRUTH", ground_truth)
    folder = next(ground_truth.glob("DS09*"))
    fresh = {**_result("DS09", 0.7, False), "ground_truth_sha256": common.ground_truth_fingerprint(folder)}
    stale = {**_result("DS21", 0.6, False), "ground_truth_sha256": "0" * 64}
    monkeypatch.setattr(accuracy, "ground_truth_copy", lambda key, sha: common.ground_truth_copy(key, sha, ground_truth))
    lines = accuracy.excitatory_lines(accuracy.summary({"DS09": fresh, "DS21": stale, "DS10": _result("DS10", 0.7, False)}))
    assert lines[2].startswith("| DS09† |") and lines[3].startswith("| DS21‡ |") and lines[4].startswith("| DS10 |")  # in the order given
    assert "† scored on CASCADE's 2025 correction" in lines[-1] and "‡ scored on the earlier copies" in lines[-1]


def test_count_rows_of_corrected_datasets_are_marked_too(ground_truth, monkeypatch):
    from benchmarks import common, counts

    copy = common.ground_truth_copy
    monkeypatch.setattr(common, "ground_truth_copy", lambda key, sha: copy(key, sha, ground_truth))
    row = {"bias": 0.5, "calibrated_bias": 0.5, "decisive": False, "n_events": 40, "single_spike_cv": 0.2, "reason": "one cluster"}
    fresh = common.ground_truth_fingerprint(next(ground_truth.glob("DS09*")))
    lines = counts.table_lines({"DS09": {"ground_truth_sha256": fresh, "neurons": [row]}, "DS10": {"neurons": [row]}})
    assert lines[2].startswith("| DS09† | 1 |") and lines[3].startswith("| DS10 | 1 |")
    assert any(line.startswith("† scored on CASCADE's 2025 correction") for line in lines)
