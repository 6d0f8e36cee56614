"""Model families: several models, one member chosen per neuron by its frame rate and noise level.

A family is listed in a manifest, ``models/families/NAME.json``
(:mod:`ens2rt.catalog.manifest`), and loaded by its name like a model. Each neuron runs
on the first member whose ranges hold its recording's frame rate and its own noise level
(:func:`ens2rt.engine.traces.noise_level`); members listed by name alone are chosen by the
noise level in their cards, each neuron on the member trained nearest its ν, as CASCADE
picks its noise-matched models.

Members may be of different kinds (a convolutional member for slow recordings, windowed
members for fast or noisy ones): each kind runs its own way, neurons grouped by their
member's contract (:meth:`NeuronModels.groups`). Members share one resampler, since a
stream brings every neuron to 60 Hz in one step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ens2rt.catalog.manifest import ANYTHING, MemberRange, choose, nearest_level_ranges, uncovered
from ens2rt.catalog.model import Model, available_families, family_manifest
from ens2rt.engine.contract import Contract
from ens2rt.errors import InputError, ModelError
from ens2rt.options import Options


@dataclass(frozen=True)
class ModelFamily:
    """Models that share the neurons of a recording: each neuron runs on the member whose ranges hold it.

    >>> family = ens2rt.ModelFamily.load("ens2-exc", device="cpu")
    >>> [(r.model, r.frame_rate_hz, r.noise_level) for r in family.ranges]
    """

    name: str
    members: tuple[Model, ...]  #: in the order they are tried
    ranges: tuple[MemberRange, ...]  #: the neurons each member takes, aligned with ``members``

    @classmethod
    def load(cls, name: str, device: str = "auto", threads: int | None = None,
             providers: list[str | tuple[str, dict]] | None = None) -> ModelFamily:  # fmt: skip
        """Load every member of a shipped family (see :func:`available_families`); arguments as :meth:`Model.load`."""
        manifest = family_manifest(name)
        models = [Model.load(member, device=device, threads=threads, providers=providers) for member in manifest.model_names]
        if manifest.by_noise_level:
            return cls.from_models(name, models)
        return cls.with_ranges(name, models, manifest.members)

    @classmethod
    def from_models(cls, name: str, models: Sequence[Model]) -> ModelFamily:
        """Loaded models chosen by nearest noise level: each needs a ``noise_level`` in its card."""
        if not models:
            raise ModelError(f"model family {name!r} has no members")
        missing = [m.name for m in models if m.noise_level is None]
        if missing:
            raise ModelError(f"model family {name!r}: {', '.join(missing)} has no noise_level in its card")
        levels = [m.noise_level for m in models]
        if len(set(levels)) != len(levels):
            raise ModelError(f"model family {name!r}: two members share a noise level ({sorted(levels)})")
        ranges = nearest_level_ranges([m.name for m in models], levels)
        by_name = {m.name: m for m in models}
        return cls.with_ranges(name, [by_name[r.model] for r in ranges], ranges)

    @classmethod
    def with_ranges(cls, name: str, models: Sequence[Model], ranges: Sequence[MemberRange]) -> ModelFamily:
        """Loaded models, each taking the neurons of its :class:`MemberRange` (first match wins)."""
        if not models or len(models) != len(ranges):
            raise ModelError(f"model family {name!r}: give one range per member ({len(models)} members, {len(ranges)} ranges)")
        gap = uncovered(ranges)
        if gap is not None:
            raise ModelError(f"model family {name!r}: no member takes a neuron of ν {gap[0]:g} at {gap[1]:g} Hz")
        resamplers = {m.contract.resampler for m in models}
        if len(resamplers) > 1:
            raise ModelError(f"model family {name!r}: its members resample differently ({', '.join(sorted(resamplers))}); "
                             "a family's members must share one resampler")  # fmt: skip
        return cls(name=name, members=tuple(models), ranges=tuple(ranges))

    @property
    def contracts(self) -> tuple[Contract, ...]:
        """The members' distinct contracts, in member order (one unless the family mixes kinds)."""
        return distinct_contracts(m.contract for m in self.members)

    @property
    def contract(self) -> Contract:
        """The contract every member shares; a family of mixed kinds has none (see :attr:`contracts`)."""
        return only_contract(self.contracts, self.name)

    @property
    def resampler(self) -> str:
        """How the members' input is brought to 60 Hz unless told otherwise (shared by every member)."""
        return self.members[0].contract.resampler

    @property
    def noise_levels(self) -> np.ndarray:
        """Training noise level of each member, from its card (NaN where it has none)."""
        return np.array([np.nan if m.noise_level is None else m.noise_level for m in self.members], dtype=float)

    def choose(self, noise_levels: np.ndarray, frame_rate: float) -> np.ndarray:
        """Position of each neuron's member (by its ν, at ``frame_rate``); a non-finite ν counts as 0."""
        return choose(self.ranges, noise_levels, frame_rate)

    @property
    def provider(self) -> str:
        """The onnxruntime provider the members run on."""
        return self.members[0].provider

    def member_for(self, noise_level: float, frame_rate: float) -> Model:
        """The member a neuron of this noise level, recorded at ``frame_rate``, runs on."""
        return self.members[int(self.choose(np.array([noise_level]), frame_rate)[0])]

    def members_at(self, frame_rate: float) -> tuple[Model, ...]:
        """The members that may run a neuron recorded at ``frame_rate``: those whose frame rates hold it, in order,
        up to the first that takes every ν (no later member is ever chosen)."""
        possible = []
        for member, taken in zip(self.members, self.ranges):
            if taken.frame_rate_hz[0] <= frame_rate < taken.frame_rate_hz[1]:
                possible.append(member)
                if taken.noise_level == ANYTHING:
                    break
        return tuple(possible)


