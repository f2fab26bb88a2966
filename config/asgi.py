"""ASGI entry point: HTTP through Django, websockets through Channels.

HTTP requests under /mcp/ go to Orchestrate's MCP server (tools_mcp/endpoint.py), the rest to
Django. HTTP request bodies are bounded (config/body_limits.py, and inside daphne
config/daphne_limits.py). Websocket connections pass the same-origin check (scheme, host and port;
config/routing.py) and session authentication before they reach a consumer;
consumers still check workspace membership themselves (config/consumers.py).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

if TYPE_CHECKING:
    from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, Scope

from channels.routing import ProtocolTypeRouter  # noqa: E402

from config.body_limits import BodyLimitMiddleware  # noqa: E402
from config.daphne_limits import install as install_daphne_limits  # noqa: E402
from config.memory import freeze_startup_objects  # noqa: E402
from config.routing import websocket_application  # noqa: E402
from monitoring import runtime as monitoring_runtime  # noqa: E402
from monitoring.prometheus import count_websockets  # noqa: E402
from orchestration.engine.runtime_hooks import server_loaded, server_started  # noqa: E402
from tools_mcp.endpoint import route as with_mcp_endpoint  # noqa: E402
from tools_mcp.scheduling import start_embedded_refresher  # noqa: E402
from webhooks.cron import start_embedded_scheduler  # noqa: E402

router = ProtocolTypeRouter(
    {
        # /mcp/<workspace id>/ is Orchestrate's MCP server (tools_mcp/endpoint.py); the rest is Django's.
        "http": BodyLimitMiddleware(with_mcp_endpoint(django_asgi_app)),
        "websocket": count_websockets(websocket_application()),
    }
)


install_daphne_limits()
server_loaded()
monitoring_runtime.server_loaded()
start_embedded_scheduler()
start_embedded_refresher()
freeze_startup_objects()


async def application(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    """The router, after telling the engine once that a server (and its event loop) is up."""
    server_started()
    return await router(scope, receive, send)
