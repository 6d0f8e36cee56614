"""ens2export records each run's command with every option spelled out; it must parse back to the same run."""

import shlex

import pytest
import typer.main

from ens2export.cli import _command_line, app

COMMAND = typer.main.get_command(app)


@pytest.mark.parametrize("line", [
    "train --out runs/x -g gt -x DS22 -x DS23 --noise-band 1 3 --max-steps 5",
    "train --out runs/x -g gt -d DS05 --kind convolutional --context 192 --teacher a.onnx --teacher b.onnx",
    "train --out runs/x -g gt --noise-level 4 --lookahead 6",
    "onnx runs/a runs/b --out m.onnx --family ens2-exc --family ens2-exc-mixed",
])  # fmt: skip
def test_a_recorded_command_parses_back_to_the_same_settings(line):
    name, *args = shlex.split(line)
    parsed = COMMAND.commands[name].make_context(name, list(args))
    recorded = _command_line(parsed)
    assert recorded.startswith(f"ens2export {name} ")
    again = COMMAND.commands[name].make_context(name, shlex.split(recorded)[2:])
    assert again.params == parsed.params


def test_a_band_and_a_flag_are_spelled_as_typed():
    parsed = COMMAND.commands["train"].make_context("train", ["--out", "r", "-g", "gt", "--noise-band", "1", "3"])
    assert "--noise-band 1.0 3.0" in _command_line(parsed)
    flagged = typer.Typer()

    @flagged.command()
    def run(ctx: typer.Context, quick: bool = False, strict: bool = True) -> None:
        pass

    command = typer.main.get_command(flagged)
    recorded = _command_line(command.make_context("run", ["--quick"]))
    assert recorded.endswith("--quick --strict")
    assert command.make_context("run", shlex.split(recorded)[2:]).params == {"quick": True, "strict": True}
