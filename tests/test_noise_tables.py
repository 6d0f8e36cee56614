"""benchmarks/noise.py: another recipe's single models tabled beside the noise-matched family."""

import pytest

from benchmarks import noise


def _family(per_dataset: dict[str, float]) -> dict:
    return {"conditions": {name: {"per_dataset": {k: {"noise_matched": v} for k, v in per_dataset.items()}} for name in ("native", "nu4")}}


def _scored(dataset: str, correlations: list[float]) -> dict:
    rows = [{"file": f"n{i}.mat", "correlation": c} for i, c in enumerate(correlations)]
    return {"dataset": dataset, "conditions": {"native": rows, "nu4": [{**r, "correlation": r["correlation"] - 0.3} for r in rows]}}


def test_a_recipe_is_compared_with_the_family_on_the_datasets_it_ran():
    family = _family({"DS01": 0.5, "DS02": 0.6, "DS03": 0.9})
    summary = noise.recipe_summary({"DS01": _scored("DS01", [0.6, 0.8]), "DS02": _scored("DS02", [0.5])}, family)
    native, nu4 = summary["conditions"]["native"], summary["conditions"]["nu4"]
    assert native["per_dataset"] == {"DS01": 0.7, "DS02": 0.5} and native["correlation"] == pytest.approx(0.6)
    assert native["family_same_datasets"] == pytest.approx(0.55)  # DS03 was not run by the recipe: left out of both
    assert (native["datasets_better_than_family"], native["datasets_worse_than_family"]) == (1, 1)
    assert nu4["correlation"] == pytest.approx(0.3)
    lines = noise.recipe_lines({"conv-local": summary})
    assert "2 of 23 datasets" in lines[1] and lines[5] == "| as recorded | 0.600 | 0.550 | +0.050 | 1 / 1 |"
    assert lines[6].startswith("| ν = 4 | 0.300 | 0.550 | -0.250 | 0 / 2 |")


def test_a_distilled_recipe_learns_from_the_native_member_of_its_fold(tmp_path):
    import typer

    with pytest.raises(typer.BadParameter, match="train that first"):  # no published family under tmp_path
        noise.train_recipe("A", "conv-noise-distil1", noise.GROUND_TRUTH, tmp_path, "cpu")
    with pytest.raises(typer.BadParameter, match="ensemble of teachers"):
        noise.train_recipe("A", "conv-noise-distil1-teachers2", noise.GROUND_TRUTH, tmp_path, "cpu")


def _run(runs, fold: str, variant: str, noise_level):
    folder = noise.recipe_dir(fold, variant, runs)
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(noise.json.dumps({"settings": {"kind": "convolutional", "noise_level": noise_level}}))


def test_a_recipe_family_needs_every_member_trained_each_at_a_level(tmp_path):
    import typer

    _run(tmp_path, "A", "conv-noise-distil1", None)
    with pytest.raises(typer.BadParameter, match="no conv-noise-distil1-nu4 model for fold A"):
        noise.recipe_family("A", "conv-noise-distil1", ["conv-noise-distil1-nu4"], tmp_path)
    _run(tmp_path, "A", "conv-noise", None)
    with pytest.raises(typer.BadParameter, match="conv-noise trains at native noise"):
        noise.recipe_family("A", "conv-noise-distil1", ["conv-noise"], tmp_path)
    _run(tmp_path, "A", "conv-noise-distil1-nu8", 8.0)
    with pytest.raises(typer.BadParameter, match="conv-noise-distil1-nu8 trains at a noise level"):
        noise.recipe_family("A", "conv-noise-distil1-nu8", ["conv-noise-distil1"], tmp_path)


def test_members_without_a_recipe_are_refused():
    import typer

    with pytest.raises(typer.BadParameter, match="give --recipe too"):
        noise.score(member=["conv-noise-distil1-nu4"])


