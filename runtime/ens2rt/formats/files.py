"""Output files: checked before a run starts, written atomically, with the user's umask.

Every file or store ens2rt writes goes through :func:`atomic_output`: the writer fills
a temporary name beside the destination, which is renamed over it only once the
writer has finished, so a failed or interrupted run never leaves a half-written
result. The temporary is created by ``open``/``mkdir`` (not ``mkstemp``), so the
result gets the permissions the user's umask gives any new file.

:func:`check_output` runs before any inference: it refuses a destination that is a
folder, lies in a folder that does not exist or cannot be written, or is one of the
files the run reads (writing there would replace the input).
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ens2rt.errors import InputError


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
    except BaseException:
        if temporary.is_dir():
            shutil.rmtree(temporary, ignore_errors=True)
        else:
            temporary.unlink(missing_ok=True)
        raise
