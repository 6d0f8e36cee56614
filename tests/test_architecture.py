"""Structural guards of the runtime: the contract decides how a model runs, constants live once."""

import re
from pathlib import Path

RUNTIME = Path(__file__).resolve().parents[1] / "runtime" / "ens2rt"


def _code(path: Path) -> str:
    """Source without comments and docstring-like string lines."""
    return "\n".join(line.split("#")[0] for line in path.read_text().splitlines())


def test_only_the_contract_compares_model_kinds():
    offenders = [
        str(path.relative_to(RUNTIME))
        for path in RUNTIME.rglob("*.py")
        if path.name != "contract.py" and re.search(r"kind\s*[!=]=\s*[\"'](windowed|convolutional)", _code(path))
    ]
    assert offenders == []


def test_the_window_and_sample_rate_are_defined_once():
    window = [p.name for p in RUNTIME.rglob("*.py") if re.search(r"^WINDOW\s*=", _code(p), flags=re.M)]
    rate = [p.name for p in RUNTIME.rglob("*.py")
            if re.search(r"^[A-Z_]+\s*=\s*60(\.0)?\s*$|\brate\s*=\s*60(\.0)?\b", _code(p), flags=re.M)]  # fmt: skip
    assert window == ["contract.py"] and rate == ["contract.py"], (window, rate)
