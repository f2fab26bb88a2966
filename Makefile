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

.PHONY: setup system-packages browser services prometheus test-deps otel-receiver schemathesis run test typecheck lint format screenshots clean

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

# Debian packages the tests drive: Chromium (browser tests; Playwright cannot download
# its own offline), redis-server and PostgreSQL's server binaries (the fault tests start
# private servers on spare ports, never the machine's own), Prometheus (the scrape
# test) and GNU gettext (the translation check runs Django's makemessages, tests/test_i18n.py).
# Whatever is missing is installed in one apt-get when we are root; otherwise a
# note, and the tests that need it skip (in CI a skip is a failure, see tests/conftest.py).
system-packages:
	@missing=""; recommends_off=""; \
	[ -x $(CHROMIUM) ] || missing="$$missing chromium"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v xgettext >/dev/null && command -v msgmerge >/dev/null || missing="$$missing gettext"; \
	[ -x $(PROMETHEUS) ] || recommends_off="prometheus"; \
	if [ -z "$$missing$$recommends_off" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing$$missing $$recommends_off for the tests (apt-get, once)..."; \
	  { apt-get update -qq \
	    && { [ -z "$$missing" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; } \
	    && { [ -z "$$recommends_off" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$recommends_off >/dev/null; }; } \
	    || echo "note: could not install$$missing $$recommends_off; the tests that need them skip (and fail in CI)"; \
	else \
	  echo "note: missing$$missing $$recommends_off (sudo apt-get install$$missing $$recommends_off); the tests that need them skip"; \
	fi

# The names the docs and older habits use for parts of the above.
browser services prometheus: system-packages

# Everything `make test` needs, fetched side by side (apt and three pip installs).
test-deps:
	@$(MAKE) --no-print-directory -j4 setup system-packages otel-receiver schemathesis

otel-receiver: $(PHOENIX_VENV)/.installed

$(PHOENIX_VENV)/.installed:
	@echo "Installing Arize Phoenix $(PHOENIX_VERSION) into $(PHOENIX_VENV) for the OTLP export test (once)..."
	test -x $(PHOENIX_VENV)/bin/python || $(PYTHON) -m venv $(PHOENIX_VENV)
	$(PHOENIX_VENV)/bin/python -m pip install --quiet --disable-pip-version-check arize-phoenix==$(PHOENIX_VERSION)
	touch $@

# Independent tests run on every core (pytest-xdist); a second pass runs the rest, chosen
# by the database as the run modes are (README, "Run modes"): on SQLite (the embedded
# default) the `browser` tests, each with its own server and Chromium, also on every core;
# on PostgreSQL (DATABASE_URL=postgres://..., the distributed mode's database) the
# `services` tests, one at a time: they kill and restart Celery workers, beat, Redis and
# PostgreSQL (the crash suite among them). Celery workers over SQLite is not a supported setup.
TEST_WORKERS ?= auto
ifneq ($(filter postgres%,$(DATABASE_URL)),)
SECOND_PASS := -m services
else
SECOND_PASS := -n $(TEST_WORKERS) -m "browser and not services"
endif
# Both passes run even when the first fails, so one run reports every failure.
test: test-deps
	@$(PY) -m pytest -n $(TEST_WORKERS) -m "not services and not browser"; first=$$?; \
	$(PY) -m pytest $(SECOND_PASS); second=$$?; \
	test $$first -eq 0 && test $$second -eq 0

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
