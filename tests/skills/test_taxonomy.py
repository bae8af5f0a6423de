"""The skills taxonomy: the shipped default, and bad files named by file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from workbench.errors import NotFoundError, ValidationError
from workbench.skills import load_taxonomy, parse_taxonomy, synthetic_taxonomy
from workbench.skills.taxonomy import LEVELS

CONTRACT_SKILLS = [
    "prompting", "structured_output", "retrieval_design", "retrieval_evaluation", "evaluation_design",
    "critique_review", "fine_tuning", "quantization_deployment", "data_curation", "guardrails_governance",
    "cost_awareness", "copilot_building",
]
CONTRACT_ROLES = ["copilot_builder", "ml_engineer", "support_analyst", "learning_author"]


def _write(tmp_path: Path, data: object, name: str = "tax.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False) if not isinstance(data, str) else data)
    return path


def _valid() -> dict:
    return yaml.safe_load(load_taxonomy().source and Path(load_taxonomy().source).read_text())


def test_default_taxonomy_has_the_contract_ids() -> None:
    tax = load_taxonomy()
    assert tax.id == "genai-copilot"
    assert tax.skill_ids == CONTRACT_SKILLS
    assert tax.role_ids == CONTRACT_ROLES
    assert [lv.level for lv in tax.levels] == list(LEVELS)
    assert [lv.name for lv in tax.levels] == ["none", "aware", "practising", "proficient", "expert"]
    for skill in tax.skills:
        assert len(skill.description) > 60, skill.id  # real descriptions, not stubs
        assert skill.group
    for role in tax.roles:
        assert role.targets, role.id
        assert all(0 <= v <= 4 for v in role.targets.values())
    assert tax.targets("ml_engineer")["fine_tuning"] == 4
    assert tax.level_name(3) == "proficient"


def test_load_by_name_path_and_object(tmp_path: Path) -> None:
    tax = load_taxonomy("genai-copilot")
    assert load_taxonomy(tax) is tax
    path = _write(tmp_path, _valid())
    assert load_taxonomy(path).skill_ids == CONTRACT_SKILLS


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError) as info:
        load_taxonomy(tmp_path / "nope.yaml")
    assert "nope.yaml" in str(info.value)
    assert info.value.hint


def test_unknown_role_and_skill_lookups() -> None:
    tax = load_taxonomy()
    with pytest.raises(NotFoundError) as info:
        tax.role("astronaut")
    assert "copilot_builder" in (info.value.hint or "")
    with pytest.raises(NotFoundError):
        tax.skill("juggling")


def test_missing_field_names_file_line_and_field(tmp_path: Path) -> None:
    data = _valid()
    del data["skills"][2]["description"]
    path = _write(tmp_path, data)
    with pytest.raises(ValidationError) as info:
        load_taxonomy(path)
    err = info.value
    assert err.file == str(path)
    assert err.field == "skills[2].description"
    assert err.line is not None and err.line > 1
    assert "description" in (err.hint or "")
    assert str(path) in str(err)


def test_role_target_for_unknown_skill_names_the_role(tmp_path: Path) -> None:
    data = _valid()
    data["roles"][1]["targets"]["juggling"] = 2
    path = _write(tmp_path, data)
    with pytest.raises(ValidationError) as info:
        load_taxonomy(path)
    err = info.value
    assert err.field == "roles[1].targets.juggling"
    assert "juggling" in err.message and "ml_engineer" in err.message
    text = path.read_text().splitlines()
    assert "juggling" in text[err.line - 1]


def test_duplicate_skill_id(tmp_path: Path) -> None:
    data = _valid()
    data["skills"].append(dict(data["skills"][0]))
    with pytest.raises(ValidationError) as info:
        load_taxonomy(_write(tmp_path, data))
    assert info.value.field == f"skills[{len(data['skills']) - 1}].id"
    assert "twice" in info.value.message


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["levels"].pop(), "levels"),
        (lambda d: d["roles"][0]["targets"].update(prompting=7), "roles[0].targets"),
        (lambda d: d["skills"][0].update(id="Bad Id"), "skills[0].id"),
        (lambda d: d["skills"][0].update(colour="red"), "skills[0].colour"),
    ],
)
def test_schema_errors(tmp_path: Path, mutate, field: str) -> None:  # type: ignore[no-untyped-def]
    data = _valid()
    mutate(data)
    with pytest.raises(ValidationError) as info:
        load_taxonomy(_write(tmp_path, data))
    assert info.value.field == field
    assert info.value.hint


def test_invalid_yaml_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as info:
        load_taxonomy(_write(tmp_path, "id: x\nskills: [a, b\n"))
    assert info.value.line is not None
    with pytest.raises(ValidationError) as info:
        load_taxonomy(_write(tmp_path, "- just\n- a list\n", "list.yaml"))
    assert "mapping" in info.value.message


def test_parse_in_memory_names_the_source() -> None:
    with pytest.raises(ValidationError) as info:
        parse_taxonomy({"id": "x", "levels": [], "skills": []}, source="inline")
    assert info.value.file == "inline"


def test_synthetic_taxonomy_scales_to_30_skills() -> None:
    tax = synthetic_taxonomy(30)
    assert len(tax.skills) == 30
    assert tax.skill_ids[:12] == CONTRACT_SKILLS
    assert tax.role_ids == CONTRACT_ROLES
    for role in tax.roles:
        extra = set(tax.skill_ids[12:])
        assert extra <= set(role.targets)
    assert len(synthetic_taxonomy(40).skills) == 40
