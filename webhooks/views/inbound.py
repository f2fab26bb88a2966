"""The public endpoint senders POST to; everything it decides is in `webhooks.receiving`."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from webhooks.receiving import receive


@csrf_exempt  # signed by the sender instead; there is no session to forge
@require_POST
def inbound(request: HttpRequest, public_id: str) -> JsonResponse:
    headers = {name.lower(): value for name, value in request.headers.items()}
    declared = request.META.get("CONTENT_LENGTH") or "0"
    too_big = not declared.isdigit() or int(declared) > settings.WEBHOOK_MAX_BODY_BYTES
    body: bytes | None = None
    if not too_big:  # an oversize body is refused unread
        try:
            body = request.body
        except RequestDataTooBig:
            body = None
    reception = receive(public_id, body, headers)
    answer: dict[str, object] = {"status": reception.status, "detail": reception.reason}
    if reception.firing is not None:
        answer["firing"] = str(reception.firing.pk)
        if reception.firing.execution_id:
            answer["execution"] = str(reception.firing.execution_id)
    return JsonResponse(answer, status=reception.status)
