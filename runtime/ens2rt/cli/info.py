"""``ens2rt info``: version, shipped models and onnxruntime providers."""

from __future__ import annotations

import math

import typer

import ens2rt
from ens2rt.catalog.family import load_models
from ens2rt.catalog.manifest import ANYTHING, FamilyManifest
from ens2rt.catalog.model import DEFAULT_MODEL, conflicting_onnxruntimes, family_manifest, read_card, resolve_model_path
from ens2rt.cli.app import app
from ens2rt.errors import Ens2Error


@app.command()
def info() -> None:
    """Print the version, the shipped models and the onnxruntime providers."""
    import onnxruntime

    typer.echo(f"ens2rt {ens2rt.__version__} (onnxruntime {onnxruntime.__version__})")
    both = conflicting_onnxruntimes()
    if both:
        typer.echo(f"warning: {' and '.join(both)} are both installed and overwrite each other; "
                   "keep one: pip uninstall -y onnxruntime onnxruntime-gpu && pip install onnxruntime-gpu", err=True)  # fmt: skip
    typer.echo(f"providers available: {', '.join(ens2rt.available_providers())}")
    try:
        in_use = load_models(DEFAULT_MODEL).provider
    except Ens2Error as exc:
        in_use = f"none ({exc})"
    typer.echo(f"provider in use with device=auto: {in_use}")
    typer.echo("model families (each neuron runs on one member; models/families/NAME.json says which):")
    for family in ens2rt.available_families():
        manifest = family_manifest(family)
        typer.echo(f"  {family:<22} {member_summary(manifest)}" + ("  (default)" if family == DEFAULT_MODEL else ""))
    default = family_manifest(DEFAULT_MODEL) if DEFAULT_MODEL in ens2rt.available_families() else None
    if default is not None and default.description:
        typer.echo(f"default {DEFAULT_MODEL}: {default.description}" + (f" Why: {default.why}" if default.why else ""))
    typer.echo("models (* streams through a streaming graph: each sample computed once, docs/onnx-contract.md):")
    for name in ens2rt.available_models():
        card = read_card(resolve_model_path(name))
        level = f"ν {card['noise_level']:.2g}" if card.get("noise_level") is not None else ""
        mark = "*" if "stream" in card else " "
        typer.echo(f" {mark}{name:<22} {card['cell_class']:<11} {level:<7} {card['description']}")




def member_summary(manifest: FamilyManifest) -> str:
    """Its members, with the frame rates and noise levels each takes where the manifest gives them."""
    if manifest.by_noise_level:
        return ", ".join(manifest.model_names) + " (nearest noise level)"
    parts = []
    for member in manifest.members:
        limits = [_limit(label, unit, low, high) for label, unit, (low, high) in (("", " Hz", member.frame_rate_hz), ("ν ", "", member.noise_level))
                  if (low, high) != ANYTHING]  # fmt: skip
        parts.append(member.model + (f" ({', '.join(limits)})" if limits else ""))
    return "; ".join(parts)


def _limit(label: str, unit: str, low: float, high: float) -> str:
    if low == 0:
        return f"{label}< {high:.3g}{unit}"
    if not math.isfinite(high):
        return f"{label}≥ {low:.3g}{unit}"
    return f"{label}{low:.3g}–{high:.3g}{unit}"
