"""Django settings for Orchestrate, read from the environment in one place.

See README.md for the variables. Nothing here needs a service installed:
without DATABASE_URL the database is SQLite under var/, without REDIS_URL
the channel layer is in memory and steps run in worker threads.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from config.env import (
    env_bool,
    env_database,
    env_email,
    env_float,
    env_int,
    env_list,
    env_networks,
    env_proxy_ssl_header,
    env_rate_limits,
    env_redis_url,
    env_secret,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("ORCHESTRATE_VAR_DIR", str(BASE_DIR / "var")) or BASE_DIR / "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY, or a key generated once and kept in var/ for the embedded default."""
    configured = env_str("SECRET_KEY")
    if configured is not None:
        if len(configured) < 32:
            raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters long")
        return configured
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
# The key of secrets kept in the database (workspace integration passwords, secrets typed into tool
# inputs): `tenancy/secrets.py`. Unset, it is derived from SECRET_KEY (then rotating SECRET_KEY needs
# the old key in SECRET_KEY_FALLBACKS); set, the two are independent. Old keys go in the fallbacks.
ORCHESTRATE_SECRETS_KEY = env_str("ORCHESTRATE_SECRETS_KEY", "") or None
if ORCHESTRATE_SECRETS_KEY is not None and len(ORCHESTRATE_SECRETS_KEY) < 32:
    raise ImproperlyConfigured("ORCHESTRATE_SECRETS_KEY must be at least 32 characters long")
ORCHESTRATE_SECRETS_KEY_FALLBACKS = env_list("ORCHESTRATE_SECRETS_KEY_FALLBACKS", [])
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "channels",
    # Bottom of the dependency order first; orchestration sits on top.
    "tenancy",
    "monitoring",
    "tools",
    "caching",
    "safety",
    "persistence",
    "versioning",
    "plugins",
    "learning",
    "orchestration",
    "webhooks",
    "tools_mcp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.security_headers.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language of each request (cookie, then Accept-Language); a signed-in person's choice wins below.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.languages.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "tenancy.middleware.CurrentWorkspaceMiddleware",
    "monitoring.prometheus.RequestMetricsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenancy.context_processors.workspaces",
                "safety.context_processors.pending_approvals",
            ],
        },
    },
]

