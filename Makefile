# First use creates .venv and installs spikeloom with everything it needs (about 2 minutes).
# torch is pinned to the CPU build that pip finds on these machines; an unpinned torch
# would pull a multi-GB CUDA build.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-v1
ARGS ?=

.PHONY: run test lint bench setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "error: $(PY) not found; install Python 3.11 or run 'make PY=python3 ...'" >&2; exit 2; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -e ".[all,dev]"
	touch $(STAMP)

run: $(STAMP)  ## the co-design pipeline on the embedded digits dataset
	$(BIN)/spikeloom run $(ARGS)

test: $(STAMP)  ## the whole test suite
	$(BIN)/python -m pytest tests

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

bench: $(STAMP)  ## peers for the benchmarks (SpikingJelly without its CUDA extras)
	$(BIN)/pip install -q --no-deps "spikingjelly==2.0.0" && $(BIN)/pip install -q loguru

clean:
	rm -rf $(VENV)
