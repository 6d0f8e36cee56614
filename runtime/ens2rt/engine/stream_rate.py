"""A stream's rate: 60 Hz input samples in, final rate samples out, one class per way to run a model.

:class:`ens2rt.Stream` resamples frames to 60 Hz and fits spikes to the rate; between
the two it hands each new piece of input to one of these runners, which keeps what
later outputs need and returns the rate samples that became final:

- :class:`WindowedRate`: a windowed model's overlapping windows at the stream's hop,
  overlap-added (a sample is final once the last window covering it has run);
- :class:`GraphRate`: a convolutional model's streaming graph, each sample computed once;
- :class:`PieceRate`: a convolutional model without one, rerun on each push's new
  samples with the left context they read.

A family of mixed kinds runs one of these per kind on its neurons, under
:class:`MixedRate`, which emits a sample once every neuron's is final.

All share one interface: :meth:`emittable` (how many rate samples ``n`` input
samples make final, from which a stream's ``delay_s`` follows), :meth:`push` and
:meth:`finish` (the recording ended: zeros after it, as :func:`ens2rt.infer` pads it).
"""

from __future__ import annotations

import numpy as np

from ens2rt.catalog.family import NeuronModels
from ens2rt.engine import whole_trace
from ens2rt.engine.stateful import StatefulRun
from ens2rt.engine.windows import HALF_WINDOW, coverage_at, gather_windows, overlap_add
from ens2rt.errors import ModelError
from ens2rt.options import Options


