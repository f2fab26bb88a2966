# Two commands: `make run` starts the console, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
CHROMIUM ?= /usr/bin/chromium

ST_VENV := .venv-schemathesis
ST_STAMP := $(ST_VENV)/.installed

.PHONY: setup browser schemathesis run test typecheck lint format screenshots clean

setup: $(STAMP)

# Reinstall only when a requirements file changed since the last install.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

# schemathesis (the API's schema test) lives in a virtualenv of its own: in the project's,
# caldav's niquests replaces urllib3 with urllib3-future, which schemathesis cannot drive.
schemathesis: $(ST_STAMP)

$(ST_STAMP): requirements-schemathesis.txt
	test -x $(ST_VENV)/bin/python || $(PYTHON) -m venv $(ST_VENV)
	$(ST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-schemathesis.txt
	touch $(ST_STAMP)

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

# Independent tests run on every core (pytest-xdist); the ones that kill and restart Celery
# workers (`services`) and drive Chromium against a server (`browser`) run after, one at a time.
TEST_WORKERS ?= auto
# Both passes run even when the first fails, so one run reports every failure.
test: setup browser schemathesis
	@$(PY) -m pytest -n $(TEST_WORKERS) -m "not services and not browser"; parallel=$$?; \
	$(PY) -m pytest -m "services or browser"; serial=$$?; \
	test $$parallel -eq 0 && test $$serial -eq 0

# Refresh the screenshots the docs show (test runs write theirs to test-artifacts/screenshots/).
screenshots: setup browser
	ORCHESTRATE_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(PY) -m pytest -m browser -q

typecheck: setup
	$(VENV)/bin/mypy .

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) $(ST_VENV) var
