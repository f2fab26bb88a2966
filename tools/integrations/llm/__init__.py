"""The language-model integration: `llm.chat` and `analysis.summarise`, and the OpenAI-compatible client.

Settings: LLM_BASE_URL, LLM_API_KEY, LLM_MODEL and LLM_TIMEOUT (config/settings.py).
"""
