"""Hostile submissions: one grading run where students attack the grader, and honest ones beside.

A tiny two-question master (built here, released with otter) keeps each submission cheap, so
the whole class of attackers is graded in one :func:`grade` call with two jobs. Every attack
embeds the real paths of the release, the master, the grades and this test's folder, as a
student who read the grader's command line would. Each test asserts one outcome, and
:func:`test_honest_classmates_keep_their_grades` asserts the honest rows of the same run.

As a control that the attacks are real, the solution-reading attack is also graded with
``unsafe_no_sandbox=True``: there it reads the master and earns full marks.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import os
import shutil
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from batchwise_instructor import grade, release_all
from batchwise_instructor.cli import main
from batchwise_instructor.masters import (
    cell_source,
    code_cell,
    load_notebook,
    markdown_cell,
    new_notebook,
    raw_cell,
)
from batchwise_instructor.release import autograder_zip, student_notebook
from batchwise_instructor.sandbox import SandboxUnavailable

pytestmark = [pytest.mark.assignments, pytest.mark.xdist_group("hostile")]

TIMEOUT = 90.0
DAEMON_NAME = "bwdaemon"
CONFIG = """# ASSIGNMENT CONFIG
name: tiny
init_cell: false
check_all_cell: false
export_cell: false
run_tests: false
solutions_pdf: false
template_pdf: false
generate:
  pdf: false
  show_hidden: false
tests:
  files: false
  ok_format: true"""
WHOLE = "type({v}) in (int, np.int64, np.int32)"


def tiny_master() -> dict[str, Any]:
    """Two questions: q1 (2 points) a number, q2 (3 points) a function; public + hidden tests."""
    return new_notebook([
        raw_cell(CONFIG),
        markdown_cell("# Tiny assignment\n\nCounting batches."),
        code_cell("import math\n\nfrom companion import BatchPlan"),
        raw_cell("# BEGIN QUESTION\nname: q1\npoints: 2"),
        markdown_cell("How many batches of 100 in 1050 samples, keeping the last one?"),
        raw_cell("# BEGIN SOLUTION"),
        code_cell("steps = math.ceil(1050 / 100)  # SOLUTION"),
        raw_cell("# END SOLUTION"),
        raw_cell("# BEGIN TESTS"),
        code_cell(f"import numpy as np\n\nassert {WHOLE.format(v='steps')}, 'an int'"),
        code_cell("# HIDDEN\nimport math\n\nimport numpy as np\n\nfrom companion import BatchPlan\n\n"
                  f"assert {WHOLE.format(v='steps')}, 'an int'\n"
                  "assert steps == BatchPlan(1050, 100, shuffle=False).steps_per_epoch\n"
                  "assert steps == math.ceil(1050 / 100)"),
        raw_cell("# END TESTS"),
        raw_cell("# END QUESTION"),
        raw_cell("# BEGIN QUESTION\nname: q2\npoints: 3"),
        markdown_cell("Write `last_batch(n, b)`: the size of the last batch under *keep*."),
        raw_cell("# BEGIN SOLUTION"),
        code_cell('def last_batch(n, b):\n    """The last batch\'s size."""\n'
                  "    # BEGIN SOLUTION\n    return n - (math.ceil(n / b) - 1) * b\n"
                  "    # END SOLUTION"),
        raw_cell("# END SOLUTION"),
        raw_cell("# BEGIN TESTS"),
        code_cell("import numpy as np\n\ngot = last_batch(1050, 100)\n"
                  f"assert {WHOLE.format(v='got')}, 'an int'\nassert got == 50"),
        code_cell("# HIDDEN\nimport numpy as np\n\nfrom companion import BatchPlan\n\n"
                  "for n in (1, 7, 64, 1000):\n    for b in (1, 3, 32):\n"
                  "        got = last_batch(n, b)\n"
                  f"        assert {WHOLE.format(v='got')}, 'an int'\n"
                  "        assert got == len(BatchPlan(n, b, shuffle=False).epoch(0)[-1])"),
        raw_cell("# END TESTS"),
        raw_cell("# END QUESTION"),
    ])


