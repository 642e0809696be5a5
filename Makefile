# Every target builds .venv itself: `make test` and `make run` are all a fresh machine needs.
SHELL := /bin/bash
PYENV_313 := $(shell pyenv prefix 3.13.0 2>/dev/null)
PYTHON ?= $(if $(PYENV_313),$(PYENV_313)/bin/python3.13,$(shell command -v python3.13 || command -v python3.12 || command -v python3))
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export AWS_ACCOUNT_ID_ENDPOINT_MODE := disabled
export TZ := UTC

.PHONY: help setup test test-fast lint checkov run bench report clean

help:
	@echo "make run    - run the whole system locally on moto with a simulated portfolio"
	@echo "make test   - the full test suite (unit, functions, reliability, sandbox, e2e)"
	@echo "make lint   - ruff, mypy, cfn-lint, template and policy checks"
	@echo "make bench  - measure calls per notice, sweep reads, cold starts, throughput"
	@echo "make checkov - security scan of template.yaml (checkov in its own .venv-checkov)"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

test: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadfile

test-fast: $(STAMP)
	$(BIN)/pytest -m "not e2e"

lint: $(STAMP)
	$(BIN)/ruff check shared functions sandbox tests bench
	$(BIN)/mypy shared/dunning
	$(BIN)/cfn-lint template.yaml
	$(BIN)/dunning policy check shared/dunning/policies/default.yaml

# checkov pins libraries that conflict with ours: it lives in its own venv, made on demand.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

$(CHECKOV_STAMP):
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet checkov==3.3.30
	@touch $(CHECKOV_STAMP)

checkov: $(CHECKOV_STAMP)
	$(CHECKOV_VENV)/bin/checkov -f template.yaml --framework cloudformation --skip-download --compact

run: $(STAMP)
	@mkdir -p out
	$(BIN)/dunning simulate --json out/summary.json --report out/report.html

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) out .hypothesis
