"""Fixed people for access tests, as in the style guide.

alice owns workspace A, bob is her teammate (operator in A), charlie is a
member of workspace B only and must never see A's rows.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from tenancy.models import Workspace
from tenancy.roles import Role
from tests.factories.tenancy import MemberFactory, UserFactory, WorkspaceFactory

pytest_plugins = [
    "tests.support.engine",
    "tests.support.openai_server",
    "tests.support.smtp_server",
    "tests.support.caldav_server",
    "tests.support.views",
    "tests.support.private_services",
    "tests.support.monitoring_servers",
]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_configure(config):
    from django.conf import settings

    # Hashing with PBKDF2 would be most of the suite's time; tests need logins, not strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The translations as the .po files say now (make setup compiles them too; this takes milliseconds).
    from config.catalogues import compile_catalogues

    for locale_dir in settings.LOCALE_PATHS:
        compile_catalogues(Path(locale_dir))


def pytest_collection_modifyitems(config, items):
    """The crash suite runs in the PostgreSQL pass (DATABASE_URL postgres://...), or when asked for by name."""
    wanted = os.environ.get("DATABASE_URL", "").startswith("postgres") or os.environ.get("ORCHESTRATE_CRASH_SUITE")
    if wanted:
        return
    kept = [item for item in items if item.get_closest_marker("crash") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item.get_closest_marker("crash")])
        items[:] = kept


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI a test that skips for a missing service is a failure, not a pass."""
    report = yield
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every service must be present: {report.longrepr}"
    return report


@pytest.fixture(scope="session", autouse=True)
def _test_logs_stay_in_the_test_database(django_db_setup):
    """Drop log lines still buffered when the test database goes away.

    Otherwise the handler would write them at exit into whatever database
    the settings name after the tests: a developer's own.
    """
    yield
    from monitoring.batching import discard_telemetry
    from monitoring.log_handler import discard_database_logs

    discard_database_logs()
    discard_telemetry()


@pytest.fixture
def workspace_a(db: None) -> Workspace:
    return WorkspaceFactory.create(name="A")


@pytest.fixture
def workspace_b(db: None) -> Workspace:
    return WorkspaceFactory.create(name="B")


@pytest.fixture
def alice(workspace_a: Workspace) -> User:
    user = UserFactory.create(username="alice")
    MemberFactory.create(workspace=workspace_a, user=user, role=Role.OWNER)
    return user


@pytest.fixture
def bob(workspace_a: Workspace) -> User:
    user = UserFactory.create(username="bob")
    MemberFactory.create(workspace=workspace_a, user=user, role=Role.OPERATOR)
    return user


@pytest.fixture
def charlie(workspace_b: Workspace) -> User:
    user = UserFactory.create(username="charlie")
    MemberFactory.create(workspace=workspace_b, user=user, role=Role.OWNER)
    return user


@pytest.fixture
def victor(workspace_a: Workspace) -> User:
    """A viewer in A: sees A's runs, may change nothing."""
    user = UserFactory.create(username="victor")
    MemberFactory.create(workspace=workspace_a, user=user, role=Role.VIEWER)
    return user
