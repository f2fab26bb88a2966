"""Production settings come from the environment, and `check --deploy` is clean with the
variables the README documents; every page works under a strict Content-Security-Policy."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def documented_production_variables() -> dict[str, str]:
    """The `export` lines of the README's Production section."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Production", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    variables = {}
    for line in block.strip().splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        variables[name] = shlex.split(value)[0]
    return variables


def _manage(tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "ORCHESTRATE_VAR_DIR": str(tmp_path), **env}
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"):
        if name not in env:
            environment.pop(name, None)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def test_it_passes_check_deploy_with_the_documented_production_variables(tmp_path):
    variables = documented_production_variables()
    assert variables["HTTPS"] == "true"

    result = _manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", env=variables)

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_it_fails_check_deploy_without_them(tmp_path):
    result = _manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", env={})
    assert result.returncode != 0
    assert "SESSION_COOKIE_SECURE" in result.stderr


SERVE_ONE_REQUEST = """
import json
from django.test import Client
client = Client()
plain = client.get("/accounts/login/", HTTP_HOST="orchestrate.example.com")
secure = client.get("/accounts/login/", HTTP_HOST="orchestrate.example.com", HTTP_X_FORWARDED_PROTO="https")
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location")],
    "headers": dict(secure.headers),
    "csrf_cookie_secure": bool(secure.cookies["csrftoken"]["secure"]),
}))
"""


def test_it_sends_the_security_headers_and_secure_cookies_in_production(tmp_path):
    result = _manage(tmp_path, "shell", "-c", SERVE_ONE_REQUEST, env=documented_production_variables())
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])

    assert seen["plain"] == [301, "https://orchestrate.example.com/accounts/login/"]
    headers = seen["headers"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert seen["csrf_cookie_secure"]


@pytest.mark.parametrize(
    ("value", "message"),
    [("X-Forwarded-Proto", "SECURE_PROXY_SSL_HEADER must look like"), ("Bad Header: https", "SECURE_PROXY_SSL_HEADER")],
)
def test_it_refuses_a_malformed_proxy_header(tmp_path, value, message):
    result = _manage(tmp_path, "check", env={"SECURE_PROXY_SSL_HEADER": value})
    assert result.returncode != 0
    assert message in result.stderr


# Every template: nothing the policy would block.
INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"<style\b", re.I), "a <style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "a style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an event handler attribute"),
    (re.compile(r"\shx-on[:-]", re.I), "an hx-on handler (needs eval)"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


def _templates() -> list[Path]:
    folders = [ROOT / "templates", *ROOT.glob("*/templates")]
    return sorted(path for folder in folders for path in folder.rglob("*.html"))


@pytest.mark.parametrize("template", _templates(), ids=lambda path: str(path.relative_to(ROOT)))
def test_it_has_no_inline_script_style_or_handler_in_any_template(template):
    text = template.read_text()
    found = [what for pattern, what in INLINE if pattern.search(text)]
    assert not found, f"{template.relative_to(ROOT)} has {', '.join(found)}"
