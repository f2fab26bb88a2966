"""Language tools: a plain chat with the configured model, and summaries of text.

`analysis.summarise` lives here rather than with the table tools because it
is a text tool that prefers the language model: with LLM_BASE_URL set it
asks the model; without one it still works, extractively (the sentences
whose words are most frequent in the text, in their original order), so a
plan never depends on a model being configured.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from django.conf import settings

from tools.base import Stage, Tool, ToolCall, ToolError, ToolResult
from tools.integrations.drive.tool import FILE_REF_SCHEMA, file_names, fingerprint_files, read_text_file
from tools.integrations.llm.client import chat, llm_configured, parse_json

# The model's context is finite; beyond this the text is cut (and the prompt says so).
MAX_PROMPT_CHARS = 48_000

_MESSAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "role": {"enum": ["system", "user", "assistant"]},
        "content": {"type": "string"},
    },
    "required": ["role", "content"],
    "additionalProperties": False,
}


def _model_fingerprint() -> str:
    """Which model answers is part of the question: switching models must not hit old cache entries."""
    return f"llm={settings.LLM_BASE_URL}|{settings.LLM_MODEL}" if llm_configured() else "llm=none"


class LLMChat(Tool):
    name = "llm.chat"
    description = (
        "Ask the configured language model: give a prompt (or chat messages) and an optional system instruction; "
        "set json=true to get a parsed JSON answer in 'data'."
    )
    stage = Stage.TRANSFORM
    capabilities = ("llm.chat", "text.generate")
    cacheable = True
    rate_limit = ("llm", "chat")
    input_schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "prompt": {"type": "string", "minLength": 1},
            "messages": {"type": "array", "items": _MESSAGE_SCHEMA, "minItems": 1},
            "system": {"type": "string", "minLength": 1, "description": "An instruction sent before the prompt."},
            "json": {"type": "boolean", "default": False, "description": "Ask for a JSON object answer."},
        },
        "oneOf": [{"required": ["prompt"]}, {"required": ["messages"]}],
        "additionalProperties": False,
    }

    def cache_fingerprint(self, call: ToolCall) -> str:
        return _model_fingerprint()

    def run(self, call: ToolCall) -> ToolResult:
        if not llm_configured():
            raise ToolError("No language model is configured: set LLM_BASE_URL")
        messages: list[dict[str, str]] = []
        if call.input.get("system"):
            messages.append({"role": "system", "content": call.input["system"]})
        if "prompt" in call.input:
            messages.append({"role": "user", "content": call.input["prompt"]})
        else:
            messages.extend({"role": m["role"], "content": m["content"]} for m in call.input["messages"])
        json_mode = bool(call.input.get("json"))
        reply = chat(messages, json_mode=json_mode, timeout=call.seconds_left(settings.LLM_TIMEOUT))
        output: dict[str, Any] = {"content": reply.content, "model": reply.model}
        if json_mode:
            output["data"] = parse_json(reply.content)
        return ToolResult(
            output=output,
            tokens_used=reply.total_tokens,
            summary=f"{reply.model} answered ({reply.total_tokens} tokens)",
        )


class AnalysisSummarise(Tool):
    name = "analysis.summarise"
    description = (
        "Summarise text, or text files from the drive, in a few sentences (with the language model when one is "
        "configured, otherwise by extracting the key sentences)."
    )
    stage = Stage.TRANSFORM
    capabilities = ("text.summarise",)
    cacheable = True
    input_schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "text": {"type": "string", "minLength": 1},
            "files": {"type": "array", "items": FILE_REF_SCHEMA, "minItems": 1},
            "max_sentences": {"type": "integer", "minimum": 1, "maximum": 50, "default": 5},
        },
        "oneOf": [{"required": ["text"]}, {"required": ["files"]}],
        "additionalProperties": False,
    }

    def cache_fingerprint(self, call: ToolCall) -> str:
        if "files" not in call.input:
            return _model_fingerprint()
        try:
            names = file_names(call.input["files"])
        except ToolError:
            return _model_fingerprint()
        return f"{_model_fingerprint()}|{fingerprint_files(call.drive, names)}"

    def run(self, call: ToolCall) -> ToolResult:
        limit = int(call.input.get("max_sentences", 5))
        if "text" in call.input:
            text = call.input["text"]
        else:
            drive = call.drive
            text = "\n\n".join(read_text_file(drive, name) for name in file_names(call.input["files"]))
        if not text.strip():
            raise ToolError("There is no text to summarise.")
        if not llm_configured():
            summary = extractive_summary(text, limit)
            return ToolResult(
                output={"summary": summary, "method": "extractive"},
                summary=f"Summarised {len(text)} characters in {len(split_sentences(summary))} sentence(s)",
            )
        cut = len(text) > MAX_PROMPT_CHARS
        instruction = (
            f"Summarise the user's text faithfully in at most {limit} sentences, in the text's language. "
            "Keep the figures exact. Answer with the summary only."
            + (" The text was cut to fit; summarise what is given." if cut else "")
        )
        messages = [{"role": "system", "content": instruction}, {"role": "user", "content": text[:MAX_PROMPT_CHARS]}]
        reply = chat(messages, timeout=call.seconds_left(settings.LLM_TIMEOUT))
        return ToolResult(
            output={"summary": reply.content.strip(), "method": "llm"},
            tokens_used=reply.total_tokens,
            summary=f"{reply.model} summarised {len(text)} characters ({reply.total_tokens} tokens)",
        )


# Words that say nothing about what a text is about; they must not drive the scores.
_STOPWORD_TEXT = """
    a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of
    off on once only or other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your yours yourself yourselves also per"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9À-Þ])")
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")
_LIST_MARK = re.compile(r"^\s*(?:#{1,6}\s+|[-*+•]\s+|\d+[.)]\s+)")


def split_sentences(text: str) -> list[str]:
    """Sentences, treating lines (headings, list items) as boundaries too."""
    sentences: list[str] = []
    for block in re.split(r"\n\s*\n|\n(?=\s*(?:#|[-*+•]\s|\d+[.)]\s))", text):
        block = _LIST_MARK.sub("", " ".join(block.split()))
        sentences.extend(part.strip() for part in _SENTENCE_END.split(block) if part.strip())
    return sentences


def extractive_summary(text: str, max_sentences: int = 5) -> str:
    """The `max_sentences` sentences with the most frequent content words, kept in their original order."""
    sentences = split_sentences(text)
    if len(sentences) <= max_sentences:
        return " ".join(sentences)
    words_of = [[w.lower() for w in _WORD.findall(s) if w.lower() not in STOPWORDS] for s in sentences]
    frequency = Counter(word for words in words_of for word in words)
    top = max(frequency.values(), default=1)

    def score(index: int) -> float:
        words = words_of[index]
        if len(words) < 2:  # fragments ("Q3.", "Thanks!") are never the gist
            return 0.0
        # Damped by length, so long sentences do not win by length alone.
        return sum(frequency[word] / top for word in words) / len(words) ** 0.7

    ranked = sorted(range(len(sentences)), key=lambda index: (-score(index), index))
    return " ".join(sentences[index] for index in sorted(ranked[:max_sentences]))