def test_a_recipe_family_is_tabled_with_its_members_and_command():
    family = _family({"DS01": 0.5, "DS02": 0.6})
    members = ["conv-noise-distil1-nu4", "conv-noise-distil1-nu8"]
    scored = {key: {**_scored(key, [0.7]), "recipe": "conv-noise-distil1", "members": members} for key in ("DS01", "DS02")}
    summary = noise.recipe_summary(scored, family)
    assert summary["members"] == members and summary["recipe"] == "conv-noise-distil1"
    lines = noise.recipe_lines({"conv-noise-distil1-family+nu4+nu8": summary})  # the recipe, not the folder, names it
    assert lines[1].startswith("The `conv-noise-distil1` family per fold: its model and `conv-noise-distil1-nu4`, `conv-noise-distil1-nu8`")
    assert "score --recipe conv-noise-distil1 --member conv-noise-distil1-nu4 --member conv-noise-distil1-nu8`" in lines[1]
    assert lines[5] == "| as recorded | 0.700 | 0.550 | +0.150 | 2 / 0 |"
    scored["DS02"]["members"] = members[:1]
    with pytest.raises(ValueError, match="scored by different families"):
        noise.recipe_summary(scored, family)


def test_the_published_members_join_a_recipe_only_when_every_level_is_trained(tmp_path, monkeypatch):
    import typer

    with pytest.raises(typer.BadParameter, match="either the recipe's own --member models or --published-members"):
        noise.score(recipe="conv-noise-distil1", member=["conv-noise-distil1-nu4"], published_members=True)
    with pytest.raises(typer.BadParameter, match="give --recipe too"):
        noise.score(published_members=True)
    exported = type("Family", (), {"members": ["the recipe's native model"]})()
    monkeypatch.setattr(noise, "recipe_family", lambda fold, recipe, members, runs: exported)  # no weights to export here
    with pytest.raises(typer.BadParameter, match="no published-recipe member at nu = 2 for fold A"):
        noise.mixed_family("A", "conv-noise-distil1", tmp_path)


def test_a_mixed_family_is_tabled_as_one():
    family = _family({"DS01": 0.5, "DS02": 0.6})
    members = ["nu2", "nu4", "nu6", "nu8"]
    scored = {key: {**_scored(key, [0.7]), "members": members, "published_members": True} for key in ("DS01", "DS02")}
    summary = noise.recipe_summary(scored, family)
    assert summary["published_members"] and summary["members"] == members
    lines = noise.recipe_lines({"conv-noise-distil1-mixed": summary})
    assert lines[1].startswith("A family of mixed kinds per fold: the `conv-noise-distil1` model as its native member")
    assert "score --recipe conv-noise-distil1 --published-members`" in lines[1]
    scored["DS02"]["published_members"] = False
    with pytest.raises(ValueError, match="scored by different families"):
        noise.recipe_summary(scored, family)


def test_a_shipped_recipes_noise_benchmark_goes_into_its_models_card(tmp_path, monkeypatch):
    import json

    from benchmarks import accuracy

    monkeypatch.setattr(accuracy, "SHIPPED_RECIPES", {"conv-local": {"excitatory": "my-conv", "inhibitory": "my-inh-conv"},
                                                    "unshipped": {"excitatory": "missing-card"}})
    (tmp_path / "my-conv.json").write_text(json.dumps({"name": "my-conv", "scores": {"held_out": "kept"}}))
    summary = noise.recipe_summary({"DS01": _scored("DS01", [0.6, 0.8])}, _family({"DS01": 0.5}))
    written = noise.update_recipe_cards({"conv-local": summary, "unshipped": summary}, tmp_path)
    assert written == [tmp_path / "my-conv.json"]
    scores = json.loads((tmp_path / "my-conv.json").read_text())["scores"]
    entry = scores["noise_benchmark_of_the_recipe"]
    assert scores["held_out"] == "kept" and entry["datasets"] == ["DS01"]
    assert entry["median_of_dataset_medians"]["native"] == {"this_recipe": 0.7, "ens2_exc_family_same_datasets": 0.5}


def test_a_recipe_that_scores_what_the_family_scores_ties_with_it():
    family = _family({"DS01": 0.7, "DS02": 0.6})  # the family's per-dataset medians, stored rounded
    scored = {"DS01": _scored("DS01", [0.69999999]), "DS02": _scored("DS02", [0.6000000001])}
    native = noise.recipe_summary(scored, family)["conditions"]["native"]
    assert (native["datasets_better_than_family"], native["datasets_worse_than_family"]) == (0, 0)


