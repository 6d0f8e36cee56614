"""Streaming graphs: a convolutional model that keeps per-layer state and reads only new samples.

A convolutional model may ship a *streaming graph* beside it (card entry ``stream``,
file ``stream/<model>.onnx``, built by ``ens2export``; docs/onnx-contract.md). It
computes the same numbers as the model's whole-trace graph, but each call reads only
the samples that are new: a stream pushed frame by frame then costs what its frames
cost, instead of recomputing the model's left context at every push.
:class:`StatefulRun` holds that state for the neurons of a :class:`Stream`.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from ens2rt.engine.timing import stage
from ens2rt.errors import ModelError

# the streaming graph's tensor names (ens2export builds graphs with these)
TRACE_INPUT = "dff"
RATE_OUTPUT = "spike_rate"
POSITION = "position"
POSITION_OUT = "position_out"
STATE_PREFIX = "state_"
OUT_SUFFIX = "_out"  #: state_<i> is fed what state_<i>_out returned
CPU = "CPUExecutionProvider"
MIN_ROWS_PER_THREAD = 128  # below this, a thread's start costs more than its share of the work


@dataclass(frozen=True)
class StreamGraph:
    """A model's streaming graph, loaded on the model's providers, and how to run it."""

    session: ort.InferenceSession
    lag: int  #: its output at a call is the rate of the samples ``lag`` before the call's inputs
    warmup: int  #: zeros that bring zero states to the activations of silence
    states: tuple[tuple[str, tuple[int, int]], ...]  #: name and (samples, channels) of each state input (samples, batch, channels)
    outputs: tuple[str, ...]  #: what a call fetches: the rate, then each state's next value

    @classmethod
    def load(cls, path: Path, entry: dict, like: ort.InferenceSession, sha256: str) -> StreamGraph:
        """Load the graph a card's ``stream`` ``entry`` names (``path``), on the providers of session ``like``.

        On the CPU it gets one onnxruntime thread: its work is copies of small state
        tensors, which onnxruntime does not parallelise; :class:`StatefulRun` runs
        groups of neurons on threads of its own instead.
        """
        if sha256 != entry.get("sha256"):
            raise ModelError(f"streaming graph {path} does not match its card (sha256 {sha256[:12]}…): the file is corrupt or was replaced")
        providers = like.get_providers()
        options = like.get_session_options()
        if providers[0] == CPU:
            options = ort.SessionOptions()
            options.intra_op_num_threads = options.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(str(path), sess_options=options, providers=providers,
                                           provider_options=[like.get_provider_options().get(p, {}) for p in providers])  # fmt: skip
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(f"onnxruntime cannot load {path}: {exc}") from exc
        states = tuple((i.name, (int(i.shape[0]), int(i.shape[2]))) for i in session.get_inputs() if i.name.startswith(STATE_PREFIX))
        outputs = {o.name for o in session.get_outputs()}
        if {i.name for i in session.get_inputs()} - {name for name, _ in states} != {TRACE_INPUT, POSITION} or any(
            name + OUT_SUFFIX not in outputs for name, _ in states
        ):
            raise ModelError(f"{path}: not a streaming graph (inputs dff, position and state_<i>, each with a state_<i>_out)")
        outputs = (RATE_OUTPUT, *(name + OUT_SUFFIX for name, _ in states))
        return cls(session=session, lag=int(entry["lag"]), warmup=int(entry["warmup"]), states=states, outputs=outputs)

    def start(self, n_rows: int) -> dict[str, np.ndarray]:
        """States of ``n_rows`` neurons after silence, at position 0."""
        zeros = {name: np.zeros((samples, 1, channels), np.float32) for name, (samples, channels) in self.states}
        _, states = self.run(np.zeros((1, self.warmup), np.float32), zeros, -self.warmup)
        return {name: np.repeat(value, n_rows, axis=1) for name, value in states.items()}

    def run(self, samples: np.ndarray, states: dict[str, np.ndarray], position: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Rate of samples ``position - lag …`` and the new states, after ``samples`` (rows, n) from ``position`` on."""
        feeds = {TRACE_INPUT: samples, POSITION: np.array([position], np.int64), **states}
        rate, *new_states = self.session.run(self.outputs, feeds)
        return rate, {name: value for (name, _), value in zip(self.states, new_states)}


@dataclass
class _Group:
    """Neurons that one streaming graph runs in one call, and their state."""

    graph: StreamGraph
    rows: slice | np.ndarray
    states: dict[str, np.ndarray]


class StatefulRun:
    """The streaming-graph state of every neuron of a stream: a group per model (and per thread).

    :meth:`push` takes the next 60 Hz samples (not yet scaled) and returns the rate of
    the recording's samples they made final: ``lag`` behind, so the first ``lag`` samples
    of the recording come out only after ``lag`` more (at the end, push ``lag`` zeros).
    ``threads`` (default: every core): on the CPU, groups of neurons run in parallel.
    """

    def __init__(self, graphs: list[StreamGraph], index: np.ndarray, scale: np.ndarray, threads: int | None = None):
        self.scale = scale.astype(np.float32)[:, None]
        threads = max(1, threads or os.cpu_count() or 1)
        self.groups: list[_Group] = []
        for position in np.unique(index):
            graph = graphs[position]
            rows = np.flatnonzero(index == position)
            parts = min(threads, rows.size // MIN_ROWS_PER_THREAD) if graph.session.get_providers()[0] == CPU else 1
            for part in np.array_split(rows, max(1, parts)):
                as_slice = slice(int(part[0]), int(part[-1]) + 1) if part[-1] - part[0] + 1 == part.size else part
                self.groups.append(_Group(graph, as_slice, graph.start(part.size)))
        self.position = 0
        self._before_start = graphs[int(index[0])].lag  # outputs still to come that precede the recording
        self._pool = ThreadPoolExecutor(len(self.groups)) if len(self.groups) > 1 else None

    def close(self) -> None:
        """Shut down the threads that run groups in parallel (if any)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    @stage("onnxruntime")
    def push(self, samples: np.ndarray) -> np.ndarray:
        """(n_neurons, k) rate of the recording's next samples: the ``n`` from ``position - lag`` on, those before 0 dropped."""
        x = np.ascontiguousarray(samples / self.scale, dtype=np.float32)
        out = np.empty_like(x)

        def run(group: _Group) -> None:
            rate, group.states = group.graph.run(np.ascontiguousarray(x[group.rows]), group.states, self.position)
            out[group.rows] = rate

        if self._pool is None:
            run(self.groups[0])
        else:
            for done in [self._pool.submit(run, group) for group in self.groups]:
                done.result()
        self.position += samples.shape[1]
        drop = min(self._before_start, out.shape[1])
        self._before_start -= drop
        return out[:, drop:]
