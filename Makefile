# Two entry points (see README): `make demo` and `make test`. Both create .venv on first use and
# install exactly the versions in constraints.txt (what the project was tested with).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.ltv-installed

.PHONY: demo test lint typecheck pytest install bytecode bench fuzz constraints clean sysdeps browser

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# Bytecode for ltv, as pip writes it for an installed package (an editable install does not, and
# PYTHONDONTWRITEBYTECODE environments never write it): every fresh `ltv` process and audit
# worker would compile the sources again. Cheap when up to date; stale files are recompiled.
bytecode: $(STAMP)
	@$(PY) -m compileall -q ltv samples

install: $(STAMP)

demo: bytecode
	$(PY) -m samples.demo

lint: $(STAMP)
	$(VENV)/bin/ruff check ltv tests samples benchmarks fuzz
	$(VENV)/bin/ruff format --check ltv tests samples benchmarks fuzz

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: bytecode
	$(PY) -m pytest -q

test: sysdeps lint typecheck pytest

bench: bytecode
	$(PY) -m benchmarks.run

# Debian packages some tests use (they skip with a reason without them): poppler-utils
# (pdftoppm renders visible signatures), chromium (headless HTML checks, tests/browser.py).
# Installed only when running as root and missing; never fatal.
SYSDEPS := poppler-utils chromium
sysdeps:
	@missing=""; for p in $(SYSDEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then echo "sysdeps: all present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  for i in 1 2 3 4 5; do \
	    (DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 || true) && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing && break; \
	    echo "sysdeps: apt-get busy, retrying"; sleep 15; \
	  done || true; \
	else echo "sysdeps: missing$$missing (not root: tests that need them will skip)"; fi

browser: sysdeps
# Fuzz campaign (fuzz/README.md): FUZZ_SECONDS in total over all targets (FUZZ_TARGETS=a,b to
# choose); atheris (coverage-guided) from the [fuzz] extra. Findings land in fuzz/findings/.
FUZZ_SECONDS ?= 600
fuzz: $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[fuzz]'
	$(PY) -m fuzz --seconds $(FUZZ_SECONDS)

# Refresh the pins after a deliberate upgrade: make constraints
constraints: $(STAMP)
	$(PY) -m pip freeze --exclude-editable | grep -vi '^ltv' > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
