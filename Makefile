# The two commands of the README:  `make demo`  (the main job)  and  `make test`  (every test).
# Each creates or refreshes the virtual environment .venv first, from pyproject.toml + constraints.txt.
SHELL := /bin/bash
# Python 3.11, 3.12 or 3.13: the versions TensorFlow 2.21 has wheels for from 3.11 up (any 3.11, Debian 12's
# 3.11.2 included: soupsieve is pinned to 2.10, the newest that does not need 3.11.5). The bounds of pyproject's requires-python and environment.yml's python (a test checks).
# constraints.txt pins one set that installs on each (tests/test_python_support.py resolves it for every one).
PYTHON_MIN := 3.11
PYTHON_BELOW := 3.14
SUPPORTED := Python 3.11, 3.12 or 3.13
SUPPORTED_CHECK := import sys; v = lambda s: tuple(map(int, s.split("."))); sys.exit(not v("$(PYTHON_MIN)") <= sys.version_info[:3] < v("$(PYTHON_BELOW)"))
# The first of these that runs and is supported (a pyenv shim of a version not selected does not run).
ifndef PYTHON
PYTHON := $(firstword $(foreach p,python3.11 python3.12 python3.13 python3,$(shell $(p) -c '$(SUPPORTED_CHECK)' > /dev/null 2>&1 && command -v $(p))) python3)
endif
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.cs20-installed
ARGS ?=
PYTEST_ARGS ?=

.PHONY: help venv demo test lab handouts assignments slides bench notebooks lock clean

help:
	@echo "make demo   train word2vec and write checkpoints, TensorBoard logs, projector files, t-SNE plot (ARGS='--help' for flags)"
	@echo "make test   run every test: cs20lib unit tests and strict nbval of every notebook"
	@echo "make lab    JupyterLab on notebooks/, with the course's kernel"
	@echo "make handouts  HTML handouts (instructor + student editions), student zip, and PDFs when Chromium is installed"
	@echo "make assignments  otter-grader student and instructor notebooks, autograder archives and rubrics"
	@echo "make slides  reveal.js slide decks of the notebooks, offline, and an index"
	@echo "make notebooks  re-execute every notebook in a fresh kernel, storing its outputs"
	@echo "make bench  benchmarks/pipeline.py on the configured corpus"
	@echo "make lock   re-pin constraints.txt from a fresh install, and check that every supported Python resolves it"

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c '$(SUPPORTED_CHECK)' 2> /dev/null || { echo "cs20-word2vec needs $(SUPPORTED); $(PYTHON) is" \
	  "$$($(PYTHON) -c 'import sys; print(sys.version.split()[0], "at", sys.executable)' 2> /dev/null || echo "not a runnable Python")." \
	  "Install a supported Python, or run make PYTHON=/path/to/python3.13"; exit 1; }
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c '$(SUPPORTED_CHECK)' || { echo "$(VENV) holds $$($(BIN)/python --version 2>&1); cs20-word2vec needs" \
	  "$(SUPPORTED): run make clean, then make again"; exit 1; }
	$(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt setuptools wheel -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name cs20-word2vec --display-name "Python $$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])') (cs20-word2vec)" > /dev/null
	$(BIN)/python tools/kernelspec.py $(VENV)
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m cs20lib train $(ARGS)

# The notebooks rebuild their runs/ folders, so earlier results are not kept under runs/earlier/.
test: $(STAMP)
	CS20_KEEP_EARLIER_RUNS=0 $(BIN)/python -m pytest $(PYTEST_ARGS)

# JupyterLab on notebooks/; the notebooks name the kernel "cs20-word2vec" that the set-up registered in .venv,
# and new notebooks get it too.
lab: $(STAMP)
	cd notebooks && $(abspath $(BIN))/jupyter lab --ServerApp.root_dir=. --MappingKernelManager.default_kernel_name=cs20-word2vec $(ARGS)

# handouts/: instructor and student HTML, index.html, the student notebooks zip; PDFs with Chromium.
handouts: $(STAMP)
	$(BIN)/python tools/handouts.py $(ARGS)

# assignments/: student notebooks that check themselves (otter-grader), instructor notebooks, autograder archives.
assignments: $(STAMP)
	$(BIN)/python tools/assignments.py $(ARGS)

# slides/: one reveal.js deck per notebook and index.html, with reveal.js from a pinned, checked local copy.
slides: $(STAMP)
	$(BIN)/python tools/slides.py $(ARGS)

# Re-execute every notebook top to bottom in a fresh kernel and store its outputs (then `make test`).
notebooks: $(STAMP)
	cd notebooks && export CS20_KEEP_EARLIER_RUNS=0 && for nb in [0-9]*.ipynb; do \
	  $(abspath $(BIN))/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.kernel_name=cs20-word2vec \
	    --ExecutePreprocessor.timeout=1200 "$$nb" || exit 1; \
	done

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
	rm -rf $(VENV) build *.egg-info .pytest_cache
