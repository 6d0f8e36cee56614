"""The ENS² U-Net, defined once.

The torch module (:mod:`ens2export.network`), the weight shapes
(:meth:`Network.shapes`), the ONNX graph (:mod:`ens2export.onnx_graph`) and the
receptive field (:func:`architecture_reach`, :meth:`Network.reach`) all follow from
:data:`ENCODER`, :data:`BOTTLENECK`, :data:`DECODER` and :data:`HEAD`; a :class:`Network`
names which variant of it a model is. Names are the published
checkpoint's (``encoder1.enc1conv1.weight`` …), so its weights load unchanged.

Two model kinds share it (:data:`KINDS`): ``"windowed"``, the published network,
whose InstanceNorm normalises each 96-sample window on its own (it runs on
overlapping windows); and ``"convolutional"``, with BatchNorm instead, folded into
the convolutions for export (every block conv then has a bias), shift-equivariant by
multiples of :data:`ALIGNMENT` and run once over a whole zero-padded trace.

A convolutional model may add a *local z-score* input channel (``local_window`` > 0):
the trace z-scored over a centred sliding window (:func:`local_zscore_reach`), which
gives a whole-trace network the per-window gain control the windowed model's
InstanceNorm has, computed once per sample instead of once per window. It may also
dilate the bottleneck's convolutions (``dilation`` > 1), which widens its reach at
almost no cost (the bottleneck runs at 1/8 of the sample rate). Or it may normalise like
the windowed model without its windows (``norm_window`` > 0, *sliding InstanceNorm*):
every block convolution's output is normalised, per channel, by the mean and standard
deviation over a centred window of ``norm_window`` input samples (halved per level down,
:func:`norm_windows`) instead of by BatchNorm; its convolutions then have no bias.
Or it may take its input *less its local mean* (``baseline_window`` > 0): the trace minus
its mean over a centred window (:func:`baseline_reach`), so a constant ΔF/F baseline
offset, or a linear drift, changes nothing away from the trace's ends (the windowed
model's InstanceNorm removes each window's mean too). Or it may be ``width`` times wider:
every block and transposed convolution has that many times the features (the input and
the output keep one channel; the reach is unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

KINDS = ("windowed", "convolutional")
KERNEL = 3  # block convolutions, padding 1
UP_KERNEL = 2  # transposed convolutions, stride 2
LEAKY_SLOPE = 0.2
NORM_EPSILON = 1e-5
#: variance floor of the local z-score channel, in the input's units (noise std for a noise_std-scaled input):
#: a stretch of noise alone keeps its amplitude instead of being blown up to unit variance
LOCAL_ZSCORE_FLOOR = 1.0


@dataclass(frozen=True)
class ConvBlock:
    """Two ``KERNEL``-tap convolutions at one resolution, each normalised and LeakyReLU'd."""

    name: str  #: published prefix, "<module>.<layer prefix>", e.g. "encoder1.enc1"
    channels_in: int
    features: int

    @property
    def module(self) -> str:
        return self.name.split(".")[0]

    @property
    def layer_prefix(self) -> str:
        return self.name.split(".")[1]

    def conv_names(self) -> tuple[str, str]:
        """Names of its two convolutions' weights, e.g. ``encoder1.enc1conv1.weight``."""
        return f"{self.name}conv1.weight", f"{self.name}conv2.weight"


@dataclass(frozen=True)
class UpConv:
    """A transposed convolution (``UP_KERNEL`` taps, stride 2): one level finer, twice the length."""

    name: str  #: e.g. "upconv3"
    channels_in: int
    features: int


ENCODER = (ConvBlock("encoder1.enc1", 1, 9), ConvBlock("encoder2.enc2", 9, 18), ConvBlock("encoder3.enc3", 18, 36))
BOTTLENECK = ConvBlock("bottleneck.bottleneck", 36, 72)
#: coarse to fine: the transposed conv, then the block that takes it concatenated with the encoder's skip
DECODER = (
    (UpConv("upconv3", 72, 36), ConvBlock("decoder3.dec3", 72, 36)),
    (UpConv("upconv2", 36, 18), ConvBlock("decoder2.dec2", 36, 18)),
    (UpConv("upconv1", 18, 9), ConvBlock("decoder1.dec1", 18, 9)),
)
HEAD = "conv"  #: 1×1 convolution, ENCODER[0].features → 1 spike rate per sample
ALIGNMENT = 2 ** len(ENCODER)  # max-pool 2 per encoder level: input lengths and shifts are multiples of this


