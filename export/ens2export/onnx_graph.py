"""Build the ENS² U-Net as an ONNX graph straight from a weights dict.

Writing the graph by hand (rather than tracing torch) keeps the published-weights
converter free of PyTorch and makes the graph exactly the one docs/method.md describes.
The 1-D network runs as 2-D operators on a (1 × T) image with (1 × k) kernels:
onnxruntime's CPU provider has blocked-layout kernels for 2-D convolutions that its
1-D convolutions lack, which measured about 1.3× faster on this network.

A windowed model takes (batch, 96) windows; a convolutional one (batch, T) traces
with any T divisible by 8, its BatchNorm already folded into conv biases (or, with
``norm_window``, sliding InstanceNorm after each conv), and optionally its input less
its local mean (:func:`ens2export.network.less_local_mean`) and a local z-score input
channel (:func:`ens2export.network.local_zscore`).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ens2export.architecture import (BOTTLENECK, DECODER, ENCODER, HEAD, KERNEL, LEAKY_SLOPE, LOCAL_ZSCORE_FLOOR, NORM_EPSILON,
                                     UP_KERNEL, ConvBlock, Network, level, norm_windows)  # fmt: skip
from ens2export.weights import check_weights
from ens2rt.engine.contract import WINDOW

OPSET = 18
INPUT_NAME = "dff_windows"
TRACE_INPUT_NAME = "dff"
OUTPUT_NAME = "spike_rate"


class _GraphBuilder:
    def __init__(self, weights: dict[str, np.ndarray], network: Network):
        self.weights = weights
        self.kind = network.kind
        self.norm_windows = norm_windows(network.norm_window)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def _name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def constant(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def scalar(self, name: str, value: float) -> str:
        """A float32 scalar initializer, added the first time ``name`` is asked for."""
        if name not in {tensor.name for tensor in self.initializers}:
            self.constant(name, np.array(value, dtype=np.float32))
        return name

    def node(self, op: str, inputs: list[str], **attributes) -> str:
        output = self._name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [output], **attributes))
        return output

    def conv(self, x: str, weight_name: str, bias_name: str | None = None, pad: int = KERNEL // 2, dilation: int = 1) -> str:
        inputs = [self.constant(weight_name, self.weights[weight_name][:, :, None, :])]
        if bias_name is not None:
            inputs.append(self.constant(bias_name, self.weights[bias_name]))
        dilated = {"dilations": [1, dilation]} if dilation > 1 else {}
        return self.node("Conv", [x, *inputs], pads=[0, pad * dilation, 0, pad * dilation], **dilated)

    def norm_act(self, x: str, channels: int, stem: str) -> str:
        scale = self.constant(f"{stem}.scale", np.ones(channels, np.float32))
        shift = self.constant(f"{stem}.shift", np.zeros(channels, np.float32))
        x = self.node("InstanceNormalization", [x, scale, shift], epsilon=NORM_EPSILON)
        return self.node("LeakyRelu", [x], alpha=LEAKY_SLOPE)

    def window_zscore(self, x: str, window: int, floor: float, stem: str) -> str:
        """Each channel of (batch, C, 1, T) ``x`` z-scored over a centred ``window``: ``(x − m) / √(max(q − m², 0) + floor)``.

        ``m``, ``q``: the window's mean of ``x`` and ``x²`` over the samples it covers (AveragePool without the padding).
        """
        pool = {"kernel_shape": [1, window], "pads": [0, window // 2, 0, window // 2], "count_include_pad": 0}
        mean = self.node("AveragePool", [x], **pool)
        square = self.node("AveragePool", [self.node("Mul", [x, x])], **pool)
        variance = self.node("Max", [self.node("Sub", [square, self.node("Mul", [mean, mean])]), self.scalar(f"{stem}_zero", 0.0)])
        scale = self.node("Sqrt", [self.node("Add", [variance, self.scalar(f"{stem}_floor", floor)])])
        return self.node("Div", [self.node("Sub", [x, mean]), scale])

    def block(self, x: str, block: ConvBlock, dilation: int = 1) -> str:
        for index, weight_name in enumerate(block.conv_names(), start=1):
            if self.kind == "windowed":
                x = self.conv(x, weight_name)
                x = self.norm_act(x, block.features, f"{block.name}norm{index}")
            elif self.norm_windows:
                x = self.window_zscore(self.conv(x, weight_name, dilation=dilation), self.norm_windows[level(block)], NORM_EPSILON, "norm")
                x = self.node("LeakyRelu", [x], alpha=LEAKY_SLOPE)
            else:  # BatchNorm folded into the conv
                bias = weight_name.replace(".weight", ".bias")
                x = self.node("LeakyRelu", [self.conv(x, weight_name, bias, dilation=dilation)], alpha=LEAKY_SLOPE)
        return x

    def less_local_mean(self, x: str, window: int) -> str:
        """(batch, C, 1, T) ``x`` minus its mean over a centred ``window`` (AveragePool without the padding), as the torch network."""
        pool = {"kernel_shape": [1, window], "pads": [0, window // 2, 0, window // 2], "count_include_pad": 0}
        return self.node("Sub", [x, self.node("AveragePool", [x], **pool)])

    def local_zscore(self, x: str, window: int) -> str:
        """Concatenate to (batch, 1, 1, T) ``x`` its z-score over a centred ``window``, as the torch network does."""
        return self.node("Concat", [x, self.window_zscore(x, window, LOCAL_ZSCORE_FLOOR, "zscore")], axis=1)


def build_model(weights: dict[str, np.ndarray], metadata: dict[str, str], network: Network = Network(), output_delay: int = 0) -> onnx.ModelProto:
    """ENS² as an ONNX model: float32 ΔF/F in, spikes per 60 Hz bin out.

    ``network``: which variant (:class:`ens2export.architecture.Network`); a windowed one
    takes (batch, 96) windows, a convolutional one (batch, time) traces. ``output_delay``:
    output t is the network's output at t − delay (zeros before), so it reads ``delay``
    samples less to the right and more to the left.
    """
    check_weights(weights, network)
    kind, local_window, dilation = network.kind, network.local_window, network.dilation
    if output_delay and kind != "convolutional":
        raise ValueError("only a convolutional model can delay its output")
    g = _GraphBuilder(weights, network)
    input_name, length = (INPUT_NAME, WINDOW) if kind == "windowed" else (TRACE_INPUT_NAME, "time")
    channel_and_height = g.constant("channel_and_height", np.array([1, 2], dtype=np.int64))
    x = g.node("Unsqueeze", [input_name, channel_and_height])  # (batch, 1, 1, T)
    if network.baseline_window:
        x = g.less_local_mean(x, network.baseline_window)
    if local_window:
        x = g.local_zscore(x, local_window)
    skips = []
    for block in ENCODER:
        x = g.block(x, block)
        skips.append(x)
        x = g.node("MaxPool", [x], kernel_shape=[1, 2], strides=[1, 2])
    x = g.block(x, BOTTLENECK, dilation)
    for (up, block), skip in zip(DECODER, reversed(skips)):
        up_weight = g.constant(f"{up.name}.weight", weights[f"{up.name}.weight"][:, :, None, :])
        up_bias = g.constant(f"{up.name}.bias", weights[f"{up.name}.bias"])
        x = g.node("ConvTranspose", [x, up_weight, up_bias], kernel_shape=[1, UP_KERNEL], strides=[1, 2])
        x = g.node("Concat", [x, skip], axis=1)
        x = g.block(x, block)
    x = g.conv(x, f"{HEAD}.weight", f"{HEAD}.bias", pad=0)
    x = g.node("Relu", [x])
    if output_delay:
        pads = g.constant("delay_pads", np.array([0, 0, 0, output_delay, 0, 0, 0, 0], dtype=np.int64))
        x = g.node("Pad", [x, pads])
        ends, last_axis = (g.constant(name, np.array([value], dtype=np.int64)) for name, value in (("delay_end", -output_delay), ("time_axis", 3)))
        x = g.node("Slice", [x, g.constant("delay_start", np.array([0], dtype=np.int64)), ends, last_axis])
    g.nodes.append(helper.make_node("Squeeze", [x, channel_and_height], [OUTPUT_NAME]))

    graph = helper.make_graph(
        g.nodes,
        "ens2_unet",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", length])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", length])],
        g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="ens2export",
    )
    model.ir_version = 8  # readable by onnxruntime >= 1.14
    helper.set_model_props(model, metadata)
    onnx.checker.check_model(model, full_check=True)
    return model