DATABASES = {"default": env_database("DATABASE_URL", str(VAR_DIR / "orchestrate.sqlite3"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_redis_url("REDIS_URL")

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels-redis, its connections waited for rather than refused past 100 (config/channel_layers.py).
            "BACKEND": "config.channel_layers.RedisChannelLayer",
            # A receive waits for a message with BZPOPMIN for up to 5 s, and redis-py 8 gives up reading
            # after 5 s by default: a message popped in that last moment was read by nobody and lost
            # (pages missed step events). The socket waits longer than the pop.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30, "socket_keepalive": True}]},
        }
    }
else:
    # Channels' in-memory layer, its cleaning bounded (config/channel_layers.py).
    CHANNEL_LAYERS = {"default": {"BACKEND": "config.channel_layers.InMemoryChannelLayer"}}

# How steps run: "embedded" (worker threads in this process) or "celery"
# (Celery workers over Redis). Celery is the default when REDIS_URL is set.
ORCHESTRATE_RUN_MODE = env_str("ORCHESTRATE_RUN_MODE", "celery" if REDIS_URL else "embedded")
if ORCHESTRATE_RUN_MODE not in {"embedded", "celery"}:
    raise ImproperlyConfigured(f"ORCHESTRATE_RUN_MODE must be embedded or celery, got {ORCHESTRATE_RUN_MODE!r}")
if ORCHESTRATE_RUN_MODE == "celery" and not REDIS_URL:
    raise ImproperlyConfigured("ORCHESTRATE_RUN_MODE=celery needs REDIS_URL")
ORCHESTRATE_WORKERS = env_int("ORCHESTRATE_WORKERS", 4, minimum=1)
ORCHESTRATE_STEP_TIMEOUT = env_float("ORCHESTRATE_STEP_TIMEOUT", 300.0, minimum=0.1)
ORCHESTRATE_MAX_ATTEMPTS = env_int("ORCHESTRATE_MAX_ATTEMPTS", 3, minimum=1)
ORCHESTRATE_RETRY_BACKOFF = env_float("ORCHESTRATE_RETRY_BACKOFF", 2.0, minimum=0)
# A running step renews its lease every third of this; a step whose lease ran
# out has lost its worker and is resumed by the sweeper.
ORCHESTRATE_LEASE_SECONDS = env_float("ORCHESTRATE_LEASE_SECONDS", 20.0, minimum=1)
# A worker runs a step its finished step made ready itself, rather than through the broker,
# for up to this long per task; then it sends the next ones, so other runs get a worker.
ORCHESTRATE_CONTINUE_SECONDS = env_float("ORCHESTRATE_CONTINUE_SECONDS", 2.0, minimum=0)
ORCHESTRATE_CHECKPOINT_SECONDS = env_float("ORCHESTRATE_CHECKPOINT_SECONDS", 5.0, minimum=0.1)
# Spans and metric values of steps are buffered per worker process and written this often.
ORCHESTRATE_TELEMETRY_FLUSH_SECONDS = env_float("ORCHESTRATE_TELEMETRY_FLUSH_SECONDS", 1.0, minimum=0.05)
ORCHESTRATE_TELEMETRY_FLUSHER = env_bool("ORCHESTRATE_TELEMETRY_FLUSHER", True)
# The flusher thread also rolls closed hours up for the dashboard this often; 0 leaves it to
# the hourly prune task and `manage.py rollup`.
ORCHESTRATE_ROLLUP_SECONDS = env_float("ORCHESTRATE_ROLLUP_SECONDS", 60.0, minimum=0)
ORCHESTRATE_SWEEP_SECONDS = env_float("ORCHESTRATE_SWEEP_SECONDS", 5.0, minimum=0.1)
# A ready step still unclaimed this long after it was sent is presumed lost and sent again
# (a long queue is not a lost message, so this is well above the lease).
ORCHESTRATE_REQUEUE_SECONDS = env_float("ORCHESTRATE_REQUEUE_SECONDS", 300.0, minimum=1)
# The embedded server runs the sweeper on a thread; off where something else sweeps (tests call it).
ORCHESTRATE_EMBEDDED_SWEEPER = env_bool("ORCHESTRATE_EMBEDDED_SWEEPER", True)
# Each Celery worker's main process runs the sweeper too (one at a time, leader-elected), so beat is optional.
ORCHESTRATE_WORKER_SWEEPER = env_bool("ORCHESTRATE_WORKER_SWEEPER", True)
ORCHESTRATE_OUTPUT_INLINE_BYTES = env_int("ORCHESTRATE_OUTPUT_INLINE_BYTES", 64 * 1024, minimum=256)
ORCHESTRATE_EXTRA_TOOLS = env_list("ORCHESTRATE_EXTRA_TOOLS", [])
# Plugins (the `orchestrate.plugins` entry points): each hook call's time limit, and whether a
# request_submitted hook that raises or overruns refuses the request (else it is skipped).
ORCHESTRATE_EXTRA_PLUGINS = env_list("ORCHESTRATE_EXTRA_PLUGINS", [])  # dotted paths, besides entry points
ORCHESTRATE_PLUGIN_HOOK_TIMEOUT = env_float("ORCHESTRATE_PLUGIN_HOOK_TIMEOUT", 5.0, minimum=0.01)
ORCHESTRATE_PLUGIN_REFUSE_ON_ERROR = env_bool("ORCHESTRATE_PLUGIN_REFUSE_ON_ERROR", False)

# Learning (learning/, versioning/): whether finished runs are learned from (after the run, off the step's
# path), the confidence a learned pattern needs before it plans a request, and the A/B tests' significance level.
ORCHESTRATE_LEARNING = env_bool("ORCHESTRATE_LEARNING", True)
# In the embedded mode the learning thread waits for a moment with no step running, at most this long.
ORCHESTRATE_LEARNING_MAX_DELAY = env_float("ORCHESTRATE_LEARNING_MAX_DELAY", 30.0, minimum=0)
ORCHESTRATE_PATTERN_MIN_CONFIDENCE = env_float("ORCHESTRATE_PATTERN_MIN_CONFIDENCE", 0.5, minimum=0)
if ORCHESTRATE_PATTERN_MIN_CONFIDENCE > 1:
    raise ImproperlyConfigured("ORCHESTRATE_PATTERN_MIN_CONFIDENCE must be between 0 and 1")
ORCHESTRATE_AB_ALPHA = env_float("ORCHESTRATE_AB_ALPHA", 0.05, minimum=0.0001)
if ORCHESTRATE_AB_ALPHA >= 0.5:
    raise ImproperlyConfigured("ORCHESTRATE_AB_ALPHA must be below 0.5")

# Any OpenAI-compatible chat completions endpoint (OpenAI, Ollama, vLLM...).
# With LLM_BASE_URL set the planner asks the model first, and the llm tool works.
LLM_BASE_URL = env_str("LLM_BASE_URL", "") or None
LLM_API_KEY = env_str("LLM_API_KEY", "") or "not-needed"
LLM_MODEL = env_str("LLM_MODEL", "gpt-4o-mini")
LLM_TIMEOUT = env_float("LLM_TIMEOUT", 60.0, minimum=1)

# Safety: how long a critical action waits for a person, and call limits per
# workspace for each integration's operation (count per window of seconds).
ORCHESTRATE_APPROVAL_TIMEOUT = env_float("ORCHESTRATE_APPROVAL_TIMEOUT", 24 * 3600.0, minimum=1)
ORCHESTRATE_RATE_LIMITS = env_rate_limits(
    "ORCHESTRATE_RATE_LIMITS",
    {
        "llm.chat": (60, 60),
        "smtp.send": (30, 60),
        "web.request": (120, 60),
        "caldav.write": (60, 60),
        "mcp.*": (60, 60),  # calls per MCP server (bucket mcp.<server>), per workspace
    },
)

# MCP servers a workspace registers (docs/mcp.md). A stdio server runs one of these commands
# (names on PATH or absolute paths; the installation's choice, since it runs on this host);
# none by default. HTTP servers go through the SSRF guard (WEB_ALLOWED_HOSTS). Tool lists are
# refreshed every ORCHESTRATE_MCP_REFRESH_SECONDS (Celery beat, or a thread of the embedded server).
ORCHESTRATE_MCP_STDIO_COMMANDS = env_list("ORCHESTRATE_MCP_STDIO_COMMANDS", [])
ORCHESTRATE_MCP_TIMEOUT = env_float("ORCHESTRATE_MCP_TIMEOUT", 30.0, minimum=0.1)
ORCHESTRATE_MCP_REFRESH_SECONDS = env_float("ORCHESTRATE_MCP_REFRESH_SECONDS", 3600.0, minimum=1)

# E-mail goes out through Django's SMTP backend; EMAIL_URL sets host, port, login and TLS.
# Without EMAIL_URL nothing is delivered: messages are kept as .eml files in the built-in outbox.
vars().update(env_email("EMAIL_URL"))
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if env_str("EMAIL_URL", "")
    else "tools.integrations.email.outbox.OutboxBackend"
)
OUTBOX_DIR = Path(env_str("ORCHESTRATE_OUTBOX_DIR", str(VAR_DIR / "outbox")) or VAR_DIR / "outbox")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "orchestrate@localhost")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30, minimum=1)

