# Two commands do everything on a fresh machine:
#   make demo   install, then train + evaluate CLMLF on real MVSA-Single with the offline pretrained encoders
#   make test   install, then run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test demo bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"

test: install
	$(BIN)/python -m pytest

demo: install
	$(BIN)/clmlf train configs/mvsa_single_demo.yaml --out runs/mvsa_single_demo

bench: install
	$(BIN)/python -m pytest benchmarks --benchmark-json=benchmarks/cpu.json
