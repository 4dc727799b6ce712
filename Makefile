# The two commands of the README:  `make demo`  (the main job)  and  `make test`  (every test).
# Each creates or refreshes the virtual environment .venv first, from pyproject.toml + constraints.txt.
SHELL := /bin/bash
# The supported Pythons have one home: pyproject.toml's requires-python (">=3.A,<3.B"); environment.yml and the
# README's support table repeat it (tests/test_environment.py checks they agree). constraints.txt pins one set that
# installs on each of them (tests/test_python_support.py resolves it for every one).
REQUIRES_PYTHON := $(shell sed -n 's/^requires-python = "\([^"]*\)".*/\1/p' pyproject.toml)
PYTHON_MIN := $(shell echo '$(REQUIRES_PYTHON)' | sed -n 's/.*>=\([0-9.]*\).*/\1/p')
PYTHON_BELOW := $(shell echo '$(REQUIRES_PYTHON)' | sed -n 's/.*<\([0-9.]*\).*/\1/p')
# python3.A ... python3.(B-1): the interpreters make looks for, oldest first
PYTHON_CANDIDATES := $(shell m=$(word 2,$(subst ., ,$(PYTHON_MIN))); b=$(word 2,$(subst ., ,$(PYTHON_BELOW))); \
  while [ "$$m" -lt "$$b" ]; do printf 'python3.%s ' "$$m"; m=$$((m + 1)); done)
SUPPORTED := Python $(REQUIRES_PYTHON) ($(strip $(subst python,,$(PYTHON_CANDIDATES))))
SUPPORTED_CHECK := import sys; v = lambda s: tuple(map(int, s.split("."))); sys.exit(not v("$(PYTHON_MIN)") <= sys.version_info[:3] < v("$(PYTHON_BELOW)"))
# The first of these that runs and is supported (a pyenv shim of a version not selected does not run).
ifndef PYTHON
PYTHON := $(firstword $(foreach p,$(PYTHON_CANDIDATES) python3,$(shell $(p) -c '$(SUPPORTED_CHECK)' > /dev/null 2>&1 && command -v $(p))) python3)
endif
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.cs20-installed
ARGS ?=
PYTEST_ARGS ?=

.PHONY: help venv demo test check lab handouts assignments slides fit-slides screenshots bench notebooks wheel lock clean

