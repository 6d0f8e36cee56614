"""benchmarks/accuracy.py: which datasets a held-out model trains on, and how the two cell classes are tabled."""

import pytest
import typer

from benchmarks import accuracy


def test_a_held_out_dataset_trains_with_its_own_cell_class():
    assert accuracy.cell_class("DS31") == "excitatory" and accuracy.cell_class("DS24") == "inhibitory"
    assert "DS24" not in accuracy.training_pool("DS31") and accuracy.training_pool("DS24") == accuracy.INHIBITORY
    with pytest.raises(typer.BadParameter, match="DS28 is in neither"):
        accuracy.cell_class("DS28")


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
