"""Self-check questions at the end of a chapter, checked in the reader's browser.

A chapter builds its questions from values it has just computed, so a numeric answer is
never typed by hand::

    steps = BatchPlan(1050, 100).steps_per_epoch
    selfcheck([numeric("How many steps does one epoch take?", steps), ...])

:func:`multiple_choice` and :func:`numeric` return question dicts in the format of
`jupyterquiz <https://github.com/jmshea/jupyterquiz>`_; :func:`selfcheck` wraps a list of them
in a :class:`SelfCheck`, whose HTML (a ``<div>``, jupyterquiz's styles and its script, inline)
renders the quiz and checks each answer in the page itself: in the built book with no kernel
and no network, in JupyterLab, on Binder and Colab. Where no HTML can be shown (the PDF
book, a terminal) the questions print as Markdown, without their answers.

>>> q = numeric("Steps per epoch for N = 1050, B = 100?", 11)
>>> q["type"], q["answers"][0]
('numeric', {'type': 'value', 'value': 11, 'correct': True, 'feedback': 'Correct.'})
>>> check = selfcheck([q, multiple_choice("Is the last batch kept by default?",
...                                       {"yes": True, "no": False})])
>>> print(check._repr_markdown_())
1. Steps per epoch for N = 1050, B = 100? (a number)
2. Is the last batch kept by default? (one of: yes; no)
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from companion.core._validation import is_int

#: The colours of the quiz boxes: the Okabe–Ito blue and vermilion of the book's figures.
COLORS: dict[str, str] = {
    "--jq-multiple-choice-bg": "#0072B2",
    "--jq-mc-button-bg": "#fafafa",
    "--jq-mc-button-border": "#e0e0e0e0",
    "--jq-mc-button-inset-shadow": "#555555",
    "--jq-many-choice-bg": "#D55E00",
    "--jq-numeric-bg": "#0072B2",
    "--jq-numeric-input-bg": "#f0f0f0",
    "--jq-numeric-input-label": "#101010",
    "--jq-numeric-input-shadow": "#999999",
    "--jq-string-bg": "#0072B2",
    "--jq-incorrect-color": "#ffb3b3",
    "--jq-correct-color": "#b3ffb3",
    "--jq-text-color": "#fafafa",
    "--jq-link-color": "#ffffff",
}

#: jupyterquiz typesets with MathJax whenever a global ``MathJax`` exists. A page whose MathJax
#: is configured but not (yet) loaded has ``MathJax`` without ``version``: jupyterquiz then throws
#: reading ``version[0]``, or, for a MathJax 3 without ``typeset``, loads MathJax from a CDN. The
#: quiz's script is given this stricter test instead: typeset only with a loaded MathJax 3.
MATHJAX_GUARD = (
    "(typeof MathJax != 'undefined' && typeof MathJax.version == 'string' "
    "&& typeof MathJax.typeset == 'function')"
)
_MATHJAX_TESTS = ("typeof MathJax != 'undefined'", "typeof MathJax !== 'undefined'")

CORRECT = "Correct."
INCORRECT = "Not quite: look at the section again and try once more."


class Answer(TypedDict, total=False):
    """One answer of a jupyterquiz question (the keys jupyterquiz reads)."""

    answer: str
    type: str
    value: float
    range: list[float]
    correct: bool
    feedback: str


class Question(TypedDict):
    """A jupyterquiz question: ``question``, ``type`` and its ``answers``."""

    question: str
    type: str
    answers: list[Answer]


def _check_text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str; got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{name} must not be empty; got {value!r}")
    return value


def _check_number(value: Any, name: str) -> int | float:
    if is_int(value):
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int | float) and not hasattr(
        value, "__float__"
    ):
        raise TypeError(f"{name} must be a real number; got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite; got {number!r}")
    return number


def multiple_choice(
    question: str,
    choices: Mapping[str, bool],
    feedback: Mapping[str, str] | None = None,
) -> Question:
    """A multiple-choice question: each choice's text mapped to whether it is correct.

    Args:
        question: The question, as the reader sees it.
        choices: ``{text: is_correct}`` in the order shown; exactly one must be correct.
        feedback: Optional ``{text: feedback}`` shown when that choice is picked (default
            :data:`CORRECT` or :data:`INCORRECT`).

    Returns:
        The question dict.

    >>> q = multiple_choice("1050 samples, B = 100, keep: the last batch holds", {"50": True,
    ...                     "100": False}, feedback={"100": "Only 50 samples are left."})
    >>> [(a["answer"], a["correct"], a["feedback"]) for a in q["answers"]]
    [('50', True, 'Correct.'), ('100', False, 'Only 50 samples are left.')]
    >>> multiple_choice("?", {"a": True, "b": True})
    Traceback (most recent call last):
    ...
    ValueError: choices must have exactly one correct choice; got 2 (a, b)
    """
    _check_text(question, "question")
    if not isinstance(choices, Mapping):
        raise TypeError(f"choices must be a dict {{text: is_correct}}; got {type(choices).__name__}")
    if len(choices) < 2:
        raise ValueError(f"choices must hold at least two choices; got {len(choices)}")
    for text, correct in choices.items():
        _check_text(text, f"choices[{text!r}] (its text)")
        if not isinstance(correct, bool):
            raise TypeError(f"choices[{text!r}] must be True or False; got {correct!r}")
    right = [text for text, correct in choices.items() if correct]
    if len(right) != 1:
        raise ValueError(
            f"choices must have exactly one correct choice; got {len(right)} ({', '.join(right)})"
        )
    notes = dict(feedback or {})
    unknown = sorted(set(notes) - set(choices))
    if unknown:
        raise ValueError(f"feedback must only name choices; got unknown {unknown}")
    answers: list[Answer] = [
        {
            "answer": text,
            "correct": correct,
            "feedback": _check_text(notes[text], f"feedback[{text!r}]")
            if text in notes
            else (CORRECT if correct else INCORRECT),
        }
        for text, correct in choices.items()
    ]
    return {"question": question, "type": "multiple_choice", "answers": answers}


def numeric(
    question: str,
    value: Any,
    *,
    tolerance: float = 0.0,
    hint: str = INCORRECT,
) -> Question:
    """A question whose answer is a number, typed by the reader.

    Args:
        question: The question, as the reader sees it.
        value: The computed answer (an int, or a float with a ``tolerance``).
        tolerance: Accept answers within ``± tolerance`` of ``value`` (``0``: exactly it).
        hint: Feedback for any other answer.

    Returns:
        The question dict.

    >>> q = numeric("Relative error of the mean of means, in %?", 13.57, tolerance=0.5)
    >>> q["answers"][0]["range"]
    [13.07, 14.07]
    >>> numeric("?", float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: value must be finite; got nan
    """
    _check_text(question, "question")
    _check_text(hint, "hint")
    number = _check_number(value, "value")
    tol = _check_number(tolerance, "tolerance")
    if tol < 0:
        raise ValueError(f"tolerance must be >= 0; got {tol!r}")
    if tol == 0 and not isinstance(number, int):
        raise ValueError(
            f"value {number!r} is not a whole number: give a tolerance so that a reader who "
            "types a rounded value is not told it is wrong"
        )
    exact: Answer
    if tol == 0:
        exact = {"type": "value", "value": number, "correct": True, "feedback": CORRECT}
    else:
        low, high = round(number - tol, 12), round(number + tol, 12)
        exact = {"type": "range", "range": [low, high], "correct": True, "feedback": CORRECT}
    return {
        "question": question,
        "type": "numeric",
        "answers": [exact, {"type": "default", "feedback": hint}],
    }


def _accepts(question: Question, answer: Any) -> bool:
    """What jupyterquiz's script decides for ``answer`` (the choice text, or a number)."""
    for a in question["answers"]:
        if question["type"] == "multiple_choice" and a.get("answer") == answer:
            return bool(a["correct"])
        if "value" in a and answer == a["value"]:
            return bool(a["correct"])
        if "range" in a and a["range"][0] <= answer < a["range"][1]:
            return bool(a["correct"])
    return False


class SelfCheck:
    """A list of questions that shows itself as a jupyterquiz quiz (HTML) or as Markdown.

    Attributes:
        questions: The question dicts, in order.
        div_id: The id of the quiz's ``<div>``, derived from the questions (stable builds).
    """

    def __init__(self, questions: Sequence[Question]) -> None:
        if isinstance(questions, Mapping) or not isinstance(questions, Sequence):
            raise TypeError(f"questions must be a list of question dicts; got {questions!r}")
        if not questions:
            raise ValueError("questions must hold at least one question; got an empty list")
        for i, q in enumerate(questions):
            if not (isinstance(q, Mapping) and {"question", "type", "answers"} <= set(q)):
                raise TypeError(
                    f"questions[{i}] must be a dict from multiple_choice() or numeric(); got {q!r}"
                )
        self.questions: list[Question] = list(questions)
        digest = hashlib.sha256(json.dumps(self.questions, sort_keys=True).encode()).hexdigest()
        self.div_id = "selfcheck" + digest[:12]

    def accepts(self, index: int, answer: Any) -> bool:
        """Whether question ``index`` takes ``answer`` as correct (as the page will decide).

        >>> selfcheck([numeric("2 + 2?", 4)]).accepts(0, 4)
        True
        """
        return _accepts(self.questions[index], answer)

    def _repr_html_(self) -> str:
        from jupyterquiz.dynamic.renderer import build_script, build_styles, render_div

        prefix = f"var questions{self.div_id}=" + json.dumps(self.questions)
        prefix += ";\n\nif (typeof Question === 'undefined') {\n"
        div = render_div(self.div_id, False, False, False, 1_000_000, 600, 10, "left")
        script = build_script(prefix, True, "", self.div_id, True)
        for test in _MATHJAX_TESTS:
            script = script.replace(f"({test})", MATHJAX_GUARD)
        return f"{div}</div>{build_styles(self.div_id, COLORS)}\n<script>{script}</script>"

    def _repr_markdown_(self) -> str:
        lines = []
        for i, q in enumerate(self.questions, start=1):
            if q["type"] == "multiple_choice":
                kind = "one of: " + "; ".join(a["answer"] for a in q["answers"])
            else:
                kind = "a number"
            lines.append(f"{i}. {q['question']} ({kind})")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self._repr_markdown_()


def selfcheck(questions: Sequence[Question]) -> SelfCheck:
    """The quiz of a chapter: show the returned object as a cell's value.

    Args:
        questions: Dicts from :func:`multiple_choice` and :func:`numeric`.

    Returns:
        A :class:`SelfCheck`.

    >>> check = selfcheck([numeric("Steps per epoch, N = 1050, B = 100?", 11)])
    >>> check.accepts(0, 11), check.accepts(0, 10)
    (True, False)
    >>> html = check._repr_html_()
    >>> f'id="{check.div_id}"' in html, html.count(MATHJAX_GUARD) >= 4
    (True, True)
    >>> [t for t in _MATHJAX_TESTS if f"if ({t})" in html]  # every MathJax use is guarded
    []
    """
    return SelfCheck(questions)
