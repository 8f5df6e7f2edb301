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

# `make lock` regenerates the hash-pinned lock the container installs and environment.yml from it.
LOCK_FLAGS := --generate-hashes --strip-extras --no-emit-index-url --no-emit-find-links \
	--unsafe-package xscale --unsafe-package xscale-gnn --unsafe-package xscale-pyro --unsafe-package xscale-baselines

.PHONY: install reproduce test quick bench paper clean lock container-test

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
	$(BIN)/python benchmarks/bench_baselines.py
	$(BIN)/python benchmarks/bench_svi_batched.py

lock: install
	$(BIN)/python -m pip install --quiet pip-tools==7.6.2
	$(BIN)/pip-compile --quiet $(LOCK_FLAGS) --output-file requirements/lock.txt requirements/lock.in
	$(BIN)/python requirements/environment.py

# Builds the Dockerfile with podman on a debootstrapped Debian base and checks that
# `xscale reproduce --quick` gives the same table inside and outside (README, "Container").
container-test:
	tests/container/run.sh

clean:
	rm -rf $(VENV) results runs .pytest_cache
