"""The core layer: data, batching, models, optimisers, schedules, training, history, callbacks.

Nothing here imports from :mod:`companion.measure` or :mod:`companion.display` (a test holds
this), so the training pipeline can be read and changed on its own.
"""