class WindowedRate:
    """A windowed model at hop ``hop``: windows run as soon as their 96 samples have arrived."""

    def __init__(self, models: NeuronModels, n_neurons: int, hop: int, batch_size: int):
        self.models, self.n_neurons, self.hop, self.batch_size = models, n_neurons, hop, batch_size
        self._n_known = 0  # input samples pushed
        self._buffer_start = 0  # padded index of column 0 of the two buffers below
        self._padded = np.zeros((n_neurons, HALF_WINDOW), dtype=np.float32)  # 60 Hz input, padded
        self._summed = np.zeros((n_neurons, HALF_WINDOW))  # overlap-add of window outputs
        self._next_window = 0  # padded start of the next window to run
        self._n_emitted = 0

    def emittable(self, n_known: int) -> int:
        """Rate samples final once ``n_known`` input samples are: those before the next window to run."""
        last_start = n_known - HALF_WINDOW  # the last window that can run (padded index)
        return max(0, (last_start // self.hop + 1) * self.hop - HALF_WINDOW) if last_start >= 0 else 0

    @property
    def held(self) -> int:
        """Samples per neuron kept for later outputs (input and overlap-add columns)."""
        return self._padded.shape[1] + self._summed.shape[1]

    def push(self, samples: np.ndarray) -> np.ndarray:
        self._append(samples)
        self._n_known += samples.shape[1]
        self._run_windows(last_start=self._n_known - HALF_WINDOW)
        return self._emit(self._next_window - HALF_WINDOW)

    def finish(self) -> np.ndarray:
        n_total = self._n_known
        self._append(np.zeros((self.n_neurons, HALF_WINDOW), dtype=np.float32))
        self._run_windows(last_start=n_total - 1)
        return self._emit(n_total)

    def _append(self, samples: np.ndarray) -> None:
        self._padded = np.concatenate([self._padded, samples], axis=1)
        self._summed = np.concatenate([self._summed, np.zeros(samples.shape)], axis=1)

    def _run_windows(self, last_start: int) -> None:
        starts = np.arange(self._next_window, last_start + 1, self.hop)
        if starts.size == 0:
            return
        width = self._padded.shape[1]
        offsets = (np.arange(self.n_neurons)[:, None] * width + (starts - self._buffer_start)).ravel()
        padded_flat, summed_flat = self._padded.ravel(), self._summed.reshape(-1)
        for first in range(0, offsets.size, self.batch_size):
            batch = offsets[first : first + self.batch_size]
            overlap_add(summed_flat, batch, self.models.run(gather_windows(padded_flat, batch), batch // width))
        self._next_window = int(starts[-1]) + self.hop

    def _emit(self, end: int) -> np.ndarray:
        """The rate of samples not yet emitted before ``end``; drops what no later output needs."""
        samples = np.arange(self._n_emitted, max(end, self._n_emitted))
        columns = samples + HALF_WINDOW - self._buffer_start
        rate = (self._summed[:, columns] / coverage_at(samples + HALF_WINDOW, self.hop)).astype(np.float32)
        self._n_emitted += samples.size
        drop = min(self._next_window, self._n_emitted + HALF_WINDOW) - self._buffer_start
        self._padded, self._summed = self._padded[:, drop:], self._summed[:, drop:]
        self._buffer_start += drop
        return rate


class PieceRate:
    """A convolutional model rerun over each push's new outputs, with the left context they read."""

    def __init__(self, models: NeuronModels, n_neurons: int):
        self.models, self.contract = models, models.contract
        self._samples = np.zeros((n_neurons, 0), dtype=np.float32)  # input still to be read
        self._samples_start = 0  # 60 Hz index of self._samples[:, 0]
        self._n_known = 0
        self._n_emitted = 0

    def emittable(self, n_known: int) -> int:
        """Rate samples final once ``n_known`` input samples are: the model reads ``reach_right`` ahead."""
        return max(0, n_known - self.contract.reach_right)

    @property
    def held(self) -> int:
        """Input samples per neuron kept for later outputs."""
        return self._samples.shape[1]

    def push(self, samples: np.ndarray) -> np.ndarray:
        self._samples = np.concatenate([self._samples, samples], axis=1)
        self._n_known += samples.shape[1]
        return self._emit(self.emittable(self._n_known))

    def finish(self) -> np.ndarray:
        return self._emit(self._n_known)

    def _emit(self, end: int) -> np.ndarray:
        """Outputs from the last one emitted to ``end``, computed in one aligned piece."""
        start, alignment = self._n_emitted, self.contract.alignment
        if end <= start:
            return np.zeros((self._samples.shape[0], 0), dtype=np.float32)
        piece = (start // alignment * alignment, whole_trace.aligned_end(end, self.contract))
        rate = whole_trace.run_pieces(self.models, self._samples, self._samples_start, start, end, self._n_known, piece_bounds=[piece])
        self._n_emitted = end
        keep = max(0, end // alignment * alignment - self.contract.context_left) - self._samples_start
        self._samples, self._samples_start = self._samples[:, keep:], self._samples_start + keep
        return rate


class GraphRate:
    """A convolutional model's streaming graphs: each push computes its new samples once, with per-layer state."""

    def __init__(self, models: NeuronModels, n_neurons: int, threads: int | None):
        self.contract = models.contract
        for model in models.models:
            if model.stream_graph.lag != self.contract.reach_right:
                raise ModelError(
                    f"{model.name}: its streaming graph lags {model.stream_graph.lag} samples, "
                    f"its contract's reach.right is {self.contract.reach_right}"
                )
        self._run = StatefulRun([model.stream_graph for model in models.models], models.index, models.scales(), threads=threads)
        self.n_neurons = n_neurons

    def emittable(self, n_known: int) -> int:
        """Rate samples final once ``n_known`` input samples are: the graph lags ``reach_right``."""
        return max(0, n_known - self.contract.reach_right)

    @property
    def held(self) -> int:
        """Input samples per neuron kept for later outputs: none (the graphs' per-layer state has a fixed size)."""
        return 0

    @property
    def groups(self) -> int:
        """Neuron groups the graphs run in (one per model and thread)."""
        return len(self._run.groups)

    def push(self, samples: np.ndarray) -> np.ndarray:
        if samples.shape[1] == 0:
            return np.zeros((self.n_neurons, 0), dtype=np.float32)
        return self._run.push(samples)

    def finish(self) -> np.ndarray:
        return self._run.push(np.zeros((self.n_neurons, self.contract.reach_right), dtype=np.float32))

    def close(self) -> None:
        self._run.close()


class MixedRate:
    """Models that run differently (a family of mixed kinds): one runner per group of neurons,
    a sample emitted once it is final for every neuron (the slowest group sets the delay)."""

    def __init__(self, parts: list[tuple[np.ndarray, WindowedRate | PieceRate | GraphRate]], n_neurons: int):
        self.parts, self.n_neurons = parts, n_neurons
        self._ready = [np.zeros((rows.size, 0), dtype=np.float32) for rows, _ in parts]  # final, not yet emitted

    def emittable(self, n_known: int) -> int:
        """Rate samples final for every neuron once ``n_known`` input samples are."""
        return min(runner.emittable(n_known) for _, runner in self.parts)

    @property
    def held(self) -> int:
        """Samples per neuron kept for later outputs, in the group that keeps most."""
        return max(runner.held + ready.shape[1] for (_, runner), ready in zip(self.parts, self._ready))

    def push(self, samples: np.ndarray) -> np.ndarray:
        return self._emit([runner.push(np.ascontiguousarray(samples[rows])) for rows, runner in self.parts])

    def finish(self) -> np.ndarray:
        return self._emit([runner.finish() for _, runner in self.parts])

    def close(self) -> None:
        for _, runner in self.parts:
            if isinstance(runner, GraphRate):
                runner.close()

    def _emit(self, new: list[np.ndarray]) -> np.ndarray:
        self._ready = [np.concatenate([ready, rate], axis=1) for ready, rate in zip(self._ready, new)]
        width = min(ready.shape[1] for ready in self._ready)
        out = np.empty((self.n_neurons, width), dtype=np.float32)
        for k, (rows, _) in enumerate(self.parts):
            out[rows] = self._ready[k][:, :width]
            self._ready[k] = self._ready[k][:, width:]
        return out


def rate_runner(models: NeuronModels, n_neurons: int, options: Options) -> WindowedRate | PieceRate | GraphRate | MixedRate:
    """The runner for ``models``: their streaming graphs when every one ships one, else by the contract's kind;
    one per group when they run differently."""
    groups = models.groups()
    if len(groups) > 1:
        return MixedRate([(rows, rate_runner(group, rows.size, options)) for rows, group in groups], n_neurons)
    models = groups[0][1]  # every neuron's model runs one way (in a family of mixed kinds: only its members of that kind)
    if models.contract.windowed:
        return WindowedRate(models, n_neurons, options.hop, options.batch_size)
    if all(model.stream_graph is not None for model in models.models):
        return GraphRate(models, n_neurons, options.threads)
    return PieceRate(models, n_neurons)
