"""Library noise inside a Workbench call goes to the ``workbench.library`` log; everything else is untouched."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest

from workbench.models.quiet import quiet_libraries


def library_call() -> None:
    """What a library does when it is noisy: a warning and a log line on its logger (no handler configured)."""
    warnings.warn("Input type into Linear4bit is torch.float16", UserWarning, stacklevel=1)
    logging.getLogger("bitsandbytes.backends.cpu").warning("Failed to load CPU gemm_4bit_forward")


def test_noise_inside_a_workbench_call_goes_to_the_log(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, logger="workbench.library")
    # a training run earlier in the session raised bitsandbytes' level to ERROR (quiet_bitsandbytes): undo that here
    caplog.set_level(logging.NOTSET, logger="bitsandbytes")
    with warnings.catch_warnings(record=True) as shown:  # what would reach the cell's output
        warnings.simplefilter("always")
        with quiet_libraries(transformers=False):
            library_call()
            inside = ([str(w.message) for w in shown], capsys.readouterr().err)
            # another thread (the learner's cell while a run trains in the background) is not silenced
            other = threading.Thread(
                target=lambda: warnings.warn("the learner's own warning", UserWarning, stacklevel=1)
            )
            other.start()
            other.join()
        library_call()  # outside: shown as before
        after = ([str(w.message) for w in shown], capsys.readouterr().err)
    assert inside == ([], "")
    routed = [r.getMessage() for r in caplog.records if r.name == "workbench.library"]
    assert any("UserWarning: Input type into Linear4bit" in m for m in routed), routed
    assert any("Failed to load CPU gemm_4bit_forward" in m for m in routed), routed
    assert after[0] == ["the learner's own warning", "Input type into Linear4bit is torch.float16"]
    # outside, the library's log line reaches the application's logging as before (here pytest's handler;
    # in a kernel with no logging configured, Python's last-resort handler prints it)
    assert "bitsandbytes.backends.cpu" in {r.name for r in caplog.records if "gemm_4bit" in r.getMessage()}


def test_transformers_log_lines_and_bars_are_quiet_inside_only(caplog: pytest.LogCaptureFixture) -> None:
    from transformers.utils import logging as hf_logging

    caplog.set_level(logging.DEBUG, logger="workbench.library")
    with quiet_libraries():
        assert not hf_logging.is_progress_bar_enabled()
        hf_logging.get_logger("transformers.tokenization_utils_base").warning("Token indices sequence length")
    assert hf_logging.is_progress_bar_enabled()
    assert any(
        "Token indices sequence length" in r.getMessage()
        for r in caplog.records
        if r.name == "workbench.library"
    )


def test_a_long_prompt_is_counted_without_the_tokenizer_warning(
    tiny_model: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    text = "word " * 2000  # over workbench-tiny's 512-token maximum
    assert tiny_model.count_tokens(text) > 512  # type: ignore[attr-defined]
    assert not [r for r in caplog.records if "sequence length is longer" in r.getMessage()]


@pytest.mark.slow
def test_a_first_embedder_export_prints_nothing(tmp_path: Path) -> None:
    """The first index on a new machine exports the embedder (sentence-transformers imports bitsandbytes, whose
    CPU backend logs a kernel line at import): none of that reaches stderr, a red box in a learner's notebook."""
    code = "from workbench.models import load_embedder; print(load_embedder().variant)"
    env = dict(os.environ, WORKBENCH_CACHE_DIR=str(tmp_path / "cache"))  # nothing exported yet
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    assert (tmp_path / "cache" / "models" / "embeddings").is_dir()  # it really exported
