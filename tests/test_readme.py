"""The README's Python examples run, and print what their comments say."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_the_readme_has_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.splitlines()[0][:40])
def test_a_readme_example_gives_the_value_in_its_comment(block: str) -> None:
    *body, last = [line for line in block.strip().splitlines() if line.strip()]
    expression, _, expected = last.partition("#")
    assert expected.strip(), "the example's last line says in a comment what it gives"
    namespace: dict[str, object] = {}
    exec("\n".join(body), namespace)  # noqa: S102 - the README's own example
    assert eval(expression, namespace) == ast.literal_eval(expected.strip())  # noqa: S307
