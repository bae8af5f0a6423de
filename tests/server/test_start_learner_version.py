"""The sidebar's Start gives learners the learner version: stubs instead of solutions, no answer bank."""

from __future__ import annotations

import json
from collections.abc import Iterator

import nbformat
import pytest
from wb_server_helpers import Server, start_server, stop_server

from workbench.playbooks import new_playbook
from workbench.playbooks.exercises import release_info

LESSON = "marked-lesson"
#: The team identity provider of conftest.py (ana, ben, boss); only ana is needed here.
TEAM_ARGS = [
    "--ServerApp.identity_provider_class=team_identity.TeamIdentityProvider",
    "--IdentityProvider.token=unused-shared-token",
]


@pytest.fixture(scope="module")
def lesson_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose catalog has an authored playbook with solution regions (the ``playbook new`` scaffold)."""
    base = tmp_path_factory.mktemp("lesson-server")
    root, state, data, pack = base / "root", base / "state", base / "data", base / "pack"
    for p in (root, state, data, pack):
        p.mkdir()
    new_playbook(LESSON, pack)
    server = start_server(root, state, data, TEAM_ARGS, env_extra={"WORKBENCH_PLAYBOOK_DIRS": json.dumps([str(pack)])})
    yield server
    stop_server(server)


def test_start_materialises_the_learner_version(lesson_server: Server) -> None:
    with lesson_server.client("tok-ana") as ana:
        started = ana.post(f"/workbench/api/playbooks/{LESSON}/start", json={"parameters": {"repeats": 3}})
        assert started.status_code == 201, started.text
        data = started.json()
    folder = lesson_server.root / data["path"].rsplit("/", 1)[0]
    notebook = lesson_server.root / data["path"]
    assert (folder / "playbook.yaml").is_file() and (folder / "rubrics").is_dir()
    assert not (folder / "answers.yaml").exists()  # simulated learners' answers never reach a learner
    nb = nbformat.read(notebook, as_version=4)
    source = "\n".join(c.source for c in nb.cells)
    assert "### BEGIN SOLUTION" not in source and "### HINT" not in source
    assert 'greeting = f"Hello, {name}! " * repeats' not in source  # the shipped answer is gone...
    assert source.count("raise NotImplementedError(\"exercise") == 2  # ...each exercise is a stub
    assert 'hint("warm-up")' in source and "repeats = 3" in source
    info = release_info(nb.metadata)
    assert info is not None and set(info["exercises"]) == {"warm-up", "reflect"}
    # The kernel's own language_info, so JupyterLab has nothing to rewrite (and no "modified" mark) on opening.
    from ipykernel.ipkernel import IPythonKernel

    assert nb.metadata["language_info"] == IPythonKernel.language_info
    assert info["exercises"]["warm-up"]["hints"] == ['A string times an integer repeats it: "ab" * 3 == "ababab".']

    # The learner answers; starting again resumes their notebook untouched, and the author version stays away.
    nb.cells[4].source = nb.cells[4].source.replace(
        'raise NotImplementedError("exercise warm-up: write your answer here")', 'greeting = "Hello! " * repeats')
    nbformat.write(nb, notebook)
    before = notebook.read_text()
    (folder / "rubrics" / f"{LESSON}.yaml").unlink()
    with lesson_server.client("tok-ana") as ana:
        again = ana.post(f"/workbench/api/playbooks/{LESSON}/start", json={})
        assert again.status_code == 200 and again.json()["status"] == "resumed"
    assert notebook.read_text() == before and (folder / "rubrics" / f"{LESSON}.yaml").is_file()
    assert not (folder / "answers.yaml").exists()
