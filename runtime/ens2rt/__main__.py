"""``python -m ens2rt``: the ``ens2rt`` command, for environments without its script on PATH."""

from ens2rt.cli import main

main()