def check_local_window(local_window: int) -> None:
    """Raise ``ValueError`` unless ``local_window`` is 0 (none) or an odd length ≥ 3 (centred on its sample)."""
    if local_window and (local_window < 3 or local_window % 2 == 0):
        raise ValueError(f"local_window must be 0 (none) or odd and at least 3 samples, not {local_window}")


def local_zscore_reach(local_window: int) -> int:
    """Samples to each side of a sample that its local z-score reads."""
    check_local_window(local_window)
    return local_window // 2


def baseline_reach(baseline_window: int) -> int:
    """Samples to each side of a sample that the local mean subtracted from it reads (0: none)."""
    if not isinstance(baseline_window, int) or (baseline_window and (baseline_window < 3 or baseline_window % 2 == 0)):
        raise ValueError(f"baseline_window must be 0 (none) or odd and at least 3 samples, not {baseline_window!r}")
    return baseline_window // 2


def check_norm_window(norm_window: int) -> None:
    """Raise ``ValueError`` unless ``norm_window`` is 0 (BatchNorm) or odd and at least 17 (3 samples at the bottleneck)."""
    if not isinstance(norm_window, int) or (norm_window and (norm_window < 17 or norm_window % 2 == 0)):
        raise ValueError(f"norm_window must be 0 (none) or odd and at least 17 samples, not {norm_window!r}")


def level(block: ConvBlock) -> int:
    """How many 2× poolings below the input ``block`` runs: 0 for encoder1 and decoder1, 3 for the bottleneck."""
    return int(block.module[-1]) - 1 if block.name != BOTTLENECK.name else len(ENCODER)


