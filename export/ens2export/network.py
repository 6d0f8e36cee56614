"""The ENS² U-Net in 1-D PyTorch ops, with the published checkpoint's parameter names.

One definition serves both model kinds (:data:`ens2export.weights.KINDS`); only the
normalisation differs. :func:`to_weights` gives the export form (a convolutional
model's BatchNorm folded into its convolutions).
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial

import numpy as np
import torch
from torch import nn

from ens2export.weights import BOTTLENECK_FEATURES, ENCODER_FEATURES, KINDS, check_weights

INIT_STD = 0.02
BATCH_NORM_EPSILON = 1e-5


def _norm_block(channels_in: int, features: int, prefix: str, kind: str) -> nn.Sequential:
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for index, width_in in ((1, channels_in), (2, features)):
        layers[f"{prefix}conv{index}"] = nn.Conv1d(width_in, features, kernel_size=3, padding=1, bias=False)
        layers[f"{prefix}norm{index}"] = nn.InstanceNorm1d(features) if kind == "windowed" else nn.BatchNorm1d(features, eps=BATCH_NORM_EPSILON)
        layers[f"{prefix}relu{index}"] = nn.LeakyReLU(0.2)
    return nn.Sequential(layers)


class ENS2UNet(nn.Module):
    """(batch, T) ΔF/F → (batch, T) non-negative spikes per 60 Hz bin.

    ``kind="windowed"``: the published network, T = 96. ``kind="convolutional"``:
    BatchNorm, any T divisible by 8. ``rectify=False`` in :meth:`forward` leaves out
    the output ReLU (a convolutional model trains with a linear output: with the ReLU
    and the published initialisation a run can start, and stay, at all-zero output).
    """

    def __init__(self, kind: str = "windowed") -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"model kind must be one of {', '.join(KINDS)}, not {kind!r}")
        self.kind = kind
        f1, f2, f3 = ENCODER_FEATURES
        fb = BOTTLENECK_FEATURES
        _block = partial(_norm_block, kind=kind)
        self.encoder1 = _block(1, f1, "enc1")
        self.encoder2 = _block(f1, f2, "enc2")
        self.encoder3 = _block(f2, f3, "enc3")
        self.pool = nn.MaxPool1d(2)
        self.bottleneck = _block(f3, fb, "bottleneck")
        self.upconv3 = nn.ConvTranspose1d(fb, f3, kernel_size=2, stride=2)
        self.decoder3 = _block(2 * f3, f3, "dec3")
        self.upconv2 = nn.ConvTranspose1d(f3, f2, kernel_size=2, stride=2)
        self.decoder2 = _block(2 * f2, f2, "dec2")
        self.upconv1 = nn.ConvTranspose1d(f2, f1, kernel_size=2, stride=2)
        self.decoder1 = _block(2 * f1, f1, "dec1")
        self.conv = nn.Conv1d(f1, 1, kernel_size=1)

    def forward(self, windows: torch.Tensor, rectify: bool = True) -> torch.Tensor:
        enc1 = self.encoder1(windows.unsqueeze(1))
        enc2 = self.encoder2(self.pool(enc1))
        enc3 = self.encoder3(self.pool(enc2))
        x = self.bottleneck(self.pool(enc3))
        x = self.decoder3(torch.cat([self.upconv3(x), enc3], dim=1))
        x = self.decoder2(torch.cat([self.upconv2(x), enc2], dim=1))
        x = self.decoder1(torch.cat([self.upconv1(x), enc1], dim=1))
        x = self.conv(x).squeeze(1)
        return torch.relu(x) if rectify else x


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
    if model.kind == "convolutional":
        for name in [n for n in state if n.endswith(".running_mean")]:
            norm = name[: -len(".running_mean")]
            conv = norm.replace("norm", "conv")
            gain = state[f"{norm}.weight"] / np.sqrt(state[f"{norm}.running_var"] + BATCH_NORM_EPSILON)
            state[f"{conv}.weight"] = state[f"{conv}.weight"] * gain[:, None, None]
            state[f"{conv}.bias"] = state[f"{norm}.bias"] - state[name] * gain
            for suffix in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
                state.pop(f"{norm}.{suffix}")
    weights = {name: value.astype(np.float32) for name, value in state.items()}
    check_weights(weights, model.kind)
    return weights


def from_weights(weights: dict[str, np.ndarray], kind: str = "windowed") -> ENS2UNet:
    """An :class:`ENS2UNet` holding export-form ``weights`` (e.g. the published ones), in eval mode.

    A convolutional model comes back with identity BatchNorm and the folded biases
    on its convolutions: for inference only.
    """
    check_weights(weights, kind)
    model = ENS2UNet(kind)
    if kind == "convolutional":
        for module_name, module in model.named_modules():
            if isinstance(module, nn.Conv1d) and module.bias is None:
                module.bias = nn.Parameter(torch.zeros(module.out_channels))
    state = model.state_dict()
    state.update({name: torch.from_numpy(np.asarray(value)) for name, value in weights.items()})
    model.load_state_dict(state)
    return model.eval()
