"""A Sphinx extension that makes the built book read without a network.

* **Math**: the vendored MathJax 3 (``book/_vendor/mathjax``, refreshed by ``make vendor``) is
  served from the book's own ``_static/mathjax/`` and ``mathjax_path`` points at it, so formulas
  are typeset offline instead of showing their TeX source.
* **Widgets**: myst-nb's widget renderer (require.js and ``@jupyter-widgets/html-manager`` from
  two CDNs) is switched off: a static page has no kernel, so a live explorer could not redraw
  anyway. The chapters show each explorer's static twin and tag the live cell ``remove-output``.
* **Progress bars**: every kernel the build starts runs with ``BATCHWISE_PROGRESS=0``
  (:func:`no_progress_bars`), so ``fit`` and ``sweep`` never leave a dead tqdm widget on a page,
  however slow the builder (a bar appears once a run has lasted two seconds).
  ``execute_parallel.py``, which runs the notebooks before the build, calls it too.

The vendored folder is appended to ``html_static_path`` when the configuration is initialised,
i.e. *after* Jupyter Book 1 has turned ``_config.yml`` into Sphinx's configuration. Jupyter Book
globs every ``*.js`` file of every ``html_static_path`` entry it knows into every page (once the
book root has a ``_static/`` folder); an entry added here escapes that scan, so MathJax's
sixty-odd component files are copied but only ``tex-chtml.js`` is loaded, once, by
``sphinx.ext.mathjax``.

>>> VENDOR.name, MATHJAX_PATH
('_vendor', 'mathjax/tex-chtml.js')
>>> (VENDOR / MATHJAX_PATH).is_file()
True
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from companion.core.progress import ENV_VAR

#: The folder added to ``html_static_path``; its ``mathjax/`` becomes ``_static/mathjax/``.
VENDOR = Path(__file__).resolve().parents[1] / "_vendor"
#: ``mathjax_path`` is relative to ``_static``.
MATHJAX_PATH = "mathjax/tex-chtml.js"


def use_vendored_assets(app: Any, config: Any) -> None:
    """Serve the vendored folder as static files, load MathJax from it, and no widget CDNs."""
    if not (VENDOR / MATHJAX_PATH).is_file():
        raise FileNotFoundError(f"{VENDOR / MATHJAX_PATH} is missing; run `make vendor`")
    paths = [str(p) for p in config.html_static_path]
    if str(VENDOR) not in paths:
        config.html_static_path = [*config.html_static_path, str(VENDOR)]
    config.mathjax_path = MATHJAX_PATH
    if "nb_ipywidgets_js" in config:
        config.nb_ipywidgets_js = {}


def no_progress_bars(environ: MutableMapping[str, str] = os.environ) -> None:
    """Turn the companion's progress bars off for every process started from here on.

    >>> env = {}; no_progress_bars(env); env
    {'BATCHWISE_PROGRESS': '0'}
    """
    environ[ENV_VAR] = "0"


def setup(app: Any) -> dict[str, Any]:
    """Register the handler (``config-inited`` runs after every configuration value is
    known), and turn the progress bars off for the kernels the build will start."""
    no_progress_bars()
    app.connect("config-inited", use_vendored_assets)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
