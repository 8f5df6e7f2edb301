# xscale: `make reproduce` runs the paper's model on the embedded data; `make test` runs the tests.
# Both create .venv and install what they need (CPU PyTorch 2.13.0, xscale, the GNN plugin).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= results/reproduce

.PHONY: install reproduce test quick clean

$(STAMP): pyproject.toml plugins/xscale-gnn/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip "setuptools<81" wheel
	$(BIN)/python -m pip install --quiet -e ".[test]" -e plugins/xscale-gnn
	touch $(STAMP)

install: $(STAMP)

reproduce: install
	$(BIN)/xscale data verify
	$(BIN)/xscale reproduce --out $(OUT) --overwrite

quick: install
	$(BIN)/xscale reproduce --out results/quick --quick --overwrite

test: install
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) results runs .pytest_cache