help:
	@echo "make demo   train word2vec and write checkpoints, TensorBoard logs, projector files, t-SNE plot (ARGS='--help' for flags)"
	@echo "make test   run every test: cs20lib unit tests and strict nbval of every notebook"
	@echo "make check  the quick loop for whoever changes the code: lint and the unit tests, without the slow,"
	@echo "            browser, network and notebook ones (make test runs everything)"
	@echo "make lab    JupyterLab on notebooks/, with the course's kernel"
	@echo "make handouts  HTML handouts (instructor + student editions), student zip, and PDFs when Chromium is installed"
	@echo "make assignments  otter-grader student and instructor notebooks, autograder archives and rubrics"
	@echo "make slides  reveal.js slide decks of the notebooks, offline, and an index"
	@echo "make fit-slides  break the slides that run over 1280x720, measured in Chromium (after make notebooks)"
	@echo "make notebooks  re-execute every notebook in a fresh kernel, storing its outputs"
	@echo "make screenshots  TensorBoard screenshots for notebooks 03, 07, 08 from their runs (after make notebooks)"
	@echo "make bench  benchmarks/pipeline.py on the configured corpus"
	@echo "make lock   re-pin constraints.txt from a fresh install, and check that every supported Python resolves it"

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c '$(SUPPORTED_CHECK)' 2> /dev/null || { echo "cs20-word2vec needs $(SUPPORTED); $(PYTHON) is" \
	  "$$($(PYTHON) -c 'import sys; print(sys.version.split()[0], "at", sys.executable)' 2> /dev/null || echo "not a runnable Python")." \
	  "Install a supported Python, or run make PYTHON=/path/to/python3.X"; exit 1; }
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c '$(SUPPORTED_CHECK)' || { echo "$(VENV) holds $$($(BIN)/python --version 2>&1); cs20-word2vec needs" \
	  "$(SUPPORTED): run make clean, then make again"; exit 1; }
	$(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt setuptools wheel -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name cs20-word2vec --display-name "Python 3 (cs20-word2vec)" > /dev/null
	$(BIN)/python -m tools.kernelspec $(VENV)
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m cs20lib train $(ARGS)

# The notebooks rebuild their runs/ folders, so earlier results are not kept under runs/earlier/.
test: $(STAMP)
	CS20_KEEP_EARLIER_RUNS=0 $(BIN)/python -m pytest $(PYTEST_ARGS)

# The quick loop while changing the code: lint, format and the unit tests that run in seconds each.
check: $(STAMP)
	CS20_KEEP_EARLIER_RUNS=0 $(BIN)/python -m pytest tests -m "not slow and not browser and not network and not notebooks" \
	  -q $(PYTEST_ARGS)

# The course as a wheel in dist/ (notebooks and figures of record included): pip install it anywhere.
wheel: $(STAMP)
	$(BIN)/python -m pip wheel --disable-pip-version-check --no-deps --no-build-isolation -w dist .

# JupyterLab on notebooks/; the notebooks name the kernel "cs20-word2vec" that the set-up registered in .venv,
# and new notebooks get it too.
# As root (a container, a CI image) JupyterLab refuses to start unless told that it may: --allow-root.
lab: $(STAMP)
	cd notebooks && $(abspath $(BIN))/jupyter lab --ServerApp.root_dir=. --MappingKernelManager.default_kernel_name=cs20-word2vec \
	  $(if $(filter 0,$(shell id -u)),--allow-root) $(ARGS)

# handouts/: instructor and student HTML, index.html, the student notebooks zip; PDFs with Chromium.
handouts: $(STAMP)
	$(BIN)/python -m tools.handouts $(ARGS)

# assignments/: student notebooks that check themselves (otter-grader), instructor notebooks, autograder archives.
assignments: $(STAMP)
	$(BIN)/python -m tools.assignments $(ARGS)

# slides/: one reveal.js deck per notebook and index.html, with reveal.js from a pinned, checked local copy.
slides: $(STAMP)
	$(BIN)/python -m tools.slides $(ARGS)

# After re-executing notebooks: measure the decks in Chromium and break slides that run over 1280x720.
fit-slides: $(STAMP)
	$(BIN)/python -m tools.fit_slides $(ARGS)

# Re-execute every notebook top to bottom in a fresh kernel and store its outputs (then `make test`);
# ARGS="02 08" runs only those.
notebooks: $(STAMP)
	$(BIN)/python -m tools.notebooks run $(ARGS)

# TensorBoard as students see it: screenshots from a real TensorBoard in headless Chromium, on the logs that
# notebooks 03, 07 and 08 wrote under notebooks/runs/ (make notebooks first), embedded in those notebooks.
screenshots: $(STAMP)
	$(BIN)/python -m tools.screenshots $(ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/pipeline.py $(ARGS)

# One pin set for every supported Python: frozen here with $(PYTHON), then resolved for the other supported versions
# from the registry (tests/test_python_support.py); if one of them needs other versions, that check says which.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install -q --upgrade setuptools
	.lock-venv/bin/python -m pip install -q '.[dev]'
	{ grep '^#' constraints.txt; .lock-venv/bin/python -m pip freeze --all --exclude pip --exclude cs20-word2vec; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	.lock-venv/bin/python -m pytest -p no:cacheprovider -o addopts= -q tests/test_environment.py
	CI=true .lock-venv/bin/python -m pytest -p no:cacheprovider -o addopts= -q tests/test_python_support.py -k resolves
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
