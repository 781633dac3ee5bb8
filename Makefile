# Batchwise: two commands do everything.
#   make book   set up .venv and build the HTML book into _build/html (warnings are errors)
#   make test   set up .venv and run the whole test suite (lint, unit, property, doctest,
#               nbval on every notebook, the strict book build, the assignment release)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
# The install is redone only when a file that decides what gets installed changes.
REQ_FILES := requirements.txt requirements-dev.txt pyproject.toml
REQ_HASH  := $(shell cat $(REQ_FILES) | $(PYTHON) -c "import hashlib,sys;print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:16])")
STAMP     := $(VENV)/.installed-$(REQ_HASH)
JOBS      ?= 2
BOOK_FLAGS := -W -n --keep-going
# Sphinx executes the notebooks one after the other; this fills its execution cache first, JOBS
# notebooks at a time, so the build itself only reads them (book/_ext/execute_parallel.py).
PREEXECUTE := $(PY) book/_ext/execute_parallel.py --jobs $(JOBS)
# One BLAS thread per process: pytest runs two workers on two cores, and oversubscribed
# OpenBLAS threads made small matrix products tens of times slower.
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1

.PHONY: help venv book pdf test lint unit assignments lab bench vendor clean

help:
	@echo "make book         build the HTML book into _build/html"
	@echo "make pdf          build the printable book into _build/latex/book.pdf (needs TeX Live)"
	@echo "make test         run every check (what CI runs)"
	@echo "make lab          open JupyterLab on the repository"
	@echo "make assignments  release every assignment into _build/assignments"
	@echo "make bench        run the benchmarks and print their table"
	@echo "make vendor       refresh the vendored MathJax in book/_vendor from the npm registry"
	@echo "make clean        remove build outputs (keeps .venv)"

$(STAMP):
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" >/dev/null
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP)

book: $(STAMP)
	$(PREEXECUTE)
	$(BIN)/jupyter-book build . $(BOOK_FLAGS)
	@echo "The book is at $(CURDIR)/_build/html/index.html"

# The printable book: Sphinx's LaTeX writer and xelatex (see latex: in _config.yml). It reuses
# the execution cache of the HTML build, so after `make book` no notebook runs again.
pdf: $(STAMP)
	$(PREEXECUTE)
	$(BIN)/jupyter-book build . --builder pdflatex $(BOOK_FLAGS)
	@echo "The PDF is at $(CURDIR)/_build/latex/book.pdf"

lint: $(STAMP)
	$(BIN)/ruff check .

unit: $(STAMP)
	$(BIN)/pytest -n $(JOBS) --dist loadfile tests companion batchwise_instructor

test: $(STAMP)
	$(BIN)/ruff check .
	$(PREEXECUTE)
	$(BIN)/jupyter-book build . $(BOOK_FLAGS)
	$(BIN)/pytest -n $(JOBS) --dist loadfile --nbval-lax --nbval-current-env tests companion batchwise_instructor benchmarks book notebooks

assignments: $(STAMP)
	$(PY) -m batchwise_instructor release

lab: $(STAMP)
	$(BIN)/jupyter lab

bench: $(STAMP)
	$(PY) -m benchmarks

# The only step that downloads: MathJax from the npm registry (`npm pack`, integrity-checked),
# into book/_vendor/mathjax with its licence and a manifest that tests/test_vendor.py checks.
vendor:
	$(PYTHON) book/_ext/vendor_mathjax.py

clean:
	rm -rf _build .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -not -path "./.venv/*" -prune -exec rm -rf {} +
