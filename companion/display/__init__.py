"""The display layer: figures (:mod:`~companion.display.plots`) in one style
(:mod:`~companion.display.style`), and widgets (:mod:`~companion.display.widgets`), each with a
static twin for readers without a kernel.
"""
