"""Evidence knows whose work it scores: through real kernels, the real rubric and the real skills report.

A learner who runs the learner version unchanged gets no proficiency; one whose answers are the shipped solutions
gets none and is flagged; one who writes passing answers of their own gets credit; hints and attempts are
recorded and lower the evidence's weight; ``workbench playbook test`` proves every graded task is an exercise.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nbformat
import pytest
from exercise_playbook import (
    COUNT_OWN,
    COUNT_SOLUTION,
    LAZY_CELLS,
    REVIEW_OWN,
    write_exercise_playbook,
)

from workbench.cli import main
from workbench.errors import ValidationError
from workbench.playbooks import (
    BatchJob,
    BatchRunner,
    get_playbook,
    learner_notebook,
    run_playbook,
    smoke_test,
)
from workbench.skills import build_report
from workbench.skills.payload import report_payload
from workbench.telemetry import open_store, pseudonymize

pytestmark = pytest.mark.slow
TIMEOUT = 180
#: The shipped solution of ``review``, re-quoted and re-wrapped: still the solution after normalisation.
REVIEW_PASTED = (
    "my_prompt = ('Classify the support ticket. '   # pasted from the answers\n"
    "             'Reply with JSON only, with the fields intent and urgency.')\n"
)


@pytest.fixture
def probe(tmp_path: Path) -> Path:
    return write_exercise_playbook(tmp_path / "pbs")


def _events(run_id: str) -> list[Any]:
    with open_store() as store:
        return sorted(store.query(run_id=run_id), key=lambda e: e.time)


def _outcomes(run_id: str) -> dict[tuple[str, str | None], list[dict[str, Any]]]:
    """(kind, task) -> attributes of the run's task outcomes, hints and overall scores."""
    out: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
    for e in _events(run_id):
        if str(e.kind) in ("task_completed", "task_failed", "hint") or (
            str(e.kind) == "score" and e.attributes.get("criterion") is None
        ):
            out.setdefault((str(e.kind), e.task), []).append(e.attributes)
    return out


def test_only_the_learners_own_work_earns_proficiency(probe: Path) -> None:
    # una runs the learner version exactly as released (papermill, a fresh kernel): the first stub stops her.
    una = run_playbook(probe, learner="una", timeout=TIMEOUT)
    assert (una.status, una.error_type, una.task) == ("failed", "NotImplementedError", "count")
    [failed] = _outcomes(una.run_id)[("task_failed", "count")]
    assert failed["origin"] == "stub" and failed["exercises"] == {"count": "stub"} and failed["attempt"] == 1

    # sol pastes the shipped solutions (one re-quoted), own writes answers of her own, ulf runs every cell of
    # the unchanged learner version: one reused kernel, every cell runs even after a failure.
    solution = learner_notebook(probe, {"count": COUNT_SOLUTION, "review": REVIEW_PASTED})
    own = learner_notebook(probe, {"count": COUNT_OWN, "review": REVIEW_OWN})
    runner = BatchRunner(workers=1, progress=False, timeout=TIMEOUT, continue_on_error=True)
    sol_run, own_run, ulf_run = runner.run(
        probe, [BatchJob(learner="sol", notebook=solution), BatchJob(learner="own", notebook=own),
                BatchJob(learner="ulf")]
    ).results
    assert (sol_run.status, own_run.status, ulf_run.status) == ("completed", "completed", "failed")

    sol = _outcomes(sol_run.run_id)
    assert {a["origin"] for k, v in sol.items() for a in v} == {"solution"}
    assert sol[("score", "review")][0]["score"] == 1.0  # the rubric passed it: a perfect score, for nobody
    mine = _outcomes(own_run.run_id)
    assert {a["origin"] for k, v in mine.items() for a in v} == {"learner"}
    assert mine[("score", "review")][0]["score"] == 1.0 and ("task_completed", "count") in mine
    ulf = _outcomes(ulf_run.run_id)
    assert set(ulf) == {("task_failed", "count"), ("task_failed", "review")}
    assert {a["origin"] for v in ulf.values() for a in v} == {"stub"}  # review's stub sat in the cell before

    report = build_report(min_group_size=1)
    learners = set(report.people["learner"])
    assert pseudonymize("own") in learners
    assert not {pseudonymize(n) for n in ("una", "sol", "ulf")} & learners  # no proficiency at all
    levels = report.people.set_index(["learner", "skill"])["level"]
    assert levels[(pseudonymize("own"), "prompting")] > 1.0  # above the prior ("aware"): credit for her work
    assert levels[(pseudonymize("own"), "structured_output")] > 1.0

    # The manager's drill-down shows the submitted answer's score and whose work it was.
    copied = report.drilldown("sol", "structured_output", limit=None)
    scores = [i for i in copied if i["source"] == "score"]
    assert scores and all(i["origin"] == "solution" and i["counted"] is False and i["weight"] == 0 for i in copied)
    assert {i["outcome"] for i in scores} == {1.0}
    credited = report.drilldown("own", "structured_output", limit=None)
    assert credited and all(i["origin"] == "learner" and i["counted"] and i["weight"] > 0 for i in credited)
    assert {i["outcome"] for i in credited if i["source"] == "score"} == {1.0}
    assert any("identical to the shipped solutions" in m for m in report.messages)
    assert report.counts["solution_evidence"] >= len(scores)
    payload = report_payload(report)
    assert "origin" in payload["drill_columns"]
    flagged = next(r for r in payload["views"]["people"]["rows"] if r["id"] == pseudonymize("sol"))
    assert "solution-identical" in flagged["sub"]


