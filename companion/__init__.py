"""Batchwise companion: batches, epochs and iterations, computed exactly.

The pipeline reads in the module names: :mod:`~companion.datasets` →
:mod:`~companion.batching` → :mod:`~companion.models` → :mod:`~companion.optim` /
:mod:`~companion.schedules` → :mod:`~companion.training` (with
:mod:`~companion.history` and :mod:`~companion.callbacks`).

>>> from companion import BatchPlan
>>> BatchPlan(n_samples=1050, batch_size=100).steps_per_epoch
11
"""

from companion import callbacks, datasets, models, schedules
from companion.batching import REMAINDERS, BatchPlan
from companion.callbacks import Callback, EarlyStopping
from companion.history import History, StepLog
from companion.optim import SGD
from companion.training import fit

__all__ = [
    "REMAINDERS",
    "BatchPlan",
    "Callback",
    "EarlyStopping",
    "History",
    "SGD",
    "StepLog",
    "callbacks",
    "datasets",
    "fit",
    "models",
    "schedules",
]

__version__ = "0.1.0"
