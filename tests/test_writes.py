"""Writes never crash and never leave a file behind: full disk, a crashing writer, SIGTERM/SIGHUP."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ens2rt.cli import app
from ens2rt.errors import OutputError

RATE = 30.0
runner = CliRunner()


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs: a real full disk. Skipped where this process may not mount one."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> tuple[Path, Path]:
    """A 200-neuron .npy and an 8-neuron .nwb, each larger than 1 MiB of results."""
    from test_formats import _write_nwb

    folder = tmp_path_factory.mktemp("input")
    rng = np.random.default_rng(0)
    np.save(folder / "rec.npy", rng.normal(0, 0.05, (200, 3000)))
    _write_nwb(folder / "rec.nwb", rng.normal(0, 0.05, (8, 30_000)), RATE)
    return folder / "rec.npy", folder / "rec.nwb"


def _infer(source: Path, out: Path):
    rate = [] if source.suffix == ".nwb" else ["-r", str(RATE)]  # an NWB file's rate is its own
    return runner.invoke(app, ["infer", str(source), *rate, "-m", "ens2-exc-conv", "-o", str(out), "-q"])


@pytest.mark.parametrize("suffix", [".npz", ".mat", ".h5", ".nwb"])
def test_a_full_disk_is_one_error_line_and_leaves_nothing(small_disk, recording, suffix):
    """In this process: HDF5's crash on a full disk (rc 139 before) would end the whole test run."""
    source = recording[1] if suffix == ".nwb" else recording[0]
    result = _infer(source, small_disk / f"out{suffix}")
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [f"ens2rt: error: cannot write {small_disk / f'out{suffix}'}: No space left on device"]
    assert os.listdir(small_disk) == []


@pytest.mark.parametrize("suffix", [".npz", ".mat", ".h5"])
def test_a_failing_write_is_an_output_error(tmp_path, recording, suffix, monkeypatch):
    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    import ens2rt.formats.results as results

    monkeypatch.setattr(results.np, "savez_compressed", no_space)
    monkeypatch.setattr(results.scipy.io, "savemat", no_space)
    monkeypatch.setattr(results, "_h5_image", lambda arrays: no_space())
    result = _infer(recording[0], tmp_path / f"out{suffix}")
    assert result.exit_code == 1 and "No space left on device" in result.output
    assert os.listdir(tmp_path) == []


def test_a_writer_that_crashes_is_an_error_and_leaves_nothing(tmp_path, recording, monkeypatch):
    import ens2rt.formats.nwb as nwb

    monkeypatch.setattr(nwb, "_write_copy", lambda *args: os.kill(os.getpid(), signal.SIGSEGV))
    result = _infer(recording[1], tmp_path / "out.nwb")
    assert result.exit_code == 1 and "the writer stopped (signal 11)" in result.output
    assert os.listdir(tmp_path) == []
    monkeypatch.setattr(nwb, "_write_copy", lambda *args: (_ for _ in ()).throw(RuntimeError("errno = 122, error message = 'Disk quota exceeded', buf = 0x1")))
    with pytest.raises(OutputError, match="cannot write .*out.nwb: Disk quota exceeded$"):
        import ens2rt

        nwb.write_nwb(recording[1], tmp_path / "out.nwb", ens2rt.infer(nwb.read_nwb(recording[1])[0], RATE, model="ens2-exc-conv"))
    assert os.listdir(tmp_path) == []


STOPPED_WHILE_WRITING = """
import os, signal, sys
from pathlib import Path
from ens2rt.cli.app import handle_stop_signals
from ens2rt.formats.files import atomic_output
handle_stop_signals()
with atomic_output(Path(sys.argv[1])) as temporary:
    temporary.write_bytes(b"half a result")
    os.kill(os.getpid(), getattr(signal, sys.argv[2]))
"""


@pytest.mark.parametrize("name", ["SIGTERM", pytest.param("SIGHUP", marks=pytest.mark.slow), pytest.param("SIGINT", marks=pytest.mark.slow)])
def test_a_signal_during_a_write_removes_the_temporary(tmp_path, name):
    done = subprocess.run([sys.executable, "-c", STOPPED_WHILE_WRITING, str(tmp_path / "out.npz"), name], capture_output=True, text=True)
    assert done.returncode != 0
    assert os.listdir(tmp_path) == []


def test_demo_never_replaces_a_file_it_did_not_write(tmp_path):
    (tmp_path / "keep.png").write_text("the user's own figure")
    result = runner.invoke(app, ["demo", "-o", str(tmp_path / "keep.npz")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "keep.png").read_text() == "the user's own figure" and "keep.png exists" in result.output
    into_folder = runner.invoke(app, ["demo", "-o", str(tmp_path)])
    assert into_folder.exit_code == 0 and (tmp_path / "ens2rt-demo.npz").is_file()
    wrong = runner.invoke(app, ["demo", "-o", str(tmp_path / "demo")])
    assert wrong.exit_code == 1 and "a .npz, .mat or .h5 file" in wrong.output and "example:" not in wrong.output


def test_a_zarr_output_that_is_its_input_says_so(tmp_path):
    zarr = pytest.importorskip("zarr")
    store = tmp_path / "session.zarr"
    zarr.open_array(str(store), mode="w", shape=(2, 900), dtype="f8")[:] = np.random.default_rng(0).normal(0, 0.05, (2, 900))
    result = runner.invoke(app, ["infer", str(store), "-o", str(store), "-r", str(RATE)])
    assert result.exit_code == 1 and "is the input" in result.output and "remove it" not in result.output
