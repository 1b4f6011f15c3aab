# Two commands matter: `make demo` and `make test`. Both set up what they need.
PYTHON ?= python3
VENV := .venv
TOOLS := .venv-tools
PY := $(VENV)/bin/python
SAM := SAM_CLI_TELEMETRY=0 $(TOOLS)/bin/sam
# sam build needs python3.13 on PATH; pyenv machines have it as a non-default version.
BUILD_PYENV ?= 3.11.7:3.12.1:3.13.0

.PHONY: demo test lint format up build bench deploy clean venv tools openapi

demo: $(VENV)/.installed
	$(PY) -m local demo

test: $(VENV)/.installed
	$(PY) -m pytest

lint: $(VENV)/.installed $(TOOLS)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(TOOLS)/bin/cfn-lint template.yaml
	$(SAM) validate --lint

format: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

up: $(VENV)/.installed
	$(PY) -m local up

# openapi.json from the admin and OAuth handlers' annotations (a test fails when it is out of date).
openapi: $(VENV)/.installed
	$(PY) -m local openapi

bench: $(VENV)/.installed
	$(PY) -m bench

# The layer's Makefile installs its pinned packages with the app venv's pip.
build: $(VENV)/.installed $(TOOLS)/.installed
	PIP="$(abspath $(PY)) -m pip" PYENV_VERSION=$(BUILD_PYENV) $(SAM) build --parallel --cached

deploy: build
	$(SAM) deploy --guided

venv: $(VENV)/.installed
tools: $(TOOLS)/.installed

$(VENV)/.installed: requirements-dev.txt layers/shared/python/requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(TOOLS)/.installed: requirements-tools.txt
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-tools.txt
	touch $@

clean:
	rm -rf $(VENV) $(TOOLS) .aws-sam .local .pytest_cache .mypy_cache .ruff_cache .hypothesis
