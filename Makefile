# The two commands of the README:  `make demo`  (the main job)  and  `make test`  (every test).
# Each creates or refreshes the virtual environment .venv first, from pyproject.toml + constraints.txt.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.cs20-installed
ARGS ?=
PYTEST_ARGS ?=

.PHONY: help venv demo test lab handouts bench notebooks lock clean

help:
	@echo "make demo   train word2vec and write checkpoints, TensorBoard logs, projector files, t-SNE plot (ARGS='--help' for flags)"
	@echo "make test   run every test: cs20lib unit tests and strict nbval of every notebook"
	@echo "make lab    JupyterLab on notebooks/, with the course's kernel"
	@echo "make handouts  HTML handouts (instructor + student editions), student zip, and PDFs when Chromium is installed"
	@echo "make notebooks  re-execute every notebook in a fresh kernel, storing its outputs"
	@echo "make bench  benchmarks/pipeline.py on the configured corpus"
	@echo "make lock   re-pin constraints.txt from a fresh install"

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if v == (3, 11) else f"cs20-word2vec needs Python 3.11, found {v[0]}.{v[1]} at {sys.executable}: run make PYTHON=/path/to/python3.11")'
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name cs20-word2vec --display-name "Python 3.11 (cs20-word2vec)" > /dev/null
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

# Re-execute every notebook top to bottom in a fresh kernel and store its outputs (then `make test`).
notebooks: $(STAMP)
	cd notebooks && export CS20_KEEP_EARLIER_RUNS=0 && for nb in [0-9]*.ipynb; do \
	  $(abspath $(BIN))/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.kernel_name=cs20-word2vec \
	    --ExecutePreprocessor.timeout=1200 "$$nb" || exit 1; \
	done

bench: $(STAMP)
	$(BIN)/python benchmarks/pipeline.py $(ARGS)

lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install -q '.[dev]'
	{ sed -n '1,2p' constraints.txt; .lock-venv/bin/python -m pip freeze --exclude cs20-word2vec; } > constraints.txt.new
	mv constraints.txt.new constraints.txt && rm -rf .lock-venv

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
