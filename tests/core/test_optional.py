"""Optional runtimes load without phoning home (``workbench._optional``)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

_PROBE = """
import sys
from workbench._optional import require
require("openvino")
import openvino.tools.ovc.telemetry_utils as ovc
print(ovc.tm.__name__)
print(sys.modules.get("openvino_telemetry"))
"""
#: A stand-in for the ``openvino_telemetry`` package (installed with openvino-dev, nncf and others; a fresh
#: Workbench venv may not have it): importing it leaves a mark, so the test sees whether OpenVINO reached it.
_SENDER = """
import pathlib
pathlib.Path(__file__).with_name("IMPORTED").write_text("openvino_telemetry was imported")
class Telemetry:
    def __init__(self, *args, **kwargs):
        raise RuntimeError("telemetry would be sent")
"""


@pytest.mark.skipif(importlib.util.find_spec("openvino") is None, reason="OpenVINO is not installed")
def test_openvino_loads_with_its_telemetry_stubbed_and_the_home_untouched(tmp_path: Path) -> None:
    sender = tmp_path / "site" / "openvino_telemetry"
    sender.mkdir(parents=True)
    (sender / "__init__.py").write_text(_SENDER, encoding="utf-8")
    (sender / "backend").mkdir()
    (sender / "backend" / "__init__.py").write_text("backend_ga4 = None\n", encoding="utf-8")
    path = os.pathsep.join([str(tmp_path / "site"), str(Path(__file__).resolve().parents[2])])
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": path}
    # Without the block, OpenVINO's converter imports the sender as soon as openvino is imported.
    bare = subprocess.run([sys.executable, "-c", "import openvino.tools.ovc"], env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert (sender / "IMPORTED").exists(), bare.stderr[-2000:]
    (sender / "IMPORTED").unlink()

    done = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    stub, blocked = done.stdout.split()
    assert stub == "openvino.tools.ovc.telemetry_stub" and blocked == "None"
    assert not (sender / "IMPORTED").exists()
    # No consent file or client id written into the user's home (~/intel) either.
    assert not (tmp_path / "intel").exists()