# --------------------------------------------------------------------------------------------
# The attacks. Each is a code cell; {names} are filled with real paths (repr) of this run.
# --------------------------------------------------------------------------------------------

TAMPER = """
import glob, os
targets = set(glob.glob({release} + "/**/*", recursive=True))
for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
    try:
        args = open(cmdline, "rb").read().decode(errors="replace").split("\\0")
    except OSError:
        continue
    targets.update(a for a in args if a.endswith((".zip", ".json", ".py")))
targets.update(glob.glob("/tmp/**/*.zip", recursive=True))
for path in targets:
    try:
        with open(path, "r+b") as f:
            f.write(b"PK tampered")
    except OSError:
        pass
"""

READ_SECRETS = """
import glob, json, zipfile
paths = [{master}, {release} + "/tiny/autograder/tiny.ipynb"]
paths += glob.glob("/work/**/*.ipynb", recursive=True)[:300]
for path in paths:
    try:
        nb = json.load(open(path))
    except Exception:
        continue
    for cell in nb.get("cells", []):
        src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        if src.startswith("steps =") or src.startswith("def last_batch"):
            exec(src, globals())
try:
    hidden = zipfile.ZipFile({zip}).read("tests/q2.py").decode()
    exec("def last_batch(n, b):\\n    return n - (-(-n // b) - 1) * b", globals())
except Exception:
    hidden = None
"""

DAEMON = """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        open("/proc/self/comm", "w").write({daemon_name})
        fake = "submission,question,score,max_score,status\\ndaemon.ipynb,q1,2,2,passed\\n"
        for _ in range(300):
            time.sleep(0.1)
            for path in ({grades}, {marker}):
                try:
                    with open(path, "w") as f:
                        f.write(fake)
                except OSError:
                    pass
        os._exit(0)
    os._exit(0)
"""

KILL_GRADER = """
import os, signal
me = os.getpid()
for pid in sorted((int(p) for p in os.listdir("/proc") if p.isdigit()), reverse=True):
    if pid != me:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
"""

FORK_BOMB = """
import os, time
if os.fork() == 0:
    os.setsid()
    while True:
        try:
            os.fork()
        except OSError:
            time.sleep(0.5)
"""

MEMORY_HOG = """
import numpy as np
try:
    hog = np.ones(6 * 2**30 // 8)  # 6 GiB, touched
except MemoryError:
    hog = None
"""

HUGE_OUTPUT = """
import os, sys
chunk = "x" * 2**20
for _ in range(1024):  # 1 GiB through the kernel's stdout
    sys.stdout.write(chunk)
sys.stdout.flush()
for fd in (1, 2):  # and straight into the kernel's log
    try:
        for _ in range(1024):
            os.write(fd, chunk.encode())
    except OSError:
        pass
try:  # and into the log of the sandbox itself, through the driver's stderr
    with open(f"/proc/{{os.getppid()}}/fd/2", "wb") as f:
        for _ in range(1024):
            f.write(chunk.encode())
except OSError:
    pass
"""

ALWAYS_EQUAL = """
class Eq(int):
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __hash__ = int.__hash__

steps = Eq(11)
def last_batch(n, b):
    return Eq(0)
"""

PATCH_OTTER = """
import doctest, json
import otter.test_files.abstract_test as abstract_test
import otter.test_files.ok_test as ok_test
ok_test.run_doctest = lambda *args, **kwargs: (True, "")
abstract_test.TestFile.score = property(lambda self: 99)
abstract_test.TestFile.passed_all = property(lambda self: True)
doctest.DocTestRunner.run = lambda self, *args, **kwargs: doctest.TestResults(0, 0)
for name in ("results.json", "/tmp/results.json"):
    with open(name, "w") as f:
        json.dump({{"tests": [{{"name": "q1", "score": 2, "max_score": 2}}]}}, f)
steps = 0
"""