# Calendar over CalDAV; a workspace may set its own URL and credentials (Workspace.integrations["caldav"]).
CALDAV_URL = env_str("CALDAV_URL", "") or None
CALDAV_USERNAME = env_str("CALDAV_USERNAME", "") or None
CALDAV_PASSWORD = env_str("CALDAV_PASSWORD", "") or None

# Outbound HTTP refuses private, loopback and link-local addresses unless the
# host (name, address or CIDR) is listed here.
WEB_ALLOWED_HOSTS = env_list("WEB_ALLOWED_HOSTS", [])
WEB_TIMEOUT = env_float("WEB_TIMEOUT", 20.0, minimum=0.1)
WEB_MAX_BYTES = env_int("WEB_MAX_BYTES", 5 * 1024 * 1024, minimum=1024)
WEB_MAX_REDIRECTS = env_int("WEB_MAX_REDIRECTS", 5, minimum=0)

# Webhooks: inbound body limit, the signature timestamp window, how long a rotated-out
# secret still verifies, outbound notification attempts, and how often cron webhooks are checked.
WEBHOOK_MAX_BODY_BYTES = env_int("WEBHOOK_MAX_BODY_BYTES", 256 * 1024, minimum=1024)
WEBHOOK_TOLERANCE_SECONDS = env_int("WEBHOOK_TOLERANCE_SECONDS", 300, minimum=1)
WEBHOOK_ROTATION_OVERLAP_SECONDS = env_int("WEBHOOK_ROTATION_OVERLAP_SECONDS", 24 * 3600, minimum=0)
WEBHOOK_NOTIFY_ATTEMPTS = env_int("WEBHOOK_NOTIFY_ATTEMPTS", 5, minimum=1)
WEBHOOK_NOTIFY_BACKOFF = env_float("WEBHOOK_NOTIFY_BACKOFF", 5.0, minimum=0)
ORCHESTRATE_CRON_SECONDS = env_float("ORCHESTRATE_CRON_SECONDS", 10.0, minimum=0.1)
# The embedded server runs the cron scheduler on a thread (Celery beat does in the distributed mode).
ORCHESTRATE_EMBEDDED_SCHEDULER = env_bool("ORCHESTRATE_EMBEDDED_SCHEDULER", True)

