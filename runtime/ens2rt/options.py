"""One options object for every entry point: how to infer, checked once, recorded in every result.

>>> options = ens2rt.Options(hop=1, spike_fit="published", threads=2)
>>> ens2rt.infer(dff, 30.0, options=options)                      # or the same as keywords:
>>> ens2rt.infer(dff, 30.0, hop=1, spike_fit="published", threads=2)
>>> ens2rt.Stream(500, 30.0, noise_level=levels, options=options)

``infer``, ``Stream``, ``ens2rt.dask.infer`` and the CLI all take it; each result's
``settings["options"]`` is :meth:`Options.as_dict`, so a run can be repeated from its
output file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from ens2rt.errors import InputError
from ens2rt.engine.resample import RESAMPLERS
from ens2rt.engine.spikes import DEFAULT_SPIKE_FIT, check_spike_fit
from ens2rt.engine.conditioning import EMPTY_NEURON_POLICIES
from ens2rt.engine.traces import check_hop

DEFAULT_HOP = 6  # the largest hop within 0.002 of hop 1 on held-out data: benchmarks/results/hops.md
DEFAULT_BATCH_SIZE = 1024  # fastest of 256…16384 windows per onnxruntime call on a 2-core CPU
DEVICES = ("auto", "cpu", "cuda")
CALIBRATIONS = ("none", "quantal")  #: how the rate's scale is set per neuron (ens2rt.engine.quantal)

#: an onnxruntime execution provider, by name or with its options: "CUDAExecutionProvider",
#: ("CUDAExecutionProvider", {"device_id": 1}), ("TensorrtExecutionProvider", {...}) …
ProviderSpec = str | tuple[str, Mapping[str, Any]]


@dataclass(frozen=True)
class Options:
    """How a run infers. Every field has the default a plain ``ens2rt.infer(dff, fs)`` uses.

    - ``hop``: window hop in 60 Hz samples (windowed models; 1 = the published pipeline).
    - ``resampler``: ``None`` = the model's own (its contract's), or ``"sinc"``,
      ``"linear"``, ``"fourier"`` (whole traces only: not in a stream or on dask).
    - ``spikes``: also fit discrete spike events; ``spike_fit``: ``"strict"`` or ``"published"``.
    - ``percent``: the input is ΔF/F in percent; it is divided by 100.
    - ``input_checks``: refuse input that looks like percent, raw fluorescence or a
      transposed array (offline only: a stream cannot see a whole trace).
    - ``empty_neurons``: a neuron without a finite value gives a NaN row (``"nan"``) or an error.
    - ``calibrate``: ``"none"``, or ``"quantal"``: each neuron's rate divided by the unit a
      quantal fit of its isolated events finds, where that fit is decisive
      (:mod:`ens2rt.engine.quantal`; whole traces only, so not in a stream or on dask).
    - ``batch_size``: windows per onnxruntime call.
    - ``device``: ``"auto"``, ``"cpu"`` or ``"cuda"``; ``threads``: onnxruntime's CPU threads.
    - ``providers``: onnxruntime execution providers in order of preference, each a name or
      (name, provider options); when given, they replace what ``device`` would choose.
    """

    hop: int = DEFAULT_HOP
    resampler: str | None = None
    spikes: bool = True
    spike_fit: str = DEFAULT_SPIKE_FIT
    percent: bool = False
    input_checks: bool = True
    empty_neurons: str = "nan"
    calibrate: str = "none"
    batch_size: int = DEFAULT_BATCH_SIZE
    device: str = "auto"
    threads: int | None = None
    providers: tuple[ProviderSpec, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "hop", check_hop(self.hop))
        if self.resampler is not None and self.resampler not in RESAMPLERS:
            raise InputError(f"resampler must be one of {', '.join(RESAMPLERS)}, not {self.resampler!r}")
        check_spike_fit(self.spike_fit)
        if self.empty_neurons not in EMPTY_NEURON_POLICIES:
            raise InputError(f"empty_neurons must be one of {', '.join(EMPTY_NEURON_POLICIES)}, not {self.empty_neurons!r}")
        if self.calibrate not in CALIBRATIONS:
            raise InputError(f"calibrate must be one of {', '.join(CALIBRATIONS)}, not {self.calibrate!r}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise InputError(f"batch_size must be at least 1, not {self.batch_size!r}")
        if self.device not in DEVICES:
            raise InputError(f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1):
            raise InputError(f"threads must be at least 1, not {self.threads!r}")
        if self.providers is not None:
            object.__setattr__(self, "providers", _normalised_providers(self.providers))

    def replace(self, **changes: Any) -> Options:
        """A copy with ``changes``; an unknown name is an error that lists the known ones."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise TypeError(f"unknown option(s) {', '.join(unknown)}; options are {', '.join(sorted(known))}")
        return replace(self, **changes) if changes else self

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (providers as [name, {options}] pairs)."""
        values = asdict(self)
        if self.providers is not None:
            values["providers"] = [[name, dict(settings)] for name, settings in self.providers]
        return values

    def provider_list(self) -> list[tuple[str, dict[str, Any]]] | None:
        """``providers`` as onnxruntime takes them (None: choose from ``device``)."""
        return None if self.providers is None else [(name, dict(settings)) for name, settings in self.providers]


def _normalised_providers(providers: Sequence[ProviderSpec]) -> tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]:
    """(name, sorted option items) pairs: hashable, so loaded models can be cached per provider set."""
    if isinstance(providers, str) or not isinstance(providers, Sequence) or not providers:
        raise InputError(f"providers must be a non-empty list of provider names or (name, options) pairs, not {providers!r}")
    normalised = []
    for entry in providers:
        name, settings = (entry, {}) if isinstance(entry, str) else (tuple(entry) + ({},))[:2]
        if not isinstance(name, str) or not isinstance(settings, Mapping):
            raise InputError(f"a provider is a name or a (name, options) pair, not {entry!r}")
        normalised.append((name, tuple(sorted(dict(settings).items()))))
    return tuple(normalised)


def resolve_options(options: Options | None, settings: Mapping[str, Any]) -> Options:
    """``options`` (or the defaults) with keyword ``settings`` applied on top."""
    base = options if options is not None else Options()
    if not isinstance(base, Options):
        raise InputError(f"options must be an ens2rt.Options, not {type(base).__name__}")
    return base.replace(**settings)
