# Every target builds .venv itself: `make test` and `make run` are all a fresh machine needs.
SHELL := /bin/bash
PYENV_313 := $(shell pyenv prefix 3.13.0 2>/dev/null)
PYTHON ?= $(if $(PYENV_313),$(PYENV_313)/bin/python3.13,$(shell command -v python3.13 || command -v python3.12 || command -v python3))
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export AWS_ACCOUNT_ID_ENDPOINT_MODE := disabled
export TZ := UTC

.PHONY: help setup test test-fast lint checkov run bench report clean lock sam-build sam-validate layer-size

help:
	@echo "make run    - run the whole system locally on moto with a simulated portfolio"
	@echo "make test   - the full test suite (unit, functions, reliability, sandbox, e2e)"
	@echo "make lint   - ruff, mypy, cfn-lint, template and policy checks"
	@echo "make bench  - measure calls per notice, sweep reads, cold starts, throughput"
	@echo "make checkov - security scan of template.yaml (checkov in its own .venv-checkov)"
	@echo "make sam-build / sam-validate - build the stack (layer from shared/requirements.lock) / sam validate --lint"
	@echo "make lock   - re-resolve shared/requirements.lock (hashes, arm64, Python 3.13) from shared/requirements.txt"

# Tests run on the versions the layer ships: the lock, without its hashes, constrains the install.
$(STAMP): pyproject.toml shared/requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@grep -E '^[A-Za-z0-9]' shared/requirements.lock | sed 's/ *\\$$//' > $(VENV)/layer-constraints.txt
	$(BIN)/python -m pip install --quiet -c $(VENV)/layer-constraints.txt -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

test: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadfile

test-fast: $(STAMP)
	$(BIN)/pytest -m "not e2e"

lint: $(STAMP)
	$(BIN)/ruff check shared functions sandbox tests bench
	$(BIN)/mypy --strict shared/dunning
	@# Every handler is an app.py of its own: checked one by one (mypy refuses two modules named app).
	@for handler in functions/*/app.py; do $(BIN)/mypy --no-error-summary $$handler || exit 1; done
	$(BIN)/mypy sandbox bench
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

# aws-sam-cli pins boto3 to another minor than ours, and uv only resolves the lock: both live in
# their own venv, made on demand. `sam build` needs Python 3.13 on the PATH (pyenv's, when present).
SAM_VENV := .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed
SAM_PATH := $(if $(PYENV_313),$(PYENV_313)/bin:,)$(PATH)
export SAM_CLI_TELEMETRY := 0

$(SAM_STAMP):
	@test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli==1.170.0 uv==0.13.8
	@touch $(SAM_STAMP)

lock: $(SAM_STAMP)
	$(SAM_VENV)/bin/uv pip compile shared/requirements.txt --generate-hashes --python-version 3.13 \
		--python-platform aarch64-manylinux2014 --custom-compile-command "make lock" -o shared/requirements.lock

sam-build: $(SAM_STAMP)
	PATH="$(SAM_PATH)" $(SAM_VENV)/bin/sam build

sam-validate: $(SAM_STAMP)
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(SAM_VENV)/bin/sam validate --lint

# Unzipped and zipped size of the built layer (after `make sam-build`), as docs/performance.md reports.
layer-size:
	@du -sb .aws-sam/build/SharedLayer | awk '{printf "unzipped: %.1f MB\n", $$1/1e6}'
	@rm -f /tmp/dunning-layer.zip && cd .aws-sam/build/SharedLayer && zip -qr9 /tmp/dunning-layer.zip . \
		&& stat -c %s /tmp/dunning-layer.zip | awk '{printf "zipped: %.1f MB\n", $$1/1e6}'

run: $(STAMP)
	@mkdir -p out
	$(BIN)/dunning simulate --json out/summary.json --report out/report.html

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) $(SAM_VENV) .aws-sam out .hypothesis
