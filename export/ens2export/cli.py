"""``ens2export``: train ENS² on ground truth and write ONNX models with cards."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)

GroundTruth = Annotated[
    Path, typer.Option("--ground-truth", "-g", help="Folder of CASCADE-format DS* datasets, or one made by `ens2export prepare`.")
]


def _command_line(context: typer.Context) -> str:
    """The command as parsed (every option spelled out), so a run can be repeated exactly."""
    words = ["ens2export", context.info_name or ""]
    for param in context.command.params:
        value = context.params.get(param.name)
        if value is None:
            continue
        if param.param_type_name == "argument":
            words += [str(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
        elif getattr(param, "is_flag", False):  # --flag, or its --no-flag when off (a flag without one: left out)
            spelled = param.opts if value else param.secondary_opts
            words += [max(spelled, key=len)] if spelled else []
        elif param.multiple:  # repeated: --dataset A --dataset B
            for item in value:
                words += [max(param.opts, key=len), *(map(str, item) if param.nargs > 1 else [str(item)])]
        else:  # one value, or one option with several (--noise-band 1 3)
            words += [max(param.opts, key=len), *(map(str, value) if param.nargs > 1 else [str(value)])]
    return shlex.join(words)


def one_or_ensemble(teachers: list[str] | None) -> str | tuple[str, ...] | None:
    """``--teacher`` as ``TrainSettings.teacher``: None, one model, or a tuple of them (an ensemble)."""
    if not teachers:
        return None
    return teachers[0] if len(teachers) == 1 else tuple(teachers)


@app.command()
def train(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder to create (weights, loss curve, run.json).")],
    ground_truth: GroundTruth,
    dataset: Annotated[Optional[list[str]], typer.Option("--dataset", "-d", help="Dataset id to train on (repeat); default: all.")] = None,
    exclude: Annotated[Optional[list[str]], typer.Option("--exclude", "-x", help="Dataset id to leave out (repeat).")] = None,
    max_steps: int = 5000,
    patience: int = 500,
    batch_size: int = 1024,
    learning_rate: float = 1e-3,
    seed: int = 0,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    noise_level: Annotated[
        Optional[float],
        typer.Option(help="Train at this noise level: white noise at each trace's native rate lifts it to this ν (quieter traces only)."),
    ] = None,
    kind: Annotated[str, typer.Option(help="windowed (the published network) or convolutional (whole-trace, BatchNorm).")] = "windowed",
    context: Annotated[int, typer.Option(help="convolutional: samples per training window; the loss is on the central 96.")] = 96,
    input_scaling: Annotated[str, typer.Option(help="convolutional: none, or noise_std (input divided by the trace's noise std).")] = "none",
    lookahead: Annotated[
        Optional[int], typer.Option(help="convolutional: a low-latency model whose output reads at most this many 60 Hz samples ahead.")
    ] = None,
    resampler: Annotated[str, typer.Option(help="How training traces go to 60 Hz: fourier (published) or linear (for low latency).")] = "fourier",
    noise_band: Annotated[
        Optional[tuple[float, float]],
        typer.Option(help="Instead of --noise-level: lift every window to its own ν drawn uniformly from LOW HIGH."),
    ] = None,
    teacher: Annotated[
        Optional[list[str]],
        typer.Option(help="Distillation: a model (.onnx or shipped name) whose rates on the training trials join the targets; "
                     "repeat for an ensemble (rates averaged)."),
    ] = None,
    teacher_weight: Annotated[float, typer.Option(help="Share of the teacher's rates in the targets, in (0, 1].")] = 0.5,
) -> None:
    """Train ENS² with the published recipe, e.g. leave DS09 out:

    ens2export train -g ../shared/ground_truth -x DS09 -x DS22 -x DS23 -o runs/loo-DS09

    With --noise-level 4, every step adds fresh noise so that each trace reaches ν = 4.
    """
    from ens2export.dataset import load_windows
    from ens2export.train import TrainSettings, save_run
    from ens2export.train import train as run_training

    if noise_level is not None and not noise_level > 0:
        raise typer.BadParameter(f"must be positive, not {noise_level}", param_hint="--noise-level")
    try:
        settings = TrainSettings(learning_rate=learning_rate, batch_size=batch_size, max_steps=max_steps, patience=patience,
                                 seed=seed, noise_level=noise_level, noise_band=noise_band, kind=kind, context=context,
                                 input_scaling=input_scaling, lookahead=lookahead, resampler=resampler,
                                 teacher=one_or_ensemble(teacher), teacher_weight=teacher_weight)  # fmt: skip
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if out.exists() and any(out.iterdir()):
        raise typer.BadParameter(f"{out} exists and is not empty", param_hint="--out")
    source = load_windows(ground_truth, include=dataset, exclude=exclude or (), resampler=resampler)
    typer.echo(f"{len(source.datasets)} datasets, {source.n_neurons} neurons, {source.hours:.1f} h, {source.n_windows} windows")
    if noise_level is not None:
        typer.echo(f"{source.fraction_already_noisier(noise_level):.1%} of the recorded time is already at ν >= {noise_level:g} (used unchanged)")
    with typer.progressbar(length=settings.max_steps, label="training") as bar:

        def on_step(step: int, loss: float) -> None:
            if step % 50 == 0:  # a new label redraws the bar; off a terminal that is a new line
                bar.label = f"loss {loss:.4f}"
            bar.update(1)

        result = run_training(source, settings, device=device, on_step=on_step)
    save_run(out, source, settings, result, _command_line(ctx))
    typer.echo(f"{result.steps} steps in {result.wall_time_s:.0f} s, final loss {result.losses[-1]:.5f} -> {out}")


@app.command()
def prepare(
    ground_truth: GroundTruth,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write one DSxx.npz per dataset into.")],
    dataset: Annotated[Optional[list[str]], typer.Option("--dataset", "-d", help="Dataset id (repeat); default: all.")] = None,
) -> None:
    """Pre-process ground truth once (resampled, padded, binned); `train -g` then reads it fast."""
    from ens2export.dataset import prepare as prepare_windows

    for path in prepare_windows(ground_truth, out, include=dataset):
        typer.echo(f"wrote {path}")


@app.command()
def onnx(
    ctx: typer.Context,
    run: Annotated[list[Path], typer.Argument(help="Run folder written by `ens2export train`; several trained alike (seeds) make one model that averages their rates.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Model file to write, e.g. models/ens2-exc.onnx.")],
    cell_class: Annotated[str, typer.Option(help="excitatory or inhibitory.")] = "excitatory",
    name: Annotated[Optional[str], typer.Option(help="Model name (default: the file's stem).")] = None,
    family: Annotated[Optional[list[str]], typer.Option(help="Noise-matched family this model joins (its manifest, families/NAME.json beside it), e.g. ens2-exc; repeat to join several.")] = None,
    noise_level: Annotated[Optional[float], typer.Option(help="Its noise level, if run.json lacks one (older runs).")] = None,
    note: Annotated[str, typer.Option(help="Appended to the card's description, e.g. where to find its scores.")] = "",
) -> None:
    """Export a training run to ONNX with its model card (several runs: a seed ensemble, their rates averaged)."""
    from ens2export.card import write_model
    from ens2export.train import TrainSettings, as_teachers

    infos = [json.loads((folder / "run.json").read_text()) for folder in run]
    run_info = infos[0]
    for folder, info in zip(run, infos):
        try:
            TrainSettings.from_dict(info.get("settings", {}))
        except ValueError as exc:
            raise typer.BadParameter(f"{folder}: {exc}", param_hint="RUN") from None
    for folder, info in zip(run[1:], infos[1:]):
        if _trained_alike(info) != _trained_alike(run_info):
            raise typer.BadParameter(f"{folder} was not trained as {run[0]} (other settings or datasets): only seeds of one recipe average",
                                     param_hint="RUN")  # fmt: skip
    weights = []
    for folder in run:
        with np.load(folder / "weights.npz") as archive:
            weights.append({key: archive[key] for key in archive.files})
    training = {**run_info, "export_command": _command_line(ctx)}
    if len(run) > 1:
        keys = ("seed", "steps", "stopped_early", "final_loss", "best_loss", "wall_time_s", "command", "git_commit")
        training["members"] = [{key: info["settings"]["seed"] if key == "seed" else info.get(key) for key in keys} for info in infos]
    level = noise_level if noise_level is not None else run_info.get("noise_level")
    if family and level is None:
        raise typer.BadParameter(f"{run[0] / 'run.json'} records no noise level; pass --noise-level", param_hint="--family")
    settings = run_info.get("settings", {})
    kind = settings.get("kind", "windowed")
    recipe = "the published recipe" if kind == "windowed" else f"the convolutional recipe ({settings.get('input_scaling', 'none')} input scaling)"
    if settings.get("noise_level") is not None:
        recipe += f" at noise level {settings['noise_level']:g}"
    if settings.get("patience", 0) >= settings.get("max_steps", 1):
        recipe += f" for a fixed {settings['max_steps']} steps"
    if settings.get("noise_band") is not None:
        recipe += " with noise lifting each window to a ν drawn from {:g}-{:g}".format(*settings["noise_band"])
    if settings.get("teacher"):
        teachers = as_teachers(settings["teacher"])
        names = " + ".join(Path(t).name for t in teachers) + (" (rates averaged)" if len(teachers) > 1 else "")
        recipe += f", distilled from {names} ({settings['teacher_weight']:g} of the targets)"
    if settings.get("lookahead") is not None:
        recipe += f", low latency: {settings['lookahead']} samples lookahead, {settings['resampler']} resampling"
    if len(run) > 1:
        recipe += f", {len(run)} networks (seeds {', '.join(str(info['settings']['seed']) for info in infos)}) with their rates averaged"
    card = write_model(
        weights,
        out,
        name=name or out.stem,
        cell_class=cell_class,
        description=f"ENS2 trained with {recipe} on {', '.join(run_info['datasets'])}." + (f" {note.strip()}" if note.strip() else ""),
        training=training,
        noise_level=level,
        **TrainSettings.from_dict(settings).export_fields(),
    )
    typer.echo(f"wrote {out} (sha256 {card['sha256'][:12]}) and {out.with_suffix('.json')}")
    for name_of_family in family or []:
        _join(out.parent, name_of_family, [out.stem])


def _trained_alike(info: dict) -> tuple:
    """What runs of one recipe share: their settings but the seed (fields added since a run read as their defaults), and their datasets."""
    from ens2export.train import TrainSettings

    settings = {key: value for key, value in TrainSettings.from_dict(info.get("settings", {})).as_dict().items() if key != "seed"}
    return json.dumps(settings, sort_keys=True), tuple(info["datasets"])


@app.command()
def unpack(
    model: Annotated[Path, typer.Argument(help="A convolutional .onnx model exported by `ens2export onnx` (with its card).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder to write (weights.npz, run.json); must not hold a run yet.")],
) -> None:
    """Turn an exported convolutional model back into a run folder, e.g. to export it with more seeds as an ensemble."""
    import onnx as onnx_lib

    from ens2export.stream_graph import weights_from_onnx

    card = json.loads(model.with_suffix(".json").read_text())
    training = {key: value for key, value in card.get("training", {}).items() if key != "export_command"}
    if card.get("contract", {}).get("kind") != "convolutional" or "settings" not in training or "datasets" not in training:
        raise typer.BadParameter(f"{model} is not a convolutional model whose card records its training run", param_hint="MODEL")
    if "members" in training:
        raise typer.BadParameter(f"{model} is already an ensemble of {len(training['members'])} runs", param_hint="MODEL")
    if (out / "run.json").exists():
        raise typer.BadParameter(f"{out} already holds a run; choose a new folder", param_hint="--out")
    try:
        weights = weights_from_onnx(onnx_lib.load(str(model)))
    except ValueError as exc:
        raise typer.BadParameter(f"{model}: {exc}", param_hint="MODEL") from None
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "weights.npz", **weights)
    run_info = {**training, "unpacked_from": {"file": str(model), "sha256": card.get("sha256")}}
    (out / "run.json").write_text(json.dumps(run_info, indent=2) + "\n")
    typer.echo(f"wrote {out / 'weights.npz'} and {out / 'run.json'} (the run of {card['name']})")


@app.command("stream-graph")
def stream_graph(
    models: Annotated[list[Path], typer.Argument(help="Convolutional .onnx models (with their cards) to add a streaming graph to.")],
) -> None:
    """Write the streaming graph of existing convolutional models and record it in their cards."""
    import onnx as onnx_lib

    from ens2export.architecture import architecture_reach
    from ens2export.card import write_card, write_stream_graph
    from ens2export.stream_graph import weights_from_onnx

    for model in models:
        card_path = model.with_suffix(".json")
        card = json.loads(card_path.read_text())
        contract = card.get("contract", {})
        if contract.get("kind") != "convolutional":
            raise typer.BadParameter(f"{model} is not a convolutional model", param_hint="MODELS")
        reach = contract.get("reach", {})
        if reach.get("left", 0) + reach.get("right", 0) != sum(architecture_reach()):  # a delay moves reach, not its sum
            raise typer.BadParameter(f"{model} reaches {reach.get('left')} + {reach.get('right')} samples; only the plain BatchNorm network "
                                     f"({' + '.join(map(str, architecture_reach()))}) has a streaming graph", param_hint="MODELS")  # fmt: skip
        try:
            weights = weights_from_onnx(onnx_lib.load(str(model)))
        except ValueError as exc:
            raise typer.BadParameter(f"{model}: {exc}", param_hint="MODELS") from None
        card["stream"] = write_stream_graph(weights, model, card["name"], card["contract"])
        write_card(card_path, card)
        typer.echo(f"wrote {model.parent / card['stream']['file']} (sha256 {card['stream']['sha256'][:12]}) and updated {card_path}")


def _model_cards(models: list[Path]) -> dict[Path, dict]:
    """The card of each exported model, by card path; a model without one is refused."""
    cards = {}
    for model in models:
        card_path = model.with_suffix(".json")
        if not card_path.is_file():
            raise typer.BadParameter(f"{model} has no card {card_path}", param_hint="MODELS")
        cards[card_path] = json.loads(card_path.read_text())
    return cards


def _join(folder: Path, family: str, names: list[str]) -> None:
    """Add models (by name, each with a noise level in its card) to ``folder/families/family.json``, created if new."""
    from ens2rt.catalog.manifest import FAMILIES_FOLDER, FamilyManifest, MemberRange, read_manifest, write_manifest

    path = folder / FAMILIES_FOLDER / f"{family}.json"
    manifest = read_manifest(path) if path.is_file() else FamilyManifest(name=family, members=())
    if manifest.members and not manifest.by_noise_level and len(manifest.members) > 1:
        raise typer.BadParameter(f"{path} gives its members explicit ranges: edit it by hand", param_hint="FAMILY")
    members = manifest.model_names + [n for n in names if n not in manifest.model_names]
    levels = [json.loads((folder / f"{n}.json").read_text()).get("noise_level") for n in members]
    if len(set(levels)) != len(levels):
        raise typer.BadParameter(f"two of {', '.join(members)} share a noise level ({levels}); a family has one member per level", param_hint="MODELS")
    ordered = [n for _, n in sorted(zip(levels, members))]
    write_manifest(path, FamilyManifest(name=family, members=tuple(MemberRange(model=n) for n in ordered), description=manifest.description,
                                        why=manifest.why))  # fmt: skip
    typer.echo(f"{path}: {', '.join(ordered)}")


@app.command("join-family")
def join_family(
    family: Annotated[str, typer.Argument(help="Family the models join, e.g. ens2-exc-mixed.")],
    models: Annotated[list[Path], typer.Argument(help="Exported .onnx models (with their cards) to add to it.")],
) -> None:
    """Add exported models to a noise-matched family: its manifest, families/FAMILY.json beside them (a model may be in several)."""
    cards = _model_cards(models)
    for card_path, card in cards.items():
        if card.get("noise_level") is None:
            raise typer.BadParameter(f"{card_path} records no noise level, which a family member needs", param_hint="MODELS")
    folders = {p.parent for p in cards}
    if len(folders) > 1:
        raise typer.BadParameter("a family's members live in one models folder", param_hint="MODELS")
    _join(folders.pop(), family, [p.stem for p in cards])


@app.command("leave-family")
def leave_family(
    family: Annotated[str, typer.Argument(help="Family the models leave, e.g. ens2-exc.")],
    models: Annotated[list[Path], typer.Argument(help="Exported .onnx models (with their cards) to take out of it.")],
) -> None:
    """Take exported models out of a family's manifest; they stay in their other families."""
    from dataclasses import replace

    from ens2rt.catalog.manifest import FAMILIES_FOLDER, read_manifest, write_manifest

    cards = _model_cards(models)
    for folder in {p.parent for p in cards}:
        path = folder / FAMILIES_FOLDER / f"{family}.json"
        manifest = read_manifest(path) if path.is_file() else None
        leaving = [p.stem for p in cards if p.parent == folder]
        absent = [n for n in leaving if manifest is None or n not in manifest.model_names]
        if absent:
            raise typer.BadParameter(f"{', '.join(absent)} is not in family {family} ({path})", param_hint="MODELS")
        kept = tuple(m for m in manifest.members if m.model not in leaving)
        if kept:
            write_manifest(path, replace(manifest, members=kept))
        else:
            path.unlink()
        typer.echo(f"{path}: {', '.join(m.model for m in kept) or 'removed (no member left)'}")


