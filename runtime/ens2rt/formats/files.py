"""Output files: checked before a run starts, written atomically, with the user's umask.

Every file or store ens2rt writes goes through :func:`atomic_output`: the writer fills
a temporary name beside the destination, which is renamed over it only once the
writer has finished, so a failed or interrupted run never leaves a half-written
result. The temporary is created by ``open``/``mkdir`` (not ``mkstemp``), so the
result gets the permissions the user's umask gives any new file.

:func:`check_output` runs before any inference: it refuses a destination that is a
folder, lies in a folder that does not exist or cannot be written, or is one of the
files the run reads (writing there would replace the input).

Any failure while writing (a full disk, a quota, a permission) becomes an
:class:`~ens2rt.errors.OutputError` naming the file and the reason. Writers built on
HDF5 crash the process when the disk fills (HDF5 retries its flush as the file is
closed); :func:`in_child_process` runs them in a forked process, so the crash is an
error here and the temporary is removed like any other.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ens2rt.errors import InputError, OutputError


def _temporary_beside(path: Path, kind: str) -> Path:
    # The destination's suffix stays last, for writers that choose a format by it.
    return path.with_name(f".{path.stem}.{secrets.token_hex(4)}.{kind}{path.suffix}")


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name the same file (symbolic and hard links included)."""
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output(path: str | Path, reads: Iterable[str | Path] = (), *, overwrite_input: bool = False) -> Path:
    """Raise :class:`InputError` unless a result can be written to ``path``.

    ``reads``: the files the run reads; ``path`` must be none of them unless
    ``overwrite_input``.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder; give the output a file name, e.g. -o {path / 'spikes.npz'}")
    folder = path.parent
    if not folder.is_dir():
        raise InputError(f"cannot write {path}: the folder {folder} does not exist")
    if not overwrite_input:
        for read in map(Path, reads):
            if same_file(path, read):
                raise InputError(
                    f"{path} is the input {read}: writing the result there would replace it; "
                    "choose another output (-o), or pass --overwrite-input to replace it on purpose"
                )
    probe = _temporary_beside(path, "probe")
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        probe.unlink()
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path


@contextmanager
def atomic_output(path: str | Path, *, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for a writer to fill; rename it over ``path`` on success.

    With ``directory`` the temporary is a fresh empty folder (for a zarr store), and
    ``path`` must not exist yet. On any exception the temporary is removed and
    ``path`` is left as it was.
    """
    path = Path(path)
    temporary = _temporary_beside(path, "tmp")
    if directory:
        temporary.mkdir()  # 0o777 less the umask, unlike mkdtemp's 0o700
    try:
        yield temporary
        if directory:
            temporary.rename(path)
        else:
            os.replace(temporary, path)
    except BaseException as exc:
        if temporary.is_dir():
            shutil.rmtree(temporary, ignore_errors=True)
        else:
            temporary.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
        raise


# HDF5 reports a failed write inside a longer text: "... errno = 28, error message = 'No space left on device' ..."
_HDF5_REASON = re.compile(r"error message = '([^']+)'")


def in_child_process(write: Callable[[], None], path: str | Path) -> None:
    """Run ``write`` in a forked child and wait; its failure (even a crash) is an :class:`OutputError` for ``path``.

    Where the system cannot fork, ``write`` runs here. An exception in the parent while
    it waits (Ctrl-C, SIGTERM) stops the child first.
    """
    if not hasattr(os, "fork"):
        write()
        return
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report the first failure, then leave without running any teardown
        os.close(read_end)
        code = 0
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            warnings.simplefilter("ignore")  # the libraries' warnings are about their internals, not the user's data
            write()
        except BaseException as exc:  # noqa: BLE001 -- everything goes back to the parent as text
            os.write(write_end, _reason(exc).encode("utf-8", "replace")[:4096])
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as reader:
            reason = reader.read().decode("utf-8", "replace")
        _, status = os.waitpid(pid, 0)
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    if status != 0:
        crashed = f"the writer stopped (signal {os.WTERMSIG(status)})" if os.WIFSIGNALED(status) else "the writer failed"
        raise OutputError(f"cannot write {path}: {reason or crashed}")


def _reason(exc: BaseException) -> str:
    """One line saying why a write failed: the system's reason where HDF5 names one."""
    text = str(exc)
    found = _HDF5_REASON.search(text)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return found.group(1) if found else (text.splitlines() or [type(exc).__name__])[0][:300]
