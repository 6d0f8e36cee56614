"""A stateful streaming graph of a convolutional model: each call reads only new samples.

The whole-trace graph (:mod:`ens2export.onnx_graph`) recomputes the left context of
every output it is asked for, which for a stream pushed frame by frame is ~50 times
the work of the new samples. This graph keeps, per layer, the few trailing samples its
next outputs read (the silero-vad pattern: state in, state out), so a call costs what
its new samples cost, and it computes the same numbers as the whole-trace graph:

- inputs ``dff`` (batch, n) new 60 Hz samples (any n ≥ 0, scaled as the contract says),
  ``position`` (1,) int64, and one ``state_<i>`` (samples, batch, channels) per cache;
- outputs ``spike_rate`` (batch, n), the rate of samples ``position − lag`` to
  ``position + n − lag`` (``lag`` = the contract's ``reach.right``), and
  ``position_out`` and ``state_<i>_out`` to feed to the next call.

Start: zero states at ``position = −warmup``, then push ``warmup`` zeros (the
activations of silence before the recording; their output is dropped). End of a
recording: push ``lag`` zeros. See docs/onnx-contract.md.

How it works: every tensor of the U-Net has a *frontier*, the number of its samples
that the inputs so far determine, a fixed function of the input frontier (a 3-tap
convolution lags its input by one sample, a max-pool halves, a transposed convolution
doubles). Each layer prepends its cache to its new samples, computes, and keeps the
samples its next call reads; slice offsets are integer arithmetic on ``position``.
Tensors are time-major (time, batch, channels): a time slice is one contiguous copy, and
each layer is one matrix product over every neuron and sample (onnxruntime's Conv
loops over the batch, slow for a few samples per neuron).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ens2export.architecture import ALIGNMENT, BOTTLENECK, DECODER, ENCODER, HEAD, KERNEL, LEAKY_SLOPE, UP_KERNEL, Network, architecture_reach
from ens2export.onnx_graph import OPSET
from ens2rt.engine.stateful import OUT_SUFFIX, STATE_PREFIX
from ens2rt.engine.stateful import POSITION as POSITION_NAME
from ens2rt.engine.stateful import POSITION_OUT as POSITION_OUT_NAME
from ens2rt.engine.stateful import RATE_OUTPUT as OUTPUT_NAME
from ens2rt.engine.stateful import TRACE_INPUT as TRACE_INPUT_NAME
from ens2export.weights import check_weights

ORIGIN = 4096  # internal frontier of input sample 0: keeps every frontier positive (integer Div floors)
WARMUP = 512  # zero samples that bring zero states to the activations of silence (well past every layer's reach)
_END = np.iinfo(np.int64).max
PLAIN = Network("convolutional")  #: the only network this graph covers
Frontier = tuple[tuple[str, int], ...]  # ops applied to the input frontier: ("sub", k), ("half", 0), ("double", 0)


def frontier_value(ops: Frontier, inputs: int) -> int:
    """A tensor's frontier (samples known) after ``inputs`` input samples (on the internal origin)."""
    value = inputs
    for op, k in ops:
        value = value - k if op == "sub" else value // 2 if op == "half" else value * 2
    return value


def _over_phases(ops_a: Frontier, ops_b: Frontier, offset: int = 0) -> tuple[int, int]:
    """min and max of frontier(a) − frontier(b) − offset over every input phase."""
    gaps = [frontier_value(ops_a, f) - frontier_value(ops_b, f) - offset for f in range(ORIGIN, ORIGIN + 4 * ALIGNMENT)]
    return min(gaps), max(gaps)


@dataclass
class _Samples:
    """The new samples of one tensor in a call: their ONNX name, frontier and channels."""

    name: str
    frontier: Frontier
    channels: int


