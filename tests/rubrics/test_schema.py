"""The rubric format: built-ins load, bad files fail with file, line, field and a fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.errors import NotFoundError, ValidationError
from workbench.rubrics import DEFAULT_SKILL_IDS, list_rubrics, load_rubric, load_taxonomy_ids
from workbench.rubrics.schema import Rubric

BUILTINS = {
    "prompt-quality",
    "rag-faithfulness",
    "summary-quality",
    "json-extraction",
    "tone-policy",
    "finetune-data-quality",
}


def test_builtins_load_and_cover_the_six_topics() -> None:
    rubrics = {r.id: r for r in list_rubrics()}
    assert set(rubrics) >= BUILTINS
    for rubric in rubrics.values():
        assert rubric.version >= 1
        assert abs(sum(c.weight for c in rubric.criteria) - rubric.total_weight) < 1e-9
        assert all(c.skill in DEFAULT_SKILL_IDS for c in rubric.criteria)
        assert rubric.source is not None and rubric.source.suffix == ".yaml"
    kinds = {c.scorer.type for r in rubrics.values() for c in r.criteria}
    assert {"judge", "pii_free", "citations", "json_schema", "rouge_l", "similarity", "token_f1"} <= kinds


def test_load_by_id_and_by_path_agree(data_dir: Path) -> None:
    by_id = load_rubric("tone-policy")
    assert load_rubric(by_id.source).to_dict() == by_id.to_dict()  # type: ignore[arg-type]
    valid = load_rubric(data_dir / "rubric_valid.yaml")
    assert valid.ref == "test-support-reply@2"
    assert valid.input_fields() == ["output"]
    assert valid.criterion("short").max_score == 1


def test_round_trip_through_dict() -> None:
    for rubric in list_rubrics():
        again = Rubric.model_validate(rubric.to_dict())
        assert again.to_dict() == rubric.to_dict()


def test_unknown_rubric_names_the_builtins() -> None:
    with pytest.raises(NotFoundError) as info:
        load_rubric("no-such-rubric")
    assert "summary-quality" in (info.value.hint or "")


def _error(path: Path, **kwargs: object) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        load_rubric(path, **kwargs)  # type: ignore[arg-type]
    return info.value


def test_weights_that_do_not_sum_as_declared(data_dir: Path) -> None:
    err = _error(data_dir / "rubric_bad_weights.yaml")
    assert err.file and err.file.endswith("rubric_bad_weights.yaml")
    assert err.field == "total_weight"
    assert err.line == 4
    assert "sum to 0.8" in err.message and "0.5 + 0.3" in err.message
    assert err.hint


def test_unknown_skill_id(data_dir: Path) -> None:
    err = _error(data_dir / "rubric_unknown_skill.yaml")
    assert err.field == "criteria[0].skill"
    assert err.line == 8
    assert "juggling" in err.message
    assert "prompting" in (err.hint or "")


def test_skill_ids_from_a_taxonomy_file(data_dir: Path) -> None:
    taxonomy = data_dir / "rubric_taxonomy.yaml"
    assert load_taxonomy_ids(taxonomy) == {"juggling", "unicycling"}
    assert load_rubric(data_dir / "rubric_unknown_skill.yaml", taxonomy=taxonomy).criteria[0].skill == "juggling"
    err = _error(data_dir / "rubric_valid.yaml", taxonomy=taxonomy)
    assert err.field == "criteria[0].skill" and "copilot_building" in err.message


def test_gap_in_levels(data_dir: Path) -> None:
    err = _error(data_dir / "rubric_level_gap.yaml")
    assert err.field == "criteria[0].levels[2].score"
    assert err.line == 12
    assert "0, 1, 3" in err.message


def test_scorer_missing_its_field(data_dir: Path) -> None:
    err = _error(data_dir / "rubric_scorer_missing_field.yaml")
    assert err.field == "criteria[1].scorer.pattern"
    assert err.line == 20
    assert "'pattern' is required" in err.message
    assert "add 'pattern'" in (err.hint or "")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    return path


BASE = """\
id: t
version: 1
title: T
criteria:
  - id: a
    description: A.
    weight: 1.0
    skill: prompting
    levels:
      - {score: 0, descriptor: "No."}
      - {score: 1, descriptor: "Yes."}
    scorer: SCORER
