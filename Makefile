# xscale: `make reproduce` runs the paper's model on the embedded data; `make test` runs the tests.
# Both create .venv and install what they need (PyTorch 2.13.0, xscale and its two plugins).
# Where pip would pick a CUDA build of torch, pass the CPU index, e.g.
#   make reproduce PIP_EXTRA="--extra-index-url https://download.pytorch.org/whl/cpu"

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= results/reproduce
PIP_EXTRA ?=

.PHONY: install reproduce test quick bench paper clean

$(STAMP): pyproject.toml plugins/xscale-gnn/pyproject.toml plugins/xscale-pyro/pyproject.toml plugins/xscale-baselines/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip "setuptools<81" wheel
	$(BIN)/python -m pip install --quiet $(PIP_EXTRA) -e ".[test,paper,moran]" -e plugins/xscale-gnn -e plugins/xscale-pyro -e plugins/xscale-baselines
	touch $(STAMP)

install: $(STAMP)

reproduce: install
	$(BIN)/xscale data verify
	$(BIN)/xscale reproduce --out $(OUT) --overwrite

quick: install
	$(BIN)/xscale reproduce --out results/quick --quick --overwrite

test: install
	$(BIN)/python -m pytest

paper: install
	$(BIN)/xscale paper build --out results/paper --overwrite
	$(BIN)/xscale paper verify --runs results/paper/runs --out results/paper-verify

bench: install
	$(BIN)/python benchmarks/bench_backends.py
	$(BIN)/python benchmarks/bench_batched.py

clean:
	rm -rf $(VENV) results runs .pytest_cache