def test_a_family_with_members_other_than_the_recipes_own_has_its_own_folder():
    own = [f"windowed-nu{level:g}" for level in noise.LEVELS]
    assert noise.family_name("windowed") == noise.family_name("windowed", own) == "windowed-family"
    banded = ["windowed-band2", *own[1:]]
    assert noise.family_name("windowed", banded) == "windowed-family+band2+nu4+nu6+nu8"
    assert noise.family_name("conv-noise-distil1", ["windowed-nu4"]) == "conv-noise-distil1-family+windowed-nu4"
    assert noise.family_name("windowed", own[1:]) == "windowed-family+nu4+nu6+nu8"  # not every level: another family


def test_a_banded_member_sits_at_its_bands_centre_and_the_native_model_at_its_datas_level(tmp_path, monkeypatch):
    _run(tmp_path, "A", "windowed", None)
    _run(tmp_path, "A", "windowed-nu4", 4.0)
    band = noise.recipe_dir("A", "windowed-band2", tmp_path)
    band.mkdir(parents=True)
    (band / "run.json").write_text(noise.json.dumps({"settings": {"noise_band": [1.0, 3.0]}}))
    placed = {}

    def export(folder, out, *, name, noise_level, **card):  # no weights to export here: note where each member sits
        placed[folder.name] = noise_level
        return folder.name

    monkeypatch.setattr(noise, "export_trained_run", export)
    monkeypatch.setattr(noise, "typical_level", lambda datasets, resampler: 0.95)
    monkeypatch.setattr(noise.ens2rt.Model, "load", lambda out, device: out)
    monkeypatch.setattr(noise.ens2rt.ModelFamily, "from_models", lambda name, models: (name, models))
    name, models = noise.recipe_family("A", "windowed", ["windowed-band2", "windowed-nu4"], tmp_path)
    assert placed == {"windowed": 0.95, "windowed-band2": 2.0, "windowed-nu4": 4.0}
    assert name == "heldout-A-windowed-family+band2+nu4" and models == ["windowed", "windowed-band2", "windowed-nu4"]


def test_the_shipped_familys_cards_cite_its_own_rows_with_the_exact_family_and_oasis_beside():
    scores = {"protocol": "two folds", "conditions": {"native": {"oasis": 0.48}, "nu2": {"oasis": 0.41}}}
    rows = {folder: {"conditions": {"native": {"correlation": 0.6 + i / 100}, "nu2": {"correlation": 0.5 + i / 100}}}
            for i, folder in enumerate(noise.SHIPPED_FAMILY_ROWS.values())}  # fmt: skip
    assert noise.shipped_family_entry(scores, {}) is None  # not scored yet: cards are left alone
    entry = noise.shipped_family_entry(scores, rows)
    assert entry["median_of_dataset_medians"]["native"] == {"family": 0.6, "family_with_exact_nu2_member": 0.61,
                                                            "native_member_alone": 0.62, "oasis": 0.48}  # fmt: skip
    assert entry["median_of_dataset_medians"]["nu2"]["family"] == 0.5 and entry["command"] == "python -m benchmarks.noise table"


def test_the_family_benchmark_is_on_the_members_cards_and_off_a_model_that_left(tmp_path):
    import json

    cards = {"member": {"scores": {"held_out": "kept"}}, "left": {"scores": {"noise_matched_family": "stale", "held_out": "kept"}},
             "other": {"noise_level": 2.0}}  # fmt: skip
    for name, card in cards.items():
        (tmp_path / f"{name}.json").write_text(json.dumps({"name": name, **card}))
    (tmp_path / "families").mkdir()
    (tmp_path / "families" / "ens2-exc.json").write_text(json.dumps({"name": "ens2-exc", "members": ["member"]}))
    scores = {"protocol": "two folds", "conditions": {"native": {"oasis": 0.48}}}
    rows = {folder: {"conditions": {"native": {"correlation": 0.6}}} for folder in noise.SHIPPED_FAMILY_ROWS.values()}
    noise.update_cards(scores, rows, tmp_path)
    written = {name: json.loads((tmp_path / f"{name}.json").read_text()) for name in cards}
    assert written["member"]["scores"]["noise_matched_family"]["median_of_dataset_medians"]["native"]["family"] == 0.6
    assert written["member"]["scores"]["held_out"] == "kept"
    assert written["left"]["scores"] == {"held_out": "kept"}
    assert written["other"] == {"name": "other", "noise_level": 2.0}  # untouched
