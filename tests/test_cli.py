"""The command line: plan output, the --all table, totals, help, and argument errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from companion.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def field(out: str, name: str) -> str:
    for line in out.splitlines():
        if line.startswith(name + "  "):
            return line[len(name) :].strip()
    raise AssertionError(f"no line {name!r} in\n{out}")


def test_plan_keep(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "plan", "--samples", "1050", "--batch-size", "100",
                         "--remainder", "keep")
    assert code == 0 and err == ""
    assert field(out, "steps per epoch") == "11"
    assert field(out, "batch sizes") == "10 × 100 + 1 × 50"
    assert field(out, "samples per epoch") == "1050"
    assert field(out, "not seen in epoch 0") == "0"
    assert field(out, "seen twice") == "0"


@pytest.mark.parametrize(
    ("policy", "steps", "sizes", "samples", "not_seen", "twice"),
    [
        ("drop", "10", "10 × 100", "1000", "50", "0"),
        ("fill", "11", "11 × 100", "1100", "0", "50"),
        ("even", "11", "5 × 96 + 6 × 95", "1050", "0", "0"),
        ("carry", "10 in epoch 0 (10 or 11 later, as leftovers carry over)", "10 × 100", "1000",
         "50 (carried into epoch 1)", "0"),
    ],
)
def test_plan_policies(capsys: pytest.CaptureFixture[str], policy: str, steps: str, sizes: str,
                       samples: str, not_seen: str, twice: str) -> None:
    code, out, _ = run(capsys, "plan", "--samples", "1050", "--batch-size", "100",
                       "--remainder", policy, "--shuffle", "--seed", "3")
    assert code == 0
    assert field(out, "steps per epoch") == steps
    assert field(out, "batch sizes") == sizes
    assert field(out, "samples per epoch") == samples
    assert field(out, "not seen in epoch 0") == not_seen
    assert field(out, "seen twice") == twice
    assert "shuffle=True, seed=3" in field(out, "plan")


def test_plan_epochs_totals(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", "--samples", "1050", "--batch-size", "100",
                       "--remainder", "carry", "--epochs", "3")
    assert code == 0
    assert field(out, "total steps") == "31"
    assert field(out, "samples seen") == "3100"


def test_default_batch_size(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "plan", "--samples", "100")
    assert field(out, "batch sizes") == "3 × 32 + 1 × 4"


def test_all_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", "--samples", "1050", "--batch-size", "100", "--all",
                       "--epochs", "3")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "N = 1050 samples, B = 100, 3 epochs"
    rows = {line.split()[0]: line for line in lines[2:7]}
    assert list(rows) == ["keep", "drop", "fill", "carry", "even"]
    assert rows["keep"].split() == ["keep", "11", "10", "×", "100", "+", "1", "×", "50",
                                    "1050", "0", "0", "33", "3150"]
    assert rows["drop"].split()[-4:] == ["50", "0", "30", "3000"]
    assert rows["fill"].split()[-4:] == ["0", "50", "33", "3300"]
    assert rows["carry"].split()[-4:] == ["50", "0", "31", "3100"]
    # aligned: every row's last column ends at the same place
    assert len({len(line) for line in lines[1:7]}) == 1


def test_all_table_when_drop_is_impossible(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", "--samples", "10", "--batch-size", "20", "--all")
    assert code == 0
    drop = next(line for line in out.splitlines() if line.startswith("drop"))
    assert "batch_size > n_samples" in drop


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["plan", "--samples", "0"], "argument --samples: must be a positive int; got '0'"),
        (["plan", "--samples", "-5"], "argument --samples: must be a positive int; got '-5'"),
        (["plan", "--samples", "ten"], "argument --samples: must be a positive int; got 'ten'"),
        (["plan", "--samples", "10", "--batch-size", "2.5"],
         "argument --batch-size: must be a positive int; got '2.5'"),
        (["plan", "--samples", "10", "--remainder", "last"],
         "argument --remainder: invalid choice: 'last'"),
        (["plan", "--samples", "10", "--epochs", "0"], "argument --epochs: must be a positive int"),
        (["plan", "--samples", "10", "--seed", "-1"],
         "argument --seed: must be a non-negative int; got '-1'"),
        (["plan", "--samples", "10", "--batch-size", "20", "--remainder", "drop"],
         "argument --batch-size: batch_size=20 is larger than n_samples=10"),
        (["plan"], "the following arguments are required: --samples"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str],
                              message: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    error_lines = [line for line in err.splitlines() if "error:" in line]
    assert len(error_lines) == 1 and message in error_lines[0]


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "plan" in out and "python -m companion plan --samples 1050" in out
    code, out, _ = run(capsys, "plan", "--help")
    assert code == 0
    for word in ("--samples", "--batch-size", "--remainder", "--all", "--epochs", "--shuffle",
                 "--seed", "keep", "drop", "fill", "carry", "even"):
        assert word in out


def test_python_dash_m() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "companion", "plan", "--samples", "1050", "--batch-size", "100"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "10 × 100 + 1 × 50" in result.stdout
    bad = subprocess.run([sys.executable, "-m", "companion", "plan", "--samples", "0"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "must be a positive int" in bad.stderr


@pytest.mark.parametrize(
    ("argv", "fields"),
    [
        (["--samples", "10", "--batch-size", "3", "--epochs", "1000000000"],
         {"total steps": "4000000000", "samples seen": "10000000000"}),
        (["--samples", "1000000000", "--batch-size", "1"],
         {"steps per epoch": "1000000000", "batch sizes": "1000000000 × 1"}),
        (["--samples", "99999999999999999999"],
         {"steps per epoch": "3125000000000000000",
          "batch sizes": "3124999999999999999 × 32 + 1 × 31"}),
        (["--samples", "1050", "--batch-size", "100", "--remainder", "carry", "--epochs", "3",
          "--shuffle"],
         {"not seen in epoch 0": "50 (carried into epoch 1)", "total steps": "31",
          "samples seen": "3100"}),
    ],
)
def test_huge_inputs_are_answered_from_closed_forms(capsys: pytest.CaptureFixture[str],
                                                    argv: list[str], fields: dict) -> None:
    code, out, err = run(capsys, "plan", *argv)
    assert code == 0 and err == ""
    for name, value in fields.items():
        assert field(out, name) == value


def test_a_number_too_long_for_int_names_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "plan", "--samples", "9" * 5000)
    assert code == 2 and out == ""
    assert "argument --samples: must be a positive int; got '99999" in err and len(err) < 600
