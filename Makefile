# Two commands: `make run` starts the console, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
CHROMIUM ?= /usr/bin/chromium

.PHONY: setup browser run test lint format clean

setup: $(STAMP)

# Reinstall only when a requirements file changed since the last install.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

run: setup
	$(PY) manage.py serve --host $(HOST) --port $(PORT)

# The browser tests drive Debian's Chromium (Playwright cannot download its own
# offline). Installed here when missing and we are root; otherwise a note, and
# those tests skip (in CI a skip is a failure, see tests/conftest.py).
browser:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing chromium for the browser tests (apt-get)..."; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	    || echo "note: could not install chromium; the browser tests will skip (and fail in CI)"; \
	else \
	  echo "note: $(CHROMIUM) is missing; install it (sudo apt-get install chromium) or the browser tests skip"; \
	fi

test: setup browser
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) var
