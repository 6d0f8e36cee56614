"""research/frame_rates.py noisy-student: both runs are compared on the same neurons."""

from research.frame_rates import noisy_bin


def test_the_noisy_bin_takes_the_same_neurons_from_both_runs():
    row = lambda name, nu, r: {"file": name, "noise_level": nu, "correlation": r, "bias": 0.0}  # noqa: E731
    windowed = [row("a", 1.0, 0.9), row("b", 3.5, 0.5), row("c", 3.0, 0.4)]
    student = [row("a", 1.1, 0.8), row("b", 2.9, 0.7), row("c", 3.2, 0.6)]  # the bin follows the windowed run's ν
    a, b = noisy_bin(windowed, student, 3.0)
    assert [r["file"] for r in a] == [r["file"] for r in b] == ["b", "c"]
    assert [r["correlation"] for r in b] == [0.7, 0.6]
