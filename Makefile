# Two commands do everything on a fresh machine:
#   make demo   install, then train + evaluate CLMLF on real MVSA-Single with the offline pretrained encoders
#               (again: continues an interrupted run, or re-reports a finished one)
#   make test   install, then run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test demo bench test-lowest

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev,serve,tensorboard]"

test: install
	$(BIN)/python -m pytest

demo: install
	$(BIN)/clmlf train configs/mvsa_single_demo.yaml --out runs/mvsa_single_demo --resume

bench: install
	$(BIN)/python -m pytest -p no:cacheprovider -q benchmarks/test_loss_speed.py --benchmark-json=benchmarks/measured/cpu_loss.json
	$(BIN)/python -m pytest -p no:cacheprovider -q benchmarks/test_input_pipeline.py --benchmark-json=benchmarks/measured/cpu_input.json
	$(BIN)/python benchmarks/render_results.py benchmarks/measured/*.json -o benchmarks/RESULTS.md

# The oldest supported versions (constraints-lowest.txt: torch 2.11, transformers 4.40, ...) in their own venv; not part
# of `make test` or CI: torch 2.11 comes from PyPI with its CUDA libraries (several GB on a first install).
LOWEST_VENV ?= .venv-lowest
test-lowest:
	$(PYTHON) -m venv $(LOWEST_VENV)
	$(LOWEST_VENV)/bin/pip install --quiet -c constraints-lowest.txt -e ".[dev,serve,tensorboard]"
	$(LOWEST_VENV)/bin/python -m pytest -m "not slow"
