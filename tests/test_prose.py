"""companion.display.prose: ordinals for glued numbers ("the 61st epoch", never "61th")."""

from __future__ import annotations

import numpy as np
import pytest

from companion.display.prose import ordinal


@pytest.mark.parametrize(("n", "expected"), [
    (1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (10, "10th"), (11, "11th"), (12, "12th"),
    (13, "13th"), (14, "14th"), (21, "21st"), (52, "52nd"), (61, "61st"), (63, "63rd"),
    (100, "100th"), (101, "101st"), (111, "111th"), (112, "112th"), (1013, "1013th"),
])
def test_ordinal_suffixes(n: int, expected: str) -> None:
    assert ordinal(n) == expected


def test_numpy_integers_are_accepted() -> None:
    assert ordinal(np.int64(61)) == "61st"


@pytest.mark.parametrize("bad", [0, -3])
def test_non_positive_is_a_value_error(bad: int) -> None:
    with pytest.raises(ValueError, match=rf"n must be a positive integer; got {bad}"):
        ordinal(bad)


@pytest.mark.parametrize("bad", [1.5, "61", True, None])
def test_non_integer_is_a_type_error(bad: object) -> None:
    with pytest.raises(TypeError, match="n must be a positive integer"):
        ordinal(bad)
