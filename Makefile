# The course's entry points. Each target's plain commands are in the README,
# for machines without make.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# nbgrader runs alembic as a subprocess: the venv's bin must be on PATH.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: help venv constraints lab book test test-gpu bench bench-gpu gpu-wheels gpu-run release grade check clean

help:
	@echo "make lab       install the learner's set and open JupyterLab on chapters/"
	@echo "make book      build the HTML book into _build/html"
	@echo "make test      run the whole test suite"
	@echo "make test-gpu  install CuPy (GPU_EXTRA=gpu: CUDA 12, gpu-cuda13: CUDA 13) and run the GPU tests; no GPU fails"
	@echo "make bench     time dlcore (against PyTorch with the bench extra)"
	@echo "make bench-gpu time NumPy against CuPy (as test-gpu; no GPU fails)"
	@echo "make gpu-wheels  download the wheels gpu-run may need offline (where the registry answers)"
	@echo "make gpu-run   on a GPU machine without network: GPU tests, benchmark, lesson into gpu-results/"
	@echo "make release   regenerate the student notebooks in chapters/ from solutions/"
	@echo "make grade CHAPTER=ch01_perceptrons [WORKERS=2] [DB_URL=...]  autograde a class, sandboxed, in parallel"
	@echo "make check NB=chapters/ch05_backprop/exercises.ipynb  grade your own notebook with the hidden tests (ALL=1: every chapter)"
	@echo "make constraints  refresh constraints.txt, the versions a fresh clone installs"
	@echo "make clean     remove the built book and caches (keeps .venv)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; run e.g. make test PYTHON=python3.12")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# A stamp per extra: installing again only when pyproject.toml or the
# constraints changed. constraints.txt holds the versions a fresh clone
# installs (make constraints refreshes it), so that a new release of a
# dependency cannot break the course unseen.
$(VENV)/.installed-%: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[$*]'
	@touch $@

# Refresh constraints.txt on purpose: resolve every extra anew with the
# oldest Python the course supports (a version that needs a newer one
# shows up here, not in someone's fresh clone), then run make test.
CONSTRAINTS_PYTHON ?= python3.11
constraints:
	rm -rf .venv-constraints
	$(CONSTRAINTS_PYTHON) -m venv .venv-constraints
	.venv-constraints/bin/python -m pip install --quiet --upgrade pip
	.venv-constraints/bin/python -m pip install --quiet -e '.[learn,test]'
	{ echo "# The versions make and CI install (pip -c). Written by make constraints"; \
	  echo "# with $$(.venv-constraints/bin/python --version); do not edit by hand."; \
	  .venv-constraints/bin/python -m pip freeze --all --exclude-editable \
	    --exclude pip | LC_ALL=C sort -f; } > constraints.txt
	rm -rf .venv-constraints
	@echo "constraints.txt refreshed: now run make test and commit it"

venv: $(VENV)/.installed-test

# JupyterLab on the chapters, with the learner's set only.
lab: $(VENV)/.installed-learn
	$(BIN)/jupyter lab --ServerApp.root_dir=chapters

# Both editions: the English one, then the Chinese one into _build/html/zh
# from the same notebooks (their outputs come from the English build's
# execution cache) and the catalogues in locales/ (README: 中文版).
book: $(VENV)/.installed-book
	$(BIN)/jupyter-book build . --builder html -W --keep-going
	$(BIN)/python scripts/i18n.py build
	@echo "The book is at $(abspath _build/html/index.html)"

.PHONY: book-zh book-po book-coverage

# The Chinese edition alone (after make book: the English one is there).
book-zh: $(VENV)/.installed-book
	$(BIN)/python scripts/i18n.py build
	@echo "The Chinese edition is at $(abspath _build/html/zh/index.html)"

# After an English page changed: its messages into locales/zh_CN/*.po.
book-po: $(VENV)/.installed-book
	$(BIN)/python scripts/i18n.py update

# How much of the Chinese edition is translated, per page.
book-coverage: $(VENV)/.installed-book
	$(BIN)/python scripts/i18n.py coverage

# pytest-xdist: one worker per core, each test file kept on one worker
# (the browser test builds the book once); TEST_WORKERS=0 runs serially.
TEST_WORKERS ?= auto
test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# GPU_EXTRA=gpu-cuda13 for a CUDA 13 driver. DLCORE_REQUIRE_GPU=1 turns
# every GPU skip into a failure: no GPU, no green.
GPU_EXTRA ?= gpu
test-gpu: $(VENV)/.installed-test $(VENV)/.installed-$(GPU_EXTRA)
	DLCORE_REQUIRE_GPU=1 $(BIN)/python -m pytest -m gpu

# PyTorch is optional: without the bench extra the figures are dlcore's.
BENCH_ARGS ?=
bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

bench-gpu: $(VENV)/.installed-test $(VENV)/.installed-$(GPU_EXTRA)
	DLCORE_REQUIRE_GPU=1 $(BIN)/python benchmarks/gpu_bench.py

# A GPU machine that cannot install from the network (the GPU lesson's
# maintainers, see the README): make gpu-wheels where the registry
# answers, bring gpu-wheels/ along, then make gpu-run there. gpu-run uses
# the machine's own Python with CuPy, not .venv.
GPU_PYTHON_VERSION ?= 3.12
gpu-wheels: $(VENV)/.installed-test
	$(BIN)/python scripts/gpu_wheels.py --python-version $(GPU_PYTHON_VERSION)

gpu-run:
	scripts/gpu_run.sh --out gpu-results $(GPU_RUN_ARGS)

release: $(VENV)/.installed-course
	$(BIN)/python scripts/release.py

# Autograde every submission of CHAPTER (see guides/instructor.md).
WORKERS ?= 2
grade: $(VENV)/.installed-course
	@test -n "$(CHAPTER)" || { echo "usage: make grade CHAPTER=ch01_perceptrons [WORKERS=2] [DB_URL=postgresql+psycopg2://...]"; exit 2; }
	$(BIN)/python -m coursekit grade $(CHAPTER) --workers $(WORKERS) $(if $(DB_URL),--db-url '$(DB_URL)')

# Grade your own notebook (see guides/learner.md); reads the saved file.
check: $(VENV)/.installed-learn
	@test -n "$(NB)$(ALL)" || { echo "usage: make check NB=chapters/ch05_backprop/exercises.ipynb   (or: make check ALL=1)"; exit 2; }
	$(BIN)/python -m coursekit check $(if $(ALL),--all,'$(NB)')

clean:
	rm -rf _build .pytest_cache .hypothesis
