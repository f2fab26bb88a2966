from __future__ import annotations

from learning.views.pages import index, promote_test, rate, start_ab_test, toggle_pattern
from learning.views.prompts import agent_prompts, compare_prompts, make_prompt_current, prompt_list

__all__ = [
    "agent_prompts",
    "compare_prompts",
    "index",
    "make_prompt_current",
    "promote_test",
    "prompt_list",
    "rate",
    "start_ab_test",
    "toggle_pattern",
]