PATCH_PACKAGE = """
import builtins, math
import companion
import companion.core.batching as batching

class FakePlan:
    def __init__(self, *args, **kwargs):
        self.steps_per_epoch = 0
    def epoch(self, e):
        return [[]]

real_len = builtins.len
math.ceil = lambda x: 0
# Zero for the arrays the tests measure; a len that is 0 for everything would wedge the kernel.
builtins.len = lambda x: 0 if type(x).__name__ == "ndarray" else real_len(x)
companion.BatchPlan = batching.BatchPlan = FakePlan
steps = 0
def last_batch(n, b):
    return 0
"""

EXIT_AT_END = "import os\nos._exit(0)"

#: name -> (base notebook, attack cell or None, where: "after-imports" or "end", expected
#: total score, why).
ATTACKS: dict[str, tuple[str, str | None, str, float, str]] = {
    "tamper_zip.ipynb": ("blank", TAMPER, "end", 0, "rewrites every zip and test it can find"),
    "read_secrets.ipynb": ("blank", READ_SECRETS, "end", 0,
                           "reads the master, the solution and the hidden tests"),
    "daemon.ipynb": ("blank", DAEMON, "end", 0, "a setsid daemon that rewrites grades later"),
    "kill_grader.ipynb": ("blank", KILL_GRADER, "end", 0, "SIGKILLs every process it sees"),
    "fork_bomb.ipynb": ("solution", FORK_BOMB, "after-imports", 5,
                        "forks until the process limit, then holds every slot"),
    "memory_hog.ipynb": ("solution", MEMORY_HOG, "after-imports", 5, "touches 6 GiB"),
    "huge_output.ipynb": ("solution", HUGE_OUTPUT, "after-imports", 5,
                          "prints 1 GiB, and writes 1 GiB to three logs"),
    "always_equal.ipynb": ("blank", ALWAYS_EQUAL, "end", 0, "an int whose == is always true"),
    # steps = 0 is a plain int: the public type test's 1 point, as unpatched; nothing more.
    "patch_otter.ipynb": ("blank", PATCH_OTTER, "end", 1,
                          "patches otter's runner and plants results files"),
    "patch_package.ipynb": ("blank", PATCH_PACKAGE, "end", 1,
                            "patches companion.BatchPlan, math.ceil and builtins.len"),
    "exit_at_end.ipynb": ("solution", EXIT_AT_END, "end", 5, "os._exit(0) after the answers"),
}
HONEST = {
    "honest_solution.ipynb": ("solution", 5),
    "honest_blank.ipynb": ("blank", 0),
    "honest_partial.ipynb": ("partial", 2),
    "zz_honest_after_everyone.ipynb": ("solution", 5),
    ".22_dotfile.ipynb": ("solution", 5),
    "23_UPPER.IPYNB": ("solution", 5),
    "stripped_metadata.ipynb": ("stripped", 5),
    "name with $(touch pwned); rm -rf ~ `id` & |.ipynb": ("solution", 5),
    "élève_ß.ipynb": ("solution", 5),
}
MALFORMED = {
    "not_json.ipynb": (b"hello, I am not a notebook", "invalid-notebook: not valid JSON"),
    "binary.ipynb": (b"\xff\xfe\x00\x01garbage", "invalid-notebook: not UTF-8 text"),
    "nbformat3.ipynb": (b'{"cells": [], "nbformat": 3}', "invalid-notebook: nbformat must be 4"),
    "cells_not_a_list.ipynb": (b'{"cells": "x", "nbformat": 4}',
                               "invalid-notebook: JSON without a list of cells"),
    "notes.txt": (b"my answers are in my head", "skipped: not an .ipynb file"),
}


