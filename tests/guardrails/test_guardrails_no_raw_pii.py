"""End to end: a name, an e-mail and a phone typed into a generation never land raw in any stored file.

``workbench generate`` runs as a real process (so its telemetry is flushed and its SQLite WAL written the way
a user's is) and a playbook runs through the runner API with the prompt as a parameter; then the raw bytes of
every file under the data directory (SQLite databases and their ``-wal``/``-shm`` files, the audit log, the
usage database, the output notebook, ``run.json``, the kernel log) are searched for each value.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from workbench.playbooks import run_playbook

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NAME = "Johanna Marisol Quistberg"
EMAIL = "johanna.quistberg@example.org"
PHONE = "+44 20 7946 0813"
PROMPT = f"Write a short welcome note for {NAME} ({EMAIL}, {PHONE}), who joins the data team on Monday."
#: Every raw piece that must not be stored: the name and its parts, the e-mail and its local part, the phone
#: with and without spaces.
RAW = [NAME, *NAME.split(), EMAIL, EMAIL.split("@")[0], PHONE, PHONE.replace(" ", "")]


def _stored_files(data_dir: Path) -> list[Path]:
    return sorted(p for p in data_dir.rglob("*") if p.is_file())


def _assert_no_raw_value(data_dir: Path) -> list[Path]:
    files = _stored_files(data_dir)
    for path in files:
        blob = path.read_bytes()
        for value in RAW:
            for encoded in {value.encode("utf-8"), value.encode("utf-16-le"), json.dumps(value)[1:-1].encode()}:
                assert encoded not in blob, f"raw {value!r} stored in {path.relative_to(data_dir)}"
    return files


def _write_prompt_playbook(root: Path) -> Path:
    folder = root / "prompt-probe"
    folder.mkdir(parents=True)
    manifest = {
        "id": "prompt-probe",
        "title": "Prompt probe",
        "version": "1.0",
        "summary": "Generates once from a prompt parameter.",
        "audience": ["copilot_builder"],
        "estimated_minutes": 1,
        "skills": {"prompting": 1.0},
        "tasks": [{"id": "generate", "title": "Generate", "skills": {"prompting": 1.0}}],
        "parameters": [{"name": "prompt", "type": "str", "default": "Say hello.", "help": "The prompt."},
                       {"name": "method", "type": "str", "default": "lora", "choices": ["lora", "qlora-4bit"]}],
    }
    (folder / "playbook.yaml").write_text(json.dumps(manifest), encoding="utf-8")
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('prompt = "Say hello."\nmethod = "lora"')
    params.metadata["tags"] = ["parameters"]
    work = nbformat.v4.new_code_cell(
        "from workbench.models import load_model\n"
        "from workbench.playbooks import task\n"
        "from workbench.prompting import guarded_generate\n"
        'with task("generate"):\n'
        '    result = guarded_generate(load_model("workbench-tiny"), prompt, params={"max_new_tokens": 8})\n'
        "print(prompt)\n"
        "print('method', method)\n"
        "print(result.messages)\n"
        "result.text"
    )
    nb.cells = [params, work]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "prompt-probe.ipynb")
    return folder


def test_generate_cli_stores_no_raw_name_email_or_phone(settings, tiny_model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "generate", PROMPT, "--model", "workbench-tiny",
         "--max-new-tokens", "8", "--json"],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    shown = json.loads(proc.stdout)
    assert NAME not in proc.stdout and EMAIL not in proc.stdout

    from workbench.telemetry import open_store

    with open_store() as store:
        [event] = [e for e in store.query() if str(e.kind) == "generation"]
    assert "[PERSON]" in event.attributes["prompt_redacted"] and "[EMAIL]" in event.attributes["prompt_redacted"]
    files = _assert_no_raw_value(settings.data_dir)
    names = {p.name for p in files}
    assert "audit.jsonl" in names and "usage.db" in names, names
    assert shown["text"] is not None


def test_playbook_run_stores_no_raw_name_email_or_phone(settings, tmp_path: Path, tiny_model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    playbook = _write_prompt_playbook(tmp_path / "pbs")
    result = run_playbook(playbook, learner="ana", team="support", parameters={"prompt": PROMPT, "method": "lora"},
                          timeout=300)  # fmt: skip
    assert result.ok, (result.status, result.error_type, result.error_message)
    assert result.output_path.is_relative_to(settings.data_dir)

    nb = nbformat.read(result.output_path, as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "[PERSON]" in printed and "[EMAIL]" in printed and "[PHONE]" in printed
    run = json.loads((result.output_path.parent / "run.json").read_text(encoding="utf-8"))
    assert "[PERSON]" in run["parameters"]["prompt"]
    # The author's vocabulary (a declared choice) is not a name, though the NER would take "lora" for one.
    assert run["parameters"]["method"] == "lora" and "method lora" in printed
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert 'method = "lora"' in injected.source and "[PERSON]" in injected.source

    from workbench.telemetry import open_store

    with open_store() as store:
        kinds = [str(e.kind) for e in store.query(run_id=result.run_id)]
    assert "generation" in kinds and "task_completed" in kinds
    _assert_no_raw_value(settings.data_dir)
