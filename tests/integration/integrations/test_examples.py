"""The agent framework examples (docs/agents.md) run, against the test's Redis."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).parents[3] / "examples" / "python"
pytestmark = pytest.mark.timeout(60)


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def test_the_openai_agents_example_stops_at_its_budget(redis_url: str) -> None:
    outcome = await load("agents_openai").main(redis_url)
    assert outcome.startswith("stopped: ") and "run:" in outcome


async def test_the_langgraph_example_charges_its_tokens(redis_url: str) -> None:
    outcome = await load("agents_langgraph").main(redis_url)
    assert outcome == "answer 42, spent $0.00027 on 1200 tokens"


async def test_the_mcp_example_denies_the_call_past_the_budget(redis_url: str) -> None:
    answers = await load("agents_mcp").main(redis_url)
    assert answers[:2] == ["results for a", "results for b"]
    assert answers[2].startswith("error: quota exceeded [BUDGET_EXHAUSTED]")
