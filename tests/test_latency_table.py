"""The latency table's arithmetic (benchmarks/stream_latency.py): which runs a row averages, and its reading."""

import json

from benchmarks import stream_latency


def _row(label: str, r: float, frame_ms: float, rate_only_ms: float, second_ms: float, delay_s: float) -> dict:
    return {"label": label, "r": r, "frame_ms": frame_ms, "frame_rate_only_ms": rate_only_ms, "second_ms": second_ms,
            "delay_s": delay_s, "per_dataset": {"DS29": r + 0.1, "DS31": r + 0.05}}  # fmt: skip


def test_the_reading_takes_its_numbers_from_the_rows():
    rows = [_row("0 ms", 0.25, 4.0, 2.0, 50.0, 0.017), _row("50 ms", 0.43, 5.0, 2.5, 40.0, 0.067),
            _row("100 ms", 0.61, 3.0, 1.5, 25.0, 0.117), _row("conv", 0.74, 6.0, 3.0, 50.0, 1.1),
            _row("windowed", 0.75, 30.0, 30.0, 500.0, 1.83)]  # fmt: skip
    text = stream_latency.reading(rows)
    assert "from 0.25 to 0.43 to 0.61, against 0.74 offline for the convolutional model and 0.75 for the windowed one" in text
    assert "keep 0.66–0.71" in text and "3.0–6.0 ms per 33 ms frame" in text and "(6–11× real time; the greedy spike fit about 50% of it)" in text
    assert "1.5–3.0 ms for the rate alone" in text and "once a second, 20–40×" in text and "answers 1.8 s late and runs at 2.0×" in text


def test_a_row_averages_only_the_runs_of_its_own_variant(tmp_path, monkeypatch):
    folder = tmp_path / "recipe"
    folder.mkdir()
    for name, variant in (("D-conv-s0", "conv"), ("D-conv-s1", "conv"), ("D-conv-stretch-s0", "conv-stretch")):
        (folder / f"{name}.json").write_text(json.dumps({"variant": variant, "seed": name[-1]}))
    monkeypatch.setattr(stream_latency, "RESULTS", tmp_path)
    records, model = stream_latency._validation("conv")
    assert [r["seed"] for r in records] == ["0", "1"] and model is None
