"""research/inhibitory.py: the suspects change only what they name, and the table pools neurons."""

import numpy as np

from ens2export.groundtruth import Neuron, Trial
from research import inhibitory


def _neuron(rate: float = 30.0) -> Neuron:
    trial = Trial(dff=np.zeros(600), frame_rate=rate, spike_times=np.array([1.0, 2.0, 3.0]))
    return Neuron(dataset="DS99", path=inhibitory.Path("n.mat"), trials=(trial,))


def test_suspects_change_one_thing_each():
    neuron = _neuron()
    named = {name: (changed, rate) for name, changed, rate in inhibitory.conditions(neuron)}
    assert list(named) == ["as recorded", "baseline +0.05", "baseline +0.1", "15 Hz", "7.5 Hz", "2.5 Hz"]
    assert np.all(named["baseline +0.1"][0].trials[0].dff == 0.1) and named["7.5 Hz"][1] == 7.5
    assert inhibitory.firing_rate(neuron) == 3 / 20.0
    assert [name for name, _, _ in inhibitory.conditions(_neuron(5.0))] == ["as recorded", "baseline +0.05", "baseline +0.1", "2.5 Hz"]


def test_the_table_pools_every_neuron_and_splits_by_firing_rate():
    row = lambda c, b, f: {"correlation": c, "bias": b, "firing_rate_hz": f}  # noqa: E731
    records = {"DS22": {"rows": {"fold model": {"as recorded": [row(0.5, 1.0, 1.0), row(0.7, 3.0, 9.0)]}}}}
    lines = inhibitory.table_lines(records)
    assert lines[2] == "| DS22 | fold model | 0.600 / +2.00 (2) |"
    assert lines[-1] == "| fold model | 0.500 / +1.00 (1) | 0.700 / +3.00 (1) |"


def test_a_model_scored_on_some_datasets_pools_only_those():
    row = {"correlation": 0.5, "bias": 1.0, "firing_rate_hz": 1.0}
    records = {"DS22": {"rows": {"fold model": {"as recorded": [row]}, "fold model, x": {"as recorded": [row]}}},
               "DS23": {"rows": {"fold model": {"as recorded": [row]}}}}  # fmt: skip
    lines = inhibitory.table_lines(records)
    assert not any(line.startswith("| DS23 | fold model, x |") for line in lines)
    assert "| all (2) | fold model | 0.500 / +1.00 (2) |" in lines and "| all (1) | fold model, x | 0.500 / +1.00 (1) |" in lines


def test_scoring_one_recipe_keeps_the_rows_of_another(monkeypatch):
    neuron = _neuron()
    monkeypatch.setattr(inhibitory, "load_dataset", lambda folder: [neuron])
    monkeypatch.setattr(inhibitory, "find_datasets", lambda root, include: {include[0]: None})
    monkeypatch.setattr(inhibitory, "REFERENCES", ())
    done = {name: {condition: [] for condition, _, _ in inhibitory.conditions(neuron)}
            for name in ("fold model", "fold model, windowed-allcells")}  # fmt: skip
    rows = inhibitory.score_dataset("DS22", done=done)  # every pair asked for is done: nothing runs
    assert set(rows) == {"fold model", "fold model, windowed-allcells"}


def test_the_indicator_table_groups_datasets_and_states_the_rules_difference():
    row = lambda c, b: {"correlation": c, "bias": b, "firing_rate_hz": 1.0}  # noqa: E731
    rows = lambda inh, exc: {"rows": {"ens2-inh-native": [row(0.5, inh)], "excitatory fold model": [row(0.8, exc)]}}  # noqa: E731
    lines = inhibitory.indicator_table_lines({"DS09": rows(5.0, 0.1), "DS12": rows(7.0, 0.3)})
    assert "| GCaMP6f | 1 | 0.500 / +5.00 (1) | 0.800 / +0.10 (1) |" in lines
    assert "| OGB-1, Cal-520 | 0 |  |  |" in lines
    assert lines[-2:] == ["- ens2-inh-native: median bias on GCaMP6s minus on GCaMP6f: +2.00",
                          "- excitatory fold model: median bias on GCaMP6s minus on GCaMP6f: +0.20"]


def test_another_recipes_fold_models_get_rows_of_their_own():
    assert inhibitory.fold_model_name("published") == "fold model"
    assert inhibitory.fold_model_name("windowed-allcells") == "fold model, windowed-allcells"


def test_the_first_pass_switch_hands_busy_neurons_to_the_inhibitory_model():
    exc = [{"correlation": 0.5, "bias": -0.5, "firing_rate_hz": 4.0}, {"correlation": 0.6, "bias": 0.0, "firing_rate_hz": 0.2}]
    inh = [{"correlation": 0.9, "bias": 0.1, "firing_rate_hz": 4.0}, {"correlation": 0.7, "bias": 9.0, "firing_rate_hz": 0.2}]
    assert inhibitory.inferred_rate(exc[0]) == 2.0
    assert inhibitory.switched(inh, exc, 1.0) == [inh[0], exc[1]]  # 2 Hz inferred: inhibitory; 0.2 Hz: excitatory
    assert inhibitory.choose_threshold(inh, exc) == 0.3  # below 0.3 Hz both run inhibitory: median bias +4.55
    assert inhibitory.choose_threshold(inh, [dict(e, bias=3.0) for e in exc]) is None  # every R leaves it above +1
