"""The widget action base: actions as messages, errors shown in the ``error`` trait, waiting for a worker."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import ClassVar

import pytest
import traitlets

from workbench.errors import ConfigError, RunError
from workbench.widgets.action import ActionWidget, Handler, describe_error


class Counter(ActionWidget):
    """A small widget of our own: a few actions, one of them held open by an event."""

    _esm = "export default { render() {} };"

    count = traitlets.Int(0).tag(sync=True)
    background_actions: ClassVar[frozenset[str]] = frozenset({"add", "user_error", "bug", "held"})

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def actions(self) -> Mapping[str, Handler]:
        return {
            "add": lambda content: self.add(int(content.get("n", 1))),
            "user_error": lambda _content: self.perform(self._bad_config, status="working"),
            "bug": lambda _content: {}["missing"],
            "held": lambda _content: self.release.wait(30),
            "reset": lambda _content: self.reset(),
            "sync_bug": lambda _content: 1 / 0,
        }

    def add(self, n: int) -> int:
        self.count += n
        return self.count

    def reset(self) -> None:
        self.count = 0

    def _bad_config(self) -> None:
        raise ConfigError("the corpus folder is missing", field="corpus", hint="pick a folder that exists")


def test_a_background_action_runs_in_a_worker_and_wait_returns_its_result() -> None:
    w = Counter()
    w._on_action(w, {"action": "add", "n": 3}, [])
    assert w.wait(10) == 3 and w.count == 3 and w.error == ""
    assert not w.busy
    w._on_action(w, {"action": "reset"}, [])  # not a background action: runs at once
    assert w.count == 0


def test_a_user_error_reaches_the_error_trait_with_its_hint() -> None:
    w = Counter()
    w._on_action(w, {"action": "user_error"}, [])
    assert w.wait(10) is None
    assert w.status == "error"
    assert w.error == "field 'corpus': the corpus folder is missing\n  hint: pick a folder that exists"
    with pytest.raises(ConfigError, match="corpus folder is missing"):  # kept for the caller, not dropped
        w.wait(10, raise_errors=True)


def test_an_unexpected_error_reaches_the_error_trait_and_the_log(caplog: pytest.LogCaptureFixture) -> None:
    w = Counter()
    with caplog.at_level(logging.ERROR, logger="workbench.widgets.action"):
        w._on_action(w, {"action": "bug"}, [])
        assert w.wait(10) is None
    assert w.status == "error" and w.error == "KeyError: 'missing'"
    [record] = caplog.records
    assert record.exc_info is not None and record.exc_info[0] is KeyError  # the traceback, for whoever debugs
    with pytest.raises(KeyError):
        w.wait(10, raise_errors=True)
    w._on_action(w, {"action": "sync_bug"}, [])  # on the comm thread: shown, not raised into the kernel's log
    assert w.error == "ZeroDivisionError: division by zero"


def test_one_background_action_at_a_time() -> None:
    w = Counter()
    w._on_action(w, {"action": "held"}, [])
    assert w.busy
    w._on_action(w, {"action": "add"}, [])
    assert w.error == "an action is already running" and w.count == 0
    with pytest.raises(RunError, match="already running"):
        w.start_action("add", lambda: w.add(1))
    assert w.wait(0.05) is None  # still running after the timeout
    w.release.set()
    assert w.wait(10) is True and not w.busy


def test_unknown_actions_and_headless_steps() -> None:
    w = Counter()
    w._on_action(w, {"action": "dance"}, [])
    assert w.error == "unknown action 'dance'"
    w._on_action(w, "not a dict", [])
    assert w.error == "unknown action None"
    assert w.perform(w._bad_config, status="working", raise_errors=False) is None  # a user error: None
    assert w.status == "error" and "hint: pick a folder" in w.error
    with pytest.raises(ZeroDivisionError):  # any other error still propagates to a Python caller
        w.perform(lambda: 1 / 0, raise_errors=False)
    assert w.perform(lambda: 7, status="working") == 7 and w.status == "working" and w.error == ""


def test_describe_error() -> None:
    assert describe_error(ConfigError("bad", hint="fix it")) == "bad\n  hint: fix it"
    assert describe_error(ValueError("nope")) == "ValueError: nope"
