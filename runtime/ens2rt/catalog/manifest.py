"""Family manifests: which member of a model family runs which neuron, one JSON file per family.

A shipped family ``NAME`` is ``models/families/NAME.json``::

    {"name": "ens2-exc",
     "description": "…",
     "members": [
        {"model": "ens2-exc-conv", "frame_rate_hz": [0, 40], "noise_level": [0, 5]},
        {"model": "ens2-exc-native", "noise_level": [0, 5]},
        {"model": "ens2-exc-nu6", "noise_level": [5, null]}],
     "why": "…"}

Each neuron runs on the first member whose ranges hold its recording's frame rate and
its own noise level ν (half-open ``[low, high)``, ``null`` for no upper bound, a range
left out for every value). Members listed by model name alone are chosen by the noise
level in their cards, as CASCADE picks its noise-matched models: each neuron on the member
trained nearest its ν. The ranges of a manifest must cover every frame rate and ν.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ens2rt.errors import ModelError

FAMILIES_FOLDER = "families"  #: manifests' folder inside the models folder
ANYTHING = (0.0, math.inf)


@dataclass(frozen=True)
class MemberRange:
    """The neurons one member runs: its model and the frame rates and noise levels it takes."""

    model: str
    noise_level: tuple[float, float] = ANYTHING  #: [low, high) of the neuron's ν
    frame_rate_hz: tuple[float, float] = ANYTHING  #: [low, high) of the recording's frame rate

    def holds(self, noise_levels: np.ndarray, frame_rate: float) -> np.ndarray:
        """Which of ``noise_levels`` (at ``frame_rate``) this member takes."""
        low, high = self.frame_rate_hz
        if not low <= frame_rate < high:
            return np.zeros(np.shape(noise_levels), dtype=bool)
        return (noise_levels >= self.noise_level[0]) & (noise_levels < self.noise_level[1])

    def as_json(self) -> dict[str, Any] | str:
        out: dict[str, Any] = {"model": self.model}
        for key in ("frame_rate_hz", "noise_level"):
            low, high = getattr(self, key)
            if (low, high) != ANYTHING:
                out[key] = [low, None if math.isinf(high) else high]
        return out if len(out) > 1 else self.model


@dataclass(frozen=True)
class FamilyManifest:
    """One family: its name, what it is for, and its members with the neurons each runs."""

    name: str
    members: tuple[MemberRange, ...]
    description: str = ""
    why: str = ""  #: the evidence for the choice, with the tables it comes from

    @property
    def model_names(self) -> list[str]:
        return [m.model for m in self.members]

    @property
    def by_noise_level(self) -> bool:
        """Whether the members are chosen by nearest noise level (listed by name alone)."""
        return all(m.noise_level == ANYTHING and m.frame_rate_hz == ANYTHING for m in self.members) and len(self.members) > 1

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "members": [m.as_json() for m in self.members],
                **({"why": self.why} if self.why else {})}  # fmt: skip


def read_manifest(path: Path) -> FamilyManifest:
    """A family manifest from ``path``, checked (a ModelError names what is wrong)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"family manifest {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("name") != path.stem:
        raise ModelError(f"family manifest {path} must be a JSON object whose name is {path.stem!r}")
    members = data.get("members")
    if not isinstance(members, list) or not members:
        raise ModelError(f"family manifest {path}: members must be a non-empty list")
    manifest = FamilyManifest(name=path.stem, members=tuple(parse_member(m, path) for m in members),
                              description=str(data.get("description", "")), why=str(data.get("why", "")))  # fmt: skip
    names = manifest.model_names
    if len(set(names)) != len(names):
        raise ModelError(f"family manifest {path}: a model is listed twice ({', '.join(names)})")
    if not manifest.by_noise_level:
        gap = uncovered(manifest.members)
        if gap is not None:
            raise ModelError(f"family manifest {path}: no member takes a neuron of ν {gap[0]:g} at {gap[1]:g} Hz")
    return manifest


def write_manifest(path: Path, manifest: FamilyManifest) -> None:
    """Write ``manifest`` to ``path`` in one rename (never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(manifest.as_json(), indent=2) + "\n")
    partial.replace(path)


def parse_member(entry: Any, path: Path) -> MemberRange:
    if isinstance(entry, str) and entry:
        return MemberRange(model=entry)
    if not isinstance(entry, dict) or not isinstance(entry.get("model"), str) or set(entry) - {"model", "noise_level", "frame_rate_hz"}:
        raise ModelError(f"family manifest {path}: a member is a model name or {{\"model\", \"noise_level\", \"frame_rate_hz\"}}, got {entry!r}")
    return MemberRange(model=entry["model"], noise_level=parse_range(entry.get("noise_level"), path),
                       frame_rate_hz=parse_range(entry.get("frame_rate_hz"), path))  # fmt: skip


def parse_range(value: Any, path: Path) -> tuple[float, float]:
    if value is None:
        return ANYTHING
    ok = isinstance(value, list) and len(value) == 2 and isinstance(value[0], (int, float)) and (value[1] is None or isinstance(value[1], (int, float)))
    low, high = (float(value[0]), math.inf if value[1] is None else float(value[1])) if ok else (math.nan, math.nan)
    if not (ok and 0.0 <= low < high):
        raise ModelError(f"family manifest {path}: a range is [low, high] with 0 <= low < high (high null: no bound), got {value!r}")
    return low, high


def nearest_level_ranges(names: Sequence[str], levels: Sequence[float]) -> tuple[MemberRange, ...]:
    """Members chosen by nearest noise level: each takes ν up to the midpoints with its neighbours (by increasing level)."""
    order = np.argsort(levels, kind="stable")
    ordered = [float(levels[i]) for i in order]
    cuts = [0.0, *((a + b) / 2.0 for a, b in zip(ordered, ordered[1:])), math.inf]
    return tuple(MemberRange(model=names[i], noise_level=(cuts[k], cuts[k + 1])) for k, i in enumerate(order))


def uncovered(members: Sequence[MemberRange]) -> tuple[float, float] | None:
    """A (ν, frame rate) no member takes, or None when they cover every one."""
    levels = sorted({0.0, *(v for m in members for v in m.noise_level if math.isfinite(v))})
    rates = sorted({0.0, *(v for m in members for v in m.frame_rate_hz if math.isfinite(v))})
    for rate in rates:
        taken = np.zeros(len(levels), dtype=bool)
        for member in members:
            taken |= member.holds(np.array(levels), rate)
        if not taken.all():
            return levels[int(np.argmin(taken))], rate
    return None


def choose(members: Sequence[MemberRange], noise_levels: np.ndarray, frame_rate: float) -> np.ndarray:
    """(n_neurons,) position of each neuron's member: the first that takes it; a non-finite ν counts as 0."""
    levels = np.nan_to_num(np.asarray(noise_levels, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
    index = np.full(levels.shape, -1, dtype=np.int64)
    rate = float(frame_rate) if frame_rate is not None and math.isfinite(frame_rate) else 0.0
    for position, member in enumerate(members):
        index[(index < 0) & member.holds(levels, rate)] = position
    if (index < 0).any():
        raise ModelError(f"no member of this family takes a neuron of ν {levels[index < 0][0]:g} at {rate:g} Hz")
    return index