def _insert(nb: dict[str, Any], code: str, where: str) -> dict[str, Any]:
    nb = copy.deepcopy(nb)
    cell = code_cell(textwrap.dedent(code).strip() + "\n")
    if where == "end":
        nb["cells"].append(cell)
    else:
        index = next(i for i, c in enumerate(nb["cells"])
                     if "from companion import BatchPlan" in cell_source(c))
        nb["cells"].insert(index + 1, cell)
    return nb


def _write(nb: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_csv(path: Path) -> dict[str, dict[str, dict[str, str]]]:
    out: dict[str, dict[str, dict[str, str]]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out.setdefault(row["submission"], {})[row["question"]] = row
    return out


def _daemons() -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["name"]) if p.info["name"] == DAEMON_NAME]


def _produce(root: Path) -> dict[str, Any]:
    masters, release, subs, grades = (root / n for n in ("masters", "release", "subs", "grades"))
    for folder in (masters, subs):
        folder.mkdir(parents=True)
    _write(tiny_master(), masters / "tiny.ipynb")
    release_all(masters, release, run_tests=False, jobs=1)
    zip_path = autograder_zip(release, "tiny")
    solution = load_notebook(release / "tiny" / "autograder" / "tiny.ipynb")
    blank = load_notebook(student_notebook(release, "tiny"))
    partial = copy.deepcopy(solution)
    for cell in partial["cells"]:
        if cell_source(cell).startswith("def last_batch"):
            cell["source"] = "def last_batch(n, b):\n    return b\n"
    stripped = copy.deepcopy(solution)
    stripped["metadata"] = {}
    for cell in stripped["cells"]:
        cell.pop("id", None)
    bases = {"solution": solution, "blank": blank, "partial": partial, "stripped": stripped}
    paths = {"release": str(release), "master": str(masters / "tiny.ipynb"),
             "zip": str(zip_path), "grades": str(grades / "grades.csv"),
             "marker": str(root / "pwned-by-daemon"), "daemon_name": DAEMON_NAME}
    quoted = {k: repr(v) for k, v in paths.items()}
    for name, (base, attack, where, _, _) in ATTACKS.items():
        _write(_insert(bases[base], attack.format(**quoted), where) if attack else bases[base],
               subs / name)
    for name, (base, _) in HONEST.items():
        _write(bases[base], subs / name)
    other = copy.deepcopy(solution)
    other["metadata"].setdefault("otter", {})["assignment_name"] = "counting"
    _write(other, subs / "meant_for_counting.ipynb")
    for name, (data, _) in MALFORMED.items():
        (subs / name).write_bytes(data)
    (subs / "a_folder.ipynb").mkdir()
    os.symlink(masters / "tiny.ipynb", subs / "link_to_the_master.ipynb")
    zip_before = _sha(zip_path)

    start = time.perf_counter()
    run = grade(subs, "tiny", release_dir=release, out_dir=grades, jobs=2, timeout=TIMEOUT)
    seconds = time.perf_counter() - start
    csv_after_run = _sha(run.csv_path)
    time.sleep(4.0)  # the daemon would have rewritten grades.csv many times by now

    # Control: the same solution-reading attack without the sandbox reads the master.
    control_subs = root / "control_subs"
    control_subs.mkdir()
    shutil.copy(subs / "read_secrets.ipynb", control_subs / "read_secrets.ipynb")
    grade(control_subs, "tiny", release_dir=release, out_dir=root / "control_grades", jobs=1,
          timeout=TIMEOUT, unsafe_no_sandbox=True)
    return {
        "seconds": seconds,
        "zip_before": zip_before,
        "zip_after": _sha(zip_path),
        "csv_after_run": csv_after_run,
        "csv_later": _sha(run.csv_path),
        "marker_exists": (root / "pwned-by-daemon").exists(),
        "daemons": len(_daemons()),
        "statuses": {r.submission: r.status for r in run.results},
        "pwned_files": [str(p) for p in root.rglob("pwned")],
    }