def distinct_contracts(contracts) -> tuple[Contract, ...]:
    """Contracts that run differently (:attr:`Contract.same_runs`), first of each, in order."""
    seen: dict[tuple, Contract] = {}
    for contract in contracts:
        seen.setdefault(contract.same_runs, contract)
    return tuple(seen.values())


def only_contract(contracts: tuple[Contract, ...], name: str) -> Contract:
    """The one contract of ``contracts``; a ModelError naming ``name`` when its models mix kinds."""
    if len(contracts) != 1:
        raise ModelError(f"{name} mixes models that run differently ({', '.join(c.kind for c in contracts)}): no one contract")
    return contracts[0]


@dataclass(frozen=True)
class NeuronModels:
    """Which model runs each neuron, and what its trace is divided by first (the contract's input scale)."""

    models: tuple[Model, ...]
    index: np.ndarray  #: (n_neurons,) position in ``models`` of each neuron's model
    scale: np.ndarray | None = None  #: (n_neurons,) input scale; None: 1 for every neuron

    @property
    def contracts(self) -> tuple[Contract, ...]:
        """The models' distinct contracts (one unless a family of mixed kinds)."""
        return distinct_contracts(m.contract for m in self.models)

    @property
    def contract(self) -> Contract:
        """The contract the models share (see :meth:`groups` for models of mixed kinds)."""
        return only_contract(self.contracts, "this run")

    def groups(self) -> list[tuple[np.ndarray, NeuronModels]]:
        """The neurons split by how their model runs: (rows, those rows' models) per contract.

        One group holding every neuron when the models share a contract.
        """
        if len(self.contracts) == 1:
            return [(np.arange(self.index.size), self)]
        out = []
        for contract in self.contracts:
            positions = [k for k, m in enumerate(self.models) if m.contract.same_runs == contract.same_runs]
            rows = np.flatnonzero(np.isin(self.index, positions))
            if rows.size == 0:
                continue
            renumber = np.zeros(len(self.models), dtype=np.int64)
            renumber[positions] = np.arange(len(positions))
            out.append((rows, NeuronModels(models=tuple(self.models[k] for k in positions), index=renumber[self.index[rows]],
                                           scale=None if self.scale is None else self.scale[rows])))  # fmt: skip
        return out

    def scales(self) -> np.ndarray:
        """(n_neurons,) input scale of each neuron."""
        return np.ones(self.index.shape) if self.scale is None else self.scale

    @property
    def names(self) -> np.ndarray:
        """(n_neurons,) name of each neuron's model."""
        return np.array([m.name for m in self.models])[self.index]

    @property
    def used(self) -> dict[str, str]:
        """sha256 by name of the models at least one neuron runs on."""
        return {self.models[i].name: self.models[i].sha256 for i in np.unique(self.index)}

    @property
    def provider(self) -> str:
        return self.models[0].provider

    def take(self, rows: np.ndarray | slice) -> NeuronModels:
        """The same models for a subset of the neurons."""
        return NeuronModels(models=self.models, index=self.index[rows], scale=None if self.scale is None else self.scale[rows])

    def run(self, windows: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Network output for (n, 96) windows or (n, time) traces, row ``k`` belonging to neuron ``rows[k]``."""
        which = self.index[rows]
        if len(self.models) == 1 or (which == which[0]).all():
            return self.models[which[0]].run(windows)
        out = np.empty_like(windows)
        for position in np.unique(which):
            chosen = which == position
            out[chosen] = self.models[position].run(np.ascontiguousarray(windows[chosen]))
        return out


def load_models(model: str | Path | Model | ModelFamily, options: Options | None = None) -> Model | ModelFamily:
    """The one place a model is chosen: a loaded model or family from a model name, a family
    name, an ``.onnx`` path, or as given; on ``options``' device, threads and providers.

    Shipped models and families, named, are loaded once per process and provider set and
    reused (they cannot change inside the installed package); a path is loaded anew.
    """
    options = options or Options()
    if isinstance(model, (Model, ModelFamily)):
        return model
    if isinstance(model, str) and Path(model).suffix != ".onnx":
        return _load_shipped(model, options.device, options.threads, options.providers)
    return Model.load(model, device=options.device, threads=options.threads, providers=options.provider_list())


@lru_cache(maxsize=16)
def _load_shipped(name: str, device: str, threads: int | None, providers: tuple | None) -> Model | ModelFamily:
    listed = None if providers is None else [(provider, dict(settings)) for provider, settings in providers]
    if name in available_families():
        return ModelFamily.load(name, device=device, threads=threads, providers=listed)
    return Model.load(name, device=device, threads=threads, providers=listed)


@dataclass(frozen=True)
class MemberChoice:
    """How a model or family gives each neuron its member and input scale.

    Holds no onnxruntime session, so it pickles: a dask worker chooses exactly as
    :func:`assign_models` does for ``ens2rt.infer`` and ``ens2rt.Stream``.
    """

    ranges: tuple[MemberRange, ...]  #: the neurons each member takes
    contracts: tuple[Contract, ...]  #: each member's contract

    def index(self, noise_levels: np.ndarray, frame_rate: float) -> np.ndarray:
        """(n_neurons,) position of each neuron's member: the first whose ranges hold it."""
        if len(self.contracts) == 1:
            return np.zeros(np.shape(noise_levels), dtype=np.int64)
        return choose(self.ranges, noise_levels, frame_rate)

    def scales(self, index: np.ndarray, noise_levels: np.ndarray, frame_rate: float) -> np.ndarray:
        """(n_neurons,) what each neuron's trace is divided by, by its member's contract."""
        return input_scales(self.contracts, index, noise_levels, frame_rate)


def member_choice(loaded: Model | ModelFamily) -> MemberChoice:
    """The :class:`MemberChoice` of a loaded model or family."""
    if isinstance(loaded, Model):
        return MemberChoice(ranges=(MemberRange(model=loaded.name),), contracts=(loaded.contract,))
    return MemberChoice(ranges=loaded.ranges, contracts=tuple(m.contract for m in loaded.members))


def given_levels(loaded: Model | ModelFamily, noise_level: float | np.ndarray, n_neurons: int) -> np.ndarray:
    """``noise_level`` as given by a caller, checked, one per neuron."""
    wanted = np.asarray(noise_level, dtype=float)
    if wanted.ndim > 1 or wanted.size not in (1, n_neurons):
        raise InputError(f"noise_level must be one value or one per neuron ({n_neurons}), got shape {wanted.shape}")
    if not (np.isfinite(wanted).all() and (wanted >= 0).all()):
        raise InputError(f"noise_level must be finite and non-negative, got {noise_level}")
    if isinstance(loaded, Model) and loaded.contract.input_scaling == "none":
        raise InputError(f"noise_level chooses a member of a model family; {loaded.name} is a single model")
    return np.broadcast_to(wanted, (n_neurons,))


def assign_models(loaded: Model | ModelFamily, levels: np.ndarray, noise_level: float | np.ndarray | None,
                  frame_rate: float) -> NeuronModels:  # fmt: skip
    """Each neuron's model and input scale: the member whose ranges hold its estimated ν (or
    ``noise_level`` when given) at ``frame_rate``, and its input scale from the same ν, as
    the member's contract says.
    """
    if noise_level is not None:
        levels = given_levels(loaded, noise_level, levels.shape[0])
    choice = member_choice(loaded)
    index = choice.index(levels, frame_rate)
    scale = choice.scales(index, levels, frame_rate)
    return NeuronModels(models=(loaded,) if isinstance(loaded, Model) else loaded.members, index=index, scale=scale)


def input_scales(contracts: Sequence[Contract], index: np.ndarray, levels: np.ndarray, frame_rate: float) -> np.ndarray:
    """(n_neurons,) what each neuron's trace is divided by, by the contract of its member
    (``contracts[index]``) and its ν (1 where its member does not scale)."""
    levels = np.asarray(levels, dtype=float)
    scale = np.ones(index.shape)
    for position, contract in enumerate(contracts):
        chosen = index == position
        scale[chosen] = contract.input_scale(levels[chosen], frame_rate)
    return scale
