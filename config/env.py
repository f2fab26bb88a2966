"""Typed readers for environment variables.

Every setting that comes from the environment is read here, through one of
these helpers, so a bad value fails at start-up with the variable's name
instead of surfacing later as a confusing error.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any
from urllib.parse import unquote, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false, 1/0, yes/no), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_database(name: str, default_sqlite_path: str) -> dict[str, Any]:
    """Parse a database URL; SQLite gets WAL mode and immediate transactions.

    WAL lets the console read while worker threads write; IMMEDIATE takes the
    write lock at BEGIN so concurrent writers queue on the busy timeout instead
    of failing with "database is locked" halfway through a transaction.
    """
    raw = os.environ.get(name) or f"sqlite:///{default_sqlite_path}"
    try:
        config = dj_database_url.parse(raw, conn_max_age=0)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is not a valid database URL: {exc}") from None
    engine = config.get("ENGINE", "")
    if engine == "django.db.backends.sqlite3":
        # A file, not Django's in-memory default, so the engine's worker
        # threads share the test database the way they share the real one.
        config["TEST"] = {"NAME": f"{config['NAME']}.test"}
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    elif engine == "django.db.backends.postgresql":
        # Django turns psycopg's prepared statements off (None); a threshold no statement reaches
        # keeps Django's own queries unprepared while the engine's per-step statements, which ask
        # for it, are prepared (persistence/sql.py).
        config.setdefault("OPTIONS", {})["prepare_threshold"] = 2**31 - 1
    else:
        raise ImproperlyConfigured(f"{name} must be a sqlite:// or postgres:// URL, got {engine or raw!r}")
    return dict(config)


def env_redis_url(name: str) -> str | None:
    raw = os.environ.get(name)
    if not raw:
        return None
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(f"{name} must be a redis:// or rediss:// URL, got {raw!r}")
    return raw


def env_email(name: str) -> dict[str, Any]:
    """Django e-mail settings from one URL: smtp://user:pass@host:port, smtp+tls://..., smtps://..."""
    raw = os.environ.get(name)
    if not raw:
        return {}
    parsed = urlsplit(raw)
    schemes = {"smtp": (False, False), "smtp+tls": (True, False), "smtps": (False, True)}
    if parsed.scheme not in schemes or not parsed.hostname:
        raise ImproperlyConfigured(f"{name} must look like smtp://user:password@host:port (or smtp+tls://, smtps://)")
    use_tls, use_ssl = schemes[parsed.scheme]
    try:
        port = parsed.port or (465 if use_ssl else 587 if use_tls else 25)
    except ValueError:
        raise ImproperlyConfigured(f"{name} has an invalid port") from None
    return {
        "EMAIL_HOST": parsed.hostname,
        "EMAIL_PORT": port,
        "EMAIL_HOST_USER": unquote(parsed.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parsed.password or ""),
        "EMAIL_USE_TLS": use_tls,
        "EMAIL_USE_SSL": use_ssl,
    }


def env_rate_limits(name: str, default: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """Limits as "integration.operation=LIMIT/WINDOW_SECONDS,...", merged over the defaults."""
    limits = dict(default)
    raw = os.environ.get(name)
    if not raw:
        return limits
    for item in raw.split(","):
        bucket, _, rule = item.strip().partition("=")
        count, _, window = rule.partition("/")
        if "." not in bucket or not count.isdigit() or not window.isdigit() or int(window) < 1:
            raise ImproperlyConfigured(f"{name}: {item.strip()!r} is not integration.operation=LIMIT/SECONDS")
        limits[bucket] = (int(count), int(window))
    return limits


def env_proxy_ssl_header(name: str) -> tuple[str, str] | None:
    """The header a TLS-ending proxy sets, as "X-Forwarded-Proto: https", in Django's form."""
    raw = os.environ.get(name)
    if not raw:
        return None
    header, sep, value = raw.partition(":")
    header, value = header.strip(), value.strip()
    if not sep or not header or not value or not all(c.isalnum() or c == "-" for c in header):
        raise ImproperlyConfigured(f"{name} must look like 'X-Forwarded-Proto: https', got {raw!r}")
    return "HTTP_" + header.upper().replace("-", "_"), value


def env_networks(name: str, default: list[str]) -> list[str]:
    """Comma-separated addresses or CIDR networks ("127.0.0.1,10.0.0.0/8"), checked, as strings."""
    networks = env_list(name, default)
    for item in networks:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {item!r} is not an IP address or CIDR network") from None
    return networks


def env_secret(name: str) -> str | None:
    """A secret from NAME, or from the file NAME_FILE names (as container secrets are mounted)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read().strip() or None
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read {path}: {exc}") from None
    return os.environ.get(name) or None
