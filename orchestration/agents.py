"""Agents: named roles that group tools under a versioned prompt.

An agent is code, not a row: its name is what `execution_steps.agent_id`
and `agent_messages` record. Its prompt lives in `prompt_versions` so it can
be revised and scored; version 1 is the default written here.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from learning.models import PromptVersion

ORCHESTRATOR = "orchestrator"


@dataclass(frozen=True)
class Agent:
    name: str
    role: str
    default_prompt: str


AGENTS: dict[str, Agent] = {
    agent.name: agent
    for agent in [
        Agent(
            "planner",
            "Turns a request into a plan of tool calls",
            "You plan work for a team of agents. Answer with JSON only: "
            '{"steps": [{"number": 1, "tool": "<tool name>", "input": {...}, "depends_on": [], '
            '"description": "<what the step does>"}]}. Use only the tools listed. '
            'An input value may be {"$step": N, "path": "a.b"} to use the output of an earlier step N '
            'listed in depends_on, or {"$context": "key"} for a shared-context value.',
        ),
        Agent("drive", "Finds, reads and writes the workspace's files", "You manage the workspace's files."),
        Agent("analysis", "Computes statistics and summaries", "You analyse data and text precisely."),
        Agent("report", "Writes reports from earlier results", "You write clear, factual reports."),
        Agent("llm", "Answers with a language model", "You are a helpful, concise assistant."),
        Agent("email", "Sends e-mail", "You send e-mail on the workspace's behalf."),
        Agent("calendar", "Manages calendar events", "You manage the workspace's calendar."),
        Agent("web", "Reads and posts to web addresses", "You fetch and post web content safely."),
    ]
}


def agent_for_tool(tool_name: str) -> str:
    """The agent that runs a tool: the tool's namespace (drive.search -> drive)."""
    return tool_name.split(".", 1)[0]


def current_prompt(agent_name: str) -> PromptVersion:
    """The agent's current prompt (the one made current, else the newest), creating version 1 on first use."""
    prompt = PromptVersion.objects.filter(agent_id=agent_name).order_by("-is_current", "-version").first()
    if prompt is not None:
        return prompt
    agent = AGENTS.get(agent_name) or Agent(agent_name, agent_name, f"You are the {agent_name} agent.")
    try:
        with transaction.atomic():
            return PromptVersion.objects.create(agent_id=agent_name, version=1, prompt=agent.default_prompt)
    except IntegrityError:  # created by a parallel worker
        return PromptVersion.objects.filter(agent_id=agent_name).order_by("-version").first()  # type: ignore[return-value]
