# Two commands: `make run` starts the console, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
CHROMIUM ?= /usr/bin/chromium
PROMETHEUS ?= /usr/bin/prometheus
# The OTLP export test sends spans to Arize Phoenix (a receiver from PyPI), in a
# virtualenv of its own so its many dependencies never mix with ours; kept in var/.
PHOENIX_VENV := var/phoenix
PHOENIX_VERSION := 20.26.1

ST_VENV := .venv-schemathesis
ST_STAMP := $(ST_VENV)/.installed

.PHONY: setup gettext browser services prometheus otel-receiver schemathesis run test typecheck lint format screenshots clean

# The translation catalogues, compiled in pure Python (tenancy/management/commands/compilecatalogues.py):
# running the console needs no GNU gettext.
MO_FILES := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/django.po))

setup: $(STAMP) $(MO_FILES)

locale/%/LC_MESSAGES/django.mo: locale/%/LC_MESSAGES/django.po $(STAMP)
	$(PY) manage.py compilecatalogues

# The example plugin is its own package (as a third-party plugin would be); the tests use it installed.
EXAMPLE_PLUGIN := plugins/examples/chatops

# Reinstall only when a requirements file (or the example plugin) changed since the last install.
$(STAMP): requirements.txt requirements-dev.txt $(shell find $(EXAMPLE_PLUGIN) -name '*.py' -o -name pyproject.toml)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check ./$(EXAMPLE_PLUGIN)
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

# The translation check (tests/test_i18n.py) runs Django's makemessages, which needs GNU gettext's
# xgettext and msgmerge. Installed here when missing and we are root; otherwise a note, and that test skips.
gettext:
	@if command -v xgettext >/dev/null && command -v msgmerge >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing gettext for the translation check (apt-get)..."; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext >/dev/null; } \
	    || echo "note: could not install gettext; the translation check will skip (and fail in CI)"; \
	else \
	  echo "note: xgettext is missing; install it (sudo apt-get install gettext) or the translation check skips"; \
	fi

# The fault tests start private Redis and PostgreSQL servers on spare ports (never
# the machine's own), so they need the server binaries. Installed here when
# missing and we are root; otherwise a note, and those tests skip (fail in CI).
services:
	@if command -v redis-server >/dev/null && ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing redis-server and postgresql for the fault tests (apt-get)..."; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server postgresql >/dev/null; } \
	    || echo "note: could not install redis-server and postgresql; the fault tests will skip (and fail in CI)"; \
	else \
	  echo "note: redis-server or PostgreSQL's server binaries are missing; the fault tests skip"; \
	fi

# The monitoring test scrapes /metrics with a real Prometheus server: Debian's package, installed like chromium.
prometheus:
	@if [ -x $(PROMETHEUS) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing prometheus for the monitoring tests (apt-get)..."; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; } \
	    || echo "note: could not install prometheus; its test will skip (and fail in CI)"; \
	else \
	  echo "note: $(PROMETHEUS) is missing; install it (sudo apt-get install prometheus) or its test skips"; \
	fi

otel-receiver: $(PHOENIX_VENV)/.installed

$(PHOENIX_VENV)/.installed:
	@echo "Installing Arize Phoenix $(PHOENIX_VERSION) into $(PHOENIX_VENV) for the OTLP export test (once)..."
	test -x $(PHOENIX_VENV)/bin/python || $(PYTHON) -m venv $(PHOENIX_VENV)
	$(PHOENIX_VENV)/bin/python -m pip install --quiet --disable-pip-version-check arize-phoenix==$(PHOENIX_VERSION)
	touch $@

# Independent tests run on every core (pytest-xdist); the ones that kill and restart Celery
# workers (`services`) and drive Chromium against a server (`browser`) run after, one at a time.
TEST_WORKERS ?= auto
# Both passes run even when the first fails, so one run reports every failure.
test: setup gettext browser services prometheus otel-receiver schemathesis
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
