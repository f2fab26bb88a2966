"""The one way Orchestrate talks to a language model.

Any OpenAI-compatible chat completions endpoint works (OpenAI, Ollama,
vLLM...), configured by LLM_BASE_URL, LLM_API_KEY, LLM_MODEL and
LLM_TIMEOUT. The llm tools and the engine's planner both call `chat()`, so
failures are translated here, once, into the tool contract's errors:
connection errors, timeouts, 429 and 5xx are `RetryableToolError` (the
engine retries with backoff); any other API error is `ToolError`. The SDK's
own retries are off so the engine's retry policy is the only one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings

from tools.base import RetryableToolError, ToolError

if TYPE_CHECKING:
    import openai
    from openai.types.chat import ChatCompletionMessageParam

__all__ = ["ChatReply", "chat", "chat_json", "llm_configured"]


@dataclass(frozen=True)
class ChatReply:
    content: str
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    model: str = ""  # the model that answered, as the server reports it


def llm_configured() -> bool:
    """Whether a language model endpoint is configured (LLM_BASE_URL is set)."""
    return bool(settings.LLM_BASE_URL)


def configured_model() -> str:
    return str(settings.LLM_MODEL)


def chat(
    messages: Sequence[Mapping[str, Any]],
    *,
    json_mode: bool = False,
    model: str | None = None,
    temperature: float | None = None,
    timeout: float | None = None,
) -> ChatReply:
    """One chat completion; `timeout` (seconds) may only shorten LLM_TIMEOUT, e.g. to a step's deadline."""
    if not llm_configured():
        raise ToolError("No language model is configured: set LLM_BASE_URL")
    if not messages:
        raise ToolError("A chat needs at least one message")
    seconds = float(settings.LLM_TIMEOUT) if timeout is None else min(float(settings.LLM_TIMEOUT), timeout)
    model_name = model or configured_model()
    options: dict[str, Any] = {}
    if json_mode:
        options["response_format"] = {"type": "json_object"}
    if temperature is not None:
        options["temperature"] = temperature
    # Imported on the first chat, not with this module: the SDK alone was a quarter of the start-up
    # of every process, and most never call a model.
    import openai

    client = openai.OpenAI(base_url=settings.LLM_BASE_URL, api_key=settings.LLM_API_KEY, timeout=seconds, max_retries=0)
    try:
        with client:
            completion = client.chat.completions.create(
                model=model_name,
                # Role/content mappings as the caller built them; the endpoint validates their shape.
                messages=cast("list[ChatCompletionMessageParam]", [dict(message) for message in messages]),
                **options,
            )
    except openai.APITimeoutError:
        raise RetryableToolError(f"The language model did not answer within {seconds:g} seconds") from None
    except openai.APIConnectionError as exc:
        raise RetryableToolError(f"Could not reach the language model at {_host()}: {_cause(exc)}") from None
    except openai.APIStatusError as exc:
        raise _status_error(exc, model_name) from None
    except openai.APIError as exc:  # e.g. a reply that is not a chat completion
        raise ToolError(f"The language model sent an unusable reply: {exc.message}") from None
    return _reply(completion, model_name)


def chat_json(
    messages: Sequence[Mapping[str, Any]],
    *,
    model: str | None = None,
    temperature: float | None = None,
    timeout: float | None = None,
) -> tuple[Any, ChatReply]:
    """A chat in JSON mode, and its content parsed; bad JSON is retryable, as sampling again may fix it."""
    reply = chat(messages, json_mode=True, model=model, temperature=temperature, timeout=timeout)
    return parse_json(reply.content), reply


def parse_json(content: str) -> Any:
    """The JSON in a model's answer, tolerating the ```json fences some models add despite JSON mode."""
    text = content.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    try:
        return json.loads(text)
    except ValueError as exc:
        excerpt = content.strip()[:80]
        raise RetryableToolError(f"The language model did not return valid JSON ({exc}): {excerpt!r}") from None


def _reply(completion: Any, model_name: str) -> ChatReply:
    choices = getattr(completion, "choices", None) or []
    if not choices:
        raise ToolError("The language model returned no answer")
    message = choices[0].message
    if message.content is None:
        refusal = getattr(message, "refusal", None)
        raise ToolError(f"The language model refused: {refusal}" if refusal else "The language model returned no text")
    usage = completion.usage
    return ChatReply(
        content=message.content,
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        total_tokens=usage.total_tokens if usage else 0,
        model=completion.model or model_name,
    )


def _status_error(exc: openai.APIStatusError, model_name: str) -> ToolError:
    status = exc.status_code
    detail = _detail(exc)
    if status == 429:
        return RetryableToolError(f"The language model is rate limiting requests (HTTP 429): {detail}")
    if status >= 500 or status in {408, 409}:
        return RetryableToolError(f"The language model failed (HTTP {status}): {detail}")
    if status in {401, 403}:
        return ToolError(f"The language model refused our credentials (HTTP {status}): check LLM_API_KEY. {detail}")
    if status == 404:
        return ToolError(f"The language model endpoint or model {model_name!r} was not found (HTTP 404): {detail}")
    return ToolError(f"The language model rejected the request (HTTP {status}): {detail}")


def _detail(exc: openai.APIStatusError) -> str:
    """The server's own error message, without the SDK's 'Error code: ...' wrapping or the request."""
    body = exc.body
    if isinstance(body, Mapping):
        error = body.get("error", body)
        if isinstance(error, Mapping) and error.get("message"):
            return str(error["message"])[:300]
    return str(exc.message)[:300]


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    return str(cause or exc)[:200] or type(exc).__name__


def _host() -> str:
    """LLM_BASE_URL without any credentials it might embed: messages are shown to people."""
    url = str(settings.LLM_BASE_URL)
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}" if rest else url
