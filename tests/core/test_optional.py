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


@pytest.mark.skipif(importlib.util.find_spec("openvino") is None, reason="OpenVINO is not installed")
def test_openvino_loads_with_its_telemetry_stubbed_and_the_home_untouched(tmp_path: Path) -> None:
    # The package that would send the events is installed, so only the block keeps it quiet.
    assert importlib.util.find_spec("openvino_telemetry") is not None
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    stub, sender = done.stdout.split()
    assert stub == "openvino.tools.ovc.telemetry_stub"
    assert sender == "None"
    # No consent file or client id written into the user's home (~/intel) either.
    assert not (tmp_path / "intel").exists()
