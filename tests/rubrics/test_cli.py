"""``workbench rubric`` list / show / validate / score / review / agreement, through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from workbench.cli import main


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "rubric", "list", "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) >= 6
    assert {"summary-quality", "rag-faithfulness"} <= {r["id"] for r in rows}
    code, out, _ = run_cli(capsys, "rubric", "list")
    assert code == 0 and "json-extraction" in out and "reads:" in out
    code, out, _ = run_cli(capsys, "rubric", "show", "rag-faithfulness")
    assert code == 0 and "cites-sources (weight 0.3, skill retrieval_evaluation, scorer citations)" in out
    assert "3: Fully supported by the sources." in out
    code, out, _ = run_cli(capsys, "rubric", "show", "json-extraction", "--json")
    assert code == 0 and json.loads(out)["criteria"][0]["scorer"]["schema_field"] == "schema"


def test_validate(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    code, out, _ = run_cli(capsys, "rubric", "validate", str(data_dir / "rubric_valid.yaml"))
    assert code == 0 and "valid rubric test-support-reply@2" in out
    code, _, err = run_cli(capsys, "rubric", "validate", str(data_dir / "rubric_level_gap.yaml"))
    assert code == 2 and "rubric_level_gap.yaml:12 (field 'criteria[0].levels[2].score')" in err
    assert "hint:" in err and "Traceback" not in err
    code, out, _ = run_cli(capsys, "rubric", "validate", str(data_dir / "rubric_bad_weights.yaml"), "--json")
    data = json.loads(out)
    assert code == 2 and data["error"] == "ValidationError" and data["field"] == "total_weight" and data["line"] == 4
    code, out, _ = run_cli(capsys, "rubric", "validate", str(data_dir / "rubric_unknown_skill.yaml"),
                           "--taxonomy", str(data_dir / "rubric_taxonomy.yaml"), "--json")
    assert code == 0 and json.loads(out)["valid"] is True


def test_validate_refuses_a_taxonomy_with_a_duplicate_skill_id(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path
) -> None:
    taxonomy = (data_dir / "rubric_taxonomy.yaml").read_text()
    twice = tmp_path / "twice.yaml"
    twice.write_text(taxonomy.replace("id: unicycling, name: Unicycling", "id: juggling, name: Unicycling"))
    rubric = str(data_dir / "rubric_unknown_skill.yaml")
    code, out, _ = run_cli(capsys, "rubric", "validate", rubric, "--taxonomy", str(twice), "--json")
    data = json.loads(out)
    assert code == 2 and data["error"] == "ValidationError"
    assert "juggling" in data["message"] and "twice" in data["message"] and data["field"] == "skills[1].id"
    # The same file is refused the same way by `workbench report --taxonomy` (one loader).
    code, _, err = run_cli(capsys, "report", "--taxonomy", str(twice))
    assert code == 2 and "skill id 'juggling' appears twice" in err
    # And by the rubric library's own id reader.
    from workbench.errors import ValidationError
    from workbench.rubrics import load_taxonomy_ids

    with pytest.raises(ValidationError, match="appears twice") as info:
        load_taxonomy_ids(twice)
    assert info.value.line == 6


def test_score_deterministic(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    args = ["rubric", "score", str(data_dir / "rubric_valid.yaml"), "--input", str(data_dir / "rubric_items.jsonl")]
    code, out, _ = run_cli(capsys, *args, "--json", "--subject", "learner", "--no-record")
    data = json.loads(out)
    assert code == 0 and data["rubric"] == "test-support-reply@2"
    assert [i["item"] for i in data["items"]] == ["r1", "r2", "r3"]
    r3 = data["items"][2]
    assert r3["passed"] is False and r3["subject"] == "learner"
    assert {c["criterion"]: c["raw_score"] for c in r3["criteria"]} == {"mentions-ticket": 1, "short": 0}
    assert data["summary"]["items"] == 3 and data["summary"]["passed"] == 2
    code, out, _ = run_cli(capsys, *args)
    assert code == 0 and "r3  0.33  FAIL  mentions-ticket=1/1  short=0/1" in out and "3 items, 2 passed" in out


def test_score_errors_name_the_line(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    code, _, err = run_cli(capsys, "rubric", "score", str(data_dir / "rubric_valid.yaml"),
                           "--input", str(data_dir / "rubric_items_missing_field.jsonl"))
    assert code == 2 and "rubric_items_missing_field.jsonl:3 (field 'output')" in err
    code, _, err = run_cli(capsys, "rubric", "score", "no-such-rubric", "--input", "x.jsonl")
    assert code == 2 and "no rubric file or built-in rubric named 'no-such-rubric'" in err


def test_score_with_judge_and_review(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                     judge_model) -> None:  # type: ignore[no-untyped-def]
    items = tmp_path / "replies.jsonl"
    items.write_text("\n".join(json.dumps(i) for i in [
        {"id": "a", "output": "Happy to help! Open Settings and choose Printers."},
        {"id": "b", "output": "Go away."},
    ]) + "\n", encoding="utf-8")
    code, out, _ = run_cli(capsys, "rubric", "score", "tone-policy", "--input", str(items), "--model",
                           "workbench-tiny", "--k", "2", "--json")
    data = json.loads(out)
    assert code == 0
    polite = [c for i in data["items"] for c in i["criteria"] if c["criterion"] == "polite-tone"]
    assert len(polite) == 2 and all(c["scorer"] == "judge" and len(c["details"]["samples"]) == 2 for c in polite)
    code, out, _ = run_cli(capsys, "rubric", "review", "--json")
    assert code == 0
    assert json.loads(out)["counts"]["pending"] == data["summary"]["to_review"]
    code, out, _ = run_cli(capsys, "rubric", "agreement")
    assert code == 0 and "no reviewed verdicts yet" in out


JUDGE_SETS = Path(__file__).resolve().parents[2] / "datasets" / "judge"


def test_agreement_with_labels_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "rubric", "agreement", "tone-policy", "--labels",
                           str(JUDGE_SETS / "tone-policy.jsonl"), "--no-judge", "--json")
    data = json.loads(out)
    assert code == 0 and data["rubric"] == "tone-policy@1" and data["items"] == 71 and data["model"] is None
    rows = {(r["criterion"], r["rater"]): r for r in data["rows"]}
    assert set(rows) == {("no-pii", "deterministic"), ("no-forbidden-terms", "deterministic"),
                         ("no-shouting", "deterministic")}
    assert all(r["n"] == 71 and 0 <= r["exact"] <= 1 and "kappa_quadratic" in r for r in rows.values())
    code, out, _ = run_cli(capsys, "rubric", "agreement", "rag-faithfulness", "--labels",
                           str(JUDGE_SETS / "rag-faithfulness.jsonl"), "--no-judge", "--baseline",
                           "faithful=answer-overlap")
    assert code == 0 and "baseline:answer-overlap" in out and "kappa-quad" in out


def test_agreement_with_labels_errors(capsys: pytest.CaptureFixture[str]) -> None:
    labels = str(JUDGE_SETS / "tone-policy.jsonl")
    code, _, err = run_cli(capsys, "rubric", "agreement", "--labels", labels)
    assert code == 2 and "--labels needs the rubric" in err and "Traceback" not in err
    code, _, err = run_cli(capsys, "rubric", "agreement", "tone-policy", "--labels", labels, "--baseline", "x")
    assert code == 2 and "is not CRITERION=OTHER" in err
    code, _, err = run_cli(capsys, "rubric", "agreement", "rag-faithfulness", "--labels", labels)
    assert code == 2 and "tone-policy.jsonl:1 (field 'sources')" in err


def test_agreement_with_a_judge_sends_unsure_verdicts_to_review(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fake_judge: Any
) -> None:
    items = [{"id": "sure", "input": "Help?", "output": "Fine [level 3].", "human": {"polite-tone": 3}},
             {"id": "unsure", "input": "Help?", "output": "Hmm (unsure).", "human": {"polite-tone": 1}}]
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    code, out, _ = run_cli(capsys, "rubric", "agreement", "tone-policy", "--labels", str(labels), "--review",
                           "--json")
    data = json.loads(out)
    polite = next(c for c in data["criteria"] if c["criterion"] == "polite-tone")
    assert code == 0 and data["model"] == "openai:fake-judge" and data["judge_calls"] == 6
    assert polite["to_review"] == 1 and polite["queued"] == 1 and polite["review_share"] == 0.5
    code, out, _ = run_cli(capsys, "rubric", "review", "--json")
    pending = json.loads(out)["pending"]
    assert code == 0 and [p["item_id"] for p in pending] == ["unsure"]
    code, out, _ = run_cli(capsys, "rubric", "agreement", "tone-policy", "--labels", str(labels))
    assert code == 0 and "judge-confident" in out and "sent to review" in out


def test_doctor_names_the_judge_model(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.settings import reset_settings

    code, out, _ = run_cli(capsys, "doctor", "--no-probe", "--json")
    assert code == 0 and json.loads(out)["judge_model"] == {"name": "workbench-tiny", "configured": None}
    monkeypatch.setenv("WORKBENCH_JUDGE_MODEL", "openai:qwen2.5:32b")
    reset_settings()
    code, out, _ = run_cli(capsys, "doctor", "--no-probe")
    assert code == 0 and "judge model: openai:qwen2.5:32b (WORKBENCH_JUDGE_MODEL)" in out