@pytest.fixture(scope="session")
def hostile(
    tmp_path_factory: pytest.TempPathFactory, produce_once: Callable[..., tuple[Path, Any]]
) -> tuple[Path, dict[str, Any]]:
    """The run's folder and facts measured around it."""
    root, facts = produce_once(tmp_path_factory, "hostile-artifacts", _produce, "facts.json")
    return root, facts  # type: ignore[return-value]


def _totals(root: Path) -> dict[str, float]:
    rows = _read_csv(root / "grades" / "grades.csv")
    return {name: sum(float(r["score"]) for r in qs.values()) for name, qs in rows.items()}


def test_every_entry_of_the_folder_has_a_row_per_question(hostile) -> None:
    root, _ = hostile
    rows = _read_csv(root / "grades" / "grades.csv")
    expected = {*ATTACKS, *HONEST, *MALFORMED, "a_folder.ipynb", "link_to_the_master.ipynb",
                "meant_for_counting.ipynb"}
    assert set(rows) == expected
    assert all(sorted(qs) == ["q1", "q2"] for qs in rows.values())
    assert all({r["max_score"] for r in qs.values()} <= {"2", "3"} for qs in rows.values())


def test_honest_classmates_keep_their_grades(hostile) -> None:
    root, facts = hostile
    totals = _totals(root)
    assert {name: totals[name] for name in HONEST} == {n: float(s) for n, (_, s) in HONEST.items()}
    for name in HONEST:
        assert facts["statuses"][name] == "graded", (name, facts["statuses"][name])


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_scores_what_its_own_answers_earn(hostile, name: str) -> None:
    root, facts = hostile
    expected = ATTACKS[name][3]
    assert _totals(root)[name] == expected, (ATTACKS[name][4], facts["statuses"][name])


def test_the_autograder_zip_is_untouched(hostile) -> None:
    _, facts = hostile
    assert facts["zip_after"] == facts["zip_before"]


def test_a_daemon_cannot_outlive_grading_or_rewrite_grades(hostile) -> None:
    _, facts = hostile
    assert facts["daemons"] == 0
    assert not facts["marker_exists"], "the daemon wrote outside its sandbox"
    assert facts["csv_later"] == facts["csv_after_run"], "grades.csv changed after grade()"


def test_killing_everything_in_sight_loses_only_the_killers_grade(hostile) -> None:
    _, facts = hostile
    assert facts["statuses"]["kill_grader.ipynb"] == "error: the sandbox closed its output"


def test_memory_hog_fork_bomb_and_huge_output_are_contained(hostile) -> None:
    root, facts = hostile
    for name in ("memory_hog.ipynb", "fork_bomb.ipynb", "huge_output.ipynb"):
        assert facts["statuses"][name] == "graded", (name, facts["statuses"][name])
    assert (root / "grades" / "huge_output.log").stat().st_size <= 8192


def test_exit_at_the_end_keeps_the_marks_and_says_why(hostile) -> None:
    _, facts = hostile
    status = facts["statuses"]["exit_at_end.ipynb"]
    assert status.startswith("graded: the kernel died in code cell ")
    assert status.endswith("; graded on the cells before it")


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_entries_get_a_status_that_says_why(hostile, name: str) -> None:
    root, facts = hostile
    assert facts["statuses"][name].startswith(MALFORMED[name][1]), facts["statuses"][name]
    assert _totals(root)[name] == 0


def test_folders_and_links_are_reported_not_followed(hostile) -> None:
    _, facts = hostile
    assert facts["statuses"]["a_folder.ipynb"] == "skipped: a folder, not a notebook file"
    assert facts["statuses"]["link_to_the_master.ipynb"] == (
        "skipped: a symbolic link, not a notebook file")


