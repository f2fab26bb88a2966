"""Celery tasks of the distributed mode: beat refreshes the MCP servers' tool lists."""

from __future__ import annotations

from celery import shared_task

from tools_mcp import discovery


@shared_task(name="tools_mcp.refresh_due", ignore_result=True)
def refresh_due() -> None:
    discovery.refresh_due()
