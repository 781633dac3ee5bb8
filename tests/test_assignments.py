"""The graded assignments: masters, otter release, grading at class scale, and the leak scan.

The expensive part (``otter assign`` of every master, then sandboxed grading of a dozen
submissions) happens once per test session in :func:`artifacts`, in parallel, and every test
reads its results from disk. The attacks on the grader are in test_hostile_submissions.py. Under pytest-xdist the first worker to get there does the work
while the other waits on a file lock and reuses it.

Executing the masters top to bottom is nbval's job (``make test`` runs it on
``notebooks/``); here grading executes the solution notebooks again, each in its sandbox.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from batchwise_instructor import (
    check_leaks,
    extract_secrets,
    find_masters,
    grade,
    points_table,
    read_master,
    release_all,
    validate_markers,
)
from batchwise_instructor._proc import otter_command, run_logged
from batchwise_instructor.cli import main
from batchwise_instructor.masters import cell_source, load_notebook
from batchwise_instructor.release import ReleaseError, autograder_zip, student_notebook

# One worker does the whole release-and-grade session; with `pytest -n 2 --dist loadgroup` the
# other worker keeps running the rest of the suite instead of waiting for it.
pytestmark = [pytest.mark.assignments, pytest.mark.xdist_group("assignments")]

ROOT = Path(__file__).resolve().parents[1]
MASTERS = ROOT / "notebooks" / "assignments"
FIXTURES = ROOT / "tests" / "fixtures" / "assignments"
NAMES = ("counting", "critical_batch", "global_batch", "iterator", "lr_batch", "time_memory",
         "variance")
BROKEN = json.loads((FIXTURES / "submissions.json").read_text(encoding="utf-8"))
BROKEN.pop("_about")

# A normal submission takes about 10 s here (the sandbox's kernel, the notebook, then the
# tests outside it) and several times that on a loaded machine.
# So the endless loop is graded in a run of its own with a short timeout, and every other run
# gets a timeout so long that hitting it would be a false failure, not a finding.
LOOP_TIMEOUT = 20.0
SAFE_TIMEOUT = 300.0


# --------------------------------------------------------------------------------------------
# Building submissions
# --------------------------------------------------------------------------------------------


def _new_code_cell(source: str) -> dict[str, Any]:
    return {"cell_type": "code", "metadata": {}, "source": source, "outputs": [],
            "execution_count": None}


def build_submission(base: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """A copy of notebook ``base`` edited as a fixture in submissions.json describes."""
    nb = copy.deepcopy(base)
    for old, new in spec["replace"]:
        hits = [c for c in nb["cells"] if old in cell_source(c)]
        assert hits, f"fixture anchor {old!r} not found"
        hits[0]["source"] = cell_source(hits[0]).replace(old, new)
    for anchor, code in spec["insert_after"]:
        index = next(i for i, c in enumerate(nb["cells"]) if anchor in cell_source(c))
        nb["cells"].insert(index + 1, _new_code_cell(code))
    return nb


#: Appended to a solution: every answer becomes an int whose == is always true, and every
#: function returns one. The tests must give it 0 on every question (types before values).
ALWAYS_EQUAL = """
import types as _types

class _Eq(int):
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __hash__ = int.__hash__

for _name, _value in list(globals().items()):
    if _name.startswith("_") or isinstance(_value, (_types.ModuleType, type)):
        continue
    if _name in ("In", "Out", "get_ipython", "exit", "quit", "grader"):
        continue
    globals()[_name] = (lambda *a, **k: _Eq(1)) if callable(_value) else _Eq(1)
