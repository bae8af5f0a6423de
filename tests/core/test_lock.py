"""The checked-in dependency lock: written from pip's report, honoured by installs, checked by ``workbench doctor``."""

from __future__ import annotations

import io
import json
import os
from contextlib import redirect_stdout
from importlib.metadata import version
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement

from workbench import _lock

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / _lock.LOCK_NAME


def _report(tmp_path: Path, packages: dict[str, str]) -> Path:
    items = [{"metadata": {"name": n, "version": v}} for n, v in packages.items()]
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"pip_version": "26.3", "environment": {"python_full_version": "3.11.7"},
                                "install": items}))  # fmt: skip
    return path


def test_write_lock_pins_what_pip_resolved_without_the_project_or_local_labels(tmp_path: Path) -> None:
    report = _report(tmp_path, {"workbench": "0.1.0", "Torch": "2.13.0+cpu", "Sentence_Transformers": "6.3.0"})
    out = tmp_path / "lock.txt"
    assert _lock.write_lock(report, out) == 2
    text = out.read_text()
    assert text.startswith("# Workbench dependency lock, resolved by pip 26.3")
    assert [line for line in text.splitlines() if not line.startswith("#")] == [
        "sentence-transformers==6.3.0",
        "torch==2.13.0",
    ]
    assert _lock.read_lock(out) == {"sentence-transformers": "6.3.0", "torch": "2.13.0"}


def test_the_checked_in_lock_pins_every_declared_dependency_within_its_range() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _lock.read_lock(LOCK)
    declared = project["dependencies"] + project["optional-dependencies"]["test"]
    problems = []
    for spec in declared:
        req = Requirement(spec)
        pinned = pins.get(_lock.canonical(req.name))
        if pinned is None:
            problems.append(f"{req.name} is not in the lock")
        elif not req.specifier.contains(pinned, prereleases=True):
            problems.append(f"{req.name}=={pinned} is outside pyproject's '{req.specifier}'")
    assert not problems, "run `make lock` after changing pyproject.toml:\n" + "\n".join(problems)
    assert "pip" in pins and "hatchling" in pins  # the installer and the build backend are pinned too


def _unlocked() -> bool:
    """Whether `make test-latest` runs the suite (an environment unlocked on purpose)."""
    return os.environ.get("WORKBENCH_TEST_LOCK", "requirements-lock.txt") == ""


def test_this_environment_was_installed_from_the_lock() -> None:
    if _unlocked():
        pytest.skip("`make test-latest`: this environment is unlocked on purpose (its drift is the point)")
    assert _lock.find_lock() == LOCK
    assert _lock.lock_drift() == []
    assert _lock.check_environment(LOCK) == []


def test_drift_is_reported_per_package(tmp_path: Path) -> None:
    lock = tmp_path / "lock.txt"
    lock.write_text(f"torch=={version('torch').split('+')[0]}\npeft==0.0.1  # old\n")
    assert _lock.lock_drift(("torch", "peft"), lock) == [
        {"package": "peft", "installed": version("peft"), "locked": "0.0.1"}
    ]
    assert _lock.main(["check", str(lock)]) == 1


def test_doctor_reports_core_versions_and_warns_on_drift(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.cli import main

    buffer = io.StringIO()
    with redirect_stdout(buffer):
        assert main(["doctor", "--no-probe", "--json"]) == 0
    report = json.loads(buffer.getvalue())
    assert report["lock"]["path"] == str(LOCK) and report["lock"]["checked"] == list(_lock.CORE_ML)
    # doctor reports exactly the drift the lock module finds (none where installed from the lock; under
    # `make test-latest` whatever moved upstream)
    assert report["lock"]["drift"] == _lock.lock_drift()
    if not _unlocked():
        assert report["lock"]["drift"] == []
    assert all(report["versions"][name] for name in _lock.CORE_ML)

    stale = tmp_path / _lock.LOCK_NAME
    stale.write_text("transformers==4.0.0\n")
    monkeypatch.setattr(_lock, "find_lock", lambda: stale)
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        assert main(["doctor", "--no-probe"]) == 0
    text = " ".join(buffer.getvalue().split())
    assert f"warning: transformers {version('transformers')} differs from the lock (4.0.0)" in text
