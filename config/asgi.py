"""ASGI entry point: HTTP through Django, websockets through Channels.

Websocket connections pass the same-origin check (scheme, host and port;
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

from config.daphne_requests import leave_form_parsing_to_django  # noqa: E402
from config.routing import websocket_application  # noqa: E402
from orchestration.engine.runtime_hooks import server_loaded, server_started  # noqa: E402
from webhooks.cron import start_embedded_scheduler  # noqa: E402

router = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": websocket_application(),
    }
)


leave_form_parsing_to_django()
server_loaded()
start_embedded_scheduler()


async def application(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    """The router, after telling the engine once that a server (and its event loop) is up."""
    server_started()
    return await router(scope, receive, send)