class _StreamBuilder:
    def __init__(self, weights: dict[str, np.ndarray]):
        self.weights = weights
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.caches: list[tuple[int, int]] = []  # (samples, channels) of each cache, state_0, state_1, …
        self._count = 0
        self._frontiers: dict[tuple[Frontier, str], str] = {}
        self._constants: dict[tuple, str] = {}
        self._tensors: set[str] = set()

    # -- plumbing -------------------------------------------------------------------
    def node(self, op: str, inputs: list[str], **attributes) -> str:
        self._count += 1
        output = f"{op.lower()}_{self._count}"
        self.nodes.append(helper.make_node(op, inputs, [output], **attributes))
        return output

    def ints(self, *values: int) -> str:
        key = ("i64", values)
        if key not in self._constants:
            name = f"const_{len(self._constants)}"
            self.initializers.append(numpy_helper.from_array(np.array(values, dtype=np.int64), name))
            self._constants[key] = name
        return self._constants[key]

    def tensor(self, name: str, value: np.ndarray) -> str:
        """A float32 constant; a name given twice (a block run twice) is the same weights."""
        if name not in self._tensors:
            self._tensors.add(name)
            self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value, dtype=np.float32), name))
        return name

    def frontier(self, ops: Frontier, which: str) -> str:
        """int64 (1,) tensor: the frontier ``ops`` at the call's start (``which="old"``) or end (``"new"``)."""
        key = (ops, which)
        if key not in self._frontiers:
            if not ops:
                self._frontiers[key] = self.f_old if which == "old" else self.f_new
            else:
                base = self.frontier(ops[:-1], which)
                op, k = ops[-1]
                if op == "sub":
                    self._frontiers[key] = self.node("Sub", [base, self.ints(k)])
                elif op == "half":
                    self._frontiers[key] = self.node("Div", [base, self.ints(2)])
                else:
                    self._frontiers[key] = self.node("Mul", [base, self.ints(2)])
        return self._frontiers[key]

    def time_slice(self, x: str, start: str, end: str, step: int = 1) -> str:
        return self.node("Slice", [x, start, end, self.ints(0), self.ints(step)])

    def cached(self, new: _Samples, samples: int) -> str:
        """Prepend the last ``samples`` samples of ``new`` before this call (its cache) to it; update the cache."""
        name = f"{STATE_PREFIX}{len(self.caches)}"
        self.caches.append((samples, new.channels))
        joined = self.node("Concat", [name, new.name], axis=0)
        self.nodes.append(helper.make_node("Slice", [joined, self.ints(-samples), self.ints(_END), self.ints(0)], [name + OUT_SUFFIX]))
        return joined

    def dense(self, x: str, weight: np.ndarray, bias: np.ndarray, stem: str) -> str:
        """x (time, batch, k) @ weight (k, m) + bias: one GEMM over every neuron and sample."""
        return self.node("Add", [self.node("MatMul", [x, self.tensor(f"{stem}.matrix", weight)]), self.tensor(f"{stem}.offset", bias)])

    # -- layers (time-major: (time, batch, channels), so a time slice is one contiguous block)
    def conv(self, new: _Samples, weight_name: str) -> _Samples:
        """A 3-tap 'same' convolution (bias, LeakyReLU): lags its input by one sample."""
        weight = self.weights[weight_name]  # (out, in, tap)
        joined = self.cached(new, KERNEL - 1)  # internal positions [f_old - 2, f_new): outputs [f_old - 1, f_new - 1)
        taps = [self.time_slice(joined, self.ints(k), self.ints(k - (KERNEL - 1) if k < KERNEL - 1 else _END)) for k in range(KERNEL)]
        matrix = weight.transpose(2, 1, 0).reshape(KERNEL * weight.shape[1], weight.shape[0])  # rows: tap-major, then channel
        y = self.dense(self.node("Concat", taps, axis=2), matrix, self.weights[weight_name.replace(".weight", ".bias")], weight_name)
        return _Samples(self.node("LeakyRelu", [y], alpha=LEAKY_SLOPE), new.frontier + (("sub", KERNEL // 2),), weight.shape[0])

    def block(self, new: _Samples, block) -> _Samples:
        for weight_name in block.conv_names():
            new = self.conv(new, weight_name)
        return new

    def max_pool(self, new: _Samples) -> _Samples:
        """Max-pool 2: output q reads samples 2q and 2q + 1."""
        joined = self.cached(new, 1)  # internal positions [f_old - 1, f_new)
        half = new.frontier + (("half", 0),)
        base = self.node("Sub", [self.frontier(new.frontier, "old"), self.ints(1)])  # internal position of joined[0]
        start = self.node("Sub", [self.node("Mul", [self.frontier(half, "old"), self.ints(2)]), base])
        end = self.node("Sub", [self.node("Mul", [self.frontier(half, "new"), self.ints(2)]), base])
        even = self.time_slice(joined, start, end, 2)
        odd = self.time_slice(joined, self.node("Add", [start, self.ints(1)]), end, 2)
        return _Samples(self.node("Max", [even, odd]), half, new.channels)

    def up(self, new: _Samples, up) -> _Samples:
        """Transposed conv, 2 taps, stride 2: input q gives outputs 2q and 2q + 1."""
        weight = self.weights[f"{up.name}.weight"]  # (in, out, tap)
        matrix = weight.transpose(0, 2, 1).reshape(weight.shape[0], UP_KERNEL * weight.shape[1])  # columns: tap-major
        y = self.dense(new.name, matrix, np.tile(self.weights[f"{up.name}.bias"], UP_KERNEL), up.name)  # (m, batch, 2·out)
        y = self.node("Reshape", [y, self.ints(0, 0, UP_KERNEL, up.features)])
        y = self.node("Transpose", [y], perm=[0, 2, 1, 3])  # (m, 2, batch, out): sample 2q + j is [q, j]
        shape = self.node("Concat", [self.ints(-1), self.batch, self.ints(up.features)], axis=0)
        return _Samples(self.node("Reshape", [y, shape]), new.frontier + (("double", 0),), up.features)

    def aligned(self, skip: _Samples, frontier: Frontier) -> _Samples:
        """The samples of ``skip`` (which runs ahead) at the positions ``frontier`` adds in this call."""
        behind, ahead = _over_phases(skip.frontier, frontier)
        if behind < 0:
            raise AssertionError("a skip connection fell behind the path it joins")
        joined = self.cached(skip, ahead)  # internal positions [f_skip_old - ahead, f_skip_new)
        base = self.node("Sub", [self.frontier(skip.frontier, "old"), self.ints(ahead)])
        samples = self.time_slice(joined, self.node("Sub", [self.frontier(frontier, "old"), base]),
                                  self.node("Sub", [self.frontier(frontier, "new"), base]))  # fmt: skip
        return _Samples(samples, frontier, skip.channels)

    def skip(self, block_input: _Samples, block, skip: _Samples, frontier: Frontier) -> _Samples:
        """An encoder block's output at the positions ``frontier`` adds, from whichever state is smaller:
        its output kept until the decoder reaches it, or its input kept and the block run again then."""
        lag = 2 * (KERNEL // 2)  # a block's two convolutions
        early = (*frontier, ("sub", -lag))  # the block input the late run reads
        kept_output = _over_phases(skip.frontier, frontier)[1] * skip.channels
        kept_input = _over_phases(block_input.frontier, early)[1] * block.channels_in + (KERNEL - 1) * (block.channels_in + block.features)
        if kept_output <= kept_input:
            return self.aligned(skip, frontier)
        return self.block(self.aligned(block_input, early), block)

    def head(self, new: _Samples) -> _Samples:
        weight = self.weights[f"{HEAD}.weight"]  # (1, in, 1)
        y = self.dense(new.name, weight[:, :, 0].T, self.weights[f"{HEAD}.bias"], HEAD)
        return _Samples(self.node("Relu", [y]), new.frontier, 1)

    def delay_line(self, new: _Samples, lag: int) -> str:
        """Output samples [F_old − lag, F_new − lag): a fixed lag whatever the phase."""
        low, high = _over_phases(new.frontier, (), -lag)  # frontier − (F − lag)
        if low < 0:
            raise AssertionError(f"the network lags its input by more than {lag} samples")
        joined = self.cached(new, high)  # internal positions [f_old - high, f_new)
        base = self.node("Sub", [self.frontier(new.frontier, "old"), self.ints(high)])
        start = self.node("Sub", [self.node("Sub", [self.f_old, self.ints(lag)]), base])
        return self.time_slice(joined, start, self.node("Add", [start, self.n]))

    # -- the network --------------------------------------------------------------------
    def build(self) -> onnx.GraphProto:
        self.f_old = self.node("Add", [POSITION_NAME, self.ints(ORIGIN)])
        shape = self.node("Shape", [TRACE_INPUT_NAME])
        self.batch, self.n = self.node("Slice", [shape, self.ints(0), self.ints(1)]), self.node("Slice", [shape, self.ints(1), self.ints(2)])
        self.f_new = self.node("Add", [self.f_old, self.n])
        x = _Samples(self.node("Unsqueeze", [self.node("Transpose", [TRACE_INPUT_NAME], perm=[1, 0]), self.ints(2)]), (), 1)  # (n, batch, 1)
        skips = []
        for block in ENCODER:
            block_input, x = x, self.block(x, block)
            skips.append((block_input, block, x))
            x = self.max_pool(x)
        x = self.block(x, BOTTLENECK)
        for (up, block), skip in zip(DECODER, reversed(skips)):
            x = self.up(x, up)
            skip = self.skip(*skip, x.frontier)
            x = _Samples(self.node("Concat", [x.name, skip.name], axis=2), x.frontier, x.channels + skip.channels)
            x = self.block(x, block)
        rate = self.delay_line(self.head(x), architecture_reach()[1])
        self.nodes.append(helper.make_node("Transpose", [self.node("Squeeze", [rate, self.ints(2)])], [OUTPUT_NAME], perm=[1, 0]))
        self.nodes.append(helper.make_node("Add", [POSITION_NAME, self.n], [POSITION_OUT_NAME]))
        states = [(f"{STATE_PREFIX}{i}", [samples, "batch", channels]) for i, (samples, channels) in enumerate(self.caches)]
        return helper.make_graph(
            self.nodes,
            "ens2_unet_stream",
            [helper.make_tensor_value_info(TRACE_INPUT_NAME, TensorProto.FLOAT, ["batch", "time"]),
             helper.make_tensor_value_info(POSITION_NAME, TensorProto.INT64, [1]),
             *(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name, shape in states)],
            [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", "time"]),
             helper.make_tensor_value_info(POSITION_OUT_NAME, TensorProto.INT64, [1]),
             *(helper.make_tensor_value_info(name + OUT_SUFFIX, TensorProto.FLOAT, shape) for name, shape in states)],
            self.initializers,
        )  # fmt: skip


def build_stream_model(weights: dict[str, np.ndarray], metadata: dict[str, str]) -> onnx.ModelProto:
    """The streaming graph of a convolutional model (weights in export form, BatchNorm folded).

    Its lag is the U-Net's right reach; a whole-trace graph built with ``output_delay``
    d labels the same numbers d samples later, so one streaming graph serves every delay.
    """
    check_weights(weights, PLAIN)
    model = helper.make_model(_StreamBuilder(weights).build(), opset_imports=[helper.make_opsetid("", OPSET)], producer_name="ens2export")
    model.ir_version = 8  # readable by onnxruntime >= 1.14
    helper.set_model_props(model, metadata)
    onnx.checker.check_model(model, full_check=True)
    return model


def weights_from_onnx(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """The weights dict (export form) of a whole-trace convolutional graph, from its initializers."""
    shapes = PLAIN.shapes()
    weights = {}
    for tensor in model.graph.initializer:
        if tensor.name in shapes:
            value = numpy_helper.to_array(tensor)
            if value.size != np.prod(shapes[tensor.name]):
                raise ValueError(f"{tensor.name} has shape {value.shape}: not the plain convolutional network (e.g. a local z-score channel)")
            weights[tensor.name] = np.ascontiguousarray(value.reshape(shapes[tensor.name]), dtype=np.float32)
    missing = sorted(set(shapes) - set(weights))
    if missing:
        raise ValueError(f"no {missing[0]} among its weights: not the plain convolutional network (e.g. sliding InstanceNorm)")
    check_weights(weights, PLAIN)
    return weights
