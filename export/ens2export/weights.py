"""ENS² weights as a plain dict of 1-D numpy arrays, the one format every part shares.

Names and shapes follow the architecture (:mod:`ens2export.architecture`), which
uses the published checkpoint's names (``encoder1.enc1conv1.weight`` …). The
published file stores 2-D kernels applied to a (1 × 96) image with padding 1; only
the middle kernel row ever touches data, so dropping the others is exact.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ens2export.architecture import Network


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


def check_weights(weights: dict[str, np.ndarray], network: Network = Network()) -> None:
    """Raise ``ValueError`` naming the first missing or misshapen tensor of ``network`` (export form: BatchNorm folded)."""
    expected = network.shapes()
    missing = sorted(set(expected) - set(weights))
    if missing:
        raise ValueError(f"weights lack {len(missing)} tensors, e.g. {missing[0]!r}")
    for name, shape in expected.items():
        if tuple(weights[name].shape) != shape:
            raise ValueError(f"{name}: shape {weights[name].shape}, expected {shape}")


def n_parameters(weights: dict[str, np.ndarray]) -> int:
    """Number of scalar parameters in ``weights``."""
    return int(sum(value.size for value in weights.values()))
