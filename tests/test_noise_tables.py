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
