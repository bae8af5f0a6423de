"""The skills taxonomy: the shipped default, and bad files named by file, line and field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from workbench.errors import NotFoundError, ValidationError
from workbench.skills import load_taxonomy, parse_taxonomy, synthetic_taxonomy
from workbench.skills.taxonomy import LEVELS

CONTRACT_SKILLS = [
    "prompting", "structured_output", "retrieval_design", "retrieval_evaluation", "evaluation_design",
    "critique_review", "fine_tuning", "quantization_deployment", "data_curation", "guardrails_governance",
    "cost_awareness", "copilot_building", "playbook_authoring",
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
    assert tax.skill_ids[: len(CONTRACT_SKILLS)] == CONTRACT_SKILLS
    assert tax.role_ids == CONTRACT_ROLES
    for role in tax.roles:
        extra = set(tax.skill_ids[len(CONTRACT_SKILLS) :])
        assert extra <= set(role.targets)
    assert len(synthetic_taxonomy(40).skills) == 40


# -- public skill ids (external_ids) ---------------------------------------------------------------------------
ESCO = "http://data.europa.eu/esco/skill/"
SHIPPED_IDS = {
    "structured_output": {"esco": [ESCO + "21d2f96d-35f7-4e3f-9745-c533d2dd6e97"], "onet": ["2.B.3.e"]},
    "retrieval_evaluation": {"onet": ["2.B.3.m"]},
    "evaluation_design": {"onet": ["2.B.4.h"]},
    "critique_review": {"esco": [ESCO + "1d6c7de4-350e-4868-a47b-333b4b0d9650"], "onet": ["2.A.2.a"]},
    "fine_tuning": {"esco": [ESCO + "8369c2d6-c100-4cf6-bd83-9668d8678433",
                             ESCO + "3a2d5b45-56e4-4f5a-a55a-4a4a65afdc43"]},
    "quantization_deployment": {"esco": [ESCO + "1d86f05e-e9cc-40ce-99d8-2b21cc71b16b"]},
    "data_curation": {"esco": [ESCO + "50b100ea-74fd-4706-99db-3e4ca55e51b8",
                               ESCO + "713fb616-118e-40bc-9366-4a69879a49d5"]},
    "guardrails_governance": {"esco": [ESCO + "33a82b83-c838-4889-ae62-fae1317481eb"]},
    "cost_awareness": {"esco": [ESCO + "21c5790c-0930-4d74-b3b0-84caf5af12ea",
                                ESCO + "ab20726a-14dd-4536-9aa1-6166bc1a5832"], "onet": ["2.B.5.b"]},
    "copilot_building": {"esco": [ESCO + "fff0e2cd-d0bd-4b02-9daf-158b79d9688a"], "onet": ["2.B.3.b"]},
}


def test_shipped_taxonomy_public_ids_and_their_sources_agree() -> None:
    tax = load_taxonomy()
    got = {s.id: s.external_ids.as_dict() for s in tax.skills if s.external_ids.as_dict()}
    assert got == SHIPPED_IDS
    assert tax.skill("prompting").external_ids.as_dict() == {}
    # Every shipped id is documented with its source, and the document lists no id the taxonomy lacks.
    doc = (Path(tax.source).parent / "EXTERNAL_IDS.md").read_text(encoding="utf-8")  # type: ignore[arg-type]
    shipped = {row["external_id"] for row in tax.external_id_rows()}
    documented = set(re.findall(r"http://data\.europa\.eu/esco/skill/[0-9a-f-]{36}", doc))
    documented |= set(re.findall(r"\| `(\d\.[A-Z](?:\.[a-z0-9]+)+)` \|", doc))  # the O*NET table's id column
    assert shipped == documented
    for skill in tax.skills:
        assert f"`{skill.id}`" in doc, f"{skill.id}: EXTERNAL_IDS.md must say what it got, or why nothing"


def test_external_ids_round_trip_in_order() -> None:
    data = _valid()
    data["skills"][0]["external_ids"] = {
        "lightcast": ["KS000TEST000"], "onet": ["2.A.1.c", "4.A.2.a.4.I09.D02"],
        "esco": ["http://data.europa.eu/esco/skill/00090cc1-1f27-439e-a4e0-19a87a501bfc"],
    }
    skill = parse_taxonomy(data).skill("prompting")
    assert list(skill.external_ids.as_dict()) == ["esco", "onet", "lightcast"]
    assert skill.external_ids.pairs()[1:3] == [("onet", "2.A.1.c"), ("onet", "4.A.2.a.4.I09.D02")]
    rows = [r for r in parse_taxonomy(data).external_id_rows() if r["skill"] == "prompting"]
    assert rows[0] == {"skill": "prompting", "skill_name": "Prompting", "framework": "esco",
                       "external_id": "http://data.europa.eu/esco/skill/00090cc1-1f27-439e-a4e0-19a87a501bfc"}


@pytest.mark.parametrize(
    ("ids", "field", "words"),
    [
        ({"esco": ["https://data.europa.eu/esco/skill/3a2d5b45-56e4-4f5a-a55a-4a4a65afdc43"]},
         "skills[4].external_ids.esco[0]", "ESCO skill URI"),
        ({"esco": ["http://data.europa.eu/esco/skill/3A2D5B45-56E4-4F5A-A55A-4A4A65AFDC43"]},
         "skills[4].external_ids.esco[0]", "lower-case"),
        ({"esco": ["http://data.europa.eu/esco/occupation/3a2d5b45-56e4-4f5a-a55a-4a4a65afdc43"]},
         "skills[4].external_ids.esco[0]", "ESCO skill URI"),
        ({"onet": ["2.A.2.a", "15-2051.00"]}, "skills[4].external_ids.onet[1]", "occupation codes"),
        ({"onet": ["Critical Thinking"]}, "skills[4].external_ids.onet[0]", "element id"),
        ({"lightcast": ["machine-learning"]}, "skills[4].external_ids.lightcast[0]", "Lightcast"),
        ({"linkedin": ["123"]}, "skills[4].external_ids.linkedin", "linkedin"),
        ({"onet": "2.A.2.a"}, "skills[4].external_ids.onet", "tuple"),
    ],
)
def test_bad_external_ids_name_file_line_and_field(tmp_path: Path, ids: dict, field: str, words: str) -> None:
    data = _valid()
    data["skills"][4]["external_ids"] = ids
    path = _write(tmp_path, data)
    with pytest.raises(ValidationError) as info:
        load_taxonomy(path)
    err = info.value
    assert err.file == str(path) and err.field == field
    assert words.lower() in str(err).lower()
    assert "external_ids" in (err.hint or "") and "esco" in (err.hint or "")
    # The line named is the offending value's own line (or its key's, for a wrong key or shape).
    line = path.read_text().splitlines()[err.line - 1]  # type: ignore[operator]
    key = field.rsplit(".", 1)[-1].split("[")[0]
    assert key in line or next(iter(ids.values()))[-1] in line
