from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def ensure_agent_prompts(**kwargs: Any) -> None:
    """Give every agent its version-1 prompt, so prompts can be listed, revised and scored."""
    from django.db import connection

    if "prompt_versions" not in connection.introspection.table_names():
        return
    from orchestration.agents import AGENTS, current_prompt

    for name in AGENTS:
        current_prompt(name)


class OrchestrationConfig(AppConfig):
    name = "orchestration"
    verbose_name = "Core orchestration"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from orchestration import tasks
        from orchestration.engine import dispatch, embedded
        from orchestration.engine.approvals import wake_step
        from orchestration.publishing import membership_saved_or_deleted
        from safety.signals import approval_decided
        from tenancy.models import WorkspaceMember

        # One task table for both run modes; dispatch knows it only through these.
        embedded.use_tasks(tasks.TASKS)
        dispatch.use_transport("embedded", embedded.EmbeddedTransport())
        dispatch.use_transport("celery", tasks.CeleryTransport())

        post_migrate.connect(ensure_agent_prompts, sender=self, dispatch_uid="orchestration.ensure_agent_prompts")
        approval_decided.connect(wake_step, dispatch_uid="orchestration.wake_step")
        # Open consumers keep a user's memberships in memory; a change tells them to read it again.
        for name, signal in (("saved", post_save), ("deleted", post_delete)):
            signal.connect(
                membership_saved_or_deleted, sender=WorkspaceMember, dispatch_uid=f"orchestration.membership_{name}"
            )
