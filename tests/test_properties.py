"""Property-based: readers and ``infer`` on random shapes, dtypes, NaN/inf patterns and rates.

Whatever comes in, the answer is a clean :class:`ens2rt.InputError` or a result that is
finite everywhere except in the 60 Hz bins of input gaps (and in neurons without any
finite frame), never a traceback of another type and never silently wrong numbers.
"""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import ens2rt
from ens2rt.errors import InputError, InputWarning
from ens2rt.formats.arrays import read_traces
from ens2rt.engine.traces import flat_frames, gap_mask_at_60hz

RUNS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
specials = st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 1e30, -3e38, 250.0])
dtypes = st.sampled_from([np.float32, np.float64, np.int16, np.int64, np.uint8])
long_enough = st.tuples(st.integers(1, 3), st.integers(200, 400))  # a window's worth at most rates
shapes = st.one_of(
    long_enough,
    long_enough,
    st.tuples(st.integers(1, 3), st.integers(1, 400)),
    st.tuples(st.integers(1, 400)),
    st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 50)),
)
frame_rates = st.one_of(
    st.sampled_from([7.8, 15.0, 30.0, 60.0, 122.0]),
    st.floats(0.5, 200.0),
    st.sampled_from([0.0, -30.0, np.nan, np.inf]),
)


@pytest.fixture(scope="module")
def model():
    return ens2rt.Model.load("ens2-exc-native", device="cpu")


@st.composite
def traces(draw):
    """Ordinary ΔF/F with a few special values (NaN, ±inf, huge, percent-like) at random places."""
    shape, dtype = draw(shapes), draw(dtypes)
    data = draw(arrays(np.float64, shape, elements=st.floats(-0.1, 0.3)))
    flat = data.reshape(-1)
    for position, value in draw(st.lists(st.tuples(st.integers(0, flat.size - 1), specials), max_size=4)):
        flat[position] = value
    if draw(st.booleans()):  # a whole neuron, or its start, missing
        flat[: draw(st.integers(1, flat.size))] = np.nan
    if np.issubdtype(dtype, np.integer):
        data = np.nan_to_num(data, nan=0, posinf=0, neginf=0).clip(max(np.iinfo(dtype).min, -1000), 1000)
    return data.astype(dtype)


def _check(result, dff):
    frames = np.atleast_2d(np.asarray(dff, dtype=np.float64))
    gaps = ~np.isfinite(frames) | flat_frames(frames, result.settings["frame_rate"])  # runs of one value are gaps too
    expected_nan = gap_mask_at_60hz(gaps, result.settings["frame_rate"], result.rate.shape[1])
    assert result.rate.shape[0] == frames.shape[0]
    np.testing.assert_array_equal(np.isnan(result.rate), expected_nan)
    assert np.isfinite(result.rate[~expected_nan]).all() and (result.rate[~expected_nan] >= 0).all()
    assert np.isfinite(result.spike_counts[~expected_nan]).all()
    assert all(np.isfinite(t).all() for t in result.spike_times)


@RUNS
@given(dff=traces(), frame_rate=frame_rates)
def test_infer_answers_cleanly(model, dff, frame_rate):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputWarning)
        try:
            result = ens2rt.infer(dff, frame_rate, model=model)
        except InputError:
            return
    _check(result, dff)


@RUNS
@given(dff=traces(), suffix=st.sampled_from([".npy", ".csv", ".npz", ".mat"]), junk=st.booleans())
def test_readers_answer_cleanly(tmp_path, dff, suffix, junk):
    import scipy.io

    path = tmp_path / f"x{suffix}"
    if junk:
        path.write_bytes(np.asarray(dff).tobytes()[:64] or b"\x00")
    elif suffix == ".npy":
        np.save(path, dff)
    elif suffix == ".csv":
        np.savetxt(path, np.atleast_2d(dff).reshape(np.atleast_2d(dff).shape[0], -1), delimiter=",")
    elif suffix == ".npz":
        np.savez(path, dff=dff, frame_rate=30.0)
    else:
        scipy.io.savemat(path, {"dff": dff})
    try:
        read = read_traces(path)
    except InputError:
        return
    assert np.issubdtype(read.dff.dtype, np.number)
    if not junk and suffix in (".npy", ".npz"):
        np.testing.assert_array_equal(read.dff, dff)
