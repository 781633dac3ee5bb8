"""Batchwise companion: batches, epochs and iterations, computed exactly.

The package has three layers, and each imports only from the layers above it in this list:

* :mod:`companion.core` — the pipeline a course chapter trains with:
  :mod:`~companion.core.datasets` → :mod:`~companion.core.batching` →
  :mod:`~companion.core.models` → :mod:`~companion.core.optim` /
  :mod:`~companion.core.schedules` → :mod:`~companion.core.training` (with
  :mod:`~companion.core.history` and :mod:`~companion.core.callbacks`). Chapters 01–04, 09.
* :mod:`companion.measure` — experiments built on the core: gradient noise, the noise
  scale, curvature, learning-rate scaling, the critical batch size, the noisy quadratic
  model, time and memory. Chapters 05–08, 10.
* :mod:`companion.display` — figures and widgets (:mod:`~companion.display.plots`,
  :mod:`~companion.display.style`, :mod:`~companion.display.widgets`).

The instructors' tool (release, grading, leak scan) is a separate package,
``batchwise_instructor``, installed with the ``instructor`` extra.

>>> from companion import BatchPlan
>>> BatchPlan(n_samples=1050, batch_size=100).steps_per_epoch
11
"""

from companion.core import callbacks, datasets, models, schedules
from companion.core.batching import REMAINDERS, BatchPlan
from companion.core.callbacks import Callback, EarlyStopping
from companion.core.history import History, StepLog
from companion.core.optim import SGD
from companion.core.sweep import SweepError, sweep
from companion.core.training import fit

__all__ = [
    "REMAINDERS",
    "BatchPlan",
    "Callback",
    "EarlyStopping",
    "History",
    "SGD",
    "StepLog",
    "SweepError",
    "callbacks",
    "datasets",
    "fit",
    "models",
    "schedules",
    "sweep",
]

__version__ = "0.1.0"