# Celery is only used in the celery run mode (REDIS_URL set).
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
# Celery's Django fixup would close the database connection after every task
# (a new connection per step); it recycles one after this many tasks instead,
# and config/celery.py lets Django's CONN_MAX_AGE and health checks decide.
CELERY_DB_REUSE_MAX = 100_000
CELERY_TASK_DEFAULT_QUEUE = env_str("ORCHESTRATE_QUEUE", "orchestrate") or "orchestrate"
# Sweeps travel on a queue of their own, so a long step queue never delays recovery.
# A worker consumes both queues unless told otherwise (-Q).
ORCHESTRATE_SWEEP_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}.sweep"
CELERY_TASK_QUEUES: dict[str, dict[str, str]] = {CELERY_TASK_DEFAULT_QUEUE: {}, ORCHESTRATE_SWEEP_QUEUE: {}}
CELERY_TASK_ROUTES = {"orchestration.sweep": {"queue": ORCHESTRATE_SWEEP_QUEUE}}
# Leases, not the broker's visibility timeout, decide when a dead worker's step is resumed.
# Workers sweep on their own; beat, where it runs, adds sweeps (the same leader-elected pass).
CELERY_BEAT_SCHEDULE = {
    "sweep": {
        "task": "orchestration.sweep",
        "schedule": ORCHESTRATE_SWEEP_SECONDS,
        "options": {"queue": ORCHESTRATE_SWEEP_QUEUE, "expires": max(ORCHESTRATE_SWEEP_SECONDS * 2, 2.0)},
    },
    # Cron webhooks: each slot is claimed in the database, so several beats never fire one twice.
    "webhooks-cron": {"task": "webhooks.cron_tick", "schedule": ORCHESTRATE_CRON_SECONDS},
    "mcp-refresh": {"task": "tools_mcp.refresh_due", "schedule": ORCHESTRATE_MCP_REFRESH_SECONDS},
    # The nightly learning batch: every workspace's patterns and prompt scores computed again from all outcomes.
    "learning-nightly": {"task": "learning.nightly", "schedule": crontab(hour=3, minute=17)},
}

# The REST API (api/): personal tokens or the console's session, problem-details errors,
# pages, a request limit per token, and the OpenAPI schema with docs from packaged assets.
API_RATE_LIMIT = env_str("API_RATE_LIMIT", "600/min") or "600/min"
if not API_RATE_LIMIT.partition("/")[0].isdigit() or API_RATE_LIMIT.partition("/")[2] not in {
    "s",
    "sec",
    "second",
    "m",
    "min",
    "minute",
    "h",
    "hour",
    "d",
    "day",
}:
    raise ImproperlyConfigured(
        f"API_RATE_LIMIT must look like 600/min (per s, min, hour or day), got {API_RATE_LIMIT!r}"
    )
if REDIS_URL:
    # API request counts are shared by every server process (each would count alone in memory).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "orchestrate-cache",
        }
    }
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pages",
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"token": API_RATE_LIMIT},
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "api.errors.handle",
    "DEFAULT_SCHEMA_CLASS": "api.schema.ProblemAutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Orchestrate API",
    "DESCRIPTION": "Runs, approvals, drive files, webhooks and workspaces. Authenticate with "
    "`Authorization: Bearer <personal API token>` (Tokens page, or `manage.py api_token create`).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from drf-spectacular-sidecar's packaged files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "AUTHENTICATION_WHITELIST": ["api.auth.TokenAuthentication"],
    "ENUM_NAME_OVERRIDES": {
        "ExecutionStatusEnum": "orchestration.models.ExecutionStatus",
        "StepStatusEnum": "orchestration.models.StepStatus",
        "ApprovalStatusEnum": "safety.models.ApprovalStatus",
    },
}
# A send to a Redis that is down fails in about a second (the sweeper sends it again
# once Redis is back) instead of holding a request or a step for long.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2, "interval_max": 0.3}
CELERY_BROKER_CONNECTION_TIMEOUT = 2.0
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2}
CELERY_BROKER_CONNECTION_MAX_RETRIES = None

# Monitoring (docs/monitoring.md). Logs, metrics, traces and webhook history
# older than ORCHESTRATE_RETENTION_DAYS are pruned every ORCHESTRATE_PRUNE_SECONDS
# (Celery beat, or a thread of the embedded server); 0 keeps them forever.
ORCHESTRATE_RETENTION_DAYS = env_int("ORCHESTRATE_RETENTION_DAYS", 30, minimum=0)
ORCHESTRATE_PRUNE_SECONDS = env_float("ORCHESTRATE_PRUNE_SECONDS", 3600.0, minimum=1)
ORCHESTRATE_PRUNE_BATCH = env_int("ORCHESTRATE_PRUNE_BATCH", 5000, minimum=1)
if ORCHESTRATE_RETENTION_DAYS:
    CELERY_BEAT_SCHEDULE["prune"] = {"task": "monitoring.prune", "schedule": ORCHESTRATE_PRUNE_SECONDS}
