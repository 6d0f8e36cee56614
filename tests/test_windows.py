import numpy as np
import pytest

from ens2rt.engine.windows import WINDOW, coverage_at, gather_windows, overlap_add, pad_for_windows, window_batches, window_starts


def test_hop1_divides_by_96_like_the_published_pipeline():
    assert np.all(coverage_at(np.arange(48, 548), 1) == 96)


@pytest.mark.parametrize("hop", [1, 2, 5, 7, 16, 48])
def test_interior_coverage_counts_real_windows(hop):
    n = 400
    real = np.zeros(n + WINDOW)
    for start in window_starts(n, hop):
        real[start : start + WINDOW] += 1
    interior = slice(48, n - 48)
    np.testing.assert_array_equal(coverage_at(np.arange(48, 48 + n), hop)[interior], real[48 : 48 + n][interior])


@pytest.mark.parametrize("hop", [1, 3, 8, 48])
def test_every_sample_is_covered(hop):
    n = 333
    real = np.zeros(n + WINDOW)
    for start in window_starts(n, hop):
        real[start : start + WINDOW] += 1
    assert real[48 : 48 + n].min() >= 1


@pytest.mark.parametrize("hop,batch", [(1, 7), (4, 1000), (48, 3)])
def test_gather_and_overlap_add_agree_with_a_plain_loop(hop, batch):
    rng = np.random.default_rng(hop)
    traces = rng.normal(size=(3, 150)).astype(np.float32)
    padded = pad_for_windows(traces)
    flat = padded.ravel()
    accumulated = np.zeros(flat.size)
    seen = 0
    for offsets in window_batches(3, 150 + WINDOW, window_starts(150, hop), batch):
        windows = gather_windows(flat, offsets)
        overlap_add(accumulated, offsets, windows * 2.0)
        seen += offsets.size
    expected = np.zeros_like(padded, dtype=float)
    for row in range(3):
        for start in window_starts(150, hop):
            expected[row, start : start + WINDOW] += 2.0 * padded[row, start : start + WINDOW]
    assert seen == 3 * window_starts(150, hop).size
    np.testing.assert_allclose(accumulated.reshape(padded.shape), expected, rtol=1e-6)