@contextmanager
def _start_kernel(folder: Path) -> Iterator[Any]:
    from jupyter_client.manager import start_new_kernel

    from workbench.playbooks.runner import base_kernel_env

    km, kc = start_new_kernel(kernel_name="python3", cwd=str(folder), env=base_kernel_env(), startup_timeout=120)
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _execute(kc: Any, source: str, cell_id: str) -> tuple[str, str]:
    """Run a cell as JupyterLab does (its cell id in the request's metadata); (status, output text)."""
    msg = kc.session.msg(
        "execute_request",
        {"code": source, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False,
         "stop_on_error": True},
        metadata={"cellId": cell_id},
    )
    kc.shell_channel.send(msg)
    parent = msg["header"]["msg_id"]
    text = []
    while True:
        out = kc.get_iopub_msg(timeout=TIMEOUT)
        if out["parent_header"].get("msg_id") != parent:
            continue
        if out["msg_type"] == "stream":
            text.append(out["content"]["text"])
        elif out["msg_type"] == "error":
            text.append(f"{out['content']['ename']}: {out['content']['evalue']}")
        elif out["msg_type"] == "status" and out["content"]["execution_state"] == "idle":
            break
    while True:
        reply = kc.get_shell_msg(timeout=TIMEOUT)
        if reply["parent_header"].get("msg_id") == parent:
            return reply["content"]["status"], "".join(text)