"""


def _always_equal(solution: dict[str, Any]) -> dict[str, Any]:
    nb = copy.deepcopy(solution)
    nb["cells"].append(_new_code_cell(ALWAYS_EQUAL))
    return nb


def _write(nb: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# --------------------------------------------------------------------------------------------
# The session's release and grading runs
# --------------------------------------------------------------------------------------------


def _produce(root: Path) -> dict[str, float]:
    """Release, otter-assign the leaky fixture, build submissions, grade; return timings."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    release_dir = root / "release"
    leaky_dir = root / "leaky_release" / "leaky_master"
    leaky_dir.mkdir(parents=True)
    with ThreadPoolExecutor(max_workers=2) as pool:
        releasing = pool.submit(release_all, MASTERS, release_dir, run_tests=False, jobs=2)
        # otter assign straight on the malformed master: otter accepts it without complaint.
        leaky = pool.submit(
            run_logged,
            otter_command("assign", "--no-run-tests", "--no-pdfs",
                          str(FIXTURES / "leaky_master.ipynb"), str(leaky_dir)),
            timeout=SAFE_TIMEOUT,
        )
        releasing.result()
        (root / "leaky_assign.json").write_text(
            json.dumps({"returncode": leaky.result().returncode,
                        "output": leaky.result().output[-4000:]}),
            encoding="utf-8",
        )
    timings["release (4 masters + 1 fixture)"] = time.perf_counter() - start

    # One run per assignment with the solution and the untouched student notebook; the
    # counting run also gets the submissions that raise, clobber names or are not notebooks.
    # The endless loop gets a run of its own with a short timeout.
    runs: list[tuple[str, str, Path, float]] = []
    loop_dir = root / "submissions" / "counting-loop"
    loop_dir.mkdir(parents=True)
    runs.append(("counting-loop", "counting", loop_dir, LOOP_TIMEOUT))
    for name in NAMES:
        subs = root / "submissions" / name
        subs.mkdir(parents=True)
        solution = load_notebook(release_dir / name / "autograder" / f"{name}.ipynb")
        _write(solution, subs / "solution.ipynb")
        shutil.copyfile(student_notebook(release_dir, name), subs / "blank.ipynb")
        _write(_always_equal(solution), subs / "always_equal.ipynb")
        if name == "counting":
            for file_name, spec in BROKEN.items():
                target = loop_dir if spec["status"] == "timeout" else subs
                _write(build_submission(solution, spec), target / file_name)
            text = (subs / "blank.ipynb").read_text(encoding="utf-8")
            (subs / "truncated.ipynb").write_text(text[: len(text) // 3], encoding="utf-8")
        runs.append((name, name, subs, SAFE_TIMEOUT))

    def run(label: str, name: str, subs: Path, timeout: float) -> tuple[str, float]:
        t0 = time.perf_counter()
        grade(subs, name, release_dir=release_dir, out_dir=root / "grades" / label, jobs=2,
              timeout=timeout)
        return f"grade {label} ({len(list(subs.glob('*.ipynb')))} submissions)", (
            time.perf_counter() - t0
        )

    start = time.perf_counter()
    # Three runs at a time on two cores: the endless loop mostly sleeps.
    with ThreadPoolExecutor(max_workers=3) as pool:
        timings.update(pool.map(lambda r: run(*r), runs))
    timings["grading, wall clock"] = time.perf_counter() - start
    return timings


@pytest.fixture(scope="session")
def artifacts(
    tmp_path_factory: pytest.TempPathFactory, produce_once: Callable[..., tuple[Path, object]]
) -> Path:
    """A folder with ``release/``, ``leaky_release/``, ``grades/<name>/`` and timings."""
    root, _ = produce_once(tmp_path_factory, "assignments-artifacts", _produce, "timings.json")
    return root


def _grades(artifacts: Path, name: str) -> dict[str, dict[str, dict[str, str]]]:
    out: dict[str, dict[str, dict[str, str]]] = {}
    labels = [name, f"{name}-loop"] if name == "counting" else [name]
    for label in labels:
        for row in _read_csv(artifacts / "grades" / label / "grades.csv"):
            out.setdefault(row["submission"], {})[row["question"]] = row
    return out


# --------------------------------------------------------------------------------------------
# The masters
# --------------------------------------------------------------------------------------------


def test_there_is_one_master_per_theme() -> None:
    assert tuple(p.stem for p in find_masters(MASTERS)) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_master_questions_have_points_public_and_hidden_tests(name: str) -> None:
    master = read_master(MASTERS / f"{name}.ipynb")
    assert master.title.startswith("Assignment ")
    assert len(master.questions) >= 3
    for q in master.questions:
        assert q.points > 0, q
        assert q.public_tests >= 1 and q.hidden_tests >= 1, q
    assert master.total_points == 10


@pytest.mark.parametrize("name", NAMES)
def test_master_markers_are_valid(name: str) -> None:
    assert validate_markers(load_notebook(MASTERS / f"{name}.ipynb"), name) == []


@pytest.mark.parametrize("name", NAMES)
def test_master_config_names_the_assignment_and_stays_offline(name: str) -> None:
    nb = load_notebook(MASTERS / f"{name}.ipynb")
    config = cell_source(nb["cells"][0])
    assert nb["cells"][0]["cell_type"] == "raw" and config.startswith("# ASSIGNMENT CONFIG")
    assert f"\nname: {name}\n" in config
    assert "requirements" not in config, "otter assign must not install anything"
    assert "export_cell: false" in config and "pdf: false" in config


def test_book_points_table_matches_the_masters() -> None:
    page = (ROOT / "book" / "assignments.md").read_text(encoding="utf-8")
    found = re.search(r"% points-table:start\n(.*?)\n% points-table:end", page, re.S)
    assert found, "book/assignments.md lost its points-table markers"
    masters = sorted((read_master(p) for p in find_masters(MASTERS)), key=lambda m: m.title)
    assert found.group(1) == points_table(masters), (
        "points changed: paste the output of 'python -m batchwise_instructor points' "
        "into book/assignments.md"
    )
    for number, master in enumerate(masters, start=1):  # the overview table above it
        row = rf"\| {number} \| `{master.name}` \| [^|]+ \| (\d+) \| (\d+) \|"
        overview = re.search(row, page)
        assert overview, f"no overview row for {master.name}"
        assert int(overview.group(1)) == len(master.questions)
        assert int(overview.group(2)) == master.total_points


def test_book_links_every_student_notebook_on_binder() -> None:
    page = (ROOT / "book" / "assignments.md").read_text(encoding="utf-8")
    for name in NAMES:
        assert f"urlpath=lab/tree/_build/assignments/{name}/student/{name}.ipynb" in page
    # The repository is named once, in _config.yml; the page builds its links from it.
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert config["repository"]["url"] not in page, "use the {{ repository }} substitution"
    substitutions = config["parse"]["myst_substitutions"]
    assert substitutions["repository"] == config["repository"]["url"]
    assert substitutions["branch"] == config["repository"]["branch"]


def test_postbuild_releases_student_versions_only() -> None:
    script = ROOT / "binder" / "postBuild"
    assert os.access(script, os.X_OK)
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text(encoding="utf-8")
    assert "python -m batchwise_instructor release" in text
    assert "--student-only" in text


# --------------------------------------------------------------------------------------------
# Release
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_release_writes_student_notebook_and_autograder(artifacts: Path, name: str) -> None:
    release = artifacts / "release"
    master = read_master(MASTERS / f"{name}.ipynb")
    student = load_notebook(student_notebook(release, name))
    public = student["metadata"]["otter"]["tests"]
    assert sorted(public) == sorted(q.name for q in master.questions)
    for q in master.questions:
        cases = public[q.name]["suites"][0]["cases"]
        assert len(cases) == q.public_tests and not any(c["hidden"] for c in cases)
    with zipfile.ZipFile(autograder_zip(release, name)) as zf:
        tests = {n for n in zf.namelist() if n.startswith("tests/")}
        assert tests == {f"tests/{q.name}.py" for q in master.questions}
        for q in master.questions:
            assert zf.read(f"tests/{q.name}.py").decode().count("'hidden': True") == q.hidden_tests
    code = "\n".join(cell_source(c) for c in student["cells"] if c["cell_type"] == "code")
    assert "# BEGIN SOLUTION" not in code and "# SOLUTION" not in code
    assert code.count("grader.check(") == len(master.questions)


def test_release_refuses_a_master_whose_markers_would_leak(tmp_path: Path) -> None:
    masters = tmp_path / "masters"
    masters.mkdir()
    shutil.copy(FIXTURES / "leaky_master.ipynb", masters)
    with pytest.raises(ReleaseError, match="BEGN SOLUTION"):
        release_all(masters, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_release_validates_its_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="names must be among 'counting'"):
        release_all(MASTERS, tmp_path, names=["countin"])
    with pytest.raises(ValueError, match="names must name each assignment once; got 'variance'"):
        release_all(MASTERS, tmp_path, names=["variance", "counting", "variance"])
    with pytest.raises(ValueError, match="jobs must be a positive int or None; got 0"):
        release_all(MASTERS, tmp_path, jobs=0)
    with pytest.raises(TypeError, match="run_tests must be True or False"):
        release_all(MASTERS, tmp_path, run_tests="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must contain master notebooks"):
        release_all(tmp_path, tmp_path / "out")


# --------------------------------------------------------------------------------------------
# Grading
# --------------------------------------------------------------------------------------------


def test_grades_csv_has_the_promised_columns(artifacts: Path) -> None:
    with open(artifacts / "grades" / "counting" / "grades.csv", encoding="utf-8") as f:
        assert f.readline().strip() == "submission,question,score,max_score,status"


@pytest.mark.parametrize("name", NAMES)
def test_solution_gets_full_marks(artifacts: Path, name: str) -> None:
    rows = _grades(artifacts, name)["solution.ipynb"]
    master = read_master(MASTERS / f"{name}.ipynb")
    assert sorted(rows) == sorted(q.name for q in master.questions)
    for q in master.questions:
        row = rows[q.name]
        assert row["status"] == "passed", row
        assert float(row["score"]) == float(row["max_score"]) == q.points
    results = json.loads(
        (artifacts / "grades" / name / "solution.results.json").read_text(encoding="utf-8")
    )
    assert results["status"] == "graded" and results["died_in"] is None
    assert sum(q["score"] for q in results["questions"]) == master.total_points
    assert all(q["failures"] == [] for q in results["questions"])


@pytest.mark.parametrize("name", NAMES)
def test_always_equal_answers_score_zero_on_every_question(artifacts: Path, name: str) -> None:
    rows = _grades(artifacts, name)["always_equal.ipynb"]
    master = read_master(MASTERS / f"{name}.ipynb")
    assert sorted(rows) == sorted(q.name for q in master.questions)
    assert {q: float(r["score"]) for q, r in rows.items()} == {q.name: 0.0
                                                              for q in master.questions}


@pytest.mark.parametrize("name", NAMES)
def test_untouched_student_notebook_runs_and_scores_zero(artifacts: Path, name: str) -> None:
    rows = _grades(artifacts, name)["blank.ipynb"]
    master = read_master(MASTERS / f"{name}.ipynb")
    for q in master.questions:
        assert rows[q.name]["status"] == "failed", rows[q.name]  # graded, not crashed
        assert float(rows[q.name]["score"]) == 0 and float(rows[q.name]["max_score"]) == q.points
    assert (artifacts / "grades" / name / "blank.results.json").is_file()


@pytest.mark.parametrize("file_name", sorted(BROKEN))
def test_broken_submission_is_graded_or_reported(artifacts: Path, file_name: str) -> None:
    spec = BROKEN[file_name]
    rows = _grades(artifacts, "counting")[file_name]
    assert {q: float(r["score"]) for q, r in rows.items()} == spec["expected"], spec["why"]
    if spec["status"] == "timeout":
        expected_status = f"timeout: killed after {LOOP_TIMEOUT:g} s"
        assert all(r["status"] == expected_status for r in rows.values())
        stem = Path(file_name).stem
        kept = artifacts / "grades" / "counting-loop" / f"{stem}.results.json"
        assert json.loads(kept.read_text(encoding="utf-8")) == {"status": "timeout"}
    else:
        for q, r in rows.items():
            assert r["status"] == ("passed" if spec["expected"][q] > 0 else "failed"), r


def test_a_file_that_is_not_a_notebook_is_reported(artifacts: Path) -> None:
    rows = _grades(artifacts, "counting")["truncated.ipynb"]
    assert len(rows) == 4
    for r in rows.values():
        assert float(r["score"]) == 0
        assert r["status"].startswith("invalid-notebook: not valid JSON"), r


def test_grading_writes_only_the_csv_logs_and_results(artifacts: Path) -> None:
    for folder in (artifacts / "grades").iterdir():
        names = sorted(p.name for p in folder.iterdir())
        assert "grades.csv" in names
        others = [n for n in names if n != "grades.csv"]
        assert others and all(n.endswith((".log", ".results.json")) for n in others), names


def test_timeout_kills_the_whole_process_tree(tmp_path: Path) -> None:
    """What otter run does: a child that starts a 'kernel' in its own session, which hangs."""
    pid_file = tmp_path / "grandchild.pid"
    child = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'],"
        " start_new_session=True)\n"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(600)\n"
    )
    finished = run_logged([sys.executable, "-c", child], timeout=3.0)
    assert finished.timed_out and finished.returncode is None
    grandchild = int(pid_file.read_text())
    for _ in range(50):
        if not Path(f"/proc/{grandchild}").exists() or "Z" in _proc_state(grandchild):
            break
        time.sleep(0.1)
    assert not Path(f"/proc/{grandchild}").exists() or "Z" in _proc_state(grandchild)


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return "gone"


def test_grade_validates_its_arguments(artifacts: Path, tmp_path: Path) -> None:
    release = artifacts / "release"
    with pytest.raises(ValueError, match="submissions_dir must be an existing folder"):
        grade(tmp_path / "missing", "counting", release_dir=release)
    with pytest.raises(ValueError, match="must contain submissions; it is empty"):
        grade(tmp_path, "counting", release_dir=release)
    with pytest.raises(ValueError, match=r"assignment must be a released assignment \('counting'"):
        grade(tmp_path, "countin", release_dir=release)
    (tmp_path / "a.ipynb").write_text("{}", encoding="utf-8")
    with pytest.raises(ValueError, match="timeout must be a finite real number > 0; got -1.0"):
        grade(tmp_path, "counting", release_dir=release, timeout=-1)
    with pytest.raises(TypeError, match="jobs must be a positive int or None; got 2.5"):
        grade(tmp_path, "counting", release_dir=release, jobs=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="none in .*run 'python -m batchwise_instructor release'"):
        grade(tmp_path, "counting", release_dir=tmp_path / "no-release")


# --------------------------------------------------------------------------------------------
# Leak scan
# --------------------------------------------------------------------------------------------


def test_leak_scan_passes_on_the_real_release_and_the_built_book(artifacts: Path) -> None:
    """``make test`` builds the book before pytest runs, so _build/html is searched too."""
    html = ROOT / "_build" / "html"
    report = check_leaks(MASTERS, artifacts / "release", html_dir=html)
    assert report.ok, report.summary()
    n_html = sum(1 for p in html.rglob("*") if p.suffix in (".html", ".js", ".txt", ".ipynb",
                                                             ".md", ".py", ".json"))
    assert report.files_scanned >= len(NAMES) + n_html


@pytest.mark.parametrize("name", NAMES)
def test_every_question_gives_the_scan_something_to_look_for(name: str) -> None:
    path = MASTERS / f"{name}.ipynb"
    secrets = extract_secrets(load_notebook(path), path)
    n_questions = len(read_master(path).questions)
    assert sum(s.kind == "solution" for s in secrets) >= n_questions
    assert sum(s.kind == "hidden test" for s in secrets) >= n_questions


def test_leak_scan_finds_a_solution_copied_into_the_book(artifacts: Path, tmp_path: Path) -> None:
    html = tmp_path / "html"
    html.mkdir()
    master = MASTERS / "iterator.ipynb"
    secret = next(s for s in extract_secrets(load_notebook(master), master)
                  if s.kind == "solution")
    words = secret.text.split(" ")
    highlighted = " ".join(f'<span class="n">{w}</span>' for w in words)
    (html / "page.html").write_text(f"<pre>{highlighted}</pre>", encoding="utf-8")
    report = check_leaks(MASTERS, artifacts / "release", html_dir=html)
    assert secret in [leak.secret for leak in report.leaks]
    assert {(leak.secret.text, leak.path.name) for leak in report.leaks} == {
        (secret.text, "page.html")
    }  # the same line may be a secret of two masters


def test_otter_copies_misspelt_solutions_silently_and_the_scan_catches_them(
    artifacts: Path,
) -> None:
    assign = json.loads((artifacts / "leaky_assign.json").read_text(encoding="utf-8"))
    assert assign["returncode"] == 0, assign["output"]  # otter did not complain
    student = artifacts / "leaky_release" / "leaky_master" / "student" / "leaky_master.ipynb"
    text = student.read_text(encoding="utf-8")
    assert "answer_one = 6 * 7 + 0 * 17" in text and "answer_two = answer_one * 2" in text
    assert "answer_three == 83" in text
    report = check_leaks(FIXTURES, artifacts / "leaky_release", html_dir=None)
    assert not report.ok
    found = sorted((leak.secret.cell, leak.secret.kind) for leak in report.leaks)
    assert found == [(6, "solution"), (16, "solution"), (30, "hidden test")]


def test_marker_validation_fails_on_the_leaky_master() -> None:
    problems = validate_markers(load_notebook(FIXTURES / "leaky_master.ipynb"))
    assert [(p.cell, p.line) for p in problems] == [
        (6, 1), (6, 3), (6, 0), (15, 1), (16, 1), (17, 1), (30, 1)
    ]
    assert "'# BEGN SOLUTION'" in problems[0].message
    assert "'# END SOLUTON'" in problems[1].message
    assert "no '# SOLUTION' or '# BEGIN SOLUTION' marker" in problems[2].message
    assert "'# BEGIN SOLUTON'" in problems[3].message
    assert "outside a '# BEGIN SOLUTION' raw-cell block" in problems[4].message
    assert "'# HIDEN' is not otter's '# HIDDEN' marker" in problems[6].message


def test_marker_validation_fails_on_the_broken_master() -> None:
    problems = validate_markers(load_notebook(FIXTURES / "broken_master.ipynb"))
    assert [(p.cell, p.line, p.message.split(":")[0]) for p in problems] == [
        (5, 2, "'# BEGIN SOLUTION' without '# END SOLUTION' in the same cell"),
        (10, 2, "'# END SOLUTION' without '# BEGIN SOLUTION' before it"),
        (10, 4, "'# BEGIN SOLUTION' without '# END SOLUTION' in the same cell"),
        (14, 1, "marker '# BEGIN SOLUTION' is in a markdown cell"),
        (15, 1, "solution marker outside a '# BEGIN SOLUTION' raw-cell block"),
        (17, 0, "code cell inside a SOLUTION block has no '# SOLUTION' or '# BEGIN SOLUTION' "
                "marker"),
        (18, 1, "'# END QUESTION' while '# BEGIN SOLUTION' is still open"),
    ]


def test_ordinary_comments_are_not_taken_for_markers() -> None:
    from batchwise_instructor.masters import code_cell, new_notebook, raw_cell

    nb = new_notebook([
        raw_cell("# BEGIN QUESTION\nname: q1\npoints: 1"), raw_cell("# BEGIN SOLUTION"),
        code_cell("# the solution uses the ceiling\n# end of the loop\n"
                  "steps = -(-n // b)  # SOLUTION"),
        raw_cell("# END SOLUTION"), raw_cell("# BEGIN TESTS"),
        code_cell("# HIDDEN test of the ceiling\nassert steps == 4"),
        raw_cell("# END TESTS"), raw_cell("# END QUESTION"),
    ])
    assert validate_markers(nb) == []
    assert [s.text for s in extract_secrets(nb)] == ["steps = -(-n // b)", "assert steps == 4"]


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["release", "grade", "check-leaks", "points"])
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: python -m batchwise_instructor " + command in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["grade", "nowhere", "--assignment", "counting"],
         "SUBMISSIONS_DIR: must be an existing folder; got 'nowhere'"),
        (["grade", ".", "--assignment", "counting", "--jobs", "0"],
         "--jobs: must be a positive int; got '0'"),
        (["grade", ".", "--assignment", "counting", "--timeout", "-5"],
         "--timeout: must be a positive number of seconds; got '-5'"),
        (["grade", "."], "the following arguments are required: --assignment"),
        (["release", "--jobs", "two"], "--jobs: must be a positive int; got 'two'"),
        (["release", "--masters", "nowhere"], "--masters: must be an existing folder"),
        (["release", "--only", "counting", "nosuch"],
         "--only must be among 'counting', 'critical_batch', 'global_batch', "
         "'iterator', 'lr_batch', 'time_memory', 'variance'; got 'nosuch'"),
        (["release", "--only", "counting", "counting"],
         "--only must name each assignment once; got 'counting' twice"),
        (["publish"], "invalid choice: 'publish'"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_check_leaks_command_fails_on_the_malformed_fixtures(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check-leaks", "--masters", str(FIXTURES), "--masters-only"]) == 1
    out = capsys.readouterr().out
    assert "misspelt or malformed marker '# BEGN SOLUTION'" in out
    assert out.strip().endswith("leak scan FAIL: 14 marker problem(s), 0 leak(s); "
                                "9 secret line(s) searched in 0 file(s)")


def test_check_leaks_command_passes_on_the_real_release(
    artifacts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["check-leaks", "--masters", str(MASTERS), "--release",
                 str(artifacts / "release"), "--html", str(artifacts / "no-html")])
    assert code == 0, capsys.readouterr().out
    assert "leak scan PASS: 0 marker problem(s), 0 leak(s)" in capsys.readouterr().out


@pytest.mark.parametrize("name", NAMES)
def test_grading_reads_each_case_and_its_points_as_otter_does(artifacts: Path, name: str) -> None:
    """Grading reads the tests without importing otter; otter itself must agree with it."""
    import ast

    from otter.test_files.ok_test import OKTestFile

    from batchwise_instructor._runner import read_tests

    zip_path = autograder_zip(artifacts / "release", name)
    ours = {q["name"]: q for q in read_tests(str(zip_path))}
    with zipfile.ZipFile(zip_path) as zf:
        for member in (n for n in zf.namelist() if n.startswith("tests/")):
            tree = ast.parse(zf.read(member).decode("utf-8"))
            spec = next(ast.literal_eval(node.value) for node in tree.body
                        if isinstance(node, ast.Assign) and node.targets[0].id == "test")
            otters = OKTestFile.from_spec(spec, path=member)
            mine = ours[otters.name]
            assert mine["all_or_nothing"] == otters.all_or_nothing
            assert [(c["body"], c["hidden"], c["points"]) for c in mine["cases"]] == [
                (c.body, c.hidden, c.points) for c in otters.test_cases]
