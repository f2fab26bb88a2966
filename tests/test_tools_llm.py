from __future__ import annotations

import pytest

from tests.support import run_tool, tool_call
from tools.base import RetryableToolError, ToolError
from tools.drive import WorkspaceDrive
from tools.integrations.llm.client import ChatReply, chat, chat_json, llm_configured
from tools.registry import registry

ARTICLE = (
    "Revenue grew in the north region this quarter. "
    "The weather was pleasant for most of the spring. "
    "Revenue in the north region came mostly from new customers. "
    "Our office moved to a new building. "
    "New customers in the north region doubled revenue."
)


@pytest.fixture
def no_llm(settings, tmp_path):
    settings.LLM_BASE_URL = None
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


# The client


def test_it_sends_the_messages_to_the_configured_model(openai_server, settings):
    settings.LLM_MODEL = "small-model"
    openai_server.reply("Hello there", prompt_tokens=7, completion_tokens=3)

    reply = chat([{"role": "user", "content": "Hi"}])

    assert reply == ChatReply(
        content="Hello there", prompt_tokens=7, completion_tokens=3, total_tokens=10, model="small-model"
    )
    assert openai_server.last_chat == {"model": "small-model", "messages": [{"role": "user", "content": "Hi"}]}
    assert openai_server.requests[-1].headers["authorization"] == "Bearer test-key"


def test_it_asks_for_json_and_parses_it(openai_server):
    openai_server.reply('```json\n{"steps": [1, 2]}\n```')

    data, reply = chat_json([{"role": "user", "content": "Plan"}], model="planner")

    assert data == {"steps": [1, 2]}
    assert reply.total_tokens == 15
    assert openai_server.last_chat["response_format"] == {"type": "json_object"}
    assert openai_server.last_chat["model"] == "planner"


def test_it_treats_invalid_json_from_the_model_as_retryable(openai_server):
    openai_server.reply("Sure! Here is the plan: step one...")

    with pytest.raises(RetryableToolError, match=r"did not return valid JSON"):
        chat_json([{"role": "user", "content": "Plan"}])


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (500, RetryableToolError, r"The language model failed \(HTTP 500\): model crashed"),
        (503, RetryableToolError, r"HTTP 503"),
        (429, RetryableToolError, r"rate limiting requests \(HTTP 429\): model crashed"),
        (400, ToolError, r"rejected the request \(HTTP 400\): model crashed"),
        (401, ToolError, r"check LLM_API_KEY"),
        (404, ToolError, r"was not found \(HTTP 404\)"),
    ],
)
def test_it_maps_http_errors_to_tool_errors(openai_server, status, error, message):
    openai_server.fail(status, "model crashed")

    with pytest.raises(error, match=message) as raised:
        chat([{"role": "user", "content": "Hi"}])

    assert (type(raised.value) is RetryableToolError) == (error is RetryableToolError)
    assert len(openai_server.chat_requests) == 1  # the SDK does not retry behind the engine's back


def test_it_treats_a_timeout_as_retryable(openai_server, settings):
    openai_server.reply("too late", delay=1.5)

    with pytest.raises(RetryableToolError, match=r"did not answer within 0\.3 seconds"):
        chat([{"role": "user", "content": "Hi"}], timeout=0.3)


def test_it_treats_an_unreachable_server_as_retryable(openai_server, settings):
    openai_server.stop()

    with pytest.raises(RetryableToolError, match=r"Could not reach the language model at http://127\.0\.0\.1:"):
        chat([{"role": "user", "content": "Hi"}])


def test_it_refuses_to_chat_without_a_model(no_llm):
    assert not llm_configured()
    with pytest.raises(ToolError, match=r"No language model is configured: set LLM_BASE_URL"):
        chat([{"role": "user", "content": "Hi"}])


# llm.chat


def test_it_answers_a_prompt_with_a_system_instruction(openai_server, workspace_a, media):
    openai_server.reply("Paris", prompt_tokens=20, completion_tokens=1)

    result = run_tool("llm.chat", {"prompt": "Capital of France?", "system": "Be brief."}, workspace_a.pk)

    assert result.output == {"content": "Paris", "model": "gpt-4o-mini"}
    assert result.tokens_used == 21
    assert openai_server.last_chat["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
    ]