@app.command("convert-published")
def convert_published(
    ctx: typer.Context,
    weights: Annotated[Path, typer.Argument(help="Published ENS2 weights (.npz).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Model file to write.")],
    cell_class: Annotated[str, typer.Option(help="excitatory or inhibitory.")] = "excitatory",
    name: Annotated[Optional[str], typer.Option(help="Model name (default: the file's stem).")] = None,
) -> None:
    """Convert the published ENS2 weights to an ONNX model with a card (no PyTorch needed)."""
    from ens2export.card import write_model
    from ens2export.weights import load_published_weights

    card = write_model(
        load_published_weights(weights),
        out,
        name=name or out.stem,
        cell_class=cell_class,
        description="The published ENS2 model (Zhou et al. 2023), converted without retraining.",
        training={
            "source": weights.name,
            "datasets": "as published by the ENS2 authors (CASCADE ground truth of this cell class)",
            "command": _command_line(ctx),
        },
        published=True,
    )
    typer.echo(f"wrote {out} (sha256 {card['sha256'][:12]}) and {out.with_suffix('.json')}")


def main() -> None:
    """Console script; the slim runtime install has the script but not what it needs."""
    from importlib.util import find_spec

    missing = [name for name in ("torch", "onnx") if find_spec(name) is None]
    if missing:
        typer.echo(f"ens2export needs {' and '.join(missing)}: pip install 'ens2-runtime[export]'", err=True)
        raise SystemExit(1)
    app()
