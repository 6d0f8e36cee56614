"""Property-based fuzz of ``infer``, ``Stream``, dask and the readers: a clear error or a finite,
well-shaped result, never a traceback and never a partial file. Bounded to seconds."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from typer.testing import CliRunner

import ens2rt
from ens2rt.cli import app

MODEL = "ens2-exc-conv"
FUZZ = settings(max_examples=int(os.environ.get("ENS2_FUZZ_EXAMPLES", 40)),  # more on purpose: ENS2_FUZZ_EXAMPLES=1000
                deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

DTYPES = st.sampled_from([np.float64, np.float32, np.int16, np.uint8, np.complex64, np.bool_])
VALUES = st.one_of(
    st.floats(-1.0, 1.0),  # ΔF/F as a fraction
    st.floats(allow_nan=True, allow_infinity=True, width=32),  # anything a float holds
    st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 1e30, -1e30, 500.0]),
)
RATES = st.one_of(st.sampled_from([30.0, 7.5, 2.5, 122.0]), st.floats(allow_nan=True, allow_infinity=True))


def _arrays(max_frames: int = 400):
    """Arrays of every dtype and any values: one trace, a few neurons, or a 3-D block (few values: it runs fast)."""
    shapes = st.one_of(
        st.tuples(st.integers(0, max_frames)),
        st.tuples(st.integers(0, 5), st.integers(0, max_frames)),
        st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 20)),
    )
    return DTYPES.flatmap(lambda dtype: hnp.arrays(dtype, shapes, elements=VALUES if np.dtype(dtype).kind in "fc" else None))


def _plausible():
    """ΔF/F-like arrays (mostly small fractions, some gaps and runs): the inputs that get as far as the network."""
    shapes = st.tuples(st.integers(1, 4), st.integers(40, 400))
    elements = st.one_of(st.floats(-0.3, 2.0), st.just(np.nan), st.just(0.0))
    return hnp.arrays(np.float64, shapes, elements=elements)


def _well_formed(result: ens2rt.InferenceResult, n_neurons: int) -> None:
    assert result.rate.ndim == 2 and result.rate.shape[0] == n_neurons and result.time.shape == result.rate.shape[1:]
    assert not np.isinf(result.rate).any()  # finite, or NaN where the input had gaps
    assert result.noise_level.shape == (n_neurons,)
    if result.spike_times is not None:
        assert len(result.spike_times) == n_neurons and all(np.isfinite(t).all() for t in result.spike_times)


@FUZZ
@given(dff=st.one_of(_arrays(), _plausible()), frame_rate=RATES, checks=st.booleans(), percent=st.booleans())
def test_infer_gives_a_clear_error_or_a_finite_well_shaped_result(dff, frame_rate, checks, percent):
    try:
        result = ens2rt.infer(dff, frame_rate, model=MODEL, input_checks=checks, percent=percent)
    except ens2rt.Ens2Error as exc:
        event(f"refused: {str(exc)[:30]}")
        return
    event("inferred")
    _well_formed(result, 1 if dff.ndim == 1 else dff.shape[0])


@FUZZ
@given(dff=_arrays(120), chunk=st.integers(1, 50), checks=st.booleans())
def test_stream_gives_a_clear_error_or_well_shaped_output(dff, chunk, checks):
    try:
        stream = ens2rt.Stream(1 if dff.ndim == 1 else (dff.shape[0] if dff.ndim else 0), 30.0, model="ens2-exc-native",
                               input_checks=checks)  # fmt: skip
        frames = dff if dff.ndim == 2 else np.atleast_2d(dff)
        outputs = [stream.push(frames[:, start : start + chunk]) for start in range(0, frames.shape[1], chunk)]
        outputs.append(stream.flush())
    except ens2rt.Ens2Error as exc:
        event(f"refused: {str(exc)[:30]}")
        return
    event("streamed")
    rate = np.concatenate([out.rate for out in outputs], axis=1)
    assert rate.shape[0] == frames.shape[0] and not np.isinf(rate).any()


@FUZZ
@given(dff=st.one_of(_arrays(200), _plausible()), frame_rate=RATES)
def test_dask_gives_a_clear_error_or_a_finite_result(dff, frame_rate):
    dask = pytest.importorskip("ens2rt.dask")
    try:
        rate = dask.infer(dff, frame_rate, model=MODEL, spikes=False).rate.compute(scheduler="synchronous")
    except ens2rt.Ens2Error as exc:
        event(f"refused: {str(exc)[:30]}")
        return
    event("inferred")
    assert rate.shape[0] == dff.shape[0] and np.isfinite(rate).all()


def _file_of(kind: str, data: np.ndarray, raw: bytes, folder: Path) -> Path:
    """``data`` (or ``raw`` bytes) written as an input of ``kind``."""
    import scipy.io

    path = folder / f"input{kind}"
    if kind == ".bin.npy":
        path = folder / "input.npy"
        path.write_bytes(raw)
    elif kind == ".npy":
        np.save(path, data)
    elif kind == ".npz":
        np.savez(path, dff=data, fs=30.0)
    elif kind == ".mat":
        scipy.io.savemat(path, {"dff": data if data.size else np.zeros(0), "fs": 30.0})
    elif kind == ".csv":
        path.write_bytes(raw)
    return path


@FUZZ
@given(kind=st.sampled_from([".npy", ".npz", ".mat", ".csv", ".bin.npy"]), data=_arrays(200),
       raw=st.binary(max_size=300), suffix=st.sampled_from([".npz", ".mat", ".h5"]))  # fmt: skip
def test_the_command_line_exits_0_or_1_with_no_traceback_and_no_partial_file(kind, data, raw, suffix):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        if kind == ".mat" and data.ndim > 2:
            data = data.reshape(-1)  # MATLAB files hold 3-D arrays too, but a 3-D ΔF/F is refused before any of its values
        try:
            source = _file_of(kind, data, raw, folder)
        except (ValueError, TypeError):
            return  # the writer of the test file refused it: nothing for ens2rt to read
        before = set(os.listdir(folder))
        out = folder / f"out{suffix}"
        result = CliRunner().invoke(app, ["infer", str(source), "-r", "30", "-m", MODEL, "-o", str(out), "-q"])
        event(f"exit {result.exit_code}")
        assert result.exit_code in (0, 1), result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        assert "Traceback" not in result.output
        left = set(os.listdir(folder)) - before
        assert left == ({out.name} if result.exit_code == 0 else set()), left
