"""The browser page: spike inference that runs on the user's own machine, in the browser.

The page (``index.html``, ``app.mjs``, ``worker.mjs``) runs the shipped models with
onnxruntime-web through the JavaScript engine ``ens2rt.mjs`` (which ``examples/node``
shares). :func:`serve` serves it on 127.0.0.1 with the installed package's models;
:func:`export` writes it as a static site that any web server can host as it is.
"""

from ens2rt.web.site import PAGE_FILES, catalog, export, ort_folder, serve

__all__ = ["PAGE_FILES", "catalog", "export", "ort_folder", "serve"]
