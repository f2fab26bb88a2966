"""Who Orchestrate's MCP server answers: what the endpoint hands the tools, apart from the SDK.

The endpoint (tools_mcp/endpoint.py) checks the token before it loads the
SDK, so it needs these without importing tools_mcp/server.py.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

# The key of the ASGI scope under which the endpoint hands the tools their caller.
SCOPE_KEY = "orchestrate.mcp"


@dataclass(frozen=True)
class Caller:
    """Who the endpoint let in: the token's user, in the workspace of the URL."""

    user_id: int
    workspace_id: uuid.UUID