def test_it_continues_a_conversation_and_returns_json_data(openai_server, workspace_a, media):
    openai_server.reply({"answer": 42})
    messages = [
        {"role": "user", "content": "Q?"},
        {"role": "assistant", "content": "A."},
        {"role": "user", "content": "JSON"},
    ]

    result = run_tool("llm.chat", {"messages": messages, "json": True}, workspace_a.pk)

    assert result.output["data"] == {"answer": 42}
    assert openai_server.last_chat["messages"] == messages
    assert openai_server.last_chat["response_format"] == {"type": "json_object"}


def test_it_fails_the_chat_tool_clearly_without_a_model(no_llm, workspace_a):
    with pytest.raises(ToolError, match=r"No language model is configured: set LLM_BASE_URL"):
        run_tool("llm.chat", {"prompt": "Hi"}, workspace_a.pk)


def test_it_passes_server_errors_on_as_retryable(openai_server, workspace_a, media):
    openai_server.fail(502, "bad gateway")

    with pytest.raises(RetryableToolError, match=r"HTTP 502"):
        run_tool("llm.chat", {"prompt": "Hi"}, workspace_a.pk)


def test_it_keys_the_cache_on_the_model(openai_server, settings, workspace_a):
    tool = registry.get("llm.chat")
    call = tool_call({"prompt": "Hi"}, workspace_a.pk)
    before = tool.cache_fingerprint(call)
    settings.LLM_MODEL = "another-model"

    assert tool.cache_fingerprint(call) != before
    assert tool.rate_limit == ("llm", "chat")


# analysis.summarise


def test_it_summarises_extractively_without_a_model(no_llm, workspace_a):
    result = run_tool("analysis.summarise", {"text": ARTICLE, "max_sentences": 2}, workspace_a.pk)

    assert result.output == {
        "summary": (
            "Revenue in the north region came mostly from new customers. "
            "New customers in the north region doubled revenue."
        ),
        "method": "extractive",
    }
    assert result.tokens_used == 0


def test_it_keeps_short_texts_whole(no_llm, workspace_a):
    result = run_tool("analysis.summarise", {"text": "# Notes\n- First point.\n- Second point."}, workspace_a.pk)

    assert result.output["summary"] == "Notes First point. Second point."


def test_it_summarises_drive_files(no_llm, workspace_a):
    WorkspaceDrive(workspace_a.pk).write_text("notes/article.txt", ARTICLE)

    result = run_tool("analysis.summarise", {"files": ["notes/article.txt"], "max_sentences": 1}, workspace_a.pk)

    assert result.output["summary"] == "New customers in the north region doubled revenue."


def test_it_summarises_with_the_model_when_one_is_configured(openai_server, workspace_a, media):
    openai_server.reply("  North revenue doubled thanks to new customers. ", prompt_tokens=90, completion_tokens=10)

    result = run_tool("analysis.summarise", {"text": ARTICLE, "max_sentences": 1}, workspace_a.pk)

    assert result.output == {"summary": "North revenue doubled thanks to new customers.", "method": "llm"}
    assert result.tokens_used == 100
    system, user = openai_server.last_chat["messages"]
    assert "at most 1 sentences" in system["content"]
    assert user == {"role": "user", "content": ARTICLE}


def test_it_refuses_to_summarise_a_missing_file(no_llm, workspace_a):
    with pytest.raises(ToolError, match=r"No file named 'gone\.txt'"):
        run_tool("analysis.summarise", {"files": ["gone.txt"]}, workspace_a.pk)


def test_it_keys_the_summary_cache_on_file_contents_and_method(openai_server, settings, workspace_a, media):
    drive = WorkspaceDrive(workspace_a.pk)
    drive.write_text("a.txt", "One. Two.")
    tool = registry.get("analysis.summarise")
    call = tool_call({"files": ["a.txt"]}, workspace_a.pk)
    with_model = tool.cache_fingerprint(call)
    drive.write_text("a.txt", "One. Three.")
    changed = tool.cache_fingerprint(call)
    settings.LLM_BASE_URL = None

    assert len({with_model, changed, tool.cache_fingerprint(call)}) == 3
