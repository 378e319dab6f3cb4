# make demo  - installs what is missing, runs the spiders against the local sandbox
# make test  - installs what is missing, lints, runs the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install system demo test test-quick test-long lint format bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check -U pip
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

system:
	@bash scripts/install-system.sh

demo: install system
	@$(PY) -m sandbox.demo

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: install system lint
	$(PY) -m pytest -m "not slow"

test-quick: install
	$(PY) -m pytest -m "not integration and not slow"

test-long: install system
	$(PY) -m pytest -m slow

bench: install system
	$(PY) -m bench $(BENCH)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache build *.egg-info