"""


@pytest.mark.parametrize(
    ("scorer", "field", "needle"),
    [
        ("{type: telepathy}", "criteria[0].scorer.type", "unknown scorer type 'telepathy'"),
        ("{field: output}", "criteria[0].scorer.type", "no 'type'"),
        ("{type: regex, pattern: '('}", "criteria[0].scorer.pattern", "not a valid regular expression"),
        ("{type: contains, values: []}", "criteria[0].scorer.values", "at least 1"),
        ("{type: length}", "criteria[0].scorer.min", "needs 'min', 'max'"),
        ("{type: json_schema}", "criteria[0].scorer.schema", "exactly one"),
        ("{type: json_schema, schema: {type: nonsense}}", "criteria[0].scorer.schema", "not a valid JSON Schema"),
        ("{type: rouge_l, thresholds: [0.5, 0.2, 0.1]}", "criteria[0].scorer.thresholds", "1 levels above 0"),
        ("{type: judge, k: 0}", "criteria[0].scorer.k", "greater than or equal to 1"),
        ("{type: regex, pattern: x, colour: red}", "criteria[0].scorer.colour", "unknown field 'colour'"),
    ],
)
def test_scorer_config_errors(tmp_path: Path, scorer: str, field: str, needle: str) -> None:
    err = _error(_write(tmp_path, BASE.replace("SCORER", scorer)))
    assert err.field == field
    assert needle in err.message
    assert err.line == 12
    assert err.hint


def test_other_structural_errors(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, BASE.replace("SCORER", "{type: regex, pattern: x}").replace("version: 1", "version: 0")))
    assert err.field == "version" and err.line == 2
    err = _error(_write(tmp_path, BASE.replace("SCORER", "{type: regex, pattern: x}").replace("title: T\n", "")))
    assert err.field == "title" and "'title' is required" in err.message
    err = _error(_write(tmp_path, "id: [unclosed\n"))
    assert "not valid YAML" in err.message and err.line is not None
    err = _error(_write(tmp_path, "- just\n- a list\n"))
    assert "mapping" in err.message
    twice = BASE.replace("SCORER", "{type: regex, pattern: x}")
    twice += twice.split("criteria:\n", 1)[1]
    err = _error(_write(tmp_path, twice.replace("weight: 1.0", "weight: 0.5")))
    assert err.field == "criteria[1].id" and "used twice" in err.message


def test_schema_file_is_resolved_next_to_the_rubric(tmp_path: Path) -> None:
    (tmp_path / "contact.schema.json").write_text('{"type": "object", "required": ["name"]}', encoding="utf-8")
    rubric = load_rubric(_write(tmp_path, BASE.replace("SCORER", "{type: json_schema, schema_file: contact.schema.json}")))
    assert rubric.criteria[0].scorer.json_schema == {"type": "object", "required": ["name"]}  # type: ignore[attr-defined]
    err = _error(_write(tmp_path, BASE.replace("SCORER", "{type: json_schema, schema_file: missing.json}")))
    assert err.field == "criteria[0].scorer.schema_file"


def test_every_builtin_has_an_example_input_with_the_fields_it_reads() -> None:
    from workbench.rubrics import example_file, load_items, validate_items

    for rubric in list_rubrics():
        path = example_file(rubric)
        assert path is not None, rubric.id
        items, lines = load_items(path)
        assert len(items) >= 2
        validate_items(rubric, items, file=path, lines=lines)


def test_importing_rubrics_stays_light() -> None:
    import os
    import subprocess
    import sys

    code = (
        "import sys, workbench.rubrics, workbench.cli.rubric; "
        "heavy = [m for m in ('torch', 'transformers', 'jsonschema', 'nltk', 'sklearn') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=root, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
