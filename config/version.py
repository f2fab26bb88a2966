"""The Orchestrate version plugins declare support for (kept equal to pyproject.toml's)."""

from __future__ import annotations

VERSION = "0.1.0"
