"""``ens2rt web``: the browser page, served on this computer or written as a static site."""

from __future__ import annotations

import time
import webbrowser
from pathlib import Path
from typing import Annotated, Optional

import typer

from ens2rt.cli.app import app, fail
from ens2rt.errors import Ens2Error


@app.command()
def web(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free one).")] = 8765,
    open_browser: Annotated[bool, typer.Option("--open/--no-open", help="Open the page in the default browser.")] = True,
    export: Annotated[Optional[Path], typer.Option(help="Write the page as a static site into this new folder and exit.")] = None,
    ort: Annotated[Optional[Path], typer.Option(help="onnxruntime-web's dist folder (default: the copy bundled with ens2rt).")] = None,
) -> None:
    """Spike inference in the browser: drop a CSV, .npy or suite2p folder; the data never leaves this computer."""
    from ens2rt.web import export as export_site
    from ens2rt.web import serve

    try:
        if export is not None:
            typer.echo(f"static site written to {export_site(export, ort)}: host the folder as it is (docs/web.md)")
            return
        server = serve(port, ort)
    except (Ens2Error, OSError) as exc:
        fail(str(exc))
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    typer.echo(f"ens2rt web page at {url} (only this computer can reach it; Ctrl+C stops it)")
    if open_browser:
        webbrowser.open(url)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.shutdown()
