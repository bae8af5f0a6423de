"""Real JupyterLab (subprocess, free port, token) with the Workbench extensions, driven by Debian chromium.

The lab itself comes from ``tests/wb_lab.py`` (shared with the widget browser tests). Here: a learner's lab
(``lab_server``, the server's owner is the learner ``newbie``, not a manager) and its ``page``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from wb_lab import Lab, lab_page, make_lab, running


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A learner's lab: nobody is a manager."""
    with running(make_lab(tmp_path_factory.mktemp("lab"), learner="newbie")) as lab:
        yield lab


@pytest.fixture(scope="session")
def browser(chromium_browser: Any) -> Any:
    """The session's shared chromium (tests/conftest.py)."""
    return chromium_browser


@pytest.fixture
def page(browser: Any, lab_server: Lab) -> Iterator[Any]:
    with lab_page(browser, lab_server) as page:
        yield page
