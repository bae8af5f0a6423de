"""``workbench report``: files, JSON summary, learner view and errors without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from workbench.cli import main


def test_report_writes_files_and_prints_json(cohort_db: tuple[str, Any], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    url, _ = cohort_db
    out = tmp_path / "r"
    code = main(["report", "--store", url, "--out", str(out), "--json", "--format", "html", "--format", "csv"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["counts"]["learners"] == 45
    assert summary["suppressed_teams"] == 1
    assert Path(summary["files"]["html"]).is_file()
    assert not (out / "heatmap_teams.png").exists()  # only the formats asked for
    assert (out / "people_skills.csv").is_file()


def test_report_human_output_and_team(cohort_db: tuple[str, Any], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    url, _ = cohort_db
    code = main(["report", "--store", url, "--team", "small-team", "--out", str(tmp_path), "--format", "csv"])
    assert code == 0
    text = capsys.readouterr().out
    assert "suppressed (n<5)" in text
    assert "files:" in text and "people_skills" in text


def test_report_with_roster_and_role(cohort_db: tuple[str, Any], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    url, cohort = cohort_db
    roster = tmp_path / "roster.csv"
    roster.write_text("learner,role\n" + "".join(f"{r['raw_id']},ml_engineer\n" for r in cohort.roster))
    assert main(["report", "--store", url, "--roster", str(roster), "--out", str(tmp_path / "a"), "--json",
                 "--format", "csv"]) == 0
    capsys.readouterr()
    bad = tmp_path / "bad.csv"
    bad.write_text("who,what\nx,y\n")
    assert main(["report", "--store", url, "--roster", str(bad), "--json"]) == 2
    err = json.loads(capsys.readouterr().out)
    assert err["error"] == "ValidationError" and err["file"] == str(bad) and "learner" in err["message"]


def test_unknown_role_is_a_clear_error(cohort_db: tuple[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    url, _ = cohort_db
    assert main(["report", "--store", url, "--role", "astronaut"]) == 2
    err = capsys.readouterr().err
    assert "astronaut" in err and "copilot_builder" in err and "Traceback" not in err


def test_bad_store_url_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--store", "not-a-url", "--json"]) == 2
    err = json.loads(capsys.readouterr().out)
    assert err["error"] == "StoreError" and err["hint"]


def test_learner_view_from_the_cli(cohort_db: tuple[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    url, cohort = cohort_db
    me = cohort.roster[0]
    monkeypatch.setenv("WORKBENCH_LEARNER", me["raw_id"])
    assert main(["report", "--me", "--store", url, "--out", str(tmp_path), "--json", "--format", "csv"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["scope"] == "learner" and summary["counts"]["learners"] == 1
    assert summary["filters"]["learner"] == me["learner"]
    assert main(["report", "--me", "--team", "claims", "--store", url]) == 2


def test_empty_store_from_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert main(["report", "--store", url, "--out", str(tmp_path / "o"), "--format", "html"]) == 0
    assert "no events" in capsys.readouterr().out
    assert (tmp_path / "o" / "report.html").is_file()
