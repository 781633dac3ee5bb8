"""The references page: author-year labels, unique, and names capitalised as their owners do."""

from __future__ import annotations

import sys
from pathlib import Path

from pybtex.database import parse_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))

from author_year import AuthorYearStyle  # noqa: E402


def _formatted() -> dict[str, tuple[str, str]]:
    bib = parse_file(str(ROOT / "book" / "references.bib"), "bibtex")
    style = AuthorYearStyle()
    entries = style.format_entries(style.sort(bib.entries.values()))
    return {e.key: (e.label, e.text.render_as("text")) for e in entries}


def test_labels_are_author_year_and_unique() -> None:
    formatted = _formatted()
    labels = [label for label, _ in formatted.values()]
    assert len(set(labels)) == len(labels)
    assert formatted["goyal2017accurate"][0] == "Goyal et al., 2017"
    assert formatted["masters2018revisiting"][0] == "Masters and Luschi, 2018"
    assert {formatted[k][0] for k in ("keras_fit", "keras_pr_19363")} == {
        "Keras team, 2024a", "Keras team, 2024b"}
    assert all(label[-1].isdigit() or label[-1] in "abc" for label in labels)


def test_names_and_acronyms_keep_their_capitals() -> None:
    text = {key: body for key, (_, body) in _formatted().items()}
    for key, words in {
        "keras_fit": "Model training APIs: Model.fit",
        "pytorch_dataloader": "torch.utils.data",
        "tf_data_batch": "tf.data: build TensorFlow",
        "sklearn_gen_batches": "sklearn.utils.gen_batches",
        "goyal2017accurate": "SGD: training ImageNet",
        "tf_issue_38596": "Keras fails",
    }.items():
        assert words in text[key], (key, text[key])
