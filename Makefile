# Two entry points (see README): `make demo` and `make test`. Both create .venv on first use and
# install exactly the versions in constraints.txt (what the project was tested with).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.ltv-installed

.PHONY: demo test lint typecheck pytest install bench constraints clean browser

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m samples.demo

lint: $(STAMP)
	$(VENV)/bin/ruff check ltv tests samples benchmarks
	$(VENV)/bin/ruff format --check ltv tests samples benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(PY) -m pytest -q

test: lint typecheck pytest

# Headless Chromium for the HTML checks (tests/browser.py); installs Debian's package when root.
browser:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

bench: $(STAMP)
	$(PY) -m benchmarks.run

# Refresh the pins after a deliberate upgrade: make constraints
constraints: $(STAMP)
	$(PY) -m pip freeze --exclude-editable | grep -vi '^ltv' > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
