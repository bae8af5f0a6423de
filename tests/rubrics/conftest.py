"""Fixtures for the rubric tests: data files, the tiny judge model, and a fake judge endpoint."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_openai import FakeOpenAIServer, start_server

from workbench.settings import reset_settings

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture
def data_dir() -> Path:
    """``tests/data``: the rubric_* files."""
    return DATA


@pytest.fixture
def judge_model(tiny_model):  # type: ignore[no-untyped-def]
    """The session's tiny model, run on one torch thread for the test.

    Why: its matrices are tiny, and two OpenMP threads spin-waiting on a loaded 2-core machine made judge
    calls 10-20x slower than one thread (measured). The previous thread count is restored afterwards.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tiny_model
    torch.set_num_threads(before)


def _fake_verdict(body: dict[str, Any]) -> str:
    """A judge that knows the answer's level (``[level N]``) unless the answer says ``(unsure)``: then its
    score follows the request's seed, so the k samples disagree."""
    user = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
    answer = next(line for line in user.splitlines() if line.startswith("Answer: "))
    if "(unsure)" in answer:
        score = int(body.get("seed") or 0) % 4
    else:
        found = re.search(r"\[level (\d)\]", answer)
        score = int(found.group(1)) if found else 0
    return json.dumps({"score": score, "rationale": "fake judge"})


@pytest.fixture
def fake_judge(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    """WORKBENCH_JUDGE_MODEL=openai:fake-judge on a fake OpenAI-compatible server that answers verdicts."""
    server, info = start_server(reply=_fake_verdict)
    monkeypatch.setenv("WORKBENCH_JUDGE_MODEL", "openai:fake-judge")
    monkeypatch.setenv("WORKBENCH_OPENAI_BASE_URL", info.base_url)
    reset_settings()
    yield info
    server.shutdown()
    server.server_close()
