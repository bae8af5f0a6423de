"""Copilot fixtures: scaffolded copilots on the built-in tiny model, a small retrieval index, a loaded copilot."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

DOCS = {
    "accounts/passwords.md": "# Passwords\n\nReset a forgotten password in the self-service portal: choose Forgot "
    "password and follow the link in the email. A new password has at least twelve characters.\n",
    "network/vpn.md": "# VPN\n\nWhen the VPN keeps disconnecting, restart the VPN client, check that you are "
    "online and sign in again with your company account.\n",
    "office/printers.md": "# Printers\n\nAdd a printer in Settings under Printers, by its floor name. Cancel a "
    "stuck job in the queue and print again.\n",
}


@pytest.fixture
def helpdesk(copilot_template: Path, tmp_path: Path) -> Path:
    """A private copy of the scaffolded copilot folder (``it-helpdesk/copilot.yaml``; see tests/conftest.py)."""
    return Path(shutil.copytree(copilot_template, tmp_path / "it-helpdesk"))


@pytest.fixture(scope="session")
def docs_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved RAG index over three small help-desk documents (offline MiniLM)."""
    from workbench.rag import ChunkingConfig, RagIndex

    base = tmp_path_factory.mktemp("copilot-rag")
    for rel, text in DOCS.items():
        path = base / "docs" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    RagIndex.build(base / "docs", out=base / "index", chunking=ChunkingConfig(chunk_size=300, chunk_overlap=0))
    return base / "index"
