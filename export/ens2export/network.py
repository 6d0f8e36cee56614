"""The ENS² U-Net in 1-D PyTorch ops, with the published checkpoint's parameter names."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from ens2export.weights import BOTTLENECK_FEATURES, ENCODER_FEATURES, check_weights

INIT_STD = 0.02


def _block(channels_in: int, features: int, prefix: str) -> nn.Sequential:
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for index, width_in in ((1, channels_in), (2, features)):
        layers[f"{prefix}conv{index}"] = nn.Conv1d(width_in, features, kernel_size=3, padding=1, bias=False)
        layers[f"{prefix}norm{index}"] = nn.InstanceNorm1d(features)
        layers[f"{prefix}relu{index}"] = nn.LeakyReLU(0.2)
    return nn.Sequential(layers)


class ENS2UNet(nn.Module):
    """(batch, 96) ΔF/F windows → (batch, 96) non-negative spikes per 60 Hz bin."""

    def __init__(self) -> None:
        super().__init__()
        f1, f2, f3 = ENCODER_FEATURES
        fb = BOTTLENECK_FEATURES
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

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        enc1 = self.encoder1(windows.unsqueeze(1))
        enc2 = self.encoder2(self.pool(enc1))
        enc3 = self.encoder3(self.pool(enc2))
        x = self.bottleneck(self.pool(enc3))
        x = self.decoder3(torch.cat([self.upconv3(x), enc3], dim=1))
        x = self.decoder2(torch.cat([self.upconv2(x), enc2], dim=1))
        x = self.decoder1(torch.cat([self.upconv1(x), enc1], dim=1))
        return torch.relu(self.conv(x)).squeeze(1)


def initialise(model: ENS2UNet, generator: torch.Generator) -> None:
    """Published initialisation: conv weights ~ N(0, 0.02), biases zero."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)):
                module.weight.normal_(0.0, INIT_STD, generator=generator)
                if module.bias is not None:
                    module.bias.zero_()


def to_weights(model: ENS2UNet) -> dict[str, np.ndarray]:
    """The model's parameters as the shared numpy weights dict."""
    return {name: value.detach().cpu().numpy().astype(np.float32) for name, value in model.state_dict().items()}


def from_weights(weights: dict[str, np.ndarray]) -> ENS2UNet:
    """An :class:`ENS2UNet` holding ``weights`` (e.g. the published ones)."""
    check_weights(weights)
    model = ENS2UNet()
    model.load_state_dict({name: torch.from_numpy(np.asarray(value)) for name, value in weights.items()})
    return model
