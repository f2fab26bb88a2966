"""`make run`'s command on a fresh data directory: it sets up, serves, and its printed login works."""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture
def served(tmp_path):
    port = _free_port()
    environment = {**os.environ, "ORCHESTRATE_VAR_DIR": str(tmp_path)}
    environment.pop("DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    listening = False
    # Setting up a fresh database takes a while on a busy CI machine (60 s was once not enough).
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not listening:
        line = process.stdout.readline()
        lines.append(line)
        listening = "Listening on TCP address" in line
        if process.poll() is not None:
            break
    try:
        assert process.poll() is None, "".join(lines)
        assert listening, "".join(lines)
        yield f"http://127.0.0.1:{port}", "".join(lines)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_it_answers_orchestrate_with_a_login_redirect_and_the_printed_login_works(served):
    base, output = served
    plain = urllib.request.build_opener(_NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        plain.open(f"{base}/orchestrate")
    assert redirect.value.code == 302
    assert redirect.value.headers["Location"] == "/accounts/login/?next=/orchestrate"

    username, password = re.search(r"Log in as '(\w+)' with password '([^']+)'", output).groups()
    after_login = output[output.index("Log in as") :]
    assert "E-mail:         built-in outbox (EMAIL_URL is unset)" in after_login
    assert "Calendar:       built-in, one per workspace (CALDAV_URL is unset)" in after_login
    assert "Language model: none (LLM_BASE_URL is unset)" in after_login
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login_page = browser.open(f"{base}/accounts/login/?next=/orchestrate").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)
    form = urllib.parse.urlencode(
        {"username": username, "password": password, "next": "/orchestrate", "csrfmiddlewaretoken": token}
    ).encode()
    request = urllib.request.Request(f"{base}/accounts/login/", data=form, headers={"Referer": f"{base}/"})
    console = browser.open(request)
    assert console.url == f"{base}/orchestrate"
    page = console.read().decode()
    assert "Executions" in page
    assert "Demo" in page
    assert browser.open(f"{base}/static/css/orchestrate.css").status == 200
    assert browser.open(f"{base}/static/django_htmx/htmx-2.min.js").status == 200


def test_it_names_the_real_services_when_they_are_configured(settings):
    from orchestration.management.commands.serve import integrations_summary

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "mail.example.com", 587
    settings.CALDAV_URL = "https://user:secret@dav.example.com/dav/"
    settings.LLM_BASE_URL, settings.LLM_MODEL = "http://127.0.0.1:11434/v1", "llama3"

    mail, calendar, model = integrations_summary()

    assert mail == "E-mail:         real, SMTP at mail.example.com:587"
    assert calendar == "Calendar:       real, CalDAV at dav.example.com (one calendar per workspace)"
    assert model == "Language model: real, llama3 at 127.0.0.1:11434"
    assert "secret" not in calendar