def test_a_notebook_of_another_assignment_is_refused(hostile) -> None:
    root, facts = hostile
    status = facts["statuses"]["meant_for_counting.ipynb"]
    assert status == "wrong-assignment: the notebook is for 'counting'"
    assert _totals(root)["meant_for_counting.ipynb"] == 0


def test_shell_metacharacters_in_names_are_only_names(hostile) -> None:
    _, facts = hostile
    assert facts["pwned_files"] == []


def test_the_same_attack_without_sandbox_reads_the_solution(hostile) -> None:
    """Control: the attack is real; the sandbox, not luck, is what stops it."""
    root, _ = hostile
    rows = _read_csv(root / "control_grades" / "grades.csv")["read_secrets.ipynb"]
    assert sum(float(r["score"]) for r in rows.values()) == 5


def test_grade_refuses_without_bubblewrap(monkeypatch, tmp_path: Path, capsys) -> None:
    release = tmp_path / "release"
    zip_path = autograder_zip(release, "tiny")
    zip_path.parent.mkdir(parents=True)
    zip_path.write_bytes(b"")
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "a.ipynb").write_text("{}", encoding="utf-8")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(SandboxUnavailable, match="bubblewrap \\(bwrap\\) is not installed"):
        grade(tmp_path / "subs", "tiny", release_dir=release, out_dir=tmp_path / "out")
    code = main(["grade", str(tmp_path / "subs"), "--assignment", "tiny", "--release",
                 str(release), "--out", str(tmp_path / "out")])
    assert code == 3
    assert "--unsafe-no-sandbox" in capsys.readouterr().err
    assert not (tmp_path / "out" / "grades.csv").exists()


PROBE = r"""
import json, os, resource, socket
out = {}
out["limits"] = {name: resource.getrlimit(getattr(resource, name))[0]
                 for name in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NPROC")}
try:
    with open("/tmp/big", "wb") as f:
        f.write(b"x" * (65 * 2**20))
    out["big_file"] = "written"
except OSError as exc:
    out["big_file"] = exc.errno
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    out["network"] = "reached"
except OSError:
    out["network"] = "none"
out["uid"] = os.getuid()
out["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
out["repo"] = sorted(os.listdir(REPO))
out["cwd"] = sorted(os.listdir("."))
try:
    open(REPO + "/companion/__init__.py", "a").close()
    out["package"] = "writable"
except OSError:
    out["package"] = "read-only"
print(json.dumps(out))
"""


def test_the_sandbox_has_no_network_no_repository_and_limits(tmp_path: Path) -> None:
    import subprocess
    import sys

    from batchwise_instructor.sandbox import Limits, bwrap_command, claim_uid, preexec

    repo = str(Path(__file__).resolve().parents[1])
    (tmp_path / "submission.ipynb").write_text("{}", encoding="utf-8")
    with claim_uid() as uid:
        if uid is not None:
            os.chown(tmp_path, uid, uid)
        limits = Limits()
        command = bwrap_command(tmp_path, [sys.executable, "-c", PROBE.replace("REPO", repr(repo))],
                                limits=limits, uid=uid)
        done = subprocess.run(command, capture_output=True, text=True, timeout=60,
                              preexec_fn=preexec(limits))
    facts = json.loads(done.stdout)
    assert facts["limits"] == {"RLIMIT_AS": 4 * 2**30, "RLIMIT_CPU": limits.cpu_seconds,
                               "RLIMIT_FSIZE": 64 * 2**20, "RLIMIT_NPROC": 128}
    assert facts["big_file"] == 27, "EFBIG: a file may not grow past Limits.file_size"
    assert facts["network"] == "none"
    assert facts["repo"] == [".venv", "batchwise_instructor", "companion"], "no masters"
    assert facts["cwd"] == ["submission.ipynb"]
    assert facts["package"] == "read-only"
    assert max(facts["pids"]) < 10, "its own PID namespace"
    if os.geteuid() == 0:
        assert facts["uid"] == uid != 0
