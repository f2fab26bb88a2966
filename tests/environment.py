"""Loaded by pytest (`-p tests.environment`) before Django is set up.

It gives the test process and every worker process it starts the same
extra tools and one shared drive root, as an operator would configure them
with environment variables.
"""

from __future__ import annotations

import os
import sys
import tempfile

os.environ.setdefault(
    "ORCHESTRATE_EXTRA_TOOLS",
    "tests.support.tools.EffectTool,tests.support.tools.NoopTool,tests.support.tools.FlakyTool,"
    "tests.support.tools.SleepTool,tests.support.tools.CriticalEffectTool,tests.support.tools.LockingTool,"
    "tests.support.tools.LimitedTool,tests.support.tools.ShareTool,tests.support.tools.DatabaseBlipTool,"
    "tests.support.tools.OddsTool",
)
# Plugins that record and misbehave on demand (their row's settings say when), beside the installed example.
os.environ.setdefault(
    "ORCHESTRATE_EXTRA_PLUGINS",
    "tests.support.plugins.Recorder,tests.support.plugins.Raiser,tests.support.plugins.Broken",
)
# Log lines are written when a test flushes them, not by a thread that could
# wait on a test's open transaction.
os.environ.setdefault("ORCHESTRATE_LOG_FLUSHER", "0")
# Likewise buffered spans and metrics: written when a run ends or a test flushes them.
os.environ.setdefault("ORCHESTRATE_TELEMETRY_FLUSHER", "0")
# The embedded learning thread waits for a quiet moment at most this long (tests wait for learning to catch up).
os.environ.setdefault("ORCHESTRATE_LEARNING_MAX_DELAY", "5")
# Tests sweep when they mean to; a background sweeper would act on other tests' rows.
os.environ.setdefault("ORCHESTRATE_EMBEDDED_SWEEPER", "false")
os.environ.setdefault("ORCHESTRATE_WORKER_SWEEPER", "false")
os.environ.setdefault("ORCHESTRATE_EMBEDDED_SCHEDULER", "false")
os.environ.setdefault("ORCHESTRATE_RATE_LIMITS", "test.call=2/2")
# The stdio MCP server the tests register (mcp-server-git, from requirements-dev.txt), by its path.
os.environ.setdefault("ORCHESTRATE_MCP_STDIO_COMMANDS", os.path.join(os.path.dirname(sys.executable), "mcp-server-git"))
os.environ.setdefault("MEDIA_ROOT", tempfile.mkdtemp(prefix="orchestrate-test-media-"))
# The built-in outbox of the servers and workers the tests start: never the developer's var/outbox.
os.environ.setdefault("ORCHESTRATE_OUTBOX_DIR", tempfile.mkdtemp(prefix="orchestrate-test-outbox-"))
# Celery workers started by tests listen on a queue of their own: one per test process, so the
# xdist workers of a parallel run (which inherit the controller's environment) never share one.
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER")
if _xdist_worker:
    os.environ["ORCHESTRATE_QUEUE"] = f"orchestrate-test-{os.getpid()}-{_xdist_worker}"
else:
    os.environ.setdefault("ORCHESTRATE_QUEUE", f"orchestrate-test-{os.getpid()}")
# Every process the tests start (daphne, Celery workers) adds its Prometheus counters up
# in one directory, as the processes of one host do in production (docs/monitoring.md).
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="orchestrate-test-prometheus-"))