def norm_windows(norm_window: int) -> tuple[int, ...]:
    """Sliding-InstanceNorm window per level (0 = input rate): odd, half-width halved per level (97 → 97, 49, 25, 13)."""
    check_norm_window(norm_window)
    return tuple(2 * ((norm_window // 2) >> depth) + 1 for depth in range(len(ENCODER) + 1)) if norm_window else ()


def check_dilation(dilation: int) -> None:
    """Raise ``ValueError`` unless ``dilation`` (of the bottleneck's convolutions) is a positive integer."""
    if not (isinstance(dilation, int) and dilation >= 1):
        raise ValueError(f"dilation must be a positive integer (1: none), not {dilation!r}")


@lru_cache(maxsize=None)
def architecture_reach(length: int = 1024, dilation: int = 1, norm_window: int = 0) -> tuple[int, int]:
    """Input samples before and after it that an output sample of the U-Net depends on.

    Exact, from the architecture: each position's [first, last] input dependency is
    carried through every layer (conv k=3, max-pool 2, transposed conv k=2 s=2, skip
    concatenation, sliding norm, 1×1 head) and the worst case over the pooling phases is
    returned. ``dilation``: of the bottleneck's two convolutions; ``norm_window``: of a
    sliding-InstanceNorm network (:func:`norm_windows`).
    """
    check_dilation(dilation)
    windows = norm_windows(norm_window)
    length = max(length, 16 * sum(windows))  # room for the reach away from np.roll's wrap-around
    positions = np.arange(length)

    def widen(span, shifted):
        lo, hi = span
        return np.minimum.reduce([np.roll(lo, s) for s in shifted]), np.maximum.reduce([np.roll(hi, s) for s in shifted])

    def block(span, depth, step=1):
        for _ in range(2):  # two convolutions, each followed by its norm
            span = widen(span, range(-(KERNEL // 2) * step, (KERNEL // 2) * step + 1, step))
            if windows:
                span = widen(span, range(-(windows[depth] // 2), windows[depth] // 2 + 1))
        return span

    span = (positions.copy(), positions.copy())
    skips = []
    for depth, _ in enumerate(ENCODER):  # block, then max-pool 2
        span = block(span, depth)
        skips.append(span)
        span = (span[0][0::2], span[1][1::2])
    span = block(span, len(ENCODER), dilation)  # bottleneck
    for depth, skip in reversed(list(enumerate(skips))):  # transposed conv k=2 s=2, concatenate the skip, block
        up = (np.repeat(span[0], 2), np.repeat(span[1], 2))
        span = block((np.minimum(up[0], skip[0]), np.maximum(up[1], skip[1])), depth)
    inner = slice(length // 4, 3 * length // 4)  # away from the wrap-around of np.roll
    return int((positions - span[0])[inner].max()), int((span[1] - positions)[inner].max())


@dataclass(frozen=True)
class Network:
    """Which U-Net a model is: its kind and, for a convolutional one, how it widens the plain network.

    ``kind``: one of :data:`KINDS`. Convolutional only: ``local_window``, a local z-score
    input channel over that many samples; ``dilation``, of the bottleneck's convolutions;
    ``norm_window``, sliding InstanceNorm (:func:`norm_windows`) instead of BatchNorm;
    ``baseline_window``, its input less the input's mean over a centred window. Validated
    on construction; everything shape- and reach-related follows from it.
    """

    kind: str = "windowed"
    local_window: int = 0
    dilation: int = 1
    norm_window: int = 0
    baseline_window: int = 0
    width: int = 1

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"model kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if not isinstance(self.width, int) or self.width < 1:
            raise ValueError(f"width is a whole multiple of the features, at least 1, not {self.width!r}")
        check_local_window(self.local_window)
        check_dilation(self.dilation)
        check_norm_window(self.norm_window)
        baseline_reach(self.baseline_window)
        if self.widened and self.kind != "convolutional":
            raise ValueError("a local z-score channel, a dilated bottleneck, sliding InstanceNorm, a local-mean baseline "
                             "and a wider network are for convolutional models")

    @property
    def widened(self) -> bool:
        """Whether any of the options departs from the plain network of its kind."""
        return bool(self.local_window or self.dilation > 1 or self.norm_window or self.baseline_window or self.width > 1)

    @property
    def input_channels(self) -> int:
        """Channels the first convolution reads: the input, and with a local window its local z-score."""
        return 2 if self.local_window else 1

    @property
    def folded_batch_norm(self) -> bool:
        """Whether every block convolution carries a bias (BatchNorm folded in for export)."""
        return self.kind == "convolutional" and not self.norm_window

    @property
    def has_stream_graph(self) -> bool:
        """Whether ``ens2export`` can build its streaming graph: the plain convolutional network only."""
        return self.kind == "convolutional" and not self.widened

    def encoder(self) -> tuple[ConvBlock, ...]:
        """The encoder's blocks at this network's width; the first reads :attr:`input_channels`."""
        first, *rest = (self._wider(block) for block in ENCODER)
        return (replace(first, channels_in=self.input_channels), *rest)

    def bottleneck(self) -> ConvBlock:
        return self._wider(BOTTLENECK)

    def decoder(self) -> tuple[tuple[UpConv, ConvBlock], ...]:
        """Coarse to fine: each transposed conv and the block after it, at this network's width."""
        return tuple((self._wider(up), self._wider(block)) for up, block in DECODER)

    def _wider(self, layer):
        return replace(layer, channels_in=layer.channels_in * self.width, features=layer.features * self.width)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Shape of every tensor in export form, by published name."""
        shapes: dict[str, tuple[int, ...]] = {}

        def add_block(block: ConvBlock) -> None:
            first, second = block.conv_names()
            shapes[first] = (block.features, block.channels_in, KERNEL)
            shapes[second] = (block.features, block.features, KERNEL)

        blocks = (*self.encoder(), self.bottleneck(), *(block for _, block in self.decoder()))
        for block in blocks[: len(ENCODER) + 1]:
            add_block(block)
        for up, block in self.decoder():
            shapes[f"{up.name}.weight"] = (up.channels_in, up.features, UP_KERNEL)
            shapes[f"{up.name}.bias"] = (up.features,)
            add_block(block)
        shapes[f"{HEAD}.weight"] = (1, self.encoder()[0].features, 1)
        shapes[f"{HEAD}.bias"] = (1,)
        if self.folded_batch_norm:  # after the rest, in forward order (the order random test weights are drawn in)
            for block in blocks:
                for name in block.conv_names():
                    shapes[name.replace(".weight", ".bias")] = (block.features,)
        return shapes

    def reach(self) -> tuple[int, int]:
        """Input samples before and after it that an output sample reads (:func:`architecture_reach`, plus the input's windows)."""
        left, right = architecture_reach(dilation=self.dilation, norm_window=self.norm_window)
        extra = local_zscore_reach(self.local_window) + baseline_reach(self.baseline_window)
        return left + extra, right + extra

    def description(self) -> str:
        """The architecture's name on a model card."""
        if self.kind == "windowed":
            return "ENS2 U-Net, 1-D"
        norm = f"sliding InstanceNorm over {self.norm_window} samples" if self.norm_window else "BatchNorm (folded)"
        return (f"ENS2 U-Net, 1-D, {norm}, whole-trace"
                + (f", local z-score input channel over {self.local_window} samples" if self.local_window else "")
                + (f", bottleneck dilated {self.dilation}x" if self.dilation > 1 else "")
                + (f", input less its mean over {self.baseline_window} samples" if self.baseline_window else "")
                + (f", {self.width}x the features" if self.width > 1 else ""))  # fmt: skip