# /metrics answers requests from these addresses, and any request with the bearer token.
ORCHESTRATE_METRICS_ALLOW = env_networks("ORCHESTRATE_METRICS_ALLOW", ["127.0.0.1/32", "::1/128"])
ORCHESTRATE_METRICS_TOKEN = env_secret("ORCHESTRATE_METRICS_TOKEN")
# Set in every process of one host (daphne, Celery workers) to add their counters up in
# /metrics; read by prometheus-client itself, which needs the directory to exist.
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR", "") or None
if PROMETHEUS_MULTIPROC_DIR:
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
# With an OTLP endpoint, spans are also exported with the OpenTelemetry SDK (which reads
# the other OTEL_* variables itself); unset, no exporter is created.
OTEL_EXPORTER_OTLP_ENDPOINT = env_str("OTEL_EXPORTER_OTLP_ENDPOINT", "") or None

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "orchestration:index"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
# The console speaks English and Hebrew (docs/i18n.md); each name is written in its own language.
LANGUAGES = [("en", "English"), ("he", "עברית")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "orchestrate_language"
# Date and number formats per language (config/formats/<lang>/formats.py): English keeps ISO dates.
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve straight from the app and project static folders: no collectstatic
# step stands between a fresh clone and a working console.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")) or VAR_DIR / "media")

# Request bodies: refused with 413 before they are read when over these
# (config/body_limits.py, config/daphne_limits.py). Signed-in users may upload
# up to the first; every other request (login, webhooks) gets the second.
ORCHESTRATE_MAX_BODY_BYTES = env_int("ORCHESTRATE_MAX_BODY_BYTES", 100 * 1024 * 1024, minimum=64 * 1024)
ORCHESTRATE_MAX_ANONYMOUS_BODY_BYTES = env_int("ORCHESTRATE_MAX_ANONYMOUS_BODY_BYTES", 1024 * 1024, minimum=1024)
# Uploads past this go to a temporary file, never all into memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# Login throttling (tenancy/login_throttle.py): failures per username and per
# address slow down, then lock for a while; counted in the database, so a
# restart does not reset them.
LOGIN_FAILURES_BEFORE_DELAY = env_int("LOGIN_FAILURES_BEFORE_DELAY", 3, minimum=1)
LOGIN_FAILURES_BEFORE_LOCK = env_int("LOGIN_FAILURES_BEFORE_LOCK", 10, minimum=1)
LOGIN_LOCK_SECONDS = env_int("LOGIN_LOCK_SECONDS", 15 * 60, minimum=1)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60, minimum=1)

# Production behind TLS: HTTPS=true turns on secure cookies, the redirect to
# https and HSTS; each can still be set on its own. Behind a proxy that ends
# TLS, SECURE_PROXY_SSL_HEADER names the header it sets ("X-Forwarded-Proto: https").
HTTPS = env_bool("HTTPS", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", HTTPS)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_PROXY_SSL_HEADER = env_proxy_ssl_header("SECURE_PROXY_SSL_HEADER")
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Sent on every response (config/security_headers.py). The pages load only
# their own scripts and styles: no inline script, style or handler anywhere.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

# Run logs also go to the `logs` table, batched by monitoring.log_handler (its
# docstring says why it hangs on the domain loggers and not on the root). The
# domain loggers pass INFO even when LOG_LEVEL is higher, because the run pages
# show those lines; the console handler still shows LOG_LEVEL and up only.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "level": env_str("LOG_LEVEL", "INFO")},
        "database": {
            "class": "monitoring.log_handler.DatabaseLogHandler",
            "level": "INFO",
            "flush_interval": 1.0,
            "capacity": 200,
            "include_warnings": True,
            # 0 writes only on flush() or a full queue, in the logging thread: what tests want.
            "background": env_bool("ORCHESTRATE_LOG_FLUSHER", True),
        },
    },
    "loggers": {
        app: {"handlers": ["database"], "level": "DEBUG" if env_str("LOG_LEVEL", "INFO") == "DEBUG" else "INFO"}
        for app in (
            "orchestration",
            "persistence",
            "caching",
            "tools",
            "safety",
            "webhooks",
            "plugins",
            "learning",
            "versioning",
        )
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
