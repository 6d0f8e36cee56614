"""The ENS² U-Net as a PyTorch module, built from :mod:`ens2export.architecture`.

Parameter names are the published checkpoint's. Both model kinds share it; only the
normalisation differs. :func:`to_weights` gives the export form (a convolutional
model's BatchNorm folded into its convolutions).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from ens2export.architecture import (BOTTLENECK, DECODER, ENCODER, HEAD, KERNEL, LEAKY_SLOPE, LOCAL_ZSCORE_FLOOR, NORM_EPSILON, UP_KERNEL,
                                     ConvBlock, Network, level, norm_windows)  # fmt: skip
from ens2export.weights import check_weights

INIT_STD = 0.02
BATCH_NORM_EPSILON = NORM_EPSILON


def _norm_block(block: ConvBlock, network: Network) -> nn.Sequential:
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    prefix = block.layer_prefix
    dilation = network.dilation if block.name == BOTTLENECK.name else 1
    for index, width_in in ((1, block.channels_in), (2, block.features)):
        layers[f"{prefix}conv{index}"] = nn.Conv1d(width_in, block.features, kernel_size=KERNEL, padding=KERNEL // 2 * dilation,
                                                   dilation=dilation, bias=False)  # fmt: skip
        if network.kind == "windowed":
            layers[f"{prefix}norm{index}"] = nn.InstanceNorm1d(block.features)
        elif network.norm_window:
            layers[f"{prefix}norm{index}"] = SlidingInstanceNorm(norm_windows(network.norm_window)[level(block)])
        else:
            layers[f"{prefix}norm{index}"] = nn.BatchNorm1d(block.features, eps=BATCH_NORM_EPSILON)
        layers[f"{prefix}relu{index}"] = nn.LeakyReLU(LEAKY_SLOPE)
    return nn.Sequential(layers)


class SlidingInstanceNorm(nn.Module):
    """InstanceNorm without windows: each channel's mean and variance over a centred ``window`` (odd) of samples.

    Over the samples of the window inside the input (its ends see fewer), as the ONNX
    graph's AveragePool (``count_include_pad=0``) computes them; no learnt scale or shift.
    In training mode the statistics come from :func:`sliding_mean` (cumulative sums: not
    exactly local, but equal up to rounding and about 2× faster to train).
    """

    def __init__(self, window: int) -> None:
        super().__init__()
        self.window = window

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:  # the same statistics up to rounding, at a constant cost per sample
            shifted = x - x.mean(dim=-1, keepdim=True).detach()  # variance is shift-invariant; small sums stay precise
            mean = sliding_mean(shifted, self.window)
            variance = sliding_mean(shifted * shifted, self.window) - mean * mean
            centred = shifted - mean
            return centred / torch.sqrt(torch.clamp(variance, min=0.0) + NORM_EPSILON)
        return window_zscore(x, self.window, NORM_EPSILON)  # exactly local, as the graph


def sliding_mean(x: torch.Tensor, window: int) -> torch.Tensor:
    """Mean of (batch, C, T) ``x`` over a centred ``window`` (odd), counting only samples inside ``x``.

    What ``avg_pool1d(..., count_include_pad=False)`` gives, from a cumulative sum: a constant
    cost per sample instead of one per window sample, exact up to rounding for short inputs of small mean.
    """
    half, length = window // 2, x.shape[-1]
    total = torch.cumsum(x, dim=-1)  # total[t] = sum of x[0..t]
    total = torch.cat([torch.zeros_like(total[..., :1]).expand(*total.shape[:-1], half + 1), total,
                       total[..., -1:].expand(*total.shape[:-1], half)], dim=-1)  # fmt: skip
    ends = torch.arange(length, device=x.device)
    count = (ends + half).clamp(max=length - 1) - (ends - half).clamp(min=0) + 1
    return (total[..., 2 * half + 1 :] - total[..., :length]) / count


class ENS2UNet(nn.Module):
    """(batch, T) ΔF/F → (batch, T) non-negative spikes per 60 Hz bin.

    ``network``: which variant (:class:`ens2export.architecture.Network`). Windowed: the
    published network, T = 96. Convolutional: BatchNorm (or sliding InstanceNorm, see
    :class:`SlidingInstanceNorm`), any T divisible by 8, with the first block also reading
    the input's local z-score (:func:`local_zscore`) if the network has a local window,
    and the input less its local mean (:func:`less_local_mean`) if it has a baseline window.
    ``rectify=False`` in :meth:`forward` leaves out the output ReLU (a convolutional model
    trains with a linear output: with the ReLU and the published initialisation a run can
    start, and stay, at all-zero output).
    """

    def __init__(self, network: Network = Network()) -> None:
        super().__init__()
        self.network = network
        for block in (*network.encoder(), network.bottleneck()):  # attribute names are the checkpoint's module names
            setattr(self, block.module, _norm_block(block, network))
        self.pool = nn.MaxPool1d(2)
        for up, block in network.decoder():
            setattr(self, up.name, nn.ConvTranspose1d(up.channels_in, up.features, kernel_size=UP_KERNEL, stride=2))
            setattr(self, block.module, _norm_block(block, network))
        setattr(self, HEAD, nn.Conv1d(network.encoder()[0].features, 1, kernel_size=1))

    def forward(self, windows: torch.Tensor, rectify: bool = True) -> torch.Tensor:
        x, skips = windows.unsqueeze(1), []
        if self.network.baseline_window:
            x = less_local_mean(x, self.network.baseline_window)
        if self.network.local_window:
            x = torch.cat([x, local_zscore(x, self.network.local_window)], dim=1)
        for block in ENCODER:
            x = getattr(self, block.module)(x)
            skips.append(x)
            x = self.pool(x)
        x = getattr(self, BOTTLENECK.module)(x)
        for (up, block), skip in zip(DECODER, reversed(skips)):
            x = getattr(self, block.module)(torch.cat([getattr(self, up.name)(x), skip], dim=1))
        x = getattr(self, HEAD)(x).squeeze(1)
        return torch.relu(x) if rectify else x


def less_local_mean(x: torch.Tensor, window: int) -> torch.Tensor:
    """(batch, C, T) → ``x`` minus its mean over a centred ``window`` (odd) of the samples inside the input, as the graph's AveragePool."""
    return x - nn.functional.avg_pool1d(x, window, stride=1, padding=window // 2, count_include_pad=False)


def local_zscore(x: torch.Tensor, window: int) -> torch.Tensor:
    """(batch, 1, T) → its z-score over a centred ``window`` (odd), variance floored by ``LOCAL_ZSCORE_FLOOR``."""
    return window_zscore(x, window, LOCAL_ZSCORE_FLOOR)


def window_zscore(x: torch.Tensor, window: int, floor: float) -> torch.Tensor:
    """(batch, C, T) → each channel z-scored over a centred ``window`` (odd): ``(x − m) / √(max(q − m², 0) + floor)``.

    ``m``, ``q``: mean of ``x`` and ``x²`` over the window's samples inside the input (its
    ends see fewer); the ONNX graph computes the same with AveragePool (``count_include_pad=0``).
    """
    mean, square = (nn.functional.avg_pool1d(v, window, stride=1, padding=window // 2, count_include_pad=False) for v in (x, x * x))
    return (x - mean) / torch.sqrt(torch.clamp(square - mean * mean, min=0.0) + floor)


def initialise(model: ENS2UNet, generator: torch.Generator) -> None:
    """Published initialisation: conv weights ~ N(0, 0.02), biases zero."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)):
                module.weight.normal_(0.0, INIT_STD, generator=generator)
                if module.bias is not None:
                    module.bias.zero_()


def to_weights(model: ENS2UNet) -> dict[str, np.ndarray]:
    """The model's parameters as the shared numpy weights dict, in export form.

    A convolutional model's BatchNorm (its running statistics, i.e. inference mode)
    is folded into the convolution before it: w' = w·g, b = β − μ·g, g = γ / √(σ² + ε).
    """
    state = {name: value.detach().cpu().numpy().astype(np.float64) for name, value in model.state_dict().items()}
    if model.network.folded_batch_norm:
        for name in [n for n in state if n.endswith(".running_mean")]:
            norm = name[: -len(".running_mean")]
            conv = norm.replace("norm", "conv")
            gain = state[f"{norm}.weight"] / np.sqrt(state[f"{norm}.running_var"] + BATCH_NORM_EPSILON)
            state[f"{conv}.weight"] = state[f"{conv}.weight"] * gain[:, None, None]
            state[f"{conv}.bias"] = state[f"{norm}.bias"] - state[name] * gain
            for suffix in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
                state.pop(f"{norm}.{suffix}")
    weights = {name: value.astype(np.float32) for name, value in state.items()}
    check_weights(weights, model.network)
    return weights


def from_weights(weights: dict[str, np.ndarray], network: Network = Network()) -> ENS2UNet:
    """An :class:`ENS2UNet` of ``network`` holding export-form ``weights`` (e.g. the published ones), in eval mode.

    A convolutional BatchNorm model comes back with identity BatchNorm and the folded
    biases on its convolutions: for inference only.
    """
    check_weights(weights, network)
    model = ENS2UNet(network)
    if network.folded_batch_norm:
        for module_name, module in model.named_modules():
            if isinstance(module, nn.Conv1d) and module.bias is None:
                module.bias = nn.Parameter(torch.zeros(module.out_channels))
    state = model.state_dict()
    state.update({name: torch.from_numpy(np.asarray(value)) for name, value in weights.items()})
    model.load_state_dict(state)
    return model.eval()
