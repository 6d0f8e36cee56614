"""ENS² weights as a plain dict of 1-D numpy arrays, the one format every part shares.

Names follow the published checkpoint (``encoder1.enc1conv1.weight`` …). The
published file stores 2-D kernels applied to a (1 × 96) image with padding 1; only
the middle kernel row ever touches data, so dropping the others is exact.

Two model kinds share the U-Net (:data:`KINDS`):

- ``"windowed"``: the published network. InstanceNorm normalises each 96-sample
  window on its own, so it runs on overlapping windows (overlap-add).
- ``"convolutional"``: BatchNorm instead, folded into the convolutions for export
  (every block conv then has a bias). Without per-window statistics the network is
  shift-equivariant (by multiples of 8, its pooling depth) and runs once over a whole
  zero-padded trace of any length divisible by 8.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

ENCODER_FEATURES = (9, 18, 36)
BOTTLENECK_FEATURES = 72
KINDS = ("windowed", "convolutional")
ALIGNMENT = 8  # 2 ** pooling levels: a convolutional model's input length and shifts are multiples of this


def block_prefixes() -> list[str]:
    """Names of the conv blocks in forward order, as the published checkpoint spells them."""
    names = [f"encoder{i}.enc{i}" for i in (1, 2, 3)]
    names.append("bottleneck.bottleneck")
    names += [f"decoder{i}.dec{i}" for i in (3, 2, 1)]
    return names


def load_published_weights(path: str | Path) -> dict[str, np.ndarray]:
    """Read a published ENS² ``.npz`` checkpoint and return its 1-D equivalent."""
    with np.load(path, allow_pickle=False) as archive:
        published = {name: archive[name] for name in archive.files}
    weights: dict[str, np.ndarray] = {}
    for name, value in published.items():
        if value.ndim == 4 and value.shape[2:] == (3, 3):
            value = value[:, :, 1, :]  # the only kernel row that sees data
        elif value.ndim == 4:
            value = value[:, :, 0, :]  # (1 × k) kernels: transposed convs and the head
        weights[name] = np.ascontiguousarray(value, dtype=np.float32)
    check_weights(weights)
    return weights


def check_weights(weights: dict[str, np.ndarray], kind: str = "windowed") -> None:
    """Raise ``ValueError`` naming the first missing or misshapen tensor (export form: BatchNorm folded)."""
    expected = expected_shapes(kind)
    missing = sorted(set(expected) - set(weights))
    if missing:
        raise ValueError(f"weights lack {len(missing)} tensors, e.g. {missing[0]!r}")
    for name, shape in expected.items():
        if tuple(weights[name].shape) != shape:
            raise ValueError(f"{name}: shape {weights[name].shape}, expected {shape}")


def expected_shapes(kind: str = "windowed") -> dict[str, tuple[int, ...]]:
    """Shape of every tensor of the 1-D ENS² U-Net of ``kind`` in export form, by published name."""
    if kind not in KINDS:
        raise ValueError(f"model kind must be one of {', '.join(KINDS)}, not {kind!r}")
    shapes: dict[str, tuple[int, ...]] = {}
    channels_in = 1
    encoder_blocks = zip(block_prefixes()[:4], (*ENCODER_FEATURES, BOTTLENECK_FEATURES))
    for prefix, features in encoder_blocks:
        shapes[f"{prefix}conv1.weight"] = (features, channels_in, 3)
        shapes[f"{prefix}conv2.weight"] = (features, features, 3)
        channels_in = features
    for level, prefix in zip((3, 2, 1), block_prefixes()[4:]):
        features = ENCODER_FEATURES[level - 1]
        shapes[f"upconv{level}.weight"] = (channels_in, features, 2)
        shapes[f"upconv{level}.bias"] = (features,)
        shapes[f"{prefix}conv1.weight"] = (features, 2 * features, 3)
        shapes[f"{prefix}conv2.weight"] = (features, features, 3)
        channels_in = features
    shapes["conv.weight"] = (1, ENCODER_FEATURES[0], 1)
    shapes["conv.bias"] = (1,)
    if kind == "convolutional":  # folded BatchNorm: a bias per block conv
        for name in [n for n in shapes if n.startswith(tuple(block_prefixes())) and n.endswith(".weight")]:
            shapes[name.replace(".weight", ".bias")] = (shapes[name][0],)
    return shapes


def n_parameters(weights: dict[str, np.ndarray]) -> int:
    """Number of scalar parameters in ``weights``."""
    return int(sum(value.size for value in weights.values()))


@lru_cache(maxsize=None)
def architecture_reach(length: int = 1024) -> tuple[int, int]:
    """Input samples before and after it that an output sample of the U-Net depends on.

    Exact, from the architecture: each position's [first, last] input dependency is
    carried through every layer (conv k=3, max-pool 2, transposed conv k=2 s=2, skip
    concatenation, 1×1 head) and the worst case over the pooling phases is returned.
    """
    positions = np.arange(length)
    first, last = positions.copy(), positions.copy()

    def conv3(span):
        lo, hi = span
        return np.minimum.reduce([np.roll(lo, 1), lo, np.roll(lo, -1)]), np.maximum.reduce([np.roll(hi, 1), hi, np.roll(hi, -1)])

    def block(span):
        return conv3(conv3(span))

    span = (first, last)
    skips = []
    for _ in range(3):  # encoder levels: block, then max-pool 2
        span = block(span)
        skips.append(span)
        span = (span[0][0::2], span[1][1::2])
    span = block(span)  # bottleneck
    for skip in reversed(skips):  # decoder: transposed conv k=2 s=2, concatenate the skip, block
        up = (np.repeat(span[0], 2), np.repeat(span[1], 2))
        span = block((np.minimum(up[0], skip[0]), np.maximum(up[1], skip[1])))
    inner = slice(length // 4, 3 * length // 4)  # away from the wrap-around of np.roll
    return int((positions - span[0])[inner].max()), int((span[1] - positions)[inner].max())
