"""The measurement layer: experiments on top of :mod:`companion.core`.

Gradient noise against batch size (:mod:`~companion.measure.noise`), the noise scale
(:mod:`~companion.measure.noise_scale`), curvature (:mod:`~companion.measure.curvature`),
learning-rate scaling (:mod:`~companion.measure.lr_scaling`), the critical batch size
(:mod:`~companion.measure.critical_batch`), the noisy quadratic model
(:mod:`~companion.measure.nqm`), time and memory (:mod:`~companion.measure.speed`), the
wall-clock time to a target loss (:mod:`~companion.measure.time_to_target`) and the two-weight
loss landscape (:mod:`~companion.measure.landscape`); they share the batch-size grid and the
batch-mean sampler of :mod:`~companion.measure.sampling`. Nothing here imports
from :mod:`companion.display`.
"""