def test_a_learner_in_jupyterlab_takes_a_hint_retries_and_the_weight_shows_it(probe: Path, tmp_path: Path) -> None:
    from workbench.server.workspace import start_or_resume

    started = start_or_resume(get_playbook(probe), tmp_path / "ws", learner=pseudonymize("lea"))
    assert not (started.folder / "answers.yaml").exists()  # the answer bank stays with the author
    nb = nbformat.read(started.notebook, as_version=4)
    count_cell = next(c for c in nb.cells if 'with task("count")' in c.source)
    review_stub, review_task = (c for c in nb.cells if "task:review" in c.metadata.get("tags", []))
    assert "raise NotImplementedError" in count_cell.source and "len(text.split())" not in count_cell.source
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)

    with _start_kernel(started.folder) as kc:
        for cell in nb.cells[: nb.cells.index(count_cell)]:  # parameters, injected context, imports
            assert _execute(kc, cell.source, cell.id)[0] == "ok"
        status, text = _execute(kc, count_cell.source, count_cell.id)  # the stub, as released
        assert status == "error" and "NotImplementedError" in text
        status, text = _execute(kc, 'hint("count")', "scratch-1")
        assert status == "ok" and "hint 1/2: str.split()" in text
        edited = count_cell.source.replace(
            '    raise NotImplementedError("exercise count: write your answer here")',
            "    def count_words(text):\n        return sum(1 for word in text.split(' ') if word)")
        assert _execute(kc, edited, count_cell.id)[0] == "ok"  # the same cell, edited and run again
        assert _execute(kc, REVIEW_OWN, review_stub.id)[0] == "ok"
        status, text = _execute(kc, review_task.source, review_task.id)
        assert status == "ok" and "score 1.00" in text

    with open_store() as store:
        events = store.query(learner=pseudonymize("lea"), playbook="evidence-probe")
    count = [e for e in events if e.task == "count" and str(e.kind) in ("task_completed", "task_failed")]
    by_kind = {str(e.kind): e.attributes for e in count}
    assert by_kind["task_failed"]["origin"] == "stub" and by_kind["task_failed"]["attempt"] == 1
    done = by_kind["task_completed"]
    assert (done["origin"], done["attempt"], done["hints"]) == ("learner", 2, 1)
    [revealed] = [e for e in events if str(e.kind) == "hint"]
    assert revealed.attributes["exercise"] == "count" and revealed.attributes["hint_index"] == 1
    assert revealed.run_id == started.run_id

    report = build_report(min_group_size=1)
    items = report.drilldown("lea", "prompting", limit=None)
    completed = next(i for i in items if i["source"] == "task_completed" and i["task"] == "count")
    review = next(i for i in items if i["source"] == "task_completed" and i["task"] == "review")
    # weight = task evidence 0.5 x the task's skill weight x the help discount (0.7 a hint, 0.85 a retry)
    assert completed["weight"] == pytest.approx(0.5 * 1.0 * 0.7 * 0.85)  # one hint, second attempt
    assert review["weight"] == pytest.approx(0.5 * 0.5)  # no help taken
    assert completed["origin"] == review["origin"] == "learner"


def test_playbook_test_proves_every_graded_task_is_an_exercise(
    probe: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lazy = write_exercise_playbook(tmp_path / "pbs", playbook_id="lazy-probe", cells=LAZY_CELLS)
    good, bad = smoke_test([probe, lazy], timeout=TIMEOUT)
    assert good.ok and good.run is not None and good.run.ok and good.released is not None
    assert good.released.status == "failed" and good.passing_unchanged == []
    assert not bad.ok and bad.status == "exercises-pass-unchanged" and bad.passing_unchanged == ["count"]
    [defect] = [p for p in bad.problems if p.severity == "error"]
    assert "graded task 'count' passes in the learner version with its stub unchanged" in defect.message
    assert defect.field == "tasks[0]" and defect.file.endswith("lazy-probe.ipynb")
    # CI's runs count for nobody.
    assert build_report(min_group_size=1).people.empty

    try:
        code = main(["playbook", "test", str(lazy), "--json"])
    except SystemExit as exc:
        code = int(exc.code or 0)
    data = json.loads(capsys.readouterr().out)
    assert code == 1 and data["playbooks"][0]["passing_unchanged"] == ["count"]


def test_playbook_run_takes_a_learners_own_notebook(probe: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    mine = tmp_path / "mine.ipynb"
    nbformat.write(learner_notebook(probe, {"count": COUNT_OWN, "review": REVIEW_OWN}), mine)
    try:
        code = main(["playbook", "run", str(probe), "--notebook", str(mine), "--learner", "nia", "--json"])
    except SystemExit as exc:
        code = int(exc.code or 0)
    run = json.loads(capsys.readouterr().out)
    assert code == 0 and run["status"] == "completed"
    outcomes = _outcomes(run["run_id"])
    assert {a["origin"] for v in outcomes.values() for a in v} == {"learner"}
    with pytest.raises(ValidationError, match="unknown playbook version"):
        run_playbook(probe, version="draft")
