"""Login throttling: failures per username and per address slow down, then lock, with a clear
message; the lock is in the database, so another (restarted) process still refuses."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tenancy.models import LoginThrottle
from tests.factories.tenancy import UserFactory
from tests.support.engine import database_url

ROOT = Path(__file__).resolve().parent.parent
LOGIN = "/accounts/login/"


def attempt(client, username: str, password: str, address: str = "203.0.113.7"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in(response) -> bool:
    return response.status_code == 302


def let_time_pass(seconds: int) -> None:
    """Move every recorded failure back in time, as if `seconds` had passed."""
    for row in LoginThrottle.objects.all():
        row.first_failure_at -= timedelta(seconds=seconds)
        row.last_failure_at -= timedelta(seconds=seconds)
        if row.locked_until:
            row.locked_until -= timedelta(seconds=seconds)
        row.save()


@pytest.mark.django_db
def test_it_slows_down_after_a_few_failures_even_for_the_right_password(client, alice, settings):
    for _ in range(settings.LOGIN_FAILURES_BEFORE_DELAY):
        assert attempt(client, "alice", "wrong").status_code == 200

    response = attempt(client, "alice", "password")

    assert response.status_code == 429
    assert "Too many failed logins: wait" in response.content.decode()
    assert int(response["Retry-After"]) >= 1
    let_time_pass(5)
    assert signed_in(attempt(client, "alice", "password"))
    assert not LoginThrottle.objects.filter(key="user:alice").exists()  # a success clears the username


@pytest.mark.django_db
def test_it_locks_a_username_after_repeated_failures_with_a_clear_message(client, alice, settings):
    for number in range(settings.LOGIN_FAILURES_BEFORE_LOCK):
        let_time_pass(61)  # never refused for speed: each guess comes after its delay (at most 60 s)
        attempt(client, "alice", "wrong", address=f"198.51.100.{number}")

    response = attempt(client, "alice", "password", address="192.0.2.99")

    assert response.status_code == 429
    page = response.content.decode()
    assert "logins are locked for about 15 minutes" in page
    let_time_pass(settings.LOGIN_LOCK_SECONDS + 1)
    assert signed_in(attempt(client, "alice", "password", address="192.0.2.99"))


@pytest.mark.django_db
def test_it_locks_an_address_that_guesses_many_usernames(client, alice, settings):
    for number in range(settings.LOGIN_FAILURES_BEFORE_LOCK):
        let_time_pass(61)
        attempt(client, f"guess{number}", "wrong", address="203.0.113.50")

    assert attempt(client, "alice", "password", address="203.0.113.50").status_code == 429
    assert signed_in(attempt(client, "alice", "password", address="203.0.113.51"))


@pytest.mark.django_db
def test_it_throttles_the_admin_login_too(client, settings):
    UserFactory.create(username="root", is_staff=True, is_superuser=True)
    for _ in range(settings.LOGIN_FAILURES_BEFORE_DELAY):
        client.post("/admin/login/", {"username": "root", "password": "wrong"}, REMOTE_ADDR="203.0.113.9")
    response = client.post("/admin/login/", {"username": "root", "password": "password"}, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 200
    assert "Too many failed logins: wait" in response.content.decode()


CHECK_IN_A_NEW_PROCESS = """
from django.test import RequestFactory
from tenancy.login import LoginForm
request = RequestFactory().post("/accounts/login/", REMOTE_ADDR="192.0.2.200")
form = LoginForm(request, data={"username": "alice", "password": "password"})
print("VALID" if form.is_valid() else " ".join(form.non_field_errors()))
"""


@pytest.mark.django_db(transaction=True)
def test_it_keeps_the_lock_across_a_restart(client, alice, settings, tmp_path):
    for number in range(settings.LOGIN_FAILURES_BEFORE_LOCK):
        let_time_pass(61)
        attempt(client, "alice", "wrong", address=f"198.51.100.{number}")

    environment = {**os.environ, "DATABASE_URL": database_url(), "ORCHESTRATE_VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", CHECK_IN_A_NEW_PROCESS],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert "logins are locked" in result.stdout
    assert LoginThrottle.objects.get(key="user:alice").locked_until > timezone.now()
