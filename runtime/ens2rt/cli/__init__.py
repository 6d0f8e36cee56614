"""``ens2rt`` on the command line: one module per command, all on one Typer app.

``app`` (shared helpers: errors, warnings, progress) · ``infer`` · ``demo`` · ``plot`` · ``info`` · ``web``.
"""

from ens2rt.cli.app import app, main

# each module registers its command on app; in this order they are listed in --help
from ens2rt.cli import infer  # noqa: F401, E402, I001
from ens2rt.cli import demo  # noqa: F401, E402
from ens2rt.cli import plot  # noqa: F401, E402
from ens2rt.cli import info  # noqa: F401, E402
from ens2rt.cli import web  # noqa: F401, E402

__all__ = ["app", "main"]
