import numpy as np
import pytest

import ens2rt
from conftest import check_stream_delay, push_in_random_chunks
from ens2rt.errors import InputError


@pytest.fixture(scope="module")
def model():
    return ens2rt.Model.load("ens2-exc-native", device="cpu")


@pytest.mark.parametrize("frame_rate,hop,seed", [(60.06, ens2rt.DEFAULT_HOP, 0), pytest.param(30.0, 1, 1, marks=pytest.mark.slow),  # hop 1: 4 s
                                                  (7.8, 5, 2), (158.0, 16, 3)])
def test_stream_equals_offline_for_random_chunks(model, frame_rate, hop, seed):
    ex = ens2rt.example.load_example()
    from scipy.signal import resample

    n = int(ex.dff.size * frame_rate / ex.frame_rate)
    base = resample(ex.dff.astype(np.float64), n)  # a real trace at this frame rate
    dff = np.stack([np.roll(base, s) for s in (0, n // 3, n // 2)])
    offline = ens2rt.infer(dff, frame_rate, model=model, hop=hop)
    outputs = push_in_random_chunks(ens2rt.Stream(3, frame_rate, model=model, hop=hop), dff, np.random.default_rng(seed), 300)
    rate = np.concatenate([o.rate for o in outputs], axis=1)
    np.testing.assert_allclose(rate, offline.rate, atol=1e-4)
    np.testing.assert_allclose(np.concatenate([o.time for o in outputs]), offline.time)
    for neuron in range(3):
        spikes = np.sort(np.concatenate([o.spike_times[neuron] for o in outputs]))
        np.testing.assert_allclose(spikes, offline.spike_times[neuron], atol=1e-9)


def test_memory_stays_constant(model):
    rng = np.random.default_rng(0)
    stream = ens2rt.Stream(4, 30.0, model=model)
    sizes = []
    for _ in range(200):  # 200 s of recording
        stream.push(rng.normal(0, 0.1, (4, 30)))
        sizes.append(stream._rate.held + stream._frames.shape[1] + stream._pending.shape[1])
    assert max(sizes[100:]) <= max(sizes[:100]) + 1
    assert max(sizes) < 2000


def test_delay_is_the_documented_worst_case(model):
    """The rate at t is out by the frame at t + delay_s, never before the frames it reads."""
    x = np.random.default_rng(1).normal(0, 0.3, (1, 1200))
    stream = ens2rt.Stream(1, 30.0, model=model, spikes=False)
    check_stream_delay(stream, x, range(500, 530), model=model)
    assert stream.delay_frames == int(np.ceil(stream.delay_s * 30.0 - 1e-9))
    assert 1.6 < stream.delay_s < 2.0  # the last window covering t reads 95 samples on, then the resampler's 8 frames


def test_non_finite_frames_hold_the_last_value(model):
    x = np.random.default_rng(2).normal(0, 0.2, (2, 600))
    held = x.copy()
    x[1, 200:230] = np.nan
    held[1, 200:230] = held[1, 199]
    stream, reference = ens2rt.Stream(2, 30.0, model=model), ens2rt.Stream(2, 30.0, model=model)
    a = np.concatenate([stream.push(x).rate, stream.flush().rate], axis=1)
    b = np.concatenate([reference.push(held).rate, reference.flush().rate], axis=1)
    np.testing.assert_array_equal(a, b)


def test_stream_errors(model):
    stream = ens2rt.Stream(2, 30.0, model=model)
    with pytest.raises(InputError, match=r"\(2, k\)"):
        stream.push(np.zeros((3, 10)))
    with pytest.raises(InputError, match="no finite"):
        stream.push(np.full((2, 5), np.nan))
    stream.push(np.zeros((2, 20)))
    with pytest.raises(InputError, match="less than one"):
        stream.flush()
    with pytest.raises(InputError, match="flushed"):
        stream.push(np.zeros((2, 5)))
    with pytest.raises(InputError, match="hop"):
        ens2rt.Stream(2, 30.0, model=model, hop=0)
